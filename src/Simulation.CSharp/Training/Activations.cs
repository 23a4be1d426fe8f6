using System.Runtime.CompilerServices;
using Theory.Interop;

namespace Theory.Simulation.Training;

/// <summary>
/// The hidden-unit activations of SCIENCE.md section 2 and their derivatives, evaluated over the K pre-activations
/// of one step at once (one switch per step, not per unit).
/// </summary>
public readonly struct ActivationFunction
{
    private readonly double _alpha, _beta;

    public ActivationFunction(Activation kind, double cubicAlpha = 1.0, double cubicBeta = 1.0)
    {
        Kind = kind;
        _alpha = cubicAlpha;
        _beta = cubicBeta;
    }

    public ActivationFunction(NetworkSpec net) : this(net.Activation, net.CubicAlpha, net.CubicBeta) { }

    public Activation Kind { get; }

    /// <summary>g(h) and g'(h) for every entry of <paramref name="h"/> (spans of equal length; no allocation).</summary>
    public void Evaluate(ReadOnlySpan<double> h, Span<double> g, Span<double> gPrime)
    {
        switch (Kind)
        {
            case Activation.Erf:
                // g(h) = erf(h / sqrt 2), g'(h) = sqrt(2/pi) exp(-h^2/2), both in one vectorised pass.
                Theory.Simulation.Data.FastMath.ErfActivation(h, g, gPrime);
                break;
            case Activation.Relu:
                for (int i = 0; i < h.Length; i++)
                {
                    bool on = h[i] > 0;
                    g[i] = on ? h[i] : 0.0;
                    gPrime[i] = on ? 1.0 : 0.0;
                }
                break;
            case Activation.Sigmoid:
                for (int i = 0; i < h.Length; i++)
                {
                    double s = 1.0 / (1.0 + Math.Exp(-h[i]));
                    g[i] = s;
                    gPrime[i] = s * (1.0 - s);
                }
                break;
            case Activation.Linear:
                for (int i = 0; i < h.Length; i++)
                {
                    g[i] = h[i];
                    gPrime[i] = 1.0;
                }
                break;
            case Activation.Cubic:
                // alpha h - (beta/3) h^3 (SCIENCE.md section 5), derivative alpha - beta h^2.
                for (int i = 0; i < h.Length; i++)
                {
                    double x = h[i];
                    g[i] = _alpha * x - _beta / 3.0 * x * x * x;
                    gPrime[i] = _alpha - _beta * x * x;
                }
                break;
            default:
                throw new InvalidOperationException($"unknown activation {Kind}");
        }
    }

    /// <summary>g(h) for one value (test and analysis code; the training loop uses <see cref="Evaluate"/>).</summary>
    public double Value(double h)
    {
        Span<double> x = stackalloc double[1], g = stackalloc double[1], gp = stackalloc double[1];
        x[0] = h;
        Evaluate(x, g, gp);
        return g[0];
    }

    /// <summary>g'(h) for one value.</summary>
    public double Derivative(double h)
    {
        Span<double> x = stackalloc double[1], g = stackalloc double[1], gp = stackalloc double[1];
        x[0] = h;
        Evaluate(x, g, gp);
        return gp[0];
    }
}
