using Theory.Simulation.Data;
using MathNetErf = MathNet.Numerics.SpecialFunctions;

namespace Theory.Simulation.Tests;

/// <summary>The ziggurat normals: distribution (Kolmogorov-Smirnov on the body and on the tail beyond R), tail
/// mass, and FillGaussian = repeated NextGaussian.</summary>
public class DataGaussianTests
{
    private static double NormalCdf(double x) => 0.5 * MathNetErf.Erfc(-x / Math.Sqrt(2));

    /// <summary>sqrt(n) sup |F_n - F|; above 1.95 with probability 0.001 under the null.</summary>
    private static double KolmogorovStatistic(double[] xs, Func<double, double> cdf)
    {
        Array.Sort(xs);
        double d = 0;
        for (int i = 0; i < xs.Length; i++)
        {
            double f = cdf(xs[i]);
            d = Math.Max(d, Math.Max((i + 1.0) / xs.Length - f, f - (double)i / xs.Length));
        }
        return d * Math.Sqrt(xs.Length);
    }

    [Fact]
    public void NormalsPassKolmogorovSmirnov()
    {
        var rng = new Rng(11, 0);
        var xs = new double[200_000];
        rng.FillGaussian(xs);
        double ks = KolmogorovStatistic(xs, NormalCdf);
        Assert.True(ks < 1.95, $"KS statistic {ks:F3}");
    }

    [Fact]
    public void TailBeyondTheZigguratBaseHasTheRightMassAndShape()
    {
        const double r = 3.6541528853610088; // the ziggurat's tail start
        var rng = new Rng(12, 0);
        const int n = 4_000_000;
        var buffer = new double[n];
        rng.FillGaussian(buffer);
        var tail = buffer.Where(x => Math.Abs(x) > r).Select(Math.Abs).ToArray();
        double p = MathNetErf.Erfc(r / Math.Sqrt(2));
        double sd = Math.Sqrt(n * p * (1 - p));
        Assert.InRange(tail.Length, n * p - 5 * sd, n * p + 5 * sd);
        // Conditional law of |x| given |x| > r.
        double ks = KolmogorovStatistic(tail, t => 1 - MathNetErf.Erfc(t / Math.Sqrt(2)) / p);
        Assert.True(ks < 1.95, $"tail KS statistic {ks:F3}");
        // Symmetry: as many negative as positive values in the tail (binomial, 5 sigma).
        int negative = buffer.Count(x => x < -r);
        Assert.InRange(negative, tail.Length / 2.0 - 2.5 * Math.Sqrt(tail.Length), tail.Length / 2.0 + 2.5 * Math.Sqrt(tail.Length));
    }

    [Fact]
    public void FillGaussianEqualsRepeatedNextGaussian()
    {
        var a = new Rng(5, RngStream.Training);
        var b = new Rng(5, RngStream.Training);
        var filled = new double[10_000];
        a.FillGaussian(filled);
        for (int i = 0; i < filled.Length; i++) Assert.Equal(filled[i], b.NextGaussian());
        Assert.Equal(a.NextULong(), b.NextULong());
    }
}
