using System.Numerics;
using Theory.Interop;

namespace Theory.Simulation.Data;

/// <summary>
/// One thread's stream of labelled images of the two-class task. Not thread-safe: create one per thread with
/// <see cref="NlgpTask.CreateSource"/>.
/// </summary>
public interface ISampleSource
{
    int D { get; }

    /// <summary>Draws the class a (probability 1/2 each) and an image of that class into <paramref name="x"/>; returns a.
    /// The label is <see cref="DataSpec.Label"/>(a).</summary>
    int Next(Span<double> x);

    /// <summary>Draws an image of the given class into <paramref name="x"/>.</summary>
    void NextOfClass(int a, Span<double> x);
}

/// <summary>
/// The two-class NLGP task of a <see cref="DataSpec"/>: exact covariances, spectra (periodic boundaries), and
/// per-thread samplers for NLGP images and their Gaussian clone. Immutable and thread-safe once built.
/// <para>This reference implementation factorises each covariance once (dense, O(D^2) per sample); the fast
/// O(D log D) Fourier sampler replaces <see cref="CreateSource"/> behind the same contract.</para>
/// </summary>
public sealed class NlgpTask
{
    private readonly double[][] _latent = new double[2][];   // latent covariance C_a (D x D, with jitter)
    private readonly double[][] _inputs = new double[2][];   // exact input covariance S_a
    private readonly double[][] _latentFactor = new double[2][]; // F with F F^T = C_a (after clipping)
    private readonly double[][] _inputFactor = new double[2][];  // F with F F^T = S_a (after clipping)
    private readonly List<string> _warnings = new();

    public NlgpTask(DataSpec spec)
    {
        Spec = spec.Validate();
        Geometry = new ImageGeometry(spec);
        int d = D;
        for (int a = 0; a < 2; a++)
        {
            double xi = spec.Xi(a);
            var c = new double[d * d];
            for (int i = 0; i < d; i++)
                for (int j = 0; j < d; j++)
                    c[i * d + j] = Math.Exp(-Geometry.Distance2(i, j) / (xi * xi)) + (i == j ? spec.Jitter : 0.0);
            _latent[a] = c;
            _latentFactor[a] = SymmetricFactor(c, d, $"latent covariance of class {a} (xi = {xi})");
            var s = new double[d * d];
            for (int i = 0; i < d; i++)
                for (int j = 0; j < d; j++)
                    s[i * d + j] = Nlgp.Covariance(spec.Gain, c[i * d + j], c[i * d + i], c[j * d + j]);
            _inputs[a] = s;
            _inputFactor[a] = SymmetricFactor(s, d, $"input covariance of class {a} (xi = {xi})");
        }
    }

    public DataSpec Spec { get; }
    public ImageGeometry Geometry { get; }
    public int D => Spec.D;

    /// <summary>Warnings raised while building (for example a covariance that was not positive semi-definite and was
    /// clipped); the CLI prints each once.</summary>
    public IReadOnlyList<string> Warnings => _warnings;

    /// <summary>Exact covariance of the inputs of class a, D x D row-major. The NLGP and its Gaussian clone share it.</summary>
    public ReadOnlySpan<double> InputCovariance(int a) => _inputs[a];

    /// <summary>Latent covariance C_a (with jitter), D x D row-major.</summary>
    public ReadOnlySpan<double> LatentCovariance(int a) => _latent[a];

    /// <summary>
    /// Eigenvalues of the input covariance of class a (periodic boundaries only), in the order of the unnormalised
    /// DFT of <see cref="Dft"/>: index f (1D) or kx * L + ky (2D). They are the DFT of the covariance's first row.
    /// </summary>
    public double[] Spectrum(int a)
    {
        if (Geometry.Boundary != Boundary.Periodic)
            throw new InvalidOperationException("spectra exist for periodic boundaries only");
        var row = _inputs[a].AsSpan(0, D).ToArray();
        var spec = new Complex[D];
        Dft(row, spec);
        var result = new double[D];
        for (int f = 0; f < D; f++) result[f] = spec[f].Real;
        return result;
    }

    /// <summary>
    /// Unnormalised DFT of an image (1D, or 2D row-major): <c>X(f) = sum_i x_i exp(-2 pi i f.i / L)</c>.
    /// Parseval: <c>sum_f |X(f)|^2 = D sum_i x_i^2</c>.
    /// </summary>
    public void Dft(ReadOnlySpan<double> x, Span<Complex> result)
    {
        int L = Spec.Size;
        if (Spec.Dim == 1)
        {
            for (int f = 0; f < L; f++)
            {
                Complex s = 0;
                for (int i = 0; i < L; i++) s += x[i] * Complex.FromPolarCoordinates(1, -2 * Math.PI * ((long)f * i % L) / L);
                result[f] = s;
            }
            return;
        }
        for (int kx = 0; kx < L; kx++)
            for (int ky = 0; ky < L; ky++)
            {
                Complex s = 0;
                for (int i = 0; i < L; i++)
                    for (int j = 0; j < L; j++)
                        s += x[i * L + j] * Complex.FromPolarCoordinates(1, -2 * Math.PI * ((kx * i + ky * j) % L) / L);
                result[kx * L + ky] = s;
            }
    }

    /// <summary>A sampler for one thread, drawing NLGP images or their Gaussian clone from <paramref name="rng"/>.</summary>
    public ISampleSource CreateSource(InputKind kind, Rng rng) => new DenseSource(this, kind, rng);

    private double[] SymmetricFactor(double[] m, int d, string what)
    {
        var mat = MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.Dense(d, d, (i, j) => m[i * d + j]);
        var evd = mat.Evd(MathNet.Numerics.LinearAlgebra.Symmetricity.Symmetric);
        double min = double.PositiveInfinity;
        for (int i = 0; i < d; i++) min = Math.Min(min, evd.EigenValues[i].Real);
        if (min < 0)
            _warnings.Add($"{what} is not positive semi-definite (smallest eigenvalue {min:G3}); negative eigenvalues clipped to 0");
        var f = new double[d * d];
        for (int i = 0; i < d; i++)
            for (int k = 0; k < d; k++)
                f[i * d + k] = evd.EigenVectors[i, k] * Math.Sqrt(Math.Max(0, evd.EigenValues[k].Real));
        return f;
    }

    private sealed class DenseSource(NlgpTask task, InputKind kind, Rng rng) : ISampleSource
    {
        private readonly double[] _z = new double[task.D];
        private readonly double _gain = task.Spec.Gain;
        private readonly double _scale = task.Spec.Gain == 0 ? 1.0 : 1.0 / Math.Sqrt(Nlgp.Gamma(task.Spec.Gain));

        public int D => task.D;

        public int Next(Span<double> x)
        {
            int a = rng.NextBool() ? 1 : 0;
            NextOfClass(a, x);
            return a;
        }

        public void NextOfClass(int a, Span<double> x)
        {
            int d = task.D;
            rng.FillGaussian(_z);
            var f = kind == InputKind.Nlgp ? task._latentFactor[a] : task._inputFactor[a];
            for (int i = 0; i < d; i++)
            {
                double s = 0;
                for (int k = 0; k < d; k++) s += f[i * d + k] * _z[k];
                x[i] = s;
            }
            if (kind == InputKind.Nlgp && _gain != 0)
                for (int i = 0; i < d; i++)
                    x[i] = MathNet.Numerics.SpecialFunctions.Erf(_gain * x[i] / Math.Sqrt(2)) * _scale;
        }
    }
}
