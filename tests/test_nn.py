"""tinygrad.nn layers against torch.nn: forward outputs and the gradients of the input and every parameter, on fresh
random inputs with weights copied from the torch module. Plus initialisation statistics, training-mode switches,
BatchNorm running statistics (also under TinyJit) and input errors.

Shapes are tiny so DEV=PYTHON stays fast.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import torch

from tinygrad import Context, Tensor, TinyJit, nn
from tinygrad.errors import DTypeError, ShapeError

ATOL, RTOL = 1e-5, 1e-4


def _t(a: np.ndarray) -> Tensor:
    return Tensor(a.copy(), requires_grad=True)


def _copy_params(layer: object, mod: torch.nn.Module, names: list[str]) -> dict[str, Tensor]:
    out = {}
    for n in names:
        p = getattr(mod, n)
        if p is None:
            assert getattr(layer, n) is None, n
            continue
        assert getattr(layer, n).shape == tuple(p.shape), (n, getattr(layer, n).shape, tuple(p.shape))
        out[n] = _t(p.detach().numpy())
        setattr(layer, n, out[n])
    return out


def _compare(layer: Callable, mod: Callable, names: list[str], x: np.ndarray, rng: np.random.Generator,
             src: torch.nn.Module | None = None, atol: float = ATOL, rtol: float = RTOL) -> None:  # fmt: skip
    """Forward and backward of layer vs mod on x, with a random output gradient. The parameters `names` are copied
    from src (default: mod) into layer, and their gradients compared."""
    src = mod if src is None else src
    params = _copy_params(layer, src, names)
    xt = torch.tensor(x, requires_grad=True)
    out_t = mod(xt)
    g = rng.standard_normal(tuple(out_t.shape)).astype(np.float32)
    (out_t * torch.from_numpy(g)).sum().backward()
    xi = _t(x)
    out = layer(xi)
    (out * Tensor(g)).sum().backward()
    np.testing.assert_allclose(out.numpy(), out_t.detach().numpy(), atol=atol, rtol=rtol, err_msg="forward")
    assert xi.grad is not None
    np.testing.assert_allclose(xi.grad.numpy(), xt.grad.numpy(), atol=atol, rtol=rtol, err_msg="input grad")
    for n, p in params.items():
        assert p.grad is not None, n
        np.testing.assert_allclose(p.grad.numpy(), getattr(src, n).grad.numpy(), atol=atol, rtol=rtol, err_msg=n)


def _randomize(mod: torch.nn.Module, rng: np.random.Generator) -> torch.nn.Module:
    """Random values for every parameter (norm layers start at ones/zeros, which would hide mistakes)."""
    with torch.no_grad():
        for p in mod.parameters():
            p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape)).astype(np.float32)))
    return mod


def _x(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


# ---------------------------------------------------------------- linear and convolutions


@pytest.mark.parametrize("shape", [(2, 3), (3,), (2, 2, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear(shape: tuple[int, ...], bias: bool, rng: np.random.Generator) -> None:
    _compare(nn.Linear(3, 4, bias=bias), torch.nn.Linear(3, 4, bias=bias), ["weight", "bias"], _x(rng, *shape), rng)


CONV2D_CASES = {
    "plain": ({}, (1, 2, 6, 6)),
    "stride_padding": ({"stride": 2, "padding": 1}, (2, 2, 5, 5)),
    "dilation_rect_padding": ({"dilation": 2, "padding": (1, 2)}, (1, 2, 6, 5)),
    "same": ({"padding": "same"}, (1, 2, 4, 4)),
    "no_bias": ({"bias": False}, (1, 2, 5, 5)),
}


@pytest.mark.parametrize("case", list(CONV2D_CASES))
def test_conv2d(case: str, rng: np.random.Generator) -> None:
    kw, shape = CONV2D_CASES[case]
    _compare(nn.Conv2d(2, 3, 3, **kw), torch.nn.Conv2d(2, 3, 3, **kw), ["weight", "bias"], _x(rng, *shape), rng)


def test_conv2d_groups_rect_kernel(rng: np.random.Generator) -> None:
    _compare(nn.Conv2d(2, 4, (3, 2), groups=2), torch.nn.Conv2d(2, 4, (3, 2), groups=2), ["weight", "bias"],
             _x(rng, 1, 2, 5, 4), rng)  # fmt: skip


@pytest.mark.parametrize("kw", [{}, {"stride": 2, "padding": 1}, {"dilation": 2, "groups": 2}])
def test_conv1d(kw: dict, rng: np.random.Generator) -> None:
    _compare(nn.Conv1d(2, 4, 3, **kw), torch.nn.Conv1d(2, 4, 3, **kw), ["weight", "bias"], _x(rng, 2, 2, 9), rng)


@pytest.mark.parametrize("kw", [{}, {"stride": 2, "padding": 1, "output_padding": 1}, {"dilation": 2, "bias": False}])
def test_conv_transpose2d(kw: dict, rng: np.random.Generator) -> None:
    _compare(nn.ConvTranspose2d(2, 3, 3, **kw), torch.nn.ConvTranspose2d(2, 3, 3, **kw), ["weight", "bias"],
             _x(rng, 1, 2, 4, 4), rng)  # fmt: skip


def test_conv_transpose2d_groups(rng: np.random.Generator) -> None:
    _compare(nn.ConvTranspose2d(4, 2, 2, stride=2, groups=2), torch.nn.ConvTranspose2d(4, 2, 2, stride=2, groups=2),
             ["weight", "bias"], _x(rng, 1, 4, 3, 3), rng)  # fmt: skip


@pytest.mark.parametrize("kw", [{}, {"stride": 3, "padding": 2, "output_padding": 1}])
def test_conv_transpose1d(kw: dict, rng: np.random.Generator) -> None:
    _compare(nn.ConvTranspose1d(2, 3, 4, **kw), torch.nn.ConvTranspose1d(2, 3, 4, **kw), ["weight", "bias"],
             _x(rng, 2, 2, 5), rng)  # fmt: skip


# ---------------------------------------------------------------- normalization


@pytest.mark.parametrize("shape", [(4, 3, 2, 2), (6, 3), (2, 3, 5)])
def test_batchnorm_training(shape: tuple[int, ...], rng: np.random.Generator) -> None:
    bn, tbn = nn.BatchNorm(3, momentum=0.3), _randomize(torch.nn.BatchNorm2d(3, momentum=0.3), rng)
    tbn.train()
    x = _x(rng, *shape) * 3 + 1
    with Tensor.train():
        # torch's BatchNorm2d insists on 4-d input; the functional form takes any (N, C, ...) shape
        fn = lambda t: torch.nn.functional.batch_norm(t, tbn.running_mean, tbn.running_var, tbn.weight, tbn.bias,
                                                      True, 0.3, tbn.eps)  # fmt: skip
        _compare(bn, fn, ["weight", "bias"], x, rng, src=tbn)
    assert bn.running_mean is not None and bn.running_var is not None and bn.num_batches_tracked is not None
    Tensor.realize(bn.running_mean, bn.running_var, bn.num_batches_tracked)
    np.testing.assert_allclose(bn.running_mean.numpy(), tbn.running_mean.numpy(), atol=ATOL, rtol=RTOL)
    np.testing.assert_allclose(bn.running_var.numpy(), tbn.running_var.numpy(), atol=ATOL, rtol=RTOL)
    assert bn.num_batches_tracked.item() == 1


def test_batchnorm_eval_uses_running_stats(rng: np.random.Generator) -> None:
    tbn = _randomize(torch.nn.BatchNorm2d(3), rng)
    with torch.no_grad():
        tbn.running_mean.copy_(torch.from_numpy(_x(rng, 3)))
        tbn.running_var.copy_(torch.from_numpy(rng.uniform(0.5, 2.0, 3).astype(np.float32)))
    tbn.eval()
    bn = nn.BatchNorm2d(3)
    bn.running_mean, bn.running_var = Tensor(tbn.running_mean.numpy()), Tensor(tbn.running_var.numpy())
    assert not Tensor.training
    _compare(bn, tbn, ["weight", "bias"], _x(rng, 2, 3, 3, 3), rng)


def test_batchnorm_no_affine_no_running_stats(rng: np.random.Generator) -> None:
    bn = nn.BatchNorm(3, affine=False, track_running_stats=False)
    assert bn.weight is None and bn.running_mean is None
    tbn = torch.nn.BatchNorm2d(3, affine=False, track_running_stats=False)
    # without running statistics both use the batch's, in eval mode too
    _compare(bn, tbn.eval(), [], _x(rng, 2, 3, 2, 2), rng)


def test_batchnorm_running_stats_accumulate_under_jit(rng: np.random.Generator) -> None:
    bn, tbn = nn.BatchNorm(2), torch.nn.BatchNorm2d(2)
    xs = [_x(rng, 4, 2, 2, 2) * (i + 1) + i for i in range(4)]

    @TinyJit
    def step(x: Tensor) -> Tensor:
        out = bn(x)
        assert bn.running_mean is not None and bn.running_var is not None
        return out.realize(bn.running_mean, bn.running_var)

    with Tensor.train():
        for x in xs:
            step(Tensor(x))
            tbn(torch.from_numpy(x))
    assert bn.running_mean is not None and bn.running_var is not None
    np.testing.assert_allclose(bn.running_mean.numpy(), tbn.running_mean.numpy(), atol=ATOL, rtol=RTOL)
    np.testing.assert_allclose(bn.running_var.numpy(), tbn.running_var.numpy(), atol=ATOL, rtol=RTOL)


@pytest.mark.parametrize("switch", ["train", "context", "attribute"])
def test_training_switches(switch: str) -> None:
    x = Tensor([1.0, 3.0]).reshape(2, 1)
    bn = nn.BatchNorm(1)
    assert bn(x).flatten().tolist() == pytest.approx([1.0, 3.0], abs=1e-4)  # eval: running stats are (0, 1)
    if switch == "train":
        with Tensor.train():
            assert Tensor.training
            y = bn(x).flatten().tolist()
    elif switch == "context":
        with Context(TRAINING=1):
            assert Tensor.training
            y = bn(x).flatten().tolist()
    else:
        Tensor.training = True
        try:
            y = bn(x).flatten().tolist()
        finally:
            Tensor.training = False
    assert not Tensor.training
    assert y == pytest.approx([-1.0, 1.0], abs=1e-4)


@pytest.mark.parametrize("groups,shape", [(2, (2, 4, 3, 3)), (1, (3, 4, 5)), (4, (2, 4, 2, 2))])
def test_groupnorm(groups: int, shape: tuple[int, ...], rng: np.random.Generator) -> None:
    _compare(nn.GroupNorm(groups, 4), _randomize(torch.nn.GroupNorm(groups, 4), rng), ["weight", "bias"],
             _x(rng, *shape) * 2 + 1, rng)  # fmt: skip


def test_instancenorm(rng: np.random.Generator) -> None:
    tm = _randomize(torch.nn.InstanceNorm2d(3, affine=True), rng)
    _compare(nn.InstanceNorm(3), tm, ["weight", "bias"], _x(rng, 2, 3, 4, 4) * 3 - 1, rng)


def test_instancenorm_no_affine_1d(rng: np.random.Generator) -> None:
    _compare(nn.InstanceNorm(3, affine=False), torch.nn.InstanceNorm1d(3), [], _x(rng, 2, 3, 6), rng)


@pytest.mark.parametrize("norm_shape,shape", [(4, (2, 3, 4)), ((3, 4), (2, 3, 4)), (5, (5,))])
def test_layernorm(norm_shape, shape: tuple[int, ...], rng: np.random.Generator) -> None:
    _compare(nn.LayerNorm(norm_shape), _randomize(torch.nn.LayerNorm(norm_shape), rng), ["weight", "bias"],
             _x(rng, *shape) * 2 + 3, rng)  # fmt: skip


def test_layernorm_no_affine(rng: np.random.Generator) -> None:
    ln = nn.LayerNorm(4, eps=1e-3, elementwise_affine=False)
    assert ln.weight is None
    _compare(ln, torch.nn.LayerNorm(4, eps=1e-3, elementwise_affine=False), [], _x(rng, 3, 4), rng)


def test_layernorm2d(rng: np.random.Generator) -> None:
    tln = _randomize(torch.nn.LayerNorm(3), rng)
    fn = lambda t: tln(t.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    _compare(nn.LayerNorm2d(3), fn, ["weight", "bias"], _x(rng, 2, 3, 2, 2) * 2 - 1, rng, src=tln)


@pytest.mark.parametrize("shape", [(2, 4), (4,), (2, 3, 4)])
def test_rmsnorm(shape: tuple[int, ...], rng: np.random.Generator) -> None:
    _compare(nn.RMSNorm(4, eps=1e-6), _randomize(torch.nn.RMSNorm(4, eps=1e-6), rng), ["weight"], _x(rng, *shape), rng)


def test_rmsnorm_no_affine(rng: np.random.Generator) -> None:
    _compare(nn.RMSNorm(4, eps=1e-3, elementwise_affine=False), torch.nn.RMSNorm(4, eps=1e-3, elementwise_affine=False),
             [], _x(rng, 3, 4), rng)  # fmt: skip


# ---------------------------------------------------------------- embedding and LSTM


@pytest.mark.parametrize("idx_shape", [(2, 3), (4,), ()])
def test_embedding(idx_shape: tuple[int, ...], rng: np.random.Generator) -> None:
    temb = torch.nn.Embedding(5, 3)
    emb = nn.Embedding(5, 3)
    params = _copy_params(emb, temb, ["weight"])
    # duplicates on purpose: their gradients must add up
    idx = rng.integers(0, 5, idx_shape)
    idx.flat[0] = 4
    if idx.size > 1:
        idx.flat[-1] = 4
    out_t = temb(torch.from_numpy(idx))
    g = _x(rng, *out_t.shape)
    (out_t * torch.from_numpy(g)).sum().backward()
    out = emb(Tensor(idx.astype(np.int32)))
    (out * Tensor(g)).sum().backward()
    np.testing.assert_allclose(out.numpy(), out_t.detach().numpy(), atol=ATOL)
    np.testing.assert_allclose(params["weight"].grad.numpy(), temb.weight.grad.numpy(), atol=ATOL, rtol=RTOL)


# two cases only: the gate activations make large kernels, slow to optimize
@pytest.mark.parametrize("with_state,bias", [(True, True), (False, False)])
def test_lstmcell(with_state: bool, bias: bool, rng: np.random.Generator) -> None:
    tcell = torch.nn.LSTMCell(3, 4, bias=bias)
    cell = nn.LSTMCell(3, 4, bias=bias)
    params = _copy_params(cell, tcell, ["weight_ih", "weight_hh", "bias_ih", "bias_hh"])
    x, h0, c0 = _x(rng, 2, 3), _x(rng, 2, 4), _x(rng, 2, 4)
    xt, ht, ct = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    xi, hi, ci = _t(x), _t(h0), _t(c0)
    h_t, c_t = tcell(xt, (ht, ct)) if with_state else tcell(xt)
    h, c = cell(xi, (hi, ci)) if with_state else cell(xi)
    gh, gc = _x(rng, 2, 4), _x(rng, 2, 4)
    ((h_t * torch.from_numpy(gh)).sum() + (c_t * torch.from_numpy(gc)).sum()).backward()
    ((h * Tensor(gh)).sum() + (c * Tensor(gc)).sum()).backward()
    np.testing.assert_allclose(h.numpy(), h_t.detach().numpy(), atol=ATOL, rtol=RTOL)
    np.testing.assert_allclose(c.numpy(), c_t.detach().numpy(), atol=ATOL, rtol=RTOL)
    pairs = [(xi, xt)] + ([(hi, ht), (ci, ct)] if with_state else [])
    pairs += [(p, getattr(tcell, n)) for n, p in params.items()]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), atol=ATOL, rtol=RTOL)


# ---------------------------------------------------------------- initialisation


def _check_uniform(t: Tensor, bound: float) -> None:
    a = t.numpy().ravel()
    assert np.abs(a).max() <= bound * (1 + 1e-6)
    # a U(-b, b) sample of a few hundred values reaches near both ends and has std b/sqrt(3)
    assert a.max() > 0.8 * bound and a.min() < -0.8 * bound
    assert abs(a.std() - bound / math.sqrt(3)) < 0.15 * bound / math.sqrt(3)


def test_init_linear_conv() -> None:
    lin = nn.Linear(16, 32)
    assert lin.weight.shape == (32, 16) and lin.bias is not None and lin.bias.shape == (32,)
    # kaiming_uniform(a=sqrt(5)) reduces to U(-1/sqrt(fan_in), 1/sqrt(fan_in)), like the bias
    _check_uniform(lin.weight, 1 / 4)
    assert np.abs(lin.bias.numpy()).max() <= 1 / 4
    conv = nn.Conv2d(4, 16, 3, groups=2)
    assert conv.weight.shape == (16, 2, 3, 3)
    _check_uniform(conv.weight, 1 / math.sqrt(18))
    convt = nn.ConvTranspose2d(16, 8, 2, groups=2)
    assert convt.weight.shape == (16, 4, 2, 2)
    _check_uniform(convt.weight, 1 / math.sqrt(16))
    assert convt.bias is not None and np.abs(convt.bias.numpy()).max() <= 1 / 4


def test_init_norms_embedding_lstm() -> None:
    bn = nn.BatchNorm(3)
    assert bn.weight is not None and bn.bias is not None and bn.running_var is not None
    assert bn.weight.tolist() == [1.0] * 3 and bn.bias.tolist() == [0.0] * 3 and bn.running_var.tolist() == [1.0] * 3
    assert bn.running_mean is not None and bn.running_mean.requires_grad is False
    emb = nn.Embedding(32, 16)
    w = emb.weight.numpy()
    assert abs(w.std() - 1.0) < 0.15 and abs(w.mean()) < 0.15  # N(0, 1), as in torch
    cell = nn.LSTMCell(8, 16)
    _check_uniform(cell.weight_hh, 1 / 4)


def test_parameters_have_their_own_memory() -> None:
    # two fresh ones(3) are the same lazy node; each layer must still get its own buffer
    a, b = nn.LayerNorm(3), nn.LayerNorm(3)
    assert a.weight is not None and b.weight is not None and a.bias is not None
    a.weight.assign(Tensor([2.0, 3.0, 4.0])).realize()
    assert b.weight.tolist() == [1.0, 1.0, 1.0] and a.bias.tolist() == [0.0, 0.0, 0.0]
    x = Tensor([1.0, 2.0, 3.0])
    np.testing.assert_allclose(a(x).numpy(), b(x).numpy() * np.array([2.0, 3.0, 4.0]), atol=1e-6)


def test_random_init_helpers() -> None:
    Tensor.manual_seed(1)
    k = Tensor.kaiming_uniform(20, 30, a=0.0).numpy()
    assert np.abs(k).max() <= math.sqrt(6 / 30) and k.std() > 0.8 * math.sqrt(2 / 30)
    g = Tensor.glorot_uniform(20, 30).numpy()
    assert np.abs(g).max() <= math.sqrt(6 / 50)
    n = Tensor.kaiming_normal(20, 30, a=1.0).numpy()
    assert abs(n.std() - math.sqrt(1 / 30)) < 0.1 * math.sqrt(1 / 30)
    s = Tensor.scaled_uniform(20, 30).numpy()
    assert np.abs(s).max() <= 600**-0.5
    u = Tensor.uniform(20, 30, low=2.0, high=5.0, requires_grad=True)
    assert u.requires_grad is True and 2.0 <= u.numpy().min() and u.numpy().max() < 5.0
    m = Tensor.normal(20, 30, mean=-3.0, std=0.5, dtype="float16").numpy()
    assert m.dtype == np.float16 and abs(m.mean() + 3.0) < 0.1 and abs(m.std() - 0.5) < 0.06


# ---------------------------------------------------------------- errors


def test_errors() -> None:
    with pytest.raises(ShapeError, match="Conv2d"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ShapeError, match="GroupNorm"):
        nn.GroupNorm(3, 4)
    with pytest.raises(ShapeError, match="BatchNorm"):
        nn.BatchNorm(3)(Tensor.ones(2, 4, 2, 2))
    with pytest.raises(ShapeError, match="LayerNorm"):
        nn.LayerNorm((3, 4))(Tensor.ones(2, 4, 3))
    with pytest.raises(ShapeError, match="Linear"):
        nn.Linear(3, 2)(Tensor.ones(2, 4))
    with pytest.raises(DTypeError, match="Embedding"):
        nn.Embedding(4, 2)(Tensor([1.0]))
    with pytest.raises(ShapeError, match="LSTMCell"):
        nn.LSTMCell(3, 4)(Tensor.ones(2, 3), (Tensor.ones(2, 4), Tensor.ones(1, 4)))
    with pytest.raises(ShapeError, match="BatchNorm"), Tensor.train():
        nn.BatchNorm(2)(Tensor.ones(1, 2))
    assert nn.optim.Adam is not None and nn.state.get_parameters is not None and nn.datasets.mnist is not None
