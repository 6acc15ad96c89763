#!/usr/bin/env python3
"""The PyTorch eager side of scripts/gpu/seed-throughput.ts: the same multi-task model (the twin of
python/multitask_twin.py, built from the config.json and weights mtl-torch saved), the same rows
(saved by mtl-torch), the same joint loop as mtl-torch's trainer: every task's batch each step, the
sum of the task losses (equal weights), one backward, AdamW with weight decay on matrices only,
gradients set to None each step, autocast in the forward when the precision is bf16.

The loop is written as a PyTorch user writes it for speed: host batches in pinned memory, copied
with non_blocking=True each step; the optimizer as torch.optim.AdamW picks it by default (foreach
on CUDA), and for reference the fused AdamW where this PyTorch has it on CUDA.

Timing: `warmup` steps first (kernels, cuBLAS handles, allocator), then `windows` windows of `steps`
steps each, the device synchronized before and after each window (torch.cuda.synchronize).

Runs with PyTorch 1.13 (CPU, Debian) and 2.x (CUDA): nothing newer than 2.0 unless guarded.
Argument: one JSON object (see seed-throughput.ts). Prints one JSON line last.
"""
import contextlib
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
from multitask_twin import MultiTaskTwin  # noqa: E402
from safetensors_io import load as load_tensors  # noqa: E402


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_optimizer(model, config, variant):
    decayed = [p for p in model.parameters() if p.requires_grad and p.dim() > 1]
    plain = [p for p in model.parameters() if p.requires_grad and p.dim() <= 1]
    groups = [{"params": decayed, "weight_decay": config["weightDecay"]}, {"params": plain, "weight_decay": 0.0}]
    if variant == "fused":
        return torch.optim.AdamW(groups, lr=config["lr"], fused=True)
    return torch.optim.AdamW(groups, lr=config["lr"])


def run(config, variant, device, rows):
    tasks = config["tasks"]
    torch.manual_seed(0)
    model = MultiTaskTwin.load(config["modelDir"]).to(device)
    model.train()
    optimizer = make_optimizer(model, config, variant)
    autocast = (lambda: torch.autocast(device_type=device.type, dtype=torch.bfloat16)) if config["precision"] == "bf16" \
        else contextlib.nullcontext
    batch = config["batch"]
    # Host batches (pinned on CUDA): each task's rows, one batch after another.
    host = []
    for start in range(0, rows, batch):
        step_batches = {}
        for t in tasks:
            ids = config_data[t]["inputIds"][start:start + batch]
            b = {"inputIds": ids, "lengths": torch.full((ids.size(0),), ids.size(1), dtype=torch.long),
                 "targets." + t: config_data[t]["targets"][start:start + batch]}
            if device.type == "cuda":
                b = {k: v.pin_memory() for k, v in b.items()}
            step_batches[t] = b
        host.append(step_batches)

    losses = []

    def step(i, keep_loss):
        per_task = host[i % len(host)]
        optimizer.zero_grad(set_to_none=True)
        with autocast():
            total = None
            for t in tasks:
                b = {k: v.to(device, non_blocking=True) for k, v in per_task[t].items()}
                loss = model(b, [t])[t][1]
                total = loss if total is None else total + loss
        total.backward()
        optimizer.step()
        if keep_loss:
            losses.append(total.detach())  # read after the window: no sync inside it

    for i in range(config["warmup"]):
        step(i, i == 0)
    synchronize(device)
    rates = []
    for w in range(config["windows"]):
        synchronize(device)
        started = time.perf_counter()
        for i in range(config["steps"]):
            step(i, i == config["steps"] - 1)
        synchronize(device)
        rates.append(config["steps"] / (time.perf_counter() - started))
    return {"stepsPerSecond": rates, "losses": [float(l) for l in losses]}


config_data = {}


def main():
    config = json.loads(sys.argv[1])
    device = torch.device(config["device"])
    if device.type == "cpu":
        torch.set_num_threads(config["threads"])
    data = load_tensors(config["dataFile"])
    for t in config["tasks"]:
        config_data[t] = {"inputIds": data["inputIds." + t], "targets": data["targets." + t]}
    rows = config_data[config["tasks"][0]]["inputIds"].size(0)
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "device": str(device), "results": {}}
    if device.type == "cuda":
        out["deviceName"] = torch.cuda.get_device_name(device)
    variants = ["default"]
    if device.type == "cuda" and config.get("fused", True):
        variants.append("fused")
    for variant in variants:
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        try:
            result = run(config, variant, device, rows)
        except (TypeError, RuntimeError) as e:  # fused AdamW: PyTorch >= 2.0 on CUDA only
            if variant == "default":
                raise
            out["results"][variant] = {"error": str(e).splitlines()[0]}
            continue
        if device.type == "cuda":
            result["peakMemoryGiB"] = torch.cuda.max_memory_allocated(device) / 2 ** 30
            torch.cuda.empty_cache()
        out["results"][variant] = result
    print(json.dumps(out))


if __name__ == "__main__":
    main()
