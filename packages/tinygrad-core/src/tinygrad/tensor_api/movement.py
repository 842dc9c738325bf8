"""Tensor methods: high-level movement: stacking, splitting, repeating, gather/scatter and advanced indexing."""

from __future__ import annotations


class MovementMixin:
    __slots__ = ()
