using Theory.Interop;
using Theory.Simulation.Data;
using Theory.Simulation.Training;

namespace Theory.Simulation.Analysis;

/// <summary>Everything measured on a two-layer network at one logged time (SCIENCE.md section 3).</summary>
/// <param name="Step">SGD steps done.</param>
/// <param name="T">Time steps / D.</param>
/// <param name="Test">Test error, accuracy and per-class pre-activation kurtosis.</param>
/// <param name="Ipr">Per unit: inverse participation ratio of w_k.</param>
/// <param name="Width">Per unit: receptive-field width (FWHM of |w_k| around its peak, pixels).</param>
/// <param name="Centre">Per unit: receptive-field centre (energy-weighted circular mean).</param>
/// <param name="Peak">Per unit: the pixel of largest |w_k|.</param>
/// <param name="Concentration">Per unit: fraction of the weight energy within one width of the peak.</param>
/// <param name="NormSquared">Per unit: <c>|w_k|^2 / D</c>.</param>
/// <param name="OrderParameters">Q^a from the weights and the exact class covariances, v and b.</param>
public sealed record NetworkMeasurement(
    long Step,
    double T,
    TestEvaluation Test,
    double[] Ipr,
    double[] Width,
    RfCentre[] Centre,
    int[] Peak,
    double[] Concentration,
    double[] NormSquared,
    OrderParameters OrderParameters);

/// <summary>
/// The two populations of hidden units that the initial biases create: <c>pos</c> (initial bias &gt; 0, the first
/// K/2 units by default), <c>neg</c> (initial bias &lt; 0) and <c>zero</c> (no bias).
/// </summary>
public static class Populations
{
    public const string Positive = "pos";
    public const string Negative = "neg";
    public const string Zero = "zero";

    public static string Of(NetworkSpec net, int k)
    {
        double b = net.InitialBias(k);
        return b > 0 ? Positive : b < 0 ? Negative : Zero;
    }

    /// <summary>The units of a population, in order.</summary>
    public static int[] Members(NetworkSpec net, string population)
    {
        var list = new List<int>();
        for (int k = 0; k < net.K; k++)
            if (Of(net, k) == population) list.Add(k);
        return list.ToArray();
    }

    /// <summary>The populations present in the network: pos and neg with biases, zero without.</summary>
    public static string[] Present(NetworkSpec net)
    {
        var list = new List<string>();
        foreach (var p in new[] { Positive, Negative, Zero })
            if (Members(net, p).Length > 0) list.Add(p);
        return list.ToArray();
    }
}

/// <summary>Measures a network on a fixed test set and against the exact class covariances.</summary>
public sealed class NetworkMeter
{
    private readonly OrderParameterMeter _op;

    public NetworkMeter(NlgpTask task, TestSet testSet)
    {
        Geometry = task.Geometry;
        TestSet = testSet;
        _op = new OrderParameterMeter(task);
    }

    public ImageGeometry Geometry { get; }
    public TestSet TestSet { get; }

    public NetworkMeasurement Measure(long step, double t, TwoLayerNetwork net)
    {
        int k = net.K, d = net.D;
        var ipr = new double[k];
        var width = new double[k];
        var centre = new RfCentre[k];
        var norm = new double[k];
        var conc = new double[k];
        var peak = new int[k];
        for (int u = 0; u < k; u++)
        {
            var w = net.Unit(u);
            ipr[u] = ReceptiveField.Ipr(w);
            width[u] = ReceptiveField.Width(w, Geometry);
            centre[u] = ReceptiveField.Centre(w, Geometry);
            conc[u] = ReceptiveField.Concentration(w, Geometry);
            peak[u] = ReceptiveField.Peak(w);
            norm[u] = System.Numerics.Tensors.TensorPrimitives.Dot<double>(w, w) / d;
        }
        return new NetworkMeasurement(step, t, TestSet.Evaluate(net), ipr, width, centre, peak, conc, norm,
            _op.Measure(net.W, net.V, net.B));
    }
}
