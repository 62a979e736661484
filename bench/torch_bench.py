"""PyTorch's side of bench/: the same workloads as src/ml.ts and src/tfjs.ts.

Run by the benchmark runner as: python3 torch_bench.py '<json options>'. It stays up for
the whole run, as the JavaScript systems do in the runner's process: each line on stdin is
a JSON list of workload ids (a group), answered by one line on stdout, a JSON object
{workload: {value, reps, note?}}; progress goes to stderr; it ends at end of input.
(One process for all groups, as a PyTorch script runs: a fresh process that starts with
the MLP epoch measured it ≈ 3× slower here — 2.8–3.8 s against 0.9–1.2 s after the
convolution rows; the cause was not pinned down, a fixed malloc mmap threshold did not
change it.)
Uses 2 threads (torch.set_num_threads) and reads MNIST's raw IDX files with numpy.
OpenBLAS starts on one thread (OPENBLAS_NUM_THREADS=1, from the runner): beside torch's
own two threads that is PyTorch's fastest setting for the training rows here (OpenBLAS on
two threads made its CNN step 13.8–21.5 ms against 12.5–12.8, its LSTM step 23 against
20 ms). The matmul rows are OpenBLAS alone, so they run it on torch's thread count
(openblas_set_num_threads, through ctypes): 180–200 GFLOP/s at 1024² against 94–100 on
one thread.
"""
import ctypes
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

opts = json.loads(sys.argv[1])
torch.set_num_threads(opts.get("threads", 2))
# subnormal floats flushed to zero (x86's FTZ/DAZ), as torch_sequence.py does: Adam's moments
# of MNIST's border pixels decay through the subnormals otherwise, which Intel cores compute
# many times slower (@ml's fused Adam writes moments under 2^-100 as +0 for the same reason)
torch.set_flush_denormal(True)
torch.manual_seed(0)
budget = opts["budgetMs"] / 1000
steps_per_epoch = (60000 + 63) // 64


def log(s):
    print(s, file=sys.stderr, flush=True)


def time_it(fn, max_reps, warmup=1):
    # as src/timing.ts: the untimed runs go on for at least 2 s (WARMUP_MS)
    w0 = time.perf_counter()
    i = 0
    while i < warmup or (warmup > 0 and time.perf_counter() - w0 < 2.0):
        fn()
        i += 1
    times = []
    start = time.perf_counter()
    while len(times) < max_reps and (not times or time.perf_counter() - start < budget):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000, len(times)


def openblas():
    """The loaded OpenBLAS (Debian's libblas.so.3 alternative), or None for another BLAS."""
    for name in ("libblas.so.3", "libopenblas.so.0"):
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        if hasattr(lib, "openblas_set_num_threads"):
            return lib
    return None


blas = openblas()


def matmul(out, n):
    a, b = torch.randn(n, n), torch.randn(n, n)
    threads = torch.get_num_threads()
    if blas is not None:
        blas.openblas_set_num_threads(threads)
    try:
        ms, reps = time_it(lambda: a @ b, 10)
    finally:
        if blas is not None:
            blas.openblas_set_num_threads(1)
    used = threads if blas is not None else "its default"
    out[f"matmul{n}"] = {"value": 2 * n**3 / ms / 1e6, "reps": reps}
    log(f"  torch matmul {n}: {out[f'matmul{n}']['value']:.2f} GFLOP/s (OpenBLAS on {used} thread(s))")


def conv(out, wid, cin, hw, cout):
    x = torch.randn(64, cin, hw, hw, requires_grad=True)
    w = torch.randn(cout, cin, 3, 3, requires_grad=True)

    def step():
        x.grad = None
        w.grad = None
        F.conv2d(x, w).sum().backward()

    ms, reps = time_it(step, 20)
    out[wid] = {"value": ms, "reps": reps}
    log(f"  torch {wid}: {ms:.2f} ms")


def idx(path):
    with open(path, "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


mnist = {}


def train_set():
    if not mnist:
        mnist["images"] = torch.from_numpy(idx(os.path.join(opts["mnistDir"], "train-images-idx3-ubyte")).astype(np.float32) / 255)
        mnist["labels"] = torch.from_numpy(idx(os.path.join(opts["mnistDir"], "train-labels-idx1-ubyte")).astype(np.int64))
    return mnist["images"], mnist["labels"]


def trainer(model, shape):
    images, labels = train_set()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    state = {"i": 0}

    def step():
        i = state["i"]
        state["i"] += 1
        j = torch.arange(i * 64, i * 64 + 64) % 60000
        x, y = images[j].reshape(shape), labels[j]
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    return step


def mlp_epoch(out):
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))
    ms, reps = time_it(trainer(mlp, (64, 784)), opts["mlpSteps"], warmup=5)
    out["mlpEpoch"] = {"value": ms * steps_per_epoch / 1000, "reps": reps}
    if reps < steps_per_epoch:
        out["mlpEpoch"]["note"] = f"median of {reps} steps × {steps_per_epoch}"
    log(f"  torch MLP epoch: {out['mlpEpoch']['value']:.2f} s")


def cnn_step(out):
    cnn = nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.5), nn.Linear(1600, 10)
    )
    ms, reps = time_it(trainer(cnn, (64, 1, 28, 28)), opts["cnnSteps"], warmup=2)
    out["cnnStep"] = {"value": ms, "reps": reps}
    log(f"  torch CNN step: {ms:.1f} ms")


for line in sys.stdin:
    only = set(json.loads(line))
    out = {}
    for n in opts["sizes"]:
        if f"matmul{n}" in only:
            matmul(out, n)
    for c in opts["convs"]:
        if c["id"] in only:
            conv(out, c["id"], c["cin"], c["hw"], c["cout"])
    if "mlpEpoch" in only:
        mlp_epoch(out)
    if "cnnStep" in only:
        cnn_step(out)
    out["_version"] = torch.__version__
    print(json.dumps(out), flush=True)
