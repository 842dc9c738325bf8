"""The CUDA C++ dialect, as NVRTC compiles it: one `extern "C" __global__` function per kernel.

Output loops arrive as a grid (core's `to_grid`): SPECIAL `gidx{d}` is the block index and `lidx{d}` the thread
index on dimension d (0 = x, 1 = y, 2 = z). half and bfloat16 use the CUDA headers' types and operators; fp8
types have conversions but no arithmetic there, so fp8 values compute in float and round once per op.
"""

from __future__ import annotations

from tinygrad.dtype import DType, PtrDType, dtypes
from tinygrad.helpers import prod
from tinygrad.renderer.cstyle import CStyleRenderer
from tinygrad.uop.ops import Ops, UOp

FP8 = (dtypes.fp8e4m3, dtypes.fp8e5m2)
# 16-bit floats and fp8: converted to float before anything but a same-type copy
SMALL_FLOATS = (dtypes.float16, dtypes.bfloat16, *FP8)

# conversions into fp8 with torch's overflow rules: e4m3 (no inf) saturates to +-448, inf included; e5m2 overflows
# to +-inf. The types' constructors saturate both, so e5m2 needs its own; NaN stays NaN in both.
_FP8_HELPERS = """\
__device__ __forceinline__ __nv_fp8_e4m3 tg_to_fp8e4m3(float x) {
  __nv_fp8_e4m3 r; r.__x = __nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3); return r;
}
__device__ __forceinline__ __nv_fp8_e4m3 tg_to_fp8e4m3(double x) {
  __nv_fp8_e4m3 r; r.__x = __nv_cvt_double_to_fp8(x, __NV_SATFINITE, __NV_E4M3); return r;
}
__device__ __forceinline__ __nv_fp8_e5m2 tg_to_fp8e5m2(float x) {
  __nv_fp8_e5m2 r; r.__x = __nv_cvt_float_to_fp8(x, __NV_NOSAT, __NV_E5M2); return r;
}
__device__ __forceinline__ __nv_fp8_e5m2 tg_to_fp8e5m2(double x) {
  __nv_fp8_e5m2 r; r.__x = __nv_cvt_double_to_fp8(x, __NV_NOSAT, __NV_E5M2); return r;
}
"""

# a bit-for-bit reinterpretation; memcpy of a register-sized value compiles to a plain move
_BITCAST_HELPER = """\
template <class T, class F> __device__ __forceinline__ T tg_bitcast(F f) {
  static_assert(sizeof(T) == sizeof(F), "bitcast between types of different sizes");
  T t; memcpy(&t, &f, sizeof(T)); return t;
}
"""


def kernel_dtypes(uops: list[UOp]) -> set[DType]:
    """Every scalar dtype a kernel touches: values, pointers' elements and constants."""
    out: set[DType] = set()
    for u in uops:
        for d in (u.dtype, *(s.dtype for s in u.src)):
            out.add((d.base if isinstance(d, PtrDType) else d).scalar)
    return out


def launch_threads(uops: list[UOp]) -> int:
    """Threads per block of the launch this kernel was rendered for: the product of its lidx sizes."""
    return prod(u.src[0].arg for u in uops if u.op is Ops.SPECIAL and u.arg.startswith("lidx"))


class CUDARenderer(CStyleRenderer):
    device = "CUDA"
    has_global_ids = True
    has_local = True
    has_shared = True
    # gridDim limits: x up to 2**31-1 blocks, y and z up to 65535
    global_max = (2**31 - 1, 65535, 65535)
    # 256 threads a block: a multiple of the 32-thread warp that leaves room for several blocks per SM
    local_max = 256
    kernel_prefix = 'extern "C" __global__ '
    type_map = {
        dtypes.bool: "bool", dtypes.int8: "signed char", dtypes.uint8: "unsigned char", dtypes.int16: "short",
        dtypes.uint16: "unsigned short", dtypes.int32: "int", dtypes.uint32: "unsigned int",
        dtypes.int64: "long long", dtypes.uint64: "unsigned long long", dtypes.float16: "half",
        dtypes.bfloat16: "__nv_bfloat16", dtypes.fp8e4m3: "__nv_fp8_e4m3", dtypes.fp8e5m2: "__nv_fp8_e5m2",
        dtypes.float32: "float", dtypes.float64: "double", dtypes.void: "void",
    }  # fmt: skip
    # NVRTC has no <math.h> and no __builtin_inff: spell the IEEE bit patterns
    infinity = "__int_as_float(0x7f800000)"
    nan = "__int_as_float(0x7fc00000)"
    # fp8 goes through core's emulation (bits in memory, float32 math), which matches torch's saturating casts
    # exactly; CUDA's own fp8 conversions differ on overflow
    supported_dtypes = frozenset(dt for dt in type_map if dt not in (dtypes.void, *FP8))

    def __init__(self, arch: str | None = None) -> None:
        # the GPU architecture the kernels are for (e.g. "sm_90"); informational, the compiler picks the target
        self.arch = arch

    # ---- dtypes ----

    def _from_float(self, expr: str, dt: DType) -> str:
        """Convert a float (or double) expression to dt (fp8 through the helpers, with torch's overflow rules)."""
        if dt in FP8:
            return f"tg_to_{dt.name.replace('float8_', 'fp8')}({expr})"
        return f"(({self.render_dtype(dt)})({expr}))"

    def _render_const(self, x: object, dt: DType) -> str:
        if dt in FP8:
            return self._from_float(super()._render_const(x, dtypes.float32), dt)
        return super()._render_const(x, dt)

    def render_cast(self, x: str, dt: DType, from_dt: DType) -> str:
        if from_dt in SMALL_FLOATS:
            # every half, bfloat16 and fp8 value is exact in float; half<->bfloat16 has no direct conversion
            as_float = f"((float)({x}))"
            return as_float if dt == dtypes.float32 else self.render_cast(as_float, dt, dtypes.float32)
        if dt in FP8:
            if from_dt == dtypes.float64:
                return self._from_float(x, dt)
            # ints round to float first; any int that float cannot hold exactly is far outside fp8's range
            return self._from_float(x if from_dt == dtypes.float32 else f"((float)({x}))", dt)
        if dt in (dtypes.float16, dtypes.bfloat16) and (from_dt == dtypes.bool or from_dt.itemsize == 1):
            # the header types have no bool/char constructors; these values are exact in float
            return f"(({self.render_dtype(dt)})((float)({x})))"
        return f"(({self.render_dtype(dt)})({x}))"

    def render_bitcast(self, x: str, dt: DType, from_dt: DType) -> str:
        return f"tg_bitcast<{self.render_dtype(dt)}>(({self.render_dtype(from_dt)})({x}))"

    # ---- math ----

    def float_fn(self, name: str, dt: DType, *args: str) -> str:
        if dt in self.math_suffix:
            return f"{name}{self.math_suffix[dt]}({', '.join(args)})"
        inner = ", ".join(f"((float)({a}))" for a in args)
        return self._from_float(f"{name}f({inner})", dt)

    def render_alu(self, op: Ops, dt: DType, srcs: list[str], src_dtypes: list[DType], divisor_const: bool) -> str:
        if dt in FP8 or any(d in FP8 for d in src_dtypes):
            # fp8 has no operators: compute in float, round the result once (comparisons need no rounding)
            fsrcs = [f"((float)({s}))" if d in FP8 else s for s, d in zip(srcs, src_dtypes)]
            fdts = [dtypes.float32 if d in FP8 else d for d in src_dtypes]
            expr = super().render_alu(op, dtypes.float32 if dt in FP8 else dt, fsrcs, fdts, divisor_const)
            return self._from_float(expr, dt) if dt in FP8 else expr
        return super().render_alu(op, dt, srcs, src_dtypes, divisor_const)

    # ---- grid ----

    def render_special(self, u: UOp) -> str:
        kind, dim = u.arg[:4], u.arg[4:]
        if kind not in ("gidx", "lidx") or dim not in ("0", "1", "2"):
            raise NotImplementedError(f"CUDARenderer: unknown thread index {u.arg!r} (expected gidx0-2 or lidx0-2)")
        return f"{'blockIdx' if kind == 'gidx' else 'threadIdx'}.{'xyz'[int(dim)]}"

    # ---- kernel assembly ----

    def render_kernel(self, name: str, body: list[str], bufs: list[tuple[str, DType, bool]],
                      specials: list[str] | None = None) -> str:  # fmt: skip
        params = [f"{'' if written else 'const '}{self.render_dtype(dt)} __restrict__ {bname}"
                  for bname, dt, written in bufs]  # fmt: skip
        params += [f"const int {s}" for s in specials or []]
        return f"{self.kernel_prefix}void {name}({', '.join(params)}) {{\n" + "\n".join(body) + "\n}\n"

    def preamble(self, uops: list[UOp]) -> str:
        used = kernel_dtypes(uops)
        lines = []
        # the headers are only needed (and only looked for) when a kernel uses their types
        if dtypes.float16 in used:
            lines.append("#include <cuda_fp16.h>")
        if dtypes.bfloat16 in used:
            lines.append("#include <cuda_bf16.h>")
        if used & set(FP8):
            lines.append("#include <cuda_fp8.h>")
            lines.append(_FP8_HELPERS)
        if any(u.op is Ops.BITCAST for u in uops):
            lines.append(_BITCAST_HELPER)
        return "\n".join(lines) + ("\n" if lines else "")

    def render(self, name: str, uops: list[UOp]) -> str:
        src = super().render(name, uops)
        # tell the compiler the block size, so it may use more registers per thread; render_kernel cannot know it
        head = f"{self.kernel_prefix}void {name}("
        bounded = f"{self.kernel_prefix}void __launch_bounds__({launch_threads(uops)}) {name}("
        return src.replace(head, bounded, 1)
