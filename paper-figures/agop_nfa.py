#!/usr/bin/env python3
"""Figures of `theory agop` runs (SCIENCE.md section 6): the neural feature ansatz along training and the band
profiles of W^T W and of the AGOP, per population of units.

Usage: /usr/bin/python3 paper-figures/agop_nfa.py AGOP_DIR [AGOP_DIR ...] [--out FILE.png]

One row per folder (e.g. the analyses of an NLGP run, of its Gaussian clone and of a convolutional run):
  1. Pearson correlation of W^T W with the AGOP G (solid), with G^1/2 (dashed), with the initial W0^T W0
     (dotted, the baseline) and the null W^T A W for random A (dash-dot), against training time, mean over seeds,
     per population (all units, +b, -b);
  2. the radial band profile mean_i M(i, i + d) / mean_i M(i, i) of W^T W (solid) and G (dashed) at the last
     snapshot, against the pixel distance d;
  3. the half-width and mass radius of the band (band_width.csv) of W^T W along training;
  4-5. the band profile by displacement (dx, dy) of W^T W at the last snapshot for the +b and -b units (seed of
     the first row of nfa.csv); in 1D and for filters of a 1D run, a line.
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from style import POP_MINUS, POP_PLUS, SIGNED, plt, read_csv  # noqa: E402

POPULATION_COLOUR = {"all": "black", "pos": POP_PLUS, "neg": POP_MINUS, "zero": "grey"}
POPULATION_LABEL = {"all": "all units", "pos": "+b units", "neg": "-b units", "zero": "no bias"}


def column(table, name, select):
    return np.array([v for v, keep in zip(table[name], select) if keep])


def mean_over_seeds(table, select, x, y):
    """Mean of column y over seeds at each value of column x, among the rows where select holds."""
    xs, ys = column(table, x, select), column(table, y, select)
    keys = np.unique(xs)
    return keys, np.array([ys[xs == k].mean() for k in keys])


def title_of(folder):
    manifest = json.load(open(os.path.join(folder, "manifest.json")))
    cfg = manifest["config"]
    inputs = {"nlgp": "NLGP", "gp": "Gaussian clone"}.get(cfg["training"]["inputs"], cfg["training"]["inputs"])
    model = "conv Q = %d" % cfg["kernel"] if cfg["model"] == "conv" else "fully-connected"
    return "%s, %s, gain %g" % (model, inputs, cfg["data"]["gain"]), cfg


def row(axes, folder):
    title, cfg = title_of(folder)
    nfa = read_csv(os.path.join(folder, "nfa.csv"))
    radial = read_csv(os.path.join(folder, "band_radial.csv"))
    widths = read_csv(os.path.join(folder, "band_width.csv"))
    band = read_csv(os.path.join(folder, "band.csv"))
    populations = list(dict.fromkeys(nfa["population"]))
    last = max(nfa["step"])
    seed = nfa["seed"][0]

    ax = axes[0]
    for p in populations:
        sel = [q == p for q in nfa["population"]]
        for y, style in (("corr_agop", "-"), ("corr_agop_sqrt", "--"), ("corr_initial", ":"), ("corr_random", "-.")):
            t, m = mean_over_seeds(nfa, sel, "t", y)
            ax.plot(t, m, style, color=POPULATION_COLOUR.get(p, "grey"), marker="o", ms=2,
                    label=POPULATION_LABEL.get(p, p) if y == "corr_agop" else None)
    ax.set_xscale("symlog", linthresh=0.01)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("training time t")
    ax.set_ylabel("Pearson correlation with W^T W")
    ax.set_title(title + "\nG (solid), G^1/2 (dashed), W0^T W0 (dotted), null (dash-dot)")
    ax.legend(loc="lower left")

    ax = axes[1]
    for p in populations:
        for matrix, style in (("wtw", "-"), ("agop", "--")):
            sel = [q == p and m == matrix and s == last for q, m, s in zip(radial["population"], radial["matrix"], radial["step"])]
            d, r = mean_over_seeds(radial, sel, "distance", "relative_entry")
            ax.plot(d, r, style, color=POPULATION_COLOUR.get(p, "grey"), marker="o", ms=2)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("pixel distance d")
    ax.set_ylabel("band profile / diagonal")
    ax.set_title("radial band profile at t = %g\nsolid: W^T W, dashed: AGOP" % max(nfa["t"]))

    ax = axes[2]
    for p in populations:
        if p == "all" and len(populations) > 1:
            continue
        for y, style in (("half_width", "-"), ("mass_radius", "--")):
            sel = [q == p and m == "wtw" for q, m in zip(widths["population"], widths["matrix"])]
            t, m = mean_over_seeds(widths, sel, "t", y)
            ax.plot(t, m, style, color=POPULATION_COLOUR.get(p, "grey"), marker="o", ms=2,
                    label=POPULATION_LABEL.get(p, p) if y == "half_width" else None)
    ax.set_xscale("symlog", linthresh=0.01)
    ax.set_xlabel("training time t")
    ax.set_ylabel("pixels")
    ax.set_title("band of W^T W\nsolid: half-width, dashed: mass radius")
    ax.legend()

    for ax, p in zip(axes[3:], [q for q in populations if q != "all"][:2] or ["all"]):
        sel = [q == p and m == "wtw" and s == last and sd == seed
               for q, m, s, sd in zip(band["population"], band["matrix"], band["step"], band["seed"])]
        dx, dy, r = column(band, "dx", sel), column(band, "dy", sel), column(band, "relative_entry", sel)
        if dy.max() == dy.min():  # 1D
            order = np.argsort(dx)
            ax.plot(dx[order], r[order], "o-", ms=2, color=POPULATION_COLOUR.get(p, "grey"))
            ax.axhline(0, color="k", lw=0.5)
            ax.set_xlabel("displacement")
        else:
            xs, ys = np.unique(dx), np.unique(dy)
            img = np.full((len(xs), len(ys)), np.nan)
            img[np.searchsorted(xs, dx), np.searchsorted(ys, dy)] = r
            v = np.nanmax(np.abs(img))
            im = ax.imshow(img, cmap=SIGNED, vmin=-v, vmax=v, origin="lower",
                           extent=(ys[0] - 0.5, ys[-1] + 0.5, xs[0] - 0.5, xs[-1] + 0.5))
            plt.colorbar(im, ax=ax, fraction=0.046)
            ax.set_xlabel("dy (columns)")
            ax.set_ylabel("dx (rows)")
        ax.set_title("W^T W band by displacement\n%s, seed %d" % (POPULATION_LABEL.get(p, p), seed))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="+", help="output folders of theory agop")
    parser.add_argument("--out", default=None, help="PNG to write (default: agop_nfa.png in the first folder)")
    a = parser.parse_args()
    fig, axes = plt.subplots(len(a.folders), 5, figsize=(22, 4.2 * len(a.folders)), squeeze=False)
    for ax, folder in zip(axes, a.folders):
        row(ax, folder)
    fig.tight_layout()
    out = a.out or os.path.join(a.folders[0], "agop_nfa.png")
    fig.savefig(out)
    print(out)


if __name__ == "__main__":
    main()
