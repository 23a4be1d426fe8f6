"""Simulation against theory: where the Gaussian equivalence breaks down (SCIENCE.md section 4).

From one initial state, the Gaussian-equivalence ODE (dotted black), SGD on the Gaussian clone (dashed blue) and SGD
on the NLGP (solid vermilion), against log time: the test error eps_g (mean over seeds, band = min..max), the
measured minus Gaussian-equivalent error at each run's own order parameters (the sharper diagnostic), the mean IPR
and the pre-activation excess kurtosis of each population. Vertical lines: the breakdown time (NLGP eps_g leaves
the clone band), the gap's breakdown time, the IPR rise time (from breakdown.json).

    python3 paper-figures/overlay.py                     # runs `theory overlay` (defaults: Fig. 1 setting, 2D, T = 1e4)
    python3 paper-figures/overlay.py --quick             # 1D ring of 40, T = 1000 (seconds)
    python3 paper-figures/overlay.py --from runs/overlay # draws an existing run (a sweep folder: one figure per gain)
"""
# outputs: overlay
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import style  # noqa: E402  (first: sets the backend)
from style import plt  # noqa: E402


def load(folder):
    return style.read_csv(os.path.join(folder, "overlay.csv")), json.load(open(os.path.join(folder, "breakdown.json")))


def positive(t, *series):
    """Drops t = 0 (log axis)."""
    keep = [i for i, x in enumerate(t) if x > 0]
    return [[s[i] for i in keep] for s in (t, *series)]


def mark(ax, report, legend=False):
    """Vertical lines at the breakdown, gap breakdown and IPR rise times (labelled for the legend of one panel)."""
    lines = [("breakdown_time", "-", "breakdown (eps_g)"), ("gap_breakdown_time", "-.", "breakdown (gap)"),
             ("ipr_rise_time", ":", "IPR rise")]
    for key, ls, label in lines:
        t = report.get(key)
        if t is not None and t > 0:
            ax.axvline(t, color="grey", linestyle=ls, linewidth=0.9, label=label if legend else None)


def final_field(folder, kind, population):
    """The final receptive field of the population's unit with the largest IPR in the first run of a kind:
    (values as rows of an image, unit, ipr)."""
    rf = style.read_csv(os.path.join(folder, kind, "rf.csv"))
    seed = rf["seed"][0]
    rows = [i for i in range(len(rf["unit"])) if rf["seed"][i] == seed and rf["population"][i] == population]
    best = max(rows, key=lambda i: rf["ipr"][i])
    unit = rf["unit"][best]
    w = style.read_csv(os.path.join(folder, kind, "weights", f"seed_{int(seed)}.csv"))
    last = max(w["step"])
    pts = [(int(w["y"][i]), int(w["x"][i]), w["w"][i]) for i in range(len(w["w"]))
           if w["step"][i] == last and w["unit"][i] == unit]
    ny, nx = max(p[0] for p in pts) + 1, max(p[1] for p in pts) + 1
    img = [[0.0] * nx for _ in range(ny)]
    for y, x, v in pts:
        img[y][x] = v
    return img, int(unit), rf["ipr"][best]


def draw(folder, out_dir, name):
    o, rep = load(folder)
    t = o["t"]
    pops = [c[len("ipr_"):-len("_nlgp")] for c in o if c.startswith("ipr_") and c.endswith("_nlgp")]
    fig, axes = plt.subplots(2, 3, figsize=(11.0, 5.6))
    (a_eps, a_rel, a_gap), (a_ipr, a_kurt, a_rf) = axes

    # eps_g: ODE, clone and NLGP means with their min..max bands.
    tt, ode, cm, clo, chi, nm, nlo, nhi = positive(t, o["eps_g_ode"], o["eps_g_clone_mean"], o["eps_g_clone_min"],
                                                  o["eps_g_clone_max"], o["eps_g_nlgp_mean"], o["eps_g_nlgp_min"],
                                                  o["eps_g_nlgp_max"])
    a_eps.plot(tt, ode, **style.THEORY)
    a_eps.plot(tt, cm, **style.CLONE)
    a_eps.fill_between(tt, clo, chi, color=style.CLONE["color"], alpha=0.2, linewidth=0)
    a_eps.plot(tt, nm, **style.NLGP)
    a_eps.fill_between(tt, nlo, nhi, color=style.NLGP["color"], alpha=0.2, linewidth=0)
    a_eps.set_ylabel("test error eps_g")
    mark(a_eps, rep, legend=True)
    a_eps.legend(loc="lower left", frameon=False)

    # The same relative to the ODE: the clone's finite-size offset and the NLGP leaving the clone.
    rel = lambda xs: [x / d - 1.0 for x, d in zip(xs, ode)]  # noqa: E731
    a_rel.axhline(0.0, **style.THEORY)
    a_rel.plot(tt, rel(cm), **style.CLONE)
    a_rel.fill_between(tt, rel(clo), rel(chi), color=style.CLONE["color"], alpha=0.2, linewidth=0)
    a_rel.plot(tt, rel(nm), **style.NLGP)
    a_rel.fill_between(tt, rel(nlo), rel(nhi), color=style.NLGP["color"], alpha=0.2, linewidth=0)
    a_rel.set_ylabel("eps_g / eps_g(ODE) - 1")
    mark(a_rel, rep)

    # The sharper diagnostic: measured minus Gaussian-equivalent eps_g at the runs' own order parameters (mean over
    # runs), with +-2 standard errors of a mean of n clone runs from the test-set sampling noise alone.
    n = len(rep["clone_seeds"])
    tt, gc, gn, sdc = positive(t, o["gap_clone_mean"], o["gap_nlgp_mean"], o["sd_test_clone"])
    a_gap.axhline(0.0, **{**style.THEORY, "label": "Gaussian equivalence"})
    a_gap.plot(tt, gc, **style.CLONE)
    band = [2.0 * s / math.sqrt(n) for s in sdc]
    a_gap.fill_between(tt, [-b for b in band], band, color=style.CLONE["color"], alpha=0.15, linewidth=0,
                       label="+-2 test-set s.e. of the mean")
    a_gap.plot(tt, gn, **style.NLGP)
    a_gap.set_ylabel("measured - Gaussian-equivalent eps_g")
    mark(a_gap, rep)
    a_gap.legend(loc="lower left", frameon=False)

    # IPR and kurtosis per population: the localising one thick, the other thin.
    loc = rep.get("localised_population")
    for p in pops:
        width = 1.8 if p == loc else 0.9
        colour = style.POP_PLUS if p == "pos" else style.POP_MINUS
        for ax, key in ((a_ipr, "ipr"), (a_kurt, "kurtosis")):
            tt, c, nl = positive(t, o[f"{key}_{p}_clone"], o[f"{key}_{p}_nlgp"])
            ax.plot(tt, c, color=colour, linestyle="--", linewidth=width, label=f"{p}, clone")
            ax.plot(tt, nl, color=colour, linestyle="-", linewidth=width, label=f"{p}, NLGP")
    a_ipr.set_ylabel("mean IPR of the population")
    a_ipr.set_yscale("log")
    a_kurt.set_ylabel("pre-activation excess kurtosis")
    a_kurt.axhline(0.0, color="black", linestyle=":", linewidth=1.0)
    for ax in (a_ipr, a_kurt):
        mark(ax, rep)
        ax.legend(loc="upper left" if ax is a_ipr else "lower left", frameon=False, ncol=2)
    for ax in (a_eps, a_rel, a_gap, a_ipr, a_kurt):
        ax.set_xscale("log")
        ax.set_xlabel("t = steps / D")

    # Final receptive fields of the localising population: NLGP and clone (first run of each).
    a_rf.axis("off")
    a_rf.set_title(f"final receptive field, most localised {loc} unit")
    for k, (kind, spec, label) in enumerate((("nlgp", style.NLGP, "NLGP"), ("clone", style.CLONE, "clone"))):
        img, unit, ipr = final_field(folder, kind, loc)
        inset = a_rf.inset_axes([0.02 + 0.5 * k, 0.05, 0.46, 0.8])
        if len(img) == 1:
            inset.plot(img[0], color=spec["color"])
            inset.set_xlabel("pixel")
        else:
            m = max(abs(v) for row in img for v in row)
            inset.imshow(img, cmap=style.SIGNED, vmin=-m, vmax=m)
            inset.set_xticks([])
            inset.set_yticks([])
        inset.set_title(f"{label}: unit {unit}, IPR {ipr:.3f}", fontsize=8)
    g = rep.get("gain")
    b = rep.get("breakdown_time")
    fig.suptitle(f"gain {g:g}: breakdown at t = {b:.3g}" if b else f"gain {g:g}: no breakdown", fontsize=9)
    fig.tight_layout()
    return style.save(fig, out_dir, name)


def draw_sweep(folder, out_dir, name):
    """Breakdown, gap and IPR rise times, and final IPRs, against the gain (summary.csv)."""
    s = style.read_csv(os.path.join(folder, "summary.csv"))
    g = s["gain"]
    fig, (a_t, a_i) = plt.subplots(1, 2, figsize=(8.0, 3.0))
    for key, ls, label in (("breakdown_time", "-", "breakdown (eps_g)"), ("gap_breakdown_time", "-.", "breakdown (gap)"),
                           ("ipr_rise_time", ":", "IPR rise")):
        pts = [(x, y) for x, y in zip(g, s[key]) if isinstance(y, float) and not math.isnan(y)]
        if pts:
            a_t.plot(*zip(*pts), marker="o", linestyle=ls, color="black", label=label)
    a_t.set_xscale("log")
    a_t.set_yscale("log")
    a_t.set_xlabel("gain g")
    a_t.set_ylabel("time t")
    a_t.legend(frameon=False)
    a_i.plot(g, s["ipr_final_clone"], marker="s", **style.CLONE)
    a_i.plot(g, s["ipr_final_nlgp"], marker="o", **style.NLGP)
    a_i.set_xscale("log")
    a_i.set_xlabel("gain g")
    a_i.set_ylabel("final IPR (localising population)")
    a_i.legend(frameon=False)
    fig.tight_layout()
    return style.save(fig, out_dir, name)


def main():
    import argparse
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="1D ring of 40, T = 1000 (seconds)")
    p.add_argument("--from", dest="source", default=None, help="an existing `theory overlay` folder")
    p.add_argument("--out", default=os.path.join(style.ROOT, "paper-figures", "out"))
    p.add_argument("--runs", default=os.path.join(style.ROOT, "runs", "figures"))
    a = p.parse_args()
    folder = a.source
    if folder is None:
        folder = os.path.join(a.runs, "overlay-quick" if a.quick else "overlay")
        extra = ["--dim", 1, "--size", 40, "--time", 1000, "--test-size", 2000] if a.quick else []
        style.theory("overlay", *extra, "--out", folder)
    if os.path.isfile(os.path.join(folder, "overlay.csv")):
        print("\n".join(draw(folder, a.out, "overlay")))
    else:
        gains = sorted((d for d in os.listdir(folder) if d.startswith("gain_")), key=lambda d: float(d[5:]))
        if not gains:
            raise SystemExit(f"{folder} holds neither overlay.csv nor gain_* folders")
        for i, d in enumerate(gains):
            # The first gain is also drawn as `overlay` (the name make_all.py checks).
            print("\n".join(draw(os.path.join(folder, d), a.out, "overlay" if i == 0 else f"overlay_{d}")))
            if i == 0:
                print("\n".join(draw(os.path.join(folder, d), a.out, f"overlay_{d}")))
        print("\n".join(draw_sweep(folder, a.out, "overlay_sweep")))


if __name__ == "__main__":
    main()
