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
    /// <summary>The step this run resumed from (a checkpoint), or -1 when it started from the initial weights.</summary>
    public long ResumedFromStep { get; set; } = -1;

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
    /// <para>With <paramref name="checkpoint"/> every seed saves and resumes its own state (see
    /// <see cref="Run"/>).</para>
    public static SimulationResult[] RunSeeds(NlgpTask task, NetworkSpec network, TrainingSpec training, int count,
        Action<int, double>? onProgress = null, CancellationToken cancellation = default, int maxParallel = 0,
        Func<InputKind, Rng, ISampleSource>? sources = null, CheckpointPolicy? checkpoint = null)
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
            results[i] = Run(task, network, spec, null, f => onProgress?.Invoke(i, f), cancellation, sources, checkpoint);
        });
        return results;
    }

    /// <summary>
    /// Runs one seed (<see cref="TrainingSpec.Seed"/>). <paramref name="onLog"/> sees each measurement as it is
    /// taken, <paramref name="onProgress"/> the fraction of steps done. Divergence and cancellation do not throw:
    /// they end the run with <see cref="SimulationResult.Outcome"/> set and everything measured so far kept.
    /// <paramref name="sources"/> replaces the task's samplers (for example by another sampler of the same
    /// distribution); by default <see cref="NlgpTask.CreateSource"/>.
    /// <para><paramref name="checkpoint"/>: the run saves its whole state (<see cref="SimulationCheckpoint"/>) every
    /// <see cref="CheckpointPolicy.EverySteps"/> steps and whenever it stops (cancelled, diverged or completed), and
    /// with <see cref="CheckpointPolicy.Resume"/> it continues from the seed's saved state. Cancellation, divergence
    /// checks and checkpoints all fall on multiples of <see cref="DivergenceGuard.CheckEvery"/> steps or on logging
    /// steps, so a run stopped and resumed any number of times gives results bitwise identical to one that ran
    /// through. The samplers must then implement <see cref="IResumableSampleSource"/> (the task's do). A checkpoint
    /// of another configuration, or a damaged one, raises <see cref="InvalidDataException"/>.</para>
    /// </summary>
    public static SimulationResult Run(NlgpTask task, NetworkSpec network, TrainingSpec training,
        Action<NetworkMeasurement>? onLog = null, Action<double>? onProgress = null,
        CancellationToken cancellation = default, Func<InputKind, Rng, ISampleSource>? sources = null,
        CheckpointPolicy? checkpoint = null)
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
        var schedule = new Schedule(training, d);
        var events = schedule.EventSteps;
        var source = sources(training.Inputs, new Rng(seed, RngStream.Training));
        var resumable = source as IResumableSampleSource;
        if (checkpoint is not null && resumable is null)
            throw new ArgumentException("checkpoints need samplers that can save their state (IResumableSampleSource)", nameof(sources));
        string? path = checkpoint?.PathOf(seed);
        string fingerprint = checkpoint is null ? "" : SimulationCheckpoint.Fingerprint(task.Spec, network, training);
        long step = 0;
        int nextEvent = 0;
        double sgdBefore = 0;

        if (checkpoint is { Resume: true } && File.Exists(path))
        {
            var saved = SimulationCheckpoint.Load(path, fingerprint);
            if (saved.Seed != seed || saved.W.Length != net.W.Length || saved.NextEvent < 0 || saved.NextEvent > events.Length)
                throw new InvalidDataException($"checkpoint '{path}' does not fit this run");
            net.SetParameters(saved.W, saved.V, saved.B);
            resumable!.ImportState(saved.Source);
            result.Points.AddRange(saved.Points);
            result.Snapshots.AddRange(saved.Snapshots);
            step = result.Steps = result.ResumedFromStep = saved.Step;
            nextEvent = saved.NextEvent;
            sgdBefore = saved.SgdSeconds;
            if (saved.Status != CheckpointStatus.InProgress)
            {
                // This seed had already finished: its results are the checkpoint's.
                if (saved.Status == CheckpointStatus.Diverged)
                {
                    result.Outcome = SimulationOutcome.Diverged;
                    result.Failure = saved.Failure;
                    result.FailedStep = saved.FailedStep;
                }
                return Finish(result, sgdBefore, wall, onProgress);
            }
        }
        if (cancellation.IsCancellationRequested)
        {
            // Stopped before it started (e.g. a seed still queued at Ctrl-C): nothing new to save.
            result.Outcome = SimulationOutcome.Cancelled;
            return Finish(result, sgdBefore, wall, null);
        }

        var testSet = TestSet.Draw(sources(training.Inputs, new Rng(seed, RngStream.TestSet)), training.TestSize);
        var meter = new NetworkMeter(task, testSet);
        var logs = new HashSet<long>(schedule.LogSteps);
        var snaps = new HashSet<long>(schedule.SnapshotSteps);
        var x = new double[d];
        var sgd = new Stopwatch();
        long final = schedule.FinalStep;
        long every = checkpoint?.EverySteps(d) ?? 0;
        long nextCheckpoint = every > 0 ? (step / every + 1) * every : long.MaxValue;
        Action<long>? chunk = onProgress is null ? null : s => onProgress(final > 0 ? (double)s / final : 1.0);

        void Save(CheckpointStatus status)
        {
            if (checkpoint is null) return;
            new SimulationCheckpoint
            {
                Configuration = fingerprint, Seed = seed, Status = status, Step = step, NextEvent = nextEvent,
                Failure = result.Failure, FailedStep = result.FailedStep, SgdSeconds = sgdBefore + sgd.Elapsed.TotalSeconds,
                W = net.W, V = net.V, B = net.B, Source = resumable!.ExportState(), Points = result.Points,
                Snapshots = result.Snapshots,
            }.Save(path!);
        }

        while (nextEvent < events.Length)
        {
            long eventStep = events[nextEvent];
            var state = OnlineLoop.Advance(net, source, x, step, Math.Min(eventStep, nextCheckpoint), d, sgd, chunk, cancellation);
            step = result.Steps = state.Steps;
            if (state.Failure is not null)
            {
                result.Outcome = SimulationOutcome.Diverged;
                result.Failure = state.Failure;
                result.FailedStep = step;
                Save(CheckpointStatus.Diverged);
                break;
            }
            if (state.Cancelled)
            {
                result.Outcome = SimulationOutcome.Cancelled;
                Save(CheckpointStatus.InProgress);
                break;
            }
            if (step == eventStep)
            {
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
                nextEvent++;
            }
            if (step == nextCheckpoint)
            {
                if (nextEvent < events.Length) Save(CheckpointStatus.InProgress);
                nextCheckpoint += every;
            }
        }
        if (result.Outcome == SimulationOutcome.Completed) Save(CheckpointStatus.Completed);
        return Finish(result, sgdBefore + sgd.Elapsed.TotalSeconds, wall, onProgress);
    }

    private static SimulationResult Finish(SimulationResult result, double sgdSeconds, Stopwatch wall, Action<double>? onProgress)
    {
        onProgress?.Invoke(1.0);
        result.SgdSeconds = sgdSeconds;
        result.WallSeconds = wall.Elapsed.TotalSeconds;
        return result;
    }
}
