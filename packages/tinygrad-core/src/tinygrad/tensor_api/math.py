"""Tensor methods: elementwise math, activations, casting helpers and comparisons beyond the primitives.

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

Gradients: most methods get theirs from the primitives. Where the formula for the value would differentiate
badly (cos, tan, erf), `_with_grad` attaches the analytic derivative instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Union

from tinygrad.dtype import DType, dtypes, least_upper_dtype, least_upper_float, to_dtype
from tinygrad.errors import DTypeError
from tinygrad.uop.ops import Ops

if TYPE_CHECKING:
    from tinygrad.tensor import Tensor

Scalar = Union[int, float, bool]
TensorLike = Union["Tensor", Scalar]

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


def _float_dtypes(dt: DType) -> tuple[DType, DType]:
    """(dtype the result has, dtype to compute in): ints become floats, 16-bit and 8-bit floats compute in float32."""
    out = least_upper_float(dt)
    return out, (dtypes.float32 if out.itemsize < 4 else out)


def _k(x: Tensor) -> int:
    """Key of the constant tables: the itemsize of the compute dtype (4 or 8)."""
    return 8 if x.dtype == dtypes.float64 else 4


def _stop_grad(x: Tensor) -> Tensor:
    """x with the same value but no gradient path (a bitcast round trip; bitcasts are not differentiable)."""
    from tinygrad.tensor import Tensor

    if not dtypes.is_float(x.dtype):
        return x
    idt = {1: dtypes.uint8, 2: dtypes.uint16, 4: dtypes.uint32, 8: dtypes.uint64}[x.dtype.itemsize]
    return Tensor(x.uop.bitcast(idt).bitcast(x.dtype))


def _with_grad(x: Tensor, fn: Callable[[Tensor], tuple[Tensor, Tensor]]) -> Tensor:
    """fn(xs) -> (value, derivative) computed on a gradient-free copy xs of x; the result has value's value and
    gradient derivative * dx. Used where differentiating the value's own formula is inaccurate.

    The gradient rides on (xs - x) * derivative, which is exactly 0 (kept out of the value where x or the
    derivative is not finite, so inf * 0 cannot turn the value into nan; the gradient there is 0)."""
    xs = _stop_grad(x)
    v, d = fn(xs)
    ok = _finite(xs) & _finite(d)
    # v - (+0) keeps a -0.0 value (e.g. tan(-0.0)); derivatives here are >= 0 wherever the value is zero
    return v - ok.where((xs - x) * d, 0.0)


def _finite(x: Tensor) -> Tensor:
    return (x == x) & (x != math.inf) & (x != -math.inf)


def _poly(x: Tensor, coeffs: Sequence[float]) -> Tensor:
    """Horner evaluation of sum(coeffs[i] * x^(n-i))."""
    p = x * coeffs[0] + coeffs[1]
    for c in coeffs[2:]:
        p = p * x + c
    return p


def _pow2i(n: Tensor) -> Tensor:
    """2^n for integer-valued float n inside the normal exponent range, built exactly from its bits."""
    from tinygrad.tensor import Tensor

    mant, bias, idt = (52, 1023, dtypes.int64) if n.dtype == dtypes.float64 else (23, 127, dtypes.int32)
    bits = (n.cast(idt) + bias) << mant
    return Tensor(bits.uop.bitcast(n.dtype))


def _exp(x: Tensor) -> Tensor:
    """e^x in float32/float64 via x = n*ln2 + r, e^x = 2^n * 2^(r*log2(e)), 2^n applied in two exact halves."""
    k = _k(x)
    hi, lo = _LN2_SPLIT[k]
    xs = _stop_grad(x)
    n = (xs * LOG2_E + 0.5).floor()
    n = (n != n).where(0.0, n).clip(-_EXP_N_MAX[k], _EXP_N_MAX[k])
    # x - n*hi is exact (n*hi is exact and within a factor of 2 of x), so r carries x's full precision
    r = (x - n * hi) - n * lo
    e = (r * LOG2_E)._alu(Ops.EXP2)
    n1 = (n * 0.5).floor()
    return e * _pow2i(n1) * _pow2i(n - n1)


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
    d, lg = one.where(1.0, u - 1.0), one.where(1.0, _log(u))
    near = one.where(xm, d * (xm / lg))
    return mid.where(near, _exp(x) - 1.0)


def _log1p(x: Tensor) -> Tensor:
    """log(1 + x), accurate near 0: with u = fl(1 + x), log(u) * x / (u - 1) cancels u's rounding (Kahan)."""
    mid = (x > -0.5) & (x < 1.0)
    xm = mid.where(x, 0.5)
    u = xm + 1.0
    d = u - 1.0
    zero = d == 0.0
    near = zero.where(xm, _log(u) * (xm / zero.where(1.0, d)))
    return mid.where(near, _log(x + 1.0))


def _cos_parts(x: Tensor) -> tuple[Tensor, Tensor]:
    """(cos x, sin x). cos x = sin(2x) / (2 sin x); below 2^-13 cos rounds to 1, above max/2 2x overflows and
    1 - 2 sin(x/2)^2 takes over (accurate except beside cos's zeros, only for |x| > 8.5e37 / 9e307)."""
    s = _sin(x)
    big = 2.0 ** (127 if _k(x) == 4 else 1023)
    a = x.abs()
    ratio = _sin(x * 2.0) / (s * 2.0)
    h = _sin(x * 0.5)
    c = (a < 2.0**-13).where(1.0, (a < big).where(ratio, 1.0 - 2.0 * h * h))
    return c, s


class MathMixin:
    __slots__ = ()
