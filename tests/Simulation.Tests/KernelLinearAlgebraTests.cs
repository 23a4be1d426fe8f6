using FsCheck;
using FsCheck.Fluent;
using Theory.Simulation.Data;
using Theory.Simulation.Kernels;

namespace Theory.Simulation.Tests;

/// <summary>A fact that runs only where a system OpenBLAS can be loaded (it is skipped, not passed, elsewhere).</summary>
public sealed class OpenBlasFactAttribute : FactAttribute
{
    public OpenBlasFactAttribute()
    {
        if (!OpenBlasLinearAlgebra.IsAvailable) Skip = "OpenBLAS (libopenblas.so.0) is not installed";
    }
}

/// <summary>The dense kernels against naive triple loops, and their invariants.</summary>
public class KernelLinearAlgebraTests
{
    internal static double[] Random(int count, int seed)
    {
        var rng = new Rng((ulong)seed, 99);
        var x = new double[count];
        rng.FillGaussian(x);
        return x;
    }

    /// <summary>A random symmetric positive definite n x n matrix B B^T / n + I, row-major.</summary>
    internal static double[] RandomSpd(int n, int seed)
    {
        var b = Random(n * n, seed);
        var a = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++)
            {
                double s = 0;
                for (int p = 0; p < n; p++) s += b[i * n + p] * b[j * n + p];
                a[i * n + j] = a[j * n + i] = s / n + (i == j ? 1 : 0);
            }
        return a;
    }

    private static void NaiveGemmNT(int m, int n, int k, double alpha, double[] a, int lda, double[] b, int ldb, double beta,
        double[] c, int ldc)
    {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++) s += a[i * lda + p] * b[j * ldb + p];
                c[i * ldc + j] = alpha * s + (beta == 0 ? 0 : beta * c[i * ldc + j]);
            }
    }

    private static void AssertClose(double expected, double actual, double scale, string what)
    {
        double tol = 1e-12 * Math.Max(1, scale);
        Assert.True(Math.Abs(expected - actual) <= tol, $"{what}: expected {expected}, got {actual}");
    }

    private static IDenseLinearAlgebra[] Backends(int threads)
    {
        var list = new List<IDenseLinearAlgebra> { new ManagedLinearAlgebra(threads) };
        if (OpenBlasLinearAlgebra.TryCreate(threads) is { } native) list.Add(native);
        return list.ToArray();
    }

    private static void CheckGemm(IDenseLinearAlgebra la, int m, int n, int k, double alpha, double beta, int pad, int seed)
    {
        int lda = k + pad, ldb = k + pad, ldc = n + pad;
        var a = Random(Math.Max(1, m * lda), seed);
        var b = Random(Math.Max(1, n * ldb), seed + 1);
        var c = Random(Math.Max(1, m * ldc), seed + 2);
        var expected = (double[])c.Clone();
        NaiveGemmNT(m, n, k, alpha, a, lda, b, ldb, beta, expected, ldc);
        la.GemmNT(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
                AssertClose(expected[i * ldc + j], c[i * ldc + j], Math.Sqrt(k) * 4, $"{la.Name} C[{i},{j}] ({m}x{n}x{k})");
            for (int j = n; j < ldc && i < m - 1; j++)
                Assert.Equal(expected[i * ldc + j], c[i * ldc + j]); // padding untouched
        }
    }

    [Fact]
    public void GemmMatchesNaiveProductOnRandomShapes()
    {
        var la = new ManagedLinearAlgebra(1);
        var gen = from m in Gen.Choose(1, 40)
                  from n in Gen.Choose(1, 60)
                  from k in Gen.Choose(0, 40)
                  from pad in Gen.Choose(0, 3)
                  from beta in Gen.Elements(0.0, 1.0, -0.5)
                  select (m, n, k, pad, beta);
        Prop.ForAll(gen.ToArbitrary(), t =>
        {
            CheckGemm(la, t.m, t.n, t.k, 1.5, t.beta, t.pad, t.m * 1000 + t.n * 10 + t.k);
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void GemmMatchesNaiveProductAcrossEveryCacheBlockBoundary()
    {
        // m crosses the row block (96), n the column block (3072) and the micro-tile width, k the depth block (256).
        foreach (var la in Backends(2))
            CheckGemm(la, 203, 3100, 300, -0.75, 0.5, 1, 7);
    }

    [Fact]
    public void SyrkWritesTheLowerTriangleOnly()
    {
        foreach (var la in Backends(2))
            foreach (var (n, k) in new[] { (1, 3), (7, 5), (97, 33), (250, 270), (400, 10) })
            {
                int ld = n + 2;
                var a = Random(n * (k + 1), n + k);
                var c = Random(n * ld, 5);
                for (int i = 0; i < n; i++)
                    for (int j = i + 1; j < n; j++) c[i * ld + j] = double.NaN; // upper triangle must stay untouched
                var before = (double[])c.Clone();
                la.SyrkLower(n, k, 2.0, a, k + 1, -1.0, c, ld);
                for (int i = 0; i < n; i++)
                    for (int j = 0; j < n; j++)
                    {
                        if (j > i)
                        {
                            Assert.True(double.IsNaN(c[i * ld + j]), $"{la.Name}: upper entry ({i},{j}) was written");
                            continue;
                        }
                        double s = 0;
                        for (int p = 0; p < k; p++) s += a[i * (k + 1) + p] * a[j * (k + 1) + p];
                        AssertClose(2 * s - before[i * ld + j], c[i * ld + j], Math.Sqrt(k) * 4, $"{la.Name} syrk ({i},{j})");
                    }
            }
    }

    [Fact]
    public void CholeskyFactorReproducesTheMatrix()
    {
        foreach (var la in Backends(2))
            foreach (int n in new[] { 1, 2, 31, 64, 65, 150, 301 })
            {
                var a = RandomSpd(n, n);
                var f = (double[])a.Clone();
                for (int i = 0; i < n; i++)
                    for (int j = i + 1; j < n; j++) f[i * n + j] = -7; // sentinel above the diagonal
                Assert.Equal(0, la.CholeskyLower(n, f, n));
                for (int i = 0; i < n; i++)
                    for (int j = 0; j < n; j++)
                    {
                        if (j > i)
                        {
                            Assert.Equal(-7, f[i * n + j]);
                            continue;
                        }
                        double s = 0;
                        for (int p = 0; p <= j; p++) s += f[i * n + p] * f[j * n + p];
                        AssertClose(a[i * n + j], s, n, $"{la.Name} (L L^T)[{i},{j}] n={n}");
                    }
            }
    }

    [Fact]
    public void CholeskyReportsTheFirstNonPositivePivot()
    {
        foreach (var la in Backends(1))
            foreach (int bad in new[] { 0, 40, 130 })
            {
                int n = 150;
                var a = RandomSpd(n, 3);
                // Make the leading (bad+1) x (bad+1) block singular-and-beyond: row/column bad equals row/column 0
                // scaled, minus a little, so the Schur complement at pivot bad is negative.
                for (int i = 0; i < n; i++)
                {
                    a[bad * n + i] = a[i * n + bad] = 0;
                }
                a[bad * n + bad] = -1;
                Assert.Equal(bad + 1, la.CholeskyLower(n, a, n));
            }
    }

    [Fact]
    public void CholeskySolveSolvesTheSystem()
    {
        int n = 200;
        var a = RandomSpd(n, 11);
        var x = Random(n, 12);
        var b = new double[n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) b[i] += a[i * n + j] * x[j];
        var f = (double[])a.Clone();
        Assert.Equal(0, new ManagedLinearAlgebra().CholeskyLower(n, f, n));
        DenseLinearAlgebra.CholeskySolve(n, f, n, b);
        for (int i = 0; i < n; i++) Assert.True(Math.Abs(b[i] - x[i]) < 1e-10, $"x[{i}]: {b[i]} vs {x[i]}");
    }

    [Fact]
    public void ManagedResultsAreBitwiseIndependentOfTheThreadCount()
    {
        int n = 700, k = 300;
        var a = Random(n * k, 21);
        var one = new ManagedLinearAlgebra(1);
        var three = new ManagedLinearAlgebra(3);

        var c1 = new double[n * n];
        var c3 = new double[n * n];
        one.GemmNT(n, n, k, 1, a, k, a, k, 0, c1, n);
        three.GemmNT(n, n, k, 1, a, k, a, k, 0, c3, n);
        Assert.Equal(c1, c3);

        var s1 = new double[n * n];
        var s3 = new double[n * n];
        one.SyrkLower(n, k, 1.0 / k, a, k, 0, s1, n);
        three.SyrkLower(n, k, 1.0 / k, a, k, 0, s3, n);
        Assert.Equal(s1, s3);

        for (int i = 0; i < n; i++) { s1[i * n + i] += 1; s3[i * n + i] += 1; }
        Assert.Equal(0, one.CholeskyLower(n, s1, n));
        Assert.Equal(0, three.CholeskyLower(n, s3, n));
        Assert.Equal(s1, s3);
    }

    [OpenBlasFact]
    public void OpenBlasAgreesWithTheManagedKernels()
    {
        var native = OpenBlasLinearAlgebra.TryCreate(1)!;
        var managed = new ManagedLinearAlgebra(1);
        int n = 300;
        var a = RandomSpd(n, 5);
        var fn = (double[])a.Clone();
        var fm = (double[])a.Clone();
        Assert.Equal(0, native.CholeskyLower(n, fn, n));
        Assert.Equal(0, managed.CholeskyLower(n, fm, n));
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++)
                Assert.True(Math.Abs(fn[i * n + j] - fm[i * n + j]) < 1e-11, $"L[{i},{j}]");
    }

    [Fact]
    public void MirrorAndTransposeMoveTheRightEntries()
    {
        int n = 130;
        var a = Random(n * n, 4);
        var lower = (double[])a.Clone();
        DenseLinearAlgebra.MirrorLowerToUpper(n, lower, n);
        var upper = (double[])a.Clone();
        DenseLinearAlgebra.MirrorUpperToLower(n, upper, n);
        var t = new double[n * n];
        DenseLinearAlgebra.Transpose(n, n, a, n, t, n);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                Assert.Equal(a[Math.Max(i, j) * n + Math.Min(i, j)], lower[i * n + j]);
                Assert.Equal(a[Math.Min(i, j) * n + Math.Max(i, j)], upper[i * n + j]);
                Assert.Equal(a[j * n + i], t[i * n + j]);
            }
    }
}
