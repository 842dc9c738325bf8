"""Devices: the `Device` registry, `Buffer`, and the role base classes a backend subclasses.

A backend is five roles: Allocator (memory), Renderer (UOps -> source), Compiler (source -> binary),
Program (launch a binary), and optionally Graph (batched JIT replay). `Compiled` bundles them.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import tempfile
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad.dtype import DType, dtypes
from tinygrad.errors import DeviceError
from tinygrad.helpers import CACHELEVEL, DEBUG, GlobalCounters, cache_dir, getenv
from tinygrad.plugins import registry
from tinygrad.renderer import Renderer

# ---- roles ----


class Allocator:
    """Device memory. Handles are opaque to core; sizes are in bytes."""

    def alloc(self, size: int, options: Any = None) -> Any:
        raise NotImplementedError

    def free(self, opaque: Any, size: int, options: Any = None) -> None:
        pass

    def copyin(self, dest: Any, src: memoryview) -> None:
        raise NotImplementedError

    def copyout(self, dest: memoryview, src: Any) -> None:
        raise NotImplementedError

    def as_memoryview(self, opaque: Any, size: int) -> memoryview | None:
        """Zero-copy host view of a buffer, for host-memory devices; None where memory is not host-visible."""
        return None


class LRUAllocator(Allocator):
    """Keeps freed buffers by (size, options) and hands them back on the next alloc of that size, because
    device allocation (cudaMalloc, mmap) is slow and training loops free and reallocate the same sizes."""

    def __init__(self) -> None:
        self.cache: dict[tuple[int, Any], list[Any]] = defaultdict(list)

    def alloc(self, size: int, options: Any = None) -> Any:
        if len(c := self.cache[(size, options)]):
            return c.pop()
        try:
            return self._alloc(size, options)
        except MemoryError:
            self.free_cache()
            return self._alloc(size, options)

    def free(self, opaque: Any, size: int, options: Any = None) -> None:
        if getenv("LRU", 1):
            self.cache[(size, options)].append(opaque)
        else:
            self._free(opaque, size, options)

    def free_cache(self) -> None:
        for (size, options), opaques in self.cache.items():
            for o in opaques:
                self._free(o, size, options)
            opaques.clear()

    def _alloc(self, size: int, options: Any) -> Any:
        raise NotImplementedError

    def _free(self, opaque: Any, size: int, options: Any) -> None:
        pass


class HostAllocator(LRUAllocator):
    """Plain host memory (ctypes arrays, 64-byte aligned for SIMD loads); used by CPU-side devices."""

    def _alloc(self, size: int, options: Any) -> Any:
        raw = (ctypes.c_uint8 * (size + 64))()
        off = (-ctypes.addressof(raw)) % 64
        return _HostMem(raw, off, size)

    def copyin(self, dest: Any, src: memoryview) -> None:
        if src.nbytes:
            ctypes.memmove(dest.addr, np.frombuffer(src, np.uint8).ctypes.data, src.nbytes)

    def copyout(self, dest: memoryview, src: Any) -> None:
        if dest.nbytes:
            ctypes.memmove(np.frombuffer(dest, np.uint8).ctypes.data, src.addr, dest.nbytes)

    def as_memoryview(self, opaque: Any, size: int) -> memoryview:
        return memoryview((ctypes.c_uint8 * size).from_address(opaque.addr)).cast("B")


class _HostMem:
    __slots__ = ("raw", "addr", "size")

    def __init__(self, raw: Any, off: int, size: int) -> None:
        self.raw, self.addr, self.size = raw, ctypes.addressof(raw) + off, size


class Compiler:
    """Source -> binary. `cachekey` names compiler, version and flags; None disables the disk cache."""

    cachekey: str | None = None

    def compile(self, src: str) -> bytes:
        return src.encode()

    def disassemble(self, lib: bytes) -> str:
        """Machine code of a compiled binary, for DEBUG=7 (backends override; the default says why not)."""
        return f"({type(self).__name__} has no disassembler)"

    def compile_cached(self, src: str) -> bytes:
        if self.cachekey is None or CACHELEVEL < 1:
            return self.compile(src)
        h = hashlib.sha256((self.cachekey + "\0" + src).encode()).hexdigest()
        path = cache_dir() / "compile" / h[:2] / h
        try:
            return path.read_bytes()
        except OSError:
            pass
        lib = self.compile(src)
        path.parent.mkdir(parents=True, exist_ok=True)
        # write-then-rename so a concurrent reader never sees a partial file
        fd, tmp = tempfile.mkstemp(dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(lib)
        os.replace(tmp, path)
        return lib


class Program:
    """A compiled kernel. Called with the allocator's buffer handles and integer variable values."""

    def __init__(self, name: str, lib: bytes) -> None:
        self.name, self.lib = name, lib

    def __call__(
        self,
        *bufs: Any,
        global_size: tuple[int, ...] = (1,),
        local_size: tuple[int, ...] | None = None,
        vals: tuple[int, ...] = (),
        wait: bool = False,
    ) -> float | None:
        raise NotImplementedError


class Compiled:
    """A device instance: the five roles together. Backends construct one per device string."""

    def __init__(
        self,
        device: str,
        allocator: Allocator,
        renderer: Renderer,
        compiler: Compiler,
        runtime: Callable[[str, bytes], Program],
        graph: Any = None,
    ) -> None:
        self.device, self.allocator, self.renderer, self.compiler = device, allocator, renderer, compiler
        self.runtime, self.graph = runtime, graph

    def synchronize(self) -> None:
        """Wait for all work queued on this device."""

    def describe(self) -> dict[str, str]:
        """Facts for `python -m tinygrad doctor`."""
        compiler = self.compiler.cachekey or type(self.compiler).__name__
        return {"renderer": type(self.renderer).__name__, "compiler": compiler}


# ---- the registry ----


class _Device:
    """`Device["CPU"]` opens (once) and returns a device; `Device.DEFAULT` is DEV or the best available."""

    def __init__(self) -> None:
        self._opened: dict[str, Compiled] = {}
        self._default: str | None = None

    def canonicalize(self, name: str | None) -> str:
        """"cpu" -> "CPU", "cpu:0" -> "CPU", "CUDA:1" stays. None means the default device."""
        if name is None:
            return self.DEFAULT
        base, _, rest = name.partition(":")
        # a path (DISK:/some/File.bin) keeps its case; ordinals and renderer names are normalized
        if "/" in rest:
            return f"{base.upper()}:{rest}"
        parts = [p for p in rest.upper().split(":") if p and p != "0"]
        return ":".join([base.upper(), *parts])

    def base(self, name: str) -> str:
        return self.canonicalize(name).split(":")[0]

    def __getitem__(self, name: str) -> Compiled:
        dev = self.canonicalize(name)
        if (ret := self._opened.get(dev)) is not None:
            return ret
        reg = registry()
        base = dev.split(":")[0]
        devs = reg.devices()
        if base not in devs:
            raise DeviceError(
                f"Device[{name!r}]: unknown device {base!r}. Available: {', '.join(reg.available()) or 'none'}; "
                f"known but unavailable: {', '.join(n for n in devs if n not in reg.available()) or 'none'}. "
                "Install the backend package (e.g. pip install tinygrad-core[cpu]) or pick one with DEV=..."
            )
        if (why := reg.unavailable_reason(base)) is not None:
            raise DeviceError(
                f"Device[{name!r}]: {base} cannot run here: {why}. "
                f"Available: {', '.join(reg.available()) or 'none'}; run `python -m tinygrad doctor` for details."
            )
        ret = self._opened[dev] = devs[base][0].open(dev)
        if DEBUG >= 1:
            print(f"opened device {dev} from {devs[base][1].dist or devs[base][1].module}")
        return ret

    @property
    def DEFAULT(self) -> str:
        if self._default is None:
            env = os.environ.get("DEV") or next(
                (k for k in registry().devices() if os.environ.get(k) == "1"), None
            )  # tinygrad's CPU=1 style
            if env:
                dev = self.canonicalize(env)
                self[dev]  # fail early, with the helpful error, on a bad DEV (and again on every access)
                self._default = dev
            else:
                avail = [d for d in registry().available() if d not in ("NULL", "DISK")]
                if not avail:
                    raise DeviceError("no device can run here; run `python -m tinygrad doctor` to see why")
                self._default = avail[0]
        return self._default

    @DEFAULT.setter
    def DEFAULT(self, name: str) -> None:
        dev = self.canonicalize(name)
        self[dev]
        self._default = dev

    def reset(self) -> None:
        """Forget opened devices and the default (after the plugin registry changed)."""
        self._opened.clear()
        self._default = None

    def available(self) -> list[str]:
        return registry().available()

    def synchronize(self) -> None:
        for d in self._opened.values():
            d.synchronize()


Device = _Device()


# ---- buffers ----


class Buffer:
    """`size` elements of `dtype` on `device`, allocated on first use and freed (to the LRU cache) on GC."""

    def __init__(self, device: str, size: int, dtype: DType, opaque: Any = None) -> None:
        self.device, self.size, self.dtype = device, size, dtype
        self._opaque: Any = opaque
        if opaque is not None:
            GlobalCounters.mem_used += self.nbytes

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    @property
    def is_allocated(self) -> bool:
        return self._opaque is not None

    def allocate(self) -> Buffer:
        if self._opaque is None:
            self._allocator = Device[self.device].allocator
            self._opaque = self._allocator.alloc(max(self.nbytes, 1))
            GlobalCounters.mem_used += self.nbytes
        return self

    @property
    def opaque(self) -> Any:
        return self.allocate()._opaque

    def __del__(self) -> None:
        if getattr(self, "_opaque", None) is None:
            return
        GlobalCounters.mem_used -= self.nbytes
        # memory handed in from outside (from_blob, DISK views) is not ours to free
        if getattr(self, "_allocator", None) is not None:
            try:
                self._allocator.free(self._opaque, max(self.nbytes, 1))
            except Exception:
                pass

    def copyin(self, mv: memoryview) -> Buffer:
        mv = mv.cast("B") if mv.nbytes else mv
        if mv.nbytes != self.nbytes:
            raise ValueError(f"copyin of {mv.nbytes} bytes into a buffer of {self.nbytes}")
        if self.nbytes:
            Device[self.device].allocator.copyin(self.opaque, mv)
        return self

    def as_bytes(self) -> memoryview:
        out = memoryview(bytearray(self.nbytes))
        if self.nbytes:
            Device[self.device].synchronize()
            Device[self.device].allocator.copyout(out, self.opaque)
        return out

    def numpy(self) -> np.ndarray:
        npdt = self.dtype.np
        raw = np.frombuffer(self.as_bytes(), dtype=np.uint8)
        if npdt is None:  # bfloat16 / fp8: return the raw bits, the caller converts
            return raw.view(np.uint16 if self.dtype.itemsize == 2 else np.uint8)
        return raw.view(npdt)

    def __repr__(self) -> str:
        return f"<Buffer {self.device} {self.size} {self.dtype}>"


def is_dtype_supported(dtype: DType, device: str | None = None) -> bool:
    r = Device[Device.canonicalize(device)].renderer
    return dtype in r.supported_dtypes if r.supported_dtypes is not None else dtype != dtypes.void
