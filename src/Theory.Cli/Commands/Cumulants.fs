/// `theory cumulants`: the fourth cumulant of the NLGP per gain, its symmetric CP decomposition, and the comparison
/// of the CP factors with the receptive fields of the single neuron and of a simulation (SCIENCE.md section 5).
module Theory.Cli.Commands.Cumulants

open System
open System.IO
open System.Text.Json.Nodes
open Theory.Interop
open Theory.Interop.Io
open Theory.Simulation.Data
open Theory.Cumulants
open Theory.SingleNeuron
open Theory.Cli.Options
open Theory.Cli.Shared

/// Gains used when `--gain` is not given: the paper's question is how localisation grows with the gain.
let defaultGains = [| 1.0; 3.0; 10.0; 30.0 |]


/// Receptive fields of a `theory simulate` run (its rf.csv), summarised.
type SimulationSummary =
    { Path: string
      /// The run's data specification, when its manifest could be read.
      Data: DataSpec option
      Units: int
      /// Units the simulation marked localised (column `localised`).
      Localised: int
      /// Which units the summary describes: "localised", or, when none is marked localised, the population (column
      /// `population`) with the largest mean IPR (the localised population of the paper's picture), or "all".
      Selection: string
      /// Mean IPR and width over the selected units.
      Ipr: float
      Width: float
      Count: int }

/// Reads `DIR/rf.csv` (columns ipr, width and, when present, localised and population) and `DIR/manifest.json`
/// (config.data).
let readSimulation (path: string) : SimulationSummary =
    let rf = Path.Combine(path, "rf.csv")
    if not (Directory.Exists path) then raise (SpecException("--compare", sprintf "'%s' is not a folder" path))
    if not (File.Exists rf) then
        raise (SpecException("--compare", sprintf "'%s' has no rf.csv (give the folder of a finished `theory simulate` run)" path))
    let table =
        try CsvData.Read rf
        with e -> raise (SpecException("--compare", sprintf "cannot read %s (%s)" rf e.Message))
    let column name =
        if Array.contains name table.Columns then Some(table.Numbers name) else None
    let ipr, width =
        match column "ipr", column "width" with
        | Some i, Some w -> i, w
        | _ -> raise (SpecException("--compare", sprintf "%s needs the columns ipr and width (has %s)" rf (String.Join(", ", table.Columns))))
    if ipr.Length = 0 then raise (SpecException("--compare", sprintf "%s has no receptive fields" rf))
    let localised =
        match column "localised" with
        | Some l -> Array.map (fun x -> x > 0.5) l
        | None -> Array.create ipr.Length false
    let population =
        if Array.contains "population" table.Columns then
            let i = table.Index "population"
            table.Rows |> Seq.map (fun r -> r[i]) |> Array.ofSeq
        else Array.create ipr.Length "all"
    let data =
        try
            let node = JsonNode.Parse(File.ReadAllText(Path.Combine(path, "manifest.json")))
            let d = node["config"]["data"]
            let get (k: string) = d[k].GetValue<float>()
            Some(DataSpec(Dim = int (get "dim"), Size = int (get "size"), Xi0 = get "xi0", Xi1 = get "xi1", Gain = get "gain"))
        with _ -> None
    let mean (idx: int[]) (xs: float[]) = idx |> Array.averageBy (fun i -> xs[i])
    let all = [| 0 .. ipr.Length - 1 |]
    let marked = all |> Array.filter (fun i -> localised[i])
    let selection, chosen =
        if marked.Length > 0 then "localised", marked
        else
            all
            |> Array.groupBy (fun i -> population[i])
            |> Array.maxBy (fun (_, idx) -> mean idx ipr)
            |> fun (name, idx) -> (if name = "all" then "all" else "population " + name), idx
    { Path = path
      Data = data
      Units = ipr.Length
      Localised = marked.Length
      Selection = selection
      Ipr = mean chosen ipr
      Width = mean chosen width
      Count = chosen.Length }

let private pixel (g: ImageGeometry) i = if g.Dim = 1 then i, 0 else i % g.Size, i / g.Size

let run (o: Bag) : int =
    let gains =
        match o.Floats "Gain" with
        | Some gs when gs.Length > 0 -> gs
        | _ -> defaultGains
    let specs = gains |> Array.map (dataSpecAt o)
    let neuron = Neuron.neuronSpec o
    let seed = o.Get("Seed", 0)
    Check.InRange("--seed", int64 seed, 0L, int64 Int32.MaxValue)
    let n = Neuron.momentSamples o
    let rank = o.Get("Cp_Rank", 8)
    Check.InRange("--cp-rank", int64 rank, 1L, 1000L)
    let starts = o.Get("Cp_Starts", 1)
    Check.InRange("--cp-starts", int64 starts, 0L, 1000L)
    let sign =
        o.TryGet<string> "Cp_Sign"
        |> Option.map (choice "--cp-sign" [ "negative", Negative; "positive", Positive; "largest", Largest ])
        |> Option.defaultValue Negative
    let which = o.TryGet<string> "Cumulant_Of" |> Option.defaultValue "mixture"
    let classWeights = choice "--cumulant-of" [ "mixture", [| 0.5; 0.5 |]; "class0", [| 1.0; 0.0 |]; "class1", [| 0.0; 1.0 |] ] which
    let withNeuron = not (o.Flag "No_Neuron")
    let tEnd = Neuron.flowTime o
    let std = Neuron.initStd o
    let simulation = o.TryGet<string> "Compare_Rf" |> Option.map readSimulation
    Neuron.checkMemory n specs[0].D 2
    let dir = runDirectory o "cumulants"
    let manifest = RunManifest(Seed = seed)
    addConfig manifest "data" specs[0]
    addConfig manifest "gains" gains
    addConfig manifest "neuron" neuron
    addConfig
        manifest
        "cp"
        {| Rank = rank
           RandomStarts = starts
           PixelStarts = 2
           Sign = sprintf "%A" sign
           CumulantOf = which
           MomentSamples = n
           NeuronFlowTime = (if withNeuron then tEnd else 0.0)
           InitStd = std
           Compare = (simulation |> Option.map (fun s -> s.Path) |> Option.toObj) |}
    simulation
    |> Option.iter (fun s ->
        match s.Data with
        | Some d when d.Dim <> specs[0].Dim || d.Size <> specs[0].Size || d.Xi0 <> specs[0].Xi0 || d.Xi1 <> specs[0].Xi1 ->
            eprintfn "theory cumulants: warning: the simulation in %s ran at dim %d, size %d, xi %g %g; this run uses dim %d, size %d, xi %g %g"
                s.Path d.Dim d.Size d.Xi0 d.Xi1 specs[0].Dim specs[0].Size specs[0].Xi0 specs[0].Xi1
        | Some d when not (gains |> Array.exists (fun g -> abs (g - d.Gain) < 1e-12)) ->
            eprintfn "theory cumulants: warning: the simulation in %s ran at gain %g, which is not among --gain; it is listed separately" s.Path d.Gain
        | None -> eprintfn "theory cumulants: warning: no readable manifest.json in %s: its setting cannot be checked" s.Path
        | _ -> ())
    execute "cumulants" dir manifest (fun () ->
        let cancel = Interrupt.token ()
        let factors = CsvTable([ "gain"; "cumulant"; "component"; "gamma"; "kurtosis"; "ipr"; "width"; "centre_x"; "centre_y" ])
        let factorProfiles = CsvTable([ "gain"; "cumulant"; "component"; "x"; "y"; "u" ])
        let neuronTable = CsvTable([ "gain"; "t"; "ipr"; "width"; "kurtosis"; "loss" ])
        let neuronProfiles = CsvTable([ "gain"; "x"; "y"; "w" ])
        let comparison = CsvTable([ "gain"; "source"; "ipr"; "width"; "count" ])
        let rows = ResizeArray<string[]>()
        let tasks =
            [| for g in gains do
                   yield sprintf "gain %g: samples" g
                   yield sprintf "gain %g: CP rank %d" g rank
                   if withNeuron then yield sprintf "gain %g: neuron" g |]
        let perGain = if withNeuron then 3 else 2
        let simulationGain = simulation |> Option.bind (fun s -> s.Data) |> Option.map (fun d -> d.Gain)
        let simAt (g: float) =
            match simulation, simulationGain with
            | Some s, Some sg when abs (sg - g) < 1e-12 -> Some s
            | Some s, None -> Some s
            | _ -> None
        Theory.Cli.Progress.run tasks (fun report ->
            let mutable k = 0
            while k < gains.Length && not cancel.IsCancellationRequested do
                let gain, data = gains[k], specs[k]
                let task = NlgpTask data
                for w in task.Warnings do
                    eprintfn "theory cumulants: warning: %s" w
                let sets = (SampleSet.drawClassesReporting task [| InputKind.Nlgp |] n seed (report (perGain * k)))[0]
                let contractions = sets |> Array.map Contraction
                let tensor =
                    CumulantTensor(
                        [| for a in 0 .. 1 do
                               if classWeights[a] <> 0.0 then yield classWeights[a], contractions[a] |]
                    )
                let options = { CpOptions.defaults with Rank = rank; Sign = sign; RandomStarts = starts; Seed = seed }
                let result = Cp.decompose options tensor (report (perGain * k + 1))
                let summary = CpFactors.summarise task classWeights result
                let geometry = task.Geometry
                for f in summary do
                    factors.Add(gain).Add(which).Add(int64 f.Component).Add(f.Weight).Add(f.Kurtosis).Add(f.Profile.Ipr)
                        .Add(f.Profile.Width).Add(f.Profile.CentreX).Add(f.Profile.CentreY).EndRow() |> ignore
                    result.Factors[f.Component]
                    |> Array.iteri (fun p u ->
                        let x, y = pixel geometry p
                        factorProfiles.Add(gain).Add(which).Add(int64 f.Component).Add(int64 x).Add(int64 y).Add(u).EndRow() |> ignore)
                let meanIpr = summary |> Array.averageBy (fun f -> f.Profile.Ipr)
                let meanWidth = summary |> Array.averageBy (fun f -> f.Profile.Width)
                comparison.Add(gain).Add("cp_factors").Add(meanIpr).Add(meanWidth).Add(int64 summary.Length).EndRow() |> ignore
                let neuronResult =
                    if not withNeuron then None
                    else
                        let flow = NeuronFlow(task, neuron, sets, null)
                        let w0 = Theory.Simulation.Training.Initialisation.Weights(NetworkSpec(K = 1, InitStd = std), task.D, seed)
                        let tr = NeuronRun.integrate Neuron.odeOptions flow Full w0 [| 0.0; tEnd |] 20 (report (perGain * k + 2)) cancel
                        let w = tr.Weights[tr.Weights.Length - 1]
                        let m = NeuronRun.measure flow contractions w
                        let t = tr.Times[tr.Times.Length - 1]
                        neuronTable.Add(gain).Add(t).Add(m.Profile.Ipr).Add(m.Profile.Width).Add(m.Kurtosis).Add(m.Loss).EndRow() |> ignore
                        w |> Array.iteri (fun p x -> let px, py = pixel geometry p in neuronProfiles.Add(gain).Add(int64 px).Add(int64 py).Add(x).EndRow() |> ignore)
                        comparison.Add(gain).Add("neuron").Add(m.Profile.Ipr).Add(m.Profile.Width).Add(1L).EndRow() |> ignore
                        if tr.Outcome <> Theory.Ode.Completed && not tr.Interrupted then
                            eprintfn "theory cumulants: warning: the neuron flow at gain %g stopped: %A" gain tr.Outcome
                        Some m
                let sim = simAt gain
                sim
                |> Option.iter (fun s -> comparison.Add(gain).Add("simulation").Add(s.Ipr).Add(s.Width).Add(int64 s.Count).EndRow() |> ignore)
                let f1 = summary[0]
                let fmt = sprintf "%.4f"
                rows.Add
                    [| sprintf "%g" gain
                       sprintf "%.4g" f1.Weight
                       sprintf "%.3f" f1.Kurtosis
                       fmt meanIpr
                       sprintf "%.2f" meanWidth
                       (neuronResult |> Option.map (fun m -> fmt m.Profile.Ipr) |> Option.defaultValue "-")
                       (neuronResult |> Option.map (fun m -> sprintf "%.2f" m.Profile.Width) |> Option.defaultValue "-")
                       (sim |> Option.map (fun s -> fmt s.Ipr) |> Option.defaultValue "-")
                       (sim |> Option.map (fun s -> sprintf "%.2f" s.Width) |> Option.defaultValue "-") |]
                manifest.Results[sprintf "gain_%g" gain] <-
                    Json.ToNode
                        {| FactorIpr = meanIpr
                           FactorWidth = meanWidth
                           Gamma = summary |> Array.map (fun f -> f.Weight)
                           FactorKurtosis = summary |> Array.map (fun f -> f.Kurtosis)
                           Contractions = result.Contractions
                           Converged = result.Converged
                           NeuronIpr = neuronResult |> Option.map (fun m -> m.Profile.Ipr) |> Option.toNullable
                           NeuronWidth = neuronResult |> Option.map (fun m -> m.Profile.Width) |> Option.toNullable |}
                k <- k + 1)
        // A simulation at a gain that is not in the list gets its own row.
        match simulation, simulationGain with
        | Some s, Some sg when not (gains |> Array.exists (fun g -> abs (g - sg) < 1e-12)) ->
            comparison.Add(sg).Add("simulation").Add(s.Ipr).Add(s.Width).Add(int64 s.Count).EndRow() |> ignore
            rows.Add [| sprintf "%g" sg; "-"; "-"; "-"; "-"; "-"; "-"; sprintf "%.4f" s.Ipr; sprintf "%.2f" s.Width |]
        | _ -> ()
        factors.Save(dir.File "factors.csv")
        factorProfiles.Save(dir.File "factor_profiles.csv")
        comparison.Save(dir.File "comparison.csv")
        manifest.Files.AddRange [ "factors.csv"; "factor_profiles.csv"; "comparison.csv" ]
        if withNeuron then
            neuronTable.Save(dir.File "neuron.csv")
            neuronProfiles.Save(dir.File "neuron_profiles.csv")
            manifest.Files.AddRange [ "neuron.csv"; "neuron_profiles.csv" ]
        let d = specs[0].D
        printfn "fourth cumulant %s, D = %d, rank %d, %d samples per class; IPR of random weights %.4f" which d rank n (3.0 / float (d + 2))
        printTable
            [| "gain"; "gamma_1"; "kurtosis_1"; "factor IPR"; "factor width"; "neuron IPR"; "neuron width"; "sim IPR"; "sim width" |]
            (List.ofSeq rows)
        simulation
        |> Option.iter (fun s ->
            printfn "simulation %s: %d of %d units marked localised; sim columns: %s (%d units)" s.Path s.Localised s.Units
                s.Selection s.Count)
        printfn "written to %s" dir.Path
        if cancel.IsCancellationRequested then raise (OperationCanceledException()))
