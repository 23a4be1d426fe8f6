using Theory.Interop;
using Theory.Simulation.Analysis;
using Theory.Simulation.Data;
using Theory.Simulation.Training;

namespace Theory.Simulation.Tests;

public class AnalysisTests
{
    private static ImageGeometry Ring(int l) => new(1, l, Boundary.Periodic);
    private static ImageGeometry Torus(int l) => new(2, l, Boundary.Periodic);

    /// <summary>A Gaussian bump exp(-d^2 / 2 sigma^2) around (cx, cy) with torus distances, times sign.</summary>
    private static double[] Bump(ImageGeometry g, double sigma, double cx, double cy, double sign = 1)
    {
        var w = new double[g.D];
        double Axis(double a, double c)
        {
            double d = Math.Abs(a - c);
            return Math.Min(d, g.Size - d);
        }
        for (int i = 0; i < g.D; i++)
        {
            int x = g.Dim == 1 ? i : i % g.Size, y = g.Dim == 1 ? 0 : i / g.Size;
            double dx = Axis(x, cx), dy = g.Dim == 1 ? 0 : Axis(y, cy);
            w[i] = sign * Math.Exp(-(dx * dx + dy * dy) / (2 * sigma * sigma));
        }
        return w;
    }

    [Fact]
    public void IprOfDeltaUniformAndGaussianVectors()
    {
        var delta = new double[400];
        delta[123] = -2.5;
        Assert.Equal(1.0, ReceptiveField.Ipr(delta), 15);
        var uniform = Enumerable.Repeat(0.3, 400).ToArray();
        Assert.Equal(1.0 / 400, ReceptiveField.Ipr(uniform), 15);
        // i.i.d. Gaussian: E IPR = 3 / (D + 2); the mean of 200 draws has a standard error below 2e-5 at D = 400.
        var rng = new Rng(4, 0);
        var w = new double[400];
        double mean = 0;
        for (int r = 0; r < 200; r++)
        {
            rng.FillGaussian(w);
            mean += ReceptiveField.Ipr(w) / 200;
        }
        Assert.InRange(mean, 3.0 / 402 - 1e-4, 3.0 / 402 + 1e-4);
        // Not the reciprocal (the trap of SCIENCE.md section 3): the IPR of a localised vector is large.
        Assert.True(ReceptiveField.Ipr(Bump(Torus(20), 1.0, 5, 5)) > 0.1);
    }

    [Theory]
    [InlineData(1, 40, 3.0, 12.0)]
    [InlineData(1, 40, 2.0, 0.0)]    // wraps round the ring
    [InlineData(1, 64, 5.5, 60.5)]   // centre between pixels, across the boundary
    [InlineData(2, 20, 2.0, 3.0)]
    [InlineData(2, 24, 3.0, 22.0)]   // wraps in both directions
    public void WidthAndCentreOfAGaussianBumpOnTheTorus(int dim, int size, double sigma, double c)
    {
        var g = new ImageGeometry(dim, size, Boundary.Periodic);
        double cy = dim == 2 ? (c + 7) % size : 0;
        var w = Bump(g, sigma, c, cy, sign: -1);
        double fwhm = 2 * Math.Sqrt(2 * Math.Log(2)) * sigma;
        // Linear interpolation between pixels: within 3% for sigma >= 2 pixels.
        Assert.InRange(ReceptiveField.Width(w, g), 0.97 * fwhm, 1.03 * fwhm);
        var centre = ReceptiveField.Centre(w, g);
        Assert.True(ReceptiveField.Distance(centre, new RfCentre(c, cy), g) < 1e-9, $"centre {centre}");
        // The IPR of a wide bump: 1D 1 / (sigma sqrt(2 pi)), 2D 1 / (2 pi sigma^2) (continuum values).
        double ipr = dim == 1 ? 1 / (sigma * Math.Sqrt(2 * Math.PI)) : 1 / (2 * Math.PI * sigma * sigma);
        Assert.InRange(ReceptiveField.Ipr(w), 0.99 * ipr, 1.01 * ipr);
    }

    [Fact]
    public void WidthOfAnAnisotropicBumpIsTheGeometricMeanOfTheAxisWidths()
    {
        var g = Torus(32);
        var w = new double[g.D];
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++)
                w[y * 32 + x] = Math.Exp(-Math.Pow(x - 10, 2) / (2 * 4.0 * 4.0) - Math.Pow(y - 16, 2) / (2 * 2.0 * 2.0));
        double expected = 2 * Math.Sqrt(2 * Math.Log(2)) * Math.Sqrt(4.0 * 2.0);
        Assert.InRange(ReceptiveField.Width(w, g), 0.97 * expected, 1.03 * expected);
    }

    [Fact]
    public void DeltaHasWidthOneAndFlatProfileTheWholeAxis()
    {
        var g = Ring(30);
        var delta = new double[30];
        delta[4] = 1;
        // Half maximum is crossed half way to each neighbour.
        Assert.Equal(1.0, ReceptiveField.Width(delta, g), 12);
        Assert.Equal(30.0, ReceptiveField.Width(Enumerable.Repeat(1.0, 30).ToArray(), g));
    }

    [Fact]
    public void ConcentrationSeparatesBlobsFromSpreadOutWeights()
    {
        Assert.True(ReceptiveField.Concentration(Bump(Torus(20), 1.5, 3, 17), Torus(20)) > 0.99);
        Assert.True(ReceptiveField.Concentration(Bump(Ring(40), 1.6, 39, 0, -1), Ring(40)) > 0.99);
        var rng = new Rng(5, 0);
        foreach (var (g, limit) in new[] { (Torus(20), 0.1), (Ring(40), 0.3) })
        {
            var w = new double[g.D];
            double mean = 0;
            for (int r = 0; r < 100; r++)
            {
                rng.FillGaussian(w);
                mean += ReceptiveField.Concentration(w, g) / 100;
            }
            Assert.True(mean < limit, $"D = {g.D}: mean concentration of i.i.d. Gaussian weights {mean}");
        }
        // A plane wave spreads its energy evenly.
        var wave = Enumerable.Range(0, 400).Select(i => Math.Cos(2 * Math.PI * 3 * (i % 20) / 20.0)).ToArray();
        Assert.True(ReceptiveField.Concentration(wave, Torus(20)) < ReceptiveField.LocalisedConcentration);
        // A blob a few pixels wide is localised; a smooth bump as wide as the image is concentrated but not localised.
        var blob = Bump(Torus(20), 1.5, 3, 17);
        Assert.True(ReceptiveField.IsLocalised(ReceptiveField.Concentration(blob, Torus(20)), ReceptiveField.Ipr(blob), 400));
        var broad = Bump(Torus(20), 6.0, 3, 17);
        Assert.True(ReceptiveField.Concentration(broad, Torus(20)) > 0.9);
        Assert.False(ReceptiveField.IsLocalised(ReceptiveField.Concentration(broad, Torus(20)), ReceptiveField.Ipr(broad), 400));
    }

    [Fact]
    public void TilingIsOneForALatticeAndZeroForCoincidentCentres()
    {
        var ring = Ring(40);
        var even = Enumerable.Range(0, 4).Select(i => new RfCentre(10 * i + 3, 0)).ToArray();
        Assert.Equal(1.0, ReceptiveField.Tiling(even, ring), 12);
        var same = Enumerable.Repeat(new RfCentre(7, 0), 4).ToArray();
        Assert.Equal(0.0, ReceptiveField.Tiling(same, ring), 12);
        var torus = Torus(20);
        var lattice = new[] { new RfCentre(1, 1), new RfCentre(11, 1), new RfCentre(1, 11), new RfCentre(11, 11) };
        Assert.Equal(1.0, ReceptiveField.Tiling(lattice, torus), 12);
        Assert.True(double.IsNaN(ReceptiveField.Tiling(lattice[..1], torus)));
    }

    [Fact]
    public void ExcessKurtosisOfKnownDistributions()
    {
        var rng = new Rng(9, 0);
        const int n = 200_000;
        var x = new double[n];
        rng.FillGaussian(x);
        double se = Math.Sqrt(24.0 / n);
        Assert.InRange(Moments.ExcessKurtosis(x), -5 * se, 5 * se);
        for (int i = 0; i < n; i++) x[i] = 5 + (rng.NextBool() ? 1 : -1); // shifted sign: -2 exactly up to sampling
        Assert.InRange(Moments.ExcessKurtosis(x), -2.0001, -1.999);
        for (int i = 0; i < n; i++) x[i] = rng.NextDouble();
        Assert.InRange(Moments.ExcessKurtosis(x), -1.2 - 0.02, -1.2 + 0.02);
    }

    /// <summary>
    /// Q^a_kl = w_k^T S_a w_l / D from the exact covariance equals the empirical overlap E_a[lambda_k lambda_l] of the
    /// bias-free pre-activations on NLGP samples of class a, within five standard errors per entry.
    /// </summary>
    [Fact]
    public void OrderParametersFromWeightsMatchEmpiricalOverlaps()
    {
        var data = new DataSpec { Dim = 1, Size = 30, Xi0 = 1, Xi1 = 4, Gain = 3 };
        var task = new NlgpTask(data);
        var g = task.Geometry;
        int d = task.D;
        const int k = 3;
        // Structured weights (a bump, a cosine, noise) so that the two classes give clearly different Q.
        var w = new double[k * d];
        Bump(g, 2.0, 8, 0).CopyTo(w, 0);
        for (int i = 0; i < d; i++) w[d + i] = Math.Cos(2 * Math.PI * 2 * i / d);
        var rng = new Rng(2, 0);
        rng.FillGaussian(w.AsSpan(2 * d));
        var op = new OrderParameterMeter(task).Measure(w, new double[k], new double[k]);
        var source = task.CreateSource(InputKind.Nlgp, new Rng(3, RngStream.Samples));
        const int n = 20_000;
        var x = new double[d];
        var lambda = new double[k];
        for (int a = 0; a < 2; a++)
        {
            var sum = new double[k * k];
            var sumSq = new double[k * k];
            for (int s = 0; s < n; s++)
            {
                source.NextOfClass(a, x);
                for (int u = 0; u < k; u++)
                    lambda[u] = System.Numerics.Tensors.TensorPrimitives.Dot(w.AsSpan(u * d, d), x) / Math.Sqrt(d);
                for (int u = 0; u < k; u++)
                    for (int l = 0; l < k; l++)
                    {
                        double p = lambda[u] * lambda[l];
                        sum[u * k + l] += p;
                        sumSq[u * k + l] += p * p;
                    }
            }
            for (int i = 0; i < k * k; i++)
            {
                double mean = sum[i] / n, se = Math.Sqrt((sumSq[i] / n - mean * mean) / n);
                Assert.True(Math.Abs(op.Q[a][i] - mean) <= 5 * se, $"class {a} entry {i}: Q = {op.Q[a][i]}, empirical {mean} +- {se}");
            }
        }
        Assert.True(Math.Abs(op.Qkl(0, 0, 0) - op.Qkl(1, 0, 0)) > 0.1, "the classes should give different overlaps");
    }

    /// <summary>
    /// The test set holds half of each class and measures the error of a network exactly: a network that outputs 0
    /// has eps_g = 1/2 and MSE = 1.
    /// </summary>
    [Fact]
    public void TestSetErrorOfTheZeroNetwork()
    {
        var task = new NlgpTask(new DataSpec { Dim = 1, Size = 16 });
        var set = TestSet.Draw(task, InputKind.Nlgp, 1, 101);
        Assert.Equal(50, set.Classes.Count(c => c == 0));
        var spec = new NetworkSpec { K = 2, BiasMode = BiasMode.None };
        var net = new TwoLayerNetwork(spec, 16, default, new double[32], [0.0, 0.0], [0.0, 0.0]);
        var e = set.Evaluate(net);
        Assert.Equal(0.5, e.EpsG, 15);
        Assert.Equal(1.0, e.Mse, 15);
        Assert.Equal(0.0, e.Accuracy);
    }

    [Theory]
    [InlineData(1, 30, 5, 17)]
    [InlineData(2, 12, 3, 130)]
    public void FilterMatchFindsAFilterPlacedInTheImage(int dim, int size, int kernel, int at)
    {
        var g = new ImageGeometry(dim, size, Boundary.Periodic);
        int q = dim == 1 ? kernel : kernel * kernel;
        var rng = new Rng(6, 0);
        var filters = new double[3 * q];
        rng.FillGaussian(filters);
        // w = -(filter 1) placed with its centre tap at pixel `at` (wrapping), zero elsewhere.
        var w = new double[g.D];
        var c = ReceptiveField.PixelOf(at, g);
        for (int j = 0; j < q; j++)
        {
            int ox = (dim == 1 ? j : j % kernel) - kernel / 2, oy = dim == 1 ? 0 : j / kernel - kernel / 2;
            int x = ((int)c.X + ox + size) % size, y = ((int)c.Y + oy + size) % size;
            w[dim == 1 ? x : y * size + x] = -filters[q + j];
        }
        var m = FilterMatch.Best(w, g, filters, kernel);
        Assert.Equal(1, m.Filter);
        Assert.Equal(-1.0, m.Ncc, 12);
        Assert.Equal(((int)c.X, (int)c.Y), (m.ShiftX, m.ShiftY));
        // Energy outside the window lowers the match: adding an equal-energy far-away copy halves |ncc|^2.
        var twice = (double[])w.Clone();
        for (int i = 0; i < g.D; i++)
        {
            var p = ReceptiveField.PixelOf(i, g);
            int x = ((int)p.X + size / 2) % size, y = dim == 1 ? 0 : ((int)p.Y + size / 2) % size;
            twice[dim == 1 ? x : y * size + x] += w[i];
        }
        Assert.Equal(Math.Sqrt(0.5), Math.Abs(FilterMatch.Best(twice, g, filters, kernel).Ncc), 9);
    }
}
