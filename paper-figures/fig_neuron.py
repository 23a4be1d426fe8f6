"""The single neuron (SCIENCE.md section 5): its weight profile over time under the gradient flow with the fourth
cumulant of the NLGP kept (full), with the Gaussian part only (DeltaT = 0), and on the Gaussian clone (the cumulant
estimated on clone samples: zero up to sampling noise); below, the IPR and the excess kurtosis of w.x against time.
Only the full flow localises. Drawn by neuron_profiles.draw from one `theory neuron` run.

    /usr/bin/python3 paper-figures/fig_neuron.py [--quick] [--out DIR] [--runs DIR] [--fresh]
"""
# outputs: fig_neuron
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import style  # noqa: E402  (sets the Agg backend and the shared look)
import runs  # noqa: E402
import neuron_profiles  # noqa: E402


def neuron_run(a):
    if a.quick:
        extra = ["--moment-samples", 4000, "--flow-time", 20, "--log-points", 30, "--snapshots", 5]
    else:
        # The defaults of `theory neuron` (flow to t = 50, 20000 samples per class), without the untruncated flow.
        extra = ["--moment-samples", 20000, "--flow-time", 50, "--log-points", 60, "--snapshots", 8]
    return style.cached_run(a, ("quick-" if a.quick else "") + "neuron-g10", "neuron", *runs.data_args(a), "--gain", 10,
                            "--variants", "full", "gaussian", "clone", "--seed", 0, *extra)


def main():
    a = style.args(__doc__.splitlines()[0])
    for path in neuron_profiles.draw(neuron_run(a), a.out, figure_name="fig_neuron"):
        print(path)


if __name__ == "__main__":
    main()
