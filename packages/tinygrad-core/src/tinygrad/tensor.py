"""The lazy Tensor: every method builds tensor-graph UOps; nothing runs until realize/numpy/item/tolist."""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Union

import numpy as np

from tinygrad.device import Buffer, Device
from tinygrad.dtype import ConstType, DType, dtypes, least_upper_dtype, least_upper_float, to_dtype
from tinygrad.engine.realize import run_schedule
from tinygrad.errors import AxisError, DeviceError, DTypeError, ShapeError
from tinygrad.gradient import compute_gradient
from tinygrad.helpers import TRAINING, Context, argfix, prod
from tinygrad.schedule import ScheduleItem, buffer_of, commit, create_schedule, realized_buffer
from tinygrad.tensor_api.creation import CreationMixin
from tinygrad.tensor_api.linalg import LinalgMixin
from tinygrad.tensor_api.math import MathMixin
from tinygrad.tensor_api.movement import MovementMixin
from tinygrad.tensor_api.nn import NNMixin
from tinygrad.tensor_api.reduce import ReduceMixin
from tinygrad.uop.ops import GroupOp, Ops, UOp

Scalar = int | float | bool
TensorLike = Union["Tensor", Scalar]

LOG2_E = 1 / math.log(2)
# every tensor that has had requires_grad set, so backward() can find the ones a loss depends on
_grad_tensors: weakref.WeakSet[Tensor] = weakref.WeakSet()
# per device: how many threefry blocks have been drawn (a 1-element uint32 tensor in device memory)
_rng_counters: dict[str, Tensor] = {}
LN_2 = math.log(2)


def _canon_axis(op: str, axis: int, ndim: int) -> int:
    lo, hi = (-ndim, ndim - 1) if ndim else (-1, 0)
    if not lo <= axis <= hi:
        raise AxisError(f"Tensor.{op}: axis {axis} is out of range for a {ndim}-d tensor (valid: {lo}..{hi})")
    return axis + ndim if axis < 0 else axis


def _from_np(x: np.ndarray, device: str) -> UOp:
    dt = dtypes.from_np(x.dtype)
    shape = x.shape
    x = np.ascontiguousarray(x).reshape(shape)  # ascontiguousarray makes 0-d arrays 1-d
    buf = UOp.new_buffer(device, x.size, dt)
    b = buffer_of(buf)
    if x.size:
        b.copyin(memoryview(x.reshape(-1).view(np.uint8)))
    else:
        b.allocate()
    return buf.reshape(x.shape)


def _infer_shape_and_check(data: Any, op: str) -> None:
    # ragged nested lists would silently become object arrays
    def shape(x: Any) -> tuple[int, ...]:
        if isinstance(x, (list, tuple)):
            subs = [shape(y) for y in x]
            if subs and any(s != subs[0] for s in subs):
                raise ShapeError(f"{op}: nested lists have inconsistent lengths {sorted(set(subs))}; "
                                 "make them rectangular")
            return (len(x), *(subs[0] if subs else ()))
        return ()

    shape(data)


class _TensorMeta(type):
    """Makes `Tensor.training` a view of the TRAINING context variable, so `Tensor.training = True`,
    `with Tensor.train():` and `with Context(TRAINING=1):` all switch the same setting."""

    @property
    def training(cls) -> bool:
        return bool(TRAINING)

    @training.setter
    def training(cls, mode: bool) -> None:
        TRAINING.value = int(bool(mode))


class Tensor(CreationMixin, MathMixin, MovementMixin, ReduceMixin, NNMixin, LinalgMixin, metaclass=_TensorMeta):
    """A multi-dimensional array on a device, computed lazily.

    >>> Tensor([1, 2, 3]).tolist()
    [1, 2, 3]
    """

    __slots__ = ("uop", "_requires_grad", "grad", "__weakref__")
    _seed: ClassVar[int] = 0

    @staticmethod
    def train(mode: bool = True) -> Context:
        """Training mode (dropout, BatchNorm batch statistics) inside a `with` block or a decorated function.

        >>> with Tensor.train(): print(Tensor.training)
        True
        """
        return Context(TRAINING=int(mode))

    def __init__(
        self,
        data: Any,
        device: str | None = None,
        dtype: DType | str | None = None,
        requires_grad: bool | None = None,
    ) -> None:
        # resolving the default device is deferred: a UOp or Tensor already knows its device
        dev = Device.canonicalize(device) if device is not None or not isinstance(data, (UOp, Tensor)) else ""
        dt = to_dtype(dtype) if dtype is not None else None
        if isinstance(data, UOp):
            u = data
        elif isinstance(data, Tensor):
            u = data.uop if dt is None else data.uop.cast(dt)
        elif isinstance(data, np.generic):  # before Python scalars: np.float64 is a float subclass
            u = _from_np(np.array(data), dev) if dt is None else Tensor(data.item(), dev, dt).uop
        elif isinstance(data, (bool, int, float)):
            d = dt or dtypes.from_py(data)
            u = UOp.tensor_const(data, d, dev)
        elif isinstance(data, (list, tuple)):
            _infer_shape_and_check(data, "Tensor(list)")
            d = dt or dtypes.from_py(data)
            if d.np is None:  # bfloat16/fp8: build in float32, cast on device
                u = Tensor(np.array(data, dtype=np.float32), device=dev).cast(d).uop
            else:
                u = _from_np(np.array(data, dtype=d.np), dev)
        elif isinstance(data, np.ndarray):
            if dt is not None and dt.np is not None:
                data = data.astype(dt.np)
            u = _from_np(data, dev)
            if dt is not None and dt.np is None:
                u = u.cast(dt)
        elif isinstance(data, (bytes, bytearray, memoryview)):
            u = _from_np(np.frombuffer(bytes(data), dtype=np.uint8), dev)
        else:
            raise DTypeError(f"Tensor({type(data).__name__}): cannot make a tensor from this; pass a list, number, "
                             "numpy array or bytes")  # fmt: skip
        self.uop: UOp = u
        self._requires_grad: bool | None = None
        self.requires_grad = requires_grad
        self.grad: Tensor | None = None

    @property
    def requires_grad(self) -> bool | None:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, v: bool | None) -> None:
        self._requires_grad = v
        if v:
            _grad_tensors.add(self)

    # ---- autograd ----

    def gradient(self, *targets: Tensor, gradient: Tensor | None = None) -> list[Tensor]:
        """d(self)/d(target) for each target, as new lazy tensors.

        >>> x = Tensor([2.0, 3.0]); [g.tolist() for g in (x * x).sum().gradient(x)]
        [[4.0, 6.0]]
        """
        if gradient is None:
            if self.numel() != 1:
                raise ShapeError(f"Tensor.gradient: implicit gradient needs a scalar, this tensor has shape "
                                 f"{self.shape}; pass gradient=")  # fmt: skip
            gradient = Tensor(1.0, device=self.device, dtype=self.dtype).reshape(self.shape)
        grads = compute_gradient(self.uop, gradient.uop, {t.uop for t in targets})
        out = []
        for t in targets:
            g = grads.get(t.uop)
            out.append(Tensor(g) if g is not None else t.zeros_like())
        return out

    def custom_gradient(self, inputs: Sequence[Tensor], backward: Callable[..., Sequence[Tensor | None]],
                        *params: Any) -> Tensor:  # fmt: skip
        """self's value, but d/d(inputs) comes from `backward(grad, *inputs, *params)` (one Tensor or None per
        input) instead of differentiating how self was computed. `backward` should be a module-level function
        and params hashable, so equal calls build equal graphs (and hit the kernel caches).

        >>> x = Tensor([3.0]); y = (x * 2).custom_gradient([x], lambda g, x: [g * 10]); y.gradient(x)[0].tolist()
        [10.0]
        """
        rule = _CustomGrad(backward, params)
        return Tensor(UOp(Ops.CUSTOM_GRAD, self.dtype, (self.uop, *(t.uop for t in inputs)), rule))

    def backward(self, gradient: Tensor | None = None) -> Tensor:
        """Accumulate d(self)/d(t) into t.grad for every tensor t with requires_grad that self depends on.

        >>> w = Tensor([1.0, 2.0], requires_grad=True); _ = (w * 3).sum().backward(); w.grad.tolist()
        [3.0, 3.0]
        """
        if gradient is None and self.numel() != 1:
            raise ShapeError(f"Tensor.backward: implicit gradient needs a scalar loss, got shape {self.shape}; "
                             "reduce it (e.g. .sum()) or pass gradient=")  # fmt: skip
        in_graph = set(self.uop.toposort())
        targets = [t for t in list(_grad_tensors) if t.requires_grad and t.uop in in_graph]
        if not targets:
            return self
        for t, g in zip(targets, self.gradient(*targets, gradient=gradient)):
            t.grad = g if t.grad is None else t.grad + g
        return self

    # ---- properties ----

    @property
    def shape(self) -> tuple[int, ...]:
        return self.uop.shape

    @property
    def dtype(self) -> DType:
        return self.uop.dtype

    @property
    def device(self) -> str:
        return self.uop.device

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def numel(self) -> int:
        """Number of elements.

        >>> Tensor.ones(2, 3).numel()
        6
        """
        return prod(self.shape)

    def element_size(self) -> int:
        """Bytes per element.

        >>> Tensor([1.0]).element_size()
        4
        """
        return self.dtype.itemsize

    def nbytes(self) -> int:
        """Bytes of all elements.

        >>> Tensor.ones(2, 3).nbytes()
        24
        """
        return self.numel() * self.element_size()

    def is_floating_point(self) -> bool:
        """Whether the dtype is a float type.

        >>> Tensor([1.0]).is_floating_point(), Tensor([1]).is_floating_point()
        (True, False)
        """
        return dtypes.is_float(self.dtype)

    def size(self, dim: int | None = None) -> int | tuple[int, ...]:
        """The shape, or one dimension of it.

        >>> Tensor.ones(2, 3).size(1)
        3
        """
        return self.shape if dim is None else self.shape[_canon_axis("size", dim, self.ndim)]

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self) -> str:
        return f"<Tensor {self.shape} {self.dtype} on {self.device}>"

    def __hash__(self) -> int:
        return id(self)

    # ---- execution ----

    def schedule(self, *others: Tensor) -> list[ScheduleItem]:
        """The kernels `realize()` would run, without running them.

        >>> len(((Tensor.ones(4, 4) * 2 + 1).relu()).sum(axis=1).schedule())
        1
        """
        items, _ = create_schedule([t.uop for t in (self, *others)])
        return items

    def realize(self, *others: Tensor) -> Tensor:
        """Compute this tensor (and `others`) now; returns self.

        >>> t = (Tensor([1, 2]) + 1).realize(); t.tolist()
        [2, 3]
        """
        tensors = (self, *others)
        items, becomes = create_schedule([t.uop for t in tensors])
        run_schedule(items)
        commit(becomes)
        if becomes:
            # an assign becomes its target view; anything else becomes its new buffer
            mapping = {k: _assign_target(k) if k.op is Ops.ASSIGN else v.reshape(k.shape) for k, v in becomes.items()}
            grad_leaves = {g.uop for g in list(_grad_tensors) if g.requires_grad}
            for t in tensors:
                old, t.uop = t.uop, t.uop.substitute(mapping)
                # keep the computation for autograd (torch semantics: realizing doesn't detach), but only where
                # it leads to something that wants a gradient; the value now comes from the buffer. An assign
                # (an optimizer update, a running statistic) and a gradient leaf itself start a fresh history:
                # wrapping them would stop the next assign and chain every step's graph to the last
                if grad_leaves and old is not t.uop and t.uop.op is not Ops.CUSTOM_GRAD and old.op is not Ops.ASSIGN \
                        and old not in grad_leaves and any(u in grad_leaves for u in old.toposort()):  # fmt: skip
                    t.uop = UOp(Ops.CUSTOM_GRAD, t.dtype, (t.uop, old), _IDENTITY_GRAD)
        return self

    def _buffer(self) -> Buffer:
        """The realized, contiguous buffer holding this tensor's elements in order."""
        t = self.realize()
        if (b := realized_buffer(t.uop)) is None:
            t = self.contiguous().realize()
            b = realized_buffer(t.uop)
            assert b is not None
        return buffer_of(b)

    def numpy(self) -> np.ndarray:
        """A numpy copy of the data.

        >>> Tensor([[1, 2], [3, 4]]).numpy().tolist()
        [[1, 2], [3, 4]]
        """
        if self.dtype.np is None:
            # numpy has no bfloat16/fp8: convert on a device that computes (DISK only stores)
            src = self if Device[self.device].renderer.can_compute else self.to(_compute_device())
            return src.cast(dtypes.float32).numpy()
        return self._buffer().numpy().reshape(self.shape).copy()

    def data(self) -> memoryview:
        """The raw bytes of the (realized, contiguous) data.

        >>> list(bytes(Tensor([1, 2], dtype="uint8").data()))
        [1, 2]
        """
        return self._buffer().as_bytes()

    def tolist(self) -> Any:
        """Nested Python lists (or a scalar for 0-d).

        >>> Tensor([1.5, 2.0]).tolist()
        [1.5, 2.0]
        """
        return self.numpy().tolist()

    def item(self) -> ConstType:
        """The single value of a one-element tensor.

        >>> Tensor([[7]]).item()
        7
        """
        if self.numel() != 1:
            raise ShapeError(f"Tensor.item: needs exactly one element, this tensor has shape {self.shape}; "
                             "index or reduce it first")  # fmt: skip
        return self.numpy().reshape(()).item()

    def contiguous(self) -> Tensor:
        """A tensor whose elements are laid out in order in their own buffer (forces a kernel boundary).

        >>> Tensor([[1, 2], [3, 4]]).T.contiguous().tolist()
        [[1, 3], [2, 4]]
        """
        return Tensor(UOp(Ops.CONTIGUOUS, self.dtype, (self.uop,)))

    def assign(self, x: TensorLike) -> Tensor:
        """Write x into this tensor's memory (lazily; realized with the next realize). In-place ops use this.

        >>> t = Tensor([1, 2]).realize(); _ = t.assign(Tensor([5, 6])).realize(); t.tolist()
        [5, 6]
        """
        if not isinstance(x, Tensor):
            x = Tensor.full(self.shape, x, self.dtype, self.device)
        if x.device != self.device:
            raise DeviceError(f"Tensor.assign: value is on {x.device} but the target is on {self.device}; "
                              f"use .to({self.device!r}) first")  # fmt: skip
        if x.shape != self.shape:
            x = x._expand_to(_broadcast_shape("assign", self.shape, x.shape))
            if x.shape != self.shape:
                raise ShapeError(f"Tensor.assign: value of shape {x.shape} does not fit the target {self.shape}")
        if x.dtype != self.dtype:
            x = x.cast(self.dtype)
        base = self.uop
        while base.op in GroupOp.Movement or base.op is Ops.ASSIGN:
            base = base.src[0]
        if base.op is not Ops.BUFFER and realized_buffer(base) is None:
            # nothing in memory to write into yet: assignment is just rebinding
            self.uop = x.uop
            return self
        self.uop = UOp(Ops.ASSIGN, self.dtype, (self.uop, x.uop))
        return self

    def detach(self) -> Tensor:
        """The same data, cut off from autograd.

        >>> x = Tensor([2.0]); (x.detach() * x).sum().gradient(x)[0].tolist()
        [2.0]
        """
        # a CUSTOM_GRAD with no inputs: same value, and no gradient passes through it
        if self.uop.op is Ops.CUSTOM_GRAD and len(self.uop.src) == 1:
            return Tensor(self.uop)
        return Tensor(UOp(Ops.CUSTOM_GRAD, self.dtype, (self.uop,), _NO_GRAD))

    def to(self, device: str | None) -> Tensor:
        """This tensor on another device (lazily copied; the same tensor if it is already there).

        >>> Tensor([1, 2]).to("PYTHON").device
        'PYTHON'
        """
        dev = Device.canonicalize(device)
        if dev == self.device:
            return self
        Device[dev]
        return Tensor(UOp(Ops.COPY, self.dtype, (self.uop,), dev), requires_grad=self.requires_grad)

    def to_(self, device: str | None) -> Tensor:
        """Move this tensor to `device` in place (its gradient, if any, moves too).

        >>> t = Tensor([1, 2]); _ = t.to_("PYTHON"); t.device
        'PYTHON'
        """
        self.uop = self.to(device).uop
        if self.grad is not None:
            self.grad.to_(device)
        return self

    def clone(self) -> Tensor:
        """A copy in its own new buffer (never aliasing self's memory), on the same device.

        >>> a = Tensor([1, 2]).realize(); b = a.clone().realize(); _ = a.assign(Tensor([5, 6])).realize(); b.tolist()
        [1, 2]
        """
        return Tensor(UOp(Ops.COPY, self.dtype, (self.uop,), self.device), requires_grad=self.requires_grad)

    def replace(self, x: Tensor) -> Tensor:
        """Make this tensor (object) refer to x's data and graph; shapes must match.

        >>> t = Tensor([1, 2]); _ = t.replace(Tensor([3, 4])); t.tolist()
        [3, 4]
        """
        if x.shape != self.shape:
            raise ShapeError(f"Tensor.replace: shape {x.shape} differs from {self.shape}; reshape it first")
        self.uop = x.uop
        return self

    def contiguous_backward(self) -> Tensor:
        """Identity forward; makes the gradient flowing back through here contiguous (a kernel boundary).

        >>> x = Tensor([1.0, 2.0]); (x.contiguous_backward() * 3).sum().gradient(x)[0].tolist()
        [3.0, 3.0]
        """
        return self.custom_gradient([self], _contiguous_grad)

    @staticmethod
    def from_blob(ptr: int, shape: tuple[int, ...], dtype: DType | str, device: str | None = None) -> Tensor:
        """A tensor over existing host memory at address `ptr` (no copy for host-memory devices; the memory must
        outlive the tensor). Other devices get a copy.

        >>> import ctypes; arr = (ctypes.c_float * 3)(1, 2, 3)
        >>> Tensor.from_blob(ctypes.addressof(arr), (3,), dtypes.float32).tolist()
        [1.0, 2.0, 3.0]
        """
        import ctypes

        from tinygrad.device import HostAllocator, _HostMem

        dt, dev = to_dtype(dtype), Device.canonicalize(device)
        n = prod(shape)
        if isinstance(Device[dev].allocator, HostAllocator):
            buf = UOp.new_buffer(dev, n, dt)
            raw = (ctypes.c_uint8 * max(n * dt.itemsize, 1)).from_address(ptr)
            mem = _HostMem(raw, 0, n * dt.itemsize)
            from tinygrad.schedule import buffers

            buffers[buf] = Buffer(dev, n, dt, opaque=mem)
            return Tensor(buf.reshape(tuple(shape)))
        data = bytes((ctypes.c_uint8 * (n * dt.itemsize)).from_address(ptr))
        if dt.np is not None:
            return Tensor(np.frombuffer(data, dtype=dt.np).reshape(shape), device=dev)
        bits = np.frombuffer(data, dtype=np.uint16 if dt.itemsize == 2 else np.uint8)
        return Tensor(bits.reshape(shape), device=dev).bitcast(dt)

    @staticmethod
    def from_url(url: str, gunzip: bool = False, **kwargs: Any) -> Tensor:
        """The bytes at `url` as a uint8 tensor, downloaded once into the disk cache (tinygrad.helpers.fetch).

        >>> Tensor.from_url  # doctest: +ELLIPSIS
        <function Tensor.from_url at 0x...>
        """
        import gzip

        from tinygrad.helpers import fetch

        data = fetch(url).read_bytes()
        return Tensor(gzip.decompress(data) if gunzip else data, **kwargs)

    def rand_like(self, **kwargs: Any) -> Tensor:
        """Uniform [0, 1) samples with this tensor's shape, dtype and device.

        >>> Tensor.zeros(2, 3).rand_like().shape
        (2, 3)
        """
        dt = kwargs.pop("dtype", self.dtype if dtypes.is_float(self.dtype) else dtypes.default_float)
        return Tensor.rand(*self.shape, dtype=dt, device=kwargs.pop("device", self.device), **kwargs)

    def randn_like(self, **kwargs: Any) -> Tensor:
        """Standard normal samples with this tensor's shape, dtype and device.

        >>> Tensor.zeros(4).randn_like().shape
        (4,)
        """
        dt = kwargs.pop("dtype", self.dtype if dtypes.is_float(self.dtype) else dtypes.default_float)
        return Tensor.randn(*self.shape, dtype=dt, device=kwargs.pop("device", self.device), **kwargs)

    @staticmethod
    def randperm(n: int, device: str | None = None, dtype: DType | str = dtypes.int32, **kwargs: Any) -> Tensor:
        """A random permutation of 0..n-1 (argsort of uniform samples).

        >>> sorted(Tensor.randperm(5).tolist())
        [0, 1, 2, 3, 4]
        """
        return Tensor.rand(n, device=device).argsort().cast(to_dtype(dtype))

    # ---- creation ----

    @staticmethod
    def full(shape: tuple[int, ...] | int, fill_value: Scalar, dtype: DType | str | None = None,
             device: str | None = None, **kwargs: Any) -> Tensor:  # fmt: skip
        """A tensor filled with `fill_value`.

        >>> Tensor.full((2, 2), 3).tolist()
        [[3, 3], [3, 3]]
        """
        shape = argfix(shape)
        if any(not isinstance(s, int) or s < 0 for s in shape):
            raise ShapeError(f"Tensor.full: shape {shape} must be non-negative ints")
        dt = to_dtype(dtype) if dtype is not None else dtypes.from_py(fill_value)
        c = Tensor(UOp.tensor_const(fill_value, dt, Device.canonicalize(device)), **kwargs)
        return c.reshape((1,) * len(shape)).expand(shape)

    @staticmethod
    def zeros(*shape: Any, dtype: DType | str | None = None, device: str | None = None, **kw: Any) -> Tensor:
        """>>> Tensor.zeros(2, 3).shape
        (2, 3)
        """
        return Tensor.full(argfix(*shape), 0.0, dtype or dtypes.default_float, device, **kw)

    @staticmethod
    def ones(*shape: Any, dtype: DType | str | None = None, device: str | None = None, **kw: Any) -> Tensor:
        """>>> Tensor.ones(2).tolist()
        [1.0, 1.0]
        """
        return Tensor.full(argfix(*shape), 1.0, dtype or dtypes.default_float, device, **kw)

    @staticmethod
    def empty(*shape: Any, dtype: DType | str | None = None, device: str | None = None, **kw: Any) -> Tensor:
        """An uninitialized tensor (memory is allocated when first used).

        >>> Tensor.empty(2, 3).shape
        (2, 3)
        """
        dt = to_dtype(dtype) if dtype is not None else dtypes.default_float
        shp = argfix(*shape)
        return Tensor(UOp.new_buffer(Device.canonicalize(device), prod(shp), dt).reshape(shp), **kw)

    def full_like(self, fill_value: Scalar, **kw: Any) -> Tensor:
        """A tensor like this one, filled with a value.

        >>> Tensor([1, 2]).full_like(7).tolist()
        [7, 7]
        """
        return Tensor.full(self.shape, fill_value, kw.pop("dtype", self.dtype), kw.pop("device", self.device), **kw)

    def zeros_like(self, **kw: Any) -> Tensor:
        """Zeros with this shape, dtype and device.

        >>> Tensor([1.5, 2.5]).zeros_like().tolist()
        [0.0, 0.0]
        """
        return self.full_like(0, **kw)

    def ones_like(self, **kw: Any) -> Tensor:
        """Ones with this shape, dtype and device.

        >>> Tensor([1, 2]).ones_like().tolist()
        [1, 1]
        """
        return self.full_like(1, **kw)

    @staticmethod
    def arange(start: Scalar, stop: Scalar | None = None, step: Scalar = 1, dtype: DType | str | None = None,
               device: str | None = None, **kw: Any) -> Tensor:  # fmt: skip
        """[start, stop) in steps of step.

        >>> Tensor.arange(5).tolist()
        [0, 1, 2, 3, 4]
        >>> Tensor.arange(1, 2, 0.25).tolist()
        [1.0, 1.25, 1.5, 1.75]
        """
        if stop is None:
            start, stop = 0, start
        if step == 0:
            raise ValueError("Tensor.arange: step must be nonzero")
        dt = to_dtype(dtype) if dtype is not None else dtypes.from_py([start, stop, step])
        n = max(math.ceil((stop - start) / step), 0)
        idx = Tensor(UOp(Ops.IOTA, dtypes.int32 if dtypes.is_int(dt) else dt, (UOp(Ops.DEVICE, arg=Device.canonicalize(device)),), n))  # noqa: E501
        return (idx * step + start).cast(dt) if (start, step) != (0, 1) else idx.cast(dt)

    @staticmethod
    def eye(n: int, m: int | None = None, dtype: DType | str | None = None, device: str | None = None) -> Tensor:
        """The identity matrix (n x m).

        >>> Tensor.eye(2).tolist()
        [[1.0, 0.0], [0.0, 1.0]]
        """
        m = n if m is None else m
        r = Tensor.arange(n, device=device).reshape(n, 1)
        c = Tensor.arange(m, device=device).reshape(1, m)
        return (r == c).cast(to_dtype(dtype) if dtype else dtypes.default_float)

    @staticmethod
    def linspace(start: float, stop: float, steps: int, dtype: DType | str | None = None,
                 device: str | None = None) -> Tensor:  # fmt: skip
        """`steps` evenly spaced values from start to stop inclusive.

        >>> Tensor.linspace(0, 1, 5).tolist()
        [0.0, 0.25, 0.5, 0.75, 1.0]
        """
        if steps == 1:
            return Tensor([float(start)], device=device, dtype=dtype)
        t = Tensor.arange(steps, device=device).cast(dtypes.default_float) * ((stop - start) / (steps - 1)) + start
        return t.cast(to_dtype(dtype)) if dtype else t

    # ---- random: a counter-based generator (threefry2x32) written as tensor ops ----

    @staticmethod
    def manual_seed(seed: int = 0) -> None:
        """Seed the generator; the same seed gives the same numbers on every device.

        >>> Tensor.manual_seed(3); a = Tensor.rand(2).tolist(); Tensor.manual_seed(3); a == Tensor.rand(2).tolist()
        True
        """
        Tensor._seed = int(seed)
        _rng_counters.clear()

    @staticmethod
    def _threefry(c0: Tensor, c1: Tensor, k0: int, k1: int) -> tuple[Tensor, Tensor]:
        # Threefry-2x32 with 20 rounds (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11)
        rot = (13, 15, 26, 6, 17, 29, 16, 24)
        ks = (k0 & 0xFFFFFFFF, k1 & 0xFFFFFFFF, (k0 ^ k1 ^ 0x1BD11BDA) & 0xFFFFFFFF)
        x0, x1 = c0 + ks[0], c1 + ks[1]
        for i in range(5):
            for r in rot[(i % 2) * 4 : (i % 2) * 4 + 4]:
                x0 = x0 + x1
                x1 = (x1 << r) | (x1 >> (32 - r))
                x1 = x1 ^ x0
            x0, x1 = x0 + ks[(i + 1) % 3], x1 + (ks[(i + 2) % 3] + i + 1)
        return x0, x1

    @staticmethod
    def _random_bits(n: int, device: str | None) -> Tensor:
        """n uint32 random words. The counter lives in device memory and is advanced with assign, so a TinyJit
        replay of a function that draws random numbers gets new numbers every call."""
        dev = Device.canonicalize(device)
        if n == 0:
            return Tensor.full((0,), 0, dtypes.uint32, dev)
        if dev not in _rng_counters:
            _rng_counters[dev] = Tensor([0], dtype=dtypes.uint32, device=dev).realize()
        ctr = _rng_counters[dev]
        half = (n + 1) // 2
        # read the counter through the assign, so this kernel runs after the increment (and subtracts it back)
        start = ctr.assign(ctr + half) - half
        c0 = Tensor.arange(half, device=dev, dtype=dtypes.uint32) + start.expand(half)
        c1 = Tensor.full((half,), 0, dtypes.uint32, dev)
        x0, x1 = Tensor._threefry(c0, c1, Tensor._seed, Tensor._seed >> 32)
        return x0.cat(x1)[:n] if n > 1 else x0[:n]

    @staticmethod
    def rand(*shape: Any, dtype: DType | str | None = None, device: str | None = None, **kw: Any) -> Tensor:
        """Uniform in [0, 1).

        >>> Tensor.manual_seed(0); t = Tensor.rand(3); bool(((t >= 0) & (t < 1)).all().item())
        True
        """
        shp = argfix(*shape)
        dt = to_dtype(dtype) if dtype is not None else dtypes.default_float
        bits = Tensor._random_bits(prod(shp), device)
        # 24 random mantissa bits -> an exact float32 in [0, 1)
        u = (bits >> 8).cast(dtypes.float32) * (2.0**-24)
        return Tensor(u.cast(dt).reshape(shp).uop, **kw)

    @staticmethod
    def randn(*shape: Any, dtype: DType | str | None = None, device: str | None = None, **kw: Any) -> Tensor:
        """Standard normal samples (Box-Muller).

        >>> Tensor.randn(2, 3).shape
        (2, 3)
        """
        shp = argfix(*shape)
        dt = to_dtype(dtype) if dtype is not None else dtypes.default_float
        u = Tensor.rand(2, *shp, dtype=dtypes.float32, device=device)
        r = ((1 - u[0]).log() * -2).sqrt()
        return Tensor((r * (u[1] * (2 * math.pi)).cos()).cast(dt).uop, **kw)

    @staticmethod
    def randint(*shape: Any, low: int = 0, high: int = 10, device: str | None = None,
                dtype: DType | str = dtypes.int32) -> Tensor:  # fmt: skip
        """Uniform integers in [low, high).

        >>> t = Tensor.randint(100, low=3, high=6); bool(((t >= 3) & (t < 6)).all().item())
        True
        """
        return (Tensor.rand(*shape, device=device) * (high - low) + low).floor().cast(to_dtype(dtype))

    # ---- broadcasting and elementwise ----

    def _const_like(self, x: Scalar, dtype: DType | None = None) -> Tensor:
        return Tensor(UOp.tensor_const(x, dtype or self.dtype, self.device))

    def _broadcasted(self, y: TensorLike, op: str, reverse: bool = False) -> tuple[Tensor, Tensor]:
        x: Tensor = self
        if not isinstance(y, Tensor):
            if not isinstance(y, (bool, int, float)):
                raise DTypeError(f"Tensor.{op}: cannot combine a tensor with {type(y).__name__}")
            # a Python scalar takes the tensor's dtype unless it needs a wider kind (float scalar, int tensor)
            if isinstance(y, float) and not dtypes.is_float(x.dtype):
                dt = dtypes.default_float
            elif isinstance(y, int) and not isinstance(y, bool) and dtypes.is_bool(x.dtype):
                dt = dtypes.default_int
            else:
                dt = x.dtype
            y = Tensor(UOp.tensor_const(y, dt, x.device))
        elif y.device != x.device:
            raise DeviceError(f"Tensor.{op}: operands are on different devices ({x.device} and {y.device}); "
                              f"move one with .to({x.device!r})")  # fmt: skip
        if reverse:
            x, y = y, x
        if x.dtype != y.dtype:
            dt = least_upper_dtype(x.dtype, y.dtype)
            x, y = x.cast(dt), y.cast(dt)
        out = _broadcast_shape(op, x.shape, y.shape)
        return x._expand_to(out), y._expand_to(out)

    def _expand_to(self, shape: tuple[int, ...]) -> Tensor:
        if self.shape == shape:
            return self
        padded = (1,) * (len(shape) - self.ndim) + self.shape
        return Tensor(self.uop.reshape(padded).expand(shape))

    def _alu(self, op: Ops, *src: Tensor) -> Tensor:
        return Tensor(self.uop.alu(op, *(s.uop for s in src)))

    def _binop(self, op: Ops, y: TensorLike, name: str, reverse: bool = False) -> Tensor:
        a, b = self._broadcasted(y, name, reverse)
        return a._alu(op, b)

    def add(self, x: TensorLike, reverse: bool = False) -> Tensor:
        """>>> (Tensor([1, 2]) + 1).tolist()
        [2, 3]
        """
        return self._binop(Ops.ADD, x, "add", reverse)

    def sub(self, x: TensorLike, reverse: bool = False) -> Tensor:
        """Elementwise difference, broadcast.

        >>> Tensor([5, 7]).sub(2).tolist()
        [3, 5]
        """
        a, b = self._broadcasted(x, "sub", reverse)
        if a.dtype == dtypes.bool:
            raise DTypeError("Tensor.sub: subtracting bool tensors is not supported; use logical_xor or cast first")
        return a._alu(Ops.SUB, b)

    def mul(self, x: TensorLike, reverse: bool = False) -> Tensor:
        """Elementwise product, broadcast.

        >>> Tensor([1, 2]).mul(3).tolist()
        [3, 6]
        """
        return self._binop(Ops.MUL, x, "mul", reverse)

    def maximum(self, x: TensorLike) -> Tensor:
        """>>> Tensor([1, 5]).maximum(3).tolist()
        [3, 5]
        """
        return self._binop(Ops.MAX, x, "maximum")

    def minimum(self, x: TensorLike) -> Tensor:
        """Elementwise minimum, broadcast.

        >>> Tensor([1, 5]).minimum(3).tolist()
        [1, 3]
        """
        a, b = self._broadcasted(x, "minimum")
        return -((-a).maximum(-b)) if dtypes.is_float(a.dtype) else (a < b).where(a, b)

    def where(self, x: TensorLike, y: TensorLike) -> Tensor:
        """self ? x : y, broadcast together.

        >>> Tensor([True, False]).where(1, 2).tolist()
        [1, 2]
        """
        cond = self if self.dtype == dtypes.bool else self.cast(dtypes.bool)
        if isinstance(x, Tensor):
            x_, y_ = x._broadcasted(y, "where")
        elif isinstance(y, Tensor):
            y_, x_ = y._broadcasted(x, "where")
        else:
            dt = dtypes.from_py([x, y])
            x_, y_ = Tensor(UOp.tensor_const(x, dt, self.device)), Tensor(UOp.tensor_const(y, dt, self.device))
        out = _broadcast_shape("where", _broadcast_shape("where", cond.shape, x_.shape), y_.shape)
        c, a, b = cond._expand_to(out), x_._expand_to(out), y_._expand_to(out)
        return Tensor(UOp(Ops.WHERE, a.dtype, (c.uop, a.uop, b.uop)))

    def _cmp(self, op: Ops, x: TensorLike, name: str, reverse: bool = False) -> Tensor:
        a, b = self._broadcasted(x, name, reverse)
        return a._alu(op, b)

    def __lt__(self, x: TensorLike) -> Tensor:  # type: ignore[override]
        return self._cmp(Ops.CMPLT, x, "lt")

    def __gt__(self, x: TensorLike) -> Tensor:  # type: ignore[override]
        return self._cmp(Ops.CMPLT, x, "gt", reverse=True)

    def __ge__(self, x: TensorLike) -> Tensor:  # type: ignore[override]
        # not(a < b) would call NaN >= 0 true
        return self._ordered_or_equal(x, reverse=True)

    def __le__(self, x: TensorLike) -> Tensor:  # type: ignore[override]
        return self._ordered_or_equal(x, reverse=False)

    def _ordered_or_equal(self, x: TensorLike, reverse: bool) -> Tensor:
        a, b = self._broadcasted(x, "ge" if reverse else "le", reverse=reverse)
        if dtypes.is_float(a.dtype):
            return a._alu(Ops.CMPLT, b) | a._alu(Ops.CMPEQ, b)
        return b._alu(Ops.CMPLT, a).logical_not()

    def __eq__(self, x: TensorLike) -> Tensor:  # type: ignore[override]
        return self._cmp(Ops.CMPEQ, x, "eq")

    def __ne__(self, x: TensorLike) -> Tensor:  # type: ignore[override]
        return self._cmp(Ops.CMPNE, x, "ne")

    def ne(self, x: TensorLike) -> Tensor:
        return self != x

    def eq(self, x: TensorLike) -> Tensor:
        return self == x

    def _bitop(self, op: Ops, x: TensorLike, name: str, reverse: bool = False) -> Tensor:
        a, b = self._broadcasted(x, name, reverse)
        if not (dtypes.is_int(a.dtype) or dtypes.is_bool(a.dtype)):
            raise DTypeError(f"Tensor.{name}: needs int or bool tensors, got {a.dtype}; cast first")
        return a._alu(op, b)

    def bitwise_and(self, x: TensorLike) -> Tensor:
        """Elementwise AND of int or bool tensors.

        >>> Tensor([12, 10]).bitwise_and(6).tolist()
        [4, 2]
        """
        return self._bitop(Ops.AND, x, "bitwise_and")

    def bitwise_or(self, x: TensorLike) -> Tensor:
        """Elementwise OR of int or bool tensors.

        >>> Tensor([12, 10]).bitwise_or(1).tolist()
        [13, 11]
        """
        return self._bitop(Ops.OR, x, "bitwise_or")

    def bitwise_xor(self, x: TensorLike) -> Tensor:
        """Elementwise XOR of int or bool tensors.

        >>> Tensor([12, 10]).bitwise_xor(6).tolist()
        [10, 12]
        """
        return self._bitop(Ops.XOR, x, "bitwise_xor")

    def bitwise_not(self) -> Tensor:
        """Elementwise NOT (logical for bool).

        >>> Tensor([0, 5]).bitwise_not().tolist()
        [-1, -6]
        """
        if self.dtype == dtypes.bool:
            return self.logical_not()
        return self ^ -1 if not dtypes.is_unsigned(self.dtype) else self ^ dtypes.max(self.dtype)

    def lshift(self, x: int) -> Tensor:
        """Shift bits left.

        >>> Tensor([1, 3]).lshift(2).tolist()
        [4, 12]
        """
        return self._bitop(Ops.SHL, x, "lshift")

    def rshift(self, x: int) -> Tensor:
        """Shift bits right (arithmetic for signed ints).

        >>> Tensor([16, -16]).rshift(2).tolist()
        [4, -4]
        """
        return self._bitop(Ops.SHR, x, "rshift")

    # ---- casting ----

    def cast(self, dtype: DType | str) -> Tensor:
        """Convert elements to `dtype` (C cast semantics; float to int truncates).

        >>> Tensor([1.7, -1.7]).cast("int32").tolist()
        [1, -1]
        """
        dt = to_dtype(dtype)
        return self if dt == self.dtype else Tensor(self.uop.cast(dt))

    def float(self) -> Tensor:
        """Cast to float32.

        >>> Tensor([1, 2]).float().tolist()
        [1.0, 2.0]
        """
        return self.cast(dtypes.float32)

    def half(self) -> Tensor:
        """Cast to float16.

        >>> Tensor([1.5]).half().dtype
        dtypes.half
        """
        return self.cast(dtypes.float16)

    def int(self) -> Tensor:
        """Cast to int32 (truncating).

        >>> Tensor([1.7, -1.7]).int().tolist()
        [1, -1]
        """
        return self.cast(dtypes.int32)

    def bool(self) -> Tensor:
        """Cast to bool (nonzero is True).

        >>> Tensor([0.0, 2.5]).bool().tolist()
        [False, True]
        """
        return self.cast(dtypes.bool)

    def double(self) -> Tensor:
        """Cast to float64.

        >>> Tensor([1]).double().dtype
        dtypes.double
        """
        return self.cast(dtypes.float64)

    def long(self) -> Tensor:
        """Cast to int64.

        >>> Tensor([1.9]).long().tolist()
        [1]
        """
        return self.cast(dtypes.int64)

    # ---- movement ----

    def reshape(self, *shape: Any) -> Tensor:
        """Same elements, new shape; one dim may be -1 (inferred).

        >>> Tensor.arange(6).reshape(2, -1).shape
        (2, 3)
        """
        new = argfix(*shape)
        if any(not isinstance(s, int) for s in new):
            raise ShapeError(f"Tensor.reshape: shape {new} must be ints")
        if new.count(-1) > 1 or any(s < -1 for s in new):
            raise ShapeError(f"Tensor.reshape: invalid shape {new}: at most one -1 and no other negatives")
        if -1 in new:
            rest = prod(s for s in new if s != -1)
            if rest == 0 or self.numel() % rest:
                raise ShapeError(f"Tensor.reshape: cannot infer -1 in {new} for {self.numel()} elements "
                                 f"(shape {self.shape})")  # fmt: skip
            new = tuple(self.numel() // rest if s == -1 else s for s in new)
        if prod(new) != self.numel():
            raise ShapeError(f"Tensor.reshape: cannot reshape {self.shape} ({self.numel()} elements) to {new} "
                             f"({prod(new)} elements); the element counts must match")  # fmt: skip
        return Tensor(self.uop.reshape(new))

    def view(self, *shape: Any) -> Tensor:
        """Alias of reshape.

        >>> Tensor.arange(6).view(3, 2).shape
        (3, 2)
        """
        return self.reshape(*shape)

    def permute(self, *order: Any) -> Tensor:
        """>>> Tensor.ones(2, 3, 4).permute(2, 0, 1).shape
        (4, 2, 3)
        """
        o = tuple(_canon_axis("permute", a, self.ndim) for a in argfix(*order))
        if sorted(o) != list(range(self.ndim)):
            raise ShapeError(f"Tensor.permute: {argfix(*order)} is not a permutation of the {self.ndim} axes")
        return Tensor(self.uop.permute(o))

    def expand(self, *shape: Any) -> Tensor:
        """Broadcast size-1 dims to a larger size without copying (-1 keeps a dim).

        >>> Tensor([[1], [2]]).expand(2, 3).tolist()
        [[1, 1, 1], [2, 2, 2]]
        """
        new = argfix(*shape)
        if len(new) < self.ndim:
            raise ShapeError(f"Tensor.expand: target {new} has fewer dims than the tensor {self.shape}")
        old = (1,) * (len(new) - self.ndim) + self.shape
        new = tuple(o if n == -1 else n for o, n in zip(old, new))
        for o, n in zip(old, new):
            if o != n and o != 1:
                raise ShapeError(f"Tensor.expand: cannot expand {self.shape} to {new}: only size-1 dims can grow")
        return Tensor(self.uop.reshape(old).expand(new))

    def pad(self, padding: Sequence[Any], value: float = 0.0) -> Tensor:
        """Pad with `value`. `padding` is ((before, after), ...) per dim, or a flat torch-style tuple (last dim
        first); None means no padding for that dim; negative amounts crop.

        >>> Tensor([1, 2]).pad(((1, 2),)).tolist()
        [0, 1, 2, 0, 0]
        """
        if all(isinstance(p, int) for p in padding):
            if len(padding) % 2 or len(padding) // 2 > self.ndim:
                raise ShapeError(f"Tensor.pad: flat padding {tuple(padding)} needs an even count <= 2*ndim")
            pairs = [(0, 0)] * (self.ndim - len(padding) // 2) + [
                (padding[i], padding[i + 1]) for i in range(len(padding) - 2, -1, -2)
            ]
        else:
            if len(padding) != self.ndim:
                raise ShapeError(f"Tensor.pad: {len(padding)} pairs given for a {self.ndim}-d tensor")
            pairs = [(0, 0) if p is None else (int(p[0]), int(p[1])) for p in padding]
        # negative padding is cropping
        crop = tuple((-min(b, 0), s + min(a, 0)) for (b, a), s in zip(pairs, self.shape))
        if any(e < s for s, e in crop):
            raise ShapeError(f"Tensor.pad: padding {pairs} crops more than the shape {self.shape}")
        x = self.shrink(crop) if any(b < 0 or a < 0 for b, a in pairs) else self
        pos = tuple((max(b, 0), max(a, 0)) for b, a in pairs)
        out = Tensor(x.uop.pad(pos))
        if value != 0:
            mask = Tensor(UOp.tensor_const(True, dtypes.bool, self.device))._expand_to(x.shape)
            out = Tensor(mask.uop.pad(pos)).where(out, value)
        return out

    def shrink(self, arg: Sequence[tuple[int, int] | None]) -> Tensor:
        """Keep [start, end) of each dim (None keeps the whole dim).

        >>> Tensor.arange(6).reshape(2, 3).shrink(((0, 1), (1, 3))).tolist()
        [[1, 2]]
        """
        if len(arg) != self.ndim:
            raise ShapeError(f"Tensor.shrink: {len(arg)} ranges given for a {self.ndim}-d tensor {self.shape}")
        rng = tuple((0, s) if a is None else (int(a[0]), int(a[1])) for a, s in zip(arg, self.shape))
        for (b, e), s in zip(rng, self.shape):
            if not 0 <= b <= e <= s:
                raise ShapeError(f"Tensor.shrink: range {(b, e)} is outside 0..{s} for shape {self.shape}")
        return Tensor(self.uop.shrink(rng))

    def flip(self, *axis: Any) -> Tensor:
        """Reverse the order along axes.

        >>> Tensor([1, 2, 3]).flip(0).tolist()
        [3, 2, 1]
        """
        axes = {_canon_axis("flip", a, self.ndim) for a in argfix(*axis)}
        return Tensor(self.uop.flip(tuple(i in axes for i in range(self.ndim))))

    # ---- reductions ----

    def _axes(self, op: str, axis: int | Sequence[int] | None) -> tuple[int, ...]:
        if axis is None:
            return tuple(range(self.ndim))
        axes = (axis,) if isinstance(axis, int) else tuple(axis)
        return tuple(sorted({_canon_axis(op, a, self.ndim) for a in axes}))

    def _reduce(self, op: Ops, axis: int | Sequence[int] | None, keepdim: bool, name: str) -> Tensor:
        axes = self._axes(name, axis)
        if self.ndim == 0:
            return self
        r = Tensor(self.uop.reduce_axis(op, axes))
        return r if keepdim else r.reshape(tuple(s for i, s in enumerate(self.shape) if i not in axes))

    def sum(self, axis: int | Sequence[int] | None = None, keepdim: bool = False,
            dtype: DType | str | None = None) -> Tensor:  # fmt: skip
        """Sum over axes (all by default). Small ints accumulate in (u)int32, half floats in float32.

        >>> Tensor([[1, 2], [3, 4]]).sum(axis=1).tolist()
        [3, 7]
        """
        acc = to_dtype(dtype) if dtype is not None else _sum_acc_dtype(self.dtype)
        out = self.cast(acc)._reduce(Ops.ADD, axis, keepdim, "sum")
        return out.cast(self.dtype) if dtype is None and dtypes.is_float(self.dtype) else out

    def max(self, axis: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        """>>> Tensor([[1, 5], [7, 2]]).max(axis=0).tolist()
        [7, 5]
        """
        return self._reduce(Ops.MAX, axis, keepdim, "max")

    def min(self, axis: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        """>>> Tensor([[1, 5], [7, 2]]).min(axis=1).tolist()
        [1, 2]
        """
        if dtypes.is_float(self.dtype):
            return -((-self).max(axis, keepdim))
        if self.dtype == dtypes.bool:
            return self.logical_not().max(axis, keepdim).logical_not()
        # ~x reverses the order of signed and unsigned ints alike
        return self.bitwise_not().max(axis, keepdim).bitwise_not()

    def mean(self, axis: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        """>>> Tensor([[1.0, 2.0], [3.0, 4.0]]).mean().item()
        2.5
        """
        dt = least_upper_float(self.dtype)
        axes = self._axes("mean", axis)
        n = prod(self.shape[a] for a in axes) if self.ndim else 1
        s = self.cast(dt).sum(axis, keepdim)
        return s / n if n else s * math.nan

    def any(self, axis: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        """True where some element along the axes is nonzero.

        >>> Tensor([[0, 0], [0, 3]]).any(axis=1).tolist()
        [False, True]
        """
        return self.bool().max(axis, keepdim)

    def all(self, axis: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        """True where every element along the axes is nonzero.

        >>> Tensor([[True, False], [True, True]]).all(axis=1).tolist()
        [False, True]
        """
        return self.logical_not().any(axis, keepdim).logical_not()

    # ---- python operators ----

    def __add__(self, x: TensorLike) -> Tensor:
        return self.add(x)

    def __radd__(self, x: TensorLike) -> Tensor:
        return self.add(x, True)

    def __sub__(self, x: TensorLike) -> Tensor:
        return self.sub(x)

    def __rsub__(self, x: TensorLike) -> Tensor:
        return self.sub(x, True)

    def __mul__(self, x: TensorLike) -> Tensor:
        return self.mul(x)

    def __rmul__(self, x: TensorLike) -> Tensor:
        return self.mul(x, True)

    def __truediv__(self, x: TensorLike) -> Tensor:
        return self.div(x)

    def __rtruediv__(self, x: TensorLike) -> Tensor:
        return self.div(x, True)

    def __floordiv__(self, x: TensorLike) -> Tensor:
        return self.idiv(x)

    def __rfloordiv__(self, x: TensorLike) -> Tensor:
        return self.idiv(x, True)

    def __mod__(self, x: TensorLike) -> Tensor:
        return self.mod(x)

    def __rmod__(self, x: TensorLike) -> Tensor:
        return self.mod(x, True)

    def __matmul__(self, x: Tensor) -> Tensor:
        return self.dot(x)

    def __rmatmul__(self, x: Tensor) -> Tensor:
        return x.dot(self)

    def __neg__(self) -> Tensor:
        return self.neg()

    def __abs__(self) -> Tensor:
        return self.abs()

    def __and__(self, x: TensorLike) -> Tensor:
        return self.bitwise_and(x)

    def __or__(self, x: TensorLike) -> Tensor:
        return self.bitwise_or(x)

    def __xor__(self, x: TensorLike) -> Tensor:
        return self.bitwise_xor(x)

    def __rand__(self, x: TensorLike) -> Tensor:
        return self.bitwise_and(x)

    def __ror__(self, x: TensorLike) -> Tensor:
        return self.bitwise_or(x)

    def __rxor__(self, x: TensorLike) -> Tensor:
        return self.bitwise_xor(x)

    def __invert__(self) -> Tensor:
        return self.bitwise_not()

    def __lshift__(self, x: int) -> Tensor:
        return self.lshift(x)

    def __rshift__(self, x: int) -> Tensor:
        return self.rshift(x)

    def __bool__(self) -> bool:
        raise TypeError("the truth value of a Tensor is ambiguous; use .item(), .any() or .all()")


def _no_grad(*args: Any) -> tuple[()]:
    return ()


def _contiguous_grad(g: Tensor, x: Tensor) -> list[Tensor]:
    return [g.contiguous()]


@dataclass(frozen=True)
class _CustomGrad:
    """The gradient rule carried by a CUSTOM_GRAD node (hashable, so graphs stay hash-consed)."""

    fn: Callable[..., Sequence[Tensor | None]]
    params: tuple[Any, ...]

    def __call__(self, g: UOp, out: UOp, *ins: UOp) -> tuple[UOp | None, ...]:
        res = self.fn(Tensor(g), *(Tensor(i) for i in ins), *self.params)
        return tuple(None if r is None else r.uop for r in res)


_NO_GRAD = _CustomGrad(_no_grad, ())


def _identity_grad(g: Tensor, x: Tensor) -> list[Tensor]:
    return [g]


_IDENTITY_GRAD = _CustomGrad(_identity_grad, ())


def _compute_device() -> str:
    return next(d for d in [Device.DEFAULT, *Device.available()] if Device[d].renderer.can_compute)


def _assign_target(u: UOp) -> UOp:
    while u.op is Ops.ASSIGN:
        u = u.src[0]
    return u


def _broadcast_shape(op: str, a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    n = max(len(a), len(b))
    pa, pb = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    out = []
    for i, (x, y) in enumerate(zip(pa, pb)):
        if x != y and x != 1 and y != 1:
            raise ShapeError(f"Tensor.{op}: cannot broadcast shapes {a} and {b}: dim {i - n} is {x} vs {y}; "
                             "each dimension must match or be 1 (reshape or expand an operand)")  # fmt: skip
        out.append(y if x == 1 else x)
    return tuple(out)


def _sum_acc_dtype(dt: DType) -> DType:
    if dtypes.is_unsigned(dt):
        return least_upper_dtype(dt, dtypes.uint32)
    if dtypes.is_int(dt) or dt == dtypes.bool:
        return least_upper_dtype(dt, dtypes.int32)
    return least_upper_dtype(dt, dtypes.float32)
