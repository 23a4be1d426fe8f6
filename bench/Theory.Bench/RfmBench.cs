using BenchmarkDotNet.Attributes;
using MathNet.Numerics.LinearAlgebra;
using Theory.Interop;
using Theory.Simulation.Data;
using Theory.Simulation.Kernels;

namespace Theory.Bench;

/// <summary>Which dense kernels a benchmark runs on: ours (managed C#), a system OpenBLAS, or MathNet's managed provider.</summary>
public static class RfmBenchBackends
{
    public static IDenseLinearAlgebra? Create(string name) => name switch
    {
        "managed" => new ManagedLinearAlgebra(1),
        "openblas" => OpenBlasLinearAlgebra.TryCreate(1),
        _ => null,
    };

    public static void UseMathNetSingleThread()
    {
        MathNet.Numerics.Control.UseManaged();
        MathNet.Numerics.Control.UseSingleThread();
    }
}

/// <summary>
/// One RFM iteration (fit with a learned metric + AGOP at the training points) at n = 5,000, D = 400, one thread:
/// the O(n^2 D) Gram and gradient products and the O(n^3) Cholesky factorisation. MathNet is the baseline: the same
/// algorithm written with MathNet.Numerics' managed provider.
/// </summary>
[MemoryDiagnoser]
[WarmupCount(1)]
[IterationCount(3)]
[InvocationCount(1, 1)]
public class RfmIterationBench
{
    private const int D = 400;
    private double[] _x = [], _y = [], _metric = [];
    private IDenseLinearAlgebra? _la;
    private LaplaceKernelMachine? _machine;
    private Matrix<double>? _mx, _mm;
    private MathNet.Numerics.LinearAlgebra.Vector<double>? _my;

    [Params(5000)] public int N;
    [Params("managed", "openblas", "mathnet")] public string Backend = "managed";

    [GlobalSetup]
    public void Setup()
    {
        var task = new NlgpTask(new DataSpec { Dim = 2, Size = 20, Xi0 = 1, Xi1 = 3, Gain = 10 });
        (_x, _y) = RecursiveFeatureMachine.Draw(task, InputKind.Nlgp, N, new Rng(0, RngStream.Kernel));
        // A realistic learned metric: the AGOP after one iteration from M = I (computed with our kernels).
        var first = new LaplaceKernelMachine(_x, _y, 10, 1e-3, new ManagedLinearAlgebra(Environment.ProcessorCount));
        first.Fit(MetricFactor.Identity(D));
        _metric = RecursiveFeatureMachine.Normalise(first.Agop(), AgopNormalisation.Max);
        if (Backend == "mathnet")
        {
            RfmBenchBackends.UseMathNetSingleThread();
            _mx = Matrix<double>.Build.Dense(N, D, (i, j) => _x[i * D + j]);
            _my = MathNet.Numerics.LinearAlgebra.Vector<double>.Build.DenseOfArray(_y);
            _mm = Matrix<double>.Build.Dense(D, D, (i, j) => _metric[i * D + j]);
            return;
        }
        _la = RfmBenchBackends.Create(Backend) ?? throw new InvalidOperationException($"{Backend} is not available here");
        _machine = new LaplaceKernelMachine(_x, _y, 10, 1e-3, _la);
    }

    [Benchmark]
    public double Iteration()
    {
        if (Backend == "mathnet") return MathNetIteration(_mx!, _my!, _mm!, 10, 1e-3)[0, 0];
        _machine!.Fit(_metric);
        return _machine.Agop()[0];
    }

    /// <summary>The RFM iteration with MathNet's dense matrices (the straightforward way to write it in .NET).</summary>
    public static Matrix<double> MathNetIteration(Matrix<double> x, MathNet.Numerics.LinearAlgebra.Vector<double> y,
        Matrix<double> m, double bandwidth, double ridge)
    {
        int n = x.RowCount;
        var evd = m.Evd(Symmetricity.Symmetric);
        var r = evd.EigenVectors * Matrix<double>.Build.DiagonalOfDiagonalArray(
            evd.EigenValues.Select(l => Math.Sqrt(Math.Max(l.Real, 0))).ToArray());
        var z = x * r;
        var gram = z.TransposeAndMultiply(z);
        var norms = gram.Diagonal();
        var dist = Matrix<double>.Build.Dense(n, n, (i, j) => Math.Sqrt(Math.Max(norms[i] + norms[j] - 2 * gram[i, j], 0)));
        var k = dist.Map(d => Math.Exp(-d / bandwidth));
        for (int i = 0; i < n; i++) k[i, i] = 1 + ridge;
        var alpha = k.Cholesky().Solve(y);
        var w = Matrix<double>.Build.Dense(n, n, (i, j) => i == j || dist[i, j] == 0 ? 0 : Math.Exp(-dist[i, j] / bandwidth) / dist[i, j]);
        var g1 = w * Matrix<double>.Build.DiagonalOfDiagonalVector(alpha) * z;
        var s = w * alpha;
        var gz = (g1 - Matrix<double>.Build.DiagonalOfDiagonalVector(s) * z) / bandwidth;
        var gx = gz * r.Transpose();
        return gx.TransposeThisAndMultiply(gx) / n;
    }
}

/// <summary>The three dense kernels at n = 2,000 (k = 400), one thread, against MathNet's managed provider.</summary>
[MemoryDiagnoser]
[WarmupCount(1)]
[IterationCount(5)]
[InvocationCount(1, 1)]
public class DenseKernelBench
{
    private const int N = 2000, K = 400;
    private double[] _a = [], _c = [], _spd = [], _work = [];
    private IDenseLinearAlgebra? _la;
    private Matrix<double>? _ma, _mspd;

    [Params("managed", "openblas", "mathnet")] public string Backend = "managed";

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Rng(1, 0);
        _a = new double[N * K];
        rng.FillGaussian(_a);
        _c = new double[N * N];
        _spd = new double[N * N];
        new ManagedLinearAlgebra(Environment.ProcessorCount).SyrkLower(N, K, 1.0 / K, _a, K, 0.0, _spd, N);
        for (int i = 0; i < N; i++) _spd[i * N + i] += 1;
        DenseLinearAlgebra.MirrorLowerToUpper(N, _spd, N);
        _work = new double[N * N];
        if (Backend == "mathnet")
        {
            RfmBenchBackends.UseMathNetSingleThread();
            _ma = Matrix<double>.Build.Dense(N, K, (i, j) => _a[i * K + j]);
            _mspd = Matrix<double>.Build.Dense(N, N, (i, j) => _spd[i * N + j]);
            return;
        }
        _la = RfmBenchBackends.Create(Backend) ?? throw new InvalidOperationException($"{Backend} is not available here");
    }

    [IterationSetup(Target = nameof(Cholesky))]
    public void ResetFactor() => _spd.CopyTo(_work, 0);

    /// <summary>C = A A^T in full (n x n x k): the Gram products.</summary>
    [Benchmark]
    public double Gemm()
    {
        if (_ma is not null) return _ma.TransposeAndMultiply(_ma)[0, 0];
        _la!.GemmNT(N, N, K, 1.0, _a, K, _a, K, 0.0, _c, N);
        return _c[0];
    }

    /// <summary>Lower triangle of A A^T (half the flops of Gemm).</summary>
    [Benchmark]
    public double Syrk()
    {
        if (_ma is not null) return _ma.TransposeAndMultiply(_ma)[0, 0]; // MathNet has no symmetric product
        _la!.SyrkLower(N, K, 1.0, _a, K, 0.0, _c, N);
        return _c[0];
    }

    /// <summary>Cholesky factorisation of an n x n SPD matrix (n^3/3 flops).</summary>
    [Benchmark]
    public double Cholesky()
    {
        if (_mspd is not null) return _mspd.Cholesky().Factor[1, 1];
        if (_la!.CholeskyLower(N, _work, N) != 0) throw new InvalidOperationException("not positive definite");
        return _work[N + 1];
    }
}
