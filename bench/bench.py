"""Side-by-side benchmark: the same workloads through numpy, torch (eager and torch.compile) and this project.

    python bench/bench.py [--quick] [--peer-python PATH] [--out DIR]

Each framework runs in its own subprocess, one after the other (never concurrently), so their thread pools and
allocators don't disturb each other and numpy can run with the OpenBLAS kernel this CPU would pick by itself
(OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for the numpy process only). This project runs on DEV=CPU with
a fresh kernel cache (CACHEDIR in a temp folder) shared by its cold-start, warm-start and timing processes.

Every workload is warmed up first (that is where kernels compile) and timed N times; the tables show medians.
For this project one run is: build the lazy graph, realize it, synchronize the device. The MNIST train step runs
under TinyJit (after the eager call and the capturing call, so it times replays). Every framework's result is
checked against numpy's (or torch's where numpy has no equivalent) with a loose tolerance, so a fast wrong
answer shows up as a flagged cell rather than a win.

Writes DIR/results.json (every timing and the machine facts) and DIR/bench.png (a bar chart, if matplotlib is
installed: `pip install matplotlib`); prints the tables in markdown. `--quick` shrinks every size for a smoke run.
`--peer-python PATH` also runs the tinygrad workloads under another interpreter that imports an original
tinygrad, as one more column; it is skipped, with a note, when that interpreter has no tinygrad or has this one.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

# ---- workloads: sizes and how to count their work ----

FULL: dict[str, Any] = {
    "matmul_1024": 1024,
    "matmul_2048": 2048,
    "elementwise": 1 << 24,
    "rowsum": 4096,
    "softmax": 4096,
    "conv2d": (32, 3, 64, 64),  # batch, in channels, out channels, height = width
    "mnist_step": (512, (32, 32, 64, 64)),  # batch, conv channels
    "dispatch": 16,
}
QUICK: dict[str, Any] = {
    "matmul_1024": 64,
    "matmul_2048": 96,
    "elementwise": 1 << 14,
    "rowsum": 128,
    "softmax": 128,
    "conv2d": (2, 3, 4, 8),
    "mnist_step": (8, (4, 4, 8, 8)),
    "dispatch": 16,
}
WORKLOADS = list(FULL)
STARTUP = ["cold_start", "warm_start"]  # rows filled by the main process, not by the workers
# timed runs per workload (at least 3, then until RUNS or the time budget is reached); dispatch is timed per call
RUNS = {"default": 10, "mnist_step": 5, "dispatch": 2000}
QUICK_RUNS = {"default": 3, "mnist_step": 3, "dispatch": 200}
BUDGET_S = 30.0


def describe(name: str, p: Any) -> str:
    if name.startswith("matmul"):
        return f"matmul fp32 {p}x{p} @ {p}x{p}"
    if name == "elementwise":
        return f"(a*b+c).relu()*0.5 + a.exp()*0.1, {p / 2**20:g}M floats"
    if name == "rowsum":
        return f"sum(axis=1) of {p}x{p}"
    if name == "softmax":
        return f"softmax(-1) of {p}x{p}"
    if name == "conv2d":
        b, ci, co, hw = p
        return f"conv2d {b}x{ci}x{hw}x{hw}, {ci}->{co} 3x3, pad 1"
    if name == "mnist_step":
        b, ch = p
        return f"MNIST train step, batch {b}, convs {'/'.join(map(str, ch))}, Adam"
    if name == "dispatch":
        return f"one tiny op (t + 1) on {p} floats, realized"
    return name


def work(name: str, p: Any) -> tuple[float, str] | None:
    """(amount, unit) of work one run does: FLOPs, bytes moved (minimal traffic) or images."""
    if name.startswith("matmul"):
        return 2.0 * p**3, "FLOP"
    if name == "elementwise":
        return 4.0 * 4 * p, "B"  # three float32 inputs read, one written
    if name == "rowsum":
        return 4.0 * (p * p + p), "B"
    if name == "softmax":
        return 4.0 * 2 * p * p, "B"  # read once, written once
    if name == "conv2d":
        b, ci, co, hw = p
        return 2.0 * b * co * hw * hw * ci * 9, "FLOP"
    if name == "mnist_step":
        return float(p[0]), "img"
    return None


# ---- shared inputs (every framework computes on the same numbers, so results can be compared) ----


def make_data(name: str, p: Any) -> dict[str, Any]:
    import numpy as np

    rng = np.random.default_rng(1234)

    def f32(*shape: int, lo: float = -1.0, hi: float = 1.0) -> Any:
        return rng.uniform(lo, hi, shape).astype(np.float32)

    if name.startswith("matmul"):
        return {"a": f32(p, p, lo=0.0), "b": f32(p, p, lo=0.0)}  # positive, so the checksum can't cancel to ~0
    if name == "elementwise":
        return {"a": f32(p), "b": f32(p), "c": f32(p)}
    if name in ("rowsum", "softmax"):
        return {"x": f32(p, p, lo=-4.0, hi=4.0)}
    if name == "conv2d":
        b, ci, co, hw = p
        return {"x": f32(b, ci, hw, hw), "w": f32(co, ci, 3, 3)}
    if name == "mnist_step":
        b, ch = p
        c1, c2, c3, c4 = ch
        shapes = [(c1, 1, 5, 5), (c2, c1, 5, 5), (c3, c2, 3, 3), (c4, c3, 3, 3), (10, c4 * 9)]
        params = []
        for s in shapes:
            bound = 1 / math.sqrt(math.prod(s[1:]))
            params.append((f32(*s, lo=-bound, hi=bound), f32(s[0], lo=-bound, hi=bound)))
        return {"x": rng.standard_normal((b, 1, 28, 28)).astype(np.float32),
                "y": rng.integers(0, 10, b).astype(np.int32), "params": params}  # fmt: skip
    if name == "dispatch":
        return {"t": f32(p)}
    raise KeyError(name)


def checksum(x: Any) -> float:
    import numpy as np

    return float(np.abs(np.asarray(x, dtype=np.float64)).sum())


# ---- numpy ----


def numpy_make(name: str, p: Any, d: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[Any], float]] | None:
    import numpy as np

    if name.startswith("matmul"):
        a, b = d["a"], d["b"]
        return (lambda: a @ b), checksum
    if name == "elementwise":
        a, b, c = d["a"], d["b"], d["c"]
        return (lambda: np.maximum(a * b + c, 0) * 0.5 + np.exp(a) * 0.1), checksum
    if name == "rowsum":
        x = d["x"]
        return (lambda: x.sum(axis=1)), checksum
    if name == "softmax":
        x = d["x"]

        def softmax() -> Any:
            e = np.exp(x - x.max(axis=-1, keepdims=True))
            return e / e.sum(axis=-1, keepdims=True)

        return softmax, checksum
    if name == "conv2d":
        x, w = d["x"], d["w"]
        from numpy.lib.stride_tricks import sliding_window_view

        def conv() -> Any:  # im2col as a strided view, contracted with BLAS by tensordot, back to NCHW
            cols = sliding_window_view(np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1))), (3, 3), axis=(2, 3))
            return np.ascontiguousarray(np.tensordot(cols, w, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2))

        return conv, checksum
    if name == "dispatch":
        t = d["t"]
        return (lambda: t + 1), lambda out: 0.0
    return None  # no numpy training step


# ---- torch ----


def torch_make(name: str, p: Any, d: dict[str, Any], compiled: bool = False) -> Any:
    import torch
    import torch.nn.functional as F

    T = {k: torch.from_numpy(v) for k, v in d.items() if k not in ("params", "y")}
    cs = lambda out: checksum(out.detach().numpy())  # noqa: E731
    if compiled:
        if name != "elementwise":
            return None
        a, b, c = T["a"], T["b"], T["c"]
        fn = torch.compile(lambda a, b, c: torch.relu(a * b + c) * 0.5 + torch.exp(a) * 0.1)
        return (lambda: fn(a, b, c)), cs
    if name.startswith("matmul"):
        a, b = T["a"], T["b"]
        return (lambda: a @ b), cs
    if name == "elementwise":
        a, b, c = T["a"], T["b"], T["c"]
        return (lambda: torch.relu(a * b + c) * 0.5 + torch.exp(a) * 0.1), cs
    if name == "rowsum":
        x = T["x"]
        return (lambda: x.sum(dim=1)), cs
    if name == "softmax":
        x = T["x"]
        return (lambda: torch.softmax(x, dim=-1)), cs
    if name == "conv2d":
        x, w = T["x"], T["w"]
        return (lambda: F.conv2d(x, w, padding=1)), cs
    if name == "dispatch":
        t = T["t"]
        return (lambda: t + 1), lambda out: 0.0
    if name == "mnist_step":
        return torch_mnist(p, d)
    return None


def torch_mnist(p: Any, d: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[Any], float]]:
    import torch
    import torch.nn.functional as F

    b, (c1, c2, c3, c4) = p
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, c1, 5), nn.ReLU(), nn.Conv2d(c1, c2, 5), nn.ReLU(), nn.BatchNorm2d(c2), nn.MaxPool2d(2),
        nn.Conv2d(c2, c3, 3), nn.ReLU(), nn.Conv2d(c3, c4, 3), nn.ReLU(), nn.BatchNorm2d(c4), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(c4 * 9, 10),
    )  # fmt: skip
    with torch.no_grad():
        layers = [m for m in model if isinstance(m, (nn.Conv2d, nn.Linear))]
        for m, (w, bias) in zip(layers, d["params"]):
            m.weight.copy_(torch.from_numpy(w))
            m.bias.copy_(torch.from_numpy(bias))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.from_numpy(d["x"]), torch.from_numpy(d["y"]).long()
    model.train()

    def step() -> Any:
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step, lambda loss: float(loss.item())


# ---- tinygrad (this project, or an original tinygrad under --peer-python: only API both share) ----


def tinygrad_make(name: str, p: Any, d: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[Any], float]] | None:
    from tinygrad import Device, Tensor

    sync = Device[Device.DEFAULT].synchronize
    T = {k: Tensor(v).realize() for k, v in d.items() if k not in ("params", "y")}
    cs = lambda out: checksum(out.numpy())  # noqa: E731

    def timed(build: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            out = build().realize()
            sync()
            return out

        return run

    if name.startswith("matmul"):
        a, b = T["a"], T["b"]
        return timed(lambda: a @ b), cs
    if name == "elementwise":
        a, b, c = T["a"], T["b"], T["c"]
        return timed(lambda: (a * b + c).relu() * 0.5 + a.exp() * 0.1), cs
    if name == "rowsum":
        x = T["x"]
        return timed(lambda: x.sum(axis=1)), cs
    if name == "softmax":
        x = T["x"]
        return timed(lambda: x.softmax(-1)), cs
    if name == "conv2d":
        x, w = T["x"], T["w"]
        return timed(lambda: x.conv2d(w, padding=1)), cs
    if name == "dispatch":
        t = T["t"]
        return timed(lambda: t + 1), lambda out: 0.0
    if name == "mnist_step":
        return tinygrad_mnist(p, d)
    return None


def tinygrad_mnist(p: Any, d: dict[str, Any]) -> tuple[Callable[[], Any], Callable[[Any], float]]:
    from tinygrad import Device, Tensor, TinyJit, nn
    from tinygrad.nn.optim import Adam
    from tinygrad.nn.state import get_parameters

    b, (c1, c2, c3, c4) = p
    convs = [nn.Conv2d(1, c1, 5), nn.Conv2d(c1, c2, 5), nn.Conv2d(c2, c3, 3), nn.Conv2d(c3, c4, 3)]
    lin = nn.Linear(c4 * 9, 10)
    for m, (w, bias) in zip([*convs, lin], d["params"]):
        m.weight, m.bias = Tensor(w), Tensor(bias)
    bn1, bn2 = nn.BatchNorm(c2), nn.BatchNorm(c4)
    layers = [convs[0], Tensor.relu, convs[1], Tensor.relu, bn1, Tensor.max_pool2d,
              convs[2], Tensor.relu, convs[3], Tensor.relu, bn2, Tensor.max_pool2d, lambda t: t.flatten(1), lin]  # fmt: skip
    model = [convs, lin, bn1, bn2]
    opt = Adam(get_parameters(model), lr=1e-3)
    x, y = Tensor(d["x"]).realize(), Tensor(d["y"]).realize()
    sync = Device[Device.DEFAULT].synchronize

    @TinyJit
    def jit_step(x: Tensor, y: Tensor) -> Tensor:
        with Tensor.train():
            opt.zero_grad()
            out = x
            for layer in layers:
                out = layer(out)
            loss = out.sparse_categorical_crossentropy(y).backward()
            # one schedule for the loss and the update; realizing the update first would let the lazy loss read
            # the already-updated weights
            if hasattr(opt, "schedule_step"):
                Tensor.realize(loss, *opt.schedule_step())
            else:  # an older tinygrad: the forward runs twice, but the loss is the one before the update
                loss.realize()
                opt.step()
            return loss

    def step() -> Any:
        loss = jit_step(x, y)
        sync()
        return loss

    return step, lambda loss: float(loss.item())


# ---- the worker: one framework, every workload, results as JSON ----


def time_runs(run: Callable[[], Any], runs: int, budget_s: float) -> tuple[list[float], Any]:
    times: list[float] = []
    out = None
    start = time.perf_counter()
    while len(times) < runs and (len(times) < 3 or time.perf_counter() - start < budget_s):
        st = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - st)
    return times, out


def framework_info(fw: str) -> dict[str, Any]:
    info: dict[str, Any] = {"python": platform.python_version()}
    if fw == "numpy":
        import numpy as np

        info["version"] = np.__version__
        try:
            import threadpoolctl

            info["blas"] = [{k: v for k, v in lib.items() if k in ("internal_api", "architecture", "num_threads")}
                            for lib in threadpoolctl.threadpool_info()]  # fmt: skip
        except ImportError:
            info["blas"] = "unknown (pip install threadpoolctl to see which BLAS kernel runs)"
        info["env"] = {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    elif fw.startswith("torch"):
        import torch

        info["version"], info["threads"] = torch.__version__, torch.get_num_threads()
    else:
        import tinygrad
        from tinygrad import Device

        info["version"] = getattr(tinygrad, "__version__", "?")
        info["path"] = os.path.dirname(os.path.realpath(tinygrad.__file__))
        info["device"] = Device.DEFAULT
    return info


def worker(fw: str, quick: bool, label: str) -> dict[str, Any]:
    sizes, runs = (QUICK, QUICK_RUNS) if quick else (FULL, RUNS)
    results: dict[str, Any] = {}
    for name in WORKLOADS:
        if fw == "torch.compile" and name != "elementwise":
            continue
        p = sizes[name]
        try:
            data = make_data(name, p)
            if fw == "numpy":
                made = numpy_make(name, p, data)
            elif fw.startswith("torch"):
                made = torch_make(name, p, data, compiled=fw == "torch.compile")
            else:
                made = tinygrad_make(name, p, data)
            if made is None:
                continue
            run, check = made
            t0 = time.perf_counter()
            warmup = 3 if name == "mnist_step" else 2 if name != "dispatch" else 50
            first_check = check(run())  # the train step's first loss: before any update, so comparable
            for _ in range(warmup - 1):  # compiles; the JIT step needs an eager call and a capturing call first
                run()
            warm_s = time.perf_counter() - t0
            n = runs.get(name, runs["default"])
            times, out = time_runs(run, n, BUDGET_S if name != "dispatch" else 1e9)
        except Exception as e:  # one broken workload must not cost the others their numbers
            results[name] = {"error": f"{type(e).__name__}: {e}"[:500]}
            print(f"  {label:<14} {name:<12} ERROR {results[name]['error']}", file=sys.stderr, flush=True)
            continue
        res = {"median_s": statistics.median(times), "min_s": min(times), "runs": len(times),
               "warmup_s": warm_s, "check": first_check, "times_s": times if len(times) <= 50 else None}  # fmt: skip
        if name == "mnist_step":
            res["last_loss"] = check(out)  # training for a few steps must not turn the loss into nan
        results[name] = res
        print(
            f"  {label:<14} {name:<12} {fmt_time(res['median_s']):>9} median of {len(times)}",
            file=sys.stderr,
            flush=True,
        )
    return {"framework": fw, "info": framework_info(fw), "results": results}


def cold_start(fw: str, quick: bool) -> dict[str, Any]:
    """Time from script start to the first MNIST train step's loss, in a fresh process."""
    t0 = time.perf_counter()
    if fw.startswith("torch"):
        import torch  # noqa: F401
    else:
        import tinygrad  # noqa: F401
    t_import = time.perf_counter()
    p = (QUICK if quick else FULL)["mnist_step"]
    data = make_data("mnist_step", p)
    run, check = torch_mnist(p, data) if fw.startswith("torch") else tinygrad_mnist(p, data)
    t_build = time.perf_counter()
    loss = check(run())
    t_end = time.perf_counter()
    return {"import_s": t_import - t0, "build_s": t_build - t_import, "first_step_s": t_end - t_build,
            "total_s": t_end - t0, "loss": loss}  # fmt: skip


# ---- the main process: run every framework, then tabulate ----


def fmt_time(s: float | None) -> str:
    if s is None:
        return "—"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if s >= scale or unit == "us":
            v = s / scale
            return f"{v:.3g} {unit}" if v < 100 else f"{v:.0f} {unit}"
    return f"{s:.3g} s"


def fmt_rate(amount: float, unit: str, s: float) -> str:
    r = amount / s
    if unit == "img":
        return f"{r:.3g} img/s"
    return f"{r / 1e9:.3g} G{unit}/s"


def run_json(cmd: list[str], env: dict[str, str], timeout: float, cwd: str | None = None) -> tuple[Any, str | None]:
    """Run a worker; it writes its JSON to a file named by the last argument. Returns (json, error)."""
    fd, path = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    try:
        st = time.perf_counter()
        r = subprocess.run([*cmd, "--json-out", path], env=env, timeout=timeout, cwd=cwd,
                           stdout=subprocess.PIPE, stderr=None, text=True)  # fmt: skip
        wall = time.perf_counter() - st
        if r.returncode != 0:
            return None, f"exit {r.returncode}: {r.stdout[-500:]}"
        with open(path) as f:
            out = json.load(f)
        if isinstance(out, dict):
            out["wall_s"] = wall
        return out, None
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout:.0f} s"
    finally:
        os.unlink(path)


def peer_check(python: str) -> str | None:
    """None if `python` imports a tinygrad other than this project's, else why the peer column is skipped."""
    if shutil.which(python) is None and not os.access(python, os.X_OK):
        return f"--peer-python {python}: no such interpreter"
    try:
        r = subprocess.run([python, "-c", "import os, tinygrad; print(os.path.realpath(tinygrad.__file__))"],
                           capture_output=True, text=True, timeout=120, cwd=tempfile.gettempdir())  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"--peer-python {python}: could not run it ({e})"
    if r.returncode != 0:
        return f"--peer-python {python}: cannot import tinygrad ({r.stderr.strip().splitlines()[-1:]})"
    if os.path.realpath(r.stdout.strip()).startswith(os.path.realpath(REPO) + os.sep):
        return f"--peer-python {python}: it imports this project's tinygrad, not an original one"
    return None


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(), "loadavg_at_start": load}


def tabulate(res: dict[str, Any], sizes: dict[str, Any]) -> str:
    cols = [c for c in ("numpy", "torch", "torch.compile", "ours", "tinygrad (peer)") if c in res["frameworks"]]
    fws = res["frameworks"]
    vs = [c for c in ("numpy", "torch", "tinygrad (peer)") if c in cols] if "ours" in cols else []

    def cell(fw: str, name: str) -> dict[str, Any] | None:
        r = fws.get(fw, {}).get("results", {}).get(name)
        return r if r and "median_s" in r else None

    def mark(fw: str, name: str) -> str:
        return " (!)" if name in res.get("mismatches", {}).get(fw, []) else ""

    head = "| workload | " + " | ".join([*cols, *(f"ours / {c}" for c in vs)]) + " |"
    lines = ["### median time per run (ratios: ours time / their time, >1 means ours is slower)", "", head,
             "|" + "---|" * (1 + len(cols) + len(vs))]  # fmt: skip
    for name in WORKLOADS + STARTUP:
        row = [name]
        for c in cols:
            r = cell(c, name)
            note = fws[c].get("results", {}).get(name, {})
            row.append(fmt_time(r["median_s"]) + mark(c, name) if r else ("error" if "error" in note else "—"))
        ours = cell("ours", name)
        for c in vs:
            r = cell(c, name)
            row.append(f"{ours['median_s'] / r['median_s']:.2f}x" if ours and r else "—")
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "### derived throughput", "", "| workload | what | " + " | ".join(cols) + " |",
              "|" + "---|" * (2 + len(cols))]  # fmt: skip
    for name in WORKLOADS:
        w = work(name, sizes[name])
        row = [name, describe(name, sizes[name])]
        for c in cols:
            r = cell(c, name)
            row.append(fmt_rate(w[0], w[1], r["median_s"]) if r and w else "—")
        lines.append("| " + " | ".join(row) + " |")
    notes = [f"- {fw}: {name}: {r['error'] if 'error' in r else r['skipped']}" for fw in cols
             for name, r in fws[fw].get("results", {}).items() if "error" in r or "skipped" in r]  # fmt: skip
    notes += [f"- {n}" for n in res.get("notes", [])]
    for fw, names in res.get("mismatches", {}).items():
        notes.append(f"- (!) {fw}: result differs from the reference for {', '.join(names)}")
    if notes:
        lines += ["", "notes:", *notes]
    return "\n".join(lines)


def find_mismatches(res: dict[str, Any]) -> dict[str, list[str]]:
    fws = res["frameworks"]
    bad: dict[str, list[str]] = {}
    for name in WORKLOADS:
        ref = next((fws[f]["results"][name]["check"] for f in ("numpy", "torch")
                    if f in fws and "check" in fws[f].get("results", {}).get(name, {})), None)  # fmt: skip
        if ref is None:
            continue
        for fw, v in fws.items():
            r = v.get("results", {}).get(name, {})
            if "check" in r and not math.isclose(r["check"], ref, rel_tol=1e-3, abs_tol=1e-6):
                bad.setdefault(fw, []).append(name)
            if name == "mnist_step" and "last_loss" in r and not math.isfinite(r["last_loss"]):
                bad.setdefault(fw, []).append(f"{name} (loss became {r['last_loss']} while timing)")
    return bad


def chart(res: dict[str, Any], path: str) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "no chart: matplotlib is not installed (pip install matplotlib)"
    fws = res["frameworks"]
    cols = [c for c in ("numpy", "torch", "torch.compile", "ours", "tinygrad (peer)") if c in fws]
    if not cols:
        return "no chart: no framework produced results"
    ref = "torch" if "torch" in cols else cols[0]
    names = [n for n in WORKLOADS + STARTUP if "median_s" in fws[ref].get("results", {}).get(n, {})]
    fig, ax = plt.subplots(figsize=(12, 5))
    width = 0.8 / len(cols)
    for i, c in enumerate(cols):
        vals = []
        for n in names:
            r, t = fws[c].get("results", {}).get(n, {}), fws[ref]["results"][n]
            vals.append(r["median_s"] / t["median_s"] if "median_s" in r else 0)
        ax.bar([j + i * width for j in range(len(names))], vals, width, label=c)
    ax.set_yscale("log")
    ax.axhline(1.0, color="gray", lw=0.8)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(names))], names, rotation=20)
    ax.set_ylabel(f"median time / {ref} time (log; lower is faster)")
    ax.set_title(
        f"{res['machine']['cpu']}, {res['machine']['cores']} cores, {res['date']}"
        + (" (quick)" if res["quick"] else "")
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes and few runs: a smoke run, not a measurement")
    ap.add_argument("--peer-python", metavar="PATH", help="an interpreter that imports an original tinygrad")
    ap.add_argument("--out", metavar="DIR", default=os.path.join(HERE, "results"), help="where results.json and "
                    "bench.png go (default: bench/results)")  # fmt: skip
    ap.add_argument("--threads", type=int, default=0, metavar="N", help="cap numpy's and torch's thread pools at N "
                    "(default: their own choice; this project's CPU backend runs one thread)")  # fmt: skip
    ap.add_argument("--only", metavar="FW,...", help="run only these of numpy,torch,torch.compile,ours,peer")
    # internal: run one framework (or one cold start) in this process and write JSON
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--cold-start", help=argparse.SUPPRESS)
    ap.add_argument("--json-out", help=argparse.SUPPRESS)
    ap.add_argument("--label", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker or args.cold_start:
        out = (
            worker(args.worker, args.quick, args.label or args.worker)
            if args.worker
            else cold_start(args.cold_start, args.quick)
        )
        with open(args.json_out, "w") as f:
            json.dump(out, f)
        return 0

    sizes = QUICK if args.quick else FULL
    only = set(args.only.split(",")) if args.only else {"numpy", "torch", "torch.compile", "ours", "peer"}
    timeout = 600 if args.quick else 3 * 3600
    base_env = {k: v for k, v in os.environ.items() if k not in ("DEV", "CACHEDIR")}
    if args.threads:
        base_env.update({k: str(args.threads) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")})
    me = [sys.executable, os.path.abspath(__file__)] + (["--quick"] if args.quick else [])
    res: dict[str, Any] = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"), "quick": args.quick,
        "command": "python bench/bench.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine_info(), "sizes": sizes, "frameworks": {}, "notes": [],
        "threads": args.threads or "each framework's default",
    }  # fmt: skip

    def add(label: str, cmd: list[str], env: dict[str, str], cwd: str | None = None) -> None:
        print(f"running {label} ...", file=sys.stderr, flush=True)
        out, err = run_json(cmd, env, timeout, cwd)
        if out is None:
            res["frameworks"][label] = {"results": {}, "error": err}
            res["notes"].append(f"{label}: worker failed: {err}")
        else:
            res["frameworks"][label] = out

    def startup(label: str, cmd: list[str], env: dict[str, str], cache: str | None, cwd: str | None = None) -> None:
        """cold: a fresh process with empty kernel caches; warm: a second fresh process with the caches it left."""
        fw = res["frameworks"].setdefault(label, {"results": {}})
        for row in STARTUP:
            if cache is None and row == "warm_start":
                continue
            e = dict(env)
            if cache is not None:  # this project reads CACHEDIR; an original tinygrad reads XDG_CACHE_HOME/CACHEDB
                e.update(CACHEDIR=cache, XDG_CACHE_HOME=cache, CACHEDB=os.path.join(cache, "cache.db"))
            print(f"running {label} {row} ...", file=sys.stderr, flush=True)
            out, err = run_json(cmd, e, timeout, cwd)
            if out is None:
                fw["results"][row] = {"error": err}
                res["notes"].append(f"{label} {row}: {err}")
                continue
            # the whole process, interpreter start included: what a user waits for
            fw["results"][row] = {"median_s": out["wall_s"], "runs": 1, **out}
            print(f"  {label:<14} {row:<12} {fmt_time(out['wall_s']):>9} (first step {fmt_time(out['first_step_s'])})",
                  file=sys.stderr, flush=True)  # fmt: skip

    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        if "numpy" in only:
            env = {k: v for k, v in base_env.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
            add("numpy", [*me, "--worker", "numpy"], env)
            res["notes"].append("numpy ran with OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset (the CPU's own kernel); "
                                f"BLAS: {res['frameworks']['numpy'].get('info', {}).get('blas')}")  # fmt: skip
        if "torch" in only:
            add("torch", [*me, "--worker", "torch"], base_env)
            startup("torch", [*me, "--cold-start", "torch"], base_env, None)
            res["notes"].append("torch cold_start: a fresh process to its first train step (torch has no disk cache, "
                                "so it has no warm_start row)")  # fmt: skip
        if "torch.compile" in only and args.quick:
            res["frameworks"]["torch.compile"] = {"results": {"elementwise": {"skipped": "not run in --quick (its "
                                                  "compile alone takes ~30 s)"}}}  # fmt: skip
        elif "torch.compile" in only:
            add("torch.compile", [*me, "--worker", "torch.compile"], base_env)
        if "ours" in only:
            cache = os.path.join(tmp, "ours-cache")
            env = {**base_env, "DEV": "CPU", "CACHEDIR": cache}
            startup("ours", [*me, "--cold-start", "tinygrad"], env, cache)
            add_ours = dict(res["frameworks"]["ours"]["results"])
            add("ours", [*me, "--worker", "tinygrad", "--label", "ours"], env)
            res["frameworks"]["ours"]["results"].update(add_ours)
        if args.peer_python and "peer" in only:
            why = peer_check(args.peer_python)
            if why:
                res["notes"].append(f"tinygrad (peer) skipped: {why}")
                print(f"skipping the peer: {why}", file=sys.stderr)
            else:
                cache = os.path.join(tmp, "peer-cache")
                peer_cmd = [args.peer_python, os.path.abspath(__file__)] + (["--quick"] if args.quick else [])
                env = {**base_env, "DEV": "CPU", "CPU": "1", "CACHEDIR": cache, "XDG_CACHE_HOME": cache,
                       "CACHEDB": os.path.join(cache, "cache.db")}  # fmt: skip
                startup("tinygrad (peer)", [*peer_cmd, "--cold-start", "tinygrad"], env, cache, cwd=tmp)
                keep = dict(res["frameworks"]["tinygrad (peer)"]["results"])
                add("tinygrad (peer)", [*peer_cmd, "--worker", "tinygrad", "--label", "peer"], env, cwd=tmp)
                res["frameworks"]["tinygrad (peer)"]["results"].update(keep)

    res["mismatches"] = find_mismatches(res)
    table = tabulate(res, sizes)
    os.makedirs(args.out, exist_ok=True)
    if err := chart(res, os.path.join(args.out, "bench.png")):
        res["notes"].append(err)
    res["table"] = table
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    m = res["machine"]
    load = ", ".join(f"{x:.1f}" for x in m["loadavg_at_start"] or ())
    print(
        f"\n{res['date']}  {m['cpu']}, {m['cores']} cores, load average at start {load}; "
        f"numpy/torch threads: {res['threads']}"
    )
    print(f"command: {res['command']}\n")
    print(table)
    print(
        f"\nwrote {os.path.join(args.out, 'results.json')}"
        + ("" if err else f" and {os.path.join(args.out, 'bench.png')}")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
