"""Kernel optimization: actions on a kernel's loop axes, and the heuristics that choose them.

A kernel AST has output axes (RANGEs in the store index) and reduce axes (RANGEs owned by REDUCEs). Actions:
  UPCAST(axis, k)  output axis of size N -> N/k loop iterations, each computing k outputs (register tiling:
                   values not depending on the axis are loaded once for all k)
  UNROLL(axis, k)  reduce axis of size K -> K/k iterations, each adding k terms (more independent work)
  THREAD(axis, n)  output axis split across n cores: a SPECIAL thread index times the chunk plus a loop
Each action is validated; an illegal one raises OptError and search skips it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, auto

from tinygrad.dtype import dtypes
from tinygrad.uop.ops import Ops, UOp
from tinygrad.uop.pattern import graph_rewrite
from tinygrad.uop.symbolic import symbolic


class OptOps(Enum):
    UPCAST = auto()
    UNROLL = auto()
    THREAD = auto()


class OptError(Exception):
    """This action cannot apply to this kernel."""


@dataclass(frozen=True)
class Opt:
    op: OptOps
    axis: int
    arg: int

    def __repr__(self) -> str:
        return f"Opt({self.op.name}, {self.axis}, {self.arg})"


def _ranges(ast: UOp) -> tuple[list[UOp], list[UOp]]:
    """(output ranges, reduce ranges) in axis order; ranges already unrolled/upcast into constants vanish."""
    nodes = ast.toposort()
    red = {r for u in nodes if u.op is Ops.REDUCE for r in u.src[1:]}
    rngs = sorted((u for u in nodes if u.op is Ops.RANGE), key=lambda r: r.arg)
    return [r for r in rngs if r not in red], [r for r in rngs if r in red]


def _size(r: UOp) -> int:
    return r.src[0].arg


def _split(name: str, kind: str, ranges: list[UOp], axis: int, k: int) -> tuple[UOp, UOp | None, list[UOp]]:
    """Split ranges[axis] (size n) into n/k iterations of k: (old range, new range or None when n == k, the k
    index expressions new*k + c that replace the old one)."""
    if not 0 <= axis < len(ranges):
        raise OptError(f"{name}: no {kind} axis {axis}")
    r = ranges[axis]
    n = _size(r)
    if k <= 1 or n % k:
        raise OptError(f"{name}: {k} does not divide {kind} size {n}")
    # the new loop keeps the old one's axis number, so it stays at the same nesting position
    new = UOp(Ops.RANGE, dtypes.index, (UOp.const(dtypes.index, n // k),), r.arg) if n > k else None
    return r, new, [(new * k + c) if new is not None else UOp.const(dtypes.index, c) for c in range(k)]


def upcast(ast: UOp, axis: int, k: int) -> UOp:
    r, _, repls = _split("UPCAST", "output", _ranges(ast)[0], axis, k)
    return ast.replace(src=tuple(s.substitute({r: repl}) for repl in repls for s in ast.src))


def unroll(ast: UOp, axis: int, k: int) -> UOp:
    r, new, repls = _split("UNROLL", "reduce", _ranges(ast)[1], axis, k)
    mapping: dict[UOp, UOp] = {}
    for u in ast.toposort():
        if u.op is Ops.REDUCE and r in u.src[1:]:
            terms = [u.src[0].substitute({r: repl}) for repl in repls]
            acc = terms[0]
            for t in terms[1:]:
                acc = UOp(u.arg, u.dtype, (acc, t))
            rest = tuple(x for x in u.src[1:] if x is not r) + ((new,) if new is not None else ())
            mapping[u] = UOp(Ops.REDUCE, u.dtype, (acc, *rest), u.arg) if rest else acc
    if not mapping:
        raise OptError("UNROLL: axis belongs to no reduce")
    return ast.substitute(mapping)


def thread(ast: UOp, axis: int, n: int) -> UOp:
    outer, _ = _ranges(ast)
    if not 0 <= axis < len(outer):
        raise OptError(f"THREAD: no output axis {axis}")
    if any(u.op is Ops.SPECIAL for u in ast.toposort()):
        raise OptError("THREAD: kernel is already split across threads")
    r = outer[axis]
    size = _size(r)
    if n <= 1 or size % n:
        raise OptError(f"THREAD: {n} threads do not divide axis size {size}")
    core = UOp(Ops.SPECIAL, dtypes.index, (UOp.const(dtypes.index, n),), "core_id")
    chunk = size // n
    inner = UOp(Ops.RANGE, dtypes.index, (UOp.const(dtypes.index, chunk),), r.arg) if chunk > 1 else None
    repl = core * chunk + inner if inner is not None else core
    return ast.substitute({r: repl})


def apply_opt(ast: UOp, opt: Opt) -> UOp:
    fn = {OptOps.UPCAST: upcast, OptOps.UNROLL: unroll, OptOps.THREAD: thread}[opt.op]
    return graph_rewrite(fn(ast, opt.axis, opt.arg), symbolic, name=f"apply {opt}")


def apply_opts(ast: UOp, opts: list[Opt]) -> UOp:
    for o in opts:
        ast = apply_opt(ast, o)
    return ast


def _loads(ast: UOp) -> list[UOp]:
    return [u for u in ast.toposort() if u.op is Ops.LOAD]


def _depends_on(u: UOp, r: UOp) -> bool:
    return r in u.toposort()


def hand_coded_optimizations(ast: UOp, threads: int = 1, upcast_limit: int = 32) -> list[Opt]:
    """Good actions without search: tile outputs that some input is broadcast along (each load feeds several
    outputs), unroll the reduce, and split the outermost axis across cores for kernels big enough to pay for it."""
    opts: list[Opt] = []
    cur = ast
    outer, red = _ranges(cur)
    loads = _loads(cur)

    def try_apply(o: Opt) -> bool:
        nonlocal cur
        try:
            cur = apply_opt(cur, o)
        except OptError:
            return False
        opts.append(o)
        return True

    total = 1
    for r in outer:
        total *= _size(r)
    red_total = 1
    for r in red:
        red_total *= _size(r)

    # threads first, on the outermost axis that splits evenly, so the per-thread work stays contiguous
    if threads > 1 and total * max(red_total, 1) >= 1 << 16:
        for i, r in enumerate(outer):
            if _size(r) % threads == 0 and _size(r) >= threads:
                try_apply(Opt(OptOps.THREAD, i, threads))
                break

    if red:
        # register tiling. First the innermost output axis: consecutive outputs read consecutive inputs, so the
        # C compiler can turn the copies into vector loads and FMAs. Then an axis some input is broadcast along
        # (weights across output pixels, activations across output channels): each load then feeds k outputs.
        outer, red = _ranges(cur)
        upcasted = 1
        if outer and any(_depends_on(ld, outer[-1]) for ld in _loads(cur)):
            for k in (4, 2):
                if _size(outer[-1]) % k == 0 and _size(outer[-1]) > 1:
                    if try_apply(Opt(OptOps.UPCAST, len(outer) - 1, k)):
                        upcasted *= k
                    break
        outer, red = _ranges(cur)
        loads = _loads(cur)
        best = None
        for i, r in enumerate(outer[:-1] if upcasted > 1 else outer):
            if any(not _depends_on(ld, r) for ld in loads) and any(_depends_on(ld, r) for ld in loads):
                for k in (8, 4, 2):
                    if _size(r) % k == 0 and upcasted * k <= upcast_limit:
                        if best is None or k > best[1]:
                            best = (i, k)
                        break
        if best is not None:
            try_apply(Opt(OptOps.UPCAST, best[0], best[1]))
        outer, red = _ranges(cur)
        if red:
            last = len(red) - 1
            size = _size(red[last])
            # short reduce loops (conv kernel rows) unroll completely; long ones by 4
            for k in ((size,) if size <= 8 else (4, 2)):
                if k > 1 and size % k == 0:
                    try_apply(Opt(OptOps.UNROLL, last, k))
                    break
    elif outer:
        # elementwise: a few outputs per iteration of the innermost (contiguous) axis
        last = len(outer) - 1
        for k in (4, 2):
            if _size(outer[last]) % k == 0 and _size(outer[last]) > k:
                try_apply(Opt(OptOps.UPCAST, last, k))
                break
    return opts
