/// Where a group of runs leaves another: the statistics behind `theory overlay`'s breakdown report (SCIENCE.md
/// section 4, "Validity"). The noise scale is not a fixed tolerance: it is the run-to-run (finite-size SGD) spread
/// measured on the reference runs (the Gaussian clone), plus the known sampling variance of each run's test-set
/// measurement.
///
/// Series are given as `runs[r][i]`: run r at aligned grid time i (every run has the same length).
module Theory.Overlay.Breakdown

open System

/// Settings of the divergence detector.
type DetectorSettings =
    { /// A grid time counts as departed when |z| is at least this.
      Threshold: float
      /// ... for this many consecutive grid times with the same sign (the first of them is the reported time).
      Persistence: int
      /// Half-width, in decades of t, of the window over which the run-to-run variance is pooled (0 = no pooling).
      WindowDecades: float }

module DetectorSettings =
    /// |z| >= 3.5 at 3 consecutive grid times; run-to-run variance pooled over +-0.5 decades (+-8 grid times on the
    /// default 100-point grid from 0.01 to 10^4, where 3 grid times span 0.13 decades). A run's test-set error
    /// persists from one logged time to the next, so consecutive z are correlated and persistence alone protects
    /// little: for z standard normal and correlated 0.9 to 0.99 between neighbouring times, 1000s of simulated 101-point
    /// curves give false alarms in 3.3% (threshold 3) and 0.5% (3.5) of them (tests/Theory.Tests/OverlayTests.fs).
    let defaults = { Threshold = 3.5; Persistence = 3; WindowDecades = 0.5 }

    /// Throws `ArgumentException` naming the field when a setting is out of range.
    let validate (s: DetectorSettings) =
        if not (Double.IsFinite s.Threshold) || s.Threshold <= 0.0 then
            invalidArg "Threshold" (sprintf "must be a finite number > 0 (got %g)" s.Threshold)
        if s.Persistence < 1 then invalidArg "Persistence" (sprintf "must be >= 1 (got %d)" s.Persistence)
        if not (s.WindowDecades >= 0.0) then invalidArg "WindowDecades" (sprintf "must be >= 0 (got %g)" s.WindowDecades)
        s

/// Across-run statistics at each grid time.
type Band =
    { Mean: float[]
      /// Sample standard deviation (n - 1 in the denominator; 0 for a single run).
      Sd: float[]
      Min: float[]
      Max: float[]
      Runs: int }

let private length (runs: float[][]) =
    if runs.Length = 0 then invalidArg "runs" "needs at least one run"
    let n = runs[0].Length
    for r in runs do
        if r.Length <> n then invalidArg "runs" (sprintf "every run needs the same number of grid times (%d and %d)" n r.Length)
    n

/// Mean, standard deviation, minimum and maximum over runs at each grid time.
let band (runs: float[][]) : Band =
    let n = length runs
    let count = runs.Length
    let mean = Array.zeroCreate n
    let sd = Array.zeroCreate n
    let lo = Array.zeroCreate n
    let hi = Array.zeroCreate n
    for i in 0 .. n - 1 do
        let mutable s = 0.0
        let mutable a = Double.PositiveInfinity
        let mutable b = Double.NegativeInfinity
        for r in 0 .. count - 1 do
            let x = runs[r][i]
            s <- s + x
            a <- min a x
            b <- max b x
        let m = s / float count
        let mutable ss = 0.0
        for r in 0 .. count - 1 do
            let e = runs[r][i] - m
            ss <- ss + e * e
        mean[i] <- m
        sd[i] <- if count > 1 then sqrt (ss / float (count - 1)) else 0.0
        lo[i] <- a
        hi[i] <- b
    { Mean = mean; Sd = sd; Min = lo; Max = hi; Runs = count }

/// The mean over runs at each grid time.
let mean (runs: float[][]) = (band runs).Mean

/// The between-run variance at each grid time, made robust for few runs: the larger of the sample variance at that
/// time and its average over the grid times within `WindowDecades` of it (t = 0 counts as the first positive time).
/// With 3 runs one time's variance has 2 degrees of freedom and is often far too small by chance (a t-distribution
/// with 2 degrees of freedom exceeds 3 with probability 9.5%); pooling over neighbours, where the spread varies
/// slowly on a log grid, adds degrees of freedom, and the maximum keeps the estimate conservative where the spread
/// changes fast.
let pooledVariance (settings: DetectorSettings) (times: float[]) (runs: float[][]) =
    let b = band runs
    let n = b.Sd.Length
    if times.Length <> n then invalidArg "times" "needs one time per grid point"
    let firstPositive = times |> Array.tryFind (fun t -> t > 0.0) |> Option.defaultValue 1.0
    let logT = times |> Array.map (fun t -> log10 (max t firstPositive))
    Array.init n (fun i ->
        let mutable s = 0.0
        let mutable c = 0
        for j in 0 .. n - 1 do
            if abs (logT[j] - logT[i]) <= settings.WindowDecades then
                let v = b.Sd[j] * b.Sd[j]
                if Double.IsFinite v then
                    s <- s + v
                    c <- c + 1
        let own = b.Sd[i] * b.Sd[i]
        if c = 0 then own else max own (s / float c))

/// The noise model of a comparison of two groups of runs, per grid time.
type Noise =
    { /// Variance between runs of the quantity's exact (population) value: the finite-size SGD noise.
      RunToRun: float[]
      /// Variance of one reference run's measurement around its exact value (test-set sampling), mean over runs.
      ReferenceMeasurement: float[]
      /// The same for the other group.
      OtherMeasurement: float[] }

/// The plain noise model: the between-run variance of the reference runs' values (`pooledVariance`), no separate
/// measurement part (it is inside the between-run variance).
let plainNoise (settings: DetectorSettings) (times: float[]) (reference: float[][]) : Noise =
    let v = pooledVariance settings times reference
    let zero = Array.zeroCreate v.Length
    { RunToRun = v; ReferenceMeasurement = zero; OtherMeasurement = zero }

/// z = difference / standard error, with 0/0 = 0 (identical curves) and d/0 = +-infinity.
let private ratio (difference: float) (variance: float) =
    if difference = 0.0 then 0.0
    elif variance > 0.0 then difference / sqrt variance
    else float (sign difference) * Double.PositiveInfinity

/// The two-sample statistic of `other` against `reference` at each grid time,
/// `z_i = (mean_other - mean_ref) / sqrt( V_i (1/n_ref + 1/n_other) + m_ref,i / n_ref + m_other,i / n_other )`
/// with V the run-to-run and m the measurement variances of `noise`. If both groups are independent draws of one
/// process (the Gaussian equivalence holds for the NLGP runs), z is approximately standard normal.
let zScoresWith (noise: Noise) (reference: float[][]) (other: float[][]) : float[] =
    let r = band reference
    let o = band other
    let n = r.Mean.Length
    if o.Mean.Length <> n || noise.RunToRun.Length <> n || noise.ReferenceMeasurement.Length <> n || noise.OtherMeasurement.Length <> n then
        invalidArg "noise" "needs one value per grid time, as many as the runs have"
    let nr, no = float r.Runs, float o.Runs
    Array.init n (fun i ->
        let variance =
            noise.RunToRun[i] * (1.0 / nr + 1.0 / no) + noise.ReferenceMeasurement[i] / nr + noise.OtherMeasurement[i] / no
        ratio (o.Mean[i] - r.Mean[i]) variance)

/// `zScoresWith` under the plain noise model (the reference runs' own spread); needs at least 2 reference runs.
let zScores (settings: DetectorSettings) (times: float[]) (reference: float[][]) (other: float[][]) : float[] =
    if reference.Length < 2 then invalidArg "reference" "needs at least 2 reference runs to estimate their spread"
    zScoresWith (plainNoise settings times reference) reference other

/// The statistic of a group's mean against a deterministic curve (the ODE):
/// `z_i = (mean_i - curve_i) / sqrt((V_i + m_i) / n)`, V = `runToRun`, m = `measurement`.
let zAgainstCurve (runToRun: float[]) (measurement: float[]) (runs: float[][]) (curve: float[]) : float[] =
    let b = band runs
    if curve.Length <> b.Mean.Length || runToRun.Length <> curve.Length || measurement.Length <> curve.Length then
        invalidArg "curve" "needs as many grid times as the runs"
    Array.init curve.Length (fun i -> ratio (b.Mean[i] - curve[i]) ((runToRun[i] + measurement[i]) / float b.Runs))

/// A persistent departure: the first grid time of the first run of `Persistence` consecutive times with |z| at
/// least the threshold and the same sign.
type Departure =
    { Index: int
      Time: float
      /// z at the first departed time.
      Z: float
      /// Largest |z| (with its sign) over the persistent stretch that starts here.
      PeakZ: float }

/// The first persistent departure of a z series on `times`, if any. NaN never counts as departed. A stretch that
/// the end of the grid cuts short of `Persistence` times does not count.
let firstPersistent (settings: DetectorSettings) (times: float[]) (z: float[]) : Departure option =
    let settings = DetectorSettings.validate settings
    if times.Length <> z.Length then invalidArg "z" "needs one value per grid time"
    let departed i = abs z[i] >= settings.Threshold // false for NaN
    let mutable found = None
    let mutable i = 0
    while found.IsNone && i + settings.Persistence <= z.Length do
        if departed i then
            let s = sign z[i]
            let mutable j = i
            while j < z.Length && departed j && sign z[j] = s do
                j <- j + 1
            if j - i >= settings.Persistence then
                let mutable peak = z[i]
                for q in i .. j - 1 do
                    if abs z[q] > abs peak then peak <- z[q]
                found <- Some { Index = i; Time = times[i]; Z = z[i]; PeakZ = peak }
            else
                i <- j
        else
            i <- i + 1
    found

/// Where `other` first leaves the band of `reference` persistently (`firstPersistent`), under the plain noise
/// model (`zScores`).
let divergence (settings: DetectorSettings) (times: float[]) (reference: float[][]) (other: float[][]) =
    firstPersistent settings times (zScores settings times reference other)

/// The first grid time from which `values` stays at or above `factor` times `values[0]` up to the end (the rise of
/// a population's IPR), with its index; None when it never does, or when `values[0]` is not positive.
let riseTime (factor: float) (times: float[]) (values: float[]) : (int * float) option =
    if times.Length <> values.Length then invalidArg "values" "needs one value per grid time"
    if values.Length = 0 || not (values[0] > 0.0) then
        None
    else
        let level = factor * values[0]
        // Walk back from the end while the series stays at or above the level.
        let mutable i = values.Length
        while i > 0 && values[i - 1] >= level do
            i <- i - 1
        if i = values.Length then None else Some(i, times[i])
