"""The C dialect for the CPU: plain C99 with GNU extensions, as gcc and clang accept it."""

from __future__ import annotations

import os

from tinygrad.dtype import dtypes
from tinygrad.renderer.cstyle import CStyleRenderer
from tinygrad.uop.ops import UOp


class CRenderer(CStyleRenderer):
    device = "CPU"
    # one thread runs the whole kernel: output axes stay loops, no grid, no shared memory
    has_global_ids = False
    has_local = False
    has_shared = False
    # the THREAD action splits a kernel across cores; each thread gets its index as a trailing int argument
    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    special_as_param = True
    # _Float16 is a real arithmetic type in gcc >= 12 and clang >= 15 on x86-64 and aarch64; bfloat16 and fp8
    # are not (gcc 12 allows __bf16 only as a storage type), so core must decompose them before rendering
    supported_dtypes = frozenset(dt for dt in CStyleRenderer.type_map if dt != dtypes.void)

    def preamble(self, uops: list[UOp]) -> str:
        # libm prototypes, so exp2f/log2f/sinf/... are called with the right types (an implicit declaration
        # would return int); -fno-math-errno lets the compiler inline sqrt/trunc as instructions
        return "#include <math.h>\n"
