#!/usr/bin/env python3
"""Reference training steps of an mtl-torch multi-task model, in PyTorch (the twin of
python/multitask_twin.py, built from the model's own config.json and weights).

    train_step.py SPEC.json

SPEC.json is {"runs": [spec, ...]} (one process for all, as torch's import is slow):
spec = {
  "model": "dir",                       # config.json + model.safetensors, as MultiTaskModel.save wrote them
  "data": "data.safetensors",           # "<task>.features" float [N, L, F], "<task>.lengths", "<task>.targets"
  "optimizer": {"kind": "adamW"|"sgd", "lr", "weightDecay", "momentum", "nesterov"},
  "clipGradNorm": 0 | x,
  "accumulateSteps": 1 | n,             # micro-batches per step, each the task's whole data set
  "plan": [[{"task", "scale"}, ...] per step],  # the tasks of each step and their loss scale
  "out": "out.safetensors"
}
Every step uses each task's whole data set as its batch, with equal weighting: L = Σ scaleᵢ·Lᵢ
(divided by the micro-batch count and summed over the micro-batches). Weight decay skips 1-D
parameters, as the native trainer's parameter groups do.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "python"))
from multitask_twin import MultiTaskTwin  # noqa: E402
from safetensors_io import load, save  # noqa: E402


def run(spec):
    model = MultiTaskTwin.load(spec["model"])
    model.train()
    data = load(spec["data"])
    cfg = spec["optimizer"]
    params = [p for _, p in model.named_parameters()]
    groups = [{"params": [p for p in params if p.dim() > 1], "weight_decay": cfg["weightDecay"]},
              {"params": [p for p in params if p.dim() <= 1], "weight_decay": 0.0}]
    if cfg["kind"] == "sgd":
        opt = torch.optim.SGD(groups, lr=cfg["lr"], momentum=cfg.get("momentum", 0), nesterov=cfg.get("nesterov", False))
    else:
        opt = torch.optim.AdamW(groups, lr=cfg["lr"], betas=tuple(cfg.get("betas", (0.9, 0.999))), eps=cfg.get("eps", 1e-8))
    micro = spec.get("accumulateSteps", 1)
    for step in spec["plan"]:
        # Gradients are reset to None, as PyTorch 2's default zero_grad does and as the native loop
        # does: a parameter no task of the step reaches (an idle head) is not updated at all.
        opt.zero_grad(set_to_none=True)
        for _ in range(micro):
            total = 0
            for item in step:
                task = item["task"]
                batch = {"features": data[task + ".features"], "lengths": data[task + ".lengths"],
                         "targets." + task: data[task + ".targets"]}
                _, loss = model(batch, [task])[task]
                total = total + loss * item["scale"]
            (total / micro).backward()
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
