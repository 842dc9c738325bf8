"""Tensor methods: neural-network functionals: convolutions, pooling, normalization, attention, losses.

Convolution and pooling share one movement-only helper, `_pool`, that turns the spatial dims into sliding
windows (an extra axis per spatial dim) with pad/reshape/expand/shrink/permute only. A window view copies no
data, so a convolution is "windows * weight, summed" and schedules as a single fused reduce kernel. Its
backward is given as two plain convolutions (tensor_api/conv_backward.py) rather than derived from the view.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from tinygrad.dtype import DType, dtypes, least_upper_float, to_dtype
from tinygrad.errors import AxisError, DTypeError, ShapeError
from tinygrad.helpers import prod

if TYPE_CHECKING:
    from tinygrad.tensor import Tensor

Padding = int | Sequence[int] | str
PoolArgs = tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], list[tuple[int, int]], list[int]]


def _ints(op: str, name: str, v: int | Sequence[int], n: int, lo: int = 1) -> tuple[int, ...]:
    """An int or an n-sequence of ints (each >= lo) as an n-tuple."""
    t = (v,) * n if isinstance(v, int) else tuple(v)
    if len(t) != n or any(not isinstance(x, int) or isinstance(x, bool) for x in t):
        raise ShapeError(f"Tensor.{op}: {name}={v!r} must be an int or a sequence of {n} ints (one per spatial dim)")
    if any(x < lo for x in t):
        raise ShapeError(f"Tensor.{op}: {name}={v!r} must be >= {lo}")
    return t


def _pads(op: str, padding: int | Sequence[int], n: int) -> list[tuple[int, int]]:
    """(before, after) per spatial dim from an int, n ints (symmetric), or 2n ints in torch F.pad order
    (last dim first: left, right, top, bottom, ...)."""
    if isinstance(padding, int):
        p = (padding,) * (2 * n)
    else:
        flat = tuple(padding)
        if len(flat) == n:
            p = tuple(x for q in reversed(flat) for x in (q, q))
        elif len(flat) == 2 * n:
            p = flat
        else:
            raise ShapeError(f"Tensor.{op}: padding={padding!r} must be an int, {n} ints (one per spatial dim) or "
                             f"{2 * n} ints (before/after pairs, last dim first)")  # fmt: skip
    if any(not isinstance(x, int) or isinstance(x, bool) or x < 0 for x in p):
        raise ShapeError(f"Tensor.{op}: padding={padding!r} must be non-negative ints")
    # flat order is last dim first: pair i of the flat tuple pads dim n-1-i
    return [(p[2 * (n - 1 - i)], p[2 * (n - 1 - i) + 1]) for i in range(n)]


def _out_size(op: str, i: int, k: int, s: int, d: int, pad: tuple[int, int], ceil_mode: bool) -> tuple[int, int]:
    """(output length, extra right padding that ceil_mode needs) of a sliding window along one dim."""
    span = d * (k - 1) + 1
    room = i + pad[0] + pad[1] - span
    if room < 0:
        raise ShapeError(f"Tensor.{op}: the window (kernel {k}, dilation {d}, so {span} wide) is larger than the "
                         f"padded input ({i} + padding {pad}); use a smaller kernel or more padding")  # fmt: skip
    o = (-(-room // s) if ceil_mode else room // s) + 1
    # torch's rule: the last window must start inside the input or its left padding
    if ceil_mode and (o - 1) * s >= i + pad[0]:
        o -= 1
    return o, max(0, (o - 1) * s + span - (i + pad[0] + pad[1]))


def _window_last(x: Tensor, k: int, s: int, d: int) -> Tensor:
    """Sliding windows along the last dim, (..., i) -> (..., k, o), by movement ops only.

    Repeat the row, flatten, and re-read it with rows d elements longer: row j then starts j*d further in, so
    element (j, m) is x[j*d + m]. Keeping every s-th m gives x[j*d + o*s] at (j, o), with no data copied."""
    i = x.shape[-1]
    o = (i - d * (k - 1) - 1) // s + 1
    lead = x.shape[:-1]
    # the re-read row must hold o*s elements; pad so it does (the padding is never part of a window)
    i2 = max(i, o * s)
    if i2 != i:
        x = x.pad(((0, 0),) * len(lead) + ((0, i2 - i),))
    row = i2 + d
    reps = -(-(k * row) // i2)
    x = x.reshape(*lead, 1, i2).expand(*lead, reps, i2).reshape(*lead, reps * i2)
    keep = tuple((0, n) for n in lead)
    x = x.shrink(keep + ((0, k * row),)) if reps * i2 != k * row else x
    x = x.reshape(*lead, k, row).shrink(keep + ((0, k), (0, o * s)))
    return x.reshape(*lead, k, o, s).shrink(keep + ((0, k), (0, o), (0, 1))).reshape(*lead, k, o)


def _pool(x: Tensor, ks: tuple[int, ...], st: tuple[int, ...], dl: tuple[int, ...]) -> Tensor:
    """(..., *spatial) -> (..., *out, *ks): the last len(ks) dims become window positions and window offsets."""
    n = len(ks)
    for i in range(n):
        # bring spatial dim i to the end, window it into (k, o), and put o back in place and k at the very end
        # the next spatial dim is n from the end: the n-i not yet windowed, then the i window axes made so far
        ax = x.ndim - n
        rest = [a for a in range(x.ndim) if a != ax]
        x = _window_last(x.permute(*rest, ax), ks[i], st[i], dl[i])
        nd = x.ndim
        # now (*before, *after_spatial, *k_done, k_i, o_i): move o_i back to ax, k_i after the previous ks
        order = list(range(nd - 2))
        order.insert(ax, nd - 1)
        order.append(nd - 2)
        x = x.permute(*order)
    return x


def _stride(op: str, stride: int | Sequence[int] | None, ks: tuple[int, ...]) -> tuple[int, ...]:
    # torch takes None or an empty sequence to mean "the kernel size"
    if stride is None or (not isinstance(stride, int) and len(stride) == 0):
        return ks
    return _ints(op, "stride", stride, len(ks))


def _pool_setup(
    x: Tensor,
    op: str,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] | None,
    dilation: int | Sequence[int],
    padding: int | Sequence[int],
    ceil_mode: bool,
) -> PoolArgs:
    """Validated (kernel, stride, dilation, pads, extra right pads for ceil_mode) of a pooling call."""
    n = 2 if isinstance(kernel_size, int) else len(tuple(kernel_size))
    ks = _ints(op, "kernel_size", kernel_size, n)
    if x.ndim < n:
        raise ShapeError(f"Tensor.{op}: a {n}-d kernel needs at least {n} dims, got shape {x.shape}")
    st = _stride(op, stride, ks)
    dl = _ints(op, "dilation", dilation, n)
    pads = _pads(op, padding, n)
    extra = [_out_size(op, i, k, s, d, p, ceil_mode)[1] for i, k, s, d, p in zip(x.shape[-n:], ks, st, dl, pads)]
    return ks, st, dl, pads, extra


def _conv_grad(
    g: Tensor,
    x: Tensor,
    w: Tensor,
    groups: int,
    st: tuple[int, ...],
    dl: tuple[int, ...],
    pads: tuple[tuple[int, int], ...],
) -> list[Tensor]:
    """conv2d's backward (input, weight gradients), in the inputs' dtypes."""
    from tinygrad.tensor_api.conv_backward import conv_backward

    dx, dw = conv_backward(g, x, w, groups, st, dl, pads)
    return [dx.cast(x.dtype), dw.cast(w.dtype)]


def _reduce_loss(op: str, loss: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.mean()
    raise ValueError(f"Tensor.{op}: reduction must be 'none', 'sum' or 'mean', got {reduction!r}")


def _class_onehot(op: str, y: Tensor, n_classes: int, axis: int, ndim: int) -> Tensor:
    """bool one-hot of integer targets y with the class axis inserted at `axis` of an ndim-d result."""
    from tinygrad.tensor import Tensor

    if not dtypes.is_int(y.dtype):
        raise DTypeError(f"Tensor.{op}: class-index targets must be an int tensor, got {y.dtype}; "
                         "use .cast('int32') or pass probabilities")  # fmt: skip
    classes = Tensor.arange(n_classes, device=y.device).reshape((n_classes,) + (1,) * (ndim - axis - 1))
    return y.unsqueeze(axis) == classes


def _smoothed_nll(picked: Tensor, logp: Tensor, axis: int, smoothing: float) -> Tensor:
    """-(1-s) * log p[target] - s * mean(log p): cross entropy against the target mixed with the uniform one."""
    if smoothing == 0:
        # skipping the mean keeps a -inf log-probability of another class from turning 0 * -inf into nan
        return -picked
    return -picked * (1 - smoothing) - logp.mean(axis) * smoothing


def _masked_mean(total: Tensor, count: Tensor) -> Tensor:
    """total / count; with nothing counted the value is 0/0 = nan but the gradient is zero, as in torch."""
    empty = count == 0
    return empty.where(math.nan, total / empty.where(1, count))


class NNMixin:
    __slots__ = ()

    # ---- convolution ----

    def conv2d(
        self: Tensor,
        weight: Tensor,
        bias: Tensor | None = None,
        groups: int = 1,
        stride: int | Sequence[int] = 1,
        dilation: int | Sequence[int] = 1,
        padding: Padding = 0,
        dtype: DType | str | None = None,
    ) -> Tensor:
        """Cross-correlation of (N, Cin, *spatial) with weight (Cout, Cin/groups, *kernel), over as many spatial
        dims as the weight has (1-D, 2-D, 3-D...). An unbatched (Cin, *spatial) input is accepted too.

        padding: an int, one int per spatial dim, 2 ints per spatial dim in torch F.pad order (last dim first),
        or 'same' / 'valid'. `dtype`, if given, is the dtype products are computed and summed in.

        >>> from tinygrad import Tensor
        >>> Tensor.arange(9).reshape(1, 1, 3, 3).float().conv2d(Tensor.ones(1, 1, 2, 2)).tolist()
        [[[[8.0, 12.0], [20.0, 24.0]]]]
        """
        n = weight.ndim - 2
        if n < 1:
            raise ShapeError(f"Tensor.conv2d: weight {weight.shape} needs shape (Cout, Cin/groups, *kernel)")
        unbatched = self.ndim == n + 1
        x = self.unsqueeze(0) if unbatched else self
        if x.ndim != n + 2:
            raise ShapeError(f"Tensor.conv2d: input {self.shape} does not fit weight {weight.shape}: expected "
                             f"(N, Cin, *{n} spatial dims) or (Cin, *{n} spatial dims)")  # fmt: skip
        bs, cin_all = x.shape[:2]
        cout, cin = weight.shape[:2]
        ks = weight.shape[2:]
        if not isinstance(groups, int) or groups < 1 or cin_all != groups * cin or cout % groups:
            raise ShapeError(f"Tensor.conv2d: input channels {cin_all}, weight {weight.shape} and groups={groups} "
                             "do not fit: need input channels == groups * weight.shape[1] and weight.shape[0] "
                             "divisible by groups")  # fmt: skip
        if bias is not None and bias.shape != (cout,):
            raise ShapeError(f"Tensor.conv2d: bias shape {bias.shape} should be ({cout},), one per output channel")
        st, dl = _ints("conv2d", "stride", stride, n), _ints("conv2d", "dilation", dilation, n)
        if isinstance(padding, str):
            if padding == "valid":
                pads = [(0, 0)] * n
            elif padding == "same":
                if any(s != 1 for s in st):
                    raise ShapeError("Tensor.conv2d: padding='same' needs stride 1; pad explicitly for strides")
                # torch puts the odd element of the total padding on the right
                pads = [((d * (k - 1)) // 2, d * (k - 1) - (d * (k - 1)) // 2) for k, d in zip(ks, dl)]
            else:
                raise ValueError(f"Tensor.conv2d: padding={padding!r}: strings must be 'same' or 'valid'")
        else:
            pads = _pads("conv2d", padding, n)
        for i, k, s, d, p in zip(x.shape[2:], ks, st, dl, pads):
            _out_size("conv2d", i, k, s, d, p, False)
        win = _pool(x.pad(((0, 0), (0, 0), *pads)), ks, st, dl)  # (bs, cin_all, *o, *ks)
        o = win.shape[2 : 2 + n]
        rcout = cout // groups
        # (bs, groups, 1, *o, cin, *ks) against weight (1, groups, rcout, 1.., cin, *ks), summed over cin and ks
        win = win.reshape(bs, groups, cin, 1, *o, *ks)
        win = win.permute(0, 1, 3, *range(4, 4 + n), 2, *range(4 + n, 4 + 2 * n))
        w = weight.reshape(1, groups, rcout, *(1,) * n, cin, *ks)
        if dtype is not None:
            # multiply in the accumulation dtype too: int8 * int8 products already overflow int8
            win, w = win.cast(dtype), w.cast(dtype)
        out = (win * w).sum(axis=tuple(range(-1 - n, 0)), dtype=dtype).reshape(bs, cout, *o)
        if dtypes.is_float(out.dtype):
            # differentiating the window view gives div/mod index math per padded element: use two plain convs
            out = out.custom_gradient([x, weight], _conv_grad, groups, st, dl, tuple(pads))
        if bias is not None:
            out = out + bias.reshape(1, cout, *(1,) * n)
        return out.reshape(out.shape[1:]) if unbatched else out

    def conv_transpose2d(
        self: Tensor,
        weight: Tensor,
        bias: Tensor | None = None,
        groups: int = 1,
        stride: int | Sequence[int] = 1,
        dilation: int | Sequence[int] = 1,
        padding: int | Sequence[int] = 0,
        output_padding: int | Sequence[int] = 0,
    ) -> Tensor:
        """Transposed convolution (the gradient of conv2d with respect to its input) of (N, Cin, *spatial) with
        weight (Cin, Cout/groups, *kernel); output length (i-1)*stride - 2*padding + dilation*(k-1) +
        output_padding + 1 per spatial dim.

        >>> from tinygrad import Tensor
        >>> Tensor([[[1.0, 2.0]]]).conv_transpose2d(Tensor([[[1.0, 10.0]]]), stride=2).tolist()
        [[[1.0, 10.0, 2.0, 20.0]]]
        """
        n = weight.ndim - 2
        if n < 1 or self.ndim != n + 2:
            raise ShapeError(f"Tensor.conv_transpose2d: input {self.shape} and weight {weight.shape} need shapes "
                             "(N, Cin, *spatial) and (Cin, Cout/groups, *kernel), as many spatial dims")  # fmt: skip
        cin_all, rcout, ks = weight.shape[0], weight.shape[1], weight.shape[2:]
        if not isinstance(groups, int) or groups < 1 or self.shape[1] != cin_all or cin_all % groups:
            raise ShapeError(f"Tensor.conv_transpose2d: input channels {self.shape[1]}, weight {weight.shape} and "
                             f"groups={groups} do not fit: need input channels == weight.shape[0], divisible by "
                             "groups")  # fmt: skip
        st = _ints("conv_transpose2d", "stride", stride, n)
        dl = _ints("conv_transpose2d", "dilation", dilation, n)
        op = _ints("conv_transpose2d", "output_padding", output_padding, n, lo=0)
        pads = _pads("conv_transpose2d", padding, n)
        for s, d, p in zip(st, dl, op):
            if p >= max(s, d):
                raise ShapeError(f"Tensor.conv_transpose2d: output_padding={output_padding!r} must be smaller than "
                                 "the stride or the dilation")  # fmt: skip
        for i, k, s, d, (pb, pa), p in zip(self.shape[2:], ks, st, dl, pads, op):
            if (i - 1) * s - pb - pa + d * (k - 1) + p + 1 <= 0:
                raise ShapeError(f"Tensor.conv_transpose2d: padding={padding!r} leaves no output for input "
                                 f"{self.shape}; use less padding")  # fmt: skip
        cin = cin_all // groups
        # the equivalent forward conv uses the kernel flipped, with in/out channels swapped inside each group
        w = weight.reshape(groups, cin, rcout, *ks).transpose(1, 2).flip(*range(3, 3 + n))
        w = w.reshape(groups * rcout, cin, *ks)
        x = self
        if any(s > 1 for s in st):
            # spread the input out: s-1 zeros after every element, trailing ones cut
            bs, c, sp = x.shape[0], x.shape[1], x.shape[2:]
            x = x.reshape(bs, c, *[v for i in sp for v in (i, 1)])
            x = x.pad(((0, 0), (0, 0), *[q for s in st for q in ((0, 0), (0, s - 1))]))
            x = x.reshape(bs, c, *[i * s for i, s in zip(sp, st)])
            x = x.shrink(((0, bs), (0, c), *[(0, (i - 1) * s + 1 if i else 0) for i, s in zip(sp, st)]))
        # full-padding d*(k-1) on each side, minus the requested padding (negative amounts crop)
        full = [(d * (k - 1) - pb, d * (k - 1) - pa + p) for k, d, (pb, pa), p in zip(ks, dl, pads, op)]
        x = x.pad(((0, 0), (0, 0), *full))
        return x.conv2d(w, bias, groups=groups, dilation=dl)

    # ---- pooling ----

    def avg_pool2d(
        self: Tensor,
        kernel_size: int | Sequence[int] = (2, 2),
        stride: int | Sequence[int] | None = None,
        dilation: int | Sequence[int] = 1,
        padding: int | Sequence[int] = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> Tensor:
        """Average over sliding windows of the last len(kernel_size) dims (an int kernel_size means 2 dims).

        stride defaults to kernel_size. count_include_pad counts the zero padding in each window's divisor;
        windows that ceil_mode adds past the padding never count the part outside it (as in torch).

        >>> from tinygrad import Tensor
        >>> Tensor.arange(16).reshape(1, 4, 4).float().avg_pool2d(2).tolist()
        [[[2.5, 4.5], [10.5, 12.5]]]
        """
        from tinygrad.tensor import Tensor

        ks, st, dl, pads, extra = _pool_setup(self, "avg_pool2d", kernel_size, stride, dilation, padding, ceil_mode)
        n = len(ks)
        lead = ((0, 0),) * (self.ndim - n)
        x = self.cast(least_upper_float(self.dtype))
        full = [(b, a + e) for (b, a), e in zip(pads, extra)]
        axes = tuple(range(-n, 0))
        total = _pool(x.pad((*lead, *full)), ks, st, dl).sum(axes)
        if not any(extra) and (count_include_pad or not any(b or a for b, a in pads)):
            return total / prod(ks)
        # per-window divisor: the window cells that count, pooled from a mask expanded to x's full shape so it
        # fuses into the same kernel as the sum instead of being broadcast from a separate one
        ones = Tensor.ones(*self.shape, dtype=x.dtype, device=self.device)
        mask = ones.pad((*lead, *pads), value=1.0 if count_include_pad else 0.0)
        mask = mask.pad((*lead, *[(0, e) for e in extra]))
        return total / _pool(mask, ks, st, dl).sum(axes)

    def max_pool2d(
        self: Tensor,
        kernel_size: int | Sequence[int] = (2, 2),
        stride: int | Sequence[int] | None = None,
        dilation: int | Sequence[int] = 1,
        padding: int | Sequence[int] = 0,
        ceil_mode: bool = False,
        return_indices: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Max over sliding windows of the last len(kernel_size) dims (an int kernel_size means 2 dims); padding
        is -inf (the dtype's minimum for ints); nan propagates. With return_indices, also returns the int64 flat
        index (into the spatial dims) of each window's maximum, for max_unpool2d: the first maximum, or the last
        nan if there is one, as torch picks.

        >>> from tinygrad import Tensor
        >>> Tensor([[[1, 5, 2, 0], [3, 4, 8, 7]]]).max_pool2d((1, 2)).tolist()
        [[[5, 2], [4, 8]]]
        >>> Tensor([[[1.0, 5.0, 2.0, 0.0]]]).max_pool2d((1, 2), return_indices=True)[1].tolist()
        [[[1, 2]]]
        """
        from tinygrad.tensor import Tensor

        ks, st, dl, pads, extra = _pool_setup(self, "max_pool2d", kernel_size, stride, dilation, padding, ceil_mode)
        n = len(ks)
        lead = ((0, 0),) * (self.ndim - n)
        full = (*lead, *[(b, a + e) for (b, a), e in zip(pads, extra)])
        axes = tuple(range(-n, 0))
        win = _pool(self.pad(full, value=dtypes.min(self.dtype)), ks, st, dl)
        out = win.max(axes)
        if not return_indices:
            return out
        spatial = self.shape[-n:]
        size = prod(spatial)
        # padding positions get an index past the end, so a real element always wins the tie-break (min index)
        idx = Tensor.arange(size, device=self.device).reshape(spatial).pad(full[-n:], value=size)
        idx_win = _pool(idx, ks, st, dl)
        hit = win == out.reshape(*out.shape, *(1,) * n)
        first = hit.where(idx_win, size).min(axes)
        if dtypes.is_float(self.dtype):
            # torch's scan keeps replacing its pick with each nan it meets: the window's last nan wins
            last_nan = (win != win).where(idx_win, -1).max(axes)
            first = (last_nan >= 0).where(last_nan, first)
        return out, first.cast(dtypes.int64)

    def max_unpool2d(
        self: Tensor,
        indices: Tensor,
        kernel_size: int | Sequence[int] = (2, 2),
        stride: int | Sequence[int] | None = None,
        dilation: int | Sequence[int] = 1,
        padding: int | Sequence[int] = 0,
        output_size: Sequence[int] | None = None,
    ) -> Tensor:
        """The partial inverse of max_pool2d: each value goes to the flat spatial position its index names, every
        other position is zero. output_size (its last dims) overrides the size computed from the pool arguments.
        A position named by several indices (overlapping windows) gets their mean, which is the pooled value;
        each input still gets the full gradient at its position, as in torch.

        >>> from tinygrad import Tensor
        >>> Tensor([[[5.0, 8.0]]]).max_unpool2d(Tensor([[[1, 2]]]), (1, 2)).tolist()
        [[[0.0, 5.0, 8.0, 0.0]]]
        """
        from tinygrad.tensor import Tensor

        n = 2 if isinstance(kernel_size, int) else len(tuple(kernel_size))
        ks = _ints("max_unpool2d", "kernel_size", kernel_size, n)
        if self.ndim < n or indices.shape != self.shape:
            raise ShapeError(f"Tensor.max_unpool2d: values {self.shape} and indices {indices.shape} must have the "
                             f"same shape with at least {n} dims")  # fmt: skip
        if not dtypes.is_int(indices.dtype):
            raise DTypeError(f"Tensor.max_unpool2d: indices must be an int tensor, got {indices.dtype}")
        st = _stride("max_unpool2d", stride, ks)
        dl = _ints("max_unpool2d", "dilation", dilation, n)
        pads = _pads("max_unpool2d", padding, n)
        if output_size is None:
            out_sp = tuple((i - 1) * s - b - a + d * (k - 1) + 1 for i, k, s, d, (b, a) in
                           zip(self.shape[-n:], ks, st, dl, pads))  # fmt: skip
        else:
            out_sp = tuple(output_size)[-n:]
            if len(out_sp) != n:
                raise ShapeError(f"Tensor.max_unpool2d: output_size={output_size!r} needs at least {n} sizes")
        lead = self.shape[:-n]
        n_in, n_out = prod(self.shape[-n:]), prod(out_sp)
        hit = indices.reshape(*lead, n_in, 1) == Tensor.arange(n_out, device=self.device)
        total = hit.where(self.reshape(*lead, n_in, 1), 0).sum(-2)
        # overlapping pool windows name one position several times, always with the same value: keep one copy.
        # Only the value is corrected; the gradient stays that of the sum, so each input gets the gradient at its
        # position, as torch's backward (a gather) gives it
        count = hit.sum(-2)
        many = count > 1
        if dtypes.is_float(total.dtype):
            total = total + many.where(total / count - total, 0).detach()
        else:
            total = many.where(total // count, total)
        return total.cast(self.dtype).reshape(*lead, *out_sp)

    def interpolate(self: Tensor, size: Sequence[int], mode: str = "linear", align_corners: bool = False) -> Tensor:
        """Resize the last len(size) dims to `size`, as torch.nn.functional.interpolate does for (N, C, *spatial).

        mode: 'nearest', 'nearest-exact', or 'linear' (also 'bilinear'/'trilinear': linear along each resized
        dim). align_corners maps the corner pixels' centers onto each other (linear only).

        >>> from tinygrad import Tensor
        >>> Tensor([[1.0, 3.0]]).interpolate((4,)).tolist()
        [[1.0, 1.5, 2.5, 3.0]]
        >>> Tensor([[1, 2]]).interpolate((4,), mode="nearest").tolist()
        [[1, 1, 2, 2]]
        """
        from tinygrad.tensor import Tensor

        size = tuple(size)
        if len(size) > self.ndim or any(not isinstance(s, int) or s < 1 for s in size):
            raise ShapeError(f"Tensor.interpolate: size={size!r} must be positive ints, at most one per dim of "
                             f"{self.shape}")  # fmt: skip
        linear = mode in ("linear", "bilinear", "trilinear")
        if not linear and mode not in ("nearest", "nearest-exact"):
            raise ValueError(f"Tensor.interpolate: mode={mode!r}: use 'nearest', 'nearest-exact' or 'linear'")
        if align_corners and not linear:
            raise ValueError("Tensor.interpolate: align_corners only applies to linear modes")
        x = self.cast(least_upper_float(self.dtype)) if linear else self
        n = len(size)
        f32 = np.float32
        for i, o in enumerate(size):
            ax = self.ndim - n + i
            inp = x.shape[ax]
            if o == inp:
                continue
            dst = np.arange(o, dtype=f32)
            # index math in float32, as torch does on CPU, so the picked pixels agree exactly
            if linear:
                if align_corners:
                    src = dst * f32((inp - 1) / (o - 1)) if o > 1 else np.zeros(o, f32)
                else:
                    src = np.maximum((dst + f32(0.5)) * (f32(inp) / f32(o)) - f32(0.5), f32(0))
                lo = np.minimum(np.floor(src).astype(np.int64), inp - 1)
                hi = np.minimum(lo + 1, inp - 1)
                lam = (src - lo.astype(f32)).astype(f32)
            else:
                shift = f32(0.5) if mode == "nearest-exact" else f32(0)
                lo = np.minimum(np.floor((dst + shift) * (f32(inp) / f32(o))).astype(np.int64), inp - 1)
            xl = x.transpose(ax, -1).unsqueeze(-2)  # (..., 1, inp)
            cols = np.arange(inp)[None, :]
            # (o, inp) one-hot rows select the source pixels; `where` rather than a weight matmul keeps an inf
            # pixel from turning its zero-weight neighbours into nan. Both taps go in one reduce per dim: two
            # reduces over the previous dim's reduce in one kernel miscompile on CPU (a codegen scoping bug)
            pick_lo = Tensor(lo[:, None] == cols, device=self.device)
            if linear:
                w1 = Tensor(lam[:, None], device=self.device).cast(x.dtype)
                pick_hi = Tensor(hi[:, None] == cols, device=self.device)
                y = (pick_lo.where(xl * (1 - w1), 0) + pick_hi.where(xl * w1, 0)).sum(-1)
            else:
                y = pick_lo.where(xl, 0).sum(-1).cast(x.dtype)
            x = y.transpose(ax, -1)
        return x

    # ---- linear layers and normalization ----

    def linear(self: Tensor, weight: Tensor, bias: Tensor | None = None, dtype: DType | str | None = None) -> Tensor:
        """self @ weight + bias, tinygrad's convention: weight is (in_features, out_features) (torch's F.linear
        takes its transpose). A 1-D weight scales elementwise.

        >>> from tinygrad import Tensor
        >>> Tensor([[1.0, 2.0]]).linear(Tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]), Tensor([0.5, 0.5, 0.5])).tolist()
        [[1.5, 2.5, 3.5]]
        """
        if dtype is not None:
            dt = to_dtype(dtype)
            return self.cast(dt).linear(weight.cast(dt), bias.cast(dt) if bias is not None else None)
        x = self * weight if weight.ndim == 1 else self @ weight
        return x + bias if bias is not None else x

    def sequential(self: Tensor, ll: Sequence[Callable[[Tensor], Tensor]]) -> Tensor:
        """Apply each callable in order, feeding each one's output to the next.

        >>> from tinygrad import Tensor
        >>> Tensor([-1.0, 2.0]).sequential([lambda t: t * 2, Tensor.relu]).tolist()
        [0.0, 4.0]
        """
        return functools.reduce(lambda x, f: f(x), ll, self)

    def layernorm(self: Tensor, axis: int | Sequence[int] = -1, eps: float = 1e-5) -> Tensor:
        """(x - mean) / sqrt(var + eps) over `axis` (biased variance), with no affine parameters.

        >>> from tinygrad import Tensor
        >>> [round(v, 4) for v in Tensor([1.0, 2.0, 3.0]).layernorm().tolist()]
        [-1.2247, 0.0, 1.2247]
        """
        y = self - self.mean(axis, keepdim=True)
        return y * (y * y).mean(axis, keepdim=True).add(eps).rsqrt()

    def batchnorm(
        self: Tensor,
        weight: Tensor | None,
        bias: Tensor | None,
        mean: Tensor,
        invstd: Tensor,
        axis: int | Sequence[int] = 1,
    ) -> Tensor:
        """(x - mean) * weight * invstd + bias, the parameters indexing the dims in `axis` (channels by default).

        >>> from tinygrad import Tensor
        >>> x = Tensor([[1.0, 2.0], [3.0, 4.0]])
        >>> x.batchnorm(None, Tensor([1.0, 0.0]), Tensor([2.0, 3.0]), Tensor([1.0, 0.5])).tolist()
        [[0.0, -0.5], [2.0, 0.5]]
        """
        axes = (axis,) if isinstance(axis, int) else tuple(axis)
        canon = set()
        for a in axes:
            if not -self.ndim <= a < self.ndim:
                raise AxisError(f"Tensor.batchnorm: axis {a} is out of range for a {self.ndim}-d tensor")
            canon.add(a % self.ndim)
        shape = tuple(s if i in canon else 1 for i, s in enumerate(self.shape))

        def fit(t: Tensor, name: str) -> Tensor:
            if prod(t.shape) != prod(shape):
                raise ShapeError(f"Tensor.batchnorm: {name} has shape {t.shape}, expected {prod(shape)} elements "
                                 f"for the dims {sorted(canon)} of input {self.shape}")  # fmt: skip
            return t.reshape(shape)

        x = self - fit(mean, "mean")
        if weight is not None:
            x = x * fit(weight, "weight")
        x = x * (fit(invstd, "invstd") if invstd.ndim == len(canon) else invstd)
        return x + fit(bias, "bias") if bias is not None else x

    def dropout(self: Tensor, p: float = 0.5) -> Tensor:
        """While Tensor.training is set, zero each element with probability p and scale the rest by 1/(1-p);
        otherwise return self unchanged.

        >>> from tinygrad import Tensor
        >>> Tensor([1.0, 2.0]).dropout(0.5).tolist()  # not training
        [1.0, 2.0]
        """
        from tinygrad.tensor import Tensor

        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Tensor.dropout: p={p} must be a probability in [0, 1]")
        if not Tensor.training or p == 0:
            return self
        if p == 1:
            return self.zeros_like()
        keep = Tensor.rand(*self.shape, device=self.device) >= p
        return keep.where(self * (1.0 / (1.0 - p)), 0.0)

    def one_hot(self: Tensor, num_classes: int = -1) -> Tensor:
        """Integer class indices -> a new last axis of length num_classes holding 1 at the index, else 0.
        num_classes=-1 uses max+1 (this realizes the tensor).

        >>> from tinygrad import Tensor
        >>> Tensor([0, 2]).one_hot(3).tolist()
        [[1, 0, 0], [0, 0, 1]]
        """
        from tinygrad.tensor import Tensor

        if not dtypes.is_int(self.dtype):
            raise DTypeError(f"Tensor.one_hot: needs integer class indices, got {self.dtype}; cast with .int()")
        if num_classes == -1:
            if self.numel() == 0:
                raise ShapeError("Tensor.one_hot: cannot infer num_classes from an empty tensor; pass num_classes")
            num_classes = int(self.max().item()) + 1
        if num_classes < 0:
            raise ShapeError(f"Tensor.one_hot: num_classes={num_classes} must be -1 (infer) or >= 0")
        return (self.unsqueeze(-1) == Tensor.arange(num_classes, device=self.device)).where(1, 0)

    def scaled_dot_product_attention(
        self: Tensor,
        key: Tensor,
        value: Tensor,
        attn_mask: Tensor | None = None,
        dropout_p: float = 0.0,
        is_causal: bool = False,
        enable_gqa: bool = False,
        scale: float | None = None,
    ) -> Tensor:
        """softmax(q @ k^T * scale + mask) @ v with q = self (..., L, E), k (..., S, E), v (..., S, Ev).

        attn_mask: bool (True = attend) or float (added to the scores). is_causal masks out keys after the
        query (top-left aligned); a query with no key left gets zeros. scale defaults to 1/sqrt(E). Dropout on
        the weights follows Tensor.dropout (only while training). enable_gqa lets k/v have fewer heads (dim -3)
        than q, each shared by a group of query heads.

        >>> from tinygrad import Tensor
        >>> q = Tensor.zeros(2, 2)  # equal scores: each query averages the values it may see
        >>> q.scaled_dot_product_attention(q, Tensor([[1.0], [3.0]]), is_causal=True).tolist()
        [[1.0], [2.0]]
        """
        from tinygrad.tensor import Tensor

        q, k, v = self, key, value
        if q.ndim < 2 or k.ndim < 2 or v.ndim < 2 or q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
            raise ShapeError(f"Tensor.scaled_dot_product_attention: query {q.shape}, key {k.shape} and value "
                             f"{v.shape} need shapes (..., L, E), (..., S, E), (..., S, Ev)")  # fmt: skip
        if is_causal and attn_mask is not None:
            raise ValueError("Tensor.scaled_dot_product_attention: pass either attn_mask or is_causal, not both")
        if enable_gqa and q.ndim >= 3 and k.ndim >= 3 and q.shape[-3] != k.shape[-3]:
            hq, hk = q.shape[-3], k.shape[-3]
            if hq % hk or v.shape[-3] != hk:
                raise ShapeError(f"Tensor.scaled_dot_product_attention: {hq} query heads cannot be shared by "
                                 f"{hk} key heads and {v.shape[-3]} value heads")  # fmt: skip

            def share(t: Tensor) -> Tensor:
                b = t.shape[:-3]
                t = t.reshape(*b, hk, 1, *t.shape[-2:]).expand(*b, hk, hq // hk, *t.shape[-2:])
                return t.reshape(*b, hq, *t.shape[-2:])

            k, v = share(k), share(v)
        sc = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
        scores = (q @ k.transpose(-2, -1)) * sc
        L, S = q.shape[-2], k.shape[-2]
        if is_causal:
            attn_mask = Tensor.arange(L, device=q.device).reshape(L, 1) >= Tensor.arange(S, device=q.device)
        if attn_mask is not None:
            if attn_mask.dtype == dtypes.bool:
                scores = attn_mask.where(scores, -math.inf)
            else:
                scores = scores + attn_mask
        # softmax that gives a query with every key masked out zero weights (as torch does), not 0/0 = nan
        top = scores.max(-1, keepdim=True)
        e = (scores - (top == -math.inf).where(0.0, top)).exp()
        total = e.sum(-1, keepdim=True)
        # dividing such a row (all e = 0) by 1 instead of 0 keeps nan out of the gradient too
        weights = e / (total == 0).where(1.0, total)
        return weights.dropout(dropout_p) @ v

    # ---- losses ----

    def binary_crossentropy(self: Tensor, Y: Tensor, reduction: str = "mean") -> Tensor:
        """-(Y log p + (1-Y) log(1-p)) with p = self in [0, 1]; each log is clamped at -100 as in torch.

        >>> from tinygrad import Tensor
        >>> round(Tensor([0.5, 0.9]).binary_crossentropy(Tensor([1.0, 1.0])).item(), 3)
        0.399
        """
        loss = -(Y * self.log().maximum(-100.0) + (1 - Y) * (1 - self).log().maximum(-100.0))
        return _reduce_loss("binary_crossentropy", loss, reduction)

    def binary_crossentropy_logits(
        self: Tensor, Y: Tensor, reduction: str = "mean", pos_weight: Tensor | None = None
    ) -> Tensor:
        """binary_crossentropy(sigmoid(self), Y) computed stably from the logits; pos_weight scales the positive
        term (per class, broadcast over the last dim).

        >>> from tinygrad import Tensor
        >>> round(Tensor([0.0, 100.0]).binary_crossentropy_logits(Tensor([1.0, 0.0]), reduction="sum").item(), 4)
        100.6931
        """
        # softplus(-x) = log(1 + e^-x), written so the exponent is never positive
        sp_neg = (-self).maximum(0) + (1 + (-self.abs()).exp()).log()
        weight: Tensor | float = 1.0 if pos_weight is None else 1 + (pos_weight - 1) * Y
        loss = (1 - Y) * self + weight * sp_neg
        return _reduce_loss("binary_crossentropy_logits", loss, reduction)

    def sparse_categorical_crossentropy(
        self: Tensor, Y: Tensor, ignore_index: int = -1, label_smoothing: float = 0.0, reduction: str = "mean"
    ) -> Tensor:
        """Cross entropy of logits (..., C), classes on the LAST axis, against integer targets (...). Targets equal
        to ignore_index add nothing and are left out of the mean. label_smoothing mixes in the uniform target.

        >>> from tinygrad import Tensor
        >>> round(Tensor([[0.0, 0.0], [5.0, 0.0]]).sparse_categorical_crossentropy(Tensor([0, -1])).item(), 4)
        0.6931
        """
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"Tensor.sparse_categorical_crossentropy: label_smoothing={label_smoothing} must be "
                             "in [0, 1]")  # fmt: skip
        if self.ndim < 1 or Y.shape != self.shape[:-1]:
            raise ShapeError(f"Tensor.sparse_categorical_crossentropy: targets {Y.shape} must have the logits' "
                             f"shape {self.shape} without its last (class) dim")  # fmt: skip
        logp = self.log_softmax(-1)
        hit = _class_onehot("sparse_categorical_crossentropy", Y, self.shape[-1], Y.ndim, self.ndim)
        loss = _smoothed_nll(hit.where(logp, 0.0).sum(-1), logp, -1, label_smoothing)
        keep = Y != ignore_index
        loss = keep.where(loss, 0.0)
        if reduction == "mean":
            return _masked_mean(loss.sum(), keep.sum())
        return _reduce_loss("sparse_categorical_crossentropy", loss, reduction)

    def cross_entropy(self: Tensor, Y: Tensor, reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
        """Cross entropy of logits (N, C, ...) or (C,), classes on axis 1 (0 if 1-D) as in torch, against class
        indices (N, ...) or class probabilities with the logits' shape.

        >>> from tinygrad import Tensor
        >>> round(Tensor([[1.0, 2.0, 3.0]]).cross_entropy(Tensor([2])).item(), 4)
        0.4076
        """
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"Tensor.cross_entropy: label_smoothing={label_smoothing} must be in [0, 1]")
        if self.ndim < 1:
            raise ShapeError("Tensor.cross_entropy: logits need a class dim, got a 0-d tensor")
        cax = 1 if self.ndim > 1 else 0
        n_cls = self.shape[cax]
        logp = self.log_softmax(cax)
        if Y.shape == self.shape and not dtypes.is_int(Y.dtype):
            target = Y * (1 - label_smoothing) + label_smoothing / n_cls
            loss = -(logp * target).sum(cax)
        else:
            if Y.shape != self.shape[:cax] + self.shape[cax + 1 :]:
                raise ShapeError(f"Tensor.cross_entropy: targets {Y.shape} must be class indices of shape "
                                 f"{self.shape[:cax] + self.shape[cax + 1:]} or probabilities of shape "
                                 f"{self.shape}")  # fmt: skip
            hit = _class_onehot("cross_entropy", Y, n_cls, cax, self.ndim)
            loss = _smoothed_nll(hit.where(logp, 0.0).sum(cax), logp, cax, label_smoothing)
        return _reduce_loss("cross_entropy", loss, reduction)

    def nll_loss(
        self: Tensor, Y: Tensor, weight: Tensor | None = None, ignore_index: int | None = None, reduction: str = "mean"
    ) -> Tensor:
        """Negative log likelihood of log-probabilities (N, C, ...) or (C,) (classes on axis 1, or 0 if 1-D) at
        integer targets (N, ...). weight (C,) scales each class; the mean divides by the summed weights of the
        targets that are not ignore_index, as in torch.

        >>> from tinygrad import Tensor
        >>> Tensor([[-1.0, -2.0], [-3.0, -4.0]]).nll_loss(Tensor([1, 0])).item()
        2.5
        """
        if self.ndim < 1:
            raise ShapeError("Tensor.nll_loss: log-probabilities need a class dim, got a 0-d tensor")
        cax = 1 if self.ndim > 1 else 0
        n_cls = self.shape[cax]
        if Y.shape != self.shape[:cax] + self.shape[cax + 1 :]:
            raise ShapeError(f"Tensor.nll_loss: targets {Y.shape} must have shape "
                             f"{self.shape[:cax] + self.shape[cax + 1:]} (the input's without dim {cax})")  # fmt: skip
        hit = _class_onehot("nll_loss", Y, n_cls, cax, self.ndim)
        picked = hit.where(self, 0.0).sum(cax)
        if weight is None and ignore_index is None:
            return _reduce_loss("nll_loss", -picked, reduction)
        if weight is not None:
            if weight.shape != (n_cls,):
                raise ShapeError(f"Tensor.nll_loss: weight has shape {weight.shape}, expected ({n_cls},)")
            w = hit.where(weight.reshape((n_cls,) + (1,) * (self.ndim - cax - 1)), 0.0).sum(cax)
        else:
            w = picked.ones_like()
        if ignore_index is not None:
            w = (Y != ignore_index).where(w, 0.0)
        loss = -picked * w
        if reduction == "mean":
            return _masked_mean(loss.sum(), w.sum())
        return _reduce_loss("nll_loss", loss, reduction)
