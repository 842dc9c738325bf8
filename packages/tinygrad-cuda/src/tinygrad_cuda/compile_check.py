"""A pytest plugin that compiles, for CUDA, every kernel a test run builds on whatever device it runs on.

    DEV=CPU python -m pytest tests -p tinygrad_cuda.compile_check

Each distinct kernel AST that reaches core's `get_runner` is also lowered with the CUDA renderer and compiled
by NVRTC for each architecture in CUDA_CHECK_ARCHS (default sm_80,sm_90). No GPU is needed: this is how the
whole shared suite exercises the CUDA code generator on a machine without one. Failures are listed at the end
and make the run fail; the tests themselves run and report as usual.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from tinygrad.uop.ops import UOp

ARCHS = tuple(a for a in os.environ.get("CUDA_CHECK_ARCHS", "sm_80,sm_90").split(",") if a)
MAX_REPORTED = 10


class CompileCheck:
    """Renders each new kernel AST once (on the calling thread) and compiles it on a thread pool: NVRTC runs
    without the GIL, so compiling overlaps the tests that keep running. finish() waits and lists failures."""

    def __init__(self, archs: tuple[str, ...] = ARCHS, workers: int | None = None) -> None:
        from tinygrad_cuda.compiler import CUDACompiler
        from tinygrad_cuda.renderer import CUDARenderer

        self.renderer = CUDARenderer()
        self.compilers = [CUDACompiler(a) for a in archs]
        self.pool = ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 2, thread_name_prefix="nvrtc")
        self.seen: set[UOp] = set()
        self.pending: list[tuple[str, Future[bytes]]] = []
        self.failures: list[tuple[str, str]] = []  # (what, message)

    def check(self, ast: UOp) -> None:
        from tinygrad.codegen import get_program

        if ast in self.seen:
            return
        self.seen.add(ast)
        try:
            spec = get_program(ast, self.renderer)
        except Exception as e:  # the CUDA renderer (or the lowering for it) refused the kernel
            self.failures.append((f"rendering {ast.arg}", f"{type(e).__name__}: {e}"))
            return
        for comp in self.compilers:
            self.pending.append((f"compiling {spec.name} for {comp.arch}", self.pool.submit(comp.compile, spec.src)))

    def finish(self) -> int:
        """Wait for every compile; returns how many ran."""
        done = len(self.pending)
        for what, fut in self.pending:
            if (e := fut.exception()) is not None:
                self.failures.append((what, str(e)))
        self.pending.clear()
        return done


_state: dict[str, Any] = {}


def pytest_configure(config: Any) -> None:
    from tinygrad.engine import realize

    checker = _state["check"] = CompileCheck()
    original = _state["get_runner"] = realize.get_runner

    def get_runner(device: str, ast: UOp) -> Any:
        runner = original(device, ast)
        checker.check(ast)
        return runner

    realize.get_runner = get_runner


def pytest_unconfigure(config: Any) -> None:
    from tinygrad.engine import realize

    if "get_runner" in _state:
        realize.get_runner = _state.pop("get_runner")
    if (checker := _state.pop("check", None)) is not None:
        checker.pool.shutdown(wait=False, cancel_futures=True)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    checker: CompileCheck | None = _state.get("check")
    if checker is None:
        return
    tr = terminalreporter
    compiles = _state["compiles"] = _state.get("compiles", 0) + checker.finish()
    archs = ", ".join(c.arch for c in checker.compilers)
    tr.section("CUDA compile check")
    tr.write_line(f"{len(checker.seen)} distinct kernels, {compiles} NVRTC compiles ({archs}), "
                  f"{len(checker.failures)} failures")  # fmt: skip
    for what, msg in checker.failures[:MAX_REPORTED]:
        tr.write_line(f"--- {what}\n{msg}")
    if len(checker.failures) > MAX_REPORTED:
        tr.write_line(f"... and {len(checker.failures) - MAX_REPORTED} more")


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    checker: CompileCheck | None = _state.get("check")
    if checker is None:
        return
    _state["compiles"] = _state.get("compiles", 0) + checker.finish()
    if checker.failures and exitstatus == 0:
        session.exitstatus = 1
