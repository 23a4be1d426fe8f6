using Theory.Simulation.Data;

namespace Theory.Simulation.Tests;

public class RngTests
{
    [Fact]
    public void SameSeedAndStreamGiveTheSameSequence()
    {
        var a = new Rng(42, RngStream.Training);
        var b = new Rng(42, RngStream.Training);
        for (int i = 0; i < 1000; i++) Assert.Equal(a.NextULong(), b.NextULong());
    }

    [Fact]
    public void StreamsAndSeedsDiffer()
    {
        Assert.NotEqual(new Rng(1, RngStream.Training).NextULong(), new Rng(1, RngStream.TestSet).NextULong());
        Assert.NotEqual(new Rng(1, RngStream.Training).NextULong(), new Rng(2, RngStream.Training).NextULong());
    }

    [Fact]
    public void GaussianMomentsMatchWithinSamplingError()
    {
        var rng = new Rng(3, 0);
        const int n = 400_000;
        double s1 = 0, s2 = 0, s4 = 0;
        for (int i = 0; i < n; i++)
        {
            double x = rng.NextGaussian();
            s1 += x; s2 += x * x; s4 += x * x * x * x;
        }
        // Standard errors: mean 1/sqrt n, variance sqrt(2/n), fourth moment sqrt(96/n); 5 sigma bounds.
        Assert.InRange(s1 / n, -5 / Math.Sqrt(n), 5 / Math.Sqrt(n));
        Assert.InRange(s2 / n, 1 - 5 * Math.Sqrt(2.0 / n), 1 + 5 * Math.Sqrt(2.0 / n));
        Assert.InRange(s4 / n, 3 - 5 * Math.Sqrt(96.0 / n), 3 + 5 * Math.Sqrt(96.0 / n));
    }

    [Fact]
    public void NextIntIsUniform()
    {
        var rng = new Rng(9, 0);
        var counts = new int[7];
        const int n = 70_000;
        for (int i = 0; i < n; i++) counts[rng.NextInt(7)]++;
        // Chi-square with 6 degrees of freedom: P(chi2 > 22.5) < 1e-3.
        double chi2 = counts.Sum(c => (c - n / 7.0) * (c - n / 7.0) / (n / 7.0));
        Assert.True(chi2 < 22.5, $"chi2 = {chi2}");
    }
}
