"""GPU memory: cuMemAlloc'd device pointers (plain ints), recycled through core's LRU cache.

Host data goes through pinned staging buffers: the caller's memory is copied into one with memmove and the
DMA engine reads it from there asynchronously, so copyin returns before the GPU has the data, and the caller's
buffer is free to change at once. Two staging buffers alternate, so a large copy overlaps memmove and DMA.
"""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad.device import LRUAllocator
from tinygrad_cuda.libcuda import CUDA_ERROR_OUT_OF_MEMORY, MEMHOSTALLOC_PORTABLE

if TYPE_CHECKING:
    from tinygrad_cuda.device import CUDADevice

# 16 MiB per staging buffer: large enough that a copy runs at full PCIe speed, small enough to pin cheaply
STAGING_BYTES = 16 << 20
EVENT_DISABLE_TIMING = 2


def _host_addr(mv: memoryview) -> int:
    return int(np.frombuffer(mv, np.uint8).ctypes.data)


class CUDAAllocator(LRUAllocator):
    """Device memory of one CUDADevice; handles are device addresses (int)."""

    def __init__(self, dev: CUDADevice) -> None:
        super().__init__()
        self.dev = dev
        self._staging: list[tuple[ctypes.c_void_p, ctypes.c_void_p]] = []  # (pinned buffer, its last copy's event)
        self._next = 0

    def _alloc(self, size: int, options: Any) -> int:
        drv = self.dev.drv
        self.dev.activate()
        ptr = ctypes.c_uint64()
        status = drv.cuMemAlloc_v2(ctypes.byref(ptr), size)
        if status == CUDA_ERROR_OUT_OF_MEMORY:
            # LRUAllocator frees its cache and tries once more on MemoryError
            raise MemoryError(f"{self.dev.device}: out of GPU memory allocating {size} bytes")
        drv.check(status, f"{self.dev.device}: cuMemAlloc({size})")
        return ptr.value

    def _free(self, opaque: int, size: int, options: Any) -> None:
        # kernels still queued may use the memory
        self.dev.synchronize()
        self.dev.drv.check(self.dev.drv.cuMemFree_v2(opaque), f"{self.dev.device}: cuMemFree")

    def _staging_buffer(self) -> tuple[ctypes.c_void_p, ctypes.c_void_p]:
        """The next pinned buffer, once the copy that last used it has finished."""
        drv = self.dev.drv
        if len(self._staging) < 2:
            buf, ev = ctypes.c_void_p(), ctypes.c_void_p()
            drv.check(drv.cuMemHostAlloc(ctypes.byref(buf), STAGING_BYTES, MEMHOSTALLOC_PORTABLE), "cuMemHostAlloc")
            drv.check(drv.cuEventCreate(ctypes.byref(ev), EVENT_DISABLE_TIMING), "cuEventCreate")
            self._staging.append((buf, ev))
            return buf, ev
        buf, ev = self._staging[self._next]
        self._next = (self._next + 1) % len(self._staging)
        drv.check(drv.cuEventSynchronize(ev), "cuEventSynchronize (staging buffer)")
        return buf, ev

    def copyin(self, dest: int, src: memoryview) -> None:
        if not src.nbytes:
            return
        drv = self.dev.drv
        self.dev.activate()
        host = _host_addr(src)
        for off in range(0, src.nbytes, STAGING_BYTES):
            n = min(STAGING_BYTES, src.nbytes - off)
            buf, ev = self._staging_buffer()
            ctypes.memmove(buf, host + off, n)
            drv.check(drv.cuMemcpyHtoDAsync_v2(dest + off, buf, n, self.dev.stream), "cuMemcpyHtoDAsync")
            drv.check(drv.cuEventRecord(ev, self.dev.stream), "cuEventRecord")

    def copyout(self, dest: memoryview, src: int) -> None:
        if not dest.nbytes:
            return
        drv = self.dev.drv
        self.dev.activate()
        host = _host_addr(dest)
        for off in range(0, dest.nbytes, STAGING_BYTES):
            n = min(STAGING_BYTES, dest.nbytes - off)
            buf, ev = self._staging_buffer()
            drv.check(drv.cuMemcpyDtoHAsync_v2(buf, src + off, n, self.dev.stream), "cuMemcpyDtoHAsync")
            # the stream also runs every kernel queued before: the data read is what they wrote
            drv.check(drv.cuStreamSynchronize(self.dev.stream), "cuStreamSynchronize")
            ctypes.memmove(host + off, buf, n)

    def transfer(self, dest: int, src: int, size: int, src_dev: CUDADevice, dest_dev: CUDADevice) -> None:
        """Device-to-device copy of `size` bytes: within one GPU on its stream, across GPUs as a peer copy."""
        drv = self.dev.drv
        if src_dev is dest_dev:
            dest_dev.activate()
            drv.check(drv.cuMemcpyDtoDAsync_v2(dest, src, size, dest_dev.stream), "cuMemcpyDtoDAsync")
            return
        # the source GPU's queued writes first; the peer copy runs on the destination's stream, and is waited for
        # so that later work on the source GPU cannot overwrite the data while it is read
        src_dev.synchronize()
        dest_dev.activate()
        drv.check(drv.cuMemcpyPeerAsync(dest, dest_dev.ctx, src, src_dev.ctx, size, dest_dev.stream),
                  f"cuMemcpyPeerAsync {src_dev.device} -> {dest_dev.device}")  # fmt: skip
        dest_dev.synchronize()

    def free_staging(self) -> None:
        """Release the pinned staging buffers (they are made again on the next copy)."""
        self.dev.synchronize()
        for buf, ev in self._staging:
            self.dev.drv.cuMemFreeHost(buf)
            self.dev.drv.cuEventDestroy_v2(ev)
        self._staging.clear()
        self._next = 0
