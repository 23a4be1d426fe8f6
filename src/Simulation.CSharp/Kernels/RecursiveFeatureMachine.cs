using System.Diagnostics;
using Theory.Interop;
using Theory.Simulation.Data;

namespace Theory.Simulation.Kernels;

/// <summary>How the AGOP is scaled before it becomes the next metric.</summary>
public enum AgopNormalisation
{
    /// <summary>M = AGOP as it is.</summary>
    None,

    /// <summary>M = AGOP / (its largest entry), so that the largest entry is 1.</summary>
    Max,
}

/// <summary>
/// A recursive feature machine run (SCIENCE.md section 6): kernel, training and test set sizes, bandwidth, ridge,
/// number of metric updates, and the AGOP normalisation.
/// </summary>
public sealed record RfmSpec
{
    /// <summary>Use the convolutional kernel (ConvRFM) instead of the fully-connected Laplace kernel.</summary>
    public bool Convolutional { get; init; }

    /// <summary>Patch side q of the convolutional kernel (patches are q x q in 2D, length q in 1D).</summary>
    public int Patch { get; init; } = 5;

    public int Train { get; init; } = 5000;
    public int Test { get; init; } = 5000;

    /// <summary>Bandwidth L of the Laplace kernel <c>exp(-||x - z||_M / L)</c>.</summary>
    public double Bandwidth { get; init; } = 10.0;

    /// <summary>Ridge lambda of <c>alpha = (K + lambda I)^-1 y</c>.</summary>
    public double Ridge { get; init; } = 1e-3;

    /// <summary>Metric updates M &lt;- AGOP; the run makes Iterations + 1 fits (the last is the final fit).</summary>
    public int Iterations { get; init; } = 5;

    public AgopNormalisation Normalisation { get; init; } = AgopNormalisation.Max;

    /// <summary>Centre the gradients before the outer product (M becomes their covariance). On this task the
    /// predictor's mean gradient is sampling noise (both classes have zero mean) yet dominates the plain AGOP.</summary>
    public bool Centre { get; init; }

    public int Seed { get; init; }
    public InputKind Inputs { get; init; } = InputKind.Nlgp;

    public RfmSpec Validate(DataSpec data)
    {
        Check.InRange("--train", Train, 2, LaplaceKernelMachine.MaxTrain);
        Check.InRange("--test", Test, 1, 10_000_000);
        Check.Positive("--bandwidth", Bandwidth);
        Check.InRange("--bandwidth", Bandwidth, 1e-9, 1e12);
        Check.InRange("--ridge", Ridge, 0, 1e12);
        Check.InRange("--iterations", Iterations, 0, 1000);
        Check.InRange("--seed", Seed, 0, int.MaxValue);
        if (Convolutional) Check.InRange("--patch", Patch, 1, data.Size);
        return this;
    }
}

/// <summary>One fit of a recursive feature machine: iteration t used metric M_t (M_0 = I).</summary>
public sealed record RfmIteration(
    int Iteration,
    double TestAccuracy,
    double TestMse,
    double TrainMse,
    MetricSummary Metric,
    double FitSeconds,
    double TestSeconds,
    double AgopSeconds);

/// <summary>
/// The RFM loop (SCIENCE.md section 6): start from M = I; fit kernel ridge regression with K_M; measure test
/// accuracy and MSE; replace M by the AGOP of the fitted predictor (optionally divided by its largest entry);
/// repeat, and finish with a fit on the last metric. Iteration 0 is the fixed kernel (M = I), the baseline
/// that the learned metrics are compared with.
/// </summary>
public static class RecursiveFeatureMachine
{
    /// <summary>
    /// Runs the loop. <paramref name="onIteration"/> receives each fit's measurements and the metric it used (so a
    /// caller can write results as they come, and keep them if the run is interrupted); <paramref name="progress"/>
    /// receives the completed fraction. Cancellation is checked between stages.
    /// </summary>
    /// <returns>The last metric (the one of the final fit).</returns>
    public static double[] Run(IMetricKernelMachine machine, RfmSpec spec, ReadOnlySpan<double> testX, ReadOnlySpan<double> testY,
        ImageGeometry metricGeometry, Action<RfmIteration, double[]> onIteration, Action<double>? progress = null,
        CancellationToken cancel = default)
    {
        int t = testY.Length;
        if (testX.Length != t * machine.InputDim) throw new ArgumentException("test inputs and labels disagree in count");
        var metric = MetricFactor.Identity(machine.MetricDim);
        var predictions = new double[t];
        int fits = spec.Iterations + 1;
        // Progress weights: a fit, the test predictions and an AGOP cost about the same.
        double total = 3.0 * fits - 1, done = 0;
        void Step()
        {
            done += 1;
            progress?.Invoke(done / total);
        }

        for (int it = 0; it < fits; it++)
        {
            cancel.ThrowIfCancellationRequested();
            var clock = Stopwatch.StartNew();
            machine.Fit(metric);
            double fitSeconds = clock.Elapsed.TotalSeconds;
            Step();
            cancel.ThrowIfCancellationRequested();

            clock.Restart();
            machine.Predict(testX, predictions);
            double testSeconds = clock.Elapsed.TotalSeconds;
            Step();
            var (accuracy, mse) = Score(predictions, testY);
            // Training residual of kernel ridge regression: y - K alpha = lambda alpha exactly.
            double trainMse = 0;
            foreach (var a in machine.Alpha) trainMse += spec.Ridge * spec.Ridge * a * a;
            trainMse /= machine.TrainCount;
            var summary = MetricSummary.Of(metric, machine.Factor, metricGeometry);

            double agopSeconds = 0;
            double[] next = metric;
            if (it < spec.Iterations)
            {
                cancel.ThrowIfCancellationRequested();
                clock.Restart();
                next = Normalise(machine.Agop(spec.Centre), spec.Normalisation);
                agopSeconds = clock.Elapsed.TotalSeconds;
                Step();
            }
            onIteration(new RfmIteration(it, accuracy, mse, trainMse, summary, fitSeconds, testSeconds, agopSeconds), metric);
            metric = next;
        }
        return metric;
    }

    /// <summary>Classification accuracy (sign of the prediction against the +-1 label; 0 counts as wrong) and
    /// mean squared error.</summary>
    public static (double Accuracy, double Mse) Score(ReadOnlySpan<double> predictions, ReadOnlySpan<double> labels)
    {
        int correct = 0;
        double se = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            double p = predictions[i], y = labels[i];
            if (p * y > 0) correct++;
            se += (p - y) * (p - y);
        }
        return ((double)correct / labels.Length, se / labels.Length);
    }

    /// <summary>Applies the normalisation; throws <see cref="RunFailedException"/> for an AGOP that vanished or is not
    /// finite (e.g. every training point coincides with another).</summary>
    public static double[] Normalise(double[] agop, AgopNormalisation how)
    {
        double max = 0;
        foreach (var v in agop)
        {
            if (!double.IsFinite(v)) throw new RunFailedException("the AGOP has a non-finite entry");
            max = Math.Max(max, Math.Abs(v));
        }
        if (max == 0) throw new RunFailedException("the AGOP vanished (the predictor has zero gradient at every training point)");
        if (how == AgopNormalisation.None) return agop;
        var m = new double[agop.Length];
        for (int i = 0; i < m.Length; i++) m[i] = agop[i] / max;
        return m;
    }

    /// <summary>
    /// Draws <paramref name="count"/> labelled images of the task (NLGP or clone, class 0 or 1 with probability 1/2,
    /// label +1 for class 0) from <paramref name="rng"/>: inputs count x D row-major, labels +-1.
    /// </summary>
    public static (double[] X, double[] Y) Draw(NlgpTask task, InputKind kind, int count, Rng rng)
    {
        var source = task.CreateSource(kind, rng);
        int d = task.D;
        var x = new double[count * d];
        var y = new double[count];
        for (int i = 0; i < count; i++) y[i] = DataSpec.Label(source.Next(x.AsSpan(i * d, d)));
        return (x, y);
    }
}
