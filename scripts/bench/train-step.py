#!/usr/bin/python3
"""The PyTorch eager side of scripts/bench/train-step.ts: the same multi-task model (the twin of
python/multitask_twin.py, built from the config.json and weights mtl-torch saved),
trained with the same joint loop: the sum of the task losses (equal weights), one backward, AdamW
with weight decay on matrices only (as mtl-torch's trainer), gradients set to None each step.

Loops (config "loops"):
  separate    each task its own batch: one forward per task
  perTask     the tasks share one batch, still one forward per task (encodes it once per task)
  encodeOnce  the tasks share one batch, one forward for all (the twin encodes it once)

Prints one JSON line: {"torch", "threads", "stepsPerSecond": {loop: rate}}.
"""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
from multitask_twin import MultiTaskTwin  # noqa: E402


def main():
    config = json.loads(sys.argv[1])
    torch.set_num_threads(config["threads"])
    torch.manual_seed(0)
    tasks, batch, seq, vocab = config["tasks"], config["batch"], config["seq"], config["vocab"]
    classes = dict(zip(tasks, config["classes"]))

    def make_batch(task_names):
        b = {"inputIds": torch.randint(1, vocab, (batch, seq)), "lengths": torch.full((batch,), seq, dtype=torch.long)}
        for t in task_names:
            b["targets." + t] = torch.randint(0, classes[t], (batch,))
        return b

    rates = {}
    for loop in config["loops"]:
        model = MultiTaskTwin.load(config["modelDir"])
        model.train()
        decayed = [p for p in model.parameters() if p.requires_grad and p.dim() > 1]
        plain = [p for p in model.parameters() if p.requires_grad and p.dim() <= 1]
        optimizer = torch.optim.AdamW([{"params": decayed, "weight_decay": config["weightDecay"]},
                                       {"params": plain, "weight_decay": 0.0}], lr=config["lr"])
        steps = config["warmup"] + config["steps"]
        if loop == "separate":
            batches = [{t: make_batch([t]) for t in tasks} for _ in range(steps)]
        else:
            shared = [make_batch(tasks) for _ in range(steps)]
            batches = [{t: b for t in tasks} for b in shared]

        def step(per_task):
            optimizer.zero_grad(set_to_none=True)
            if loop == "encodeOnce":
                results = model(per_task[tasks[0]], tasks)
                total = sum(results[t][1] for t in tasks)
            else:
                total = sum(model(per_task[t], [t])[t][1] for t in tasks)
            total.backward()
            optimizer.step()

        for i in range(config["warmup"]):
            step(batches[i])
        started = time.perf_counter()
        for i in range(config["warmup"], steps):
            step(batches[i])
        rates[loop] = config["steps"] / (time.perf_counter() - started)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "stepsPerSecond": rates}))


if __name__ == "__main__":
    main()
