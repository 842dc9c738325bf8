"""Neural-network functionals (tensor_api/nn.py) against torch.nn.functional, forward and backward.

Inputs are fresh random data from the `rng` fixture (tests/conftest.py prints the seed; TINYGRAD_TEST_SEED
replays it). Shapes stay tiny so DEV=PYTHON (an interpreter, slow per kernel) runs the same tests; a few larger
cases run only on compiled devices.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tinygrad import Tensor
from tinygrad.dtype import dtypes
from tinygrad.errors import AxisError, DTypeError, ShapeError

ON_PYTHON = os.environ.get("DEV", "").upper() == "PYTHON"
big_only = pytest.mark.skipif(ON_PYTHON, reason="larger shapes: too slow for the PYTHON interpreter device")

TOL = {"rtol": 1e-4, "atol": 1e-5}
GRAD_TOL = {"rtol": 1e-3, "atol": 1e-4}


def kernels(t: Tensor) -> int:
    return sum(1 for si in t.schedule() if si.is_kernel)


def randf(rng: np.random.Generator, *shape: int, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    if lo is None:
        return rng.standard_normal(shape).astype(np.float32)
    return rng.uniform(lo, hi, shape).astype(np.float32)


def compare(
    rng: np.random.Generator,
    tiny_fn: Callable[..., Tensor],
    torch_fn: Callable[..., torch.Tensor],
    *arrays: np.ndarray,
    grad: bool = True,
    no_grad: tuple[int, ...] = (),
    tol: dict[str, float] = TOL,
    grad_tol: dict[str, float] = GRAD_TOL,
) -> None:
    """tiny_fn(*tensors) vs torch_fn(*tensors): values, and the gradients of every float input (except those in
    no_grad, where torch has none) under a random upstream gradient."""
    targets = [i for i, a in enumerate(arrays) if grad and a.dtype.kind == "f" and i not in no_grad]
    ts = [Tensor(a) for a in arrays]
    pts = [torch.tensor(a, requires_grad=i in targets) for i, a in enumerate(arrays)]
    out, ref = tiny_fn(*ts), torch_fn(*pts)
    assert out.shape == tuple(ref.shape), f"shape {out.shape} != torch {tuple(ref.shape)}"
    grads: list[Tensor] = []
    if targets:
        up = rng.standard_normal(tuple(ref.shape)).astype(np.float32)
        grads = out.gradient(*[ts[i] for i in targets], gradient=Tensor(up))
        ref.backward(torch.tensor(up))
    out.realize(*grads)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), **tol)
    for i, g in zip(targets, grads):
        expect = pts[i].grad
        expect = torch.zeros_like(pts[i]) if expect is None else expect
        np.testing.assert_allclose(g.numpy(), expect.numpy(), err_msg=f"gradient of input {i}", **grad_tol)


# ---------------------------------------------------------------- kernel counts (the fusion requirements)


def test_softmax_log_softmax_at_most_three_kernels(rng):
    x = Tensor(randf(rng, 4, 7)).realize()
    for fn, ref in ((Tensor.softmax, F.softmax), (Tensor.log_softmax, F.log_softmax)):
        out = fn(x, -1)
        assert kernels(out) <= 3
        np.testing.assert_allclose(out.numpy(), ref(torch.tensor(x.numpy()), -1).numpy(), **TOL)


def test_layernorm_at_most_three_kernels(rng):
    x = Tensor(randf(rng, 3, 8)).realize()
    out = x.layernorm()
    assert kernels(out) <= 3
    np.testing.assert_allclose(out.numpy(), F.layer_norm(torch.tensor(x.numpy()), (8,)).numpy(), **TOL)


def test_linear_bias_relu_is_one_kernel(rng):
    x, w, b = (Tensor(randf(rng, *s)).realize() for s in ((3, 6), (6, 4), (4,)))
    out = x.linear(w, b).relu()
    assert kernels(out) == 1
    ref = F.relu(F.linear(*(torch.tensor(t.numpy()) for t in (x, w.T, b))))
    np.testing.assert_allclose(out.numpy(), ref.numpy(), **TOL)


def test_conv2d_with_bias_is_one_kernel(rng):
    x, w, b = (Tensor(randf(rng, *s)).realize() for s in ((1, 2, 5, 5), (3, 2, 3, 3), (3,)))
    out = x.conv2d(w, b, padding=1, stride=2)
    assert kernels(out) == 1
    ref = F.conv2d(*(torch.tensor(t.numpy()) for t in (x, w, b)), padding=1, stride=2)
    np.testing.assert_allclose(out.numpy(), ref.numpy(), **TOL)


@pytest.mark.parametrize("pool", ["avg", "max"])
def test_pooling_is_one_kernel(rng, pool):
    # windows are views (no copy), so pad + window + reduce + divisor all fuse
    x = Tensor(randf(rng, 1, 2, 5, 5)).realize()
    if pool == "avg":
        out = x.avg_pool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)
        ref = F.avg_pool2d(torch.tensor(x.numpy()), 3, 2, 1, ceil_mode=True, count_include_pad=False)
    else:
        out = x.max_pool2d(3, stride=2, padding=1, dilation=1)
        ref = F.max_pool2d(torch.tensor(x.numpy()), 3, 2, 1)
    assert kernels(out) == 1
    np.testing.assert_allclose(out.numpy(), ref.numpy(), **TOL)


# ---------------------------------------------------------------- conv2d


CONV_CASES = [
    ((1, 2, 5, 5), (3, 2, 3, 3), {}),
    ((2, 2, 5, 4), (2, 2, 2, 3), {"stride": 2, "padding": 1}),
    ((1, 4, 5, 5), (4, 2, 3, 3), {"groups": 2, "dilation": 2, "padding": 2}),
    ((1, 2, 5, 6), (2, 2, 3, 2), {"stride": (2, 3), "padding": (1, 0), "dilation": (1, 2)}),
    ((1, 2, 5, 5), (3, 2, 3, 3), {"padding": "same"}),
    ((1, 2, 5, 5), (2, 2, 2, 2), {"padding": "same", "dilation": 2}),
    ((1, 2, 4, 4), (2, 2, 2, 2), {"padding": "valid"}),
    ((1, 3, 4, 4), (3, 1, 3, 3), {"groups": 3, "padding": 1}),
]


@pytest.mark.parametrize("xs,ws,kw", CONV_CASES, ids=[str(c[2]) for c in CONV_CASES])
@pytest.mark.parametrize("bias", [False, True])
def test_conv2d(rng, xs, ws, kw, bias):
    args = [randf(rng, *xs), randf(rng, *ws)] + ([randf(rng, ws[0])] if bias else [])
    compare(
        rng,
        lambda x, w, *b: x.conv2d(w, b[0] if b else None, **kw),
        lambda x, w, *b: F.conv2d(x, w, b[0] if b else None, **kw),
        *args,
    )


@big_only
def test_conv2d_larger(rng):
    compare(
        rng,
        lambda x, w, b: x.conv2d(w, b, groups=2, stride=2, padding=2, dilation=(2, 1)),
        lambda x, w, b: F.conv2d(x, w, b, groups=2, stride=2, padding=2, dilation=(2, 1)),
        randf(rng, 3, 8, 17, 13),
        randf(rng, 6, 4, 3, 5),
        randf(rng, 6),
    )


def test_conv2d_torch_style_four_padding(rng):
    # (left, right, top, bottom) as in F.pad, last dim first
    pad = (1, 2, 0, 1)
    compare(
        rng,
        lambda x, w: x.conv2d(w, padding=pad),
        lambda x, w: F.conv2d(F.pad(x, pad), w),
        randf(rng, 1, 2, 4, 5),
        randf(rng, 2, 2, 3, 3),
    )


def test_conv1d_and_conv3d(rng):
    compare(
        rng,
        lambda x, w, b: x.conv2d(w, b, stride=2, padding=1),
        lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1),
        randf(rng, 2, 3, 7),
        randf(rng, 4, 3, 3),
        randf(rng, 4),
    )
    compare(
        rng,
        lambda x, w: x.conv2d(w, padding=(1, 0, 1)),
        lambda x, w: F.conv3d(x, w, padding=(1, 0, 1)),
        randf(rng, 1, 2, 3, 4, 3),
        randf(rng, 2, 2, 2, 2, 2),
    )


def test_conv2d_unbatched_and_empty_batch(rng):
    compare(rng, lambda x, w: x.conv2d(w), lambda x, w: F.conv2d(x, w), randf(rng, 2, 4, 4), randf(rng, 3, 2, 2, 2))
    out = Tensor(randf(rng, 0, 2, 5, 5)).conv2d(Tensor(randf(rng, 3, 2, 3, 3)))
    assert out.shape == (0, 3, 3, 3) and out.numpy().shape == (0, 3, 3, 3)


def test_conv2d_int_and_accumulate_dtype(rng):
    x = rng.integers(-5, 5, (1, 2, 4, 4)).astype(np.int32)
    w = rng.integers(-3, 3, (2, 2, 2, 2)).astype(np.int32)
    out = Tensor(x).conv2d(Tensor(w))
    assert out.dtype == dtypes.int32
    ref = F.conv2d(torch.tensor(x, dtype=torch.float64), torch.tensor(w, dtype=torch.float64))
    np.testing.assert_array_equal(out.numpy(), ref.numpy().astype(np.int32))
    big = Tensor(np.full((1, 1, 2, 2), 100, np.int8)).conv2d(Tensor(np.full((1, 1, 2, 2), 100, np.int8)), dtype="int32")
    assert big.dtype == dtypes.int32 and big.item() == 40000


def test_conv2d_errors(rng):
    x = Tensor(randf(rng, 1, 2, 5, 5))
    with pytest.raises(ShapeError, match="conv2d"):
        x.conv2d(Tensor(randf(rng, 3, 3, 3, 3)))
    with pytest.raises(ShapeError, match="groups"):
        x.conv2d(Tensor(randf(rng, 3, 1, 3, 3)), groups=2)
    with pytest.raises(ShapeError, match="bias"):
        x.conv2d(Tensor(randf(rng, 3, 2, 3, 3)), Tensor(randf(rng, 4)))
    with pytest.raises(ShapeError, match="same"):
        x.conv2d(Tensor(randf(rng, 3, 2, 3, 3)), padding="same", stride=2)
    with pytest.raises(ValueError, match="padding"):
        x.conv2d(Tensor(randf(rng, 3, 2, 3, 3)), padding="full")
    with pytest.raises(ShapeError, match="larger than the padded input"):
        x.conv2d(Tensor(randf(rng, 3, 2, 6, 6)))
    with pytest.raises(ShapeError, match="stride"):
        x.conv2d(Tensor(randf(rng, 3, 2, 3, 3)), stride=0)
    with pytest.raises(ShapeError, match="padding"):
        x.conv2d(Tensor(randf(rng, 3, 2, 3, 3)), padding=(1, 2, 3))


# ---------------------------------------------------------------- conv_transpose2d

CONVT_CASES = [
    ((1, 2, 3, 3), (2, 3, 3, 3), {}),
    ((1, 2, 3, 3), (2, 2, 3, 3), {"stride": 2, "padding": 1, "output_padding": 1}),
    ((1, 4, 3, 2), (4, 1, 2, 3), {"groups": 2, "stride": (2, 1), "dilation": (1, 2), "padding": (1, 0)}),
    ((2, 2, 2, 3), (2, 2, 3, 2), {"stride": 3, "output_padding": (2, 0), "padding": 2}),
]


@pytest.mark.parametrize("xs,ws,kw", CONVT_CASES, ids=[str(c[2]) for c in CONVT_CASES])
def test_conv_transpose2d(rng, xs, ws, kw):
    b = randf(rng, ws[1] * kw.get("groups", 1))
    compare(
        rng,
        lambda x, w, b: x.conv_transpose2d(w, b, **kw),
        lambda x, w, b: F.conv_transpose2d(x, w, b, **kw),
        randf(rng, *xs),
        randf(rng, *ws),
        b,
    )


def test_conv_transpose1d(rng):
    compare(
        rng,
        lambda x, w: x.conv_transpose2d(w, stride=3, padding=1),
        lambda x, w: F.conv_transpose1d(x, w, stride=3, padding=1),
        randf(rng, 2, 2, 4),
        randf(rng, 2, 3, 3),
    )


def test_conv_transpose2d_errors(rng):
    x, w = Tensor(randf(rng, 1, 2, 3, 3)), Tensor(randf(rng, 2, 2, 3, 3))
    with pytest.raises(ShapeError, match="output_padding"):
        x.conv_transpose2d(w, stride=2, output_padding=2)
    with pytest.raises(ShapeError, match="channels"):
        x.conv_transpose2d(Tensor(randf(rng, 3, 2, 3, 3)))
    with pytest.raises(ShapeError, match="no output"):
        x.conv_transpose2d(w, padding=3)


# ---------------------------------------------------------------- pooling

AVG_CASES = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
    {"kernel_size": (3, 2), "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False},
    {"kernel_size": 3, "stride": 1, "padding": 1, "count_include_pad": False},
    {"kernel_size": 2, "stride": (2, 1), "ceil_mode": True},
]


@pytest.mark.parametrize("kw", AVG_CASES, ids=str)
def test_avg_pool2d(rng, kw):
    compare(rng, lambda x: x.avg_pool2d(**kw), lambda x: F.avg_pool2d(x, **kw), randf(rng, 1, 2, 5, 6))


def test_avg_pool_1d_3d_and_int(rng):
    compare(rng, lambda x: x.avg_pool2d((3,), 2, padding=1), lambda x: F.avg_pool1d(x, 3, 2, 1), randf(rng, 2, 2, 7))
    compare(rng, lambda x: x.avg_pool2d((2, 2, 2)), lambda x: F.avg_pool3d(x, 2), randf(rng, 1, 1, 4, 4, 4))
    xi = rng.integers(-50, 50, (1, 4, 4)).astype(np.int32)
    out = Tensor(xi).avg_pool2d(2)
    assert dtypes.is_float(out.dtype)
    np.testing.assert_allclose(out.numpy(), F.avg_pool2d(torch.tensor(xi, dtype=torch.float32), 2).numpy(), **TOL)


MAX_CASES = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
    {"kernel_size": (3, 2), "stride": 2, "padding": 1, "dilation": 2, "ceil_mode": True},
    {"kernel_size": 2, "stride": 1},
]


@pytest.mark.parametrize("kw", MAX_CASES, ids=str)
def test_max_pool2d(rng, kw):
    # a permutation of distinct values: no ties, so torch's single-winner gradient is well defined
    x = (rng.permutation(60).reshape(1, 2, 5, 6) * 0.37 - 11).astype(np.float32)
    compare(rng, lambda t: t.max_pool2d(**kw), lambda t: F.max_pool2d(t, **kw), x)
    out, idx = Tensor(x).max_pool2d(**kw, return_indices=True)
    ref, ref_idx = F.max_pool2d(torch.tensor(x), **kw, return_indices=True)
    assert idx.dtype == dtypes.int64
    np.testing.assert_array_equal(idx.numpy(), ref_idx.numpy())
    np.testing.assert_allclose(out.numpy(), ref.numpy(), **TOL)


def test_max_pool_pads_with_minus_inf_and_picks_first_tie(rng):
    x = -np.abs(randf(rng, 1, 1, 3, 3)) - 1  # all negative: zero padding would win
    out = Tensor(x).max_pool2d(2, stride=1, padding=1)
    np.testing.assert_allclose(out.numpy(), F.max_pool2d(torch.tensor(x), 2, 1, 1).numpy())
    assert (out.numpy() < 0).all()
    xi = rng.integers(-100, -1, (1, 1, 4, 4)).astype(np.int32)
    outi = Tensor(xi).max_pool2d(2, padding=1)
    assert outi.dtype == dtypes.int32
    ref = F.max_pool2d(torch.tensor(xi, dtype=torch.float64), 2, padding=1).numpy()
    np.testing.assert_array_equal(outi.numpy(), ref.astype(np.int32))
    ties = np.array([[[[2.0, 2.0, 1.0], [2.0, -math.inf, 5.0]]]], np.float32)
    _, idx = Tensor(ties).max_pool2d((2, 2), stride=1, return_indices=True)
    assert idx.tolist() == [[[[0, 5]]]]
    nans = np.array([[[1.0, np.nan, 3.0, np.nan, 5.0, 5.0, 2.0, 7.0]]], np.float32)
    out, idx = Tensor(nans).max_pool2d((1, 4), return_indices=True)
    ref, ref_idx = F.max_pool2d(torch.tensor(nans), (1, 4), return_indices=True)
    np.testing.assert_array_equal(out.numpy(), ref.numpy())
    np.testing.assert_array_equal(idx.numpy(), ref_idx.numpy())


def test_max_pool_1d(rng):
    x = (rng.permutation(14).reshape(2, 7) * 1.5).astype(np.float32)
    compare(rng, lambda t: t.max_pool2d((3,), 2, padding=1), lambda t: F.max_pool1d(t, 3, 2, 1), x)


@pytest.mark.parametrize(
    "kw", [{"kernel_size": 2}, {"kernel_size": 3, "stride": 2, "padding": 1}, {"kernel_size": (2, 3), "stride": 1}]
)
def test_max_unpool2d(rng, kw):
    x = (rng.permutation(40).reshape(1, 2, 4, 5) * 0.5 - 7).astype(np.float32)
    pooled, idx = F.max_pool2d(torch.tensor(x), **kw, return_indices=True)
    p, i = pooled.numpy(), idx.numpy()
    # with overlapping windows one position can be named twice, with the same value
    compare(
        rng,
        lambda t: t.max_unpool2d(Tensor(i), **kw, output_size=x.shape),
        lambda t: F.max_unpool2d(t, torch.tensor(i), **kw, output_size=x.shape),
        p,
    )


def test_max_pool_unpool_roundtrip_defaults(rng):
    x = (rng.permutation(16).reshape(1, 1, 4, 4) + 0.25).astype(np.float32)
    out, idx = Tensor(x).max_pool2d(return_indices=True)
    back = out.max_unpool2d(idx)
    ref = F.max_unpool2d(*F.max_pool2d(torch.tensor(x), 2, return_indices=True), 2)
    np.testing.assert_allclose(back.numpy(), ref.numpy())
    # both windows pick the 5: its position is named twice, gets 5 (not 10), and both values get its gradient
    dup = np.array([[[[1.0, 5.0, 2.0]]]], np.float32)
    pooled, idx = F.max_pool2d(torch.tensor(dup), (1, 2), stride=1, return_indices=True)
    assert idx.tolist() == [[[[1, 1]]]]
    compare(
        rng,
        lambda t: t.max_unpool2d(Tensor(idx.numpy()), (1, 2), stride=1, output_size=(1, 3)),
        lambda t: F.max_unpool2d(t, idx, (1, 2), stride=1, output_size=(1, 3)),
        pooled.numpy(),
    )


def test_pool_errors(rng):
    x = Tensor(randf(rng, 1, 1, 4, 4))
    with pytest.raises(ShapeError, match="max_pool2d"):
        x.max_pool2d(5)
    with pytest.raises(ShapeError, match="kernel_size"):
        x.avg_pool2d(0)
    with pytest.raises(ShapeError, match="avg_pool2d"):
        Tensor([1.0, 2.0]).avg_pool2d((2, 2))
    with pytest.raises(ShapeError, match="max_unpool2d"):
        x.max_unpool2d(Tensor([[0]]))
    with pytest.raises(DTypeError, match="max_unpool2d"):
        x.max_unpool2d(x)


# ---------------------------------------------------------------- interpolate

INTERP_CASES = [
    ("nearest", None, (3, 4)),
    ("nearest", None, (7, 11)),
    ("nearest-exact", None, (3, 7)),
    ("nearest-exact", None, (6, 2)),
    ("bilinear", False, (3, 4)),
    ("bilinear", False, (7, 9)),
    ("bilinear", True, (7, 3)),
    ("bilinear", True, (1, 1)),
    ("bilinear", False, (1, 2)),
]


@pytest.mark.parametrize("mode,align,size", INTERP_CASES, ids=str)
def test_interpolate_2d(rng, mode, align, size):
    ours = "linear" if mode == "bilinear" else mode
    compare(
        rng,
        lambda x: x.interpolate(size, mode=ours, align_corners=bool(align)),
        lambda x: F.interpolate(x, size=size, mode=mode, align_corners=align),
        randf(rng, 1, 2, 5, 4),
    )


def test_interpolate_1d_3d_and_alias(rng):
    compare(
        rng,
        lambda x: x.interpolate((9,), align_corners=True),
        lambda x: F.interpolate(x, size=(9,), mode="linear", align_corners=True),
        randf(rng, 2, 1, 4),
    )
    compare(
        rng,
        lambda x: x.interpolate((3, 2, 4), mode="trilinear"),
        lambda x: F.interpolate(x, size=(3, 2, 4), mode="trilinear"),
        randf(rng, 1, 1, 2, 3, 3),
    )
    compare(
        rng,
        lambda x: x.interpolate((5, 2), mode="nearest"),
        lambda x: F.interpolate(x, size=(5, 2), mode="nearest"),
        randf(rng, 1, 1, 3, 3, 3)[:, :, 0],
    )


def test_interpolate_keeps_int_dtype_for_nearest_and_inf(rng):
    xi = rng.integers(-1000, 1000, (1, 1, 3, 3)).astype(np.int32)
    out = Tensor(xi).interpolate((5, 4), mode="nearest")
    assert out.dtype == dtypes.int32
    ref = F.interpolate(torch.tensor(xi, dtype=torch.float64), size=(5, 4), mode="nearest").numpy()
    np.testing.assert_array_equal(out.numpy(), ref.astype(np.int32))
    x = np.array([[[1.0, np.inf, 3.0, -2.0]]], np.float32)
    for mode in ("nearest", "linear"):
        got = Tensor(x).interpolate((7,), mode=mode).numpy()
        np.testing.assert_array_equal(got, F.interpolate(torch.tensor(x), size=(7,), mode=mode).numpy())


def test_interpolate_errors():
    x = Tensor.ones(1, 1, 2, 2)
    with pytest.raises(ValueError, match="mode"):
        x.interpolate((3, 3), mode="bicubic")
    with pytest.raises(ValueError, match="align_corners"):
        x.interpolate((3, 3), mode="nearest", align_corners=True)
    with pytest.raises(ShapeError, match="size"):
        x.interpolate((0, 3))


# ---------------------------------------------------------------- linear, sequential, normalization


@pytest.mark.parametrize("xs,ws", [((3, 4), (4, 5)), ((2, 3, 4), (4, 2)), ((4,), (4, 3)), ((2, 3), (3,))])
@pytest.mark.parametrize("bias", [False, True])
def test_linear(rng, xs, ws, bias):
    out_features = ws[-1]
    args = [randf(rng, *xs), randf(rng, *ws)] + ([randf(rng, out_features)] if bias else [])
    if len(ws) == 1:
        ref_fn = lambda x, w, *b: x * w + (b[0] if b else 0)  # noqa: E731
    else:
        ref_fn = lambda x, w, *b: F.linear(x, w.T, b[0] if b else None)  # noqa: E731
    compare(rng, lambda x, w, *b: x.linear(w, b[0] if b else None), ref_fn, *args)


def test_linear_dtype(rng):
    x, w = randf(rng, 2, 3), randf(rng, 3, 2)
    out = Tensor(x).linear(Tensor(w), dtype="float16")
    assert out.dtype == dtypes.float16
    np.testing.assert_allclose(out.numpy(), x @ w, rtol=1e-2, atol=1e-2)


def test_sequential(rng):
    x, w = randf(rng, 2, 3), randf(rng, 3, 3)
    compare(
        rng,
        lambda t, w: t.sequential([lambda y: y.linear(w), Tensor.relu, lambda y: y * 2]),
        lambda t, w: F.relu(t @ w) * 2,
        x,
        w,
    )
    assert Tensor([1.0]).sequential([]).tolist() == [1.0]


@pytest.mark.parametrize("shape,axis", [((3, 5), -1), ((2, 3, 4), (-2, -1)), ((2, 3, 4), 1), ((6,), 0)])
def test_layernorm(rng, shape, axis):
    eps = 1e-3

    def ref(x: torch.Tensor) -> torch.Tensor:
        axes = (axis,) if isinstance(axis, int) else axis
        mean = x.mean(axes, keepdim=True)
        var = ((x - mean) ** 2).mean(axes, keepdim=True)
        return (x - mean) / torch.sqrt(var + eps)

    compare(rng, lambda x: x.layernorm(axis, eps), ref, randf(rng, *shape))
    compare(rng, lambda x: x.layernorm(), lambda x: F.layer_norm(x, shape[-1:]), randf(rng, *shape))


@pytest.mark.parametrize("affine", [False, True])
def test_batchnorm(rng, affine):
    c = 3
    x, mean, var = randf(rng, 2, c, 2, 2), randf(rng, c), randf(rng, c, lo=0.5, hi=2.0)
    w, b = randf(rng, c), randf(rng, c)
    invstd = (1 / np.sqrt(var + 1e-5)).astype(np.float32)
    compare(
        rng,
        lambda x, m, s, *wb: x.batchnorm(wb[0] if wb else None, wb[1] if wb else None, m, s),
        lambda x, m, s, *wb: F.batch_norm(x, m, 1 / s**2 - 1e-5, *(wb if wb else (None, None)), training=False),
        x,
        mean,
        invstd,
        *((w, b) if affine else ()),
        no_grad=(1, 2),
        grad_tol={"rtol": 2e-3, "atol": 2e-3},
    )


def test_batchnorm_axes_and_scalar_invstd(rng):
    x, m, s = randf(rng, 2, 3, 4), randf(rng, 3, 4), randf(rng, 3, 4, lo=0.5, hi=2.0)
    out = Tensor(x).batchnorm(None, None, Tensor(m), Tensor(s), axis=(1, 2))
    np.testing.assert_allclose(out.numpy(), (x - m) * s, **TOL)
    out = Tensor(x).batchnorm(None, None, Tensor(m[:, 0]), Tensor(2.0), axis=-2)
    np.testing.assert_allclose(out.numpy(), (x - m[None, :, 0, None]) * 2.0, **TOL)
    with pytest.raises(AxisError, match="batchnorm"):
        Tensor(x).batchnorm(None, None, Tensor(m), Tensor(s), axis=3)
    with pytest.raises(ShapeError, match="batchnorm"):
        Tensor(x).batchnorm(None, None, Tensor(m[:2]), Tensor(s), axis=(1, 2))


# ---------------------------------------------------------------- dropout, one_hot


@pytest.fixture
def training():
    with Tensor.train():
        yield


def test_dropout_is_identity_when_not_training(rng):
    x = randf(rng, 3, 4)
    t = Tensor(x)
    assert t.dropout(0.9) is t
    np.testing.assert_array_equal(t.dropout(0.9).numpy(), x)


def test_dropout_training(rng, training):
    Tensor.manual_seed(int(rng.integers(0, 2**31)))
    x = randf(rng, 20, 25, lo=1.0, hi=2.0)
    t = Tensor(x)
    p = 0.3
    out = t.dropout(p)
    (g,) = (out * Tensor(x)).sum().gradient(t)
    o, gn = out.numpy(), g.numpy()
    kept = o != 0
    assert 0.6 < kept.mean() < 0.8  # 500 draws at keep rate 0.7: about 5 sigma either side
    np.testing.assert_allclose(o[kept], x[kept] / (1 - p), rtol=1e-6)
    np.testing.assert_allclose(gn, np.where(kept, x / (1 - p), 0), rtol=1e-6)
    assert t.dropout(0.0) is t
    np.testing.assert_array_equal(t.dropout(1.0).numpy(), np.zeros_like(x))
    with pytest.raises(ValueError, match="dropout"):
        t.dropout(1.5)


def test_dropout_masks_differ_between_calls(training):
    Tensor.manual_seed(3)
    t = Tensor.ones(64)
    a, b = t.dropout(0.5).numpy(), t.dropout(0.5).numpy()
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("shape", [(5,), (2, 3), ()])
def test_one_hot(rng, shape):
    y = rng.integers(0, 4, shape).astype(np.int64)
    ref = F.one_hot(torch.tensor(y), 6).numpy()
    out = Tensor(y).one_hot(6)
    assert out.shape == ref.shape and dtypes.is_int(out.dtype)
    np.testing.assert_array_equal(out.numpy(), ref)
    inferred = Tensor(y).one_hot()
    np.testing.assert_array_equal(inferred.numpy(), F.one_hot(torch.tensor(y)).numpy())


def test_one_hot_errors():
    with pytest.raises(DTypeError, match="one_hot"):
        Tensor([1.0]).one_hot(2)
    with pytest.raises(ShapeError, match="num_classes"):
        Tensor([1]).one_hot(-3)
    with pytest.raises(ShapeError, match="empty"):
        Tensor(np.zeros(0, np.int32)).one_hot()
    assert Tensor(np.zeros(0, np.int32)).one_hot(3).shape == (0, 3)


# ---------------------------------------------------------------- attention


def test_sdpa_plain_and_scale(rng):
    q, k, v = randf(rng, 1, 2, 3, 4), randf(rng, 1, 2, 5, 4), randf(rng, 1, 2, 5, 3)
    compare(rng, Tensor.scaled_dot_product_attention, F.scaled_dot_product_attention, q, k, v)
    compare(
        rng,
        lambda q, k, v: q.scaled_dot_product_attention(k, v, scale=0.3),
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, scale=0.3),
        q,
        k,
        v,
    )


@pytest.mark.parametrize("L,S", [(3, 3), (3, 5), (4, 2)])
def test_sdpa_causal(rng, L, S):
    compare(
        rng,
        lambda q, k, v: q.scaled_dot_product_attention(k, v, is_causal=True),
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
        randf(rng, 2, L, 4),
        randf(rng, 2, S, 4),
        randf(rng, 2, S, 2),
    )


def test_sdpa_masks(rng):
    q, k, v = randf(rng, 2, 3, 4), randf(rng, 2, 4, 4), randf(rng, 2, 4, 2)
    bmask = rng.random((3, 4)) < 0.7
    bmask[:, 0] = True  # every query sees at least one key
    compare(
        rng,
        lambda q, k, v: q.scaled_dot_product_attention(k, v, attn_mask=Tensor(bmask)),
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=torch.tensor(bmask)),
        q,
        k,
        v,
    )
    compare(
        rng,
        lambda q, k, v, m: q.scaled_dot_product_attention(k, v, attn_mask=m),
        lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
        q,
        k,
        v,
        randf(rng, 2, 1, 4),
    )


def test_sdpa_gqa_and_errors(rng):
    q, k, v = randf(rng, 1, 4, 2, 3), randf(rng, 1, 2, 3, 3), randf(rng, 1, 2, 3, 2)
    compare(
        rng,
        lambda q, k, v: q.scaled_dot_product_attention(k, v, enable_gqa=True),
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, enable_gqa=True),
        q,
        k,
        v,
    )
    with pytest.raises(ShapeError, match="heads"):
        Tensor(randf(rng, 1, 3, 2, 3)).scaled_dot_product_attention(Tensor(k), Tensor(v), enable_gqa=True)
    with pytest.raises(ShapeError, match="scaled_dot_product_attention"):
        Tensor(q).scaled_dot_product_attention(Tensor(randf(rng, 1, 4, 3, 2)), Tensor(v))
    with pytest.raises(ValueError, match="not both"):
        Tensor(q).scaled_dot_product_attention(Tensor(q), Tensor(q), attn_mask=Tensor.ones(2, 2), is_causal=True)


def test_sdpa_dropout_only_while_training(rng, training):
    Tensor.manual_seed(1)
    q = Tensor(randf(rng, 2, 4, 3))
    out = q.scaled_dot_product_attention(q, Tensor.ones(2, 4, 1), dropout_p=0.5).numpy()
    # each output row is the sum of its kept attention weights, each scaled by 2: not all rows equal 1
    assert not np.allclose(out, 1.0)
    with Tensor.train(False):
        out = q.scaled_dot_product_attention(q, Tensor.ones(2, 4, 1), dropout_p=0.5).numpy()
    np.testing.assert_allclose(out, 1.0, rtol=1e-5)


# ---------------------------------------------------------------- losses

REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_crossentropy(rng, reduction):
    p, y = randf(rng, 3, 4, lo=0.05, hi=0.95), randf(rng, 3, 4, lo=0.0, hi=1.0)
    compare(
        rng,
        lambda p, y: p.binary_crossentropy(y, reduction),
        lambda p, y: F.binary_cross_entropy(p, y, reduction=reduction),
        p,
        y,
    )


def test_binary_crossentropy_clamps_logs():
    p, y = np.array([0.0, 1.0, 0.5], np.float32), np.array([1.0, 0.0, 1.0], np.float32)
    out = Tensor(p).binary_crossentropy(Tensor(y), "none").numpy()
    np.testing.assert_allclose(out, F.binary_cross_entropy(torch.tensor(p), torch.tensor(y), reduction="none"))
    assert np.isfinite(out).all() and out[0] == 100.0


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("pos_weight", [False, True])
def test_binary_crossentropy_logits(rng, reduction, pos_weight):
    x, y = randf(rng, 3, 4) * 4, randf(rng, 3, 4, lo=0.0, hi=1.0)
    args = [x, y] + ([randf(rng, 4, lo=0.5, hi=3.0)] if pos_weight else [])
    compare(
        rng,
        lambda x, y, *pw: x.binary_crossentropy_logits(y, reduction, pw[0] if pw else None),
        lambda x, y, *pw: F.binary_cross_entropy_with_logits(
            x, y, reduction=reduction, pos_weight=pw[0] if pw else None
        ),
        *args,
        no_grad=(2,),
    )


def test_binary_crossentropy_logits_is_stable():
    x = np.array([-200.0, -30.0, 0.0, 30.0, 200.0], np.float32)
    y = np.array([1.0, 0.0, 1.0, 1.0, 0.0], np.float32)
    compare(
        np.random.default_rng(),
        lambda x, y: x.binary_crossentropy_logits(y, "none"),
        lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction="none"),
        x,
        y,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("ignore", [-1, 2])
def test_sparse_categorical_crossentropy(rng, reduction, smoothing, ignore):
    x = randf(rng, 5, 4)
    y = rng.integers(0, 4, 5)
    y[1] = ignore  # always at least one ignored target
    compare(
        rng,
        lambda x: x.sparse_categorical_crossentropy(Tensor(y), ignore, smoothing, reduction),
        lambda x: F.cross_entropy(
            x, torch.tensor(y), ignore_index=ignore, label_smoothing=smoothing, reduction=reduction
        ),
        x,
    )


def test_sparse_categorical_crossentropy_3d(rng):
    # classes on the last axis (tinygrad), torch wants them on axis 1
    x, y = randf(rng, 2, 3, 4), rng.integers(0, 4, (2, 3))
    compare(
        rng,
        lambda x: x.sparse_categorical_crossentropy(Tensor(y), label_smoothing=0.1),
        lambda x: F.cross_entropy(x.permute(0, 2, 1), torch.tensor(y), label_smoothing=0.1),
        x,
    )
    with pytest.raises(ShapeError, match="sparse_categorical_crossentropy"):
        Tensor(x).sparse_categorical_crossentropy(Tensor(y[0]))
    with pytest.raises(DTypeError, match="int"):
        Tensor(x).sparse_categorical_crossentropy(Tensor(y.astype(np.float32)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("xs", [(4, 3), (2, 3, 2), (5,)], ids=str)
def test_cross_entropy_indices(rng, reduction, smoothing, xs):
    x = randf(rng, *xs)
    ys = xs[:1] + xs[2:] if len(xs) > 1 else ()
    y = rng.integers(0, xs[1] if len(xs) > 1 else xs[0], ys)
    compare(
        rng,
        lambda x: x.cross_entropy(Tensor(y), reduction, smoothing),
        lambda x: F.cross_entropy(x, torch.tensor(y), reduction=reduction, label_smoothing=smoothing),
        x,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
def test_cross_entropy_probabilities(rng, reduction, smoothing):
    x, y = randf(rng, 3, 4, 2), randf(rng, 3, 4, 2, lo=0.0, hi=1.0)
    y = y / y.sum(1, keepdims=True)
    compare(
        rng,
        lambda x, y: x.cross_entropy(y, reduction, smoothing),
        lambda x, y: F.cross_entropy(x, y, reduction=reduction, label_smoothing=smoothing),
        x,
        y,
    )


def test_cross_entropy_errors(rng):
    x = Tensor(randf(rng, 3, 4))
    with pytest.raises(ShapeError, match="cross_entropy"):
        x.cross_entropy(Tensor([0, 1]))
    with pytest.raises(ValueError, match="label_smoothing"):
        x.cross_entropy(Tensor([0, 1, 2]), label_smoothing=1.5)
    with pytest.raises(ValueError, match="reduction"):
        x.cross_entropy(Tensor([0, 1, 2]), reduction="avg")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore", [None, 1])
@pytest.mark.parametrize("xs", [(5, 3), (2, 3, 2)], ids=str)
def test_nll_loss(rng, reduction, weighted, ignore, xs):
    logp = F.log_softmax(torch.tensor(randf(rng, *xs)), 1).numpy()
    y = rng.integers(0, 3, xs[:1] + xs[2:])
    y.flat[0] = 1  # the ignored class appears at least once
    args = [logp] + ([randf(rng, 3, lo=0.2, hi=2.0)] if weighted else [])
    compare(
        rng,
        lambda x, *w: x.nll_loss(Tensor(y), w[0] if w else None, ignore, reduction),
        lambda x, *w: F.nll_loss(
            x,
            torch.tensor(y),
            w[0] if w else None,
            ignore_index=-100 if ignore is None else ignore,
            reduction=reduction,
        ),
        *args,
        no_grad=(1,),
    )


def test_nll_loss_1d_and_errors(rng):
    logp = randf(rng, 4)
    compare(rng, lambda x: x.nll_loss(Tensor(2)), lambda x: F.nll_loss(x, torch.tensor(2)), logp)
    with pytest.raises(ShapeError, match="nll_loss"):
        Tensor(logp).nll_loss(Tensor([1]))
    with pytest.raises(ShapeError, match="weight"):
        Tensor(randf(rng, 2, 4)).nll_loss(Tensor([1, 0]), weight=Tensor([1.0, 2.0]))


# ---------------------------------------------------------------- edge values and empty tensors


def test_edge_values_match_torch(rng):
    # a query that may attend to nothing gets zeros (not nan), as in torch, for bool and -inf float masks
    mask = np.array([[False, False], [True, False]])
    for m in (mask, np.where(mask, 0.0, -np.inf).astype(np.float32)):
        compare(
            rng,
            lambda q, m=m: q.scaled_dot_product_attention(q, q, attn_mask=Tensor(m)),
            lambda q, m=m: F.scaled_dot_product_attention(q, q, q, attn_mask=torch.tensor(m)),
            randf(rng, 1, 2, 3),
        )
    # every target ignored: the mean is 0/0 = nan, its gradient zero
    y = np.array([-1, -1])
    compare(
        rng,
        lambda x: x.sparse_categorical_crossentropy(Tensor(y), label_smoothing=0.2),
        lambda x: F.cross_entropy(x, torch.tensor(y), ignore_index=-1, label_smoothing=0.2),
        randf(rng, 2, 3),
    )
    compare(
        rng,
        lambda x, w: x.nll_loss(Tensor([1, 1]), w, ignore_index=1),
        lambda x, w: F.nll_loss(x, torch.tensor([1, 1]), w, ignore_index=1),
        randf(rng, 2, 3),
        randf(rng, 3, lo=0.5, hi=1.0),
        no_grad=(1,),
    )
    # a constant row normalizes to zeros, with the same (finite) gradient as torch
    compare(rng, lambda x: x.layernorm(), lambda x: F.layer_norm(x, (4,)), np.full((2, 4), 3.5, np.float32))
    # -inf logits for the wrong classes: a perfect prediction has zero loss
    logits = np.array([[0.0, -np.inf, -np.inf]], np.float32)
    assert Tensor(logits).cross_entropy(Tensor([0])).item() == 0.0


def test_empty_batches(rng):
    x = Tensor(np.zeros((0, 2, 4, 4), np.float32))
    assert x.avg_pool2d(3, 1, padding=1, count_include_pad=False).numpy().shape == (0, 2, 4, 4)
    assert x.max_pool2d(2).numpy().shape == (0, 2, 2, 2)
    assert x.interpolate((3, 5)).numpy().shape == (0, 2, 3, 5)
    assert x.conv_transpose2d(Tensor(randf(rng, 2, 3, 2, 2)), stride=2).numpy().shape == (0, 3, 8, 8)
    assert x.layernorm().numpy().shape == (0, 2, 4, 4)
    assert (
        Tensor(np.zeros((0, 3), np.float32)).cross_entropy(Tensor(np.zeros(0, np.int32)), reduction="sum").item() == 0
    )
