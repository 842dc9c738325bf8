"""High-level movement ops (tensor_api/movement.py) against torch, forward and backward.

Inputs are fresh random arrays per run (the `rng` fixture prints its seed); sizes stay small so DEV=PYTHON runs
quickly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
import torch

from tinygrad import Tensor
from tinygrad.errors import AxisError, DTypeError, ShapeError

Fn = Callable[..., Any]


def _as_list(x: Any) -> list[Any]:
    return list(x) if isinstance(x, (tuple, list)) else [x]


def check(tfn: Fn, rfn: Fn, inputs: Sequence[Any], rng: np.random.Generator, grad: bool = True,
          atol: float = 1e-6, rtol: float = 1e-6, check_dtype: bool = True) -> None:  # fmt: skip
    """Run tfn on tinygrad tensors and rfn on torch tensors made from the same numpy inputs; compare the outputs
    and (for float inputs) the gradients of sum(out * g) for a random upstream g."""
    tin = [Tensor(a) if isinstance(a, np.ndarray) else a for a in inputs]
    rin = [torch.tensor(a, requires_grad=grad and a.dtype.kind == "f") if isinstance(a, np.ndarray) else a
           for a in inputs]  # fmt: skip
    touts, routs = _as_list(tfn(*tin)), _as_list(rfn(*rin))
    assert len(touts) == len(routs), f"{len(touts)} outputs vs torch's {len(routs)}"
    diff_t = [t for t, a in zip(tin, inputs) if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
    diff_r = [r for r, a in zip(rin, inputs) if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
    tgrads: list[Tensor] = []
    rgrads: list[np.ndarray] = []
    if grad and diff_t and all(r.dtype.is_floating_point for r in routs):
        ups = [rng.standard_normal(r.shape).astype(np.float32) for r in routs]
        loss: Tensor | None = None
        for o, g in zip(touts, ups):
            term = (o * Tensor(g)).sum()
            loss = term if loss is None else loss + term
        assert loss is not None
        tgrads = loss.gradient(*diff_t)
        rg = torch.autograd.grad(routs, diff_r, [torch.tensor(g) for g in ups], allow_unused=True)
        rgrads = [np.zeros(r.shape, np.float32) if g is None else g.numpy() for g, r in zip(rg, diff_r)]
    if touts or tgrads:
        Tensor.realize(*touts, *tgrads)
    for i, (t, r) in enumerate(zip(touts, routs)):
        want = r.detach().numpy()
        got = t.numpy()
        assert got.shape == want.shape, f"output {i}: shape {got.shape} != torch {want.shape}"
        if check_dtype:
            assert got.dtype == want.dtype, f"output {i}: dtype {got.dtype} != torch {want.dtype}"
        np.testing.assert_allclose(got, want, atol=atol, rtol=rtol, equal_nan=True, err_msg=f"output {i}")
    for i, (t, r) in enumerate(zip(tgrads, rgrads)):
        np.testing.assert_allclose(t.numpy(), r, atol=1e-5, rtol=1e-5, err_msg=f"gradient of input {i}")


def randf(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def randi(rng: np.random.Generator, lo: int, hi: int, *shape: int, dtype: Any = np.int64) -> np.ndarray:
    return rng.integers(lo, hi, shape).astype(dtype)


# ---- basic indexing ----

BASIC = [
    (1,),
    (-1,),
    (slice(None), 2),
    (slice(1, None, 2), slice(None, None, -1)),
    (Ellipsis, 1),
    (None, slice(None), None, -2),
    (slice(-3, None), Ellipsis, slice(None, None, 3)),
    (0, 1, 2),
    (slice(4, 1, -2), None),
    (slice(5, 5),),
    (True,),
    (slice(None), False),
    (Ellipsis,),
    (),
]


def np_index(x: torch.Tensor, idx: Any) -> torch.Tensor:
    """x[idx] in torch through numpy's indexing of element positions (torch has no negative slice steps)."""
    pos = np.array(np.arange(x.numel()).reshape(tuple(x.shape))[idx], order="C")
    return x.reshape(-1)[torch.tensor(pos, dtype=torch.int64)]


@pytest.mark.parametrize("idx", BASIC, ids=repr)
def test_getitem_basic(rng: np.random.Generator, idx: tuple[Any, ...]) -> None:
    check(lambda x: x[idx], lambda x: np_index(x, idx), [randf(rng, 4, 3, 5)], rng)


def test_getitem_basic_0d_and_empty(rng: np.random.Generator) -> None:
    check(lambda x: x[None], lambda x: x[None], [np.array(rng.standard_normal(), np.float32)], rng)
    check(lambda x: x[...], lambda x: x[...], [np.array(rng.standard_normal(), np.float32)], rng)
    check(lambda x: x[:, 1:], lambda x: x[:, 1:], [randf(rng, 0, 3)], rng)


# ---- advanced indexing ----


def _adv_cases(rng: np.random.Generator) -> list[tuple[str, tuple[Any, ...]]]:
    i2 = randi(rng, -4, 4, 2)
    i23 = randi(rng, -3, 3, 2, 3)
    return [
        ("list", ([2, 0, 2],)),
        ("neg_list", ([-1, -4, 1],)),
        ("tensor", (i2,)),
        ("tensor_2d", (i23,)),
        ("two_broadcast", (i23 % 4, randi(rng, -3, 3, 1, 3))),
        ("slice_then_tensor", (slice(None), i2 % 3)),
        ("tensor_slice_tensor", (randi(rng, 0, 4, 2), slice(1, None), randi(rng, 0, 5, 2))),
        ("adjacent_middle", (slice(None), randi(rng, 0, 3, 2, 2), randi(rng, -5, 5, 2, 1))),
        ("int_then_tensor", (1, slice(None), randi(rng, 0, 5, 3))),
        ("tensor_int_tensor", (randi(rng, 0, 4, 3), 0, randi(rng, 0, 5, 3))),
        ("tensor_none_tensor", (randi(rng, 0, 4, 3), None, randi(rng, 0, 3, 3))),
        ("ellipsis_tensor", (Ellipsis, randi(rng, 0, 5, 2, 2))),
        ("scalar_tensor", (np.array(2, np.int64),)),
        ("step_slice_tensor", (slice(None, None, -2), Ellipsis, randi(rng, 0, 5, 4))),
        ("int32_tensor", (randi(rng, 0, 4, 5, dtype=np.int32),)),
        ("duplicates", ([1, 1, 1, 3],)),
        ("empty_list", ([],)),
    ]


@pytest.mark.parametrize("case", range(17))
def test_getitem_advanced(rng: np.random.Generator, case: int) -> None:
    name, idx = _adv_cases(rng)[case]
    print("case", name, idx)

    def conv(i: Any, lib: Any) -> Any:
        if isinstance(i, np.ndarray):
            return Tensor(i) if lib is Tensor else torch.tensor(i)
        if isinstance(i, list) and lib is not Tensor:
            return torch.tensor(i, dtype=torch.int64)
        return i

    negative_step = any(isinstance(i, slice) and (i.step or 1) < 0 for i in idx)
    ref = (lambda x: np_index(x, idx)) if negative_step else (lambda x: x[tuple(conv(i, torch) for i in idx)])
    check(lambda x: x[tuple(conv(i, Tensor) for i in idx)], ref, [randf(rng, 4, 3, 5)], rng)


def test_getitem_list_index_single(rng: np.random.Generator) -> None:
    # a bare list (not a tuple) is one advanced index, numpy style
    check(lambda x: x[[0, 2, -1]], lambda x: x[torch.tensor([0, 2, -1])], [randf(rng, 3, 2)], rng)
    check(lambda x: x[[[0], [2]]], lambda x: x[torch.tensor([[0], [2]])], [randf(rng, 3, 2)], rng)


def test_getitem_bool_mask(rng: np.random.Generator) -> None:
    x = randf(rng, 3, 4, 2)
    m2, m1 = rng.random((3, 4)) > 0.5, rng.random(4) > 0.3
    check(lambda x: x[Tensor(m2)], lambda x: x[torch.tensor(m2)], [x], rng)
    check(lambda x: x[Tensor(m2), 1], lambda x: x[torch.tensor(m2), 1], [x], rng)
    check(lambda x: x[:, m1.tolist()], lambda x: x[:, torch.tensor(m1)], [x], rng)
    check(lambda x: x[1, Tensor(m1), :1], lambda x: x[1, torch.tensor(m1), :1], [x], rng)
    # a mask next to an int index tensor broadcasts with it
    m3 = np.array([True, False, True])
    check(lambda x: x[Tensor(m3), Tensor([0, 3])], lambda x: x[torch.tensor(m3), torch.tensor([0, 3])], [x], rng)
    check(lambda x: x[Tensor(x > 0)], lambda x: x[x > 0], [x], rng)
    check(lambda x: x[Tensor(True)], lambda x: x[torch.tensor(True)], [x], rng)
    check(lambda x: x[Tensor(False)], lambda x: x[torch.tensor(False)], [x], rng)


def test_getitem_tensor_index_values_out_of_range_and_negative(rng: np.random.Generator) -> None:
    x = randf(rng, 6)
    idx = np.array([-6, -1, 0, 5, -3])
    check(lambda x: x[Tensor(idx)], lambda x: x[torch.tensor(idx)], [x], rng)
    # out-of-range tensor indices cannot be checked lazily: they select nothing (zeros), never other elements
    got = Tensor(x)[Tensor([6, -7, 2])].numpy()
    np.testing.assert_array_equal(got, np.array([0, 0, x[2]], np.float32))
    x2 = randf(rng, 3, 4)
    got = Tensor(x2)[Tensor([0, 3, 1]), Tensor([4, 1, -5])].numpy()
    np.testing.assert_array_equal(got, np.array([0, 0, 0], np.float32))


def test_getitem_nonfinite_elsewhere(rng: np.random.Generator) -> None:
    # selection must not multiply: inf/nan in unselected elements stays out of the result
    x = np.array([[np.inf, 1.5, np.nan], [-np.inf, -0.0, 7.0]], np.float32)
    check(lambda x: x[Tensor([1, 0]), Tensor([2, 1])], lambda x: x[torch.tensor([1, 0]), torch.tensor([2, 1])],
          [x], rng, grad=False)  # fmt: skip
    check(lambda x: x[:, [0, 2]], lambda x: x[:, [0, 2]], [x], rng, grad=False)


@pytest.mark.parametrize("dtype", [np.int32, np.int8, np.uint8, np.bool_, np.float16, np.int64])
def test_getitem_dtypes(rng: np.random.Generator, dtype: Any) -> None:
    x = (rng.integers(-100, 100, (4, 3)) if dtype != np.bool_ else rng.random((4, 3)) > 0.5).astype(dtype)
    if dtype == np.int64:
        x[0, 0] = 2**40 + 3  # larger than int32 survives the selection
    idx = np.array([3, 0, 0])
    check(lambda x: x[Tensor(idx), 1:], lambda x: x[torch.tensor(idx), 1:], [x], rng, grad=False)


def test_getitem_size_zero(rng: np.random.Generator) -> None:
    check(lambda x: x[:, [0, -1]], lambda x: x[:, [0, -1]], [randf(rng, 0, 2)], rng)
    check(lambda x: x[Tensor([1, 0]), 1:1], lambda x: x[torch.tensor([1, 0]), 1:1], [randf(rng, 2, 3)], rng)
    x = randf(rng, 3, 4, 2)
    check(lambda x: x[Tensor(np.zeros((3, 4, 2), bool))], lambda x: x[torch.zeros(3, 4, 2, dtype=torch.bool)],
          [x], rng)  # fmt: skip
    check(lambda x: x[Tensor(np.zeros((0,), np.int64))], lambda x: x[torch.zeros(0, dtype=torch.int64)],
          [randf(rng, 3, 2)], rng)  # fmt: skip
    check(lambda x: x[:, [0, 0]], lambda x: x[:, [0, 0]], [randf(rng, 0, 2)], rng)


def test_getitem_errors() -> None:
    x = Tensor.ones(3, 4)
    for bad in (3, -4, (0, 4), (slice(None), -5)):
        with pytest.raises(IndexError, match="out of bounds"):
            x[bad]
    with pytest.raises(IndexError, match="out of bounds"):
        x[[0, 3]]
    with pytest.raises(IndexError, match="out of bounds"):
        x[:, [-5]]
    with pytest.raises(IndexError, match="too many indices"):
        x[0, 0, 0]
    with pytest.raises(IndexError, match="single ellipsis"):
        x[..., ...]
    with pytest.raises(IndexError, match="int or bool"):
        x[Tensor([0.0])]
    with pytest.raises(IndexError, match="does not match"):
        x[Tensor([True, False])]
    with pytest.raises(IndexError, match="broadcast"):
        x[Tensor([0, 1]), Tensor([0, 1, 2])]
    with pytest.raises(IndexError, match="unsupported"):
        x["a"]
    with pytest.raises(IndexError, match="step cannot be zero"):
        x[::0]
    with pytest.raises(IndexError):
        Tensor(1.0)[0]


# ---- gather ----


@pytest.mark.parametrize("shape,dim,ishape", [
    ((5,), 0, (7,)),
    ((3, 4), 0, (5, 4)),
    ((3, 4), 1, (2, 6)),
    ((3, 4, 5), -1, (3, 2, 2)),
    ((3, 4, 5), 1, (1, 3, 5)),
    ((2, 3), 0, (0, 3)),
])  # fmt: skip
def test_gather(rng: np.random.Generator, shape: tuple[int, ...], dim: int, ishape: tuple[int, ...]) -> None:
    idx = randi(rng, 0, shape[dim], *ishape)
    check(lambda x, i: x.gather(dim, i), lambda x, i: x.gather(dim, i), [randf(rng, *shape), idx], rng)


def test_gather_0d_dtypes_nonfinite(rng: np.random.Generator) -> None:
    check(lambda x, i: x.gather(0, i), lambda x, i: x.gather(0, i),
          [np.array(rng.standard_normal(), np.float32), np.array(0)], rng)  # fmt: skip
    xi = randi(rng, -(2**31), 2**31 - 1, 3, 4, dtype=np.int32)
    i = randi(rng, 0, 4, 3, 3, dtype=np.int32)
    check(lambda x, i: x.gather(1, i), lambda x, i: x.gather(1, i.long()), [xi, i], rng)
    xb = rng.random((3, 4)) > 0.5
    check(lambda x, i: x.gather(1, i), lambda x, i: x.gather(1, i.long()), [xb, i], rng)
    xf = np.array([[np.inf, np.nan, 1.0], [-np.inf, 2.0, 3.0]], np.float32)
    ii = np.array([[2, 2], [1, 0]])
    check(lambda x, i: x.gather(1, i), lambda x, i: x.gather(1, i), [xf, ii], rng, grad=False)


def test_gather_errors() -> None:
    x = Tensor.ones(3, 4)
    with pytest.raises(ShapeError, match="gather"):
        x.gather(0, Tensor([0, 1]))
    with pytest.raises(ShapeError, match="larger"):
        x.gather(0, Tensor([[0] * 5]))
    with pytest.raises(DTypeError, match="integer"):
        x.gather(0, Tensor([[0.0]]))
    with pytest.raises(AxisError):
        x.gather(2, Tensor([[0]]))


# ---- cat / stack ----


def test_cat(rng: np.random.Generator) -> None:
    a, b, c = randf(rng, 2, 3), randf(rng, 2, 1), randf(rng, 2, 4)
    check(lambda a, b, c: a.cat(b, c, dim=1), lambda a, b, c: torch.cat([a, b, c], 1), [a, b, c], rng)
    check(lambda a, b, c: Tensor.cat(a, b, c, dim=-1), lambda a, b, c: torch.cat([a, b, c], -1), [a, b, c], rng)
    check(lambda a, b, c: Tensor.cat([a, b, c], dim=1), lambda a, b, c: torch.cat([a, b, c], 1), [a, b, c], rng)
    check(lambda a, b: a.cat(b), lambda a, b: torch.cat([a, b]), [randf(rng, 1, 2, 2), randf(rng, 3, 2, 2)], rng)
    check(lambda a: a.cat(), lambda a: torch.cat([a]), [randf(rng, 3)], rng)
    # empty pieces and torch's legacy (0,) tensors
    check(lambda a, b, c: a.cat(b, c), lambda a, b, c: torch.cat([a, b, c]),
          [randf(rng, 0, 3), randf(rng, 2, 3), randf(rng, 0)], rng)  # fmt: skip
    check(lambda a, b: a.cat(b, dim=1), lambda a, b: torch.cat([a, b], 1), [randf(rng, 2, 0), randf(rng, 2, 0)], rng)


def test_cat_dtypes_and_signed_zero(rng: np.random.Generator) -> None:
    a = np.array([-0.0, np.inf, np.nan], np.float32)
    b = np.array([-0.0, -np.inf], np.float32)
    got = Tensor(a).cat(Tensor(b)).numpy()
    np.testing.assert_array_equal(np.signbit(got), np.signbit(np.concatenate([a, b])))
    check(lambda a, b: a.cat(b), lambda a, b: torch.cat([a, b]), [a, b], rng, grad=False)
    bb, bi = rng.random(3) > 0.5, randi(rng, -5, 5, 2, dtype=np.int32)
    check(lambda a, b: a.cat(b), lambda a, b: torch.cat([a, b]), [bb, rng.random(2) > 0.5], rng)
    check(lambda a, b: a.cat(b), lambda a, b: torch.cat([a, b]), [bi, bb], rng)
    check(lambda a, b: a.cat(b), lambda a, b: torch.cat([a, b]), [bi, randf(rng, 2)], rng)


def test_cat_errors() -> None:
    with pytest.raises(ShapeError, match="differ"):
        Tensor.ones(2, 3).cat(Tensor.ones(3, 2))
    with pytest.raises(ShapeError, match="0-d"):
        Tensor(1.0).cat(Tensor(2.0))
    with pytest.raises(AxisError):
        Tensor.ones(2).cat(Tensor.ones(2), dim=1)
    with pytest.raises(DTypeError):
        Tensor.ones(2).cat([1, 2])


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
def test_stack(rng: np.random.Generator, dim: int) -> None:
    a, b, c = randf(rng, 2, 3), randf(rng, 2, 3), randf(rng, 2, 3)
    check(lambda a, b, c: a.stack(b, c, dim=dim), lambda a, b, c: torch.stack([a, b, c], dim), [a, b, c], rng)


def test_stack_list_0d_errors(rng: np.random.Generator) -> None:
    xs = [np.array(v, np.float32) for v in rng.standard_normal(3)]
    check(lambda *t: Tensor.stack(list(t)), lambda *t: torch.stack(list(t)), xs, rng)
    with pytest.raises(ShapeError, match="same shape"):
        Tensor.stack(Tensor.ones(2), Tensor.ones(3))
    with pytest.raises(AxisError):
        Tensor.stack(Tensor.ones(2), Tensor.ones(2), dim=2)


# ---- repeat / split / chunk / unfold ----


@pytest.mark.parametrize("shape,reps", [((3,), (2,)), ((2, 3), (2, 1)), ((2, 3), (3, 1, 2)), ((), (2, 3)),
                                        ((2, 1), (0, 2))])  # fmt: skip
def test_repeat(rng: np.random.Generator, shape: tuple[int, ...], reps: tuple[int, ...]) -> None:
    check(lambda x: x.repeat(*reps), lambda x: x.repeat(*reps), [randf(rng, *shape)], rng)
    check(lambda x: x.repeat(reps), lambda x: x.repeat(reps), [randf(rng, *shape)], rng)


def test_repeat_errors() -> None:
    with pytest.raises(ShapeError):
        Tensor.ones(2, 3).repeat(2)
    with pytest.raises(ShapeError):
        Tensor.ones(2).repeat(-1)


@pytest.mark.parametrize("reps,dim", [(2, None), (3, 0), (2, 1), (1, -1), (0, 1),
                                      ([1, 0, 2], 0), ([2, 1, 1, 3], 1), ([2], None)])  # fmt: skip
def test_repeat_interleave(rng: np.random.Generator, reps: Any, dim: int | None) -> None:
    tr = torch.tensor(reps) if isinstance(reps, list) else reps
    check(lambda x: x.repeat_interleave(reps, dim), lambda x: x.repeat_interleave(tr, dim), [randf(rng, 3, 4)], rng)


def test_repeat_interleave_tensor_repeats_and_errors(rng: np.random.Generator) -> None:
    reps = randi(rng, 0, 3, 4)
    check(lambda x: x.repeat_interleave(Tensor(reps), 0), lambda x: x.repeat_interleave(torch.tensor(reps), 0),
          [randf(rng, 4, 2)], rng)  # fmt: skip
    with pytest.raises(ShapeError):
        Tensor.ones(3).repeat_interleave([1, 2])
    with pytest.raises(ShapeError):
        Tensor.ones(3).repeat_interleave(-1)


@pytest.mark.parametrize("sizes,dim", [(2, 0), (1, 1), (3, -1), (5, 0), ([1, 3], 0), ([0, 2, 2], 0), ([4, 1], 1)])
def test_split(rng: np.random.Generator, sizes: Any, dim: int) -> None:
    check(lambda x: x.split(sizes, dim), lambda x: x.split(sizes, dim), [randf(rng, 4, 5)], rng)


def test_split_errors() -> None:
    with pytest.raises(ShapeError, match="sum"):
        Tensor.ones(4).split([1, 2])
    with pytest.raises(ShapeError, match="positive"):
        Tensor.ones(4).split(0)
    with pytest.raises(AxisError):
        Tensor.ones(4).split(1, dim=1)


@pytest.mark.parametrize("n,chunks,dim", [(6, 4, 0), (5, 3, 0), (7, 7, 1), (3, 5, 1), (0, 3, 0), (4, 1, 1)])
def test_chunk(rng: np.random.Generator, n: int, chunks: int, dim: int) -> None:
    shape = (n, 3) if dim == 0 else (2, n)
    check(lambda x: x.chunk(chunks, dim), lambda x: x.chunk(chunks, dim), [randf(rng, *shape)], rng)


def test_chunk_errors() -> None:
    with pytest.raises(ShapeError):
        Tensor.ones(3).chunk(0)


@pytest.mark.parametrize("shape,dim,size,step", [
    ((7,), 0, 3, 1), ((7,), 0, 2, 2), ((7,), 0, 2, 3), ((7,), 0, 7, 1), ((7,), 0, 1, 5), ((5,), 0, 0, 2),
    ((3, 8), 1, 4, 3), ((6, 2, 3), 0, 3, 2), ((2, 5, 3), -2, 2, 1), ((4,), 0, 4, 10),
])  # fmt: skip
def test_unfold(rng: np.random.Generator, shape: tuple[int, ...], dim: int, size: int, step: int) -> None:
    check(lambda x: x.unfold(dim, size, step), lambda x: x.unfold(dim, size, step), [randf(rng, *shape)], rng)


def test_unfold_0d_and_errors(rng: np.random.Generator) -> None:
    check(lambda x: x.unfold(0, 1, 1), lambda x: x.unfold(0, 1, 1), [np.array(1.5, np.float32)], rng)
    with pytest.raises(ShapeError, match="size"):
        Tensor.ones(3).unfold(0, 4, 1)
    with pytest.raises(ShapeError, match="step"):
        Tensor.ones(3).unfold(0, 2, 0)


# ---- grids, diagonals, rolls ----


@pytest.mark.parametrize("indexing", ["ij", "xy"])
@pytest.mark.parametrize("sizes", [(3,), (2, 3), (2, 3, 4), (0, 2)])
def test_meshgrid(rng: np.random.Generator, indexing: str, sizes: tuple[int, ...]) -> None:
    xs = [randf(rng, n) for n in sizes]
    check(lambda *t: Tensor.meshgrid(*t, indexing=indexing), lambda *t: torch.meshgrid(*t, indexing=indexing), xs, rng)
    check(lambda *t: t[0].meshgrid(*t[1:], indexing=indexing), lambda *t: torch.meshgrid(*t, indexing=indexing),
          xs, rng)  # fmt: skip


def test_meshgrid_errors() -> None:
    with pytest.raises(ShapeError):
        Tensor.meshgrid(Tensor.ones(2, 2))
    with pytest.raises(ValueError, match="indexing"):
        Tensor.meshgrid(Tensor.ones(2), indexing="ji")


@pytest.mark.parametrize("shape,k", [((4,), 0), ((3,), 2), ((3,), -1), ((0,), 1), ((3, 4), 0), ((3, 4), 2),
                                     ((4, 3), -2), ((3, 4), 5), ((2, 2), -3)])  # fmt: skip
def test_diag(rng: np.random.Generator, shape: tuple[int, ...], k: int) -> None:
    check(lambda x: x.diag(k), lambda x: x.diag(k), [randf(rng, *shape)], rng)


def test_diag_signed_zero_and_errors() -> None:
    got = Tensor([-0.0, 1.0]).diag().numpy()
    assert np.signbit(got[0, 0]) and not np.signbit(got[0, 1])
    with pytest.raises(ShapeError):
        Tensor.ones(2, 2, 2).diag()


@pytest.mark.parametrize("shape,off,d1,d2", [((3, 4), 0, 0, 1), ((3, 4), 1, 0, 1), ((3, 4), -2, 1, 0),
                                             ((2, 3, 4), 0, 0, 2), ((2, 3, 4), -1, -1, 1), ((3, 3), 4, 0, 1),
                                             ((2, 0, 3), 0, 1, 2)])  # fmt: skip
def test_diagonal(rng: np.random.Generator, shape: tuple[int, ...], off: int, d1: int, d2: int) -> None:
    check(lambda x: x.diagonal(off, d1, d2), lambda x: x.diagonal(off, d1, d2), [randf(rng, *shape)], rng)


def test_diagonal_errors() -> None:
    with pytest.raises(AxisError):
        Tensor.ones(2, 2).diagonal(0, 1, 1)
    with pytest.raises(AxisError):
        Tensor.ones(2, 2).diagonal(0, 0, 2)


@pytest.mark.parametrize("shifts,dims", [(1, None), (-3, None), (2, 0), (7, 1), ((1, -2), (0, 2)), ((2, 2), (1, 1)),
                                         (0, 1), ((-1,), (-1,))])  # fmt: skip
def test_roll(rng: np.random.Generator, shifts: Any, dims: Any) -> None:
    check(lambda x: x.roll(shifts, dims), lambda x: x.roll(shifts, dims), [randf(rng, 2, 3, 4)], rng)


def test_roll_edge(rng: np.random.Generator) -> None:
    check(lambda x: x.roll(2, 0), lambda x: x.roll(2, 0), [randf(rng, 0, 3)], rng)
    check(lambda x: x.roll(2), lambda x: x.roll(2), [np.array(3.0, np.float32)], rng)
    with pytest.raises(ShapeError):
        Tensor.ones(2, 2).roll((1, 2), 0)


# ---- squeeze / unsqueeze / transpose / flatten ----


@pytest.mark.parametrize("dim", [None, 0, 2, -1, 1, (0, 2), (0, 1, 2, 3), ()])
def test_squeeze(rng: np.random.Generator, dim: Any) -> None:
    check(lambda x: x.squeeze(dim) if dim is not None else x.squeeze(),
          lambda x: x.squeeze(dim) if dim is not None else x.squeeze(), [randf(rng, 1, 3, 1, 2)], rng)  # fmt: skip


def test_squeeze_unsqueeze_edge(rng: np.random.Generator) -> None:
    s = np.array(2.0, np.float32)
    check(lambda x: x.squeeze(0), lambda x: x.squeeze(0), [s], rng)
    check(lambda x: x.squeeze(), lambda x: x.squeeze(), [randf(rng, 1, 1)], rng)
    check(lambda x: x.unsqueeze(0), lambda x: x.unsqueeze(0), [s], rng)
    for d in (0, 1, 2, -1, -3):
        check(lambda x, d=d: x.unsqueeze(d), lambda x, d=d: x.unsqueeze(d), [randf(rng, 2, 3)], rng)
    with pytest.raises(AxisError):
        Tensor.ones(2).squeeze(1)
    with pytest.raises(AxisError):
        Tensor.ones(2).unsqueeze(3)


def test_transpose_T(rng: np.random.Generator) -> None:
    x = randf(rng, 2, 3, 4)
    check(lambda x: x.transpose(0, 2), lambda x: x.transpose(0, 2), [x], rng)
    check(lambda x: x.transpose(-1, 1), lambda x: x.transpose(-1, 1), [x], rng)
    check(lambda x: x.transpose(), lambda x: x.transpose(1, 0), [x], rng)
    check(lambda x: x.T, lambda x: x.T, [randf(rng, 3, 5)], rng)
    check(lambda x: x.T, lambda x: x, [randf(rng, 3)], rng)
    check(lambda x: x.T, lambda x: x.permute(2, 1, 0), [x], rng)
    with pytest.raises(AxisError):
        Tensor.ones(2, 2).transpose(0, 2)


@pytest.mark.parametrize("s,e", [(0, -1), (1, 2), (0, 0), (-2, -1), (2, 2)])
def test_flatten(rng: np.random.Generator, s: int, e: int) -> None:
    check(lambda x: x.flatten(s, e), lambda x: x.flatten(s, e), [randf(rng, 2, 3, 0 if s == 2 else 4)], rng)


def test_flatten_unflatten_edge(rng: np.random.Generator) -> None:
    check(lambda x: x.flatten(), lambda x: x.flatten(), [np.array(1.0, np.float32)], rng)
    for dim, sizes in ((0, (2, 3)), (1, (-1, 2)), (-1, (1, 4, 1)), (0, (6,))):
        check(lambda x, d=dim, s=sizes: x.unflatten(d, s), lambda x, d=dim, s=sizes: x.unflatten(d, s),
              [randf(rng, 6, 4)], rng)  # fmt: skip
    with pytest.raises(ShapeError):
        Tensor.ones(6).unflatten(0, (4, -1))
    with pytest.raises(ShapeError):
        Tensor.ones(6).unflatten(0, (2, 2))
    with pytest.raises(AxisError):
        Tensor.ones(2, 3).flatten(1, 0)


# ---- rearrange ----

REARRANGE = [
    # pattern, input shape, sizes, the same thing in torch
    ("b c h w -> b (h w) c", (2, 3, 2, 2), {}, lambda x: x.permute(0, 2, 3, 1).reshape(2, 4, 3)),
    ("(a b) c -> a b c", (6, 2), {"a": 3}, lambda x: x.reshape(3, 2, 2)),
    ("(a b) c -> (b a) c", (6, 2), {"b": 3}, lambda x: x.reshape(2, 3, 2).permute(1, 0, 2).reshape(6, 2)),
    ("... c -> c ...", (2, 3, 4), {}, lambda x: x.permute(2, 0, 1)),
    ("a ... -> ... a", (3,), {}, lambda x: x),
    ("b 1 c -> b c", (2, 1, 3), {}, lambda x: x.reshape(2, 3)),
    ("a b -> a 1 b ()", (2, 3), {}, lambda x: x.reshape(2, 1, 3, 1)),
    ("a b c -> (a b c)", (2, 3, 2), {}, lambda x: x.reshape(-1)),
    ("x y -> y x", (3, 4), {}, lambda x: x.T),
    ("b (h p1) (w p2) -> b (h w) (p1 p2)", (1, 4, 6), {"p1": 2, "p2": 3},
     lambda x: x.reshape(1, 2, 2, 2, 3).permute(0, 1, 3, 2, 4).reshape(1, 4, 6)),
]  # fmt: skip


@pytest.mark.parametrize("case", range(len(REARRANGE)))
def test_rearrange(rng: np.random.Generator, case: int) -> None:
    pattern, shape, sizes, ref = REARRANGE[case]
    check(lambda x: x.rearrange(pattern, **sizes), ref, [randf(rng, *shape)], rng)


@pytest.mark.parametrize("pattern,sizes", [
    ("a b -> a", {}), ("a b c -> a b c", {}), ("(a b) -> a b", {}), ("a -> a b", {}), ("a a -> a", {}),
    ("a b", {}), ("((a b)) c -> a b c", {}), ("a b -> a b", {"c": 2}), ("(a b) c -> a b c", {"a": 4}),
    ("a (b -> a b", {}), ("a b -> a b 2", {}),
])  # fmt: skip
def test_rearrange_errors(pattern: str, sizes: dict[str, int]) -> None:
    with pytest.raises(ShapeError, match="rearrange"):
        Tensor.ones(6, 2).rearrange(pattern, **sizes)


# ---- masks ----


def test_masked_fill(rng: np.random.Generator) -> None:
    x = randf(rng, 3, 4)
    m = rng.random((3, 4)) > 0.5
    m1 = rng.random(4) > 0.5
    check(lambda x: x.masked_fill(Tensor(m), 2.5), lambda x: x.masked_fill(torch.tensor(m), 2.5), [x], rng)
    check(lambda x: x.masked_fill(Tensor(m1), -math.inf), lambda x: x.masked_fill(torch.tensor(m1), -math.inf),
          [x], rng, grad=False)  # fmt: skip
    check(lambda x, v: x.masked_fill(Tensor(m1), v), lambda x, v: x.masked_fill(torch.tensor(m1), v),
          [x, np.array(rng.standard_normal(), np.float32)], rng)  # fmt: skip
    xi = randi(rng, -9, 9, 3, 4, dtype=np.int32)
    check(lambda x: x.masked_fill(Tensor(m), 7), lambda x: x.masked_fill(torch.tensor(m), 7), [xi], rng)
    check(lambda x: x.masked_fill(Tensor(m), 2.9), lambda x: x.masked_fill(torch.tensor(m), 2.9), [xi], rng)
    with pytest.raises(DTypeError):
        Tensor(x).masked_fill(Tensor(m.astype(np.int32)), 1.0)
    with pytest.raises(ShapeError):
        Tensor(x).masked_fill(Tensor(np.ones((2, 3, 4), bool)), 1.0)


@pytest.mark.parametrize("xshape,mshape", [((3, 4), (3, 4)), ((3, 4), (4,)), ((4,), (3, 4)), ((2, 3), (2, 3))])
def test_masked_select(rng: np.random.Generator, xshape: tuple[int, ...], mshape: tuple[int, ...]) -> None:
    m = rng.random(mshape) > 0.5
    check(lambda x: x.masked_select(Tensor(m)), lambda x: x.masked_select(torch.tensor(m)), [randf(rng, *xshape)],
          rng)  # fmt: skip


def test_masked_select_edge(rng: np.random.Generator) -> None:
    x = randf(rng, 2, 3)
    m = np.ones((2, 3), bool)
    check(lambda x: x.masked_select(Tensor(m)), lambda x: x.masked_select(torch.tensor(m)), [x], rng)
    xi = randi(rng, -9, 9, 5, dtype=np.int32)
    m = rng.random(5) > 0.5
    check(lambda x: x.masked_select(Tensor(m)), lambda x: x.masked_select(torch.tensor(m)), [xi], rng)
    with pytest.raises(DTypeError):
        Tensor(x).masked_select(Tensor([1, 0, 1]))


def test_masked_select_nothing(rng: np.random.Generator) -> None:
    m = np.zeros((2, 3), bool)
    check(lambda x: x.masked_select(Tensor(m)), lambda x: x.masked_select(torch.tensor(m)), [randf(rng, 2, 3)], rng)


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 2, 3), (), (0, 3)])
def test_nonzero(rng: np.random.Generator, shape: tuple[int, ...]) -> None:
    x = (rng.integers(0, 2, shape) * rng.standard_normal(shape)).astype(np.float32)
    x = np.where(rng.random(shape) < 0.2, np.nan, x).astype(np.float32)  # nan counts as nonzero
    got, want = Tensor(x).nonzero().numpy(), torch.tensor(x).nonzero().numpy()
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    xb = rng.random((3, 3)) > 0.5
    np.testing.assert_array_equal(Tensor(xb).nonzero().numpy(), torch.tensor(xb).nonzero().numpy())


# ---- scatter ----


def _perm_index(rng: np.random.Generator, shape: tuple[int, ...], dim: int, n: int) -> np.ndarray:
    """Unique targets along dim (so torch's result is defined): a slice of a permutation per line."""
    moved = list(shape)
    k = moved.pop(dim)
    lines = [rng.permutation(n)[:k] for _ in range(int(np.prod(moved)))]
    return np.moveaxis(np.array(lines, dtype=np.int64).reshape(*moved, k), -1, dim)


@pytest.mark.parametrize("shape,dim,ishape", [((5,), 0, (3,)), ((4, 3), 0, (2, 3)), ((4, 3), 1, (3, 2)),
                                              ((2, 4, 3), -2, (2, 3, 1)), ((3, 2), 1, (0, 2))])  # fmt: skip
def test_scatter(rng: np.random.Generator, shape: tuple[int, ...], dim: int, ishape: tuple[int, ...]) -> None:
    idx = _perm_index(rng, ishape, dim, shape[dim])
    check(lambda x, s: x.scatter(dim, Tensor(idx), s), lambda x, s: x.scatter(dim, torch.tensor(idx), s),
          [randf(rng, *shape), randf(rng, *ishape)], rng)  # fmt: skip
    # src may be larger than index (torch's backward rejects that, so forward only)
    src = randf(rng, *[s + 1 for s in ishape])
    check(lambda x, s: x.scatter(dim, Tensor(idx), s), lambda x, s: x.scatter(dim, torch.tensor(idx), s),
          [randf(rng, *shape), src], rng, grad=False)  # fmt: skip
    check(lambda x: x.scatter(dim, Tensor(idx), -1.5), lambda x: x.scatter(dim, torch.tensor(idx), -1.5),
          [randf(rng, *shape)], rng)  # fmt: skip


def test_scatter_duplicates_last_wins(rng: np.random.Generator) -> None:
    idx = randi(rng, 0, 3, 4, 6)
    x, src = randf(rng, 4, 3), randf(rng, 4, 6)
    check(lambda x, s: x.scatter(1, Tensor(idx), s), lambda x, s: x.scatter(1, torch.tensor(idx), s), [x, src], rng,
          grad=False)  # fmt: skip


@pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter")
@pytest.mark.parametrize("reduce", ["add", "multiply"])
def test_scatter_reduce_arg(rng: np.random.Generator, reduce: str) -> None:
    idx = randi(rng, 0, 4, 3, 2)
    x, src = randf(rng, 4, 2), randf(rng, 3, 2)
    check(
        lambda x, s: x.scatter(0, Tensor(idx), s, reduce=reduce),
        lambda x, s: x.scatter(0, torch.tensor(idx), s, reduce=reduce),
        [x, src],
        rng,
        grad=False,
        atol=1e-5,
    )
    check(
        lambda x: x.scatter(0, Tensor(idx), 2.0, reduce=reduce),
        lambda x: x.scatter(0, torch.tensor(idx), 2.0, reduce=reduce),
        [x],
        rng,
        grad=False,
        atol=1e-5,
    )


def test_scatter_dtypes_0d(rng: np.random.Generator) -> None:
    idx = randi(rng, 0, 5, 3)
    xi, si = randi(rng, -50, 50, 5, dtype=np.int32), randi(rng, -50, 50, 3, dtype=np.int32)
    check(lambda x, s: x.scatter(0, Tensor(idx), s), lambda x, s: x.scatter(0, torch.tensor(idx), s), [xi, si], rng)
    xb, sb = rng.random(5) > 0.5, rng.random(3) > 0.5
    check(lambda x, s: x.scatter(0, Tensor(idx), s), lambda x, s: x.scatter(0, torch.tensor(idx), s), [xb, sb], rng)
    s0 = np.array(rng.standard_normal(), np.float32)
    check(lambda x, s: x.scatter(0, Tensor(0), s), lambda x, s: x.scatter(0, torch.tensor(0), s),
          [np.array(1.0, np.float32), s0], rng)  # fmt: skip


def test_scatter_errors() -> None:
    x = Tensor.ones(3, 4)
    with pytest.raises(ShapeError):
        x.scatter(0, Tensor([0]), Tensor([1.0]))
    with pytest.raises(ShapeError, match="larger"):
        x.scatter(0, Tensor([[0] * 5]), 1.0)
    with pytest.raises(ShapeError, match="src"):
        x.scatter(0, Tensor([[0, 1]]), Tensor([[1.0]]))
    with pytest.raises(DTypeError):
        x.scatter(0, Tensor([[0.0]]), 1.0)
    with pytest.raises(ValueError, match="reduce"):
        x.scatter(0, Tensor([[0]]), 1.0, reduce="max")
    with pytest.raises(ValueError, match="reduce"):
        x.scatter_reduce(0, Tensor([[0]]), Tensor([[1.0]]), "max")


SCATTER_REDUCE = [pytest.param(r, inc)
                  for r in ("sum", "prod", "mean", "amax", "amin") for inc in (True, False)]  # fmt: skip


@pytest.mark.parametrize("reduce,include_self", SCATTER_REDUCE)
@pytest.mark.parametrize("shape,dim,ishape", [((4,), 0, (6,)), ((3, 4), 1, (2, 5)), ((4, 2, 3), 0, (5, 2, 2))])
def test_scatter_reduce(rng: np.random.Generator, reduce: str, include_self: bool, shape: tuple[int, ...], dim: int,
                        ishape: tuple[int, ...]) -> None:  # fmt: skip
    idx = randi(rng, 0, shape[dim], *ishape)
    check(lambda x, s: x.scatter_reduce(dim, Tensor(idx), s, reduce, include_self=include_self),
          lambda x, s: x.scatter_reduce(dim, torch.tensor(idx), s, reduce, include_self=include_self),
          [randf(rng, *shape), randf(rng, *ishape)], rng, atol=1e-5, rtol=1e-5)  # fmt: skip


@pytest.mark.parametrize("reduce,inc", SCATTER_REDUCE)
def test_scatter_reduce_ties_and_zeros(rng: np.random.Generator, reduce: str, inc: bool) -> None:
    # ties share the gradient (self included) and zeros in a product keep exact gradients, as in torch
    x = np.array([2.0, 0.0, 1.0, -1.5], np.float32)
    src = np.array([2.0, 2.0, 0.0, 3.0, 1.0], np.float32)
    idx = np.array([0, 0, 1, 1, 2])
    if not inc:
        # torch counts ties with self's value even when self is left out, so its gradients there do not add up
        # to the output's; we split among the reduced values only. Keep self away from the src values.
        x = x + 10 * (reduce == "amin") - 10 * (reduce == "amax")
    check(
        lambda x, s: x.scatter_reduce(0, Tensor(idx), s, reduce, include_self=inc),
        lambda x, s: x.scatter_reduce(0, torch.tensor(idx), s, reduce, include_self=inc),
        [x, src],
        rng,
    )


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
def test_scatter_reduce_int(rng: np.random.Generator, reduce: str) -> None:
    idx = randi(rng, 0, 4, 7)
    x, src = randi(rng, -9, 9, 4, dtype=np.int32), randi(rng, -9, 9, 7, dtype=np.int32)
    for inc in (True, False):
        check(lambda x, s, inc=inc: x.scatter_reduce(0, Tensor(idx), s, reduce, include_self=inc),
              lambda x, s, inc=inc: x.scatter_reduce(0, torch.tensor(idx), s, reduce, include_self=inc), [x, src],
              rng)  # fmt: skip


def test_fused_gather_is_one_kernel(rng: np.random.Generator) -> None:
    # the one-hot formulation fuses: a gather of an elementwise expression schedules a single kernel
    x = Tensor(randf(rng, 4, 5))
    out = (x * 2 + 1).gather(1, Tensor(randi(rng, 0, 5, 4, 3)))
    assert len(out.schedule()) == 1


# ---- core bugs met here (minimal reproducers, kept as regression tests) ----


def test_core_bug_cpu_unused_buffer_shifts_args() -> None:
    a, b, c = Tensor([1.0, 2.0]), Tensor([3.0, 4.0]), Tensor([10.0, 20.0])
    # the kernel reads only the part of the sum that comes from b, so a's buffer is never loaded
    assert ((a.pad(((0, 2),)) + b.pad(((2, 0),)))[2:] + c).tolist() == [13.0, 24.0]


def test_core_bug_negated_bool_bounds() -> None:
    x = Tensor([0, 2])
    assert (((x >= 0) & (x < 3)).where(x, -1) < 0).tolist() == [False, False]
