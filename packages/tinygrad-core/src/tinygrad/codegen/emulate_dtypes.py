"""Emulating dtypes a renderer lacks (bfloat16, fp8 e4m3/e5m2): stored as their bits, computed in float32.

Memory keeps the real format (uint16 / uint8 bit patterns), so buffers are byte-compatible with every other
device. Loads decode bits to float32, every arithmetic result is rounded back to the emulated format (so
results equal native hardware's), and stores encode. Encoding rounds to nearest even; bfloat16 and e5m2
overflow to inf, e4m3 (the "fn" variant, which has no inf) saturates to +-448, as torch does.
"""

from __future__ import annotations

from tinygrad.dtype import DType, PtrDType, dtypes
from tinygrad.uop.ops import GroupOp, Ops, UOp

F32, U32, U16, U8, I32 = dtypes.float32, dtypes.uint32, dtypes.uint16, dtypes.uint8, dtypes.int32
EMULATABLE = (dtypes.bfloat16, dtypes.fp8e4m3, dtypes.fp8e5m2)
STORAGE = {dtypes.bfloat16: U16, dtypes.fp8e4m3: U8, dtypes.fp8e5m2: U8}
# (exponent bias, mantissa bits) of the fp8 formats
FP8 = {dtypes.fp8e4m3: (7, 3), dtypes.fp8e5m2: (15, 2)}


def _c(dt: DType, v: object) -> UOp:
    return UOp.const(dt, v)  # type: ignore[arg-type]


def decode(bits: UOp, dt: DType) -> UOp:
    """Bit pattern (uint16/uint8) -> float32 value."""
    if dt == dtypes.bfloat16:
        return UOp(Ops.SHL, U32, (bits.cast(U32), _c(U32, 16))).bitcast(F32)
    bias, mbits = FP8[dt]
    ebits = 7 - mbits
    b = bits.cast(U32)
    sign = UOp(Ops.SHR, U32, (b, _c(U32, 7)))
    exp = UOp(Ops.AND, U32, (UOp(Ops.SHR, U32, (b, _c(U32, mbits))), _c(U32, (1 << ebits) - 1)))
    man = UOp(Ops.AND, U32, (b, _c(U32, (1 << mbits) - 1)))
    # normal: move exponent and mantissa into float32's fields; subnormal: man * 2^(1-bias-mbits) exactly
    normal = UOp(Ops.OR, U32, (UOp(Ops.SHL, U32, (exp + (127 - bias), _c(U32, 23))),
                               UOp(Ops.SHL, U32, (man, _c(U32, 23 - mbits))))).bitcast(F32)  # fmt: skip
    sub = man.cast(F32) * (2.0 ** (1 - bias - mbits))
    mag = exp.eq(0).where(sub, normal)
    if dt == dtypes.fp8e4m3:  # S.1111.111 is the only NaN
        mag = UOp(Ops.AND, U32, (b, _c(U32, 0x7F))).eq(0x7F).where(_c(F32, float("nan")), mag)
    else:  # e5m2 follows IEEE: exponent all ones is inf (mantissa 0) or NaN
        mag = exp.eq((1 << ebits) - 1).where(man.eq(0).where(_c(F32, float("inf")), _c(F32, float("nan"))), mag)
    return sign.eq(1).where(-mag, mag)


def _rne(y: UOp) -> UOp:
    """Round a non-negative float32 to the nearest integer, ties to even."""
    t = UOp(Ops.TRUNC, F32, (y,))
    frac = y - t
    odd = UOp(Ops.MOD, I32, (t.cast(I32), _c(I32, 2))).eq(1)
    up = UOp(Ops.OR, dtypes.bool, (_c(F32, 0.5) < frac, frac.eq(0.5) & odd))
    return up.where(t + 1.0, t)


def encode(x: UOp, dt: DType) -> UOp:
    """float32 value -> bit pattern (uint16/uint8), rounding to nearest even."""
    u = x.bitcast(U32)
    if dt == dtypes.bfloat16:
        lsb = UOp(Ops.AND, U32, (UOp(Ops.SHR, U32, (u, _c(U32, 16))), _c(U32, 1)))
        r = UOp(Ops.SHR, U32, (u + (lsb + 0x7FFF), _c(U32, 16)))
        return x.ne(x).where(_c(U32, 0x7FC0), r).cast(U16)
    bias, mbits = FP8[dt]
    sign = UOp(Ops.SHL, U32, (UOp(Ops.SHR, U32, (u, _c(U32, 31))), _c(U32, 7)))
    a = UOp(Ops.AND, U32, (u, _c(U32, 0x7FFFFFFF)))  # |x| bits
    af = a.bitcast(F32)
    # normal range: round float32's mantissa to mbits (ties to even), then rebias the exponent
    shift = 23 - mbits
    lsb = UOp(Ops.AND, U32, (UOp(Ops.SHR, U32, (a, _c(U32, shift))), _c(U32, 1)))
    rounded = UOp(Ops.SHR, U32, (a + (lsb + ((1 << (shift - 1)) - 1)), _c(U32, shift)))
    normal = rounded - ((127 - bias) << mbits)
    # below the smallest normal: a multiple of the smallest subnormal, 2^(1-bias-mbits)
    sub = _rne(af * (2.0 ** (bias + mbits - 1))).cast(U32)
    mag = (af < 2.0 ** (1 - bias)).where(sub, normal)
    if dt == dtypes.fp8e4m3:
        # no inf: like torch, magnitudes past the largest finite (448), inf included, saturate to 448; NaN stays
        mag = af.ne(af).where(_c(U32, 0x7F), (_c(F32, 448.0) < af).where(_c(U32, 0x7E), mag))
    else:
        inf_bits = ((1 << (7 - mbits)) - 1) << mbits
        mag = af.ne(af).where(_c(U32, inf_bits | 1), (_c(F32, 61440.0) <= af).where(_c(U32, inf_bits), mag))
    return UOp(Ops.OR, U32, (sign, mag)).cast(U8)


def round_to(x: UOp, dt: DType) -> UOp:
    """float32 -> the nearest value representable in dt, as float32."""
    return decode(encode(x, dt), dt)


def _storage_ptr(dt: PtrDType) -> PtrDType:
    return STORAGE[dt.base].ptr(dt.size)


def rewrite_emulated(ast: UOp, emulated: frozenset[DType]) -> UOp:
    """Replace every emulated-dtype value in a kernel AST by float32 math on decoded bits."""
    if not emulated or not any(u.dtype.base in emulated for u in ast.toposort()):
        return ast
    memo: dict[UOp, UOp] = {}
    for u in ast.toposort():
        src = tuple(memo[s] for s in u.src)
        dt = u.dtype
        if u.op is Ops.DEFINE_GLOBAL and isinstance(dt, PtrDType) and dt.base in emulated:
            memo[u] = UOp(Ops.DEFINE_GLOBAL, _storage_ptr(dt), (), u.arg)
        elif u.op is Ops.INDEX:
            memo[u] = UOp(Ops.INDEX, src[0].dtype, src, u.arg)
        elif u.op is Ops.LOAD and dt in emulated:
            memo[u] = decode(UOp(Ops.LOAD, STORAGE[dt], src, u.arg), dt)
        elif u.op is Ops.STORE and u.src[1].dtype in emulated:
            memo[u] = UOp(Ops.STORE, dtypes.void, (src[0], encode(src[1], u.src[1].dtype)))
        elif u.op is Ops.CONST and dt in emulated:
            memo[u] = UOp.const(F32, u.arg) if dt == dtypes.bfloat16 else round_to(UOp.const(F32, u.arg), dt)
        elif u.op is Ops.CAST and (dt in emulated or u.src[0].dtype in emulated):
            v = src[0].cast(F32)
            memo[u] = round_to(v, dt) if dt in emulated else v.cast(dt)
        elif u.op is Ops.BITCAST and (dt in emulated or u.src[0].dtype in emulated):
            v = encode(src[0], u.src[0].dtype) if u.src[0].dtype in emulated else src[0]
            memo[u] = decode(v.bitcast(STORAGE[dt]), dt) if dt in emulated else v.bitcast(dt)
        elif dt in emulated and (u.op in GroupOp.ALU or u.op is Ops.REDUCE):
            memo[u] = round_to(UOp(u.op, F32, src, u.arg), dt)
        else:
            memo[u] = u if src == u.src else u.replace(src=src)
    return memo[ast]

