/// Radau IIA of order 5 (three stages, stiffly accurate, L-stable) with the simplified Newton iteration,
/// step-size control, Jacobian reuse and continuous output of Hairer & Wanner's RADAU5 (Solving ODE II, IV.8).
/// The method constants are derived below from the collocation conditions (and checked by the tests against
/// the published closed forms), not typed in.
module internal Theory.Ode.Radau5

open System
open Theory.Ode.Common
open Theory.Ode.Jacobian

/// Solves the 3 x 3 system m x = b (Gaussian elimination with partial pivoting; set-up only).
let private solve3 (m: float[,]) (b: float[]) =
    let a = Array2D.init 3 4 (fun i j -> if j < 3 then m[i, j] else b[i])
    for k in 0 .. 2 do
        let mutable p = k
        for i in k + 1 .. 2 do
            if abs a[i, k] > abs a[p, k] then p <- i
        for j in 0 .. 3 do
            let tmp = a[k, j]
            a[k, j] <- a[p, j]
            a[p, j] <- tmp
        for i in k + 1 .. 2 do
            let l = a[i, k] / a[k, k]
            for j in k .. 3 do
                a[i, j] <- a[i, j] - l * a[k, j]
    let x = Array.zeroCreate 3
    for i in 2 .. -1 .. 0 do
        let mutable s = a[i, 3]
        for j in i + 1 .. 2 do
            s <- s - a[i, j] * x[j]
        x[i] <- s / a[i, i]
    x

let private inverse3 (m: float[,]) =
    let cols = Array.init 3 (fun j -> solve3 m (Array.init 3 (fun i -> if i = j then 1.0 else 0.0)))
    Array2D.init 3 3 (fun i j -> cols[j][i])

let private mul3 (a: float[,]) (b: float[,]) =
    Array2D.init 3 3 (fun i j -> a[i, 0] * b[0, j] + a[i, 1] * b[1, j] + a[i, 2] * b[2, j])

/// The constants of the method.
type Coefficients =
    { /// Nodes c1, c2, c3 = 1 (Radau points).
      C: float[]
      /// Runge-Kutta matrix.
      A: float[,]
      /// The real eigenvalue gamma0 of A (the embedded method's weight on f(t0, y0)).
      Gamma0: float
      /// T and its inverse: T^-1 A^-1 T = [[g, 0, 0], [0, a, b], [0, -b, a]].
      T: float[,]
      TI: float[,]
      /// T^-1 A^-1 T.
      Lambda: float[,]
      /// Error-estimate weights on z1, z2, z3 (Hairer's DD1..DD3).
      Dd: float[] }

/// Derives A from sum_j a_ij c_j^(k-1) = c_i^k / k, the eigen-structure of A^-1, and the embedded order-3
/// formula y0 + h (gamma0 f(t0, y0) + sum_i bhat_i f(Y_i)).
let coefficients =
    let sq6 = sqrt 6.0
    let c = [| (4.0 - sq6) / 10.0; (4.0 + sq6) / 10.0; 1.0 |]
    let v = Array2D.init 3 3 (fun k j -> pown c[j] k) // V[k, j] = c_j^k
    let a = Array2D.zeroCreate 3 3
    for i in 0 .. 2 do
        let row = solve3 v (Array.init 3 (fun k -> pown c[i] (k + 1) / float (k + 1)))
        for j in 0 .. 2 do
            a[i, j] <- row[j]
    let ainv = inverse3 a
    // Eigenvalues of A: one real, one complex pair (closed forms of Hairer & Wanner IV.8; the eigen-residuals
    // are checked by the tests).
    let r81, r9 = 81.0 ** (1.0 / 3.0), 9.0 ** (1.0 / 3.0)
    let gamma0 = (6.0 + r81 - r9) / 30.0
    let alpha0 = (12.0 - r81 + r9) / 60.0
    let beta0 = (r81 + r9) * sqrt 3.0 / 60.0
    // Eigenvector of A^-1 for 1/gamma0: the cross product of two rows of A^-1 - I/gamma0.
    let m1 = Array2D.init 3 3 (fun i j -> ainv[i, j] - (if i = j then 1.0 / gamma0 else 0.0))
    let v1 =
        [| m1[0, 1] * m1[1, 2] - m1[0, 2] * m1[1, 1]
           m1[0, 2] * m1[1, 0] - m1[0, 0] * m1[1, 2]
           m1[0, 0] * m1[1, 1] - m1[0, 1] * m1[1, 0] |]
    // Complex eigenvector for mu = 1 / (alpha0 + i beta0), likewise (bilinear cross product).
    let mu = Numerics.Complex.One / Numerics.Complex(alpha0, beta0)
    let mc = Array2D.init 3 3 (fun i j -> Numerics.Complex(ainv[i, j], 0.0) - (if i = j then mu else Numerics.Complex.Zero))
    let vc =
        [| mc[0, 1] * mc[1, 2] - mc[0, 2] * mc[1, 1]
           mc[0, 2] * mc[1, 0] - mc[0, 0] * mc[1, 2]
           mc[0, 0] * mc[1, 1] - mc[0, 1] * mc[1, 0] |]
    let t = Array2D.init 3 3 (fun i j -> match j with 0 -> v1[i] | 1 -> vc[i].Real | _ -> vc[i].Imaginary)
    let ti = inverse3 t
    let lambda = mul3 (mul3 ti ainv) t
    // Embedded formula of order 3: sum_i bhat_i c_i^(k-1) = 1/k - gamma0 [k = 1].
    let bhat = solve3 v (Array.init 3 (fun k -> 1.0 / float (k + 1) - (if k = 0 then gamma0 else 0.0)))
    // yhat - y1 = gamma0 h f0 + sum_j e_j z_j with e = (bhat - b)^T A^-1 and b = last row of A.
    let e = Array.init 3 (fun j -> Seq.sum (seq { for i in 0 .. 2 -> (bhat[i] - a[2, i]) * ainv[i, j] }))
    { C = c
      A = a
      Gamma0 = gamma0
      T = t
      TI = ti
      Lambda = lambda
      Dd = Array.map (fun x -> x / gamma0) e }

// RADAU5's defaults.
[<Literal>]
let private Nit = 7

let private safe = 0.9
let private facl = 5.0 // hnew / h >= 1/5
let private facr = 1.0 / 8.0 // hnew / h <= 8

/// Radau IIA 5 from (t0, y0) towards tEnd; `h0` = 0 lets it choose the first step.
type Radau5Stepper(options: Options, f: Rhs, analytic: JacobianFunction option, t0: float, y0: float[], tEnd: float,
                   h0: float, counters: Counters) =
    inherit Stepper()
    let k = coefficients
    let c1, c2 = k.C[0], k.C[1]
    let c1m1, c2m1 = c1 - 1.0, c2 - 1.0
    let c1mc2 = c1 - c2
    let t11, t12, t13 = k.T[0, 0], k.T[0, 1], k.T[0, 2]
    let t21, t22, t23 = k.T[1, 0], k.T[1, 1], k.T[1, 2]
    let t31, t32, t33 = k.T[2, 0], k.T[2, 1], k.T[2, 2]
    let ti11, ti12, ti13 = k.TI[0, 0], k.TI[0, 1], k.TI[0, 2]
    let ti21, ti22, ti23 = k.TI[1, 0], k.TI[1, 1], k.TI[1, 2]
    let ti31, ti32, ti33 = k.TI[2, 0], k.TI[2, 1], k.TI[2, 2]
    let lg = k.Lambda[0, 0]
    let la = k.Lambda[1, 1] // = Lambda[2, 2]
    let lb = k.Lambda[1, 2] // = -Lambda[2, 1]
    let dd1, dd2, dd3 = k.Dd[0], k.Dd[1], k.Dd[2]
    let n = y0.Length
    let dir = if tEnd >= t0 then 1.0 else -1.0
    let hmaxn = Math.Min(Math.Abs options.MaxStep, Math.Abs(tEnd - t0))
    // RADAU5 tightens the tolerances because its error estimate is of lower order than the solution:
    // rtol' = 0.1 rtol^(2/3), atol' = rtol' atol / rtol.
    let rtolI, atolI =
        if options.RelTol > 0.0 then
            let r = 0.1 * Math.Pow(options.RelTol, 2.0 / 3.0)
            r, r * options.AbsTol / options.RelTol
        else 0.0, 0.1 * Math.Pow(options.AbsTol, 2.0 / 3.0)
    let fnewt =
        let tolst = if rtolI > 0.0 then rtolI else atolI
        Math.Max(10.0 * Uround / tolst, Math.Min(0.03, Math.Sqrt tolst))
    let cfac = safe * float (1 + 2 * Nit)
    let matrix = IterationMatrix(n, blockSizesOf n options.Jacobian analytic, analytic, counters)
    // Jacobian reuse threshold (RADAU5's THET): reuse after a step whose Newton contraction was below it;
    // Hairer advises 0.1 when a Jacobian is costly.
    let thet = if matrix.EvaluationsPerJacobian >= 20 then 0.1 else 0.001
    // Keep h (and the LU) while hnew / h stays in [quot1, quot2]: RADAU5's defaults [1, 1.2], and Hairer's
    // advice [0.99, 2] for large full systems, where one real and one complex LU cost seconds (n = 3,000).
    let quot1, quot2 = if matrix.MaxBlock >= 200 then 0.99, 2.0 else 1.0, 1.2
    let y = Array.copy y0
    let f0 = Array.zeroCreate<float> n
    let z1 = Array.zeroCreate<float> n
    let z2 = Array.zeroCreate<float> n
    let z3 = Array.zeroCreate<float> n
    let w1 = Array.zeroCreate<float> n
    let w2 = Array.zeroCreate<float> n
    let w3 = Array.zeroCreate<float> n
    let g1 = Array.zeroCreate<float> n
    let g2 = Array.zeroCreate<float> n
    let g3 = Array.zeroCreate<float> n
    let ytmp = Array.zeroCreate<float> n
    let scal = Array.zeroCreate<float> n
    let cont1 = Array.zeroCreate<float> n
    let cont2 = Array.zeroCreate<float> n
    let cont3 = Array.zeroCreate<float> n
    let mutable t = t0
    let mutable tPrev = t0
    let mutable h = 0.0
    let mutable hold = 0.0
    let mutable first = true
    let mutable reject = false
    let mutable last = false
    let mutable finished = false
    let mutable needJac = true
    let mutable needLu = true
    let mutable caljac = false
    let mutable theta = 0.0
    let mutable faccon = 1.0
    let mutable hacc = 0.0
    let mutable erracc = 0.0
    let mutable nsing = 0
    let mutable lastNonFinite = false
    let mutable pendingError: string option = None

    let computeScal () =
        for i in 0 .. n - 1 do
            scal[i] <- atolI + rtolI * Math.Abs y[i]

    do
        f t0 y f0
        if not (allFinite f0) then
            pendingError <- Some(Failures.initialNonFinite t0)
        else
            h <- firstStep options h0 dir hmaxn (fun () -> hairerInitialStep f 4 t0 y f0 dir hmaxn options.AbsTol options.RelTol ytmp g1)
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
        | None when finished -> StepFailed(Failures.finished "Radau5" t)
        | None -> this.Attempt()

    /// Scaled RMS over the three stage blocks.
    member private _.Norm3(a: float[], b: float[], c: float[]) =
        let mutable s = 0.0
        for i in 0 .. n - 1 do
            let qa = a[i] / scal[i]
            let qb = b[i] / scal[i]
            let qc = c[i] / scal[i]
            s <- s + qa * qa + qb * qb + qc * qc
        Math.Sqrt(s / float (3 * n))

    member private _.Norm(a: float[]) =
        let mutable s = 0.0
        for i in 0 .. n - 1 do
            let q = a[i] / scal[i]
            s <- s + q * q
        Math.Sqrt(s / float n)

    /// After a failed Newton iteration or a singular matrix: half the step, refresh what is stale.
    member private _.Unexpected() =
        h <- h * 0.5
        reject <- true
        last <- false
        needLu <- true
        if not caljac then needJac <- true

    member private this.Attempt() =
        let mutable result = ValueNone
        while result.IsNone do
            if needJac then
                matrix.Evaluate(f, t, y, f0)
                caljac <- true
                needJac <- false
                needLu <- true
            let mutable singular = false
            if needLu then
                // E1 = (g / h) I - J and E2 = ((a + i (-b)) / h) I - J: the real and complex blocks of the
                // transformed Newton system.
                counters.Decompositions <- counters.Decompositions + 1
                let ok1 = matrix.FactorReal(lg / h, 1.0)
                let ok2 = ok1 && matrix.FactorComplex(la / h, -lb / h)
                needLu <- false
                singular <- not ok2
            if singular then
                nsing <- nsing + 1
                if nsing >= 5 then
                    result <- ValueSome(StepFailed(Failures.singular "Radau5" t h))
                else this.Unexpected()
            elif counters.Steps >= options.MaxSteps then
                result <-
                    ValueSome(StepFailed(Failures.budget "Radau5" options.MaxSteps t tEnd))
            elif 0.1 * Math.Abs h <= Math.Abs t * Uround || Math.Abs h < options.MinStep then
                result <-
                    ValueSome(StepFailed(Failures.underflow "Radau5" t h options.MinStep lastNonFinite ": the Newton iteration or the error test failed at every step size tried"))
            else
                counters.Steps <- counters.Steps + 1
                result <- this.TryStep()
        result.Value

    /// One attempt with the current h, J and LU: Some Accepted, or None after a rejection (state prepared for
    /// the next attempt).
    member private this.TryStep() : StepStatus voption =
        let xph = if last then tEnd else t + h
        // Starting values: zero on the first step, else the previous collocation polynomial extrapolated.
        if first then
            Array.Clear z1
            Array.Clear z2
            Array.Clear z3
            Array.Clear w1
            Array.Clear w2
            Array.Clear w3
        else
            let c3q = h / hold
            let c1q = c1 * c3q
            let c2q = c2 * c3q
            for i in 0 .. n - 1 do
                let ak1, ak2, ak3 = cont1[i], cont2[i], cont3[i]
                let z1i = c1q * (ak1 + (c1q - c2m1) * (ak2 + (c1q - c1m1) * ak3))
                let z2i = c2q * (ak1 + (c2q - c2m1) * (ak2 + (c2q - c1m1) * ak3))
                let z3i = c3q * (ak1 + (c3q - c2m1) * (ak2 + (c3q - c1m1) * ak3))
                z1[i] <- z1i
                z2[i] <- z2i
                z3[i] <- z3i
                w1[i] <- ti11 * z1i + ti12 * z2i + ti13 * z3i
                w2[i] <- ti21 * z1i + ti22 * z2i + ti23 * z3i
                w3[i] <- ti31 * z1i + ti32 * z2i + ti33 * z3i
        // Simplified Newton iteration in the transformed variables W = T^-1 Z.
        let mutable newt = 0
        faccon <- Math.Pow(Math.Max(faccon, Uround), 0.8)
        theta <- Math.Abs thet
        let mutable dynold = 0.0
        let mutable thqold = 0.0
        let mutable state = 0 // 0 iterating, 1 converged, 2 failed (halve h), 3 too slow (h already reduced)
        lastNonFinite <- false
        while state = 0 do
            if newt >= Nit then
                state <- 2
            else
                for i in 0 .. n - 1 do
                    ytmp[i] <- y[i] + z1[i]
                f (t + c1 * h) ytmp g1
                for i in 0 .. n - 1 do
                    ytmp[i] <- y[i] + z2[i]
                f (t + c2 * h) ytmp g2
                for i in 0 .. n - 1 do
                    ytmp[i] <- y[i] + z3[i]
                f xph ytmp g3
                if not (allFinite g1 && allFinite g2 && allFinite g3) then
                    lastNonFinite <- true
                    state <- 2
                else
                    let hinv = 1.0 / h
                    for i in 0 .. n - 1 do
                        let a1, a2, a3 = g1[i], g2[i], g3[i]
                        let q1 = ti11 * a1 + ti12 * a2 + ti13 * a3
                        let q2 = ti21 * a1 + ti22 * a2 + ti23 * a3
                        let q3 = ti31 * a1 + ti32 * a2 + ti33 * a3
                        g1[i] <- q1 - lg * hinv * w1[i]
                        g2[i] <- q2 - hinv * (la * w2[i] + lb * w3[i])
                        g3[i] <- q3 - hinv * (-lb * w2[i] + la * w3[i])
                    matrix.SolveReal g1
                    matrix.SolveComplex(g2, g3)
                    newt <- newt + 1
                    let dyno = this.Norm3(g1, g2, g3)
                    let mutable go = true
                    if newt > 1 && newt < Nit then
                        let thq = dyno / dynold
                        theta <- if newt = 2 then thq else Math.Sqrt(thq * thqold)
                        thqold <- thq
                        if theta < 0.99 then
                            faccon <- theta / (1.0 - theta)
                            let dyth = faccon * dyno * Math.Pow(theta, float (Nit - 1 - newt)) / fnewt
                            if dyth >= 1.0 then
                                // Converging, but too slowly for the remaining iterations: shrink h now.
                                let qnewt = Math.Max(1e-4, Math.Min(20.0, dyth))
                                h <- h * 0.8 * Math.Pow(qnewt, -1.0 / (4.0 + float (Nit - 1 - newt)))
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
                        for i in 0 .. n - 1 do
                            let a1 = w1[i] + g1[i]
                            let a2 = w2[i] + g2[i]
                            let a3 = w3[i] + g3[i]
                            w1[i] <- a1
                            w2[i] <- a2
                            w3[i] <- a3
                            z1[i] <- t11 * a1 + t12 * a2 + t13 * a3
                            z2[i] <- t21 * a1 + t22 * a2 + t23 * a3
                            z3[i] <- t31 * a1 + t32 * a2 + t33 * a3
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
            needLu <- true
            if not caljac then needJac <- true
            ValueNone
        | _ ->
            // Error estimate (Hairer's ESTRAD): E1^-1 (f0 + sum dd_j z_j / h), i.e. the embedded difference
            // filtered by (I - gamma0 h J)^-1 so that it stays bounded for stiff components.
            let hinv = 1.0 / h
            for i in 0 .. n - 1 do
                let fz = hinv * (dd1 * z1[i] + dd2 * z2[i] + dd3 * z3[i])
                g2[i] <- fz
                g1[i] <- f0[i] + fz
            matrix.SolveReal g1
            let mutable err = Math.Max(this.Norm g1, 1e-10)
            if err >= 1.0 && (first || reject) then
                // One more evaluation gives a better estimate after a rejection or on the first step.
                for i in 0 .. n - 1 do
                    ytmp[i] <- y[i] + g1[i]
                f t ytmp g3
                for i in 0 .. n - 1 do
                    g1[i] <- g3[i] + g2[i]
                matrix.SolveReal g1
                err <- Math.Max(this.Norm g1, 1e-10)
                if not (Double.IsFinite err) then err <- 1e10
            if not (Double.IsFinite err) then err <- 1e10
            let fac = Math.Min(safe, cfac / float (newt + 2 * Nit))
            let mutable quot = Math.Max(facr, Math.Min(facl, Math.Pow(err, 0.25) / fac))
            let mutable hnew = h / quot
            if err < 1.0 then
                first <- false
                counters.Accepted <- counters.Accepted + 1
                // Predictive controller of Gustafsson.
                if counters.Accepted > 1 && hacc <> 0.0 then
                    let facgus = Math.Max(facr, Math.Min(facl, (hacc / h) * Math.Pow(err * err / erracc, 0.25) / safe))
                    quot <- Math.Max(quot, facgus)
                    hnew <- h / quot
                hacc <- h
                erracc <- Math.Max(1e-2, err)
                tPrev <- t
                hold <- h
                t <- xph
                // New state and the collocation polynomial through y0, y0 + z1, y0 + z2, y0 + z3 (Newton form in
                // s = (t - t_new) / h at the nodes 0, c2 - 1, c1 - 1, -1).
                for i in 0 .. n - 1 do
                    let z1i, z2i, z3i = z1[i], z2[i], z3[i]
                    y[i] <- y[i] + z3i
                    let d01 = (z2i - z3i) / c2m1
                    let d12 = (z1i - z2i) / c1mc2
                    let d23 = (d12 - z1i / c1) / c2
                    let d012 = (d12 - d01) / c1m1
                    cont1[i] <- d01
                    cont2[i] <- d012
                    cont3[i] <- d012 - d23
                computeScal ()
                caljac <- false
                if last then
                    finished <- true
                    h <- hnew
                else
                    f t y f0
                    if not (allFinite f0) then
                        pendingError <-
                            Some(sprintf "Radau5: the right-hand side returned NaN or infinity at the accepted point t = %s" (fmt t))
                    hnew <- dir * Math.Min(Math.Abs hnew, hmaxn)
                    if reject then hnew <- dir * Math.Min(Math.Abs hnew, Math.Abs h)
                    reject <- false
                    if (t + hnew / quot1 - tEnd) * dir >= 0.0 then
                        h <- tEnd - t
                        last <- true
                        needLu <- true
                        if theta > thet then needJac <- true
                    else
                        let qt = hnew / h
                        if theta <= thet && qt >= quot1 && qt <= quot2 then
                            () // keep h, J and the LU
                        else
                            h <- hnew
                            needLu <- true
                            if theta > thet then needJac <- true
                ValueSome Accepted
            else
                reject <- true
                last <- false
                h <- if first then h * 0.1 else hnew
                counters.Rejected <- counters.Rejected + 1
                needLu <- true
                if not caljac then needJac <- true
                ValueNone

    /// The collocation polynomial of the last step.
    override _.Interpolate(tq: float, result: float[]) =
        if tq = t then
            Array.blit y 0 result 0 n
        else
            let s = (tq - t) / hold
            for i in 0 .. n - 1 do
                result[i] <- y[i] + s * (cont1[i] + (s - c2m1) * (cont2[i] + (s - c1m1) * cont3[i]))
