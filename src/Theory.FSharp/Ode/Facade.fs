namespace Theory.Ode

open System
open System.Runtime.InteropServices

/// Which integrator (for C# callers; see `Method`).
type OdeMethod =
    | Dopri5 = 0
    | Stiff = 1
    | Auto = 2
    | Bdf = 3
    | Rodas4 = 4
    | Rodas5P = 5
    | Ros34PW2 = 6
    | Radau9 = 7
    | Radau13 = 8

/// Which way the stop function must cross zero (for C# callers; see `Crossing`).
type OdeCrossing =
    | Either = 0
    | Rising = 1
    | Falling = 2

/// Integrator settings for C# callers: settable properties with the defaults of `Options.defaults`.
[<AllowNullLiteral>]
type OdeSettings() =
    /// Relative tolerance.
    member val RelTol = Options.defaults.RelTol with get, set
    /// Absolute tolerance.
    member val AbsTol = Options.defaults.AbsTol with get, set
    /// First step size; 0 = automatic.
    member val InitialStep = Options.defaults.InitialStep with get, set
    /// Largest step size (infinity = unlimited).
    member val MaxStep = Options.defaults.MaxStep with get, set
    /// Smallest step size before giving up.
    member val MinStep = Options.defaults.MinStep with get, set
    /// Largest number of steps (accepted + rejected).
    member val MaxSteps = Options.defaults.MaxSteps with get, set
    /// The integrator.
    member val Method = OdeMethod.Dopri5 with get, set
    /// DOPRI5's stiffness test interval (0 = off).
    member val StiffnessTestInterval = Options.defaults.StiffnessTestInterval with get, set
    /// Highest BDF order (1..5).
    member val MaxOrder = Options.defaults.MaxOrder with get, set
    /// Full Newton iteration (Jacobian at every stage and iterate) for Radau9 and Radau13; false = simplified.
    member val FullNewton = false with get, set
    /// Sizes of the diagonal blocks of a block-diagonal finite-difference Jacobian; null = dense.
    member val JacobianBlocks: int[] = null with get, set

    /// The equivalent F# options record.
    member s.ToOptions() : Options =
        { RelTol = s.RelTol
          AbsTol = s.AbsTol
          InitialStep = s.InitialStep
          MaxStep = s.MaxStep
          MinStep = s.MinStep
          MaxSteps = s.MaxSteps
          Method =
            match s.Method with
            | OdeMethod.Stiff -> Method.Stiff
            | OdeMethod.Auto -> Method.Auto
            | OdeMethod.Bdf -> Method.Bdf
            | OdeMethod.Rodas4 -> Method.Rodas4
            | OdeMethod.Rodas5P -> Method.Rodas5P
            | OdeMethod.Ros34PW2 -> Method.Ros34PW2
            | OdeMethod.Radau9 -> Method.Radau9
            | OdeMethod.Radau13 -> Method.Radau13
            | _ -> Method.Dopri5
          StiffnessTestInterval = s.StiffnessTestInterval
          Jacobian = if isNull s.JacobianBlocks then DenseFiniteDifference else BlockDiagonal(Array.copy s.JacobianBlocks)
          MaxOrder = s.MaxOrder
          Newton = if s.FullNewton then Full else Simplified }

/// The result of an integration for C# callers.
type OdeResult internal (solution: Solution) =
    /// Output times.
    member _.Times = solution.Times
    /// States at the output times.
    member _.States = solution.States
    /// Right-hand-side evaluations (finite-difference Jacobians included).
    member _.Evaluations = solution.Stats.Evaluations
    member _.Accepted = solution.Stats.Accepted
    member _.Rejected = solution.Stats.Rejected
    member _.Jacobians = solution.Stats.Jacobians
    member _.Decompositions = solution.Stats.Decompositions
    /// "completed", "stopped" or "failed".
    member _.Status =
        match solution.Outcome with
        | Completed -> "completed"
        | Stopped _ -> "stopped"
        | Failed _ -> "failed"
    /// True unless the solver gave up.
    member _.Succeeded = match solution.Outcome with Failed _ -> false | _ -> true
    /// The failure message ("" unless failed).
    member _.Message = match solution.Outcome with Failed m -> m | _ -> ""
    /// The stop time (NaN unless stopped).
    member _.StopTime = match solution.Outcome with Stopped t -> t | _ -> nan
    /// Stiffness warnings and method switches.
    member _.Warnings = Array.ofList solution.Warnings
    /// The F# solution record.
    member _.Solution = solution

/// Static entry points for C# callers: arrays and delegates, no F# types needed.
[<AbstractClass; Sealed>]
type OdeSolver =
    static member private Problem(rhs: Action<float, float[], float[]>, jacobian: Action<float, float[], float[,]>,
                                  stop: Func<float, float[], float>, crossing: OdeCrossing) : Problem =
        if isNull rhs then raise (ArgumentNullException "rhs")
        { Rhs = fun t y dy -> rhs.Invoke(t, y, dy)
          Jacobian = if isNull jacobian then None else Some(fun t y j -> jacobian.Invoke(t, y, j))
          Stop =
            if isNull stop then None
            else
                Some
                    { Function = fun t y -> stop.Invoke(t, y)
                      Direction =
                        match crossing with
                        | OdeCrossing.Rising -> Rising
                        | OdeCrossing.Falling -> Falling
                        | _ -> Either }
          Autonomous = false }

    static member private Allocating(rhs: Func<float, float[], float[]>) =
        if isNull rhs then raise (ArgumentNullException "rhs")
        Action<float, float[], float[]>(fun t y dy ->
            let v = rhs.Invoke(t, y)
            Array.blit v 0 dy 0 dy.Length)

    static member private OptionsOf(settings: OdeSettings) =
        if isNull settings then Options.defaults else settings.ToOptions()

    /// Solution at every time of `grid` (grid[0] = t0), through the dense output. `rhs(t, y, dydt)` writes
    /// f(t, y) into dydt; `jacobian(t, y, J)` (optional) writes df_i/dy_j into J[i, j]; the integration stops
    /// where `stop(t, y)` (optional) crosses zero in the direction `crossing`.
    static member SolveGrid(rhs: Action<float, float[], float[]>, y0: float[], grid: float[],
                            [<Optional; DefaultParameterValue(null: OdeSettings)>] settings: OdeSettings,
                            [<Optional; DefaultParameterValue(null: Action<float, float[], float[,]>)>] jacobian: Action<float, float[], float[,]>,
                            [<Optional; DefaultParameterValue(null: Func<float, float[], float>)>] stop: Func<float, float[], float>,
                            [<Optional; DefaultParameterValue(OdeCrossing.Either)>] crossing: OdeCrossing) : OdeResult =
        OdeResult(Solver.solveProblemGrid (OdeSolver.OptionsOf settings) (OdeSolver.Problem(rhs, jacobian, stop, crossing)) y0 grid)

    /// As the other overload, with a right-hand side that returns a new array (simpler, allocates per call).
    static member SolveGrid(rhs: Func<float, float[], float[]>, y0: float[], grid: float[],
                            [<Optional; DefaultParameterValue(null: OdeSettings)>] settings: OdeSettings) : OdeResult =
        OdeSolver.SolveGrid(OdeSolver.Allocating rhs, y0, grid, settings)

    /// Solution at every accepted step from t0 to tEnd (see `SolveGrid` for the arguments).
    static member Solve(rhs: Action<float, float[], float[]>, t0: float, y0: float[], tEnd: float,
                        [<Optional; DefaultParameterValue(null: OdeSettings)>] settings: OdeSettings,
                        [<Optional; DefaultParameterValue(null: Action<float, float[], float[,]>)>] jacobian: Action<float, float[], float[,]>,
                        [<Optional; DefaultParameterValue(null: Func<float, float[], float>)>] stop: Func<float, float[], float>,
                        [<Optional; DefaultParameterValue(OdeCrossing.Either)>] crossing: OdeCrossing) : OdeResult =
        OdeResult(Solver.solveProblem (OdeSolver.OptionsOf settings) (OdeSolver.Problem(rhs, jacobian, stop, crossing)) t0 y0 tEnd)

    /// As the other overload, with a right-hand side that returns a new array.
    static member Solve(rhs: Func<float, float[], float[]>, t0: float, y0: float[], tEnd: float,
                        [<Optional; DefaultParameterValue(null: OdeSettings)>] settings: OdeSettings) : OdeResult =
        OdeSolver.Solve(OdeSolver.Allocating rhs, t0, y0, tEnd, settings)
