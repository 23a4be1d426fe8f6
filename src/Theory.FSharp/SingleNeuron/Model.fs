namespace Theory.SingleNeuron

/// One unit `y^ = sigma(w . x / sqrt D + b)` with the cubic activation `sigma(h) = alpha h - (beta/3) h^3` and a
/// fixed bias b, trained by gradient flow on the squared loss of the two-class NLGP task (SCIENCE.md section 5).
type NeuronSpec =
    { /// Linear coefficient alpha of sigma.
      Alpha: float
      /// Cubic coefficient beta of sigma (sigma = alpha h - (beta/3) h^3).
      Beta: float
      /// Fixed bias b. Its sign picks the class whose covariance drives the growth of w (see `Coefficients.c2`).
      Bias: float }

module NeuronSpec =
    /// alpha = beta = 1, b = 1: the long-range class (label -1) drives the growth of w, and the quartic coefficient
    /// c4 = 4/3 alpha beta - 10/3 beta^2 b^2 = -2 is negative, so that the negative (platykurtic) NLGP cumulant
    /// pushes towards localisation (see `Coefficients`).
    let defaults = { Alpha = 1.0; Beta = 1.0; Bias = 1.0 }

/// The coefficients of the single-neuron gradient flow truncated at fourth order in the inputs.
///
/// Derivation. With `u = w . x / sqrt D` the per-sample loss is `l = (1/2)(y - sigma(b + u))^2` and the gradient flow
/// is `dw/dt = -D grad_w L = sqrt D E[ f_y(u) x ]` with `f_y(u) = (y - sigma(b+u)) sigma'(b+u)` and
/// `L = sum_a P_a E_a[l]`. Time is SGD time: online SGD with learning rate eta,
/// `w += (eta / sqrt D) f_y(u) x` per sample, moves w by `eta sqrt D E[f x]` per D steps, so t here is
/// `eta x steps / D` (the small-learning-rate limit, without the SGD noise).
/// Expand sigma around the bias: `sigma(b + u) = s0 + s1 u + s2 u^2 + s3 u^3` with `s0 = alpha b - beta b^3 / 3`,
/// `s1 = alpha - beta b^2`, `s2 = -beta b`, `s3 = -beta / 3`; then `sigma'(b + u) = s1 + 2 s2 u + 3 s3 u^2` and
/// `f_y(u)` is a polynomial of degree 5 in u. Both classes are sign-symmetric (x and -x equally likely), so the
/// even powers of u drop out of `E[f(u) x]` and
///
///   f_y(u) -> c2^y u + c4 u^3 + c6 u^5,
///   c2^y = 2 s2 (y - s0) - s1^2 = -2 beta b (y - alpha b + beta b^3 / 3) - (alpha - beta b^2)^2,
///   c4   = -4 s1 s3 - 2 s2^2   = (4/3) alpha beta - (10/3) beta^2 b^2,
///   c6   = -3 s3^2            = -beta^2 / 3.
///
/// Truncating at fourth order in the inputs drops the u^5 term (sixth moments). With `E_a[u x] = C^a w / sqrt D`
/// and `E_a[u^3 x] = T^a(w,w,w) / D^(3/2)`:
///
///   dw/dt = sum_a P_a ( c2^a C^a w + (c4 / D) T^a(w,w,w) ),   T^a = 3 pairings of C^a + DeltaT^a.
///
/// The label enters only c2, and only through the bias: `c2^0 - c2^1 = -2 beta b (y_0 - y_1) = -4 beta b`. Without
/// a bias (and sigma odd) the drive is label-blind and `c2 = -alpha^2 < 0`: w decays. c4 never sees the label. The
/// NLGP cumulant is negative, so `c4 DeltaT` pushes w towards directions of large |kurtosis| (localised ones) when
/// c4 < 0, that is when `b^2 > (2/5) alpha / beta`.
module Coefficients =

    /// sigma(h) = alpha h - (beta/3) h^3.
    let sigma (n: NeuronSpec) (h: float) = n.Alpha * h - n.Beta / 3.0 * h * h * h

    /// sigma'(h) = alpha - beta h^2.
    let sigmaPrime (n: NeuronSpec) (h: float) = n.Alpha - n.Beta * h * h

    /// c2 for label y: `-2 beta b (y - alpha b + beta b^3 / 3) - (alpha - beta b^2)^2`.
    let c2 (n: NeuronSpec) (y: float) =
        let b = n.Bias
        let s0 = n.Alpha * b - n.Beta * b * b * b / 3.0
        let s1 = n.Alpha - n.Beta * b * b
        -2.0 * n.Beta * b * (y - s0) - s1 * s1

    /// c4 (label-blind): `(4/3) alpha beta - (10/3) beta^2 b^2`.
    let c4 (n: NeuronSpec) = 4.0 / 3.0 * n.Alpha * n.Beta - 10.0 / 3.0 * n.Beta * n.Beta * n.Bias * n.Bias

    /// c6 = -beta^2 / 3: the coefficient of u^5 that the truncation drops.
    let c6 (n: NeuronSpec) = -n.Beta * n.Beta / 3.0

    /// `f_y(u) = (y - sigma(b + u)) sigma'(b + u) = -dl/du`, the untruncated per-sample drive.
    let drive (n: NeuronSpec) (y: float) (u: float) =
        let h = n.Bias + u
        (y - sigma n h) * sigmaPrime n h

    /// The odd part `(f_y(u) - f_y(-u)) / 2`: what survives the average over sign-symmetric inputs. Evaluating it on
    /// a sample set averages every sample with its mirror image -x (antithetic pairs), so that the even terms, zero
    /// in expectation, are exactly zero on the samples too.
    let oddDrive (n: NeuronSpec) (y: float) (u: float) = 0.5 * (drive n y u - drive n y -u)

    /// Per-sample loss `(1/2)(y - sigma(b + u))^2`.
    let loss (n: NeuronSpec) (y: float) (u: float) =
        let e = y - sigma n (n.Bias + u)
        0.5 * e * e

    /// The loss averaged with the mirror image -x (the antithetic counterpart of `oddDrive`).
    let symmetricLoss (n: NeuronSpec) (y: float) (u: float) = 0.5 * (loss n y u + loss n y -u)
