"""Basic tensor ops compared with numpy on fresh random inputs, on whichever device DEV selects.

Every test that draws inputs uses the `rng` fixture (tests/conftest.py): the seed is printed and attached to
failure reports; TINYGRAD_TEST_SEED=<seed> replays it. Shapes stay small so DEV=PYTHON (an interpreter) is fast.
"""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad import Tensor
from tinygrad.dtype import dtypes

F32 = {"rtol": 1e-5, "atol": 1e-6}
TRANSCENDENTAL = {"rtol": 2e-5, "atol": 1e-5}
MATMUL = {"rtol": 1e-5, "atol": 1e-5}

UNARY_SHAPES = [(), (1,), (7,), (3, 4), (2, 3, 4), (0,), (2, 0, 3)]
BINARY_SHAPES = [
    ((), ()),
    ((5,), (5,)),
    ((3, 1), (1, 4)),
    ((2, 3, 4), (4,)),
    ((), (3,)),
    ((3,), ()),
    ((4, 1, 3), (2, 1)),
    ((2, 3, 4), (2, 1, 4)),
    ((0,), (1,)),
    ((1,), (0,)),
    ((2, 0, 3), (3,)),
    ((2, 0, 3), (2, 1, 1)),
]


def _id(x: object) -> str:
    return str(x).replace(" ", "")


# ---------------------------------------------------------------- helpers


def randf(
    rng: np.random.Generator, shape: tuple[int, ...], lo: float | None = None, hi: float | None = None
) -> np.ndarray:
    """float32 data: standard normal, or uniform in [lo, hi)."""
    if lo is None:
        return rng.standard_normal(shape).astype(np.float32)
    return rng.uniform(lo, hi, shape).astype(np.float32)


def randi(rng: np.random.Generator, shape: tuple[int, ...], lo: int = -10, hi: int = 10, dtype=np.int32) -> np.ndarray:
    return rng.integers(lo, hi, shape).astype(dtype)


def nonzero_f(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """float32 bounded away from zero (safe divisors)."""
    return (rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 4.0, shape)).astype(np.float32)


def nonzero_i(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return (rng.choice([-1, 1], shape) * rng.integers(1, 8, shape)).astype(np.int32)


def T(x, **kw) -> Tensor:
    """Tensor from numpy data. 0-d arrays go through a 1-element buffer: Tensor(<0-d ndarray>) itself is covered
    (and currently xfailed) by test_from_numpy / test_from_numpy_scalar."""
    if isinstance(x, (np.ndarray, np.generic)) and x.ndim == 0:
        return Tensor(np.asarray(x).reshape(1), **kw).reshape(())  # a buffer-backed 0-d tensor
    return Tensor(x, **kw)


def check(t: Tensor, expected: np.ndarray | float | int | bool, dtype=None, **tol: float) -> np.ndarray:
    """Compare a tensor with a numpy result: shape, dtype (if given) and values."""
    exp = np.asarray(expected)
    assert isinstance(t, Tensor)
    assert t.shape == exp.shape, f"shape {t.shape} != numpy {exp.shape}"
    if dtype is not None:
        assert t.dtype == dtype, f"dtype {t.dtype} != {dtype}"
    got = t.numpy()
    assert isinstance(got, np.ndarray)
    assert got.shape == exp.shape
    if dtype is not None and dtype.np is not None:
        assert got.dtype == np.dtype(dtype.np), f"numpy() dtype {got.dtype} != {dtype.np}"
    if exp.dtype == np.bool_ or got.dtype == np.bool_:
        np.testing.assert_array_equal(got, exp)
    elif np.issubdtype(exp.dtype, np.integer) and np.issubdtype(got.dtype, np.integer):
        np.testing.assert_array_equal(got, exp)
    else:
        kw = {**F32, **tol}
        np.testing.assert_allclose(got, exp, **kw)
    return got


# ---------------------------------------------------------------- creation


@pytest.mark.parametrize("shape", [(), (1,), (5,), (3, 4), (2, 3, 4), (0,), (2, 0, 3)], ids=_id)
def test_zeros_ones(shape):
    check(Tensor.zeros(*shape), np.zeros(shape, np.float32), dtypes.float32)
    check(Tensor.ones(*shape), np.ones(shape, np.float32), dtypes.float32)
    check(Tensor.zeros(shape), np.zeros(shape, np.float32), dtypes.float32)  # tuple form
    check(Tensor.ones(shape, dtype=dtypes.int32), np.ones(shape, np.int32), dtypes.int32)
    check(Tensor.zeros(shape, dtype="bool"), np.zeros(shape, np.bool_), dtypes.bool)


@pytest.mark.parametrize("shape", [(), (4,), (3, 4), (2, 0, 3)], ids=_id)
def test_full(rng, shape):
    v = float(rng.uniform(-100, 100))
    check(Tensor.full(shape, v), np.full(shape, v, np.float32), dtypes.float32)
    iv = int(rng.integers(-1000, 1000))
    check(Tensor.full(shape, iv), np.full(shape, iv, np.int32), dtypes.int32)
    check(Tensor.full(shape, True), np.full(shape, True), dtypes.bool)
    check(Tensor.full(shape, iv, dtype=dtypes.float32), np.full(shape, iv, np.float32), dtypes.float32)


def test_full_int_shape():
    check(Tensor.full(3, 2.5), np.full(3, 2.5, np.float32), dtypes.float32)


@pytest.mark.parametrize(
    "args",
    [(5,), (0,), (2, 9), (9, 2), (-3, 4), (10, 0, -1), (10, 0, -3), (3, 17, 4), (5, -5, -2)],
    ids=_id,
)
def test_arange_int(args):
    check(Tensor.arange(*args), np.arange(*args, dtype=np.int32), dtypes.int32)


@pytest.mark.parametrize(
    "args",
    [(0.0, 1.0, 0.25), (1, 2, 0.1), (-1.5, 2.0, 0.5), (3.0, -1.0, -0.5), (2.0, 0.0, -0.3), (5.0,), (0.5, 0.5, 0.1)],
    ids=_id,
)
def test_arange_float(args):
    exp = np.arange(*args).astype(np.float32)
    check(Tensor.arange(*args), exp, dtypes.float32, rtol=1e-5, atol=1e-5)


def test_arange_random_bounds(rng):
    start, stop = sorted(int(v) for v in rng.integers(-30, 30, 2))
    step = int(rng.integers(1, 5))
    check(Tensor.arange(start, stop, step), np.arange(start, stop, step, dtype=np.int32), dtypes.int32)
    check(Tensor.arange(stop, start, -step), np.arange(stop, start, -step, dtype=np.int32), dtypes.int32)
    check(Tensor.arange(start, stop, dtype=dtypes.float32), np.arange(start, stop, dtype=np.float32), dtypes.float32)


@pytest.mark.parametrize("shape", [(1,), (7,), (3, 4), (2, 3, 4)], ids=_id)
def test_rand_shape_range(shape):
    t = Tensor.rand(*shape)
    assert t.shape == shape and t.dtype == dtypes.float32
    x = t.numpy()
    assert x.dtype == np.float32
    assert ((x >= 0) & (x < 1)).all()


def test_rand_empty_and_scalar():
    assert Tensor.rand(0).numpy().shape == (0,)
    assert Tensor.rand(2, 0, 3).numpy().shape == (2, 0, 3)
    x = Tensor.rand().numpy()
    assert x.shape == () and 0 <= x < 1


def test_rand_statistics():
    x = Tensor.rand(10000).numpy()
    assert ((x >= 0) & (x < 1)).all()
    assert abs(x.mean() - 0.5) < 0.02
    assert abs(x.std() - np.sqrt(1 / 12)) < 0.02
    # roughly uniform: every tenth of [0, 1) gets about 1000 samples
    hist, _ = np.histogram(x, bins=10, range=(0, 1))
    assert hist.min() > 800 and hist.max() < 1200
    assert len(np.unique(x)) > 9900


def test_rand_calls_differ():
    a, b = Tensor.rand(64).numpy(), Tensor.rand(64).numpy()
    assert not np.array_equal(a, b)
    assert len(np.unique(np.concatenate([a, b]))) > 120


def test_manual_seed_reproducible(seed):
    Tensor.manual_seed(seed)
    a = Tensor.rand(5, 7).numpy()
    an = Tensor.randn(20).numpy()
    Tensor.manual_seed(seed)
    b = Tensor.rand(5, 7).numpy()
    bn = Tensor.randn(20).numpy()
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(an, bn)
    Tensor.manual_seed(seed ^ 0x5A5A5A5A)
    c = Tensor.rand(5, 7).numpy()
    assert not np.array_equal(a, c)


def test_randn_statistics():
    x = Tensor.randn(10000).numpy()
    assert x.dtype == np.float32 and x.shape == (10000,)
    assert np.isfinite(x).all()
    assert abs(x.mean()) < 0.05
    assert abs(x.std() - 1.0) < 0.05
    # about 68% within one sigma
    assert 0.65 < np.mean(np.abs(x) < 1) < 0.71


def test_randn_shape_dtype():
    t = Tensor.randn(3, 4)
    assert t.shape == (3, 4) and t.dtype == dtypes.float32
    assert not np.array_equal(Tensor.randn(16).numpy(), Tensor.randn(16).numpy())


@pytest.mark.parametrize(
    "data,dtype",
    [
        ([1, 2, 3], dtypes.int32),
        ([[1, 2], [3, 4], [5, 6]], dtypes.int32),
        ([[[1], [2]], [[3], [4]]], dtypes.int32),
        ([True, False, True], dtypes.bool),
        ([[True], [False]], dtypes.bool),
        ([1.5, -2.25, 3.0], dtypes.float32),
        ([[1, 2.5], [3, 4]], dtypes.float32),
        ([1, True], dtypes.int32),
        ([], dtypes.float32),
        ([[], []], dtypes.float32),
        ((1, 2, 3), dtypes.int32),
    ],
    ids=_id,
)
def test_from_list(data, dtype):
    exp = np.array(data, dtype=dtype.np)
    got = check(Tensor(data), exp, dtype)
    if exp.size:
        assert Tensor(data).tolist() == exp.tolist()
    assert got.shape == exp.shape


def test_from_list_random(rng):
    vals = rng.standard_normal((3, 4)).astype(np.float32)
    check(Tensor(vals.tolist()), vals, dtypes.float32)
    ivals = randi(rng, (2, 5), -1000, 1000)
    check(Tensor(ivals.tolist()), ivals, dtypes.int32)
    bvals = rng.random((4, 2)) < 0.5
    check(Tensor(bvals.tolist()), bvals, dtypes.bool)


def test_from_list_with_dtype(rng):
    vals = randi(rng, (6,), -50, 50)
    check(Tensor(vals.tolist(), dtype=dtypes.float32), vals.astype(np.float32), dtypes.float32)
    check(Tensor(vals.tolist(), dtype="int64"), vals.astype(np.int64), dtypes.int64)


@pytest.mark.parametrize(
    "value,dtype",
    [(3, dtypes.int32), (-7, dtypes.int32), (2.5, dtypes.float32), (True, dtypes.bool), (False, dtypes.bool)],
    ids=_id,
)
def test_from_scalar(value, dtype):
    t = Tensor(value)
    assert t.shape == () and t.dtype == dtype
    check(t, np.array(value, dtype=dtype.np), dtype)
    assert t.item() == value and type(t.item()) is type(value)


def test_from_scalar_random(rng):
    v = float(rng.standard_normal())
    np.testing.assert_allclose(Tensor(v).item(), np.float32(v), **F32)
    i = int(rng.integers(-(2**30), 2**30))
    assert Tensor(i).item() == i


@pytest.mark.parametrize(
    "npdtype,dtype",
    [
        (np.float32, dtypes.float32),
        (np.float64, dtypes.float64),
        (np.float16, dtypes.float16),
        (np.int8, dtypes.int8),
        (np.int16, dtypes.int16),
        (np.int32, dtypes.int32),
        (np.int64, dtypes.int64),
        (np.uint8, dtypes.uint8),
        (np.uint16, dtypes.uint16),
        (np.uint32, dtypes.uint32),
        (np.bool_, dtypes.bool),
    ],
    ids=lambda x: getattr(x, "__name__", str(x)),
)
@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 0, 3)], ids=_id)
def test_from_numpy(rng, npdtype, dtype, shape):
    if npdtype == np.bool_:
        a = rng.random(shape) < 0.5
    elif np.issubdtype(npdtype, np.integer):
        info = np.iinfo(npdtype)
        a = rng.integers(max(info.min, -1000), min(info.max, 1000), shape, endpoint=True).astype(npdtype)
    else:
        a = (rng.standard_normal(shape) * 10).astype(npdtype)
    t = Tensor(a)
    assert t.dtype == dtype
    got = t.numpy()
    assert got.dtype == a.dtype and got.shape == a.shape
    np.testing.assert_array_equal(got, a)


def test_from_numpy_noncontiguous(rng):
    a = randf(rng, (4, 6))
    check(Tensor(a.T), a.T, dtypes.float32)
    check(Tensor(a[::2, ::-3]), a[::2, ::-3], dtypes.float32)


def test_from_numpy_is_a_copy(rng):
    a = randf(rng, (5,))
    t = Tensor(a)
    orig = a.copy()
    a[:] = 0
    check(t, orig, dtypes.float32)


def test_from_numpy_scalar(rng):
    v = np.float32(rng.standard_normal())
    check(Tensor(v), np.array(v), dtypes.float32)
    i = np.int64(rng.integers(-100, 100))
    check(Tensor(i), np.array(i), dtypes.int64)
    check(Tensor(np.array(True)), np.array(True), dtypes.bool)


def test_from_numpy_dtype_arg(rng):
    a = randf(rng, (3, 2), -20, 20)
    check(Tensor(a, dtype=dtypes.int32), a.astype(np.int32), dtypes.int32)


# ---------------------------------------------------------------- elementwise, binary


BINOPS = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "div": (lambda a, b: a / b, lambda a, b: a / b),
    "maximum": (lambda a, b: a.maximum(b), np.maximum),
    "lt": (lambda a, b: a < b, lambda a, b: a < b),
    "eq": (lambda a, b: a == b, lambda a, b: a == b),
}


def _binop_inputs(rng, name, sa, sb, kind):
    if kind == "float":
        if name == "eq":  # small integers as floats, so equality actually happens
            return rng.integers(0, 3, sa).astype(np.float32), rng.integers(0, 3, sb).astype(np.float32)
        return randf(rng, sa), (nonzero_f(rng, sb) if name == "div" else randf(rng, sb))
    if name == "eq":
        return randi(rng, sa, 0, 3), randi(rng, sb, 0, 3)
    return randi(rng, sa), (nonzero_i(rng, sb) if name == "div" else randi(rng, sb))


@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=_id)
@pytest.mark.parametrize("name", list(BINOPS))
@pytest.mark.parametrize("kind", ["float", "int"])
def test_binop(rng, name, shapes, kind):
    sa, sb = shapes
    a, b = _binop_inputs(rng, name, sa, sb, kind)
    top, nop = BINOPS[name]
    if name in ("lt", "eq"):
        dt, exp = dtypes.bool, nop(a, b)
    elif name == "div":  # true division: int / int gives float
        dt, exp = dtypes.float32, (a.astype(np.float64) / b).astype(np.float32)
    else:
        dt, exp = (dtypes.float32 if kind == "float" else dtypes.int32), nop(a, b)
    check(top(T(a), T(b)), exp, dt)


@pytest.mark.parametrize("shapes", [((3, 1), (1, 4)), ((2, 3), ()), ((4,), (2, 1))], ids=_id)
@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "maximum", "lt", "eq"])
def test_binop_mixed_int_float(rng, name, shapes):
    sa, sb = shapes
    a = nonzero_i(rng, sa) if name == "div" else randi(rng, sa)
    b = nonzero_f(rng, sb) if name == "div" else randf(rng, sb)
    if name == "eq":
        b = randi(rng, sb, 0, 3).astype(np.float32)
        a = randi(rng, sa, 0, 3)
    top, nop = BINOPS[name]
    exp = nop(a.astype(np.float32), b)
    dt = dtypes.bool if name in ("lt", "eq") else dtypes.float32
    check(top(T(a), T(b)), exp, dt)
    check(top(T(b), T(a)), nop(b, a.astype(np.float32)), dt)


@pytest.mark.parametrize("shape", [(), (5,), (2, 3), (0,)], ids=_id)
def test_int_true_division(rng, shape):
    a, b = randi(rng, shape, -100, 100), nonzero_i(rng, shape)
    out = T(a) / T(b)
    assert out.dtype == dtypes.float32
    check(out, (a / b).astype(np.float32), dtypes.float32)
    check(T(a).div(T(b)), (a / b).astype(np.float32), dtypes.float32)
    check(T(a) / 4, (a / 4).astype(np.float32), dtypes.float32)


@pytest.mark.parametrize("shape", [(), (6,), (3, 4), (2, 0, 3)], ids=_id)
def test_scalar_ops_float(rng, shape):
    a = randf(rng, shape)
    d = nonzero_f(rng, shape)
    s = float(rng.uniform(-5, 5))
    i = int(rng.integers(-5, 6))
    f32 = dtypes.float32
    check(T(a) + s, a + np.float32(s), f32)
    check(s + T(a), np.float32(s) + a, f32)
    check(T(a) - s, a - np.float32(s), f32)
    check(s - T(a), np.float32(s) - a, f32)
    check(2 - T(a), 2 - a, f32)
    check(T(a) * i, a * np.float32(i), f32)
    check(i * T(a), np.float32(i) * a, f32)
    check(T(a) / s if s else T(a), a / np.float32(s) if s else a, f32)
    check(2 / T(d), np.float32(2) / d, f32)
    check(s / T(d), np.float32(s) / d, f32)
    check(T(a).maximum(s), np.maximum(a, np.float32(s)), f32)
    check(T(a) < s, a < np.float32(s), dtypes.bool)
    check(T(a) == T(a), np.ones(shape, bool), dtypes.bool)


@pytest.mark.parametrize("shape", [(), (6,), (3, 4), (0, 2)], ids=_id)
def test_scalar_ops_int(rng, shape):
    a = randi(rng, shape)
    d = nonzero_i(rng, shape)
    i = int(rng.integers(-20, 20))
    i32, f32 = dtypes.int32, dtypes.float32
    check(T(a) + i, a + i, i32)
    check(i + T(a), i + a, i32)
    check(T(a) - i, a - i, i32)
    check(2 - T(a), 2 - a, i32)
    check(T(a) * i, a * i, i32)
    check(2 / T(d), (2 / d).astype(np.float32), f32)  # int true division gives float
    check(T(a) + 1.5, a.astype(np.float32) + np.float32(1.5), f32)  # float scalar promotes
    check(2.5 - T(a), np.float32(2.5) - a.astype(np.float32), f32)
    check(T(a) == i, a == i, dtypes.bool)
    check(T(a).maximum(i), np.maximum(a, i), i32)


@pytest.mark.parametrize("kind", ["float_scalar", "int_scalar", "float_0d_const_tensor"])
def test_sub_negative_constant(rng, kind):
    """Regression: the C renderer once printed `x - -c` as `x--c` (a compile error)."""
    a = randf(rng, (4,))
    s = -float(rng.uniform(0.5, 5))
    if kind == "float_scalar":
        check(T(a) - s, a - np.float32(s), dtypes.float32)
    elif kind == "int_scalar":
        ai, i = randi(rng, (4,)), -int(rng.integers(1, 10))
        check(T(ai) - i, ai - i, dtypes.int32)
    else:
        check(T(a) - Tensor(s), a - np.float32(s), dtypes.float32)


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "maximum", "lt", "eq"])
@pytest.mark.parametrize("shape", [(), (3,), (2, 3)], ids=_id)
def test_binop_with_python_scalar_tensor(rng, name, shape):
    """0-d tensors made from Python numbers (constants, not buffers) on either side of a binary op."""
    a = nonzero_f(rng, shape)
    v = float(rng.choice([-1, 1]) * rng.uniform(0.5, 4))
    top, nop = BINOPS[name]
    dt = dtypes.bool if name in ("lt", "eq") else dtypes.float32
    check(top(T(a), Tensor(v)), nop(a, np.float32(v)), dt)
    check(top(Tensor(v), T(a)), nop(np.float32(v), a), dt)
    check(top(Tensor(v), Tensor(v)), nop(np.float32(v), np.float32(v)), dt)


def test_scalar_ops_bool(rng):
    b = rng.random((5,)) < 0.5
    check(T(b) + 1, b.astype(np.int32) + 1, dtypes.int32)
    check(T(b) * 2.5, b.astype(np.float32) * np.float32(2.5), dtypes.float32)


# ---------------------------------------------------------------- elementwise, unary


@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=_id)
def test_neg(rng, shape):
    a = randf(rng, shape)
    check(-T(a), -a, dtypes.float32)
    check(T(a).neg(), -a, dtypes.float32)
    ai = randi(rng, shape)
    check(-T(ai), -ai, dtypes.int32)


@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=_id)
def test_exp(rng, shape):
    a = randf(rng, shape, -10, 10)
    check(T(a).exp(), np.exp(a), dtypes.float32, **TRANSCENDENTAL)


def test_exp_special_values():
    check(T([0.0, -100.0, 1.0]).exp(), np.exp(np.array([0.0, -100.0, 1.0], np.float32)), dtypes.float32, rtol=2e-5)
    assert np.isinf(T([100.0]).exp().numpy()).all()


def test_exp_int_input(rng):
    a = randi(rng, (5,), -5, 5)
    check(T(a).exp(), np.exp(a.astype(np.float32)), dtypes.float32, **TRANSCENDENTAL)


@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=_id)
def test_log(rng, shape):
    a = np.exp(rng.uniform(-8, 8, shape)).astype(np.float32)  # positive, many orders of magnitude
    check(T(a).log(), np.log(a), dtypes.float32, **TRANSCENDENTAL)


def test_log_special_values():
    out = T([1.0, 0.0, -1.0]).log().numpy()
    assert abs(out[0]) < 1e-6
    assert out[1] == -np.inf
    assert np.isnan(out[2])


@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=_id)
def test_sqrt(rng, shape):
    a = randf(rng, shape, 0, 100)
    if a.size:
        a.reshape(-1)[0] = 0.0  # exact zero is in the domain
    check(T(a).sqrt(), np.sqrt(a), dtypes.float32)


def test_sqrt_int_input(rng):
    a = randi(rng, (6,), 0, 50)
    check(T(a).sqrt(), np.sqrt(a.astype(np.float32)), dtypes.float32)


@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=_id)
def test_relu(rng, shape):
    a = randf(rng, shape)
    if a.size:
        a.reshape(-1)[0] = 0.0
    check(T(a).relu(), np.maximum(a, 0), dtypes.float32)
    ai = randi(rng, shape)
    check(T(ai).relu(), np.maximum(ai, 0), dtypes.int32)


def test_relu_nan(rng):
    a = randf(rng, (5,))
    a[1] = np.nan
    check(T(a).relu(), np.where(np.isnan(a), np.nan, np.maximum(a, 0)).astype(np.float32), dtypes.float32)


def test_maximum_and_max_propagate_nan(rng):
    a = randf(rng, (2, 5))
    a[0, 2] = np.nan
    got = T(a).maximum(0.0).numpy()
    assert np.isnan(got[0, 2]) and not np.isnan(np.delete(got.reshape(-1), 2)).any()
    m = T(a).max(axis=1).numpy()
    assert np.isnan(m[0]) and m[1] == a[1].max()


# ---------------------------------------------------------------- where / maximum / comparisons


WHERE_SHAPES = [
    ((), (), ()),
    ((5,), (5,), (5,)),
    ((3, 1), (1, 4), ()),
    ((2, 3, 4), (4,), (3, 1)),
    ((4,), (3, 1), (1,)),
    ((0,), (1,), ()),
    ((2, 0, 3), (3,), (2, 1, 1)),
]


@pytest.mark.parametrize("shapes", WHERE_SHAPES, ids=_id)
def test_where(rng, shapes):
    sc, sx, sy = shapes
    c = rng.random(sc) < 0.5
    x, y = randf(rng, sx), randf(rng, sy)
    check(T(c).where(T(x), T(y)), np.where(c, x, y), dtypes.float32)


def test_where_scalars_and_nonbool_cond(rng):
    c = rng.random((3, 4)) < 0.5
    x = randf(rng, (3, 4))
    s = float(rng.uniform(-3, 3))
    check(T(c).where(T(x), s), np.where(c, x, np.float32(s)), dtypes.float32)
    check(T(c).where(s, T(x)), np.where(c, np.float32(s), x), dtypes.float32)
    check(T(c).where(1, 2), np.where(c, 1, 2).astype(np.int32), dtypes.int32)
    check(T(c).where(1.5, 2), np.where(c, 1.5, 2).astype(np.float32), dtypes.float32)
    ci = randi(rng, (3, 4), -2, 3)  # nonzero ints are true
    check(T(ci).where(T(x), 0.0), np.where(ci != 0, x, 0).astype(np.float32), dtypes.float32)
    cond = T(x) > 0
    check(cond.where(T(x), -T(x)), np.abs(x), dtypes.float32)


@pytest.mark.parametrize("shapes", [((4,), (4,)), ((3, 1), (1, 4)), ((2, 3, 4), (4,)), ((), (3,))], ids=_id)
def test_comparisons_all(rng, shapes):
    sa, sb = shapes
    a = rng.integers(0, 4, sa).astype(np.float32)
    b = rng.integers(0, 4, sb).astype(np.float32)
    ta, tb = T(a), T(b)
    for got, exp in [(ta < tb, a < b), (ta > tb, a > b), (ta <= tb, a <= b), (ta >= tb, a >= b),
                     (ta == tb, a == b), (ta != tb, a != b)]:  # fmt: skip
        check(got, exp, dtypes.bool)


def test_comparisons_nan_strict(rng):
    a = randf(rng, (6,))
    a[::2] = np.nan
    b = randf(rng, (6,))
    ta, tb = T(a), T(b)
    for got, exp in [(ta < tb, a < b), (ta > tb, a > b), (ta == tb, a == b), (ta != tb, a != b), (ta == ta, a == a)]:
        check(got, exp, dtypes.bool)


@pytest.mark.parametrize("op", ["le", "ge"])
def test_comparisons_nan_non_strict(rng, op):
    a = randf(rng, (6,))
    a[::2] = np.nan
    b = randf(rng, (6,))
    if op == "le":
        check(T(a) <= T(b), a <= b, dtypes.bool)
    else:
        check(T(a) >= T(b), a >= b, dtypes.bool)


def test_comparison_with_scalar_reversed(rng):
    a = randf(rng, (8,))
    check(0.0 < T(a), 0.0 < a, dtypes.bool)
    check(0.0 > T(a), 0.0 > a, dtypes.bool)


def test_maximum_nan_free_ties(rng):
    a = rng.integers(0, 3, (4, 4)).astype(np.float32)
    b = rng.integers(0, 3, (4, 4)).astype(np.float32)
    check(T(a).maximum(T(b)), np.maximum(a, b), dtypes.float32)


# ---------------------------------------------------------------- cast


@pytest.mark.parametrize("shape", [(), (7,), (3, 4), (0,), (2, 0, 3)], ids=_id)
def test_cast_float_to_int_truncates(rng, shape):
    a = randf(rng, shape, -50, 50)
    if a.size >= 4:
        a.reshape(-1)[:4] = [-1.7, 1.7, -0.5, 0.99]
    check(T(a).cast(dtypes.int32), a.astype(np.int32), dtypes.int32)
    check(T(a).cast("int32"), a.astype(np.int32), dtypes.int32)
    check(T(a).int(), a.astype(np.int32), dtypes.int32)
    check(T(a).cast(dtypes.int8), np.trunc(a).astype(np.int8), dtypes.int8)
    check(T(np.abs(a)).cast(dtypes.uint8), np.abs(a).astype(np.uint8), dtypes.uint8)
    check(T(a).cast(dtypes.int64), a.astype(np.int64), dtypes.int64)


@pytest.mark.parametrize("shape", [(), (7,), (3, 4), (0,)], ids=_id)
def test_cast_int_to_float(rng, shape):
    a = randi(rng, shape, -(2**20), 2**20)
    check(T(a).cast(dtypes.float32), a.astype(np.float32), dtypes.float32)
    check(T(a).float(), a.astype(np.float32), dtypes.float32)
    check(T(a).cast(dtypes.float64), a.astype(np.float64), dtypes.float64)
    u = rng.integers(0, 256, shape).astype(np.uint8)
    check(T(u).cast(dtypes.float32), u.astype(np.float32), dtypes.float32)


@pytest.mark.parametrize("shape", [(), (8,), (3, 4), (0,)], ids=_id)
def test_cast_to_bool(rng, shape):
    f = randf(rng, shape) * (rng.random(shape) < 0.5)  # about half exact zeros
    if f.size >= 2:
        f.reshape(-1)[:2] = [0.25, -0.0]
    check(T(f).cast(dtypes.bool), f.astype(np.bool_), dtypes.bool)
    check(T(f).bool(), f.astype(np.bool_), dtypes.bool)
    i = randi(rng, shape, -2, 3)
    check(T(i).cast(dtypes.bool), i.astype(np.bool_), dtypes.bool)


def test_cast_from_bool(rng):
    b = rng.random((4, 3)) < 0.5
    check(T(b).cast(dtypes.int32), b.astype(np.int32), dtypes.int32)
    check(T(b).cast(dtypes.float32), b.astype(np.float32), dtypes.float32)


def test_cast_same_dtype_and_float64(rng):
    a = randf(rng, (5,))
    check(T(a).cast(dtypes.float32), a, dtypes.float32)
    check(T(a).cast(dtypes.float64), a.astype(np.float64), dtypes.float64)
    d = rng.standard_normal(5)
    check(T(d).cast(dtypes.float32), d.astype(np.float32), dtypes.float32)


# ---------------------------------------------------------------- movement


@pytest.mark.parametrize(
    "src,dst",
    [
        ((6,), (2, 3)),
        ((2, 3), (3, 2)),
        ((2, 3, 4), (4, -1)),
        ((2, 3, 4), (-1,)),
        ((2, 3, 4), (2, 1, 12, 1)),
        ((), (1, 1)),
        ((1,), ()),
        ((1, 1), ()),
        ((12,), (-1, 3, 2)),
        ((0,), (0, 5)),
        ((2, 0, 3), (0, 6)),
        ((2, 0, 3), (3, 0)),
    ],
    ids=_id,
)
def test_reshape(rng, src, dst):
    a = randf(rng, src)
    check(T(a).reshape(dst), a.reshape(dst), dtypes.float32)
    check(T(a).reshape(*dst), a.reshape(dst), dtypes.float32)


def test_reshape_after_permute(rng):
    a = randf(rng, (3, 4, 2))
    check(T(a).permute(2, 0, 1).reshape(8, 3), a.transpose(2, 0, 1).reshape(8, 3), dtypes.float32)


@pytest.mark.parametrize(
    "shape,order",
    [((2, 3), (1, 0)), ((2, 3, 4), (2, 0, 1)), ((2, 3, 4), (0, 2, 1)), ((2, 3, 4), (-1, 0, -2)),
     ((2, 3, 4, 5), (3, 1, 0, 2)), ((5,), (0,)), ((), ()), ((2, 0, 3), (2, 1, 0))],
    ids=_id,
)  # fmt: skip
def test_permute(rng, shape, order):
    a = randf(rng, shape)
    check(T(a).permute(order), np.transpose(a, order), dtypes.float32)
    check(T(a).permute(*order), np.transpose(a, order), dtypes.float32)


@pytest.mark.parametrize(
    "src,dst",
    [((3, 1), (3, 4)), ((1,), (5,)), ((1,), (2, 3)), ((), (2, 3)), ((2, 1, 4), (2, 3, 4)), ((4,), (3, 4)),
     ((1, 3), (0, 3)), ((3, 1), (3, 0))],
    ids=_id,
)  # fmt: skip
def test_expand(rng, src, dst):
    a = randf(rng, src)
    check(T(a).expand(dst), np.broadcast_to(a, dst), dtypes.float32)
    check(T(a).expand(*dst), np.broadcast_to(a, dst), dtypes.float32)


def test_expand_minus_one(rng):
    a = randf(rng, (3, 1))
    check(T(a).expand(-1, 4), np.broadcast_to(a, (3, 4)), dtypes.float32)
    check(T(a).expand(2, -1, 5), np.broadcast_to(a, (2, 3, 5)), dtypes.float32)


def test_expand_then_compute(rng):
    a = randf(rng, (3, 1))
    check(T(a).expand(3, 4) * 2 + 1, np.broadcast_to(a, (3, 4)) * 2 + 1, dtypes.float32)


def np_pad(a: np.ndarray, pairs: list[tuple[int, int]], value: float = 0.0) -> np.ndarray:
    """Pad with (before, after) pairs where negative amounts crop."""
    sl = tuple(slice(-b if b < 0 else 0, s + a_ if a_ < 0 else s) for (b, a_), s in zip(pairs, a.shape))
    a = a[sl]
    return np.pad(a, [(max(b, 0), max(a_, 0)) for b, a_ in pairs], constant_values=value)


@pytest.mark.parametrize(
    "shape,pairs",
    [
        ((3,), [(1, 2)]),
        ((3, 4), [(1, 0), (2, 3)]),
        ((2, 3, 4), [(0, 0), (1, 1), (0, 2)]),
        ((3, 4), [(-1, 0), (0, -2)]),
        ((3, 4), [(-1, 2), (3, -1)]),
        ((4,), [(-2, -2)]),
        ((0,), [(2, 1)]),
        ((2, 0, 3), [(0, 1), (1, 1), (0, 0)]),
    ],
    ids=_id,
)
def test_pad_pairs(rng, shape, pairs):
    a = randf(rng, shape)
    check(T(a).pad(pairs), np_pad(a, pairs), dtypes.float32)
    check(T(a).pad(tuple(pairs)), np_pad(a, pairs), dtypes.float32)
    v = float(rng.uniform(-5, 5))
    check(T(a).pad(pairs, value=v), np_pad(a, pairs, np.float32(v)), dtypes.float32)


def test_pad_0d(rng):
    a = randf(rng, ())
    check(T(a).pad(()), a, dtypes.float32)
    check(T(a).pad((), value=3.0), a, dtypes.float32)


def test_pad_none_entries(rng):
    a = randf(rng, (3, 4))
    check(T(a).pad((None, (1, 2))), np_pad(a, [(0, 0), (1, 2)]), dtypes.float32)
    check(T(a).pad(((2, 0), None)), np_pad(a, [(2, 0), (0, 0)]), dtypes.float32)


@pytest.mark.parametrize(
    "shape,flat,pairs",
    [
        ((3, 4), (1, 2), [(0, 0), (1, 2)]),
        ((3, 4), (1, 1, 2, 0), [(2, 0), (1, 1)]),
        ((2, 3, 4), (0, 1, 1, 0), [(0, 0), (1, 0), (0, 1)]),
        ((2, 3, 4), (1, 1, 1, 1, 1, 1), [(1, 1), (1, 1), (1, 1)]),
        ((3, 4), (-1, 2), [(0, 0), (-1, 2)]),
        ((3, 4), (0, 0, -1, -1), [(-1, -1), (0, 0)]),
    ],
    ids=_id,
)
def test_pad_flat_torch_style(rng, shape, flat, pairs):
    a = randf(rng, shape)
    check(T(a).pad(flat), np_pad(a, pairs), dtypes.float32)
    v = float(rng.uniform(-5, 5))
    check(T(a).pad(flat, value=v), np_pad(a, pairs, np.float32(v)), dtypes.float32)


def test_pad_int_and_bool(rng):
    ai = randi(rng, (3, 2))
    check(T(ai).pad(((1, 1), (0, 2))), np_pad(ai, [(1, 1), (0, 2)]), dtypes.int32)
    check(T(ai).pad(((1, 1), (0, 2)), value=7), np_pad(ai, [(1, 1), (0, 2)], 7), dtypes.int32)
    b = rng.random((2, 2)) < 0.5
    check(T(b).pad(((1, 0), (0, 1))), np_pad(b, [(1, 0), (0, 1)], False), dtypes.bool)


@pytest.mark.parametrize(
    "shape,arg",
    [((5,), [(1, 4)]), ((3, 4), [(0, 2), (1, 3)]), ((3, 4), [None, (2, 4)]), ((2, 3, 4), [(1, 2), None, (0, 1)]),
     ((3, 4), [(1, 1), (0, 4)]), ((3, 4), [(0, 3), (0, 4)]), ((2, 0, 3), [(1, 2), (0, 0), (1, 3)]), ((), [])],
    ids=_id,
)  # fmt: skip
def test_shrink(rng, shape, arg):
    a = randf(rng, shape)
    sl = tuple(slice(None) if r is None else slice(r[0], r[1]) for r in arg)
    check(T(a).shrink(arg), a[sl], dtypes.float32)


@pytest.mark.parametrize(
    "shape,axis",
    [((5,), (0,)), ((3, 4), (0,)), ((3, 4), (1,)), ((3, 4), (0, 1)), ((2, 3, 4), (-1,)), ((2, 3, 4), (0, -1)),
     ((2, 3, 4), (2, 1, 0)), ((0,), (0,)), ((2, 0, 3), (1, 2))],
    ids=_id,
)  # fmt: skip
def test_flip(rng, shape, axis):
    a = randf(rng, shape)
    check(T(a).flip(axis), np.flip(a, axis), dtypes.float32)
    check(T(a).flip(*axis), np.flip(a, axis), dtypes.float32)


@pytest.mark.parametrize(
    "shape,dims",
    [((3, 4), None), ((2, 3, 4), None), ((2, 3, 4), (0, 2)), ((2, 3, 4), (-1, -3)), ((2, 3, 4), (1, 1)),
     ((2, 0, 3), (0, 1))],
    ids=_id,
)  # fmt: skip
def test_transpose(rng, shape, dims):
    a = randf(rng, shape)
    if dims is None:
        exp = np.swapaxes(a, 1, 0)
        check(T(a).transpose(), exp, dtypes.float32)
        if a.ndim == 2:
            check(T(a).T, a.T, dtypes.float32)
    else:
        check(T(a).transpose(*dims), np.swapaxes(a, *dims), dtypes.float32)


@pytest.mark.parametrize(
    "shape,args",
    [((2, 3, 4), ()), ((2, 3, 4), (1,)), ((2, 3, 4), (0, 1)), ((2, 3, 4, 5), (1, 2)), ((2, 3, 4), (-2, -1)),
     ((5,), ()), ((), ()), ((2, 0, 3), ())],
    ids=_id,
)  # fmt: skip
def test_flatten(rng, shape, args):
    a = randf(rng, shape)
    if not shape:
        exp = a.reshape(1)
    else:
        s = args[0] % a.ndim if args else 0
        e = (args[1] if len(args) > 1 else -1) % a.ndim
        exp = a.reshape(a.shape[:s] + (int(np.prod(a.shape[s : e + 1])),) + a.shape[e + 1 :])
    check(T(a).flatten(*args), exp, dtypes.float32)


GETITEM_CASES = [
    0,
    -1,
    2,
    slice(None),
    slice(1, 3),
    slice(None, None, 2),
    slice(None, None, -1),
    slice(3, 0, -2),
    slice(-3, None),
    slice(3, 1),
    slice(10, 20),
    (1, 2),
    (-1, -2, -3),
    (1, slice(None), 3),
    (slice(None), slice(None, None, -2), slice(1, None, 3)),
    (None,),
    (None, 1),
    (slice(None), None, 2),
    (Ellipsis,),
    (Ellipsis, 0),
    (0, Ellipsis),
    (0, Ellipsis, None),
    (Ellipsis, slice(None, None, -1), None),
    (None, Ellipsis, None),
    (slice(1, -1), -2, slice(None, None, 4)),
    (slice(None, None, 3), slice(None, None, 2), slice(None, None, 5)),
    (slice(None, None, -3), Ellipsis),
]


@pytest.mark.parametrize("idx", GETITEM_CASES, ids=_id)
def test_getitem(rng, idx):
    a = randf(rng, (4, 5, 6))
    check(T(a)[idx], a[idx], dtypes.float32)


def test_getitem_1d_and_0d(rng):
    a = randf(rng, (7,))
    for idx in [3, -7, slice(2, 6, 2), slice(None, None, -3), (None, slice(1, None)), Ellipsis]:
        check(T(a)[idx], a[idx], dtypes.float32)
    s = randf(rng, ())
    check(T(s)[None], s[None], dtypes.float32)
    check(T(s)[...], s[...], dtypes.float32)


def test_getitem_int_tensor_and_chained(rng):
    a = randi(rng, (6, 4))
    check(T(a)[::-2][1], a[::-2][1], dtypes.int32)
    check(T(a)[1:5][::2, 1:], a[1:5][::2, 1:], dtypes.int32)


def test_getitem_size_zero(rng):
    a = randf(rng, (2, 0, 3))
    check(T(a)[1], a[1], dtypes.float32)
    check(T(a)[:, :, ::-1], a[:, :, ::-1], dtypes.float32)
    check(T(a)[..., 2], a[..., 2], dtypes.float32)


# ---------------------------------------------------------------- reductions


REDUCE_CASES = [
    ((), None),
    ((7,), None),
    ((7,), 0),
    ((7,), -1),
    ((3, 4), None),
    ((3, 4), 0),
    ((3, 4), 1),
    ((3, 4), -1),
    ((3, 4), (0, 1)),
    ((2, 3, 4), None),
    ((2, 3, 4), 1),
    ((2, 3, 4), (0, 2)),
    ((2, 3, 4), (-1, -3)),
    ((2, 3, 4), (2, 0, 1)),
    ((2, 3, 4), -2),
    ((1, 5, 1), (0, 2)),
    ((), 0),
    ((), -1),
]


def _np_axis(axis):
    return tuple(axis) if isinstance(axis, (tuple, list)) else axis


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,axis", REDUCE_CASES, ids=_id)
def test_sum(rng, shape, axis, keepdim):
    a = randf(rng, shape)
    exp = a.sum(axis=_np_axis(axis), keepdims=keepdim)
    check(T(a).sum(axis=axis, keepdim=keepdim), exp, dtypes.float32, rtol=1e-5, atol=1e-5)
    ai = randi(rng, shape, -100, 100)
    check(T(ai).sum(axis, keepdim), ai.sum(axis=_np_axis(axis), keepdims=keepdim).astype(np.int32), dtypes.int32)


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,axis", REDUCE_CASES, ids=_id)
def test_max(rng, shape, axis, keepdim):
    a = randf(rng, shape)
    check(T(a).max(axis=axis, keepdim=keepdim), a.max(axis=_np_axis(axis), keepdims=keepdim), dtypes.float32)
    ai = randi(rng, shape, -100, 100)
    check(T(ai).max(axis, keepdim), ai.max(axis=_np_axis(axis), keepdims=keepdim), dtypes.int32)


@pytest.mark.parametrize("shape", [(17, 13), (64, 63), (5, 31), (2, 32, 33), (1, 64), (64, 1)], ids=_id)
def test_reduce_odd_and_larger_shapes(rng, shape):
    """Sizes that do not divide evenly into vector/unroll widths."""
    a, ai = randf(rng, shape), randi(rng, shape, -100, 100)
    for axis in [None, 0, -1, (0, a.ndim - 1)]:
        for kd in (False, True):
            check(T(a).sum(axis, kd), a.sum(axis, keepdims=kd), dtypes.float32, rtol=1e-4, atol=1e-4)
            check(T(a).max(axis, kd), a.max(axis, keepdims=kd), dtypes.float32)
            check(T(a).mean(axis, kd), a.mean(axis, keepdims=kd), dtypes.float32, rtol=1e-4, atol=1e-5)
            check(T(ai).sum(axis, kd), ai.sum(axis, keepdims=kd).astype(np.int32), dtypes.int32)


def test_max_all_negative(rng):
    a = -randf(rng, (3, 4), 1, 10)
    check(T(a).max(), a.max(), dtypes.float32)
    check(T(a).max(axis=1), a.max(axis=1), dtypes.float32)


MEAN_CASES = REDUCE_CASES


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,axis", MEAN_CASES, ids=_id)
def test_mean(rng, shape, axis, keepdim):
    a = randf(rng, shape)
    # numpy's mean rejects axis=0 on a 0-d array (its sum and max accept it); the mean of one element is itself
    exp = a.copy() if a.ndim == 0 else a.mean(axis=_np_axis(axis), keepdims=keepdim)
    check(T(a).mean(axis=axis, keepdim=keepdim), exp, dtypes.float32, rtol=1e-5, atol=1e-6)
    ai = randi(rng, shape, -100, 100)
    exp_i = (
        ai.astype(np.float32)
        if a.ndim == 0
        else ai.astype(np.float64).mean(axis=_np_axis(axis), keepdims=keepdim).astype(np.float32)
    )
    check(T(ai).mean(axis, keepdim), exp_i, dtypes.float32, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "shape,axis",
    [((0,), None), ((0,), 0), ((2, 0, 3), 1), ((2, 0, 3), (0, 1)), ((2, 0, 3), None), ((2, 0, 3), 0),
     ((2, 0, 3), 2), ((0, 4), 0), ((0, 4), 1)],
    ids=_id,
)  # fmt: skip
@pytest.mark.parametrize("keepdim", [False, True])
def test_sum_size_zero(shape, axis, keepdim, rng):
    a = randf(rng, shape)
    exp = a.sum(axis=_np_axis(axis), keepdims=keepdim)
    got = check(T(a).sum(axis=axis, keepdim=keepdim), exp, dtypes.float32)
    if exp.size:
        assert (got == 0).all()
    ai = randi(rng, shape)
    check(T(ai).sum(axis, keepdim), ai.sum(axis=_np_axis(axis), keepdims=keepdim).astype(np.int32), dtypes.int32)


@pytest.mark.parametrize("shape,axis", [((2, 0, 3), 0), ((2, 0, 3), 2), ((0, 4), 1)], ids=_id)
def test_max_mean_nonempty_axis_of_empty(rng, shape, axis):
    a = randf(rng, shape)
    check(T(a).max(axis), a.max(axis), dtypes.float32)
    check(T(a).mean(axis), a.mean(axis), dtypes.float32)


def test_mean_of_empty_is_nan():
    out = Tensor.zeros(0).mean()
    assert out.shape == () and out.dtype == dtypes.float32
    assert np.isnan(out.item())


def test_sum_bool(rng):
    b = rng.random((4, 5)) < 0.5
    check(T(b).sum(), np.int32(b.sum()), dtypes.int32)
    check(T(b).sum(axis=1), b.sum(axis=1).astype(np.int32), dtypes.int32)


def test_reduce_after_elementwise_and_movement(rng):
    a, b = randf(rng, (3, 4)), randf(rng, (4,))
    check((T(a) * T(b)).sum(1), (a * b).sum(1), dtypes.float32, atol=1e-5)
    check(T(a).permute(1, 0).max(axis=1), a.T.max(axis=1), dtypes.float32)
    check(T(a)[:, ::-1].sum(0, keepdim=True), a[:, ::-1].sum(0, keepdims=True), dtypes.float32, atol=1e-5)
    check(T(a).exp().sum(axis=-1).log(), np.log(np.exp(a).sum(-1)), dtypes.float32, **TRANSCENDENTAL)


# ---------------------------------------------------------------- matmul


MATMUL_SHAPES = [
    ((4,), (4,)),
    ((3,), (3, 5)),
    ((4, 3), (3,)),
    ((1, 1), (1, 1)),
    ((2, 3), (3, 4)),
    ((5, 1), (1, 6)),
    ((16, 16), (16, 16)),
    ((7, 16), (16, 9)),
    ((2, 3, 4), (4, 5)),
    ((2, 3, 4), (2, 4, 5)),
    ((3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (3, 4, 2)),
    ((5,), (2, 5, 3)),
    ((2, 3, 4), (4,)),
    ((3, 0), (0, 4)),
    ((0, 3), (3, 4)),
    ((3, 4), (4, 0)),
    ((0,), (0,)),
    ((13, 7), (7, 11)),
    ((1, 16), (16, 16)),
    ((16, 1), (1, 16)),
    ((16, 16), (16, 1)),
]


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES, ids=_id)
def test_matmul(rng, sa, sb):
    a, b = randf(rng, sa), randf(rng, sb)
    exp = a @ b
    check(T(a) @ T(b), exp, dtypes.float32, **MATMUL)
    check(T(a).matmul(T(b)), exp, dtypes.float32, **MATMUL)
    check(T(a).dot(T(b)), exp, dtypes.float32, **MATMUL)


@pytest.mark.parametrize("sa,sb", [((4,), (4,)), ((2, 3), (3, 4)), ((2, 3, 4), (4, 2))], ids=_id)
def test_matmul_int(rng, sa, sb):
    a, b = randi(rng, sa), randi(rng, sb)
    check(T(a) @ T(b), (a @ b).astype(np.int32), dtypes.int32)


def test_matmul_mixed_dtype(rng):
    a, b = randi(rng, (2, 3)), randf(rng, (3, 4))
    check(T(a) @ T(b), a.astype(np.float32) @ b, dtypes.float32, **MATMUL)


def test_matmul_transposed_operands(rng):
    a, b = randf(rng, (5, 3)), randf(rng, (4, 5))
    check(T(a).T @ T(b).T, a.T @ b.T, dtypes.float32, **MATMUL)
    check(T(a)[::2] @ T(b)[:3, ::-1], a[::2] @ b[:3, ::-1], dtypes.float32, **MATMUL)


# ---------------------------------------------------------------- realize / numpy / tolist / item / contiguous


def test_realize_returns_self_and_keeps_values(rng):
    a, b = randf(rng, (3, 4)), randf(rng, (4,))
    t = T(a) * T(b) + 1
    r = t.realize()
    assert r is t
    check(t, a * b + 1, dtypes.float32)
    check(t + 1, a * b + 2, dtypes.float32)  # usable after realize
    assert t.realize() is t  # realizing twice is fine


def test_realize_several(rng):
    a = randf(rng, (5,))
    x, y = T(a) + 1, T(a) * 2
    assert x.realize(y) is x
    check(x, a + 1, dtypes.float32)
    check(y, a * 2, dtypes.float32)


@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 0, 3)], ids=_id)
def test_numpy_copy(rng, shape):
    a = randf(rng, shape)
    t = T(a)
    x = t.numpy()
    assert isinstance(x, np.ndarray) and x.dtype == np.float32 and x.shape == shape
    np.testing.assert_array_equal(x, a)
    if x.size:
        x.reshape(-1)[0] += 100  # numpy() returns a copy
        np.testing.assert_array_equal(t.numpy(), a)


def test_numpy_of_view(rng):
    a = randf(rng, (3, 4))
    np.testing.assert_array_equal(T(a).T.numpy(), a.T)
    np.testing.assert_array_equal(T(a)[:, 1:3].numpy(), a[:, 1:3])


@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 3, 2), (0,), (2, 0)], ids=_id)
def test_tolist(rng, shape):
    a = randf(rng, shape)
    assert T(a).tolist() == a.tolist()
    ai = randi(rng, shape)
    out = T(ai).tolist()
    assert out == ai.tolist()
    b = rng.random(shape) < 0.5
    assert T(b).tolist() == b.tolist()


def test_tolist_types(rng):
    i = int(rng.integers(-100, 100))
    assert T([i, i + 1]).tolist() == [i, i + 1] and all(type(v) is int for v in T([i, i + 1]).tolist())
    assert all(type(v) is float for v in T([1.5, 2.5]).tolist())
    assert all(type(v) is bool for v in T([True, False]).tolist())
    v = T(3.5).tolist()
    assert v == 3.5 and type(v) is float


@pytest.mark.parametrize("shape", [(), (1,), (1, 1), (1, 1, 1)], ids=_id)
def test_item(rng, shape):
    a = randf(rng, shape)
    v = T(a).item()
    assert type(v) is float
    np.testing.assert_allclose(v, a.reshape(()), **F32)
    ai = randi(rng, shape, -1000, 1000)
    iv = T(ai).item()
    assert type(iv) is int and iv == ai.reshape(()).item()
    b = T(rng.random(shape) < 0.5)
    assert type(b.item()) is bool


def test_item_of_computed(rng):
    a = randf(rng, (4, 4))
    np.testing.assert_allclose(T(a).sum().item(), a.sum(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(T(a)[2, 3].item(), a[2, 3], **F32)
    assert T(a).max().item() == a.max()


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4), (5,), ()], ids=_id)
def test_contiguous(rng, shape):
    a = randf(rng, shape)
    t = T(a)
    check(t.contiguous(), a, dtypes.float32)
    if a.ndim >= 2:
        check(t.transpose(0, -1).contiguous(), np.swapaxes(a, 0, -1), dtypes.float32)
        check(t.transpose(0, -1).contiguous() + 1, np.swapaxes(a, 0, -1) + 1, dtypes.float32)
    check(t.reshape(1, *shape).expand(2, *shape).contiguous(), np.broadcast_to(a, (2, *shape)), dtypes.float32)
    if a.ndim:
        check(t.flip(0).contiguous().flip(0), a, dtypes.float32)


def test_contiguous_size_zero(rng):
    a = randf(rng, (2, 0, 3))
    check(T(a).permute(2, 0, 1).contiguous(), a.transpose(2, 0, 1), dtypes.float32)


def test_lazy_graph_reuse(rng):
    """A shared subexpression used by two outputs gives the same values as numpy for each."""
    a, b = randf(rng, (4, 3)), randf(rng, (3,))
    base = T(a) + T(b)
    x, y = base.sum(0), base.relu() * 2
    check(y, np.maximum(a + b, 0) * 2, dtypes.float32)
    check(x, (a + b).sum(0), dtypes.float32, atol=1e-5)
    check(base, a + b, dtypes.float32)
