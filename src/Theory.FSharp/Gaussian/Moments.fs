namespace Theory.Gaussian

open System
open System.Runtime.CompilerServices

/// A hidden-unit activation (SCIENCE.md section 2).
type ActivationFunction =
    /// g(x) = erf(x / sqrt 2).
    | Erf
    | Relu
    /// g(x) = 1 / (1 + exp(-x)).
    | Sigmoid
    | Linear
    /// g(x) = alpha x - (beta/3) x^3.
    | Cubic of alpha: float * beta: float

/// Pointwise g, g', g'' of an activation (g'' of ReLU is a delta function and is not available pointwise).
module Activation =
    /// The activation of a network specification.
    let ofSpec (net: Theory.Interop.NetworkSpec) =
        match net.Activation with
        | Theory.Interop.Activation.Erf -> Erf
        | Theory.Interop.Activation.Relu -> Relu
        | Theory.Interop.Activation.Sigmoid -> Sigmoid
        | Theory.Interop.Activation.Linear -> Linear
        | Theory.Interop.Activation.Cubic -> Cubic(net.CubicAlpha, net.CubicBeta)
        | other -> invalidArg "net" (sprintf "unknown activation %A" other)

    let value (f: ActivationFunction) (x: float) =
        match f with
        | Erf -> Erf.g x
        | Relu -> max 0.0 x
        | Sigmoid -> 1.0 / (1.0 + exp -x)
        | Linear -> x
        | Cubic(a, b) -> a * x - b / 3.0 * x * x * x

    let derivative (f: ActivationFunction) (x: float) =
        match f with
        | Erf -> Erf.gPrime x
        | Relu -> if x > 0.0 then 1.0 else 0.0
        | Sigmoid ->
            let s = 1.0 / (1.0 + exp -x)
            s * (1.0 - s)
        | Linear -> 1.0
        | Cubic(a, b) -> a - b * x * x

    let secondDerivative (f: ActivationFunction) (x: float) =
        match f with
        | Erf -> -x * Erf.gPrime x
        | Relu -> invalidOp "the second derivative of ReLU is a delta function"
        | Sigmoid ->
            let s = 1.0 / (1.0 + exp -x)
            s * (1.0 - s) * (1.0 - 2.0 * s)
        | Linear -> 0.0
        | Cubic(_, b) -> -2.0 * b * x

/// The jointly Gaussian fields of one class: n fields, the first K of which are the student's pre-activations
/// lambda_k (the rest are teacher fields nu_m), with mean `Mean` (n) and covariance `Cov` (n x n, row-major), and
/// the error of the network written as Delta = Constant + sum_i Coef_i g(x_i) (Coef = -v on student fields, the
/// teacher's readout on teacher fields, Constant = a fixed label). A mutable workspace: the caller fills it.
[<AllowNullLiteral>]
type Fields(n: int, k: int) =
    do
        if k < 1 || n < k then invalidArg "n" (sprintf "needs 1 <= K <= n (got K = %d, n = %d)" k n)
    member _.N = n
    member _.K = k
    member val Mean: float[] = Array.zeroCreate n
    member val Cov: float[] = Array.zeroCreate (n * n)
    member val Coef: float[] = Array.zeroCreate n
    member val Constant = 0.0 with get, set

/// The expectations of one class that the order-parameter ODE needs (SCIENCE.md section 4), with
/// F_k = g'(lambda_k) Delta:
/// G_kj = E[dF_k / dx_j] (K x n), H_kl = E[F_k F_l] (K x K), E[g(lambda_k) Delta], E[g'(lambda_k) Delta] and
/// E[Delta^2].
type Moments(n: int, k: int) =
    member _.N = n
    member _.K = k
    /// G_kj = delta_kj E[g''(lambda_k) Delta] + Coef_j E[g'(lambda_k) g'(x_j)], K x n row-major.
    member val G: float[] = Array.zeroCreate (k * n)
    /// H_kl = E[g'(lambda_k) g'(lambda_l) Delta^2], K x K row-major.
    member val H: float[] = Array.zeroCreate (k * k)
    /// E[g(lambda_k) Delta] (drives a trained readout).
    member val GDelta: float[] = Array.zeroCreate k
    /// E[g'(lambda_k) Delta] (drives trained biases and class means).
    member val GPrimeDelta: float[] = Array.zeroCreate k
    /// E[Delta^2] (twice the class's contribution to eps_g).
    member val Delta2 = 0.0 with get, set

/// Computes `Moments` for fields of a fixed size. Implementations keep scratch space: one instance per thread.
[<AbstractClass>]
type Expectations(n: int, k: int) =
    member _.N = n
    member _.K = k
    /// Fills `result` with the expectations under `fields`.
    abstract Compute: fields: Fields * result: Moments -> unit

/// Small dense linear algebra for covariance factors.
module internal Dense =
    /// Lower Cholesky factor of cov + jitter I (n x n row-major, into `l`). A non-positive pivot (a semi-definite
    /// covariance after rounding) is replaced by the jitter, so the factor always exists and depends smoothly on a
    /// positive definite covariance.
    let cholesky (n: int) (cov: float[]) (l: float[]) =
        let mutable maxDiag = 0.0
        for i in 0 .. n - 1 do
            maxDiag <- max maxDiag cov[i * n + i]
        let jitter = 1e-12 * maxDiag + 1e-300
        Array.Clear(l, 0, n * n)
        for j in 0 .. n - 1 do
            let mutable d = cov[j * n + j] + jitter
            for p in 0 .. j - 1 do
                d <- d - l[j * n + p] * l[j * n + p]
            let ljj = if d > jitter then sqrt d else sqrt jitter
            l[j * n + j] <- ljj
            for i in j + 1 .. n - 1 do
                let mutable s = cov[i * n + j]
                for p in 0 .. j - 1 do
                    s <- s - l[i * n + p] * l[j * n + p]
                l[i * n + j] <- s / ljj

/// Erf: exact closed forms. At zero mean the erf integrals I2, J2, I3, I4 of SCIENCE.md section 4; with means
/// (biases, class means) the tilted-Gaussian reduction to Phi and Phi2.
type ErfExpectations(n: int, k: int) =
    inherit Expectations(n, k)
    let tiltMean: float[] = Array.zeroCreate n
    let tiltCov: float[] = Array.zeroCreate (n * n)
    let eg: float[] = Array.zeroCreate n // E'[g_i] under a tilt
    let j: float[] = Array.zeroCreate (k * n) // E[g'_k g'_j]
    let egg: float[] = Array.zeroCreate (n * n)

    let hArg: float[] = Array.zeroCreate n // h_i = mu_i / sqrt(1 + C_ii), clamped
    let pArg: float[] = Array.zeroCreate n // Phi(h_i)
    let sArg: float[] = Array.zeroCreate n // sqrt(1 + C_ii)
    let batch = Normal.BivariateBatch(n * (n + 1) / 2)

    /// E[Delta^2] = c^2 + 2c sum a_i E[g_i] + sum_ij a_i a_j E[g_i g_j] under N(mean, cov), with
    /// E[g_i] = 2 Phi(h_i) - 1 and E[g_i g_j] = 4 Phi2(h_i, h_j; r_ij) - 2 Phi(h_i) - 2 Phi(h_j) + 1, h_i = mu_i / s_i,
    /// s_i = sqrt(1 + C_ii), r_ij = C_ij / (s_i s_j) (r_ii = C_ii / s_i^2: the two Phi factors of g_i^2 see independent
    /// auxiliary normals). The marginals Phi(h_i) are computed once. `fillEgg` stores every E[g_i g_j] in `egg`.
    [<MethodImpl(MethodImplOptions.AggressiveOptimization)>]
    let delta2 (mean: float[]) (cov: float[]) (a: float[]) (c: float) (fillEgg: bool) =
        let mutable lin = 0.0
        for i in 0 .. n - 1 do
            let s = sqrt (1.0 + cov[i * n + i])
            sArg[i] <- s
            let h = Normal.clampArgument (mean[i] / s)
            hArg[i] <- h
            let p = Normal.cdf h
            pArg[i] <- p
            eg[i] <- 2.0 * p - 1.0
            lin <- lin + a[i] * eg[i]
        batch.Clear()
        for i in 0 .. n - 1 do
            if a[i] <> 0.0 || fillEgg then
                for jj in i .. n - 1 do
                    if a[jj] <> 0.0 || fillEgg then
                        let r = cov[i * n + jj] / (sArg[i] * sArg[jj])
                        batch.Add(pArg[i], pArg[jj], hArg[i], hArg[jj], r) |> ignore
        batch.Compute()
        let mutable quad = 0.0
        let mutable index = 0
        for i in 0 .. n - 1 do
            if a[i] <> 0.0 || fillEgg then
                for jj in i .. n - 1 do
                    if a[jj] <> 0.0 || fillEgg then
                        let v = 4.0 * batch.Result index - 2.0 * pArg[i] - 2.0 * pArg[jj] + 1.0
                        index <- index + 1
                        if fillEgg then
                            egg[i * n + jj] <- v
                            egg[jj * n + i] <- v
                        quad <- quad + (if i = jj then 1.0 else 2.0) * a[i] * a[jj] * v
        c * c + 2.0 * c * lin + quad

    [<MethodImpl(MethodImplOptions.AggressiveOptimization)>]
    member private _.ZeroMean(f: Fields, m: Moments) =
        let cov = f.Cov
        let a = f.Coef
        let c = f.Constant
        let inline C i jj = cov[i * n + jj]
        let mutable quad = 0.0
        for i in 0 .. n - 1 do
            for jj in 0 .. n - 1 do
                egg[i * n + jj] <- Erf.i2 (C i i) (C i jj) (C jj jj)
                quad <- quad + a[i] * a[jj] * egg[i * n + jj]
        m.Delta2 <- c * c + quad
        for kk in 0 .. k - 1 do
            let mutable gd = 0.0
            let mutable g2 = 0.0
            for i in 0 .. n - 1 do
                gd <- gd + a[i] * egg[kk * n + i]
                // E[g'(l_k) l_k g(x_i)] = I3 with u = v = lambda_k, w = x_i; E[g'' Delta] = -sum_i a_i I3.
                g2 <- g2 - a[i] * Erf.i3 (C kk kk) (C kk kk) (C kk i) (C kk i) (C i i)
            m.GDelta[kk] <- gd
            // E[g'(lambda_k) g(x_i)] = 0 at zero mean (odd in the fields).
            m.GPrimeDelta[kk] <- c * Erf.eGPrime (C kk kk)
            for jj in 0 .. n - 1 do
                j[kk * n + jj] <- Erf.j2 (C kk kk) (C kk jj) (C jj jj)
                m.G[kk * n + jj] <- a[jj] * j[kk * n + jj]
            m.G[kk * n + kk] <- m.G[kk * n + kk] + g2
        for kk in 0 .. k - 1 do
            for l in kk .. k - 1 do
                // H_kl = c^2 J2 + sum_ij a_i a_j I4(k, l, i, j) (E[g' g' g] = 0 at zero mean).
                let mutable h = c * c * j[kk * n + l]
                for i in 0 .. n - 1 do
                    if a[i] <> 0.0 then
                        for jj in 0 .. n - 1 do
                            if a[jj] <> 0.0 then
                                h <-
                                    h
                                    + a[i] * a[jj]
                                      * Erf.i4 (C kk kk) (C kk l) (C kk i) (C kk jj) (C l l) (C l i) (C l jj) (C i i)
                                          (C i jj) (C jj jj)
                m.H[kk * k + l] <- h
                m.H[l * k + kk] <- h

    [<MethodImpl(MethodImplOptions.AggressiveOptimization)>]
    member private _.WithMeans(f: Fields, m: Moments) =
        let mean = f.Mean
        let cov = f.Cov
        let a = f.Coef
        let c = f.Constant
        m.Delta2 <- delta2 mean cov a c true
        for kk in 0 .. k - 1 do
            let mutable gd = c * eg[kk]
            for i in 0 .. n - 1 do
                gd <- gd + a[i] * egg[kk * n + i]
            m.GDelta[kk] <- gd
            // One g' factor: E[g'_k h] = sqrt(2/pi) Z E'[h] under the tilt of x_k.
            let z = Erf.tilt n mean cov kk kk 1.0 tiltMean tiltCov
            let mutable eDelta = c
            let mutable eXDelta = c * tiltMean[kk]
            for i in 0 .. n - 1 do
                let vi = tiltCov[i * n + i]
                let egi = Erf.meanG tiltMean[i] vi
                let egpi = Erf.meanGPrime tiltMean[i] vi
                eDelta <- eDelta + a[i] * egi
                // E'[x_k g(x_i)] = mu'_k E'[g_i] + C'_ki E'[g'_i] (Stein under the tilt).
                eXDelta <- eXDelta + a[i] * (tiltMean[kk] * egi + tiltCov[kk * n + i] * egpi)
            m.GPrimeDelta[kk] <- Normal.Sqrt2OverPi * z * eDelta
            // E[g''_k Delta] = -E[x_k g'_k Delta].
            let g2 = -Normal.Sqrt2OverPi * z * eXDelta
            for jj in 0 .. n - 1 do
                j[kk * n + jj] <-
                    Erf.meanGPrimeGPrime mean[kk] mean[jj] cov[kk * n + kk] cov[kk * n + jj] cov[jj * n + jj] (kk = jj)
                m.G[kk * n + jj] <- a[jj] * j[kk * n + jj]
            m.G[kk * n + kk] <- m.G[kk * n + kk] + g2
        for kk in 0 .. k - 1 do
            for l in kk .. k - 1 do
                // Two g' factors: H_kl = (2/pi) Z E''[Delta^2] under the tilt of (x_k, x_l) (x_k^2 weight 2 if k = l).
                let z = Erf.tilt n mean cov kk l (if kk = l then 2.0 else 1.0) tiltMean tiltCov
                let h = 0.63661977236758134308 * z * delta2 tiltMean tiltCov a c false
                m.H[kk * k + l] <- h
                m.H[l * k + kk] <- h

    [<MethodImpl(MethodImplOptions.AggressiveOptimization)>]
    override this.Compute(f: Fields, m: Moments) =
        if Erf.isZero f.Mean then this.ZeroMean(f, m) else this.WithMeans(f, m)

/// Linear activation: every expectation is a polynomial moment. With Delta = c + a.x: E[Delta] = c + a.mu,
/// Var Delta = a^T C a, G_kj = a_j, H_kl = E[Delta^2], E[x_k Delta] = mu_k E[Delta] + (C a)_k.
type LinearExpectations(n: int, k: int) =
    inherit Expectations(n, k)

    [<MethodImpl(MethodImplOptions.AggressiveOptimization)>]
    override _.Compute(f: Fields, m: Moments) =
        let a = f.Coef
        let mutable meanDelta = f.Constant
        for i in 0 .. n - 1 do
            meanDelta <- meanDelta + a[i] * f.Mean[i]
        let mutable varDelta = 0.0
        for i in 0 .. n - 1 do
            for jj in 0 .. n - 1 do
                varDelta <- varDelta + a[i] * f.Cov[i * n + jj] * a[jj]
        let d2 = meanDelta * meanDelta + varDelta
        m.Delta2 <- d2
        for kk in 0 .. k - 1 do
            let mutable ca = 0.0
            for i in 0 .. n - 1 do
                ca <- ca + f.Cov[kk * n + i] * a[i]
            m.GDelta[kk] <- f.Mean[kk] * meanDelta + ca
            m.GPrimeDelta[kk] <- meanDelta
            for jj in 0 .. n - 1 do
                m.G[kk * n + jj] <- a[jj]
            for l in 0 .. k - 1 do
                m.H[kk * k + l] <- d2

/// Smooth activations without closed forms (sigmoid, cubic; also usable for erf as a check): a fixed rank-1
/// lattice of 2^m points in n dimensions through the Cholesky factor of the covariance, all expectations in one
/// pass. The points are fixed and the factor is smooth in the covariance, so the result is a smooth function of the
/// order parameters (what an adaptive ODE solver needs); its error is that of the lattice rule.
type LatticeExpectations(activation: ActivationFunction, n: int, k: int, m: int) =
    inherit Expectations(n, k)
    let points = Quadrature.latticeNormal m n
    let count = 1 <<< m
    let l: float[] = Array.zeroCreate (n * n)
    let x: float[] = Array.zeroCreate n
    let g: float[] = Array.zeroCreate n
    let gp: float[] = Array.zeroCreate n
    let gpp: float[] = Array.zeroCreate k
    let jAcc: float[] = Array.zeroCreate (k * n)
    let hAcc: float[] = Array.zeroCreate (k * k)
    let gdAcc: float[] = Array.zeroCreate k
    let gpdAcc: float[] = Array.zeroCreate k
    let gppdAcc: float[] = Array.zeroCreate k

    [<MethodImpl(MethodImplOptions.AggressiveOptimization)>]
    override _.Compute(f: Fields, res: Moments) =
        Dense.cholesky n f.Cov l
        let a = f.Coef
        Array.Clear jAcc
        Array.Clear hAcc
        Array.Clear gdAcc
        Array.Clear gpdAcc
        Array.Clear gppdAcc
        let mutable d2Acc = 0.0
        for p in 0 .. count - 1 do
            let off = p * n
            for i in 0 .. n - 1 do
                let mutable s = f.Mean[i]
                for q in 0 .. i do
                    s <- s + l[i * n + q] * points[off + q]
                x[i] <- s
            let mutable delta = f.Constant
            for i in 0 .. n - 1 do
                g[i] <- Activation.value activation x[i]
                gp[i] <- Activation.derivative activation x[i]
                delta <- delta + a[i] * g[i]
            for kk in 0 .. k - 1 do
                gpp[kk] <- Activation.secondDerivative activation x[kk]
            d2Acc <- d2Acc + delta * delta
            for kk in 0 .. k - 1 do
                gdAcc[kk] <- gdAcc[kk] + g[kk] * delta
                gpdAcc[kk] <- gpdAcc[kk] + gp[kk] * delta
                gppdAcc[kk] <- gppdAcc[kk] + gpp[kk] * delta
                let gk = gp[kk]
                for jj in 0 .. n - 1 do
                    jAcc[kk * n + jj] <- jAcc[kk * n + jj] + gk * gp[jj]
                let w = gk * delta * delta
                for ll in kk .. k - 1 do
                    hAcc[kk * k + ll] <- hAcc[kk * k + ll] + w * gp[ll]
        let inv = 1.0 / float count
        res.Delta2 <- d2Acc * inv
        for kk in 0 .. k - 1 do
            res.GDelta[kk] <- gdAcc[kk] * inv
            res.GPrimeDelta[kk] <- gpdAcc[kk] * inv
            for jj in 0 .. n - 1 do
                res.G[kk * n + jj] <- a[jj] * jAcc[kk * n + jj] * inv
            res.G[kk * n + kk] <- res.G[kk * n + kk] + gppdAcc[kk] * inv
            for ll in kk .. k - 1 do
                res.H[kk * k + ll] <- hAcc[kk * k + ll] * inv
                res.H[ll * k + kk] <- hAcc[kk * k + ll] * inv

/// ReLU. Every first-order expectation (G, E[g Delta], E[g' Delta], E[Delta^2]) is exact: `Relu.Pairwise` closed
/// forms with means. Only H_kl = E[Theta_k Theta_l Delta^2], whose four-field terms have no elementary form, is
/// integrated: a rank-1 lattice in n - 1 dimensions with the remaining direction integrated exactly ("pre-integration").
/// Fields are written x = mu + s beta + A t with s ~ N(0, 1), t ~ N(0, I_(n-1)), beta_j = sqrt(C_jj) / |L^-1 sigma| > 0
/// (L the Cholesky factor, sigma_j = sqrt(C_jj)) and A = L P, P an orthonormal basis of the complement of
/// u = L^-1 sigma / |L^-1 sigma| (Gram-Schmidt of u, e_2, .., e_n; smooth since u_1 > 0). Along s every field is
/// increasing, so unit j is active exactly for s > -alpha_j / beta_j: the integrand is piecewise polynomial in s
/// and the Theta and delta functions are integrated in closed form with truncated normal moments. The outer
/// lattice integral then has a smooth integrand, so the result is a smooth function of the order parameters
/// (a plain lattice rule would jump whenever a point crossed a kink, and stall an adaptive ODE solver).
type ReluExpectations(n: int, k: int, m: int) =
    inherit Expectations(n, k)
    let dims = max 1 (n - 1)
    let points = Quadrature.latticeNormal m dims
    let count = 1 <<< m
    let l: float[] = Array.zeroCreate (n * n)
    let sigma: float[] = Array.zeroCreate n
    let u: float[] = Array.zeroCreate n
    let beta: float[] = Array.zeroCreate n
    let basis: float[] = Array.zeroCreate (n * n) // columns 1..n-1 of an orthonormal basis whose column 0 is u
    let amat: float[] = Array.zeroCreate (n * dims) // A = L P, n x (n-1)
    let alpha: float[] = Array.zeroCreate n
    let bp: float[] = Array.zeroCreate n // breakpoints s_j
    let order: int[] = Array.zeroCreate n // fields sorted by breakpoint
    let rank: int[] = Array.zeroCreate n // rank r_j (1-based): field j active on segments r >= r_j
    let cdfLo: float[] = Array.zeroCreate n // Phi(s_(r)) and Phi(-s_(r)) for sorted breakpoints
    let cdfHi: float[] = Array.zeroCreate n
    let pdfs: float[] = Array.zeroCreate n
    // Per segment r = 0..n (segment r lies between sorted breakpoints r and r+1) and tail sums from r on.
    let d0: float[] = Array.zeroCreate (n + 1)
    let d1: float[] = Array.zeroCreate (n + 1)
    let t2: float[] = Array.zeroCreate (n + 2)
    let hAcc: float[] = Array.zeroCreate (k * k)
    let pairs = Relu.Pairwise(n)

    /// The geometry of the line: beta, u, the complement basis and A = L P.
    [<MethodImpl(MethodImplOptions.AggressiveOptimization)>]
    member private _.Setup(f: Fields) =
        Dense.cholesky n f.Cov l
        for i in 0 .. n - 1 do
            let mutable s = 0.0
            for q in 0 .. i do
                s <- s + l[i * n + q] * l[i * n + q]
            sigma[i] <- sqrt s
        // w = L^-1 sigma by forward substitution (into u), then normalise.
        for i in 0 .. n - 1 do
            let mutable s = sigma[i]
            for q in 0 .. i - 1 do
                s <- s - l[i * n + q] * u[q]
            u[i] <- s / l[i * n + i]
        let mutable norm = 0.0
        for i in 0 .. n - 1 do
            norm <- norm + u[i] * u[i]
        norm <- sqrt norm
        for i in 0 .. n - 1 do
            u[i] <- u[i] / norm
            beta[i] <- sigma[i] / norm
        // Gram-Schmidt of e_2..e_n against u and each other; column c of `basis` (c = 1..n-1) at basis[i*n + c].
        for col in 1 .. n - 1 do
            for i in 0 .. n - 1 do
                basis[i * n + col] <- (if i = col then 1.0 else 0.0) - u[col] * u[i]
            for prev in 1 .. col - 1 do
                let mutable dot = 0.0
                for i in 0 .. n - 1 do
                    dot <- dot + basis[i * n + prev] * basis[i * n + col]
                for i in 0 .. n - 1 do
                    basis[i * n + col] <- basis[i * n + col] - dot * basis[i * n + prev]
            let mutable nn = 0.0
            for i in 0 .. n - 1 do
                nn <- nn + basis[i * n + col] * basis[i * n + col]
            nn <- sqrt nn
            for i in 0 .. n - 1 do
                basis[i * n + col] <- basis[i * n + col] / nn
        for i in 0 .. n - 1 do
            for col in 1 .. n - 1 do
                let mutable s = 0.0
                for q in 0 .. i do
                    s <- s + l[i * n + q] * basis[q * n + col]
                amat[i * dims + col - 1] <- s

    [<MethodImpl(MethodImplOptions.AggressiveOptimization)>]
    override this.Compute(f: Fields, res: Moments) =
        // Closed forms.
        pairs.Compute(f.Mean, f.Cov)
        let a = f.Coef
        let c = f.Constant
        let mutable d2 = c * c
        for i in 0 .. n - 1 do
            d2 <- d2 + 2.0 * c * a[i] * pairs.Relu[i]
            for j in 0 .. n - 1 do
                d2 <- d2 + a[i] * a[j] * pairs.ReluRelu[i * n + j]
        res.Delta2 <- d2
        for kk in 0 .. k - 1 do
            let mutable gd = c * pairs.Relu[kk]
            let mutable gpd = c * pairs.Theta[kk]
            // E[delta(lambda_k) Delta] = p_k E[Delta | lambda_k = 0] (relu_k vanishes there).
            let mutable dd = c * pairs.Density[kk]
            for i in 0 .. n - 1 do
                gd <- gd + a[i] * pairs.ReluRelu[kk * n + i]
                gpd <- gpd + a[i] * pairs.ThetaRelu[kk * n + i]
                if i <> kk then dd <- dd + a[i] * pairs.DeltaRelu[kk * n + i]
            res.GDelta[kk] <- gd
            res.GPrimeDelta[kk] <- gpd
            for jj in 0 .. n - 1 do
                res.G[kk * n + jj] <- a[jj] * pairs.ThetaTheta[kk * n + jj]
            res.G[kk * n + kk] <- res.G[kk * n + kk] + dd
        // H on the pre-integrated lattice.
        this.Setup f
        Array.Clear hAcc
        for p in 0 .. count - 1 do
            let off = p * dims
            for i in 0 .. n - 1 do
                let mutable s = f.Mean[i]
                if n > 1 then
                    for q in 0 .. dims - 1 do
                        s <- s + amat[i * dims + q] * points[off + q]
                alpha[i] <- s
                bp[i] <- -s / beta[i]
                order[i] <- i
            // Insertion sort of the (few) breakpoints.
            for i in 1 .. n - 1 do
                let o = order[i]
                let key = bp[o]
                let mutable q = i - 1
                while q >= 0 && bp[order[q]] > key do
                    order[q + 1] <- order[q]
                    q <- q - 1
                order[q + 1] <- o
            for r in 0 .. n - 1 do
                let s = bp[order[r]]
                rank[order[r]] <- r + 1
                // One erfc per breakpoint: the small tail exactly, the other side as its complement.
                let tail = Normal.cdf (-(abs s))
                if s < 0.0 then
                    cdfLo[r] <- tail
                    cdfHi[r] <- 1.0 - tail
                else
                    cdfLo[r] <- 1.0 - tail
                    cdfHi[r] <- tail
                pdfs[r] <- Normal.pdf s
            // Segment r (0..n) lies between sorted breakpoints r-1 and r, after r units switched on; there
            // Delta(s) = d0 + d1 s.
            let mutable c0 = c
            let mutable c1 = 0.0
            for r in 0 .. n do
                if r > 0 then
                    let o = order[r - 1]
                    c0 <- c0 + a[o] * alpha[o]
                    c1 <- c1 + a[o] * beta[o]
                d0[r] <- c0
                d1[r] <- c1
            t2[n + 1] <- 0.0
            for r = n downto 0 do
                // Truncated moments of phi on [lo, hi]: M0 = mass, M1 = int s phi, M2 = int s^2 phi.
                let loFinite = r > 0
                let hiFinite = r < n
                let lo = if loFinite then bp[order[r - 1]] else 0.0
                let hi = if hiFinite then bp[order[r]] else 0.0
                let m0 =
                    if not loFinite && not hiFinite then 1.0
                    elif not loFinite then cdfLo[r]
                    elif not hiFinite then cdfHi[r - 1]
                    elif hi <= 0.0 then cdfLo[r] - cdfLo[r - 1]
                    elif lo >= 0.0 then cdfHi[r - 1] - cdfHi[r]
                    else 1.0 - cdfLo[r - 1] - cdfHi[r]
                let pLo = if loFinite then pdfs[r - 1] else 0.0
                let pHi = if hiFinite then pdfs[r] else 0.0
                let m1 = pLo - pHi
                let m2 = m0 + (if loFinite then lo * pLo else 0.0) - (if hiFinite then hi * pHi else 0.0)
                let e0 = d0[r]
                let e1 = d1[r]
                t2[r] <- t2[r + 1] + e0 * e0 * m0 + 2.0 * e0 * e1 * m1 + e1 * e1 * m2
            // Both units active on the segments from the later breakpoint on.
            for kk in 0 .. k - 1 do
                let rk = rank[kk]
                for ll in kk .. k - 1 do
                    hAcc[kk * k + ll] <- hAcc[kk * k + ll] + t2[max rk rank[ll]]
        let inv = 1.0 / float count
        for kk in 0 .. k - 1 do
            for ll in kk .. k - 1 do
                res.H[kk * k + ll] <- hAcc[kk * k + ll] * inv
                res.H[ll * k + kk] <- hAcc[kk * k + ll] * inv

/// How expectations without closed forms are integrated.
type QuadratureSettings =
    { /// Lattice size exponent m (N = 2^m points; one of 10, 12, 14, 16).
      LatticeExponent: int }

module QuadratureSettings =
    /// 2^12 points. ReLU: only the noise term H is integrated, to 0.3-3% (converging like N^-0.8; its effect on eps_g
    /// trajectories is ~1e-5 relative: 2^12 and 2^16 points give trajectories 4e-6 apart). Sigmoid and cubic:
    /// every expectation to ~2e-3.
    let defaults = { LatticeExponent = 12 }

module Expectations =
    /// The evaluator for an activation: closed forms for erf and linear, lattice rules otherwise.
    let create (activation: ActivationFunction) (quadrature: QuadratureSettings) (n: int) (k: int) : Expectations =
        match activation with
        | Erf -> ErfExpectations(n, k)
        | Linear -> LinearExpectations(n, k)
        | Relu -> ReluExpectations(n, k, quadrature.LatticeExponent)
        | Sigmoid
        | Cubic _ -> LatticeExpectations(activation, n, k, quadrature.LatticeExponent)

    /// P(y phi < 0): the probability that the network's output has the wrong sign, y = Constant + teacher part of
    /// Delta, phi = -(student part of Delta). Estimated on a fixed lattice of 2^m points (an indicator, so this is for
    /// reporting, not for a right-hand side).
    [<MethodImpl(MethodImplOptions.AggressiveOptimization)>]
    let classError (activation: ActivationFunction) (m: int) (f: Fields) =
        let n = f.N
        let k = f.K
        let points = Quadrature.latticeNormal m n
        let count = 1 <<< m
        let l = Array.zeroCreate (n * n)
        Dense.cholesky n f.Cov l
        let mutable wrong = 0.0
        for p in 0 .. count - 1 do
            let off = p * n
            let mutable phi = 0.0
            let mutable y = f.Constant
            for i in 0 .. n - 1 do
                let mutable s = f.Mean[i]
                for q in 0 .. i do
                    s <- s + l[i * n + q] * points[off + q]
                let gi = Activation.value activation s
                if i < k then phi <- phi - f.Coef[i] * gi else y <- y + f.Coef[i] * gi
            if y * phi < 0.0 then wrong <- wrong + 1.0
            elif y * phi = 0.0 then wrong <- wrong + 0.5
        wrong / float count
