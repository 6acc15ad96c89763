#!/usr/bin/python3
"""PyTorch eager side of scripts/bench/bert.ts: forward + backward of a BERT-base-sized BertModel
(test/parity/oracles/hf_models.py, Hugging Face's BertModel computation), same threads and sizes; prints
one JSON line of per-iteration times (one round: bert.ts alternates rounds of both sides)."""
import json
import os
import sys

import torch

from timing import report_step_times

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "parity", "oracles"))
from hf_models import build  # noqa: E402


def main():
    config = json.loads(sys.argv[1])
    torch.set_num_threads(config["threads"])
    torch.manual_seed(0)
    model = build(config["hf"]).train()
    ids = torch.randint(5, config["hf"]["vocab_size"], (config["batch"], config["seq"]))
    mask = torch.ones_like(ids)
    types = (torch.arange(config["seq"]) >= config["seq"] // 2).long().expand_as(ids)

    def step():
        hidden, pooled = model(ids, mask, types)
        (hidden.mean() + pooled.mean()).backward()
        model.zero_grad(set_to_none=True)

    report_step_times(config, step)


if __name__ == "__main__":
    main()
