"""The runtime half of the backend (device, allocator, program) against a fake libcuda built from
fake_libcuda.c: host memory stands behind device pointers and one fake kernel ("fill") runs on the host. This
checks every driver prototype and argument this package passes, the staging copies and the launch parameter
array, on machines without a GPU. Real-GPU behaviour is test_cuda_gpu.py's job."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tinygrad.errors import DeviceError
from tinygrad_cuda import allocator as allocator_mod
from tinygrad_cuda import libcuda, probe_cuda
from tinygrad_cuda.compiler import find_nvrtc
from tinygrad_cuda.device import CUDADevice, parse_ordinal
from tinygrad_cuda.libcuda import CUDAError
from tinygrad_cuda.program import CUDAProgram

HERE = Path(__file__).parent
pytestmark = [
    pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler to build the fake libcuda"),
    pytest.mark.skipif(find_nvrtc() is None, reason="NVRTC not found (the device builds its compiler)"),
]


@pytest.fixture(scope="module")
def fake_lib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fakecuda") / "libcuda_fake.so"
    subprocess.run(["cc", "-O1", "-shared", "-fPIC", "-o", str(out), str(HERE / "fake_libcuda.c")], check=True)
    return out


@pytest.fixture
def fake(fake_lib: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ctypes.CDLL]:
    """The fake driver loaded as the process's libcuda; its counters are reset for each test."""
    monkeypatch.setenv("LIBCUDA_PATH", str(fake_lib))
    libcuda.driver.cache_clear()
    lib = ctypes.CDLL(str(fake_lib))
    for name in ("fake_live_allocs", "fake_launches", "fake_htod_calls", "fake_dtoh_calls", "fake_peer_copies"):
        ctypes.c_int.in_dll(lib, name).value = 0
    ctypes.c_int.in_dll(lib, "fake_device_count").value = 2
    ctypes.c_size_t.in_dll(lib, "fake_alloc_limit").value = 0
    yield lib
    libcuda.driver.cache_clear()


def counter(lib: ctypes.CDLL, name: str) -> int:
    return ctypes.c_int.in_dll(lib, name).value


def test_probe_accepts_a_working_driver(fake: ctypes.CDLL) -> None:
    assert probe_cuda() is None


def test_probe_reports_no_gpu(fake: ctypes.CDLL) -> None:
    ctypes.c_int.in_dll(fake, "fake_device_count").value = 0
    assert probe_cuda() == "the CUDA driver sees no GPU"


def test_probe_reports_a_missing_driver(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LIBCUDA_PATH", str(tmp_path / "libcuda.so.1"))
    libcuda.driver.cache_clear()
    try:
        why = probe_cuda()
        assert why is not None and "cannot load the CUDA driver library" in why and "NVIDIA driver" in why
    finally:
        libcuda.driver.cache_clear()


def test_device_open_and_describe(fake: ctypes.CDLL) -> None:
    dev = CUDADevice("CUDA:1")
    assert dev.ordinal == 1 and dev.compute_capability == (9, 0)
    info = dev.describe()
    assert info["name"] == "Fake GPU 1" and info["compute capability"] == "9.0"
    assert info["driver"].startswith("CUDA 13.0") and info["multiprocessors"] == "132"
    assert info["memory"] == "80.0 GiB" and "sm_90" in info["target"] and info["nvrtc"]
    assert ctypes.c_void_p.in_dll(fake, "fake_current_ctx").value == 0x1001
    dev.synchronize()


def test_ordinals(fake: ctypes.CDLL) -> None:
    assert parse_ordinal("CUDA") == 0 and parse_ordinal("CUDA:3") == 3
    with pytest.raises(DeviceError, match="CUDA:<ordinal>"):
        parse_ordinal("CUDA:x")
    with pytest.raises(DeviceError, match=r"2 CUDA device\(s\), CUDA to CUDA:1"):
        CUDADevice("CUDA:2")


def test_copy_roundtrip_through_chunked_staging(fake: ctypes.CDLL, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(allocator_mod, "STAGING_BYTES", 64)  # 1000 bytes: 16 chunks through 2 staging buffers
    dev = CUDADevice("CUDA")
    alloc = dev.allocator
    data = np.random.default_rng().integers(0, 255, 1000, dtype=np.uint8)
    buf = alloc.alloc(1000)
    alloc.copyin(buf, memoryview(data.tobytes()))
    out = bytearray(1000)
    alloc.copyout(memoryview(out), buf)
    assert bytes(out) == data.tobytes()
    assert counter(fake, "fake_htod_calls") == 16 and counter(fake, "fake_dtoh_calls") == 16
    assert len(alloc._staging) == 2
    alloc.free_staging()
    assert alloc._staging == []


def test_lru_reuse_and_free(fake: ctypes.CDLL) -> None:
    dev = CUDADevice("CUDA")
    alloc = dev.allocator
    a = alloc.alloc(256)
    alloc.free(a, 256)
    assert alloc.alloc(256) == a and counter(fake, "fake_live_allocs") == 1
    alloc.free(a, 256)
    alloc.free_cache()
    assert counter(fake, "fake_live_allocs") == 0


def test_out_of_memory_frees_the_cache_and_retries(fake: ctypes.CDLL) -> None:
    dev = CUDADevice("CUDA")
    alloc = dev.allocator
    cached = alloc.alloc(128)
    alloc.free(cached, 128)
    ctypes.c_size_t.in_dll(fake, "fake_alloc_limit").value = 1000
    with pytest.raises(MemoryError, match="out of GPU memory allocating 4096 bytes"):
        alloc.alloc(4096)
    assert counter(fake, "fake_live_allocs") == 0, "the cached buffer was released before the retry"


def test_transfer_within_and_across_gpus(fake: ctypes.CDLL) -> None:
    d0, d1 = CUDADevice("CUDA"), CUDADevice("CUDA:1")
    src, same, other = d0.allocator.alloc(64), d0.allocator.alloc(64), d1.allocator.alloc(64)
    payload = bytes(range(64))
    d0.allocator.copyin(src, memoryview(payload))
    d0.allocator.transfer(same, src, 64, d0, d0)
    d1.allocator.transfer(other, src, 64, d0, d1)
    for dev, buf in ((d0, same), (d1, other)):
        got = bytearray(64)
        dev.allocator.copyout(memoryview(got), buf)
        assert bytes(got) == payload
    assert counter(fake, "fake_peer_copies") == 1


def test_launch_passes_pointers_ints_and_dims(fake: ctypes.CDLL) -> None:
    dev = CUDADevice("CUDA")
    out = dev.allocator.alloc(4 * 96)
    prg = CUDAProgram(dev, "fill", b"cubin")
    assert prg(out, global_size=(3, 2), local_size=(16,), vals=(1000,)) is None
    assert list((ctypes.c_uint * 6).in_dll(fake, "fake_last_dims")) == [3, 2, 1, 16, 1, 1]
    got = np.zeros(96, np.float32)
    dev.allocator.copyout(got.data.cast("B"), out)
    np.testing.assert_array_equal(got, 1000 + np.arange(96, dtype=np.float32))


def test_wait_returns_seconds(fake: ctypes.CDLL) -> None:
    dev = CUDADevice("CUDA")
    t = CUDAProgram(dev, "noop", b"cubin")(global_size=(1,), local_size=(1,), wait=True)
    assert t == pytest.approx(1.5e-3)


def test_empty_launch_is_skipped(fake: ctypes.CDLL) -> None:
    dev = CUDADevice("CUDA")
    assert CUDAProgram(dev, "noop", b"cubin")(global_size=(0,), local_size=(4,), wait=True) == 0.0
    assert counter(fake, "fake_launches") == 0


def test_too_many_launch_dims(fake: ctypes.CDLL) -> None:
    dev = CUDADevice("CUDA")
    with pytest.raises(DeviceError, match="at most 3 grid dimensions"):
        CUDAProgram(dev, "noop", b"cubin")(global_size=(1, 1, 1, 2))


def test_load_failure_carries_the_jit_log(fake: ctypes.CDLL) -> None:
    dev = CUDADevice("CUDA")
    with pytest.raises(CUDAError, match=r"loading kernel k failed: CUDA_ERROR_INVALID_PTX[\s\S]*fake JIT error"):
        CUDAProgram(dev, "k", b"BAD image")


def test_missing_function(fake: ctypes.CDLL) -> None:
    dev = CUDADevice("CUDA")
    with pytest.raises(CUDAError, match=r"cuModuleGetFunction\('missing'\) failed: CUDA_ERROR_NOT_FOUND"):
        CUDAProgram(dev, "missing", b"cubin")


def test_modules_are_unloaded(fake: ctypes.CDLL) -> None:
    dev = CUDADevice("CUDA")
    before = counter(fake, "fake_modules_unloaded")
    prg = CUDAProgram(dev, "noop", b"cubin")
    del prg
    assert counter(fake, "fake_modules_unloaded") == before + 1


def test_unknown_error_codes_are_still_reported(fake: ctypes.CDLL) -> None:
    drv = libcuda.driver()
    with pytest.raises(CUDAError, match="cuSomething failed: CUresult 12345") as e:
        drv.check(12345, "cuSomething")
    assert e.value.status == 12345 and isinstance(e.value, DeviceError)


def test_missing_driver_symbol_names_it(fake: ctypes.CDLL) -> None:
    with pytest.raises(CUDAError, match="has no cuNotAFunction"):
        libcuda.driver().cuNotAFunction()


@pytest.fixture
def fake_registry(fake: ctypes.CDLL) -> Iterator[ctypes.CDLL]:
    """A fresh plugin registry, so Device["CUDA"] probes (and opens) the fake driver."""
    from tinygrad import plugins

    old = plugins._registry
    plugins.reset_registry(plugins.PluginRegistry())
    yield fake
    plugins.reset_registry(old)


def test_core_copies_and_launches_through_the_device(fake_registry: ctypes.CDLL) -> None:
    from tinygrad import Device, Tensor

    assert "CUDA" in Device.available()
    data = np.random.default_rng().standard_normal(6).astype(np.float32)
    x = Tensor(data, device="CUDA")
    np.testing.assert_array_equal(x.numpy(), data)  # a copy in and out, no kernel
    before = counter(fake_registry, "fake_launches")
    y = (x * 2).realize()  # compiled by NVRTC for sm_90, loaded and launched by the fake
    assert counter(fake_registry, "fake_launches") == before + 1
    assert y.device == "CUDA"
