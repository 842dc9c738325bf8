"""Registers core's own devices through the same hook as any third-party backend."""

from __future__ import annotations

from tinygrad.plugins import DeviceSpec, hookimpl

TINYGRAD_CORE_API = (1, 1)


def _open_python(device: str):  # type: ignore[no-untyped-def]
    from tinygrad.runtime.ops_python import open_python

    return open_python(device)


def _open_null(device: str):  # type: ignore[no-untyped-def]
    from tinygrad.runtime.ops_null import open_null

    return open_null(device)


def _open_disk(device: str):  # type: ignore[no-untyped-def]
    from tinygrad.runtime.ops_disk import open_disk

    return open_disk(device)


@hookimpl
def tinygrad_devices() -> list[DeviceSpec]:
    return [
        # lowest useful priority: always works, but slow, so any compiled backend is preferred as default
        DeviceSpec("PYTHON", _open_python, priority=1, description="reference interpreter of the UOp IR"),
        DeviceSpec("NULL", _open_null, priority=-100, description="renders kernels, runs nothing"),
        # storage only (a memory-mapped file per device string): never the default
        DeviceSpec("DISK", _open_disk, priority=-100, description="tensors in a memory-mapped file, no compute"),
    ]
