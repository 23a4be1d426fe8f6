using System.Numerics.Tensors;
using MathNet.Numerics;

namespace Theory.Simulation.Data;

/// <summary>
/// Streaming statistics of images (one per <see cref="Add"/>): per-pixel mean and variance, the pooled marginal
/// excess kurtosis with its standard error, and (optionally) the full empirical covariance, to be compared with
/// the exact NLGP formulas of SCIENCE.md section 1. Images are buffered and the covariance is accumulated a block
/// at a time with vectorised dot products (O(D^2) per image, no allocation after construction).
/// <para>With <c>zeroMean</c> (the NLGP and its clone are exactly zero-mean) second and fourth moments are taken about
/// 0 rather than about the sample mean: centring on an estimated mean biases the kurtosis by O(1/n), which at
/// n = 2000 is several standard errors for a saturated NLGP, whose kurtosis estimate is very precise.</para>
/// </summary>
public sealed class InputStatistics
{
    private const int Block = 128;
    private readonly int _d;
    private readonly double[] _s1, _s2, _s3, _s4;    // per-pixel power sums
    private readonly double[]? _cross;              // upper triangle of sum x_i x_j (row-major, D x D)
    private readonly double[]? _block;              // pixel-major buffer: [i * Block + b]
    private int _inBlock;
    // Per-image pooled moments a = mean_i x_i^4, b = mean_i x_i^2: images are independent, pixels are not.
    private double _sa, _sb, _saa, _sbb, _sab;

    /// <param name="d">Pixels per image.</param>
    /// <param name="covariance">Accumulate the D x D covariance (O(D^2) memory and time per image).</param>
    /// <param name="zeroMean">The data are known to have mean 0: moments about 0 (divisor n) instead of about the
    /// sample mean (divisor n - 1).</param>
    public InputStatistics(int d, bool covariance = true, bool zeroMean = false)
    {
        if (d < 1) throw new ArgumentOutOfRangeException(nameof(d));
        _d = d;
        ZeroMean = zeroMean;
        _s1 = new double[d];
        _s2 = new double[d];
        _s3 = new double[d];
        _s4 = new double[d];
        if (covariance)
        {
            _cross = new double[(long)d * d];
            _block = new double[(long)d * Block];
        }
    }

    public int D => _d;
    public long Count { get; private set; }
    public bool ZeroMean { get; }
    public bool HasCovariance => _cross is not null;

    /// <summary>Adds one image of D pixels.</summary>
    public void Add(ReadOnlySpan<double> x)
    {
        if (x.Length != _d) throw new ArgumentException($"an image has D = {_d} pixels", nameof(x));
        double a = 0, b = 0;
        for (int i = 0; i < _d; i++)
        {
            double v = x[i], v2 = v * v;
            _s1[i] += v;
            _s2[i] += v2;
            _s3[i] += v2 * v;
            _s4[i] += v2 * v2;
            a += v2 * v2;
            b += v2;
        }
        a /= _d;
        b /= _d;
        _sa += a; _sb += b; _saa += a * a; _sbb += b * b; _sab += a * b;
        Count++;
        if (_block is { } block)
        {
            for (int i = 0; i < _d; i++) block[i * Block + _inBlock] = x[i];
            if (++_inBlock == Block) Flush();
        }
    }

    /// <summary>Adds <c>xs.Length / D</c> images stored row-major.</summary>
    public void AddBatch(ReadOnlySpan<double> xs)
    {
        for (int k = 0; k + _d <= xs.Length; k += _d) Add(xs.Slice(k, _d));
    }

    private void Flush()
    {
        if (_inBlock == 0 || _cross is null || _block is null) return;
        int n = _inBlock, d = _d;
        var block = _block.AsSpan();
        for (int i = 0; i < d; i++)
        {
            var bi = block.Slice(i * Block, n);
            for (int j = i; j < d; j++) _cross[(long)i * d + j] += TensorPrimitives.Dot(bi, block.Slice(j * Block, n));
        }
        _inBlock = 0;
    }

    /// <summary>Per-pixel sample means.</summary>
    public double[] Mean()
    {
        var m = new double[_d];
        for (int i = 0; i < _d; i++) m[i] = _s1[i] / Count;
        return m;
    }

    /// <summary>Per-pixel unbiased sample variances (about 0 with <see cref="ZeroMean"/>).</summary>
    public double[] Variance()
    {
        var v = new double[_d];
        for (int i = 0; i < _d; i++)
            v[i] = ZeroMean ? _s2[i] / Count : (_s2[i] - _s1[i] * _s1[i] / Count) / (Count - 1);
        return v;
    }

    /// <summary>Average of the per-pixel variances.</summary>
    public double MeanVariance => Variance().Average();

    /// <summary>Largest |mean| over pixels.</summary>
    public double MaxAbsMean => Mean().Max(Math.Abs);

    /// <summary>
    /// Pooled marginal excess kurtosis: <c>mean_i m4_i / (mean_i m2_i)^2 - 3</c> with central moments m2, m4 of each
    /// pixel (moments about 0 with <see cref="ZeroMean"/>); every pixel has the same marginal for these tasks.
    /// </summary>
    public double ExcessKurtosis
    {
        get
        {
            double m2 = 0, m4 = 0;
            for (int i = 0; i < _d; i++)
            {
                double mu = ZeroMean ? 0 : _s1[i] / Count, e2 = _s2[i] / Count, e3 = _s3[i] / Count, e4 = _s4[i] / Count;
                m2 += e2 - mu * mu;
                m4 += e4 - 4 * mu * e3 + 6 * mu * mu * e2 - 3 * mu * mu * mu * mu;
            }
            m2 /= _d;
            m4 /= _d;
            return m4 / (m2 * m2) - 3;
        }
    }

    /// <summary>
    /// Standard error of <see cref="ExcessKurtosis"/> by the delta method on the per-image pooled moments
    /// (a = mean x^4, b = mean x^2 over the pixels of one image; images are independent, pixels are not):
    /// <c>Var(A/B^2) ~ [Var a / B^4 - 4 A Cov(a,b) / B^5 + 4 A^2 Var b / B^6] / n</c>.
    /// </summary>
    public double ExcessKurtosisStandardError
    {
        get
        {
            double n = Count, A = _sa / n, B = _sb / n;
            double va = _saa / n - A * A, vb = _sbb / n - B * B, cab = _sab / n - A * B;
            double var = (va / Math.Pow(B, 4) - 4 * A * cab / Math.Pow(B, 5) + 4 * A * A * vb / Math.Pow(B, 6)) / n;
            return Math.Sqrt(Math.Max(var, 0));
        }
    }

    /// <summary>The unbiased empirical covariance, D x D row-major (about 0, divisor n, with <see cref="ZeroMean"/>).</summary>
    public double[] Covariance()
    {
        if (_cross is null) throw new InvalidOperationException("this InputStatistics does not accumulate the covariance");
        Flush();
        int d = _d;
        var c = new double[(long)d * d];
        for (int i = 0; i < d; i++)
            for (int j = i; j < d; j++)
            {
                double v = ZeroMean
                    ? _cross[(long)i * d + j] / Count
                    : (_cross[(long)i * d + j] - _s1[i] * _s1[j] / Count) / (Count - 1);
                c[(long)i * d + j] = v;
                c[(long)j * d + i] = v;
            }
        return c;
    }

    /// <summary>Relative squared Frobenius error <c>||C_emp - S||^2 / ||S||^2</c> of the empirical covariance against
    /// <paramref name="exact"/> (D x D row-major).</summary>
    public double CovarianceError(ReadOnlySpan<double> exact) => RelativeSquaredError(Covariance(), exact);

    /// <summary><c>||a - b||^2 / ||b||^2</c> (Frobenius).</summary>
    public static double RelativeSquaredError(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        if (a.Length != b.Length) throw new ArgumentException("matrices of different sizes");
        double num = 0, den = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double e = a[i] - b[i];
            num += e * e;
            den += b[i] * b[i];
        }
        return num / den;
    }

    /// <summary>
    /// The expected <see cref="CovarianceError"/> of n independent Gaussian images with covariance S (Wishart):
    /// <c>E ||C_emp - S||^2 = sum_ij (S_ij^2 + S_ii S_jj) / (n - 1)</c> (divisor n for the zero-mean estimator),
    /// divided by <c>||S||^2</c>. The sampling-noise floor to read the measured error against (exact for the clone;
    /// the NLGP's fourth cumulants shift it a little).
    /// </summary>
    public static double ExpectedCovarianceError(ReadOnlySpan<double> exact, int d, long n, bool zeroMean = false)
    {
        double frob = TensorPrimitives.Dot(exact, exact), trace = 0;
        for (int i = 0; i < d; i++) trace += exact[i * d + i];
        return (frob + trace * trace) / ((zeroMean ? n : n - 1) * frob);
    }

    // ------------------------------------------------------------------------------------------------------------
    // Exact marginal moments of an NLGP pixel

    /// <summary>
    /// <c>E[erf(g z / sqrt 2)^p]</c> for z ~ N(0, latentVariance), p = 2 or 4, by composite Gauss-Legendre
    /// quadrature over u = z / sigma in [0, 9] (the integrand is even), with panel breaks at multiples of the
    /// erf's scale 1/(g sigma) so that large gains (an almost-step integrand) are integrated as accurately as small
    /// ones. Closed form for p = 2: <c>(2/pi) asin(g^2 s / (1 + g^2 s))</c>.
    /// </summary>
    public static double NlgpErfMoment(double gain, int p, double latentVariance = 1.0)
    {
        if (p < 1) throw new ArgumentOutOfRangeException(nameof(p));
        if (gain == 0) return 0;
        double k = gain * Math.Sqrt(latentVariance / 2); // erf(k u), u ~ N(0, 1)
        var breaks = new SortedSet<double> { 0, 9 };
        for (int i = 1; i <= 9; i++) breaks.Add(i);
        foreach (double m in (ReadOnlySpan<double>)[0.125, 0.25, 0.5, 1, 2, 4, 8])
            if (m / k < 9) breaks.Add(m / k);
        var points = breaks.ToArray();
        double sum = 0;
        for (int i = 0; i + 1 < points.Length; i++)
            sum += Integrate.GaussLegendre(u => Math.Exp(-0.5 * u * u) * Math.Pow(SpecialFunctions.Erf(k * u), p), points[i], points[i + 1], 64);
        return 2 * sum / Math.Sqrt(2 * Math.PI);
    }

    /// <summary>
    /// Exact marginal excess kurtosis of an NLGP pixel, <c>E[x^4] / E[x^2]^2 - 3</c> for
    /// <c>x = erf(g z / sqrt 2)</c>, z ~ N(0, latentVariance) (the 1/sqrt(gamma) normalisation cancels). SCIENCE.md:
    /// -0.62 (g = 0.5), -1.20 (1), -1.62 (2), -1.76 (3), -1.93 (10), -1.99 (100); 0 in the Gaussian limit g -> 0.
    /// </summary>
    public static double NlgpExcessKurtosis(double gain, double latentVariance = 1.0)
    {
        if (gain == 0) return 0;
        double m2 = NlgpErfMoment(gain, 2, latentVariance), m4 = NlgpErfMoment(gain, 4, latentVariance);
        return m4 / (m2 * m2) - 3;
    }
}
