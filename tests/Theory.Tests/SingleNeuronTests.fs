/// The single-neuron gradient flow (SCIENCE.md section 5): coefficients against finite differences of the loss,
/// the right-hand sides of the variants against explicit formulas, and localisation only with the cumulant kept.
module Theory.Tests.SingleNeuronTests

open System
open Xunit
open FsCheck
open FsCheck.FSharp
open Theory.Interop
open Theory.Simulation.Data
open Theory.Cumulants
open Theory.SingleNeuron

/// A sign-symmetric sample set (every sample and its mirror image), with non-Gaussian entries so that the fourth
/// cumulant is far from zero: the truncated flow is then the exact gradient of the truncated sample loss.
let private symmetricSamples (seed: uint64) (d: int) (half: int) (cls: int) =
    let rng = Rng(seed, uint64 cls)
    let x = Array.zeroCreate<float> (2 * half * d)
    for k in 0 .. half - 1 do
        for i in 0 .. d - 1 do
            // Uniform on [-1.7, 1.7] mixed with a shared component: correlated, platykurtic pixels.
            let v = 3.4 * rng.NextDouble() - 1.7
            x[k * d + i] <- v
            x[(half + k) * d + i] <- -v
    SampleSet.OfDoubles(d, 2 * half, x, InputKind.Nlgp, cls)

let private row (s: SampleSet) k = s.RowCopy k
let private dotp (a: float[]) (b: float[]) = Array.fold2 (fun s x y -> s + x * y) 0.0 a b

/// Sample covariance times w and sample fourth moment T(w,w,w), by plain loops.
let private sampleMoments (s: SampleSet) (w: float[]) =
    let cw = Array.zeroCreate s.D
    let tw = Array.zeroCreate s.D
    for k in 0 .. s.N - 1 do
        let x = row s k
        let v = dotp x w
        for i in 0 .. s.D - 1 do
            cw[i] <- cw[i] + v * x[i] / float s.N
            tw[i] <- tw[i] + v * v * v * x[i] / float s.N
    cw, tw

/// Coefficients p_0..p_6 of the degree-6 polynomial l(u) = (1/2)(y - sigma(b + u))^2, from its values at u = -3..3
/// (a Vandermonde solve: independent of the algebra that gives c2 and c4).
let private lossPolynomial (n: NeuronSpec) (y: float) =
    let nodes = Array.init 7 (fun k -> float (k - 3))
    let v = MathNet.Numerics.LinearAlgebra.Matrix<float>.Build.Dense(7, 7, fun i j -> nodes[i] ** float j)
    let rhs = MathNet.Numerics.LinearAlgebra.Vector<float>.Build.Dense(7, fun i -> Coefficients.loss n y nodes[i])
    v.Solve(rhs).ToArray()

/// Five-point central difference: exact for polynomials of degree <= 4 along the coordinate.
let private gradient (f: float[] -> float) (w: float[]) (h: float) =
    Array.init w.Length (fun i ->
        let at (s: float) = f (Array.mapi (fun j x -> if j = i then x + s * h else x) w)
        (at -2.0 - 8.0 * at -1.0 + 8.0 * at 1.0 - at 2.0) / (12.0 * h))

let private close (tol: float) (a: float[]) (b: float[]) =
    let scale = 1.0 + (Array.map abs b |> Array.max)
    Array.forall2 (fun x y -> abs (x - y) <= tol * scale) a b

/// Sample contractions run in single precision within blocks of 256 samples: relative error at most about
/// (D + 256) 2^-24 = 1.6e-5 of the largest term.
let private single = 2e-5

[<Fact>]
let ``c2 and c4 give minus D times the finite-difference gradient of the loss truncated at fourth order`` () =
    let d = 5
    let gen =
        gen {
            let! alpha = Gen.choose (-20, 20)
            let! beta = Gen.choose (1, 20)
            let! b = Gen.choose (-15, 15)
            let! w = Gen.arrayOfLength d (Gen.choose (-100, 100))
            let! seed = Gen.choose (0, 1000)
            return { Alpha = float alpha / 10.0; Beta = float beta / 10.0; Bias = float b / 10.0 }, Array.map (fun k -> float k / 40.0) w, seed
        }
    let prop (n: NeuronSpec, w: float[], seed: int) =
        let sets = [| symmetricSamples (uint64 seed) d 40 0; symmetricSamples (uint64 seed) d 40 1 |]
        let sqrtD = sqrt (float d)
        // Truncated loss: the polynomial of l(u) up to u^4, averaged over both classes (P_a = 1/2).
        let polys = [| lossPolynomial n (DataSpec.Label 0); lossPolynomial n (DataSpec.Label 1) |]
        let truncatedLoss (w: float[]) =
            let mutable l = 0.0
            for a in 0 .. 1 do
                for k in 0 .. sets[a].N - 1 do
                    let u = dotp (row sets[a] k) w / sqrtD
                    for p in 0 .. 4 do
                        l <- l + 0.5 * polys[a][p] * u ** float p / float sets[a].N
            l
        let fd = gradient truncatedLoss w 1e-2 |> Array.map (fun g -> -float d * g)
        let predicted = Array.zeroCreate d
        for a in 0 .. 1 do
            let cw, tw = sampleMoments sets[a] w
            let c2 = Coefficients.c2 n (DataSpec.Label a)
            for i in 0 .. d - 1 do
                predicted[i] <- predicted[i] + 0.5 * (c2 * cw[i] + Coefficients.c4 n / float d * tw[i])
        close 1e-8 predicted fd
    Check.One(Config.QuickThrowOnFailure.WithMaxTest 60, Prop.forAll (Arb.fromGen gen) prop)

[<Fact>]
let ``c2 depends on the label only through the bias and c4 is label-blind`` () =
    let prop (alpha: NormalFloat) (beta: NormalFloat) (bias: NormalFloat) =
        let n = { Alpha = alpha.Get % 10.0; Beta = beta.Get % 10.0; Bias = bias.Get % 10.0 }
        let diff = Coefficients.c2 n 1.0 - Coefficients.c2 n -1.0
        let unbiased = { n with Bias = 0.0 }
        abs (diff - (-4.0 * n.Beta * n.Bias)) <= 1e-9 * (1.0 + abs diff)
        && Coefficients.c2 unbiased 1.0 = -(n.Alpha * n.Alpha)
        && Coefficients.c2 unbiased -1.0 = -(n.Alpha * n.Alpha)
    Check.One(Config.QuickThrowOnFailure, prop)

let private smallTask () =
    NlgpTask(DataSpec(Dim = 1, Size = 6, Xi0 = 1.0, Xi1 = 3.0, Gain = 3.0).Validate())

let private evaluate (rhs: Theory.Ode.Rhs) (w: float[]) =
    let dw = Array.zeroCreate w.Length
    rhs 0.0 w dw
    dw

[<Fact>]
let ``the exact variant is minus D times the finite-difference gradient of the untruncated sample loss`` () =
    let task = smallTask ()
    let d = task.D
    let n = { Alpha = 0.8; Beta = 1.3; Bias = 0.7 }
    let sets = [| symmetricSamples 3UL d 50 0; symmetricSamples 3UL d 50 1 |]
    let flow = NeuronFlow(task, n, sets, null)
    let sqrtD = sqrt (float d)
    let loss (w: float[]) =
        let mutable l = 0.0
        for a in 0 .. 1 do
            for k in 0 .. sets[a].N - 1 do
                l <- l + 0.5 * Coefficients.loss n (DataSpec.Label a) (dotp (row sets[a] k) w / sqrtD) / float sets[a].N
        l
    let rng = Rng(4UL, 0UL)
    for _ in 1 .. 5 do
        let w = Array.init d (fun _ -> 0.5 * rng.NextGaussian())
        let fd = gradient loss w 1e-3 |> Array.map (fun g -> -float d * g)
        let exact = evaluate (flow.Rhs(Exact, ignore)) w
        Assert.True(close single exact fd, sprintf "%A vs %A" exact fd)

[<Fact>]
let ``the exact drive minus the truncated one is the dropped fifth-order term`` () =
    let task = smallTask ()
    let d = task.D
    let n = { Alpha = 1.0; Beta = 1.0; Bias = 1.0 }
    let sets = [| symmetricSamples 5UL d 50 0; symmetricSamples 5UL d 50 1 |]
    let flow = NeuronFlow(task, n, sets, null)
    let sqrtD = sqrt (float d)
    let rng = Rng(6UL, 0UL)
    let w = Array.init d (fun _ -> rng.NextGaussian())
    let exact = evaluate (flow.Rhs(Exact, ignore)) w
    let truncated = Array.zeroCreate d
    let fifth = Array.zeroCreate d
    for a in 0 .. 1 do
        let cw, tw = sampleMoments sets[a] w
        for i in 0 .. d - 1 do
            truncated[i] <- truncated[i] + 0.5 * (Coefficients.c2 n (DataSpec.Label a) * cw[i] + Coefficients.c4 n / float d * tw[i])
        for k in 0 .. sets[a].N - 1 do
            let x = row sets[a] k
            let u = dotp x w / sqrtD
            for i in 0 .. d - 1 do
                fifth[i] <- fifth[i] + 0.5 * sqrtD * Coefficients.c6 n * u ** 5.0 * x[i] / float sets[a].N
    let difference = Array.map2 (-) exact truncated
    let scale = Array.map abs exact |> Array.max
    Assert.True(Array.forall2 (fun x y -> abs (x - y) <= single * scale) difference fifth, sprintf "%A vs %A" difference fifth)
    // The fifth-order term is not negligible here (u = O(1)), so the comparison has teeth.
    Assert.True((Array.map abs fifth |> Array.max) > 0.01 * scale)

[<Fact>]
let ``the full, Gaussian-only and clone right-hand sides are c2 S w + (c4/D)(3 (w.Sw) S w + DeltaT(w,w,w))`` () =
    let task = smallTask ()
    let d = task.D
    let n = { Alpha = 1.2; Beta = 0.9; Bias = -0.8 }
    let nlgp = [| for a in 0 .. 1 -> SampleSet.draw task InputKind.Nlgp a 300 1 |]
    let clone = [| for a in 0 .. 1 -> SampleSet.draw task InputKind.Gp a 300 1 |]
    let flow = NeuronFlow(task, n, nlgp, clone)
    let rng = Rng(8UL, 0UL)
    let w = Array.init d (fun _ -> rng.NextGaussian())
    let expected (sets: SampleSet[] option) =
        let r = Array.zeroCreate d
        for a in 0 .. 1 do
            let s = task.InputCovariance(a).ToArray()
            let sw = Array.init d (fun i -> Array.init d (fun j -> s[i * d + j] * w[j]) |> Array.sum)
            let q = dotp w sw
            let dt =
                match sets with
                | Some (sets: SampleSet[]) ->
                    let t = ExplicitTensor.CumulantOf sets[a] :> ISymmetricTensor
                    let v = Array.zeroCreate d
                    t.Contract(w, v) |> ignore
                    v
                | None -> Array.zeroCreate d
            for i in 0 .. d - 1 do
                r[i] <- r[i] + 0.5 * (Coefficients.c2 n (DataSpec.Label a) * sw[i] + Coefficients.c4 n / float d * (3.0 * q * sw[i] + dt[i]))
        r
    Assert.True(close single (evaluate (flow.Rhs(Full, ignore)) w) (expected (Some nlgp)))
    Assert.True(close single (evaluate (flow.Rhs(Clone, ignore)) w) (expected (Some clone)))
    Assert.True(close 1e-12 (evaluate (flow.Rhs(GaussianOnly, ignore)) w) (expected None))

[<Fact>]
let ``the neuron localises only when the fourth cumulant of the NLGP is kept`` () =
    // 1D ring of 40 pixels, g = 10, default neuron (b = 1, c4 = -2): within t = 20 the full flow concentrates the
    // weights on a few pixels while the Gaussian-only flow and the clone flow stay spread out.
    let task = NlgpTask(DataSpec(Dim = 1, Size = 40, Xi0 = 1.0, Xi1 = 3.0, Gain = 10.0).Validate())
    let sets = SampleSet.drawClasses task [| InputKind.Nlgp; InputKind.Gp |] 8000 0
    let flow = NeuronFlow(task, NeuronSpec.defaults, sets[0], sets[1])
    let w0 = Theory.Simulation.Training.Initialisation.Weights(NetworkSpec(K = 1, InitStd = 0.1), task.D, 0)
    let grid = [| 0.0; 5.0; 20.0 |]
    let ipr (w: float[]) = Array.sumBy (fun x -> x ** 4.0) w / (Array.sumBy (fun x -> x * x) w ** 2.0)
    let final v =
        // MaxStep 0.1 (growth rates up to ~7): accurate enough for the IPR at any integrator, and cheap.
        let options = { Theory.Ode.Options.defaults with MaxStep = 0.1 }
        let tr = NeuronRun.integrate options flow v w0 grid 1 ignore Threading.CancellationToken.None
        Assert.Equal(Theory.Ode.Completed, tr.Outcome)
        ipr tr.Weights[tr.Weights.Length - 1]
    let full, gaussian, clone = final Full, final GaussianOnly, final Clone
    // A single pixel has IPR 1, i.i.d. Gaussian weights 3 / 42 = 0.07, a uniform vector 1 / 40.
    Assert.True(full > 0.3, sprintf "full flow: IPR %g" full)
    Assert.True(gaussian < 0.07, sprintf "Gaussian-only flow: IPR %g" gaussian)
    Assert.True(clone < 0.07, sprintf "clone flow: IPR %g" clone)

/// J (from `RhsAndJacobian`) against central differences of the right-hand side, column by column or along w.
let private jacobianAndDifferences (flow: NeuronFlow) (v: Variant) (w: float[]) =
    let d = w.Length
    let rhs, jac = flow.RhsAndJacobian(v, ignore)
    rhs 0.0 w (Array.zeroCreate d) // as the integrators do: f at the point before its Jacobian
    let j = Array2D.zeroCreate<float> d d
    jac 0.0 w j
    let at (dw: float[]) (s: float) = evaluate (flow.Rhs(v, ignore)) (Array.map2 (fun x y -> x + s * y) w dw)
    let derivative (h: float) (dw: float[]) =
        let a, b, c, e = at dw (-2.0 * h), at dw (-h), at dw h, at dw (2.0 * h)
        Array.init d (fun i -> (a[i] - 8.0 * b[i] + 8.0 * c[i] - e[i]) / (12.0 * h))
    j, derivative

[<Fact>]
let ``the flow's Jacobian is exact for the Gaussian-only flow and exact along w for the truncated one`` () =
    let task = smallTask ()
    let d = task.D
    let n = { Alpha = 1.1; Beta = 0.9; Bias = 0.9 }
    let nlgp = [| for a in 0 .. 1 -> SampleSet.draw task InputKind.Nlgp a 300 1 |]
    let flow = NeuronFlow(task, n, nlgp, null)
    let rng = Rng(12UL, 0UL)
    let w = Array.init d (fun _ -> rng.NextGaussian())
    let column (j: float[,]) (c: int) = Array.init d (fun i -> j[i, c])
    let times (j: float[,]) (x: float[]) = Array.init d (fun i -> Seq.sum (seq { for c in 0 .. d - 1 -> j[i, c] * x[c] }))
    // Gaussian-only: every column.
    let j, derivative = jacobianAndDifferences flow GaussianOnly w
    for c in 0 .. d - 1 do
        let e = Array.init d (fun i -> if i = c then 1.0 else 0.0)
        Assert.True(close 1e-7 (column j c) (derivative 1e-3 e), sprintf "column %d: %A vs %A" c (column j c) (derivative 1e-3 e))
    // Full: J w is the derivative along w (the rank-one remainder term is built for that); the other directions are
    // approximate (the W-method needs no more). F((1 + s) w) is a cubic in s, so the five-point difference is exact
    // at any h: a large one (0.5) keeps the single-precision rounding of the sample contraction (2e-5) small.
    let j, derivative = jacobianAndDifferences flow Full w
    Assert.True(close 1e-4 (times j w) (derivative 0.5 w), sprintf "J w = %A vs %A" (times j w) (derivative 0.5 w))
    // The Gaussian-only Jacobian alone is far from exact along w for Full (the check has teeth).
    let jg, _ = jacobianAndDifferences flow GaussianOnly w
    Assert.False(close 1e-2 (times jg w) (derivative 0.5 w))

[<Fact>]
let ``the Rosenbrock-W solver with the flow's Jacobian and DOPRI5 give the same weights`` () =
    // 1D ring of 40, 2000 samples per class, t in [0, 10]: the flows localise (full, exact) or stay spread out
    // (gaussian); both integrators at rtol 1e-6, atol 1e-8 (the settings of `theory neuron`). Measured relative
    // differences 1.1e-5 (full; 668 DOPRI5 against 2833 ROS34PW2 evaluations), 7.6e-7 (gaussian; 548, 854) and
    // 8.6e-6 (exact; 782, 4048): the localising flows amplify the integrators' 1e-6 errors.
    let task = NlgpTask(DataSpec(Dim = 1, Size = 40, Xi0 = 1.0, Xi1 = 3.0, Gain = 10.0).Validate())
    let sets = SampleSet.drawClasses task [| InputKind.Nlgp |] 2000 0
    let flow = NeuronFlow(task, NeuronSpec.defaults, sets[0], null)
    let w0 = Theory.Simulation.Training.Initialisation.Weights(NetworkSpec(K = 1, InitStd = 0.1), task.D, 0)
    let grid = [| 0.0; 1.0; 10.0 |]
    for v in [ Full; GaussianOnly; Exact ] do
        let final m =
            let options = { Theory.Ode.Options.defaults with RelTol = 1e-6; AbsTol = 1e-8; Method = m }
            let tr = NeuronRun.integrate options flow v w0 grid 1 ignore Threading.CancellationToken.None
            Assert.Equal(Theory.Ode.Completed, tr.Outcome)
            tr.Weights[tr.Weights.Length - 1], tr.Evaluations
        let wd, ed = final Theory.Ode.Dopri5
        let wr, er = final Theory.Ode.Ros34PW2
        let scale = Array.map abs wd |> Array.max
        let diff = Array.map2 (fun a b -> abs (a - b)) wd wr |> Array.max
        Assert.True(diff < 2e-5 * scale, sprintf "%A: max |w_dp5 - w_rosw| = %g (max |w| %g; evaluations %d, %d)" v diff scale ed er)
