/// The overlay's statistics (SCIENCE.md section 4, "Validity"): the breakdown detector on synthetic curves (a
/// divergence it is given, none on identical curves or on noise alone), the test-set sampling variance against Monte
/// Carlo, the shared initial state of ODE and SGD runs (`TrainingSpec.InitSeed`), and small real overlays: at gain
/// 0.01 the NLGP and clone runs agree and no breakdown is reported; at gain 10 the NLGP runs leave the clone band.
module Theory.Tests.OverlayTests

open System
open Xunit
open FsCheck
open FsCheck.FSharp
open Theory.Interop
open Theory.Gaussian
open Theory.Get
open Theory.Overlay
open Theory.Overlay.Breakdown
open Theory.Simulation.Data
open Theory.Simulation.Training

let private det = DetectorSettings.defaults

/// The default logging grid (t = 0, then 100 log-spaced times from 0.01 to 10^4).
let private grid = TimeGrid.LogSpaced(0.01, 1e4, 100)

/// A smooth learning curve and a noise scale that changes by two decades over the grid.
let private curve (t: float) = 0.5 - 0.2 * log10 (1.0 + t) / 4.0
let private sigma (t: float) = 1e-3 * (1.0 + 10.0 * t / (t + 100.0)) ** 2.0

/// `runs` noisy copies of the curve plus `shift`, independent normal noise of scale sigma at every time.
let private noisyRuns (rng: Rng) (runs: int) (shift: float -> float) =
    Array.init runs (fun _ -> grid |> Array.map (fun t -> curve t + shift t + sigma t * rng.NextGaussian()))

[<Fact>]
let ``identical curves give z = 0 everywhere and no breakdown`` () =
    let runs = noisyRuns (Rng(1, RngStream.Analysis)) 3 (fun _ -> 0.0)
    let z = zScores det grid runs (Array.map Array.copy runs)
    Assert.All(z, fun x -> Assert.Equal(0.0, x))
    Assert.Equal(None, divergence det grid runs runs)
    // Zero spread and zero difference (the same curve in every run): still 0, not NaN.
    let flat = Array.init 3 (fun _ -> Array.map curve grid)
    Assert.Equal(None, divergence det grid flat flat)
    Assert.All(zScores det grid flat flat, fun x -> Assert.Equal(0.0, x))

[<Fact>]
let ``a step divergence it is given is reported at the step`` () =
    // Property over seeds and step positions: a shift of 15 noise scales after grid time k0 is found at k0, or
    // earlier only where the noise alone already put z beyond the threshold (same sign) at every grid time from the
    // report up to k0: the detector reports the first time of a persistent run, and such a run may start just before
    // the step (about 1 case in 1,300 at k0 - 1; the former version of this property failed on those).
    let prop (seed: int) (k: int) =
        let k0 = 5 + abs k % 90
        let rng = Rng(abs seed, RngStream.Analysis)
        let reference = noisyRuns rng 3 (fun _ -> 0.0)
        let other = noisyRuns rng 3 (fun t -> if t >= grid[k0] then -15.0 * sigma t else 0.0)
        let z = zScores det grid reference other
        match divergence det grid reference other with
        | Some d ->
            d.Index <= k0 && d.Time = grid[d.Index] && d.Z < 0.0
            && Array.forall (fun i -> z[i] <= -det.Threshold) [| d.Index .. k0 - 1 |]
        | None -> false
    Check.One(Config.QuickThrowOnFailure.WithMaxTest(200), Prop.forAll (Arb.fromGen (Gen.zip (Gen.choose (0, 100000)) (Gen.choose (0, 1000)))) (fun (s, k) -> prop s k))

[<Fact>]
let ``a slowly growing divergence is reported once it exceeds a few standard errors`` () =
    // The NLGP mean drifts away linearly in log t from t = 1; the standard error of the difference of two means of
    // 3 runs is sigma sqrt(2/3). It must be reported after the drift reaches 1 standard error and before 8.
    for seed in 0 .. 49 do
        let rng = Rng(seed, RngStream.Analysis)
        let drift (t: float) = if t <= 1.0 then 0.0 else 2.0 * log10 t * sigma t
        let reference = noisyRuns rng 3 (fun _ -> 0.0)
        let other = noisyRuns rng 3 drift
        let se (t: float) = sigma t * sqrt (2.0 / 3.0)
        match divergence det grid reference other with
        | None -> failwithf "seed %d: the drift was not detected" seed
        | Some d ->
            let t = d.Time
            Assert.True(drift t >= 1.0 * se t && drift t <= 8.0 * se t, sprintf "seed %d: reported at t = %g, drift %g SE" seed t (drift t / se t))

[<Fact>]
let ``curves that differ only by the noise of the clone spread rarely raise an alarm`` () =
    // 3 reference and 3 other runs of the same process, independent noise at every time, the spread changing over
    // two decades: with |z| >= 3.5 at 3 consecutive times and the variance pooled over +-0.5 decades, a false alarm
    // needs three improbable excursions in a row. 1000 datasets; a detector without persistence or pooling raises
    // one in most datasets (checked below), this one in well under 1%.
    let datasets = 1000
    let mutable alarms = 0
    let mutable naive = 0
    let single = { det with Persistence = 1; WindowDecades = 0.0 }
    for seed in 0 .. datasets - 1 do
        let rng = Rng(seed, RngStream.Samples)
        let reference = noisyRuns rng 3 (fun _ -> 0.0)
        let other = noisyRuns rng 3 (fun _ -> 0.0)
        if (divergence det grid reference other).IsSome then alarms <- alarms + 1
        if (divergence single grid reference other).IsSome then naive <- naive + 1
    Assert.True(alarms <= datasets / 100, sprintf "%d false alarms in %d datasets" alarms datasets)
    Assert.True(naive > datasets / 2, sprintf "the naive detector raised only %d alarms in %d datasets" naive datasets)

[<Fact>]
let ``noise that persists in time, at its known variance, rarely raises an alarm`` () =
    // Each run's measurement error persists from one grid time to the next (AR(1), correlation 0.9 between
    // neighbours, as a fixed test set gives): persistence protects less, so the known measurement variance and the
    // threshold must carry the test. Measured: 0.5% of curves at threshold 3.5 (3.3% at threshold 3, which is why
    // the default is 3.5); bound 1%, which a threshold of 3 fails.
    let datasets = 1000
    let rho = 0.9
    let persistent (rng: Rng) runs =
        Array.init runs (fun _ ->
            let mutable e = rng.NextGaussian()
            grid |> Array.mapi (fun i t ->
                if i > 0 then e <- rho * e + sqrt (1.0 - rho * rho) * rng.NextGaussian()
                curve t + sigma t * e))
    let known = grid |> Array.map (fun t -> sigma t * sigma t)
    let noise = { RunToRun = Array.zeroCreate grid.Length; ReferenceMeasurement = known; OtherMeasurement = known }
    let alarms settings =
        let mutable count = 0
        for seed in 0 .. datasets - 1 do
            let rng = Rng(seed, RngStream.Samples)
            let reference = persistent rng 3
            let other = persistent rng 3
            if (firstPersistent settings grid (zScoresWith noise reference other)).IsSome then count <- count + 1
        count
    let atDefault = alarms det
    Assert.True(atDefault <= datasets / 100, sprintf "%d false alarms in %d datasets" atDefault datasets)
    let lax = alarms { det with Threshold = 3.0 }
    Assert.True(lax > datasets / 100, sprintf "threshold 3: only %d false alarms in %d datasets" lax datasets)

[<Fact>]
let ``a single outlier is not a breakdown, nor a stretch cut short by the end`` () =
    let rng = Rng(3, RngStream.Analysis)
    let reference = noisyRuns rng 3 (fun _ -> 0.0)
    let spike = noisyRuns rng 3 (fun t -> if t = grid[40] then 50.0 * sigma t else 0.0)
    Assert.Equal(None, divergence det grid reference spike)
    let n = grid.Length
    let late = noisyRuns rng 3 (fun t -> if t >= grid[n - 2] then 50.0 * sigma t else 0.0)
    Assert.Equal(None, divergence det grid reference late)
    // A stretch of exactly `Persistence` points at the end counts.
    let last3 = noisyRuns rng 3 (fun t -> if t >= grid[n - 3] then 50.0 * sigma t else 0.0)
    Assert.Equal(Some(n - 3), divergence det grid reference last3 |> Option.map (fun d -> d.Index))

[<Fact>]
let ``z of a known shift against known noise is the shift over the standard error`` () =
    let reference = [| [| 1.0; 2.0 |]; [| 1.0; 2.0 |] |]
    let other = [| [| 1.5; 2.0 |]; [| 1.5; 2.0 |]; [| 1.5; 2.0 |] |]
    let noise = { RunToRun = [| 0.04; 0.04 |]; ReferenceMeasurement = [| 0.02; 0.0 |]; OtherMeasurement = [| 0.03; 0.0 |] }
    let z = zScoresWith noise reference other
    Assert.Equal(0.5 / sqrt (0.04 * (1.0 / 2.0 + 1.0 / 3.0) + 0.02 / 2.0 + 0.03 / 3.0), z[0], 12)
    Assert.Equal(0.0, z[1])
    let zc = zAgainstCurve [| 0.04; 0.04 |] [| 0.05; 0.05 |] other [| 1.0; 1.0 |]
    Assert.Equal(0.5 / sqrt (0.09 / 3.0), zc[0], 12)

[<Fact>]
let ``the IPR rise time is when the series reaches the factor for good`` () =
    let t = [| 0.0; 1.0; 2.0; 3.0; 4.0; 5.0 |]
    Assert.Equal(Some(4, 4.0), riseTime 2.0 t [| 1.0; 1.2; 2.5; 1.9; 2.0; 3.0 |])
    Assert.Equal(None, riseTime 2.0 t [| 1.0; 1.2; 2.5; 3.0; 2.0; 1.9 |])
    Assert.Equal(None, riseTime 2.0 t [| 1.0; 1.0; 1.0; 1.0; 1.0; 1.0 |])
    Assert.Equal(Some(0, 0.0), riseTime 1.0 t [| 1.0; 1.0; 1.0; 1.0; 1.0; 1.0 |])

[<Fact>]
let ``the test-set variance of eps_g matches Monte Carlo over test sets`` () =
    // K = 3 erf units with biases, two classes with different covariances: draw many test sets of Gaussian
    // pre-activations directly and compare the variance of their eps_g estimates with the formula. The sample
    // variance of R estimates has relative standard error sqrt(2 / (R - 1)) (3.2% at R = 2000); tolerance 4 of those.
    let k = 3
    let q0 = [| 0.8; 0.3; -0.1; 0.3; 0.5; 0.2; -0.1; 0.2; 0.6 |]
    let q1 = [| 1.5; -0.4; 0.3; -0.4; 1.1; 0.5; 0.3; 0.5; 0.9 |]
    let op = OrderParameters(k, [| q0; q1 |], null, null, [| 0.6; -0.3; 0.4 |], [| 0.5; -0.7; 0.2 |])
    let testSize = 200
    let formula = TestSetNoise.variance Erf 12 testSize op
    let rng = Rng(11, RngStream.Analysis)
    let chol (q: float[]) =
        let l = Array.zeroCreate 9
        for j in 0 .. 2 do
            let mutable d = q[j * 3 + j]
            for p in 0 .. j - 1 do d <- d - l[j * 3 + p] ** 2.0
            l[j * 3 + j] <- sqrt d
            for i in j + 1 .. 2 do
                let mutable s = q[i * 3 + j]
                for p in 0 .. j - 1 do s <- s - l[i * 3 + p] * l[j * 3 + p]
                l[i * 3 + j] <- s / l[j * 3 + j]
        l
    let ls = [| chol q0; chol q1 |]
    let replicates = 2000
    let estimates =
        Array.init replicates (fun _ ->
            let mutable s = 0.0
            for i in 0 .. testSize - 1 do
                let a = if i < testSize / 2 then 0 else 1
                let z = Array.init 3 (fun _ -> rng.NextGaussian())
                let mutable phi = 0.0
                for u in 0 .. 2 do
                    let mutable x = op.B[u]
                    for p in 0 .. u do x <- x + ls[a][u * 3 + p] * z[p]
                    phi <- phi + op.V[u] * Activation.value Erf x
                let d = DataSpec.Label a - phi
                s <- s + 0.5 * d * d
            s / float testSize)
    let m = Array.average estimates
    let empirical = (estimates |> Array.sumBy (fun e -> (e - m) ** 2.0)) / float (replicates - 1)
    let tolerance = 4.0 * sqrt (2.0 / float (replicates - 1))
    Assert.True(abs (empirical / formula - 1.0) < tolerance, sprintf "Monte Carlo %g, formula %g" empirical formula)
    // The mean of the estimates is the exact eps_g (closed form), within its standard error.
    let exact = fst (Engine.nlgpErrorAt Erf QuadratureSettings.defaults 0 op)
    Assert.True(abs (m - exact) < 4.0 * sqrt (formula / float replicates), sprintf "mean %g, exact %g" m exact)

/// 1D ring of 40 (seconds per run): the setting where the positive population localises on NLGP inputs by t ~ 10^3.
let private ring = DataSpec(Dim = 1, Size = 40)
let private ringTraining = TrainingSpec(Time = 1000.0, TestSize = 1000, LogPoints = 60, Snapshots = 0)

[<Fact>]
let ``runs with different sample seeds and one init seed start from the ODE's initial state`` () =
    let net = NetworkSpec()
    let task = NlgpTask ring
    let short = TrainingSpec(Time = 5.0, TestSize = 100, LogPoints = 4, Snapshots = 0)
    let runOf seed kind = SimulationRun.Run(task, net, short.ForRun(seed, kind, 7))
    let a, b, c = runOf 3 InputKind.Nlgp, runOf 4 InputKind.Nlgp, runOf 5 InputKind.Gp
    let q (r: SimulationResult) i = r.Points[i].OrderParameters.Q
    // Bitwise the same initial weights (so the same t = 0 order parameters), different trajectories after.
    Assert.Equal<float[][]>(q a 0, q b 0)
    Assert.Equal<float[][]>(q a 0, q c 0)
    Assert.NotEqual<float[]>((q a 1)[0], (q b 1)[0])
    // The ODE of the same init seed starts there (order parameters from Fourier densities vs from the weights).
    let problem, ode = Engine.integrate ring net (short.ForRun(0, InputKind.Nlgp, 7)) { Engine.IntegrationOptions.defaults with ClassError = false }
    ignore problem
    let q0 = ode.Rows[0].Order.Q
    let qa = q a 0
    for cls in 0 .. 1 do
        for i in 0 .. q0[cls].Length - 1 do
            Assert.Equal(q0[cls].[i], qa[cls].[i], 12)
    // Without an init seed the weights follow the sample seed, as before the option existed.
    let plain = SimulationRun.Run(task, net, TrainingSpec(Time = 5.0, TestSize = 100, LogPoints = 4, Snapshots = 0, Seed = 7))
    let same = SimulationRun.Run(task, net, TrainingSpec(Time = 5.0, TestSize = 100, LogPoints = 4, Snapshots = 0, Seed = 7, InitSeed = 7))
    Assert.Equal(SimulationTables.Trajectory([| plain |]).ToString(), SimulationTables.Trajectory([| same |]).ToString())
    Assert.Equal<float[][]>(q plain 0, q a 0)

let private overlayAt (gain: float) =
    let settings = Overlay.Settings.defaults
    let o = Overlay.run (ring.WithGain gain) (NetworkSpec()) ringTraining settings (fun _ _ -> ()) Threading.CancellationToken.None
    o, Overlay.report settings o

[<Fact>]
let ``at gain 0.01 NLGP and clone runs agree statistically and no breakdown is reported`` () =
    let o, r = overlayAt 0.01
    Assert.Equal(Schedule(ringTraining, ring.D).LogSteps.Length, o.Length)
    Assert.Equal(None, r.Breakdown)
    Assert.Equal(None, r.GapBreakdown)
    Assert.Equal(None, r.IprRise)
    // The z-scores look standard normal: no |z| beyond 4 anywhere, root mean square of order 1.
    let rms (z: float[]) = sqrt (Array.averageBy (fun x -> x * x) z)
    Assert.All(Array.append r.EpsZ r.GapZ, fun z -> Assert.True(abs z < 4.0, sprintf "z = %g" z))
    Assert.InRange(rms r.EpsZ, 0.2, 2.0)
    // The noise model: each clone run's measured minus exact eps_g is test-set noise of the computed variance.
    Assert.InRange(r.CloneGapRms, 0.6, 1.5)
    // The ODE and both kinds start from the same state.
    Assert.Equal(o.Ode.Rows[0].EpsG, o.CloneGaussian[0][0], 12)
    Assert.Equal(o.Ode.Rows[0].EpsG, o.NlgpGaussian[2][0], 12)

[<Fact>]
let ``at gain 10 the NLGP runs leave the clone band when the positive population localises`` () =
    let _, r = overlayAt 10.0
    // Measured here: breakdown at t ~ 440, the gap earlier (~310), IPR twice its initial value at ~440.
    let b = r.Breakdown.Value
    let gap = r.GapBreakdown.Value
    let rise = snd r.IprRise.Value
    Assert.True(b.Z < 0.0 && gap.Z < 0.0, "the NLGP error falls below the clone's")
    Assert.Equal("pos", r.LocalisedPopulation)
    Assert.True(b.Time > 10.0 && b.Time < 1000.0, sprintf "breakdown at %g" b.Time)
    Assert.True(gap.Time <= b.Time, sprintf "gap %g after eps_g %g" gap.Time b.Time)
    Assert.True(rise > 10.0, sprintf "IPR rise at %g" rise)
    Assert.Equal(None, r.CloneIprRise)
    Assert.InRange(r.CloneGapRms, 0.6, 1.5)
    // The clone follows the ODE within its noise: no persistent departure on this short run.
    Assert.Equal(None, r.CloneLeavesOde)
    Assert.True(abs r.CloneDeparture.Relative < 0.02, sprintf "clone departs from the ODE by %g" r.CloneDeparture.Relative)
