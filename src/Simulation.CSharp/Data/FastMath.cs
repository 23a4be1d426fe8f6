using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Theory.Simulation.Data;

/// <summary>
/// Vectorised special functions for the hot loops: the NLGP pixel map <c>erf(g z / sqrt 2)</c> (SCIENCE.md section 1)
/// and the erf activation <c>g(h) = erf(h / sqrt 2)</c> with its derivative <c>sqrt(2/pi) exp(-h^2/2)</c>
/// (section 2).
/// <para>Accuracy: <see cref="Erf(double)"/> has an absolute error below 1e-15 on the whole real line (relative error
/// below 1e-15 for |x| &lt; 1, where it is a polynomial in x^2); <see cref="Exp(double)"/> has a relative error of
/// a few ulp. Both are built only from additions, multiplications, one division, fused multiply-adds (which are
/// correctly rounded on every platform) and exact bit manipulation, and the span versions run exactly the same
/// operation sequence as the scalar ones, so results are bitwise identical whatever the SIMD width of the
/// machine. The polynomial coefficients are fitted by <c>Data/Tools/fit_erf.py</c> (Chebyshev interpolation in
/// 50-digit arithmetic).</para>
/// </summary>
public static class FastMath
{
    // erf(x) = x P(x^2) for |x| < 1 (P of degree 11, highest coefficient first).
    private static readonly double[] ErfSmall =
    [
        -7.795898827002142e-10, 1.3720064546777686e-08, -1.6208483801871705e-07, 1.6447424703317362e-06,
        -1.492473690741966e-05, 0.00012055294904839707, -0.0008548325975389692, 0.0052239776071164225,
        -0.02686617064323777, 0.11283791670945006, -0.37612638903183543, 1.1283791670955126,
    ];

    // erfc(x) = exp(-x^2) Q(s) for 1 <= x <= 6.5, t = 2 / (2 + x), s = (t - TMid) / THalf in [-1, 1]
    // (Q of degree 16, highest coefficient first). Beyond 6.5, erfc(x) < 5e-20 and erf(x) = 1 in double.
    private static readonly double[] ErfcLarge =
    [
        -1.7585718570216922e-12, 1.7837977985980852e-12, 3.5777204460821653e-11, -1.3456844848600913e-10,
        -3.5229076760948964e-10, 4.000332654765935e-09, -2.303719689234827e-09, -9.518771122831985e-08,
        2.4508704516858365e-07, 2.46071967325315e-06, -9.633642057389205e-06, -9.41822778967629e-05,
        0.00024269729791080843, 0.006169711561777847, 0.040697878889641305, 0.16481105434206508,
        0.21576343811980273,
    ];

    private const double TMid = 0.45098039215686275, THalf = 0.21568627450980393, ErfCut = 6.5;

    // exp(r) on |r| <= ln2/2 (degree 12, highest coefficient first); relative error 5e-19 before rounding.
    private static readonly double[] ExpPoly =
    [
        2.09215799649503e-09, 2.5114869528657765e-08, 2.7557251904174915e-07, 2.7557224958392624e-06,
        2.4801587350110797e-05, 0.000198412699092171, 0.001388888888887189, 0.008333333333309528,
        0.04166666666666669, 0.16666666666666702, 0.5, 1.0, 1.0,
    ];

    private const double Log2E = 1.4426950408889634;
    // ln 2 split (Cody and Waite): Ln2Hi has trailing zero bits, so n * Ln2Hi is exact for |n| < 2^11.
    private const double Ln2Hi = 0.693147180369123816490, Ln2Lo = 1.90821492927058770002e-10;
    // Adding and subtracting 1.5 * 2^52 rounds a double of magnitude below 2^51 to the nearest integer (ties to even).
    private const double RoundMagic = 6755399441055744.0;
    private const double ExpMin = -746.0, ExpMax = 710.0;

    /// <summary><c>sqrt(2 / pi)</c>: the derivative of <c>erf(h / sqrt 2)</c> at 0.</summary>
    public const double Sqrt2OverPi = 0.79788456080286541;

    /// <summary><c>1 / sqrt 2</c>.</summary>
    public const double InvSqrt2 = 0.70710678118654752;

    // ----------------------------------------------------------------------------------------------------------
    // Scalar versions (the same operation sequence as one lane of the vector versions).

    /// <summary>The error function, absolute error below 1e-15 (see the class remarks).</summary>
    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return x;
        double ax = Math.Abs(x), r;
        if (ax < 1.0)
        {
            r = ax * Horner(ErfSmall, ax * ax);
        }
        else
        {
            double xc = Math.Min(ax, ErfCut);
            double t = 2.0 / (2.0 + xc);
            double q = Horner(ErfcLarge, (t - TMid) * (1.0 / THalf));
            r = 1.0 - ExpReduced(-(xc * xc)) * q;
        }
        return Math.CopySign(r, x);
    }

    /// <summary><c>exp(y)</c>, relative error a few ulp; 0 below -745.2, infinity above 709.8.</summary>
    public static double Exp(double y)
    {
        if (double.IsNaN(y)) return y;
        double yc = Math.Clamp(y, ExpMin, ExpMax);
        double nf = (yc * Log2E + RoundMagic) - RoundMagic;
        double r = Math.FusedMultiplyAdd(-nf, Ln2Hi, yc);
        r = Math.FusedMultiplyAdd(-nf, Ln2Lo, r);
        double p = Horner(ExpPoly, r);
        long n = (long)nf, n1 = n >> 1, n2 = n - n1;
        return p * BitConverter.Int64BitsToDouble((n1 + 1023) << 52) * BitConverter.Int64BitsToDouble((n2 + 1023) << 52);
    }

    /// <summary>The Gaussian factor <c>exp(-x^2 / 2)</c> (the derivative of the erf activation is
    /// <c>sqrt(2/pi) exp(-h^2/2)</c>).</summary>
    public static double GaussianFactor(double x) => Exp(-0.5 * (x * x));

    // exp(y) for -42.25 <= y <= -1 (the erfc branch): no clamping, one power of two.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double ExpReduced(double y)
    {
        double nf = (y * Log2E + RoundMagic) - RoundMagic;
        double r = Math.FusedMultiplyAdd(-nf, Ln2Hi, y);
        r = Math.FusedMultiplyAdd(-nf, Ln2Lo, r);
        return Horner(ExpPoly, r) * BitConverter.Int64BitsToDouble(((long)nf + 1023) << 52);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Horner(double[] c, double x)
    {
        double p = c[0];
        for (int i = 1; i < c.Length; i++) p = Math.FusedMultiplyAdd(p, x, c[i]);
        return p;
    }

    // ----------------------------------------------------------------------------------------------------------
    // Span versions.

    /// <summary><c>y[i] = erf(x[i])</c>. <paramref name="y"/> may be <paramref name="x"/> (in place).</summary>
    public static void Erf(ReadOnlySpan<double> x, Span<double> y) => Erf(x, y, 1.0, 1.0);

    /// <summary><c>y[i] = outScale * erf(inScale * x[i])</c>, in one pass (the NLGP map uses inScale = g / sqrt 2,
    /// outScale = 1 / sqrt(gamma(g))). In place allowed.</summary>
    public static void Erf(ReadOnlySpan<double> x, Span<double> y, double inScale, double outScale)
    {
        if (y.Length < x.Length) throw new ArgumentException("destination too short", nameof(y));
        int n = x.Length, w = Vector<double>.Count, i = 0;
        var vin = new Vector<double>(inScale);
        var vout = new Vector<double>(outScale);
        ref double xr = ref MemoryMarshal.GetReference(x);
        ref double yr = ref MemoryMarshal.GetReference(y);
        for (; i <= n - w; i += w)
        {
            var v = Vector.LoadUnsafe(ref xr, (nuint)i);
            (ErfVector(v * vin) * vout).StoreUnsafe(ref yr, (nuint)i);
        }
        // The tail through the same vector code, so every element sees the same operations.
        if (i < n)
        {
            Span<double> buf = stackalloc double[w];
            buf.Clear();
            x[i..].CopyTo(buf);
            var v = (ErfVector(Vector.LoadUnsafe(ref MemoryMarshal.GetReference(buf)) * vin) * vout);
            v.StoreUnsafe(ref MemoryMarshal.GetReference(buf));
            buf[..(n - i)].CopyTo(y[i..]);
        }
    }

    /// <summary><c>y[i] = exp(x[i])</c>. In place allowed.</summary>
    public static void Exp(ReadOnlySpan<double> x, Span<double> y)
    {
        if (y.Length < x.Length) throw new ArgumentException("destination too short", nameof(y));
        int n = x.Length, w = Vector<double>.Count, i = 0;
        ref double xr = ref MemoryMarshal.GetReference(x);
        ref double yr = ref MemoryMarshal.GetReference(y);
        for (; i <= n - w; i += w)
            ExpVector(Vector.LoadUnsafe(ref xr, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
        if (i < n)
        {
            Span<double> buf = stackalloc double[w];
            buf.Clear();
            x[i..].CopyTo(buf);
            ExpVector(Vector.LoadUnsafe(ref MemoryMarshal.GetReference(buf))).StoreUnsafe(ref MemoryMarshal.GetReference(buf));
            buf[..(n - i)].CopyTo(y[i..]);
        }
    }

    /// <summary>
    /// The erf activation of SCIENCE.md section 2 and its derivative in one pass, sharing the exponential:
    /// <c>value[i] = erf(h[i] / sqrt 2)</c>, <c>derivative[i] = sqrt(2/pi) exp(-h[i]^2 / 2)</c>.
    /// </summary>
    public static void ErfActivation(ReadOnlySpan<double> h, Span<double> value, Span<double> derivative)
    {
        if (value.Length < h.Length || derivative.Length < h.Length)
            throw new ArgumentException("destinations too short");
        int n = h.Length, w = Vector<double>.Count, i = 0;
        ref double hr = ref MemoryMarshal.GetReference(h);
        ref double vr = ref MemoryMarshal.GetReference(value);
        ref double dr = ref MemoryMarshal.GetReference(derivative);
        for (; i <= n - w; i += w)
        {
            var (v, d) = ErfActivationVector(Vector.LoadUnsafe(ref hr, (nuint)i));
            v.StoreUnsafe(ref vr, (nuint)i);
            d.StoreUnsafe(ref dr, (nuint)i);
        }
        if (i < n)
        {
            Span<double> buf = stackalloc double[2 * w];
            buf.Clear();
            h[i..].CopyTo(buf);
            var (v, d) = ErfActivationVector(Vector.LoadUnsafe(ref MemoryMarshal.GetReference(buf)));
            v.StoreUnsafe(ref MemoryMarshal.GetReference(buf));
            d.StoreUnsafe(ref MemoryMarshal.GetReference(buf), (nuint)w);
            buf[..(n - i)].CopyTo(value[i..]);
            buf.Slice(w, n - i).CopyTo(derivative[i..]);
        }
    }

    /// <summary>Scalar <see cref="ErfActivation(ReadOnlySpan{double}, Span{double}, Span{double})"/>.</summary>
    public static (double Value, double Derivative) ErfActivation(double h) =>
        (Erf(h * InvSqrt2), Sqrt2OverPi * GaussianFactor(h));

    // ----------------------------------------------------------------------------------------------------------
    // One vector of lanes. Each mirrors the scalar function above operation by operation.

    private static readonly Vector<long> SignMask = new(long.MinValue);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<double> ErfVector(Vector<double> x)
    {
        var bits = x.As<double, long>();
        var sign = bits & SignMask;
        var ax = (bits & ~SignMask).As<long, double>();
        // Both branches for every lane and a select: data-dependent branches would mispredict on mixed vectors.
        var xc = Vector.Min(ax, new Vector<double>(ErfCut));
        var t = new Vector<double>(2.0) / (new Vector<double>(2.0) + xc);
        var q = ErfcLargeVector((t - new Vector<double>(TMid)) * new Vector<double>(1.0 / THalf));
        var large = Vector<double>.One - ExpReducedVector(-(xc * xc)) * q;
        var r = Vector.ConditionalSelect(Vector.LessThan(ax, Vector<double>.One), ax * ErfSmallVector(ax * ax), large);
        var result = (r.As<double, long>() | sign).As<long, double>();
        // NaN in, NaN out (Min may have dropped it).
        return Vector.ConditionalSelect(Vector.Equals(x, x), result, x);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<double> ExpReducedVector(Vector<double> y)
    {
        var magic = new Vector<double>(RoundMagic);
        var nf = (y * new Vector<double>(Log2E) + magic) - magic;
        var r = Vector.FusedMultiplyAdd(-nf, new Vector<double>(Ln2Hi), y);
        r = Vector.FusedMultiplyAdd(-nf, new Vector<double>(Ln2Lo), r);
        var scale = Vector.ShiftLeft(Vector.ConvertToInt64(nf) + new Vector<long>(1023), 52).As<long, double>();
        return ExpPolyVector(r) * scale;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<double> ExpVector(Vector<double> y)
    {
        var magic = new Vector<double>(RoundMagic);
        var yc = Vector.Min(Vector.Max(y, new Vector<double>(ExpMin)), new Vector<double>(ExpMax));
        var nf = (yc * new Vector<double>(Log2E) + magic) - magic;
        var r = Vector.FusedMultiplyAdd(-nf, new Vector<double>(Ln2Hi), yc);
        r = Vector.FusedMultiplyAdd(-nf, new Vector<double>(Ln2Lo), r);
        var p = ExpPolyVector(r);
        var n = Vector.ConvertToInt64(nf);
        var n1 = Vector.ShiftRightArithmetic(n, 1);
        var n2 = n - n1;
        var bias = new Vector<long>(1023);
        var result = p * Vector.ShiftLeft(n1 + bias, 52).As<long, double>() * Vector.ShiftLeft(n2 + bias, 52).As<long, double>();
        return Vector.ConditionalSelect(Vector.Equals(y, y), result, y);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector<double> Value, Vector<double> Derivative) ErfActivationVector(Vector<double> h)
    {
        // value = erf(h / sqrt 2) exactly as ErfVector(h * InvSqrt2); derivative = Sqrt2OverPi * exp(-h^2/2).
        var value = ErfVector(h * new Vector<double>(InvSqrt2));
        var derivative = new Vector<double>(Sqrt2OverPi) * ExpVector(-(new Vector<double>(0.5) * (h * h)));
        return (value, derivative);
    }

    // Horner's rule with the coefficients as immediates (the same values and order as the arrays above).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<double> ErfSmallVector(Vector<double> x)
    {
        var p = new Vector<double>(-7.795898827002142e-10);
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(1.3720064546777686e-08));
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(-1.6208483801871705e-07));
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(1.6447424703317362e-06));
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(-1.492473690741966e-05));
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(0.00012055294904839707));
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(-0.0008548325975389692));
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(0.0052239776071164225));
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(-0.02686617064323777));
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(0.11283791670945006));
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(-0.37612638903183543));
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(1.1283791670955126));
        return p;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<double> ErfcLargeVector(Vector<double> x)
    {
        var p = new Vector<double>(-1.7585718570216922e-12);
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(1.7837977985980852e-12));
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(3.5777204460821653e-11));
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(-1.3456844848600913e-10));
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(-3.5229076760948964e-10));
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(4.000332654765935e-09));
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(-2.303719689234827e-09));
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(-9.518771122831985e-08));
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(2.4508704516858365e-07));
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(2.46071967325315e-06));
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(-9.633642057389205e-06));
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(-9.41822778967629e-05));
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(0.00024269729791080843));
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(0.006169711561777847));
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(0.040697878889641305));
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(0.16481105434206508));
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(0.21576343811980273));
        return p;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<double> ExpPolyVector(Vector<double> x)
    {
        var p = new Vector<double>(2.09215799649503e-09);
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(2.5114869528657765e-08));
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(2.7557251904174915e-07));
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(2.7557224958392624e-06));
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(2.4801587350110797e-05));
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(0.000198412699092171));
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(0.001388888888887189));
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(0.008333333333309528));
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(0.04166666666666669));
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(0.16666666666666702));
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(0.5));
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(1.0));
        p = Vector.FusedMultiplyAdd(p, x, new Vector<double>(1.0));
        return p;
    }
}
