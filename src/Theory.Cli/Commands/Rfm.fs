/// `theory rfm`: recursive feature machines (Laplace kernel) and ConvRFM (patch kernel) on NLGP or Gaussian-clone
/// images (SCIENCE.md section 6). Writes metrics.csv (per iteration), band.csv (band profile of M per iteration),
/// metric.csv (the final M), eigvecs.csv (its top eigenvectors; ConvRFM also eigvec_<r>.csv as q x q images) and
/// plot_rfm.py.
module Theory.Cli.Commands.Rfm

open System
open System.Diagnostics
open System.Text.Json.Nodes
open Theory.Interop
open Theory.Interop.Io
open Theory.Simulation.Data
open Theory.Simulation.Kernels
open Theory.Cli.Options
open Theory.Cli.Shared

/// Number of top eigenvectors of the final metric written to eigvecs.csv.
let private topEigenvectors = 8

/// The RFM specification from the options (validated against the data).
let rfmSpec (o: Bag) (data: DataSpec) : RfmSpec =
    let d = RfmSpec()
    let inputs = inputKind o d.Inputs
    let normalisation =
        o.TryGet<string> "Normalise"
        |> Option.map (choice "--normalise" [ "max", AgopNormalisation.Max; "none", AgopNormalisation.None ])
        |> Option.defaultValue d.Normalisation
    // ConvRFM costs about q^dim times more per pair of images: smaller default sets.
    let conv = o.Flag "Conv"
    let defaultSize = if conv then 2000 else d.Train
    RfmSpec(
        Convolutional = conv,
        Patch = o.Get("Patch", d.Patch),
        Train = o.Get("Rfm_Train", defaultSize),
        Test = o.Get("Rfm_Test", defaultSize),
        Bandwidth = o.Get("Bandwidth", d.Bandwidth),
        Ridge = o.Get("Ridge", d.Ridge),
        Iterations = o.Get("Rfm_Iterations", d.Iterations),
        Normalisation = normalisation,
        Centre = o.Flag "Centre",
        Seed = o.Get("Seed", d.Seed),
        Inputs = inputs
    )
        .Validate(data)

/// A matrix as CSV: header col_0..col_{c-1}, one row per matrix row.
let private saveMatrix (path: string) (rows: int) (cols: int) (m: float[]) =
    let t = CsvTable(Array.init cols (sprintf "col_%d"))
    for i in 0 .. rows - 1 do
        t.AddRange(ReadOnlySpan(m, i * cols, cols)).EndRow() |> ignore
    t.Save path

/// Row and column of index i in a geometry (1D: a 1 x L image).
let private rowCol (g: ImageGeometry) (i: int) = if g.Dim = 1 then 0, i else i / g.Size, i % g.Size

let private plotScript =
    """#!/usr/bin/env python3
# Figures of a `theory rfm` run: test accuracy and MSE per iteration, the band profile of the metric M per
# iteration, the final M, and its top eigenvectors as images. Usage: python3 plot_rfm.py [RUN_DIR]; writes rfm.png.
import csv, json, os, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

run = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
def table(name):
    with open(os.path.join(run, name)) as f:
        rows = list(csv.DictReader(f))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}

manifest = json.load(open(os.path.join(run, "manifest.json")))
cfg = manifest["config"]
metrics, band, eig = table("metrics.csv"), table("band.csv"), table("eigvecs.csv")
metric = np.loadtxt(os.path.join(run, "metric.csv"), delimiter=",", skiprows=1, ndmin=2)
kind = ("ConvRFM" if cfg["rfm"]["convolutional"] else "RFM") + (", centred" if cfg["rfm"].get("centre") else "")
title = "%s on %s inputs, gain %g" % (kind, cfg["rfm"]["inputs"], cfg["data"]["gain"])

spectrum = table("spectrum.csv") if os.path.exists(os.path.join(run, "spectrum.csv")) else None
fig, ax = plt.subplots(1, 5 if spectrum else 4, figsize=(21 if spectrum else 17, 4))
it = metrics["iteration"]
ax[0].plot(it, metrics["test_accuracy"], "o-", label="test accuracy")
ax[0].set_xlabel("iteration (0 = fixed kernel, M = I)"); ax[0].set_ylabel("test accuracy")
a2 = ax[0].twinx(); a2.plot(it, metrics["test_mse"], "s--", color="C1"); a2.set_ylabel("test MSE", color="C1")
ax[0].set_title(title)
for t in np.unique(band["iteration"]):
    sel = band["iteration"] == t
    r, m = band["distance"][sel], band["relative_entry"][sel]
    rs = np.unique(np.round(r, 9))
    ax[1].plot(rs, [m[np.round(r, 9) == x].mean() for x in rs], "o-", ms=3, label="iteration %d" % t)
ax[1].axhline(0, color="k", lw=0.5); ax[1].set_xlabel("pixel distance"); ax[1].set_ylabel("mean M(i, i+d) / mean M(i, i)")
ax[1].set_title("band profile of M"); ax[1].legend(fontsize=7)
if spectrum:
    a = ax[4]
    for t in np.unique(spectrum["iteration"]):
        sel = spectrum["iteration"] == t
        k, p = spectrum["wavenumber"][sel], spectrum["power"][sel]
        ks = np.unique(np.round(k, 9))
        pk = np.array([p[np.round(k, 9) == x].mean() for x in ks])
        a.plot(ks, pk / pk.max(), "o-", ms=3, label="iteration %d" % t)
    a.set_xlabel("wavenumber |k| (2 pi / L)"); a.set_ylabel("power of M (max = 1)"); a.set_title("spectrum of the band")
    a.legend(fontsize=7)
v = np.abs(metric).max()
im = ax[2].imshow(metric, cmap="RdBu_r", vmin=-v, vmax=v); fig.colorbar(im, ax=ax[2]); ax[2].set_title("final M")
ranks = np.unique(eig["rank"]).astype(int)[:4]
rows, cols = int(eig["row"].max()) + 1, int(eig["col"].max()) + 1
ax[3].axis("off"); ax[3].set_title("top eigenvectors of M")
for k, r in enumerate(ranks):
    sel = eig["rank"] == r
    img = np.zeros((rows, cols)); img[eig["row"][sel].astype(int), eig["col"][sel].astype(int)] = eig["value"][sel]
    sub = ax[3].inset_axes([0.02 + 0.245 * k, 0.2, 0.23, 0.6])
    w = np.abs(img).max()
    if rows == 1: sub.plot(img[0]); sub.set_yticks([])
    else: sub.imshow(img, cmap="RdBu_r", vmin=-w, vmax=w); sub.set_xticks([]); sub.set_yticks([])
    sub.set_title("#%d (%.3g)" % (r, eig["eigenvalue"][sel][0]), fontsize=8)
fig.tight_layout()
out = os.path.join(run, "rfm.png")
fig.savefig(out, dpi=110)
print(out)
"""

let run (o: Bag) : int =
    let data = dataSpec o
    let spec = rfmSpec o data
    let backend =
        o.TryGet<string> "Blas"
        |> Option.map (choice "--blas" [ "auto", BlasBackend.Auto; "managed", BlasBackend.Managed; "openblas", BlasBackend.OpenBlas ])
        |> Option.defaultValue BlasBackend.Auto
    let threads = o.Get("Blas_Threads", Environment.ProcessorCount)
    let la = DenseLinearAlgebra.Create(backend, threads)
    // The n x n kernel matrix (plus ConvRFM's patch features) must fit in memory: say so before any work.
    let needed =
        8.0 * float spec.Train * float spec.Train
        + (if spec.Convolutional then 8.0 * float spec.Train * float data.D * float (pown spec.Patch data.Dim) else 0.0)
    // The training and test images themselves (n x D each).
    let images = 8.0 * float (spec.Train + spec.Test) * float data.D
    let available = float (GC.GetGCMemoryInfo().TotalAvailableMemoryBytes)
    if needed + images > 0.8 * available then
        let option = if images > needed then "--test" else "--train"
        raise (SpecException(option, sprintf "n = %d and %d test points need about %.1f GB for the kernel matrix and the images; this machine has %.1f GB" spec.Train spec.Test ((needed + images) / 1e9) (available / 1e9)))
    let dir = runDirectory o "rfm"
    let manifest = RunManifest(Seed = spec.Seed)
    addConfig manifest "data" data
    addConfig manifest "rfm" spec
    manifest.Config["blas"] <- JsonValue.Create la.Name
    manifest.Config["threads"] <- JsonValue.Create la.Threads
    execute "rfm" dir manifest (fun () ->
        let task = NlgpTask data
        for w in task.Warnings do eprintfn "theory rfm: warning: %s" w
        let struct (trainX, trainY) = RecursiveFeatureMachine.Draw(task, spec.Inputs, spec.Train, Rng(spec.Seed, RngStream.Kernel))
        let struct (testX, testY) = RecursiveFeatureMachine.Draw(task, spec.Inputs, spec.Test, Rng(spec.Seed, RngStream.TestSet))
        let geometry = ImageGeometry data
        let machine, metricGeometry =
            if spec.Convolutional then
                let m = ConvolutionalKernelMachine(geometry, spec.Patch, trainX, trainY, spec.Bandwidth, spec.Ridge, la)
                m :> IMetricKernelMachine, m.PatchGeometry
            else
                LaplaceKernelMachine(trainX, trainY, spec.Bandwidth, spec.Ridge, la) :> IMetricKernelMachine, geometry

        let metrics =
            CsvTable(
                [ "iteration"; "test_accuracy"; "test_mse"; "train_mse"; "metric_trace"; "top_eigenvalue_share"
                  "top_eigenvector_ipr"; "effective_rank"; "band_rms_width"; "band_nn_ratio"; "mean_wavenumber" ]
            )
        let band = CsvTable([ "iteration"; "dx"; "dy"; "distance"; "mean_entry"; "relative_entry" ])
        let spectrum = CsvTable([ "iteration"; "kx"; "ky"; "wavenumber"; "power" ])
        let rows = ResizeArray<RfmIteration>()
        let timings = JsonArray()
        manifest.Results["iteration_seconds"] <- timings
        let md = machine.MetricDim
        let record (r: RfmIteration) (metric: float[]) =
            let s = r.Metric
            metrics
                .Add(int64 r.Iteration).Add(r.TestAccuracy).Add(r.TestMse).Add(r.TrainMse).Add(s.Trace)
                .Add(s.TopEigenvalueShare).Add(s.TopEigenvectorIpr).Add(s.EffectiveRank).Add(s.BandRmsWidth)
                .Add(s.NearestNeighbourRatio).Add(s.MeanWavenumber)
                .EndRow()
            |> ignore
            let profile = BandProfile.Of(metric, metricGeometry)
            for k in 0 .. profile.Mean.Length - 1 do
                band
                    .Add(int64 r.Iteration).Add(int64 profile.Dx[k]).Add(int64 profile.Dy[k]).Add(profile.Distance[k])
                    .Add(profile.Mean[k]).Add(profile.Mean[k] / profile.Diagonal)
                    .EndRow()
                |> ignore
            match profile.Spectrum() |> Option.ofObj with
            | Some sp ->
                for f in 0 .. sp.Power.Length - 1 do
                    spectrum.Add(int64 r.Iteration).Add(int64 sp.Kx[f]).Add(int64 sp.Ky[f]).Add(sp.Wavenumber[f]).Add(sp.Power[f]).EndRow()
                    |> ignore
                spectrum.Save(dir.File "spectrum.csv")
            | None -> ()
            // Rewritten after every fit, so an interrupted run keeps every finished iteration.
            metrics.Save(dir.File "metrics.csv")
            band.Save(dir.File "band.csv")
            saveMatrix (dir.File "metric.csv") md md metric
            rows.Add r
            // Wall-clock times go to the manifest, not the CSV, so that the CSV files are bitwise reproducible.
            let t = JsonObject()
            t["iteration"] <- JsonValue.Create r.Iteration
            t["fit_seconds"] <- JsonValue.Create r.FitSeconds
            t["test_seconds"] <- JsonValue.Create r.TestSeconds
            t["agop_seconds"] <- JsonValue.Create r.AgopSeconds
            timings.Add t

        let clock = Stopwatch.StartNew()
        let label =
            if spec.Convolutional then sprintf "ConvRFM q=%d n=%d D=%d" spec.Patch spec.Train data.D
            else sprintf "RFM n=%d D=%d" spec.Train data.D
        let final =
            Theory.Cli.Progress.run [| label |] (fun report ->
                RecursiveFeatureMachine.Run(
                    machine, spec, testX, testY, metricGeometry, Action<_, _>(record), Action<float>(report 0),
                    Interrupt.token ()
                ))

        // Top eigenvectors of the final metric, long format; ConvRFM also as q x q matrices.
        let factor = MetricFactor.Of(final, md)
        let eig = CsvTable([ "rank"; "eigenvalue"; "index"; "row"; "col"; "value" ])
        let top = min topEigenvectors md
        for r in 0 .. top - 1 do
            let v = factor.Eigenvector r
            for i in 0 .. md - 1 do
                let row, col = rowCol metricGeometry i
                eig.Add(int64 (r + 1)).Add(factor.Eigenvalues[r]).Add(int64 i).Add(int64 row).Add(int64 col).Add(v[i]).EndRow()
                |> ignore
            if spec.Convolutional then
                let rowsN, colsN = (if metricGeometry.Dim = 1 then 1 else spec.Patch), spec.Patch
                saveMatrix (dir.File(sprintf "eigvec_%d.csv" (r + 1))) rowsN colsN v
        eig.Save(dir.File "eigvecs.csv")
        AtomicFile.WriteAllText(dir.File "plot_rfm.py", plotScript)

        let first, last = rows[0], rows[rows.Count - 1]
        let res = manifest.Results
        res["fixed_kernel_accuracy"] <- JsonValue.Create first.TestAccuracy
        res["fixed_kernel_mse"] <- JsonValue.Create first.TestMse
        res["final_accuracy"] <- JsonValue.Create last.TestAccuracy
        res["final_mse"] <- JsonValue.Create last.TestMse
        res["best_accuracy"] <- JsonValue.Create(rows |> Seq.map (fun r -> r.TestAccuracy) |> Seq.max)
        res["final_band_rms_width"] <- JsonValue.Create last.Metric.BandRmsWidth
        res["final_band_nn_ratio"] <- JsonValue.Create last.Metric.NearestNeighbourRatio
        res["final_top_eigenvector_ipr"] <- JsonValue.Create last.Metric.TopEigenvectorIpr
        res["seconds"] <- JsonValue.Create clock.Elapsed.TotalSeconds
        res["peak_working_set_mb"] <- JsonValue.Create(float (Process.GetCurrentProcess().PeakWorkingSet64) / 1048576.0)
        manifest.Files <-
            ResizeArray(
                [ "metrics.csv"; "band.csv"; "metric.csv"; "eigvecs.csv"; "plot_rfm.py" ]
                @ (if metricGeometry.Boundary = Boundary.Periodic then [ "spectrum.csv" ] else [])
                @ (if spec.Convolutional then [ for r in 1..top -> sprintf "eigvec_%d.csv" r ] else [])
            )

        let kind =
            (if spec.Convolutional then sprintf "ConvRFM (q = %d)" spec.Patch else "RFM")
            + (if spec.Centre then ", centred AGOP" else "")
        let inputs = if spec.Inputs = InputKind.Nlgp then "NLGP" else "Gaussian clone"
        printfn "%s on %s inputs (gain %g, xi %g %g, D = %d), n = %d, test %d, L = %g, lambda = %g, %s x %d"
            kind inputs data.Gain data.Xi0 data.Xi1 data.D spec.Train spec.Test spec.Bandwidth spec.Ridge la.Name la.Threads
        let f (x: float) = if Double.IsNaN x then "-" else sprintf "%.4g" x
        printTable
            [| "iteration"; "accuracy"; "mse"; "band width"; "nn ratio"; "mean |k|"; "top-eig IPR"; "eff. rank" |]
            [ for r in rows ->
                  [| string r.Iteration; sprintf "%.4f" r.TestAccuracy; f r.TestMse; f r.Metric.BandRmsWidth
                     f r.Metric.NearestNeighbourRatio; f r.Metric.MeanWavenumber; f r.Metric.TopEigenvectorIpr
                     f r.Metric.EffectiveRank |] ]
        printfn "fixed kernel (M = I): accuracy %.4f; learned metric: accuracy %.4f. Files in %s (plot: python3 %s)"
            first.TestAccuracy last.TestAccuracy dir.Path (dir.File "plot_rfm.py"))
