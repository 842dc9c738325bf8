"""Tensor creation: random initialisers built on `Tensor.rand` / `Tensor.randn`.

The scaled initialisers follow the papers they are named after; their bounds use the fan-in of a weight of shape
(fan_out, fan_in, *kernel), i.e. prod(shape[1:]), the same convention as torch.nn.init for Linear and Conv.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from tinygrad.dtype import DType, to_dtype
from tinygrad.errors import ShapeError
from tinygrad.helpers import argfix, prod

if TYPE_CHECKING:
    from tinygrad.tensor import Tensor


def _shape(op: str, shape: tuple[Any, ...]) -> tuple[int, ...]:
    shp = argfix(*shape)
    if any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in shp):
        raise ShapeError(f"Tensor.{op}: shape {shp} must be non-negative ints")
    return shp


def _fan_in(op: str, shp: tuple[int, ...]) -> int:
    if len(shp) < 1 or prod(shp[1:]) == 0:
        raise ShapeError(f"Tensor.{op}: shape {shp} has no fan-in; it needs at least 1 dim and non-empty shape[1:]")
    return prod(shp[1:])


def _finish(x: Tensor, dtype: DType | str | None, requires_grad: bool | None) -> Tensor:
    from tinygrad.tensor import Tensor

    out = Tensor(x.cast(to_dtype(dtype)).uop if dtype is not None else x.uop)
    out.requires_grad = requires_grad
    return out


class CreationMixin:
    __slots__ = ()

    @staticmethod
    def uniform(*shape: Any, low: float = 0.0, high: float = 1.0, dtype: DType | str | None = None,
                device: str | None = None, requires_grad: bool | None = None) -> Tensor:  # fmt: skip
        """Samples uniform in [low, high).

        >>> from tinygrad import Tensor
        >>> Tensor.manual_seed(0); t = Tensor.uniform(2, 3, low=-2.0, high=-1.0)
        >>> t.shape, bool(((t >= -2) & (t < -1)).all().item())
        ((2, 3), True)
        """
        from tinygrad.tensor import Tensor

        shp = _shape("uniform", shape)
        return _finish(Tensor.rand(*shp, device=device) * (high - low) + low, dtype, requires_grad)

    @staticmethod
    def normal(*shape: Any, mean: float = 0.0, std: float = 1.0, dtype: DType | str | None = None,
               device: str | None = None, requires_grad: bool | None = None) -> Tensor:  # fmt: skip
        """Samples from a normal distribution with the given mean and standard deviation.

        >>> from tinygrad import Tensor
        >>> Tensor.manual_seed(0); Tensor.normal(2, 3, mean=5.0, std=0.0).tolist()
        [[5.0, 5.0, 5.0], [5.0, 5.0, 5.0]]
        """
        from tinygrad.tensor import Tensor

        shp = _shape("normal", shape)
        return _finish(Tensor.randn(*shp, device=device) * std + mean, dtype, requires_grad)

    @staticmethod
    def scaled_uniform(*shape: Any, dtype: DType | str | None = None, device: str | None = None,
                       requires_grad: bool | None = None) -> Tensor:  # fmt: skip
        """Uniform in [-1, 1) scaled by 1/sqrt(numel): the variance shrinks with the tensor's size.

        >>> from tinygrad import Tensor
        >>> Tensor.manual_seed(0); t = Tensor.scaled_uniform(4, 4); bool((t.abs() <= 0.25).all().item())
        True
        """
        from tinygrad.tensor import Tensor

        shp = _shape("scaled_uniform", shape)
        scale = prod(shp) ** -0.5 if prod(shp) else 1.0
        return _finish(Tensor.uniform(*shp, low=-1.0, high=1.0, device=device) * scale, dtype, requires_grad)

    @staticmethod
    def glorot_uniform(*shape: Any, dtype: DType | str | None = None, device: str | None = None,
                       requires_grad: bool | None = None) -> Tensor:  # fmt: skip
        """Xavier/Glorot uniform (Glorot & Bengio, 2010): U(-b, b) with b = sqrt(6 / (shape[0] + prod(shape[1:]))).

        >>> from tinygrad import Tensor
        >>> Tensor.manual_seed(0); t = Tensor.glorot_uniform(3, 3); bool((t.abs() <= 1.0).all().item())
        True
        """
        from tinygrad.tensor import Tensor

        shp = _shape("glorot_uniform", shape)
        bound = math.sqrt(6 / (shp[0] + _fan_in("glorot_uniform", shp)))
        return _finish(Tensor.uniform(*shp, low=-bound, high=bound, device=device), dtype, requires_grad)

    @staticmethod
    def kaiming_uniform(*shape: Any, a: float = 0.01, dtype: DType | str | None = None, device: str | None = None,
                        requires_grad: bool | None = None) -> Tensor:  # fmt: skip
        """He/Kaiming uniform (He et al., 2015) for a leaky-relu slope `a`: U(-b, b) with
        b = sqrt(6 / ((1 + a^2) * fan_in)), fan_in = prod(shape[1:]). a=sqrt(5) gives torch's Linear/Conv default.

        >>> from tinygrad import Tensor
        >>> Tensor.manual_seed(0); t = Tensor.kaiming_uniform(2, 6, a=0.0); bool((t.abs() <= 1.0).all().item())
        True
        """
        from tinygrad.tensor import Tensor

        shp = _shape("kaiming_uniform", shape)
        bound = math.sqrt(6 / ((1 + a * a) * _fan_in("kaiming_uniform", shp)))
        return _finish(Tensor.uniform(*shp, low=-bound, high=bound, device=device), dtype, requires_grad)

    @staticmethod
    def kaiming_normal(*shape: Any, a: float = 0.01, dtype: DType | str | None = None, device: str | None = None,
                       requires_grad: bool | None = None) -> Tensor:  # fmt: skip
        """He/Kaiming normal (He et al., 2015): N(0, std^2) with std = sqrt(2 / ((1 + a^2) * prod(shape[1:]))).

        >>> from tinygrad import Tensor
        >>> Tensor.manual_seed(0); Tensor.kaiming_normal(8, 2).shape
        (8, 2)
        """
        from tinygrad.tensor import Tensor

        shp = _shape("kaiming_normal", shape)
        std = math.sqrt(2 / ((1 + a * a) * _fan_in("kaiming_normal", shp)))
        return _finish(Tensor.normal(*shp, std=std, device=device), dtype, requires_grad)
