/// ReLU closed forms, the pre-integrated lattice rule for ReLU and the plain lattice rule for smooth activations,
/// and the linear closed forms, against Monte Carlo and against each other.
module Theory.Tests.GaussianReluTests

open System
open Xunit
open FsCheck
open FsCheck.FSharp
open Theory.Gaussian
open Theory.Tests.GaussianSupport

let private seeds = Arb.fromGen (Gen.choose (1, Int32.MaxValue))

[<Fact>]
let ``ReLU closed forms match Monte Carlo`` () =
    Check.One(
        Config.QuickThrowOnFailure.WithMaxTest(25),
        Prop.forAll seeds (fun seed ->
            let rng = Random(seed)
            let c = randomCovariance rng 2 (0.2 + 3.0 * rng.NextDouble()) 0.05
            let m = Array.init 2 (fun _ -> 2.0 * rng.NextDouble() - 1.0)
            let relu x = max 0.0 x
            let theta x = if x > 0.0 then 1.0 else 0.0
            let er, et, ett = Accumulator(), Accumulator(), Accumulator()
            let i2, tt0, tr0 = Accumulator(), Accumulator(), Accumulator()
            sample seed 200_000 m c (fun z x ->
                er.Add(relu x[0])
                et.Add(theta x[0])
                ett.Add(theta x[0] * theta x[1])
                // zero-mean copies: x - m
                let u, v = x[0] - m[0], x[1] - m[1]
                i2.Add(relu u * relu v)
                tt0.Add(theta u * theta v)
                tr0.Add(theta u * relu v)
                ignore z)
            near "E relu" 0.0 (Relu.meanRelu m[0] c[0]) er.Estimate
            near "E Theta" 0.0 (Relu.meanTheta m[0] c[0]) et.Estimate
            near "E Theta Theta" 0.0 (Relu.meanThetaTheta m[0] m[1] c[0] c[1] c[3]) ett.Estimate
            near "I2 relu" 0.0 (Relu.i2 c[0] c[1] c[3]) i2.Estimate
            let r = c[1] / sqrt (c[0] * c[3])
            near "E Theta Theta (zero mean)" 0.0 (0.25 + asin r / (2.0 * Math.PI)) tt0.Estimate
            near "E Theta relu (zero mean)" 0.0 (Relu.thetaRelu c[0] c[1] c[3]) tr0.Estimate
            true)
    )

[<Fact>]
let ``ReLU moments (closed forms and the pre-integrated lattice for H) match Monte Carlo`` () =
    Check.One(
        Config.QuickThrowOnFailure.WithMaxTest(10),
        Prop.forAll seeds (fun seed ->
            let rng = Random(seed)
            let k = 2 + rng.Next 3
            let teacher = rng.Next 2 = 0
            let n = if teacher then k + 1 else k
            let f = randomFields seed n k (0.3 + 3.0 * rng.NextDouble()) (rng.Next 2 = 0) (if teacher then 0.0 else 1.0)
            let m = Moments(n, k)
            // First-order quantities are closed forms (no slack). H comes from the lattice, whose error at the default
            // 2^12 points is 0.3-3% for K >= 3 (it converges like N^-0.8; see the README); here the 2^16-point rule,
            // within 5e-3, is checked against Monte Carlo.
            ReluExpectations(n, k, 16).Compute(f, m)
            checkMoments (sprintf "relu n=%d K=%d" n k) 0.0 5e-3 m (monteCarlo Relu f seed 200_000)
            // the default size differs from it only in H
            let standard = Moments(n, k)
            (Expectations.create Relu QuadratureSettings.defaults n k).Compute(f, standard)
            Assert.Equal(m.Delta2, standard.Delta2)
            Assert.Equal<float[]>(m.G, standard.G)
            true)
    )

/// H of two ReLU fields (K = 2, no teacher) by an independent route: x1 given x0 is Gaussian, so the inner
/// expectation over x1 > 0 is a truncated-normal moment; the outer integral over x0 > 0 by composite Gauss-Legendre.
let private reluH2 (f: Fields) =
    let mu, c, a, c0 = f.Mean, f.Cov, f.Coef, f.Constant
    let rule = Quadrature.gaussLegendre 20
    let h (i: int) (j: int) (both: bool) =
        // outer field i, inner field j; both = H_ij (i <> j), else H_ii
        let si = sqrt c[i * 2 + i]
        let slope = c[i * 2 + j] / c[i * 2 + i]
        let v = c[j * 2 + j] - slope * c[i * 2 + j]
        let s = sqrt v
        let integrand (x: float) =
            let m = mu[j] + slope * (x - mu[i])
            let z = m / s
            let t0 = Normal.cdf z
            let t1 = m * t0 + s * Normal.pdf z
            let t2 = (m * m + v) * t0 + m * s * Normal.pdf z
            let u = c0 + a[i] * x
            let density = Normal.pdf ((x - mu[i]) / si) / si
            density * (if both then u * u * t0 + 2.0 * u * a[j] * t1 + a[j] * a[j] * t2
                       else u * u + 2.0 * u * a[j] * t1 + a[j] * a[j] * t2)
        let hi = max 0.0 mu[i] + 14.0 * si
        let pieces = 400
        let w = hi / float pieces
        let mutable sum = 0.0
        for p in 0 .. pieces - 1 do
            for q in 0 .. rule.Nodes.Length - 1 do
                sum <- sum + 0.5 * w * rule.Weights[q] * integrand (float p * w + 0.5 * w * (1.0 + rule.Nodes[q]))
        sum
    [| h 0 1 false; h 0 1 true; h 1 0 true; h 1 0 false |]

[<Fact>]
let ``ReLU H from the lattice: within 2e-3 of an independent quadrature at the default size, and convergent`` () =
    for seed in 1 .. 12 do
        let rng = Random(seed)
        let f = randomFields seed 2 2 (0.3 + 5.0 * rng.NextDouble()) (seed % 2 = 0) (if seed % 3 = 0 then 0.0 else 1.0)
        let exact = reluH2 f
        let errorAt (m: int) =
            let mm = Moments(2, 2)
            ReluExpectations(2, 2, m).Compute(f, mm)
            Array.map2 (fun (x: float) y -> abs (x - y) / abs y) mm.H exact |> Array.max
        let coarse, standard, fine = errorAt 10, errorAt QuadratureSettings.defaults.LatticeExponent, errorAt 16
        Assert.True(standard < 2e-3, sprintf "seed %d: relative error %.2e at the default size" seed standard)
        Assert.True(fine < 5e-4, sprintf "seed %d: relative error %.2e at 2^16 points" seed fine)
        Assert.True(fine <= coarse, sprintf "seed %d: no convergence (%.2e at 2^10, %.2e at 2^16)" seed coarse fine)

[<Fact>]
let ``the ReLU expectations are smooth in the covariance (no lattice jumps)`` () =
    // A plain lattice rule jumps whenever a point crosses a kink; the pre-integrated rule must not: the second
    // difference of H_00 along a path in covariance space stays at the level of a smooth function's h^2 f''.
    let f = randomFields 17 4 4 2.0 true 1.0
    let start = Array.copy f.Cov
    let ev = Expectations.create Relu QuadratureSettings.defaults 4 4
    let m = Moments(4, 4)
    let at (s: float) =
        for i in 0 .. 15 do
            f.Cov[i] <- start[i] * (1.0 + s * (if i % 5 = 0 then 1.0 else 0.5))
        ev.Compute(f, m)
        m.H[0], m.G[1], m.GDelta[2]
    let h = 1e-3
    for step in 0 .. 40 do
        let s = float step * 0.01
        let a0, b0, c0 = at (s - h)
        let a1, b1, c1 = at s
        let a2, b2, c2 = at (s + h)
        for (x0, x1, x2) in [ a0, a1, a2; b0, b1, b2; c0, c1, c2 ] do
            let second = abs (x0 - 2.0 * x1 + x2)
            Assert.True(second < 1e-5 * (abs x1 + 1e-3), sprintf "s = %g: second difference %g" s second)

[<Fact>]
let ``lattice rules for sigmoid and cubic match Monte Carlo`` () =
    for activation in [ Sigmoid; Cubic(1.0, 0.3) ] do
        for seed in [ 3; 5 ] do
            let f = randomFields seed 3 3 0.8 true 1.0
            let m = Moments(3, 3)
            (Expectations.create activation QuadratureSettings.defaults 3 3).Compute(f, m)
            checkMoments (sprintf "%A" activation) 2e-3 2e-3 m (monteCarlo activation f seed 200_000)

[<Fact>]
let ``linear closed forms match Monte Carlo`` () =
    for seed in [ 1; 2; 3 ] do
        let f = randomFields seed 4 3 1.5 true 0.0
        let m = Moments(4, 3)
        (Expectations.create Linear QuadratureSettings.defaults 4 3).Compute(f, m)
        checkMoments "linear" 0.0 0.0 m (monteCarlo Linear f seed 200_000)

[<Fact>]
let ``the erf lattice check: plain lattice rule agrees with the erf closed forms`` () =
    // The generic lattice evaluator (used for sigmoid and cubic) applied to erf, against the exact erf path.
    let f = randomFields 11 4 4 1.5 true -1.0
    let exact = Moments(4, 4)
    (Expectations.create Erf QuadratureSettings.defaults 4 4).Compute(f, exact)
    let lattice = Moments(4, 4)
    LatticeExpectations(Erf, 4, 4, 14).Compute(f, lattice)
    let close (a: float) (b: float) = abs (a - b) < 1e-3 * (abs a + 1e-2)
    Assert.True(close exact.Delta2 lattice.Delta2)
    for i in 0 .. 15 do
        Assert.True(close exact.H[i] lattice.H[i], sprintf "H[%d] %g vs %g" i exact.H[i] lattice.H[i])
        Assert.True(close exact.G[i] lattice.G[i], sprintf "G[%d] %g vs %g" i exact.G[i] lattice.G[i])

[<Fact>]
let ``classification error on the lattice matches Monte Carlo`` () =
    let f = randomFields 23 3 3 1.0 true 1.0
    let lattice = Expectations.classError Erf 14 f
    let acc = Accumulator()
    sample 5 200_000 f.Mean f.Cov (fun _ x ->
        let mutable phi = 0.0
        for i in 0 .. 2 do
            phi <- phi - f.Coef[i] * Erf.g x[i]
        acc.Add(if phi * f.Constant < 0.0 then 1.0 else 0.0))
    // an indicator on a lattice: allow 2e-3 on top of the Monte Carlo error
    near "P(y phi < 0)" 2e-3 lattice acc.Estimate
