using System.Diagnostics;
using Theory.Interop;
using Theory.Interop.Io;
using Theory.Simulation.Analysis;
using Theory.Simulation.Data;

namespace Theory.Simulation.Training;

/// <summary>What is measured on the convolutional baseline at one logged time.</summary>
/// <param name="Step">SGD steps done.</param>
/// <param name="T">Time steps / D.</param>
/// <param name="Test">Test error and accuracy (no pre-activation statistics).</param>
/// <param name="FilterIpr">Per filter: IPR over its taps.</param>
/// <param name="V">Readout weights.</param>
/// <param name="B">Biases.</param>
public sealed record ConvolutionMeasurement(long Step, double T, TestEvaluation Test, double[] FilterIpr, double[] V,
    double[] B);

/// <summary>A run of the convolutional baseline; snapshots hold the filters (K x q) in <c>W</c>.</summary>
public sealed class ConvolutionResult
{
    public required int Seed { get; init; }
    public required DataSpec Data { get; init; }
    public required NetworkSpec Network { get; init; }
    public required TrainingSpec Training { get; init; }
    public required int Kernel { get; init; }
    public required double[] InitialFilters { get; init; }
    public List<ConvolutionMeasurement> Points { get; } = new();
    public List<WeightSnapshot> Snapshots { get; } = new();
    public SimulationOutcome Outcome { get; set; } = SimulationOutcome.Completed;
    public string? Failure { get; set; }
    public long FailedStep { get; set; } = -1;
    public long Steps { get; set; }
    public double SgdSeconds { get; set; }
    public double StepsPerSecond => SgdSeconds > 0 ? Steps / SgdSeconds : double.NaN;
    public int Taps => Data.Dim == 1 ? Kernel : Kernel * Kernel;
}

/// <summary>
/// Online SGD of the <see cref="ConvolutionalNetwork"/> on the same task, inputs, streams, schedule and guard as
/// <see cref="SimulationRun"/> (time t = steps / D, so both see the same samples per unit of time).
/// </summary>
public static class ConvolutionRun
{
    public static ConvolutionResult Run(NlgpTask task, NetworkSpec network, TrainingSpec training, int kernel,
        Action<double>? onProgress = null, CancellationToken cancellation = default,
        Func<InputKind, Rng, ISampleSource>? sources = null)
    {
        sources ??= task.CreateSource;
        int d = task.D, seed = training.Seed;
        var rates = LearningRates.Resolve(training, network);
        var net = new ConvolutionalNetwork(network, task.Spec, kernel, rates, training.InitialWeightsSeed);
        var result = new ConvolutionResult
        {
            Seed = seed, Data = task.Spec, Network = network, Training = training, Kernel = kernel,
            InitialFilters = (double[])net.F.Clone(),
        };
        var testSet = TestSet.Draw(sources(training.Inputs, new Rng(seed, RngStream.TestSet)), training.TestSize);
        var schedule = new Schedule(training, d);
        var logs = new HashSet<long>(schedule.LogSteps);
        var snaps = new HashSet<long>(schedule.SnapshotSteps);
        var source = sources(training.Inputs, new Rng(seed, RngStream.Training));
        var x = new double[d];
        var sgd = new Stopwatch();
        long step = 0, final = schedule.FinalStep;
        Action<long>? chunk = onProgress is null ? null : s => onProgress(final > 0 ? (double)s / final : 1.0);
        foreach (long target in schedule.EventSteps)
        {
            var state = OnlineLoop.Advance(net, source, x, step, target, d, sgd, chunk, cancellation);
            step = result.Steps = state.Steps;
            if (state.Failure is not null)
            {
                result.Outcome = SimulationOutcome.Diverged;
                result.Failure = state.Failure;
                result.FailedStep = step;
                break;
            }
            if (state.Cancelled)
            {
                result.Outcome = SimulationOutcome.Cancelled;
                break;
            }
            double t = step / (double)d;
            if (logs.Contains(step))
            {
                var ipr = new double[net.K];
                for (int k = 0; k < net.K; k++) ipr[k] = ReceptiveField.Ipr(net.UnitWeights(k));
                result.Points.Add(new ConvolutionMeasurement(step, t, testSet.Evaluate(net.Output), ipr,
                    (double[])net.V.Clone(), (double[])net.B.Clone()));
            }
            if (snaps.Contains(step))
                result.Snapshots.Add(new WeightSnapshot(step, t, (double[])net.F.Clone(), (double[])net.V.Clone(),
                    (double[])net.B.Clone()));
        }
        onProgress?.Invoke(1.0);
        result.SgdSeconds = sgd.Elapsed.TotalSeconds;
        return result;
    }

    /// <summary>Seeds Seed .. Seed + count - 1 in parallel, results in seed order (as <see cref="SimulationRun.RunSeeds"/>).</summary>
    public static ConvolutionResult[] RunSeeds(NlgpTask task, NetworkSpec network, TrainingSpec training, int kernel,
        int count, Action<int, double>? onProgress = null, CancellationToken cancellation = default, int maxParallel = 0)
    {
        var results = new ConvolutionResult[count];
        var options = new ParallelOptions { MaxDegreeOfParallelism = maxParallel > 0 ? maxParallel : Environment.ProcessorCount };
        Parallel.For(0, count, options, i =>
        {
            var spec = training with { Seed = checked(training.Seed + i) };
            results[i] = Run(task, network, spec, kernel, f => onProgress?.Invoke(i, f), cancellation);
        });
        return results;
    }

    /// <summary>trajectory.csv of convolutional runs: errors, mean filter IPR, v and b.</summary>
    public static CsvTable Trajectory(IReadOnlyList<ConvolutionResult> runs)
    {
        int k = runs[0].Network.K;
        var cols = new List<string> { "seed", "step", "t", "eps_g", "mse", "accuracy", "eps_g_0", "eps_g_1", "filter_ipr_mean" };
        for (int i = 0; i < k; i++) cols.Add($"v_{i}");
        for (int i = 0; i < k; i++) cols.Add($"b_{i}");
        var table = new CsvTable(cols);
        foreach (var run in runs)
            foreach (var m in run.Points)
                table.Add(run.Seed).Add(m.Step).Add(m.T).Add(m.Test.EpsG).Add(m.Test.Mse).Add(m.Test.Accuracy)
                    .Add(m.Test.EpsGByClass[0]).Add(m.Test.EpsGByClass[1]).Add(m.FilterIpr.Average())
                    .AddRange(m.V).AddRange(m.B).EndRow();
        return table;
    }

    /// <summary>units.csv of convolutional runs: one row per filter and logged time.</summary>
    public static CsvTable Units(IReadOnlyList<ConvolutionResult> runs)
    {
        var table = new CsvTable(["seed", "step", "t", "unit", "population", "ipr", "v", "b"]);
        foreach (var run in runs)
            foreach (var m in run.Points)
                for (int k = 0; k < run.Network.K; k++)
                    table.Add(run.Seed).Add(m.Step).Add(m.T).Add(k).Add(Populations.Of(run.Network, k))
                        .Add(m.FilterIpr[k]).Add(m.V[k]).Add(m.B[k]).EndRow();
        return table;
    }

    /// <summary>Filter snapshots of one run: step, t, unit, tap offset (x, y; y = 0 in 1D), weight, and the unit's readout
    /// v and bias b at that step (repeated on each of its rows).</summary>
    public static CsvTable Filters(ConvolutionResult run)
    {
        var table = new CsvTable(["step", "t", "unit", "x", "y", "w", "v", "b"]);
        int q = run.Taps, kernel = run.Kernel, dim = run.Data.Dim;
        foreach (var s in run.Snapshots)
            for (int k = 0; k < run.Network.K; k++)
                for (int j = 0; j < q; j++)
                    table.Add(s.Step).Add(s.T).Add(k).Add((dim == 1 ? j : j % kernel) - kernel / 2)
                        .Add(dim == 1 ? 0 : j / kernel - kernel / 2).Add(s.W[k * q + j]).Add(s.V[k]).Add(s.B[k]).EndRow();
        return table;
    }
}
