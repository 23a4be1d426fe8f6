/// Pieces shared by the integrators: work counters, the error norm, Hairer's initial step, the stepper contract.
module internal Theory.Ode.Common

open System

/// Unit roundoff as DOPRI5 uses it (UROUND = 2.3e-16).
[<Literal>]
let Uround = 2.3e-16

/// Mutable work counters of one integration (snapshot into `Stats` at the end).
type Counters() =
    member val Evaluations = 0 with get, set
    member val Accepted = 0 with get, set
    member val Rejected = 0 with get, set
    /// Attempted steps (accepted + rejected), for the step budget.
    member val Steps = 0 with get, set
    member val Jacobians = 0 with get, set
    member val Decompositions = 0 with get, set

    member c.Snapshot() : Stats =
        { Evaluations = c.Evaluations
          Accepted = c.Accepted
          Rejected = c.Rejected
          Jacobians = c.Jacobians
          Decompositions = c.Decompositions }

/// What one call of `Stepper.Step` ended with.
type StepStatus =
    | Accepted
    | StepFailed of message: string

/// One integrator advancing from t towards tEnd, one accepted step per call of `Step`, with a dense output
/// valid on the last accepted step [TPrev, T] until the next call.
[<AbstractClass>]
type Stepper() =
    /// Time reached (end of the last accepted step).
    abstract T: float
    /// Start of the last accepted step.
    abstract TPrev: float
    /// State at T (owned by the stepper: copy it to keep it).
    abstract Y: float[]
    /// The step size the next step will try.
    abstract NextStep: float
    /// Attempts steps (rejecting as needed) until one is accepted or the solver gives up.
    abstract Step: unit -> StepStatus
    /// Writes the dense-output value at time `t` in [TPrev, T] into `result`.
    abstract Interpolate: t: float * result: float[] -> unit

/// True when every entry is finite.
let allFinite (v: float[]) =
    let mutable ok = true
    let mutable i = 0
    while ok && i < v.Length do
        ok <- Double.IsFinite v[i]
        i <- i + 1
    ok

/// RMS norm of `e` scaled by `atol + rtol * max(|a|, |b|)` (Hairer's ITOL = 0 weighting).
let scaledRms (atol: float) (rtol: float) (e: float[]) (a: float[]) (b: float[]) =
    let mutable s = 0.0
    for i in 0 .. e.Length - 1 do
        let sk = atol + rtol * Math.Max(Math.Abs a[i], Math.Abs b[i])
        let q = e[i] / sk
        s <- s + q * q
    Math.Sqrt(s / float e.Length)

/// Hairer's starting step (HINIT of DOPRI5) for a method of order `order`; `f0` = f(t0, y0) is given, one
/// further evaluation at y0 + h f0 is made with the scratch arrays `y1`, `f1`. The norms are plain sums over the
/// components, as in DOPRI5, so that the evaluation counts match it.
let hairerInitialStep (f: Rhs) (order: int) (t0: float) (y0: float[]) (f0: float[]) (dir: float) (hmax: float)
                      (atol: float) (rtol: float) (y1: float[]) (f1: float[]) =
    let n = y0.Length
    let mutable dnf = 0.0
    let mutable dny = 0.0
    for i in 0 .. n - 1 do
        let sk = atol + rtol * Math.Abs y0[i]
        dnf <- dnf + (f0[i] / sk) * (f0[i] / sk)
        dny <- dny + (y0[i] / sk) * (y0[i] / sk)
    let mutable h = if dnf <= 1e-10 || dny <= 1e-10 then 1e-6 else Math.Sqrt(dny / dnf) * 0.01
    h <- Math.Min(h, hmax) * dir
    for i in 0 .. n - 1 do
        y1[i] <- y0[i] + h * f0[i]
    f (t0 + h) y1 f1
    let mutable der2 = 0.0
    for i in 0 .. n - 1 do
        let sk = atol + rtol * Math.Abs y0[i]
        let q = (f1[i] - f0[i]) / sk
        der2 <- der2 + q * q
    der2 <- Math.Sqrt der2 / Math.Abs h
    let der12 = Math.Max(Math.Abs der2, Math.Sqrt dnf)
    let h1 =
        // A non-finite value at y0 + h f0 (the step left the domain of f): start much smaller.
        if not (Double.IsFinite der12) then Math.Abs h * 1e-3
        elif der12 <= 1e-15 then Math.Max(1e-6, Math.Abs h * 1e-3)
        else Math.Pow(0.01 / der12, 1.0 / float order)
    dir * Math.Min(Math.Min(100.0 * Math.Abs h, h1), hmax)

/// Formats a time for messages (shortest round-trip form).
let fmt (x: float) = x.ToString("R", Globalization.CultureInfo.InvariantCulture)

/// The failure messages every stepper shares (one wording across the methods; the tests read them).
module Failures =
    /// f(t0, y0) was not finite.
    let initialNonFinite (t0: float) =
        sprintf "the right-hand side returned NaN or infinity at the initial point t = %s" (fmt t0)

    /// `Step` called after the final time was reached.
    let finished (name: string) (t: float) = sprintf "%s: already at the final time t = %s" name (fmt t)

    /// MaxSteps attempted steps without reaching tEnd.
    let budget (name: string) (maxSteps: int) (t: float) (tEnd: float) =
        sprintf "%s: step budget exhausted (MaxSteps = %d steps, accepted + rejected) at t = %s before the final time %s"
            name maxSteps (fmt t) (fmt tEnd)

    /// The step size fell below MinStep or rounding; the reason appended is the non-finite right-hand side when
    /// `nonFinite` (the last try returned NaN or infinity), else `otherwise` (may be empty).
    let underflow (name: string) (t: float) (h: float) (minStep: float) (nonFinite: bool) (otherwise: string) =
        let why = if nonFinite then ": the right-hand side returned NaN or infinity on every step tried there" else otherwise
        sprintf "%s: step size underflow at t = %s (h = %s, MinStep = %s)%s" name (fmt t) (fmt (Math.Abs h)) (fmt minStep) why

    /// The iteration matrix of an implicit method was singular five times at the same point.
    let singular (name: string) (t: float) (h: float) =
        sprintf "%s: the iteration matrix is singular (5 times) at t = %s (h = %s)" name (fmt t) (fmt (Math.Abs h))

/// The first step, signed by `dir`: Options.InitialStep when set, else `h0` (the step handed over after a method
/// switch) when non-zero, else Hairer's rule (`hairer ()`), never longer than `hmax`.
let firstStep (options: Options) (h0: float) (dir: float) (hmax: float) (hairer: unit -> float) =
    if options.InitialStep > 0.0 then dir * Math.Min(options.InitialStep, hmax)
    elif h0 <> 0.0 then dir * Math.Min(Math.Abs h0, hmax)
    elif hmax = 0.0 then 0.0
    else hairer ()
