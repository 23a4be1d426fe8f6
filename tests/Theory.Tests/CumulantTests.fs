/// Contractions of the fourth moment and of the fourth cumulant on fixed sample sets (SCIENCE.md section 5).
module Theory.Tests.CumulantTests

open System
open Xunit
open FsCheck
open FsCheck.FSharp
open Theory.Interop
open Theory.Simulation.Data
open Theory.Cumulants

let private spec1d size gain =
    DataSpec(Dim = 1, Size = size, Xi0 = 1.0, Xi1 = 3.0, Gain = gain).Validate()

let private contractExplicit (t: ISymmetricTensor) (w: float[]) =
    let r = Array.zeroCreate t.D
    let v = t.Contract(w, r)
    r, v

/// Standard error of a statistic computed on B disjoint batches of a sample set (batch means): the spread of the
/// batch values divided by sqrt B. The statistic is a smooth function of sample means, so this is its sampling
/// error up to O(1/N).
let private batchStatistic (s: SampleSet) (batches: int) (stat: SampleSet -> float[]) =
    let per = s.N / batches
    let values =
        Array.init batches (fun b -> stat (SampleSet(s.D, per, s.X[b * per * s.D .. (b + 1) * per * s.D - 1], s.Kind, s.Class)))
    let m = values[0].Length
    let mean = Array.init m (fun i -> values |> Array.averageBy (fun v -> v[i]))
    let se =
        Array.init m (fun i ->
            let var = values |> Array.sumBy (fun v -> (v[i] - mean[i]) ** 2.0) |> fun x -> x / float (batches - 1)
            sqrt (var / float batches))
    stat s, se

[<Fact>]
let ``cumulant and fourth-moment contractions equal the explicit tensor contractions at small D`` () =
    let task = NlgpTask(spec1d 6 3.0)
    let s = SampleSet.draw task InputKind.Nlgp 1 400 7
    let explicitCumulant = ExplicitTensor.CumulantOf s :> ISymmetricTensor
    // Explicit fourth moment T_ijkl = <x_i x_j x_k x_l>, entry by entry.
    let d = s.D
    let t4 = Array.zeroCreate<float> (d * d * d * d)
    for k in 0 .. s.N - 1 do
        let x = s.RowCopy k
        for i in 0 .. d - 1 do
            for j in 0 .. d - 1 do
                for l in 0 .. d - 1 do
                    for m in 0 .. d - 1 do
                        t4[((i * d + j) * d + l) * d + m] <- t4[((i * d + j) * d + l) * d + m] + x[i] * x[j] * x[l] * x[m] / float s.N
    let explicitFourth = ExplicitTensor(d, t4) :> ISymmetricTensor
    let c = Contraction s
    let gen = Gen.arrayOfLength d (Gen.choose (-1000, 1000) |> Gen.map (fun k -> float k / 300.0))
    let prop (w: float[]) =
        let r1 = Array.zeroCreate d
        let v1 = c.Cumulant(w, r1)
        let e1, ev1 = contractExplicit explicitCumulant w
        let r2 = Array.zeroCreate d
        let v2 = c.Fourth(w, r2)
        let e2, ev2 = contractExplicit explicitFourth w
        // The contraction sums in single precision within blocks of 256 samples (relative error at most about
        // (D + 256) 2^-24 = 1.6e-5 of the largest term, the fourth moment); the explicit tensor is exact in double.
        let scale = 2e-5 * (Array.map abs e2 |> Array.max |> max (abs ev2))
        let close (a: float[]) (b: float[]) = Array.forall2 (fun x y -> abs (x - y) <= scale) a b
        close r1 e1 && abs (v1 - ev1) <= scale && close r2 e2 && abs (v2 - ev2) <= scale
    Check.One(Config.QuickThrowOnFailure.WithMaxTest 30, Prop.forAll (Arb.fromGen gen) prop)

[<Fact>]
let ``contractions are bitwise reproducible and independent of the thread schedule`` () =
    let task = NlgpTask(spec1d 24 10.0)
    let a = SampleSet.draw task InputKind.Nlgp 0 3000 11
    let b = SampleSet.draw task InputKind.Nlgp 0 3000 11
    Assert.Equal<float32[]>(a.X, b.X)
    let w = Array.init 24 (fun i -> sin (float i))
    let r1, r2 = Array.zeroCreate 24, Array.zeroCreate 24
    let v1 = (Contraction a).Cumulant(w, r1)
    // Two contractions at once compete for the thread pool; the blocks are still summed in a fixed order.
    let other = Threading.Tasks.Task.Run(fun () -> (Contraction a).Cumulant(w, Array.zeroCreate 24))
    let v2 = (Contraction b).Cumulant(w, r2)
    Assert.Equal(v1, other.Result)
    Assert.Equal(v1, v2)
    Assert.Equal<float[]>(r1, r2)

[<Fact>]
let ``the fourth cumulant vanishes within sampling error on the Gaussian clone and is negative on the NLGP`` () =
    let task = NlgpTask(spec1d 16 10.0)
    let n = 40_000
    let sets = SampleSet.drawClasses task [| InputKind.Nlgp; InputKind.Gp |] n 3
    let bump c = Array.init 16 (fun i -> exp (-(float (min (abs (i - c)) (16 - abs (i - c)))) ** 2.0 / 4.0))
    let random = let r = Rng(5UL, 0UL) in Array.init 16 (fun _ -> r.NextGaussian())
    for w in [ bump 3; random; Array.create 16 1.0 ] do
        for a in 0 .. 1 do
            // Statistic: the vector DeltaT(w,w,w) and the scalar DeltaT(w,w,w,w), appended.
            let stat (s: SampleSet) =
                let r = Array.zeroCreate 16
                let v = (Contraction s).Cumulant(w, r)
                Array.append r [| v |]
            let clone, cloneSe = batchStatistic (sets[1].[a]) 20 stat
            // 17 statistics, batch-means errors with 19 degrees of freedom: |z| < 5 fails with probability < 1e-3.
            for i in 0 .. clone.Length - 1 do
                let z = clone[i] / cloneSe[i]
                Assert.True(abs z < 5.0, sprintf "clone class %d statistic %d: %g (z = %.2f)" a i clone[i] z)
            let nlgp, nlgpSe = batchStatistic (sets[0].[a]) 20 stat
            let z = nlgp[16] / nlgpSe[16]
            Assert.True(z < -10.0, sprintf "NLGP class %d: DeltaT(w,w,w,w) = %g should be clearly negative (z = %.1f)" a nlgp[16] z)

/// Composite Gauss-Legendre nodes and weights for a standard normal variable: [-9, 9] split at -1, 0, 1 so that the
/// steep part of erf(g z / sqrt 2) near 0 (width ~ 1/g) is resolved; weights include the normal density.
let private normalRule =
    lazy
        ([ -9.0, -1.0; -1.0, 0.0; 0.0, 1.0; 1.0, 9.0 ]
         |> List.map (fun (a, b) ->
             let r = MathNet.Numerics.Integration.GaussLegendreRule(a, b, 256)
             Array.zip r.Abscissas (Array.map2 (fun x w -> w * exp (-x * x / 2.0) / sqrt (2.0 * Math.PI)) r.Abscissas r.Weights))
         |> Array.concat)

/// E[x_1^p x_2^q] for two NLGP pixels whose latent fields have covariance [[v, c]; [c, v]], by tensor-product
/// quadrature over independent normals e1, e2 with z1 = sqrt v e1, z2 = (c / sqrt v) e1 + sqrt(v - c^2/v) e2.
let private nlgpPairMoment (gain: float) (v: float) (c: float) (p: int) (q: int) =
    let scale = 1.0 / sqrt (Nlgp.Gamma gain)
    let pixel z = MathNet.Numerics.SpecialFunctions.Erf(gain * z / sqrt 2.0) * scale
    let a11, a21, a22 = sqrt v, c / sqrt v, sqrt (v - c * c / v)
    let rule = normalRule.Value
    let mutable s = 0.0
    for e1, w1 in rule do
        let x1 = pixel (a11 * e1) ** float p
        if q = 0 then s <- s + w1 * x1
        else
            for e2, w2 in rule do
                s <- s + w1 * w2 * x1 * (pixel (a21 * e1 + a22 * e2) ** float q)
    s

[<Fact>]
let ``the sampled cumulant matches the exact NLGP fourth cumulant of one and of two pixels`` () =
    let gain = 10.0
    let spec = spec1d 12 gain
    let task = NlgpTask spec
    let s = SampleSet.draw task InputKind.Nlgp 1 200_000 17
    let v = 1.0 + spec.Jitter
    // One pixel: DeltaT_iiii = E x^4 - 3 (E x^2)^2 (excess kurtosis times variance^2).
    let m2 = nlgpPairMoment gain v 0.0 2 0
    let m4 = nlgpPairMoment gain v 0.0 4 0
    let exact1 = m4 - 3.0 * m2 * m2
    // SCIENCE.md section 1 (derived): excess kurtosis -1.93 at g = 10.
    Assert.InRange(m4 / (m2 * m2) - 3.0, -1.935, -1.925)
    // Two pixels at distance 1 in class 1 (xi = 3): w = e_0 + e_1, so DeltaT(w,w,w,w) = sum of the 16 entries
    // over {0,1}^4 = k(4,0) + 4 k(3,1) + 6 k(2,2) + 4 k(1,3) + k(0,4) with k the joint cumulants.
    let c = exp (-1.0 / 9.0)
    let mom p q = nlgpPairMoment gain v c p q
    let s11, s20 = mom 1 1, mom 2 0
    let k40 = mom 4 0 - 3.0 * s20 * s20
    let k31 = mom 3 1 - 3.0 * s20 * s11
    let k22 = mom 2 2 - s20 * s20 - 2.0 * s11 * s11
    let exact2 = 2.0 * k40 + 8.0 * k31 + 6.0 * k22
    let one = Array.init 12 (fun i -> if i = 0 then 1.0 else 0.0)
    let two = Array.init 12 (fun i -> if i <= 1 then 1.0 else 0.0)
    for w, exact in [ one, exact1; two, exact2 ] do
        let estimate, se = batchStatistic s 25 (fun set -> [| (Contraction set).Cumulant(w, Array.zeroCreate 12) |])
        let z = (estimate[0] - exact) / se[0]
        Assert.True(abs z < 5.0, sprintf "DeltaT(w,w,w,w) = %g, exact %g, z = %.2f" estimate[0] exact z)
