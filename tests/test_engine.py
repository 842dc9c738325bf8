"""Execution engine: method cache, counters, DEBUG output, PROFILE traces, and `function`."""

import json
import subprocess
import sys

import numpy as np

from tinygrad import Context, GlobalCounters, Tensor, function
from tinygrad.engine.realize import method_cache


def rnd(*shape):
    return np.random.default_rng().standard_normal(shape).astype(np.float32)


def test_identical_kernel_compiles_once():
    a = Tensor(rnd(7, 3)).realize()
    (a * 3 + 1).realize()
    n = len(method_cache)
    b = Tensor(rnd(7, 3)).realize()
    out = (b * 3 + 1).realize()
    assert len(method_cache) == n
    np.testing.assert_allclose(out.numpy(), b.numpy() * 3 + 1, rtol=1e-6)


def test_global_counters_count_kernels_ops_and_memory():
    a, b = Tensor(rnd(64, 64)).realize(), Tensor(rnd(64, 64)).realize()
    GlobalCounters.reset()
    (a @ b).realize()
    assert GlobalCounters.kernel_count == 1
    assert GlobalCounters.global_ops >= 2 * 64**3
    assert GlobalCounters.global_mem >= 64 * 64 * 4
    assert GlobalCounters.time_sum_s > 0


def _run(code: str, **env: str) -> str:
    import os

    e = dict(os.environ, **env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=e, timeout=300).stdout


PROG = (
    "from tinygrad import Tensor; import numpy as np; print((Tensor(np.arange(8, dtype=np.float32)) * 2).sum().item())"
)


def test_debug_levels_print_what_they_promise():
    out2 = _run(PROG, DEBUG="2")
    assert "GFLOPS" in out2 and "56.0" in out2
    out4 = _run(PROG, DEBUG="4")
    assert "data0" in out4 or "DEFINE_GLOBAL" in out4  # the generated code
    out6 = _run(PROG, DEBUG="6")
    assert "linearized" in out6 and "RANGE" in out6 or "SPECIAL" in out6


def test_profile_writes_chrome_trace(tmp_path):
    path = tmp_path / "trace.json"
    _run(PROG, PROFILE="1", PROFILE_PATH=str(path))
    events = json.loads(path.read_text())["traceEvents"]
    assert events and all(e["ph"] == "X" and e["dur"] >= 0 for e in events)
    assert any(e["cat"] == "kernel" for e in events)


def test_function_traces_once_and_matches():
    calls = []

    @function
    def f(a, b, scale=2.0):
        calls.append(1)
        return (a * b * scale).relu().sum(0)

    for _ in range(3):
        x, y = rnd(4, 5), rnd(4, 5)
        np.testing.assert_allclose(f(Tensor(x), Tensor(y)).numpy(), np.maximum(x * y * 2, 0).sum(0), rtol=1e-5)
    assert len(calls) == 1
    f(Tensor(rnd(4, 5)), Tensor(rnd(4, 5)), scale=3.0)
    f(Tensor(rnd(2, 5)), Tensor(rnd(2, 5)))
    assert len(calls) == 3


def test_function_is_differentiable():
    @function
    def f(a):
        return (a * a).sum()

    x = rnd(6)
    t = Tensor(x, requires_grad=True)
    f(t).backward()
    np.testing.assert_allclose(t.grad.numpy(), 2 * x, rtol=1e-6)


def test_context_overrides_and_restores():
    from tinygrad.helpers import DEBUG

    before = DEBUG.value
    with Context(DEBUG=3):
        assert DEBUG.value == 3
    assert DEBUG.value == before
