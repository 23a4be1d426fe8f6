/// Deterministic quadrature rules: Gauss-Legendre nodes (for the bivariate normal CDF) and fixed quasi-Monte-Carlo
/// point sets (rank-1 Korobov lattices mapped to standard normal coordinates) for K-dimensional Gaussian
/// expectations. Everything here is deterministic, so the right-hand side of the ODE built on it is a smooth,
/// reproducible function of the order parameters.
module Theory.Gaussian.Quadrature

open System
open System.Collections.Concurrent

/// Gauss-Legendre rule on [-1, 1]: nodes and weights, exact for polynomials of degree 2n - 1.
type Rule = { Nodes: float[]; Weights: float[] }

/// The n-point Gauss-Legendre rule, computed by Newton's method on the Legendre polynomial P_n (three-term
/// recurrence) from the usual cosine first guess; nodes and weights are accurate to a few ulps.
let gaussLegendre (n: int) : Rule =
    if n < 1 then invalidArg "n" "needs at least one node"
    let nodes = Array.zeroCreate n
    let weights = Array.zeroCreate n
    for i in 0 .. (n + 1) / 2 - 1 do
        let mutable x = cos (Math.PI * (float i + 0.75) / (float n + 0.5))
        let mutable dp = 0.0
        let mutable iter = 0
        let mutable moving = true
        while moving && iter < 100 do
            // P_n(x) and P_n'(x) by the recurrence (j+1) P_{j+1} = (2j+1) x P_j - j P_{j-1}.
            let mutable p0 = 1.0
            let mutable p1 = x
            for j in 1 .. n - 1 do
                let p2 = ((2.0 * float j + 1.0) * x * p1 - float j * p0) / (float j + 1.0)
                p0 <- p1
                p1 <- p2
            // P_n' = n (x P_n - P_{n-1}) / (x^2 - 1).
            dp <- float n * (x * p1 - p0) / (x * x - 1.0)
            let dx = p1 / dp
            x <- x - dx
            iter <- iter + 1
            moving <- abs dx > 1e-16 * max 1.0 (abs x)
        nodes[i] <- -x
        nodes[n - 1 - i] <- x
        let w = 2.0 / ((1.0 - x * x) * dp * dp)
        weights[i] <- w
        weights[n - 1 - i] <- w
    if n % 2 = 1 then nodes[n / 2] <- 0.0
    { Nodes = nodes; Weights = weights }

/// Inverse of the standard normal CDF, Phi^-1(p) = -sqrt 2 erfcinv(2 p).
let normalQuantile (p: float) = -Math.Sqrt 2.0 * MathNet.Numerics.SpecialFunctions.ErfcInv(2.0 * p)

/// Korobov generators a (point i has coordinates frac(i a^j / N + 1/(2N)), j = 0..d-1) for N = 2^m, chosen here by
/// an exhaustive search over odd a minimising the weighted P_2 discrepancy criterion (product weights 1/j^2,
/// d = 16). They stay good in fewer dimensions.
let private generators = dict [ 10, 43L; 12, 1939L; 14, 4363L; 16, 21703L ]

/// The admissible point-count exponents m (N = 2^m) of `latticeNormal`.
let latticeSizes = [| 10; 12; 14; 16 |]

let private cache = ConcurrentDictionary<struct (int * int), float[]>()

/// A fixed rank-1 lattice of N = 2^m points in `dims` dimensions, mapped through Phi^-1 to standard normal
/// coordinates: a flat array of N x dims numbers (point-major). Equal weights 1/N. The centring shift 1/(2N) keeps
/// every coordinate strictly inside (0, 1). Cached; the returned array must not be modified.
let latticeNormal (m: int) (dims: int) : float[] =
    if dims < 1 then invalidArg "dims" "needs at least one dimension"
    match generators.TryGetValue m with
    | false, _ -> invalidArg "m" (sprintf "lattice sizes are 2^m for m in %A" latticeSizes)
    | true, a ->
        cache.GetOrAdd(
            struct (m, dims),
            fun _ ->
                let n = 1L <<< m
                let z = Array.zeroCreate dims
                let mutable zj = 1L
                for j in 0 .. dims - 1 do
                    z[j] <- zj
                    zj <- (zj * a) % n
                let points = Array.zeroCreate (int n * dims)
                for i in 0L .. n - 1L do
                    for j in 0 .. dims - 1 do
                        let u = (float ((i * z[j]) % n) + 0.5) / float n
                        // Baker's (tent) transform: makes the integrand periodic for the lattice rule.
                        let u = 1.0 - abs (2.0 * u - 1.0)
                        points[int i * dims + j] <- normalQuantile u
                points
        )
