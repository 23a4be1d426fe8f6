using FsCheck;
using FsCheck.Fluent;
using Theory.Simulation.Data;
using MathNetErf = MathNet.Numerics.SpecialFunctions;

namespace Theory.Simulation.Tests;

/// <summary>FastMath.Erf against MathNet's erf over the whole real line; Exp against Math.Exp.</summary>
public class DataFastMathTests
{
    private static double MaxErfError(IEnumerable<double> xs)
    {
        var x = xs.ToArray();
        var y = new double[x.Length];
        FastMath.Erf(x, y);
        double worst = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double e = Math.Abs(y[i] - MathNetErf.Erf(x[i]));
            worst = Math.Max(worst, e);
            Assert.Equal(BitConverter.DoubleToInt64Bits(y[i]), BitConverter.DoubleToInt64Bits(FastMath.Erf(x[i])));
        }
        return worst;
    }

    [Fact]
    public void ErfIsWithin1e12OfMathNetOnADenseGrid()
    {
        // 200,001 points on [-10, 10] (step 1e-4) cover both branches, the switch at |x| = 1 and the cut at 6.5.
        double worst = MaxErfError(Enumerable.Range(-100_000, 200_001).Select(i => i * 1e-4));
        Assert.True(worst <= 1e-12, $"max |error| = {worst:G3}");
    }

    [Fact]
    public void ErfIsAccurateNearZeroTailsAndSpecialValues()
    {
        // Near 0 erf is a polynomial x P(x^2): relative accuracy, down to subnormals.
        foreach (double x in new[] { 5e-324, 1e-300, 1e-100, 1e-20, 1e-10, 1e-5, 0.01, 0.1, 0.999999, 1.0, 1.000001 })
        {
            double expected = MathNetErf.Erf(x);
            Assert.True(Math.Abs(FastMath.Erf(x) - expected) <= 2e-16 * expected, $"x = {x}");
            Assert.Equal(-FastMath.Erf(x), FastMath.Erf(-x));
        }
        double tails = MaxErfError(Enumerable.Range(0, 2000).SelectMany(i => new[] { 5 + i * 0.01, -5 - i * 0.01, Math.Pow(10, i % 300) }));
        Assert.True(tails <= 1e-12);
        Assert.Equal(1.0, FastMath.Erf(double.PositiveInfinity));
        Assert.Equal(-1.0, FastMath.Erf(double.NegativeInfinity));
        Assert.Equal(1.0, FastMath.Erf(double.MaxValue));
        Assert.True(double.IsNaN(FastMath.Erf(double.NaN)));
        Assert.True(double.IsNegative(FastMath.Erf(-0.0)));
        var special = new[] { double.NaN, -0.0, double.PositiveInfinity, double.NegativeInfinity, 0.5, 3, -7, 1e-310 };
        var y = new double[special.Length];
        FastMath.Erf(special, y);
        for (int i = 0; i < special.Length; i++)
            Assert.Equal(BitConverter.DoubleToInt64Bits(FastMath.Erf(special[i])), BitConverter.DoubleToInt64Bits(y[i]));
    }

    [Fact]
    public void SpanVersionEqualsScalarBitwiseForAnyLengthAndScale()
    {
        Prop.ForAll(Gen.Choose(0, 67).ToArbitrary(), Gen.Choose(0, 100_000).ToArbitrary(), (n, seed) =>
        {
            var rng = new Rng((ulong)seed, 5);
            var x = new double[n];
            for (int i = 0; i < n; i++) x[i] = 4 * rng.NextGaussian();
            double inScale = 0.1 + 10 * rng.NextDouble(), outScale = rng.NextDouble();
            var y = new double[n];
            FastMath.Erf(x, y, inScale, outScale);
            var e = new double[n];
            FastMath.Exp(x, e);
            for (int i = 0; i < n; i++)
            {
                if (y[i] != outScale * FastMath.Erf(inScale * x[i])) return false;
                if (e[i] != FastMath.Exp(x[i])) return false;
            }
            var original = (double[])x.Clone();
            FastMath.Erf(x, x); // in place
            for (int i = 0; i < n; i++)
                if (x[i] != FastMath.Erf(original[i])) return false;
            return true;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void ExpHasAFewUlpRelativeErrorAndCorrectLimits()
    {
        double worst = 0;
        for (int i = 0; i <= 200_000; i++)
        {
            double y = -745 + i * (709.7 + 745) / 200_000;
            double expected = Math.Exp(y);
            if (expected < 1e-300) continue; // subnormal results have absolute, not relative, precision
            worst = Math.Max(worst, Math.Abs(FastMath.Exp(y) - expected) / expected);
        }
        Assert.True(worst < 5e-16, $"max relative error {worst:G3}");
        Assert.Equal(0.0, FastMath.Exp(double.NegativeInfinity));
        Assert.Equal(0.0, FastMath.Exp(-800));
        Assert.Equal(double.PositiveInfinity, FastMath.Exp(710));
        Assert.Equal(double.PositiveInfinity, FastMath.Exp(double.PositiveInfinity));
        Assert.True(double.IsNaN(FastMath.Exp(double.NaN)));
        Assert.Equal(1.0, FastMath.Exp(0.0));
    }

    [Fact]
    public void ErfActivationGivesErfOfHOverSqrt2AndItsDerivative()
    {
        var h = Enumerable.Range(-400, 801).Select(i => i * 0.025).ToArray();
        var value = new double[h.Length];
        var derivative = new double[h.Length];
        FastMath.ErfActivation(h, value, derivative);
        for (int i = 0; i < h.Length; i++)
        {
            Assert.True(Math.Abs(value[i] - MathNetErf.Erf(h[i] / Math.Sqrt(2))) < 1e-15);
            // Central finite difference of MathNet's erf(h / sqrt 2): O(step^2) truncation, O(eps / step) round-off.
            const double step = 1e-5;
            double fd = (MathNetErf.Erf((h[i] + step) / Math.Sqrt(2)) - MathNetErf.Erf((h[i] - step) / Math.Sqrt(2))) / (2 * step);
            Assert.True(Math.Abs(derivative[i] - fd) < 1e-9, $"h = {h[i]}: {derivative[i]} vs {fd}");
            var (v, d) = FastMath.ErfActivation(h[i]);
            Assert.Equal(value[i], v);
            Assert.Equal(derivative[i], d);
        }
    }
}
