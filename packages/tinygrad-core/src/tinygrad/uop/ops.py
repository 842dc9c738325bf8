"""The IR: the `Ops` enum (read it top to bottom to learn the compiler) and the hash-consed `UOp`."""

from __future__ import annotations

import functools
import math
import struct
import weakref
from collections.abc import Callable, Iterator
from enum import Enum, auto
from typing import Any

from tinygrad.dtype import ConstType, DType, PtrDType, dtypes, truncate_const
from tinygrad.helpers import prod


class Ops(Enum):
    # tensor graph, sources: the device a tensor lives on, realized memory, constants, the index of an axis
    DEVICE = auto()
    BUFFER = auto()
    CONST = auto()
    IOTA = auto()
    # tensor graph, movement: never copies, each becomes index arithmetic when a kernel is lowered
    RESHAPE = auto()
    PERMUTE = auto()
    EXPAND = auto()
    PAD = auto()
    SHRINK = auto()
    FLIP = auto()
    # tensor graph, boundaries: force a realized buffer, move between devices, write into an existing buffer
    CONTIGUOUS = auto()
    COPY = auto()
    ASSIGN = auto()
    # tensor graph, autograd: value of src[0], gradient given by arg(grad, out, *src[1:]) for src[1:]
    CUSTOM_GRAD = auto()
    # reductions: REDUCE_AXIS over tensor axes; REDUCE (kernel) over explicit RANGEs
    REDUCE_AXIS = auto()
    REDUCE = auto()
    # elementwise, unary
    EXP2 = auto()
    LOG2 = auto()
    SIN = auto()
    SQRT = auto()
    RECIP = auto()
    NEG = auto()
    TRUNC = auto()
    # elementwise, binary (IDIV and MOD truncate toward zero, as C does)
    ADD = auto()
    SUB = auto()
    MUL = auto()
    FDIV = auto()
    IDIV = auto()
    MOD = auto()
    MAX = auto()
    POW = auto()
    CMPLT = auto()
    CMPNE = auto()
    CMPEQ = auto()
    AND = auto()
    OR = auto()
    XOR = auto()
    SHL = auto()
    SHR = auto()
    # elementwise, ternary
    WHERE = auto()
    MULACC = auto()
    # elementwise, type changes
    CAST = auto()
    BITCAST = auto()
    # kernel: parameters, loops and the thread grid
    DEFINE_GLOBAL = auto()
    DEFINE_ACC = auto()
    RANGE = auto()
    SPECIAL = auto()
    # kernel: memory access (INDEX = pointer arithmetic with an optional validity gate)
    INDEX = auto()
    LOAD = auto()
    STORE = auto()
    # kernel: structure (SINK groups a kernel's stores; END closes a RANGE; ACC_STORE updates an accumulator)
    ACC_STORE = auto()
    END = auto()
    SINK = auto()
    NOOP = auto()


class GroupOp:
    Unary = {Ops.EXP2, Ops.LOG2, Ops.SIN, Ops.SQRT, Ops.RECIP, Ops.NEG, Ops.TRUNC}
    Binary = {
        Ops.ADD, Ops.SUB, Ops.MUL, Ops.FDIV, Ops.IDIV, Ops.MOD, Ops.MAX, Ops.POW, Ops.CMPLT, Ops.CMPNE, Ops.CMPEQ,
        Ops.AND, Ops.OR, Ops.XOR, Ops.SHL, Ops.SHR,
    }  # fmt: skip
    Ternary = {Ops.WHERE, Ops.MULACC}
    ALU = Unary | Binary | Ternary
    Elementwise = ALU | {Ops.CAST, Ops.BITCAST}
    Movement = {Ops.RESHAPE, Ops.PERMUTE, Ops.EXPAND, Ops.PAD, Ops.SHRINK, Ops.FLIP}
    Comparison = {Ops.CMPLT, Ops.CMPNE, Ops.CMPEQ}
    Commutative = {Ops.ADD, Ops.MUL, Ops.MAX, Ops.CMPNE, Ops.CMPEQ, Ops.AND, Ops.OR, Ops.XOR}
    Associative = {Ops.ADD, Ops.MUL, Ops.AND, Ops.OR, Ops.MAX}
    # the ops a REDUCE may accumulate with
    Reduce = {Ops.ADD, Ops.MUL, Ops.MAX}


def _argkey(arg: Any) -> Any:
    # 0 == 0.0 == False and -0.0 == 0.0 in Python, but they are different constants; NaN != NaN would defeat
    # the cache. Key floats by their bits and everything else by (type, value).
    if isinstance(arg, float):
        return ("f", struct.pack("<d", arg))
    if isinstance(arg, tuple):
        return tuple(_argkey(a) for a in arg)
    return (type(arg), arg)


_ucache: weakref.WeakValueDictionary[Any, UOp] = weakref.WeakValueDictionary()
_unique_counter = [0]


def unique_id() -> int:
    _unique_counter[0] += 1
    return _unique_counter[0]


class UOp:
    """One node of the IR: (op, dtype, src, arg). Hash-consed: building an equal node returns the same object,
    so structural equality is identity and graphs share common subexpressions for free."""

    __slots__ = ("op", "dtype", "src", "arg", "__weakref__", "_memo")
    op: Ops
    dtype: DType
    src: tuple[UOp, ...]
    arg: Any

    def __new__(cls, op: Ops, dtype: DType = dtypes.void, src: tuple[UOp, ...] = (), arg: Any = None) -> UOp:
        key = (op, dtype, src, _argkey(arg))
        if (ret := _ucache.get(key)) is not None:
            return ret
        ret = super().__new__(cls)
        ret.op, ret.dtype, ret.src, ret.arg, ret._memo = op, dtype, src, arg, {}
        _ucache[key] = ret
        return ret

    def __reduce__(self) -> tuple[Any, ...]:
        return UOp, (self.op, self.dtype, self.src, self.arg)

    def replace(self, **kwargs: Any) -> UOp:
        d = {"op": self.op, "dtype": self.dtype, "src": self.src, "arg": self.arg} | kwargs
        return UOp(d["op"], d["dtype"], d["src"], d["arg"])

    def __repr__(self) -> str:
        return pretty(self)

    # ---- graph traversal ----

    def toposort(self, gate: Callable[[UOp], bool] | None = None) -> list[UOp]:
        """Every node reachable from self, sources before users (iterative: graphs can be deep)."""
        out: dict[UOp, None] = {}
        stack: list[tuple[UOp, bool]] = [(self, False)]
        while stack:
            node, visited = stack.pop()
            if node in out:
                continue
            if visited:
                out[node] = None
                continue
            stack.append((node, True))
            if gate is None or gate(node):
                for s in reversed(node.src):
                    if s not in out:
                        stack.append((s, False))
        return list(out)

    def substitute(self, mapping: dict[UOp, UOp]) -> UOp:
        memo: dict[UOp, UOp] = {}
        for u in self.toposort():
            if u in mapping:
                memo[u] = mapping[u]
            else:
                new_src = tuple(memo[s] for s in u.src)
                memo[u] = u if new_src == u.src else u.replace(src=new_src)
        return memo[self]

    # ---- tensor-graph properties ----

    @property
    def shape(self) -> tuple[int, ...]:
        if (r := self._memo.get("shape")) is None:
            r = self._memo["shape"] = _compute_shape(self)
        return r

    @property
    def size(self) -> int:
        return prod(self.shape)

    @property
    def device(self) -> str:
        if (r := self._memo.get("device")) is None:
            r = self._memo["device"] = _compute_device(self)
        return r

    @property
    def base(self) -> UOp:
        """The node under any movement ops."""
        return self.src[0].base if self.op in GroupOp.Movement else self

    # ---- constructors ----

    @staticmethod
    def const(dtype: DType, value: ConstType) -> UOp:
        """A kernel-level scalar constant."""
        if type(value) is int and dtypes.is_int(dtype) and dtypes.min(dtype) <= value <= dtypes.max(dtype):
            return UOp(Ops.CONST, dtype, (), value)  # the common case (index math) needs no conversion
        return UOp(Ops.CONST, dtype, (), truncate_const(value, dtype))

    @staticmethod
    def tensor_const(value: ConstType, dtype: DType, device: str) -> UOp:
        """A 0-d tensor-graph constant on a device."""
        return UOp(Ops.CONST, dtype, (UOp(Ops.DEVICE, arg=device),), truncate_const(value, dtype))

    @staticmethod
    def new_buffer(device: str, size: int, dtype: DType) -> UOp:
        return UOp(Ops.BUFFER, dtype, (UOp(Ops.DEVICE, arg=device),), (unique_id(), size))

    def alu(self, op: Ops, *src: UOp) -> UOp:
        out_dtype = dtypes.bool if op in GroupOp.Comparison else self.dtype
        return UOp(op, out_dtype, (self, *src))

    def cast(self, dtype: DType) -> UOp:
        return self if self.dtype == dtype else UOp(Ops.CAST, dtype, (self,))

    def bitcast(self, dtype: DType) -> UOp:
        return UOp(Ops.BITCAST, dtype, (self,))

    def _mv(self, op: Ops, arg: Any) -> UOp:
        return UOp(op, self.dtype, (self,), arg)

    def reshape(self, shape: tuple[int, ...]) -> UOp:
        return self if shape == self.shape else self._mv(Ops.RESHAPE, shape)

    def permute(self, order: tuple[int, ...]) -> UOp:
        return self if order == tuple(range(len(order))) else self._mv(Ops.PERMUTE, order)

    def expand(self, shape: tuple[int, ...]) -> UOp:
        return self if shape == self.shape else self._mv(Ops.EXPAND, shape)

    def pad(self, arg: tuple[tuple[int, int], ...]) -> UOp:
        return self if all(p == (0, 0) for p in arg) else self._mv(Ops.PAD, arg)

    def shrink(self, arg: tuple[tuple[int, int], ...]) -> UOp:
        return self if arg == tuple((0, s) for s in self.shape) else self._mv(Ops.SHRINK, arg)

    def flip(self, arg: tuple[bool, ...]) -> UOp:
        return self if not any(arg) else self._mv(Ops.FLIP, arg)

    def reduce_axis(self, op: Ops, axes: tuple[int, ...]) -> UOp:
        return self if not axes else UOp(Ops.REDUCE_AXIS, self.dtype, (self,), (op, tuple(sorted(axes))))

    # ---- index arithmetic (kernel level); == is identity, so equality comparisons use .eq() ----

    def _c(self, x: UOp | ConstType) -> UOp:
        return x if isinstance(x, UOp) else UOp.const(self.dtype, x)

    def __add__(self, x: UOp | ConstType) -> UOp:
        return self.alu(Ops.ADD, self._c(x))

    def __radd__(self, x: UOp | ConstType) -> UOp:
        return self._c(x).alu(Ops.ADD, self)

    def __sub__(self, x: UOp | ConstType) -> UOp:
        return self.alu(Ops.ADD, self._c(x).alu(Ops.NEG)) if isinstance(x, UOp) else self + (-x)

    def __rsub__(self, x: UOp | ConstType) -> UOp:
        return self._c(x) + self * -1 if dtypes.is_int(self.dtype) else self._c(x).alu(Ops.SUB, self)

    def __mul__(self, x: UOp | ConstType) -> UOp:
        return self.alu(Ops.MUL, self._c(x))

    def __rmul__(self, x: UOp | ConstType) -> UOp:
        return self._c(x).alu(Ops.MUL, self)

    def __floordiv__(self, x: UOp | ConstType) -> UOp:
        return self.alu(Ops.IDIV, self._c(x))

    def __mod__(self, x: UOp | ConstType) -> UOp:
        return self.alu(Ops.MOD, self._c(x))

    def __neg__(self) -> UOp:
        return self.alu(Ops.NEG)

    def __lt__(self, x: UOp | ConstType) -> UOp:
        return self.alu(Ops.CMPLT, self._c(x))

    def __ge__(self, x: UOp | ConstType) -> UOp:
        return (self < x).alu(Ops.CMPNE, UOp.const(dtypes.bool, True))

    def __and__(self, x: UOp | ConstType) -> UOp:
        return self.alu(Ops.AND, self._c(x))

    def __or__(self, x: UOp | ConstType) -> UOp:
        return self.alu(Ops.OR, self._c(x))

    def ne(self, x: UOp | ConstType) -> UOp:
        return self.alu(Ops.CMPNE, self._c(x))

    def eq(self, x: UOp | ConstType) -> UOp:
        return self.alu(Ops.CMPEQ, self._c(x))

    def where(self, a: UOp, b: UOp) -> UOp:
        return UOp(Ops.WHERE, a.dtype, (self, a, b))

    def maximum(self, x: UOp | ConstType) -> UOp:
        return self.alu(Ops.MAX, self._c(x))

    # ---- range analysis for index math ----

    @property
    def vmin(self) -> ConstType:
        return self._bounds[0]

    @property
    def vmax(self) -> ConstType:
        return self._bounds[1]

    @property
    def _bounds(self) -> tuple[ConstType, ConstType]:
        if (r := self._memo.get("bounds")) is None:
            r = self._memo["bounds"] = _compute_bounds(self)
        return r


def _compute_shape(u: UOp) -> tuple[int, ...]:
    op = u.op
    if op is Ops.BUFFER:
        return (u.arg[1],)
    if op is Ops.CONST:
        return ()
    if op is Ops.IOTA:
        return (u.arg,)
    if op in (Ops.RESHAPE, Ops.EXPAND):
        return tuple(u.arg)
    if op is Ops.PERMUTE:
        s = u.src[0].shape
        return tuple(s[i] for i in u.arg)
    if op is Ops.PAD:
        return tuple(s + b + a for s, (b, a) in zip(u.src[0].shape, u.arg))
    if op is Ops.SHRINK:
        return tuple(e - b for b, e in u.arg)
    if op is Ops.REDUCE_AXIS:
        return tuple(1 if i in u.arg[1] else s for i, s in enumerate(u.src[0].shape))
    if op is Ops.WHERE:
        return u.src[1].shape
    if u.src:
        return u.src[0].shape
    raise RuntimeError(f"{op} has no shape")


def _compute_device(u: UOp) -> str:
    if u.op is Ops.DEVICE:
        return u.arg
    if u.op is Ops.COPY:
        return u.arg
    for s in u.src:
        return s.device
    raise RuntimeError(f"{u.op} has no device")


def _compute_bounds(u: UOp) -> tuple[ConstType, ConstType]:
    """Conservative [min, max] of an integer/bool expression, given RANGE/SPECIAL bounds."""
    if u.op is Ops.CONST:
        return u.arg, u.arg
    if u.op in (Ops.RANGE, Ops.SPECIAL):
        return 0, u.src[0].vmax - 1
    dmin, dmax = dtypes.min(u.dtype), dtypes.max(u.dtype)
    if not u.src:
        return dmin, dmax
    s0 = u.src[0]
    if u.op is Ops.NEG:
        if u.dtype == dtypes.bool:  # logical not
            return not s0.vmax, not s0.vmin
        return -s0.vmax, -s0.vmin
    if len(u.src) >= 2:
        s1 = u.src[1]
        a, b, c, d = s0.vmin, s0.vmax, s1.vmin, s1.vmax
        if u.op is Ops.ADD:
            return a + c, b + d
        if u.op is Ops.MUL:
            vals = [a * c, a * d, b * c, b * d]
            if any(isinstance(v, float) and math.isnan(v) for v in vals):
                return dmin, dmax
            return min(vals), max(vals)
        if u.op is Ops.IDIV and isinstance(c, int) and c == d and c > 0 and a >= 0:
            return a // c, b // c
        if u.op is Ops.MOD and isinstance(c, int) and c > 0 and a >= 0:
            # a varying divisor bounds the result by its largest value
            return 0, min(b, d - 1)
        if u.op is Ops.MAX:
            return max(a, c), max(b, d)
        if u.op is Ops.CMPLT:
            return bool(b < c), bool(a < d)
        if u.op is Ops.AND and u.dtype == dtypes.bool:
            return bool(a and c), bool(b and d)
        if u.op is Ops.WHERE:
            e, f = u.src[2].vmin, u.src[2].vmax
            if a == b:
                return (c, d) if a else (e, f)
            return min(c, e), max(d, f)
    if u.op is Ops.CAST and dtypes.is_int(u.dtype) and dtypes.is_int(s0.dtype):
        if dmin <= s0.vmin and s0.vmax <= dmax:
            return s0.vmin, s0.vmax
    return dmin, dmax


# ---- printing ----


def pretty(u: UOp, depth: int = 0) -> str:
    if depth > 8:
        return "..."
    srcs = ", ".join(pretty(s, depth + 1) for s in u.src)
    arg = "" if u.arg is None else f", arg={u.arg!r}"
    return f"UOp({u.op.name}, {u.dtype!r}{arg}{', src=(' + srcs + ')' if u.src else ''})"


def print_uops(uops: list[UOp]) -> None:
    idx = {u: i for i, u in enumerate(uops)}
    for i, u in enumerate(uops):
        srcs = [idx.get(s, "--") for s in u.src]
        print(f"{i:4d} {u.op.name:14s} {u.dtype!r:30s} {srcs!s:20s} {u.arg!r}")


def walk(u: UOp) -> Iterator[UOp]:
    yield from u.toposort()


@functools.cache
def ptr(dt: DType) -> PtrDType:
    return dt.ptr()
