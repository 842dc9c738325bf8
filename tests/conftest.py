"""Shared fixtures for the test suite.

The op tests run on whichever device DEV selects (DEV=CPU, DEV=PYTHON, ...): they build tensors without a
device argument. Random inputs are fresh on every run; each test that uses the `rng` fixture prints its seed
and the seed is attached to the failure report. Rerun a failure with the same inputs via
TINYGRAD_TEST_SEED=<seed>.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import numpy as np
import pytest

SEED_ENV = "TINYGRAD_TEST_SEED"


def pytest_report_header(config: pytest.Config) -> list[str]:
    seed = os.environ.get(SEED_ENV)
    return [
        f"tinygrad device (DEV): {os.environ.get('DEV') or '<default>'}",
        f"random seed: {'fixed ' + seed + ' (' + SEED_ENV + ')' if seed else 'fresh per test'}",
    ]


@pytest.fixture
def seed(request: pytest.FixtureRequest) -> int:
    """A fresh 32-bit seed per test (or TINYGRAD_TEST_SEED), reported when the test fails."""
    env = os.environ.get(SEED_ENV)
    s = int(env) if env else secrets.randbits(32)
    request.node.user_properties.append(("random_seed", s))
    print(f"random seed {s}: rerun with {SEED_ENV}={s}")
    return s


@pytest.fixture
def rng(seed: int) -> np.random.Generator:
    """A numpy Generator seeded with the test's fresh seed."""
    return np.random.default_rng(seed)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for name, value in item.user_properties:
            if name == "random_seed":
                report.sections.append(("random seed", f"{SEED_ENV}={value}"))
