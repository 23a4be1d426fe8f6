using System.Collections.Concurrent;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.OdeSolvers;
using Theory.Ode;

namespace Theory.Bench;

/// <summary>The standard problems of the ODE benchmarks (Hairer, Norsett &amp; Wanner I, II.10).</summary>
public static class OdeProblems
{
    public sealed record Problem(string Name, Action<double, double[], double[]> Rhs, double[] Y0, double TEnd);

    private const double Mu = 0.012277471;

    public static readonly Problem[] All =
    [
        new("arenstorf", (_, y, d) =>
        {
            double mup = 1 - Mu;
            double r1 = Math.Pow((y[0] + Mu) * (y[0] + Mu) + y[1] * y[1], 1.5);
            double r2 = Math.Pow((y[0] - mup) * (y[0] - mup) + y[1] * y[1], 1.5);
            d[0] = y[2];
            d[1] = y[3];
            d[2] = y[0] + 2 * y[3] - mup * (y[0] + Mu) / r1 - Mu * (y[0] - mup) / r2;
            d[3] = y[1] - 2 * y[2] - mup * y[1] / r1 - Mu * y[1] / r2;
        }, [0.994, 0, 0, -2.00158510637908252240537862224], 17.0652165601579625588917206249),
        new("lotka-volterra", (_, y, d) =>
        {
            d[0] = 1.5 * y[0] - y[0] * y[1];
            d[1] = -3 * y[1] + y[0] * y[1];
        }, [1, 1], 10),
        new("van-der-pol", (_, y, d) =>
        {
            d[0] = y[1];
            d[1] = (1 - y[0] * y[0]) * y[1] - y[0];
        }, [2, 0], 20),
        new("brusselator", (_, y, d) =>
        {
            d[0] = 1 + y[0] * y[0] * y[1] - 4 * y[0];
            d[1] = 3 * y[0] - y[0] * y[0] * y[1];
        }, [1.5, 3], 20),
        new("stiff-van-der-pol", (_, y, d) =>
        {
            d[0] = y[1];
            d[1] = ((1 - y[0] * y[0]) * y[1] - y[0]) / 1e-3;
        }, [2, 0], 2),
    ];

    public static Problem Get(string name) => All.First(p => p.Name == name);

    /// <summary>End point from DOPRI5 at 1e-12 (the Arenstorf orbit is periodic: its start).</summary>
    public static double[] Reference(Problem p) =>
        p.Name == "arenstorf"
            ? p.Y0
            : Last(OdeSolver.Solve(p.Rhs, 0, p.Y0, p.TEnd,
                new OdeSettings { RelTol = 1e-12, AbsTol = 1e-12, MaxSteps = 100_000_000, StiffnessTestInterval = 0 }));

    public static double[] Last(OdeResult r) => r.States[^1];

    public static double MaxAbsDiff(double[] a, double[] b)
    {
        double m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }
}

/// <summary>Reports the right-hand-side evaluations and the end-point error each benchmark case made.</summary>
public sealed class OdeWorkColumn(string name, bool error) : IColumn
{
    public static readonly ConcurrentDictionary<string, (long Evaluations, double Error)> Work = new();

    public static string Key(string method, string problem) => method + "|" + problem;

    public string Id => "Ode" + name;
    public string ColumnName => name;
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => error ? 1 : 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => error ? "max |y(T) - reference|" : "right-hand-side evaluations per solve";
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public bool IsAvailable(Summary summary) => true;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var problem = benchmarkCase.Parameters.Items.FirstOrDefault(p => p.Name == "Problem")?.Value?.ToString() ?? "";
        return Work.TryGetValue(Key(benchmarkCase.Descriptor.WorkloadMethod.Name, problem), out var w)
            ? error ? w.Error.ToString("0.0e+0") : w.Evaluations.ToString()
            : "?";
    }
}

public sealed class OdeConfig : ManualConfig
{
    public OdeConfig()
    {
        AddColumn(new OdeWorkColumn("Evaluations", false), new OdeWorkColumn("Error", true));
    }
}

/// <summary>
/// DOPRI5 and Radau IIA at rtol = atol = 1e-6 against MathNet's fixed-step RK4 with the fewest steps that reach
/// DOPRI5's end-point accuracy (found once in the set-up), so that the time ratios compare equal accuracy.
/// </summary>
[Config(typeof(OdeConfig))]
[MemoryDiagnoser]
public class OdeBench
{
    [Params("arenstorf", "lotka-volterra", "van-der-pol", "brusselator", "stiff-van-der-pol")]
    public string Problem { get; set; } = "arenstorf";

    private OdeProblems.Problem _p = OdeProblems.All[0];
    private Func<double, Vector<double>, Vector<double>> _vectorRhs = (_, y) => y;
    private int _rk4Steps;
    private readonly OdeSettings _dopri5 = new() { MaxSteps = 10_000_000 };
    private readonly OdeSettings _radau5 = new() { Method = OdeMethod.Stiff };

    [GlobalSetup]
    public void Setup()
    {
        _p = OdeProblems.Get(Problem);
        var p = _p;
        var buffer = new double[p.Y0.Length];
        var rhs = p.Rhs;
        _vectorRhs = (t, y) =>
        {
            var d = new double[y.Count];
            rhs(t, y.AsArray() ?? y.ToArray(), d);
            return Vector<double>.Build.Dense(d);
        };
        var reference = OdeProblems.Reference(p);
        var dopri5 = OdeSolver.Solve(p.Rhs, 0, p.Y0, p.TEnd, _dopri5);
        double target = OdeProblems.MaxAbsDiff(OdeProblems.Last(dopri5), reference);
        var radau5 = OdeSolver.Solve(p.Rhs, 0, p.Y0, p.TEnd, _radau5);
        Record(nameof(Dopri5), dopri5.Evaluations, target);
        Record(nameof(Radau5), radau5.Evaluations, OdeProblems.MaxAbsDiff(OdeProblems.Last(radau5), reference));
        // Fewest RK4 steps with an end error at most DOPRI5's: doubling, then bisection.
        double Rk4Error(int steps) => OdeProblems.MaxAbsDiff(Rk4End(steps), reference);
        int hi = 16;
        while (!(Rk4Error(hi) <= target)) hi *= 2;
        int lo = hi / 2;
        while (hi - lo > Math.Max(1, hi / 200))
        {
            int mid = (lo + hi) / 2;
            if (Rk4Error(mid) <= target) hi = mid; else lo = mid;
        }
        _rk4Steps = hi;
        Record(nameof(Rk4), 4L * _rk4Steps, Rk4Error(_rk4Steps));
    }

    private void Record(string method, long evaluations, double error) =>
        OdeWorkColumn.Work[OdeWorkColumn.Key(method, Problem)] = (evaluations, error);

    private double[] Rk4End(int steps)
    {
        // MathNet returns the solution at steps + 1 equally spaced points; 4 evaluations per step.
        var path = RungeKutta.FourthOrder(Vector<double>.Build.Dense(_p.Y0), 0, _p.TEnd, steps + 1, _vectorRhs);
        return path[^1].ToArray();
    }

    [Benchmark(Baseline = true, Description = "MathNet RK4 (fixed step, equal accuracy)")]
    public double Rk4() => Rk4End(_rk4Steps)[0];

    [Benchmark(Description = "DOPRI5 (1e-6)")]
    public double Dopri5() => OdeProblems.Last(OdeSolver.Solve(_p.Rhs, 0, _p.Y0, _p.TEnd, _dopri5))[0];

    [Benchmark(Description = "Radau5 (1e-6)")]
    public double Radau5() => OdeProblems.Last(OdeSolver.Solve(_p.Rhs, 0, _p.Y0, _p.TEnd, _radau5))[0];
}

/// <summary>
/// A stiff system with the shape of the Gaussian-equivalence ODEs: blocks of 36 states (one per Fourier mode) with
/// rates spread over five decades, each block a ring, all weakly coupled through the mean.
/// </summary>
public sealed class BlockStiffSystem
{
    public const int Size = 36;
    public int Blocks { get; }
    public int N => Blocks * Size;
    private readonly double[] _rates;
    public double[] Y0 { get; }

    public BlockStiffSystem(int blocks)
    {
        Blocks = blocks;
        _rates = Enumerable.Range(0, blocks).Select(b => Math.Pow(10, 3 - 5.0 * b / (blocks - 1))).ToArray();
        Y0 = Enumerable.Range(0, N).Select(i => (i % 7) / 7.0).ToArray();
    }

    public void Rhs(double t, double[] y, double[] d)
    {
        double mean = 0;
        for (int i = 0; i < N; i++) mean += y[i];
        mean /= N;
        for (int b = 0; b < Blocks; b++)
            for (int j = 0; j < Size; j++)
            {
                int i = b * Size + j, next = b * Size + (j + 1) % Size;
                d[i] = -_rates[b] * (y[i] - 0.5 * Math.Sin(y[next])) + 0.1 * mean + 0.01;
            }
    }

    public OdeResult Solve(OdeMethod method, bool blocks) =>
        OdeSolver.Solve(Rhs, 0, Y0, 10, new OdeSettings
        {
            Method = method,
            JacobianBlocks = blocks ? Enumerable.Repeat(Size, Blocks).ToArray() : null,
        });

    /// <summary>
    /// `Theory.Bench --large-ode`: one solve each on 83 blocks (n = 2,988; too slow for BenchmarkDotNet's repeated
    /// runs with dense Jacobians): evaluations, LU factorisations, wall and process CPU seconds.
    /// </summary>
    public static void RunLarge()
    {
        var system = new BlockStiffSystem(83);
        var process = System.Diagnostics.Process.GetCurrentProcess();
        foreach (var (name, method, blocks) in new[]
                 {
                     ("Radau5, block-diagonal Jacobian", OdeMethod.Stiff, true), ("BDF, block-diagonal Jacobian", OdeMethod.Bdf, true),
                     ("BDF, dense difference Jacobian", OdeMethod.Bdf, false), ("Radau5, dense difference Jacobian", OdeMethod.Stiff, false),
                 })
        {
            process.Refresh();
            var cpu0 = process.TotalProcessorTime;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var r = system.Solve(method, blocks);
            process.Refresh();
            Console.WriteLine($"n = {system.N}, {name}: {r.Evaluations} evaluations, {r.Accepted} steps, {r.Decompositions} LU (pairs for Radau5), " +
                              $"{clock.Elapsed.TotalSeconds:0.00} s wall, {(process.TotalProcessorTime - cpu0).TotalSeconds:0.00} CPU-s");
        }
    }
}

/// <summary>
/// The stiff solvers on a 360-dimensional <see cref="BlockStiffSystem"/> of 10 blocks of 36: dense against
/// block-diagonal finite-difference Jacobians.
/// </summary>
[MemoryDiagnoser]
public class OdeStiffSystemBench
{
    private readonly BlockStiffSystem _system = new(10);

    private double Run(OdeMethod method, bool blocks) => _system.Solve(method, blocks).States[^1][0];

    [Benchmark(Baseline = true)] public double Radau5Dense() => Run(OdeMethod.Stiff, false);
    [Benchmark] public double Radau5Blocks() => Run(OdeMethod.Stiff, true);
    [Benchmark] public double BdfDense() => Run(OdeMethod.Bdf, false);
    [Benchmark] public double BdfBlocks() => Run(OdeMethod.Bdf, true);
}

/// <summary>
/// Issue 4's stiff target: Van der Pol with eps = 1e-3 on [0, 2], every method at the round tolerance where its
/// end error is within twice DOPRI5's at 1e-6 (analytic Jacobians; the Evaluations column counts right-hand sides
/// only). DOPRI5 is the baseline.
/// </summary>
[Config(typeof(OdeConfig))]
[MemoryDiagnoser]
public class OdeStiffVanDerPolBench
{
    private const double Eps = 1e-3;
    private static readonly OdeProblems.Problem P = OdeProblems.Get("stiff-van-der-pol");

    private static readonly Action<double, double[], double[,]> Jacobian = (_, y, j) =>
    {
        j[0, 0] = 0;
        j[0, 1] = 1;
        j[1, 0] = (-2 * y[0] * y[1] - 1) / Eps;
        j[1, 1] = (1 - y[0] * y[0]) / Eps;
    };

    private readonly OdeSettings _dopri5 = new() { MaxSteps = 10_000_000 };
    private readonly OdeSettings _radau5 = new() { Method = OdeMethod.Stiff, RelTol = 3e-6, AbsTol = 3e-6 };
    private readonly OdeSettings _rodas5p = new() { Method = OdeMethod.Rodas5P, RelTol = 1e-5, AbsTol = 1e-5 };
    private readonly OdeSettings _radau9 = new() { Method = OdeMethod.Radau9, FullNewton = true, RelTol = 1e-5, AbsTol = 1e-5 };

    [GlobalSetup]
    public void Setup()
    {
        var reference = OdeProblems.Reference(P);
        foreach (var (name, settings, jac) in new[]
                 {
                     (nameof(Dopri5), _dopri5, (Action<double, double[], double[,]>?)null),
                     (nameof(Radau5), _radau5, Jacobian),
                     (nameof(Rodas5P), _rodas5p, Jacobian),
                     (nameof(Radau9Full), _radau9, Jacobian),
                 })
        {
            var r = OdeSolver.Solve(P.Rhs, 0, P.Y0, P.TEnd, settings, jac);
            OdeWorkColumn.Work[OdeWorkColumn.Key(name, "")] = (r.Evaluations, OdeProblems.MaxAbsDiff(OdeProblems.Last(r), reference));
        }
    }

    private static double Run(OdeSettings s, Action<double, double[], double[,]>? jac) =>
        OdeProblems.Last(OdeSolver.Solve(P.Rhs, 0, P.Y0, P.TEnd, s, jac))[0];

    [Benchmark(Baseline = true, Description = "DOPRI5 (1e-6)")]
    public double Dopri5() => Run(_dopri5, null);

    [Benchmark(Description = "Radau5, analytic J (3e-6)")]
    public double Radau5() => Run(_radau5, Jacobian);

    [Benchmark(Description = "Rodas5P, analytic J (1e-5)")]
    public double Rodas5P() => Run(_rodas5p, Jacobian);

    [Benchmark(Description = "Radau9, full Newton, analytic J (1e-5)")]
    public double Radau9Full() => Run(_radau9, Jacobian);
}
