"""The NPY device against core's backend conformance suite, plus a few checks of its own."""

from __future__ import annotations

import numpy as np

from tinygrad import Device, Tensor
from tinygrad.testing.conformance import conformance_tests

# every allocator / renderer / compiler / kernel / JIT conformance test, run against NPY
globals().update(conformance_tests("NPY"))


def test_renders_python_source() -> None:
    from tinygrad.codegen import get_program

    a = Tensor(np.arange(6, dtype=np.float32), device="NPY")
    (si,) = (a * 2 + 1).schedule()
    spec = get_program(si.ast, Device["NPY"].renderer)
    assert spec.src.startswith("def ") and "np.multiply" in spec.src and "lib.store" in spec.src
    compile(spec.src, "<test>", "exec")


def test_basic_tensor_program() -> None:
    x = Tensor([[1.0, 2.0], [3.0, 4.0]], device="NPY", requires_grad=True)
    loss = (x @ x).relu().sum()
    loss.backward()
    xn = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    assert loss.item() == float((xn @ xn).sum())
    assert x.grad is not None
    np.testing.assert_allclose(x.grad.numpy(), np.ones((2, 2)) @ xn.T + xn.T @ np.ones((2, 2)))
