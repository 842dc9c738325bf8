"""Running a schedule: compile each kernel once per process (method cache), launch it, count the work."""

from __future__ import annotations

import atexit
import json
import os
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from tinygrad.codegen import ProgramSpec, get_program
from tinygrad.device import Buffer, Device, Program
from tinygrad.errors import CompileError
from tinygrad.helpers import DEBUG, PROFILE, GlobalCounters, colored
from tinygrad.schedule import ScheduleItem
from tinygrad.uop.ops import Ops, UOp, print_uops


@dataclass
class CompiledRunner:
    """A kernel ready to launch on one device."""

    spec: ProgramSpec
    prg: Program
    device: str

    def __call__(self, bufs: list[Buffer], wait: bool = False) -> float | None:
        return self.prg(*[b.opaque for b in bufs], global_size=self.spec.global_size, local_size=self.spec.local_size,
                        wait=wait)  # fmt: skip


method_cache: dict[tuple[str, UOp], CompiledRunner] = {}
# set by TinyJit while capturing: every launched (runner or None for a copy, buffers) is appended
CAPTURING: list[tuple[Any, tuple[Buffer, ...]]] | None = None


def get_runner(device: str, ast: UOp) -> CompiledRunner:
    """The compiled program for `ast` on `device`; identical kernels compile once per process."""
    key = (device, ast)
    if (r := method_cache.get(key)) is not None:
        return r
    dev = Device[device]
    if DEBUG >= 5:
        print(f"kernel AST for {ast.arg}:")
        print_uops(ast.toposort())
    spec = get_program(ast, dev.renderer)
    if DEBUG >= 6:
        print(f"linearized {spec.name}:")
        print_uops(list(spec.uops))
    if DEBUG >= 4:
        print(spec.src)
    try:
        lib = dev.compiler.compile_cached(spec.src)
    except CompileError:
        raise
    except Exception as e:  # a backend compiler bug surfaces as a typed error with the source attached
        raise CompileError(f"compiling kernel {spec.name} for {device} failed: {e}\n{spec.src}") from e
    if DEBUG >= 7:
        print(dev.compiler.disassemble(lib))
    r = method_cache[key] = CompiledRunner(spec, dev.runtime(spec.name, lib), device)
    return r


# ---- PROFILE=1: a Chrome trace / Perfetto JSON of every kernel and copy ----

_profile_events: list[dict[str, Any]] = []


def _profile_event(si: ScheduleItem, name: str, st: float, device_time: float | None) -> None:
    dur = device_time if device_time is not None else time.perf_counter() - st
    dev = si.bufs[0].device
    _profile_events.append({"name": name, "ph": "X", "ts": st * 1e6, "dur": dur * 1e6, "pid": dev, "tid": dev,
                            "cat": "copy" if si.ast.op is Ops.COPY else "kernel",
                            "args": {"bufs": [f"{b.size}x{b.dtype.name}" for b in si.bufs]}})  # fmt: skip
    if len(_profile_events) == 1:
        atexit.register(write_profile)


def write_profile(path: str | None = None) -> str:
    """Write the collected trace (open it in chrome://tracing or ui.perfetto.dev); returns the path."""
    out = path or os.environ.get("PROFILE_PATH") or os.path.join(tempfile.gettempdir(), "tinygrad_profile.json")
    with open(out, "w") as f:
        json.dump({"traceEvents": _profile_events, "displayTimeUnit": "ms"}, f)
    if DEBUG >= 1:
        print(f"profile with {len(_profile_events)} events written to {out}")
    return out


def _copy(dst: Buffer, src: Buffer) -> None:
    # a host-visible source (a DISK file mapping, host memory) is read in place: one copy instead of two
    if src.nbytes:
        dev = Device[src.device]
        if (mv := dev.allocator.as_memoryview(src.opaque, src.nbytes)) is not None:
            dev.synchronize()
            dst.copyin(mv)
            return
    dst.copyin(src.as_bytes())


def run_schedule(schedule: list[ScheduleItem], do_update_stats: bool = True) -> None:
    for si in schedule:
        st = time.perf_counter()
        if si.ast.op is Ops.COPY:
            for b in si.bufs:
                b.allocate()
            _copy(si.bufs[0], si.bufs[1])
            if CAPTURING is not None:
                CAPTURING.append((None, si.bufs))
            et: Any = None
            name, ops, mem = f"copy {si.bufs[1].device} -> {si.bufs[0].device}", 0, si.bufs[0].nbytes
        else:
            runner = get_runner(si.bufs[0].device, si.ast)
            et = runner(list(si.bufs), wait=DEBUG >= 2 or bool(PROFILE))
            if CAPTURING is not None:
                CAPTURING.append((runner, si.bufs))
            name, ops, mem = runner.spec.name, runner.spec.ops_estimate, runner.spec.mem_estimate
        if PROFILE:
            _profile_event(si, name if si.ast.op is Ops.COPY else runner.spec.name, st, et)
        if not do_update_stats:
            continue
        GlobalCounters.kernel_count += 1
        GlobalCounters.global_ops += ops
        GlobalCounters.global_mem += mem
        elapsed = et if et is not None else time.perf_counter() - st
        GlobalCounters.time_sum_s += elapsed
        if DEBUG >= 2:
            dev = si.bufs[0].device
            gflops = ops / elapsed * 1e-9 if elapsed > 0 else 0
            gbs = mem / elapsed * 1e-9 if elapsed > 0 else 0
            print(
                f"{colored(f'*** {dev:7s} {GlobalCounters.kernel_count:4d}', 'magenta')} {name:30s} "
                f"tm {elapsed * 1e6:9.2f}us  {gflops:8.2f} GFLOPS {gbs:7.2f} GB/s  "
                f"mem {GlobalCounters.mem_used / 1e6:8.2f} MB"
            )
