#!/usr/bin/python3
"""Per-op overhead of small tensor ops in PyTorch eager (the Python side of op-overhead.ts).

Usage: /usr/bin/python3 scripts/bench/op-overhead.py N
Prints one JSON object: { "torch": version, "threads": 1, "ops": { name: wall microseconds per op },
"cpu": { name: process CPU microseconds per op } }.
Each op runs on tiny tensors so the time is the call overhead, not the math; results are dropped
right away (Python frees them by reference counting, as JavaScript frees with dispose()).
"""
import json
import sys
import time

import torch

torch.set_num_threads(1)
n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000

a = torch.ones(4)
b = torch.full((4,), 2.0)
m = torch.ones(4, 4)
data = [1.0, 2.0, 3.0, 4.0]


def add():
    a.add(b)


def mul_scalar():
    a.mul(2.5)


def matmul():
    m.matmul(m)


def sum_all():
    a.sum()


def relu():
    a.relu()


def softmax():
    a.softmax(-1)


def zeros():
    torch.zeros(4)


def from_list():
    torch.tensor(data)


def chain():
    a.add(b).mul(2).relu()


OPS = {
    "add": add, "mul(scalar)": mul_scalar, "matmul 4x4": matmul, "sum": sum_all, "relu": relu,
    "softmax": softmax, "zeros": zeros, "tensor(data)": from_list, "add.mul.relu (3 ops)": chain,
}


def bench(fn, count):
    for _ in range(min(count, 20_000)):
        fn()
    start = time.perf_counter()
    cpu = time.process_time()
    for _ in range(count):
        fn()
    return (time.perf_counter() - start) / count * 1e6, (time.process_time() - cpu) / count * 1e6


wall = {}
cpu = {}
for name, fn in OPS.items():
    count = n if name == "add" else max(n // 4, 1000)
    wall[name], cpu[name] = bench(fn, count)
print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "n": n, "ops": wall, "cpu": cpu}))
