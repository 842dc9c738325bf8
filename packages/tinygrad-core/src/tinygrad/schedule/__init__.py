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
from tinygrad.schedule.rangeify import KernelBuilder
from tinygrad.uop.ops import GroupOp, Ops, UOp

Deps = frozenset[tuple[int, int]]


class RealizedCache:
    """Realized tensor nodes -> the BUFFER uops holding their values.

    Graphs are hash-consed, so `t + 1` built twice is the same node, and a node realized once is found again.
    That is only right while the buffers it was computed from still hold what they held: each entry records
    (buffer id, version) of every buffer it read, and an assign bumps its target's version, so after
    `t.assign(...)` a new `t + 1` is computed again instead of reusing the old result. Weak, so an unreachable
    graph frees its memory."""

    def __init__(self) -> None:
        self.entries: weakref.WeakKeyDictionary[UOp, tuple[UOp, Deps]] = weakref.WeakKeyDictionary()
        self.versions: dict[int, int] = {}

    def version(self, buf: UOp) -> int:
        return self.versions.get(buf.arg[0], 0)

    def bump(self, buf: UOp) -> None:
        self.versions[buf.arg[0]] = self.version(buf) + 1

    def _valid(self, deps: Deps) -> bool:
        return all(self.versions.get(uid, 0) == v for uid, v in deps)

    def get(self, u: UOp) -> UOp | None:
        if (e := self.entries.get(u)) is None:
            return None
        # an assign runs once; afterwards its node just names the target's memory, whatever version it holds
        if u.op is not Ops.ASSIGN and not self._valid(e[1]):
            del self.entries[u]
            return None
        return e[0]

    def deps(self, u: UOp) -> Deps:
        if u.op is Ops.BUFFER:
            return frozenset([(u.arg[0], self.version(u))])
        e = self.entries.get(u)
        return e[1] if e is not None else frozenset()

    def __contains__(self, u: UOp) -> bool:
        return self.get(u) is not None

    def set(self, u: UOp, buf: UOp, deps: Deps) -> None:
        self.entries[u] = (buf, deps)


realized_cache = RealizedCache()
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
        # reshapes don't move data, and a CUSTOM_GRAD's value is its first source
        if u.op not in (Ops.RESHAPE, Ops.CUSTOM_GRAD):
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
        # a realized constant gets its full shape in memory: it is usually a parameter about to be assigned to
        if base.op is Ops.CONST and not is_realized(s):
            roots.add(s)
        elif not is_realized(base):
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
                # a CUSTOM_GRAD's value is its first source; the rest only feed its gradient
                stack.extend((s, exp) for s in (u.src[:1] if u.op is Ops.CUSTOM_GRAD else u.src))
    return sorted(roots, key=lambda r: order.get(r, -1))


class Becomes(dict):  # type: ignore[type-arg]
    """node -> BUFFER uop for what one schedule realizes, plus what each result was computed from."""

    def __init__(self) -> None:
        super().__init__()
        self.deps: dict[UOp, Deps] = {}

    def deps_of(self, source: UOp) -> Deps:
        return self.deps[source] if source in self.deps else realized_cache.deps(source)


def create_schedule(sinks: list[UOp]) -> tuple[list[ScheduleItem], Becomes]:
    """Schedule what is needed to realize `sinks`. Returns the items and a map node -> BUFFER uop.

    Pure: nothing is marked realized until the caller has run the items and calls `commit(becomes)`, so
    `Tensor.schedule()` can be used to inspect kernels without running them."""
    roots = find_roots(sinks)
    items: list[ScheduleItem] = []
    becomes = Becomes()
    for root in roots:
        # CONTIGUOUS of something already contiguous in memory is free
        if root.op is Ops.CONTIGUOUS and (b := realized_buffer(root.src[0], becomes)) is not None:
            becomes[root] = b
            becomes.deps[root] = becomes.deps_of(b)
            continue
        if root.op is Ops.ASSIGN:
            items.append(_assign_item(root, becomes))
            continue
        out = UOp.new_buffer(root.device, root.size, root.dtype)
        deps: Deps = frozenset()
        if root.op is Ops.COPY:
            src = realized_buffer(root.src[0], becomes)
            assert src is not None, "copy source was scheduled first"
            items.append(ScheduleItem(root, (buffer_of(out), buffer_of(src))))
            deps = becomes.deps_of(src)
        elif root.size:
            ast, sources = _lower_kernel(root, out, becomes)
            bufs = [out] + [_buffer_for(s, becomes) for s in sources[1:]]
            items.append(ScheduleItem(ast, tuple(buffer_of(b) for b in bufs)))
            deps = frozenset().union(*(becomes.deps_of(s) for s in sources[1:]))
        else:
            buffer_of(out)
        becomes[root] = out
        becomes.deps[root] = deps
    return _order_assigns(items), becomes


def _assign_item(root: UOp, becomes: Becomes) -> ScheduleItem:
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
        becomes.deps[value] = frozenset().union(*(becomes.deps_of(x) for x in kb2.sources[1:]))
        run_first = [pre]
        kb = KernelBuilder(realized=_RealizedView(root, becomes))
        ast = kb.assign_kernel(root)
    else:
        run_first = []
    target_buf = [b for b in kb.globals if kb.globals[b].arg == 0][0]
    becomes[root] = target_buf
    # readers of the assign's result in this schedule depend on the version the commit will create
    becomes.deps[root] = frozenset([(target_buf.arg[0], realized_cache.version(target_buf) + 1)])
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


# root -> (kernel AST, the nodes its buffers come from); lowering is the expensive part of dispatch, and the
# same graph lowers to the same kernel as long as the same nodes are realized
_kernel_cache: weakref.WeakKeyDictionary[UOp, tuple[UOp, list[UOp], frozenset[UOp]]] = weakref.WeakKeyDictionary()



def _buffer_for(source: UOp, becomes: dict[UOp, UOp]) -> UOp:
    if source.op is Ops.BUFFER:
        return source
    b = becomes.get(source) or realized_cache.get(source)
    assert b is not None, "a kernel input is realized before the kernel"

    return b


def _lower_kernel(root: UOp, out: UOp, becomes: Becomes) -> tuple[UOp, list[UOp]]:
    hit = _kernel_cache.get(root)
    # valid while every node the cached kernel loaded is still realized (they stay so) and no node it
    # recomputed has been realized since (then loading it is better, and for assigns, required)
    if hit is not None and all(s.op is Ops.BUFFER or s in becomes or s in realized_cache for s in hit[1][1:]):
        if not any(n in becomes or n in realized_cache for n in hit[2]):
            return hit[0], hit[1]
    kb = KernelBuilder(realized=_RealizedView(root, becomes))
    ast = kb.kernel(root.src[0] if root.op is Ops.CONTIGUOUS else root, out)
    inlined = frozenset(n for (n, _, _) in kb.memo if n is not root and n.op is not Ops.BUFFER) - set(kb.sources)
    _kernel_cache[root] = (ast, kb.sources, inlined)
    return ast, kb.sources


def commit(becomes: Becomes) -> None:
    """Record that the scheduled nodes now live in their buffers. An assign makes its target a new version,
    so results computed from the old contents stop matching new graphs."""
    for k, v in becomes.items():
        if k.op is Ops.ASSIGN:
            realized_cache.bump(v)
    for k, v in becomes.items():
        realized_cache.set(k, v, realized_cache.deps(v) if k.op is Ops.ASSIGN else becomes.deps.get(k, frozenset()))


class _RealizedView(dict):  # type: ignore[type-arg]
    """The realized map as seen from one kernel: everything realized so far except the kernel's own root."""

    def __init__(self, root: UOp, local: dict[UOp, UOp]) -> None:
        super().__init__()
        self.root, self.local = root, local

    def get(self, u: UOp, default: object = None) -> UOp | None:  # type: ignore[override]
        if u is self.root:
            return None
        return self.local.get(u) or realized_cache.get(u)
