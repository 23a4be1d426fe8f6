/// Explicit Dormand-Prince 5(4) with the step control, initial step, stiffness test and dense output of
/// Hairer's DOPRI5 (Hairer, Norsett & Wanner, Solving ODE I, sections II.4-II.6 and II.10), so that work counts
/// agree with that code evaluation for evaluation.
module internal Theory.Ode.Dopri5

open System
open Theory.Ode.Common

// Butcher tableau of Dormand & Prince (1980), the 5th-order weights in row 7 (first same as last).
let private c2, c3, c4, c5 = 0.2, 0.3, 0.8, 8.0 / 9.0
let private a21 = 0.2
let private a31, a32 = 3.0 / 40.0, 9.0 / 40.0
let private a41, a42, a43 = 44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0
let private a51, a52, a53, a54 = 19372.0 / 6561.0, -25360.0 / 2187.0, 64448.0 / 6561.0, -212.0 / 729.0
let private a61, a62, a63, a64, a65 =
    9017.0 / 3168.0, -355.0 / 33.0, 46732.0 / 5247.0, 49.0 / 176.0, -5103.0 / 18656.0
let private a71, a73, a74, a75, a76 = 35.0 / 384.0, 500.0 / 1113.0, 125.0 / 192.0, -2187.0 / 6784.0, 11.0 / 84.0
// Error coefficients: 5th-order minus embedded 4th-order weights.
let private e1, e3, e4, e5, e6, e7 =
    71.0 / 57600.0, -71.0 / 16695.0, 71.0 / 1920.0, -17253.0 / 339200.0, 22.0 / 525.0, -1.0 / 40.0
// Shampine's dense output of order 4 (as in DOPRI5's CONTD5).
let private d1, d3, d4, d5, d6, d7 =
    -12715105075.0 / 11282082432.0, 87487479700.0 / 32700410799.0, -10690763975.0 / 1880347072.0,
    701980252875.0 / 199316789632.0, -1453857185.0 / 822651844.0, 69997945.0 / 29380423.0

// Step-size controller of DOPRI5: PI control with exponents 0.2 - 0.75 beta = 0.17 and beta = 0.04.
let private safe = 0.9
let private beta = 0.04
let private expo1 = 0.2 - beta * 0.75
let private facc1 = 1.0 / 0.2 // hnew / h >= 0.2
let private facc2 = 1.0 / 10.0 // hnew / h <= 10

/// DOPRI5 from (t0, y0) towards tEnd. `f` counts its own evaluations in `counters`. With
/// `stiffTestEveryStep` the stiffness test runs at every accepted step (Auto), else every
/// `options.StiffnessTestInterval` accepted steps as DOPRI5's NSTIFF.
type Dopri5Stepper(options: Options, f: Rhs, t0: float, y0: float[], tEnd: float, counters: Counters,
                   stiffTestEveryStep: bool) =
    inherit Stepper()
    let n = y0.Length
    let dir = if tEnd >= t0 then 1.0 else -1.0
    let hmax = Math.Min(Math.Abs options.MaxStep, Math.Abs(tEnd - t0))
    let atol, rtol = options.AbsTol, options.RelTol
    let nstiff = options.StiffnessTestInterval
    // Preallocated stage storage: nothing is allocated per step.
    let mutable y = Array.copy y0
    let mutable y1 = Array.zeroCreate<float> n
    let mutable k1 = Array.zeroCreate<float> n
    let mutable k7 = Array.zeroCreate<float> n
    let k2 = Array.zeroCreate<float> n
    let k3 = Array.zeroCreate<float> n
    let k4 = Array.zeroCreate<float> n
    let k5 = Array.zeroCreate<float> n
    let k6 = Array.zeroCreate<float> n
    let ytmp = Array.zeroCreate<float> n
    let ysti = Array.zeroCreate<float> n
    let err = Array.zeroCreate<float> n
    let r2 = Array.zeroCreate<float> n
    let r3 = Array.zeroCreate<float> n
    let r4 = Array.zeroCreate<float> n
    let r5 = Array.zeroCreate<float> n
    let mutable t = t0
    let mutable tPrev = t0
    let mutable h = 0.0
    let mutable hLast = 0.0
    let mutable facold = 1e-4
    let mutable reject = false
    let mutable finished = false
    let mutable denseReady = false
    let mutable iasti = 0
    let mutable nonsti = 0
    let mutable stiffAt = Double.NaN
    let mutable lastNonFinite = false
    let mutable initError: string option = None

    do
        f t0 y k1
        if not (allFinite k1) then
            initError <- Some(Failures.initialNonFinite t0)
        else
            // DOPRI5 never receives a handed-over step (h0 = 0).
            h <- firstStep options 0.0 dir hmax (fun () -> hairerInitialStep f 5 t0 y k1 dir hmax atol rtol y1 k2)

    /// The time at which DOPRI5's stiffness test fired for the 15th time (NaN if never).
    member _.StiffAt = stiffAt

    /// Last accepted step size.
    member _.LastStep = hLast

    override _.T = t
    override _.TPrev = tPrev
    override _.Y = y
    override _.NextStep = h

    override this.Step() =
        match initError with
        | Some message -> StepFailed message
        | None when finished -> StepFailed(Failures.finished "DOPRI5" t)
        | None -> this.Attempt()

    member private _.Attempt() =
        let mutable result = ValueNone
        while result.IsNone do
            let mutable last = false
            if counters.Steps >= options.MaxSteps then
                result <-
                    ValueSome(StepFailed(Failures.budget "DOPRI5" options.MaxSteps t tEnd))
            elif 0.1 * Math.Abs h <= Math.Abs t * Uround || Math.Abs h < options.MinStep then
                result <-
                    ValueSome(StepFailed(Failures.underflow "DOPRI5" t h options.MinStep lastNonFinite ""))
            else
                // Land exactly on the final time; the 1.01 avoids a needless sliver of a step.
                if (t + 1.01 * h - tEnd) * dir > 0.0 then
                    h <- tEnd - t
                    last <- true
                counters.Steps <- counters.Steps + 1
                for i in 0 .. n - 1 do
                    ytmp[i] <- y[i] + h * a21 * k1[i]
                f (t + c2 * h) ytmp k2
                for i in 0 .. n - 1 do
                    ytmp[i] <- y[i] + h * (a31 * k1[i] + a32 * k2[i])
                f (t + c3 * h) ytmp k3
                for i in 0 .. n - 1 do
                    ytmp[i] <- y[i] + h * (a41 * k1[i] + a42 * k2[i] + a43 * k3[i])
                f (t + c4 * h) ytmp k4
                for i in 0 .. n - 1 do
                    ytmp[i] <- y[i] + h * (a51 * k1[i] + a52 * k2[i] + a53 * k3[i] + a54 * k4[i])
                f (t + c5 * h) ytmp k5
                for i in 0 .. n - 1 do
                    ysti[i] <- y[i] + h * (a61 * k1[i] + a62 * k2[i] + a63 * k3[i] + a64 * k4[i] + a65 * k5[i])
                let tph = if last then tEnd else t + h
                f tph ysti k6
                // The 5th-order solution is propagated (local extrapolation).
                for i in 0 .. n - 1 do
                    y1[i] <- y[i] + h * (a71 * k1[i] + a73 * k3[i] + a74 * k4[i] + a75 * k5[i] + a76 * k6[i])
                f tph y1 k7
                for i in 0 .. n - 1 do
                    err[i] <- h * (e1 * k1[i] + e3 * k3[i] + e4 * k4[i] + e5 * k5[i] + e6 * k6[i] + e7 * k7[i])
                let errNorm = scaledRms atol rtol err y y1
                if not (Double.IsFinite errNorm) then
                    // A stage left the domain of f (NaN or infinity): reject and retry 5 times smaller.
                    lastNonFinite <- true
                    reject <- true
                    counters.Rejected <- counters.Rejected + 1
                    h <- h / facc1
                else
                    lastNonFinite <- false
                    let fac11 = Math.Pow(errNorm, expo1)
                    // Lund stabilisation: the PI controller of DOPRI5.
                    let fac = Math.Max(facc2, Math.Min(facc1, fac11 / Math.Pow(facold, beta) / safe))
                    let mutable hnew = h / fac
                    if errNorm <= 1.0 then
                        facold <- Math.Max(errNorm, 1e-4)
                        counters.Accepted <- counters.Accepted + 1
                        // Stiffness detection (DOPRI5): h |lambda| estimated from the two stages at t + h.
                        if nstiff > 0 || stiffTestEveryStep then
                            if stiffTestEveryStep || counters.Accepted % nstiff = 0 || iasti > 0 then
                                let mutable stnum = 0.0
                                let mutable stden = 0.0
                                for i in 0 .. n - 1 do
                                    stnum <- stnum + (k7[i] - k6[i]) * (k7[i] - k6[i])
                                    stden <- stden + (y1[i] - ysti[i]) * (y1[i] - ysti[i])
                                if stden > 0.0 && Math.Abs h * Math.Sqrt(stnum / stden) > 3.25 then
                                    nonsti <- 0
                                    iasti <- iasti + 1
                                    if iasti = 15 && Double.IsNaN stiffAt then stiffAt <- t
                                else
                                    nonsti <- nonsti + 1
                                    if nonsti = 6 then iasti <- 0
                        // First same as last: f(t + h, y1) is the next step's first stage.
                        let ys = y
                        y <- y1
                        y1 <- ys
                        let ks = k1
                        k1 <- k7
                        k7 <- ks
                        tPrev <- t
                        t <- tph
                        hLast <- h
                        denseReady <- false
                        if Math.Abs hnew > hmax then hnew <- dir * hmax
                        // No growth right after a rejection.
                        if reject then hnew <- dir * Math.Min(Math.Abs hnew, Math.Abs h)
                        reject <- false
                        h <- hnew
                        finished <- last
                        result <- ValueSome Accepted
                    else
                        hnew <- h / Math.Min(facc1, fac11 / safe)
                        reject <- true
                        counters.Rejected <- counters.Rejected + 1
                        h <- hnew
        result.Value

    /// Shampine's 4th-order continuous extension on the last accepted step (after the swap: y1 holds the old
    /// state, k7 the old first stage, k1 the derivative at the new state).
    override _.Interpolate(tq: float, result: float[]) =
        if not denseReady then
            for i in 0 .. n - 1 do
                let ydiff = y[i] - y1[i]
                let bspl = hLast * k7[i] - ydiff
                r2[i] <- ydiff
                r3[i] <- bspl
                r4[i] <- ydiff - hLast * k1[i] - bspl
                r5[i] <- hLast * (d1 * k7[i] + d3 * k3[i] + d4 * k4[i] + d5 * k5[i] + d6 * k6[i] + d7 * k1[i])
            denseReady <- true
        if tq = t then
            Array.blit y 0 result 0 n
        else
            let theta = (tq - tPrev) / hLast
            let theta1 = 1.0 - theta
            for i in 0 .. n - 1 do
                result[i] <- y1[i] + theta * (r2[i] + theta1 * (r3[i] + theta * (r4[i] + theta1 * r5[i])))
