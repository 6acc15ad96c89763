#!/usr/bin/env python3
"""Reference task diagnostics of an mtl-torch multi-task model, computed directly in PyTorch
(the twin of python/multitask_twin.py, built from the model's own config.json and weights).

    diagnostics.py SPEC.json

SPEC.json = {"model": "dir", "data": "data.safetensors", "tasks": [...], "lookaheadRate": x, "out": "out.json"}
with each task's whole data set as its batch ("<task>.features", "<task>.lengths", "<task>.targets").
Shared parameters are those outside "tasks.<name>." that require gradients.

  cosine[i][j]   = <g_i, g_j> / (|g_i| |g_j|),  g_i = dL_i/dθ_shared
  affinity[i][j] = 1 - L_j(θ_shared - rate·g_i) / L_j(θ)        (Fifty et al. 2021)
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "python"))
from multitask_twin import MultiTaskTwin  # noqa: E402
from safetensors_io import load  # noqa: E402


def main():
    spec = json.load(open(sys.argv[1]))
    model = MultiTaskTwin.load(spec["model"])
    model.eval()
    data = load(spec["data"])
    tasks = spec["tasks"]
    shared = [p for name, p in model.named_parameters() if not name.startswith("tasks.") and p.requires_grad]

    def losses():
        out = []
        for task in tasks:
            batch = {"features": data[task + ".features"], "lengths": data[task + ".lengths"],
                     "targets." + task: data[task + ".targets"]}
            out.append(model(batch, [task])[task][1])
        return out

    grads = []
    for i, loss in enumerate(losses()):
        g = torch.autograd.grad(loss, shared, allow_unused=True)
        grads.append(torch.cat([(x if x is not None else torch.zeros_like(p)).reshape(-1) for x, p in zip(g, shared)]))
    g = torch.stack(grads).double()  # float gradients, compared in double as the native code does
    norms = g.norm(dim=1)
    cosine = (g @ g.t()) / torch.outer(norms, norms)

    with torch.no_grad():
        before = torch.stack(losses())
        affinity = []
        for i in range(len(tasks)):
            saved = [p.clone() for p in shared]
            offset = 0
            for p in shared:
                p.sub_(g[i, offset:offset + p.numel()].view_as(p).float() * spec["lookaheadRate"])
                offset += p.numel()
            after = torch.stack(losses())
            for p, s in zip(shared, saved):
                p.copy_(s)
            affinity.append((1 - after.double() / before.double()).tolist())
    json.dump({"cosine": cosine.tolist(), "affinity": affinity}, open(spec["out"], "w"))


if __name__ == "__main__":
    main()
