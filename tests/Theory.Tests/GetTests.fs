/// The Gaussian-equivalence ODE engine: initial densities (Parseval, dense overlaps), mode merging, the isotropic
/// teacher-student limit against the Saad-Solla equations written out independently here, and the published
/// symmetric plateau.
module Theory.Tests.GetTests

open System
open Xunit
open Theory.Interop
open Theory.Gaussian
open Theory.Get
open Theory.Simulation.Data
open Theory.Simulation.Training

let private data1 = DataSpec(Dim = 1, Size = 16, Xi0 = 1.0, Xi1 = 3.0, Gain = 3.0)
let private data2 = DataSpec(Dim = 2, Size = 6, Xi0 = 1.0, Xi1 = 2.0, Gain = 10.0)

[<Fact>]
let ``initial densities obey Parseval and reproduce the dense overlaps w_k^T S_a w_l / D`` () =
    for data in [ data1; data2 ] do
        let net = NetworkSpec(K = 3, InitStd = 0.7)
        let task = NlgpTask(data)
        let d = task.D
        let spectra = [| task.Spectrum 0; task.Spectrum 1 |]
        let groups = Modes.merge Modes.DefaultTolerance spectra
        let w = Initialisation.Weights(net, d, 5)
        let q = Modes.initialDensities groups 3 (Engine.transformRows task 3 w)
        for a in 0 .. 2 do
            let norm = Array.init d (fun i -> w[a * d + i] * w[a * d + i]) |> Array.sum
            let parseval = q |> Array.sumBy (fun m -> m[a * 3 + a])
            Assert.True(abs (parseval - norm / float d) < 1e-13 * norm, sprintf "Parseval, unit %d" a)
        for c in 0 .. 1 do
            let s = task.InputCovariance(c).ToArray()
            for a in 0 .. 2 do
                for b in 0 .. 2 do
                    let mutable dense = 0.0
                    for i in 0 .. d - 1 do
                        for j in 0 .. d - 1 do
                            dense <- dense + w[a * d + i] * s[i * d + j] * w[b * d + j]
                    dense <- dense / float d
                    let modes = Array.fold2 (fun acc (m: float[]) rho -> acc + rho * m[a * 3 + b]) 0.0 q groups.Spectra[c]
                    Assert.True(abs (modes - dense) < 1e-12 * (abs dense + 1.0), sprintf "Q%d_%d%d: %g vs %g" c a b modes dense)

[<Fact>]
let ``modes merge into the symmetry classes of the wave vectors`` () =
    // 1D: f and D - f; 2D on an L x L torus: the orbits of (kx, ky) under sign changes and the swap, whose
    // number for L = 20 is 11 * 12 / 2 = 66.
    let task1 = NlgpTask(data1)
    let g1 = Modes.merge Modes.DefaultTolerance [| task1.Spectrum 0; task1.Spectrum 1 |]
    Assert.Equal(9, g1.Count)
    for f in 1 .. 15 do
        Assert.Equal(g1.GroupOf[f], g1.GroupOf[16 - f])
    let data = DataSpec()
    let task2 = NlgpTask(data)
    let g2 = Modes.merge Modes.DefaultTolerance [| task2.Spectrum 0; task2.Spectrum 1 |]
    let l = data.Size
    let fold k = min k (l - k)
    let orbit (i: int) =
        let a, b = fold (i / l), fold (i % l)
        min a b, max a b
    let orbits = Array.init data.D orbit |> Array.distinct
    Assert.Equal(66, orbits.Length)
    Assert.Equal(66, g2.Count)
    for i in 0 .. data.D - 1 do
        for j in 0 .. data.D - 1 do
            if orbit i = orbit j then Assert.Equal(g2.GroupOf[i], g2.GroupOf[j])
    Assert.Equal(data.D, Array.sum g2.Multiplicity)

let private fastOptions =
    { Engine.IntegrationOptions.defaults with
        Solver = Engine.Adaptive { Theory.Ode.Options.defaults with RelTol = 1e-9; AbsTol = 1e-11; MaxStep = 0.05 }
        ClassError = false }

[<Fact>]
let ``merging modes leaves the ODE solution unchanged`` () =
    let net = NetworkSpec(K = 3, Bias = 1.0)
    let training = TrainingSpec(Time = 8.0, LogPoints = 6, LogStart = 0.5, Lr = 0.2)
    let merged = Engine.nlgpProblem data1 net training QuadratureSettings.defaults true
    let unmerged = Engine.nlgpProblem data1 net training QuadratureSettings.defaults false
    Assert.Equal(9, merged.Groups.Count)
    Assert.Equal(16, unmerged.Groups.Count)
    let grid = TimeGrid.Of training
    let a = Engine.integrateSystem merged.System merged.Initial grid fastOptions
    let b = Engine.integrateSystem unmerged.System unmerged.Initial grid fastOptions
    Assert.Equal(grid.Length, a.Rows.Length)
    Assert.Equal(grid.Length, b.Rows.Length)
    for i in 0 .. grid.Length - 1 do
        Assert.True(abs (a.Rows[i].EpsG - b.Rows[i].EpsG) < 1e-9, sprintf "eps_g at t = %g" grid[i])
        for c in 0 .. 1 do
            Array.iter2 (fun (x: float) y -> Assert.True(abs (x - y) < 1e-8 * (1.0 + abs x))) a.Rows[i].Order.Q[c] b.Rows[i].Order.Q[c]
        Array.iter2 (fun (x: float) y -> Assert.True(abs (x - y) < 1e-9)) a.Rows[i].Order.B b.Rows[i].Order.B
    // and something happened: the biases moved and the error changed
    Assert.True(abs (a.Rows[grid.Length - 1].Order.B[0] - 1.0) > 1e-3)

[<Fact>]
let ``merging the wave-vector classes of a 2D torus leaves the ODE solution unchanged`` () =
    let net = NetworkSpec(K = 2, Bias = 0.5, Readout = Readout.Trained)
    let training = TrainingSpec(Time = 4.0, LogPoints = 3, LogStart = 1.0, Lr = 0.2)
    let merged = Engine.nlgpProblem data2 net training QuadratureSettings.defaults true
    let unmerged = Engine.nlgpProblem data2 net training QuadratureSettings.defaults false
    // L = 6: (kx, ky) up to signs and swap: 4 * 5 / 2 = 10 classes of the 36 wave vectors
    Assert.Equal(10, merged.Groups.Count)
    let grid = TimeGrid.Of training
    let a = Engine.integrateSystem merged.System merged.Initial grid fastOptions
    let b = Engine.integrateSystem unmerged.System unmerged.Initial grid fastOptions
    for i in 0 .. grid.Length - 1 do
        Assert.True(abs (a.Rows[i].EpsG - b.Rows[i].EpsG) < 1e-9, sprintf "eps_g at t = %g" grid[i])
        Array.iter2 (fun (x: float) y -> Assert.True(abs (x - y) < 1e-9)) a.Rows[i].Order.V b.Rows[i].Order.V

[<Fact>]
let ``every activation, readout and bias mode integrates to finite values and trains what it should`` () =
    // A gentle rate: with g = h - h^3/3 and lr = 0.1 the fields reach O(1) before t = 1 and the cubic's noise term
    // (growing like Q^5) blows up in finite time, as SGD does.
    let training = TrainingSpec(Time = 2.0, LogPoints = 2, LogStart = 1.0, Lr = 0.02)
    let grid = TimeGrid.Of training
    for activation in [ Activation.Erf; Activation.Relu; Activation.Sigmoid; Activation.Linear; Activation.Cubic ] do
        for readout in [ Readout.MeanField; Readout.Committee; Readout.Lazy; Readout.Trained ] do
            for bias in [ BiasMode.None; BiasMode.Fixed; BiasMode.Trained ] do
                let net = NetworkSpec(K = 3, Activation = activation, Readout = readout, BiasMode = bias, Bias = 0.5)
                let p = Engine.nlgpProblem data1 net training QuadratureSettings.defaults true
                let run = Engine.integrateSystem p.System p.Initial grid { fastOptions with ClassError = true }
                let label = sprintf "%A/%A/%A" activation readout bias
                Assert.True(run.Failure.IsNone, label)
                Assert.Equal(grid.Length, run.Rows.Length)
                let first, last = run.Rows[0], run.Rows[run.Rows.Length - 1]
                for r in run.Rows do
                    Assert.True(Double.IsFinite r.EpsG && r.EpsG >= 0.0, label)
                    Assert.True(r.ClassError >= 0.0 && r.ClassError <= 1.0, label)
                Assert.True(first.Order.Q[0] <> last.Order.Q[0], label + ": Q did not move")
                let moved (x: float[]) (y: float[]) = Array.exists2 (fun (u: float) v -> u <> v) x y
                Assert.Equal((readout = Readout.Trained), moved first.Order.V last.Order.V)
                Assert.Equal((bias = BiasMode.Trained), moved first.Order.B last.Order.B)

// ---------------------------------------------------------------------------------------------------------------
// Saad & Solla (1995): soft committee machines, g = erf(x/sqrt 2), isotropic inputs, v = 1 fixed, K students and M
// teachers. Written out here from the I3 and I4 closed forms of SCIENCE.md, independently of the engine.

let private ssI3 (c: int -> int -> float) (a: int) (b: int) (d: int) =
    let c11, c12, c13, c23, c33 = c a a, c a b, c a d, c b d, c d d
    let l3 = (1.0 + c11) * (1.0 + c33) - c13 * c13
    2.0 / Math.PI * (c23 * (1.0 + c11) - c12 * c13) / ((1.0 + c11) * sqrt l3)

let private ssI4 (c: int -> int -> float) (a: int) (b: int) (d: int) (e: int) =
    let c11, c12, c13, c14 = c a a, c a b, c a d, c a e
    let c22, c23, c24, c33, c34, c44 = c b b, c b d, c b e, c d d, c d e, c e e
    let l4 = (1.0 + c11) * (1.0 + c22) - c12 * c12
    let l0 = l4 * c34 - c23 * c24 * (1.0 + c11) - c13 * c14 * (1.0 + c22) + c12 * c13 * c24 + c12 * c14 * c23
    let l1 = l4 * (1.0 + c33) - c23 * c23 * (1.0 + c11) - c13 * c13 * (1.0 + c22) + 2.0 * c12 * c13 * c23
    let l2 = l4 * (1.0 + c44) - c24 * c24 * (1.0 + c11) - c14 * c14 * (1.0 + c22) + 2.0 * c12 * c14 * c24
    4.0 / (Math.PI * Math.PI) * asin (l0 / sqrt (l1 * l2)) / sqrt l4

/// dQ/dt (K x K) and dR/dt (K x M) of Saad & Solla for overlaps Q, R, T (fields 0..K-1 students, K.. teachers).
let saadSolla (k: int) (m: int) (eta: float) (q: float[]) (r: float[]) (t: float[]) =
    let c i j =
        match i < k, j < k with
        | true, true -> q[i * k + j]
        | true, false -> r[i * m + (j - k)]
        | false, true -> r[j * m + (i - k)]
        | false, false -> t[(i - k) * m + (j - k)]
    let students = [ 0 .. k - 1 ]
    let teachers = [ k .. k + m - 1 ]
    let dR =
        Array.init (k * m) (fun idx ->
            let i, n = idx / m, k + idx % m
            eta * (List.sumBy (fun p -> ssI3 c i n p) teachers - List.sumBy (fun j -> ssI3 c i n j) students))
    let dQ =
        Array.init (k * k) (fun idx ->
            let i, l = idx / k, idx % k
            let first a b = List.sumBy (fun p -> ssI3 c a b p) teachers - List.sumBy (fun j -> ssI3 c a b j) students
            let second =
                List.sum [ for n in teachers do for p in teachers -> ssI4 c i l n p ]
                - 2.0 * List.sum [ for j in students do for n in teachers -> ssI4 c i l j n ]
                + List.sum [ for j in students do for p in students -> ssI4 c i l j p ]
            eta * (first i l + first l i) + eta * eta * second)
    dQ, dR

/// The engine's isotropic teacher-student system: one mode of weight 1 and eigenvalue 1 (S = I, D -> infinity), the
/// teacher's densities T, committee readout v = 1, no biases, no label constant.
let teacherStudent (k: int) (m: int) (eta: float) (t: float[]) =
    { K = k
      Activation = Erf
      Eta = eta
      EtaReadout = 0.0
      EtaBias = 0.0
      TrainReadout = false
      TrainBias = false
      ModeWeights = [| 1.0 |]
      Classes = [| { Probability = 1.0; Label = None; Spectrum = [| 1.0 |] } |]
      Teacher = Some { M = m; Readout = Array.create m 1.0; Densities = [| t |] }
      Means = None
      Quadrature = QuadratureSettings.defaults }

let private stateOf (k: int) (q: float[]) (r: float[]) =
    { Densities = [| q |]
      TeacherDensities = [| r |]
      MeanDensities = [| [||] |]
      Readout = Array.create k 1.0
      Biases = Array.zeroCreate k }

/// Overlaps of random student and teacher vectors in a small dimension (so that they form a valid covariance).
let private randomOverlaps (rng: Random) (k: int) (m: int) =
    let d = 7
    let s = Array.init (k * d) (fun _ -> rng.NextDouble() * 2.0 - 1.0)
    let w = Array.init (m * d) (fun _ -> rng.NextDouble() * 2.0 - 1.0)
    let dot (x: float[]) i (y: float[]) j = Seq.sum (seq { for p in 0 .. d - 1 -> x[i * d + p] * y[j * d + p] }) / 3.0
    Array.init (k * k) (fun i -> dot s (i / k) s (i % k)),
    Array.init (k * m) (fun i -> dot s (i / m) w (i % m)),
    Array.init (m * m) (fun i -> dot w (i / m) w (i % m))

[<Fact>]
let ``the isotropic limit equals the Saad-Solla equations (K = M = 2, and K = 3, M = 2)`` () =
    let rng = Random(12)
    for k, m in [ 2, 2; 3, 2; 2, 3 ] do
        for _ in 1 .. 20 do
            let q, r, t = randomOverlaps rng k m
            let eta = 0.1 + 2.0 * rng.NextDouble()
            let system = teacherStudent k m eta t
            let dyn = Dynamics(system, Array.create k 1.0, Array.zeroCreate k)
            let y = dyn.Layout.Pack(stateOf k q r)
            let dy = Array.zeroCreate y.Length
            dyn.Rhs(y, dy)
            let dQ, dR = saadSolla k m eta q r t
            let mutable p = 0
            for i in 0 .. k - 1 do
                for j in i .. k - 1 do
                    Assert.True(abs (dy[p] - dQ[i * k + j]) < 1e-12 * (1.0 + abs dQ[i * k + j]), sprintf "dQ_%d%d: %g vs %g" i j dy[p] dQ[i * k + j])
                    p <- p + 1
            for i in 0 .. k * m - 1 do
                Assert.True(abs (dy[p + i] - dR[i]) < 1e-12 * (1.0 + abs dR[i]), sprintf "dR[%d]" i)

/// Saad & Solla's symmetric fixed point for M = K, T = I: Q_ii = Q_ik = 1/(2K-1), R_in = 1/sqrt(K(2K-1)), with
/// eps* = (K/pi)(pi/6 - K asin(1/(2K))) (0.011611 for K = 2).
let private plateau (k: int) =
    let q = Array.create (k * k) (1.0 / float (2 * k - 1))
    let r = Array.create (k * k) (1.0 / sqrt (float (k * (2 * k - 1))))
    let t = Array.init (k * k) (fun i -> if i / k = i % k then 1.0 else 0.0)
    q, r, t, float k / Math.PI * (Math.PI / 6.0 - float k * asin (1.0 / float (2 * k)))

[<Fact>]
let ``the symmetric plateau of Saad and Solla is a fixed point of the gradient flow with the published error`` () =
    for k in [ 2; 3 ] do
        let q, r, t, eps = plateau k
        // O(eta) part of the flow: eta tiny, divided by eta (the eta^2 term is then 1e-9 of it).
        let eta = 1e-9
        let dyn = Dynamics(teacherStudent k k eta t, Array.create k 1.0, Array.zeroCreate k)
        let y = dyn.Layout.Pack(stateOf k q r)
        let dy = Array.zeroCreate y.Length
        dyn.Rhs(y, dy)
        for x in dy do
            Assert.True(abs (x / eta) < 1e-8, sprintf "K = %d: flow %g at the plateau" k (x / eta))
        Assert.Equal(eps, dyn.GeneralisationError y, 12)
    Assert.Equal(0.011611, (let _, _, _, e = plateau 2 in e), 6)

[<Fact>]
let ``a K = M = 2 student gets stuck on the symmetric plateau and then specialises`` () =
    // From small random overlaps at eta = 0.1 the error drops to a long plateau close to eps* = 0.011611 (the
    // eta -> 0 value; at eta = 0.1 the plateau sits a little above it) and later decays towards 0.
    let k = 2
    let _, _, t, eps = plateau k
    let q0 = [| 0.02; 0.001; 0.001; 0.03 |]
    let r0 = [| 1e-3; 2e-4; 1e-4; 5e-4 |]
    let system = teacherStudent k k 0.1 t
    let grid = Array.append [| 0.0 |] (Array.init 400 (fun i -> 10.0 * float (i + 1)))
    let run = Engine.integrateSystem system (stateOf k q0 r0) grid { fastOptions with Solver = Engine.Adaptive { Theory.Ode.Options.defaults with MaxStep = 0.5 } }
    let errors = run.Rows |> Array.map (fun r -> r.EpsG)
    Assert.Equal(grid.Length, errors.Length)
    // the plateau: many consecutive outputs within 10% of eps*
    let onPlateau = errors |> Array.filter (fun e -> abs (e - eps) < 0.1 * eps) |> Array.length
    Assert.True(onPlateau >= 30, sprintf "%d outputs near the plateau; errors %A" onPlateau (errors |> Array.map (sprintf "%.4f")))
    let closest = errors |> Array.minBy (fun e -> abs (e - eps))
    Assert.True(abs (closest - eps) < 0.03 * eps, sprintf "closest %g vs %g" closest eps)
    Assert.True(errors[errors.Length - 1] < 0.1 * eps, sprintf "no specialisation: final %g" errors[errors.Length - 1])

[<Fact>]
let ``the Gaussian-equivalent error at given order parameters equals the engine's along a trajectory`` () =
    let net = NetworkSpec(K = 4)
    let training = TrainingSpec(Time = 5.0, LogPoints = 4, LogStart = 1.0, Lr = 0.2)
    let problem = Engine.nlgpProblem data1 net training QuadratureSettings.defaults true
    let run = Engine.integrateSystem problem.System problem.Initial (TimeGrid.Of training) { fastOptions with ClassError = true }
    for row in run.Rows do
        let eps, classError = Engine.nlgpErrorAt Erf QuadratureSettings.defaults 12 row.Order
        Assert.Equal(row.EpsG, eps, 12)
        Assert.Equal(row.ClassError, classError, 12)
        Assert.Equal(row.EpsG, 0.5 * (row.EpsGByClass[0] + row.EpsGByClass[1]), 14)
