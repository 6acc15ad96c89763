"""The PyTorch side's timing loop, shared by the benchmark scripts: runs `step` warmup + iterations
times and prints the one JSON line the TypeScript side reads (per-iteration times in ms)."""
import json
import time

import torch


def report_step_times(config, step):
    times = []
    for i in range(config["warmup"] + config["iterations"]):
        start = time.perf_counter()
        step()
        elapsed = (time.perf_counter() - start) * 1000
        if i >= config["warmup"]:
            times.append(elapsed)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "timesMs": times}))
