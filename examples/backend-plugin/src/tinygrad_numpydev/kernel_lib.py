"""Helpers that generated NPY kernels call, for the few UOps numpy has no one-call spelling of.

Kernels run GPU-style: every value is a numpy array with one lane per grid thread (or a numpy scalar when it is
the same for all lanes), so each helper works on arrays and scalars alike and keeps the dtype it was given.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def lanes(global_size: tuple[int, ...]) -> np.ndarray:
    """One int64 id per grid thread, dimension 0 (x) fastest."""
    return np.arange(int(np.prod(global_size)), dtype=np.int64)


def special(ids: np.ndarray, global_size: tuple[int, ...], dim: int) -> np.ndarray:
    """The grid index along `dim` of every thread."""
    inner = int(np.prod(global_size[:dim]))
    return (ids // inner) % global_size[dim]


def typed(buf: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """The uint8 buffer seen as `dtype` (a zero-element buffer is allocated as one byte: trim the spare)."""
    return buf[: len(buf) - len(buf) % np.dtype(dtype).itemsize].view(dtype)


def load(buf: np.ndarray, idx: Any, gate: Any) -> Any:
    """buf[idx] where the gate is true, 0 elsewhere; masked lanes may hold out-of-range indices."""
    safe = np.where(gate, idx, 0)
    got = buf[safe] if len(buf) else np.zeros(np.shape(safe), buf.dtype)
    return np.where(gate, got, buf.dtype.type(0))


def store(buf: np.ndarray, idx: Any, val: Any, gate: Any = None) -> None:
    """buf[idx] = val, only in lanes whose gate is true."""
    if gate is None:
        buf[idx] = val
        return
    idx, val, gate = np.broadcast_arrays(idx, val, gate)
    buf[idx[gate]] = val[gate]


def idiv(a: Any, b: Any) -> Any:
    """Integer division truncating toward zero, as C does; x // 0 is 0, as the C backends define it.

    numpy's floor division is exact over the whole range (abs() is not: abs(-128) overflows int8), so floor and
    then step toward zero where the signs differ and there is a remainder.
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype == np.bool_:
        return a & b
    safe = np.where(b == 0, 1, b).astype(a.dtype)
    q = a // safe
    q = np.where(((a % safe) != 0) & ((a < 0) != (safe < 0)), q + 1, q).astype(a.dtype)
    return np.where(b == 0, 0, q).astype(a.dtype)


def mod(a: Any, b: Any) -> Any:
    """The remainder matching `idiv` (its sign follows the dividend); x % 0 is 0, as the C backends define it."""
    a, b = np.asarray(a), np.asarray(b)
    return np.where(b == 0, 0, a - idiv(a, b) * b).astype(a.dtype)


def ipow(a: Any, b: Any) -> Any:
    """Integer power through float64, as the C backends compute it (numpy refuses negative int exponents)."""
    a = np.asarray(a)
    return np.power(a.astype(np.float64), np.asarray(b, np.float64)).astype(a.dtype)


def cast(x: Any, dtype: np.dtype) -> Any:
    return np.asarray(x).astype(dtype)


def bitcast(x: Any, dtype: np.dtype) -> Any:
    return np.asarray(x).view(dtype)
