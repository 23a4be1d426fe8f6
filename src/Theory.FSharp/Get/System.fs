namespace Theory.Get

open System
open System.Runtime.CompilerServices
open Theory.Gaussian

/// A class of inputs in the mode basis: x ~ N(mu_a, S_a) with S_a = sum_f rho^a_f (projector of mode f).
type InputClass =
    { /// P_a.
      Probability: float
      /// The fixed label y_a, or None when the label is the teacher's output.
      Label: float option
      /// rho^a_f for every merged mode.
      Spectrum: float[] }

/// The teacher of a teacher-student task: y = sum_m v*_m g(nu_m), nu_m = w*_m . x / sqrt D, with the student's
/// activation. `Densities` holds tau^(f) = (1/D^2) sum_{i in f} Re(w*^_m conj(w*^_n)) per mode (M x M), so that the
/// teacher-teacher overlap of class a is T^a = sum_f rho^a_f tau^(f).
type Teacher =
    { M: int
      Readout: float[]
      Densities: float[][] }

/// Class means mu_a (order parameters M^a_k = w_k . mu_a / sqrt D). Per mode f: `Overlap[f]` holds
/// omega^ab(f) = sum_{i in f} (projections of mu_a and mu_b on mode i) (classes x classes; sum_f omega^ab = mu_a.mu_b)
/// and `TeacherMean[f]` the teacher-mean densities sigma^a_m(f) (classes x M; empty without a teacher), so that the
/// teacher field nu_m has mean sum_f sigma^a_m(f) under class a.
type ClassMeans =
    { Overlap: float[][]
      TeacherMean: float[][] }

/// The Gaussian-equivalence ODE system of SCIENCE.md section 4 in normalised per-mode densities: for mode f,
/// q^(f) (K x K), r^(f) (K x M, with a teacher), s^a(f) (K per class, with means); Q^a = sum_f rho^a_f q^(f),
/// R^a = sum_f rho^a_f r^(f), M^a = sum_f s^a(f). With B_f = eta diag(v) sum_b P_b rho^b_f G^b (student columns),
/// C_f the same with the teacher columns of G, e^b = eta diag(v) E_b[g'(lambda) Delta], nu_f = n_f / D:
///   dq^/dt = X + X^T + eta^2 nu_f sum_b P_b rho^b_f (v v^T o H^b),  X = B_f q^ + C_f r^T + sum_b P_b e^b s^b^T
///   dr^/dt = B_f r^ + C_f tau^(f) + sum_b P_b e^b sigma^b(f)^T
///   ds^a/dt = B_f s^a + C_f sigma^a(f) + sum_b P_b e^b omega^ab(f)
///   dv/dt = eta_v sum_b P_b E_b[g(lambda) Delta],  db/dt = eta_b sum_b P_b v o E_b[g'(lambda) Delta].
/// (Derivation: Stein's lemma on the mode projection of x gives the drift of each weight projection; the second
/// moment of one SGD step gives the eta^2 term; terms of relative order 1/D are dropped.)
type GetSystem =
    { K: int
      Activation: ActivationFunction
      /// First-layer, readout and bias rates in the half-MSE form (`LearningRates.Resolve`).
      Eta: float
      EtaReadout: float
      EtaBias: float
      TrainReadout: bool
      TrainBias: bool
      /// nu_f = n_f / D per merged mode.
      ModeWeights: float[]
      Classes: InputClass[]
      Teacher: Teacher option
      Means: ClassMeans option
      Quadrature: QuadratureSettings }

    member s.Modes = s.ModeWeights.Length
    member s.TeacherUnits = match s.Teacher with Some t -> t.M | None -> 0
    /// Fields per class: K student pre-activations and M teacher fields.
    member s.Fields = s.K + s.TeacherUnits

/// A state of the system in readable form.
type GetState =
    { /// q^(f), K x K row-major (symmetric), per mode.
      Densities: float[][]
      /// r^(f), K x M row-major, per mode (empty arrays without a teacher).
      TeacherDensities: float[][]
      /// s^a(f), classes x K row-major, per mode (empty arrays without means).
      MeanDensities: float[][]
      Readout: float[]
      Biases: float[] }

/// Packing of `GetState` into the ODE vector: per mode [q^ upper triangle, r^, s^], then v (if trained), then b (if
/// trained). One mode's entries are contiguous, which is what a block-diagonal Jacobian of a stiff solver wants.
type Layout(system: GetSystem) =
    let k = system.K
    let m = system.TeacherUnits
    let classes = system.Classes.Length
    let hasMeans = system.Means.IsSome
    let tri = k * (k + 1) / 2
    let perMode = tri + k * m + (if hasMeans then classes * k else 0)
    let modes = system.Modes
    let readoutAt = modes * perMode
    let biasAt = readoutAt + (if system.TrainReadout then k else 0)
    let size = biasAt + (if system.TrainBias then k else 0)

    member _.K = k
    member _.TeacherUnits = m
    member _.PerMode = perMode
    member _.Triangle = tri
    member _.Size = size
    member _.ReadoutOffset = readoutAt
    member _.BiasOffset = biasAt
    member _.ModeOffset(f: int) = f * perMode

    /// Sizes of the diagonal blocks (one per mode, then the readout and bias blocks) for a block Jacobian.
    member _.BlockSizes =
        [| yield! Array.create modes perMode
           if system.TrainReadout then yield k
           if system.TrainBias then yield k |]

    member _.Pack(s: GetState) : float[] =
        let y = Array.zeroCreate size
        for f in 0 .. modes - 1 do
            let o = f * perMode
            let q = s.Densities[f]
            let mutable p = o
            for a in 0 .. k - 1 do
                for b in a .. k - 1 do
                    y[p] <- q[a * k + b]
                    p <- p + 1
            if m > 0 then Array.blit s.TeacherDensities[f] 0 y (o + tri) (k * m)
            if hasMeans then Array.blit s.MeanDensities[f] 0 y (o + tri + k * m) (classes * k)
        if system.TrainReadout then Array.blit s.Readout 0 y readoutAt k
        if system.TrainBias then Array.blit s.Biases 0 y biasAt k
        y

    /// The readable state of vector y; fixed readout and biases are taken from `fixedReadout`/`fixedBiases`.
    member _.Unpack(y: float[], fixedReadout: float[], fixedBiases: float[]) : GetState =
        let dens =
            Array.init modes (fun f ->
                let q = Array.zeroCreate (k * k)
                let mutable p = f * perMode
                for a in 0 .. k - 1 do
                    for b in a .. k - 1 do
                        q[a * k + b] <- y[p]
                        q[b * k + a] <- y[p]
                        p <- p + 1
                q)
        { Densities = dens
          TeacherDensities = Array.init modes (fun f -> Array.sub y (f * perMode + tri) (k * m))
          MeanDensities = Array.init modes (fun f -> if hasMeans then Array.sub y (f * perMode + tri + k * m) (classes * k) else [||])
          Readout = (if system.TrainReadout then Array.sub y readoutAt k else Array.copy fixedReadout)
          Biases = (if system.TrainBias then Array.sub y biasAt k else Array.copy fixedBiases) }

/// Order parameters and errors of one class at a state.
type ClassSnapshot =
    { /// Q^a, K x K row-major.
      Q: float[]
      /// R^a, K x M row-major (empty without a teacher).
      R: float[]
      /// M^a, length K (zeros without means).
      M: float[]
      /// E_a[Delta^2].
      Delta2: float }

/// The right-hand side of the ODE and the order parameters of a state. Holds scratch space: not thread-safe (but
/// with `inParallel` it computes the classes' expectations on several threads; results do not depend on it, each class
/// having its own evaluator).
type Dynamics(system: GetSystem, fixedReadout: float[], fixedBiases: float[], inParallel: bool) =
    let layout = Layout system
    let k = system.K
    let mt = system.TeacherUnits
    let n = system.Fields
    let classes = system.Classes.Length
    let modes = system.Modes
    let tri = layout.Triangle
    let perMode = layout.PerMode
    let hasMeans = system.Means.IsSome
    let fields = Array.init classes (fun _ -> Fields(n, k))
    let moments = Array.init classes (fun _ -> Moments(n, k))
    let evaluators = Array.init classes (fun _ -> Expectations.create system.Activation system.Quadrature n k)
    // Teacher-teacher overlaps T^a (constant).
    let teacherCov =
        match system.Teacher with
        | None -> Array.init classes (fun _ -> [||])
        | Some t ->
            Array.init classes (fun a ->
                let c = Array.zeroCreate (mt * mt)
                for f in 0 .. modes - 1 do
                    let rho = system.Classes[a].Spectrum[f]
                    let tau = t.Densities[f]
                    for i in 0 .. mt * mt - 1 do
                        c[i] <- c[i] + rho * tau[i]
                c)
    // Teacher means N^a_m (constant).
    let teacherMean =
        Array.init classes (fun a ->
            let nm = Array.zeroCreate mt
            match system.Means, system.Teacher with
            | Some means, Some _ ->
                for f in 0 .. modes - 1 do
                    for j in 0 .. mt - 1 do
                        nm[j] <- nm[j] + means.TeacherMean[f][a * mt + j]
            | _ -> ()
            nm)
    let v: float[] = Array.zeroCreate k
    let b: float[] = Array.zeroCreate k
    let q: float[] = Array.zeroCreate (k * k)
    let x: float[] = Array.zeroCreate (k * k)
    let bf: float[] = Array.zeroCreate (k * k)
    let cf: float[] = Array.zeroCreate (k * max 1 mt)
    let noise: float[] = Array.zeroCreate (k * k)
    // Per class: eta diag(v) P_b G^b (K x n), eta^2 P_b (v v^T o H^b), e^b = eta v o E_b[g' Delta].
    let gHat = Array.init classes (fun _ -> Array.zeroCreate (k * n))
    let hHat = Array.init classes (fun _ -> Array.zeroCreate (k * k))
    let e = Array.init classes (fun _ -> Array.zeroCreate k)
    let mutable evaluations = 0L
    let useThreads = inParallel && classes > 1 && Environment.ProcessorCount > 1
    let computeClass = Action<int>(fun a -> evaluators[a].Compute(fields[a], moments[a]))

    /// A sequential instance.
    new(system, fixedReadout, fixedBiases) = Dynamics(system, fixedReadout, fixedBiases, false)

    member _.System = system
    member _.Layout = layout
    /// Right-hand-side evaluations so far.
    member _.Evaluations = evaluations

    /// Fills the fields of every class from the state vector (v, b from the state or the fixed values).
    [<MethodImpl(MethodImplOptions.AggressiveOptimization)>]
    member private _.Prepare(y: float[]) =
        if system.TrainReadout then Array.blit y layout.ReadoutOffset v 0 k else Array.blit fixedReadout 0 v 0 k
        if system.TrainBias then Array.blit y layout.BiasOffset b 0 k else Array.blit fixedBiases 0 b 0 k
        for a in 0 .. classes - 1 do
            let fa = fields[a]
            let cov = fa.Cov
            let mean = fa.Mean
            Array.Clear cov
            Array.Clear mean
            let spectrum = system.Classes[a].Spectrum
            for f in 0 .. modes - 1 do
                let rho = spectrum[f]
                let o = f * perMode
                let mutable p = o
                for i in 0 .. k - 1 do
                    for j in i .. k - 1 do
                        cov[i * n + j] <- cov[i * n + j] + rho * y[p]
                        p <- p + 1
                for i in 0 .. k - 1 do
                    for j in 0 .. mt - 1 do
                        cov[i * n + k + j] <- cov[i * n + k + j] + rho * y[o + tri + i * mt + j]
                if hasMeans then
                    let so = o + tri + k * mt + a * k
                    for i in 0 .. k - 1 do
                        mean[i] <- mean[i] + y[so + i]
            for i in 0 .. k - 1 do
                for j in i + 1 .. n - 1 do
                    cov[j * n + i] <- cov[i * n + j]
            let tc = teacherCov[a]
            for i in 0 .. mt - 1 do
                for j in 0 .. mt - 1 do
                    cov[(k + i) * n + k + j] <- tc[i * mt + j]
                mean[k + i] <- teacherMean[a][i]
            for i in 0 .. k - 1 do
                mean[i] <- mean[i] + b[i]
                fa.Coef[i] <- -v[i]
            match system.Teacher with
            | Some t ->
                for j in 0 .. mt - 1 do
                    fa.Coef[k + j] <- t.Readout[j]
            | None -> ()
            fa.Constant <- defaultArg system.Classes[a].Label 0.0

    /// dy/dt at y (SCIENCE.md section 4, in the form documented on `GetSystem`).
    [<MethodImpl(MethodImplOptions.AggressiveOptimization)>]
    member this.Rhs(y: float[], dy: float[]) =
        evaluations <- evaluations + 1L
        this.Prepare y
        let eta = system.Eta
        if useThreads then
            Threading.Tasks.Parallel.For(0, classes, computeClass) |> ignore
        else
            for a in 0 .. classes - 1 do
                evaluators[a].Compute(fields[a], moments[a])
        for a in 0 .. classes - 1 do
            let pa = system.Classes[a].Probability
            let ma = moments[a]
            let gh = gHat[a]
            let hh = hHat[a]
            for i in 0 .. k - 1 do
                let c = eta * v[i] * pa
                for j in 0 .. n - 1 do
                    gh[i * n + j] <- c * ma.G[i * n + j]
                for j in 0 .. k - 1 do
                    hh[i * k + j] <- eta * eta * pa * v[i] * v[j] * ma.H[i * k + j]
                e[a][i] <- eta * v[i] * ma.GPrimeDelta[i]
        for f in 0 .. modes - 1 do
            let o = f * perMode
            // B_f and C_f.
            Array.Clear bf
            Array.Clear cf
            Array.Clear noise
            for a in 0 .. classes - 1 do
                let rho = system.Classes[a].Spectrum[f]
                let gh = gHat[a]
                let hh = hHat[a]
                for i in 0 .. k - 1 do
                    for j in 0 .. k - 1 do
                        bf[i * k + j] <- bf[i * k + j] + rho * gh[i * n + j]
                        noise[i * k + j] <- noise[i * k + j] + rho * hh[i * k + j]
                    for j in 0 .. mt - 1 do
                        cf[i * mt + j] <- cf[i * mt + j] + rho * gh[i * n + k + j]
            let mutable p = o
            for i in 0 .. k - 1 do
                for j in i .. k - 1 do
                    q[i * k + j] <- y[p]
                    q[j * k + i] <- y[p]
                    p <- p + 1
            // X = B_f q^ + C_f r^T + sum_b P_b e^b s^b^T.
            for i in 0 .. k - 1 do
                for j in 0 .. k - 1 do
                    let mutable s = 0.0
                    for l in 0 .. k - 1 do
                        s <- s + bf[i * k + l] * q[l * k + j]
                    for l in 0 .. mt - 1 do
                        s <- s + cf[i * mt + l] * y[o + tri + j * mt + l]
                    x[i * k + j] <- s
            if hasMeans then
                for bc in 0 .. classes - 1 do
                    let pb = system.Classes[bc].Probability
                    let so = o + tri + k * mt + bc * k
                    for i in 0 .. k - 1 do
                        for j in 0 .. k - 1 do
                            x[i * k + j] <- x[i * k + j] + pb * e[bc][i] * y[so + j]
            let nuf = system.ModeWeights[f]
            p <- o
            for i in 0 .. k - 1 do
                for j in i .. k - 1 do
                    dy[p] <- x[i * k + j] + x[j * k + i] + nuf * noise[i * k + j]
                    p <- p + 1
            match system.Teacher with
            | Some t ->
                let tau = t.Densities[f]
                for i in 0 .. k - 1 do
                    for j in 0 .. mt - 1 do
                        let mutable s = 0.0
                        for l in 0 .. k - 1 do
                            s <- s + bf[i * k + l] * y[o + tri + l * mt + j]
                        for l in 0 .. mt - 1 do
                            s <- s + cf[i * mt + l] * tau[l * mt + j]
                        match system.Means with
                        | Some means ->
                            for bc in 0 .. classes - 1 do
                                s <- s + system.Classes[bc].Probability * e[bc][i] * means.TeacherMean[f][bc * mt + j]
                        | None -> ()
                        dy[o + tri + i * mt + j] <- s
            | None -> ()
            match system.Means with
            | Some means ->
                let omega = means.Overlap[f]
                for a in 0 .. classes - 1 do
                    let so = o + tri + k * mt + a * k
                    for i in 0 .. k - 1 do
                        let mutable s = 0.0
                        for l in 0 .. k - 1 do
                            s <- s + bf[i * k + l] * y[so + l]
                        for l in 0 .. mt - 1 do
                            s <- s + cf[i * mt + l] * means.TeacherMean[f][a * mt + l]
                        for bc in 0 .. classes - 1 do
                            s <- s + system.Classes[bc].Probability * e[bc][i] * omega[a * classes + bc]
                        dy[so + i] <- s
            | None -> ()
        if system.TrainReadout then
            for i in 0 .. k - 1 do
                let mutable s = 0.0
                for a in 0 .. classes - 1 do
                    s <- s + system.Classes[a].Probability * moments[a].GDelta[i]
                dy[layout.ReadoutOffset + i] <- system.EtaReadout * s
        if system.TrainBias then
            for i in 0 .. k - 1 do
                let mutable s = 0.0
                for a in 0 .. classes - 1 do
                    s <- s + system.Classes[a].Probability * moments[a].GPrimeDelta[i]
                dy[layout.BiasOffset + i] <- system.EtaBias * v[i] * s

    /// Order parameters and E_a[Delta^2] of every class at y.
    member this.Snapshot(y: float[]) : ClassSnapshot[] =
        this.Prepare y
        Array.init classes (fun a ->
            let fa = fields[a]
            evaluators[a].Compute(fa, moments[a])
            { Q = Array.init (k * k) (fun i -> fa.Cov[(i / k) * n + i % k])
              R = Array.init (k * mt) (fun i -> fa.Cov[(i / mt) * n + k + i % mt])
              M = Array.init k (fun i -> fa.Mean[i] - b[i])
              Delta2 = moments[a].Delta2 })

    /// eps_g = (1/2) sum_a P_a E_a[Delta^2] at y.
    member this.GeneralisationError(y: float[]) =
        let snaps = this.Snapshot y
        let mutable s = 0.0
        for a in 0 .. classes - 1 do
            s <- s + system.Classes[a].Probability * snaps[a].Delta2
        0.5 * s

    /// P(y phi < 0) averaged over classes, on a 2^m-point lattice.
    member this.ClassError(y: float[], m: int) =
        this.Prepare y
        let errors = Array.zeroCreate classes
        let one a = errors[a] <- Expectations.classError system.Activation m fields[a]
        if useThreads then Threading.Tasks.Parallel.For(0, classes, Action<int> one) |> ignore
        else for a in 0 .. classes - 1 do one a
        let mutable s = 0.0
        for a in 0 .. classes - 1 do
            s <- s + system.Classes[a].Probability * errors[a]
        s

    /// The current readout and biases at y.
    member this.ReadoutAndBiases(y: float[]) =
        this.Prepare y
        Array.copy v, Array.copy b
