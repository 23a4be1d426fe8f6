/// `theory neuron`: the gradient flow of one cubic neuron on the NLGP task, four ways (SCIENCE.md section 5):
/// full (fourth cumulant kept), Gaussian part only, on the Gaussian clone, and untruncated.
module Theory.Cli.Commands.Neuron

open System
open Theory.Interop
open Theory.Interop.Io
open Theory.Simulation.Data
open Theory.Cumulants
open Theory.SingleNeuron
open Theory.Cli.Options
open Theory.Cli.Shared

/// Defaults of the options that only the single-neuron commands have.
module Defaults =
    let flowTime = 50.0
    let momentSamples = 20_000
    let initStd = 0.1

/// The neuron from `--cubic ALPHA BETA --neuron-bias B` (shared with `theory cumulants`).
let neuronSpec (o: Bag) : NeuronSpec =
    let d = NeuronSpec.defaults
    let alpha, beta = defaultArg (o.Pair "Cubic") (d.Alpha, d.Beta)
    let b = o.Get("Neuron_Bias", d.Bias)
    Check.InRange("--cubic", alpha, -1e3, 1e3)
    Check.InRange("--cubic", beta, -1e3, 1e3)
    Check.InRange("--neuron-bias", b, -1e3, 1e3)
    { Alpha = alpha; Beta = beta; Bias = b }

let momentSamples (o: Bag) =
    let n = o.Get("Moment_Samples", Defaults.momentSamples)
    Check.InRange("--moment-samples", int64 n, 16L, 10_000_000L)
    n

let flowTime (o: Bag) =
    let t = o.Get("Flow_Time", Defaults.flowTime)
    Check.Positive("--flow-time", t)
    Check.InRange("--flow-time", t, 0.0, 1e6)
    t

let initStd (o: Bag) =
    let s = o.Get("Init_Std", Defaults.initStd)
    Check.Positive("--init-std", s)
    Check.InRange("--init-std", s, 0.0, 1e3)
    s

/// Refuses sample sets that would not fit comfortably in memory (4 bytes per value, single precision).
let checkMemory (n: int) (d: int) (sets: int) =
    let bytes = 4.0 * float n * float d * float sets
    if bytes > 8e9 then
        raise (SpecException("--moment-samples", sprintf "%d samples x D = %d x %d sets would need %.1f GB; use fewer samples" n d sets (bytes / 1e9)))

/// The integrators of `--solver`. The flows are mildly stiff (DOPRI5 is stability-limited: the Gaussian-only flow
/// takes 1152 DOPRI5 steps in 2D against 416 of the Rosenbrock-W method), and the Rosenbrock-W method keeps its
/// order with the flow's approximate Jacobian (`NeuronFlow.RhsAndJacobian`). `auto` switches DOPRI5 to Radau5 when
/// its stiffness test fires.
let solverMethods = [ "dp5", Theory.Ode.Dopri5; "rosw", Theory.Ode.Ros34PW2; "auto", Theory.Ode.Auto ]

/// The default of `--solver` (also used by `theory cumulants`): DOPRI5, faster at the default settings (README,
/// `theory neuron`): the Rosenbrock-W method of order 3 needs more evaluations at rtol 1e-6 on the sample-based
/// flows (the cumulant part of its Jacobian is only approximate) and a dense LU of order D per step.
let defaultSolver = "dp5"

/// The integrator settings of the flows: adaptive, 1e-6 relative accuracy, the default solver.
let odeOptions =
    { Theory.Ode.Options.defaults with RelTol = 1e-6; AbsTol = 1e-8; Method = snd (solverMethods |> List.find (fun (n, _) -> n = defaultSolver)) }

/// `--solver` and the integrator settings it selects.
let solverOptions (o: Bag) =
    let name = o.Get("Flow_Solver", defaultSolver)
    name, { odeOptions with Method = choice "--solver" solverMethods name }

/// Prints a warning when the neuron cannot localise or cannot stay bounded with these coefficients.
let warnCoefficients (flow: NeuronFlow) =
    if flow.C2 |> Array.forall (fun c -> c <= 0.0) then
        eprintfn "theory: warning: c2 = %g, %g <= 0 for both classes: w only decays (give the neuron a bias, see --neuron-bias)" flow.C2[0] flow.C2[1]
    elif flow.C4 >= 0.0 then
        eprintfn "theory: warning: c4 = %g >= 0: the truncated flow is not confined and the cumulant term opposes localisation (needs b^2 > 0.4 alpha/beta)" flow.C4

/// Indices of `grid` closest to `count` log-spaced times (plus the first and the last).
let snapshotIndices (grid: float[]) (count: int) =
    let last = grid.Length - 1
    let wanted =
        if count < 1 || last < 1 then [||]
        else TimeGrid.LogSpaced(grid[1], grid[last], count) |> Array.skip 1
    let nearest (t: float) = [| 1 .. last |] |> Array.minBy (fun i -> abs (log grid[i] - log t))
    Array.append [| 0; last |] (wanted |> Array.map nearest) |> Array.distinct |> Array.sort

/// `min over translations s and signs of |a - shift_s(b)| / |b|` (translations only with periodic boundaries).
let shapeDistance (g: ImageGeometry) (a: float[]) (b: float[]) =
    let L = g.Size
    let shifts =
        if g.Boundary <> Boundary.Periodic then [ 0, 0 ]
        elif g.Dim = 1 then [ for s in 0 .. L - 1 -> s, 0 ]
        else [ for sx in 0 .. L - 1 do for sy in 0 .. L - 1 -> sx, sy ]
    let norm = Array.sumBy (fun x -> x * x) b
    let shifted (sx, sy) i =
        if g.Dim = 1 then b[(i + sx) % L]
        else b[((i / L + sy) % L) * L + (i % L + sx) % L]
    shifts
    |> List.map (fun s ->
        let mutable plus = 0.0
        let mutable minus = 0.0
        for i in 0 .. a.Length - 1 do
            let y = shifted s i
            plus <- plus + (a[i] - y) * (a[i] - y)
            minus <- minus + (a[i] + y) * (a[i] + y)
        sqrt (min plus minus / norm))
    |> List.min

let private pixel (g: ImageGeometry) i = if g.Dim = 1 then i, 0 else i % g.Size, i / g.Size

let run (o: Bag) : int =
    let data = dataSpec o
    let neuron = neuronSpec o
    let seed = o.Get("Seed", 0)
    Check.InRange("--seed", int64 seed, 0L, int64 Int32.MaxValue)
    let tEnd = flowTime o
    let logPoints = o.Get("Log_Points", 100)
    Check.InRange("--log-points", int64 logPoints, 1L, 100_000L)
    let logStart = o.Get("Log_Start", 0.01)
    Check.Positive("--log-start", logStart)
    let snapshots = o.Get("Snapshots", 10)
    Check.InRange("--snapshots", int64 snapshots, 0L, 10_000L)
    let n = momentSamples o
    let std = initStd o
    let solverName, options = solverOptions o
    let variants =
        match o.TryGet<string list> "Variants" with
        | None -> Variant.all
        | Some names ->
            let parsed =
                names
                |> List.collect (fun s -> s.Split(',', StringSplitOptions.RemoveEmptyEntries) |> List.ofArray)
                |> List.map (fun s ->
                    match Variant.tryParse s with
                    | Some v -> v
                    | None -> raise (SpecException("--variants", sprintf "must be among full, gaussian, clone, exact (got '%s')" s)))
            if parsed.IsEmpty then raise (SpecException("--variants", "name at least one of full, gaussian, clone, exact"))
            Variant.all |> Array.filter (fun v -> List.contains v parsed)
    let needsNlgp = variants |> Array.exists (fun v -> v <> Clone)
    let needsClone = variants |> Array.contains Clone
    checkMemory n data.D ((if needsNlgp then 2 else 0) + (if needsClone then 2 else 0))
    let dir = runDirectory o "neuron"
    let manifest = RunManifest(Seed = seed)
    addConfig manifest "data" data
    addConfig manifest "neuron" neuron
    addConfig
        manifest
        "flow"
        {| Time = tEnd
           LogPoints = logPoints
           LogStart = logStart
           Snapshots = snapshots
           MomentSamples = n
           InitStd = std
           Variants = variants |> Array.map Variant.name
           Solver = solverName
           RelTol = options.RelTol
           AbsTol = options.AbsTol |}
    execute "neuron" dir manifest (fun () ->
        let task = NlgpTask data
        for w in task.Warnings do
            eprintfn "theory neuron: warning: %s" w
        let cancel = Interrupt.token ()
        let names = Array.append [| "samples" |] (variants |> Array.map (fun v -> "flow: " + Variant.name v))
        let trajectories, flow, meter =
            Theory.Cli.Progress.run names (fun report ->
                // The NLGP sample sets serve the full and exact flows and every measurement; the clone sets the clone flow.
                let kinds = [| InputKind.Nlgp; InputKind.Gp |] |> Array.filter (fun k -> k = InputKind.Nlgp || needsClone)
                let sets = SampleSet.drawClassesReporting task kinds n seed (report 0)
                let clone = if needsClone then sets[1] else null
                let flow = NeuronFlow(task, neuron, sets[0], clone)
                warnCoefficients flow
                let w0 = Theory.Simulation.Training.Initialisation.Weights(NetworkSpec(K = 1, InitStd = std), task.D, seed)
                let grid = TimeGrid.LogSpaced(logStart, tEnd, logPoints)
                let trajectories = ResizeArray()
                let mutable k = 0
                while k < variants.Length && not cancel.IsCancellationRequested do
                    trajectories.Add(NeuronRun.integrate options flow variants[k] w0 grid 20 (report (k + 1)) cancel)
                    k <- k + 1
                trajectories.ToArray(), flow, sets[0] |> Array.map Contraction)
        // Measurements and files: everything integrated so far, also after an interruption or a failure.
        let geometry = task.Geometry
        let trajectory =
            CsvTable([ "variant"; "t"; "ipr"; "width"; "centre_x"; "centre_y"; "norm_sq"; "field_std"; "loss"; "kurtosis" ])
        let profiles = CsvTable([ "variant"; "t"; "x"; "y"; "w" ])
        let finals = ResizeArray()
        for tr in trajectories do
            let name = Variant.name tr.Variant
            let mutable last = None
            for i in 0 .. tr.Times.Length - 1 do
                let m = NeuronRun.measure flow meter tr.Weights[i]
                trajectory.Add(name).Add(tr.Times[i]).Add(m.Profile.Ipr).Add(m.Profile.Width).Add(m.Profile.CentreX)
                    .Add(m.Profile.CentreY).Add(m.NormSquared).Add(m.FieldStd).Add(m.Loss).Add(m.Kurtosis).EndRow() |> ignore
                last <- Some(tr.Times[i], m)
            for i in snapshotIndices tr.Times snapshots do
                tr.Weights[i]
                |> Array.iteri (fun p w ->
                    let x, y = pixel geometry p
                    profiles.Add(name).Add(tr.Times[i]).Add(int64 x).Add(int64 y).Add(w).EndRow() |> ignore)
            match last with
            | Some(t, m) -> finals.Add((tr, t, m))
            | None -> ()
        trajectory.Save(dir.File "trajectory.csv")
        profiles.Save(dir.File "profiles.csv")
        manifest.Files.AddRange [ "trajectory.csv"; "profiles.csv" ]
        // How far the truncated flow is from the untruncated one on the same samples: the relative distance of the
        // final weights, minimised over translations of the image (periodic boundaries) and the sign of w, since
        // both flows are translation-equivariant in law and odd in w, and a localised field may settle at another
        // position.
        let truncation =
            match trajectories |> Array.tryFind (fun t -> t.Variant = Full), trajectories |> Array.tryFind (fun t -> t.Variant = Exact) with
            | Some f, Some e when f.Weights.Length = e.Weights.Length ->
                Some(shapeDistance geometry f.Weights[f.Weights.Length - 1] e.Weights[e.Weights.Length - 1])
            | _ -> None
        manifest.Results["coefficients"] <- Json.ToNode {| C2Class0 = flow.C2[0]; C2Class1 = flow.C2[1]; C4 = flow.C4; C6 = Coefficients.c6 neuron |}
        manifest.Results["gaussian_ipr"] <- Json.ToNode(3.0 / float (data.D + 2))
        for tr, t, m in finals do
            manifest.Results[Variant.name tr.Variant] <-
                Json.ToNode
                    {| T = t
                       Ipr = m.Profile.Ipr
                       Width = m.Profile.Width
                       Kurtosis = m.Kurtosis
                       Loss = m.Loss
                       FieldStd = m.FieldStd
                       Evaluations = tr.Evaluations
                       Outcome = sprintf "%A" tr.Outcome |}
        truncation |> Option.iter (fun x -> manifest.Results["final_shape_distance_full_exact"] <- Json.ToNode x)
        let warnings = trajectories |> Array.collect (fun t -> Array.ofList t.Warnings) |> Array.distinct
        for w in warnings do
            eprintfn "theory neuron: solver: %s" w
        printfn "single neuron, D = %d, gain %g, b = %g: c2 = %.4g (class 0), %.4g (class 1), c4 = %.4g; IPR of random weights %.4f"
            data.D data.Gain neuron.Bias flow.C2[0] flow.C2[1] flow.C4 (3.0 / float (data.D + 2))
        printTable
            [| "variant"; "t"; "IPR"; "width"; "kurtosis"; "loss"; "|w|^2/D"; "evaluations" |]
            [ for tr, t, m in finals ->
                  [| Variant.name tr.Variant; sprintf "%g" t; sprintf "%.4f" m.Profile.Ipr; sprintf "%.2f" m.Profile.Width
                     sprintf "%.3f" m.Kurtosis; sprintf "%.4f" m.Loss; sprintf "%.4f" m.NormSquared; string tr.Evaluations |] ]
        truncation |> Option.iter (fun x -> printfn "final weights, full (truncated) vs exact: relative distance %.3g (up to a translation and the sign)" x)
        printfn "written to %s" dir.Path
        if trajectories |> Array.exists (fun t -> t.Interrupted) || cancel.IsCancellationRequested then
            raise (OperationCanceledException())
        match trajectories |> Array.tryFind (fun t -> t.Outcome <> Theory.Ode.Completed) with
        | Some tr ->
            let why = match tr.Outcome with Theory.Ode.Failed m -> m | other -> sprintf "%A" other
            let hint = if flow.C4 >= 0.0 && tr.Variant <> Exact then sprintf " (c4 = %g >= 0 does not confine the weights)" flow.C4 else ""
            raise (RunFailedException(sprintf "the %s flow failed: %s%s" (Variant.name tr.Variant) why hint))
        | None -> ())
