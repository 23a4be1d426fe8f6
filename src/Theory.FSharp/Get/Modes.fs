/// The Fourier-mode decomposition of the Gaussian-equivalence ODEs (SCIENCE.md section 4). With periodic
/// boundaries every class covariance is diagonal in the DFT basis, so the weights are tracked as per-mode densities;
/// the ODE of a mode depends only on its eigenvalues (rho^0_f, rho^1_f, ...), so modes with equal eigenvalue tuples
/// are summed into one state exactly (the equations are linear in the densities of a mode at given order
/// parameters).
module Theory.Get.Modes

open System
open System.Numerics

/// Groups of DFT indices with equal eigenvalues in every class.
type ModeGroups =
    { /// Input dimension D (number of DFT indices).
      D: int
      /// Group of each DFT index (length D).
      GroupOf: int[]
      /// Number of DFT indices n_f in each group.
      Multiplicity: int[]
      /// Eigenvalues rho^a_f of each group, per class (classes x groups).
      Spectra: float[][] }

    /// Number of merged modes.
    member g.Count = g.Multiplicity.Length

    /// Weight of each mode in the normalised densities: n_f / D.
    member g.Weights = g.Multiplicity |> Array.map (fun m -> float m / float g.D)

/// Relative tolerance (of the largest eigenvalue of a class) under which two eigenvalues count as equal.
[<Literal>]
let DefaultTolerance = 1e-9

/// Merges the DFT indices whose eigenvalue tuples (rho^0_i, rho^1_i, ...) agree within `tolerance` times the
/// largest eigenvalue of each class. Deterministic: groups are numbered by their smallest DFT index.
let merge (tolerance: float) (spectra: float[][]) : ModeGroups =
    if spectra.Length = 0 then invalidArg "spectra" "needs at least one class"
    let d = spectra[0].Length
    for s in spectra do
        if s.Length <> d then invalidArg "spectra" "every class needs one eigenvalue per DFT index"
    let scale = spectra |> Array.map (fun s -> tolerance * (s |> Array.fold (fun m x -> max m (abs x)) 1e-300))
    // Sort lexicographically by eigenvalue tuple, then cut where any class differs by more than its tolerance.
    let idx = Array.init d id
    Array.sortInPlaceWith
        (fun i j ->
            let mutable c = 0
            let mutable a = 0
            while c = 0 && a < spectra.Length do
                c <- compare (spectra[a][i]) (spectra[a][j])
                a <- a + 1
            if c <> 0 then c else compare i j)
        idx
    let label = Array.create d -1
    let mutable groups = 0
    let mutable start = 0
    while start < d do
        // Grow the run of indices equal (within tolerance) to the run's first one in the first class, then split
        // that run by the other classes.
        let mutable stop = start + 1
        while stop < d && abs (spectra[0][idx[stop]] - spectra[0][idx[start]]) <= scale[0] do
            stop <- stop + 1
        let run = idx[start .. stop - 1]
        let unassigned = System.Collections.Generic.List<int>(run)
        while unassigned.Count > 0 do
            let first = unassigned |> Seq.min
            let members =
                unassigned
                |> Seq.filter (fun i ->
                    let mutable same = true
                    for a in 0 .. spectra.Length - 1 do
                        if abs (spectra[a][i] - spectra[a][first]) > scale[a] then same <- false
                    same)
                |> Seq.toArray
            for i in members do
                label[i] <- -2 - groups
                unassigned.Remove i |> ignore
            groups <- groups + 1
        start <- stop
    // Renumber groups by smallest member index.
    let renumber = Collections.Generic.Dictionary<int, int>()
    let groupOf = Array.zeroCreate d
    for i in 0 .. d - 1 do
        let key = label[i]
        match renumber.TryGetValue key with
        | true, g -> groupOf[i] <- g
        | _ ->
            let g = renumber.Count
            renumber[key] <- g
            groupOf[i] <- g
    let count = renumber.Count
    let multiplicity = Array.zeroCreate count
    let sums = Array.init spectra.Length (fun _ -> Array.zeroCreate count)
    for i in 0 .. d - 1 do
        let g = groupOf[i]
        multiplicity[g] <- multiplicity[g] + 1
        for a in 0 .. spectra.Length - 1 do
            sums[a][g] <- sums[a][g] + spectra[a][i]
    // Group eigenvalue: the mean of its members (they agree to the tolerance).
    let groupSpectra = sums |> Array.map (fun s -> Array.mapi (fun g x -> x / float multiplicity[g]) s)
    { D = d; GroupOf = groupOf; Multiplicity = multiplicity; Spectra = groupSpectra }

/// One group per DFT index: the unmerged system (for tests of the merging).
let unmerged (spectra: float[][]) : ModeGroups =
    let d = spectra[0].Length
    { D = d
      GroupOf = Array.init d id
      Multiplicity = Array.create d 1
      Spectra = spectra |> Array.map Array.copy }

/// Normalised initial densities q^_kl(f) = (1/D^2) sum_{i in f} Re(w^_k(i) conj(w^_l(i))) of the K x D row-major
/// weights, from their unnormalised DFTs `transform` (K x D complex, row-major). With this normalisation
/// Q^a = sum_f rho^a_f q^(f) and, by Parseval, sum_f q^_kk(f) = |w_k|^2 / D. Returns one K x K row-major matrix per
/// group. (SCIENCE.md writes q_kl(f) = (n_f/D) Re(w^_k conj(w^_l)) per merged frequency; q^ = q / D.)
let initialDensities (groups: ModeGroups) (k: int) (transform: Complex[]) : float[][] =
    let d = groups.D
    if transform.Length <> k * d then invalidArg "transform" "needs K x D coefficients"
    let q = Array.init groups.Count (fun _ -> Array.zeroCreate (k * k))
    let scale = 1.0 / (float d * float d)
    for i in 0 .. d - 1 do
        let target = q[groups.GroupOf[i]]
        for a in 0 .. k - 1 do
            let wa = transform[a * d + i]
            for b in a .. k - 1 do
                let wb = transform[b * d + i]
                let re = (wa.Real * wb.Real + wa.Imaginary * wb.Imaginary) * scale
                target[a * k + b] <- target[a * k + b] + re
    for m in q do
        for a in 0 .. k - 1 do
            for b in 0 .. a - 1 do
                m[a * k + b] <- m[b * k + a]
    q
