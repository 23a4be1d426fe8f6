using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Theory.Interop;
using Theory.Interop.Io;
using Theory.Simulation.Data;
using Theory.Simulation.Kernels;
using Theory.Simulation.Training;

namespace Theory.Simulation.Analysis;

/// <summary>Where the readout v and biases b of a weight snapshot come from (the snapshot files hold the first layer).</summary>
public enum ParameterSource
{
    /// <summary>Columns <c>v, b</c> of the snapshot file itself.</summary>
    Snapshot,
    /// <summary>Not trained: the values of the network specification (exact).</summary>
    Fixed,
    /// <summary><c>units.csv</c> at the snapshot's step (exact).</summary>
    Logged,
    /// <summary>Linear interpolation in time between the two logged steps around the snapshot (approximate).</summary>
    Interpolated,
}

/// <summary>A network's parameters at one snapshot: first layer (K x features, row-major), readout and biases.</summary>
public sealed record ParameterSnapshot(long Step, double T, double[] W, double[] V, double[] B, ParameterSource Source);

/// <summary>
/// A <c>theory simulate</c> run folder read back (fully-connected or <c>--model conv</c>): the configuration from
/// <c>manifest.json</c> and, per seed, the weight snapshots of <c>weights/seed_S.csv</c> with the readout and biases at
/// each snapshot. Every problem with the folder is a <see cref="SpecException"/> for the option that named it.
/// </summary>
public sealed class SimulationFolder
{
    private readonly string _option;

    private SimulationFolder(string path, string option, DataSpec data, NetworkSpec network, TrainingSpec training,
        bool convolutional, int kernel, int[] seeds, string status)
    {
        Path = path;
        _option = option;
        Data = data;
        Network = network;
        Training = training;
        Convolutional = convolutional;
        Kernel = kernel;
        Seeds = seeds;
        Status = status;
    }

    public string Path { get; }
    public DataSpec Data { get; }
    public NetworkSpec Network { get; }
    public TrainingSpec Training { get; }
    /// <summary>Whether the run is the convolutional baseline (<c>--model conv</c>).</summary>
    public bool Convolutional { get; }
    /// <summary>Filter side Q of a convolutional run (0 for fully-connected).</summary>
    public int Kernel { get; }
    public int[] Seeds { get; }
    /// <summary>The run's status in its manifest (completed, failed, interrupted, running).</summary>
    public string Status { get; }

    /// <summary>Length of one unit's weight vector: D pixels, or the q taps of a filter.</summary>
    public int Features => Convolutional ? (Data.Dim == 1 ? Kernel : Kernel * Kernel) : Data.D;

    /// <summary>The index space of a unit's weights: the image (torus) or the open Q x Q patch of a filter.</summary>
    public ImageGeometry FeatureGeometry =>
        Convolutional ? new ImageGeometry(Data.Dim, Kernel, Boundary.Open) : new ImageGeometry(Data);

    /// <summary>Reads the manifest of <paramref name="dir"/>; <paramref name="option"/> names the folder in errors.</summary>
    public static SimulationFolder Load(string dir, string option = "--run")
    {
        if (string.IsNullOrWhiteSpace(dir)) throw new SpecException(option, "must name the folder of a theory simulate run");
        if (!Directory.Exists(dir)) throw new SpecException(option, $"folder '{dir}' does not exist");
        string manifestPath = System.IO.Path.Combine(dir, "manifest.json");
        if (!File.Exists(manifestPath))
            throw new SpecException(option, $"'{dir}' has no manifest.json (give the folder of a theory simulate run)");
        try
        {
            var root = JsonNode.Parse(File.ReadAllText(manifestPath))?.AsObject()
                       ?? throw new FormatException("empty manifest");
            string command = root["command"]?.GetValue<string>() ?? "";
            if (command != "simulate")
                throw new SpecException(option, $"'{dir}' is a theory {(command == "" ? "(unknown)" : command)} run, not a theory simulate run");
            var config = root["config"]?.AsObject() ?? throw new FormatException("no config");
            var data = (config["data"] ?? throw new FormatException("no config.data")).Deserialize<DataSpec>(Json.Options)!.Validate();
            var network = (config["network"] ?? throw new FormatException("no config.network")).Deserialize<NetworkSpec>(Json.Options)!.Validate();
            var training = (config["training"] ?? throw new FormatException("no config.training")).Deserialize<TrainingSpec>(Json.Options)!.Validate();
            int count = config["seeds"]?.GetValue<int>() ?? 1;
            bool conv = (config["model"]?.GetValue<string>() ?? "fc") == "conv";
            int kernel = conv ? config["kernel"]?.GetValue<int>() ?? throw new FormatException("no config.kernel") : 0;
            if (conv && (kernel < 1 || kernel > data.Size)) throw new FormatException($"kernel {kernel} out of range");
            if (count < 1) throw new FormatException($"seeds = {count}");
            var seeds = new int[count];
            for (int i = 0; i < count; i++) seeds[i] = checked(training.Seed + i);
            string status = root["status"]?.GetValue<string>() ?? "unknown";
            foreach (int s in seeds)
                if (!File.Exists(System.IO.Path.Combine(dir, "weights", $"seed_{s}.csv")))
                    throw new SpecException(option, $"'{dir}' lacks weights/seed_{s}.csv (status {status})");
            return new SimulationFolder(System.IO.Path.GetFullPath(dir), option, data, network, training, conv, kernel, seeds, status);
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException or OverflowException
                                      or IOException)
        {
            throw new SpecException(option, $"cannot read the manifest of '{dir}' ({e.Message})");
        }
    }

    /// <summary>
    /// The snapshots of one seed in time order. First layer from <c>weights/seed_S.csv</c>; readout and biases from
    /// that file's <c>v, b</c> columns if it has them, else from the specification when they are not trained, else from
    /// <c>units.csv</c> at the same step, else interpolated linearly in time between the logged steps around it.
    /// </summary>
    public List<ParameterSnapshot> Snapshots(int seed)
    {
        string path = System.IO.Path.Combine(Path, "weights", $"seed_{seed}.csv");
        CsvData table;
        try { table = CsvData.Read(path); }
        catch (Exception e) when (e is IOException or FormatException)
        {
            throw new SpecException(_option, $"cannot read '{path}' ({e.Message})");
        }
        int k = Network.K, q = Features, L = Convolutional ? Kernel : Data.Size;
        var byStep = new SortedDictionary<long, (double T, double[] W, double[]? V, double[]? B, int Filled)>();
        try
        {
            int iStep = table.Index("step"), iT = table.Index("t"), iUnit = table.Index("unit"), iX = table.Index("x"),
                iY = table.Index("y"), iW = table.Index("w");
            int iV = Array.IndexOf(table.Columns, "v"), iB = Array.IndexOf(table.Columns, "b");
            foreach (var r in table.Rows)
            {
                long step = long.Parse(r[iStep], CultureInfo.InvariantCulture);
                int unit = int.Parse(r[iUnit], CultureInfo.InvariantCulture);
                int x = int.Parse(r[iX], CultureInfo.InvariantCulture), y = int.Parse(r[iY], CultureInfo.InvariantCulture);
                // Pixels: i = y L + x. Filter taps: offsets from -Q/2, tap j = (y + Q/2) Q + (x + Q/2).
                if (Convolutional)
                {
                    x += Kernel / 2;
                    y += Kernel / 2;
                }
                if (unit < 0 || unit >= k || x < 0 || x >= L || y < 0 || (Data.Dim == 1 ? y != 0 : y >= L))
                    throw new FormatException($"row (step {step}, unit {unit}) does not fit K = {k} units of {q} weights");
                if (!byStep.TryGetValue(step, out var s))
                    s = (CsvData.ParseNumber(r[iT]), new double[k * q], iV >= 0 ? new double[k] : null, iB >= 0 ? new double[k] : null, 0);
                s.W[unit * q + (Data.Dim == 1 ? x : y * L + x)] = CsvData.ParseNumber(r[iW]);
                if (s.V is not null) s.V[unit] = CsvData.ParseNumber(r[iV]);
                if (s.B is not null) s.B[unit] = CsvData.ParseNumber(r[iB]);
                s.Filled++;
                byStep[step] = s;
            }
        }
        catch (Exception e) when (e is KeyNotFoundException or FormatException or OverflowException or IndexOutOfRangeException)
        {
            throw new SpecException(_option, $"'{path}' is not a weight snapshot file of this run ({e.Message})");
        }
        if (byStep.Count == 0) throw new SpecException(_option, $"'{path}' holds no snapshots");
        var result = new List<ParameterSnapshot>();
        Logged? logged = null;
        foreach (var (step, s) in byStep)
        {
            if (s.Filled != k * q)
                throw new SpecException(_option, $"'{path}': the snapshot at step {step} has {s.Filled} of {k * q} weights");
            if (s.V is not null && s.B is not null)
            {
                result.Add(new ParameterSnapshot(step, s.T, s.W, s.V, s.B, ParameterSource.Snapshot));
                continue;
            }
            bool trainedV = Network.Readout == Readout.Trained, trainedB = Network.BiasMode == BiasMode.Trained;
            var v = Initialisation.Readout(Network);
            var b = Initialisation.Biases(Network);
            var source = ParameterSource.Fixed;
            if (trainedV || trainedB)
            {
                logged ??= ReadLogged(seed);
                var (lv, lb, exact) = logged.At(step, path, _option);
                if (trainedV) v = lv;
                if (trainedB) b = lb;
                source = exact ? ParameterSource.Logged : ParameterSource.Interpolated;
            }
            result.Add(new ParameterSnapshot(step, s.T, s.W, v, b, source));
        }
        return result;
    }

    /// <summary>The readout and biases logged in <c>units.csv</c> for one seed, by step.</summary>
    private Logged ReadLogged(int seed)
    {
        string path = System.IO.Path.Combine(Path, "units.csv");
        if (!File.Exists(path)) throw new SpecException(_option, $"'{Path}' has no units.csv (needed for the trained readout or biases)");
        try
        {
            var table = CsvData.Read(path);
            int iSeed = table.Index("seed"), iStep = table.Index("step"), iUnit = table.Index("unit"), iV = table.Index("v"),
                iB = table.Index("b");
            var rows = new SortedDictionary<long, (double[] V, double[] B)>();
            string s = seed.ToString(CultureInfo.InvariantCulture);
            foreach (var r in table.Rows)
            {
                if (r[iSeed] != s) continue;
                long step = long.Parse(r[iStep], CultureInfo.InvariantCulture);
                int unit = int.Parse(r[iUnit], CultureInfo.InvariantCulture);
                if (!rows.TryGetValue(step, out var e)) rows[step] = e = (new double[Network.K], new double[Network.K]);
                e.V[unit] = CsvData.ParseNumber(r[iV]);
                e.B[unit] = CsvData.ParseNumber(r[iB]);
            }
            return new Logged(rows.Keys.ToArray(), rows.Values.ToArray());
        }
        catch (Exception e) when (e is KeyNotFoundException or FormatException or OverflowException or IndexOutOfRangeException or IOException)
        {
            throw new SpecException(_option, $"cannot read '{path}' ({e.Message})");
        }
    }

    private sealed class Logged(long[] steps, (double[] V, double[] B)[] values)
    {
        public (double[] V, double[] B, bool Exact) At(long step, string weights, string option)
        {
            int i = Array.BinarySearch(steps, step);
            if (i >= 0) return (values[i].V, values[i].B, true);
            int hi = ~i;
            if (hi == 0 || hi == steps.Length)
                throw new SpecException(option, $"'{weights}': step {step} lies outside the logged steps of units.csv");
            long s0 = steps[hi - 1], s1 = steps[hi];
            double f = (double)(step - s0) / (s1 - s0);
            var v = new double[values[hi].V.Length];
            var b = new double[v.Length];
            for (int k = 0; k < v.Length; k++)
            {
                v[k] = values[hi - 1].V[k] + f * (values[hi].V[k] - values[hi - 1].V[k]);
                b[k] = values[hi - 1].B[k] + f * (values[hi].B[k] - values[hi - 1].B[k]);
            }
            return (v, b, false);
        }
    }
}

/// <summary>The neural feature ansatz at one snapshot, for one group of units (SCIENCE.md section 6).</summary>
/// <param name="Seed">Seed of the run.</param>
/// <param name="Step">SGD step of the snapshot.</param>
/// <param name="T">Its time, steps / D.</param>
/// <param name="Population">all, or a population (pos, neg, zero: sign of the initial bias).</param>
/// <param name="Units">Number of units in the group.</param>
/// <param name="AgopCorrelation">Pearson correlation of <c>W^T W</c> and the AGOP G (s = 1).</param>
/// <param name="SqrtAgopCorrelation">Pearson correlation of <c>W^T W</c> and <c>G^1/2</c> (s = 1/2).</param>
/// <param name="InitialCorrelation">Baseline: Pearson correlation of <c>W^T W</c> and the initial <c>W_0^T W_0</c>.</param>
/// <param name="RandomMomentCorrelation">Null: median correlation of <c>W^T W</c> with <c>W^T A W</c> over random Wishart
/// moment matrices A (<see cref="SandwichCorrelation.RandomMomentMedian"/>): what sharing the weights W gives without
/// any information from the data.</param>
/// <param name="EffectiveRankWtw">Effective rank <c>(tr M)^2 / ||M||_F^2 = (sum lambda)^2 / sum lambda^2</c> of
/// <c>W^T W</c>: between 1 and the number of units; 1 when the units' weight vectors are parallel, in which case the
/// correlation with the AGOP is 1 whatever the data (both are multiples of one outer product).</param>
/// <param name="EffectiveRankAgop">The same for the AGOP.</param>
/// <param name="Parameters">Where v and b came from.</param>
public sealed record NfaPoint(int Seed, long Step, double T, string Population, int Units, double AgopCorrelation,
    double SqrtAgopCorrelation, double InitialCorrelation, double RandomMomentCorrelation, double EffectiveRankWtw,
    double EffectiveRankAgop,
    ParameterSource Parameters)
{
    /// <summary><c>(tr M)^2 / ||M||_F^2</c> of a symmetric matrix (n x n, row-major); NaN for the zero matrix.</summary>
    public static double EffectiveRank(ReadOnlySpan<double> m, int n)
    {
        double trace = 0;
        for (int i = 0; i < n; i++) trace += m[i * n + i];
        double frob = System.Numerics.Tensors.TensorPrimitives.Dot(m, m);
        return frob > 0 ? trace * trace / frob : double.NaN;
    }
}

/// <summary>Band profile and shape of one matrix (wtw, agop, agop_sqrt) of one group at one snapshot.</summary>
public sealed record BandPoint(int Seed, long Step, double T, string Population, string Matrix, BandProfile Profile, BandShape Shape);

/// <summary>Everything measured on one seed of a run.</summary>
public sealed class SeedAnalysis
{
    public required int Seed { get; init; }
    public List<NfaPoint> Nfa { get; } = new();
    public List<BandPoint> Bands { get; } = new();
    /// <summary>At the last snapshot: (population, matrix) -> features x features matrix (wtw and agop).</summary>
    public Dictionary<(string Population, string Matrix), double[]> FinalMatrices { get; } = new();
    public long FinalStep { get; set; }
    public double FinalT { get; set; }
}

/// <summary>
/// The AGOP analysis of a simulation folder (<c>theory agop</c>): at every weight snapshot of every seed, for all units
/// and for each population, the matrices <c>W^T W</c> (fully-connected) or <c>F^T F</c> (filters as rows), the AGOP
/// (patch-AGOP for the convolutional baseline) and its square root, their Pearson correlations (the neural feature
/// ansatz at s = 1 and s = 1/2, against the initial-vs-current <c>W^T W</c> baseline) and their band profiles.
/// </summary>
public static class AgopAnalysis
{
    /// <summary>Names of the matrices analysed: <c>W^T W</c> (or <c>F^T F</c>), the AGOP, and its square root.</summary>
    public static readonly string[] Matrices = ["wtw", "agop", "agop_sqrt"];

    /// <summary>Random stream (of the run's seed) for the Wishart matrices of the null correlation.</summary>
    public const ulong NullStream = 0x4E55_4C4C; // "NULL": apart from the named streams of RngStream

    /// <summary>The groups of units analysed: all units, then each population when there is more than one.</summary>
    public static (string Name, int[] Units)[] Groups(NetworkSpec network)
    {
        var list = new List<(string, int[])> { ("all", Agop.AllUnits(network.K)) };
        var present = Populations.Present(network);
        if (present.Length > 1)
            foreach (var p in present) list.Add((p, Populations.Members(network, p)));
        return list.ToArray();
    }

    /// <summary>The fixed sample the AGOP averages over: <paramref name="count"/> inputs of the kind the run was trained
    /// on (half per class), from the <see cref="RngStream.Analysis"/> stream of <paramref name="seed"/>.</summary>
    public static TestSet Sample(NlgpTask task, InputKind inputs, int seed, int count) =>
        TestSet.Draw(task.CreateSource(inputs, new Rng(seed, RngStream.Analysis)), count);

    /// <summary>Analyses every snapshot of one seed of <paramref name="run"/> over the inputs of <paramref name="sample"/>.</summary>
    public static SeedAnalysis Analyse(SimulationFolder run, int seed, TestSet sample, Action<double>? progress = null,
        CancellationToken cancellation = default) =>
        Analyse(run, seed, run.Snapshots(seed), sample, progress, cancellation);

    /// <summary>Analyses the given snapshots (from <see cref="SimulationFolder.Snapshots"/>, read beforehand so that a
    /// bad file is reported before any work) of one seed of <paramref name="run"/>.</summary>
    public static SeedAnalysis Analyse(SimulationFolder run, int seed, IReadOnlyList<ParameterSnapshot> snapshots,
        TestSet sample, Action<double>? progress = null, CancellationToken cancellation = default)
    {
        if (snapshots.Count == 0) throw new ArgumentException("no snapshots", nameof(snapshots));
        var result = new SeedAnalysis { Seed = seed };
        var groups = Groups(run.Network);
        int q = run.Features, k = run.Network.K;
        var geometry = run.FeatureGeometry;
        var rates = LearningRates.Resolve(run.Training, run.Network);
        // A run started with --init-seed drew every seed's initial weights with that seed.
        int initSeed = (run.Training with { Seed = seed }).InitialWeightsSeed;
        double[] initial = snapshots[0].Step == 0
            ? snapshots[0].W
            : run.Convolutional
                ? ConvolutionalNetwork.InitialFilters(run.Network, run.Data, run.Kernel, initSeed)
                : Initialisation.Weights(run.Network, run.Data.D, initSeed);
        var initialGram = groups.Select(g => Agop.Gram(initial, q, g.Units)).ToArray();
        // The random moment matrices of the null come from a stream of their own per run seed, so they do not depend
        // on how many samples the AGOP averages over.
        var nullRng = new Rng((ulong)seed, NullStream);
        for (int si = 0; si < snapshots.Count; si++)
        {
            cancellation.ThrowIfCancellationRequested();
            var s = snapshots[si];
            double[] moment;
            double scale;
            if (run.Convolutional)
            {
                var net = new ConvolutionalNetwork(run.Network, run.Data, run.Kernel, rates, s.W, s.V, s.B);
                moment = Agop.PatchGradientMoment(net, sample.X, sample.Count);
                scale = Agop.PatchScale(run.Data.D, q);
            }
            else
            {
                var net = new TwoLayerNetwork(run.Network, run.Data.D, rates, s.W, s.V, s.B);
                moment = Agop.GradientMoment(net, sample.X, sample.Count);
                scale = 1.0 / run.Data.D;
            }
            bool last = si == snapshots.Count - 1;
            for (int gi = 0; gi < groups.Length; gi++)
            {
                var (name, units) = groups[gi];
                var wtw = Agop.Gram(s.W, q, units);
                var agop = Agop.FromMoment(s.W, q, moment, k, units, scale);
                var root = Agop.LowRankPower(s.W, q, moment, k, units, scale, 0.5);
                result.Nfa.Add(new NfaPoint(seed, s.Step, s.T, name, units.Length, MatrixCorrelation.Pearson(wtw, agop),
                    MatrixCorrelation.Pearson(wtw, root), MatrixCorrelation.Pearson(wtw, initialGram[gi]),
                    new SandwichCorrelation(s.W, q, units).RandomMomentMedian(nullRng),
                    NfaPoint.EffectiveRank(wtw, q), NfaPoint.EffectiveRank(agop, q), s.Source));
                double[][] matrices = [wtw, agop, root];
                for (int m = 0; m < matrices.Length; m++)
                {
                    var (shape, profile) = BandShape.Of(matrices[m], geometry);
                    result.Bands.Add(new BandPoint(seed, s.Step, s.T, name, Matrices[m], profile, shape));
                }
                if (last)
                {
                    result.FinalMatrices[(name, "wtw")] = wtw;
                    result.FinalMatrices[(name, "agop")] = agop;
                }
            }
            if (last)
            {
                result.FinalStep = s.Step;
                result.FinalT = s.T;
            }
            progress?.Invoke((si + 1.0) / snapshots.Count);
        }
        return result;
    }
}

/// <summary>The tidy tables of <c>theory agop</c> (rows ordered by seed, then step, then group and matrix).</summary>
public static class AgopTables
{
    /// <summary><c>nfa.csv</c>: the ansatz per seed, snapshot and group.</summary>
    public static CsvTable Nfa(IEnumerable<SeedAnalysis> seeds)
    {
        var t = new CsvTable(["seed", "step", "t", "population", "units", "corr_agop", "corr_agop_sqrt", "corr_initial",
            "corr_random", "eff_rank_wtw", "eff_rank_agop", "parameters"]);
        foreach (var a in seeds)
            foreach (var p in a.Nfa)
                t.Add(p.Seed).Add(p.Step).Add(p.T).Add(p.Population).Add(p.Units).Add(p.AgopCorrelation)
                    .Add(p.SqrtAgopCorrelation).Add(p.InitialCorrelation).Add(p.RandomMomentCorrelation)
                    .Add(p.EffectiveRankWtw).Add(p.EffectiveRankAgop)
                    .Add(p.Parameters.ToString().ToLowerInvariant()).EndRow();
        return t;
    }

    /// <summary><c>band.csv</c>: the band profile by displacement (dx along rows, dy along columns; dy = 0 in 1D).</summary>
    public static CsvTable Band(IEnumerable<SeedAnalysis> seeds)
    {
        var t = new CsvTable(["seed", "step", "t", "population", "matrix", "dx", "dy", "distance", "mean_entry", "relative_entry"]);
        foreach (var a in seeds)
            foreach (var b in a.Bands)
            {
                var p = b.Profile;
                for (int i = 0; i < p.Mean.Length; i++)
                    t.Add(b.Seed).Add(b.Step).Add(b.T).Add(b.Population).Add(b.Matrix).Add(p.Dx[i]).Add(p.Dy[i])
                        .Add(p.Distance[i]).Add(p.Mean[i]).Add(p.Diagonal != 0 ? p.Mean[i] / p.Diagonal : double.NaN).EndRow();
            }
        return t;
    }

    /// <summary><c>band_radial.csv</c>: the band profile averaged over displacements of equal length.</summary>
    public static CsvTable BandRadial(IEnumerable<SeedAnalysis> seeds)
    {
        var t = new CsvTable(["seed", "step", "t", "population", "matrix", "distance", "mean_entry", "relative_entry"]);
        foreach (var a in seeds)
            foreach (var b in a.Bands)
            {
                var (rs, ms) = b.Profile.Radial();
                for (int i = 0; i < rs.Length; i++)
                    t.Add(b.Seed).Add(b.Step).Add(b.T).Add(b.Population).Add(b.Matrix).Add(rs[i]).Add(ms[i])
                        .Add(ms[0] != 0 ? ms[i] / ms[0] : double.NaN).EndRow();
            }
        return t;
    }

    /// <summary><c>band_width.csv</c>: the <see cref="BandShape"/> numbers per seed, snapshot, group and matrix.</summary>
    public static CsvTable BandWidth(IEnumerable<SeedAnalysis> seeds)
    {
        var t = new CsvTable(["seed", "step", "t", "population", "matrix", "diagonal", "nn_ratio", "half_width", "rms_width",
            "mass_radius", "stationary_fraction"]);
        foreach (var a in seeds)
            foreach (var b in a.Bands)
            {
                var s = b.Shape;
                t.Add(b.Seed).Add(b.Step).Add(b.T).Add(b.Population).Add(b.Matrix).Add(s.Diagonal).Add(s.NearestNeighbourRatio)
                    .Add(s.HalfWidth).Add(s.RmsWidth).Add(s.MassRadius).Add(s.StationaryFraction).EndRow();
            }
        return t;
    }

    /// <summary>A square matrix as CSV: header col_0 .. col_{n-1}, one row per matrix row.</summary>
    public static CsvTable Matrix(double[] m, int n)
    {
        var t = new CsvTable(Enumerable.Range(0, n).Select(i => $"col_{i}"));
        for (int i = 0; i < n; i++) t.AddRange(m.AsSpan(i * n, n)).EndRow();
        return t;
    }
}
