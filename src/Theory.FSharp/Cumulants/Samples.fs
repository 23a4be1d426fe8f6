namespace Theory.Cumulants

open System
open System.Numerics.Tensors
open System.Threading.Tasks
open Theory.Interop
open Theory.Simulation.Data

/// N images of one class of the task, drawn once from a seeded stream and then kept fixed (row-major, N x D), so
/// that every contraction of the moment tensors in a run uses the same sample set and the flows they drive are
/// deterministic, smooth functions of the weights. Stored in single precision: the contractions are a stream over
/// N x D values, and halving the bytes and doubling the SIMD width makes them about twice as fast, while the
/// rounding (relative 6e-8) is far below the sampling error (relative 1/sqrt N).
[<Sealed>]
type SampleSet(d: int, n: int, x: float32[], kind: InputKind, cls: int) =
    do
        if d < 1 || n < 1 || x.Length <> n * d then
            invalidArg "x" (sprintf "a sample set needs N x D = %d x %d values (got %d)" n d x.Length)
    /// Input dimension D.
    member _.D = d
    /// Number of samples N.
    member _.N = n
    /// The samples, row-major: sample k is `X[k*D .. k*D + D - 1]`.
    member _.X = x
    /// NLGP images or their Gaussian clone.
    member _.Kind = kind
    /// The class a (0: short range, label +1; 1: long range, label -1).
    member _.Class = cls
    /// Sample k.
    member _.Row(k: int) = ReadOnlySpan<float32>(x, k * d, d)
    /// Sample k in double precision (a copy).
    member _.RowCopy(k: int) = Array.init d (fun i -> float x[k * d + i])

    /// A sample set from double-precision values (rounded to single precision).
    static member OfDoubles(d: int, n: int, x: float[], kind: InputKind, cls: int) =
        SampleSet(d, n, Array.map float32 x, kind, cls)

/// Drawing fixed sample sets.
module SampleSet =

    /// The random stream of the sample set of (kind, class): a sub-stream of `RngStream.Analysis`, so that the sets
    /// are independent of each other and of the streams a simulation with the same seed uses.
    let stream (kind: InputKind) (a: int) : uint64 =
        (uint64 RngStream.Analysis <<< 8) ||| uint64 (2 * int kind + a)

    /// Draws `n` images of class `a` (NLGP or Gaussian clone) from the stream of (kind, a) of `seed`.
    let draw (task: NlgpTask) (kind: InputKind) (a: int) (n: int) (seed: int) : SampleSet =
        if n < 1 then invalidArg "n" "a sample set needs at least one sample"
        let d = task.D
        let x = Array.zeroCreate<float32> (n * d)
        let row = Array.zeroCreate<float> d
        let source = task.CreateSource(kind, Rng(uint64 seed, stream kind a))
        for k in 0 .. n - 1 do
            source.NextOfClass(a, Span<float>(row))
            TensorPrimitives.ConvertChecked<float, float32>(ReadOnlySpan<float>(row), Span<float32>(x, k * d, d))
        SampleSet(d, n, x, kind, a)

    /// The sample sets of both classes for each kind, drawn in parallel (each from its own stream, so the result
    /// does not depend on the scheduling). Returned as `[| class 0; class 1 |]` per kind, in the order of `kinds`;
    /// `progress` receives the fraction of samples drawn (from several threads).
    let drawClassesReporting (task: NlgpTask) (kinds: InputKind[]) (n: int) (seed: int) (progress: float -> unit) : SampleSet[][] =
        if n < 1 then invalidArg "n" "a sample set needs at least one sample"
        let jobs = [| for kind in kinds do for a in 0 .. 1 -> kind, a |]
        let sets = Array.zeroCreate<SampleSet> jobs.Length
        let total = float (n * jobs.Length)
        let drawn = ref 0
        let d = task.D
        Parallel.For(
            0,
            jobs.Length,
            fun j ->
                let kind, a = jobs[j]
                let x = Array.zeroCreate<float32> (n * d)
                let row = Array.zeroCreate<float> d
                let source = task.CreateSource(kind, Rng(uint64 seed, stream kind a))
                for k in 0 .. n - 1 do
                    source.NextOfClass(a, Span<float>(row))
                    TensorPrimitives.ConvertChecked<float, float32>(ReadOnlySpan<float>(row), Span<float32>(x, k * d, d))
                    if (k + 1) % 1024 = 0 then
                        progress (float (Threading.Interlocked.Add(&drawn.contents, 1024)) / total)
                sets[j] <- SampleSet(d, n, x, kind, a)
        )
        |> ignore
        progress 1.0
        Array.init kinds.Length (fun k -> [| sets[2 * k]; sets[2 * k + 1] |])

    /// `drawClassesReporting` without progress.
    let drawClasses (task: NlgpTask) (kinds: InputKind[]) (n: int) (seed: int) : SampleSet[][] =
        drawClassesReporting task kinds n seed ignore

/// Contractions of the fourth-moment tensor `T_ijkl = E[x_i x_j x_k x_l]` and of the fourth cumulant `DeltaT` of one
/// class with a vector w, estimated on a fixed <see cref="SampleSet"/> without ever forming a D^4 tensor
/// (SCIENCE.md section 5). With `v_n = w . x_n` and sample means `<.>`:
///
///   T(w,w,w)        = < x v^3 >
///   DeltaT(w,w,w)   = < x v^3 > - 3 < v^2 > < x v >          (the pairings use the sample covariance)
///   DeltaT(w,w,w,w) = < v^4 > - 3 < v^2 >^2
///
/// The estimate of DeltaT is the contraction of the symmetric tensor `T^ - (three pairings of C^)` built from the
/// sample moments `T^`, `C^`: using the sample covariance rather than the exact one in the pairings cancels most of
/// the sampling noise of the fourth moment (the two are strongly correlated), so that for Gaussian inputs the
/// estimate fluctuates around 0 with a much smaller spread. It is consistent (bias O(1/N)).
///
/// Cost: one pass over the N x D samples (a dot product and two vectorised multiply-adds per sample, in single
/// precision), split in fixed blocks of 256 rows that run in parallel; each block's sums are kept in single
/// precision and the blocks are added in double precision in block order, so results are bitwise reproducible
/// whatever the number of threads, with a relative rounding error of order (D + 256) 2^-24 at worst.
/// Not thread-safe: one instance per concurrent caller.
[<Sealed>]
type Contraction(samples: SampleSet) =
    static let blockRows = 256
    let d = samples.D
    let n = samples.N
    let blocks = (n + blockRows - 1) / blockRows
    let part1 = Array.zeroCreate<float32> (blocks * d)
    let part3 = Array.zeroCreate<float32> (blocks * d)
    let part2 = Array.zeroCreate<float> blocks
    let part4 = Array.zeroCreate<float> blocks
    let w32 = Array.zeroCreate<float32> d
    let wide = Array.zeroCreate<float> d
    let x = samples.X

    let check (w: float[]) (result: float[]) =
        if w.Length <> d then invalidArg "w" (sprintf "w has length %d, the samples have D = %d" w.Length d)
        if not (isNull result) && result.Length <> d then
            invalidArg "result" (sprintf "result has length %d, the samples have D = %d" result.Length d)
        TensorPrimitives.ConvertChecked<float, float32>(ReadOnlySpan<float>(w), Span<float32>(w32))

    /// `result = (1/N) sum over blocks` of the single-precision block sums, added in double precision in order.
    let reduce (parts: float32[]) (result: float[]) =
        Array.Clear result
        for b in 0 .. blocks - 1 do
            TensorPrimitives.ConvertChecked<float32, float>(ReadOnlySpan<float32>(parts, b * d, d), Span<float>(wide))
            TensorPrimitives.Add(ReadOnlySpan<float>(wide), ReadOnlySpan<float>(result), Span<float>(result))
        TensorPrimitives.Multiply(ReadOnlySpan<float>(result), 1.0 / float n, Span<float>(result))

    let reduceScalar (parts: float[]) =
        let mutable s = 0.0
        for b in 0 .. blocks - 1 do
            s <- s + parts[b]
        s / float n

    /// One pass over the samples: per block, part1 = sum x v, part3 = sum x v^3, part2 = sum v^2, part4 = sum v^4.
    let moments () =
        Parallel.For(
            0,
            blocks,
            fun b ->
                let lo = b * blockRows
                let hi = min n (lo + blockRows)
                let acc1 = Span<float32>(part1, b * d, d)
                let acc3 = Span<float32>(part3, b * d, d)
                acc1.Clear()
                acc3.Clear()
                let ws = ReadOnlySpan<float32>(w32)
                let mutable s2 = 0.0
                let mutable s4 = 0.0
                for k in lo .. hi - 1 do
                    let row = ReadOnlySpan<float32>(x, k * d, d)
                    let v = TensorPrimitives.Dot(row, ws)
                    let v2 = v * v
                    let vd = float v
                    s2 <- s2 + vd * vd
                    s4 <- s4 + vd * vd * vd * vd
                    TensorPrimitives.MultiplyAdd(row, v, ReadOnlySpan<float32>(part1, b * d, d), acc1)
                    TensorPrimitives.MultiplyAdd(row, v2 * v, ReadOnlySpan<float32>(part3, b * d, d), acc3)
                part2[b] <- s2
                part4[b] <- s4
        )
        |> ignore

    /// The sample set contracted.
    member _.Samples = samples

    /// `result = T(w,w,w) = <x (w.x)^3>`; returns `T(w,w,w,w) = <(w.x)^4>`.
    member _.Fourth(w: float[], result: float[]) : float =
        check w result
        moments ()
        reduce part3 result
        reduceScalar part4

    /// `result = DeltaT(w,w,w) = <x v^3> - 3 <v^2> <x v>` (see the type's comment); returns
    /// `DeltaT(w,w,w,w) = <v^4> - 3 <v^2>^2`.
    member _.Cumulant(w: float[], result: float[]) : float =
        check w result
        moments ()
        let m2 = reduceScalar part2
        let m4 = reduceScalar part4
        reduce part3 result
        // result -= 3 m2 <x v>, block by block in double precision.
        for b in 0 .. blocks - 1 do
            TensorPrimitives.ConvertChecked<float32, float>(ReadOnlySpan<float32>(part1, b * d, d), Span<float>(wide))
            TensorPrimitives.MultiplyAdd(ReadOnlySpan<float>(wide), -3.0 * m2 / float n, ReadOnlySpan<float>(result), Span<float>(result))
        m4 - 3.0 * m2 * m2

    /// `result = <x v>`, the sample covariance times w; returns `<v^2> = w^T C^ w`.
    member _.Second(w: float[], result: float[]) : float =
        check w result
        moments ()
        reduce part1 result
        reduceScalar part2

    /// `result = <f(w.x) x>` for a scalar function f (the untruncated gradient of a one-unit network).
    member _.Drive(w: float[], f: float -> float, result: float[]) =
        check w result
        Parallel.For(
            0,
            blocks,
            fun b ->
                let lo = b * blockRows
                let hi = min n (lo + blockRows)
                let acc = Span<float32>(part1, b * d, d)
                acc.Clear()
                let ws = ReadOnlySpan<float32>(w32)
                for k in lo .. hi - 1 do
                    let row = ReadOnlySpan<float32>(x, k * d, d)
                    let c = f (float (TensorPrimitives.Dot(row, ws)))
                    TensorPrimitives.MultiplyAdd(row, float32 c, ReadOnlySpan<float32>(part1, b * d, d), acc)
        )
        |> ignore
        reduce part1 result

    /// `<g(w.x)>` for a scalar function g (for instance the loss of a one-unit network on the sample set).
    member _.Mean(w: float[], g: float -> float) : float =
        check w null
        Parallel.For(
            0,
            blocks,
            fun b ->
                let lo = b * blockRows
                let hi = min n (lo + blockRows)
                let ws = ReadOnlySpan<float32>(w32)
                let mutable s = 0.0
                for k in lo .. hi - 1 do
                    s <- s + g (float (TensorPrimitives.Dot(ReadOnlySpan<float32>(x, k * d, d), ws)))
                part2[b] <- s
        )
        |> ignore
        reduceScalar part2
