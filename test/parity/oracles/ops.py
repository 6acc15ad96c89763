#!/usr/bin/python3
"""PyTorch oracle for the tensor op parity tests (test/parity/tensor-parity.test.ts).

Usage: /usr/bin/python3 test/parity/oracles/ops.py cases.json results.json

cases.json is a list of cases:
  { "name": str,
    "op": "camelCaseName",            # torch name in camelCase (indexSelect -> index_select)
    "call": "method" | "torch" | "F",  # x0.op(...), torch.op(...), torch.nn.functional.op(...)
    "inputs": [{ "data": [flat values], "shape": [...], "dtype": "float32", "requiresGrad": bool }],
    "args": [...], "kwargs": {...},    # {"$t": i} is inputs[i], {"$dtype": "int64"} a torch dtype;
                                       # kwarg names are camelCase too (ignoreIndex -> ignore_index)
    "py": "expression",                # optional, replaces op/args: inputs are x0, x1, ...
    "pyExec": "statements",            # optional, statements that set `result`
    "clone": bool,                     # call the method on x0.clone() (in-place ops on grad inputs)
    "seed": int }                      # torch.manual_seed(seed) right before the op

results.json maps each name to
  { "outputs": [{ "data", "shape", "dtype" }], "weights": [flat list per output or null],
    "grads": [flat list per input or null], "error": str (only when torch raised) }
The gradients are those of loss = sum_i sum(output_i * weights_i) over the outputs that require
grad; weights_i = randn(output_i.shape) from a generator seeded with 1000 + i, in float32, cast
to the output's dtype. The JavaScript side reads the weights back instead of drawing them.
Floats are written with repr (round-trips exactly); non-finite values as "nan", "inf", "-inf".
"""
import json
import math
import re
import sys

import torch
import torch.nn.functional as F

torch.set_num_threads(1)

DTYPES = {
    "float32": torch.float32, "float64": torch.float64, "float16": torch.float16, "bfloat16": torch.bfloat16,
    "int32": torch.int32, "int64": torch.int64, "uint8": torch.uint8, "bool": torch.bool,
}
DTYPE_NAMES = {v: k for k, v in DTYPES.items()}


def snake(name):
    trailing = "_" if name.endswith("_") else ""
    base = name[:-1] if trailing else name
    return re.sub(r"(?<!^)([A-Z])", r"_\1", base).lower() + trailing


def make_input(spec):
    dtype = DTYPES[spec["dtype"]]
    data = spec["data"]
    # Build in a wide type, then convert as libtorch does for the JavaScript typed array.
    if dtype == torch.bool:
        t = torch.tensor([bool(v) for v in data], dtype=torch.bool)
    elif dtype.is_floating_point:
        t = torch.tensor(data, dtype=torch.float64).to(dtype)
    else:
        t = torch.tensor(data, dtype=torch.int64).to(dtype)
    t = t.reshape(spec["shape"])
    if spec.get("requiresGrad"):
        t.requires_grad_(True)
    return t


def resolve(value, inputs):
    if isinstance(value, list):
        return [resolve(v, inputs) for v in value]
    if isinstance(value, dict):
        if "$t" in value:
            return inputs[value["$t"]]
        if "$dtype" in value:
            return DTYPES[value["$dtype"]]
        if "$tuple" in value:
            return tuple(resolve(v, inputs) for v in value["$tuple"])
        return {k: resolve(v, inputs) for k, v in value.items()}
    return value


def outputs_of(result):
    if isinstance(result, torch.Tensor):
        return [result]
    if isinstance(result, (tuple, list)):
        out = []
        for r in result:
            out.extend(outputs_of(r))
        return out
    if isinstance(result, (bool, int, float)):
        return [torch.tensor(result)]
    raise TypeError(f"unsupported result type {type(result).__name__}")


def encode(values):
    out = []
    for v in values:
        if isinstance(v, float) and not math.isfinite(v):
            out.append("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))
        else:
            out.append(v)
    return out


def flat(t):
    t = t.detach()
    if t.dtype in (torch.float16, torch.bfloat16):
        t = t.float()
    return encode(t.reshape(-1).tolist())


def run_case(case):
    inputs = [make_input(s) for s in case.get("inputs", [])]
    scope = {"torch": torch, "F": F, "math": math}
    for i, t in enumerate(inputs):
        scope[f"x{i}"] = t
    if "seed" in case:
        torch.manual_seed(case["seed"])
    if "pyExec" in case:
        exec(case["pyExec"], scope)  # noqa: S102 - test oracle, cases come from the test files
        result = scope["result"]
    elif "py" in case:
        result = eval(case["py"], scope)  # noqa: S307 - test oracle, cases come from the test files
    else:
        name = snake(case["op"])
        args = resolve(case.get("args", []), inputs)
        kwargs = {snake(k): v for k, v in resolve(case.get("kwargs", {}), inputs).items()}
        call = case.get("call", "method" if inputs else "torch")
        if call == "method":
            self = inputs[0].clone() if case.get("clone") else inputs[0]
            # A few torch names are functions only (gelu, silu): call them with self first.
            method = getattr(self, name, None)
            if method is None:
                fn = getattr(torch, name, None) or getattr(F, name)
                method = lambda *a, **k: fn(self, *a, **k)  # noqa: E731
            result = method(*args, **kwargs)
            if name.endswith("_"):
                result = self
        elif call == "torch":
            result = getattr(torch, name)(*args, **kwargs)
        elif call == "F":
            result = getattr(F, name)(*args, **kwargs)
        else:
            raise ValueError(f"unknown call kind {call}")
    outputs = outputs_of(result)
    weights = []
    loss = None
    for i, out in enumerate(outputs):
        if not out.requires_grad:
            weights.append(None)
            continue
        g = torch.Generator().manual_seed(1000 + i)
        w = torch.randn(out.shape, generator=g, dtype=torch.float32)
        weights.append(encode(w.reshape(-1).tolist()))
        term = (out * w.to(out.dtype)).sum()
        loss = term if loss is None else loss + term
    if loss is not None:
        loss.backward()
    return {
        "outputs": [{"data": flat(o), "shape": list(o.shape), "dtype": DTYPE_NAMES.get(o.dtype, str(o.dtype))} for o in outputs],
        "weights": weights,
        "grads": [flat(t.grad) if t.grad is not None else None for t in inputs],
    }


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    results = {}
    for case in cases:
        try:
            results[case["name"]] = run_case(case)
        except Exception as e:  # reported per case, so one bad case does not hide the others
            results[case["name"]] = {"error": f"{type(e).__name__}: {e}"}
    with open(sys.argv[2], "w") as f:
        json.dump({"torch": torch.__version__, "results": results}, f)


if __name__ == "__main__":
    main()
