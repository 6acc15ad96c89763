#!/usr/bin/env python3
"""A small, pure-Python safetensors reader and writer over torch.

Every PyTorch oracle (test/reference/) and the twin load and save weights through this file, so the
oracles need nothing beyond torch (the `safetensors` package is not installed on CI). It is written
independently of mtl-torch's C++ reader, so each checks the other.

Library use:
    from safetensors_io import load, save
    tensors = load("w.safetensors")                  # dict name -> CPU tensor, in file order
    tensors, metadata = load_with_metadata("w.safetensors")
    save(tensors, "w.safetensors", metadata={"k": "v"})

Script use (for test/safetensors.test.ts; each exits non-zero with a message on any mismatch):
    safetensors_io.py create OUT.safetensors VALUES.json [SEED]
        writes seeded tensors of every dtype (plus a 0-dim and empty ones) with metadata, and
        their exact values as JSON (see `values_json`).
    safetensors_io.py roundtrip IN.safetensors EXPECTED.json OUT.safetensors
        checks that IN holds exactly the tensors and metadata of EXPECTED.json, then saves
        `transform(x)` of every tensor (x * 2 + 1; logical not for bool) to OUT with the same metadata.
"""
import json
import math
import struct
import sys

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

def values_json(tensors, metadata):
    """Exact values as JSON: floats as numbers (float16/bfloat16/float32 are exact in a double) or,
    where JSON has no number for them, the strings "nan", "inf", "-inf" (and "-0" from JavaScript);
    int64 as decimal strings (JavaScript numbers would round them); bools as booleans."""
    out = {"__metadata__": metadata, "tensors": {}}
    for name, tensor in tensors.items():
        flat = tensor.reshape(-1)
        if tensor.dtype == torch.int64:
            values = [str(v) for v in flat.tolist()]
        elif tensor.dtype.is_floating_point:
            values = [v if math.isfinite(v) else repr(v) for v in flat.double().tolist()]
        else:
            values = flat.tolist()
        out["tensors"][name] = {"dtype": TORCH_NAMES[tensor.dtype], "shape": list(tensor.shape), "values": values}
    return out


def tensors_from_json(spec):
    tensors = {}
    for name, entry in spec["tensors"].items():
        dtype = getattr(torch, entry["dtype"])
        values = entry["values"]
        if dtype == torch.int64:
            values = [int(v) for v in values]
        elif dtype.is_floating_point:
            values = [float(v) for v in values]
        source = torch.tensor(values, dtype=torch.float64 if dtype.is_floating_point else dtype)
        tensors[name] = source.to(dtype).reshape(entry["shape"])
    return tensors


def seeded_tensors(seed):
    g = torch.Generator().manual_seed(seed)
    big = 2 ** 60
    return {
        "encoder.weight": torch.randn(4, 3, generator=g),
        "encoder.bias": torch.randn(3, generator=g),
        "double": torch.randn(2, 5, generator=g, dtype=torch.float64),
        "half": torch.randn(3, 4, generator=g).half(),
        "bf16": torch.randn(2, 3, 2, generator=g).bfloat16(),
        "int32": torch.randint(-2 ** 31, 2 ** 31 - 1, (7,), generator=g, dtype=torch.int32),
        "int64": torch.cat([torch.randint(-big, big, (5,), generator=g),
                            torch.tensor([2 ** 53 + 1, -(2 ** 53) - 3])]),
        "uint8": torch.randint(0, 256, (3, 3), generator=g, dtype=torch.uint8),
        "mask": torch.randn(5, generator=g) > 0,
        "scalar": torch.tensor(3.25),
        "empty": torch.empty(0, 3),
        "empty.int": torch.empty(2, 0, dtype=torch.int64),
    }


def transform(tensor):
    return torch.logical_not(tensor) if tensor.dtype == torch.bool else tensor * 2 + 1


def main(argv):
    mode = argv[1] if len(argv) > 1 else ""
    if mode == "create" and len(argv) in (4, 5):
        tensors = seeded_tensors(int(argv[4]) if len(argv) == 5 else 0)
        metadata = {"format": "pt", "writer": "torch " + torch.__version__}
        save(tensors, argv[2], metadata)
        with open(argv[3], "w") as f:
            json.dump(values_json(tensors, metadata), f)
        return 0
    if mode == "roundtrip" and len(argv) == 5:
        loaded, metadata = load_with_metadata(argv[2])
        with open(argv[3]) as f:
            spec = json.load(f)
        expected = tensors_from_json(spec)
        problems = []
        if metadata != spec.get("__metadata__", {}):
            problems.append("metadata %r != %r" % (metadata, spec.get("__metadata__")))
        if sorted(loaded) != sorted(expected):
            problems.append("names %r != %r" % (sorted(loaded), sorted(expected)))
        for name in sorted(set(loaded) & set(expected)):
            a, b = loaded[name], expected[name]
            # Bytes, not torch.equal: -0.0 and NaN must come through exactly too.
            if a.dtype != b.dtype or a.shape != b.shape or _tensor_bytes(a) != _tensor_bytes(b):
                problems.append("%s: got %s %s %s, expected %s %s %s" %
                                (name, a.dtype, tuple(a.shape), a.tolist(), b.dtype, tuple(b.shape), b.tolist()))
        if problems:
            print("\n".join(problems), file=sys.stderr)
            return 1
        save({name: transform(t) for name, t in loaded.items()}, argv[4], metadata)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
