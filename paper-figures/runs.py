"""The data runs the figures share, in one place, so that two figures asking for the same run get the same cached
folder (for instance the gain-10 SGD runs of Fig. 1 are points of the gain sweep of Fig. 2 and the comparison of
Figs. 5 and 6).

Full mode uses the paper's Fig. 1 setting (2D, L = 20, K = 8, erf, readout 1/K, trained +-1 biases, T = 10^4, the
project's defaults xi = 1, 3); quick mode a ring of L = 40 pixels and T = 10^3, where the same phenomena appear in
seconds (README: Results > Localisation, 1D)."""
import os

import style

# Gains of the sweep in Fig. 2 (the cumulant figure uses a subset, so that its simulation points are cached runs).
GAINS_FULL = [0.5, 1, 2, 3, 10, 30]
GAINS_QUICK = [1, 10]
SEEDS = 2


def _prefix(a):
    # Quick and full runs share a cache folder when --runs is given explicitly; keep them apart by name.
    return "quick-" if a.quick else ""


def data_args(a):
    """The `--dim --size --xi` of every run of the figures."""
    return ["--dim", 1, "--size", 40, "--xi", 1, 3] if a.quick else ["--dim", 2, "--size", 20, "--xi", 1, 3]


def sgd(a, inputs="nlgp", gain=10):
    """Online SGD of the Fig. 1 network on `inputs` (nlgp | gp, the Gaussian clone) at `gain`, SEEDS seeds in
    parallel; returns the run folder."""
    if a.quick:
        extra = ["--time", 1000, "--test-size", 1000, "--log-points", 30, "--snapshots", 4]
    else:
        extra = ["--time", 10000, "--test-size", 10000, "--log-points", 50, "--snapshots", 6]
    return style.cached_run(a, f"{_prefix(a)}sgd-{inputs}-g{gain:g}", "simulate", *data_args(a), "--gain", gain,
                            "--inputs", inputs, "--seeds", SEEDS, "--seed", 0, *extra)


def samples(a, gain=10):
    """A few images of each class, NLGP and clone (`theory sample`)."""
    return style.cached_run(a, f"{_prefix(a)}samples-g{gain:g}", "sample", *data_args(a), "--gain", gain,
                            "--count", 4, "--stats-samples", 0, "--seed", 0)


def conv(a, gain=10):
    """The convolutional baseline on NLGP images, compared with the localised receptive fields of `sgd(a)`."""
    fc = sgd(a, "nlgp", gain)
    kernel = 7 if a.quick else 5
    time = 1000
    return style.cached_run(a, f"{_prefix(a)}conv-g{gain:g}", "simulate", *data_args(a), "--gain", gain,
                            "--model", "conv", "--kernel", kernel, "--time", time, "--test-size",
                            1000 if a.quick else 10000, "--log-points", 30, "--snapshots", 4, "--seed", 0,
                            "--compare", fc)


def final_rows(folder):
    """The last logged row of each seed in trajectory.csv, as a dict of column -> list over seeds."""
    traj = style.read_csv(os.path.join(folder, "trajectory.csv"))
    seeds = traj["seed"]
    last = {}
    for i, s in enumerate(seeds):
        last[s] = i  # rows are ordered by seed, then time
    idx = [last[s] for s in sorted(last)]
    return {k: [v[i] for i in idx] for k, v in traj.items()}


def snapshot_rows(folder, seed=0, t=None):
    """The rows of one seed's weights/seed_S.csv at the snapshot nearest time t (default: the final one), as arrays
    (unit, x, y, w); x, y are pixels of a fully-connected run and tap offsets of a --model conv run."""
    import numpy as np
    cols = style.read_csv(os.path.join(folder, "weights", f"seed_{seed}.csv"))
    ts = np.array(cols["t"], dtype=float)
    t = ts.max() if t is None else ts[np.argmin(np.abs(ts - t))]
    sel = ts == t
    return (np.array(cols["unit"], dtype=int)[sel], np.array(cols["x"], dtype=int)[sel],
            np.array(cols["y"], dtype=int)[sel], np.array(cols["w"], dtype=float)[sel])


def weights_at(folder, seed=0, t=None):
    """Weight snapshot of one seed (weights/seed_S.csv) at time t (default: the final one) as a dict
    unit -> array (1D: L values; 2D: L x L, row y, column x)."""
    import numpy as np
    m = style.manifest(folder)["config"]["data"]
    dim, size = int(m["dim"]), int(m["size"])
    units, x, y, w = snapshot_rows(folder, seed, t)
    out = {}
    for k in sorted(set(units)):
        m_k = units == k
        if dim == 1:
            img = np.zeros(size)
            img[x[m_k]] = w[m_k]
        else:
            img = np.zeros((size, size))
            img[y[m_k], x[m_k]] = w[m_k]
        out[int(k)] = img
    return out
