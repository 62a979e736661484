"""PyTorch's side of the sequence rows (src/sequence.ts): the same workloads as @ml's.

Run by src/sequence.ts as: python3 torch_sequence.py '<json options>' with
OPENBLAS_NUM_THREADS=1 and options.threads threads (torch.set_num_threads). As
torch_bench.py it stays up for the whole run: each stdin line is a JSON list of workload
ids, answered by one stdout line {id: {value, reps}}; progress goes to stderr.
"""
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

opts = json.loads(sys.argv[1])
torch.set_num_threads(opts["threads"])
# Subnormal floats flushed to zero (x86's FTZ/DAZ), PyTorch's fastest setting here: a
# gradient vanishing through the length-256 rows otherwise runs through the subnormals,
# which Intel cores compute 10-100x slower (PyTorch's LSTM step 340 ms against 60-ish).
# @ml's backward passes flush gradients under 2^-100 for the same reason.
torch.set_flush_denormal(True)
torch.manual_seed(0)
budget = opts["budgetMs"] / 1000
max_reps = opts["maxReps"]
ops_per_run = opts["opsPerRun"]
workloads = {w["id"]: w for w in opts["workloads"]}
name = f"torch ({opts['threads']} thread{'s' if opts['threads'] > 1 else ''})"


def log(s):
    print(s, file=sys.stderr, flush=True)


def time_it(fn, reps, warmup=2):
    # as src/timing.ts: at least `warmup` untimed runs, going on for at least 2 s (WARMUP_MS)
    w0 = time.perf_counter()
    i = 0
    while i < warmup or time.perf_counter() - w0 < 2.0:
        fn()
        i += 1
    times = []
    start = time.perf_counter()
    while len(times) < reps and (not times or time.perf_counter() - start < budget):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000, len(times)


def measure(w):
    b, L, f, h = w["batch"], w["length"], w["features"], w["hidden"]
    if w["kind"] == "op":
        y = torch.randn(b, f, requires_grad=w["id"] == "opGrad")
        z = torch.randn(b, f)

        def loop():
            for _ in range(ops_per_run // 2):
                z.mul(y).add(y)

        if w["id"] == "opGrad":
            once = loop
        else:
            def once():
                with torch.no_grad():
                    loop()
        ms, reps = time_it(once, 1000)
        return ms * 1000 / ops_per_run, reps
    x = torch.randn(b, L, f)
    if "cell" in w:
        layer = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[w["cell"]](f, h, batch_first=True)
        head = nn.Linear(h, 10 if w["kind"] == "train" else 1)
        params = list(layer.parameters()) + list(head.parameters())

        def forward():
            seq, _ = layer(x)
            return head(seq[:, -1])

        y = torch.tensor([(i * 7) % 10 for i in range(b)])
        loss_fn = lambda: F.cross_entropy(forward(), y)
    elif w.get("model") == "encoderDecoder":
        layer = nn.Transformer(f, 4, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=h, dropout=0.0, batch_first=True)
        params = list(layer.parameters())
        tgt = torch.randn(b, L, f)
        target = torch.randn(b, L, f)
        forward = lambda: layer(x, tgt)
        loss_fn = lambda: F.mse_loss(forward(), target)
    else:
        layer = nn.TransformerEncoderLayer(f, 4, dim_feedforward=h, dropout=0.0, batch_first=True)
        params = list(layer.parameters())
        target = torch.randn(b, L, f)
        forward = lambda: layer(x)
        loss_fn = lambda: F.mse_loss(forward(), target)
    if w["kind"] == "train":
        opt = torch.optim.Adam(params, lr=1e-3)

        def once():
            opt.zero_grad()
            loss_fn().backward()
            opt.step()

        return time_it(once, max_reps)
    layer.eval()

    def infer():
        with torch.no_grad():
            forward()

    return time_it(infer, 1000)


for line in sys.stdin:
    if not line.strip():
        continue
    out = {}
    try:
        for wid in json.loads(line):
            value, reps = measure(workloads[wid])
            out[wid] = {"value": value, "reps": reps}
            log(f"  {name} {wid}: {value:.2f} {workloads[wid]['unit']} ({reps} runs)")
    except Exception as e:  # answered as the harness expects, so the run goes on
        out = {"error": f"{type(e).__name__}: {e}"}
    print(json.dumps(out), flush=True)
