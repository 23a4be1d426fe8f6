"""Where the Gaussian equivalence breaks down (SCIENCE.md section 4): for a few gains, from one initial state, the
test error of the Gaussian-equivalence ODE (dotted black), of online SGD on the Gaussian clone (dashed blue) and on
the NLGP (solid vermilion) against log time, the breakdown marked; beneath, the same relative to the ODE, then the
excess kurtosis and the mean IPR of the localising population's pre-activations and weights.

One `theory overlay` gain sweep (3 NLGP and 3 clone SGD runs per gain, all from the ODE's initial weights); the
curves are means over the runs, bands their min..max. Vertical lines (from breakdown.json): solid, the NLGP eps_g
leaves the clone band (`breakdown`); dash-dot, the gap (measured minus Gaussian-equivalent eps_g) opens; dotted, the
localising population's NLGP IPR doubles. Drawing helpers come from overlay.py (`load`, `positive`, `mark`), which
also draws the one-gain diagnostic figure from the same folders.

    /usr/bin/python3 paper-figures/fig_overlay.py [--quick] [--out DIR] [--runs DIR] [--fresh]
"""
# outputs: fig_overlay
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import style  # noqa: E402  (sets the Agg backend and the shared look)
import runs  # noqa: E402
import overlay  # noqa: E402
from style import plt  # noqa: E402

GAINS_FULL = [1, 3, 10]
GAINS_QUICK = [1, 3, 10]


def overlay_run(a):
    """One `theory overlay` sweep over the gains; returns the sweep folder (gain_G/ per gain)."""
    gains = GAINS_QUICK if a.quick else GAINS_FULL
    if a.quick:
        # Ring of 40, T = 10^3: the whole sequence (gap, breakdown, IPR rise) appears at gains 3 and 10 in ~5 CPU-s.
        extra = ["--time", 1000, "--test-size", 4000, "--log-points", 40, "--snapshots", 3]
    else:
        # The Fig. 1 setting at T = 10^4 (overlay's defaults, fewer snapshots): ~2.5 CPU-minutes per gain.
        extra = ["--time", 10000, "--test-size", 10000, "--log-points", 100, "--snapshots", 4]
    return style.cached_run(a, ("quick-" if a.quick else "") + "overlay-gains", "overlay", *runs.data_args(a),
                            "--gain", *gains, "--seeds", 3, "--seed", 0, *extra)


def column(axes, folder):
    """Draws one gain into the column AXES (eps_g, relative to the ODE, kurtosis, IPR)."""
    o, rep = overlay.load(folder)
    a_eps, a_rel, a_kurt, a_ipr = axes
    tt, ode, cm, clo, chi, nm, nlo, nhi = overlay.positive(
        o["t"], o["eps_g_ode"], o["eps_g_clone_mean"], o["eps_g_clone_min"], o["eps_g_clone_max"],
        o["eps_g_nlgp_mean"], o["eps_g_nlgp_min"], o["eps_g_nlgp_max"])
    for ax, f in ((a_eps, lambda xs: xs), (a_rel, lambda xs: [x / d - 1.0 for x, d in zip(xs, ode)])):
        ax.plot(tt, f(ode), **style.THEORY)
        ax.plot(tt, f(cm), **dict(style.CLONE, label="SGD, Gaussian clone"))
        ax.fill_between(tt, f(clo), f(chi), color=style.CLONE["color"], alpha=0.2, linewidth=0)
        ax.plot(tt, f(nm), **dict(style.NLGP, label="SGD, NLGP"))
        ax.fill_between(tt, f(nlo), f(nhi), color=style.NLGP["color"], alpha=0.2, linewidth=0)
        overlay.mark(ax, rep)
    loc = rep.get("localised_population") or "pos"
    other = "neg" if loc == "pos" else "pos"
    sign = {"pos": "+b", "neg": "-b"}
    for ax, key in ((a_kurt, "kurtosis"), (a_ipr, "ipr")):
        for p, width, alpha in ((loc, 1.6, 1.0), (other, 0.8, 0.45)):
            tt2, c, nl = overlay.positive(o["t"], o[f"{key}_{p}_clone"], o[f"{key}_{p}_nlgp"])
            ax.plot(tt2, nl, color=style.NLGP["color"], linestyle="-", linewidth=width, alpha=alpha,
                    label=f"NLGP, {sign[p]} units")
            ax.plot(tt2, c, color=style.CLONE["color"], linestyle="--", linewidth=width, alpha=alpha,
                    label=f"clone, {sign[p]} units")
        overlay.mark(ax, rep)
    a_kurt.axhline(0.0, color="grey", linewidth=0.7, linestyle=":")
    a_ipr.set_yscale("log")
    b = rep.get("breakdown_time")
    a_eps.set_title(f"gain g = {rep['gain']:g}: " + (f"breakdown at t = {b:.3g}" if b else "no eps_g breakdown"))
    return loc


def main():
    a = style.args(__doc__.splitlines()[0])
    folder = overlay_run(a)
    gains = sorted((d for d in os.listdir(folder) if d.startswith("gain_")), key=lambda d: float(d[5:]))
    fig, axes = plt.subplots(4, len(gains), figsize=(2.9 * len(gains), 7.8), sharex=True, squeeze=False,
                             gridspec_kw=dict(height_ratios=[1.3, 1, 1, 1]))
    loc = "pos"
    for j, d in enumerate(gains):
        loc = column(axes[:, j], os.path.join(folder, d))
    for ax in axes[-1]:
        ax.set_xscale("log")
        ax.set_xlabel("t = steps / D")
    sign = {"pos": "+b", "neg": "-b"}[loc]
    for i, label in enumerate(["test error eps_g", "eps_g / eps_g(ODE) - 1",
                               "pre-activation\nexcess kurtosis", "mean IPR of the units"]):
        axes[i, 0].set_ylabel(label)
        style.panel_label(axes[i, 0], "ABCD"[i], x=-0.28)
    # One y range per row, so that the gains compare at a glance.
    for row in axes[1:]:
        lo = min(ax.get_ylim()[0] for ax in row)
        hi = max(ax.get_ylim()[1] for ax in row)
        for ax in row:
            ax.set_ylim(lo, hi)
    # Plain numbers on the log IPR axis (it spans less than two decades: 10^-2 alone would be the only label).
    from matplotlib.ticker import FixedLocator, NullLocator
    lo, hi = axes[3, 0].get_ylim()
    ticks = [v for v in (0.002, 0.003, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3, 0.5) if lo <= v <= hi]
    for ax in axes[3]:
        ax.yaxis.set_major_locator(FixedLocator(ticks))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.set_yticklabels([f"{v:g}" for v in ticks])
    # The vertical lines' legend from proxies: a gain without a breakdown draws none.
    from matplotlib.lines import Line2D
    axes[0, 0].legend(loc="lower left", frameon=False, fontsize=6.5)
    fig.legend(handles=[Line2D([], [], color="grey", linestyle=ls, linewidth=0.9, label=label) for ls, label in
                        (("-", "breakdown: the NLGP eps_g leaves the clone band"),
                         ("-.", "the gap (measured - Gaussian-equivalent eps_g) opens"),
                         (":", "the NLGP runs' IPR doubles"))],
               loc="lower center", ncol=3, frameon=False, fontsize=7.5)
    axes[2, 0].legend(loc="lower left", frameon=False, fontsize=6.5, ncol=1)
    m = style.manifest(folder)["config"]
    data = m["data"]
    d = int(data["d"])
    geometry = f"ring, D = {d}" if int(data["dim"]) == 1 else f"{data['size']} x {data['size']} torus"
    fig.suptitle(f"ODE vs SGD on the clone vs SGD on the NLGP: {geometry}, xi = {data['xi0']:g} / {data['xi1']:g}, "
                 f"K = {m['network']['k']}, 3 + 3 runs per gain (bands: min..max); thick: the localising "
                 f"{sign} units", fontsize=8.5)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    for path in style.save(fig, a.out, "fig_overlay"):
        print(path)


if __name__ == "__main__":
    main()
