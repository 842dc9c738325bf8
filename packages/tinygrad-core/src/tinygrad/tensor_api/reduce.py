"""Tensor methods: reductions and scans: var/std, logsumexp, argmax, cumulative ops, sort/topk, einsum, matmul.

Everything here lowers to the primitives of `tinygrad/tensor.py` (elementwise ops, where, movement ops and the
ADD/MUL/MAX reductions), so gradients come from `gradient.py` and kernels fuse like any other expression.

Dtype conventions follow tinygrad rather than torch where they differ: sums, cumulative sums and products of
small ints and bool accumulate in int32 (uint32 for unsigned), indices (argmax, sort, topk, multinomial) are int32,
and cummax/cummin return only the values.
"""

from __future__ import annotations

import math
import string
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from tinygrad.dtype import DType, dtypes, least_upper_dtype, least_upper_float, to_dtype
from tinygrad.errors import AxisError, DTypeError, ShapeError
from tinygrad.helpers import prod
from tinygrad.uop.ops import Ops

if TYPE_CHECKING:
    from tinygrad.tensor import Tensor

# A scan over n elements of one block builds an (n, n) masked matrix inside one fused reduce kernel; past this
# length the axis is split into about sqrt(n) blocks of about sqrt(n), so the work is O(n sqrt n), not O(n^2).
SCAN_BLOCK = 256


def _axis(op: str, axis: int, ndim: int) -> int:
    lo, hi = (-ndim, ndim - 1) if ndim else (-1, 0)
    if not isinstance(axis, int) or not lo <= axis <= hi:
        raise AxisError(f"Tensor.{op}: axis {axis!r} is out of range for a {ndim}-d tensor (valid: {lo}..{hi})")
    return axis + ndim if axis < 0 and ndim else axis if ndim else 0


def _to_last(x: Tensor, axis: int) -> Tensor:
    """Move `axis` to the end (the inverse is _from_last with the same axis)."""
    order = [i for i in range(x.ndim) if i != axis] + [axis]
    return x if axis == x.ndim - 1 else x.permute(order)


def _from_last(x: Tensor, axis: int) -> Tensor:
    order = list(range(x.ndim - 1))
    order.insert(axis, x.ndim - 1)
    return x if axis == x.ndim - 1 else x.permute(order)


def _isnan(x: Tensor) -> Tensor:
    return x != x if dtypes.is_float(x.dtype) else x.zeros_like(dtype=dtypes.bool)


def _isinf(x: Tensor) -> Tensor:
    return x.abs() == math.inf if dtypes.is_float(x.dtype) else x.zeros_like(dtype=dtypes.bool)


def _isfinite(x: Tensor) -> Tensor:
    # inf - inf and nan - nan are nan, which is the only value that is not equal to 0
    return (x - x) == 0 if dtypes.is_float(x.dtype) else x.ones_like(dtype=dtypes.bool)


def _safe_prod(x: Tensor, axis: int | Sequence[int] | None, keepdim: bool) -> Tensor:
    """Product of a float tensor whose gradient is right with zeros in the input (prod/x would give nan).

    With z zeros the product of the nonzero elements p carries the gradient: z == 0 gives p itself; z == 1 gives
    p * (the zero element), whose derivative in that element is p and 0 elsewhere; z >= 2 gives p * 0.
    """
    is_zero = x == 0
    nz = is_zero.sum(axis, keepdim)
    p = is_zero.where(1.0, x)._reduce(Ops.MUL, axis, keepdim, "prod")
    the_zero = is_zero.where(x, 0.0).sum(axis, keepdim)
    return (nz == 0).where(p, (nz == 1).where(p * the_zero, p * 0.0))


def _logsumexp(x: Tensor, axis: int | Sequence[int] | None, keepdim: bool) -> Tensor:
    # subtracting the max keeps exp in range; an infinite max is replaced by 0 so that all -inf gives
    # log(0) = -inf and a +inf element gives +inf, instead of inf - inf = nan. The shift cancels out of the
    # value, so it is detached: its gradient is zero anyway, and autograd through max costs a mask and a count
    m = x.max(axis, keepdim=True).detach()
    m = _isinf(m).where(0.0, m)
    s = (x - m).exp().sum(axis, keepdim).log()
    return s + (m if keepdim else m.reshape(s.shape))


def _logaddexp(a: Tensor, b: Tensor) -> Tensor:
    m = a.maximum(b).detach()
    m = _isinf(m).where(0.0, m)
    return ((a - m).exp() + (b - m).exp()).log() + m


# scan kind -> (reduce over the last axis, combine a prefix with a partial result)
_SCAN_OPS: dict[str, tuple[Callable[[Tensor], Tensor], Callable[[Tensor, Tensor], Tensor]]] = {
    "sum": (lambda t: t.sum(-1), lambda a, b: a + b),
    "prod": (
        lambda t: _safe_prod(t, -1, False) if dtypes.is_float(t.dtype) else t._reduce(Ops.MUL, -1, False, "prod"),
        lambda a, b: a * b,
    ),
    "max": (lambda t: t.max(-1), lambda a, b: a.maximum(b)),
    "logsumexp": (lambda t: _logsumexp(t, -1, False), _logaddexp),
}


def _scan_identity(kind: str, dt: DType) -> float | int | bool:
    if kind == "sum":
        return False if dt == dtypes.bool else 0
    if kind == "prod":
        return True if dt == dtypes.bool else 1
    return dtypes.min(dt)  # max and logsumexp: -inf for floats


def _scan_last(x: Tensor, kind: str) -> Tensor:
    """Inclusive scan along the last axis (x already has the accumulation dtype)."""
    from tinygrad.tensor import Tensor

    reduce, combine = _SCAN_OPS[kind]
    n, batch, ident = x.shape[-1], x.shape[:-1], _scan_identity(kind, x.dtype)
    if n <= SCAN_BLOCK:
        # row i of an (n, n) matrix holds x[:i+1] and the identity after it; reducing the rows scans
        i = Tensor.arange(n, device=x.device)
        keep = i.reshape(n, 1) >= i.reshape(1, n)
        return reduce(keep.where(x.reshape(*batch, 1, n).expand(*batch, n, n), ident).cast(x.dtype))
    # two levels: scan each block, scan the block totals, and combine each block with its exclusive prefix
    b = min(SCAN_BLOCK, max(16, 1 << math.isqrt(n - 1).bit_length()))
    nb = -(-n // b)
    xp = x.pad(((0, 0),) * len(batch) + ((0, nb * b - n),), value=ident)
    inner = _scan_last(xp.reshape(*batch, nb, b), kind)
    carry = _scan_last(inner[..., b - 1], kind)
    carry = carry.pad(((0, 0),) * len(batch) + ((1, -1),), value=ident)
    out = combine(carry.reshape(*batch, nb, 1), inner).reshape(*batch, nb * b)
    return out.shrink(tuple((0, s) for s in batch) + ((0, n),))


def _scan(x: Tensor, axis: int, kind: str, op: str) -> Tensor:
    if x.ndim == 0:
        return _scan(x.reshape(1), _axis(op, axis, 0), kind, op).reshape(())
    ax = _axis(op, axis, x.ndim)
    if x.shape[ax] == 0:
        return x
    return _from_last(_scan_last(_to_last(x, ax), kind), ax)


def _bitonic_sort(keys: Tensor, n: int, descending: bool, payloads: Sequence[Tensor] = ()) -> list[Tensor]:
    """Sort the last axis (a power of two long, the n real elements first) by (key, position).

    Returns [keys, original positions (int32), *payloads], each permuted the same way. Sorting on the pair makes
    the order total, so the result is stable; pads (position >= n) go last and NaN is larger than everything, as
    in torch. It is the bitonic network whose first step in each merge compares mirrored elements, so every
    compare-exchange sorts the same way: log2(p) * (log2(p) + 1) / 2 steps of O(p) elementwise work. Each step is
    its own kernel: a step reads every element twice, so fusing k steps would recompute 2**k times.
    """
    from tinygrad.tensor import Tensor

    p, batch = keys.shape[-1], keys.shape[:-1]
    pos = Tensor.arange(p, device=keys.device).reshape((1,) * len(batch) + (p,)).expand(keys.shape)
    is_float = dtypes.is_float(keys.dtype)

    def before(va: Tensor, ia: Tensor, vb: Tensor, ib: Tensor) -> Tensor:
        if descending:
            va, vb = vb, va
        lt, eq = va < vb, va == vb
        if is_float:
            an, bn = _isnan(va), _isnan(vb)
            lt, eq = lt | (bn & ~an), eq | (an & bn)
        # only the keys were swapped for descending: ties still go by ascending position
        key = lt | (eq & (ia < ib))
        pa, pb = ia >= n, ib >= n
        return (pa != pb).where(pb, key)

    first = Tensor.arange(2, device=keys.device).reshape(2, 1) == 0
    ts = [keys, pos, *payloads]
    size = 2
    while size <= p:
        h, mirror = size // 2, True
        while h >= 1:
            shp = (*batch, p // (2 * h), 2, h)
            halves = []
            for t in ts:
                t = t.reshape(shp)
                halves.append((t[..., 0, :], t[..., 1, :].flip(-1) if mirror else t[..., 1, :]))
            (klo, khi), (plo, phi) = halves[0], halves[1]
            swap = before(khi, phi, klo, plo)
            ts = []
            for lo, hi in halves:
                new_lo, new_hi = swap.where(hi, lo), swap.where(lo, hi)
                if mirror:
                    new_hi = new_hi.flip(-1)
                # interleave with where, not pad+add: adding 0 would turn -0.0 into 0.0
                both = first.where(new_lo.reshape(*shp[:-2], 1, h), new_hi.reshape(*shp[:-2], 1, h))
                ts.append(both.reshape(*batch, p).contiguous())
            h, mirror = h // 2, False
        size *= 2
    return ts


def _pad_last(x: Tensor, p: int, value: float = 0.0) -> Tensor:
    return x.pad(((0, 0),) * (x.ndim - 1) + ((0, p - x.shape[-1]),), value=value)


def _sort_backward(g: Tensor, x: Tensor, idx: Tensor) -> list[Tensor | None]:
    """Route the gradient of the sorted values back to where each value came from.

    g[j] belongs to x[idx[j]]: sorting the pairs (idx, g) by idx puts every g[j] at idx[j], with the same
    network as the forward sort (autograd through the forward network would rebuild it as one huge kernel).
    """
    n = g.shape[-1]
    p = 1 << (n - 1).bit_length()
    out = _bitonic_sort(_pad_last(idx, p, n), n, False, [_pad_last(g, p)])[2]
    return [out.shrink(tuple((0, s) for s in g.shape)), None]


def _einsum_parse(formula: str, shapes: list[tuple[int, ...]]) -> tuple[list[str], str]:
    """Expand ellipses into fresh letters (right-aligned across operands) and make the output explicit."""
    f = formula.replace(" ", "")
    lhs, arrow, rhs = f.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ShapeError(f"Tensor.einsum: {formula!r} names {len(terms)} operands but {len(shapes)} were given")
    allowed = set(string.ascii_letters)
    for t in [*terms, rhs]:
        if t.count("...") > 1 or set(t.replace("...", "")) - allowed:
            raise ValueError(f"Tensor.einsum: bad term {t!r} in {formula!r}: use letters and at most one '...'")
    ell_dims = 0
    for t, s in zip(terms, shapes):
        named = len(t.replace("...", ""))
        if ("..." in t and named > len(s)) or ("..." not in t and named != len(s)):
            raise ShapeError(f"Tensor.einsum: term {t!r} does not fit an operand of shape {s}")
        if "..." in t:
            ell_dims = max(ell_dims, len(s) - named)
    # fresh symbols for the ellipsis dims: characters no formula can contain
    ell = "".join(chr(0x100 + i) for i in range(ell_dims))
    out_terms = [t.replace("...", ell[ell_dims - (len(s) - len(t) + 3) :]) if "..." in t else t
                 for t, s in zip(terms, shapes)]  # fmt: skip
    if arrow:
        out = rhs.replace("...", ell)
    else:
        counts: dict[str, int] = {}
        for t in out_terms:
            for c in t:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, k in counts.items() if k == 1 and c not in ell))
    if len(set(out)) != len(out):
        raise ValueError(f"Tensor.einsum: output {rhs!r} of {formula!r} repeats a letter")
    if missing := set(out) - set("".join(out_terms)):
        raise ValueError(f"Tensor.einsum: output letters {sorted(missing)} of {formula!r} appear in no input")
    return out_terms, out


def _einsum_diagonal(x: Tensor, term: str) -> tuple[Tensor, str]:
    """Collapse repeated letters of one operand to their diagonal ('ii' -> 'i')."""
    while len(set(term)) != len(term):
        c = next(c for c in term if term.count(c) > 1)
        a, b = term.index(c), term.index(c, term.index(c) + 1)
        if x.shape[a] != x.shape[b]:
            raise ShapeError(f"Tensor.einsum: letter {c!r} repeats on dims of sizes {x.shape[a]} and {x.shape[b]}")
        order = [i for i in range(x.ndim) if i != b]
        order.insert(a + 1, b)
        x, term = x.permute(order), "".join(term[i] for i in order)
        # the diagonal of an (n, n) block is every (n+1)-th element of its flattening
        n, pre, post = x.shape[a], x.shape[:a], x.shape[a + 2 :]
        flat = x.reshape(*pre, n * n, *post).pad(((0, 0),) * len(pre) + ((0, n),) + ((0, 0),) * len(post))
        x = flat.reshape(*pre, n, n + 1, *post)[(slice(None),) * (len(pre) + 1) + (0,)]
        term = term[: a + 1] + term[a + 2 :]
    return x, term


class ReduceMixin:
    __slots__ = ()

    # ---- reductions ----

    def prod(self: Tensor, axis: int | Sequence[int] | None = None, keepdim: bool = False,
             dtype: DType | str | None = None) -> Tensor:  # fmt: skip
        """Product over axes (all by default). Small ints and bool multiply in int32, half floats in float32.

        The gradient is right when the input holds zeros, as in torch.

        >>> from tinygrad import Tensor
        >>> Tensor([[1, 2], [3, 4]]).prod(axis=1).tolist()
        [2, 12]
        >>> Tensor([2.0, 0.5, -3.0]).prod().item()
        -3.0
        """
        from tinygrad.tensor import _sum_acc_dtype

        acc = to_dtype(dtype) if dtype is not None else _sum_acc_dtype(self.dtype)
        x = self.cast(acc)
        out = _safe_prod(x, axis, keepdim) if dtypes.is_float(acc) else x._reduce(Ops.MUL, axis, keepdim, "prod")
        return out.cast(self.dtype) if dtype is None and dtypes.is_float(self.dtype) else out

    def isclose(self: Tensor, other: Tensor | float | int, rtol: float = 1e-05, atol: float = 1e-08,
                equal_nan: bool = False) -> Tensor:  # fmt: skip
        """Elementwise |self - other| <= atol + rtol * |other|; equal infinities are close, nan only with equal_nan.

        >>> from tinygrad import Tensor
        >>> Tensor([1.0, 1.0001, math.inf, math.nan]).isclose(Tensor([1.0, 1.0, math.inf, math.nan])).tolist()
        [True, False, True, False]
        >>> Tensor([math.nan]).isclose(math.nan, equal_nan=True).tolist()
        [True]
        """
        a, b = self._broadcasted(other, "isclose")
        eq = a == b
        if not dtypes.is_float(a.dtype) and rtol == 0 and atol == 0:
            return eq
        fa, fb = a.cast(least_upper_float(a.dtype)), b.cast(least_upper_float(b.dtype))
        close = eq | (_isfinite(fa) & _isfinite(fb) & ((fa - fb).abs() <= atol + rtol * fb.abs()))
        return close | (_isnan(fa) & _isnan(fb)) if equal_nan else close

    def allclose(self: Tensor, other: Tensor | float | int, rtol: float = 1e-05, atol: float = 1e-08,
                 equal_nan: bool = False) -> bool:  # fmt: skip
        """True if every element is `isclose` to `other` (a Python bool: this realizes the tensors).

        >>> from tinygrad import Tensor
        >>> Tensor([1.0, 2.0]).allclose(Tensor([1.0, 2.0 + 1e-7]))
        True
        """
        return bool(self.isclose(other, rtol, atol, equal_nan).all().item())

    def var(self: Tensor, axis: int | Sequence[int] | None = None, keepdim: bool = False,
            correction: int | float = 1) -> Tensor:  # fmt: skip
        """Variance over axes, dividing by N - correction (Bessel's correction by default).

        >>> from tinygrad import Tensor
        >>> Tensor([1.0, 2.0, 3.0, 4.0]).var().item()
        1.6666666269302368
        >>> Tensor([[1.0, 3.0], [5.0, 9.0]]).var(axis=1, correction=0).tolist()
        [1.0, 4.0]
        """
        return self.var_mean(axis, keepdim, correction)[0]

    def var_mean(self: Tensor, axis: int | Sequence[int] | None = None, keepdim: bool = False,
                 correction: int | float = 1) -> tuple[Tensor, Tensor]:  # fmt: skip
        """(var, mean) over the same axes, computing the mean once.

        >>> from tinygrad import Tensor
        >>> [t.item() for t in Tensor([1.0, 2.0, 6.0]).var_mean(correction=0)]
        [4.666666507720947, 3.0]
        """
        axes = self._axes("var", axis)
        n = prod(self.shape[a] for a in axes)
        mean = self.mean(axes, keepdim=True)
        # two passes (subtract the mean, then square) avoid the cancellation of E[x^2] - E[x]^2
        var = (self - mean).square().sum(axes, keepdim) / max(0, n - correction)
        return var, mean if keepdim else mean.reshape(var.shape)

    def std(self: Tensor, axis: int | Sequence[int] | None = None, keepdim: bool = False,
            correction: int | float = 1) -> Tensor:  # fmt: skip
        """Standard deviation: the square root of `var`.

        >>> from tinygrad import Tensor
        >>> Tensor([[1.0, 3.0], [5.0, 9.0]]).std(axis=1, correction=0).tolist()
        [1.0, 2.0]
        """
        return self.var(axis, keepdim, correction).sqrt()

    def std_mean(self: Tensor, axis: int | Sequence[int] | None = None, keepdim: bool = False,
                 correction: int | float = 1) -> tuple[Tensor, Tensor]:  # fmt: skip
        """(std, mean) over the same axes.

        >>> from tinygrad import Tensor
        >>> [t.item() for t in Tensor([1.0, 3.0]).std_mean(correction=0)]
        [1.0, 2.0]
        """
        var, mean = self.var_mean(axis, keepdim, correction)
        return var.sqrt(), mean

    def softmax(self: Tensor, axis: int = -1, dtype: DType | str | None = None) -> Tensor:
        """exp(x) / sum(exp(x)) along `axis`, computed with the max subtracted so large inputs do not overflow.

        >>> from tinygrad import Tensor
        >>> [round(v, 4) for v in Tensor([1.0, 2.0, 3.0]).softmax().tolist()]
        [0.09, 0.2447, 0.6652]
        >>> Tensor([1000.0, 1000.0]).softmax().tolist()
        [0.5, 0.5]
        """
        x = self.cast(to_dtype(dtype)) if dtype is not None else self.cast(least_upper_float(self.dtype))
        e = (x - x.max(axis, keepdim=True).detach()).exp()
        return e / e.sum(axis, keepdim=True)

    def log_softmax(self: Tensor, axis: int = -1, dtype: DType | str | None = None) -> Tensor:
        """log(softmax(x)) along `axis`, computed as x - logsumexp(x) so it stays finite where softmax underflows.

        >>> from tinygrad import Tensor
        >>> [round(v, 4) for v in Tensor([0.0, 200.0]).log_softmax().tolist()]
        [-200.0, 0.0]
        """
        x = self.cast(to_dtype(dtype)) if dtype is not None else self.cast(least_upper_float(self.dtype))
        m = x - x.max(axis, keepdim=True).detach()
        return m - m.exp().sum(axis, keepdim=True).log()

    def logsumexp(self: Tensor, axis: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        """log(sum(exp(x))) over axes without overflow; rows of -inf give -inf.

        >>> from tinygrad import Tensor
        >>> round(Tensor([1000.0, 1000.0]).logsumexp().item(), 2)
        1000.69
        >>> Tensor([[-math.inf, -math.inf], [0.0, -math.inf]]).logsumexp(axis=1).tolist()
        [-inf, 0.0]
        """
        return _logsumexp(self.cast(least_upper_float(self.dtype)), axis, keepdim)

    def argmax(self: Tensor, axis: int | None = None, keepdim: bool = False) -> Tensor:
        """Index (int32) of the largest element along `axis`, or of the flattened tensor when axis is None.

        Ties go to the first occurrence and NaN counts as the largest value, as in torch.

        >>> from tinygrad import Tensor
        >>> Tensor([[1, 5, 5], [7, 2, 7]]).argmax(axis=1).tolist()
        [1, 0]
        >>> Tensor([[1, 5], [7, 2]]).argmax().item()
        2
        """
        from tinygrad.tensor import Tensor

        if axis is None:
            out = self.reshape(-1).argmax(0) if self.ndim else self.reshape(1).argmax(0)
            return out.reshape((1,) * self.ndim) if keepdim else out
        ax = _axis("argmax", axis, self.ndim)
        if self.ndim == 0:
            return Tensor(0, dtype=dtypes.int32, device=self.device)
        n = self.shape[ax]
        if n == 0:
            raise ShapeError(f"Tensor.argmax: cannot take the argmax over axis {axis} of size 0 (shape {self.shape})")
        x = self.cast(dtypes.uint8) if self.dtype == dtypes.bool else self
        m = x.max(ax, keepdim=True)
        hit = _isnan(m).where(_isnan(x), x == m) if dtypes.is_float(x.dtype) else x == m
        # counting down from n makes the first hit the largest, so one max reduce finds it
        down = Tensor.arange(n, 0, -1, device=self.device).reshape([n if i == ax else 1 for i in range(self.ndim)])
        return (n - hit.where(down, 0).max(ax, keepdim)).cast(dtypes.int32)

    def argmin(self: Tensor, axis: int | None = None, keepdim: bool = False) -> Tensor:
        """Index (int32) of the smallest element; the first one on ties, NaN counts as the smallest.

        >>> from tinygrad import Tensor
        >>> Tensor([[3, 1, 1], [0, 2, 0]]).argmin(axis=1).tolist()
        [1, 0]
        """
        if dtypes.is_float(self.dtype):
            return (-self).argmax(axis, keepdim)
        # bitwise not reverses the order of signed and unsigned ints alike, without -INT_MIN overflow
        return self.bitwise_not().argmax(axis, keepdim)

    # ---- cumulative ops ----

    def cumsum(self: Tensor, axis: int = 0) -> Tensor:
        """Running sum along `axis` (dtype as `sum`: small ints and bool give int32).

        >>> from tinygrad import Tensor
        >>> Tensor([1, 2, 3, 4]).cumsum().tolist()
        [1, 3, 6, 10]
        >>> Tensor([[1.0, 2.0], [3.0, 4.0]]).cumsum(axis=1).tolist()
        [[1.0, 3.0], [3.0, 7.0]]
        """
        from tinygrad.tensor import _sum_acc_dtype

        out = _scan(self.cast(_sum_acc_dtype(self.dtype)), axis, "sum", "cumsum")
        return out.cast(self.dtype) if dtypes.is_float(self.dtype) else out

    def cumprod(self: Tensor, axis: int) -> Tensor:
        """Running product along `axis` (dtype as `prod`); the gradient is right with zeros in the input.

        >>> from tinygrad import Tensor
        >>> Tensor([1, 2, 3, 4]).cumprod(0).tolist()
        [1, 2, 6, 24]
        """
        from tinygrad.tensor import _sum_acc_dtype

        out = _scan(self.cast(_sum_acc_dtype(self.dtype)), axis, "prod", "cumprod")
        return out.cast(self.dtype) if dtypes.is_float(self.dtype) else out

    def cummax(self: Tensor, axis: int = 0) -> Tensor:
        """Running maximum along `axis`. Returns only the values (as tinygrad does; torch also returns indices).

        NaN propagates to every later position; the gradient is split evenly among tied maxima.

        >>> from tinygrad import Tensor
        >>> Tensor([1, 3, 2, 5, 4]).cummax().tolist()
        [1, 3, 3, 5, 5]
        """
        return _scan(self, axis, "max", "cummax")

    def cummin(self: Tensor, axis: int = 0) -> Tensor:
        """Running minimum along `axis`. Returns only the values, like `cummax`.

        >>> from tinygrad import Tensor
        >>> Tensor([4, 5, 2, 3, 1]).cummin().tolist()
        [4, 4, 2, 2, 1]
        """
        if dtypes.is_float(self.dtype):
            return -_scan(-self, axis, "max", "cummin")
        return _scan(self.bitwise_not(), axis, "max", "cummin").bitwise_not()

    def logcumsumexp(self: Tensor, axis: int = 0) -> Tensor:
        """log(cumsum(exp(x))) along `axis`, stable for large and very negative inputs.

        >>> from tinygrad import Tensor
        >>> [round(v, 4) for v in Tensor([0.0, 0.0, 1000.0]).logcumsumexp().tolist()]
        [0.0, 0.6931, 1000.0]
        """
        return _scan(self.cast(least_upper_float(self.dtype)), axis, "logsumexp", "logcumsumexp")

    # ---- triangles ----

    def _tri_mask(self: Tensor, op: str, diagonal: int, upper: bool) -> Tensor:
        from tinygrad.tensor import Tensor

        if self.ndim < 2:
            raise ShapeError(f"Tensor.{op}: needs at least 2 dims, got shape {self.shape}")
        r, c = self.shape[-2:]
        offset = Tensor.arange(c, device=self.device).reshape(1, c) - Tensor.arange(r, device=self.device).reshape(r, 1)
        keep = offset >= diagonal if upper else offset <= diagonal
        return keep.where(self, self.zeros_like())

    def triu(self: Tensor, diagonal: int = 0) -> Tensor:
        """Keep the upper triangle of the last two dims (column - row >= diagonal), zero the rest.

        >>> from tinygrad import Tensor
        >>> Tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9]]).triu().tolist()
        [[1, 2, 3], [0, 5, 6], [0, 0, 9]]
        >>> Tensor([[1, 2, 3], [4, 5, 6]]).triu(1).tolist()
        [[0, 2, 3], [0, 0, 6]]
        """
        return self._tri_mask("triu", diagonal, upper=True)

    def tril(self: Tensor, diagonal: int = 0) -> Tensor:
        """Keep the lower triangle of the last two dims (column - row <= diagonal), zero the rest.

        >>> from tinygrad import Tensor
        >>> Tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9]]).tril().tolist()
        [[1, 0, 0], [4, 5, 0], [7, 8, 9]]
        >>> Tensor([[1, 2, 3], [4, 5, 6]]).tril(-1).tolist()
        [[0, 0, 0], [4, 0, 0]]
        """
        return self._tri_mask("tril", diagonal, upper=False)

    # ---- sorting ----

    def sort(self: Tensor, dim: int = -1, descending: bool = False) -> tuple[Tensor, Tensor]:
        """(values, indices) sorted along `dim`; indices are int32.

        The sort is stable (ties keep their original order, as torch's stable=True) and NaN sorts as the largest
        value. It is a bitonic network over the axis padded to a power of two: O(n log^2 n) work in log^2 n steps.

        >>> from tinygrad import Tensor
        >>> v, i = Tensor([3, 1, 2, 1]).sort(); v.tolist(), i.tolist()
        ([1, 1, 2, 3], [1, 3, 2, 0])
        >>> v, i = Tensor([3.0, 1.0, 2.0]).sort(descending=True); v.tolist(), i.tolist()
        ([3.0, 2.0, 1.0], [0, 2, 1])
        """
        from tinygrad.tensor import Tensor

        if self.ndim == 0:
            _axis("sort", dim, 0)
            return self, Tensor(0, dtype=dtypes.int32, device=self.device)
        ax = _axis("sort", dim, self.ndim)
        n = self.shape[ax]
        if n <= 1 or self.numel() == 0:
            return self, self.zeros_like(dtype=dtypes.int32)
        x = _to_last(self, ax)
        # comparisons on bool are not defined everywhere: sort its 0/1 bytes
        keys = x.cast(dtypes.uint8) if self.dtype == dtypes.bool else x
        p = 1 << (n - 1).bit_length()
        keys, idx = _bitonic_sort(_pad_last(keys, p), n, descending)[:2]
        keep = tuple((0, s) for s in x.shape)
        vals, idx = keys.shrink(keep).cast(self.dtype), idx.shrink(keep).cast(dtypes.int32)
        if dtypes.is_float(self.dtype):
            vals = vals.custom_gradient([x, idx], _sort_backward)
        return _from_last(vals, ax), _from_last(idx, ax)

    def argsort(self: Tensor, dim: int = -1, descending: bool = False) -> Tensor:
        """The int32 indices that sort `dim` (stably).

        >>> from tinygrad import Tensor
        >>> Tensor([[2, 0, 1], [0, 2, 1]]).argsort().tolist()
        [[1, 2, 0], [0, 2, 1]]
        """
        return self.sort(dim, descending)[1]

    def topk(self: Tensor, k: int, dim: int = -1, largest: bool = True, sorted_: bool = True) -> tuple[Tensor, Tensor]:
        """(values, int32 indices) of the k largest (or smallest) elements along `dim`, in sorted order.

        Ties go to the lower index. `sorted_` is accepted for torch compatibility; the result is always sorted.

        >>> from tinygrad import Tensor
        >>> v, i = Tensor([1, 9, 3, 7]).topk(2); v.tolist(), i.tolist()
        ([9, 7], [1, 3])
        >>> Tensor([1.0, 9.0, 3.0, 7.0]).topk(2, largest=False)[0].tolist()
        [1.0, 3.0]
        """
        ax = _axis("topk", dim, self.ndim)
        n = self.shape[ax] if self.ndim else 1
        if not isinstance(k, int) or not 0 <= k <= n:
            raise ShapeError(f"Tensor.topk: k={k!r} must be an int in 0..{n} (the size of dim {dim})")
        vals, idx = self.sort(ax, descending=largest)
        if self.ndim == 0:
            return vals, idx
        keep = tuple((0, k) if i == ax else None for i in range(self.ndim))
        return vals.shrink(keep), idx.shrink(keep)

    # ---- sampling ----

    def multinomial(self: Tensor, num_samples: int = 1, replacement: bool = False) -> Tensor:
        """Draw int32 category indices from rows of non-negative weights (1-d or 2-d), using Tensor.rand.

        With replacement it inverts the cumulative distribution; without, it takes the top num_samples of
        log(w) + Gumbel noise, which draws categories one at a time in proportion to the remaining weights.

        >>> from tinygrad import Tensor
        >>> Tensor.manual_seed(0); Tensor([0.0, 1.0, 0.0]).multinomial(4, replacement=True).tolist()
        [1, 1, 1, 1]
        """
        from tinygrad.tensor import Tensor

        if not 1 <= self.ndim <= 2:
            raise ShapeError(f"Tensor.multinomial: weights must be 1-d or 2-d, got shape {self.shape}")
        if not isinstance(num_samples, int) or num_samples < 1:
            raise ValueError(f"Tensor.multinomial: num_samples must be a positive int, got {num_samples!r}")
        w = self.reshape(1, -1) if self.ndim == 1 else self
        rows, n = w.shape
        if n == 0:
            raise ShapeError("Tensor.multinomial: the weights have no categories")
        if not replacement and num_samples > n:
            raise ValueError(f"Tensor.multinomial: cannot draw {num_samples} samples from {n} categories without "
                             "replacement; pass replacement=True or draw fewer")  # fmt: skip
        w = w.cast(least_upper_float(w.dtype))
        if replacement:
            cdf = w.cumsum(1)
            # dividing by the last entry makes the final cdf value exactly 1.0, so u < 1 never runs past the end
            cdf = cdf / cdf[:, -1:]
            u = Tensor.rand(rows, num_samples, 1, device=self.device)
            out = (u >= cdf.reshape(rows, 1, n)).sum(2)
        else:
            u = Tensor.rand(rows, n, device=self.device)
            keys = w.log() - (-(1 - u).log()).log()
            out = keys.topk(num_samples, dim=1)[1]
        out = out.cast(dtypes.int32)
        return out.reshape(num_samples) if self.ndim == 1 else out

    # ---- contractions ----

    @staticmethod
    def einsum(formula: str, *operands: Tensor | Sequence[Tensor], dtype: DType | str | None = None) -> Tensor:
        """Sum of products over the index letters in `formula` (numpy/torch notation).

        Supports implicit output (letters used once, sorted), '...' broadcast dims, repeated letters in one
        operand (diagonals, e.g. 'ii->i') and any number of operands.

        >>> from tinygrad import Tensor
        >>> a, b = Tensor([[1, 2], [3, 4]]), Tensor([[5, 6], [7, 8]])
        >>> Tensor.einsum("ij,jk->ik", a, b).tolist()
        [[19, 22], [43, 50]]
        >>> Tensor.einsum("ii", a).item()
        5
        >>> Tensor.einsum("...ij->...ji", a).tolist()
        [[1, 3], [2, 4]]
        """
        from tinygrad.tensor import Tensor

        flat = operands[0] if len(operands) == 1 and not isinstance(operands[0], Tensor) else operands
        ops: list[Tensor] = [t for t in flat if isinstance(t, Tensor)]
        if len(ops) != len(flat) or not ops:
            got = [type(t).__name__ for t in flat]
            raise DTypeError(f"Tensor.einsum: {formula!r} needs Tensor operands, got {got}")
        terms, out = _einsum_parse(formula, [t.shape for t in ops])
        xs = [_einsum_diagonal(t, term) for t, term in zip(ops, terms)]
        sizes: dict[str, int] = {}
        for x, term in xs:
            for c, s in zip(term, x.shape):
                if c in sizes and sizes[c] != s and 1 not in (sizes[c], s):
                    raise ShapeError(f"Tensor.einsum: letter {c!r} has sizes {sizes[c]} and {s} in {formula!r}")
                sizes[c] = s if s != 1 else sizes.get(c, 1)
        letters = out + "".join(sorted(set(sizes) - set(out)))
        full = tuple(sizes[c] for c in letters)
        aligned = []
        for x, term in xs:
            # operand dims in `letters` order, with size 1 for the letters it lacks, then broadcast
            x = x.permute(sorted(range(len(term)), key=lambda i: letters.index(term[i])))
            present = sorted(term, key=letters.index)
            x = x.reshape(tuple(x.shape[present.index(c)] if c in present else 1 for c in letters))
            aligned.append(x.expand(full))
        dt = least_upper_dtype(*(x.dtype for x in aligned))
        p = aligned[0].cast(dt)
        for x in aligned[1:]:
            p = p * x.cast(dt)
        summed = tuple(range(len(out), len(letters)))
        if summed:
            res = p.sum(summed, dtype=dtype)
            return res.cast(dt) if dtype is None else res
        return p.cast(to_dtype(dtype)) if dtype is not None else p

    def dot(self: Tensor, w: Tensor, dtype: DType | str | None = None) -> Tensor:
        """Matrix product with numpy/torch rules: 1-d operands are vectors, batch dims broadcast.

        The result has the promoted dtype of the operands (ints accumulate in at least 32 bits and wrap back, as
        in torch), or `dtype` when given.

        >>> from tinygrad import Tensor
        >>> (Tensor([[1, 2], [3, 4]]) @ Tensor([[1], [1]])).tolist()
        [[3], [7]]
        >>> Tensor([1.0, 2.0]).dot(Tensor([3.0, 4.0])).item()
        11.0
        """
        from tinygrad.tensor import Tensor

        if not isinstance(w, Tensor):
            raise DTypeError(f"Tensor.matmul: the other operand must be a Tensor, got {type(w).__name__}")
        if self.ndim == 0 or w.ndim == 0:
            raise ShapeError(f"Tensor.matmul: both operands need at least 1 dim, got {self.shape} and {w.shape}")
        x, y = self, w
        k = x.shape[-1]
        ky = y.shape[-2] if y.ndim > 1 else y.shape[0]
        if k != ky:
            raise ShapeError(f"Tensor.matmul: inner dimensions differ: {self.shape} @ {w.shape} ({k} != {ky}); "
                             "transpose one operand or fix its shape")  # fmt: skip
        bx, by = x.shape[:-2], y.shape[:-2]
        for a, b in zip(bx[::-1], by[::-1]):
            if a != b and 1 not in (a, b):
                raise ShapeError(f"Tensor.matmul: batch dims {bx} and {by} of {self.shape} @ {w.shape} do not "
                                 "broadcast; each must match or be 1")  # fmt: skip
        dt = least_upper_dtype(x.dtype, y.dtype)
        x, y = x.cast(dt), y.cast(dt)
        if y.ndim == 1:
            out = (x * y).sum(-1, dtype=dtype)
        elif x.ndim == 1:
            out = (x.reshape(k, 1) * y).sum(-2, dtype=dtype)
        else:
            # (..., n, 1, k) * (..., 1, m, k) summed over k: one reduce kernel, no transposed copy
            x1 = x.reshape(*x.shape[:-1], 1, k)
            y1 = y.transpose(-1, -2).reshape(*y.shape[:-2], 1, y.shape[-1], k)
            out = (x1 * y1).sum(-1, dtype=dtype)
        return out.cast(dt) if dtype is None else out

    def matmul(self: Tensor, x: Tensor, reverse: bool = False, dtype: DType | str | None = None) -> Tensor:
        """self @ x (x @ self with reverse=True); see `dot`.

        >>> from tinygrad import Tensor
        >>> Tensor([[1, 0], [0, 2]]).matmul(Tensor([[3], [4]])).tolist()
        [[3], [8]]
        """
        return x.dot(self, dtype=dtype) if reverse else self.dot(x, dtype=dtype)
