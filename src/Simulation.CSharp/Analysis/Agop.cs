using System.Numerics.Tensors;
using Theory.Simulation.Data;
using Theory.Simulation.Kernels;
using Theory.Simulation.Training;

namespace Theory.Simulation.Analysis;

/// <summary>
/// The average gradient outer product (AGOP) of a trained network with respect to its input, and the matrices the
/// neural feature ansatz compares it with (SCIENCE.md section 6).
/// <para>Fully-connected network <c>f(x) = sum_k v_k g(lambda_k)</c>, <c>lambda_k = w_k . x / sqrt D + b_k</c>: its input
/// gradient is <c>W^T u(x) / sqrt D</c> with <c>u_k = v_k g'(lambda_k)</c>, so the AGOP over n inputs is
/// <c>G = W^T A W / D</c>, <c>A = (1/n) sum_p u(x_p) u(x_p)^T</c> (K x K). Everything below is computed from A, which
/// costs n K D for the pre-activations and makes G of rank at most K.</para>
/// <para>Units can be restricted to a subset P (a population): <c>G_P = W_P^T A_PP W_P / D</c> is the AGOP of the
/// partial output <c>f_P(x) = sum_{k in P} v_k g(lambda_k)</c>, the population's own contribution to f, and is compared
/// with <c>W_P^T W_P</c>. For P = all units it is the AGOP of the network.</para>
/// </summary>
public static class Agop
{
    /// <summary>Input gradient of the network at x: <c>grad f(x) = W^T (v o g'(lambda)) / sqrt D</c>.</summary>
    public static void InputGradient(TwoLayerNetwork net, ReadOnlySpan<double> x, Span<double> gradient)
    {
        int k = net.K, d = net.D;
        Span<double> lambda = stackalloc double[k], g = stackalloc double[k], gp = stackalloc double[k];
        net.PreActivations(x, lambda);
        net.Activation.Evaluate(lambda, g, gp);
        gradient.Clear();
        double scale = 1.0 / Math.Sqrt(d);
        for (int j = 0; j < k; j++)
            TensorPrimitives.MultiplyAdd(net.W.AsSpan(j * d, d), net.V[j] * gp[j] * scale, gradient, gradient);
    }

    /// <summary>
    /// The K x K second moment <c>A = (1/n) sum_p u_p u_p^T</c>, <c>u_p = v o g'(lambda(x_p))</c>, over the n inputs in
    /// the rows of <paramref name="inputs"/> (n x D, row-major). Symmetric, row-major.
    /// </summary>
    public static double[] GradientMoment(TwoLayerNetwork net, ReadOnlySpan<double> inputs, int n)
    {
        int k = net.K, d = net.D;
        if (n < 1 || inputs.Length < (long)n * d) throw new ArgumentException($"need {n} inputs of length {d}");
        var lambda = new double[k];
        var g = new double[k];
        var gp = new double[k];
        var u = new double[k];
        var a = new double[k * k];
        for (int p = 0; p < n; p++)
        {
            net.PreActivations(inputs.Slice(p * d, d), lambda);
            net.Activation.Evaluate(lambda, g, gp);
            for (int j = 0; j < k; j++) u[j] = net.V[j] * gp[j];
            for (int i = 0; i < k; i++)
                for (int j = 0; j <= i; j++) a[i * k + j] += u[i] * u[j];
        }
        return MirrorAndScale(a, k, 1.0 / n);
    }

    /// <summary>
    /// The AGOP of the fully-connected network (or of the partial output of <paramref name="units"/>) over the n
    /// inputs in the rows of <paramref name="inputs"/>: <c>W_P^T A_PP W_P / D</c>, D x D row-major.
    /// </summary>
    public static double[] Network(TwoLayerNetwork net, ReadOnlySpan<double> inputs, int n, int[]? units = null) =>
        FromMoment(net.W, net.D, GradientMoment(net, inputs, n), net.K, units ?? AllUnits(net.K), 1.0 / net.D);

    /// <summary>
    /// <c>scale W_P^T A_PP W_P</c> (d x d, row-major) for the rows <paramref name="units"/> of <paramref name="w"/>
    /// (K x d, row-major) and the K x K matrix <paramref name="moment"/>: the AGOP from its second moment. With
    /// <c>A = I</c> and scale 1 it is the Gram matrix <c>W_P^T W_P</c>.
    /// </summary>
    public static double[] FromMoment(ReadOnlySpan<double> w, int d, ReadOnlySpan<double> moment, int k, int[] units, double scale)
    {
        int r = units.Length;
        if (w.Length != k * d || moment.Length != k * k) throw new ArgumentException($"need W of {k} x {d} and A of {k} x {k}");
        // M = A_PP W_P (r x d), then G = scale W_P^T M, accumulated row by row: G(i, :) += W_P(a, i) M(a, :).
        var m = new double[r * d];
        for (int a = 0; a < r; a++)
        {
            var row = m.AsSpan(a * d, d);
            for (int b = 0; b < r; b++)
                TensorPrimitives.MultiplyAdd(w.Slice(units[b] * d, d), moment[units[a] * k + units[b]], row, row);
        }
        return Outer(w, d, units, m, scale);
    }

    /// <summary>The Gram matrix <c>W_P^T W_P</c> (d x d) of the rows <paramref name="units"/> of w (K x d, row-major):
    /// for a fully-connected layer the feature matrix of the ansatz; for a convolutional layer (filters as rows) the
    /// filter covariance.</summary>
    public static double[] Gram(ReadOnlySpan<double> w, int d, int[] units)
    {
        var m = new double[units.Length * d];
        for (int a = 0; a < units.Length; a++) w.Slice(units[a] * d, d).CopyTo(m.AsSpan(a * d, d));
        return Outer(w, d, units, m, 1.0);
    }

    /// <summary>
    /// <c>(scale W_P^T A_PP W_P)^s</c>, the power of a positive semi-definite matrix of rank at most |P| given by its
    /// factors, computed exactly in the |P|-dimensional row space of W_P: with <c>W_P W_P^T = P S P^T</c> (eigenvalues
    /// below 1e-12 of the largest dropped) the columns of <c>Q = W_P^T P S^-1/2</c> are orthonormal and
    /// <c>W_P^T = Q S^1/2 P^T</c>, so the matrix is <c>Q T Q^T</c> with the small <c>T = scale S^1/2 P^T A_PP P S^1/2</c>;
    /// then <c>(Q T Q^T)^s = (Q V) Lambda^s (Q V)^T</c> from <c>T = V Lambda V^T</c> (eigenvalues below 1e-12 of the
    /// largest, rounding noise, taken as 0). O(d |P|^2 + d^2 |P|) instead of an O(d^3) eigen-decomposition.
    /// </summary>
    public static double[] LowRankPower(ReadOnlySpan<double> w, int d, ReadOnlySpan<double> moment, int k, int[] units,
        double scale, double s)
    {
        int r = units.Length;
        if (r == 0) return new double[d * d];
        var gram = new double[r * r];
        for (int a = 0; a < r; a++)
            for (int b = 0; b <= a; b++)
                gram[a * r + b] = gram[b * r + a] = TensorPrimitives.Dot(w.Slice(units[a] * d, d), w.Slice(units[b] * d, d));
        var (sigma, p) = DenseLinearAlgebra.SymmetricEigen(gram, r);
        double top = sigma.Length > 0 ? sigma[0] : 0;
        int m = 0;
        while (m < r && sigma[m] > 1e-12 * top && sigma[m] > 0) m++;
        if (m == 0) return new double[d * d];
        // Q (m x d, row c = column c of Q): Q_c = sum_a P(a, c) w_a / sqrt(sigma_c).
        var q = new double[m * d];
        for (int c = 0; c < m; c++)
        {
            var row = q.AsSpan(c * d, d);
            for (int a = 0; a < r; a++)
                TensorPrimitives.MultiplyAdd(w.Slice(units[a] * d, d), p[a * r + c] / Math.Sqrt(sigma[c]), row, row);
        }
        // T = scale S^1/2 P^T A_PP P S^1/2 (m x m).
        var t = new double[m * m];
        for (int c = 0; c < m; c++)
            for (int e = 0; e <= c; e++)
            {
                double sum = 0;
                for (int a = 0; a < r; a++)
                    for (int b = 0; b < r; b++)
                        sum += p[a * r + c] * moment[units[a] * k + units[b]] * p[b * r + e];
                t[c * m + e] = t[e * m + c] = scale * Math.Sqrt(sigma[c] * sigma[e]) * sum;
            }
        var (lambda, v) = DenseLinearAlgebra.SymmetricEigen(t, m);
        double floor = EigenvalueFloor(lambda);
        // Rows of (Q V)^T scaled by lambda^(s/2): Z_c = lambda_c^(s/2) sum_e V(e, c) Q_e, then result = Z^T Z.
        var z = new double[m * d];
        for (int c = 0; c < m; c++)
        {
            double l = lambda[c];
            if (l <= floor) continue;
            double f = Math.Pow(l, 0.5 * s);
            var row = z.AsSpan(c * d, d);
            for (int e = 0; e < m; e++) TensorPrimitives.MultiplyAdd(q.AsSpan(e * d, d), v[e * m + c] * f, row, row);
        }
        var rows = new int[m];
        for (int c = 0; c < m; c++) rows[c] = c;
        return Outer(z, d, rows, z, 1.0);
    }

    /// <summary>
    /// <c>M^s</c> of a symmetric positive semi-definite matrix (dim x dim, row-major; symmetrised first) by a full
    /// eigen-decomposition; eigenvalues below 1e-12 of the largest (rounding) are taken as 0. For small matrices (patch metrics, tests).
    /// </summary>
    public static double[] SymmetricPower(ReadOnlySpan<double> m, int dim, double s)
    {
        var (lambda, u) = DenseLinearAlgebra.SymmetricEigen(m, dim);
        double floor = EigenvalueFloor(lambda);
        var result = new double[dim * dim];
        for (int c = 0; c < dim; c++)
        {
            double l = lambda[c];
            if (l <= floor) continue;
            double f = Math.Pow(l, s);
            for (int i = 0; i < dim; i++)
            {
                double ui = u[i * dim + c] * f;
                if (ui == 0) continue;
                for (int j = 0; j < dim; j++) result[i * dim + j] += ui * u[j * dim + c];
            }
        }
        return result;
    }

    // ---------------------------------------------------------------- convolutional baseline (CNFA)

    /// <summary>
    /// The K x K patch moment <c>B = (1/n) sum_x sum_positions u_p u_p^T</c>, <c>u_p(k) = v_k g'(lambda_kp(x))</c>, of the
    /// convolutional network over the n inputs in the rows of <paramref name="inputs"/>.
    /// </summary>
    public static double[] PatchGradientMoment(ConvolutionalNetwork net, ReadOnlySpan<double> inputs, int n)
    {
        int k = net.K, d = net.D;
        if (n < 1 || inputs.Length < (long)n * d) throw new ArgumentException($"need {n} inputs of length {d}");
        var pre = new double[k * d];
        var g = new double[k * d];
        var gp = new double[k * d];
        var a = new double[k * k];
        for (int p = 0; p < n; p++)
        {
            net.Output(inputs.Slice(p * d, d));
            net.LastPreActivations(pre);
            for (int j = 0; j < k; j++) TensorPrimitives.Add(pre.AsSpan(j * d, d), net.B[j], pre.AsSpan(j * d, d));
            net.Activation.Evaluate(pre, g, gp);
            // sum over positions of u_kp u_lp = v_k v_l (g'_k . g'_l) over positions.
            for (int i = 0; i < k; i++)
                for (int j = 0; j <= i; j++)
                    a[i * k + j] += net.V[i] * net.V[j] * TensorPrimitives.Dot(gp.AsSpan(i * d, d), gp.AsSpan(j * d, d));
        }
        return MirrorAndScale(a, k, 1.0 / n);
    }

    /// <summary>
    /// The patch-AGOP of the convolutional network (CNFA, SCIENCE.md section 6): with each patch taken as a separate
    /// variable, <c>grad_patch(p) f = sum_k v_k g'(lambda_kp) f_k / (D sqrt q)</c> (average pooling over the D positions,
    /// q taps), so <c>sum_p E[grad_patch(p) f grad_patch(p) f^T] = F_P^T B_PP F_P / (D^2 q)</c> (q x q), for the filters
    /// <paramref name="units"/> (all when null), B from <see cref="PatchGradientMoment"/>.
    /// </summary>
    public static double[] Patch(ConvolutionalNetwork net, ReadOnlySpan<double> inputs, int n, int[]? units = null) =>
        FromMoment(net.F, net.Taps, PatchGradientMoment(net, inputs, n), net.K, units ?? AllUnits(net.K),
            PatchScale(net.D, net.Taps));

    /// <summary>The factor <c>1 / (D^2 q)</c> of <see cref="Patch"/>.</summary>
    public static double PatchScale(int d, int taps) => 1.0 / ((double)d * d * taps);

    /// <summary>Indices 0 .. k-1.</summary>
    public static int[] AllUnits(int k)
    {
        var all = new int[k];
        for (int i = 0; i < k; i++) all[i] = i;
        return all;
    }

    /// <summary><c>scale sum_a w_{rows[a]} m_a^T</c> (d x d): rows of w (by index) against the rows of m (in order).</summary>
    private static double[] Outer(ReadOnlySpan<double> w, int d, int[] rows, ReadOnlySpan<double> m, double scale)
    {
        var g = new double[d * d];
        for (int a = 0; a < rows.Length; a++)
        {
            var wa = w.Slice(rows[a] * d, d);
            var ma = m.Slice(a * d, d);
            for (int i = 0; i < d; i++)
            {
                double c = scale * wa[i];
                if (c == 0) continue;
                var gi = g.AsSpan(i * d, d);
                TensorPrimitives.MultiplyAdd(ma, c, gi, gi);
            }
        }
        return g;
    }

    private static double[] MirrorAndScale(double[] a, int k, double scale)
    {
        for (int i = 0; i < k; i++)
            for (int j = 0; j <= i; j++) a[i * k + j] = a[j * k + i] = a[i * k + j] * scale;
        return a;
    }

    /// <summary>
    /// Eigenvalues up to this (1e-12 of the largest, and all negative ones) are rounding noise of a positive
    /// semi-definite matrix of lower rank and count as 0: a power s &lt; 1 would otherwise turn their 1e-16 relative size
    /// into a visible 1e-8 (s = 1/2). A genuine eigenvalue that small contributes at most 1e-6 of the largest to M^1/2.
    /// </summary>
    private static double EigenvalueFloor(double[] descending) =>
        descending.Length > 0 && descending[0] > 0 ? 1e-12 * descending[0] : 0.0;
}

/// <summary>Correlation of two matrices as the neural feature ansatz measures it (SCIENCE.md section 6).</summary>
public static class MatrixCorrelation
{
    /// <summary>
    /// Pearson correlation of the entries of two equally sized matrices: subtract each matrix's mean entry, then the
    /// cosine of the two. In [-1, 1]; invariant under positive scaling and adding a constant to either matrix; NaN
    /// when either matrix is constant.
    /// </summary>
    public static double Pearson(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        if (a.Length != b.Length || a.Length == 0) throw new ArgumentException("the matrices must have the same, non-zero size");
        double ma = TensorPrimitives.Sum(a) / a.Length, mb = TensorPrimitives.Sum(b) / b.Length;
        double ab = 0, aa = 0, bb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double x = a[i] - ma, y = b[i] - mb;
            ab += x * y;
            aa += x * x;
            bb += y * y;
        }
        return aa > 0 && bb > 0 ? Math.Clamp(ab / Math.Sqrt(aa * bb), -1.0, 1.0) : double.NaN;
    }
}

/// <summary>
/// Pearson correlation of <c>W_P^T W_P</c> with <c>W_P^T A W_P</c> for many small matrices A at the cost of |P|^3 each,
/// from the |P| x |P| Gram matrix <c>C = W_P W_P^T</c> and the row sums <c>s = W_P 1</c>: the entries of the two d x d
/// matrices sum to <c>s^T s</c> and <c>s^T A s</c>, their squared norms are <c>tr(C C)</c> and <c>tr(A C A C)</c>, and their
/// inner product is <c>tr(A C C)</c>. Used for the null distribution of the neural feature ansatz: any AGOP of the
/// two-layer network is <c>W^T A W</c> for some positive semi-definite A, so the correlation it can reach "for free" is
/// that of a moment matrix A unrelated to the weights.
/// </summary>
public sealed class SandwichCorrelation
{
    private readonly int _r;
    private readonly double _n;
    private readonly double[] _c, _cc, _s;
    private readonly double _sumB, _normB;

    /// <summary>For the rows <paramref name="units"/> of w (K x d, row-major).</summary>
    public SandwichCorrelation(ReadOnlySpan<double> w, int d, int[] units)
    {
        int r = _r = units.Length;
        _n = (double)d * d;
        _c = new double[r * r];
        _s = new double[r];
        for (int a = 0; a < r; a++)
        {
            var wa = w.Slice(units[a] * d, d);
            _s[a] = TensorPrimitives.Sum(wa);
            for (int b = 0; b <= a; b++) _c[a * r + b] = _c[b * r + a] = TensorPrimitives.Dot(wa, w.Slice(units[b] * d, d));
        }
        _cc = Multiply(_c, _c, r);
        double sb = 0, nb = 0;
        for (int a = 0; a < r; a++)
        {
            sb += _s[a] * _s[a];
            nb += _cc[a * r + a];
        }
        _sumB = sb;
        _normB = nb;
    }

    /// <summary>Pearson correlation of <c>W_P^T W_P</c> and <c>W_P^T A W_P</c> (A: |P| x |P|, row-major).</summary>
    public double With(ReadOnlySpan<double> a)
    {
        int r = _r;
        if (a.Length != r * r) throw new ArgumentException($"A must be {r} x {r}");
        double sumA = 0, inner = 0;
        for (int i = 0; i < r; i++)
            for (int j = 0; j < r; j++)
            {
                sumA += _s[i] * a[i * r + j] * _s[j];
                inner += a[i * r + j] * _cc[j * r + i];
            }
        var ac = Multiply(a, _c, r);
        double normA = 0;
        for (int i = 0; i < r; i++)
            for (int j = 0; j < r; j++) normA += ac[i * r + j] * ac[j * r + i];
        double cov = inner - sumA * _sumB / _n;
        double va = normA - sumA * sumA / _n, vb = _normB - _sumB * _sumB / _n;
        return va > 0 && vb > 0 ? Math.Clamp(cov / Math.Sqrt(va * vb), -1.0, 1.0) : double.NaN;
    }

    /// <summary>
    /// The median of <see cref="With"/> over <paramref name="draws"/> Wishart matrices <c>A = Z Z^T</c>, Z a |P| x |P|
    /// matrix of independent standard normals from <paramref name="rng"/>: the correlation of the ansatz for a moment
    /// matrix that knows nothing about the data or the weights.
    /// </summary>
    public double RandomMomentMedian(Rng rng, int draws = 100)
    {
        int r = _r;
        var z = new double[r * r];
        var results = new double[draws];
        for (int t = 0; t < draws; t++)
        {
            rng.FillGaussian(z);
            var zt = new double[r * r];
            for (int i = 0; i < r; i++)
                for (int j = 0; j < r; j++) zt[i * r + j] = z[j * r + i];
            results[t] = With(Multiply(z, zt, r));
        }
        Array.Sort(results);
        return draws % 2 == 1 ? results[draws / 2] : 0.5 * (results[draws / 2 - 1] + results[draws / 2]);
    }

    private static double[] Multiply(ReadOnlySpan<double> x, ReadOnlySpan<double> y, int r)
    {
        var p = new double[r * r];
        for (int i = 0; i < r; i++)
            for (int k = 0; k < r; k++)
            {
                double xik = x[i * r + k];
                for (int j = 0; j < r; j++) p[i * r + j] += xik * y[k * r + j];
            }
        return p;
    }
}
