using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using MathNet.Numerics.LinearAlgebra;
using Theory.Interop;

namespace Theory.Simulation.Data;

/// <summary>
/// The O(D log D) sampler of a periodic task (SCIENCE.md section 1, fast sampling). With eta a vector of D
/// independent standard complex normals (real and imaginary parts N(0, 1)) and lambda_f the eigenvalues of the
/// circulant covariance, <c>w = DFT( sqrt(lambda / D) eta )</c> has <c>E[w w^*] = 2 C</c> and <c>E[w w^T] = 0</c>, so
/// Re w and Im w are two independent N(0, C) fields: one complex transform and D normals per image. NLGP images are
/// <c>erf(g z / sqrt 2) / sqrt(gamma(g))</c> of latent fields (the factor g / sqrt 2 is folded into the
/// amplitudes); clone images are drawn the same way from the eigenvalues of the exact input covariance S.
/// <para>The second field of each pair is kept for the next image of the same class, so an image costs one
/// transform of half the work; the random stream is consumed in the order of the calls, and
/// <see cref="ISampleSource.NextBatch"/> equals the same number of <see cref="Next"/> calls.</para>
/// </summary>
internal sealed class FourierSource : IResumableSampleSource
{
    private readonly NlgpTask _task;
    private readonly Rng _rng;
    private readonly bool _erf;
    private readonly double _outScale;
    private readonly double[][] _amplitude = new double[2][]; // per class, interleaved (re, im) for the 2D doubles
    private readonly Complex[] _field;
    private readonly Complex[] _scratch;
    private readonly double[][] _spare = [[], []];
    private readonly bool[] _hasSpare = new bool[2];

    public FourierSource(NlgpTask task, InputKind kind, Rng rng)
    {
        _task = task;
        _rng = rng;
        Kind = kind;
        int d = task.D;
        double g = task.Spec.Gain;
        _erf = kind == InputKind.Nlgp && g > 0;
        _outScale = _erf ? 1.0 / Math.Sqrt(Nlgp.Gamma(g)) : 1.0;
        double inScale = _erf ? g * FastMath.InvSqrt2 : 1.0;
        for (int a = 0; a < 2; a++)
        {
            // NLGP: latent eigenvalues; clone (and the g = 0 NLGP, which is its own latent field): input eigenvalues.
            var lambda = kind == InputKind.Nlgp ? task.LatentSpectrumUnsafe(a) : task.InputSpectrumUnsafe(a);
            var amp = new double[2 * d];
            for (int f = 0; f < d; f++) amp[2 * f] = amp[2 * f + 1] = inScale * Math.Sqrt(lambda[f] / d);
            _amplitude[a] = amp;
            _spare[a] = new double[d];
        }
        _field = new Complex[d];
        _scratch = new Complex[task.ScratchLength];
    }

    public InputKind Kind { get; }

    public int D => _task.D;

    public int Next(Span<double> x)
    {
        int a = _rng.NextBool() ? 1 : 0;
        NextOfClass(a, x);
        return a;
    }

    public void NextOfClass(int a, Span<double> x)
    {
        int d = _task.D;
        if (x.Length < d) throw new ArgumentException($"x must hold D = {d} values", nameof(x));
        if (_hasSpare[a])
        {
            _spare[a].CopyTo(x);
            _hasSpare[a] = false;
            return;
        }
        var values = MemoryMarshal.Cast<Complex, double>(_field.AsSpan());
        _rng.FillGaussian(values);
        TensorPrimitives.Multiply(values, _amplitude[a], values);
        _task.Forward(_field, _scratch);
        if (_erf) FastMath.Erf(values, values, 1.0, _outScale);
        var spare = _spare[a];
        for (int i = 0; i < d; i++)
        {
            x[i] = values[2 * i];
            spare[i] = values[2 * i + 1];
        }
        _hasSpare[a] = true;
    }

    public SampleSourceState ExportState() =>
        new(_rng.ExportState(), [_hasSpare[0] ? (double[])_spare[0].Clone() : null,
            _hasSpare[1] ? (double[])_spare[1].Clone() : null]);

    public void ImportState(SampleSourceState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Spare is not { Length: 2 }) throw new ArgumentException("a sampler state has one buffer slot per class", nameof(state));
        for (int a = 0; a < 2; a++)
            if (state.Spare[a] is { } s && s.Length != _task.D)
                throw new ArgumentException($"the buffered image of class {a} has {s.Length} pixels, not D = {_task.D}", nameof(state));
        _rng.ImportState(state.Rng);
        for (int a = 0; a < 2; a++)
        {
            _hasSpare[a] = state.Spare[a] is not null;
            if (state.Spare[a] is { } s) s.CopyTo(_spare[a], 0);
        }
    }
}

/// <summary>
/// The dense reference sampler: <c>x = F xi</c> with <c>F F^T</c> the latent covariance (NLGP, followed by the erf
/// map) or the input covariance (clone); O(D^2) per image. Used with open boundaries, and as the baseline of the
/// Fourier sampler in tests and benchmarks.
/// </summary>
internal sealed class DenseSource : IResumableSampleSource
{
    private readonly DenseFactor[] _factors;
    private readonly Rng _rng;
    private readonly double[] _xi;
    private readonly bool _erf;
    private readonly double _inScale, _outScale;

    public DenseSource(NlgpTask task, InputKind kind, DenseFactor class0, DenseFactor class1, Rng rng)
    {
        _factors = [class0, class1];
        _rng = rng;
        D = task.D;
        _xi = new double[D];
        double g = task.Spec.Gain;
        _erf = kind == InputKind.Nlgp && g > 0;
        _inScale = _erf ? g * FastMath.InvSqrt2 : 1.0;
        _outScale = _erf ? 1.0 / Math.Sqrt(Nlgp.Gamma(g)) : 1.0;
    }

    public int D { get; }

    public int Next(Span<double> x)
    {
        int a = _rng.NextBool() ? 1 : 0;
        NextOfClass(a, x);
        return a;
    }

    public void NextOfClass(int a, Span<double> x)
    {
        if (x.Length < D) throw new ArgumentException($"x must hold D = {D} values", nameof(x));
        _rng.FillGaussian(_xi);
        _factors[a].Apply(_xi, x[..D]);
        if (_erf) FastMath.Erf(x[..D], x[..D], _inScale, _outScale);
    }

    /// <summary>The dense sampler buffers nothing: its state is its generator's.</summary>
    public SampleSourceState ExportState() => new(_rng.ExportState(), [null, null]);

    public void ImportState(SampleSourceState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Spare is not { Length: 2 } || state.Spare[0] is not null || state.Spare[1] is not null)
            throw new ArgumentException("the dense sampler buffers no images; this state belongs to another sampler", nameof(state));
        _rng.ImportState(state.Rng);
    }
}

/// <summary>A factor F of a covariance M (F F^T = M): lower-triangular Cholesky when M is numerically positive
/// definite, else V sqrt(max(Lambda, 0)) from the symmetric eigendecomposition, with the clipped matrix kept.</summary>
internal sealed class DenseFactor
{
    private readonly double[] _f;
    private readonly bool _lower;
    private readonly int _d;

    private DenseFactor(double[] f, bool lower, int d, double[]? clipped, string? warning)
    {
        _f = f;
        _lower = lower;
        _d = d;
        Clipped = clipped;
        Warning = warning;
    }

    /// <summary>V max(Lambda, 0) V^T when eigenvalues were clipped; null otherwise.</summary>
    public double[]? Clipped { get; }

    /// <summary>A warning naming <c>what</c> and the smallest eigenvalue, when it was clearly negative.</summary>
    public string? Warning { get; }

    public static DenseFactor Of(double[] m, int d, string? what)
    {
        // Symmetric, so the row-major array is also the column-major one MathNet expects.
        var matrix = Matrix<double>.Build.Dense(d, d, (double[])m.Clone());
        try
        {
            var l = matrix.Cholesky().Factor;
            return new DenseFactor(l.ToRowMajorArray(), true, d, null, null);
        }
        catch (ArgumentException)
        {
            // Not numerically positive definite: clip the spectrum.
        }
        var evd = matrix.Evd(Symmetricity.Symmetric);
        var lambda = new double[d];
        double min = double.PositiveInfinity, max = 0;
        for (int k = 0; k < d; k++)
        {
            lambda[k] = evd.EigenValues[k].Real;
            min = Math.Min(min, lambda[k]);
            max = Math.Max(max, lambda[k]);
        }
        var v = evd.EigenVectors.ToRowMajorArray();
        var f = new double[d * d];
        for (int i = 0; i < d; i++)
            for (int k = 0; k < d; k++)
                f[i * d + k] = v[i * d + k] * Math.Sqrt(Math.Max(0, lambda[k]));
        double[]? clipped = null;
        string? warning = null;
        if (min < 0)
        {
            clipped = new double[d * d];
            for (int i = 0; i < d; i++)
                for (int j = 0; j < d; j++)
                    clipped[i * d + j] = TensorPrimitives.Dot(f.AsSpan(i * d, d), f.AsSpan(j * d, d));
            if (what is not null && min < -1e-10 * max)
                warning = $"the {what} is not positive semi-definite: smallest eigenvalue {min:G3}; negative eigenvalues clipped to 0";
        }
        return new DenseFactor(f, false, d, clipped, warning);
    }

    /// <summary><c>x = F xi</c>.</summary>
    public void Apply(ReadOnlySpan<double> xi, Span<double> x)
    {
        int d = _d;
        var f = _f.AsSpan();
        for (int i = 0; i < d; i++)
        {
            int len = _lower ? i + 1 : d;
            x[i] = TensorPrimitives.Dot(f.Slice(i * d, len), xi[..len]);
        }
    }
}
