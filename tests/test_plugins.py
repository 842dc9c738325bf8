"""The plugin contract: entry-point discovery from real distribution metadata, failure reporting, selection."""

from __future__ import annotations

import importlib.util
import inspect
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tinygrad import hookspecs, plugins
from tinygrad.device import Compiled, Device
from tinygrad.errors import DeviceError
from tinygrad.plugins import PluginRegistry, reset_registry

GOOD = """
from tinygrad.device import Compiled, Compiler, HostAllocator, Program
from tinygrad.plugins import DeviceSpec, hookimpl
from tinygrad.renderer.cstyle import CStyleRenderer

TINYGRAD_CORE_API = (1, 1)


class FakeRenderer(CStyleRenderer):
    device = "FAKE"


def open_fake(device):
    return Compiled(device, HostAllocator(), FakeRenderer(), Compiler(), Program)


@hookimpl
def tinygrad_devices():
    return [DeviceSpec(name="FAKE", open=open_fake, priority=-5, description="a test double")]
"""

IMPORT_ERROR = """
raise ImportError("libfake.so.1: cannot open shared object file")
"""

PROBE_RAISES = """
from tinygrad.plugins import DeviceSpec, hookimpl


def probe():
    raise RuntimeError("driver exploded")


@hookimpl
def tinygrad_devices():
    return [DeviceSpec(name="BADPROBE", open=lambda d: None, priority=50, probe=probe)]
"""

FUTURE_API = """
from tinygrad.plugins import DeviceSpec, hookimpl

TINYGRAD_CORE_API = (99, 99)


@hookimpl
def tinygrad_devices():
    return [DeviceSpec(name="FUTURE", open=lambda d: None, priority=100)]
"""


@pytest.fixture
def fakedev(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A 'fakedev 0.1' distribution installed into tmp_path: real dist-info metadata and four plugin modules."""
    prefix = f"tg_fake_{uuid.uuid4().hex[:8]}"  # fresh module names: sys.modules must not answer for us
    mods = {"good": GOOD, "importerror": IMPORT_ERROR, "proberaises": PROBE_RAISES, "future": FUTURE_API}
    for mod, src in mods.items():
        (tmp_path / f"{prefix}_{mod}.py").write_text(textwrap.dedent(src))
    info = tmp_path / "fakedev-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakedev\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[tinygrad.backends]\n"
        f"FAKE = {prefix}_good\n"
        f"BROKEN = {prefix}_importerror\n"
        f"BADPROBE = {prefix}_proberaises\n"
        f"FUTURE = {prefix}_future\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("TINYGRAD_BACKENDS", raising=False)
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith(prefix)]:
        del sys.modules[name]


@pytest.fixture
def global_registry(fakedev: Path) -> Iterator[PluginRegistry]:
    """Make a registry that sees fakedev the process-wide one, and put everything back afterwards."""
    old, opened = plugins._registry, dict(Device._opened)
    reg = PluginRegistry(allow="")
    reset_registry(reg)
    yield reg
    reset_registry(old)
    Device._opened.clear()
    Device._opened.update(opened)


def by_name(reg: PluginRegistry) -> dict[str, plugins.PluginRecord]:
    return {r.name: r for r in reg.records()}


def test_discovers_plugin_from_distribution_metadata(fakedev: Path) -> None:
    reg = PluginRegistry(allow="")
    rec = by_name(reg)["FAKE"]
    assert (rec.dist, rec.version, rec.error) == ("fakedev", "0.1", None)
    assert rec.devices == ["FAKE"]
    spec, owner = reg.devices()["FAKE"]
    assert owner is rec and spec.priority == -5
    assert reg.unavailable_reason("FAKE") is None and "FAKE" in reg.available()


def test_failures_are_recorded_not_raised(fakedev: Path) -> None:
    reg = PluginRegistry(allow="")
    recs = by_name(reg)
    assert recs["BROKEN"].error is not None and "ImportError" in recs["BROKEN"].error
    assert "libfake.so.1" in recs["BROKEN"].error and recs["BROKEN"].devices == []
    assert recs["FUTURE"].error is not None and "99" in recs["FUTURE"].error
    assert "FUTURE" not in reg.devices()
    # a probe that raises makes its device unavailable, with the exception as the reason
    assert recs["BADPROBE"].error is None
    why = reg.unavailable_reason("BADPROBE")
    assert why is not None and "driver exploded" in why
    assert "BADPROBE" not in reg.available()
    # everything else still works: the built-in reference devices and any installed backend
    assert "PYTHON" in reg.available() and "FAKE" in reg.available()
    if importlib.util.find_spec("tinygrad_cpu") is not None:
        assert by_name(reg)["CPU"].error is None


def test_device_lookup_through_registry(global_registry: PluginRegistry) -> None:
    dev = Device["fake"]
    assert isinstance(dev, Compiled) and dev.device == "FAKE"
    assert Device["FAKE"] is dev  # opened once
    with pytest.raises(DeviceError) as e:
        Device["NOSUCHDEVICE"]
    msg = str(e.value)
    assert "NOSUCHDEVICE" in msg and "FAKE" in msg and "PYTHON" in msg
    with pytest.raises(DeviceError, match="driver exploded"):
        Device["BADPROBE"]


def test_allow_list_argument(fakedev: Path) -> None:
    reg = PluginRegistry(allow="fake")
    names = {r.name for r in reg.records()}
    assert "FAKE" in names and not names & {"BROKEN", "BADPROBE", "FUTURE", "CPU"}
    assert "PYTHON" in reg.devices()  # built-ins always load


def test_allow_list_from_environment(fakedev: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINYGRAD_BACKENDS", "BadProbe, future")
    names = {r.name for r in PluginRegistry().records()}
    assert {"BADPROBE", "FUTURE"} <= names and not names & {"FAKE", "BROKEN"}


def test_every_hook_is_documented() -> None:
    hooks = {n: f for n, f in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(f, "tinygrad_spec")}
    assert hooks, "hookspecs declares no hooks"
    for name, fn in hooks.items():
        assert name.startswith("tinygrad_"), f"hook {name} lacks the tinygrad_ prefix"
        doc = inspect.getdoc(fn) or ""
        assert len(doc.split()) >= 5, f"hook {name} has no real docstring"
        # the calling convention is declared at the spec and stated in the docs
        first = fn.tinygrad_spec.get("firstresult", False)
        assert ("first-result" in doc.lower()) == first, f"hook {name}: docstring must say its calling convention"
        assert first or "collect-all" in doc.lower(), f"hook {name}: docstring must say its calling convention"


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in ("DEV", "TINYGRAD_BACKENDS")}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "tinygrad", *args], capture_output=True, text=True, env=full_env, timeout=300
    )


def test_doctor_reports_devices() -> None:
    proc = run_cli("doctor")
    assert proc.returncode == 0, proc.stderr
    assert "PYTHON" in proc.stdout and "tinygrad-core" in proc.stdout
    if importlib.util.find_spec("tinygrad_cpu") is not None:
        assert "CPU" in proc.stdout
    assert "*" in proc.stdout  # the default device is marked


def test_doctor_survives_broken_plugins(fakedev: Path) -> None:
    pythonpath = os.pathsep.join(p for p in (str(fakedev), os.environ.get("PYTHONPATH")) if p)
    proc = run_cli("doctor", PYTHONPATH=pythonpath)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "fakedev 0.1" in out and "libfake.so.1" in out and "driver exploded" in out and "99" in out
    assert "FAKE" in out and "PYTHON" in out


def test_doctor_reports_bad_dev_without_crashing() -> None:
    proc = run_cli("doctor", DEV="NOSUCHDEVICE")
    assert proc.returncode == 0, proc.stderr
    assert "NOSUCHDEVICE" in proc.stdout and "PYTHON" in proc.stdout


def test_cli_without_command_prints_usage() -> None:
    proc = run_cli()
    assert proc.returncode == 0 and "usage" in proc.stdout.lower() and "doctor" in proc.stdout
