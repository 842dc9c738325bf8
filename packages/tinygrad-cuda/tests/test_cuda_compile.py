"""NVRTC compiles what the CUDA renderer writes, for sm_80 and sm_90, with no GPU needed.

The corpus: Tensor programs covering every ALU op in every dtype, reductions, matmul, convolution, pooling,
casts between every pair of dtypes, bitcasts, random numbers and edge shapes (0-d, size 0, grids too large for
y/z). They are scheduled on the NULL device (which runs nothing) and each kernel AST is lowered with
CUDARenderer and compiled. Without NVRTC these skip, unless TINYGRAD_REQUIRE_NVRTC=1 (the nox session sets
it) turns the skip into a failure.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tinygrad import Tensor, dtypes
from tinygrad.codegen import get_program
from tinygrad.dtype import DType
from tinygrad.errors import CompileError
from tinygrad.uop.ops import UOp
from tinygrad_cuda.compiler import CUDACompiler, arch_number, find_nvrtc, load_nvrtc
from tinygrad_cuda.renderer import CUDARenderer

REQUIRE = os.environ.get("TINYGRAD_REQUIRE_NVRTC") == "1"
pytestmark = pytest.mark.skipif(
    find_nvrtc() is None and not REQUIRE, reason="NVRTC not found: pip install nvidia-cuda-nvrtc nvidia-cuda-runtime"
)

ARCHS = ("sm_80", "sm_90")
DEV = "NULL"
FLOATS = (dtypes.float32, dtypes.float16, dtypes.bfloat16, dtypes.float64, dtypes.fp8e4m3, dtypes.fp8e5m2)
INTS = (dtypes.int8, dtypes.uint8, dtypes.int16, dtypes.uint16, dtypes.int32, dtypes.uint32, dtypes.int64,
        dtypes.uint64)  # fmt: skip
ALL = (dtypes.bool, *INTS, *FLOATS)
_pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="nvrtc-test")


@functools.cache
def compiler(arch: str) -> CUDACompiler:
    return CUDACompiler(arch)


def empty(*shape: int, dtype: DType = dtypes.float32) -> Tensor:
    return Tensor.empty(*shape, dtype=dtype, device=DEV)


def kernel_asts(tensors: list[Tensor]) -> list[UOp]:
    items = tensors[0].schedule(*tensors[1:])
    return list(dict.fromkeys(si.ast for si in items if si.is_kernel))


def build(ops: dict[str, Callable[[], Tensor | list[Tensor]]]) -> list[Tensor]:
    """Each named op's tensors; ops the Tensor API does not offer yet are left out (printed), not failed."""
    out: list[Tensor] = []
    for name, fn in ops.items():
        try:
            got = fn()
        except (NotImplementedError, AttributeError) as e:
            print(f"skipped {name}: {type(e).__name__}: {e}")
            continue
        out.extend(got if isinstance(got, list) else [got])
    if not out:
        pytest.skip("none of these Tensor ops are available yet")
    return out


def compile_all(tensors: list[Tensor], archs: tuple[str, ...] = ARCHS) -> list[str]:
    """Render every kernel of these tensors with CUDARenderer and compile it for each arch; fail listing every
    failure. Returns the sources."""
    asts = kernel_asts(tensors)
    assert asts, "the programs scheduled no kernel"
    specs = [get_program(ast, CUDARenderer()) for ast in asts]
    for spec in specs:
        assert 'extern "C" __global__ void __launch_bounds__(' in spec.src, spec.src
    futures = [(spec, arch, _pool.submit(compiler(arch).compile, spec.src)) for spec in specs for arch in archs]
    failures = [f"{spec.name} ({arch}): {e}" for spec, arch, fut in futures if (e := fut.exception()) is not None]
    assert not failures, f"{len(failures)} of {len(futures)} compiles failed:\n" + "\n\n".join(failures)
    for _, _, fut in futures:
        assert fut.result()[:4] == b"\x7fELF", "a cubin is an ELF image"
    return [s.src for s in specs]


# ---- the corpus ----


def unary_float(dt: DType) -> dict[str, Callable[[], Tensor | list[Tensor]]]:
    x = empty(4, 8, dtype=dt)
    names = ("exp", "log", "exp2", "log2", "sin", "cos", "sqrt", "rsqrt", "reciprocal", "trunc", "floor", "ceil",
             "round", "relu", "sigmoid", "tanh", "abs", "neg", "sign", "erf", "gelu", "softplus", "square")  # fmt: skip
    ops: dict[str, Callable[[], Tensor | list[Tensor]]] = {n: getattr(x, n) for n in names}
    ops["isnan_isinf"] = lambda: [x.isnan(), x.isinf()]
    ops["chain"] = lambda: ((x.exp() + 1).log() * x.sin() - x.sqrt()).relu() / 3
    return ops


def binary_float(dt: DType) -> dict[str, Callable[[], Tensor | list[Tensor]]]:
    x, y = empty(4, 8, dtype=dt), empty(1, 8, dtype=dt)
    return {
        "arith": lambda: [x + y, x - y, x * y, x / y, -x + 2.5],
        "minmax": lambda: [x.maximum(y), x.minimum(y)],
        "pow": lambda: x**y,
        "compare": lambda: [x < y, x == y, x != y, x >= y],
        "where": lambda: (x < y).where(x, y),
        "edge_constants": lambda: [(x < 0).where(float("inf"), float("nan")), x * -0.0, x.maximum(float("-inf"))],
        "clamp": lambda: x.clamp(-1.0, 1.0),
    }


def reductions(dt: DType) -> dict[str, Callable[[], Tensor | list[Tensor]]]:
    x = empty(6, 10, dtype=dt)
    return {
        "sum": lambda: [x.sum(), x.sum(0), x.sum(1, keepdim=True)],
        "max": lambda: [x.max(), x.max(1), x.min(0)],
        "mean_var": lambda: [x.mean(1), x.var(0)],
        "softmax": lambda: [x.softmax(-1), x.log_softmax(0)],
        "argmax": lambda: x.argmax(1),
        "cumsum": lambda: x.cumsum(1),
    }


def linalg(dt: DType) -> dict[str, Callable[[], Tensor | list[Tensor]]]:
    return {
        "matmul": lambda: empty(16, 32, dtype=dt) @ empty(32, 8, dtype=dt),
        "batched": lambda: empty(2, 8, 16, dtype=dt) @ empty(2, 16, 4, dtype=dt),
        "vecmat": lambda: empty(32, dtype=dt) @ empty(32, 5, dtype=dt),
        "conv2d": lambda: empty(2, 3, 8, 8, dtype=dt).conv2d(empty(4, 3, 3, 3, dtype=dt), padding=1),
        "pool": lambda: [empty(1, 2, 8, 8, dtype=dt).max_pool2d(2), empty(1, 2, 8, 8, dtype=dt).avg_pool2d(2)],  # type: ignore[list-item]
    }


def int_ops(dt: DType) -> dict[str, Callable[[], Tensor | list[Tensor]]]:
    x, y = empty(4, 8, dtype=dt), empty(4, 8, dtype=dt)
    ops: dict[str, Callable[[], Tensor | list[Tensor]]] = {
        "arith": lambda: [x + y, x - y, x * y, x + 3],
        "divmod": lambda: [x // y, x % y, x // 3, x % 5],  # divisors that may be 0 or -1 at run time
        "bits": lambda: [x & y, x | y, x ^ y, x << 1, x >> 1],
        "compare": lambda: [x < y, x == y, x.maximum(y), x.minimum(y)],
        "reduce": lambda: [x.sum(), x.max(1), x.min(0)],
        "to_float": lambda: (x.float() * 0.5).exp(),
    }
    if not dtypes.is_unsigned(dt):
        ops["neg_abs"] = lambda: [-x, x.abs()]
    return ops


def bool_ops() -> dict[str, Callable[[], Tensor | list[Tensor]]]:
    x, y = empty(4, 8, dtype=dtypes.bool), empty(4, 8, dtype=dtypes.bool)
    f = empty(4, 8)
    return {
        "logic": lambda: [x & y, x | y, x ^ y, x.logical_not(), x == y],
        "where": lambda: x.where(f, 0.0),
        "any_all_sum": lambda: [x.any(), x.all(1), x.sum()],
    }


def specials() -> dict[str, Callable[[], Tensor | list[Tensor]]]:
    return {
        "zero_d": lambda: [empty(dtype=dtypes.float32) * 2 + 1, empty(dtype=dtypes.int32) + 1],
        # size 0: no kernel for an empty output; a reduce over an empty axis is a loop of no iterations
        "size_zero": lambda: [empty(0, 4) + 1, empty(0, 4).sum(1), empty(0, 4).sum(0), empty(3, 0).max(1)],
        "arange": lambda: [Tensor.arange(37, device=DEV), Tensor.arange(5, 50, 3, device=DEV).float() * 2],
        "rand": lambda: [Tensor.rand(33, device=DEV), Tensor.randn(4, 5, device=DEV)],
        "movement": lambda: [empty(4, 6).permute(1, 0) + 1, empty(4, 6).flip(0) * 2, empty(4, 6).pad(((1, 2), (0, 3))) + 1,
                             empty(4, 6)[1:3, ::2] + 1, empty(3, 4).cat(empty(2, 4)) * 3],  # fmt: skip
        "gather": lambda: empty(5, 6).gather(1, empty(5, 3, dtype=dtypes.int32)),
        "four_dims": lambda: empty(2, 3, 4, 5).permute(3, 1, 0, 2) + 1,  # more output dims than the grid has
        "tall_grid": lambda: empty(2, 70000).permute(1, 0) * 2,  # a dimension over the 65535 limit of y/z
        "int64_extremes": lambda: [empty(4, dtype=dtypes.int64).maximum(-(2**63)), empty(4, dtype=dtypes.uint64) + (2**64 - 1)],
    }  # fmt: skip


CASES: dict[str, Callable[[], dict[str, Callable[[], Tensor | list[Tensor]]]]] = {}
for _dt in FLOATS:
    CASES[f"unary-{_dt.name}"] = functools.partial(unary_float, _dt)
    CASES[f"binary-{_dt.name}"] = functools.partial(binary_float, _dt)
    CASES[f"reduce-{_dt.name}"] = functools.partial(reductions, _dt)
for _dt in (dtypes.float32, dtypes.float16, dtypes.bfloat16):
    CASES[f"linalg-{_dt.name}"] = functools.partial(linalg, _dt)
for _dt in INTS:
    CASES[f"int-{_dt.name}"] = functools.partial(int_ops, _dt)
CASES["bool"] = bool_ops
CASES["specials"] = specials


@pytest.mark.parametrize("case", list(CASES))
def test_corpus_compiles(case: str) -> None:
    compile_all(build(CASES[case]()))


@pytest.mark.parametrize("src", ALL, ids=lambda d: d.name)
def test_casts_between_every_dtype(src: DType) -> None:
    x = empty(3, 5, dtype=src)
    srcs = compile_all([x.cast(dst) for dst in ALL if dst != src])
    # every source has an fp8 target: those casts go through the helpers with torch's overflow rules
    assert any("tg_to_fp8" in s for s in srcs)


@pytest.mark.parametrize(
    "pair",
    [
        (dtypes.float32, dtypes.int32),
        (dtypes.uint32, dtypes.float32),
        (dtypes.float16, dtypes.int16),
        (dtypes.bfloat16, dtypes.uint16),
        (dtypes.float64, dtypes.int64),
        (dtypes.uint8, dtypes.int8),
    ],
    ids=lambda p: f"{p[0].name}-{p[1].name}",
)
def test_bitcasts(pair: tuple[DType, DType]) -> None:
    src, dst = pair
    try:
        t = empty(7, dtype=src).bitcast(dst)
    except NotImplementedError as e:
        pytest.skip(f"Tensor.bitcast not available yet: {e}")
    srcs = compile_all([t + 1])
    assert any("tg_bitcast<" in s for s in srcs)


# ---- the compiler itself ----


def test_compile_error_carries_log_and_numbered_source() -> None:
    src = 'extern "C" __global__ void broken(float* out) {\n  out[0] = undefined_name;\n}\n'
    with pytest.raises(CompileError) as e:
        compiler("sm_90").compile(src)
    msg = str(e.value)
    assert "undefined_name" in msg and "sm_90" in msg and "NVRTC" in msg
    assert "   2 |   out[0] = undefined_name;" in msg


def test_missing_headers_say_how_to_get_them(monkeypatch: pytest.MonkeyPatch) -> None:
    comp = CUDACompiler("sm_90")
    monkeypatch.setattr(comp, "include_dirs", [])
    with pytest.raises(CompileError, match="nvidia-cuda-runtime"):
        comp.compile('#include <cuda_fp16.h>\nextern "C" __global__ void k(half* a) { a[0] = a[1]; }\n')


def test_float_kernels_need_no_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    comp = CUDACompiler("sm_90")
    monkeypatch.setattr(comp, "include_dirs", [])
    (src,) = compile_all([empty(4, 4).exp() + 1], ("sm_90",))
    assert "#include" not in src
    assert comp.compile(src)[:4] == b"\x7fELF"


def test_ptx_output_for_a_virtual_architecture() -> None:
    comp = CUDACompiler("sm_90", ptx=True)
    assert comp.arch == "compute_90" and comp.ptx
    ptx = comp.compile('extern "C" __global__ void k(float* a) { a[threadIdx.x] = 1.0f; }')
    assert ptx.endswith(b"\0"), "the driver reads PTX as a C string"
    text = ptx.rstrip(b"\0").decode()
    assert ".target sm_90" in text and ".entry k(" in text
    assert comp.cachekey != compiler("sm_90").cachekey


def test_newer_gpu_than_nvrtc_gets_ptx_for_the_newest_known_arch() -> None:
    newest = load_nvrtc().archs[-1]
    comp = CUDACompiler("sm_999")
    assert comp.ptx and comp.arch == f"compute_{newest}"


def test_arch_names() -> None:
    assert arch_number("sm_90") == 90 and arch_number("sm_90a") == 90 and arch_number("compute_80") == 80
    with pytest.raises(CompileError, match="bad architecture"):
        arch_number("hopper")


def test_no_fma_contraction() -> None:
    # a*b+c must round twice (like numpy and the CPU backend): PTX would show fma.rn.f32 if contracted
    comp = CUDACompiler("sm_90", ptx=True)
    ptx = comp.compile('extern "C" __global__ void k(float* a) { a[0] = a[1] * a[2] + a[3]; }').decode()
    assert "fma" not in ptx and "mul.rn.f32" in ptx and "add.rn.f32" in ptx


def test_cachekey_names_version_arch_flags_and_headers() -> None:
    comp = compiler("sm_90")
    nv = load_nvrtc()
    assert comp.cachekey is not None
    assert f"nvrtc {nv.version[0]}.{nv.version[1]}" in comp.cachekey and nv.path in comp.cachekey
    assert "--gpu-architecture=sm_90" in comp.cachekey and "--fmad=false" in comp.cachekey
    assert "cubin" in comp.cachekey and all(d in comp.cachekey for d in comp.include_dirs)
    assert compiler("sm_80").cachekey != comp.cachekey


def test_disk_cache_hit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CACHEDIR", str(tmp_path))
    comp = CUDACompiler("sm_80")
    calls: list[str] = []
    real = comp.compile

    def counting(src: str) -> bytes:
        calls.append(src)
        return real(src)

    monkeypatch.setattr(comp, "compile", counting)
    src = 'extern "C" __global__ void k(int* a) { a[0] = 7; }'
    assert comp.compile_cached(src) == comp.compile_cached(src) and len(calls) == 1
    assert any(p.is_file() for p in tmp_path.rglob("*"))
