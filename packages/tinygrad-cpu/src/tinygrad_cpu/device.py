"""The CPU device: host allocator, C renderer, C compiler and ctypes program, bundled."""

from __future__ import annotations

from tinygrad.device import Compiled
from tinygrad_cpu.allocator import CPUAllocator
from tinygrad_cpu.compiler import CCompiler
from tinygrad_cpu.program import CPUProgram
from tinygrad_cpu.renderer import CRenderer


class CPUDevice(Compiled):
    def __init__(self, device: str) -> None:
        self.cc = CCompiler()
        super().__init__(device, CPUAllocator(), CRenderer(), self.cc, CPUProgram)

    def describe(self) -> dict[str, str]:
        tc = self.cc.tc
        return {
            "renderer": type(self.renderer).__name__,
            "compiler": tc.path,
            "version": tc.version,
            "march": tc.march,
            "flags": " ".join(self.cc.flags),
        }


def open_cpu(device: str) -> Compiled:
    """Open "CPU" (any ordinal names the same host CPU)."""
    return CPUDevice(device)
