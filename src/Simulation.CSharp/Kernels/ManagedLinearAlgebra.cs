using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Theory.Simulation.Kernels;

/// <summary>
/// Dense kernels in C#: a BLIS-style cache-blocked matrix product (operands packed into micro-panels, an
/// 8 x 24 register-blocked AVX-512 micro-kernel, or 6 x 8 with 256-bit vectors), a lower-triangle symmetric
/// rank-k update on top of it, and a recursive Cholesky factorisation whose work is almost all in those two.
/// <para>Threads split the rows of the result into fixed blocks; every entry is accumulated in the same order
/// whatever the thread count, so results are bitwise identical for 1 or N threads.</para>
/// </summary>
public sealed unsafe class ManagedLinearAlgebra : IDenseLinearAlgebra
{
    // Micro-kernel geometry, fixed at start-up from the hardware: MR rows of A times NR rows of B per register tile.
    private static readonly bool Wide = Vector512.IsHardwareAccelerated;
    private static readonly int MR = Wide ? 8 : 6;
    private static readonly int NR = Wide ? 24 : 8;
    // Cache blocking: a KC-deep slice of MC rows of A stays in L2, an NR x KC micro-panel of B in L1.
    private const int KC = 256;
    private const int MC = 96;   // multiple of both MR choices
    private const int NC = 3072; // multiple of both NR choices
    // Below these sizes the recursive algorithms switch to their unblocked forms.
    private const int CholeskyLeaf = 64;
    private const int TrsmLeaf = 32;

    public ManagedLinearAlgebra(int threads = 1)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads));
        Threads = threads;
    }

    public string Name => "managed";
    public int Threads { get; }

    /// <summary>Per-thread packing buffers (pinned, reused across calls).</summary>
    private sealed class Workspace
    {
        public readonly double[] PackA = GC.AllocateUninitializedArray<double>(MC * KC, pinned: true);
        public readonly double[] PackB = GC.AllocateUninitializedArray<double>(NC * KC, pinned: true);
        public readonly double[] Tile = GC.AllocateUninitializedArray<double>(8 * 24, pinned: true);
    }

    [ThreadStatic] private static Workspace? _workspace;
    private static Workspace Local => _workspace ??= new Workspace();

    public void GemmNT(int m, int n, int k, double alpha, ReadOnlySpan<double> a, int lda, ReadOnlySpan<double> b, int ldb,
        double beta, Span<double> c, int ldc)
    {
        CheckOperand(nameof(a), a.Length, m, k, lda);
        CheckOperand(nameof(b), b.Length, n, k, ldb);
        CheckOperand(nameof(c), c.Length, m, n, ldc);
        if (m == 0 || n == 0) return;
        fixed (double* pa = a, pb = b, pc = c)
        {
            nint ia = (nint)pa, ib = (nint)pb, ic = (nint)pc;
            ForRowBlocks(m, (r0, r1) =>
            {
                double* cc = (double*)ic + (long)r0 * ldc;
                ScaleRows(r1 - r0, n, beta, cc, ldc, lowerFrom: -1);
                if (k > 0 && alpha != 0)
                    GemmSerial(r1 - r0, n, k, alpha, (double*)ia + (long)r0 * lda, lda, (double*)ib, ldb, cc, ldc, -1, Local);
            });
        }
    }

    public void SyrkLower(int n, int k, double alpha, ReadOnlySpan<double> a, int lda, double beta, Span<double> c, int ldc)
    {
        CheckOperand(nameof(a), a.Length, n, k, lda);
        CheckOperand(nameof(c), c.Length, n, n, ldc);
        if (n == 0) return;
        fixed (double* pa = a, pc = c)
        {
            nint ia = (nint)pa, ic = (nint)pc;
            ForRowBlocks(n, (r0, r1) =>
            {
                // Rows r0..r1 of the lower triangle need columns 0..r1 only; the diagonal offset r0 tells the
                // product which tiles lie above the diagonal (skipped) or straddle it (masked).
                double* cc = (double*)ic + (long)r0 * ldc;
                ScaleRows(r1 - r0, r1, beta, cc, ldc, lowerFrom: r0);
                if (k > 0 && alpha != 0)
                    GemmSerial(r1 - r0, r1, k, alpha, (double*)ia + (long)r0 * lda, lda, (double*)ia, lda, cc, ldc, r0, Local);
            });
        }
    }

    public int CholeskyLower(int n, Span<double> a, int lda)
    {
        CheckOperand(nameof(a), a.Length, n, n, lda);
        fixed (double* pa = a) return Cholesky(n, pa, lda);
    }

    // ---- Cholesky: recursive, right-looking. [A11 .; A21 A22] -> L11 = chol(A11), L21 = A21 L11^-T,
    //      A22 -= L21 L21^T, L22 = chol(A22). All but O(n^2 leaf) of the n^3/3 work is in SyrkLower and GemmNT.

    private int Cholesky(int n, double* a, int lda)
    {
        if (n <= CholeskyLeaf) return CholeskyUnblocked(n, a, lda);
        int n1 = Math.Max(CholeskyLeaf / 2, n / 2 / 8 * 8);
        int n2 = n - n1;
        int info = Cholesky(n1, a, lda);
        if (info != 0) return info;
        double* a21 = a + (long)n1 * lda, a22 = a21 + n1;
        TrsmRightLowerTransposed(n2, n1, a, lda, a21, lda);
        SyrkLower(n2, n1, -1.0, new ReadOnlySpan<double>(a21, Extent(n2, n1, lda)), lda, 1.0,
            new Span<double>(a22, Extent(n2, n2, lda)), lda);
        info = Cholesky(n2, a22, lda);
        return info == 0 ? 0 : info + n1;
    }

    private static int CholeskyUnblocked(int n, double* a, int lda)
    {
        for (int j = 0; j < n; j++)
        {
            var rowJ = new ReadOnlySpan<double>(a + (long)j * lda, j);
            double d = a[(long)j * lda + j] - TensorPrimitives.Dot(rowJ, rowJ);
            if (!(d > 0)) return j + 1; // also catches NaN
            double ljj = Math.Sqrt(d);
            a[(long)j * lda + j] = ljj;
            for (int i = j + 1; i < n; i++)
            {
                double* ai = a + (long)i * lda;
                ai[j] = (ai[j] - TensorPrimitives.Dot(new ReadOnlySpan<double>(ai, j), rowJ)) / ljj;
            }
        }
        return 0;
    }

    /// <summary>X L^T = B for X (m x k), L lower k x k: B is overwritten by X. Recursive on L's diagonal blocks.</summary>
    private void TrsmRightLowerTransposed(int m, int k, double* l, int ldl, double* b, int ldb)
    {
        if (k <= TrsmLeaf)
        {
            // Row by row: x_j = (b_j - sum_{q<j} x_q L_jq) / L_jj.
            for (int i = 0; i < m; i++)
            {
                double* bi = b + (long)i * ldb;
                for (int j = 0; j < k; j++)
                {
                    double* lj = l + (long)j * ldl;
                    bi[j] = (bi[j] - TensorPrimitives.Dot(new ReadOnlySpan<double>(bi, j), new ReadOnlySpan<double>(lj, j))) / lj[j];
                }
            }
            return;
        }
        int k1 = k / 2 / 8 * 8, k2 = k - k1;
        // [X1 X2] [L11^T L21^T; 0 L22^T] = [B1 B2]: X1 = B1 L11^-T, then X2 = (B2 - X1 L21^T) L22^-T.
        TrsmRightLowerTransposed(m, k1, l, ldl, b, ldb);
        double* l21 = l + (long)k1 * ldl;
        GemmNT(m, k2, k1, -1.0, new ReadOnlySpan<double>(b, Extent(m, k1, ldb)), ldb,
            new ReadOnlySpan<double>(l21, Extent(k2, k1, ldl)), ldl, 1.0, new Span<double>(b + k1, Extent(m, k2, ldb)), ldb);
        TrsmRightLowerTransposed(m, k2, l21 + k1, ldl, b + k1, ldb);
    }

    // ---- The blocked product. C (m x n) += alpha A B^T on the rows given; lowerFrom >= 0 restricts it to entries
    //      (i, j) with j <= i + lowerFrom (the lower triangle of a block whose first row is row lowerFrom).

    private static void GemmSerial(int m, int n, int k, double alpha, double* a, int lda, double* b, int ldb,
        double* c, int ldc, int lowerFrom, Workspace ws)
    {
        int mr = MR, nr = NR;
        bool lower = lowerFrom >= 0;
        fixed (double* packA = ws.PackA, packB = ws.PackB, tile = ws.Tile)
        {
            for (int jc = 0; jc < n; jc += NC)
            {
                int nc = Math.Min(NC, n - jc);
                // In the lower-triangle case columns beyond the last row's diagonal are never needed.
                if (lower && jc > m - 1 + lowerFrom) break;
                for (int pc = 0; pc < k; pc += KC)
                {
                    int kc = Math.Min(KC, k - pc);
                    PackPanels(b + (long)jc * ldb + pc, ldb, nc, kc, packB, nr);
                    for (int ic = 0; ic < m; ic += MC)
                    {
                        int mc = Math.Min(MC, m - ic);
                        if (lower && jc > ic + mc - 1 + lowerFrom) continue;
                        PackPanels(a + (long)ic * lda + pc, lda, mc, kc, packA, mr);
                        for (int jr = 0; jr < nc; jr += nr)
                        {
                            int cols = Math.Min(nr, nc - jr);
                            int j0 = jc + jr;
                            double* bp = packB + (long)jr * kc;
                            for (int ir = 0; ir < mc; ir += mr)
                            {
                                int rows = Math.Min(mr, mc - ir);
                                int i0 = ic + ir;
                                // Tile rows i0..i0+rows-1, columns j0..j0+cols-1.
                                if (lower && j0 > i0 + rows - 1 + lowerFrom) continue; // wholly above the diagonal
                                bool straddles = lower && j0 + cols - 1 > i0 + lowerFrom;
                                double* ap = packA + (long)ir * kc;
                                double* cp = c + (long)i0 * ldc + j0;
                                if (rows == mr && cols == nr && !straddles)
                                {
                                    MicroKernel(kc, ap, bp, cp, ldc, alpha);
                                    continue;
                                }
                                // Edge or diagonal tile: copy the wanted entries of C into a full tile, update
                                // it, copy them back. Each entry sees exactly the arithmetic of the direct path
                                // (one fused multiply-add into C), so the result does not depend on where tile
                                // boundaries fall, hence not on the thread partition.
                                new Span<double>(tile, mr * nr).Clear();
                                for (int i = 0; i < rows; i++)
                                {
                                    int jEnd = lower ? Math.Min(cols, i0 + i + lowerFrom - j0 + 1) : cols;
                                    for (int j = 0; j < jEnd; j++) tile[i * nr + j] = cp[(long)i * ldc + j];
                                }
                                MicroKernel(kc, ap, bp, tile, nr, alpha);
                                for (int i = 0; i < rows; i++)
                                {
                                    int jEnd = lower ? Math.Min(cols, i0 + i + lowerFrom - j0 + 1) : cols;
                                    for (int j = 0; j < jEnd; j++) cp[(long)i * ldc + j] = tile[i * nr + j];
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>Packs <paramref name="rows"/> rows (kc entries each) into panels of <paramref name="width"/> rows, each
    /// panel laid out k-major (entry (p, i) at p * width + i); missing rows of the last panel are zero.</summary>
    private static void PackPanels(double* src, int lds, int rows, int kc, double* dst, int width)
    {
        for (int r0 = 0; r0 < rows; r0 += width)
        {
            int w = Math.Min(width, rows - r0);
            double* panel = dst + (long)r0 * kc;
            for (int i = 0; i < w; i++)
            {
                double* s = src + (long)(r0 + i) * lds;
                double* d = panel + i;
                for (int p = 0; p < kc; p++) d[p * width] = s[p];
            }
            for (int i = w; i < width; i++)
                for (int p = 0; p < kc; p++) panel[p * width + i] = 0.0;
        }
    }

    private static void ScaleRows(int rows, int cols, double beta, double* c, int ldc, int lowerFrom)
    {
        if (beta == 1.0) return;
        for (int i = 0; i < rows; i++)
        {
            int len = lowerFrom >= 0 ? Math.Min(cols, i + lowerFrom + 1) : cols;
            var row = new Span<double>(c + (long)i * ldc, len);
            if (beta == 0.0) row.Clear();
            else TensorPrimitives.Multiply(row, beta, row);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MicroKernel(int kc, double* a, double* b, double* c, int ldc, double alpha)
    {
        if (Wide) Kernel8x24(kc, a, b, c, ldc, alpha);
        else Kernel6x8(kc, a, b, c, ldc, alpha);
    }

    /// <summary>C (8 x 24) += alpha sum_p a_p b_p^T: 24 accumulators of 8 doubles, 3 loads of b and 8 broadcasts of a
    /// per step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel8x24(int kc, double* a, double* b, double* c, int ldc, double alpha)
    {
        Vector512<double> c00 = default, c01 = default, c02 = default, c10 = default, c11 = default, c12 = default,
            c20 = default, c21 = default, c22 = default, c30 = default, c31 = default, c32 = default,
            c40 = default, c41 = default, c42 = default, c50 = default, c51 = default, c52 = default,
            c60 = default, c61 = default, c62 = default, c70 = default, c71 = default, c72 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 8);
            var b2 = Vector512.Load(b + 16);
            var x = Vector512.Create(a[0]);
            c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01); c02 = Vector512.FusedMultiplyAdd(x, b2, c02);
            x = Vector512.Create(a[1]);
            c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11); c12 = Vector512.FusedMultiplyAdd(x, b2, c12);
            x = Vector512.Create(a[2]);
            c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21); c22 = Vector512.FusedMultiplyAdd(x, b2, c22);
            x = Vector512.Create(a[3]);
            c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31); c32 = Vector512.FusedMultiplyAdd(x, b2, c32);
            x = Vector512.Create(a[4]);
            c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41); c42 = Vector512.FusedMultiplyAdd(x, b2, c42);
            x = Vector512.Create(a[5]);
            c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51); c52 = Vector512.FusedMultiplyAdd(x, b2, c52);
            x = Vector512.Create(a[6]);
            c60 = Vector512.FusedMultiplyAdd(x, b0, c60); c61 = Vector512.FusedMultiplyAdd(x, b1, c61); c62 = Vector512.FusedMultiplyAdd(x, b2, c62);
            x = Vector512.Create(a[7]);
            c70 = Vector512.FusedMultiplyAdd(x, b0, c70); c71 = Vector512.FusedMultiplyAdd(x, b1, c71); c72 = Vector512.FusedMultiplyAdd(x, b2, c72);
            a += 8;
            b += 24;
        }
        var s = Vector512.Create(alpha);
        Store3(c, s, c00, c01, c02); c += ldc;
        Store3(c, s, c10, c11, c12); c += ldc;
        Store3(c, s, c20, c21, c22); c += ldc;
        Store3(c, s, c30, c31, c32); c += ldc;
        Store3(c, s, c40, c41, c42); c += ldc;
        Store3(c, s, c50, c51, c52); c += ldc;
        Store3(c, s, c60, c61, c62); c += ldc;
        Store3(c, s, c70, c71, c72);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store3(double* c, Vector512<double> s, Vector512<double> x0, Vector512<double> x1, Vector512<double> x2)
    {
        Vector512.Store(Vector512.FusedMultiplyAdd(s, x0, Vector512.Load(c)), c);
        Vector512.Store(Vector512.FusedMultiplyAdd(s, x1, Vector512.Load(c + 8)), c + 8);
        Vector512.Store(Vector512.FusedMultiplyAdd(s, x2, Vector512.Load(c + 16)), c + 16);
    }

    /// <summary>C (6 x 8) += alpha sum_p a_p b_p^T with 256-bit vectors (12 accumulators).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel6x8(int kc, double* a, double* b, double* c, int ldc, double alpha)
    {
        Vector256<double> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 4);
            var x = Vector256.Create(a[0]);
            c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(a[1]);
            c10 = Vector256.FusedMultiplyAdd(x, b0, c10); c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(a[2]);
            c20 = Vector256.FusedMultiplyAdd(x, b0, c20); c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(a[3]);
            c30 = Vector256.FusedMultiplyAdd(x, b0, c30); c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
            x = Vector256.Create(a[4]);
            c40 = Vector256.FusedMultiplyAdd(x, b0, c40); c41 = Vector256.FusedMultiplyAdd(x, b1, c41);
            x = Vector256.Create(a[5]);
            c50 = Vector256.FusedMultiplyAdd(x, b0, c50); c51 = Vector256.FusedMultiplyAdd(x, b1, c51);
            a += 6;
            b += 8;
        }
        var s = Vector256.Create(alpha);
        Store2(c, s, c00, c01); c += ldc;
        Store2(c, s, c10, c11); c += ldc;
        Store2(c, s, c20, c21); c += ldc;
        Store2(c, s, c30, c31); c += ldc;
        Store2(c, s, c40, c41); c += ldc;
        Store2(c, s, c50, c51);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store2(double* c, Vector256<double> s, Vector256<double> x0, Vector256<double> x1)
    {
        Vector256.Store(Vector256.FusedMultiplyAdd(s, x0, Vector256.Load(c)), c);
        Vector256.Store(Vector256.FusedMultiplyAdd(s, x1, Vector256.Load(c + 4)), c + 4);
    }

    // ---- Threads: fixed row blocks, so the partition (and hence every result bit) does not depend on timing.

    private void ForRowBlocks(int rows, Action<int, int> body)
    {
        if (Threads == 1 || rows <= MC)
        {
            body(0, rows);
            return;
        }
        // Blocks of whole MC rows, about four per thread so that triangular work balances.
        int blocks = Math.Min((rows + MC - 1) / MC, 4 * Threads);
        int per = ((rows + blocks - 1) / blocks + MR - 1) / MR * MR;
        int count = (rows + per - 1) / per;
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = Threads },
            i => body(i * per, Math.Min(rows, (i + 1) * per)));
    }

    private static int Extent(int rows, int cols, int ld) => rows == 0 ? 0 : (rows - 1) * ld + cols;

    private static void CheckOperand(string name, int length, int rows, int cols, int ld)
    {
        if (rows < 0 || cols < 0 || ld < cols || (rows > 0 && (long)(rows - 1) * ld + cols > length))
            throw new ArgumentException($"{name}: a {rows} x {cols} matrix with leading dimension {ld} does not fit in {length} entries");
    }
}
