"""Pattern matching over UOps: `UPat` describes a subgraph, `PatternMatcher` maps patterns to rewrites, and
`graph_rewrite` applies a matcher bottom-up until nothing changes."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tinygrad.dtype import DType
from tinygrad.uop.ops import Ops, UOp


class UPat:
    """Matches a UOp by op (one or a set), dtype, arg and sources; `name` binds the match for the rewrite fn."""

    __slots__ = ("ops", "dtypes", "src", "arg", "name", "any_src")

    def __init__(
        self,
        op: Ops | set[Ops] | tuple[Ops, ...] | None = None,
        dtype: DType | set[DType] | tuple[DType, ...] | None = None,
        src: tuple[UPat, ...] | UPat | None = None,
        arg: Any = None,
        name: str | None = None,
    ) -> None:
        self.ops = None if op is None else (frozenset([op]) if isinstance(op, Ops) else frozenset(op))
        self.dtypes = None if dtype is None else (frozenset([dtype]) if isinstance(dtype, DType) else frozenset(dtype))
        # a single UPat as src matches every source against it (any arity)
        self.any_src = isinstance(src, UPat)
        self.src: tuple[UPat, ...] | None = (src,) if isinstance(src, UPat) else src
        self.arg, self.name = arg, name

    @staticmethod
    def var(name: str | None = None, dtype: DType | set[DType] | None = None) -> UPat:
        return UPat(dtype=dtype, name=name)

    @staticmethod
    def cvar(name: str | None = None, dtype: DType | set[DType] | None = None) -> UPat:
        return UPat(Ops.CONST, dtype, src=(), name=name)

    @staticmethod
    def const(dtype: DType | set[DType] | None, value: Any) -> UPat:
        return UPat(Ops.CONST, dtype, src=(), arg=value)

    def match(self, u: UOp, store: dict[str, UOp]) -> bool:
        if self.ops is not None and u.op not in self.ops:
            return False
        if self.dtypes is not None and u.dtype not in self.dtypes:
            return False
        if self.arg is not None and not (u.arg == self.arg and type(u.arg) is type(self.arg)):
            return False
        if self.name is not None:
            if (prev := store.get(self.name)) is not None and prev is not u:
                return False
            store[self.name] = u
        if self.src is None:
            return True
        if self.any_src:
            return all(self.src[0].match(s, store) for s in u.src)
        if len(self.src) != len(u.src):
            return False
        return all(p.match(s, store) for p, s in zip(self.src, u.src))

    # pattern-building sugar so rules read like the algebra they implement
    def _b(self, op: Ops, x: UPat | int | float) -> UPat:
        other = x if isinstance(x, UPat) else UPat(Ops.CONST, arg=x)
        return UPat(op, src=(self, other))

    def __add__(self, x: UPat | int | float) -> UPat:
        return self._b(Ops.ADD, x)

    def __mul__(self, x: UPat | int | float) -> UPat:
        return self._b(Ops.MUL, x)

    def __floordiv__(self, x: UPat | int | float) -> UPat:
        return self._b(Ops.IDIV, x)

    def __mod__(self, x: UPat | int | float) -> UPat:
        return self._b(Ops.MOD, x)

    def __lt__(self, x: UPat | int | float) -> UPat:
        return self._b(Ops.CMPLT, x)


RewriteFn = Callable[..., UOp | None]


class PatternMatcher:
    """An ordered list of (pattern, fn) rules; the first rule whose pattern matches and whose fn returns a UOp
    wins. fn receives the named matches as keyword arguments."""

    def __init__(self, rules: list[tuple[UPat, RewriteFn]]) -> None:
        self.rules = rules
        self.by_op: dict[Ops | None, list[tuple[UPat, RewriteFn]]] = {}
        for pat, fn in rules:
            for op in pat.ops if pat.ops is not None else [None]:
                self.by_op.setdefault(op, []).append((pat, fn))
        self.wildcard = self.by_op.get(None, [])

    def __add__(self, other: PatternMatcher) -> PatternMatcher:
        return PatternMatcher(self.rules + other.rules)

    def rewrite(self, u: UOp, ctx: Any = None) -> UOp | None:
        for pat, fn in self.by_op.get(u.op, []) + self.wildcard:
            store: dict[str, UOp] = {}
            if pat.match(u, store):
                kwargs = {k: v for k, v in store.items()}
                ret = fn(ctx, **kwargs) if _wants_ctx(fn) else fn(**kwargs)
                if ret is not None and ret is not u:
                    return ret
        return None


def _wants_ctx(fn: RewriteFn) -> bool:
    if (r := getattr(fn, "_wants_ctx", None)) is None:
        code = getattr(fn, "__code__", None)
        r = code is not None and code.co_argcount > 0 and code.co_varnames[0] == "ctx"
        try:
            fn._wants_ctx = r  # type: ignore[attr-defined]
        except AttributeError:
            pass
    return r


@dataclass
class RewriteTrace:
    """One named graph_rewrite call, kept when tracing is on (for viewers and debugging)."""

    name: str
    before: UOp
    after: UOp | None = None
    fired: list[tuple[UOp, UOp]] = field(default_factory=list)


TRACE: list[RewriteTrace] | None = None


def graph_rewrite(sink: UOp, pm: PatternMatcher, ctx: Any = None, name: str = "rewrite") -> UOp:
    """Rewrite bottom-up to a fixed point: sources first, then the node, then whatever the rule produced."""
    trace = RewriteTrace(name, sink) if TRACE is not None else None
    memo: dict[UOp, UOp] = {}

    def rw(u: UOp) -> UOp:
        if (r := memo.get(u)) is not None:
            return r
        new_src = tuple(rw(s) for s in u.src)
        n = u if new_src == u.src else u.replace(src=new_src)
        out = n
        if (r2 := pm.rewrite(n, ctx)) is not None:
            if trace is not None:
                trace.fired.append((n, r2))
            out = rw(r2)
        memo[u] = memo[n] = out
        return out

    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 20000))
    try:
        ret = rw(sink)
    finally:
        sys.setrecursionlimit(old)
    if trace is not None and TRACE is not None:
        trace.after = ret
        TRACE.append(trace)
    return ret
