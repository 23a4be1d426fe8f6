using BenchmarkDotNet.Attributes;
using Theory.Gaussian;
using Theory.Get;
using Theory.Interop;

namespace Theory.Bench;

/// <summary>
/// The theory engine's hot paths: one right-hand side of the default `theory integrate` problem (2D, L = 20, K = 8,
/// erf, trained biases: 66 modes, 2,384 states; two classes, sequential or in parallel), the erf expectations of
/// one class with biases, the ReLU expectations (closed forms + pre-integrated lattice for H), and bivariate normal
/// CDFs one by one against the vectorised batch.
/// Run: dotnet fsi build.fsx bench --filter '*GetBench*'
/// </summary>
[MemoryDiagnoser]
public class GetBench
{
    private Dynamics _sequential = null!, _parallel = null!;
    private double[] _y = null!, _dy = null!;
    private Fields _fields = null!;
    private Moments _moments = null!;
    private Expectations _erf = null!, _relu = null!;
    private readonly double[] _h = new double[36], _k = new double[36], _r = new double[36], _ph = new double[36], _pk = new double[36];
    private readonly Normal.BivariateBatch _batch = new(36);

    [GlobalSetup]
    public void Setup()
    {
        var problem = Engine.nlgpProblem(new DataSpec(), new NetworkSpec(), new TrainingSpec(), QuadratureSettingsModule.defaults, true);
        _sequential = new Dynamics(problem.System, problem.Initial.Readout, problem.Initial.Biases, false);
        _parallel = new Dynamics(problem.System, problem.Initial.Readout, problem.Initial.Biases, true);
        // A state after some training (t = 10), where correlations have grown.
        _y = Engine.stateAt(problem.System, problem.Initial, 10.0);
        _dy = new double[_y.Length];

        var rng = new Random(3);
        _fields = new Fields(8, 8);
        for (int i = 0; i < 8; i++)
        {
            for (int j = 0; j < 8; j++)
            {
                double s = 0;
                for (int l = 0; l < 8; l++) s += (rng.NextDouble() - 0.5) * (rng.NextDouble() - 0.5);
                _fields.Cov[i * 8 + j] = _fields.Cov[j * 8 + i] = i == j ? 2.0 : 0.3 * s;
            }
            _fields.Mean[i] = i < 4 ? 1.0 : -1.0;
            _fields.Coef[i] = -1.0 / 8;
        }
        _fields.Constant = 1.0;
        _moments = new Moments(8, 8);
        _erf = ExpectationsModule.create(ActivationFunction.Erf, QuadratureSettingsModule.defaults, 8, 8);
        _relu = ExpectationsModule.create(ActivationFunction.Relu, QuadratureSettingsModule.defaults, 8, 8);
        for (int i = 0; i < 36; i++)
        {
            _h[i] = 4 * rng.NextDouble() - 2;
            _k[i] = 4 * rng.NextDouble() - 2;
            _r[i] = 1.8 * rng.NextDouble() - 0.9;
            _ph[i] = Normal.cdf(_h[i]);
            _pk[i] = Normal.cdf(_k[i]);
        }
    }

    [Benchmark(Baseline = true)]
    public double RhsDefaultProblem()
    {
        _sequential.Rhs(_y, _dy);
        return _dy[0];
    }

    [Benchmark]
    public double RhsDefaultProblemParallelClasses()
    {
        _parallel.Rhs(_y, _dy);
        return _dy[0];
    }

    [Benchmark]
    public double ErfMomentsWithBiasesK8()
    {
        _erf.Compute(_fields, _moments);
        return _moments.Delta2;
    }

    [Benchmark]
    public double ReluMomentsK8()
    {
        _relu.Compute(_fields, _moments);
        return _moments.Delta2;
    }

    [Benchmark]
    public double Phi2Scalar36()
    {
        double s = 0;
        for (int i = 0; i < 36; i++) s += Normal.bivariateCdfWith(_ph[i], _pk[i], _h[i], _k[i], _r[i]);
        return s;
    }

    [Benchmark]
    public double Phi2Batch36()
    {
        _batch.Clear();
        for (int i = 0; i < 36; i++) _batch.Add(_ph[i], _pk[i], _h[i], _k[i], _r[i]);
        _batch.Compute();
        return _batch.Result(0);
    }
}
