#!/usr/bin/env python3
"""Test modes of python/safetensors_io.py, for test/parity/safetensors.test.ts (each exits non-zero with a
message on any mismatch):

    safetensors_io_modes.py create OUT.safetensors VALUES.json [SEED]
        writes seeded tensors of every dtype (plus a 0-dim and empty ones) with metadata, and
        their exact values as JSON (see `values_json`).
    safetensors_io_modes.py roundtrip IN.safetensors EXPECTED.json OUT.safetensors
        checks that IN holds exactly the tensors and metadata of EXPECTED.json, then saves
        `transform(x)` of every tensor (x * 2 + 1; logical not for bool) to OUT with the same metadata.
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "python"))
from safetensors_io import DTYPES, FORMAT_NAMES, TORCH_NAMES, _fail, _tensor_bytes, load_with_metadata, save  # noqa: E402,F401


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
