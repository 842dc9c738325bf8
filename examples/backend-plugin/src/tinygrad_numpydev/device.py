"""The NPY device: numpy-array allocator, Python-source renderer, bytecode compiler and program, bundled."""

from __future__ import annotations

import numpy as np

from tinygrad.device import Compiled
from tinygrad_numpydev.allocator import NpyAllocator
from tinygrad_numpydev.compiler import NpyCompiler
from tinygrad_numpydev.program import NpyProgram
from tinygrad_numpydev.renderer import NpyRenderer


class NpyDevice(Compiled):
    def __init__(self, device: str) -> None:
        super().__init__(device, NpyAllocator(), NpyRenderer(), NpyCompiler(), NpyProgram)

    def describe(self) -> dict[str, str]:
        return {
            "renderer": type(self.renderer).__name__,
            "compiler": self.compiler.cachekey or "",
            "numpy": np.__version__,
        }


def open_npy(device: str) -> Compiled:
    """Open "NPY" or "NPY:n": every ordinal is an independent pool of host memory."""
    return NpyDevice(device)
