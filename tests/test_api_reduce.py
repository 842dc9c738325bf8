"""Reductions, scans, sorting, sampling and contractions compared with torch, forward and backward.

Inputs are fresh random draws (the `rng` fixture prints its seed; TINYGRAD_TEST_SEED=<seed> replays a failure).
Result dtypes follow tinygrad where it differs from torch: sums/products/cumsums of small ints and bool are int32
(uint32 for unsigned; torch says int64), indices are int32 (torch: int64), cummax/cummin return only values.
Sizes stay small so DEV=PYTHON (an interpreter) is quick; long-axis variants run on compiled devices only.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import torch

from tinygrad import Device, Tensor
from tinygrad.dtype import DType, dtypes
from tinygrad.errors import AxisError, DTypeError, ShapeError

INTERPRETED = Device.DEFAULT == "PYTHON"
F32 = {"rtol": 1e-5, "atol": 1e-5}
LOOSE = {"rtol": 1e-4, "atol": 1e-4}

NP_OF = {
    dtypes.bool: np.bool_, dtypes.int8: np.int8, dtypes.uint8: np.uint8, dtypes.int16: np.int16,
    dtypes.uint16: np.uint16, dtypes.int32: np.int32, dtypes.uint32: np.uint32, dtypes.int64: np.int64,
    dtypes.uint64: np.uint64, dtypes.float16: np.float16, dtypes.float32: np.float32, dtypes.float64: np.float64,
}  # fmt: skip


def _id(x: object) -> str:
    return str(x).replace(" ", "")


def T(x: np.ndarray, **kw) -> Tensor:
    """Tensor from numpy; 0-d arrays go through a 1-element buffer (Tensor(<0-d ndarray>) is another test's bug)."""
    if x.ndim == 0:
        t = Tensor(x.reshape(1), dtype=kw.get("dtype")).reshape(())
        t.requires_grad = kw.get("requires_grad")
        return t
    return Tensor(x, **kw)


def randf(rng: np.random.Generator, shape: tuple[int, ...], scale: float = 1.0) -> np.ndarray:
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def distinct(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """float32 values with no ties anywhere (max/sort gradients are only defined up to ties)."""
    n = int(np.prod(shape))
    return (rng.permutation(n).astype(np.float32) * 0.25 - n / 8 + rng.uniform(0, 0.1)).reshape(shape)


def to_np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy()


def assert_close(got: Tensor, exp: torch.Tensor | np.ndarray, dtype: DType | None = None, **tol: float) -> None:
    e = to_np(exp) if isinstance(exp, torch.Tensor) else np.asarray(exp)
    assert got.shape == e.shape, f"shape {got.shape} != torch {e.shape}"
    if dtype is not None:
        assert got.dtype == dtype, f"dtype {got.dtype} != {dtype}"
    g = got.numpy()
    if g.dtype == np.bool_ or np.issubdtype(g.dtype, np.integer):
        np.testing.assert_array_equal(g, e)
    else:
        np.testing.assert_allclose(g, e, equal_nan=True, **{**F32, **tol})


def check_fwd_bwd(
    rng: np.random.Generator,
    tiny: Callable[..., Tensor],
    ref: Callable[..., torch.Tensor],
    *arrays: np.ndarray,
    grad: bool = True,
    dtype: DType | None = None,
    **tol: float,
) -> None:
    """tiny(*tensors) vs ref(*torch tensors): values, then d(sum(out * w))/d(inputs) for a random w.

    The gradient graph is built before anything is realized: see test_backward_after_realize.
    """
    ts = [T(a, requires_grad=grad) for a in arrays]
    rs = [torch.tensor(a, requires_grad=grad) for a in arrays]
    out, rout = tiny(*ts), ref(*rs)
    grads: list[Tensor] = []
    if grad and out.numel() > 0:
        w = randf(rng, tuple(rout.shape))
        (out * T(w)).sum().backward()
        (rout * torch.tensor(w)).sum().backward()
        grads = [t.grad for t in ts]
        assert all(g is not None for g in grads), "no gradient reached an input"
    assert_close(out, rout, dtype, **tol)
    for g, r in zip(grads, rs):
        assert_close(g, r.grad, **tol)


def test_backward_after_realize():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.realize()
    y.sum().backward()
    assert x.grad is not None and x.grad.tolist() == [3.0, 3.0]


AXES = [
    ((), None),
    ((5,), None),
    ((5,), 0),
    ((5,), -1),
    ((3, 4), None),
    ((3, 4), 0),
    ((3, 4), 1),
    ((2, 3, 4), (0, 2)),
    ((2, 3, 4), -2),
    ((2, 3, 4), (1, 2)),
    ((1, 4, 1), (0, 2)),
]

# ---------------------------------------------------------------- sum / prod / mean


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,axis", AXES, ids=_id)
def test_sum_mean_fwd_bwd(rng, shape, axis, keepdim):
    a = randf(rng, shape)
    ax = axis if axis is not None else tuple(range(len(shape)))
    check_fwd_bwd(rng, lambda x: x.sum(axis, keepdim), lambda x: x.sum(ax, keepdim), a, dtype=dtypes.float32)
    check_fwd_bwd(rng, lambda x: x.mean(axis, keepdim), lambda x: x.mean(ax, keepdim), a, dtype=dtypes.float32)


@pytest.mark.parametrize(
    "dt,acc",
    [
        (dtypes.bool, dtypes.int32), (dtypes.int8, dtypes.int32), (dtypes.uint8, dtypes.uint32),
        (dtypes.int16, dtypes.int32), (dtypes.uint16, dtypes.uint32), (dtypes.int32, dtypes.int32),
        (dtypes.uint32, dtypes.uint32), (dtypes.int64, dtypes.int64), (dtypes.float16, dtypes.float16),
        (dtypes.float32, dtypes.float32),
    ],
    ids=_id,
)  # fmt: skip
def test_sum_prod_dtypes(rng, dt, acc):
    """tinygrad's accumulation dtypes; the values agree with torch (which promotes ints to int64)."""
    if dt == dtypes.bool:
        a = rng.integers(0, 2, (3, 5)).astype(np.bool_)
    elif dtypes.is_float(dt):
        a = rng.uniform(-2, 2, (3, 5)).astype(NP_OF[dt])
    else:
        a = rng.integers(0 if dtypes.is_unsigned(dt) else -4, 5, (3, 5)).astype(NP_OF[dt])
    tol = {"rtol": 2e-3, "atol": 2e-3} if dt == dtypes.float16 else {}
    r = torch.tensor(a)
    assert_close(Tensor(a).sum(axis=1), r.sum(1).to(torch.float16 if dt == dtypes.float16 else r.sum(1).dtype),
                 acc, **tol)  # fmt: skip
    assert_close(Tensor(a).sum(), r.sum(), acc, **tol)
    assert_close(Tensor(a).prod(axis=0), r.prod(0), acc, **tol)
    mean_dt = dtypes.float16 if dt == dtypes.float16 else dtypes.float32
    assert_close(Tensor(a).mean(axis=1), r.double().mean(1).float(), mean_dt, **(tol or F32))


def test_sum_dtype_arg_and_large_ints(rng):
    a = rng.integers(100, 127, (4, 6)).astype(np.int8)
    assert_close(Tensor(a).sum(dtype=dtypes.int64), torch.tensor(a).sum(), dtypes.int64)
    assert_close(Tensor(a).sum(axis=0, dtype="float32"), torch.tensor(a).float().sum(0), dtypes.float32)
    assert_close(Tensor(a).prod(axis=0, dtype=dtypes.int64), torch.tensor(a).prod(0), dtypes.int64)
    big = np.array([2**40, 2**40 + 7, -(2**39)], dtype=np.int64)
    assert Tensor(big).sum().item() == int(big.sum())
    # int32 accumulation wraps like C (tinygrad semantics), it does not widen
    assert Tensor(np.array([2**31 - 1, 1], dtype=np.int32)).sum().item() == -(2**31)


def test_sum_mean_empty_and_0d(rng):
    z = np.zeros((2, 0, 3), np.float32)
    assert_close(Tensor(z).sum(1), torch.tensor(z).sum(1))
    assert_close(Tensor(z).sum(), torch.tensor(z).sum())
    assert_close(Tensor(z).prod(1), torch.tensor(z).prod(1))
    assert_close(Tensor(z).mean(1), torch.tensor(z).mean(1))  # nan, as torch
    assert math.isnan(Tensor(z).mean().item())
    v = float(rng.standard_normal())
    for f in ("sum", "mean", "prod", "max", "min"):
        assert Tensor(v).__getattribute__(f)().item() == pytest.approx(v, rel=1e-6)
        assert Tensor(v).__getattribute__(f)(0).shape == ()


@pytest.mark.parametrize("zeros", [0, 1, 2])
def test_prod_gradient_with_zeros(rng, zeros):
    a = rng.uniform(0.5, 1.5, (3, 6)).astype(np.float32) * rng.choice([-1, 1], (3, 6))
    for row in range(3):
        a[row, rng.choice(6, zeros, replace=False)] = 0.0
    check_fwd_bwd(rng, lambda x: x.prod(1), lambda x: x.prod(1), a)
    check_fwd_bwd(rng, lambda x: x.prod(0, keepdim=True), lambda x: x.prod(0, keepdim=True), a)
    check_fwd_bwd(rng, lambda x: x.prod(), lambda x: x.prod(), a[:1])


def test_prod_edge_values():
    a = np.array([[2.0, math.inf], [0.0, math.inf], [math.nan, 1.0], [-3.0, 0.5]], np.float32)
    assert_close(Tensor(a).prod(1), torch.tensor(a).prod(1))


# ---------------------------------------------------------------- max / min / any / all


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,axis", AXES, ids=_id)
def test_max_min_fwd_bwd(rng, shape, axis, keepdim):
    a = distinct(rng, shape)
    ax = axis if axis is not None else tuple(range(len(shape)))
    check_fwd_bwd(rng, lambda x: x.max(axis, keepdim), lambda x: x.amax(ax, keepdim), a)
    check_fwd_bwd(rng, lambda x: x.min(axis, keepdim), lambda x: x.amin(ax, keepdim), a)


def test_max_min_ties_split_gradient(rng):
    """Tied maxima share the gradient evenly, as torch.amax/amin (and full torch.max()) do."""
    a = rng.integers(-2, 3, (4, 6)).astype(np.float32)
    check_fwd_bwd(rng, lambda x: x.max(1), lambda x: x.amax(1), a)
    check_fwd_bwd(rng, lambda x: x.min(0), lambda x: x.amin(0), a)
    check_fwd_bwd(rng, lambda x: x.max(), lambda x: x.max(), a)


@pytest.mark.parametrize(
    "dt", [dtypes.int8, dtypes.uint8, dtypes.int16, dtypes.int32, dtypes.int64, dtypes.uint32, dtypes.bool], ids=_id
)
def test_max_min_ints(rng, dt):
    info = (0, 1) if dt == dtypes.bool else (dtypes.min(dt), dtypes.max(dt))
    a = rng.integers(int(info[0]), int(info[1]) + 1, (5, 7), dtype=np.int64 if dt != dtypes.uint32 else np.uint64)
    a = a.astype(NP_OF[dt])
    a[0, 0], a[1, 1] = info[0], info[1]  # the extremes themselves
    r = torch.tensor(a.astype(np.int64)) if dt == dtypes.uint32 else torch.tensor(a)
    for axis in (0, 1):
        assert_close(Tensor(a).max(axis), r.amax(axis).numpy().astype(NP_OF[dt]), dt)
        assert_close(Tensor(a).min(axis), r.amin(axis).numpy().astype(NP_OF[dt]), dt)
    assert Tensor(a).max().item() == info[1] and Tensor(a).min().item() == info[0]


def test_max_min_nan_inf():
    a = np.array([[1.0, math.nan, 3.0], [-math.inf, 2.0, math.inf], [-0.0, 0.0, -1.0]], np.float32)
    assert_close(Tensor(a).max(1), torch.tensor(a).amax(1))
    assert_close(Tensor(a).min(1), torch.tensor(a).amin(1))


@pytest.mark.parametrize("dt", [dtypes.bool, dtypes.int32, dtypes.float32, dtypes.uint8], ids=_id)
@pytest.mark.parametrize(
    "shape,axis", [((6,), None), ((3, 4), 1), ((3, 4), 0), ((2, 3, 2), (0, 2)), ((2, 0), 1)], ids=_id
)
def test_any_all(rng, dt, shape, axis):
    a = (rng.integers(0, 2, shape) * rng.integers(1, 4, shape)).astype(NP_OF[dt])
    ax = axis if axis is not None else tuple(range(len(shape)))
    for keepdim in (False, True):
        assert_close(
            Tensor(a).any(axis, keepdim),
            torch.tensor(a).any(ax, keepdim) if ax != () else torch.tensor(a).bool(),
            dtypes.bool,
        )
        assert_close(
            Tensor(a).all(axis, keepdim),
            torch.tensor(a).all(ax, keepdim) if ax != () else torch.tensor(a).bool(),
            dtypes.bool,
        )


def test_any_all_edges():
    a = np.array([[0.0, math.nan], [-0.0, 0.0], [math.inf, 1.0]], np.float32)
    assert Tensor(a).any(1).tolist() == [True, False, True]
    assert Tensor(a).all(1).tolist() == [False, False, True]
    assert Tensor(np.zeros((0,), np.float32)).any().item() is False
    assert Tensor(np.zeros((0,), np.float32)).all().item() is True


# ---------------------------------------------------------------- isclose / allclose


def test_isclose_vs_torch(rng):
    a = randf(rng, (4, 6))
    b = a + randf(rng, (4, 6)) * np.float32(1e-5) * rng.choice([0.1, 1, 10, 100], (4, 6)).astype(np.float32)
    specials = [math.inf, -math.inf, math.nan, 0.0, -0.0, 1.0]
    a[0], b[0] = specials, [math.inf, math.inf, math.nan, -0.0, 0.0, 1.0 + 1e-9]
    for kw in ({}, {"rtol": 0.0, "atol": 1e-4}, {"rtol": 1e-3}, {"equal_nan": True}, {"rtol": 0, "atol": 0}):
        assert_close(
            Tensor(a).isclose(Tensor(b), **kw), torch.isclose(torch.tensor(a), torch.tensor(b), **kw), dtypes.bool
        )
        assert Tensor(a[1:]).allclose(Tensor(b[1:]), **kw) == torch.allclose(
            torch.tensor(a[1:]), torch.tensor(b[1:]), **kw
        )
    # broadcasting and Python scalars
    assert_close(Tensor(a).isclose(Tensor(b[:1])), torch.isclose(torch.tensor(a), torch.tensor(b[:1])), dtypes.bool)
    assert Tensor([1.0, 1.0 + 1e-6]).isclose(1.0).tolist() == [True, True]


def test_isclose_ints_and_allclose_type(rng):
    a = rng.integers(-5, 5, (10,)).astype(np.int32)
    b = a + rng.integers(-1, 2, (10,)).astype(np.int32)
    assert_close(Tensor(a).isclose(Tensor(b)), torch.isclose(torch.tensor(a), torch.tensor(b)), dtypes.bool)
    assert_close(
        Tensor(a).isclose(Tensor(b), atol=1, rtol=0), torch.isclose(torch.tensor(a), torch.tensor(b), atol=1, rtol=0)
    )
    res = Tensor(a).allclose(Tensor(a))
    assert res is True
    assert Tensor(a).allclose(Tensor(a + 3)) is False


# ---------------------------------------------------------------- var / std


@pytest.mark.parametrize("correction", [0, 1, 2])
@pytest.mark.parametrize(
    "shape,axis", [((7,), None), ((3, 5), 1), ((3, 5), 0), ((2, 3, 4), (0, 2)), ((4, 1), 0)], ids=_id
)
def test_var_std_fwd_bwd(rng, shape, axis, correction):
    a = randf(rng, shape, 3.0) + 10.0
    ax = axis if axis is not None else tuple(range(len(shape)))
    for keepdim in (False, True):
        for name in ("var", "std"):
            ours = lambda x, f=name, k=keepdim: getattr(x, f)(axis, k, correction)
            ref = lambda x, f=name, k=keepdim: getattr(torch, f)(x, ax, correction=correction, keepdim=k)
            check_fwd_bwd(rng, ours, ref, a, **LOOSE)
    v, m = T(a).var_mean(axis, correction=correction)
    tv, tm = torch.var_mean(torch.tensor(a), ax, correction=correction)
    assert_close(v, tv, **LOOSE)
    assert_close(m, tm, **LOOSE)
    s, m = T(a).std_mean(axis, keepdim=True, correction=correction)
    ts, tm = torch.std_mean(torch.tensor(a), ax, correction=correction, keepdim=True)
    assert_close(s, ts, **LOOSE)
    assert_close(m, tm, **LOOSE)


@pytest.mark.filterwarnings("ignore:var.*degrees of freedom")
def test_var_edges(rng):
    a = randf(rng, (3, 1))
    # one element with Bessel's correction: 0/0 = nan, as torch
    assert_close(Tensor(a).var(1), torch.tensor(a).var(1))
    assert_close(Tensor(a).var(1, correction=0), torch.tensor(a).var(1, correction=0))
    # two-pass: a large offset does not cancel the variance away
    b = (rng.standard_normal(64) + 1e4).astype(np.float32)
    np.testing.assert_allclose(Tensor(b).var().item(), np.var(b.astype(np.float64), ddof=1), rtol=1e-3)
    # ints promote to float
    c = rng.integers(-10, 10, (12,)).astype(np.int32)
    assert_close(Tensor(c).var(), torch.tensor(c).double().var().float(), dtypes.float32)
    assert_close(Tensor(c).std(correction=0), torch.tensor(c).double().std(correction=0).float(), dtypes.float32)


# ---------------------------------------------------------------- softmax / logsumexp


@pytest.mark.parametrize("shape,axis", [((5,), -1), ((3, 4), 0), ((3, 4), 1), ((2, 3, 4), 1), ((1,), 0)], ids=_id)
def test_softmax_log_softmax(rng, shape, axis):
    a = randf(rng, shape, 3.0)
    check_fwd_bwd(rng, lambda x: x.softmax(axis), lambda x: x.softmax(axis), a, dtype=dtypes.float32)
    check_fwd_bwd(rng, lambda x: x.log_softmax(axis), lambda x: x.log_softmax(axis), a, dtype=dtypes.float32)


def test_softmax_stability_and_dtype(rng):
    a = (randf(rng, (3, 5)) + np.array([[1000.0], [-1000.0], [0.0]], np.float32)).astype(np.float32)
    check_fwd_bwd(rng, lambda x: x.softmax(), lambda x: x.softmax(-1), a)
    check_fwd_bwd(rng, lambda x: x.log_softmax(), lambda x: x.log_softmax(-1), a)
    # -inf entries are probability 0; a row of only -inf is nan, as torch
    b = np.array([[0.0, -math.inf, 1.0], [-math.inf, -math.inf, -math.inf]], np.float32)
    assert_close(Tensor(b).softmax(), torch.tensor(b).softmax(-1))
    assert_close(Tensor(b).log_softmax(), torch.tensor(b).log_softmax(-1))
    # dtype= casts before computing; ints compute in the default float
    c = rng.integers(-3, 3, (2, 4)).astype(np.int32)
    assert_close(Tensor(c).softmax(), torch.tensor(c).float().softmax(-1), dtypes.float32)
    h = Tensor(a).softmax(dtype=dtypes.float16)
    assert_close(h, torch.tensor(a).half().softmax(-1), dtypes.float16, rtol=2e-3, atol=2e-3)
    assert Tensor(a).log_softmax(0, dtype="float64").dtype == dtypes.float64


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize(
    "shape,axis", [((6,), None), ((3, 4), 1), ((3, 4), 0), ((2, 3, 4), (0, 2)), ((), None)], ids=_id
)
def test_logsumexp(rng, shape, axis, keepdim):
    a = randf(rng, shape, 5.0)
    ax = axis if axis is not None else tuple(range(len(shape)))
    check_fwd_bwd(rng, lambda x: x.logsumexp(axis, keepdim), lambda x: torch.logsumexp(x, ax, keepdim), a)


def test_logsumexp_edges(rng):
    a = np.array(
        [[1000.0, 1000.0, -5.0], [-1000.0, -1001.0, -1e4], [-math.inf, -math.inf, -math.inf],
         [-math.inf, 2.0, -math.inf], [math.inf, 0.0, 1.0], [math.nan, 0.0, 1.0]], np.float32)  # fmt: skip
    assert_close(Tensor(a).logsumexp(1), torch.logsumexp(torch.tensor(a), 1))
    # float64 reference: torch's float32 backward uses exp(x - lse) with lse rounded at the scale of 1000
    check_fwd_bwd(rng, lambda x: x.logsumexp(1), lambda x: torch.logsumexp(x.double(), 1).float(), a[:2])
    assert Tensor(np.array([1, 2, 3], np.int32)).logsumexp().dtype == dtypes.float32


# ---------------------------------------------------------------- argmax / argmin


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize(
    "shape,axis",
    [((7,), 0), ((7,), None), ((4, 5), 0), ((4, 5), -1), ((2, 3, 4), 1), ((2, 3, 4), None), ((3, 1), 1)],
    ids=_id,
)
def test_argmax_argmin_ties(rng, shape, axis, keepdim):
    """Small ints make ties common: the first occurrence wins, as in torch."""
    a = rng.integers(-3, 3, shape).astype(np.float32)
    r = torch.tensor(a)
    assert_close(Tensor(a).argmax(axis, keepdim), r.argmax(axis, keepdim).int(), dtypes.int32)
    assert_close(Tensor(a).argmin(axis, keepdim), r.argmin(axis, keepdim).int(), dtypes.int32)


@pytest.mark.parametrize(
    "dt", [dtypes.int8, dtypes.uint8, dtypes.int32, dtypes.int64, dtypes.bool, dtypes.float16], ids=_id
)
def test_argmax_argmin_dtypes(rng, dt):
    if dt == dtypes.bool:
        a = rng.integers(0, 2, (4, 6)).astype(np.bool_)
    elif dtypes.is_float(dt):
        a = rng.integers(-4, 4, (4, 6)).astype(NP_OF[dt])
    else:
        a = rng.integers(int(dtypes.min(dt)), int(dtypes.max(dt)), (4, 6), dtype=np.int64).astype(NP_OF[dt])
        a[0, :2] = [dtypes.min(dt), dtypes.max(dt)]
    r = torch.tensor(a.astype(np.uint8) if dt == dtypes.bool else a)
    for axis in (0, 1, None):
        assert_close(Tensor(a).argmax(axis), r.argmax(axis).int(), dtypes.int32)
        assert_close(Tensor(a).argmin(axis), r.argmin(axis).int(), dtypes.int32)


def test_argmax_nan_inf_0d():
    a = np.array(
        [[1.0, math.nan, 3.0, math.nan], [-math.inf, -math.inf, -1.0, -math.inf], [-0.0, 0.0, 0.0, -1.0]], np.float32
    )
    assert_close(Tensor(a).argmax(1), torch.tensor(a).argmax(1).int())
    assert_close(Tensor(a).argmin(1), torch.tensor(a).argmin(1).int())
    assert Tensor(3.5).argmax().item() == 0 and Tensor(3.5).argmax(0).shape == ()
    assert Tensor(3.5).argmin(keepdim=True).shape == ()
    with pytest.raises(ShapeError, match="argmax"):
        Tensor.zeros(3, 0).argmax(1)
    with pytest.raises(AxisError, match="argmax"):
        Tensor.zeros(3, 4).argmax(2)


# ---------------------------------------------------------------- cumulative ops


SCAN_SHAPES = [((6,), 0), ((6,), -1), ((3, 5), 0), ((3, 5), 1), ((2, 3, 4), 1), ((), 0), ((1,), 0)]


@pytest.mark.parametrize("shape,axis", SCAN_SHAPES, ids=_id)
def test_cumsum_cumprod_fwd_bwd(rng, shape, axis):
    a = randf(rng, shape)
    check_fwd_bwd(rng, lambda x: x.cumsum(axis), lambda x: x.cumsum(axis), a, dtype=dtypes.float32)
    b = rng.uniform(0.5, 1.5, shape).astype(np.float32) * rng.choice([-1, 1], shape).astype(np.float32)
    check_fwd_bwd(rng, lambda x: x.cumprod(axis), lambda x: x.cumprod(axis), b, dtype=dtypes.float32)
    check_fwd_bwd(rng, lambda x: x.logcumsumexp(axis), lambda x: x.logcumsumexp(axis), a * 5, dtype=dtypes.float32)


@pytest.mark.parametrize("shape,axis", SCAN_SHAPES, ids=_id)
def test_cummax_cummin_fwd_bwd(rng, shape, axis):
    a = distinct(rng, shape)
    check_fwd_bwd(rng, lambda x: x.cummax(axis), lambda x: torch.cummax(x, axis).values, a, dtype=dtypes.float32)
    check_fwd_bwd(rng, lambda x: x.cummin(axis), lambda x: torch.cummin(x, axis).values, a, dtype=dtypes.float32)


def test_cumprod_gradient_with_zeros(rng):
    a = rng.uniform(0.5, 1.5, (3, 7)).astype(np.float32)
    a[0, 2] = 0.0
    a[1, [1, 4]] = 0.0
    a[2, 6] = 0.0
    check_fwd_bwd(rng, lambda x: x.cumprod(1), lambda x: x.cumprod(1), a)


@pytest.mark.parametrize(
    "dt", [dtypes.bool, dtypes.int8, dtypes.uint8, dtypes.int32, dtypes.int64, dtypes.float16], ids=_id
)
def test_scan_dtypes(rng, dt):
    a = (
        rng.integers(0, 2, (3, 6)) if dt == dtypes.bool else rng.integers(-3 * (not dtypes.is_unsigned(dt)), 4, (3, 6))
    ).astype(NP_OF[dt])
    r = torch.tensor(a)
    acc = {dtypes.bool: dtypes.int32, dtypes.int8: dtypes.int32, dtypes.uint8: dtypes.uint32}.get(dt, dt)
    tol = {"rtol": 2e-3, "atol": 2e-3}
    assert_close(Tensor(a).cumsum(1), r.cumsum(1).to(r.dtype if dtypes.is_float(dt) else torch.int64), acc, **tol)
    assert_close(Tensor(a).cumprod(1), r.cumprod(1).to(r.dtype if dtypes.is_float(dt) else torch.int64), acc, **tol)
    if dt != dtypes.float16:
        assert_close(Tensor(a).cummax(1), torch.cummax(r, 1).values, dt)
        assert_close(Tensor(a).cummin(0), torch.cummin(r, 0).values, dt)


def test_scan_edges():
    a = np.array(
        [[1.0, math.nan, 3.0, -1.0], [-math.inf, 2.0, math.inf, 0.0], [-math.inf, -math.inf, -math.inf, 1.0]],
        np.float32,
    )
    r = torch.tensor(a)
    assert_close(Tensor(a).cumsum(1), r.cumsum(1))
    assert_close(Tensor(a).cummax(1), torch.cummax(r, 1).values)
    assert_close(Tensor(a).cummin(1), torch.cummin(r, 1).values)
    assert_close(Tensor(a).logcumsumexp(1), torch.logcumsumexp(r, 1))
    big = np.array([-1000.0, 0.0, 1000.0, -1e4, 1000.0], np.float32)
    assert_close(Tensor(big).logcumsumexp(), torch.logcumsumexp(torch.tensor(big), 0))
    assert isinstance(Tensor(a).cummax(0), Tensor)  # values only, as tinygrad (torch adds indices)
    e = np.zeros((2, 0), np.float32)
    for f in ("cumsum", "cummax", "cummin", "logcumsumexp"):
        assert getattr(Tensor(e), f)(1).shape == (2, 0)
    assert Tensor(e).cumprod(1).shape == (2, 0)
    with pytest.raises(AxisError, match="cumsum"):
        Tensor.ones(3).cumsum(1)


@pytest.mark.skipif(INTERPRETED, reason="long axes are slow on the interpreter")
@pytest.mark.parametrize("n", [257, 1000, 4096])
def test_long_scans(rng, n):
    a = randf(rng, (2, n))
    # float64 reference: float32 rounding grows with the running length
    check_fwd_bwd(rng, lambda x: x.cumsum(1), lambda x: x.double().cumsum(1).float(), a, rtol=1e-4, atol=5e-4)
    check_fwd_bwd(rng, lambda x: x.logcumsumexp(1), lambda x: x.double().logcumsumexp(1).float(), a * 10, **LOOSE)
    check_fwd_bwd(rng, lambda x: x.cummax(1), lambda x: torch.cummax(x, 1).values, distinct(rng, (2, n)))
    b = rng.uniform(0.99, 1.01, (2, n)).astype(np.float32)
    check_fwd_bwd(rng, lambda x: x.cumprod(1), lambda x: x.double().cumprod(1).float(), b, rtol=1e-3, atol=1e-3)
    i = rng.integers(-100, 100, (3, n)).astype(np.int32)
    assert_close(Tensor(i).cumsum(1), torch.tensor(i).cumsum(1).int(), dtypes.int32)


@pytest.mark.skipif(INTERPRETED, reason="counts work on a long axis")
def test_cumsum_long_axis_is_blocked():
    """A 4096-long cumsum must not build a 4096 x 4096 intermediate (16.7M masked adds)."""
    from tinygrad import GlobalCounters

    x = Tensor.ones(4096).contiguous().realize()
    GlobalCounters.reset()
    out = x.cumsum().numpy()
    assert out[-1] == 4096.0 and out[99] == 100.0
    assert GlobalCounters.global_ops < 4096 * 4096 // 4, GlobalCounters.global_ops


# ---------------------------------------------------------------- triu / tril


@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (5, 2), (2, 3, 4), (1, 1), (0, 3)], ids=_id)
def test_triu_tril(rng, shape):
    a = randf(rng, shape)
    for d in (-3, -1, 0, 1, 2, 6):
        check_fwd_bwd(rng, lambda x, d=d: x.triu(d), lambda x, d=d: x.triu(d), a, dtype=dtypes.float32)
        check_fwd_bwd(rng, lambda x, d=d: x.tril(d), lambda x, d=d: x.tril(d), a, dtype=dtypes.float32)


def test_triu_tril_dtypes_and_errors(rng):
    b = rng.integers(0, 2, (3, 3)).astype(np.bool_)
    assert_close(Tensor(b).triu(), torch.tensor(b).triu(), dtypes.bool)
    i = rng.integers(-9, 9, (3, 4)).astype(np.int8)
    assert_close(Tensor(i).tril(1), torch.tensor(i).tril(1), dtypes.int8)
    nan = np.full((2, 2), math.nan, np.float32)
    assert_close(Tensor(nan).triu(), torch.tensor(nan).triu())  # masked nan becomes 0, not nan * 0
    with pytest.raises(ShapeError, match="triu"):
        Tensor.ones(3).triu()
    with pytest.raises(ShapeError, match="tril"):
        Tensor(1.0).tril()


# ---------------------------------------------------------------- sort / argsort / topk


def _sort_ref(a: np.ndarray, dim: int, descending: bool) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.sort(torch.tensor(a), dim=dim, descending=descending, stable=True)


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize(
    "shape,dim", [((5,), 0), ((8,), -1), ((3, 6), 1), ((3, 6), 0), ((2, 3, 5), 1), ((2, 1), 1), ((1, 3), 0)], ids=_id
)
def test_sort_stable_vs_torch(rng, shape, dim, descending):
    """Many ties: values and the stable order of tied indices match torch's stable sort."""
    a = rng.integers(-3, 3, shape).astype(np.float32)
    v, i = Tensor(a).sort(dim, descending)
    tv, ti = _sort_ref(a, dim, descending)
    assert_close(v, tv, dtypes.float32)
    assert_close(i, ti.int(), dtypes.int32)
    assert_close(Tensor(a).argsort(dim, descending), ti.int(), dtypes.int32)


@pytest.mark.parametrize("descending", [False, True])
def test_sort_fwd_bwd(rng, descending):
    a = randf(rng, (3, 7))
    check_fwd_bwd(rng, lambda x: x.sort(1, descending)[0], lambda x: torch.sort(x, 1, descending)[0], a)
    check_fwd_bwd(rng, lambda x: x.sort(0, descending)[0], lambda x: torch.sort(x, 0, descending)[0], a)


def test_sort_special_values():
    a = np.array([math.nan, 1.0, -math.inf, -0.0, 0.0, math.inf, math.nan, -1.0, 0.0, -0.0], np.float32)
    for desc in (False, True):
        v, i = Tensor(a).sort(descending=desc)
        tv, ti = _sort_ref(a, 0, desc)
        assert_close(v, tv)
        assert_close(i, ti.int())
        # the sign of zero survives (compare bit patterns)
        assert np.array_equal(np.signbit(v.numpy()), np.signbit(to_np(tv)))


@pytest.mark.parametrize(
    "dt", [dtypes.int8, dtypes.uint8, dtypes.int32, dtypes.int64, dtypes.bool, dtypes.float16], ids=_id
)
def test_sort_dtypes(rng, dt):
    if dt == dtypes.bool:
        a = rng.integers(0, 2, (2, 9)).astype(np.bool_)
    elif dtypes.is_float(dt):
        a = rng.integers(-4, 4, (2, 9)).astype(NP_OF[dt])
    else:
        a = rng.integers(int(dtypes.min(dt)), int(dtypes.max(dt)), (2, 9), dtype=np.int64).astype(NP_OF[dt])
        a[0, :3] = [dtypes.min(dt), dtypes.max(dt), dtypes.min(dt)]
    for desc in (False, True):
        v, i = Tensor(a).sort(1, desc)
        tv, ti = _sort_ref(a, 1, desc)
        assert_close(v, tv, dt)
        assert_close(i, ti.int(), dtypes.int32)


def test_sort_trivial_shapes(rng):
    v, i = Tensor(2.5).sort()
    assert v.item() == 2.5 and i.item() == 0 and i.shape == ()
    v, i = Tensor.zeros(3, 0).sort(1)
    assert v.shape == (3, 0) and i.shape == (3, 0) and i.dtype == dtypes.int32
    v, i = Tensor([[4.0, 1.0]]).sort(0)
    assert v.tolist() == [[4.0, 1.0]] and i.tolist() == [[0, 0]]
    with pytest.raises(AxisError, match="sort"):
        Tensor.ones(3).sort(1)


@pytest.mark.skipif(INTERPRETED, reason="a long sort is many kernels")
def test_sort_long(rng):
    a = rng.integers(0, 50, (2, 300)).astype(np.float32)
    v, i = Tensor(a).sort(1, descending=True)
    tv, ti = _sort_ref(a, 1, True)
    assert_close(v, tv)
    assert_close(i, ti.int())
    check_fwd_bwd(rng, lambda x: x.sort(0)[0], lambda x: torch.sort(x, 0)[0], randf(rng, (33, 2)))


@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize(
    "shape,k,dim", [((7,), 3, 0), ((3, 6), 1, 1), ((3, 6), 6, -1), ((5, 4), 2, 0), ((4,), 0, 0)], ids=_id
)
def test_topk(rng, shape, k, dim, largest):
    a = distinct(rng, shape)
    v, i = Tensor(a).topk(k, dim, largest)
    tv, ti = torch.topk(torch.tensor(a), k, dim, largest)
    assert_close(v, tv, dtypes.float32)
    assert_close(i, ti.int(), dtypes.int32)
    check_fwd_bwd(rng, lambda x: x.topk(k, dim, largest)[0], lambda x: torch.topk(x, k, dim, largest)[0], a)


def test_topk_ties_and_errors(rng):
    a = rng.integers(0, 3, (4, 8)).astype(np.int32)
    v, i = Tensor(a).topk(3)
    tv, _ = torch.topk(torch.tensor(a), 3)
    assert_close(v, tv.int(), dtypes.int32)
    # ties pick the lowest index, and the picked indices hold the picked values
    np.testing.assert_array_equal(np.take_along_axis(a, i.numpy(), 1), v.numpy())
    assert_close(i, torch.sort(torch.tensor(a), dim=1, descending=True, stable=True)[1][:, :3].int())
    with pytest.raises(ShapeError, match="topk"):
        Tensor.ones(3).topk(4)
    with pytest.raises(ShapeError, match="topk"):
        Tensor.ones(3).topk(-1)


# ---------------------------------------------------------------- multinomial


def _chi2_ok(counts: np.ndarray, probs: np.ndarray) -> bool:
    """Pearson chi-square against a generous bound (~6 sigma of the chi-square distribution)."""
    exp = counts.sum() * probs
    keep = exp > 0
    assert (counts[~keep] == 0).all(), "a zero-probability category was drawn"
    stat = (((counts - exp) ** 2)[keep] / exp[keep]).sum()
    dof = keep.sum() - 1
    return stat < dof + 6 * math.sqrt(2 * dof) + 10


def test_multinomial_with_replacement(rng):
    n = 4000 if INTERPRETED else 20000
    w = rng.uniform(0, 3, 5).astype(np.float32)
    w[rng.integers(5)] = 0.0
    s = Tensor(w).multinomial(n, replacement=True)
    assert s.shape == (n,) and s.dtype == dtypes.int32
    counts = np.bincount(s.numpy(), minlength=5)
    assert _chi2_ok(counts, w / w.sum()), (counts, w)
    # 2-d: each row uses its own weights
    w2 = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 5.0]], np.float32)
    assert Tensor(w2).multinomial(6, replacement=True).tolist() == [[0] * 6, [2] * 6]


def test_multinomial_without_replacement(rng):
    rows = 500 if INTERPRETED else 4000
    w = rng.uniform(0.2, 2, 3).astype(np.float32)
    p = w / w.sum()
    s = Tensor(np.tile(w, (rows, 1))).multinomial(2).numpy()
    assert s.shape == (rows, 2) and (s[:, 0] != s[:, 1]).all()
    # ordered pairs (i, j): p_i * p_j / (1 - p_i)
    pair = np.array([[p[i] * p[j] / (1 - p[i]) if i != j else 0.0 for j in range(3)] for i in range(3)]).reshape(-1)
    counts = np.bincount(s[:, 0] * 3 + s[:, 1], minlength=9)
    assert _chi2_ok(counts, pair), (counts, pair)
    # drawing every category is a permutation
    perm = Tensor(rng.uniform(0.5, 1, 5).astype(np.float32)).multinomial(5).numpy()
    assert sorted(perm.tolist()) == list(range(5))
    # a zero weight is never drawn while others remain
    assert 1 not in Tensor(np.array([1.0, 0.0, 2.0, 3.0], np.float32)).multinomial(3).tolist()


def test_multinomial_errors():
    with pytest.raises(ShapeError, match="multinomial"):
        Tensor.ones(2, 2, 2).multinomial()
    with pytest.raises(ValueError, match="multinomial"):
        Tensor.ones(3).multinomial(4)
    with pytest.raises(ValueError, match="multinomial"):
        Tensor.ones(3).multinomial(0, replacement=True)


# ---------------------------------------------------------------- einsum / matmul

EINSUM_CASES = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("ij,jk", [(3, 4), (4, 2)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]),
    ("i,i->", [(5,), (5,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ii->i", [(4, 4)]),
    ("ii", [(3, 3)]),
    ("iji->j", [(3, 2, 3)]),
    ("ij->ji", [(2, 5)]),
    ("ij->", [(3, 4)]),
    ("ba", [(3, 4)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (4, 2)]),
    ("...ii->...i", [(2, 3, 3)]),
    ("b...,b...->b", [(2, 3, 4), (2, 3, 4)]),
    ("i...->...", [(3, 2, 2)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("bhqd,bhkd->bhqk", [(1, 2, 3, 4), (1, 2, 5, 4)]),
    ("ij,ij->ij", [(3, 1), (1, 4)]),
    (" i j , j k -> i k ", [(2, 3), (3, 2)]),
    (",i->i", [(), (3,)]),
    ("ij,jk->ik", [(0, 3), (3, 2)]),
    ("ii,ij->j", [(3, 3), (3, 2)]),
    ("...i,...i->...", [(2, 1, 3), (4, 3)]),
    ("i,i,i->i", [(4,), (4,), (4,)]),
    ("aAb,bB->aAB", [(2, 3, 4), (4, 2)]),
]


@pytest.mark.parametrize("formula,shapes", EINSUM_CASES, ids=_id)
def test_einsum(rng, formula, shapes):
    arrays = [randf(rng, s) for s in shapes]
    check_fwd_bwd(
        rng, lambda *xs: Tensor.einsum(formula, *xs), lambda *xs: torch.einsum(formula, *xs), *arrays, **LOOSE
    )


def test_einsum_list_dtypes_errors(rng):
    a, b = randf(rng, (2, 3)), randf(rng, (3, 2))
    assert_close(
        Tensor.einsum("ij,jk->ik", [Tensor(a), Tensor(b)]), torch.einsum("ij,jk->ik", torch.tensor(a), torch.tensor(b))
    )
    ia, ib = rng.integers(-5, 5, (2, 3)).astype(np.int32), rng.integers(-5, 5, (3, 2)).astype(np.int32)
    assert_close(
        Tensor.einsum("ij,jk->ik", Tensor(ia), Tensor(ib)),
        torch.einsum("ij,jk->ik", torch.tensor(ia), torch.tensor(ib)),
        dtypes.int32,
    )
    mixed = Tensor.einsum("ij,jk->ik", Tensor(ia), Tensor(b))
    assert_close(mixed, torch.einsum("ij,jk->ik", torch.tensor(ia).float(), torch.tensor(b)), dtypes.float32)
    assert Tensor.einsum("ij,jk->ik", Tensor(a), Tensor(b), dtype=dtypes.float64).dtype == dtypes.float64
    with pytest.raises(ShapeError, match="einsum"):
        Tensor.einsum("ij,jk->ik", Tensor(a), Tensor(a))
    with pytest.raises(ShapeError, match="einsum"):
        Tensor.einsum("ij->i", Tensor(randf(rng, (2, 3, 4))))
    with pytest.raises(ShapeError, match="einsum"):
        Tensor.einsum("ij,jk->ik", Tensor(a))
    with pytest.raises(ShapeError, match="einsum"):
        Tensor.einsum("ii->i", Tensor(a))
    with pytest.raises(ValueError, match="einsum"):
        Tensor.einsum("ij->k", Tensor(a))
    with pytest.raises(ValueError, match="einsum"):
        Tensor.einsum("ij->ii", Tensor(a))
    with pytest.raises(ValueError, match="einsum"):
        Tensor.einsum("i1->i", Tensor(a))
    with pytest.raises(DTypeError, match="einsum"):
        Tensor.einsum("ij->i", a)


MATMUL_SHAPES = [
    ((4,), (4,)),
    ((4,), (4, 3)),
    ((3, 4), (4,)),
    ((2, 3), (3, 5)),
    ((2, 3, 4), (4, 2)),
    ((4,), (2, 4, 3)),
    ((2, 1, 3, 4), (5, 4, 2)),
    ((1, 3), (3, 1)),
    ((0, 3), (3, 2)),
    ((2, 0), (0, 3)),
]


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES, ids=_id)
def test_matmul_fwd_bwd(rng, sa, sb):
    a, b = randf(rng, sa), randf(rng, sb)
    check_fwd_bwd(rng, lambda x, y: x @ y, lambda x, y: x @ y, a, b, dtype=dtypes.float32, **LOOSE)
    check_fwd_bwd(rng, lambda x, y: x.dot(y), lambda x, y: torch.matmul(x, y), a, b, **LOOSE)
    check_fwd_bwd(rng, lambda x, y: y.matmul(x, reverse=True), lambda x, y: x @ y, a, b, **LOOSE)


@pytest.mark.parametrize(
    "da,db",
    [
        (dtypes.int8, dtypes.int8),
        (dtypes.int32, dtypes.int32),
        (dtypes.int8, dtypes.int32),
        (dtypes.float16, dtypes.float16),
        (dtypes.int32, dtypes.float32),
    ],
    ids=_id,
)
def test_matmul_dtypes(rng, da, db):
    """The result has the operands' promoted dtype; int8 wraps like torch's int8 matmul."""
    a = rng.integers(-100, 100, (3, 8)).astype(NP_OF[da])
    b = rng.integers(-100, 100, (8, 2)).astype(NP_OF[db])
    out = Tensor(a) @ Tensor(b)
    ref = (torch.tensor(a).double() @ torch.tensor(b).double()).numpy()
    if da == dtypes.float16:
        assert_close(out, torch.tensor(a) @ torch.tensor(b), dtypes.float16, rtol=2e-3, atol=4.0)
    elif dtypes.is_float(out.dtype):
        assert_close(out, ref.astype(np.float32), dtypes.float32)
    else:
        exp_dt = dtypes.int32 if dtypes.int32 in (da, db) else dtypes.int8
        assert_close(out, ref.astype(np.int64).astype(NP_OF[exp_dt]), exp_dt)
    assert (Tensor(a).dot(Tensor(b), dtype=dtypes.int64)).dtype == dtypes.int64


def test_matmul_errors():
    with pytest.raises(ShapeError, match="matmul"):
        Tensor.ones(2, 3) @ Tensor.ones(2, 3)
    with pytest.raises(ShapeError, match="matmul"):
        Tensor.ones(3).dot(Tensor(2.0))
    with pytest.raises(ShapeError, match="matmul"):
        Tensor.ones(2, 2, 3) @ Tensor.ones(3, 3, 2)


# ---------------------------------------------------------------- axis errors


AXIS_OPS = (
    "sum prod max min mean any all var std logsumexp argmax argmin cumsum cumprod cummax cummin logcumsumexp softmax "
    "log_softmax sort argsort"
).split()


@pytest.mark.parametrize("op", AXIS_OPS)
def test_axis_out_of_range(op):
    with pytest.raises(AxisError):
        getattr(Tensor.ones(2, 3), op)(2)
    with pytest.raises(AxisError):
        getattr(Tensor.ones(2, 3), op)(-3)
