namespace Theory.Simulation.Analysis;

/// <summary>Sample moments used by the measurements.</summary>
public static class Moments
{
    /// <summary>
    /// Excess kurtosis <c>m4 / m2^2 - 3</c> of the values, with central moments about their sample mean
    /// (two passes, so a large mean does not cost precision). 0 for a Gaussian, -2 for a symmetric sign,
    /// -1.2 for a uniform variable. Its sampling error for Gaussian data is about <c>sqrt(24 / n)</c>.
    /// </summary>
    public static double ExcessKurtosis(ReadOnlySpan<double> values)
    {
        int n = values.Length;
        if (n < 2) return double.NaN;
        double mean = 0;
        for (int i = 0; i < n; i++) mean += values[i];
        mean /= n;
        double m2 = 0, m4 = 0;
        for (int i = 0; i < n; i++)
        {
            double d = values[i] - mean, q = d * d;
            m2 += q;
            m4 += q * q;
        }
        m2 /= n;
        m4 /= n;
        return m2 > 0 ? m4 / (m2 * m2) - 3.0 : double.NaN;
    }
}
