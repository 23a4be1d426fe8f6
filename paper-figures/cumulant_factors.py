"""CP factors of the NLGP fourth cumulant per gain, next to the single neuron's receptive field, and their widths
against the gain (SCIENCE.md section 5).

Reads a `theory cumulants` run folder: factor_profiles.csv and factors.csv (the CP components), neuron_profiles.csv
(the neuron's final weights, when the run computed them) and comparison.csv (widths and IPRs, with a simulation's
localised receptive fields when the run was given --compare).

    python3 paper-figures/cumulant_factors.py RUN_FOLDER [--out DIR] [--components 4]
    python3 paper-figures/cumulant_factors.py --quick      # makes a small 1D run first (seconds)
"""
# outputs: cumulant_factors
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import style  # noqa: E402  (sets the Agg backend and the shared look)
import numpy as np  # noqa: E402
import matplotlib  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402


def image(xs, ys, vals, dim, size):
    if dim == 1:
        out = np.zeros(size)
        out[xs] = vals
        return out
    out = np.zeros((size, size))
    out[ys, xs] = vals
    return out


def draw(run, out_dir, components=4, figure_name="cumulant_factors", simulations=()):
    """Draws the run into OUT_DIR/FIGURE_NAME.pdf and .png. SIMULATIONS: extra (gain, ipr, width, count) rows of receptive
    fields from `theory simulate` runs (for instance one per gain), drawn with the run's own --compare rows."""
    with open(os.path.join(run, "manifest.json")) as f:
        manifest = json.load(f)
    data = manifest["config"]["data"]
    dim, size, d = int(data["dim"]), int(data["size"]), int(data["d"])
    prof = style.read_csv(os.path.join(run, "factor_profiles.csv"))
    fac = style.read_csv(os.path.join(run, "factors.csv"))
    comp = style.read_csv(os.path.join(run, "comparison.csv"))
    for gain, ipr, width, count in simulations:
        for column, value in (("gain", gain), ("source", "simulation"), ("ipr", ipr), ("width", width), ("count", count)):
            comp[column].append(value)
    neuron_path = os.path.join(run, "neuron_profiles.csv")
    neuron = style.read_csv(neuron_path) if os.path.exists(neuron_path) else None
    gains = sorted(set(fac["gain"]))
    ncomp = min(components, int(max(fac["component"])) + 1)
    has_neuron = neuron is not None
    cols = ncomp + (1 if has_neuron else 0)
    fig = plt.figure(figsize=(1.45 * cols + 3.2, 1.35 * len(gains) + 0.4), layout="constrained")
    grid = fig.add_gridspec(len(gains), cols + 2, width_ratios=[1.0] * cols + [1.2, 1.2])
    pg, pc = np.array(prof["gain"]), np.array(prof["component"])
    px, py, pu = np.array(prof["x"], dtype=int), np.array(prof["y"], dtype=int), np.array(prof["u"])
    fg, fc = np.array(fac["gain"]), np.array(fac["component"])
    for r, g in enumerate(gains):
        panels = []
        if has_neuron:
            ng = np.array(neuron["gain"])
            m = ng == g
            w = image(np.array(neuron["x"], dtype=int)[m], np.array(neuron["y"], dtype=int)[m],
                      np.array(neuron["w"])[m], dim, size)
            peak = w.flat[np.argmax(np.abs(w))] or 1.0
            panels.append(("neuron", w / peak))  # signed so that the peak is +1 (w and -w are equivalent)
        for c in range(ncomp):
            m = (pg == g) & (pc == c)
            u = image(px[m], py[m], pu[m], dim, size)
            gamma = np.array(fac["gamma"])[(fg == g) & (fc == c)][0]
            panels.append((f"u_{c + 1}, gamma {gamma:.3g}", u / (np.max(np.abs(u)) or 1.0)))
        for k, (title, v) in enumerate(panels):
            ax = fig.add_subplot(grid[r, k])
            if dim == 1:
                ax.plot(np.arange(size), v, color=style.NLGP["color"] if k > 0 or not has_neuron else "black", lw=1.0)
                ax.set_ylim(-1.1, 1.1)
                ax.set_yticks([])
            else:
                ax.imshow(v, cmap=style.SIGNED, vmin=-1, vmax=1, interpolation="nearest")
                ax.set_xticks([])
                ax.set_yticks([])
            ax.set_title(title, fontsize=7)
            if k == 0:
                ax.set_ylabel(f"gain {g:g}")
    # Widths and IPRs against the gain.
    ax_w = fig.add_subplot(grid[:, cols])
    ax_i = fig.add_subplot(grid[:, cols + 1])
    src, cg = np.array(comp["source"]), np.array(comp["gain"])
    series = [("cp_factors", dict(color=style.NLGP["color"], marker="o", label="CP factors (mean)")),
              ("neuron", dict(color="black", marker="s", label="single neuron")),
              ("simulation", dict(color=style.POP_PLUS, marker="^", linestyle="none",
                                  label="simulation (localised units)"))]
    for name, kw in series:
        m = src == name
        if m.any():
            order = np.argsort(cg[m])
            ax_w.plot(cg[m][order], np.array(comp["width"])[m][order], **kw)
            ax_i.plot(cg[m][order], np.array(comp["ipr"])[m][order], **kw)
    for ax, label in [(ax_w, "width (FWHM, pixels)"), (ax_i, "IPR")]:
        ax.set_xscale("log")
        ax.set_xticks(gains)
        ax.set_xticklabels([f"{g:g}" for g in gains])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("gain g")
        ax.set_ylabel(label)
    ax_w.set_ylim(bottom=0)
    ax_i.axhline(3.0 / (d + 2), color="grey", lw=0.7, ls=":", label="random weights")
    ax_i.set_yscale("log")
    # Minor tick labels of a log axis spanning less than a decade collide with each other and the legend.
    ax_i.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax_i.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax_i.set_yticks([v for v in (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
                     if 0.5 * 3.0 / (d + 2) <= v <= 2.0 * max(np.array(comp["ipr"], dtype=float).max(), 3.0 / (d + 2))])
    handles, labels = ax_w.get_legend_handles_labels()
    h_ref, l_ref = ax_i.get_legend_handles_labels()
    ax_w.legend(handles + h_ref[-1:], labels + l_ref[-1:], frameon=False, fontsize=6.5, loc="best")
    cp = manifest["config"]["cp"]
    fig.suptitle(f"fourth cumulant ({cp['cumulant_of']}) of the NLGP, {'ring' if dim == 1 else 'torus'} D = {d}, "
                 f"xi = {data['xi0']:g}/{data['xi1']:g}: CP factors (rank {cp['rank']}) and receptive fields")
    return style.save(fig, out_dir, figure_name)


def main():
    p = style.run_parser(__doc__.splitlines()[0], "cumulants")
    p.add_argument("--components", type=int, default=4, help="CP factors shown per gain")
    a = p.parse_args()
    run = style.run_folder(p, a, "cumulants-quick", "cumulants", "--dim", 1, "--size", 48, "--gain", 1, 10,
                           "--moment-samples", 4000, "--cp-rank", 3, "--flow-time", 20)
    for path in draw(run, a.out or run, a.components):
        print(path)


if __name__ == "__main__":
    main()
