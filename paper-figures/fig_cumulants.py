"""CP factors of the NLGP's fourth cumulant and receptive-field widths (SCIENCE.md section 5): per gain, the single
neuron's final weights (full flow) and the leading symmetric CP factors u_r of sum_a P_a DeltaT^a; on the right,
their width (FWHM) and IPR against the gain, with the localised receptive fields of the two-layer network trained by
online SGD at the same gains (the runs of Fig. 2; units marked localised in rf.csv, mean over units and seeds).
Drawn by cumulant_factors.draw from one `theory cumulants` run.

    /usr/bin/python3 paper-figures/fig_cumulants.py [--quick] [--out DIR] [--runs DIR] [--fresh]
"""
# outputs: fig_cumulants
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import style  # noqa: E402  (sets the Agg backend and the shared look)
import runs  # noqa: E402
import cumulant_factors  # noqa: E402
import numpy as np  # noqa: E402

GAINS_FULL = [1, 3, 10, 30]
GAINS_QUICK = [1, 10]


def cumulant_run(a, gains):
    if a.quick:
        extra = ["--moment-samples", 4000, "--cp-rank", 3, "--flow-time", 20]
    else:
        extra = ["--moment-samples", 20000, "--cp-rank", 4, "--flow-time", 50]
    return style.cached_run(a, ("quick-" if a.quick else "") + "cumulants", "cumulants", *runs.data_args(a),
                            "--gain", *gains, "--seed", 0, *extra)


def localised_fields(folder):
    """(ipr, width, count) of the receptive fields rf.csv marks localised (all seeds), or None when there are none
    (the same summary as `theory cumulants --compare`, without its fallback to a whole population: the width of a
    delocalised field is not a receptive-field width)."""
    rf = style.read_csv(os.path.join(folder, "rf.csv"))
    marked = np.array(rf["localised"], dtype=float) > 0.5
    if not marked.any():
        return None
    return float(np.mean(np.array(rf["ipr"])[marked])), float(np.mean(np.array(rf["width"])[marked])), int(marked.sum())


def main():
    a = style.args(__doc__.splitlines()[0])
    gains = GAINS_QUICK if a.quick else GAINS_FULL
    run = cumulant_run(a, gains)
    simulations = []
    for g in gains:
        summary = localised_fields(runs.sgd(a, "nlgp", g))
        if summary is None:
            print(f"  gain {g:g}: no receptive field marked localised; no simulation point")
        else:
            simulations.append((float(g), *summary))
    for path in cumulant_factors.draw(run, a.out, components=4, figure_name="fig_cumulants", simulations=simulations):
        print(path)


if __name__ == "__main__":
    main()
