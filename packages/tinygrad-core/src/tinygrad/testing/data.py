"""Inputs and oracles for the backend conformance suite: random values per dtype, exact rounding to the formats
numpy lacks (bfloat16, fp8), and moving tensors to and from a device bit-exactly.

Values of a dtype are held on the host in its "host form": an array of the dtype's numpy type, or for a dtype
numpy lacks, a float32 array of values the dtype represents exactly. Rounding to those formats is computed here
from a table of every bit pattern, independently of core's emulation, so the suite can check that emulation.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tinygrad.dtype import DType, dtypes

# dtypes without a numpy type: (exponent bits, mantissa bits, has inf). e4m3 is the "fn" variant: no inf and a
# single NaN pattern per sign (S.1111.111)
FORMATS: dict[DType, tuple[int, int, bool]] = {
    dtypes.bfloat16: (8, 7, True),
    dtypes.fp8e4m3: (4, 3, False),
    dtypes.fp8e5m2: (5, 2, True),
}


def storage_np(dt: DType) -> np.dtype:
    """The numpy dtype holding dt's bit patterns (dt's own numpy type where it has one).

    >>> storage_np(dtypes.bfloat16).name, storage_np(dtypes.float16).name
    ('uint16', 'float16')
    """
    if dt.np is not None:
        return np.dtype(dt.np)
    return np.dtype(np.uint16 if dt.itemsize == 2 else np.uint8)


def host_np(dt: DType) -> np.dtype:
    """The numpy dtype of dt's host form: its own, or float32 for formats numpy lacks.

    >>> host_np(dtypes.fp8e4m3).name
    'float32'
    """
    return np.dtype(dt.np) if dt.np is not None else np.dtype(np.float32)


def decode(dt: DType, bits: np.ndarray) -> np.ndarray:
    """Bit patterns of an emulated format -> float32 values.

    >>> decode(dtypes.fp8e4m3, np.array([0x38, 0x7E, 0x7F], np.uint8)).tolist()
    [1.0, 448.0, nan]
    """
    ebits, mbits, has_inf = FORMATS[dt]
    b = bits.astype(np.uint32)
    if dt == dtypes.bfloat16:
        return (b << 16).view(np.float32)
    bias = (1 << (ebits - 1)) - 1
    sign = np.where(b >> 7, -1.0, 1.0)
    exp = (b >> mbits) & ((1 << ebits) - 1)
    man = (b & ((1 << mbits) - 1)).astype(np.float64)
    normal = (1 + man / 2**mbits) * 2.0 ** (exp.astype(np.int64) - bias)
    mag = np.where(exp == 0, man * 2.0 ** (1 - bias - mbits), normal)
    if has_inf:
        top = exp == (1 << ebits) - 1
        mag = np.where(top, np.where(man == 0, np.inf, np.nan), mag)
    else:
        mag = np.where((b & 0x7F) == 0x7F, np.nan, mag)
    return (sign * mag).astype(np.float32)


@functools.cache
def _table(dt: DType) -> tuple[np.ndarray, np.ndarray]:
    """Every finite value of an emulated format, ascending (one zero), with its bit pattern."""
    sdt = storage_np(dt)
    bits = np.arange(1 << (8 * dt.itemsize), dtype=np.uint64).astype(sdt)
    with np.errstate(invalid="ignore"):  # signalling NaN patterns are dropped below anyway
        vals = decode(dt, bits).astype(np.float64)
    keep = np.isfinite(vals) & ~((vals == 0) & np.signbit(vals))
    order = np.argsort(vals[keep], kind="stable")
    return vals[keep][order], bits[keep][order]


def encode(dt: DType, x: np.ndarray) -> np.ndarray:
    """float -> bit patterns of an emulated format, rounding to nearest, ties to even. x must be finite and within
    the format's range (the suite never generates anything else).

    >>> [hex(b) for b in encode(dtypes.bfloat16, np.float32([1.0, -2.0]))]
    ['0x3f80', '0xc000']
    """
    vals, bits = _table(dt)
    x = np.asarray(x, np.float64)
    hi = np.clip(np.searchsorted(vals, x), 1, len(vals) - 1)
    lo = hi - 1
    dlo, dhi = x - vals[lo], vals[hi] - x
    # a tie goes to the even mantissa, i.e. the even bit pattern
    pick_hi = (dhi < dlo) | ((dhi == dlo) & (bits[hi] % 2 == 0))
    out = np.where(pick_hi, bits[hi], bits[lo])
    # a negative value that rounds to zero keeps its sign (IEEE)
    neg_zero = 0x8000 if dt.itemsize == 2 else 0x80
    out = np.where((np.where(pick_hi, vals[hi], vals[lo]) == 0) & np.signbit(x), neg_zero, out)
    return out.astype(storage_np(dt))


def round_to(dt: DType, x: Any) -> np.ndarray:
    """x rounded to dt, in dt's host form.

    >>> round_to(dtypes.fp8e5m2, [1.1, 5.0]).tolist(), round_to(dtypes.int8, [300]).tolist()
    ([1.0, 5.0], [44])
    """
    if dt.np is not None:
        with np.errstate(all="ignore"):
            return np.asarray(x).astype(dt.np)
    return decode(dt, encode(dt, np.asarray(x, np.float32)))


def mantissa_bits(dt: DType) -> int:
    """Explicit mantissa bits of a float dtype: one ulp at 1.0 is 2**-mantissa_bits.

    >>> mantissa_bits(dtypes.float16), mantissa_bits(dtypes.bfloat16)
    (10, 7)
    """
    return dtypes.finfo(dt)[1]


def random_values(rng: np.random.Generator, dt: DType, shape: tuple[int, ...], lo: float = -20.0,
                  hi: float = 20.0) -> np.ndarray:  # fmt: skip
    """Random values of dt in [lo, hi] (clipped to the dtype's range), in dt's host form. Floats get fractional
    parts; ints are uniform integers.

    >>> v = random_values(np.random.default_rng(0), dtypes.fp8e4m3, (100,), -2, 2)
    >>> bool(np.array_equal(round_to(dtypes.fp8e4m3, v), v)), bool(np.abs(v).max() <= 2)
    (True, True)
    """
    if dt == dtypes.bool:
        return rng.random(shape) < 0.5
    if dtypes.is_int(dt):
        info = np.iinfo(dt.np)
        lo_i, hi_i = max(int(np.ceil(lo)), int(info.min)), min(int(np.floor(hi)), int(info.max))
        return rng.integers(lo_i, hi_i, size=shape, dtype=dt.np, endpoint=True)
    return round_to(dt, rng.uniform(lo, hi, shape))


def full_range(rng: np.random.Generator, dt: DType, shape: tuple[int, ...]) -> np.ndarray:
    """Uniform over every value of an int dtype (so wrap-around is exercised), with the dtype's minimum and
    maximum always among the first elements.

    >>> full_range(np.random.default_rng(0), dtypes.int8, (6,))[:4].tolist()
    [-128, 127, -127, 126]
    """
    info = np.iinfo(dt.np)
    x = rng.integers(int(info.min), int(info.max), size=shape, dtype=dt.np, endpoint=True)
    edges = [info.min, info.max, info.min + 1, info.max - 1]
    x.reshape(-1)[: min(x.size, len(edges))] = edges[: x.size]
    return x


def wrap(x: Any, dt: DType) -> np.ndarray:
    """Python ints (any size) -> dt, wrapping modulo 2**bits as two's complement arithmetic does.

    >>> wrap([128, -129, 2**40], dtypes.int8).tolist()
    [-128, 127, 0]
    """
    info = np.iinfo(dt.np)
    span = int(info.max) - int(info.min) + 1
    return np.array([(int(v) - int(info.min)) % span + int(info.min) for v in np.asarray(x).reshape(-1)],
                    dtype=dt.np).reshape(np.shape(x))  # fmt: skip


# bit patterns a copy must keep exactly: NaNs with payloads and both signs, infinities, -0.0, a subnormal
SPECIAL_BITS: dict[DType, list[int]] = {
    dtypes.float16: [0x7E01, 0xFE00, 0x7C01, 0x7C00, 0xFC00, 0x8000, 0x0001],
    dtypes.bfloat16: [0x7FC1, 0xFFC0, 0x7F81, 0x7F80, 0xFF80, 0x8000, 0x0001],
    dtypes.float32: [0x7FC00001, 0xFFC00000, 0x7F800001, 0x7F800000, 0xFF800000, 0x80000000, 0x00000001],
    dtypes.float64: [0x7FF8000000000001, 0xFFF8000000000000, 0x7FF0000000000001, 0x7FF0000000000000,
                     0xFFF0000000000000, 0x8000000000000000, 0x0000000000000001],
    dtypes.fp8e4m3: [0x7F, 0xFF, 0x80, 0x01],
    dtypes.fp8e5m2: [0x7D, 0xFE, 0x7F, 0x7C, 0xFC, 0x80, 0x01],
}  # fmt: skip


def random_bits(rng: np.random.Generator, dt: DType, n: int) -> np.ndarray:
    """n random bit patterns of dt (0/1 for bool, which has no other valid patterns), as its storage dtype; floats
    start with the SPECIAL_BITS patterns.

    >>> [hex(b) for b in random_bits(np.random.default_rng(0), dtypes.float16, 4).view(np.uint16)[:2]]
    ['0x7e01', '0xfe00']
    """
    if dt == dtypes.bool:
        return rng.random(n) < 0.5
    bits = rng.integers(0, 256, size=n * dt.itemsize, dtype=np.uint8).view(storage_np(dt))
    special = SPECIAL_BITS.get(dt, [])[:n]
    uint = np.dtype(f"u{dt.itemsize}")
    bits.view(uint)[: len(special)] = np.array(special, dtype=uint)
    return bits


def to_device(x: np.ndarray, dt: DType, device: str) -> Any:
    """A Tensor on `device` holding x (dt's host form) exactly. Emulated formats are uploaded as their bits and
    bitcast, so no device arithmetic touches the inputs.

    >>> from_device(to_device(np.float32([1.5, -3.0]), dtypes.bfloat16, "PYTHON")).tolist()
    [1.5, -3.0]
    """
    from tinygrad.tensor import Tensor

    if dt.np is not None:
        return Tensor(np.ascontiguousarray(x).astype(dt.np, copy=False), device=device)
    return bits_to_device(encode(dt, x), dt, device)


def bits_to_device(bits: np.ndarray, dt: DType, device: str) -> Any:
    """A Tensor of dt on `device` holding these bit patterns (as produced by `random_bits` or `encode`).

    >>> bits_to_device(np.array([0x3F80], np.uint16), dtypes.bfloat16, "PYTHON").numpy().tolist()
    [1.0]
    """
    from tinygrad.tensor import Tensor

    t = Tensor(np.ascontiguousarray(bits), device=device)
    return t if dt.np is not None else Tensor(t.uop.bitcast(dt))


def from_device(t: Any) -> np.ndarray:
    """A tensor's values in its dtype's host form. Emulated formats come back as bits (a device bitcast, no
    arithmetic) and are decoded here.

    >>> from tinygrad.tensor import Tensor
    >>> from_device(Tensor([0.1], dtype=dtypes.fp8e4m3, device="PYTHON")).tolist()
    [0.1015625]
    """
    from tinygrad.tensor import Tensor

    dt = t.dtype
    if dt.np is not None:
        return t.numpy()
    return decode(dt, Tensor(t.uop.bitcast(storage_np_dtype(dt))).numpy())


def raw_bytes(t: Any) -> bytes:
    """A tensor's contiguous bytes, copied out of the device as they are.

    >>> from tinygrad.tensor import Tensor
    >>> raw_bytes(Tensor([1, 2], dtype=dtypes.uint8, device="PYTHON"))
    b'\\x01\\x02'
    """
    return bytes(t.data())


def storage_np_dtype(dt: DType) -> DType:
    """The unsigned int dtype of an emulated format's width.

    >>> storage_np_dtype(dtypes.fp8e5m2) == dtypes.uint8
    True
    """
    return dtypes.uint16 if dt.itemsize == 2 else dtypes.uint8
