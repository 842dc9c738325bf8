"""The CUDA device on a real GPU: results against numpy/torch, copies, grids, dtypes, timing, several GPUs.

Every test skips with the probe's reason where no usable GPU is (no driver, no device, no NVRTC)."""

from __future__ import annotations

import os
import secrets

import numpy as np
import pytest

from tinygrad import Device, Tensor, dtypes
from tinygrad_cuda import probe_cuda

WHY = probe_cuda()
pytestmark = pytest.mark.skipif(WHY is not None, reason=f"no usable CUDA GPU: {WHY}")
DEV = "CUDA"


@pytest.fixture
def rng() -> np.random.Generator:
    """Fresh random inputs each run; the seed is printed (shown on failure) and TINYGRAD_TEST_SEED reuses one."""
    seed = int(os.environ.get("TINYGRAD_TEST_SEED") or secrets.randbits(32))
    print(f"random seed {seed}: rerun with TINYGRAD_TEST_SEED={seed}")
    return np.random.default_rng(seed)


def gpu(x: np.ndarray) -> Tensor:
    return Tensor(x, device=DEV)


def test_device_describe() -> None:
    info = Device[DEV].describe()
    assert info["name"] and info["compute capability"] and info["nvrtc"] and "CUDA" in info["driver"]
    assert info["headers"] and not info["headers"].startswith("not found")


def test_multiply_add_matches_numpy_bitwise(rng: np.random.Generator) -> None:
    # --fmad=false: a*b+c rounds twice, exactly as numpy computes it
    a, b, c = (rng.standard_normal((33, 65)).astype(np.float32) for _ in range(3))
    got = (gpu(a) * gpu(b) + gpu(c)).numpy()
    np.testing.assert_array_equal(got, a * b + c)


def test_big_copy_through_staging(rng: np.random.Generator) -> None:
    x = rng.standard_normal(5_000_003).astype(np.float32)  # > 16 MiB: several staging chunks, odd size
    np.testing.assert_array_equal(gpu(x).numpy(), x)
    np.testing.assert_array_equal((gpu(x) + 0).numpy(), x)


def test_grids_of_every_shape(rng: np.random.Generator) -> None:
    for shape, perm in (((3, 5, 7), (2, 0, 1)), ((2, 3, 4, 5), (3, 1, 0, 2)), ((70000, 2), (1, 0)), ((1 << 20,), (0,))):
        x = rng.standard_normal(shape).astype(np.float32)
        np.testing.assert_array_equal((gpu(x).permute(*perm) * 2).numpy(), x.transpose(perm) * 2)


def test_reductions(rng: np.random.Generator) -> None:
    x = rng.standard_normal((300, 1000)).astype(np.float32)
    np.testing.assert_allclose(gpu(x).sum(1).numpy(), x.sum(1, dtype=np.float64), rtol=1e-4, atol=1e-3)
    np.testing.assert_array_equal(gpu(x).max(0).numpy(), x.max(0))
    y = x.copy()
    y[5, 7] = np.nan
    assert np.isnan(gpu(y).max(1).numpy()[5]), "max propagates NaN like torch"


def test_matmul(rng: np.random.Generator) -> None:
    a, b = rng.standard_normal((67, 129)).astype(np.float32), rng.standard_normal((129, 45)).astype(np.float32)
    np.testing.assert_allclose((gpu(a) @ gpu(b)).numpy(), a @ b, rtol=1e-4, atol=1e-4)


def test_transcendentals(rng: np.random.Generator) -> None:
    x = rng.uniform(0.01, 20, 4096).astype(np.float32)
    t = gpu(x)
    np.testing.assert_allclose(t.exp().numpy(), np.exp(x), rtol=1e-5)
    np.testing.assert_allclose(t.log().numpy(), np.log(x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(t.sin().numpy(), np.sin(x), atol=1e-5)
    np.testing.assert_allclose(t.sqrt().numpy(), np.sqrt(x), rtol=0)  # IEEE sqrt: correctly rounded


def test_integer_semantics() -> None:
    a = np.array([7, -7, 2**31 - 1, -(2**31), 5, 9], np.int32)
    b = np.array([2, 2, 1, -1, 0, -1], np.int32)
    assert (gpu(a) // gpu(b)).numpy().tolist()[:2] == [3, -4]  # floor division, as Python and torch
    assert gpu(a).div(gpu(b), rounding_mode="trunc").numpy().tolist()[:2] == [3, -3]  # C truncation
    assert (gpu(a) // gpu(b)).numpy().tolist()[4] == 0  # division by zero is 0, not a fault
    assert (gpu(a) + 1).numpy().tolist()[2] == -(2**31)  # wraps


def test_half_and_bfloat16(rng: np.random.Generator) -> None:
    torch = pytest.importorskip("torch")
    x, y = rng.standard_normal(1000).astype(np.float16), rng.standard_normal(1000).astype(np.float16)
    np.testing.assert_array_equal((gpu(x) * gpu(y)).numpy(), x * y)
    got = (gpu(x).cast(dtypes.bfloat16) + 1).cast(dtypes.float32).numpy()
    want = (torch.from_numpy(x).to(torch.bfloat16) + 1).float().numpy()
    np.testing.assert_array_equal(got, want)


def test_fp8_casts_like_torch(rng: np.random.Generator) -> None:
    torch = pytest.importorskip("torch")
    # overflow: float8_e4m3fn saturates to +-448 (inf included), float8_e5m2 goes to +-inf; ties round to even
    edges = [1e6, -1e6, np.inf, -np.inf, np.nan, 0.0, -0.0, 448.0, 470.0, 500.0, 57344.0, 61440.0, 1e-9]
    x = np.concatenate([rng.standard_normal(500) * 100, edges]).astype(np.float32)
    for dt, tdt in ((dtypes.fp8e4m3, torch.float8_e4m3fn), (dtypes.fp8e5m2, torch.float8_e5m2)):
        got = gpu(x).cast(dt).cast(dtypes.float32).numpy()
        want = torch.from_numpy(x).to(tdt).float().numpy()
        np.testing.assert_array_equal(got, want, err_msg=str(dt))


def test_random_numbers_match_the_cpu_device() -> None:
    if "CPU" not in Device.available():
        pytest.skip("no CPU device to compare with")
    Tensor.manual_seed(1234)
    a = Tensor.rand(1000, device=DEV).numpy()
    Tensor.manual_seed(1234)
    b = Tensor.rand(1000, device="CPU").numpy()
    np.testing.assert_array_equal(a, b)


def test_kernel_timing() -> None:
    from tinygrad.codegen import get_program
    from tinygrad.engine.realize import get_runner

    t = Tensor.empty(1 << 20, device=DEV) * 3
    (si,) = [s for s in t.schedule() if s.is_kernel]
    runner = get_runner(DEV, si.ast)
    elapsed = runner(list(si.bufs), wait=True)
    assert elapsed is not None and 0 < elapsed < 1
    assert get_program(si.ast, Device[DEV].renderer).local_size is not None


def test_jit_replays_on_cuda(rng: np.random.Generator) -> None:
    from tinygrad import TinyJit

    @TinyJit
    def f(a: Tensor, b: Tensor) -> Tensor:
        return (a * b + 1).realize()

    for _ in range(4):
        a, b = rng.standard_normal(64).astype(np.float32), rng.standard_normal(64).astype(np.float32)
        np.testing.assert_array_equal(f(gpu(a), gpu(b)).numpy(), a * b + 1)


def test_second_gpu(rng: np.random.Generator) -> None:
    from tinygrad_cuda.device import device_count

    if device_count() < 2:
        pytest.skip("only one GPU")
    x = rng.standard_normal(1000).astype(np.float32)
    y = (gpu(x).to("CUDA:1") * 2).to(DEV)
    np.testing.assert_array_equal(y.numpy(), x * 2)
    d0, d1 = Device[DEV], Device["CUDA:1"]
    a, b = d0.allocator.alloc(x.nbytes), d1.allocator.alloc(x.nbytes)
    d0.allocator.copyin(a, x.data.cast("B"))
    d1.allocator.transfer(b, a, x.nbytes, d0, d1)  # type: ignore[attr-defined]
    out = np.empty_like(x)
    d1.allocator.copyout(out.data.cast("B"), b)
    np.testing.assert_array_equal(out, x)
