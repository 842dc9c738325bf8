"""Smoke test of bench/bench.py: the one-command benchmark runs end to end in --quick mode and reports every
workload. It checks completeness and agreement of results, never speed: timings belong in bench/, not in tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench" / "bench.py"

# the bench always runs this project on DEV=CPU in its own subprocesses, so one run per suite is enough
pytestmark = pytest.mark.skipif(
    os.environ.get("DEV", "CPU").upper().split(":")[0] != "CPU", reason="bench/bench.py measures DEV=CPU only"
)


def test_bench_quick_reports_every_workload(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    r = subprocess.run([sys.executable, str(BENCH), "--quick", "--out", str(tmp_path)], capture_output=True,
                       text=True, timeout=900, cwd=REPO)  # fmt: skip
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    res = json.loads((tmp_path / "results.json").read_text())
    sys.path.insert(0, str(BENCH.parent))
    try:
        import bench
    finally:
        sys.path.remove(str(BENCH.parent))
    fws = res["frameworks"]
    ours = fws["ours"]["results"]
    for name in bench.WORKLOADS + bench.STARTUP:
        assert name in ours, f"ours has no {name}: {ours.keys()}"
        assert ours[name].get("median_s", 0) > 0, f"ours {name}: {ours[name]}"
    for name in bench.WORKLOADS:
        assert ours[name]["runs"] >= 3, ours[name]
    # every workload also ran on at least one peer, and every peer agrees with the reference result
    for name in bench.WORKLOADS:
        assert any("median_s" in fws[fw]["results"].get(name, {}) for fw in ("numpy", "torch")), name
    assert res["mismatches"] == {}, res["mismatches"]
    # the first MNIST loss of a random 10-class model is near ln(10) in both frameworks
    assert abs(ours["mnist_step"]["check"] - fws["torch"]["results"]["mnist_step"]["check"]) < 1e-3
    assert 1.0 < ours["mnist_step"]["check"] < 5.0
    assert "ours / torch" in res["table"] and "| mnist_step |" in res["table"]
