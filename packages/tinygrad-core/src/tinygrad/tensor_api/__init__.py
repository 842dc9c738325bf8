"""Tensor methods grouped by topic, as mixins of `tinygrad.Tensor`.

Each module holds one area of the public API; the methods build on the primitives in `tinygrad/tensor.py`,
so autograd and fusion come for free. `Tensor` is imported lazily inside methods to avoid an import cycle.
"""
