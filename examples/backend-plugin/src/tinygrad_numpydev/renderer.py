"""UOps -> a Python function of numpy vector operations, one line per UOp.

The kernel runs GPU-style: output loops become the thread grid (`has_global_ids`), every grid thread is one
lane of a numpy array, and the lanes step through the function together. Reduce loops stay Python `for` loops
(their trip count is the same in every lane). bfloat16 and fp8 are left out of `supported_dtypes`, so core
rewrites them into bit patterns and float32 math before rendering: this renderer never sees them.
"""

from __future__ import annotations

import math

from tinygrad.dtype import DType, PtrDType, dtypes
from tinygrad.errors import DTypeError
from tinygrad.renderer import Renderer
from tinygrad.uop.ops import GroupOp, Ops, UOp

# the numpy spelling of each dtype the generated code uses
NP_NAMES: dict[DType, str] = {
    dtypes.bool: "np.bool_", dtypes.int8: "np.int8", dtypes.uint8: "np.uint8", dtypes.int16: "np.int16",
    dtypes.uint16: "np.uint16", dtypes.int32: "np.int32", dtypes.uint32: "np.uint32", dtypes.int64: "np.int64",
    dtypes.uint64: "np.uint64", dtypes.float16: "np.float16", dtypes.float32: "np.float32",
    dtypes.float64: "np.float64",
}  # fmt: skip

# ops with a numpy ufunc of the same meaning, for every dtype they are used with
UFUNCS: dict[Ops, str] = {
    Ops.EXP2: "np.exp2", Ops.LOG2: "np.log2", Ops.SIN: "np.sin", Ops.SQRT: "np.sqrt", Ops.RECIP: "np.reciprocal",
    Ops.TRUNC: "np.trunc", Ops.ADD: "np.add", Ops.SUB: "np.subtract", Ops.MUL: "np.multiply",
    Ops.FDIV: "np.divide", Ops.MAX: "np.maximum", Ops.CMPLT: "np.less", Ops.CMPNE: "np.not_equal",
    Ops.CMPEQ: "np.equal", Ops.AND: "np.bitwise_and", Ops.OR: "np.bitwise_or", Ops.XOR: "np.bitwise_xor",
    Ops.SHL: "np.left_shift", Ops.SHR: "np.right_shift", Ops.WHERE: "np.where",
}  # fmt: skip
# bool arithmetic is logic: + is or, * is and, - (negation) is not
BOOL_UFUNCS: dict[Ops, str] = {Ops.ADD: "np.logical_or", Ops.MUL: "np.logical_and", Ops.NEG: "np.logical_not",
                               Ops.MAX: "np.logical_or"}  # fmt: skip


class NpyRenderer(Renderer):
    device = "NPY"
    has_global_ids = True
    # no workgroups and no shared memory: a lane is a lane
    has_local = False
    has_shared = False
    # lanes are one flat numpy array, so any number of grid dimensions of any size works
    global_max = None
    supported_dtypes = frozenset(NP_NAMES)

    def np_dtype(self, dt: DType) -> str:
        if dt.scalar not in NP_NAMES:
            raise DTypeError(f"NpyRenderer cannot render dtype {dt}: numpy has no native type for it")
        return NP_NAMES[dt.scalar]

    def render_const(self, x: object, dt: DType) -> str:
        t = self.np_dtype(dt)
        if dtypes.is_float(dt):
            assert isinstance(x, (int, float))
            v = float(x)
            # repr round-trips every finite float exactly; nan and inf need a spelling Python parses
            return f"{t}({repr(v) if math.isfinite(v) else repr(str(v))})"
        assert isinstance(x, (bool, int))
        return f"{t}({bool(x)})" if dt == dtypes.bool else f"{t}({int(x)})"

    def render_alu(self, op: Ops, dt: DType, srcs: list[str]) -> str:
        if dt == dtypes.bool and op in BOOL_UFUNCS:
            return f"{BOOL_UFUNCS[op]}({', '.join(srcs)})"
        if op is Ops.NEG:
            return f"np.negative({srcs[0]})"
        if op is Ops.MULACC:
            return f"{srcs[0]} * {srcs[1]} + {srcs[2]}"
        if op in (Ops.IDIV, Ops.MOD):
            return f"lib.{op.name.lower()}({srcs[0]}, {srcs[1]})"
        if op is Ops.POW:
            return f"{'np.power' if dtypes.is_float(dt) else 'lib.ipow'}({srcs[0]}, {srcs[1]})"
        if op in UFUNCS:
            return f"{UFUNCS[op]}({', '.join(srcs)})"
        raise NotImplementedError(f"NpyRenderer has no rendering for {op}")

    def render(self, name: str, uops: list[UOp]) -> str:
        r: dict[UOp, str] = {}
        lines = [f"def {name}(bufs, global_size, vals):", "    ids = lib.lanes(global_size)"]
        depth = 1
        counters: dict[str, int] = {}

        def new_name(prefix: str) -> str:
            counters[prefix] = counters.get(prefix, -1) + 1
            return f"{prefix}{counters[prefix]}"

        def emit(line: str) -> None:
            lines.append("    " * depth + line)

        for u in uops:
            op = u.op
            if op is Ops.DEFINE_GLOBAL:
                assert isinstance(u.dtype, PtrDType)
                r[u] = f"data{u.arg}"
                emit(f"{r[u]} = lib.typed(bufs[{u.arg}], {self.np_dtype(u.dtype.base)})")
            elif op is Ops.CONST:
                r[u] = self.render_const(u.arg, u.dtype)
            elif op is Ops.SPECIAL:
                if not u.arg.startswith("gidx"):
                    raise NotImplementedError(f"NpyRenderer: no {u.arg} (has_local is False)")
                r[u] = u.arg
                emit(f"{u.arg} = lib.special(ids, global_size, {int(u.arg[4:])})")
            elif op is Ops.RANGE:
                r[u] = v = new_name("ridx")
                # np.arange, not range: the loop variable must be an int64 like every other index value
                emit(f"for {v} in np.arange({r[u.src[0]]}):")
                depth += 1
            elif op is Ops.END:
                if lines[-1].rstrip().endswith(":"):
                    emit("pass")
                depth -= 1
            elif op is Ops.DEFINE_ACC:
                r[u] = v = new_name("acc")
                emit(f"{v} = {r[u.src[0]]}")
            elif op is Ops.ACC_STORE:
                emit(f"{r[u.src[0]]} = {r[u.src[1]]}")
            elif op is Ops.INDEX:
                # no line of its own: LOAD and STORE index the buffer directly
                r[u] = f"{r[u.src[0]]}[{r[u.src[1]]}]"
            elif op is Ops.LOAD:
                idx = u.src[0]
                r[u] = v = new_name("val")
                if len(idx.src) > 2:
                    emit(f"{v} = lib.load({r[idx.src[0]]}, {r[idx.src[1]]}, {r[idx.src[2]]})")
                else:
                    emit(f"{v} = {r[idx]}")
            elif op is Ops.STORE:
                idx = u.src[0]
                gate = f", {r[idx.src[2]]}" if len(idx.src) > 2 else ""
                emit(f"lib.store({r[idx.src[0]]}, {r[idx.src[1]]}, {r[u.src[1]]}{gate})")
            elif op in GroupOp.ALU:
                r[u] = v = new_name("alu")
                # every operand is a typed numpy value (constants too), so numpy keeps the UOp's dtype
                emit(f"{v} = {self.render_alu(op, u.dtype, [r[s] for s in u.src])}")
            elif op is Ops.CAST:
                r[u] = v = new_name("cast")
                emit(f"{v} = lib.cast({r[u.src[0]]}, {self.np_dtype(u.dtype)})")
            elif op is Ops.BITCAST:
                r[u] = v = new_name("bc")
                emit(f"{v} = lib.bitcast({r[u.src[0]]}, {self.np_dtype(u.dtype)})")
            elif op in (Ops.SINK, Ops.NOOP):
                continue
            else:
                raise NotImplementedError(f"NpyRenderer: cannot render {op}")
        return "\n".join(lines) + "\n"
