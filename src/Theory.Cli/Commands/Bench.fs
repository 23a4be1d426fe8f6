/// `theory bench`: the whole-run benchmark. Online SGD steps per second including sampling at D = 400 (1D ring of
/// 400 pixels and 20 x 20 torus), K = 8, erf and relu, mf and trained readout, with the SGD update alone and
/// sampling alone measured in the same process as baselines. One thread.
module Theory.Cli.Commands.Bench

open System
open System.Text.Json.Nodes
open Theory.Interop
open Theory.Interop.Io
open Theory.Cli.Options
open Theory.Cli.Shared
open Theory.Simulation.Data
open Theory.Simulation.Training

let private configurations =
    [ for dim, size in [ 1, 400; 2, 20 ] do
          for activation in [ Activation.Erf; Activation.Relu ] do
              for readout in [ Readout.MeanField; Readout.Trained ] do
                  yield dim, size, activation, readout ]

let private name (a: Activation) = a.ToString().ToLowerInvariant()
let private readoutName (r: Readout) = if r = Readout.MeanField then "mf" else r.ToString().ToLowerInvariant()

let run (o: Bag) : int =
    let seconds = o.Get("Seconds", 1.0)
    Check.InRange("--seconds", seconds, 0.01, 600.0)
    let seed = o.Get("Seed", 0)
    Check.InRange("--seed", int64 seed, 0L, int64 Int32.MaxValue)
    let d0 = DataSpec()
    let xi0, xi1 = defaultArg (o.Pair "Xi") (d0.Xi0, d0.Xi1)
    let gain = o.Get("Gain", d0.Gain)
    DataSpec(Xi0 = xi0, Xi1 = xi1, Gain = gain).Validate() |> ignore
    let dir = runDirectory o "bench"
    let manifest = RunManifest(Seed = seed)
    addConfig manifest "seconds" seconds
    addConfig manifest "gain" gain
    addConfig manifest "xi" [| xi0; xi1 |]
    execute "bench" dir manifest (fun () ->
        let machine = SgdBenchmark.Machine()
        let load = SgdBenchmark.LoadAverage()
        printfn "machine: %s" machine
        if Double.IsFinite load then
            printfn "load average: %.2f%s" load (if load > float Environment.ProcessorCount then " (busy machine: wall-clock figures are low; the CPU-time column is the better guide)" else "")
        printfn "one thread; D = 400, K = %d, NLGP inputs; steps per second (best of three rounds of %g s)" (NetworkSpec().K) (seconds / 3.0)
        let table =
            CsvTable([ "dim"; "size"; "d"; "k"; "activation"; "readout"; "whole_steps_per_s"; "sgd_steps_per_s"; "samples_per_s"; "whole_steps_per_cpu_s"; "fig1_seconds_per_seed" ])
        let rows = ResizeArray()
        let tasks = Collections.Generic.Dictionary<int, NlgpTask>()
        let results =
            Theory.Cli.Progress.run [| "bench" |] (fun report ->
                configurations
                |> List.mapi (fun i (dim, size, activation, readout) ->
                    (Interrupt.token ()).ThrowIfCancellationRequested()
                    let task =
                        match tasks.TryGetValue dim with
                        | true, t -> t
                        | _ ->
                            let t = NlgpTask(DataSpec(Dim = dim, Size = size, Xi0 = xi0, Xi1 = xi1, Gain = gain))
                            tasks[dim] <- t
                            t
                    let net = NetworkSpec(Activation = activation, Readout = readout)
                    let speed = SgdBenchmark.Measure(task, net, TrainingSpec(Seed = seed), seconds)
                    report 0 (float (i + 1) / float configurations.Length)
                    (dim, size, task.D, activation, readout, speed)))
        for (dim, size, d, activation, readout, speed) in results do
            // A Fig. 1 run: T = 10^4 at D = 400, i.e. 4 million steps.
            let fig1 = 1e4 * float d / speed.WholeStepsPerSecond
            table.Add(int64 dim).Add(int64 size).Add(int64 d).Add(int64 (NetworkSpec().K)).Add(name activation)
                .Add(readoutName readout).Add(speed.WholeStepsPerSecond).Add(speed.SgdStepsPerSecond)
                .Add(speed.SamplesPerSecond).Add(speed.WholeStepsPerCpuSecond).Add(fig1).EndRow() |> ignore
            rows.Add
                [| sprintf "%dD" dim; name activation; readoutName readout
                   sprintf "%.0f" speed.WholeStepsPerSecond; sprintf "%.0f" speed.SgdStepsPerSecond
                   sprintf "%.0f" speed.SamplesPerSecond; sprintf "%.0f" speed.WholeStepsPerCpuSecond; sprintf "%.0f" fig1 |]
        printTable [| "input"; "activation"; "readout"; "steps/s (whole)"; "steps/s (SGD only)"; "samples/s"; "steps/CPU-s (whole)"; "Fig. 1 s/seed" |] (List.ofSeq rows)
        table.Save(dir.File "bench.csv")
        manifest.Files <- Collections.Generic.List<string>([ "manifest.json"; "bench.csv" ])
        manifest.Results["machine"] <- JsonValue.Create machine
        manifest.Results["load_average"] <- JsonValue.Create(if Double.IsFinite load then load else -1.0)
        printfn "results in %s" dir.Path)
