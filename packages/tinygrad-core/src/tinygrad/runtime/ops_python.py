"""PYTHON: the reference device. No compiler: it executes the linear UOps directly.

Execution is GPU-style: the output loops are a grid of threads (SPECIAL indices) and every value is a numpy
array with one lane per thread, so all threads step through the program together; loops inside a kernel
(reductions) have the same trip count in every lane. numpy supplies exact dtype semantics (wrapping ints,
float16 rounding); bfloat16 and fp8 are stored as bits and computed in float32 with rounding after each op.
"""

from __future__ import annotations

import ast
import pickle
import time
from typing import Any

import numpy as np

from tinygrad.device import Allocator, Compiled, Compiler, Program
from tinygrad.dtype import DTYPES_DICT, DType, PtrDType, bf16_bits_to_float, dtypes, float_to_bf16_bits
from tinygrad.helpers import prod
from tinygrad.renderer import Renderer
from tinygrad.uop.ops import GroupOp, Ops, UOp


def _enc_arg(a: Any) -> Any:
    if isinstance(a, float):
        return ("float", a.hex())
    if isinstance(a, tuple):
        return ("tuple", tuple(_enc_arg(x) for x in a))
    return a


def _dec_arg(a: Any) -> Any:
    if isinstance(a, tuple) and len(a) == 2 and a[0] == "float":
        return float.fromhex(a[1])
    if isinstance(a, tuple) and len(a) == 2 and a[0] == "tuple":
        return tuple(_dec_arg(x) for x in a[1])
    return a


def _enc_dtype(dt: DType) -> str:
    return f"ptr:{dt.base.name}" if isinstance(dt, PtrDType) else dt.name


def _dec_dtype(s: str) -> DType:
    return DTYPES_DICT[s[4:]].ptr() if s.startswith("ptr:") else DTYPES_DICT[s]


class PythonRenderer(Renderer):
    device = "PYTHON"
    has_global_ids = True
    # bfloat16 and fp8 go through core's emulation (bits in memory, float32 math), like any renderer without them
    supported_dtypes = frozenset(dtypes.all) - {dtypes.bfloat16, dtypes.fp8e4m3, dtypes.fp8e5m2}

    def render(self, name: str, uops: list[UOp]) -> str:
        """One line per UOp: (op, dtype, source positions, arg). Readable with DEBUG=4, parsed back by compile."""
        # a value recomputed after a loop appears twice; each use refers to the latest copy before it
        pos: dict[UOp, int] = {}
        lines = [f"# {name}"]
        for i, u in enumerate(uops):
            srcs = tuple(pos[s] if s in pos else ("const", _enc_dtype(s.dtype), _enc_arg(s.arg)) for s in u.src)
            lines.append(repr((u.op.name, _enc_dtype(u.dtype), srcs, _enc_arg(u.arg))))
            pos[u] = i
        return "\n".join(lines) + "\n"


class PythonCompiler(Compiler):
    cachekey = None  # parsing is cheaper than a disk cache lookup

    def compile(self, src: str) -> bytes:
        prog = []
        for line in src.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            op, dt, srcs, arg = ast.literal_eval(line)
            prog.append((Ops[op], _dec_dtype(dt), srcs, _dec_arg(arg)))
        return pickle.dumps(prog)


def _np_dtype(dt: DType) -> np.dtype:
    if dt.np is not None:
        return dt.np
    return np.dtype(np.float32)  # bfloat16 / fp8 compute in float32


def _storage_dtype(dt: DType) -> np.dtype:
    if dt.np is not None:
        return dt.np
    return np.dtype(np.uint16) if dt.itemsize == 2 else np.dtype(np.uint8)


def _to_storage(x: Any, dt: DType) -> Any:
    if dt == dtypes.bfloat16:
        return float_to_bf16_bits(np.asarray(x, np.float32))
    if dt in (dtypes.fp8e4m3, dtypes.fp8e5m2):
        from tinygrad.dtype import float_to_fp8_bits

        return float_to_fp8_bits(np.asarray(x, np.float32), dt)
    return x


def _from_storage(x: Any, dt: DType) -> Any:
    if dt == dtypes.bfloat16:
        return bf16_bits_to_float(np.asarray(x))
    if dt in (dtypes.fp8e4m3, dtypes.fp8e5m2):
        from tinygrad.dtype import fp8_bits_to_float

        return fp8_bits_to_float(np.asarray(x), dt)
    return x


def _round(x: Any, dt: DType) -> Any:
    """Values of emulated dtypes are rounded to the dtype after every op."""
    if dt.np is None and dt != dtypes.void and dtypes.is_float(dt):
        return _from_storage(_to_storage(x, dt), dt)
    return x


def _idiv(a: Any, b: Any) -> Any:
    if np.issubdtype(np.asarray(a).dtype, np.bool_):
        return a & b
    dt = np.asarray(a).dtype
    safe = np.where(b == 0, 1, b).astype(dt)
    # C truncates toward zero; floor division plus a correction never overflows the way abs(INT_MIN) does
    q = np.floor_divide(a, safe)
    q = q + ((np.remainder(a, safe) != 0) & ((a < 0) != (safe < 0))).astype(dt)
    return np.where(b == 0, 0, q).astype(dt)


def _mod(a: Any, b: Any) -> Any:
    dt = np.asarray(a).dtype
    return np.where(b == 0, 0, a - _idiv(a, b) * b).astype(dt)


def _recip(x: Any) -> Any:
    return np.reciprocal(x)


NP_ALU: dict[Ops, Any] = {
    Ops.EXP2: np.exp2, Ops.LOG2: np.log2, Ops.SIN: np.sin, Ops.SQRT: np.sqrt, Ops.RECIP: _recip,
    Ops.TRUNC: np.trunc, Ops.ADD: np.add, Ops.SUB: np.subtract, Ops.MUL: np.multiply, Ops.FDIV: np.divide,
    Ops.IDIV: _idiv, Ops.MOD: _mod, Ops.MAX: np.maximum, Ops.POW: np.power, Ops.CMPLT: np.less,
    Ops.CMPNE: np.not_equal, Ops.CMPEQ: np.equal, Ops.AND: np.bitwise_and, Ops.OR: np.bitwise_or,
    Ops.XOR: np.bitwise_xor, Ops.SHL: np.left_shift, Ops.SHR: np.right_shift,
    Ops.WHERE: np.where, Ops.MULACC: lambda a, b, c: a * b + c,
}  # fmt: skip


class PythonProgram(Program):
    def __init__(self, name: str, lib: bytes) -> None:
        super().__init__(name, lib)
        self.prog: list[tuple[Ops, DType, tuple[Any, ...], Any]] = pickle.loads(lib)
        # where each loop ends, for the jump past a zero-trip loop
        self.end_of: dict[int, int] = {}
        for i, (op, _, srcs, _) in enumerate(self.prog):
            if op is Ops.END:
                self.end_of[srcs[0]] = i

    def __call__(self, *bufs: Any, global_size: tuple[int, ...] = (1,), local_size: Any = None,
                 vals: tuple[int, ...] = (), wait: bool = False) -> float | None:  # fmt: skip
        st = time.perf_counter()
        with np.errstate(all="ignore"):
            self._run(bufs, global_size)
        return time.perf_counter() - st if wait else None

    def _run(self, bufs: tuple[Any, ...], global_size: tuple[int, ...]) -> None:
        prog = self.prog
        n_threads = prod(global_size)
        lane_ids = np.arange(n_threads, dtype=np.int64)
        vals: list[Any] = [None] * len(prog)
        views: dict[int, np.ndarray] = {}

        def get(s: Any) -> Any:
            if isinstance(s, tuple):  # an inline constant
                dt = _dec_dtype(s[1])
                return np.array(_dec_arg(s[2]), dtype=_np_dtype(dt))[()]
            return vals[s]

        pc = 0
        while pc < len(prog):
            op, dt, srcs, arg = prog[pc]
            if op is Ops.DEFINE_GLOBAL:
                sdt = _storage_dtype(dt.base)
                raw = bufs[arg]
                views[pc] = raw[: len(raw) - len(raw) % sdt.itemsize].view(sdt)
                vals[pc] = pc
            elif op is Ops.CONST:
                vals[pc] = np.array(arg, dtype=_np_dtype(dt))[()]
            elif op is Ops.SPECIAL:
                # lanes enumerate the grid with dimension 0 (x) fastest, as GPUs number threads
                d = int(arg[4:])
                inner = prod(global_size[:d])
                vals[pc] = (lane_ids // inner) % global_size[d]
            elif op is Ops.RANGE:
                if int(get(srcs[0])) <= 0:
                    pc = self.end_of[pc] + 1
                    continue
                vals[pc] = np.int64(0)
            elif op is Ops.END:
                r = srcs[0]
                vals[r] = vals[r] + 1
                if vals[r] < get(prog[r][2][0]):
                    pc = r + 1
                    continue
            elif op is Ops.DEFINE_ACC:
                vals[pc] = get(srcs[0])
            elif op is Ops.ACC_STORE:
                vals[srcs[0]] = get(srcs[1])
            elif op is Ops.INDEX:
                vals[pc] = (srcs[0], get(srcs[1]), get(srcs[2]) if len(srcs) > 2 else None)
            elif op is Ops.LOAD:
                g, idx, gate = vals[srcs[0]]
                buf = views[g]
                if gate is not None:
                    safe = np.where(gate, idx, 0)
                    got = buf[safe] if len(buf) else np.zeros(np.shape(safe), buf.dtype)
                    vals[pc] = np.where(gate, _from_storage(got, dt), np.array(0, _np_dtype(dt)))
                else:
                    vals[pc] = _from_storage(buf[idx], dt)
            elif op is Ops.STORE:
                g, idx, gate = vals[srcs[0]]
                v = _to_storage(np.asarray(get(srcs[1]), _np_dtype(prog[srcs[0]][1].base)), prog[srcs[0]][1].base)
                views[g][idx] = v
            elif op is Ops.CAST:
                x = np.asarray(get(srcs[0]))
                vals[pc] = _round(x.astype(_np_dtype(dt)), dt)
            elif op is Ops.BITCAST:
                x = np.asarray(get(srcs[0]))
                from_dt = prog[srcs[0]][1] if not isinstance(srcs[0], tuple) else _dec_dtype(srcs[0][1])
                vals[pc] = _from_storage(np.asarray(_to_storage(x, from_dt)).view(_storage_dtype(dt)), dt)
            elif op in GroupOp.ALU:
                args = [get(s) for s in srcs]
                if op is Ops.NEG:
                    res = np.logical_not(args[0]) if dt == dtypes.bool else np.negative(args[0])
                elif op is Ops.MAX and dt == dtypes.bool:
                    res = np.logical_or(*args)
                elif op in (Ops.ADD, Ops.MUL) and dt == dtypes.bool:
                    res = (np.logical_or if op is Ops.ADD else np.logical_and)(*args)
                else:
                    res = NP_ALU[op](*args)
                out_dt = _np_dtype(dt)
                vals[pc] = _round(np.asarray(res).astype(out_dt, copy=False), dt)
            else:
                raise NotImplementedError(f"PYTHON cannot execute {op}")
            pc += 1


class PythonAllocator(Allocator):
    def alloc(self, size: int, options: Any = None) -> np.ndarray:
        return np.zeros(size, dtype=np.uint8)

    def copyin(self, dest: np.ndarray, src: memoryview) -> None:
        dest[:] = np.frombuffer(src, dtype=np.uint8)

    def copyout(self, dest: memoryview, src: np.ndarray) -> None:
        np.frombuffer(dest, dtype=np.uint8)[:] = src[: dest.nbytes]

    def as_memoryview(self, opaque: Any, size: int) -> memoryview:
        return memoryview(opaque)[:size]


def open_python(device: str) -> Compiled:
    return Compiled(device, PythonAllocator(), PythonRenderer(), PythonCompiler(), PythonProgram)
