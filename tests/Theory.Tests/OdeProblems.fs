/// Standard test problems of the ODE solvers (Hairer, Norsett & Wanner, Solving ODE I, II.10) and helpers.
module Theory.Tests.OdeProblems

open System
open MathNet.Numerics.LinearAlgebra
open Theory.Ode

/// The restricted three-body problem (Arenstorf orbit): periodic with period ArenstorfPeriod.
let arenstorfMu = 0.012277471
let arenstorfPeriod = 17.0652165601579625588917206249
let arenstorfY0 = [| 0.994; 0.0; 0.0; -2.00158510637908252240537862224 |]

let arenstorf: Rhs =
    fun _ y d ->
        let mu = arenstorfMu
        let mup = 1.0 - mu
        let r1 = Math.Pow((y[0] + mu) * (y[0] + mu) + y[1] * y[1], 1.5)
        let r2 = Math.Pow((y[0] - mup) * (y[0] - mup) + y[1] * y[1], 1.5)
        d[0] <- y[2]
        d[1] <- y[3]
        d[2] <- y[0] + 2.0 * y[3] - mup * (y[0] + mu) / r1 - mu * (y[0] - mup) / r2
        d[3] <- y[1] - 2.0 * y[2] - mup * y[1] / r1 - mu * y[1] / r2

/// Lotka-Volterra x' = 1.5x - xy, y' = -3y + xy; invariant x - 3 ln x + y - 1.5 ln y.
let lotkaVolterra: Rhs =
    fun _ y d ->
        d[0] <- 1.5 * y[0] - y[0] * y[1]
        d[1] <- -3.0 * y[1] + y[0] * y[1]

let lotkaVolterraInvariant (y: float[]) = y[0] - 3.0 * log y[0] + y[1] - 1.5 * log y[1]

/// Van der Pol y1' = y2, y2' = mu (1 - y1^2) y2 - y1.
let vanDerPol (mu: float) : Rhs =
    fun _ y d ->
        d[0] <- y[1]
        d[1] <- mu * (1.0 - y[0] * y[0]) * y[1] - y[0]

/// Stiff Van der Pol y1' = y2, y2' = ((1 - y1^2) y2 - y1) / eps.
let stiffVanDerPol (eps: float) : Rhs =
    fun _ y d ->
        d[0] <- y[1]
        d[1] <- ((1.0 - y[0] * y[0]) * y[1] - y[0]) / eps

/// The analytic Jacobian of `stiffVanDerPol eps` (costs no right-hand-side evaluations).
let stiffVanDerPolJacobian (eps: float) : JacobianFunction =
    fun _ y j ->
        j[0, 0] <- 0.0
        j[0, 1] <- 1.0
        j[1, 0] <- (-2.0 * y[0] * y[1] - 1.0) / eps
        j[1, 1] <- (1.0 - y[0] * y[0]) / eps

/// Brusselator x' = 1 + x^2 y - 4x, y' = 3x - x^2 y.
let brusselator: Rhs =
    fun _ y d ->
        d[0] <- 1.0 + y[0] * y[0] * y[1] - 4.0 * y[0]
        d[1] <- 3.0 * y[0] - y[0] * y[0] * y[1]

/// Robertson's chemical kinetics (stiff; y1 + y2 + y3 is conserved).
let robertson: Rhs =
    fun _ y d ->
        d[0] <- -0.04 * y[0] + 1e4 * y[1] * y[2]
        d[1] <- 0.04 * y[0] - 1e4 * y[1] * y[2] - 3e7 * y[1] * y[1]
        d[2] <- 3e7 * y[1] * y[1]

/// m weakly coupled stiff 2 x 2 blocks with rates up to 1e4.
let blockSystem (m: int) : Rhs =
    fun _ y d ->
        let mutable mean = 0.0
        for b in 0 .. m - 1 do
            mean <- mean + y[2 * b]
        mean <- mean / float m
        for b in 0 .. m - 1 do
            let k = 1e4 * float (b + 1) / float m
            let u, v = y[2 * b], y[2 * b + 1]
            d[2 * b] <- -k * (u - cos v) + 0.01 * mean
            d[2 * b + 1] <- -v + 0.1 * u

/// Nonlinear problem with a closed-form solution: the attracting limit cycle r' = r (1 - r^2), theta' = 1.
let limitCycle: Rhs =
    fun _ y d ->
        let s = 1.0 - (y[0] * y[0] + y[1] * y[1])
        d[0] <- -y[1] + y[0] * s
        d[1] <- y[0] + y[1] * s

/// Exact solution of `limitCycle` from (r0, 0).
let limitCycleExact (r0: float) (t: float) =
    let r = 1.0 / sqrt (1.0 + (1.0 / (r0 * r0) - 1.0) * exp (-2.0 * t))
    [| r * cos t; r * sin t |]

/// Largest absolute component difference.
let maxAbsDiff (a: float[]) (b: float[]) = Array.fold2 (fun m x y -> max m (abs (x - y))) 0.0 a b

/// Largest component difference relative to 1 + |reference|.
let maxRelDiff (a: float[]) (reference: float[]) =
    Array.fold2 (fun m x r -> max m (abs (x - r) / (1.0 + abs r))) 0.0 a reference

let last (s: Solution) = s.States[s.States.Length - 1]

/// Matrix exponential by scaling and squaring of a 30-term Taylor series (independent of the solvers).
let expm (a: Matrix<float>) =
    let norm = a.InfinityNorm()
    let squarings = if norm <= 0.5 then 0 else int (ceil (Math.Log2(norm / 0.5)))
    let b = a / Math.Pow(2.0, float squarings)
    let mutable term = Matrix<float>.Build.DenseIdentity a.RowCount
    let mutable sum = term.Clone()
    for k in 1 .. 30 do
        term <- term * b / float k
        sum <- sum + term
    for _ in 1 .. squarings do
        sum <- sum * sum
    sum

/// y' = A y as a right-hand side.
let linearRhs (a: Matrix<float>) : Rhs =
    let m = a.ToArray()
    let n = a.RowCount
    fun _ y d ->
        for i in 0 .. n - 1 do
            let mutable s = 0.0
            for j in 0 .. n - 1 do
                s <- s + m[i, j] * y[j]
            d[i] <- s

/// A random stable matrix: negative definite symmetric part plus a skew part (eigenvalues in the left half plane).
let randomStableMatrix (rng: Random) (n: int) =
    let g () = rng.NextDouble() * 2.0 - 1.0
    let m = Matrix<float>.Build.Dense(n, n, fun _ _ -> g ())
    let s = Matrix<float>.Build.Dense(n, n, fun _ _ -> g ())
    -(m * m.Transpose()) / float n - 0.1 * Matrix<float>.Build.DenseIdentity n + (s - s.Transpose())

/// The random stable linear system of a property case: y' = A y with 2..6 equations drawn from `seed`, its start,
/// and the exact solution at t = 3 (matrix exponential).
let randomLinearProblem (seed: int) =
    let rng = Random(seed)
    let n = 2 + rng.Next 5
    let a = randomStableMatrix rng n
    let y0 = Array.init n (fun _ -> rng.NextDouble() * 2.0 - 1.0)
    let exact = (expm (a * 3.0) * Vector<float>.Build.DenseOfArray y0).ToArray()
    a, y0, exact

/// Takes `steps` steps of a running integration (after 50 to warm up), interpolating in the middle of each, and
/// returns the steps actually taken and the bytes this thread allocated meanwhile.
let allocationWhileStepping (it: Solver.Integrator) (steps: int) =
    let buffer = Array.zeroCreate<float> it.State.Length
    for _ in 1 .. 50 do
        it.Step() |> ignore
    let before = GC.GetAllocatedBytesForCurrentThread()
    let mutable taken = 0
    while taken < steps && it.Step() do
        it.Interpolate(0.5 * (it.TPrev + it.T), buffer)
        taken <- taken + 1
    taken, GC.GetAllocatedBytesForCurrentThread() - before

/// The time named in a failure message ("... t = 0.99 ...").
let timeInMessage (message: string) =
    let i = message.IndexOf("t = ", StringComparison.Ordinal)
    if i < 0 then nan
    else
        let rest = message.Substring(i + 4)
        let stop = rest.IndexOfAny([| ' '; ')'; ':'; ',' |])
        let text = if stop < 0 then rest else rest.Substring(0, stop)
        Double.Parse(text, Globalization.CultureInfo.InvariantCulture)

let tol (t: float) = { Options.defaults with RelTol = t; AbsTol = t }
