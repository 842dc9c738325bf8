"""`function`: trace a pure tensor function once per input signature and reuse its graph.

The first call with a given signature (tensor shapes/dtypes/devices plus the non-tensor arguments) runs the
function on placeholder tensors and keeps the graph it builds; later calls only substitute the real inputs into
that graph. Nothing is realized: the result is lazy as usual, fuses with what follows, and is differentiable.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from tinygrad.errors import JitError
from tinygrad.tensor import Tensor
from tinygrad.uop.ops import UOp

F = TypeVar("F", bound=Callable[..., Any])


def _split(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[list[Tensor], Any]:
    tensors: list[Tensor] = []

    def key(x: Any) -> Any:
        if isinstance(x, Tensor):
            tensors.append(x)
            return ("T", x.shape, x.dtype, x.device)
        if isinstance(x, (list, tuple)):
            return (type(x).__name__, tuple(key(v) for v in x))
        if isinstance(x, dict):
            return ("dict", tuple((k, key(v)) for k, v in sorted(x.items())))
        try:
            hash(x)
        except TypeError as e:
            raise JitError(f"function: argument {x!r} is neither a Tensor nor hashable; pass tensors, numbers, "
                           "strings or tuples") from e  # fmt: skip
        return ("V", x)

    k = (tuple(key(a) for a in args), tuple((n, key(v)) for n, v in sorted(kwargs.items())))
    return tensors, k


def _rebuild(x: Any, it: Any) -> Any:
    if isinstance(x, Tensor):
        return next(it)
    if isinstance(x, (list, tuple)):
        return type(x)(_rebuild(v, it) for v in x)
    if isinstance(x, dict):
        return {k: _rebuild(v, it) for k, v in x.items()}
    return x


def function(fxn: F) -> F:
    """Decorator: cache the traced graph of a pure tensor function per input signature.

    >>> from tinygrad import Tensor, function
    >>> @function
    ... def f(a, b): return (a * b + 1).relu()
    >>> f(Tensor([1.0, -2.0]), Tensor([3.0, 3.0])).tolist()
    [4.0, 0.0]
    """
    cache: dict[Any, tuple[list[UOp], Any]] = {}

    @functools.wraps(fxn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        tensors, key = _split(args, kwargs)
        if key not in cache:
            placeholders = [Tensor(UOp.new_buffer(t.device, t.numel(), t.dtype).reshape(t.shape)) for t in tensors]
            it = iter(placeholders)
            p_args = tuple(_rebuild(a, it) for a in args)
            p_kwargs = {k: _rebuild(v, it) for k, v in kwargs.items()}
            out = fxn(*p_args, **p_kwargs)
            cache[key] = ([p.uop for p in placeholders], out)
        ph, out = cache[key]
        mapping = {p: t.uop for p, t in zip(ph, tensors)}

        def sub(x: Any) -> Any:
            if isinstance(x, Tensor):
                return Tensor(x.uop.substitute(mapping))
            if isinstance(x, (list, tuple)):
                return type(x)(sub(v) for v in x)
            if isinstance(x, dict):
                return {k: sub(v) for k, v in x.items()}
            return x

        return sub(out)

    wrapper.cache = cache  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]

