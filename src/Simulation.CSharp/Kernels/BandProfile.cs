using Theory.Interop;
using Theory.Simulation.Data;

namespace Theory.Simulation.Kernels;

/// <summary>
/// The band profile of a matrix indexed by pixels (SCIENCE.md section 6): the mean entry <c>M(i, i + delta)</c> over
/// all pixels i for each displacement delta (on the torus for periodic images; within the patch for an open q x q
/// patch, averaging over the pairs that exist). A banded, near-circulant metric (what localised receptive fields
/// give) has a profile concentrated at small displacements; its eigenvectors are Fourier modes and say little, which
/// is why the profile is measured instead.
/// </summary>
public sealed class BandProfile
{
    private BandProfile(ImageGeometry geometry, int[] dx, int[] dy, double[] distance, double[] mean)
    {
        Geometry = geometry;
        Dx = dx;
        Dy = dy;
        Distance = distance;
        Mean = mean;
        int zero = Array.FindIndex(distance, d => d == 0);
        Diagonal = mean[zero];
        double num = 0, den = 0, nn = 0;
        int nnCount = 0;
        for (int k = 0; k < mean.Length; k++)
        {
            double w = Math.Abs(mean[k]);
            num += distance[k] * distance[k] * w;
            den += w;
            if (distance[k] == 1)
            {
                nn += mean[k];
                nnCount++;
            }
        }
        RmsWidth = den > 0 ? Math.Sqrt(num / den) : double.NaN;
        NearestNeighbourRatio = nnCount > 0 && Diagonal != 0 ? nn / nnCount / Diagonal : double.NaN;
    }

    /// <summary>The index space: the image (torus) or a patch (open square).</summary>
    public ImageGeometry Geometry { get; }

    /// <summary>Displacement along the first axis (rows in 2D, the ring in 1D), signed.</summary>
    public int[] Dx { get; }

    /// <summary>Displacement along the second axis (columns in 2D; 0 in 1D), signed.</summary>
    public int[] Dy { get; }

    /// <summary>Length of each displacement (on the torus: the shorter way round).</summary>
    public double[] Distance { get; }

    /// <summary>Mean entry <c>M(i, i + delta)</c> per displacement.</summary>
    public double[] Mean { get; }

    /// <summary>The mean diagonal entry (displacement 0).</summary>
    public double Diagonal { get; }

    /// <summary>
    /// Band width: the root-mean-square displacement length weighted by |profile|,
    /// <c>sqrt(sum_delta |delta|^2 |p(delta)| / sum_delta |p(delta)|)</c>. 0 for a diagonal matrix; for a matrix with
    /// all entries equal, the root-mean-square distance between two pixels.
    /// </summary>
    public double RmsWidth { get; }

    /// <summary>Mean profile at distance 1 over the diagonal: the correlation of neighbouring pixels in M.</summary>
    public double NearestNeighbourRatio { get; }

    /// <summary>The profile of <paramref name="m"/> (D x D row-major, D = geometry.D).</summary>
    public static BandProfile Of(ReadOnlySpan<double> m, ImageGeometry geometry)
    {
        int d = geometry.D, L = geometry.Size;
        if (m.Length != d * d) throw new ArgumentException($"matrix has {m.Length} entries, geometry needs {d} x {d}");
        bool periodic = geometry.Boundary == Boundary.Periodic;
        // Displacements per axis: periodic 0..L-1 (reported signed in (-L/2, L/2]); open -(L-1)..L-1.
        int span = periodic ? L : 2 * L - 1;
        int axes = geometry.Dim;
        int count = axes == 1 ? span : span * span;
        var sum = new double[count];
        var pairs = new long[count];
        for (int i = 0; i < d; i++)
        {
            int ix = axes == 1 ? i : i / L, iy = axes == 1 ? 0 : i % L;
            for (int j = 0; j < d; j++)
            {
                int jx = axes == 1 ? j : j / L, jy = axes == 1 ? 0 : j % L;
                int kx = periodic ? ((jx - ix) % L + L) % L : jx - ix + L - 1;
                int ky = periodic ? ((jy - iy) % L + L) % L : jy - iy + L - 1;
                int k = axes == 1 ? kx : kx * span + ky;
                sum[k] += m[i * d + j];
                pairs[k]++;
            }
        }
        var dxs = new int[count];
        var dys = new int[count];
        var dist = new double[count];
        var mean = new double[count];
        for (int k = 0; k < count; k++)
        {
            int kx = axes == 1 ? k : k / span, ky = axes == 1 ? 0 : k % span;
            int sx = periodic ? Signed(kx, L) : kx - (L - 1);
            int sy = axes == 1 ? 0 : periodic ? Signed(ky, L) : ky - (L - 1);
            dxs[k] = sx;
            dys[k] = sy;
            dist[k] = Math.Sqrt((double)sx * sx + (double)sy * sy);
            mean[k] = pairs[k] > 0 ? sum[k] / pairs[k] : 0.0;
        }
        return new BandProfile(geometry, dxs, dys, dist, mean);
    }

    /// <summary>The profile averaged over displacements of equal length: (distances ascending, mean entries).</summary>
    public (double[] Distance, double[] Mean) Radial()
    {
        var groups = new SortedDictionary<double, (double Sum, int Count)>();
        for (int k = 0; k < Mean.Length; k++)
        {
            double r = Math.Round(Distance[k], 9);
            groups.TryGetValue(r, out var g);
            groups[r] = (g.Sum + Mean[k], g.Count + 1);
        }
        var rs = new double[groups.Count];
        var ms = new double[groups.Count];
        int i = 0;
        foreach (var (r, g) in groups)
        {
            rs[i] = r;
            ms[i++] = g.Sum / g.Count;
        }
        return (rs, ms);
    }

    /// <summary>
    /// For a periodic geometry, the eigenvalues of the circulant matrix whose rows are this profile: the metric's
    /// power per wave vector, <c>lambda(k) = sum_delta p(delta) cos(2 pi k . delta / L)</c> (real because the
    /// profile of a symmetric matrix is even). Wave vectors k have signed components in (-L/2, L/2] (Kx, Ky; Ky = 0
    /// in 1D) and length |k| in units of 2 pi / L. Null for open geometries.
    /// </summary>
    public MetricSpectrum? Spectrum()
    {
        if (Geometry.Boundary != Boundary.Periodic) return null;
        int L = Geometry.Size, count = Mean.Length;
        var kx = new int[count];
        var ky = new int[count];
        var k = new double[count];
        var power = new double[count];
        for (int f = 0; f < count; f++)
        {
            int fx = Geometry.Dim == 1 ? f : f / L, fy = Geometry.Dim == 1 ? 0 : f % L;
            kx[f] = Signed(fx, L);
            ky[f] = Geometry.Dim == 1 ? 0 : Signed(fy, L);
            k[f] = Math.Sqrt((double)kx[f] * kx[f] + (double)ky[f] * ky[f]);
            double s = 0;
            for (int j = 0; j < count; j++)
                s += Mean[j] * Math.Cos(2 * Math.PI * ((long)fx * Dx[j] + (long)fy * Dy[j]) / L);
            power[f] = s;
        }
        return new MetricSpectrum(kx, ky, k, power);
    }

    /// <summary>Power-weighted mean wavenumber of <see cref="Spectrum"/> (negative powers count as 0), in units of
    /// 2 pi / L: low for a metric that keeps smooth modes, high for one that keeps rough ones. NaN for open geometries.</summary>
    public double MeanWavenumber()
    {
        if (Spectrum() is not { } s) return double.NaN;
        double num = 0, den = 0;
        for (int f = 0; f < s.Power.Length; f++)
        {
            double p = Math.Max(s.Power[f], 0);
            num += p * s.Wavenumber[f];
            den += p;
        }
        return den > 0 ? num / den : double.NaN;
    }

    private static int Signed(int k, int l) => k > l / 2 ? k - l : k;
}

/// <summary>Power of a circulant (or circulant part of a) metric per wave vector; see <see cref="BandProfile.Spectrum"/>.</summary>
public sealed record MetricSpectrum(int[] Kx, int[] Ky, double[] Wavenumber, double[] Power);

/// <summary>Scalar summaries of a learned metric M, written per RFM iteration.</summary>
public sealed record MetricSummary(
    double Trace,
    double TopEigenvalueShare,
    double TopEigenvectorIpr,
    double EffectiveRank,
    double BandRmsWidth,
    double NearestNeighbourRatio,
    double MeanWavenumber)
{
    /// <summary>
    /// Summarises <paramref name="m"/> with its eigen-decomposition: trace; share of the top eigenvalue in the trace;
    /// inverse participation ratio <c>sum v^4 / (sum v^2)^2</c> of the top eigenvector (NaN when the top eigenvalue is
    /// degenerate to rounding, e.g. the identity, where the eigenvector is arbitrary); effective rank
    /// <c>(sum lambda)^2 / sum lambda^2</c>; the band profile's width and neighbour ratio; and (periodic geometries)
    /// the power-weighted mean wavenumber of the profile's spectrum.
    /// </summary>
    public static MetricSummary Of(ReadOnlySpan<double> m, MetricFactor factor, ImageGeometry geometry)
    {
        int d = factor.Dim;
        double trace = 0;
        for (int i = 0; i < d; i++) trace += m[i * d + i];
        double s1 = 0, s2 = 0;
        foreach (var l in factor.Eigenvalues)
        {
            double lp = Math.Max(l, 0);
            s1 += lp;
            s2 += lp * lp;
        }
        var ev = factor.Eigenvalues;
        bool degenerate = d > 1 && ev[0] - ev[1] <= 1e-12 * Math.Abs(ev[0]);
        double ipr = degenerate ? double.NaN : Ipr(factor.Eigenvector(0));
        var band = BandProfile.Of(m, geometry);
        return new MetricSummary(trace, s1 > 0 ? Math.Max(ev[0], 0) / s1 : double.NaN, ipr, s2 > 0 ? s1 * s1 / s2 : double.NaN,
            band.RmsWidth, band.NearestNeighbourRatio, band.MeanWavenumber());
    }

    /// <summary>Inverse participation ratio <c>sum v^4 / (sum v^2)^2</c> (SCIENCE.md section 3): 1 for one pixel, ~3/D for noise.</summary>
    public static double Ipr(ReadOnlySpan<double> v)
    {
        double s2 = 0, s4 = 0;
        foreach (var x in v)
        {
            double x2 = x * x;
            s2 += x2;
            s4 += x2 * x2;
        }
        return s2 > 0 ? s4 / (s2 * s2) : double.NaN;
    }
}
