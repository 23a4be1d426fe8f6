using Theory.Interop;

namespace Theory.Simulation.Data;

/// <summary>The NLGP pixel map and its exact moments (SCIENCE.md section 1).</summary>
public static class Nlgp
{
    /// <summary><c>gamma(g) = (2/pi) asin(g^2 / (1 + g^2))</c>: the variance of <c>erf(g z / sqrt 2)</c> for z ~ N(0, 1).</summary>
    public static double Gamma(double g) => 2.0 / Math.PI * Math.Asin(g * g / (1.0 + g * g));

    /// <summary>
    /// Exact NLGP covariance entry from a latent covariance entry c (latent variances 1 + jitter on the diagonal):
    /// <c>E[erf(g u/sqrt2) erf(g v/sqrt2)] = (2/pi) asin(g^2 c / sqrt((1 + g^2 c_uu)(1 + g^2 c_vv)))</c>, divided by
    /// gamma(g). With unit latent variances this is SCIENCE.md's <c>(2/pi)/gamma asin(g^2/(1+g^2) C_ij)</c>.
    /// g = 0 is the Gaussian limit x = z, whose covariance is c.
    /// </summary>
    public static double Covariance(double g, double c, double cuu, double cvv)
    {
        if (g == 0) return c;
        double g2 = g * g;
        return 2.0 / Math.PI * Math.Asin(g2 * c / Math.Sqrt((1 + g2 * cuu) * (1 + g2 * cvv))) / Gamma(g);
    }
}

/// <summary>Pixel positions and torus (or open) distances of a 1D ring or a 2D L x L image.</summary>
public sealed class ImageGeometry
{
    public ImageGeometry(int dim, int size, Boundary boundary)
    {
        Dim = dim;
        Size = size;
        Boundary = boundary;
    }

    public ImageGeometry(DataSpec spec) : this(spec.Dim, spec.Size, spec.Boundary) { }

    public int Dim { get; }
    public int Size { get; }
    public Boundary Boundary { get; }
    public int D => Dim == 1 ? Size : Size * Size;

    /// <summary>Signed-free distance along one axis: on the ring the shorter way round.</summary>
    public double AxisDistance(int a, int b)
    {
        int d = Math.Abs(a - b);
        return Boundary == Boundary.Periodic ? Math.Min(d, Size - d) : d;
    }

    /// <summary>Squared distance between pixels i and j (row-major index in 2D: i = row * L + column).</summary>
    public double Distance2(int i, int j)
    {
        if (Dim == 1)
        {
            double d = AxisDistance(i, j);
            return d * d;
        }
        double dx = AxisDistance(i / Size, j / Size), dy = AxisDistance(i % Size, j % Size);
        return dx * dx + dy * dy;
    }
}
