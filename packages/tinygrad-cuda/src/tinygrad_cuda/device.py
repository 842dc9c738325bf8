"""The CUDA device: one GPU's primary context and stream, with the NVRTC compiler and the CUDA renderer."""

from __future__ import annotations

import ctypes
import functools
import os

from tinygrad.device import Compiled
from tinygrad.errors import DeviceError
from tinygrad_cuda.allocator import CUDAAllocator
from tinygrad_cuda.compiler import CUDACompiler
from tinygrad_cuda.libcuda import (
    ATTR_COMPUTE_CAPABILITY_MAJOR,
    ATTR_COMPUTE_CAPABILITY_MINOR,
    ATTR_MULTIPROCESSOR_COUNT,
    STREAM_NON_BLOCKING,
    driver,
)
from tinygrad_cuda.program import CUDAProgram
from tinygrad_cuda.renderer import CUDARenderer


def parse_ordinal(device: str) -> int:
    """The GPU ordinal in a device name: 0 for "CUDA", 1 for "CUDA:1"."""
    parts = device.split(":")
    if len(parts) == 1:
        return 0
    if len(parts) != 2 or not parts[1].isdigit():
        raise DeviceError(f"Device[{device!r}]: a CUDA device is named CUDA or CUDA:<ordinal>, e.g. CUDA:1")
    return int(parts[1])


def driver_version() -> tuple[int, int]:
    """The CUDA version the installed driver supports, e.g. (13, 0)."""
    v = ctypes.c_int()
    drv = driver()
    drv.check(drv.cuDriverGetVersion(ctypes.byref(v)), "cuDriverGetVersion")
    return v.value // 1000, (v.value % 1000) // 10


def device_count() -> int:
    n = ctypes.c_int()
    drv = driver()
    drv.check(drv.cuDeviceGetCount(ctypes.byref(n)), "cuDeviceGetCount")
    return n.value


class CUDADevice(Compiled):
    """One GPU. All its work goes to one non-blocking stream, so the order of launches and copies is the order
    they were issued in; synchronize() waits for the stream."""

    allocator: CUDAAllocator
    compiler: CUDACompiler

    def __init__(self, device: str) -> None:
        self.drv = drv = driver()
        self.ordinal = parse_ordinal(device)
        if self.ordinal >= (count := device_count()):
            raise DeviceError(f"Device[{device!r}]: this machine has {count} CUDA device(s), "
                              f"CUDA{'' if count <= 1 else f' to CUDA:{count - 1}'}")  # fmt: skip
        self.cudev = ctypes.c_int()
        drv.check(drv.cuDeviceGet(ctypes.byref(self.cudev), self.ordinal), f"cuDeviceGet({self.ordinal})")
        # the primary context is the one the CUDA runtime (and so torch, cupy) uses too: memory can be shared
        self.ctx = ctypes.c_void_p()
        drv.check(drv.cuDevicePrimaryCtxRetain(ctypes.byref(self.ctx), self.cudev), "cuDevicePrimaryCtxRetain")
        self.activate()
        self.compute_capability = (self._attr(ATTR_COMPUTE_CAPABILITY_MAJOR), self._attr(ATTR_COMPUTE_CAPABILITY_MINOR))
        self.stream = ctypes.c_void_p()
        drv.check(drv.cuStreamCreate(ctypes.byref(self.stream), STREAM_NON_BLOCKING), "cuStreamCreate")
        # CUDA_ARCH=sm_80 compiles for another architecture than the GPU's own (e.g. to test PTX JIT paths)
        arch = os.environ.get("CUDA_ARCH") or "sm_{}{}".format(*self.compute_capability)
        self.timing: tuple[ctypes.c_void_p, ctypes.c_void_p] | None = None
        super().__init__(device, CUDAAllocator(self), CUDARenderer(arch), CUDACompiler(arch),
                         functools.partial(CUDAProgram, self))  # fmt: skip

    def _attr(self, attr: int) -> int:
        v = ctypes.c_int()
        status = self.drv.cuDeviceGetAttribute(ctypes.byref(v), attr, self.cudev)
        self.drv.check(status, f"cuDeviceGetAttribute({attr})")
        return v.value

    def activate(self) -> None:
        """Make this GPU's context current on the calling thread (contexts are per thread, and another
        library or device may have switched it since)."""
        self.drv.check(self.drv.cuCtxSetCurrent(self.ctx), "cuCtxSetCurrent")

    def synchronize(self) -> None:
        self.activate()
        self.drv.check(self.drv.cuStreamSynchronize(self.stream), f"{self.device}: cuStreamSynchronize")

    def timing_events(self) -> tuple[ctypes.c_void_p, ctypes.c_void_p]:
        """A (start, end) pair of timing events on this device, made once."""
        if self.timing is None:
            start, end = ctypes.c_void_p(), ctypes.c_void_p()
            for ev in (start, end):
                self.drv.check(self.drv.cuEventCreate(ctypes.byref(ev), 0), "cuEventCreate")
            self.timing = (start, end)
        return self.timing

    def describe(self) -> dict[str, str]:
        name = ctypes.create_string_buffer(256)
        self.drv.check(self.drv.cuDeviceGetName(name, len(name), self.cudev), "cuDeviceGetName")
        total = ctypes.c_size_t()
        self.drv.check(self.drv.cuDeviceTotalMem_v2(ctypes.byref(total), self.cudev), "cuDeviceTotalMem")
        comp = self.compiler
        return {
            "renderer": type(self.renderer).__name__,
            "name": name.value.decode(errors="replace"),
            "ordinal": str(self.ordinal),
            "compute capability": "{}.{}".format(*self.compute_capability),
            "multiprocessors": str(self._attr(ATTR_MULTIPROCESSOR_COUNT)),
            "memory": f"{total.value / 2**30:.1f} GiB",
            "driver": "CUDA {}.{} ({})".format(*driver_version(), self.drv.path),
            "nvrtc": f"{'.'.join(map(str, comp.nv.version))} ({comp.nv.path})",
            "headers": comp.include_dirs[0] if comp.include_dirs else "not found: half/bfloat16/fp8 kernels fail",
            "target": f"{comp.arch} {'PTX (JIT by the driver)' if comp.ptx else 'cubin'}",
            "flags": " ".join(comp.flags),
        }


def open_cuda(device: str) -> Compiled:
    """Open "CUDA" (ordinal 0) or "CUDA:<n>"."""
    return CUDADevice(device)
