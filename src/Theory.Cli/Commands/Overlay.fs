/// `theory overlay`: the Gaussian-equivalence ODE, online SGD on the Gaussian clone and online SGD on the NLGP from
/// one initial state, aligned on one time grid, and where the Gaussian equivalence breaks down (SCIENCE.md section
/// 4); `--gain G1 G2 ...` sweeps gains.
module Theory.Cli.Commands.Overlay

open System
open System.Globalization
open System.IO
open System.Text.Json.Nodes
open Theory.Interop
open Theory.Interop.Io
open Theory.Overlay
open Theory.Simulation.Training
open Theory.Cli.Options
open Theory.Cli.Shared

let private inv = CultureInfo.InvariantCulture
let private fmt (x: float) = if Double.IsNaN x then "nan" else x.ToString("G4", inv)
let private fmtTime (x: (int * float) option) = match x with Some(_, t) -> fmt t | None -> "never"
let private fmtDeparture (d: Breakdown.Departure option) = match d with Some d -> fmt d.Time | None -> "none"

/// Folder name of one gain in a sweep.
let gainFolder (g: float) = "gain_" + g.ToString("R", inv)

/// Writes an overlay's files into `dir` (relative names returned).
let private save (dir: string) (settings: Overlay.Settings) (o: Overlay.Overlay) (r: Overlay.Report) =
    let out = OutputFiles dir
    out.Write("overlay.csv", Overlay.overlayTable settings o r)
    out.Write("runs.csv", Overlay.runsTable o)
    out.Write(Path.Combine("ode", "trajectory.csv"), Theory.Get.Engine.trajectoryTable o.Network.K 2 false o.Ode.Rows)
    for kind, runs in [ "nlgp", o.Nlgp; "clone", o.Clone ] do
        Simulate.writeTables out kind runs
    let json = Overlay.reportJson settings o r
    let options = Text.Json.JsonSerializerOptions(Json.Options, Encoder = Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping)
    AtomicFile.WriteAllText(Path.Combine(dir, "breakdown.json"), json.ToJsonString(options) + "\n")
    out.Names.Add "breakdown.json"
    out.Names, json

/// The aligned row nearest to each decade, the breakdown times, and the end.
let private printRows (o: Overlay.Overlay) (r: Overlay.Report) =
    let t = o.Times
    let marks =
        [ yield 0
          for e in 0 .. 9 do
              let target = 10.0 ** float e
              if target <= t[t.Length - 1] then
                  yield [| 0 .. t.Length - 1 |] |> Array.minBy (fun i -> abs (log (max t[i] 1e-12) - log target))
          match r.Breakdown with Some d -> yield d.Index | None -> ()
          match r.GapBreakdown with Some d -> yield d.Index | None -> ()
          yield t.Length - 1 ]
        |> List.distinct
        |> List.sort
    let members = Overlay.populations o |> Array.find (fun (p, _) -> p = r.LocalisedPopulation) |> snd
    let eps runs = Breakdown.band (Overlay.series o runs (fun m -> m.Test.EpsG))
    let clone, nlgp = eps o.Clone, eps o.Nlgp
    let ipr runs = (Breakdown.band (Overlay.series o runs (Overlay.ipr members))).Mean
    let kurt runs = (Breakdown.band (Overlay.series o runs (Overlay.kurtosis members))).Mean
    let iprC, iprN, kurtN = ipr o.Clone, ipr o.Nlgp, kurt o.Nlgp
    let p = r.LocalisedPopulation
    let headers =
        [| "t"; "eps_g ODE"; "clone"; "+-"; "NLGP"; "+-"; "z"; "gap z"; "clone-ODE z"; sprintf "ipr_%s clone" p
           sprintf "ipr_%s NLGP" p; sprintf "kurtosis_%s NLGP" p |]
    let rows =
        [ for i in marks ->
              [| fmt t[i]; fmt o.Ode.Rows[i].EpsG; fmt clone.Mean[i]; fmt clone.Sd[i]; fmt nlgp.Mean[i]; fmt nlgp.Sd[i]
                 sprintf "%.1f" r.EpsZ[i]; sprintf "%.1f" r.GapZ[i]; sprintf "%.1f" r.CloneOdeZ[i]; fmt iprC[i]; fmt iprN[i]
                 fmt kurtN[i] |] ]
    printTable headers rows

let private printReport (settings: Overlay.Settings) (o: Overlay.Overlay) (r: Overlay.Report) =
    let n = o.Nlgp.Length
    printfn "gain %g: ODE (%d modes, %d states; %d right-hand sides), %d NLGP runs (seeds %d..%d) and %d clone runs (seeds %d..%d), all from the initial weights of seed %d"
        o.Data.Gain o.OdeModes o.OdeStates o.Ode.Evaluations n o.NlgpSeeds[0] o.NlgpSeeds[n - 1] n o.CloneSeeds[0]
        o.CloneSeeds[n - 1] o.InitSeed
    printRows o r
    let det = settings.Detector
    let persistent = sprintf "|z| >= %g at %d grid times in a row" det.Threshold det.Persistence
    match r.Breakdown with
    | Some d -> printfn "  breakdown: the NLGP eps_g leaves the clone band at t = %s (z = %.1f, peak %.1f; %s)" (fmt d.Time) d.Z d.PeakZ persistent
    | None -> printfn "  breakdown: none; the NLGP eps_g stays in the clone band (no %s)" persistent
    match r.GapBreakdown with
    | Some d ->
        printfn "  sharper diagnostic: measured minus Gaussian-equivalent eps_g at the runs' own order parameters leaves the clone band at t = %s (z = %.1f, peak %.1f)"
            (fmt d.Time) d.Z d.PeakZ
    | None -> printfn "  sharper diagnostic: measured minus Gaussian-equivalent eps_g stays in the clone band"
    printfn "  noise check: the clone runs' measured minus exact eps_g is %.2f test-set standard deviations (root mean square; 1 expected)" r.CloneGapRms
    let last = o.Length - 1
    let members = Overlay.populations o |> Array.find (fun (p, _) -> p = r.LocalisedPopulation) |> snd
    let final runs = (Breakdown.band (Overlay.series o runs (Overlay.ipr members))).Mean[last]
    printfn "  IPR: the %s population's mean NLGP IPR reaches %g x its initial %s at t = %s (final %s; clone final %s, rise %s)"
        r.LocalisedPopulation settings.IprFactor (fmt r.IprInitial) (fmtTime r.IprRise) (fmt (final o.Nlgp)) (fmt (final o.Clone))
        (fmtTime r.CloneIprRise)
    let c = r.CloneDeparture
    printfn "  clone vs ODE: largest departure %+.2f%% at t = %s (z = %.1f); the clone mean leaves the ODE at t = %s, the NLGP mean at t = %s"
        (100.0 * c.Relative) (fmt c.Time) c.Z (fmtDeparture r.CloneLeavesOde) (fmtDeparture r.NlgpLeavesOde)

/// Columns of the sweep's summary.csv.
let private summaryColumns =
    [| "gain"; "breakdown_time"; "gap_breakdown_time"; "ipr_rise_time"; "clone_ipr_rise_time"; "localised_population"
       "ipr_initial"; "ipr_final_nlgp"; "ipr_final_clone"; "kurtosis_final_nlgp"; "eps_g_final_ode"; "eps_g_final_clone"
       "eps_g_final_nlgp"; "clone_max_relative_departure"; "clone_max_departure_time" |]

let private summaryRow (o: Overlay.Overlay) (r: Overlay.Report) =
    let last = o.Length - 1
    let members = Overlay.populations o |> Array.find (fun (p, _) -> p = r.LocalisedPopulation) |> snd
    let mean runs f = (Breakdown.band (Overlay.series o runs f)).Mean[last]
    let time (x: (int * float) option) = match x with Some(_, t) -> t | None -> nan
    let dep (d: Breakdown.Departure option) = match d with Some d -> d.Time | None -> nan
    {| Gain = o.Data.Gain
       Breakdown = dep r.Breakdown
       Gap = dep r.GapBreakdown
       Rise = time r.IprRise
       CloneRise = time r.CloneIprRise
       Population = r.LocalisedPopulation
       IprInitial = r.IprInitial
       IprNlgp = mean o.Nlgp (Overlay.ipr members)
       IprClone = mean o.Clone (Overlay.ipr members)
       KurtosisNlgp = mean o.Nlgp (Overlay.kurtosis members)
       Ode = o.Ode.Rows[last].EpsG
       Clone = mean o.Clone (fun m -> m.Test.EpsG)
       Nlgp = mean o.Nlgp (fun m -> m.Test.EpsG)
       Departure = r.CloneDeparture.Relative
       DepartureTime = r.CloneDeparture.Time |}

let run (o: Bag) : int =
    let data = dataSpec o
    if data.Boundary = Boundary.Open then
        raise (SpecException("--open", "the overlay compares with the Gaussian-equivalence ODEs, which need periodic boundaries; drop --open"))
    let gains =
        match o.Floats "Overlay_Gains" with
        | Some gs when gs.Length > 0 -> gs
        | _ -> [| data.Gain |]
    if gains.Length > 64 then raise (SpecException("--gain", sprintf "takes at most 64 gains (got %d)" gains.Length))
    if (Array.distinct gains).Length <> gains.Length then raise (SpecException("--gain", "lists a gain twice"))
    let tasks = gains |> Array.map (fun g -> data.WithGain(g).Validate())
    let network = networkSpec o
    let training = trainingSpec o
    let seeds = o.Get("Overlay_Seeds", Overlay.Settings.defaults.SeedsPerKind)
    Check.InRange("--seeds", int64 seeds, 2L, 1000L)
    Overlay.seedsOf training seeds InputKind.Gp |> ignore // range check of SEED + 2 SEEDS - 1
    let solver, solverConfig = Integrate.solverOf o training
    let detector: Breakdown.DetectorSettings =
        { Threshold = o.Get("Breakdown_Z", Breakdown.DetectorSettings.defaults.Threshold)
          Persistence = o.Get("Breakdown_Points", Breakdown.DetectorSettings.defaults.Persistence)
          WindowDecades = Breakdown.DetectorSettings.defaults.WindowDecades }
    Check.InRange("--breakdown-z", detector.Threshold, 0.5, 100.0)
    Check.InRange("--breakdown-points", int64 detector.Persistence, 1L, 1000L)
    let factor = o.Get("Ipr_Factor", Overlay.Settings.defaults.IprFactor)
    Check.InRange("--ipr-factor", factor, 1.0, 1000.0)
    let settings =
        { Overlay.Settings.defaults with
            SeedsPerKind = seeds
            Detector = detector
            IprFactor = factor
            Integration = { Overlay.Settings.defaults.Integration with Solver = solver } }
    let dir = runDirectory o "overlay"
    let manifest = RunManifest(Seed = training.Seed)
    addConfig manifest "data" data
    addConfig manifest "gains" gains
    addConfig manifest "network" network
    addConfig manifest "training" training
    addConfig manifest "rates" (LearningRates.Resolve(training, network))
    addConfig manifest "seeds_per_kind" seeds
    addConfig manifest "init_seed" training.InitialWeightsSeed
    addConfig manifest "nlgp_seeds" (Overlay.seedsOf training seeds InputKind.Nlgp)
    addConfig manifest "clone_seeds" (Overlay.seedsOf training seeds InputKind.Gp)
    addConfig manifest "solver" solverConfig
    addConfig manifest "detector" {| threshold = detector.Threshold; persistence = detector.Persistence; window_decades = detector.WindowDecades; ipr_factor = factor |}
    execute "overlay" dir manifest (fun () ->
        let jobs = 2 * seeds + 1
        let nlgpSeeds = Overlay.seedsOf training seeds InputKind.Nlgp
        let cloneSeeds = Overlay.seedsOf training seeds InputKind.Gp
        let overlays =
            if gains.Length = 1 && jobs <= 9 then
                let names =
                    Array.concat
                        [ [| "GET ODE" |]
                          nlgpSeeds |> Array.map (sprintf "SGD on NLGP, seed %d")
                          cloneSeeds |> Array.map (sprintf "SGD on clone, seed %d") ]
                Theory.Cli.Progress.run names (fun report ->
                    Overlay.runMany tasks network training settings (fun _ j f -> report j f) (Interrupt.token ()))
            else
                // One bar per gain: the mean fraction of its ODE and SGD runs.
                let fractions = Array.init gains.Length (fun _ -> Array.zeroCreate<float> jobs)
                let gate = obj ()
                let names = gains |> Array.map (fun g -> sprintf "gain %g: ODE + %d SGD runs" g (2 * seeds))
                Theory.Cli.Progress.run names (fun report ->
                    Overlay.runMany tasks network training settings
                        (fun t j f ->
                            let mean = lock gate (fun () -> fractions[t].[j] <- max fractions[t].[j] f; Array.average fractions[t])
                            report t mean)
                        (Interrupt.token ()))
        for w in overlays |> Seq.collect (fun ov -> ov.Warnings) |> Seq.distinct do
            eprintfn "theory overlay: warning: %s" w
        let summary = CsvTable summaryColumns
        let perGain = JsonArray()
        let files = Collections.Generic.List<string>([ "manifest.json" ])
        let mutable sweepRows: string[] list = []
        let interrupted =
            overlays |> Array.exists (fun ov -> ov.Ode.Interrupted || ov.Runs |> Array.exists (fun r -> r.Outcome = SimulationOutcome.Cancelled))
        for ov in overlays do
            if ov.Length < 1 then
                if interrupted then raise (OperationCanceledException())
                raise (RunFailedException(sprintf "gain %g: nothing was measured" ov.Data.Gain))
            let r = Overlay.report settings ov
            let sub = if gains.Length = 1 then "" else gainFolder ov.Data.Gain
            let folder = if sub = "" then dir.Path else Path.Combine(dir.Path, sub)
            let written, json = save folder settings ov r
            for f in written do
                files.Add(if sub = "" then f else Path.Combine(sub, f))
            perGain.Add(json.DeepClone())
            printReport settings ov r
            let s = summaryRow ov r
            summary.Add(s.Gain).Add(s.Breakdown).Add(s.Gap).Add(s.Rise).Add(s.CloneRise).Add(s.Population).Add(s.IprInitial)
                .Add(s.IprNlgp).Add(s.IprClone).Add(s.KurtosisNlgp).Add(s.Ode).Add(s.Clone).Add(s.Nlgp).Add(s.Departure)
                .Add(s.DepartureTime).EndRow() |> ignore
            sweepRows <-
                sweepRows
                @ [ [| fmt s.Gain; fmt s.Breakdown; fmt s.Gap; fmt s.Rise; s.Population; fmt s.IprNlgp; fmt s.IprClone
                       fmt s.Ode; fmt s.Clone; fmt s.Nlgp; sprintf "%+.2f%%" (100.0 * s.Departure) |] ]
        summary.Save(dir.File "summary.csv")
        files.Add "summary.csv"
        manifest.Results["gains"] <- perGain
        manifest.Files <- files
        if gains.Length > 1 then
            printfn ""
            printfn "gain sweep (times t = steps / D; 'nan' = never; IPR of the localising population):"
            printTable
                [| "gain"; "breakdown t"; "gap t"; "IPR rise t"; "pop"; "IPR NLGP"; "IPR clone"; "eps_g ODE"; "clone"; "NLGP"
                   "clone-ODE" |]
                sweepRows
        printfn "results in %s" dir.Path
        // A failed or interrupted part: everything measured is written above.
        for ov in overlays do
            match ov.Runs |> Array.tryFind (fun r -> r.Outcome = SimulationOutcome.Diverged) with
            | Some r -> raise (RunFailedException(sprintf "gain %g: seed %d (%s) %s" ov.Data.Gain r.Seed (r.Training.Inputs.ToString().ToLowerInvariant()) r.Failure, r.FailedStep))
            | None -> ()
            match ov.Ode.Failure with
            | Some message -> raise (RunFailedException(sprintf "gain %g: %s" ov.Data.Gain message))
            | None -> ()
        if interrupted then raise (OperationCanceledException()))
