using Theory.Interop;

namespace Theory.Simulation.Training;

/// <summary>One term of a memory estimate: its size and the option that controls it.</summary>
/// <param name="Option">The command-line option to name when this term is too large.</param>
/// <param name="What">What it is, in a few words.</param>
/// <param name="Bytes">Estimated bytes.</param>
public readonly record struct MemoryTerm(string Option, string What, double Bytes);

/// <summary>
/// Estimates of the memory a run needs, from its specification alone, so that a run that cannot fit is refused
/// with a clear message before anything is allocated (instead of failing hours later, or at the very end while
/// writing its tables). Deliberately generous: the aim is to catch absurd sizes, not to pack memory.
/// </summary>
public static class ResourceEstimate
{
    /// <summary>Characters of one CSV cell holding a double in shortest round-trip form, with its separator.</summary>
    private const double CharsPerNumber = 24;

    /// <summary>
    /// The memory of <c>theory simulate</c> (fully-connected network) with <paramref name="seeds"/> seeds of which at
    /// most <paramref name="parallel"/> run at once. Per running seed: the test set (TestSize x D doubles), network,
    /// sampler and measurement buffers; per seed, kept until the end: every measurement (the order parameters are
    /// 2 K^2 per logged time) and every weight snapshot (K x D each); once: the task (O(D), dense D x D matrices
    /// with open boundaries) and the output tables (UTF-8 text, about 24 bytes per number).
    /// </summary>
    public static MemoryTerm[] Simulation(DataSpec data, NetworkSpec network, TrainingSpec training, int seeds, int parallel)
    {
        double d = data.D, k = network.K, running = Math.Max(1, Math.Min(seeds, parallel));
        double logs = training.LogPoints + 1.0, snaps = training.Snapshots + 2.0;
        double perMeasurement = 8 * (2 * k * k + 16 * k + 16);
        double task = data.Boundary == Boundary.Open ? 8 * 8 * d * d : 8 * 24 * d;
        double units = seeds * logs * k * 15 * CharsPerNumber;
        double trajectory = seeds * logs * (k * (k + 1) + 4 * k + 30) * CharsPerNumber;
        double weights = seeds * snaps * k * d * 6 * CharsPerNumber;
        return
        [
            new("--test-size", "test sets", running * training.TestSize * d * 8),
            new("--size", "input covariances and samplers", task + running * 8 * (3 * k * d + 16 * d)),
            new("--log-points", "measurements", seeds * logs * perMeasurement),
            new("--snapshots", "weight snapshots", seeds * snaps * k * d * 8),
            new("--log-points", "trajectory.csv and units.csv", units + trajectory),
            new("--snapshots", "the weights/ tables", weights),
        ];
    }

    /// <summary>Total bytes of a list of terms.</summary>
    public static double Total(IEnumerable<MemoryTerm> terms)
    {
        double total = 0;
        foreach (var t in terms) total += t.Bytes;
        return total;
    }

    /// <summary>Memory this process may use: what the garbage collector sees as available (container limits
    /// included).</summary>
    public static double AvailableBytes() => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

    /// <summary>
    /// Throws <see cref="SpecException"/> naming the option of the largest term when the total exceeds
    /// <paramref name="fraction"/> of <paramref name="available"/> bytes (default: 80% of <see cref="AvailableBytes"/>).
    /// </summary>
    public static void EnsureFits(IReadOnlyList<MemoryTerm> terms, double available = 0, double fraction = 0.8)
    {
        if (available <= 0) available = AvailableBytes();
        double total = Total(terms);
        if (!(total > fraction * available)) return;
        var largest = terms[0];
        foreach (var t in terms)
            if (t.Bytes > largest.Bytes) largest = t;
        throw new SpecException(largest.Option,
            $"this run needs about {Gb(total)} of memory ({largest.What}: {Gb(largest.Bytes)}) and this machine " +
            $"has {Gb(available)}; make the run smaller");
    }

    public static string Gb(double bytes) =>
        bytes >= 1e15 ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{bytes / 1e12:N0} TB")
        : bytes >= 1e12 ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{bytes / 1e12:G3} TB")
        : bytes >= 1e9 ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{bytes / 1e9:G3} GB")
        : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{bytes / 1e6:G3} MB");
}
