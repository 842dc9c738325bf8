"""Small shared utilities: environment/context variables, counters, iteration helpers, progress bars."""

from __future__ import annotations

import contextlib
import functools
import math
import os
import pathlib
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


# ---- iteration / arithmetic helpers ----


def prod(xs: Iterable[int]) -> int:
    return math.prod(xs)


def flatten(xss: Iterable[Iterable[T]]) -> list[T]:
    return [x for xs in xss for x in xs]


def dedup(xs: Iterable[T]) -> list[T]:
    return list(dict.fromkeys(xs))


def all_same(xs: Sequence[Any]) -> bool:
    return all(x == xs[0] for x in xs)


def argfix(*x: Any) -> tuple[Any, ...]:
    """Accept both f(1, 2, 3) and f((1, 2, 3)) / f([1, 2, 3])."""
    if len(x) == 1 and isinstance(x[0], (tuple, list)):
        return tuple(x[0])
    return tuple(x)


def make_tuple(x: int | Sequence[int], n: int) -> tuple[int, ...]:
    return (x,) * n if isinstance(x, int) else tuple(x)


def ceildiv(a: int, b: int) -> int:
    return -(-a // b)


def round_up(a: int, b: int) -> int:
    return ceildiv(a, b) * b


# ---- environment and context variables ----


@functools.cache
def getenv(key: str, default: Any = 0) -> Any:
    """Read an environment variable, converted to the type of `default` (cached: read once per process)."""
    val = os.environ.get(key)
    if val is None:
        return default
    return type(default)(val)


class ContextVar:
    """A named integer setting with an environment default, overridable with `Context(NAME=value)`."""

    _registry: dict[str, ContextVar] = {}

    def __init__(self, key: str, default: int) -> None:
        self.key, self.value = key, int(os.environ.get(key, default))
        ContextVar._registry[key] = self

    def __bool__(self) -> bool:
        return bool(self.value)

    def __int__(self) -> int:
        return self.value

    def __index__(self) -> int:
        return self.value

    def __ge__(self, x: int) -> bool:
        return self.value >= x

    def __gt__(self, x: int) -> bool:
        return self.value > x

    def __lt__(self, x: int) -> bool:
        return self.value < x

    def __le__(self, x: int) -> bool:
        return self.value <= x

    def __eq__(self, x: object) -> bool:
        return self.value == x

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"{self.key}={self.value}"


class Context(contextlib.ContextDecorator):
    """Temporarily override context variables: `with Context(DEBUG=2): ...` or as a decorator."""

    def __init__(self, **kwargs: int) -> None:
        unknown = [k for k in kwargs if k not in ContextVar._registry]
        if unknown:
            raise KeyError(
                f"Context({', '.join(unknown)}=...): unknown context variable; "
                f"known ones are {sorted(ContextVar._registry)}"
            )
        self.kwargs = kwargs
        self.old: dict[str, int] = {}

    def __enter__(self) -> Context:
        self.old = {k: ContextVar._registry[k].value for k in self.kwargs}
        for k, v in self.kwargs.items():
            ContextVar._registry[k].value = int(v)
        return self

    def __exit__(self, *exc: object) -> None:
        for k, v in self.old.items():
            ContextVar._registry[k].value = v


# every variable is documented in docs/env_vars.md
DEBUG = ContextVar("DEBUG", 0)
NOOPT = ContextVar("NOOPT", 0)
BEAM = ContextVar("BEAM", 0)
JIT = ContextVar("JIT", 1)
TRAINING = ContextVar("TRAINING", 0)
CACHELEVEL = ContextVar("CACHELEVEL", 2)
PROFILE = ContextVar("PROFILE", 0)


# ---- counters ----


class GlobalCounters:
    """Process-wide totals of work done since the last reset()."""

    global_ops: int = 0
    global_mem: int = 0
    time_sum_s: float = 0.0
    kernel_count: int = 0
    mem_used: int = 0

    @staticmethod
    def reset() -> None:
        GlobalCounters.global_ops, GlobalCounters.global_mem = 0, 0
        GlobalCounters.time_sum_s, GlobalCounters.kernel_count = 0.0, 0


# ---- output ----


def colored(st: str, color: str | None, background: bool = False) -> str:
    if color is None:
        return st
    colors = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"]
    code = 30 + colors.index(color.lower()) + 60 * (color.upper() == color) + 10 * background
    return f"\u001b[{code}m{st}\u001b[0m"


def to_function_name(s: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else f"{ord(c):02X}" for c in s)


# ---- caching directory ----


def cache_dir() -> pathlib.Path:
    """Where compiled kernels and downloads persist; CACHEDIR overrides, else XDG_CACHE_HOME or ~/.cache."""
    base = os.environ.get("CACHEDIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "tinygrad-core"
    )
    p = pathlib.Path(base)
    p.mkdir(parents=True, exist_ok=True)
    return p


# ---- timing and progress ----


@contextlib.contextmanager
def Timing(prefix: str = "", enabled: bool = True) -> Iterator[None]:
    st = time.perf_counter_ns()
    try:
        yield
    finally:
        if enabled:
            print(f"{prefix}{(time.perf_counter_ns() - st) * 1e-6:6.2f} ms")


class tqdm:
    """A minimal progress bar (no dependency): iterate, `set_description`, `update`."""

    def __init__(
        self,
        iterable: Iterable[Any] | None = None,
        desc: str = "",
        total: int | None = None,
        disable: bool = False,
        file: Any = None,
    ) -> None:
        self.iterable, self.desc, self.disable = iterable, desc, disable
        self.total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)  # type: ignore[arg-type]
        self.n, self.st, self.file = 0, time.perf_counter(), file or sys.stderr
        self._last = 0.0

    def __iter__(self) -> Iterator[Any]:
        if self.iterable is None:
            raise TypeError("tqdm(total=...) without an iterable is driven with update(n), not iterated; "
                            "pass the iterable to tqdm(...) to loop over it")  # fmt: skip
        for x in self.iterable:
            yield x
            self.update(1)
        self.close()

    def set_description(self, desc: str) -> None:
        self.desc = desc
        self._draw(force=True)

    def update(self, n: int = 1) -> None:
        self.n += n
        self._draw()

    def _draw(self, force: bool = False) -> None:
        if self.disable:
            return
        now = time.perf_counter()
        if not force and now - self._last < 0.1 and self.n != self.total:
            return
        self._last = now
        el = now - self.st
        rate = self.n / el if el > 0 else 0.0
        if self.total:
            frac = self.n / self.total
            bar = "█" * int(frac * 20) + " " * (20 - int(frac * 20))
            prog = f"{frac * 100:3.0f}%|{bar}| {self.n}/{self.total}"
        else:
            prog = f"{self.n}"
        self.file.write(f"\r{self.desc}{': ' if self.desc else ''}{prog} [{el:.1f}s, {rate:.2f}it/s]")
        self.file.flush()

    def close(self) -> None:
        if not self.disable:
            self._draw(force=True)
            self.file.write("\n")
            self.file.flush()

    def __enter__(self) -> tqdm:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def trange(n: int, **kwargs: Any) -> tqdm:
    return tqdm(range(n), total=n, **kwargs)


def unwrap(x: T | None) -> T:
    assert x is not None
    return x


def partition(xs: Iterable[T], pred: Callable[[T], bool]) -> tuple[list[T], list[T]]:
    a: list[T] = []
    b: list[T] = []
    for x in xs:
        (a if pred(x) else b).append(x)
    return a, b


# ---- downloads ----

from tinygrad.errors import TinygradError  # noqa: E402  (errors.py imports nothing, so this cannot cycle)


class FetchError(TinygradError, OSError):
    """A download that failed: no network, an HTTP error, or a transfer cut short."""


def fetch(url: str, name: str | None = None, subdir: str | None = None, allow_caching: bool = True) -> pathlib.Path:
    """Download `url` once into the cache directory and return the local path; later calls reuse the file.

    The file lands in cache_dir()/subdir/name (subdir defaults to "downloads", name to a hash of the url). It is
    written to a temporary file and renamed into place, so an interrupted download never leaves a partial file
    that a later call would trust. allow_caching=False downloads again. Local paths are returned as they are.

    >>> p = fetch(pathlib.Path(__file__).as_uri(), name="helpers.py", subdir="doctest-fetch", allow_caching=False)
    >>> p.name, p.read_bytes() == pathlib.Path(__file__).read_bytes()
    ('helpers.py', True)
    """
    import hashlib
    import tempfile
    import urllib.error
    import urllib.request

    if url.startswith(("/", ".")):
        return pathlib.Path(url)
    fp = cache_dir() / (subdir or "downloads") / (name or hashlib.sha256(url.encode()).hexdigest()[:32])
    if allow_caching and fp.is_file():
        return fp
    fp.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=fp.parent, prefix=f".{fp.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            try:
                with urllib.request.urlopen(url, timeout=getenv("FETCH_TIMEOUT", 30.0)) as r:
                    total = int(r.headers.get("content-length") or 0) or None
                    with tqdm(desc=f"fetch {fp.name}", total=total, disable=not sys.stderr.isatty()) as bar:
                        got = 0
                        while chunk := r.read(1 << 16):
                            f.write(chunk)
                            got += len(chunk)
                            bar.update(len(chunk))
            except (urllib.error.URLError, OSError, ValueError) as e:
                http = isinstance(e, urllib.error.HTTPError)
                reason = f"HTTP {e.code} {e.reason}" if http else getattr(e, "reason", e)  # type: ignore[attr-defined]
                raise FetchError(f"fetch({url!r}): download failed: {reason}; check the URL and the network, or "
                                 f"put the file at {fp} yourself") from e  # fmt: skip
            if total is not None and got != total:
                raise FetchError(f"fetch({url!r}): the server sent {got} of {total} bytes; try again")
        os.replace(tmp, fp)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return fp
