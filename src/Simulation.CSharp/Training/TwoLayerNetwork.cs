using System.Numerics.Tensors;
using Theory.Interop;

namespace Theory.Simulation.Training;

/// <summary>
/// The two-layer network <c>phi(x) = sum_k v_k g(lambda_k)</c>, <c>lambda_k = w_k . x / sqrt D + b_k</c>
/// (SCIENCE.md section 2), with its online SGD step in the half-MSE form
/// <c>w_k += (W / sqrt D) v_k g'(lambda_k) (y - phi) x</c>, <c>v_k += (V / D) g(lambda_k) (y - phi)</c>,
/// <c>b_k += (B / D) v_k g'(lambda_k) (y - phi)</c>, the rates <see cref="LearningRates"/> resolved from either
/// convention. <see cref="Step"/> allocates nothing. Not thread-safe (scratch buffers are per instance).
/// </summary>
public sealed class TwoLayerNetwork : IOnlineNetwork
{
    private readonly double[] _lambda, _g, _gPrime, _coef;
    private readonly double _invSqrtD;

    /// <summary>A network in the initial state of <paramref name="seed"/> (<see cref="Initialisation"/>).</summary>
    public TwoLayerNetwork(NetworkSpec spec, int d, LearningRates rates, int seed)
        : this(spec, d, rates, Initialisation.Weights(spec, d, seed), Initialisation.Readout(spec), Initialisation.Biases(spec))
    {
    }

    /// <summary>A network with the given parameters (copied).</summary>
    public TwoLayerNetwork(NetworkSpec spec, int d, LearningRates rates, ReadOnlySpan<double> w, ReadOnlySpan<double> v,
        ReadOnlySpan<double> b)
    {
        Spec = spec;
        D = d;
        K = spec.K;
        if (w.Length != K * d || v.Length != K || b.Length != K)
            throw new ArgumentException($"parameters do not match K = {K}, D = {d}");
        Rates = rates;
        Activation = new ActivationFunction(spec);
        W = w.ToArray();
        V = v.ToArray();
        B = b.ToArray();
        _lambda = new double[K];
        _g = new double[K];
        _gPrime = new double[K];
        _coef = new double[K];
        _invSqrtD = 1.0 / Math.Sqrt(d);
        TrainReadout = spec.Readout == Readout.Trained;
        TrainBias = spec.BiasMode == BiasMode.Trained;
    }

    public NetworkSpec Spec { get; }
    public int D { get; }
    public int K { get; }
    public LearningRates Rates { get; }
    public ActivationFunction Activation { get; }
    public bool TrainReadout { get; }
    public bool TrainBias { get; }

    /// <summary>First-layer weights, K x D row-major (unit k is row k). Mutated in place by <see cref="Step"/>.</summary>
    public double[] W { get; }

    /// <summary>Readout weights v (length K).</summary>
    public double[] V { get; }

    /// <summary>Biases b (length K).</summary>
    public double[] B { get; }

    /// <summary>Weights of unit k.</summary>
    public Span<double> Unit(int k) => W.AsSpan(k * D, D);

    ReadOnlySpan<double> IOnlineNetwork.UnitWeights(int k) => W.AsSpan(k * D, D);

    /// <summary>Pre-activations <c>lambda_k = w_k . x / sqrt D + b_k</c> into <paramref name="lambda"/> (length K).</summary>
    public void PreActivations(ReadOnlySpan<double> x, Span<double> lambda)
    {
        for (int k = 0; k < K; k++) lambda[k] = TensorPrimitives.Dot(W.AsSpan(k * D, D), x) * _invSqrtD + B[k];
    }

    /// <summary>The output phi(x).</summary>
    public double Output(ReadOnlySpan<double> x)
    {
        PreActivations(x, _lambda);
        Activation.Evaluate(_lambda, _g, _gPrime);
        return TensorPrimitives.Dot<double>(V, _g);
    }

    /// <summary>
    /// One online SGD step on the sample (x, y). All updates use the parameters before the step (a plain gradient
    /// step). Returns the error <c>y - phi(x)</c> before the step; the caller checks it for divergence.
    /// </summary>
    public double Step(ReadOnlySpan<double> x, double y)
    {
        int d = D;
        var lambda = _lambda.AsSpan();
        var g = _g.AsSpan();
        var gp = _gPrime.AsSpan();
        var w = W.AsSpan();
        FusedKernels.DotRows(w, K, d, x, lambda);
        for (int k = 0; k < K; k++) lambda[k] = lambda[k] * _invSqrtD + B[k];
        Activation.Evaluate(lambda, g, gp);
        double phi = 0;
        for (int k = 0; k < K; k++) phi += V[k] * g[k];
        double delta = y - phi;

        // All updates from the parameters before the step; the first-layer coefficients go to _coef.
        double cw = Rates.W * _invSqrtD * delta, cb = Rates.B / d * delta, cv = Rates.V / d * delta;
        var coef = _coef.AsSpan();
        for (int k = 0; k < K; k++)
        {
            double vk = V[k], common = vk * gp[k];
            coef[k] = cw * common;
            if (TrainBias) B[k] += cb * common;
            if (TrainReadout) V[k] = vk + cv * g[k];
        }
        FusedKernels.AddScaledRows(w, K, d, x, coef);
        return delta;
    }

    /// <summary>Squared norms <c>|w_k|^2</c> into <paramref name="result"/> (length K).</summary>
    public void SquaredNorms(Span<double> result)
    {
        for (int k = 0; k < K; k++)
        {
            var wk = W.AsSpan(k * D, D);
            result[k] = TensorPrimitives.Dot<double>(wk, wk);
        }
    }

    /// <summary>Overwrites the parameters (for example to restart from the initial state).</summary>
    public void SetParameters(ReadOnlySpan<double> w, ReadOnlySpan<double> v, ReadOnlySpan<double> b)
    {
        w.CopyTo(W);
        v.CopyTo(V);
        b.CopyTo(B);
    }

    /// <summary>A deep copy (for snapshots and tests).</summary>
    public TwoLayerNetwork Clone() => new(Spec, D, Rates, W, V, B);
}
