"""The backend plugin contract: every hook a backend distribution may implement.

A backend package lists a module in the `tinygrad.backends` entry-point group of its pyproject:

    [project.entry-points."tinygrad.backends"]
    MYDEV = "my_backend"

and that module carries implementations marked with `tinygrad.plugins.hookimpl`. Core's own reference
devices (PYTHON, NULL) register through these same hooks. The stubs below are the documentation: each says
when it is called, what it returns, and how results from several plugins combine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from tinygrad.plugins import DeviceSpec, RendererSpec

hookspec = pluggy.HookspecMarker("tinygrad")

# the core version range a plugin may declare compatibility with is checked against this
CORE_API_VERSION = 1


@hookspec
def tinygrad_devices() -> list[DeviceSpec]:
    """The devices this plugin provides.

    Collect-all: called once per process, lazily, the first time `Device` is used; every plugin's list is
    concatenated. Must be cheap and must not touch hardware: availability is decided later by each
    `DeviceSpec.probe`, and the device itself is opened only when first selected.
    """


@hookspec
def tinygrad_renderers(device: str) -> list[RendererSpec]:
    """Extra renderer/compiler pairs this plugin offers for `device` (the base name, e.g. "CPU").

    Collect-all: a third party can add `DEV=CPU:MYRENDERER` without touching the package that owns the device.
    Return an empty list for devices you don't extend.
    """


@hookspec(firstresult=True)
def tinygrad_transfer(src: str, dst: str) -> object | None:
    """A direct copy function between two devices, or None if this plugin has none.

    First-result: the first plugin that returns a callable `(dst_buf, src_buf, nbytes) -> None` wins; without
    one, core copies through host memory.
    """
