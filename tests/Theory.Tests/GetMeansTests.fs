/// Class means in the GET engine (order parameters M) against online SGD simulated here: an isotropic Gaussian
/// mixture x = mu_a + z, z ~ N(0, I_D), mu_0 = -mu_1 = m e, labels +1 / -1, a K = 2 erf committee without biases.
module Theory.Tests.GetMeansTests

open System
open Xunit
open Theory.Gaussian
open Theory.Get
open Theory.Simulation.Data

let private d = 2000
let private k = 2
let private m = 1.5
let private eta = 0.5

/// The engine's system: one mode (S = I) of weight 1 and eigenvalue 1 in both classes; omega^ab = mu_a . mu_b.
let private system =
    { K = k
      Activation = Erf
      Eta = eta
      EtaReadout = 0.0
      EtaBias = 0.0
      TrainReadout = false
      TrainBias = false
      ModeWeights = [| 1.0 |]
      Classes =
        [| { Probability = 0.5; Label = Some 1.0; Spectrum = [| 1.0 |] }
           { Probability = 0.5; Label = Some -1.0; Spectrum = [| 1.0 |] } |]
      Teacher = None
      Means = Some { Overlap = [| [| m * m; -m * m; -m * m; m * m |] |]; TeacherMean = [| [||] |] }
      Quadrature = QuadratureSettings.defaults }

/// Q = w_k . w_l / D and M^a_k = w_k . mu_a / sqrt D of weights w (K x D), mu_a = +-m e_0.
let private overlaps (w: float[]) =
    let q = Array.init (k * k) (fun i -> Seq.sum (seq { for j in 0 .. d - 1 -> w[(i / k) * d + j] * w[(i % k) * d + j] }) / float d)
    let mk = Array.init k (fun i -> m * w[i * d] / sqrt (float d))
    q, [| yield! mk; yield! Array.map (fun x -> -x) mk |]

[<Fact>]
let ``with class means the ODE follows online SGD on a Gaussian mixture`` () =
    let time = 4.0
    for seed in 1 .. 3 do
        let rng = Rng(seed, RngStream.Training)
        let w = Array.zeroCreate (k * d)
        rng.FillGaussian(Span w)
        for i in 0 .. w.Length - 1 do
            w[i] <- 0.3 * w[i]
        let q0, m0 = overlaps w
        let initial =
            { Densities = [| q0 |]
              TeacherDensities = [| [||] |]
              MeanDensities = [| m0 |]
              Readout = [| 1.0; 1.0 |]
              Biases = [| 0.0; 0.0 |] }
        let options =
            { Engine.IntegrationOptions.defaults with
                Solver = Engine.Adaptive { Theory.Ode.Options.defaults with RelTol = 1e-8; AbsTol = 1e-10; MaxStep = 0.02 }
                ClassError = false }
        let ode = Engine.integrateSystem system initial [| 0.0; time |] options
        Assert.True(ode.Failure.IsNone)
        // SGD from the same weights: w_k += (eta / sqrt D) g'(lambda_k) (y - phi) x.
        let x = Array.zeroCreate d
        let lambda = Array.zeroCreate k
        for _ in 1 .. int (time * float d) do
            let a = if rng.NextBool() then 1 else 0
            let y = if a = 0 then 1.0 else -1.0
            rng.FillGaussian(Span x)
            x[0] <- x[0] + (if a = 0 then m else -m)
            let mutable phi = 0.0
            for i in 0 .. k - 1 do
                let mutable s = 0.0
                for j in 0 .. d - 1 do
                    s <- s + w[i * d + j] * x[j]
                lambda[i] <- s / sqrt (float d)
                phi <- phi + Erf.g lambda[i]
            let delta = y - phi
            for i in 0 .. k - 1 do
                let c = eta / sqrt (float d) * Erf.gPrime lambda[i] * delta
                for j in 0 .. d - 1 do
                    w[i * d + j] <- w[i * d + j] + c * x[j]
        let q, mm = overlaps w
        let last = ode.Rows[ode.Rows.Length - 1].Order
        // Finite-D fluctuations are O(eta / sqrt D) ~ 1%: allow 4% (relative to the size of the overlaps).
        for a in 0 .. 1 do
            for i in 0 .. k - 1 do
                let e = last.M[a][i]
                Assert.True(abs (e - mm[a * k + i]) < 0.04 * (abs e + 0.1), sprintf "seed %d: M%d_%d ODE %g, SGD %g" seed a i e mm[a * k + i])
        for i in 0 .. k * k - 1 do
            let e = last.Q[0][i]
            Assert.True(abs (e - q[i]) < 0.04 * (abs e + 0.1), sprintf "seed %d: Q[%d] ODE %g, SGD %g" seed i e q[i])
        // and the means were learnt: M moved far from its initial O(1/sqrt D) value
        let grown = last.M.[0].[0]
        Assert.True(abs grown > 0.3, sprintf "M did not grow: %g" grown)
