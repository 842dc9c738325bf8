"""Every dtype computes correctly on the selected device: casts (incl. emulated bfloat16/fp8) bit-exact with
torch, arithmetic per dtype, 64-bit integers, bitcast, promotion, and data access."""

import numpy as np
import pytest
import torch

from tinygrad import Tensor, dtypes
from tinygrad.dtype import least_upper_dtype
from tinygrad.errors import DTypeError

TORCH = {
    dtypes.bool: torch.bool, dtypes.int8: torch.int8, dtypes.uint8: torch.uint8, dtypes.int16: torch.int16,
    dtypes.uint16: torch.uint16, dtypes.int32: torch.int32, dtypes.uint32: torch.uint32, dtypes.int64: torch.int64,
    dtypes.uint64: torch.uint64, dtypes.float16: torch.float16, dtypes.bfloat16: torch.bfloat16,
    dtypes.float32: torch.float32, dtypes.float64: torch.float64, dtypes.fp8e4m3: torch.float8_e4m3fn,
    dtypes.fp8e5m2: torch.float8_e5m2,
}  # fmt: skip
FLOATS = [dtypes.float16, dtypes.bfloat16, dtypes.float32, dtypes.float64, dtypes.fp8e4m3, dtypes.fp8e5m2]


def same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))


def spread(rng, n=64):
    mags = 10.0 ** rng.integers(-8, 6, n)
    special = [0.0, -0.0, np.inf, -np.inf, np.nan, 448, 464, 57344, 61440, 65504, 1e-7, 6e-8, 1.5, 2.5]
    return np.concatenate([(rng.standard_normal(n) * mags).astype(np.float32), np.array(special, np.float32)])


@pytest.mark.parametrize("dt", FLOATS, ids=str)
def test_float_cast_roundtrip_bit_exact_with_torch(rng, dt):
    x = spread(rng)
    got = Tensor(x).cast(dt).cast(dtypes.float32).numpy()
    ref = torch.tensor(x).to(TORCH[dt]).to(torch.float32).numpy()
    assert same(got, ref), (x[got != ref], got[got != ref], ref[got != ref])


@pytest.mark.parametrize("dt", [dtypes.float16, dtypes.bfloat16, dtypes.float32, dtypes.float64], ids=str)
@pytest.mark.parametrize("op", ["add", "mul", "div", "sub", "max"])
def test_float_arithmetic_rounds_like_torch(rng, dt, op):
    a, b = rng.standard_normal(40).astype(np.float32) * 3, rng.standard_normal(40).astype(np.float32) * 3
    ta, tb = torch.tensor(a).to(TORCH[dt]), torch.tensor(b).to(TORCH[dt])
    A, B = Tensor(a).cast(dt), Tensor(b).cast(dt)
    f = {"add": lambda x, y: x + y, "mul": lambda x, y: x * y, "div": lambda x, y: x / y,
         "sub": lambda x, y: x - y, "max": lambda x, y: x.maximum(y)}[op]  # fmt: skip
    got = f(A, B)
    assert got.dtype == dt
    ref = f(ta, tb).to(torch.float64).numpy()
    np.testing.assert_array_equal(got.cast(dtypes.float64).numpy(), ref)


@pytest.mark.parametrize("dt", FLOATS, ids=str)
def test_emulated_float_to_int_and_back(rng, dt):
    x = (rng.standard_normal(30) * 20).astype(np.float32)
    t = Tensor(x).cast(dt)
    ref = torch.tensor(x).to(TORCH[dt]).to(torch.float32).to(torch.int32).numpy()
    np.testing.assert_array_equal(t.cast(dtypes.int32).numpy(), ref)
    ints = rng.integers(-100, 100, 30).astype(np.int32)
    ref2 = torch.tensor(ints).to(TORCH[dt]).to(torch.float32).numpy()
    np.testing.assert_array_equal(Tensor(ints).cast(dt).cast(dtypes.float32).numpy(), ref2)


@pytest.mark.parametrize("dt", [dtypes.int64, dtypes.uint64])
def test_64bit_integers(rng, dt):
    npdt = np.int64 if dt == dtypes.int64 else np.uint64
    big = np.array([2**62 + 12345, 2**40 + 7, 3, 2**33], dtype=npdt)
    a = (big + rng.integers(0, 1000, 4).astype(npdt)).astype(npdt)
    b = rng.integers(1, 2**20, 4).astype(npdt)
    A, B = Tensor(a), Tensor(b)
    np.testing.assert_array_equal((A + B).numpy(), a + b)
    np.testing.assert_array_equal((A * B).numpy(), a * b)  # wraps like numpy
    np.testing.assert_array_equal((A // B).numpy(), a // b)
    np.testing.assert_array_equal((A % B).numpy(), a % b)
    np.testing.assert_array_equal((A >> 3).numpy(), a >> npdt(3))
    np.testing.assert_array_equal(A.max().numpy(), a.max())
    assert A.tolist() == a.tolist()


@pytest.mark.parametrize("dt", [dtypes.int8, dtypes.uint8, dtypes.int16, dtypes.uint16, dtypes.int32, dtypes.uint32])
def test_small_ints_wrap(rng, dt):
    npdt = dt.np
    info = np.iinfo(npdt)
    a = rng.integers(info.min, info.max, 50, endpoint=True).astype(npdt)
    b = rng.integers(info.min, info.max, 50, endpoint=True).astype(npdt)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal((Tensor(a) + Tensor(b)).numpy(), a + b)
        np.testing.assert_array_equal((Tensor(a) * Tensor(b)).numpy(), a * b)
        np.testing.assert_array_equal((Tensor(a) ^ Tensor(b)).numpy(), a ^ b)


def test_bitcast(rng):
    x = rng.standard_normal(16).astype(np.float32)
    np.testing.assert_array_equal(Tensor(x).bitcast(dtypes.uint32).numpy(), x.view(np.uint32))
    np.testing.assert_array_equal(Tensor(x.view(np.int32)).bitcast(dtypes.float32).numpy(), x)
    h = x.astype(np.float16)
    np.testing.assert_array_equal(Tensor(h).bitcast(dtypes.uint16).numpy(), h.view(np.uint16))
    bf = Tensor(x).cast(dtypes.bfloat16).bitcast(dtypes.uint16).numpy()
    np.testing.assert_array_equal(bf, torch.tensor(x).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16))


def test_bitcast_size_mismatch_raises():
    with pytest.raises(DTypeError):
        Tensor([1.0, 2.0]).bitcast(dtypes.float16)


@pytest.mark.parametrize(
    "a,b,want",
    [
        (dtypes.int8, dtypes.uint8, dtypes.int16),
        (dtypes.float16, dtypes.bfloat16, dtypes.float32),
        (dtypes.bool, dtypes.int32, dtypes.int32),
        (dtypes.int64, dtypes.float16, dtypes.float16),
        (dtypes.uint32, dtypes.int32, dtypes.int64),
        (dtypes.float32, dtypes.float64, dtypes.float64),
        (dtypes.uint8, dtypes.uint64, dtypes.uint64),
        (dtypes.fp8e4m3, dtypes.fp8e5m2, dtypes.float16),
    ],
    ids=str,
)
def test_promotion_lattice(a, b, want):
    assert least_upper_dtype(a, b) == want
    assert (Tensor([1], dtype=a) + Tensor([1], dtype=b)).dtype == want


def test_python_scalars_keep_tensor_dtype():
    assert (Tensor([1, 2], dtype=dtypes.int8) + 1).dtype == dtypes.int8
    assert (Tensor([1, 2], dtype=dtypes.float16) * 2.5).dtype == dtypes.float16
    assert (Tensor([1, 2]) * 2.5).dtype == dtypes.default_float
    assert (Tensor([True]) + 1).dtype == dtypes.default_int


@pytest.mark.parametrize("dt", list(TORCH), ids=str)
def test_data_access_every_dtype(rng, dt):
    vals = [0, 1, 2, 3] if dt != dtypes.bool else [True, False, True, True]
    t = Tensor(vals, dtype=dt)
    assert t.dtype == dt
    assert [float(v) for v in t.tolist()] == [float(v) for v in vals]
    assert t.numpy().shape == (4,)
    assert len(bytes(t.data())) == 4 * dt.itemsize
    assert float(t[1].item()) == float(vals[1])
