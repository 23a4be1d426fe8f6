using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using Theory.Interop;

namespace Theory.Simulation.Data;

/// <summary>
/// One thread's stream of labelled images of the two-class task. Not thread-safe: create one per thread with
/// <see cref="NlgpTask.CreateSource"/>.
/// </summary>
public interface ISampleSource
{
    /// <summary>Input dimension D (pixels per image).</summary>
    int D { get; }

    /// <summary>Draws the class a (probability 1/2 each) and an image of that class into <paramref name="x"/>; returns a.
    /// The label is <see cref="DataSpec.Label"/>(a).</summary>
    int Next(Span<double> x);

    /// <summary>Draws an image of the given class into <paramref name="x"/>.</summary>
    void NextOfClass(int a, Span<double> x);

    /// <summary>
    /// Draws <c>classes.Length</c> labelled images into <paramref name="xs"/> (row-major, count x D) and their classes
    /// into <paramref name="classes"/>. Exactly the same images, classes and random stream as that many
    /// <see cref="Next"/> calls, so batch sizes never change results; no allocation.
    /// </summary>
    void NextBatch(Span<double> xs, Span<int> classes)
    {
        int d = D;
        if (xs.Length < (long)classes.Length * d)
            throw new ArgumentException($"xs holds {xs.Length} values, {classes.Length} images need {(long)classes.Length * d}", nameof(xs));
        for (int i = 0; i < classes.Length; i++) classes[i] = Next(xs.Slice(i * d, d));
    }
}

/// <summary>
/// Everything a sampler carries from one image to the next: its generator's state and, per class, the buffered
/// second image of the Fourier sampler (null when none is buffered). Restoring it continues the stream exactly.
/// </summary>
/// <param name="Rng">The four words of <see cref="Data.Rng.ExportState"/>.</param>
/// <param name="Spare">Per class 0 and 1: the buffered image (length D), or null.</param>
public sealed record SampleSourceState(ulong[] Rng, double[]?[] Spare);

/// <summary>
/// A sampler whose state can be saved and restored (checkpoints of long runs): after
/// <see cref="ImportState"/> of a state exported from another sampler of the same task, input kind and generator
/// stream, it draws exactly the images the other would have drawn next.
/// </summary>
public interface IResumableSampleSource : ISampleSource
{
    /// <summary>A deep copy of the current state.</summary>
    SampleSourceState ExportState();

    /// <summary>Replaces the state; throws <see cref="ArgumentException"/> when it does not fit this sampler.</summary>
    void ImportState(SampleSourceState state);
}

/// <summary>
/// The two-class NLGP task of a <see cref="DataSpec"/> (SCIENCE.md section 1): exact covariances, spectra, and
/// per-thread samplers for NLGP images and their Gaussian clone. Immutable and thread-safe once built.
/// <para><b>Periodic boundaries</b> (the default): every covariance is circulant (block-circulant in 2D), fully
/// described by its first row (the kernel as an image) and diagonalised by the DFT. Construction costs a few FFTs
/// (milliseconds even at D = 10^5); sampling is O(D log D) per image (<see cref="CreateSource"/>); dense D x D
/// matrices are built only when asked for.</para>
/// <para><b>Positive semi-definiteness and what "exact" means.</b> The periodised Gaussian kernel is not PSD when xi
/// is a sizeable fraction of L (20 x 20 torus, xi = 4: smallest eigenvalue about -0.009 after the jitter). Its
/// negative eigenvalues are clipped to 0 and a warning with the smallest value is added to <see cref="Warnings"/>.
/// From then on the latent covariance of the task IS the clipped matrix C+ (its first row is the inverse DFT of the
/// clipped spectrum): <see cref="LatentCovariance"/> returns C+, NLGP images are erf of N(0, C+) fields, and the
/// exact input covariance is <c>S = (2/pi)/gamma asin(g^2 C+_ij / (1 + g^2 C+_ii))</c> (<see cref="Nlgp.Covariance"/>),
/// which is PSD (the arcsine series of a PSD matrix), so the Gaussian clone needs no further clipping. Every
/// "exact" quantity is therefore the covariance of what is actually sampled. Without clipping C+ = C.</para>
/// <para><b>Open boundaries</b>: dense matrices, computed once; the latent (NLGP) factor is a Cholesky factor
/// (falling back to a clipped eigendecomposition with a warning); the clone's factor is built the first time a
/// clone source is created.</para>
/// </summary>
public sealed class NlgpTask
{
    private readonly List<string> _warnings = new();

    // Periodic: first rows (kernels) after clipping, and eigenvalues in DFT order (clipped, >= 0).
    private readonly double[][] _latentRow = new double[2][];
    private readonly double[][] _inputRow = new double[2][];
    private readonly double[][] _latentSpectrum = new double[2][];
    private readonly double[][] _inputSpectrum = new double[2][];
    private readonly double[] _smallestLatentEigenvalue = new double[2];
    private readonly Fft? _fft;
    private readonly Fft2D? _fft2;

    // Dense matrices (periodic: built on demand from the rows; open: built in the constructor).
    private readonly Lazy<double[]>[] _latentDense = new Lazy<double[]>[2];
    private readonly Lazy<double[]>[] _inputDense = new Lazy<double[]>[2];
    private readonly Lazy<DenseFactor>[] _latentFactor = new Lazy<DenseFactor>[2];
    private readonly Lazy<DenseFactor>[] _inputFactor = new Lazy<DenseFactor>[2];

    /// <summary>Largest D for which dense D x D matrices are built on request (8 GiB for the two of one class).</summary>
    public const int MaxDenseD = 16384;

    public NlgpTask(DataSpec spec)
    {
        Spec = spec.Validate();
        Geometry = new ImageGeometry(spec);
        if (IsPeriodic)
        {
            if (spec.Dim == 1) _fft = new Fft(spec.Size);
            else _fft2 = new Fft2D(spec.Size, spec.Size);
            for (int a = 0; a < 2; a++) BuildPeriodic(a);
        }
        else
        {
            for (int a = 0; a < 2; a++) BuildOpen(a);
        }
    }

    public DataSpec Spec { get; }
    public ImageGeometry Geometry { get; }
    public int D => Spec.D;
    public bool IsPeriodic => Spec.Boundary == Boundary.Periodic;

    /// <summary>Warnings raised while building (for example a covariance that was not positive semi-definite and was
    /// clipped), each once; the CLI prints them. With open boundaries the clone's factor may add one when the first
    /// clone source is created.</summary>
    public IReadOnlyList<string> Warnings
    {
        get { lock (_warnings) return _warnings.ToArray(); }
    }

    private void Warn(string message)
    {
        lock (_warnings)
            if (!_warnings.Contains(message)) _warnings.Add(message);
    }

    // ------------------------------------------------------------------------------------------------------------
    // Construction

    private void BuildPeriodic(int a)
    {
        int d = D;
        double xi = Spec.Xi(a);
        // C_0j = exp(-d_0j^2 / xi^2) (+ jitter at j = 0): the first row of the circulant latent covariance.
        var row = new double[d];
        for (int j = 0; j < d; j++) row[j] = Math.Exp(-Geometry.Distance2(0, j) / (xi * xi));
        row[0] += Spec.Jitter;
        var lambda = RealSpectrum(row);
        double min = lambda.Min(), max = lambda.Max();
        _smallestLatentEigenvalue[a] = min;
        if (min < 0)
        {
            int clipped = 0;
            for (int f = 0; f < d; f++)
                if (lambda[f] < 0) { lambda[f] = 0; clipped++; }
            // C+ = IDFT(clipped spectrum) / D: the covariance actually sampled. Symmetrised, so that C+_ij = C+_ji
            // holds exactly and not only to round-off.
            row = Symmetrise(RealInverse(lambda));
            if (min < -RoundOffTolerance(max))
                Warn($"the latent covariance of class {a} (xi = {Check.Fmt(xi)}) on the {Shape} is not positive " +
                     $"semi-definite: smallest eigenvalue {min:G3} (jitter {Check.Fmt(Spec.Jitter)} included); " +
                     $"{clipped} of {d} eigenvalues clipped to 0, and samples and exact covariances are those of the clipped matrix");
        }
        _latentRow[a] = row;
        _latentSpectrum[a] = lambda;
        // S_0j from C+ (circulant: every diagonal entry equals row[0]).
        var s = new double[d];
        for (int j = 0; j < d; j++) s[j] = Nlgp.Covariance(Spec.Gain, row[j], row[0], row[0]);
        _inputRow[a] = s;
        var mu = RealSpectrum(s);
        double minMu = mu.Min();
        if (minMu < -RoundOffTolerance(mu.Max()))
            Warn($"the input covariance of class {a} has eigenvalue {minMu:G3} < 0; clipped to 0");
        for (int f = 0; f < d; f++) mu[f] = Math.Max(mu[f], 0);
        _inputSpectrum[a] = mu;

        int cls = a;
        _latentDense[a] = new(() => Circulant(_latentRow[cls]));
        _inputDense[a] = new(() => Circulant(_inputRow[cls]));
        _latentFactor[a] = new(() => DenseFactor.Of(_latentDense[cls].Value, d, null));
        _inputFactor[a] = new(() => DenseFactor.Of(_inputDense[cls].Value, d, null));
    }

    private void BuildOpen(int a)
    {
        int d = D;
        double xi = Spec.Xi(a);
        var c = new double[d * d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
                c[i * d + j] = Math.Exp(-Geometry.Distance2(i, j) / (xi * xi)) + (i == j ? Spec.Jitter : 0.0);
        // The Gaussian kernel is positive definite on any point set, so the Cholesky factor normally exists; if
        // rounding defeats it (tiny jitter), the clipped eigendecomposition replaces C by C+.
        var latent = DenseFactor.Of(c, d, $"latent covariance of class {a} (xi = {Check.Fmt(xi)}, open boundaries)");
        if (latent.Warning is { } w) Warn(w);
        var effective = latent.Clipped ?? c;
        var s = new double[d * d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
                s[i * d + j] = Nlgp.Covariance(Spec.Gain, effective[i * d + j], effective[i * d + i], effective[j * d + j]);
        _latentDense[a] = new(effective);
        _inputDense[a] = new(s);
        _latentFactor[a] = new(latent);
        int cls = a;
        _inputFactor[a] = new(() =>
        {
            var f = DenseFactor.Of(s, d, $"input covariance of class {cls} (open boundaries)");
            if (f.Warning is { } msg) Warn(msg);
            return f;
        });
    }

    private string Shape => Spec.Dim == 1 ? $"ring of {Spec.Size} pixels" : $"{Spec.Size} x {Spec.Size} torus";

    /// <summary>Eigenvalues below -tolerance are reported; above it they are FFT round-off of a PSD matrix.</summary>
    private static double RoundOffTolerance(double largest) => 1e-10 * Math.Max(largest, 1e-300);

    private double[] Circulant(double[] row)
    {
        int d = D;
        if (d > MaxDenseD)
            throw new InvalidOperationException($"a dense {d} x {d} covariance is too large (D <= {MaxDenseD}); use ApplyInputCovariance or the spectra");
        var m = new double[(long)d * d];
        int L = Spec.Size;
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
            {
                int shift = Spec.Dim == 1
                    ? (j - i + L) % L
                    : (j / L - i / L + L) % L * L + (j % L - i % L + L) % L;
                m[(long)i * d + j] = row[shift];
            }
        return m;
    }

    // ------------------------------------------------------------------------------------------------------------
    // Covariances and spectra

    /// <summary>Exact covariance of the inputs of class a, D x D row-major (built on first use with periodic
    /// boundaries). The NLGP and its Gaussian clone share it. It is the covariance of what is sampled (see the class
    /// remarks on clipping).</summary>
    public ReadOnlySpan<double> InputCovariance(int a) => _inputDense[CheckClass(a)].Value;

    /// <summary>Latent covariance C_a (with jitter; the clipped C+ if C was not PSD), D x D row-major.</summary>
    public ReadOnlySpan<double> LatentCovariance(int a) => _latentDense[CheckClass(a)].Value;

    /// <summary>The first row of the input covariance, <c>S_a(0, j)</c>: with periodic boundaries, the whole matrix as
    /// an image (<c>S_ij</c> depends on the torus displacement from i to j only). O(D), no dense matrix.</summary>
    public ReadOnlySpan<double> InputCovarianceRow(int a) =>
        IsPeriodic ? _inputRow[CheckClass(a)] : InputCovariance(a)[..D];

    /// <summary>The first row of the latent covariance (see <see cref="InputCovarianceRow"/>).</summary>
    public ReadOnlySpan<double> LatentCovarianceRow(int a) =>
        IsPeriodic ? _latentRow[CheckClass(a)] : LatentCovariance(a)[..D];

    /// <summary>Exact variance of one pixel of class a (the diagonal of S_a; 1 up to the jitter).</summary>
    public double PixelVariance(int a) => InputCovarianceRow(a)[0];

    /// <summary>
    /// Eigenvalues of the input covariance of class a (periodic boundaries only), in the order of the unnormalised
    /// DFT of <see cref="Dft"/>: index f (1D) or kx * L + ky (2D). They are the DFT of the covariance's first row,
    /// all >= 0 (round-off below zero clipped). A fresh copy.
    /// </summary>
    public double[] Spectrum(int a) => (double[])PeriodicOnly(_inputSpectrum)[CheckClass(a)].Clone();

    /// <summary>Eigenvalues of the latent covariance C+ (after clipping, so >= 0), in DFT order. A fresh copy.</summary>
    public double[] LatentSpectrum(int a) => (double[])PeriodicOnly(_latentSpectrum)[CheckClass(a)].Clone();

    /// <summary>Smallest eigenvalue of the latent covariance before clipping (negative when it was not PSD).</summary>
    public double SmallestLatentEigenvalue(int a) => PeriodicOnly(_smallestLatentEigenvalue)[CheckClass(a)];

    private T PeriodicOnly<T>(T value) =>
        IsPeriodic ? value : throw new InvalidOperationException("spectra exist for periodic boundaries only");

    private static int CheckClass(int a) =>
        a is 0 or 1 ? a : throw new ArgumentOutOfRangeException(nameof(a), a, "class must be 0 or 1");

    /// <summary>
    /// <c>result = S_a w</c> (the input covariance of class a applied to a vector), for order parameters
    /// <c>Q^a = W S_a W^T / D</c>. Periodic: O(D log D) through the spectrum; open: dense. Thread-safe, no
    /// allocation in steady state. <paramref name="result"/> may be <paramref name="w"/>.
    /// </summary>
    public void ApplyInputCovariance(int a, ReadOnlySpan<double> w, Span<double> result)
    {
        int d = D;
        if (w.Length != d || result.Length < d) throw new ArgumentException($"vectors must have D = {d} entries");
        CheckClass(a);
        if (!IsPeriodic)
        {
            var s = _inputDense[a].Value.AsSpan();
            if (w.Overlaps(result))
            {
                var copy = ArrayPool<double>.Shared.Rent(d);
                try
                {
                    w.CopyTo(copy);
                    for (int i = 0; i < d; i++) result[i] = TensorPrimitives.Dot(s.Slice(i * d, d), copy.AsSpan(0, d));
                }
                finally { ArrayPool<double>.Shared.Return(copy); }
            }
            else
            {
                for (int i = 0; i < d; i++) result[i] = TensorPrimitives.Dot(s.Slice(i * d, d), w);
            }
            return;
        }
        var buffer = ArrayPool<Complex>.Shared.Rent(d + ScratchLength);
        try
        {
            var z = buffer.AsSpan(0, d);
            var scratch = buffer.AsSpan(d, ScratchLength);
            for (int i = 0; i < d; i++) z[i] = new Complex(w[i], 0);
            Forward(z, scratch);
            // S = F^-1 diag(mu) F with the unnormalised F: S w = IDFT(mu DFT(w)) / D.
            var mu = _inputSpectrum[a];
            for (int f = 0; f < d; f++) z[f] *= mu[f];
            Fft.Conjugate(z);
            Forward(z, scratch);
            double inv = 1.0 / d;
            for (int i = 0; i < d; i++) result[i] = z[i].Real * inv;
        }
        finally
        {
            ArrayPool<Complex>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Unnormalised DFT of an image (1D, or 2D row-major): <c>X(f) = sum_i x_i exp(-2 pi i f.i / L)</c>, by FFT.
    /// Parseval: <c>sum_f |X(f)|^2 = D sum_i x_i^2</c>. Thread-safe.
    /// </summary>
    public void Dft(ReadOnlySpan<double> x, Span<Complex> result)
    {
        int d = Spec.D;
        if (x.Length != d || result.Length < d) throw new ArgumentException($"vectors must have D = {d} entries");
        for (int i = 0; i < d; i++) result[i] = new Complex(x[i], 0);
        var scratch = ArrayPool<Complex>.Shared.Rent(ScratchLength);
        try { Forward(result[..d], scratch); }
        finally { ArrayPool<Complex>.Shared.Return(scratch); }
    }

    /// <summary>Complex scratch length of the task's transform (1D or 2D).</summary>
    internal int ScratchLength => _fft?.ScratchLength() ?? _fft2?.ScratchLength ?? 0;

    /// <summary>Forward unnormalised DFT of an image in place (1D or 2D).</summary>
    internal void Forward(Span<Complex> z, Span<Complex> scratch)
    {
        if (_fft is { } f) f.Forward(z, 1, scratch);
        else if (_fft2 is { } f2) f2.Forward(z, scratch);
        else throw new InvalidOperationException("Fourier transforms are set up for periodic boundaries only");
    }

    private double[] RealSpectrum(double[] row)
    {
        var z = new Complex[D];
        for (int i = 0; i < z.Length; i++) z[i] = new Complex(row[i], 0);
        Forward(z, new Complex[ScratchLength]);
        var result = new double[D];
        for (int f = 0; f < D; f++) result[f] = z[f].Real;
        return result;
    }

    /// <summary>(r(j) + r(-j)) / 2 with -j the opposite torus displacement.</summary>
    private double[] Symmetrise(double[] row)
    {
        int L = Spec.Size, d = D;
        var result = new double[d];
        for (int j = 0; j < d; j++)
        {
            int opposite = Spec.Dim == 1 ? (L - j) % L : (L - j / L) % L * L + (L - j % L) % L;
            result[j] = 0.5 * (row[j] + row[opposite]);
        }
        return result;
    }

    private double[] RealInverse(double[] spectrum)
    {
        var z = new Complex[D];
        for (int i = 0; i < z.Length; i++) z[i] = new Complex(spectrum[i], 0);
        Fft.Conjugate(z);
        Forward(z, new Complex[ScratchLength]);
        var result = new double[D];
        for (int i = 0; i < D; i++) result[i] = z[i].Real / D;
        return result;
    }

    // ------------------------------------------------------------------------------------------------------------
    // Samplers

    /// <summary>A sampler for one thread, drawing NLGP images or their Gaussian clone from <paramref name="rng"/>:
    /// the O(D log D) Fourier sampler with periodic boundaries, the dense factor with open boundaries.</summary>
    public ISampleSource CreateSource(InputKind kind, Rng rng) =>
        IsPeriodic ? new FourierSource(this, kind, rng) : CreateDenseSource(kind, rng);

    /// <summary>The dense reference sampler (x = F xi with F F^T the covariance, O(D^2) per image), for any
    /// boundary: the baseline the Fourier sampler is tested and benchmarked against.</summary>
    public ISampleSource CreateDenseSource(InputKind kind, Rng rng) =>
        new DenseSource(this, kind, kind == InputKind.Nlgp ? _latentFactor[0].Value : _inputFactor[0].Value,
            kind == InputKind.Nlgp ? _latentFactor[1].Value : _inputFactor[1].Value, rng);

    internal double[] LatentSpectrumUnsafe(int a) => _latentSpectrum[a];
    internal double[] InputSpectrumUnsafe(int a) => _inputSpectrum[a];
}
