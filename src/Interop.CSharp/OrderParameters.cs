namespace Theory.Interop;

/// <summary>
/// Order parameters of a two-layer network (SCIENCE.md sections 3 and 4), shared by simulation and theory so that
/// both write the same columns. Matrices are row-major flat arrays.
/// </summary>
/// <param name="K">Number of hidden units.</param>
/// <param name="Q">Per class a: <c>Q^a_kl = w_k^T S_a w_l / D</c>, K x K.</param>
/// <param name="M">Per class a: <c>M^a_k = w_k . mu_a / sqrt D</c> (null when all classes are zero-mean).</param>
/// <param name="R">Student-teacher overlaps <c>R_km = w_k^T S w*_m / D</c>, K x Kt (null without a teacher).</param>
/// <param name="V">Readout weights, length K.</param>
/// <param name="B">Biases, length K.</param>
public sealed record OrderParameters(int K, double[][] Q, double[][]? M, double[]? R, double[] V, double[] B)
{
    public int Classes => Q.Length;

    public double Qkl(int a, int k, int l) => Q[a][k * K + l];
}

/// <summary>
/// Column names of trajectory tables (snake_case, 0-based indices): <c>q{a}_{k}_{l}</c> for k &lt;= l,
/// <c>m{a}_{k}</c>, <c>v_{k}</c>, <c>b_{k}</c>. Simulation and theory use the same names so that files overlay.
/// </summary>
public static class OrderParameterColumns
{
    public static IEnumerable<string> Names(int k, int classes, bool means = false)
    {
        for (int a = 0; a < classes; a++)
            for (int i = 0; i < k; i++)
                for (int j = i; j < k; j++)
                    yield return $"q{a}_{i}_{j}";
        if (means)
            for (int a = 0; a < classes; a++)
                for (int i = 0; i < k; i++)
                    yield return $"m{a}_{i}";
        for (int i = 0; i < k; i++) yield return $"v_{i}";
        for (int i = 0; i < k; i++) yield return $"b_{i}";
    }

    /// <summary>Values in the order of <see cref="Names"/>.</summary>
    public static IEnumerable<double> Values(OrderParameters op, bool means = false)
    {
        int k = op.K;
        for (int a = 0; a < op.Classes; a++)
            for (int i = 0; i < k; i++)
                for (int j = i; j < k; j++)
                    yield return op.Q[a][i * k + j];
        if (means)
            for (int a = 0; a < op.Classes; a++)
                for (int i = 0; i < k; i++)
                    yield return op.M is null ? 0.0 : op.M[a][i];
        foreach (var v in op.V) yield return v;
        foreach (var b in op.B) yield return b;
    }
}
