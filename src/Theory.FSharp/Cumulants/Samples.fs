namespace Theory.Cumulants

open System
open System.Numerics.Tensors
open System.Threading.Tasks
open Theory.Interop
open Theory.Simulation.Data

/// N images of one class of the task, drawn once from a seeded stream and then kept fixed (row-major, N x D), so
/// that every contraction of the moment tensors in a run uses the same sample set and the flows they drive are
/// deterministic, smooth functions of the weights.
[<Sealed>]
type SampleSet(d: int, n: int, x: float[], kind: InputKind, cls: int) =
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
    member _.Row(k: int) = ReadOnlySpan<float>(x, k * d, d)

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
        let x = Array.zeroCreate<float> (n * d)
        let source = task.CreateSource(kind, Rng(uint64 seed, stream kind a))
        for k in 0 .. n - 1 do
            source.NextOfClass(a, Span<float>(x, k * d, d))
        SampleSet(d, n, x, kind, a)

    /// The sample sets of both classes for each kind, drawn in parallel (each from its own stream, so the result
    /// does not depend on the scheduling). Returned as `[| class 0; class 1 |]` per kind, in the order of `kinds`.
    let drawClasses (task: NlgpTask) (kinds: InputKind[]) (n: int) (seed: int) : SampleSet[][] =
        let jobs = [| for kind in kinds do for a in 0 .. 1 -> kind, a |]
        let sets = Array.zeroCreate<SampleSet> jobs.Length
        Parallel.For(0, jobs.Length, fun j -> let kind, a = jobs[j] in sets[j] <- draw task kind a n seed) |> ignore
        Array.init kinds.Length (fun k -> [| sets[2 * k]; sets[2 * k + 1] |])

/// Contractions of the fourth-moment tensor `T_ijkl = E[x_i x_j x_k x_l]` and of the fourth cumulant `DeltaT` of one
/// class with a vector w, estimated on a fixed <see cref="SampleSet"/> without ever forming a D^4 tensor
/// (SCIENCE.md section 5). With `v_n = w . x_n` and sample means `<.>`:
///
///   T(w,w,w)      = < x v^3 >
///   DeltaT(w,w,w) = < x v^3 > - 3 < v^2 > < x v >          (the pairings use the sample covariance)
///   DeltaT(w,w,w,w) = < v^4 > - 3 < v^2 >^2
///
/// The estimate of DeltaT is the contraction of the symmetric tensor `T^ - (three pairings of C^)` built from the
/// sample moments `T^`, `C^`: using the sample covariance rather than the exact one in the pairings cancels most of
/// the sampling noise of the fourth moment (the two are strongly correlated), so that for Gaussian inputs the
/// estimate fluctuates around 0 with a much smaller spread. It is consistent (bias O(1/N)).
///
/// Cost: one pass over the N x D samples (a dot product and two vectorised multiply-adds per sample), split in
/// fixed blocks of rows that run in parallel and are summed in block order, so results are bitwise reproducible
/// whatever the number of threads. Not thread-safe: one instance per concurrent caller.
[<Sealed>]
type Contraction(samples: SampleSet) =
    static let blockRows = 256
    let d = samples.D
    let n = samples.N
    let blocks = (n + blockRows - 1) / blockRows
    let part1 = Array.zeroCreate<float> (blocks * d)
    let part3 = Array.zeroCreate<float> (blocks * d)
    let part2 = Array.zeroCreate<float> blocks
    let part4 = Array.zeroCreate<float> blocks
    let x = samples.X

    let check (w: float[]) (result: float[]) =
        if w.Length <> d then invalidArg "w" (sprintf "w has length %d, the samples have D = %d" w.Length d)
        if not (isNull result) && result.Length <> d then
            invalidArg "result" (sprintf "result has length %d, the samples have D = %d" result.Length d)

    /// Sums the per-block partial vectors in block order into the first block (the partials are scratch).
    let reduceInPlace (parts: float[]) =
        let first = Span<float>(parts, 0, d)
        for b in 1 .. blocks - 1 do
            TensorPrimitives.Add(ReadOnlySpan<float>(parts, b * d, d), ReadOnlySpan<float>(parts, 0, d), first)

    let reduceScalar (parts: float[]) =
        let mutable s = 0.0
        for b in 0 .. blocks - 1 do
            s <- s + parts[b]
        s / float n

    /// One pass over the samples: per block, part1 = sum x v, part3 = sum x v^3, part2 = sum v^2, part4 = sum v^4.
    let moments (w: float[]) =
        Parallel.For(
            0,
            blocks,
            fun b ->
                let lo = b * blockRows
                let hi = min n (lo + blockRows)
                let acc1 = Span<float>(part1, b * d, d)
                let acc3 = Span<float>(part3, b * d, d)
                acc1.Clear()
                acc3.Clear()
                let ws = ReadOnlySpan<float>(w)
                let mutable s2 = 0.0
                let mutable s4 = 0.0
                for k in lo .. hi - 1 do
                    let row = ReadOnlySpan<float>(x, k * d, d)
                    let v = TensorPrimitives.Dot(row, ws)
                    let v2 = v * v
                    s2 <- s2 + v2
                    s4 <- s4 + v2 * v2
                    TensorPrimitives.MultiplyAdd(row, v, ReadOnlySpan<float>(part1, b * d, d), acc1)
                    TensorPrimitives.MultiplyAdd(row, v2 * v, ReadOnlySpan<float>(part3, b * d, d), acc3)
                part2[b] <- s2
                part4[b] <- s4
        )
        |> ignore

    /// The sample set contracted.
    member _.Samples = samples

    /// `result = T(w,w,w) = <x (w.x)^3>`; returns `T(w,w,w,w) = <(w.x)^4>`.
    member _.Fourth(w: float[], result: float[]) : float =
        check w result
        moments w
        reduceInPlace part3
        TensorPrimitives.Multiply(ReadOnlySpan<float>(part3, 0, d), 1.0 / float n, Span<float>(result))
        reduceScalar part4

    /// `result = DeltaT(w,w,w) = <x v^3> - 3 <v^2> <x v>` (see the type's comment); returns
    /// `DeltaT(w,w,w,w) = <v^4> - 3 <v^2>^2`.
    member _.Cumulant(w: float[], result: float[]) : float =
        check w result
        moments w
        let m2 = reduceScalar part2
        let m4 = reduceScalar part4
        reduceInPlace part1
        reduceInPlace part3
        let r = Span<float>(result)
        TensorPrimitives.Multiply(ReadOnlySpan<float>(part3, 0, d), 1.0 / float n, r)
        TensorPrimitives.MultiplyAdd(ReadOnlySpan<float>(part1, 0, d), -3.0 * m2 / float n, ReadOnlySpan<float>(result), r)
        m4 - 3.0 * m2 * m2

    /// `result = <x v>`, the sample covariance times w; returns `<v^2> = w^T C^ w`.
    member _.Second(w: float[], result: float[]) : float =
        check w result
        moments w
        reduceInPlace part1
        TensorPrimitives.Multiply(ReadOnlySpan<float>(part1, 0, d), 1.0 / float n, Span<float>(result))
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
                let acc = Span<float>(part1, b * d, d)
                acc.Clear()
                let ws = ReadOnlySpan<float>(w)
                for k in lo .. hi - 1 do
                    let row = ReadOnlySpan<float>(x, k * d, d)
                    let c = f (TensorPrimitives.Dot(row, ws))
                    TensorPrimitives.MultiplyAdd(row, c, ReadOnlySpan<float>(part1, b * d, d), acc)
        )
        |> ignore
        reduceInPlace part1
        TensorPrimitives.Multiply(ReadOnlySpan<float>(part1, 0, d), 1.0 / float n, Span<float>(result))

    /// `<g(w.x)>` for a scalar function g (for instance the loss of a one-unit network on the sample set).
    member _.Mean(w: float[], g: float -> float) : float =
        check w null
        Parallel.For(
            0,
            blocks,
            fun b ->
                let lo = b * blockRows
                let hi = min n (lo + blockRows)
                let ws = ReadOnlySpan<float>(w)
                let mutable s = 0.0
                for k in lo .. hi - 1 do
                    s <- s + g (TensorPrimitives.Dot(ReadOnlySpan<float>(x, k * d, d), ws))
                part2[b] <- s
        )
        |> ignore
        reduceScalar part2
