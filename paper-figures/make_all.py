"""Regenerates every paper figure: `python3 paper-figures/make_all.py [--quick] [--only NAME ...]`.

Each figure script (fig_*.py) calls `theory` for its data and writes NAME.pdf and NAME.png. After running them,
this checks that every expected file exists and is non-empty, prints one line per figure, and ends with
`N passed, N failed` (used by `dotnet fsi build.fsx test` to count figure checks)."""
import argparse
import glob
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def figure_scripts():
    return sorted(glob.glob(os.path.join(HERE, "fig_*.py")))


def expected_outputs(script, out_dir):
    """A script declares its outputs in a line `# outputs: name1 name2` (PDF and PNG each)."""
    names = []
    with open(script) as f:
        for line in f:
            if line.startswith("# outputs:"):
                names += line.split(":", 1)[1].split()
    return [os.path.join(out_dir, f"{n}.{ext}") for n in names for ext in ("pdf", "png")]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--only", nargs="*", default=None, help="figure script names (without .py) to run")
    p.add_argument("--out", default=None)
    a = p.parse_args()
    out_dir = a.out or os.path.join(HERE, "out-quick" if a.quick else "out")
    passed = failed = 0
    for script in figure_scripts():
        name = os.path.splitext(os.path.basename(script))[0]
        if a.only and name not in a.only:
            continue
        start = time.time()
        cmd = [sys.executable, script, "--out", out_dir] + (["--quick", "--runs", os.path.join(out_dir, "runs")] if a.quick else [])
        res = subprocess.run(cmd)
        missing = [f for f in expected_outputs(script, out_dir) if not os.path.isfile(f) or os.path.getsize(f) == 0]
        ok = res.returncode == 0 and not missing and expected_outputs(script, out_dir)
        print(f"{'ok  ' if ok else 'FAIL'} {name} ({time.time() - start:.0f} s)" + (f" missing: {missing}" if missing else ""),
              flush=True)
        passed, failed = (passed + 1, failed) if ok else (passed, failed + 1)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
