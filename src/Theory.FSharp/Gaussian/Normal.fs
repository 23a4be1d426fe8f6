/// The univariate and bivariate normal distribution functions to double precision.
module Theory.Gaussian.Normal

open System
open MathNet.Numerics

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

/// Standard normal CDF Phi(x) = erfc(-x / sqrt 2) / 2 (accurate in both tails).
let cdf (x: float) = 0.5 * SpecialFunctions.Erfc(-x * InvSqrt2)

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

/// Bivariate standard normal CDF Phi2(h, k; r) = P(X <= h, Y <= k) for unit-variance X, Y with correlation r,
/// to about 1e-15 absolute. For |r| < 0.925 (Drezner and Wesolowsky 1990):
///   Phi2 = Phi(h) Phi(k) + (1/2pi) int_0^asin(r) exp(-(h^2 + k^2 - 2hk sin t) / (2 cos^2 t)) dt
/// by 6/12/20-point Gauss-Legendre; for |r| >= 0.925 the distance to r = +-1 is integrated with the singular part
/// handled in closed form (see `nearOne`); r < 0 there uses Phi2(h,k;r) = Phi(h) - Phi2(h,-k;-r).
let bivariateCdf (h: float) (k: float) (r: float) : float =
    if Double.IsNaN h || Double.IsNaN k || Double.IsNaN r then
        nan
    else
        // Beyond |x| = 40 the CDFs are exactly 0 or 1 in double precision.
        let h = max -40.0 (min 40.0 h)
        let k = max -40.0 (min 40.0 k)
        let ph = cdf h
        let pk = cdf k
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
                    let mutable sum = 0.0
                    for i in 0 .. rule.Nodes.Length - 1 do
                        let sn = sin (half * (1.0 + rule.Nodes[i]))
                        sum <- sum + rule.Weights[i] * exp ((hk * sn - hs) / ((1.0 - sn) * (1.0 + sn)))
                    ph * pk + half * sum / TwoPi
                elif r > 0.0 then
                    nearOne (min ph pk) h k r
                else
                    // Phi(-k) = 1 - pk; min(Phi(h), Phi(-k)) for the reflected problem.
                    ph - nearOne (min ph (cdf -k)) h -k -r
            // Frechet bounds (the result is exact to rounding; this only removes -1e-17 style noise).
            max (max 0.0 (ph + pk - 1.0)) (min value (min ph pk))
