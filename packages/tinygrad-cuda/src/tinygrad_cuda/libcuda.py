"""The CUDA driver API (libcuda.so.1) through ctypes: the prototypes this backend uses, and error checking.

Only the driver API is used (no libcudart): it ships with the NVIDIA driver itself, so a machine with a GPU
needs nothing else installed to run kernels. LIBCUDA_PATH overrides which library is loaded.
"""

from __future__ import annotations

import ctypes
import functools
import os
from collections.abc import Callable
from typing import Any

from tinygrad.errors import DeviceError

# CUresult values this backend reacts to
CUDA_SUCCESS = 0
CUDA_ERROR_OUT_OF_MEMORY = 2
CUDA_ERROR_NO_DEVICE = 100
# CUdevice_attribute
ATTR_MAX_THREADS_PER_BLOCK = 1
ATTR_MULTIPROCESSOR_COUNT = 16
ATTR_COMPUTE_CAPABILITY_MAJOR = 75
ATTR_COMPUTE_CAPABILITY_MINOR = 76
# CUjit_option: where cuModuleLoadDataEx writes the JIT's error log
JIT_ERROR_LOG_BUFFER = 5
JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6
STREAM_NON_BLOCKING = 1  # no implicit synchronization with the legacy default stream
MEMHOSTALLOC_PORTABLE = 1  # pinned for every context, so one staging buffer serves any device
CTX_PEER_ACCESS_ALREADY_ENABLED = 704

_p, _i, _u, _sz, _u64 = ctypes.c_void_p, ctypes.c_int, ctypes.c_uint, ctypes.c_size_t, ctypes.c_uint64
_P = ctypes.POINTER

# function -> argument types; a tuple key lists the exported names to try, newest ABI first
PROTOTYPES: dict[str | tuple[str, ...], list[Any]] = {
    "cuInit": [_u],
    "cuDriverGetVersion": [_P(_i)],
    "cuGetErrorName": [_i, _P(ctypes.c_char_p)],
    "cuGetErrorString": [_i, _P(ctypes.c_char_p)],
    "cuDeviceGetCount": [_P(_i)],
    "cuDeviceGet": [_P(_i), _i],
    "cuDeviceGetName": [ctypes.c_char_p, _i, _i],
    "cuDeviceGetAttribute": [_P(_i), _i, _i],
    "cuDeviceTotalMem_v2": [_P(_sz), _i],
    "cuDeviceCanAccessPeer": [_P(_i), _i, _i],
    "cuDevicePrimaryCtxRetain": [_P(_p), _i],
    "cuCtxSetCurrent": [_p],
    "cuCtxEnablePeerAccess": [_p, _u],
    "cuStreamCreate": [_P(_p), _u],
    "cuStreamSynchronize": [_p],
    "cuMemAlloc_v2": [_P(_u64), _sz],
    "cuMemFree_v2": [_u64],
    "cuMemGetInfo_v2": [_P(_sz), _P(_sz)],
    "cuMemHostAlloc": [_P(_p), _sz, _u],
    "cuMemFreeHost": [_p],
    "cuMemcpyHtoDAsync_v2": [_u64, _p, _sz, _p],
    "cuMemcpyDtoHAsync_v2": [_p, _u64, _sz, _p],
    "cuMemcpyDtoDAsync_v2": [_u64, _u64, _sz, _p],
    "cuMemcpyPeerAsync": [_u64, _p, _u64, _p, _sz, _p],
    "cuModuleLoadDataEx": [_P(_p), _p, _u, _P(_i), _P(_p)],
    "cuModuleGetFunction": [_P(_p), _p, ctypes.c_char_p],
    "cuModuleUnload": [_p],
    "cuLaunchKernel": [_p, _u, _u, _u, _u, _u, _u, _u, _p, _P(_p), _P(_p)],
    "cuEventCreate": [_P(_p), _u],
    "cuEventRecord": [_p, _p],
    "cuEventSynchronize": [_p],
    ("cuEventElapsedTime", "cuEventElapsedTime_v2"): [_P(ctypes.c_float), _p, _p],
    "cuEventDestroy_v2": [_p],
}


class CUDAError(DeviceError):
    """A CUDA driver call failed; `status` is its CUresult."""

    def __init__(self, msg: str, status: int = -1) -> None:
        super().__init__(msg)
        self.status = status


class Driver:
    """libcuda with prototypes set; calls by the API's documented name (e.g. `drv.cuMemAlloc_v2`)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lib = ctypes.CDLL(path)
        for names, args in PROTOTYPES.items():
            names = (names,) if isinstance(names, str) else names
            fn = next((f for n in names if (f := getattr(self.lib, n, None)) is not None), None)
            if fn is not None:  # an older driver may lack one: calling it then says which symbol is missing
                fn.argtypes, fn.restype = args, ctypes.c_int
                setattr(self, names[0], fn)

    def __getattr__(self, name: str) -> Callable[..., int]:
        # only reached for names __init__ did not set
        if name.startswith("cu"):
            raise CUDAError(f"the CUDA driver {self.path} has no {name}; update the NVIDIA driver")
        raise AttributeError(name)

    def error_name(self, status: int) -> str:
        """The driver's name and description of a CUresult, e.g. CUDA_ERROR_OUT_OF_MEMORY (out of memory) for 2."""
        name, desc = ctypes.c_char_p(), ctypes.c_char_p()
        if "cuGetErrorName" not in vars(self) or self.cuGetErrorName(status, ctypes.byref(name)) != 0 or not name.value:
            return f"CUresult {status}"
        text = name.value.decode()
        if self.cuGetErrorString(status, ctypes.byref(desc)) == 0 and desc.value:
            text += f" ({desc.value.decode()})"
        return text

    def check(self, status: int, what: str) -> None:
        """Raise CUDAError naming the call and the driver's error when status is not CUDA_SUCCESS."""
        if status != CUDA_SUCCESS:
            raise CUDAError(f"{what} failed: {self.error_name(status)}", status)


def libcuda_path() -> str:
    return os.environ.get("LIBCUDA_PATH") or "libcuda.so.1"


@functools.cache
def driver() -> Driver:
    """The process-wide driver, initialized (cuInit) once. Raises CUDAError (a DeviceError) when unusable."""
    path = libcuda_path()
    try:
        drv = Driver(path)
    except OSError as e:
        raise CUDAError(f"cannot load the CUDA driver library {path} ({e}); is the NVIDIA driver installed?") from e
    drv.check(drv.cuInit(0), "cuInit")
    return drv
