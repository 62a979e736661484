"""PyTorch layers that behave as @ml/nn's where torch.nn's own differ (an activation
option, 'same' padding with any stride, channels-last data, Keras's merge layers).
Each keeps the parameter names of the torch.nn class it extends, so state-dict keys are
@ml's. ml_to_torch.py copies this file into the source it emits (--emit-py)."""
import math

import torch
import torch.nn.functional as F
from torch import nn


def _squash(name):
    return name.lower().replace('_', '')


# Keras's activation names with PyTorch's default parameters (as @ml/nn's activationByName)
_ACTIVATIONS = {
    'linear': lambda x: x,
    'relu': F.relu,
    'sigmoid': torch.sigmoid,
    'tanh': torch.tanh,
    'softmax': lambda x: F.softmax(x, -1),
    'logsoftmax': lambda x: F.log_softmax(x, -1),
    'gelu': F.gelu,
    'elu': F.elu,
    'selu': F.selu,
    'silu': F.silu,
    'swish': F.silu,
    'softplus': F.softplus,
    'hardsigmoid': F.hardsigmoid,
    'leakyrelu': lambda x: F.leaky_relu(x, 0.01),
}


def activation_fn(name):
    """The function an @ml activation name stands for (None and 'linear': identity)."""
    if name is None:
        return lambda x: x
    fn = _ACTIVATIONS.get(_squash(name))
    if fn is None:
        raise ValueError(f"unknown activation '{name}' (known: {', '.join(sorted(_ACTIVATIONS))})")
    return fn


def same_padding(sizes, kernel, stride, dilation):
    """F.pad's list for Keras's 'same': output ceil(in/stride), the odd pad at the end."""
    pads = []
    for n, k, s, d in zip(sizes, kernel, stride, dilation):
        out = -(-n // s)
        total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
        pads.append((total // 2, total - total // 2))
    flat = []
    for before, after in reversed(pads):  # F.pad lists the last dim first
        flat += [before, after]
    return flat


class Activation(nn.Module):
    """An activation by name (@ml's Activation layer)."""

    def __init__(self, activation):
        super().__init__()
        self.activation = activation
        self._fn = activation_fn(activation)

    def forward(self, x):
        return self._fn(x)


class Linear(nn.Linear):
    """nn.Linear with @ml's (Keras's) optional activation."""

    def __init__(self, in_features, out_features, bias=True, activation=None, dtype=None):
        super().__init__(in_features, out_features, bias=bias, dtype=dtype)
        self.activation = activation
        self._act = activation_fn(activation)

    def forward(self, x):
        return self._act(super().forward(x))

    def extra_repr(self):
        return super().extra_repr() + (f', activation={self.activation!r}' if self.activation else '')


class _ConvMixin:
    """'same' padding for any stride, channels-last input and output, an activation."""

    def _setup(self, same, channels_last, activation, spatial):
        self.same = same
        self.channels_last = channels_last
        self.activation = activation
        self._act = activation_fn(activation)
        self._spatial = spatial

    def _extra(self, base):
        base = base.replace(', padding=(0,)', '').replace(', padding=(0, 0)', '')
        return (base + (", padding='same'" if self.same else '') + (', channels_last=True' if self.channels_last else '')
                + (f', activation={self.activation!r}' if self.activation else ''))

    def _run(self, x, conv):
        s = self._spatial
        if self.channels_last:
            x = x.movedim(-1, -1 - s)
        if self.same:
            x = F.pad(x, same_padding(x.shape[-s:], self.kernel_size, self.stride, self.dilation))
        y = conv(x)
        if self.channels_last:
            y = y.movedim(-1 - s, -1)
        return self._act(y)


class Conv2d(_ConvMixin, nn.Conv2d):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 activation=None, channels_last=False, dtype=None):
        same = padding == 'same'
        pad = 0 if isinstance(padding, str) else padding
        super().__init__(in_channels, out_channels, kernel_size, stride, pad, dilation, groups, bias, dtype=dtype)
        self._setup(same, channels_last, activation, 2)

    def forward(self, x):
        return self._run(x, lambda x: nn.Conv2d.forward(self, x))

    def extra_repr(self):
        return self._extra(nn.Conv2d.extra_repr(self))


class Conv1d(_ConvMixin, nn.Conv1d):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 activation=None, channels_last=False, dtype=None):
        same = padding == 'same'
        pad = 0 if isinstance(padding, str) else padding
        super().__init__(in_channels, out_channels, kernel_size, stride, pad, dilation, groups, bias, dtype=dtype)
        self._setup(same, channels_last, activation, 1)

    def forward(self, x):
        return self._run(x, lambda x: nn.Conv1d.forward(self, x))

    def extra_repr(self):
        return self._extra(nn.Conv1d.extra_repr(self))


class ChannelsLast(nn.Module):
    """Run a channels-first module on [N, ..., C] data (a transpose in and out); no parameters."""

    def __init__(self, inner, spatial):
        super().__init__()
        self.inner = inner
        self.spatial = spatial

    def forward(self, x):
        s = self.spatial
        return self.inner(x.movedim(-1, -1 - s)).movedim(-1 - s, -1)


class GlobalPool(nn.Module):
    """Mean or max over every spatial position: [N, C, ...] (or [N, ..., C]) → [N, C]."""

    def __init__(self, mode, channels_last=False):
        super().__init__()
        self.mode = mode
        self.channels_last = channels_last

    def forward(self, x):
        dims = tuple(range(1, x.dim() - 1)) if self.channels_last else tuple(range(2, x.dim()))
        return x.mean(dims) if self.mode == 'avg' else x.amax(dims)


class Reshape(nn.Module):
    """Each sample to `shape` (the batch dim kept), as Keras's Reshape."""

    def __init__(self, shape):
        super().__init__()
        self.shape = list(shape)

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape)


class SinusoidalPositionalEncoding(nn.Module):
    """x + PE[:L], PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(...); `pe` is not saved."""

    def __init__(self, d_model, max_len=5000, dropout=0.0, batch_first=False, dtype=None):
        super().__init__()
        pe = torch.zeros(max_len, d_model, dtype=torch.float64)
        pos = torch.arange(max_len, dtype=torch.float64)
        for i in range((d_model + 1) // 2):
            freq = math.exp(-math.log(10000.0) * (2 * i) / d_model)
            pe[:, 2 * i] = torch.sin(pos * freq)
            if 2 * i + 1 < d_model:
                pe[:, 2 * i + 1] = torch.cos(pos * freq)
        self.register_buffer('pe', pe.to(dtype or torch.get_default_dtype()), persistent=False)
        self.drop = nn.Dropout(dropout)
        self.batch_first = batch_first

    def forward(self, x):
        return self.drop(_add_positions(x, self.pe, self.batch_first))


class LearnedPositionalEncoding(nn.Module):
    """x + weight[:L] with a learned table `weight` [maxLen, dModel]."""

    def __init__(self, d_model, max_len, dropout=0.0, batch_first=False, dtype=None):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(max_len, d_model, dtype=dtype))
        self.drop = nn.Dropout(dropout)
        self.batch_first = batch_first

    def forward(self, x):
        return self.drop(_add_positions(x, self.weight, self.batch_first))


def _add_positions(x, table, batch_first):
    seq_dim = 1 if x.dim() == 3 and batch_first else 0
    rows = table[: x.shape[seq_dim]].to(x.dtype)
    return x + (rows.unsqueeze(1) if x.dim() == 3 and not batch_first else rows)


class Merge(nn.Module):
    """Keras's merge layers over several inputs: add, subtract, multiply, average, maximum, concatenate."""

    def __init__(self, mode, dim=-1):
        super().__init__()
        self.mode = mode
        self.dim = dim

    def forward(self, *xs):
        if self.mode == 'concatenate':
            return torch.cat(xs, self.dim)
        if self.mode == 'subtract':
            return xs[0] - xs[1]
        out = xs[0]
        for x in xs[1:]:
            out = torch.maximum(out, x) if self.mode == 'maximum' else out * x if self.mode == 'multiply' else out + x
        return out / len(xs) if self.mode == 'average' else out


class Graph(nn.Module):
    """@ml's functional Model: layers registered under their names, called in the saved order."""

    def __init__(self, layers, inputs, calls, outputs, multi_output):
        super().__init__()
        for name, layer in layers.items():
            self.add_module(name, layer)
        self.input_names = list(inputs)
        self.calls = [tuple(c) for c in calls]
        self.output_names = list(outputs)
        self.multi_output = multi_output

    def forward(self, *xs):
        if len(xs) != len(self.input_names):
            raise ValueError(f'expected {len(self.input_names)} input(s), got {len(xs)}')
        values = dict(zip(self.input_names, xs))
        for layer, ins, outs in self.calls:
            out = self._modules[layer](*[values[i] for i in ins])
            outs_list = list(out) if isinstance(out, (tuple, list)) else [out]
            for name, value in zip(outs, outs_list):
                values[name] = value
        results = [values[o] for o in self.output_names]
        return results if self.multi_output else results[0]
