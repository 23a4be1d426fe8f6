"""Localisation against the gain: the final IPR of the units that start with bias +b (the population that localises
on NLGP images) after online SGD on NLGP images and on their Gaussian clone, over a range of gains, with the excess
kurtosis of those units' pre-activations beneath (0 for Gaussian inputs: its departure from 0 marks where the
Gaussian equivalence fails).

Each gain is one `theory simulate` run per input kind in the Fig. 1 setting (SEEDS seeds each; thin markers: seeds,
line: their mean). The gain-10 runs are those of Fig. 1.

    /usr/bin/python3 paper-figures/fig_gain.py [--quick] [--out DIR] [--runs DIR] [--fresh]
"""
# outputs: fig_gain
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import style  # noqa: E402  (sets the Agg backend and the shared look)
import runs  # noqa: E402
import numpy as np  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402


def sweep(a):
    """{kind: [(gain, final rows per seed)]} for kind in nlgp, gp."""
    gains = runs.GAINS_QUICK if a.quick else runs.GAINS_FULL
    return {kind: [(g, runs.final_rows(runs.sgd(a, kind, g))) for g in gains] for kind in ("nlgp", "gp")}, gains


def main():
    a = style.args(__doc__.splitlines()[0])
    data, gains = sweep(a)
    folder = runs.sgd(a, "nlgp", gains[-1])
    m = style.manifest(folder)["config"]
    d = int(m["data"]["d"])
    fig, (ax_i, ax_k) = plt.subplots(2, 1, figsize=(3.6, 4.6), sharex=True, gridspec_kw=dict(height_ratios=[1.6, 1]))
    for kind, kind_style in (("nlgp", style.NLGP), ("gp", style.CLONE)):
        for ax, column in ((ax_i, "ipr_pos"), (ax_k, "kurtosis_pos")):
            per_gain = [(g, np.array(rows[column], dtype=float)) for g, rows in data[kind]]
            gs = np.array([g for g, _ in per_gain])
            for g, values in per_gain:
                ax.plot(np.full(len(values), g), values, linestyle="none", marker="o", ms=2.5, alpha=0.5,
                        color=kind_style["color"])
            ax.plot(gs, [v.mean() for _, v in per_gain], marker="o", ms=4,
                    **dict(kind_style, label=f"{kind_style['label']}, +b units"))
        # The other population, for reference (it stays delocalised on both kinds of input).
        gs = np.array([g for g, _ in data[kind]])
        neg = [np.mean(np.array(rows["ipr_neg"], dtype=float)) for _, rows in data[kind]]
        ax_i.plot(gs, neg, color=kind_style["color"], linestyle=kind_style["linestyle"], lw=0.8, alpha=0.6,
                  marker="x", ms=3, label=f"{kind_style['label']}, -b units")
    ax_i.axhline(3.0 / (d + 2), color="grey", lw=0.8, ls=":", label="i.i.d. Gaussian weights")
    ax_i.set_ylabel("final IPR of the +b units")
    ax_i.legend(frameon=False, fontsize=6.5)
    ax_i.set_title(f"IPR at t = {m['training']['time']:g} (mean of {runs.SEEDS} seeds; dots: seeds)", loc="left",
                   fontsize=8)
    ax_k.axhline(0.0, color="grey", lw=0.8, ls=":")
    ax_k.set_ylabel("excess kurtosis of\n+b pre-activations")
    ax_k.set_xscale("log")
    ax_k.set_xlabel("gain g")
    ax_k.set_xticks(gains)
    ax_k.set_xticklabels([f"{g:g}" for g in gains])
    style.panel_label(ax_i, "A", x=-0.2)
    style.panel_label(ax_k, "B", x=-0.2)
    data_cfg = m["data"]
    geometry = f"ring, D = {d}" if int(data_cfg["dim"]) == 1 else f"{data_cfg['size']} x {data_cfg['size']} torus"
    fig.suptitle(f"Localisation vs gain: {geometry}, xi = {data_cfg['xi0']:g} / {data_cfg['xi1']:g}, "
                 f"K = {m['network']['k']}", fontsize=8.5)
    fig.tight_layout()
    for path in style.save(fig, a.out, "fig_gain"):
        print(path)


if __name__ == "__main__":
    main()
