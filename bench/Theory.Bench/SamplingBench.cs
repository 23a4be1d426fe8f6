using System.Numerics;
using BenchmarkDotNet.Attributes;
using Theory.Interop;
using Theory.Simulation.Data;

namespace Theory.Bench;

/// <summary>
/// Images per second of the O(D log D) Fourier sampler against the dense O(D^2) sampler (the baseline: one factor
/// computed once, a matrix-vector product per image), at D = 400 (a ring of 400 pixels and a 20 x 20 torus), for
/// NLGP images and their Gaussian clone, one thread. One operation = one image (batches of 64 through NextBatch).
/// </summary>
[MemoryDiagnoser]
public class SamplingBench
{
    private const int Batch = 64;
    private ISampleSource _fourier = null!, _dense = null!;
    private double[] _xs = [];
    private readonly int[] _classes = new int[Batch];

    [Params(1, 2)]
    public int Dim { get; set; }

    [Params(InputKind.Nlgp, InputKind.Gp)]
    public InputKind Kind { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var task = new NlgpTask(new DataSpec { Dim = Dim, Size = Dim == 1 ? 400 : 20, Xi0 = 1, Xi1 = 3, Gain = 10 });
        _fourier = task.CreateSource(Kind, new Rng(1, RngStream.Training));
        _dense = task.CreateDenseSource(Kind, new Rng(1, RngStream.Training));
        _xs = new double[Batch * task.D];
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    public int Dense()
    {
        _dense.NextBatch(_xs, _classes);
        return _classes[0];
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public int Fourier()
    {
        _fourier.NextBatch(_xs, _classes);
        return _classes[0];
    }
}

/// <summary>The transforms behind the sampler: our FFT against MathNet's managed FFT (the baseline) at the default
/// sizes, length 400 (1D) and 20 x 20 (2D, by rows and columns), and a prime length 401 (Bluestein in both).
/// Each operation transforms a fresh copy of the same input (repeated in-place transforms would overflow).</summary>
[MemoryDiagnoser]
public class SamplingFftBench
{
    private Complex[] _input = [], _data = [], _scratch = [];
    private Fft _fft = null!;
    private Fft2D _fft2 = new(20, 20);
    private readonly MathNet.Numerics.IntegralTransforms.FourierOptions _options = MathNet.Numerics.IntegralTransforms.FourierOptions.NoScaling;

    [Params(400, 401)]
    public int N { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _fft = new Fft(N);
        _data = new Complex[N];
        _input = new Complex[N];
        var rng = new Rng(1, 0);
        for (int i = 0; i < N; i++) _input[i] = new Complex(rng.NextGaussian(), rng.NextGaussian());
        _scratch = new Complex[Math.Max(_fft.ScratchLength(), _fft2.ScratchLength)];
    }

    [Benchmark(Baseline = true)]
    public Complex MathNetFft()
    {
        _input.CopyTo(_data, 0);
        MathNet.Numerics.IntegralTransforms.Fourier.Forward(_data, _options);
        return _data[1];
    }

    [Benchmark]
    public Complex Ours()
    {
        _input.CopyTo(_data, 0);
        _fft.Forward(_data, 1, _scratch);
        return _data[1];
    }

    [Benchmark]
    public Complex Ours2D20x20()
    {
        _input.CopyTo(_data, 0);
        _fft2.Forward(_data, _scratch);
        return _data[1];
    }
}

/// <summary>Standard normals, 400 per operation: the ziggurat of <see cref="Rng.FillGaussian"/> against Marsaglia's
/// polar method on the same xoshiro256** stream (the baseline).</summary>
public class SamplingGaussianBench
{
    private readonly double[] _buffer = new double[400];
    private readonly Rng _rng = new(1, 0);

    [Benchmark(Baseline = true)]
    public double Polar()
    {
        for (int i = 0; i < _buffer.Length; i += 2)
        {
            double u, v, s;
            do
            {
                u = 2.0 * _rng.NextDouble() - 1.0;
                v = 2.0 * _rng.NextDouble() - 1.0;
                s = u * u + v * v;
            } while (s >= 1.0 || s == 0.0);
            double f = Math.Sqrt(-2.0 * Math.Log(s) / s);
            _buffer[i] = u * f;
            _buffer[i + 1] = v * f;
        }
        return _buffer[0];
    }

    [Benchmark]
    public double Ziggurat()
    {
        _rng.FillGaussian(_buffer);
        return _buffer[0];
    }
}
