/// `theory simulate`: online SGD of the two-layer network on NLGP images or their Gaussian clone
/// (SCIENCE.md sections 2 and 3), one or several seeds in parallel; writes the trajectory, per-unit measurements,
/// receptive fields and weight snapshots.
module Theory.Cli.Commands.Simulate

open System
open System.Text.Json.Nodes
open Theory.Interop
open Theory.Interop.Io
open Theory.Cli.Options
open Theory.Cli.Shared
open Theory.Simulation.Analysis
open Theory.Simulation.Data
open Theory.Simulation.Training

let private fmt (x: float) = if Double.IsNaN x then "nan" else x.ToString("G4", Globalization.CultureInfo.InvariantCulture)

/// Mean final IPR of each population of a run (NaN for an empty population).
let private populationIpr (run: SimulationResult) (population: string) =
    match run.Last with
    | null -> nan
    | m ->
        let members = Populations.Members(run.Network, population)
        if members.Length = 0 then nan else members |> Array.averageBy (fun k -> m.Ipr[k])

/// Progress for `seeds` parallel runs: one bar per seed up to 8 seeds, else one bar for their mean progress.
let private withProgress (label: string) (first: int) (seeds: int) (work: (int -> float -> unit) -> 'T) : 'T =
    if seeds <= 8 then
        let names = Array.init seeds (fun i -> sprintf "seed %d%s" (first + i) label)
        Theory.Cli.Progress.run names work
    else
        let fractions = Array.zeroCreate<float> seeds
        let gate = obj ()
        Theory.Cli.Progress.run [| sprintf "%d seeds%s" seeds label |] (fun report ->
            work (fun i f ->
                let mean = lock gate (fun () -> fractions[i] <- f; Array.average fractions)
                report 0 mean))

/// The tables of fully-connected runs (trajectory, units, receptive fields, weight snapshots per seed), under
/// `prefix` ("" for the run folder itself).
let writeTables (out: OutputFiles) (prefix: string) (runs: SimulationResult[]) =
    out.Write(IO.Path.Combine(prefix, "trajectory.csv"), SimulationTables.Trajectory runs)
    out.Write(IO.Path.Combine(prefix, "units.csv"), SimulationTables.Units runs)
    out.Write(IO.Path.Combine(prefix, "rf.csv"), SimulationTables.ReceptiveFields runs)
    for run in runs do
        out.Write(IO.Path.Combine(prefix, "weights", sprintf "seed_%d.csv" run.Seed), SimulationTables.Weights run)

/// Writes every table of the runs into the run folder and lists the files in the manifest.
let save (dir: RunDirectory) (manifest: RunManifest) (runs: SimulationResult[]) =
    let out = OutputFiles dir.Path
    writeTables out "" runs
    manifest.Files <- Collections.Generic.List<string>(Seq.append [ "manifest.json" ] out.Names)

/// Headline numbers of each seed for the manifest and the printed summary.
let private results (manifest: RunManifest) (runs: SimulationResult[]) =
    let perSeed = JsonArray()
    for run in runs do
        let o = JsonObject()
        o["seed"] <- JsonValue.Create run.Seed
        o["outcome"] <- JsonValue.Create(run.Outcome.ToString().ToLowerInvariant())
        o["steps"] <- JsonValue.Create run.Steps
        o["sgd_steps_per_second"] <- JsonValue.Create(if Double.IsFinite run.StepsPerSecond then run.StepsPerSecond else 0.0)
        match run.Last with
        | null -> ()
        | m ->
            o["t"] <- JsonValue.Create m.T
            o["eps_g"] <- JsonValue.Create m.Test.EpsG
            o["accuracy"] <- JsonValue.Create m.Test.Accuracy
            for p in Populations.Present run.Network do
                o["ipr_" + p] <- JsonValue.Create(populationIpr run p)
        if not (isNull run.Failure) then o["failure"] <- JsonValue.Create run.Failure
        perSeed.Add o
    manifest.Results["seeds"] <- perSeed

let private summary (runs: SimulationResult[]) =
    let net = runs[0].Network
    let pops = Populations.Present net
    let headers = Array.append [| "seed"; "t"; "eps_g"; "accuracy" |] (pops |> Array.map (fun p -> "ipr_" + p))
    let headers = Array.append headers [| "localised"; "steps/s" |]
    let rows =
        [ for run in runs ->
              match run.Last with
              | null -> Array.append [| string run.Seed |] (Array.create (headers.Length - 1) "-")
              | m ->
                  let iprs = pops |> Array.map (populationIpr run)
                  let best = if pops.Length > 1 then pops[Array.IndexOf(iprs, Array.max iprs)] else "-"
                  Array.concat
                      [ [| string run.Seed; fmt m.T; fmt m.Test.EpsG; fmt m.Test.Accuracy |]
                        iprs |> Array.map fmt
                        [| best; sprintf "%.0f" run.StepsPerSecond |] ] ]
    printTable headers rows
    printfn "(ipr_P: mean IPR of the units with initial bias of sign P; i.i.d. Gaussian weights give %s; localised: the population with the larger mean IPR)"
        (fmt (ReceptiveField.GaussianIpr runs[0].Data.D))

/// The convolutional baseline: trains, saves trajectory, units and filters, and compares with `--compare`.
let private runConvolution (dir: RunDirectory) (manifest: RunManifest) (data: DataSpec) (network: NetworkSpec)
                           (training: TrainingSpec) (seeds: int) (kernel: int)
                           (fields: LocalisedField list option) =
    let task = NlgpTask data
    for w in task.Warnings do
        eprintfn "theory simulate: warning: %s" w
    let runs =
        withProgress " (conv)" training.Seed seeds (fun report ->
            ConvolutionRun.RunSeeds(task, network, training, kernel, seeds, (fun i f -> report i f), Interrupt.token ()))
    let out = OutputFiles dir.Path
    out.Write("trajectory.csv", ConvolutionRun.Trajectory runs)
    out.Write("units.csv", ConvolutionRun.Units runs)
    for r in runs do
        out.Write(IO.Path.Combine("weights", sprintf "seed_%d.csv" r.Seed), ConvolutionRun.Filters r)
    let perSeed = JsonArray()
    let rows =
        [ for r in runs ->
              let o = JsonObject()
              o["seed"] <- JsonValue.Create r.Seed
              o["outcome"] <- JsonValue.Create(r.Outcome.ToString().ToLowerInvariant())
              o["steps"] <- JsonValue.Create r.Steps
              match Seq.tryLast r.Points with
              | Some m ->
                  o["eps_g"] <- JsonValue.Create m.Test.EpsG
                  o["accuracy"] <- JsonValue.Create m.Test.Accuracy
                  perSeed.Add o
                  [| string r.Seed; fmt m.T; fmt m.Test.EpsG; fmt m.Test.Accuracy; fmt (Array.average m.FilterIpr)
                     sprintf "%.0f" r.StepsPerSecond |]
              | None ->
                  perSeed.Add o
                  [| string r.Seed; "-"; "-"; "-"; "-"; "-" |] ]
    manifest.Results["seeds"] <- perSeed
    printTable [| "seed"; "t"; "eps_g"; "accuracy"; "filter_ipr"; "steps/s" |] rows
    match fields with
    | None -> ()
    | Some fields ->
        // Each localised fully-connected receptive field against the filters of every conv seed: learned filters,
        // and the same seed's initial filters as the chance level.
        let geometry = task.Geometry
        let table = CsvTable([ "fc_seed"; "fc_unit"; "conv_seed"; "filter"; "shift_x"; "shift_y"; "ncc"; "ncc_initial" ])
        let learned = ResizeArray()
        let initial = ResizeArray()
        for f in fields do
            for r in runs do
                if r.Snapshots.Count > 0 then
                    let m = FilterMatch.Best(ReadOnlySpan f.W, geometry, ReadOnlySpan r.Snapshots[r.Snapshots.Count - 1].W, kernel)
                    let m0 = FilterMatch.Best(ReadOnlySpan f.W, geometry, ReadOnlySpan r.InitialFilters, kernel)
                    table.Add(int64 f.Seed).Add(int64 f.Unit).Add(int64 r.Seed).Add(int64 m.Filter).Add(int64 m.ShiftX)
                        .Add(int64 m.ShiftY).Add(m.Ncc).Add(m0.Ncc).EndRow() |> ignore
                    learned.Add(abs m.Ncc)
                    initial.Add(abs m0.Ncc)
        out.Write("compare.csv", table)
        if learned.Count > 0 then
            let mean (xs: ResizeArray<float>) = Seq.average xs
            manifest.Results["compare_mean_abs_ncc"] <- JsonValue.Create(mean learned)
            manifest.Results["compare_mean_abs_ncc_initial"] <- JsonValue.Create(mean initial)
            printfn "%d localised fc receptive fields: best |normalised cross-correlation| with a learned filter %s on average (initial filters %s; 1 = identical shape with nothing outside the window)"
                fields.Length (fmt (mean learned)) (fmt (mean initial))
        else
            printfn "no localised receptive fields in the --compare run (rf.csv has none with localised = 1)"
    manifest.Files <- Collections.Generic.List<string>(Seq.append [ "manifest.json" ] out.Names)
    printfn "results in %s" dir.Path
    match runs |> Array.tryFind (fun r -> r.Outcome = SimulationOutcome.Diverged) with
    | Some r -> raise (RunFailedException(sprintf "seed %d %s" r.Seed r.Failure, r.FailedStep))
    | None -> ()
    if runs |> Array.exists (fun r -> r.Outcome = SimulationOutcome.Cancelled) then
        raise (OperationCanceledException())

/// The folder of a run's checkpoint files (one per seed).
let checkpointFolder (dir: RunDirectory) = dir.File "checkpoints"

/// The fully-connected runs: trains (resuming from checkpoints per `policy`), saves every table, records the
/// headline numbers, prints the summary, and raises for divergence or interruption (see `execute`).
let private runFullyConnected (dir: RunDirectory) (manifest: RunManifest) (data: DataSpec) (network: NetworkSpec)
                              (training: TrainingSpec) (seeds: int) (policy: CheckpointPolicy) =
    let task = NlgpTask data
    for w in task.Warnings do
        eprintfn "theory simulate: warning: %s" w
    let runs =
        withProgress "" training.Seed seeds (fun report ->
            SimulationRun.RunSeeds(task, network, training, seeds, (fun i f -> report i f), Interrupt.token (), checkpoint = policy))
    save dir manifest runs
    results manifest runs
    if runs |> Array.exists (fun r -> r.ResumedFromStep >= 0L) then
        manifest.Results["resumed_from_step"] <- Json.ToNode(runs |> Array.map (fun r -> r.ResumedFromStep))
    manifest.Results["peak_working_set_mb"] <- JsonValue.Create(float (Diagnostics.Process.GetCurrentProcess().PeakWorkingSet64) / 1048576.0)
    summary runs
    printfn "results in %s" dir.Path
    match runs |> Array.tryFind (fun r -> r.Outcome = SimulationOutcome.Diverged) with
    | Some r -> raise (RunFailedException(sprintf "seed %d %s" r.Seed r.Failure, r.FailedStep))
    | None -> ()
    if runs |> Array.exists (fun r -> r.Outcome = SimulationOutcome.Cancelled) then
        eprintfn "theory simulate: checkpoints saved; continue with: theory simulate --resume %s" dir.Path
        raise (OperationCanceledException())

/// Removes the checkpoints of a run that completed (its tables hold everything; the manifest says completed).
let private dropCheckpoints (dir: RunDirectory) =
    let folder = checkpointFolder dir
    try
        if IO.Directory.Exists folder then IO.Directory.Delete(folder, true)
    with e ->
        eprintfn "theory simulate: warning: could not remove %s (%s)" folder e.Message

/// `--checkpoint-every T`: validated, 0 when absent.
let private checkpointEvery (o: Bag) =
    match o.TryGet<float> "Checkpoint_Every" with
    | Some t ->
        Check.Positive("--checkpoint-every", t)
        Check.InRange("--checkpoint-every", t, 0.0, 1e9)
        t
    | None -> 0.0

/// Refuses a run whose memory (test sets, measurements, snapshots, tables) would not fit.
let private checkMemory (data: DataSpec) (network: NetworkSpec) (training: TrainingSpec) (seeds: int) =
    ensureMemory (List.ofArray (ResourceEstimate.Simulation(data, network, training, seeds, Environment.ProcessorCount)))

/// A section of a manifest's configuration, read back.
let private configSection<'T> (manifest: RunManifest) (key: string) (path: string) : 'T =
    match manifest.Config[key] with
    | null -> raise (SpecException("--resume", sprintf "'%s' has no '%s' in its configuration" path key))
    | node ->
        try Text.Json.JsonSerializer.Deserialize<'T>(node, Json.Options)
        with e -> raise (SpecException("--resume", sprintf "the '%s' configuration in '%s' is unreadable (%s)" key path (firstLine e.Message)))

/// `theory simulate --resume DIR`: continues an interrupted (or killed) run from its checkpoints; the output is
/// bitwise what the run would have written had it never stopped.
let private resume (o: Bag) (path: string) : int =
    for case in o.Given do
        if case <> "Resume" && case <> "Checkpoint_Every" then
            raise (SpecException("--resume", sprintf "takes no other option than --checkpoint-every: the configuration is the run's own (got %s)" (flagOf case)))
    let manifestPath = IO.Path.Combine(path, "manifest.json")
    if not (IO.File.Exists manifestPath) then
        raise (SpecException("--resume", sprintf "'%s' has no manifest.json (give the --out folder of a theory simulate run)" path))
    let old =
        try Json.Load<RunManifest> manifestPath
        with e -> raise (SpecException("--resume", sprintf "cannot read '%s' (%s)" manifestPath (firstLine e.Message)))
    if old.Command <> "simulate" then
        raise (SpecException("--resume", sprintf "'%s' holds a '%s' run, not a simulate run" path old.Command))
    let model = match old.Config["model"] with null -> "fc" | m -> m.ToString()
    if model <> "fc" then
        raise (SpecException("--resume", "the convolutional baseline (--model conv) keeps no checkpoints; run it again"))
    let data = (configSection<DataSpec> old "data" path).Validate()
    let network = (configSection<NetworkSpec> old "network" path).Validate()
    let training = (configSection<TrainingSpec> old "training" path).Validate()
    let seeds = configSection<int> old "seeds" path
    Check.InRange("--seeds", int64 seeds, 1L, 100000L)
    let every =
        if o.Has "Checkpoint_Every" then checkpointEvery o
        else match old.Config["checkpoint_every"] with null -> 0.0 | n -> n.GetValue<float>()
    if old.Status = "completed" then
        printfn "theory simulate: %s is already completed; nothing to resume" path
        0
    else
        let dir = RunDirectory.Prepare(path, "--resume")
        dir.RemoveStaleTemporaryFiles() |> ignore
        let policy = CheckpointPolicy(checkpointFolder dir, every, resume = true)
        // Damaged checkpoints, or checkpoints of another configuration, are refused before any work.
        for i in 0 .. seeds - 1 do
            let file = policy.PathOf(training.Seed + i)
            if IO.File.Exists file then
                try SimulationCheckpoint.Load(file, SimulationCheckpoint.Fingerprint(data, network, training, training.Seed + i)) |> ignore
                with :? IO.InvalidDataException as e -> raise (SpecException("--resume", e.Message))
        checkMemory data network training seeds
        let manifest = RunManifest(Seed = training.Seed, Config = Text.Json.Nodes.JsonObject())
        for kv in Seq.toArray old.Config do
            manifest.Config[kv.Key] <- (match kv.Value with null -> null | v -> v.DeepClone())
        manifest.Config["checkpoint_every"] <- JsonValue.Create every
        let code = execute "simulate" dir manifest (fun () -> runFullyConnected dir manifest data network training seeds policy)
        if code = 0 then dropCheckpoints dir
        code

let run (o: Bag) : int =
    match o.TryGet<string> "Resume" with
    | Some path -> resume o path
    | None ->
        let data = dataSpec o
        let network = networkSpec o
        let training = trainingSpec o
        let seeds = o.Get("Seeds", 1)
        Check.InRange("--seeds", int64 seeds, 1L, 100000L)
        if int64 training.Seed + int64 seeds - 1L > int64 Int32.MaxValue then
            raise (SpecException("--seeds", sprintf "SEED + SEEDS - 1 must be at most %d" Int32.MaxValue))
        let conv = o.TryGet<string> "Model" |> Option.map (choice "--model" [ "fc", false; "conv", true ]) |> Option.defaultValue false
        let kernel = o.Get("Kernel", 5)
        if conv then Check.InRange("--kernel", int64 kernel, 1L, int64 data.Size)
        elif o.Has "Kernel" || o.Has "Compare" then
            raise (SpecException((if o.Has "Kernel" then "--kernel" else "--compare"), "applies to --model conv only"))
        let every = checkpointEvery o
        if conv && every > 0.0 then
            raise (SpecException("--checkpoint-every", "applies to --model fc only (the convolutional baseline keeps no checkpoints)"))
        checkMemory data network training seeds
        let fields =
            match o.TryGet<string> "Compare" with
            | Some path -> Some(List.ofSeq (LocalisedFields.Load(path, ImageGeometry data)))
            | None -> None
        let dir = runDirectory o "simulate"
        let manifest = RunManifest(Seed = training.Seed)
        addConfig manifest "data" data
        addConfig manifest "network" network
        addConfig manifest "training" training
        addConfig manifest "rates" (LearningRates.Resolve(training, network))
        addConfig manifest "seeds" seeds
        addConfig manifest "model" (if conv then "conv" else "fc")
        if conv then addConfig manifest "kernel" kernel
        else addConfig manifest "checkpoint_every" every
        let code =
            execute "simulate" dir manifest (fun () ->
                if conv then runConvolution dir manifest data network training seeds kernel fields
                else
                    // A fresh run: checkpoints left in this folder by an earlier run are not ours.
                    let policy = CheckpointPolicy(checkpointFolder dir, every)
                    if IO.Directory.Exists policy.Directory then IO.Directory.Delete(policy.Directory, true)
                    runFullyConnected dir manifest data network training seeds policy)
        if code = 0 && not conv then dropCheckpoints dir
        code
