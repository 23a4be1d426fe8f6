/// `theory sample`: draws NLGP and Gaussian-clone images of both classes, writes them, and measures their
/// statistics against the exact ones (SCIENCE.md section 1): pixel variance, covariance (relative squared Frobenius
/// error, with the error expected from sampling noise alone), and the marginal excess kurtosis.
module Theory.Cli.Commands.Sample

open System
open System.Collections.Generic
open System.Text.Json.Nodes
open Theory.Interop
open Theory.Interop.Io
open Theory.Simulation.Data
open Theory.Cli.Options
open Theory.Cli.Shared

/// The two input kinds in the order they are drawn and written, with their names in the files.
let private kinds = [| InputKind.Nlgp, "nlgp"; InputKind.Gp, "gp" |]

/// At most this many pixel values in samples.csv (about 1 GB of text).
let private maxValues = 50_000_000L

/// The empirical covariance (O(D^2) per image) is measured up to this D; beyond, its columns are nan.
let maxCovarianceD = 1024

/// One row of stats.csv.
type private Stats =
    { Kind: string
      Class: int
      Xi: float
      Samples: int
      MaxAbsMean: float
      Variance: float
      ExactVariance: float
      CovError: float
      CovErrorExpected: float
      Kurtosis: float
      KurtosisSe: float
      ExactKurtosis: float }

/// samples.csv: one image per row (pixel i = row * L + column in 2D), NLGP then clone, class 0 then class 1.
let private writeSamples (task: NlgpTask) (count: int) (seed: int) (path: string) =
    let d = task.D
    let table = CsvTable(Array.append [| "kind"; "class"; "label"; "index" |] (Array.init d (sprintf "x%d")))
    let rng = Rng(seed, RngStream.Samples)
    let x = Array.zeroCreate<float> d
    for kind, name in kinds do
        let source = task.CreateSource(kind, rng)
        for a in 0..1 do
            for i in 0 .. count - 1 do
                source.NextOfClass(a, Span x)
                table.Add(name).Add(int64 a).Add(DataSpec.Label a).Add(int64 i).AddRange(ReadOnlySpan x).EndRow() |> ignore
    table.Save path

/// Measures every (kind, class) on fresh images from the Analysis stream.
let private measure (task: NlgpTask) (samples: int) (seed: int) : Stats list =
    let d = task.D
    let withCovariance = d <= maxCovarianceD
    let names = [| for _, name in kinds do for a in 0..1 do yield sprintf "%s class %d" name a |]
    let token = Interrupt.token ()
    Theory.Cli.Progress.run names (fun report ->
        let rng = Rng(seed, RngStream.Analysis)
        let x = Array.zeroCreate<float> d
        [ for k, (kind, name) in Array.indexed kinds do
              let source = task.CreateSource(kind, rng)
              for a in 0..1 do
                  let stats = InputStatistics(d, withCovariance, zeroMean = true)
                  for i in 1..samples do
                      source.NextOfClass(a, Span x)
                      stats.Add(ReadOnlySpan x)
                      if i % 1000 = 0 then
                          token.ThrowIfCancellationRequested()
                          report (2 * k + a) (float i / float samples)
                  report (2 * k + a) 1.0
                  let covError, expected =
                      if withCovariance then
                          let exact = task.InputCovariance a
                          stats.CovarianceError exact, InputStatistics.ExpectedCovarianceError(exact, d, int64 samples, true)
                      else nan, nan
                  let exactKurtosis =
                      if kind = InputKind.Nlgp then
                          InputStatistics.NlgpExcessKurtosis(task.Spec.Gain, task.LatentCovarianceRow(a).[0])
                      else 0.0
                  yield
                      { Kind = name
                        Class = a
                        Xi = task.Spec.Xi a
                        Samples = samples
                        MaxAbsMean = stats.MaxAbsMean
                        Variance = stats.MeanVariance
                        ExactVariance = task.PixelVariance a
                        CovError = covError
                        CovErrorExpected = expected
                        Kurtosis = stats.ExcessKurtosis
                        KurtosisSe = stats.ExcessKurtosisStandardError
                        ExactKurtosis = exactKurtosis } ])

let private writeStats (rows: Stats list) (path: string) =
    let table =
        CsvTable(
            [ "kind"; "class"; "label"; "xi"; "samples"; "max_abs_mean"; "variance"; "variance_exact"
              "cov_rel_error"; "cov_rel_error_expected"; "excess_kurtosis"; "excess_kurtosis_se"; "excess_kurtosis_exact" ]
        )
    for r in rows do
        table
            .Add(r.Kind).Add(int64 r.Class).Add(DataSpec.Label r.Class).Add(r.Xi).Add(int64 r.Samples).Add(r.MaxAbsMean)
            .Add(r.Variance).Add(r.ExactVariance).Add(r.CovError).Add(r.CovErrorExpected)
            .Add(r.Kurtosis).Add(r.KurtosisSe).Add(r.ExactKurtosis)
            .EndRow()
        |> ignore
    table.Save path

/// spectrum.csv (periodic boundaries): the eigenvalues of the latent and input covariances of both classes, by
/// Fourier mode (index in DFT order, signed wave numbers k1, k2 in units of 2 pi / L, and |k|).
let private writeSpectrum (task: NlgpTask) (path: string) =
    let L = task.Spec.Size
    let signed k = if k <= L / 2 then k else k - L
    let table = CsvTable([ "class"; "mode"; "k1"; "k2"; "k_norm"; "latent_eigenvalue"; "input_eigenvalue" ])
    for a in 0..1 do
        let latent, input = task.LatentSpectrum a, task.Spectrum a
        for f in 0 .. task.D - 1 do
            let k1, k2 = if task.Spec.Dim = 1 then signed f, 0 else signed (f / L), signed (f % L)
            table
                .Add(int64 a).Add(int64 f).Add(int64 k1).Add(int64 k2).Add(sqrt (float (k1 * k1 + k2 * k2)))
                .Add(latent[f]).Add(input[f])
                .EndRow()
            |> ignore
    table.Save path

let run (o: Bag) : int =
    let data = dataSpec o
    let seed = o.Get("Seed", 0)
    Check.InRange("--seed", int64 seed, 0L, int64 Int32.MaxValue)
    let count = o.Get("Count", 16)
    Check.InRange("--count", int64 count, 1L, 1_000_000L)
    if int64 count * 4L * int64 data.D > maxValues then
        raise (SpecException("--count", sprintf "count x 4 x D must be at most %d values (got %d x 4 x %d)" maxValues count data.D))
    let statsSamples = o.Get("Stats_Samples", 20000)
    if statsSamples <> 0 && (statsSamples < 2 || statsSamples > 100_000_000) then
        raise (SpecException("--stats-samples", sprintf "must be 0 (no statistics) or an integer in [2, 100000000] (got %d)" statsSamples))
    // samples.csv is held as text (about 24 bytes per value) until it is written; dense covariances are built for
    // the statistics up to D = maxCovarianceD, and with open boundaries.
    let d = float data.D
    ensureMemory
        [ Theory.Simulation.Training.MemoryTerm("--count", "samples.csv", 24.0 * float count * 4.0 * d)
          Theory.Simulation.Training.MemoryTerm("--size", "covariances",
              (if data.Boundary = Boundary.Open then 64.0 * d * d else 0.0)
              + (if statsSamples > 0 && data.D <= maxCovarianceD then 48.0 * d * d else 0.0) + 200.0 * d) ]
    let dir = runDirectory o "sample"
    let task = NlgpTask data
    let printed = HashSet<string>()
    let printWarnings () =
        for w in task.Warnings do
            if printed.Add w then eprintfn "theory sample: warning: %s" w
    printWarnings ()
    let manifest = RunManifest(Seed = Nullable seed)
    addConfig manifest "data" data
    addConfig manifest "count" count
    addConfig manifest "stats_samples" statsSamples
    execute "sample" dir manifest (fun () ->
        writeSamples task count seed (dir.File "samples.csv")
        manifest.Files.Add "samples.csv"
        if task.IsPeriodic then
            writeSpectrum task (dir.File "spectrum.csv")
            manifest.Files.Add "spectrum.csv"
            manifest.Results["smallest_latent_eigenvalue"] <- Json.ToNode [| task.SmallestLatentEigenvalue 0; task.SmallestLatentEigenvalue 1 |]
        let rows = if statsSamples > 0 then measure task statsSamples seed else []
        if not rows.IsEmpty then
            writeStats rows (dir.File "stats.csv")
            manifest.Files.Add "stats.csv"
            manifest.Results["stats"] <-
                Json.ToNode(
                    [| for r in rows ->
                           dict [ "kind", box r.Kind; "class", box r.Class; "variance", box r.Variance
                                  "cov_rel_error", box r.CovError; "excess_kurtosis", box r.Kurtosis
                                  "excess_kurtosis_exact", box r.ExactKurtosis ] |]
                )
        printWarnings ()
        manifest.Results["warnings"] <- Json.ToNode(Array.ofSeq printed)
        let f4 (x: float) = if Double.IsNaN x then "-" else sprintf "%.4f" x
        let g3 (x: float) = if Double.IsNaN x then "-" else x.ToString("0.00e+00", Globalization.CultureInfo.InvariantCulture)
        if not rows.IsEmpty then
            printfn "%s, L = %d, D = %d, gain %g, %d images per class and kind" (if data.Dim = 1 then "ring" else "torus") data.Size data.D data.Gain statsSamples
            printTable
                [| "inputs"; "class"; "xi"; "variance"; "exact"; "cov error"; "expected"; "kurtosis"; "+-"; "exact" |]
                [ for r in rows ->
                      [| r.Kind; string r.Class; sprintf "%g" r.Xi; f4 r.Variance; f4 r.ExactVariance; g3 r.CovError
                         g3 r.CovErrorExpected; f4 r.Kurtosis; f4 r.KurtosisSe; f4 r.ExactKurtosis |] ]
        printfn "wrote %s to %s" (String.Join(", ", manifest.Files)) dir.Path)
