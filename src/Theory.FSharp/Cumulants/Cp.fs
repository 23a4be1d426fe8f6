namespace Theory.Cumulants

open System
open System.Numerics.Tensors
open Theory.Simulation.Data

/// Which components a symmetric CP decomposition looks for. The NLGP fourth cumulant is negative (platykurtic
/// pixels, SCIENCE.md section 1), so its largest components are those with the most negative `T(u,u,u,u)`.
type CpSign =
    /// Components with `gamma < 0`, largest |gamma| first (the NLGP cumulant).
    | Negative
    /// Components with `gamma > 0`, largest first.
    | Positive
    /// Both signs tried for every component; the one of larger |gamma| is kept.
    | Largest

/// Settings of the symmetric CP decomposition; use `CpOptions.defaults` and `{ CpOptions.defaults with ... }`.
type CpOptions =
    { /// Number of rank-one components r.
      Rank: int
      Sign: CpSign
      /// Starting points at the pixels where the (deflated) diagonal `T_iiii` is largest with the wanted sign:
      /// natural seeds for localised factors.
      PixelStarts: int
      /// Additional seeded Gaussian random starting points per component.
      RandomStarts: int
      /// Largest number of power iterations per start.
      MaxIterations: int
      /// Relative change of `T(u,u,u,u)` between two iterations below which a power iteration has converged (near
      /// a maximum the factor's error is of order the square root of this).
      Tolerance: float
      /// Refinement sweeps after the greedy pass: each factor is re-fitted against the tensor minus all other
      /// components, then the weights are re-fitted jointly by least squares.
      Sweeps: int
      /// Seed of the random starting points.
      Seed: int }

module CpOptions =
    let defaults =
        { Rank = 4
          Sign = Negative
          PixelStarts = 2
          RandomStarts = 2
          MaxIterations = 500
          Tolerance = 1e-9
          Sweeps = 3
          Seed = 0 }

/// A symmetric CP decomposition `T ~ sum_r gamma_r u_r (x) u_r (x) u_r (x) u_r`, components sorted by |gamma|
/// (largest first), each unit factor signed so that its largest-magnitude entry is positive.
type CpResult =
    { Weights: float[]
      Factors: float[][]
      /// Tensor contractions used (each costs one pass over the samples for a sampled cumulant).
      Contractions: int
      /// Whether every power iteration met the tolerance.
      Converged: bool }

/// Symmetric CP decomposition of a fourth-order tensor from contractions only (SCIENCE.md section 5).
///
/// Each component is found by the shifted symmetric higher-order power method (SS-HOPM; Kolda and Mayo 2011):
/// `u <- normalise(s T(u,u,u) + alpha u)` maximises `s T(u,u,u,u)` on the unit sphere (s = -1 for the negative
/// components). The shift alpha is adaptive: 0 while the iteration climbs, doubled whenever a step would descend, so
/// every accepted step increases `s T(u,u,u,u)` (for alpha large enough the shifted function is convex on the
/// sphere and ascent is guaranteed). Components are extracted greedily with deflation
/// (`T <- T - gamma u^(x)4`, applied through contractions: `(T - gamma u^4)(w,w,w) = T(w,w,w) - gamma (u.w)^3 u`),
/// which is exact for orthogonal factors; for overlapping factors (neighbouring localised blobs) the refinement
/// sweeps re-fit each factor against the tensor minus all the others and re-solve the weights jointly
/// (`sum_s (u_r.u_s)^4 gamma_s = T(u_r,u_r,u_r,u_r)`), which removes the bias of greedy deflation.
module Cp =

    let private dot (a: float[]) (b: float[]) = TensorPrimitives.Dot(ReadOnlySpan<float>(a), ReadOnlySpan<float>(b))

    let private normalise (u: float[]) =
        let n = sqrt (dot u u)
        if n > 0.0 then TensorPrimitives.Multiply(ReadOnlySpan<float>(u), 1.0 / n, Span<float>(u))
        n

    /// Anderson mixing of the last iterates of a fixed-point map (type II, memory = history length): with
    /// residuals `f_i = G(x_i) - x_i`, returns `x_k + f_k - (dX + dF) c` where c minimises `|f_k - dF c|` (dX, dF the
    /// differences of consecutive iterates and residuals). Solved by the normal equations with a small ridge.
    let private anderson (xs: ResizeArray<float[]>) (fs: ResizeArray<float[]>) (result: float[]) =
        let k = xs.Count - 1
        let m = k
        let d = result.Length
        let xk, fk = xs[k], fs[k]
        for i in 0 .. d - 1 do
            result[i] <- xk[i] + fk[i]
        if m > 0 then
            let df = Array.init m (fun j -> Array.init d (fun i -> fs[j + 1][i] - fs[j][i]))
            let dx = Array.init m (fun j -> Array.init d (fun i -> xs[j + 1][i] - xs[j][i]))
            let a = MathNet.Numerics.LinearAlgebra.Matrix<float>.Build.Dense(m, m, fun p q -> dot df[p] df[q])
            let trace = Seq.sum (Seq.init m (fun p -> a[p, p]))
            for p in 0 .. m - 1 do
                a[p, p] <- a[p, p] + 1e-10 * trace + 1e-300
            let b = MathNet.Numerics.LinearAlgebra.Vector<float>.Build.Dense(m, fun p -> dot df[p] fk)
            let c = a.Solve b
            for j in 0 .. m - 1 do
                if Double.IsFinite c[j] then
                    for i in 0 .. d - 1 do
                        result[i] <- result[i] - c[j] * (dx[j][i] + df[j][i])

    /// SS-HOPM from `u0` with an adaptive shift and Anderson acceleration: returns the factor, `T(u,u,u,u)` at it,
    /// and whether it converged. Every accepted iterate increases `s T(u,u,u,u)`: an accelerated step that would not
    /// is replaced by the plain power step, and a plain step that would not raises the shift.
    let private powerIteration (contract: float[] -> float[] -> float) (s: float) (u0: float[]) (maxIter: int) (tol: float) =
        let d = u0.Length
        let memory = 5
        let x = Array.copy u0
        if normalise x = 0.0 then
            x[0] <- 1.0
        let g = Array.zeroCreate<float> d
        let y = Array.zeroCreate<float> d
        let z = Array.zeroCreate<float> d
        let gz = Array.zeroCreate<float> d
        let xs = ResizeArray<float[]>()
        let fs = ResizeArray<float[]>()
        let mutable lam = s * contract x g
        let mutable alpha = 0.0
        let mutable it = 0
        let mutable converged = false
        let mutable stuck = false
        let accept (u: float[]) (gu: float[]) (value: float) =
            let change = abs (value - lam)
            Array.blit u 0 x 0 d
            Array.blit gu 0 g 0 d
            lam <- value
            if change <= tol * abs lam then converged <- true
        while not converged && not stuck && it < maxIter do
            // The plain (shifted) power step y = G(x), signed like x (u and -u are the same component).
            for i in 0 .. d - 1 do
                y[i] <- s * g[i] + alpha * x[i]
            let norm = normalise y
            if not (norm > 0.0) then
                converged <- true // s T(x,x,x) + alpha x = 0: a stationary point where the function vanishes
            else
                if dot x y < 0.0 then TensorPrimitives.Negate(ReadOnlySpan<float>(y), Span<float>(y))
                xs.Add(Array.copy x)
                fs.Add(Array.init d (fun i -> y[i] - x[i]))
                if xs.Count > memory + 1 then
                    xs.RemoveAt 0
                    fs.RemoveAt 0
                let accelerated = xs.Count > 1
                if accelerated then
                    anderson xs fs z
                    normalise z |> ignore
                else
                    Array.blit y 0 z 0 d
                let lz = s * contract z gz
                it <- it + 1
                if lz >= lam - 1e-15 * abs lam then
                    accept z gz lz
                else
                    xs.Clear()
                    fs.Clear()
                    let mutable moved = false
                    if accelerated then
                        // Fall back to the plain step.
                        let ly = s * contract y gz
                        it <- it + 1
                        if ly >= lam - 1e-15 * abs lam then
                            accept y gz ly
                            moved <- true
                    if not moved then
                        // The plain step would descend: shift more (monotone ascent for alpha large enough).
                        alpha <- (if alpha = 0.0 then 0.1 * norm else 2.0 * alpha)
                        if alpha > 1e12 * (norm + abs lam) then stuck <- true
        x, s * lam, converged

    /// Signs every factor so that its largest-magnitude entry is positive (u and -u give the same component).
    let private canonicalSign (u: float[]) =
        let i = TensorPrimitives.IndexOfMaxMagnitude(ReadOnlySpan<float>(u))
        if u[i] < 0.0 then TensorPrimitives.Negate(ReadOnlySpan<float>(u), Span<float>(u))

    /// Decomposes `tensor` into `options.Rank` symmetric rank-one components; `progress` receives the fraction done.
    let decompose (options: CpOptions) (tensor: ISymmetricTensor) (progress: float -> unit) : CpResult =
        if options.Rank < 1 then invalidArg "options" "Rank must be at least 1"
        if options.PixelStarts + options.RandomStarts < 1 then invalidArg "options" "at least one starting point"
        let d = tensor.D
        let rng = Rng(uint64 options.Seed, (uint64 RngStream.Analysis <<< 8) ||| 0x40UL)
        let weights = ResizeArray<float>()
        let factors = ResizeArray<float[]>()
        let mutable contractions = 0
        let mutable allConverged = true
        /// Contraction of the tensor minus every component found so far except `skip`.
        let residual (skip: int) (u: float[]) (result: float[]) =
            contractions <- contractions + 1
            let mutable value = tensor.Contract(u, result)
            for s in 0 .. weights.Count - 1 do
                if s <> skip then
                    let p = dot factors[s] u
                    let c = weights[s] * p * p * p
                    value <- value - c * p
                    TensorPrimitives.MultiplyAdd(ReadOnlySpan<float>(factors[s]), -c, ReadOnlySpan<float>(result), Span<float>(result))
            value
        let signs =
            match options.Sign with
            | Negative -> [ -1.0 ]
            | Positive -> [ 1.0 ]
            | Largest -> [ -1.0; 1.0 ]
        let diagonal = tensor.Diagonal()
        let totalWork = float (options.Rank * (1 + options.Sweeps))
        // Greedy pass with deflation.
        for r in 0 .. options.Rank - 1 do
            let resDiag = Array.copy diagonal
            for s in 0 .. weights.Count - 1 do
                for i in 0 .. d - 1 do
                    let x = factors[s][i]
                    resDiag[i] <- resDiag[i] - weights[s] * x * x * x * x
            let mutable best: (float[] * float * bool) option = None
            for sign in signs do
                let order = Array.init d id |> Array.sortBy (fun i -> -sign * resDiag[i], i)
                let starts =
                    [ for p in 0 .. min d options.PixelStarts - 1 do
                          let e = Array.zeroCreate<float> d
                          e[order[p]] <- 1.0
                          yield e
                      for _ in 1 .. options.RandomStarts do
                          let g = Array.zeroCreate<float> d
                          rng.FillGaussian(Span<float>(g))
                          yield g ]
                for start in starts do
                    let u, value, conv = powerIteration (residual -1) sign start options.MaxIterations options.Tolerance
                    match best with
                    | Some(_, v, _) when abs v >= abs value -> ()
                    | _ -> best <- Some(u, value, conv)
            let u, value, conv = best.Value
            allConverged <- allConverged && conv
            weights.Add value
            factors.Add u
            progress (float (r + 1) / totalWork)
        // Refinement sweeps: re-fit each factor against the others, then the weights jointly.
        let mutable sweep = 0
        let mutable settled = false
        while sweep < options.Sweeps && not settled do
            let mutable change = 0.0
            for r in 0 .. weights.Count - 1 do
                let sign = if weights[r] < 0.0 then -1.0 else 1.0
                let u, value, conv = powerIteration (residual r) sign factors[r] options.MaxIterations options.Tolerance
                let overlap = abs (dot u factors[r])
                change <- max change (1.0 - overlap)
                allConverged <- allConverged && conv
                factors[r] <- u
                weights[r] <- value
                progress (float (options.Rank * (1 + sweep) + r + 1) / totalWork)
            // Joint least squares for the weights: sum_s (u_r.u_s)^4 gamma_s = T(u_r,u_r,u_r,u_r).
            let rr = weights.Count
            let gram =
                MathNet.Numerics.LinearAlgebra.Matrix<float>.Build.Dense(rr, rr, fun i j -> pown (dot factors[i] factors[j]) 4)
            let scratch = Array.zeroCreate<float> d
            let rhs =
                MathNet.Numerics.LinearAlgebra.Vector<float>.Build.Dense(rr, fun i ->
                    contractions <- contractions + 1
                    tensor.Contract(factors[i], scratch))
            let svd = gram.Svd(true)
            if svd.ConditionNumber < 1e10 then
                let solved = svd.Solve rhs
                for r in 0 .. rr - 1 do
                    weights[r] <- solved[r]
            sweep <- sweep + 1
            if change < options.Tolerance then settled <- true
        progress 1.0
        let order = Array.init weights.Count id |> Array.sortBy (fun r -> -abs weights[r], r)
        let fs = order |> Array.map (fun r -> Array.copy factors[r])
        fs |> Array.iter canonicalSign
        { Weights = order |> Array.map (fun r -> weights[r])
          Factors = fs
          Contractions = contractions
          Converged = allConverged }

/// One component of a CP decomposition seen as an image.
type CpFactorSummary =
    { /// Index r (0 = largest |gamma|).
      Component: int
      /// gamma_r = DeltaT(u_r,u_r,u_r,u_r) after the joint refit.
      Weight: float
      /// `gamma_r / (u_r^T S u_r)^2` with S the matching class-weighted covariance: the excess kurtosis the component
      /// gives to the projection `u_r . x` (dimensionless; 0 for Gaussian inputs).
      Kurtosis: float
      /// IPR, width and centre of u_r.
      Profile: ProfileSummary }

module CpFactors =
    /// Summaries of the factors of `result`, a decomposition of `sum_a classWeights[a] DeltaT^a` for the task.
    let summarise (task: NlgpTask) (classWeights: float[]) (result: CpResult) : CpFactorSummary[] =
        let d = task.D
        result.Factors
        |> Array.mapi (fun r u ->
            let mutable variance = 0.0
            let su = Array.zeroCreate<float> d
            for a in 0 .. classWeights.Length - 1 do
                if classWeights[a] <> 0.0 then
                    task.ApplyInputCovariance(a, ReadOnlySpan<float>(u), Span<float>(su))
                    variance <- variance + classWeights[a] * TensorPrimitives.Dot(ReadOnlySpan<float>(u), ReadOnlySpan<float>(su))
            { Component = r
              Weight = result.Weights[r]
              Kurtosis = result.Weights[r] / (variance * variance)
              Profile = Profile.summarise task.Geometry u })
