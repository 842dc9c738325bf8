"""Loading a compiled shared library into this process and calling its kernel through ctypes."""

from __future__ import annotations

import atexit
import ctypes
import hashlib
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tinygrad.device import Program
from tinygrad.helpers import prod

_libdir: tuple[int, Path] | None = None  # (owning pid, folder): a forked child makes its own


def _cleanup(pid: int, folder: Path) -> None:
    if os.getpid() == pid:  # a forked child inherits atexit handlers; only the owner removes the folder
        shutil.rmtree(folder, ignore_errors=True)


def _lib_path(lib: bytes) -> Path:
    """A file holding `lib`, named by its content hash, that lives as long as this process.

    The file is never deleted while the process runs: the dynamic loader recognises an already loaded library
    by path and by (device, inode), so a deleted file whose name or inode got reused would make dlopen hand back
    the old library. Content-hash names make that reuse harmless: same name, same bytes.
    """
    global _libdir
    if _libdir is None or _libdir[0] != os.getpid():
        _libdir = (os.getpid(), Path(tempfile.mkdtemp(prefix=f"tinygrad-cpu-{os.getpid()}-")))
        atexit.register(_cleanup, *_libdir)
    path = _libdir[1] / f"{hashlib.sha256(lib).hexdigest()[:32]}.so"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(lib)
        os.replace(tmp, path)
    return path


_pools: dict[int, ThreadPoolExecutor] = {}


def _pool(n: int) -> ThreadPoolExecutor:
    if n not in _pools:
        _pools[n] = ThreadPoolExecutor(max_workers=n - 1, thread_name_prefix="tinygrad-cpu")
    return _pools[n]


def _addr(buf: Any) -> int:
    return buf if isinstance(buf, int) else buf.addr


class CPUProgram(Program):
    """A kernel `void name(void* data0, ..., int var0, ...)` in a shared library; runs on the calling thread."""

    def __init__(self, name: str, lib: bytes) -> None:
        super().__init__(name, lib)
        self.dll = ctypes.CDLL(str(_lib_path(lib)))
        try:
            self.fxn = getattr(self.dll, name)
        except AttributeError as e:
            raise RuntimeError(f"CPUProgram: compiled library has no function {name!r}") from e
        self.fxn.restype = None
        self._nargs: tuple[int, int] | None = None

    def __call__(
        self,
        *bufs: Any,
        global_size: tuple[int, ...] = (1,),
        local_size: tuple[int, ...] | None = None,
        vals: tuple[int, ...] = (),
        wait: bool = False,
    ) -> float | None:
        # the C kernel loops over its whole output itself, so global/local sizes have nothing to launch
        if self._nargs != (len(bufs), len(vals) + (len(global_size) if prod(global_size) > 1 else 0)):
            self._nargs = (len(bufs), len(vals) + (len(global_size) if prod(global_size) > 1 else 0))
            self.fxn.argtypes = [ctypes.c_void_p] * len(bufs) + [ctypes.c_int] * self._nargs[1]
        args = [_addr(b) for b in bufs] + list(vals)
        st = time.perf_counter()
        n = prod(global_size)
        if n <= 1:
            self.fxn(*args)
        else:
            # a THREAD-split kernel: one call per core index, in parallel (ctypes releases the GIL during calls)
            futs = [_pool(n).submit(self.fxn, *args, i) for i in range(1, n)]
            self.fxn(*args, 0)
            for f in futs:
                f.result()
        return time.perf_counter() - st if wait else None
