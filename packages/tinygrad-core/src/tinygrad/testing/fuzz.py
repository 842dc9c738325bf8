"""Fuzzers for the compiler, each with an independent oracle and a shrinker that prints a runnable reproducer.

  symbolic  random integer index expressions over RANGEs, simplified by `uop.symbolic.simplify`, evaluated
            directly (vectorized numpy, C's truncating IDIV/MOD) at random points; also checks that every
            value lies within the expression's `vmin`/`vmax`
  programs  random tensor programs from a seeded grammar, run on the default device and compared with numpy
            (the numpy reference is built alongside, from the same resolved steps)
  opts      random sequences of UPCAST/UNROLL/THREAD actions on the kernels of assorted programs, compiled and
            run on the schedule's own buffers, compared with the unoptimized kernel

Run long sessions from the command line (DEV picks the device):

    python -m tinygrad.testing.fuzz symbolic --n 100000 --seed 1
    DEV=PYTHON python -m tinygrad.testing.fuzz programs --n 2000 --seed 7
    python -m tinygrad.testing.fuzz opts --n 500 --seed 3

Every failure is shrunk (greedy node replacement for expressions, delta debugging over steps and shapes for
programs, opt-list minimization for kernels) and reported as Python source that reproduces it.
"""

from __future__ import annotations

import argparse
import functools
import math
import random
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinygrad.dtype import dtypes
from tinygrad.uop.ops import Ops, UOp


@dataclass
class Failure:
    """One bug a fuzzer found: what kind, a message, and Python source reproducing its shrunk form."""

    fuzzer: str
    kind: str
    message: str
    repro: str
    case: int = -1

    def __str__(self) -> str:
        return f"[{self.fuzzer} case {self.case}] {self.kind}: {self.message}\n--- reproducer ---\n{self.repro}"


@dataclass
class FuzzReport:
    """What one fuzzing session did: cases run, cases that were skipped as invalid, failures, seconds."""

    fuzzer: str
    seed: int
    cases: int = 0
    checks: int = 0
    skipped: int = 0
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        return (f"{self.fuzzer}: seed {self.seed}, {self.cases} cases, {self.checks} checks, {self.skipped} skipped, "
                f"{len(self.failures)} failures, {self.seconds:.1f}s")  # fmt: skip


# =====================================================================================================
# symbolic: index expressions vs direct evaluation
# =====================================================================================================

IDX = dtypes.index


def _c(v: int) -> UOp:
    return UOp.const(IDX, v)


def make_range(size: int, axis: int) -> UOp:
    """A loop variable taking the values 0 .. size-1."""
    return UOp(Ops.RANGE, IDX, (_c(size),), axis)


class ExprGen:
    """Random integer/bool index expressions over `ranges`. `var_divisors` also divides by (positive)
    expressions instead of constants only, `neg_divisors` by negative constants; index math from movement ops
    never does either, but the IR allows both (Tensor-level int `//` and `%` lower to IDIV/MOD of any values)."""

    def __init__(self, rnd: random.Random, ranges: Sequence[UOp], var_divisors: bool = False,
                 neg_divisors: bool = False) -> None:  # fmt: skip
        self.rnd, self.ranges, self.var_divisors, self.neg_divisors = rnd, list(ranges), var_divisors, neg_divisors

    def leaf(self) -> UOp:
        if self.rnd.random() < 0.75:
            return self.rnd.choice(self.ranges)
        return _c(self.rnd.randint(-6, 12))

    def int_expr(self, depth: int) -> UOp:
        r = self.rnd
        if depth <= 0 or r.random() < 0.15:
            return self.leaf()
        kinds = ["add", "add", "sub", "mulc", "mulc", "mulv", "div", "div", "mod", "mod", "neg", "max", "where",
                 "cast", "rawsub"]  # fmt: skip
        if self.var_divisors:
            kinds += ["divv", "modv"]
        k = r.choice(kinds)
        a = self.int_expr(depth - 1)
        if k == "add":
            b = self.int_expr(depth - 1)
            return UOp(Ops.ADD, IDX, (a, b) if r.random() < 0.8 else (b, a))
        if k == "sub":  # how UOp.__sub__ spells it
            return UOp(Ops.ADD, IDX, (a, UOp(Ops.NEG, IDX, (self.int_expr(depth - 1),))))
        if k == "rawsub":
            return UOp(Ops.SUB, IDX, (a, self.int_expr(depth - 1)))
        if k == "mulc":
            c = _c(r.choice([-3, -2, -1, 2, 3, 4, 5, 8]))
            return UOp(Ops.MUL, IDX, (a, c) if r.random() < 0.8 else (c, a))
        if k == "mulv":
            return UOp(Ops.MUL, IDX, (a, self.int_expr(depth - 2)))
        if k in ("div", "mod"):
            # negative divisors only for the extended grammar: index math never makes them
            c = _c(r.choice([1, 2, 3, 4, 5, 6, 7, 8, 12, 16] + ([-1, -2, -3, -5] if self.neg_divisors else [])))
            return UOp(Ops.IDIV if k == "div" else Ops.MOD, IDX, (a, c))
        if k in ("divv", "modv"):
            # a positive divisor: range + k, k >= 1
            d = UOp(Ops.ADD, IDX, (self.rnd.choice(self.ranges), _c(r.randint(1, 3))))
            return UOp(Ops.IDIV if k == "divv" else Ops.MOD, IDX, (a, d))
        if k == "neg":
            return UOp(Ops.NEG, IDX, (a,))
        if k == "max":
            return UOp(Ops.MAX, IDX, (a, self.int_expr(depth - 1)))
        if k == "where":
            return UOp(Ops.WHERE, IDX, (self.bool_expr(depth - 1), a, self.int_expr(depth - 1)))
        return UOp(Ops.CAST, IDX, (self.bool_expr(depth - 1),))

    def bool_expr(self, depth: int) -> UOp:
        r = self.rnd
        if depth <= 0 or r.random() < 0.05:
            return UOp.const(dtypes.bool, r.random() < 0.5)
        k = r.choice(["lt", "lt", "lt", "ne", "eq", "and", "or", "not", "ltc"])
        if k in ("lt", "ne", "eq"):
            op = {"lt": Ops.CMPLT, "ne": Ops.CMPNE, "eq": Ops.CMPEQ}[k]
            return UOp(op, dtypes.bool, (self.int_expr(depth - 1), self.int_expr(depth - 1)))
        if k == "ltc":  # the gate form padding produces: idx < const
            return UOp(Ops.CMPLT, dtypes.bool, (self.int_expr(depth - 1), _c(r.randint(-2, 20))))
        if k in ("and", "or"):
            op = Ops.AND if k == "and" else Ops.OR
            return UOp(op, dtypes.bool, (self.bool_expr(depth - 1), self.bool_expr(depth - 1)))
        # not x, the way UOp.__ge__ builds it
        return UOp(Ops.CMPNE, dtypes.bool, (self.bool_expr(depth - 1), UOp.const(dtypes.bool, True)))


def _trunc_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.abs(a) // np.where(b == 0, 1, np.abs(b))
    return np.where(b == 0, 0, np.where((a < 0) != (b < 0), -q, q))


def eval_index_expr(root: UOp, env: dict[UOp, np.ndarray]) -> dict[UOp, np.ndarray]:
    """Every node of `root` evaluated at all points at once (env: RANGE -> int64 array of its values). Direct
    Python semantics with C's truncating division; ints stay int64, comparisons give bool arrays."""
    vals: dict[UOp, np.ndarray] = {}
    for u in root.toposort(gate=lambda n: n not in env):
        if u in env:
            vals[u] = env[u]
            continue
        s = [vals[x] for x in u.src]
        op = u.op
        if op is Ops.CONST:
            v: Any = np.asarray(u.arg, dtype=np.bool_ if u.dtype == dtypes.bool else np.int64)
        elif op is Ops.ADD:
            v = s[0] + s[1]
        elif op is Ops.SUB:
            v = s[0] - s[1]
        elif op is Ops.MUL:
            v = s[0] * s[1]
        elif op is Ops.NEG:
            v = -s[0]
        elif op is Ops.IDIV:
            v = _trunc_div(s[0], s[1])
        elif op is Ops.MOD:
            v = s[0] - _trunc_div(s[0], s[1]) * s[1]
        elif op is Ops.MAX:
            v = np.maximum(s[0], s[1])
        elif op is Ops.CMPLT:
            v = s[0] < s[1]
        elif op is Ops.CMPNE:
            v = s[0] != s[1]
        elif op is Ops.CMPEQ:
            v = s[0] == s[1]
        elif op is Ops.AND:
            v = s[0] & s[1]
        elif op is Ops.OR:
            v = s[0] | s[1]
        elif op is Ops.XOR:
            v = s[0] ^ s[1]
        elif op is Ops.WHERE:
            v = np.where(s[0], s[1], s[2])
        elif op is Ops.CAST:
            v = s[0].astype(np.bool_ if u.dtype == dtypes.bool else np.int64)
        else:
            raise NotImplementedError(f"eval_index_expr: {op}")
        vals[u] = np.asarray(v)
    return vals


def _ranges_of(u: UOp) -> list[UOp]:
    return sorted((n for n in u.toposort() if n.op is Ops.RANGE), key=lambda r: r.arg)


def sample_points(ranges: Sequence[UOp], rnd: random.Random, n: int, exhaustive_limit: int) -> dict[UOp, np.ndarray]:
    """Values for each range: every combination when there are at most `exhaustive_limit`, else the all-min and
    all-max corners plus `n` random points."""
    sizes = [r.src[0].arg for r in ranges]
    total = math.prod(sizes)
    if total <= exhaustive_limit:
        grids = np.meshgrid(*[np.arange(s, dtype=np.int64) for s in sizes], indexing="ij")
        return {r: g.reshape(-1) for r, g in zip(ranges, grids)}
    pts = [[0] * len(sizes), [s - 1 for s in sizes]] + [[rnd.randrange(s) for s in sizes] for _ in range(n)]
    arr = np.array(pts, dtype=np.int64)
    return {r: arr[:, i] for i, r in enumerate(ranges)}


def check_index_expr(u: UOp, env: dict[UOp, np.ndarray]) -> tuple[str, str] | None:
    """(kind, message) of the first way `simplify(u)` is wrong at the points in env, or None.
    kinds: crash (simplify raised), dtype, mismatch (simplified value differs), bounds (a value outside
    [vmin, vmax] of its node, in the original or the simplified expression)."""
    from tinygrad.uop.symbolic import simplify

    try:
        s = simplify(u)
    except Exception as e:  # noqa: BLE001 - any exception from the simplifier is a finding
        return "crash", f"simplify raised {type(e).__name__}: {e}"
    if s.dtype != u.dtype:
        return "dtype", f"simplify changed dtype {u.dtype} -> {s.dtype}"
    ref = eval_index_expr(u, env)
    try:
        got = eval_index_expr(s, env)
    except NotImplementedError as e:
        return "crash", f"simplified expression has an op the evaluator does not know: {e}"
    npts = len(next(iter(env.values()))) if env else 1
    exp, act = np.broadcast_to(ref[u], (npts,)), np.broadcast_to(got[s], (npts,))
    if (bad := np.nonzero(exp != act)[0]).size:
        i = int(bad[0])
        pt = {f"r{r.arg}": int(v[i]) for r, v in env.items()}
        return (
            "mismatch",
            f"at {pt}: expected {exp[i].item()!r}, simplify gives {act[i].item()!r}; simplified: {render_uop(s)}",
        )
    for root, vals in ((u, ref), (s, got)):
        for n, v in vals.items():
            if n.op is Ops.CONST or n.dtype not in (IDX, dtypes.bool):
                continue
            try:
                lo, hi = n.vmin, n.vmax
            except Exception as e:  # noqa: BLE001
                return "crash", f"bounds of {render_uop(n)} raised {type(e).__name__}: {e}"
            vv = np.broadcast_to(v, (npts,))
            if (bad := np.nonzero((vv < lo) | (vv > hi))[0]).size:
                i = int(bad[0])
                pt = {f"r{r.arg}": int(x[i]) for r, x in env.items()}
                which = "original" if root is u else "simplified"
                return "bounds", (f"{render_uop(n)} = {vv[i].item()!r} at {pt} but its bounds are [{lo}, {hi}] "
                                  f"(node of the {which} expression)")  # fmt: skip
    return None


def render_uop(u: UOp) -> str:
    """Python source building u (RANGEs are referred to as r<axis>)."""
    if u.op is Ops.RANGE:
        return f"r{u.arg}"
    dt = "dtypes.index" if u.dtype == IDX else f"dtypes.{u.dtype.name}"
    if u.op is Ops.CONST:
        return f"UOp.const({dt}, {u.arg!r})"
    srcs = ", ".join(render_uop(s) for s in u.src)
    arg = "" if u.arg is None else f", {u.arg!r}"
    return f"UOp(Ops.{u.op.name}, {dt}, ({srcs},){arg})"


def render_symbolic_repro(u: UOp, kind: str, message: str) -> str:
    rngs = _ranges_of(u)
    lines = [
        "import random",
        "",
        "from tinygrad.dtype import dtypes",
        "from tinygrad.testing.fuzz import check_index_expr, sample_points",
        "from tinygrad.uop.ops import Ops, UOp",
        "from tinygrad.uop.symbolic import simplify",
        "",
    ]
    for r in rngs:
        lines.append(f"r{r.arg} = UOp(Ops.RANGE, dtypes.index, (UOp.const(dtypes.index, {r.src[0].arg}),), {r.arg})")
    lines.append(f"expr = {render_uop(u)}")
    lines.append("print(simplify(expr))")
    pts = f"sample_points([{', '.join(f'r{r.arg}' for r in rngs)}], random.Random(0), 256, 4096)"
    lines.append(f"assert check_index_expr(expr, {pts}) is None  # {kind}: {message}")
    return "\n".join(lines)


def _subst_keep_ranges(root: UOp, mapping: dict[UOp, UOp]) -> UOp:
    """substitute, but a RANGE is a leaf: replacing a constant must not change a loop's size."""
    memo: dict[UOp, UOp] = {}

    def go(u: UOp) -> UOp:
        if (r := memo.get(u)) is not None:
            return r
        if u in mapping:
            r = mapping[u]
        elif u.op is Ops.RANGE or not u.src:
            r = u
        else:
            new = tuple(go(s) for s in u.src)
            r = u if new == u.src else u.replace(src=new)
        memo[u] = r
        return r

    return go(root)


def _expr_size(u: UOp) -> int:
    return len([n for n in u.toposort(gate=lambda n: n.op is not Ops.RANGE)])


def _divisors_positive(u: UOp) -> bool:
    return all(n.src[1].op is not Ops.CONST or n.src[1].arg > 0 for n in u.toposort() if n.op in (Ops.IDIV, Ops.MOD))


def shrink_index_expr(u: UOp, fails: Callable[[UOp], bool], max_tries: int = 2000) -> UOp:
    """Greedy: replace nodes by a source, a small constant or a range, shrink constants and range sizes, while the
    expression keeps failing the same way."""
    tries = 0
    improved = True
    while improved and tries < max_tries:
        improved = False
        nodes = u.toposort(gate=lambda n: n.op is not Ops.RANGE)[::-1]  # root first: big cuts early
        for n in nodes:
            cands: list[UOp] = []
            if n.op is Ops.RANGE:
                size = n.src[0].arg
                cands += [make_range(s, n.arg) for s in sorted({1, size // 2, size - 1}) if 0 < s < size]
            elif n.op is Ops.CONST:
                if n.dtype == IDX and n.arg != 0:
                    cands += [_c(v) for v in dict.fromkeys([0, 1, n.arg // 2, n.arg - (1 if n.arg > 0 else -1)])
                              if abs(v) < abs(n.arg) or (v == 1 and n.arg < 0)]  # fmt: skip
            else:
                cands += [s for s in n.src if s.dtype == n.dtype]
                if n.dtype == IDX:
                    cands += [_c(0), _c(1)] + _ranges_of(n)[:2]
                elif n.dtype == dtypes.bool:
                    cands += [UOp.const(dtypes.bool, True), UOp.const(dtypes.bool, False)]
            for c in cands:
                if c is n:
                    continue
                new = _subst_keep_ranges(u, {n: c})
                if new is u or (n.op is not Ops.RANGE and _expr_size(new) >= _expr_size(u)):
                    continue
                if not _divisors_positive(new):  # keep the grammar's promise: divisors stay positive
                    continue
                tries += 1
                if fails(new):
                    u, improved = new, True
                    break
            if improved or tries >= max_tries:
                break
    return u


def fuzz_symbolic(n: int, seed: int, depth: int = 5, var_divisors: bool = False, shrink: bool = True,
                  max_failures: int = 10, verbose: bool = False, neg_divisors: bool = False) -> FuzzReport:  # fmt: skip
    """Check `simplify` on n random expressions (seeded): values at sampled points, and vmin/vmax bounds."""
    rep = FuzzReport("symbolic", seed)
    st = time.perf_counter()
    rnd = random.Random(seed)
    seen_kinds: set[str] = set()
    for case in range(n):
        nr = rnd.randint(1, 4)
        ranges = [make_range(rnd.choice([1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 16, 33]), a) for a in range(nr)]
        gen = ExprGen(rnd, ranges, var_divisors, neg_divisors)
        u = gen.int_expr(rnd.randint(1, depth)) if rnd.random() < 0.75 else gen.bool_expr(rnd.randint(1, depth))
        env = sample_points(_ranges_of(u), rnd, 48, 512)
        rep.cases += 1
        rep.checks += len(next(iter(env.values()))) if env else 1
        if (res := check_index_expr(u, env)) is None:
            continue
        kind, msg = res
        if shrink:

            def fails(e: UOp, kind: str = kind) -> bool:
                r = check_index_expr(e, sample_points(_ranges_of(e), random.Random(0), 256, 4096))
                return r is not None and r[0] == kind

            u = shrink_index_expr(u, fails)
            res2 = check_index_expr(u, sample_points(_ranges_of(u), random.Random(0), 256, 4096))
            if res2 is not None:
                kind, msg = res2
        f = Failure("symbolic", kind, msg, render_symbolic_repro(u, kind, msg), case)
        rep.failures.append(f)
        if verbose and (kind not in seen_kinds or verbose):
            print(f, flush=True)
        seen_kinds.add(kind)
        if len(rep.failures) >= max_failures:
            break
    rep.seconds = time.perf_counter() - st
    return rep


# =====================================================================================================
# programs: random tensor programs vs numpy
# =====================================================================================================

# small enough for the PYTHON device; values bounded so float32 rounding stays far below the tolerance
MAX_NUMEL = 256
MAX_ABS_FLOAT = 1e3
MAX_ABS_INT = 1 << 24
# relative tolerance for float results; the absolute one is this times the largest float magnitude the
# program produced (cancellation in a sum of large terms leaves an error relative to the terms, not the result)
FLOAT_TOL = 2e-3
# a discontinuous op (comparison, floor, cast to int, argmax) is skipped when its input is within this many
# tolerances of the jump: float error must not decide the outcome
GUARD_FACTOR = 8.0

NP_DTYPES: dict[str, Any] = {"f": np.float32, "i": np.int32, "b": np.bool_}
_NP_TO_CODE = {np.dtype(np.float32): "f", np.dtype(np.int32): "i", np.dtype(np.bool_): "b"}


@dataclass(frozen=True)
class Step:
    """One operation; its parameters (axes, sizes, constants, side inputs) come from `seed` and the shape and
    dtype of the value it is applied to, so any step applies anywhere and steps can be dropped while
    shrinking. A step that does not fit the value (or would leave the bounded domain) is skipped."""

    op: str
    seed: int


@dataclass(frozen=True)
class Program:
    shape: tuple[int, ...]
    dtype: str  # "f" float32, "i" int32, "b" bool
    seed: int
    steps: tuple[Step, ...]
    # where the input comes from: "data" (a buffer), "arange" or "full" (computed in the kernel, so index
    # math and its range analysis reach the values)
    src: str = "data"
    max_numel: int = MAX_NUMEL  # steps making values larger than this are skipped


def np_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return (e / np.sum(e, axis=axis, keepdims=True)).astype(np.float32)


def np_log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    m = x - np.max(x, axis=axis, keepdims=True)
    return (m - np.log(np.sum(np.exp(m), axis=axis, keepdims=True))).astype(np.float32)


def np_logsumexp(x: np.ndarray, axis: Any, keepdims: bool) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    r = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return (r if keepdims else np.squeeze(r, axis=axis)).astype(np.float32)


def np_conv2d(x: np.ndarray, w: np.ndarray, stride: int = 1, padding: int = 0, dilation: int = 1,
              groups: int = 1) -> np.ndarray:  # fmt: skip
    """Reference 2-D convolution (cross-correlation) of x (N, C, H, W) with w (O, C/groups, KH, KW)."""
    n, cin, _, _ = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    win = np.lib.stride_tricks.sliding_window_view(xp, ((kh - 1) * dilation + 1, (kw - 1) * dilation + 1), (2, 3))
    win = win[:, :, ::stride, ::stride, ::dilation, ::dilation]
    og = o // groups
    outs = [np.einsum("nchwij,ocij->nohw", win[:, g * cg:(g + 1) * cg], w[g * og:(g + 1) * og])
            for g in range(groups)]  # fmt: skip
    return np.concatenate(outs, axis=1).astype(np.float32)


_NP_HELPERS = {"np_softmax": np_softmax, "np_log_softmax": np_log_softmax, "np_logsumexp": np_logsumexp,
               "np_conv2d": np_conv2d}  # fmt: skip


def leaf_data(seed: int, k: int, shape: tuple[int, ...], kind: str) -> np.ndarray:
    """Deterministic input data. kinds: f (normal floats), f+ (|x| in [0.5, 2], for divisors), i (small ints),
    i+ (nonzero small ints), b (bools), idx:<n> (indices into an axis of size n, negative ones too),
    gidx:<n> (indices 0..n-1)."""
    g = np.random.default_rng([seed & 0xFFFFFFFF, k])
    if kind == "f":
        return (g.standard_normal(shape) * 1.5).astype(np.float32)
    if kind == "f+":
        return (g.uniform(0.5, 2.0, shape) * g.choice([-1, 1], shape)).astype(np.float32)
    if kind == "i":
        return g.integers(-9, 10, shape).astype(np.int32)
    if kind == "i+":
        return (g.integers(1, 6, shape) * g.choice([-1, 1], shape)).astype(np.int32)
    if kind == "b":
        return g.random(shape) < 0.5
    if kind.startswith("idx:"):
        n = int(kind[4:])
        return g.integers(-n, n, shape).astype(np.int32)
    if kind.startswith("gidx:"):
        return g.integers(0, int(kind[5:]), shape).astype(np.int32)
    raise ValueError(f"leaf_data: unknown kind {kind!r}")


class StepCtx:
    """What an op function sees: the current value (numpy), its dtype code, earlier values, a seeded Random,
    and helpers to request side inputs and register discontinuity guards."""

    def __init__(self, step: Step, x: np.ndarray, dt: str, hist: list[tuple[str, np.ndarray]]) -> None:
        self.rnd = random.Random(step.seed)
        self.seed, self.x, self.dt, self.hist = step.seed, x, dt, hist
        self.leaves: list[tuple[str, np.ndarray]] = []  # (placeholder, data)
        self.guards: list[str] = []  # numpy expressions that must stay away from 0
        self.h: str | None = None  # name of the earlier value used, if any

    @property
    def shape(self) -> tuple[int, ...]:
        return self.x.shape

    @property
    def ndim(self) -> int:
        return self.x.ndim

    def leaf(self, shape: Sequence[int], kind: str) -> str:
        key = f"L{len(self.leaves)}"
        self.leaves.append((key, leaf_data(self.seed, len(self.leaves), tuple(shape), kind)))
        return "{" + key + "}"

    def guard(self, expr: str) -> None:
        if self.dt == "f":
            self.guards.append(expr)

    def axis(self) -> int:
        return self.rnd.randrange(self.ndim)

    def axes(self) -> tuple[int, ...]:
        k = self.rnd.randint(1, self.ndim)
        return tuple(sorted(self.rnd.sample(range(self.ndim), k)))

    def bshape(self) -> tuple[int, ...]:
        """A shape that broadcasts with the current one (sometimes growing it)."""
        r = self.rnd
        shp = [1 if r.random() < 0.3 else s for s in self.shape]
        if shp and r.random() < 0.25:
            shp = shp[r.randint(0, len(shp)) :]
        shp = [r.randint(2, 3) if s == 1 and r.random() < 0.15 else s for s in shp]
        if r.random() < 0.08:
            shp = [r.randint(2, 3)] + shp
        return tuple(shp)

    def fconst(self) -> float:
        return self.rnd.choice([-2.5, -1.0, -0.5, 0.25, 0.5, 2.0, 3.0, 1.5])

    def iconst(self, nonzero: bool = False) -> int:
        return self.rnd.choice([-4, -3, -2, -1, 1, 2, 3, 5] + ([] if nonzero else [0]))

    def const(self) -> tuple[str, str]:
        """(tinygrad literal, numpy literal) of a constant of the current dtype."""
        if self.dt == "f":
            v = self.fconst()
            return repr(v), f"np.float32({v!r})"
        if self.dt == "i":
            iv = self.iconst()
            return repr(iv), f"np.int32({iv})"
        bv = self.rnd.random() < 0.5
        return repr(bv), f"np.bool_({bv})"


OpResult = tuple[str, str] | None
OpFn = Callable[[StepCtx], OpResult]
# name -> (dtype codes it applies to, weight, fn)
PROGRAM_OPS: dict[str, tuple[str, float, OpFn]] = {}


def _op(name: str, dts: str, weight: float = 1.0) -> Callable[[OpFn], OpFn]:
    def deco(fn: OpFn) -> OpFn:
        PROGRAM_OPS[name] = (dts, weight, fn)
        return fn

    return deco


def _unary(name: str, tg: str, npx: str, guard: str | None = None, dts: str = "f", weight: float = 0.5) -> None:
    def fn(c: StepCtx) -> OpResult:
        if guard is not None:
            c.guard(guard)
        return tg, npx

    _op(name, dts, weight)(fn)


# ---- elementwise, unary ----
_unary("neg", "-{x}", "-{x}", dts="fi")
_unary("abs", "{x}.abs()", "np.abs({x})", dts="fi")
_unary("relu", "{x}.relu()", "np.maximum({x}, np.float32(0))")
_unary("exp", "{x}.exp()", "np.exp({x})")
_unary("exp2", "{x}.exp2()", "np.exp2({x})")
_unary("log", "({x}.abs() + 1).log()", "np.log(np.abs({x}) + np.float32(1))")
_unary("log2", "({x}.abs() + 0.5).log2()", "np.log2(np.abs({x}) + np.float32(0.5))")
_unary("sqrt", "{x}.abs().sqrt()", "np.sqrt(np.abs({x}))")
_unary("rsqrt", "({x}.abs() + 0.5).rsqrt()", "np.float32(1) / np.sqrt(np.abs({x}) + np.float32(0.5))")
_unary("sin", "{x}.sin()", "np.sin({x})")
_unary("cos", "{x}.cos()", "np.cos({x})")
_unary("tanh", "{x}.tanh()", "np.tanh({x})")
_unary("sigmoid", "{x}.sigmoid()", "np.float32(1) / (np.float32(1) + np.exp(-{x}))")
_unary("recip", "({x}.square() + 1).reciprocal()", "np.float32(1) / ({x} * {x} + np.float32(1))")
_unary("square", "{x}.square()", "{x} * {x}", dts="fi")
_unary("floor", "{x}.floor()", "np.floor({x})", guard="{x} - np.round({x})")
_unary("ceil", "{x}.ceil()", "np.ceil({x})", guard="{x} - np.round({x})")
_unary("trunc", "{x}.trunc()", "np.trunc({x})", guard="{x} - np.round({x})")
_unary("round", "{x}.round()", "np.round({x})", guard="{x} - np.floor({x}) - np.float32(0.5)")
_unary("sign", "{x}.sign()", "np.sign({x})", guard="{x}", dts="fi")
_unary("half", "{x}.cast(dtypes.float16).cast(dtypes.float32)", "{x}.astype(np.float16).astype(np.float32)")
_unary("not", "{x}.logical_not()", "np.logical_not({x})", dts="b")
_unary("invert", "~{x}", "~{x}", dts="ib")
# ---- casts ----
_unary("to_int", "{x}.cast(dtypes.int32)", "{x}.astype(np.int32)", guard="{x} - np.round({x})", dts="fb")
_unary("to_float", "{x}.cast(dtypes.float32)", "{x}.astype(np.float32)", dts="ib")
_unary("to_bool", "{x}.cast(dtypes.bool)", "{x} != 0", guard="{x}", dts="fi")
_unary("wrap8", "{x}.cast(dtypes.int8).cast(dtypes.int32)", "{x}.astype(np.int8).astype(np.int32)", dts="i")
_unary("wrapu8", "{x}.cast(dtypes.uint8).cast(dtypes.int32)", "{x}.astype(np.uint8).astype(np.int32)", dts="i")
_unary("contiguous", "{x}.contiguous()", "{x}", dts="fib", weight=0.6)
_unary("realize", "{x}.realize()", "{x}", dts="fib", weight=0.3)


# ---- elementwise with a constant ----
@_op("const_arith", "fi", 2)
def _const_arith(c: StepCtx) -> OpResult:
    tk, nk = c.const()
    kind = c.rnd.choice(["+", "-", "*", "r-"] + (["/", "r/"] if c.dt == "f" else ["//", "%", "<<", ">>"]))
    if kind == "r-":
        return f"{tk} - {{x}}", f"{nk} - {{x}}"
    if kind in ("/", "//", "%"):
        if c.dt == "f":
            v = c.fconst()
            return f"{{x}} / {v!r}", f"{{x}} / np.float32({v!r})"
        iv = c.iconst(nonzero=True)
        return f"{{x}} {kind} {iv}", f"{{x}} {kind} np.int32({iv})"
    if kind == "r/":
        c.guard("{x}")
        return f"{tk} / ({{x}}.abs() + 0.5)", f"{nk} / (np.abs({{x}}) + np.float32(0.5))"
    if kind in ("<<", ">>"):
        k = c.rnd.randint(0, 3)
        return f"{{x}} {kind} {k}", f"{{x}} {kind} np.int32({k})"
    return f"{{x}} {kind} {tk}", f"{{x}} {kind} {nk}"


@_op("clip", "fi")
def _clip(c: StepCtx) -> OpResult:
    lo, hi = sorted((c.fconst(), c.fconst())) if c.dt == "f" else sorted((c.iconst(), c.iconst()))
    npt = "np.float32" if c.dt == "f" else "np.int32"
    return f"{{x}}.clip({lo!r}, {hi!r})", f"np.clip({{x}}, {npt}({lo!r}), {npt}({hi!r}))"


@_op("pow", "f", 0.5)
def _pow(c: StepCtx) -> OpResult:
    e = c.rnd.choice([2, 3, 0.5, 1.5, -1])
    if e in (2, 3):
        return f"{{x}} ** {e}", f"{{x}} ** np.float32({e})"
    return f"({{x}}.abs() + 0.5) ** {e}", f"(np.abs({{x}}) + np.float32(0.5)) ** np.float32({e})"


# ---- elementwise with a side input ----
@_op("binary", "fib", 3)
def _binary(c: StepCtx) -> OpResult:
    shp = c.bshape()
    if c.dt == "b":
        op = c.rnd.choice(["&", "|", "^"])
        a = c.leaf(shp, "b")
        return f"{{x}} {op} {a}", f"{{x}} {op} {a}"
    ops = ["+", "-", "*", "max", "min"] + (["/"] if c.dt == "f" else ["//", "%", "&", "|", "^"])
    op = c.rnd.choice(ops)
    a = c.leaf(shp, c.dt + ("+" if op in ("/", "//", "%") else ""))
    if op in ("max", "min"):
        npf = "np.maximum" if op == "max" else "np.minimum"
        return f"{{x}}.{op}imum({a})", f"{npf}({{x}}, {a})"
    if c.rnd.random() < 0.2 and op in ("+", "-", "*"):  # the reflected form: leaf op x
        return f"{a} {op} {{x}}", f"{a} {op} {{x}}"
    return f"{{x}} {op} {a}", f"{{x}} {op} {a}"


@_op("compare", "fi", 1.5)
def _compare(c: StepCtx) -> OpResult:
    op = c.rnd.choice(["<", "<=", ">", ">=", "==", "!="])
    if c.rnd.random() < 0.5:
        tk, nk = c.const()
        c.guard(f"{{x}} - {nk}")
        return f"({{x}} {op} {tk})", f"({{x}} {op} {nk})"
    a = c.leaf(c.bshape(), c.dt)
    c.guard(f"{{x}} - {a}")
    return f"({{x}} {op} {a})", f"({{x}} {op} {a})"


@_op("where", "fib", 1.5)
def _where(c: StepCtx) -> OpResult:
    if c.dt == "b":
        kind = c.rnd.choice("fi")
        a = c.leaf(c.bshape(), kind)
        if c.rnd.random() < 0.3:
            v = 1.5 if kind == "f" else 7
            npv = f"np.float32({v})" if kind == "f" else f"np.int32({v})"
            return f"{{x}}.where({a}, {v})", f"np.where({{x}}, {a}, {npv})"
        b = c.leaf(c.bshape(), kind)
        return f"{{x}}.where({a}, {b})", f"np.where({{x}}, {a}, {b})"
    tk, nk = c.const()
    c.guard(f"{{x}} - {nk}")
    a = c.leaf(c.bshape(), c.dt)
    return f"({{x}} > {tk}).where({{x}}, {a})", f"np.where({{x}} > {nk}, {{x}}, {a})"


@_op("combine", "fib", 1.5)
def _combine(c: StepCtx) -> OpResult:
    """Reuse an earlier value: the graph becomes a DAG (fusion rules about reductions read twice kick in)."""
    cands = [(n, v) for n, v in c.hist if v.dtype == c.x.dtype]
    if not cands:
        return None
    name, v = c.rnd.choice(cands)
    try:
        np.broadcast_shapes(v.shape, c.shape)
    except ValueError:
        return None
    c.h = name
    if c.dt == "b":
        op = c.rnd.choice(["&", "|", "^"])
        return f"{{x}} {op} {{h}}", f"{{x}} {op} {{h}}"
    op = c.rnd.choice(["+", "-", "*", "max"])
    if op == "max":
        return "{x}.maximum({h})", "np.maximum({x}, {h})"
    return f"{{x}} {op} {{h}}", f"{{x}} {op} {{h}}"


@_op("iota", "fib", 2)
def _iota(c: StepCtx) -> OpResult:
    """Combine with an arange along one axis: the arange's values are index expressions inside the kernel, so
    the simplifier's range analysis decides things about them."""
    if c.ndim == 0:
        return None
    r = c.rnd
    d = c.axis()
    n = c.shape[d]
    rs = tuple(n if i == d else 1 for i in range(c.ndim))
    ops = {"f": ["+", "-", "*", "/", "max"], "i": ["+", "-", "*", "//", "%", "r//", "r%", "max"], "b": ["&"]}[c.dt]
    op = r.choice(ops)
    start, step = r.randint(-3, 3), r.choice([1, 2, 3, -1, -2])
    if op in ("/", "//", "%"):  # the arange divides: keep it away from 0
        start, step = r.randint(1, 4), r.choice([1, 2, 3])
    if op in ("r//", "r%") and np.any(c.x == 0):
        return None
    tdt, ndt = ("dtypes.float32", "np.float32") if c.dt == "f" else ("dtypes.int32", "np.int32")
    a_tg = f"Tensor.arange({start}, {start + n * step}, {step}, dtype={tdt}).reshape({rs})"
    a_np = f"np.arange({start}, {start + n * step}, {step}, dtype={ndt}).reshape({rs})"
    if c.dt == "b":
        k = r.randint(2, 3)
        return f"{{x}} & ({a_tg} % {k} == 0)", f"{{x}} & ({a_np} % {k} == 0)"
    if op == "max":
        return f"{{x}}.maximum({a_tg})", f"np.maximum({{x}}, {a_np})"
    if op.startswith("r"):
        return f"{a_tg} {op[1:]} {{x}}", f"{a_np} {op[1:]} {{x}}"
    return f"{{x}} {op} {a_tg}", f"{{x}} {op} {a_np}"


@_op("tri", "fib", 0.6)
def _tri(c: StepCtx) -> OpResult:
    if c.ndim < 2:
        return None
    f, k = c.rnd.choice(["tril", "triu"]), c.rnd.randint(-2, 2)
    return f"{{x}}.{f}({k})", f"np.{f}({{x}}, {k})"


# ---- movement ----
def _factor(n: int) -> list[int]:
    out, p = [], 2
    while p * p <= n:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out + ([n] if n > 1 else [])


@_op("reshape", "fib", 2)
def _reshape(c: StepCtx) -> OpResult:
    r, n = c.rnd, c.x.size
    if n == 0:
        shp = [r.randint(0, 3) for _ in range(r.randint(1, 3))]
        shp[r.randrange(len(shp))] = 0
    else:
        fs = _factor(n)
        r.shuffle(fs)
        k = r.randint(0 if n == 1 else 1, max(1, min(4, len(fs))))
        shp = [1] * k
        for f in fs:
            shp[r.randrange(k)] *= f
        while len(shp) < 5 and r.random() < 0.25:
            shp.insert(r.randint(0, len(shp)), 1)
    if shp and n and r.random() < 0.2:
        shp[r.randrange(len(shp))] = -1
    return f"{{x}}.reshape({tuple(shp)})", f"{{x}}.reshape({tuple(shp)})"


@_op("permute", "fib", 2)
def _permute(c: StepCtx) -> OpResult:
    if c.ndim < 2:
        return None
    p = list(range(c.ndim))
    c.rnd.shuffle(p)
    if c.rnd.random() < 0.3:
        return f"{{x}}.transpose({p[0]}, {p[1]})", f"np.swapaxes({{x}}, {p[0]}, {p[1]})"
    return f"{{x}}.permute({tuple(p)})", f"np.transpose({{x}}, {tuple(p)})"


@_op("expand", "fib", 1.5)
def _expand(c: StepCtx) -> OpResult:
    r = c.rnd
    shp = list(c.shape)
    if 1 not in shp or r.random() < 0.3:
        shp.insert(r.randint(0, len(shp)), 1)
    base = tuple(shp)
    ones = [i for i, s in enumerate(shp) if s == 1]
    for i in r.sample(ones, r.randint(1, len(ones))):
        shp[i] = r.randint(2, 4)
    new = tuple(shp)
    if base == c.shape:
        return f"{{x}}.expand({new})", f"np.broadcast_to({{x}}, {new})"
    return f"{{x}}.reshape({base}).expand({new})", f"np.broadcast_to({{x}}.reshape({base}), {new})"


@_op("pad", "fib", 1.5)
def _pad(c: StepCtx) -> OpResult:
    if c.ndim == 0:
        return None
    r = c.rnd
    pairs = [(r.randint(-1, 2), r.randint(-1, 2)) if r.random() < 0.6 else (0, 0) for _ in range(c.ndim)]
    pairs = [(max(b, -(s // 2)), max(a, -(s // 2))) for (b, a), s in zip(pairs, c.shape)]  # crop at most half
    crop = ", ".join(f"{-min(b, 0)}:{s + min(a, 0)}" for (b, a), s in zip(pairs, c.shape))
    pos = tuple((max(b, 0), max(a, 0)) for b, a in pairs)
    if c.dt == "b":
        v: Any = r.random() < 0.5
    else:
        v = 0 if r.random() < 0.5 else (c.fconst() if c.dt == "f" else c.iconst())
    npv = {"f": f"np.float32({v!r})", "i": f"np.int32({v!r})", "b": f"np.bool_({v!r})"}[c.dt]
    npx = f"np.pad({{x}}[{crop},], {pos}, constant_values={npv})"
    if r.random() < 0.3:  # the flat torch-style form, last dim first
        flat = tuple(p for b, a in reversed(pairs) for p in (b, a))
        return f"{{x}}.pad({flat}, value={v!r})", npx
    return f"{{x}}.pad({tuple(pairs)}, value={v!r})", npx


@_op("shrink", "fib", 1.5)
def _shrink(c: StepCtx) -> OpResult:
    if c.ndim == 0:
        return None
    args = []
    for s in c.shape:
        b = c.rnd.randint(0, s)
        e = c.rnd.randint(b, s)
        if e == b and c.rnd.random() < 0.9:
            b, e = 0, s
        args.append((b, e))
    sl = ", ".join(f"{b}:{e}" for b, e in args)
    return f"{{x}}.shrink({tuple(args)})", f"{{x}}[{sl},]"


@_op("flip", "fib", 1.5)
def _flip(c: StepCtx) -> OpResult:
    if c.ndim == 0:
        return None
    ax = c.axes()
    return f"{{x}}.flip({ax})", f"np.flip({{x}}, {ax})"


def _slice_src(r: random.Random, s: int) -> str:
    def bound() -> str:
        return "" if r.random() < 0.4 else str(r.randint(-s - 1, s + 1))

    step = r.choice(["", "", "1", "2", "3", "-1", "-2"])
    return f"{bound()}:{bound()}" + (f":{step}" if step else "")


@_op("getitem", "fib", 2)
def _getitem(c: StepCtx) -> OpResult:
    r = c.rnd
    parts: list[str] = []
    for s in c.shape[: r.randint(0, c.ndim)] if c.ndim else ():
        x = r.random()
        if x < 0.2 and s > 0:
            parts.append(str(r.randint(-s, s - 1)))
        elif x < 0.3:
            parts.append(":")
        else:
            parts.append(_slice_src(r, s))
    if r.random() < 0.15:
        parts.insert(r.randint(0, len(parts)), "None")
    if r.random() < 0.1 and len(parts) < c.ndim:
        parts.append("...")
        if c.ndim and r.random() < 0.5:
            parts.append(_slice_src(r, c.shape[-1]))
    if not parts:
        parts = [":"] if c.ndim else ["None"]
    idx = ", ".join(parts)
    return f"{{x}}[{idx}]", f"{{x}}[{idx}]"


@_op("index_tensor", "fib", 1.2)
def _index_tensor(c: StepCtx) -> OpResult:
    if c.ndim == 0:
        return None
    d = c.rnd.randrange(c.ndim)
    s = c.shape[d]
    if s == 0:
        return None
    ishape = tuple(c.rnd.randint(1, 4) for _ in range(c.rnd.randint(1, 2)))
    a = c.leaf(ishape, f"idx:{s}")
    pre = ":, " * d
    return f"{{x}}[{pre}{a}]", f"{{x}}[{pre}{a}]"


@_op("gather", "fib", 0.8)
def _gather(c: StepCtx) -> OpResult:
    if c.ndim == 0 or 0 in c.shape:
        return None
    d = c.rnd.randrange(c.ndim)
    ishape = tuple(c.rnd.randint(1, 4) if i == d else c.rnd.randint(1, s) for i, s in enumerate(c.shape))
    a = c.leaf(ishape, f"gidx:{c.shape[d]}")
    sl = ", ".join(":" if i == d else f":{n}" for i, n in enumerate(ishape))
    return f"{{x}}.gather({d}, {a})", f"np.take_along_axis({{x}}[{sl},], {a}, axis={d})"


@_op("cat", "fib")
def _cat(c: StepCtx) -> OpResult:
    if c.ndim == 0:
        return None
    d = c.axis()
    shp = tuple(c.rnd.randint(0, 3) if i == d else s for i, s in enumerate(c.shape))
    a = c.leaf(shp, c.dt)
    if c.rnd.random() < 0.3:
        return f"{a}.cat({{x}}, dim={d})", f"np.concatenate([{a}, {{x}}], axis={d})"
    return f"{{x}}.cat({a}, dim={d})", f"np.concatenate([{{x}}, {a}], axis={d})"


@_op("repeat", "fib", 0.5)
def _repeat(c: StepCtx) -> OpResult:
    reps = tuple(c.rnd.randint(1, 2) for _ in range(c.ndim + c.rnd.randint(0, 1)))
    if not reps:
        return None
    return f"{{x}}.repeat({reps})", f"np.tile({{x}}, {reps})"


@_op("roll", "fib", 0.5)
def _roll(c: StepCtx) -> OpResult:
    if c.ndim == 0:
        return None
    d, k = c.axis(), c.rnd.randint(-3, 3)
    return f"{{x}}.roll({k}, {d})", f"np.roll({{x}}, {k}, axis={d})"


# ---- reductions ----
def _axis_arg(c: StepCtx) -> Any:
    if c.ndim == 0 or c.rnd.random() < 0.15:
        return None
    ax = c.axes()
    return ax[0] if len(ax) == 1 and c.rnd.random() < 0.5 else ax


@_op("sum", "fib", 2)
def _sum(c: StepCtx) -> OpResult:
    ax, kd = _axis_arg(c), c.rnd.random() < 0.4
    out = "np.float32" if c.dt == "f" else "np.int32"
    return f"{{x}}.sum({ax}, keepdim={kd})", f"np.sum({{x}}, axis={ax}, keepdims={kd}).astype({out})"


@_op("maxmin", "fi", 1.5)
def _maxmin(c: StepCtx) -> OpResult:
    ax, kd = _axis_arg(c), c.rnd.random() < 0.4
    f = c.rnd.choice(["max", "min"])
    return f"{{x}}.{f}({ax}, keepdim={kd})", f"np.{f}({{x}}, axis={ax}, keepdims={kd})"


@_op("mean", "f")
def _mean(c: StepCtx) -> OpResult:
    ax, kd = _axis_arg(c), c.rnd.random() < 0.4
    return f"{{x}}.mean({ax}, keepdim={kd})", f"np.mean({{x}}, axis={ax}, keepdims={kd}).astype(np.float32)"


@_op("prod", "f", 0.4)
def _prod(c: StepCtx) -> OpResult:
    ax, kd = _axis_arg(c), c.rnd.random() < 0.4
    # any order of multiplication stays below this bound; past float32's range, inf * 0 = nan depends on order
    if c.x.size and np.max(np.prod(np.maximum(np.abs(c.x.astype(np.float64)), 1.0), axis=ax)) > 1e30:
        return None
    return f"{{x}}.prod({ax}, keepdim={kd})", f"np.prod({{x}}, axis={ax}, keepdims={kd}).astype(np.float32)"


@_op("anyall", "b")
def _anyall(c: StepCtx) -> OpResult:
    ax, kd = _axis_arg(c), c.rnd.random() < 0.4
    f = c.rnd.choice(["any", "all"])
    return f"{{x}}.{f}({ax}, keepdim={kd})", f"np.{f}({{x}}, axis={ax}, keepdims={kd})"


@_op("argmax", "fi", 0.8)
def _argmax(c: StepCtx) -> OpResult:
    if c.x.size == 0:
        return None
    f = c.rnd.choice(["argmax", "argmin"])
    if c.ndim == 0 or c.rnd.random() < 0.2:
        ax: int | None = None
        kd = False
    else:
        ax, kd = c.axis(), c.rnd.random() < 0.4
    # near-ties between the best two candidates would let float error pick the winner
    if c.dt == "f":
        srt = np.sort(c.x.reshape(-1) if ax is None else np.moveaxis(c.x, ax, -1), axis=-1)
        if srt.shape[-1] > 1:
            gap = srt[..., -1] - srt[..., -2] if f == "argmax" else srt[..., 1] - srt[..., 0]
            c.guards.append(repr(float(np.min(gap))) if gap.size else "1.0")
    return f"{{x}}.{f}({ax}, keepdim={kd})", f"np.{f}({{x}}, axis={ax}, keepdims={kd}).astype(np.int32)"


@_op("cumsum", "fi", 0.8)
def _cumsum(c: StepCtx) -> OpResult:
    if c.ndim == 0:
        return None
    d = c.axis()
    out = "np.float32" if c.dt == "f" else "np.int32"
    return f"{{x}}.cumsum({d})", f"np.cumsum({{x}}, axis={d}).astype({out})"


@_op("softmax", "f", 1.2)
def _softmax(c: StepCtx) -> OpResult:
    if c.ndim == 0 or 0 in c.shape:
        return None
    d = c.axis()
    f = c.rnd.choice(["softmax", "log_softmax", "logsumexp", "normalize"])
    if f == "logsumexp":
        kd = c.rnd.random() < 0.5
        return f"{{x}}.logsumexp({d}, keepdim={kd})", f"np_logsumexp({{x}}, {d}, {kd})"
    if f == "normalize":  # a reduce read through an expand by its own input: a separate kernel
        return (f"{{x}} - {{x}}.max({d}, keepdim=True)",
                f"{{x}} - np.max({{x}}, axis={d}, keepdims=True)")  # fmt: skip
    return f"{{x}}.{f}({d})", f"np_{f}({{x}}, {d})"


# ---- matmul, convolution ----
@_op("matmul", "fi", 1.5)
def _matmul(c: StepCtx) -> OpResult:
    r = c.rnd
    if c.ndim == 0 or 0 in c.shape:
        return None
    if c.ndim >= 2 and r.random() < 0.3:
        return "{x} @ {x}.transpose(-1, -2)", "{x} @ np.swapaxes({x}, -1, -2)"
    k, n = c.shape[-1], r.randint(1, 5)
    shp: tuple[int, ...] = (k,) if r.random() < 0.15 else (k, n)
    if c.ndim >= 2 and len(shp) == 2 and r.random() < 0.3:  # a batched right operand, broadcast against x
        shp = (c.shape[-3] if c.ndim >= 3 else r.randint(2, 3), k, n)
    a = c.leaf(shp, c.dt)
    if r.random() < 0.2 and c.ndim == 2 and len(shp) == 2:
        return f"{{x}}.T.T @ {a}", f"{{x}} @ {a}"
    return f"{{x}} @ {a}", f"{{x}} @ {a}"


@_op("conv2d", "f", 0.8)
def _conv2d(c: StepCtx) -> OpResult:
    r = c.rnd
    if c.ndim != 4 or 0 in c.shape:
        return None
    _, cin, h, w = c.shape
    groups = r.choice([g for g in (1, 2, 3) if cin % g == 0])
    kh, kw = r.randint(1, min(3, h + 2)), r.randint(1, min(3, w + 2))
    stride, pad, dil = r.choice([1, 1, 2]), r.choice([0, 0, 1]), r.choice([1, 1, 2])
    if (h + 2 * pad - dil * (kh - 1) - 1) < 0 or (w + 2 * pad - dil * (kw - 1) - 1) < 0:
        return None
    cout = groups * r.randint(1, 2)
    wt = c.leaf((cout, cin // groups, kh, kw), "f")
    return (f"{{x}}.conv2d({wt}, groups={groups}, stride={stride}, dilation={dil}, padding={pad})",
            f"np_conv2d({{x}}, {wt}, stride={stride}, padding={pad}, dilation={dil}, groups={groups})")  # fmt: skip


# steps whose result hides most of what was wrong with their input
LOSSY_OPS = {"compare", "to_bool", "anyall", "argmax", "sign", "where", "maxmin"}
# relative to the program's largest float magnitude: how far from a jump a discontinuous op's input must be
GUARD_TOL = 1e-4


@dataclass
class ResolvedProgram:
    """A program with every step's parameters fixed: tinygrad and numpy source line by line, the input data,
    and the numpy result."""

    program: Program
    leaves: dict[str, np.ndarray]
    tg_lines: list[str]
    np_lines: list[str]
    dts: list[str]
    vals: list[np.ndarray]
    scale: float
    applied: list[Step]
    helpers: set[str]

    @property
    def taps(self) -> list[int]:
        """Values checked besides the result: the input of the first step that loses information (a comparison
        of a wrong value is often still right), unless that is the program's input."""
        for i, st in enumerate(self.applied):
            if st.op in LOSSY_OPS:
                return [i] if i > 0 else []
        return []

    @property
    def out(self) -> int:
        return len(self.vals) - 1

    @property
    def ref(self) -> np.ndarray:
        return self.vals[-1]

    @property
    def dt(self) -> str:
        return self.dts[-1]


class ProgramResolver:
    """Applies steps one at a time to a numpy value, fixing each step's parameters; a step that does not fit,
    fails in numpy, leaves the bounded domain or sits on a discontinuity is skipped."""

    def __init__(self, shape: tuple[int, ...], dt: str, seed: int, src: str = "data",
                 max_numel: int = MAX_NUMEL) -> None:  # fmt: skip
        self.max_numel = max_numel
        n = math.prod(shape)
        if src == "arange":
            tdt, ndt = {"f": ("dtypes.float32", "np.float32"), "i": ("dtypes.int32", "np.int32")}.get(dt, ("", ""))
            start, step = (seed % 7) - 3, [1, 2, -1, 3][seed % 4]
            ar_tg = f"Tensor.arange({start}, {start + n * step}, {step}, dtype={tdt or 'dtypes.int32'})"
            ar_np = f"np.arange({start}, {start + n * step}, {step}, dtype={ndt or 'np.int32'})"
            tg0, np0 = (f"({ar_tg} % 3 == 0)", f"({ar_np} % 3 == 0)") if dt == "b" else (ar_tg, ar_np)
            tg0, np0 = f"{tg0}.reshape({shape})", f"{np0}.reshape({shape})"
            leaves: dict[str, np.ndarray] = {}
        elif src == "full":
            v = {"f": -1.5, "i": 3, "b": True}[dt]
            tg0, np0 = (
                f"Tensor.full({shape}, {v!r})",
                f"np.full({shape}, {v!r}, dtype=np.{np.dtype(NP_DTYPES[dt]).name})",
            )
            leaves = {}
        else:
            leaves = {"a0": leaf_data(seed, 0, shape, dt)}
            tg0, np0 = "Tensor(a0)", "a0"
        self.ns: dict[str, Any] = {"np": np, **_NP_HELPERS, **leaves}
        a0 = np.asarray(eval(np0, self.ns))
        self.ns["n0"] = a0
        prog = Program(shape, dt, seed, (), src, max_numel)
        self.r = ResolvedProgram(prog, leaves, [f"x0 = {tg0}"], [f"n0 = {np0}"], [dt], [a0], _magnitude(a0), [], set())

    def add(self, step: Step) -> bool:
        r = self.r
        if step.op not in PROGRAM_OPS:
            return False
        dts, _, fn = PROGRAM_OPS[step.op]
        cur = r.out
        if r.dt not in dts:
            return False
        c = StepCtx(step, r.vals[cur], r.dt, [(str(i), v) for i, v in enumerate(r.vals[:-1])])
        try:
            with np.errstate(all="ignore"):  # ops look at values (e.g. prod's overflow bound)
                res = fn(c)
        except (ValueError, IndexError):
            return False
        if res is None:
            return False
        tg, npx = res
        names = {key: f"a{len(r.leaves) + i}" for i, (key, _) in enumerate(c.leaves)}
        fmt_np = {"x": f"n{cur}", "h": f"n{c.h}", **names}
        fmt_tg = {"x": f"x{cur}", "h": f"x{c.h}", **{k: f"Tensor({v})" for k, v in names.items()}}
        np_src = npx.format(**fmt_np)
        ns = dict(self.ns, **{names[k]: d for k, d in c.leaves})
        margin = GUARD_TOL * max(r.scale, _magnitude(r.vals[cur]))
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                v = np.asarray(eval(np_src, ns))
                for g in c.guards:
                    gv = np.asarray(eval(g.format(**fmt_np), ns))
                    if gv.size and np.min(np.abs(gv)) < margin:
                        return False
            except Exception:  # noqa: BLE001 - numpy rejecting the step (bad broadcast, empty max) skips it
                return False
        if v.dtype not in _NP_TO_CODE:
            raise RuntimeError(f"fuzz op {step.op}: numpy reference {np_src!r} gives {v.dtype}, not a fuzzed dtype")
        if v.size > self.max_numel or v.ndim > 6:
            return False
        if v.size == 0 and r.vals[cur].size and step.seed % 8:  # empty tensors: an edge case, kept now and then
            return False
        if v.dtype == np.float32 and v.size and (not np.all(np.isfinite(v)) or np.max(np.abs(v)) > MAX_ABS_FLOAT):
            return False
        if v.dtype == np.int32 and v.size and np.max(np.abs(v.astype(np.int64))) > MAX_ABS_INT:
            return False
        idx = cur + 1
        for k, d in c.leaves:
            r.leaves[names[k]] = d
            self.ns[names[k]] = d
        self.ns[f"n{idx}"] = v
        r.vals.append(v)
        r.dts.append(_NP_TO_CODE[v.dtype])
        r.tg_lines.append(f"x{idx} = {tg.format(**fmt_tg)}")
        r.np_lines.append(f"n{idx} = {np_src}")
        r.scale = max(r.scale, _magnitude(v))
        r.applied.append(step)
        r.helpers |= {h for h in _NP_HELPERS if h + "(" in np_src}
        return True


def _magnitude(v: np.ndarray) -> float:
    if v.dtype != np.float32 or v.size == 0:
        return 1.0
    return max(1.0, float(np.max(np.abs(v[np.isfinite(v)]), initial=0.0)))


def resolve_program(p: Program) -> ResolvedProgram:
    res = ProgramResolver(p.shape, p.dtype, p.seed, p.src, p.max_numel)
    for s in p.steps:
        res.add(s)
    res.r.program = Program(p.shape, p.dtype, p.seed, tuple(res.r.applied), p.src, p.max_numel)
    return res.r


def random_program(rnd: random.Random, max_steps: int = 8, big: bool = False) -> ResolvedProgram:
    """A program of 1..max_steps applied steps on a random input (shape, dtype, data). `big` programs have
    inputs of up to 4096 elements and values of up to 64 times that (for devices without a per-kernel cost:
    the optimizer's heuristics only act on larger kernels)."""
    if rnd.random() < 0.12:  # image-like, so convolutions come up
        k = 4 if big else 1
        shape: tuple[int, ...] = (
            rnd.randint(1, 2),
            rnd.randint(1, 4 * k),
            rnd.randint(2, 6 * k),
            rnd.randint(2, 6 * k),
        )
    else:
        dims = [1, 2, 3, 4, 5, 6, 8] + ([12, 16, 32, 64, 7] if big else [])
        shape = tuple(rnd.choice(dims) for _ in range(rnd.choice([0, 1, 1, 2, 2, 2, 3, 3, 4])))
    while math.prod(shape) > (4096 if big else 128):
        shape = shape[1:]
    src = rnd.choices(["data", "arange", "full"], weights=[0.7, 0.25, 0.05])[0]
    dt = rnd.choices("fib", weights=[0.45, 0.45, 0.1] if src == "arange" else [0.7, 0.2, 0.1])[0]
    res = ProgramResolver(shape, dt, rnd.getrandbits(32), src, MAX_NUMEL * 128 if big else MAX_NUMEL)
    for _ in range(rnd.randint(1, max_steps)):
        names = [n for n, (dts, _, _) in PROGRAM_OPS.items() if res.r.dt in dts]
        weights = [PROGRAM_OPS[n][1] for n in names]
        for _attempt in range(6):
            if res.add(Step(rnd.choices(names, weights)[0], rnd.getrandbits(32))):
                break
    res.r.program = Program(shape, dt, res.r.program.seed, tuple(res.r.applied), src, res.max_numel)
    return res.r


def _short_exc(e: BaseException) -> str:
    msg = str(e).strip().splitlines()
    first = msg[0][:300] if msg else ""
    tb = traceback.extract_tb(e.__traceback__)
    loc = f" (raised at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno} in {tb[-1].name})" if tb else ""
    return f"{type(e).__name__}: {first}{loc}"


def run_program(res: ResolvedProgram) -> tuple[str, str] | None:
    """Run the tinygrad side on the default device; (kind, message) where it disagrees with numpy. kinds:
    crash:<Exception>, shape, dtype, mismatch."""
    from tinygrad import Tensor
    from tinygrad import dtypes as tdtypes

    ns: dict[str, Any] = {"Tensor": Tensor, "dtypes": tdtypes, "np": np, **res.leaves}
    try:
        exec("\n".join(res.tg_lines), ns)  # noqa: S102 - the fuzzer's own generated program
        outs = [(res.out, ns[f"x{res.out}"].numpy())]
        # taps are realized after the result, so the result's kernels were fused as if they were not there
        outs += [(i, ns[f"x{i}"].numpy()) for i in res.taps]
    except Exception as e:  # noqa: BLE001 - any exception where numpy succeeded is a finding
        return f"crash:{type(e).__name__}", _short_exc(e)
    for i, out in outs:
        if (bad := compare_values(out, res.vals[i], res.scale)) is not None:
            kind, msg = bad
            return kind, f"x{i}: {msg}"
    return None


def compare_values(out: np.ndarray, ref: np.ndarray, scale: float) -> tuple[str, str] | None:
    if out.shape != ref.shape:
        return "shape", f"tinygrad gives shape {out.shape}, numpy {ref.shape}"
    if out.dtype != ref.dtype:
        return "dtype", f"tinygrad gives {out.dtype}, numpy {ref.dtype}"
    if ref.dtype == np.float32:
        bad = ~np.isclose(out, ref, rtol=FLOAT_TOL, atol=FLOAT_TOL * scale, equal_nan=True)
    else:
        bad = out != ref
    if np.any(bad):
        i = tuple(int(j) for j in np.argwhere(bad)[0])
        return "mismatch", (f"{int(np.sum(bad))}/{bad.size} elements differ; at {i}: tinygrad {out[i].item()!r}, "
                            f"numpy {ref[i].item()!r}")  # fmt: skip
    return None


def _np_literal(a: np.ndarray) -> str:
    return f"np.array({a.reshape(-1).tolist()!r}, dtype=np.{a.dtype.name}).reshape({a.shape})"


def render_program_repro(res: ResolvedProgram, kind: str = "", message: str = "") -> str:
    """Runnable Python: input data as literals, the tinygrad program, the numpy reference, the comparison."""
    lines = ["import numpy as np", "", "from tinygrad import Tensor, dtypes"]
    if res.helpers:
        lines.append(f"from tinygrad.testing.fuzz import {', '.join(sorted(res.helpers))}")
    lines.append("")
    lines += [f"{k} = {_np_literal(v)}" for k, v in res.leaves.items()]
    lines += res.tg_lines
    lines.append(f"out = x{res.out}.numpy()")
    lines += [f"tap{i} = x{i}.numpy()" for i in res.taps]
    lines += res.np_lines
    for name, i in [("out", res.out)] + [(f"tap{i}", i) for i in res.taps]:
        if res.vals[i].dtype == np.float32:
            lines.append(
                f"np.testing.assert_allclose({name}, n{i}, rtol={FLOAT_TOL}, atol={FLOAT_TOL * res.scale:.4g})"
            )
        else:
            lines.append(f"np.testing.assert_array_equal({name}, n{i})")
    if kind:
        lines.append(f"# {kind}: {message}")
    return "\n".join(lines)


def _ddmin(items: list[Any], test: Callable[[list[Any]], bool]) -> list[Any]:
    """Delta debugging: a 1-minimal sublist of items for which test still holds."""
    n = 2
    while len(items) >= 2:
        chunk = math.ceil(len(items) / n)
        for i in range(0, len(items), chunk):
            comp = items[:i] + items[i + chunk :]
            if test(comp):
                items, n = comp, max(n - 1, 2)
                break
        else:
            if n >= len(items):
                break
            n = min(len(items), n * 2)
    if len(items) == 1 and test([]):
        return []
    return items


def _fails_with_steps(fails: Callable[[Program], bool], p: Program, steps: list[Step]) -> bool:
    return fails(Program(p.shape, p.dtype, p.seed, tuple(steps), p.src, p.max_numel))


def shrink_program(p: Program, kind: str, budget_s: float = 120.0) -> Program:
    """Smallest program (steps, then input shape, then simpler step parameters) that still fails with `kind`."""
    deadline = time.perf_counter() + budget_s
    cache: dict[Program, bool] = {}

    def fails(q: Program) -> bool:
        if time.perf_counter() > deadline:
            return False
        if q not in cache:
            res = resolve_program(q)
            out = run_program(res)
            cache[q] = out is not None and out[0] == kind
        return cache[q]

    def with_steps(q: Program, steps: Sequence[Step]) -> Program:
        return Program(q.shape, q.dtype, q.seed, tuple(steps), q.src, q.max_numel)

    changed = True
    while changed and time.perf_counter() < deadline:
        changed = False
        steps = _ddmin(list(p.steps), functools.partial(_fails_with_steps, fails, p))
        if len(steps) < len(p.steps):
            p, changed = with_steps(p, steps), True
        for i in range(len(p.shape)):
            s = p.shape[i]
            cands = [p.shape[:i] + p.shape[i + 1:]] + [p.shape[:i] + (v,) + p.shape[i + 1:] for v in
                                                        sorted({1, s // 2, s - 1}) if 0 < v < s]  # fmt: skip
            for shp in cands:
                q = Program(tuple(shp), p.dtype, p.seed, p.steps, p.src, p.max_numel)
                if fails(q):
                    p, changed = q, True
                    break
            if changed:
                break
        if changed:
            continue
        # simpler parameters: another seed for a step, kept when its code gets shorter
        cur_len = len("\n".join(resolve_program(p).tg_lines))
        for i, st in enumerate(p.steps):
            for sd in range(8):
                q = with_steps(p, p.steps[:i] + (Step(st.op, sd),) + p.steps[i + 1 :])
                if len("\n".join(resolve_program(q).tg_lines)) < cur_len and fails(q):
                    p, changed = q, True
                    break
            if changed:
                break
    return resolve_program(p).program


def fuzz_programs(n: int, seed: int, max_steps: int = 8, big: bool = False, shrink: bool = True,
                  max_shrinks: int = 3, shrink_budget_s: float = 120.0, time_limit_s: float | None = None,
                  verbose: bool = False, max_failures: int = 50) -> FuzzReport:  # fmt: skip
    """Run n random programs (seeded) on the default device against numpy."""
    rep = FuzzReport("programs", seed)
    st = time.perf_counter()
    rnd = random.Random(seed)
    shrunk = 0
    for case in range(n):
        if (time_limit_s is not None and time.perf_counter() - st > time_limit_s) or len(rep.failures) >= max_failures:
            break
        res = random_program(rnd, max_steps, big)
        rep.cases += 1
        if not res.applied:
            rep.skipped += 1
            continue
        rep.checks += 1
        if (out := run_program(res)) is None:
            continue
        kind, msg = out
        if shrink and shrunk < max_shrinks:
            shrunk += 1
            small = resolve_program(shrink_program(res.program, kind, shrink_budget_s))
            if (o2 := run_program(small)) is not None:
                res, (kind, msg) = small, o2
        f = Failure("programs", kind, msg, render_program_repro(res, kind, msg), case)
        rep.failures.append(f)
        if verbose:
            print(f, flush=True)
    rep.seconds = time.perf_counter() - st
    return rep


# =====================================================================================================
# opts: optimized kernels vs the unoptimized kernel, on the schedule's own buffers
# =====================================================================================================

# name, numpy inputs (f: float normals, i: small ints; an uppercase name is the Tensor of the lowercase
# array), tinygrad expression, numpy reference (None: only kernel-vs-kernel comparisons)
OPT_CORPUS: list[tuple[str, str, str, str | None]] = [
    ("elementwise", "a = f(3, 4, 8); b = f(4, 1)", "(A * B).exp2() + A", "np.exp2(a * b) + a"),
    ("sum_rows", "a = f(6, 16)", "A.sum(1)", "a.sum(1)"),
    ("max_cols", "a = f(12, 6)", "A.max(0)", "a.max(0)"),
    ("sum_all", "a = f(8, 12)", "A.sum()", "a.sum()"),
    ("sum_outer_inner", "a = f(4, 6, 8)", "A.sum((0, 2))", "a.sum((0, 2))"),
    ("matmul", "a = f(6, 8); b = f(8, 12)", "A @ B", "a @ b"),
    ("matmul_bias_relu", "a = f(4, 6); b = f(6, 8); c = f(8)", "(A @ B + C).relu()", "np.maximum(a @ b + c, 0)"),
    ("batched_matmul", "a = f(2, 4, 6); b = f(2, 6, 4)", "A @ B", "a @ b"),
    ("conv2d", "x = f(1, 3, 8, 8); w = f(4, 3, 3, 3)", "X.conv2d(W, padding=1)", "np_conv2d(x, w, padding=1)"),
    ("conv2d_strided", "x = f(2, 2, 6, 6); w = f(4, 2, 2, 2)", "X.conv2d(W, stride=2)", "np_conv2d(x, w, stride=2)"),
    ("softmax", "a = f(4, 12)", "A.softmax(1)", "np_softmax(a, 1)"),
    (
        "layernorm",
        "a = f(6, 8)",
        "(A - A.mean(1, keepdim=True)) / (A.std(1, keepdim=True) + 1)",
        "(a - a.mean(1, keepdims=True)) / (a.std(1, ddof=1, keepdims=True) + 1)",
    ),
    ("cumsum", "a = f(4, 8)", "A.cumsum(1)", "np.cumsum(a, 1)"),
    (
        "pad_flip_reduce",
        "a = f(6, 5)",
        "A.pad(((1, 2), (0, 3))).flip(0)[::2].sum(0)",
        "np.pad(a, ((1, 2), (0, 3)))[::-1][::2].sum(0)",
    ),
    ("int_reduce", "i = n(6, 8)", "(I * 3 + I % 5).sum(1)", "(i * 3 + i % 5).sum(1).astype(np.int32)"),
    ("argmax", "a = f(6, 8)", "A.argmax(1)", "a.argmax(1).astype(np.int32)"),
    ("two_reduces", "a = f(4, 8)", "A.sum(1) + A.max(1)", "a.sum(1) + a.max(1)"),
    (
        "getitem_where",
        "a = f(8, 6); b = f(4, 6)",
        "(A[1::2, ::-1] > 0).where(A[::2], B)",
        "np.where(a[1::2, ::-1] > 0, a[::2], b)",
    ),
    ("half_sum", "a = f(4, 8)", "A.half().sum(1).float()", None),
    ("bfloat16", "a = f(4, 8)", "(A.cast(dtypes.bfloat16) * 2).sum(1)", None),
    (
        "arange_mod",
        "a = f(4, 6)",
        "A * (Tensor.arange(24).reshape(4, 6) % 5)",
        "a * (np.arange(24).reshape(4, 6) % 5).astype(np.float32)",
    ),
]


def corpus_source(name: str, seed: int) -> str:
    """Python source defining `out`, the corpus program's result tensor, on inputs drawn from `seed`."""
    _, setup, tg, _ = next(c for c in OPT_CORPUS if c[0] == name)
    names = [part.split("=")[0].strip() for part in setup.split(";")]
    return "\n".join([
        f"g = np.random.default_rng({seed})",
        "f = lambda *s: g.standard_normal(s).astype(np.float32)",
        "n = lambda *s: g.integers(-20, 20, s).astype(np.int32)",
        *(part.strip() for part in setup.split(";")),
        *(f"{v.upper()} = Tensor({v})" for v in names),
        f"out = {tg}",
    ])  # fmt: skip


def program_source(res: ResolvedProgram) -> str:
    """Python source defining `out` as a random program's result (inputs as literals)."""
    return "\n".join([f"{k} = {_np_literal(v)}" for k, v in res.leaves.items()] + res.tg_lines + [f"out = x{res.out}"])


def _exec_source(src: str) -> dict[str, Any]:
    from tinygrad import Tensor
    from tinygrad import dtypes as tdtypes

    ns: dict[str, Any] = {"np": np, "Tensor": Tensor, "dtypes": tdtypes, **_NP_HELPERS}
    exec(src, ns)  # noqa: S102 - the fuzzer's own generated source
    return ns


def _axes_of(ast: UOp) -> tuple[list[UOp], list[UOp]]:
    """(output loops, reduce loops) in axis order, as the optimizer numbers them."""
    nodes = ast.toposort()
    red = {r for u in nodes if u.op is Ops.REDUCE for r in u.src[1:]}
    rngs = sorted((u for u in nodes if u.op is Ops.RANGE), key=lambda r: r.arg)
    return [r for r in rngs if r not in red], [r for r in rngs if r in red]


def _divisors(n: int, limit: int = 64) -> list[int]:
    return [k for k in range(2, min(n, limit) + 1) if n % k == 0]


def supports_thread(renderer: Any) -> bool:
    """THREAD splits a loop kernel across CPU cores; grid renderers (PYTHON, GPUs) have no use for it."""
    return renderer.threads > 1 and not renderer.has_global_ids


def candidate_opts(ast: UOp, threads: bool) -> list[Any]:
    """Every action that divides its axis: UPCAST (and THREAD when `threads`) on output axes, UNROLL on reduce
    axes."""
    from tinygrad.codegen.opt import Opt, OptOps

    outer, red = _axes_of(ast)
    out = []
    for i, r in enumerate(outer):
        for k in _divisors(r.src[0].arg):
            out.append(Opt(OptOps.UPCAST, i, k))
            if threads and k <= 8:
                out.append(Opt(OptOps.THREAD, i, k))
    for j, r in enumerate(red):
        out += [Opt(OptOps.UNROLL, j, k) for k in _divisors(r.src[0].arg)]
    return out


def invalid_opt(ast: UOp, rnd: random.Random, threads: bool) -> Any:
    """An action that must be refused: an axis that does not exist, or an amount that does not divide."""
    from tinygrad.codegen.opt import Opt, OptOps

    outer, red = _axes_of(ast)
    op = rnd.choice([OptOps.UPCAST, OptOps.UNROLL] + ([OptOps.THREAD] if threads else []))
    axes = outer if op is not OptOps.UNROLL else red
    if not axes or rnd.random() < 0.3:
        return Opt(op, len(axes) + rnd.randint(0, 2), 2)
    i = rnd.randrange(len(axes))
    n = axes[i].src[0].arg
    return Opt(op, i, rnd.choice([k for k in range(2, n) if n % k] + [n + 1, 2 * n + 1, 1, 0]))


def run_kernel_with_opts(si: Any, opts: list[Any] | None, poison: int = 0xA5) -> np.ndarray:
    """Compile si's kernel with `opts` (None: the hand-coded ones), run it on si's buffers with the output
    poisoned first (elements the kernel fails to write keep the poison), and return the output's raw values.
    Inputs are whatever the buffers hold: run the schedule's earlier items first."""
    from tinygrad.codegen import get_program
    from tinygrad.device import Device

    dev = Device[si.bufs[0].device]
    spec = get_program(si.ast, dev.renderer, opts=opts)
    prg = dev.runtime(spec.name, dev.compiler.compile_cached(spec.src))
    out = si.bufs[0]
    out.copyin(memoryview(bytes([poison]) * out.nbytes))
    prg(*[b.opaque for b in si.bufs], global_size=spec.global_size, local_size=spec.local_size, wait=True)
    raw = np.frombuffer(out.as_bytes(), dtype=np.uint8)
    npdt = out.dtype.np
    return raw.copy() if npdt is None else raw.view(npdt).copy()


def compare_kernel_outputs(got: np.ndarray, base: np.ndarray) -> str | None:
    """None if equal: floats within a reassociation tolerance (NaN matches NaN), everything else bit-exact."""
    if got.dtype.kind == "f":
        scale = float(np.max(np.abs(base[np.isfinite(base)]), initial=1.0))
        bad = ~np.isclose(got.astype(np.float64), base.astype(np.float64), rtol=1e-4, atol=1e-5 * scale,
                          equal_nan=True)  # fmt: skip
    else:
        bad = got.view(np.uint8) != base.view(np.uint8) if got.dtype == np.bool_ else got != base
    if np.any(bad):
        i = int(np.argwhere(bad)[0][0])
        return (f"{int(np.sum(bad))}/{bad.size} elements differ; at [{i}]: got {got[i].item()!r}, "
                f"unoptimized {base[i].item()!r}")  # fmt: skip
    return None


@dataclass
class KernelCase:
    """One kernel of a corpus program, with its unoptimized output, and the source to rebuild it."""

    label: str
    source: str  # python defining `out`
    index: int  # position in out's schedule
    si: Any
    base: np.ndarray
    program: Program | None = None  # for kernels of random programs: what shrinking can cut down


def _opts_src(opts: list[Any]) -> str:
    return "[" + ", ".join(f"Opt(OptOps.{o.op.name}, {o.axis}, {o.arg})" for o in opts) + "]"


def render_opts_repro(case: KernelCase, opts: list[Any] | None, message: str) -> str:
    return "\n".join([
        "import numpy as np",
        "",
        "from tinygrad import Tensor, dtypes",
        "from tinygrad.codegen.opt import Opt, OptOps",
        "from tinygrad.engine.realize import run_schedule",
        "from tinygrad.testing.fuzz import compare_kernel_outputs, run_kernel_with_opts",
        "",
        case.source,
        "sched = out.schedule()",
        f"run_schedule(sched[:{case.index}])  # the kernels before this one fill its inputs",
        f"si = sched[{case.index}]",
        "base = run_kernel_with_opts(si, [])",
        f"got = run_kernel_with_opts(si, {'None' if opts is None else _opts_src(opts)})",
        "assert compare_kernel_outputs(got, base) is None, compare_kernel_outputs(got, base)",
        f"# {message}",
    ])  # fmt: skip


def check_opts(case: KernelCase, opts: list[Any] | None) -> tuple[str, str] | None:
    """(kind, message) if the kernel with `opts` crashes or disagrees with the unoptimized one; an action list
    that does not apply (OptError) is fine."""
    from tinygrad.codegen.opt import OptError

    try:
        got = run_kernel_with_opts(case.si, opts)
    except OptError:
        return None
    except Exception as e:  # noqa: BLE001 - a valid action list must compile and run
        return f"crash:{type(e).__name__}", _short_exc(e)
    finally:
        # later kernels read this output: put the unoptimized result back
        case.si.bufs[0].copyin(memoryview(case.base.view(np.uint8).tobytes()))
    if (msg := compare_kernel_outputs(got, case.base)) is not None:
        return "mismatch", msg
    return None


def shrink_opts(case: KernelCase, opts: list[Any], kind: str) -> list[Any]:
    """Fewest actions (then smallest amounts) that still fail with `kind`."""
    from tinygrad.codegen.opt import Opt

    def fails(o: list[Any]) -> bool:
        r = check_opts(case, o)
        return r is not None and r[0] == kind

    opts = _ddmin(list(opts), fails)
    for i, o in enumerate(list(opts)):
        for k in _divisors(o.arg)[:-1]:
            cand = opts[:i] + [Opt(o.op, o.axis, k)] + opts[i + 1 :]
            if fails(cand):
                opts = cand
                break
    return opts


def _program_kernels(source: str) -> list[Any]:
    """The kernels of `out`'s schedule as KernelCases, run in order with no actions so each has its inputs."""
    from tinygrad.engine.realize import run_schedule

    cases = []
    for idx, si in enumerate(_exec_source(source)["out"].schedule()):
        if not si.is_kernel:
            run_schedule([si])
            continue
        cases.append(KernelCase("", source, idx, si, run_kernel_with_opts(si, [])))
    return cases


def shrink_opts_program(p: Program, opts: list[Any], kind: str, budget_s: float = 120.0) -> tuple[Program, int]:
    """The smallest random program one of whose kernels still fails with `opts` the same way; returns it and the
    failing kernel's schedule position."""
    deadline = time.perf_counter() + budget_s
    found: dict[Program, int | None] = {}

    def failing_kernel(q: Program) -> int | None:
        if q not in found:
            found[q] = None
            if time.perf_counter() < deadline:
                res = resolve_program(q)
                try:
                    for c in _program_kernels(program_source(res)) if res.applied else []:
                        if (r := check_opts(c, opts)) is not None and r[0] == kind:
                            found[q] = c.index
                            break
                except Exception:  # noqa: BLE001 - a candidate whose unoptimized kernels fail is another bug
                    pass
        return found[q]

    def with_steps(q: Program, steps: Sequence[Step]) -> Program:
        return Program(q.shape, q.dtype, q.seed, tuple(steps), q.src, q.max_numel)

    steps = _ddmin(list(p.steps), lambda st: failing_kernel(with_steps(p, st)) is not None)
    p = with_steps(p, steps)
    for i in range(len(p.shape)):
        for v in (1, p.shape[i] // 2):
            q = Program(p.shape[:i] + (v,) + p.shape[i + 1 :], p.dtype, p.seed, p.steps, p.src, p.max_numel)
            if 0 < v < p.shape[i] and failing_kernel(q) is not None:
                p = q
                break
    p = resolve_program(p).program
    idx = failing_kernel(p)
    return p, -1 if idx is None else idx


def random_opts(ast: UOp, rnd: random.Random, threads: bool, max_len: int) -> list[Any]:
    """A list of up to max_len actions, each valid on the kernel the previous ones made."""
    from tinygrad.codegen.opt import OptError, apply_opt

    cur, opts = ast, []
    for _ in range(rnd.randint(1, max_len)):
        if not (cands := candidate_opts(cur, threads)):
            break
        o = rnd.choice(cands)
        try:
            cur = apply_opt(cur, o)
        except OptError:
            continue
        opts.append(o)
    return opts


class _OptsSession:
    def __init__(self, rep: FuzzReport, rnd: random.Random, threads: bool, shrink: bool, verbose: bool) -> None:
        self.rep, self.rnd, self.threads, self.shrink, self.verbose = rep, rnd, threads, shrink, verbose
        self.cases: list[KernelCase] = []
        self.failed: set[int] = set()  # kernels already reported: random lists skip them

    def fail(self, case: KernelCase, opts: list[Any] | None, res: tuple[str, str]) -> None:
        kind, msg = res
        if self.shrink and opts and (kind == "mismatch" or kind.startswith("crash")):
            opts = shrink_opts(case, opts, kind)
            if (res2 := check_opts(case, opts)) is not None:
                kind, msg = res2
            if case.program is not None:
                small, idx = shrink_opts_program(case.program, opts, kind)
                src = program_source(resolve_program(small))
                if idx >= 0 and (c2 := next((c for c in _program_kernels(src) if c.index == idx), None)) is not None:
                    c2.label, c2.program = case.label, small
                    case, opts = c2, shrink_opts(c2, opts, kind)
                    if (res2 := check_opts(case, opts)) is not None:
                        kind, msg = res2
        what = "hand-coded actions" if opts is None else _opts_src(opts)
        f = Failure("opts", kind, f"{case.label} kernel {case.index} with {what}: {msg}",
                    render_opts_repro(case, opts, msg), len(self.cases))  # fmt: skip
        self.rep.failures.append(f)
        self.failed.add(id(case))
        if self.verbose:
            print(f, flush=True)

    def load(
        self, label: str, source: str, individual: bool, program: Program | None = None
    ) -> list[np.ndarray | None]:
        """Run the program's schedule kernel by kernel, checking each kernel's actions; returns the unoptimized
        outputs (None for copies)."""
        from tinygrad.codegen.opt import OptError, apply_opt
        from tinygrad.engine.realize import run_schedule

        sched = _exec_source(source)["out"].schedule()
        outs: list[np.ndarray | None] = []
        for idx, si in enumerate(sched):
            if not si.is_kernel:
                run_schedule([si])
                outs.append(None)
                continue
            try:
                base = run_kernel_with_opts(si, [])
            except Exception as e:  # noqa: BLE001
                case = KernelCase(label, source, idx, si, np.zeros(0))
                self.rep.failures.append(
                    Failure(
                        "opts",
                        f"crash:{type(e).__name__}",
                        f"{label} kernel {idx} unoptimized: {_short_exc(e)}",
                        render_opts_repro(case, [], ""),
                    )
                )
                return outs
            case = KernelCase(label, source, idx, si, base, program)
            self.cases.append(case)
            outs.append(base)
            self.rep.cases += 1
            self.rep.checks += 1
            if (res := check_opts(case, None)) is not None:
                self.fail(case, None, res)
            for o in candidate_opts(si.ast, self.threads) if individual else []:
                self.rep.checks += 1
                if (res := check_opts(case, [o])) is not None:
                    self.fail(case, [o], res)
            for _ in range(3):  # an action that cannot apply must say so with OptError
                bad = invalid_opt(si.ast, self.rnd, self.threads)
                self.rep.checks += 1
                try:
                    apply_opt(si.ast, bad)
                except OptError:
                    continue
                except Exception as e:  # noqa: BLE001
                    self.fail(case, [bad], ("invalid-opt-crash", f"{bad} raised {_short_exc(e)}, not OptError"))
                    continue
                self.fail(case, [bad], ("invalid-opt-accepted", f"{bad} was applied instead of raising OptError"))
        return outs


def fuzz_opts(n: int, seed: int, individual: bool = True, programs: int = 0, max_len: int = 4, shrink: bool = True,
              time_limit_s: float | None = None, corpus: Sequence[str] | None = None, big: bool = False,
              verbose: bool = False) -> FuzzReport:  # fmt: skip
    """Optimizer fuzzing on the default device. The kernels are those of the OPT_CORPUS programs (or the named
    subset) plus `programs` random programs. Each kernel is checked with its hand-coded actions, with every
    single valid action (if `individual`) and with invalid ones (they must raise OptError); then n random
    action lists in total are spread over all kernels. Everything is compared with the unoptimized kernel on
    the same buffers; corpus results are also compared with numpy."""
    from tinygrad.device import Device

    rep = FuzzReport("opts", seed)
    st = time.perf_counter()
    rnd = random.Random(seed)
    sess = _OptsSession(rep, rnd, supports_thread(Device[Device.DEFAULT].renderer), shrink, verbose)

    def out_of_time() -> bool:
        return time_limit_s is not None and time.perf_counter() - st > time_limit_s

    for name, _, _, npx in OPT_CORPUS:
        if (corpus is not None and name not in corpus) or out_of_time():
            continue
        source = corpus_source(name, rnd.getrandbits(32))
        outs = sess.load(name, source, individual)
        if npx is None or not outs or outs[-1] is None:
            continue
        ns = _exec_source(source.rsplit("\nout =", 1)[0])
        ref = np.asarray(eval(npx, {"np": np, **_NP_HELPERS, **ns}))
        got = outs[-1]
        rep.checks += 1
        ref = ref.astype(got.dtype) if ref.dtype.kind == got.dtype.kind else ref
        bad = ("size", f"{got.size} vs {ref.size} elements") if got.size != ref.size else None
        if (bad := bad or compare_values(got.reshape(ref.shape), ref, _magnitude(ref))) is not None:
            msg = f"{name}: unoptimized kernels disagree with numpy: {bad[1]}"
            rep.failures.append(Failure("opts", "reference", msg, source))
    for _ in range(programs):
        if out_of_time():
            break
        res = random_program(rnd, big=big)
        if not res.applied:
            continue
        # a program already wrong without actions is the program fuzzer's finding, not the optimizer's
        rep.checks += 1
        if (bad := run_program(res)) is not None:
            rep.failures.append(Failure("opts", f"program-{bad[0]}", f"random program, default actions: {bad[1]}",
                                        render_program_repro(res, *bad)))  # fmt: skip
            if verbose:
                print(rep.failures[-1], flush=True)
            continue
        sess.load("random program", program_source(res), individual, res.program)
    for _ in range(n if sess.cases else 0):
        if out_of_time():
            break
        case = rnd.choice(sess.cases)
        if id(case) in sess.failed:
            continue
        if not (opts := random_opts(case.si.ast, rnd, sess.threads, max_len)):
            continue
        rep.checks += 1
        if (res2 := check_opts(case, opts)) is not None:
            sess.fail(case, opts, res2)
    rep.seconds = time.perf_counter() - st
    return rep


# =====================================================================================================
# command line
# =====================================================================================================


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m tinygrad.testing.fuzz {symbolic,programs,opts} --n N --seed S`: prints each failure's
    reproducer as it is found and a summary; exits 1 if anything failed."""
    ap = argparse.ArgumentParser(prog="python -m tinygrad.testing.fuzz", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("fuzzer", choices=["symbolic", "programs", "opts"])
    ap.add_argument("--n", type=int, default=1000, help="cases (symbolic: expressions, programs: programs, "
                    "opts: random action lists)")  # fmt: skip
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--time", type=float, default=None, help="stop after this many seconds")
    ap.add_argument("--no-shrink", action="store_true", help="report failures as found, without shrinking")
    ap.add_argument("--max-failures", type=int, default=20, help="stop after this many failures")
    ap.add_argument("--depth", type=int, default=5, help="symbolic: expression depth")
    ap.add_argument("--var-divisors", action="store_true", help="symbolic: also divide by expressions")
    ap.add_argument("--neg-divisors", action="store_true", help="symbolic: also divide by negative constants")
    ap.add_argument("--steps", type=int, default=8, help="programs: most steps per program")
    ap.add_argument("--big", action="store_true", help="programs/opts: inputs up to 4096 elements")
    ap.add_argument("--programs", type=int, default=50, help="opts: random programs added to the kernel corpus")
    ap.add_argument("--no-individual", action="store_true", help="opts: skip trying every single action")
    ap.add_argument("-q", "--quiet", action="store_true", help="only the summary")
    a = ap.parse_args(argv)
    verbose = not a.quiet
    if a.fuzzer == "symbolic":
        rep = fuzz_symbolic(
            a.n, a.seed, a.depth, a.var_divisors, not a.no_shrink, a.max_failures, verbose, a.neg_divisors
        )
    elif a.fuzzer == "programs":
        rep = fuzz_programs(
            a.n,
            a.seed,
            a.steps,
            a.big,
            not a.no_shrink,
            time_limit_s=a.time,
            verbose=verbose,
            max_failures=a.max_failures,
        )
    else:
        rep = fuzz_opts(a.n, a.seed, not a.no_individual, a.programs, shrink=not a.no_shrink, time_limit_s=a.time,
                        big=a.big, verbose=verbose)  # fmt: skip
    print(rep.summary())
    kinds: dict[str, int] = {}
    for f in rep.failures:
        kinds[f.kind] = kinds.get(f.kind, 0) + 1
    for k, c in sorted(kinds.items()):
        print(f"  {c:4d} {k}")
    return 1 if rep.failures else 0


if __name__ == "__main__":
    sys.exit(main())
