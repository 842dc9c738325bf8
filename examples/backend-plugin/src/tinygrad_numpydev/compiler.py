"""Python source -> bytecode: `compile()` the rendered function and marshal the code object.

marshal's format and the bytecode belong to one Python version, so the cache key names the interpreter's bytecode
magic number; core's disk cache then never hands one Python another's bytecode.
"""

from __future__ import annotations

import importlib.util
import marshal
import sys

from tinygrad.device import Compiler
from tinygrad.errors import CompileError


def numbered(src: str) -> str:
    return "\n".join(f"{i:4d} | {line}" for i, line in enumerate(src.splitlines(), 1))


class NpyCompiler(Compiler):
    """Compiles one rendered kernel (a `def`) to a marshalled code object."""

    cachekey = f"npy-bytecode {sys.implementation.cache_tag} {importlib.util.MAGIC_NUMBER.hex()}"

    def compile(self, src: str) -> bytes:
        try:
            code = compile(src, "<npy kernel>", "exec")
        except SyntaxError as e:
            raise CompileError(f"NPY kernel does not parse: {e}\n--- source ---\n{numbered(src)}") from e
        return marshal.dumps(code)

    def disassemble(self, lib: bytes) -> str:
        """The bytecode of the kernel function (DEBUG=7)."""
        import dis
        import io

        out = io.StringIO()
        dis.dis(marshal.loads(lib), file=out)
        return out.getvalue()
