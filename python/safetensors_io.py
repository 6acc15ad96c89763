#!/usr/bin/env python3
"""A small, pure-Python safetensors reader and writer over torch.

Every PyTorch oracle (test/parity/oracles/) and the twin load and save weights through this file, so the
oracles need nothing beyond torch (the `safetensors` package is not installed on CI). It is written
independently of mtl-torch's C++ reader, so each checks the other.

Library use:
    from safetensors_io import load, save
    tensors = load("w.safetensors")                  # dict name -> CPU tensor, in file order
    tensors, metadata = load_with_metadata("w.safetensors")
    save(tensors, "w.safetensors", metadata={"k": "v"})

The test modes that check it against mtl-torch's reader and writer are
test/parity/oracles/safetensors_io_modes.py.
"""
import json
import struct

import torch

DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "U8": torch.uint8, "BOOL": torch.bool,
}
FORMAT_NAMES = {dtype: name for name, dtype in DTYPES.items()}
# mtl-torch's dtype names (PyTorch's without the "torch." prefix).
TORCH_NAMES = {dtype: str(dtype).replace("torch.", "") for dtype in DTYPES.values()}
MAX_HEADER = 100_000_000
# The order of the reference implementation's Dtype enum (restricted to these dtypes): its writer
# lays tensors out by this rank, highest first, then by name, which keeps every tensor aligned.
DTYPE_RANK = ["BOOL", "U8", "F16", "BF16", "I32", "F32", "F64", "I64"]


def _fail(message):
    raise ValueError("invalid safetensors file: " + message)


def load_with_metadata(path):
    """Reads and validates a file; returns ({name: tensor} in data order, {key: value})."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        _fail("too short")
    (n,) = struct.unpack("<Q", data[:8])
    if n > MAX_HEADER or n > len(data) - 8:
        _fail("bad header length %d" % n)
    header = json.loads(data[8:8 + n].decode("utf-8"))
    if not isinstance(header, dict):
        _fail("header is not an object")
    metadata = header.pop("__metadata__", {}) or {}
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        _fail("__metadata__ must map strings to strings")
    buffer = memoryview(data)[8 + n:]
    entries = sorted(header.items(), key=lambda item: tuple(item[1]["data_offsets"]))
    cursor = 0
    tensors = {}
    for name, info in entries:
        dtype = DTYPES.get(info["dtype"])
        if dtype is None:
            _fail("unknown dtype %r" % info["dtype"])
        shape = info["shape"]
        begin, end = info["data_offsets"]
        numel = 1
        for size in shape:
            numel *= size
        itemsize = torch.empty((), dtype=dtype).element_size()
        if begin != cursor or end - begin != numel * itemsize:
            _fail("tensor %r: offsets [%d, %d] do not follow on at %d with %d bytes" %
                  (name, begin, end, cursor, numel * itemsize))
        cursor = end
        if numel == 0:
            tensors[name] = torch.empty(shape, dtype=dtype)
        else:
            # bytearray: frombuffer needs a writable buffer, and the tensor must own its memory.
            raw = bytearray(buffer[begin:end])
            tensors[name] = torch.frombuffer(raw, dtype=dtype).reshape(shape).clone()
    if cursor != len(buffer):
        _fail("the data buffer has %d bytes no tensor uses" % (len(buffer) - cursor))
    return tensors, metadata


def load(path):
    return load_with_metadata(path)[0]


def _tensor_bytes(tensor):
    flat = tensor.detach().to("cpu").contiguous().reshape(-1)
    if flat.numel() == 0:
        return b""
    return flat.view(torch.uint8).numpy().tobytes()  # host is little-endian, as the format


def save(tensors, path, metadata=None):
    """Writes as the reference implementation does: by descending dtype rank, then by name (so
    every tensor is aligned to its element size), compact JSON, header padded with spaces to a
    multiple of 8."""
    order = sorted(tensors, key=lambda name: (-DTYPE_RANK.index(FORMAT_NAMES[tensors[name].dtype]), name))
    header = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    offset = 0
    blobs = []
    for name in order:
        tensor = tensors[name]
        blob = _tensor_bytes(tensor)
        header[name] = {"dtype": FORMAT_NAMES[tensor.dtype], "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


# ---- script modes ----
