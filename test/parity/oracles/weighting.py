#!/usr/bin/env python3
"""PyTorch references of the loss-weighting methods, each written from its paper's formula.

    weighting.py IN.json OUT.json

IN.json: {"cases": [{"name", "method", "config": {...}, "tasks": K,
                     "steps": [{"losses": [K floats], "grads": [[P floats] * K] | null, "epoch": int,
                                "after": [K floats] (the same batch's losses after the optimizer step)}]}]}
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
    # s starts at initialLogVariance: 0 unless given; −0.5 in the authors' MTAN code (logsigma) and LibMTL's UW (loss_scale).
    def __init__(self, k, cfg):
        self.s = torch.full((k,), cfg.get("initialLogVariance", 0.0), requires_grad=True)
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
    # Liu 2023, transcribed from the authors' methods/weight_methods.py (FAMO.get_weighted_loss and
    # update): z = softmax(w), D = L − min_losses + 1e-8 (min_losses 0), c = Σ z/D, loss = Σ log(D)·z/c;
    # after optimizer.step() the trainer calls update(new losses of the same batch):
    # δ = log(prev + 1e-8) − log(curr + 1e-8), w.grad = autograd.grad(softmax(w), w, δ), Adam(w_lr, γ).
    # update "consecutiveSteps": the next step's losses serve as curr (and the update runs first).
    def __init__(self, k, cfg):
        self.w = torch.tensor([0.0] * k, requires_grad=True)
        self.w_opt = torch.optim.Adam([self.w], lr=cfg["lr"], weight_decay=cfg["gamma"])
        self.min_losses = torch.zeros(k)
        self.consecutive = cfg.get("update", "sameBatch") == "consecutiveSteps"
        self.prev_loss = None

    def update(self, curr_loss):
        delta = (self.prev_loss - self.min_losses + 1e-8).log() - (curr_loss - self.min_losses + 1e-8).log()
        with torch.enable_grad():
            d = torch.autograd.grad(torch.softmax(self.w, -1), self.w, grad_outputs=delta.detach())[0]
        self.w_opt.zero_grad()
        self.w.grad = d
        self.w_opt.step()

    def step(self, losses, grads, epoch, after=None):
        losses = torch.tensor(losses, requires_grad=True)
        if self.consecutive and self.prev_loss is not None:
            self.update(losses.detach())
        self.prev_loss = losses.detach()
        z = torch.softmax(self.w, -1)
        D = losses - self.min_losses + 1e-8
        c = (z / D).sum().detach()
        loss = (D.log() * z / c).sum()
        (lam,) = torch.autograd.grad(loss, losses)
        if not self.consecutive:
            self.update(torch.tensor(after))
        return lam.tolist(), self.w.detach().tolist()


class NashMtl:
    # Navon 2022 as the authors' code solves it (methods/weight_methods.py, NashMTL): GTG is divided
    # by its norm n for the solver while the constraint keeps n, −log(αᵢ n) − log((GTG/n α)ᵢ) ≤ 0,
    # so the solution satisfies GTG α = 1/α on the unnormalised Gram. Here that equation is solved
    # directly, by L-BFGS on log α of ½αᵀ(GTG)α − Σ log α; then backward() clips the shared
    # parameters' gradient with clip_grad_norm_(shared, max_norm).
    def __init__(self, k, cfg): self.max_norm = cfg.get("maxNorm", 1.0)

    def step(self, losses, grads, epoch):
        M = grads @ grads.T
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
        alpha = torch.exp(beta).detach()
        shared = torch.nn.Parameter(torch.zeros(grads.shape[1]))
        shared.grad = (alpha[:, None] * grads).sum(0)
        if self.max_norm > 0:
            torch.nn.utils.clip_grad_norm_([shared], self.max_norm)
        return alpha.tolist(), None, shared.grad.clone()


def main_split(cfg, k):
    main = [i for i, name in enumerate(cfg["taskNames"]) if name in cfg["main"]]
    return main, [i for i in range(k) if i not in main]


class Gcs:
    # Du et al. 2018, Algorithm 1 (and the weighted variant): g = g_main + Σ_aux f(cos(g_main, g_aux)) g_aux,
    # f = 1[cos > 0] or max(0, cos); g_main = the sum of the main tasks' gradients.
    def __init__(self, k, cfg):
        self.k, self.weighted = k, cfg.get("weighted", False)
        self.main, self.aux = main_split(cfg, k)

    def step(self, losses, grads, epoch):
        g_main = grads[self.main].sum(0)
        lam = [1.0] * self.k
        for a in self.aux:
            cos = torch.nn.functional.cosine_similarity(g_main, grads[a], dim=0, eps=0).item()
            lam[a] = max(0.0, cos) if self.weighted else (1.0 if cos > 0 else 0.0)
        return lam, None, combine(lam, grads)


class OneSidedProjection:
    # An auxiliary gradient conflicting with g_main is projected onto g_main's normal plane; g_main is kept.
    def __init__(self, k, cfg):
        self.k = k
        self.main, self.aux = main_split(cfg, k)

    def step(self, losses, grads, epoch):
        g_main = grads[self.main].sum(0)
        total = g_main.clone()
        for a in self.aux:
            g = grads[a].clone()
            dot = torch.dot(g, g_main)
            if dot < 0:
                g = g - dot / torch.dot(g_main, g_main) * g_main
            total += g
        return [1.0] * self.k, None, total


class MetaBalance:
    # He et al. 2022, Algorithm 1, per shared tensor θ: m = β m + (1 − β)‖∇θ L‖ (from 0) for g_main and each
    # auxiliary task; ∇θ L_aux ← ∇θ L_aux · (r · m_main / m_aux + (1 − r)). λ_aux: the size-weighted mean factor.
    def __init__(self, k, cfg):
        self.k, self.r, self.beta = k, cfg.get("relax", 0.7), cfg.get("beta", 0.9)
        self.main, self.aux = main_split(cfg, k)
        self.sizes = cfg["sharedSizes"]
        self.m_main = [0.0] * len(self.sizes)
        self.m_aux = {a: [0.0] * len(self.sizes) for a in self.aux}

    def step(self, losses, grads, epoch):
        g_main = grads[self.main].sum(0)
        total = g_main.clone()
        lam = [1.0] * self.k
        weighted = {a: 0.0 for a in self.aux}
        offset = 0
        for s, size in enumerate(self.sizes):
            piece = slice(offset, offset + size)
            offset += size
            self.m_main[s] = self.beta * self.m_main[s] + (1 - self.beta) * g_main[piece].norm().item()
            for a in self.aux:
                self.m_aux[a][s] = self.beta * self.m_aux[a][s] + (1 - self.beta) * grads[a][piece].norm().item()
                factor = self.r * self.m_main[s] / self.m_aux[a][s] + (1 - self.r)
                total[piece] += grads[a][piece] * factor
                weighted[a] += factor * size
        for a in self.aux:
            lam[a] = weighted[a] / sum(self.sizes)
        return lam, None, total


class OlAux:
    # Lin et al. 2019: L = L_main + Σ w_a L_a; every N steps w_a ← max(0, w_a + lr Σ_{last N} g_main·g_a).
    def __init__(self, k, cfg):
        self.k, self.lr, self.horizon = k, cfg["lr"], cfg["horizon"]
        self.main, self.aux = main_split(cfg, k)
        self.w = [1.0] * k
        self.pending = [0.0] * k
        self.steps = 0

    def step(self, losses, grads, epoch):
        g_main = grads[self.main].sum(0)
        lam = [1.0 if i in self.main else self.w[i] for i in range(self.k)]
        for a in self.aux:
            self.pending[a] += torch.dot(g_main, grads[a]).item()
        self.steps += 1
        if self.steps == self.horizon:
            for a in self.aux:
                self.w[a] = max(0.0, self.w[a] + self.lr * self.pending[a])
                self.pending[a] = 0.0
            self.steps = 0
        return lam, None


METHODS = {"equal": Equal, "fixed": Fixed, "sigmoidLoss": SigmoidLoss, "uncertainty": Uncertainty, "dwa": Dwa,
           "gradNorm": GradNorm, "pcgrad": Pcgrad, "cagrad": Cagrad, "famo": Famo, "nashMtl": NashMtl,
           "gcs": Gcs, "oneSidedProjection": OneSidedProjection, "metaBalance": MetaBalance, "olAux": OlAux}


def run_case(case):
    method = METHODS[case["method"]](case["tasks"], case.get("config", {}))
    out = []
    for step in case["steps"]:
        grads = torch.tensor(step["grads"]) if step.get("grads") is not None else None
        if step.get("after") is not None and isinstance(method, Famo):
            result = method.step(step["losses"], grads, step.get("epoch", 0), step["after"])
        else:
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
