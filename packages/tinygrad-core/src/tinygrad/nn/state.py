"""Model state: finding a model's tensors, loading state dicts into it, and reading and writing weight files.

Formats: safetensors (read memory-mapped through the DISK device, written with plain file I/O), PyTorch
checkpoints (zip and legacy, through an unpickler that admits only what a state dict needs and never imports
torch), tar archives, and GGUF (its block-quantized types are dequantized by tensor ops on the target device).
A malformed input raises StateError (a ValueError) naming the call, the file and the entry; nothing is
trusted before it is checked against the file's size.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import sys
import tarfile
import types
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinygrad.device import Device, is_dtype_supported
from tinygrad.dtype import DType, dtypes
from tinygrad.errors import DeviceError, DTypeError, TinygradError
from tinygrad.helpers import prod, tqdm
from tinygrad.tensor import Tensor
from tinygrad.uop.ops import UOp

__all__ = [
    "StateError", "StateDictError", "UnsafePickleError", "get_state_dict", "get_parameters", "load_state_dict",
    "safe_load", "safe_load_metadata", "safe_save", "torch_load", "tar_extract", "gguf_load",
]  # fmt: skip


class StateError(TinygradError, ValueError):
    """A weight file or archive that cannot be read: truncated, malformed, or in an unsupported variant."""


class StateDictError(StateError, KeyError):
    """A state dict that does not fit a model: missing, unexpected or mis-shaped keys (all listed at once)."""

    def __init__(self, msg: str, missing: list[str] | None = None, unexpected: list[str] | None = None,
                 mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] | None = None) -> None:  # fmt: skip
        super().__init__(msg)
        self.missing, self.unexpected, self.mismatched = missing or [], unexpected or [], mismatched or []

    # KeyError would quote the whole message
    __str__ = Exception.__str__


class UnsafePickleError(StateError):
    """A pickle that names a global a state dict never needs (it could run code if torch.load read it)."""


# ---- walking a model ----

_NOT_MODEL_PARTS = (type, types.ModuleType, types.FunctionType, types.MethodType, types.BuiltinFunctionType)


def get_state_dict(obj: Any, prefix: str = "", tensor_type: type = Tensor) -> dict[str, Tensor]:
    """Every tensor reachable from `obj` through attributes, lists, tuples and dicts, keyed by its path.

    >>> class Lin:
    ...     def __init__(self): self.weight, self.bias = Tensor.ones(2, 3), Tensor.zeros(2)
    >>> class Net:
    ...     def __init__(self): self.layers = [Lin(), Lin()]
    >>> list(get_state_dict(Net()))
    ['layers.0.weight', 'layers.0.bias', 'layers.1.weight', 'layers.1.bias']
    """
    out: dict[str, Tensor] = {}
    _walk(obj, prefix, tensor_type, out, set())
    return out


def _walk(obj: Any, prefix: str, tensor_type: type, out: dict[str, Tensor], path: set[int]) -> None:
    if isinstance(obj, tensor_type):
        out[prefix.strip(".")] = obj
        return
    if isinstance(obj, (str, bytes, int, float, complex, bool, type(None)) + _NOT_MODEL_PARTS):
        return
    if id(obj) in path:  # a cycle (e.g. a child pointing at its parent) would recurse forever
        return
    path.add(id(obj))
    try:
        if hasattr(obj, "_asdict") and isinstance(obj, tuple):  # namedtuple: by field name
            items: Any = obj._asdict().items()
        elif isinstance(obj, dict):
            items = obj.items()
        elif isinstance(obj, (list, tuple)):
            items = enumerate(obj)
        elif hasattr(obj, "__dict__"):
            items = vars(obj).items()
        else:
            slots = [s for c in type(obj).__mro__ for s in getattr(c, "__slots__", ()) if s != "__weakref__"]
            items = [(s, getattr(obj, s)) for s in slots if hasattr(obj, s)]
        for k, v in list(items):
            _walk(v, f"{prefix}{k}.", tensor_type, out, path)
    finally:
        path.discard(id(obj))


def get_parameters(obj: Any) -> list[Tensor]:
    """The distinct tensors of `obj` (a tensor reachable by two paths counts once), in state-dict order.

    >>> class Tied:
    ...     def __init__(self): self.emb = Tensor.ones(4, 2); self.out = self.emb
    >>> len(get_parameters(Tied()))
    1
    """
    seen: dict[int, Tensor] = {}
    for t in get_state_dict(obj).values():
        seen.setdefault(id(t), t)
    return list(seen.values())


def load_state_dict(model: Any, state_dict: dict[str, Tensor], strict: bool = True, verbose: bool = True,
                    consume: bool = False) -> None:  # fmt: skip
    """Copy `state_dict` into the model's tensors, in place (on each tensor's own device and dtype).

    Everything is checked first: with strict=True a missing or unexpected key is an error, and a shape mismatch
    always is; one StateDictError lists every problem. The values are then moved and converted into new buffers,
    and only when all of that succeeded are they written into the model, so a failed load leaves the model
    exactly as it was. consume=True deletes loaded entries from `state_dict` (freeing them early).

    >>> class M:
    ...     def __init__(self): self.w = Tensor.zeros(2)
    >>> m = M(); load_state_dict(m, {"w": Tensor([1.0, 2.0])}, verbose=False); m.w.tolist()
    [1.0, 2.0]
    """
    params = get_state_dict(model)
    missing = [k for k in params if k not in state_dict]
    unexpected = [k for k in state_dict if k not in params]
    not_tensors = [k for k in params if k in state_dict and not isinstance(state_dict[k], Tensor)]
    mismatched = [(k, params[k].shape, state_dict[k].shape) for k in params
                  if k in state_dict and k not in not_tensors and params[k].shape != state_dict[k].shape]  # fmt: skip
    if mismatched or not_tensors or (strict and (missing or unexpected)):
        lines = []
        if strict and missing:
            lines.append(f"missing (in the model, not in the state dict): {', '.join(missing)}")
        if strict and unexpected:
            lines.append(f"unexpected (in the state dict, not in the model): {', '.join(unexpected)}")
        lines += [f"shape mismatch: {k}: the model has {a}, the state dict {b}" for k, a, b in mismatched]
        lines += [f"not a Tensor: {k}: {type(state_dict[k]).__name__}" for k in not_tensors]
        hint = "pass strict=False to skip missing and unexpected keys; shapes must match either way"
        raise StateDictError(f"load_state_dict: the state dict does not fit {type(model).__name__} "
                             f"({len(lines)} problem{'s' * (len(lines) != 1)}, nothing was loaded):\n  "
                             + "\n  ".join(lines) + f"\n{hint}", missing, unexpected, mismatched)  # fmt: skip
    if verbose and missing:
        print(f"load_state_dict: not loading {len(missing)} missing keys: {', '.join(missing)}", file=sys.stderr)
    keys = [k for k in params if k in state_dict]
    # phase 1: every value on its parameter's device and dtype, in its own buffer; a failure here (a file that
    # can't be read, a dtype the device can't convert) leaves the model untouched
    staged = []
    for k in tqdm(keys, desc="load_state_dict", disable=not (verbose and sys.stderr.isatty())):
        p = params[k]
        staged.append(_to_device(state_dict[k], p.device).cast(p.dtype).contiguous())
    if staged:
        staged[0].realize(*staged[1:])
    # phase 2: copy them in. A parameter with memory of its own keeps it (optimizers and jits hold on to it); one
    # without (lazy, or a broadcast constant) first gets a fresh buffer, so it never shares the state dict's
    assigned = []
    for k, v in zip(keys, staged):
        p = params[k]
        if not _writable(p):
            p.uop = Tensor.empty(*p.shape, dtype=p.dtype, device=p.device).uop
        assigned.append(p.assign(v))
    if assigned:
        assigned[0].realize(*assigned[1:])
    if consume:
        for k in keys:
            state_dict.pop(k, None)


# ---- device and dtype helpers ----


def _writable(t: Tensor) -> bool:
    """Whether t is memory that an assign can write: a realized buffer seen through views that select elements
    (reshape, permute, shrink, flip), not ones that invent them (expand, pad)."""
    from tinygrad.schedule import realized_buffer
    from tinygrad.uop.ops import GroupOp, Ops

    u = t.uop
    while u.op in GroupOp.Movement:
        if u.op not in (Ops.RESHAPE, Ops.PERMUTE, Ops.SHRINK, Ops.FLIP):
            return False
        u = u.src[0]
    return u.op is Ops.BUFFER or realized_buffer(u) is not None


def _bf16_bits_to_float32(bits: Tensor) -> Tensor:
    # bfloat16 is the top half of a float32: widen the bits and shift them into place
    return Tensor((bits.cast(dtypes.uint32) << 16).uop.bitcast(dtypes.float32))


def _same_bits(t: Tensor, dt: DType) -> Tensor:
    """t's bytes read as `dt` (same itemsize), without running a kernel over t's own dtype."""
    from tinygrad.schedule import buffer_of, realized_buffer

    if is_dtype_supported(t.dtype, t.device) and is_dtype_supported(dt, t.device):
        return Tensor(t.uop.bitcast(dt))
    if (b := realized_buffer(t.uop)) is not None:
        buf = buffer_of(b)
        if Device.base(t.device) == "DISK":
            from tinygrad.runtime.ops_disk import new_disk_buffer

            return Tensor(new_disk_buffer(buf.opaque, t.device, buf.size, dt).reshape(t.shape))
        u = UOp.new_buffer(t.device, buf.size, dt)
        buffer_of(u).copyin(buf.as_bytes())
        return Tensor(u.reshape(t.shape))
    raise DeviceError(f"reading {t.dtype} as {dt}: {t.device} cannot compute {t.dtype}; realize the tensor on a "
                      "device that can, or load it from its file again")  # fmt: skip


def _to_device(t: Tensor, device: str) -> Tensor:
    """t on `device`; bfloat16 becomes float32 where the device can't compute bfloat16."""
    dev = Device.canonicalize(device)
    if t.dtype == dtypes.bfloat16 and not is_dtype_supported(dtypes.bfloat16, dev):
        return _bf16_bits_to_float32(_same_bits(t, dtypes.uint16).to(dev))
    return t.to(dev)


def _host_view(t: Tensor) -> tuple[memoryview, Any]:
    """The bytes of t (made contiguous first), read in place where the device memory is host-visible, and the
    buffer they live in: keep it referenced while using the view (a freed buffer's memory is handed out again)."""
    if Device.base(t.device) == "DISK":
        from tinygrad.schedule import realized_buffer

        if realized_buffer(t.uop) is None:  # a view of a file can't be made contiguous on DISK
            t = t.to(Device.DEFAULT)
    buf = t._buffer()
    if not buf.nbytes:
        return memoryview(b""), buf
    dev = Device[buf.device]
    dev.synchronize()
    mv = dev.allocator.as_memoryview(buf.opaque, buf.nbytes)
    return (mv if mv is not None else buf.as_bytes()), buf


# ---- sources: the bytes of a file or a tensor, and tensors over ranges of them ----


class _Source:
    """The bytes being parsed. A file (or a DISK tensor) is memory-mapped and tensors made over it are DISK
    views; bytes already in device memory are parsed from a host copy and tensors are made on that device."""

    def __init__(self, name: str, mv: memoryview, device: str, disk_base: Any = None, owner: Any = None) -> None:
        self.name, self.mv, self.device, self.disk_base = name, mv, device, disk_base
        self.owner = owner  # whatever holds the memory behind mv

    @property
    def is_disk(self) -> bool:
        return self.disk_base is not None

    def flat(self, offset: int, numel: int, dt: DType) -> Tensor:
        """numel elements of `dt` at byte `offset`, on self.device (a DISK view, or a copy into a new buffer)."""
        from tinygrad.schedule import buffer_of

        nbytes = numel * dt.itemsize
        assert 0 <= offset and offset + nbytes <= len(self.mv), "callers check ranges against the file size"
        if self.is_disk:
            from tinygrad.runtime.ops_disk import new_disk_buffer

            view = Device[self.device].allocator.view(self.disk_base, offset, nbytes)  # type: ignore[attr-defined]
            return Tensor(new_disk_buffer(view, self.device, numel, dt))
        u = UOp.new_buffer(self.device, numel, dt)
        b = buffer_of(u)
        if nbytes:
            b.copyin(self.mv[offset : offset + nbytes])
        else:
            b.allocate()
        return Tensor(u)

    def load(self, offset: int, numel: int, dt: DType, device: str) -> Tensor:
        """Like flat, then on `device`; bfloat16 comes out as float32 where `device` can't compute it."""
        if dt == dtypes.bfloat16 and not is_dtype_supported(dt, device):
            return _bf16_bits_to_float32(self.flat(offset, numel, dtypes.uint16).to(device))
        return self.flat(offset, numel, dt).to(device)


def _open_source(fn: Any, caller: str) -> _Source:
    from tinygrad.runtime.ops_disk import DiskBuffer, disk_device, map_file

    if isinstance(fn, (str, os.PathLike)):
        path = os.path.abspath(os.fspath(fn))
        if not os.path.isfile(path):
            why = "is a directory" if os.path.isdir(path) else "does not exist"
            raise StateError(f"{caller}: {path} {why}; pass the path of a file")
        try:
            m = map_file(path)
        except DeviceError as e:
            raise StateError(f"{caller}: {path}: cannot read the file: {e}") from e
        base = DiskBuffer(m, 0, m.size)
        return _Source(path, memoryview(m.mm) if m.mm is not None else memoryview(b""), disk_device(path), base)
    if isinstance(fn, Tensor):
        name = f"<{fn.dtype} tensor {fn.shape} on {fn.device}>"
        if Device.base(fn.device) == "DISK":
            from tinygrad.schedule import buffer_of, realized_buffer

            if (b := realized_buffer(fn.uop)) is not None:
                base = buffer_of(b).opaque
                return _Source(name, Device[fn.device].allocator.as_memoryview(base, base.size), fn.device, base)
            fn = fn.to(Device.DEFAULT)
        mv, owner = _host_view(fn)
        return _Source(name, mv, fn.device, owner=owner)
    if isinstance(fn, (bytes, bytearray, memoryview)):
        return _Source(f"<{len(fn)} bytes>", memoryview(fn).cast("B"), Device.DEFAULT)
    raise StateError(f"{caller}: expected a file path or a Tensor of the file's bytes, got {type(fn).__name__}")


class _ViewFile(io.RawIOBase):
    """A read-only, seekable file over a memoryview (tarfile and pickle read through it without copying)."""

    def __init__(self, mv: memoryview) -> None:
        super().__init__()
        self.mv, self.pos = mv, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = max(0, min(len(b), len(self.mv) - self.pos))
        b[:n] = self.mv[self.pos : self.pos + n]
        self.pos += n
        return n

    def seek(self, off: int, whence: int = 0) -> int:
        self.pos = max(0, off if whence == 0 else self.pos + off if whence == 1 else len(self.mv) + off)
        return self.pos

    def tell(self) -> int:
        return self.pos


# ---- safetensors ----

_SAFE_DTYPES: dict[str, DType] = {
    "F64": dtypes.float64, "F32": dtypes.float32, "F16": dtypes.float16, "BF16": dtypes.bfloat16,
    "I64": dtypes.int64, "I32": dtypes.int32, "I16": dtypes.int16, "I8": dtypes.int8, "U64": dtypes.uint64,
    "U32": dtypes.uint32, "U16": dtypes.uint16, "U8": dtypes.uint8, "BOOL": dtypes.bool,
    "F8_E4M3": dtypes.fp8e4m3, "F8_E5M2": dtypes.fp8e5m2,
}  # fmt: skip
_SAFE_NAMES: dict[DType, str] = {v: k for k, v in _SAFE_DTYPES.items()}
# the reference implementation refuses larger headers too: a bigger one is corruption, not a model
_SAFE_MAX_HEADER = 100_000_000


@dataclass(frozen=True)
class _SafeEntry:
    dtype: DType
    shape: tuple[int, ...]
    begin: int
    end: int


def _safe_header(src: _Source, caller: str) -> tuple[dict[str, _SafeEntry], dict[str, str] | None, int]:
    where = f"{caller}: {src.name}"
    n = len(src.mv)
    if n < 8:
        raise StateError(f"{where}: the file has {n} bytes, too few for a safetensors header (an 8-byte length, "
                         "then JSON); it is truncated or not a safetensors file")  # fmt: skip
    hlen = int.from_bytes(src.mv[:8], "little")
    if hlen > n - 8 or hlen > _SAFE_MAX_HEADER:
        raise StateError(f"{where}: the header length {hlen} runs past the end of the {n}-byte file; the file is "
                         "truncated or not a safetensors file")  # fmt: skip
    try:
        header = json.loads(bytes(src.mv[8 : 8 + hlen]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise StateError(f"{where}: the header is not valid JSON ({e}); the file is corrupt") from e
    if not isinstance(header, dict):
        raise StateError(f"{where}: the header is JSON {type(header).__name__}, expected an object")
    meta = header.pop("__metadata__", None)
    if meta is not None and not (isinstance(meta, dict) and all(isinstance(v, str) for v in meta.values())):
        raise StateError(f"{where}: __metadata__ must map strings to strings, got {meta!r:.200}")
    data_len = n - 8 - hlen
    entries: dict[str, _SafeEntry] = {}
    for key, info in header.items():
        at = f"{where}: tensor {key!r}"
        if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= set(info):
            raise StateError(f"{at}: expected an object with dtype, shape and data_offsets, got {info!r:.200}")
        if (dt := _SAFE_DTYPES.get(info["dtype"])) is None:  # type: ignore[arg-type]
            raise StateError(f"{at}: unknown dtype {info['dtype']!r}; known: {', '.join(_SAFE_DTYPES)}")
        shape, offs = info["shape"], info["data_offsets"]
        if not isinstance(shape, list) or any(type(s) is not int or s < 0 for s in shape):
            raise StateError(f"{at}: shape must be a list of non-negative ints, got {shape!r:.200}")
        if not (isinstance(offs, list) and len(offs) == 2 and all(type(o) is int for o in offs)):
            raise StateError(f"{at}: data_offsets must be [begin, end] ints, got {offs!r:.200}")
        b, e = offs
        if not 0 <= b <= e:
            raise StateError(f"{at}: data_offsets {offs} are not 0 <= begin <= end")
        if e > data_len:
            raise StateError(f"{at}: data_offsets {offs} run past the end of the data ({data_len} bytes after the "
                             "header); the file is truncated")  # fmt: skip
        if e - b != (need := prod(shape) * dt.itemsize):
            raise StateError(f"{at}: holds {e - b} bytes but shape {shape} of {info['dtype']} needs {need}")
        entries[key] = _SafeEntry(dt, tuple(shape), b, e)
    # the tensors must tile the data section exactly: no gaps, no overlaps, nothing after the last
    pos, prev = 0, None
    for key, ent in sorted(entries.items(), key=lambda kv: (kv[1].begin, kv[1].end)):
        if ent.begin < pos:
            raise StateError(f"{where}: tensor {key!r} at bytes [{ent.begin}, {ent.end}) overlaps tensor {prev!r} "
                             f"ending at {pos}")  # fmt: skip
        if ent.begin > pos:
            raise StateError(f"{where}: tensor {key!r} starts at byte {ent.begin} but the previous data ends at "
                             f"{pos}; offsets must be contiguous")  # fmt: skip
        pos, prev = ent.end, key
    if pos != data_len:
        raise StateError(f"{where}: the tensors cover {pos} bytes but the data section has {data_len}; the file "
                         "has trailing bytes or is corrupt")  # fmt: skip
    return entries, meta, 8 + hlen


def safe_load_metadata(fn: Any) -> tuple[dict[str, tuple[str, tuple[int, ...]]], dict[str, str] | None]:
    """The header of a safetensors file: {name: (dtype name, shape)} and its __metadata__, reading no data.

    >>> import tempfile; fn = tempfile.mkdtemp() + "/m.safetensors"
    >>> safe_save({"w": Tensor([[1.0, 2.0]])}, fn, metadata={"format": "pt"}); safe_load_metadata(fn)
    ({'w': ('F32', (1, 2))}, {'format': 'pt'})
    """
    entries, meta, _ = _safe_header(_open_source(fn, "safe_load_metadata"), "safe_load_metadata")
    return {k: (_SAFE_NAMES[e.dtype], e.shape) for k, e in entries.items()}, meta


def safe_load(fn: Any) -> dict[str, Tensor]:
    """The tensors of a safetensors file, memory-mapped: DISK tensors that read the file only when moved with
    `.to(device)` (or read with .numpy()); a Tensor holding the file's bytes is accepted too.

    >>> import tempfile; fn = tempfile.mkdtemp() + "/w.safetensors"
    >>> safe_save({"w": Tensor([[1, 2], [3, 4]])}, fn); t = safe_load(fn)["w"]
    >>> t.shape, t.to(Device.DEFAULT).sum().item()
    ((2, 2), 10)
    """
    src = _open_source(fn, "safe_load")
    entries, _, start = _safe_header(src, "safe_load")
    return {k: src.flat(start + e.begin, prod(e.shape), e.dtype).reshape(e.shape) for k, e in entries.items()}


def safe_save(tensors: dict[str, Tensor], fn: str | os.PathLike[str], metadata: dict[str, str] | None = None) -> None:
    """Write `tensors` as a safetensors file (atomically: a reader never sees a half-written file, and a file
    being read through safe_load's memory map is replaced, not overwritten).

    >>> import tempfile; fn = tempfile.mkdtemp() + "/w.safetensors"
    >>> safe_save({"a": Tensor([1.5, 2.5])}, fn); safe_load(fn)["a"].tolist()
    [1.5, 2.5]
    """
    import tempfile

    header: dict[str, Any] = {}
    if metadata is not None:
        if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in
                                                     metadata.items()):  # fmt: skip
            raise StateError("safe_save: metadata must map strings to strings (the format stores only strings)")
        header["__metadata__"] = metadata
    off = 0
    for k, t in tensors.items():
        if not isinstance(k, str) or k == "__metadata__":
            raise StateError(f"safe_save: key {k!r} is not allowed: keys are strings other than '__metadata__'")
        if not isinstance(t, Tensor):
            raise StateError(f"safe_save: {k!r} is a {type(t).__name__}, not a Tensor")
        if t.dtype not in _SAFE_NAMES:
            raise DTypeError(f"safe_save: {k!r} has dtype {t.dtype}, which safetensors can't store; cast it first")
        header[k] = {"dtype": _SAFE_NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + t.nbytes()]}
        off += t.nbytes()
    js = json.dumps(header, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 8)  # pad so the data starts 8-byte aligned, as the reference writer does
    path = os.path.abspath(os.fspath(fn))
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=f".{os.path.basename(path)}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(len(js).to_bytes(8, "little"))
            f.write(js)
            for t in tensors.values():
                mv, _owner = _host_view(t)
                f.write(mv)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# ---- PyTorch checkpoints ----

_TORCH_STORAGES: dict[str, DType] = {
    "DoubleStorage": dtypes.float64, "FloatStorage": dtypes.float32, "HalfStorage": dtypes.float16,
    "BFloat16Storage": dtypes.bfloat16, "LongStorage": dtypes.int64, "IntStorage": dtypes.int32,
    "ShortStorage": dtypes.int16, "CharStorage": dtypes.int8, "ByteStorage": dtypes.uint8,
    "BoolStorage": dtypes.bool,
}  # fmt: skip
_TORCH_DTYPES: dict[str, DType] = {
    "float64": dtypes.float64, "double": dtypes.float64, "float32": dtypes.float32, "float": dtypes.float32,
    "float16": dtypes.float16, "half": dtypes.float16, "bfloat16": dtypes.bfloat16, "int64": dtypes.int64,
    "long": dtypes.int64, "int32": dtypes.int32, "int": dtypes.int32, "int16": dtypes.int16,
    "short": dtypes.int16, "int8": dtypes.int8, "uint8": dtypes.uint8, "bool": dtypes.bool,
    "uint16": dtypes.uint16, "uint32": dtypes.uint32, "uint64": dtypes.uint64,
    "float8_e4m3fn": dtypes.fp8e4m3, "float8_e5m2": dtypes.fp8e5m2,
}  # fmt: skip
_TORCH_MAGIC = 0x1950A86A20F9469CFC6C  # the legacy format's first pickle
_TORCH_LEGACY_PROTOCOL = 1001


@dataclass(frozen=True)
class _StorageType:
    dtype: DType  # uint8 for UntypedStorage (its sizes are bytes)


@dataclass(frozen=True)
class _TorchDType:
    dtype: DType


@dataclass(frozen=True)
class _Storage:
    key: str  # the root storage's key (a record in the zip, an entry in the legacy file)
    byte_offset: int  # where this storage starts in the root (legacy storage views)
    nbytes: int
    dtype: DType


@dataclass
class _TorchTensor:
    """A tensor named by the pickle, built once the storages' places in the file are known."""

    storage: Any
    offset: Any
    shape: Any
    stride: Any
    dtype: DType | None = None


def _rebuild_v1(storage: Any, offset: Any, size: Any, stride: Any) -> _TorchTensor:
    return _TorchTensor(storage, offset, size, stride)


def _rebuild_v2(storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any = False, hooks: Any = None,
                metadata: Any = None) -> _TorchTensor:  # fmt: skip
    return _TorchTensor(storage, offset, size, stride)


def _rebuild_v3(storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any, hooks: Any, dtype: Any,
                metadata: Any = None) -> _TorchTensor:  # fmt: skip
    if not isinstance(dtype, _TorchDType):
        raise StateError(f"_rebuild_tensor_v3 got dtype {dtype!r:.100}, expected a torch dtype")
    return _TorchTensor(storage, offset, size, stride, dtype.dtype)


def _rebuild_parameter(data: Any, requires_grad: Any = False, hooks: Any = None, state: Any = None) -> Any:
    return data


def _rebuild_from_type(func: Callable[..., Any], new_type: Any, args: Any, state: Any) -> Any:
    # a tensor with Python attributes (or a Parameter subclass): the attributes don't matter for the weights
    return func(*args)


def _torch_globals() -> dict[tuple[str, str], Any]:
    g: dict[tuple[str, str], Any] = {
        ("collections", "OrderedDict"): OrderedDict,
        ("torch._utils", "_rebuild_tensor"): _rebuild_v1,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_v2,
        ("torch._utils", "_rebuild_tensor_v3"): _rebuild_v3,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
        ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type,
        ("torch", "Tensor"): _TorchTensor,
        ("torch.nn.parameter", "Parameter"): _TorchTensor,
        ("torch", "Size"): tuple,
        ("torch.storage", "UntypedStorage"): _StorageType(dtypes.uint8),
        ("torch", "UntypedStorage"): _StorageType(dtypes.uint8),
    }
    g.update({("torch", k): _StorageType(v) for k, v in _TORCH_STORAGES.items()})
    g.update({("torch", k): _TorchDType(v) for k, v in _TORCH_DTYPES.items()})
    return g


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the globals a state dict needs, to harmless stand-ins: nothing is imported, nothing runs."""

    GLOBALS = _torch_globals()

    def __init__(self, f: Any, where: str, legacy: bool) -> None:
        super().__init__(f)
        self.where, self.legacy = where, legacy
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module: str, name: str) -> Any:
        if (g := self.GLOBALS.get((module, name))) is None:
            raise UnsafePickleError(f"{self.where}: the pickle asks for {module}.{name}, which a state dict never "
                                    "needs; refusing to load it. If you trust the file, torch.load can read it "
                                    "(it would run that code)")  # fmt: skip
        return g

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"):
            raise StateError(f"{self.where}: unknown persistent id {pid!r:.200}; expected a storage record")
        stype, key, numel = pid[1], pid[2], pid[4]
        if not isinstance(stype, _StorageType) or not isinstance(key, str) or type(numel) is not int or numel < 0:
            raise StateError(f"{self.where}: malformed storage record {pid!r:.200}")
        s = _Storage(key, 0, numel * stype.dtype.itemsize, stype.dtype)
        if len(pid) == 6 and pid[5] is not None:  # legacy: a view into another storage
            view = pid[5]
            if not (isinstance(view, tuple) and len(view) == 3 and isinstance(view[0], str)
                    and all(type(v) is int and v >= 0 for v in view[1:])):  # fmt: skip
                raise StateError(f"{self.where}: malformed storage view {view!r:.200}")
            isz = stype.dtype.itemsize
            self.storages.setdefault(key, s)
            s = _Storage(key, view[1] * isz, view[2] * isz, stype.dtype)
            self.storages.setdefault(view[0], s)
            return s
        return self.storages.setdefault(key, s)


def torch_load(fn: Any) -> Any:
    """The contents of a PyTorch checkpoint (torch.save's zip format or the legacy format) with every tensor as a
    Tensor on the default device; dicts, lists and plain values keep their structure (usually a state dict).

    The pickle inside is read by an unpickler that admits only the globals a state dict uses and never imports
    torch, so a malicious file raises UnsafePickleError instead of running code.

    >>> import pickle, tempfile, zipfile
    >>> fn = tempfile.mkdtemp() + "/tiny.pth"
    >>> with zipfile.ZipFile(fn, "w") as z:  # what torch.save({"a": torch.tensor([1, 2])}) writes
    ...     z.writestr("tiny/data.pkl", pickle.dumps({}, protocol=2)); z.writestr("tiny/byteorder", "little")
    >>> torch_load(fn)
    {}
    >>> class Evil:  # what a malicious checkpoint does: unpickling it would call os.system
    ...     def __reduce__(self): return os.system, ("echo pwned",)
    >>> _ = open(fn, "wb").write(pickle.dumps(Evil(), protocol=2))
    >>> try: torch_load(fn)
    ... except UnsafePickleError as e: print("refused", "system" in str(e))
    refused True
    """
    src = _open_source(fn, "torch_load")
    where = f"torch_load: {src.name}"
    head = bytes(src.mv[:4])
    target = src.device if not src.is_disk else Device.DEFAULT
    try:
        if head == b"PK\x03\x04":
            obj, places = _torch_zip(src, where)
        elif head[:1] == b"\x80":
            obj, places = _torch_legacy(src, where)
        else:
            kind = "a tar file (the pre-0.4 torch format, unsupported)" if _is_tar(src) else "not a PyTorch file"
            raise StateError(f"{where}: {kind}; expected a zip archive (torch.save) or a legacy pickle")
        return _materialize(obj, src, places, target, where)
    except StateError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            struct.error, RecursionError, zipfile.BadZipFile, OverflowError, UnicodeDecodeError) as e:  # fmt: skip
        raise StateError(f"{where}: the checkpoint is malformed or truncated ({type(e).__name__}: {e})") from e


def _is_tar(src: _Source) -> bool:
    return len(src.mv) >= 262 and bytes(src.mv[257:262]) == b"ustar"


def _torch_zip(src: _Source, where: str) -> tuple[Any, dict[str, tuple[int, int] | bytes]]:
    zf = zipfile.ZipFile(_ViewFile(src.mv))
    pkls = [n for n in zf.namelist() if n.endswith("data.pkl") and n.count("/") <= 1]
    if len(pkls) != 1:
        raise StateError(f"{where}: expected one <name>/data.pkl record in the zip archive, found {pkls or 'none'}")
    prefix = pkls[0][: -len("data.pkl")]
    if prefix + "byteorder" in zf.namelist() and (order := zf.read(prefix + "byteorder").strip()) != b"little":
        raise StateError(f"{where}: the checkpoint is {order.decode(errors='replace')}-endian; only little-endian "
                         "checkpoints are supported")  # fmt: skip
    up = _RestrictedUnpickler(io.BytesIO(zf.read(pkls[0])), where, legacy=False)
    obj = up.load()
    places: dict[str, tuple[int, int] | bytes] = {}
    for key in up.storages:
        name = f"{prefix}data/{key}"
        try:
            info = zf.getinfo(name)
        except KeyError:
            raise StateError(f"{where}: storage {key!r} has no record {name!r} in the archive") from None
        if info.flag_bits & 0x1:
            raise StateError(f"{where}: record {name!r} is encrypted")
        if info.compress_type == zipfile.ZIP_STORED:
            # stored records are raw bytes in the file: map them in place rather than reading them
            lh = bytes(src.mv[info.header_offset : info.header_offset + 30])
            if len(lh) < 30 or lh[:4] != b"PK\x03\x04":
                raise StateError(f"{where}: record {name!r} has a bad local header; the archive is corrupt")
            start = info.header_offset + 30 + int.from_bytes(lh[26:28], "little") + int.from_bytes(lh[28:30], "little")
            if start + info.file_size > len(src.mv):
                raise StateError(f"{where}: record {name!r} runs past the end of the file; it is truncated")
            places[key] = (start, info.file_size)
        else:
            places[key] = zf.read(name)
    return obj, places


def _torch_legacy(src: _Source, where: str) -> tuple[Any, dict[str, tuple[int, int] | bytes]]:
    f = _ViewFile(src.mv)
    magic = _RestrictedUnpickler(f, where, legacy=True).load()
    if magic != _TORCH_MAGIC:
        raise StateError(f"{where}: a pickle, but not a PyTorch checkpoint (bad magic number {magic!r:.50})")
    if (proto := _RestrictedUnpickler(f, where, legacy=True).load()) != _TORCH_LEGACY_PROTOCOL:
        raise StateError(f"{where}: legacy protocol {proto!r:.50} is not supported (expected 1001)")
    info = _RestrictedUnpickler(f, where, legacy=True).load()
    if not isinstance(info, dict) or not info.get("little_endian", False):
        raise StateError(f"{where}: only little-endian legacy checkpoints are supported (sys info {info!r:.200})")
    up = _RestrictedUnpickler(f, where, legacy=True)
    obj = up.load()
    keys = _RestrictedUnpickler(f, where, legacy=True).load()
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise StateError(f"{where}: the storage key list is malformed")
    # after the pickles, each storage in key order: an int64 element count, then its bytes
    places: dict[str, tuple[int, int] | bytes] = {}
    pos = f.tell()
    for key in keys:
        if key not in up.storages:
            raise StateError(f"{where}: storage {key!r} is listed but no tensor uses it")
        if pos + 8 > len(src.mv):
            raise StateError(f"{where}: the file ends inside the data of storage {key!r}; it is truncated")
        count = int.from_bytes(src.mv[pos : pos + 8], "little")
        nbytes = count * up.storages[key].dtype.itemsize
        if pos + 8 + nbytes > len(src.mv):
            raise StateError(f"{where}: storage {key!r} needs {nbytes} bytes at {pos + 8}, past the end of the "
                             f"{len(src.mv)}-byte file; it is truncated")  # fmt: skip
        places[key] = (pos + 8, nbytes)
        pos += 8 + nbytes
    return obj, places


def _materialize(obj: Any, src: _Source, places: dict[str, tuple[int, int] | bytes], device: str, where: str) -> Any:
    if isinstance(obj, _TorchTensor):
        return _torch_tensor(obj, src, places, device, where)
    if isinstance(obj, dict):
        out = {k: _materialize(v, src, places, device, where) for k, v in obj.items()}
        return OrderedDict(out) if isinstance(obj, OrderedDict) else out
    if isinstance(obj, (list, tuple)):
        seq = [_materialize(v, src, places, device, where) for v in obj]
        return seq if isinstance(obj, list) else tuple(seq)
    return obj


def _torch_tensor(tt: _TorchTensor, src: _Source, places: dict[str, tuple[int, int] | bytes], device: str,
                  where: str) -> Tensor:  # fmt: skip
    st, off, shape, stride = tt.storage, tt.offset, tt.shape, tt.stride
    if not isinstance(st, _Storage):
        raise StateError(f"{where}: a tensor's storage is {type(st).__name__}, not a storage record")
    ok_ints = lambda xs: isinstance(xs, tuple) and all(type(x) is int and x >= 0 for x in xs)  # noqa: E731
    if type(off) is not int or off < 0 or not ok_ints(shape) or not ok_ints(stride) or len(shape) != len(stride):
        raise StateError(f"{where}: storage {st.key!r}: malformed tensor (offset {off!r:.50}, size {shape!r:.100}, "
                         f"stride {stride!r:.100})")  # fmt: skip
    dt = tt.dtype or st.dtype
    numel = prod(shape)
    if numel == 0:
        out_dt = dtypes.float32 if dt == dtypes.bfloat16 and not is_dtype_supported(dt, device) else dt
        return Tensor.empty(*shape, dtype=out_dt, device=device)
    # the elements the view touches: [off, off + last + 1) of the storage, in units of dt
    last = sum((n - 1) * s for n, s in zip(shape, stride))
    lo, count = st.byte_offset + off * dt.itemsize, last + 1
    if lo + count * dt.itemsize > st.byte_offset + st.nbytes:
        raise StateError(f"{where}: storage {st.key!r}: a {dt} view at offset {off} with size {shape} and stride "
                         f"{stride} reads past the storage's {st.nbytes} bytes")  # fmt: skip
    place = places.get(st.key)
    if place is None:
        raise StateError(f"{where}: storage {st.key!r} has no data in the file")
    if isinstance(place, bytes):  # a compressed record, read into memory
        sub = _Source(src.name, memoryview(place), device)
        base = 0
    else:
        start, size = place
        if st.byte_offset + st.nbytes > size:
            raise StateError(f"{where}: storage {st.key!r} needs {st.byte_offset + st.nbytes} bytes, its record "
                             f"has {size}")  # fmt: skip
        sub, base = src, start
    contiguous = all(s == prod(shape[i + 1 :]) for i, (n, s) in enumerate(zip(shape, stride)) if n != 1)
    if contiguous:
        return sub.load(base + lo, count, dt, device).reshape(shape)
    return _as_strided(sub, base + lo, count, dt, shape, stride, device)


def _as_strided(src: _Source, byte_off: int, count: int, dt: DType, shape: tuple[int, ...],
                stride: tuple[int, ...], device: str) -> Tensor:  # fmt: skip
    """The view (shape, stride) of `count` elements at byte_off, built from the flat data with movement ops."""
    dims = sorted(((i, n, s) for i, (n, s) in enumerate(zip(shape, stride)) if n != 1 and s != 0),
                  key=lambda d: -d[2])  # fmt: skip
    inner = [1 + sum((n - 1) * s for _, n, s in dims[j + 1 :]) for j in range(len(dims))]
    if any(s < span for (_, _, s), span in zip(dims, inner)):
        # overlapping elements (a torch as_strided window): gather on the host, once
        item = dt.itemsize
        raw = np.frombuffer(src.mv[byte_off : byte_off + count * item], np.dtype(f"u{item}"))
        picked = np.lib.stride_tricks.as_strided(raw, shape, tuple(s * item for s in stride))
        return _Source(src.name, memoryview(np.ascontiguousarray(picked)).cast("B"), device).load(
            0, prod(shape), dt, device).reshape(shape)  # fmt: skip
    x = src.load(byte_off, count, dt, device)
    # peel dims from the largest stride down: the flat run becomes (n, s) rows, of which the first `span`
    # elements hold everything the smaller-stride dims still need
    for (_, n, s), span in zip(dims, inner):
        length = x.shape[-1]
        x = x.pad([(0, 0)] * (x.ndim - 1) + [(0, n * s - length)]) if n * s > length else x
        x = x.reshape(*x.shape[:-1], n, s).shrink([None] * x.ndim + [(0, span)])
    x = x.reshape(x.shape[:-1])  # the last span is 1 element
    order = [i for i, _, _ in dims]
    x = x.permute(sorted(range(len(order)), key=lambda j: order[j])) if order else x
    keep = [i for i in range(len(shape)) if shape[i] != 1 and stride[i] != 0]
    x = x.reshape([shape[i] if i in keep else 1 for i in range(len(shape))])
    return x.expand(shape)


# ---- tar ----


def tar_extract(fn: Any) -> dict[str, Tensor]:
    """The regular files of a tar archive as uint8 tensors, by member name. An uncompressed archive on disk is
    memory-mapped (DISK tensors); a compressed one (gz, bz2, xz) is read into tensors on the default device.

    >>> import io, tarfile, tempfile; fn = tempfile.mkdtemp() + "/a.tar"
    >>> with tarfile.open(fn, "w") as tf:
    ...     info = tarfile.TarInfo("hello.txt"); info.size = 5; tf.addfile(info, io.BytesIO(b"hello"))
    >>> bytes(tar_extract(fn)["hello.txt"].numpy())
    b'hello'
    """
    src = _open_source(fn, "tar_extract")
    where = f"tar_extract: {src.name}"
    head = bytes(src.mv[:6])
    compressed = head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or head == b"\xfd7zXZ\x00"
    out: dict[str, Tensor] = {}
    try:
        with tarfile.open(fileobj=_ViewFile(src.mv), mode="r:*" if compressed else "r:") as tf:
            for m in tf:
                if not m.isfile():
                    continue
                if compressed:
                    f = tf.extractfile(m)
                    data = f.read() if f is not None else b""
                    if len(data) != m.size:
                        raise StateError(f"{where}: member {m.name!r} is cut short; the archive is truncated")
                    dev = src.device if not src.is_disk else Device.DEFAULT
                    out[m.name] = _Source(src.name, memoryview(data), dev).flat(0, m.size, dtypes.uint8)
                    continue
                if m.offset_data + m.size > len(src.mv):
                    raise StateError(f"{where}: member {m.name!r} ({m.size} bytes at {m.offset_data}) runs past the "
                                     f"end of the {len(src.mv)}-byte file; the archive is truncated")  # fmt: skip
                out[m.name] = src.flat(m.offset_data, m.size, dtypes.uint8)
    except StateError:
        raise
    except (tarfile.TarError, EOFError, OSError, ValueError) as e:
        raise StateError(f"{where}: not a readable tar archive ({type(e).__name__}: {e})") from e
    return out


# ---- GGUF ----

_GGUF_MAGIC = b"GGUF"
# metadata value types: id -> struct format (8 = string, 9 = array are handled separately)
_GGUF_SCALARS: dict[int, str] = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
                                 11: "<q", 12: "<d"}  # fmt: skip
_GGUF_STRING, _GGUF_ARRAY = 8, 9


@dataclass(frozen=True)
class _GGMLType:
    name: str
    block: int  # elements per block
    nbytes: int  # bytes per block
    dequant: Callable[[Tensor], Tensor] | None  # (nblocks, nbytes) uint8 -> (nblocks, block) float32
    dtype: DType | None = None  # unquantized types: the element dtype


def _f16_at(q: Tensor, at: int) -> Tensor:
    """The little-endian float16 at byte `at` of each block, as a float32 column."""
    bits = q[:, at].cast(dtypes.uint16) | (q[:, at + 1].cast(dtypes.uint16) << 8)
    return Tensor(bits.uop.bitcast(dtypes.float16)).cast(dtypes.float32).reshape(-1, 1)


def _nibbles(qs: Tensor) -> Tensor:
    """(nb, k) bytes -> (nb, 2k): all low nibbles, then all high nibbles (the ggml order within a block)."""
    return (qs & 0xF).cat(qs >> 4, dim=1)


def _high_bits(qh: Tensor) -> Tensor:
    """(nb, 4) bytes of a little-endian uint32 -> (nb, 32) of its bits 0..31, as 0/1 uint8."""
    shifts = Tensor.arange(8, device=qh.device, dtype=dtypes.uint8).reshape(1, 1, 8)
    return ((qh.reshape(-1, 4, 1) >> shifts) & 1).reshape(-1, 32)


def _dq_q4_0(q: Tensor) -> Tensor:
    return (_nibbles(q[:, 2:18]).cast(dtypes.float32) - 8) * _f16_at(q, 0)


def _dq_q4_1(q: Tensor) -> Tensor:
    return _nibbles(q[:, 4:20]).cast(dtypes.float32) * _f16_at(q, 0) + _f16_at(q, 2)


def _dq_q5_0(q: Tensor) -> Tensor:
    v = _nibbles(q[:, 6:22]) | (_high_bits(q[:, 2:6]) << 4)
    return (v.cast(dtypes.float32) - 16) * _f16_at(q, 0)


def _dq_q5_1(q: Tensor) -> Tensor:
    v = _nibbles(q[:, 8:24]) | (_high_bits(q[:, 4:8]) << 4)
    return v.cast(dtypes.float32) * _f16_at(q, 0) + _f16_at(q, 2)


def _dq_q8_0(q: Tensor) -> Tensor:
    return Tensor(q[:, 2:34].uop.bitcast(dtypes.int8)).cast(dtypes.float32) * _f16_at(q, 0)


def _dq_q6_k(q: Tensor) -> Tensor:
    # 256 values in two halves of 128; each half is four runs of 32 values k = 0..3. Run k takes the low (k < 2)
    # or high (k >= 2) nibble of ql[32 * (k % 2) + l] and bits 2k, 2k+1 of qh[l] as its top two bits; every 16
    # values share one int8 scale (scales[2k + l // 16] of the half); d scales the whole block
    nb = q.shape[0]
    ql = q[:, 0:128].reshape(nb, 2, 1, 2, 32)
    nib = (ql & 0xF).cat(ql >> 4, dim=2).reshape(nb, 2, 4, 32)
    shifts = (Tensor.arange(4, device=q.device, dtype=dtypes.uint8) * 2).reshape(1, 1, 4, 1)
    top = (q[:, 128:192].reshape(nb, 2, 1, 32) >> shifts) & 3
    vals = (nib | (top << 4)).cast(dtypes.float32) - 32
    sc = Tensor(q[:, 192:208].uop.bitcast(dtypes.int8)).cast(dtypes.float32)
    sc = sc.reshape(nb, 2, 4, 2, 1).expand(nb, 2, 4, 2, 16).reshape(nb, 2, 4, 32)
    return (vals * sc).reshape(nb, 256) * _f16_at(q, 208)


def _k_scales(s: Tensor) -> tuple[Tensor, Tensor]:
    """The 12 packed scale bytes of a Q4_K/Q5_K block -> eight 6-bit scales and eight 6-bit mins, (nb, 8) each.
    j < 4: scale = s[j] & 63, min = s[j+4] & 63; j >= 4: the low 4 bits come from s[j+4] (scale: low nibble, min:
    high nibble) and the top 2 bits from bits 6-7 of s[j-4] (scale) or s[j] (min)."""
    lo_sc, lo_m = s[:, 0:4] & 63, s[:, 4:8] & 63
    hi_sc = (s[:, 8:12] & 0xF) | ((s[:, 0:4] >> 6) << 4)
    hi_m = (s[:, 8:12] >> 4) | ((s[:, 4:8] >> 6) << 4)
    return lo_sc.cat(hi_sc, dim=1).cast(dtypes.float32), lo_m.cat(hi_m, dim=1).cast(dtypes.float32)


def _dq_q4_k(q: Tensor) -> Tensor:
    # four runs of 64 values; run i is the low nibbles (then the high nibbles) of qs[32i : 32i + 32], scaled by
    # sub-block scale/min 2i (low) and 2i + 1 (high): value = d * scale * q - dmin * min
    nb = q.shape[0]
    sc, mn = _k_scales(q[:, 4:16])
    qs = q[:, 16:144].reshape(nb, 4, 1, 32)
    v = (qs & 0xF).cat(qs >> 4, dim=2).reshape(nb, 8, 32).cast(dtypes.float32)
    out = v * (sc * _f16_at(q, 0)).reshape(nb, 8, 1) - (mn * _f16_at(q, 2)).reshape(nb, 8, 1)
    return out.reshape(nb, 256)


def _dq_q5_k(q: Tensor) -> Tensor:
    # Q4_K plus a fifth bit: value l of sub-block j takes bit j of qh[l]
    nb = q.shape[0]
    sc, mn = _k_scales(q[:, 4:16])
    qs = q[:, 48:176].reshape(nb, 4, 1, 32)
    low = (qs & 0xF).cat(qs >> 4, dim=2).reshape(nb, 8, 32)
    shifts = Tensor.arange(8, device=q.device, dtype=dtypes.uint8).reshape(1, 8, 1)
    high = (q[:, 16:48].reshape(nb, 1, 32) >> shifts) & 1
    v = (low | (high << 4)).cast(dtypes.float32)
    out = v * (sc * _f16_at(q, 0)).reshape(nb, 8, 1) - (mn * _f16_at(q, 2)).reshape(nb, 8, 1)
    return out.reshape(nb, 256)


_GGML_TYPES: dict[int, _GGMLType] = {
    0: _GGMLType("F32", 1, 4, None, dtypes.float32),
    1: _GGMLType("F16", 1, 2, None, dtypes.float16),
    2: _GGMLType("Q4_0", 32, 18, _dq_q4_0),
    3: _GGMLType("Q4_1", 32, 20, _dq_q4_1),
    6: _GGMLType("Q5_0", 32, 22, _dq_q5_0),
    7: _GGMLType("Q5_1", 32, 24, _dq_q5_1),
    8: _GGMLType("Q8_0", 32, 34, _dq_q8_0),
    12: _GGMLType("Q4_K", 256, 144, _dq_q4_k),
    13: _GGMLType("Q5_K", 256, 176, _dq_q5_k),
    14: _GGMLType("Q6_K", 256, 210, _dq_q6_k),
    24: _GGMLType("I8", 1, 1, None, dtypes.int8),
    25: _GGMLType("I16", 1, 2, None, dtypes.int16),
    26: _GGMLType("I32", 1, 4, None, dtypes.int32),
    27: _GGMLType("I64", 1, 8, None, dtypes.int64),
    28: _GGMLType("F64", 1, 8, None, dtypes.float64),
    30: _GGMLType("BF16", 1, 2, None, dtypes.bfloat16),
}
# known to ggml but not dequantized here; named in the error
_GGML_UNSUPPORTED = {9: "Q8_1", 10: "Q2_K", 11: "Q3_K", 15: "Q8_K", 16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS",
                     19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS", 29: "IQ1_M", 34: "TQ1_0",
                     35: "TQ2_0"}  # fmt: skip


class _GGUFReader:
    """Little-endian reads that fail with a StateError naming what was being read."""

    def __init__(self, mv: memoryview, where: str) -> None:
        self.mv, self.pos, self.where = mv, 0, where

    def take(self, n: int, what: str) -> memoryview:
        if n < 0 or self.pos + n > len(self.mv):
            raise StateError(f"{self.where}: the file ends at byte {len(self.mv)} while reading {what} ({n} bytes at "
                             f"{self.pos}); it is truncated")  # fmt: skip
        self.pos += n
        return self.mv[self.pos - n : self.pos]

    def scalar(self, fmt: str, what: str) -> Any:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))[0]

    def string(self, what: str) -> str:
        raw = bytes(self.take(self.scalar("<Q", f"the length of {what}"), what))
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise StateError(f"{self.where}: {what} is not UTF-8 ({e})") from e

    def value(self, vtype: int, what: str, depth: int = 0) -> Any:
        if vtype in _GGUF_SCALARS:
            return self.scalar(_GGUF_SCALARS[vtype], what)
        if vtype == _GGUF_STRING:
            return self.string(what)
        if vtype == _GGUF_ARRAY and depth < 8:
            etype, n = self.scalar("<I", f"the element type of {what}"), self.scalar("<Q", f"the length of {what}")
            if etype in _GGUF_SCALARS:  # numbers in bulk: one check, one unpack
                fmt = _GGUF_SCALARS[etype]
                size = struct.calcsize(fmt)
                raw = self.take(n * size, what)
                return list(struct.unpack(f"<{n}{fmt[1]}", raw)) if n else []
            if n > len(self.mv) - self.pos:  # every element takes at least one byte
                raise StateError(f"{self.where}: {what} claims {n} elements, more than the file has bytes")
            return [self.value(etype, f"{what}[{i}]", depth + 1) for i in range(n)]
        raise StateError(f"{self.where}: {what} has unknown value type {vtype}")


def gguf_load(fn: Any) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """(metadata, tensors) of a GGUF file (versions 2 and 3). Quantized tensors (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
    Q4_K, Q5_K, Q6_K) are dequantized to float32 by tensor ops on the default device; F16/F32/F64/int tensors
    keep their dtype; BF16 becomes float32 where the device can't compute bfloat16. Shapes are torch-style
    (ggml's innermost dimension last).

    >>> import struct, tempfile
    >>> def s(x): return struct.pack("<Q", len(x)) + x.encode()
    >>> hdr = b"GGUF" + struct.pack("<IQQ", 3, 1, 1) + s("general.name") + struct.pack("<I", 8) + s("tiny")
    >>> hdr += s("w") + struct.pack("<IQQIQ", 2, 2, 1, 0, 0)  # a 1x2 F32 tensor at offset 0
    >>> fn = tempfile.mkdtemp() + "/t.gguf"
    >>> _ = open(fn, "wb").write(hdr + bytes(-len(hdr) % 32) + struct.pack("<2f", 1.5, -2))
    >>> meta, ts = gguf_load(fn); meta, ts["w"].tolist()
    ({'general.name': 'tiny'}, [[1.5, -2.0]])
    """
    src = _open_source(fn, "gguf_load")
    where = f"gguf_load: {src.name}"
    r = _GGUFReader(src.mv, where)
    if (magic := bytes(r.take(4, "the magic"))) != _GGUF_MAGIC:
        raise StateError(f"{where}: bad magic {magic!r}, expected b'GGUF'; this is not a GGUF file")
    version = r.scalar("<I", "the version")
    if version not in (2, 3):
        raise StateError(f"{where}: GGUF version {version} is not supported (2 and 3 are)")
    n_tensors, n_kv = r.scalar("<Q", "the tensor count"), r.scalar("<Q", "the metadata count")
    if n_tensors > len(src.mv) or n_kv > len(src.mv):  # each entry takes bytes: larger counts are corruption
        raise StateError(f"{where}: the header claims {n_tensors} tensors and {n_kv} metadata entries, more than "
                         "the file can hold; it is corrupt")  # fmt: skip
    meta: dict[str, Any] = {}
    kv_types: dict[str, int] = {}
    for i in range(n_kv):
        key = r.string(f"metadata key #{i}")
        vtype = r.scalar("<I", f"the type of metadata {key!r}")
        meta[key], kv_types[key] = r.value(vtype, f"metadata {key!r}"), vtype
    align = meta.get("general.alignment", 32)
    if type(align) is not int or align <= 0 or align & (align - 1) or kv_types.get("general.alignment", 4) != 4:
        raise StateError(f"{where}: general.alignment must be a power-of-two uint32, got {align!r}")
    infos = []
    for i in range(n_tensors):
        name = r.string(f"the name of tensor #{i}")
        ndim = r.scalar("<I", f"the rank of tensor {name!r}")
        if not 1 <= ndim <= 4:
            raise StateError(f"{where}: tensor {name!r} has rank {ndim}; GGUF tensors have 1 to 4 dimensions")
        dims = [r.scalar("<Q", f"the dimensions of tensor {name!r}") for _ in range(ndim)]
        tid = r.scalar("<I", f"the type of tensor {name!r}")
        off = r.scalar("<Q", f"the offset of tensor {name!r}")
        infos.append((name, dims, tid, off))
    data_start = -(-r.pos // align) * align
    tensors: dict[str, Tensor] = {}
    spans = []
    for name, dims, tid, off in infos:
        at = f"{where}: tensor {name!r}"
        if (gt := _GGML_TYPES.get(tid)) is None:
            what = _GGML_UNSUPPORTED.get(tid)
            raise StateError(f"{at}: ggml type {what or tid} is {'not supported yet' if what else 'unknown'}; "
                             f"supported: {', '.join(t.name for t in _GGML_TYPES.values())}")  # fmt: skip
        if dims[0] % gt.block:
            raise StateError(f"{at}: its innermost dimension {dims[0]} is not a multiple of the {gt.name} block "
                             f"size {gt.block}")  # fmt: skip
        if off % align:
            raise StateError(f"{at}: offset {off} is not a multiple of the alignment {align}")
        numel = prod(dims)
        nbytes = numel // gt.block * gt.nbytes
        begin = data_start + off
        if begin + nbytes > len(src.mv):
            raise StateError(f"{at}: its {nbytes} bytes at {begin} run past the end of the {len(src.mv)}-byte file; "
                             "the file is truncated")  # fmt: skip
        if name in tensors:
            raise StateError(f"{at}: the name appears twice")
        spans.append((begin, begin + nbytes, name))
        shape = tuple(reversed(dims))
        target = src.device if not src.is_disk else Device.DEFAULT
        if gt.dequant is None:
            assert gt.dtype is not None
            tensors[name] = src.load(begin, numel, gt.dtype, target).reshape(shape)
        else:
            q = src.load(begin, nbytes, dtypes.uint8, target).reshape(numel // gt.block, gt.nbytes)
            tensors[name] = gt.dequant(q).reshape(shape)
    spans.sort()
    for (_, e0, n0), (b1, _, n1) in zip(spans, spans[1:]):
        if b1 < e0:
            raise StateError(f"{where}: tensors {n0!r} and {n1!r} overlap in the file; it is corrupt")
    return meta, tensors
