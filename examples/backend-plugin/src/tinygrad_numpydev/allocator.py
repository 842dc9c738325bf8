"""NPY memory: each buffer is a flat uint8 numpy array; kernels view it as the dtype they need."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad.device import LRUAllocator


class NpyAllocator(LRUAllocator):
    """Host memory as numpy arrays, recycled through core's LRU cache. Offers the optional `as_memoryview`,
    `offset` and `transfer`, so core can read buffers in place and the conformance suite checks all three."""

    def _alloc(self, size: int, options: Any) -> np.ndarray:
        # uninitialized, like device memory: a backend must not rely on fresh buffers being zero
        return np.empty(size, dtype=np.uint8)

    def copyin(self, dest: np.ndarray, src: memoryview) -> None:
        dest[: src.nbytes] = np.frombuffer(src, dtype=np.uint8)

    def copyout(self, dest: memoryview, src: np.ndarray) -> None:
        np.frombuffer(dest, dtype=np.uint8)[:] = src[: dest.nbytes]

    def as_memoryview(self, opaque: np.ndarray, size: int) -> memoryview:
        return opaque[:size].data

    def offset(self, opaque: np.ndarray, size: int, offset: int) -> np.ndarray:
        """A `size`-byte buffer sharing memory with `opaque` from byte `offset` on."""
        return opaque[offset : offset + size]

    def transfer(self, dest: np.ndarray, src: np.ndarray, size: int, src_dev: Any, dest_dev: Any) -> None:
        """Copy `size` bytes between two NPY buffers (of any NPY devices) without a host round trip."""
        np.copyto(dest[:size], src[:size])
