namespace Theory.Simulation.Kernels;

/// <summary>The average gradient outer product (SCIENCE.md section 6) of given gradients.</summary>
public static class GradientOuterProduct
{
    /// <summary>
    /// <c>G = (1/n) sum_p g_p g_p^T</c> for the n gradients in the rows of <paramref name="gradients"/> (n x d,
    /// row-major): a d x d symmetric matrix, computed as one symmetric rank-n update.
    /// </summary>
    /// <param name="gradients">n x d, row-major.</param>
    /// <param name="n">Number of gradients.</param>
    /// <param name="d">Their length.</param>
    /// <param name="la">Dense kernels.</param>
    /// <param name="centred">Subtract the mean gradient first (then G is the covariance of the gradients).</param>
    public static double[] Average(ReadOnlySpan<double> gradients, int n, int d, IDenseLinearAlgebra la, bool centred = false)
    {
        if (n < 1 || gradients.Length < n * d) throw new ArgumentException($"need {n} gradients of length {d}");
        var gt = new double[d * n];
        DenseLinearAlgebra.Transpose(n, d, gradients, d, gt, n);
        if (centred)
            for (int i = 0; i < d; i++)
            {
                var row = gt.AsSpan(i * n, n);
                System.Numerics.Tensors.TensorPrimitives.Subtract(row, System.Numerics.Tensors.TensorPrimitives.Sum<double>(row) / n, row);
            }
        var agop = new double[d * d];
        la.SyrkLower(d, n, 1.0 / n, gt, n, 0.0, agop, d);
        DenseLinearAlgebra.MirrorLowerToUpper(d, agop, d);
        return agop;
    }
}
