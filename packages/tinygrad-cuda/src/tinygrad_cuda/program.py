"""Loading a cubin (or PTX) into the GPU's context and launching its kernel on the device's stream."""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING, Any

from tinygrad.device import Program
from tinygrad.errors import DeviceError
from tinygrad.helpers import prod
from tinygrad_cuda.libcuda import JIT_ERROR_LOG_BUFFER, JIT_ERROR_LOG_BUFFER_SIZE_BYTES, CUDAError

if TYPE_CHECKING:
    from tinygrad_cuda.device import CUDADevice

LOG_BYTES = 16384


def _dims(sizes: tuple[int, ...] | None, what: str, name: str) -> tuple[int, int, int]:
    sizes = tuple(sizes or ())
    if len(sizes) > 3:
        raise DeviceError(f"CUDAProgram {name}: a launch has at most 3 {what} dimensions, got {sizes}")
    return (*sizes, *(1,) * (3 - len(sizes)))  # type: ignore[return-value]


class CUDAProgram(Program):
    """A kernel `extern "C" __global__ void name(T* data0, ..., int var0, ...)` in a loaded module.

    global_size counts blocks and local_size threads per block (x first), as core's to_grid produces them.
    """

    def __init__(self, dev: CUDADevice, name: str, lib: bytes) -> None:
        super().__init__(name, lib)
        self.dev = dev
        drv = dev.drv
        dev.activate()
        self.module = ctypes.c_void_p()
        log = ctypes.create_string_buffer(LOG_BYTES)
        opts = (ctypes.c_int * 2)(JIT_ERROR_LOG_BUFFER, JIT_ERROR_LOG_BUFFER_SIZE_BYTES)
        vals = (ctypes.c_void_p * 2)(ctypes.addressof(log), LOG_BYTES)
        # a copy with a terminating NUL: PTX is read as a C string (a cubin's length is in its header)
        self._image = ctypes.create_string_buffer(lib)
        status = drv.cuModuleLoadDataEx(ctypes.byref(self.module), self._image, 2, opts, vals)
        if status != 0:
            self.module = ctypes.c_void_p()
            jit_log = log.value.decode(errors="replace").strip()
            raise CUDAError(f"{dev.device}: loading kernel {name} failed: {drv.error_name(status)}"
                            f"{chr(10) + jit_log if jit_log else ''}", status)  # fmt: skip
        self.fn = ctypes.c_void_p()
        drv.check(drv.cuModuleGetFunction(ctypes.byref(self.fn), self.module, name.encode()),
                  f"{dev.device}: cuModuleGetFunction({name!r})")  # fmt: skip

    def __call__(
        self,
        *bufs: Any,
        global_size: tuple[int, ...] = (1,),
        local_size: tuple[int, ...] | None = None,
        vals: tuple[int, ...] = (),
        wait: bool = False,
    ) -> float | None:
        grid, block = _dims(global_size, "grid", self.name), _dims(local_size, "block", self.name)
        if prod(grid) == 0 or prod(block) == 0:
            return 0.0 if wait else None  # nothing to run (CUDA rejects empty launches)
        # cuLaunchKernel takes an array of pointers, one to each argument's value; it copies the values
        ptrs = (ctypes.c_uint64 * max(len(bufs), 1))(*(b if isinstance(b, int) else b.value for b in bufs))
        ints = (ctypes.c_int32 * max(len(vals), 1))(*vals)
        params = (ctypes.c_void_p * (len(bufs) + len(vals)))(
            *(ctypes.addressof(ptrs) + 8 * i for i in range(len(bufs))),
            *(ctypes.addressof(ints) + 4 * i for i in range(len(vals))),
        )
        dev, drv = self.dev, self.dev.drv
        dev.activate()
        if wait:
            start, end = dev.timing_events()
            drv.check(drv.cuEventRecord(start, dev.stream), "cuEventRecord")
        drv.check(drv.cuLaunchKernel(self.fn, *grid, *block, 0, dev.stream, params, None),
                  f"{dev.device}: launching {self.name} grid={grid} block={block}")  # fmt: skip
        if not wait:
            return None
        drv.check(drv.cuEventRecord(end, dev.stream), "cuEventRecord")
        drv.check(drv.cuEventSynchronize(end), f"{dev.device}: running {self.name}")
        ms = ctypes.c_float()
        drv.check(drv.cuEventElapsedTime(ctypes.byref(ms), start, end), "cuEventElapsedTime")
        return ms.value / 1e3

    def __del__(self) -> None:
        if getattr(self, "module", None) is not None and self.module.value:
            try:
                self.dev.activate()
                self.dev.drv.cuModuleUnload(self.module)
            except Exception:  # interpreter shutdown or a dead context: nothing left to release
                pass
