"""The Renderer base: capability flags (class-level data) plus `render(name, uops) -> source`.

Core asks the renderer, never the device name, what the generated code may use.
"""

from __future__ import annotations

from tinygrad.dtype import DType
from tinygrad.uop.ops import UOp


class Renderer:
    device: str = ""
    # outer (output) loops become a thread grid of SPECIAL indices instead of loops
    has_global_ids: bool = False
    # False for storage-only devices (DISK): tensors there are copied elsewhere to compute on
    can_compute: bool = True
    # how many grid dimensions a launch takes (None: any number)
    global_max: tuple[int, ...] | None = None
    # cores a kernel may be split across with the THREAD action (CPU backends set this to the core count)
    threads: int = 1
    has_local: bool = False
    # most threads per block a grid launch uses on dimension x (when has_local)
    local_max: int = 128
    has_shared: bool = False
    # dtypes the generated code can load, compute and store; None means all
    supported_dtypes: frozenset[DType] | None = None

    def render(self, name: str, uops: list[UOp]) -> str:
        raise NotImplementedError
