"""The CPU device against core's backend conformance suite (docs/backends.md, tinygrad/testing/conformance.py)."""

from tinygrad.testing.conformance import conformance_tests

# every Device / Allocator / Renderer / Compiler / Kernels / Jit conformance test, run against CPU
globals().update(conformance_tests("CPU"))
