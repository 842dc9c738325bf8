"""tinygrad-numpydev: an example out-of-tree backend. The NPY device renders kernels to Python functions of
numpy vector operations, compiles them to bytecode, and runs them on numpy-array buffers.

Registered through the `tinygrad.backends` entry point `NPY = "tinygrad_numpydev"` (see pyproject.toml). This
module must stay cheap to import: it only declares the device; the device is built when first selected.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tinygrad.plugins import DeviceSpec, hookimpl

if TYPE_CHECKING:
    from tinygrad.device import Compiled

__version__ = "0.1.0"
# the tinygrad core plugin API versions (min, max) this package works with; core skips it, with a warning, outside
TINYGRAD_CORE_API = (1, 1)
# the first numpy with wheels for Python 3.11; older ones are untested
MIN_NUMPY = (1, 23)

__all__ = ["TINYGRAD_CORE_API", "probe_npy", "tinygrad_devices", "tinygrad_transfer"]


def probe_npy() -> str | None:
    """None when this numpy is new enough, else why NPY cannot run."""
    import numpy as np

    have = tuple(int(p) for p in np.__version__.split(".")[:2])
    return None if have >= MIN_NUMPY else f"needs numpy >= {'.'.join(map(str, MIN_NUMPY))}, found {np.__version__}"


def _open(device: str) -> Compiled:
    from tinygrad_numpydev.device import open_npy

    return open_npy(device)


@hookimpl
def tinygrad_devices() -> list[DeviceSpec]:
    # above PYTHON (1), below compiled backends like CPU (10): installing this never changes a CPU user's default
    desc = "numpy-vectorized Python kernels (example plugin, examples/backend-plugin)"
    return [DeviceSpec(name="NPY", open=_open, priority=5, probe=probe_npy, description=desc)]


def _npy_to_npy(dst: Any, src: Any, nbytes: int) -> None:
    from tinygrad.device import Device

    src_dev, dst_dev = Device[src.device], Device[dst.device]
    dst_dev.allocator.transfer(dst.opaque, src.opaque, nbytes, src_dev, dst_dev)  # type: ignore[attr-defined]


@hookimpl
def tinygrad_transfer(src: str, dst: str) -> Callable[[Any, Any, int], None] | None:
    """Direct copies between NPY devices (NPY -> NPY:1); None for every other pair, so other plugins answer."""
    if src.split(":")[0].upper() == "NPY" and dst.split(":")[0].upper() == "NPY":
        return _npy_to_npy
    return None
