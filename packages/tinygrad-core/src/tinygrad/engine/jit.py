"""TinyJit: run a function once eagerly, capture the kernels of its second call, replay them afterwards.

Replay skips Python entirely: no graph building, no scheduling, no compile lookups, just the captured
kernels launched on the new input buffers. Anything that would make a replay silently wrong raises a
`JitError` subclass instead.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from tinygrad.device import Buffer
from tinygrad.engine import realize as realize_mod
from tinygrad.engine.memory import plan_memory
from tinygrad.errors import JitError
from tinygrad.helpers import JIT
from tinygrad.schedule import buffer_of, realized_buffer
from tinygrad.tensor import Tensor

R = TypeVar("R")


class JitArgumentError(JitError):
    """A non-tensor argument, or a tensor's shape/dtype/device, differs from the captured call."""


class JitNoKernelsError(JitError):
    """The captured call ran no kernels: there is nothing to replay."""


class JitAliasError(JitError):
    """An output is (a view of) an input: replay would hand back the caller's own buffer."""


@dataclass
class ExecItem:
    """One captured step: a compiled kernel or a copy, with the buffers it was launched on."""

    runner: Any  # CompiledRunner, or None for a copy
    bufs: list[Buffer]

    def run(self, bufs: list[Buffer]) -> None:
        if self.runner is None:
            realize_mod._copy(bufs[0], bufs[1])
        else:
            self.runner(bufs)


class _CopyStep:
    """A captured copy, replayed with whichever buffers are the inputs this call."""

    def __init__(self, bufs: list[Buffer], slots: list[tuple[int, int]], inputs: list[Buffer]) -> None:
        self.bufs, self.slots, self.inputs = bufs, slots, inputs

    def run(self, current_inputs: list[Buffer]) -> None:
        bufs = list(self.bufs)
        for pos, i in self.slots:
            bufs[pos] = current_inputs[i]
        realize_mod._copy(bufs[0], bufs[1])


Found = tuple[list[tuple[str, Tensor]], list[tuple[str, Any]]]
PlanStep = tuple[Any, list[Any], list[tuple[int, int]], tuple[int, ...], tuple[int, ...] | None]


def _flatten_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Found:
    """Tensors (with a path naming where they were found) and everything else, from nested args."""
    tensors: list[tuple[str, Tensor]] = []
    others: list[tuple[str, Any]] = []

    def walk(path: str, x: Any) -> None:
        if isinstance(x, Tensor):
            tensors.append((path, x))
        elif isinstance(x, (list, tuple)):
            for i, v in enumerate(x):
                walk(f"{path}[{i}]", v)
        elif isinstance(x, dict):
            for k, v in x.items():
                walk(f"{path}[{k!r}]", v)
        else:
            others.append((path, x))

    for i, a in enumerate(args):
        walk(f"arg {i}", a)
    for k, v in kwargs.items():
        walk(f"argument {k!r}", v)
    return tensors, others


def _flatten_outputs(ret: Any) -> list[Tensor]:
    out: list[Tensor] = []

    def walk(x: Any) -> None:
        if isinstance(x, Tensor):
            out.append(x)
        elif isinstance(x, (list, tuple)):
            for v in x:
                walk(v)
        elif isinstance(x, dict):
            for v in x.values():
                walk(v)

    walk(ret)
    return out


class TinyJit(Generic[R]):
    """Decorator: `@TinyJit def step(x): ...`. Works on functions and bound methods."""

    def __init__(self, fxn: Callable[..., R]) -> None:
        self.fxn = fxn
        self.reset()
        functools.update_wrapper(self, fxn)  # type: ignore[arg-type]

    def reset(self) -> None:
        self.cnt = 0
        self.captured: list[ExecItem] = []
        self.input_bufs: list[Buffer] = []
        self.signature: tuple[Any, ...] | None = None
        self.others: list[tuple[str, Any]] = []
        self.ret: Any = None
        self.plan: list[PlanStep] | None = None

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        # decorating a method: bind like a function would, keeping one JIT per instance-method pair
        return functools.partial(self.__call__, obj) if obj is not None else self

    @staticmethod
    def _prepare(tensors: list[tuple[str, Tensor]]) -> list[Buffer]:
        """Realize inputs into contiguous buffers (the replay swaps these buffers)."""
        bufs = []
        for _, t in tensors:
            if (b := realized_buffer(t.uop)) is not None:  # the common case on replay: nothing to do
                bufs.append(buffer_of(b))
                continue
            t.realize()
            if realized_buffer(t.uop) is None:
                t.uop = t.contiguous().realize().uop
            b = realized_buffer(t.uop)
            assert b is not None
            bufs.append(buffer_of(b))
        return bufs

    def _sig(self, tensors: list[tuple[str, Tensor]]) -> tuple[Any, ...]:
        return tuple((p, t.shape, t.dtype, t.device) for p, t in tensors)

    def __call__(self, *args: Any, **kwargs: Any) -> R:
        if not JIT:
            return self.fxn(*args, **kwargs)
        tensors, others = _flatten_args(args, kwargs)
        if self.cnt == 0:
            self._prepare(tensors)
            ret = self.fxn(*args, **kwargs)
            Tensor.realize(*_flatten_outputs(ret)) if _flatten_outputs(ret) else None
            self.cnt = 1
            return ret
        if self.cnt == 1:
            in_bufs = self._prepare(tensors)
            realize_mod.CAPTURING = captured = []
            try:
                ret = self.fxn(*args, **kwargs)
                outs = _flatten_outputs(ret)
                if outs:
                    Tensor.realize(*outs)
            finally:
                realize_mod.CAPTURING = None
            if not captured:
                raise JitNoKernelsError(f"TinyJit({getattr(self.fxn, '__name__', self.fxn)}): the function ran no "
                                        "kernels; return or realize the tensors it computes")  # fmt: skip
            in_ids = {id(b) for b in in_bufs}
            for o in outs:
                ob = realized_buffer(o.uop)
                if ob is not None and id(buffer_of(ob)) in in_ids or ob is None and any(
                    id(buffer_of(u)) in in_ids for u in o.uop.toposort() if u.op.name == "BUFFER"
                ):
                    raise JitAliasError("TinyJit: an output is an input (or a view of one); return a copy, e.g. "
                                        "x.contiguous() or x + 0, so replays don't hand back the caller's "
                                        "buffer")  # fmt: skip
            self.captured = self._plan_memory([ExecItem(r, list(b)) for r, b in captured], in_bufs, outs)
            self.input_bufs, self.signature, self.others, self.ret = in_bufs, self._sig(tensors), others, ret
            self.cnt = 2
            return ret
        # replay
        self._check(tensors, others)
        in_bufs = self._prepare(tensors)
        if self.plan is None:
            self.plan = self._make_plan()
        opaques = [b.opaque for b in in_bufs]
        for prg, args, slots, gs, ls in self.plan:
            if type(prg) is _CopyStep:
                prg.run(in_bufs)
                continue
            for pos, i in slots:
                args[pos] = opaques[i]
            prg(*args, global_size=gs, local_size=ls)
        self.cnt += 1
        return self.ret

    @staticmethod
    def _plan_memory(items: list[ExecItem], in_bufs: list[Buffer], outs: list[Tensor]) -> list[ExecItem]:
        """Intermediates (buffers only the capture references) share memory where their lifetimes allow."""
        import gc

        from tinygrad.schedule import buffers

        gc.collect()  # drop tensors the function built and let go of, so their buffers count as intermediates
        live = {id(b) for b in buffers.values()}
        keep = live | {id(b) for b in in_bufs}
        for o in outs:
            if (ob := realized_buffer(o.uop)) is not None:
                keep.add(id(buffer_of(ob)))
        inter = {id(b) for ei in items for b in ei.bufs if id(b) not in keep}
        mapping = plan_memory([ei.bufs for ei in items], inter)
        return [ExecItem(ei.runner, [mapping.get(id(b), b) for b in ei.bufs]) for ei in items]

    def _make_plan(self) -> list[PlanStep]:
        """Per captured kernel: the program, its argument list, which slots take which input, its grid. Copies
        become a small callable so the replay loop is uniform."""
        where = {id(b): i for i, b in enumerate(self.input_bufs)}
        plan = []
        for ei in self.captured:
            slots = [(p, where[id(b)]) for p, b in enumerate(ei.bufs) if id(b) in where]
            if ei.runner is None:
                bufs = list(ei.bufs)
                plan.append((_CopyStep(bufs, slots, self.input_bufs), [None] * len(bufs), [], (1,), None))
            else:
                plan.append((ei.runner.prg, [b.opaque for b in ei.bufs], slots, ei.runner.spec.global_size,
                             ei.runner.spec.local_size))  # fmt: skip
        return plan

    def _check(self, tensors: list[tuple[str, Tensor]], others: list[tuple[str, Any]]) -> None:
        name = getattr(self.fxn, "__name__", "function")
        sig = self._sig(tensors)
        assert self.signature is not None
        if len(sig) != len(self.signature):
            raise JitArgumentError(f"TinyJit({name}): called with {len(sig)} tensors, captured with "
                                   f"{len(self.signature)}; the tensor arguments must stay the same")  # fmt: skip
        for now, then in zip(sig, self.signature):
            if now != then:
                raise JitArgumentError(
                    f"TinyJit({name}): {now[0]} changed from shape {then[1]} {then[2]} on {then[3]} to "
                    f"shape {now[1]} {now[2]} on {now[3]}; a jitted function replays fixed shapes: use a "
                    "separate TinyJit per shape, a symbolic Variable, or call jit.reset()"
                )
        if [p for p, _ in others] != [p for p, _ in self.others]:
            raise JitArgumentError(f"TinyJit({name}): the non-tensor arguments changed structure")
        for (p, now_v), (_, then_v) in zip(others, self.others):
            try:
                same = bool(now_v == then_v) and type(now_v) is type(then_v)
            except Exception:
                same = now_v is then_v
            if not same:
                raise JitArgumentError(
                    f"TinyJit({name}): {p} changed from {then_v!r} to {now_v!r}; non-tensor arguments are baked "
                    "into the captured kernels. Pass the value as a Tensor, or call jit.reset() to recapture"
                )
