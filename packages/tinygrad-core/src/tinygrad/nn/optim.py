"""Optimizers: each step is lazy tensor math whose results are written back with `assign`.

All state (momentum buffers, Adam moments, bias-correction products, the learning rate) lives in device tensors
updated with `assign`, never in Python numbers: a step captured by TinyJit replays with the current state instead of
the values baked in at capture time. `schedule_step()` returns the tensors to realize, so a training step can
realize the loss and the update in one schedule and the update fuses with the backward pass.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from tinygrad.dtype import dtypes
from tinygrad.errors import ShapeError
from tinygrad.helpers import dedup
from tinygrad.tensor import Tensor

__all__ = ["Optimizer", "OptimizerGroup", "LARS", "SGD", "LAMB", "Adam", "AdamW", "Muon"]


def _state(like: Tensor, value: float = 0.0) -> Tensor:
    """A fresh device buffer shaped like `like` filled with value (a new buffer each call: equal lazy constants are
    one hash-consed node, and two optimizer states must never share memory)."""
    return Tensor.empty(*like.shape, dtype=like.dtype, device=like.device).assign(value)


def _scalar_state(value: float, device: str) -> Tensor:
    """A 0-d float32 device buffer holding value."""
    return Tensor.empty(1, dtype=dtypes.float32, device=device).assign(value).reshape(())


class Optimizer:
    """Base class: holds the parameters (tensors with requires_grad; those with requires_grad=None are switched
    on) and the other tensors passed in, the buffers (e.g. BatchNorm running statistics), which are realized with
    every step so their pending `assign`s run. Subclasses implement `_step`.

    >>> from tinygrad import Tensor
    >>> from tinygrad.nn.optim import SGD
    >>> w = Tensor([1.0, 2.0]); opt = SGD([w], lr=0.5)
    >>> _ = (w * w).sum().backward(); opt.step(); w.tolist()
    [0.0, 0.0]
    """

    def __init__(self, params: Sequence[Tensor], lr: float) -> None:
        params = list(params)
        for x in params:
            if x.requires_grad is None:
                x.requires_grad = True
        self.params: list[Tensor] = dedup([x for x in params if x.requires_grad])
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got no parameters to optimize (every tensor passed has "
                             "requires_grad=False); pass the model's parameters, e.g. nn.state.get_parameters(model)")  # fmt: skip  # noqa: E501
        self.buffers: list[Tensor] = dedup([x for x in params if not x.requires_grad])
        self.device = self.params[0].device
        # a device tensor, so changing it (opt.lr.assign(...)) reaches a TinyJit-captured step
        self.lr = _scalar_state(lr, self.device)
        Tensor.realize(self.lr)

    def zero_grad(self) -> None:
        """Forget the gradients (set each parameter's .grad to None) before the next backward().

        >>> from tinygrad import Tensor
        >>> from tinygrad.nn.optim import SGD
        >>> w = Tensor([1.0]); opt = SGD([w]); _ = w.sum().backward(); opt.zero_grad(); print(w.grad)
        None
        """
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Apply one update to every parameter that has a gradient, now.

        >>> from tinygrad import Tensor
        >>> from tinygrad.nn.optim import SGD
        >>> w = Tensor([3.0]); opt = SGD([w], lr=0.1); _ = (w * 2).sum().backward(); opt.step(); round(w.item(), 4)
        2.8
        """
        Tensor.realize(*self.schedule_step())

    def schedule_step(self) -> list[Tensor]:
        """Assign the updates lazily and return every tensor that must be realized to apply them (parameters,
        optimizer state, buffers). Realize them together with the loss to run the whole step as one schedule.

        >>> from tinygrad import Tensor
        >>> from tinygrad.nn.optim import SGD
        >>> w = Tensor([3.0]); opt = SGD([w], lr=0.1); loss = (w * 2).sum(); _ = loss.backward()
        >>> _ = Tensor.realize(loss, *opt.schedule_step()); round(w.item(), 4)
        2.8
        """
        active = [(i, p) for i, p in enumerate(self.params) if p.grad is not None]
        if not active:
            raise RuntimeError(f"{type(self).__name__}.step: no parameter has a gradient; call loss.backward() "
                               "first (and check the loss depends on the parameters)")  # fmt: skip
        for _, p in active:
            assert p.grad is not None
            if p.grad.shape != p.shape:
                raise ShapeError(f"{type(self).__name__}.step: a gradient of shape {p.grad.shape} does not fit its "
                                 f"parameter {p.shape}")  # fmt: skip
        # Every gradient reads the parameters' old values, but the scheduler orders kernels by data dependencies
        # only: a kernel reading a buffer is not held before the assign that overwrites it (the strict xfail
        # test_core_reads_old_value_before_assign in tests/test_optim.py). Kernels run in the order their outputs
        # are listed, so the gradients get their own buffers and come before any update, after the buffers' pending
        # assigns (e.g. BatchNorm statistics, which read the parameters too).
        grads = [p.grad.detach().contiguous() for _, p in active if p.grad is not None]
        new, state = self._step([i for i, _ in active], [p.detach() for _, p in active], grads)
        for (_, p), v in zip(active, new):
            p.assign(v.cast(p.dtype))
        return self.buffers + grads + [p for _, p in active] + state

    def _lr(self, t: Tensor) -> Tensor:
        return self.lr.cast(t.dtype) if isinstance(self.lr, Tensor) else self.lr

    def _step(self, idx: list[int], params: list[Tensor], grads: list[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        """(new values of params, state tensors to realize) for the parameters at positions idx of self.params."""
        raise NotImplementedError


class OptimizerGroup(Optimizer):
    """Several optimizers stepped as one (e.g. Muon for the matrices and AdamW for the rest).

    >>> from tinygrad import Tensor
    >>> from tinygrad.nn.optim import OptimizerGroup, SGD
    >>> a, b = Tensor([1.0]), Tensor([1.0])
    >>> opt = OptimizerGroup(SGD([a], lr=0.1), SGD([b], lr=0.2)); _ = (a + b).sum().backward(); opt.step()
    >>> [round(a.item(), 4), round(b.item(), 4)]
    [0.9, 0.8]
    """

    def __init__(self, *optimizers: Optimizer) -> None:
        if not optimizers:
            raise ValueError("OptimizerGroup: pass at least one optimizer")
        self.optimizers = list(optimizers)
        self.params = dedup([p for o in self.optimizers for p in o.params])
        self.buffers = dedup([b for o in self.optimizers for b in o.buffers])

    def __getitem__(self, i: int) -> Optimizer:
        return self.optimizers[i]

    def zero_grad(self) -> None:
        for o in self.optimizers:
            o.zero_grad()

    def schedule_step(self) -> list[Tensor]:
        return dedup([t for o in self.optimizers for t in o.schedule_step()])


class LARS(Optimizer):
    """Layer-wise adaptive rate scaling (You et al., 2017, "Large Batch Training of Convolutional Networks").

    Per parameter tensor w with gradient g: trust = tcoef * ||w|| / (||g|| + wd * ||w||) (1 where a norm is 0),
    d = g + wd * w; classic (default): v = momentum * v + lr * trust * d, w -= v (nesterov: w -= lr * trust * d +
    momentum * v). classic=False applies lr * trust after the momentum, as torch's SGD does with lr.
    tcoef=0 turns the trust ratio off, which is SGD.

    >>> from tinygrad import Tensor
    >>> from tinygrad.nn.optim import LARS
    >>> w = Tensor([3.0, 4.0]); opt = LARS([w], lr=1.0, momentum=0.0, weight_decay=0.0, tcoef=0.1)
    >>> _ = (w * Tensor([6.0, 8.0])).sum().backward(); opt.step(); [round(v, 4) for v in w.tolist()]
    [2.7, 3.6]
    """

    def __init__(self, params: Sequence[Tensor], lr: float = 0.001, momentum: float = 0.9, weight_decay: float = 1e-4,
                 nesterov: bool = False, classic: bool = True, tcoef: float = 0.001) -> None:  # fmt: skip
        super().__init__(params, lr)
        if nesterov and momentum <= 0:
            raise ValueError(f"{type(self).__name__}: nesterov needs momentum > 0, got momentum={momentum}")
        self.momentum, self.wd, self.nesterov = momentum, weight_decay, nesterov
        self.classic, self.tcoef = classic, tcoef
        self.b = [_state(p) for p in self.params] if momentum else []
        if self.b:
            Tensor.realize(*self.b)

    def _step(self, idx: list[int], params: list[Tensor], grads: list[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        new, state = [], []
        for i, t, g in zip(idx, params, grads):
            if self.tcoef != 0:
                wn, gn = t.square().sum().sqrt(), g.square().sum().sqrt()
                r: Tensor | float = (wn > 0).where((gn > 0).where(self.tcoef * wn / (gn + self.wd * wn), 1.0), 1.0)
            else:
                r = 1.0
            if self.wd:
                g = g + self.wd * t
            if self.classic:
                g = g * r * self._lr(t)
            if self.momentum:
                self.b[i].assign(self.momentum * self.b[i] + g)
                state.append(self.b[i])
                g = g + self.momentum * self.b[i] if self.nesterov else self.b[i]
            if not self.classic:
                g = g * r * self._lr(t)
            new.append(t - g)
        return new, state


class SGD(LARS):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and (L2) weight decay, with torch's
    update rule by default (classic=False: v = momentum * v + g; w -= lr * v). classic=True folds lr into the
    velocity (v = momentum * v + lr * g; w -= v), which differs when lr changes during training.

    >>> from tinygrad import Tensor
    >>> from tinygrad.nn.optim import SGD
    >>> w = Tensor([1.0]); opt = SGD([w], lr=0.1, momentum=0.9)
    >>> for _ in range(2): opt.zero_grad(); _ = w.sum().backward(); opt.step()
    >>> round(w.item(), 4)
    0.71
    """

    def __init__(self, params: Sequence[Tensor], lr: float = 0.001, momentum: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False, classic: bool = False) -> None:  # fmt: skip
        super().__init__(params, lr, momentum, weight_decay, nesterov, classic, tcoef=0.0)


class LAMB(Optimizer):
    """Layer-wise adaptive moments (You et al., 2019, "Large Batch Optimization for Deep Learning").

    Adam's bias-corrected moments give r = m_hat / (sqrt(v_hat) + eps) + wd * w; LAMB scales the step by the trust
    ratio ||w|| / ||r|| (1 where a norm is 0): w -= lr * trust * r. adam=True drops the trust ratio, which is
    Adam (wd=0) or AdamW (decoupled weight decay). The bias-correction products b1^t, b2^t are device tensors.

    >>> from tinygrad import Tensor
    >>> from tinygrad.nn.optim import LAMB
    >>> w = Tensor([3.0, 4.0]); opt = LAMB([w], lr=0.1); _ = (w * w).sum().backward(); opt.step()
    >>> [round(v, 4) for v in w.tolist()]
    [2.6464, 3.6464]
    """

    def __init__(self, params: Sequence[Tensor], lr: float = 0.001, b1: float = 0.9, b2: float = 0.999,
                 eps: float = 1e-6, weight_decay: float = 0.0, adam: bool = False) -> None:  # fmt: skip
        super().__init__(params, lr)
        self.b1, self.b2, self.eps, self.wd, self.adam = b1, b2, eps, weight_decay, adam
        self.b1_t, self.b2_t = _scalar_state(1.0, self.device), _scalar_state(1.0, self.device)
        self.m = [_state(p) for p in self.params]
        self.v = [_state(p) for p in self.params]
        Tensor.realize(self.b1_t, self.b2_t, *self.m, *self.v)

    def _step(self, idx: list[int], params: list[Tensor], grads: list[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        self.b1_t.assign(self.b1_t * self.b1)
        self.b2_t.assign(self.b2_t * self.b2)
        new, state = [], [self.b1_t, self.b2_t]
        for i, t, g in zip(idx, params, grads):
            self.m[i].assign(self.b1 * self.m[i] + (1.0 - self.b1) * g)
            self.v[i].assign(self.b2 * self.v[i] + (1.0 - self.b2) * (g * g))
            state += [self.m[i], self.v[i]]
            m_hat = self.m[i] / (1.0 - self.b1_t).cast(t.dtype)
            v_hat = self.v[i] / (1.0 - self.b2_t).cast(t.dtype)
            up = m_hat / (v_hat.sqrt() + self.eps)
            if self.wd:
                up = up + self.wd * t
            if not self.adam:
                wn, un = t.square().sum().sqrt(), up.square().sum().sqrt()
                up = up * (wn > 0).where((un > 0).where(wn / un, 1.0), 1.0)
            new.append(t - self._lr(t) * up)
        return new, state


def Adam(params: Sequence[Tensor], lr: float = 0.001, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> LAMB:
    """Adam (Kingma & Ba, 2015): LAMB without the trust ratio and without weight decay.

    >>> from tinygrad import Tensor
    >>> from tinygrad.nn import optim
    >>> w = Tensor([1.0, -1.0]); opt = optim.Adam([w], lr=0.1); _ = (w * w).sum().backward(); opt.step()
    >>> [round(v, 4) for v in w.tolist()]
    [0.9, -0.9]
    """
    return LAMB(params, lr, b1, b2, eps, 0.0, adam=True)


def AdamW(params: Sequence[Tensor], lr: float = 0.001, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
          weight_decay: float = 0.01) -> LAMB:  # fmt: skip
    """AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay, w -= lr * (adam_step + wd * w).

    >>> from tinygrad import Tensor
    >>> from tinygrad.nn import optim
    >>> w = Tensor([1.0]); opt = optim.AdamW([w], lr=0.1, weight_decay=0.5); _ = (w * 0).sum().backward(); opt.step()
    >>> round(w.item(), 4)
    0.95
    """
    return LAMB(params, lr, b1, b2, eps, weight_decay, adam=True)


def _newton_schulz(g: Tensor, steps: int, coefs: tuple[float, float, float]) -> Tensor:
    """An approximately orthogonal matrix with g's singular vectors (U V^T of g = U S V^T), by the quintic
    Newton-Schulz iteration of the Muon reference: X <- a X + (b A + c A^2) X with A = X X^T, from X = g / ||g||."""
    a, b, c = coefs
    tall = g.shape[0] > g.shape[1]
    x = g.transpose() if tall else g
    x = x / (x.square().sum().sqrt() + 1e-7)
    for _ in range(steps):
        A = x @ x.transpose()
        x = a * x + (b * A + c * (A @ A)) @ x
    return x.transpose() if tall else x


class Muon(Optimizer):
    """MomentUm Orthogonalized by Newton-schulz (Jordan et al., 2024). Momentum is an EMA of the gradients,
    m = momentum * m + (1 - momentum) * g; the update u = m (nesterov: (1 - momentum) * g + momentum * m) of every
    parameter with 2 or more dims is viewed as (shape[0], -1), replaced by its orthogonalization
    (`ns_steps` Newton-Schulz iterations) and scaled by sqrt(max(1, rows / cols)); 1-D parameters take u as is.
    Then w -= lr * (u + weight_decay * w). The reference computes the iteration in bfloat16; this one uses the
    parameter's dtype. Muon is meant for the hidden matrices: pair it with AdamW in an OptimizerGroup for the rest.

    >>> from tinygrad import Tensor
    >>> from tinygrad.nn.optim import Muon
    >>> w = Tensor([[1.0, 0.0], [0.0, 1.0]]); opt = Muon([w], lr=0.1, ns_steps=8)
    >>> _ = (w * Tensor([[2.0, 0.0], [0.0, 2.0]])).sum().backward(); opt.step()
    >>> [[round(v, 1) for v in r] for r in w.tolist()]
    [[0.9, 0.0], [0.0, 0.9]]
    """

    def __init__(self, params: Sequence[Tensor], lr: float = 0.02, momentum: float = 0.95, weight_decay: float = 0.0,
                 ns_steps: int = 5, ns_coefficients: tuple[float, float, float] = (3.4445, -4.775, 2.0315),
                 nesterov: bool = True) -> None:  # fmt: skip
        super().__init__(params, lr)
        self.momentum, self.wd, self.ns_steps, self.ns_coefficients = momentum, weight_decay, ns_steps, ns_coefficients
        self.nesterov = nesterov
        self.b = [_state(p) for p in self.params]
        Tensor.realize(*self.b)

    def _step(self, idx: list[int], params: list[Tensor], grads: list[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        new, state = [], []
        for i, t, g in zip(idx, params, grads):
            self.b[i].assign(self.momentum * self.b[i] + (1 - self.momentum) * g)
            state.append(self.b[i])
            u = (1 - self.momentum) * g + self.momentum * self.b[i] if self.nesterov else self.b[i]
            if t.ndim >= 2 and t.numel() > 0:
                u2 = u.reshape(t.shape[0], -1)
                scale = math.sqrt(max(1.0, u2.shape[0] / u2.shape[1]))
                u = (_newton_schulz(u2, self.ns_steps, self.ns_coefficients) * scale).reshape(t.shape)
            if self.wd:
                u = u + self.wd * t
            new.append(t - self._lr(t) * u)
        return new, state
