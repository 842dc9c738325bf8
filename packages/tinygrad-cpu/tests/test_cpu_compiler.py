"""CPU backend: C compiler behaviour, loading and calling compiled kernels on host buffers."""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np
import pytest

from tinygrad.errors import CompileError
from tinygrad_cpu import probe_cpu, tinygrad_devices
from tinygrad_cpu.allocator import CPUAllocator
from tinygrad_cpu.compiler import CFLAGS, CCompiler
from tinygrad_cpu.program import CPUProgram

pytestmark = pytest.mark.skipif(probe_cpu() is not None, reason=f"CPU backend unavailable: {probe_cpu()}")

MULADD = """
void muladd(float* restrict out, const float* restrict a, const float* restrict b, const float* restrict c) {
  for (long long i = 0; i < 64; i++) out[i] = a[i] * b[i] + c[i];
}
"""


def to_buf(alloc: CPUAllocator, x: np.ndarray) -> object:
    buf = alloc.alloc(x.nbytes)
    alloc.copyin(buf, np.ascontiguousarray(x).data.cast("B"))
    return buf


def from_buf(alloc: CPUAllocator, buf: object, like: np.ndarray) -> np.ndarray:
    out = np.empty_like(like)
    alloc.copyout(out.data.cast("B"), buf)
    return out


def test_compile_and_run_matches_numpy_bitwise() -> None:
    # -ffp-contract=off: a*b+c must round twice, exactly like numpy, not once as a fused multiply-add
    rng = np.random.default_rng(0)
    a, b, c = (rng.standard_normal(64).astype(np.float32) for _ in range(3))
    alloc = CPUAllocator()
    bufs = [to_buf(alloc, x) for x in (np.zeros(64, np.float32), a, b, c)]
    prg = CPUProgram("muladd", CCompiler().compile(MULADD))
    assert prg(*bufs) is None
    np.testing.assert_array_equal(from_buf(alloc, bufs[0], a), a * b + c)


def test_wait_returns_elapsed_seconds() -> None:
    alloc = CPUAllocator()
    bufs = [to_buf(alloc, np.ones(64, np.float32)) for _ in range(4)]
    t = CPUProgram("muladd", CCompiler().compile(MULADD))(*bufs, global_size=(1,), wait=True)
    assert isinstance(t, float) and t >= 0.0


def test_int_args_and_wrapping_overflow() -> None:
    # -fwrapv: signed overflow wraps like numpy int32 instead of being undefined behaviour
    src = "void k(int* restrict out, const int n) { out[0] = n + 1; out[1] = (n + 1) > n; }"
    alloc = CPUAllocator()
    out = to_buf(alloc, np.zeros(2, np.int32))
    CPUProgram("k", CCompiler().compile(src))(out, vals=(2**31 - 1,))
    assert from_buf(alloc, out, np.zeros(2, np.int32)).tolist() == [-(2**31), 0]


def test_float16() -> None:
    src = """
void h(_Float16* restrict out, const _Float16* restrict a, const _Float16* restrict b) {
  for (long long i = 0; i < 32; i++) { const _Float16 x = a[i] * b[i]; out[i] = x + a[i]; }
}
"""
    rng = np.random.default_rng(1)
    a, b = (rng.standard_normal(32).astype(np.float16) * 10 for _ in range(2))
    alloc = CPUAllocator()
    bufs = [to_buf(alloc, x) for x in (np.zeros(32, np.float16), a, b)]
    CPUProgram("h", CCompiler().compile(src))(*bufs)
    np.testing.assert_array_equal(from_buf(alloc, bufs[0], a).view(np.uint16), (a * b + a).view(np.uint16))


def test_same_name_different_code_never_aliases() -> None:
    # the loader caches libraries by path and inode: two kernels with one name must still be two functions
    libs = [CCompiler().compile(f"void k(int* restrict out) {{ out[0] = {v}; }}") for v in (1, 2, 1)]
    out = (ctypes.c_int * 1)()
    got = []
    for lib in libs:
        CPUProgram("k", lib)(ctypes.addressof(out))
        got.append(out[0])
    assert got == [1, 2, 1]


def test_compile_error_carries_log_and_numbered_source() -> None:
    src = "void broken(float* restrict out) {\n  out[0] = undefined_name;\n}\n"
    with pytest.raises(CompileError) as e:
        CCompiler().compile(src)
    msg = str(e.value)
    assert "undefined_name" in msg and "error" in msg  # the compiler's own diagnostic
    assert "   2 |   out[0] = undefined_name;" in msg  # the offending line, numbered


def test_missing_function_is_reported() -> None:
    lib = CCompiler().compile("void present(int* restrict out) { out[0] = 0; }")
    with pytest.raises(RuntimeError, match="absent"):
        CPUProgram("absent", lib)


def test_disk_cache_hit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CACHEDIR", str(tmp_path))
    comp = CCompiler()
    calls: list[str] = []
    real = comp.compile

    def counting_compile(src: str) -> bytes:
        calls.append(src)
        return real(src)

    monkeypatch.setattr(comp, "compile", counting_compile)
    first = comp.compile_cached(MULADD)
    second = comp.compile_cached(MULADD)
    assert first == second and len(calls) == 1
    assert any(p.is_file() for p in tmp_path.rglob("*"))
    # the key changes with the flags, so a different build never reuses this entry
    other = CCompiler(flags=(*CFLAGS, "-O1"))
    assert other.cachekey != comp.cachekey


def test_cachekey_names_compiler_version_and_flags() -> None:
    comp = CCompiler()
    assert comp.cachekey is not None
    assert comp.tc.path in comp.cachekey and comp.tc.version in comp.cachekey
    assert "-ffp-contract=off" in comp.cachekey and "-ffast-math" not in comp.cachekey


def test_device_spec_and_describe() -> None:
    (spec,) = tinygrad_devices()
    assert spec.name == "CPU" and spec.probe is not None and spec.probe() is None
    dev = spec.open("CPU")
    info = dev.describe()
    assert info["renderer"] == "CRenderer" and info["compiler"] and info["version"] and info["march"]
