/// `theory integrate`: integrates the Gaussian-equivalence ODEs of the NLGP task (SCIENCE.md section 4) from the
/// simulator's initial weights for the same seed, and writes the trajectory on the simulator's logging grid.
module Theory.Cli.Commands.Integrate

open System
open System.Diagnostics
open System.IO
open Theory.Interop
open Theory.Interop.Io
open Theory.Gaussian
open Theory.Get
open Theory.Cli.Options
open Theory.Cli.Shared

/// The solver of `--solver` and its options (`--rtol --atol --dt`), validated.
let solverOf (o: Bag) (training: TrainingSpec) =
    let name = o.Get("Solver", "dp5")
    let rtol = o.Get("Rtol", 1e-6)
    let atol = o.Get("Atol", 1e-6)
    Check.InRange("--rtol", rtol, 1e-13, 0.1)
    Check.InRange("--atol", atol, 1e-15, 0.1)
    let method =
        choice "--solver" [ "dp5", Some Theory.Ode.Dopri5; "stiff", Some Theory.Ode.Stiff; "auto", Some Theory.Ode.Auto; "bdf", Some Theory.Ode.Bdf
                            "rodas5p", Some Theory.Ode.Rodas5P; "rosw", Some Theory.Ode.Ros34PW2; "euler", None ] name
    match method, o.TryGet<float> "Dt" with
    | Some _, Some _ -> raise (SpecException("--dt", "is the step of --solver euler only (the adaptive solvers choose their steps)"))
    | Some m, None ->
        Engine.Adaptive { Theory.Ode.Options.defaults with Method = m; RelTol = rtol; AbsTol = atol },
        {| solver = name; rtol = rtol; atol = atol; dt = Nullable() |}
    | None, dt ->
        let dt = defaultArg dt 0.01
        Check.Positive("--dt", dt)
        if dt > training.Time then
            raise (SpecException("--dt", sprintf "must be at most --time (%s; got %s)" (Check.Fmt training.Time) (Check.Fmt dt)))
        if training.Time / dt > 1e10 then
            raise (SpecException("--dt", sprintf "gives more than 1e10 Euler steps to T = %s" (Check.Fmt training.Time)))
        Engine.Euler dt, {| solver = name; rtol = nan; atol = nan; dt = Nullable dt |}

/// eps_g of a reference trajectory (for example a fine explicit Euler run) at the times of `rows`, and the largest
/// relative deviation max_t |eps_g - eps_ref| / eps_ref over the times both have.
let compareWith (path: string) (rows: Engine.TrajectoryRow[]) =
    let data =
        try CsvData.Read path
        with e -> raise (SpecException("--reference", sprintf "cannot read '%s' (%s)" path e.Message))
    let times, eps =
        try data.Numbers "t", data.Numbers "eps_g"
        with e -> raise (SpecException("--reference", sprintf "'%s' is not a trajectory with t and eps_g columns (%s)" path e.Message))
    let lookup = Collections.Generic.Dictionary<float, float>()
    for i in 0 .. times.Length - 1 do
        lookup[times[i]] <- eps[i]
    let mutable worst = 0.0
    let mutable count = 0
    for r in rows do
        match lookup.TryGetValue r.Time with
        | true, e when e <> 0.0 ->
            worst <- max worst (abs (r.EpsG - e) / abs e)
            count <- count + 1
        | _ -> ()
    if count = 0 then raise (SpecException("--reference", sprintf "'%s' shares no logged time with this run" path))
    worst, count

let private describe (data: DataSpec) (net: NetworkSpec) (rates: LearningRates) =
    let act = (activationNames |> List.find (fun (_, a) -> a = net.Activation) |> fst)
    let readout = (readoutNames |> List.find (fun (_, r) -> r = net.Readout) |> fst)
    sprintf "%dD L = %d (D = %d), xi = %g %g, gain %g; K = %d, %s, %s readout, bias %s; eta = %g, eta_v = %g, eta_b = %g"
        data.Dim data.Size data.D data.Xi0 data.Xi1 data.Gain net.K act readout (biasText net.BiasMode net.Bias) rates.W rates.V rates.B

/// The memory of an integration, estimated from the specifications before anything is built: the ODE state has
/// K (K + 1) / 2 entries per merged Fourier mode (at most L/2 + 1 modes on a ring, (L/2 + 1)(L/2 + 2)/2 dihedral
/// classes on a torus) plus v and b; the solver keeps a few tens of such vectors, a stiff solver a dense Jacobian
/// and two LU factors (n^2 each, one complex); every logged time keeps its order parameters.
let memoryTerms (data: DataSpec) (network: NetworkSpec) (training: TrainingSpec) (stiff: bool) =
    let h = float (data.Size / 2 + 1)
    let modes = if data.Dim = 1 then h else h * (h + 1.0) / 2.0
    let k = float network.K
    let pairs = k * (k + 1.0) / 2.0
    let n = modes * pairs + 2.0 * k
    let stateOption = if pairs > modes then "-K" else "--size"
    [ Theory.Simulation.Training.MemoryTerm(stateOption, "ODE state and solver vectors", 8.0 * 40.0 * n)
      Theory.Simulation.Training.MemoryTerm("--log-points", "logged order parameters", 16.0 * float (training.LogPoints + 1) * (2.0 * k * k + 8.0 * k + 16.0))
      Theory.Simulation.Training.MemoryTerm("--size", "task, spectra and initial weights", 8.0 * (32.0 * float data.D + 3.0 * k * float data.D))
      if stiff then Theory.Simulation.Training.MemoryTerm("--solver", "the stiff solver's dense Jacobian and LU factors", 8.0 * 4.0 * n * n) ]

let run (o: Bag) : int =
    let data = dataSpec o
    if data.Boundary = Boundary.Open then
        raise (SpecException("--open", "the Gaussian-equivalence ODEs need periodic boundaries (the Fourier-mode decomposition); drop --open"))
    let network = networkSpec o
    let training = trainingSpec o
    let solver, solverConfig = solverOf o training
    ensureMemory (memoryTerms data network training (solverConfig.solver = "stiff" || solverConfig.solver = "auto"))
    let classError = not (o.Flag "No_Class_Error")
    let reference = o.TryGet<string> "Reference"
    match reference with
    | Some path when not (File.Exists path) -> raise (SpecException("--reference", sprintf "no such file '%s'" path))
    | _ -> ()
    let dir = runDirectory o "integrate"
    let manifest = RunManifest(Seed = training.Seed)
    addConfig manifest "data" data
    addConfig manifest "network" network
    addConfig manifest "training" training
    addConfig manifest "solver" solverConfig
    execute "integrate" dir manifest (fun () ->
        let clock = Stopwatch.StartNew()
        let problem = Engine.nlgpProblem data network training QuadratureSettings.defaults true
        for w in problem.Warnings do
            eprintfn "theory integrate: warning: %s" w
        let options =
            { Engine.IntegrationOptions.defaults with
                Solver = solver
                ClassError = classError
                Cancellation = Interrupt.token () }
        let grid = TimeGrid.Of training
        let result: Engine.Integration =
            Theory.Cli.Progress.run [| "integrating the GET ODEs" |] (fun report ->
                Engine.integrateSystem problem.System problem.Initial grid { options with Progress = report 0 })
        let rows = result.Rows
        let table = Engine.trajectoryTable network.K 2 classError rows
        table.Save(dir.File "trajectory.csv")
        manifest.Files.Add "trajectory.csv"
        let wall = clock.Elapsed.TotalSeconds
        let results = manifest.Results
        results["modes"] <- Json.ToNode problem.Groups.Count
        results["ode_states"] <- Json.ToNode problem.States
        results["rhs_evaluations"] <- Json.ToNode result.Evaluations
        results["steps"] <- Json.ToNode result.Steps
        results["rejected_steps"] <- Json.ToNode result.Rejected
        results["setup_seconds"] <- Json.ToNode problem.SetupSeconds
        results["integration_seconds"] <- Json.ToNode result.Seconds
        results["warnings"] <- Json.ToNode(Array.ofList (problem.Warnings @ result.Warnings))
        let rates = LearningRates.Resolve(training, network)
        printfn "theory integrate: %s" (describe data network rates)
        printfn "  %d merged Fourier modes (of D = %d), %d ODE states" problem.Groups.Count problem.D problem.States
        match solver with
        | Engine.Adaptive ode ->
            printfn "  solver %s (rtol %g, atol %g): %d right-hand sides, %d steps (%d rejected)" solverConfig.solver ode.RelTol
                ode.AbsTol result.Evaluations result.Steps result.Rejected
        | Engine.Euler h -> printfn "  explicit Euler, dt = %g: %d right-hand sides" h result.Evaluations
        for w in result.Warnings do
            eprintfn "theory integrate: warning: %s" w
        if rows.Length > 0 then
            let last = rows[rows.Length - 1]
            results["t_final"] <- Json.ToNode last.Time
            results["eps_g_final"] <- Json.ToNode last.EpsG
            if classError then results["accuracy_final"] <- Json.ToNode(1.0 - last.ClassError)
            let accuracy = if classError then sprintf ", accuracy %.4f" (1.0 - last.ClassError) else ""
            let byClass = last.EpsGByClass
            printfn "  t = %g: eps_g = %.6f (class 0: %.6f, class 1: %.6f)%s" last.Time last.EpsG byClass.[0] byClass.[1] accuracy
            let k = network.K
            for a in 0 .. 1 do
                let q = last.Order.Q.[a]
                let diag = Array.init k (fun i -> sprintf "%.4g" q.[i * k + i]) |> String.concat " "
                printfn "  Q%d diagonal: %s" a diag
            printfn "  v: %s" (last.Order.V |> Array.map (sprintf "%.4g") |> String.concat " ")
            printfn "  b: %s" (last.Order.B |> Array.map (sprintf "%.4g") |> String.concat " ")
        match reference with
        | Some path when rows.Length > 0 ->
            let worst, count = compareWith path rows
            results["max_relative_deviation_from_reference"] <- Json.ToNode worst
            printfn "  against %s: max |eps_g - eps_ref| / eps_ref = %.3g over %d common times" path worst count
        | _ -> ()
        printfn "  wall time %.2f s (set-up %.2f s, integration %.2f s); wrote %s" wall problem.SetupSeconds result.Seconds
            (dir.File "trajectory.csv")
        if result.Interrupted then raise (OperationCanceledException())
        match result.Failure with
        | Some message -> raise (RunFailedException(message))
        | None -> ())
