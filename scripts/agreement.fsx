// The agreement study of the Gaussian-equivalence ODEs against online SGD (SCIENCE.md section 4, "Validity" and the
// "sharper diagnostic"): 1D rings of D = L pixels (2D tori of D = L^2 with --dim 2), Gaussian clone and NLGP inputs,
// the paper's network (erf, readout 1/K, trained +-1 biases) or the ReLU network of the tests. For every D and input kind it runs S seeds of SGD
// (`SimulationRun.RunSeeds`) and the ODE of each seed from that seed's initial weights (`Engine.nlgpProblem`), and
// reports
//   - the largest relative deviation of the SGD error from the ODE over all logged times, and its late-time mean,
//     for the test error (held-out set) and for the population error (the Gaussian error formula at the run's own
//     order parameters: exact for the clone, free of test-set noise);
//   - the sharper diagnostic: measured test error against the Gaussian prediction at the run's own order parameters
//     (`Engine.nlgpErrorAt`), and the first time it departs on the NLGP, next to the time the receptive fields
//     localise (mean IPR of the units with bias +1 above twice its i.i.d. value);
//   - how much the ODE itself changes with D (it should not: with xi fixed, a longer ring or a larger torus samples
//     the same spectrum rho(theta) on a finer grid of wave numbers, and the mode sums are trapezoidal rules of a
//     smooth periodic function; the wrap-around of the kernel, exp(-L^2/xi^2), is negligible).
// Run it through scripts/agreement.sh (which builds first). Writes agreement_<net>_D<D>_<kind>.csv per case,
// summary.csv, ode_vs_d.csv and summary.md to --out.
#r "../.build/theory/Theory.Interop.dll"
#r "../.build/theory/Theory.Simulation.dll"
#r "../.build/theory/Theory.Engine.dll"
#r "../.build/theory/System.Numerics.Tensors.dll"
#r "../.build/theory/MathNet.Numerics.dll"

open System
open System.Diagnostics
open System.IO
open Theory.Interop
open Theory.Interop.Io
open Theory.Gaussian
open Theory.Get
open Theory.Simulation.Data
open Theory.Simulation.Training

// ---------------------------------------------------------------------------------------------------------------
// Options.

let argv = fsi.CommandLineArgs |> Array.tail

let option (name: string) (fallback: string) =
    match Array.tryFindIndex ((=) name) argv with
    | Some i when i + 1 < argv.Length -> argv[i + 1]
    | _ -> fallback

let usage =
    "usage: scripts/agreement.sh [--dim 1|2] [--sizes L1,L2,...] [--seeds 3,3,2] [--time 1000] [--net erf|relu] [-K 4]\n"
    + "                           [--lr LR] [--xi XI0 XI1] [--gain 10] [--test-size 4000] [--log-points 40]\n"
    + "                           [--kinds gp,nlgp]\n"
    + "                           [--out runs/agreement]"

if Array.contains "--help" argv then
    printfn "%s" usage
    exit 0

let sizes = (option "--sizes" "400,1000,4000").Split ',' |> Array.map int
/// Seeds per size: one number for all, or one per size (e.g. 3,3,2).
let seedList =
    let given = (option "--seeds" "3").Split ',' |> Array.map int
    if given.Length = 1 then Array.create sizes.Length given[0]
    elif given.Length = sizes.Length then given
    else failwith "--seeds: one number, or one per size"
let time = float (option "--time" "1000")
let net = option "--net" "erf"
let xi0, xi1 =
    match Array.tryFindIndex ((=) "--xi") argv with
    | Some i when i + 2 < argv.Length -> float argv[i + 1], float argv[i + 2]
    | _ -> 1.0, 5.0
let gain = float (option "--gain" "10")
let testSize = int (option "--test-size" "4000")
let logPoints = int (option "--log-points" "40")
let kinds =
    (option "--kinds" "gp,nlgp").Split ','
    |> Array.map (function
        | "gp" -> InputKind.Gp
        | "nlgp" -> InputKind.Nlgp
        | other -> failwithf "--kinds: gp or nlgp, not %s" other)
let outDir = option "--out" "runs/agreement"
Directory.CreateDirectory outDir |> ignore

/// The networks of the ODE-vs-SGD tests (GetVsSgdTests.fs) and their reference learning rates.
let k = int (option "-K" "4")
let network, lr =
    match net with
    | "erf" -> NetworkSpec(K = k, Activation = Activation.Erf, Readout = Readout.MeanField, BiasMode = BiasMode.Trained, Bias = 1.0), 0.5
    | "relu" -> NetworkSpec(K = k, Activation = Activation.Relu, Readout = Readout.Trained, BiasMode = BiasMode.None, InitStd = 1.0), 0.1
    | other -> failwithf "--net: erf or relu, not %s" other
let dim = int (option "--dim" "1")
let lr' = float (option "--lr" (string lr))
let activation = Activation.ofSpec network
let positive = Array.init network.K id |> Array.filter (fun k -> network.InitialBias k >= 0.0)

let training (kind: InputKind) (seed: int) =
    TrainingSpec(Lr = lr', Convention = LrConvention.Reference, Time = time, Seed = seed, Inputs = kind, TestSize = testSize,
                 LogPoints = logPoints, LogStart = 0.1, Snapshots = 0)

let kindName (kind: InputKind) = if kind = InputKind.Gp then "clone" else "nlgp"
let meanOf (xs: float[]) = Array.average xs

let seedText = seedList |> Array.map string |> String.concat ","
printfn "agreement study: %s network (K = %d), reference lr %g, %dD xi = %g %g, gain %g, T = %g, seeds %s, test sets of %d"
    net network.K lr' dim xi0 xi1 gain time seedText testSize

// ---------------------------------------------------------------------------------------------------------------
// The study.

type Case =
    { D: int
      Kind: InputKind
      Times: float[]
      Ode: float[]
      Test: float[]
      Population: float[]
      /// Per seed: (test - population) / population at each time.
      Gap: float[][]
      IprPositive: float[]
      KurtosisPositive: float[] }

let odeOptions = { Engine.IntegrationOptions.defaults with ClassError = false }
let summary = ResizeArray<Case>()
let odeByD = ResizeArray<int * float[] * float[] * float[]>()

for (size, seeds) in Array.zip sizes seedList do
    let data = DataSpec(Dim = dim, Size = size, Xi0 = xi0, Xi1 = xi1, Gain = gain)
    let d = data.D
    let task = NlgpTask(data)
    // The ODE on the exact logging grid (for the comparison across D), once per seed.
    let grid = TimeGrid.Of(training InputKind.Gp 0)
    let clock = Stopwatch.StartNew()
    let problems = Array.init seeds (fun s -> Engine.nlgpProblem data network (training InputKind.Gp s) QuadratureSettings.defaults true)
    let onGrid = problems |> Array.map (fun p -> Engine.integrateSystem p.System p.Initial grid odeOptions)
    // And from the seed-averaged initial condition E q^_kl(f) = delta_kl init_std^2 n_f / D, identical at every D up to
    // the grid of wave numbers: the clean check that the ODE does not depend on D.
    let p0 = problems[0]
    let std2 = network.InitStd * network.InitStd
    let averaged =
        { p0.Initial with
            Densities =
                p0.Groups.Weights
                |> Array.map (fun nu -> Array.init (network.K * network.K) (fun i -> if i / network.K = i % network.K then std2 * nu else 0.0)) }
    let mean = Engine.integrateSystem p0.System averaged grid odeOptions
    odeByD.Add((d, grid, Array.init grid.Length (fun i -> onGrid |> Array.averageBy (fun o -> o.Rows[i].EpsG)),
                mean.Rows |> Array.map (fun r -> r.EpsG)))
    printfn "D = %d: %d merged modes, %d ODE states; %d ODEs in %.1f s" d problems[0].Groups.Count problems[0].States seeds
        clock.Elapsed.TotalSeconds
    for kind in kinds do
        clock.Restart()
        let runs = SimulationRun.RunSeeds(task, network, training kind 0, seeds)
        for r in runs do
            if r.Outcome <> SimulationOutcome.Completed then failwithf "D = %d %s seed %d: %A %s" d (kindName kind) r.Seed r.Outcome r.Failure
        let sgdSeconds = clock.Elapsed.TotalSeconds
        let times = runs[0].Points |> Seq.map (fun p -> p.T) |> Array.ofSeq
        // The ODE at the runs' own logged times (steps / D).
        let odes = problems |> Array.map (fun p -> Engine.integrateSystem p.System p.Initial times odeOptions)
        let at (f: int -> int -> float) = Array.init times.Length (fun i -> Array.init seeds (fun s -> f s i) |> meanOf)
        let population s i =
            fst (Engine.nlgpErrorAt activation QuadratureSettings.defaults 0 runs[s].Points[i].OrderParameters)
        let c =
            { D = d
              Kind = kind
              Times = times
              Ode = at (fun s i -> odes[s].Rows[i].EpsG)
              Test = at (fun s i -> runs[s].Points[i].Test.EpsG)
              Population = at population
              Gap =
                Array.init seeds (fun s ->
                    Array.init times.Length (fun i ->
                        let p = population s i
                        (runs[s].Points[i].Test.EpsG - p) / p))
              IprPositive = at (fun s i -> positive |> Array.averageBy (fun k -> runs[s].Points[i].Ipr[k]))
              KurtosisPositive =
                at (fun s i ->
                    let kurt = runs[s].Points[i].Test.Kurtosis
                    positive |> Array.averageBy (fun k -> 0.5 * (kurt[0][k] + kurt[1][k]))) }
        summary.Add c
        let table =
            CsvTable(
                [ "t"; "eps_g_ode"; "eps_g_test"; "eps_g_population"; "dev_test"; "dev_population"; "gap_test_vs_population"
                  "ipr_pos"; "kurtosis_pos" ]
            )
        for i in 0 .. times.Length - 1 do
            table.Row(
                times[i],
                c.Ode[i],
                c.Test[i],
                c.Population[i],
                (c.Test[i] - c.Ode[i]) / c.Ode[i],
                (c.Population[i] - c.Ode[i]) / c.Ode[i],
                c.Gap |> Array.averageBy (fun g -> g[i]),
                c.IprPositive[i],
                c.KurtosisPositive[i]
            )
        table.Save(Path.Combine(outDir, sprintf "agreement_%s_D%d_%s.csv" net d (kindName kind)))
        printfn "  %s: %d SGD runs in %.0f s (%.0f steps/s each); ODE + measures %.1f s" (kindName kind) seeds sgdSeconds
            (runs |> Array.averageBy (fun r -> r.StepsPerSecond)) (clock.Elapsed.TotalSeconds - sgdSeconds)

// ---------------------------------------------------------------------------------------------------------------
// Summary.

let late (c: Case) = c.Times |> Array.map (fun t -> t >= time / 10.0)
let maxAbsDev (xs: float[]) (ref: float[]) = Array.map2 (fun x r -> abs (x - r) / r) xs ref |> Array.max
let lateMean (c: Case) (xs: float[]) =
    let mask = late c
    Array.zip3 mask xs c.Ode |> Array.filter (fun (m, _, _) -> m) |> Array.averageBy (fun (_, x, r) -> (x - r) / r)
/// Spread of the per-seed diagnostic gap (test - population) / population on the clone: its standard deviation over
/// all seeds and times, the yardstick of test-set noise.
let gapNoise (c: Case) = c.Gap |> Array.concat |> fun g -> sqrt (Array.averageBy (fun x -> x * x) g)
let iid (d: int) = 3.0 / float (d + 2)
let firstTime (c: Case) (pred: int -> bool) =
    match Array.tryFindIndex pred [| 0 .. c.Times.Length - 1 |] with
    | Some i -> c.Times[i]
    | None -> nan

let summaryTable =
    CsvTable(
        [ "net"; "d"; "inputs"; "max_dev_test"; "max_dev_population"; "late_dev_test"; "late_dev_population"; "gap_rms"
          "t_gap_below_3rms_clone"; "t_ipr_doubles"; "eps_g_ode_final"; "eps_g_test_final"; "ipr_pos_final"; "kurtosis_pos_final" ]
    )
let md = Text.StringBuilder()
md.AppendLine(
    sprintf "%s network (K = %d), reference lr %g, %dD (sizes L = %s), xi = %g %g, gain %g, T = %g, seeds per size %s, test sets of %d"
        net network.K lr' dim (sizes |> Array.map string |> String.concat ",") xi0 xi1 gain time seedText testSize
)
|> ignore
md.AppendLine().AppendLine("| D | inputs | max dev. test | max dev. population | late dev. test | late dev. population | diagnostic gap rms | gap < -3 rms (clone) from t | IPR doubles at t | final eps_g ODE / SGD |")
|> ignore
md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---|") |> ignore
for c in summary do
    let clone = summary |> Seq.tryFind (fun x -> x.D = c.D && x.Kind = InputKind.Gp)
    let noise = match clone with Some x -> gapNoise x | None -> nan
    // The diagnostic departs when the mean gap over seeds falls below -3 clone rms / sqrt(seeds) and stays there.
    let threshold = -3.0 * noise / sqrt (float c.Gap.Length)
    let meanGap = Array.init c.Times.Length (fun i -> c.Gap |> Array.averageBy (fun g -> g[i]))
    let tGap = firstTime c (fun i -> meanGap[i .. ] |> Array.forall (fun g -> g < threshold))
    let tIpr = firstTime c (fun i -> c.IprPositive[i] > 2.0 * iid c.D)
    let n = c.Times.Length - 1
    let row =
        [| maxAbsDev c.Test c.Ode; maxAbsDev c.Population c.Ode; lateMean c c.Test; lateMean c c.Population; gapNoise c; tGap; tIpr
           c.Ode[n]; c.Test[n]; c.IprPositive[n]; c.KurtosisPositive[n] |]
    summaryTable.Add(net).Add(int64 c.D).Add(kindName c.Kind).AddRange(row).EndRow() |> ignore
    md.AppendLine(
        sprintf "| %d | %s | %.2f%% | %.2f%% | %+.2f%% | %+.2f%% | %.2f%% | %s | %s | %.4f / %.4f |" c.D (kindName c.Kind) (100.0 * row[0])
            (100.0 * row[1]) (100.0 * row[2]) (100.0 * row[3]) (100.0 * row[4])
            (if Double.IsNaN tGap then "-" else sprintf "%.3g" tGap)
            (if Double.IsNaN tIpr then "-" else sprintf "%.3g" tIpr)
            c.Ode[n] c.Test[n]
    )
    |> ignore
summaryTable.Save(Path.Combine(outDir, "summary.csv"))

// The ODE across D against the largest D: the mean over seeds from their own initial weights, and the ODE from the
// seed-averaged initial condition.
let dRef, gridRef, odeRef, meanRef = odeByD[odeByD.Count - 1]
let odeTable =
    CsvTable(
        [ "t" ]
        @ [ for (d, _, _, _) in odeByD -> sprintf "eps_g_ode_d%d" d ]
        @ [ for (d, _, _, _) in odeByD -> sprintf "eps_g_ode_averaged_init_d%d" d ]
    )
for i in 0 .. gridRef.Length - 1 do
    odeTable.Add(gridRef[i]) |> ignore
    for (_, _, e, _) in odeByD do
        odeTable.Add(e[i]) |> ignore
    for (_, _, _, e) in odeByD do
        odeTable.Add(e[i]) |> ignore
    odeTable.EndRow() |> ignore
odeTable.Save(Path.Combine(outDir, "ode_vs_d.csv"))
md.AppendLine() |> ignore
for (d, _, e, m) in odeByD do
    if d <> dRef then
        md.AppendLine(
            sprintf "ODE at D = %d against D = %d, largest relative difference of eps_g: %.2e from the seeds' own weights, %.2e from the seed-averaged initial condition"
                d dRef (maxAbsDev e odeRef) (maxAbsDev m meanRef)
        )
        |> ignore
File.WriteAllText(Path.Combine(outDir, "summary.md"), md.ToString())
printfn "\n%s" (md.ToString())
printfn "wrote %s" (Path.GetFullPath outDir)
