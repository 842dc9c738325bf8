"""Datasets and downloads: mnist() on the real Fashion-MNIST files where installed, IDX parsing and every error
on small files made here, the search order, and fetch() against a loopback HTTP server."""

from __future__ import annotations

import gzip
import http.server
import pathlib
import threading
from collections.abc import Iterator

import numpy as np
import pytest

from tinygrad import dtypes
from tinygrad.helpers import FetchError, fetch
from tinygrad.nn import datasets
from tinygrad.nn.datasets import DatasetFormatError, DatasetNotFoundError, _read_idx, mnist

FASHION_SYSTEM_DIR = pathlib.Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture
def isolated(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """No env folders, an empty cache, no system folders, and a download URL that refuses at once."""
    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    monkeypatch.setenv("CACHEDIR", str(tmp_path / "cache"))
    monkeypatch.setitem(datasets.SYSTEM_DIRS, False, [str(tmp_path / "sys" / "mnist")])
    monkeypatch.setitem(datasets.SYSTEM_DIRS, True, [str(tmp_path / "sys" / "fashion-mnist")])
    for fashion in (False, True):
        kind, env, _ = datasets._KINDS[fashion]
        monkeypatch.setitem(datasets._KINDS, fashion, (kind, env, "http://127.0.0.1:1/"))
    return tmp_path


def idx_bytes(a: np.ndarray, code: int = 0x08) -> bytes:
    head = bytes([0, 0, code, a.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in a.shape)
    return head + a.astype(a.dtype.newbyteorder(">")).tobytes()


def write_dataset(folder: pathlib.Path, rng: np.random.Generator, n_train: int = 7, n_test: int = 3,
                  compress: bool = True, names: dict[str, str] | None = None) -> dict[str, np.ndarray]:  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    arrs = {
        "X_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "Y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
        "X_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "Y_test": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for k, a in arrs.items():
        name = (names or {}).get(k, datasets._FILES[k] + (".gz" if compress else ""))
        raw = idx_bytes(a)
        (folder / name).write_bytes(gzip.compress(raw) if name.endswith(".gz") else raw)
    return arrs


def check_loaded(got: tuple, arrs: dict[str, np.ndarray]) -> None:
    X, Y, Xt, Yt = got
    assert all(t.dtype == dtypes.uint8 for t in got)
    np.testing.assert_array_equal(X.numpy(), arrs["X_train"][:, None])
    np.testing.assert_array_equal(Y.numpy(), arrs["Y_train"])
    np.testing.assert_array_equal(Xt.numpy(), arrs["X_test"][:, None])
    np.testing.assert_array_equal(Yt.numpy(), arrs["Y_test"])


# ---- the real data ----


@pytest.mark.skipif(not (FASHION_SYSTEM_DIR / "train-images-idx3-ubyte.gz").is_file(),
                    reason="Fashion-MNIST is not installed: apt-get install dataset-fashion-mnist")  # fmt: skip
def test_real_fashion_mnist(isolated: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(datasets.SYSTEM_DIRS, True, [str(FASHION_SYSTEM_DIR)])
    X, Y, Xt, Yt = mnist(fashion=True)
    assert (X.shape, Y.shape, Xt.shape, Yt.shape) == ((60000, 1, 28, 28), (60000,), (10000, 1, 28, 28), (10000,))
    assert X.dtype == Y.dtype == Xt.dtype == Yt.dtype == dtypes.uint8
    y, yt = Y.numpy(), Yt.numpy()
    # Fashion-MNIST is balanced: 6000 train and 1000 test images of each of the 10 classes
    assert np.bincount(y).tolist() == [6000] * 10 and np.bincount(yt).tolist() == [1000] * 10
    xt = Xt.numpy()
    assert xt.min() == 0 and xt.max() == 255 and 60 < xt.mean() < 90
    assert X[0].numpy().std() > 10  # a real picture, not a blank


# ---- IDX parsing ----


@pytest.mark.parametrize("code,dt", [(0x08, np.uint8), (0x09, np.int8), (0x0B, np.int16), (0x0C, np.int32),
                                     (0x0D, np.float32), (0x0E, np.float64)])  # fmt: skip
@pytest.mark.parametrize("gz", [False, True])
def test_read_idx(rng: np.random.Generator, tmp_path: pathlib.Path, code: int, dt: type, gz: bool) -> None:
    a = (rng.standard_normal((3, 4, 5)) * 100).astype(dt)
    raw = idx_bytes(a, code)
    p = tmp_path / "a.idx"
    p.write_bytes(gzip.compress(raw) if gz else raw)
    got = _read_idx(p)
    assert got.shape == a.shape and got.dtype == np.dtype(dt)
    np.testing.assert_array_equal(got, a)


def test_idx_errors(rng: np.random.Generator, tmp_path: pathlib.Path) -> None:
    good = idx_bytes(rng.integers(0, 256, (4, 3), dtype=np.uint8))
    cases = {
        "bad_magic": (b"\x01\x00" + good[2:], "not an IDX file"),
        "unknown_type": (good[:2] + b"\x07" + good[3:], "not an IDX file"),
        "empty": (b"", "not an IDX file"),
        "short_header": (good[:9], "ends inside its header"),
        "truncated": (good[:-1], "truncated"),
        "trailing": (good + b"\x00", "longer than its header"),
        "corrupt_gzip": (gzip.compress(good)[:-12] + bytes(12), "gzip"),
        "truncated_gzip": (gzip.compress(good)[:15], "gzip"),
    }
    for name, (raw, match) in cases.items():
        p = tmp_path / f"{name}.gz"
        p.write_bytes(raw)
        with pytest.raises(DatasetFormatError, match=match) as ei:
            _read_idx(p)
        assert str(p) in str(ei.value), name


# ---- mnist() on small generated datasets ----


def test_mnist_from_env_dir(rng: np.random.Generator, isolated: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    arrs = write_dataset(isolated / "mine", rng)
    monkeypatch.setenv("MNIST_DIR", str(isolated / "mine"))
    check_loaded(mnist(), arrs)
    # FASHION_MNIST_DIR is separate
    arrs_f = write_dataset(isolated / "fashion", rng, n_train=4, n_test=2)
    monkeypatch.setenv("FASHION_MNIST_DIR", str(isolated / "fashion"))
    check_loaded(mnist(fashion=True), arrs_f)


@pytest.mark.parametrize("variant", ["plain", "dotted", "dotted_gz"])
def test_mnist_file_name_variants(rng: np.random.Generator, isolated: pathlib.Path,
                                  monkeypatch: pytest.MonkeyPatch, variant: str) -> None:  # fmt: skip
    names = {k: {"plain": v, "dotted": v.replace("-idx", ".idx"), "dotted_gz": v.replace("-idx", ".idx") + ".gz"}[
        variant] for k, v in datasets._FILES.items()}  # fmt: skip
    arrs = write_dataset(isolated / "d", rng, names=names)
    monkeypatch.setenv("MNIST_DIR", str(isolated / "d"))
    check_loaded(mnist(), arrs)


def test_search_order(rng: np.random.Generator, isolated: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sys_arrs = write_dataset(isolated / "sys" / "mnist", rng, n_train=2, n_test=1)
    check_loaded(mnist(), sys_arrs)  # only the system folder has it
    cache_arrs = write_dataset(isolated / "cache" / "mnist", rng, n_train=3, n_test=1)
    check_loaded(mnist(), cache_arrs)  # the cache comes before the system folder
    env = isolated / "partial"
    write_dataset(env, rng)
    (env / "t10k-labels-idx1-ubyte.gz").unlink()
    monkeypatch.setenv("MNIST_DIR", str(env))
    check_loaded(mnist(), cache_arrs)  # an incomplete folder is passed over
    env_arrs = write_dataset(env, rng, n_train=5, n_test=2)
    check_loaded(mnist(), env_arrs)  # and a complete $MNIST_DIR comes first


def test_mismatched_files(rng: np.random.Generator, isolated: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = isolated / "d"
    monkeypatch.setenv("MNIST_DIR", str(d))
    write_dataset(d, rng)
    (d / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(6, np.uint8))))
    with pytest.raises(DatasetFormatError, match="7 images but .* 6 labels"):
        mnist()
    (d / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.full(7, 12, np.uint8))))
    with pytest.raises(DatasetFormatError, match="label 12 is out of range"):
        mnist()
    (d / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros((7, 2), np.uint8))))
    with pytest.raises(DatasetFormatError, match="expected uint8 labels"):
        mnist()


def test_offline_error_lists_every_place(isolated: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASHION_MNIST_DIR", str(isolated / "nope"))
    with pytest.raises(DatasetNotFoundError) as ei:
        mnist(fashion=True)
    msg = str(ei.value)
    for place in (isolated / "nope", isolated / "cache" / "fashion-mnist", isolated / "sys" / "fashion-mnist"):
        assert str(place) in msg
    assert "apt-get install dataset-fashion-mnist" in msg and "download" in msg
    assert isinstance(ei.value, FileNotFoundError)
    with pytest.raises(DatasetNotFoundError, match=r"MNIST_DIR"):
        mnist()


# ---- downloads ----


class Server:
    """A loopback HTTP server with fixed responses; counts requests per path."""

    def __init__(self, files: dict[str, bytes], lie_about_length: set[str] | None = None) -> None:
        self.files, self.lie, self.hits = files, lie_about_length or set(), {}  # type: ignore[var-annotated]
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.hits[self.path] = outer.hits.get(self.path, 0) + 1
                body = outer.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body) + (100 if self.path in outer.lie else 0)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(rng: np.random.Generator) -> Iterator[Server]:
    with Server({"/blob": rng.bytes(100_000), "/short": b"abc"}, lie_about_length={"/short"}) as s:
        yield s


def test_fetch_downloads_once(server: Server, isolated: pathlib.Path) -> None:
    p = fetch(server.url + "/blob", name="blob.bin", subdir="dl")
    assert p == isolated / "cache" / "dl" / "blob.bin" and p.read_bytes() == server.files["/blob"]
    assert fetch(server.url + "/blob", name="blob.bin", subdir="dl") == p
    assert server.hits["/blob"] == 1
    p.write_bytes(b"stale")
    assert fetch(server.url + "/blob", name="blob.bin", subdir="dl", allow_caching=False).read_bytes() == \
        server.files["/blob"]  # fmt: skip
    assert server.hits["/blob"] == 2
    default = fetch(server.url + "/blob")  # default name: a hash of the URL, under downloads/
    assert default.parent == isolated / "cache" / "downloads" and default.read_bytes() == server.files["/blob"]


def test_fetch_failures_leave_no_file(server: Server, isolated: pathlib.Path) -> None:
    with pytest.raises(FetchError, match="3 of 103 bytes"):
        fetch(server.url + "/short", name="short", subdir="dl")
    with pytest.raises(FetchError, match="HTTP 404 Not Found"):
        fetch(server.url + "/missing", name="missing", subdir="dl")
    with pytest.raises(FetchError, match="download failed"):
        fetch("http://127.0.0.1:1/x", name="x", subdir="dl")
    assert not any((isolated / "cache" / "dl").iterdir())
    assert isinstance(FetchError("x"), OSError)


def test_fetch_local_paths(tmp_path: pathlib.Path, isolated: pathlib.Path) -> None:
    f = tmp_path / "local.bin"
    f.write_bytes(b"data")
    assert fetch(str(f)) == f
    assert fetch(f.as_uri(), name="copied", subdir="dl").read_bytes() == b"data"


def test_mnist_downloads_into_the_cache(rng: np.random.Generator, isolated: pathlib.Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    arrs = write_dataset(isolated / "served", rng)
    files = {f"/mnist/{p.name}": p.read_bytes() for p in (isolated / "served").iterdir()}
    with Server(files) as s:
        monkeypatch.setitem(datasets._KINDS, False, ("mnist", "MNIST_DIR", s.url + "/mnist/"))
        check_loaded(mnist(), arrs)
        assert sorted(p.name for p in (isolated / "cache" / "mnist").iterdir()) == sorted(p.name for p in
                                                                                          (isolated / "served").iterdir())  # fmt: skip
    # the server is gone: the cached copy is enough
    check_loaded(mnist(), arrs)
