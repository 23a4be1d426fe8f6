/// Simulation against theory (SCIENCE.md section 4): the Gaussian-equivalence ODE, online SGD on the Gaussian clone
/// and online SGD on the NLGP, all from one initial state, aligned on one time grid; and the breakdown report (where
/// the NLGP runs leave the clone runs, when the localising population's IPR rises, how far the clone strays from
/// the ODE). `theory overlay` is a thin shell around this module.
module Theory.Overlay.Overlay

open System
open System.Runtime.ExceptionServices
open System.Text.Json.Nodes
open System.Threading
open System.Threading.Tasks
open Theory.Interop
open Theory.Interop.Io
open Theory.Gaussian
open Theory.Get
open Theory.Simulation.Analysis
open Theory.Simulation.Data
open Theory.Simulation.Training
open Theory.Overlay.Breakdown

/// How an overlay is run.
type Settings =
    { /// SGD runs per input kind (at least 2: the clone runs' spread is the detector's noise scale).
      SeedsPerKind: int
      Detector: DetectorSettings
      /// The IPR rise time is when the localising population's mean NLGP IPR reaches this multiple of its initial
      /// value (and stays there).
      IprFactor: float
      /// How the ODE is integrated (`Progress` and `Cancellation` are set by `run`).
      Integration: Engine.IntegrationOptions
      /// At most this many jobs (ODEs and SGD runs) at once; 0 = one per core.
      MaxParallel: int }

module Settings =
    /// 3 seeds per kind, the default detector, IPR factor 2, Dormand-Prince at rtol = atol = 1e-6 without the
    /// classification error (the overlay compares eps_g), one job per core.
    let defaults =
        { SeedsPerKind = 3
          Detector = DetectorSettings.defaults
          IprFactor = 2.0
          Integration = { Engine.IntegrationOptions.defaults with ClassError = false; Parallel = false }
          MaxParallel = 0 }

/// The ODE, the NLGP runs and the clone runs of one task, aligned: index i of `Times` is row i of the ODE and
/// measurement i of every run (all of them logged at step `Steps[i]`).
type Overlay =
    { Data: DataSpec
      Network: NetworkSpec
      /// The shared training specification; the runs differ from it in `Seed` and `Inputs` only.
      Training: TrainingSpec
      /// Seed of the initial weights that the ODE and every run start from.
      InitSeed: int
      /// Sample seeds of the NLGP runs and of the clone runs (disjoint, so that the two groups are independent).
      NlgpSeeds: int[]
      CloneSeeds: int[]
      /// Aligned times (steps / D) and steps: the simulator's logging grid, as far as every part got.
      Times: float[]
      Steps: int64[]
      Ode: Engine.Integration
      OdeModes: int
      OdeStates: int
      Nlgp: SimulationResult[]
      Clone: SimulationResult[]
      /// eps_g that the Gaussian equivalence predicts at each run's own order parameters (Q, v, b), per run and
      /// aligned time (`Engine.nlgpErrorAt`).
      NlgpGaussian: float[][]
      CloneGaussian: float[][]
      /// Sampling variance of each run's test-set measurement of eps_g (`TestSetNoise.variance`), per run and time.
      NlgpTestVariance: float[][]
      CloneTestVariance: float[][]
      Warnings: string list }

    member o.Length = o.Times.Length

    /// Every run of both kinds.
    member o.Runs = Array.append o.Nlgp o.Clone

/// Sample seeds of the runs of one kind: NLGP `Seed .. Seed + n - 1`, clone `Seed + n .. Seed + 2n - 1`. Runs of
/// the same sample seed draw the same normals for both kinds (the samplers share the stream), which would couple the
/// two groups; disjoint seeds keep them independent, as the detector's two-sample statistic assumes.
let seedsOf (training: TrainingSpec) (n: int) (kind: InputKind) =
    let first = int64 training.Seed + (if kind = InputKind.Nlgp then 0L else int64 n)
    if first + 2L * int64 n - 1L > int64 Int32.MaxValue then
        raise (SpecException("--seed", sprintf "SEED + 2 SEEDS - 1 must be at most %d" Int32.MaxValue))
    Array.init n (fun i -> int (first + int64 i))

/// Lattice exponent of the test-set variance (2^12 points; it sets a noise scale, so a few per cent suffice).
[<Literal>]
let TestLattice = 12

type private Job =
    | OdeJob of task: int
    | SgdJob of task: int * kind: InputKind * index: int

/// Runs the overlays of several tasks (for example a gain sweep) as one pool of parallel jobs: per task one ODE and
/// `SeedsPerKind` SGD runs on each input kind, all from the initial weights of `training.InitialWeightsSeed`.
/// `report task job fraction` receives progress (job 0 = the ODE, 1..n the NLGP runs, n+1..2n the clone runs; it
/// must be thread-safe). Cancellation stops every job; what was measured is kept and aligned.
let runMany (tasks: DataSpec[]) (network: NetworkSpec) (training: TrainingSpec) (settings: Settings)
            (report: int -> int -> float -> unit) (cancellation: CancellationToken) : Overlay[] =
    let n = settings.SeedsPerKind
    if n < 2 then invalidArg "settings" "SeedsPerKind must be at least 2 (the clone runs' spread is the noise scale)"
    DetectorSettings.validate settings.Detector |> ignore
    let initSeed = training.InitialWeightsSeed
    let nlgpSeeds = seedsOf training n InputKind.Nlgp
    let cloneSeeds = seedsOf training n InputKind.Gp
    let samplers = tasks |> Array.map (fun d -> Lazy<NlgpTask>((fun () -> NlgpTask d), LazyThreadSafetyMode.ExecutionAndPublication))
    let steps = tasks |> Array.map (fun d -> Schedule(training, d.D).LogSteps)
    let odes = Array.zeroCreate<(Engine.NlgpProblem * Engine.Integration) option> tasks.Length
    let nlgp = Array.init tasks.Length (fun _ -> Array.zeroCreate<SimulationResult> n)
    let clone = Array.init tasks.Length (fun _ -> Array.zeroCreate<SimulationResult> n)
    let nlgpGe = Array.init tasks.Length (fun _ -> Array.zeroCreate<float[]> n)
    let cloneGe = Array.init tasks.Length (fun _ -> Array.zeroCreate<float[]> n)
    let nlgpTv = Array.init tasks.Length (fun _ -> Array.zeroCreate<float[]> n)
    let cloneTv = Array.init tasks.Length (fun _ -> Array.zeroCreate<float[]> n)
    let errors = Collections.Concurrent.ConcurrentQueue<ExceptionDispatchInfo>()
    let activation = Activation.ofSpec network
    // The SGD runs (long) first, the ODEs (seconds) last, so that a pool of few cores finishes them together.
    let jobs =
        [| for t in 0 .. tasks.Length - 1 do
               for i in 0 .. n - 1 do
                   yield SgdJob(t, InputKind.Nlgp, i)
                   yield SgdJob(t, InputKind.Gp, i)
           for t in 0 .. tasks.Length - 1 do
               yield OdeJob t |]
    let execute job =
        try
            match job with
            | OdeJob t ->
                let spec = training.ForRun(training.Seed, InputKind.Nlgp, initSeed)
                let problem = Engine.nlgpProblem tasks[t] network spec QuadratureSettings.defaults true
                let grid = steps[t] |> Array.map (fun s -> float s / float tasks[t].D)
                let options = { settings.Integration with Progress = report t 0; Cancellation = cancellation }
                let result = Engine.integrateSystem problem.System problem.Initial grid options
                report t 0 1.0
                odes[t] <- Some(problem, result)
            | SgdJob(t, kind, i) ->
                let seed = (if kind = InputKind.Nlgp then nlgpSeeds else cloneSeeds)[i]
                let bar = if kind = InputKind.Nlgp then 1 + i else 1 + n + i
                let spec = training.ForRun(seed, kind, initSeed)
                let result =
                    SimulationRun.Run(samplers[t].Value, network, spec, null, (fun f -> report t bar f), cancellation)
                // SCIENCE.md's sharper diagnostic: the Gaussian-equivalent error at the run's own order parameters.
                let ge =
                    result.Points
                    |> Seq.map (fun m -> fst (Engine.nlgpErrorAt activation QuadratureSettings.defaults 0 m.OrderParameters))
                    |> Array.ofSeq
                // The sampling variance of the run's test-set measurement at its own order parameters.
                let tv =
                    result.Points
                    |> Seq.map (fun m -> TestSetNoise.variance activation TestLattice spec.TestSize m.OrderParameters)
                    |> Array.ofSeq
                if kind = InputKind.Nlgp then
                    nlgp[t][i] <- result
                    nlgpGe[t][i] <- ge
                    nlgpTv[t][i] <- tv
                else
                    clone[t][i] <- result
                    cloneGe[t][i] <- ge
                    cloneTv[t][i] <- tv
        with e ->
            errors.Enqueue(ExceptionDispatchInfo.Capture e)
    let options = ParallelOptions(MaxDegreeOfParallelism = (if settings.MaxParallel > 0 then settings.MaxParallel else Environment.ProcessorCount))
    Parallel.ForEach(jobs, options, (fun job -> execute job)) |> ignore
    match errors.TryDequeue() with
    | true, e -> e.Throw()
    | _ -> ()
    Array.init tasks.Length (fun t ->
        let problem, ode = odes[t].Value
        let runs = Array.append nlgp[t] clone[t]
        // Align: every part has the rows up to the shortest one (a diverged or interrupted part is shorter).
        let length = runs |> Array.fold (fun l r -> min l r.Points.Count) (min ode.Rows.Length steps[t].Length)
        for r in runs do
            for i in 0 .. length - 1 do
                let logged = r.Points[i].Step
                let expected = steps[t].[i]
                if logged <> expected then
                    failwithf "internal: seed %d logged step %d where the grid has %d" r.Seed logged expected
        let cut (xs: float[]) = Array.sub xs 0 length
        { Data = tasks[t]
          Network = network
          Training = training.ForRun(training.Seed, InputKind.Nlgp, initSeed)
          InitSeed = initSeed
          NlgpSeeds = nlgpSeeds
          CloneSeeds = cloneSeeds
          Times = Array.init length (fun i -> float steps[t].[i] / float tasks[t].D)
          Steps = Array.sub steps[t] 0 length
          Ode = ode
          OdeModes = problem.Groups.Count
          OdeStates = problem.States
          Nlgp = nlgp[t]
          Clone = clone[t]
          NlgpGaussian = nlgpGe[t] |> Array.map cut
          CloneGaussian = cloneGe[t] |> Array.map cut
          NlgpTestVariance = nlgpTv[t] |> Array.map cut
          CloneTestVariance = cloneTv[t] |> Array.map cut
          Warnings = problem.Warnings @ ode.Warnings })

/// One overlay (`runMany` with one task).
let run (data: DataSpec) (network: NetworkSpec) (training: TrainingSpec) (settings: Settings)
        (report: int -> float -> unit) (cancellation: CancellationToken) : Overlay =
    (runMany [| data |] network training settings (fun _ job f -> report job f) cancellation)[0]

// ---------------------------------------------------------------------------------------------------------------
// Series on the aligned grid.

/// A measured quantity of each run at the aligned times, `[run][i]`.
let series (o: Overlay) (runs: SimulationResult[]) (f: NetworkMeasurement -> float) : float[][] =
    runs |> Array.map (fun r -> Array.init o.Length (fun i -> f r.Points[i]))

let private populationMean (members: int[]) (f: int -> float) =
    if members.Length = 0 then nan
    else
        let mutable s = 0.0
        for k in members do
            s <- s + f k
        s / float members.Length

/// The populations of hidden units present (pos and neg with biases, zero without) with their members.
let populations (o: Overlay) =
    Populations.Present o.Network |> Array.map (fun p -> p, Populations.Members(o.Network, p))

/// Population mean of the IPR.
let ipr (members: int[]) (m: NetworkMeasurement) = populationMean members (fun k -> m.Ipr[k])

/// Population mean of the pre-activation excess kurtosis (the average of the two classes', as `simulate` writes it).
let kurtosis (members: int[]) (m: NetworkMeasurement) =
    populationMean members (fun k -> 0.5 * (m.Test.Kurtosis[0][k] + m.Test.Kurtosis[1][k]))

/// Population mean of the diagonal of Q^a (the squared length of the weights in the metric of class a).
let qDiagonal (a: int) (members: int[]) (op: OrderParameters) = populationMean members (fun k -> op.Qkl(a, k, k))

/// Population mean of the biases.
let bias (members: int[]) (op: OrderParameters) = populationMean members (fun k -> op.B[k])

/// eps_g of the ODE at the aligned times.
let odeEpsG (o: Overlay) = Array.init o.Length (fun i -> o.Ode.Rows[i].EpsG)

/// measured eps_g minus the Gaussian-equivalent eps_g at the run's own order parameters, `[run][i]`.
let gap (o: Overlay) (runs: SimulationResult[]) (gaussian: float[][]) =
    let eps = series o runs (fun m -> m.Test.EpsG)
    Array.map2 (Array.map2 (-)) eps gaussian

// ---------------------------------------------------------------------------------------------------------------
// The breakdown report.

/// The noise of the eps_g comparisons at each aligned time (see `Breakdown.Noise`): the run-to-run variance is
/// that of the clone runs' exact population errors (the Gaussian-equivalent eps_g at their own order parameters is
/// exact for Gaussian inputs, so it carries the SGD noise without the test-set noise), pooled over
/// `WindowDecades`; the measurement variances are the runs' test-set sampling variances (mean over runs).
let epsNoise (settings: Settings) (o: Overlay) : Noise =
    { RunToRun = pooledVariance settings.Detector o.Times o.CloneGaussian
      ReferenceMeasurement = mean o.CloneTestVariance
      OtherMeasurement = mean o.NlgpTestVariance }

/// The noise of the gap comparison: measured minus Gaussian-equivalent eps_g at a run's own order parameters has no
/// SGD part when the Gaussian equivalence holds, only the test-set sampling noise.
let gapNoise (o: Overlay) : Noise =
    { RunToRun = Array.zeroCreate o.Length
      ReferenceMeasurement = mean o.CloneTestVariance
      OtherMeasurement = mean o.NlgpTestVariance }

/// The clone's largest relative departure from the ODE.
type CloneDeparture =
    { Index: int
      Time: float
      Ode: float
      Clone: float
      /// (clone mean - ODE) / ODE.
      Relative: float
      /// (clone mean - ODE) over the standard error of the clone mean (`Breakdown.zAgainstCurve`).
      Z: float }

/// What `breakdown.json` holds.
type Report =
    { /// NLGP mean eps_g against the clone runs' mean, per aligned time (`Breakdown.zScoresWith`, `epsNoise`).
      EpsZ: float[]
      /// Where the NLGP eps_g first leaves the clone band persistently (`Breakdown.firstPersistent`).
      Breakdown: Departure option
      /// The same for the gap measured - Gaussian-equivalent eps_g at the runs' own order parameters (`gapNoise`).
      GapZ: float[]
      GapBreakdown: Departure option
      /// Each clone run's gap over its test-set standard deviation, root mean square over runs and times: 1 when
      /// the noise model is right (the clone's measured error is its exact error plus test-set noise).
      CloneGapRms: float
      /// The population whose final NLGP mean IPR exceeds the clone's most (the localising one, if any).
      LocalisedPopulation: string
      IprInitial: float
      /// When that population's mean NLGP IPR reaches `IprFactor` times its initial value for good.
      IprRise: (int * float) option
      /// The same for the clone runs (expected: never).
      CloneIprRise: (int * float) option
      CloneDeparture: CloneDeparture
      /// z of the clone mean against the ODE per aligned time.
      CloneOdeZ: float[]
      /// Where the clone mean first leaves the ODE persistently (the finite-size offset of SCIENCE.md section 4).
      CloneLeavesOde: Departure option
      /// Where the NLGP mean first leaves the ODE persistently (the clone runs' run-to-run spread as the SGD noise).
      NlgpLeavesOde: Departure option }

/// The breakdown report of an overlay.
let report (settings: Settings) (o: Overlay) : Report =
    if o.Length < 1 then invalidArg "o" "the overlay has no aligned time"
    let det = settings.Detector
    let t = o.Times
    let epsN = series o o.Nlgp (fun m -> m.Test.EpsG)
    let epsC = series o o.Clone (fun m -> m.Test.EpsG)
    let noise = epsNoise settings o
    let epsZ = zScoresWith noise epsC epsN
    let gapC = gap o o.Clone o.CloneGaussian
    let gapZ = zScoresWith (gapNoise o) gapC (gap o o.Nlgp o.NlgpGaussian)
    let cloneGapRms =
        let mutable s = 0.0
        let mutable c = 0
        for r in 0 .. gapC.Length - 1 do
            for i in 0 .. o.Length - 1 do
                let v = o.CloneTestVariance[r][i]
                if v > 0.0 then
                    s <- s + gapC[r][i] * gapC[r][i] / v
                    c <- c + 1
        if c = 0 then nan else sqrt (s / float c)
    let iprMean runs members = mean (series o runs (ipr members))
    // The localising population: the one whose final NLGP IPR exceeds the clone's most (the clone does not localise).
    let name, nlgpIpr, cloneIpr, _ =
        populations o
        |> Array.map (fun (p, members) ->
            let n = iprMean o.Nlgp members
            let c = iprMean o.Clone members
            p, n, c, n[n.Length - 1] / c[c.Length - 1])
        |> Array.maxBy (fun (_, _, _, g) -> if Double.IsNaN g then -infinity else g)
    let ode = odeEpsG o
    let cloneMean = mean epsC
    let cloneZ = zAgainstCurve noise.RunToRun noise.ReferenceMeasurement epsC ode
    let nlgpZ = zAgainstCurve noise.RunToRun noise.OtherMeasurement epsN ode
    let worst =
        [| 0 .. o.Length - 1 |]
        |> Array.maxBy (fun i -> let r = abs (cloneMean[i] - ode[i]) / abs ode[i] in if Double.IsNaN r then -1.0 else r)
    { EpsZ = epsZ
      Breakdown = firstPersistent det t epsZ
      GapZ = gapZ
      GapBreakdown = firstPersistent det t gapZ
      CloneGapRms = cloneGapRms
      LocalisedPopulation = name
      IprInitial = nlgpIpr[0]
      IprRise = riseTime settings.IprFactor t nlgpIpr
      CloneIprRise = riseTime settings.IprFactor t cloneIpr
      CloneDeparture =
        { Index = worst
          Time = t[worst]
          Ode = ode[worst]
          Clone = cloneMean[worst]
          Relative = (cloneMean[worst] - ode[worst]) / ode[worst]
          Z = cloneZ[worst] }
      CloneOdeZ = cloneZ
      CloneLeavesOde = firstPersistent det t cloneZ
      NlgpLeavesOde = firstPersistent det t nlgpZ }

// ---------------------------------------------------------------------------------------------------------------
// Tables and JSON.

let private kinds (o: Overlay) = [| "clone", o.Clone; "nlgp", o.Nlgp |]

/// Columns of `overlay.csv` for an overlay's populations.
let overlayColumns (o: Overlay) =
    let pops = populations o |> Array.map fst
    [| yield! [ "t"; "step"; "eps_g_ode" ]
       for kind in [ "clone"; "nlgp" ] do
           for s in [ "mean"; "sd"; "min"; "max" ] do
               yield sprintf "eps_g_%s_%s" kind s
       yield! [ "sd_sgd"; "sd_test_clone"; "sd_test_nlgp"; "z_nlgp_clone"; "z_clone_ode" ]
       yield! [ "eps_g_gaussian_clone"; "eps_g_gaussian_nlgp" ]
       yield! [ "gap_clone_mean"; "gap_clone_sd"; "gap_nlgp_mean"; "gap_nlgp_sd"; "z_gap" ]
       for p in pops do
           for kind in [ "clone"; "nlgp" ] do
               yield sprintf "ipr_%s_%s" p kind
       for p in pops do
           for kind in [ "clone"; "nlgp" ] do
               yield sprintf "kurtosis_%s_%s" p kind
       for a in 0 .. 1 do
           for p in pops do
               for kind in [ "ode"; "clone"; "nlgp" ] do
                   yield sprintf "q%d_%s_%s" a p kind
       for p in pops do
           for kind in [ "ode"; "clone"; "nlgp" ] do
               yield sprintf "b_%s_%s" p kind |]

/// `overlay.csv`: one row per aligned time (columns of `overlayColumns`): eps_g of the ODE; mean, standard
/// deviation, minimum and maximum of the measured eps_g over the clone and NLGP runs; the noise scales (run-to-run
/// SGD spread, one run's test-set sampling error per kind) and the z of NLGP against clone and of clone against
/// the ODE; the Gaussian-equivalent eps_g at the runs' own order parameters (mean) and the gap measured -
/// Gaussian-equivalent (mean, sd) with its z; per population P the mean IPR and pre-activation excess kurtosis of
/// each kind; the mean diagonal of Q^a and the mean bias per population for the ODE and each kind (run means).
let overlayTable (settings: Settings) (o: Overlay) (r: Report) =
    let table = CsvTable(overlayColumns o)
    let pops = populations o
    let noise = epsNoise settings o
    let eps = kinds o |> Array.map (fun (_, runs) -> band (series o runs (fun m -> m.Test.EpsG)))
    let ge = [| mean o.CloneGaussian; mean o.NlgpGaussian |]
    let gaps = [| band (gap o o.Clone o.CloneGaussian); band (gap o o.Nlgp o.NlgpGaussian) |]
    let perPop (f: int[] -> NetworkMeasurement -> float) =
        pops |> Array.map (fun (_, members) -> kinds o |> Array.map (fun (_, runs) -> mean (series o runs (f members))))
    let iprs = perPop ipr
    let kurt = perPop kurtosis
    let opColumns (f: int[] -> OrderParameters -> float) =
        pops
        |> Array.map (fun (_, members) ->
            [| Array.init o.Length (fun i -> f members o.Ode.Rows[i].Order)
               mean (series o o.Clone (fun m -> f members m.OrderParameters))
               mean (series o o.Nlgp (fun m -> f members m.OrderParameters)) |])
    let q = Array.init 2 (fun a -> opColumns (qDiagonal a))
    let b = opColumns bias
    for i in 0 .. o.Length - 1 do
        table.Add(o.Times[i]).Add(o.Steps[i]).Add(o.Ode.Rows[i].EpsG) |> ignore
        for e in eps do
            table.Add(e.Mean[i]).Add(e.Sd[i]).Add(e.Min[i]).Add(e.Max[i]) |> ignore
        table.Add(sqrt noise.RunToRun[i]).Add(sqrt noise.ReferenceMeasurement[i]).Add(sqrt noise.OtherMeasurement[i]) |> ignore
        table.Add(r.EpsZ[i]).Add(r.CloneOdeZ[i]).Add(ge[0][i]).Add(ge[1][i]) |> ignore
        table.Add(gaps[0].Mean[i]).Add(gaps[0].Sd[i]).Add(gaps[1].Mean[i]).Add(gaps[1].Sd[i]).Add(r.GapZ[i]) |> ignore
        for block in [ iprs; kurt ] do
            for p in block do
                for k in p do
                    table.Add(k[i]) |> ignore
        for a in 0 .. 1 do
            for p in q[a] do
                for k in p do
                    table.Add(k[i]) |> ignore
        for p in b do
            for k in p do
                table.Add(k[i]) |> ignore
        table.EndRow() |> ignore
    table

/// `runs.csv`: one row per SGD run and aligned time: kind (nlgp or clone), seed, step, t, eps_g, the
/// Gaussian-equivalent eps_g at the run's own order parameters, the standard deviation of the test-set measurement,
/// accuracy, and per population the mean IPR and pre-activation excess kurtosis.
let runsTable (o: Overlay) =
    let pops = populations o
    let columns =
        [| yield! [ "kind"; "seed"; "step"; "t"; "eps_g"; "eps_g_gaussian"; "eps_g_test_sd"; "accuracy" ]
           for p, _ in pops do
               yield sprintf "ipr_%s" p
           for p, _ in pops do
               yield sprintf "kurtosis_%s" p |]
    let table = CsvTable columns
    for kind, runs, gaussian, tv in [ "nlgp", o.Nlgp, o.NlgpGaussian, o.NlgpTestVariance; "clone", o.Clone, o.CloneGaussian, o.CloneTestVariance ] do
        for r in 0 .. runs.Length - 1 do
            for i in 0 .. o.Length - 1 do
                let m = runs[r].Points[i]
                table.Add(kind).Add(int64 runs[r].Seed).Add(m.Step).Add(m.T).Add(m.Test.EpsG).Add(gaussian[r][i])
                    .Add(sqrt tv[r].[i]).Add(m.Test.Accuracy) |> ignore
                for _, members in pops do
                    table.Add(ipr members m) |> ignore
                for _, members in pops do
                    table.Add(kurtosis members m) |> ignore
                table.EndRow() |> ignore
    table

let private number (x: float) : JsonNode = JsonValue.Create x
let private timeOf (x: (int * float) option) : JsonNode = match x with Some(_, t) -> number t | None -> null

let private departure (d: Departure option) : JsonNode =
    match d with
    | None -> null
    | Some d ->
        let j = JsonObject()
        j["t"] <- number d.Time
        j["z"] <- number d.Z
        j["peak_z"] <- number d.PeakZ
        j

/// The statistic, in words (written into breakdown.json).
let describeDetector (s: DetectorSettings) =
    sprintf
        "z = (NLGP mean - clone mean) / standard error; variance = V (1/n_clone + 1/n_nlgp) + m_clone / n_clone + m_nlgp / n_nlgp, V = run-to-run variance of the clone runs' exact errors (pooled within %g decades of t), m = test-set sampling variance; breakdown = first of %d consecutive grid times with |z| at least %g and one sign"
        s.WindowDecades s.Persistence s.Threshold

/// `breakdown.json`: the report with the headline numbers at the final aligned time.
let reportJson (settings: Settings) (o: Overlay) (r: Report) : JsonObject =
    let j = JsonObject()
    let last = o.Length - 1
    j["gain"] <- number o.Data.Gain
    j["t_final"] <- number o.Times[last]
    j["init_seed"] <- JsonValue.Create o.InitSeed
    j["nlgp_seeds"] <- Json.ToNode o.NlgpSeeds
    j["clone_seeds"] <- Json.ToNode o.CloneSeeds
    let det = JsonObject()
    det["statistic"] <- JsonValue.Create(describeDetector settings.Detector)
    det["threshold"] <- number settings.Detector.Threshold
    det["persistence"] <- JsonValue.Create settings.Detector.Persistence
    det["window_decades"] <- number settings.Detector.WindowDecades
    j["detector"] <- det
    j["breakdown_time"] <- (match r.Breakdown with Some d -> number d.Time | None -> null)
    j["breakdown"] <- departure r.Breakdown
    j["gap_breakdown_time"] <- (match r.GapBreakdown with Some d -> number d.Time | None -> null)
    j["gap_breakdown"] <- departure r.GapBreakdown
    j["clone_gap_rms"] <- number r.CloneGapRms
    j["localised_population"] <- JsonValue.Create r.LocalisedPopulation
    j["ipr_initial"] <- number r.IprInitial
    j["ipr_rise_factor"] <- number settings.IprFactor
    j["ipr_rise_time"] <- timeOf r.IprRise
    j["clone_ipr_rise_time"] <- timeOf r.CloneIprRise
    let c = JsonObject()
    c["t"] <- number r.CloneDeparture.Time
    c["eps_g_ode"] <- number r.CloneDeparture.Ode
    c["eps_g_clone"] <- number r.CloneDeparture.Clone
    c["relative"] <- number r.CloneDeparture.Relative
    c["z"] <- number r.CloneDeparture.Z
    j["clone_largest_departure_from_ode"] <- c
    j["clone_leaves_ode"] <- departure r.CloneLeavesOde
    j["nlgp_leaves_ode"] <- departure r.NlgpLeavesOde
    let final = JsonObject()
    final["eps_g_ode"] <- number o.Ode.Rows[last].EpsG
    for kind, runs, gaussian in [ "clone", o.Clone, o.CloneGaussian; "nlgp", o.Nlgp, o.NlgpGaussian ] do
        let eps = band (series o runs (fun m -> m.Test.EpsG))
        final[sprintf "eps_g_%s" kind] <- number eps.Mean[last]
        final[sprintf "eps_g_%s_sd" kind] <- number eps.Sd[last]
        final[sprintf "eps_g_gaussian_%s" kind] <- number (mean gaussian).[last]
        final[sprintf "accuracy_%s" kind] <- number (mean (series o runs (fun m -> m.Test.Accuracy))).[last]
        for p, members in populations o do
            final[sprintf "ipr_%s_%s" p kind] <- number (mean (series o runs (ipr members))).[last]
            final[sprintf "kurtosis_%s_%s" p kind] <- number (mean (series o runs (kurtosis members))).[last]
    j["final"] <- final
    j["warnings"] <- Json.ToNode(Array.ofList o.Warnings)
    j
