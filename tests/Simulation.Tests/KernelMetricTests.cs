using Theory.Interop;
using Theory.Simulation.Data;
using Theory.Simulation.Kernels;

namespace Theory.Simulation.Tests;

/// <summary>The metric's factor, band profile and summaries on matrices whose answers are known by construction.</summary>
public class KernelMetricTests
{
    [Fact]
    public void FactorReproducesThePsdMetric()
    {
        int d = 12;
        var b = KernelLinearAlgebraTests.Random(d * 5, 1); // rank 5
        var m = new double[d * d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
                for (int p = 0; p < 5; p++) m[i * d + j] += b[i * 5 + p] * b[j * 5 + p];
        var f = MetricFactor.Of(m, d);
        Assert.Equal(5, f.Rank);
        Assert.False(f.IsIdentity);
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
            {
                double s = 0;
                for (int c = 0; c < f.Rank; c++) s += f.R[i * f.Rank + c] * f.R[j * f.Rank + c];
                Assert.True(Math.Abs(s - m[i * d + j]) < 1e-10, $"(R R^T)[{i},{j}]");
            }
        for (int c = 1; c < d; c++) Assert.True(f.Eigenvalues[c] <= f.Eigenvalues[c - 1]);
        Assert.True(MetricFactor.Of(MetricFactor.Identity(7), 7).IsIdentity);
    }

    /// <summary>A symmetric circulant matrix on the ring of L pixels with first row <paramref name="row"/>.</summary>
    private static double[] Circulant(double[] row)
    {
        int l = row.Length;
        var m = new double[l * l];
        for (int i = 0; i < l; i++)
            for (int j = 0; j < l; j++) m[i * l + j] = row[((j - i) % l + l) % l];
        return m;
    }

    [Fact]
    public void BandProfileOfACirculantMatrixIsItsRow()
    {
        int l = 10;
        var row = new double[l];
        row[0] = 2; row[1] = row[l - 1] = 1; row[2] = row[l - 2] = 0.25;
        var band = BandProfile.Of(Circulant(row), new ImageGeometry(1, l, Boundary.Periodic));
        Assert.Equal(l, band.Mean.Length);
        for (int k = 0; k < l; k++)
        {
            int signed = k > l / 2 ? k - l : k;
            Assert.Equal(signed, band.Dx[k]);
            Assert.Equal(row[k], band.Mean[k], 12);
        }
        Assert.Equal(2, band.Diagonal);
        Assert.Equal(0.5, band.NearestNeighbourRatio, 12);
        // RMS width: sqrt((1*1*2 + 4*0.25*2) / (2 + 2 + 0.5)) = sqrt(4 / 4.5).
        Assert.Equal(Math.Sqrt(4 / 4.5), band.RmsWidth, 12);
    }

    [Fact]
    public void SpectrumOfACirculantMatrixIsItsEigenvalues()
    {
        // 2D torus, L = 6: a symmetric block-circulant matrix from an even kernel of the displacement; the profile's
        // spectrum must list exactly the matrix's eigenvalues (compared as sorted lists).
        var g = new ImageGeometry(2, 6, Boundary.Periodic);
        int d = g.D;
        var m = new double[d * d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++) m[i * d + j] = Math.Exp(-g.Distance2(i, j) / 2.0) * (1 + 0.3 * Math.Cos(Math.Sqrt(g.Distance2(i, j))));
        var spectrum = BandProfile.Of(m, g).Spectrum()!;
        var fromProfile = spectrum.Power.OrderBy(x => x).ToArray();
        var eigen = MetricFactor.Of(m, d).Eigenvalues.OrderBy(x => x).ToArray();
        for (int k = 0; k < d; k++) Assert.True(Math.Abs(fromProfile[k] - eigen[k]) < 1e-10, $"eigenvalue {k}: {fromProfile[k]} vs {eigen[k]}");
        Assert.Null(BandProfile.Of(MetricFactor.Identity(9), new ImageGeometry(2, 3, Boundary.Open)).Spectrum());
    }

    [Fact]
    public void MeanWavenumberIsLowForASmoothMetricAndHighForARoughOne()
    {
        int l = 16;
        var smooth = new double[l];
        var rough = new double[l];
        for (int k = 0; k < l; k++)
        {
            int s = k > l / 2 ? k - l : k;
            smooth[k] = Math.Exp(-s * s / 8.0);          // wide positive band: power at low |k|
            rough[k] = Math.Exp(-s * s / 8.0) * (s % 2 == 0 ? 1 : -1); // same band, alternating: power near |k| = L/2
        }
        var g = new ImageGeometry(1, l, Boundary.Periodic);
        double low = BandProfile.Of(Circulant(smooth), g).MeanWavenumber();
        double high = BandProfile.Of(Circulant(rough), g).MeanWavenumber();
        Assert.True(low < 2 && high > 6, $"mean |k|: smooth {low}, rough {high}");
    }

    [Fact]
    public void BandWidthIsZeroForTheIdentityAndTheRmsDistanceForAUniformMatrix()
    {
        var g = new ImageGeometry(2, 6, Boundary.Periodic);
        Assert.Equal(0, BandProfile.Of(MetricFactor.Identity(36), g).RmsWidth);
        var ones = new double[36 * 36];
        Array.Fill(ones, 1.0);
        double sum = 0;
        for (int j = 0; j < 36; j++) sum += g.Distance2(0, j);
        Assert.Equal(Math.Sqrt(sum / 36), BandProfile.Of(ones, g).RmsWidth, 12);
    }

    [Fact]
    public void BandProfileOnAnOpenPatchAveragesTheExistingPairs()
    {
        // 3 x 3 open patch: displacement (2, 2) has exactly one pair, (0, 0) nine.
        var g = new ImageGeometry(2, 3, Boundary.Open);
        var m = new double[81];
        for (int i = 0; i < 9; i++)
            for (int j = 0; j < 9; j++) m[i * 9 + j] = i * 9 + j;
        var band = BandProfile.Of(m, g);
        Assert.Equal(25, band.Mean.Length);
        int k22 = -1;
        for (int k = 0; k < 25; k++)
            if (band.Dx[k] == 2 && band.Dy[k] == 2) k22 = k;
        Assert.Equal(m[0 * 9 + 8], band.Mean[k22]); // pixel 0 -> pixel 8 is the only (2, 2) pair
        double diag = 0;
        for (int i = 0; i < 9; i++) diag += m[i * 9 + i];
        Assert.Equal(diag / 9, band.Diagonal, 12);
    }

    [Fact]
    public void IprIsOneForAPixelAndOneOverDForAFlatVector()
    {
        Assert.Equal(1.0, MetricSummary.Ipr([0, 0, 3, 0]));
        Assert.Equal(0.25, MetricSummary.Ipr([1, -1, 1, 1]), 15);
    }

    [Fact]
    public void SummaryReportsNoEigenvectorIprForADegenerateTopEigenvalue()
    {
        var g = new ImageGeometry(1, 8, Boundary.Periodic);
        var id = MetricFactor.Identity(8);
        var s = MetricSummary.Of(id, MetricFactor.Of(id, 8), g);
        Assert.True(double.IsNaN(s.TopEigenvectorIpr));
        Assert.Equal(8, s.Trace);
        Assert.Equal(8, s.EffectiveRank, 12);
        Assert.Equal(1.0 / 8, s.TopEigenvalueShare, 12);
    }

    [Fact]
    public void NormalisationDividesByTheLargestEntry()
    {
        var m = RecursiveFeatureMachine.Normalise([4, -8, -8, 2], AgopNormalisation.Max);
        Assert.Equal(new[] { 0.5, -1, -1, 0.25 }, m);
        Assert.Throws<RunFailedException>(() => RecursiveFeatureMachine.Normalise([0, 0, 0, 0], AgopNormalisation.Max));
    }
}
