"""Tensor methods: neural-network functionals: convolutions, pooling, normalization, attention, losses."""

from __future__ import annotations


class NNMixin:
    __slots__ = ()
