using System.Numerics;
using FsCheck;
using FsCheck.Fluent;
using Theory.Simulation.Data;

namespace Theory.Simulation.Tests;

/// <summary>The managed FFT against the O(n^2) definition, Parseval, and inverse(forward) = n identity.</summary>
public class DataFftTests
{
    /// <summary>The DFT from its definition, with the exponent reduced mod n in integers (exact angles).</summary>
    internal static Complex[] NaiveDft(ReadOnlySpan<Complex> x, int sign = -1)
    {
        int n = x.Length;
        var result = new Complex[n];
        for (int f = 0; f < n; f++)
        {
            Complex s = 0;
            for (int t = 0; t < n; t++)
                s += x[t] * Complex.FromPolarCoordinates(1, sign * 2 * Math.PI * ((long)f * t % n) / n);
            result[f] = s;
        }
        return result;
    }

    internal static Complex[] RandomVector(int n, int seed)
    {
        var rng = new Rng((ulong)seed, 99);
        var x = new Complex[n];
        for (int i = 0; i < n; i++) x[i] = new Complex(rng.NextGaussian(), rng.NextGaussian());
        return x;
    }

    /// <summary>Relative error of <paramref name="transformed"/> against the definition at every frequency up to
    /// n = 1000 and at 200 spread frequencies beyond (the O(n^2) reference would dominate the test time).</summary>
    private static double ErrorAgainstDefinition(ReadOnlySpan<Complex> x, ReadOnlySpan<Complex> transformed, int sign)
    {
        int n = x.Length, every = Math.Max(1, n / 200);
        if (n <= 1000) return RelativeError(transformed, NaiveDft(x, sign));
        double num = 0, den = 0;
        for (int f = 0; f < n; f += every)
        {
            Complex s = 0;
            for (int t = 0; t < n; t++) s += x[t] * Complex.FromPolarCoordinates(1, sign * 2 * Math.PI * ((long)f * t % n) / n);
            num += Math.Pow((transformed[f] - s).Magnitude, 2);
            den += Math.Pow(s.Magnitude, 2);
        }
        return Math.Sqrt(num / den);
    }

    private static double RelativeError(ReadOnlySpan<Complex> a, ReadOnlySpan<Complex> b)
    {
        double num = 0, den = 0;
        for (int i = 0; i < a.Length; i++)
        {
            num += (a[i] - b[i]).Magnitude * (a[i] - b[i]).Magnitude;
            den += b[i].Magnitude * b[i].Magnitude;
        }
        return Math.Sqrt(num / den);
    }

    // Round-off of an FFT grows like eps log n; the naive sum like eps sqrt n. 1e-12 leaves room for both at
    // n ~ 10^4 while catching any wrong twiddle or butterfly (errors of order 1).
    private const double Tolerance = 1e-12;

    [Fact]
    public void ForwardMatchesTheDefinitionForRandomLengths()
    {
        Prop.ForAll(Gen.Choose(1, 400).ToArbitrary(), Gen.Choose(0, 1_000_000).ToArbitrary(), (n, seed) =>
        {
            var x = RandomVector(n, seed);
            var expected = NaiveDft(x);
            var fft = new Fft(n);
            fft.Forward(x);
            return RelativeError(x, expected) < Tolerance;
        }).QuickCheckThrowOnFailure();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(20)]
    [InlineData(61)]   // largest generic radix
    [InlineData(67)]   // smallest Bluestein prime
    [InlineData(134)]  // 2 x 67: Bluestein
    [InlineData(360)]
    [InlineData(400)]
    [InlineData(401)]  // prime: Bluestein
    [InlineData(1000)]
    [InlineData(1024)]
    [InlineData(2187)] // 3^7
    [InlineData(3125)] // 5^5
    [InlineData(4489)] // 67^2: Bluestein
    [InlineData(9973)] // prime
    public void ForwardAndInverseMatchTheDefinition(int n)
    {
        var x = RandomVector(n, n);
        var fft = new Fft(n);
        Assert.Equal(n % 67 == 0 || n == 401 || n == 9973, fft.UsesBluestein);
        var forward = (Complex[])x.Clone();
        fft.Forward(forward);
        Assert.True(ErrorAgainstDefinition(x, forward, -1) < Tolerance);
        var inverse = (Complex[])x.Clone();
        fft.Inverse(inverse);
        Assert.True(ErrorAgainstDefinition(x, inverse, +1) < Tolerance);
    }

    [Fact]
    public void InverseOfForwardIsNTimesIdentityAndParsevalHolds()
    {
        Prop.ForAll(Gen.Choose(1, 3000).ToArbitrary(), Gen.Choose(0, 1_000_000).ToArbitrary(), (n, seed) =>
        {
            var x = RandomVector(n, seed);
            var y = (Complex[])x.Clone();
            var fft = new Fft(n);
            fft.Forward(y);
            double energyX = x.Sum(c => c.Magnitude * c.Magnitude), energyY = y.Sum(c => c.Magnitude * c.Magnitude);
            bool parseval = Math.Abs(energyY - n * energyX) < 1e-12 * n * energyX;
            fft.Inverse(y);
            for (int i = 0; i < n; i++) y[i] /= n;
            return parseval && RelativeError(y, x) < Tolerance;
        }).QuickCheckThrowOnFailure();
    }

    [Theory]
    [InlineData(12, 5)]
    [InlineData(67, 3)]
    [InlineData(20, 20)]
    public void InterleavedBatchEqualsSeparateTransforms(int n, int batch)
    {
        var fft = new Fft(n);
        var data = RandomVector(n * batch, 7);
        var expected = new Complex[n * batch];
        for (int q = 0; q < batch; q++)
        {
            var seq = new Complex[n];
            for (int t = 0; t < n; t++) seq[t] = data[q + batch * t];
            fft.Forward(seq);
            for (int t = 0; t < n; t++) expected[q + batch * t] = seq[t];
        }
        fft.Forward(data, batch, new Complex[fft.ScratchLength(batch)]);
        Assert.True(RelativeError(data, expected) < Tolerance);
    }

    [Theory]
    [InlineData(20, 20)]
    [InlineData(7, 12)]
    [InlineData(67, 5)]
    [InlineData(1, 9)]
    public void TwoDimensionalTransformMatchesTheDefinition(int rows, int cols)
    {
        var x = RandomVector(rows * cols, rows * 1000 + cols);
        var expected = new Complex[rows * cols];
        for (int kr = 0; kr < rows; kr++)
            for (int kc = 0; kc < cols; kc++)
            {
                Complex s = 0;
                for (int r = 0; r < rows; r++)
                    for (int c = 0; c < cols; c++)
                        s += x[r * cols + c] * Complex.FromPolarCoordinates(1,
                            -2 * Math.PI * ((double)(kr * r % rows) / rows + (double)(kc * c % cols) / cols));
                expected[kr * cols + kc] = s;
            }
        var fft = new Fft2D(rows, cols);
        var y = (Complex[])x.Clone();
        fft.Forward(y);
        Assert.True(RelativeError(y, expected) < Tolerance);
        fft.Inverse(y);
        for (int i = 0; i < y.Length; i++) y[i] /= rows * cols;
        Assert.True(RelativeError(y, x) < Tolerance);
    }

    [Fact]
    public void TransformsDoNotAllocateInSteadyState()
    {
        var fft = new Fft(400);
        var fft2 = new Fft2D(20, 20);
        var blue = new Fft(401);
        var x = RandomVector(401, 1);
        var scratch = new Complex[Math.Max(blue.ScratchLength(), fft2.ScratchLength)];
        fft.Forward(x, 1, scratch);
        fft2.Forward(x, scratch);
        blue.Forward(x, 1, scratch);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++)
        {
            fft.Forward(x, 1, scratch);
            fft2.Inverse(x, scratch);
            blue.Forward(x, 1, scratch);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
