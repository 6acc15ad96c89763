#!/usr/bin/env python3
"""The PyTorch eager side of scripts/bench/train-step.ts: the same ReferenceModel (a shared MLP
trunk, one linear head per task), the same joint equal-weighted AdamW loop, the same batch size and
thread count, on the same synthetic data shape. Prints {"stepsPerSecond": x} as JSON.

    train-step.py THREADS STEPS WARMUP INPUT_DIM HIDDEN TASKS ROWS BATCH
"""
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def main():
    threads, steps, warmup, input_dim, hidden, tasks, rows, batch = map(int, sys.argv[1:9])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    trunk = nn.Sequential(nn.Linear(input_dim, hidden), nn.ReLU(), nn.Dropout(0.0), nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(0.0))
    heads = nn.ModuleDict({f"t{i}": nn.Linear(hidden, 4) for i in range(tasks)})
    model = nn.ModuleDict({"trunk": trunk, "heads": heads})
    decayed = [p for p in model.parameters() if p.dim() > 1]
    plain = [p for p in model.parameters() if p.dim() <= 1]
    opt = torch.optim.AdamW([{"params": decayed, "weight_decay": 0.01}, {"params": plain, "weight_decay": 0.0}], lr=1e-3)
    data = {f"t{i}": (torch.randn(rows, input_dim), torch.randint(0, 4, (rows,))) for i in range(tasks)}
    position = {name: 0 for name in data}
    orders = {name: torch.randperm(rows) for name in data}

    def step():
        opt.zero_grad()
        total = 0
        for name, (x, y) in data.items():
            start = position[name]
            if start + batch > rows:
                orders[name] = torch.randperm(rows)
                start = 0
            idx = orders[name][start:start + batch]
            position[name] = start + batch
            out = heads[name](trunk(x[idx]))
            total = total + F.cross_entropy(out, y[idx])
        total.backward()
        opt.step()

    for _ in range(warmup):
        step()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    elapsed = time.perf_counter() - started
    print(json.dumps({"stepsPerSecond": steps / elapsed}))


if __name__ == "__main__":
    main()
