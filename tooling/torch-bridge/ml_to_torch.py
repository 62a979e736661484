#!/usr/bin/env python3
"""A model saved by @ml/train's saveModel (config.json + model.safetensors) as a PyTorch
nn.Module with the same outputs.

    python3 ml_to_torch.py SAVED_DIR --emit-py model.py     # the module's source
    python3 ml_to_torch.py SAVED_DIR --inputs in.safetensors --outputs out.safetensors
    python3 ml_to_torch.py --batch cases.json                # several of the above, one torch start

In Python: `from ml_to_torch import load_ml_model; model = load_ml_model('saved-dir')`.

The module is generated as Python source from the saved architecture (torch.nn layers, and
the small subclasses of ml_layers.py where @ml's options go beyond torch.nn's), then the
weights are loaded with strict key and shape checks. `--emit-py` writes that source: a
plain file with `build(dtype)` that needs nothing but torch. The layer mapping is in README.md.
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import read_safetensors, read_saved_model, write_safetensors  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


class UnsupportedLayer(ValueError):
    pass


def _py(v):
    """A Python literal for a JSON value."""
    if isinstance(v, bool) or v is None:
        return repr(v)
    if isinstance(v, (list, tuple)):
        return '(' + ', '.join(_py(x) for x in v) + (',)' if len(v) == 1 else ')')
    return repr(v)


def _dt(c):
    return "torch.float64" if c.get('dtype') == 'float64' else 'dtype'


def _fmt(c):
    return c.get('dataFormat', 'channelsFirst') == 'channelsLast'


def _act(name):
    """TransformerEncoderLayer's activation argument: torch's strings, else a function."""
    if name in (None, 'relu', 'gelu'):
        return _py(name or 'relu')
    return f'activation_fn({name!r})'


def expr(cfg, path='architecture'):
    """Python expression building the module that `cfg` (an @ml ModuleConfig) describes."""
    cls = cfg['className']
    c = cfg.get('config', {})
    g = c.get

    def need(key):
        if key not in c:
            raise UnsupportedLayer(f'{path}: {cls} without {key!r} (build the model once before saving so its sizes are recorded)')
        return c[key]

    if cls == 'Sequential':
        inner = ',\n'.join(expr(l, f'{path}.layers[{i}]') for i, l in enumerate(cfg.get('layers', [])))
        return 'nn.Sequential(\n' + _indent(inner) + ',\n)' if inner else 'nn.Sequential()'
    if cls == 'Model':
        graph = cfg['graph']
        layers = ',\n'.join(f"{l['config'].get('name')!r}: {expr(l, f'{path}.graph.layers[{i}]')}" for i, l in enumerate(graph['layers']))
        calls = [(k['layer'], k['inputs'], k['outputs']) for k in graph['calls']]
        return (f"Graph(\n    layers={{\n{_indent(layers, 8)},\n    }},\n    inputs={[i['name'] for i in graph['inputs']]!r},\n"
                f"    calls={calls!r},\n    outputs={graph['outputs']!r},\n    multi_output={graph.get('multiOutput', False)!r},\n)")
    if cls in ('Linear', 'Dense'):
        return f"Linear({need('inFeatures')}, {need('outFeatures')}, bias={g('bias', True)!r}, activation={g('activation')!r}, dtype={_dt(c)})"
    if cls in ('Conv1d', 'Conv2d'):
        padding = g('padding', 0)
        return (f"{cls}({need('inChannels')}, {need('outChannels')}, {_py(need('kernelSize'))}, stride={_py(g('stride', 1))}, "
                f"padding={_py(padding)}, dilation={_py(g('dilation', 1))}, groups={g('groups', 1)}, bias={g('bias', True)!r}, "
                f"activation={g('activation')!r}, channels_last={_fmt(c)!r}, dtype={_dt(c)})")
    if cls in ('MaxPool1d', 'MaxPool2d', 'AvgPool1d', 'AvgPool2d'):
        k = g('kernelSize')
        args = f"{_py(k)}, stride={_py(g('stride', k))}, padding={_py(g('padding', 0))}"
        if cls.startswith('Max'):
            args += f", dilation={_py(g('dilation', 1))}"
        else:
            args += f", count_include_pad={g('countIncludePad', True)!r}"
        inner = f'nn.{cls}({args})'
        return f'ChannelsLast({inner}, {1 if cls.endswith("1d") else 2})' if _fmt(c) else inner
    if cls in ('GlobalAvgPool2d', 'GlobalMaxPool2d'):
        return f"GlobalPool({'avg' if 'Avg' in cls else 'max'!r}, channels_last={_fmt(c)!r})"
    if cls in ('BatchNorm1d', 'BatchNorm2d'):
        return (f"nn.{cls}({need('numFeatures')}, eps={g('eps', 1e-5)!r}, momentum={g('momentum', 0.1)!r}, affine={g('affine', True)!r}, "
                f"track_running_stats={g('trackRunningStats', True)!r}, dtype={_dt(c)})")
    if cls == 'LayerNorm':
        return f"nn.LayerNorm({_py(need('normalizedShape'))}, eps={g('eps', 1e-5)!r}, elementwise_affine={g('elementwiseAffine', True)!r}, dtype={_dt(c)})"
    if cls == 'Dropout':
        return f"nn.Dropout({g('p', 0.5)!r})"
    if cls == 'Identity':
        return 'nn.Identity()'
    if cls == 'Flatten':
        return f"nn.Flatten({g('startDim', 1)}, {g('endDim', -1)})"
    if cls == 'Reshape':
        return f"Reshape({_py(need('shape'))})"
    if cls == 'Embedding':
        return f"nn.Embedding({need('numEmbeddings')}, {need('embeddingDim')}, padding_idx={g('paddingIdx')!r}, dtype={_dt(c)})"
    if cls in ('RNN', 'LSTM', 'GRU'):
        extra = f", nonlinearity={g('nonlinearity', 'tanh')!r}" if cls == 'RNN' else ''
        return (f"nn.{cls}({need('inputSize')}, {need('hiddenSize')}, num_layers={g('numLayers', 1)}, bias={g('bias', True)!r}, "
                f"batch_first={g('batchFirst', False)!r}, dropout={g('dropout', 0)!r}, bidirectional={g('bidirectional', False)!r}{extra}, dtype={_dt(c)})")
    if cls in ('RNNCell', 'LSTMCell', 'GRUCell'):
        extra = f", nonlinearity={g('nonlinearity', 'tanh')!r}" if cls == 'RNNCell' else ''
        return f"nn.{cls}({need('inputSize')}, {need('hiddenSize')}, bias={g('bias', True)!r}{extra}, dtype={_dt(c)})"
    if cls == 'MultiheadAttention':
        return (f"nn.MultiheadAttention({need('embedDim')}, {need('numHeads')}, dropout={g('dropout', 0)!r}, bias={g('bias', True)!r}, "
                f"kdim={g('kdim')!r}, vdim={g('vdim')!r}, batch_first={g('batchFirst', False)!r}, dtype={_dt(c)})")
    if cls in ('TransformerEncoderLayer', 'TransformerDecoderLayer'):
        return (f"nn.{cls}({need('dModel')}, {need('nhead')}, dim_feedforward={g('dimFeedforward', 2048)}, dropout={g('dropout', 0.1)!r}, "
                f"activation={_act(g('activation'))}, layer_norm_eps={g('layerNormEps', 1e-5)!r}, batch_first={g('batchFirst', False)!r}, "
                f"norm_first={g('normFirst', False)!r}, dtype={_dt(c)})")
    if cls == 'Transformer':
        return (f"nn.Transformer({g('dModel', 512)}, {g('nhead', 8)}, num_encoder_layers={g('numEncoderLayers', 6)}, "
                f"num_decoder_layers={g('numDecoderLayers', 6)}, dim_feedforward={g('dimFeedforward', 2048)}, dropout={g('dropout', 0.1)!r}, "
                f"activation={_act(g('activation'))}, layer_norm_eps={g('layerNormEps', 1e-5)!r}, batch_first={g('batchFirst', False)!r}, "
                f"norm_first={g('normFirst', False)!r}, dtype={_dt(c)})")
    if cls == 'SinusoidalPositionalEncoding':
        return f"SinusoidalPositionalEncoding({need('dModel')}, max_len={g('maxLen', 5000)}, dropout={g('dropout', 0)!r}, batch_first={g('batchFirst', False)!r}, dtype={_dt(c)})"
    if cls == 'LearnedPositionalEncoding':
        return f"LearnedPositionalEncoding({need('dModel')}, {need('maxLen')}, dropout={g('dropout', 0)!r}, batch_first={g('batchFirst', False)!r}, dtype={_dt(c)})"
    simple = {'ReLU': 'nn.ReLU()', 'Sigmoid': 'nn.Sigmoid()', 'Tanh': 'nn.Tanh()', 'SiLU': 'nn.SiLU()', 'SELU': 'nn.SELU()', 'HardSigmoid': 'nn.Hardsigmoid()'}
    if cls in simple:
        return simple[cls]
    if cls == 'LeakyReLU':
        return f"nn.LeakyReLU({g('negativeSlope', 0.01)!r})"
    if cls == 'ELU':
        return f"nn.ELU({g('alpha', 1.0)!r})"
    if cls == 'GELU':
        return f"nn.GELU(approximate={g('approximate', 'none')!r})"
    if cls == 'Softplus':
        return f"nn.Softplus(beta={g('beta', 1)!r})"
    if cls in ('Softmax', 'LogSoftmax'):
        return f"nn.{cls}(dim={g('dim', -1)})"
    if cls == 'Activation':
        return f"Activation({need('activation')!r})"
    if cls in ('Add', 'Subtract', 'Multiply', 'Average', 'Maximum'):
        return f"Merge({cls.lower()!r})"
    if cls == 'Concatenate':
        return f"Merge('concatenate', dim={g('dim', -1)})"
    raise UnsupportedLayer(f'{path}: no PyTorch counterpart for {cls} in ml_to_torch.py (see README.md for the layers it maps)')


def _indent(text, n=4):
    return '\n'.join(' ' * n + line if line else line for line in text.split('\n'))


def module_source(architecture):
    """Self-contained Python source defining build(dtype) for `architecture`."""
    with open(os.path.join(HERE, 'ml_layers.py'), encoding='utf8') as f:
        layers = f.read()
    body = expr(architecture)
    return (
        '# Generated by tooling/torch-bridge/ml_to_torch.py from an @ml saved model.\n'
        + layers
        + '\n\ndef build(dtype=torch.float32):\n    """The model with fresh weights; load its state dict from the saved model.safetensors."""\n'
        + '    return ' + body.replace('\n', '\n    ') + '\n'
    )


def _file_float_dtype(state):
    kinds = {t.dtype for t in state.values() if t.is_floating_point()}
    return torch.float64 if kinds == {torch.float64} else torch.float32


def load_ml_model(folder, dtype=None, source_out=None):
    """The saved model as a torch nn.Module in eval mode (float64 when every weight is F64)."""
    architecture, state = read_saved_model(folder)
    src = module_source(architecture)
    if source_out:
        with open(source_out, 'w', encoding='utf8') as f:
            f.write(src)
    namespace = {'__name__': 'ml_generated'}
    exec(compile(src, source_out or f'<{folder}>', 'exec'), namespace)  # our generated source
    model = namespace['build'](dtype or _file_float_dtype(state))
    own = model.state_dict()
    # the file's I32 num_batches_tracked → torch's int64, floats keep the module's dtype
    converted = {k: (v.to(own[k].dtype) if k in own else v) for k, v in state.items()}
    model.load_state_dict(converted, strict=True)
    return model.eval()


def flatten_outputs(out):
    """Tensors of a nested output (tuple/list), depth first; None is skipped."""
    if out is None:
        return []
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in flatten_outputs(o)]
    return [out]


def run(folder, inputs_path, outputs_path, kwargs=None):
    """Load the model, run it on in0, in1, … of `inputs_path`, write out0, out1, …"""
    model = load_ml_model(folder)
    tensors, _ = read_safetensors(inputs_path)
    args = []
    i = 0
    while f'in{i}' in tensors:
        t = tensors[f'in{i}']
        args.append(t.long() if t.dtype == torch.int32 else t)
        i += 1
    kw = {k: tensors[v] for k, v in (kwargs or {}).items()}
    with torch.no_grad():
        outs = flatten_outputs(model(*args, **kw))
    write_safetensors(outputs_path, {f'out{j}': o.contiguous() for j, o in enumerate(outs)})


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('folder', nargs='?', help='folder written by saveModel')
    p.add_argument('--emit-py', help="write the module's Python source here")
    p.add_argument('--inputs', help='safetensors with in0, in1, …: run the model on them')
    p.add_argument('--outputs', help='where to write out0, out1, … (with --inputs)')
    p.add_argument('--batch', help='JSON list of {"folder", "inputs", "outputs", "kwargs"?} to run')
    p.add_argument('--threads', type=int, default=1)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    if a.batch:
        with open(a.batch, encoding='utf8') as f:
            cases = json.load(f)
        failed = 0
        for case in cases:
            try:
                run(case['folder'], case['inputs'], case['outputs'], case.get('kwargs'))
            except Exception as e:  # one report per case; the caller sees which failed
                failed += 1
                print(f"{case['folder']}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1 if failed else 0
    if not a.folder:
        p.error('give a saved model folder or --batch')
    if a.inputs:
        if not a.outputs:
            p.error('--inputs needs --outputs')
        run(a.folder, a.inputs, a.outputs)
        if not a.emit_py:
            return 0
    model = load_ml_model(a.folder, source_out=a.emit_py)
    if not a.inputs:
        print(model)
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except (UnsupportedLayer, ValueError, FileNotFoundError) as e:  # a bad or unsupported save: one line, no traceback
        print(f'ml_to_torch: {e}', file=sys.stderr)
        sys.exit(2)
