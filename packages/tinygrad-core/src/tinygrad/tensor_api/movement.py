"""Tensor methods: high-level movement: stacking, splitting, repeating, gather/scatter and advanced indexing.

Everything here lowers to reshape/permute/expand/pad/shrink/flip, elementwise ops and sum/max reductions.
Data-dependent selection (gather, tensor indices, scatter) is written as a comparison of the index against
`Tensor.arange` (a one-hot mask) followed by `where` and a reduction: it fuses into one kernel and its gradient
is the same mask applied backwards, so duplicates accumulate exactly as in torch. `where` (not a multiply) keeps
inf/nan in unselected elements from leaking into the result.

Only three methods look at data on the host, because their output shape depends on it: `nonzero`,
`masked_select` and indexing with a boolean mask.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad.dtype import DType, dtypes, least_upper_dtype
from tinygrad.errors import AxisError, DeviceError, DTypeError, ShapeError
from tinygrad.helpers import argfix, prod

if TYPE_CHECKING:
    from tinygrad.tensor import Tensor

Scalar = int | float | bool


def _axis(op: str, axis: int, ndim: int) -> int:
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise AxisError(f"Tensor.{op}: dim must be an int, got {axis!r}")
    lo, hi = (-ndim, ndim - 1) if ndim else (-1, 0)
    if not lo <= axis <= hi:
        raise AxisError(f"Tensor.{op}: dim {axis} is out of range for a {ndim}-d tensor (valid: {lo}..{hi})")
    return int(axis) + ndim if axis < 0 else int(axis)


def _tensors(op: str, first: Any, rest: Sequence[Any]) -> list[Tensor]:
    """The tensors of a varargs call, accepting t.cat(a, b), Tensor.cat(a, b) and Tensor.cat([a, b])."""
    from tinygrad.tensor import Tensor

    out: list[Any] = []
    for a in (first, *rest):
        if isinstance(a, (list, tuple)):
            out.extend(a)
        else:
            out.append(a)
    if not out:
        raise ShapeError(f"Tensor.{op}: needs at least one tensor")
    for t in out:
        if not isinstance(t, Tensor):
            raise DTypeError(f"Tensor.{op}: expected Tensors, got {type(t).__name__}; wrap data with Tensor(...)")
    devs = {t.device for t in out}
    if len(devs) > 1:
        raise DeviceError(f"Tensor.{op}: tensors are on different devices {sorted(devs)}; move them with .to()")
    return out


def _check_int_index(op: str, index: Tensor) -> None:
    if not dtypes.is_int(index.dtype):
        raise DTypeError(f"Tensor.{op}: index must be an integer tensor, got {index.dtype}; cast it with .int()")


def _slice_plan(s: slice, size: int) -> tuple[tuple[int, int], bool, int]:
    """(shrink range, flip, stride) that turn a dim of `size` into dim[s]."""
    start, stop, step = s.indices(size)
    if step > 0:
        n = max(0, -(-(stop - start) // step))
        return ((start, start + (n - 1) * step + 1) if n else (0, 0)), False, step
    n = max(0, -(-(start - stop) // -step))
    return ((start + (n - 1) * step, start + 1) if n else (0, 0)), True, -step


class MovementMixin:
    __slots__ = ()

    # ---- axes ----

    def transpose(self: Tensor, dim0: int = 1, dim1: int = 0) -> Tensor:
        """Swap two dims.

        >>> from tinygrad import Tensor
        >>> Tensor([[1, 2, 3], [4, 5, 6]]).transpose(0, 1).tolist()
        [[1, 4], [2, 5], [3, 6]]
        """
        order = list(range(self.ndim))
        a, b = _axis("transpose", dim0, self.ndim), _axis("transpose", dim1, self.ndim)
        if self.ndim == 0:
            return self
        order[a], order[b] = order[b], order[a]
        return self.permute(order)

    @property
    def T(self: Tensor) -> Tensor:
        """All dims reversed (a matrix transpose for 2-d; 0-d and 1-d tensors are returned as they are).

        >>> from tinygrad import Tensor
        >>> Tensor([[1, 2], [3, 4]]).T.tolist()
        [[1, 3], [2, 4]]
        """
        return self if self.ndim < 2 else self.permute(tuple(range(self.ndim - 1, -1, -1)))

    def flatten(self: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merge dims start_dim..end_dim (inclusive) into one; a 0-d tensor becomes 1-d.

        >>> from tinygrad import Tensor
        >>> Tensor.ones(2, 3, 4).flatten(1).shape
        (2, 12)
        """
        if self.ndim == 0:
            _axis("flatten", start_dim, 0), _axis("flatten", end_dim, 0)
            return self.reshape(1)
        s, e = _axis("flatten", start_dim, self.ndim), _axis("flatten", end_dim, self.ndim)
        if s > e:
            raise AxisError(f"Tensor.flatten: start_dim {start_dim} comes after end_dim {end_dim}")
        return self.reshape(self.shape[:s] + (prod(self.shape[s : e + 1]),) + self.shape[e + 1 :])

    def unflatten(self: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:
        """Split one dim into `sizes` (one entry may be -1, inferred).

        >>> from tinygrad import Tensor
        >>> Tensor.arange(6).unflatten(0, (2, -1)).tolist()
        [[0, 1, 2], [3, 4, 5]]
        """
        d = _axis("unflatten", dim, self.ndim)
        sizes = tuple(int(s) for s in sizes)
        if not sizes:
            raise ShapeError("Tensor.unflatten: sizes must be non-empty")
        n = self.shape[d]
        if sizes.count(-1) > 1 or any(s < -1 for s in sizes):
            raise ShapeError(f"Tensor.unflatten: sizes {sizes} may hold one -1 and no other negatives")
        if -1 in sizes:
            known = prod(s for s in sizes if s != -1)
            if known == 0 or n % known:
                raise ShapeError(f"Tensor.unflatten: cannot infer -1 in {sizes} for dim {d} of size {n}")
            sizes = tuple(n // known if s == -1 else s for s in sizes)
        if prod(sizes) != n:
            raise ShapeError(f"Tensor.unflatten: sizes {sizes} multiply to {prod(sizes)}, but dim {d} has size {n}")
        return self.reshape(self.shape[:d] + sizes + self.shape[d + 1 :])

    def unsqueeze(self: Tensor, dim: int) -> Tensor:
        """Insert a size-1 dim at `dim` (negative counts from the end of the result).

        >>> from tinygrad import Tensor
        >>> Tensor([1, 2]).unsqueeze(-1).tolist()
        [[1], [2]]
        """
        d = _axis("unsqueeze", dim, self.ndim + 1)
        return self.reshape(self.shape[:d] + (1,) + self.shape[d:])

    def squeeze(self: Tensor, dim: int | Sequence[int] | None = None) -> Tensor:
        """Drop size-1 dims: all of them, or those among `dim` (an int or a tuple); other dims are kept.

        >>> from tinygrad import Tensor
        >>> Tensor.ones(1, 2, 1).squeeze().shape
        (2,)
        >>> Tensor.ones(1, 2, 1).squeeze((0, 1)).shape
        (2, 1)
        """
        if dim is None:
            return self.reshape(tuple(s for s in self.shape if s != 1))
        dims = {_axis("squeeze", d, self.ndim) for d in ((dim,) if isinstance(dim, int) else dim)}
        if self.ndim == 0:
            return self
        return self.reshape(tuple(s for i, s in enumerate(self.shape) if not (i in dims and s == 1)))

    # ---- joining and splitting ----

    def cat(self: Tensor, *others: Tensor, dim: int = 0) -> Tensor:
        """Concatenate along `dim`; works as t.cat(a, b), Tensor.cat(t, a, b) or Tensor.cat([t, a, b]).

        Dtypes are promoted; 1-d empty tensors are skipped, as in torch.

        >>> from tinygrad import Tensor
        >>> Tensor([1]).cat(Tensor([2, 3])).tolist()
        [1, 2, 3]
        >>> Tensor.cat([Tensor([[1], [2]]), Tensor([[3], [4]])], dim=1).tolist()
        [[1, 3], [2, 4]]
        """
        from tinygrad.tensor import Tensor

        ts = _tensors("cat", self, others)
        if any(t.ndim == 0 for t in ts):
            raise ShapeError("Tensor.cat: 0-d tensors cannot be concatenated; unsqueeze them or use Tensor.stack")
        dt = ts[0].dtype
        for t in ts[1:]:
            dt = least_upper_dtype(dt, t.dtype)
        # torch's legacy rule: a (0,) tensor joins anything
        ref = next((t for t in ts if t.shape != (0,)), ts[0])
        ts = [t.cast(dt) for t in ts if t.shape != (0,) or t is ref]
        d = _axis("cat", dim, ref.ndim)
        for t in ts:
            if t.ndim != ref.ndim or any(a != b for i, (a, b) in enumerate(zip(t.shape, ref.shape)) if i != d):
                raise ShapeError(f"Tensor.cat: shapes {ref.shape} and {t.shape} differ outside dim {d}; "
                                 "all sizes except the cat dim must match")  # fmt: skip
        nonempty = [t for t in ts if t.shape[d]]
        if len(nonempty) <= 1:
            return nonempty[0] if nonempty else ts[0]
        total = sum(t.shape[d] for t in nonempty)
        # later pieces are masked in by position (not added) so -0.0 survives and bools need no arithmetic
        pos = Tensor.arange(total, device=ref.device).reshape(tuple(total if i == d else 1 for i in range(ref.ndim)))
        ends, off = [], 0
        padded = []
        for t in nonempty:
            pad = [(0, 0)] * ref.ndim
            pad[d] = (off, total - off - t.shape[d])
            padded.append(t.pad(pad))
            off += t.shape[d]
            ends.append(off)
        out = padded[-1]
        for p, end in zip(reversed(padded[:-1]), reversed(ends[:-1])):
            out = (pos < end).where(p, out)
        return out

    def stack(self: Tensor, *others: Tensor, dim: int = 0) -> Tensor:
        """Join same-shaped tensors along a new dim.

        >>> from tinygrad import Tensor
        >>> Tensor.stack(Tensor([1, 2]), Tensor([3, 4]), dim=1).tolist()
        [[1, 3], [2, 4]]
        """
        ts = _tensors("stack", self, others)
        for t in ts[1:]:
            if t.shape != ts[0].shape:
                raise ShapeError(f"Tensor.stack: all tensors need the same shape, got {ts[0].shape} and {t.shape}")
        d = _axis("stack", dim, ts[0].ndim + 1)
        us = [t.unsqueeze(d) for t in ts]
        return us[0].cat(*us[1:], dim=d)

    def split(self: Tensor, sizes: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
        """Pieces of `sizes` elements along `dim` (an int: equal pieces, the last may be smaller).

        >>> from tinygrad import Tensor
        >>> [t.tolist() for t in Tensor.arange(5).split(2)]
        [[0, 1], [2, 3], [4]]
        >>> [t.tolist() for t in Tensor.arange(5).split([1, 4])]
        [[0], [1, 2, 3, 4]]
        """
        d = _axis("split", dim, self.ndim)
        if self.ndim == 0:
            raise ShapeError("Tensor.split: cannot split a 0-d tensor; reshape it to 1-d first")
        n = self.shape[d]
        if isinstance(sizes, (int, np.integer)):
            if sizes < 0 or (sizes == 0 and n > 0):
                raise ShapeError(f"Tensor.split: split size must be positive, got {sizes}")
            sizes = [min(int(sizes), n - i) for i in range(0, n, int(sizes))] if n else [0]
        sizes = [int(s) for s in sizes]
        if any(s < 0 for s in sizes) or sum(sizes) != n:
            raise ShapeError(f"Tensor.split: sizes {sizes} must be non-negative and sum to {n} (dim {d} of "
                             f"shape {self.shape})")  # fmt: skip
        out, off = [], 0
        for s in sizes:
            out.append(self.shrink(tuple((off, off + s) if i == d else None for i in range(self.ndim))))
            off += s
        return tuple(out)

    def chunk(self: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        """At most `chunks` pieces of ceil(size / chunks) elements along `dim`, like torch.chunk.

        >>> from tinygrad import Tensor
        >>> [t.tolist() for t in Tensor.arange(6).chunk(4)]
        [[0, 1], [2, 3], [4, 5]]
        """
        if not isinstance(chunks, int) or chunks <= 0:
            raise ShapeError(f"Tensor.chunk: chunks must be a positive int, got {chunks!r}")
        d = _axis("chunk", dim, self.ndim)
        n = self.shape[d] if self.ndim else 0
        return self.split(-(-n // chunks) if n else [0] * chunks, dim=d)

    def unfold(self: Tensor, dimension: int, size: int, step: int) -> Tensor:
        """Sliding windows of `size` elements every `step` along `dimension`, appended as a new last dim.

        >>> from tinygrad import Tensor
        >>> Tensor.arange(5).unfold(0, 2, 2).tolist()
        [[0, 1], [2, 3]]
        >>> Tensor.arange(4).unfold(0, 3, 1).tolist()
        [[0, 1, 2], [1, 2, 3]]
        """
        d = _axis("unfold", dimension, self.ndim)
        if self.ndim == 0:
            # torch treats a 0-d tensor as one element and returns just the window
            if size not in (0, 1) or step <= 0:
                raise ShapeError(f"Tensor.unfold: a 0-d tensor allows size 0 or 1 and step > 0, got {size}, {step}")
            return self.reshape(1).shrink(((0, size),))
        n = self.shape[d]
        if size < 0 or size > n:
            raise ShapeError(f"Tensor.unfold: window size {size} must be in 0..{n} (dim {d} of shape {self.shape})")
        if step <= 0:
            raise ShapeError(f"Tensor.unfold: step must be positive, got {step}")
        o = (n - size) // step + 1
        x = self.permute(*[i for i in range(self.ndim) if i != d], d)
        lead = x.shape[:-1]
        if step >= size:
            # disjoint windows: cut into rows of `step`, keep the first `size` of each row
            x = x.pad(tuple([None] * len(lead) + [(0, max(0, o * step - n))])).shrink(
                tuple([None] * len(lead) + [(0, o * step)]))  # fmt: skip
            w = x.reshape(*lead, o, step).shrink(tuple([None] * len(lead) + [None, (0, size)]))
        else:
            # overlapping windows: size+1 copies laid out in rows of n+1 shift each row by one, so row j col c is
            # x[j + c]; every step-th column gives the window starts
            x = x.unsqueeze(-2).expand(*lead, size + 1, n).reshape(*lead, (size + 1) * n)
            x = x.shrink(tuple([None] * len(lead) + [(0, size * (n + 1))])).reshape(*lead, size, n + 1)
            x = x.shrink(tuple([None] * len(lead) + [None, (0, o * step)])).reshape(*lead, size, o, step)
            w = x.shrink(tuple([None] * (len(lead) + 2) + [(0, 1)])).reshape(*lead, size, o).transpose(-1, -2)
        # w is (..., o, size) with the unfolded dim last: move o back to position d
        order = list(range(len(lead)))
        order.insert(d, len(lead))
        return w.permute(*order, len(lead) + 1)

    def repeat(self: Tensor, repeats: int | Sequence[int], *args: int) -> Tensor:
        """Tile the tensor: repeats[i] copies along dim i (extra leading repeats add dims), like torch.repeat.

        >>> from tinygrad import Tensor
        >>> Tensor([1, 2]).repeat(2, 2).tolist()
        [[1, 2, 1, 2], [1, 2, 1, 2]]
        """
        reps = argfix(repeats, *args)
        if len(reps) < self.ndim:
            raise ShapeError(f"Tensor.repeat: {len(reps)} repeats given for a {self.ndim}-d tensor; give one per "
                             "dim (or more to add leading dims)")  # fmt: skip
        if any(not isinstance(r, (int, np.integer)) or r < 0 for r in reps):
            raise ShapeError(f"Tensor.repeat: repeats {reps} must be non-negative ints")
        shape = (1,) * (len(reps) - self.ndim) + self.shape
        x = self.reshape(tuple(v for s in shape for v in (1, s)))
        x = x.expand(tuple(v for r, s in zip(reps, shape) for v in (r, s)))
        return x.reshape(tuple(r * s for r, s in zip(reps, shape)))

    def repeat_interleave(self: Tensor, repeats: int | Sequence[int] | Tensor, dim: int | None = None) -> Tensor:
        """Repeat each element `repeats` times along `dim` (flattened when dim is None); `repeats` may also give one
        count per element.

        >>> from tinygrad import Tensor
        >>> Tensor([1, 2]).repeat_interleave(2).tolist()
        [1, 1, 2, 2]
        >>> Tensor([[1, 2], [3, 4]]).repeat_interleave([1, 2], dim=0).tolist()
        [[1, 2], [3, 4], [3, 4]]
        """
        from tinygrad.tensor import Tensor

        x, d = (self.flatten(), 0) if dim is None else (self, _axis("repeat_interleave", dim, self.ndim))
        if x.ndim == 0:
            x = x.reshape(1)
        if isinstance(repeats, (int, np.integer)):
            if repeats < 0:
                raise ShapeError(f"Tensor.repeat_interleave: repeats must be non-negative, got {repeats}")
            x = x.unsqueeze(d + 1)
            x = x.expand(*x.shape[: d + 1], int(repeats), *x.shape[d + 2 :])
            return x.flatten(d, d + 1)
        reps = np.asarray(repeats.numpy() if isinstance(repeats, Tensor) else repeats).reshape(-1)
        if reps.size == 1:
            return self.repeat_interleave(int(reps[0]), dim)
        if reps.size != x.shape[d] or not np.issubdtype(reps.dtype, np.integer) or (reps < 0).any():
            raise ShapeError(f"Tensor.repeat_interleave: repeats must be {x.shape[d]} non-negative ints (one per "
                             f"element of dim {d}), got {reps.tolist()}")  # fmt: skip
        idx = Tensor(np.repeat(np.arange(x.shape[d], dtype=np.int32), reps), device=self.device)
        return x[(slice(None),) * d + (idx,)]

    def meshgrid(self: Tensor, *others: Tensor, indexing: str = "ij") -> tuple[Tensor, ...]:
        """Coordinate grids from 1-d tensors: "ij" indexes (i, j, ...); "xy" swaps the first two dims.

        >>> from tinygrad import Tensor
        >>> [t.tolist() for t in Tensor.meshgrid(Tensor([1, 2]), Tensor([3, 4, 5]))]
        [[[1, 1, 1], [2, 2, 2]], [[3, 4, 5], [3, 4, 5]]]
        """
        if indexing not in ("ij", "xy"):
            raise ValueError(f"Tensor.meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
        ts = _tensors("meshgrid", self, others)
        if any(t.ndim > 1 for t in ts):
            raise ShapeError(f"Tensor.meshgrid: needs 0-d or 1-d tensors, got shapes {[t.shape for t in ts]}")
        ts = [t.reshape(-1) for t in ts]
        swap = indexing == "xy" and len(ts) >= 2
        axes = list(range(len(ts)))
        if swap:
            axes[0], axes[1] = 1, 0
        shape = [0] * len(ts)
        for a, t in zip(axes, ts):
            shape[a] = t.shape[0]
        return tuple(t.reshape(tuple(-1 if i == a else 1 for i in range(len(ts)))).expand(shape)
                     for a, t in zip(axes, ts))  # fmt: skip

    # ---- diagonals and rolls ----

    def diag(self: Tensor, diagonal: int = 0) -> Tensor:
        """1-d: a square matrix with the vector on a diagonal; 2-d: that diagonal as a vector (like torch.diag).

        >>> from tinygrad import Tensor
        >>> Tensor([1, 2]).diag().tolist()
        [[1, 0], [0, 2]]
        >>> Tensor([[1, 2], [3, 4]]).diag(1).tolist()
        [2]
        """
        if self.ndim == 2:
            return self.diagonal(diagonal)
        if self.ndim != 1:
            raise ShapeError(f"Tensor.diag: needs a 1-d or 2-d tensor, got shape {self.shape}")
        n = self.shape[0]
        # rows of n+1 with the value first: flattened and cut to n*n, the values land on the diagonal
        m = self.reshape(n, 1).pad(((0, 0), (0, n))).flatten().shrink(((0, n * n),)).reshape(n, n)
        k = abs(diagonal)
        return m.pad(((0, k), (k, 0)) if diagonal >= 0 else ((k, 0), (0, k)))

    def diagonal(self: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
        """The diagonal of the (dim1, dim2) planes, as a new last dim; offset > 0 is above the main diagonal.

        >>> from tinygrad import Tensor
        >>> Tensor([[1, 2, 3], [4, 5, 6]]).diagonal().tolist()
        [1, 5]
        >>> Tensor([[1, 2, 3], [4, 5, 6]]).diagonal(-1).tolist()
        [4]
        """
        a, b = _axis("diagonal", dim1, self.ndim), _axis("diagonal", dim2, self.ndim)
        if a == b:
            raise AxisError(f"Tensor.diagonal: dim1 and dim2 must differ, both are {a}")
        x = self.permute(*[i for i in range(self.ndim) if i not in (a, b)], a, b)
        lead, (r, c) = x.shape[:-2], x.shape[-2:]
        rows, cols = (0, min(offset, c)) if offset >= 0 else (min(-offset, r), 0)
        n = min(r - rows, c - cols)
        x = x.shrink(tuple([None] * len(lead) + [(rows, rows + n), (cols, cols + n)]))
        # flat index i*(n+1) is element (i, i): rows of n+1, keep the first column
        x = x.reshape(*lead, n * n).pad(tuple([None] * len(lead) + [(0, n)])).reshape(*lead, n, n + 1)
        return x.shrink(tuple([None] * len(lead) + [None, (0, 1)])).reshape(*lead, n)

    def roll(self: Tensor, shifts: int | Sequence[int], dims: int | Sequence[int] | None = None) -> Tensor:
        """Rotate elements by `shifts` along `dims` (the flattened tensor when dims is None).

        >>> from tinygrad import Tensor
        >>> Tensor([1, 2, 3, 4]).roll(1).tolist()
        [4, 1, 2, 3]
        >>> Tensor([[1, 2], [3, 4]]).roll((1, -1), (0, 1)).tolist()
        [[4, 3], [2, 1]]
        """
        sh = (shifts,) if isinstance(shifts, int) else tuple(shifts)
        if dims is None:
            if len(sh) != 1:
                raise ShapeError(f"Tensor.roll: without dims, shifts must be one int, got {shifts}")
            return self.flatten().roll(sh[0], 0).reshape(self.shape)
        ds = (dims,) if isinstance(dims, int) else tuple(dims)
        if len(sh) != len(ds):
            raise ShapeError(f"Tensor.roll: {len(sh)} shifts for {len(ds)} dims; give one shift per dim")
        x = self
        for s, dim in zip(sh, ds):
            d = _axis("roll", dim, self.ndim)
            if self.ndim == 0:
                continue
            n = x.shape[d]
            if n == 0 or s % n == 0:
                continue
            s %= n
            # two copies back to back: the rolled tensor is the window starting at n - s
            y = x.unsqueeze(d)
            y = y.expand(*y.shape[:d], 2, *y.shape[d + 1 :]).flatten(d, d + 1)
            x = y.shrink(tuple((n - s, 2 * n - s) if i == d else None for i in range(x.ndim)))
        return x

    def rearrange(self: Tensor, formula: str, **sizes: int) -> Tensor:
        """einops-style reshape/transpose: "b c h w -> b (h w) c"; names sizes of split axes with keywords.

        Supports names, parenthesized groups, "..." and unit axes ("1" or "()").

        >>> from tinygrad import Tensor
        >>> Tensor.arange(6).reshape(2, 3).rearrange("a b -> b a").tolist()
        [[0, 3], [1, 4], [2, 5]]
        >>> Tensor.arange(6).rearrange("(a b) -> b a", a=2).tolist()
        [[0, 3], [1, 4], [2, 5]]
        """
        if formula.count("->") != 1:
            raise ShapeError(f"Tensor.rearrange: pattern {formula!r} needs exactly one '->'")
        lhs_s, rhs_s = formula.split("->")
        lhs, rhs = _parse_side(lhs_s, formula), _parse_side(rhs_s, formula)
        if any(isinstance(g, list) and "..." in g for g in lhs):
            raise ShapeError(f"Tensor.rearrange: '...' inside parentheses on the left of {formula!r} is not supported")
        ell_l = lhs.count("...")
        n_named = len(lhs) - ell_l
        ell_r = sum(1 if g == "..." else g.count("...") for g in rhs)
        if ell_l != ell_r or (ell_l and n_named > self.ndim):
            raise ShapeError(f"Tensor.rearrange: '...' must appear on both sides of {formula!r} (input {self.shape})")
        if not ell_l and len(lhs) != self.ndim:
            raise ShapeError(f"Tensor.rearrange: the left side of {formula!r} has {len(lhs)} axes, but the input "
                             f"has shape {self.shape}")  # fmt: skip
        ell_names = [f"...{i}" for i in range(self.ndim - n_named)] if ell_l else []

        def expand(groups: list[list[str] | str]) -> list[list[str]]:
            out: list[list[str]] = []
            for g in groups:
                if g == "...":
                    out.extend([e] for e in ell_names)
                else:
                    out.append([e for a in g for e in (ell_names if a == "..." else [a])])
            return out

        lg, rg = expand(lhs), expand(rhs)
        lnames, rnames = [a for g in lg for a in g], [a for g in rg for a in g]
        if sorted(lnames) != sorted(rnames):
            raise ShapeError(f"Tensor.rearrange: the axes of {formula!r} differ between the sides: "
                             f"{sorted(set(lnames) ^ set(rnames))}")  # fmt: skip
        if unknown := set(sizes) - set(lnames):
            raise ShapeError(f"Tensor.rearrange: sizes given for axes {sorted(unknown)} not in {formula!r}")
        size = {k: int(v) for k, v in sizes.items()}
        for g, n in zip(lg, self.shape):
            missing = [a for a in g if a not in size]
            if len(missing) > 1:
                raise ShapeError(f"Tensor.rearrange: cannot infer the sizes of {missing} in {formula!r}; pass "
                                 "all but one as keywords")  # fmt: skip
            known = prod(size[a] for a in g if a in size)
            if missing:
                if known == 0 or n % known:
                    raise ShapeError(f"Tensor.rearrange: group {g} of {formula!r} cannot split a dim of size {n}")
                size[missing[0]] = n // known
            elif known != n:
                raise ShapeError(f"Tensor.rearrange: group {g} of {formula!r} has size {known}, the dim has {n}")
        x = self.reshape(tuple(size[a] for a in lnames))
        x = x.permute(tuple(lnames.index(a) for a in rnames))
        return x.reshape(tuple(prod(size[a] for a in g) for g in rg))

    # ---- gather / scatter ----

    def gather(self: Tensor, dim: int, index: Tensor) -> Tensor:
        """out[i][j] = self[index[i][j]][j] for dim=0 (and likewise for other dims), like torch.gather.

        `index` has the same number of dims as self and is no larger outside `dim`; out-of-range entries give 0.

        >>> from tinygrad import Tensor
        >>> Tensor([[1, 2], [3, 4]]).gather(1, Tensor([[1, 0], [1, 1]])).tolist()
        [[2, 1], [4, 4]]
        """
        from tinygrad.tensor import Tensor

        d = _axis("gather", dim, self.ndim)
        _check_int_index("gather", index)
        if index.ndim != self.ndim:
            raise ShapeError(f"Tensor.gather: index has {index.ndim} dims, self has {self.ndim}; they must match")
        if self.ndim == 0:
            return self.reshape(1).gather(0, index.reshape(1)).reshape(())
        if any(i != d and a > b for i, (a, b) in enumerate(zip(index.shape, self.shape))):
            raise ShapeError(f"Tensor.gather: index shape {index.shape} is larger than self {self.shape} outside "
                             f"dim {d}")  # fmt: skip
        n = self.shape[d]
        x = self.shrink(tuple(None if i == d else (0, s) for i, s in enumerate(index.shape)))
        # x with dim d moved last and a 1 left in its place lines up with the one-hot of index
        x = x.permute(*[i for i in range(self.ndim) if i != d], d).unsqueeze(d)
        hit = index.unsqueeze(-1) == Tensor.arange(n, device=self.device)
        return hit.where(x, 0).sum(-1).cast(self.dtype)

    def _scatter_setup(self: Tensor, op: str, dim: int, index: Tensor, src: Tensor | Scalar) -> tuple[Any, ...]:
        """Common checks and the one-hot layout of scatter-like ops.

        The layout is index.shape + (n,) with n = self.shape[dim]: entry (..., i at dim, ..., k) says whether
        index[... i ...] == k. Reducing over `dim` and moving the last axis to `dim` gives self-shaped results.
        """
        from tinygrad.tensor import Tensor

        d = _axis(op, dim, self.ndim)
        _check_int_index(op, index)
        if index.ndim != self.ndim:
            raise ShapeError(f"Tensor.{op}: index has {index.ndim} dims, self has {self.ndim}; they must match")
        if any(i != d and a > b for i, (a, b) in enumerate(zip(index.shape, self.shape))):
            raise ShapeError(f"Tensor.{op}: index shape {index.shape} is larger than self {self.shape} outside "
                             f"dim {d}")  # fmt: skip
        if isinstance(src, Tensor):
            if src.ndim != index.ndim or any(a > b for a, b in zip(index.shape, src.shape)):
                raise ShapeError(f"Tensor.{op}: src shape {src.shape} must have index's dims and be at least as large "
                                 f"as index {index.shape}")  # fmt: skip
            src = src.shrink(tuple((0, s) for s in index.shape)).cast(self.dtype)
        else:
            src = Tensor.full(index.shape, src, dtype=self.dtype, device=self.device)
        n = self.shape[d] if self.ndim else 1
        oh = index.unsqueeze(-1) == Tensor.arange(n, device=self.device)
        return d, oh, src.unsqueeze(-1)

    def _scatter_back(self: Tensor, d: int, t: Tensor, fill: Scalar) -> Tensor:
        """A reduced layout tensor (index.shape without dim, + (n,)) back to self's shape, padded with fill."""
        r = self.ndim
        t = t.permute(*range(d), r - 1, *range(d, r - 1))
        return t.pad(tuple((0, s - ts) for s, ts in zip(self.shape, t.shape)), value=fill)

    def _self_in_layout(self: Tensor, d: int, index: Tensor) -> Tensor:
        x = self.shrink(tuple(None if i == d else (0, s) for i, s in enumerate(index.shape)))
        return x.permute(*[i for i in range(self.ndim) if i != d], d).unsqueeze(d)

    def scatter(self: Tensor, dim: int, index: Tensor, src: Tensor | Scalar, reduce: str | None = None) -> Tensor:
        """Write src (a tensor or a scalar) into a copy of self at index along dim: out[index[i][j]][j] = src[i][j]
        for dim=0. reduce="add"/"multiply" combines instead of overwriting; on duplicate indices without reduce
        the last write wins.

        >>> from tinygrad import Tensor
        >>> Tensor.zeros(3, dtype="int32").scatter(0, Tensor([2, 0]), Tensor([5, 6], dtype="int32")).tolist()
        [6, 0, 5]
        >>> Tensor.ones(2, 2).scatter(1, Tensor([[1], [1]]), 3.0, reduce="add").tolist()
        [[1.0, 4.0], [1.0, 4.0]]
        """
        if self.ndim == 0:
            idx = index.reshape(1) if index.ndim == 0 else index
            s = src.reshape(1) if not isinstance(src, (int, float, bool)) and src.ndim == 0 else src
            return self.reshape(1).scatter(0, idx, s, reduce).reshape(())
        if reduce is not None:
            if reduce not in ("add", "multiply"):
                raise ValueError(f"Tensor.scatter: reduce must be None, 'add' or 'multiply', got {reduce!r}")
            return self.scatter_reduce(dim, index, src, "sum" if reduce == "add" else "prod")
        from tinygrad.tensor import Tensor

        d, oh, srcx = self._scatter_setup("scatter", dim, index, src)
        if index.numel() == 0:
            return self
        # among duplicate targets keep the write with the largest position along dim (the last one)
        i = Tensor.arange(index.shape[d], device=self.device).reshape(
            tuple(index.shape[d] if a == d else 1 for a in range(self.ndim + 1)))  # fmt: skip
        last = oh.where(i, -1).max(d, keepdim=True)
        won = oh & (i == last)
        vals = won.where(srcx, 0).sum(d).cast(self.dtype)
        hit = oh.any(d)
        return self._scatter_back(d, hit, False).where(self._scatter_back(d, vals, 0), self)

    def scatter_reduce(self: Tensor, dim: int, index: Tensor, src: Tensor | Scalar, reduce: str,
                       include_self: bool = True) -> Tensor:  # fmt: skip
        """Combine src into self at index along dim with reduce "sum", "prod", "mean", "amax" or "amin".

        include_self=False leaves self's value out wherever something is scattered.

        >>> from tinygrad import Tensor
        >>> Tensor([1.0, 2.0, 3.0]).scatter_reduce(0, Tensor([0, 0, 2]), Tensor([4.0, 5.0, 6.0]), "amax").tolist()
        [5.0, 2.0, 6.0]
        >>> Tensor([1.0, 2.0]).scatter_reduce(0, Tensor([1, 1]), Tensor([4.0, 6.0]), "mean", False).tolist()
        [1.0, 5.0]
        """
        if reduce not in ("sum", "prod", "mean", "amax", "amin"):
            raise ValueError(f"Tensor.scatter_reduce: reduce must be 'sum', 'prod', 'mean', 'amax' or 'amin', got "
                             f"{reduce!r}")  # fmt: skip
        if self.ndim == 0:
            idx = index.reshape(1) if index.ndim == 0 else index
            s = src.reshape(1) if not isinstance(src, (int, float, bool)) and src.ndim == 0 else src
            return self.reshape(1).scatter_reduce(0, idx, s, reduce, include_self).reshape(())
        d, oh, srcx = self._scatter_setup("scatter_reduce", dim, index, src)
        if index.numel() == 0:
            return self
        dt = self.dtype
        if reduce in ("amax", "amin"):
            ident: Scalar = (-math.inf if reduce == "amax" else math.inf) if dtypes.is_float(dt) else \
                (dtypes.min(dt) if reduce == "amax" else dtypes.max(dt))  # fmt: skip
        else:
            ident = 1 if reduce == "prod" else 0
        vals = oh.where(srcx, ident)
        if include_self:
            # self joins the reduction as one more entry, so ties with it share the gradient as in torch
            vals = vals.cat(self._self_in_layout(d, index), dim=d)
        if reduce in ("sum", "mean"):
            red = vals.sum(d)
        elif reduce == "prod":
            red = vals.prod(d)
        elif reduce == "amax":
            red = vals.max(d)
        else:
            red = vals.min(d)
        if reduce == "mean":
            count = oh.sum(d) + int(include_self)
            red = red / count.maximum(1) if dtypes.is_float(dt) else red // count.maximum(1)
        red = red.cast(dt)
        hit = oh.any(d)
        return self._scatter_back(d, hit, False).where(self._scatter_back(d, red, 0), self)

    # ---- masks ----

    def masked_fill(self: Tensor, mask: Tensor, value: Tensor | Scalar) -> Tensor:
        """self with `value` wherever the (broadcastable) bool mask is True; keeps self's dtype and shape.

        >>> from tinygrad import Tensor
        >>> Tensor([1, 2, 3]).masked_fill(Tensor([True, False, True]), 0).tolist()
        [0, 2, 0]
        """
        from tinygrad.tensor import Tensor

        if not isinstance(mask, Tensor) or mask.dtype != dtypes.bool:
            raise DTypeError(f"Tensor.masked_fill: mask must be a bool tensor, got "
                             f"{mask.dtype if isinstance(mask, Tensor) else type(mask).__name__}")  # fmt: skip
        if isinstance(value, Tensor):
            v = value.cast(self.dtype)
        else:
            v = Tensor(_cast_scalar(value, self.dtype), dtype=self.dtype, device=self.device)
        out = mask.where(v, self)
        if out.shape != self.shape:
            raise ShapeError(f"Tensor.masked_fill: mask {mask.shape} (and value) must broadcast to self {self.shape}")
        return out

    def nonzero(self: Tensor) -> Tensor:
        """Indices of the nonzero elements, one row per element: shape (count, ndim), int32. Reads the data.

        >>> from tinygrad import Tensor
        >>> Tensor([[0, 1], [2, 0]]).nonzero().tolist()
        [[0, 1], [1, 0]]
        """
        from tinygrad.tensor import Tensor

        # the output size depends on the data, so the mask has to be computed here
        nz = np.argwhere(self.numpy()).astype(np.int32)
        return Tensor(nz.reshape(len(nz), self.ndim), device=self.device)

    def masked_select(self: Tensor, mask: Tensor) -> Tensor:
        """The elements where the bool mask (broadcast with self) is True, as a 1-d tensor. Reads the mask.

        >>> from tinygrad import Tensor
        >>> Tensor([[1, 2], [3, 4]]).masked_select(Tensor([True, False])).tolist()
        [1, 3]
        """
        from tinygrad.tensor import Tensor, _broadcast_shape

        if not isinstance(mask, Tensor) or mask.dtype != dtypes.bool:
            raise DTypeError("Tensor.masked_select: mask must be a bool tensor")
        shape = _broadcast_shape("masked_select", self.shape, mask.shape)
        x, m = self._expand_to(shape).flatten(), mask._expand_to(shape).flatten()
        idx = np.flatnonzero(m.numpy()).astype(np.int32)
        return x[Tensor(idx, device=self.device)]

    # ---- indexing ----

    def __getitem__(self: Tensor, indices: Any) -> Tensor:
        """numpy/torch indexing: ints, slices (with steps), None, Ellipsis, bools, int lists/tensors (advanced
        indexing with broadcasting, negative indices count from the end) and bool masks.

        >>> from tinygrad import Tensor
        >>> Tensor.arange(10)[1:8:3].tolist()
        [1, 4, 7]
        >>> Tensor([[1, 2], [3, 4]])[[1, 0], [-1, 0]].tolist()
        [4, 1]
        >>> t = Tensor([1, 5, 2]); t[t > 1].tolist()
        [5, 2]
        """
        from tinygrad.tensor import Tensor

        items = [_parse_index(it) for it in (indices if isinstance(indices, tuple) else (indices,))]
        if sum(1 for k, _ in items if k == "ellipsis") > 1:
            raise IndexError("Tensor.__getitem__: an index can only have a single ellipsis ('...')")
        used = sum(1 if k in ("int", "slice", "tensor", "array") else v.ndim if k == "mask" else 0 for k, v in items)
        if used > self.ndim:
            raise IndexError(f"Tensor.__getitem__: too many indices ({used}) for a {self.ndim}-d tensor")
        fill = [("slice", slice(None))] * (self.ndim - used)
        e = next((i for i, (k, _) in enumerate(items) if k == "ellipsis"), len(items))
        items = items[:e] + fill + items[e + 1 :]

        shrink: list[tuple[int, int]] = []
        flips: list[int] = []
        steps: list[int] = []
        layout: list[tuple[str, int]] = []  # per dim of the basic result: ("new", 0 or 1) or ("src", self dim)
        adv: list[tuple[int, Tensor]] = []  # (dim of the basic result, index tensor with values in range or -1)
        dim = 0
        for kind, v in items:
            if kind == "new":
                layout.append(("new", v))
                continue
            if kind == "int":
                size = self.shape[dim]
                if not -size <= v < size:
                    raise IndexError(f"Tensor.__getitem__: index {v} is out of bounds for dim {dim} of size {size}")
                i = v + size if v < 0 else v
                shrink.append((i, i + 1))
                steps.append(1)
                dim += 1
            elif kind == "slice":
                rng, flip, step = _slice_plan(v, self.shape[dim])
                shrink.append(rng)
                steps.append(step)
                if flip:
                    flips.append(dim)
                layout.append(("src", dim))
                dim += 1
            elif kind in ("array", "tensor"):
                size = self.shape[dim]
                if kind == "array":
                    if v.size and (v.min() < -size or v.max() >= size):
                        bad = v[(v < -size) | (v >= size)].reshape(-1)[0]
                        raise IndexError(f"Tensor.__getitem__: index {bad} is out of bounds for dim {dim} of size "
                                         f"{size}")  # fmt: skip
                    t = Tensor(np.where(v < 0, v + size, v).astype(np.int32), device=self.device)
                else:
                    if v.device != self.device:
                        raise DeviceError(f"Tensor.__getitem__: index is on {v.device}, the tensor on {self.device}")
                    # negatives wrap once; anything still out of range becomes -1, which selects nothing (zeros).
                    # Only < and > here: the core folds (x >= 0) & ... wrongly (test_core_bug_negated_bool_bounds)
                    v = v.cast(least_upper_dtype(v.dtype, dtypes.int32))  # room for v + size
                    t = (v < 0).where(v + size, v) if not dtypes.is_unsigned(v.dtype) else v
                    t = ((t < 0) | (t > size - 1)).where(-1, t)
                shrink.append((0, size))
                steps.append(1)
                layout.append(("src", dim))
                adv.append((len(layout) - 1, t))
                dim += 1
            else:  # bool mask over the next v.ndim dims
                want = self.shape[dim : dim + v.ndim]
                if v.shape != want:
                    raise IndexError(f"Tensor.__getitem__: bool mask of shape {v.shape} does not match the indexed "
                                     f"dims {want} of shape {self.shape}")  # fmt: skip
                # the number of selected elements sets the output shape, so the mask is read here
                for nz in np.nonzero(v.numpy() if isinstance(v, Tensor) else v):
                    shrink.append((0, self.shape[dim]))
                    steps.append(1)
                    layout.append(("src", dim))
                    adv.append((len(layout) - 1, Tensor(nz.astype(np.int32), device=self.device)))
                    dim += 1

        x = self.shrink(shrink)
        if flips:
            x = x.flip(flips)
        for d, s in enumerate(steps):
            if s == 1 or x.shape[d] <= 1:
                continue
            # every s-th element: pad to a multiple of s, view as (n, s), keep column 0
            n = -(-x.shape[d] // s)
            x = x.pad(tuple((0, n * s - x.shape[d]) if i == d else None for i in range(x.ndim)))
            x = x.reshape(*x.shape[:d], n, s, *x.shape[d + 1 :])
            x = x.shrink(tuple((0, 1) if i == d + 1 else None for i in range(x.ndim)))
            x = x.reshape(*x.shape[: d + 1], *x.shape[d + 2 :])
        x = x.reshape(tuple(1 if k == "new" else x.shape[v] for k, v in layout))
        if any(k == "new" and v == 0 for k, v in layout):
            x = x.shrink(tuple((0, 0) if k == "new" and v == 0 else None for k, v in layout))
        return x._advanced_index(adv) if adv else x

    def _advanced_index(self: Tensor, adv: list[tuple[int, Tensor]]) -> Tensor:
        """Index dims `d` with int tensors (values in range, or -1 for nothing), broadcast together (numpy rules)."""
        from tinygrad.tensor import Tensor, _broadcast_shape

        dims = [d for d, _ in adv]
        bshape: tuple[int, ...] = ()
        try:
            for _, t in adv:
                bshape = _broadcast_shape("__getitem__", bshape, t.shape)
        except ShapeError as e:
            raise IndexError(f"Tensor.__getitem__: index tensors of shapes {[t.shape for _, t in adv]} cannot be "
                             "broadcast together") from e  # fmt: skip
        sizes = [self.shape[d] for d in dims]
        rest = [i for i in range(self.ndim) if i not in dims]
        rest_shape = tuple(self.shape[i] for i in rest)
        total = prod(sizes)
        # one flat index over the indexed dims, so a single one-hot comparison does the selection; -1 anywhere
        # (out of range) makes the whole index -1, which selects nothing
        flat: Tensor | None = None
        invalid: Tensor | None = None
        for (_, t), stride in zip(adv, [prod(sizes[j + 1 :]) for j in range(len(sizes))]):
            t = t.cast(least_upper_dtype(t.dtype, dtypes.int32))
            term = t * stride if stride != 1 else t
            flat = term if flat is None else flat + term
            invalid = t < 0 if invalid is None else invalid | (t < 0)
        assert flat is not None and invalid is not None
        flat = invalid.where(-1, flat) if len(adv) > 1 else flat
        flat = flat._expand_to(bshape)
        y = self.permute(*rest, *dims).reshape(*rest_shape, total)
        hit = flat.reshape(*bshape, *(1,) * len(rest), 1) == Tensor.arange(total, device=self.device)
        out = hit.where(y.reshape(*(1,) * len(bshape), *rest_shape, total), 0).sum(-1).cast(self.dtype)
        # torch/numpy: indexed dims next to each other put the broadcast dims in their place, otherwise first
        if dims == list(range(dims[0], dims[0] + len(dims))) and dims[0] > 0:
            nb = len(bshape)
            out = out.permute(*range(nb, nb + dims[0]), *range(nb), *range(nb + dims[0], out.ndim))
        return out


def _cast_scalar(v: Scalar, dt: DType) -> Scalar:
    if dtypes.is_float(dt):
        return float(v)
    if dt == dtypes.bool:
        return bool(v)
    return int(v)


def _parse_index(it: Any) -> tuple[str, Any]:
    """Classify one index item: int, slice, new (None/bool: size 1 or 0), ellipsis, array/tensor (ints), mask."""
    from tinygrad.tensor import Tensor

    if it is None:
        return "new", 1
    if it is Ellipsis:
        return "ellipsis", None
    if isinstance(it, (bool, np.bool_)):
        return "new", int(bool(it))
    if isinstance(it, (int, np.integer)):
        return "int", int(it)
    if isinstance(it, slice):
        for a in (it.start, it.stop, it.step):
            if a is not None and (isinstance(a, bool) or not isinstance(a, (int, np.integer))):
                raise IndexError(f"Tensor.__getitem__: slice bounds must be ints or None, got {it}")
        if it.step == 0:
            raise IndexError("Tensor.__getitem__: slice step cannot be zero")
        return "slice", it
    if isinstance(it, Tensor):
        if it.dtype == dtypes.bool:
            return ("new", int(bool(it.item()))) if it.ndim == 0 else ("mask", it)
        if not dtypes.is_int(it.dtype):
            raise IndexError(f"Tensor.__getitem__: tensors used as indices must be int or bool, got {it.dtype}")
        return "tensor", it
    if isinstance(it, (list, np.ndarray)):
        if isinstance(it, list) and any(isinstance(a, Tensor) for a in it):
            raise IndexError("Tensor.__getitem__: a list of Tensors is not an index; stack them into one tensor")
        try:
            a = np.asarray(it)
        except ValueError as e:
            raise IndexError(f"Tensor.__getitem__: ragged list index {it!r}") from e
        if a.dtype == np.bool_:
            return ("new", int(bool(a))) if a.ndim == 0 else ("mask", a)
        if a.size == 0:
            return "array", a.astype(np.int64)
        if not np.issubdtype(a.dtype, np.integer):
            raise IndexError(f"Tensor.__getitem__: list indices must hold ints or bools, got {a.dtype}")
        return "array", a.astype(np.int64)
    raise IndexError(f"Tensor.__getitem__: unsupported index {it!r} (use ints, slices, None, ..., lists or Tensors)")


def _parse_side(side: str, formula: str) -> list[list[str] | str]:
    """One side of a rearrange pattern as groups of axis names; a top-level "..." is the string "..." itself, one
    inside parentheses a name in its group; unit axes are empty groups."""
    groups: list[list[str] | str] = []
    cur: list[str] | None = None
    seen: set[str] = set()
    for tok in re.findall(r"\.\.\.|[()]|[A-Za-z_][A-Za-z0-9_]*|\d+|\S", side):
        if tok == "(":
            if cur is not None:
                raise ShapeError(f"Tensor.rearrange: nested parentheses in {formula!r}")
            cur = []
        elif tok == ")":
            if cur is None:
                raise ShapeError(f"Tensor.rearrange: unbalanced ')' in {formula!r}")
            groups.append(cur)
            cur = None
        elif tok == "1":
            if cur is None:
                groups.append([])
        elif tok == "..." or re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", tok):
            if tok in seen:
                raise ShapeError(f"Tensor.rearrange: axis {tok!r} appears twice on one side of {formula!r}")
            seen.add(tok)
            if cur is None:
                groups.append(tok if tok == "..." else [tok])
            else:
                cur.append(tok)
        else:
            raise ShapeError(f"Tensor.rearrange: unexpected {tok!r} in {formula!r}; use names, (groups), 1 and ...")
    if cur is not None:
        raise ShapeError(f"Tensor.rearrange: unbalanced '(' in {formula!r}")
    return groups
