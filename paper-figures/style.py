"""Shared look of every figure: one colour per kind of curve across all figures, greyscale-safe colour maps,
labelled axes. Import it first in each figure script."""
import json
import os
import shutil
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# Consistent colours (Okabe-Ito, colour-blind safe) and line styles, so that curves stay distinguishable in
# greyscale: NLGP solid, clone dashed, theory dotted black.
NLGP = dict(color="#D55E00", linestyle="-", label="NLGP")
CLONE = dict(color="#0072B2", linestyle="--", label="Gaussian clone")
THEORY = dict(color="black", linestyle=":", linewidth=2.0, label="GET theory (ODE)")
POP_PLUS = "#009E73"   # units that start with bias +b
POP_MINUS = "#CC79A7"  # units that start with bias -b
# Sequential maps whose lightness is monotonic (legible in greyscale).
SEQUENTIAL = "cividis"
SIGNED = "viridis"
IMAGES = "gray"  # input images: lightness is the pixel value

plt.rcParams.update({
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
})

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def theory(*args, quiet=True):
    """Runs the `theory` command line (building it first if needed) and fails loudly if it fails."""
    cmd = [os.path.join(ROOT, "theory"), *map(str, args)]
    print("  $ theory " + " ".join(map(str, args)), flush=True)
    res = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE if quiet else None, stderr=subprocess.PIPE, text=True)
    if res.returncode != 0:
        sys.stderr.write(res.stderr)
        raise SystemExit(f"theory {' '.join(map(str, args))} failed with exit code {res.returncode}")
    return res.stdout


def read_csv(path):
    """Reads a tidy CSV written by `theory` into a dict of column name -> list (numbers where they parse)."""
    import csv
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    cols = {h: [] for h in header}
    for r in body:
        for h, v in zip(header, r):
            try:
                cols[h].append(float(v))
            except ValueError:
                cols[h].append(v)
    return cols


def save(fig, out_dir, name):
    """Writes NAME.pdf and NAME.png into out_dir and returns their paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = [os.path.join(out_dir, f"{name}.{ext}") for ext in ("pdf", "png")]
    for p in paths:
        fig.savefig(p, bbox_inches="tight")
    plt.close(fig)
    return paths


def args(description):
    """Common command line of a figure script: --quick (small, fast), --out DIR, --runs DIR (data cache)."""
    import argparse
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="small sizes and short times (seconds, for CI)")
    p.add_argument("--out", default=os.path.join(ROOT, "paper-figures", "out"), help="where PDF/PNG go")
    p.add_argument("--runs", default=os.path.join(ROOT, "runs", "figures"), help="where the data runs go")
    p.add_argument("--fresh", action="store_true", help="recompute every run, even where a completed one is cached")
    return p.parse_args()


def run_parser(description, what):
    """Command line of a script that draws one existing run folder: `run` (a `theory WHAT` folder), --quick (make a
    small run first), --out DIR (default: the run folder), --runs DIR (where --quick puts its run)."""
    import argparse
    p = argparse.ArgumentParser(description=description)
    p.add_argument("run", nargs="?", help=f"a `theory {what}` run folder")
    p.add_argument("--quick", action="store_true", help="make a small 1D run first")
    p.add_argument("--out", default=None, help="where the PDF and PNG go (default: the run folder)")
    p.add_argument("--runs", default=os.path.join(ROOT, "runs", "figures"), help="where --quick puts its run")
    return p


def run_folder(p, a, quick_name, command, *arguments):
    """The folder to draw: the given `run`, else (with --quick) RUNS/QUICK_NAME made by `theory COMMAND ARGUMENTS`."""
    if a.run is not None:
        return a.run
    if not a.quick:
        p.error("give a run folder, or --quick to make one")
    run = os.path.join(a.runs, quick_name)
    theory(command, *arguments, "--out", run)
    return run


STAMP = "figure-command.json"


def completed(folder):
    """True when FOLDER holds a `theory` run whose manifest says it completed."""
    try:
        with open(os.path.join(folder, "manifest.json")) as f:
            return json.load(f).get("status") == "completed"
    except (OSError, ValueError):
        return False


def cached_run(a, name, command, *arguments):
    """Runs `theory COMMAND ARGUMENTS --out RUNS/NAME` unless RUNS/NAME already holds a completed run of exactly
    that command (recorded in figure-command.json next to its manifest); returns the folder. `a` is the parsed
    `args()`: `a.runs` is the cache, `a.fresh` forces a recomputation. A folder of a different or unfinished run
    under that name is replaced."""
    folder = os.path.join(a.runs, name)
    key = [command, *map(str, arguments)]
    stamp = os.path.join(folder, STAMP)
    if not getattr(a, "fresh", False) and completed(folder) and os.path.isfile(stamp):
        with open(stamp) as f:
            if json.load(f) == key:
                print(f"  (cached) {folder}", flush=True)
                return folder
    if os.path.isdir(folder):
        if not (os.path.isfile(os.path.join(folder, "manifest.json")) or os.path.isfile(stamp)):
            raise SystemExit(f"{folder} exists but is not a theory run folder; not replacing it")
        shutil.rmtree(folder)
    theory(command, *arguments, "--out", folder)
    with open(stamp + ".tmp", "w") as f:
        json.dump(key, f)
    os.replace(stamp + ".tmp", stamp)
    return folder


def manifest(folder):
    with open(os.path.join(folder, "manifest.json")) as f:
        return json.load(f)


def panel_label(ax, letter, x=-0.12, y=1.04):
    """The paper's panel letter in bold at the top left of AX."""
    ax.text(x, y, letter, transform=ax.transAxes, fontsize=11, fontweight="bold", va="bottom", ha="right")


def framed_image(ax, img, cmap, vmin, vmax, colour=None, linewidth=0.6):
    """An image without ticks in a frame (coloured by population when COLOUR is given): receptive fields, filters,
    input samples."""
    ax.imshow(img, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_visible(True)
        if colour is not None:
            side.set_edgecolor(colour)
        side.set_linewidth(linewidth)
