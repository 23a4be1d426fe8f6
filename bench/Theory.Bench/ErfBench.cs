using BenchmarkDotNet.Attributes;
using Theory.Simulation.Data;

namespace Theory.Bench;

/// <summary>
/// erf of 400 values per operation: <see cref="FastMath.Erf(ReadOnlySpan{double}, Span{double})"/> (vectorised,
/// absolute error below 1e-15) against MathNet's scalar <c>SpecialFunctions.Erf</c> (the baseline). Inputs: N(0, 1)
/// (mostly the small-|x| polynomial) and N(0, 50) (g z / sqrt 2 at gain 10: mostly the tail branch), plus the
/// fused erf activation with its derivative.
/// </summary>
public class ErfBench
{
    private readonly double[] _x = new double[400], _y = new double[400], _dy = new double[400];

    [Params(1.0, 7.0710678118654755)]
    public double Scale { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        new Rng(3, 0).FillGaussian(_x);
        for (int i = 0; i < _x.Length; i++) _x[i] *= Scale;
    }

    [Benchmark(Baseline = true)]
    public double MathNetScalar()
    {
        for (int i = 0; i < _x.Length; i++) _y[i] = MathNet.Numerics.SpecialFunctions.Erf(_x[i]);
        return _y[0];
    }

    [Benchmark]
    public double FastMathSpan()
    {
        FastMath.Erf(_x, _y);
        return _y[0];
    }

    [Benchmark]
    public double FastMathScalar()
    {
        for (int i = 0; i < _x.Length; i++) _y[i] = FastMath.Erf(_x[i]);
        return _y[0];
    }

    [Benchmark]
    public double ErfActivationWithDerivative()
    {
        FastMath.ErfActivation(_x, _y, _dy);
        return _y[0] + _dy[0];
    }
}
