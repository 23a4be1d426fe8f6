/// The symmetric CP decomposition recovers planted tensors, explicitly at small D and through contractions only at
/// D = 400 (SCIENCE.md section 5).
module Theory.Tests.CumulantCpTests

open System
open Xunit
open FsCheck
open FsCheck.FSharp
open Theory.Interop
open Theory.Simulation.Data
open Theory.Cumulants

let private unit (v: float[]) =
    let n = sqrt (Array.sumBy (fun x -> x * x) v)
    Array.map (fun x -> x / n) v

let private dot (a: float[]) (b: float[]) = Array.fold2 (fun s x y -> s + x * y) 0.0 a b

/// A Gaussian bump of width sigma centred at c on a ring of d pixels (unit norm).
let private ringBump d (c: float) sigma =
    unit (Array.init d (fun i ->
        let x = abs (float i - c)
        let x = min x (float d - x)
        exp (-x * x / (2.0 * sigma * sigma))))

/// A Gaussian bump on an L x L torus centred at (cx, cy), pixel i = y L + x (unit norm).
let private torusBump L (cx: float) (cy: float) sigma =
    unit (Array.init (L * L) (fun i ->
        let dx = abs (float (i % L) - cx)
        let dy = abs (float (i / L) - cy)
        let dx, dy = min dx (float L - dx), min dy (float L - dy)
        exp (-(dx * dx + dy * dy) / (2.0 * sigma * sigma))))

let private randomUnit (rng: Rng) d = unit (Array.init d (fun _ -> rng.NextGaussian()))

/// Every planted component is matched by a recovered one: |cos| close to 1 and weight within a relative tolerance.
let private assertRecovers (weights: float[]) (factors: float[][]) (result: CpResult) (cosTol: float) (weightTol: float) =
    Assert.Equal(weights.Length, result.Weights.Length)
    for r in 0 .. weights.Length - 1 do
        let best = result.Factors |> Array.mapi (fun s u -> s, abs (dot u factors[r])) |> Array.maxBy snd
        let s, c = best
        Assert.True(c > 1.0 - cosTol, sprintf "planted factor %d: best |cos| = %.8f" r c)
        let rel = abs (result.Weights[s] - weights[r]) / abs weights[r]
        Assert.True(rel < weightTol, sprintf "planted weight %g recovered as %g" weights[r] result.Weights[s])

/// Relative Frobenius error of the decomposition of an explicit tensor.
let private relativeError (t: ExplicitTensor) (result: CpResult) =
    let fit = ExplicitTensor.OfCp(result.Weights, result.Factors)
    let num = Array.fold2 (fun s a b -> s + (a - b) * (a - b)) 0.0 t.Entries fit.Entries
    let den = Array.sumBy (fun a -> a * a) t.Entries
    sqrt (num / den)

[<Fact>]
let ``CP recovers a planted rank-3 tensor with random (non-orthogonal) negative factors`` () =
    let d = 10
    let rng = Rng(1UL, 0UL)
    let factors = Array.init 3 (fun _ -> randomUnit rng d)
    let weights = [| -3.0; -2.0; -1.3 |]
    let t = ExplicitTensor.OfCp(weights, factors)
    let result = Cp.decompose { CpOptions.defaults with Rank = 3; Sweeps = 30 } t ignore
    assertRecovers weights factors result 1e-6 1e-4
    Assert.True(relativeError t result < 1e-4)

[<Fact>]
let ``CP recovers overlapping localised factors (neighbouring bumps) that greedy deflation alone gets wrong`` () =
    let d = 16
    let factors = [| ringBump d 2.0 1.2; ringBump d 5.0 1.0; ringBump d 11.0 1.5 |]
    let weights = [| -2.0; -1.5; -1.0 |]
    let t = ExplicitTensor.OfCp(weights, factors)
    let greedy = Cp.decompose { CpOptions.defaults with Rank = 3; Sweeps = 0 } t ignore
    let refined = Cp.decompose { CpOptions.defaults with Rank = 3; Sweeps = 50 } t ignore
    assertRecovers weights factors refined 1e-6 1e-4
    Assert.True(relativeError t refined < 1e-4)
    // The refinement is what makes the difference: deflation of overlapping factors is biased.
    Assert.True(relativeError t greedy > 10.0 * relativeError t refined)

[<Fact>]
let ``CP with sign Largest finds components of both signs`` () =
    let d = 9
    let rng = Rng(2UL, 0UL)
    let factors = Array.init 3 (fun _ -> randomUnit rng d)
    let weights = [| 2.5; -2.0; 1.2 |]
    let t = ExplicitTensor.OfCp(weights, factors)
    let result = Cp.decompose { CpOptions.defaults with Rank = 3; Sign = Largest; Sweeps = 30 } t ignore
    assertRecovers weights factors result 1e-6 1e-4
    // Only negative components are asked for: the positive ones are not returned as such.
    let negative = Cp.decompose { CpOptions.defaults with Rank = 1; Sign = Negative } t ignore
    Assert.True(negative.Weights[0] < 0.0)
    Assert.True(abs (dot negative.Factors[0] factors[1]) > 0.99)

[<Fact>]
let ``CP recovers planted orthogonal tensors of any rank and signs exactly (property)`` () =
    let gen =
        gen {
            let! d = Gen.choose (4, 9)
            let! r = Gen.choose (1, min d 4)
            let! seed = Gen.choose (0, 10000)
            let! mags = Gen.arrayOfLength r (Gen.choose (5, 50))
            return d, r, seed, mags
        }
    let prop (d: int, r: int, seed: int, mags: int[]) =
        let rng = Rng(uint64 seed, 9UL)
        let m = MathNet.Numerics.LinearAlgebra.Matrix<float>.Build.Dense(d, d, fun _ _ -> rng.NextGaussian())
        let q = m.QR().Q
        let factors = Array.init r (fun k -> Array.init d (fun i -> q[i, k]))
        // Distinct magnitudes, all negative (the NLGP case).
        let weights = mags |> Array.mapi (fun k x -> -(float x / 10.0 + float k * 0.37)) |> Array.sortBy abs |> Array.rev
        let t = ExplicitTensor.OfCp(weights, factors)
        let result = Cp.decompose { CpOptions.defaults with Rank = r } t ignore
        assertRecovers weights factors result 1e-8 1e-6
        true
    Check.One(Config.QuickThrowOnFailure.WithMaxTest 20, Prop.forAll (Arb.fromGen gen) prop)

[<Fact>]
let ``CP recovers planted localised factors at D = 400 through contractions only`` () =
    let L = 20
    let centres = [| 3.0, 4.0; 12.0, 6.0; 7.0, 15.0; 16.0, 16.0; 5.5, 9.0 |]
    let factors = centres |> Array.mapi (fun k (x, y) -> torusBump L x y (0.9 + 0.2 * float k))
    let weights = [| -2.0; -1.8; -1.5; -1.2; -1.0 |]
    let t = LowRankTensor(weights, factors)
    let result = Cp.decompose { CpOptions.defaults with Rank = 5; Sweeps = 20 } t ignore
    assertRecovers weights factors result 1e-6 1e-4

[<Fact>]
let ``CP factors of the NLGP cumulant are negative and localised, and the clone has no comparable component`` () =
    let L = 48
    let spec = DataSpec(Dim = 1, Size = L, Xi0 = 1.0, Xi1 = 3.0, Gain = 10.0).Validate()
    let task = NlgpTask spec
    let sets = SampleSet.drawClasses task [| InputKind.Nlgp; InputKind.Gp |] 8000 1
    let tensorOf (kind: int) = CumulantTensor([| 0.5, Contraction(sets.[kind].[0]); 0.5, Contraction(sets.[kind].[1]) |])
    let nlgp = Cp.decompose { CpOptions.defaults with Rank = 3 } (tensorOf 0) ignore
    for r in 0 .. 2 do
        Assert.True(nlgp.Weights[r] < 0.0)
        let u = nlgp.Factors[r]
        let ipr = Array.sumBy (fun x -> x ** 4.0) u / (Array.sumBy (fun x -> x * x) u ** 2.0)
        // Participation number 1 / IPR below 8 of the 48 pixels, and 90% of the energy within 8 pixels of the peak.
        Assert.True(ipr > 1.0 / 8.0, sprintf "factor %d: IPR %g" r ipr)
        let peak = u |> Array.mapi (fun i x -> i, abs x) |> Array.maxBy snd |> fst
        let near = u |> Array.mapi (fun i x -> if min (abs (i - peak)) (L - abs (i - peak)) <= 8 then x * x else 0.0) |> Array.sum
        Assert.True(near > 0.9, sprintf "factor %d: energy fraction near the peak %g" r near)
    // Dimensionless comparison: the excess kurtosis of u.x, DeltaT(u,u,u,u) / (u^T S u)^2 with S the exact
    // class-averaged covariance. On the clone the cumulant is sampling noise: the excess kurtosis estimate of a fixed
    // direction has standard error sqrt(24 / N) for Gaussian data, and the largest component is the best of a few
    // dozen directions, so it stays within 5 such errors; the NLGP factors are far beyond.
    let variance (u: float[]) =
        let mutable v = 0.0
        for a in 0 .. 1 do
            let s = task.InputCovariance a
            for i in 0 .. L - 1 do
                for j in 0 .. L - 1 do
                    v <- v + 0.5 * u[i] * s[i * L + j] * u[j]
        v
    let kurtosis (result: CpResult) r = result.Weights[r] / (variance result.Factors[r] ** 2.0)
    let clone = Cp.decompose { CpOptions.defaults with Rank = 1 } (tensorOf 1) ignore
    let se = sqrt (24.0 / 8000.0)
    Assert.True(abs (kurtosis clone 0) < 5.0 * se, sprintf "clone: excess kurtosis %g (standard error %g)" (kurtosis clone 0) se)
    for r in 0 .. 2 do
        Assert.True(kurtosis nlgp r < -20.0 * se, sprintf "NLGP factor %d: excess kurtosis %g" r (kurtosis nlgp r))
