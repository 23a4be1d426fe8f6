namespace Theory.Ode

/// Right-hand side of y' = f(t, y): called as `rhs t y dydt`, it writes f(t, y) into `dydt` (same length as y).
/// It must not keep references to `y` or `dydt`.
type Rhs = float -> float[] -> float[] -> unit

/// An analytic Jacobian: called as `jac t y J`, it writes df_i/dy_j into `J[i, j]` (every entry).
type JacobianFunction = float -> float[] -> float[,] -> unit

/// Which integrator `Solver.solve` uses.
type Method =
    /// Explicit Dormand-Prince 5(4) (Hairer's DOPRI5): the default for non-stiff problems.
    | Dopri5
    /// Radau IIA of order 5 (Hairer's RADAU5): implicit, L-stable, for stiff problems. Two LU factorisations
    /// (one real, one complex) per change of step size; the Jacobian is reused while the Newton iteration
    /// converges fast.
    | Stiff
    /// Starts with Dopri5 and switches to Stiff (for the rest of the run) when stiffness is detected.
    | Auto
    /// Variable-order (1-5) BDF (NDF) with a simplified Newton iteration: more steps than Stiff, but one real
    /// LU per change of step size and about two evaluations per step, so the cheapest per step when a large
    /// dense Jacobian makes factorisations dominate.
    | Bdf
    /// Hairer's RODAS4, a Rosenbrock method of order 4(3), stiffly accurate and L-stable: no Newton iteration,
    /// one LU and 6 linear solves per step, a fresh Jacobian every step, dense output of order 3.
    | Rodas4
    /// Steinebach's Rodas5P, a Rosenbrock method of order 5(4) (8 stages), stiffly accurate, dense output of
    /// order 4: the Rosenbrock method for tight tolerances.
    | Rodas5P
    /// Rang & Angermann's ROS34PW2, a Rosenbrock-W method of order 3(2), stiffly accurate and L-stable: its order
    /// holds for any matrix in place of the Jacobian, so the Jacobian is kept across steps (refreshed only after
    /// a rejected step) and an approximate analytic Jacobian costs no accuracy, only stability.
    | Ros34PW2
    /// Radau IIA of order 9 (5 stages, stiffly accurate, L-stable) with an embedded order-5 error estimate and
    /// continuous output of order 5; the Newton iteration is chosen by `Options.Newton`. Fewer, longer steps
    /// than Stiff: for tight tolerances and for small systems with an analytic Jacobian. One LU of the 5n x 5n
    /// Newton matrix per factorisation, so best up to a few dozen equations.
    | Radau9
    /// Radau IIA of order 13 (7 stages), otherwise as Radau9: for very tight tolerances.
    | Radau13

/// The Newton iteration of the Radau9 and Radau13 methods.
type NewtonIteration =
    /// Hairer's simplified Newton iteration: the Jacobian at the start of each step, one LU of the Newton matrix
    /// per step (and per new step size after a rejection).
    | Simplified
    /// Newton's iteration with the Jacobian at every stage value of every iterate: converges quadratically, so
    /// the fewest right-hand-side evaluations when an analytic Jacobian is given (with finite differences each
    /// iteration costs s n evaluations more). One LU per iteration.
    | Full

/// How the stiff solver obtains the Jacobian when no analytic one is given.
type JacobianMode =
    /// Forward differences on the full matrix: n right-hand-side evaluations per Jacobian, a dense LU.
    | DenseFiniteDifference
    /// Forward differences on diagonal blocks of the given sizes (summing to n), coupling between blocks
    /// ignored: max(block size) evaluations per Jacobian (one column of every block is perturbed at once) and
    /// one small LU per block. The Newton iteration only needs an approximate Jacobian, so this is exact in
    /// the result and cheap when the stiff couplings live inside the blocks (per-mode densities).
    | BlockDiagonal of blockSizes: int[]

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
      Method: Method
      /// Dopri5 tests for stiffness every this many accepted steps (and then at every step while the test
      /// keeps firing), as DOPRI5's NSTIFF; 0 turns the test off. Auto tests at every step.
      StiffnessTestInterval: int
      /// Jacobian of the stiff solver when the problem gives no analytic one.
      Jacobian: JacobianMode
      /// Highest order of the Bdf method (1..5).
      MaxOrder: int
      /// Newton iteration of Radau9 and Radau13 (the other methods ignore it).
      Newton: NewtonIteration }

module Options =
    /// rtol = atol = 1e-6, Hairer's initial step, no step limit, at most 1,000,000 steps, Dopri5.
    let defaults =
        { RelTol = 1e-6
          AbsTol = 1e-6
          InitialStep = 0.0
          MaxStep = infinity
          MinStep = 1e-14
          MaxSteps = 1_000_000
          Method = Dopri5
          StiffnessTestInterval = 1000
          Jacobian = DenseFiniteDifference
          MaxOrder = 5
          Newton = Simplified }

/// Which way a stop-condition function must cross zero to stop the integration.
type Crossing =
    /// Any sign change.
    | Either
    /// From negative to positive.
    | Rising
    /// From positive to negative.
    | Falling

/// A stop condition (event): the integration stops where `Function t y` crosses zero in the given direction.
/// The crossing is located on the dense output (to rounding in t) and the stop point is the last output point.
/// `Function` is called with a solver buffer for y: it must neither modify nor keep it. A zero at t0 does not
/// stop the run.
type StopCondition =
    { Function: float -> float[] -> float
      Direction: Crossing }

/// The initial-value problem beyond its right-hand side.
type Problem =
    { Rhs: Rhs
      /// Analytic Jacobian for the stiff solver; None = finite differences (see `Options.Jacobian`).
      Jacobian: JacobianFunction option
      /// Optional stop condition.
      Stop: StopCondition option
      /// f does not depend on t: the Rosenbrock methods then skip df/dt (otherwise a forward difference, one
      /// evaluation per Jacobian). Default false.
      Autonomous: bool }

module Problem =
    /// A problem with only a right-hand side.
    let ofRhs (rhs: Rhs) = { Rhs = rhs; Jacobian = None; Stop = None; Autonomous = false }

/// Work counters of one integration.
type Stats =
    { /// Right-hand-side evaluations (a finite-difference Jacobian counts as the evaluations it makes).
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

/// One accepted point of the lazy solution stream.
type SolutionPoint =
    { T: float
      /// A copy of the state at T.
      Y: float[] }

/// Raised by the lazy stream `Solver.points` when the solver gives up; the points already yielded stand.
exception OdeFailedException of message: string * time: float with
    override this.Message = this.message
