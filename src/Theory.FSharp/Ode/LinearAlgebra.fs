/// Dense LU factorisations with partial pivoting on row-major storage, for the Newton matrices of the stiff
/// solvers: real, and complex in split form (separate real and imaginary arrays, so that every operation is a
/// real vector operation). Small matrices (Jacobian blocks) are factored unblocked; large ones (a 3,000 x 3,000
/// iteration matrix) by panels of 64 columns whose trailing update is one cache-tiled, vectorised rank-64 update,
/// run in parallel over rows (each row is updated by one thread in a fixed order, so the result does not depend on
/// the number of threads).
module internal Theory.Ode.LinearAlgebra

open System
open System.Numerics
open System.Numerics.Tensors
open System.Threading.Tasks

/// Panel width of the blocked factorisations.
[<Literal>]
let private PanelWidth = 64

/// Below this order the unblocked factorisations are used.
[<Literal>]
let private BlockedFrom = 128

/// Columns of the trailing matrix updated together (the panel's U rows for them stay in L2: 64 x 512 x 8 bytes).
[<Literal>]
let private TileWidth = 512

/// Trailing updates with at least this many multiply-adds run in parallel over rows.
[<Literal>]
let private ParallelFrom = 2_000_000L

/// Swaps rows r and p (length n) of the matrix at `off`.
let private swapRows (a: float[]) (off: int) (n: int) (r: int) (p: int) =
    if r <> p then
        let rr = a.AsSpan(off + r * n, n)
        let pp = a.AsSpan(off + p * n, n)
        for j in 0 .. n - 1 do
            let tmp = rr[j]
            rr[j] <- pp[j]
            pp[j] <- tmp

/// C[i, j] += sign * sum_p L[i, p] U[p, j] for rows i in [r0, r1) and columns j in [c0, c0 + width), with
/// p in [0, kb): L[i, p] = l[i * ld + lc + p], U[p, j] = u[(ur + p) * ld + j], C[i, j] = c[i * ld + j] (all
/// matrices n x n row-major with leading dimension ld, offset by `off`). Four vector accumulators per row keep
/// the row in registers while the panel streams from cache.
let private rankUpdateRows (c: float[]) (l: float[]) (u: float[]) (off: int) (ld: int) (lc: int) (ur: int) (kb: int)
                           (c0: int) (width: int) (sign: float) (r0: int) (r1: int) =
    let vc = Vector<float>.Count
    let chunk = 4 * vc
    let mutable t0 = c0
    while t0 < c0 + width do
        let tw = Math.Min(TileWidth, c0 + width - t0)
        for i in r0 .. r1 - 1 do
            let rowC = off + i * ld
            let rowL = off + i * ld + lc
            let mutable j = t0
            while j + chunk <= t0 + tw do
                let mutable a0 = Vector<float>(c, rowC + j)
                let mutable a1 = Vector<float>(c, rowC + j + vc)
                let mutable a2 = Vector<float>(c, rowC + j + 2 * vc)
                let mutable a3 = Vector<float>(c, rowC + j + 3 * vc)
                for p in 0 .. kb - 1 do
                    let s = Vector<float>(sign * l[rowL + p])
                    let ub = off + (ur + p) * ld + j
                    a0 <- a0 + s * Vector<float>(u, ub)
                    a1 <- a1 + s * Vector<float>(u, ub + vc)
                    a2 <- a2 + s * Vector<float>(u, ub + 2 * vc)
                    a3 <- a3 + s * Vector<float>(u, ub + 3 * vc)
                a0.CopyTo(c, rowC + j)
                a1.CopyTo(c, rowC + j + vc)
                a2.CopyTo(c, rowC + j + 2 * vc)
                a3.CopyTo(c, rowC + j + 3 * vc)
                j <- j + chunk
            while j < t0 + tw do
                let mutable acc = c[rowC + j]
                for p in 0 .. kb - 1 do
                    acc <- acc + sign * l[rowL + p] * u[off + (ur + p) * ld + j]
                c[rowC + j] <- acc
                j <- j + 1
        t0 <- t0 + tw

/// Runs `update r0 r1` over rows [first, last) in parallel chunks when the work is large (inline, so that the
/// serial path allocates no closure).
let inline private overRows (first: int) (last: int) (work: int64) (update: int -> int -> unit) =
    let rows = last - first
    if work >= ParallelFrom && rows >= 32 then
        let chunks = Math.Min(rows / 16, 4 * Environment.ProcessorCount)
        Parallel.For(0, chunks, (fun k -> update (first + rows * k / chunks) (first + rows * (k + 1) / chunks))) |> ignore
    else
        update first last

/// Factors columns k0 .. k0 + kb - 1 (rows k0 .. n - 1) in place, swapping whole rows; returns false on a zero
/// pivot. Updates only the panel's own columns.
let private factorPanel (a: float[]) (off: int) (n: int) (piv: int[]) (pivOff: int) (k0: int) (kb: int) =
    let mutable ok = true
    let mutable k = k0
    while ok && k < k0 + kb do
        let mutable p = k
        let mutable best = Math.Abs a[off + k * n + k]
        for i in k + 1 .. n - 1 do
            let v = Math.Abs a[off + i * n + k]
            if v > best then
                best <- v
                p <- i
        piv[pivOff + k] <- p
        if best = 0.0 || Double.IsNaN best then
            ok <- false
        else
            swapRows a off n k p
            let pivot = a[off + k * n + k]
            let rest = k0 + kb - (k + 1)
            for i in k + 1 .. n - 1 do
                let l = a[off + i * n + k] / pivot
                a[off + i * n + k] <- l
                if rest > 0 && l <> 0.0 then
                    let rowK = ReadOnlySpan<float>(a, off + k * n + k + 1, rest)
                    let rowI = Span<float>(a, off + i * n + k + 1, rest)
                    TensorPrimitives.MultiplyAdd(rowK, -l, rowI, rowI)
            k <- k + 1
    ok

/// In-place LU factorisation with partial pivoting of the n x n row-major matrix stored at a[off ..];
/// piv[pivOff + k] is the row swapped with row k at step k. Returns false when a pivot is zero (singular).
let luFactor (a: float[]) (off: int) (n: int) (piv: int[]) (pivOff: int) : bool =
    if n < BlockedFrom then
        factorPanel a off n piv pivOff 0 n
    else
        let mutable ok = true
        let mutable k0 = 0
        while ok && k0 < n do
            let kb = Math.Min(PanelWidth, n - k0)
            ok <- factorPanel a off n piv pivOff k0 kb
            let c0 = k0 + kb
            let m = n - c0
            if ok && m > 0 then
                // U12 = L11^-1 A12 (unit lower triangular forward substitution on the panel rows).
                for k in k0 .. c0 - 1 do
                    let rowK = ReadOnlySpan<float>(a, off + k * n + c0, m)
                    for i in k + 1 .. c0 - 1 do
                        let rowI = Span<float>(a, off + i * n + c0, m)
                        TensorPrimitives.MultiplyAdd(rowK, -a[off + i * n + k], rowI, rowI)
                // A22 -= L21 U12 (p0: an immutable copy of k0, so that no ref cell is allocated for it).
                let p0 = k0
                overRows c0 n (int64 m * int64 m * int64 kb) (fun r0 r1 ->
                    rankUpdateRows a a a off n p0 p0 kb c0 m -1.0 r0 r1)
            k0 <- c0
        ok

/// Solves (LU) x = b in place for the factorisation made by `luFactor`; b occupies b[bOff .. bOff + n - 1].
let luSolve (a: float[]) (off: int) (n: int) (piv: int[]) (pivOff: int) (b: float[]) (bOff: int) =
    for k in 0 .. n - 1 do
        let p = piv[pivOff + k]
        if p <> k then
            let tmp = b[bOff + k]
            b[bOff + k] <- b[bOff + p]
            b[bOff + p] <- tmp
    // Forward substitution with the unit lower triangle.
    for i in 1 .. n - 1 do
        b[bOff + i] <- b[bOff + i] - TensorPrimitives.Dot(ReadOnlySpan<float>(a, off + i * n, i), ReadOnlySpan<float>(b, bOff, i))
    // Back substitution with the upper triangle.
    for i in n - 1 .. -1 .. 0 do
        let rest = n - 1 - i
        let s =
            if rest > 0 then
                TensorPrimitives.Dot(ReadOnlySpan<float>(a, off + i * n + i + 1, rest), ReadOnlySpan<float>(b, bOff + i + 1, rest))
            else 0.0
        b[bOff + i] <- (b[bOff + i] - s) / a[off + i * n + i]

/// Complex counterpart of `factorPanel` on split storage.
let private factorPanelComplex (re: float[]) (im: float[]) (off: int) (n: int) (piv: int[]) (pivOff: int) (k0: int) (kb: int) =
    let mutable ok = true
    let mutable k = k0
    while ok && k < k0 + kb do
        let mutable p = k
        let mutable best = Math.Abs re[off + k * n + k] + Math.Abs im[off + k * n + k]
        for i in k + 1 .. n - 1 do
            let v = Math.Abs re[off + i * n + k] + Math.Abs im[off + i * n + k]
            if v > best then
                best <- v
                p <- i
        piv[pivOff + k] <- p
        if best = 0.0 || Double.IsNaN best then
            ok <- false
        else
            swapRows re off n k p
            swapRows im off n k p
            let pr = re[off + k * n + k]
            let pi = im[off + k * n + k]
            let den = pr * pr + pi * pi
            let rest = k0 + kb - (k + 1)
            for i in k + 1 .. n - 1 do
                let ar = re[off + i * n + k]
                let ai = im[off + i * n + k]
                // l = a / pivot
                let lr = (ar * pr + ai * pi) / den
                let li = (ai * pr - ar * pi) / den
                re[off + i * n + k] <- lr
                im[off + i * n + k] <- li
                if rest > 0 && (lr <> 0.0 || li <> 0.0) then
                    let kr = ReadOnlySpan<float>(re, off + k * n + k + 1, rest)
                    let ki = ReadOnlySpan<float>(im, off + k * n + k + 1, rest)
                    let ir = Span<float>(re, off + i * n + k + 1, rest)
                    let ii = Span<float>(im, off + i * n + k + 1, rest)
                    // row_i -= l row_k in split form.
                    TensorPrimitives.MultiplyAdd(kr, -lr, ir, ir)
                    TensorPrimitives.MultiplyAdd(ki, li, ir, ir)
                    TensorPrimitives.MultiplyAdd(ki, -lr, ii, ii)
                    TensorPrimitives.MultiplyAdd(kr, -li, ii, ii)
            k <- k + 1
    ok

/// In-place LU factorisation with partial pivoting of the complex n x n row-major matrix (re, im) stored at
/// [off ..] (split real and imaginary parts). Returns false when singular.
let luFactorComplex (re: float[]) (im: float[]) (off: int) (n: int) (piv: int[]) (pivOff: int) : bool =
    if n < BlockedFrom then
        factorPanelComplex re im off n piv pivOff 0 n
    else
        let mutable ok = true
        let mutable k0 = 0
        while ok && k0 < n do
            let kb = Math.Min(PanelWidth, n - k0)
            ok <- factorPanelComplex re im off n piv pivOff k0 kb
            let c0 = k0 + kb
            let m = n - c0
            if ok && m > 0 then
                // U12 = L11^-1 A12 in complex arithmetic.
                for k in k0 .. c0 - 1 do
                    let kr = ReadOnlySpan<float>(re, off + k * n + c0, m)
                    let ki = ReadOnlySpan<float>(im, off + k * n + c0, m)
                    for i in k + 1 .. c0 - 1 do
                        let lr = re[off + i * n + k]
                        let li = im[off + i * n + k]
                        let ir = Span<float>(re, off + i * n + c0, m)
                        let ii = Span<float>(im, off + i * n + c0, m)
                        TensorPrimitives.MultiplyAdd(kr, -lr, ir, ir)
                        TensorPrimitives.MultiplyAdd(ki, li, ir, ir)
                        TensorPrimitives.MultiplyAdd(ki, -lr, ii, ii)
                        TensorPrimitives.MultiplyAdd(kr, -li, ii, ii)
                // A22 -= L21 U12 as four real rank-kb updates.
                let p0 = k0
                overRows c0 n (4L * int64 m * int64 m * int64 kb) (fun r0 r1 ->
                    rankUpdateRows re re re off n p0 p0 kb c0 m -1.0 r0 r1
                    rankUpdateRows re im im off n p0 p0 kb c0 m 1.0 r0 r1
                    rankUpdateRows im re im off n p0 p0 kb c0 m -1.0 r0 r1
                    rankUpdateRows im im re off n p0 p0 kb c0 m -1.0 r0 r1)
            k0 <- c0
        ok

/// Solves the complex system factored by `luFactorComplex` in place; (br, bi) occupy [bOff .. bOff + n - 1].
let luSolveComplex (re: float[]) (im: float[]) (off: int) (n: int) (piv: int[]) (pivOff: int) (br: float[]) (bi: float[]) (bOff: int) =
    for k in 0 .. n - 1 do
        let p = piv[pivOff + k]
        if p <> k then
            let tr = br[bOff + k]
            br[bOff + k] <- br[bOff + p]
            br[bOff + p] <- tr
            let ti = bi[bOff + k]
            bi[bOff + k] <- bi[bOff + p]
            bi[bOff + p] <- ti
    for i in 1 .. n - 1 do
        let lr = ReadOnlySpan<float>(re, off + i * n, i)
        let li = ReadOnlySpan<float>(im, off + i * n, i)
        let xr = ReadOnlySpan<float>(br, bOff, i)
        let xi = ReadOnlySpan<float>(bi, bOff, i)
        br[bOff + i] <- br[bOff + i] - (TensorPrimitives.Dot(lr, xr) - TensorPrimitives.Dot(li, xi))
        bi[bOff + i] <- bi[bOff + i] - (TensorPrimitives.Dot(lr, xi) + TensorPrimitives.Dot(li, xr))
    for i in n - 1 .. -1 .. 0 do
        let rest = n - 1 - i
        let mutable sr = br[bOff + i]
        let mutable si = bi[bOff + i]
        if rest > 0 then
            let ur = ReadOnlySpan<float>(re, off + i * n + i + 1, rest)
            let ui = ReadOnlySpan<float>(im, off + i * n + i + 1, rest)
            let xr = ReadOnlySpan<float>(br, bOff + i + 1, rest)
            let xi = ReadOnlySpan<float>(bi, bOff + i + 1, rest)
            sr <- sr - (TensorPrimitives.Dot(ur, xr) - TensorPrimitives.Dot(ui, xi))
            si <- si - (TensorPrimitives.Dot(ur, xi) + TensorPrimitives.Dot(ui, xr))
        let dr = re[off + i * n + i]
        let di = im[off + i * n + i]
        let den = dr * dr + di * di
        br[bOff + i] <- (sr * dr + si * di) / den
        bi[bOff + i] <- (si * dr - sr * di) / den
