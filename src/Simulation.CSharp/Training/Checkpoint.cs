using System.Text;
using Theory.Interop;
using Theory.Interop.Io;
using Theory.Simulation.Analysis;
using Theory.Simulation.Data;

namespace Theory.Simulation.Training;

/// <summary>
/// Where and how often a simulation saves its state, and whether it resumes from a saved one. One file per seed,
/// <c>seed_S.ckpt</c> in <see cref="Directory"/>, written atomically (temporary name, then rename), so a killed
/// process leaves either the previous checkpoint or the new one, never half of one.
/// </summary>
public sealed class CheckpointPolicy
{
    /// <param name="directory">Folder of the checkpoint files (created when the first one is written).</param>
    /// <param name="everyTime">Interval in time units t = steps / D; 0 = only when the run stops (interruption,
    /// divergence, completion). Rounded up to whole multiples of <see cref="DivergenceGuard.CheckEvery"/> steps, where
    /// the training loop polls anyway, so that saving never changes what a run computes.</param>
    /// <param name="resume">Continue from the seed's checkpoint when there is one (a seed without one starts afresh).</param>
    public CheckpointPolicy(string directory, double everyTime = 0, bool resume = false)
    {
        if (string.IsNullOrWhiteSpace(directory)) throw new ArgumentException("a checkpoint folder is needed", nameof(directory));
        if (!(everyTime >= 0) || double.IsInfinity(everyTime))
            throw new ArgumentOutOfRangeException(nameof(everyTime), everyTime, "must be finite and >= 0");
        Directory = directory;
        EveryTime = everyTime;
        Resume = resume;
    }

    public string Directory { get; }
    public double EveryTime { get; }
    public bool Resume { get; }

    /// <summary>The checkpoint file of a seed.</summary>
    public string PathOf(int seed) => Path.Combine(Directory, $"seed_{seed}.ckpt");

    /// <summary>The checkpoint interval in SGD steps at input dimension <paramref name="d"/> (0 = none): the
    /// interval <c>EveryTime D</c> rounded to a whole number (at least one) of polling intervals.</summary>
    public long EverySteps(int d)
    {
        if (EveryTime <= 0) return 0;
        double chunks = Math.Round(EveryTime * d / DivergenceGuard.CheckEvery);
        return (long)Math.Clamp(chunks, 1, long.MaxValue / (4L * DivergenceGuard.CheckEvery)) * DivergenceGuard.CheckEvery;
    }
}

/// <summary>How far a checkpointed run got.</summary>
public enum CheckpointStatus { InProgress, Completed, Diverged }

/// <summary>
/// The complete state of one seed's simulation between two SGD steps: the weights, the training sampler (generator
/// state and buffered image), the step counter, the index of the next logging/snapshot event, and everything
/// measured so far. A run resumed from it produces results bitwise identical to a run that was never stopped
/// (the test set is redrawn from its own stream, and the training loop polls at absolute step multiples).
/// <para>Binary format: the magic <c>THEORYCK</c>, a format version, the configuration fingerprint (the JSON of the
/// three specifications, which a resume must match), the state with every double stored bit for bit, and an FNV-1a
/// 64-bit checksum of all preceding bytes, so damaged files are refused with a clear message.</para>
/// </summary>
public sealed class SimulationCheckpoint
{
    private const string Magic = "THEORYCK";
    public const int FormatVersion = 1;

    public required string Configuration { get; init; }
    public required int Seed { get; init; }
    public required CheckpointStatus Status { get; init; }
    public required long Step { get; init; }
    /// <summary>Index into <see cref="Schedule.EventSteps"/> of the first event not yet processed.</summary>
    public required int NextEvent { get; init; }
    public string? Failure { get; init; }
    public long FailedStep { get; init; } = -1;
    public double SgdSeconds { get; init; }
    public required double[] W { get; init; }
    public required double[] V { get; init; }
    public required double[] B { get; init; }
    public required SampleSourceState Source { get; init; }
    public required IReadOnlyList<NetworkMeasurement> Points { get; init; }
    public required IReadOnlyList<WeightSnapshot> Snapshots { get; init; }

    /// <summary>The configuration a checkpoint belongs to: the JSON of the data, network and training specifications.
    /// A resume with anything else (another seed, time, learning rate, ...) is refused.</summary>
    public static string Fingerprint(DataSpec data, NetworkSpec network, TrainingSpec training) =>
        Json.Serialize(new { data, network, training });

    /// <summary>The fingerprint of seed <paramref name="seed"/> of a multi-seed run (<see cref="SimulationRun.RunSeeds"/>
    /// gives seed Seed + i the training specification with that seed).</summary>
    public static string Fingerprint(DataSpec data, NetworkSpec network, TrainingSpec training, int seed) =>
        Fingerprint(data, network, training with { Seed = seed });

    /// <summary>Writes the checkpoint atomically.</summary>
    public void Save(string path) => AtomicFile.WriteAllBytes(path, ToBytes());

    /// <summary>
    /// Reads a checkpoint. Throws <see cref="InvalidDataException"/> with a one-line reason when the file is not a
    /// checkpoint, is damaged or truncated, or (with <paramref name="expectedConfiguration"/>) belongs to another
    /// configuration.
    /// </summary>
    public static SimulationCheckpoint Load(string path, string? expectedConfiguration = null)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"cannot read checkpoint '{path}' ({e.Message})", e);
        }
        var c = FromBytes(bytes, path);
        if (expectedConfiguration is not null && c.Configuration != expectedConfiguration)
            throw new InvalidDataException($"checkpoint '{path}' belongs to another configuration (seed, sizes or rates differ)");
        return c;
    }

    public byte[] ToBytes()
    {
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Encoding.ASCII.GetBytes(Magic));
            w.Write(FormatVersion);
            w.Write(Configuration);
            w.Write(Seed);
            w.Write((int)Status);
            w.Write(Step);
            w.Write(NextEvent);
            WriteString(w, Failure);
            w.Write(FailedStep);
            w.Write(SgdSeconds);
            WriteArray(w, W);
            WriteArray(w, V);
            WriteArray(w, B);
            foreach (var word in Source.Rng) w.Write(word);
            w.Write(Source.Spare.Length);
            foreach (var spare in Source.Spare) WriteArray(w, spare);
            w.Write(Points.Count);
            foreach (var m in Points) WriteMeasurement(w, m);
            w.Write(Snapshots.Count);
            foreach (var s in Snapshots)
            {
                w.Write(s.Step);
                w.Write(s.T);
                WriteArray(w, s.W);
                WriteArray(w, s.V);
                WriteArray(w, s.B);
            }
        }
        var payload = ms.ToArray();
        var result = new byte[payload.Length + 8];
        payload.CopyTo(result, 0);
        BitConverter.TryWriteBytes(result.AsSpan(payload.Length), Fnv1a(payload));
        return result;
    }

    public static SimulationCheckpoint FromBytes(byte[] bytes, string name = "checkpoint")
    {
        int header = Magic.Length + 4;
        if (bytes.Length < header + 8 || Encoding.ASCII.GetString(bytes, 0, Magic.Length) != Magic)
            throw new InvalidDataException($"'{name}' is not a simulation checkpoint");
        int version = BitConverter.ToInt32(bytes, Magic.Length);
        if (version != FormatVersion)
            throw new InvalidDataException($"'{name}' has checkpoint format {version}; this version reads format {FormatVersion}");
        ulong stored = BitConverter.ToUInt64(bytes, bytes.Length - 8);
        if (stored != Fnv1a(bytes.AsSpan(0, bytes.Length - 8)))
            throw new InvalidDataException($"checkpoint '{name}' is damaged (checksum mismatch)");
        try
        {
            using var r = new BinaryReader(new MemoryStream(bytes, header, bytes.Length - 8 - header), Encoding.UTF8);
            var configuration = r.ReadString();
            int seed = r.ReadInt32();
            var status = (CheckpointStatus)r.ReadInt32();
            if (!Enum.IsDefined(status)) throw new InvalidDataException("unknown status");
            long step = r.ReadInt64();
            int nextEvent = r.ReadInt32();
            var failure = ReadString(r);
            long failedStep = r.ReadInt64();
            double sgd = r.ReadDouble();
            var w = ReadArray(r);
            var v = ReadArray(r);
            var b = ReadArray(r);
            var rng = new ulong[4];
            for (int i = 0; i < 4; i++) rng[i] = r.ReadUInt64();
            var spare = new double[]?[Count(r, 2)];
            for (int i = 0; i < spare.Length; i++) spare[i] = ReadNullableArray(r);
            var points = new List<NetworkMeasurement>();
            for (int i = Count(r, int.MaxValue); i > 0; i--) points.Add(ReadMeasurement(r));
            var snaps = new List<WeightSnapshot>();
            for (int i = Count(r, int.MaxValue); i > 0; i--)
                snaps.Add(new WeightSnapshot(r.ReadInt64(), r.ReadDouble(), ReadArray(r), ReadArray(r), ReadArray(r)));
            if (r.BaseStream.Position != r.BaseStream.Length) throw new InvalidDataException("trailing bytes");
            return new SimulationCheckpoint
            {
                Configuration = configuration, Seed = seed, Status = status, Step = step, NextEvent = nextEvent,
                Failure = failure, FailedStep = failedStep, SgdSeconds = sgd, W = w, V = v, B = b,
                Source = new SampleSourceState(rng, spare), Points = points, Snapshots = snaps,
            };
        }
        catch (Exception e) when (e is EndOfStreamException or InvalidDataException or ArgumentException
                                      or OverflowException or FormatException)
        {
            throw new InvalidDataException($"checkpoint '{name}' is damaged ({e.Message})", e);
        }
    }

    private static void WriteMeasurement(BinaryWriter w, NetworkMeasurement m)
    {
        w.Write(m.Step);
        w.Write(m.T);
        var t = m.Test;
        w.Write(t.EpsG);
        w.Write(t.Mse);
        w.Write(t.Accuracy);
        WriteArray(w, t.EpsGByClass);
        w.Write(t.Kurtosis.Length);
        foreach (var k in t.Kurtosis) WriteArray(w, k);
        WriteArray(w, m.Ipr);
        WriteArray(w, m.Width);
        w.Write(m.Centre.Length);
        foreach (var c in m.Centre)
        {
            w.Write(c.X);
            w.Write(c.Y);
        }
        w.Write(m.Peak.Length);
        foreach (var p in m.Peak) w.Write(p);
        WriteArray(w, m.Concentration);
        WriteArray(w, m.NormSquared);
        var op = m.OrderParameters;
        w.Write(op.K);
        WriteJagged(w, op.Q);
        WriteJagged(w, op.M);
        WriteArray(w, op.R);
        WriteArray(w, op.V);
        WriteArray(w, op.B);
    }

    private static NetworkMeasurement ReadMeasurement(BinaryReader r)
    {
        long step = r.ReadInt64();
        double t = r.ReadDouble();
        double eps = r.ReadDouble(), mse = r.ReadDouble(), acc = r.ReadDouble();
        var byClass = ReadArray(r);
        var kurtosis = new double[Count(r, int.MaxValue)][];
        for (int i = 0; i < kurtosis.Length; i++) kurtosis[i] = ReadArray(r);
        var ipr = ReadArray(r);
        var width = ReadArray(r);
        var centre = new RfCentre[Count(r, int.MaxValue)];
        for (int i = 0; i < centre.Length; i++) centre[i] = new RfCentre(r.ReadDouble(), r.ReadDouble());
        var peak = new int[Count(r, int.MaxValue)];
        for (int i = 0; i < peak.Length; i++) peak[i] = r.ReadInt32();
        var conc = ReadArray(r);
        var norm = ReadArray(r);
        int k = r.ReadInt32();
        var q = ReadJagged(r) ?? throw new InvalidDataException("missing Q");
        var means = ReadJagged(r);
        var teacher = ReadNullableArray(r);
        var v = ReadArray(r);
        var b = ReadArray(r);
        return new NetworkMeasurement(step, t, new TestEvaluation(eps, mse, acc, byClass, kurtosis), ipr, width, centre,
            peak, conc, norm, new OrderParameters(k, q, means, teacher, v, b));
    }

    private static int Count(BinaryReader r, int max)
    {
        int n = r.ReadInt32();
        // A length can never exceed what is left of the file: refuse before allocating.
        long left = r.BaseStream.Length - r.BaseStream.Position;
        if (n < 0 || n > max || n > left) throw new InvalidDataException($"bad length {n}");
        return n;
    }

    private static void WriteString(BinaryWriter w, string? s)
    {
        w.Write(s is not null);
        if (s is not null) w.Write(s);
    }

    private static string? ReadString(BinaryReader r) => r.ReadBoolean() ? r.ReadString() : null;

    private static void WriteArray(BinaryWriter w, double[]? xs)
    {
        if (xs is null)
        {
            w.Write(-1);
            return;
        }
        w.Write(xs.Length);
        foreach (var x in xs) w.Write(x);
    }

    private static double[] ReadArray(BinaryReader r) =>
        ReadNullableArray(r) ?? throw new InvalidDataException("a required array is missing");

    private static double[]? ReadNullableArray(BinaryReader r)
    {
        int n = r.ReadInt32();
        if (n == -1) return null;
        long left = r.BaseStream.Length - r.BaseStream.Position;
        if (n < 0 || 8L * n > left) throw new InvalidDataException($"bad array length {n}");
        var xs = new double[n];
        for (int i = 0; i < n; i++) xs[i] = r.ReadDouble();
        return xs;
    }

    private static void WriteJagged(BinaryWriter w, double[][]? xs)
    {
        if (xs is null)
        {
            w.Write(-1);
            return;
        }
        w.Write(xs.Length);
        foreach (var x in xs) WriteArray(w, x);
    }

    private static double[][]? ReadJagged(BinaryReader r)
    {
        int n = r.ReadInt32();
        if (n == -1) return null;
        long left = r.BaseStream.Length - r.BaseStream.Position;
        if (n < 0 || 4L * n > left) throw new InvalidDataException($"bad length {n}");
        var xs = new double[n][];
        for (int i = 0; i < n; i++) xs[i] = ReadArray(r);
        return xs;
    }

    /// <summary>FNV-1a, 64 bits: enough to tell a damaged file from a good one (not a cryptographic hash).</summary>
    private static ulong Fnv1a(ReadOnlySpan<byte> bytes)
    {
        ulong h = 14695981039346656037UL;
        foreach (var b in bytes)
        {
            h ^= b;
            h *= 1099511628211UL;
        }
        return h;
    }
}
