"""TinyJit: capture/replay behaviour and every guard, checked against numpy."""

import numpy as np
import pytest

from tinygrad import Tensor, TinyJit
from tinygrad.engine.jit import JitAliasError, JitArgumentError, JitNoKernelsError
from tinygrad.errors import JitError


def rnd(*shape):
    return np.random.default_rng().standard_normal(shape).astype(np.float32)


def test_replay_uses_new_inputs():
    @TinyJit
    def f(a, b):
        return (a * b + 1).relu().sum(1)

    for i in range(5):
        x, y = rnd(4, 3), rnd(4, 3)
        np.testing.assert_allclose(f(Tensor(x), Tensor(y)).numpy(), np.maximum(x * y + 1, 0).sum(1), rtol=1e-5)
    assert f.cnt == 5 and len(f.captured) >= 1


def test_list_dict_and_keyword_inputs():
    @TinyJit
    def f(xs, scale=None, extra=None):
        return (xs[0] + xs[1] * scale + extra["z"]).contiguous()

    for _ in range(4):
        a, b, s, z = rnd(5), rnd(5), rnd(5), rnd(5)
        out = f([Tensor(a), Tensor(b)], scale=Tensor(s), extra={"z": Tensor(z)})
        np.testing.assert_allclose(out.numpy(), a + b * s + z, rtol=1e-5, atol=1e-6)


def test_method():
    class Model:
        def __init__(self):
            self.w = Tensor(rnd(3, 2)).realize()

        @TinyJit
        def __call__(self, x):
            return (x @ self.w).contiguous()

    m = Model()
    for _ in range(4):
        x = rnd(4, 3)
        np.testing.assert_allclose(m(Tensor(x)).numpy(), x @ m.w.numpy(), rtol=1e-5, atol=1e-5)


def test_changed_int_argument_raises():
    @TinyJit
    def f(a, k):
        return (a * k).contiguous()

    for _ in range(3):
        f(Tensor(rnd(3)), 2)
    with pytest.raises(JitArgumentError, match="changed from 2 to 3"):
        f(Tensor(rnd(3)), 3)


def test_changed_shape_raises():
    @TinyJit
    def f(a):
        return (a + 1).contiguous()

    for _ in range(3):
        f(Tensor(rnd(3)))
    with pytest.raises(JitArgumentError, match=r"shape \(3,\).*shape \(4,\)"):
        f(Tensor(rnd(4)))
    assert issubclass(JitArgumentError, JitError)


def test_no_kernels_raises():
    @TinyJit
    def f(a):
        return a

    f(Tensor(rnd(3)))
    with pytest.raises((JitNoKernelsError, JitAliasError)):
        f(Tensor(rnd(3)))


def test_output_aliasing_input_raises():
    @TinyJit
    def f(a, b):
        (b * 2).realize()
        return a

    f(Tensor(rnd(3)), Tensor(rnd(3)))
    with pytest.raises(JitAliasError):
        f(Tensor(rnd(3)), Tensor(rnd(3)))


def test_assign_to_input_is_replayed():
    @TinyJit
    def f(a):
        a.assign(a * 2 + 1).realize()
        return (a + 0).contiguous()

    for _ in range(4):
        x = rnd(6)
        t = Tensor(x).realize()
        out = f(t)
        np.testing.assert_allclose(t.numpy(), x * 2 + 1, rtol=1e-6)
        np.testing.assert_allclose(out.numpy(), x * 2 + 1, rtol=1e-6)


def test_assign_to_state_accumulates():
    w = Tensor(np.zeros(3, np.float32)).realize()

    @TinyJit
    def step(g):
        w.assign(w + g).realize()
        return (w * 1).contiguous()

    total = np.zeros(3, np.float32)
    for _ in range(5):
        g = rnd(3)
        total += g
        step(Tensor(g))
    np.testing.assert_allclose(w.numpy(), total, rtol=1e-5, atol=1e-6)


def test_random_differs_call_to_call():
    @TinyJit
    def f(a):
        return (Tensor.rand(16) + a).contiguous()

    z = Tensor(np.zeros(16, np.float32))
    seen = [f(z).numpy().copy() for _ in range(5)]
    for i in range(len(seen)):
        for j in range(i + 1, len(seen)):
            assert not np.array_equal(seen[i], seen[j])
    assert all(((s >= 0) & (s < 1)).all() for s in seen)


def test_ten_intermediate_chain_uses_at_most_two_intermediate_buffers():
    @TinyJit
    def f(a, b):
        x = a
        for i in range(10):
            x = (x * b + i).contiguous()
        return x

    for _ in range(3):
        x, y = rnd(8), rnd(8)
        out = f(Tensor(x), Tensor(y)).numpy()
    ref = x
    for k in range(10):
        ref = ref * y + k
    np.testing.assert_allclose(out, ref, rtol=1e-4)
    out_buf = {id(f.captured[-1].bufs[0])}
    inter = {id(b) for ei in f.captured for b in ei.bufs} - {id(b) for b in f.input_bufs} - out_buf
    assert len(inter) <= 2


def test_jit_disabled_with_context():
    from tinygrad import Context

    @TinyJit
    def f(a):
        return (a + 1).contiguous()

    with Context(JIT=0):
        for _ in range(3):
            f(Tensor(rnd(2)))
    assert f.cnt == 0
