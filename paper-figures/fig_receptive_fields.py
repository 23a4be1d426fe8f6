"""Fig. 1 of Ingrosso & Goldt (PNAS 2022): a two-layer network trained by online SGD on NLGP images grows localised
receptive fields; on the Gaussian clone of the same images it does not.

Rows: NLGP (panels B, C, D) and Gaussian clone (E, F, G). B/E: input images of both classes (xi0: label +1,
xi1: label -1). C/F: receptive fields w_k after training (seed 0), the units that start with bias +b (localised on
NLGP) above those with -b (oscillatory). D/G: IPR of each population against time (mean over seeds, thick; each
seed, thin), with the i.i.d. Gaussian value 3 / (D + 2).

    /usr/bin/python3 paper-figures/fig_receptive_fields.py [--quick] [--out DIR] [--runs DIR] [--fresh]
"""
# outputs: fig_receptive_fields
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import style  # noqa: E402  (sets the Agg backend and the shared look)
import runs  # noqa: E402
import numpy as np  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.gridspec import GridSpecFromSubplotSpec  # noqa: E402

KIND_STYLE = {"nlgp": style.NLGP, "gp": style.CLONE}
KIND_NAME = {"nlgp": "NLGP", "gp": "Gaussian clone"}


def sample_images(folder):
    """samples.csv -> {(kind, class): array of images (n, L) or (n, L, L)}."""
    cols = style.read_csv(os.path.join(folder, "samples.csv"))
    data = style.manifest(folder)["config"]["data"]
    dim, size = int(data["dim"]), int(data["size"])
    d = size if dim == 1 else size * size
    pixels = np.array([cols[f"x{i}"] for i in range(d)], dtype=float).T
    kinds, classes = np.array(cols["kind"]), np.array(cols["class"], dtype=int)
    out = {}
    for kind in ("nlgp", "gp"):
        for c in (0, 1):
            imgs = pixels[(kinds == kind) & (classes == c)]
            out[(kind, c)] = imgs if dim == 1 else imgs.reshape(-1, size, size)
    return out, data


def draw_samples(fig, spec, images, kind, data, letter):
    dim = int(data["dim"])
    xi = {0: data["xi0"], 1: data["xi1"]}
    label = {0: "+1", 1: "-1"}
    if dim == 2:
        grid = GridSpecFromSubplotSpec(2, 2, subplot_spec=spec, wspace=0.08, hspace=0.25)
        lim = max(np.abs(images[(kind, c)][:2]).max() for c in (0, 1))
        for c in (0, 1):
            for j in range(2):
                ax = fig.add_subplot(grid[c, j])
                style.framed_image(ax, images[(kind, c)][j], style.IMAGES, -lim, lim)
                if j == 0:
                    ax.set_ylabel(f"xi = {xi[c]:g}\ny = {label[c]}", fontsize=7)
                if c == 0 and j == 0:
                    style.panel_label(ax, letter, x=-0.35)
                    ax.set_title(f"{KIND_NAME[kind]} inputs", loc="left", fontsize=8)
    else:
        grid = GridSpecFromSubplotSpec(2, 1, subplot_spec=spec, hspace=0.35)
        for c in (0, 1):
            ax = fig.add_subplot(grid[c])
            img = images[(kind, c)][0]
            ax.plot(np.arange(len(img)), img, color=KIND_STYLE[kind]["color"], lw=0.9)
            ax.set_xlim(0, len(img) - 1)
            ax.set_ylabel(f"x (xi = {xi[c]:g})", fontsize=7)
            if c == 0:
                style.panel_label(ax, letter, x=-0.3)
                ax.set_title(f"{KIND_NAME[kind]} inputs", loc="left", fontsize=8)
                ax.set_xticklabels([])
            else:
                ax.set_xlabel("pixel")


def draw_fields(fig, spec, folder, letter):
    """Final receptive fields of seed 0: +b units in the first row, -b units in the second (2D); in 1D one heat map
    per population, units as rows. Each field is scaled to its largest |w|. Returns the axes."""
    data = style.manifest(folder)["config"]["data"]
    dim = int(data["dim"])
    rf = style.read_csv(os.path.join(folder, "rf.csv"))
    sel = np.array(rf["seed"], dtype=int) == 0
    units = np.array(rf["unit"], dtype=int)[sel]
    pops = np.array(rf["population"])[sel]
    iprs = np.array(rf["ipr"], dtype=float)[sel]
    w = runs.weights_at(folder, 0)
    groups = [(p, colour, [int(u) for u in units[pops == p]]) for p, colour in (("pos", style.POP_PLUS),
                                                                            ("neg", style.POP_MINUS))]
    groups = [g for g in groups if g[2]]
    title = "receptive fields after training (seed 0)"
    if dim == 2:
        cols = max(len(g[2]) for g in groups)
        grid = GridSpecFromSubplotSpec(len(groups), cols, subplot_spec=spec, wspace=0.06, hspace=0.3)
        axes = []
        for r, (pop, colour, us) in enumerate(groups):
            for j, u in enumerate(us):
                ax = fig.add_subplot(grid[r, j])
                axes.append(ax)
                img = w[u] / (np.abs(w[u]).max() or 1.0)
                style.framed_image(ax, img, style.SIGNED, -1, 1, colour, 1.5)
                ax.set_xlabel(f"IPR {iprs[units == u][0]:.3f}", fontsize=6, labelpad=1)
                if j == 0:
                    ax.set_ylabel("+b units" if pop == "pos" else "-b units", color=colour, fontsize=7)
                if r == 0 and j == 0:
                    style.panel_label(ax, letter, x=-0.3)
                    ax.set_title(title, loc="left", fontsize=8)
        return axes
    grid = GridSpecFromSubplotSpec(len(groups), 1, subplot_spec=spec, hspace=0.35)
    axes = []
    for r, (pop, colour, us) in enumerate(groups):
        ax = fig.add_subplot(grid[r])
        axes.append(ax)
        rows = np.array([w[u] / (np.abs(w[u]).max() or 1.0) for u in us])
        ax.imshow(rows, cmap=style.SIGNED, vmin=-1, vmax=1, aspect="auto", interpolation="nearest",
                          extent=(-0.5, rows.shape[1] - 0.5, len(us) - 0.5, -0.5))
        ax.set_yticks(range(len(us)))
        ax.set_yticklabels([str(u) for u in us], fontsize=6)
        ax.set_ylabel("+b units" if pop == "pos" else "-b units", color=colour, fontsize=7)
        if r == 0:
            style.panel_label(ax, letter, x=-0.18)
            ax.set_title(title, loc="left", fontsize=8)
            ax.set_xticklabels([])
        else:
            ax.set_xlabel("pixel")
    return axes


def draw_ipr(ax, folder, kind, letter):
    traj = style.read_csv(os.path.join(folder, "trajectory.csv"))
    data = style.manifest(folder)["config"]["data"]
    d = int(data["d"])
    seeds = np.array(traj["seed"], dtype=int)
    t = np.array(traj["t"], dtype=float)
    line = KIND_STYLE[kind]["linestyle"]
    for pop, colour, name in (("pos", style.POP_PLUS, "+b units"), ("neg", style.POP_MINUS, "-b units")):
        col = f"ipr_{pop}"
        if col not in traj:
            continue
        ipr = np.array(traj[col], dtype=float)
        per_seed = []
        for s in sorted(set(seeds)):
            m = (seeds == s) & (t > 0)
            ax.plot(t[m], ipr[m], color=colour, lw=0.6, alpha=0.45, linestyle=line)
            per_seed.append(ipr[m])
        ax.plot(t[(seeds == seeds[0]) & (t > 0)], np.mean(per_seed, axis=0), color=colour, lw=2.0, linestyle=line,
                label=f"{name} (mean of {len(per_seed)} seeds)")
    ax.axhline(3.0 / (d + 2), color="grey", lw=0.8, ls=":", label="i.i.d. Gaussian weights")
    ax.set_xscale("log")
    ax.set_xlabel("t (SGD steps / D)")
    ax.set_ylabel("IPR")
    ax.set_title(f"IPR during training, {KIND_NAME[kind]}", loc="left", fontsize=8)
    ax.legend(frameon=False, fontsize=6.5, loc="upper left")
    style.panel_label(ax, letter, x=-0.25)


def main():
    a = style.args(__doc__.splitlines()[0])
    sample_run = runs.samples(a)
    sgd = {kind: runs.sgd(a, kind) for kind in ("nlgp", "gp")}
    images, data = sample_images(sample_run)
    dim = int(data["dim"])
    fig = plt.figure(figsize=(7.6, 4.9))
    # Columns: samples, receptive fields with their colour bar, IPR against time. The middle column is split into
    # the fields (two rows, spaced as the outer rows) and a narrow colour bar.
    outer = fig.add_gridspec(2, 3, width_ratios=[1.05, 2.5, 1.6] if dim == 2 else [1.1, 2.1, 1.6], wspace=0.4,
                             hspace=0.45, left=0.06, right=0.98, top=0.9, bottom=0.09)
    middle = GridSpecFromSubplotSpec(1, 2, subplot_spec=outer[:, 1], width_ratios=[1, 0.035], wspace=0.06)
    field_rows = GridSpecFromSubplotSpec(2, 1, subplot_spec=middle[0], hspace=0.45)
    ipr_axes = []
    for r, (kind, letters) in enumerate((("nlgp", "BCD"), ("gp", "EFG"))):
        draw_samples(fig, outer[r, 0], images, kind, data, letters[0])
        draw_fields(fig, field_rows[r], sgd[kind], letters[1])
        ax = fig.add_subplot(outer[r, 2], sharey=ipr_axes[0] if ipr_axes else None)
        draw_ipr(ax, sgd[kind], kind, letters[2])
        ipr_axes.append(ax)
    m = style.manifest(sgd["nlgp"])["config"]
    net, tr = m["network"], m["training"]
    geometry = f"ring of D = {data['d']}" if dim == 1 else f"{data['size']} x {data['size']} torus (D = {data['d']})"
    fig.suptitle(f"{geometry}, xi = {data['xi0']:g} / {data['xi1']:g}, gain {data['gain']:g}; K = {net['k']}, erf, "
                 f"readout 1/K, trained biases +-{net['bias']:g}, lr {tr['lr']:g}, online SGD to t = {tr['time']:g}",
                 fontsize=8.5)
    sm = plt.cm.ScalarMappable(norm=plt.Normalize(-1, 1), cmap=style.SIGNED)
    bar = fig.colorbar(sm, cax=fig.add_subplot(GridSpecFromSubplotSpec(3, 1, subplot_spec=middle[1])[1]))
    bar.ax.set_title("w / max|w|", fontsize=6.5, loc="left")
    bar.ax.tick_params(labelsize=6)
    for path in style.save(fig, a.out, "fig_receptive_fields"):
        print(path)


if __name__ == "__main__":
    main()
