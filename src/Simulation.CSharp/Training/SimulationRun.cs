using System.Diagnostics;
using Theory.Interop;
using Theory.Simulation.Analysis;
using Theory.Simulation.Data;

namespace Theory.Simulation.Training;

/// <summary>How a run ended.</summary>
public enum SimulationOutcome { Completed, Diverged, Cancelled }

/// <summary>The first-layer weights (K x D row-major), readout and biases at one step.</summary>
public sealed record WeightSnapshot(long Step, double T, double[] W, double[] V, double[] B);

/// <summary>
/// A finished (or stopped) run: every measurement and snapshot taken, in time order, and how it ended. A diverged
/// or cancelled run keeps everything measured before it stopped.
/// </summary>
public sealed class SimulationResult
{
    public required int Seed { get; init; }
    public required DataSpec Data { get; init; }
    public required NetworkSpec Network { get; init; }
    public required TrainingSpec Training { get; init; }
    public required LearningRates Rates { get; init; }
    public List<NetworkMeasurement> Points { get; } = new();
    public List<WeightSnapshot> Snapshots { get; } = new();
    public SimulationOutcome Outcome { get; set; } = SimulationOutcome.Completed;
    /// <summary>Why the run diverged (step, quantity, likely cause), or null.</summary>
    public string? Failure { get; set; }
    /// <summary>The step at which the run diverged, or -1.</summary>
    public long FailedStep { get; set; } = -1;
    /// <summary>SGD steps done.</summary>
    public long Steps { get; set; }
    /// <summary>Seconds spent in the SGD loop (sampling included, measurements excluded).</summary>
    public double SgdSeconds { get; set; }
    /// <summary>Seconds for the whole run (test set, measurements and snapshots included).</summary>
    public double WallSeconds { get; set; }

    public double StepsPerSecond => SgdSeconds > 0 ? Steps / SgdSeconds : double.NaN;
    public NetworkMeasurement? Last => Points.Count > 0 ? Points[^1] : null;
}

/// <summary>
/// Online SGD of a two-layer network on the NLGP task or its Gaussian clone (SCIENCE.md sections 2 and 3): one
/// fresh sample per step from the <see cref="RngStream.Training"/> stream, measurements on a fixed test set at
/// the times of <see cref="TimeGrid.Of"/>, weight snapshots, and a divergence guard. Runs of different seeds are
/// independent and may run in parallel on one shared <see cref="NlgpTask"/>; the same seed and specifications
/// give bitwise-identical results on one machine.
/// </summary>
public static class SimulationRun
{
    /// <summary>
    /// Runs the independent seeds <c>Seed, Seed + 1, ..., Seed + count - 1</c> in parallel (at most
    /// <paramref name="maxParallel"/> at once; default one per core) and returns their results in seed order. Each
    /// seed's result is bitwise the same as a run of that seed alone. <paramref name="onProgress"/> receives
    /// (index of the seed in 0..count-1, fraction done) and must be thread-safe.
    /// </summary>
    public static SimulationResult[] RunSeeds(NlgpTask task, NetworkSpec network, TrainingSpec training, int count,
        Action<int, double>? onProgress = null, CancellationToken cancellation = default, int maxParallel = 0,
        Func<InputKind, Rng, ISampleSource>? sources = null)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count));
        var results = new SimulationResult[count];
        var options = new ParallelOptions
        {
            MaxDegreeOfParallelism = maxParallel > 0 ? maxParallel : Environment.ProcessorCount,
        };
        Parallel.For(0, count, options, i =>
        {
            var spec = training with { Seed = checked(training.Seed + i) };
            results[i] = Run(task, network, spec, null, f => onProgress?.Invoke(i, f), cancellation, sources);
        });
        return results;
    }

    /// <summary>
    /// Runs one seed (<see cref="TrainingSpec.Seed"/>). <paramref name="onLog"/> sees each measurement as it is
    /// taken, <paramref name="onProgress"/> the fraction of steps done. Divergence and cancellation do not throw:
    /// they end the run with <see cref="SimulationResult.Outcome"/> set and everything measured so far kept.
    /// <paramref name="sources"/> replaces the task's samplers (for example by another sampler of the same
    /// distribution); by default <see cref="NlgpTask.CreateSource"/>.
    /// </summary>
    public static SimulationResult Run(NlgpTask task, NetworkSpec network, TrainingSpec training,
        Action<NetworkMeasurement>? onLog = null, Action<double>? onProgress = null,
        CancellationToken cancellation = default, Func<InputKind, Rng, ISampleSource>? sources = null)
    {
        sources ??= task.CreateSource;
        var wall = Stopwatch.StartNew();
        network.Validate();
        training.Validate();
        int d = task.D, seed = training.Seed;
        var rates = LearningRates.Resolve(training, network);
        var result = new SimulationResult
        {
            Seed = seed, Data = task.Spec, Network = network, Training = training, Rates = rates,
        };
        var net = new TwoLayerNetwork(network, d, rates, training.InitialWeightsSeed);
        var testSet = TestSet.Draw(sources(training.Inputs, new Rng(seed, RngStream.TestSet)), training.TestSize);
        var meter = new NetworkMeter(task, testSet);
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
                var m = meter.Measure(step, t, net);
                result.Points.Add(m);
                onLog?.Invoke(m);
            }
            if (snaps.Contains(step))
                result.Snapshots.Add(new WeightSnapshot(step, t, (double[])net.W.Clone(), (double[])net.V.Clone(),
                    (double[])net.B.Clone()));
        }
        onProgress?.Invoke(1.0);
        result.SgdSeconds = sgd.Elapsed.TotalSeconds;
        result.WallSeconds = wall.Elapsed.TotalSeconds;
        return result;
    }
}
