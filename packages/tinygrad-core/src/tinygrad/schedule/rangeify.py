"""Index lowering: a tensor-graph node evaluated at index expressions becomes kernel UOps.

There are no views and no copies for movement ops. Starting from the output's RANGEs, each movement op maps
the indices its consumer asks for to the indices of its source (reshape flattens and unflattens, permute
reorders, expand reads index 0, pad subtracts and adds a validity condition, shrink adds, flip mirrors),
and a reduction opens fresh RANGEs for its reduced axes. Realized inputs become gated LOADs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tinygrad.dtype import dtypes
from tinygrad.helpers import prod
from tinygrad.uop.ops import GroupOp, Ops, UOp
from tinygrad.uop.symbolic import simplify

TRUE = UOp.const(dtypes.bool, True)


def strides_for(shape: tuple[int, ...]) -> tuple[int, ...]:
    out, acc = [], 1
    for s in reversed(shape):
        out.append(acc if s != 1 else 0)
        acc *= s
    return tuple(reversed(out))


def linear_index(idx: tuple[UOp, ...], shape: tuple[int, ...]) -> UOp:
    ret = UOp.const(dtypes.index, 0)
    for i, st in zip(idx, strides_for(shape)):
        if st != 0:
            ret = ret + i * st
    return ret


def _reshape_index(idx: tuple[UOp, ...], new_shape: tuple[int, ...], old_shape: tuple[int, ...]) -> tuple[UOp, ...]:
    # only 1-dims added or removed: map the non-1 axes straight through, no div/mod
    nz_new = [i for i, s in zip(idx, new_shape) if s != 1]
    if [s for s in new_shape if s != 1] == [s for s in old_shape if s != 1]:
        it = iter(nz_new)
        return tuple(next(it) if s != 1 else UOp.const(dtypes.index, 0) for s in old_shape)
    lin = simplify(linear_index(idx, new_shape))
    out, acc = [], 1
    for s in reversed(old_shape):
        out.append(UOp.const(dtypes.index, 0) if s == 1 else simplify((lin // acc) % s))
        acc *= s
    return tuple(reversed(out))


@dataclass
class KernelBuilder:
    """Lowers one kernel. `realized` maps tensor nodes computed by other kernels (or already in memory) to
    their buffer UOps; each distinct buffer becomes a DEFINE_GLOBAL, the output being number 0."""

    realized: dict[UOp, UOp]
    globals: dict[UOp, UOp] = field(default_factory=dict)
    memo: dict[tuple[UOp, tuple[UOp, ...], UOp], UOp] = field(default_factory=dict)
    next_axis: int = 0
    # BUFFERs read directly (not through a node realized in this schedule): readers of the old contents
    raw_loads: set[UOp] = field(default_factory=set)
    # for each DEFINE_GLOBAL (in order), the tensor node whose buffer it is: a cached kernel is reused by
    # looking these up again, since realized intermediates get new buffers every time
    sources: list[UOp] = field(default_factory=list)

    def define_global(self, buf: UOp, source: UOp | None = None) -> UOp:
        if (g := self.globals.get(buf)) is None:
            self.sources.append(source if source is not None else buf)
            g = self.globals[buf] = UOp(Ops.DEFINE_GLOBAL, buf.dtype.ptr(buf.arg[1]), (), len(self.globals))
        return g

    def new_range(self, size: int) -> UOp:
        r = UOp(Ops.RANGE, dtypes.index, (UOp.const(dtypes.index, size),), self.next_axis)
        self.next_axis += 1
        return r

    def load(self, buf: UOp, shape: tuple[int, ...], idx: tuple[UOp, ...], valid: UOp, source: UOp) -> UOp:
        g = self.define_global(buf, source)
        lin = simplify(linear_index(idx, shape))
        valid = simplify(valid)
        index = UOp(Ops.INDEX, g.dtype, (g, lin) if valid is TRUE else (g, lin, valid))
        return UOp(Ops.LOAD, buf.dtype, (index,))

    def lower(self, u: UOp, idx: tuple[UOp, ...], valid: UOp = TRUE) -> UOp:
        key = (u, idx, valid)
        if (r := self.memo.get(key)) is not None:
            return r
        r = self.memo[key] = self._lower(u, idx, valid)
        return r

    def _lower(self, u: UOp, idx: tuple[UOp, ...], valid: UOp) -> UOp:
        op = u.op
        if op is Ops.ASSIGN and self.realized.get(u) is not None:
            # an assign's result is its target, read through the target's view
            return self.lower(u.src[0], idx, valid)
        if (buf := self.realized.get(u)) is not None:
            return self.load(buf, u.shape, idx, valid, u)
        if op is Ops.BUFFER:
            self.raw_loads.add(u)
            return self.load(u, u.shape, idx, valid, u)
        if op is Ops.CONST:
            return UOp.const(u.dtype, u.arg)
        if op is Ops.IOTA:
            return idx[0].cast(u.dtype)
        if op is Ops.CUSTOM_GRAD:  # only autograd looks past the value
            return self.lower(u.src[0], idx, valid)
        if op in GroupOp.ALU or op in (Ops.CAST, Ops.BITCAST):
            return UOp(op, u.dtype, tuple(self.lower(s, idx, valid) for s in u.src), u.arg)
        src = u.src[0] if u.src else None
        if op is Ops.RESHAPE:
            assert src is not None
            return self.lower(src, _reshape_index(idx, u.shape, src.shape), valid)
        if op is Ops.PERMUTE:
            assert src is not None
            new = [UOp.const(dtypes.index, 0)] * len(idx)
            for i, p in enumerate(u.arg):
                new[p] = idx[i]
            return self.lower(src, tuple(new), valid)
        if op is Ops.EXPAND:
            assert src is not None
            zero = UOp.const(dtypes.index, 0)
            return self.lower(src, tuple(zero if s == 1 else i for i, s in zip(idx, src.shape)), valid)
        if op is Ops.SHRINK:
            return self.lower(u.src[0], tuple(simplify(i + b) if b else i for i, (b, _) in zip(idx, u.arg)), valid)
        if op is Ops.FLIP:
            shp = u.shape
            return self.lower(
                u.src[0], tuple(simplify((s - 1) - i) if f else i for i, f, s in zip(idx, u.arg, shp)), valid
            )
        if op is Ops.PAD:
            assert src is not None
            cond = TRUE
            new = []
            for i, (b, _), s in zip(idx, u.arg, src.shape):
                if b or _:
                    cond = cond & (i >= b) & (i < b + s)
                new.append(simplify(i - b) if b else i)
            cond = simplify(cond)
            if cond is TRUE:
                return self.lower(src, tuple(new), valid)
            inner = self.lower(src, tuple(new), simplify(valid & cond))
            return cond.where(inner, UOp.const(u.dtype, 0))
        if op is Ops.REDUCE_AXIS:
            assert src is not None
            rop, axes = u.arg
            ranges = []
            new = list(idx)
            for a in axes:
                if src.shape[a] == 1:
                    new[a] = UOp.const(dtypes.index, 0)
                else:
                    new[a] = self.new_range(src.shape[a])
                    ranges.append(new[a])
            body = self.lower(src, tuple(new), valid)
            return UOp(Ops.REDUCE, u.dtype, (body, *ranges), rop) if ranges else body
        raise NotImplementedError(f"cannot lower {op} into a kernel")

    def store_index(self, target: UOp, idx: tuple[UOp, ...]) -> tuple[UOp, UOp]:
        """Where element idx of a writable view lands: (its BUFFER, linear index). Views made of reshape,
        permute, shrink and flip are writable; expand and pad are not (one element would land twice, or
        nowhere)."""
        u = target
        while u.op is not Ops.BUFFER:
            src = u.src[0]
            if u.op is Ops.ASSIGN:  # assigning to an assign writes the same memory
                pass
            elif u.op is Ops.RESHAPE:
                idx = _reshape_index(idx, u.shape, src.shape)
            elif u.op is Ops.PERMUTE:
                new = [UOp.const(dtypes.index, 0)] * len(idx)
                for i, p in enumerate(u.arg):
                    new[p] = idx[i]
                idx = tuple(new)
            elif u.op is Ops.SHRINK:
                idx = tuple(simplify(i + b) if b else i for i, (b, _) in zip(idx, u.arg))
            elif u.op is Ops.FLIP:
                idx = tuple(simplify((s - 1) - i) if f else i for i, f, s in zip(idx, u.arg, u.shape))
            else:
                raise ValueError(f"cannot assign into a view made with {u.op.name}")
            u = src
        return u, simplify(linear_index(idx, u.shape))

    def assign_kernel(self, root: UOp) -> UOp:
        """SINK(STORE(target[i...], value[i...])): the value is written into the target's own memory."""
        target, value = root.src
        shape = root.shape
        idx = tuple(self.new_range(s) if s != 1 else UOp.const(dtypes.index, 0) for s in shape)
        buf, lin = self.store_index(target, idx)
        g = self.define_global(buf)
        val = self.lower(value, idx)
        store = UOp(Ops.STORE, dtypes.void, (UOp(Ops.INDEX, g.dtype, (g, lin)), val))
        return UOp(Ops.SINK, dtypes.void, (store,), kernel_name(value))

    def kernel(self, root: UOp, out: UOp) -> UOp:
        """SINK(STORE(out[i...], root[i...])) over fresh RANGEs for each non-1 output axis."""
        shape = root.shape
        idx = tuple(self.new_range(s) if s != 1 else UOp.const(dtypes.index, 0) for s in shape)
        self.define_global(out)
        value = self.lower(root, idx)
        g = self.globals[out]
        store = UOp(Ops.STORE, dtypes.void, (UOp(Ops.INDEX, g.dtype, (g, simplify(linear_index(idx, shape)))), value))
        return UOp(Ops.SINK, dtypes.void, (store,), kernel_name(root))


def kernel_name(root: UOp) -> str:
    has_reduce = any(u.op is Ops.REDUCE_AXIS for u in root.toposort())
    shape = "_".join(str(s) for s in root.shape) or "1"
    return f"{'r' if has_reduce else 'E'}_{shape}"


def full_size(shape: tuple[int, ...]) -> int:
    return prod(shape)
