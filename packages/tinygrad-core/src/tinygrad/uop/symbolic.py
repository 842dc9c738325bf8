"""Algebra on kernel expressions: constant folding, identities, and integer index simplification.

Index math from movement ops (reshape = flatten then unflatten by div/mod) only becomes cheap code if
`(i*4 + j) // 4` folds back to `i` given 0 <= j < 4. The integer rules below use range analysis
(`UOp.vmin`/`vmax`) to do that.
"""

from __future__ import annotations

import math

from tinygrad.dtype import dtypes
from tinygrad.uop.alu import exec_alu
from tinygrad.uop.ops import GroupOp, Ops, UOp
from tinygrad.uop.pattern import PatternMatcher, UPat

INTS = set(dtypes.ints)


def _fold(root: UOp) -> UOp | None:
    vals = [s.arg for s in root.src]
    return UOp.const(root.dtype, exec_alu(root.op, root.dtype, vals))


def _split_sum(x: UOp) -> tuple[list[tuple[UOp, int]], int]:
    """x as sum(coeff*term) + const, for an integer expression."""
    terms: list[tuple[UOp, int]] = []
    const = 0
    stack = [(x, 1)]
    while stack:
        u, k = stack.pop()
        if u.op is Ops.ADD:
            stack.append((u.src[1], k))
            stack.append((u.src[0], k))
        elif u.op is Ops.CONST:
            const += u.arg * k
        elif u.op is Ops.MUL and u.src[1].op is Ops.CONST:
            stack.append((u.src[0], k * u.src[1].arg))
        elif u.op is Ops.NEG:
            stack.append((u.src[0], -k))
        else:
            terms.append((u, k))
    merged: dict[UOp, int] = {}
    for t, k in terms:
        merged[t] = merged.get(t, 0) + k
    return [(t, k) for t, k in merged.items() if k != 0], const


def _build_sum(terms: list[tuple[UOp, int]], const: int, dtype: object) -> UOp:
    ret: UOp | None = None
    for t, k in terms:
        term = t if k == 1 else UOp(Ops.MUL, t.dtype, (t, UOp.const(t.dtype, k)))
        ret = term if ret is None else UOp(Ops.ADD, ret.dtype, (ret, term))
    if ret is None:
        return UOp.const(dtype, const)  # type: ignore[arg-type]
    return ret if const == 0 else UOp(Ops.ADD, ret.dtype, (ret, UOp.const(ret.dtype, const)))


def _canonical_sum(root: UOp) -> UOp | None:
    """Combine like terms and constants of an integer sum: x*2 + y + x*3 + 1 + 2 -> x*5 + y + 3."""
    terms, const = _split_sum(root)
    ret = _build_sum(terms, const, root.dtype)
    return None if ret is root else ret


def _fold_divmod(x: UOp, c: int, is_mod: bool) -> UOp | None:
    """Fold (sum(k_i*t_i) + b) // c and % c for nonnegative sums, using the terms' ranges."""
    if c <= 0 or x.vmin < 0:  # type: ignore[operator]
        return None
    terms, const = _split_sum(x)
    if any(t.vmin < 0 for t, _ in terms):  # type: ignore[operator]
        return None
    q_terms = [(t, k // c) for t, k in terms if k // c != 0]
    r_terms = [(t, k % c) for t, k in terms if k % c != 0]
    q_const, r_const = divmod(const, c)
    rem = _build_sum(r_terms, r_const, x.dtype)
    lo, hi = rem.vmin, rem.vmax
    if lo >= 0 and hi // c == lo // c:  # type: ignore[operator]
        # the remainder stays within one multiple of c, so it contributes a constant to the quotient
        shift = lo // c  # type: ignore[operator]
        if is_mod:
            return _build_sum(r_terms, r_const - shift * c, x.dtype)
        return _build_sum(q_terms, q_const + shift, x.dtype)
    if not q_terms and q_const == 0:
        # nothing to pull out; try dividing out a common factor: (4*a + 2*b) // 6 -> (2*a + b) // 3
        g = math.gcd(c, const, *(k for _, k in terms))
        if g > 1 and not is_mod:
            return UOp(Ops.IDIV, x.dtype, (_build_sum([(t, k // g) for t, k in terms], const // g, x.dtype),
                                           UOp.const(x.dtype, c // g)))  # fmt: skip
        return None
    if rem.vmin < 0:  # type: ignore[operator]
        return None
    # floor((q*c + r) / c) = q + floor(r / c) for r >= 0
    if is_mod:
        return UOp(Ops.MOD, x.dtype, (rem, UOp.const(x.dtype, c)))
    return UOp(Ops.ADD, x.dtype, (_build_sum(q_terms, q_const, x.dtype),
                                  UOp(Ops.IDIV, x.dtype, (rem, UOp.const(x.dtype, c)))))  # fmt: skip


def _bounds_to_const(root: UOp) -> UOp | None:
    """A comparison whose operand ranges decide it is a constant (integer operands only: float ranges can hold
    NaN, for which every comparison is False)."""
    if root.dtype != dtypes.bool or any(dtypes.is_float(s.dtype) for s in root.src):
        return None
    lo, hi = root.vmin, root.vmax
    return UOp.const(dtypes.bool, lo) if lo == hi else None


def _int_range_const(root: UOp) -> UOp | None:
    """An integer expression whose range is one value is that value (e.g. (j // 4) with 0 <= j < 4)."""
    lo, hi = root.vmin, root.vmax
    return UOp.const(root.dtype, lo) if lo == hi and isinstance(lo, int) else None


def _lt_sum(x: UOp, c: UOp) -> UOp | None:
    """Move constants across a comparison: (x + a) < c -> x < c - a; (x * k) < c -> x < ceil(c / k)."""
    if x.op is Ops.ADD and x.src[1].op is Ops.CONST:
        return UOp(Ops.CMPLT, dtypes.bool, (x.src[0], UOp.const(x.dtype, c.arg - x.src[1].arg)))
    if x.op is Ops.MUL and x.src[1].op is Ops.CONST and x.src[1].arg > 0:
        return UOp(Ops.CMPLT, dtypes.bool, (x.src[0], UOp.const(x.dtype, -(-c.arg // x.src[1].arg))))
    return None


x, y, z = UPat.var("x"), UPat.var("y"), UPat.var("z")
c1, c2 = UPat.cvar("c1"), UPat.cvar("c2")
xi = UPat.var("x", dtype=INTS)

pm_fold_consts = PatternMatcher([
    (UPat(GroupOp.ALU, src=UPat(Ops.CONST), name="root"), _fold),  # op(c1, c2, ...) -> c
    (UPat(Ops.CAST, src=(UPat.cvar("c"),), name="root"), lambda root, c: UOp.const(root.dtype, c.arg)),  # cast(c)
])  # fmt: skip

pm_identities = PatternMatcher([
    (UPat(GroupOp.Commutative, src=(c1, x), name="root"), lambda root, c1, x: root.replace(src=(x, c1))),  # c op x -> x op c
    (x + UPat.const(None, 0), lambda x: x if dtypes.is_int(x.dtype) or dtypes.is_bool(x.dtype) else None),  # x+0 -> x (not -0.0)
    (x * UPat.const(None, 1), lambda x: x),  # x*1 -> x
    (x * UPat.const(None, 1.0), lambda x: x),  # x*1.0 -> x
    (xi * UPat.const(None, 0), lambda x: UOp.const(x.dtype, 0)),  # x*0 -> 0 (ints only: inf*0 is nan)
    (xi // UPat.const(None, 1), lambda x: x),  # x//1 -> x
    (xi % UPat.const(None, 1), lambda x: UOp.const(x.dtype, 0)),  # x%1 -> 0
    (UPat(Ops.NEG, dtype=INTS, src=(x,)), lambda x: x * -1),  # -x -> x*-1 (ints: one canonical form)
    (UPat(Ops.WHERE, src=(UPat.const(None, True), x, y)), lambda x, y: x),  # where(True, x, y) -> x
    (UPat(Ops.WHERE, src=(UPat.const(None, False), x, y)), lambda x, y: y),  # where(False, x, y) -> y
    (UPat(Ops.WHERE, src=(z, x, x)), lambda z, x: x),  # where(c, x, x) -> x
    (UPat(Ops.AND, dtype=dtypes.bool, src=(x, UPat.const(None, True))), lambda x: x),  # x & True -> x
    (UPat(Ops.AND, dtype=dtypes.bool, src=(x, UPat.const(None, False))), lambda x: UOp.const(dtypes.bool, False)),  # x & False -> False
    (UPat(Ops.AND, dtype=dtypes.bool, src=(x, x)), lambda x: x),  # x & x -> x
    (UPat(Ops.CAST, src=(x,), name="root"), lambda root, x: x if root.dtype == x.dtype else None),  # cast to own dtype
])  # fmt: skip

pm_index_math = PatternMatcher([
    (UPat(Ops.ADD, dtype=INTS, name="root"), _canonical_sum),  # x*a + x*b + c1 + c2 -> x*(a+b) + (c1+c2)
    (UPat(Ops.MUL, dtype=INTS, src=(xi * c1, c2)), lambda x, c1, c2: x * (c1.arg * c2.arg)),  # (x*a)*b -> x*(a*b)
    (UPat(Ops.MUL, dtype=INTS, src=(UPat(Ops.ADD, name="s"), c1)),
     lambda s, c1: UOp(Ops.ADD, s.dtype, (s.src[0] * c1.arg, s.src[1] * c1.arg))),  # (x+y)*c -> x*c + y*c
    (UPat((Ops.IDIV, Ops.MOD, Ops.MAX, Ops.CMPLT, Ops.CMPNE, Ops.CMPEQ), name="root"), _bounds_to_const),  # decided by ranges
    (UPat((Ops.IDIV, Ops.MOD), dtype=INTS, name="root"), _int_range_const),  # single-valued range -> const
    (UPat(Ops.MOD, dtype=INTS, src=(xi, c1)),
     lambda x, c1: x if 0 <= x.vmin and x.vmax < c1.arg else _fold_divmod(x, c1.arg, True)),  # x%c -> x when 0<=x<c
    (UPat(Ops.IDIV, dtype=INTS, src=(xi, c1)), lambda x, c1: _fold_divmod(x, c1.arg, False)),  # (a*c+b)//c -> a+b//c
    (UPat(Ops.IDIV, src=(UPat(Ops.IDIV, src=(xi, c1)), c2)),
     lambda x, c1, c2: x // (c1.arg * c2.arg) if x.vmin >= 0 and c1.arg > 0 and c2.arg > 0 else None),  # (x//a)//b -> x//(a*b)
    (UPat(Ops.MOD, src=(UPat(Ops.MOD, src=(xi, c1)), c2)),
     lambda x, c1, c2: x % c2.arg if c2.arg > 0 and c1.arg % c2.arg == 0 else None),  # (x%a)%b -> x%b when b | a
    (UPat(Ops.CMPLT, src=(xi, c1)), lambda x, c1: _lt_sum(x, c1)),  # (x+a)<c -> x<c-a; (x*k)<c -> x<ceil(c/k)
])  # fmt: skip

symbolic = pm_fold_consts + pm_identities + pm_index_math


def simplify(u: UOp) -> UOp:
    """The symbolic fixed point of u. Pure, so memoized on the (hash-consed) node itself."""
    if (r := u._memo.get("simplified")) is not None:
        return r
    from tinygrad.uop.pattern import graph_rewrite

    r = u._memo["simplified"] = graph_rewrite(u, symbolic, name="simplify")
    r._memo["simplified"] = r
    return r
