"""CPU memory: plain host memory, so core's HostAllocator is the whole story.

Kernels receive each buffer's `.addr` (a 64-byte aligned host address) as a `void*`.
"""

from __future__ import annotations

from tinygrad.device import HostAllocator


class CPUAllocator(HostAllocator):
    """Host memory for CPU kernels: ctypes arrays, 64-byte aligned, recycled through the LRU cache."""
