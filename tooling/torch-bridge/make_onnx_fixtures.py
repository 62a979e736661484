#!/usr/bin/env python3
"""ONNX files exported by PyTorch, with inputs and PyTorch's outputs, for @ml's ONNX import
tests (which must not need PyTorch): packages/onnx/test/fixtures/torch/<name>.onnx + .json.

    OPENBLAS_NUM_THREADS=1 python3 make_onnx_fixtures.py [OUT_DIR]

Each model is small, seeded, in eval mode, float32, exported with torch.onnx.export at
opset 17 (the newest torch 1.13 writes) with a dynamic batch dimension. The JSON holds:
{name, torch, opset, description, inputs: [{name, shape, dtype, data}], outputs: [same],
dynamicAxes}; `data` is the flat row-major list of values. Rerunning the script rewrites
the files identically for a given torch build.
"""
import json
import os
import sys
import zlib

import torch
from torch import nn

OPSET = 17
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, '..', '..', 'packages', 'onnx', 'test', 'fixtures', 'torch')


class WithState(nn.Module):
    """An LSTM given its initial states (h0, c0) as inputs."""

    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn

    def forward(self, x, h0, c0):
        out, (h, c) = self.rnn(x, (h0, c0))
        return out, h, c


class CausalDecoder(nn.Module):
    """A TransformerDecoderLayer with a causal self-attention mask over a fixed target length."""

    def __init__(self, layer, length):
        super().__init__()
        self.layer = layer
        self.register_buffer('mask', torch.triu(torch.full((length, length), float('-inf')), diagonal=1))

    def forward(self, tgt, memory):
        return self.layer(tgt, memory, tgt_mask=self.mask)


class LastStep(nn.Module):
    """A recurrent layer's full outputs (sequence and final states) as a flat tuple."""

    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn

    def forward(self, x):
        out, state = self.rnn(x)
        return (out, *state) if isinstance(state, tuple) else (out, state)


def models():
    """(name, description, module, input shapes, input names, output names, dynamic axes)."""
    batch = {0: 'batch'}
    yield ('mlp', 'Linear 8→16, ReLU, Dropout(0.2), Linear 16→4, Softmax: input [N, 8]',
           nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 4), nn.Softmax(dim=-1)),
           [(3, 8)], ['x'], ['y'], {'x': batch, 'y': batch})
    yield ('cnn_bn_pool', 'Conv2d 1→4 k3 pad1, BatchNorm2d, ReLU, MaxPool2d 2, Conv2d 4→6 k3 stride2, AvgPool2d 2, Flatten, Linear 6→3: input [N, 1, 12, 12]',
           nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 6, 3, stride=2),
                         nn.AvgPool2d(2), nn.Flatten(), nn.Linear(6, 3)),
           [(2, 1, 12, 12)], ['x'], ['y'], {'x': batch, 'y': batch})
    yield ('mlp_batchnorm', 'Linear 6→8, BatchNorm1d (eval: running statistics), Tanh, Linear 8→2: input [N, 6]',
           nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 2)),
           [(4, 6)], ['x'], ['y'], {'x': batch, 'y': batch})
    yield ('lstm_batch_first', 'LSTM input 3, hidden 5, 2 layers, batch_first: input [N, 6, 3] → output [N, 6, 5], h_n, c_n [2, N, 5]',
           LastStep(nn.LSTM(3, 5, num_layers=2, batch_first=True)),
           [(2, 6, 3)], ['x'], ['output', 'h_n', 'c_n'], {'x': batch, 'output': batch, 'h_n': {1: 'batch'}, 'c_n': {1: 'batch'}})
    yield ('gru_bidirectional', 'GRU input 3, hidden 4, bidirectional, time-major: input [7, N, 3] → output [7, N, 8], h_n [2, N, 4]',
           LastStep(nn.GRU(3, 4, bidirectional=True)),
           [(7, 2, 3)], ['x'], ['output', 'h_n'], {'x': {1: 'batch'}, 'output': {1: 'batch'}, 'h_n': {1: 'batch'}})
    yield ('rnn_tanh', 'RNN (tanh) input 2, hidden 6, batch_first: input [N, 5, 2] → output [N, 5, 6], h_n [1, N, 6]',
           LastStep(nn.RNN(2, 6, batch_first=True)),
           [(3, 5, 2)], ['x'], ['output', 'h_n'], {'x': batch, 'output': batch, 'h_n': {1: 'batch'}})
    yield ('lstm_initial_state', 'LSTM input 3, hidden 4, batch_first, given h0 and c0 [1, N, 4]: outputs output [N, 5, 4], h_n, c_n',
           WithState(nn.LSTM(3, 4, batch_first=True)),
           [(2, 5, 3), (1, 2, 4), (1, 2, 4)], ['x', 'h0', 'c0'], ['output', 'h_n', 'c_n'],
           {'x': batch, 'h0': {1: 'batch'}, 'c0': {1: 'batch'}, 'output': batch, 'h_n': {1: 'batch'}, 'c_n': {1: 'batch'}})
    yield ('conv1d_gelu', 'Conv1d 2→4 k3 pad1, GELU, MaxPool1d 2, Conv1d 4→3 k2 stride 2 dilation 1, Flatten, Linear 6→2: input [N, 2, 10]',
           nn.Sequential(nn.Conv1d(2, 4, 3, padding=1), nn.GELU(), nn.MaxPool1d(2), nn.Conv1d(4, 3, 2, stride=2), nn.Flatten(), nn.Linear(6, 2)),
           [(3, 2, 10)], ['x'], ['y'], {'x': batch, 'y': batch})
    yield ('embedding_mlp', 'Embedding 12×4 (int64 ids), Flatten, Linear 20→3, Sigmoid: ids [N, 5]',
           nn.Sequential(nn.Embedding(12, 4), nn.Flatten(), nn.Linear(20, 3), nn.Sigmoid()),
           [('int64', 12, (3, 5))], ['ids'], ['y'], {'ids': batch, 'y': batch})
    yield ('transformer_decoder_layer_causal', 'TransformerDecoderLayer d_model 8, 2 heads, feed-forward 16, norm_first, batch_first, causal tgt mask (length 4): tgt [N, 4, 8], memory [N, 6, 8]',
           CausalDecoder(nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, batch_first=True, norm_first=True), 4),
           [(2, 4, 8), (2, 6, 8)], ['tgt', 'memory'], ['y'], {'tgt': batch, 'memory': batch, 'y': batch})
    yield ('transformer_encoder_layer', 'TransformerEncoderLayer d_model 16, 4 heads, feed-forward 32, dropout 0.1, batch_first: input [N, 5, 16]',
           nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, batch_first=True),
           [(2, 5, 16)], ['x'], ['y'], {'x': batch, 'y': batch})


def randomize_bn(m):
    """Running statistics as a trained model's (fresh ones are 0 and 1)."""
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
                mod.running_mean.copy_(torch.randn_like(mod.running_mean) * 0.3)
                mod.running_var.copy_(torch.rand_like(mod.running_var) + 0.5)
                mod.weight.copy_(torch.rand_like(mod.weight) + 0.5)
                mod.bias.copy_(torch.randn_like(mod.bias) * 0.2)


def tensor_json(name, t):
    if t.dtype == torch.int64:
        return {'name': name, 'shape': list(t.shape), 'dtype': 'int64', 'data': [int(v) for v in t.reshape(-1).tolist()]}
    return {'name': name, 'shape': list(t.shape), 'dtype': 'float32', 'data': [float(v) for v in t.detach().reshape(-1).tolist()]}


def main(out_dir):
    torch.set_num_threads(1)
    os.makedirs(out_dir, exist_ok=True)
    for name, description, model, shapes, in_names, out_names, dynamic in models():
        torch.manual_seed(zlib.crc32(name.encode()))  # seeded by name: adding a model leaves the others' files alone
        # a shape, or ('int64', high, shape) for ids in [0, high)
        inputs = [torch.randint(0, s[1], s[2]) if s[0] == 'int64' else torch.randn(*s) for s in shapes]
        for p in model.parameters():  # U(-0.5, 0.5): larger than the default init, so every unit matters
            with torch.no_grad():
                p.copy_(torch.empty_like(p).uniform_(-0.5, 0.5))
        randomize_bn(model)
        model.eval()
        # the grad-enabled trace keeps torch 1.13 off its fused inference kernels, which ONNX cannot express
        path = os.path.join(out_dir, f'{name}.onnx')
        torch.onnx.export(model, tuple(inputs), path, input_names=in_names, output_names=out_names, dynamic_axes=dynamic,
                          opset_version=OPSET, do_constant_folding=True)
        with torch.no_grad():
            outs = model(*inputs)
        outs = outs if isinstance(outs, tuple) else (outs,)
        record = {
            'name': name, 'description': description, 'torch': torch.__version__, 'opset': OPSET,
            'inputs': [tensor_json(n, t) for n, t in zip(in_names, inputs)],
            'outputs': [tensor_json(n, t) for n, t in zip(out_names, outs)],
            'dynamicAxes': {k: {str(d): v for d, v in axes.items()} for k, axes in dynamic.items()},
        }
        with open(os.path.join(out_dir, f'{name}.json'), 'w', encoding='utf8') as f:
            json.dump(record, f, indent=1)
            f.write('\n')
        print(f'{name}: {os.path.getsize(path)} bytes')


if __name__ == '__main__':
    main(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT)
