"""Data types, their promotion lattice, and conversions between Python/numpy values and device bytes."""

from __future__ import annotations

import functools
import math
import struct
from dataclasses import dataclass
from typing import Final

import numpy as np

from tinygrad.errors import DTypeError
from tinygrad.helpers import getenv

ConstType = float | int | bool


@dataclass(frozen=True, eq=True)
class DType:
    """A scalar (count == 1) or vector element type.

    priority orders dtypes for promotion ties; fmt is the struct/memoryview format (None where Python has none).
    """

    priority: int
    itemsize: int
    name: str
    fmt: str | None
    count: int = 1

    def __repr__(self) -> str:
        return f"dtypes.{self.name}" if self.count == 1 else f"dtypes.{self.name}.vec({self.count})"

    def __lt__(self, o: DType) -> bool:
        return (self.priority, self.itemsize, self.name, self.count) < (o.priority, o.itemsize, o.name, o.count)

    @property
    def base(self) -> DType:
        return self

    @property
    def scalar(self) -> DType:
        return DTYPES_DICT[self.name] if self.count > 1 else self

    def vec(self, sz: int) -> DType:
        assert self.count == 1, f"can't vectorize {self} with size {sz}"
        return self if sz == 1 else DType(self.priority, self.itemsize * sz, self.name, None, sz)

    def ptr(self, size: int = -1) -> PtrDType:
        return PtrDType(self.priority, self.itemsize, self.name, self.fmt, self.count, self, size)

    @property
    def np(self) -> np.dtype | None:
        return _NP.get(self.name)


@dataclass(frozen=True, eq=True)
class PtrDType(DType):
    """Pointer to a buffer of `_base` elements (size -1: unknown)."""

    _base: DType = None  # type: ignore[assignment]
    size: int = -1

    @property
    def base(self) -> DType:
        return self._base

    def __repr__(self) -> str:
        return f"{self._base!r}.ptr({self.size})"


class dtypes:
    """All dtypes and predicates over them. `dtypes.default_float` follows DEFAULT_FLOAT."""

    void: Final[DType] = DType(-1, 0, "void", None)
    bool: Final[DType] = DType(0, 1, "bool", "?")
    int8: Final[DType] = DType(1, 1, "char", "b")
    uint8: Final[DType] = DType(2, 1, "unsigned char", "B")
    int16: Final[DType] = DType(3, 2, "short", "h")
    uint16: Final[DType] = DType(4, 2, "unsigned short", "H")
    int32: Final[DType] = DType(5, 4, "int", "i")
    uint32: Final[DType] = DType(6, 4, "unsigned int", "I")
    int64: Final[DType] = DType(7, 8, "long", "q")
    uint64: Final[DType] = DType(8, 8, "unsigned long", "Q")
    fp8e4m3: Final[DType] = DType(9, 1, "float8_e4m3", None)
    fp8e5m2: Final[DType] = DType(10, 1, "float8_e5m2", None)
    float16: Final[DType] = DType(11, 2, "half", "e")
    bfloat16: Final[DType] = DType(12, 2, "__bf16", None)
    float32: Final[DType] = DType(13, 4, "float", "f")
    float64: Final[DType] = DType(14, 8, "double", "d")

    # aliases users know from torch/numpy
    half = float16
    float = float32
    double = float64
    uchar = uint8
    char = int8
    short = int16
    ushort = uint16
    int = int32
    uint = uint32
    long = int64
    ulong = uint64

    # index arithmetic inside kernels: 64-bit so tensors beyond 2**31 elements index correctly
    index: Final[DType] = int64

    default_float: DType = float32
    default_int: DType = int32

    floats: tuple[DType, ...] = ()
    uints: tuple[DType, ...] = ()
    sints: tuple[DType, ...] = ()
    ints: tuple[DType, ...] = ()
    all: tuple[DType, ...] = ()

    @staticmethod
    def is_float(x: DType) -> bool:
        return x.scalar in dtypes.floats

    @staticmethod
    def is_int(x: DType) -> bool:
        return x.scalar in dtypes.ints

    @staticmethod
    def is_unsigned(x: DType) -> bool:
        return x.scalar in dtypes.uints

    @staticmethod
    def is_bool(x: DType) -> bool:
        return x.scalar == dtypes.bool

    @staticmethod
    def from_py(x: object) -> DType:
        if isinstance(x, bool):
            return dtypes.bool
        if isinstance(x, int):
            return dtypes.default_int
        if isinstance(x, float):
            return dtypes.default_float
        if isinstance(x, (list, tuple)):
            return max((dtypes.from_py(v) for v in x), default=dtypes.default_float)
        raise DTypeError(f"dtypes.from_py({x!r}): cannot infer a dtype from {type(x).__name__}")

    @staticmethod
    def from_np(x: np.dtype) -> DType:
        name = np.dtype(x).name
        if name not in _FROM_NP:
            raise DTypeError(f"numpy dtype {name} is not supported; convert the array with .astype(np.float32) first")
        return _FROM_NP[name]

    @staticmethod
    def min(dt: DType) -> ConstType:
        if dtypes.is_int(dt):
            return 0 if dtypes.is_unsigned(dt) else -(2 ** (8 * dt.itemsize - 1))
        return False if dt == dtypes.bool else -math.inf

    @staticmethod
    def max(dt: DType) -> ConstType:
        if dtypes.is_int(dt):
            return 2 ** (8 * dt.itemsize) - 1 if dtypes.is_unsigned(dt) else 2 ** (8 * dt.itemsize - 1) - 1
        return True if dt == dtypes.bool else math.inf

    @staticmethod
    def finfo(dt: DType) -> tuple[int, int]:
        """(exponent bits, mantissa bits) of a float dtype."""
        table = {
            dtypes.float16: (5, 10),
            dtypes.bfloat16: (8, 7),
            dtypes.float32: (8, 23),
            dtypes.float64: (11, 52),
            dtypes.fp8e4m3: (4, 3),
            dtypes.fp8e5m2: (5, 2),
        }
        if dt not in table:
            raise DTypeError(f"dtypes.finfo({dt}): not a float dtype")
        return table[dt]


dtypes.floats = (dtypes.fp8e4m3, dtypes.fp8e5m2, dtypes.float16, dtypes.bfloat16, dtypes.float32, dtypes.float64)
dtypes.uints = (dtypes.uint8, dtypes.uint16, dtypes.uint32, dtypes.uint64)
dtypes.sints = (dtypes.int8, dtypes.int16, dtypes.int32, dtypes.int64)
dtypes.ints = dtypes.uints + dtypes.sints
dtypes.all = (dtypes.bool,) + dtypes.ints + dtypes.floats

if (_df := getenv("DEFAULT_FLOAT", "")) != "":
    dtypes.default_float = getattr(dtypes, _df.lower())

DTYPES_DICT: dict[str, DType] = {dt.name: dt for dt in dtypes.all}
DTYPES_DICT["void"] = dtypes.void
# user-facing names (torch/numpy style) to dtypes
NAMED_DTYPES: dict[str, DType] = {
    "bool": dtypes.bool, "int8": dtypes.int8, "uint8": dtypes.uint8, "int16": dtypes.int16,
    "uint16": dtypes.uint16, "int32": dtypes.int32, "uint32": dtypes.uint32, "int64": dtypes.int64,
    "uint64": dtypes.uint64, "float16": dtypes.float16, "bfloat16": dtypes.bfloat16, "float32": dtypes.float32,
    "float64": dtypes.float64, "fp8e4m3": dtypes.fp8e4m3, "fp8e5m2": dtypes.fp8e5m2,
}  # fmt: skip

_NP: dict[str, np.dtype] = {
    "bool": np.dtype(np.bool_), "char": np.dtype(np.int8), "unsigned char": np.dtype(np.uint8),
    "short": np.dtype(np.int16), "unsigned short": np.dtype(np.uint16), "int": np.dtype(np.int32),
    "unsigned int": np.dtype(np.uint32), "long": np.dtype(np.int64), "unsigned long": np.dtype(np.uint64),
    "half": np.dtype(np.float16), "float": np.dtype(np.float32), "double": np.dtype(np.float64),
}  # fmt: skip
_FROM_NP: dict[str, DType] = {
    "bool": dtypes.bool, "int8": dtypes.int8, "uint8": dtypes.uint8, "int16": dtypes.int16,
    "uint16": dtypes.uint16, "int32": dtypes.int32, "uint32": dtypes.uint32, "int64": dtypes.int64,
    "uint64": dtypes.uint64, "float16": dtypes.float16, "float32": dtypes.float32, "float64": dtypes.float64,
}  # fmt: skip


def to_dtype(x: DType | str) -> DType:
    if isinstance(x, DType):
        return x
    if isinstance(x, str) and x in NAMED_DTYPES:
        return NAMED_DTYPES[x]
    raise DTypeError(f"to_dtype({x!r}): unknown dtype; use one of dtypes.{', dtypes.'.join(NAMED_DTYPES)}")


# ---- promotion lattice ----
# Each dtype lists the dtypes it promotes to directly; the least upper bound of a set is the smallest dtype
# reachable from all of them. ints meet floats at the float, signed/unsigned of one width meet one width up.
_PROMO: dict[DType, tuple[DType, ...]] = {
    dtypes.bool: (dtypes.int8, dtypes.uint8),
    dtypes.int8: (dtypes.int16,),
    dtypes.int16: (dtypes.int32,),
    dtypes.int32: (dtypes.int64,),
    dtypes.int64: (dtypes.fp8e4m3, dtypes.fp8e5m2),
    dtypes.uint8: (dtypes.int16, dtypes.uint16),
    dtypes.uint16: (dtypes.int32, dtypes.uint32),
    dtypes.uint32: (dtypes.int64, dtypes.uint64),
    dtypes.uint64: (dtypes.fp8e4m3, dtypes.fp8e5m2),
    dtypes.fp8e4m3: (dtypes.float16, dtypes.bfloat16),
    dtypes.fp8e5m2: (dtypes.float16, dtypes.bfloat16),
    dtypes.float16: (dtypes.float32,),
    dtypes.bfloat16: (dtypes.float32,),
    dtypes.float32: (dtypes.float64,),
    dtypes.float64: (),
}


@functools.cache
def _upper_set(dt: DType) -> frozenset[DType]:
    return frozenset([dt]).union(*(_upper_set(u) for u in _PROMO[dt]))


def least_upper_dtype(*ds: DType) -> DType:
    """The smallest dtype every argument promotes to (float16 + bfloat16 -> float32, int8 + uint8 -> int16)."""
    common = frozenset.intersection(*(_upper_set(d.scalar) for d in ds))
    return min(common)


def least_upper_float(dt: DType) -> DType:
    return dt if dtypes.is_float(dt) else least_upper_dtype(dt, dtypes.default_float)


# ---- value conversion ----


def truncate_const(x: ConstType, dt: DType) -> ConstType:
    """Bring a Python constant into the value set of `dt` (C cast semantics for ints, rounding for floats)."""
    if dt == dtypes.bool:
        return bool(x)
    if dtypes.is_int(dt):
        if isinstance(x, float):
            if math.isnan(x) or math.isinf(x):
                return 0
            x = int(x)
        bits = 8 * dt.itemsize
        x = int(x) & ((1 << bits) - 1)
        if not dtypes.is_unsigned(dt) and x >= 1 << (bits - 1):
            x -= 1 << bits
        return x
    x = float(x)
    if dt == dtypes.float32:
        try:
            return struct.unpack("f", struct.pack("f", x))[0]
        except OverflowError:
            return math.copysign(math.inf, x)
    if dt == dtypes.float16:
        return float(np.float16(x))
    if dt == dtypes.bfloat16:
        return _bf16_val(x)
    return x


def _bf16_val(x: float) -> float:
    bits = float_to_bf16_bits(np.array([x], np.float32))
    return float(bf16_bits_to_float(bits)[0])


def float_to_bf16_bits(x: np.ndarray) -> np.ndarray:
    """Round-to-nearest-even float32 -> bfloat16 bit patterns (NaN stays NaN)."""
    u = x.astype(np.float32).view(np.uint32)
    rounded = (u + (0x7FFF + ((u >> 16) & 1))) >> 16
    return np.where(np.isnan(x), np.uint32(0x7FC0), rounded).astype(np.uint16)


def bf16_bits_to_float(b: np.ndarray) -> np.ndarray:
    return (b.astype(np.uint32) << 16).view(np.float32)
