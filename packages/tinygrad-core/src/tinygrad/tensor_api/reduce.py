"""Tensor methods: reductions and scans: var/std, logsumexp, argmax, cumulative ops, sort/topk."""

from __future__ import annotations


class ReduceMixin:
    __slots__ = ()
