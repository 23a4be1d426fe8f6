/// The erf expectations (SCIENCE.md section 4) against Monte Carlo over random covariances and means.
module Theory.Tests.GaussianErfTests

open System
open Xunit
open FsCheck
open FsCheck.FSharp
open Theory.Gaussian
open Theory.Tests.GaussianSupport

let private seeds = Arb.fromGen (Gen.choose (1, Int32.MaxValue))
let private config n = Config.QuickThrowOnFailure.WithMaxTest(n)

[<Fact>]
let ``zero-mean closed forms I2, J2, I3, I4 and E[g'] match Monte Carlo`` () =
    Check.One(
        config 25,
        Prop.forAll seeds (fun seed ->
            let rng = Random(seed)
            let scale = 0.2 + 3.0 * rng.NextDouble()
            let c = randomCovariance rng 4 scale 0.05
            let C i j = c[(i - 1) * 4 + (j - 1)]
            let i2 = Accumulator()
            let j2 = Accumulator()
            let i3 = Accumulator()
            let i4 = Accumulator()
            let eg = Accumulator()
            sample seed 200_000 (Array.zeroCreate 4) c (fun _ x ->
                let g i = Erf.g x[i]
                let gp i = Erf.gPrime x[i]
                i2.Add(g 0 * g 1)
                j2.Add(gp 0 * gp 1)
                i3.Add(gp 0 * x[1] * g 2)
                i4.Add(gp 0 * gp 1 * g 2 * g 3)
                eg.Add(gp 0))
            near "I2" 0.0 (Erf.i2 (C 1 1) (C 1 2) (C 2 2)) i2.Estimate
            near "J2" 0.0 (Erf.j2 (C 1 1) (C 1 2) (C 2 2)) j2.Estimate
            near "I3" 0.0 (Erf.i3 (C 1 1) (C 1 2) (C 1 3) (C 2 3) (C 3 3)) i3.Estimate
            near "I4" 0.0 (Erf.i4 (C 1 1) (C 1 2) (C 1 3) (C 1 4) (C 2 2) (C 2 3) (C 2 4) (C 3 3) (C 3 4) (C 4 4)) i4.Estimate
            near "E[g']" 0.0 (Erf.eGPrime (C 1 1)) eg.Estimate)
    )

[<Fact>]
let ``closed forms with means (Phi, Phi2, tilted Gaussians) match Monte Carlo`` () =
    Check.One(
        config 25,
        Prop.forAll seeds (fun seed ->
            let rng = Random(seed)
            let scale = 0.2 + 3.0 * rng.NextDouble()
            let c = randomCovariance rng 2 scale 0.05
            let m = Array.init 2 (fun _ -> 3.0 * rng.NextDouble() - 1.5)
            let eg = Accumulator()
            let egg = Accumulator()
            let eg2 = Accumulator()
            let egp = Accumulator()
            let egpgp = Accumulator()
            let egp2 = Accumulator()
            sample seed 200_000 m c (fun _ x ->
                let g0, g1 = Erf.g x[0], Erf.g x[1]
                let p0, p1 = Erf.gPrime x[0], Erf.gPrime x[1]
                eg.Add g0
                egg.Add(g0 * g1)
                eg2.Add(g0 * g0)
                egp.Add p0
                egpgp.Add(p0 * p1)
                egp2.Add(p0 * p0))
            near "E[g]" 0.0 (Erf.meanG m[0] c[0]) eg.Estimate
            near "E[g g]" 0.0 (Erf.meanGG m[0] m[1] c[0] c[1] c[3] false) egg.Estimate
            near "E[g^2]" 0.0 (Erf.meanGG m[0] m[0] c[0] c[0] c[0] true) eg2.Estimate
            near "E[g']" 0.0 (Erf.meanGPrime m[0] c[0]) egp.Estimate
            near "E[g' g']" 0.0 (Erf.meanGPrimeGPrime m[0] m[1] c[0] c[1] c[3] false) egpgp.Estimate
            near "E[g'^2]" 0.0 (Erf.meanGPrimeGPrime m[0] m[0] c[0] c[0] c[0] true) egp2.Estimate)
    )

/// All ODE expectations of the erf evaluator against Monte Carlo: students only or with teacher fields, zero or
/// random means (biases), a fixed label or none.
let private erfMoments (withMeans: bool) (teacher: bool) =
    Check.One(
        config 12,
        Prop.forAll seeds (fun seed ->
            let rng = Random(seed)
            let k = 2 + rng.Next 2
            let n = if teacher then k + 1 + rng.Next 2 else k
            let constant = if teacher then 0.0 else (if rng.Next 2 = 0 then 1.0 else -1.0)
            let f = randomFields seed n k (0.3 + 3.0 * rng.NextDouble()) withMeans constant
            let m = Moments(n, k)
            (Expectations.create Erf QuadratureSettings.defaults n k).Compute(f, m)
            checkMoments (sprintf "erf n=%d K=%d" n k) 0.0 0.0 m (monteCarlo Erf f seed 200_000)
            true)
    )

[<Fact>]
let ``erf moments at zero mean match Monte Carlo`` () = erfMoments false false

[<Fact>]
let ``erf moments with biases match Monte Carlo`` () = erfMoments true false

[<Fact>]
let ``erf moments with teacher fields and means match Monte Carlo`` () = erfMoments true true

[<Fact>]
let ``erf moments with teacher fields at zero mean match Monte Carlo`` () = erfMoments false true

[<Fact>]
let ``the zero-mean closed forms and the Phi2 route agree as the means vanish`` () =
    for seed in 1 .. 20 do
        let rng = Random(seed)
        let k = 2 + rng.Next 4
        let n = k + rng.Next 3
        let f = randomFields seed n k (0.1 + 20.0 * rng.NextDouble()) false (if n = k then 1.0 else 0.0)
        let zero = Moments(n, k)
        let ev = Expectations.create Erf QuadratureSettings.defaults n k
        ev.Compute(f, zero)
        // A mean of 1e-13 switches to the Phi2 route; the expectations move by O(1e-13).
        f.Mean[0] <- 1e-13
        let tiny = Moments(n, k)
        ev.Compute(f, tiny)
        let close (a: float) (b: float) = abs (a - b) < 1e-11 * (1.0 + abs a)
        Assert.True(close zero.Delta2 tiny.Delta2)
        for i in 0 .. k * n - 1 do
            Assert.True(close zero.G[i] tiny.G[i], sprintf "seed %d G[%d]: %g vs %g" seed i zero.G[i] tiny.G[i])
        for i in 0 .. k * k - 1 do
            Assert.True(close zero.H[i] tiny.H[i], sprintf "seed %d H[%d]: %g vs %g" seed i zero.H[i] tiny.H[i])
        for i in 0 .. k - 1 do
            Assert.True(close zero.GDelta[i] tiny.GDelta[i])
            Assert.True(close zero.GPrimeDelta[i] tiny.GPrimeDelta[i])

[<Fact>]
let ``Stein identity: the closed-form G equals Q^-1 E[(lambda - mu) F] by Monte Carlo`` () =
    // G_kj = E[dF_k/dlambda_j] from the closed forms (g'' and g' g' terms) against the Stein form estimated by
    // sampling, for fields with means, K = 3 and a label.
    let f = randomFields 4242 3 3 2.0 true 1.0
    let m = Moments(3, 3)
    (Expectations.create Erf QuadratureSettings.defaults 3 3).Compute(f, m)
    let mc = monteCarlo Erf f 99 400_000
    for i in 0 .. 8 do
        near (sprintf "G[%d]" i) 0.0 m.G[i] mc.G[i]
