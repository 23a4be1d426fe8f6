namespace Theory.Cumulants

open System
open System.Numerics.Tensors

/// A symmetric fourth-order tensor in dimension D, known only through contractions, so that it never has to be
/// formed (D^4 entries: 2.6e10 at D = 400).
type ISymmetricTensor =
    /// Dimension D.
    abstract D: int
    /// Writes `T(u,u,u)` (the vector `sum_jkl T_ijkl u_j u_k u_l`) into `result` and returns `T(u,u,u,u)`.
    abstract Contract: u: float[] * result: float[] -> float
    /// The diagonal `T_iiii` (used to start the CP decomposition at the most promising pixels).
    abstract Diagonal: unit -> float[]

/// A dense symmetric tensor with all D^4 entries (index `((i D + j) D + k) D + l`): the explicit path for tests and
/// small D.
[<Sealed>]
type ExplicitTensor(d: int, entries: float[]) =
    do
        if entries.Length <> d * d * d * d then
            invalidArg "entries" (sprintf "an explicit tensor in dimension %d needs %d entries (got %d)" d (d * d * d * d) entries.Length)
    /// The entries, row-major in (i, j, k, l).
    member _.Entries = entries
    member _.Item(i: int, j: int, k: int, l: int) = entries[((i * d + j) * d + k) * d + l]

    /// `sum_r weights_r u_r (x) u_r (x) u_r (x) u_r`.
    static member OfCp(weights: float[], factors: float[][]) =
        let d = factors[0].Length
        let e = Array.zeroCreate<float> (d * d * d * d)
        for r in 0 .. weights.Length - 1 do
            let u = factors[r]
            for i in 0 .. d - 1 do
                for j in 0 .. d - 1 do
                    for k in 0 .. d - 1 do
                        let c = weights[r] * u[i] * u[j] * u[k]
                        let o = ((i * d + j) * d + k) * d
                        for l in 0 .. d - 1 do
                            e[o + l] <- e[o + l] + c * u[l]
        ExplicitTensor(d, e)

    /// The sample fourth cumulant `T^ - (C^ (x) C^ + two more pairings)` of a sample set, entry by entry (O(N D^4):
    /// only for tests at small D; `Contraction.Cumulant` contracts the same tensor in O(N D)).
    static member CumulantOf(samples: SampleSet) =
        let d, n = samples.D, samples.N
        let x = Array.map float samples.X
        let c = Array.zeroCreate<float> (d * d)
        let e = Array.zeroCreate<float> (d * d * d * d)
        for s in 0 .. n - 1 do
            let o = s * d
            for i in 0 .. d - 1 do
                for j in 0 .. d - 1 do
                    c[i * d + j] <- c[i * d + j] + x[o + i] * x[o + j] / float n
                    for k in 0 .. d - 1 do
                        let p = x[o + i] * x[o + j] * x[o + k] / float n
                        let q = ((i * d + j) * d + k) * d
                        for l in 0 .. d - 1 do
                            e[q + l] <- e[q + l] + p * x[o + l]
        for i in 0 .. d - 1 do
            for j in 0 .. d - 1 do
                for k in 0 .. d - 1 do
                    for l in 0 .. d - 1 do
                        let q = ((i * d + j) * d + k) * d + l
                        e[q] <- e[q] - (c[i * d + j] * c[k * d + l] + c[i * d + k] * c[j * d + l] + c[i * d + l] * c[j * d + k])
        ExplicitTensor(d, e)

    interface ISymmetricTensor with
        member _.D = d
        member _.Contract(u, result) =
            Array.Clear result
            for i in 0 .. d - 1 do
                let mutable s = 0.0
                for j in 0 .. d - 1 do
                    for k in 0 .. d - 1 do
                        let ujk = u[j] * u[k]
                        let o = ((i * d + j) * d + k) * d
                        s <- s + ujk * TensorPrimitives.Dot(ReadOnlySpan<float>(entries, o, d), ReadOnlySpan<float>(u))
                result[i] <- s
            TensorPrimitives.Dot(ReadOnlySpan<float>(result), ReadOnlySpan<float>(u))
        member _.Diagonal() = Array.init d (fun i -> entries[((i * d + i) * d + i) * d + i])

/// `sum_r weights_r u_r^(x)4` held as its factors (contraction in O(R D)): planted tensors at large D, and the
/// part already explained by a CP decomposition.
[<Sealed>]
type LowRankTensor(weights: float[], factors: float[][]) =
    do
        if weights.Length <> factors.Length then invalidArg "factors" "one weight per factor"
    let d = if factors.Length > 0 then factors[0].Length else 0
    member _.Weights = weights
    member _.Factors = factors
    interface ISymmetricTensor with
        member _.D = d
        member _.Contract(u, result) =
            Array.Clear result
            let mutable total = 0.0
            for r in 0 .. weights.Length - 1 do
                let p = TensorPrimitives.Dot(ReadOnlySpan<float>(factors[r]), ReadOnlySpan<float>(u))
                let c = weights[r] * p * p * p
                total <- total + c * p
                TensorPrimitives.MultiplyAdd(ReadOnlySpan<float>(factors[r]), c, ReadOnlySpan<float>(result), Span<float>(result))
            total
        member _.Diagonal() =
            Array.init d (fun i ->
                let mutable s = 0.0
                for r in 0 .. weights.Length - 1 do
                    let x = factors[r][i]
                    s <- s + weights[r] * x * x * x * x
                s)

/// The class-weighted fourth cumulant `sum_a p_a DeltaT^a` estimated on fixed sample sets (one per class): with
/// p_a = 1/2 this is the tensor that drives the single neuron (SCIENCE.md section 5, c4 is label-blind); with one
/// class and weight 1 it is that class's cumulant. Not thread-safe.
[<Sealed>]
type CumulantTensor(classes: (float * Contraction)[]) =
    do
        if classes.Length = 0 then invalidArg "classes" "at least one class"
    let d = (snd classes[0]).Samples.D
    let scratch = Array.zeroCreate<float> d
    /// The diagonal `DeltaT_iiii = <x_i^4> - 3 <x_i^2>^2`: the excess kurtosis of pixel i times its variance squared.
    let diagonal =
        lazy
            (let diag = Array.zeroCreate<float> d
             for p, c in classes do
                 let s = c.Samples
                 for i in 0 .. d - 1 do
                     let mutable m2 = 0.0
                     let mutable m4 = 0.0
                     for k in 0 .. s.N - 1 do
                         let x = float s.X[k * d + i]
                         m2 <- m2 + x * x
                         m4 <- m4 + x * x * x * x
                     m2 <- m2 / float s.N
                     m4 <- m4 / float s.N
                     diag[i] <- diag[i] + p * (m4 - 3.0 * m2 * m2)
             diag)
    /// The classes and their weights.
    member _.Classes = classes
    interface ISymmetricTensor with
        member _.D = d
        member _.Contract(u, result) =
            let mutable total = 0.0
            for idx in 0 .. classes.Length - 1 do
                let p, c = classes[idx]
                if idx = 0 then
                    total <- p * c.Cumulant(u, result)
                    TensorPrimitives.Multiply(ReadOnlySpan<float>(result), p, Span<float>(result))
                else
                    total <- total + p * c.Cumulant(u, scratch)
                    TensorPrimitives.MultiplyAdd(ReadOnlySpan<float>(scratch), p, ReadOnlySpan<float>(result), Span<float>(result))
            total
        member _.Diagonal() = Array.copy diagonal.Value
