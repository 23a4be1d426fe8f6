using System.Numerics.Tensors;
using Theory.Interop;
using Theory.Simulation.Data;

namespace Theory.Simulation.Training;

/// <summary>
/// The convolutional baseline of SCIENCE.md section 2: one layer of K filters of Q taps (1D) or Q x Q taps (2D),
/// circular padding, stride 1, the same activation, global average pooling and a readout v:
/// <c>phi(x) = sum_k v_k (1/D) sum_p g(lambda_kp)</c>, <c>lambda_kp = f_k . x_patch(p) / sqrt(q) + b_k</c>, with q the
/// number of taps and the patch at position p covering offsets -Q/2 .. Q - 1 - Q/2 (integer division) on each axis.
/// Trained by the same online SGD as <see cref="TwoLayerNetwork"/>, in the same half-MSE form:
/// <c>f += -W grad_f l</c>, <c>v += -(V / D) grad_v l</c>, <c>b += -(B / D) grad_b l</c>, l = (y - phi)^2 / 2.
/// Initial filters: N(0, InitStd^2) per tap from the <see cref="RngStream.InitialWeights"/> stream (filter k is
/// row k); readout and biases as the fully-connected network. <see cref="Step"/> allocates nothing.
/// </summary>
public sealed class ConvolutionalNetwork : IOnlineNetwork
{
    private readonly int[] _offsetX, _offsetY;
    private readonly double[] _shifted;   // q x D: the input rolled by each tap's offset
    private readonly double[] _lambda, _g, _gPrime; // K x D
    private readonly double[] _scaled;    // one filter divided by sqrt q
    private readonly double _invSqrtQ;

    public ConvolutionalNetwork(NetworkSpec spec, DataSpec data, int kernel, LearningRates rates, int seed)
        : this(spec, data, kernel, rates, InitialFilters(spec, data, kernel, seed), Initialisation.Readout(spec),
            Initialisation.Biases(spec))
    {
    }

    public ConvolutionalNetwork(NetworkSpec spec, DataSpec data, int kernel, LearningRates rates,
        ReadOnlySpan<double> filters, ReadOnlySpan<double> v, ReadOnlySpan<double> b)
    {
        if (kernel < 1 || kernel > data.Size)
            throw new SpecException("--kernel", $"must be in [1, {data.Size}] (the image side L; got {kernel})");
        Spec = spec;
        Data = data;
        Kernel = kernel;
        K = spec.K;
        D = data.D;
        Taps = data.Dim == 1 ? kernel : kernel * kernel;
        if (filters.Length != K * Taps || v.Length != K || b.Length != K)
            throw new ArgumentException($"parameters do not match K = {K} filters of {Taps} taps");
        Rates = rates;
        Activation = new ActivationFunction(spec);
        F = filters.ToArray();
        V = v.ToArray();
        B = b.ToArray();
        _offsetX = new int[Taps];
        _offsetY = new int[Taps];
        for (int j = 0; j < Taps; j++)
        {
            _offsetX[j] = (data.Dim == 1 ? j : j % kernel) - kernel / 2;
            _offsetY[j] = data.Dim == 1 ? 0 : j / kernel - kernel / 2;
        }
        _shifted = new double[Taps * D];
        _lambda = new double[K * D];
        _g = new double[K * D];
        _gPrime = new double[K * D];
        _scaled = new double[Taps];
        _invSqrtQ = 1.0 / Math.Sqrt(Taps);
    }

    public NetworkSpec Spec { get; }
    public DataSpec Data { get; }
    public int Kernel { get; }
    public int K { get; }
    public int D { get; }
    /// <summary>Number of taps q of one filter: Q (1D) or Q^2 (2D).</summary>
    public int Taps { get; }
    public LearningRates Rates { get; }
    public ActivationFunction Activation { get; }

    /// <summary>Filters, K x q row-major; tap j of a 2D filter is at row j / Q, column j % Q.</summary>
    public double[] F { get; }
    public double[] V { get; }
    public double[] B { get; }

    public ReadOnlySpan<double> UnitWeights(int k) => F.AsSpan(k * Taps, Taps);

    /// <summary>Offset (x, y) of tap j relative to the output position.</summary>
    public (int X, int Y) Offset(int j) => (_offsetX[j], _offsetY[j]);

    /// <summary>Initial filters of a seed: K x q entries N(0, InitStd^2), in order.</summary>
    public static double[] InitialFilters(NetworkSpec spec, DataSpec data, int kernel, int seed)
    {
        var rng = new Rng(seed, RngStream.InitialWeights);
        var f = new double[spec.K * (data.Dim == 1 ? kernel : kernel * kernel)];
        rng.FillGaussian(f);
        for (int i = 0; i < f.Length; i++) f[i] *= spec.InitStd;
        return f;
    }

    /// <summary>Fills the q rolled copies of x: <c>shifted[j][p] = x[p + offset_j]</c> (circular).</summary>
    private void Shift(ReadOnlySpan<double> x)
    {
        int L = Data.Size, d = D;
        for (int j = 0; j < Taps; j++)
        {
            var dst = _shifted.AsSpan(j * d, d);
            if (Data.Dim == 1)
            {
                int o = ((_offsetX[j] % L) + L) % L;
                x[o..].CopyTo(dst);
                x[..o].CopyTo(dst[(L - o)..]);
                continue;
            }
            int ox = ((_offsetX[j] % L) + L) % L, oy = ((_offsetY[j] % L) + L) % L;
            for (int row = 0; row < L; row++)
            {
                var src = x.Slice(((row + oy) % L) * L, L);
                var line = dst.Slice(row * L, L);
                src[ox..].CopyTo(line);
                src[..ox].CopyTo(line[(L - ox)..]);
            }
        }
    }

    /// <summary>Pre-activations of every filter at every position, then g and g' (into the scratch buffers).</summary>
    private void Forward(ReadOnlySpan<double> x)
    {
        Shift(x);
        int d = D;
        for (int k = 0; k < K; k++)
        {
            var lam = _lambda.AsSpan(k * d, d);
            lam.Fill(B[k]);
            TensorPrimitives.Multiply(F.AsSpan(k * Taps, Taps), _invSqrtQ, _scaled);
            for (int j = 0; j < Taps; j++)
                TensorPrimitives.MultiplyAdd(_shifted.AsSpan(j * d, d), _scaled[j], lam, lam);
        }
        Activation.Evaluate(_lambda, _g, _gPrime);
    }

    /// <summary>The output phi(x).</summary>
    public double Output(ReadOnlySpan<double> x)
    {
        Forward(x);
        double phi = 0;
        for (int k = 0; k < K; k++) phi += V[k] * TensorPrimitives.Sum(_g.AsSpan(k * D, D)) / D;
        return phi;
    }

    /// <summary>Pre-activations minus bias, <c>lambda_kp - b_k</c>, of the last <see cref="Output"/> call, K x D.</summary>
    public void LastPreActivations(Span<double> result)
    {
        for (int k = 0; k < K; k++)
            TensorPrimitives.Subtract(_lambda.AsSpan(k * D, D), B[k], result.Slice(k * D, D));
    }

    public double Step(ReadOnlySpan<double> x, double y)
    {
        int d = D;
        Forward(x);
        double phi = 0;
        for (int k = 0; k < K; k++) phi += V[k] * TensorPrimitives.Sum(_g.AsSpan(k * d, d)) / d;
        double delta = y - phi;
        bool trainV = Spec.Readout == Readout.Trained, trainB = Spec.BiasMode == BiasMode.Trained;
        for (int k = 0; k < K; k++)
        {
            double vk = V[k];
            var gp = _gPrime.AsSpan(k * d, d);
            // -grad_f l = delta v_k (1/D) sum_p g'(lambda_kp) x_patch(p) / sqrt q.
            double c = Rates.W * delta * vk / d * _invSqrtQ;
            var f = F.AsSpan(k * Taps, Taps);
            for (int j = 0; j < Taps; j++) f[j] += c * TensorPrimitives.Dot(gp, _shifted.AsSpan(j * d, d));
            if (trainB) B[k] += Rates.B / d * delta * vk * TensorPrimitives.Sum(gp) / d;
            if (trainV) V[k] = vk + Rates.V / d * delta * TensorPrimitives.Sum(_g.AsSpan(k * d, d)) / d;
        }
        return delta;
    }
}
