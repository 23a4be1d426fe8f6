/// `theory agop --run DIR`: the average gradient outer product and the neural feature ansatz of a trained network
/// (SCIENCE.md section 6), from the weight snapshots of a `theory simulate` run folder (fully-connected or
/// `--model conv`). Writes nfa.csv (correlations per seed, snapshot and population), band.csv, band_radial.csv and
/// band_width.csv (band profiles of W^T W, the AGOP and its square root), the matrices at the last snapshot and a
/// manifest, and prints a summary.
module Theory.Cli.Commands.Agop

open System
open System.IO
open System.Text.Json.Nodes
open Theory.Interop
open Theory.Interop.Io
open Theory.Simulation.Analysis
open Theory.Cli.Options
open Theory.Cli.Shared

let private fmt (x: float) = if Double.IsNaN x then "-" else x.ToString("0.000", Globalization.CultureInfo.InvariantCulture)

/// Runs the seeds in parallel (one per core), each reporting its progress; cancellation and bad input surface as
/// themselves rather than wrapped in an AggregateException.
let private analyseSeeds (run: SimulationFolder) (snapshots: Collections.Generic.List<ParameterSnapshot>[]) (sample: TestSet) =
    let seeds = run.Seeds
    let names = seeds |> Array.map (sprintf "seed %d")
    let names = if names.Length <= 8 then names else [| sprintf "%d seeds" names.Length |]
    let fractions = Array.zeroCreate<float> seeds.Length
    let gate = obj ()
    Theory.Cli.Progress.run names (fun report ->
        let results = Array.zeroCreate<SeedAnalysis> seeds.Length
        let token = Interrupt.token ()
        let options = Threading.Tasks.ParallelOptions(MaxDegreeOfParallelism = Environment.ProcessorCount)
        try
            Threading.Tasks.Parallel.For(0, seeds.Length, options, fun i ->
                let progress (f: float) =
                    if seeds.Length <= 8 then report i f
                    else report 0 (lock gate (fun () -> fractions[i] <- f; Array.average fractions))
                results[i] <- AgopAnalysis.Analyse(run, seeds[i], snapshots[i], sample, Action<float> progress, token))
            |> ignore
        with :? AggregateException as e ->
            match e.Flatten().InnerExceptions |> Seq.tryFind (fun x -> x :? OperationCanceledException || x :? SpecException) with
            | Some inner -> raise inner
            | None -> reraise ()
        results)

let run (o: Bag) : int =
    let runDir =
        match o.TryGet<string> "Agop_Run" with
        | Some d -> d
        | None -> raise (SpecException("--run", "is required: the folder of a theory simulate run (fc or --model conv)"))
    let samples = o.Get("Agop_Samples", 10000)
    Check.InRange("--samples", int64 samples, 2L, 10_000_000L)
    let seed = o.Get("Seed", 0)
    Check.InRange("--seed", int64 seed, 0L, int64 Int32.MaxValue)
    let folder = SimulationFolder.Load(runDir, "--run")
    // Every snapshot forms a few D x D matrices per group (8 D^2 bytes each): refuse sizes where that is gigabytes.
    if folder.Features > 4096 then
        raise (SpecException("--run", sprintf "the run's units have %d weights; the analysis forms D x D matrices and accepts at most 4096" folder.Features))
    let needed = 8.0 * float samples * float folder.Data.D
    let available = float (GC.GetGCMemoryInfo().TotalAvailableMemoryBytes)
    if needed > 0.5 * available then
        raise (SpecException("--samples", sprintf "%d samples of D = %d need %.1f GB; this machine has %.1f GB" samples folder.Data.D (needed / 1e9) (available / 1e9)))
    let matrices = not (o.Flag "Agop_No_Matrices")
    // Every snapshot file is read (and checked) before the output folder is touched.
    let snapshots = folder.Seeds |> Array.map folder.Snapshots
    let dir = runDirectory o "agop"
    let manifest = RunManifest(Seed = seed)
    manifest.Config["run"] <- JsonValue.Create folder.Path
    manifest.Config["run_status"] <- JsonValue.Create folder.Status
    manifest.Config["samples"] <- JsonValue.Create samples
    manifest.Config["seed"] <- JsonValue.Create seed
    manifest.Config["matrices"] <- JsonValue.Create matrices
    manifest.Config["model"] <- JsonValue.Create(if folder.Convolutional then "conv" else "fc")
    if folder.Convolutional then manifest.Config["kernel"] <- JsonValue.Create folder.Kernel
    addConfig manifest "data" folder.Data
    addConfig manifest "network" folder.Network
    addConfig manifest "training" folder.Training
    execute "agop" dir manifest (fun () ->
        if folder.Status <> "completed" then
            eprintfn "theory agop: warning: the run's status is '%s'; analysing the snapshots it has" folder.Status
        let task = Theory.Simulation.Data.NlgpTask folder.Data
        let sample = AgopAnalysis.Sample(task, folder.Training.Inputs, seed, samples)
        let results = analyseSeeds folder snapshots sample
        let out = OutputFiles dir.Path
        out.Write("nfa.csv", AgopTables.Nfa results)
        out.Write("band.csv", AgopTables.Band results)
        out.Write("band_radial.csv", AgopTables.BandRadial results)
        out.Write("band_width.csv", AgopTables.BandWidth results)
        if matrices then
            for r in results do
                for KeyValue((population, matrix), m) in r.FinalMatrices do
                    out.Write(Path.Combine("matrices", sprintf "seed_%d_%s_%s.csv" r.Seed matrix population),
                              AgopTables.Matrix(m, folder.Features))
        manifest.Files <- Collections.Generic.List<string>(Seq.append [ "manifest.json" ] out.Names)
        let interpolated =
            results |> Array.sumBy (fun r -> r.Nfa |> Seq.filter (fun p -> p.Parameters = ParameterSource.Interpolated) |> Seq.length)
        if interpolated > 0 then
            eprintfn "theory agop: warning: the readout or biases of %d (snapshot, group) rows were interpolated between logged times (parameters = interpolated in nfa.csv); log at the snapshot times (--log-points N with N - 1 a multiple of --snapshots - 1) for exact values" interpolated

        // Summary and manifest: every group at the last snapshot of each seed.
        let perSeed = JsonArray()
        let rows = ResizeArray<string[]>()
        for r in results do
            for p in r.Nfa |> Seq.filter (fun p -> p.Step = r.FinalStep) do
                let shape (m: string) =
                    (r.Bands |> Seq.find (fun b -> b.Step = r.FinalStep && b.Population = p.Population && b.Matrix = m)).Shape
                let wtw, agop = shape "wtw", shape "agop"
                let o = JsonObject()
                o["seed"] <- JsonValue.Create r.Seed
                o["t"] <- JsonValue.Create p.T
                o["population"] <- JsonValue.Create p.Population
                o["corr_agop"] <- JsonValue.Create p.AgopCorrelation
                o["corr_agop_sqrt"] <- JsonValue.Create p.SqrtAgopCorrelation
                o["corr_initial"] <- JsonValue.Create p.InitialCorrelation
                o["corr_random"] <- JsonValue.Create p.RandomMomentCorrelation
                o["eff_rank_wtw"] <- JsonValue.Create p.EffectiveRankWtw
                o["eff_rank_agop"] <- JsonValue.Create p.EffectiveRankAgop
                o["half_width_wtw"] <- JsonValue.Create wtw.HalfWidth
                o["half_width_agop"] <- JsonValue.Create agop.HalfWidth
                o["mass_radius_wtw"] <- JsonValue.Create wtw.MassRadius
                o["mass_radius_agop"] <- JsonValue.Create agop.MassRadius
                perSeed.Add o
                rows.Add
                    [| string r.Seed; sprintf "%g" p.T; p.Population; fmt p.AgopCorrelation; fmt p.SqrtAgopCorrelation
                       fmt p.InitialCorrelation; fmt p.RandomMomentCorrelation; fmt p.EffectiveRankWtw; fmt wtw.HalfWidth; fmt agop.HalfWidth
                       fmt wtw.MassRadius; fmt agop.MassRadius |]
        manifest.Results["final"] <- perSeed
        let kind = if folder.Convolutional then sprintf "convolutional (Q = %d): F^T F vs patch-AGOP" folder.Kernel else "fully-connected: W^T W vs AGOP"
        let inputs = if folder.Training.Inputs = InputKind.Nlgp then "NLGP" else "Gaussian clone"
        printfn "%s, trained on %s inputs; AGOP over %d %s samples (seed %d)" kind inputs samples inputs seed
        printTable
            [| "seed"; "t"; "units"; "corr G"; "corr G^1/2"; "corr W0"; "corr null"; "rank WtW"; "half-width WtW"; "half-width G"
               "mass radius WtW"; "mass radius G" |]
            (List.ofSeq rows)
        printfn "(corr: Pearson correlation of the entries of W^T W with the AGOP G, with G^1/2, with the initial W0^T W0 (baseline), and the median with W^T A W for random Wishart A (null: what sharing W gives); rank: effective rank (tr M)^2 / |M|_F^2, 1 = parallel units (then corr G = 1 trivially); half-width: where the band profile falls to half its diagonal; mass radius: median |i - j| weighted by M_ij^2; pixels)"
        printfn "results in %s" dir.Path)
