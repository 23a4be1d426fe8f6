using Theory.Simulation.Data;

namespace Theory.Simulation.Analysis;

/// <summary>The best match of a receptive field with a set of filters.</summary>
/// <param name="Filter">Index of the best filter.</param>
/// <param name="ShiftX">Output position (x) at which the filter is centred on the receptive field.</param>
/// <param name="ShiftY">Output position (y; 0 in 1D).</param>
/// <param name="Ncc">Normalised cross-correlation at the best shift, signed (a filter matching a blob of the
/// opposite sign gives a value near -1); the best is chosen by its absolute value.</param>
public readonly record struct FilterMatchResult(int Filter, int ShiftX, int ShiftY, double Ncc);

/// <summary>
/// Compares a fully-connected receptive field w (D pixels) with the filters of a convolutional layer: the
/// normalised cross-correlation <c>ncc(p) = sum_j f_j w[p + o_j] / (|f| |w|)</c> over every position p of the torus
/// (o_j the tap offsets), maximised in absolute value over positions and filters. |ncc| = 1 means that w is the
/// filter, placed somewhere, with nothing outside it; energy of w outside the filter's window lowers it.
/// </summary>
public static class FilterMatch
{
    /// <param name="w">The receptive field, D pixels.</param>
    /// <param name="geometry">The image (periodic: positions wrap round).</param>
    /// <param name="filters">K filters of q taps, row-major.</param>
    /// <param name="kernel">Filter side Q (q = Q in 1D, Q^2 in 2D; tap j at row j / Q, column j % Q).</param>
    public static FilterMatchResult Best(ReadOnlySpan<double> w, ImageGeometry geometry, ReadOnlySpan<double> filters,
        int kernel)
    {
        int L = geometry.Size, d = geometry.D, dim = geometry.Dim;
        int q = dim == 1 ? kernel : kernel * kernel;
        int count = filters.Length / q;
        double wNorm = Math.Sqrt(System.Numerics.Tensors.TensorPrimitives.Dot(w, w));
        var best = new FilterMatchResult(-1, 0, 0, 0.0);
        for (int k = 0; k < count; k++)
        {
            var f = filters.Slice(k * q, q);
            double fNorm = Math.Sqrt(System.Numerics.Tensors.TensorPrimitives.Dot(f, f));
            if (!(fNorm > 0) || !(wNorm > 0)) continue;
            for (int p = 0; p < d; p++)
            {
                int px = dim == 1 ? p : p % L, py = dim == 1 ? 0 : p / L;
                double s = 0;
                for (int j = 0; j < q; j++)
                {
                    int ox = (dim == 1 ? j : j % kernel) - kernel / 2, oy = dim == 1 ? 0 : j / kernel - kernel / 2;
                    int x = ((px + ox) % L + L) % L, y = ((py + oy) % L + L) % L;
                    s += f[j] * w[dim == 1 ? x : y * L + x];
                }
                double ncc = s / (fNorm * wNorm);
                if (Math.Abs(ncc) > Math.Abs(best.Ncc)) best = new FilterMatchResult(k, px, py, ncc);
            }
        }
        return best;
    }
}

/// <summary>A localised receptive field of a finished fully-connected run, read back from its folder.</summary>
public sealed record LocalisedField(int Seed, int Unit, double[] W);

/// <summary>Reads the localised receptive fields of a <c>theory simulate</c> run folder (for <c>--compare</c>).</summary>
public static class LocalisedFields
{
    /// <summary>
    /// The units marked <c>localised</c> in <c>rf.csv</c>, with their last snapshot from <c>weights/seed_S.csv</c>.
    /// Throws <see cref="Interop.SpecException"/> for <paramref name="option"/> when the folder is not such a run or
    /// its images are not the size of <paramref name="geometry"/>.
    /// </summary>
    public static List<LocalisedField> Load(string dir, ImageGeometry geometry, string option = "--compare")
    {
        string rf = Path.Combine(dir, "rf.csv");
        if (!File.Exists(rf))
            throw new Interop.SpecException(option, $"'{dir}' has no rf.csv (give the folder of a fully-connected theory simulate run)");
        Interop.Io.CsvData table;
        try { table = Interop.Io.CsvData.Read(rf); }
        catch (Exception e) when (e is IOException or FormatException)
        {
            throw new Interop.SpecException(option, $"cannot read '{rf}' ({e.Message})");
        }
        var result = new List<LocalisedField>();
        var bySeed = new Dictionary<int, Interop.Io.CsvData>();
        try
        {
            int iSeed = table.Index("seed"), iUnit = table.Index("unit"), iLoc = table.Index("localised");
            foreach (var row in table.Rows)
            {
                if (row[iLoc] != "1") continue;
                int seed = int.Parse(row[iSeed], System.Globalization.CultureInfo.InvariantCulture);
                int unit = int.Parse(row[iUnit], System.Globalization.CultureInfo.InvariantCulture);
                if (!bySeed.TryGetValue(seed, out var weights))
                {
                    string path = Path.Combine(dir, "weights", $"seed_{seed}.csv");
                    if (!File.Exists(path)) throw new Interop.SpecException(option, $"'{dir}' lacks weights/seed_{seed}.csv");
                    bySeed[seed] = weights = Interop.Io.CsvData.Read(path);
                }
                result.Add(new LocalisedField(seed, unit, FinalWeights(weights, unit, geometry, option, dir)));
            }
        }
        catch (KeyNotFoundException e)
        {
            throw new Interop.SpecException(option, $"'{dir}' is not a fully-connected run folder ({e.Message})");
        }
        return result;
    }

    private static double[] FinalWeights(Interop.Io.CsvData weights, int unit, ImageGeometry geometry, string option, string dir)
    {
        int iStep = weights.Index("step"), iUnit = weights.Index("unit"), iX = weights.Index("x"), iY = weights.Index("y"),
            iW = weights.Index("w");
        long last = weights.Rows.Max(r => long.Parse(r[iStep], System.Globalization.CultureInfo.InvariantCulture));
        var w = new double[geometry.D];
        int filled = 0;
        foreach (var r in weights.Rows)
        {
            if (long.Parse(r[iStep], System.Globalization.CultureInfo.InvariantCulture) != last ||
                int.Parse(r[iUnit], System.Globalization.CultureInfo.InvariantCulture) != unit) continue;
            int x = int.Parse(r[iX], System.Globalization.CultureInfo.InvariantCulture);
            int y = int.Parse(r[iY], System.Globalization.CultureInfo.InvariantCulture);
            int i = geometry.Dim == 1 ? x : y * geometry.Size + x;
            if (x < 0 || y < 0 || x >= geometry.Size || (geometry.Dim == 1 ? y != 0 : y >= geometry.Size))
                throw new Interop.SpecException(option, $"the images of '{dir}' do not match --dim {geometry.Dim} --size {geometry.Size}");
            w[i] = Interop.Io.CsvData.ParseNumber(r[iW]);
            filled++;
        }
        if (filled != geometry.D)
            throw new Interop.SpecException(option, $"the images of '{dir}' do not match --dim {geometry.Dim} --size {geometry.Size}");
        return w;
    }
}
