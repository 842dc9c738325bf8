"""Fusion rules, asserted as kernel counts (and checked for correct values against numpy)."""

import numpy as np
import pytest

from tinygrad import Tensor


def rnd(*shape):
    return np.random.default_rng().standard_normal(shape).astype(np.float32)


def realized(*shape):
    return Tensor(rnd(*shape)).realize()


def kernels(t: Tensor) -> int:
    return sum(1 for si in t.schedule() if si.is_kernel)


def test_elementwise_reduce_fuses_to_one_kernel():
    a, b, c = realized(4, 5), realized(4, 5), realized(4, 5)
    out = ((a * b + c).relu()).sum(axis=1)
    assert kernels(out) == 1
    an, bn, cn = a.numpy(), b.numpy(), c.numpy()
    np.testing.assert_allclose(out.numpy(), np.maximum(an * bn + cn, 0).sum(axis=1), rtol=1e-5, atol=1e-6)


def test_max_subtract_exp_at_most_two():
    x = realized(6, 7)
    out = (x - x.max(1, keepdim=True)).exp()
    assert kernels(out) <= 2
    xn = x.numpy()
    np.testing.assert_allclose(out.numpy(), np.exp(xn - xn.max(1, keepdims=True)), rtol=1e-5)


def test_ten_op_elementwise_chain_is_one_kernel():
    a, b = realized(8, 8), realized(8, 8)
    x = a
    for i in range(5):
        x = (x * b + float(i)).maximum(a)
    assert kernels(x) == 1
    an, bn = a.numpy(), b.numpy()
    y = an
    for i in range(5):
        y = np.maximum(y * bn + i, an)
    np.testing.assert_allclose(x.numpy(), y, rtol=1e-5, atol=1e-6)


def test_movement_ops_are_not_copies():
    a = realized(4, 6)
    out = (a.permute(1, 0).reshape(3, 8).flip(0)[:, 1:5].pad(((1, 1), (0, 2))) * 2).sum(0)
    assert kernels(out) == 1
    an = a.numpy()
    ref = (np.pad(np.flip(an.T.reshape(3, 8), 0)[:, 1:5], ((1, 1), (0, 2))) * 2).sum(0)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-5, atol=1e-6)


def test_softmax_three_kernels():
    x = realized(5, 9)
    out = x.softmax(-1)
    assert kernels(out) <= 3
    xn = x.numpy()
    e = np.exp(xn - xn.max(-1, keepdims=True))
    np.testing.assert_allclose(out.numpy(), e / e.sum(-1, keepdims=True), rtol=1e-5, atol=1e-6)


def test_matmul_bias_relu_one_kernel():
    x, w, b = realized(3, 8), realized(8, 5), realized(5)
    out = (x @ w + b).relu()
    assert kernels(out) == 1
    np.testing.assert_allclose(out.numpy(), np.maximum(x.numpy() @ w.numpy() + b.numpy(), 0), rtol=1e-4, atol=1e-5)


def test_realized_input_is_loaded_not_recomputed():
    a = realized(4, 4)
    b = (a * 2).realize()
    assert kernels(b + 1) == 1


def test_schedule_does_not_realize():
    a = realized(3)
    b = a + 1
    assert kernels(b) == 1
    # scheduling was a dry run: realizing still runs the kernel and gives the right answer
    np.testing.assert_allclose(b.numpy(), a.numpy() + 1)


@pytest.mark.parametrize("shape", [(0,), (2, 0, 3)])
def test_empty_tensors_run_no_kernel(shape):
    t = Tensor(np.zeros(shape, np.float32)) + 1
    assert t.numpy().shape == shape
