"""PyTorch's side of bench/conv-passes.mjs: the MNIST CNN's two convolutions, pass by pass.

Run by conv-passes.mjs as: python3 conv_passes.py '<json options>' (options: layers, a list
of {id, cin, hw, cout}; threads, a list of thread counts; reps, timed runs per cell).
Prints one JSON object on stdout: {"version": ..., "results": {"<layer>/<pass>/<threads>":
ms}}; progress goes to stderr. The passes are the ones autograd runs for conv2d: the
forward (F.conv2d), and the two halves of aten::convolution_backward that its gradient
calls, each asked for alone through output_mask (the input gradient, the weight gradient),
plus the whole step (forward, sum, backward) as bench/torch_bench.py times it.
"""
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def log(s):
    print(s, file=sys.stderr, flush=True)


def time_it(fn, reps):
    """Median ms of `reps` runs after at least 0.5 s of untimed ones (as src/timing.ts)."""
    w0 = time.perf_counter()
    while time.perf_counter() - w0 < 0.5:
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def passes(cin, hw, cout):
    """The four timed callables for one layer: batch 64, 3×3, stride 1, no padding."""
    x = torch.randn(64, cin, hw, hw)
    w = torch.randn(cout, cin, 3, 3)
    dy = torch.randn(64, cout, hw - 2, hw - 2)
    xg = x.clone().requires_grad_(True)
    wg = w.clone().requires_grad_(True)

    def backward(mask):
        # the call conv2d's autograd node makes (stride 1, padding 0, dilation 1, groups 1)
        return torch.ops.aten.convolution_backward(dy, x, w, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1, mask)

    def step():
        xg.grad = None
        wg.grad = None
        F.conv2d(xg, wg).sum().backward()

    return {
        # x and w need no gradient: the forward alone, nothing recorded
        "forward": lambda: F.conv2d(x, w),
        "inputGrad": lambda: backward([True, False, False])[0],
        "weightGrad": lambda: backward([False, True, False])[1],
        "step": step,
    }


def main():
    opts = json.loads(sys.argv[1])
    torch.manual_seed(0)
    results = {}
    for layer in opts["layers"]:
        fns = passes(layer["cin"], layer["hw"], layer["cout"])
        for threads in opts["threads"]:
            torch.set_num_threads(threads)
            for name, fn in fns.items():
                ms = time_it(fn, opts["reps"])
                results[f"{layer['id']}/{name}/{threads}"] = ms
                log(f"  torch {layer['id']} {name} {threads}t: {ms:.3f} ms")
    print(json.dumps({"version": torch.__version__, "results": results}), flush=True)


if __name__ == "__main__":
    main()
