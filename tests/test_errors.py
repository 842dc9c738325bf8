"""User mistakes raise the typed exceptions of tinygrad.errors, eagerly, with messages that name the op and
the offending shapes/values. Runs on whichever device DEV selects."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tinygrad import Tensor
from tinygrad.device import Device
from tinygrad.errors import AxisError, DeviceError, DTypeError, ShapeError, TinygradError


def raises(exc: type[BaseException], fn, *needles: str) -> str:
    """fn() raises exc (a TinygradError) and the message contains every needle; returns the message."""
    with pytest.raises(exc) as info:
        fn()
    assert isinstance(info.value, TinygradError), f"{type(info.value).__name__} is not a TinygradError"
    msg = str(info.value)
    for n in needles:
        assert n in msg, f"{n!r} not in error message: {msg!r}"
    return msg


def rand(rng: np.random.Generator, *shape: int) -> Tensor:
    return Tensor(rng.standard_normal(shape).astype(np.float32))


# ---------------------------------------------------------------- exception hierarchy


def test_hierarchy_matches_builtin_expectations():
    assert issubclass(ShapeError, ValueError)
    assert issubclass(AxisError, IndexError)
    assert issubclass(DTypeError, TypeError)
    assert issubclass(DeviceError, RuntimeError)
    for e in (ShapeError, AxisError, DTypeError, DeviceError):
        assert issubclass(e, TinygradError)


# ---------------------------------------------------------------- broadcasting


BROADCAST_OPS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "maximum": lambda a, b: a.maximum(b),
    "lt": lambda a, b: a < b,
    "eq": lambda a, b: a == b,
}


@pytest.mark.parametrize("name", list(BROADCAST_OPS))
@pytest.mark.parametrize("sa,sb", [((3,), (4,)), ((2, 3), (3, 2)), ((2, 3, 4), (5, 4)), ((0,), (2,)), ((3, 1), (2, 4))])
def test_broadcast_mismatch(rng, name, sa, sb):
    a, b = rand(rng, *sa), rand(rng, *sb)
    msg = raises(ShapeError, lambda: BROADCAST_OPS[name](a, b), f"Tensor.{name}", str(sa), str(sb))
    assert "broadcast" in msg


def test_broadcast_mismatch_reverse_and_where(rng):
    a, b = rand(rng, 3), rand(rng, 2)
    raises(ShapeError, lambda: b + a, "Tensor.add", "(2,)", "(3,)")
    cond = Tensor(rng.random(4) < 0.5)
    raises(ShapeError, lambda: cond.where(a, 0.0), "Tensor.where", "(4,)", "(3,)")
    raises(ShapeError, lambda: (a > 0).where(a, b), "Tensor.where", "(3,)", "(2,)")


def test_broadcast_mismatch_names_dim(rng):
    msg = raises(ShapeError, lambda: rand(rng, 2, 3, 4) + rand(rng, 2, 5, 4), "(2, 3, 4)", "(2, 5, 4)")
    assert re.search(r"\b3\b", msg) and re.search(r"\b5\b", msg)


def test_expand_bad(rng):
    raises(ShapeError, lambda: rand(rng, 2, 3).expand(3, 3), "Tensor.expand", "(2, 3)", "(3, 3)")
    raises(ShapeError, lambda: rand(rng, 2, 3).expand(3), "Tensor.expand", "(2, 3)")


# ---------------------------------------------------------------- reshape


@pytest.mark.parametrize("src,dst", [((2, 3), (4, 2)), ((6,), (7,)), ((2, 3, 4), (5, 5)), ((0,), (1,)), ((1,), (0,))])
def test_reshape_incompatible(rng, src, dst):
    t = rand(rng, *src)
    raises(ShapeError, lambda: t.reshape(dst), "Tensor.reshape", str(src), str(dst))
    raises(ShapeError, lambda: t.reshape(*dst), "Tensor.reshape", str(src))


def test_reshape_bad_inferred(rng):
    t = rand(rng, 2, 3)
    raises(ShapeError, lambda: t.reshape(-1, 4), "Tensor.reshape", "(-1, 4)", "(2, 3)")
    raises(ShapeError, lambda: t.reshape(-1, -1), "Tensor.reshape", "(-1, -1)")
    raises(ShapeError, lambda: t.reshape(2, -3), "Tensor.reshape", "(2, -3)")


# ---------------------------------------------------------------- axes


@pytest.mark.parametrize("op", ["sum", "max", "mean"])
@pytest.mark.parametrize("axis", [5, 2, -3, (0, 2), (-4, 1)])
def test_reduce_bad_axis(rng, op, axis):
    t = rand(rng, 2, 3)
    bad = axis if isinstance(axis, int) else [a for a in axis if not -2 <= a <= 1][0]
    raises(AxisError, lambda: getattr(t, op)(axis=axis), f"Tensor.{op}", str(bad), "2-d")


def test_reduce_bad_axis_0d():
    raises(AxisError, lambda: Tensor(1.5).sum(axis=1), "Tensor.sum", "1", "0-d")
    raises(AxisError, lambda: Tensor(1.5).max(axis=-2), "Tensor.max", "-2", "0-d")


def test_permute_out_of_range(rng):
    t = rand(rng, 2, 3, 4)
    raises(AxisError, lambda: t.permute(0, 1, 5), "Tensor.permute", "5", "3-d")
    raises(AxisError, lambda: t.permute(0, -4, 1), "Tensor.permute", "-4")


@pytest.mark.parametrize("order", [(0, 0, 1), (0, 1), (0, 1, 2, 3), (2, 1, -1)])
def test_permute_not_a_permutation(rng, order):
    t = rand(rng, 2, 3, 4)
    with pytest.raises((ShapeError, AxisError)) as info:
        t.permute(order)
    msg = str(info.value)
    assert "Tensor.permute" in msg and (str(order) in msg or str(order[-1]) in msg), msg


@pytest.mark.parametrize(
    "op,fn",
    [
        ("flip", lambda t: t.flip(2)),
        ("transpose", lambda t: t.transpose(0, 2)),
        ("flatten", lambda t: t.flatten(3)),
        ("unsqueeze", lambda t: t.unsqueeze(4)),
        ("squeeze", lambda t: t.squeeze(2)),
        ("cat", lambda t: t.cat(t, dim=2)),
    ],
)
def test_other_bad_axes(rng, op, fn):
    raises(AxisError, lambda: fn(rand(rng, 2, 3)), f"Tensor.{op}", "out of range")


# ---------------------------------------------------------------- matmul


@pytest.mark.parametrize(
    "sa,sb,k,ky",
    [
        ((2, 3), (4, 5), 3, 4),
        ((3,), (4,), 3, 4),
        ((2, 3), (2,), 3, 2),
        ((5,), (4, 5), 5, 4),
        ((2, 3, 4), (2, 5, 6), 4, 5),
    ],
)
def test_matmul_inner_mismatch(rng, sa, sb, k, ky):
    a, b = rand(rng, *sa), rand(rng, *sb)
    for fn in (lambda: a @ b, lambda: a.matmul(b), lambda: a.dot(b)):
        raises(ShapeError, fn, "Tensor.matmul", str(sa), str(sb), f"{k} != {ky}")


def test_matmul_0d(rng):
    raises(ShapeError, lambda: Tensor(2.0) @ rand(rng, 3), "Tensor.matmul", "()", "(3,)")
    raises(ShapeError, lambda: rand(rng, 3) @ Tensor(2.0), "Tensor.matmul", "(3,)", "()")


# ---------------------------------------------------------------- devices


def test_unknown_device():
    raises(DeviceError, lambda: Tensor([1], device="NOPE"), "NOPE", "unknown device")
    raises(DeviceError, lambda: Tensor(np.ones(3, np.float32), device="nope:1"), "NOPE")


def test_unknown_device_lazy_constructors():
    # constant-built tensors may defer opening the device; it must fail by realize time at the latest
    with pytest.raises(DeviceError, match="NOPE"):
        Tensor.ones(3, device="NOPE").realize()
    with pytest.raises(DeviceError, match="NOPE"):
        Tensor.arange(4, device="NOPE").numpy()


def test_unknown_device_message_lists_available():
    msg = raises(DeviceError, lambda: Tensor([1.0], device="NOPE"), "NOPE")
    assert Device.DEFAULT.split(":")[0] in msg


def test_mixed_devices():
    avail = [d for d in Device.available() if d not in ("NULL", "DISK")]
    if len(avail) < 2:
        pytest.skip(f"needs two devices, have {avail}")
    a, b = Tensor([1.0, 2.0], device=avail[0]), Tensor([1.0, 2.0], device=avail[1])
    raises(DeviceError, lambda: a + b, "Tensor.add", avail[0], avail[1])


# ---------------------------------------------------------------- item and friends


@pytest.mark.parametrize("shape", [(2,), (2, 3), (0,), (1, 2)])
def test_item_multi_element(rng, shape):
    t = rand(rng, *shape)
    raises(ShapeError, lambda: t.item(), "Tensor.item", str(shape))


def test_len_and_bool_of_tensor():
    with pytest.raises(TypeError):
        len(Tensor(1.0))
    with pytest.raises(TypeError, match="ambiguous"):
        bool(Tensor([1.0, 2.0]))


# ---------------------------------------------------------------- movement ranges


def test_pad_errors(rng):
    t = rand(rng, 3)
    raises(ShapeError, lambda: t.pad(((-2, -2),)), "Tensor.pad", "(3,)")
    raises(ShapeError, lambda: t.pad((1,)), "Tensor.pad", "(1,)")
    raises(ShapeError, lambda: t.pad(((1, 1), (1, 1))), "Tensor.pad", "2 pairs", "1-d")


def test_shrink_errors(rng):
    t = rand(rng, 3, 4)
    raises(ShapeError, lambda: t.shrink(((1, 5), None)), "Tensor.shrink", "(1, 5)", "(3, 4)")
    raises(ShapeError, lambda: t.shrink(((0, 1),)), "Tensor.shrink", "(3, 4)")
    raises(ShapeError, lambda: t.shrink(((2, 1), None)), "Tensor.shrink", "(2, 1)")


def test_getitem_errors(rng):
    t = rand(rng, 3, 4)
    with pytest.raises(IndexError, match=r"index 3 .* size 3"):
        t[3]
    with pytest.raises(IndexError, match="-5"):
        t[:, -5]
    with pytest.raises(IndexError, match="too many indices"):
        t[0, 0, 0]
    with pytest.raises(IndexError, match="ellipsis"):
        t[..., 0, ...]


# ---------------------------------------------------------------- construction and dtypes


def test_ragged_list():
    raises(ShapeError, lambda: Tensor([[1, 2], [3]]), "Tensor(list)", "(1,)", "(2,)")


def test_bad_data_type():
    raises(DTypeError, lambda: Tensor(object()), "Tensor(object)")
    raises(DTypeError, lambda: Tensor([1.0]) + "x", "Tensor.add", "str")


def test_bad_dtype_name():
    raises(DTypeError, lambda: Tensor([1.0]).cast("nope"), "nope")


def test_dtype_restrictions():
    raises(DTypeError, lambda: Tensor([True]) - Tensor([False]), "Tensor.sub", "bool")
    raises(DTypeError, lambda: Tensor([1.0]) & Tensor([1.0]), "Tensor.bitwise_and")


def test_full_negative_shape():
    raises(ShapeError, lambda: Tensor.full((2, -1), 1.0), "Tensor.full", "(2, -1)")


def test_arange_zero_step():
    with pytest.raises(ValueError, match="step"):
        Tensor.arange(0, 5, 0)


def test_errors_are_eager(rng):
    """Validation happens when the op is built, not later at realize: nothing after the bad op runs."""
    a, b = rand(rng, 3), rand(rng, 4)
    ran = []
    with pytest.raises(ShapeError):
        ran.append(a + b)
    assert ran == []
