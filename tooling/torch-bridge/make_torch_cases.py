#!/usr/bin/env python3
"""Seeded float64 PyTorch models of every layer family, saved for @ml with torch_to_ml,
with inputs and PyTorch's outputs: the PyTorch → @ml half of the round-trip tests
(packages/train/test/torch-roundtrip.test.ts).

    python3 make_torch_cases.py OUT_DIR

writes OUT_DIR/<case>/model/{config.json, model.safetensors}, OUT_DIR/<case>/io.safetensors
(in0, in1, …, out0, out1, …) and OUT_DIR/cases.json ([{name, tolerance}] in order). Two
float32 cases store their weights as F16 and BF16, as published checkpoints often do; @ml
widens them to float32 on load.
"""
import json
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ml_layers as L  # noqa: E402
from ml_to_torch import flatten_outputs  # noqa: E402
from safetensors_io import write_safetensors  # noqa: E402
from torch_to_ml import save_for_ml  # noqa: E402

D = torch.float64


def randomize(m):
    """Every float parameter and buffer random (running_var positive), as a trained model's."""
    with torch.no_grad():
        for name, t in list(m.named_parameters()) + list(m.named_buffers()):
            if t.is_floating_point():
                t.copy_(torch.rand_like(t) + 0.5 if name.endswith('running_var') else torch.randn_like(t) * 0.5)
            elif name.endswith('num_batches_tracked'):
                t.fill_(7)
    return m


def cases():
    """(name, module, inputs) for each family."""
    x = lambda *s: torch.randn(*s, dtype=D)  # noqa: E731
    yield 'mlp', nn.Sequential(nn.Linear(5, 8, dtype=D), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 3, dtype=D), nn.Softmax(dim=-1)), [x(4, 5)]
    trunk = [
        nn.Conv2d(1, 3, 3, stride=2, padding=1, dtype=D), nn.BatchNorm2d(3, dtype=D), nn.ReLU(), nn.MaxPool2d(2, stride=1, padding=1),
        nn.Conv2d(3, 4, (2, 3), padding=(1, 0), dilation=(1, 2), dtype=D), nn.AvgPool2d(2, stride=1, padding=1, count_include_pad=False), nn.Flatten(),
    ]
    features = nn.Sequential(*trunk)(x(1, 1, 9, 9)).shape[1]
    yield 'cnn_bn_pool', nn.Sequential(*trunk, nn.Linear(features, 2, dtype=D)), [x(2, 1, 9, 9)]
    yield 'conv_same_groups', nn.Sequential(
        nn.Conv2d(2, 4, 3, padding='same', groups=2, dtype=D), nn.Tanh(), nn.Identity(),
        nn.Flatten(1, 2), nn.Conv1d(4 * 5, 3, 4, padding='same', dtype=D), nn.BatchNorm1d(3, dtype=D), nn.MaxPool1d(2), nn.AvgPool1d(2),
    ), [x(2, 2, 5, 8)]
    yield 'norms_activations', nn.Sequential(
        nn.Linear(6, 6, dtype=D), nn.LayerNorm(6, dtype=D), nn.GELU(), nn.ELU(0.7), nn.LeakyReLU(0.2), nn.SiLU(), nn.Softplus(beta=2.0),
        nn.Sigmoid(), nn.Hardsigmoid(), nn.SELU(), nn.GELU(approximate='tanh'), nn.LogSoftmax(dim=1),
    ), [x(3, 6)]
    yield 'embedding', nn.Sequential(nn.Embedding(10, 4, dtype=D), nn.Flatten(), nn.Linear(20, 3, dtype=D)), [torch.randint(0, 10, (2, 5), dtype=torch.int32)]
    yield 'rnn', nn.RNN(3, 5, num_layers=2, nonlinearity='relu', batch_first=True, dtype=D), [x(2, 4, 3)]
    yield 'lstm', nn.LSTM(3, 4, num_layers=2, bidirectional=True, dtype=D), [x(5, 2, 3)]
    yield 'gru', nn.GRU(3, 4, bidirectional=True, batch_first=True, dtype=D), [x(2, 6, 3)]
    yield 'lstm_cell', nn.LSTMCell(3, 4, dtype=D), [x(2, 3)]
    yield 'mha', nn.MultiheadAttention(8, 2, batch_first=True, dtype=D), [x(2, 4, 8), x(2, 5, 8), x(2, 5, 8)]
    yield 'mha_kdim', nn.MultiheadAttention(8, 4, kdim=3, vdim=5, dtype=D), [x(4, 2, 8), x(5, 2, 3), x(5, 2, 5)]
    yield 'encoder_layer', nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.1, batch_first=True, norm_first=True, activation='gelu', dtype=D), [x(2, 5, 8)]
    yield 'transformer', nn.Transformer(8, 2, num_encoder_layers=2, num_decoder_layers=1, dim_feedforward=12, batch_first=True, dtype=D), [x(2, 5, 8), x(2, 3, 8)]
    yield 'decoder_layer', nn.TransformerDecoderLayer(8, 4, dim_feedforward=12, dtype=D), [x(4, 2, 8), x(6, 2, 8)]


def half_cases():
    """(name, module, inputs, storage dtype): float32 models whose weights are stored in half precision."""
    f = torch.float32
    yield 'mlp_f16', nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3)), [torch.randn(4, 5, dtype=f)], torch.float16
    yield 'cnn_bf16', nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 2)), [torch.randn(2, 1, 6, 6, dtype=f)], torch.bfloat16


def main(out_dir):
    torch.manual_seed(19)
    torch.set_num_threads(1)
    os.makedirs(out_dir, exist_ok=True)
    names = []
    for name, module, inputs in cases():
        randomize(module).eval()
        with torch.no_grad():
            outs = flatten_outputs(module(*[t.long() if t.dtype == torch.int32 else t for t in inputs]))
        save_for_ml(module, os.path.join(out_dir, name, 'model'))
        io = {f'in{i}': t for i, t in enumerate(inputs)}
        io.update({f'out{i}': t.contiguous() for i, t in enumerate(outs)})
        write_safetensors(os.path.join(out_dir, name, 'io.safetensors'), io)
        names.append({'name': name, 'tolerance': 1e-6})
    for name, module, inputs, storage in half_cases():
        randomize(module).eval()
        with torch.no_grad():  # the weights as the file holds them, widened back
            for t in module.state_dict().values():
                if t.is_floating_point():
                    t.copy_(t.to(storage).float())
            outs = flatten_outputs(module(*inputs))
        state = {k: (v.to(storage) if v.is_floating_point() else v) for k, v in module.state_dict().items()}
        save_for_ml(module, os.path.join(out_dir, name, 'model'), state_dict=state)
        io = {f'in{i}': t for i, t in enumerate(inputs)}
        io.update({f'out{i}': t.contiguous() for i, t in enumerate(outs)})
        write_safetensors(os.path.join(out_dir, name, 'io.safetensors'), io)
        names.append({'name': name, 'tolerance': 1e-5})  # float32 arithmetic on both sides
    with open(os.path.join(out_dir, 'cases.json'), 'w', encoding='utf8') as f:
        json.dump(names, f)


if __name__ == '__main__':
    main(sys.argv[1])
