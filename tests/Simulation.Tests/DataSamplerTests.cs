using System.Diagnostics;
using System.Numerics;
using FsCheck;
using FsCheck.Fluent;
using MathNet.Numerics.LinearAlgebra;
using Theory.Interop;
using Theory.Simulation.Data;

namespace Theory.Simulation.Tests;

/// <summary>
/// The NLGP task: exact covariances from the formula of SCIENCE.md section 1, spectra, clipping of non-PSD
/// periodised kernels, and the Fourier sampler against the exact covariance and against the dense sampler.
/// </summary>
public class DataSamplerTests
{
    /// <summary>The latent covariance straight from SCIENCE.md (dense, unclipped), independent of NlgpTask.</summary>
    private static double[] LatentFromFormula(DataSpec spec, int a)
    {
        var geo = new ImageGeometry(spec);
        int d = spec.D;
        var c = new double[d * d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
                c[i * d + j] = Math.Exp(-geo.Distance2(i, j) / (spec.Xi(a) * spec.Xi(a))) + (i == j ? spec.Jitter : 0);
        return c;
    }

    /// <summary>S_ij = (2/pi)/gamma(g) asin(g^2 C_ij / (1 + g^2 C_ii)) for a circulant/Toeplitz C with equal diagonal.</summary>
    private static double[] InputFromFormula(double[] c, int d, double g)
    {
        var s = new double[d * d];
        double gamma = 2 / Math.PI * Math.Asin(g * g / (1 + g * g));
        for (int i = 0; i < d * d; i++) s[i] = 2 / Math.PI / gamma * Math.Asin(g * g * c[i] / (1 + g * g * c[0]));
        return s;
    }

    private static double[] SortedEigenvalues(ReadOnlySpan<double> m, int d)
    {
        var matrix = Matrix<double>.Build.Dense(d, d, m.ToArray());
        var ev = matrix.Evd(Symmetricity.Symmetric).EigenValues.Select(z => z.Real).ToArray();
        Array.Sort(ev);
        return ev;
    }

    private static InputStatistics Measure(ISampleSource source, int a, int n)
    {
        var stats = new InputStatistics(source.D);
        var x = new double[source.D];
        for (int i = 0; i < n; i++)
        {
            source.NextOfClass(a, x);
            stats.Add(x);
        }
        return stats;
    }

    [Theory]
    [InlineData(1, 100, 3.0)]
    [InlineData(2, 10, 2.0)] // xi = 3 is not PSD on a 10 x 10 torus (that case is tested below)
    public void EmpiricalCovariancesOfNlgpAndCloneMatchTheExactFormula(int dim, int size, double xi1)
    {
        // D = 100, g = 10, 50,000 images per class and kind: relative squared Frobenius error < 1e-2 (the brief),
        // and within 1.5x the Wishart expectation of a Gaussian sample of that size (about 1e-3 here).
        var spec = new DataSpec { Dim = dim, Size = size, Xi0 = 1, Xi1 = xi1, Gain = 10 };
        var task = new NlgpTask(spec);
        Assert.Empty(task.Warnings);
        const int n = 50_000;
        for (int a = 0; a < 2; a++)
        {
            // The exact covariance is the formula applied to the formula's latent covariance (no clipping here).
            var exact = InputFromFormula(LatentFromFormula(spec, a), spec.D, spec.Gain);
            Assert.True(InputStatistics.RelativeSquaredError(task.InputCovariance(a), exact) < 1e-24);
            double expected = InputStatistics.ExpectedCovarianceError(exact, spec.D, n);
            foreach (var kind in new[] { InputKind.Nlgp, InputKind.Gp })
            {
                var stats = Measure(task.CreateSource(kind, new Rng((ulong)a, (ulong)kind + 40)), a, n);
                double error = stats.CovarianceError(exact);
                Assert.True(error < 1e-2 && error < 1.5 * expected, $"class {a} {kind}: error {error:G3}, Gaussian expectation {expected:G3}");
            }
        }
    }

    [Fact]
    public void PixelsHaveUnitVarianceForRandomGainsLengthsAndSizes()
    {
        var gen =
            from dim in Gen.Choose(1, 2)
            from size in Gen.Choose(4, 24)
            from xiTenths in Gen.Choose(3, 60)
            from gainIndex in Gen.Choose(0, 12)
            from seed in Gen.Choose(0, 10_000)
            select (dim, size, xi: xiTenths / 10.0, gain: new[] { 0, 0.01, 0.1, 0.3, 0.5, 1, 2, 3, 5, 10, 30, 100, 1000 }[gainIndex], seed);
        FsCheck.Check.One(Config.QuickThrowOnFailure.WithMaxTest(25), Prop.ForAll(gen.ToArbitrary(), p =>
        {
            var spec = new DataSpec { Dim = p.dim, Size = p.size, Xi0 = p.xi, Xi1 = p.xi + 1, Gain = p.gain };
            var task = new NlgpTask(spec);
            // The exact pixel variance is 1 up to the jitter (latent variance 1 + jitter, plus what clipping adds).
            double latentVariance = task.LatentCovarianceRow(0)[0];
            double exact = task.PixelVariance(0);
            if (Math.Abs(exact - 1) > latentVariance - 1 + 1e-12) return false;
            foreach (var kind in new[] { InputKind.Nlgp, InputKind.Gp })
            {
                // Images are independent, pixels within one are not: the error bar comes from per-image means of x^2.
                var source = task.CreateSource(kind, new Rng((ulong)p.seed, 3));
                var x = new double[spec.D];
                const int n = 4000;
                double s = 0, ss = 0;
                for (int i = 0; i < n; i++)
                {
                    source.NextOfClass(0, x);
                    double m = 0;
                    foreach (var v in x) m += v * v;
                    m /= spec.D;
                    s += m;
                    ss += m * m;
                }
                double mean = s / n, se = Math.Sqrt((ss / n - mean * mean) / n);
                if (Math.Abs(mean - exact) > 5 * se) return false;
            }
            return true;
        }));
    }

    [Theory]
    [InlineData(1, 16, 1.0, 3.0, 10.0)]
    [InlineData(2, 8, 1.0, 3.0, 3.0)]   // 8 x 8 torus with xi = 3: clipped, both samplers see C+
    [InlineData(2, 6, 0.5, 1.5, 0.0)]   // g = 0: the NLGP is its latent Gaussian field
    public void FourierAndDenseSamplersGiveTheSameCovarianceAndKurtosis(int dim, int size, double xi0, double xi1, double gain)
    {
        var spec = new DataSpec { Dim = dim, Size = size, Xi0 = xi0, Xi1 = xi1, Gain = gain };
        var task = new NlgpTask(spec);
        const int n = 40_000;
        foreach (var kind in new[] { InputKind.Nlgp, InputKind.Gp })
        {
            var fourier = Measure(task.CreateSource(kind, new Rng(1, 1)), 1, n);
            var dense = Measure(task.CreateDenseSource(kind, new Rng(2, 1)), 1, n);
            var exact = task.InputCovariance(1);
            double expected = InputStatistics.ExpectedCovarianceError(exact, spec.D, n);
            double ef = fourier.CovarianceError(exact), ed = dense.CovarianceError(exact);
            Assert.True(ef < 1.5 * expected && ed < 1.5 * expected, $"{kind}: Fourier {ef:G3}, dense {ed:G3}, expected {expected:G3}");
            // Beyond second moments: the two independent kurtosis estimates agree within 5 combined standard errors.
            double se = Math.Sqrt(Math.Pow(fourier.ExcessKurtosisStandardError, 2) + Math.Pow(dense.ExcessKurtosisStandardError, 2));
            Assert.True(Math.Abs(fourier.ExcessKurtosis - dense.ExcessKurtosis) < 5 * se,
                $"{kind}: kurtosis {fourier.ExcessKurtosis:F4} vs {dense.ExcessKurtosis:F4} (se {se:G2})");
        }
    }

    [Theory]
    [InlineData(1, 30, 1.0, 3.0)]
    [InlineData(1, 12, 2.0, 6.0)]
    [InlineData(2, 20, 1.0, 4.0)]
    [InlineData(2, 9, 0.7, 2.5)]
    public void SpectraAreNonNegativeAndEqualTheEigenvaluesOfTheDenseMatrices(int dim, int size, double xi0, double xi1)
    {
        var spec = new DataSpec { Dim = dim, Size = size, Xi0 = xi0, Xi1 = xi1, Gain = 3 };
        var task = new NlgpTask(spec);
        for (int a = 0; a < 2; a++)
        {
            foreach (var (spectrum, dense) in new[] { (task.Spectrum(a), task.InputCovariance(a).ToArray()), (task.LatentSpectrum(a), task.LatentCovariance(a).ToArray()) })
            {
                Assert.All(spectrum, l => Assert.True(l >= 0));
                var sorted = (double[])spectrum.Clone();
                Array.Sort(sorted);
                var eig = SortedEigenvalues(dense, spec.D);
                for (int i = 0; i < eig.Length; i++) Assert.True(Math.Abs(sorted[i] - eig[i]) < 1e-10 * eig[^1], $"eigenvalue {i}: {sorted[i]} vs {eig[i]}");
            }
            // The smallest raw eigenvalue is that of the formula's unclipped matrix.
            double raw = SortedEigenvalues(LatentFromFormula(spec, a), spec.D)[0];
            Assert.True(Math.Abs(task.SmallestLatentEigenvalue(a) - raw) < 1e-10, $"{task.SmallestLatentEigenvalue(a)} vs {raw}");
        }
    }

    [Fact]
    public void NonPsdTorusKernelIsClippedWithOneWarningCarryingTheValue()
    {
        // SCIENCE.md: on a 20 x 20 torus xi = 4 gives a smallest eigenvalue of about -0.009 after the jitter.
        var spec = new DataSpec { Dim = 2, Size = 20, Xi0 = 1, Xi1 = 4, Gain = 10 };
        var task = new NlgpTask(spec);
        double min = task.SmallestLatentEigenvalue(1);
        Assert.InRange(min, -0.0095, -0.0085);
        Assert.True(task.SmallestLatentEigenvalue(0) > 0);
        var warning = Assert.Single(task.Warnings);
        Assert.Contains("class 1", warning);
        Assert.Contains(min.ToString("G3"), warning);
        // The latent covariance of the task is C+: PSD, and the exact S is the formula applied to C+.
        var cplus = task.LatentCovariance(1).ToArray();
        Assert.True(SortedEigenvalues(cplus, spec.D)[0] > -1e-12);
        var s = InputFromFormula(cplus, spec.D, spec.Gain);
        Assert.True(InputStatistics.RelativeSquaredError(task.InputCovariance(1), s) < 1e-24);
        // ... which is PSD without clipping (the arcsine series of a PSD matrix).
        Assert.True(SortedEigenvalues(s, spec.D)[0] > -1e-12);
    }

    [Fact]
    public void ClippedTaskSamplesTheClippedCovariance()
    {
        var spec = new DataSpec { Dim = 2, Size = 20, Xi0 = 1, Xi1 = 4, Gain = 10 };
        var task = new NlgpTask(spec);
        const int n = 8_000;
        foreach (var kind in new[] { InputKind.Nlgp, InputKind.Gp })
        {
            var stats = Measure(task.CreateSource(kind, new Rng(8, 8)), 1, n);
            var exact = task.InputCovariance(1);
            double expected = InputStatistics.ExpectedCovarianceError(exact, spec.D, n);
            Assert.True(stats.CovarianceError(exact) < 1.5 * expected);
        }
    }

    [Fact]
    public void OpenBoundariesUseTheToeplitzCovariance()
    {
        var spec = new DataSpec { Dim = 2, Size = 7, Xi0 = 1, Xi1 = 3, Gain = 2, Boundary = Boundary.Open };
        var task = new NlgpTask(spec);
        Assert.Empty(task.Warnings);
        Assert.Throws<InvalidOperationException>(() => task.Spectrum(0));
        var exact = InputFromFormula(LatentFromFormula(spec, 1), spec.D, spec.Gain);
        Assert.True(InputStatistics.RelativeSquaredError(task.InputCovariance(1), exact) < 1e-24);
        const int n = 30_000;
        foreach (var kind in new[] { InputKind.Nlgp, InputKind.Gp })
        {
            var stats = Measure(task.CreateSource(kind, new Rng(3, 3)), 1, n);
            Assert.True(stats.CovarianceError(exact) < 1.5 * InputStatistics.ExpectedCovarianceError(exact, spec.D, n));
        }
    }

    [Theory]
    [InlineData(1, 50, Boundary.Periodic)]
    [InlineData(2, 12, Boundary.Periodic)]
    [InlineData(2, 5, Boundary.Open)]
    public void ApplyInputCovarianceIsTheDenseMatrixTimesTheVector(int dim, int size, Boundary boundary)
    {
        var task = new NlgpTask(new DataSpec { Dim = dim, Size = size, Xi0 = 1.5, Xi1 = 4, Gain = 2, Boundary = boundary });
        int d = task.D;
        var rng = new Rng(4, 4);
        var w = new double[d];
        rng.FillGaussian(w);
        for (int a = 0; a < 2; a++)
        {
            var s = task.InputCovariance(a);
            var result = new double[d];
            task.ApplyInputCovariance(a, w, result);
            for (int i = 0; i < d; i++)
            {
                double expected = 0;
                for (int j = 0; j < d; j++) expected += s[i * d + j] * w[j];
                Assert.True(Math.Abs(result[i] - expected) < 1e-12 * Math.Sqrt(d), $"{i}: {result[i]} vs {expected}");
            }
            var inPlace = (double[])w.Clone();
            task.ApplyInputCovariance(a, inPlace, inPlace);
            Assert.Equal(result, inPlace);
        }
    }

    [Fact]
    public void DftMatchesTheDefinitionIn2D()
    {
        var task = new NlgpTask(new DataSpec { Dim = 2, Size = 6 });
        var x = new double[36];
        new Rng(1, 1).FillGaussian(x);
        var result = new Complex[36];
        task.Dft(x, result);
        for (int kx = 0; kx < 6; kx++)
            for (int ky = 0; ky < 6; ky++)
            {
                Complex s = 0;
                for (int i = 0; i < 6; i++)
                    for (int j = 0; j < 6; j++)
                        s += x[i * 6 + j] * Complex.FromPolarCoordinates(1, -2 * Math.PI * ((kx * i + ky * j) % 6) / 6);
                Assert.True((result[kx * 6 + ky] - s).Magnitude < 1e-12);
            }
    }

    [Fact]
    public void BatchesEqualSingleDrawsAndSeedsReproduce()
    {
        var task = new NlgpTask(new DataSpec { Dim = 2, Size = 10 });
        foreach (var kind in new[] { InputKind.Nlgp, InputKind.Gp })
        {
            ISampleSource batched = task.CreateSource(kind, new Rng(21, RngStream.Training));
            var single = task.CreateSource(kind, new Rng(21, RngStream.Training));
            const int n = 37;
            var xs = new double[n * task.D];
            var classes = new int[n];
            batched.NextBatch(xs, classes);
            var x = new double[task.D];
            for (int i = 0; i < n; i++)
            {
                Assert.Equal(classes[i], single.Next(x));
                Assert.True(x.AsSpan().SequenceEqual(xs.AsSpan(i * task.D, task.D)));
            }
            Assert.Contains(0, classes);
            Assert.Contains(1, classes);
            var other = task.CreateSource(kind, new Rng(22, RngStream.Training));
            other.Next(x);
            Assert.False(x.AsSpan().SequenceEqual(xs.AsSpan(0, task.D)));
        }
    }

    [Fact]
    public void SamplingAllocatesNothingInSteadyState()
    {
        var task = new NlgpTask(new DataSpec { Dim = 2, Size = 20 });
        var source = task.CreateSource(InputKind.Nlgp, new Rng(1, 1));
        var xs = new double[8 * task.D];
        var classes = new int[8];
        source.NextBatch(xs, classes);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++) source.NextBatch(xs, classes);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void LargePeriodicTasksConstructWithoutDenseAlgebra()
    {
        // A dense eigendecomposition at D = 1000 takes seconds; the spectral construction takes milliseconds.
        // The bound is loose so that a busy machine does not fail it, and tight enough to catch an O(D^3) step.
        foreach (var spec in new[] { new DataSpec { Dim = 1, Size = 1000, Xi0 = 2, Xi1 = 300 }, new DataSpec { Dim = 2, Size = 32 } })
        {
            var clock = Stopwatch.StartNew();
            var task = new NlgpTask(spec);
            task.CreateSource(InputKind.Nlgp, new Rng(1, 1)).Next(new double[task.D]);
            Assert.True(clock.Elapsed.TotalSeconds < 0.5, $"D = {spec.D}: {clock.Elapsed.TotalMilliseconds:F0} ms");
        }
    }

    [Theory]
    [InlineData(1, 2, 0.5, 1.0, 10.0, 1e-3)]
    [InlineData(2, 2, 0.5, 1.0, 10.0, 1e-3)]
    [InlineData(1, 64, 1e-6, 1e6, 1e-8, 0.0)]   // white noise and a constant field, no jitter, almost Gaussian
    [InlineData(2, 16, 1.0, 3.0, 1e6, 0.0)]     // sign(z) and a non-PSD kernel without jitter
    [InlineData(1, 1 << 16, 2.0, 50.0, 3.0, 1e-3)]
    public void EdgeConfigurationsSampleFiniteUnitVarianceImages(int dim, int size, double xi0, double xi1, double gain, double jitter)
    {
        var task = new NlgpTask(new DataSpec { Dim = dim, Size = size, Xi0 = xi0, Xi1 = xi1, Gain = gain, Jitter = jitter });
        var x = new double[task.D];
        foreach (var kind in new[] { InputKind.Nlgp, InputKind.Gp })
        {
            var source = task.CreateSource(kind, new Rng(6, 6));
            for (int i = 0; i < 20; i++)
            {
                source.Next(x);
                Assert.All(x, v => Assert.True(double.IsFinite(v)));
            }
        }
        for (int a = 0; a < 2; a++)
        {
            Assert.InRange(task.PixelVariance(a), 0.99, 1.02);
            Assert.All(task.Spectrum(a), l => Assert.True(l >= 0));
        }
    }
}
