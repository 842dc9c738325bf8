"""Optimizer fuzzing: every kernel of a corpus (elementwise, reductions, matmul, conv2d, softmax, layernorm,
cumsum, argmax, padded/flipped views, ints, half, bfloat16, random programs) run with its hand-coded actions,
with each single UPCAST/UNROLL/THREAD action and with random action lists, on the schedule's own buffers, and
compared with the unoptimized kernel. Long runs: python -m tinygrad.testing.fuzz opts --n 2000 --programs 200."""

from __future__ import annotations

import random

import numpy as np
import pytest

from tinygrad import Device, Tensor
from tinygrad.codegen import get_program
from tinygrad.codegen import opt as opt_mod
from tinygrad.codegen.opt import Opt, OptError, OptOps, apply_opt
from tinygrad.testing import fuzz


def assert_clean(rep: fuzz.FuzzReport) -> None:
    print(rep.summary())
    assert not rep.failures, "\n\n".join(str(f) for f in rep.failures[:3])


def test_corpus_every_single_action():
    # hand-coded actions, every valid single action, invalid ones, and a few random lists per corpus kernel
    rep = fuzz.fuzz_opts(60, seed=77, individual=True)
    assert rep.cases >= len(fuzz.OPT_CORPUS) and rep.checks > 300
    assert_clean(rep)


def test_random_action_lists_on_random_programs():
    rep = fuzz.fuzz_opts(150, seed=5, individual=False, programs=25, corpus=["matmul", "conv2d", "softmax"])
    assert_clean(rep)


def test_random_action_lists_fresh_seed(seed):
    assert_clean(fuzz.fuzz_opts(40, seed=seed, individual=False, programs=8, corpus=["layernorm", "cumsum"]))


def _kernel(expr) -> tuple:
    sched = expr.schedule()
    return sched[-1], fuzz.run_kernel_with_opts(sched[-1], [])


def test_invalid_actions_raise_opterror():
    a = Tensor(np.random.default_rng(0).standard_normal((6, 8)).astype(np.float32))
    b = Tensor(np.random.default_rng(1).standard_normal((8, 10)).astype(np.float32))
    si, _ = _kernel(a @ b)
    for bad in [
        Opt(OptOps.UPCAST, 0, 4),
        Opt(OptOps.UPCAST, 5, 2),
        Opt(OptOps.UNROLL, 0, 3),
        Opt(OptOps.UNROLL, 1, 2),
        Opt(OptOps.THREAD, 1, 3),
        Opt(OptOps.UPCAST, 0, 1),
    ]:
        with pytest.raises(OptError):
            apply_opt(si.ast, bad)
        with pytest.raises(OptError):
            get_program(si.ast, Device[Device.DEFAULT].renderer, opts=[bad])
    rnd = random.Random(0)
    for _ in range(30):
        with pytest.raises(OptError):
            apply_opt(si.ast, fuzz.invalid_opt(si.ast, rnd, threads=True))


def test_candidates_cover_every_axis():
    a = Tensor(np.random.default_rng(0).standard_normal((6, 8)).astype(np.float32))
    si, _ = _kernel(a.sum(1))
    cands = fuzz.candidate_opts(si.ast, threads=True)
    assert {(o.op, o.axis, o.arg) for o in cands} == {
        (OptOps.UPCAST, 0, 2), (OptOps.UPCAST, 0, 3), (OptOps.UPCAST, 0, 6), (OptOps.THREAD, 0, 2),
        (OptOps.THREAD, 0, 3), (OptOps.THREAD, 0, 6), (OptOps.UNROLL, 0, 2), (OptOps.UNROLL, 0, 4),
        (OptOps.UNROLL, 0, 8)}  # fmt: skip


def test_poisoned_output_catches_unwritten_elements(monkeypatch):
    # an UPCAST that forgets its last copy leaves poisoned elements: the fuzzer must see it and shrink to it
    real = opt_mod.upcast

    def forgetful(ast, axis, k):
        r = real(ast, axis, k)
        return r.replace(src=r.src[:-1]) if k >= 3 and len(r.src) > 1 else r

    monkeypatch.setattr(opt_mod, "upcast", forgetful)
    rep = fuzz.fuzz_opts(20, seed=1, individual=True, corpus=["sum_rows"])
    assert rep.failures and all(f.kind == "mismatch" for f in rep.failures)
    first = rep.failures[0]
    assert "UPCAST" in first.message and first.repro.count("Opt(OptOps.") == 1
    with pytest.raises(AssertionError):
        exec(first.repro, {})
    monkeypatch.undo()
    exec(first.repro, {})  # fixed optimizer: the reproducer passes


def test_compare_kernel_outputs():
    base = np.array([1.0, 2.0, np.nan], dtype=np.float32)
    assert fuzz.compare_kernel_outputs(base.copy(), base) is None
    assert fuzz.compare_kernel_outputs(base + np.float32(1e-7), base) is None
    assert "1/3" in fuzz.compare_kernel_outputs(np.array([1.0, 2.5, np.nan], dtype=np.float32), base)
    ints = np.array([1, 2, 3], dtype=np.int32)
    assert fuzz.compare_kernel_outputs(ints + np.array([0, 0, 1], dtype=np.int32), ints) is not None


def test_hand_coded_threads_on_a_big_kernel():
    # THREAD only pays above ~65k multiply-adds; check the hand-coded choice there against the unoptimized kernel
    rnd = np.random.default_rng(0)
    a = Tensor(rnd.standard_normal((64, 48)).astype(np.float32))
    b = Tensor(rnd.standard_normal((48, 32)).astype(np.float32))
    si, base = _kernel(a @ b)
    got = fuzz.run_kernel_with_opts(si, None)
    assert fuzz.compare_kernel_outputs(got, base) is None
    np.testing.assert_allclose(base.reshape(64, 32), a.numpy() @ b.numpy(), rtol=1e-4, atol=1e-4)


def test_thread_on_grid_renderer_is_refused_or_correct():
    x = Tensor(np.arange(8, dtype=np.float32), device="PYTHON")
    si = (x * 2).schedule()[0]
    base = fuzz.run_kernel_with_opts(si, [])
    try:
        got = fuzz.run_kernel_with_opts(si, [Opt(OptOps.THREAD, 0, 2)])
    except OptError:
        return
    assert fuzz.compare_kernel_outputs(got, base) is None
