/// Monte Carlo references for the Gaussian expectations: sample means with their standard errors, so that every
/// closed form and quadrature is checked against an independent estimate with a tolerance derived from the sample
/// size (6 standard errors: a false failure has probability ~2e-9 per comparison).
module Theory.Tests.GaussianSupport

open System
open Xunit
open Theory.Gaussian
open Theory.Simulation.Data

/// Number of standard errors a Monte Carlo estimate may deviate.
let Sigmas = 6.0

/// A mean and its standard error.
type Estimate = { Mean: float; Se: float }

/// Running sums for the mean and standard error of one quantity.
type Accumulator() =
    let mutable s = 0.0
    let mutable s2 = 0.0
    let mutable n = 0
    member _.Add(x: float) =
        s <- s + x
        s2 <- s2 + x * x
        n <- n + 1
    /// The mean and its standard error; the error is floored at 1/n, the resolution of n samples (an event of
    /// probability 1e-7 is usually never seen in 2e5 samples, and its sample variance is then 0).
    member _.Estimate =
        let m = s / float n
        let var = max 0.0 (s2 / float n - m * m)
        { Mean = m; Se = max (sqrt (var / float (n - 1))) (1.0 / float n) }

/// Asserts |estimate - exact| <= Sigmas * SE + slack, naming the quantity.
let near (what: string) (slack: float) (exact: float) (e: Estimate) =
    let tol = Sigmas * e.Se + slack
    if not (abs (exact - e.Mean) <= tol) then
        failwithf "%s: exact %.10g vs Monte Carlo %.10g +- %.3g (tolerance %.3g)" what exact e.Mean e.Se tol

/// A random covariance A A^T / n * scale + jitter I with entries of A uniform in (-1, 1).
let randomCovariance (rng: Random) (n: int) (scale: float) (jitter: float) =
    let a = Array.init (n * n) (fun _ -> 2.0 * rng.NextDouble() - 1.0)
    Array.init (n * n) (fun ij ->
        let i, j = ij / n, ij % n
        let mutable s = 0.0
        for p in 0 .. n - 1 do
            s <- s + a[i * n + p] * a[j * n + p]
        s / float n * scale + (if i = j then jitter else 0.0))

/// Lower Cholesky factor (row-major) of a positive definite matrix.
let cholesky (n: int) (c: float[]) =
    let l = Array.zeroCreate (n * n)
    for j in 0 .. n - 1 do
        let mutable d = c[j * n + j]
        for p in 0 .. j - 1 do
            d <- d - l[j * n + p] * l[j * n + p]
        l[j * n + j] <- sqrt d
        for i in j + 1 .. n - 1 do
            let mutable s = c[i * n + j]
            for p in 0 .. j - 1 do
                s <- s - l[i * n + p] * l[j * n + p]
            l[i * n + j] <- s / l[j * n + j]
    l

/// Draws `count` samples x = mean + L z of N(mean, cov) and calls `f z x` on each (z standard normal).
let sample (seed: int) (count: int) (mean: float[]) (cov: float[]) (f: float[] -> float[] -> unit) =
    let n = mean.Length
    let l = cholesky n cov
    let rng = Rng(seed, RngStream.Analysis)
    let z = Array.zeroCreate n
    let x = Array.zeroCreate n
    for _ in 1 .. count do
        rng.FillGaussian(Span z)
        for i in 0 .. n - 1 do
            let mutable s = mean[i]
            for q in 0 .. i do
                s <- s + l[i * n + q] * z[q]
            x[i] <- s
        f z x

/// Monte Carlo estimates of every entry of `Moments` for `fields`. G uses the Stein form
/// E[dF_k/dx] = C^-1 E[(x - mu) F_k] (valid for every activation, ReLU included), so it is independent of the
/// g'' (or delta-function) route the evaluators take.
type MonteCarloMoments =
    { G: Estimate[]
      H: Estimate[]
      GDelta: Estimate[]
      GPrimeDelta: Estimate[]
      Delta2: Estimate }

let monteCarlo (activation: ActivationFunction) (f: Fields) (seed: int) (count: int) =
    let n, k = f.N, f.K
    let l = cholesky n f.Cov
    // C^-1 (x - mu) = L^-T z.
    let w = Array.zeroCreate n
    let g = Array.zeroCreate n
    let gp = Array.zeroCreate n
    let accG = Array.init (k * n) (fun _ -> Accumulator())
    let accH = Array.init (k * k) (fun _ -> Accumulator())
    let accGd = Array.init k (fun _ -> Accumulator())
    let accGpd = Array.init k (fun _ -> Accumulator())
    let accD2 = Accumulator()
    sample seed count f.Mean f.Cov (fun z x ->
        for i = n - 1 downto 0 do
            let mutable s = z[i]
            for q in i + 1 .. n - 1 do
                s <- s - l[q * n + i] * w[q]
            w[i] <- s / l[i * n + i]
        let mutable delta = f.Constant
        for i in 0 .. n - 1 do
            g[i] <- Activation.value activation x[i]
            gp[i] <- Activation.derivative activation x[i]
            delta <- delta + f.Coef[i] * g[i]
        accD2.Add(delta * delta)
        for a in 0 .. k - 1 do
            let fa = gp[a] * delta
            accGd[a].Add(g[a] * delta)
            accGpd[a].Add fa
            for j in 0 .. n - 1 do
                accG[a * n + j].Add(w[j] * fa)
            for b in 0 .. k - 1 do
                accH[a * k + b].Add(fa * gp[b] * delta))
    { G = accG |> Array.map (fun a -> a.Estimate)
      H = accH |> Array.map (fun a -> a.Estimate)
      GDelta = accGd |> Array.map (fun a -> a.Estimate)
      GPrimeDelta = accGpd |> Array.map (fun a -> a.Estimate)
      Delta2 = accD2.Estimate }

/// Checks every entry of `exact` against the Monte Carlo estimates. `relSlack` is the allowed bias of a quadrature
/// (relative to the size of the entry) for the first-order quantities, `hSlack` for H.
let checkMoments (label: string) (relSlack: float) (hSlack: float) (exact: Moments) (mc: MonteCarloMoments) =
    let n, k = exact.N, exact.K
    let slack (x: float) = relSlack * (abs x + 1e-3) + 1e-12
    let hs (x: float) = hSlack * (abs x + 1e-3) + 1e-12
    near (label + " E[Delta^2]") (slack exact.Delta2) exact.Delta2 mc.Delta2
    for a in 0 .. k - 1 do
        near (sprintf "%s E[g_%d Delta]" label a) (slack exact.GDelta[a]) exact.GDelta[a] mc.GDelta[a]
        near (sprintf "%s E[g'_%d Delta]" label a) (slack exact.GPrimeDelta[a]) exact.GPrimeDelta[a] mc.GPrimeDelta[a]
        for j in 0 .. n - 1 do
            near (sprintf "%s G_%d%d" label a j) (slack exact.G[a * n + j]) exact.G[a * n + j] mc.G[a * n + j]
        for b in 0 .. k - 1 do
            near (sprintf "%s H_%d%d" label a b) (hs exact.H[a * k + b]) exact.H[a * k + b] mc.H[a * k + b]

/// Random fields for a property: n fields (K students), covariance of the given scale, means (or zero), error
/// coefficients -v on students and teacher readout on the rest, constant label.
let randomFields (seed: int) (n: int) (k: int) (scale: float) (withMeans: bool) (constant: float) =
    let rng = Random(seed)
    let f = Fields(n, k)
    let c = randomCovariance rng n scale (0.05 * scale + 0.01)
    Array.blit c 0 f.Cov 0 (n * n)
    for i in 0 .. n - 1 do
        f.Mean[i] <- (if withMeans then 2.0 * rng.NextDouble() - 1.0 else 0.0)
        f.Coef[i] <- (if i < k then -(0.2 + rng.NextDouble()) else 0.3 + rng.NextDouble())
    f.Constant <- constant
    f

/// True when `f` does not throw (xunit assertion helper for properties written as unit -> unit).
let holds (f: unit -> unit) =
    f ()
    true

