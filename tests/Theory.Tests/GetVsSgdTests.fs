/// The Gaussian-equivalence ODEs against online SGD on Gaussian inputs (SCIENCE.md section 4, "Validity"): at
/// D = 1000, K = 4, the ODE's generalisation error follows the mean of three SGD runs of the simulator within 2% at
/// every logged time. The inputs are the Gaussian clone of the 1D NLGP task (ring of L = 1000 pixels, xi = 1 and 5),
/// so the Gaussian equivalence is exact and only finite-D effects (O(eta / sqrt D) per run) separate the two.
///
/// Each seed's ODE starts from that seed's initial weights (`Initialisation.Weights`, as the simulator does), and the
/// means over the three seeds are compared. Two measures of the SGD error: the test error on the run's held-out set
/// (10,000 samples: what a user sees, with a test-set noise of a few 0.1%), and the exact population error of the
/// run's network on Gaussian inputs, i.e. the Gaussian error formula at the run's own order parameters measured
/// from its weights (`Engine.nlgpErrorAt`; no test-set noise). Both must lie within 2% of the ODE.
///
/// The test can fail: with the eta^2 term of dq/dt dropped (measured on this set-up, not committed) the largest
/// deviations are 9.3% (erf) and 7.6% (ReLU); with it they are below 1%. It runs ~300,000 SGD steps at D = 1000 and
/// six ODE integrations (about 20 s on two cores).
module Theory.Tests.GetVsSgdTests

open System
open Xunit
open Theory.Interop
open Theory.Gaussian
open Theory.Get
open Theory.Simulation.Data
open Theory.Simulation.Training

/// The 1D task at D = 1000: xi0 = 1, xi1 = 5 (a contrast that the networks below learn quickly); the gain does not
/// matter for the clone.
let private data = DataSpec(Dim = 1, Size = 1000, Xi0 = 1.0, Xi1 = 5.0, Gain = 10.0)

let private seeds = 3
let private tolerance = 0.02

/// Training on the Gaussian clone to T = 100, 30 log-spaced times from 0.1 (steps 100 ... 100,000), no snapshots.
let private training (lr: float) (seed: int) =
    TrainingSpec(
        Lr = lr,
        Convention = LrConvention.Reference,
        Time = 100.0,
        Seed = seed,
        Inputs = InputKind.Gp,
        TestSize = 10_000,
        LogPoints = 30,
        LogStart = 0.1,
        Snapshots = 0
    )

type private Comparison =
    { Times: float[]
      /// Mean over seeds of the ODE's eps_g (each seed from its own initial weights).
      Ode: float[]
      /// Mean over seeds of the SGD runs' test error eps_g.
      Test: float[]
      /// Mean over seeds of the SGD runs' population error (the Gaussian formula at the run's order parameters).
      Population: float[] }

/// Runs the three SGD seeds through `SimulationRun.RunSeeds` and the ODE of each seed on the runs' logged times.
let private compare (network: NetworkSpec) (lr: float) =
    let task = NlgpTask(data)
    let runs = SimulationRun.RunSeeds(task, network, training lr 0, seeds)
    for r in runs do
        Assert.True((r.Outcome = SimulationOutcome.Completed), sprintf "SGD seed %d: %A %s" r.Seed r.Outcome r.Failure)
    let times = runs[0].Points |> Seq.map (fun p -> p.T) |> Array.ofSeq
    for r in runs do
        Assert.Equal<float[]>(times, r.Points |> Seq.map (fun p -> p.T) |> Array.ofSeq)
    let options = { Engine.IntegrationOptions.defaults with ClassError = false }
    let odes =
        Array.init seeds (fun s ->
            let problem = Engine.nlgpProblem data network (training lr s) QuadratureSettings.defaults true
            let ode = Engine.integrateSystem problem.System problem.Initial times options
            Assert.True(ode.Failure.IsNone, sprintf "ODE seed %d: %A" s ode.Failure)
            Assert.Equal(times.Length, ode.Rows.Length)
            ode)
    let activation = Activation.ofSpec network
    let mean (f: int -> float) = (Array.init seeds f |> Array.sum) / float seeds
    { Times = times
      Ode = times |> Array.mapi (fun i _ -> mean (fun s -> odes[s].Rows[i].EpsG))
      Test = times |> Array.mapi (fun i _ -> mean (fun s -> runs[s].Points[i].Test.EpsG))
      Population =
        times
        |> Array.mapi (fun i _ ->
            mean (fun s -> fst (Engine.nlgpErrorAt activation QuadratureSettings.defaults 0 runs[s].Points[i].OrderParameters))) }

/// Asserts the agreement at every logged time, and that the error moved by far more than the tolerance.
let private check (name: string) (c: Comparison) =
    let table =
        Array.init c.Times.Length (fun i ->
            sprintf "t = %8.3f  ode %.5f  sgd test %.5f (%+.4f)  sgd population %.5f (%+.4f)" c.Times[i] c.Ode[i] c.Test[i]
                ((c.Test[i] - c.Ode[i]) / c.Ode[i]) c.Population[i] ((c.Population[i] - c.Ode[i]) / c.Ode[i]))
        |> String.concat "\n"
    let worst (sgd: float[]) = Array.map2 (fun s o -> abs (s - o) / o) sgd c.Ode |> Array.max
    let worstTest, worstPopulation = worst c.Test, worst c.Population
    Assert.True(worstTest <= tolerance, sprintf "%s: test error off the ODE by %.4f (relative)\n%s" name worstTest table)
    Assert.True(worstPopulation <= tolerance, sprintf "%s: population error off the ODE by %.4f\n%s" name worstPopulation table)
    // A meaningful comparison: eps_g falls by more than ten times the tolerance over the run.
    let first, last = c.Ode[0], c.Ode[c.Ode.Length - 1]
    Assert.True(last < (1.0 - 10.0 * tolerance) * first, sprintf "%s: eps_g hardly moved (%g -> %g)" name first last)

[<Fact>]
let ``ReLU with a trained readout and no biases: the ODE follows the mean of three SGD runs within 2% at D = 1000`` () =
    // Initial weights of standard deviation 1 give O(1) fields from the start, so that eps_g falls from 0.62 to
    // 0.43 by T = 100 (reference lr 0.1: eta = 0.8, eta_v = 0.2).
    let network = NetworkSpec(K = 4, Activation = Activation.Relu, Readout = Readout.Trained, BiasMode = BiasMode.None, InitStd = 1.0)
    compare network 0.1 |> check "relu"

[<Fact>]
let ``erf with the mf readout and +-1 biases: the ODE follows the mean of three SGD runs within 2% at D = 1000`` () =
    // The paper's network (trained +-1 biases, readout 1/K) at reference lr 0.5 (eta = eta_b = 4): eps_g rises a
    // little, then falls from 0.50 to 0.38 by T = 100; a large eta makes the eta^2 term matter.
    let network = NetworkSpec(K = 4, Activation = Activation.Erf, Readout = Readout.MeanField, BiasMode = BiasMode.Trained, Bias = 1.0)
    compare network 0.5 |> check "erf"
