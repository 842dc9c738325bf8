"""Tensor methods: linear algebra: qr, svd."""

from __future__ import annotations


class LinalgMixin:
    __slots__ = ()
