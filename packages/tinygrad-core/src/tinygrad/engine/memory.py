"""Memory planning: let intermediate buffers whose lifetimes don't overlap share memory.

Used on a TinyJit capture, where the whole program is known: every buffer that only the captured kernels
reference (not an input, an output, or state some tensor still holds) is an intermediate. Lifetimes are
[first write, last read] in launch order; a greedy pass hands each new intermediate a free pooled buffer of
the same device, dtype and size, so the capture holds no more intermediate memory than its peak live set.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from tinygrad.device import Buffer


def plan_memory(steps: Sequence[Sequence[Buffer]], intermediates: set[int]) -> dict[int, Buffer]:
    """Map id(buffer) -> replacement buffer for intermediates. steps[i] lists the buffers launch i touches,
    its output first."""
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    by_id: dict[int, Buffer] = {}
    for i, bufs in enumerate(steps):
        for b in bufs:
            if id(b) in intermediates:
                first.setdefault(id(b), i)
                last[id(b)] = i
                by_id[id(b)] = b
    free: dict[tuple[str, int, object], list[Buffer]] = defaultdict(list)
    releases: dict[int, list[int]] = defaultdict(list)
    for bid, end in last.items():
        releases[end].append(bid)
    mapping: dict[int, Buffer] = {}
    starts: dict[int, list[int]] = defaultdict(list)
    for bid, s in first.items():
        starts[s].append(bid)
    for i in range(len(steps)):
        for bid in starts.get(i, []):
            b = by_id[bid]
            key = (b.device, b.nbytes, b.dtype)
            mapping[bid] = free[key].pop() if free[key] else b
        # release after the step: a kernel never writes into a buffer it is still reading
        for bid in releases.get(i, []):
            b = by_id[bid]
            free[(b.device, b.nbytes, b.dtype)].append(mapping[bid])
    return mapping
