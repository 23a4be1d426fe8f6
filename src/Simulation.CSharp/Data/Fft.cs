using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Theory.Simulation.Data;

/// <summary>
/// A managed fast Fourier transform of any length n: the unnormalised DFT <c>X_f = sum_t x_t exp(-2 pi i f t / n)</c>
/// and its inverse with the + sign (also unnormalised: <c>Inverse(Forward(x)) = n x</c>).
/// <para>Mixed radix (4, 2, 3, 5 by hand-written butterflies, other primes up to 61 by a generic butterfly) in the
/// self-sorting Stockham form, so no bit reversal is needed and output is in natural order; lengths with a larger
/// prime factor go through Bluestein's chirp-z algorithm on a 2-3-5-smooth length. Twiddle factors are computed
/// once per plan. A plan is immutable and thread-safe; the caller provides the scratch space (or the overloads
/// without scratch rent it from the shared array pool), so transforms allocate nothing in steady state.</para>
/// <para>Batches: <see cref="Forward(Span{Complex}, int, Span{Complex})"/> transforms <c>batch</c> interleaved
/// sequences at once (element t of sequence q at index q + batch t), which is how the columns of a row-major
/// image are transformed in one sweep.</para>
/// </summary>
public sealed class Fft
{
    /// <summary>Largest prime handled by a generic O(p) butterfly; lengths with a larger prime factor use Bluestein.</summary>
    public const int MaxGenericRadix = 61;

    private readonly Stage[] _stages = [];
    private readonly Bluestein? _bluestein;

    /// <summary>A plan for transforms of length <paramref name="n"/> (n >= 1).</summary>
    public Fft(int n)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), n, "FFT length must be at least 1");
        Length = n;
        var radices = Factor(n);
        if (radices is null)
        {
            _bluestein = new Bluestein(n);
            return;
        }
        _stages = new Stage[radices.Count];
        int len = n;
        for (int i = 0; i < radices.Count; i++)
        {
            _stages[i] = new Stage(radices[i], len);
            len /= radices[i];
        }
    }

    /// <summary>The transform length n.</summary>
    public int Length { get; }

    /// <summary>True when the length has a prime factor above <see cref="MaxGenericRadix"/> (Bluestein path).</summary>
    public bool UsesBluestein => _bluestein is not null;

    /// <summary>Complex scratch elements needed by a transform of <paramref name="batch"/> interleaved sequences.</summary>
    public int ScratchLength(int batch = 1) => _bluestein is { } b ? 2 * b.M : Length * batch;

    /// <summary>In-place forward DFT of one sequence (scratch rented from the shared pool).</summary>
    public void Forward(Span<Complex> data) => WithScratch(data, 1, forward: true);

    /// <summary>In-place inverse DFT (+ sign, unnormalised) of one sequence (scratch rented from the shared pool).</summary>
    public void Inverse(Span<Complex> data) => WithScratch(data, 1, forward: false);

    /// <summary>In-place forward DFT of <paramref name="batch"/> interleaved sequences (element t of sequence q at
    /// index q + batch t); <paramref name="scratch"/> holds at least <see cref="ScratchLength"/>(batch) elements.</summary>
    public void Forward(Span<Complex> data, int batch, Span<Complex> scratch)
    {
        CheckArguments(data, batch, scratch);
        if (_bluestein is { } b) b.Transform(data, batch, scratch);
        else Stockham(data, batch, scratch);
    }

    /// <summary>In-place inverse DFT (+ sign, unnormalised) of <paramref name="batch"/> interleaved sequences.</summary>
    public void Inverse(Span<Complex> data, int batch, Span<Complex> scratch)
    {
        // IDFT(x) = conj(DFT(conj x)): one forward code path, exact conjugations.
        var span = data[..(Length * batch)];
        Conjugate(span);
        Forward(span, batch, scratch);
        Conjugate(span);
    }

    /// <summary>Negates the imaginary parts in place.</summary>
    public static void Conjugate(Span<Complex> data)
    {
        var d = MemoryMarshal.Cast<Complex, double>(data);
        for (int i = 1; i < d.Length; i += 2) d[i] = -d[i];
    }

    private void WithScratch(Span<Complex> data, int batch, bool forward)
    {
        var scratch = ArrayPool<Complex>.Shared.Rent(ScratchLength(batch));
        try
        {
            if (forward) Forward(data, batch, scratch);
            else Inverse(data, batch, scratch);
        }
        finally
        {
            ArrayPool<Complex>.Shared.Return(scratch);
        }
    }

    private void CheckArguments(Span<Complex> data, int batch, Span<Complex> scratch)
    {
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch));
        if (data.Length < Length * batch) throw new ArgumentException($"data holds {data.Length} < {Length * batch} elements", nameof(data));
        if (scratch.Length < ScratchLength(batch)) throw new ArgumentException("scratch too short", nameof(scratch));
    }

    /// <summary>Radices for the Stockham passes (4 first, then 2, 3, 5, other primes), or null when a prime factor
    /// exceeds <see cref="MaxGenericRadix"/>.</summary>
    private static List<int>? Factor(int n)
    {
        var radices = new List<int>();
        while (n % 4 == 0) { radices.Add(4); n /= 4; }
        while (n % 2 == 0) { radices.Add(2); n /= 2; }
        for (int p = 3; n > 1 && p <= MaxGenericRadix; p += 2)
            while (n % p == 0) { radices.Add(p); n /= p; }
        return n == 1 ? radices : null;
    }

    /// <summary>The passes of the self-sorting Stockham algorithm, alternating between data and scratch.</summary>
    private void Stockham(Span<Complex> data, int batch, Span<Complex> scratch)
    {
        if (_stages.Length == 0) return;
        Span<Complex> x = data, y = scratch;
        int s = batch;
        foreach (var stage in _stages)
        {
            stage.Run(x, y, s);
            s *= stage.Radix;
            var t = x;
            x = y;
            y = t;
        }
        if (_stages.Length % 2 == 1) scratch[..(Length * batch)].CopyTo(data);
    }

    /// <summary>
    /// One decimation-in-frequency pass of radix p on sequences of the current length n (stride s): with
    /// m = n / p, <c>y[q + s (p j + k)] = w^{jk} sum_r x[q + s (j + r m)] exp(-2 pi i r k / p)</c>,
    /// <c>w = exp(-2 pi i / n)</c>. Each output subsequence (q, k) is then a length-m problem with stride s p.
    /// </summary>
    private sealed class Stage
    {
        public readonly int Radix;
        private readonly int _m;
        private readonly Complex[] _twiddles;   // [j (p - 1) + k - 1] = w^{jk}
        private readonly Complex[] _roots;      // exp(-2 pi i e / p), generic radix only

        public Stage(int radix, int n)
        {
            Radix = radix;
            _m = n / radix;
            _twiddles = new Complex[_m * (radix - 1)];
            for (int j = 0; j < _m; j++)
                for (int k = 1; k < radix; k++)
                    _twiddles[j * (radix - 1) + k - 1] = Root((long)j * k % n, n);
            _roots = new Complex[radix];
            for (int e = 0; e < radix; e++) _roots[e] = Root(e, radix);
        }

        public void Run(Span<Complex> x, Span<Complex> y, int s)
        {
            switch (Radix)
            {
                case 2: Radix2(x, y, s); break;
                case 3: Radix3(x, y, s); break;
                case 4: Radix4(x, y, s); break;
                case 5: Radix5(x, y, s); break;
                default: Generic(x, y, s); break;
            }
        }

        private void Radix2(Span<Complex> xs, Span<Complex> ys, int s)
        {
            int m = _m;
            ref Complex x = ref MemoryMarshal.GetReference(xs);
            ref Complex y = ref MemoryMarshal.GetReference(ys);
            for (int j = 0; j < m; j++)
            {
                Complex w1 = _twiddles[j];
                int i0 = s * j, i1 = s * (j + m), o0 = s * 2 * j, o1 = o0 + s;
                for (int q = 0; q < s; q++)
                {
                    Complex a0 = Unsafe.Add(ref x, i0 + q), a1 = Unsafe.Add(ref x, i1 + q);
                    Unsafe.Add(ref y, o0 + q) = a0 + a1;
                    Unsafe.Add(ref y, o1 + q) = Mul(a0 - a1, w1);
                }
            }
        }

        private void Radix3(Span<Complex> xs, Span<Complex> ys, int s)
        {
            const double c = -0.5, sn = 0.86602540378443865; // cos, -sin of -2 pi / 3
            int m = _m;
            ref Complex x = ref MemoryMarshal.GetReference(xs);
            ref Complex y = ref MemoryMarshal.GetReference(ys);
            for (int j = 0; j < m; j++)
            {
                Complex w1 = _twiddles[2 * j], w2 = _twiddles[2 * j + 1];
                int i0 = s * j, i1 = s * (j + m), i2 = s * (j + 2 * m), o0 = s * 3 * j;
                for (int q = 0; q < s; q++)
                {
                    Complex a0 = Unsafe.Add(ref x, i0 + q), a1 = Unsafe.Add(ref x, i1 + q), a2 = Unsafe.Add(ref x, i2 + q);
                    Complex t1 = a1 + a2, d = a1 - a2;
                    Complex u = new(a0.Real + c * t1.Real, a0.Imaginary + c * t1.Imaginary);
                    Complex v = new(sn * d.Imaginary, -sn * d.Real); // -i sin(2 pi/3) (a1 - a2)
                    Unsafe.Add(ref y, o0 + q) = a0 + t1;
                    Unsafe.Add(ref y, o0 + s + q) = Mul(u + v, w1);
                    Unsafe.Add(ref y, o0 + 2 * s + q) = Mul(u - v, w2);
                }
            }
        }

        private void Radix4(Span<Complex> xs, Span<Complex> ys, int s)
        {
            int m = _m;
            ref Complex x = ref MemoryMarshal.GetReference(xs);
            ref Complex y = ref MemoryMarshal.GetReference(ys);
            for (int j = 0; j < m; j++)
            {
                Complex w1 = _twiddles[3 * j], w2 = _twiddles[3 * j + 1], w3 = _twiddles[3 * j + 2];
                int i0 = s * j, i1 = s * (j + m), i2 = s * (j + 2 * m), i3 = s * (j + 3 * m), o0 = s * 4 * j;
                for (int q = 0; q < s; q++)
                {
                    Complex a0 = Unsafe.Add(ref x, i0 + q), a1 = Unsafe.Add(ref x, i1 + q);
                    Complex a2 = Unsafe.Add(ref x, i2 + q), a3 = Unsafe.Add(ref x, i3 + q);
                    Complex t0 = a0 + a2, t1 = a0 - a2, t2 = a1 + a3, d = a1 - a3;
                    Complex t3 = new(d.Imaginary, -d.Real); // -i (a1 - a3)
                    Unsafe.Add(ref y, o0 + q) = t0 + t2;
                    Unsafe.Add(ref y, o0 + s + q) = Mul(t1 + t3, w1);
                    Unsafe.Add(ref y, o0 + 2 * s + q) = Mul(t0 - t2, w2);
                    Unsafe.Add(ref y, o0 + 3 * s + q) = Mul(t1 - t3, w3);
                }
            }
        }

        private void Radix5(Span<Complex> xs, Span<Complex> ys, int s)
        {
            // cos and sin of 2 pi / 5 and 4 pi / 5.
            const double c1 = 0.30901699437494742, c2 = -0.80901699437494742;
            const double s1 = 0.95105651629515357, s2 = 0.58778525229247313;
            int m = _m;
            ref Complex x = ref MemoryMarshal.GetReference(xs);
            ref Complex y = ref MemoryMarshal.GetReference(ys);
            for (int j = 0; j < m; j++)
            {
                int tw = 4 * j;
                Complex w1 = _twiddles[tw], w2 = _twiddles[tw + 1], w3 = _twiddles[tw + 2], w4 = _twiddles[tw + 3];
                int i0 = s * j, ms = s * m, o0 = s * 5 * j;
                for (int q = 0; q < s; q++)
                {
                    int i = i0 + q;
                    Complex a0 = Unsafe.Add(ref x, i), a1 = Unsafe.Add(ref x, i + ms), a2 = Unsafe.Add(ref x, i + 2 * ms);
                    Complex a3 = Unsafe.Add(ref x, i + 3 * ms), a4 = Unsafe.Add(ref x, i + 4 * ms);
                    Complex sa = a1 + a4, da = a1 - a4, sb = a2 + a3, db = a2 - a3;
                    // b1,4 = a0 + c1 sa + c2 sb -/+ i (s1 da + s2 db); b2,3 = a0 + c2 sa + c1 sb -/+ i (s2 da - s1 db).
                    double r1 = a0.Real + c1 * sa.Real + c2 * sb.Real, i1 = a0.Imaginary + c1 * sa.Imaginary + c2 * sb.Imaginary;
                    double r2 = a0.Real + c2 * sa.Real + c1 * sb.Real, i2 = a0.Imaginary + c2 * sa.Imaginary + c1 * sb.Imaginary;
                    double e1r = s1 * da.Real + s2 * db.Real, e1i = s1 * da.Imaginary + s2 * db.Imaginary;
                    double e2r = s2 * da.Real - s1 * db.Real, e2i = s2 * da.Imaginary - s1 * db.Imaginary;
                    int o = o0 + q;
                    Unsafe.Add(ref y, o) = a0 + sa + sb;
                    Unsafe.Add(ref y, o + s) = Mul(new Complex(r1 + e1i, i1 - e1r), w1);
                    Unsafe.Add(ref y, o + 2 * s) = Mul(new Complex(r2 + e2i, i2 - e2r), w2);
                    Unsafe.Add(ref y, o + 3 * s) = Mul(new Complex(r2 - e2i, i2 + e2r), w3);
                    Unsafe.Add(ref y, o + 4 * s) = Mul(new Complex(r1 - e1i, i1 + e1r), w4);
                }
            }
        }

        private void Generic(Span<Complex> xs, Span<Complex> ys, int s)
        {
            int p = Radix, m = _m;
            ref Complex x = ref MemoryMarshal.GetReference(xs);
            ref Complex y = ref MemoryMarshal.GetReference(ys);
            for (int j = 0; j < m; j++)
            {
                int o0 = s * p * j;
                for (int q = 0; q < s; q++)
                {
                    int i0 = s * j + q;
                    for (int k = 0; k < p; k++)
                    {
                        double re = 0, im = 0;
                        int e = 0;
                        for (int r = 0; r < p; r++)
                        {
                            Complex a = Unsafe.Add(ref x, i0 + r * s * m), w = _roots[e];
                            re += a.Real * w.Real - a.Imaginary * w.Imaginary;
                            im += a.Real * w.Imaginary + a.Imaginary * w.Real;
                            e += k;
                            if (e >= p) e -= p;
                        }
                        var b = new Complex(re, im);
                        Unsafe.Add(ref y, o0 + s * k + q) = k == 0 ? b : Mul(b, _twiddles[j * (p - 1) + k - 1]);
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Complex Mul(Complex a, Complex b) =>
        new(a.Real * b.Real - a.Imaginary * b.Imaginary, a.Real * b.Imaginary + a.Imaginary * b.Real);

    /// <summary><c>exp(-2 pi i e / n)</c> for 0 &lt;= e &lt; n, from the reduced angle for accuracy.</summary>
    internal static Complex Root(long e, long n)
    {
        var (sin, cos) = Math.SinCos(2.0 * Math.PI * e / n);
        return new Complex(cos, -sin);
    }

    /// <summary>
    /// Bluestein's algorithm: with the chirp <c>c_t = exp(-i pi t^2 / n)</c>, <c>X_k = c_k sum_t (x_t c_t) conj(c_{k-t})</c>
    /// is a convolution, done by FFTs of a 2-3-5-smooth length M >= 2n - 1.
    /// </summary>
    private sealed class Bluestein
    {
        private readonly int _n;
        private readonly Fft _inner;
        private readonly Complex[] _chirp;      // c_t, t < n
        private readonly Complex[] _filter;     // DFT_M of conj(c_|j|) (wrapped), divided by M

        public int M { get; }

        public Bluestein(int n)
        {
            _n = n;
            M = SmoothAtLeast(2 * n - 1);
            _inner = new Fft(M);
            _chirp = new Complex[n];
            for (int t = 0; t < n; t++)
            {
                // exp(-i pi t^2 / n) = exp(-2 pi i (t^2 mod 2n) / 2n): reduce before the trigonometry.
                _chirp[t] = Root((long)t * t % (2L * n), 2L * n);
            }
            _filter = new Complex[M];
            _filter[0] = Complex.Conjugate(_chirp[0]);
            for (int t = 1; t < n; t++) _filter[t] = _filter[M - t] = Complex.Conjugate(_chirp[t]);
            var scratch = new Complex[_inner.ScratchLength()];
            _inner.Forward(_filter, 1, scratch);
            for (int i = 0; i < M; i++) _filter[i] /= M;
        }

        public void Transform(Span<Complex> data, int batch, Span<Complex> scratch)
        {
            var work = scratch[..M];
            var inner = scratch.Slice(M, M);
            for (int q = 0; q < batch; q++)
            {
                work.Clear();
                for (int t = 0; t < _n; t++) work[t] = Mul(data[q + batch * t], _chirp[t]);
                _inner.Forward(work, 1, inner);
                for (int i = 0; i < M; i++) work[i] = Mul(work[i], _filter[i]);
                _inner.Inverse(work, 1, inner);
                for (int k = 0; k < _n; k++) data[q + batch * k] = Mul(work[k], _chirp[k]);
            }
        }

        private static int SmoothAtLeast(int n)
        {
            for (int m = n; ; m++)
            {
                int r = m;
                foreach (int p in (ReadOnlySpan<int>)[2, 3, 5])
                    while (r % p == 0) r /= p;
                if (r == 1) return m;
            }
        }
    }
}

/// <summary>
/// Two-dimensional DFT of a row-major <c>rows x cols</c> image: <c>X(kr, kc) = sum x(r, c) exp(-2 pi i (kr r / rows +
/// kc c / cols))</c> at index <c>kr * cols + kc</c>. Columns are transformed in one interleaved sweep, rows one by
/// one. Immutable and thread-safe; scratch from the caller (<see cref="ScratchLength"/>) or the shared pool.
/// </summary>
public sealed class Fft2D
{
    private readonly Fft _alongColumns;  // length rows: transforms each column
    private readonly Fft _alongRows;     // length cols: transforms each row

    public Fft2D(int rows, int cols)
    {
        Rows = rows;
        Cols = cols;
        _alongColumns = new Fft(rows);
        _alongRows = cols == rows ? _alongColumns : new Fft(cols);
    }

    public int Rows { get; }
    public int Cols { get; }
    public int Length => Rows * Cols;

    public int ScratchLength => Math.Max(_alongColumns.ScratchLength(Cols), _alongRows.ScratchLength());

    /// <summary>In-place forward 2D DFT.</summary>
    public void Forward(Span<Complex> data, Span<Complex> scratch)
    {
        _alongColumns.Forward(data, Cols, scratch);
        for (int r = 0; r < Rows; r++) _alongRows.Forward(data.Slice(r * Cols, Cols), 1, scratch);
    }

    /// <summary>In-place inverse 2D DFT (+ sign, unnormalised: Inverse(Forward(x)) = rows cols x).</summary>
    public void Inverse(Span<Complex> data, Span<Complex> scratch)
    {
        var span = data[..Length];
        Fft.Conjugate(span);
        Forward(span, scratch);
        Fft.Conjugate(span);
    }

    public void Forward(Span<Complex> data) => WithScratch(data, true);

    public void Inverse(Span<Complex> data) => WithScratch(data, false);

    private void WithScratch(Span<Complex> data, bool forward)
    {
        var scratch = ArrayPool<Complex>.Shared.Rent(ScratchLength);
        try
        {
            if (forward) Forward(data, scratch);
            else Inverse(data, scratch);
        }
        finally
        {
            ArrayPool<Complex>.Shared.Return(scratch);
        }
    }
}
