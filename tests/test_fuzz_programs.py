"""Program fuzzing: random tensor programs (elementwise chains, movement ops, getitem with steps, tensor indexing,
reductions, matmul, convolutions, where, casts) against a numpy reference built from the same steps.
Long runs: DEV=CPU python -m tinygrad.testing.fuzz programs --n 5000 --seed 1 (add --big for larger inputs)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from tinygrad import Device, Tensor, dtypes
from tinygrad.testing import fuzz

# per-kernel cost differs: CPU compiles each new kernel (~0.1 s), PYTHON interprets; both stay near a minute
N_FIXED = {"CPU": 330, "PYTHON": 2000}


def assert_clean(rep: fuzz.FuzzReport) -> None:
    print(rep.summary())
    assert not rep.failures, "\n\n".join(str(f) for f in rep.failures[:3])


def test_fuzz_fixed_seed():
    n = N_FIXED.get(Device.DEFAULT.split(":")[0], 150)
    rep = fuzz.fuzz_programs(n, seed=2024, max_shrinks=2, shrink_budget_s=60)
    assert rep.cases == n and rep.checks >= n * 0.95
    assert_clean(rep)


def test_fuzz_fresh_seed(seed):
    assert_clean(fuzz.fuzz_programs(25, seed=seed, max_shrinks=1, shrink_budget_s=60))


def test_every_op_applies():
    # no dead grammar: each op fits some value of each dtype it claims
    starts = {"f": [(3, 4), (2, 3, 4), (1, 2, 4, 4)], "i": [(3, 4), (5,)], "b": [(3, 4), (2, 2, 3)]}
    for name, (dts, _, _) in fuzz.PROGRAM_OPS.items():
        for dt in dts:
            ok = False
            for shape in starts[dt]:
                for sd in range(40):
                    res = fuzz.ProgramResolver(shape, dt, 1, "data")
                    res.add(fuzz.Step("contiguous", 0))  # an earlier value, for ops that reuse one
                    if res.add(fuzz.Step(name, sd)):
                        ok = True
                        break
                if ok:
                    break
            assert ok, f"{name} never applies to dtype {dt}"


def test_resolution_is_deterministic():
    a = fuzz.random_program(random.Random(5), 10)
    b = fuzz.resolve_program(a.program)
    assert a.tg_lines == b.tg_lines and a.np_lines == b.np_lines
    assert all(np.array_equal(x, y) for x, y in zip(a.vals, b.vals))


def test_reproducer_runs_and_checks():
    # a passing program's reproducer is runnable Python whose assertions hold
    rnd = random.Random(3)
    for _ in range(4):
        res = fuzz.random_program(rnd, 6)
        if res.applied and fuzz.run_program(res) is None:
            exec(fuzz.render_program_repro(res), {})


def test_detects_and_shrinks(monkeypatch):
    # make the numpy side of roll wrong by one; the fuzzer must find it and shrink the program to the roll
    dts, _, fn = fuzz.PROGRAM_OPS["roll"]

    def off_by_one(c: fuzz.StepCtx):
        r = fn(c)
        if r is None or c.x.ndim == 0:
            return r
        return r[0], r[1].replace("np.roll(", "(lambda a, k, axis: np.roll(a, k + 1, axis=axis))(")

    monkeypatch.setitem(fuzz.PROGRAM_OPS, "roll", (dts, 8.0, off_by_one))
    rep = fuzz.fuzz_programs(60, seed=1, max_shrinks=1, shrink_budget_s=60, max_failures=1)
    assert rep.failures and rep.failures[0].kind == "mismatch"
    repro = rep.failures[0].repro
    lines = [ln for ln in repro.splitlines() if ln.startswith("x") and " = " in ln]
    assert len(lines) <= 3 and any(".roll(" in ln for ln in lines), repro
    with pytest.raises(AssertionError):
        exec(repro, {"__name__": "repro"})


def test_ddmin_finds_minimal_subset():
    items = list(range(20))
    assert fuzz._ddmin(items, lambda s: 3 in s and 17 in s) == [3, 17]
    assert fuzz._ddmin(items, lambda s: True) == []


def test_compare_values_tolerates_rounding_not_errors():
    ref = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    assert fuzz.compare_values(ref * np.float32(1 + 1e-6), ref, 1.0) is None
    kind, msg = fuzz.compare_values(ref + np.float32([0, 0, 0.5]), ref, 1.0)
    assert kind == "mismatch" and "(2,)" in msg
    assert fuzz.compare_values(ref.astype(np.int32), ref.astype(np.int32) + 1, 1.0)[0] == "mismatch"
    assert fuzz.compare_values(ref[:2], ref, 1.0)[0] == "shape"


def test_index_math_values_from_arange():
    # a program on a computed input (arange) goes through the kernel's index math, not a load
    res = fuzz.resolve_program(fuzz.Program((3, 4), "i", 7, (fuzz.Step("iota", 1), fuzz.Step("sum", 2)), "arange"))
    assert res.tg_lines[0].startswith("x0 = Tensor.arange(")
    assert fuzz.run_program(res) is None


def test_mod_by_arange():
    # found by the symbolic fuzzer (variable divisors) and, shrunk, by the optimizer fuzzer
    got = (Tensor.arange(10) % (Tensor.arange(10) + 1)).tolist()
    assert got == list(range(10))


def test_mod_by_arange_broadcast():
    a = Tensor.arange(3, 18, 3, dtype=dtypes.int32).reshape(1, 5)
    b = Tensor.arange(1, 21, 2, dtype=dtypes.int32).reshape(2, 5)
    want = np.arange(3, 18, 3).reshape(1, 5) % np.arange(1, 21, 2).reshape(2, 5)
    np.testing.assert_array_equal((a % b).numpy(), want)


def test_fmod_by_arange_with_negative_start():
    # found by the program fuzzer on CUDA (seed 32), same root cause as test_mod_by_arange
    got = Tensor.arange(3, 7, 1, dtype=dtypes.int32).fmod(Tensor.arange(-1, 7, 2, dtype=dtypes.int32)).tolist()
    assert got == [0, 0, 2, 1]
