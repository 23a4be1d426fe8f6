
namespace Theory.Simulation.Kernels;

/// <summary>
/// The eigen-decomposition of a symmetric positive semi-definite metric <c>M = U diag(lambda) U^T</c> and the factor
/// <c>R = U diag(sqrt lambda)</c> (dim x rank), so that <c>||u||_M^2 = u^T M u = ||R^T u||^2</c>: kernel machines
/// compute Mahalanobis distances as Euclidean distances between the features <c>R^T x</c>.
/// <para>Eigenvalues below <see cref="RelativeCutoff"/> times the largest are dropped from R (they move squared
/// distances by less than that fraction); negative eigenvalues of an AGOP are rounding and are dropped too.</para>
/// </summary>
public sealed class MetricFactor
{
    /// <summary>Eigenvalues below this fraction of the largest are left out of the factor.</summary>
    public const double RelativeCutoff = 1e-12;

    private MetricFactor(int dim, double[] eigenvalues, double[] eigenvectors, double[] r, int rank, bool identity)
    {
        Dim = dim;
        Eigenvalues = eigenvalues;
        Eigenvectors = eigenvectors;
        R = r;
        Rank = rank;
        IsIdentity = identity;
    }

    public int Dim { get; }

    /// <summary>Eigenvalues in descending order.</summary>
    public double[] Eigenvalues { get; }

    /// <summary>Eigenvectors, dim x dim row-major: column c is the eigenvector of <c>Eigenvalues[c]</c>.</summary>
    public double[] Eigenvectors { get; }

    /// <summary>The factor R (dim x <see cref="Rank"/>, row-major) with <c>M = R R^T</c>.</summary>
    public double[] R { get; }

    /// <summary>Number of eigenvalues kept in <see cref="R"/>.</summary>
    public int Rank { get; }

    /// <summary>Whether M was exactly the identity (then R is the identity, so the kernel is the plain Euclidean one).</summary>
    public bool IsIdentity { get; }

    /// <summary>Eigenvector c as a new array.</summary>
    public double[] Eigenvector(int c)
    {
        var v = new double[Dim];
        for (int i = 0; i < Dim; i++) v[i] = Eigenvectors[i * Dim + c];
        return v;
    }

    /// <summary>The identity metric of dimension <paramref name="dim"/>, row-major.</summary>
    public static double[] Identity(int dim)
    {
        var m = new double[dim * dim];
        for (int i = 0; i < dim; i++) m[i * dim + i] = 1;
        return m;
    }

    /// <summary>Decomposes the symmetric matrix <paramref name="m"/> (dim x dim, row-major; symmetrised first).</summary>
    public static MetricFactor Of(ReadOnlySpan<double> m, int dim)
    {
        if (m.Length != dim * dim) throw new ArgumentException($"metric has {m.Length} entries, expected {dim} x {dim}");
        for (int i = 0; i < m.Length; i++)
            if (!double.IsFinite(m[i])) throw new ArgumentException("metric has a non-finite entry");
        if (IsExactIdentity(m, dim))
        {
            var id = Identity(dim);
            var ones = new double[dim];
            Array.Fill(ones, 1.0);
            return new MetricFactor(dim, ones, id, (double[])id.Clone(), dim, identity: true);
        }

        var (values, vectors) = DenseLinearAlgebra.SymmetricEigen(m, dim);
        double top = Math.Max(values[0], 0);
        int rank = 0;
        while (rank < dim && values[rank] > RelativeCutoff * top) rank++;
        var r = new double[dim * Math.Max(rank, 1)];
        for (int c = 0; c < rank; c++)
        {
            double s = Math.Sqrt(values[c]);
            for (int i = 0; i < dim; i++) r[i * rank + c] = vectors[i * dim + c] * s;
        }
        if (rank == 0) throw new ArgumentException("metric is zero (no positive eigenvalue)");
        return new MetricFactor(dim, values, vectors, r, rank, identity: false);
    }

    /// <summary>R^T (rank x dim, row-major): the rows are the feature directions, scaled.</summary>
    public double[] RTransposed()
    {
        var t = new double[Rank * Dim];
        DenseLinearAlgebra.Transpose(Dim, Rank, R, Rank, t, Dim);
        return t;
    }

    private static bool IsExactIdentity(ReadOnlySpan<double> m, int dim)
    {
        for (int i = 0; i < dim; i++)
            for (int j = 0; j < dim; j++)
                if (m[i * dim + j] != (i == j ? 1.0 : 0.0)) return false;
        return true;
    }
}
