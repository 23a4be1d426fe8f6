using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using Theory.Interop;
using Theory.Simulation.Data;

namespace Theory.Simulation.Kernels;

/// <summary>
/// The convolutional kernel of ConvRFM (SCIENCE.md section 6): the average over all positions p of a Laplace kernel
/// between corresponding q x q patches (length-q patches in 1D), with one patch-Mahalanobis metric M (q^dim square)
/// shared by every position and circular padding:
/// <code>K_M(x, z) = (1/P) sum_p exp(-||x_p - z_p||_M / L),   P = D positions (stride 1).</code>
/// It is a sum of positive definite kernels, hence positive definite; it is invariant under translating both images
/// (on the torus), the weight sharing of a convolutional layer; with q = L in 1D and M = I every term equals the
/// fully-connected Laplace kernel.
/// <para>Patch gradient: writing f as a function of the patches treated as separate variables,
/// <c>grad_{x_p} f(x) = (1/(P L)) sum_i alpha_i k_p / d_p M (x_{i,p} - x_p)</c> (terms at d_p = 0 dropped); the
/// patch-AGOP that updates M is <c>(1/n) sum_x sum_p grad_{x_p} f grad_{x_p} f^T</c>. The input gradient is the
/// sum of the patch gradients scattered back onto their pixels.</para>
/// <para>Patch features <c>phi_p = R^T x_p</c> (M = R R^T) are stored for every training image (memory
/// n r D doubles, r = rank of M &lt;= q^dim); squared distances are summed from feature differences, not expanded,
/// so identical patches (frequent for saturated high-gain images) give exactly 0.</para>
/// </summary>
public sealed unsafe class ConvolutionalKernelMachine : IMetricKernelMachine
{
    private const int Group = 4; // query images sharing one pass over a training image

    private readonly double[] _x, _y;
    private readonly IDenseLinearAlgebra _la;
    private readonly int[] _patchIndex;   // P x m: pixel of patch entry c at position p
    private readonly int _positions, _padded; // P, and P rounded up to the vector width
    private readonly double[] _mask;      // 1 for real positions, 0 for padding
    private double[]? _buffer;            // n x n Gram matrix, then its Cholesky factor
    private double[] _phi = [];           // n x r x padded training features
    private double[] _alpha = [];
    private double[] _rt = [];
    private MetricFactor? _factor;

    /// <param name="image">Image geometry (1D ring or 2D torus; patches always wrap around).</param>
    /// <param name="patch">Patch side q, 1..L.</param>
    /// <param name="x">Training images, n x D row-major.</param>
    /// <param name="y">Training targets.</param>
    /// <param name="bandwidth">L &gt; 0.</param>
    /// <param name="ridge">lambda &gt;= 0.</param>
    /// <param name="la">Dense kernels for the Cholesky factorisation.</param>
    public ConvolutionalKernelMachine(ImageGeometry image, int patch, ReadOnlySpan<double> x, ReadOnlySpan<double> y,
        double bandwidth, double ridge, IDenseLinearAlgebra la)
    {
        int n = y.Length, d = image.D;
        if (patch < 1 || patch > image.Size) throw new ArgumentOutOfRangeException(nameof(patch), $"patch must be 1..{image.Size}");
        if (n < 1 || n > LaplaceKernelMachine.MaxTrain) throw new ArgumentOutOfRangeException(nameof(y));
        if (x.Length != n * d) throw new ArgumentException($"x must hold {n} images of D = {d}");
        if (!(bandwidth > 0) || !double.IsFinite(bandwidth)) throw new ArgumentOutOfRangeException(nameof(bandwidth));
        if (!(ridge >= 0) || !double.IsFinite(ridge)) throw new ArgumentOutOfRangeException(nameof(ridge));
        Image = image;
        Patch = patch;
        PatchGeometry = new ImageGeometry(image.Dim, patch, Boundary.Open);
        MetricDim = PatchGeometry.D;
        _x = x.ToArray();
        _y = y.ToArray();
        TrainCount = n;
        Bandwidth = bandwidth;
        Ridge = ridge;
        _la = la;
        Threads = la.Threads;
        _positions = d;
        int w = Vector<double>.Count;
        _padded = (d + w - 1) / w * w;
        _mask = new double[_padded];
        for (int p = 0; p < d; p++) _mask[p] = 1.0;
        _patchIndex = PatchIndex(image, patch);
    }

    public ImageGeometry Image { get; }
    public int Patch { get; }

    /// <summary>The q x q (or q) patch as an open geometry: the index space of the metric.</summary>
    public ImageGeometry PatchGeometry { get; }

    public int TrainCount { get; }
    public int InputDim => Image.D;
    public int MetricDim { get; }
    public double Bandwidth { get; }
    public double Ridge { get; }
    public int Threads { get; }
    public ReadOnlySpan<double> Alpha => _alpha;
    public MetricFactor Factor => _factor ?? throw new InvalidOperationException("call Fit first");

    /// <summary>Pixel index of patch entry c at position p, P x m row-major: position p is the patch whose first
    /// pixel is pixel p; entry c = (u, v) row-major in the patch sits at (row + u, column + v) modulo L.</summary>
    public static int[] PatchIndex(ImageGeometry image, int q)
    {
        int L = image.Size, d = image.D;
        int m = image.Dim == 1 ? q : q * q;
        var idx = new int[d * m];
        for (int p = 0; p < d; p++)
        {
            int px = image.Dim == 1 ? p : p / L, py = image.Dim == 1 ? 0 : p % L;
            for (int c = 0; c < m; c++)
            {
                if (image.Dim == 1) idx[p * m + c] = (p + c) % L;
                else idx[p * m + c] = (px + c / q) % L * L + (py + c % q) % L;
            }
        }
        return idx;
    }

    public void Fit(ReadOnlySpan<double> metric)
    {
        int n = TrainCount;
        var factor = MetricFactor.Of(metric, MetricDim);
        _factor = factor;
        _rt = factor.RTransposed();
        int r = factor.Rank, stride = r * _padded;
        _phi = GC.AllocateUninitializedArray<double>(n * stride);
        Parallel.For(0, n, Options, i => Features(_x.AsSpan(i * InputDim, InputDim), _phi.AsSpan(i * stride, stride)));

        var k = _buffer ??= GC.AllocateUninitializedArray<double>(n * n);
        double invP = 1.0 / _positions;
        int groups = (n + Group - 1) / Group;
        fixed (double* phi = _phi, mask = _mask, kp = k)
        {
            nint iphi = (nint)phi, imask = (nint)mask, ik = (nint)kp;
            Parallel.For(0, groups, Options, () => new double[Group], (g, _, sums) =>
            {
                int a0 = g * Group, count = Math.Min(Group, n - a0);
                var q = QueryPointers((double*)iphi, a0, count, stride);
                int last = a0 + count - 1;
                for (int b = 0; b <= last; b++)
                {
                    KernelSums(q, (double*)iphi + (long)b * stride, r, (double*)imask, sums);
                    for (int i = 0; i < count; i++)
                        if (b <= a0 + i) ((double*)ik)[(long)(a0 + i) * n + b] = sums[i] * invP;
                }
                return sums;
            }, _ => { });
        }
        for (int i = 0; i < n; i++) k[i * n + i] = 1.0 + Ridge;
        int info = _la.CholeskyLower(n, k, n);
        if (info != 0)
            throw new RunFailedException(
                $"the convolutional kernel matrix plus ridge {Ridge} is not positive definite (pivot {info} of {n}); raise --ridge");
        _alpha = (double[])_y.Clone();
        DenseLinearAlgebra.CholeskySolve(n, k, n, _alpha);
    }

    public void Predict(ReadOnlySpan<double> x, Span<double> predictions)
    {
        int count = Count(x);
        if (predictions.Length < count) throw new ArgumentException("predictions is too short");
        var result = new double[count];
        var xs = x.ToArray();
        int r = Factor.Rank, stride = r * _padded, n = TrainCount;
        double invP = 1.0 / _positions;
        int groups = (count + Group - 1) / Group;
        fixed (double* phi = _phi, mask = _mask)
        {
            nint iphi = (nint)phi, imask = (nint)mask;
            Parallel.For(0, groups, Options, () => (new double[Group * stride], new double[Group]), (g, _, local) =>
            {
                var (qphi, sums) = local;
                int a0 = g * Group, cnt = Math.Min(Group, count - a0);
                for (int i = 0; i < cnt; i++) Features(xs.AsSpan((a0 + i) * InputDim, InputDim), qphi.AsSpan(i * stride, stride));
                var acc = new double[Group];
                fixed (double* qp = qphi)
                {
                    var q = QueryPointers(qp, 0, cnt, stride);
                    for (int b = 0; b < n; b++)
                    {
                        KernelSums(q, (double*)iphi + (long)b * stride, r, (double*)imask, sums);
                        for (int i = 0; i < cnt; i++) acc[i] += _alpha[b] * sums[i];
                    }
                }
                for (int i = 0; i < cnt; i++) result[a0 + i] = acc[i] * invP;
                return local;
            }, _ => { });
        }
        result.CopyTo(predictions);
    }

    public void Gradients(ReadOnlySpan<double> x, Span<double> gradients)
    {
        int count = Count(x);
        if (gradients.Length < count * InputDim) throw new ArgumentException("gradients is too short");
        var xs = x.ToArray();
        var result = new double[count * InputDim];
        int r = Factor.Rank, stride = r * _padded, m = MetricDim;
        PatchGradients(count, (i, dst) => Features(xs.AsSpan(i * InputDim, InputDim), dst), (i, h) =>
        {
            // grad_x f = sum_p P_p^T (R h_p): scatter each position's patch gradient back onto its pixels.
            var g = result.AsSpan(i * InputDim, InputDim);
            var rr = Factor.R;
            for (int p = 0; p < _positions; p++)
                for (int o = 0; o < m; o++)
                {
                    double s = 0;
                    for (int c = 0; c < r; c++) s += rr[o * r + c] * h[c * _padded + p];
                    g[_patchIndex[p * m + o]] += s;
                }
        });
        result.CopyTo(gradients);
    }

    public double[] Agop(bool centred = false)
    {
        int n = TrainCount, r = Factor.Rank, stride = r * _padded, m = MetricDim;
        // Per fixed block of training points, the sums of H H^T (r x r) and of H (r x P, for centring), reduced in
        // block order afterwards so that the result does not depend on the thread count.
        const int BlockSize = 16;
        int blocks = (n + BlockSize - 1) / BlockSize;
        var partial = new double[blocks * r * r];
        var partialMean = centred ? new double[blocks * stride] : [];
        PatchGradients(n, (i, dst) => _phi.AsSpan(i * stride, stride).CopyTo(dst), (i, h) =>
        {
            var acc = partial.AsSpan(i / BlockSize * r * r, r * r);
            for (int c1 = 0; c1 < r; c1++)
                for (int c2 = 0; c2 <= c1; c2++)
                    acc[c1 * r + c2] += TensorPrimitives.Dot<double>(h.Slice(c1 * _padded, _positions), h.Slice(c2 * _padded, _positions));
            if (centred)
            {
                var mean = partialMean.AsSpan(i / BlockSize * stride, stride);
                TensorPrimitives.Add(mean, h, mean);
            }
        }, blockSize: BlockSize);
        var g = new double[r * r];
        for (int bk = 0; bk < blocks; bk++) TensorPrimitives.Add(g, partial.AsSpan(bk * r * r, r * r), g);
        if (centred)
        {
            // sum_x sum_p (h - hbar_p)(h - hbar_p)^T = sum H H^T - n sum_p hbar_p hbar_p^T, hbar_p the mean over x.
            var hbar = new double[stride];
            for (int bk = 0; bk < blocks; bk++) TensorPrimitives.Add(hbar, partialMean.AsSpan(bk * stride, stride), hbar);
            TensorPrimitives.Multiply(hbar, 1.0 / n, hbar);
            for (int c1 = 0; c1 < r; c1++)
                for (int c2 = 0; c2 <= c1; c2++)
                    g[c1 * r + c2] -= n * TensorPrimitives.Dot<double>(hbar.AsSpan(c1 * _padded, _positions), hbar.AsSpan(c2 * _padded, _positions));
        }
        for (int c1 = 0; c1 < r; c1++)
            for (int c2 = 0; c2 < c1; c2++) g[c2 * r + c1] = g[c1 * r + c2];
        // Back to patch coordinates: (1/n) R G R^T.
        var rr = Factor.R;
        var tmp = new double[m * r];
        for (int o = 0; o < m; o++)
            for (int c2 = 0; c2 < r; c2++)
            {
                double s = 0;
                for (int c1 = 0; c1 < r; c1++) s += rr[o * r + c1] * g[c1 * r + c2];
                tmp[o * r + c2] = s;
            }
        var agop = new double[m * m];
        for (int o1 = 0; o1 < m; o1++)
            for (int o2 = 0; o2 <= o1; o2++)
            {
                double s = TensorPrimitives.Dot<double>(tmp.AsSpan(o1 * r, r), rr.AsSpan(o2 * r, r)) / n;
                agop[o1 * m + o2] = agop[o2 * m + o1] = s;
            }
        return agop;
    }

    private ParallelOptions Options => new() { MaxDegreeOfParallelism = Threads };

    /// <summary>
    /// For <paramref name="count"/> query images (features written by <paramref name="features"/>), the feature-space
    /// patch gradients <c>h[c, p] = (1/(P L)) sum_b w_p(b) (phi_b[c, p] - phi[c, p])</c> with
    /// <c>w_p(b) = alpha_b k_p / d_p</c>, handed to <paramref name="consume"/> (query index, r x padded h).
    /// Queries are processed in groups of four that share each training image's pass; groups are aligned to
    /// <paramref name="blockSize"/> so a consumer may accumulate per block without locks.
    /// </summary>
    private void PatchGradients(int count, Action<int, Span<double>> features, SpanConsumer consume, int blockSize = Group)
    {
        int r = Factor.Rank, stride = r * _padded, n = TrainCount;
        double scale = 1.0 / (_positions * Bandwidth);
        int blocks = (count + blockSize - 1) / blockSize;
        fixed (double* phi = _phi, alpha = _alpha)
        {
            nint iphi = (nint)phi, ialpha = (nint)alpha;
            Parallel.For(0, blocks, Options,
                () => (Q: new double[Group * stride], A: new double[Group * stride], S: new double[Group * _padded]),
                (bk, _, local) =>
                {
                    int end = Math.Min(count, (bk + 1) * blockSize);
                    for (int a0 = bk * blockSize; a0 < end; a0 += Group)
                    {
                        int cnt = Math.Min(Group, end - a0);
                        for (int i = 0; i < cnt; i++) features(a0 + i, local.Q.AsSpan(i * stride, stride));
                        Array.Clear(local.A);
                        Array.Clear(local.S);
                        fixed (double* qp = local.Q, ap = local.A, sp = local.S)
                        {
                            var q = QueryPointers(qp, 0, cnt, stride);
                            // Accumulators get a slot each, also the unused ones (their sums are ignored).
                            var acc = QueryPointers(ap, 0, Group, stride);
                            var sums = QueryPointers(sp, 0, Group, _padded);
                            for (int b = 0; b < n; b++)
                                GradientSums(q, (double*)iphi + (long)b * stride, ((double*)ialpha)[b], r, acc, sums);
                        }
                        for (int i = 0; i < cnt; i++)
                        {
                            // h = scale (A - S o phi_query), per feature row.
                            var h = local.A.AsSpan(i * stride, stride);
                            var s = local.S.AsSpan(i * _padded, _padded);
                            for (int c = 0; c < r; c++)
                            {
                                var hc = h.Slice(c * _padded, _padded);
                                var qc = local.Q.AsSpan(i * stride + c * _padded, _padded);
                                var tmp = local.Q.AsSpan(i * stride + c * _padded, _padded); // query row no longer needed
                                TensorPrimitives.Multiply(qc, s, tmp);
                                TensorPrimitives.Subtract(hc, tmp, hc);
                                TensorPrimitives.Multiply(hc, scale, hc);
                            }
                            consume(a0 + i, h);
                        }
                    }
                    return local;
                }, _ => { });
        }
    }

    private delegate void SpanConsumer(int index, Span<double> h);

    /// <summary>Patch features of one image: <c>phi[c, p] = (R^T x_p)_c</c>, r x padded, zero in the padding.</summary>
    private void Features(ReadOnlySpan<double> image, Span<double> phi)
    {
        int r = Factor.Rank, m = MetricDim;
        phi.Clear();
        Span<double> patch = stackalloc double[m];
        for (int p = 0; p < _positions; p++)
        {
            for (int o = 0; o < m; o++) patch[o] = image[_patchIndex[p * m + o]];
            if (Factor.IsIdentity)
                for (int c = 0; c < r; c++) phi[c * _padded + p] = patch[c];
            else
                for (int c = 0; c < r; c++) phi[c * _padded + p] = TensorPrimitives.Dot<double>(_rt.AsSpan(c * m, m), patch);
        }
    }

    /// <summary>Four query pointers (unused slots repeat the last query; their results are ignored).</summary>
    private static Quad QueryPointers(double* basePtr, int first, int count, int stride)
    {
        var q = new Quad();
        for (int i = 0; i < Group; i++) q[i] = basePtr + (long)(first + Math.Min(i, count - 1)) * stride;
        return q;
    }

    private struct Quad
    {
        public double* P0, P1, P2, P3;

        public double* this[int i]
        {
            readonly get => i switch { 0 => P0, 1 => P1, 2 => P2, _ => P3 };
            set
            {
                switch (i)
                {
                    case 0: P0 = value; break;
                    case 1: P1 = value; break;
                    case 2: P2 = value; break;
                    default: P3 = value; break;
                }
            }
        }
    }

    /// <summary>Squared patch distances ||phi_qi[:, p..p+w) - phi_b[:, p..p+w)||^2 of four queries to training image b
    /// at one vector of positions (the inner loop of both kernel passes; inlined).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SquaredDistances(Quad q, double* b, int r, int pad, int p,
        out Vector<double> d0, out Vector<double> d1, out Vector<double> d2, out Vector<double> d3)
    {
        d0 = default; d1 = default; d2 = default; d3 = default;
        for (int c = 0; c < r; c++)
        {
            long o = (long)c * pad + p;
            var vb = Vector.Load(b + o);
            var t0 = Vector.Load(q.P0 + o) - vb;
            var t1 = Vector.Load(q.P1 + o) - vb;
            var t2 = Vector.Load(q.P2 + o) - vb;
            var t3 = Vector.Load(q.P3 + o) - vb;
            d0 = Vector.FusedMultiplyAdd(t0, t0, d0);
            d1 = Vector.FusedMultiplyAdd(t1, t1, d1);
            d2 = Vector.FusedMultiplyAdd(t2, t2, d2);
            d3 = Vector.FusedMultiplyAdd(t3, t3, d3);
        }
    }

    /// <summary>sums[i] = sum_p exp(-||phi_qi[:, p] - phi_b[:, p]|| / L) over real positions, for four queries.</summary>
    private void KernelSums(Quad q, double* b, int r, double* mask, double[] sums)
    {
        int w = Vector<double>.Count, pad = _padded;
        var scale = new Vector<double>(-1.0 / Bandwidth);
        Vector<double> s0 = default, s1 = default, s2 = default, s3 = default;
        for (int p = 0; p < pad; p += w)
        {
            SquaredDistances(q, b, r, pad, p, out var d0, out var d1, out var d2, out var d3);
            var mk = Vector.Load(mask + p);
            s0 += mk * Vector.Exp(Vector.SquareRoot(d0) * scale);
            s1 += mk * Vector.Exp(Vector.SquareRoot(d1) * scale);
            s2 += mk * Vector.Exp(Vector.SquareRoot(d2) * scale);
            s3 += mk * Vector.Exp(Vector.SquareRoot(d3) * scale);
        }
        sums[0] = Vector.Sum(s0);
        sums[1] = Vector.Sum(s1);
        sums[2] = Vector.Sum(s2);
        sums[3] = Vector.Sum(s3);
    }

    /// <summary>For four queries against training image b: A_i[c, p] += w_i(p) phi_b[c, p] and S_i[p] += w_i(p),
    /// <c>w = alpha_b exp(-d/L) / d</c> (0 at d = 0, which includes the padding).</summary>
    private void GradientSums(Quad q, double* b, double alphaB, int r, Quad acc, Quad sums)
    {
        int w = Vector<double>.Count, pad = _padded;
        var scale = new Vector<double>(-1.0 / Bandwidth);
        var ab = new Vector<double>(alphaB);
        for (int p = 0; p < pad; p += w)
        {
            SquaredDistances(q, b, r, pad, p, out var d0, out var d1, out var d2, out var d3);
            var w0 = Weight(d0, scale, ab);
            var w1 = Weight(d1, scale, ab);
            var w2 = Weight(d2, scale, ab);
            var w3 = Weight(d3, scale, ab);
            Vector.Store(Vector.Load(sums.P0 + p) + w0, sums.P0 + p);
            Vector.Store(Vector.Load(sums.P1 + p) + w1, sums.P1 + p);
            Vector.Store(Vector.Load(sums.P2 + p) + w2, sums.P2 + p);
            Vector.Store(Vector.Load(sums.P3 + p) + w3, sums.P3 + p);
            for (int c = 0; c < r; c++)
            {
                long o = (long)c * pad + p;
                var vb = Vector.Load(b + o);
                Vector.Store(Vector.FusedMultiplyAdd(w0, vb, Vector.Load(acc.P0 + o)), acc.P0 + o);
                Vector.Store(Vector.FusedMultiplyAdd(w1, vb, Vector.Load(acc.P1 + o)), acc.P1 + o);
                Vector.Store(Vector.FusedMultiplyAdd(w2, vb, Vector.Load(acc.P2 + o)), acc.P2 + o);
                Vector.Store(Vector.FusedMultiplyAdd(w3, vb, Vector.Load(acc.P3 + o)), acc.P3 + o);
            }
        }
    }

    private static Vector<double> Weight(Vector<double> d2, Vector<double> scale, Vector<double> alphaB)
    {
        var d = Vector.SquareRoot(d2);
        var k = Vector.Exp(d * scale);
        return Vector.ConditionalSelect(Vector.Equals(d2, Vector<double>.Zero), Vector<double>.Zero, alphaB * k / d);
    }

    private int Count(ReadOnlySpan<double> x)
    {
        if (_factor is null) throw new InvalidOperationException("call Fit first");
        if (x.Length % InputDim != 0) throw new ArgumentException($"inputs must be rows of D = {InputDim}");
        return x.Length / InputDim;
    }
}
