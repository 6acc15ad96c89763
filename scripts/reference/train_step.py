#!/usr/bin/env python3
"""Reference training steps of mtl-torch's ReferenceModel (native/core/train/testing/), in PyTorch.

    train_step.py SPEC.json

SPEC.json is one spec or {"runs": [spec, ...]} (one process for all, as torch's import is slow):
spec = {
  "weights": "in.safetensors",          # the model's parameters by torch.nn name
  "data": "data.safetensors",           # "<task>.features" float [N, F], "<task>.targets"
  "tasks": [{"name", "kind": "classification"|"regression", "outputs"}],
  "inputDim": F, "hidden": [H, ...],
  "optimizer": {"kind": "adamW"|"sgd", "lr", "weightDecay", "momentum", "nesterov"},
  "clipGradNorm": 0 | x,
  "plan": [[{"task", "scale"}, ...] per step],  # the tasks of each step and their loss scale
  "out": "out.safetensors"
}
Every step uses each task's whole data set as its batch, with equal weighting:
L = Σ scaleᵢ·Lᵢ. Weight decay skips 1-D parameters; one param group per (part, decay) as the
native trainer builds them.
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import load, save  # noqa: E402


class ReferenceNet(nn.Module):
    def __init__(self, input_dim, hidden, tasks):
        super().__init__()
        layers, width = [], input_dim
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(0.0)]
            width = size
        self.trunk = nn.Sequential(*layers)
        self.heads = nn.ModuleDict({t["name"]: nn.Linear(width, t["outputs"]) for t in tasks})

    def loss(self, task, features, targets):
        out = self.heads[task["name"]](self.trunk(features))
        if task["kind"] == "classification":
            return F.cross_entropy(out, targets)
        return F.mse_loss(out.squeeze(-1), targets.float())


def param_groups(model, cfg):
    groups = []
    parts = [("shared", [p for n, p in model.named_parameters() if not n.startswith("heads.")])]
    parts += [("task:" + name, list(head.parameters())) for name, head in model.heads.items()]
    for _, params in parts:
        decayed = [p for p in params if p.dim() > 1]
        plain = [p for p in params if p.dim() <= 1]
        if decayed:
            groups.append({"params": decayed, "weight_decay": cfg["weightDecay"]})
        if plain:
            groups.append({"params": plain, "weight_decay": 0.0})
    return groups


def run(spec):
    model = ReferenceNet(spec["inputDim"], spec["hidden"], spec["tasks"])
    model.load_state_dict(load(spec["weights"]))
    data = load(spec["data"])
    cfg = spec["optimizer"]
    groups = param_groups(model, cfg)
    if cfg["kind"] == "sgd":
        opt = torch.optim.SGD(groups, lr=cfg["lr"], momentum=cfg.get("momentum", 0), nesterov=cfg.get("nesterov", False))
    else:
        opt = torch.optim.AdamW(groups, lr=cfg["lr"], betas=(0.9, 0.999), eps=1e-8)
    tasks = {t["name"]: t for t in spec["tasks"]}
    for step in spec["plan"]:
        # Gradients are reset to None, as PyTorch 2's default zero_grad does and as the native loop
        # does: a parameter no task of the step reaches (an idle head) is not updated at all.
        opt.zero_grad(set_to_none=True)
        total = 0
        for item in step:
            task = tasks[item["task"]]
            loss = model.loss(task, data[task["name"] + ".features"], data[task["name"] + ".targets"])
            total = total + loss * item["scale"]
        total.backward()
        if spec.get("clipGradNorm", 0) > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), spec["clipGradNorm"])
        opt.step()
    save({k: v.detach().contiguous() for k, v in model.state_dict().items()}, spec["out"])


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    torch.set_num_threads(1)
    for one in spec.get("runs", [spec]):
        run(one)


if __name__ == "__main__":
    main()
