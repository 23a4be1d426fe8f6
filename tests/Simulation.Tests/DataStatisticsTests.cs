using Theory.Interop;
using Theory.Simulation.Data;
using MathNetErf = MathNet.Numerics.SpecialFunctions;

namespace Theory.Simulation.Tests;

/// <summary>InputStatistics against direct computations, and the NLGP marginal kurtosis: quadrature against the
/// closed-form second moment, the SCIENCE.md table, and Monte Carlo.</summary>
public class DataStatisticsTests
{
    [Theory]
    [InlineData(1e-3)]
    [InlineData(0.5)]
    [InlineData(1)]
    [InlineData(10)]
    [InlineData(1e3)]
    [InlineData(1e5)]
    public void QuadratureReproducesTheClosedFormSecondMoment(double gain)
    {
        foreach (double s in new[] { 1.0, 1.001, 2.0 })
        {
            double exact = 2 / Math.PI * Math.Asin(gain * gain * s / (1 + gain * gain * s));
            Assert.True(Math.Abs(InputStatistics.NlgpErfMoment(gain, 2, s) - exact) < 1e-12 * exact, $"g = {gain}, s = {s}");
        }
    }

    [Theory]
    [InlineData(0.5, -0.62)]
    [InlineData(1, -1.20)]
    [InlineData(2, -1.62)]
    [InlineData(3, -1.76)]
    [InlineData(10, -1.93)]
    [InlineData(100, -1.99)]
    public void ExactKurtosisMatchesTheTable(double gain, double table)
    {
        // The table has two decimals: agreement to within half a unit of the last digit.
        Assert.InRange(InputStatistics.NlgpExcessKurtosis(gain), table - 0.005, table + 0.005);
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(10)]
    [InlineData(100)]
    public void MonteCarloKurtosisMatchesTheQuadrature(double gain)
    {
        // Independent pixels x = erf(g z / sqrt 2) straight from the definition, with MathNet's erf.
        var rng = new Rng(31, 0);
        const int n = 400_000;
        double s2 = 0, s4 = 0, s8 = 0, s6 = 0;
        for (int i = 0; i < n; i++)
        {
            double x = MathNetErf.Erf(gain * rng.NextGaussian() / Math.Sqrt(2)), x2 = x * x;
            s2 += x2; s4 += x2 * x2; s6 += x2 * x2 * x2; s8 += x2 * x2 * x2 * x2;
        }
        double m2 = s2 / n, m4 = s4 / n, m6 = s6 / n, m8 = s8 / n;
        double kurtosis = m4 / (m2 * m2) - 3;
        // Delta method for m4 / m2^2.
        double var = ((m8 - m4 * m4) / Math.Pow(m2, 4) - 4 * m4 * (m6 - m4 * m2) / Math.Pow(m2, 5) + 4 * m4 * m4 * (m4 - m2 * m2) / Math.Pow(m2, 6)) / n;
        double exact = InputStatistics.NlgpExcessKurtosis(gain);
        Assert.True(Math.Abs(kurtosis - exact) < 5 * Math.Sqrt(var), $"MC {kurtosis:F4} vs {exact:F4} (se {Math.Sqrt(var):G2})");
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(2)]
    [InlineData(10)]
    public void SampledImagesHaveTheExactKurtosisAndTheCloneNone(double gain)
    {
        var task = new NlgpTask(new DataSpec { Dim = 1, Size = 64, Xi0 = 1, Xi1 = 3, Gain = gain });
        foreach (var kind in new[] { InputKind.Nlgp, InputKind.Gp })
        {
            var stats = new InputStatistics(task.D, covariance: false, zeroMean: true);
            var source = task.CreateSource(kind, new Rng(7, 7));
            var x = new double[task.D];
            for (int i = 0; i < 20_000; i++)
            {
                source.NextOfClass(0, x);
                stats.Add(x);
            }
            double exact = kind == InputKind.Nlgp ? InputStatistics.NlgpExcessKurtosis(gain, task.LatentCovarianceRow(0)[0]) : 0;
            Assert.True(Math.Abs(stats.ExcessKurtosis - exact) < 5 * stats.ExcessKurtosisStandardError,
                $"{kind}: {stats.ExcessKurtosis:F4} vs {exact:F4} (se {stats.ExcessKurtosisStandardError:G2})");
            Assert.True(stats.MaxAbsMean < 0.1);
        }
    }

    [Fact]
    public void MomentsAndCovarianceEqualADirectTwoPassComputation()
    {
        // 300 images cross two block boundaries (blocks of 128); a non-zero mean checks the centring.
        const int d = 5, n = 300;
        var rng = new Rng(2, 2);
        var data = new double[n, d];
        var stats = new InputStatistics(d);
        var x = new double[d];
        for (int k = 0; k < n; k++)
        {
            for (int i = 0; i < d; i++) x[i] = data[k, i] = 0.3 * i + rng.NextGaussian() * (1 + i);
            stats.Add(x);
        }
        var mean = new double[d];
        for (int i = 0; i < d; i++)
        {
            for (int k = 0; k < n; k++) mean[i] += data[k, i];
            mean[i] /= n;
        }
        var cov = stats.Covariance();
        for (int i = 0; i < d; i++)
        {
            Assert.Equal(mean[i], stats.Mean()[i], 12);
            for (int j = 0; j < d; j++)
            {
                double c = 0;
                for (int k = 0; k < n; k++) c += (data[k, i] - mean[i]) * (data[k, j] - mean[j]);
                Assert.Equal(c / (n - 1), cov[i * d + j], 10);
            }
            Assert.Equal(cov[i * d + i], stats.Variance()[i], 10);
        }
        double m2 = 0, m4 = 0;
        for (int i = 0; i < d; i++)
            for (int k = 0; k < n; k++)
            {
                double e = data[k, i] - mean[i];
                m2 += e * e;
                m4 += e * e * e * e;
            }
        Assert.Equal(m4 * n * d / (m2 * m2) - 3, stats.ExcessKurtosis, 10);
    }

    [Fact]
    public void ZeroMeanModeTakesMomentsAboutZero()
    {
        const int d = 3, n = 200;
        var rng = new Rng(4, 4);
        var stats = new InputStatistics(d, zeroMean: true);
        var data = new double[n * d];
        for (int k = 0; k < n; k++)
        {
            for (int i = 0; i < d; i++) data[k * d + i] = 0.5 + rng.NextGaussian();
            stats.Add(data.AsSpan(k * d, d));
        }
        var cov = stats.Covariance();
        double s2 = 0, s4 = 0;
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
            {
                double c = 0;
                for (int k = 0; k < n; k++) c += data[k * d + i] * data[k * d + j];
                Assert.Equal(c / n, cov[i * d + j], 10);
            }
        foreach (var v in data) { s2 += v * v; s4 += v * v * v * v; }
        Assert.Equal(s4 * n * d / (s2 * s2) - 3, stats.ExcessKurtosis, 10);
        Assert.Equal(s2 / (n * d), stats.MeanVariance, 10);
    }

    [Fact]
    public void ExpectedCovarianceErrorAndKurtosisErrorBarMatchRepeatedExperiments()
    {
        // 200 repetitions of n = 400 clone images at D = 16: the mean measured error estimates the Wishart
        // expectation (standard error from the spread), and the spread of kurtosis estimates matches the
        // delta-method error bar (within 25%: the relative error of a standard deviation from 200 draws is 5%).
        var task = new NlgpTask(new DataSpec { Dim = 1, Size = 16, Xi0 = 1, Xi1 = 3, Gain = 2 });
        var exact = task.InputCovariance(1);
        const int reps = 200, n = 400;
        var errors = new double[reps];
        var kurtoses = new double[reps];
        double seSum = 0;
        var x = new double[task.D];
        var source = task.CreateSource(InputKind.Gp, new Rng(9, 9));
        for (int r = 0; r < reps; r++)
        {
            var stats = new InputStatistics(task.D);
            for (int i = 0; i < n; i++)
            {
                source.NextOfClass(1, x);
                stats.Add(x);
            }
            errors[r] = stats.CovarianceError(exact);
            kurtoses[r] = stats.ExcessKurtosis;
            seSum += stats.ExcessKurtosisStandardError;
        }
        double meanError = errors.Average();
        double seError = Math.Sqrt(errors.Select(e => (e - meanError) * (e - meanError)).Sum() / (reps - 1) / reps);
        double expected = InputStatistics.ExpectedCovarianceError(exact, task.D, n);
        Assert.True(Math.Abs(meanError - expected) < 5 * seError, $"{meanError:G4} vs {expected:G4} (se {seError:G2})");
        double meanK = kurtoses.Average();
        double sdK = Math.Sqrt(kurtoses.Select(k => (k - meanK) * (k - meanK)).Sum() / (reps - 1));
        Assert.InRange(seSum / reps, 0.75 * sdK, 1.25 * sdK);
    }
}
