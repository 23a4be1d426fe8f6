/// Radau IIA collocation methods with any odd number of stages s (order 2s - 1): Radau9 (s = 5) and Radau13
/// (s = 7). The step-size control, Newton convergence control and error estimate follow Hairer & Wanner's RADAU5
/// (Solving ODE II, IV.8) generalised to s stages: an embedded formula of order s with a weight gamma0 on
/// f(t0, y0), filtered by (I - gamma0 h J)^-1. The Newton system is solved on the full s n unknowns (no complex
/// transformation), which lets the full Newton iteration use a different Jacobian at every stage.
/// Every constant is derived below from the collocation conditions, none is typed in.
module internal Theory.Ode.RadauIIA

open System
open Theory.Ode.Common
open Theory.Ode.Jacobian
open Theory.Ode.LinearAlgebra

/// The constants of the s-stage method.
type Coefficients =
    { Stages: int
      /// Radau right points (c_s = 1).
      C: float[]
      /// Runge-Kutta matrix, row-major s x s.
      A: float[,]
      /// Its inverse.
      AInv: float[,]
      /// The real eigenvalue of A: the embedded formula's weight on f(t0, y0).
      Gamma0: float
      /// Error-estimate weights: yhat - y1 = gamma0 h f0 + sum_j E_j z_j.
      E: float[] }

/// Solves m x = b for a small dense matrix (Gaussian elimination with partial pivoting; set-up only).
let private solveSmall (m: float[,]) (b: float[]) =
    let s = b.Length
    let a = Array2D.init s (s + 1) (fun i j -> if j < s then m[i, j] else b[i])
    for k in 0 .. s - 1 do
        let mutable p = k
        for i in k + 1 .. s - 1 do
            if abs a[i, k] > abs a[p, k] then p <- i
        for j in 0 .. s do
            let tmp = a[k, j]
            a[k, j] <- a[p, j]
            a[p, j] <- tmp
        for i in k + 1 .. s - 1 do
            let l = a[i, k] / a[k, k]
            for j in k .. s do
                a[i, j] <- a[i, j] - l * a[k, j]
    let x = Array.zeroCreate s
    for i in s - 1 .. -1 .. 0 do
        let mutable acc = a[i, s]
        for j in i + 1 .. s - 1 do
            acc <- acc - a[i, j] * x[j]
        x[i] <- acc / a[i, i]
    x

/// Determinant of a small dense matrix (elimination with partial pivoting; set-up only).
let private determinant (m: float[,]) =
    let s = Array2D.length1 m
    let a = Array2D.copy m
    let mutable det = 1.0
    for k in 0 .. s - 1 do
        let mutable p = k
        for i in k + 1 .. s - 1 do
            if abs a[i, k] > abs a[p, k] then p <- i
        if p <> k then
            det <- -det
            for j in 0 .. s - 1 do
                let tmp = a[k, j]
                a[k, j] <- a[p, j]
                a[p, j] <- tmp
        det <- det * a[k, k]
        if a[k, k] <> 0.0 then
            for i in k + 1 .. s - 1 do
                let l = a[i, k] / a[k, k]
                for j in k .. s - 1 do
                    a[i, j] <- a[i, j] - l * a[k, j]
    det

/// Bisection of a sign change of g on [a, b] to the last bit.
let private bisect (g: float -> float) (a0: float) (b0: float) =
    let mutable a, b = a0, b0
    let ga = g a
    let mutable go = true
    while go do
        let m = 0.5 * (a + b)
        if m <= a || m >= b then go <- false
        elif Math.Sign(g m) = Math.Sign ga then a <- m
        else b <- m
    0.5 * (a + b)

/// Legendre polynomial P_k(x) by its three-term recurrence.
let private legendre (k: int) (x: float) =
    if k = 0 then 1.0
    else
        let mutable p0, p1 = 1.0, x
        for j in 2 .. k do
            let p2 = (float (2 * j - 1) * x * p1 - float (j - 1) * p0) / float j
            p0 <- p1
            p1 <- p2
        p1

/// Derives the s-stage method: nodes = zeros of P_s(2c - 1) - P_(s-1)(2c - 1) (found by a scan and bisection),
/// A from sum_j a_ij c_j^(k-1) = c_i^k / k, gamma0 = the real eigenvalue of A (a sign change of
/// det(A^-1 - u I)), and the embedded weights from sum_i bhat_i c_i^(k-1) = 1/k - gamma0 [k = 1], k = 1..s.
let coefficientsFor (s: int) =
    if s < 1 || s % 2 = 0 then invalidArg "s" "the number of stages must be odd (one real eigenvalue of A)"
    let q c = legendre s (2.0 * c - 1.0) - legendre (s - 1) (2.0 * c - 1.0)
    let grid = 20_000
    let nodes = ResizeArray<float>()
    for k in 0 .. grid - 1 do
        let a, b = float k / float grid, float (k + 1) / float grid
        if k < grid - 1 && Math.Sign(q a) <> Math.Sign(q b) && q a <> 0.0 then nodes.Add(bisect q a b)
    nodes.Add 1.0
    let c = nodes.ToArray()
    if c.Length <> s then failwithf "Radau IIA: found %d nodes for %d stages" c.Length s
    let vt = Array2D.init s s (fun k j -> pown c[j] k) // V^T[k, j] = c_j^k
    let a = Array2D.zeroCreate s s
    for i in 0 .. s - 1 do
        let row = solveSmall vt (Array.init s (fun k -> pown c[i] (k + 1) / float (k + 1)))
        for j in 0 .. s - 1 do
            a[i, j] <- row[j]
    let ainv = Array2D.zeroCreate s s
    for j in 0 .. s - 1 do
        let col = solveSmall a (Array.init s (fun i -> if i = j then 1.0 else 0.0))
        for i in 0 .. s - 1 do
            ainv[i, j] <- col[i]
    // The real eigenvalue u of A^-1 (the others come in complex pairs): scan det(A^-1 - u I) for u in (0, 4 s].
    let charPoly u = determinant (Array2D.init s s (fun i j -> ainv[i, j] - (if i = j then u else 0.0)))
    let mutable u = nan
    let du = 1e-3
    let mutable k = 1
    while Double.IsNaN u && float k * du <= 4.0 * float s do
        let u0, u1 = float (k - 1) * du + 1e-9, float k * du
        if Math.Sign(charPoly u0) <> Math.Sign(charPoly u1) then u <- bisect charPoly u0 u1
        k <- k + 1
    if Double.IsNaN u then failwithf "Radau IIA: no real eigenvalue found for %d stages" s
    let gamma0 = 1.0 / u
    let bhat = solveSmall vt (Array.init s (fun k -> 1.0 / float (k + 1) - (if k = 0 then gamma0 else 0.0)))
    let e = Array.init s (fun j -> Seq.sum (seq { for i in 0 .. s - 1 -> (bhat[i] - a[s - 1, i]) * ainv[i, j] }))
    { Stages = s; C = c; A = a; AInv = ainv; Gamma0 = gamma0; E = e }

let private radau9 = lazy (coefficientsFor 5)
let private radau13 = lazy (coefficientsFor 7)

/// The constants for 5 (order 9) or 7 (order 13) stages, derived once.
let coefficients (stages: int) =
    match stages with
    | 5 -> radau9.Force()
    | 7 -> radau13.Force()
    | s -> coefficientsFor s

let private safe = 0.9
let private facl = 5.0 // hnew / h >= 1/5
let private facr = 1.0 / 8.0 // hnew / h <= 8

/// Radau IIA with `stages` stages from (t0, y0) towards tEnd; `h0` = 0 lets it choose the first step.
type RadauStepper(options: Options, stages: int, f: Rhs, analytic: JacobianFunction option, t0: float, y0: float[],
                  tEnd: float, h0: float, counters: Counters) =
    inherit Stepper()
    let k = coefficients stages
    let s = stages
    let name = sprintf "Radau IIA (order %d)" (2 * s - 1)
    let c = k.C
    let n = y0.Length
    let m = s * n
    let full = options.Newton = Full
    // Newton iterations allowed per step (RADAU5's 7 at s = 3, more for the higher orders).
    let nit = 7 + 3 * (s - 3) / 2
    let dir = if tEnd >= t0 then 1.0 else -1.0
    let hmaxn = Math.Min(Math.Abs options.MaxStep, Math.Abs(tEnd - t0))
    // The error estimate is of order s against the method's 2s - 1: the tolerances are transformed as RADAU5's
    // (rtol' = 0.1 rtol^((s + 1) / (2 s)), 2/3 at s = 3), atol' = rtol' atol / rtol.
    let expo = float (s + 1) / float (2 * s)
    let rtolI, atolI =
        if options.RelTol > 0.0 then
            let r = 0.1 * Math.Pow(options.RelTol, expo)
            r, r * options.AbsTol / options.RelTol
        else 0.0, 0.1 * Math.Pow(options.AbsTol, expo)
    let fnewt =
        let tolst = if rtolI > 0.0 then rtolI else atolI
        Math.Max(10.0 * Uround / tolst, Math.Min(0.03, Math.Sqrt tolst))
    let cfac = safe * float (1 + 2 * nit)
    let blocks = blockSizesOf n options.Jacobian analytic
    // J at the step's start (error estimate, simplified Newton) and, for the full iteration, at the stages.
    let matrix0 = IterationMatrix(n, blocks, analytic, counters)
    let stageMatrix = if full then IterationMatrix(n, blocks, analytic, counters) else matrix0
    // With an analytic Jacobian, f at an accepted point is the collocation polynomial's derivative there (no
    // evaluation); finite differences need the true value as their base point.
    let f0FromCollocation = analytic.IsSome
    let j0 = Array.zeroCreate<float> (n * n)
    let jStage = Array.zeroCreate<float> (n * n)
    let newton = Array.zeroCreate<float> (m * m)
    let piv = Array.zeroCreate<int> m
    let y = Array.copy y0
    let yPrev = Array.copy y0
    let f0 = Array.zeroCreate<float> n
    let z = Array.zeroCreate<float> m
    let fz = Array.zeroCreate<float> m
    let g = Array.zeroCreate<float> m
    let ytmp = Array.zeroCreate<float> n
    let ftmp = Array.zeroCreate<float> n
    let errv = Array.zeroCreate<float> n
    let ez = Array.zeroCreate<float> n
    let scal = Array.zeroCreate<float> n
    // Dense output: Newton divided differences of the collocation polynomial p (p(0) = 0, p(c_i) = z_i) over
    // theta = (t - tPrev) / hold at the nodes 0, c_1, ..., c_s.
    let theta0 = Array.append [| 0.0 |] c
    let cont = Array.zeroCreate<float> m
    let mutable t = t0
    let mutable tPrev = t0
    let mutable h = 0.0
    let mutable hold = 0.0
    let mutable first = true
    let mutable reject = false
    let mutable last = false
    let mutable finished = false
    let mutable needJ0 = true
    let mutable needLu0 = true
    let mutable faccon = 1.0
    let mutable hacc = 0.0
    let mutable erracc = 0.0
    let mutable nsing = 0
    let mutable lastNonFinite = false
    let mutable pendingError: string option = None

    let computeScal () =
        for i in 0 .. n - 1 do
            scal[i] <- atolI + rtolI * Math.Abs y[i]

    /// p(theta) for component i from the divided differences.
    let polyAt (theta: float) (i: int) =
        let mutable acc = cont[(s - 1) * n + i]
        for kk in s - 2 .. -1 .. 0 do
            acc <- cont[kk * n + i] + (theta - theta0[kk + 1]) * acc
        theta * acc

    do
        f t0 y f0
        if not (allFinite f0) then
            pendingError <- Some(Failures.initialNonFinite t0)
        else
            h <- firstStep options h0 dir hmaxn (fun () -> hairerInitialStep f (s + 1) t0 y f0 dir hmaxn options.AbsTol options.RelTol ytmp ftmp)
            if (t + h * 1.0001 - tEnd) * dir >= 0.0 then
                h <- tEnd - t
                last <- true
            computeScal ()

    override _.T = t
    override _.TPrev = tPrev
    override _.Y = y
    override _.NextStep = h

    override this.Step() =
        match pendingError with
        | Some message -> StepFailed message
        | None when finished -> StepFailed(Failures.finished name t)
        | None -> this.Attempt()

    /// Scaled RMS of `a[0 .. len - 1]`, len a multiple of n (one block of n per stage).
    member private _.Norm(a: float[], len: int) =
        let mutable acc = 0.0
        let mutable o = 0
        while o < len do
            for i in 0 .. n - 1 do
                let q = a[o + i] / scal[i]
                acc <- acc + q * q
            o <- o + n
        Math.Sqrt(acc / float len)

    /// After a failed Newton iteration or a singular matrix: half the step.
    member private _.Unexpected() =
        h <- h * 0.5
        reject <- true
        last <- false
        needLu0 <- true

    member private this.Attempt() =
        let mutable result = ValueNone
        while result.IsNone do
            if needJ0 then
                matrix0.Evaluate(f, t, y, f0)
                matrix0.CopyDense j0
                needJ0 <- false
                needLu0 <- true
            let mutable singular = false
            if needLu0 then
                // I - gamma0 h J for the error estimate, and the simplified Newton matrix I - h A (x) J.
                counters.Decompositions <- counters.Decompositions + 1
                singular <- not (matrix0.FactorReal(1.0, k.Gamma0 * h))
                if not full && not singular then singular <- not (this.FactorNewton(false, 0.0))
                needLu0 <- false
            if singular then
                nsing <- nsing + 1
                if nsing >= 5 then
                    result <- ValueSome(StepFailed(Failures.singular name t h))
                else this.Unexpected()
            elif counters.Steps >= options.MaxSteps then
                result <-
                    ValueSome(StepFailed(Failures.budget name options.MaxSteps t tEnd))
            elif 0.1 * Math.Abs h <= Math.Abs t * Uround || Math.Abs h < options.MinStep then
                result <-
                    ValueSome(StepFailed(Failures.underflow name t h options.MinStep lastNonFinite ": the Newton iteration or the error test failed at every step size tried"))
            else
                counters.Steps <- counters.Steps + 1
                result <- this.TryStep()
        result.Value

    /// Builds and factors I - h (A (x) I) diag(J_1 .. J_s): J_j = J at the stage values y + z_j when
    /// `atStages` (the full iteration; `fz` holds f there), else J_j = J(t, y) for every j (simplified).
    member private _.FactorNewton(atStages: bool, xph: float) =
        Array.Clear(newton, 0, m * m)
        for j in 0 .. s - 1 do
            if atStages then
                for i in 0 .. n - 1 do
                    ytmp[i] <- y[i] + z[j * n + i]
                Array.blit fz (j * n) ftmp 0 n
                stageMatrix.Evaluate(f, (if j = s - 1 then xph else t + c[j] * h), ytmp, ftmp)
                stageMatrix.CopyDense jStage
            let jj = if atStages then jStage else j0
            for i in 0 .. s - 1 do
                let ha = h * k.A[i, j]
                for r in 0 .. n - 1 do
                    let row = (i * n + r) * m + j * n
                    for col in 0 .. n - 1 do
                        newton[row + col] <- -ha * jj[r * n + col]
        for i in 0 .. m - 1 do
            newton[i * m + i] <- newton[i * m + i] + 1.0
        luFactor newton 0 m piv 0

    /// One attempt with the current h: Some Accepted, or None after a rejection (state prepared for the next).
    member private this.TryStep() : StepStatus voption =
        let xph = if last then tEnd else t + h
        // Starting values: zero on the first step, else the last collocation polynomial extrapolated.
        if first then Array.Clear z
        else
            let q = h / hold
            for j in 0 .. s - 1 do
                let theta = 1.0 + c[j] * q
                for i in 0 .. n - 1 do
                    z[j * n + i] <- polyAt theta i - (y[i] - yPrev[i])
        let mutable newt = 0
        faccon <- Math.Pow(Math.Max(faccon, Uround), 0.8)
        let mutable theta = 1.0
        let mutable dynold = 0.0
        let mutable thqold = 0.0
        let mutable state = 0 // 0 iterating, 1 converged, 2 failed (halve h), 3 too slow (h already reduced)
        lastNonFinite <- false
        while state = 0 do
            if newt >= nit then state <- 2
            else
                let mutable finite = true
                for j in 0 .. s - 1 do
                    if finite then
                        for i in 0 .. n - 1 do
                            ytmp[i] <- y[i] + z[j * n + i]
                        f (if j = s - 1 then xph else t + c[j] * h) ytmp ftmp
                        finite <- allFinite ftmp
                        Array.blit ftmp 0 fz (j * n) n
                if not finite then
                    lastNonFinite <- true
                    state <- 2
                else
                    // Residual G = -Z + h (A (x) I) F(Z).
                    for i in 0 .. s - 1 do
                        for r in 0 .. n - 1 do
                            let mutable acc = 0.0
                            for j in 0 .. s - 1 do
                                acc <- acc + k.A[i, j] * fz[j * n + r]
                            g[i * n + r] <- h * acc - z[i * n + r]
                    let mutable singular = false
                    if full then
                        // Newton's matrix at the current stage values.
                        counters.Decompositions <- counters.Decompositions + 1
                        singular <- not (this.FactorNewton(true, xph))
                    if singular then state <- 2
                    else
                        luSolve newton 0 m piv 0 g 0
                        newt <- newt + 1
                        let dyno = this.Norm(g, m)
                        let mutable go = true
                        if newt > 1 && newt < nit then
                            let thq = dyno / dynold
                            theta <- if newt = 2 then thq else Math.Sqrt(thq * thqold)
                            thqold <- thq
                            if theta < 0.99 then
                                faccon <- theta / (1.0 - theta)
                                let dyth = faccon * dyno * Math.Pow(theta, float (nit - 1 - newt)) / fnewt
                                if dyth >= 1.0 then
                                    // Converging, but too slowly for the remaining iterations: shrink h now.
                                    let qnewt = Math.Max(1e-4, Math.Min(20.0, dyth))
                                    h <- h * 0.8 * Math.Pow(qnewt, -1.0 / float (s + 1 + nit - 1 - newt))
                                    state <- 3
                                    go <- false
                            else
                                state <- 2
                                go <- false
                        elif not (Double.IsFinite dyno) then
                            state <- 2
                            go <- false
                        if go then
                            dynold <- Math.Max(dyno, Uround)
                            for i in 0 .. m - 1 do
                                z[i] <- z[i] + g[i]
                            if faccon * dyno <= fnewt then state <- 1
        match state with
        | 2 ->
            counters.Rejected <- counters.Rejected + 1
            this.Unexpected()
            ValueNone
        | 3 ->
            counters.Rejected <- counters.Rejected + 1
            reject <- true
            last <- false
            needLu0 <- true
            ValueNone
        | _ ->
            // Error estimate: (I - gamma0 h J)^-1 (gamma0 h f0 + sum_j e_j z_j).
            let gh = k.Gamma0 * h
            for i in 0 .. n - 1 do
                let mutable acc = 0.0
                for j in 0 .. s - 1 do
                    acc <- acc + k.E[j] * z[j * n + i]
                ez[i] <- acc
                errv[i] <- gh * f0[i] + acc
            matrix0.SolveReal errv
            let mutable err = Math.Max(this.Norm(errv, n), 1e-10)
            if err >= 1.0 && (first || reject) then
                // One more evaluation gives a better estimate after a rejection or on the first step.
                for i in 0 .. n - 1 do
                    ytmp[i] <- y[i] + errv[i]
                f t ytmp ftmp
                for i in 0 .. n - 1 do
                    errv[i] <- gh * ftmp[i] + ez[i]
                matrix0.SolveReal errv
                err <- Math.Max(this.Norm(errv, n), 1e-10)
            if not (Double.IsFinite err) then err <- 1e10
            let expoErr = 1.0 / float (s + 1)
            let fac = Math.Min(safe, cfac / float (newt + 2 * nit))
            let mutable quot = Math.Max(facr, Math.Min(facl, Math.Pow(err, expoErr) / fac))
            let mutable hnew = h / quot
            if err < 1.0 then
                first <- false
                counters.Accepted <- counters.Accepted + 1
                // Predictive controller of Gustafsson.
                if counters.Accepted > 1 && hacc <> 0.0 then
                    let facgus = Math.Max(facr, Math.Min(facl, (hacc / h) * Math.Pow(err * err / erracc, expoErr) / safe))
                    quot <- Math.Max(quot, facgus)
                    hnew <- h / quot
                hacc <- h
                erracc <- Math.Max(1e-2, err)
                tPrev <- t
                hold <- h
                t <- xph
                Array.blit y 0 yPrev 0 n
                for i in 0 .. n - 1 do
                    y[i] <- y[i] + z[(s - 1) * n + i]
                // Divided differences of p over theta0 with values 0, z_1, ..., z_s.
                for i in 0 .. n - 1 do
                    for j in 0 .. s - 1 do
                        cont[j * n + i] <- z[j * n + i]
                    // First order: (z_j - z_(j-1)) / (c_j - c_(j-1)), z_0 = 0 at theta 0.
                    for j in s - 1 .. -1 .. 0 do
                        let prev = if j = 0 then 0.0 else cont[(j - 1) * n + i]
                        cont[j * n + i] <- (cont[j * n + i] - prev) / (theta0[j + 1] - theta0[j])
                    for order in 2 .. s do
                        for j in s - 1 .. -1 .. order - 1 do
                            cont[j * n + i] <- (cont[j * n + i] - cont[(j - 1) * n + i]) / (theta0[j + 1] - theta0[j + 1 - order])
                computeScal ()
                if last then
                    finished <- true
                    h <- hnew
                else
                    if f0FromCollocation then
                        // f(t, y) = p'(1) / h = (A^-1 z)_s / h at the converged collocation solution.
                        let hinv = 1.0 / hold
                        for i in 0 .. n - 1 do
                            let mutable acc = 0.0
                            for j in 0 .. s - 1 do
                                acc <- acc + k.AInv[s - 1, j] * z[j * n + i]
                            f0[i] <- hinv * acc
                    else f t y f0
                    if not (allFinite f0) then
                        pendingError <-
                            Some(sprintf "%s: the right-hand side returned NaN or infinity at the accepted point t = %s" name (fmt t))
                    hnew <- dir * Math.Min(Math.Abs hnew, hmaxn)
                    if reject then hnew <- dir * Math.Min(Math.Abs hnew, Math.Abs h)
                    reject <- false
                    if (t + hnew - tEnd) * dir >= 0.0 then
                        h <- tEnd - t
                        last <- true
                    else h <- hnew
                    needJ0 <- true
                    needLu0 <- true
                ValueSome Accepted
            else
                reject <- true
                last <- false
                h <- if first then h * 0.1 else hnew
                counters.Rejected <- counters.Rejected + 1
                needLu0 <- true
                ValueNone

    /// The collocation polynomial of the last step.
    override _.Interpolate(tq: float, result: float[]) =
        if tq = t then Array.blit y 0 result 0 n
        else
            let theta = (tq - tPrev) / hold
            for i in 0 .. n - 1 do
                result[i] <- yPrev[i] + polyAt theta i
