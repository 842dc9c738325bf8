"""The test matrix: one session per device the shared suite runs on, plus backend, lint and typecheck sessions.

`nox -l` lists them; `nox -s cpu` runs one. Each session builds its own virtualenv with editable installs.
"""

from __future__ import annotations

from collections.abc import Callable

import nox

nox.options.sessions = ["lint", "cpu_backend", "cpu", "python"]
nox.options.reuse_venv = "yes"

CORE = "packages/tinygrad-core"

# device the shared suite runs on -> (DEV value, backend packages it needs besides core)
SHARED_SUITE: dict[str, tuple[str, list[str]]] = {
    "cpu": ("CPU", ["packages/tinygrad-cpu"]),
    "python": ("PYTHON", []),  # core alone: also proves core works with no backend installed
}


def _install(session: nox.Session, *packages: str) -> None:
    args = ["-e", f"{CORE}[test]"]
    for pkg in packages:
        args += ["-e", pkg]
    session.install(*args)


def _shared_suite(dev: str, packages: list[str]) -> Callable[[nox.Session], None]:
    def run(session: nox.Session) -> None:
        _install(session, *packages)
        session.run("python", "-m", "pytest", "tests", "-q", *session.posargs, env={"DEV": dev})

    run.__doc__ = f"Shared suite tests/ on DEV={dev}."
    return run


for _name, (_dev, _packages) in SHARED_SUITE.items():
    nox.session(name=_name)(_shared_suite(_dev, _packages))


@nox.session
def cpu_backend(session: nox.Session) -> None:
    """The CPU backend's own tests (compiler, loading, caching)."""
    _install(session, "packages/tinygrad-cpu")
    session.run("python", "-m", "pytest", "packages/tinygrad-cpu/tests", "-q", *session.posargs)


@nox.session
def cuda_compile(session: nox.Session) -> None:
    """CUDA backend without a GPU: renderer, NVRTC compiles of a kernel corpus (sm_80, sm_90), fake-driver runtime."""
    _install(session, "packages/tinygrad-cuda")  # pulls the NVRTC and CUDA header wheels
    env = {"TINYGRAD_REQUIRE_NVRTC": "1"}  # a missing NVRTC fails here instead of skipping
    session.run("python", "-m", "pytest", "packages/tinygrad-cuda/tests", "-q", *session.posargs, env=env)


@nox.session
def cuda_compile_suite(session: nox.Session) -> None:
    """Shared suite on DEV=CPU, also compiling every kernel it builds for CUDA with NVRTC (sm_80, sm_90)."""
    _install(session, "packages/tinygrad-cpu", "packages/tinygrad-cuda")
    args = ["tests", "-q", "-p", "tinygrad_cuda.compile_check", *session.posargs]
    session.run("python", "-m", "pytest", *args, env={"DEV": "CPU"})


@nox.session
def plugin_example(session: nox.Session) -> None:
    """The example NPY backend, pip-installed from examples/backend-plugin as a user would, on the conformance suite."""
    _install(session)
    session.install("./examples/backend-plugin")  # a regular (non-editable) install: entry point from real metadata
    session.run("python", "-m", "tinygrad", "doctor")
    session.run("python", "-m", "pytest", "examples/backend-plugin/tests", "-q", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole repo."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy over tinygrad-core (settings in the root pyproject.toml)."""
    _install(session)
    session.install("mypy")
    session.run("mypy")
