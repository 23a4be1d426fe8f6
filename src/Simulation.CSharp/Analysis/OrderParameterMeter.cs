using System.Numerics.Tensors;
using Theory.Interop;
using Theory.Simulation.Data;

namespace Theory.Simulation.Analysis;

/// <summary>
/// Order parameters of a two-layer network from its weights and the exact class covariances
/// (SCIENCE.md section 3): <c>Q^a_kl = w_k^T S_a w_l / D</c> for both classes, plus v and b. The classes of the
/// NLGP task are zero-mean, so there is no M. Not thread-safe (one scratch vector per instance).
/// </summary>
public sealed class OrderParameterMeter
{
    private readonly NlgpTask _task;
    private readonly double[] _sw;

    public OrderParameterMeter(NlgpTask task)
    {
        _task = task;
        _sw = new double[task.D];
    }

    /// <summary>Order parameters of the K x D weights <paramref name="w"/> (row-major), readout v and biases b.</summary>
    public OrderParameters Measure(ReadOnlySpan<double> w, ReadOnlySpan<double> v, ReadOnlySpan<double> b)
    {
        int d = _task.D, k = v.Length;
        if (w.Length != k * d) throw new ArgumentException($"weights of length {w.Length} are not K x D = {k} x {d}");
        var q = new double[2][];
        for (int a = 0; a < 2; a++)
        {
            q[a] = new double[k * k];
            for (int l = 0; l < k; l++)
            {
                _task.ApplyInputCovariance(a, w.Slice(l * d, d), _sw);
                for (int i = 0; i <= l; i++)
                {
                    double x = TensorPrimitives.Dot(w.Slice(i * d, d), _sw) / d;
                    q[a][i * k + l] = x;
                    q[a][l * k + i] = x;
                }
            }
        }
        return new OrderParameters(k, q, null, null, v.ToArray(), b.ToArray());
    }
}
