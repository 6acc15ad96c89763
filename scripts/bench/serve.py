#!/usr/bin/python3
"""PyTorch side of scripts/bench/serve.ts (part a): the same saved model (config.json +
model.safetensors, loaded by python/multitask_twin.py), eval forward of one classification task on
the same token ids; prints one JSON line of per-iteration times. With "export": writes the ONNX file
onnxruntime-node runs (torch.onnx.export of the same forward, inputs inputIds and lengths).

PyTorch is timed in eval mode under torch.no_grad() (what a PyTorch user gets: torch's encoder-layer
fast path, _transformer_encoder_layer_fwd); the export runs in training mode with dropout 0 (the
same math; torch.onnx cannot export the fast path's fused op).
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
from multitask_twin import MultiTaskTwin  # noqa: E402
from safetensors_io import load as load_tensors  # noqa: E402
from timing import report_step_times  # noqa: E402


class Forward(torch.nn.Module):
    def __init__(self, twin, task):
        super().__init__()
        self.twin = twin
        self.task = task

    def forward(self, input_ids, lengths):
        return self.twin.forward({"inputIds": input_ids, "lengths": lengths}, [self.task])[self.task][0]


def main():
    config = json.loads(sys.argv[1])
    torch.set_num_threads(config["threads"])
    twin = MultiTaskTwin.load(config["model"])
    forward = Forward(twin, config["task"])
    inputs = load_tensors(config["inputs"])
    ids, lengths = inputs["inputIds"], inputs["lengths"]
    if config.get("export"):
        forward.train()
        with torch.no_grad():
            torch.onnx.export(forward, (ids, lengths), config["export"], input_names=["inputIds", "lengths"],
                              output_names=["outputs"], opset_version=14, training=torch.onnx.TrainingMode.PRESERVE,
                              dynamic_axes={"inputIds": {0: "batch", 1: "length"}, "lengths": {0: "batch"}, "outputs": {0: "batch"}})
        print(json.dumps({"exported": config["export"], "torch": torch.__version__}))
        return
    forward.eval()
    with torch.no_grad():
        if config.get("check"):
            print(json.dumps({"outputs": forward(ids, lengths).tolist()}))
            return
        report_step_times(config, lambda: forward(ids, lengths))


if __name__ == "__main__":
    main()
