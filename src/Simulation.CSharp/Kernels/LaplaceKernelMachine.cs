using System.Numerics.Tensors;
using Theory.Interop;

namespace Theory.Simulation.Kernels;

/// <summary>
/// Kernel ridge regression with the Mahalanobis Laplace kernel <c>K_M(x, z) = exp(-||x - z||_M / L)</c>,
/// <c>||u||_M = sqrt(u^T M u)</c> (SCIENCE.md section 6), the fully-connected kernel of a recursive feature machine.
/// <para>Distances are Euclidean between the features <c>z = R^T x</c> with <c>M = R R^T</c>
/// (<see cref="MetricFactor"/>), so the Gram matrix is one symmetric rank-r update <c>Z Z^T</c>. One n x n buffer
/// holds, in turn, the Gram matrix, its Cholesky factor (lower triangle) next to a copy of the kernel (upper
/// triangle), and <c>K / d</c> for the gradients: memory is n^2 doubles plus O(n D).</para>
/// <para>Gradient (SCIENCE.md section 6): <c>grad f(x) = (1/L) sum_i alpha_i K(x, x_i) / ||x - x_i||_M M (x_i - x)</c>;
/// in features <c>M (x_i - x) = R (z_i - z)</c>, so the gradients of all training points are
/// <c>(1/L) R [W (alpha o Z) - diag(W alpha) Z]^T</c> with <c>W_pi = K_pi / d_pi</c>: two matrix products.</para>
/// </summary>
public sealed class LaplaceKernelMachine : IMetricKernelMachine
{
    /// <summary>Largest training set accepted (the n x n buffer must be addressable; 40,000 points is 12.8 GB).</summary>
    public const int MaxTrain = 40_000;

    private const int Block = 256; // rows of test or query points processed together

    private readonly double[] _x;     // n x D training inputs
    private readonly double[] _y;     // n labels
    private readonly IDenseLinearAlgebra _la;
    private double[]? _buffer;        // n x n, see the class comment
    private double[] _z = [];         // n x r features
    private double[] _norms = [];     // n squared feature norms
    private double[] _alpha = [];
    private double[] _alphaZt = [];   // (alpha o Z)^T, r x n: the right operand of the gradient products
    private double[] _rt = [];        // R^T, r x D
    private MetricFactor? _factor;
    private bool _bufferHoldsKernel;  // upper triangle still holds K of the last fit

    /// <param name="x">Training inputs, n x D row-major (copied).</param>
    /// <param name="y">Training targets, n (copied).</param>
    /// <param name="bandwidth">L &gt; 0.</param>
    /// <param name="ridge">lambda &gt;= 0.</param>
    /// <param name="la">Dense kernels (managed or OpenBLAS).</param>
    public LaplaceKernelMachine(ReadOnlySpan<double> x, ReadOnlySpan<double> y, double bandwidth, double ridge, IDenseLinearAlgebra la)
    {
        int n = y.Length;
        if (n < 1 || n > MaxTrain) throw new ArgumentOutOfRangeException(nameof(y), $"need 1..{MaxTrain} training points (got {n})");
        if (x.Length % n != 0 || x.Length == 0) throw new ArgumentException("x must hold n rows of D inputs");
        if (!(bandwidth > 0) || !double.IsFinite(bandwidth)) throw new ArgumentOutOfRangeException(nameof(bandwidth));
        if (!(ridge >= 0) || !double.IsFinite(ridge)) throw new ArgumentOutOfRangeException(nameof(ridge));
        _x = x.ToArray();
        _y = y.ToArray();
        TrainCount = n;
        InputDim = x.Length / n;
        Bandwidth = bandwidth;
        Ridge = ridge;
        _la = la;
    }

    public int TrainCount { get; }
    public int InputDim { get; }
    public int MetricDim => InputDim;
    public double Bandwidth { get; }
    public double Ridge { get; }
    public ReadOnlySpan<double> Alpha => _alpha;
    public MetricFactor Factor => _factor ?? throw new InvalidOperationException("call Fit first");

    public void Fit(ReadOnlySpan<double> metric)
    {
        int n = TrainCount, d = InputDim;
        var factor = MetricFactor.Of(metric, d);
        int r = factor.Rank;
        _factor = factor;
        _rt = factor.RTransposed();
        _z = Features(_x, n);
        _norms = new double[n];
        for (int i = 0; i < n; i++) _norms[i] = TensorPrimitives.Dot<double>(_z.AsSpan(i * r, r), _z.AsSpan(i * r, r));

        var k = _buffer ??= GC.AllocateUninitializedArray<double>(n * n);
        _la.SyrkLower(n, r, 1.0, _z, r, 0.0, k, n);
        double inv = 1.0 / Bandwidth;
        for (int i = 0; i < n; i++)
        {
            Laplace.FromInnerProducts(k.AsSpan(i * n, i), _norms.AsSpan(0, i), _norms[i], inv, overDistance: false);
            k[i * n + i] = 1.0;
        }
        // Keep K in the upper triangle: the factorisation below reads and writes the lower one only.
        DenseLinearAlgebra.MirrorLowerToUpper(n, k, n);
        for (int i = 0; i < n; i++) k[i * n + i] = 1.0 + Ridge;
        int info = _la.CholeskyLower(n, k, n);
        _bufferHoldsKernel = true;
        if (info != 0)
            throw new RunFailedException(
                $"the kernel matrix plus ridge {Ridge} is not positive definite (pivot {info} of {n}); training points repeat " +
                "or the ridge is too small: raise --ridge");
        _alpha = (double[])_y.Clone();
        DenseLinearAlgebra.CholeskySolve(n, k, n, _alpha);

        _alphaZt = new double[r * n];
        DenseLinearAlgebra.Transpose(n, r, _z, r, _alphaZt, n);
        for (int c = 0; c < r; c++) TensorPrimitives.Multiply(_alphaZt.AsSpan(c * n, n), _alpha, _alphaZt.AsSpan(c * n, n));
    }

    public void Predict(ReadOnlySpan<double> x, Span<double> predictions)
    {
        int n = TrainCount, count = Count(x);
        if (predictions.Length < count) throw new ArgumentException("predictions is too short");
        var cross = new double[Block * n];
        var norms = new double[Block];
        for (int b0 = 0; b0 < count; b0 += Block)
        {
            int b = Math.Min(Block, count - b0);
            var zb = QueryFeatures(x.Slice(b0 * InputDim, b * InputDim), b, norms);
            _la.GemmNT(b, n, Factor.Rank, 1.0, zb, Factor.Rank, _z, Factor.Rank, 0.0, cross, n);
            for (int i = 0; i < b; i++)
            {
                var row = cross.AsSpan(i * n, n);
                Laplace.FromInnerProducts(row, _norms, norms[i], 1.0 / Bandwidth, overDistance: false);
                predictions[b0 + i] = TensorPrimitives.Dot<double>(row, _alpha);
            }
        }
    }

    public void Gradients(ReadOnlySpan<double> x, Span<double> gradients)
    {
        int n = TrainCount, count = Count(x), r = Factor.Rank;
        if (gradients.Length < count * InputDim) throw new ArgumentException("gradients is too short");
        var w = new double[Block * n];
        var norms = new double[Block];
        var g1 = new double[Block * r];
        for (int b0 = 0; b0 < count; b0 += Block)
        {
            int b = Math.Min(Block, count - b0);
            var zb = QueryFeatures(x.Slice(b0 * InputDim, b * InputDim), b, norms);
            _la.GemmNT(b, n, r, 1.0, zb, r, _z, r, 0.0, w, n);
            for (int i = 0; i < b; i++)
                Laplace.FromInnerProducts(w.AsSpan(i * n, n), _norms, norms[i], 1.0 / Bandwidth, overDistance: true);
            FeatureGradients(b, w, zb, g1, gradients.Slice(b0 * InputDim, b * InputDim));
        }
    }

    public double[] Agop(bool centred = false)
    {
        int n = TrainCount, d = InputDim, r = Factor.Rank;
        var w = _buffer ?? throw new InvalidOperationException("call Fit first");
        if (!_bufferHoldsKernel)
        {
            // Agop called twice after one fit: the kernel copy is gone; recompute from the features.
            var grads = new double[n * d];
            Gradients(_x, grads);
            return GradientOuterProduct.Average(grads, n, d, _la, centred);
        }
        // The upper triangle holds K_ij = exp(-d_ij / L); recover d_ij = -L ln K_ij (absolute error ~ L eps) and
        // form W = K / d there, with 0 for coincident pairs (K = 1 exactly) and underflowed ones (K = 0).
        var ln = new double[n];
        for (int i = 0; i < n - 1; i++)
        {
            var row = w.AsSpan(i * n + i + 1, n - i - 1);
            var lnRow = ln.AsSpan(0, row.Length);
            TensorPrimitives.Log(row, lnRow);
            for (int j = 0; j < row.Length; j++)
            {
                double kij = row[j];
                row[j] = kij > 0 && kij < 1 ? kij / (-Bandwidth * lnRow[j]) : 0.0;
            }
        }
        DenseLinearAlgebra.MirrorUpperToLower(n, w, n);
        for (int i = 0; i < n; i++) w[i * n + i] = 0.0;
        _bufferHoldsKernel = false;

        var g = new double[n * d];
        FeatureGradients(n, w, _z, new double[n * r], g);
        return GradientOuterProduct.Average(g, n, d, _la, centred);
    }


    /// <summary>
    /// Gradients of f at b points with features <paramref name="zq"/> from the weights <c>W = K / d</c> (b x n):
    /// <c>grad_z = (1/L) [W (alpha o Z) - (W alpha) o z_q]</c>, then <c>grad_x = R grad_z</c>.
    /// </summary>
    private void FeatureGradients(int b, double[] w, ReadOnlySpan<double> zq, double[] g1, Span<double> gradients)
    {
        int n = TrainCount, r = Factor.Rank, d = InputDim;
        _la.GemmNT(b, r, n, 1.0, w, n, _alphaZt, n, 0.0, g1, r);
        double inv = 1.0 / Bandwidth;
        for (int i = 0; i < b; i++)
        {
            double s = TensorPrimitives.Dot<double>(w.AsSpan(i * n, n), _alpha);
            var gi = g1.AsSpan(i * r, r);
            TensorPrimitives.MultiplyAdd(zq.Slice(i * r, r), -s, gi, gi);
            TensorPrimitives.Multiply(gi, inv, gi);
        }
        // grad_x = R grad_z for each point: G_x = G_z R^T, and R^T's transpose is R (d x r, row-major).
        _la.GemmNT(b, d, r, 1.0, g1, r, Factor.R, r, 0.0, gradients, d);
    }

    /// <summary>Features Z = X R (rows x r).</summary>
    private double[] Features(ReadOnlySpan<double> x, int rows)
    {
        int r = Factor.Rank;
        var z = new double[rows * r];
        if (Factor.IsIdentity) x[..(rows * InputDim)].CopyTo(z);
        else _la.GemmNT(rows, r, InputDim, 1.0, x, InputDim, _rt, InputDim, 0.0, z, r);
        return z;
    }

    private double[] QueryFeatures(ReadOnlySpan<double> x, int rows, double[] norms)
    {
        int r = Factor.Rank;
        var z = Features(x, rows);
        for (int i = 0; i < rows; i++) norms[i] = TensorPrimitives.Dot<double>(z.AsSpan(i * r, r), z.AsSpan(i * r, r));
        return z;
    }

    private int Count(ReadOnlySpan<double> x)
    {
        if (_factor is null) throw new InvalidOperationException("call Fit first");
        if (x.Length % InputDim != 0) throw new ArgumentException($"inputs must be rows of D = {InputDim}");
        return x.Length / InputDim;
    }
}
