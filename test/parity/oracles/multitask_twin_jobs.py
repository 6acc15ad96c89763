#!/usr/bin/env python3
"""The tests' job runner for the PyTorch twin (python/multitask_twin.py): one process per test file,
every case batched (test/parity/oracles/multitask-twin.ts runs it).

    multitask_twin_jobs.py JOBS.json
JOBS.json: [{"model": DIR, "inputs": IN.safetensors, "output": OUT.safetensors,
             "tasks": [...], "grads": true, "generate": [{"task", "beamSize", "maxLength", "lengthPenalty"}]}]
IN holds inputIds | features, lengths, and targets.<task>; OUT gets outputs.<task>, loss.<task>,
grad.<parameter> (of the sum of the losses) and generate.<i>.sequences / .scores.

    multitask_twin_jobs.py --kinds
prints {"sharing": [...], "head": [...]}: the kinds the twin implements.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "python"))
from multitask_twin import HEADS, SCHEMES, MultiTaskTwin  # noqa: E402
from safetensors_io import load as load_tensors, save as save_tensors  # noqa: E402


def run_job(job):
    model = MultiTaskTwin.load(job["model"])
    model.train()
    batch = load_tensors(job["inputs"])
    out = {}
    tasks = job.get("tasks", [])
    if tasks:
        results = model(batch, tasks)
        total = None
        for t, (outputs, loss) in results.items():
            out["outputs." + t] = outputs.detach().contiguous()
            if loss is not None:
                out["loss." + t] = loss.detach().reshape(1)
                total = loss if total is None else total + loss
        if job.get("grads") and total is not None:
            total.backward()
            for name, p in model.named_parameters():
                if p.grad is not None:
                    out["grad." + name] = p.grad.detach().contiguous()
    for i, g in enumerate(job.get("generate", [])):
        sequences, scores = model.generate(g["task"], batch, g.get("beamSize", 1), g.get("maxLength", 0), g.get("lengthPenalty", 0.0))
        out["generate.%d.sequences" % i] = sequences.contiguous()
        out["generate.%d.scores" % i] = scores.contiguous()
    save_tensors(out, job["output"])


def main(argv):
    if argv[1:] == ["--kinds"]:
        print(json.dumps({"sharing": sorted(SCHEMES), "head": sorted(HEADS)}))
        return
    torch.set_num_threads(1)
    with open(argv[1]) as f:
        jobs = json.load(f)
    for job in jobs:
        run_job(job)


if __name__ == "__main__":
    main(sys.argv)
