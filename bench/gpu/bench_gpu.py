"""GPU side-by-side: this project (DEV=CUDA) vs torch on the same card, in one process run.

python bench/gpu/bench_gpu.py [--quick]   -> a table of medians and ratios (ours / torch throughput)
Each of our workloads runs under TinyJit (so Python dispatch is not measured), timed with a device
synchronize around N replays; torch runs eager, and torch.compile where the issue names it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np


def timeit(fn, sync, n: int) -> float:
    fn()
    sync()
    fn()
    sync()
    ts = []
    for _ in range(n):
        st = time.perf_counter()
        fn()
        sync()
        ts.append(time.perf_counter() - st)
    return statistics.median(ts)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    import torch

    from tinygrad import Device, Tensor, TinyJit, dtypes

    dev = "CUDA"
    tdev = torch.device("cuda")
    card = torch.cuda.get_device_name(0)
    n_el = 1 << (22 if args.quick else 24)
    rows = 1024 if args.quick else 4096
    mm = [(1024, dtypes.float32, torch.float32)] if args.quick else [
        (4096, dtypes.float32, torch.float32), (8192, dtypes.float16, torch.float16),
        (8192, dtypes.bfloat16, torch.bfloat16)]  # fmt: skip
    reps = 5 if args.quick else 10
    sync_us = lambda: Device[dev].synchronize()  # noqa: E731
    sync_t = torch.cuda.synchronize
    results = []

    def row(name: str, unit: str, work: float, ours: float, theirs: float, peer: str) -> None:
        r = {"workload": name, "unit": unit, "ours_s": ours, "torch_s": theirs, "peer": peer,
             "ours": work / ours, "torch": work / theirs, "ratio": theirs / ours}  # fmt: skip
        results.append(r)
        print(f"{name:34s} ours {r['ours']:10.1f} {unit:8s} {peer:14s} {r['torch']:10.1f} {unit:8s} "
              f"ratio {r['ratio']:.2f}x", flush=True)

    a_np = [np.random.randn(n_el).astype(np.float32) for _ in range(3)]
    A = [Tensor(x, device=dev).realize() for x in a_np]
    TA = [torch.tensor(x, device=tdev) for x in a_np]

    # copy
    jcopy = TinyJit(lambda x: (x + 0).contiguous())
    row("copy 16M fp32", "GB/s", 2 * 4 * n_el / 1e9, timeit(lambda: jcopy(A[0]), sync_us, reps),
        timeit(lambda: TA[0].clone(), sync_t, reps), "torch eager")

    # elementwise chain: 3 inputs + 1 output
    def chain(a, b, c):
        return (a * b + c).relu() * 0.5 + a.exp() * 0.1

    jchain = TinyJit(lambda a, b, c: chain(a, b, c).contiguous())
    try:
        tchain = torch.compile(lambda a, b, c: (a * b + c).relu() * 0.5 + a.exp() * 0.1)
        tchain(*TA)
        peer = "torch.compile"
    except Exception:
        tchain, peer = (lambda a, b, c: (a * b + c).relu() * 0.5 + a.exp() * 0.1), "torch eager"
    row("elementwise chain 16M", "GB/s", 4 * 4 * n_el / 1e9, timeit(lambda: jchain(*A), sync_us, reps),
        timeit(lambda: tchain(*TA), sync_t, reps), peer)

    m_np = np.random.randn(rows, rows).astype(np.float32)
    M, TM = Tensor(m_np, device=dev).realize(), torch.tensor(m_np, device=tdev)
    jsum = TinyJit(lambda x: x.sum(axis=1).contiguous())
    row(f"row sum {rows}^2", "GB/s", 4 * rows * rows / 1e9, timeit(lambda: jsum(M), sync_us, reps),
        timeit(lambda: TM.sum(dim=1), sync_t, reps), "torch eager")
    jsm = TinyJit(lambda x: x.softmax(-1).contiguous())
    row(f"softmax {rows}^2", "GB/s", 2 * 4 * rows * rows / 1e9, timeit(lambda: jsm(M), sync_us, reps),
        timeit(lambda: TM.softmax(-1), sync_t, reps), "torch eager")

    for n, dt, tdt in mm:
        x_np = np.random.randn(n, n).astype(np.float32)
        X = Tensor(x_np, device=dev).cast(dt).realize()
        Y = Tensor(x_np.T.copy(), device=dev).cast(dt).realize()
        TX, TY = torch.tensor(x_np, device=tdev).to(tdt), torch.tensor(x_np.T.copy(), device=tdev).to(tdt)
        jmm = TinyJit(lambda x, y: (x @ y).contiguous())
        row(f"matmul {n}^3 {dt.name}", "TFLOP/s", 2 * n**3 / 1e12, timeit(lambda: jmm(X, Y), sync_us, 3),
            timeit(lambda: TX @ TY, sync_t, 3), "torch eager")

    print(f"card: {card}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"card": card, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
