/// The univariate and bivariate normal distribution functions to double precision.
module Theory.Gaussian.Normal

open System
open System.Runtime.CompilerServices

/// 1 / sqrt(2 pi).
[<Literal>]
let InvSqrt2Pi = 0.39894228040143267794

/// sqrt(2 / pi).
[<Literal>]
let Sqrt2OverPi = 0.79788456080286535588

[<Literal>]
let private InvSqrt2 = 0.70710678118654752440

[<Literal>]
let private TwoPi = 6.28318530717958647693

/// Standard normal density phi(x).
let inline pdf (x: float) = InvSqrt2Pi * exp (-0.5 * x * x)

// erfcx(x) = exp(x^2) erfc(x) for 0 <= x <= 28 as piecewise polynomials in t = (x - 4)/(x + 4): four pieces
// covering t in [-1, 0.75], each a polynomial of degree 11-13 in the local variable s in [-1, 1] (Horner form, one
// fused multiply-add per term). The coefficients were computed for this project: Chebyshev interpolation of erfcx
// evaluated with 50-digit arithmetic, converted to monomials in s; the double-precision evaluation is accurate to
// 2 ulp (checked at random points against the high-precision values, and in the tests against 30-digit values and
// an independent erfc). Beyond x = 28 (erfc(x) < 1e-341) an asymptotic series is used.
let private erfcxPieces: float[][] =
    [|
       // t in [-1, -0.5]
       [|
           0.5808253212251933; -0.303398399987596; 0.09115139997916151
           -0.020568857151156406; 0.0035470173186521853; -0.00046285948300641154
           4.357952369614887e-05; -2.5448622644102218e-06; 2.947971400451028e-08
           8.520012933558685e-09; -5.148862045805022e-10; -2.1537070346839105e-11
           2.921797476625384e-12 |]
       // t in [-0.5, 0]
       [|
           0.21849873453703333; -0.10186910888672335; 0.02467260238811653
           -0.0050693499984247594; 0.0008805489647849252; -0.0001277781608036353
           1.510547906412544e-05; -1.379631700938859e-06; 8.475495483933356e-08
           -1.5526747371469259e-09; -2.9704280298498045e-10; 2.8578044642733358e-11
           7.239705839713575e-14; -1.7257938684983256e-13 |]
       // t in [0, 0.375]
       [|
           0.09515211891412836; -0.03597174572642443; 0.005121267318344422
           -0.0006664390601154324; 7.86932546244654e-05; -8.343738323771229e-06
           7.820279836318653e-07; -6.317467653235892e-08; 4.199691839128896e-09
           -2.0633058010043702e-10; 4.752159003712638e-12; 2.9766975879104633e-13
           -3.656052992906911e-14 |]
       // t in [0.375, 0.75]
       [|
           0.03939721494414522; -0.021507561056516154; 0.002495641184997667
           -0.00027439759394972714; 2.843251628966866e-05; -2.7568258879043195e-06
           2.4774219171069836e-07; -2.035342477568626e-08; 1.4966529603005988e-09
           -9.4926245975184e-11; 4.787538273519421e-12; -1.456782717728354e-13 |] |]

let private erfcxCentres = [| -0.75; -0.25; 0.1875; 0.5625 |]
let private erfcxHalfWidths = [| 0.25; 0.25; 0.1875; 0.1875 |]

/// erfcx(x) = exp(x^2) erfc(x) for x >= 0.
[<MethodImpl(MethodImplOptions.AggressiveOptimization)>]
let erfcxPositive (x: float) =
    if x > 28.0 then
        // 1/(x sqrt pi) (1 - 1/(2x^2) + 3/(2x^2)^2 - 15/(2x^2)^3 + ...), seven terms: 1e-17 relative at x = 28.
        let z = 1.0 / (2.0 * x * x)
        let series =
            1.0 - z * (1.0 - 3.0 * z * (1.0 - 5.0 * z * (1.0 - 7.0 * z * (1.0 - 9.0 * z * (1.0 - 11.0 * z * (1.0 - 13.0 * z))))))
        series * 0.56418958354775628695 / x
    else
        let t = (x - 4.0) / (x + 4.0)
        let piece = if t < -0.5 then 0 elif t < 0.0 then 1 elif t < 0.375 then 2 else 3
        let c = erfcxPieces[piece]
        let s = (t - erfcxCentres[piece]) / erfcxHalfWidths[piece]
        let mutable r = c[c.Length - 1]
        for j = c.Length - 2 downto 0 do
            r <- Math.FusedMultiplyAdd(r, s, c[j])
        r

/// exp(-x^2 / 2) with x^2 split exactly (fused multiply-add) so that the relative error stays at rounding level in
/// the tails (a plain exp(-0.5 x x) loses x^2 ulps there).
let inline private expHalfSquare (x: float) =
    let p = x * x
    let e = Math.FusedMultiplyAdd(x, x, -p)
    exp (-0.5 * p) * (1.0 - 0.5 * e)

/// exp(-x^2), with the same exact split of x^2.
let inline private expSquare (x: float) =
    let p = x * x
    let e = Math.FusedMultiplyAdd(x, x, -p)
    exp (-p) * (1.0 - e)

/// Standard normal CDF Phi(x), to about 1e-16 absolute and relative in both tails (erfcx series above).
[<MethodImpl(MethodImplOptions.AggressiveOptimization)>]
let cdf (x: float) =
    if Double.IsNaN x then nan
    elif x < -38.5 then 0.0
    elif x > 8.3 then 1.0
    elif x <= 0.0 then 0.5 * expHalfSquare x * erfcxPositive (-x * InvSqrt2)
    else 1.0 - 0.5 * expHalfSquare x * erfcxPositive (x * InvSqrt2)

/// erfc(x) = 2 Phi(-x sqrt 2) (fast; see `cdf`).
[<MethodImpl(MethodImplOptions.AggressiveOptimization)>]
let erfc (x: float) =
    if Double.IsNaN x then nan
    elif x >= 0.0 then (if x > 27.3 then 0.0 else expSquare x * erfcxPositive x)
    else 2.0 - (if x < -6.0 then 0.0 else expSquare x * erfcxPositive -x)

/// erf(x) = 1 - erfc(x) (absolute accuracy ~1e-16; fast; see `cdf`).
let erf (x: float) = if x >= 0.0 then 1.0 - erfc x else erfc -x - 1.0

/// log Phi(x), accurate far into the lower tail (asymptotic series below x = -30).
let logCdf (x: float) =
    if x > -30.0 then
        log (cdf x)
    else
        let z2 = 1.0 / (x * x)
        -0.5 * x * x - log (-x) - 0.5 * log TwoPi + log (1.0 - z2 * (1.0 - 3.0 * z2 * (1.0 - 5.0 * z2)))

// Gauss-Legendre rules for the Drezner-Wesolowsky integral over the correlation angle: fewer nodes suffice for
// small |r| (Genz 2004 uses the same 6/12/20 split and reports double precision throughout).
let private rule6 = Quadrature.gaussLegendre 6
let private rule12 = Quadrature.gaussLegendre 12
let private rule20 = Quadrature.gaussLegendre 20

/// |r| below this: integrate over theta = asin r; above: integrate the remaining distance to r = 1.
[<Literal>]
let private NearOne = 0.925

/// Phi2(h, k; r) for r >= NearOne:
///   Phi2 = Phi(min(h, k)) - (1/2pi) int_0^a exp(-((h-k)^2 + 2hk(1-s))/(2x^2)) / s dx,  s = sqrt(1-x^2), a = sqrt(1-r^2),
/// (substituting rho = s in int_r^1 phi2(h,k;rho) drho). With beta = |h-k| the integrand is
/// exp(-beta^2/(2x^2) - hk/2) f(x^2), f(u) = exp(-hk u/(2(1+s)^2)) / s = 1 + c u + c d u^2 + O(u^3), with
/// c = (4 - hk)/8, c d = (4 - hk)(12 - hk)/128. The quadratic part is integrated exactly,
///   E_n = int_0^a x^2n exp(-beta^2/(2x^2)) dx,  E_0 = a e_a - beta sqrt(2pi) Phi(-beta/a),
///   (2n+1) E_n = a^(2n+1) e_a - beta^2 E_(n-1),  e_a = exp(-beta^2/(2a^2)),
/// and the O(x^6) remainder, which is smooth, by 20-point Gauss-Legendre.
[<MethodImpl(MethodImplOptions.AggressiveOptimization)>]
let private nearOne (pMin: float) (h: float) (k: float) (r: float) =
    let a = sqrt ((1.0 - r) * (1.0 + r))
    let hk = h * k
    let beta = abs (h - k)
    let b2 = beta * beta
    let c = (4.0 - hk) / 8.0
    let d = (12.0 - hk) / 16.0
    // exp(-hk/2) E_n, with the exponents combined: beta^2/a^2 + hk >= h^2 - hk + k^2 >= 0, so nothing overflows.
    let ea = exp (-0.5 * (b2 / (a * a) + hk))
    let tail = if beta = 0.0 then 0.0 else beta * sqrt TwoPi * exp (-0.5 * hk + logCdf (-beta / a))
    let e0 = a * ea - tail
    let e1 = (a * a * a * ea - b2 * e0) / 3.0
    let e2 = (a * a * a * a * a * ea - b2 * e1) / 5.0
    let mutable sum = e0 + c * e1 + c * d * e2
    let half = 0.5 * a
    let nodes = rule20.Nodes
    let weights = rule20.Weights
    for i in 0 .. nodes.Length - 1 do
        let x = half * (1.0 + nodes[i])
        let u = x * x
        let s = sqrt ((1.0 - x) * (1.0 + x))
        let f = exp (-0.5 * hk * u / ((1.0 + s) * (1.0 + s))) / s
        let g = exp (-0.5 * (b2 / u + hk))
        sum <- sum + half * weights[i] * g * (f - (1.0 + c * u * (1.0 + d * u)))
    pMin - sum / TwoPi

/// `bivariateCdfWith` for h <= k.
[<MethodImpl(MethodImplOptions.AggressiveOptimization)>]
let private bivariateCdfOrdered (ph: float) (pk: float) (h: float) (k: float) (r: float) : float =
    if r >= 1.0 then
        min ph pk
    elif r <= -1.0 then
        max 0.0 (ph + pk - 1.0)
    elif r = 0.0 then
        ph * pk
    else
        let ar = abs r
        let value =
            if ar < NearOne then
                let rule = if ar < 0.3 then rule6 elif ar < 0.75 then rule12 else rule20
                let half = 0.5 * asin r
                let hs = 0.5 * (h * h + k * k)
                let hk = h * k
                let nodes = rule.Nodes
                let weights = rule.Weights
                let mutable sum = 0.0
                for i in 0 .. nodes.Length - 1 do
                    let sn = sin (half * (1.0 + nodes[i]))
                    sum <- sum + weights[i] * exp ((hk * sn - hs) / ((1.0 - sn) * (1.0 + sn)))
                ph * pk + half * sum / TwoPi
            elif r > 0.0 then
                nearOne (min ph pk) h k r
            else
                // Reflection: Phi2(h, k; r) = Phi(h) - Phi2(h, -k; -r), Phi(-k) = 1 - Phi(k).
                ph - nearOne (min ph (1.0 - pk)) h -k -r
        // Frechet bounds (the result is exact to rounding; this only removes -1e-17 style noise).
        max (max 0.0 (ph + pk - 1.0)) (min value (min ph pk))

/// Phi2(h, k; r) given ph = Phi(h) and pk = Phi(k) (callers that evaluate many pairs of the same arguments cache
/// the marginals); h and k must already lie in [-40, 40]. See `bivariateCdf`. Phi2 is symmetric in (h, k); it is
/// evaluated with h <= k, so the result is exactly symmetric (the reflection used for r near -1 treats its two
/// arguments differently, which otherwise leaves a difference of an ulp).
let bivariateCdfWith (ph: float) (pk: float) (h: float) (k: float) (r: float) : float =
    if h > k then bivariateCdfOrdered pk ph k h r else bivariateCdfOrdered ph pk h k r

// sin x on |x| <= pi/2 as x P(x^2), P the Taylor polynomial of degree 11 in x^2 (the first omitted term is below
// 6e-21 there): 1 / (2j + 1)! with alternating signs.
let private sinCoefficients =
    let c = Array.zeroCreate 12
    let mutable factorial = 1.0
    for j in 0 .. 11 do
        if j > 0 then factorial <- factorial * float (2 * j) * float (2 * j + 1)
        c[j] <- (if j % 2 = 0 then 1.0 else -1.0) / factorial
    c

let private sinCoefficientVectors = sinCoefficients |> Array.map (fun c -> Numerics.Vector<float>(c))

/// sin of the first `count` values, in place, for arguments in [-pi/2, pi/2] (here: correlation angles, |theta| <=
/// asin 0.925), to a few ulp. Why not `TensorPrimitives.Sin`: its results change in the last bits when the JIT
/// recompiles it at a higher tier during a run (measured: 23 of 30,000 values), which made two runs of one
/// configuration differ. Here every value is the same sequence of IEEE multiplications and additions (the JIT never
/// fuses them), in the vector loop and in the scalar tail alike, so results do not depend on tier, alignment or
/// position.
[<MethodImpl(MethodImplOptions.AggressiveOptimization)>]
let sinSmallInPlace (values: float[]) (count: int) =
    let c = sinCoefficients
    let cv = sinCoefficientVectors
    let w = Numerics.Vector<float>.Count
    let mutable i = 0
    if Numerics.Vector.IsHardwareAccelerated then
        while i + w <= count do
            let x = Numerics.Vector<float>(values, i)
            let s = x * x
            let mutable p = cv[11]
            for j in 10 .. -1 .. 0 do
                p <- p * s + cv[j]
            (x * p).CopyTo(values, i)
            i <- i + w
    while i < count do
        let x = values[i]
        let s = x * x
        let mutable p = c[11]
        for j in 10 .. -1 .. 0 do
            p <- p * s + c[j]
        values[i] <- x * p
        i <- i + 1

/// Clamps an argument of the CDFs to [-40, 40], beyond which they are exactly 0 or 1 in double precision.
let inline clampArgument (x: float) = max -40.0 (min 40.0 x)

/// Bivariate standard normal CDF Phi2(h, k; r) = P(X <= h, Y <= k) for unit-variance X, Y with correlation r,
/// to about 1e-15 absolute. For |r| < 0.925 (Drezner and Wesolowsky 1990):
///   Phi2 = Phi(h) Phi(k) + (1/2pi) int_0^asin(r) exp(-(h^2 + k^2 - 2hk sin t) / (2 cos^2 t)) dt
/// by 6/12/20-point Gauss-Legendre; for |r| >= 0.925 the distance to r = +-1 is integrated with the singular part
/// handled in closed form (see `nearOne`); r < 0 there uses Phi2(h,k;r) = Phi(h) - Phi2(h,-k;-r).
let bivariateCdf (h: float) (k: float) (r: float) : float =
    if Double.IsNaN h || Double.IsNaN k || Double.IsNaN r then
        nan
    else
        let h = clampArgument h
        let k = clampArgument k
        bivariateCdfWith (cdf h) (cdf k) h k r

/// Many bivariate normal CDFs evaluated together: the sines and exponentials at the quadrature nodes of all of them
/// go through the vectorised `TensorPrimitives` kernels. Same algorithm and accuracy as `bivariateCdfWith`.
/// Use: `Clear`, `Add` each (Phi(h), Phi(k), h, k, r) (h, k clamped), `Compute`, then `Result i`. Not thread-safe.
type BivariateBatch(capacity: int) =
    let ph: float[] = Array.zeroCreate capacity
    let pk: float[] = Array.zeroCreate capacity
    let hh: float[] = Array.zeroCreate capacity
    let kk: float[] = Array.zeroCreate capacity
    let rr: float[] = Array.zeroCreate capacity
    let result: float[] = Array.zeroCreate capacity
    // Gauss-Legendre pairs (|r| < NearOne): node segment [glStart, glStart + rule length) of the node buffer.
    let glPair: int[] = Array.zeroCreate capacity
    let glHalf: float[] = Array.zeroCreate capacity
    let glRule: Quadrature.Rule[] = Array.zeroCreate capacity
    let glStart: int[] = Array.zeroCreate capacity
    let glNodes: float[] = Array.zeroCreate (capacity * 20)
    // Near-one pairs: 20 nodes each.
    let noPair: int[] = Array.zeroCreate capacity
    let noReflect: bool[] = Array.zeroCreate capacity
    let noPartial: float[] = Array.zeroCreate capacity // pMin - (analytic part)/2pi
    let noC: float[] = Array.zeroCreate capacity
    let noD: float[] = Array.zeroCreate capacity
    let noHalf: float[] = Array.zeroCreate capacity
    let noU: float[] = Array.zeroCreate (capacity * 20)
    let noS: float[] = Array.zeroCreate (capacity * 20)
    let noArg1: float[] = Array.zeroCreate (capacity * 20)
    let noArg2: float[] = Array.zeroCreate (capacity * 20)
    let mutable count = 0
    let mutable glCount = 0
    let mutable glUsed = 0
    let mutable noCount = 0

    member _.Count = count
    member _.Clear() =
        count <- 0

    /// Queues Phi2(h, k; r) given ph = Phi(h), pk = Phi(k) (h, k already clamped to [-40, 40]); returns its index.
    member _.Add(phv: float, pkv: float, h: float, k: float, r: float) =
        let i = count
        // Stored with h <= k, as `bivariateCdfWith` evaluates them (exact symmetry, the same result).
        let swap = h > k
        ph[i] <- (if swap then pkv else phv)
        pk[i] <- (if swap then phv else pkv)
        hh[i] <- (if swap then k else h)
        kk[i] <- (if swap then h else k)
        rr[i] <- r
        count <- count + 1
        i

    member _.Result(i: int) = result[i]

    [<MethodImpl(MethodImplOptions.AggressiveOptimization)>]
    member _.Compute() =
        glCount <- 0
        glUsed <- 0
        noCount <- 0
        for i in 0 .. count - 1 do
            let r = rr[i]
            let ar = abs r
            if r >= 1.0 then result[i] <- min ph[i] pk[i]
            elif r <= -1.0 then result[i] <- max 0.0 (ph[i] + pk[i] - 1.0)
            elif r = 0.0 then result[i] <- ph[i] * pk[i]
            elif ar < NearOne then
                let rule = if ar < 0.3 then rule6 elif ar < 0.75 then rule12 else rule20
                let half = 0.5 * asin r
                let j = glCount
                glPair[j] <- i
                glHalf[j] <- half
                glRule[j] <- rule
                glStart[j] <- glUsed
                for q in 0 .. rule.Nodes.Length - 1 do
                    glNodes[glUsed + q] <- half * (1.0 + rule.Nodes[q])
                glUsed <- glUsed + rule.Nodes.Length
                glCount <- glCount + 1
            else
                // nearOne of (h, k, r), or of (h, -k, -r) for r < 0 (then Phi2 = Phi(h) - that).
                let reflect = r < 0.0
                let h = hh[i]
                let k = if reflect then -kk[i] else kk[i]
                let r = abs r
                let pMin = if reflect then min ph[i] (1.0 - pk[i]) else min ph[i] pk[i]
                let a = sqrt ((1.0 - r) * (1.0 + r))
                let hk = h * k
                let beta = abs (h - k)
                let b2 = beta * beta
                let c = (4.0 - hk) / 8.0
                let d = (12.0 - hk) / 16.0
                let ea = exp (-0.5 * (b2 / (a * a) + hk))
                let tail = if beta = 0.0 then 0.0 else beta * sqrt TwoPi * exp (-0.5 * hk + logCdf (-beta / a))
                let e0 = a * ea - tail
                let e1 = (a * a * a * ea - b2 * e0) / 3.0
                let e2 = (a * a * a * a * a * ea - b2 * e1) / 5.0
                let j = noCount
                noPair[j] <- i
                noReflect[j] <- reflect
                noPartial[j] <- pMin - (e0 + c * e1 + c * d * e2) / TwoPi
                noC[j] <- c
                noD[j] <- d
                let half = 0.5 * a
                noHalf[j] <- half
                let o = j * 20
                for q in 0 .. 19 do
                    let x = half * (1.0 + rule20.Nodes[q])
                    let u = x * x
                    let s = sqrt ((1.0 - x) * (1.0 + x))
                    noU[o + q] <- u
                    noS[o + q] <- s
                    noArg1[o + q] <- -0.5 * hk * u / ((1.0 + s) * (1.0 + s))
                    noArg2[o + q] <- -0.5 * (b2 / u + hk)
                noCount <- noCount + 1
        if glCount > 0 then
            let nodes = Span(glNodes, 0, glUsed)
            sinSmallInPlace glNodes glUsed
            for j in 0 .. glCount - 1 do
                let i = glPair[j]
                let hs = 0.5 * (hh[i] * hh[i] + kk[i] * kk[i])
                let hk = hh[i] * kk[i]
                let o = glStart[j]
                for q in 0 .. glRule[j].Nodes.Length - 1 do
                    let sn = glNodes[o + q]
                    glNodes[o + q] <- (hk * sn - hs) / ((1.0 - sn) * (1.0 + sn))
            System.Numerics.Tensors.TensorPrimitives.Exp(ReadOnlySpan(glNodes, 0, glUsed), nodes)
            for j in 0 .. glCount - 1 do
                let i = glPair[j]
                let rule = glRule[j]
                let o = glStart[j]
                let mutable sum = 0.0
                for q in 0 .. rule.Nodes.Length - 1 do
                    sum <- sum + rule.Weights[q] * glNodes[o + q]
                let value = ph[i] * pk[i] + glHalf[j] * sum / TwoPi
                result[i] <- max (max 0.0 (ph[i] + pk[i] - 1.0)) (min value (min ph[i] pk[i]))
        if noCount > 0 then
            let used = noCount * 20
            System.Numerics.Tensors.TensorPrimitives.Exp(ReadOnlySpan(noArg1, 0, used), Span(noArg1, 0, used))
            System.Numerics.Tensors.TensorPrimitives.Exp(ReadOnlySpan(noArg2, 0, used), Span(noArg2, 0, used))
            for j in 0 .. noCount - 1 do
                let i = noPair[j]
                let c = noC[j]
                let d = noD[j]
                let o = j * 20
                let mutable sum = 0.0
                for q in 0 .. 19 do
                    let u = noU[o + q]
                    let f = noArg1[o + q] / noS[o + q]
                    sum <- sum + rule20.Weights[q] * noArg2[o + q] * (f - (1.0 + c * u * (1.0 + d * u)))
                let near = noPartial[j] - noHalf[j] * sum / TwoPi
                let value = if noReflect[j] then ph[i] - near else near
                result[i] <- max (max 0.0 (ph[i] + pk[i] - 1.0)) (min value (min ph[i] pk[i]))
