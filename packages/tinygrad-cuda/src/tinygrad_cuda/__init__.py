"""tinygrad-cuda: the CUDA backend of tinygrad-core (CUDA C++ source, compiled by NVRTC, run by the driver API).

Registered through the `tinygrad.backends` entry point `CUDA = "tinygrad_cuda"`. Importing this module loads
no CUDA library: the probe looks for the driver and a GPU only when asked, and never raises.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tinygrad.plugins import DeviceSpec, hookimpl

if TYPE_CHECKING:
    from tinygrad.device import Compiled

# the range of tinygrad core plugin API versions this package works with
TINYGRAD_CORE_API = (1, 1)

__all__ = ["TINYGRAD_CORE_API", "probe_cuda", "tinygrad_devices", "tinygrad_transfer"]


def probe_cuda() -> str | None:
    """None when a CUDA GPU, its driver and NVRTC are all usable here, else why not. Never raises."""
    try:
        from tinygrad_cuda.compiler import find_nvrtc
        from tinygrad_cuda.device import device_count
        from tinygrad_cuda.libcuda import driver

        driver()  # loads libcuda.so.1 and runs cuInit: fails without a driver or without any GPU
        if device_count() == 0:
            return "the CUDA driver sees no GPU"
        if find_nvrtc() is None:
            return "NVRTC not found: pip install nvidia-cuda-nvrtc (or set CUDA_PATH to a CUDA toolkit)"
        return None
    except Exception as e:
        return str(e) or type(e).__name__


def _open(device: str) -> Compiled:
    from tinygrad_cuda.device import open_cuda

    return open_cuda(device)


@hookimpl
def tinygrad_devices() -> list[DeviceSpec]:
    desc = "CUDA C++ kernels compiled by NVRTC, run on an NVIDIA GPU through the driver API"
    # above CPU (10): when a GPU is here it is the default
    return [DeviceSpec(name="CUDA", open=_open, priority=20, probe=probe_cuda, description=desc)]


def _copy_between_gpus(dst: Any, src: Any, nbytes: int) -> None:
    from tinygrad.device import Device

    src_dev, dst_dev = Device[src.device], Device[dst.device]
    dst_dev.allocator.transfer(dst.opaque, src.opaque, nbytes, src_dev, dst_dev)  # type: ignore[attr-defined]


@hookimpl
def tinygrad_transfer(src: str, dst: str) -> Callable[[Any, Any, int], None] | None:
    """Direct copies between CUDA devices (one GPU's memory, or peer to peer); None for any other pair."""
    if src.split(":")[0].upper() == "CUDA" and dst.split(":")[0].upper() == "CUDA":
        return _copy_between_gpus
    return None
