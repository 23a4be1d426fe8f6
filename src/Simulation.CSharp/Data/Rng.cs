using System.Runtime.CompilerServices;

namespace Theory.Simulation.Data;

/// <summary>
/// Named random streams derived from one user seed, so that the initial weights, the training samples and the
/// test set of a run are independent and each is reproducible on its own (the ODE engine draws the same initial
/// weights as the simulator by asking for the same stream).
/// </summary>
public enum RngStream : ulong
{
    InitialWeights = 1,
    Training = 2,
    TestSet = 3,
    Samples = 4,
    Analysis = 5,
    Kernel = 6,
}

/// <summary>
/// xoshiro256** (Blackman and Vigna), seeded through SplitMix64 from (seed, stream). Standard normals come from a
/// 256-layer ziggurat (Marsaglia and Tsang 2000): one 64-bit draw gives the layer (8 bits), the sign (1 bit) and a
/// 53-bit uniform, and about 99% of draws are accepted at once, so a normal costs little more than one xoshiro
/// step. Deterministic for a given seed and stream (the ziggurat tables are built once from <c>Math.Exp</c> and
/// <c>Math.Log</c>, so bitwise equality across platforms assumes the same runtime math library); one instance
/// belongs to one thread.
/// </summary>
public sealed class Rng
{
    private ulong _s0, _s1, _s2, _s3;

    public Rng(ulong seed, ulong stream = 0)
    {
        ulong x = seed * 0x9E3779B97F4A7C15UL ^ (stream + 0x632BE59BD9B4E019UL) * 0xD1B54A32D192ED03UL;
        _s0 = SplitMix(ref x);
        _s1 = SplitMix(ref x);
        _s2 = SplitMix(ref x);
        _s3 = SplitMix(ref x);
    }

    public Rng(int seed, RngStream stream) : this((ulong)seed, (ulong)stream) { }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Step(ref ulong s0, ref ulong s1, ref ulong s2, ref ulong s3)
    {
        ulong result = System.Numerics.BitOperations.RotateLeft(s1 * 5, 7) * 9;
        ulong t = s1 << 17;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = System.Numerics.BitOperations.RotateLeft(s3, 45);
        return result;
    }

    /// <summary>
    /// The generator's whole state (the four 64-bit words of xoshiro256**; the ziggurat keeps none), for
    /// checkpoints: a generator given this state by <see cref="ImportState"/> continues with exactly the same numbers.
    /// </summary>
    public ulong[] ExportState() => [_s0, _s1, _s2, _s3];

    /// <summary>Restores a state from <see cref="ExportState"/>. Throws <see cref="ArgumentException"/> unless it has
    /// four words, not all zero (the one state xoshiro256** never reaches).</summary>
    public void ImportState(ReadOnlySpan<ulong> state)
    {
        if (state.Length != 4) throw new ArgumentException($"an Rng state has 4 words (got {state.Length})", nameof(state));
        if ((state[0] | state[1] | state[2] | state[3]) == 0)
            throw new ArgumentException("the all-zero Rng state is invalid", nameof(state));
        _s0 = state[0];
        _s1 = state[1];
        _s2 = state[2];
        _s3 = state[3];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong NextULong() => Step(ref _s0, ref _s1, ref _s2, ref _s3);

    /// <summary>Uniform on [0, 1) with 53 random bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public double NextDouble() => (NextULong() >> 11) * Unit53;

    /// <summary>Uniform on (0, 1]: safe for logarithms.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public double NextOpenDouble() => ((NextULong() >> 11) + 1) * Unit53;

    /// <summary>Fair coin.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool NextBool() => (NextULong() >> 63) != 0;

    /// <summary>Uniform integer in [0, n).</summary>
    public int NextInt(int n) => (int)((NextULong() >> 33) * (ulong)n >> 31);

    /// <summary>Standard normal (ziggurat). <c>FillGaussian</c> of n values equals n calls of this.</summary>
    public double NextGaussian()
    {
        ulong u = NextULong();
        int layer = (int)(u & 0xFF);
        double x = (u >> 11) * Unit53 * Ziggurat.X[layer];
        return x < Ziggurat.X[layer + 1] ? ((u & 0x100) != 0 ? -x : x) : GaussianSlow(layer, x, (u & 0x100) != 0);
    }

    /// <summary>Fills <paramref name="dst"/> with independent standard normals (the same values, in order, as
    /// repeated <see cref="NextGaussian"/> calls).</summary>
    public void FillGaussian(Span<double> dst)
    {
        // The state lives in registers for the fast path (about 99% of draws); it goes back to the fields around
        // the rare slow path, which therefore never takes the locals' addresses (that would keep them in memory).
        ulong s0 = _s0, s1 = _s1, s2 = _s2, s3 = _s3;
        var x = Ziggurat.X;
        for (int i = 0; i < dst.Length; i++)
        {
            ulong u = Step(ref s0, ref s1, ref s2, ref s3);
            int layer = (int)(u & 0xFF);
            double v = (u >> 11) * Unit53 * x[layer];
            if (v < x[layer + 1])
            {
                // Bit 8 is the sign: flip the sign bit of the double without a branch.
                dst[i] = BitConverter.Int64BitsToDouble(BitConverter.DoubleToInt64Bits(v) ^ (long)((u & 0x100) << 55));
            }
            else
            {
                _s0 = s0; _s1 = s1; _s2 = s2; _s3 = s3;
                dst[i] = GaussianSlow(layer, v, (u & 0x100) != 0);
                s0 = _s0; s1 = _s1; s2 = _s2; s3 = _s3;
            }
        }
        _s0 = s0;
        _s1 = s1;
        _s2 = s2;
        _s3 = s3;
    }

    private const double Unit53 = 1.0 / (1UL << 53);

    /// <summary>The rejected ~1%: the wedge test of a layer, or the tail beyond R for the base layer; on rejection
    /// a fresh draw starts over.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private double GaussianSlow(int layer, double x, bool negative)
    {
        while (true)
        {
            if (layer == 0)
            {
                // Tail x > R (Marsaglia 1964): x = R + a with a ~ Exp(R) accepted with probability exp(-a^2/2).
                double a, b;
                do
                {
                    a = -Math.Log(NextOpenDouble()) / Ziggurat.R;
                    b = -Math.Log(NextOpenDouble());
                } while (b + b < a * a);
                return negative ? -(Ziggurat.R + a) : Ziggurat.R + a;
            }
            double y = Ziggurat.F[layer] + NextDouble() * (Ziggurat.F[layer + 1] - Ziggurat.F[layer]);
            if (y < Math.Exp(-0.5 * x * x)) return negative ? -x : x;
            ulong u = NextULong();
            layer = (int)(u & 0xFF);
            negative = (u & 0x100) != 0;
            x = (u >> 11) * Unit53 * Ziggurat.X[layer];
            if (x < Ziggurat.X[layer + 1]) return negative ? -x : x;
        }
    }

    /// <summary>
    /// The 256 layers of equal area V under f(x) = exp(-x^2/2) (unnormalised): X[1] = R is the start of the tail,
    /// X[i+1] = f^-1(f(X[i]) + V / X[i]), X[256] = 0, and the base layer (rectangle of height f(R) plus the tail)
    /// has the virtual width X[0] = V / f(R). R solves the closure f(X[255]) + V / X[255] = 1 (computed to 40 digits
    /// with mpmath: 3.65415288536100877).
    /// </summary>
    private static class Ziggurat
    {
        public const double R = 3.6541528853610088;
        public static readonly double[] X = new double[257];
        public static readonly double[] F = new double[257];

        static Ziggurat()
        {
            double fr = Math.Exp(-0.5 * R * R);
            double v = R * fr + Math.Sqrt(Math.PI / 2) * MathNet.Numerics.SpecialFunctions.Erfc(R / Math.Sqrt(2));
            X[0] = v / fr;
            X[1] = R;
            F[0] = 0;
            F[1] = fr;
            for (int i = 2; i < 256; i++)
            {
                X[i] = Math.Sqrt(-2 * Math.Log(v / X[i - 1] + F[i - 1]));
                F[i] = Math.Exp(-0.5 * X[i] * X[i]);
            }
            X[256] = 0;
            F[256] = 1;
        }
    }
}
