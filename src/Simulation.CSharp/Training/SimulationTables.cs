using Theory.Interop;
using Theory.Interop.Io;
using Theory.Simulation.Analysis;

namespace Theory.Simulation.Training;

/// <summary>
/// The tidy tables of a simulation (one or several seeds, always with a <c>seed</c> column, rows ordered by seed
/// then time): <c>trajectory.csv</c> (one row per logged time), <c>units.csv</c> (one row per unit and logged time),
/// <c>rf.csv</c> (final receptive fields, one row per unit; <c>localised</c> = 1 when
/// <see cref="ReceptiveField.IsLocalised"/>) and
/// <c>weights/seed_S.csv</c> (snapshots, one row per unit and pixel).
/// </summary>
public static class SimulationTables
{
    /// <summary>Trajectory columns: errors, population summaries, then the order parameters.</summary>
    public static string[] TrajectoryColumns(NetworkSpec net)
    {
        var cols = new List<string> { "seed", "step", "t", "eps_g", "mse", "accuracy", "eps_g_0", "eps_g_1", "ipr_mean", "ipr_max" };
        foreach (var p in Populations.Present(net))
            cols.AddRange([$"ipr_{p}", $"width_{p}", $"kurtosis_{p}", $"tiling_{p}"]);
        cols.AddRange(OrderParameterColumns.Names(net.K, 2));
        return cols.ToArray();
    }

    public static CsvTable Trajectory(IReadOnlyList<SimulationResult> runs)
    {
        var net = runs[0].Network;
        var table = new CsvTable(TrajectoryColumns(net));
        var populations = Populations.Present(net);
        var members = populations.Select(p => Populations.Members(net, p)).ToArray();
        foreach (var run in runs)
            foreach (var m in run.Points)
            {
                table.Add(run.Seed).Add(m.Step).Add(m.T).Add(m.Test.EpsG).Add(m.Test.Mse).Add(m.Test.Accuracy)
                    .Add(m.Test.EpsGByClass[0]).Add(m.Test.EpsGByClass[1]).Add(m.Ipr.Average()).Add(m.Ipr.Max());
                for (int p = 0; p < populations.Length; p++)
                {
                    var units = members[p];
                    table.Add(Mean(units, k => m.Ipr[k])).Add(Mean(units, k => m.Width[k]))
                        .Add(Mean(units, k => 0.5 * (m.Test.Kurtosis[0][k] + m.Test.Kurtosis[1][k])))
                        .Add(ReceptiveField.Tiling(units.Select(k => m.Centre[k]).ToArray(), Geometry(run)));
                }
                table.AddRange(OrderParameterColumns.Values(m.OrderParameters)).EndRow();
            }
        return table;
    }

    public static CsvTable Units(IReadOnlyList<SimulationResult> runs)
    {
        var table = new CsvTable(["seed", "step", "t", "unit", "population", "ipr", "width", "centre_x", "centre_y",
            "concentration", "norm_sq", "kurtosis_0", "kurtosis_1", "v", "b"]);
        foreach (var run in runs)
            foreach (var m in run.Points)
                for (int k = 0; k < run.Network.K; k++)
                    table.Add(run.Seed).Add(m.Step).Add(m.T).Add(k).Add(Populations.Of(run.Network, k)).Add(m.Ipr[k])
                        .Add(m.Width[k]).Add(m.Centre[k].X).Add(m.Centre[k].Y).Add(m.Concentration[k]).Add(m.NormSquared[k])
                        .Add(m.Test.Kurtosis[0][k]).Add(m.Test.Kurtosis[1][k])
                        .Add(m.OrderParameters.V[k]).Add(m.OrderParameters.B[k]).EndRow();
        return table;
    }

    /// <summary>Final receptive fields (the last measurement of each run), one row per seed and unit.</summary>
    public static CsvTable ReceptiveFields(IReadOnlyList<SimulationResult> runs)
    {
        var table = new CsvTable(["seed", "step", "t", "unit", "population", "localised", "concentration", "ipr", "width",
            "centre_x", "centre_y", "peak_x", "peak_y", "kurtosis", "v", "b"]);
        foreach (var run in runs)
        {
            if (run.Last is not { } m) continue;
            var geometry = Geometry(run);
            for (int k = 0; k < run.Network.K; k++)
            {
                var peak = ReceptiveField.PixelOf(m.Peak[k], geometry);
                long px = (long)peak.X, py = (long)peak.Y;
                table.Add(run.Seed).Add(m.Step).Add(m.T).Add(k).Add(Populations.Of(run.Network, k))
                    .Add(ReceptiveField.IsLocalised(m.Concentration[k], m.Ipr[k], geometry.D) ? 1L : 0L).Add(m.Concentration[k])
                    .Add(m.Ipr[k]).Add(m.Width[k]).Add(m.Centre[k].X)
                    .Add(m.Centre[k].Y).Add(px).Add(py)
                    .Add(0.5 * (m.Test.Kurtosis[0][k] + m.Test.Kurtosis[1][k]))
                    .Add(m.OrderParameters.V[k]).Add(m.OrderParameters.B[k]).EndRow();
            }
        }
        return table;
    }

    /// <summary>Weight snapshots of one run: step, t, unit, pixel coordinates (x, y; y = 0 in 1D), weight, and the unit's
    /// readout v and bias b at that step (repeated on each of its rows), so a snapshot alone restores the network.</summary>
    public static CsvTable Weights(SimulationResult run)
    {
        var table = new CsvTable(["step", "t", "unit", "x", "y", "w", "v", "b"]);
        var geometry = Geometry(run);
        int d = geometry.D, size = geometry.Size;
        foreach (var s in run.Snapshots)
            for (int k = 0; k < run.Network.K; k++)
                for (int i = 0; i < d; i++)
                    table.Add(s.Step).Add(s.T).Add(k).Add(geometry.Dim == 1 ? i : i % size)
                        .Add(geometry.Dim == 1 ? 0 : i / size).Add(s.W[k * d + i]).Add(s.V[k]).Add(s.B[k]).EndRow();
        return table;
    }

    private static Data.ImageGeometry Geometry(SimulationResult run) => new(run.Data);

    private static double Mean(int[] units, Func<int, double> f)
    {
        if (units.Length == 0) return double.NaN;
        double s = 0;
        foreach (var k in units) s += f(k);
        return s / units.Length;
    }
}
