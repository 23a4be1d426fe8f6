#!/usr/bin/env python3
"""Fits the polynomial coefficients of FastMath.Erf and FastMath.Exp (src/Simulation.CSharp/Data/FastMath.cs).

Chebyshev interpolation in 50-digit arithmetic (mpmath), converted to monomial coefficients for Horner's rule
and printed as C# literals in round-trip form. Rerun with `python3 fit_erf.py` (needs python3-mpmath) to
reproduce the constants; the printed maximal errors are those of the polynomials with double coefficients,
evaluated exactly (the floating-point evaluation error is measured by the C# tests).

  erf(x)  = x P(x^2)                            for |x| < 1          (P: degree 11 in u = x^2 on [0, 1])
  erfc(x) = exp(-x^2) Q(s), t = 2/(2+x),        for 1 <= x <= 6.5    (Q: degree 16 in s, the affine map of
            s = (t - T_MID) / T_HALF in [-1, 1]                         t in [2/8.5, 2/3] onto [-1, 1])
  exp(r)  = E(r)                                for |r| <= ln2/2     (E: degree 12)
"""
import mpmath as mp

mp.mp.dps = 50


def chebyshev_interpolant(f, n):
    """Coefficients c_j of sum c_j T_j(s), s in [-1, 1], interpolating f at the n Chebyshev points."""
    nodes = [mp.cos(mp.pi * (k + mp.mpf(1) / 2) / n) for k in range(n)]
    vals = [f(s) for s in nodes]
    c = []
    for j in range(n):
        acc = mp.fsum(vals[k] * mp.cos(mp.pi * j * (k + mp.mpf(1) / 2) / n) for k in range(n))
        c.append(acc * (1 if j == 0 else 2) / n)
    return c


def chebyshev_to_monomial(c):
    """sum c_j T_j(s) as sum a_k s^k."""
    n = len(c)
    a = [mp.mpf(0)] * n
    tkm1, tk = [mp.mpf(1)], [mp.mpf(0), mp.mpf(1)]
    polys = [tkm1, tk]
    for _ in range(2, n):
        nxt = [mp.mpf(0)] + [2 * v for v in polys[-1]]
        for i, v in enumerate(polys[-2]):
            nxt[i] -= v
        polys.append(nxt)
    for j, cj in enumerate(c):
        for i, v in enumerate(polys[j]):
            a[i] += cj * v
    return a


def affine(f, lo, hi):
    """f on [lo, hi] as a function of s in [-1, 1], plus the map constants."""
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    return (lambda s: f(mid + half * s)), mid, half


def horner(a, s):
    r = mp.mpf(0)
    for v in reversed(a):
        r = r * s + v
    return r


def as_double(a):
    return [mp.mpf(float(v)) for v in a]


def emit(name, a):
    print(f"    // {name}: {len(a) - 1} degree, highest first for Horner")
    for v in reversed(a):
        print(f"    {float(v)!r},")


# erf(x)/x as a polynomial in u = x^2 on [0, 1].
g1, m1, h1 = affine(lambda u: mp.erf(mp.sqrt(u)) / mp.sqrt(u) if u > 0 else 2 / mp.sqrt(mp.pi), mp.mpf(0), mp.mpf(1))
c1 = chebyshev_interpolant(g1, 12)
# Re-expand in u itself (not s): a polynomial in s = (u - 1/2) * 2 expanded about u = 0.
a1s = chebyshev_to_monomial(c1)
# s = 2u - 1: substitute.
a1 = [mp.mpf(0)] * len(a1s)
for k, ak in enumerate(a1s):
    for i in range(k + 1):
        a1[i] += ak * mp.binomial(k, i) * (2 ** i) * ((-1) ** (k - i))
a1 = as_double(a1)
err1 = max(abs(mp.sqrt(u) * horner(a1, u) - mp.erf(mp.sqrt(u))) for u in mp.linspace(0, 1, 2001))
emit(f"erf region 1, max abs error {float(err1):.2e}", a1)

# exp(x^2) erfc(x) as a polynomial in s, t = 2/(2+x), x in [1, 6.5].
tlo, thi = mp.mpf(2) / (2 + mp.mpf('6.5')), mp.mpf(2) / 3
g2, m2, h2 = affine(lambda t: mp.exp((2 / t - 2) ** 2) * mp.erfc(2 / t - 2), tlo, thi)
a2 = as_double(chebyshev_to_monomial(chebyshev_interpolant(g2, 17)))
err2 = max(abs(mp.exp(-x * x) * horner(a2, (2 / (2 + x) - m2) / h2) - mp.erfc(x)) for x in mp.linspace(1, 6.5, 4001))
print(f"    // T_MID = {float(m2)!r}, T_HALF = {float(h2)!r}")
emit(f"erfc region 2, max abs error {float(err2):.2e}", a2)

# exp(r) on |r| <= ln2/2.
g3, m3, h3 = affine(mp.exp, -mp.ln(2) / 2, mp.ln(2) / 2)
a3s = chebyshev_to_monomial(chebyshev_interpolant(g3, 13))
a3 = [mp.mpf(0)] * len(a3s)
for k, ak in enumerate(a3s):  # s = r / h3
    a3[k] = ak / h3 ** k
a3 = as_double(a3)
err3 = max(abs(horner(a3, r) / mp.exp(r) - 1) for r in mp.linspace(-mp.ln(2) / 2, mp.ln(2) / 2, 2001))
emit(f"exp, max rel error {float(err3):.2e}", a3)
