using Theory.Interop;
using Theory.Simulation.Data;
using Theory.Simulation.Kernels;

namespace Theory.Simulation.Tests;

/// <summary>
/// The kernel machines of RFM and ConvRFM against independent naive formulas: predictions, input gradients (finite
/// differences), AGOPs, interpolation.
/// </summary>
public class KernelMachineTests
{
    private static readonly IDenseLinearAlgebra Managed = new ManagedLinearAlgebra(1);

    private static double[] Gaussian(int count, int seed, double scale = 1.0)
    {
        var x = KernelLinearAlgebraTests.Random(count, seed);
        for (int i = 0; i < x.Length; i++) x[i] *= scale;
        return x;
    }

    /// <summary>A random PSD metric B B^T / d (full rank), row-major.</summary>
    private static double[] RandomMetric(int d, int seed)
    {
        var b = Gaussian(d * d, seed);
        var m = new double[d * d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
            {
                double s = 0;
                for (int p = 0; p < d; p++) s += b[i * d + p] * b[j * d + p];
                m[i * d + j] = s / d;
            }
        return m;
    }

    private static double MahalanobisDistance(ReadOnlySpan<double> u, ReadOnlySpan<double> v, double[] m)
    {
        int d = u.Length;
        double s = 0;
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++) s += (u[i] - v[i]) * m[i * d + j] * (u[j] - v[j]);
        return Math.Sqrt(Math.Max(s, 0));
    }

    /// <summary>Naive f(x) = sum_i alpha_i exp(-||x - x_i||_M / L), optionally without training point <paramref name="skip"/>.</summary>
    private static double NaiveLaplace(double[] x, double[] train, ReadOnlySpan<double> alpha, double[] m, double bandwidth, int skip = -1)
    {
        int d = x.Length, n = alpha.Length;
        double f = 0;
        for (int i = 0; i < n; i++)
            if (i != skip) f += alpha[i] * Math.Exp(-MahalanobisDistance(x, train.AsSpan(i * d, d), m) / bandwidth);
        return f;
    }

    private static double[] Row(double[] x, int i, int d) => x.AsSpan(i * d, d).ToArray();

    private static double[] FiniteDifference(Func<double[], double> f, double[] x, double h = 1e-5)
    {
        var g = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            var xp = (double[])x.Clone();
            var xm = (double[])x.Clone();
            xp[i] += h;
            xm[i] -= h;
            g[i] = (f(xp) - f(xm)) / (2 * h);
        }
        return g;
    }

    private static void AssertVectorsClose(double[] expected, ReadOnlySpan<double> actual, double relTol, string what)
    {
        double norm = 0, err = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            norm = Math.Max(norm, Math.Abs(expected[i]));
            err = Math.Max(err, Math.Abs(expected[i] - actual[i]));
        }
        Assert.True(err <= relTol * Math.Max(norm, 1e-300), $"{what}: max error {err:E3} against scale {norm:E3}");
    }

    // ---------------------------------------------------------------- fully-connected Laplace kernel

    private static LaplaceKernelMachine FittedLaplace(int n, int d, double[] metric, double ridge, int seed, out double[] x)
    {
        x = Gaussian(n * d, seed);
        var y = Gaussian(n, seed + 1);
        var machine = new LaplaceKernelMachine(x, y, bandwidth: 3.0, ridge: ridge, Managed);
        machine.Fit(metric);
        return machine;
    }

    [Fact]
    public void LaplacePredictionsMatchTheNaiveKernelSum()
    {
        int n = 70, d = 9;
        var m = RandomMetric(d, 3);
        var machine = FittedLaplace(n, d, m, 1e-3, 10, out var train);
        var q = Gaussian(5 * d, 77);
        var pred = new double[5];
        machine.Predict(q, pred);
        for (int i = 0; i < 5; i++)
        {
            double expected = NaiveLaplace(Row(q, i, d), train, machine.Alpha, m, 3.0);
            Assert.True(Math.Abs(expected - pred[i]) < 1e-10 * (1 + Math.Abs(expected)), $"f(q{i}): {pred[i]} vs {expected}");
        }
    }

    [Fact]
    public void LaplaceGradientMatchesFiniteDifferences()
    {
        int n = 60, d = 7;
        var m = RandomMetric(d, 5);
        var machine = FittedLaplace(n, d, m, 1e-2, 20, out var train);
        var q = Gaussian(3 * d, 88);
        var grads = new double[3 * d];
        machine.Gradients(q, grads);
        for (int i = 0; i < 3; i++)
        {
            var fd = FiniteDifference(x => NaiveLaplace(x, train, machine.Alpha.ToArray(), m, 3.0), Row(q, i, d));
            AssertVectorsClose(fd, grads.AsSpan(i * d, d), 1e-6, $"gradient at query {i}");
        }
    }

    [Fact]
    public void LaplaceGradientAtATrainingPointDropsOnlyItsOwnTerm()
    {
        // At x = x_p the Laplace kernel K(x, x_p) has a cone, no gradient; the convention drops that term, so the
        // gradient there is the (smooth) gradient of f minus alpha_p K(., x_p).
        int n = 50, d = 6;
        var m = RandomMetric(d, 6);
        var machine = FittedLaplace(n, d, m, 1e-2, 30, out var train);
        var grads = new double[n * d];
        machine.Gradients(train, grads);
        var alpha = machine.Alpha.ToArray();
        foreach (int p in new[] { 0, 17, 49 })
        {
            var fd = FiniteDifference(x => NaiveLaplace(x, train, alpha, m, 3.0, skip: p), Row(train, p, d));
            AssertVectorsClose(fd, grads.AsSpan(p * d, d), 1e-6, $"gradient at training point {p}");
        }
    }

    [Fact]
    public void LaplaceAgopIsTheAverageOuterProductOfTheTrainingGradients()
    {
        int n = 300, d = 12;
        var m = RandomMetric(d, 7);
        var machine = FittedLaplace(n, d, m, 1e-3, 40, out var train);
        // Gradients first (they do not disturb the fit), then the AGOP from the factorisation buffer.
        var grads = new double[n * d];
        machine.Gradients(train, grads);
        var agop = machine.Agop();
        var expected = new double[d * d];
        for (int p = 0; p < n; p++)
            for (int i = 0; i < d; i++)
                for (int j = 0; j < d; j++) expected[i * d + j] += grads[p * d + i] * grads[p * d + j] / n;
        AssertVectorsClose(expected, agop, 1e-9, "AGOP");
        // Centred: the covariance of the gradients.
        var mean = new double[d];
        for (int p = 0; p < n; p++)
            for (int i = 0; i < d; i++) mean[i] += grads[p * d + i] / n;
        var centred = new double[d * d];
        for (int p = 0; p < n; p++)
            for (int i = 0; i < d; i++)
                for (int j = 0; j < d; j++) centred[i * d + j] += (grads[p * d + i] - mean[i]) * (grads[p * d + j] - mean[j]) / n;
        AssertVectorsClose(centred, machine.Agop(centred: true), 1e-9, "centred AGOP");
        // Predictions still work after the AGOP destroyed the factorisation.
        var pred = new double[1];
        machine.Predict(Row(train, 3, d), pred);
        Assert.True(Math.Abs(pred[0] - NaiveLaplace(Row(train, 3, d), train, machine.Alpha, m, 3.0)) < 1e-9);
    }

    [Fact]
    public void KernelRidgeRegressionInterpolatesAtZeroRidge()
    {
        int n = 120, d = 10;
        var machine = FittedLaplace(n, d, MetricFactor.Identity(d), 0.0, 50, out var train);
        var y = Gaussian(n, 51);
        var pred = new double[n];
        machine.Predict(train, pred);
        for (int i = 0; i < n; i++) Assert.True(Math.Abs(pred[i] - y[i]) < 1e-8, $"f(x_{i}) = {pred[i]}, y = {y[i]}");
    }

    [Fact]
    public void KernelRidgeResidualIsRidgeTimesAlpha()
    {
        int n = 100, d = 5;
        double ridge = 0.3;
        var machine = FittedLaplace(n, d, RandomMetric(d, 9), ridge, 60, out var train);
        var y = Gaussian(n, 61);
        var pred = new double[n];
        machine.Predict(train, pred);
        for (int i = 0; i < n; i++)
            Assert.True(Math.Abs(y[i] - pred[i] - ridge * machine.Alpha[i]) < 1e-10, $"residual {i}");
    }

    [Fact]
    public void RepeatedPointsAtZeroRidgeFailTheRun()
    {
        int d = 4;
        var x = Gaussian(3 * d, 70);
        x.AsSpan(0, d).CopyTo(x.AsSpan(d, d)); // x_1 = x_0
        var machine = new LaplaceKernelMachine(x, [1.0, 1.0, -1.0], 3.0, 0.0, Managed);
        Assert.Throws<RunFailedException>(() => machine.Fit(MetricFactor.Identity(d)));
    }

    [Fact]
    public void AgopOfALinearModelIsTheOuterProductOfItsWeights()
    {
        int n = 40, d = 6;
        var w = Gaussian(d, 80);
        var grads = new double[n * d];
        for (int p = 0; p < n; p++) w.CopyTo(grads, p * d); // grad (w . x) = w at every point
        var agop = GradientOuterProduct.Average(grads, n, d, Managed);
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
                Assert.True(Math.Abs(agop[i * d + j] - w[i] * w[j]) < 1e-13, $"G[{i},{j}]");
    }

    [Fact]
    public void AgopOfAQuadraticModelIsFourASigmaA()
    {
        // f = x^T A x, grad = 2 A x, AGOP = 4 A (X^T X / n) A with A symmetric.
        int n = 200, d = 5;
        var a = RandomMetric(d, 81);
        var x = Gaussian(n * d, 82);
        var grads = new double[n * d];
        var sigma = new double[d * d];
        for (int p = 0; p < n; p++)
        {
            for (int i = 0; i < d; i++)
            {
                double s = 0;
                for (int j = 0; j < d; j++) s += 2 * a[i * d + j] * x[p * d + j];
                grads[p * d + i] = s;
                for (int j = 0; j < d; j++) sigma[i * d + j] += x[p * d + i] * x[p * d + j] / n;
            }
        }
        var expected = new double[d * d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
                for (int k = 0; k < d; k++)
                    for (int l = 0; l < d; l++) expected[i * d + j] += 4 * a[i * d + k] * sigma[k * d + l] * a[l * d + j];
        AssertVectorsClose(expected, GradientOuterProduct.Average(grads, n, d, Managed), 1e-12, "AGOP of x^T A x");
    }

    [Fact]
    public void LaplaceMachineIsBitwiseIndependentOfThreads()
    {
        int n = 400, d = 20;
        var x = Gaussian(n * d, 90);
        var y = Gaussian(n, 91);
        var m = RandomMetric(d, 92);
        double[] Run(int threads)
        {
            var machine = new LaplaceKernelMachine(x, y, 5.0, 1e-3, new ManagedLinearAlgebra(threads));
            machine.Fit(m);
            var agop = machine.Agop();
            return [.. machine.Alpha, .. agop];
        }
        Assert.Equal(Run(1), Run(2));
    }

    [Fact]
    public void RfmFindsTheRelevantCoordinatesOfALowRankTarget()
    {
        // y = x_0 x_1 on isotropic Gaussian inputs in d = 10: the AGOP of a good predictor lives on span(e0, e1),
        // so the learned metric should put most of its weight there, and the test error should fall.
        int n = 800, d = 10, t = 500;
        var x = Gaussian(n * d, 100);
        var xt = Gaussian(t * d, 101);
        double[] Target(double[] inputs, int count)
        {
            var y = new double[count];
            for (int i = 0; i < count; i++) y[i] = inputs[i * d] * inputs[i * d + 1];
            return y;
        }
        var machine = new LaplaceKernelMachine(x, Target(x, n), 4.0, 1e-3, Managed);
        var spec = new RfmSpec { Iterations = 3, Bandwidth = 4.0, Ridge = 1e-3 };
        var rows = new List<RfmIteration>();
        var final = RecursiveFeatureMachine.Run(machine, spec, xt, Target(xt, t), new ImageGeometry(1, d, Boundary.Open),
            (row, _) => rows.Add(row));
        Assert.Equal(4, rows.Count);
        double block = 0, total = 0;
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
            {
                double v = final[i * d + j] * final[i * d + j];
                total += v;
                if (i < 2 && j < 2) block += v;
            }
        Assert.True(block / total > 0.8, $"share of the metric on (x0, x1): {block / total:F3}");
        Assert.True(rows[^1].TestMse < 0.7 * rows[0].TestMse, $"test MSE {rows[0].TestMse:F3} -> {rows[^1].TestMse:F3}");
    }

    // ---------------------------------------------------------------- convolutional kernel

    /// <summary>Naive convolutional kernel: (1/P) sum_p exp(-||x_p - z_p||_M / L) with explicit patches.</summary>
    private static double NaiveConvKernel(ReadOnlySpan<double> x, ReadOnlySpan<double> z, ImageGeometry g, int q, double[] m, double bandwidth)
    {
        var idx = ConvolutionalKernelMachine.PatchIndex(g, q);
        int mm = idx.Length / g.D;
        double s = 0;
        var px = new double[mm];
        var pz = new double[mm];
        for (int p = 0; p < g.D; p++)
        {
            for (int c = 0; c < mm; c++)
            {
                px[c] = x[idx[p * mm + c]];
                pz[c] = z[idx[p * mm + c]];
            }
            s += Math.Exp(-MahalanobisDistance(px, pz, m) / bandwidth);
        }
        return s / g.D;
    }

    private static ConvolutionalKernelMachine FittedConv(ImageGeometry g, int q, int n, double[] m, double ridge, int seed,
        out double[] x, int threads = 1)
    {
        x = Gaussian(n * g.D, seed);
        var y = Gaussian(n, seed + 1);
        var machine = new ConvolutionalKernelMachine(g, q, x, y, 2.0, ridge, new ManagedLinearAlgebra(threads));
        machine.Fit(m);
        return machine;
    }

    public static TheoryData<int, int, int> ConvShapes => new() { { 1, 9, 3 }, { 2, 5, 3 }, { 2, 4, 2 } };

    [Theory]
    [MemberData(nameof(ConvShapes))]
    public void ConvPredictionsMatchTheNaiveKernelSum(int dim, int size, int q)
    {
        var g = new ImageGeometry(dim, size, Boundary.Periodic);
        int mm = dim == 1 ? q : q * q;
        var m = RandomMetric(mm, 200 + size);
        var machine = FittedConv(g, q, 30, m, 1e-3, 210, out var train);
        var queries = Gaussian(3 * g.D, 220);
        var pred = new double[3];
        machine.Predict(queries, pred);
        for (int i = 0; i < 3; i++)
        {
            double expected = 0;
            for (int b = 0; b < 30; b++)
                expected += machine.Alpha[b] * NaiveConvKernel(queries.AsSpan(i * g.D, g.D), train.AsSpan(b * g.D, g.D), g, q, m, 2.0);
            Assert.True(Math.Abs(expected - pred[i]) < 1e-10 * (1 + Math.Abs(expected)), $"f(q{i}) = {pred[i]} vs {expected}");
        }
    }

    [Theory]
    [MemberData(nameof(ConvShapes))]
    public void ConvGradientMatchesFiniteDifferences(int dim, int size, int q)
    {
        var g = new ImageGeometry(dim, size, Boundary.Periodic);
        int mm = dim == 1 ? q : q * q;
        var m = RandomMetric(mm, 300 + size);
        var machine = FittedConv(g, q, 25, m, 1e-2, 310, out var train);
        var alpha = machine.Alpha.ToArray();
        var queries = Gaussian(2 * g.D, 320);
        var grads = new double[2 * g.D];
        machine.Gradients(queries, grads);
        for (int i = 0; i < 2; i++)
        {
            double F(double[] x)
            {
                double f = 0;
                for (int b = 0; b < 25; b++) f += alpha[b] * NaiveConvKernel(x, train.AsSpan(b * g.D, g.D), g, q, m, 2.0);
                return f;
            }
            var fd = FiniteDifference(F, queries.AsSpan(i * g.D, g.D).ToArray());
            AssertVectorsClose(fd, grads.AsSpan(i * g.D, g.D), 1e-6, $"conv gradient at query {i}");
        }
    }

    [Theory]
    [MemberData(nameof(ConvShapes))]
    public void ConvPatchAgopMatchesTheNaivePatchGradients(int dim, int size, int q)
    {
        var g = new ImageGeometry(dim, size, Boundary.Periodic);
        int mm = dim == 1 ? q : q * q, n = 20, d = g.D;
        var m = RandomMetric(mm, 400 + size);
        var machine = FittedConv(g, q, n, m, 1e-3, 410, out var train);
        var agop = machine.Agop();
        // grad_{x_p} f = (1/(P L)) sum_b alpha_b k_p / d_p M (x_{b,p} - x_p), terms at d_p = 0 dropped.
        var idx = ConvolutionalKernelMachine.PatchIndex(g, q);
        var expected = new double[mm * mm];
        var pa = new double[mm];
        var pb = new double[mm];
        var diff = new double[mm];
        var grads = new double[n, d, mm];
        for (int a = 0; a < n; a++)
            for (int p = 0; p < d; p++)
            {
                var grad = new double[mm];
                for (int b = 0; b < n; b++)
                {
                    for (int c = 0; c < mm; c++)
                    {
                        pa[c] = train[a * d + idx[p * mm + c]];
                        pb[c] = train[b * d + idx[p * mm + c]];
                        diff[c] = pb[c] - pa[c];
                    }
                    double dist = MahalanobisDistance(pa, pb, m);
                    if (dist == 0) continue;
                    double w = machine.Alpha[b] * Math.Exp(-dist / 2.0) / dist / (d * 2.0);
                    for (int i = 0; i < mm; i++)
                        for (int j = 0; j < mm; j++) grad[i] += w * m[i * mm + j] * diff[j];
                }
                for (int i = 0; i < mm; i++)
                {
                    grads[a, p, i] = grad[i];
                    for (int j = 0; j < mm; j++) expected[i * mm + j] += grad[i] * grad[j] / n;
                }
            }
        AssertVectorsClose(expected, agop, 1e-9, "patch-AGOP");
        // Centred per position: (1/n) sum_x sum_p (g_xp - mean_x g_xp)(...)^T.
        var centred = new double[mm * mm];
        for (int p = 0; p < d; p++)
        {
            var mean = new double[mm];
            for (int a = 0; a < n; a++)
                for (int i = 0; i < mm; i++) mean[i] += grads[a, p, i] / n;
            for (int a = 0; a < n; a++)
                for (int i = 0; i < mm; i++)
                    for (int j = 0; j < mm; j++) centred[i * mm + j] += (grads[a, p, i] - mean[i]) * (grads[a, p, j] - mean[j]) / n;
        }
        machine.Fit(m); // a fresh fit: the centred AGOP from the same state
        AssertVectorsClose(centred, machine.Agop(centred: true), 1e-9, "centred patch-AGOP");
    }

    [Fact]
    public void ConvKernelWithWholeRingPatchesAndIdentityMetricIsTheLaplaceKernel()
    {
        // q = L in 1D: every patch is a cyclic shift of the whole image, and with M = I every term of the average
        // equals exp(-||x - z|| / L); so the two machines fit the same alpha and predict the same values.
        var g = new ImageGeometry(1, 11, Boundary.Periodic);
        int n = 40;
        var x = Gaussian(n * 11, 500);
        var y = Gaussian(n, 501);
        var conv = new ConvolutionalKernelMachine(g, 11, x, y, 4.0, 1e-3, Managed);
        var fc = new LaplaceKernelMachine(x, y, 4.0, 1e-3, Managed);
        conv.Fit(MetricFactor.Identity(11));
        fc.Fit(MetricFactor.Identity(11));
        AssertVectorsClose(fc.Alpha.ToArray(), conv.Alpha, 1e-9, "alpha");
        var q = Gaussian(4 * 11, 502);
        var pc = new double[4];
        var pf = new double[4];
        conv.Predict(q, pc);
        fc.Predict(q, pf);
        AssertVectorsClose(pf, pc, 1e-9, "predictions");
    }

    [Fact]
    public void ConvKernelIsInvariantUnderTranslatingBothImages()
    {
        var g = new ImageGeometry(2, 6, Boundary.Periodic);
        int n = 15, d = g.D;
        var m = RandomMetric(9, 600);
        var machine = FittedConv(g, 3, n, m, 1e-3, 610, out var train);
        // Shift every training image and the query by (2, 5) on the torus: the same alpha, the same prediction.
        double[] Shift(double[] images, int count)
        {
            var s = new double[images.Length];
            for (int k = 0; k < count; k++)
                for (int i = 0; i < 6; i++)
                    for (int j = 0; j < 6; j++) s[k * d + (i + 2) % 6 * 6 + (j + 5) % 6] = images[k * d + i * 6 + j];
            return s;
        }
        var shifted = new ConvolutionalKernelMachine(g, 3, Shift(train, n), Gaussian(n, 611), 2.0, 1e-3, Managed);
        shifted.Fit(m);
        AssertVectorsClose(machine.Alpha.ToArray(), shifted.Alpha, 1e-9, "alpha of the shifted set");
        var q = Gaussian(d, 620);
        var p1 = new double[1];
        var p2 = new double[1];
        machine.Predict(q, p1);
        shifted.Predict(Shift(q, 1), p2);
        Assert.True(Math.Abs(p1[0] - p2[0]) < 1e-10, $"{p1[0]} vs {p2[0]}");
    }

    [Fact]
    public void ConvMachineIsBitwiseIndependentOfThreads()
    {
        var g = new ImageGeometry(2, 7, Boundary.Periodic);
        var m = RandomMetric(9, 700);
        double[] Run(int threads)
        {
            var machine = FittedConv(g, 3, 37, m, 1e-3, 710, out _, threads);
            var pred = new double[5];
            machine.Predict(Gaussian(5 * g.D, 720), pred);
            return [.. machine.Alpha, .. machine.Agop(), .. pred];
        }
        Assert.Equal(Run(1), Run(3));
    }
}
