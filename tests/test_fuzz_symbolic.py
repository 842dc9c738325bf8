"""Symbolic fuzzing: `simplify` on random index expressions must keep their value at every point, and every
value must lie within its node's vmin/vmax. Long runs: python -m tinygrad.testing.fuzz symbolic --n 200000."""

from __future__ import annotations

import random

import numpy as np
import pytest

from tinygrad.dtype import dtypes
from tinygrad.testing import fuzz
from tinygrad.uop import symbolic
from tinygrad.uop.alu import exec_alu
from tinygrad.uop.ops import Ops, UOp
from tinygrad.uop.pattern import PatternMatcher, UPat, graph_rewrite


def idx(v: int) -> UOp:
    return UOp.const(dtypes.index, v)


def rng(n: int, axis: int) -> UOp:
    return fuzz.make_range(n, axis)


def assert_clean(rep: fuzz.FuzzReport) -> None:
    print(rep.summary())
    assert not rep.failures, "\n\n".join(str(f) for f in rep.failures[:3])


def test_fuzz_fixed_seed():
    # thousands of expressions, the same every run, so CI failures reproduce exactly
    rep = fuzz.fuzz_symbolic(6000, seed=1234, depth=5)
    assert rep.cases == 6000 and rep.checks > 100_000
    assert_clean(rep)


def test_fuzz_deep_expressions_fixed_seed():
    assert_clean(fuzz.fuzz_symbolic(1500, seed=99, depth=8))


def test_fuzz_negative_divisors_fixed_seed():
    # IDIV/MOD by negative constants (C truncation rules differ from Python's floor there)
    assert_clean(fuzz.fuzz_symbolic(3000, seed=4321, neg_divisors=True))


def test_fuzz_fresh_seed(seed):
    assert_clean(fuzz.fuzz_symbolic(1500, seed=seed))


def test_fuzz_variable_divisors():
    # the grammar also divides by positive expressions (Tensor-level int // and % of index-derived values do)
    assert_clean(fuzz.fuzz_symbolic(500, seed=7, var_divisors=True, shrink=False))


def test_mod_by_variable_bounds_minimal():
    # shrunk by the fuzzer: r0 % (r0 + 1) == r0 for r0 in {0, 1}, but its bounds are [0, 0] and simplify gives 0
    r0 = rng(2, 0)
    expr = UOp(Ops.MOD, dtypes.index, (r0, UOp(Ops.ADD, dtypes.index, (r0, idx(1)))))
    assert expr.vmax >= 1
    assert symbolic.simplify(expr) is not idx(0)


def test_evaluator_truncates_like_c():
    # the oracle itself: IDIV and MOD truncate toward zero; checked against core's constant folder on many pairs
    r = random.Random(0)
    pairs = [(r.randint(-50, 50), r.choice([-7, -3, -1, 1, 2, 5, 9])) for _ in range(300)] + [(-7, 2), (7, -2)]
    for a, b in pairs:
        for op in (Ops.IDIV, Ops.MOD):
            u = UOp(op, dtypes.index, (idx(a), idx(b)))
            got = int(fuzz.eval_index_expr(u, {})[u])
            assert got == exec_alu(op, dtypes.index, [a, b]), (op, a, b)
    u = UOp(Ops.IDIV, dtypes.index, (idx(-7), idx(2)))
    assert int(fuzz.eval_index_expr(u, {})[u]) == -3
    u = UOp(Ops.MOD, dtypes.index, (idx(-7), idx(2)))
    assert int(fuzz.eval_index_expr(u, {})[u]) == -1


def test_sample_points_exhaustive_and_sampled():
    a, b = rng(3, 0), rng(4, 1)
    env = fuzz.sample_points([a, b], random.Random(0), 10, 100)
    assert sorted(zip(env[a].tolist(), env[b].tolist())) == [(i, j) for i in range(3) for j in range(4)]
    big = [rng(33, k) for k in range(3)]
    env = fuzz.sample_points(big, random.Random(0), 20, 100)
    assert all(len(v) == 22 and v.min() >= 0 and v.max() <= 32 for v in env.values())
    assert [int(env[r][1]) for r in big] == [32, 32, 32]  # the all-max corner is always there


def test_detects_wrong_simplification_and_shrinks(monkeypatch):
    # the fuzzer must notice a simplifier that is wrong somewhere, and shrink to the guilty form
    real = symbolic.simplify

    wrong_mod = PatternMatcher([(UPat(Ops.MOD, src=(UPat.var("x"), UPat.const(None, 3))), lambda x: x)])

    def broken(u: UOp) -> UOp:  # "x % 3 -> x": wrong whenever x reaches 3
        return graph_rewrite(real(u), wrong_mod)

    monkeypatch.setattr(symbolic, "simplify", broken)
    rep = fuzz.fuzz_symbolic(400, seed=5, max_failures=2)
    assert rep.failures and rep.failures[0].kind == "mismatch"
    repro = rep.failures[0].repro
    assert "Ops.MOD" in repro and "UOp.const(dtypes.index, 3)" in repro
    # shrunk: the expression line is short (a range, a mod, maybe a little more)
    expr_line = next(line for line in repro.splitlines() if line.startswith("expr = "))
    assert len(expr_line) < 200, expr_line
    with pytest.raises(AssertionError):  # the reproducer is runnable Python and fails while the bug is there
        exec(repro, {})
    monkeypatch.undo()
    exec(repro, {})  # and passes with the real simplifier


def test_detects_wrong_bounds(monkeypatch):
    from tinygrad.uop import ops

    real = ops._compute_bounds

    def narrow(u: UOp):  # bounds of MUL claim one less than the truth at the top
        lo, hi = real(u)
        return (lo, hi - 1) if u.op is Ops.MUL and isinstance(hi, int) and hi > lo else (lo, hi)

    monkeypatch.setattr(ops, "_compute_bounds", narrow)
    rep = fuzz.fuzz_symbolic(300, seed=3, max_failures=1, shrink=False)
    assert rep.failures and rep.failures[0].kind in ("bounds", "mismatch")


def test_shrinker_keeps_failing_and_gets_smaller():
    r = random.Random(11)
    ranges = [rng(7, 0), rng(5, 1)]
    gen = fuzz.ExprGen(r, ranges)
    big = None
    for _ in range(200):
        e = gen.int_expr(6)
        if any(n.op is Ops.IDIV for n in e.toposort()) and fuzz._expr_size(e) > 15:
            big = e
            break
    assert big is not None

    def has_idiv(e: UOp) -> bool:
        return any(n.op is Ops.IDIV for n in e.toposort())

    small = fuzz.shrink_index_expr(big, has_idiv)
    assert has_idiv(small) and fuzz._expr_size(small) <= 4 < fuzz._expr_size(big)


def test_render_uop_roundtrip():
    r0, r1 = rng(6, 0), rng(4, 1)
    e = UOp(Ops.WHERE, dtypes.index, (UOp(Ops.CMPLT, dtypes.bool, (r0, idx(3))), r0 * 2 + r1, idx(-1)))
    ns = {"UOp": UOp, "Ops": Ops, "dtypes": dtypes, "r0": r0, "r1": r1}
    assert eval(fuzz.render_uop(e), ns) is e


def test_generated_expressions_use_the_whole_grammar():
    r = random.Random(0)
    seen: set[Ops] = set()
    for _ in range(300):
        gen = fuzz.ExprGen(r, [rng(5, 0), rng(3, 1)], var_divisors=True)
        seen |= {n.op for n in gen.int_expr(5).toposort()} | {n.op for n in gen.bool_expr(4).toposort()}
    want = {
        Ops.ADD,
        Ops.SUB,
        Ops.MUL,
        Ops.NEG,
        Ops.IDIV,
        Ops.MOD,
        Ops.MAX,
        Ops.WHERE,
        Ops.CAST,
        Ops.CMPLT,
        Ops.CMPNE,
        Ops.CMPEQ,
        Ops.AND,
        Ops.OR,
        Ops.RANGE,
        Ops.CONST,
    }
    assert want <= seen, want - seen


def test_values_are_checked_not_just_run():
    # the evaluator gives real values over the whole grid
    r0, r1 = rng(4, 0), rng(3, 1)
    e = (r0 * 3 + r1) // 2
    env = fuzz.sample_points([r0, r1], random.Random(0), 0, 100)
    vals = fuzz.eval_index_expr(e, env)[e]
    expect = [(i * 3 + j) // 2 for i in range(4) for j in range(3)]
    assert vals.tolist() == expect
    assert np.all(vals >= e.vmin) and np.all(vals <= e.vmax)
