using System.Numerics.Tensors;
using MathNet.Numerics.LinearAlgebra;
using Theory.Interop;

namespace Theory.Simulation.Kernels;

/// <summary>
/// The dense kernels the kernel machines spend their time in: a matrix product with a transposed right factor, its
/// symmetric (lower-triangle) form, and a Cholesky factorisation. Matrices are row-major with a leading dimension
/// (the distance between the starts of two rows), so sub-blocks are addressed without copies.
/// <para>Two implementations: <see cref="ManagedLinearAlgebra"/> (cache-blocked, vectorised C#; always available,
/// bitwise independent of the thread count) and <see cref="OpenBlasLinearAlgebra"/> (P/Invoke to a system OpenBLAS,
/// used when the library loads). They agree to rounding, not bitwise.</para>
/// </summary>
public interface IDenseLinearAlgebra
{
    /// <summary>Name recorded in run manifests: <c>managed</c> or <c>openblas</c>.</summary>
    string Name { get; }

    /// <summary>Worker threads used by each call.</summary>
    int Threads { get; }

    /// <summary><c>C = alpha A B^T + beta C</c> with A m x k, B n x k, C m x n (row-major; beta = 0 ignores C's contents).</summary>
    void GemmNT(int m, int n, int k, double alpha, ReadOnlySpan<double> a, int lda, ReadOnlySpan<double> b, int ldb,
        double beta, Span<double> c, int ldc);

    /// <summary>The lower triangle (diagonal included) of <c>C = alpha A A^T + beta C</c>, A n x k, C n x n. Entries
    /// above the diagonal are neither read nor written.</summary>
    void SyrkLower(int n, int k, double alpha, ReadOnlySpan<double> a, int lda, double beta, Span<double> c, int ldc);

    /// <summary>
    /// In-place Cholesky factorisation <c>A = L L^T</c> of the symmetric matrix held in the lower triangle of A
    /// (n x n); L overwrites it. Entries above the diagonal are neither read nor written. Returns 0 on success, or
    /// the 1-based index of the first non-positive pivot (the matrix is not positive definite).
    /// </summary>
    int CholeskyLower(int n, Span<double> a, int lda);
}

/// <summary>Which implementation of <see cref="IDenseLinearAlgebra"/> to use.</summary>
public enum BlasBackend
{
    /// <summary>OpenBLAS when the shared library loads, otherwise the managed kernels.</summary>
    Auto,
    Managed,
    OpenBlas,
}

/// <summary>Chooses a backend, and the O(n^2) helpers that do not need one (triangular solves, mirroring).</summary>
public static class DenseLinearAlgebra
{
    /// <summary>
    /// A backend with <paramref name="threads"/> worker threads. <see cref="BlasBackend.OpenBlas"/> throws
    /// <see cref="SpecException"/> (option <c>--blas</c>) when the library cannot be loaded.
    /// </summary>
    public static IDenseLinearAlgebra Create(BlasBackend backend, int threads)
    {
        Check.InRange("--threads", threads, 1, 1024);
        switch (backend)
        {
            case BlasBackend.Managed:
                return new ManagedLinearAlgebra(threads);
            case BlasBackend.OpenBlas:
                return OpenBlasLinearAlgebra.TryCreate(threads) ?? throw new SpecException("--blas",
                    "openblas was asked for but no OpenBLAS shared library (libopenblas.so.0) could be loaded; " +
                    "install it (Debian: apt-get install libopenblas0-pthread) or use --blas managed");
            default:
                return OpenBlasLinearAlgebra.TryCreate(threads) ?? (IDenseLinearAlgebra)new ManagedLinearAlgebra(threads);
        }
    }

    /// <summary>
    /// Solves <c>L L^T x = b</c> in place (b becomes x) with the Cholesky factor in the lower triangle of
    /// <paramref name="l"/> (n x n, leading dimension ldl). O(n^2), allocation-free.
    /// </summary>
    public static void CholeskySolve(int n, ReadOnlySpan<double> l, int ldl, Span<double> b)
    {
        // Forward substitution L y = b along rows (contiguous dot products).
        for (int i = 0; i < n; i++)
        {
            var row = l.Slice(i * ldl, i);
            b[i] = (b[i] - TensorPrimitives.Dot(row, b[..i])) / l[i * ldl + i];
        }
        // Back substitution L^T x = y, column-oriented so that row j of L is read contiguously:
        // once x_j is known, its contribution L_jk x_j is removed from every earlier unknown k < j.
        for (int j = n - 1; j >= 0; j--)
        {
            double xj = b[j] / l[j * ldl + j];
            b[j] = xj;
            if (j > 0) TensorPrimitives.MultiplyAdd(l.Slice(j * ldl, j), -xj, b[..j], b[..j]);
        }
    }

    /// <summary>Copies the strictly lower triangle of an n x n matrix onto the upper one (cache-blocked transpose).</summary>
    public static void MirrorLowerToUpper(int n, Span<double> a, int lda) => Mirror(n, a, lda, lowerToUpper: true);

    /// <summary>Copies the strictly upper triangle of an n x n matrix onto the lower one (cache-blocked transpose).</summary>
    public static void MirrorUpperToLower(int n, Span<double> a, int lda) => Mirror(n, a, lda, lowerToUpper: false);

    private static void Mirror(int n, Span<double> a, int lda, bool lowerToUpper)
    {
        const int B = 64;
        for (int i0 = 0; i0 < n; i0 += B)
        {
            int i1 = Math.Min(n, i0 + B);
            for (int j0 = 0; j0 <= i0; j0 += B)
            {
                int j1 = Math.Min(n, j0 + B);
                for (int i = i0; i < i1; i++)
                {
                    int jEnd = Math.Min(j1, i);
                    for (int j = j0; j < jEnd; j++)
                    {
                        if (lowerToUpper) a[j * lda + i] = a[i * lda + j];
                        else a[i * lda + j] = a[j * lda + i];
                    }
                }
            }
        }
    }

    /// <summary>Eigenvalues (descending) and eigenvectors (row-major, column c for eigenvalue c) of a symmetric
    /// dim x dim matrix, symmetrised first as (m + m^T) / 2 (MathNet's dense symmetric solver; it returns ascending
    /// order, reversed here).</summary>
    public static (double[] Values, double[] Vectors) SymmetricEigen(ReadOnlySpan<double> m, int dim)
    {
        if (m.Length != dim * dim) throw new ArgumentException($"matrix has {m.Length} entries, expected {dim} x {dim}");
        var sym = new double[dim * dim];
        for (int i = 0; i < dim; i++)
            for (int j = 0; j < dim; j++) sym[i * dim + j] = 0.5 * (m[i * dim + j] + m[j * dim + i]);
        var evd = Matrix<double>.Build.Dense(dim, dim, sym).Evd(Symmetricity.Symmetric);
        var values = new double[dim];
        var vectors = new double[dim * dim];
        var ev = evd.EigenVectors;
        for (int c = 0; c < dim; c++)
        {
            int src = dim - 1 - c;
            values[c] = evd.EigenValues[src].Real;
            for (int i = 0; i < dim; i++) vectors[i * dim + c] = ev[i, src];
        }
        return (values, vectors);
    }

    /// <summary>Transposes a rows x cols row-major matrix into <paramref name="dst"/> (cols x rows), cache-blocked.</summary>
    public static void Transpose(int rows, int cols, ReadOnlySpan<double> src, int lds, Span<double> dst, int ldd)
    {
        const int B = 32;
        for (int i0 = 0; i0 < rows; i0 += B)
        {
            int i1 = Math.Min(rows, i0 + B);
            for (int j0 = 0; j0 < cols; j0 += B)
            {
                int j1 = Math.Min(cols, j0 + B);
                for (int i = i0; i < i1; i++)
                    for (int j = j0; j < j1; j++)
                        dst[j * ldd + i] = src[i * lds + j];
            }
        }
    }
}
