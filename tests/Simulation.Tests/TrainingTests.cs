using Theory.Interop;
using Theory.Simulation.Data;
using Theory.Simulation.Training;

namespace Theory.Simulation.Tests;

public class TrainingTests
{
    public static IEnumerable<object[]> AllModels()
    {
        foreach (Activation act in Enum.GetValues<Activation>())
            foreach (Readout readout in Enum.GetValues<Readout>())
                foreach (BiasMode bias in Enum.GetValues<BiasMode>())
                    foreach (LrConvention convention in Enum.GetValues<LrConvention>())
                        yield return [act, readout, bias, convention];
    }

    /// <summary>
    /// One SGD step equals minus the learning rate times a central finite-difference gradient of the loss on that
    /// sample. The expected rates are written from SCIENCE.md section 2, not read from the code under test:
    /// half-MSE (loss (y - phi)^2 / 2): dw = -eta grad_w, dv = -(eta_v / D) grad_v, db = -(eta_b / D) grad_b;
    /// reference (loss (y - phi)^2, first-layer rate lr K): dw = -lr K grad_w, db = -(lr K / D) grad_b,
    /// dv = -(lr_v / D) grad_v. Untrained readouts and biases do not move.
    /// </summary>
    [Theory]
    [MemberData(nameof(AllModels))]
    public void StepIsMinusLearningRateTimesFiniteDifferenceGradient(Activation act, Readout readout, BiasMode bias,
        LrConvention convention)
    {
        const int d = 12;
        var spec = new NetworkSpec { K = 4, Activation = act, Readout = readout, BiasMode = bias, Bias = 0.7,
            InitStd = 1.0, CubicAlpha = 1.3, CubicBeta = 0.4 };
        var training = new TrainingSpec { Lr = 0.03, LrReadout = 0.02, LrBias = 0.05, Convention = convention };
        var rates = LearningRates.Resolve(training, spec);
        var rng = new Rng(11, 0);
        var w = new double[spec.K * d];
        rng.FillGaussian(w);
        var v = new double[spec.K];
        for (int k = 0; k < spec.K; k++) v[k] = spec.ReadoutValue * (readout == Readout.Trained ? 1 + 0.3 * rng.NextGaussian() : 1);
        var b = Initialisation.Biases(spec);
        for (int k = 0; k < spec.K; k++) if (bias == BiasMode.Trained) b[k] += 0.2 * rng.NextGaussian();
        var x = new double[d];
        rng.FillGaussian(x);
        const double y = -1.0;

        bool half = convention == LrConvention.HalfMse;
        double Loss(double[] ww, double[] vv, double[] bb)
        {
            double e = y - new TwoLayerNetwork(spec, d, rates, ww, vv, bb).Output(x);
            return half ? 0.5 * e * e : e * e;
        }
        double Fd(double[] p, int i, Func<double> loss)
        {
            const double h = 1e-6;
            double keep = p[i];
            p[i] = keep + h;
            double up = loss();
            p[i] = keep - h;
            double down = loss();
            p[i] = keep;
            return (up - down) / (2 * h);
        }
        double rateW = half ? training.Lr : training.Lr * spec.K;
        double rateB = (half ? training.LrBias!.Value : training.LrBias!.Value * spec.K) / d;
        double rateV = training.LrReadout!.Value / d;

        var net = new TwoLayerNetwork(spec, d, rates, w, v, b);
        net.Step(x, y);
        for (int i = 0; i < w.Length; i++)
        {
            double expected = w[i] - rateW * Fd(w, i, () => Loss(w, v, b));
            Assert.True(Math.Abs(net.W[i] - expected) <= 1e-8,
                $"w[{i}]: {net.W[i]} vs {expected}");
        }
        for (int k = 0; k < spec.K; k++)
        {
            double expectedV = readout == Readout.Trained ? v[k] - rateV * Fd(v, k, () => Loss(w, v, b)) : v[k];
            double expectedB = bias == BiasMode.Trained ? b[k] - rateB * Fd(b, k, () => Loss(w, v, b)) : b[k];
            Assert.True(Math.Abs(net.V[k] - expectedV) <= 1e-8, $"v[{k}]: {net.V[k]} vs {expectedV}");
            Assert.True(Math.Abs(net.B[k] - expectedB) <= 1e-8, $"b[{k}]: {net.B[k]} vs {expectedB}");
        }
        // The step must have moved the first layer (a no-op would pass the comparisons only if the gradient vanished).
        Assert.NotEqual(w, net.W);
    }

    [Theory]
    [InlineData(Activation.Erf)]
    [InlineData(Activation.Relu)]
    [InlineData(Activation.Sigmoid)]
    [InlineData(Activation.Linear)]
    [InlineData(Activation.Cubic)]
    public void ActivationDerivativeMatchesFiniteDifference(Activation act)
    {
        var g = new ActivationFunction(act, 0.8, 1.7);
        foreach (double h in new[] { -2.3, -0.7, -0.1, 0.2, 0.9, 3.1 })
        {
            const double e = 1e-6;
            double fd = (g.Value(h + e) - g.Value(h - e)) / (2 * e);
            Assert.Equal(fd, g.Derivative(h), 7);
        }
    }

    [Fact]
    public void ActivationsHaveTheirDefiningValues()
    {
        // erf(h / sqrt 2) = 2 Phi(h) - 1: Phi(1) = 0.841344746068543.
        Assert.Equal(2 * 0.841344746068543 - 1, new ActivationFunction(Activation.Erf).Value(1.0), 13);
        Assert.Equal(0.0, new ActivationFunction(Activation.Relu).Value(-2.0));
        Assert.Equal(1.0 / (1.0 + Math.Exp(-0.5)), new ActivationFunction(Activation.Sigmoid).Value(0.5), 15);
        Assert.Equal(2.0 * 1.5 - 3.0 / 3.0 * 1.5 * 1.5 * 1.5, new ActivationFunction(Activation.Cubic, 2.0, 3.0).Value(1.5), 14);
    }

    [Fact]
    public void ScheduleLogsTheSharedGridAndSnapshotsTheEnd()
    {
        var training = new TrainingSpec { Time = 100, LogPoints = 30, LogStart = 0.01, Snapshots = 5 };
        var s = new Schedule(training, 50);
        Assert.Equal(5000, s.FinalStep);
        Assert.Equal(0, s.LogSteps[0]);
        Assert.Equal(5000, s.LogSteps[^1]);
        Assert.Equal(5000, s.SnapshotSteps[^1]);
        Assert.Equal(s.LogSteps.Distinct().Count(), s.LogSteps.Length);
        foreach (var t in TimeGrid.Of(training)) Assert.Contains(TimeGrid.Step(t, 50), s.LogSteps);
        Assert.Equal([5000L], new Schedule(training with { Snapshots = 0 }, 50).SnapshotSteps);
    }

    private static readonly DataSpec SmallData = new() { Dim = 1, Size = 24, Xi0 = 1, Xi1 = 3, Gain = 10 };

    [Fact]
    public void SameSeedGivesBitwiseIdenticalRunsAlsoInParallel()
    {
        var task = new NlgpTask(SmallData);
        var net = new NetworkSpec();
        var training = new TrainingSpec { Time = 40, TestSize = 200, LogPoints = 8, Snapshots = 3, Seed = 5 };
        var alone = SimulationRun.Run(task, net, training with { Seed = 6 });
        var together = SimulationRun.RunSeeds(task, net, training, 3, maxParallel: 3);
        Assert.Equal([5, 6, 7], together.Select(r => r.Seed));
        Assert.Equal(SimulationTables.Trajectory([alone]).ToString(), SimulationTables.Trajectory([together[1]]).ToString());
        Assert.Equal(SimulationTables.Weights(alone).ToString(), SimulationTables.Weights(together[1]).ToString());
        Assert.NotEqual(SimulationTables.Weights(together[0]).ToString(), SimulationTables.Weights(together[1]).ToString());
    }

    [Fact]
    public void HugeLearningRateDivergesWithStepQuantityAndCause()
    {
        var task = new NlgpTask(SmallData);
        var net = new NetworkSpec { Activation = Activation.Relu, Readout = Readout.Committee };
        var training = new TrainingSpec { Time = 50, TestSize = 100, LogPoints = 20, Lr = 50, LogStart = 0.01 };
        var run = SimulationRun.Run(task, net, training);
        Assert.Equal(SimulationOutcome.Diverged, run.Outcome);
        Assert.InRange(run.FailedStep, 1, 50 * 24);
        Assert.Contains($"step {run.FailedStep}", run.Failure);
        Assert.Contains("learning rate", run.Failure);
        Assert.NotEmpty(run.Points); // t = 0 at least was measured and is kept
        Assert.All(run.Points, p => Assert.True(p.Step <= run.FailedStep));
    }

    /// <summary>
    /// The paper's effect at small scale (SCIENCE.md section 3): on a ring of L = 40 pixels at gain 10, the units with
    /// a positive bias grow localised receptive fields on NLGP inputs by t = 1000 (about 1 s per run), while on the
    /// Gaussian clone no population rises above the i.i.d. Gaussian IPR 3 / (D + 2) = 0.071. Measured over seeds
    /// 0-5 (theory simulate --dim 1 --size 40 --time 1000 --test-size 500 --seeds 6): NLGP positive population
    /// 0.18-0.22, negative population 0.064-0.091; clone populations 0.054-0.073.
    /// </summary>
    [Fact]
    public void NlgpLocalisesThePositivePopulationAndTheCloneDoesNot()
    {
        var task = new NlgpTask(new DataSpec { Dim = 1, Size = 40, Xi0 = 1, Xi1 = 3, Gain = 10 });
        var net = new NetworkSpec();
        var training = new TrainingSpec { Time = 1000, TestSize = 500, LogPoints = 3, Snapshots = 0 };
        double Population(SimulationResult r, int from) => r.Last!.Ipr.Skip(from).Take(4).Average();
        var nlgp = SimulationRun.RunSeeds(task, net, training, 2);
        var clone = SimulationRun.RunSeeds(task, net, training with { Inputs = InputKind.Gp }, 2);
        double nlgpPositive = nlgp.Average(r => Population(r, 0));
        double nlgpNegative = nlgp.Average(r => Population(r, 4));
        double cloneLargest = clone.Average(r => Math.Max(Population(r, 0), Population(r, 4)));
        double gaussian = 3.0 / 42;
        Assert.True(nlgpPositive > 2 * gaussian, $"NLGP positive population IPR {nlgpPositive}");
        Assert.True(nlgpPositive > 2 * cloneLargest, $"NLGP {nlgpPositive} vs clone {cloneLargest}");
        Assert.True(nlgpNegative < 1.5 * gaussian, $"NLGP negative population IPR {nlgpNegative}");
        Assert.True(cloneLargest < 1.5 * gaussian, $"clone IPR {cloneLargest}");
    }

    [Theory]
    [InlineData(1, 3, Activation.Erf, Readout.Trained, BiasMode.Trained)]
    [InlineData(1, 4, Activation.Relu, Readout.MeanField, BiasMode.Trained)]
    [InlineData(2, 3, Activation.Erf, Readout.Trained, BiasMode.Fixed)]
    [InlineData(2, 2, Activation.Cubic, Readout.Committee, BiasMode.Trained)]
    public void ConvolutionalStepIsMinusLearningRateTimesFiniteDifferenceGradient(int dim, int kernel, Activation act,
        Readout readout, BiasMode bias)
    {
        var data = new DataSpec { Dim = dim, Size = dim == 1 ? 11 : 5 };
        var spec = new NetworkSpec { K = 3, Activation = act, Readout = readout, BiasMode = bias, Bias = 0.4, InitStd = 1.0 };
        var training = new TrainingSpec { Lr = 0.03, LrReadout = 0.02, LrBias = 0.05, Convention = LrConvention.HalfMse };
        var rates = LearningRates.Resolve(training, spec);
        var rng = new Rng(21, 0);
        int q = dim == 1 ? kernel : kernel * kernel, d = data.D;
        var f = new double[spec.K * q];
        rng.FillGaussian(f);
        var v = Initialisation.Readout(spec);
        var b = Initialisation.Biases(spec);
        var x = new double[d];
        rng.FillGaussian(x);
        const double y = 1.0;
        double Loss()
        {
            double e = y - new ConvolutionalNetwork(spec, data, kernel, rates, f, v, b).Output(x);
            return 0.5 * e * e;
        }
        double Fd(double[] p, int i)
        {
            const double h = 1e-6;
            double keep = p[i];
            p[i] = keep + h;
            double up = Loss();
            p[i] = keep - h;
            double down = Loss();
            p[i] = keep;
            return (up - down) / (2 * h);
        }
        var net = new ConvolutionalNetwork(spec, data, kernel, rates, f, v, b);
        net.Step(x, y);
        for (int i = 0; i < f.Length; i++)
            Assert.True(Math.Abs(net.F[i] - (f[i] - training.Lr * Fd(f, i))) <= 1e-8, $"f[{i}]");
        for (int k = 0; k < spec.K; k++)
        {
            double ev = readout == Readout.Trained ? v[k] - 0.02 / d * Fd(v, k) : v[k];
            double eb = bias == BiasMode.Trained ? b[k] - 0.05 / d * Fd(b, k) : b[k];
            Assert.True(Math.Abs(net.V[k] - ev) <= 1e-9, $"v[{k}]");
            Assert.True(Math.Abs(net.B[k] - eb) <= 1e-9, $"b[{k}]");
        }
        Assert.NotEqual(f, net.F);
    }

    [Theory]
    [InlineData(1, 5)]
    [InlineData(2, 3)]
    public void ConvolutionalOutputIsInvariantUnderCircularShifts(int dim, int kernel)
    {
        var data = new DataSpec { Dim = dim, Size = 9 };
        var spec = new NetworkSpec { K = 4, InitStd = 1.0 };
        var net = new ConvolutionalNetwork(spec, data, kernel, default, 3);
        var rng = new Rng(8, 0);
        var x = new double[data.D];
        rng.FillGaussian(x);
        double phi = net.Output(x);
        var shifted = new double[data.D];
        for (int i = 0; i < data.D; i++)
        {
            int px = dim == 1 ? i : i % 9, py = dim == 1 ? 0 : i / 9;
            int j = dim == 1 ? (px + 3) % 9 : ((py + 2) % 9) * 9 + (px + 5) % 9;
            shifted[j] = x[i];
        }
        Assert.Equal(phi, net.Output(shifted), 12);
        Assert.NotEqual(phi, net.Output(x.Select((xi, i) => i == 0 ? xi + 1 : xi).ToArray()));
    }

    /// <summary>
    /// The fused first-layer kernels (blocks of four rows, vector bodies and scalar tails) agree with a plain loop
    /// for every K mod 4 and D mod 8.
    /// </summary>
    [Theory]
    [InlineData(1, 3)]
    [InlineData(3, 8)]
    [InlineData(4, 13)]
    [InlineData(5, 16)]
    [InlineData(7, 37)]
    [InlineData(8, 400)]
    [InlineData(9, 21)]
    public void StepAgreesWithAPlainLoopForAnyShape(int k, int d)
    {
        var spec = new NetworkSpec { K = k, Readout = Readout.Trained, InitStd = 1.0 };
        var rates = new LearningRates(0.7, 0.3, 0.5);
        var rng = new Rng(31, 0);
        var net = new TwoLayerNetwork(spec, d, rates, 2);
        var w = (double[])net.W.Clone();
        var v = (double[])net.V.Clone();
        var b = (double[])net.B.Clone();
        var x = new double[d];
        rng.FillGaussian(x);
        var act = new ActivationFunction(spec);
        double phi = 0;
        var gp = new double[k];
        for (int u = 0; u < k; u++)
        {
            double dot = 0;
            for (int i = 0; i < d; i++) dot += w[u * d + i] * x[i];
            double lambda = dot / Math.Sqrt(d) + b[u];
            phi += v[u] * act.Value(lambda);
            gp[u] = act.Derivative(lambda);
        }
        const double y = 1.0;
        double delta = net.Step(x, y);
        Assert.Equal(y - phi, delta, 12);
        for (int u = 0; u < k; u++)
            for (int i = 0; i < d; i++)
            {
                double expected = w[u * d + i] + rates.W / Math.Sqrt(d) * v[u] * gp[u] * (y - phi) * x[i];
                Assert.True(Math.Abs(net.W[u * d + i] - expected) <= 1e-12 * (1 + Math.Abs(expected)), $"w[{u},{i}]");
            }
    }
}
