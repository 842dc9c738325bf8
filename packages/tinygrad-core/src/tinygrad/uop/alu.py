"""Reference semantics of every ALU op on Python scalars (used for constant folding).

Integer ops wrap to the dtype's width; IDIV and MOD truncate toward zero as C does.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from tinygrad.dtype import ConstType, DType, dtypes, truncate_const
from tinygrad.uop.ops import Ops


def _idiv(a: int, b: int) -> int:
    if b == 0:
        return 0
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _mod(a: int, b: int) -> int:
    if b == 0:
        return 0
    return a - _idiv(a, b) * b


def _fdiv(a: float, b: float) -> float:
    if b == 0:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def _safe(fn: Callable[..., float]) -> Callable[..., float]:
    def wrapped(*args: float) -> float:
        try:
            return fn(*args)
        except (ValueError, OverflowError, ZeroDivisionError):
            return math.nan
    return wrapped


def _exp2(x: float) -> float:
    try:
        return 2.0**x
    except OverflowError:
        return math.inf


def _log2(x: float) -> float:
    if x < 0 or math.isnan(x):
        return math.nan
    return -math.inf if x == 0 else math.log2(x)


def _sqrt(x: float) -> float:
    return math.nan if x < 0 or math.isnan(x) else math.sqrt(x)


def _recip(x: float) -> float:
    return _fdiv(1.0, x)


def _max(a: ConstType, b: ConstType) -> ConstType:
    if isinstance(a, float) and math.isnan(a) or isinstance(b, float) and math.isnan(b):
        return math.nan
    return max(a, b)


def _sin(x: float) -> float:
    return math.nan if math.isinf(x) or math.isnan(x) else math.sin(x)


def _trunc(x: float) -> float:
    return x if math.isinf(x) or math.isnan(x) else float(math.trunc(x))


PY_ALU: dict[Ops, Callable[..., ConstType]] = {
    Ops.EXP2: _exp2, Ops.LOG2: _log2, Ops.SIN: _sin, Ops.SQRT: _sqrt, Ops.RECIP: _recip,
    Ops.NEG: lambda x: (not x) if isinstance(x, bool) else -x, Ops.TRUNC: _trunc,
    Ops.ADD: lambda a, b: a + b, Ops.SUB: lambda a, b: a - b, Ops.MUL: lambda a, b: a * b,
    Ops.FDIV: _fdiv, Ops.IDIV: _idiv, Ops.MOD: _mod, Ops.MAX: _max, Ops.POW: _safe(lambda a, b: float(a) ** b),
    Ops.CMPLT: lambda a, b: a < b, Ops.CMPNE: lambda a, b: a != b, Ops.CMPEQ: lambda a, b: a == b,
    Ops.AND: lambda a, b: a & b, Ops.OR: lambda a, b: a | b, Ops.XOR: lambda a, b: a ^ b,
    Ops.SHL: lambda a, b: a << b, Ops.SHR: lambda a, b: a >> b,
    Ops.WHERE: lambda c, a, b: a if c else b, Ops.MULACC: lambda a, b, c: a * b + c,
}  # fmt: skip


def exec_alu(op: Ops, dtype: DType, operands: list[ConstType]) -> ConstType:
    """Evaluate `op` on constants and bring the result into `dtype`'s value set."""
    if dtypes.is_unsigned(dtype) and op is Ops.SHR:
        operands = [truncate_const(operands[0], dtype), operands[1]]
    ret = PY_ALU[op](*operands)
    return truncate_const(ret, dtype)
