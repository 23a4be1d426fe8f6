using System.Numerics.Tensors;
using Theory.Interop;
using Theory.Simulation.Data;

namespace Theory.Simulation.Analysis;

/// <summary>Where a receptive field sits: the circular mean of its energy along each axis (pixels).</summary>
/// <param name="X">Along the ring (1D) or the columns (2D; pixel i = y L + x).</param>
/// <param name="Y">Along the rows (2D); 0 in 1D.</param>
public readonly record struct RfCentre(double X, double Y);

/// <summary>
/// Measurements of a first-layer weight vector seen as an image (SCIENCE.md section 3): inverse participation
/// ratio, receptive-field width and centre, and how uniformly a population of centres tiles the image.
/// </summary>
public static class ReceptiveField
{
    /// <summary>
    /// Inverse participation ratio <c>sum w^4 / (sum w^2)^2</c>: 1 for a single pixel, 1/D for a uniform vector,
    /// about 3/D for i.i.d. Gaussian weights (0.0075 at D = 400). NaN for the zero vector.
    /// </summary>
    public static double Ipr(ReadOnlySpan<double> w)
    {
        double s2 = 0, s4 = 0;
        for (int i = 0; i < w.Length; i++)
        {
            double q = w[i] * w[i];
            s2 += q;
            s4 += q * q;
        }
        return s2 > 0 ? s4 / (s2 * s2) : double.NaN;
    }

    /// <summary>Index of the pixel with the largest |w| (the first one on ties).</summary>
    public static int Peak(ReadOnlySpan<double> w) => TensorPrimitives.IndexOfMaxMagnitude(w);

    /// <summary>
    /// Receptive-field width in pixels: the full width at half maximum of the profile around its peak pixel (the
    /// pixel of largest |w|), the profile being <c>s w</c> with s the sign of the peak value, so that a blob of either
    /// sign has its own width and an oscillation (neighbours of opposite sign) has a width of about one pixel.
    /// 1D: walk from the peak both ways (round the ring with periodic boundaries) to the first pixel below half
    /// the peak value, locate each crossing by linear interpolation, and add the two half widths.
    /// 2D: the geometric mean <c>sqrt(FWHM_x FWHM_y)</c> of the widths along the row and the column through the
    /// peak (the diameter of the circle with the area of the half-maximum ellipse, for axis-aligned blobs).
    /// A profile that never falls below half its peak has width L (the whole axis). A Gaussian bump
    /// <c>exp(-d^2 / 2 sigma^2)</c> has width <c>2 sqrt(2 ln 2) sigma = 2.355 sigma</c>.
    /// </summary>
    public static double Width(ReadOnlySpan<double> w, ImageGeometry geometry)
    {
        int peak = Peak(w);
        int L = geometry.Size;
        bool periodic = geometry.Boundary == Boundary.Periodic;
        if (geometry.Dim == 1) return AxisWidth(w, peak, 1, L, peak, periodic);
        int row = peak / L, col = peak % L;
        double wx = AxisWidth(w.Slice(row * L, L), col, 1, L, col, periodic);
        double wy = AxisWidth(w[col..], row * L, L, L, row, periodic);
        return Math.Sqrt(wx * wy);
    }

    /// <summary>
    /// FWHM of the signed profile around position <paramref name="pos"/> of a line of <paramref name="n"/> pixels stored with
    /// <paramref name="stride"/>; <paramref name="start"/> is the peak's offset in the span.
    /// </summary>
    private static double AxisWidth(ReadOnlySpan<double> line, int start, int stride, int n, int pos, bool periodic)
    {
        double sign = Math.Sign(line[start]), peak = Math.Abs(line[start]);
        if (!(peak > 0)) return double.NaN;
        return Math.Min(n, HalfWidth(line, stride, n, pos, +1, peak, sign, periodic)
                           + HalfWidth(line, stride, n, pos, -1, peak, sign, periodic));
    }

    /// <summary>Distance from the peak to the half-maximum crossing in direction <paramref name="dir"/>.</summary>
    private static double HalfWidth(ReadOnlySpan<double> line, int stride, int n, int pos, int dir, double peak,
        double sign, bool periodic)
    {
        double half = 0.5 * peak, prev = peak;
        for (int j = 1; j < n; j++)
        {
            int p = pos + dir * j;
            if (periodic) p = ((p % n) + n) % n;
            else if (p < 0 || p >= n) return j - 0.5; // the profile runs off the edge of an open image
            double cur = sign * line[p * stride];
            if (cur < half) return j - 1 + (prev - half) / (prev - cur);
            prev = cur;
        }
        return n; // never below half: the whole axis
    }

    /// <summary>
    /// Centre of the receptive field: the circular mean (periodic) or plain mean (open) of the pixel positions
    /// along each axis, weighted by the energy <c>w_i^2</c>. In [0, L). For a bump symmetric about c it is c.
    /// </summary>
    public static RfCentre Centre(ReadOnlySpan<double> w, ImageGeometry geometry)
    {
        int L = geometry.Size;
        bool periodic = geometry.Boundary == Boundary.Periodic;
        double sx = 0, cx = 0, sy = 0, cy = 0, mx = 0, my = 0, total = 0;
        double step = 2 * Math.PI / L;
        for (int i = 0; i < w.Length; i++)
        {
            double e = w[i] * w[i];
            int x = geometry.Dim == 1 ? i : i % L, y = geometry.Dim == 1 ? 0 : i / L;
            total += e;
            if (periodic)
            {
                sx += e * Math.Sin(step * x);
                cx += e * Math.Cos(step * x);
                sy += e * Math.Sin(step * y);
                cy += e * Math.Cos(step * y);
            }
            else
            {
                mx += e * x;
                my += e * y;
            }
        }
        if (!(total > 0)) return new RfCentre(double.NaN, double.NaN);
        if (!periodic) return new RfCentre(mx / total, geometry.Dim == 1 ? 0 : my / total);
        double Angle(double s, double c)
        {
            double a = Math.Atan2(s, c) / step;
            return a < 0 ? a + L : a;
        }
        return new RfCentre(Angle(sx, cx), geometry.Dim == 1 ? 0 : Angle(sy, cy));
    }

    /// <summary>
    /// Energy concentration: the fraction of <c>sum w^2</c> within a (torus) distance of one width
    /// (<see cref="Width"/>, at least one pixel) of the peak pixel. Close to 1 for a single blob (0.999 for a
    /// noiseless Gaussian bump), small for spread-out or oscillatory weights (0.036 on average for i.i.d. Gaussian
    /// weights on a 20 x 20 torus, 0.20 on a ring of 40 pixels). A broad smooth field spanning the image also has
    /// a concentration near 1, which is why <see cref="IsLocalised"/> asks for a large IPR as well.
    /// </summary>
    public static double Concentration(ReadOnlySpan<double> w, ImageGeometry geometry)
    {
        int peak = Peak(w);
        double radius = Math.Max(1.0, Width(w, geometry));
        var p = PixelOf(peak, geometry);
        double inside = 0, total = 0;
        for (int i = 0; i < w.Length; i++)
        {
            double e = w[i] * w[i];
            total += e;
            if (Distance(PixelOf(i, geometry), p, geometry) <= radius) inside += e;
        }
        return total > 0 ? inside / total : double.NaN;
    }

    /// <summary>The concentration a localised receptive field has at least.</summary>
    public const double LocalisedConcentration = 0.5;

    /// <summary>How many times the i.i.d. Gaussian IPR <see cref="GaussianIpr"/> a localised field has at least.</summary>
    public const double LocalisedIprFactor = 2.0;

    /// <summary>
    /// A receptive field is localised (a single blob) when at least half its energy lies within one width of its
    /// peak (<see cref="Concentration"/> &gt;= 0.5, which rules out oscillatory and noisy fields) and its IPR is at
    /// least twice that of i.i.d. Gaussian weights (which rules out broad smooth fields that span the image).
    /// </summary>
    public static bool IsLocalised(double concentration, double ipr, int d) =>
        concentration >= LocalisedConcentration && ipr >= LocalisedIprFactor * GaussianIpr(d);

    /// <summary>Pixel i as a position (x along the ring or the columns, y along the rows; y = 0 in 1D).</summary>
    public static RfCentre PixelOf(int i, ImageGeometry geometry) =>
        geometry.Dim == 1 ? new RfCentre(i, 0) : new RfCentre(i % geometry.Size, i / geometry.Size);

    /// <summary>Distance between two centres (torus distance with periodic boundaries).</summary>
    public static double Distance(RfCentre a, RfCentre b, ImageGeometry geometry)
    {
        double dx = Math.Abs(a.X - b.X), dy = Math.Abs(a.Y - b.Y);
        if (geometry.Boundary == Boundary.Periodic)
        {
            dx = Math.Min(dx, geometry.Size - dx);
            dy = Math.Min(dy, geometry.Size - dy);
        }
        return Math.Sqrt(dx * dx + dy * dy);
    }

    /// <summary>
    /// Tiling of a population of n receptive-field centres: the mean distance from each centre to its nearest
    /// neighbour, divided by the spacing of n points on a regular lattice (L / n in 1D, L / sqrt n in 2D).
    /// About 1 when the centres tile the image evenly, near 0 when they pile up at one place; independent uniform
    /// positions give about 0.5. NaN for fewer than two centres.
    /// </summary>
    public static double Tiling(ReadOnlySpan<RfCentre> centres, ImageGeometry geometry)
    {
        int n = centres.Length;
        if (n < 2) return double.NaN;
        double sum = 0;
        for (int i = 0; i < n; i++)
        {
            double best = double.PositiveInfinity;
            for (int j = 0; j < n; j++)
                if (j != i) best = Math.Min(best, Distance(centres[i], centres[j], geometry));
            sum += best;
        }
        double spacing = geometry.Dim == 1 ? (double)geometry.Size / n : geometry.Size / Math.Sqrt(n);
        return sum / n / spacing;
    }

    /// <summary>IPR of i.i.d. Gaussian weights in D dimensions, <c>3 / (D + 2)</c> in expectation (about 3/D).</summary>
    public static double GaussianIpr(int d) => 3.0 / (d + 2);
}
