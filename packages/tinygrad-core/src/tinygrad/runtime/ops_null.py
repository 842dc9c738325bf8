"""NULL: renders kernels (as C, so DEBUG=4 has something to show) and runs nothing; for scheduling tests and
measuring Python-side overhead without any device cost."""

from __future__ import annotations

from typing import Any

from tinygrad.device import Allocator, Compiled, Compiler, Program
from tinygrad.renderer.cstyle import CStyleRenderer


class NullRenderer(CStyleRenderer):
    device = "NULL"


class NullAllocator(Allocator):
    def alloc(self, size: int, options: Any = None) -> int:
        return size

    def copyin(self, dest: Any, src: memoryview) -> None:
        pass

    def copyout(self, dest: memoryview, src: Any) -> None:
        pass


class NullProgram(Program):
    def __call__(self, *bufs: Any, global_size: tuple[int, ...] = (1,), local_size: Any = None,
                 vals: tuple[int, ...] = (), wait: bool = False) -> float | None:  # fmt: skip
        return 0.0 if wait else None


def open_null(device: str) -> Compiled:
    return Compiled(device, NullAllocator(), NullRenderer(), Compiler(), NullProgram)
