using BenchmarkDotNet.Attributes;
using Theory.Simulation.Data;

namespace Theory.Bench;

/// <summary>Normal deviates: our xoshiro256** ziggurat against System.Random + Box-Muller.</summary>
[MemoryDiagnoser]
public class RngBench
{
    private readonly double[] _buffer = new double[400];
    private readonly Rng _rng = new(1, 0);
    private readonly Random _random = new(1);

    [Benchmark(Baseline = true)]
    public double SystemRandomBoxMuller()
    {
        for (int i = 0; i < _buffer.Length; i++)
            _buffer[i] = Math.Sqrt(-2 * Math.Log(1 - _random.NextDouble())) * Math.Cos(2 * Math.PI * _random.NextDouble());
        return _buffer[0];
    }

    [Benchmark]
    public double XoshiroZiggurat()
    {
        _rng.FillGaussian(_buffer);
        return _buffer[0];
    }
}
