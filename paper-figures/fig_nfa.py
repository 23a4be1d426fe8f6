"""The neural feature ansatz (SCIENCE.md section 6): along training, the correlation of the first layer's feature
matrix W^T W with the average gradient outer product G of the trained network, per population, on NLGP inputs and
on the Gaussian clone; and the band of those matrices (their mean entry per pixel displacement), with the band of
the metric M that a recursive feature machine (RFM) learns on the same data.

Data: the gain-10 SGD runs of Fig. 1 (`runs.sgd`, 2 seeds each), analysed by `theory agop --run` at every weight
snapshot; `theory rfm` (fully-connected, 5 metric updates) on NLGP images and on the clone. Panels:
  A, B  corr(W^T W, G) against t for the +b and -b units (mean of the seeds); thin: the null (median correlation
        with W^T A W for random Wishart A: what sharing W alone gives) and dotted: the initial W0^T W0;
  C     radial band profile mean_i M(i, i + d) / mean_i M(i, i) at the last snapshot against the pixel distance d,
        +b units: W^T W (thick), G (thin, crosses), RFM metric (thin, squares);
  D     mass radius of W^T W and G of the +b units against t (median |i - j| weighted by M_ij^2; 8.0 pixels for
        random weights on the 20 x 20 torus): how close to the diagonal the matrix's mass sits;
  E-H   the band by displacement (dx, dy) at the end: W^T W and G of the +b units on NLGP, W^T W on the clone, the
        RFM metric on NLGP (in 1D: lines).
Helpers (`mean_over_seeds`, `column`) come from agop_nfa.py, which draws every population and matrix of any
`theory agop` folders.

    /usr/bin/python3 paper-figures/fig_nfa.py [--quick] [--out DIR] [--runs DIR] [--fresh]
"""
# outputs: fig_nfa
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import style  # noqa: E402  (sets the Agg backend and the shared look)
import runs  # noqa: E402
from agop_nfa import column, mean_over_seeds  # noqa: E402
import numpy as np  # noqa: E402
from style import plt  # noqa: E402

KINDS = (("nlgp", style.NLGP, "NLGP"), ("gp", style.CLONE, "clone"))


def _stale(folder, source):
    """True when the run FOLDER analyses is newer than the analysis (the simulation was recomputed since)."""
    try:
        return os.path.getmtime(os.path.join(source, "manifest.json")) > os.path.getmtime(
            os.path.join(folder, "manifest.json"))
    except OSError:
        return False


def agop_run(a, inputs):
    """`theory agop` of the gain-10 SGD run on INPUTS; the analysis is redone when that run was recomputed."""
    source = runs.sgd(a, inputs, 10)
    name = ("quick-" if a.quick else "") + f"agop-{inputs}-g10"
    if _stale(os.path.join(a.runs, name), source):
        os.remove(os.path.join(a.runs, name, style.STAMP))
    return style.cached_run(a, name, "agop", "--run", source, "--samples", 2000 if a.quick else 10000, "--seed", 0,
                            "--no-matrices")


def rfm_run(a, inputs):
    """Fully-connected RFM on the figures' data (same geometry, xi and gain 10 as the SGD runs)."""
    size = ["--train", 500, "--test", 500, "--iterations", 3] if a.quick else ["--train", 2000, "--test", 1000,
                                                                               "--iterations", 5]
    return style.cached_run(a, ("quick-" if a.quick else "") + f"rfm-{inputs}-g10", "rfm", *runs.data_args(a),
                            "--gain", 10, "--inputs", inputs, "--seed", 0, *size)


def radial(cols, select):
    """Mean relative entry per whole pixel distance, over the rows selected (seeds, displacements): on a torus the
    exact distances sqrt(dx^2 + dy^2) take many values with few displacements each, a noisy comb."""
    d = np.rint(column(cols, "distance", select))
    r = column(cols, "relative_entry", select)
    keys = np.unique(d)
    return keys, np.array([r[d == k].mean() for k in keys])


def band_map(ax, cols, select, title, dim):
    """The band by displacement: an image over (dx, dy) in 2D, a line over dx in 1D. Returns the image (or None)."""
    dx, dy, r = column(cols, "dx", select), column(cols, "dy", select), column(cols, "relative_entry", select)
    ax.set_title(title, fontsize=8)
    if dim == 1:
        order = np.argsort(dx)
        ax.plot(dx[order], r[order], color="black", marker="o", ms=2, lw=1)
        ax.axhline(0.0, color="grey", lw=0.6)
        ax.set_xlabel("displacement (pixels)")
        ax.set_ylim(-1.05, 1.05)
        return None
    xs, ys = np.unique(dx), np.unique(dy)
    img = np.full((len(xs), len(ys)), np.nan)
    img[np.searchsorted(xs, dx), np.searchsorted(ys, dy)] = r
    im = ax.imshow(img, cmap=style.SIGNED, vmin=-1, vmax=1, origin="lower",
                   extent=(ys[0] - 0.5, ys[-1] + 0.5, xs[0] - 0.5, xs[-1] + 0.5))
    ax.set_xlabel("dy (pixels)")
    ax.set_ylabel("dx (pixels)")
    return im


def main():
    a = style.args(__doc__.splitlines()[0])
    agop = {k: agop_run(a, k) for k, _, _ in KINDS}
    rfm = {k: rfm_run(a, k) for k, _, _ in KINDS}
    nfa = {k: style.read_csv(os.path.join(f, "nfa.csv")) for k, f in agop.items()}
    rad = {k: style.read_csv(os.path.join(f, "band_radial.csv")) for k, f in agop.items()}
    wid = {k: style.read_csv(os.path.join(f, "band_width.csv")) for k, f in agop.items()}
    band = {k: style.read_csv(os.path.join(f, "band.csv")) for k, f in agop.items()}
    rfm_band = {k: style.read_csv(os.path.join(f, "band.csv")) for k, f in rfm.items()}
    cfg = style.manifest(runs.sgd(a, "nlgp", 10))["config"]
    dim, d = int(cfg["data"]["dim"]), int(cfg["data"]["d"])

    fig = plt.figure(figsize=(11.5, 6.4))
    grid = fig.add_gridspec(2, 4, height_ratios=[1, 1.05])
    top = [fig.add_subplot(grid[0, j]) for j in range(4)]
    bottom = [fig.add_subplot(grid[1, j]) for j in range(4)]

    # A, B: the correlation along training, per population.
    for ax, pop, label in ((top[0], "pos", "+b units"), (top[1], "neg", "-b units")):
        for kind, spec, name in KINDS:
            sel = [p == pop for p in nfa[kind]["population"]]
            t, c = mean_over_seeds(nfa[kind], sel, "t", "corr_agop")
            ax.plot(t, c, marker="o", ms=2.5, **dict(spec, label=f"{name}: W^T W vs G"))
            t, c = mean_over_seeds(nfa[kind], sel, "t", "corr_random")
            ax.plot(t, c, color=spec["color"], linestyle=spec["linestyle"], lw=0.8, alpha=0.5,
                    label=f"{name}: null (random A)")
            t, c = mean_over_seeds(nfa[kind], sel, "t", "corr_initial")
            ax.plot(t, c, color=spec["color"], linestyle=":", lw=0.9, alpha=0.7, label=f"{name}: vs W0^T W0")
        ax.set_xscale("symlog", linthresh=0.1)
        ax.set_xlim(left=0)
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlabel("t = steps / D")
        ax.set_title(f"neural feature ansatz, {label}", fontsize=8)
    top[0].set_ylabel("Pearson correlation with W^T W")
    top[0].legend(loc="lower right", frameon=False, fontsize=6)

    # C: radial band profiles at the end of training (+b units; mean of the seeds), with the RFM metric.
    ax = top[2]
    for kind, spec, name in KINDS:
        last = max(rad[kind]["step"])
        for matrix, kw in (("wtw", dict(lw=1.8, marker="o", ms=2.5)), ("agop", dict(lw=0.9, marker="x", ms=4))):
            sel = [p == "pos" and m == matrix and s == last
                   for p, m, s in zip(rad[kind]["population"], rad[kind]["matrix"], rad[kind]["step"])]
            dd, r = radial(rad[kind], sel)
            ax.plot(dd, r, color=spec["color"], linestyle=spec["linestyle"], **kw,
                    label=f"{name}: {'W^T W' if matrix == 'wtw' else 'G (AGOP)'}")
        it = max(rfm_band[kind]["iteration"])
        sel = [i == it for i in rfm_band[kind]["iteration"]]
        dd, r = radial(rfm_band[kind], sel)
        ax.plot(dd, r, color=spec["color"], linestyle=spec["linestyle"], lw=0.9, marker="s", ms=2.5, alpha=0.6,
                label=f"{name}: RFM metric M")
    ax.axhline(0.0, color="grey", lw=0.6)
    ax.set_xlabel("pixel distance d")
    ax.set_ylabel("band profile / diagonal")
    ax.set_title(f"band of the +b units at t = {max(nfa['nlgp']['t']):g}\n(RFM: after {int(it)} updates)", fontsize=8)
    from matplotlib.lines import Line2D
    ax.legend(handles=[Line2D([], [], **dict(style.NLGP, label="NLGP")), Line2D([], [], **dict(style.CLONE, label="clone")),
                       Line2D([], [], color="grey", lw=1.8, marker="o", ms=2.5, label="W^T W"),
                       Line2D([], [], color="grey", lw=0.9, marker="x", ms=4, label="AGOP G"),
                       Line2D([], [], color="grey", lw=0.9, marker="s", ms=2.5, alpha=0.6, label="RFM metric M")],
              frameon=True, framealpha=0.85, edgecolor="none", fontsize=6, loc="upper right")

    # D: mass radius of the +b units' W^T W and G along training.
    ax = top[3]
    for kind, spec, name in KINDS:
        for matrix, kw in (("wtw", dict(lw=1.8, marker="o", ms=2.5)), ("agop", dict(lw=0.9, marker="x", ms=4))):
            sel = [p == "pos" and m == matrix for p, m in zip(wid[kind]["population"], wid[kind]["matrix"])]
            t, r = mean_over_seeds(wid[kind], sel, "t", "mass_radius")
            ax.plot(t, r, color=spec["color"], linestyle=spec["linestyle"], **kw,
                    label=f"{name}: {'W^T W' if matrix == 'wtw' else 'G'}")
    ax.set_xscale("symlog", linthresh=0.1)
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("t = steps / D")
    ax.set_ylabel("mass radius (pixels)")
    ax.set_title("mass radius of the +b units' band\n(small: mass near the diagonal)", fontsize=8)
    ax.legend(frameon=False, fontsize=6)

    # E-H: the band by displacement at the end (seed 0).
    def sel_band(kind, matrix):
        b = band[kind]
        last, seed = max(b["step"]), min(b["seed"])
        return [p == "pos" and m == matrix and s == last and sd == seed
                for p, m, s, sd in zip(b["population"], b["matrix"], b["step"], b["seed"])]
    it_nlgp = max(rfm_band["nlgp"]["iteration"])
    maps = [(band["nlgp"], sel_band("nlgp", "wtw"), "W^T W, +b units, NLGP"),
            (band["nlgp"], sel_band("nlgp", "agop"), "AGOP G, +b units, NLGP"),
            (band["gp"], sel_band("gp", "wtw"), "W^T W, +b units, clone"),
            (rfm_band["nlgp"], [i == it_nlgp for i in rfm_band["nlgp"]["iteration"]], "RFM metric M, NLGP")]
    im = None
    for ax, (cols, sel, title) in zip(bottom, maps):
        im = band_map(ax, cols, sel, title, dim) or im
    bottom[0].set_ylabel("band / diagonal" if dim == 1 else "dx (pixels)")
    if im is not None:
        fig.colorbar(im, cax=fig.add_axes([0.915, 0.08, 0.01, 0.34]),
                     label="band entry / diagonal")
    for ax, letter in zip(top + bottom, "ABCDEFGH"):
        style.panel_label(ax, letter, x=-0.15)
    geometry = f"ring, D = {d}" if dim == 1 else f"{cfg['data']['size']} x {cfg['data']['size']} torus"
    fig.suptitle(f"Feature matrix vs AGOP: SGD runs of Fig. 1 ({geometry}, gain 10, {runs.SEEDS} seeds) and RFM on the "
                 f"same data", fontsize=8.5)
    if im is None:
        fig.tight_layout()
    else:
        fig.subplots_adjust(left=0.06, right=0.9, top=0.91, bottom=0.08, wspace=0.42, hspace=0.42)
    for path in style.save(fig, a.out, "fig_nfa"):
        print(path)


if __name__ == "__main__":
    main()
