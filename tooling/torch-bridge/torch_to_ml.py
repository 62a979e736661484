#!/usr/bin/env python3
"""A PyTorch model (its nn.Module, or an @ml architecture, plus a state_dict) as a folder
that @ml/train's loadModel reads: config.json + model.safetensors.

    python3 torch_to_ml.py --module mymodel.py:build --state-dict weights.pt --out saved-dir
    python3 torch_to_ml.py --config config.json --state-dict weights.pt --out saved-dir

--module names a Python function returning the nn.Module (its architecture is read from
the module: torch.nn layers and those of ml_layers.py, see README.md); --config takes an
@ml config.json (or a bare architecture) instead. The state dict is a torch.save file
(a dict of tensors, or a whole module) or a safetensors file. In Python:
`from torch_to_ml import save_for_ml; save_for_ml(module, 'saved-dir')`.
"""
import argparse
import importlib.util
import json
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ml_layers as L  # noqa: E402
from safetensors_io import MODEL_FORMAT, read_safetensors, write_saved_model  # noqa: E402


class UnsupportedModule(ValueError):
    pass


def _dtype_opt(m):
    """{'dtype': 'float64'} when the module's parameters are float64 (float32 is @ml's default)."""
    ps = [p for p in m.parameters(recurse=False)] or list(m.parameters())
    return {'dtype': 'float64'} if ps and ps[0].dtype == torch.float64 else {}


def _pair(v):
    v = list(v) if isinstance(v, (tuple, list)) else v
    if isinstance(v, list) and len(v) == 2 and v[0] == v[1]:
        return v[0]
    if isinstance(v, list) and len(v) == 1:
        return v[0]
    return v


def _act_name(fn):
    """The @ml name of a TransformerLayer's activation (a string or a torch function)."""
    if isinstance(fn, str):
        return fn
    name = getattr(fn, '__name__', '')
    if name in ('relu', 'gelu'):
        return name
    raise UnsupportedModule(f'transformer activation {fn!r} has no @ml name (use relu or gelu)')


def config_from_torch(m, path='model'):
    """The @ml ModuleConfig of a torch module."""
    t = type(m)

    def cfg(cls, **c):
        return {'className': cls, 'config': {k: v for k, v in c.items() if v is not None}}

    if t is nn.Sequential:
        return {'className': 'Sequential', 'config': {}, 'layers': [config_from_torch(c, f'{path}.{i}') for i, c in enumerate(m)]}
    if isinstance(m, L.Graph):
        raise UnsupportedModule(f'{path}: a Graph goes back with its saved config.json (--config)')
    if t in (nn.Linear, L.Linear):
        return cfg('Linear', inFeatures=m.in_features, outFeatures=m.out_features, bias=m.bias is not None,
                   activation=getattr(m, 'activation', None), **_dtype_opt(m))
    if t in (nn.Conv1d, nn.Conv2d, L.Conv1d, L.Conv2d):
        if m.padding_mode != 'zeros':
            raise UnsupportedModule(f"{path}: padding_mode '{m.padding_mode}' (only zeros)")
        padding = 'same' if getattr(m, 'same', False) else m.padding if isinstance(m.padding, str) else _pair(m.padding)
        one = t in (nn.Conv1d, L.Conv1d)
        return cfg('Conv1d' if one else 'Conv2d', inChannels=m.in_channels, outChannels=m.out_channels, kernelSize=_pair(m.kernel_size),
                   stride=_pair(m.stride), padding=padding, dilation=_pair(m.dilation), groups=m.groups, bias=m.bias is not None,
                   activation=getattr(m, 'activation', None), dataFormat='channelsLast' if getattr(m, 'channels_last', False) else None,
                   **_dtype_opt(m))
    if isinstance(m, L.ChannelsLast):
        c = config_from_torch(m.inner, path)
        c['config']['dataFormat'] = 'channelsLast'
        return c
    if t in (nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d):
        if m.ceil_mode:
            raise UnsupportedModule(f'{path}: ceil_mode=True')
        c = cfg(t.__name__, kernelSize=_pair(m.kernel_size), stride=_pair(m.stride), padding=_pair(m.padding))
        if t.__name__.startswith('Max'):
            c['config']['dilation'] = _pair(m.dilation)
        else:
            c['config']['countIncludePad'] = m.count_include_pad
            if getattr(m, 'divisor_override', None):
                raise UnsupportedModule(f'{path}: divisor_override')
        return c
    if isinstance(m, L.GlobalPool):
        return cfg('GlobalAvgPool2d' if m.mode == 'avg' else 'GlobalMaxPool2d', dataFormat='channelsLast' if m.channels_last else None)
    if t in (nn.BatchNorm1d, nn.BatchNorm2d):
        c = cfg(t.__name__, numFeatures=m.num_features, eps=m.eps, affine=m.affine, trackRunningStats=m.track_running_stats, **_dtype_opt(m))
        c['config']['momentum'] = m.momentum  # None: cumulative average, as null in @ml
        return c
    if t is nn.LayerNorm:
        return cfg('LayerNorm', normalizedShape=list(m.normalized_shape), eps=m.eps, elementwiseAffine=m.elementwise_affine, **_dtype_opt(m))
    if t is nn.Dropout:
        return cfg('Dropout', p=m.p)
    if t is nn.Identity:
        return cfg('Identity')
    if t is nn.Flatten:
        return cfg('Flatten', startDim=m.start_dim, endDim=m.end_dim)
    if isinstance(m, L.Reshape):
        return cfg('Reshape', shape=m.shape)
    if t is nn.Embedding:
        if m.max_norm is not None:
            raise UnsupportedModule(f'{path}: Embedding max_norm')
        return cfg('Embedding', numEmbeddings=m.num_embeddings, embeddingDim=m.embedding_dim, paddingIdx=m.padding_idx, **_dtype_opt(m))
    if t in (nn.RNN, nn.LSTM, nn.GRU):
        if getattr(m, 'proj_size', 0):
            raise UnsupportedModule(f'{path}: LSTM proj_size')
        c = cfg(t.__name__, inputSize=m.input_size, hiddenSize=m.hidden_size, numLayers=m.num_layers, bias=m.bias, batchFirst=m.batch_first,
                dropout=float(m.dropout), bidirectional=m.bidirectional, **_dtype_opt(m))
        if t is nn.RNN:
            c['config']['nonlinearity'] = m.nonlinearity
        return c
    if t in (nn.RNNCell, nn.LSTMCell, nn.GRUCell):
        c = cfg(t.__name__, inputSize=m.input_size, hiddenSize=m.hidden_size, bias=m.bias, **_dtype_opt(m))
        if t is nn.RNNCell:
            c['config']['nonlinearity'] = m.nonlinearity
        return c
    if t is nn.MultiheadAttention:
        if m.bias_k is not None or m.add_zero_attn:
            raise UnsupportedModule(f'{path}: MultiheadAttention add_bias_kv / add_zero_attn')
        return cfg('MultiheadAttention', embedDim=m.embed_dim, numHeads=m.num_heads, dropout=m.dropout, bias=m.in_proj_bias is not None,
                   batchFirst=m.batch_first, kdim=m.kdim if m.kdim != m.embed_dim else None, vdim=m.vdim if m.vdim != m.embed_dim else None,
                   **_dtype_opt(m))
    if t in (nn.TransformerEncoderLayer, nn.TransformerDecoderLayer):
        return cfg(t.__name__, dModel=m.linear1.in_features, nhead=m.self_attn.num_heads, dimFeedforward=m.linear1.out_features,
                   dropout=m.dropout.p, activation=_act_name(m.activation), layerNormEps=m.norm1.eps, batchFirst=m.self_attn.batch_first,
                   normFirst=m.norm_first, **_dtype_opt(m))
    if t is nn.Transformer:
        layer = m.encoder.layers[0]
        return cfg('Transformer', dModel=m.d_model, nhead=m.nhead, numEncoderLayers=len(m.encoder.layers), numDecoderLayers=len(m.decoder.layers),
                   dimFeedforward=layer.linear1.out_features, dropout=layer.dropout.p, activation=_act_name(layer.activation),
                   layerNormEps=layer.norm1.eps, batchFirst=m.batch_first, normFirst=layer.norm_first, **_dtype_opt(m))
    if isinstance(m, (L.SinusoidalPositionalEncoding, L.LearnedPositionalEncoding)):
        table = m.pe if isinstance(m, L.SinusoidalPositionalEncoding) else m.weight
        c = cfg(t.__name__, dModel=table.shape[1], maxLen=table.shape[0], dropout=m.drop.p, batchFirst=m.batch_first)
        if isinstance(m, L.LearnedPositionalEncoding):
            c['config'].update(_dtype_opt(m))
        return c
    if isinstance(m, L.Merge):
        return cfg('Concatenate', dim=m.dim) if m.mode == 'concatenate' else cfg(m.mode.capitalize())
    if isinstance(m, L.Activation):
        return cfg('Activation', activation=m.activation)
    simple = {nn.ReLU: 'ReLU', nn.Sigmoid: 'Sigmoid', nn.Tanh: 'Tanh', nn.SiLU: 'SiLU', nn.SELU: 'SELU', nn.Hardsigmoid: 'HardSigmoid'}
    if t in simple:
        return cfg(simple[t])
    if t is nn.LeakyReLU:
        return cfg('LeakyReLU', negativeSlope=m.negative_slope)
    if t is nn.ELU:
        return cfg('ELU', alpha=m.alpha)
    if t is nn.GELU:
        return cfg('GELU', approximate=m.approximate)
    if t is nn.Softplus:
        return cfg('Softplus', beta=m.beta)
    if t in (nn.Softmax, nn.LogSoftmax):
        return cfg(t.__name__, dim=-1 if m.dim is None else m.dim)
    raise UnsupportedModule(f'{path}: no @ml counterpart for {t.__module__}.{t.__name__} in torch_to_ml.py (see README.md for the layers it maps)')


def save_for_ml(module, folder, state_dict=None, architecture=None):
    """Write `module` (or `architecture` with `state_dict`) as config.json + model.safetensors."""
    arch = architecture if architecture is not None else config_from_torch(module)
    state = state_dict if state_dict is not None else module.state_dict()
    # num_batches_tracked and other integer buffers stay I64: @ml reads them into int32 (range-checked)
    write_saved_model(folder, arch, {k: v.detach() for k, v in state.items()})
    return arch


def _load_state(path):
    if path.endswith('.safetensors'):
        return read_safetensors(path)[0]
    obj = torch.load(path, map_location='cpu')
    return obj.state_dict() if isinstance(obj, nn.Module) else obj


def _load_factory(spec):
    file, _, fn = spec.partition(':')
    s = importlib.util.spec_from_file_location('user_model', file)
    mod = importlib.util.module_from_spec(s)
    s.loader.exec_module(mod)
    return getattr(mod, fn or 'build')()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--module', help='FILE.py:FUNCTION returning the nn.Module')
    p.add_argument('--config', help='an @ml config.json or architecture JSON instead of --module')
    p.add_argument('--state-dict', help='torch.save file or safetensors (default: the module\'s own weights)')
    p.add_argument('--out', required=True, help='folder to write config.json + model.safetensors into')
    a = p.parse_args(argv)
    if bool(a.module) == bool(a.config):
        p.error('give exactly one of --module and --config')
    state = _load_state(a.state_dict) if a.state_dict else None
    if a.module:
        module = _load_factory(a.module)
        if state is not None:
            module.load_state_dict(state, strict=True)
        save_for_ml(module, a.out)
    else:
        if state is None:
            p.error('--config needs --state-dict')
        with open(a.config, encoding='utf8') as f:
            c = json.load(f)
        save_for_ml(None, a.out, state_dict=state, architecture=c['architecture'] if c.get('format') == MODEL_FORMAT else c)
    print(f'wrote {a.out}/config.json and {a.out}/model.safetensors')
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except (UnsupportedModule, ValueError, FileNotFoundError) as e:
        print(f'torch_to_ml: {e}', file=sys.stderr)
        sys.exit(2)
