/// Closed-form Gaussian expectations for the activation g(x) = erf(x / sqrt 2), g'(x) = sqrt(2/pi) exp(-x^2/2),
/// g''(x) = -x g'(x) (SCIENCE.md section 4). Arguments are covariance entries C_ij of the fields involved
/// (1-based as in SCIENCE.md) and, for the forms with means, the means.
module Theory.Gaussian.Erf

open System
open System.Runtime.CompilerServices

[<Literal>]
let private TwoOverPi = 0.63661977236758134308

[<Literal>]
let private FourOverPi2 = 0.40528473456935108578

/// g(x) = erf(x / sqrt 2) = 2 Phi(x) - 1 (absolute accuracy ~1e-16).
let g (x: float) = if x >= 0.0 then 1.0 - 2.0 * Normal.cdf -x else 2.0 * Normal.cdf x - 1.0

/// g'(x) = sqrt(2/pi) exp(-x^2/2).
let gPrime (x: float) = Normal.Sqrt2OverPi * exp (-0.5 * x * x)

/// I2 = E[g(u) g(v)] = (2/pi) asin(C12 / sqrt((1+C11)(1+C22))) at zero mean.
let i2 (c11: float) (c12: float) (c22: float) = TwoOverPi * asin (c12 / sqrt ((1.0 + c11) * (1.0 + c22)))

/// J2 = E[g'(u) g'(v)] = (2/pi) / sqrt(1 + C11 + C22 + C11 C22 - C12^2) at zero mean (u = v: C12 = C11 = C22).
let j2 (c11: float) (c12: float) (c22: float) = TwoOverPi / sqrt (1.0 + c11 + c22 + c11 * c22 - c12 * c12)

/// I3 = E[g'(u) v g(w)] = (2/pi) (C23 (1+C11) - C12 C13) / ((1+C11) sqrt(L3)), L3 = (1+C11)(1+C33) - C13^2,
/// at zero mean.
let i3 (c11: float) (c12: float) (c13: float) (c23: float) (c33: float) =
    let l3 = (1.0 + c11) * (1.0 + c33) - c13 * c13
    TwoOverPi * (c23 * (1.0 + c11) - c12 * c13) / ((1.0 + c11) * sqrt l3)

/// I4 = E[g'(u) g'(v) g(w) g(z)] = (4/pi^2) asin(L0 / sqrt(L1 L2)) / sqrt(L4) at zero mean (SCIENCE.md section 4;
/// fields 1..4 = u, v, w, z).
let i4 (c11: float) (c12: float) (c13: float) (c14: float) (c22: float) (c23: float) (c24: float) (c33: float)
       (c34: float) (c44: float) =
    let l4 = (1.0 + c11) * (1.0 + c22) - c12 * c12
    let l0 = l4 * c34 - c23 * c24 * (1.0 + c11) - c13 * c14 * (1.0 + c22) + c12 * c13 * c24 + c12 * c14 * c23
    let l1 = l4 * (1.0 + c33) - c23 * c23 * (1.0 + c11) - c13 * c13 * (1.0 + c22) + 2.0 * c12 * c13 * c23
    let l2 = l4 * (1.0 + c44) - c24 * c24 * (1.0 + c11) - c14 * c14 * (1.0 + c22) + 2.0 * c12 * c14 * c24
    FourOverPi2 * asin (l0 / sqrt (l1 * l2)) / sqrt l4

/// E[g'(u)] = sqrt(2/pi) / sqrt(1 + C11) at zero mean.
let eGPrime (c11: float) = Normal.Sqrt2OverPi / sqrt (1.0 + c11)

// ---------------------------------------------------------------------------------------------------------------
// With means. erf(x/sqrt 2) = 2 Phi(x) - 1 and E[Phi(x)] = P(Z <= x) turn E[g] and E[g g] into Phi and Phi2;
// g' is a Gaussian factor, so E[g'(x_k) h(x)] = sqrt(2/pi) Z E'[h] under a tilted Gaussian (Woodbury).

/// E[g(x)] for x ~ N(m, c): 2 Phi(m / sqrt(1 + c)) - 1.
let meanG (m: float) (c: float) = 2.0 * Normal.cdf (m / sqrt (1.0 + c)) - 1.0

/// E[g'(x)] for x ~ N(m, c): sqrt(2/pi) exp(-m^2 / (2(1+c))) / sqrt(1 + c).
let meanGPrime (m: float) (c: float) = Normal.Sqrt2OverPi * exp (-0.5 * m * m / (1.0 + c)) / sqrt (1.0 + c)

/// E[g(x) g(y)] for (x, y) with means (m1, m2), variances c11, c22 and covariance c12 (for x = y pass c12 = c11 and
/// same = true): 4 Phi2(h1, h2; r) - 2 Phi(h1) - 2 Phi(h2) + 1 with h_i = m_i / sqrt(1 + c_ii) and
/// r = c12 / sqrt((1+c11)(1+c22)) (r = c11 / (1 + c11) for the same field, whose two Phi factors see independent
/// auxiliary normals).
let meanGG (m1: float) (m2: float) (c11: float) (c12: float) (c22: float) (same: bool) =
    let s1 = sqrt (1.0 + c11)
    let s2 = sqrt (1.0 + c22)
    let h1 = m1 / s1
    let h2 = m2 / s2
    let r = if same then c11 / (1.0 + c11) else c12 / (s1 * s2)
    4.0 * Normal.bivariateCdf h1 h2 r - 2.0 * Normal.cdf h1 - 2.0 * Normal.cdf h2 + 1.0

/// E[g'(x)^2 ... ] style tilts: the Gaussian N(mean, cov) multiplied by exp(-x_S^T A x_S / 2) for a set S of at most
/// two indices is again Gaussian. `tilt` writes the tilted mean and covariance into `meanOut`/`covOut` (n and n x n,
/// row-major) and returns the normaliser Z = E[exp(-x_S^T A x_S / 2)] = det(I + A C_SS)^(-1/2)
/// exp(-mu_S^T (A^-1 + C_SS)^-1 mu_S / 2). Cases: k = l with weight 1 (one g' factor: A = [1]), k = l with
/// weight 2 (g'(x_k)^2: A = [2]), k <> l (g'(x_k) g'(x_l): A = I_2).
///   C' = C - C_:S (A^-1 + C_SS)^-1 C_S:,   mu' = mu - C_:S (A^-1 + C_SS)^-1 mu_S.
[<MethodImpl(MethodImplOptions.AggressiveOptimization)>]
let tilt (n: int) (mean: float[]) (cov: float[]) (k: int) (l: int) (weight: float) (meanOut: float[]) (covOut: float[]) =
    if k = l then
        // (A^-1 + C_kk)^-1 = w / (1 + w C_kk).
        let tau = weight / (1.0 + weight * cov[k * n + k])
        let mk = mean[k]
        for i in 0 .. n - 1 do
            let cik = cov[i * n + k]
            meanOut[i] <- mean[i] - cik * tau * mk
            for j in 0 .. n - 1 do
                covOut[i * n + j] <- cov[i * n + j] - tau * cik * cov[k * n + j]
        exp (-0.5 * tau * mk * mk) / sqrt (1.0 + weight * cov[k * n + k])
    else
        let a11 = 1.0 + cov[k * n + k]
        let a22 = 1.0 + cov[l * n + l]
        let a12 = cov[k * n + l]
        let det = a11 * a22 - a12 * a12
        // (I + C_SS)^-1 = [[a22, -a12], [-a12, a11]] / det.
        let i11 = a22 / det
        let i22 = a11 / det
        let i12 = -a12 / det
        let mk = mean[k]
        let ml = mean[l]
        let ak = i11 * mk + i12 * ml
        let al = i12 * mk + i22 * ml
        for i in 0 .. n - 1 do
            let cik = cov[i * n + k]
            let cil = cov[i * n + l]
            meanOut[i] <- mean[i] - cik * ak - cil * al
            // Row i of C_:S (I + C_SS)^-1.
            let bk = cik * i11 + cil * i12
            let bl = cik * i12 + cil * i22
            for j in 0 .. n - 1 do
                covOut[i * n + j] <- cov[i * n + j] - bk * cov[k * n + j] - bl * cov[l * n + j]
        exp (-0.5 * (mk * ak + ml * al)) / sqrt det

/// E[g'(x_k) g'(x_l)] for fields with means: (2/pi) Z of the tilt (k, l) (k = l: g'(x_k)^2).
let meanGPrimeGPrime (mk: float) (ml: float) (ckk: float) (ckl: float) (cll: float) (same: bool) =
    if same then
        TwoOverPi * exp (-mk * mk / (1.0 + 2.0 * ckk)) / sqrt (1.0 + 2.0 * ckk)
    else
        let a11 = 1.0 + ckk
        let a22 = 1.0 + cll
        let det = a11 * a22 - ckl * ckl
        let q = (a22 * mk * mk - 2.0 * ckl * mk * ml + a11 * ml * ml) / det
        TwoOverPi * exp (-0.5 * q) / sqrt det

/// True when x is exactly representable as zero mean for the purposes of choosing the zero-mean closed forms.
let isZero (xs: float[]) = Array.forall (fun x -> x = 0.0) xs
