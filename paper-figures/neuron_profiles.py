"""Receptive field of the single neuron over time, with and without the fourth cumulant (SCIENCE.md section 5).

Reads a `theory neuron` run folder and draws, per flow (full = cumulant kept, gaussian = DeltaT set to 0,
clone = cumulant estimated on Gaussian-clone samples, exact = untruncated), the weight profile at the logged
snapshot times, and below them the IPR and the field kurtosis against time.

    python3 paper-figures/neuron_profiles.py RUN_FOLDER [--out DIR]
    python3 paper-figures/neuron_profiles.py --quick      # makes a small 1D run first (seconds)
"""
# outputs: neuron_profiles
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import style  # noqa: E402  (sets the Agg backend and the shared look)
import numpy as np  # noqa: E402
import matplotlib  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

VARIANTS = ["full", "gaussian", "clone", "exact"]
TITLES = {
    "full": "full flow (cumulant kept), NLGP",
    "gaussian": "Gaussian part only (DeltaT = 0)",
    "clone": "full flow on the Gaussian clone",
    "exact": "untruncated flow, NLGP",
}
STYLE = {
    "full": dict(style.NLGP, label="full (NLGP)"),
    "gaussian": dict(style.THEORY, label="Gaussian part only"),
    "clone": dict(style.CLONE, label="clone"),
    "exact": dict(color=style.NLGP["color"], linestyle="-.", linewidth=1.0, label="untruncated (NLGP)"),
}


def load(run):
    traj = style.read_csv(os.path.join(run, "trajectory.csv"))
    prof = style.read_csv(os.path.join(run, "profiles.csv"))
    with open(os.path.join(run, "manifest.json")) as f:
        manifest = json.load(f)
    return traj, prof, manifest


def draw(run, out_dir, max_columns=6, figure_name="neuron_profiles"):
    """Draws the run into OUT_DIR/FIGURE_NAME.pdf and .png."""
    traj, prof, manifest = load(run)
    data = manifest["config"]["data"]
    dim, size = int(data["dim"]), int(data["size"])
    variants = [v for v in VARIANTS if v in set(prof["variant"])]
    prof_v = np.array(prof["variant"])
    prof_t = np.array(prof["t"], dtype=float)
    x = np.array(prof["x"], dtype=int)
    y = np.array(prof["y"], dtype=int)
    w = np.array(prof["w"], dtype=float)
    times = sorted(set(prof_t[prof_v == variants[0]]))
    if len(times) > max_columns:
        # t = 0, then the snapshots nearest to log-spaced times over the last three decades (where the flows differ).
        later = np.array([t for t in times if t > 0])
        targets = np.geomspace(max(later[0], later[-1] / 1000.0), later[-1], max_columns - 1)
        picked = sorted({float(later[np.argmin(np.abs(np.log(later) - np.log(t)))]) for t in targets})
        times = [times[0]] + picked
    cols = len(times) if dim == 2 else 2
    width = 1.3 * cols + 0.6 if dim == 2 else 7.0
    fig = plt.figure(figsize=(max(width, 6.0), (1.35 if dim == 2 else 1.25) * len(variants) + 2.3),
                     layout="constrained" if dim == 1 else None)
    grid = fig.add_gridspec(len(variants) + 1, cols, height_ratios=[1.0] * len(variants) + [1.5])
    cmap = plt.get_cmap(style.SEQUENTIAL)
    positive = [t for t in times if t > 0]
    norm = matplotlib.colors.LogNorm(vmin=min(positive), vmax=max(positive)) if positive else None

    def colour(t):
        return cmap(0.0) if t <= 0 or norm is None else cmap(0.15 + 0.85 * norm(t))
    profile_axes = []
    for r, v in enumerate(variants):
        if dim == 1:
            ax = fig.add_subplot(grid[r, :])
            for t in times:
                m = (prof_v == v) & (prof_t == t)
                order = np.argsort(x[m])
                ax.plot(x[m][order], w[m][order], color=colour(t), lw=1.0)
            ax.set_title(TITLES[v], loc="left")
            ax.set_ylabel("w")
            ax.set_xlim(0, size - 1)
            if r == len(variants) - 1:
                ax.set_xlabel("pixel")
            profile_axes.append(ax)
        else:
            for k, t in enumerate(times):
                ax = fig.add_subplot(grid[r, k])
                m = (prof_v == v) & (prof_t == t)
                img = np.zeros((size, size))
                img[y[m], x[m]] = w[m]
                lim = np.max(np.abs(img)) or 1.0
                ax.imshow(img, cmap=style.SIGNED, vmin=-lim, vmax=lim, interpolation="nearest")
                ax.set_xticks([])
                ax.set_yticks([])
                if r == 0:
                    ax.set_title(f"t = {t:.3g}")
                if k == 0:
                    ax.set_ylabel(v)
    if profile_axes and norm is not None:
        bar = fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), ax=profile_axes, pad=0.01, aspect=30)
        bar.set_label("t (SGD time)")
    # IPR and field kurtosis against time.
    ax_ipr = fig.add_subplot(grid[-1, : cols // 2])
    ax_k = fig.add_subplot(grid[-1, cols // 2:])
    tv = np.array(traj["variant"])
    for v in variants:
        m = (tv == v) & (np.array(traj["t"], dtype=float) > 0)
        t = np.array(traj["t"], dtype=float)[m]
        ax_ipr.plot(t, np.array(traj["ipr"], dtype=float)[m], **STYLE[v])
        ax_k.plot(t, np.array(traj["kurtosis"], dtype=float)[m], **STYLE[v])
    d = int(data["d"])
    ax_ipr.axhline(3.0 / (d + 2), color="grey", lw=0.7, ls=":")
    ax_ipr.set_xscale("log")
    ax_ipr.set_yscale("log")
    ax_ipr.set_xlabel("t (SGD time)")
    ax_ipr.set_ylabel("IPR of w")
    ax_ipr.legend(frameon=False, fontsize=7)
    ax_k.set_xscale("log")
    ax_k.set_xlabel("t (SGD time)")
    ax_k.set_ylabel("kurtosis of w.x (NLGP)")
    neuron = manifest["config"]["neuron"]
    fig.suptitle(f"single neuron, {'ring' if dim == 1 else 'torus'} D = {d}, gain {data['gain']:g}, "
                 f"xi = {data['xi0']:g}/{data['xi1']:g}, b = {neuron['bias']:g}")
    if dim == 2:
        fig.tight_layout()
    return style.save(fig, out_dir, figure_name)


def main():
    p = style.run_parser(__doc__.splitlines()[0], "neuron")
    a = p.parse_args()
    run = style.run_folder(p, a, "neuron-quick", "neuron", "--dim", 1, "--size", 48, "--gain", 10, "--moment-samples",
                           4000, "--flow-time", 20, "--log-points", 30, "--snapshots", 5)
    for path in draw(run, a.out or run):
        print(path)


if __name__ == "__main__":
    main()
