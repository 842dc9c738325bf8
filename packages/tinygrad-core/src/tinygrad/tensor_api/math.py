"""Tensor methods: elementwise math, activations, broadcasted binary ops (division, modulo, pow) and casting.

Only EXP2, LOG2, SIN, SQRT, RECIP, TRUNC and POW are primitives (libm on the CPU backend, numpy on PYTHON), so
everything else is built from them with care for accuracy, measured in float32 ulps against numpy:

- exp splits x = n*ln2 + r (Cody-Waite: ln2 in a short "hi" part, so n*hi is exact, plus a "lo" correction)
  and returns 2^n * 2^(r*log2(e)); the naive exp2(x*log2(e)) loses ~40 ulp near |x| = 80 because rounding
  x*log2(e) costs an absolute error that exp2 turns into a relative one.
- cos(x) = sin(2x) / (2 sin x): 2x is exact and each sin is a correctly reduced libm call, so the result is
  good to a few ulp even beside the zeros of cos, where identities like sin(pi/2 - x) or 1 - 2sin^2(x/2) lose
  everything (pi/2 - x rounds away the low bits of x).
- expm1 and log1p (used by tanh, sinh, elu, softplus, atanh, ...) use Kahan's trick: with u = fl(1 + x),
  log1p(x) = log(u) * x / (u - 1) cancels the rounding of u exactly; expm1 mirrors it.
- asin, acos, atan and erf use polynomials fitted for this file (Chebyshev approximation with mpmath on the
  ranges noted beside each table, then rounded to the dtype); float64 gets its own longer tables.

16-bit floats are computed in float32 and rounded once at the end, as torch does. Results are compared with
numpy and torch in tests/test_api_math.py.

Gradients: most methods get theirs from the primitives; branches chosen with `where` are fed clamped inputs so
the unused side never produces inf or nan (whose zero gradient would still turn into nan). Where the value's own
formula would differentiate badly (cos, tan, erf, fmod) `Tensor.custom_gradient` attaches the analytic derivative.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Union

from tinygrad.dtype import DType, dtypes, least_upper_float, to_dtype
from tinygrad.errors import DTypeError
from tinygrad.uop.ops import Ops

if TYPE_CHECKING:
    from tinygrad.tensor import Tensor

TensorLike = Union["Tensor", int, float, bool]

# ---- constants, each split as hi + lo where the hi part alone would cost accuracy ----

LN2 = math.log(2)
LOG2_E = 1 / math.log(2)
# ln2 = hi + lo with hi holding 16 (float32) / 42 (float64) significant bits, so that n*hi is exact for the
# clamped |n| < 256 / 2048 below; lo is ln2 - hi rounded to the dtype.
_LN2_SPLIT = {4: (0.693145751953125, 1.428606765330187e-06), 8: (0.6931471805598903, 5.497923018708371e-14)}
# exponent n is clamped to this magnitude: wide enough to reach inf and 0, small enough for n*hi to stay exact
_EXP_N_MAX = {4: 160, 8: 1100}
# pi/2, pi and pi/4 as (nearest float of the dtype, remainder)
_PIO2 = {4: (1.5707963705062866, -4.371138828673793e-08), 8: (1.5707963267948966, 6.123233995736766e-17)}
_PI = {4: (3.1415927410125732, -8.742277657347586e-08), 8: (3.141592653589793, 1.2246467991473532e-16)}
_PIO4 = {4: (0.7853981852531433, -2.1855694143368964e-08), 8: (0.7853981633974483, 3.061616997868383e-17)}
TAN_PI_8, TAN_3PI_8 = 0.41421356237309503, 2.414213562373095

# Polynomial tables, highest degree first. Each was fitted with mpmath.chebyfit (a near-minimax Chebyshev fit)
# and rounded to the dtype; the comment gives the fit's max absolute error before rounding.
# asin(x) = x + x*z*P(z), z = x^2 <= 0.25
_ASIN_P = {
    4: (0.03369084745645523, 0.017149237915873528, 0.031100662425160408, 0.04459940269589424,
        0.07500094175338745, 0.1666666567325592),  # 4.2e-9
    8: (0.028757851367421566, -0.014851887071247204, 0.01740087944269402, 0.005457506718640358,
        0.01032281435018578, 0.011479177415184906, 0.013971212973552933, 0.017352392720869973,
        0.02237217294214989, 0.030381944138531247, 0.04464285714635543, 0.07499999999998433,
        0.16666666666666669),  # 1.5e-17
}  # fmt: skip
# atan(t) = t + t*z*Q(z), z = t^2 <= tan(pi/8)^2
_ATAN_Q = {
    4: (0.05048138648271561, -0.08624675869941711, 0.1107136532664299, -0.14284151792526245,
        0.19999977946281433, -0.3333333432674408),  # 5.4e-10
    8: (-0.01917688711906226, 0.03923165829558719, -0.0508544973794026, 0.0585814891280221,
        -0.06664511447381948, 0.07692183190826087, -0.09090904578123903, 0.11111111015256361,
        -0.14285714284666542, 0.1999999999999552, -0.3333333333333333),  # 3.2e-17
}  # fmt: skip
# erf(x) = x*R(z), z = x^2 <= 1
_ERF_R = {
    4: (7.875874871388078e-05, -0.000801686430349946, 0.005189087241888046, -0.02685421146452427,
        0.11283594369888306, -0.3761262595653534, 1.1283791065216064),  # 1.2e-9
    8: (-7.795898827002142e-10, 1.3720064546777686e-08, -1.6208483801871705e-07, 1.6447424703317362e-06,
        -1.492473690741966e-05, 0.00012055294904839707, -0.0008548325975389692, 0.0052239776071164225,
        -0.02686617064323777, 0.11283791670945006, -0.37612638903183543, 1.1283791670955126),  # 7.4e-18
}  # fmt: skip
# erfc(x) = exp(-x^2) * t * H(t - center), t = 1/x, for 1 <= x <= 3.92 (float32) / 5.95 (float64), beyond
# which erf rounds to 1. (t_center, H coefficients)
_ERFC_H = {
    4: (0.6275510191917419, (
        0.05292610451579094, -0.03842056915163994, -0.01141334231942892, 0.050990086048841476,
        -0.07737328857183456, 0.07124953716993332, -0.0007461200002580881, -0.17159023880958557,
        0.4890870749950409)),  # 2.9e-8
    8: (0.5840336134453782, (
        -0.8391761100173548, 0.7928002342522597, 0.32392263713438463, -0.5498612336301278, 0.15382106634535947,
        -0.07252205038906696, 0.11572209688086323, -0.05085651506226245, -0.03370382375815076,
        0.07934889795460048, -0.09275173931321476, 0.07994159775789886, -0.04634419268643634,
        0.002863858787358321, 0.03743109324509116, -0.0627600972517242, 0.0651164119735252,
        -0.04230418858615243, -0.0006743735509927395, 0.05102749258733764, -0.08838372322521278,
        0.08573355223718519, -0.010976102533776295, -0.17109440596443704, 0.49654667652821827)),  # 1.1e-17
}  # fmt: skip
_ERF_ONE = {4: 3.92, 8: 5.95}  # erf(x) rounds to 1 beyond this


_EXP_SAFE = {4: 88.0, 8: 709.0}  # e^x is finite below this; sinh/cosh switch to e^(x/2)^2 / 2 above it
_ASINH_BIG = 2.0**28  # above this asinh(x) = log(2x) to the last bit, and x^2 is not formed


# ---- helpers on tensors of the compute dtype (float32 or float64) ----


def _float_dtypes(dt: DType) -> tuple[DType, DType]:
    """(dtype of the result, dtype to compute in): ints become floats; 8/16-bit floats compute in float32."""
    out = least_upper_float(dt)
    return out, (dtypes.float32 if out.itemsize < 4 else out)


def _unary(x: Tensor, fn: Callable[[Tensor], Tensor]) -> Tensor:
    out, comp = _float_dtypes(x.dtype)
    return fn(x.cast(comp)).cast(out)


def _k(x: Tensor) -> int:
    """Key into the constant tables: the itemsize of the compute dtype."""
    return 8 if x.dtype == dtypes.float64 else 4


def _finite(x: Tensor) -> Tensor:
    return (x == x) & (x != math.inf) & (x != -math.inf)


def _nan_like(x: Tensor) -> Tensor:
    """nan in x's shape, computed from x: a nan constant inside `where` makes the kernel simplifier's range
    analysis fold later comparisons to False (a core bug, see test_api_math.py)."""
    z = x.detach() - x.detach()
    return z / z


def _poly(x: Tensor, coeffs: Sequence[float]) -> Tensor:
    """Horner evaluation of coeffs (highest degree first) at x."""
    p = x * coeffs[0] + coeffs[1]
    for c in coeffs[2:]:
        p = p * x + c
    return p


def _pow2i(n: Tensor) -> Tensor:
    """2^n for integer-valued float n within the normal exponent range, built from its bits (exact)."""
    from tinygrad.tensor import Tensor

    mant, bias, idt = (52, 1023, dtypes.int64) if n.dtype == dtypes.float64 else (23, 127, dtypes.int32)
    return Tensor(((n.cast(idt) + bias) << mant).uop.bitcast(n.dtype))


def _exp(x: Tensor) -> Tensor:
    """e^x: x = n*ln2 + r with |r| <= ln2/2, e^x = 2^(r*log2(e)) * 2^n, 2^n applied in two exact halves."""
    k = _k(x)
    hi, lo = _LN2_SPLIT[k]
    n = (x.detach() * LOG2_E + 0.5).floor()
    n = (n != n).where(0.0, n).clip(-_EXP_N_MAX[k], _EXP_N_MAX[k])
    # n*hi is exact and within a factor 2 of x, so x - n*hi is exact: r keeps all of x's bits
    r = (x - n * hi) - n * lo
    n1 = (n * 0.5).floor()
    # (e * 2^n1) * 2^n2: the partial product stays finite, so a zero gradient never meets inf * 0
    return (r * LOG2_E)._alu(Ops.EXP2) * _pow2i(n1) * _pow2i(n - n1)


def _log(x: Tensor) -> Tensor:
    return x._alu(Ops.LOG2) * LN2


def _sin(x: Tensor) -> Tensor:
    return x._alu(Ops.SIN)


def _expm1(x: Tensor) -> Tensor:
    """e^x - 1, accurate near 0: with u = fl(e^x), (u - 1) * x / log(u) cancels u's rounding (Kahan)."""
    mid = (x > -1.0) & (x < 1.0)
    xm = mid.where(x, 0.5)
    u = _exp(xm)
    one = u == 1.0
    near = one.where(xm, one.where(1.0, u - 1.0) * (xm / one.where(1.0, _log(u))))
    return mid.where(near, _exp(mid.where(-1.0, x)) - 1.0)


def _log1p(x: Tensor) -> Tensor:
    """log(1 + x), accurate near 0: with u = fl(1 + x), log(u) * x / (u - 1) cancels u's rounding (Kahan)."""
    mid = (x > -0.5) & (x < 1.0)
    xm = mid.where(x, 0.5)
    u = xm + 1.0
    zero = (u - 1.0) == 0.0
    near = zero.where(xm, _log(u) * (xm / zero.where(1.0, u - 1.0)))
    return mid.where(near, _log(mid.where(1.0, x) + 1.0))


def _cos_sin(x: Tensor) -> tuple[Tensor, Tensor]:
    """(cos x, sin x) with cos x = sin(2x) / (2 sin x). Below 2^-13 (float64: 2^-27) cos rounds to 1; where 2x
    would overflow (|x| > 8.5e37 in float32) 1 - 2 sin(x/2)^2 takes over, accurate except beside cos's zeros."""
    s = _sin(x)
    a = x.abs()
    top, one = (2.0**127, 2.0**-13) if _k(x) == 4 else (2.0**1023, 2.0**-27)
    h = _sin(x * 0.5)
    c = (a < top).where(_sin(x * 2.0) / (s * 2.0), 1.0 - 2.0 * h * h)
    return (a < one).where(1.0, c), s


def _tan(x: Tensor) -> Tensor:
    c, s = _cos_sin(x)
    return s / c


# gradients attached with Tensor.custom_gradient where differentiating the value's own formula is inaccurate
# (module-level functions, so equal calls build equal graphs)


def _cos_grad(g: Tensor, x: Tensor) -> list[Tensor]:
    return [-g * _sin(x)]


def _tan_grad(g: Tensor, x: Tensor) -> list[Tensor]:
    t = _tan(x)
    return [g * (t * t + 1.0)]


def _erf_grad(g: Tensor, x: Tensor) -> list[Tensor]:
    return [g * (2.0 / math.sqrt(math.pi)) * _exp(-(x * x))]


def _fmod_grad(g: Tensor, a: Tensor, b: Tensor) -> list[Tensor]:
    return [g, -g * (a / b).trunc()]  # as torch


def _asin_core(x: Tensor, z: Tensor) -> Tensor:
    """asin(x) for |x| <= 0.5, given z = x^2."""
    return x + x * (z * _poly(z, _ASIN_P[_k(x)]))


def _atan_core(t: Tensor) -> Tensor:
    """atan(t) for |t| <= tan(pi/8)."""
    z = t * t
    return t + t * (z * _poly(z, _ATAN_Q[_k(t)]))


def _odd(x: Tensor, v: Tensor) -> Tensor:
    """f(x) from v = f(|x|) for an odd f with f'(0) = 1: at x = +-0 the result is x itself, which keeps the sign
    of zero and gives the gradient 1 that |x| would lose."""
    return (x == 0.0).where(x, (x < 0.0).where(-v, v))


def _split_mantissa(v: Tensor) -> tuple[Tensor, Tensor]:
    """(m, e) as int64 with v = m * 2^e for a finite v >= 0 of float32/float64 (denormals included)."""
    from tinygrad.tensor import Tensor

    mbits, bias, idt = (52, 1075, dtypes.int64) if v.dtype == dtypes.float64 else (23, 150, dtypes.int32)
    bits = Tensor(v.uop.bitcast(idt))
    ef = bits >> mbits
    m = bits & ((1 << mbits) - 1)
    m = (ef == 0).where(m, m | (1 << mbits))
    e = (ef == 0).where(1, ef) - bias
    return m.cast(dtypes.int64), e.cast(dtypes.int64)


def _mulmod(x: Tensor, y: Tensor, m: Tensor, wide: bool) -> Tensor:
    """(x * y) mod m for int64 0 <= x, y < m. Narrow moduli (< 2^24) multiply directly; wide ones (< 2^53) use
    a float64 estimate of the quotient and let int64 wraparound give the exact remainder, then fix it up."""
    if not wide:
        return (x * y)._alu(Ops.MOD, m)
    q = (x.cast(dtypes.float64) * y.cast(dtypes.float64) / m.cast(dtypes.float64)).floor().cast(dtypes.int64)
    r = x * y - q * m  # exact mod 2^64, and the true value is within a few m of 0
    for _ in range(2):
        r = (r < 0).where(r + m, r)
        r = (r >= m).where(r - m, r)
    return r


def _fmod_exact(a: Tensor, b: Tensor) -> Tensor:
    """C fmod for float32/float64, exact: with |a| = ma*2^ea and |b| = mb*2^eb (integer mantissas),
    fmod = (ma * 2^(ea-eb) mod mb) * 2^eb, and 2^(ea-eb) mod mb comes from square-and-multiply."""
    k = _k(a)
    aa, ab = a.abs(), b.abs()
    bad = (a != a) | (b != b) | (aa == math.inf) | (b == 0.0)
    keep = ((aa < ab) | (ab == math.inf)) & ~bad
    core = ~(bad | keep)
    ma, ea = _split_mantissa(core.where(aa, 1.0))
    mb, eb = _split_mantissa(core.where(ab, 1.0))
    d = ea - eb  # 0 <= d < 2^11 on the core path
    wide = k == 8
    rem = ma._alu(Ops.MOD, mb)
    base = mb.full_like(2)._alu(Ops.MOD, mb)
    for i in range(11 if wide else 8):
        rem = ((d >> i) & 1).ne(0).where(_mulmod(rem, base, mb, wide), rem)
        base = _mulmod(base, base, mb, wide)
    half = (eb >> 1).cast(a.dtype)
    mag = rem.cast(a.dtype) * _pow2i(half) * _pow2i(eb.cast(a.dtype) - half)
    return bad.where(_nan_like(aa), keep.where(a, (a < 0.0).where(-mag, mag)))


def _signbit(x: Tensor) -> Tensor:
    """True where x's sign bit is set (-0.0 and -nan included)."""
    from tinygrad.tensor import Tensor

    if not dtypes.is_float(x.dtype):
        return x < 0 if dtypes.is_int(x.dtype) else x.full_like(False, dtype=dtypes.bool)
    idt = {1: dtypes.int8, 2: dtypes.int16, 4: dtypes.int32, 8: dtypes.int64}[x.dtype.itemsize]
    return Tensor(x.uop.bitcast(idt)) < 0


def _ipow_scalar(base: Tensor, e: int) -> Tensor:
    """base ** e for an int tensor and a Python int e >= 0: square-and-multiply, wrapping like torch."""
    out: Tensor | None = None
    p = base
    while e:
        if e & 1:
            out = p if out is None else out * p
        e >>= 1
        if e:
            p = p * p
    return base.ones_like() if out is None else out


def _ipow(base: Tensor, e: Tensor) -> Tensor:
    """base ** e for int tensors of one dtype; negative e gives 1, +-1 or 0 as torch does."""
    out = base.ones_like()
    p = base
    bits = 8 * e.dtype.itemsize - (0 if dtypes.is_unsigned(e.dtype) else 1)
    for i in range(bits):
        out = ((e >> i) & 1).ne(0).where(out * p, out)
        if i + 1 < bits:
            p = p * p
    if dtypes.is_unsigned(e.dtype):
        return out
    odd = (e & 1).ne(0)
    neg = (base == 1).where(1, (base == -1).where(odd.where(-1, 1), 0)).cast(base.dtype)
    return (e < 0).where(neg, out)


class MathMixin:
    __slots__ = ()

    # ---- unary math ----

    def logical_not(self: Tensor) -> Tensor:
        """Elementwise logical not; the result is bool.

        >>> from tinygrad import Tensor
        >>> Tensor([True, False]).logical_not().tolist(), Tensor([0, 3]).logical_not().tolist()
        ([False, True], [True, False])
        """
        return self.cast(dtypes.bool)._alu(Ops.NEG)

    def neg(self: Tensor) -> Tensor:
        """-x (logical not for bool).

        >>> from tinygrad import Tensor
        >>> Tensor([1, -2]).neg().tolist(), (-Tensor([0.5])).tolist()
        ([-1, 2], [-0.5])
        """
        return self.logical_not() if self.dtype == dtypes.bool else self._alu(Ops.NEG)

    def exp(self: Tensor) -> Tensor:
        """e**x, within 2 ulp in float32 over the whole range (ints give floats).

        >>> from tinygrad import Tensor
        >>> [round(v, 4) for v in Tensor([0.0, 1.0, -2.0]).exp().tolist()]
        [1.0, 2.7183, 0.1353]
        """
        return _unary(self, _exp)

    def exp2(self: Tensor) -> Tensor:
        """2**x.

        >>> from tinygrad import Tensor
        >>> Tensor([0, 3, -1]).exp2().tolist()
        [1.0, 8.0, 0.5]
        """
        return _unary(self, lambda x: x._alu(Ops.EXP2))

    def log(self: Tensor) -> Tensor:
        """Natural logarithm (nan below 0, -inf at 0).

        >>> from tinygrad import Tensor
        >>> [round(v, 4) for v in Tensor([1.0, 2.718281828, 10.0]).log().tolist()]
        [0.0, 1.0, 2.3026]
        """
        return _unary(self, _log)

    def log2(self: Tensor) -> Tensor:
        """Base-2 logarithm.

        >>> from tinygrad import Tensor
        >>> Tensor([1, 8, 0.25]).log2().tolist()
        [0.0, 3.0, -2.0]
        """
        return _unary(self, lambda x: x._alu(Ops.LOG2))

    def log10(self: Tensor) -> Tensor:
        """Base-10 logarithm.

        >>> from tinygrad import Tensor
        >>> [round(v, 4) for v in Tensor([1.0, 100.0, 0.001]).log10().tolist()]
        [0.0, 2.0, -3.0]
        """
        return _unary(self, lambda x: x._alu(Ops.LOG2) * math.log10(2))

    def sqrt(self: Tensor) -> Tensor:
        """Square root (nan below 0).

        >>> from tinygrad import Tensor
        >>> Tensor([4.0, 9.0, 0.0]).sqrt().tolist()
        [2.0, 3.0, 0.0]
        """
        return _unary(self, lambda x: x._alu(Ops.SQRT))

    def rsqrt(self: Tensor) -> Tensor:
        """1 / sqrt(x).

        >>> from tinygrad import Tensor
        >>> Tensor([4.0, 0.25]).rsqrt().tolist()
        [0.5, 2.0]
        """
        return _unary(self, lambda x: x._alu(Ops.SQRT)._alu(Ops.RECIP))

    def reciprocal(self: Tensor) -> Tensor:
        """1 / x (ints give floats).

        >>> from tinygrad import Tensor
        >>> Tensor([2, -4]).reciprocal().tolist()
        [0.5, -0.25]
        """
        return _unary(self, lambda x: x._alu(Ops.RECIP))

    def sin(self: Tensor) -> Tensor:
        """Sine of radians.

        >>> from tinygrad import Tensor
        >>> [round(v, 4) for v in Tensor([0.0, 1.5707963, -0.5]).sin().tolist()]
        [0.0, 1.0, -0.4794]
        """
        return _unary(self, _sin)

    def cos(self: Tensor) -> Tensor:
        """Cosine of radians, accurate to a few ulp for any float32, also next to its zeros and for large x.

        >>> from tinygrad import Tensor
        >>> [round(v, 4) for v in Tensor([0.0, 3.1415927, 10000.0]).cos().tolist()]
        [1.0, -1.0, -0.9522]
        """

        def f(x: Tensor) -> Tensor:
            return _cos_sin(x)[0].custom_gradient([x], _cos_grad)

        return _unary(self, f)

    def tan(self: Tensor) -> Tensor:
        """Tangent of radians: sin(x) / cos(x).

        >>> from tinygrad import Tensor
        >>> [round(v, 4) for v in Tensor([0.0, 0.7853982, -1.0]).tan().tolist()]
        [0.0, 1.0, -1.5574]
        """

        def f(x: Tensor) -> Tensor:
            return _tan(x).custom_gradient([x], _tan_grad)

        return _unary(self, f)

    def asin(self: Tensor) -> Tensor:
        """Arcsine in [-pi/2, pi/2] (nan outside [-1, 1]).

        >>> from tinygrad import Tensor
        >>> [round(v, 4) for v in Tensor([0.0, 0.5, -1.0]).asin().tolist()]
        [0.0, 0.5236, -1.5708]
        """

        def f(x: Tensor) -> Tensor:
            a = x.abs()
            small = a <= 0.5
            xm = small.where(x, 0.0)
            near0 = _asin_core(xm, xm * xm)
            # asin(a) = pi/2 - 2 asin(sqrt((1 - a) / 2)), with 1 - a exact for a >= 0.5
            z = (1.0 - small.where(0.75, a)) * 0.5
            hi, lo = _PIO2[_k(x)]
            far = (hi - 2.0 * _asin_core(z.sqrt(), z)) + lo
            return small.where(near0, (x < 0.0).where(-far, far))

        return _unary(self, f)

    def acos(self: Tensor) -> Tensor:
        """Arccosine in [0, pi] (nan outside [-1, 1]).

        >>> from tinygrad import Tensor
        >>> [round(v, 4) for v in Tensor([1.0, 0.0, -1.0]).acos().tolist()]
        [0.0, 1.5708, 3.1416]
        """

        def f(x: Tensor) -> Tensor:
            k = _k(x)
            small = x.abs() <= 0.5
            xm = small.where(x, 0.0)
            hi, lo = _PIO2[k]
            near0 = (hi - _asin_core(xm, xm * xm)) + lo
            # acos(a) = 2 asin(sqrt((1 - a) / 2)) for a > 0.5 and pi minus that for -a
            a = small.where(0.75, x.abs())
            z = (1.0 - a) * 0.5
            twice = 2.0 * _asin_core(z.sqrt(), z)
            pi_hi, pi_lo = _PI[k]
            return small.where(near0, (x < 0.0).where((pi_hi - twice) + pi_lo, twice))

        return _unary(self, f)

    def atan(self: Tensor) -> Tensor:
        """Arctangent in (-pi/2, pi/2).

        >>> from tinygrad import Tensor
        >>> [round(v, 4) for v in Tensor([0.0, 1.0, -1e30]).atan().tolist()]
        [0.0, 0.7854, -1.5708]
        """

        def f(x: Tensor) -> Tensor:
            k = _k(x)
            a = x.abs()
            r1, r3 = a <= TAN_PI_8, a > TAN_3PI_8
            near0 = _atan_core(r1.where(x, 0.0))
            # atan(a) = pi/4 + atan((a - 1) / (a + 1)) in the middle, pi/2 - atan(1 / a) beyond
            a2 = (r1 | r3).where(1.0, a)
            mid = _PIO4[k][0] + (_atan_core((a2 - 1.0) / (a2 + 1.0)) + _PIO4[k][1])
            far = _PIO2[k][0] + (_atan_core(-1.0 / r3.where(a, 4.0)) + _PIO2[k][1])
            v = r3.where(far, mid)
            return (x == 0.0).where(x, r1.where(near0, (x < 0.0).where(-v, v)))

        return _unary(self, f)

    def trunc(self: Tensor) -> Tensor:
        """Round toward zero (ints are returned as they are).

        >>> from tinygrad import Tensor
        >>> Tensor([1.7, -1.7, -0.2]).trunc().tolist()
        [1.0, -1.0, -0.0]
        """
        return self if not dtypes.is_float(self.dtype) else self._alu(Ops.TRUNC)

    def floor(self: Tensor) -> Tensor:
        """Round toward -inf.

        >>> from tinygrad import Tensor
        >>> Tensor([1.7, -1.2, 3.0]).floor().tolist()
        [1.0, -2.0, 3.0]
        """
        if not dtypes.is_float(self.dtype):
            return self
        t = self.trunc()
        return (self < t).where(t - 1, t)

    def ceil(self: Tensor) -> Tensor:
        """Round toward +inf.

        >>> from tinygrad import Tensor
        >>> Tensor([1.2, -1.7, 3.0]).ceil().tolist()
        [2.0, -1.0, 3.0]
        """
        if not dtypes.is_float(self.dtype):
            return self
        t = self.trunc()
        return (self > t).where(t + 1, t)

    def round(self: Tensor, decimals: int = 0) -> Tensor:
        """Round to the nearest integer, halves to even (as torch and numpy); `decimals` rounds to 10**-decimals.

        >>> from tinygrad import Tensor
        >>> Tensor([0.5, 1.5, 2.5, -2.5, 2.7]).round().tolist()
        [0.0, 2.0, 2.0, -2.0, 3.0]
        >>> Tensor([1.2345, 1234.5]).round(2).tolist(), Tensor([1234.5]).round(-1).tolist()
        ([1.2300000190734863, 1234.5], [1230.0])
        """
        if not dtypes.is_float(self.dtype):
            return self
        if decimals:
            scale = 10.0 ** abs(decimals)
            return (self * scale).round() / scale if decimals > 0 else (self / scale).round() * scale
        t = self.trunc()
        f = (self - t).abs()  # exact
        odd = (t - (t * 0.5).trunc() * 2.0) != 0.0
        away = (f > 0.5) | ((f == 0.5) & odd)
        return away.where(t + (self < 0).where(-1.0, 1.0), t)

    def isinf(self: Tensor, detect_positive: bool = True, detect_negative: bool = True) -> Tensor:
        """True where x is +inf (if detect_positive) or -inf (if detect_negative).

        >>> from tinygrad import Tensor
        >>> t = Tensor([1.0, float("inf"), -float("inf"), float("nan")])
        >>> t.isinf().tolist(), t.isinf(detect_negative=False).tolist()
        ([False, True, True, False], [False, True, False, False])
        """
        out = self.full_like(False, dtype=dtypes.bool)
        if not dtypes.is_float(self.dtype):
            return out
        if detect_positive:
            out = out | (self == math.inf)
        if detect_negative:
            out = out | (self == -math.inf)
        return out

    def isnan(self: Tensor) -> Tensor:
        """True where x is nan.

        >>> from tinygrad import Tensor
        >>> Tensor([1.0, float("nan")]).isnan().tolist()
        [False, True]
        """
        return self != self if dtypes.is_float(self.dtype) else self.full_like(False, dtype=dtypes.bool)

    def isfinite(self: Tensor) -> Tensor:
        """True where x is neither inf nor nan.

        >>> from tinygrad import Tensor
        >>> Tensor([1.0, float("inf"), float("nan")]).isfinite().tolist()
        [True, False, False]
        """
        return _finite(self) if dtypes.is_float(self.dtype) else self.full_like(True, dtype=dtypes.bool)

    def lerp(self: Tensor, end: TensorLike, weight: TensorLike) -> Tensor:
        """self + weight * (end - self), evaluated from the nearer end so weight 1 gives `end` exactly (as torch).

        >>> from tinygrad import Tensor
        >>> Tensor([1.0, 2.0]).lerp(Tensor([3.0, 6.0]), 0.25).tolist()
        [1.5, 3.0]
        """
        from tinygrad.tensor import Tensor

        a, b = self._broadcasted(end, "lerp")
        if not dtypes.is_float(a.dtype):
            a, b = a.cast(dtypes.default_float), b.cast(dtypes.default_float)
        if not isinstance(weight, Tensor):
            return a + (b - a) * weight if abs(weight) < 0.5 else b - (b - a) * (1 - weight)
        return (weight.abs() < 0.5).where(a + weight * (b - a), b - (b - a) * (1 - weight))

    def square(self: Tensor) -> Tensor:
        """x * x.

        >>> from tinygrad import Tensor
        >>> Tensor([-3, 2]).square().tolist()
        [9, 4]
        """
        return self * self

    def clamp(self: Tensor, min_: TensorLike | None = None, max_: TensorLike | None = None) -> Tensor:
        """Limit values to [min_, max_] (either may be None). Values at a bound keep their gradient, as in torch;
        nan stays nan; if min_ > max_ everything becomes max_.

        >>> from tinygrad import Tensor
        >>> Tensor([-2, 0, 5]).clamp(-1, 3).tolist(), Tensor([0.5, 2.0]).clamp(max_=1.0).tolist()
        ([-1, 0, 3], [0.5, 1.0])
        """
        if min_ is None and max_ is None:
            raise ValueError("Tensor.clamp: at least one of min_ and max_ must be given")
        x = self
        if min_ is not None:
            x = (x < min_).where(min_, x)
        if max_ is not None:
            x = (x > max_).where(max_, x)
        return x

    def clip(self: Tensor, min_: TensorLike | None = None, max_: TensorLike | None = None) -> Tensor:
        """Alias of `clamp`.

        >>> from tinygrad import Tensor
        >>> Tensor([-2.0, 0.5, 5.0]).clip(0.0, 1.0).tolist()
        [0.0, 0.5, 1.0]
        """
        return self.clamp(min_, max_)

    def sign(self: Tensor) -> Tensor:
        """-1, 0 or 1 by sign, in x's dtype (nan gives 0, as torch).

        >>> from tinygrad import Tensor
        >>> Tensor([-2.5, 0.0, 3.0]).sign().tolist(), Tensor([-4, 0, 7]).sign().tolist()
        ([-1.0, 0.0, 1.0], [-1, 0, 1])
        """
        if self.dtype == dtypes.bool or dtypes.is_unsigned(self.dtype):
            return (self > 0).cast(self.dtype)
        zero, one = self._const_like(0), self._const_like(1)
        return (self > 0).where(one, (self < 0).where(-one, zero))

    def abs(self: Tensor) -> Tensor:
        """|x| (its gradient at 0 is 0, as torch).

        >>> from tinygrad import Tensor
        >>> Tensor([-2, 3]).abs().tolist(), Tensor([-0.5, -0.0]).abs().tolist()
        ([2, 3], [0.5, 0.0])
        """
        if dtypes.is_unsigned(self.dtype) or self.dtype == dtypes.bool:
            return self
        # x - x is +0 for both zeros (and nan for nan), with no gradient
        return (self > 0).where(self, (self < 0).where(-self, self - self))

    # ---- activations ----

    def relu(self: Tensor) -> Tensor:
        """max(x, 0); nan stays nan and the gradient at 0 is 0, as in torch.

        >>> from tinygrad import Tensor
        >>> Tensor([-1.0, 0.0, 2.0]).relu().tolist()
        [0.0, 0.0, 2.0]
        """
        return (self <= 0).where(0, self)

    def sigmoid(self: Tensor) -> Tensor:
        """1 / (1 + e**-x), computed from e**-|x| so neither side overflows.

        >>> from tinygrad import Tensor
        >>> [round(v, 4) for v in Tensor([0.0, 2.0, -100.0]).sigmoid().tolist()]
        [0.5, 0.8808, 0.0]
        """

        def f(x: Tensor) -> Tensor:
            pos = x >= 0.0
            e = _exp(pos.where(-x, x))  # e^-|x|, with the gradient of the side in use (also at 0)
            return pos.where(1.0 / (1.0 + e), e / (1.0 + e))

        return _unary(self, f)

    def logsigmoid(self: Tensor) -> Tensor:
        """log(sigmoid(x)) = -softplus(-x), without overflow or log(0).

        >>> from tinygrad import Tensor
        >>> [round(v, 4) for v in Tensor([0.0, -200.0, 50.0]).logsigmoid().tolist()]
        [-0.6931, -200.0, -0.0]
        """

        def f(x: Tensor) -> Tensor:
            # |x| has gradient 0 at 0, so the minimum's tie (1/2 each way) gives the right slope 1/2 there
            return x.minimum(0.0) - _log1p(_exp(-x.abs()))

        return _unary(self, f)

    def hardsigmoid(self: Tensor, alpha: float = 1 / 6, beta: float = 0.5) -> Tensor:
        """clamp(alpha * x + beta, 0, 1) (torch's defaults); the gradient is 0 at the corners, as torch.

        >>> from tinygrad import Tensor
        >>> Tensor([-4.0, 0.0, 1.5, 4.0]).hardsigmoid().tolist()
        [0.0, 0.5, 0.75, 1.0]
        """
        y = self.cast(least_upper_float(self.dtype)) * alpha + beta
        return (y <= 0.0).where(0.0, (y >= 1.0).where(1.0, y))

    def elu(self: Tensor, alpha: float = 1.0) -> Tensor:
        """x for x > 0, alpha * (e**x - 1) below.

        >>> from tinygrad import Tensor
        >>> [round(v, 4) for v in Tensor([-1.0, 0.0, 2.0]).elu().tolist()]
        [-0.6321, 0.0, 2.0]
        """

        def f(x: Tensor) -> Tensor:
            pos = x > 0.0
            return pos.where(x, alpha * _expm1(pos.where(0.0, x)))

        return _unary(self, f)

    def celu(self: Tensor, alpha: float = 1.0) -> Tensor:
        """x for x > 0, alpha * (e**(x/alpha) - 1) below.

        >>> from tinygrad import Tensor
        >>> [round(v, 4) for v in Tensor([-1.0, 2.0]).celu(alpha=2.0).tolist()]
        [-0.7869, 2.0]
        """

        def f(x: Tensor) -> Tensor:
            pos = x > 0.0
            return pos.where(x, alpha * _expm1(pos.where(0.0, x) / alpha))

        return _unary(self, f)

    def selu(self: Tensor) -> Tensor:
        """scale * elu(x, alpha) with the self-normalizing constants of Klambauer et al. (2017).

        >>> from tinygrad import Tensor
        >>> [round(v, 4) for v in Tensor([-1.0, 1.0]).selu().tolist()]
        [-1.1113, 1.0507]
        """
        alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
        return self.elu(alpha) * scale

    def swish(self: Tensor) -> Tensor:
        """x * sigmoid(x) (alias of silu).

        >>> from tinygrad import Tensor
        >>> [round(v, 4) for v in Tensor([-1.0, 0.0, 2.0]).swish().tolist()]
        [-0.2689, 0.0, 1.7616]
        """
        return self * self.sigmoid()

    def silu(self: Tensor) -> Tensor:
        """x * sigmoid(x).

        >>> from tinygrad import Tensor
        >>> [round(v, 4) for v in Tensor([-1.0, 2.0]).silu().tolist()]
        [-0.2689, 1.7616]
        """
        return self.swish()

    def relu6(self: Tensor) -> Tensor:
        """min(max(x, 0), 6); the gradient is 0 at 0 and 6, as torch.

        >>> from tinygrad import Tensor
        >>> Tensor([-1.0, 3.0, 7.0]).relu6().tolist()
        [0.0, 3.0, 6.0]
        """
        return self.hardtanh(0, 6)

    def hardswish(self: Tensor) -> Tensor:
        """x * relu6(x + 3) / 6, with torch's gradient (0 at -3, 1 at 3).

        >>> from tinygrad import Tensor
        >>> Tensor([-4.0, 0.0, 1.5, 4.0]).hardswish().tolist()
        [0.0, 0.0, 1.125, 4.0]
        """
        x = self.cast(least_upper_float(self.dtype))
        inner = (x.abs() >= 3.0).where(0.0, x)  # keeps inf out of the unused branch's gradient
        return (x <= -3.0).where(0.0, (x >= 3.0).where(x, inner * (inner + 3.0) / 6.0))

    def tanh(self: Tensor) -> Tensor:
        """Hyperbolic tangent: -expm1(-2|x|) / (expm1(-2|x|) + 2) with x's sign; accurate near 0 too.

        >>> from tinygrad import Tensor
        >>> [round(v, 4) for v in Tensor([0.0, 0.5, -20.0]).tanh().tolist()]
        [0.0, 0.4621, -1.0]
        """

        def f(x: Tensor) -> Tensor:
            e = _expm1(-2.0 * x.abs())
            return _odd(x, -e / (e + 2.0))

        return _unary(self, f)

    def sinh(self: Tensor) -> Tensor:
        """Hyperbolic sine: (E + E / (E + 1)) / 2 with E = expm1(|x|) and x's sign, so no cancellation near 0.

        >>> from tinygrad import Tensor
        >>> [round(v, 4) for v in Tensor([0.0, 1.0, -2.0]).sinh().tolist()]
        [0.0, 1.1752, -3.6269]
        """

        def f(x: Tensor) -> Tensor:
            a = x.abs()
            safe = a <= _EXP_SAFE[_k(x)]
            e = _expm1(safe.where(a, 1.0))
            h = _exp(safe.where(1.0, a) * 0.5)  # e^|x| overflows before sinh does: use (e^(|x|/2))^2 / 2
            return _odd(x, safe.where(0.5 * (e + e / (e + 1.0)), (0.5 * h) * h))

        return _unary(self, f)

    def cosh(self: Tensor) -> Tensor:
        """Hyperbolic cosine: 1 + E * (E / (E + 1)) / 2 with E = expm1(|x|) (so its gradient is exact near 0).

        >>> from tinygrad import Tensor
        >>> [round(v, 4) for v in Tensor([0.0, 1.0, -2.0]).cosh().tolist()]
        [1.0, 1.5431, 3.7622]
        """

        def f(x: Tensor) -> Tensor:
            a = x.abs()
            safe = a <= _EXP_SAFE[_k(x)]
            e = _expm1(safe.where(a, 1.0))
            h = _exp(safe.where(1.0, a) * 0.5)
            return safe.where(1.0 + 0.5 * e * (e / (e + 1.0)), (0.5 * h) * h)

        return _unary(self, f)

    def atanh(self: Tensor) -> Tensor:
        """Inverse hyperbolic tangent: (log1p(x) - log1p(-x)) / 2 (inf at +-1, nan beyond).

        >>> from tinygrad import Tensor
        >>> [round(v, 4) for v in Tensor([0.0, 0.5, -0.9]).atanh().tolist()]
        [0.0, 0.5493, -1.4722]
        """

        def f(x: Tensor) -> Tensor:
            # both terms have x's sign, so nothing cancels; the gradient 1/(1+x)/2 + 1/(1-x)/2 reaches inf at +-1
            return 0.5 * (_log1p(x) - _log1p(-x))

        return _unary(self, f)

    def asinh(self: Tensor) -> Tensor:
        """Inverse hyperbolic sine: log1p(|x| + x^2 / (1 + sqrt(1 + x^2))) with x's sign; log(2|x|) for huge x.

        >>> from tinygrad import Tensor
        >>> [round(v, 4) for v in Tensor([0.0, 1.0, -1e30]).asinh().tolist()]
        [0.0, 0.8814, -69.7707]
        """

        def f(x: Tensor) -> Tensor:
            a = x.abs()
            small = a <= _ASINH_BIG
            s = small.where(a, 1.0)
            near = _log1p(s + s * s / (1.0 + (1.0 + s * s).sqrt()))
            far = _log(small.where(_ASINH_BIG, a)) + LN2
            return _odd(x, small.where(near, far))

        return _unary(self, f)

    def acosh(self: Tensor) -> Tensor:
        """Inverse hyperbolic cosine for x >= 1 (nan below): log1p(t + sqrt(2t + t^2)) with t = x - 1 near 1.

        >>> from tinygrad import Tensor
        >>> [round(v, 4) for v in Tensor([1.0, 2.0, 1e30]).acosh().tolist()]
        [0.0, 1.317, 69.7707]
        """

        def f(x: Tensor) -> Tensor:
            near1, far = x < 2.0, x > _ASINH_BIG
            t = near1.where(x, 1.5) - 1.0  # exact for x in [1, 2]
            # sqrt(t) * sqrt(t + 2) rather than sqrt(2t + t^2): the gradient at x = 1 is inf, not inf * 0
            v1 = _log1p(t + t.sqrt() * (t + 2.0).sqrt())
            m = (near1 | far).where(2.0, x)
            v2 = _log(m + (m * m - 1.0).sqrt())
            v3 = _log(far.where(x, _ASINH_BIG)) + LN2
            return (x < 1.0).where(_nan_like(x), near1.where(v1, far.where(v3, v2)))

        return _unary(self, f)

    def hardtanh(self: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
        """clamp(x, min_val, max_val); the gradient is 0 at the bounds, as torch (unlike `clamp`).

        >>> from tinygrad import Tensor
        >>> Tensor([-2.0, 0.5, 3.0]).hardtanh().tolist()
        [-1.0, 0.5, 1.0]
        """
        return (self <= min_val).where(min_val, (self >= max_val).where(max_val, self))

    def erf(self: Tensor) -> Tensor:
        """The error function, to a few ulp: x * R(x^2) below 1, 1 - e**(-x^2) * H(1/x) / x above.

        >>> from tinygrad import Tensor
        >>> [round(v, 4) for v in Tensor([0.0, 0.5, -2.0, 10.0]).erf().tolist()]
        [0.0, 0.5205, -0.9953, 1.0]
        """

        def f(x: Tensor) -> Tensor:
            k = _k(x)
            a = x.abs()
            small = a < 1.0
            xm = small.where(x, 0.5)
            near0 = xm * _poly(xm * xm, _ERF_R[k])
            ab = small.where(2.0, a)
            center, coeffs = _ERFC_H[k]
            t = (1.0 / ab).maximum(1.0 / _ERF_ONE[k])
            far = 1.0 - _exp(-(ab * ab)) * t * _poly(t - center, coeffs)
            return small.where(near0, (x < 0.0).where(-far, far)).custom_gradient([x], _erf_grad)

        return _unary(self, f)

    def gelu(self: Tensor) -> Tensor:
        """GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as torch's
        gelu(approximate="tanh"); computed as x * sigmoid(2 * inner), which avoids 1 + tanh cancelling.

        >>> from tinygrad import Tensor
        >>> [round(v, 4) for v in Tensor([-1.0, 0.0, 1.0]).gelu().tolist()]
        [-0.1588, 0.0, 0.8412]
        """
        x = self.cast(least_upper_float(self.dtype))
        return x * (2.0 * math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)).sigmoid()

    def quick_gelu(self: Tensor) -> Tensor:
        """x * sigmoid(1.702 x).

        >>> from tinygrad import Tensor
        >>> [round(v, 4) for v in Tensor([-1.0, 1.0]).quick_gelu().tolist()]
        [-0.1542, 0.8458]
        """
        return self * (self * 1.702).sigmoid()

    def leaky_relu(self: Tensor, neg_slope: float = 0.01) -> Tensor:
        """x for x > 0, neg_slope * x below (the gradient at 0 is neg_slope, as torch).

        >>> from tinygrad import Tensor
        >>> Tensor([-2.0, 3.0]).leaky_relu(0.5).tolist()
        [-1.0, 3.0]
        """
        return (self > 0).where(self, self * neg_slope)

    def mish(self: Tensor) -> Tensor:
        """x * tanh(softplus(x)).

        >>> from tinygrad import Tensor
        >>> [round(v, 4) for v in Tensor([-1.0, 1.0]).mish().tolist()]
        [-0.3034, 0.8651]
        """
        return self * self.softplus().tanh()

    def softplus(self: Tensor, beta: float = 1.0) -> Tensor:
        """log(1 + e**(beta x)) / beta, as max(y, 0) + log1p(e**-|y|) so it neither overflows nor loses
        small values.

        >>> from tinygrad import Tensor
        >>> [round(v, 4) for v in Tensor([-100.0, 0.0, 100.0]).softplus().tolist()]
        [0.0, 0.6931, 100.0]
        """

        def f(x: Tensor) -> Tensor:
            y = x * beta if beta != 1 else x
            # |y| has gradient 0 at 0, so the maximum's tie (1/2 each way) gives the right slope 1/2 there
            out = y.maximum(0.0) + _log1p(_exp(-y.abs()))
            return out / beta if beta != 1 else out

        return _unary(self, f)

    def softsign(self: Tensor) -> Tensor:
        """x / (1 + |x|).

        >>> from tinygrad import Tensor
        >>> Tensor([-3.0, 1.0]).softsign().tolist()
        [-0.75, 0.5]
        """
        x = self.cast(least_upper_float(self.dtype))
        return x / (1.0 + x.abs())

    # ---- broadcasted binary ----

    def div(self: Tensor, x: TensorLike, reverse: bool = False, rounding_mode: str | None = None) -> Tensor:
        """True division (ints give floats), or rounding_mode "trunc" (toward zero) / "floor" (toward -inf, the
        result of Python's // on floats too: 1.0 // 0.1 == 9.0).

        >>> from tinygrad import Tensor
        >>> (Tensor([3, 4]) / 2).tolist(), Tensor([-7, 7]).div(2, rounding_mode="floor").tolist()
        ([1.5, 2.0], [-4, 3])
        """
        a, b = self._broadcasted(x, "div", reverse)
        if rounding_mode is None:
            dt = least_upper_float(a.dtype)
            return a.cast(dt)._alu(Ops.FDIV, b.cast(dt))
        if rounding_mode == "trunc":
            return a._alu(Ops.IDIV, b) if dtypes.is_int(a.dtype) else (a / b).trunc().cast(a.dtype)
        if rounding_mode == "floor":
            return _floordiv(a, b)
        raise ValueError(f"Tensor.div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")

    def idiv(self: Tensor, x: TensorLike, reverse: bool = False) -> Tensor:
        """Floor division, Python's // (ints stay ints).

        >>> from tinygrad import Tensor
        >>> (Tensor([-7, 7]) // 2).tolist(), (Tensor([1.0, -1.0]) // 0.1).tolist()
        ([-4, 3], [9.0, -10.0])
        """
        a, b = self._broadcasted(x, "floordiv", reverse)
        return _floordiv(a, b)

    def mod(self: Tensor, x: TensorLike, reverse: bool = False) -> Tensor:
        """Python's modulo (torch.remainder): the result takes the divisor's sign. Exact for floats.

        >>> from tinygrad import Tensor
        >>> (Tensor([-3, 3]) % 2).tolist(), (Tensor([-3.5, 3.5]) % -2).tolist()
        ([1, 1], [-1.5, -0.5])
        """
        a, b = self._broadcasted(x, "mod", reverse)
        if not dtypes.is_float(a.dtype):
            r = a._alu(Ops.MOD, b)
            if dtypes.is_unsigned(a.dtype) or a.dtype == dtypes.bool:
                return r
            return ((r.ne(0)) & ((r < 0).ne(b < 0))).where(r + b, r)
        r = a.fmod(b)
        r = ((r != 0.0) & ((r < 0.0) != (b < 0.0))).where(r + b, r)
        return (r == 0.0).where(_signbit(b).where(-0.0, 0.0), r)  # a zero takes the divisor's sign too

    def fmod(self: Tensor, x: TensorLike) -> Tensor:
        """C's fmod (torch.fmod): the remainder of truncated division, with the dividend's sign. Exact for floats.

        >>> from tinygrad import Tensor
        >>> Tensor([-7, 7]).fmod(3).tolist(), Tensor([-3.5, 3.5]).fmod(-2.0).tolist()
        ([-1, 1], [-1.5, 1.5])
        """
        a, b = self._broadcasted(x, "fmod")
        if not dtypes.is_float(a.dtype):
            return a._alu(Ops.MOD, b)
        out, comp = _float_dtypes(a.dtype)
        a, b = a.cast(comp), b.cast(comp)
        return _fmod_exact(a, b).custom_gradient([a, b], _fmod_grad).cast(out)

    def pow(self: Tensor, x: TensorLike, reverse: bool = False) -> Tensor:
        """self ** x (x ** self if reverse). Float powers follow C's pow (negative bases with integer exponents
        work, 0 ** 0 == 1); int ** int stays int and wraps on overflow, as torch.

        >>> from tinygrad import Tensor
        >>> (Tensor([2, -3]) ** 3).tolist(), (Tensor([-2.0, 4.0]) ** 2).tolist(), (2 ** Tensor([0.5, -1.0])).tolist()
        ([8, -27], [4.0, 16.0], [1.4142135381698608, 0.5])
        """
        from tinygrad.tensor import Tensor

        a, b = self._broadcasted(x, "pow", reverse)
        if a.dtype == dtypes.bool:
            a, b = a.cast(dtypes.default_int), b.cast(dtypes.default_int)
        if not dtypes.is_float(a.dtype):
            if isinstance(x, Tensor) or reverse:
                return _ipow(a, b)
            if int(x) < 0:
                raise DTypeError(f"Tensor.pow: integer tensors to negative integer powers ({x}) are not allowed; "
                                 "cast the tensor to float first")  # fmt: skip
            return _ipow_scalar(a, int(x))
        if not reverse and not isinstance(x, Tensor) and x == 2:
            return a * a
        out, comp = _float_dtypes(a.dtype)
        a, b = a.cast(comp), b.cast(comp)
        if not reverse and (isinstance(x, Tensor) or x == 0):
            # 0 ** 0 == 1 ** 0 == 1, and base 1 keeps d/dbase = 0 * 0**-1 from becoming 0 * inf (torch says 0)
            a = ((b == 0.0) & (a == 0.0)).where(1.0, a)
        return a._alu(Ops.POW, b).cast(out)

    def __pow__(self: Tensor, x: TensorLike) -> Tensor:
        return self.pow(x)

    def __rpow__(self: Tensor, x: TensorLike) -> Tensor:
        return self.pow(x, reverse=True)

    def copysign(self: Tensor, other: TensorLike) -> Tensor:
        """|self| with the sign of `other` (its sign bit: -0.0 counts as negative); the result is float.

        >>> from tinygrad import Tensor
        >>> Tensor([1, -2, 3]).copysign(Tensor([-1.0, 1.0, -0.0])).tolist()
        [-1.0, 2.0, -3.0]
        """
        a, b = self._broadcasted(other, "copysign")
        dt = least_upper_float(a.dtype)
        mag = a.cast(dt).abs()
        return _signbit(b.cast(dt)).where(-mag, mag)

    def logaddexp(self: Tensor, other: TensorLike) -> Tensor:
        """log(e**self + e**other) without overflow: max + log1p(e**-|self - other|).

        >>> from tinygrad import Tensor
        >>> [round(v, 4) for v in Tensor([0.0, 1000.0]).logaddexp(Tensor([0.0, 1.0])).tolist()]
        [0.6931, 1000.0]
        """
        a, b = self._broadcasted(other, "logaddexp")
        out, comp = _float_dtypes(a.dtype)
        a, b = a.cast(comp), b.cast(comp)
        d = (a == b).where(0.0, a - b)  # equal infinities would give nan
        return (a.maximum(b) + _log1p(_exp((d >= 0.0).where(-d, d)))).cast(out)

    # ---- casting ----

    def bitcast(self: Tensor, dtype: DType | str) -> Tensor:
        """Reinterpret the bits of each element as `dtype` (same itemsize; not differentiable).

        >>> from tinygrad import Tensor
        >>> Tensor([1.0, -2.0]).bitcast("int32").tolist()
        [1065353216, -1073741824]
        """
        from tinygrad.tensor import Tensor

        dt = to_dtype(dtype)
        if dt == self.dtype:
            return self
        if dt.itemsize != self.dtype.itemsize:
            raise DTypeError(f"Tensor.bitcast: {self.dtype} ({self.dtype.itemsize} bytes) and {dt} ({dt.itemsize} "
                             "bytes) differ in size; bitcast between dtypes of one itemsize")  # fmt: skip
        if dtypes.bool in (dt, self.dtype):
            raise DTypeError(f"Tensor.bitcast: bool has no bit pattern for every byte ({self.dtype} -> {dt}); "
                             "use .cast() or compare with != 0")  # fmt: skip
        return Tensor(self.uop.bitcast(dt))

    def bfloat16(self: Tensor) -> Tensor:
        """Cast to bfloat16.

        >>> from tinygrad import Tensor
        >>> Tensor([1.0, 3.14159]).bfloat16().dtype
        dtypes.__bf16
        """
        return self.cast(dtypes.bfloat16)

    def short(self: Tensor) -> Tensor:
        """Cast to int16.

        >>> from tinygrad import Tensor
        >>> Tensor([1.9, -2.9]).short().tolist()
        [1, -2]
        """
        return self.cast(dtypes.int16)


def _floordiv(a: Tensor, b: Tensor) -> Tensor:
    """a // b for broadcast operands of one dtype. Floats follow Python: q = (a - fmod(a, b)) / b, one lower when
    the remainder's sign differs from b's, rounded to the nearest integer; b == 0 gives a / b. No gradient."""
    if dtypes.is_int(a.dtype):
        q = a._alu(Ops.IDIV, b)
        if dtypes.is_unsigned(a.dtype):
            return q
        # C truncates; Python floors: step down when the signs differ and there is a remainder
        return ((a._alu(Ops.MOD, b).ne(0)) & ((a < 0).ne(b < 0))).where(q - 1, q)
    if not dtypes.is_float(a.dtype):
        return a._alu(Ops.IDIV, b)
    out, comp = _float_dtypes(a.dtype)
    a, b = a.cast(comp).detach(), b.cast(comp).detach()
    m = _fmod_exact(a, b)
    q = (a - m) / b
    q = ((m != 0.0) & ((b < 0.0) != (m < 0.0))).where(q - 1.0, q)
    fq = q.floor()
    fq = (q - fq > 0.5).where(fq + 1.0, fq)
    fq = (q == 0.0).where(_signbit(a / b).where(-0.0, 0.0), fq)
    return (b == 0.0).where(a / b, fq).cast(out)
