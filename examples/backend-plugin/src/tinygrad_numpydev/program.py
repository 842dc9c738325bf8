"""Loading a marshalled kernel and calling it on numpy buffers."""

from __future__ import annotations

import marshal
import time
from typing import Any

import numpy as np

from tinygrad.device import Program
from tinygrad_numpydev import kernel_lib


class NpyProgram(Program):
    """The kernel function `name(bufs, global_size, vals)`; all grid threads run as lanes of numpy arrays."""

    def __init__(self, name: str, lib: bytes) -> None:
        super().__init__(name, lib)
        namespace: dict[str, Any] = {"np": np, "lib": kernel_lib}
        exec(marshal.loads(lib), namespace)
        try:
            self.fxn = namespace[name]
        except KeyError as e:
            raise RuntimeError(f"NpyProgram: compiled code defines no function {name!r}") from e

    def __call__(
        self,
        *bufs: Any,
        global_size: tuple[int, ...] = (1,),
        local_size: tuple[int, ...] | None = None,
        vals: tuple[int, ...] = (),
        wait: bool = False,
    ) -> float | None:
        st = time.perf_counter()
        # integer wrap-around and float overflow are the defined results, not warnings
        with np.errstate(all="ignore"):
            self.fxn(bufs, tuple(global_size), vals)
        # numpy runs synchronously, so the elapsed time is the kernel time
        return time.perf_counter() - st if wait else None
