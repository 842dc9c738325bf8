"""tinygrad-core: a lazy, PyTorch-like Tensor library with pluggable backends."""

from tinygrad import dtype as _dtype_mod  # noqa: F401
from tinygrad.device import Device
from tinygrad.dtype import dtypes
from tinygrad.helpers import Context, GlobalCounters, getenv
from tinygrad.tensor import Tensor
from tinygrad.engine.jit import TinyJit  # noqa: E402  (needs Tensor)
from tinygrad.engine.function import function  # noqa: E402
from tinygrad import nn  # noqa: E402

__version__ = "0.1.0"
__all__ = ["Tensor", "TinyJit", "Device", "dtypes", "Context", "GlobalCounters", "getenv", "function", "nn"]
