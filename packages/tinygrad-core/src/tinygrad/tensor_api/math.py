"""Tensor methods: elementwise math, activations, casting helpers and comparisons beyond the primitives."""

from __future__ import annotations


class MathMixin:
    __slots__ = ()
