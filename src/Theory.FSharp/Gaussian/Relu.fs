/// Closed-form Gaussian expectations for the ReLU activation relu(x) = max(0, x), relu' = Theta (SCIENCE.md
/// section 4). The four-point term E[Theta Theta relu relu] has no elementary form; `Moments` integrates it.
module Theory.Gaussian.Relu

open System

/// E[relu(x)] for x ~ N(m, c): m Phi(m/s) + s phi(m/s), s = sqrt c (zero mean: sqrt(c / 2pi)).
let meanRelu (m: float) (c: float) =
    let s = sqrt c
    if s = 0.0 then max 0.0 m else m * Normal.cdf (m / s) + s * Normal.pdf (m / s)

/// E[Theta(x)] = Phi(m / s).
let meanTheta (m: float) (c: float) =
    let s = sqrt c
    if s = 0.0 then (if m > 0.0 then 1.0 else 0.0) else Normal.cdf (m / s)

/// E[Theta(u) Theta(v)] = Phi2(m1/s1, m2/s2; c12/(s1 s2)) (zero mean: 1/4 + asin(r12)/2pi).
let meanThetaTheta (m1: float) (m2: float) (c11: float) (c12: float) (c22: float) =
    let s1 = sqrt c11
    let s2 = sqrt c22
    Normal.bivariateCdf (m1 / s1) (m2 / s2) (c12 / (s1 * s2))

/// I2 = E[relu(u) relu(v)] at zero mean: (sqrt(C11 C22 - C12^2) + C12 (pi/2 + asin r12)) / 2pi.
let i2 (c11: float) (c12: float) (c22: float) =
    let r = max -1.0 (min 1.0 (c12 / sqrt (c11 * c22)))
    (sqrt (max 0.0 (c11 * c22 - c12 * c12)) + c12 * (0.5 * Math.PI + asin r)) / (2.0 * Math.PI)

/// E[Theta(u) relu(v)] at zero mean: (C12 / sqrt C11 + sqrt C22) / (2 sqrt(2 pi)) (Stein's lemma on v).
let thetaRelu (c11: float) (c12: float) (c22: float) =
    (c12 / sqrt c11 + sqrt c22) / (2.0 * sqrt (2.0 * Math.PI))
