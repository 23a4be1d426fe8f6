using Theory.Interop;
using Theory.Simulation.Data;

namespace Theory.Simulation.Training;

/// <summary>
/// The initial state of a two-layer network for a seed. The simulator and the ODE engine both call this, so that
/// a theory curve and a simulation with the same seed start from exactly the same weights.
/// </summary>
public static class Initialisation
{
    /// <summary>First-layer weights W, K x D row-major (unit k is row k), entries N(0, InitStd^2), drawn in order from
    /// the <see cref="RngStream.InitialWeights"/> stream of <paramref name="seed"/>.</summary>
    public static double[] Weights(NetworkSpec net, int d, int seed)
    {
        var rng = new Rng(seed, RngStream.InitialWeights);
        var w = new double[net.K * d];
        rng.FillGaussian(w);
        for (int i = 0; i < w.Length; i++) w[i] *= net.InitStd;
        return w;
    }

    /// <summary>Readout weights v: every entry <see cref="NetworkSpec.ReadoutValue"/>.</summary>
    public static double[] Readout(NetworkSpec net)
    {
        var v = new double[net.K];
        Array.Fill(v, net.ReadoutValue);
        return v;
    }

    /// <summary>Biases b: +B on the first K/2 units, -B on the rest (zero without biases).</summary>
    public static double[] Biases(NetworkSpec net)
    {
        var b = new double[net.K];
        for (int k = 0; k < net.K; k++) b[k] = net.InitialBias(k);
        return b;
    }
}
