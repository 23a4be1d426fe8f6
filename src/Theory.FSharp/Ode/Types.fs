namespace Theory.Ode

/// Right-hand side of y' = f(t, y): called as `rhs t y dydt`, it writes f(t, y) into `dydt` (same length as y).
/// It must not keep references to `y` or `dydt`.
type Rhs = float -> float[] -> float[] -> unit

/// Which integrator `Solver.solve` uses.
type Method =
    /// Explicit Dormand-Prince 5(4) (Hairer's DOPRI5): the default for non-stiff problems.
    | Dopri5
    /// Implicit/linearly implicit method for stiff problems (finite-difference or user Jacobian).
    | Stiff
    /// Starts with Dopri5 and switches to Stiff when stiffness is detected.
    | Auto

/// Integrator settings; use `Options.defaults` and `{ Options.defaults with ... }`.
type Options =
    { /// Relative tolerance.
      RelTol: float
      /// Absolute tolerance.
      AbsTol: float
      /// First step size; 0 lets the solver choose (Hairer's rule).
      InitialStep: float
      /// Largest step size (infinity = unlimited).
      MaxStep: float
      /// Smallest step size before the solver gives up (step-size underflow).
      MinStep: float
      /// Largest number of steps (accepted + rejected) before the solver gives up.
      MaxSteps: int
      Method: Method }

module Options =
    let defaults =
        { RelTol = 1e-6
          AbsTol = 1e-6
          InitialStep = 0.0
          MaxStep = infinity
          MinStep = 1e-14
          MaxSteps = 1_000_000
          Method = Dopri5 }

/// Work counters of one integration.
type Stats =
    { /// Right-hand-side evaluations (a finite-difference Jacobian counts as n evaluations).
      Evaluations: int
      Accepted: int
      Rejected: int
      /// Jacobian evaluations (stiff solver).
      Jacobians: int
      /// LU decompositions (stiff solver).
      Decompositions: int }

/// How an integration ended. A failed run keeps every point computed before the failure.
type Outcome =
    | Completed
    /// The stop condition fired at this time.
    | Stopped of time: float
    /// The solver gave up (step underflow, NaN, step budget); the message names the time reached.
    | Failed of message: string

/// Solution values at the output times.
type Solution =
    { Times: float[]
      States: float[][]
      Stats: Stats
      Outcome: Outcome
      /// Set when stiffness was detected (the text says where and what to do).
      Warnings: string list }
