"""Plugin discovery: the pluggy manager over the `tinygrad.backends` entry-point group.

Discovery is lazy and never raises: a plugin that fails to import, register, or declare a compatible core
version is recorded with the reason, and `python -m tinygrad doctor` prints it.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pluggy

from tinygrad import hookspecs
from tinygrad.errors import PluginError

if TYPE_CHECKING:
    from tinygrad.device import Compiled

hookimpl = pluggy.HookimplMarker("tinygrad")
ENTRY_POINT_GROUP = "tinygrad.backends"


@dataclass(frozen=True)
class DeviceSpec:
    """What a plugin says about one device kind.

    open(device_string) builds the device (e.g. "CPU" or "CPU:1"); probe() returns None when the device can
    run here, else a short reason why not (it may also raise; the exception text becomes the reason).
    The highest-priority available device is the default.
    """

    name: str
    open: Callable[[str], Compiled]
    priority: int = 0
    probe: Callable[[], str | None] | None = None
    description: str = ""


@dataclass(frozen=True)
class RendererSpec:
    """An alternative renderer+compiler for a device, selected with DEV=DEVICE:NAME."""

    device: str
    name: str
    renderer: Callable[[], Any]
    compiler: Callable[[], Any]


@dataclass
class PluginRecord:
    """One discovered plugin and what happened when loading it."""

    name: str
    module: str
    dist: str | None = None
    version: str | None = None
    error: str | None = None
    traceback: str | None = None
    devices: list[str] = field(default_factory=list)
    # the (min, max) TINYGRAD_CORE_API the plugin declares; None if it declares none (or failed to import)
    core_api: tuple[int, int] | None = None


class PluginCompatibilityWarning(UserWarning):
    """A backend plugin declares a TINYGRAD_CORE_API range that excludes this core: it is skipped, not loaded."""


def _declared_core_api(module: Any) -> tuple[int, int] | None:
    """A plugin's TINYGRAD_CORE_API as (min, max); None when it declares none. An int N means (N, N)."""
    want = getattr(module, "TINYGRAD_CORE_API", None)
    if want is None:
        return None
    if isinstance(want, int) and not isinstance(want, bool):
        return (want, want)
    if isinstance(want, (tuple, list)) and len(want) == 2 and all(type(v) is int for v in want):
        return (want[0], want[1])
    raise PluginError(f"TINYGRAD_CORE_API must be an int or a (min, max) tuple of ints, got {want!r}")


def _core_compatible(module: Any) -> str | None:
    """A plugin may declare TINYGRAD_CORE_API = (min, max); return a reason if this core is outside it."""
    want = _declared_core_api(module)
    if want is None:
        return None
    lo, hi = want
    if not lo <= hookspecs.CORE_API_VERSION <= hi:
        return f"needs tinygrad core plugin API {lo}..{hi}, this core has {hookspecs.CORE_API_VERSION}"
    return None


class PluginRegistry:
    """Loads plugins (built-in reference devices + entry points) and answers which devices exist."""

    def __init__(
        self,
        group: str = ENTRY_POINT_GROUP,
        builtins: tuple[str, ...] = ("tinygrad.runtime.reference",),
        allow: str | None = None,
    ) -> None:
        self.group, self.builtins = group, builtins
        # TINYGRAD_BACKENDS=CPU,PYTHON restricts which entry points load (built-ins always load)
        allow = os.environ.get("TINYGRAD_BACKENDS") if allow is None else allow
        self.allow = {a.strip().upper() for a in allow.split(",") if a.strip()} if allow else None
        self.pm = pluggy.PluginManager("tinygrad")
        self.pm.add_hookspecs(hookspecs)
        if os.environ.get("TINYGRAD_TRACE_HOOKS"):
            self.pm.trace.root.setwriter(print)
            self.pm.enable_tracing()
        self._records: list[PluginRecord] = []
        self._devices: dict[str, tuple[DeviceSpec, PluginRecord]] = {}
        self._probes: dict[str, str | None] = {}
        self._loaded = False

    def _register(self, module: Any, rec: PluginRecord) -> None:
        rec.core_api = _declared_core_api(module)
        if (why := _core_compatible(module)) is not None:
            rec.error = why
            # skipped, not fatal: the user sees it now and in `python -m tinygrad doctor`
            warnings.warn(f"tinygrad: skipping backend plugin {rec.name} ({rec.dist or rec.module}): {why}; "
                          "install a version of it made for this tinygrad-core", PluginCompatibilityWarning,
                          stacklevel=2)  # fmt: skip
            return
        if self.pm.has_plugin(rec.name):
            other = next(r for r in self._records if r.name == rec.name and r is not rec)
            rec.error = f"entry point name {rec.name!r} is already taken by {other.dist or other.module}; rename one"
            return
        self.pm.register(module, name=rec.name)
        # call only this plugin's implementation (pluggy validated its signature at register) so each device
        # is attributed to the plugin that declared it; through a hook caller, so TINYGRAD_TRACE_HOOKS shows it
        others = [p for p in self.pm.get_plugins() if p is not module]
        got: list[DeviceSpec] = []
        for specs in self.pm.subset_hook_caller("tinygrad_devices", others)():
            got.extend(specs or [])
        for spec in got:
            if not isinstance(spec, DeviceSpec):
                raise TypeError(f"tinygrad_devices() returned {type(spec).__name__}, expected DeviceSpec")
        for spec in got:
            name = spec.name.upper()
            if name in self._devices:
                old_spec, old_rec = self._devices[name]
                # same name twice: the higher priority wins, and the loser's record says why
                if old_spec.priority >= spec.priority:
                    rec.error = f"device {name} is already provided by {old_rec.dist or old_rec.module} (priority " \
                                f"{old_spec.priority} >= {spec.priority})"  # fmt: skip
                    continue
                old_rec.devices.remove(name)
                old_rec.error = f"device {name} is overridden by {rec.dist or rec.module} (higher priority)"
            self._devices[name] = (spec, rec)
            rec.devices.append(name)

    def load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for modname in self.builtins:
            rec = PluginRecord(name=modname.rsplit(".", 1)[-1], module=modname, dist="tinygrad-core",
                               version=_core_version())  # fmt: skip
            self._records.append(rec)
            try:
                self._register(importlib.import_module(modname), rec)
            except Exception as e:  # a broken built-in is reported like any plugin, never fatal
                rec.error = f"{type(e).__name__}: {e}"
                rec.traceback = traceback.format_exc()
        for ep in importlib.metadata.entry_points(group=self.group):
            if self.allow is not None and ep.name.upper() not in self.allow:
                continue
            dist = getattr(ep, "dist", None)
            rec = PluginRecord(
                name=ep.name,
                module=ep.value,
                dist=dist.metadata["Name"] if dist is not None else None,
                version=dist.version if dist is not None else None,
            )
            self._records.append(rec)
            try:
                self._register(ep.load(), rec)
            except Exception as e:
                rec.error = f"{type(e).__name__}: {e}"
                rec.traceback = traceback.format_exc()
                if self.pm.has_plugin(rec.name):
                    self.pm.unregister(name=rec.name)

    def records(self) -> list[PluginRecord]:
        self.load()
        return list(self._records)

    def devices(self) -> dict[str, tuple[DeviceSpec, PluginRecord]]:
        self.load()
        return dict(self._devices)

    def unavailable_reason(self, name: str) -> str | None:
        """None if device `name` can run here, else why not (probes run once and are cached)."""
        devs = self.devices()
        if name not in devs:
            return "no plugin provides it"
        if name not in self._probes:
            spec = devs[name][0]
            try:
                self._probes[name] = spec.probe() if spec.probe is not None else None
            except Exception as e:
                self._probes[name] = f"probe raised {type(e).__name__}: {e}"
        return self._probes[name]

    def available(self) -> list[str]:
        """Available device names, highest priority first."""
        devs = self.devices()
        ok = [n for n in devs if self.unavailable_reason(n) is None]
        return sorted(ok, key=lambda n: -devs[n][0].priority)

    def renderers(self, device: str) -> list[RendererSpec]:
        self.load()
        return [r for rs in self.pm.hook.tinygrad_renderers(device=device) for r in rs]

    def transfer(self, src: str, dst: str) -> Any:
        self.load()
        return self.pm.hook.tinygrad_transfer(src=src, dst=dst)


_registry: PluginRegistry | None = None


def registry() -> PluginRegistry:
    """The process-wide registry, created on first use."""
    global _registry
    if _registry is None:
        _registry = PluginRegistry()
    return _registry


def reset_registry(reg: PluginRegistry | None = None) -> None:
    """Swap the process-wide registry (tests use this to load plugins from a temporary sys.path); devices
    opened through the old one are forgotten."""
    global _registry
    _registry = reg
    from tinygrad.device import Device

    Device.reset()


def _core_version() -> str | None:
    try:
        return importlib.metadata.version("tinygrad-core")
    except importlib.metadata.PackageNotFoundError:
        return None
