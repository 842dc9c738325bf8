"""The plugin ecosystem: the conformance suite on the DEV device, the suite's own oracles and tools, the
backend author's guide covering every hook, broken and incompatible plugins, hook tracing and the allow-list,
and the example plugin installed with pip and run in a fresh process."""

from __future__ import annotations

import importlib.util
import inspect
import os
import re
import subprocess
import sys
import textwrap
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tinygrad import Device, Tensor, dtypes, hookspecs, plugins
from tinygrad.device import Allocator, Compiled, Compiler, Program
from tinygrad.errors import DeviceError
from tinygrad.plugins import PluginCompatibilityWarning, PluginRegistry, reset_registry
from tinygrad.renderer import Renderer
from tinygrad.testing import data
from tinygrad.testing.conformance import conformance_tests

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "backend-plugin"
DOCS = REPO / "docs" / "backends.md"

# ---- the conformance suite, on whichever device DEV selects ----

# known core bugs per device (none open right now; entries are strict xfails)
KNOWN_FAILURES: dict[str, dict[str, str]] = {}

globals().update(conformance_tests(None, known_failures=KNOWN_FAILURES.get(Device.DEFAULT.split(":")[0], {})))


# ---- the docs cover the whole contract ----


def _hooks() -> dict[str, object]:
    return {n: f for n, f in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(f, "tinygrad_spec")}


def _signature(fn: object) -> str:
    """`name(arg: type, ...) -> ret` with the annotations as written in hookspecs.py."""
    sig = inspect.signature(fn)  # type: ignore[arg-type]
    params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    return f"{fn.__name__}({params}) -> {sig.return_annotation}"  # type: ignore[attr-defined]


def test_every_hook_is_documented_in_backends_md() -> None:
    doc = DOCS.read_text()
    hooks = _hooks()
    assert hooks, "hookspecs declares no hooks"
    for name, fn in hooks.items():
        sig = _signature(fn)
        assert f"### `{sig}`" in doc, f"docs/backends.md needs a section headed with the exact signature `{sig}`"
        section = doc.split(f"### `{sig}`", 1)[1].split("\n#", 1)[0]
        first = fn.tinygrad_spec.get("firstresult", False)  # type: ignore[attr-defined]
        convention = "**First-result.**" if first else "**Collect-all.**"
        assert convention in section, f"docs/backends.md, {name}: must state its calling convention {convention}"


def test_every_role_member_and_capability_flag_is_documented() -> None:
    doc = DOCS.read_text()
    flags = [k for k, v in vars(Renderer).items() if not k.startswith("_") and not callable(v)]
    assert {"has_global_ids", "has_local", "global_max", "local_max", "supported_dtypes"} <= set(flags)
    for flag in flags:
        assert f"| `{flag}` |" in doc, f"capability flag {flag} missing from the table in docs/backends.md"
    members = {
        Allocator: ["alloc", "free", "copyin", "copyout", "as_memoryview"],
        Compiler: ["cachekey", "compile", "compile_cached", "disassemble"],
        Compiled: ["synchronize", "describe"],
    }
    for cls, names in members.items():
        for n in names:
            assert hasattr(cls, n), f"{cls.__name__}.{n} no longer exists: update the test and the docs"
            assert re.search(rf"`{n}[(:`]", doc), f"{cls.__name__}.{n} is not documented in docs/backends.md"
    assert "Program.__call__(*bufs: Any, global_size" in doc and callable(Program.__call__)
    for role in ("### Allocator", "### Renderer", "### Compiler", "### Program", "### Graph"):
        assert role in doc
    assert "TINYGRAD_CORE_API" in doc and '"tinygrad.backends"' in doc


# ---- the suite's own oracles and tools ----


@pytest.mark.parametrize("dt", [dtypes.bfloat16, dtypes.fp8e4m3, dtypes.fp8e5m2], ids=lambda d: d.name)
def test_emulated_format_oracle_matches_torch(rng: np.random.Generator, dt: object) -> None:
    torch = pytest.importorskip("torch")
    tdt = {dtypes.bfloat16: torch.bfloat16, dtypes.fp8e4m3: torch.float8_e4m3fn, dtypes.fp8e5m2: torch.float8_e5m2}
    limit = {dtypes.bfloat16: 1e30, dtypes.fp8e4m3: 448.0, dtypes.fp8e5m2: 57344.0}[dt]  # type: ignore[index]
    x = (rng.standard_normal(20000) * rng.choice([1e-4, 1e-2, 1, 30, 300], 20000)).astype(np.float32)
    x = np.concatenate([np.clip(x, -limit, limit), np.float32([0.0, -0.0, limit, -limit])])
    want = torch.tensor(x).to(tdt[dt]).view(torch.uint16 if dt.itemsize == 2 else torch.uint8)  # type: ignore[attr-defined]
    np.testing.assert_array_equal(data.encode(dt, x), want.numpy())  # type: ignore[arg-type]
    bits = np.arange(1 << (8 * dt.itemsize), dtype=np.uint32).astype(data.storage_np(dt))  # type: ignore[attr-defined, arg-type]
    ref = torch.tensor(bits.astype(np.int64)).to(torch.uint16 if dt.itemsize == 2 else torch.uint8)  # type: ignore[attr-defined]
    np.testing.assert_array_equal(data.decode(dt, bits), ref.view(tdt[dt]).float().numpy())  # type: ignore[arg-type]


def test_data_helpers(rng: np.random.Generator) -> None:
    x = data.full_range(rng, dtypes.int8, (50,))
    assert x.dtype == np.int8 and x[:4].tolist() == [-128, 127, -127, 126]
    assert data.wrap(np.array([128, -129, 300], dtype=object), dtypes.int8).tolist() == [-128, 127, 44]
    assert data.wrap(np.array([2**64 + 5], dtype=object), dtypes.uint64).tolist() == [5]
    b = data.random_bits(rng, dtypes.float32, 20)
    assert b.dtype == np.float32 and b[:2].view(np.uint32).tolist() == [0x7FC00001, 0xFFC00000]
    v = data.random_values(rng, dtypes.bfloat16, (100,), -3, 3)
    assert v.dtype == np.float32 and np.array_equal(data.round_to(dtypes.bfloat16, v), v) and np.abs(v).max() <= 3
    assert data.round_to(dtypes.fp8e4m3, np.float32([100.0, 104.0, -0.0009, 0.0015])).tolist() == [
        96.0,
        104.0,
        -0.0,
        2**-9,
    ]


def test_conformance_tests_factory() -> None:
    classes = conformance_tests("cpu:1", known_failures={"test_x*": "why"})
    assert sorted(classes) == [
        f"Test{r}_CPU_1" for r in ("Allocator", "Compiler", "Device", "Jit", "Kernels", "Renderer")
    ]
    for name, cls in classes.items():
        assert cls.__name__ == name and cls.device == "cpu:1" and cls.known_failures == {"test_x*": "why"}
        assert any(k.startswith("test_") for k in dir(cls))
    assert set(conformance_tests()) == {"TestAllocator", "TestCompiler", "TestDevice", "TestJit", "TestKernels",
                                        "TestRenderer"}  # fmt: skip


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DEV", "TINYGRAD_BACKENDS", "TINYGRAD_TRACE_HOOKS")}
    env.update(extra)
    return env


def _run(args: list[str], timeout: int = 120, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, env=_env(**env), timeout=timeout, cwd=REPO)


def test_cli_runs_the_suite_and_known_failures_are_strict() -> None:
    proc = _run([sys.executable, "-m", "tinygrad.testing.conformance", "PYTHON", "-q", "-k", "TestDevice"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"\b5 passed\b", proc.stdout), proc.stdout
    usage = _run([sys.executable, "-m", "tinygrad.testing.conformance"])
    assert usage.returncode == 2 and "DEVICE" in usage.stdout
    unknown = _run([sys.executable, "-m", "tinygrad.testing.conformance", "NOSUCHDEV", "-q", "-k", "test_roles"])
    assert unknown.returncode == 1 and "not provided by any installed plugin" in unknown.stdout


def test_known_failure_that_passes_is_reported(tmp_path: Path) -> None:
    """known_failures are strict: a test listed there that passes fails the run (XPASS(strict))."""
    mod = tmp_path / "test_known.py"
    mod.write_text(
        "from tinygrad.testing.conformance import conformance_tests\n"
        "globals().update(conformance_tests('PYTHON', known_failures={'test_roles': 'pretend bug'}))\n"
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    args = [sys.executable, "-m", "pytest", str(mod), "-q", "-p", "no:cacheprovider", "-k", "test_roles or test_describe",
            "-c", str(tmp_path / "pytest.ini"), "--rootdir", str(tmp_path)]  # fmt: skip
    proc = _run(args)
    assert proc.returncode == 1 and "1 failed, 1 passed" in proc.stdout and "XPASS(strict)" in proc.stdout, proc.stdout


# ---- broken and incompatible plugins ----

GOOD = """
from tinygrad.device import Compiled, Compiler, HostAllocator, Program
from tinygrad.plugins import DeviceSpec, hookimpl
from tinygrad.renderer.cstyle import CStyleRenderer

TINYGRAD_CORE_API = (1, 1)


def open_ok(device):
    return Compiled(device, HostAllocator(), CStyleRenderer(), Compiler(), Program)


@hookimpl
def tinygrad_devices():
    return [DeviceSpec(name="OKDEV", open=open_ok, priority=-5, description="loads fine")]
"""

BROKEN = {
    # module name suffix -> source
    "importerror": 'raise ImportError("libmissing.so.3: cannot open shared object file")\n',
    "proberaises": """
from tinygrad.plugins import DeviceSpec, hookimpl

TINYGRAD_CORE_API = 1


def probe():
    raise OSError("firmware handshake timed out")


@hookimpl
def tinygrad_devices():
    return [DeviceSpec(name="PROBEFAIL", open=lambda d: None, priority=50, probe=probe)]
""",
    "oldcore": """
from tinygrad.plugins import DeviceSpec, hookimpl

TINYGRAD_CORE_API = (0, 0)


@hookimpl
def tinygrad_devices():
    return [DeviceSpec(name="OLDCORE", open=lambda d: None, priority=100)]
""",
    "badapi": """
from tinygrad.plugins import DeviceSpec, hookimpl

TINYGRAD_CORE_API = "1.0"


@hookimpl
def tinygrad_devices():
    return [DeviceSpec(name="BADAPI", open=lambda d: None)]
""",
    "hookraises": """
from tinygrad.plugins import hookimpl

TINYGRAD_CORE_API = (1, 2)


@hookimpl
def tinygrad_devices():
    raise RuntimeError("device table corrupted")
""",
    "wrongtype": """
from tinygrad.plugins import hookimpl

TINYGRAD_CORE_API = (1, 1)


@hookimpl
def tinygrad_devices():
    return [{"name": "DICTDEV"}]
""",
    "openraises": """
from tinygrad.plugins import DeviceSpec, hookimpl


def open_fails(device):
    raise RuntimeError("no free contexts on the card")


@hookimpl
def tinygrad_devices():
    return [DeviceSpec(name="OPENFAIL", open=open_fails, priority=-10)]
""",
}
ENTRY_NAMES = {"importerror": "IMPORTERR", "proberaises": "PROBEFAIL", "oldcore": "OLDCORE", "badapi": "BADAPI",
               "hookraises": "HOOKRAISES", "wrongtype": "WRONGTYPE", "openraises": "OPENFAIL"}  # fmt: skip


def _make_dist(folder: Path, dist: str, version: str, plugins: dict[str, str]) -> str:
    """Install a distribution `dist` into folder: one module per entry point (fresh module names, so sys.modules
    never answers for an earlier test) and real dist-info metadata. Returns the module name prefix."""
    prefix = f"tg_{dist}_{uuid.uuid4().hex[:8]}"
    lines = []
    for entry, src in plugins.items():
        (folder / f"{prefix}_{entry.lower()}.py").write_text(textwrap.dedent(src))
        lines.append(f"{entry} = {prefix}_{entry.lower()}")
    info = folder / f"{dist}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text("[tinygrad.backends]\n" + "\n".join(lines) + "\n")
    return prefix


@pytest.fixture
def plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A 'brokendev 2.0' distribution on sys.path: one good plugin and one of each kind of broken one."""
    sources = {"OKDEV": GOOD} | {ENTRY_NAMES[mod]: src for mod, src in BROKEN.items()}
    prefix = _make_dist(tmp_path, "brokendev", "2.0", sources)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("TINYGRAD_BACKENDS", raising=False)
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith(prefix)]:
        del sys.modules[name]


def _records(reg: PluginRegistry) -> dict[str, plugins.PluginRecord]:
    return {r.name: r for r in reg.records()}


def test_each_broken_plugin_is_recorded_with_its_reason(plugin_dir: Path) -> None:
    reg = PluginRegistry(allow="")
    with pytest.warns(PluginCompatibilityWarning, match=r"OLDCORE.*needs tinygrad core plugin API 0\.\.0"):
        recs = _records(reg)
    err = {name: recs[name].error or "" for name in ENTRY_NAMES.values()}
    assert "ImportError" in err["IMPORTERR"] and "libmissing.so.3" in err["IMPORTERR"]
    assert err["PROBEFAIL"] == "" and "firmware handshake" in (reg.unavailable_reason("PROBEFAIL") or "")
    assert "needs tinygrad core plugin API 0..0, this core has 1" in err["OLDCORE"]
    assert recs["OLDCORE"].core_api == (0, 0) and recs["PROBEFAIL"].core_api == (1, 1)
    assert "PluginError" in err["BADAPI"] and "TINYGRAD_CORE_API must be an int or a (min, max)" in err["BADAPI"]
    assert "RuntimeError" in err["HOOKRAISES"] and "device table corrupted" in err["HOOKRAISES"]
    assert "TypeError" in err["WRONGTYPE"] and "expected DeviceSpec" in err["WRONGTYPE"]
    assert err["OPENFAIL"] == "" and recs["OPENFAIL"].core_api is None
    # nothing of the broken ones leaked into the device table; failed plugins are unregistered from pluggy
    devs = reg.devices()
    assert not {"OLDCORE", "BADAPI", "DICTDEV"} & set(devs) and {"OKDEV", "PROBEFAIL", "OPENFAIL"} <= set(devs)
    for name in ("IMPORTERR", "OLDCORE", "BADAPI", "HOOKRAISES", "WRONGTYPE"):
        assert not reg.pm.has_plugin(name), name
    assert "OKDEV" in reg.available() and "PYTHON" in reg.available() and "PROBEFAIL" not in reg.available()
    if importlib.util.find_spec("tinygrad_cpu") is not None:
        assert recs["CPU"].error is None and "CPU" in reg.available()


@pytest.fixture
def broken_registry(plugin_dir: Path) -> Iterator[PluginRegistry]:
    old, opened = plugins._registry, dict(Device._opened)
    reg = PluginRegistry(allow="")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginCompatibilityWarning)
        reg.load()
    reset_registry(reg)
    yield reg
    reset_registry(old)
    Device._opened.clear()
    Device._opened.update(opened)


def test_other_devices_work_beside_broken_plugins(broken_registry: PluginRegistry) -> None:
    assert (Tensor([1.0, 2.0], device="PYTHON") * 3).tolist() == [3.0, 6.0]
    assert isinstance(Device["OKDEV"], Compiled)
    with pytest.raises(DeviceError, match="firmware handshake timed out"):
        Device["PROBEFAIL"]
    with pytest.raises(DeviceError, match="OLDCORE"):  # skipped plugin: an unknown device, with the list
        Device["OLDCORE"]
    with pytest.raises(RuntimeError, match="no free contexts"):
        Device["OPENFAIL"]
    assert (Tensor([4, 5], device="PYTHON") + 1).tolist() == [5, 6]  # still fine after every failure


def test_import_and_doctor_with_broken_plugins(plugin_dir: Path) -> None:
    """A fresh process: import tinygrad and compute with every broken plugin installed; doctor explains each."""
    pythonpath = os.pathsep.join(p for p in (str(plugin_dir), os.environ.get("PYTHONPATH")) if p)
    prog = "from tinygrad import Tensor; print((Tensor([1, 2], device='PYTHON') * 2).tolist())"
    proc = _run([sys.executable, "-c", prog], PYTHONPATH=pythonpath)
    assert proc.returncode == 0 and proc.stdout.strip() == "[2, 4]", proc.stderr
    assert "PluginCompatibilityWarning" in proc.stderr and "OLDCORE" in proc.stderr
    proc = _run([sys.executable, "-m", "tinygrad", "doctor"], PYTHONPATH=pythonpath)
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr
    assert "brokendev 2.0" in out and "plugin API 1" in out
    for expected in ("libmissing.so.3", "firmware handshake timed out", "needs tinygrad core plugin API 0..0",
                     "TINYGRAD_CORE_API must be an int", "device table corrupted", "expected DeviceSpec",
                     "no free contexts on the card", "declares no TINYGRAD_CORE_API",
                     "supports core plugin API 1..2"):  # fmt: skip
        assert expected in out, f"doctor does not explain: {expected}\n{out}"
    assert re.search(r"OKDEV\s+priority -5 .* available", out), out


def test_trace_hooks(plugin_dir: Path) -> None:
    pythonpath = os.pathsep.join(p for p in (str(plugin_dir), os.environ.get("PYTHONPATH")) if p)
    prog = "from tinygrad.plugins import registry; r = registry(); r.load(); print('transfer', r.transfer('OKDEV', 'PYTHON'))"
    proc = _run([sys.executable, "-W", "ignore", "-c", prog], PYTHONPATH=pythonpath, TINYGRAD_TRACE_HOOKS="1",
                TINYGRAD_BACKENDS="OKDEV")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    # one traced tinygrad_devices call per loaded plugin (built-in reference devices + OKDEV), with its result
    assert out.count("tinygrad_devices [hook]") == 2 and "name='OKDEV'" in out and "name='PYTHON'" in out
    assert "tinygrad_transfer [hook]" in out and "src: OKDEV" in out and "dst: PYTHON" in out
    assert "transfer None" in out
    quiet = _run([sys.executable, "-W", "ignore", "-c", prog], PYTHONPATH=pythonpath, TINYGRAD_BACKENDS="OKDEV")
    assert "[hook]" not in quiet.stdout


def test_allow_list_in_doctor(plugin_dir: Path) -> None:
    pythonpath = os.pathsep.join(p for p in (str(plugin_dir), os.environ.get("PYTHONPATH")) if p)
    proc = _run([sys.executable, "-m", "tinygrad", "doctor"], PYTHONPATH=pythonpath, TINYGRAD_BACKENDS="okdev")
    out = proc.stdout
    assert proc.returncode == 0 and "TINYGRAD_BACKENDS=okdev" in out and "OKDEV" in out
    assert not any(name in out for name in ("libmissing", "OLDCORE", "HOOKRAISES", "tinygrad-cpu"))
    assert "PluginCompatibilityWarning" not in proc.stderr  # not loaded, so not checked


# ---- the example plugin, installed with pip ----


@pytest.fixture(scope="module")
def installed_example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/backend-plugin pip-installed (no dependencies) into a fresh folder: real wheel metadata."""
    target = tmp_path_factory.mktemp("npy_site")
    args = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile", "--disable-pip-version-check", "-q",
            "--target", str(target), str(EXAMPLE)]  # fmt: skip
    proc = subprocess.run(args, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, f"pip install of the example plugin failed:\n{proc.stdout}\n{proc.stderr}"
    assert (target / "tinygrad_numpydev").is_dir()
    assert any(target.glob("tinygrad_numpydev-*.dist-info/entry_points.txt"))
    return target


NPY_PROGRAM = """
import numpy as np
from tinygrad import Device, Tensor, TinyJit, dtypes
assert Device.DEFAULT == "NPY", Device.DEFAULT
x = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
loss = (x @ x).relu().sum()
loss.backward()
print("loss", loss.item(), "grad", x.grad.tolist())
print("half", (Tensor([1.5, -2.25], dtype=dtypes.half) * 2).tolist())
print("bf16", Tensor([1.0, 3.0], dtype=dtypes.bfloat16).sum().item())
print("int", (Tensor([-7, 7, 9]) // 2).tolist(), Tensor.arange(10).reshape(2, 5).max(axis=1).tolist())
step = TinyJit(lambda a: (a * 2 + 1).sum().realize())
print("jit", [step(Tensor([float(i), 1.0])).item() for i in range(4)])
print("copy", Tensor([1, 2, 3]).to("NPY:1").tolist(), Tensor([5.0]).to("PYTHON").tolist())
print("opened", sorted(Device._opened))
"""


def test_example_plugin_runs_tensor_programs(installed_example: Path) -> None:
    pythonpath = os.pathsep.join(p for p in (str(installed_example), os.environ.get("PYTHONPATH")) if p)
    proc = _run([sys.executable, "-c", NPY_PROGRAM], PYTHONPATH=pythonpath, DEV="NPY")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = dict(line.split(" ", 1) for line in proc.stdout.strip().splitlines())
    xn = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert float(lines["loss"].split()[0]) == (xn @ xn).sum()
    assert lines["loss"].split(" ", 2)[2] == str((np.ones((2, 2)) @ xn.T + xn.T @ np.ones((2, 2))).tolist())
    assert lines["half"] == "[3.0, -4.5]" and lines["bf16"] == "4.0"
    assert lines["int"] == "[-4, 3, 4] [4, 9]"
    assert lines["jit"] == "[4.0, 6.0, 8.0, 10.0]"  # (2i + 1) + (2 * 1 + 1)
    assert lines["copy"] == "[1, 2, 3] [5.0]"
    assert "'NPY'" in lines["opened"] and "'NPY:1'" in lines["opened"]


def test_example_plugin_in_doctor_and_allow_list(installed_example: Path) -> None:
    pythonpath = os.pathsep.join(p for p in (str(installed_example), os.environ.get("PYTHONPATH")) if p)
    out = _run([sys.executable, "-m", "tinygrad", "doctor"], PYTHONPATH=pythonpath).stdout
    assert "NPY: tinygrad-numpydev 0.1.0, module tinygrad_numpydev" in out and "supports core plugin API 1..1" in out
    assert re.search(r"NPY\s+priority 5\s+from tinygrad-numpydev\s+available", out), out
    assert "renderer: NpyRenderer" in out
    only_npy = _run([sys.executable, "-m", "tinygrad", "doctor"], PYTHONPATH=pythonpath, TINYGRAD_BACKENDS="NPY")
    assert "tinygrad-numpydev" in only_npy.stdout and "tinygrad-cpu" not in only_npy.stdout
    no_npy = _run([sys.executable, "-m", "tinygrad", "doctor"], PYTHONPATH=pythonpath, TINYGRAD_BACKENDS="CPU")
    assert "tinygrad-numpydev" not in no_npy.stdout and "PYTHON" in no_npy.stdout


def test_example_plugin_passes_the_conformance_suite(installed_example: Path) -> None:
    pythonpath = os.pathsep.join(p for p in (str(installed_example), os.environ.get("PYTHONPATH")) if p)
    proc = _run([sys.executable, "-m", "tinygrad.testing.conformance", "NPY", "-q", "-x"], timeout=240,
                PYTHONPATH=pythonpath)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
    summary = proc.stdout.strip().splitlines()[-1]
    passed = re.search(r"(\d+) passed", summary)
    assert not re.search(r"\d+ (failed|error)", summary) and passed and int(passed.group(1)) > 500, summary


# ---- unsupported dtypes: refused with a typed error, or the test fails ----

REFUSING = """
from tinygrad.device import Compiled
from tinygrad.dtype import dtypes
from tinygrad.errors import DTypeError
from tinygrad.plugins import DeviceSpec, hookimpl
from tinygrad.runtime.ops_python import PythonAllocator, PythonCompiler, PythonProgram, PythonRenderer

TINYGRAD_CORE_API = (1, 1)


class NoFloat64(PythonRenderer):
    supported_dtypes = PythonRenderer.supported_dtypes - {dtypes.float64}
    error = DTypeError

    def render(self, name, uops):
        if any(u.dtype.base == dtypes.float64 for u in uops):
            raise self.error(f"{type(self).__name__} has no float64")
        return super().render(name, uops)


class Sloppy(NoFloat64):
    error = ValueError  # refuses, but not with a typed error


def opener(renderer):
    return lambda d: Compiled(d, PythonAllocator(), renderer(), PythonCompiler(), PythonProgram)


@hookimpl
def tinygrad_devices():
    return [DeviceSpec("REFUSER", opener(NoFloat64), -20), DeviceSpec("SLOPPY", opener(Sloppy), -20)]
"""


def test_unsupported_dtypes_must_be_refused_with_a_typed_error(tmp_path: Path) -> None:
    _make_dist(tmp_path, "refusedev", "0.3", {"REFUSER": REFUSING})
    pythonpath = os.pathsep.join(p for p in (str(tmp_path), os.environ.get("PYTHONPATH")) if p)
    args = [sys.executable, "-m", "tinygrad.testing.conformance", "REFUSER", "SLOPPY", "-q", "-rsf", "-k",
            "test_alu and ADD-double or test_alu and ADD-int"]  # fmt: skip
    proc = _run(args, PYTHONPATH=pythonpath)
    out = proc.stdout
    assert proc.returncode == 1, out
    assert "renderer.supported_dtypes excludes dtypes.double: refused with DTypeError" in out
    assert "FAILED" in out and "TestKernels_SLOPPY::test_alu[ADD-double]" in out and "ValueError" in out
    assert re.search(r"1 failed, 2 passed, 1 skipped", out), out  # int32 works on both
