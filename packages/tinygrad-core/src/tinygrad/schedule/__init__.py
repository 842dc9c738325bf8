"""Scheduling: the lazy tensor graph -> an ordered list of kernels and copies over buffers.

Fusion rules (each is a reason a node gets its own buffer; everything else is inlined into its consumer):
  1. what the user realizes, CONTIGUOUS, and both ends of a device COPY;
  2. a reduction read through an EXPAND (its consumer would recompute it once per broadcast element);
  3. a reduction read by two different kernels (computed once, loaded twice).
So an elementwise chain is one kernel; a reduction with elementwise inputs and same-shape elementwise
outputs is one kernel; matmul + bias + activation is one kernel.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from tinygrad.device import Buffer
from tinygrad.uop.ops import GroupOp, Ops, UOp
from tinygrad.schedule.rangeify import KernelBuilder

# realized tensor nodes -> BUFFER uops; weak so an unreachable graph frees its memory
realized_cache: weakref.WeakKeyDictionary[UOp, UOp] = weakref.WeakKeyDictionary()
# BUFFER uops -> the memory behind them
buffers: weakref.WeakKeyDictionary[UOp, Buffer] = weakref.WeakKeyDictionary()


def buffer_of(u: UOp) -> Buffer:
    if (b := buffers.get(u)) is None:
        b = buffers[u] = Buffer(u.device, u.arg[1], u.dtype)
    return b


@dataclass(frozen=True)
class ScheduleItem:
    """A kernel (ast is a SINK; bufs[0] is written) or a copy (ast is COPY; bufs = (dst, src))."""

    ast: UOp
    bufs: tuple[Buffer, ...]
    # items that must run right before this one (an assign's value computed into a temporary)
    before: tuple[ScheduleItem, ...] = ()

    @property
    def is_kernel(self) -> bool:
        return self.ast.op is Ops.SINK


def is_realized(u: UOp) -> bool:
    return u.op is Ops.BUFFER or u in realized_cache


def realized_buffer(u: UOp, local: dict[UOp, UOp] | None = None) -> UOp | None:
    """The BUFFER holding u's value, if u (seen through RESHAPEs, which don't move data) is in memory."""
    while True:
        if u.op is Ops.BUFFER:
            return u
        if (b := realized_cache.get(u)) is not None or (local is not None and (b := local.get(u)) is not None):
            return b
        if u.op is not Ops.RESHAPE:
            return None
        u = u.src[0]


def strip_movement(u: UOp) -> UOp:
    while u.op in GroupOp.Movement:
        u = u.src[0]
    return u


def _really_expands(u: UOp) -> bool:
    return any(s == 1 and n != 1 for s, n in zip(u.src[0].shape, u.shape))


def find_roots(sinks: list[UOp]) -> list[UOp]:
    """The nodes that get their own buffer, in an order where producers come before consumers."""
    graph = UOp(Ops.SINK, src=tuple(sinks)).toposort(gate=lambda n: not is_realized(n))
    order = {u: i for i, u in enumerate(graph)}
    roots: set[UOp] = set()
    for s in sinks:
        base = strip_movement(s)
        if not is_realized(base):
            roots.add(base)
    for u in order:
        if is_realized(u):
            continue
        if u.op in (Ops.CONTIGUOUS, Ops.ASSIGN):
            roots.add(u)
        elif u.op is Ops.COPY:
            roots.add(u)
            if realized_buffer(u.src[0]) is None:
                roots.add(u.src[0])
    # rules 2 and 3 depend on which nodes are roots, so iterate to a fixed point
    changed = True
    while changed:
        changed = False
        reached_by: dict[UOp, UOp] = {}
        for root in list(roots):
            stack: list[tuple[UOp, bool]] = [(s, False) for s in root.src] if root.op is not Ops.COPY else []
            seen: set[tuple[UOp, bool]] = set()
            while stack:
                u, expanded = stack.pop()
                if (u, expanded) in seen or is_realized(u) or u in roots:
                    continue
                seen.add((u, expanded))
                if u.op is Ops.REDUCE_AXIS:
                    if expanded or reached_by.setdefault(u, root) is not root:
                        roots.add(u)
                        changed = True
                        continue
                exp = expanded or (u.op is Ops.EXPAND and _really_expands(u))
                stack.extend((s, exp) for s in u.src)
    return sorted(roots, key=lambda r: order.get(r, -1))


def create_schedule(sinks: list[UOp]) -> tuple[list[ScheduleItem], dict[UOp, UOp]]:
    """Schedule what is needed to realize `sinks`. Returns the items and a map node -> BUFFER uop.

    Pure: nothing is marked realized until the caller has run the items and calls `commit(becomes)`, so
    `Tensor.schedule()` can be used to inspect kernels without running them."""
    roots = find_roots(sinks)
    items: list[ScheduleItem] = []
    becomes: dict[UOp, UOp] = {}
    for root in roots:
        # CONTIGUOUS of something already contiguous in memory is free
        if root.op is Ops.CONTIGUOUS and (b := realized_buffer(root.src[0], becomes)) is not None:
            becomes[root] = b
            continue
        if root.op is Ops.ASSIGN:
            items.append(_assign_item(root, becomes))
            continue
        out = UOp.new_buffer(root.device, root.size, root.dtype)
        if root.op is Ops.COPY:
            src = realized_buffer(root.src[0], becomes)
            assert src is not None, "copy source was scheduled first"
            items.append(ScheduleItem(root, (buffer_of(out), buffer_of(src))))
        elif root.size:
            kb = KernelBuilder(realized=_RealizedView(root, becomes))
            ast = kb.kernel(root.src[0] if root.op is Ops.CONTIGUOUS else root, out)
            items.append(ScheduleItem(ast, tuple(buffer_of(b) for b in kb.globals)))
        else:
            buffer_of(out)
        becomes[root] = out
    return _order_assigns(items), becomes


def _assign_item(root: UOp, becomes: dict[UOp, UOp]) -> ScheduleItem:
    kb = KernelBuilder(realized=_RealizedView(root, becomes))
    ast = kb.assign_kernel(root)
    store = ast.src[0]
    g, lin = store.src[0].src[0], store.src[0].src[1]
    # reading the target anywhere but the element being written would see partly updated data: compute the
    # value into its own buffer first
    if any(u.op is Ops.INDEX and u.src[0] is g and u.src[1] is not lin for u in store.src[1].toposort()):
        value = root.src[1]
        tmp = UOp.new_buffer(value.device, value.size, value.dtype)
        kb2 = KernelBuilder(realized=_RealizedView(value, becomes))
        pre = ScheduleItem(kb2.kernel(value, tmp), tuple(buffer_of(b) for b in kb2.globals))
        becomes[value] = tmp
        run_first = [pre]
        kb = KernelBuilder(realized=_RealizedView(root, becomes))
        ast = kb.assign_kernel(root)
    else:
        run_first = []
    target_buf = [b for b in kb.globals if kb.globals[b].arg == 0][0]
    becomes[root] = target_buf
    item = ScheduleItem(ast, tuple(buffer_of(b) for b in kb.globals), tuple(run_first))
    return item


def _order_assigns(items: list[ScheduleItem]) -> list[ScheduleItem]:
    """Expand an assign's prerequisite items in place, and run kernels that read a buffer's old contents before
    the assign that overwrites it."""
    flat: list[ScheduleItem] = []
    for si in items:
        flat.extend(si.before)
        flat.append(si)
    return flat


def commit(becomes: dict[UOp, UOp]) -> None:
    """Record that the scheduled nodes now live in their buffers."""
    for k, v in becomes.items():
        realized_cache[k] = v


class _RealizedView(dict):  # type: ignore[type-arg]
    """The realized map as seen from one kernel: everything realized so far except the kernel's own root."""

    def __init__(self, root: UOp, local: dict[UOp, UOp]) -> None:
        super().__init__()
        self.root, self.local = root, local

    def get(self, u: UOp, default: object = None) -> UOp | None:  # type: ignore[override]
        if u is self.root:
            return None
        return self.local.get(u) or realized_cache.get(u)
