"""The C-family renderer base shared by C, CUDA, HIP and Metal dialects.

A dialect overrides class-level data (type names, prefixes, math function spellings) and a few small methods;
the walk over the linear UOps is shared.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from tinygrad.dtype import DType, PtrDType, dtypes
from tinygrad.errors import DTypeError
from tinygrad.renderer import Renderer
from tinygrad.uop.ops import GroupOp, Ops, UOp


class CStyleRenderer(Renderer):
    kernel_prefix: str = ""
    buffer_prefix: str = ""
    arg_int_prefix: str = "const int"
    # the C spelling of each dtype
    type_map: dict[DType, str] = {
        dtypes.bool: "_Bool", dtypes.int8: "signed char", dtypes.uint8: "unsigned char", dtypes.int16: "short",
        dtypes.uint16: "unsigned short", dtypes.int32: "int", dtypes.uint32: "unsigned int",
        dtypes.int64: "long long", dtypes.uint64: "unsigned long long", dtypes.float16: "_Float16",
        dtypes.float32: "float", dtypes.float64: "double", dtypes.void: "void",
    }  # fmt: skip
    infinity: str = "__builtin_inff()"
    nan: str = '__builtin_nanf("")'
    # math functions by float dtype; dtypes missing here compute in float32 and cast back
    math_suffix: dict[DType, str] = {dtypes.float32: "f", dtypes.float64: ""}
    uses_restrict: bool = True
    # CPU-style kernels take thread indices (SPECIAL) as trailing int parameters instead of reading hardware ids
    special_as_param: bool = False

    # ---- dtype and constant spelling ----

    def render_dtype(self, dt: DType) -> str:
        if isinstance(dt, PtrDType):
            return self.render_dtype(dt.base) + "*"
        if dt.scalar not in self.type_map:
            raise DTypeError(f"{type(self).__name__} cannot render dtype {dt}")
        return self.type_map[dt.scalar]

    def render_const(self, x: object, dt: DType) -> str:
        s = self._render_const(x, dt)
        # "a - -1" must not become "a--1"
        return f"({s})" if s.startswith("-") else s

    def _render_const(self, x: object, dt: DType) -> str:
        if dtypes.is_float(dt):
            assert isinstance(x, (int, float))
            x = float(x)
            if math.isnan(x):
                s = self.nan
            elif math.isinf(x):
                s = ("-" if x < 0 else "") + self.infinity
            else:
                s = x.hex() + ("f" if dt != dtypes.float64 else "")
            return s if dt in (dtypes.float32, dtypes.float64) else f"(({self.render_dtype(dt)}){s})"
        if dt == dtypes.bool:
            return "1" if x else "0"
        assert isinstance(x, int)
        if dt == dtypes.uint64:
            return f"{x}ull"
        if dt == dtypes.int64:
            # the most negative int64 has no literal spelling
            return f"({x + 1}ll-1)" if x == -(2**63) else f"{x}ll"
        if dt == dtypes.uint32:
            return f"{x}u"
        if dt == dtypes.int32 and x == -(2**31):
            return "(-2147483647-1)"
        return str(x) if dt == dtypes.int32 else f"(({self.render_dtype(dt)}){x})"

    # ---- math ----

    def float_fn(self, name: str, dt: DType, *args: str) -> str:
        """A libm call in the arg's precision; types without their own functions go through float."""
        if dt in self.math_suffix:
            return f"{name}{self.math_suffix[dt]}({', '.join(args)})"
        inner = ", ".join(f"(float)({a})" for a in args)
        return f"(({self.render_dtype(dt)}){name}f({inner}))"

    def render_alu(self, op: Ops, dt: DType, srcs: list[str], src_dtypes: list[DType], divisor_const: bool) -> str:
        a = srcs[0]
        sdt = src_dtypes[0]
        if op is Ops.EXP2:
            return self.float_fn("exp2", dt, a)
        if op is Ops.LOG2:
            return self.float_fn("log2", dt, a)
        if op is Ops.SIN:
            return self.float_fn("sin", dt, a)
        if op is Ops.SQRT:
            return self.float_fn("sqrt", dt, a)
        if op is Ops.TRUNC:
            return self.float_fn("trunc", dt, a)
        if op is Ops.POW:
            return self.float_fn("pow", dt, a, srcs[1])
        if op is Ops.RECIP:
            return f"(({self.render_dtype(dt)})1/{a})"
        if op is Ops.NEG:
            return f"(!{a})" if dt == dtypes.bool else f"(-{a})"
        b = srcs[1] if len(srcs) > 1 else ""
        if op in (Ops.IDIV, Ops.MOD) and not divisor_const:
            # integer division by zero traps in C; define it as 0 (numpy's answer) instead
            sym = "/" if op is Ops.IDIV else "%"
            return f"(({b})==0?0:(({b})==-1?({'-' + a if op is Ops.IDIV else '0'}):({a}{sym}{b})))"
        if op is Ops.MAX:
            if dtypes.is_float(sdt):
                return f"((({a})!=({a})||({a})>({b}))?({a}):({b}))"  # propagates NaN like torch.maximum
            return f"((({a})>({b}))?({a}):({b}))"
        if op is Ops.WHERE:
            return f"({a}?{b}:{srcs[2]})"
        if op is Ops.MULACC:
            return f"(({a}*{b})+{srcs[2]})"
        syms = {
            Ops.ADD: "+", Ops.SUB: "-", Ops.MUL: "*", Ops.FDIV: "/", Ops.IDIV: "/", Ops.MOD: "%", Ops.CMPLT: "<",
            Ops.CMPNE: "!=", Ops.CMPEQ: "==", Ops.AND: "&", Ops.OR: "|", Ops.XOR: "^", Ops.SHL: "<<", Ops.SHR: ">>",
        }  # fmt: skip
        if op in syms:
            if dt == dtypes.bool and op in (Ops.ADD, Ops.MUL):
                return f"({a}{'|' if op is Ops.ADD else '&'}{b})"
            return f"({a}{syms[op]}{b})"
        raise NotImplementedError(f"{type(self).__name__} has no rendering for {op}")

    def render_cast(self, x: str, dt: DType, from_dt: DType) -> str:
        return f"(({self.render_dtype(dt)})({x}))"

    def render_bitcast(self, x: str, dt: DType, from_dt: DType) -> str:
        t, f = self.render_dtype(dt), self.render_dtype(from_dt)
        return f"({{ {f} _f = {x}; {t} _t; __builtin_memcpy(&_t, &_f, sizeof(_t)); _t; }})"

    def render_special(self, u: UOp) -> str:
        raise NotImplementedError(f"{type(self).__name__} does not support a thread grid")

    # ---- kernel assembly ----

    def render_kernel(self, name: str, body: list[str], bufs: list[tuple[str, DType, bool]],
                      specials: list[str] | None = None) -> str:  # fmt: skip
        params = []
        for bname, dt, written in bufs:
            const = "" if written else "const "
            restrict = " restrict" if self.uses_restrict else ""
            params.append(f"{self.buffer_prefix}{const}{self.render_dtype(dt)}{restrict} {bname}")
        params += [f"const int {s}" for s in specials or []]
        return f"{self.kernel_prefix}void {name}({', '.join(params)}) {{\n" + "\n".join(body) + "\n}\n"

    def preamble(self, uops: list[UOp]) -> str:
        return ""

    def render(self, name: str, uops: list[UOp]) -> str:
        r: dict[UOp, str] = {}
        lines: list[str] = []
        depth = 1
        counters: dict[str, int] = {}
        written = {u.src[0].src[0] for u in uops if u.op is Ops.STORE}
        bufs: list[tuple[str, DType, bool]] = []
        specials: list[str] = []

        def new_name(prefix: str) -> str:
            counters[prefix] = counters.get(prefix, -1) + 1
            return f"{prefix}{counters[prefix]}"

        def emit(line: str) -> None:
            lines.append("  " * depth + line)

        for u in uops:
            op = u.op
            if op is Ops.DEFINE_GLOBAL:
                r[u] = f"data{u.arg}"
                bufs.append((r[u], u.dtype, u in written))
            elif op is Ops.CONST:
                r[u] = self.render_const(u.arg, u.dtype)
            elif op is Ops.SPECIAL:
                r[u] = u.arg
                if self.special_as_param:
                    specials.append(u.arg)
                else:
                    emit(f"const long long {u.arg} = {self.render_special(u)};")
            elif op is Ops.RANGE:
                r[u] = v = new_name("ridx")
                emit(f"for (long long {v} = 0; {v} < {r[u.src[0]]}; {v}++) {{")
                depth += 1
            elif op is Ops.END:
                depth -= 1
                emit("}")
            elif op is Ops.DEFINE_ACC:
                r[u] = v = new_name("acc")
                emit(f"{self.render_dtype(u.dtype)} {v} = {r[u.src[0]]};")
            elif op is Ops.ACC_STORE:
                emit(f"{r[u.src[0]]} = {r[u.src[1]]};")
            elif op is Ops.INDEX:
                r[u] = f"({r[u.src[0]]}+{r[u.src[1]]})"
            elif op is Ops.LOAD:
                idx = u.src[0]
                v = new_name("val")
                if len(idx.src) > 2:
                    gate = r[idx.src[2]]
                    emit(f"{self.render_dtype(u.dtype)} {v} = ({gate}) ? *{r[idx]} : {self.render_const(0, u.dtype)};")
                else:
                    emit(f"{self.render_dtype(u.dtype)} {v} = *{r[idx]};")
                r[u] = v
            elif op is Ops.STORE:
                emit(f"*{r[u.src[0]]} = {r[u.src[1]]};")
            elif op in GroupOp.ALU:
                divisor_const = len(u.src) > 1 and u.src[1].op is Ops.CONST and u.src[1].arg not in (0, -1)
                expr = self.render_alu(op, u.dtype, [r[s] for s in u.src], [s.dtype for s in u.src], divisor_const)
                r[u] = v = new_name("alu")
                emit(f"const {self.render_dtype(u.dtype)} {v} = {expr};")
            elif op is Ops.CAST:
                r[u] = v = new_name("cast")
                cast = self.render_cast(r[u.src[0]], u.dtype, u.src[0].dtype)
                emit(f"const {self.render_dtype(u.dtype)} {v} = {cast};")
            elif op is Ops.BITCAST:
                r[u] = v = new_name("bc")
                expr = self.render_bitcast(r[u.src[0]], u.dtype, u.src[0].dtype)
                emit(f"const {self.render_dtype(u.dtype)} {v} = {expr};")
            else:
                raise NotImplementedError(f"{type(self).__name__}: cannot render {op}")
        return self.preamble(uops) + self.render_kernel(name, lines, bufs, specials)


RenderFn = Callable[..., str]
