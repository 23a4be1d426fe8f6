using Theory.Interop;
using Theory.Simulation.Data;
using Theory.Simulation.Kernels;

namespace Theory.Simulation.Analysis;

/// <summary>
/// How banded a pixel-by-pixel matrix (<c>W^T W</c>, an AGOP) is, in numbers (SCIENCE.md section 6: measure the band
/// profile, not eigenvectors, which are Fourier modes for circulant matrices). The profile itself is
/// <see cref="BandProfile"/>: the mean entry <c>M(i, i + delta)</c> over pixels i per displacement delta (on the torus;
/// in an open patch over the pairs that exist). For <c>W^T W</c> it is the mean autocorrelation of the rows of W, summed
/// over units: a localised blob of width w gives a bump of width about w, an oscillatory field alternating signs, a
/// smooth field a slow decay.
/// </summary>
/// <param name="Diagonal">Mean diagonal entry (the profile at displacement 0).</param>
/// <param name="NearestNeighbourRatio">Mean profile at distance 1 over the diagonal.</param>
/// <param name="HalfWidth">Distance at which the radial profile (the profile averaged over displacements of equal
/// length) first falls below half the diagonal, interpolated linearly between neighbouring distances: about 0.5 for a
/// diagonal-dominated matrix (i.i.d. random weights), about <c>1.67 sigma</c> for Gaussian blobs
/// <c>exp(-d^2 / 2 sigma^2)</c>; NaN if it never falls below half or the diagonal is not positive.</param>
/// <param name="RmsWidth">Root-mean-square displacement weighted by |profile| (<see cref="BandProfile.RmsWidth"/>, the
/// measure <c>theory rfm</c> reports; dominated by the noise floor for low-rank matrices).</param>
/// <param name="MassRadius">Median pixel distance <c>|i - j|</c> (on the torus) weighted by the squared entries
/// <c>M_ij^2</c>: where the matrix's Frobenius mass sits. The mass at each distance that occurs is spread evenly from
/// halfway to the previous distance to halfway to the next (a diagonal matrix gives 0.25; on a ring, distance r
/// stands for (r - 1/2, r + 1/2)). Small for a matrix made of localised blobs wherever they are (one Gaussian blob
/// <c>exp(-d^2 / 2 sigma^2)</c> in 1D: <c>0.674 sigma</c>); near the median distance of two random pixels for random or
/// smooth matrices.</param>
/// <param name="StationaryFraction">Share of <c>||M||_F^2</c> carried by its projection onto matrices that depend on
/// <c>j - i</c> only (circulant on the torus, Toeplitz in a patch): <c>sum_delta n_delta p(delta)^2 / ||M||_F^2</c>, n_delta
/// the number of pixel pairs with that displacement. 1 for a circulant matrix; small for a sum of a few rank-one
/// terms.</param>
public sealed record BandShape(double Diagonal, double NearestNeighbourRatio, double HalfWidth, double RmsWidth,
    double MassRadius, double StationaryFraction)
{
    /// <summary>The band shape of <paramref name="m"/> (D x D, row-major, D = geometry.D) and its profile.</summary>
    public static (BandShape Shape, BandProfile Profile) Of(ReadOnlySpan<double> m, ImageGeometry geometry)
    {
        var profile = BandProfile.Of(m, geometry);
        var (rs, ms) = profile.Radial();
        double half = double.NaN;
        if (ms[0] > 0)
            for (int i = 1; i < rs.Length; i++)
            {
                double prev = ms[i - 1] / ms[0], cur = ms[i] / ms[0];
                if (cur < 0.5)
                {
                    half = rs[i - 1] + (rs[i] - rs[i - 1]) * (prev - 0.5) / (prev - cur);
                    break;
                }
            }

        double total = 0;
        for (int i = 0; i < m.Length; i++) total += m[i] * m[i];
        double stationary = 0;
        int L = geometry.Size;
        bool periodic = geometry.Boundary == Boundary.Periodic;
        for (int k = 0; k < profile.Mean.Length; k++)
        {
            long pairs = periodic ? geometry.D
                : geometry.Dim == 1 ? L - Math.Abs(profile.Dx[k])
                : (long)(L - Math.Abs(profile.Dx[k])) * (L - Math.Abs(profile.Dy[k]));
            stationary += pairs * profile.Mean[k] * profile.Mean[k];
        }
        var shape = new BandShape(profile.Diagonal, profile.NearestNeighbourRatio, half, profile.RmsWidth,
            WeightedMedianDistance(m, geometry, total), total > 0 ? stationary / total : double.NaN);
        return (shape, profile);
    }

    /// <summary>Median of the pixel distance weighted by <c>M_ij^2</c>; see <see cref="MassRadius"/>.</summary>
    private static double WeightedMedianDistance(ReadOnlySpan<double> m, ImageGeometry geometry, double total)
    {
        if (!(total > 0)) return double.NaN;
        int d = geometry.D, L = geometry.Size;
        bool periodic = geometry.Boundary == Boundary.Periodic;
        int maxAxis = periodic ? L / 2 : L - 1;
        int max2 = geometry.Dim == 1 ? maxAxis * maxAxis : 2 * maxAxis * maxAxis;
        var mass = new double[max2 + 1];
        var present = new bool[max2 + 1];
        for (int i = 0; i < d; i++)
        {
            int ix = geometry.Dim == 1 ? i : i / L, iy = geometry.Dim == 1 ? 0 : i % L;
            for (int j = 0; j < d; j++)
            {
                int jx = geometry.Dim == 1 ? j : j / L, jy = geometry.Dim == 1 ? 0 : j % L;
                int ax = Math.Abs(ix - jx), ay = Math.Abs(iy - jy);
                if (periodic)
                {
                    ax = Math.Min(ax, L - ax);
                    ay = Math.Min(ay, L - ay);
                }
                int r2 = ax * ax + ay * ay;
                double x = m[i * d + j];
                mass[r2] += x * x;
                present[r2] = true;
            }
        }
        // The distances that occur, ascending; the mass at each is spread evenly over the interval from halfway to
        // the previous distance to halfway to the next (so a 1D ring's integer distance r stands for (r - 1/2, r + 1/2)),
        // and the median is read off that piecewise-uniform distribution.
        var rs = new List<double>();
        var ms = new List<double>();
        for (int r2 = 0; r2 <= max2; r2++)
            if (present[r2])
            {
                rs.Add(Math.Sqrt(r2));
                ms.Add(mass[r2]);
            }
        double halfMass = 0.5 * total, cumulative = 0;
        for (int b = 0; b < rs.Count; b++)
        {
            double lo = b == 0 ? 0.0 : 0.5 * (rs[b - 1] + rs[b]);
            double hi = b + 1 < rs.Count ? 0.5 * (rs[b] + rs[b + 1]) : rs[b] + (b > 0 ? 0.5 * (rs[b] - rs[b - 1]) : 0.5);
            if (ms[b] > 0 && cumulative + ms[b] >= halfMass) return lo + (hi - lo) * (halfMass - cumulative) / ms[b];
            cumulative += ms[b];
        }
        return rs[^1];
    }
}
