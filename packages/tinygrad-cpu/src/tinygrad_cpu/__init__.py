"""tinygrad-cpu: the CPU backend of tinygrad-core (C source, compiled by the system C compiler, run via ctypes).

Registered through the `tinygrad.backends` entry point `CPU = "tinygrad_cpu"`; this module stays cheap to import,
the device itself is built only when first selected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinygrad.plugins import DeviceSpec, hookimpl
from tinygrad_cpu.compiler import find_cc

if TYPE_CHECKING:
    from tinygrad.device import Compiled

# the range of tinygrad core plugin API versions this package works with
TINYGRAD_CORE_API = (1, 1)

__all__ = ["TINYGRAD_CORE_API", "probe_cpu", "tinygrad_devices"]


def probe_cpu() -> str | None:
    """None when a C compiler is on PATH, else why the CPU device cannot run."""
    return None if find_cc() is not None else "no C compiler on PATH (looked for clang, gcc, cc); install gcc or clang"


def _open(device: str) -> Compiled:
    from tinygrad_cpu.device import open_cpu

    return open_cpu(device)


@hookimpl
def tinygrad_devices() -> list[DeviceSpec]:
    desc = "C kernels compiled by the system C compiler, run on the host"
    return [DeviceSpec(name="CPU", open=_open, priority=10, probe=probe_cpu, description=desc)]
