using FsCheck;
using FsCheck.Fluent;
using Theory.Interop;
using Theory.Simulation.Analysis;
using Theory.Simulation.Data;
using Theory.Simulation.Training;

namespace Theory.Simulation.Tests;

/// <summary>
/// The AGOP of the two-layer and convolutional networks against finite differences of the networks themselves, the
/// closed forms it must reduce to, the matrix power and correlation helpers on known matrices, and the band shape on
/// matrices whose profile is known.
/// </summary>
public class AgopTests
{
    private static readonly LearningRates Rates = new(1, 1, 1);

    private static double[] Gaussian(int n, Rng rng, double scale = 1.0)
    {
        var x = new double[n];
        rng.FillGaussian(x);
        for (int i = 0; i < n; i++) x[i] *= scale;
        return x;
    }

    /// <summary>A network with random first layer, readout and biases (readout trained so that v is used as given).</summary>
    private static TwoLayerNetwork RandomNetwork(Activation activation, int k, int d, int seed)
    {
        var rng = new Rng((ulong)seed, 77);
        var spec = new NetworkSpec { K = k, Activation = activation, Readout = Readout.Trained, BiasMode = BiasMode.Trained };
        return new TwoLayerNetwork(spec, d, Rates, Gaussian(k * d, rng), Gaussian(k, rng), Gaussian(k, rng, 0.5));
    }

    /// <summary>Central finite difference of f at x along every coordinate.</summary>
    private static double[] FiniteDifferenceGradient(Func<double[], double> f, double[] x, double h = 1e-5)
    {
        var grad = new double[x.Length];
        var y = (double[])x.Clone();
        for (int i = 0; i < x.Length; i++)
        {
            y[i] = x[i] + h;
            double up = f(y);
            y[i] = x[i] - h;
            double down = f(y);
            y[i] = x[i];
            grad[i] = (up - down) / (2 * h);
        }
        return grad;
    }

    private static double MaxAbs(ReadOnlySpan<double> a)
    {
        double m = 0;
        foreach (var x in a) m = Math.Max(m, Math.Abs(x));
        return m;
    }

    private static double MaxAbsDifference(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        Assert.Equal(a.Length, b.Length);
        double m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }

    [Theory]
    [InlineData(Activation.Erf)]
    [InlineData(Activation.Sigmoid)]
    [InlineData(Activation.Cubic)]
    public void InputGradientMatchesFiniteDifferencesOfTheNetwork(Activation activation)
    {
        const int k = 3, d = 12;
        var net = RandomNetwork(activation, k, d, 1);
        var rng = new Rng(2, 1);
        for (int trial = 0; trial < 5; trial++)
        {
            var x = Gaussian(d, rng);
            var grad = new double[d];
            Agop.InputGradient(net, x, grad);
            var fd = FiniteDifferenceGradient(v => net.Output(v), x);
            Assert.True(MaxAbsDifference(grad, fd) < 1e-8 * Math.Max(1, MaxAbs(fd)), $"trial {trial}");
        }
    }

    /// <summary>The closed form W^T A W / D against the average outer product of finite-difference gradients, for the
    /// whole network and for a population (whose partial output is the network with the other readouts set to 0).</summary>
    [Theory]
    [InlineData(Activation.Erf)]
    [InlineData(Activation.Sigmoid)]
    [InlineData(Activation.Cubic)]
    public void ClosedFormAgopMatchesTheFiniteDifferenceAgop(Activation activation)
    {
        const int k = 4, d = 10, n = 25;
        var net = RandomNetwork(activation, k, d, 3);
        var inputs = Gaussian(n * d, new Rng(4, 1));
        foreach (var units in new[] { new[] { 0, 1, 2, 3 }, new[] { 0, 1 }, new[] { 1, 3 } })
        {
            var v = new double[k];
            foreach (var u in units) v[u] = net.V[u];
            var partial = new TwoLayerNetwork(net.Spec, d, Rates, net.W, v, net.B);
            var fdAgop = new double[d * d];
            for (int p = 0; p < n; p++)
            {
                var g = FiniteDifferenceGradient(x => partial.Output(x), inputs.AsSpan(p * d, d).ToArray());
                for (int i = 0; i < d; i++)
                    for (int j = 0; j < d; j++) fdAgop[i * d + j] += g[i] * g[j] / n;
            }
            var closed = Agop.Network(net, inputs, n, units);
            Assert.True(MaxAbsDifference(closed, fdAgop) < 1e-7 * MaxAbs(fdAgop), $"units {string.Join(",", units)}");
        }
    }

    [Fact]
    public void AgopOfTheNetworkWithLinearActivationIsTheOuterProductOfItsEffectiveWeights()
    {
        // f(x) = v^T (W x / sqrt D + b): the gradient is the constant w = W^T v / sqrt D, so G = w w^T for any inputs.
        const int k = 5, d = 9, n = 7;
        var net = RandomNetwork(Activation.Linear, k, d, 5);
        var inputs = Gaussian(n * d, new Rng(6, 1), 3.0);
        var w = new double[d];
        for (int j = 0; j < k; j++)
            for (int i = 0; i < d; i++) w[i] += net.W[j * d + i] * net.V[j] / Math.Sqrt(d);
        var agop = Agop.Network(net, inputs, n);
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++) Assert.Equal(w[i] * w[j], agop[i * d + j], 1e-13);
        // And its square root is w w^T / |w|: rank one with eigenvalue |w|^2 -> |w|.
        var root = Agop.LowRankPower(net.W, d, Agop.GradientMoment(net, inputs, n), k, Agop.AllUnits(k), 1.0 / d, 0.5);
        double norm = Math.Sqrt(w.Sum(x => x * x));
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++) Assert.Equal(w[i] * w[j] / norm, root[i * d + j], 1e-12);
    }

    [Fact]
    public void LowRankPowerEqualsThePowerByFullEigenDecomposition()
    {
        Prop.ForAll(Gen.Choose(1, 6).ToArbitrary(), Gen.Choose(0, 100_000).ToArbitrary(), (k, seed) =>
        {
            int d = 11;
            var rng = new Rng((ulong)seed, 3);
            var w = Gaussian(k * d, rng);
            // A random positive semi-definite moment C C^T (rank k - 1 when k > 1, to exercise the zero eigenvalues).
            int rank = Math.Max(1, k - 1);
            var c = Gaussian(k * rank, rng);
            var a = new double[k * k];
            for (int i = 0; i < k; i++)
                for (int j = 0; j < k; j++)
                    for (int r = 0; r < rank; r++) a[i * k + j] += c[i * rank + r] * c[j * rank + r];
            var units = Agop.AllUnits(k);
            var g = Agop.FromMoment(w, d, a, k, units, 0.3);
            double scale = MaxAbs(g);
            foreach (double s in new[] { 1.0, 0.5, 2.0 })
            {
                var low = Agop.LowRankPower(w, d, a, k, units, 0.3, s);
                var full = Agop.SymmetricPower(g, d, s);
                if (MaxAbsDifference(low, full) > 1e-8 * Math.Pow(scale, s)) return false;
            }
            // (G^1/2)^2 = G.
            var root = Agop.LowRankPower(w, d, a, k, units, 0.3, 0.5);
            var square = new double[d * d];
            for (int i = 0; i < d; i++)
                for (int j = 0; j < d; j++)
                    for (int l = 0; l < d; l++) square[i * d + j] += root[i * d + l] * root[l * d + j];
            return MaxAbsDifference(square, g) < 1e-9 * scale;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void GramOfTheRowsIsWTransposeW()
    {
        const int k = 3, d = 4;
        var w = new double[] { 1, 2, 0, -1, 0, 1, 3, 2, 2, 0, 1, 1 };
        var g = Agop.Gram(w, d, [0, 2]);
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++) Assert.Equal(w[i] * w[j] + w[2 * d + i] * w[2 * d + j], g[i * d + j], 1e-15);
        Assert.Equal(Agop.FromMoment(w, d, [1, 0, 0, 0, 1, 0, 0, 0, 1], k, [0, 2], 1.0), g);
    }

    [Fact]
    public void EffectiveRankCountsEqualEigenvalues()
    {
        Assert.Equal(3.0, NfaPoint.EffectiveRank([2, 0, 0, 0, 2, 0, 0, 0, 2], 3), 1e-15);
        Assert.Equal(2.0, NfaPoint.EffectiveRank([1, 0, 0, 0, 1, 0, 0, 0, 0], 3), 1e-15);
        // Eigenvalues 3 and 1 of [[2, 1], [1, 2]]: 16 / 10.
        Assert.Equal(1.6, NfaPoint.EffectiveRank([2, 1, 1, 2], 2), 1e-15);
        var w = new double[] { 1, -2, 0.5 };
        Assert.Equal(1.0, NfaPoint.EffectiveRank(Agop.Gram(w, 3, [0]), 3), 1e-14);
    }

    // ------------------------------------------------------------------------------------------- correlation

    [Fact]
    public void PearsonCorrelationOfKnownMatrices()
    {
        // [[1,2],[3,4]] against [[1,2],[3,5]]: centred (-1.5,-0.5,0.5,1.5) and (-1.75,-0.75,0.25,2.25), so
        // 6.5 / sqrt(5 * 8.75) by hand.
        Assert.Equal(6.5 / Math.Sqrt(5 * 8.75), MatrixCorrelation.Pearson([1, 2, 3, 4], [1, 2, 3, 5]), 1e-15);
        // Orthogonal after centring: 0.
        Assert.Equal(0.0, MatrixCorrelation.Pearson([1, 2, 3, 4], [1, 0, 0, 1]), 1e-15);
        // An identity against itself plus a constant, and against its negative.
        Assert.Equal(1.0, MatrixCorrelation.Pearson([1, 0, 0, 1], [3, 2, 2, 3]), 1e-15);
        Assert.Equal(-1.0, MatrixCorrelation.Pearson([1, 0, 0, 1], [-1, 0, 0, -1]), 1e-15);
        Assert.True(double.IsNaN(MatrixCorrelation.Pearson([2, 2, 2, 2], [1, 0, 0, 1])));
    }

    [Fact]
    public void SandwichCorrelationEqualsThePearsonCorrelationOfTheFullMatrices()
    {
        Prop.ForAll(Gen.Choose(1, 6).ToArbitrary(), Gen.Choose(0, 100_000).ToArbitrary(), (k, seed) =>
        {
            const int d = 13;
            var rng = new Rng((ulong)seed, 11);
            var w = Gaussian(k * d, rng);
            for (int i = 0; i < w.Length; i++) w[i] += 0.3; // a non-zero mean entry, so the centring matters
            var units = Agop.AllUnits(k).Where(u => u % 2 == 0 || k < 3).ToArray();
            int r = units.Length;
            var z = Gaussian(r * r, rng);
            var a = new double[r * r];
            for (int i = 0; i < r; i++)
                for (int j = 0; j < r; j++)
                    for (int l = 0; l < r; l++) a[i * r + j] += z[i * r + l] * z[j * r + l];
            // W_P^T A W_P in full: embed A into a K x K moment.
            var moment = new double[k * k];
            for (int i = 0; i < r; i++)
                for (int j = 0; j < r; j++) moment[units[i] * k + units[j]] = a[i * r + j];
            double direct = MatrixCorrelation.Pearson(Agop.Gram(w, d, units), Agop.FromMoment(w, d, moment, k, units, 1.0));
            double fast = new SandwichCorrelation(w, d, units).With(a);
            return (double.IsNaN(direct) && double.IsNaN(fast)) || Math.Abs(direct - fast) < 1e-10;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void RandomMomentMedianIsOneForOneUnitAndBelowOneForSeveral()
    {
        var rng = new Rng(1, 12);
        var w = Gaussian(6 * 30, rng);
        // One unit: W^T A W = a w w^T with a > 0, always perfectly correlated with w w^T.
        Assert.Equal(1.0, new SandwichCorrelation(w, 30, [2]).RandomMomentMedian(new Rng(3, 1)), 1e-12);
        double several = new SandwichCorrelation(w, 30, Agop.AllUnits(6)).RandomMomentMedian(new Rng(3, 1));
        Assert.InRange(several, 0.3, 0.95);
        // Deterministic for a given stream.
        Assert.Equal(several, new SandwichCorrelation(w, 30, Agop.AllUnits(6)).RandomMomentMedian(new Rng(3, 1)));
    }

    [Fact]
    public void PearsonCorrelationIsBoundedSymmetricAndInvariantUnderPositiveAffineMaps()
    {
        Prop.ForAll(Gen.Choose(2, 50).ToArbitrary(), Gen.Choose(0, 100_000).ToArbitrary(), (n, seed) =>
        {
            var rng = new Rng((ulong)seed, 9);
            var a = Gaussian(n, rng);
            var b = Gaussian(n, rng);
            for (int i = 0; i < n; i++) b[i] += 0.5 * a[i];
            double r = MatrixCorrelation.Pearson(a, b);
            double scale = 0.1 + 10 * rng.NextDouble(), shift = 5 * rng.NextGaussian();
            var mapped = b.Select(x => scale * x + shift).ToArray();
            var negated = b.Select(x => -x).ToArray();
            return r >= -1 && r <= 1
                   && Math.Abs(r - MatrixCorrelation.Pearson(b, a)) < 1e-14
                   && Math.Abs(r - MatrixCorrelation.Pearson(a, mapped)) < 1e-12
                   && Math.Abs(r + MatrixCorrelation.Pearson(a, negated)) < 1e-14;
        }).QuickCheckThrowOnFailure();
    }

    // ------------------------------------------------------------------------------------------- patch-AGOP

    /// <summary>
    /// A plain reference of the convolutional network: the patches of x are extracted explicitly (patch p, tap j =
    /// x at p + offset_j, offsets from -Q/2, circular), and f = sum_k v_k mean_p g(f_k . patch_p / sqrt q + b_k) is a
    /// function of the patches as separate variables.
    /// </summary>
    private sealed class PatchReference(ConvolutionalNetwork net, int dim, int size, int kernel)
    {
        public int Q => net.Taps;

        public double[] Patches(ReadOnlySpan<double> x)
        {
            int d = net.D, q = Q;
            var patches = new double[d * q];
            for (int p = 0; p < d; p++)
            {
                int row = dim == 1 ? 0 : p / size, col = dim == 1 ? p : p % size;
                for (int j = 0; j < q; j++)
                {
                    int ox = (dim == 1 ? j : j % kernel) - kernel / 2, oy = dim == 1 ? 0 : j / kernel - kernel / 2;
                    int c = ((col + ox) % size + size) % size, r = ((row + oy) % size + size) % size;
                    patches[p * q + j] = x[dim == 1 ? c : r * size + c];
                }
            }
            return patches;
        }

        public double Output(double[] patches)
        {
            int d = net.D, q = Q;
            double phi = 0;
            for (int k = 0; k < net.K; k++)
            {
                double sum = 0;
                for (int p = 0; p < d; p++)
                {
                    double lambda = net.B[k];
                    for (int j = 0; j < q; j++) lambda += net.F[k * q + j] * patches[p * q + j] / Math.Sqrt(q);
                    sum += net.Activation.Value(lambda);
                }
                phi += net.V[k] * sum / d;
            }
            return phi;
        }

        public double Derivative(double lambda) => net.Activation.Derivative(lambda);
    }

    private static ConvolutionalNetwork RandomConvolution(int dim, int size, int kernel, int k, int seed)
    {
        var rng = new Rng((ulong)seed, 78);
        var spec = new NetworkSpec { K = k, Activation = Activation.Erf, Readout = Readout.Trained, BiasMode = BiasMode.Trained };
        var data = new DataSpec { Dim = dim, Size = size };
        int q = dim == 1 ? kernel : kernel * kernel;
        return new ConvolutionalNetwork(spec, data, kernel, Rates, Gaussian(k * q, rng), Gaussian(k, rng), Gaussian(k, rng, 0.5));
    }

    [Theory]
    [InlineData(1, 9, 4)]
    [InlineData(2, 5, 3)]
    public void PatchAgopMatchesFiniteDifferencesWithRespectToEachPatch(int dim, int size, int kernel)
    {
        const int k = 2, n = 4;
        var net = RandomConvolution(dim, size, kernel, k, 7);
        var reference = new PatchReference(net, dim, size, kernel);
        int d = net.D, q = net.Taps;
        var inputs = Gaussian(n * d, new Rng(8, 1));
        var fd = new double[q * q];
        for (int s = 0; s < n; s++)
        {
            var x = inputs.AsSpan(s * d, d);
            var patches = reference.Patches(x);
            // The reference reproduces the network (same patch convention), then differentiates patch by patch.
            Assert.Equal(net.Output(x), reference.Output(patches), 1e-12);
            for (int p = 0; p < d; p++)
            {
                var g = new double[q];
                for (int j = 0; j < q; j++)
                {
                    const double h = 1e-5;
                    double keep = patches[p * q + j];
                    patches[p * q + j] = keep + h;
                    double up = reference.Output(patches);
                    patches[p * q + j] = keep - h;
                    double down = reference.Output(patches);
                    patches[p * q + j] = keep;
                    g[j] = (up - down) / (2 * h);
                }
                for (int i = 0; i < q; i++)
                    for (int j = 0; j < q; j++) fd[i * q + j] += g[i] * g[j] / n;
            }
        }
        var closed = Agop.Patch(net, inputs, n);
        Assert.True(MaxAbsDifference(closed, fd) < 1e-6 * MaxAbs(fd), $"max |diff| {MaxAbsDifference(closed, fd)}, scale {MaxAbs(fd)}");
    }

    [Theory]
    [InlineData(1, 11, 5)]
    [InlineData(2, 6, 3)]
    public void PatchAgopOfOneFilterIsItsOuterProductTimesTheMeanSquaredSlope(int dim, int size, int kernel)
    {
        // One filter f: grad_patch(p) f = v g'(lambda_p) f / (D sqrt q), so the patch-AGOP is c f f^T with
        // c = v^2 E[sum_p g'(lambda_p)^2] / (D^2 q); the CNFA correlation of F^T F = f f^T with it is exactly 1.
        const int n = 6;
        var net = RandomConvolution(dim, size, kernel, 1, 9);
        var reference = new PatchReference(net, dim, size, kernel);
        int d = net.D, q = net.Taps;
        var inputs = Gaussian(n * d, new Rng(10, 1));
        double c = 0;
        for (int s = 0; s < n; s++)
        {
            var patches = reference.Patches(inputs.AsSpan(s * d, d));
            for (int p = 0; p < d; p++)
            {
                double lambda = net.B[0];
                for (int j = 0; j < q; j++) lambda += net.F[j] * patches[p * q + j] / Math.Sqrt(q);
                double gp = reference.Derivative(lambda);
                c += net.V[0] * net.V[0] * gp * gp / ((double)d * d * q * n);
            }
        }
        var agop = Agop.Patch(net, inputs, n);
        for (int i = 0; i < q; i++)
            for (int j = 0; j < q; j++) Assert.Equal(c * net.F[i] * net.F[j], agop[i * q + j], 1e-14 * Math.Max(1, c));
        Assert.Equal(1.0, MatrixCorrelation.Pearson(Agop.Gram(net.F, q, [0]), agop), 1e-12);
    }

    // ------------------------------------------------------------------------------------------- band shape

    [Fact]
    public void BandShapeOfTheIdentityAndOfACirculantMatrix()
    {
        var ring = new ImageGeometry(1, 16, Boundary.Periodic);
        int d = ring.D;
        var identity = new double[d * d];
        for (int i = 0; i < d; i++) identity[i * d + i] = 2;
        var (id, _) = BandShape.Of(identity, ring);
        Assert.Equal(2, id.Diagonal);
        Assert.Equal(0, id.NearestNeighbourRatio);
        Assert.Equal(0.5, id.HalfWidth, 1e-15);    // falls from 1 to 0 between distances 0 and 1
        Assert.Equal(0.25, id.MassRadius, 1e-15);  // all mass in the bin [0, 1/2] of distance 0
        Assert.Equal(1, id.StationaryFraction, 1e-15);

        // Circulant with profile 1, 0.6, 0.2 at distances 0, 1, 2: stationary, half width interpolated between 1 and 2.
        var circulant = new double[d * d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
            {
                int r = Math.Min(Math.Abs(i - j), d - Math.Abs(i - j));
                circulant[i * d + j] = r switch { 0 => 1, 1 => 0.6, 2 => 0.2, _ => 0 };
            }
        var (c, profile) = BandShape.Of(circulant, ring);
        Assert.Equal(1, c.StationaryFraction, 1e-14);
        Assert.Equal(0.6, c.NearestNeighbourRatio, 1e-15);
        Assert.Equal(1 + 0.1 / 0.4, c.HalfWidth, 1e-14);
        // Mass 1 at distance 0 (bin [0, .5]), 2 * 0.36 at 1 ([.5, 1.5]), 2 * 0.04 at 2; total 1.8, half 0.9 in bin 0.
        Assert.Equal(0.5 * 0.9, c.MassRadius, 1e-14);
        Assert.Equal(0.6, profile.Mean[1], 1e-15);

        // A rank-one matrix is far from stationary: for a unit vector e_0, only one of the D diagonal entries is non-zero.
        var one = new double[d * d];
        one[0] = 1;
        Assert.Equal(1.0 / d, BandShape.Of(one, ring).Shape.StationaryFraction, 1e-15);
    }

    [Theory]
    [InlineData(1, 64, 3.0)]
    [InlineData(2, 24, 2.0)]
    public void BandShapeOfAGaussianBlobHasTheWidthOfItsAutocorrelation(int dim, int size, double sigma)
    {
        // W^T W = w w^T for one blob w = exp(-d^2 / 2 sigma^2): the band profile is w's autocorrelation, proportional to
        // exp(-delta^2 / 4 sigma^2), so it falls to half at 2 sigma sqrt(ln 2). In 1D the squared entries put the
        // pixel pair difference at N(0, sigma^2), whose median |difference| is 0.6745 sigma.
        var geometry = new ImageGeometry(dim, size, Boundary.Periodic);
        int d = geometry.D;
        var w = new double[d];
        int centre = dim == 1 ? 20 : 7 * size + 13;
        for (int i = 0; i < d; i++) w[i] = Math.Exp(-geometry.Distance2(i, centre) / (2 * sigma * sigma));
        var m = Agop.Gram(w, d, [0]);
        var (shape, _) = BandShape.Of(m, geometry);
        Assert.Equal(2 * sigma * Math.Sqrt(Math.Log(2)), shape.HalfWidth, 0.02 * sigma);
        if (dim == 1) Assert.Equal(0.6745 * sigma, shape.MassRadius, 0.02 * sigma);
        // The circulant part of w w^T has the autocorrelation a(delta) / D on every diagonal: its share of ||w w^T||^2 =
        // |w|^4 is sum_delta a(delta)^2 / (D |w|^4), small for a blob much narrower than the image.
        double norm2 = w.Sum(x => x * x), sum = 0;
        for (int delta = 0; delta < d; delta++)
        {
            double a = 0;
            for (int i = 0; i < d; i++)
            {
                int j = dim == 1 ? (i + delta) % size
                    : ((i / size + delta / size) % size) * size + (i % size + delta % size) % size;
                a += w[i] * w[j];
            }
            sum += a * a;
        }
        Assert.Equal(sum / (d * norm2 * norm2), shape.StationaryFraction, 1e-12);
        Assert.True(shape.StationaryFraction < 0.15);
    }
}
