"""CUDA C++ -> GPU code with NVRTC (the runtime compiler library), called through ctypes.

NVRTC is looked for in the `nvidia-cuda-nvrtc` wheel, then under CUDA_PATH / CUDA_HOME / /usr/local/cuda, then
on the loader's path. The CUDA headers (cuda_fp16.h, cuda_bf16.h, cuda_fp8.h) are not part of NVRTC; they come
from the `nvidia-cuda-runtime` wheel or a CUDA toolkit, and are only needed by kernels using those types.

The output is a cubin (machine code for one architecture) by default, not PTX: a driver loads cubins built by
any newer toolkit of its major version, but rejects PTX whose ISA version is newer than itself, and the NVRTC
wheel is usually newer than the installed driver. CUDA_PTX=1 asks for PTX instead (the driver JIT-compiles it).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import importlib.util
import os
from pathlib import Path

from tinygrad.device import Compiler
from tinygrad.errors import CompileError
from tinygrad.helpers import getenv

# the NVRTC sonames of the CUDA majors this package was written against, newest first
NVRTC_SONAMES = ("libnvrtc.so.13", "libnvrtc.so.12")
HEADER = "cuda_fp16.h"  # the marker of a folder holding the CUDA device headers
# no fused multiply-add contraction: a*b+c rounds twice, as numpy, torch on CPU and the CPU backend do
NVRTC_FLAGS: tuple[str, ...] = ("--fmad=false",)


def _wheel_dirs() -> list[Path]:
    """The `nvidia/` namespace folders that pip wheels (nvidia-cuda-nvrtc, nvidia-cuda-runtime) install into."""
    try:
        spec = importlib.util.find_spec("nvidia")
    except (ImportError, ValueError):
        return []
    return [Path(p) for p in (spec.submodule_search_locations or [])] if spec is not None else []


def _toolkit_roots() -> list[Path]:
    roots = [os.environ[v] for v in ("CUDA_PATH", "CUDA_HOME") if os.environ.get(v)] + ["/usr/local/cuda"]
    return [Path(r) for r in roots]


def _libs_in(folder: Path) -> list[Path]:
    """NVRTC libraries in a folder (not its builtins companion), known sonames first."""
    if not folder.is_dir():
        return []
    libs = [p for p in folder.glob("libnvrtc.so*") if "builtins" not in p.name]
    order = {name: i for i, name in enumerate(NVRTC_SONAMES)}
    return sorted(libs, key=lambda p: (order.get(p.name, len(order)), p.name))


def nvrtc_candidates() -> list[Path]:
    """Where NVRTC may be, in the order tried: NVRTC_PATH, the pip wheels, CUDA toolkits."""
    out = [Path(os.environ["NVRTC_PATH"])] if os.environ.get("NVRTC_PATH") else []
    for d in _wheel_dirs():
        # CUDA 13 wheels share nvidia/cu13/lib; CUDA 12 wheels have one folder per library
        for sub in ("cu13/lib", "cuda_nvrtc/lib"):
            out += _libs_in(d / sub)
    for root in _toolkit_roots():
        for sub in ("lib64", "lib", "targets/x86_64-linux/lib"):
            out += _libs_in(root / sub)
    return out


@functools.cache
def find_nvrtc() -> str | None:
    """The path (or soname) of the NVRTC library to load, or None when there is none here."""
    for p in nvrtc_candidates():
        if p.is_file():
            return str(p)
    if (name := ctypes.util.find_library("nvrtc")) is not None:
        return name
    for soname in NVRTC_SONAMES:
        try:
            ctypes.CDLL(soname)
            return soname
        except OSError:
            continue
    return None


def cuda_include_dirs(nvrtc_path: str | None) -> list[str]:
    """Folders holding the CUDA device headers; the one beside NVRTC first, so headers and compiler match."""
    dirs: list[Path] = []
    if nvrtc_path is not None and os.sep in nvrtc_path:
        lib = Path(nvrtc_path).resolve().parent
        dirs += [lib.parent / "include", lib.parent.parent / "include"]
    if os.environ.get("CUDA_INCLUDE_PATH"):
        dirs.insert(0, Path(os.environ["CUDA_INCLUDE_PATH"]))
    for d in _wheel_dirs():
        dirs += [d / "cu13" / "include", d / "cuda_runtime" / "include"]
    dirs += [root / "include" for root in _toolkit_roots()]
    seen: list[str] = []
    for d in dirs:
        if (d / HEADER).is_file() and str(d) not in seen:
            seen.append(str(d))
    return seen[:1]


class NVRTC:
    """The NVRTC library with the prototypes this backend uses."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lib = lib = ctypes.CDLL(path)
        p, i, sz, s = ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t, ctypes.c_char_p
        protos: dict[str, list[object]] = {
            "nvrtcVersion": [ctypes.POINTER(i), ctypes.POINTER(i)],
            "nvrtcGetNumSupportedArchs": [ctypes.POINTER(i)],
            "nvrtcGetSupportedArchs": [ctypes.POINTER(i)],
            "nvrtcCreateProgram": [ctypes.POINTER(p), s, s, i, ctypes.POINTER(s), ctypes.POINTER(s)],
            "nvrtcCompileProgram": [p, i, ctypes.POINTER(s)],
            "nvrtcDestroyProgram": [ctypes.POINTER(p)],
            "nvrtcGetProgramLogSize": [p, ctypes.POINTER(sz)],
            "nvrtcGetProgramLog": [p, s],
            "nvrtcGetPTXSize": [p, ctypes.POINTER(sz)],
            "nvrtcGetPTX": [p, s],
            "nvrtcGetCUBINSize": [p, ctypes.POINTER(sz)],
            "nvrtcGetCUBIN": [p, s],
        }
        for name, args in protos.items():
            fn = getattr(lib, name)
            fn.argtypes, fn.restype = args, ctypes.c_int
        lib.nvrtcGetErrorString.argtypes, lib.nvrtcGetErrorString.restype = [ctypes.c_int], ctypes.c_char_p
        major, minor = ctypes.c_int(), ctypes.c_int()
        self.check(lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor)), "nvrtcVersion")
        self.version = (major.value, minor.value)
        n = ctypes.c_int()
        self.check(lib.nvrtcGetNumSupportedArchs(ctypes.byref(n)), "nvrtcGetNumSupportedArchs")
        archs = (ctypes.c_int * n.value)()
        self.check(lib.nvrtcGetSupportedArchs(archs), "nvrtcGetSupportedArchs")
        self.archs: tuple[int, ...] = tuple(sorted(archs))

    def error_string(self, status: int) -> str:
        msg = self.lib.nvrtcGetErrorString(status)
        return msg.decode() if msg else f"NVRTC error {status}"

    def check(self, status: int, what: str) -> None:
        if status != 0:
            raise CompileError(f"{what} failed: {self.error_string(status)} (NVRTC {self.path})")


@functools.cache
def load_nvrtc(path: str | None = None) -> NVRTC:
    """The process-wide NVRTC (found with find_nvrtc unless `path` names one)."""
    path = path or find_nvrtc()
    if path is None:
        raise CompileError("NVRTC not found: pip install nvidia-cuda-nvrtc, or point CUDA_PATH at a CUDA toolkit, "
                           "or NVRTC_PATH at libnvrtc.so")  # fmt: skip
    try:
        return NVRTC(path)
    except (OSError, AttributeError) as e:
        raise CompileError(f"could not load NVRTC from {path}: {e}") from e


def numbered(src: str) -> str:
    return "\n".join(f"{i:4d} | {line}" for i, line in enumerate(src.splitlines(), 1))


def arch_number(arch: str) -> int:
    """The architecture number: 90 for "sm_90", "compute_90" and "sm_90a"."""
    digits = "".join(c for c in arch.split("_", 1)[-1] if c.isdigit())
    if not arch.startswith(("sm_", "compute_")) or not digits:
        raise CompileError(f"CUDACompiler: bad architecture {arch!r}; use a name like 'sm_90'")
    return int(digits)


class CUDACompiler(Compiler):
    """Compiles one CUDA C++ translation unit for one GPU architecture; returns a cubin (or PTX)."""

    def __init__(self, arch: str = "sm_90", ptx: bool | None = None, flags: tuple[str, ...] = NVRTC_FLAGS,
                 nvrtc_path: str | None = None) -> None:  # fmt: skip
        self.nv = load_nvrtc(nvrtc_path)
        want = arch_number(arch)
        self.requested_arch = arch
        if want not in self.nv.archs:
            # a GPU newer than this NVRTC: PTX for the newest architecture it knows, which the driver JIT-compiles
            older = [a for a in self.nv.archs if a <= want]
            if not older:
                raise CompileError(f"NVRTC {self.nv.version} cannot target {arch} (it knows sm_{self.nv.archs})")
            arch, ptx = f"compute_{older[-1]}", True
        self.ptx = bool(getenv("CUDA_PTX", 0)) if ptx is None else ptx
        if self.ptx and arch.startswith("sm_"):
            arch = "compute_" + arch[3:]  # a virtual architecture: NVRTC then makes PTX only
        self.arch = arch
        self.flags = (f"--gpu-architecture={arch}", *flags)
        self.include_dirs = cuda_include_dirs(self.nv.path)
        version = ".".join(map(str, self.nv.version))
        self.cachekey = (f"nvrtc {version} {self.nv.path} | {' '.join(self.flags)} | "
                         f"{'ptx' if self.ptx else 'cubin'} | {' '.join(self.include_dirs)}")  # fmt: skip

    def compile(self, src: str) -> bytes:
        lib = self.nv.lib
        prog = ctypes.c_void_p()
        self.nv.check(lib.nvrtcCreateProgram(ctypes.byref(prog), src.encode(), b"kernel.cu", 0, None, None),
                      "nvrtcCreateProgram")  # fmt: skip
        try:
            opts = [o.encode() for o in (*self.flags, *(f"-I{d}" for d in self.include_dirs))]
            status = lib.nvrtcCompileProgram(prog, len(opts), (ctypes.c_char_p * len(opts))(*opts))
            if status != 0:
                raise CompileError(self._failure(prog, status, src))
            kind = "PTX" if self.ptx else "CUBIN"
            size = ctypes.c_size_t()
            self.nv.check(getattr(lib, f"nvrtcGet{kind}Size")(prog, ctypes.byref(size)), f"nvrtcGet{kind}Size")
            out = ctypes.create_string_buffer(size.value)
            self.nv.check(getattr(lib, f"nvrtcGet{kind}")(prog, out), f"nvrtcGet{kind}")
            # PTX keeps its terminating NUL: the driver reads it as a C string
            return out.raw
        finally:
            lib.nvrtcDestroyProgram(ctypes.byref(prog))

    def _failure(self, prog: ctypes.c_void_p, status: int, src: str) -> str:
        size = ctypes.c_size_t()
        log = ""
        if self.nv.lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size)) == 0 and size.value > 1:
            buf = ctypes.create_string_buffer(size.value)
            if self.nv.lib.nvrtcGetProgramLog(prog, buf) == 0:
                log = buf.value.decode(errors="replace").strip()
        hint = ""
        if "could not open source file" in log and not self.include_dirs:
            hint = ("\nhint: the CUDA headers (cuda_fp16.h, ...) were not found: pip install nvidia-cuda-runtime, or "
                    "set CUDA_PATH to a CUDA toolkit or CUDA_INCLUDE_PATH to its include folder")  # fmt: skip
        version = ".".join(map(str, self.nv.version))
        return (f"NVRTC {version} failed for {self.arch}: {self.nv.error_string(status)}\n{log}{hint}\n"
                f"--- source ---\n{numbered(src)}")  # fmt: skip
