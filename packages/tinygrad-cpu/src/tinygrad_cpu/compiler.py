"""C source -> shared library, with the system C compiler (clang if on PATH, else gcc, else cc)."""

from __future__ import annotations

import functools
import hashlib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tinygrad.device import Compiler
from tinygrad.errors import CompileError

# -ffp-contract=off: no fused multiply-add, so a*b+c rounds twice like numpy and torch do.
# -fwrapv: signed overflow wraps (two's complement), matching numpy's int arithmetic; without it the
#  optimizer may assume overflow never happens. -fno-math-errno: libm calls may become instructions.
# Deliberately no -ffast-math: it breaks NaN/inf semantics and reassociates reductions.
CFLAGS: tuple[str, ...] = (
    "-O2", "-shared", "-fPIC", "-march=native", "-fwrapv", "-ffp-contract=off", "-fno-math-errno",
)  # fmt: skip
LDFLAGS: tuple[str, ...] = ("-lm",)


def find_cc() -> str | None:
    """The C compiler to use: clang, gcc or cc, whichever is first found on PATH."""
    return next((p for name in ("clang", "gcc", "cc") if (p := shutil.which(name)) is not None), None)


@dataclass(frozen=True)
class Toolchain:
    """Facts about the C compiler, read once per process."""

    path: str
    version: str  # first line of `cc --version`
    march: str  # what -march=native resolves to on this machine, e.g. "znver3"
    target_hash: str  # hash of the predefined macros under -march=native: every enabled ISA extension


def _run(args: list[str]) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def _native_march(cc: str) -> str:
    # gcc reports it in its target help
    for line in _run([cc, "-march=native", "-Q", "--help=target"]).splitlines():
        if line.strip().startswith("-march=") and len(parts := line.split()) > 1:
            return parts[-1]
    # clang shows it as -target-cpu in the driver's dry run (printed to stderr)
    try:
        out = subprocess.run(
            [cc, "-march=native", "-###", "-x", "c", "-c", "/dev/null"], capture_output=True, text=True, timeout=60
        ).stderr
    except (OSError, subprocess.SubprocessError):
        out = ""
    toks = out.replace('"', " ").split()
    return toks[toks.index("-target-cpu") + 1] if "-target-cpu" in toks[:-1] else "native"


@functools.cache
def toolchain(cc: str | None = None) -> Toolchain:
    path = cc or find_cc()
    if path is None:
        raise CompileError("no C compiler on PATH (looked for clang, gcc, cc); install one, e.g. apt-get install gcc")
    version = (_run([path, "--version"]).splitlines() or ["unknown version"])[0].strip()
    # -march=native means different code on different CPUs; the cache key must say which CPU it meant
    macros = _run([path, "-march=native", "-dM", "-E", "-x", "c", "/dev/null"])
    return Toolchain(path, version, _native_march(path), hashlib.sha256(macros.encode()).hexdigest()[:16])


def numbered(src: str) -> str:
    return "\n".join(f"{i:4d} | {line}" for i, line in enumerate(src.splitlines(), 1))


class CCompiler(Compiler):
    """Compiles one C translation unit into a shared library and returns its bytes."""

    def __init__(self, cc: str | None = None, flags: tuple[str, ...] = CFLAGS) -> None:
        self.tc, self.flags = toolchain(cc), flags
        cmdline = " ".join(self.flags + LDFLAGS)
        self.cachekey = f"cc {self.tc.path} | {self.tc.version} | {cmdline} | {self.tc.target_hash}"

    def disassemble(self, lib: bytes) -> str:
        """objdump of the kernel library (DEBUG=7)."""
        objdump = shutil.which("objdump")
        if objdump is None:
            return "(no objdump on PATH: apt-get install binutils)"
        with tempfile.TemporaryDirectory(prefix="tinygrad-cpu-") as d:
            p = Path(d) / "kernel.so"
            p.write_bytes(lib)
            out = subprocess.run([objdump, "-d", "--no-show-raw-insn", str(p)], capture_output=True, text=True)
            return out.stdout

    def compile(self, src: str) -> bytes:
        with tempfile.TemporaryDirectory(prefix="tinygrad-cpu-") as d:
            cfile, lib = Path(d) / "kernel.c", Path(d) / "kernel.so"
            cfile.write_text(src)
            args = [self.tc.path, *self.flags, "-o", str(lib), str(cfile), *LDFLAGS]
            try:
                proc = subprocess.run(args, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=600)
            except (OSError, subprocess.SubprocessError) as e:
                raise CompileError(f"could not run the C compiler {self.tc.path}: {e}") from e
            if proc.returncode != 0 or not lib.exists():
                raise CompileError(
                    f"C compiler failed (exit {proc.returncode}): {' '.join(args)}\n"
                    f"{proc.stderr.strip()}\n--- source ---\n{numbered(src)}"
                )
            return lib.read_bytes()
