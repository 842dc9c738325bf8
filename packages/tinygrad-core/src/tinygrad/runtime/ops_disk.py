"""DISK: tensors backed by a byte range of a file, through a memory map.

A device string is "DISK:/abs/path/file"; the file is the device's memory. `alloc` maps the file (creating or
growing it), `view` narrows a mapping to a byte range, and copyin/copyout are one memcpy through the mapping.
`as_memoryview` exposes the mapped bytes, so moving a DISK tensor to a host device reads the page cache
directly: one copy from file to device memory. Nothing is computed here: the renderer, compiler and program
refuse every kernel with a DeviceError, so users move tensors to a compute device with `.to(...)` first.
"""

from __future__ import annotations

import mmap
import os
from typing import Any

from tinygrad.device import Allocator, Compiled, Compiler, Program
from tinygrad.errors import DeviceError
from tinygrad.renderer import Renderer
from uop_types import *  # noqa: F401,F403  # placeholder removed below
