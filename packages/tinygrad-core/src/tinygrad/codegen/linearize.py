"""Kernel AST (a SINK of STOREs whose values may contain REDUCEs over RANGEs) -> a linear list of UOps.

The list is block structured: RANGE opens a loop and END closes it; a REDUCE becomes DEFINE_ACC before its
loops, ACC_STORE inside, and reads of the accumulator after. Every value is placed in the outermost scope
whose loop variables it depends on, so values a loop does not change are computed before it.
"""

from __future__ import annotations

from tinygrad.dtype import dtypes
from tinygrad.uop.ops import Ops, UOp, unique_id


def reduce_identity(op: Ops, dtype: object) -> UOp:
    if op is Ops.ADD:
        return UOp.const(dtype, 0)  # type: ignore[arg-type]
    if op is Ops.MUL:
        return UOp.const(dtype, 1)  # type: ignore[arg-type]
    if op is Ops.MAX:
        return UOp.const(dtype, dtypes.min(dtype))  # type: ignore[arg-type]
    raise ValueError(f"no identity for reduce op {op}")


def _range_deps(sink: UOp) -> dict[UOp, frozenset[UOp]]:
    """For each node, the RANGE/SPECIAL nodes its value varies with (a REDUCE hides its own ranges)."""
    deps: dict[UOp, frozenset[UOp]] = {}
    for u in sink.toposort():
        if u.op in (Ops.RANGE, Ops.SPECIAL):
            deps[u] = frozenset([u])
        elif u.op is Ops.REDUCE:
            deps[u] = frozenset().union(*(deps[s] for s in u.src)) - frozenset(u.src[1:])
        else:
            deps[u] = frozenset().union(*(deps[s] for s in u.src))
    return deps


def linearize(sink: UOp) -> list[UOp]:
    """Order the kernel into executable form. Outer RANGEs (not owned by a REDUCE) open first, in axis order."""
    deps = _range_deps(sink)
    nodes = sink.toposort()
    reduce_ranges = {r for u in nodes if u.op is Ops.REDUCE for r in u.src[1:]}
    outer = sorted((u for u in nodes if u.op is Ops.RANGE and u not in reduce_ranges), key=lambda r: r.arg)
    specials = [u for u in nodes if u.op is Ops.SPECIAL]

    out: list[UOp] = []
    value: dict[UOp, UOp] = {}  # AST node -> linear node holding its value (a REDUCE maps to its accumulator)
    open_ranges: set[UOp] = set()

    for u in nodes:
        if u.op is Ops.DEFINE_GLOBAL:
            value[u] = u
    out.extend(sorted((u for u in nodes if u.op is Ops.DEFINE_GLOBAL), key=lambda u: u.arg))
    def emit(u: UOp) -> UOp:
        """Emit u (and what it needs) at the current scope, return its value node."""
        if (v := value.get(u)) is not None:
            return v
        if u.op is Ops.REDUCE:
            v = emit_reduce(u)
        else:
            v = u.replace(src=tuple(emit(s) for s in u.src))
            out.append(v)
        value[u] = v
        return v

    all_reduces = [n for n in nodes if n.op is Ops.REDUCE]

    def emit_reduce(u: UOp) -> UOp:
        ranges = u.src[1:]
        # reduces over the very same loops (e.g. the k copies an UPCAST makes) share one loop nest, each with
        # its own accumulator: that is what makes register tiling work
        group = [v for v in all_reduces if v.src[1:] == ranges and v not in value and deps[v] <= open_ranges]
        if u not in group:
            group.insert(0, u)
        for red in group:
            # hoist what the loop does not change (looking into nested reduces too), so it is computed once and
            # is visible after the loop
            for n in red.src[0].toposort():
                if n not in value and n.op not in (Ops.RANGE, Ops.REDUCE) and deps[n] <= open_ranges:
                    emit(n)
        depth = len(out)
        accs = []
        for red in group:
            acc = UOp(Ops.DEFINE_ACC, red.dtype, (emit(reduce_identity(red.arg, red.dtype)),), unique_id())
            out.append(acc)
            accs.append(acc)
        for r in ranges:
            emit(r.src[0])
            out.append(r)
            value[r] = r
            open_ranges.add(r)
        for red, acc in zip(group, accs):
            v = emit(red.src[0])
            # the combine step is an ordinary ALU node, so renderers and the emulator need no special code
            combined = UOp(red.arg, red.dtype, (acc, v))
            out.append(combined)
            out.append(UOp(Ops.ACC_STORE, dtypes.void, (acc, combined)))
        for r in reversed(ranges):
            out.append(UOp(Ops.END, dtypes.void, (r,)))
            open_ranges.discard(r)
        # forget values computed inside the loop: they are out of scope now (whatever their dependencies)
        inner_vals = {id(v) for v in out[depth:]}
        for k in [k for k, v in value.items() if id(v) in inner_vals and k.op not in (Ops.DEFINE_GLOBAL,)]:
            del value[k]
        for red, acc in zip(group, accs):
            value[red] = acc
        return value[u]

    for r in specials + outer:
        emit(r.src[0])
        out.append(r)
        value[r] = r
        open_ranges.add(r)
    for s in sink.src:
        emit(s)
    for r in reversed(outer):
        out.append(UOp(Ops.END, dtypes.void, (r,)))
    return out
