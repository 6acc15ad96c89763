#!/usr/bin/python3
"""PyTorch oracle for mt.nn's blocks (test/nn-*.test.ts run it live, once per test file).

  nn_blocks.py parity CASES.json RESULTS.json
      For every case: build the same torch.nn module (batch_first=True, same options), load the
      weights mtl-torch wrote, run the same inputs, and write the outputs, the input gradients and
      every parameter gradient of loss = sum(output * lossWeights).
  nn_blocks.py reference SPEC.json RESULTS.json
      For every spec: build the module with torch's own initialisation (seeded), draw inputs, and
      write its state dict (names in order; also as safetensors to "saveWeightsTo" when given),
      parameter count, inputs and outputs, for the PyTorch -> mtl-torch round trip and the name
      checks.

Tensors travel as {"shape": [...], "dtype": "float32" | "float64" | "bool" | "int64", "data": [...]}
(flat, row-major), or as a safetensors file when a case names one ("weightsFile").
"""
import json
import math
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "python"))
import safetensors_io  # noqa: E402  (the package's safetensors reader and writer for PyTorch)

DTYPES = {"float32": torch.float32, "float64": torch.float64, "bool": torch.bool, "int64": torch.int64}
DTYPE_NAMES = {v: k for k, v in DTYPES.items()}


def decode(t):
    if t is None:
        return None
    # Non-finite numbers travel as strings ("-Infinity"): JSON has no infinities.
    data = [float(x) if isinstance(x, str) else x for x in t["data"]]
    return torch.tensor(data, dtype=DTYPES[t["dtype"]]).reshape(t["shape"])


def encode(t):
    if t is None:
        return None
    t = t.detach().cpu().contiguous()
    data = [x if math.isfinite(x) else ("NaN" if math.isnan(x) else "Infinity" if x > 0 else "-Infinity")
            for x in t.reshape(-1).tolist()]
    return {"shape": list(t.shape), "dtype": DTYPE_NAMES[t.dtype], "data": data}


def layer_kwargs(o):
    return dict(d_model=o["dModel"], nhead=o["nhead"], dim_feedforward=o.get("dimFeedforward", 2048),
                dropout=o.get("dropout", 0.1), activation=o.get("activation", "relu"),
                layer_norm_eps=o.get("layerNormEps", 1e-5), norm_first=o.get("normFirst", False),
                batch_first=True)


def final_norm(o):
    return nn.LayerNorm(o["dModel"], eps=o.get("layerNormEps", 1e-5)) if o.get("norm", False) else None


def build(kind, o):
    """The torch.nn module an mt.nn kind stands for, with the same options."""
    if kind == "linear":
        return nn.Linear(o["inFeatures"], o["outFeatures"], bias=o.get("bias", True))
    if kind == "embedding":
        return nn.Embedding(o["numEmbeddings"], o["embeddingDim"], padding_idx=o.get("paddingIdx"))
    if kind == "layerNorm":
        return nn.LayerNorm(o["normalizedShape"], eps=o.get("eps", 1e-5), elementwise_affine=o.get("elementwiseAffine", True))
    if kind == "multiheadAttention":
        e = o["embedDim"]
        return nn.MultiheadAttention(e, o["numHeads"], dropout=o.get("dropout", 0.0), bias=o.get("bias", True),
                                     kdim=o.get("kdim", e), vdim=o.get("vdim", e), batch_first=True)
    if kind == "transformerEncoderLayer":
        return nn.TransformerEncoderLayer(**layer_kwargs(o))
    if kind == "transformerDecoderLayer":
        return nn.TransformerDecoderLayer(**layer_kwargs(o))
    if kind == "transformerEncoder":
        # enable_nested_tensor=False: the nested-tensor fast path is an eval-only shortcut, not the math.
        return nn.TransformerEncoder(nn.TransformerEncoderLayer(**layer_kwargs(o)), o["numLayers"], norm=final_norm(o),
                                     enable_nested_tensor=False)
    if kind == "transformerDecoder":
        return nn.TransformerDecoder(nn.TransformerDecoderLayer(**layer_kwargs(o)), o["numLayers"], norm=final_norm(o))
    raise ValueError(f"unknown kind {kind}")


def run(kind, module, inputs, call):
    """Runs the forward the way the mt.nn test called it. `inputs` holds tensors by name; `call`
    holds the non-tensor arguments. Returns the output tensors by name."""
    g = inputs.get
    if kind == "multiheadAttention":
        query = g("query")
        # torch takes its packed shortcuts on identity (query is key is value), as mt.nn does.
        key = query if call.get("keyIsQuery") else g("key")
        value = key if call.get("valueIsKey") else g("value")
        out, weights = module(query, key, value, key_padding_mask=g("keyPaddingMask"), attn_mask=g("attnMask"),
                              need_weights=call.get("needWeights", False),
                              average_attn_weights=call.get("averageAttnWeights", True))
        return {"output": out, "weights": weights} if weights is not None else {"output": out}
    if kind == "transformerEncoderLayer":
        return {"output": module(g("src"), src_mask=g("srcMask"), src_key_padding_mask=g("srcKeyPaddingMask"))}
    if kind == "transformerEncoder":
        return {"output": module(g("src"), mask=g("mask"), src_key_padding_mask=g("srcKeyPaddingMask"))}
    if kind in ("transformerDecoderLayer", "transformerDecoder"):
        return {"output": module(g("tgt"), g("memory"), tgt_mask=g("tgtMask"), memory_mask=g("memoryMask"),
                                 tgt_key_padding_mask=g("tgtKeyPaddingMask"),
                                 memory_key_padding_mask=g("memoryKeyPaddingMask"))}
    return {"output": module(g("input"))}


def load_weights(case):
    if "weightsFile" in case:
        return safetensors_io.load(case["weightsFile"])
    return {name: decode(t) for name, t in case["weights"].items()}


def parity_case(case):
    module = build(case["kind"], case["options"])
    module.load_state_dict(load_weights(case), strict=True)
    module.train(case.get("train", False))
    inputs = {name: decode(t) for name, t in case["inputs"].items()}
    grad_inputs = [name for name in case.get("gradInputs", [])]
    for name in grad_inputs:
        inputs[name].requires_grad_(True)
    outputs = run(case["kind"], module, inputs, case.get("call", {}))
    loss = sum((outputs[name] * decode(w)).sum() for name, w in case["lossWeights"].items())
    loss.backward()
    return {
        "outputs": {name: encode(t) for name, t in outputs.items()},
        "inputGrads": {name: encode(inputs[name].grad) for name in grad_inputs},
        "paramGrads": {name: encode(p.grad) for name, p in module.named_parameters()},
        "loss": loss.item(),
    }


def reference_case(spec):
    torch.manual_seed(spec.get("seed", 0))
    module = build(spec["kind"], spec["options"])
    module.train(spec.get("train", False))
    generator = torch.Generator().manual_seed(spec.get("seed", 0) + 1)
    inputs = {name: torch.randn(shape, generator=generator) for name, shape in spec.get("inputShapes", {}).items()}
    inputs.update({name: decode(t) for name, t in spec.get("inputs", {}).items()})
    if "saveWeightsTo" in spec:
        safetensors_io.save(module.state_dict(), spec["saveWeightsTo"])
    result = {
        "stateDict": [[name, encode(t)] for name, t in module.state_dict().items()],
        "parameterNames": [name for name, _ in module.named_parameters()],
        "numParameters": sum(p.numel() for p in module.parameters()),
    }
    if inputs:
        with torch.no_grad():
            outputs = run(spec["kind"], module, inputs, spec.get("call", {}))
        result["inputs"] = {name: encode(t) for name, t in inputs.items()}
        result["outputs"] = {name: encode(t) for name, t in outputs.items()}
    return result


def main():
    mode, source, target = sys.argv[1], sys.argv[2], sys.argv[3]
    torch.set_num_threads(int(os.environ.get("MTL_REFERENCE_THREADS", "1")))
    with open(source) as f:
        cases = json.load(f)
    handler = {"parity": parity_case, "reference": reference_case}[mode]
    results = {name: handler(case) for name, case in cases.items()}
    with open(target, "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()
