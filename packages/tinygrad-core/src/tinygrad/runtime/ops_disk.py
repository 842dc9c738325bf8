"""DISK: tensors backed by a byte range of a file, through a memory map.

A device string is "DISK:/abs/path/file"; the file is the device's memory. `alloc` maps the file (creating or
growing it), `view` narrows a mapping to a byte range, and copyin/copyout are one memcpy through the mapping.
`as_memoryview` exposes the mapped bytes, so moving a DISK tensor to a host device reads the page cache
directly: one copy from file to device memory. Nothing is computed here: the renderer, compiler and program
refuse every kernel with a DeviceError, so users move tensors to a compute device with `.to(...)` first.
"""

from __future__ import annotations

import mmap
import os
from typing import Any

from tinygrad.device import Allocator, Compiled, Compiler, Device, Program
from tinygrad.dtype import DType
from tinygrad.errors import DeviceError
from tinygrad.renderer import Renderer
from tinygrad.uop.ops import UOp

NO_COMPUTE = "DISK tensors can't be computed on; move them with .to('CPU') first"

# the path of each DISK device made through `disk_device` (Device.canonicalize keeps a path's case, so this is
# only a convenience for relative paths)
_paths: dict[str, str] = {}


def disk_device(path: str | os.PathLike[str]) -> str:
    """The canonical device string for the file at `path` (made absolute), remembering the path's real case.

    >>> disk_device("/tmp/Weights.bin")
    'DISK:/tmp/Weights.bin'
    """
    real = os.path.abspath(os.fspath(path))
    dev = Device.canonicalize(f"DISK:{real}")
    _paths[dev] = real
    return dev


def disk_path(device: str) -> str | None:
    """The file behind a DISK device string, or None when it cannot be known (see `disk_device`)."""
    dev = Device.canonicalize(device)
    if dev in _paths:
        return _paths[dev]
    _, _, rest = device.partition(":")
    return rest or None


class DiskMapping:
    """One memory map of a file: read-only over the whole file, or writable and at least `size` bytes."""

    __slots__ = ("path", "mm", "size", "writable")

    def __init__(self, path: str, mm: mmap.mmap | None, size: int, writable: bool) -> None:
        self.path, self.mm, self.size, self.writable = path, mm, size, writable


def map_file(path: str, size: int | None = None, writable: bool = False) -> DiskMapping:
    """Map `path` read-only (the whole file), or writable, creating the file and growing it to `size` bytes.

    >>> import tempfile; f = tempfile.NamedTemporaryFile(); _ = f.write(b"abc"); f.flush()
    >>> m = map_file(f.name); (m.size, m.writable, bytes(m.mm[:]))
    (3, False, b'abc')
    """
    how = "for writing" if writable else "for reading"
    try:
        fd = os.open(path, (os.O_RDWR | os.O_CREAT) if writable else os.O_RDONLY, 0o644)
    except OSError as e:
        raise DeviceError(f"DISK:{path}: cannot open the file {how}: {e.strerror}; check the path and its "
                          "permissions") from e  # fmt: skip
    try:
        st = os.fstat(fd)
        length = st.st_size
        if writable and size is not None and length < size:
            os.ftruncate(fd, size)
            length = size
        mm = None
        if length:
            mm = mmap.mmap(fd, length, access=mmap.ACCESS_WRITE if writable else mmap.ACCESS_READ)
    except (OSError, ValueError) as e:
        raise DeviceError(f"DISK:{path}: cannot memory-map the file {how}: {e}; it must be a regular file") from e
    finally:
        os.close(fd)
    return DiskMapping(path, mm, length, writable)


class DiskBuffer:
    """The DISK allocator's opaque handle: `size` bytes at `offset` of a mapping."""

    __slots__ = ("mapping", "offset", "size")

    def __init__(self, mapping: DiskMapping, offset: int, size: int) -> None:
        self.mapping, self.offset, self.size = mapping, offset, size

    def __repr__(self) -> str:
        return f"<DiskBuffer {self.mapping.path} [{self.offset}:{self.offset + self.size}]>"


class DiskAllocator(Allocator):
    """Memory is the file: allocations map it from byte 0 (so they alias, as the file is one memory)."""

    def __init__(self, device: str, path: str | None) -> None:
        self.device, self.path = device, path
        self._mapping: DiskMapping | None = None

    def alloc(self, size: int, options: Any = None) -> DiskBuffer:
        if self.path is None:
            raise DeviceError(f"{self.device}: the file behind this device is unknown: device strings are "
                              "upper-cased, so the path was lost; make the device string with "
                              "tinygrad.runtime.ops_disk.disk_device(path)")  # fmt: skip
        if self._mapping is None or self._mapping.size < size:
            # growing remaps; buffers made earlier keep the old (shorter) map of the same shared pages
            self._mapping = map_file(self.path, size, writable=True)
        return DiskBuffer(self._mapping, 0, size)

    def view(self, buf: DiskBuffer, offset: int, size: int) -> DiskBuffer:
        """`size` bytes at byte `offset` of `buf`, sharing its mapping."""
        if offset < 0 or size < 0 or offset + size > buf.size:
            raise DeviceError(f"{self.device}: view [{offset}:{offset + size}] is outside the {buf.size}-byte "
                              f"buffer {buf!r}")  # fmt: skip
        return DiskBuffer(buf.mapping, buf.offset + offset, size)

    def copyin(self, dest: DiskBuffer, src: memoryview) -> None:
        m = dest.mapping
        if not m.writable or m.mm is None:
            raise DeviceError(f"{self.device}: {m.path} is mapped read-only (it was opened for loading); write "
                              "a new file with safe_save, or allocate a fresh DISK tensor to write into")  # fmt: skip
        m.mm[dest.offset : dest.offset + src.nbytes] = src

    def copyout(self, dest: memoryview, src: DiskBuffer) -> None:
        if dest.nbytes:
            dest[:] = self.as_memoryview(src, dest.nbytes)

    def as_memoryview(self, opaque: DiskBuffer, size: int) -> memoryview:
        mm = opaque.mapping.mm
        if mm is None:
            return memoryview(b"")[:size]
        return memoryview(mm)[opaque.offset : opaque.offset + size]

    def flush(self) -> None:
        if self._mapping is not None and self._mapping.mm is not None:
            self._mapping.mm.flush()


class DiskRenderer(Renderer):
    can_compute = False
    device = "DISK"
    # computes nothing, so no dtype is computable (is_dtype_supported says False for every dtype)
    supported_dtypes = frozenset()

    def render(self, name: str, uops: list[UOp]) -> str:
        raise DeviceError(f"kernel {name}: {NO_COMPUTE}")


class DiskCompiler(Compiler):
    def compile(self, src: str) -> bytes:
        raise DeviceError(NO_COMPUTE)


class DiskProgram(Program):
    def __init__(self, name: str, lib: bytes) -> None:
        raise DeviceError(f"kernel {name}: {NO_COMPUTE}")


class DiskDevice(Compiled):
    """One file as a device."""

    def __init__(self, device: str) -> None:
        self.path = disk_path(device)
        self.disk_allocator = DiskAllocator(device, self.path)
        super().__init__(device, self.disk_allocator, DiskRenderer(), DiskCompiler(), DiskProgram)

    def synchronize(self) -> None:
        """Writes through a mapping are visible to every reader at once; flushing makes them durable."""
        self.disk_allocator.flush()

    def describe(self) -> dict[str, str]:
        return {"renderer": "none (storage only)", "compiler": "none", "file": self.path or "(none)"}


def open_disk(device: str) -> Compiled:
    return DiskDevice(device)


def new_disk_buffer(view: DiskBuffer, device: str, numel: int, dtype: DType) -> UOp:
    """A realized BUFFER uop over `view` (a DiskBuffer of exactly numel * itemsize bytes), for Tensor(...)."""
    from tinygrad.device import Buffer
    from tinygrad.schedule import buffers

    if view.size != numel * dtype.itemsize:
        raise DeviceError(f"{device}: {numel} x {dtype} needs {numel * dtype.itemsize} bytes, the view has "
                          f"{view.size}")  # fmt: skip
    u = UOp.new_buffer(device, numel, dtype)
    b = Buffer(device, numel, dtype, opaque=view)
    # with an allocator set, Buffer.__del__ balances the memory counter (DISK's free is a no-op)
    b._allocator = Device[device].allocator
    buffers[u] = b
    return u
