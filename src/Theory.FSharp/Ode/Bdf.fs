/// Variable-order (1-5), quasi-constant step size BDF in backward-difference form with the numerical
/// differentiation formulas of Shampine & Reichelt (the MATLAB ode15s / SciPy BDF family): a simplified Newton
/// iteration on I - c J, the Jacobian reused across steps and refreshed only when the iteration fails to converge.
module internal Theory.Ode.Bdf

open System
open Theory.Ode.Common
open Theory.Ode.Jacobian

[<Literal>]
let private MaxOrderLimit = 5

[<Literal>]
let private NewtonMaxIter = 4

let private minFactor = 0.2
let private maxFactor = 10.0

/// Step increases smaller than this are not taken: every change of h costs an LU factorisation, and that is the
/// dominant cost for large systems (CVODE uses 1.5; 1.2 keeps most of the step-size gain).
let private minIncrease = 1.2

// NDF coefficients (Shampine & Reichelt 1997): kappa per order; alpha = (1 - kappa) gamma;
// the local error is errorConst[k] * (y_new - y_predict).
let private kappa = [| 0.0; -0.1850; -1.0 / 9.0; -0.0823; -0.0415; 0.0 |]
let private gamma = Array.init (MaxOrderLimit + 2) (fun k -> Seq.sum (seq { for j in 1 .. k -> 1.0 / float j }))
let private alpha = Array.init (MaxOrderLimit + 1) (fun k -> (1.0 - kappa[k]) * gamma[k])
let private errorConst =
    Array.init (MaxOrderLimit + 2) (fun k -> (if k <= MaxOrderLimit then kappa[k] else 0.0) * gamma[k] + 1.0 / float (k + 1))

/// R(order, factor) of the step-size change of the difference array: R[i, j] = prod_{r=1..i} (r - 1 - factor j) / r.
let private computeR (order: int) (factor: float) (r: float[,]) =
    for j in 0 .. order do
        r[0, j] <- 1.0
    for i in 1 .. order do
        r[i, 0] <- 0.0
        for j in 1 .. order do
            r[i, j] <- r[i - 1, j] * (float (i - 1) - factor * float j) / float i

/// The stiff solver from (t0, y0) towards tEnd; `h0` = 0 lets it choose the first step.
type BdfStepper(options: Options, f: Rhs, analytic: JacobianFunction option, t0: float, y0: float[], tEnd: float,
                h0: float, counters: Counters) =
    inherit Stepper()
    let n = y0.Length
    let dir = if tEnd >= t0 then 1.0 else -1.0
    let maxOrder = Math.Clamp(options.MaxOrder, 1, MaxOrderLimit)
    let maxStep = Math.Min(Math.Abs options.MaxStep, Math.Abs(tEnd - t0))
    let atol, rtol = options.AbsTol, options.RelTol
    let newtonTol = Math.Max(10.0 * 2.220446049250313e-16 / rtol, Math.Min(0.03, Math.Sqrt rtol))
    let matrix = IterationMatrix(n, blockSizesOf n options.Jacobian analytic, analytic, counters)
    // Backward differences D[0] = y, D[k] = h^k-scaled k-th difference, two spare rows for order changes.
    let d = Array.init (MaxOrderLimit + 3) (fun _ -> Array.zeroCreate<float> n)
    let dtmp = Array.init (MaxOrderLimit + 1) (fun _ -> Array.zeroCreate<float> n)
    let rMat = Array2D.zeroCreate<float> (MaxOrderLimit + 1) (MaxOrderLimit + 1)
    let uMat = Array2D.zeroCreate<float> (MaxOrderLimit + 1) (MaxOrderLimit + 1)
    let ruMat = Array2D.zeroCreate<float> (MaxOrderLimit + 1) (MaxOrderLimit + 1)
    let yPredict = Array.zeroCreate<float> n
    let yNew = Array.zeroCreate<float> n
    let psi = Array.zeroCreate<float> n
    let corr = Array.zeroCreate<float> n // y_new - y_predict (the d of the Newton iteration)
    let dy = Array.zeroCreate<float> n
    let fw = Array.zeroCreate<float> n
    let fPredict = Array.zeroCreate<float> n
    let scale = Array.zeroCreate<float> n
    let mutable t = t0
    let mutable tPrev = t0
    let mutable hAbs = 0.0
    let mutable order = 1
    let mutable nEqualSteps = 0
    let mutable luValid = false
    let mutable luC = nan
    let mutable jacCurrent = false
    let mutable finished = false
    let mutable lastNonFinite = false
    let mutable lastNewtonIter = 0
    let mutable initError: string option = None

    /// Rescales the differences D[0..order] for the step change hAbs -> factor * hAbs.
    let changeD (factor: float) =
        computeR order factor rMat
        computeR order 1.0 uMat
        for i in 0 .. order do
            for j in 0 .. order do
                let mutable s = 0.0
                for k in 0 .. order do
                    s <- s + rMat[i, k] * uMat[k, j]
                ruMat[i, j] <- s
        // D_new[j] = sum_i RU[i, j] D[i]
        for j in 0 .. order do
            let target = dtmp[j]
            Array.Clear target
            for i in 0 .. order do
                let c = ruMat[i, j]
                if c <> 0.0 then
                    let src = d[i]
                    for k in 0 .. n - 1 do
                        target[k] <- target[k] + c * src[k]
        for j in 0 .. order do
            Array.blit dtmp[j] 0 d[j] 0 n

    let rms (v: float[]) =
        let mutable s = 0.0
        for i in 0 .. n - 1 do
            let q = v[i] / scale[i]
            s <- s + q * q
        Math.Sqrt(s / float n)

    do
        Array.blit y0 0 d[0] 0 n
        f t0 y0 fw
        if not (allFinite fw) then
            initError <- Some(Failures.initialNonFinite t0)
        else
            hAbs <- Math.Abs(firstStep options h0 dir maxStep (fun () -> hairerInitialStep f 2 t0 y0 fw dir maxStep atol rtol yNew dy))
            for i in 0 .. n - 1 do
                d[1][i] <- fw[i] * hAbs * dir
            matrix.Evaluate(f, t0, y0, fw)
            jacCurrent <- true

    /// The current order of the formula.
    member _.Order = order

    override _.T = t
    override _.TPrev = tPrev
    override _.Y = d[0]
    override _.NextStep = hAbs * dir

    override this.Step() =
        match initError with
        | Some message -> StepFailed message
        | None when finished -> StepFailed(Failures.finished "BDF" t)
        | None -> this.Attempt()

    /// The simplified Newton iteration for y_new = y_predict + corr with c f(t_new, y_new) = psi + corr.
    /// Returns true when converged; `fPredict` holds f(t_new, y_predict) after the first iteration.
    member private _.Newton(tNew: float, c: float) =
        Array.Clear corr
        Array.blit yPredict 0 yNew 0 n
        let mutable dyNormOld = nan
        let mutable converged = false
        let mutable stop = false
        let mutable k = 0
        while not stop && k < NewtonMaxIter do
            f tNew yNew fw
            if k = 0 then Array.blit fw 0 fPredict 0 n
            if not (allFinite fw) then
                lastNonFinite <- true
                stop <- true
            else
                for i in 0 .. n - 1 do
                    dy[i] <- c * fw[i] - psi[i] - corr[i]
                matrix.SolveReal dy
                let dyNorm = rms dy
                let rate = if k = 0 then nan else dyNorm / dyNormOld
                if not (Double.IsFinite dyNorm) then
                    stop <- true
                elif k > 0 && (rate >= 1.0 || Math.Pow(rate, float (NewtonMaxIter - k)) / (1.0 - rate) * dyNorm > newtonTol) then
                    // Diverging, or too slow to converge within the remaining iterations.
                    stop <- true
                else
                    for i in 0 .. n - 1 do
                        yNew[i] <- yNew[i] + dy[i]
                        corr[i] <- corr[i] + dy[i]
                    if dyNorm = 0.0 || (k > 0 && rate / (1.0 - rate) * dyNorm < newtonTol) then
                        converged <- true
                        stop <- true
                    dyNormOld <- dyNorm
            k <- k + 1
        lastNewtonIter <- k
        converged

    member private this.Attempt() =
        let mutable result = ValueNone
        // Keep h within [.., maxStep].
        if hAbs > maxStep then
            changeD (maxStep / hAbs)
            hAbs <- maxStep
            nEqualSteps <- 0
            luValid <- false
        while result.IsNone do
            let minStep = Math.Max(options.MinStep, 10.0 * (Math.BitIncrement(Math.Abs t) - Math.Abs t))
            if counters.Steps >= options.MaxSteps then
                result <-
                    ValueSome(StepFailed(Failures.budget "BDF" options.MaxSteps t tEnd))
            elif hAbs < minStep then
                result <-
                    ValueSome(StepFailed(Failures.underflow "BDF" t hAbs options.MinStep lastNonFinite ": the Newton iteration or the error test failed at every step size tried"))
            else
                counters.Steps <- counters.Steps + 1
                let mutable last = false
                let mutable tNew = t + hAbs * dir
                if dir * (tNew - tEnd) >= 0.0 then
                    tNew <- tEnd
                    last <- true
                    let factor = Math.Abs(tNew - t) / hAbs
                    if factor <> 1.0 then
                        changeD factor
                        nEqualSteps <- 0
                        luValid <- false
                    hAbs <- Math.Abs(tNew - t)
                let h = tNew - t
                for i in 0 .. n - 1 do
                    let mutable s = 0.0
                    for k in 0 .. order do
                        s <- s + d[k][i]
                    yPredict[i] <- s
                    scale[i] <- atol + rtol * Math.Abs s
                let a = alpha[order]
                for i in 0 .. n - 1 do
                    let mutable s = 0.0
                    for k in 1 .. order do
                        s <- s + gamma[k] * d[k][i]
                    psi[i] <- s / a
                let c = h / a
                lastNonFinite <- false
                let mutable converged = false
                let mutable trying = true
                while trying do
                    if luValid && luC = c then ()
                    else
                        luC <- c
                        counters.Decompositions <- counters.Decompositions + 1
                        luValid <- matrix.FactorReal(1.0, c)
                    if luValid then
                        converged <- this.Newton(tNew, c)
                    else
                        // Singular iteration matrix: no Newton iteration ran, f at the prediction is still needed.
                        converged <- false
                        lastNewtonIter <- 0
                    if converged || jacCurrent then
                        trying <- false
                    else
                        // A stale Jacobian is the usual reason: refresh it at the predicted point and retry.
                        if lastNewtonIter = 0 then f tNew yPredict fPredict
                        if allFinite fPredict then
                            matrix.Evaluate(f, tNew, yPredict, fPredict)
                            jacCurrent <- true
                            luValid <- false
                        else
                            trying <- false
                if not converged then
                    counters.Rejected <- counters.Rejected + 1
                    changeD 0.5
                    hAbs <- hAbs * 0.5
                    nEqualSteps <- 0
                    luValid <- false
                else
                    let safety = 0.9 * float (2 * NewtonMaxIter + 1) / float (2 * NewtonMaxIter + lastNewtonIter)
                    for i in 0 .. n - 1 do
                        scale[i] <- atol + rtol * Math.Max(Math.Abs(d[0][i]), Math.Abs yNew[i])
                        dy[i] <- errorConst[order] * corr[i]
                    let errNorm = rms dy
                    if errNorm > 1.0 then
                        let factor = Math.Max(minFactor, safety * Math.Pow(errNorm, -1.0 / float (order + 1)))
                        counters.Rejected <- counters.Rejected + 1
                        changeD factor
                        hAbs <- hAbs * factor
                        nEqualSteps <- 0
                        luValid <- false
                    else
                        counters.Accepted <- counters.Accepted + 1
                        jacCurrent <- false
                        nEqualSteps <- nEqualSteps + 1
                        tPrev <- t
                        t <- tNew
                        finished <- last
                        // Update the differences with the correction.
                        let dp2 = d[order + 2]
                        let dp1 = d[order + 1]
                        for i in 0 .. n - 1 do
                            dp2[i] <- corr[i] - dp1[i]
                            dp1[i] <- corr[i]
                        for k in order .. -1 .. 0 do
                            let dk = d[k]
                            let dk1 = d[k + 1]
                            for i in 0 .. n - 1 do
                                dk[i] <- dk[i] + dk1[i]
                        // Order and step-size selection once the last order + 1 steps had equal size.
                        if nEqualSteps >= order + 1 then
                            let errM =
                                if order > 1 then
                                    for i in 0 .. n - 1 do
                                        dy[i] <- errorConst[order - 1] * d[order][i]
                                    rms dy
                                else infinity
                            let errP =
                                if order < maxOrder then
                                    for i in 0 .. n - 1 do
                                        dy[i] <- errorConst[order + 1] * d[order + 2][i]
                                    rms dy
                                else infinity
                            let facM = Math.Pow(errM, -1.0 / float order)
                            let facC = Math.Pow(errNorm, -1.0 / float (order + 1))
                            let facP = Math.Pow(errP, -1.0 / float (order + 2))
                            let mutable delta = 0
                            let mutable best = facC
                            if facM > best then
                                best <- facM
                                delta <- -1
                            if facP > best then
                                best <- facP
                                delta <- 1
                            let factor = Math.Min(maxFactor, safety * best)
                            if delta <> 0 || factor < 1.0 || factor >= minIncrease then
                                order <- order + delta
                                hAbs <- hAbs * factor
                                changeD factor
                                nEqualSteps <- 0
                                luValid <- false
                        result <- ValueSome Accepted
        result.Value

    /// The interpolating polynomial of the current differences (valid on the last step).
    override _.Interpolate(tq: float, result: float[]) =
        if tq = t then
            Array.blit d[0] 0 result 0 n
        else
            let h = hAbs * dir
            Array.blit d[0] 0 result 0 n
            let mutable p = 1.0
            for j in 0 .. order - 1 do
                p <- p * (tq - (t - h * float j)) / (h * float (j + 1))
                let dj = d[j + 1]
                for i in 0 .. n - 1 do
                    result[i] <- result[i] + p * dj[i]
