using BenchmarkDotNet.Attributes;
using Theory.Interop;
using Theory.Simulation.Data;
using Theory.Simulation.Training;

namespace Theory.Bench;

/// <summary>
/// One online SGD step of the two-layer network at D = 400 (20 x 20 torus), K = 8, erf: the update alone (on
/// pre-drawn samples) and the whole step with a fresh NLGP sample. Results are per step (1024 steps per
/// invocation); MemoryDiagnoser must report 0 B allocated.
/// </summary>
[MemoryDiagnoser]
public class SgdBench
{
    private const int Steps = 1024;
    private NlgpTask _task = null!;
    private TwoLayerNetwork _net = null!, _start = null!;
    private ISampleSource _source = null!;
    private double[] _bank = null!, _labels = null!, _x = null!;

    [Params(Readout.MeanField, Readout.Trained)]
    public Readout Readout { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _task = new NlgpTask(new DataSpec());
        var net = new NetworkSpec { Readout = Readout };
        var training = new TrainingSpec();
        _net = new TwoLayerNetwork(net, _task.D, LearningRates.Resolve(training, net), 0);
        _start = _net.Clone();
        _source = _task.CreateSource(InputKind.Nlgp, new Rng(0, RngStream.Training));
        int d = _task.D;
        _x = new double[d];
        _bank = new double[Steps * d];
        _labels = new double[Steps];
        for (int i = 0; i < Steps; i++) _labels[i] = DataSpec.Label(_source.Next(_bank.AsSpan(i * d, d)));
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Steps)]
    public double UpdateOnly()
    {
        int d = _task.D;
        double s = 0;
        // Restart from the initial weights so that cycling the bank of samples does not overfit it.
        _net.SetParameters(_start.W, _start.V, _start.B);
        for (int i = 0; i < Steps; i++) s += _net.Step(_bank.AsSpan(i * d, d), _labels[i]);
        return s;
    }

    [Benchmark(OperationsPerInvoke = Steps)]
    public double SampleAndUpdate()
    {
        double s = 0;
        for (int i = 0; i < Steps; i++)
        {
            int a = _source.Next(_x);
            s += _net.Step(_x, DataSpec.Label(a));
        }
        return s;
    }
}
