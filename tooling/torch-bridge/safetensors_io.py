"""Safetensors files and @ml/train save folders, read and written with torch alone.

The format: an 8-byte little-endian header length n, n bytes of JSON
({name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}), then the raw
little-endian data, each tensor at [8 + n + begin, 8 + n + end). The `safetensors` pip
package is used when it is installed; this reader and writer need nothing but torch.
"""
import json
import os
import struct

import torch

DTYPES = {
    'F64': torch.float64, 'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16,
    'I64': torch.int64, 'I32': torch.int32, 'I16': torch.int16, 'I8': torch.int8, 'U8': torch.uint8, 'BOOL': torch.bool,
}
NAMES = {v: k for k, v in DTYPES.items()}
SAVE_RECORD = 'ml-save.json'
MODEL_FORMAT = 'ml-model/1'


def read_safetensors(path):
    """{name: tensor} and the metadata of a safetensors file."""
    with open(path, 'rb') as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f'{path}: not a safetensors file (shorter than its 8-byte header length)')
    (n,) = struct.unpack('<Q', data[:8])
    if 8 + n > len(data):
        raise ValueError(f'{path}: header length {n} runs past the end of the file ({len(data)} bytes)')
    header = json.loads(data[8:8 + n].decode('utf8'))
    meta = header.pop('__metadata__', {}) or {}
    body = memoryview(data)[8 + n:]
    out = {}
    for name, e in header.items():
        dtype = DTYPES.get(e['dtype'])
        if dtype is None:
            raise ValueError(f"{path}: tensor '{name}' has unsupported dtype {e['dtype']}")
        begin, end = e['data_offsets']
        shape = [int(d) for d in e['shape']]
        count = 1
        for d in shape:
            count *= d
        if count == 0:
            out[name] = torch.zeros(shape, dtype=dtype)
            continue
        # copy: frombuffer over read-only bytes would share memory with them
        t = torch.frombuffer(bytearray(body[begin:end]), dtype=dtype)
        out[name] = t.reshape(shape).clone()
    return out, meta


def write_safetensors(path, tensors, metadata=None):
    """Write {name: tensor} (contiguous little-endian data, header padded to 8 bytes)."""
    header = {}
    chunks = []
    offset = 0
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        if t.dtype not in NAMES:
            raise ValueError(f"tensor '{name}' has dtype {t.dtype}, which safetensors cannot hold here")
        raw = t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() > 0 else b''
        header[name] = {'dtype': NAMES[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    if metadata:
        header['__metadata__'] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(',', ':')).encode('utf8')
    text += b' ' * ((8 - len(text) % 8) % 8)
    tmp = f'{path}.tmp-{os.getpid()}'
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for c in chunks:
            f.write(c)
    os.replace(tmp, path)


def saved_files(folder):
    """{file name: path} of the save in `folder`: the generation ml-save.json committed
    (a file whose temp is still there is read from the temp), or config.json and
    model.safetensors side by side (older saves, and folders written by torch_to_ml)."""
    record_path = os.path.join(folder, SAVE_RECORD)
    if os.path.exists(record_path):
        with open(record_path, encoding='utf8') as f:
            record = json.load(f)
        out = {}
        for name in record['files']:
            temp = record.get('temps', {}).get(name)
            path = os.path.join(folder, temp) if temp and os.path.exists(os.path.join(folder, temp)) else os.path.join(folder, name)
            out[name] = path
        return out
    out = {}
    for name in ('config.json', 'model.safetensors'):
        if not os.path.exists(os.path.join(folder, name)):
            raise FileNotFoundError(f'{folder} holds no model saved by @ml/train (no {SAVE_RECORD}, no {name})')
        out[name] = os.path.join(folder, name)
    return out


def read_saved_model(folder):
    """(architecture config, {name: tensor}) of a model saved by @ml/train's saveModel."""
    files = saved_files(folder)
    with open(files['config.json'], encoding='utf8') as f:
        config = json.load(f)
    if config.get('format') != MODEL_FORMAT:
        raise ValueError(f"{files['config.json']}: format must be '{MODEL_FORMAT}', got {config.get('format')!r}")
    weights, _ = read_safetensors(files['model.safetensors'])
    return config['architecture'], weights


def write_saved_model(folder, architecture, state):
    """Write config.json + model.safetensors that @ml/train's loadModel reads."""
    os.makedirs(folder, exist_ok=True)
    write_safetensors(os.path.join(folder, 'model.safetensors'), state, {'format': MODEL_FORMAT})
    with open(os.path.join(folder, 'config.json'), 'w', encoding='utf8') as f:
        json.dump({'format': MODEL_FORMAT, 'architecture': architecture}, f, indent=2)
