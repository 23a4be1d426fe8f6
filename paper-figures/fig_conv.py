"""Convolutional-network filters beside the localised receptive fields of the fully-connected network.

A: the K filters (Q taps, or Q x Q) of a convolutional network (circular padding, average pooling, the same
activation, biases, readout and online SGD) trained on the NLGP task. B: each receptive field that the
fully-connected network of Fig. 1 localised (rf.csv), beside the learned filter that matches it best, placed at the
best position and with the best sign (normalised cross-correlation over all positions and filters, compare.csv).
C: that best |normalised cross-correlation| per receptive field, for the learned filters and for the same filters
before training (chance level); 1 = the same shape with nothing outside the filter's window.

    /usr/bin/python3 paper-figures/fig_conv.py [--quick] [--out DIR] [--runs DIR] [--fresh]
"""
# outputs: fig_conv
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import style  # noqa: E402  (sets the Agg backend and the shared look)
import runs  # noqa: E402
import numpy as np  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.gridspec import GridSpecFromSubplotSpec  # noqa: E402

MAX_PAIRS = 6


def filters(folder, seed=0, t=None):
    """Conv filters of one seed at time t (default: final): {unit: (offsets_x, offsets_y, taps)}."""
    units, x, y, w = runs.snapshot_rows(folder, seed, t)
    return {int(k): (x[units == k], y[units == k], w[units == k]) for k in sorted(set(units))}


def filter_image(f, dim):
    ox, oy, w = f
    if dim == 1:
        out = np.zeros(ox.max() - ox.min() + 1)
        out[ox - ox.min()] = w
        return out
    out = np.zeros((oy.max() - oy.min() + 1, ox.max() - ox.min() + 1))
    out[oy - oy.min(), ox - ox.min()] = w
    return out


def placed(f, shift_x, shift_y, size, dim):
    """The filter laid on the image at position (shift_x, shift_y): tap at offset o lands on pixel p + o (torus)."""
    ox, oy, w = f
    if dim == 1:
        out = np.full(size, np.nan)
        out[(shift_x + ox) % size] = w
        return out
    out = np.full((size, size), np.nan)
    out[(shift_y + oy) % size, (shift_x + ox) % size] = w
    return out


def main():
    a = style.args(__doc__.splitlines()[0])
    fc_run = runs.sgd(a, "nlgp")
    conv_run = runs.conv(a)
    data = style.manifest(conv_run)["config"]["data"]
    dim, size = int(data["dim"]), int(data["size"])
    cfg = style.manifest(conv_run)["config"]
    learned = filters(conv_run)
    cmp = style.read_csv(os.path.join(conv_run, "compare.csv"))
    n = len(cmp["fc_unit"])
    # The best-matching pairs first.
    order = np.argsort(-np.abs(np.array(cmp["ncc"], dtype=float)))
    pairs = order[:MAX_PAIRS]
    fc_weights = {}
    for s in sorted(set(int(v) for v in cmp["fc_seed"])):
        fc_weights[s] = runs.weights_at(fc_run, s)

    fig = plt.figure(figsize=(7.4, 4.3 if dim == 2 else 4.4))
    outer = fig.add_gridspec(2, 2, height_ratios=[1, 2.1], width_ratios=[3.3, 1.2], hspace=0.55 if dim == 1 else 0.3,
                             wspace=0.3,
                             left=0.07, right=0.98, top=0.84, bottom=0.15 if dim == 1 else 0.06)
    # A: learned filters.
    k = len(learned)
    grid_a = GridSpecFromSubplotSpec(1, k, subplot_spec=outer[0, :], wspace=0.15)
    for j, (unit, f) in enumerate(learned.items()):
        ax = fig.add_subplot(grid_a[j])
        img = filter_image(f, dim)
        img = img / (np.abs(img).max() or 1.0)
        colour = style.POP_PLUS if j < k // 2 else style.POP_MINUS
        if dim == 2:
            style.framed_image(ax, img, style.SIGNED, -1, 1, colour, 1.5)
        else:
            offsets = np.arange(len(img)) + f[0].min()
            ax.plot(offsets, img, color=colour, marker="o", ms=2, lw=1)
            ax.axhline(0, color="grey", lw=0.5)
            ax.set_ylim(-1.1, 1.1)
            ax.set_yticks([] if j else [-1, 0, 1])
            ax.set_xticks([offsets[0], 0, offsets[-1]])
            ax.set_xlabel("tap offset", fontsize=7)
        ax.set_title(f"filter {unit}", fontsize=7, color=colour)
        if j == 0:
            style.panel_label(ax, "A", x=-0.3 if dim == 2 else -0.5)
            ax.text(0.0, 1.3 if dim == 2 else 1.22,
                    f"learned convolutional filters ({'Q' if dim == 1 else 'Q x Q'} taps, Q = {cfg['kernel']}; "
                    f"colour: initial bias +b / -b), online SGD to t = {cfg['training']['time']:g}",
                    transform=ax.transAxes, fontsize=8)
    # B: receptive field beside its best filter.
    if n == 0:
        # Nothing to compare (the fully-connected runs localised no receptive field): say so instead of failing.
        ax = fig.add_subplot(outer[1, :])
        ax.axis("off")
        ax.text(0.5, 0.5, f"no receptive field of {fc_run} is marked localised (rf.csv): nothing to compare",
                ha="center", va="center", fontsize=8, wrap=True)
        for path in style.save(fig, a.out, "fig_conv"):
            print(path)
        return
    grid_b = GridSpecFromSubplotSpec(2, len(pairs), subplot_spec=outer[1, 0], wspace=0.12, hspace=0.12) \
        if dim == 2 else GridSpecFromSubplotSpec(len(pairs), 1, subplot_spec=outer[1, 0], hspace=0.15)
    for j, i in enumerate(pairs):
        s, unit = int(cmp["fc_seed"][i]), int(cmp["fc_unit"][i])
        f = learned[int(cmp["filter"][i])]
        ncc = float(cmp["ncc"][i])
        w = fc_weights[s][unit]
        w = w / (np.abs(w).max() or 1.0)
        filt = placed(f, int(cmp["shift_x"][i]), int(cmp["shift_y"][i]), size, dim) * np.sign(ncc)
        filt = filt / (np.nanmax(np.abs(filt)) or 1.0)
        label = f"fc seed {s} unit {unit}"
        if dim == 2:
            # A window around the matched position (on the torus), so that the shapes can be compared pixel by pixel.
            half = min(size // 2, int(cfg["kernel"]) // 2 + 3)
            iy = (int(cmp["shift_y"][i]) + np.arange(-half, half + 1)) % size
            ix = (int(cmp["shift_x"][i]) + np.arange(-half, half + 1)) % size
            crops = (w[np.ix_(iy, ix)], filt[np.ix_(iy, ix)])
            for r, (img, title) in enumerate(zip(crops, (label, f"filter {int(cmp['filter'][i])}: {abs(ncc):.2f}"))):
                ax = fig.add_subplot(grid_b[r, j])
                shown = np.ma.masked_invalid(img)
                cmap = plt.get_cmap(style.SIGNED).copy()
                cmap.set_bad("white")
                style.framed_image(ax, shown, cmap, -1, 1)
                ax.set_title(title, fontsize=6, pad=2)
                if j == 0:
                    ax.set_ylabel(f"fully-connected\nreceptive field\n({2 * half + 1} x {2 * half + 1} window)"
                                  if r == 0 else "best conv filter\n(placed, signed):\n|ncc|", fontsize=7)
                    if r == 0:
                        style.panel_label(ax, "B", x=-0.35)
        else:
            ax = fig.add_subplot(grid_b[j])
            ax.plot(np.arange(size), w, color=style.NLGP["color"], lw=2.2, alpha=0.8,
                    label="fully-connected receptive field")
            ax.plot(np.arange(size), filt, color="black", lw=0.9, ls="--", marker="o", ms=2,
                    label="best conv filter (placed, signed)")
            ax.set_xlim(0, size - 1)
            ax.set_ylim(-1.15, 1.15)
            ax.set_yticks([])
            ax.text(1.0, 0.95, f"{label}: filter {int(cmp['filter'][i])}, |ncc| {abs(ncc):.2f}", transform=ax.transAxes,
                    ha="right", va="top", fontsize=6)
            if j == 0:
                style.panel_label(ax, "B", x=-0.04)
            if j < len(pairs) - 1:
                ax.set_xticklabels([])
            else:
                ax.set_xlabel("pixel")
                fig.legend(*ax.get_legend_handles_labels(), frameon=False, fontsize=6.5, loc="lower center",
                           bbox_to_anchor=(0.4, 0.0), ncol=2)
    # C: |ncc| learned vs initial.
    ax = fig.add_subplot(outer[1, 1])
    learned_ncc = np.abs(np.array(cmp["ncc"], dtype=float))
    initial_ncc = np.abs(np.array(cmp["ncc_initial"], dtype=float))
    for i in range(n):
        ax.plot([0, 1], [initial_ncc[i], learned_ncc[i]], color="grey", lw=0.6, alpha=0.7)
    ax.plot(np.zeros(n), initial_ncc, "o", color=style.CLONE["color"], ms=3, label="initial filters")
    ax.plot(np.ones(n), learned_ncc, "o", color=style.NLGP["color"], ms=3, label="learned filters")
    ax.set_xticks([0, 1])
    ax.set_xticklabels(["before\ntraining", "after\ntraining"])
    ax.set_xlim(-0.4, 1.4)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("best |normalised cross-correlation|\nwith a localised receptive field")
    ax.set_title(f"{n} localised fields, mean {learned_ncc.mean():.2f}\n(initial {initial_ncc.mean():.2f})", fontsize=7)
    style.panel_label(ax, "C", x=-0.45)
    geometry = f"ring of D = {data['d']}" if dim == 1 else f"{size} x {size} torus"
    fig.suptitle(f"Convolutional filters vs localised receptive fields: NLGP, {geometry}, xi = {data['xi0']:g} / "
                 f"{data['xi1']:g}, gain {data['gain']:g}", fontsize=8.5)
    for path in style.save(fig, a.out, "fig_conv"):
        print(path)


if __name__ == "__main__":
    main()
