"""Neural-network layers: plain classes whose parameters are Tensor attributes and whose `__call__` runs the layer.

Parameters start as PyTorch's do (kaiming_uniform(a=sqrt(5)) weights, U(-1/sqrt(fan_in), 1/sqrt(fan_in))
biases, ones/zeros for norm layers), so a model ported from torch trains the same way. Each parameter is
realized into its own buffer when the layer is built: two layers' fresh `ones` would otherwise be the same
lazy graph node, and gradients and optimizer updates would be shared between them.

Submodules: `tinygrad.nn.optim` (optimizers), `tinygrad.nn.state` (state dicts, file formats),
`tinygrad.nn.datasets` (MNIST), all reachable from `from tinygrad import nn` (`nn.optim.Adam(...)`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from tinygrad.dtype import dtypes
from tinygrad.errors import DTypeError, ShapeError
from tinygrad.helpers import make_tuple, prod
from tinygrad.tensor import Tensor

__all__ = [
    "BatchNorm", "BatchNorm2d", "Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d", "Linear", "GroupNorm",
    "InstanceNorm", "LayerNorm", "LayerNorm2d", "RMSNorm", "Embedding", "LSTMCell", "optim", "state", "datasets",
]  # fmt: skip


def _own(*ts: Tensor | None) -> None:
    """Give each parameter its own realized buffer (see the module docstring), all in one schedule."""
    todo = [t for t in ts if t is not None]
    for t in todo:
        # a fresh buffer per tensor: equal lazy values (two `ones(n)`) are one hash-consed node and would share one
        t.uop = Tensor.empty(*t.shape, dtype=t.dtype, device=t.device).assign(t.detach()).uop
    if todo:
        Tensor.realize(*todo)


def _uniform_bias(n: int, fan_in: int) -> Tensor:
    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return Tensor.uniform(n, low=-bound, high=bound)


def _check_channels(layer: str, x: Tensor, c: int, min_ndim: int = 2) -> None:
    if x.ndim < min_ndim or x.shape[1] != c:
        raise ShapeError(f"{layer}: expected input (N, {c}, ...) with at least {min_ndim} dims, got shape {x.shape}")


# ---- normalization ----


class BatchNorm:
    """Batch normalization over the channel dim 1 of (N, C, ...) inputs (Ioffe & Szegedy, 2015).

    In training mode (`Tensor.training`, `with Tensor.train():` or `Context(TRAINING=1)`) it normalizes with the
    batch statistics and, if track_running_stats, updates running_mean/running_var with `assign`: they are written
    when they are realized (an optimizer's step realizes them with the parameters). Otherwise it uses the running
    statistics. running_var tracks the unbiased variance, as in torch.

    >>> from tinygrad import Tensor, nn
    >>> bn = nn.BatchNorm(2)
    >>> x = Tensor([[[1.0], [2.0]], [[3.0], [6.0]]])
    >>> with Tensor.train(): y = bn(x)
    >>> [[round(v, 3) for v in r] for r in y.reshape(2, 2).tolist()]
    [[-1.0, -1.0], [1.0, 1.0]]
    >>> [round(v, 3) for v in bn.running_mean.realize().tolist()]
    [0.2, 0.4]
    """

    def __init__(self, sz: int, eps: float = 1e-5, affine: bool = True, track_running_stats: bool = True,
                 momentum: float = 0.1) -> None:  # fmt: skip
        self.eps, self.track_running_stats, self.momentum = eps, track_running_stats, momentum
        self.weight: Tensor | None = Tensor.ones(sz) if affine else None
        self.bias: Tensor | None = Tensor.zeros(sz) if affine else None
        self.num_features = sz
        self.running_mean: Tensor | None = None
        self.running_var: Tensor | None = None
        self.num_batches_tracked: Tensor | None = None
        if track_running_stats:
            self.running_mean, self.running_var = Tensor.zeros(sz), Tensor.ones(sz)
            self.num_batches_tracked = Tensor.zeros((), dtype=dtypes.int64)
            # statistics, not parameters: an optimizer given them realizes them with each step but never updates them
            for t in (self.running_mean, self.running_var, self.num_batches_tracked):
                t.requires_grad = False
        _own(self.weight, self.bias, self.running_mean, self.running_var, self.num_batches_tracked)

    def calc_stats(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The batch mean and inverse standard deviation per channel (biased variance, as used to normalize).

        >>> from tinygrad import Tensor, nn
        >>> m, inv = nn.BatchNorm(1, eps=0.0).calc_stats(Tensor([[1.0], [3.0]]))
        >>> m.tolist(), inv.tolist()
        ([2.0], [1.0])
        """
        mean, var = self._batch_stats(x)
        return mean, (var + self.eps).rsqrt()

    def _batch_stats(self, x: Tensor) -> tuple[Tensor, Tensor]:
        axes = tuple(a for a in range(x.ndim) if a != 1)
        mean = x.mean(axis=axes)
        # the variance's gradient through the mean is zero (the deviations sum to 0), so detaching it is exact
        y = x - mean.detach().reshape(1, -1, *(1,) * (x.ndim - 2))
        return mean, (y * y).mean(axis=axes)

    def __call__(self, x: Tensor) -> Tensor:
        _check_channels("BatchNorm", x, self.num_features)
        use_batch = Tensor.training or not self.track_running_stats
        if use_batch:
            mean, var = self._batch_stats(x)
            invstd = (var + self.eps).rsqrt()
            if Tensor.training and self.track_running_stats:
                assert self.running_mean is not None and self.running_var is not None
                assert self.num_batches_tracked is not None
                n = x.numel() // x.shape[1]
                if n < 2:
                    raise ShapeError(f"BatchNorm: training needs more than 1 value per channel, got input {x.shape}")
                m = self.momentum
                rm, rv = self.running_mean, self.running_var
                rm.assign((1 - m) * rm + m * mean.detach())
                rv.assign((1 - m) * rv + m * (n / (n - 1)) * var.detach())
                self.num_batches_tracked.assign(self.num_batches_tracked + 1)
        else:
            assert self.running_mean is not None and self.running_var is not None
            mean, invstd = self.running_mean, (self.running_var + self.eps).rsqrt()
        return x.batchnorm(self.weight, self.bias, mean, invstd)


BatchNorm2d = BatchNorm


class GroupNorm:
    """Group normalization (Wu & He, 2018): channels split into num_groups groups, each normalized over its
    channels and spatial positions, then a per-channel affine.

    >>> from tinygrad import Tensor, nn
    >>> y = nn.GroupNorm(1, 2)(Tensor([[[1.0], [3.0]]]))
    >>> [round(v, 3) for v in y.flatten().tolist()]
    [-1.0, 1.0]
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True) -> None:
        if num_groups < 1 or num_channels % num_groups:
            raise ShapeError(f"GroupNorm: num_channels={num_channels} must be divisible by num_groups={num_groups}")
        self.num_groups, self.num_channels, self.eps = num_groups, num_channels, eps
        self.weight: Tensor | None = Tensor.ones(num_channels) if affine else None
        self.bias: Tensor | None = Tensor.zeros(num_channels) if affine else None
        _own(self.weight, self.bias)

    def __call__(self, x: Tensor) -> Tensor:
        _check_channels("GroupNorm", x, self.num_channels)
        x = x.reshape(x.shape[0], self.num_groups, -1).layernorm(eps=self.eps).reshape(x.shape)
        if self.weight is None or self.bias is None:
            return x
        shp = (1, -1, *(1,) * (x.ndim - 2))
        return x * self.weight.reshape(shp) + self.bias.reshape(shp)


class InstanceNorm:
    """Instance normalization (Ulyanov et al., 2016): each channel of each sample normalized over its spatial
    positions. affine defaults to True, as in tinygrad (torch's InstanceNorm2d defaults to False).

    >>> from tinygrad import Tensor, nn
    >>> y = nn.InstanceNorm(1)(Tensor([[[1.0, 3.0]]]))
    >>> [round(v, 3) for v in y.flatten().tolist()]
    [-1.0, 1.0]
    """

    def __init__(self, num_features: int, eps: float = 1e-5, affine: bool = True) -> None:
        self.num_features, self.eps = num_features, eps
        self.weight: Tensor | None = Tensor.ones(num_features) if affine else None
        self.bias: Tensor | None = Tensor.zeros(num_features) if affine else None
        _own(self.weight, self.bias)

    def __call__(self, x: Tensor) -> Tensor:
        _check_channels("InstanceNorm", x, self.num_features, min_ndim=3)
        x = x.reshape(x.shape[0], self.num_features, -1).layernorm(eps=self.eps).reshape(x.shape)
        if self.weight is None or self.bias is None:
            return x
        shp = (1, -1, *(1,) * (x.ndim - 2))
        return x * self.weight.reshape(shp) + self.bias.reshape(shp)


class LayerNorm:
    """Layer normalization (Ba et al., 2016) over the trailing dims given by normalized_shape.

    >>> from tinygrad import Tensor, nn
    >>> [round(v, 3) for v in nn.LayerNorm(2)(Tensor([1.0, 3.0])).tolist()]
    [-1.0, 1.0]
    """

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5,
                 elementwise_affine: bool = True) -> None:  # fmt: skip
        self.normalized_shape: tuple[int, ...] = make_tuple(normalized_shape, 1)
        self.axis = tuple(-1 - i for i in range(len(self.normalized_shape)))
        self.eps, self.elementwise_affine = eps, elementwise_affine
        self.weight: Tensor | None = Tensor.ones(*self.normalized_shape) if elementwise_affine else None
        self.bias: Tensor | None = Tensor.zeros(*self.normalized_shape) if elementwise_affine else None
        _own(self.weight, self.bias)

    def __call__(self, x: Tensor) -> Tensor:
        n = len(self.normalized_shape)
        if x.shape[x.ndim - n :] != self.normalized_shape or x.ndim < n:
            raise ShapeError(f"LayerNorm: input {x.shape} must end in normalized_shape {self.normalized_shape}")
        x = x.layernorm(eps=self.eps, axis=self.axis)
        if self.weight is None or self.bias is None:
            return x
        return x * self.weight + self.bias


class LayerNorm2d(LayerNorm):
    """LayerNorm over the channel dim of (N, C, H, W) images (as in ConvNeXt): each pixel normalized across C.

    >>> from tinygrad import Tensor, nn
    >>> y = nn.LayerNorm2d(2)(Tensor([[[[1.0]], [[3.0]]]]))
    >>> [round(v, 3) for v in y.flatten().tolist()]
    [-1.0, 1.0]
    """

    def __init__(self, channels: int, eps: float = 1e-5, elementwise_affine: bool = True) -> None:
        super().__init__(channels, eps, elementwise_affine)

    def __call__(self, x: Tensor) -> Tensor:
        _check_channels("LayerNorm2d", x, self.normalized_shape[0], min_ndim=3)
        perm = (0, *range(2, x.ndim), 1)
        inv = (0, x.ndim - 1, *range(1, x.ndim - 1))
        return super().__call__(x.permute(perm)).permute(inv)


class RMSNorm:
    """Root-mean-square normalization (Zhang & Sennrich, 2019) over the last dim: x / sqrt(mean(x^2) + eps) * weight.
    The statistics are computed in float32 even for half inputs.

    >>> from tinygrad import Tensor, nn
    >>> [round(v, 3) for v in nn.RMSNorm(2, eps=0.0)(Tensor([3.0, 4.0])).tolist()]
    [0.849, 1.131]
    """

    def __init__(self, dim: int, eps: float = 1e-6, elementwise_affine: bool = True) -> None:
        self.dim, self.eps = dim, eps
        self.weight: Tensor | None = Tensor.ones(dim) if elementwise_affine else None
        _own(self.weight)

    def _norm(self, x: Tensor) -> Tensor:
        return x * (x.square().mean(-1, keepdim=True) + self.eps).rsqrt()

    def __call__(self, x: Tensor) -> Tensor:
        if x.ndim < 1 or x.shape[-1] != self.dim:
            raise ShapeError(f"RMSNorm: input {x.shape} must end in dim {self.dim}")
        y = self._norm(x.float()).cast(x.dtype) if dtypes.is_float(x.dtype) else self._norm(x.float())
        return y if self.weight is None else y * self.weight


# ---- linear and convolution ----


class Linear:
    """y = x @ weight.T + bias, with weight of shape (out_features, in_features) as in torch.

    >>> from tinygrad import Tensor, nn
    >>> lin = nn.Linear(2, 1)
    >>> _ = Tensor.realize(lin.weight.assign(Tensor([[1.0, 2.0]])), lin.bias.assign(Tensor([0.5])))
    >>> lin(Tensor([[3.0, 4.0]])).tolist()
    [[11.5]]
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        self.weight = Tensor.kaiming_uniform(out_features, in_features, a=math.sqrt(5))
        self.bias: Tensor | None = _uniform_bias(out_features, in_features) if bias else None
        _own(self.weight, self.bias)

    def __call__(self, x: Tensor) -> Tensor:
        if x.ndim < 1 or x.shape[-1] != self.weight.shape[1]:
            raise ShapeError(f"Linear: input {x.shape} must end in in_features={self.weight.shape[1]}")
        return x.linear(self.weight.transpose(), self.bias)


class Conv2d:
    """Convolution (cross-correlation) of (N, in_channels, *spatial) inputs. The kernel's length sets the number of
    spatial dims: an int kernel_size means 2-D. padding is an int, one int per spatial dim, or 'same'/'valid'.
    weight has shape (out_channels, in_channels // groups, *kernel_size).

    >>> from tinygrad import Tensor, nn
    >>> nn.Conv2d(1, 4, 3, padding=1)(Tensor.ones(1, 1, 5, 5)).shape
    (1, 4, 5, 5)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | Sequence[int],
                 stride: int | Sequence[int] = 1, padding: int | Sequence[int] | str = 0,
                 dilation: int | Sequence[int] = 1, groups: int = 1, bias: bool = True) -> None:  # fmt: skip
        self.kernel_size = self._kernel(kernel_size)
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ShapeError(f"{type(self).__name__}: in_channels={in_channels} and out_channels={out_channels} "
                             f"must both be divisible by groups={groups}")  # fmt: skip
        self.stride, self.dilation, self.groups, self.padding = stride, dilation, groups, padding
        self.weight = Tensor.kaiming_uniform(out_channels, in_channels // groups, *self.kernel_size, a=math.sqrt(5))
        fan_in = in_channels // groups * prod(self.kernel_size)
        self.bias: Tensor | None = _uniform_bias(out_channels, fan_in) if bias else None
        _own(self.weight, self.bias)

    def _kernel(self, kernel_size: int | Sequence[int]) -> tuple[int, ...]:
        return make_tuple(kernel_size, 2)

    def __call__(self, x: Tensor) -> Tensor:
        return x.conv2d(self.weight, self.bias, self.groups, self.stride, self.dilation, self.padding)


class Conv1d(Conv2d):
    """1-D convolution of (N, in_channels, L) inputs: Conv2d with a one-dim kernel.

    >>> from tinygrad import Tensor, nn
    >>> nn.Conv1d(2, 3, 3)(Tensor.ones(1, 2, 8)).shape
    (1, 3, 6)
    """

    def _kernel(self, kernel_size: int | Sequence[int]) -> tuple[int, ...]:
        return make_tuple(kernel_size, 1)


class ConvTranspose2d:
    """Transposed convolution of (N, in_channels, *spatial) inputs; weight has shape
    (in_channels, out_channels // groups, *kernel_size) as in torch. An int kernel_size means 2-D.

    >>> from tinygrad import Tensor, nn
    >>> nn.ConvTranspose2d(1, 2, 3, stride=2)(Tensor.ones(1, 1, 4, 4)).shape
    (1, 2, 9, 9)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | Sequence[int],
                 stride: int | Sequence[int] = 1, padding: int | Sequence[int] = 0,
                 output_padding: int | Sequence[int] = 0, dilation: int | Sequence[int] = 1, groups: int = 1,
                 bias: bool = True) -> None:  # fmt: skip
        self.kernel_size = self._kernel(kernel_size)
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ShapeError(f"{type(self).__name__}: in_channels={in_channels} and out_channels={out_channels} "
                             f"must both be divisible by groups={groups}")  # fmt: skip
        self.stride, self.padding, self.output_padding = stride, padding, output_padding
        self.dilation, self.groups = dilation, groups
        # torch computes the fan-in of the transposed weight from its dim 1 (out_channels // groups)
        self.weight = Tensor.kaiming_uniform(in_channels, out_channels // groups, *self.kernel_size, a=math.sqrt(5))
        fan_in = out_channels // groups * prod(self.kernel_size)
        self.bias: Tensor | None = _uniform_bias(out_channels, fan_in) if bias else None
        _own(self.weight, self.bias)

    def _kernel(self, kernel_size: int | Sequence[int]) -> tuple[int, ...]:
        return make_tuple(kernel_size, 2)

    def __call__(self, x: Tensor) -> Tensor:
        return x.conv_transpose2d(self.weight, self.bias, self.groups, self.stride, self.dilation, self.padding,
                                  self.output_padding)  # fmt: skip


class ConvTranspose1d(ConvTranspose2d):
    """1-D transposed convolution of (N, in_channels, L) inputs.

    >>> from tinygrad import Tensor, nn
    >>> nn.ConvTranspose1d(2, 3, 3, stride=2)(Tensor.ones(1, 2, 4)).shape
    (1, 3, 9)
    """

    def _kernel(self, kernel_size: int | Sequence[int]) -> tuple[int, ...]:
        return make_tuple(kernel_size, 1)


# ---- embeddings and recurrent cells ----


class Embedding:
    """A lookup table: integer indices (...) -> rows of weight (..., embed_size). weight starts N(0, 1) as in torch.

    >>> from tinygrad import Tensor, nn
    >>> emb = nn.Embedding(3, 2)
    >>> emb.weight.assign(Tensor([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])).realize().shape
    (3, 2)
    >>> emb(Tensor([[2, 0]])).tolist()
    [[[4.0, 5.0], [0.0, 1.0]]]
    """

    def __init__(self, vocab_size: int, embed_size: int) -> None:
        self.vocab_sz, self.embed_sz = vocab_size, embed_size
        self.weight = Tensor.normal(vocab_size, embed_size)
        _own(self.weight)

    def __call__(self, idx: Tensor) -> Tensor:
        if not dtypes.is_int(idx.dtype):
            raise DTypeError(f"Embedding: indices must be an int tensor, got {idx.dtype}; cast with .int()")
        return self.weight[idx]


class LSTMCell:
    """One step of an LSTM (Hochreiter & Schmidhuber, 1997) with torch's gate order (input, forget, cell, output).
    Call with x (N, input_size) and optionally hc = (h, c), each (N, hidden_size); returns the new (h, c).

    >>> from tinygrad import Tensor, nn
    >>> h, c = nn.LSTMCell(3, 4)(Tensor.ones(2, 3))
    >>> h.shape, c.shape
    ((2, 4), (2, 4))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        self.input_size, self.hidden_size = input_size, hidden_size
        b = 1.0 / math.sqrt(hidden_size)
        self.weight_ih = Tensor.uniform(4 * hidden_size, input_size, low=-b, high=b)
        self.weight_hh = Tensor.uniform(4 * hidden_size, hidden_size, low=-b, high=b)
        self.bias_ih: Tensor | None = Tensor.uniform(4 * hidden_size, low=-b, high=b) if bias else None
        self.bias_hh: Tensor | None = Tensor.uniform(4 * hidden_size, low=-b, high=b) if bias else None
        _own(self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)

    def __call__(self, x: Tensor, hc: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        if x.ndim != 2 or x.shape[1] != self.input_size:
            raise ShapeError(f"LSTMCell: input {x.shape} must be (N, input_size={self.input_size})")
        if hc is None:
            z = Tensor.zeros(x.shape[0], self.hidden_size, dtype=x.dtype, device=x.device)
            hc = (z, z)
        h, c = hc
        if h.shape != (x.shape[0], self.hidden_size) or c.shape != h.shape:
            raise ShapeError(f"LSTMCell: h {h.shape} and c {c.shape} must both be (N={x.shape[0]}, "
                             f"hidden_size={self.hidden_size})")  # fmt: skip
        gates = x.linear(self.weight_ih.transpose(), self.bias_ih) + h.linear(self.weight_hh.transpose(), self.bias_hh)
        i, f, g, o = gates.chunk(4, dim=1)
        new_c = f.sigmoid() * c + i.sigmoid() * g.tanh()
        new_h = o.sigmoid() * new_c.tanh()
        return new_h, new_c


# so `from tinygrad import nn` gives nn.optim, nn.state and nn.datasets (they don't import this module back)
from tinygrad.nn import datasets, optim, state  # noqa: E402
