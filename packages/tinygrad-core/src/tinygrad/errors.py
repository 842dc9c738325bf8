"""The typed exceptions users can catch.

Each also derives from the builtin exception a Python user would expect (a shape problem is a ValueError, a
dtype problem a TypeError), so `except ValueError` keeps working. Messages say which call failed, what was
wrong, and how to fix it.
"""

from __future__ import annotations


class TinygradError(Exception):
    """Base class of every error tinygrad raises on purpose."""


class ShapeError(TinygradError, ValueError):
    """Shapes that cannot work together: broadcasting, reshape sizes, matmul inner dimensions."""


class AxisError(TinygradError, IndexError):
    """An axis/dimension argument out of range for the tensor's rank."""


class DTypeError(TinygradError, TypeError):
    """A dtype that the operation does not accept."""


class DeviceError(TinygradError, RuntimeError):
    """A device that is unknown, unavailable, or mismatched between operands."""


class CompileError(TinygradError, RuntimeError):
    """A backend compiler rejected generated code; the message carries the compiler's log."""


class JitError(TinygradError, RuntimeError):
    """TinyJit misuse: the captured function cannot be replayed for these inputs."""


class PluginError(TinygradError, RuntimeError):
    """A backend plugin failed to load or violates the plugin contract."""
