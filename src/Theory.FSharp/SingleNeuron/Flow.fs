namespace Theory.SingleNeuron

open System
open System.Numerics.Tensors
open System.Threading
open Theory.Interop
open Theory.Ode
open Theory.Cumulants
open Theory.Simulation.Data

/// Which gradient flow of the single neuron to integrate (SCIENCE.md section 5).
type Variant =
    /// Truncated at fourth order, NLGP moments: `c2 C w + (c4/D)(3 (w.Cw) C w + DeltaT(w,w,w))`, the cumulant
    /// estimated on the fixed NLGP sample set.
    | Full
    /// The Gaussian part only: DeltaT = 0, so `T -> three pairings of C` (exact covariances, no samples).
    | GaussianOnly
    /// The truncated flow with the cumulant estimated on Gaussian-clone samples (zero in expectation): the control
    /// that shows what sampling noise alone does.
    | Clone
    /// The untruncated flow `sqrt D <f_odd(w.x/sqrt D) x>` on the NLGP sample set: where it agrees with `Full`, the
    /// fourth-order truncation is accurate.
    | Exact

module Variant =
    /// The name used in files and on the command line.
    let name =
        function
        | Full -> "full"
        | GaussianOnly -> "gaussian"
        | Clone -> "clone"
        | Exact -> "exact"

    /// All variants, in the order they are reported.
    let all = [| Full; GaussianOnly; Clone; Exact |]

    let tryParse (s: string) =
        all |> Array.tryFind (fun v -> String.Equals(name v, s.Trim(), StringComparison.OrdinalIgnoreCase))

/// The gradient flows of one neuron on the two-class task: right-hand sides for every `Variant`, all sharing the
/// exact class covariances and fixed sample sets (`nlgp[a]`, `clone[a]` for class a; the clone sets are needed only
/// by the `Clone` variant).
[<Sealed>]
type NeuronFlow(task: NlgpTask, neuron: NeuronSpec, nlgp: SampleSet[], clone: SampleSet[]) =
    let d = task.D
    let fd = float d
    let p = [| 0.5; 0.5 |] // class probabilities of the task
    let labels = [| DataSpec.Label 0; DataSpec.Label 1 |]
    let c2 = labels |> Array.map (Coefficients.c2 neuron)
    let c4 = Coefficients.c4 neuron
    let c6 = Coefficients.c6 neuron
    // Dense class covariances for the Jacobian of the stiff integrators (D x D each, built on first use).
    let covariances = lazy (Array.init 2 (fun a -> task.InputCovariance(a).ToArray()))

    /// `result = S_a w` (the task's product: O(D log D) through the spectrum with periodic boundaries).
    let applyCovariance (a: int) (w: float[]) (result: float[]) =
        task.ApplyInputCovariance(a, ReadOnlySpan<float>(w), Span<float>(result))

    do
        if nlgp.Length <> 2 || nlgp |> Array.exists (fun s -> s.D <> d) then
            invalidArg "nlgp" "one NLGP sample set per class, of the task's dimension"
        if not (isNull clone) && (clone.Length <> 2 || clone |> Array.exists (fun s -> s.D <> d)) then
            invalidArg "clone" "one clone sample set per class, of the task's dimension"

    member _.Task = task
    member _.Neuron = neuron
    member _.D = d
    /// c2 for class 0 and class 1.
    member _.C2 = Array.copy c2
    member _.C4 = c4

    /// The right-hand side of `variant`. Each call builds its own workspaces, so right-hand sides of different
    /// variants may be evaluated concurrently; one right-hand side is not thread-safe. `onEvaluation t` is called
    /// at every evaluation (progress, cancellation).
    member this.Rhs(variant: Variant, onEvaluation: float -> unit) : Rhs = fst (this.RhsAndJacobian(variant, onEvaluation))

    /// The right-hand side of `variant` and an approximate Jacobian for the stiff (Rosenbrock-W) integrators,
    /// sharing one workspace (not thread-safe).
    ///
    /// The Jacobian is that of the Gaussian-equivalent flow: for Gaussian inputs with covariance S_a, Stein's lemma
    /// gives `sqrt D E[f(u) x] = E[f'(u)] S_a w` with `u ~ N(0, s_a)`, `s_a = w^T S_a w / D`, so the flow is
    /// `G(w) = sum_a P_a g_a(s_a) S_a w` with `g_a(s) = E f'_a = c2^a + 3 c4 s` (truncated flows; `+ 15 c6 s^2`
    /// for the exact one) and
    ///
    ///   dG/dw = sum_a P_a ( g_a S_a + (2/D) g_a'(s_a) (S_a w)(S_a w)^T ),
    ///
    /// exact for the Gaussian-only flow. The non-Gaussian remainder r(w) = F(w) - G(w) (the cumulant term) is
    /// cubic in w for the truncated flows, so its Jacobian maps w to 3 r(w); the symmetric rank-one term
    /// `3 r r^T / (r . w)` adds exactly that (the remainder's Jacobian is symmetric: the flow is a gradient flow).
    /// The stiffness of these flows is radial (the cubic saturation relaxes |w| at about twice the growth rate of
    /// the top mode of sum_a P_a c2^a S_a), which this matrix captures; the W-method needs no more. r(w) is taken
    /// from the last evaluation when it was at the same w (the integrators evaluate f at a point before its
    /// Jacobian), else computed afresh.
    member _.RhsAndJacobian(variant: Variant, onEvaluation: float -> unit) : Rhs * JacobianFunction =
        let sw = Array.zeroCreate<float> d
        let dt = Array.zeroCreate<float> d
        // The last two evaluations (the initial-step rule evaluates once more after f(t0, y0)): their w and their
        // non-Gaussian remainder r(w) (the whole F(w) for the exact flow).
        let lastW = [| Array.zeroCreate<float> d; Array.zeroCreate<float> d |]
        let lastF = [| Array.zeroCreate<float> d; Array.zeroCreate<float> d |]
        let cached = [| false; false |]
        let mutable slot = 0
        let missOut = Array.zeroCreate<float> d
        let swa = [| Array.zeroCreate<float> d; Array.zeroCreate<float> d |]
        let remainder = Array.zeroCreate<float> d
        let gauss = Array.zeroCreate<float> d
        let sets =
            match variant with
            | Full
            | Exact -> nlgp
            | Clone ->
                if isNull clone then invalidOp "the Clone variant needs Gaussian-clone sample sets"
                clone
            | GaussianOnly -> [||]
        let contractions = sets |> Array.map Contraction
        let sqrtD = sqrt fd
        let drives =
            [| for a in 0 .. 1 -> fun (v: float) -> sqrtD * Coefficients.oddDrive neuron labels[a] (v / sqrtD) |]
        let rhs (t: float) (w: float[]) (dw: float[]) =
            onEvaluation t
            Array.Clear dw
            slot <- 1 - slot
            let lastF = lastF[slot]
            Array.Clear lastF
            match variant with
            | Exact ->
                for a in 0 .. 1 do
                    contractions[a].Drive(w, drives[a], dt)
                    TensorPrimitives.MultiplyAdd(ReadOnlySpan<float>(dt), p[a], ReadOnlySpan<float>(dw), Span<float>(dw))
                Array.blit dw 0 lastF 0 d
            | _ ->
                for a in 0 .. 1 do
                    applyCovariance a w sw
                    let q = TensorPrimitives.Dot(ReadOnlySpan<float>(w), ReadOnlySpan<float>(sw))
                    // c2 C w + (c4/D) 3 (w.Cw) C w: the second-order drive and the Gaussian pairings of T.
                    let coef = p[a] * (c2[a] + 3.0 * c4 * q / fd)
                    TensorPrimitives.MultiplyAdd(ReadOnlySpan<float>(sw), coef, ReadOnlySpan<float>(dw), Span<float>(dw))
                    if variant <> GaussianOnly then
                        contractions[a].Cumulant(w, dt) |> ignore
                        // Into dw in the order of the Gaussian terms (so DOPRI5 runs stay bitwise as before), and
                        // the remainder kept apart for the Jacobian.
                        TensorPrimitives.MultiplyAdd(ReadOnlySpan<float>(dt), p[a] * c4 / fd, ReadOnlySpan<float>(dw), Span<float>(dw))
                        TensorPrimitives.MultiplyAdd(ReadOnlySpan<float>(dt), p[a] * c4 / fd, ReadOnlySpan<float>(lastF), Span<float>(lastF))
            Array.blit w 0 lastW[slot] 0 d
            cached[slot] <- true
        let jacobian (t: float) (w: float[]) (jm: float[,]) =
            let hit k = cached[k] && ReadOnlySpan<float>(w).SequenceEqual(ReadOnlySpan<float>(lastW[k]))
            if not (hit slot) then
                if hit (1 - slot) then slot <- 1 - slot else rhs t w missOut
            let lastF = lastF[slot]
            let cov = covariances.Force()
            Array.Clear gauss
            for a in 0 .. 1 do
                applyCovariance a w swa[a]
            for i in 0 .. d - 1 do
                for j in 0 .. d - 1 do
                    jm[i, j] <- 0.0
            for a in 0 .. 1 do
                let sa = swa[a]
                let s = TensorPrimitives.Dot(ReadOnlySpan<float>(w), ReadOnlySpan<float>(sa)) / fd
                let g, g' =
                    match variant with
                    | Exact -> c2[a] + 3.0 * c4 * s + 15.0 * c6 * s * s, 3.0 * c4 + 30.0 * c6 * s
                    | _ -> c2[a] + 3.0 * c4 * s, 3.0 * c4
                TensorPrimitives.MultiplyAdd(ReadOnlySpan<float>(sa), p[a] * g, ReadOnlySpan<float>(gauss), Span<float>(gauss))
                let ca = cov[a]
                let kappa = p[a] * 2.0 / fd * g'
                for i in 0 .. d - 1 do
                    let ki = kappa * sa[i]
                    for j in 0 .. d - 1 do
                        jm[i, j] <- jm[i, j] + p[a] * g * ca[i * d + j] + ki * sa[j]
            // The non-Gaussian remainder: the cumulant term of the truncated flows, F - G for the exact one.
            match variant with
            | GaussianOnly -> ()
            | Exact -> TensorPrimitives.Subtract(ReadOnlySpan<float>(lastF), ReadOnlySpan<float>(gauss), Span<float>(remainder))
            | _ -> Array.blit lastF 0 remainder 0 d
            if variant <> GaussianOnly then
                let rw = TensorPrimitives.Dot(ReadOnlySpan<float>(remainder), ReadOnlySpan<float>(w))
                let rn = TensorPrimitives.Norm(ReadOnlySpan<float>(remainder))
                let wn = TensorPrimitives.Norm(ReadOnlySpan<float>(w))
                if Math.Abs rw > 1e-3 * rn * wn then
                    let scale = 3.0 / rw
                    for i in 0 .. d - 1 do
                        let ri = scale * remainder[i]
                        for j in 0 .. d - 1 do
                            jm[i, j] <- jm[i, j] + ri * remainder[j]
        rhs, jacobian

    /// `sum_a P_a w^T S_a w`: the variance of `w . x` (so `field variance = this / D`).
    member _.Variance(w: float[]) =
        let sw = Array.zeroCreate<float> d
        let mutable s = 0.0
        for a in 0 .. 1 do
            applyCovariance a w sw
            s <- s + p[a] * TensorPrimitives.Dot(ReadOnlySpan<float>(w), ReadOnlySpan<float>(sw))
        s

/// What is measured on the neuron's weights at a logged time.
type NeuronMeasurement =
    { /// IPR, width and centre of w.
      Profile: ProfileSummary
      /// `|w|^2 / D`.
      NormSquared: float
      /// Standard deviation of the pre-activation `u = w . x / sqrt D` (class average): the expansion parameter of
      /// the fourth-order truncation (accurate while it is small against 1).
      FieldStd: float
      /// Half-MSE loss on the NLGP sample set (antithetic, class average).
      Loss: float
      /// Excess kurtosis of `w . x` on the NLGP samples (class average): 0 for Gaussian fields; its magnitude grows
      /// as w localises.
      Kurtosis: float }

/// One integrated flow: the weights at the logged times.
type NeuronTrajectory =
    { Variant: Variant
      Times: float[]
      Weights: float[][]
      /// Completed, or Failed (solver failure or interruption) with every logged time reached before it kept.
      Outcome: Outcome
      /// True when the integration stopped because `cancel` fired.
      Interrupted: bool
      Evaluations: int
      Warnings: string list }

/// Integration and measurement of the single-neuron flows.
module NeuronRun =

    /// Measures w: profile, norm, field scale, loss and field kurtosis on the NLGP sample sets.
    let measure (flow: NeuronFlow) (nlgp: Contraction[]) (w: float[]) : NeuronMeasurement =
        let d = float flow.D
        let sqrtD = sqrt d
        let mutable loss = 0.0
        let mutable kurt = 0.0
        for a in 0 .. 1 do
            let y = DataSpec.Label a
            loss <- loss + 0.5 * nlgp[a].Mean(w, fun v -> Coefficients.symmetricLoss flow.Neuron y (v / sqrtD))
            let m2 = nlgp[a].Mean(w, fun v -> v * v)
            let m4 = nlgp[a].Mean(w, fun v -> v * v * v * v)
            kurt <- kurt + 0.5 * (if m2 > 0.0 then m4 / (m2 * m2) - 3.0 else nan)
        { Profile = Profile.summarise flow.Task.Geometry w
          NormSquared = TensorPrimitives.Dot(ReadOnlySpan<float>(w), ReadOnlySpan<float>(w)) / d
          FieldStd = sqrt (flow.Variance w / d)
          Loss = loss
          Kurtosis = kurt }

    /// Integrates `variant` from `w0` and returns w at every time of `grid` (increasing, grid[0] the start). The grid
    /// is integrated in `chunks` consecutive pieces, so that an interruption (`cancel`) or a solver failure keeps
    /// every piece finished before it; `progress` receives t / T.
    let integrate
        (options: Options)
        (flow: NeuronFlow)
        (variant: Variant)
        (w0: float[])
        (grid: float[])
        (chunks: int)
        (progress: float -> unit)
        (cancel: CancellationToken)
        : NeuronTrajectory =
        let tEnd = grid[grid.Length - 1]
        let rhs, jacobian =
            flow.RhsAndJacobian(
                variant,
                fun t ->
                    cancel.ThrowIfCancellationRequested()
                    if tEnd > 0.0 then progress (t / tEnd)
            )
        // The flow does not depend on t. The approximate Jacobian serves the stiff methods (exact for the Rosenbrock-W
        // method's order, see `RhsAndJacobian`); DOPRI5 ignores it.
        let problem = { Problem.ofRhs rhs with Jacobian = Some jacobian; Autonomous = true }
        let times = ResizeArray [ grid[0] ]
        let states = ResizeArray [ Array.copy w0 ]
        let mutable outcome = Completed
        let mutable interrupted = false
        let mutable evaluations = 0
        let warnings = ResizeArray<string>()
        let pieces = max 1 (min chunks (grid.Length - 1))
        let bounds = Array.init (pieces + 1) (fun k -> k * (grid.Length - 1) / pieces)
        let mutable k = 0
        while k < pieces && outcome = Completed do
            let sub = grid[bounds[k] .. bounds[k + 1]]
            if sub.Length > 1 then
                let sol =
                    try
                        Some(Solver.solveProblemGrid options problem states[states.Count - 1] sub)
                    with :? OperationCanceledException ->
                        outcome <- Failed(sprintf "interrupted at t = %g" times[times.Count - 1])
                        interrupted <- true
                        None
                match sol with
                | Some sol ->
                    evaluations <- evaluations + sol.Stats.Evaluations
                    warnings.AddRange sol.Warnings
                    for i in 1 .. sol.States.Length - 1 do
                        times.Add sol.Times[i]
                        states.Add sol.States[i]
                    match sol.Outcome with
                    | Completed -> ()
                    | other -> outcome <- other
                | None -> ()
            k <- k + 1
        if outcome = Completed then progress 1.0
        { Variant = variant
          Times = times.ToArray()
          Weights = states.ToArray()
          Outcome = outcome
          Interrupted = interrupted
          Evaluations = evaluations
          Warnings = List.ofSeq warnings }
