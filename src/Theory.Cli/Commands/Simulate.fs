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

/// Writes every table of the runs into the run folder and lists the files in the manifest.
let save (dir: RunDirectory) (manifest: RunManifest) (runs: SimulationResult[]) =
    let files = ResizeArray<string>()
    let write (name: string) (table: CsvTable) =
        table.Save(dir.File name)
        files.Add name
    write "trajectory.csv" (SimulationTables.Trajectory runs)
    write "units.csv" (SimulationTables.Units runs)
    write "rf.csv" (SimulationTables.ReceptiveFields runs)
    for run in runs do
        write (IO.Path.Combine("weights", sprintf "seed_%d.csv" run.Seed)) (SimulationTables.Weights run)
    manifest.Files <- Collections.Generic.List<string>(Seq.append [ "manifest.json" ] files)

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

let run (o: Bag) : int =
    let data = dataSpec o
    let network = networkSpec o
    let training = trainingSpec o
    let seeds = o.Get("Seeds", 1)
    Check.InRange("--seeds", int64 seeds, 1L, 100000L)
    if int64 training.Seed + int64 seeds - 1L > int64 Int32.MaxValue then
        raise (SpecException("--seeds", sprintf "SEED + SEEDS - 1 must be at most %d" Int32.MaxValue))
    let dir = runDirectory o "simulate"
    let manifest = RunManifest(Seed = training.Seed)
    addConfig manifest "data" data
    addConfig manifest "network" network
    addConfig manifest "training" training
    addConfig manifest "rates" (LearningRates.Resolve(training, network))
    addConfig manifest "seeds" seeds
    execute "simulate" dir manifest (fun () ->
        let task = NlgpTask data
        for w in task.Warnings do
            eprintfn "theory simulate: warning: %s" w
        let names = Array.init seeds (fun i -> sprintf "seed %d" (training.Seed + i))
        let runs =
            Theory.Cli.Progress.run names (fun report ->
                SimulationRun.RunSeeds(task, network, training, seeds, (fun i f -> report i f), Interrupt.token ()))
        save dir manifest runs
        results manifest runs
        summary runs
        printfn "results in %s" dir.Path
        match runs |> Array.tryFind (fun r -> r.Outcome = SimulationOutcome.Diverged) with
        | Some r -> raise (RunFailedException(sprintf "seed %d %s" r.Seed r.Failure, r.FailedStep))
        | None -> ()
        if runs |> Array.exists (fun r -> r.Outcome = SimulationOutcome.Cancelled) then
            raise (OperationCanceledException()))
