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

/// Pairwise ReLU moments of jointly Gaussian fields x ~ N(mu, C) with means, all in closed form (Phi, Phi2 and the
/// conditional Gaussians x_j | x_i = 0), by Stein's lemma E[x_j f(x)] = mu_j E[f] + sum_m C_jm E[d_m f]:
///   E[Theta_i Theta_j] = Phi2(h_i, h_j; r_ij),   h_i = mu_i / s_i,
///   E[delta_i Theta_j] = p_i Phi(m_j|i / s_j|i),   E[delta_i relu_j] = p_i (m_j|i Phi(.) + s_j|i phi(.)),
///   E[Theta_i relu_j] = mu_j E[Theta_i Theta_j] + C_ij E[delta_i Theta_j] + C_jj E[Theta_i delta_j],
///   E[relu_i relu_j] = mu_i E[Theta_i relu_j] + C_ii E[delta_i relu_j] + C_ij E[Theta_i Theta_j],
/// with p_i = phi(h_i) / s_i the density of x_i at 0 and m_j|i, s_j|i^2 the mean and variance of x_j given x_i = 0.
/// Matrices are n x n row-major; diagonals hold E[Theta_i], E[relu_i] (in ThetaRelu), E[relu_i^2] (in ReluRelu).
type Pairwise(n: int) =
    member val Theta: float[] = Array.zeroCreate n
    member val Relu: float[] = Array.zeroCreate n
    /// Density of x_i at 0.
    member val Density: float[] = Array.zeroCreate n
    member val ThetaTheta: float[] = Array.zeroCreate (n * n)
    member val ThetaRelu: float[] = Array.zeroCreate (n * n)
    member val DeltaRelu: float[] = Array.zeroCreate (n * n)
    member val ReluRelu: float[] = Array.zeroCreate (n * n)
    member val private DeltaTheta: float[] = Array.zeroCreate (n * n)
    member val private Sigma: float[] = Array.zeroCreate n
    member val private H: float[] = Array.zeroCreate n
    member val private P: float[] = Array.zeroCreate n

    member p.Compute(mean: float[], cov: float[]) =
        let tiny = 1e-300
        for i in 0 .. n - 1 do
            let c = cov[i * n + i]
            let s = sqrt (max c 0.0 + tiny)
            let h = Normal.clampArgument (mean[i] / s)
            let cdf = Normal.cdf h
            let pdf = Normal.pdf h
            p.Sigma[i] <- s
            p.H[i] <- h
            p.P[i] <- cdf
            p.Theta[i] <- cdf
            p.Relu[i] <- mean[i] * cdf + s * pdf
            p.Density[i] <- pdf / s
            p.ThetaTheta[i * n + i] <- cdf
            p.ThetaRelu[i * n + i] <- p.Relu[i]
            p.ReluRelu[i * n + i] <- (mean[i] * mean[i] + c) * cdf + mean[i] * s * pdf
        for i in 0 .. n - 1 do
            let cii = cov[i * n + i] + tiny
            for j in 0 .. n - 1 do
                if i <> j then
                    // x_j given x_i = 0.
                    let cij = cov[i * n + j]
                    let m = mean[j] - cij * mean[i] / cii
                    let s = sqrt (max (cov[j * n + j] - cij * cij / cii) 0.0 + tiny)
                    let z = Normal.clampArgument (m / s)
                    let cdf = Normal.cdf z
                    p.DeltaTheta[i * n + j] <- p.Density[i] * cdf
                    p.DeltaRelu[i * n + j] <- p.Density[i] * (m * cdf + s * Normal.pdf z)
                    if j > i then
                        let r = cij / (p.Sigma[i] * p.Sigma[j])
                        let tt = Normal.bivariateCdfWith p.P[i] p.P[j] p.H[i] p.H[j] (max -1.0 (min 1.0 r))
                        p.ThetaTheta[i * n + j] <- tt
                        p.ThetaTheta[j * n + i] <- tt
        for i in 0 .. n - 1 do
            for j in 0 .. n - 1 do
                if i <> j then
                    p.ThetaRelu[i * n + j] <-
                        mean[j] * p.ThetaTheta[i * n + j] + cov[i * n + j] * p.DeltaTheta[i * n + j]
                        + cov[j * n + j] * p.DeltaTheta[j * n + i]
        for i in 0 .. n - 1 do
            for j in 0 .. n - 1 do
                if i <> j then
                    p.ReluRelu[i * n + j] <-
                        mean[i] * p.ThetaRelu[i * n + j] + cov[i * n + i] * p.DeltaRelu[i * n + j]
                        + cov[i * n + j] * p.ThetaTheta[i * n + j]
