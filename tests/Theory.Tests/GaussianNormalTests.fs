/// The normal CDFs and quadrature rules against independent references: 30-digit values (mpmath, computed once
/// outside this code base), MathNet's erfc, an identity, a brute-force integral and finite differences.
module Theory.Tests.GaussianNormalTests

open System
open Xunit
open FsCheck
open FsCheck.FSharp
open Theory.Gaussian

let private mathNetCdf (x: float) = 0.5 * MathNet.Numerics.SpecialFunctions.Erfc(-x / sqrt 2.0)

[<Fact>]
let ``Gauss-Legendre rules integrate polynomials of degree 2n-1 exactly`` () =
    for n in [ 1; 2; 6; 12; 20 ] do
        let rule = Quadrature.gaussLegendre n
        Assert.Equal(2.0, Array.sum rule.Weights, 13)
        for degree in 0 .. 2 * n - 1 do
            let q = Array.fold2 (fun s x w -> s + w * pown x degree) 0.0 rule.Nodes rule.Weights
            let exact = if degree % 2 = 1 then 0.0 else 2.0 / float (degree + 1)
            Assert.True(abs (q - exact) < 1e-14, sprintf "n = %d, degree %d: %g vs %g" n degree q exact)

[<Fact>]
let ``erfcx and Phi match 30-digit reference values`` () =
    let erfcx = [ 0.3, 0.73459933456765515237; 2.5, 0.21080636406114358065; 7.0, 0.07980005432915293349
                  20.0, 0.028174348741051319319; 50.0, 0.0112815362653237725 ]
    // within 2 ulp, the accuracy the series is documented to have
    let ulp (v: float) = Math.BitIncrement v - v
    for x, v in erfcx do
        Assert.True(abs (Normal.erfcxPositive x - v) <= 2.0 * ulp v, sprintf "erfcx(%g)" x)
    let phi = [ -30.0, 4.9067139271481870595e-198; -12.0, 1.7764821120776789977e-33; -5.0, 2.8665157187919391167e-7
                -0.7, 0.24196365222307302862; 0.0, 0.5; 1.3, 0.90319951541438967446; 6.0, 0.99999999901341235496 ]
    for x, v in phi do
        Assert.True(abs (Normal.cdf x - v) <= 3.0 * ulp v, sprintf "Phi(%g) = %.17g vs %.17g" x (Normal.cdf x) v)

[<Fact>]
let ``Phi agrees with MathNet's erfc to rounding over the whole range`` () =
    let mutable x = -38.0
    while x < 9.0 do
        let a = Normal.cdf x
        let b = mathNetCdf x
        // relative in the lower tail, absolute elsewhere
        Assert.True(abs (a - b) <= 1e-15 * b + 2e-16, sprintf "x = %g: %.17g vs %.17g" x a b)
        x <- x + 0.01234
    Assert.Equal(0.0, Normal.cdf -40.0)
    Assert.Equal(1.0, Normal.cdf 40.0)
    Assert.True(Double.IsNaN(Normal.cdf nan))

/// Phi2 by brute force: int_{-inf}^h phi(x) Phi((k - r x)/sqrt(1 - r^2)) dx, with the integral split at the step of
/// the inner CDF (x = k / r) and 48-point Gauss-Legendre on many pieces.
let referencePhi2 (h: float) (k: float) (r: float) =
    let rule = Quadrature.gaussLegendre 48
    let f x = Normal.pdf x * mathNetCdf ((k - r * x) / sqrt (1.0 - r * r))
    let integrate a b pieces =
        let w = (b - a) / float pieces
        let mutable s = 0.0
        for p in 0 .. pieces - 1 do
            let lo = a + float p * w
            for i in 0 .. rule.Nodes.Length - 1 do
                s <- s + 0.5 * w * rule.Weights[i] * f (lo + 0.5 * w * (1.0 + rule.Nodes[i]))
        s
    let x0 = k / r
    let width = sqrt (1.0 - r * r) / abs r
    let cuts =
        [ -40.0; x0 - 60.0 * width; x0 - 6.0 * width; x0; x0 + 6.0 * width; x0 + 60.0 * width; h ]
        |> List.filter (fun x -> x >= -40.0 && x <= h)
        |> List.distinct
        |> List.sort
    cuts |> List.pairwise |> List.sumBy (fun (a, b) -> integrate a b 40)

[<Fact>]
let ``Phi2 matches 30-digit reference values`` () =
    let cases = [ (0.5, -0.3, 0.4), 0.31712692828616510977; (1.2, 0.8, 0.95), 0.78439310898463629336
                  (-1.5, 2.0, -0.97), 0.044215642300643668258; (2.0, 2.0, 0.9999), 0.97694526425807706327
                  (-0.4, -0.6, -0.2), 0.07047388557304508427; (3.0, -2.5, 0.99), 0.006209665325776135167 ]
    for (h, k, r), v in cases do
        let p = Normal.bivariateCdf h k r
        Assert.True(abs (p - v) < 1e-15, sprintf "Phi2(%g, %g; %g) = %.17g vs %.17g" h k r p v)

[<Fact>]
let ``Phi2 at the origin is 1/4 + asin(r)/2pi for every correlation`` () =
    for i in -1000 .. 1000 do
        let r = float i / 1000.0
        let exact = 0.25 + asin r / (2.0 * Math.PI)
        Assert.True(abs (Normal.bivariateCdf 0.0 0.0 r - exact) < 2e-16, sprintf "r = %g" r)

/// (h, k, r) with |h|, |k| <= 5 and r in (-1, 1), a third of them within 1e-3 of +-1.
let private hkr =
    gen {
        let! h = Gen.choose (-5000, 5000)
        let! k = Gen.choose (-5000, 5000)
        let! r = Gen.choose (-999999, 999999)
        let! near = Gen.choose (0, 2)
        let r = float r / 1e6
        let r = if near = 0 then float (sign r) * (1.0 - (1.0 - abs r) * 1e-3) else r
        return float h / 1000.0, float k / 1000.0, r
    }
    |> Arb.fromGen

[<Fact>]
let ``Phi2 matches a brute-force integral to 1e-14`` () =
    Check.One(
        Config.QuickThrowOnFailure.WithMaxTest(300),
        Prop.forAll hkr (fun (h, k, r) ->
            let p = Normal.bivariateCdf h k r
            let q = referencePhi2 h k r
            abs (p - q) < 1e-14 |> Prop.label (sprintf "Phi2(%g, %g; %g) = %.17g, reference %.17g" h k r p q))
    )

[<Fact>]
let ``Phi2 is symmetric in its arguments and has the Frechet bounds`` () =
    Check.One(
        Config.QuickThrowOnFailure.WithMaxTest(500),
        Prop.forAll hkr (fun (h, k, r) ->
            let p = Normal.bivariateCdf h k r
            abs (p - Normal.bivariateCdf k h r) < 1e-16
            && p >= max 0.0 (Normal.cdf h + Normal.cdf k - 1.0)
            && p <= min (Normal.cdf h) (Normal.cdf k))
    )

[<Fact>]
let ``dPhi2/dr equals the bivariate density (Plackett), by central differences across both branches`` () =
    Check.One(
        Config.QuickThrowOnFailure.WithMaxTest(200),
        Prop.forAll hkr (fun (h, k, r) ->
            let r = max -0.99 (min 0.99 r)
            let e = 1e-5
            let fd = (Normal.bivariateCdf h k (r + e) - Normal.bivariateCdf h k (r - e)) / (2.0 * e)
            let density =
                exp (-(h * h - 2.0 * r * h * k + k * k) / (2.0 * (1.0 - r * r))) / (2.0 * Math.PI * sqrt (1.0 - r * r))
            abs (fd - density) < 1e-6 * (1.0 + density) |> Prop.label (sprintf "%g vs %g" fd density))
    )

[<Fact>]
let ``the vectorised batch gives the scalar values`` () =
    let rng = Random(7)
    let batch = Normal.BivariateBatch(500)
    let args =
        Array.init 500 (fun i ->
            let h = 8.0 * rng.NextDouble() - 4.0
            let k = 8.0 * rng.NextDouble() - 4.0
            let r =
                match i % 4 with
                | 0 -> 0.0
                | 1 -> 1.998 * rng.NextDouble() - 0.999
                | 2 -> 0.925 + 0.0749 * rng.NextDouble()
                | _ -> -0.925 - 0.0749 * rng.NextDouble()
            h, k, r)
    for h, k, r in args do
        batch.Add(Normal.cdf h, Normal.cdf k, h, k, r) |> ignore
    batch.Compute()
    args |> Array.iteri (fun i (h, k, r) -> Assert.True(abs (batch.Result i - Normal.bivariateCdf h k r) < 3e-16))

[<Fact>]
let ``the small-angle sine of the Phi2 batch is accurate and does not depend on where a value sits in the array`` () =
    // Accuracy against the C runtime's sin on [-pi/2, pi/2], and bitwise independence of position: the vector body
    // and the scalar tail must give the same bits (a value's result may not depend on the batch around it, or runs
    // of one configuration would differ).
    let rng = Random(5)
    let n = 1001
    let x = Array.init n (fun i -> if i = 0 then 0.0 elif i = 1 then Math.PI / 2.0 else (rng.NextDouble() * 2.0 - 1.0) * Math.PI / 2.0)
    let whole = Array.copy x
    Normal.sinSmallInPlace whole n
    for i in 0 .. n - 1 do
        let exact = Math.Sin x[i]
        Assert.True(abs (whole[i] - exact) <= 4e-16 * abs exact, sprintf "sin(%.17g) = %.17g vs %.17g" x[i] whole[i] exact)
    for offset in [ 1; 3; 7 ] do
        for count in [ 1; 5; 64; n - offset ] do
            let part = Array.sub x offset count
            Normal.sinSmallInPlace part count
            for i in 0 .. count - 1 do
                Assert.Equal(BitConverter.DoubleToInt64Bits whole[offset + i], BitConverter.DoubleToInt64Bits part[i])
