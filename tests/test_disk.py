"""The DISK device: tensors over byte ranges of a memory-mapped file, moved to compute devices with one copy."""

from __future__ import annotations

import gc
import os
import pathlib

import numpy as np
import pytest

from tinygrad import Device, Tensor, dtypes
from tinygrad.device import is_dtype_supported
from tinygrad.errors import DeviceError
from tinygrad.helpers import GlobalCounters
from tinygrad.plugins import registry
from tinygrad.runtime.ops_disk import NO_COMPUTE, DiskAllocator, DiskBuffer, disk_device, map_file, new_disk_buffer


def disk_tensor(path: pathlib.Path, offset: int, shape: tuple[int, ...], dt: object) -> Tensor:
    """A DISK tensor over `shape` elements of dtype `dt` at byte `offset` of the file."""
    dev = disk_device(path)
    m = map_file(str(path))
    numel = int(np.prod(shape)) if shape else 1
    view = Device[dev].allocator.view(DiskBuffer(m, 0, m.size), offset, numel * dt.itemsize)  # type: ignore[attr-defined]
    return Tensor(new_disk_buffer(view, dev, numel, dt).reshape(shape))  # type: ignore[arg-type]


def test_disk_is_registered_but_never_the_default() -> None:
    spec, rec = registry().devices()["DISK"]
    assert spec.priority == -100 and rec.dist == "tinygrad-core"
    assert "DISK" in registry().available()
    assert Device.base(Device.DEFAULT) != "DISK"
    # a bare "DISK" (as the doctor opens it) works and describes itself
    assert Device["DISK"].describe()["compiler"] == "none"


@pytest.mark.parametrize(
    "npdt,dt",
    [(np.float32, dtypes.float32), (np.float16, dtypes.float16), (np.int64, dtypes.int64), (np.uint8, dtypes.uint8),
     (np.int8, dtypes.int8), (np.float64, dtypes.float64), (np.bool_, dtypes.bool)],
)  # fmt: skip
def test_read_at_offset_matches_file(tmp_path: pathlib.Path, rng: np.random.Generator, npdt: type, dt: object) -> None:
    a = (rng.standard_normal((3, 5)) * 1000).astype(npdt)
    pre = rng.integers(0, 256, int(rng.integers(1, 17)), dtype=np.uint8).tobytes()  # unaligned start
    p = tmp_path / "data.bin"
    p.write_bytes(pre + a.tobytes() + b"tail")
    t = disk_tensor(p, len(pre), (3, 5), dt)
    assert Device.base(t.device) == "DISK" and t.shape == (3, 5) and t.dtype == dt
    np.testing.assert_array_equal(t.numpy(), a)  # read straight from the mapping
    np.testing.assert_array_equal(t.to(Device.DEFAULT).numpy(), a)  # copied to a compute device


def test_to_device_reads_the_mapping_in_place(tmp_path: pathlib.Path, rng: np.random.Generator,
                                              monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    a = rng.standard_normal(64).astype(np.float32)
    p = tmp_path / "w.bin"
    p.write_bytes(a.tobytes())
    t = disk_tensor(p, 0, (64,), dtypes.float32)

    # the copy to a compute device must come from as_memoryview (one memcpy), never from a copyout bounce buffer
    def no_bounce(self: DiskAllocator, dest: memoryview, src: DiskBuffer) -> None:
        raise AssertionError("DISK -> device copy went through copyout (two copies)")

    monkeypatch.setattr(DiskAllocator, "copyout", no_bounce)
    np.testing.assert_array_equal((t.to(Device.DEFAULT) * 2).numpy(), a * 2)


def test_views_share_one_mapping(tmp_path: pathlib.Path, rng: np.random.Generator) -> None:
    a = rng.integers(-(2**31), 2**31 - 1, 10, dtype=np.int32)
    p = tmp_path / "v.bin"
    p.write_bytes(a.tobytes())
    dev = disk_device(p)
    m = map_file(str(p))
    alloc = Device[dev].allocator
    base = DiskBuffer(m, 0, m.size)
    v1 = alloc.view(base, 8, 16)  # type: ignore[attr-defined]
    v2 = alloc.view(v1, 4, 8)  # type: ignore[attr-defined]
    assert v2.mapping is m and v2.offset == 12
    t = Tensor(new_disk_buffer(v2, dev, 2, dtypes.int32))
    assert t.tolist() == a[3:5].tolist()
    with pytest.raises(DeviceError, match="outside"):
        alloc.view(v1, 10, 8)  # type: ignore[attr-defined]


def test_compute_on_disk_is_a_device_error(tmp_path: pathlib.Path) -> None:
    p = tmp_path / "c.bin"
    p.write_bytes(np.arange(4, dtype=np.float32).tobytes())
    t = disk_tensor(p, 0, (4,), dtypes.float32)
    with pytest.raises(DeviceError, match=r"can't be computed on; move them with \.to\('CPU'\) first"):
        (t + 1).realize()
    # a view of a DISK tensor is a computation too; the fix the message suggests works
    with pytest.raises(DeviceError, match="can't be computed on"):
        t[1:3].to(Device.DEFAULT).realize()
    assert t.to(Device.DEFAULT)[1:3].tolist() == [1.0, 2.0]
    assert NO_COMPUTE.startswith("DISK tensors")
    for dt in (dtypes.float32, dtypes.uint8, dtypes.bfloat16):
        assert not is_dtype_supported(dt, t.device)


def test_write_through_disk_creates_and_grows_the_file(tmp_path: pathlib.Path, rng: np.random.Generator) -> None:
    p = tmp_path / "sub" / "Out.BIN"
    p.parent.mkdir()
    dev = disk_device(p)
    a = rng.standard_normal(5).astype(np.float32)
    t = Tensor(a).to(dev).realize()
    assert p.stat().st_size == 20
    np.testing.assert_array_equal(np.fromfile(p, np.float32), a)
    np.testing.assert_array_equal(t.numpy(), a)
    b = rng.integers(0, 2**62, 6, dtype=np.int64)
    Tensor(b).to(dev).realize()  # allocations start at byte 0 of the file, which grows to fit
    Device[dev].synchronize()
    assert p.stat().st_size == 48
    np.testing.assert_array_equal(np.fromfile(p, np.int64), b)


def test_mapping_opened_for_reading_refuses_writes(tmp_path: pathlib.Path) -> None:
    p = tmp_path / "ro.bin"
    p.write_bytes(bytes(8))
    t = disk_tensor(p, 0, (2,), dtypes.float32)
    # the buffers made for loading are views of a read-only mapping: writing into one is refused
    view = DiskBuffer(map_file(str(p)), 0, 8)
    with pytest.raises(DeviceError, match="read-only"):
        Device[t.device].allocator.copyin(view, memoryview(bytes(range(8))))
    assert p.read_bytes() == bytes(8)


def test_open_errors_are_device_errors(tmp_path: pathlib.Path) -> None:
    with pytest.raises(DeviceError, match="cannot open"):
        map_file(str(tmp_path / "missing.bin"))
    with pytest.raises(DeviceError, match="regular file|cannot"):
        map_file(str(tmp_path))
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    m = map_file(str(empty))
    assert m.size == 0 and m.mm is None


def test_size_zero_and_scalar(tmp_path: pathlib.Path) -> None:
    p = tmp_path / "s.bin"
    p.write_bytes(np.array([2.5], np.float32).tobytes())
    assert disk_tensor(p, 0, (), dtypes.float32).to(Device.DEFAULT).item() == 2.5
    z = disk_tensor(p, 4, (0, 3), dtypes.float32)
    assert z.to(Device.DEFAULT).numpy().shape == (0, 3)


def test_host_to_host_copies_use_the_source_memory_directly(rng: np.random.Generator) -> None:
    # the one-copy path in the copy runner applies to every host-visible source, not only DISK
    if "CPU" not in Device.available():
        pytest.skip("the CPU backend is not installed")
    a = rng.standard_normal((4, 3)).astype(np.float32)
    other = "PYTHON" if Device.base(Device.DEFAULT) != "PYTHON" else "CPU"
    t = Tensor(a).to(other)
    np.testing.assert_array_equal(t.numpy(), a)
    np.testing.assert_array_equal(t.to(Device.DEFAULT).numpy(), a)


def test_unregistered_device_string_with_unknown_path() -> None:
    # a DISK device whose directory doesn't exist can't allocate; the typed error names the file and the fix
    with pytest.raises(DeviceError, match="check the path"):
        Tensor([1.0]).to("DISK:/nonexistent-dir-for-tinygrad-test/x.bin").realize()


def test_hand_typed_disk_path_keeps_its_case(tmp_path: pathlib.Path) -> None:
    p = tmp_path / "lower.bin"
    t = Tensor([1.0, 2.0]).to(f"DISK:{p}").realize()
    assert p.exists() and t.device == f"DISK:{p}"


def test_disk_device_string_is_canonical(tmp_path: pathlib.Path) -> None:
    dev = disk_device(tmp_path / "x.bin")
    assert dev == Device.canonicalize(dev) and dev.startswith("DISK:")
    assert os.path.isabs(dev.split(":", 1)[1])


def test_memory_counter_is_balanced(tmp_path: pathlib.Path) -> None:
    p = tmp_path / "m.bin"
    p.write_bytes(bytes(4096))
    gc.collect()
    before = GlobalCounters.mem_used
    t = disk_tensor(p, 0, (1024,), dtypes.float32)
    assert GlobalCounters.mem_used == before + 4096
    del t
    gc.collect()
    assert GlobalCounters.mem_used == before
