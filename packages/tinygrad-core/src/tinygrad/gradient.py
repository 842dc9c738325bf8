"""Reverse-mode autodiff over the tensor graph: one table of rules, one per primitive op.

Every Tensor method lowers to these primitives, so every differentiable method gets its gradient from here.
Broadcasting is an explicit EXPAND in the graph, so the binary rules never unbroadcast: EXPAND's rule does.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from tinygrad.dtype import dtypes
from tinygrad.uop.ops import GroupOp, Ops, UOp


def _c(like: UOp, v: float) -> UOp:
    """A constant with like's dtype, device and shape."""
    c = UOp.tensor_const(v, like.dtype, like.device)
    return c.reshape((1,) * len(like.shape)).expand(like.shape) if like.shape else c


def _b(op: Ops, a: UOp, b: UOp) -> UOp:
    return a.alu(op, b)


def _sum_to(g: UOp, shape: tuple[int, ...]) -> UOp:
    """Undo an EXPAND: sum the broadcast axes."""
    axes = tuple(i for i, (s, n) in enumerate(zip(shape, g.shape)) if s == 1 and n != 1)
    return g.reduce_axis(Ops.ADD, axes) if axes else g


def _inv_perm(order: tuple[int, ...]) -> tuple[int, ...]:
    inv = [0] * len(order)
    for i, p in enumerate(order):
        inv[p] = i
    return tuple(inv)


def _where(c: UOp, a: UOp, b: UOp) -> UOp:
    return UOp(Ops.WHERE, a.dtype, (c, a, b))


def _max_grad(g: UOp, out: UOp, a: UOp, b: UOp) -> tuple[UOp, UOp]:
    # ties split the gradient evenly between both inputs (as torch.maximum does)
    a_wins = _b(Ops.CMPLT, b, a)
    tie = _b(Ops.CMPEQ, a, b)
    half = _b(Ops.MUL, g, _c(g, 0.5))
    zero = _c(g, 0.0)
    ga = _where(a_wins, g, _where(tie, half, zero))
    gb = _where(_b(Ops.CMPLT, a, b), g, _where(tie, half, zero))
    return ga, gb


def _reduce_max_grad(g: UOp, out: UOp, x: UOp) -> UOp:
    # the gradient goes to every position that attains the max, split evenly among them
    axes = out.arg[1]
    mask = _b(Ops.CMPEQ, x, out.expand(x.shape)).cast(x.dtype)
    count = mask.reduce_axis(Ops.ADD, axes)
    return _b(Ops.MUL, mask, _b(Ops.FDIV, g, count).expand(x.shape))


RuleFn = Callable[..., tuple[UOp | None, ...]]

# op -> fn(grad, out, *src) returning one gradient (or None: not differentiable) per source
RULES: dict[Ops, RuleFn] = {
    Ops.ADD: lambda g, out, a, b: (g, g),  # d(a+b) = da + db
    Ops.SUB: lambda g, out, a, b: (g, g.alu(Ops.NEG)),  # d(a-b) = da - db
    Ops.MUL: lambda g, out, a, b: (_b(Ops.MUL, g, b), _b(Ops.MUL, g, a)),  # d(ab) = b da + a db
    Ops.FDIV: lambda g, out, a, b: (_b(Ops.FDIV, g, b), _b(Ops.MUL, g, _b(Ops.FDIV, out, b)).alu(Ops.NEG)),  # d(a/b) = da/b - a/b^2 db
    Ops.NEG: lambda g, out, a: (g.alu(Ops.NEG),),  # d(-a) = -da
    Ops.EXP2: lambda g, out, a: (_b(Ops.MUL, g, _b(Ops.MUL, out, _c(out, math.log(2)))),),  # d2^a = 2^a ln2 da
    Ops.LOG2: lambda g, out, a: (_b(Ops.FDIV, g, _b(Ops.MUL, a, _c(a, math.log(2)))),),  # dlog2 a = da / (a ln2)
    Ops.SIN: lambda g, out, a: (_b(Ops.MUL, g, _b(Ops.SUB, _c(a, math.pi / 2), a).alu(Ops.SIN)),),  # dsin a = cos a da
    Ops.SQRT: lambda g, out, a: (_b(Ops.FDIV, g, _b(Ops.MUL, out, _c(out, 2.0))),),  # dsqrt a = da / (2 sqrt a)
    Ops.RECIP: lambda g, out, a: (_b(Ops.MUL, g, _b(Ops.MUL, out, out)).alu(Ops.NEG),),  # d(1/a) = -da / a^2
    Ops.TRUNC: lambda g, out, a: (_c(g, 0.0),),  # piecewise constant
    Ops.MAX: _max_grad,  # d max(a,b) goes to the larger (split on ties)
    Ops.POW: lambda g, out, a, b: (
        _b(Ops.MUL, g, _b(Ops.MUL, b, _b(Ops.POW, a, _b(Ops.SUB, b, _c(b, 1.0))))),  # d a^b = b a^(b-1) da
        _b(Ops.MUL, g, _b(Ops.MUL, out, _b(Ops.MUL, a.alu(Ops.LOG2), _c(a, math.log(2))))),  # + a^b ln a db
    ),
    Ops.WHERE: lambda g, out, c, a, b: (None, _where(c, g, _c(g, 0.0)), _where(c, _c(g, 0.0), g)),  # routes g by c
    Ops.CAST: lambda g, out, a: (g.cast(a.dtype),),  # back to the source dtype
    Ops.RESHAPE: lambda g, out, a: (g.reshape(a.shape),),
    Ops.PERMUTE: lambda g, out, a: (g.permute(_inv_perm(out.arg)),),
    Ops.EXPAND: lambda g, out, a: (_sum_to(g, a.shape),),  # broadcast -> sum
    Ops.PAD: lambda g, out, a: (g.shrink(tuple((b, b + s) for (b, _), s in zip(out.arg, a.shape))),),  # pad -> shrink
    Ops.SHRINK: lambda g, out, a: (g.pad(tuple((b, s - e) for (b, e), s in zip(out.arg, a.shape))),),  # shrink -> pad
    Ops.FLIP: lambda g, out, a: (g.flip(out.arg),),
    Ops.CONTIGUOUS: lambda g, out, a: (g,),
    Ops.CUSTOM_GRAD: lambda g, out, value, *ins: (None, *out.arg(g, out, *ins)),  # user-supplied backward
    Ops.COPY: lambda g, out, a: (UOp(Ops.COPY, g.dtype, (g,), a.device),),
    Ops.REDUCE_AXIS: lambda g, out, a: (
        g.expand(a.shape) if out.arg[0] is Ops.ADD
        else _reduce_max_grad(g, out, a) if out.arg[0] is Ops.MAX
        else _b(Ops.MUL, g.expand(a.shape), _b(Ops.FDIV, out.expand(a.shape), a)),  # d prod = prod/a da
    ),
}  # fmt: skip

NOT_DIFFERENTIABLE = GroupOp.Comparison | {Ops.AND, Ops.OR, Ops.XOR, Ops.SHL, Ops.SHR, Ops.IDIV, Ops.MOD, Ops.BITCAST}


def compute_gradient(root: UOp, root_grad: UOp, targets: set[UOp]) -> dict[UOp, UOp]:
    """d(root)/d(node) for every node on a path from root to one of `targets`."""
    # only nodes that can reach a target need gradients
    topo = root.toposort()
    reaches: dict[UOp, bool] = {}
    for u in topo:
        reaches[u] = u in targets or any(reaches[s] for s in u.src)
    grads: dict[UOp, UOp] = {root: root_grad}
    for u in reversed(topo):
        if (g := grads.get(u)) is None or not reaches[u] or u in targets and not u.src:
            continue
        if u.op in NOT_DIFFERENTIABLE or u.op in (Ops.BUFFER, Ops.CONST, Ops.IOTA, Ops.DEVICE):
            continue
        rule = RULES.get(u.op)
        if rule is None:
            raise NotImplementedError(f"no gradient rule for {u.op}")
        for s, sg in zip(u.src, rule(g, u, *u.src)):
            if sg is None or not reaches.get(s, False) or not dtypes.is_float(s.dtype):
                continue
            grads[s] = sg if s not in grads else _b(Ops.ADD, grads[s], sg)
    return grads
