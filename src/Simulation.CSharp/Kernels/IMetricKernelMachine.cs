using System.Numerics;

namespace Theory.Simulation.Kernels;

/// <summary>
/// A kernel ridge regression machine whose kernel depends on a learnable positive semi-definite metric M, the object
/// a recursive feature machine iterates on (SCIENCE.md section 6): fit <c>alpha = (K_M(X, X) + lambda I)^-1 y</c>,
/// predict <c>f(x) = sum_i alpha_i K_M(x, x_i)</c>, and measure the average gradient outer product that becomes the
/// next M.
/// </summary>
public interface IMetricKernelMachine
{
    /// <summary>Number of training points n.</summary>
    int TrainCount { get; }

    /// <summary>Input dimension D.</summary>
    int InputDim { get; }

    /// <summary>Side of the metric: D for the fully-connected kernel, the patch size q^dim for the convolutional one.</summary>
    int MetricDim { get; }

    /// <summary>Fits the machine with metric <paramref name="metric"/> (MetricDim x MetricDim, row-major, PSD).
    /// Throws <see cref="Theory.Interop.RunFailedException"/> when the regularised kernel matrix is not positive
    /// definite (a zero ridge on repeated points).</summary>
    void Fit(ReadOnlySpan<double> metric);

    /// <summary>The coefficients alpha of the last fit.</summary>
    ReadOnlySpan<double> Alpha { get; }

    /// <summary>The metric's decomposition used by the last fit.</summary>
    MetricFactor Factor { get; }

    /// <summary>Predictions f(x) for <c>x.Length / D</c> inputs (row-major).</summary>
    void Predict(ReadOnlySpan<double> x, Span<double> predictions);

    /// <summary>Input gradients of f (count x D, row-major) at the given inputs; terms of training points at distance 0
    /// are dropped (the Laplace kernel has no gradient there), which is the convention of the AGOP at training points.</summary>
    void Gradients(ReadOnlySpan<double> x, Span<double> gradients);

    /// <summary>
    /// The AGOP that updates the metric, MetricDim x MetricDim row-major, averaged over the training points: the
    /// fully-connected machine's <c>(1/n) sum_p grad f(x_p) grad f(x_p)^T</c>, the convolutional machine's patch-AGOP.
    /// With <paramref name="centred"/>, the gradients' mean over the training points (per position for patches) is
    /// subtracted first: the covariance of the gradients instead of their second moment. Call after
    /// <see cref="Fit"/>; predictions still work afterwards.
    /// </summary>
    double[] Agop(bool centred = false);
}

/// <summary>Shared arithmetic of the Laplace kernel <c>exp(-||x - z||_M / L)</c> on precomputed features.</summary>
internal static class Laplace
{
    /// <summary>
    /// Pairs whose squared distance, computed as <c>|u|^2 + |v|^2 - 2 u.v</c>, is at most this fraction of
    /// <c>|u|^2 + |v|^2</c> are treated as coincident (distance 0): below it the expansion is rounding noise, and a
    /// Laplace kernel has no gradient at distance 0 (the term is dropped).
    /// </summary>
    public const double CoincidenceTolerance = 1e-10;

    /// <summary>
    /// In place: <c>row[j] = u_i . v_j</c> becomes the kernel value <c>exp(-d_ij / L)</c> (<paramref name="overDistance"/>
    /// false) or <c>exp(-d_ij / L) / d_ij</c> with 0 for coincident pairs (true), from the squared norms.
    /// </summary>
    public static void FromInnerProducts(Span<double> row, ReadOnlySpan<double> normsJ, double normI, double invBandwidth,
        bool overDistance)
    {
        int n = row.Length, j = 0;
        int w = Vector<double>.Count;
        if (Vector.IsHardwareAccelerated)
        {
            var ni = new Vector<double>(normI);
            var tol = new Vector<double>(CoincidenceTolerance);
            var scale = new Vector<double>(-invBandwidth);
            var two = new Vector<double>(2.0);
            for (; j <= n - w; j += w)
            {
                var c = new Vector<double>(row.Slice(j, w));
                var nj = new Vector<double>(normsJ.Slice(j, w));
                var sum = ni + nj;
                var d2 = sum - two * c;
                var coincident = Vector.LessThanOrEqual(d2, tol * sum);
                var d = Vector.SquareRoot(Vector.Max(d2, Vector<double>.Zero));
                var k = Vector.Exp(d * scale);
                var value = overDistance
                    ? Vector.ConditionalSelect(coincident, Vector<double>.Zero, k / d)
                    : Vector.ConditionalSelect(coincident, Vector<double>.One, k);
                value.CopyTo(row.Slice(j, w));
            }
        }
        for (; j < n; j++)
        {
            double sum = normI + normsJ[j];
            double d2 = sum - 2 * row[j];
            bool coincident = d2 <= CoincidenceTolerance * sum;
            double d = Math.Sqrt(Math.Max(d2, 0));
            double k = Math.Exp(-d * invBandwidth);
            row[j] = overDistance ? (coincident ? 0 : k / d) : (coincident ? 1 : k);
        }
    }
}
