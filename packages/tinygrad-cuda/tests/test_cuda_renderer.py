"""CUDARenderer output, checked as text: grid mapping, launch bounds, types, constants. Needs neither NVRTC nor
a GPU (test_cuda_compile.py compiles what it writes)."""

from __future__ import annotations

import re

import pytest

from tinygrad import Tensor, dtypes
from tinygrad.codegen import ProgramSpec, get_program
from tinygrad.dtype import DType
from tinygrad.uop.ops import Ops, UOp
from tinygrad_cuda.renderer import CUDARenderer

DEV = "NULL"


def programs(*tensors: Tensor) -> list[ProgramSpec]:
    items = tensors[0].schedule(*tensors[1:])
    return [get_program(si.ast, CUDARenderer()) for si in items if si.is_kernel]


def program(t: Tensor) -> ProgramSpec:
    (p,) = programs(t)
    return p


def empty(*shape: int, dtype: DType = dtypes.float32) -> Tensor:
    return Tensor.empty(*shape, dtype=dtype, device=DEV)


def test_capabilities() -> None:
    r = CUDARenderer()
    assert r.device == "CUDA" and r.has_global_ids and r.has_local and r.has_shared
    assert r.global_max == (2**31 - 1, 65535, 65535) and r.local_max == 256 and r.threads == 1
    assert r.supported_dtypes is not None and set(dtypes.all) <= r.supported_dtypes


def test_grid_maps_to_block_and_thread_ids() -> None:
    p = program(empty(8, 512) * 2)
    assert p.local_size is not None and p.local_size[0] > 1
    assert "blockIdx.x" in p.src and "threadIdx.x" in p.src and "blockIdx.y" in p.src
    assert "threadIdx.y" not in p.src and "blockIdx.z" not in p.src
    # launch bounds: the block the kernel is launched with
    assert f"__launch_bounds__({p.local_size[0] * p.local_size[1]})" in p.src
    assert len(p.global_size) == 2


def test_kernel_signature() -> None:
    p = program(empty(4, 4) + empty(4, 4))
    head = p.src[p.src.index('extern "C"') :].splitlines()[0]
    assert re.fullmatch(
        r'extern "C" __global__ void __launch_bounds__\(\d+\) \w+\(float\* __restrict__ data0, '
        r"const float\* __restrict__ data1, const float\* __restrict__ data2\) \{",
        head,
    ), head


def test_more_dims_than_the_grid_flatten_into_x() -> None:
    p = program(empty(2, 3, 4, 5).permute(3, 1, 0, 2) + 1)
    assert len(p.global_size) == 1 and "blockIdx.y" not in p.src and "blockIdx.z" not in p.src


def test_dimension_over_the_y_limit_flattens() -> None:
    # output (70000, 2): x is the inner axis of 2, y would need 70000 blocks
    p = program(empty(2, 70000).permute(1, 0) * 2)
    assert len(p.global_size) == 1 and p.global_size[0] * (p.local_size or (1,))[0] == 140000


def test_grid_fits_the_limits() -> None:
    r = CUDARenderer()
    for t in (empty(300, 70, 9) + 1, empty(1 << 20) * 3, empty(5, 7).sum(0)):
        p = program(t)
        assert p.local_size is not None and 1 <= p.local_size[0] <= r.local_max
        assert all(g <= m for g, m in zip(p.global_size, r.global_max)) and len(p.global_size) <= 3


def test_no_loop_kernel_launches_one_thread() -> None:
    p = program(empty(5).sum())
    assert "__launch_bounds__(1)" in p.src and p.global_size == (1,) and p.local_size == (1,)


@pytest.mark.parametrize(
    "dt, header, name",
    [
        (dtypes.float16, "cuda_fp16.h", "half"),
        (dtypes.bfloat16, "cuda_bf16.h", "__nv_bfloat16"),
        (dtypes.fp8e4m3, "cuda_fp8.h", "__nv_fp8_e4m3"),
        (dtypes.fp8e5m2, "cuda_fp8.h", "__nv_fp8_e5m2"),
    ],
)
def test_headers_only_for_the_types_used(dt: DType, header: str, name: str) -> None:
    p = program(empty(4, dtype=dt) * 2)
    assert f"#include <{header}>" in p.src and f"{name}* __restrict__ data0" in p.src
    assert "#include" not in program(empty(4) * 2).src


def test_fp8_computes_in_float_with_torchs_overflow_rules() -> None:
    src = program((empty(8, dtype=dtypes.fp8e4m3) + empty(8, dtype=dtypes.fp8e4m3)).cast(dtypes.fp8e5m2)).src
    assert "tg_to_fp8e4m3(" in src and "tg_to_fp8e5m2(" in src
    # torch: float8_e4m3fn saturates to 448 (inf too), float8_e5m2 overflows to inf
    assert "__nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3)" in src
    assert "__nv_cvt_float_to_fp8(x, __NV_NOSAT, __NV_E5M2)" in src
    # the types' own constructors saturate e5m2 too: no C-style cast into an fp8 type may appear
    assert "(__nv_fp8_e4m3)(" not in src and "(__nv_fp8_e5m2)(" not in src
    assert "((float)(val0))" in src


def test_half_arithmetic_stays_half_math_goes_through_float() -> None:
    src = program(empty(8, dtype=dtypes.float16) * empty(8, dtype=dtypes.float16)).src
    assert re.search(r"const half alu\d+ = \(val\d+\*val\d+\);", src), src
    r = CUDARenderer()
    assert r.float_fn("sqrt", dtypes.float16, "x") == "((half)(sqrtf(((float)(x)))))"
    assert r.float_fn("exp2", dtypes.fp8e5m2, "x") == "tg_to_fp8e5m2(exp2f(((float)(x))))"
    assert r.float_fn("log2", dtypes.float64, "x") == "log2(x)" and r.float_fn("sin", dtypes.float32, "x") == "sinf(x)"


def test_small_float_to_small_float_casts_through_float() -> None:
    src = program(empty(8, dtype=dtypes.float16).cast(dtypes.bfloat16)).src
    assert "((__nv_bfloat16)(((float)(val0))))" in src


def test_byte_ints_to_half_go_through_float() -> None:
    # cuda_fp16.h has no char constructor: (half)(signed char) would be ambiguous
    src = program(empty(8, dtype=dtypes.int8).cast(dtypes.float16)).src
    assert "((half)((float)(val0)))" in src


@pytest.mark.parametrize("value, spelled", [(float("inf"), "__int_as_float(0x7f800000)"),
                                            (float("-inf"), "(-__int_as_float(0x7f800000))"),
                                            (float("nan"), "__int_as_float(0x7fc00000)")])  # fmt: skip
def test_special_float_constants(value: float, spelled: str) -> None:
    src = program((empty(4) < 0).where(value, empty(4))).src
    assert spelled in src and "__builtin_" not in src


def test_int_division_guards_zero_and_minus_one() -> None:
    src = program(empty(4, dtype=dtypes.int32) // empty(4, dtype=dtypes.int32)).src
    assert "==0?0:" in src and "==-1?" in src


def test_bitcast_helper() -> None:
    r = CUDARenderer()
    assert r.render_bitcast("x", dtypes.float32, dtypes.uint32) == "tg_bitcast<float>((unsigned int)(x))"
    g = UOp(Ops.DEFINE_GLOBAL, dtypes.uint32.ptr(), (), 0)
    assert "tg_bitcast" in r.preamble([g, UOp(Ops.BITCAST, dtypes.float32, (UOp.const(dtypes.uint32, 1),))])
    assert "tg_bitcast" not in r.preamble([g])


@pytest.mark.parametrize("name, spelled", [("gidx0", "blockIdx.x"), ("gidx2", "blockIdx.z"), ("lidx1", "threadIdx.y")])
def test_render_special(name: str, spelled: str) -> None:
    u = UOp(Ops.SPECIAL, dtypes.index, (UOp.const(dtypes.index, 4),), name)
    assert CUDARenderer().render_special(u) == spelled


@pytest.mark.parametrize("name", ["gidx3", "core0", "lidx"])
def test_render_special_rejects_unknown_indices(name: str) -> None:
    u = UOp(Ops.SPECIAL, dtypes.index, (UOp.const(dtypes.index, 4),), name)
    with pytest.raises((NotImplementedError, ValueError)):
        CUDARenderer().render_special(u)
