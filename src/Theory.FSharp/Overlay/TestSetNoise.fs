/// The sampling error of a test-set measurement of eps_g. Each SGD run measures eps_g on its own fixed test set, so
/// its measured error deviates from the network's exact (population) error by an amount that persists from one
/// logged time to the next. For the Gaussian clone the pre-activations are exactly Gaussian with the run's order
/// parameters, so this variance follows from Q, v, b alone; for the NLGP it is the Gaussian-equivalent value.
module Theory.Overlay.TestSetNoise

open System
open Theory.Interop
open Theory.Gaussian

/// Variance of `(y - phi)^2 / 2` over the inputs of class a, for pre-activations lambda ~ N(b (+ M^a), Q^a), on the
/// fixed 2^m-point lattice of `Quadrature.latticeNormal` (m in 10, 12, 14, 16).
let classVariance (activation: ActivationFunction) (m: int) (op: OrderParameters) (a: int) =
    let k = op.K
    let points = Quadrature.latticeNormal m k
    let count = points.Length / k
    let l = Array.zeroCreate (k * k)
    Dense.cholesky k op.Q[a] l
    let mean = Array.init k (fun i -> op.B[i] + (if isNull op.M then 0.0 else op.M[a][i]))
    let y = DataSpec.Label a
    let e = Array.zeroCreate count
    for p in 0 .. count - 1 do
        let off = p * k
        let mutable phi = 0.0
        for i in 0 .. k - 1 do
            let mutable s = mean[i]
            for q in 0 .. i do
                s <- s + l[i * k + q] * points[off + q]
            phi <- phi + op.V[i] * Activation.value activation s
        let delta = y - phi
        e[p] <- 0.5 * delta * delta
    // Two passes: a non-negative variance without cancellation.
    let avg = Array.average e
    let mutable ss = 0.0
    for x in e do
        ss <- ss + (x - avg) * (x - avg)
    ss / float count

/// Variance of the test-set estimate `(1/n) sum (y - phi)^2 / 2` of eps_g on a test set of `testSize` samples, the
/// first `testSize / 2` of class 0 and the rest of class 1 (as `TestSet.Draw`), for a network with Gaussian
/// pre-activations of order parameters `op`: `(n0 V_0 + n1 V_1) / n^2`, V_a = `classVariance`.
let variance (activation: ActivationFunction) (m: int) (testSize: int) (op: OrderParameters) =
    if testSize < 2 then invalidArg "testSize" "needs at least 2 test samples"
    let n0 = testSize / 2
    let n1 = testSize - n0
    let v0 = classVariance activation m op 0
    let v1 = classVariance activation m op 1
    (float n0 * v0 + float n1 * v1) / (float testSize * float testSize)
