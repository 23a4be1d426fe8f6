/// Rosenbrock (linearly implicit) methods: no Newton iteration, one LU of (1/(h gamma)) I - J and s linear solves
/// per step, an embedded error estimate and a continuous output (Hairer & Wanner, Solving ODE II, IV.7). Three
/// tableaus: Hairer's RODAS4 (order 4(3), stiffly accurate, L-stable), Steinebach's Rodas5P (order 5(4),
/// stiffly accurate, dense output of order 4) and Rang & Angermann's ROS34PW2 (order 3(2), a W-method: its order
/// holds for any matrix in place of the Jacobian, so an old or approximate Jacobian costs no accuracy).
///
/// The methods are stored in Hairer's transformed form (stage increments U_i = sum_j gamma_ij k_j):
///
///   ((1/(h gamma)) I - J) U_i = f(t + c_i h, y0 + sum_{j<i} a_ij U_j) + sum_{j<i} (c_ij / h) U_j + h d_i f_t
///   y1 = y0 + sum_j m_j U_j,        error estimate sum_j e_j U_j,
///
/// and `natural` recovers the classical coefficients (alpha, Gamma, b, bhat) in which the order conditions are
/// stated; the tests check those conditions tree by tree.
module internal Theory.Ode.Rosenbrock

open System
open Theory.Ode.Common
open Theory.Ode.Jacobian

/// A Rosenbrock tableau in transformed form.
type Tableau =
    { Name: string
      /// Diagonal gamma of the method.
      Gamma: float
      /// Stage arguments y0 + sum_{j<i} A[i, j] U_j (strictly lower triangular, s x s).
      A: float[,]
      /// Stage couplings sum_{j<i} C[i, j] U_j / h (strictly lower triangular).
      C: float[,]
      /// y1 = y0 + sum_j M[j] U_j.
      M: float[]
      /// Error estimate sum_j E[j] U_j (= y1 minus the embedded solution).
      E: float[]
      /// Stage times t + Nodes[i] h (= row sums of the natural alpha).
      Nodes: float[]
      /// Weights h D[i] f_t of the time derivative (= row sums of the natural Gamma).
      D: float[]
      /// Dense output: y(t + theta h) = (1 - theta) y0 + theta (y1 + (1 - theta) (H_0 + theta (H_1 + theta H_2 ...)))
      /// with H_r = sum_j H[r, j] U_j; no rows = cubic Hermite interpolation through y0, f0, y1, f1.
      H: float[,]
      /// Order of the solution, of the embedded solution, and of the dense output.
      Order: int
      EmbeddedOrder: int
      DenseOrder: int
      /// True for a W-method (order conditions hold for any matrix in place of J): the Jacobian is then reused
      /// across steps and refreshed only after a rejected step.
      IsW: bool }

    member k.Stages = k.M.Length

/// Builds the full A matrix of a stiffly accurate method whose stages s-1 and s (and y1) continue the argument of
/// the stage before by adding the last increment: A[r, j] = A[r-1, j] for j < r-1 and A[r, r-1] = 1.
let private extendStifflyAccurate (s: int) (rows: float[][]) =
    let a = Array2D.zeroCreate<float> s s
    for i in 0 .. rows.Length - 1 do
        for j in 0 .. rows[i].Length - 1 do
            a[i + 1, j] <- rows[i][j]
    for r in rows.Length + 1 .. s - 1 do
        for j in 0 .. r - 2 do
            a[r, j] <- a[r - 1, j]
        a[r, r - 1] <- 1.0
    let m = Array.init s (fun j -> if j < s - 1 then a[s - 1, j] else 1.0)
    a, m

let private lower (s: int) (rows: float[][]) =
    let c = Array2D.zeroCreate<float> s s
    for i in 0 .. rows.Length - 1 do
        for j in 0 .. rows[i].Length - 1 do
            c[i + 1, j] <- rows[i][j]
    c

/// Hairer's RODAS4 (Hairer & Wanner, Solving ODE II, IV.7; the constants of Hairer's rodas.f): 6 stages, order 4 with an
/// embedded order-3 solution, stiffly accurate (y1 and the embedded solution are the arguments of stages 7 and 6),
/// L-stable, dense output of order 3.
let rodas4: Tableau =
    let s = 6
    let a, m =
        extendStifflyAccurate s
            [| [| 1.544 |]
               [| 0.9466785280815826; 0.2557011698983284 |]
               [| 3.314825187068521; 2.896124015972201; 0.9986419139977817 |]
               [| 1.221224509226641; 6.019134481288629; 12.53708332932087; -0.6878860361058950 |] |]
    let c =
        lower s
            [| [| -5.6688 |]
               [| -2.430093356833875; -0.2063599157091915 |]
               [| -0.1073529058151375; -9.594562251023355; -20.47028614809616 |]
               [| 7.496443313967647; -10.24680431464352; -33.99990352819905; 11.70890893206160 |]
               [| 8.083246795921522; -7.981132988064893; -31.52159432874371; 16.31930543123136; -6.058818238834054 |] |]
    { Name = "RODAS4"
      Gamma = 0.25
      A = a
      C = c
      M = m
      E = [| 0.0; 0.0; 0.0; 0.0; 0.0; 1.0 |]
      Nodes = [| 0.0; 0.386; 0.21; 0.63; 1.0; 1.0 |]
      D = [| 0.25; -0.1043; 0.1035; -0.0362; 0.0; 0.0 |]
      H =
        array2D
            [ [ 10.12623508344586; -7.487995877610167; -34.80091861555747; -7.992771707568823; 1.025137723295662; 0.0 ]
              [ -0.6762803392801253; 6.087714651680015; 16.43084320892478; 24.76722511418386; -6.594389125716872; 0.0 ] ]
      Order = 4
      EmbeddedOrder = 3
      DenseOrder = 3
      IsW = false }

/// Steinebach's Rodas5P (BIT 63:27, 2023): 8 stages, order 5 with an embedded order-4 solution, stiffly accurate,
/// dense output of order 4.
let rodas5p: Tableau =
    let s = 8
    let a, m =
        extendStifflyAccurate s
            [| [| 3.0 |]
               [| 2.849394379747939; 0.45842242204463923 |]
               [| -6.954028509809101; 2.489845061869568; -10.358996098473584 |]
               [| 2.8029986275628964; 0.5072464736228206; -0.3988312541770524; -0.04721187230404641 |]
               [| -7.502846399306121; 2.561846144803919; -11.627539656261098; -0.18268767659942256; 0.030198172008377946 |] |]
    let c =
        lower s
            [| [| -14.155112264123755 |]
               [| -17.97296035885952; -2.859693295451294 |]
               [| 147.12150275711716; -1.41221402718213; 71.68940251302358 |]
               [| 165.43517024871676; -0.4592823456491126; 42.90938336958603; -5.961986721573306 |]
               [| 24.854864614690072; -3.0009227002832186; 47.4931110020768; 5.5814197821558125; -0.6610691825249471 |]
               [| 30.91273214028599; -3.1208243349937974; 77.79954646070892; 34.28646028294783; -19.097331116725623
                  -28.087943162872662 |]
               [| 37.80277123390563; -3.2571969029072276; 112.26918849496327; 66.9347231244047; -40.06618937091002
                  -54.66780262877968; -9.48861652309627 |] |]
    { Name = "Rodas5P"
      Gamma = 0.21193756319429014
      A = a
      C = c
      M = m
      E = [| 0.0; 0.0; 0.0; 0.0; 0.0; 0.0; 0.0; 1.0 |]
      Nodes = [| 0.0; 0.6358126895828704; 0.4095798393397535; 0.9769306725060716; 0.4288403609558664; 1.0; 1.0; 1.0 |]
      D = [| 0.21193756319429014; -0.42387512638858027; -0.3384627126235924; 1.8046452872882734; 2.325825639765069; 0.0; 0.0; 0.0 |]
      H =
        array2D
            [ [ 25.948786856663858; -2.5579724845846235; 10.433815404888879; -2.3679251022685204; 0.524948541321073
                1.1241088310450404; 0.4272876194431874; -0.17202221070155493 ]
              [ -9.91568850695171; -0.9689944594115154; 3.0438037242978453; -24.495224566215796; 20.176138334709044
                15.98066361424651; -6.789040303419874; -6.710236069923372 ]
              [ 11.419903575922262; 2.8879645146136994; 72.92137995996029; 80.12511834622643; -52.072871366152654
                -59.78993625266729; -0.15582684282751913; 4.883087185713722 ] ]
      Order = 5
      EmbeddedOrder = 4
      DenseOrder = 4
      IsW = false }

/// Solves the lower-triangular system L x = b (forward substitution; set-up only).
let private lowerInverse (l: float[,]) =
    let s = Array2D.length1 l
    let inv = Array2D.zeroCreate<float> s s
    for col in 0 .. s - 1 do
        for i in 0 .. s - 1 do
            let mutable acc = if i = col then 1.0 else 0.0
            for j in 0 .. i - 1 do
                acc <- acc - l[i, j] * inv[j, col]
            inv[i, col] <- acc / l[i, i]
    inv

/// Builds a transformed tableau from the classical coefficients: k_i = h f(y0 + sum_{j<i} alpha_ij k_j) +
/// h J sum_{j<=i} Gamma_ij k_j, y1 = y0 + sum b_i k_i, embedded y0 + sum bhat_i k_i. Then U = Gamma k, so
/// A = alpha Gamma^-1, C = diag(1/gamma) - Gamma^-1, m = b Gamma^-1, e = (b - bhat) Gamma^-1.
let ofNatural (name: string) (alpha: float[,]) (gammaMatrix: float[,]) (b: float[]) (bhat: float[]) (order: int) (embedded: int) (isW: bool) =
    let s = b.Length
    let gi = lowerInverse gammaMatrix
    let g = gammaMatrix[0, 0]
    let a = Array2D.init s s (fun i j -> if j < i then Seq.sum (seq { for k in 0 .. s - 1 -> alpha[i, k] * gi[k, j] }) else 0.0)
    let c = Array2D.init s s (fun i j -> if j < i then -gi[i, j] else 0.0)
    let rowTimes (v: float[]) = Array.init s (fun j -> Seq.sum (seq { for k in 0 .. s - 1 -> v[k] * gi[k, j] }))
    { Name = name
      Gamma = g
      A = a
      C = c
      M = rowTimes b
      E = rowTimes (Array.map2 (-) b bhat)
      Nodes = Array.init s (fun i -> Seq.sum (seq { for j in 0 .. s - 1 -> alpha[i, j] }))
      D = Array.init s (fun i -> Seq.sum (seq { for j in 0 .. s - 1 -> gammaMatrix[i, j] }))
      H = Array2D.zeroCreate 0 s
      Order = order
      EmbeddedOrder = embedded
      DenseOrder = 3
      IsW = isW }

/// Rang & Angermann's ROS34PW2 (BIT 45:761, 2005): 4 stages, order 3 with an embedded order-2 solution for any
/// matrix in place of the Jacobian (a W-method), stiffly accurate, L-stable. Dense output: cubic Hermite.
let ros34pw2: Tableau =
    let g = 0.4358665215084590
    let alpha =
        array2D
            [ [ 0.0; 0.0; 0.0; 0.0 ]
              [ 0.87173304301691801; 0.0; 0.0; 0.0 ]
              [ 0.84457060015369423; -0.11299064236484185; 0.0; 0.0 ]
              [ 0.0; 0.0; 1.0; 0.0 ] ]
    let gm =
        array2D
            [ [ g; 0.0; 0.0; 0.0 ]
              [ -0.87173304301691801; g; 0.0; 0.0 ]
              [ -0.90338057013044082; 0.054180672388095326; g; 0.0 ]
              [ 0.24212380706095346; -1.2232505839045147; 0.54526025533510214; g ] ]
    let b = [| 0.24212380706095346; -1.2232505839045147; 1.5452602553351020; 0.4358665215084590 |]
    let bhat = [| 0.37810903145819369; -0.096042292212423178; 0.5; 0.2179332607542295 |]
    ofNatural "ROS34PW2" alpha gm b bhat 3 2 true

/// The classical coefficients (alpha, Gamma, b, bhat) of a transformed tableau: Gamma^-1 = diag(1/gamma) - C,
/// alpha = A Gamma, b = m Gamma, bhat = (m - e) Gamma.
let natural (k: Tableau) =
    let s = k.Stages
    let gi = Array2D.init s s (fun i j -> if i = j then 1.0 / k.Gamma elif j < i then -k.C[i, j] else 0.0)
    let gm = lowerInverse gi
    let alpha = Array2D.init s s (fun i j -> Seq.sum (seq { for l in 0 .. s - 1 -> k.A[i, l] * gm[l, j] }))
    let times (v: float[]) = Array.init s (fun j -> Seq.sum (seq { for l in 0 .. s - 1 -> v[l] * gm[l, j] }))
    alpha, gm, times k.M, times (Array.map2 (-) k.M k.E)

// Hairer's RODAS step-size control: h / hnew in [1/6, 5] (so the step grows at most 6-fold and shrinks at most
// 5-fold), safety 0.9, Gustafsson's predictive controller.
let private safe = 0.9
let private facMax = 5.0 // h / hnew <= 5
let private facMin = 1.0 / 6.0 // h / hnew >= 1/6

/// A Rosenbrock method from (t0, y0) towards tEnd; `h0` = 0 lets it choose the first step. `autonomous` skips
/// the time derivative f_t (otherwise a forward difference, one evaluation per Jacobian).
type RosenbrockStepper(options: Options, tableau: Tableau, f: Rhs, analytic: JacobianFunction option, autonomous: bool,
                       t0: float, y0: float[], tEnd: float, h0: float, counters: Counters) =
    inherit Stepper()
    let k = tableau
    let s = k.Stages
    let n = y0.Length
    let dir = if tEnd >= t0 then 1.0 else -1.0
    let hmaxn = Math.Min(Math.Abs options.MaxStep, Math.Abs(tEnd - t0))
    let expo = 1.0 / float (k.EmbeddedOrder + 1)
    let matrix = IterationMatrix(n, blockSizesOf n options.Jacobian analytic, analytic, counters)
    // Keep h (and the LU) while the proposed change is within [quot1, quot2] and the Jacobian is kept, for large
    // systems where a factorisation costs far more than an evaluation (Hairer's advice for RADAU5).
    let quot1, quot2 = if matrix.MaxBlock >= 200 then 0.99, 1.2 else 1.0, 1.0
    let denseRows = Array2D.length1 k.H
    // A W-method keeps its Jacobian across steps when one costs more evaluations than a step (a large
    // finite-difference Jacobian); otherwise it takes a fresh one every step, like the other methods, since a
    // stale Jacobian limits the step size through stability (stiff Van der Pol: 18 times more steps).
    let reuseJacobian = k.IsW && matrix.EvaluationsPerJacobian > s
    let y = Array.copy y0
    let yOld = Array.zeroCreate<float> n
    let f0 = Array.zeroCreate<float> n
    let fOld = Array.zeroCreate<float> n
    let ft = Array.zeroCreate<float> n
    let u = Array.init s (fun _ -> Array.zeroCreate<float> n)
    let ytmp = Array.zeroCreate<float> n
    let ftmp = Array.zeroCreate<float> n
    let ynew = Array.zeroCreate<float> n
    let err = Array.zeroCreate<float> n
    let dense = Array.init (Math.Max(denseRows, 1)) (fun _ -> Array.zeroCreate<float> n)
    let mutable t = t0
    let mutable tPrev = t0
    let mutable h = 0.0
    let mutable hOld = 0.0
    let mutable hLu = nan
    let mutable first = true
    let mutable reject = false
    let mutable last = false
    let mutable finished = false
    let mutable needJac = true
    let mutable jacFresh = false // J was evaluated at the current (t, y)
    let mutable hacc = 0.0
    let mutable erracc = 0.0
    let mutable nsing = 0
    let mutable lastNonFinite = false
    let mutable pendingError: string option = None

    do
        f t0 y f0
        if not (allFinite f0) then
            pendingError <- Some(Failures.initialNonFinite t0)
        else
            h <- firstStep options h0 dir hmaxn (fun () -> hairerInitialStep f k.Order t0 y f0 dir hmaxn options.AbsTol options.RelTol ytmp ftmp)
            if (t + h * 1.0001 - tEnd) * dir >= 0.0 then
                h <- tEnd - t
                last <- true

    override _.T = t
    override _.TPrev = tPrev
    override _.Y = y
    override _.NextStep = h

    /// The tableau stepping.
    member _.Tableau = k

    override this.Step() =
        match pendingError with
        | Some message -> StepFailed message
        | None when finished -> StepFailed(Failures.finished k.Name t)
        | None -> this.Attempt()

    member private _.Refresh() =
        matrix.Evaluate(f, t, y, f0)
        if not autonomous then
            // f_t by a forward difference (RODAS's increment sqrt(uround max(1e-5, |t|))).
            let delta = Math.Sqrt(Uround * Math.Max(1e-5, Math.Abs t))
            f (t + delta) y ftmp
            for i in 0 .. n - 1 do
                ft[i] <- (ftmp[i] - f0[i]) / delta
        needJac <- false
        jacFresh <- true
        hLu <- nan

    member private this.Attempt() =
        let mutable result = ValueNone
        while result.IsNone do
            if counters.Steps >= options.MaxSteps then
                result <-
                    ValueSome(StepFailed(Failures.budget k.Name options.MaxSteps t tEnd))
            elif 0.1 * Math.Abs h <= Math.Abs t * Uround || Math.Abs h < options.MinStep then
                result <-
                    ValueSome(StepFailed(Failures.underflow k.Name t h options.MinStep lastNonFinite ": the error test failed at every step size tried"))
            else
                if needJac then this.Refresh()
                let mutable singular = false
                if h <> hLu then
                    counters.Decompositions <- counters.Decompositions + 1
                    singular <- not (matrix.FactorReal(1.0 / (k.Gamma * h), 1.0))
                    hLu <- if singular then nan else h
                if singular then
                    nsing <- nsing + 1
                    if nsing >= 5 then
                        result <- ValueSome(StepFailed(sprintf "%s: the matrix I/(h gamma) - J is singular (5 times) at t = %s (h = %s)" k.Name (fmt t) (fmt (Math.Abs h))))
                    else
                        h <- h * 0.5
                        reject <- true
                        last <- false
                else
                    counters.Steps <- counters.Steps + 1
                    result <- this.TryStep()
        result.Value

    /// The stages, the new solution and the error estimate for the current h, J and LU; Some Accepted, or None
    /// after a rejection (state prepared for the next attempt).
    member private _.TryStep() : StepStatus voption =
        let xph = if last then tEnd else t + h
        let hinv = 1.0 / h
        let mutable finite = true
        let mutable i = 0
        while finite && i < s do
            let ui = u[i]
            if i = 0 then
                Array.blit f0 0 ui 0 n
            else
                Array.blit y 0 ytmp 0 n
                for j in 0 .. i - 1 do
                    let a = k.A[i, j]
                    if a <> 0.0 then
                        let uj = u[j]
                        for l in 0 .. n - 1 do
                            ytmp[l] <- ytmp[l] + a * uj[l]
                let ti = if k.Nodes[i] = 1.0 then xph else t + k.Nodes[i] * h
                f ti ytmp ui
                finite <- allFinite ui
            if finite then
                for j in 0 .. i - 1 do
                    let c = k.C[i, j] * hinv
                    if c <> 0.0 then
                        let uj = u[j]
                        for l in 0 .. n - 1 do
                            ui[l] <- ui[l] + c * uj[l]
                if not autonomous && k.D[i] <> 0.0 then
                    let hd = h * k.D[i]
                    for l in 0 .. n - 1 do
                        ui[l] <- ui[l] + hd * ft[l]
                matrix.SolveReal ui
                finite <- allFinite ui
            i <- i + 1
        if not finite then
            // A stage left the domain of f (or the solve overflowed): a much smaller step.
            lastNonFinite <- true
            counters.Rejected <- counters.Rejected + 1
            h <- h * 0.2
            reject <- true
            last <- false
            if not jacFresh then needJac <- true
            ValueNone
        else
            lastNonFinite <- false
            Array.blit y 0 ynew 0 n
            Array.Clear err
            for j in 0 .. s - 1 do
                let m = k.M[j]
                let e = k.E[j]
                let uj = u[j]
                for l in 0 .. n - 1 do
                    ynew[l] <- ynew[l] + m * uj[l]
                    err[l] <- err[l] + e * uj[l]
            let mutable e = scaledRms options.AbsTol options.RelTol err y ynew
            if not (Double.IsFinite e) then e <- 1e10
            e <- Math.Max(e, 1e-10)
            let mutable fac = Math.Max(facMin, Math.Min(facMax, Math.Pow(e, expo) / safe))
            let mutable hnew = h / fac
            if e <= 1.0 then
                counters.Accepted <- counters.Accepted + 1
                // Predictive controller of Gustafsson (as in RODAS).
                if not first && hacc <> 0.0 then
                    let facgus = Math.Max(facMin, Math.Min(facMax, (hacc / h) * Math.Pow(e * e / erracc, expo) / safe))
                    fac <- Math.Max(fac, facgus)
                    hnew <- h / fac
                hacc <- h
                erracc <- Math.Max(1e-2, e)
                first <- false
                nsing <- 0
                // Dense output from the stages of this step.
                for r in 0 .. denseRows - 1 do
                    let dr = dense[r]
                    Array.Clear dr
                    for j in 0 .. s - 1 do
                        let c = k.H[r, j]
                        if c <> 0.0 then
                            let uj = u[j]
                            for l in 0 .. n - 1 do
                                dr[l] <- dr[l] + c * uj[l]
                Array.blit y 0 yOld 0 n
                Array.blit f0 0 fOld 0 n
                Array.blit ynew 0 y 0 n
                tPrev <- t
                hOld <- h
                t <- xph
                jacFresh <- false
                if not reuseJacobian then needJac <- true
                if last then
                    finished <- true
                    h <- hnew
                    // f at the end point serves the Hermite dense output; the tableaus with their own dense output
                    // skip it.
                    if denseRows = 0 then f t y f0
                else
                    f t y f0
                    if not (allFinite f0) then
                        pendingError <- Some(sprintf "%s: the right-hand side returned NaN or infinity at the accepted point t = %s" k.Name (fmt t))
                    hnew <- dir * Math.Min(Math.Abs hnew, hmaxn)
                    if reject then hnew <- dir * Math.Min(Math.Abs hnew, Math.Abs h)
                    reject <- false
                    let qt = hnew / h
                    if not needJac && qt >= quot1 && qt <= quot2 then hnew <- h
                    if (t + hnew * 1.0001 - tEnd) * dir >= 0.0 then
                        h <- tEnd - t
                        last <- true
                    else h <- hnew
                ValueSome Accepted
            else
                counters.Rejected <- counters.Rejected + 1
                reject <- true
                last <- false
                h <- if first then h * 0.1 else hnew
                // A W-method keeps its Jacobian until a step is rejected; then it takes a fresh one.
                if not jacFresh then needJac <- true
                ValueNone

    /// The continuous output of the last step.
    override _.Interpolate(tq: float, result: float[]) =
        if tq = t then
            Array.blit y 0 result 0 n
        else
            let th = (tq - tPrev) / hOld
            let th1 = 1.0 - th
            if denseRows > 0 then
                for l in 0 .. n - 1 do
                    let mutable p = dense[denseRows - 1][l]
                    for r in denseRows - 2 .. -1 .. 0 do
                        p <- dense[r][l] + th * p
                    result[l] <- th1 * yOld[l] + th * (y[l] + th1 * p)
            else
                // Cubic Hermite through (y0, h f0) and (y1, h f1).
                let h00 = th1 * th1 * (1.0 + 2.0 * th)
                let h01 = th * th * (3.0 - 2.0 * th)
                let h10 = th * th1 * th1 * hOld
                let h11 = -th * th * th1 * hOld
                for l in 0 .. n - 1 do
                    result[l] <- h00 * yOld[l] + h01 * y[l] + h10 * fOld[l] + h11 * f0[l]
