"""Index algebra: simplified expressions must equal direct evaluation, and fold the forms movement ops make."""

from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad.dtype import dtypes
from tinygrad.uop.ops import Ops, UOp
from tinygrad.uop.symbolic import simplify


def rng(n: int, axis: int) -> UOp:
    return UOp(Ops.RANGE, dtypes.index, (UOp.const(dtypes.index, n),), axis)


def evaluate(u: UOp, env: dict) -> int:
    if u.op is Ops.CONST:
        return u.arg
    if u in env:
        return env[u]
    s = [evaluate(x, env) for x in u.src]
    if u.op is Ops.ADD:
        return s[0] + s[1]
    if u.op is Ops.MUL:
        return s[0] * s[1]
    if u.op is Ops.IDIV:
        return int(s[0] / s[1]) if s[1] else 0
    if u.op is Ops.MOD:
        return s[0] - int(s[0] / s[1]) * s[1] if s[1] else 0
    if u.op is Ops.NEG:
        return -s[0]
    if u.op is Ops.CMPLT:
        return s[0] < s[1]
    if u.op is Ops.CMPNE:
        return s[0] != s[1]
    if u.op is Ops.AND:
        return s[0] & s[1]
    if u.op is Ops.WHERE:
        return s[1] if s[0] else s[2]
    raise NotImplementedError(u.op)


def test_reshape_roundtrip_folds():
    i, j = rng(3, 0), rng(4, 1)
    lin = i * 4 + j
    assert simplify(lin // 4) is i
    assert simplify(lin % 4) is j
    assert simplify((i * 8 + j * 2) // 2) is simplify(i * 4 + j)


def test_like_terms_and_constants_combine():
    i = rng(5, 0)
    assert simplify(i * 2 + 3 + i * 3 + 4) is simplify(i * 5 + 7)
    assert simplify(i + 0) is i
    assert simplify(i * 1) is i


def test_comparisons_decided_by_range():
    i = rng(5, 0)
    assert simplify(i < 5).arg is True
    assert simplify(i < 0).arg is False
    assert simplify((i + 2) < 3) is simplify(i < 1)


ops = st.sampled_from(["add", "mul", "div", "mod", "lt"])


@st.composite
def expr(draw, depth=0):
    leaves = [("var", draw(st.integers(0, 2))), ("const", draw(st.integers(-3, 9)))]
    if depth > 3 or draw(st.booleans()):
        return draw(st.sampled_from(leaves))
    return (draw(ops), draw(expr(depth + 1)), draw(expr(depth + 1)))


def build(e, vars_):
    kind = e[0]
    if kind == "var":
        return vars_[e[1]]
    if kind == "const":
        return UOp.const(dtypes.index, e[1])
    a, b = build(e[1], vars_), build(e[2], vars_)
    if kind in ("div", "mod"):
        # divisors are positive constants, as index math always has
        b = UOp.const(dtypes.index, abs(hash(str(e[2]))) % 7 + 1)
        return a // b if kind == "div" else a % b
    if kind == "lt":
        return (a < b).where(UOp.const(dtypes.index, 1), UOp.const(dtypes.index, 0))
    return a + b if kind == "add" else a * b


@settings(max_examples=400, deadline=None)
@given(expr(), st.lists(st.integers(0, 6), min_size=3, max_size=3))
def test_simplify_preserves_value(e, point):
    sizes = (7, 5, 3)
    vars_ = [rng(n, k) for k, n in enumerate(sizes)]
    u = build(e, vars_)
    env = {v: min(p, n - 1) for v, p, n in zip(vars_, point, sizes)}
    assert evaluate(simplify(u), env) == evaluate(u, env)
