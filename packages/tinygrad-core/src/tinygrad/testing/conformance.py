"""The backend conformance suite: the checks every tinygrad backend should pass, shipped with core so a backend
package can run them against itself.

In a backend's test folder, one module is enough (needs pytest):

    # tests/test_conformance.py
    from tinygrad.testing.conformance import conformance_tests

    globals().update(conformance_tests("MYDEV"))

or, without writing a file: `python -m tinygrad.testing.conformance MYDEV [pytest args]`.

The tests are grouped by role: Device (plugin record, probe, describe), Allocator, Renderer (capability flags,
launch dimensions, locals/shared memory), Compiler (disk cache, program launch), Kernels (every ALU op in every
dtype it applies to, casts between every pair of dtypes, reductions, movement, indexing, matmul, all against
numpy) and Jit. Every optional test skips on what the backend declares (a renderer flag, an allocator method,
`Compiled.graph`), never on its name, and the skip reason names that capability. A device that is unknown
fails; a device whose probe says it cannot run here skips everything with the probe's reason.

Random inputs are fresh on every run; each test prints its seed, and TINYGRAD_TEST_SEED=<seed> replays it.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tinygrad.dtype import DType, dtypes
from tinygrad.testing import data
from tinygrad.uop.ops import Ops

__all__ = ["conformance_tests", "main"]

SEED_ENV = "TINYGRAD_TEST_SEED"
ALL_DTYPES: tuple[DType, ...] = tuple(dtypes.all)


def _kind(dt: DType) -> str:
    return "bool" if dt == dtypes.bool else "float" if dtypes.is_float(dt) else "int"


# ---- resolving the device under test ----


def _resolve(device: str | None) -> str:
    """The canonical name of the device under test; skips (with the probe's reason) where it cannot run here."""
    from tinygrad.device import Device
    from tinygrad.errors import DeviceError
    from tinygrad.plugins import registry

    if device is None:
        try:
            return Device.DEFAULT
        except DeviceError as e:
            pytest.fail(f"no default device: {e}")
    name = Device.canonicalize(device)
    base = name.split(":")[0]
    reg = registry()
    if base not in reg.devices():
        pytest.fail(f"device {base} is not provided by any installed plugin; run `python -m tinygrad doctor`")
    if (why := reg.unavailable_reason(base)) is not None:
        pytest.skip(f"{base} cannot run here (its probe says: {why})")
    return name


def _compute_device(device: str | None) -> str:
    from tinygrad.device import Device

    name = _resolve(device)
    if not Device[name].renderer.can_compute:
        pytest.skip(f"{name}: renderer.can_compute is False (a storage-only device runs no kernels)")
    return name


def _kernel(out: Any) -> tuple[Any, list[Any]]:
    """Compile the kernel computing tensor `out` (running whatever it depends on first): (CompiledRunner, bufs)."""
    from tinygrad.engine.realize import get_runner, run_schedule

    items = out.schedule()
    run_schedule(items[:-1])
    si = items[-1]
    assert si.ast.op is Ops.SINK, "the last scheduled item is a copy, not a kernel"
    return get_runner(si.bufs[0].device, si.ast), list(si.bufs)


def _alu(op: Ops, *ts: Any) -> Any:
    """The primitive ALU op on same-shape tensors, without any of Tensor's broadcasting or dtype promotion."""
    from tinygrad.tensor import Tensor

    return Tensor(ts[0].uop.alu(op, *(t.uop for t in ts[1:])))


def _check(got: np.ndarray, want: np.ndarray, dt: DType, approx: bool, what: str, inputs: list[np.ndarray]) -> None:
    """Exact equality (NaN equals NaN), or within 2 ulps of dt for libm functions."""
    msg = f"{what}\ninputs: {[a.tolist() for a in inputs]}"
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    if approx and dtypes.is_float(dt):
        tol = 2.0 * 2.0 ** -data.mantissa_bits(dt)
        # absolute slack scales with the operands: an a*b+c that cancels keeps the rounding error of a*b
        finite = [np.abs(a.astype(np.float64)[np.isfinite(a.astype(np.float64))]) for a in inputs]
        scale = max([1.0] + [float(f.max()) for f in finite if f.size]) if len(inputs) >= 3 else 1.0
        np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=tol, atol=tol * scale**2,
                                   equal_nan=True, err_msg=msg)  # fmt: skip
    else:
        np.testing.assert_array_equal(got, want, err_msg=msg)


# ---- ALU ops: which dtypes each applies to, its inputs, and its numpy reference ----

Gen = Callable[[np.random.Generator, DType, tuple[int, ...]], list[np.ndarray]]


def _vals(lo: float, hi: float) -> Gen:
    def gen(rng: np.random.Generator, dt: DType, shape: tuple[int, ...]) -> list[np.ndarray]:
        return [data.random_values(rng, dt, shape, lo, hi)]

    return gen


def _any(n: int) -> Gen:
    """n operands: floats in [-20, 20], ints over their whole range (wrap-around), bools; later operands copy
    the first one in about a third of the lanes, so comparisons see equal pairs."""

    def gen(rng: np.random.Generator, dt: DType, shape: tuple[int, ...]) -> list[np.ndarray]:
        def one() -> np.ndarray:
            return data.full_range(rng, dt, shape) if _kind(dt) == "int" else data.random_values(rng, dt, shape)

        first = one()
        return [first] + [np.where(rng.random(shape) < 0.3, first, one()) for _ in range(n - 1)]

    return gen


def _nonzero(rng: np.random.Generator, dt: DType, shape: tuple[int, ...], lo: float, hi: float) -> np.ndarray:
    mag = data.random_values(rng, dt, shape, lo, hi)
    signed = dtypes.is_float(dt) or not dtypes.is_unsigned(dt)
    return np.where(rng.random(shape) < 0.5, -mag, mag).astype(mag.dtype) if signed else mag


def _recip_in(rng: np.random.Generator, dt: DType, shape: tuple[int, ...]) -> list[np.ndarray]:
    return [_nonzero(rng, dt, shape, 0.25, 8.0)]


def _div_in(rng: np.random.Generator, dt: DType, shape: tuple[int, ...]) -> list[np.ndarray]:
    a, b = data.full_range(rng, dt, shape), _nonzero(rng, dt, shape, 1, 50)
    # the extremes divided by small divisors, and by -1 (which core defines as negation, wrapping)
    b.reshape(-1)[:4] = [7, 3, -1, -1] if not dtypes.is_unsigned(dt) else [7, 3, 1, 1]
    return [a, b]


def _fdiv_in(rng: np.random.Generator, dt: DType, shape: tuple[int, ...]) -> list[np.ndarray]:
    return [data.random_values(rng, dt, shape), _nonzero(rng, dt, shape, 0.5, 8.0)]


def _shl_in(rng: np.random.Generator, dt: DType, shape: tuple[int, ...]) -> list[np.ndarray]:
    # value < 2**(bits/2 - 1) and shift < bits/2: never shifts into the sign bit, which C leaves undefined
    half = 4 * dt.itemsize
    return [data.random_values(rng, dt, shape, 0, 2 ** (half - 1) - 1), data.random_values(rng, dt, shape, 0, half - 1)]


def _shr_in(rng: np.random.Generator, dt: DType, shape: tuple[int, ...]) -> list[np.ndarray]:
    x = np.abs(data.full_range(rng, dt, shape) // 2).astype(dt.np)  # non-negative: C leaves >> of negatives open
    return [x, data.random_values(rng, dt, shape, 0, 8 * dt.itemsize - 1)]


def _pow_in(rng: np.random.Generator, dt: DType, shape: tuple[int, ...]) -> list[np.ndarray]:
    return [data.random_values(rng, dt, shape, 0.5, 4.0), data.random_values(rng, dt, shape, -2.0, 2.0)]


def _trunc_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Division truncating toward zero, in exact Python ints (an object array)."""
    q = [abs(int(x)) // abs(int(y)) * (-1 if (x < 0) != (y < 0) else 1) for x, y in zip(a.reshape(-1), b.reshape(-1))]
    return np.array(q, dtype=object).reshape(a.shape)


def _trunc_mod(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a.astype(object) - _trunc_div(a, b) * b.astype(object)


@dataclass(frozen=True)
class AluCase:
    """One ALU op: the dtype kinds it applies to, its inputs, and its reference (on host-form arrays)."""

    kinds: frozenset[str]
    inputs: Gen
    ref: Callable[..., Any]
    bool_ref: Callable[..., Any] | None = None  # where bool means logic (+ is or, * is and)
    approx: bool = False  # libm functions: within 2 ulps


FLOAT, INT, BOOL = frozenset({"float"}), frozenset({"int"}), frozenset({"bool"})
NUM, ALL_KINDS = FLOAT | INT, FLOAT | INT | BOOL

ALU_CASES: dict[Ops, AluCase] = {
    Ops.EXP2: AluCase(FLOAT, _vals(-6, 6), np.exp2, approx=True),
    Ops.LOG2: AluCase(FLOAT, _vals(0.1, 60), np.log2, approx=True),
    Ops.SIN: AluCase(FLOAT, _vals(-6, 6), np.sin, approx=True),
    Ops.SQRT: AluCase(FLOAT, _vals(0, 60), np.sqrt),  # correctly rounded everywhere (IEEE 754)
    Ops.RECIP: AluCase(FLOAT, _recip_in, np.reciprocal),
    Ops.TRUNC: AluCase(FLOAT, _vals(-20, 20), np.trunc),
    Ops.NEG: AluCase(ALL_KINDS, _any(1), np.negative, bool_ref=np.logical_not),
    Ops.ADD: AluCase(ALL_KINDS, _any(2), np.add, bool_ref=np.logical_or),
    Ops.SUB: AluCase(NUM, _any(2), np.subtract),
    Ops.MUL: AluCase(ALL_KINDS, _any(2), np.multiply, bool_ref=np.logical_and),
    Ops.FDIV: AluCase(FLOAT, _fdiv_in, np.divide),
    Ops.IDIV: AluCase(INT, _div_in, _trunc_div),
    Ops.MOD: AluCase(INT, _div_in, _trunc_mod),
    Ops.MAX: AluCase(ALL_KINDS, _any(2), np.maximum, bool_ref=np.logical_or),
    Ops.POW: AluCase(FLOAT, _pow_in, np.power, approx=True),
    Ops.CMPLT: AluCase(ALL_KINDS, _any(2), np.less),
    Ops.CMPNE: AluCase(ALL_KINDS, _any(2), np.not_equal),
    Ops.CMPEQ: AluCase(ALL_KINDS, _any(2), np.equal),
    Ops.AND: AluCase(INT | BOOL, _any(2), np.bitwise_and),
    Ops.OR: AluCase(INT | BOOL, _any(2), np.bitwise_or),
    Ops.XOR: AluCase(INT | BOOL, _any(2), np.bitwise_xor),
    Ops.SHL: AluCase(INT, _shl_in, np.left_shift),
    Ops.SHR: AluCase(INT, _shr_in, np.right_shift),
    # a*b+c: a fused multiply-add is allowed, so floats compare within 2 ulps
    Ops.MULACC: AluCase(NUM, _any(3), lambda a, b, c: a * b + c, approx=True),
}
ALU_PARAMS = [(op, dt) for op, case in ALU_CASES.items() for dt in ALL_DTYPES if _kind(dt) in case.kinds]


def _alu_reference(op: Ops, dt: DType, args: list[np.ndarray]) -> np.ndarray:
    case = ALU_CASES[op]
    ref = case.bool_ref if dt == dtypes.bool and case.bool_ref is not None else case.ref
    with np.errstate(all="ignore"):
        want = np.asarray(ref(*args))
    out_dt = dtypes.bool if op in (Ops.CMPLT, Ops.CMPNE, Ops.CMPEQ) else dt
    # ints wrap (IDIV/MOD are computed in exact Python ints); floats round to dt once, as every backend must
    return data.round_to(out_dt, want) if _kind(out_dt) != "int" else data.wrap(want, out_dt)


# special float values: the IEEE corners every backend's float math must get right
SPECIALS = [np.inf, -np.inf, np.nan, 0.0, -0.0, 1.0, -1.0, 0.5, 3.0, -2.5]
SPECIAL_OPS: dict[Ops, tuple[Callable[..., Any], bool]] = {  # op -> (numpy, compare the sign of zero too)
    Ops.ADD: (np.add, True), Ops.SUB: (np.subtract, True), Ops.MUL: (np.multiply, True),
    Ops.FDIV: (np.divide, True), Ops.NEG: (np.negative, True), Ops.TRUNC: (np.trunc, True),
    Ops.RECIP: (np.reciprocal, True), Ops.SQRT: (np.sqrt, True), Ops.EXP2: (np.exp2, False),
    Ops.LOG2: (np.log2, False), Ops.SIN: (np.sin, False), Ops.MAX: (np.maximum, False),
    Ops.CMPLT: (np.less, False), Ops.CMPNE: (np.not_equal, False), Ops.CMPEQ: (np.equal, False),
}  # fmt: skip
_BINARY = {Ops.ADD, Ops.SUB, Ops.MUL, Ops.FDIV, Ops.MAX, Ops.CMPLT, Ops.CMPNE, Ops.CMPEQ}


def _cast_inputs(rng: np.random.Generator, src: DType, dst: DType, n: int) -> np.ndarray:
    """Values of src whose conversion to dst every backend defines the same way: within [-100, 100] (no
    overflow in any dtype), non-negative when a float becomes an unsigned int (C leaves that undefined), float64
    values exact in float32 (so no backend double-rounds differently), and some zeros (for bool)."""
    if src == dtypes.bool:
        return rng.random(n) < 0.5
    lo = 0.0 if dtypes.is_float(src) and dtypes.is_unsigned(dst) else -100.0
    x = data.random_values(rng, src, (n,), lo, 100.0)
    if src == dtypes.float64:
        x = x.astype(np.float32).astype(np.float64)
    return np.where(rng.random(n) < 0.15, np.zeros_like(x), x)


def _cast_reference(x: np.ndarray, src: DType, dst: DType) -> np.ndarray:
    if dst == dtypes.bool:
        return x != 0
    if dst.np is not None:
        return x.astype(dst.np)
    return data.round_to(dst, x.astype(np.float64))


# ---- the suites ----


def _unsupported(dev: str, dt: DType) -> bool:
    """Whether the device's renderer leaves dt out of supported_dtypes."""
    from tinygrad.device import Device

    sd = Device[dev].renderer.supported_dtypes
    return sd is not None and dt not in sd


def _emulated(dev: str, dt: DType) -> bool:
    """Whether core emulates dt (bits in memory, float32 math) for this device."""
    from tinygrad.codegen.emulate_dtypes import EMULATABLE

    return dt in EMULATABLE and _unsupported(dev, dt)


@contextlib.contextmanager
def _dtypes_or_refused(dev: str, *dts: DType) -> Iterator[None]:
    """Run a kernel over dts: a dtype the renderer does not support and core cannot emulate may instead be
    refused with a typed error (DTypeError, CompileError), which skips the test with that reason."""
    from tinygrad.errors import CompileError, DTypeError

    refusable = [dt for dt in dts if _unsupported(dev, dt) and not _emulated(dev, dt)]
    if not refusable:
        yield
        return
    try:
        yield
    except (DTypeError, CompileError) as e:
        pytest.skip(f"renderer.supported_dtypes excludes {', '.join(map(str, refusable))}: refused with "
                    f"{type(e).__name__}")  # fmt: skip


def _name_matches(name: str, pattern: str) -> bool:
    """A glob over test names where * and ? are the only wildcards: brackets are the parametrization's own."""
    rx = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(rx, name) is not None


def _core_bug(request: pytest.FixtureRequest, reason: str) -> None:
    """Mark this test as failing because of a known bug in core itself (not in the backend)."""
    request.applymarker(pytest.mark.xfail(strict=True, reason=f"BUG (tinygrad-core): {reason}"))


class _Suite:
    """Base of every conformance class: the device under test and a fresh, printed random seed per test."""

    device: str | None = None
    # test name pattern (* and ? wildcards, e.g. "test_alu[IDIV-*]") -> why it is known to fail on this backend
    known_failures: dict[str, str] = {}

    @pytest.fixture(autouse=True)
    def _known_failures(self, request: pytest.FixtureRequest) -> None:
        for pattern, reason in self.known_failures.items():
            if _name_matches(request.node.name, pattern):
                request.applymarker(pytest.mark.xfail(strict=True, reason=reason))

    @pytest.fixture
    def dev(self) -> str:
        """The device under test (skips where its probe says it cannot run here)."""
        return _resolve(self.device)

    @pytest.fixture
    def cdev(self) -> str:
        """The device under test, for tests that run kernels (skips on a storage-only device)."""
        return _compute_device(self.device)

    @pytest.fixture
    def rng(self, request: pytest.FixtureRequest) -> np.random.Generator:
        env = os.environ.get(SEED_ENV)
        seed = int(env) if env else secrets.randbits(32)
        request.node.user_properties.append(("random_seed", seed))
        print(f"random seed {seed}: rerun with {SEED_ENV}={seed}")
        return np.random.default_rng(seed)


class DeviceSuite(_Suite):
    """The plugin that provides the device, and the device object itself."""

    def test_plugin_declares_core_api(self, dev: str) -> None:
        from tinygrad.hookspecs import CORE_API_VERSION
        from tinygrad.plugins import registry

        _, rec = registry().devices()[dev.split(":")[0]]
        assert rec.core_api is not None, f"{rec.dist or rec.module} declares no TINYGRAD_CORE_API = (min, max)"
        lo, hi = rec.core_api
        assert lo <= CORE_API_VERSION <= hi

    def test_probe_says_available(self, dev: str) -> None:
        from tinygrad.plugins import registry

        spec, _ = registry().devices()[dev.split(":")[0]]
        assert spec.probe is None or spec.probe() is None

    def test_roles(self, dev: str) -> None:
        from tinygrad.device import Allocator, Compiled, Compiler, Device
        from tinygrad.renderer import Renderer

        d = Device[dev]
        assert isinstance(d, Compiled) and Device[dev] is d, "Device[...] must open the device once"
        assert isinstance(d.allocator, Allocator) and isinstance(d.renderer, Renderer)
        assert isinstance(d.compiler, Compiler) and callable(d.runtime)

    def test_describe(self, dev: str) -> None:
        from tinygrad.device import Device

        facts = Device[dev].describe()
        assert isinstance(facts, dict) and facts
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in facts.items())

    def test_synchronize(self, dev: str) -> None:
        from tinygrad.device import Device

        Device[dev].synchronize()


class AllocatorSuite(_Suite):
    """alloc / free / copyin / copyout, and the optional as_memoryview, offset, transfer and LRU cache."""

    @pytest.fixture
    def alloc(self, dev: str) -> Any:
        from tinygrad.device import Device

        return Device[dev].allocator

    def _write(self, dev: str, handle: Any, payload: np.ndarray) -> None:
        from tinygrad.device import Device

        Device[dev].allocator.copyin(handle, payload.data)

    def _read(self, dev: str, handle: Any, size: int) -> np.ndarray:
        from tinygrad.device import Device

        Device[dev].synchronize()
        out = np.empty(size, np.uint8)
        Device[dev].allocator.copyout(out.data, handle)
        return out

    @pytest.mark.parametrize("size", [1, 3, 64, 4099, 1 << 24], ids=lambda s: f"{s}B")
    def test_roundtrip(self, dev: str, alloc: Any, rng: np.random.Generator, size: int) -> None:
        payload = rng.integers(0, 256, size, dtype=np.uint8)
        h = alloc.alloc(size)
        self._write(dev, h, payload)
        np.testing.assert_array_equal(self._read(dev, h, size), payload)
        alloc.free(h, size)

    def test_copyin_does_not_keep_the_source(self, dev: str, alloc: Any, rng: np.random.Generator) -> None:
        """Core copies in from temporary host arrays: once copyin returns, the source may change or vanish."""
        payload = rng.integers(0, 256, 1 << 16, dtype=np.uint8)
        keep = payload.copy()
        h = alloc.alloc(payload.size)
        self._write(dev, h, payload)
        payload[:] = 0
        del payload
        np.testing.assert_array_equal(self._read(dev, h, keep.size), keep)
        alloc.free(h, keep.size)

    def test_buffers_do_not_alias(self, dev: str, alloc: Any, rng: np.random.Generator) -> None:
        size = 1000
        payloads = [rng.integers(0, 256, size, dtype=np.uint8) for _ in range(8)]
        handles = [alloc.alloc(size) for _ in payloads]
        for h, p in zip(handles, payloads):
            self._write(dev, h, p)
        for h, p in zip(handles, payloads):
            np.testing.assert_array_equal(self._read(dev, h, size), p)
        for h in handles:
            alloc.free(h, size)

    def test_alloc_free_churn(self, dev: str, alloc: Any) -> None:
        for i in range(200):
            size = 1 + (i * 7919) % 5000
            alloc.free(alloc.alloc(size), size)

    def test_lru_reuse(self, dev: str, alloc: Any, rng: np.random.Generator) -> None:
        from tinygrad.device import LRUAllocator
        from tinygrad.helpers import getenv

        if not isinstance(alloc, LRUAllocator):
            pytest.skip("the allocator is not an LRUAllocator (it keeps no reuse cache)")
        if not getenv("LRU", 1):
            pytest.skip("LRU=0 in this process: freed buffers are released at once, not cached")
        size = 12289 + int(rng.integers(0, 1000))  # a size nothing else uses
        h = alloc.alloc(size)
        alloc.free(h, size)
        assert alloc.alloc(size) is h, "a freed buffer must be handed back by the next alloc of its size"
        other = alloc.alloc(size + 1)
        assert other is not h
        alloc.free(h, size)
        alloc.free(other, size + 1)
        alloc.free_cache()
        assert not alloc.cache[(size, None)] and not alloc.cache[(size + 1, None)], "free_cache must empty the cache"
        fresh = alloc.alloc(size)  # after free_cache: a real allocation that works
        payload = rng.integers(0, 256, size, dtype=np.uint8)
        self._write(dev, fresh, payload)
        np.testing.assert_array_equal(self._read(dev, fresh, size), payload)
        alloc.free(fresh, size)

    def test_as_memoryview(self, dev: str, alloc: Any, rng: np.random.Generator) -> None:
        size = 4099
        payload = rng.integers(0, 256, size, dtype=np.uint8)
        h = alloc.alloc(size)
        self._write(dev, h, payload)
        from tinygrad.device import Device

        Device[dev].synchronize()
        mv = alloc.as_memoryview(h, size)
        if mv is None:
            pytest.skip("as_memoryview returns None: the allocator's memory is not host-visible")
        assert mv.nbytes == size
        np.testing.assert_array_equal(np.frombuffer(mv, np.uint8), payload)
        if not mv.readonly:  # a writable view writes the buffer itself
            np.frombuffer(mv, np.uint8)[:10] = 7
            np.testing.assert_array_equal(self._read(dev, h, size)[:10], np.full(10, 7, np.uint8))
        alloc.free(h, size)

    def test_offset(self, dev: str, alloc: Any, rng: np.random.Generator) -> None:
        if not callable(getattr(alloc, "offset", None)):
            pytest.skip("the allocator offers no offset(opaque, size, offset)")
        size, off, n = 4096, 37, 1000
        payload = rng.integers(0, 256, size, dtype=np.uint8)
        h = alloc.alloc(size)
        self._write(dev, h, payload)
        sub = alloc.offset(h, n, off)
        np.testing.assert_array_equal(self._read(dev, sub, n), payload[off : off + n])
        patch = rng.integers(0, 256, n, dtype=np.uint8)
        self._write(dev, sub, patch)
        want = payload.copy()
        want[off : off + n] = patch
        np.testing.assert_array_equal(self._read(dev, h, size), want, err_msg="offset() must share memory")
        alloc.free(h, size)

    def test_transfer(self, dev: str, alloc: Any, rng: np.random.Generator) -> None:
        from tinygrad.device import Device

        if not callable(getattr(alloc, "transfer", None)):
            pytest.skip("the allocator offers no transfer(dest, src, size, src_dev, dest_dev)")
        size = 1 << 16
        payload = rng.integers(0, 256, size, dtype=np.uint8)
        src, dst = alloc.alloc(size), alloc.alloc(size)
        self._write(dev, src, payload)
        alloc.transfer(dst, src, size, Device[dev], Device[dev])
        np.testing.assert_array_equal(self._read(dev, dst, size), payload)
        alloc.free(src, size)
        alloc.free(dst, size)

    def test_transfer_hook(self, dev: str, rng: np.random.Generator) -> None:
        from tinygrad.device import Buffer
        from tinygrad.plugins import registry

        copy = registry().transfer(dev, dev)
        if copy is None:
            pytest.skip(f"no plugin's tinygrad_transfer hook offers a direct copy {dev} -> {dev}")
        payload = rng.standard_normal(5000).astype(np.float32)
        src = Buffer(dev, payload.size, dtypes.float32).copyin(payload.data)
        dst = Buffer(dev, payload.size, dtypes.float32).allocate()
        copy(dst, src, src.nbytes)
        np.testing.assert_array_equal(dst.numpy(), payload)

    @pytest.mark.parametrize("dt", ALL_DTYPES, ids=lambda d: d.name)
    def test_buffer(self, dev: str, rng: np.random.Generator, dt: DType) -> None:
        """core's Buffer over this allocator: random bit patterns of every dtype survive the round trip."""
        from tinygrad.device import Buffer

        bits = data.random_bits(rng, dt, 333)
        buf = Buffer(dev, 333, dt).copyin(np.ascontiguousarray(bits).data.cast("B"))
        assert bytes(buf.as_bytes()) == bits.tobytes()


class RendererSuite(_Suite):
    """The renderer's capability flags are well formed and honoured by the kernels it launches."""

    @pytest.fixture
    def renderer(self, dev: str) -> Any:
        from tinygrad.device import Device

        return Device[dev].renderer

    def test_flags_well_formed(self, renderer: Any) -> None:
        assert isinstance(renderer.has_global_ids, bool) and isinstance(renderer.has_local, bool)
        assert isinstance(renderer.has_shared, bool) and isinstance(renderer.can_compute, bool)
        assert isinstance(renderer.threads, int) and renderer.threads >= 1
        assert isinstance(renderer.local_max, int) and renderer.local_max >= 1
        gm = renderer.global_max
        assert gm is None or (isinstance(gm, tuple) and len(gm) >= 1 and all(isinstance(g, int) and g > 0 for g in gm))
        sd = renderer.supported_dtypes
        assert sd is None or (isinstance(sd, frozenset) and sd <= set(ALL_DTYPES)), "supported_dtypes: DTypes only"
        if renderer.has_local:
            assert renderer.has_global_ids, "has_local without has_global_ids: workgroups need a grid"

    def test_render_is_deterministic(self, cdev: str, rng: np.random.Generator) -> None:
        """Same kernel, same source: the compile cache is keyed by the source."""
        from tinygrad.codegen import get_program
        from tinygrad.device import Device
        from tinygrad.tensor import Tensor

        x = Tensor(rng.standard_normal((6, 7)).astype(np.float32), device=cdev)
        (si,) = (x * 3 + 1).sum(axis=1).schedule()
        r = Device[cdev].renderer
        a, b = get_program(si.ast, r), get_program(si.ast, r)
        assert isinstance(a.src, str) and a.src == b.src

    @pytest.mark.parametrize("shape", [(37,), (16, 33), (2, 3, 4, 5, 6)], ids=str)
    def test_launch_dimensions(self, cdev: str, rng: np.random.Generator, shape: tuple[int, ...]) -> None:
        from tinygrad.device import Device
        from tinygrad.tensor import Tensor

        r = Device[cdev].renderer
        x = rng.standard_normal(shape).astype(np.float32)
        runner, bufs = _kernel(Tensor(x, device=cdev) * 2 + 1)
        spec = runner.spec
        grid = [u.arg for u in spec.uops if u.op is Ops.SPECIAL and u.arg.startswith(("gidx", "lidx"))]
        if r.has_global_ids:
            assert any(g.startswith("gidx") for g in grid), "has_global_ids: output loops must become gidx"
            if r.global_max is not None:
                assert len(spec.global_size) <= len(r.global_max), f"{spec.global_size} exceeds {r.global_max}"
                assert all(g <= m for g, m in zip(spec.global_size, r.global_max)), (spec.global_size, r.global_max)
        else:
            assert not grid and spec.local_size is None, "has_global_ids is False: no grid indices expected"
        if r.has_local:
            assert spec.local_size is not None and spec.local_size[0] <= r.local_max
        else:
            assert spec.local_size is None and not any(g.startswith("lidx") for g in grid)
        runner(bufs, wait=True)
        np.testing.assert_array_equal(bufs[0].numpy().reshape(shape), x * 2 + 1)

    def test_oversized_grid(self, cdev: str, rng: np.random.Generator) -> None:
        """A grid dimension beyond global_max is flattened by core; the launch must still fit and be right."""
        from tinygrad.device import Device
        from tinygrad.tensor import Tensor

        r = Device[cdev].renderer
        gm = r.global_max
        if not r.has_global_ids or gm is None:
            pytest.skip("renderer.global_max is None or has_global_ids is False: every grid size fits")
        small = [(d, m) for d, m in enumerate(gm) if d > 0 and m < 1 << 17]
        if not small:
            pytest.skip(f"renderer.global_max {gm}: no dimension is small enough to overflow in a test")
        d, m = small[0]
        shape = (m + 1,) + (1,) * (d - 1) + (2,)  # dimension d (counted from the innermost) gets m + 1
        x = rng.standard_normal(shape).astype(np.float32)
        runner, bufs = _kernel(Tensor(x, device=cdev) + 1)
        assert len(runner.spec.global_size) <= len(gm) and all(g <= mx for g, mx in zip(runner.spec.global_size, gm))
        runner(bufs)
        np.testing.assert_array_equal(bufs[0].numpy().reshape(shape), x + 1)

    @pytest.mark.parametrize("n", [256, 96, 97], ids=str)
    def test_local_sizes(self, cdev: str, rng: np.random.Generator, n: int) -> None:
        from tinygrad.device import Device
        from tinygrad.tensor import Tensor

        r = Device[cdev].renderer
        if not r.has_local:
            pytest.skip("renderer.has_local is False: kernels launch without workgroups")
        x = rng.standard_normal((3, n)).astype(np.float32)
        runner, bufs = _kernel(Tensor(x, device=cdev) * 3)
        ls = runner.spec.local_size
        assert ls is not None and 1 <= ls[0] <= r.local_max
        runner(bufs)
        np.testing.assert_array_equal(bufs[0].numpy().reshape(x.shape), x * 3)

    def test_shared_memory_and_barriers(self, cdev: str, rng: np.random.Generator) -> None:
        """Reductions and matmul, the kernels shared memory and barriers exist for, on a renderer claiming them."""
        from tinygrad.device import Device
        from tinygrad.tensor import Tensor

        if not Device[cdev].renderer.has_shared:
            pytest.skip("renderer.has_shared is False: no shared memory or barriers to check")
        a = rng.standard_normal((64, 96)).astype(np.float32)
        b = rng.standard_normal((96, 48)).astype(np.float32)
        ta, tb = Tensor(a, device=cdev), Tensor(b, device=cdev)
        np.testing.assert_allclose(ta.sum(axis=1).numpy(), a.sum(axis=1), rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(ta.max(axis=0).numpy(), a.max(axis=0))
        mm = (ta.reshape(64, 96, 1) * tb.reshape(1, 96, 48)).sum(axis=1)
        np.testing.assert_allclose(mm.numpy(), a @ b, rtol=1e-4, atol=1e-4)


class CompilerSuite(_Suite):
    """Compiler.compile_cached uses the disk cache exactly when cachekey is set; Programs launch and time."""

    def _source(self, dev: str, rng: np.random.Generator) -> tuple[Any, Any]:
        from tinygrad.codegen import get_program
        from tinygrad.device import Device
        from tinygrad.tensor import Tensor

        # a fresh constant makes a source no cache has seen
        c = float(rng.integers(1, 1 << 20))
        x = Tensor(rng.standard_normal(50).astype(np.float32), device=dev)
        (si,) = (x * c + 1).schedule()
        return get_program(si.ast, Device[dev].renderer), si

    @pytest.fixture
    def counting(self, cdev: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
        """Count real compiles, with CACHEDIR in a temporary folder."""
        from tinygrad.device import Device

        comp = Device[cdev].compiler
        if comp.cachekey is None:
            pytest.skip("Compiler.cachekey is None: the compiler opts out of the disk cache")
        monkeypatch.setenv("CACHEDIR", str(tmp_path))
        calls: list[str] = []
        real = comp.compile

        def compile_and_count(src: str) -> bytes:
            calls.append(src)
            return real(src)

        monkeypatch.setattr(comp, "compile", compile_and_count)
        return calls

    def test_cache_hit(self, cdev: str, rng: np.random.Generator, counting: list[str], tmp_path: Path) -> None:
        from tinygrad.device import Device
        from tinygrad.helpers import Context

        comp = Device[cdev].compiler
        spec, si = self._source(cdev, rng)
        with Context(CACHELEVEL=2):
            first = comp.compile_cached(spec.src)
            second = comp.compile_cached(spec.src)
        assert isinstance(first, bytes) and first == second
        assert counting == [spec.src], "the second compile_cached must be served from the disk cache"
        assert any(p.is_file() for p in (tmp_path / "compile").rglob("*")), "nothing was written under CACHEDIR"
        # the cached binary loads and runs
        prg = Device[cdev].runtime(spec.name, second)
        for b in si.bufs:
            b.allocate()
        prg(*[b.opaque for b in si.bufs], global_size=spec.global_size, local_size=spec.local_size)
        Device[cdev].synchronize()
        x = si.bufs[1].numpy()
        assert np.isfinite(x).all() and si.bufs[0].numpy().shape == x.shape

    def test_cache_key_separates(self, cdev: str, rng: np.random.Generator, counting: list[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
        from tinygrad.device import Device
        from tinygrad.helpers import Context

        comp = Device[cdev].compiler
        spec, _ = self._source(cdev, rng)
        with Context(CACHELEVEL=2):
            comp.compile_cached(spec.src)
            monkeypatch.setattr(comp, "cachekey", f"{comp.cachekey} (another compiler version)")
            comp.compile_cached(spec.src)
        assert len(counting) == 2, "a different cachekey must not hit the other key's cache entry"

    def test_cache_disabled(self, cdev: str, rng: np.random.Generator, counting: list[str]) -> None:
        from tinygrad.device import Device
        from tinygrad.helpers import Context

        comp = Device[cdev].compiler
        spec, _ = self._source(cdev, rng)
        with Context(CACHELEVEL=0):
            comp.compile_cached(spec.src)
            comp.compile_cached(spec.src)
        assert len(counting) == 2, "CACHELEVEL=0 must compile every time"

    def test_program_timing_and_reuse(self, cdev: str, rng: np.random.Generator) -> None:
        """wait=True returns the kernel time (or None without a timer); a Program runs on any buffers."""
        from tinygrad.device import Buffer
        from tinygrad.tensor import Tensor

        x = rng.standard_normal(300).astype(np.float32)
        runner, bufs = _kernel(Tensor(x, device=cdev) * 2 - 1)
        et = runner(bufs, wait=True)
        assert et is None or (isinstance(et, float) and et >= 0), f"wait=True returned {et!r}"
        np.testing.assert_array_equal(bufs[0].numpy(), x * 2 - 1)
        y = rng.standard_normal(300).astype(np.float32)
        other = [Buffer(cdev, 300, dtypes.float32).allocate(), Buffer(cdev, 300, dtypes.float32).copyin(y.data)]
        runner(other)
        np.testing.assert_array_equal(other[0].numpy(), y * 2 - 1)
        np.testing.assert_array_equal(bufs[0].numpy(), x * 2 - 1)  # the first output is untouched


class KernelSuite(_Suite):
    """Kernels for every dtype and op class, compared against numpy."""

    @pytest.mark.parametrize("dt", ALL_DTYPES, ids=lambda d: d.name)
    def test_load_store(self, cdev: str, rng: np.random.Generator, dt: DType,
                        request: pytest.FixtureRequest) -> None:  # fmt: skip
        """A movement kernel copies random bit patterns of every dtype (NaN payloads included) exactly."""
        if dt in (dtypes.bfloat16, dtypes.fp8e5m2) and _emulated(cdev, dt):
            _core_bug(
                request,
                "emulated formats are decoded to float32 and re-encoded even by a pure copy, which "
                "turns every NaN into the one canonical NaN (payload and sign lost)",
            )
        bits = data.random_bits(rng, dt, 301)
        with _dtypes_or_refused(cdev, dt):
            got = data.raw_bytes(data.bits_to_device(bits, dt, cdev).flip(0))
        assert got == bits[::-1].tobytes()

    @pytest.mark.parametrize("op,dt", ALU_PARAMS, ids=[f"{op.name}-{dt.name}" for op, dt in ALU_PARAMS])
    def test_alu(self, cdev: str, rng: np.random.Generator, op: Ops, dt: DType, request: pytest.FixtureRequest) -> None:
        case = ALU_CASES[op]
        args = case.inputs(rng, dt, (67,))
        with _dtypes_or_refused(cdev, dt):
            out = _alu(op, *[data.to_device(a, dt, cdev) for a in args])
            got = data.from_device(out)
        _check(got, _alu_reference(op, dt, args), out.dtype, case.approx, f"{op.name} {dt}", args)

    @pytest.mark.parametrize("dt", ALL_DTYPES, ids=lambda d: d.name)
    def test_where(self, cdev: str, rng: np.random.Generator, dt: DType) -> None:
        a, b = _any(2)(rng, dt, (67,))
        cond = rng.random(67) < 0.5
        with _dtypes_or_refused(cdev, dt):
            ta, tb = data.to_device(a, dt, cdev), data.to_device(b, dt, cdev)
            out = data.to_device(cond, dtypes.bool, cdev).where(ta, tb)
            got = data.from_device(out)
        assert out.dtype == dt
        _check(got, np.where(cond, a, b), dt, False, f"WHERE {dt}", [cond, a, b])

    @pytest.mark.parametrize("dt", [d for d in ALL_DTYPES if d.np is not None and dtypes.is_float(d)], ids=str)
    def test_special_float_values(self, cdev: str, dt: DType) -> None:
        """inf, -inf, NaN and -0.0 through arithmetic, comparisons and libm functions."""
        vals = np.array(SPECIALS, dtype=dt.np)
        a, b = np.repeat(vals, len(vals)), np.tile(vals, len(vals))
        ta, tb = data.to_device(a, dt, cdev), data.to_device(b, dt, cdev)
        for op, (ref, signed_zero) in SPECIAL_OPS.items():
            args = [a, b] if op in _BINARY else [a]
            with np.errstate(all="ignore"):
                want = np.asarray(ref(*args))
            with _dtypes_or_refused(cdev, dt):
                got = data.from_device(_alu(op, *([ta, tb] if op in _BINARY else [ta])))
            approx = op in (Ops.EXP2, Ops.LOG2, Ops.SIN)
            _check(got, want.astype(got.dtype), dt, approx, f"{op.name} {dt} on special values", args)
            if signed_zero:
                zero = want == 0
                np.testing.assert_array_equal(np.signbit(got[zero]), np.signbit(want[zero]),
                                              err_msg=f"{op.name} {dt}: sign of zero, inputs {args}")  # fmt: skip

    @pytest.mark.parametrize("src,dst", [(s, d) for s in ALL_DTYPES for d in ALL_DTYPES if s != d],
                             ids=[f"{s.name}-{d.name}" for s in ALL_DTYPES for d in ALL_DTYPES if s != d])  # fmt: skip
    def test_cast(self, cdev: str, rng: np.random.Generator, src: DType, dst: DType) -> None:
        from tinygrad.tensor import Tensor

        x = _cast_inputs(rng, src, dst, 53)
        with _dtypes_or_refused(cdev, src, dst):
            got = data.from_device(Tensor(data.to_device(x, src, cdev).uop.cast(dst)))
        _check(got, _cast_reference(x, src, dst), dst, False, f"cast {src} -> {dst}", [x])

    @pytest.mark.parametrize("op", [Ops.ADD, Ops.MAX], ids=lambda o: o.name)
    @pytest.mark.parametrize("dt", ALL_DTYPES, ids=lambda d: d.name)
    def test_reduce(self, cdev: str, rng: np.random.Generator, dt: DType, op: Ops) -> None:
        """Sum and max over one axis, the other, and two axes at once, in the dtype itself."""
        from tinygrad.tensor import Tensor

        # float inputs are small integers, so every summation order gives the exact result in every format
        exact = 2 ** (data.mantissa_bits(dt) + 1) if dtypes.is_float(dt) else 0
        for shape, axes in (((5, 8), (1,)), ((8, 5), (0,)), ((2, 4, 3), (0, 2))):
            if dt == dtypes.bool:
                x = rng.random(shape) < 0.3
            elif dtypes.is_int(dt):
                x = data.full_range(rng, dt, shape)
            else:
                m = max(1, min(8, exact // 8))
                x = data.round_to(dt, rng.integers(-m, m, shape, endpoint=True))
            with _dtypes_or_refused(cdev, dt):
                got = data.from_device(Tensor(data.to_device(x, dt, cdev).uop.reduce_axis(op, axes)))
            if dt == dtypes.bool:
                want = np.any(x, axis=axes, keepdims=True)
            elif op is Ops.MAX:
                want = np.max(x, axis=axes, keepdims=True)
            else:
                with np.errstate(all="ignore"):
                    want = data.round_to(dt, np.sum(x, axis=axes, keepdims=True, dtype=data.host_np(dt)))
            _check(got, want, dt, False, f"{op.name} over {axes} of {shape} {dt}", [x])

    def test_reduce_large(self, cdev: str, rng: np.random.Generator) -> None:
        from tinygrad.tensor import Tensor

        x = rng.standard_normal((3, 1000)).astype(np.float32)
        t = Tensor(x, device=cdev)
        np.testing.assert_allclose(t.sum(axis=1).numpy(), x.sum(axis=1), rtol=1e-5, atol=1e-3)
        np.testing.assert_allclose(t.sum().numpy(), x.sum(), rtol=1e-5, atol=1e-3)
        np.testing.assert_array_equal(t.max(axis=1).numpy(), x.max(axis=1))
        i = rng.integers(-1000, 1000, 4000).astype(np.int32)
        assert Tensor(i, device=cdev).sum().item() == int(i.sum())

    MOVEMENT: dict[str, tuple[Callable[[Any], Any], Callable[[np.ndarray], np.ndarray]]] = {
        "permute": (lambda t: t.permute(2, 0, 1), lambda x: x.transpose(2, 0, 1)),
        "flip": (lambda t: t.flip(1), lambda x: x[:, ::-1]),
        "pad": (lambda t: t.pad(((1, 2), (0, 1), (2, 0))), lambda x: np.pad(x, ((1, 2), (0, 1), (2, 0)))),
        "shrink": (lambda t: t.shrink(((1, 3), (0, 4), (2, 5))), lambda x: x[1:3, 0:4, 2:5]),
        "expand": (lambda t: t.shrink(((0, 3), (0, 1), (0, 5))).expand(3, 4, 5),
                   lambda x: np.broadcast_to(x[:, 0:1], (3, 4, 5))),
        "reshape_permute": (lambda t: t.reshape(5, 12).permute(1, 0), lambda x: x.reshape(5, 12).T),
        "stride2": (lambda t: t.reshape(3, 2, 10).shrink(((0, 3), (0, 1), (0, 10))).reshape(3, 10),
                    lambda x: x.reshape(6, 10)[::2]),
        "chain": (lambda t: t.permute(2, 0, 1).flip(0).pad(((1, 0), (0, 2), (1, 1))).shrink(((1, 6), (1, 4), (0, 5)))
                  .reshape(5, 3, 5).expand(2, 5, 3, 5),
                  lambda x: np.broadcast_to(np.pad(x.transpose(2, 0, 1)[::-1], ((1, 0), (0, 2), (1, 1)))[1:6, 1:4, 0:5],
                                            (2, 5, 3, 5))),
    }  # fmt: skip

    @pytest.mark.parametrize("dt", [dtypes.float32, dtypes.int16], ids=lambda d: d.name)
    @pytest.mark.parametrize("name", list(MOVEMENT))
    def test_movement(self, cdev: str, rng: np.random.Generator, name: str, dt: DType) -> None:
        fn, ref = self.MOVEMENT[name]
        x = data.random_values(rng, dt, (3, 4, 5))
        with _dtypes_or_refused(cdev, dt):
            got = data.from_device(fn(data.to_device(x, dt, cdev)))
        np.testing.assert_array_equal(got, ref(x), err_msg=f"{name} of {x.tolist()}")

    def test_gather(self, cdev: str, rng: np.random.Generator) -> None:
        """x[idx] built the way core builds indexing: a one-hot compare against arange, where, sum."""
        from tinygrad.tensor import Tensor

        x = rng.standard_normal(40).astype(np.float32)
        idx = rng.integers(0, 40, 25).astype(np.int32)
        onehot = Tensor.arange(40, device=cdev).reshape(1, 40) == Tensor(idx, device=cdev).reshape(25, 1)
        got = onehot.where(Tensor(x, device=cdev).reshape(1, 40), 0.0).sum(axis=1).numpy()
        np.testing.assert_array_equal(got, x[idx])

    @pytest.mark.parametrize(
        "dt",
        [dtypes.float32, dtypes.float16, dtypes.bfloat16, dtypes.float64, dtypes.int32, dtypes.int8],
        ids=lambda d: d.name,
    )
    def test_matmul(self, cdev: str, rng: np.random.Generator, dt: DType) -> None:
        """Broadcast-multiply and reduce, the kernel core builds for `@`; small integer inputs make it exact."""
        for b, n, k, m in ((1, 1, 1, 1), (1, 7, 13, 5), (1, 33, 16, 17), (3, 8, 16, 4)):
            a = data.round_to(dt, rng.integers(-3, 3, (b, n, k), endpoint=True))
            w = data.round_to(dt, rng.integers(-3, 3, (b, k, m), endpoint=True))
            ta, tw = data.to_device(a, dt, cdev), data.to_device(w, dt, cdev)
            out = (ta.reshape(b, n, k, 1) * tw.reshape(b, 1, k, m)).sum(axis=2)
            with _dtypes_or_refused(cdev, dt, out.dtype):
                got = data.from_device(out)
            want = data.round_to(out.dtype, np.matmul(a.astype(np.int64), w.astype(np.int64)))
            _check(got, want, out.dtype, False, f"matmul {dt} {(b, n, k, m)}", [a, w])

    def test_matmul_float32_random(self, cdev: str, rng: np.random.Generator) -> None:
        from tinygrad.tensor import Tensor

        a = rng.standard_normal((37, 64)).astype(np.float32)
        w = rng.standard_normal((64, 29)).astype(np.float32)
        out = (Tensor(a, device=cdev).reshape(37, 64, 1) * Tensor(w, device=cdev).reshape(1, 64, 29)).sum(axis=1)
        np.testing.assert_allclose(out.numpy(), a @ w, rtol=1e-4, atol=1e-4)

    @pytest.mark.parametrize("n", [1, 2, 17, 1000, 65537], ids=str)
    def test_sizes(self, cdev: str, rng: np.random.Generator, n: int) -> None:
        from tinygrad.tensor import Tensor

        a, b = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
        np.testing.assert_array_equal((Tensor(a, device=cdev) + Tensor(b, device=cdev)).numpy(), a + b)


class JitSuite(_Suite):
    """TinyJit capture and replay on the device, and the device's Graph where it offers one."""

    def _replay(self, dev: str, rng: np.random.Generator) -> Any:
        from tinygrad.engine.jit import TinyJit
        from tinygrad.helpers import JIT
        from tinygrad.tensor import Tensor

        @TinyJit
        def step(a: Tensor, b: Tensor) -> Tensor:
            return ((a * b).sum(axis=1) + a.max(axis=1)).realize()

        for i in range(5):
            a, b = rng.standard_normal((6, 9)).astype(np.float32), rng.standard_normal((6, 9)).astype(np.float32)
            got = step(Tensor(a, device=dev), Tensor(b, device=dev)).numpy()
            np.testing.assert_allclose(got, (a * b).sum(axis=1) + a.max(axis=1), rtol=1e-5, atol=1e-5,
                                       err_msg=f"call {i}")  # fmt: skip
        if JIT:
            assert getattr(step, "captured", None), "TinyJit captured no kernels"
        return step

    def test_jit_replay(self, cdev: str, rng: np.random.Generator) -> None:
        self._replay(cdev, rng)

    def test_graph_replay(self, cdev: str, rng: np.random.Generator) -> None:
        from tinygrad.device import Device

        if Device[cdev].graph is None:
            pytest.skip("Compiled.graph is None: the device offers no Graph for batched JIT replay")
        self._replay(cdev, rng)


SUITES: dict[str, type[_Suite]] = {
    "Device": DeviceSuite,
    "Allocator": AllocatorSuite,
    "Renderer": RendererSuite,
    "Compiler": CompilerSuite,
    "Kernels": KernelSuite,
    "Jit": JitSuite,
}


def conformance_tests(device: str | None = None, known_failures: dict[str, str] | None = None) -> dict[str, type]:
    """The conformance test classes for `device` (None: the default device, DEV), keyed by class name, for
    `globals().update(...)` in a test module. Class names carry the device (TestAllocator_CPU), so one module
    can test several devices. `known_failures` maps test names as pytest prints them (`*` and `?` are wildcards,
    e.g. "test_alu[IDIV-*]") to the reason: those tests are marked xfail(strict=True), so a fix shows as XPASS.

    >>> sorted(conformance_tests("CPU"))[:2]
    ['TestAllocator_CPU', 'TestCompiler_CPU']
    """
    suffix = "" if device is None else "_" + re.sub(r"\W", "_", device.upper())
    out: dict[str, type] = {}
    for role, base in SUITES.items():
        name = f"Test{role}{suffix}"
        attrs = {"device": device, "known_failures": dict(known_failures or {}), "__doc__": base.__doc__}
        out[name] = type(name, (base,), attrs)
    return out


def main(argv: list[str] | None = None) -> int:
    """`python -m tinygrad.testing.conformance DEVICE [DEVICE ...] [pytest args]`: run the suite on each device
    from a throwaway test module; everything from the first argument starting with "-" on goes to pytest.
    Returns pytest's exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    first_opt = next((i for i, a in enumerate(args) if a.startswith("-")), len(args))
    devices, extra = args[:first_opt], args[first_opt:]
    if not devices:
        print(main.__doc__)
        return 2
    with tempfile.TemporaryDirectory(prefix="tinygrad-conformance-") as d:
        path = Path(d) / "test_conformance.py"
        lines = [f"globals().update(conformance_tests({dev!r}))" for dev in devices]
        path.write_text("from tinygrad.testing.conformance import conformance_tests\n\n" + "\n".join(lines) + "\n")
        # an ini of its own: the caller's project settings (testpaths, addopts) must not apply
        ini = Path(d) / "pytest.ini"
        ini.write_text("[pytest]\n")
        return int(pytest.main([str(path), "-p", "no:cacheprovider", "--rootdir", d, "-c", str(ini), *extra]))


if __name__ == "__main__":
    sys.exit(main())
