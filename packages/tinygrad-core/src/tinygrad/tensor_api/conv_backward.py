"""The gradient of a convolution, written as two forward convolutions.

Differentiating the sliding-window view that conv2d is built from gives correct but poor kernels: the backward
of "repeat, flatten, re-read with longer rows" is index arithmetic with divisions by (row length + 1) that no
simplification removes, evaluated for every zero of the padding. Written directly, both gradients are
ordinary convolutions whose windows lower to plain affine indices:
  d input  = the transposed convolution of the output gradient with the same weight
  d weight = the correlation of the input with the output gradient (batch and channels swapped, stride and
             dilation swapped)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tinygrad.tensor import Tensor


def conv_backward(g: Tensor, x: Tensor, w: Tensor, groups: int, st: tuple[int, ...], dl: tuple[int, ...],
                  pads: tuple[tuple[int, int], ...]) -> list[Tensor]:  # fmt: skip
    """Gradients (input, weight) of `x.conv2d(w, groups=groups, stride=st, dilation=dl)` with per-dim (before,
    after) padding `pads`, given the output gradient g (N, Cout, *out)."""
    from tinygrad.tensor import Tensor

    n = w.ndim - 2
    ks, isz, osz = w.shape[2:], x.shape[2:], g.shape[2:]
    # the output length a transposed conv gives falls short of the input by the rows the stride skipped
    outpad = tuple(i - ((o - 1) * s - pb - pa + d * (k - 1) + 1) for i, o, s, d, k, (pb, pa)
                   in zip(isz, osz, st, dl, ks, pads))  # fmt: skip
    # d input: spread g by the stride, pad it fully, and materialize it, so the conv below reads plain memory
    # instead of testing a padding condition on every load; then correlate with the flipped, transposed weight
    bs, cout = g.shape[:2]
    cin = w.shape[1]
    gx = g
    if any(s > 1 for s in st):
        gx = gx.reshape(bs, cout, *[v for o in osz for v in (o, 1)])
        gx = gx.pad(((0, 0), (0, 0), *[q for s in st for q in ((0, 0), (0, s - 1))]))
        gx = gx.reshape(bs, cout, *[o * s for o, s in zip(osz, st)])
        gx = gx.shrink(((0, bs), (0, cout), *[(0, (o - 1) * s + 1) for o, s in zip(osz, st)]))
    full = [(d * (k - 1) - pb, d * (k - 1) - pa + op) for k, d, (pb, pa), op in zip(ks, dl, pads, outpad)]
    gx = gx.pad(((0, 0), (0, 0), *full)).contiguous()
    rc = cout // groups
    wt = w.reshape(groups, rc, cin, *ks).transpose(1, 2).flip(*range(3, 3 + n)).reshape(groups * cin, rc, *ks)
    dx = gx.conv2d(wt, groups=groups, dilation=dl)
    xp = x.pad(((0, 0), (0, 0), *pads))
    rcout = w.shape[0] // groups
    parts = []
    for gi in range(groups):
        xg = xp if groups == 1 else xp[:, gi * cin : (gi + 1) * cin]
        gg = g if groups == 1 else g[:, gi * rcout : (gi + 1) * rcout]
        # channels of x act as the batch and the batch as channels: out (cin, rcout, *k'), k' >= kernel
        dw = xg.transpose(0, 1).conv2d(gg.transpose(0, 1), stride=dl, dilation=st).transpose(0, 1)
        parts.append(dw.shrink(((0, rcout), (0, cin), *((0, k) for k in ks))))
    dwt = parts[0] if len(parts) == 1 else Tensor.cat(*parts, dim=0)
    return [dx, dwt.cast(w.dtype)]
