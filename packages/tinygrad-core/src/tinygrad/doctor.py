"""`python -m tinygrad doctor`: what this installation can run, and why not where it can't.

Prints the core version, the Python, every plugin the registry found (with the distribution it came from and
any load error) and every device (priority, availability or the reason, and the opened device's description).
It reports and never raises: each step that can fail is caught and its error printed in place.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
import traceback
from typing import Any, TextIO


def _version(dist: str | None) -> str | None:
    if dist is None:
        return None
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _err(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}".replace("\n", "\n      ")


def doctor(out: TextIO | None = None, verbose: bool = False) -> int:
    """Print the report to `out` (stdout by default); returns the process exit code, always 0."""
    f = out or sys.stdout

    def say(*parts: object) -> None:
        print(*parts, file=f)

    from tinygrad.hookspecs import CORE_API_VERSION

    core = _version("tinygrad-core") or "(not installed as a distribution)"
    say(f"tinygrad-core {core}, plugin API {CORE_API_VERSION}")
    say(f"python {platform.python_version()} ({sys.executable}) on {platform.system()} {platform.machine()}")
    for var in ("DEV", "TINYGRAD_BACKENDS"):
        if os.environ.get(var):
            say(f"{var}={os.environ[var]}")

    try:
        from tinygrad.plugins import registry

        reg = registry()
        records = reg.records()
        devices = reg.devices()
    except Exception as e:
        say(f"\nplugin registry failed to load: {_err(e)}")
        if verbose:
            say(traceback.format_exc())
        return 0

    say("\nplugins:")
    if not records:
        say("  none found")
    for rec in records:
        version = rec.version or _version(rec.dist)
        origin = f"{rec.dist or '(no distribution)'} {version or ''}".rstrip()
        say(f"  {rec.name}: {origin}, module {rec.module}")
        if (api := getattr(rec, "core_api", None)) is not None:
            say(f"      supports core plugin API {api[0]}..{api[1]}")
        elif rec.error is None:
            say("      declares no TINYGRAD_CORE_API (loaded, but core cannot check it was built for this API)")
        if rec.devices:
            say(f"      devices: {', '.join(rec.devices)}")
        if rec.error is not None:
            say(f"      ERROR: {rec.error}")
            if verbose and (tb := getattr(rec, "traceback", None)):
                say("      " + tb.rstrip().replace("\n", "\n      "))

    default: str | None = None
    device: Any = None
    try:
        from tinygrad.device import Device

        device = Device
        default = Device.DEFAULT
    except Exception as e:
        say(f"\ndefault device: none ({_err(e)})")

    say("\ndevices (* = default):")
    if not devices:
        say("  none registered")
    for name, (spec, rec) in sorted(devices.items(), key=lambda kv: (-kv[1][0].priority, kv[0])):
        mark = "*" if default is not None and name == default.split(":")[0] else " "
        try:
            why = reg.unavailable_reason(name)
        except Exception as e:
            why = f"availability check failed: {_err(e)}"
        status = "available" if why is None else f"unavailable: {why}"
        say(f"{mark} {name}  priority {spec.priority}  from {rec.dist or rec.module}  {status}")
        if spec.description:
            say(f"      {spec.description}")
        if why is None and device is not None:
            try:
                for k, v in device[name].describe().items():
                    say(f"      {k}: {v}")
            except Exception as e:
                say(f"      ERROR opening {name}: {_err(e)}")
                if verbose:
                    say("      " + traceback.format_exc().rstrip().replace("\n", "\n      "))
        try:
            extra = reg.renderers(name)
        except Exception as e:
            say(f"      ERROR listing extra renderers: {_err(e)}")
            extra = []
        for r in extra:
            say(f"      extra renderer: {name}:{r.name}")
    return 0
