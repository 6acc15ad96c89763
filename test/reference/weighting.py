#!/usr/bin/env python3
"""PyTorch references of the loss-weighting methods, each written from its paper's formula.

    weighting.py IN.json OUT.json

IN.json: {"cases": [{"name", "method", "config": {...}, "tasks": K,
                     "steps": [{"losses": [K floats], "grads": [[P floats] * K] | null, "epoch": int}]}]}
OUT.json: {"<name>": [{"lambdas": [K], "combined": [P], "params": [...] | null} per step]}

"combined" is the gradient the method sends to the shared parameters, given the per-task gradients
grads[i] of each loss Lᵢ: Σ λᵢ gᵢ for the methods that weight losses, the projected/conflict-averse
direction for PCGrad and CAGrad. "params" are the learned parameters after the step (uncertainty:
log-variances; GradNorm: weights; FAMO: logits).
"""
import json
import math
import sys

import torch

torch.set_default_dtype(torch.float64)


def combine(lambdas, grads):
    return (torch.tensor(lambdas)[:, None] * grads).sum(0)


class Equal:
    def __init__(self, k, cfg): self.k = k
    def step(self, losses, grads, epoch): return [1.0] * self.k, None


class Fixed:
    def __init__(self, k, cfg): self.w = [cfg["lambdas"][name] for name in cfg["taskNames"]]
    def step(self, losses, grads, epoch): return list(self.w), None


class SigmoidLoss:
    # λᵢ = 1 / (1 + e^(−Lᵢ))
    def __init__(self, k, cfg): pass
    def step(self, losses, grads, epoch): return [1 / (1 + math.exp(-l)) for l in losses], None


class Uncertainty:
    # Kendall 2018 eq. 7 with s = log σ²: L = Σ ½ e^(−s) L + ½ s; s follows torch.optim.Adam.
    def __init__(self, k, cfg):
        self.s = torch.zeros(k, requires_grad=True)
        self.opt = torch.optim.Adam([self.s], lr=cfg["lr"])

    def step(self, losses, grads, epoch):
        L = torch.tensor(losses, dtype=torch.float32)
        lambdas = (0.5 * torch.exp(-self.s)).detach().tolist()
        total = ((0.5 * torch.exp(-self.s)).float() * L + (0.5 * self.s).float()).sum()
        self.opt.zero_grad()
        total.backward()
        self.opt.step()
        return lambdas, self.s.detach().tolist()


class Dwa:
    # Liu 2019 eq. 1 over epoch-mean losses; λ = 1 for the first two epochs.
    def __init__(self, k, cfg):
        self.k, self.T = k, cfg["temperature"]
        self.history = {}  # epoch -> list of loss vectors

    def step(self, losses, grads, epoch):
        done = sorted(e for e in self.history if e < epoch)
        if len(done) < 2:
            lam = [1.0] * self.k
        else:
            mean = lambda e: torch.tensor(self.history[e]).mean(0)
            w = mean(done[-1]) / mean(done[-2])
            lam = (self.k * torch.softmax(w / self.T, 0)).tolist()
        self.history.setdefault(epoch, []).append(losses)
        return lam, None


class GradNorm:
    # Chen 2018: Gᵢ = wᵢ‖∇W Lᵢ‖, target Ḡ·rᵢ^α held constant, L_grad = Σ|Gᵢ − targetᵢ|;
    # w takes an Adam step on ∂L_grad/∂w, then Σw is renormalized to K.
    def __init__(self, k, cfg):
        self.k, self.alpha = k, cfg["alpha"]
        self.w = torch.ones(k, requires_grad=True)
        self.opt = torch.optim.Adam([self.w], lr=cfg["lr"])
        self.L0 = None

    def step(self, losses, grads, epoch):
        L = torch.tensor(losses)
        if self.L0 is None:
            self.L0 = L.clone()
        lambdas = self.w.detach().tolist()
        norms = grads.norm(dim=1)
        G = self.w * norms
        ratio = L / self.L0
        r = ratio / ratio.mean()
        target = (G.mean() * r ** self.alpha).detach()
        # The paper holds Ḡ constant: only the Gᵢ term carries a gradient to wᵢ.
        lgrad = (G - target).abs().sum()
        self.opt.zero_grad()
        lgrad.backward()
        self.opt.step()
        with torch.no_grad():
            self.w.mul_(self.k / self.w.sum())
        return lambdas, self.w.detach().tolist()


class Pcgrad:
    # Yu 2020 Algorithm 1; the order of the other tasks from randperm on a generator seeded with `seed`.
    def __init__(self, k, cfg):
        self.gen = torch.Generator().manual_seed(cfg.get("seed", 0))

    def step(self, losses, grads, epoch):
        k = grads.shape[0]
        g32 = grads.float()
        projected = g32.clone()
        for i in range(k):
            order = torch.randperm(k, generator=self.gen).tolist()
            for j in order:
                if j == i:
                    continue
                dot = torch.dot(projected[i], g32[j])
                if dot < 0:
                    projected[i] -= dot / (g32[j] * g32[j]).sum() * g32[j]
        return [1.0] * k, None, projected.sum(0).double()


class Cagrad:
    # Liu 2021: min over the simplex of g_wᵀg₀ + c‖g₀‖‖g_w‖; d = g₀ + c‖g₀‖/‖g_w‖ g_w, divided by 1 + c².
    # Solved here by exponentiated-gradient (mirror) descent, a different method from the native one.
    def __init__(self, k, cfg): self.c = cfg["c"]

    def step(self, losses, grads, epoch):
        k = grads.shape[0]
        A = grads @ grads.T
        b = torch.full((k,), 1.0 / k)
        g0_norm = math.sqrt(A.mean().item() + 1e-8)
        radius = self.c * g0_norm + 1e-8

        def F(w):
            return w @ A @ b + radius * torch.sqrt(w @ A @ w + 1e-8)

        def grad_F(w):  # ∇F = A b + radius · A w / √(wᵀAw + 1e-8)
            return A @ b + radius * (A @ w) / torch.sqrt(w @ A @ w + 1e-8)

        w = torch.full((k,), 1.0 / k)
        lr = 1.0
        for _ in range(20000):
            candidate = w * torch.exp(-lr * grad_F(w))
            candidate = candidate / candidate.sum()
            if F(candidate) <= F(w):
                moved = (candidate - w).abs().max().item()
                w = candidate
                lr *= 1.2
                if moved < 1e-15:
                    break
            else:
                lr *= 0.5
            if lr < 1e-30:
                break
        gw = w @ grads
        coefficients = (b + radius / (gw.norm() + 1e-8) * w) / (1 + self.c ** 2)
        return coefficients.tolist(), None, coefficients @ grads


class Famo:
    # Liu 2023, as LibMTL: the logits are updated at step t from the log-loss decrease between t−1
    # and t, then z = softmax(ξ), c = Σ zᵢ/(Lᵢ+ε), λᵢ = zᵢ/(c(Lᵢ+ε)).
    def __init__(self, k, cfg):
        self.xi = torch.zeros(k, requires_grad=True)
        self.opt = torch.optim.Adam([self.xi], lr=cfg["lr"], weight_decay=cfg["gamma"])
        self.prev = None

    def step(self, losses, grads, epoch):
        L = torch.tensor(losses)
        eps = 1e-8
        if self.prev is not None:
            delta = torch.log(self.prev + eps) - torch.log(L + eps)
            (d,) = torch.autograd.grad(torch.softmax(self.xi, -1), self.xi, grad_outputs=delta)
            self.opt.zero_grad()
            self.xi.grad = d
            self.opt.step()
        self.prev = L
        z = torch.softmax(self.xi.detach(), -1)
        c = (z / (L + eps)).sum()
        lam = z / (c * (L + eps))
        return lam.tolist(), self.xi.detach().tolist()


class NashMtl:
    # Navon 2022: α with (GGᵀ/‖GGᵀ‖) α = 1/α, found here by L-BFGS on log α of ½αᵀMα − Σ log α.
    def __init__(self, k, cfg): pass

    def step(self, losses, grads, epoch):
        M = grads @ grads.T
        M = M / M.norm()
        beta = torch.zeros(M.shape[0], requires_grad=True)
        opt = torch.optim.LBFGS([beta], lr=1, max_iter=500, tolerance_grad=1e-14, tolerance_change=1e-16,
                                line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            a = torch.exp(beta)
            value = 0.5 * a @ M @ a - beta.sum()
            value.backward()
            return value

        for _ in range(5):
            opt.step(closure)
        return torch.exp(beta).detach().tolist(), None


METHODS = {"equal": Equal, "fixed": Fixed, "sigmoidLoss": SigmoidLoss, "uncertainty": Uncertainty, "dwa": Dwa,
           "gradNorm": GradNorm, "pcgrad": Pcgrad, "cagrad": Cagrad, "famo": Famo, "nashMtl": NashMtl}


def run_case(case):
    method = METHODS[case["method"]](case["tasks"], case.get("config", {}))
    out = []
    for step in case["steps"]:
        grads = torch.tensor(step["grads"]) if step.get("grads") is not None else None
        result = method.step(step["losses"], grads, step.get("epoch", 0))
        lambdas, params = result[0], result[1]
        combined = result[2] if len(result) > 2 else (combine(lambdas, grads) if grads is not None else None)
        out.append({"lambdas": lambdas, "combined": combined.tolist() if combined is not None else None, "params": params})
    return out


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)["cases"]
    with open(sys.argv[2], "w") as f:
        json.dump({case["name"]: run_case(case) for case in cases}, f)


if __name__ == "__main__":
    main()
