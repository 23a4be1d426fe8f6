using System.Diagnostics;
using Theory.Interop;
using Theory.Simulation.Data;

namespace Theory.Simulation.Training;

/// <summary>One configuration's speed: steps (or samples) per second for the whole step and its two parts.</summary>
/// <param name="WholeStepsPerSecond">Online SGD with a fresh sample per step (sampling included), per wall second.</param>
/// <param name="SgdStepsPerSecond">The SGD update alone, on pre-drawn samples cycled from memory.</param>
/// <param name="SamplesPerSecond">Sampling alone.</param>
/// <param name="WholeStepsPerCpuSecond">The whole step per second of process CPU time: close to the wall-clock
/// figure on a quiet machine, and still meaningful on a busy one.</param>
public readonly record struct SgdSpeed(double WholeStepsPerSecond, double SgdStepsPerSecond, double SamplesPerSecond,
    double WholeStepsPerCpuSecond);

/// <summary>
/// The whole-run benchmark of <c>theory bench</c>: SGD steps per second including sampling, with the training loop
/// alone and sampling alone measured in the same process as baselines. One thread; each figure is the best of
/// three timed rounds after a warm-up, so that a busy machine disturbs it less.
/// </summary>
public static class SgdBenchmark
{
    private const int Chunk = 1024;

    public static SgdSpeed Measure(NlgpTask task, NetworkSpec network, TrainingSpec training, double seconds,
        Func<InputKind, Rng, ISampleSource>? sources = null)
    {
        sources ??= task.CreateSource;
        int d = task.D;
        var rates = LearningRates.Resolve(training, network);
        var source = sources(training.Inputs, new Rng(training.Seed, RngStream.Training));
        var x = new double[d];

        // Sampling alone.
        double sampling = Rate(seconds, out _, () =>
        {
            for (int i = 0; i < Chunk; i++) source.Next(x);
        });

        // The SGD update alone, on Chunk pre-drawn samples.
        var bank = new double[Chunk * d];
        var labels = new double[Chunk];
        for (int i = 0; i < Chunk; i++) labels[i] = DataSpec.Label(source.Next(bank.AsSpan(i * d, d)));
        // Restarting from the initial weights every Chunk steps keeps the network from overfitting the bank (which
        // would drive the pre-activations far out, a regime a real run with fresh samples never sees).
        var net = new TwoLayerNetwork(network, d, rates, training.Seed);
        var start = net.Clone();
        double sgd = Rate(seconds, out _, () =>
        {
            net.SetParameters(start.W, start.V, start.B);
            for (int i = 0; i < Chunk; i++) net.Step(bank.AsSpan(i * d, d), labels[i]);
        });

        // The whole step, as in a run: a fresh sample, then the update.
        net = new TwoLayerNetwork(network, d, rates, training.Seed);
        double whole = Rate(seconds, out double wholeCpu, () =>
        {
            for (int i = 0; i < Chunk; i++)
            {
                int a = source.Next(x);
                net.Step(x, DataSpec.Label(a));
            }
        });
        return new SgdSpeed(whole, sgd, sampling, wholeCpu);
    }

    /// <summary>
    /// Chunks per second times <see cref="Chunk"/>: warm-up, then the best of three rounds, by wall clock and by
    /// process CPU time.
    /// </summary>
    private static double Rate(double seconds, out double perCpuSecond, Action chunk)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < Math.Min(0.3, seconds / 3)) chunk();
        double best = 0;
        perCpuSecond = 0;
        using var process = Process.GetCurrentProcess();
        for (int round = 0; round < 3; round++)
        {
            long chunks = 0;
            process.Refresh();
            var cpu0 = process.TotalProcessorTime;
            clock.Restart();
            do
            {
                chunk();
                chunks++;
            } while (clock.Elapsed.TotalSeconds < seconds / 3);
            double wall = clock.Elapsed.TotalSeconds;
            process.Refresh();
            double cpu = (process.TotalProcessorTime - cpu0).TotalSeconds;
            best = Math.Max(best, chunks * Chunk / wall);
            if (cpu > 0) perCpuSecond = Math.Max(perCpuSecond, chunks * Chunk / cpu);
        }
        return best;
    }

    /// <summary>The 1-minute load average (Linux), or NaN: a figure taken at a load above the core count is not
    /// a clean measurement.</summary>
    public static double LoadAverage()
    {
        try
        {
            if (File.Exists("/proc/loadavg"))
                return double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException) { }
        return double.NaN;
    }

    /// <summary>The machine in one line: CPU model, logical cores, widest SIMD, OS and runtime.</summary>
    public static string Machine()
    {
        string cpu = "unknown CPU";
        try
        {
            if (File.Exists("/proc/cpuinfo"))
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                    if (line.StartsWith("model name", StringComparison.Ordinal))
                    {
                        cpu = line[(line.IndexOf(':') + 1)..].Trim();
                        break;
                    }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        string simd = System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? "AVX-512"
            : System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated ? "AVX2" : "128-bit SIMD";
        return $"{cpu}, {Environment.ProcessorCount} logical cores, {simd}, " +
               $"{System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}";
    }
}
