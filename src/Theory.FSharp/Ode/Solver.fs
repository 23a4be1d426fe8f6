/// Entry points of the ODE solvers. PLACEHOLDER: a fixed-step RK4 that satisfies the signatures until the
/// adaptive Dormand-Prince 5(4) and the stiff solver land (issue 4).
module Theory.Ode.Solver

let private rk4Step (rhs: Rhs) (t: float) (y: float[]) (h: float) (k1: float[]) (k2: float[]) (k3: float[]) (k4: float[]) (tmp: float[]) =
    let n = y.Length
    rhs t y k1
    for i in 0 .. n - 1 do tmp[i] <- y[i] + 0.5 * h * k1[i]
    rhs (t + 0.5 * h) tmp k2
    for i in 0 .. n - 1 do tmp[i] <- y[i] + 0.5 * h * k2[i]
    rhs (t + 0.5 * h) tmp k3
    for i in 0 .. n - 1 do tmp[i] <- y[i] + h * k3[i]
    rhs (t + h) tmp k4
    for i in 0 .. n - 1 do y[i] <- y[i] + h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i])

/// Integrates y' = rhs(t, y) from grid[0] (where y = y0) and returns the solution at every time of `grid`
/// (increasing). Output between steps comes from the dense output of the method.
let solveGrid (options: Options) (rhs: Rhs) (y0: float[]) (grid: float[]) : Solution =
    let n = y0.Length
    let y = Array.copy y0
    let k1, k2, k3, k4, tmp = Array.zeroCreate n, Array.zeroCreate n, Array.zeroCreate n, Array.zeroCreate n, Array.zeroCreate n
    let states = ResizeArray [ Array.copy y ]
    let mutable evals = 0
    let hMax = if options.MaxStep < infinity then options.MaxStep else 0.01
    for i in 1 .. grid.Length - 1 do
        let span = grid[i] - grid[i - 1]
        let steps = max 1 (int (ceil (span / hMax)))
        let h = span / float steps
        for s in 0 .. steps - 1 do
            rk4Step rhs (grid[i - 1] + float s * h) y h k1 k2 k3 k4 tmp
            evals <- evals + 4
        states.Add(Array.copy y)
    { Times = Array.copy grid
      States = states.ToArray()
      Stats = { Evaluations = evals; Accepted = evals / 4; Rejected = 0; Jacobians = 0; Decompositions = 0 }
      Outcome = Completed
      Warnings = [] }
