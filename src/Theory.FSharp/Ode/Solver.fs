/// Entry points of the ODE solvers: an Oslo-style integrator (`init`, `Integrator.Step`), a lazy stream of
/// accepted points (`points`), `solve` to a final time and `solveGrid` on a user grid through the dense output.
module Theory.Ode.Solver

open System
open Theory.Ode.Common

/// Throws ArgumentException naming the field and the allowed range when the options or the problem are invalid.
let validate (options: Options) (n: int) =
    let fail (field: string) (range: string) (value: obj) =
        raise (ArgumentException(sprintf "Options.%s must be %s (got %O)" field range value))
    if not (options.RelTol >= 0.0 && options.RelTol < 1.0) then fail "RelTol" "in [0, 1)" options.RelTol
    if not (options.AbsTol >= 0.0 && Double.IsFinite options.AbsTol) then fail "AbsTol" "finite and >= 0" options.AbsTol
    if options.RelTol = 0.0 && options.AbsTol = 0.0 then fail "RelTol" "> 0 when AbsTol = 0" options.RelTol
    if not (options.InitialStep >= 0.0 && Double.IsFinite options.InitialStep) then
        fail "InitialStep" "finite and >= 0 (0 = automatic)" options.InitialStep
    if not (options.MaxStep > 0.0) then fail "MaxStep" "> 0 (infinity = unlimited)" options.MaxStep
    if not (options.MinStep >= 0.0 && Double.IsFinite options.MinStep) then fail "MinStep" "finite and >= 0" options.MinStep
    if options.MaxSteps <= 0 then fail "MaxSteps" "> 0" options.MaxSteps
    if options.StiffnessTestInterval < 0 then fail "StiffnessTestInterval" ">= 0 (0 = off)" options.StiffnessTestInterval
    if options.MaxOrder < 1 || options.MaxOrder > 5 then fail "MaxOrder" "in 1..5" options.MaxOrder
    match options.Jacobian with
    | BlockDiagonal sizes ->
        if isNull sizes || sizes.Length = 0 || Array.exists (fun s -> s <= 0) sizes || Array.sum sizes <> n then
            raise (ArgumentException(sprintf "Options.Jacobian: the block sizes must be positive and sum to the system size %d" n))
    | DenseFiniteDifference -> ()

/// A running integration from t0 towards tEnd (one accepted step per `Step`). Create it with `Solver.init`.
type Integrator internal (options: Options, problem: Problem, t0: float, y0: float[], tEnd: float) =
    do
        if isNull y0 || y0.Length = 0 then raise (ArgumentException "y0 must have at least one component")
        validate options y0.Length
        if not (Double.IsFinite t0 && Double.IsFinite tEnd) then
            raise (ArgumentException(sprintf "t0 and tEnd must be finite (got %g, %g)" t0 tEnd))
    let n = y0.Length
    let counters = Counters()
    let rhs = problem.Rhs
    let f: Rhs =
        fun t y dy ->
            counters.Evaluations <- counters.Evaluations + 1
            rhs t y dy
    let warnings = ResizeArray<string>()
    let mutable stepper: Stepper =
        match options.Method with
        | Dopri5 -> Dopri5.Dopri5Stepper(options, f, t0, y0, tEnd, counters, false) :> Stepper
        | Auto -> Dopri5.Dopri5Stepper(options, f, t0, y0, tEnd, counters, true) :> Stepper
        | Stiff -> Radau5.Radau5Stepper(options, f, problem.Jacobian, t0, y0, tEnd, 0.0, counters) :> Stepper
        | Radau9 -> RadauIIA.RadauStepper(options, 5, f, problem.Jacobian, t0, y0, tEnd, 0.0, counters) :> Stepper
        | Radau13 -> RadauIIA.RadauStepper(options, 7, f, problem.Jacobian, t0, y0, tEnd, 0.0, counters) :> Stepper
        | Bdf -> Bdf.BdfStepper(options, f, problem.Jacobian, t0, y0, tEnd, 0.0, counters) :> Stepper
        | Rodas4 | Rodas5P | Ros34PW2 ->
            let tableau =
                match options.Method with
                | Rodas4 -> Rosenbrock.rodas4
                | Rodas5P -> Rosenbrock.rodas5p
                | _ -> Rosenbrock.ros34pw2
            Rosenbrock.RosenbrockStepper(options, tableau, f, problem.Jacobian, problem.Autonomous, t0, y0, tEnd, 0.0, counters) :> Stepper
    let mutable active = match options.Method with Auto -> Dopri5 | m -> m
    let mutable outcome: Outcome option = if t0 = tEnd then Some Completed else None
    let mutable stiffWarned = false
    // Stop condition: the value at the start of the current step and the stop point once found.
    let gbuf = Array.zeroCreate<float> n
    let mutable gPrev = match problem.Stop with Some s -> s.Function t0 (Array.copy y0) | None -> 0.0
    let mutable stopT = nan
    let stopY = Array.zeroCreate<float> n

    let crosses (direction: Crossing) (ga: float) (gb: float) =
        match direction with
        | Either -> (ga < 0.0 && gb >= 0.0) || (ga > 0.0 && gb <= 0.0)
        | Rising -> ga < 0.0 && gb >= 0.0
        | Falling -> ga > 0.0 && gb <= 0.0

    /// Locates the crossing in [ta, tb] on the dense output (Illinois variant of regula falsi); returns the
    /// first time known to be past the crossing.
    let locate (stop: StopCondition) (ta0: float) (ga0: float) (tb0: float) (gb0: float) =
        let mutable ta, ga, tb, gb = ta0, ga0, tb0, gb0
        let tol = 4.0 * 2.220446049250313e-16 * Math.Max(Math.Abs ta, Math.Abs tb)
        let mutable side = 0
        let mutable iter = 0
        while gb <> 0.0 && Math.Abs(tb - ta) > tol && iter < 200 do
            let mutable tm = (ta * gb - tb * ga) / (gb - ga)
            if not (Double.IsFinite tm) || (tm - ta) * (tm - tb) >= 0.0 then tm <- 0.5 * (ta + tb)
            stepper.Interpolate(tm, gbuf)
            let gm = stop.Function tm gbuf
            if crosses stop.Direction ga gm then
                tb <- tm
                gb <- gm
                if side = -1 then ga <- 0.5 * ga
                side <- -1
            else
                ta <- tm
                ga <- gm
                if side = 1 then gb <- 0.5 * gb
                side <- 1
            iter <- iter + 1
        tb

    /// Time reached (the stop point after a stop).
    member _.T = if Double.IsNaN stopT then stepper.T else stopT
    /// Start of the last accepted step (the dense output is valid on [TPrev, T]).
    member _.TPrev = stepper.TPrev
    /// A copy of the state at T.
    member this.State = let y = Array.zeroCreate<float> n in this.CopyStateTo y; y
    /// Copies the state at T into `result` (no allocation).
    member _.CopyStateTo(result: float[]) =
        if Double.IsNaN stopT then Array.blit stepper.Y 0 result 0 n else Array.blit stopY 0 result 0 n
    /// Writes the dense-output value at `t` in [TPrev, T] into `result` (never a linear interpolation).
    member _.Interpolate(t: float, result: float[]) = stepper.Interpolate(t, result)
    /// None while running; then Completed, Stopped or Failed.
    member _.Outcome = outcome
    /// Work counters so far.
    member _.Stats = counters.Snapshot()
    /// Stiffness warnings and method switches so far.
    member _.Warnings = List.ofSeq warnings
    /// The method now stepping (Dopri5 or Stiff).
    member _.ActiveMethod = active
    /// The step size the next step will try.
    member _.NextStep = stepper.NextStep

    /// Takes one accepted step; false once the integration is over (see `Outcome`).
    member _.Step() : bool =
        match outcome with
        | Some _ -> false
        | None ->
            // Auto: hand over to the stiff solver at the start of the step after the detection.
            match stepper with
            | :? Dopri5.Dopri5Stepper as d when options.Method = Auto && not (Double.IsNaN d.StiffAt) ->
                warnings.Add(
                    sprintf "Auto: DOPRI5 detected stiffness at t = %s; switched to Radau5 at t = %s"
                        (fmt d.StiffAt) (fmt d.T))
                stepper <- Radau5.Radau5Stepper(options, f, problem.Jacobian, d.T, Array.copy d.Y, tEnd, d.NextStep, counters)
                active <- Stiff
            | _ -> ()
            match stepper.Step() with
            | StepFailed message ->
                outcome <- Some(Failed message)
                false
            | Accepted ->
                match stepper with
                | :? Dopri5.Dopri5Stepper as d when options.Method = Dopri5 && not stiffWarned && not (Double.IsNaN d.StiffAt) ->
                    stiffWarned <- true
                    warnings.Add(
                        sprintf "DOPRI5: the problem seems to have become stiff at t = %s (h |lambda| > 3.25 on 15 tests); Method = Stiff or Auto should need far fewer evaluations"
                            (fmt d.StiffAt))
                | _ -> ()
                match problem.Stop with
                | Some stop ->
                    let tb = stepper.T
                    let gb = stop.Function tb stepper.Y
                    if gPrev = 0.0 then gPrev <- gb
                    elif crosses stop.Direction gPrev gb then
                        let ts = if gb = 0.0 then tb else locate stop stepper.TPrev gPrev tb gb
                        stepper.Interpolate(ts, stopY)
                        stopT <- ts
                        outcome <- Some(Stopped ts)
                    else gPrev <- gb
                | None -> ()
                if outcome.IsNone && stepper.T = tEnd then outcome <- Some Completed
                true

/// Starts an integration of `problem` from (t0, y0) towards tEnd (either direction).
let init (options: Options) (problem: Problem) (t0: float) (y0: float[]) (tEnd: float) =
    Integrator(options, problem, t0, y0, tEnd)

let private finish (it: Integrator) (times: ResizeArray<float>) (states: ResizeArray<float[]>) =
    { Times = times.ToArray()
      States = states.ToArray()
      Stats = it.Stats
      Outcome = defaultArg it.Outcome Completed
      Warnings = it.Warnings }

/// Integrates `problem` from (t0, y0) to tEnd and returns the solution at every accepted step (t0 first; after
/// a stop, the stop point last).
let solveProblem (options: Options) (problem: Problem) (t0: float) (y0: float[]) (tEnd: float) : Solution =
    let it = init options problem t0 y0 tEnd
    let times = ResizeArray [ t0 ]
    let states = ResizeArray [ Array.copy y0 ]
    while it.Step() do
        times.Add it.T
        states.Add it.State
    finish it times states

/// Integrates y' = rhs(t, y) from (t0, y0) to tEnd and returns the solution at every accepted step.
let solve (options: Options) (rhs: Rhs) (t0: float) (y0: float[]) (tEnd: float) : Solution =
    solveProblem options (Problem.ofRhs rhs) t0 y0 tEnd

/// Integrates `problem` from grid[0] (where y = y0) to the last grid time and returns the solution at every
/// time of `grid` (monotone), taken from the dense output of the method. After a stop, the grid points before
/// the stop point are followed by the stop point; after a failure, the grid points reached are kept.
let solveProblemGrid (options: Options) (problem: Problem) (y0: float[]) (grid: float[]) : Solution =
    if isNull grid || grid.Length = 0 then raise (ArgumentException "the output grid must have at least one time")
    let dir = if grid[grid.Length - 1] >= grid[0] then 1.0 else -1.0
    for i in 1 .. grid.Length - 1 do
        if not ((grid[i] - grid[i - 1]) * dir >= 0.0) then
            raise (ArgumentException(sprintf "the output grid must be monotone (grid[%d] = %g after %g)" i grid[i] grid[i - 1]))
    let it = init options problem grid[0] y0 grid[grid.Length - 1]
    let times = ResizeArray<float>(grid.Length)
    let states = ResizeArray<float[]>(grid.Length)
    let mutable gi = 0
    while gi < grid.Length && grid[gi] = grid[0] do
        times.Add grid[gi]
        states.Add(Array.copy y0)
        gi <- gi + 1
    while gi < grid.Length && it.Step() do
        let reached = it.T
        while gi < grid.Length && (grid[gi] - reached) * dir <= 0.0 do
            let y = Array.zeroCreate<float> y0.Length
            if grid[gi] = reached then it.CopyStateTo y else it.Interpolate(grid[gi], y)
            times.Add grid[gi]
            states.Add y
            gi <- gi + 1
        match it.Outcome with
        | Some(Stopped ts) when times[times.Count - 1] <> ts ->
            times.Add ts
            states.Add it.State
        | _ -> ()
    finish it times states

/// Integrates y' = rhs(t, y) from grid[0] (where y = y0) and returns the solution at every time of `grid`
/// (increasing). Output between steps comes from the dense output of the method.
let solveGrid (options: Options) (rhs: Rhs) (y0: float[]) (grid: float[]) : Solution =
    solveProblemGrid options (Problem.ofRhs rhs) y0 grid

/// The accepted points (t0 first) as a lazy stream: each element costs one accepted step. Every enumeration
/// integrates afresh. A failure raises `OdeFailedException` after the last good point.
let points (options: Options) (problem: Problem) (t0: float) (y0: float[]) (tEnd: float) : seq<SolutionPoint> =
    seq {
        let it = init options problem t0 y0 tEnd
        yield { T = t0; Y = Array.copy y0 }
        while it.Step() do
            yield { T = it.T; Y = it.State }
        match it.Outcome with
        | Some(Failed message) -> raise (OdeFailedException(message, it.T))
        | _ -> ()
    }
