#!/usr/bin/python3
"""PyTorch eager side of scripts/bench/encoder.ts: forward + backward of the same 4-layer
torch.nn.TransformerEncoder, same threads and sizes; prints one JSON line of per-iteration times
(one round: encoder.ts alternates rounds of both sides so that load changes hit both alike)."""
import json
import sys

import torch
from torch import nn

from timing import report_step_times


def main():
    config = json.loads(sys.argv[1])
    torch.set_num_threads(config["threads"])
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(d_model=config["dModel"], nhead=config["nhead"],
                                       dim_feedforward=config["dimFeedforward"], dropout=config["dropout"],
                                       batch_first=True)
    model = nn.TransformerEncoder(layer, config["numLayers"], enable_nested_tensor=False).train()
    src = torch.randn(config["batch"], config["seq"], config["dModel"])

    def step():
        model(src).mean().backward()
        model.zero_grad(set_to_none=True)

    report_step_times(config, step)


if __name__ == "__main__":
    main()
