"""Lowering one kernel from its AST to source: thread grid, simplification, linearization, rendering."""

from __future__ import annotations

from dataclasses import dataclass

from tinygrad.codegen.emulate_dtypes import EMULATABLE, rewrite_emulated
from tinygrad.codegen.opt import Opt, OptError, OptOps, apply_opts, hand_coded_optimizations
from tinygrad.dtype import dtypes
from tinygrad.helpers import DEBUG, NOOPT, prod
from tinygrad.renderer import Renderer
from tinygrad.uop.ops import Ops, UOp
from tinygrad.uop.pattern import graph_rewrite
from tinygrad.uop.symbolic import symbolic


@dataclass(frozen=True)
class ProgramSpec:
    """Everything needed to compile and launch one kernel."""

    name: str
    src: str
    uops: tuple[UOp, ...]
    global_size: tuple[int, ...]
    ops_estimate: int
    mem_estimate: int
    opts: tuple[Opt, ...] = ()
    local_size: tuple[int, ...] | None = None


def _outer_ranges(ast: UOp) -> list[UOp]:
    nodes = ast.toposort()
    reduce_ranges = {r for u in nodes if u.op is Ops.REDUCE for r in u.src[1:]}
    return sorted((u for u in nodes if u.op is Ops.RANGE and u not in reduce_ranges), key=lambda r: r.arg)


def _pick_local(size: int, limit: int) -> int:
    """Threads per block on one dimension: the largest power of two <= limit dividing size (no bounds checks
    needed then)."""
    lsz = 1
    while lsz * 2 <= limit and size % (lsz * 2) == 0:
        lsz *= 2
    return lsz


def to_grid(ast: UOp, renderer: Renderer) -> tuple[UOp, tuple[int, ...], tuple[int, ...] | None]:
    """Output loops -> thread indices for grid renderers. Dimension 0 (x) is the innermost loop. SPECIALs are
    named gidx{d} (block index) and lidx{d} (thread in block); a loop's index is gidx*local + lidx.
    Returns (ast, global_size, local_size)."""
    outer = _outer_ranges(ast)
    if not renderer.has_global_ids:
        # CPU-style: loops stay loops; a THREAD opt's core index is the only launch dimension
        specials = [u for u in ast.toposort() if u.op is Ops.SPECIAL]
        return ast, tuple(u.src[0].arg for u in specials) or (1,), None
    if not outer:
        return ast, (1,), (1,) if renderer.has_local else None
    sizes = [r.src[0].arg for r in reversed(outer)]  # innermost first
    maxes = renderer.global_max
    fits = maxes is None or (len(sizes) <= len(maxes) and all(s <= m for s, m in zip(sizes, maxes)))
    # too many or too large dimensions: flatten everything into x and recover each index with div/mod
    dims: list[list[UOp]] = [[r] for r in reversed(outer)] if fits else [list(reversed(outer))]
    mapping: dict[UOp, UOp] = {}
    gsz, lsz = [], []
    for d, group in enumerate(dims):
        total = prod(r.src[0].arg for r in group)
        loc = _pick_local(total, renderer.local_max) if renderer.has_local and d == 0 else 1
        g = UOp(Ops.SPECIAL, dtypes.index, (UOp.const(dtypes.index, total // loc),), f"gidx{d}")
        idx = g
        if renderer.has_local:
            lid = UOp(Ops.SPECIAL, dtypes.index, (UOp.const(dtypes.index, loc),), f"lidx{d}")
            idx = g * loc + lid if loc > 1 else g
        gsz.append(total // loc)
        lsz.append(loc)
        stride = 1
        for r in group:  # innermost first
            n = r.src[0].arg
            mapping[r] = (idx // stride) % n if len(group) > 1 else idx
            stride *= n
    return ast.substitute(mapping), tuple(gsz), tuple(lsz) if renderer.has_local else None


def estimate(uops: list[UOp]) -> tuple[int, int]:
    """(flops, bytes) by walking loops: each op counts the product of the loop sizes around it."""
    flops, mem, mult = 0, 0, 1
    stack: list[int] = []
    for u in uops:
        if u.op in (Ops.RANGE, Ops.SPECIAL):
            size = u.src[0].arg if u.src[0].op is Ops.CONST else 1
            if u.op is Ops.RANGE:
                stack.append(size)
            mult *= size
        elif u.op is Ops.END:
            mult //= max(stack.pop(), 1) or 1
        elif u.op in (Ops.LOAD, Ops.STORE):
            mem += mult * (u.dtype if u.op is Ops.LOAD else u.src[1].dtype).itemsize
        elif u.op not in (Ops.CONST, Ops.DEFINE_GLOBAL, Ops.DEFINE_ACC, Ops.INDEX, Ops.ACC_STORE, Ops.CAST):
            if u.dtype != dtypes.index:
                flops += mult
    return flops, mem


def get_program(ast: UOp, renderer: Renderer, opts: list[Opt] | None = None) -> ProgramSpec:
    """Optimize (hand-coded actions unless NOOPT or explicit `opts`), then linearize and render."""
    from tinygrad.codegen.linearize import linearize

    if renderer.supported_dtypes is not None:
        ast = rewrite_emulated(ast, frozenset(d for d in EMULATABLE if d not in renderer.supported_dtypes))
    params = [u for u in ast.toposort() if u.op is Ops.DEFINE_GLOBAL]
    if opts is None:
        opts = [] if NOOPT else hand_coded_optimizations(ast, threads=renderer.threads)
    if opts:
        if renderer.has_global_ids and any(o.op is OptOps.THREAD for o in opts):
            raise OptError("THREAD splits loops across CPU cores; grid renderers parallelize with the grid instead")
        ast = apply_opts(ast, opts)
    if DEBUG >= 3 and opts:
        print(f"{ast.arg}: {opts}")
    ast, global_size, local_size = to_grid(ast, renderer)
    ast = graph_rewrite(ast, symbolic, name="simplify kernel")
    uops = linearize(ast)
    # a buffer whose every load simplified away is still a kernel argument: launches pass buffers by position
    have = {u.arg for u in uops if u.op is Ops.DEFINE_GLOBAL}
    missing = sorted((g for g in params if g.arg not in have), key=lambda g: g.arg)
    uops = sorted(missing + [u for u in uops if u.op is Ops.DEFINE_GLOBAL], key=lambda g: g.arg) + \
        [u for u in uops if u.op is not Ops.DEFINE_GLOBAL]  # fmt: skip
    name = ast.arg if isinstance(ast.arg, str) else "kernel"
    src = renderer.render(name, uops)
    flops, mem = estimate(uops)
    return ProgramSpec(name, src, tuple(uops), global_size if prod(global_size) else (1,), flops, mem, tuple(opts),
                       local_size)  # fmt: skip
