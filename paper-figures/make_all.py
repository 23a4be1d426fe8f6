"""Regenerates every paper figure: `python3 paper-figures/make_all.py [--quick] [--only NAME ...]`.

Each figure script (fig_*.py) calls `theory` for its data and writes NAME.pdf and NAME.png. After running them,
this checks that every expected file exists and is non-empty, prints one line per figure, and ends with
`N passed, N failed` (used by `dotnet fsi build.fsx test` to count figure checks)."""
import argparse
import glob
import os
import resource
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


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--only", nargs="*", default=None, help="figure script names (without .py) to run")
    p.add_argument("--out", default=None)
    p.add_argument("--docs", action="store_true",
                   help="afterwards copy the PNGs into docs/figures (palette-quantised, for the README)")
    a = p.parse_args()
    out_dir = a.out or os.path.join(HERE, "out-quick" if a.quick else "out")
    passed = failed = 0
    for script in figure_scripts():
        name = os.path.splitext(os.path.basename(script))[0]
        if a.only and name not in a.only:
            continue
        start = time.time()
        cpu_start = _children_cpu()
        cmd = [sys.executable, script, "--out", out_dir] + (["--quick", "--runs", os.path.join(out_dir, "runs")] if a.quick else [])
        res = subprocess.run(cmd)
        missing = [f for f in expected_outputs(script, out_dir) if not os.path.isfile(f) or os.path.getsize(f) == 0]
        ok = res.returncode == 0 and not missing and expected_outputs(script, out_dir)
        # CPU seconds of everything the script ran (matplotlib and every `theory` process): unlike the wall time, it
        # does not depend on how busy the machine is; on 2 idle cores the wall time is between cpu / 2 and cpu.
        print(f"{'ok  ' if ok else 'FAIL'} {name} ({time.time() - start:.0f} s wall, {_children_cpu() - cpu_start:.0f} s cpu)"
              + (f" missing: {missing}" if missing else ""), flush=True)
        passed, failed = (passed + 1, failed) if ok else (passed, failed + 1)
    if a.docs:
        copy_to_docs(out_dir)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


def copy_to_docs(out_dir):
    """Copies every figure PNG of OUT_DIR into docs/figures, reduced to a 256-colour palette (a third of the size, no
    visible change for line art and these colour maps) so that the committed files stay small."""
    docs = os.path.join(os.path.dirname(HERE), "docs", "figures")
    os.makedirs(docs, exist_ok=True)
    for script in figure_scripts():
        for path in expected_outputs(script, out_dir):
            if not path.endswith(".png") or not os.path.isfile(path):
                continue
            target = os.path.join(docs, os.path.basename(path))
            try:
                from PIL import Image
                Image.open(path).convert("RGB").quantize(256, dither=Image.Dither.NONE).save(target + ".tmp.png",
                                                                                              optimize=True)
                os.replace(target + ".tmp.png", target)
            except ImportError:
                import shutil
                shutil.copyfile(path, target)
            print(f"docs: {os.path.relpath(target, os.path.dirname(HERE))} ({os.path.getsize(target) // 1024} kB)")


if __name__ == "__main__":
    sys.exit(main())
