/// The Jacobian of the stiff solver and its iteration matrix I - c J: dense or block-diagonal, analytic or by
/// forward differences, factored by LU and reused across steps.
module internal Theory.Ode.Jacobian

open System
open Theory.Ode.Common
open Theory.Ode.LinearAlgebra

/// Block sizes the Jacobian is stored in (one block of size n when dense or analytic).
let blockSizesOf (n: int) (mode: JacobianMode) (analytic: JacobianFunction option) =
    match analytic, mode with
    | Some _, _
    | None, DenseFiniteDifference -> [| n |]
    | None, BlockDiagonal sizes -> Array.copy sizes

/// J (dense or block-diagonal) and the LU factors of I - c J.
type IterationMatrix(n: int, blockSizes: int[], analytic: JacobianFunction option, counters: Counters) =
    let nb = blockSizes.Length
    let offsets = Array.zeroCreate<int> nb
    let matOffsets = Array.zeroCreate<int> nb
    let mutable total = 0
    do
        let mutable o = 0
        for b in 0 .. nb - 1 do
            offsets[b] <- o
            matOffsets[b] <- total
            o <- o + blockSizes[b]
            total <- total + blockSizes[b] * blockSizes[b]
    let maxBlock = Array.max blockSizes
    let jac = Array.zeroCreate<float> total
    let lu = Array.zeroCreate<float> total
    let piv = Array.zeroCreate<int> n
    let userJ = match analytic with Some _ -> Array2D.zeroCreate<float> n n | None -> null
    let ywork = Array.zeroCreate<float> n
    let fwork = Array.zeroCreate<float> n
    let mutable luRe: float[] = null
    let mutable luIm: float[] = null
    let mutable pivC: int[] = null

    /// The largest block (n when dense).
    member _.MaxBlock = maxBlock

    /// Right-hand-side evaluations one Jacobian costs.
    member _.EvaluationsPerJacobian = match analytic with Some _ -> 0 | None -> maxBlock

    /// Evaluates J at (t, y); `f0` = f(t, y). Forward differences use Hairer's increment
    /// sqrt(uround max(1e-5, |y_j|)); in block mode one column of every block is perturbed per evaluation.
    member _.Evaluate(f: Rhs, t: float, y: float[], f0: float[]) =
        counters.Jacobians <- counters.Jacobians + 1
        match analytic with
        | Some jf ->
            jf t y userJ
            for i in 0 .. n - 1 do
                for j in 0 .. n - 1 do
                    jac[i * n + j] <- userJ[i, j]
        | None ->
            Array.blit y 0 ywork 0 n
            for col in 0 .. maxBlock - 1 do
                for b in 0 .. nb - 1 do
                    if col < blockSizes[b] then
                        let j = offsets[b] + col
                        ywork[j] <- y[j] + Math.Sqrt(Uround * Math.Max(1e-5, Math.Abs y[j]))
                f t ywork fwork
                for b in 0 .. nb - 1 do
                    let size = blockSizes[b]
                    if col < size then
                        let j = offsets[b] + col
                        let delta = ywork[j] - y[j] // the increment actually represented
                        ywork[j] <- y[j]
                        let o = offsets[b]
                        let m = matOffsets[b]
                        for i in 0 .. size - 1 do
                            jac[m + i * size + col] <- (fwork[o + i] - f0[o + i]) / delta

    /// Writes the last evaluated J into the dense row-major n x n array `target` (zero outside the blocks).
    member _.CopyDense(target: float[]) =
        Array.Clear(target, 0, n * n)
        for b in 0 .. nb - 1 do
            let size = blockSizes[b]
            let o = offsets[b]
            let m = matOffsets[b]
            for i in 0 .. size - 1 do
                for j in 0 .. size - 1 do
                    target[(o + i) * n + o + j] <- jac[m + i * size + j]

    /// Factors diag I - scale J (real); false when singular. The caller counts decompositions.
    member _.FactorReal(diag: float, scale: float) =
        for k in 0 .. total - 1 do
            lu[k] <- -scale * jac[k]
        let mutable ok = true
        let mutable b = 0
        while ok && b < nb do
            let size = blockSizes[b]
            let m = matOffsets[b]
            for i in 0 .. size - 1 do
                lu[m + i * size + i] <- lu[m + i * size + i] + diag
            ok <- luFactor lu m size piv offsets[b]
            b <- b + 1
        ok

    /// Solves the real system of the last `FactorReal` in place.
    member _.SolveReal(b: float[]) =
        for k in 0 .. nb - 1 do
            luSolve lu matOffsets[k] blockSizes[k] piv offsets[k] b offsets[k]

    /// Factors (sr + i si) I - J (complex, split storage); false when singular.
    member _.FactorComplex(sr: float, si: float) =
        if isNull luRe then
            luRe <- Array.zeroCreate total
            luIm <- Array.zeroCreate total
            pivC <- Array.zeroCreate n
        for k in 0 .. total - 1 do
            luRe[k] <- -jac[k]
            luIm[k] <- 0.0
        let mutable ok = true
        let mutable b = 0
        while ok && b < nb do
            let size = blockSizes[b]
            let m = matOffsets[b]
            for i in 0 .. size - 1 do
                luRe[m + i * size + i] <- luRe[m + i * size + i] + sr
                luIm[m + i * size + i] <- si
            ok <- luFactorComplex luRe luIm m size pivC offsets[b]
            b <- b + 1
        ok

    /// Solves the complex system of the last `FactorComplex` in place (real and imaginary parts).
    member _.SolveComplex(br: float[], bi: float[]) =
        for k in 0 .. nb - 1 do
            luSolveComplex luRe luIm matOffsets[k] blockSizes[k] pivC offsets[k] br bi offsets[k]
