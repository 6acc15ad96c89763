"""Independent reference values for mt.metrics (test/parity/metrics.test.ts).

Reads a JSON list of cases from the file named on the command line and prints a JSON list of
results. Each formula is written here from its textbook definition, deliberately not the way
native/core/metrics computes it, so that the two check each other:
  - MCC as the correlation of the one-hot prediction and target matrices (Gorodkin's R_K);
  - F1 from precision and recall;
  - Spearman with ranks counted directly (values below + half the ties), then numpy's corrcoef;
  - edit distance as the full Wagner-Fischer matrix.
Degenerate cases follow mtl-torch's documented conventions (0 for constant inputs).
Needs only numpy (no torch import, so the test stays fast): /usr/bin/python3 on Debian, which CI
has for the PyTorch oracles anyway.
"""
import json
import sys

import numpy as np


def accuracy(p, t):
    return float(np.mean(np.asarray(p) == np.asarray(t)))


def f1(p, t, positive=1):
    p, t = np.asarray(p) == positive, np.asarray(t) == positive
    tp = float(np.sum(p & t))
    if tp == 0:
        return 0.0
    precision, recall = tp / np.sum(p), tp / np.sum(t)
    return float(2 * precision * recall / (precision + recall))


def f1_macro(p, t, num_classes):
    return float(np.mean([f1(p, t, k) for k in range(num_classes)]))


def mcc(p, t):
    k = max(max(p), max(t)) + 1
    x = np.eye(k)[np.asarray(p)]
    y = np.eye(k)[np.asarray(t)]
    x, y = x - x.mean(0), y - y.mean(0)
    cov_xy, cov_xx, cov_yy = np.sum(x * y), np.sum(x * x), np.sum(y * y)
    if cov_xx == 0 or cov_yy == 0:
        return 0.0
    return float(cov_xy / np.sqrt(cov_xx * cov_yy))


def pearson(x, y):
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if np.all(x == x[0]) or np.all(y == y[0]):
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


def ranks(v):
    # Rank of each value: the count of smaller values plus the mean position among its ties.
    v = np.asarray(v, dtype=np.float64)
    below = (v[:, None] > v[None, :]).sum(1)
    equal = (v[:, None] == v[None, :]).sum(1)
    return below + (equal + 1) / 2


def spearman(x, y):
    return pearson(ranks(x), ranks(y))


def edit_distance(a, b):
    d = np.zeros((len(a) + 1, len(b) + 1), dtype=np.int64)
    d[:, 0] = np.arange(len(a) + 1)
    d[0, :] = np.arange(len(b) + 1)
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i, j] = min(d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + (a[i - 1] != b[j - 1]))
    return int(d[-1, -1])


def sequence_errors(hyps, refs):
    edits = sum(edit_distance(h, r) for h, r in zip(hyps, refs))
    total = sum(len(r) for r in refs)
    wrong = sum(1 for h, r in zip(hyps, refs) if list(h) != list(r))
    return {"phonemeErrorRate": edits / total, "wordErrorRate": wrong / len(refs), "edits": edits}


def run(case):
    kind, a = case["metric"], case["args"]
    if kind == "accuracy":
        return accuracy(*a)
    if kind == "f1":
        return f1(*a)
    if kind == "f1Macro":
        return f1_macro(*a)
    if kind == "matthewsCorrelation":
        return mcc(*a)
    if kind == "pearson":
        return pearson(*a)
    if kind == "spearman":
        return spearman(*a)
    if kind == "editDistance":
        return edit_distance(*a)
    if kind == "sequenceErrors":
        return sequence_errors(*a)
    raise ValueError(kind)


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    json.dump([run(c) for c in cases], sys.stdout)
