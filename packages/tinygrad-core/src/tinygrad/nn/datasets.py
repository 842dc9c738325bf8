"""Datasets: MNIST and Fashion-MNIST as uint8 tensors, read from local IDX files or downloaded once.

Where the files are looked for, in order: the folder in $MNIST_DIR ($FASHION_MNIST_DIR for Fashion-MNIST), the
cache folder (cache_dir()/mnist or cache_dir()/fashion-mnist), the system folder a distribution package installs
(/usr/share/datasets/mnist, /usr/share/datasets/fashion-mnist: `apt-get install dataset-fashion-mnist`), and
only then the network (the download lands in the cache folder). A folder counts when it has all four files,
gzipped (train-images-idx3-ubyte.gz) or not (train-images-idx3-ubyte, or train-images.idx3-ubyte).
"""

from __future__ import annotations

import gzip
import os
import pathlib
import zlib

import numpy as np

from tinygrad.errors import TinygradError
from tinygrad.helpers import FetchError, cache_dir, fetch, prod
from tinygrad.tensor import Tensor

__all__ = ["DatasetNotFoundError", "DatasetFormatError", "mnist"]


class DatasetNotFoundError(TinygradError, FileNotFoundError):
    """A dataset that is neither on this machine nor downloadable; the message lists where it was looked for."""


class DatasetFormatError(TinygradError, ValueError):
    """A dataset file that is corrupt, truncated or not in the expected format."""


# the four files, by what they hold
_FILES = {
    "X_train": "train-images-idx3-ubyte",
    "Y_train": "train-labels-idx1-ubyte",
    "X_test": "t10k-images-idx3-ubyte",
    "Y_test": "t10k-labels-idx1-ubyte",
}
_KINDS = {
    False: ("mnist", "MNIST_DIR", "https://storage.googleapis.com/cvdf-datasets/mnist/"),
    True: ("fashion-mnist", "FASHION_MNIST_DIR", "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"),
}
SYSTEM_DIRS: dict[bool, list[str]] = {
    False: ["/usr/share/datasets/mnist"],
    True: ["/usr/share/datasets/fashion-mnist"],
}
_HOW_TO_GET = {
    False: "download the four .gz files of MNIST (e.g. from a mirror of yann.lecun.com/exdb/mnist) into {cache} or "
    "a folder named by $MNIST_DIR",
    True: "install them with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or put the four .gz files of "
    "Fashion-MNIST into {cache} or a folder named by $FASHION_MNIST_DIR",
}
# IDX element types: the third magic byte -> big-endian numpy dtype
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _variants(base: str) -> list[str]:
    # the original site's archives extract to names with a dot before "idx"
    dotted = base.replace("-idx", ".idx")
    return [base + ".gz", base, dotted + ".gz", dotted]


def _find_files(folder: pathlib.Path) -> tuple[dict[str, pathlib.Path], list[str]]:
    found, missing = {}, []
    for key, base in _FILES.items():
        hit = next((folder / n for n in _variants(base) if (folder / n).is_file()), None)
        if hit is None:
            missing.append(base + ".gz")
        else:
            found[key] = hit
    return found, missing


def _read_idx(path: pathlib.Path) -> np.ndarray:
    """An IDX file (gzipped or not) as a numpy array with its header's shape and dtype."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise DatasetFormatError(f"{path}: the gzip data is corrupt or truncated ({e}); delete the file and "
                                     "get it again") from e  # fmt: skip
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES or raw[3] == 0:
        raise DatasetFormatError(f"{path}: not an IDX file (magic {raw[:4].hex() or 'missing'}; expected "
                                 "00 00 <type> <rank>)")  # fmt: skip
    ndim, dt = raw[3], np.dtype(_IDX_TYPES[raw[2]])
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise DatasetFormatError(f"{path}: the file ends inside its header ({len(raw)} of {head} bytes)")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    need = prod(dims) * dt.itemsize
    if len(raw) - head != need:
        what = "truncated" if len(raw) - head < need else "longer than its header says"
        raise DatasetFormatError(f"{path}: the header says {dims} x {dt.itemsize} bytes = {need} bytes of data, the "
                                 f"file has {len(raw) - head}; it is {what}")  # fmt: skip
    return np.frombuffer(raw, dt, offset=head).astype(dt.newbyteorder("="), copy=False).reshape(dims)


def _load(files: dict[str, pathlib.Path], device: str | None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    arrs = {k: _read_idx(p) for k, p in files.items()}
    for split in ("train", "test"):
        x, y = arrs[f"X_{split}"], arrs[f"Y_{split}"]
        px, py = files[f"X_{split}"], files[f"Y_{split}"]
        if x.dtype != np.uint8 or x.ndim != 3:
            raise DatasetFormatError(f"{px}: expected uint8 images (N, rows, cols), got {x.dtype} {x.shape}")
        if y.dtype != np.uint8 or y.ndim != 1:
            raise DatasetFormatError(f"{py}: expected uint8 labels (N,), got {y.dtype} {y.shape}")
        if len(x) != len(y):
            raise DatasetFormatError(f"{px} has {len(x)} images but {py} has {len(y)} labels; the files don't match")
        if len(y) and int(y.max()) > 9:
            raise DatasetFormatError(f"{py}: label {int(y.max())} is out of range 0..9; the file is corrupt")
    xs = {k: arrs[k].reshape(len(arrs[k]), 1, *arrs[k].shape[1:]) for k in ("X_train", "X_test")}
    return (Tensor(xs["X_train"], device=device), Tensor(arrs["Y_train"], device=device),
            Tensor(xs["X_test"], device=device), Tensor(arrs["Y_test"], device=device))  # fmt: skip


def mnist(fashion: bool = False, device: str | None = None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(X_train, Y_train, X_test, Y_test) of MNIST, or Fashion-MNIST with fashion=True, as uint8 tensors of
    shapes (60000, 1, 28, 28), (60000,), (10000, 1, 28, 28), (10000,). See the module docstring for where the
    files are looked for; without them and without a network it raises DatasetNotFoundError saying where it
    looked and how to get them.

    >>> import os, pytest
    >>> if not os.path.isdir("/usr/share/datasets/fashion-mnist"): pytest.skip("apt-get install dataset-fashion-mnist")
    >>> X_train, Y_train, X_test, Y_test = mnist(fashion=True)
    >>> from tinygrad import dtypes
    >>> X_train.shape, Y_train.shape, X_test.shape, Y_test.shape, X_train.dtype == Y_test.dtype == dtypes.uint8
    ((60000, 1, 28, 28), (60000,), (10000, 1, 28, 28), (10000,), True)
    """
    kind, env, url = _KINDS[bool(fashion)]
    cache = cache_dir() / kind
    folders = ([pathlib.Path(os.environ[env])] if os.environ.get(env) else []) + [cache]
    folders += [pathlib.Path(d) for d in SYSTEM_DIRS[bool(fashion)]]
    searched = []
    for folder in folders:
        found, missing = _find_files(folder)
        if not missing:
            return _load(found, device)
        state = "does not exist" if not folder.is_dir() else f"lacks {', '.join(missing)}"
        searched.append(f"{folder} ({state})")
    try:
        files = {k: fetch(url + base + ".gz", name=base + ".gz", subdir=kind) for k, base in _FILES.items()}
    except FetchError as e:
        raise DatasetNotFoundError(
            f"mnist(fashion={bool(fashion)}): the {kind} files are not on this machine and the download failed.\n"
            f"  looked in: " + "\n             ".join(searched) + f"\n  download: {e}\n"
            f"  to fix: {_HOW_TO_GET[bool(fashion)].format(cache=cache)}"
        ) from e
    return _load(files, device)
