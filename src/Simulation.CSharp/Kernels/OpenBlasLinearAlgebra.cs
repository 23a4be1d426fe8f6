using System.Runtime.InteropServices;

namespace Theory.Simulation.Kernels;

/// <summary>
/// <see cref="IDenseLinearAlgebra"/> on a system OpenBLAS, loaded at run time (no build-time dependency):
/// <c>cblas_dgemm</c>, <c>cblas_dsyrk</c> and LAPACK's <c>dpotrf_</c>. Debian/Ubuntu: <c>apt-get install
/// libopenblas0-pthread</c>. <see cref="TryCreate"/> returns null when the library or a symbol is missing, and
/// callers fall back to <see cref="ManagedLinearAlgebra"/>.
/// <para>OpenBLAS's thread count is process-wide; the constructor sets it. Results can differ in the last bits
/// between thread counts and between machines (OpenBLAS picks kernels per CPU).</para>
/// </summary>
public sealed unsafe class OpenBlasLinearAlgebra : IDenseLinearAlgebra
{
    private const int RowMajor = 101, NoTrans = 111, Trans = 112, Lower = 122;

    private static readonly object Gate = new();
    private static bool _probed;
    private static Api? _api;

    private sealed class Api
    {
        public delegate* unmanaged<int, int, int, int, int, int, double, double*, int, double*, int, double, double*, int, void> Dgemm;
        public delegate* unmanaged<int, int, int, int, int, double, double*, int, double, double*, int, void> Dsyrk;
        // Fortran dpotrf(uplo, n, a, lda, info) plus gfortran's hidden length of the character argument.
        public delegate* unmanaged<byte*, int*, double*, int*, int*, nuint, void> Dpotrf;
        public delegate* unmanaged<int, void> SetThreads;
        public string Library = "";
    }

    private readonly Api _a;

    private OpenBlasLinearAlgebra(Api api, int threads)
    {
        _a = api;
        Threads = threads;
        if (api.SetThreads != null) api.SetThreads(threads);
    }

    /// <summary>The file name of the library that was loaded.</summary>
    public string Library => _a.Library;

    public string Name => "openblas";
    public int Threads { get; }

    /// <summary>OpenBLAS with <paramref name="threads"/> threads, or null when it cannot be loaded.</summary>
    public static OpenBlasLinearAlgebra? TryCreate(int threads)
    {
        var api = Load();
        return api is null ? null : new OpenBlasLinearAlgebra(api, threads);
    }

    /// <summary>Whether a usable OpenBLAS is present on this machine.</summary>
    public static bool IsAvailable => Load() is not null;

    private static Api? Load()
    {
        lock (Gate)
        {
            if (_probed) return _api;
            _probed = true;
            string[] names = OperatingSystem.IsMacOS()
                ? ["libopenblas.dylib", "libopenblas.0.dylib"]
                : OperatingSystem.IsWindows() ? ["libopenblas.dll", "openblas.dll"] : ["libopenblas.so.0", "libopenblas.so"];
            foreach (var name in names)
            {
                if (!NativeLibrary.TryLoad(name, out var lib)) continue;
                if (NativeLibrary.TryGetExport(lib, "cblas_dgemm", out var gemm)
                    && NativeLibrary.TryGetExport(lib, "cblas_dsyrk", out var syrk)
                    && NativeLibrary.TryGetExport(lib, "dpotrf_", out var potrf))
                {
                    var api = new Api
                    {
                        Dgemm = (delegate* unmanaged<int, int, int, int, int, int, double, double*, int, double*, int, double, double*, int, void>)gemm,
                        Dsyrk = (delegate* unmanaged<int, int, int, int, int, double, double*, int, double, double*, int, void>)syrk,
                        Dpotrf = (delegate* unmanaged<byte*, int*, double*, int*, int*, nuint, void>)potrf,
                        Library = name,
                    };
                    if (NativeLibrary.TryGetExport(lib, "openblas_set_num_threads", out var set))
                        api.SetThreads = (delegate* unmanaged<int, void>)set;
                    _api = api;
                    return api;
                }
                NativeLibrary.Free(lib);
            }
            return null;
        }
    }

    public void GemmNT(int m, int n, int k, double alpha, ReadOnlySpan<double> a, int lda, ReadOnlySpan<double> b, int ldb,
        double beta, Span<double> c, int ldc)
    {
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            // BLAS leaves beta C; do the same without calling into the library with empty operands.
            for (int i = 0; i < m; i++)
            {
                var row = c.Slice(i * ldc, n);
                if (beta == 0) row.Clear();
                else if (beta != 1) System.Numerics.Tensors.TensorPrimitives.Multiply(row, beta, row);
            }
            return;
        }
        fixed (double* pa = a, pb = b, pc = c)
            _a.Dgemm(RowMajor, NoTrans, Trans, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
    }

    public void SyrkLower(int n, int k, double alpha, ReadOnlySpan<double> a, int lda, double beta, Span<double> c, int ldc)
    {
        if (n == 0) return;
        fixed (double* pa = a, pc = c)
        {
            // cblas requires lda >= max(1, k) even when k = 0.
            _a.Dsyrk(RowMajor, Lower, NoTrans, n, k, alpha, pa, Math.Max(lda, 1), beta, pc, ldc);
        }
    }

    public int CholeskyLower(int n, Span<double> a, int lda)
    {
        if (n == 0) return 0;
        // A row-major lower triangle is the upper triangle of the column-major matrix LAPACK sees, and
        // A = U^T U there is A = L L^T here with L = U^T.
        byte uplo = (byte)'U';
        int nn = n, ld = lda, info = 0;
        fixed (double* pa = a) _a.Dpotrf(&uplo, &nn, pa, &ld, &info, 1);
        if (info < 0) throw new InvalidOperationException($"dpotrf rejected argument {-info}");
        return info;
    }
}
