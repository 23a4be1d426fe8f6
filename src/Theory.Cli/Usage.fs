/// One line of `--help` per option, keyed by the argument union's case name, shared by every command so that an
/// option means the same thing everywhere. A command-specific meaning gets its own case name.
module Theory.Cli.Usage

open Microsoft.FSharp.Reflection

let private texts =
    dict [
        // files and reproducibility
        "Config", "JSON file with the same keys as the flags (e.g. {\"gain\": 10, \"xi\": [1, 3]}); flags win."
        "Out", "output folder (created; files are written atomically). Default: runs/<command>."
        "Seed", "random seed: the same seed and configuration give bitwise-identical output files."
        "Init_Seed", "seed of the initial weights only (default: --seed): runs of different seeds then share one initial state."
        // the data (SCIENCE.md section 1)
        "Dim", "1 = ring of L pixels (D = L), 2 = L x L torus (D = L^2). Default 2."
        "Size", "image side L in pixels (2..1048576 in 1D, 2..1024 in 2D). Default 20."
        "Xi", "correlation lengths XI0 < XI1 of class 0 (label +1) and class 1 (label -1); C_ij = exp(-d^2/xi^2). Default 1 3."
        "Gain", "NLGP gain g >= 0: x = erf(g z / sqrt 2) / sqrt(gamma(g)); g -> 0 Gaussian, g -> inf sign(z). (erf(g' z) code uses g' = g / sqrt 2.)"
        "Open", "open boundaries (Toeplitz covariances, dense factor) instead of the periodic default."
        "Jitter", "added to the latent covariance diagonal to make it positive definite. Default 1e-3."
        "Inputs", "what the network sees: nlgp (non-Gaussian images, default) or gp (their Gaussian clone, same covariance)."
        // the network (SCIENCE.md section 2)
        "K", "number of hidden units K. Default 8."
        "Activation", "erf (= erf(h/sqrt 2), default) | relu | sigmoid | linear | cubic (alpha h - (beta/3) h^3)."
        "Cubic", "ALPHA BETA of the cubic activation alpha h - (beta/3) h^3. Default 1 1."
        "Readout", "second layer: mf (v = 1/K, default) | committee (v = 1) | lazy (v = 1/sqrt K) | trained (v learned)."
        "Bias", "none | fixed:B (+B on the first K/2 units, -B on the rest) | trained:B (learned from that start). Default trained:1."
        "Init_Std", "standard deviation of the initial first-layer weights per entry. Default 0.1."
        // training
        "Lr", "learning rate (read per --convention). Default 0.05."
        "Lr_Readout", "learning rate of a trained readout. Default: --lr."
        "Lr_Bias", "learning rate of trained biases. Default: --lr."
        "Convention", "reference (public code: MSE without 1/2, first-layer rate x K; default) | half-mse (the eta of SCIENCE.md)."
        "Time", "final time T in units of D SGD steps (t = steps / D). Default 10000."
        "Test_Size", "held-out test samples (half per class). Default 10000."
        "Log_Points", "log-spaced logging times between --log-start and T (t = 0 is added). Default 100."
        "Log_Start", "first logged time after 0. Default 0.01."
        "Snapshots", "number of log-spaced weight snapshots (the final weights are always saved). Default 10."
        "Seeds", "number of independent seeds SEED, SEED+1, ... run in parallel across cores. Default 1."
        // integrate (SCIENCE.md section 4)
        "Solver", "ODE solver: dp5 (adaptive Dormand-Prince 5(4); default, fastest here) | stiff (Radau IIA 5) | bdf | auto (dp5, then stiff) | rodas5p | rosw (Rosenbrock); stiff ones use a block Jacobian, one block per mode | euler (fixed --dt)."
        "Rtol", "relative tolerance of the adaptive solvers. Default 1e-6."
        "Atol", "absolute tolerance of the adaptive solvers. Default 1e-6."
        "Dt", "step of --solver euler (explicit Euler, for accuracy studies). Default 0.01."
        "No_Class_Error", "skip the classification error P(y phi < 0) (a K-dimensional lattice integral per logged time)."
        "Reference", "trajectory.csv of another run (e.g. euler with a tiny --dt): prints max |eps_g - eps_ref| / eps_ref."
        "Model", "fc (fully-connected two-layer network, default) | conv (K circular-padded filters, average pooling, readout v)."
        "Kernel", "filter side Q of --model conv: Q taps in 1D, Q x Q in 2D (1..L). Default 5."
        "Compare", "folder of a finished fc run: report each localised receptive field's best normalised cross-correlation with a learned filter."
        // bench
        "Seconds", "measuring time per figure in seconds (best of three rounds after a warm-up). Default 1."
        // sample
        "Count", "images per class and input kind written to samples.csv (1..1000000). Default 16."
        "Stats_Samples", "fresh images per class and input kind measured for stats.csv (0 = no statistics). Default 20000."
        // rfm (SCIENCE.md section 6)
        "Conv", "ConvRFM: average over positions of a Laplace kernel between q x q patches (circular padding), one patch metric M."
        "Patch", "patch side q of --conv (q x q in 2D, length q in 1D), 1..L. Default 5."
        "Rfm_Train", "training points n (kernel ridge regression solves an n x n system; memory 8 n^2 bytes). Default 5000 (2000 with --conv)."
        "Rfm_Test", "held-out test points for accuracy and MSE (classes drawn at random). Default 5000 (2000 with --conv)."
        "Rfm_Iterations", "metric updates M <- AGOP, from M = I; then a final fit (iteration 0 is the fixed kernel). Default 5."
        "Bandwidth", "bandwidth L of the Laplace kernel exp(-||x - z||_M / L). Default 10."
        "Ridge", "ridge lambda of alpha = (K + lambda I)^-1 y. Default 1e-3."
        "Normalise", "AGOP scaling before it becomes M: max (divide by the largest entry; default) | none."
        "Centre", "centre the gradients before the outer product (M = their covariance; removes the mean-gradient direction)."
        "Blas", "dense linear algebra: auto (OpenBLAS if libopenblas.so.0 loads, else managed; default) | managed | openblas."
        "Blas_Threads", "worker threads for the kernel machine. Default: all cores."
        // neuron and cumulants (SCIENCE.md section 5)
        "Neuron_Bias", "fixed bias b of the single neuron: b > 0 lets the long-range class drive w; localisation needs c4 < 0, i.e. b^2 > 0.4 alpha/beta. Default 1."
        "Flow_Time", "final time T of the single-neuron gradient flow, in SGD time (learning rate x steps / D). Default 50."
        "Moment_Samples", "fixed samples per class (and input kind) on which T(w,w,w) = E[x (w.x)^3] and the cumulant DeltaT are estimated. Default 20000."
        "Variants", "flows to integrate: full (cumulant kept) gaussian (DeltaT = 0) clone (cumulant from clone samples) exact (untruncated). Default all four."
        "Flow_Solver", "integrator of the single-neuron flows: dp5 (explicit Dormand-Prince 5(4); default, fastest here) | rosw (Rosenbrock-W ROS34PW2 with the flow's approximate Jacobian) | auto (dp5, switching to Radau5 when stiff). rtol 1e-6."
        "Cp_Rank", "number r of symmetric rank-one components gamma_r u_r^(x4) in the CP decomposition of the fourth cumulant. Default 8."
        "Cp_Starts", "random starting points per CP component, besides the 2 pixels where the cumulant's diagonal is strongest. Default 1."
        "Cp_Sign", "CP components sought: negative (most negative gamma; the NLGP is platykurtic; default) | positive | largest (either sign)."
        "Cumulant_Of", "which fourth cumulant: mixture (sum_a P_a DeltaT^a, the one that drives the neuron; default) | class0 | class1."
        "Compare_Rf", "folder of a `theory simulate` run: the width and IPR of its localised receptive fields (rf.csv) join the comparison table."
        "No_Neuron", "skip the single-neuron flow at each gain (CP factors only)."
        // agop (SCIENCE.md section 6)
        "Agop_Run", "folder of a theory simulate run (fc or --model conv): every seed and weight snapshot in it is analysed."
        "Agop_Samples", "inputs the AGOP averages over, of the kind the run was trained on (half per class; stream Analysis of --seed). Default 10000."
        "Agop_No_Matrices", "do not write the D x D matrices W^T W and AGOP of the last snapshot (matrices/; 3 MB each at D = 400)."
        // overlay (SCIENCE.md section 4: where the Gaussian equivalence breaks down)
        "Overlay_Seeds", "SGD runs per input kind (>= 2): NLGP seeds SEED..SEED+N-1, clone SEED+N..SEED+2N-1, all from the ODE's initial weights. Default 3."
        "Overlay_Gains", "NLGP gain(s) g (see simulate --gain); several values sweep them, one folder each plus summary.csv. Default 10."
        "Breakdown_Z", "detector threshold: |z| of the NLGP-minus-clone mean over the clone runs' pooled spread that counts as a departure. Default 3.5."
        "Breakdown_Points", "consecutive grid times with |z| over the threshold (same sign) that make a breakdown. Default 3."
        "Ipr_Factor", "IPR rise time: when the localising population's mean NLGP IPR reaches this multiple of its initial value for good. Default 2."
        // checkpoints and resumable runs
        "Checkpoint_Every", "save the whole state every T time units (t = steps / D) into checkpoints/; Ctrl-C and SIGTERM always save one. Default: only then."
        "Resume", "continue the interrupted simulate run in DIR from its checkpoints (configuration from DIR/manifest.json); output as if never stopped."
        // sweep
        "Grid", "JSON grid: {\"command\": [\"simulate\", \"integrate\"], \"gain\": [1, 10], \"seed\": [0, 1], \"time\": 100}; lists are axes, scalars fixed."
        "Shard", "I/N: run only points I, I+N, I+2N, ... (0 <= I < N). Default: SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT when set, else all."
        "Jobs", "points run at once in this process. Default: all cores."
        "Dry_Run", "validate the grid and list its points with their status; run nothing."
        "Sweep_Dir", "the --out folder of a sweep, whose points are merged into merged.csv (final rows)."
        "All", "also write merged_all.csv with every row of every point's trajectory."
    ]

/// The help line of an argument union case (by its name).
let describe (case: obj) : string =
    let info, _ = FSharpValue.GetUnionFields(case, case.GetType())
    match texts.TryGetValue info.Name with
    | true, text -> text
    | _ -> failwithf "no --help text for option %s: add it to Usage.fs" info.Name
