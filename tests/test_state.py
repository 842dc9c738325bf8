"""Model state: state dicts, safetensors (against the `safetensors` package), PyTorch checkpoints (against
torch.save), tar archives and GGUF (against a numpy dequantizer written here, and the `gguf` package when
installed), plus every malformed-input case raising a typed error that names the file and the entry."""

from __future__ import annotations

import gzip
import io
import json
import os
import pathlib
import pickle
import struct
import tarfile
import zipfile
from collections import OrderedDict, namedtuple
from typing import Any

import numpy as np
import pytest
import torch

from tinygrad import Device, Tensor, dtypes
from tinygrad.device import is_dtype_supported
from tinygrad.errors import DeviceError, TinygradError
from tinygrad.nn.state import (
    StateDictError,
    StateError,
    UnsafePickleError,
    get_parameters,
    get_state_dict,
    gguf_load,
    load_state_dict,
    safe_load,
    safe_load_metadata,
    safe_save,
    tar_extract,
    torch_load,
)  # fmt: skip

BF16_OK = is_dtype_supported(dtypes.bfloat16, Device.DEFAULT)


def host(t: Tensor) -> np.ndarray:
    """t as numpy, bfloat16 as float32."""
    return t.cast(dtypes.float32).numpy() if t.dtype == dtypes.bfloat16 else t.numpy()


# ---- get_state_dict / get_parameters ----


class Lin:
    def __init__(self, i: int, o: int, rng: np.random.Generator) -> None:
        self.weight = Tensor(rng.standard_normal((o, i)).astype(np.float32))
        self.bias = Tensor(rng.standard_normal(o).astype(np.float32))


class Net:
    def __init__(self, rng: np.random.Generator) -> None:
        self.layers = [Lin(3, 4, rng), Lin(4, 2, rng)]
        self.norm = {"scale": Tensor(rng.standard_normal(2).astype(np.float32))}
        self.name, self.depth, self.act = "net", 2, Tensor.relu  # non-tensor attributes are skipped


def test_state_dict_keys_follow_attribute_paths(rng: np.random.Generator) -> None:
    sd = get_state_dict(Net(rng))
    assert list(sd) == ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias", "norm.scale"]
    assert get_state_dict(Net(rng), prefix="model.").keys() == {"model." + k for k in sd}


def test_state_dict_containers_slots_namedtuples_and_cycles() -> None:
    Pair = namedtuple("Pair", "left right")

    class Slotted:
        __slots__ = ("w", "unset")

        def __init__(self) -> None:
            self.w = Tensor([1.0])

    class Node:
        def __init__(self) -> None:
            self.p = Pair(Tensor([1]), (Tensor([2]), OrderedDict(k=Tensor([3]))))
            self.s = Slotted()
            self.parent = self  # a cycle must not recurse forever
            self.mod = np  # modules and classes are not walked
            self.cls = Tensor

    sd = get_state_dict(Node())
    assert list(sd) == ["p.left", "p.right.0", "p.right.1.k", "s.w"]
    assert [t.item() for t in sd.values()] == [1, 2, 3, 1.0]
    assert get_state_dict(Tensor([1.0])).keys() == {""}


def test_get_parameters_dedups_tied_tensors(rng: np.random.Generator) -> None:
    n = Net(rng)
    n.tied = n.layers[0].weight  # type: ignore[attr-defined]
    params = get_parameters(n)
    assert len(params) == 5 and len(get_state_dict(n)) == 6
    assert all(any(p is q for q in params) for p in get_state_dict(n).values())


# ---- load_state_dict ----


def snapshot(model: Any) -> dict[str, np.ndarray]:
    return {k: v.numpy().copy() for k, v in get_state_dict(model).items()}


def test_load_state_dict_copies_values_in_place(rng: np.random.Generator) -> None:
    n = Net(rng)
    for t in get_parameters(n):
        t.realize()
    before = {k: v for k, v in get_state_dict(n).items()}
    new = {k: rng.standard_normal(v.shape).astype(np.float32) for k, v in before.items()}
    load_state_dict(n, {k: Tensor(v) for k, v in new.items()}, verbose=False)
    after = get_state_dict(n)
    for k in new:
        assert after[k] is before[k], "the parameter objects stay the same (optimizers hold them)"
        np.testing.assert_array_equal(after[k].numpy(), new[k])


def test_load_state_dict_casts_to_the_parameter_dtype(rng: np.random.Generator) -> None:
    class M:
        def __init__(self) -> None:
            self.w = Tensor.zeros(3, dtype=dtypes.float16).realize()
            self.i = Tensor.zeros(2, dtype=dtypes.int32)

    m = M()
    w = rng.standard_normal(3).astype(np.float32)
    load_state_dict(m, {"w": Tensor(w), "i": Tensor(np.array([7, -8], np.int64))}, verbose=False)
    assert m.w.dtype == dtypes.float16 and m.i.dtype == dtypes.int32
    np.testing.assert_array_equal(m.w.numpy(), w.astype(np.float16))
    assert m.i.tolist() == [7, -8]


def test_loaded_parameters_never_share_the_state_dicts_memory(rng: np.random.Generator) -> None:
    class M:
        def __init__(self) -> None:
            self.lazy = Tensor.zeros(3)  # not realized: no memory of its own yet
            self.const = Tensor.ones(3).realize()  # realized as a broadcast constant
            base = Tensor(rng.standard_normal((2, 3)).astype(np.float32)).realize()
            self.base, self.view = base, base[1]  # a view of another parameter's memory

    src = {k: Tensor(rng.standard_normal(3).astype(np.float32)).realize() for k in ("lazy", "const", "view")}
    src["base"] = Tensor(rng.standard_normal((2, 3)).astype(np.float32)).realize()
    keep = {k: v.numpy().copy() for k, v in src.items()}
    m = M()
    load_state_dict(m, src, verbose=False)
    for k in ("lazy", "const"):
        getattr(m, k).assign(getattr(m, k) * 0 + 5).realize()  # an in-place update, as an optimizer does
        np.testing.assert_array_equal(src[k].numpy(), keep[k])
        assert getattr(m, k).tolist() == [5.0] * 3
    # keys load in model order: "view" comes after "base", so it writes its values into row 1 of base's memory
    np.testing.assert_array_equal(m.base.numpy(), np.stack([keep["base"][0], keep["view"]]))
    np.testing.assert_array_equal(m.view.numpy(), keep["view"])


def test_strict_errors_list_every_problem_and_load_nothing(rng: np.random.Generator) -> None:
    n = Net(rng)
    before = snapshot(n)
    sd = {k: Tensor(rng.standard_normal(v.shape).astype(np.float32)) for k, v in get_state_dict(n).items()}
    del sd["layers.1.bias"]
    sd["extra.weight"] = Tensor([1.0])
    sd["layers.0.weight"] = Tensor(rng.standard_normal((3, 4)).astype(np.float32))  # transposed shape
    with pytest.raises(StateDictError) as ei:
        load_state_dict(n, sd, verbose=False)
    msg = str(ei.value)
    assert "layers.1.bias" in msg and "extra.weight" in msg and "layers.0.weight" in msg
    assert "(4, 3)" in msg and "(3, 4)" in msg and "3 problems" in msg
    assert ei.value.missing == ["layers.1.bias"] and ei.value.unexpected == ["extra.weight"]
    assert isinstance(ei.value, (TinygradError, KeyError, ValueError))
    after = snapshot(n)
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_non_strict_skips_missing_and_unexpected_but_not_shapes(rng: np.random.Generator) -> None:
    n = Net(rng)
    before = snapshot(n)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    load_state_dict(n, {"layers.0.weight": Tensor(w), "junk": Tensor([1.0])}, strict=False, verbose=False)
    np.testing.assert_array_equal(n.layers[0].weight.numpy(), w)
    np.testing.assert_array_equal(n.layers[1].bias.numpy(), before["layers.1.bias"])
    with pytest.raises(StateDictError, match="shape mismatch"):
        load_state_dict(n, {"layers.0.bias": Tensor([1.0])}, strict=False, verbose=False)
    with pytest.raises(StateDictError, match="not a Tensor"):
        load_state_dict(n, {"layers.0.bias": np.zeros(4)}, strict=False, verbose=False)  # type: ignore[dict-item]


def test_failure_while_moving_values_leaves_the_model_untouched(rng: np.random.Generator,
                                                               tmp_path: pathlib.Path) -> None:  # fmt: skip
    class M:
        def __init__(self) -> None:
            self.a = Tensor(rng.standard_normal(3).astype(np.float32)).realize()
            self.b = Tensor(rng.standard_normal(2).astype(np.float32)).realize()

    m = M()
    before = snapshot(m)
    fn = tmp_path / "w.safetensors"
    safe_save({"a": Tensor(rng.standard_normal(3).astype(np.float32)), "big": Tensor.ones(5)}, fn)
    disk = safe_load(fn)
    # "b" is a view of a file: moving it needs a computation on DISK, which fails after "a" was already staged
    with pytest.raises(DeviceError):
        load_state_dict(m, {"a": disk["a"], "b": disk["big"][1:3]}, verbose=False)
    after = snapshot(m)
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_consume_and_disk_sources(rng: np.random.Generator, tmp_path: pathlib.Path) -> None:
    n = Net(rng)
    src = {k: rng.standard_normal(v.shape).astype(np.float32) for k, v in get_state_dict(n).items()}
    safe_save({k: Tensor(v) for k, v in src.items()}, tmp_path / "m.safetensors")
    sd = safe_load(tmp_path / "m.safetensors")
    sd["unused"] = Tensor([0])
    load_state_dict(n, sd, strict=False, consume=True, verbose=False)
    assert list(sd) == ["unused"]
    for k, v in get_state_dict(n).items():
        np.testing.assert_array_equal(v.numpy(), src[k])


def test_bfloat16_state_loads_into_float32_params(rng: np.random.Generator, tmp_path: pathlib.Path) -> None:
    w = torch.from_numpy(rng.standard_normal((2, 3)).astype(np.float32)).to(torch.bfloat16)
    import safetensors.torch

    safetensors.torch.save_file({"w": w}, str(tmp_path / "bf.safetensors"))

    class M:
        def __init__(self) -> None:
            self.w = Tensor.zeros(2, 3).realize()

    m = M()
    load_state_dict(m, safe_load(tmp_path / "bf.safetensors"), verbose=False)
    np.testing.assert_array_equal(m.w.numpy(), w.float().numpy())


# ---- safetensors ----

st_numpy = pytest.importorskip("safetensors.numpy")
st_torch = pytest.importorskip("safetensors.torch")

NP_CASES = [np.float32, np.float16, np.float64, np.int64, np.int32, np.int16, np.int8, np.uint8, np.uint16,
            np.uint32, np.uint64, np.bool_]  # fmt: skip


def random_array(rng: np.random.Generator, dt: Any, shape: tuple[int, ...]) -> np.ndarray:
    if np.dtype(dt) == np.bool_:
        return np.asarray(rng.integers(0, 2, shape).astype(bool))
    if np.issubdtype(dt, np.integer):
        info = np.iinfo(dt)
        return np.asarray(rng.integers(info.min, info.max, shape, dtype=dt, endpoint=True))
    a = np.asarray(rng.standard_normal(shape) * 100, dtype=dt)
    if a.size > 2:
        a.flat[:3] = [np.inf, -0.0, np.nan]
    return a


def test_ours_load_in_safetensors(rng: np.random.Generator, tmp_path: pathlib.Path) -> None:
    arrs = {f"t{i}.{np.dtype(dt).name}": random_array(rng, dt, s)
            for i, (dt, s) in enumerate(zip(NP_CASES, [(2, 3), (5,), (), (0, 4), (1, 1, 3), (7,)] * 2))}  # fmt: skip
    fn = tmp_path / "ours.safetensors"
    safe_save({k: Tensor(v) for k, v in arrs.items()}, fn, metadata={"format": "np", "note": "é"})
    theirs = st_numpy.load_file(str(fn))
    assert theirs.keys() == arrs.keys()
    for k, v in arrs.items():
        assert theirs[k].dtype == v.dtype and theirs[k].shape == v.shape
        np.testing.assert_array_equal(theirs[k], v)
    from safetensors import safe_open

    with safe_open(str(fn), "np") as f:
        assert f.metadata() == {"format": "np", "note": "é"}


def test_theirs_load_in_ours(rng: np.random.Generator, tmp_path: pathlib.Path) -> None:
    ref = {
        "f32": torch.from_numpy(random_array(rng, np.float32, (3, 4))),
        "f16": torch.from_numpy(random_array(rng, np.float16, (5,))),
        "bf16": torch.from_numpy(rng.standard_normal((2, 3)).astype(np.float32)).to(torch.bfloat16),
        "i64": torch.from_numpy(random_array(rng, np.int64, (4,))),
        "u8": torch.from_numpy(random_array(rng, np.uint8, (2, 2, 2))),
        "bool": torch.from_numpy(random_array(rng, np.bool_, (3,))),
        "f8": torch.from_numpy(rng.standard_normal(4).astype(np.float32)).to(torch.float8_e4m3fn),
        "scalar": torch.tensor(float(rng.standard_normal())),
        "empty": torch.zeros(0, 3),
    }
    fn = tmp_path / "theirs.safetensors"
    st_torch.save_file(ref, str(fn), metadata={"k": "v"})
    ours = safe_load(fn)
    assert list(ours) == sorted(ref, key=list(ours).index) and ours.keys() == ref.keys()
    for k, v in ref.items():
        t = ours[k]
        assert Device.base(t.device) == "DISK" and t.shape == tuple(v.shape)
        assert bytes(t.data()) == v.reshape(-1).view(torch.uint8).numpy().tobytes()
    for k in ("f32", "f16", "i64", "u8", "bool", "scalar", "empty"):
        np.testing.assert_array_equal(ours[k].to(Device.DEFAULT).numpy(), ref[k].numpy())
    assert safe_load_metadata(fn) == ({k: (n, tuple(v.shape)) for k, v, n in zip(ref, ref.values(), [
        "F32", "F16", "BF16", "I64", "U8", "BOOL", "F8_E4M3", "F32", "F32"])}, {"k": "v"})  # fmt: skip


def test_round_trip_keeps_bfloat16_bits(rng: np.random.Generator, tmp_path: pathlib.Path) -> None:
    w = torch.from_numpy(rng.standard_normal(7).astype(np.float32)).to(torch.bfloat16)
    st_torch.save_file({"w": w}, str(tmp_path / "a.safetensors"))
    # DISK -> file without any computation, then back through the reference reader
    safe_save(safe_load(tmp_path / "a.safetensors"), tmp_path / "b.safetensors")
    assert torch.equal(st_torch.load_file(str(tmp_path / "b.safetensors"))["w"], w)


def test_safe_save_replaces_a_file_that_is_being_read(rng: np.random.Generator, tmp_path: pathlib.Path) -> None:
    fn = tmp_path / "w.safetensors"
    a = rng.standard_normal(4).astype(np.float32)
    safe_save({"x": Tensor(a)}, fn)
    old = safe_load(fn)["x"]
    safe_save({"x": old.to(Device.DEFAULT) * 2}, fn)  # the old mapping keeps the old file's bytes
    np.testing.assert_array_equal(old.numpy(), a)
    np.testing.assert_array_equal(safe_load(fn)["x"].numpy(), a * 2)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_safe_load_from_tensors_and_bytes(rng: np.random.Generator, tmp_path: pathlib.Path) -> None:
    a = rng.standard_normal((2, 2)).astype(np.float32)
    fn = tmp_path / "w.safetensors"
    safe_save({"a": Tensor(a)}, fn)
    raw = fn.read_bytes()
    on_dev = safe_load(Tensor(np.frombuffer(raw, np.uint8)))["a"]
    assert Device.base(on_dev.device) == Device.base(Device.DEFAULT)
    np.testing.assert_array_equal(on_dev.numpy(), a)
    np.testing.assert_array_equal(safe_load(raw)["a"].numpy(), a)


def test_safe_save_rejects_bad_input(tmp_path: pathlib.Path) -> None:
    with pytest.raises(StateError, match="__metadata__"):
        safe_save({"__metadata__": Tensor([1])}, tmp_path / "x")
    with pytest.raises(StateError, match="not a Tensor"):
        safe_save({"a": [1, 2]}, tmp_path / "x")  # type: ignore[dict-item]
    with pytest.raises(StateError, match="metadata"):
        safe_save({"a": Tensor([1])}, tmp_path / "x", metadata={"n": 1})  # type: ignore[dict-item]
    assert not list(tmp_path.iterdir())


def safetensors_bytes(header: Any, data: bytes, hlen: int | None = None) -> bytes:
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    return (len(h) if hlen is None else hlen).to_bytes(8, "little") + h + data


def f32(shape: list[int], b: int, e: int) -> dict[str, Any]:
    return {"dtype": "F32", "shape": shape, "data_offsets": [b, e]}


MALFORMED_SAFETENSORS = [
    ("short", b"\x01\x00\x00", "too few"),
    ("hlen_past_end", safetensors_bytes(b"{}", b"", hlen=10**6), "runs past the end"),
    ("bad_json", safetensors_bytes(b"{not json", b""), "not valid JSON"),
    ("not_utf8", safetensors_bytes(b'{"\xff": 1}', b""), "not valid JSON"),
    ("list_header", safetensors_bytes([1, 2], b""), "expected an object"),
    ("entry_not_object", safetensors_bytes({"w": 3}, b""), "'w'"),
    ("unknown_dtype", safetensors_bytes({"w": {"dtype": "F31", "shape": [1], "data_offsets": [0, 4]}}, bytes(4)),
     "unknown dtype 'F31'"),
    ("negative_dim", safetensors_bytes({"w": f32([-1], 0, 4)}, bytes(4)), "shape"),
    ("float_dim", safetensors_bytes({"w": f32([1.5], 0, 4)}, bytes(4)), "shape"),  # type: ignore[list-item]
    ("bad_offsets", safetensors_bytes({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0]}}, bytes(4)),
     "data_offsets"),
    ("reversed_offsets", safetensors_bytes({"w": f32([0], 4, 0)}, bytes(4)), "begin <= end"),
    ("truncated", safetensors_bytes({"w": f32([4], 0, 16)}, bytes(9)), "truncated"),
    ("size_mismatch", safetensors_bytes({"w": f32([3], 0, 8)}, bytes(8)), "needs 12"),
    ("overlap", safetensors_bytes({"a": f32([2], 0, 8), "b": f32([2], 4, 12)}, bytes(12)), "overlaps"),
    ("gap", safetensors_bytes({"a": f32([1], 0, 4), "b": f32([1], 8, 12)}, bytes(12)), "contiguous"),
    ("trailing", safetensors_bytes({"a": f32([1], 0, 4)}, bytes(8)), "trailing"),
    ("bad_metadata", safetensors_bytes({"__metadata__": {"a": 1}}, b""), "__metadata__"),
]  # fmt: skip


@pytest.mark.parametrize("name,raw,match", MALFORMED_SAFETENSORS, ids=[c[0] for c in MALFORMED_SAFETENSORS])
def test_malformed_safetensors(tmp_path: pathlib.Path, name: str, raw: bytes, match: str) -> None:
    fn = tmp_path / f"{name}.safetensors"
    fn.write_bytes(raw)
    with pytest.raises(StateError, match=match) as ei:
        safe_load(fn)
    assert str(fn) in str(ei.value) and str(ei.value).startswith("safe_load: ")
    with pytest.raises(StateError, match=match):
        safe_load_metadata(fn)


def test_truncated_real_file_and_missing_paths(rng: np.random.Generator, tmp_path: pathlib.Path) -> None:
    fn = tmp_path / "w.safetensors"
    safe_save({"a": Tensor(rng.standard_normal(8).astype(np.float32)), "b": Tensor([1, 2, 3])}, fn)
    fn.write_bytes(fn.read_bytes()[:-5])
    with pytest.raises(StateError, match=r"tensor 'b'.*truncated"):
        safe_load(fn)
    with pytest.raises(StateError, match="does not exist"):
        safe_load(tmp_path / "missing.safetensors")
    with pytest.raises(StateError, match="is a directory"):
        safe_load(tmp_path)
    with pytest.raises(StateError, match="expected a file path"):
        safe_load(42)


# ---- torch_load ----


def torch_cases(rng: np.random.Generator) -> dict[str, torch.Tensor]:
    f = lambda *s: torch.from_numpy(rng.standard_normal(s).astype(np.float32))  # noqa: E731
    base = f(6, 5)
    return {
        "f32": f(3, 4),
        "transposed": f(4, 3).t(),
        "permuted": f(2, 3, 4).permute(2, 0, 1),
        "stepped": f(10, 8)[1:9:3, ::2],
        "row_of_shared": base[2],  # two views of one storage
        "col_of_shared": base[:, 3],
        "expanded": f(3).expand(4, 3),
        "overlapping": f(20).as_strided((4, 5), (3, 1), 2),
        "f16": f(5).half(),
        "bf16": f(2, 3).bfloat16(),
        "f64": f(3).double(),
        "i64": torch.from_numpy(rng.integers(-(2**62), 2**62, 5)),
        "i32": torch.from_numpy(rng.integers(-(2**31), 2**31 - 1, 4).astype(np.int32)),
        "i8": torch.from_numpy(rng.integers(-128, 127, 6).astype(np.int8)),
        "u8": torch.from_numpy(rng.integers(0, 255, 6).astype(np.uint8)),
        "u16": torch.from_numpy(rng.integers(0, 65535, 3).astype(np.int32)).to(torch.uint16),
        "bool": torch.from_numpy(rng.integers(0, 2, 5).astype(bool)),
        "scalar": torch.tensor(float(rng.standard_normal())),
        "empty": torch.zeros(0, 3),
        "param": torch.nn.Parameter(f(2, 2)),
    }


def to_numpy_ref(v: torch.Tensor) -> np.ndarray:
    v = v.detach()
    return v.float().numpy() if v.dtype == torch.bfloat16 else v.to(torch.int32).numpy() if v.dtype == torch.uint16 \
        else v.numpy()  # fmt: skip


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_torch_load_matches_torch(rng: np.random.Generator, tmp_path: pathlib.Path, zip_format: bool) -> None:
    ref = torch_cases(rng)
    fn = tmp_path / "model.pth"
    torch.save(ref, fn, _use_new_zipfile_serialization=zip_format)
    got = torch_load(fn)
    assert isinstance(got, dict) and list(got) == list(ref)
    for k, v in ref.items():
        t = got[k]
        assert isinstance(t, Tensor) and t.shape == tuple(v.shape), k
        assert Device.base(t.device) == Device.base(Device.DEFAULT)
        if v.dtype == torch.bfloat16:
            assert t.dtype == (dtypes.bfloat16 if BF16_OK else dtypes.float32)
        a = host(t)
        np.testing.assert_array_equal(a.astype(np.float64), to_numpy_ref(v).astype(np.float64), err_msg=k)


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_torch_load_keeps_structure(rng: np.random.Generator, tmp_path: pathlib.Path, zip_format: bool) -> None:
    a, b = (torch.from_numpy(rng.standard_normal(3).astype(np.float32)) for _ in range(2))
    obj = {"model": OrderedDict(w=a), "epoch": 7, "name": "x", "hist": [a, (b, 1.5)], "none": None}
    fn = tmp_path / "ckpt.pt"
    torch.save(obj, fn, _use_new_zipfile_serialization=zip_format)
    got = torch_load(fn)
    assert isinstance(got["model"], OrderedDict) and got["epoch"] == 7 and got["name"] == "x" and got["none"] is None
    assert isinstance(got["hist"], list) and isinstance(got["hist"][1], tuple) and got["hist"][1][1] == 1.5
    np.testing.assert_array_equal(got["model"]["w"].numpy(), a.numpy())
    np.testing.assert_array_equal(got["hist"][1][0].numpy(), b.numpy())


def test_torch_load_tensor_with_python_attributes(rng: np.random.Generator, tmp_path: pathlib.Path) -> None:
    t = torch.from_numpy(rng.standard_normal(3).astype(np.float32))
    t.note = "hi"  # type: ignore[attr-defined]  # torch pickles this through _rebuild_from_type_v2
    torch.save({"t": t}, tmp_path / "a.pt")
    np.testing.assert_array_equal(torch_load(tmp_path / "a.pt")["t"].numpy(), t.numpy())


def rezip(src: pathlib.Path, dst: pathlib.Path, change: Any = None, compress: int = zipfile.ZIP_STORED) -> None:
    """Copy a zip archive record by record; change(name, data) may return new data, or None to drop it."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compress) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if change is not None and (data := change(info.filename, data)) is None:
                continue
            zout.writestr(info.filename, data, compress_type=compress)


def test_torch_load_compressed_zip(rng: np.random.Generator, tmp_path: pathlib.Path) -> None:
    ref = {"w": torch.from_numpy(rng.standard_normal((3, 2)).astype(np.float32)).t(), "i": torch.arange(5)}
    torch.save(ref, tmp_path / "a.pth")
    rezip(tmp_path / "a.pth", tmp_path / "b.pth", compress=zipfile.ZIP_DEFLATED)
    got = torch_load(tmp_path / "b.pth")
    np.testing.assert_array_equal(got["w"].numpy(), ref["w"].numpy())
    assert got["i"].tolist() == list(range(5))


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_torch_load_from_a_tensor(rng: np.random.Generator, tmp_path: pathlib.Path, zip_format: bool) -> None:
    ref = {"w": torch.from_numpy(rng.standard_normal((2, 3)).astype(np.float32)).t()}
    torch.save(ref, tmp_path / "a.pth", _use_new_zipfile_serialization=zip_format)
    got = torch_load(Tensor(np.frombuffer((tmp_path / "a.pth").read_bytes(), np.uint8)))
    np.testing.assert_array_equal(got["w"].numpy(), ref["w"].numpy())


class Evil:
    def __init__(self, func: Any, *args: Any) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[Any, ...]:
        return self.func, self.args


EVIL_GLOBALS = [(os.system, "system"), (eval, "eval"), (getattr, "getattr"), (np.load, "load")]


@pytest.mark.parametrize("func,name", EVIL_GLOBALS, ids=[n for _, n in EVIL_GLOBALS])
@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_forbidden_globals_are_refused(tmp_path: pathlib.Path, func: Any, name: str, zip_format: bool) -> None:
    marker = tmp_path / "pwned"
    fn = tmp_path / "evil.pth"
    evil = Evil(func, f"touch {marker}" if name == "system" else "1")
    payload = {"w": torch.ones(2), "x": evil}
    if zip_format:
        torch.save({"w": torch.ones(2)}, tmp_path / "good.pth")
        rezip(tmp_path / "good.pth", fn, lambda n, d: pickle.dumps({"x": evil}, protocol=2) if n.endswith("data.pkl")
              else d)  # fmt: skip
    else:
        torch.save(payload, fn, _use_new_zipfile_serialization=False, pickle_module=pickle)
    with pytest.raises(UnsafePickleError, match=rf"\.{name}\b") as ei:
        torch_load(fn)
    assert str(fn) in str(ei.value) and isinstance(ei.value, StateError)
    assert not marker.exists()


def test_malformed_torch_checkpoints(rng: np.random.Generator, tmp_path: pathlib.Path) -> None:
    ref = {"w": torch.from_numpy(rng.standard_normal(64).astype(np.float32))}
    good, legacy = tmp_path / "good.pth", tmp_path / "legacy.pth"
    torch.save(ref, good)
    torch.save(ref, legacy, _use_new_zipfile_serialization=False)
    cases: dict[str, tuple[bytes, str]] = {
        "garbage": (b"hello world, not a checkpoint", "not a PyTorch file"),
        "empty": (b"", "not a PyTorch file"),
        "truncated_zip": (good.read_bytes()[: len(good.read_bytes()) // 2], "malformed or truncated"),
        "truncated_legacy_data": (legacy.read_bytes()[:-10], "truncated"),
        "truncated_legacy_pickle": (legacy.read_bytes()[:40], "malformed or truncated"),
        "plain_pickle": (pickle.dumps({"a": 1}, protocol=2), "bad magic"),
    }
    for name, change in {
        "missing_record": lambda n, d: None if "/data/" in n else d,
        "short_record": lambda n, d: d[:100] if "/data/" in n else d,
        "big_endian": lambda n, d: b"big" if n.endswith("byteorder") else d,
        "bad_persistent_id": lambda n, d: pickle.dumps({"w": 1}, protocol=2).replace(b"}", b"}", 1) if False else
        d.replace(b"storage", b"storagX") if n.endswith("data.pkl") else d,
    }.items():  # fmt: skip
        rezip(good, tmp_path / f"{name}.pth", change)
        cases[name] = ((tmp_path / f"{name}.pth").read_bytes(), {"missing_record": "has no record",
                       "short_record": "needs 256 bytes", "big_endian": "big-endian",
                       "bad_persistent_id": "persistent id"}[name])  # fmt: skip
    for name, (raw, match) in cases.items():
        fn = tmp_path / f"case_{name}.pth"
        fn.write_bytes(raw)
        with pytest.raises(StateError, match=match) as ei:
            torch_load(fn)
        assert str(fn) in str(ei.value), name


# ---- tar ----


def make_tar(path: pathlib.Path, files: dict[str, bytes], mode: str = "w") -> None:
    with tarfile.open(path, mode) as tf:
        d = tarfile.TarInfo("folder")
        d.type = tarfile.DIRTYPE
        tf.addfile(d)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:xz"])
def test_tar_extract(rng: np.random.Generator, tmp_path: pathlib.Path, mode: str) -> None:
    files = {"a.bin": rng.bytes(int(rng.integers(1, 3000))), "folder/b.txt": b"hello", "empty": b""}
    fn = tmp_path / "x.tar"
    make_tar(fn, files, mode)
    got = tar_extract(fn)
    assert got.keys() == files.keys()
    for k, v in files.items():
        assert got[k].dtype == dtypes.uint8 and got[k].shape == (len(v),)
        assert bytes(got[k].numpy()) == v
    assert (Device.base(got["a.bin"].device) == "DISK") == (mode == "w")
    # the same archive from memory
    assert bytes(tar_extract(Tensor(np.frombuffer(fn.read_bytes(), np.uint8)))["folder/b.txt"].numpy()) == b"hello"


def test_safetensors_inside_a_tar(rng: np.random.Generator, tmp_path: pathlib.Path) -> None:
    a = rng.standard_normal((3, 2)).astype(np.float32)
    safe_save({"a": Tensor(a)}, tmp_path / "w.safetensors")
    make_tar(tmp_path / "x.tar", {"w.safetensors": (tmp_path / "w.safetensors").read_bytes()})
    t = safe_load(tar_extract(tmp_path / "x.tar")["w.safetensors"])["a"]
    assert Device.base(t.device) == "DISK"  # a view of a view of the archive's mapping
    np.testing.assert_array_equal(t.to(Device.DEFAULT).numpy(), a)


def test_malformed_tar(rng: np.random.Generator, tmp_path: pathlib.Path) -> None:
    make_tar(tmp_path / "ok.tar", {"big": rng.bytes(5000)})  # random: the gzip stream can't be cut after the data
    raw = (tmp_path / "ok.tar").read_bytes()
    for name, data, match in [("garbage", b"x" * 1000, "not a readable tar"),
                              ("truncated", raw[:3000], "truncated|not a readable tar"),
                              ("truncated_gz", gzip.compress(raw)[:3000], "truncated|not a readable tar")]:  # fmt: skip
        fn = tmp_path / f"{name}.tar"
        fn.write_bytes(data)
        with pytest.raises(StateError, match=match) as ei:
            tar_extract(fn)
        assert str(fn) in str(ei.value)


# ---- GGUF ----

GGML = {"F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q5_0": 6, "Q5_1": 7, "Q8_0": 8, "Q4_K": 12, "Q5_K": 13,
        "Q6_K": 14, "I8": 24, "I16": 25, "I32": 26, "I64": 27, "F64": 28, "BF16": 30}  # fmt: skip
# (elements, bytes) per block, and the byte positions of float16 fields that random bytes must not fill with NaN
BLOCKS = {
    "Q4_0": (32, 18, [0]),
    "Q4_1": (32, 20, [0, 2]),
    "Q5_0": (32, 22, [0]),
    "Q5_1": (32, 24, [0, 2]),
    "Q8_0": (32, 34, [0]),
    "Q4_K": (256, 144, [0, 2]),
    "Q5_K": (256, 176, [0, 2]),
    "Q6_K": (256, 210, [208]),
}
PLAIN = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I8": np.int8, "I16": np.int16, "I32": np.int32,
         "I64": np.int64, "BF16": np.uint16}  # fmt: skip


def gstr(s: str | bytes) -> bytes:
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


GVAL = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


def gval(vtype: int, v: Any) -> bytes:
    if vtype in GVAL:
        return struct.pack(GVAL[vtype], v)
    if vtype == 8:
        return gstr(v)
    etype, items = v
    return struct.pack("<IQ", etype, len(items)) + b"".join(gval(etype, x) for x in items)


def gguf_file(kvs: list[tuple[str, int, Any]], tensors: list[tuple[str, list[int], int, bytes]], version: int = 3,
              align: int = 32, offsets: list[int] | None = None) -> bytes:  # fmt: skip
    """A GGUF file: metadata (key, type, value) and tensors (name, ggml dims innermost first, type, raw data)."""
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs))
    for k, t, v in kvs:
        out += gstr(k) + struct.pack("<I", t) + gval(t, v)
    offs, pos = [], 0
    for _, _, _, data in tensors:
        offs.append(pos)
        pos += -(-len(data) // align) * align
    offs = offsets or offs
    for (name, dims, tid, _), off in zip(tensors, offs):
        out += gstr(name) + struct.pack(f"<I{len(dims)}QIQ", len(dims), *dims, tid, off)
    out += bytes(-len(out) % align)
    data = bytearray(max([o + len(d) for o, (_, _, _, d) in zip(offs, tensors)], default=0))
    for o, (_, _, _, d) in zip(offs, tensors):
        data[o : o + len(d)] = d
    return out + bytes(data)


def random_blocks(rng: np.random.Generator, kind: str, nblocks: int) -> bytes:
    _, nbytes, f16_at = BLOCKS[kind]
    raw = rng.integers(0, 256, (nblocks, nbytes), dtype=np.uint8)
    for at in f16_at:  # finite scales, some negative, spread over several binades
        scale = (rng.standard_normal(nblocks) * 4.0 ** rng.integers(-3, 3, nblocks)).astype(np.float16)
        raw[:, at : at + 2] = scale.view(np.uint8).reshape(nblocks, 2)
    return raw.tobytes()


def ref_dequant(kind: str, raw: bytes) -> np.ndarray:
    """A plain, block-at-a-time reading of the ggml block formats (float64)."""
    block, nbytes, _ = BLOCKS[kind]
    out = []
    for i in range(len(raw) // nbytes):
        b = np.frombuffer(raw, np.uint8, nbytes, i * nbytes).astype(np.int64)
        h = lambda at, i=i: float(np.frombuffer(raw, np.float16, 1, i * nbytes + at)[0])  # noqa: E731
        y = np.zeros(block)
        if kind in ("Q4_0", "Q4_1", "Q5_0", "Q5_1"):
            has_min = kind.endswith("_1")
            d, m = h(0), (h(2) if has_min else 0.0)
            qh_at = 4 if has_min else 2
            five = kind.startswith("Q5")
            qh = int.from_bytes(bytes(b[qh_at : qh_at + 4].astype(np.uint8)), "little") if five else 0
            qs = b[qh_at + 4 * five : qh_at + 4 * five + 16]
            for j in range(16):
                lo, hi = qs[j] & 15, qs[j] >> 4
                if five:
                    lo, hi = lo | (((qh >> j) & 1) << 4), hi | (((qh >> (j + 16)) & 1) << 4)
                off = 0 if has_min else (16 if five else 8)
                y[j], y[j + 16] = (lo - off) * d + m, (hi - off) * d + m
        elif kind == "Q8_0":
            y[:] = b[2:34].astype(np.uint8).view(np.int8) * h(0)
        elif kind == "Q6_K":
            ql, qh, sc, d = b[0:128], b[128:192], b[192:208].astype(np.uint8).view(np.int8), h(208)
            for half in range(2):
                for ln in range(32):
                    s = ln // 16
                    L, H, S = ql[64 * half :], qh[32 * half :], sc[8 * half :]
                    q1 = (L[ln] & 15) | (((H[ln] >> 0) & 3) << 4)
                    q2 = (L[ln + 32] & 15) | (((H[ln] >> 2) & 3) << 4)
                    q3 = (L[ln] >> 4) | (((H[ln] >> 4) & 3) << 4)
                    q4 = (L[ln + 32] >> 4) | (((H[ln] >> 6) & 3) << 4)
                    for k, q in enumerate((q1, q2, q3, q4)):
                        y[128 * half + 32 * k + ln] = d * S[s + 2 * k] * (q - 32)
        else:  # Q4_K, Q5_K
            d, dmin, sc = h(0), h(2), b[4:16]

            def scale_min(j: int, sc: np.ndarray = sc) -> tuple[int, int]:
                if j < 4:
                    return sc[j] & 63, sc[j + 4] & 63
                return (sc[j + 4] & 15) | ((sc[j - 4] >> 6) << 4), (sc[j + 4] >> 4) | ((sc[j] >> 6) << 4)

            five = kind == "Q5_K"
            qh, qs = b[16:48], b[48 if five else 16 :]
            for r in range(4):
                (s1, m1), (s2, m2) = scale_min(2 * r), scale_min(2 * r + 1)
                for ln in range(32):
                    lo, hi = qs[32 * r + ln] & 15, qs[32 * r + ln] >> 4
                    if five:
                        lo += 16 * ((qh[ln] >> (2 * r)) & 1)
                        hi += 16 * ((qh[ln] >> (2 * r + 1)) & 1)
                    y[64 * r + ln] = d * s1 * lo - dmin * m1
                    y[64 * r + 32 + ln] = d * s2 * hi - dmin * m2
        out.append(y)
    return np.concatenate(out) if out else np.zeros(0)


def assert_close(got: np.ndarray, ref: np.ndarray) -> None:
    # float32 on device vs float64 here: differences are rounding of a few float32 operations
    np.testing.assert_allclose(got, ref, rtol=2e-6, atol=2e-6 * max(1.0, float(np.abs(ref).max(initial=0))))


@pytest.mark.parametrize("kind", list(BLOCKS))
def test_gguf_quantized_types(rng: np.random.Generator, tmp_path: pathlib.Path, kind: str) -> None:
    block = BLOCKS[kind][0]
    rows = int(rng.integers(1, 3))
    per_row = block * (1 if block == 256 else int(rng.integers(1, 3)))
    raw = random_blocks(rng, kind, rows * per_row // block)
    fn = tmp_path / "q.gguf"
    fn.write_bytes(gguf_file([], [("w", [per_row, rows], GGML[kind], raw)]))
    meta, ts = gguf_load(fn)
    w = ts["w"]
    assert meta == {} and w.shape == (rows, per_row) and w.dtype == dtypes.float32
    ref = ref_dequant(kind, raw).reshape(rows, per_row)
    assert_close(w.numpy(), ref)
    try:  # an independent oracle, where installed
        from gguf import GGMLQuantizationType
        from gguf.quants import dequantize
    except ImportError:
        return
    theirs = dequantize(np.frombuffer(raw, np.uint8).reshape(rows, -1), GGMLQuantizationType[kind])
    assert_close(theirs.astype(np.float64), ref)


@pytest.mark.parametrize("kind", list(PLAIN))
def test_gguf_plain_types(rng: np.random.Generator, tmp_path: pathlib.Path, kind: str) -> None:
    npdt = PLAIN[kind]
    shape = (2, 3, 4)
    if kind == "BF16":
        vals = rng.standard_normal(shape).astype(np.float32)
        raw_arr = (vals.view(np.uint32) >> 16).astype(np.uint16)
        expect = (raw_arr.astype(np.uint32) << 16).view(np.float32)
    else:
        expect = random_array(rng, npdt, shape)
        raw_arr = expect
    fn = tmp_path / "p.gguf"
    fn.write_bytes(gguf_file([], [("t", list(reversed(shape)), GGML[kind], raw_arr.tobytes())], version=2))
    t = gguf_load(fn)[1]["t"]
    assert t.shape == shape
    if kind == "BF16":
        assert t.dtype == (dtypes.bfloat16 if BF16_OK else dtypes.float32)
    else:
        assert t.dtype == dtypes.from_np(np.dtype(npdt))
    np.testing.assert_array_equal(host(t), expect)


def test_gguf_metadata_types_and_alignment(rng: np.random.Generator, tmp_path: pathlib.Path) -> None:
    kvs = [("general.alignment", 4, 64), ("u8", 0, 255), ("i8", 1, -128), ("u16", 2, 65535), ("i16", 3, -3),
           ("u32", 4, 2**32 - 1), ("i32", 5, -(2**31)), ("f32", 6, 1.5), ("yes", 7, True), ("s", 8, "naïve ✓"),
           ("u64", 10, 2**64 - 1), ("i64", 11, -(2**63)), ("f64", 12, 0.1), ("arr", 9, (5, [1, -2, 3])),
           ("strs", 9, (8, ["a", "bc"])), ("nested", 9, (9, [(0, [1, 2]), (8, ["x"])])), ("none", 9, (6, []))]  # fmt: skip
    a, b = rng.standard_normal(3).astype(np.float32), rng.standard_normal(5).astype(np.float32)
    fn = tmp_path / "m.gguf"
    fn.write_bytes(gguf_file(kvs, [("a", [3], 0, a.tobytes()), ("b", [5], 0, b.tobytes())], align=64))
    meta, ts = gguf_load(fn)
    assert meta == {"general.alignment": 64, "u8": 255, "i8": -128, "u16": 65535, "i16": -3, "u32": 2**32 - 1,
                    "i32": -(2**31), "f32": 1.5, "yes": True, "s": "naïve ✓", "u64": 2**64 - 1, "i64": -(2**63),
                    "f64": 0.1, "arr": [1, -2, 3], "strs": ["a", "bc"], "nested": [[1, 2], ["x"]], "none": []}  # fmt: skip
    np.testing.assert_array_equal(ts["a"].numpy(), a)
    np.testing.assert_array_equal(ts["b"].numpy(), b)
    # the same bytes from a tensor in device memory
    np.testing.assert_array_equal(gguf_load(Tensor(np.frombuffer(fn.read_bytes(), np.uint8)))[1]["b"].numpy(), b)


def test_gguf_written_by_the_gguf_package(rng: np.random.Generator, tmp_path: pathlib.Path) -> None:
    gguf = pytest.importorskip("gguf")
    from gguf.quants import dequantize, quantize

    w = rng.standard_normal((2, 64)).astype(np.float32)
    e = rng.standard_normal((3, 4)).astype(np.float32)
    fn = tmp_path / "pkg.gguf"
    writer = gguf.GGUFWriter(str(fn), "llama")
    writer.add_uint32("llama.context_length", 128)
    q = quantize(w, gguf.GGMLQuantizationType.Q8_0)
    writer.add_tensor("w", q, raw_shape=q.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    writer.add_tensor("e", e)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    meta, ts = gguf_load(fn)
    assert meta["general.architecture"] == "llama" and meta["llama.context_length"] == 128
    assert ts["w"].shape == (2, 64) and ts["e"].shape == (3, 4)
    assert_close(ts["w"].numpy(), dequantize(q, gguf.GGMLQuantizationType.Q8_0).astype(np.float64))
    np.testing.assert_array_equal(ts["e"].numpy(), e)


def malformed_gguf_cases() -> list[tuple[str, bytes, str]]:
    f32 = struct.pack("<4f", 1, 2, 3, 4)
    good = gguf_file([("k", 8, "v")], [("w", [4], 0, f32)])
    q = bytes(34)
    cases = [
        ("bad_magic", b"GGUX" + good[4:], "bad magic"),
        ("version_1", good[:4] + struct.pack("<I", 1) + good[8:], "version 1"),
        ("empty", b"", "truncated"),
        ("truncated_data", good[:-3], "truncated"),
        ("unknown_type", gguf_file([], [("w", [4], 99, f32)]), "unknown"),
        ("unsupported_type", gguf_file([], [("w", [256], 10, bytes(84))]), "Q2_K"),
        ("misaligned", gguf_file([], [("w", [4], 0, f32)], offsets=[4]), "alignment"),
        ("overlap", gguf_file([], [("a", [4], 0, f32), ("b", [4], 0, f32)], offsets=[0, 0]), "overlap"),
        ("bad_alignment", gguf_file([("general.alignment", 4, 24)], [("w", [4], 0, f32)]), "power-of-two"),
        ("alignment_type", gguf_file([("general.alignment", 8, "32")], [("w", [4], 0, f32)]), "alignment"),
        ("rank_0", gguf_file([], [("w", [], 0, f32)]), "rank 0"),
        ("rank_5", gguf_file([], [("w", [1, 1, 1, 1, 4], 0, f32)]), "rank 5"),
        ("partial_block", gguf_file([], [("w", [16, 2], 8, q)]), "multiple of the Q8_0 block"),
        ("bad_utf8", gguf_file([(b"\xff\xfe", 8, "v")], []), "UTF-8"),  # type: ignore[list-item]
        ("unknown_value_type", gguf_file([("k", 13, "v")], []) if False else
         good[:24] + gstr("k") + struct.pack("<I", 13) + good[24:], "unknown value type 13"),
        ("duplicate_name", gguf_file([], [("w", [4], 0, f32), ("w", [4], 0, f32)]), "twice"),
        ("huge_counts", b"GGUF" + struct.pack("<IQQ", 3, 2**60, 0), "more than the file"),
        ("huge_array", good[:24] + gstr("k") + struct.pack("<IIQ", 9, 8, 2**40), "more than the file"),
    ]  # fmt: skip
    # cut anywhere inside the header: always a clean StateError
    cases += [(f"cut_at_{n}", good[:n], "truncated") for n in (3, 8, 20, 30, 40, 60, len(good) - 20)]
    return cases


@pytest.mark.parametrize("name,raw,match", malformed_gguf_cases(), ids=[c[0] for c in malformed_gguf_cases()])
def test_malformed_gguf(tmp_path: pathlib.Path, name: str, raw: bytes, match: str) -> None:
    fn = tmp_path / f"{name}.gguf"
    fn.write_bytes(raw)
    with pytest.raises(StateError, match=match) as ei:
        gguf_load(fn)
    assert str(fn) in str(ei.value) and str(ei.value).startswith("gguf_load: ")
