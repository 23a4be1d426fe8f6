/// Integration of the Gaussian-equivalence ODEs: the NLGP task from the simulator's specifications and initial
/// weights, the trajectory at the shared logging times, and the Gaussian-equivalent errors at given order
/// parameters (SCIENCE.md section 4).
module Theory.Get.Engine

open System
open System.Diagnostics
open System.Numerics
open System.Threading
open Theory.Interop
open Theory.Gaussian
open Theory.Simulation.Data
open Theory.Simulation.Training

/// How the ODE is integrated.
type Solver =
    /// One of the adaptive solvers of `Theory.Ode` (Dormand-Prince 5(4), stiff, auto) with its options.
    | Adaptive of Theory.Ode.Options
    /// Explicit Euler with a fixed step (the method public codes use; here as a reference for accuracy studies).
    | Euler of step: float

/// Settings of one integration.
type IntegrationOptions =
    { Solver: Solver
      /// Evaluate the classification error P(y phi < 0) at every output time (a K-dimensional lattice integral).
      ClassError: bool
      /// Lattice size exponent of the classification error (2^m points).
      ClassErrorLattice: int
      /// Called with the fraction of [0, T] integrated so far.
      Progress: float -> unit
      Cancellation: CancellationToken
      /// Compute the classes' expectations on separate threads (same results, less wall time on several cores).
      Parallel: bool
      /// The stiff methods (`Stiff`, `Bdf`, `Auto`) get the block-diagonal finite-difference Jacobian of the ODE
      /// layout (`Layout.BlockSizes`: one block per merged mode, then the readout and the biases) in place of the
      /// `Options.Jacobian` of `Adaptive` when that is the dense default; false keeps `Options.Jacobian` as given.
      BlockJacobian: bool }

module IntegrationOptions =
    /// Dormand-Prince with rtol = atol = 1e-6, classification error on 2^12 lattice points, no progress reports,
    /// classes in parallel, block-diagonal Jacobians for the stiff methods.
    let defaults =
        { Solver = Adaptive Theory.Ode.Options.defaults
          ClassError = true
          ClassErrorLattice = 12
          Progress = ignore
          Cancellation = CancellationToken.None
          Parallel = true
          BlockJacobian = true }

/// One logged time of the theory: the same quantities (and CSV columns) as a simulation row.
type TrajectoryRow =
    { Time: float
      /// eps_g = (1/2) sum_a P_a E_a[(y_a - phi)^2].
      EpsG: float
      /// (1/2) E_a[(y_a - phi)^2] of each class a.
      EpsGByClass: float[]
      /// P(y phi < 0) (classification error, 1 - accuracy); NaN when not computed.
      ClassError: float
      Order: OrderParameters }

/// The result of an integration. A failed or interrupted one keeps every row computed before.
type Integration =
    { Rows: TrajectoryRow[]
      /// Right-hand-side evaluations (finite-difference Jacobians included).
      Evaluations: int64
      /// Accepted steps.
      Steps: int64
      Rejected: int64
      /// Why the integration stopped early (divergence, solver failure), if it did.
      Failure: string option
      Interrupted: bool
      Warnings: string list
      /// Wall time of the integration proper (seconds).
      Seconds: float }

/// Order parameters of the readable snapshots (R of the first class, as `OrderParameters` holds one R).
let private orderParameters (system: GetSystem) (snaps: ClassSnapshot[]) (v: float[]) (b: float[]) =
    let means = if system.Means.IsSome then snaps |> Array.map (fun s -> s.M) else null
    let r = if system.Teacher.IsSome then snaps[0].R else null
    OrderParameters(system.K, snaps |> Array.map (fun s -> s.Q), means, r, v, b)

/// The logged row at state y.
let private row (dyn: Dynamics) (options: IntegrationOptions) (t: float) (y: float[]) =
    let system = dyn.System
    let snaps = dyn.Snapshot y
    let v, b = dyn.ReadoutAndBiases y
    let mutable eps = 0.0
    for a in 0 .. snaps.Length - 1 do
        eps <- eps + system.Classes[a].Probability * snaps[a].Delta2
    let classError = if options.ClassError then dyn.ClassError(y, options.ClassErrorLattice) else nan
    { Time = t
      EpsG = 0.5 * eps
      EpsGByClass = snaps |> Array.map (fun s -> 0.5 * s.Delta2)
      ClassError = classError
      Order = orderParameters system snaps v b }

/// Largest |state| or eps_g accepted before a run counts as diverged.
[<Literal>]
let BlowUp = 1e12

let private finite (y: float[]) =
    let mutable ok = true
    for x in y do
        if not (Double.IsFinite x) || abs x > BlowUp then ok <- false
    ok

/// Chunks of the output grid (index ranges) integrated by one solver call each: the early, fast part in one, the rest
/// in about eighths of the time span, so that progress, interruption and divergence are noticed between chunks
/// without restarting the adaptive solver often.
let private chunks (grid: float[]) =
    let t = grid[grid.Length - 1]
    let cuts = ResizeArray [ 0 ]
    let mutable next = t / 8.0
    for i in 1 .. grid.Length - 1 do
        if grid[i] >= next || i = grid.Length - 1 then
            cuts.Add i
            while next <= grid[i] do
                next <- next + t / 8.0
    cuts.ToArray() |> Array.pairwise

/// The solver options actually used for a system of this layout: a stiff method with the dense finite-difference
/// default gets the block-diagonal Jacobian of the layout (one block per merged mode: the per-mode densities couple
/// only through the order parameters Q^a, so the stiff part of the Jacobian, the linear map q(f) -> B_f q(f) +
/// q(f) B_f^T of SCIENCE.md section 4, lives inside the blocks).
let odeOptionsFor (layout: Layout) (blockJacobian: bool) (options: Theory.Ode.Options) =
    match options.Method, options.Jacobian with
    | (Theory.Ode.Stiff | Theory.Ode.Bdf | Theory.Ode.Auto | Theory.Ode.Rodas5P | Theory.Ode.Ros34PW2), Theory.Ode.DenseFiniteDifference when blockJacobian ->
        { options with Jacobian = Theory.Ode.BlockDiagonal layout.BlockSizes }
    | _ -> options

/// Integrates `system` from `initial` (with the given fixed readout and biases where they are not trained) and
/// returns a row at every time of `grid` (increasing, starting at 0).
let integrateSystem (system: GetSystem) (initial: GetState) (grid: float[]) (options: IntegrationOptions) : Integration =
    if grid.Length < 1 || grid[0] <> 0.0 then invalidArg "grid" "the output grid must start at t = 0"
    let clock = Stopwatch.StartNew()
    let dyn = Dynamics(system, initial.Readout, initial.Biases, options.Parallel)
    let layout = dyn.Layout
    let y0 = layout.Pack initial
    let tEnd = grid[grid.Length - 1]
    let token = options.Cancellation
    let mutable lastReport = 0L
    let rhs: Theory.Ode.Rhs =
        fun t y dy ->
            token.ThrowIfCancellationRequested()
            dyn.Rhs(y, dy)
            if dyn.Evaluations - lastReport >= 64L then
                lastReport <- dyn.Evaluations
                options.Progress(min 1.0 (t / tEnd))
    let rows = ResizeArray<TrajectoryRow>()
    let warnings = ResizeArray<string>()
    let mutable failure = None
    let mutable interrupted = false
    let mutable steps = 0L
    let mutable rejected = 0L
    let mutable solverEvaluations = 0L
    /// Appends rows for the states at grid[i0..]; returns false (and sets failure) at the first diverged one.
    let accept (i0: int) (states: float[][]) =
        let mutable ok = true
        let mutable j = 0
        while ok && j < states.Length do
            let t = grid[i0 + j]
            let y = states[j]
            let r = if finite y then Some(row dyn options t y) else None
            match r with
            | Some r when Double.IsFinite r.EpsG && r.EpsG < BlowUp -> rows.Add r
            | _ ->
                let last = if rows.Count > 0 then rows[rows.Count - 1].Time else 0.0
                failure <-
                    Some(
                        sprintf
                            "the ODE diverged before t = %g (the order parameters grew without bound or became NaN; last finite output at t = %g); try a smaller --lr"
                            t
                            last
                    )
                ok <- false
            j <- j + 1
        ok
    try
        if accept 0 [| y0 |] && grid.Length > 1 then
            match options.Solver with
            | Adaptive requested ->
                let odeOptions = odeOptionsFor layout options.BlockJacobian requested
                let mutable y = y0
                let mutable go = true
                for (i0, i1) in chunks grid do
                    if go then
                        let sub = grid[i0..i1]
                        let sol = Theory.Ode.Solver.solveGrid odeOptions rhs y sub
                        steps <- steps + int64 sol.Stats.Accepted
                        rejected <- rejected + int64 sol.Stats.Rejected
                        solverEvaluations <- solverEvaluations + int64 sol.Stats.Evaluations
                        for w in sol.Warnings do
                            if not (warnings.Contains w) then warnings.Add w
                        // sol.States[0] is the state at sub[0], already logged.
                        let fresh = sol.States[1..]
                        if not (accept (i0 + 1) fresh) then
                            go <- false
                        else
                            match sol.Outcome with
                            | Theory.Ode.Failed message ->
                                let last = rows[rows.Count - 1].Time
                                failure <- Some(sprintf "the ODE solver gave up after t = %g: %s" last message)
                                go <- false
                            | _ ->
                                if fresh.Length < sub.Length - 1 then
                                    failure <- Some(sprintf "the ODE solver stopped at t = %g" rows[rows.Count - 1].Time)
                                    go <- false
                                else
                                    y <- sol.States[sol.States.Length - 1]
                        options.Progress(grid[i1] / tEnd)
            | Euler h ->
                let y = Array.copy y0
                let dy = Array.zeroCreate y.Length
                let mutable go = true
                let mutable i = 1
                while go && i < grid.Length do
                    let mutable t = grid[i - 1]
                    let target = grid[i]
                    let count = max 1 (int (ceil ((target - t) / h - 1e-9)))
                    let hh = (target - t) / float count
                    for _ in 1 .. count do
                        rhs t y dy
                        for j in 0 .. y.Length - 1 do
                            y[j] <- y[j] + hh * dy[j]
                        t <- t + hh
                        steps <- steps + 1L
                    if not (accept i [| Array.copy y |]) then go <- false
                    i <- i + 1
    with :? OperationCanceledException ->
        interrupted <- true
    // The adaptive solver reports its own count (which includes finite-difference Jacobians); Euler is counted here.
    let evaluations =
        match options.Solver with
        | Adaptive _ -> solverEvaluations
        | Euler _ -> dyn.Evaluations
    { Rows = rows.ToArray()
      Evaluations = evaluations
      Steps = steps
      Rejected = rejected
      Failure = failure
      Interrupted = interrupted
      Warnings = List.ofSeq warnings
      Seconds = clock.Elapsed.TotalSeconds }

/// The packed ODE state (`Layout`) of `system` at time t from `initial`, by the default adaptive solver.
let stateAt (system: GetSystem) (initial: GetState) (t: float) : float[] =
    let dyn = Dynamics(system, initial.Readout, initial.Biases)
    let y0 = dyn.Layout.Pack initial
    if t = 0.0 then
        y0
    else
        let rhs: Theory.Ode.Rhs = fun _ y dy -> dyn.Rhs(y, dy)
        let sol = Theory.Ode.Solver.solveGrid Theory.Ode.Options.defaults rhs y0 [| 0.0; t |]
        sol.States[sol.States.Length - 1]

// ---------------------------------------------------------------------------------------------------------------
// The NLGP task.

/// The ODE problem of the NLGP task for given specifications, with the diagnostics `theory integrate` prints.
type NlgpProblem =
    { System: GetSystem
      Initial: GetState
      Groups: Modes.ModeGroups
      /// Input dimension D.
      D: int
      /// Length of the ODE state vector.
      States: int
      Warnings: string list
      /// Seconds spent building the task, its spectra and the initial densities.
      SetupSeconds: float }

/// The unnormalised DFT of each of the K rows (length D) of `w`, K x D row-major.
let transformRows (task: NlgpTask) (k: int) (w: float[]) =
    let d = task.D
    let out = Array.zeroCreate (k * d)
    let buffer = Array.zeroCreate<Complex> d
    for i in 0 .. k - 1 do
        task.Dft(ReadOnlySpan(w, i * d, d), Span buffer)
        Array.blit buffer 0 out (i * d) d
    out

/// The system and initial state of the NLGP task of SCIENCE.md sections 1 and 4: two zero-mean classes with
/// probability 1/2, labels +1 (class 0) and -1 (class 1), covariances diagonal in the DFT basis, the first-layer
/// weights of `Initialisation.Weights` for the seed, rates from `LearningRates.Resolve`. The Gaussian clone and the
/// NLGP share this system (only second moments enter). Negative eigenvalues (a periodised kernel that is not
/// positive semi-definite) are clipped to 0, as the samplers do, with a warning. `merge = false` keeps one state per
/// DFT index (for tests).
let nlgpProblem (data: DataSpec) (network: NetworkSpec) (training: TrainingSpec) (quadrature: QuadratureSettings)
                (merge: bool) : NlgpProblem =
    let clock = Stopwatch.StartNew()
    if data.Boundary <> Boundary.Periodic then
        raise (SpecException("--open", "the Gaussian-equivalence ODEs need periodic boundaries (their Fourier-mode decomposition); drop --open"))
    let task = NlgpTask(data)
    let d = task.D
    let warnings = ResizeArray(task.Warnings)
    let spectra =
        Array.init 2 (fun a ->
            let s = task.Spectrum a
            let low = Array.min s
            if low < 0.0 then
                warnings.Add(
                    sprintf "the input covariance of class %d (xi = %g) has negative eigenvalues (smallest %.3g); clipped to 0 in the ODE" a
                        (data.Xi a) low
                )
            s |> Array.map (max 0.0))
    let groups = if merge then Modes.merge Modes.DefaultTolerance spectra else Modes.unmerged spectra
    let k = network.K
    let w = Initialisation.Weights(network, d, training.InitialWeightsSeed)
    let q0 = Modes.initialDensities groups k (transformRows task k w)
    let rates = LearningRates.Resolve(training, network)
    let system =
        { K = k
          Activation = Activation.ofSpec network
          Eta = rates.W
          EtaReadout = rates.V
          EtaBias = rates.B
          TrainReadout = (network.Readout = Readout.Trained)
          TrainBias = (network.BiasMode = BiasMode.Trained)
          ModeWeights = groups.Weights
          Classes =
            Array.init 2 (fun a ->
                { Probability = 0.5
                  Label = Some(DataSpec.Label a)
                  Spectrum = groups.Spectra[a] })
          Teacher = None
          Means = None
          Quadrature = quadrature }
    let initial =
        { Densities = q0
          TeacherDensities = Array.create groups.Count [||]
          MeanDensities = Array.create groups.Count [||]
          Readout = Initialisation.Readout network
          Biases = Initialisation.Biases network }
    { System = system
      Initial = initial
      Groups = groups
      D = d
      States = (Layout system).Size
      Warnings = List.ofSeq warnings
      SetupSeconds = clock.Elapsed.TotalSeconds }

/// Integrates the NLGP task of the specifications on the shared logging grid `TimeGrid.Of training`.
let integrate (data: DataSpec) (network: NetworkSpec) (training: TrainingSpec) (options: IntegrationOptions) =
    let problem = nlgpProblem data network training QuadratureSettings.defaults true
    problem, integrateSystem problem.System problem.Initial (TimeGrid.Of training) options

/// The Gaussian-equivalent errors (eps_g, P(y phi < 0)) of a network with the given order parameters (Q per class,
/// v, b; M if the classes have means) on the NLGP task (class a: probability 1/2, label +1 / -1, zero mean): what the
/// Gaussian equivalence predicts for a network whose weights have these overlaps. SCIENCE.md's sharper diagnostic
/// compares it with a simulation's measured test error. `classErrorLattice` = 0 skips the classification error (NaN).
let nlgpErrorAt (activation: Theory.Gaussian.ActivationFunction) (quadrature: QuadratureSettings) (classErrorLattice: int)
                (op: OrderParameters) =
    let k = op.K
    let mutable eps = 0.0
    let mutable ce = 0.0
    for a in 0 .. op.Classes - 1 do
        let f = Fields(k, k)
        Array.blit op.Q[a] 0 f.Cov 0 (k * k)
        for i in 0 .. k - 1 do
            f.Mean[i] <- op.B[i] + (if isNull op.M then 0.0 else op.M[a][i])
            f.Coef[i] <- -op.V[i]
        f.Constant <- DataSpec.Label a
        let m = Moments(k, k)
        (Expectations.create activation quadrature k k).Compute(f, m)
        eps <- eps + 0.5 * m.Delta2
        if classErrorLattice > 0 then ce <- ce + 0.5 * Expectations.classError activation classErrorLattice f
    0.5 * eps, (if classErrorLattice > 0 then ce else nan)

/// Trajectory columns of the theory, named as the simulator's: t, eps_g, mse (= 2 eps_g), accuracy
/// (= 1 - P(y phi < 0); only when computed), eps_g_0, eps_g_1, ..., then `OrderParameterColumns`.
let trajectoryColumns (k: int) (classes: int) (accuracy: bool) (means: bool) =
    [| yield "t"
       yield "eps_g"
       yield "mse"
       if accuracy then yield "accuracy"
       for a in 0 .. classes - 1 do
           yield sprintf "eps_g_%d" a
       yield! OrderParameterColumns.Names(k, classes, means) |]

/// The tidy trajectory table of integration rows (columns of `trajectoryColumns`).
let trajectoryTable (k: int) (classes: int) (accuracy: bool) (rows: TrajectoryRow seq) =
    let means = rows |> Seq.exists (fun r -> not (isNull r.Order.M))
    let table = Theory.Interop.Io.CsvTable(trajectoryColumns k classes accuracy means)
    for r in rows do
        table.Add(r.Time).Add(r.EpsG).Add(2.0 * r.EpsG) |> ignore
        if accuracy then table.Add(1.0 - r.ClassError) |> ignore
        for e in r.EpsGByClass do
            table.Add e |> ignore
        table.AddRange(OrderParameterColumns.Values(r.Order, means)).EndRow() |> ignore
    table
