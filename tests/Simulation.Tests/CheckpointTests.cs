using FsCheck;
using FsCheck.Fluent;
using Theory.Interop;
using Theory.Interop.Io;
using Theory.Simulation.Data;
using Theory.Simulation.Training;

namespace Theory.Simulation.Tests;

/// <summary>
/// Checkpoints: the generator and sampler states continue their streams exactly, the checkpoint file round-trips
/// bit for bit and refuses damage, and a simulation stopped any number of times (cancelled, or killed after a
/// periodic checkpoint) and resumed gives tables identical to a run that never stopped.
/// </summary>
public class CheckpointTests
{
    // A tiny run: 1D ring of 32 pixels, 16,000 steps (16 polling intervals of 1024), milliseconds.
    private static readonly DataSpec Data = new() { Dim = 1, Size = 32, Xi0 = 1, Xi1 = 3, Gain = 3 };
    private static readonly NetworkSpec Network = new() { K = 4 };
    private static readonly TrainingSpec Training = new() { Time = 500, TestSize = 100, LogPoints = 25, Snapshots = 4, Seed = 7 };
    private static readonly NlgpTask Task = new(Data);

    private static string TempDir() => Directory.CreateTempSubdirectory("theory-ckpt").FullName;

    /// <summary>Every table a simulate run writes, as text.</summary>
    private static string Tables(SimulationResult r)
    {
        var runs = new[] { r };
        return SimulationTables.Trajectory(runs) + "\n" + SimulationTables.Units(runs) + "\n" +
               SimulationTables.ReceptiveFields(runs) + "\n" + SimulationTables.Weights(r);
    }

    private static readonly Lazy<string> Reference = new(() => Tables(SimulationRun.Run(Task, Network, Training)));

    [Fact]
    public void RngStateContinuesTheStream()
    {
        var a = new Rng(123, 4);
        for (int i = 0; i < 777; i++) a.NextGaussian();
        var b = new Rng(999, 1);
        b.ImportState(a.ExportState());
        var xa = new double[1000];
        var xb = new double[1000];
        a.FillGaussian(xa);
        b.FillGaussian(xb);
        Assert.Equal(xa, xb);
        for (int i = 0; i < 100; i++) Assert.Equal(a.NextULong(), b.NextULong());
        Assert.Throws<ArgumentException>(() => b.ImportState(new ulong[4]));
        Assert.Throws<ArgumentException>(() => b.ImportState(new ulong[3]));
    }

    /// <summary>
    /// For the Fourier sampler (1D and 2D, NLGP and clone) and the dense one (open boundaries): after any number of
    /// images (an odd number leaves a buffered second image), a sampler of another seed given the exported state
    /// draws the same classes and images, bit for bit.
    /// </summary>
    [Fact]
    public void SamplerStateContinuesTheStreamWithItsBufferedImage()
    {
        var tasks = new[]
        {
            new NlgpTask(new DataSpec { Dim = 1, Size = 24, Gain = 2 }),
            new NlgpTask(new DataSpec { Dim = 2, Size = 6, Gain = 10 }),
            new NlgpTask(new DataSpec { Dim = 1, Size = 12, Boundary = Boundary.Open }),
        };
        var gen = from t in Gen.Choose(0, 2)
                  from kind in Gen.Elements(InputKind.Nlgp, InputKind.Gp)
                  from before in Gen.Choose(0, 25)
                  from seed in Gen.Choose(0, 10_000)
                  select (t, kind, before, seed);
        FsCheck.Check.One(Config.QuickThrowOnFailure.WithMaxTest(60), Prop.ForAll(gen.ToArbitrary(), p =>
        {
            var task = tasks[p.t];
            var a = (IResumableSampleSource)task.CreateSource(p.kind, new Rng(p.seed, RngStream.Training));
            var x = new double[task.D];
            for (int i = 0; i < p.before; i++) a.Next(x);
            var state = a.ExportState();
            var b = (IResumableSampleSource)task.CreateSource(p.kind, new Rng(p.seed + 1, RngStream.Training));
            b.Next(x); // b has its own buffered image, which the import must replace
            b.ImportState(state);
            var xa = new double[task.D];
            var xb = new double[task.D];
            for (int i = 0; i < 12; i++)
            {
                if (a.Next(xa) != b.Next(xb) || !xa.AsSpan().SequenceEqual(xb)) return false;
            }
            return true;
        }));
    }

    [Fact]
    public void SamplerStateOfAnotherSizeIsRefused()
    {
        var small = (IResumableSampleSource)new NlgpTask(new DataSpec { Dim = 1, Size = 8 }).CreateSource(InputKind.Nlgp, new Rng(1, 2));
        var large = (IResumableSampleSource)new NlgpTask(new DataSpec { Dim = 1, Size = 9 }).CreateSource(InputKind.Nlgp, new Rng(1, 2));
        small.Next(new double[8]);
        Assert.Throws<ArgumentException>(() => large.ImportState(small.ExportState()));
    }

    /// <summary>Stopping and resuming (1 to 3 times, at random points) gives tables identical to a run that never
    /// stopped; the periodic checkpoints of an uninterrupted run change nothing either.</summary>
    [Fact]
    public void CancelledAndResumedRunsEqualAnUninterruptedOne()
    {
        var gen = from stops in Gen.Choose(1, 3)
                  from fractions in Gen.Choose(1, 99).ArrayOf(stops)
                  from every in Gen.Elements(0.0, 3.0, 40.0)
                  select (fractions: fractions.OrderBy(f => f).ToArray(), every);
        FsCheck.Check.One(Config.QuickThrowOnFailure.WithMaxTest(8), Prop.ForAll(gen.ToArbitrary(), p =>
        {
            var dir = TempDir();
            try
            {
                var policy = new CheckpointPolicy(dir, p.every, resume: true);
                SimulationResult? last = null;
                foreach (var f in p.fractions)
                {
                    using var cts = new CancellationTokenSource();
                    last = SimulationRun.Run(Task, Network, Training, onProgress: x => { if (x * 100 >= f) cts.Cancel(); },
                        cancellation: cts.Token, checkpoint: policy);
                    if (last.Outcome == SimulationOutcome.Completed) break;
                    Assert.Equal(SimulationOutcome.Cancelled, last.Outcome);
                    Assert.True(File.Exists(policy.PathOf(Training.Seed)));
                }
                if (last!.Outcome != SimulationOutcome.Completed) last = SimulationRun.Run(Task, Network, Training, checkpoint: policy);
                Assert.Equal(SimulationOutcome.Completed, last.Outcome);
                return Tables(last) == Reference.Value;
            }
            finally { Directory.Delete(dir, true); }
        }));
    }

    /// <summary>A killed process leaves its last periodic checkpoint: resuming from it (a copy taken mid-run) gives
    /// the same tables; resuming from the final (completed) checkpoint returns them without training.</summary>
    [Fact]
    public void ResumingFromAPeriodicCheckpointAfterAKillEqualsTheUninterruptedRun()
    {
        var dir = TempDir();
        var copy = Path.Combine(dir, "copy.ckpt");
        try
        {
            var policy = new CheckpointPolicy(dir, 50);
            string path = policy.PathOf(Training.Seed);
            var full = SimulationRun.Run(Task, Network, Training, onLog: m =>
            {
                // Keep the checkpoint as it was around t = 200, as a SIGKILL then would have left it.
                if (m.T >= 200 && !File.Exists(copy) && File.Exists(path)) File.Copy(path, copy);
            }, checkpoint: policy);
            Assert.Equal(Reference.Value, Tables(full));
            var saved = SimulationCheckpoint.Load(copy);
            Assert.Equal(CheckpointStatus.InProgress, saved.Status);
            Assert.True(saved.Step > 0 && saved.Step % DivergenceGuard.CheckEvery == 0);

            // The completed checkpoint alone reproduces the run.
            var again = SimulationRun.Run(Task, Network, Training, checkpoint: new CheckpointPolicy(dir, 0, resume: true));
            Assert.Equal(Reference.Value, Tables(again));

            File.Copy(copy, path, overwrite: true);
            var resumed = SimulationRun.Run(Task, Network, Training, checkpoint: new CheckpointPolicy(dir, 50, resume: true));
            Assert.Equal(saved.Step, resumed.ResumedFromStep);
            Assert.Equal(Reference.Value, Tables(resumed));
        }
        finally { Directory.Delete(dir, true); }
    }

    /// <summary>Several seeds in parallel, cancelled together: each resumes from its own checkpoint.</summary>
    [Fact]
    public void SeedsInParallelResumeEachFromItsOwnCheckpoint()
    {
        var dir = TempDir();
        try
        {
            var reference = SimulationRun.RunSeeds(Task, Network, Training, 3).Select(Tables).ToArray();
            using var cts = new CancellationTokenSource();
            var stopped = SimulationRun.RunSeeds(Task, Network, Training, 3, (i, f) => { if (f > 0.4) cts.Cancel(); }, cts.Token,
                checkpoint: new CheckpointPolicy(dir));
            Assert.Contains(stopped, r => r.Outcome == SimulationOutcome.Cancelled);
            var resumed = SimulationRun.RunSeeds(Task, Network, Training, 3, checkpoint: new CheckpointPolicy(dir, 0, resume: true));
            Assert.Equal(reference, resumed.Select(Tables).ToArray());
        }
        finally { Directory.Delete(dir, true); }
    }

    /// <summary>A diverging run fails at the same step with checkpoints as without, and a resume of its final
    /// checkpoint reports the same failure.</summary>
    [Fact]
    public void DivergenceIsTheSameWithCheckpoints()
    {
        var dir = TempDir();
        try
        {
            var network = new NetworkSpec { K = 4, Activation = Activation.Relu, Readout = Readout.Committee };
            var training = Training with { Lr = 50 };
            var plain = SimulationRun.Run(Task, network, training);
            Assert.Equal(SimulationOutcome.Diverged, plain.Outcome);
            var saved = SimulationRun.Run(Task, network, training, checkpoint: new CheckpointPolicy(dir, 1));
            Assert.Equal(plain.FailedStep, saved.FailedStep);
            Assert.Equal(plain.Failure, saved.Failure);
            var resumed = SimulationRun.Run(Task, network, training, checkpoint: new CheckpointPolicy(dir, 1, resume: true));
            Assert.Equal(SimulationOutcome.Diverged, resumed.Outcome);
            Assert.Equal(plain.FailedStep, resumed.FailedStep);
            Assert.Equal(Tables(plain), Tables(resumed));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void CheckpointOfAnotherConfigurationIsRefused()
    {
        var dir = TempDir();
        try
        {
            using var cts = new CancellationTokenSource();
            SimulationRun.Run(Task, Network, Training, onProgress: f => { if (f > 0.3) cts.Cancel(); }, cancellation: cts.Token,
                checkpoint: new CheckpointPolicy(dir));
            var other = Training with { Lr = 0.06 };
            var e = Assert.Throws<InvalidDataException>(() =>
                SimulationRun.Run(Task, Network, other, checkpoint: new CheckpointPolicy(dir, 0, resume: true)));
            Assert.Contains("another configuration", e.Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    /// <summary>The file round-trips bit for bit; any flipped byte or truncation is refused with a clear message.</summary>
    [Fact]
    public void CheckpointFileRoundTripsAndRefusesDamage()
    {
        var dir = TempDir();
        try
        {
            using var cts = new CancellationTokenSource();
            var policy = new CheckpointPolicy(dir);
            SimulationRun.Run(Task, Network, Training, onProgress: f => { if (f > 0.5) cts.Cancel(); }, cancellation: cts.Token,
                checkpoint: policy);
            var bytes = File.ReadAllBytes(policy.PathOf(Training.Seed));
            var c = SimulationCheckpoint.FromBytes(bytes);
            Assert.Equal(bytes, c.ToBytes());
            Assert.NotEmpty(c.Points);
            Assert.Equal(Training.Seed, c.Seed);
            FsCheck.Check.One(Config.QuickThrowOnFailure.WithMaxTest(100), Prop.ForAll(
                Gen.Choose(0, bytes.Length - 1).ToArbitrary(), Gen.Choose(1, 255).ToArbitrary(), (i, x) =>
                {
                    var damaged = (byte[])bytes.Clone();
                    damaged[i] ^= (byte)x;
                    var e = Assert.Throws<InvalidDataException>(() => SimulationCheckpoint.FromBytes(damaged));
                    return e.Message.Length > 0 && !e.Message.Contains('\n');
                }));
            foreach (int keep in new[] { 0, 7, 20, bytes.Length / 2, bytes.Length - 1 })
                Assert.Throws<InvalidDataException>(() => SimulationCheckpoint.FromBytes(bytes[..keep]));
        }
        finally { Directory.Delete(dir, true); }
    }

    /// <summary>The training loop polls (divergence checks, cancellation) at absolute multiples of CheckEvery
    /// steps, wherever a stretch starts: a stretch resumed from a checkpoint polls where the uninterrupted run did.</summary>
    [Fact]
    public void TrainingLoopPollsAtAbsoluteStepMultiples()
    {
        var net = new TwoLayerNetwork(Network, Data.D, LearningRates.Resolve(Training, Network), 1);
        var source = Task.CreateSource(InputKind.Nlgp, new Rng(1, RngStream.Training));
        var x = new double[Data.D];
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        int every = DivergenceGuard.CheckEvery;
        foreach (long start in new long[] { 0, 1, 1500, 2 * every - 1, 2 * every })
        {
            var state = OnlineLoop.Advance(net, source, x, start, 100 * every, Data.D, new System.Diagnostics.Stopwatch(), null, cts.Token);
            Assert.True(state.Cancelled);
            Assert.Equal((start / every + 1) * every, state.Steps);
        }
        var short_ = OnlineLoop.Advance(net, source, x, 1500, 1600, Data.D, new System.Diagnostics.Stopwatch(), null, cts.Token);
        Assert.Equal(1600, short_.Steps); // the target ends a stretch too
    }

    [Fact]
    public void CheckpointIntervalIsAWholeNumberOfPollingIntervals()
    {
        int d = 400, every = DivergenceGuard.CheckEvery;
        Assert.Equal(0, new CheckpointPolicy("x").EverySteps(d));
        Assert.Equal(every, new CheckpointPolicy("x", 0.01).EverySteps(d));
        Assert.Equal(10 * every, new CheckpointPolicy("x", 10.0 * every / d).EverySteps(d));
        // t = 100 at D = 400 is 40,000 steps = 39.06 intervals: 39 intervals.
        Assert.Equal(39 * every, new CheckpointPolicy("x", 100).EverySteps(d));
    }

    /// <summary>A table larger than one text chunk is written whole, in order (the chunks are UTF-8 bytes).</summary>
    [Fact]
    public void LargeTablesAreWrittenWhole()
    {
        var table = new CsvTable(["i", "x", "label"]);
        var expected = new System.Text.StringBuilder("i,x,label\n");
        for (int i = 0; i < 120_000; i++)
        {
            double x = Math.Sqrt(i) * 1e-3;
            table.Add(i).Add(x).Add(i % 7 == 0 ? "état" : "b").EndRow();
            expected.Append(i).Append(',').Append(CsvTable.Format(x)).Append(',').Append(i % 7 == 0 ? "état" : "b").Append('\n');
        }
        Assert.True(expected.Length > 2_000_000);
        var dir = TempDir();
        try
        {
            var path = Path.Combine(dir, "big.csv");
            table.Save(path);
            Assert.Equal(expected.ToString(), File.ReadAllText(path));
            Assert.Equal(new FileInfo(path).Length, table.Bytes);
            Assert.Equal(expected.ToString(), table.ToString());
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void MemoryEstimateRefusesAbsurdRunsAndAcceptsThePapersRun()
    {
        var fig1 = ResourceEstimate.Simulation(new DataSpec(), new NetworkSpec(), new TrainingSpec(), 1, 2);
        Assert.InRange(ResourceEstimate.Total(fig1), 30e6, 500e6); // the 32 MB test set dominates
        ResourceEstimate.EnsureFits(fig1, available: 2e9);
        var huge = ResourceEstimate.Simulation(new DataSpec { Dim = 1, Size = 1 << 20 }, new NetworkSpec(),
            new TrainingSpec { TestSize = 10_000_000 }, 1, 2);
        var e = Assert.Throws<SpecException>(() => ResourceEstimate.EnsureFits(huge, available: 64e9));
        Assert.Equal("--test-size", e.Option);
        var snapshots = ResourceEstimate.Simulation(new DataSpec { Dim = 1, Size = 1 << 20 }, new NetworkSpec { K = 64 },
            new TrainingSpec { TestSize = 100, Snapshots = 10_000 }, 1, 2);
        Assert.Equal("--snapshots", Assert.Throws<SpecException>(() => ResourceEstimate.EnsureFits(snapshots, available: 64e9)).Option);
    }
}
