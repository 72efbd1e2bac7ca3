"""Optimizers: hand-written SGD/momentum/Adam for NumPy arrays and tensors; torch.optim registry.

The hand-written ones use only in-place arithmetic operators, so one class updates NumPy arrays
and (under torch.no_grad) torch tensors alike, following torch.optim's update rules exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Hyper:
    """Optimizer hyper-parameters that may change between steps."""

    lr: float
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    weight_decay: float = 0.0
    eps: float = 1e-8


class HandOptimizer:
    """Base class: updates a list of parameter arrays in place from their gradients."""

    def __init__(self, params: list[Any], hyper: Hyper) -> None:
        self.params = params
        self.hyper = hyper
        self.t = 0

    def reset_state(self) -> None:
        """Forget momentum and moment estimates (after a divergence rollback)."""
        self.t = 0

    def _decayed(self, p: Any, g: Any) -> Any:
        wd = self.hyper.weight_decay
        return g + wd * p if wd else g

    def step(self, grads: list[Any]) -> None:
        """Apply one update given one gradient per parameter."""
        raise NotImplementedError


class HandSGD(HandOptimizer):
    """Plain gradient descent: p -= lr * g."""

    def step(self, grads: list[Any]) -> None:
        """Apply one SGD update."""
        lr = self.hyper.lr
        for p, g in zip(self.params, grads, strict=True):
            p -= lr * self._decayed(p, g)
        self.t += 1


class HandMomentum(HandOptimizer):
    """Heavy-ball momentum (torch.optim.SGD semantics), optionally Nesterov."""

    def __init__(self, params: list[Any], hyper: Hyper, nesterov: bool = False) -> None:
        super().__init__(params, hyper)
        self.nesterov = nesterov
        self.bufs: list[Any] = []

    def reset_state(self) -> None:
        """Forget the velocity."""
        super().reset_state()
        self.bufs = []

    def step(self, grads: list[Any]) -> None:
        """Apply one momentum update."""
        lr, mu = self.hyper.lr, self.hyper.momentum
        first = not self.bufs
        for k, (p, g) in enumerate(zip(self.params, grads, strict=True)):
            g = self._decayed(p, g)
            if first:
                # torch initialises the buffer with the first gradient itself.
                self.bufs.append(g * 1)
            else:
                buf = self.bufs[k]
                buf *= mu
                buf += g
            buf = self.bufs[k]
            p -= lr * (g + mu * buf) if self.nesterov else lr * buf
        self.t += 1


class HandAdam(HandOptimizer):
    """Adam with bias correction (torch.optim.Adam semantics, L2-style weight decay)."""

    def __init__(self, params: list[Any], hyper: Hyper) -> None:
        super().__init__(params, hyper)
        self.m: list[Any] = [p * 0 for p in params]
        self.v: list[Any] = [p * 0 for p in params]

    def reset_state(self) -> None:
        """Forget the moment estimates."""
        super().reset_state()
        self.m = [p * 0 for p in self.params]
        self.v = [p * 0 for p in self.params]

    def step(self, grads: list[Any]) -> None:
        """Apply one Adam update."""
        h = self.hyper
        self.t += 1
        c1 = 1.0 - h.beta1**self.t
        c2 = 1.0 - h.beta2**self.t
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            g = self._decayed(p, g)
            m *= h.beta1
            m += (1.0 - h.beta1) * g
            v *= h.beta2
            v += (1.0 - h.beta2) * (g * g)
            # Same order of operations as torch: p -= lr/c1 * m / (sqrt(v)/sqrt(c2) + eps).
            denom = v**0.5 / c2**0.5 + h.eps
            p -= (h.lr / c1) * (m / denom)


def make_hand_optimizer(name: str, params: list[Any], hyper: Hyper) -> HandOptimizer:
    """Return the hand-written optimizer called name (sgd, momentum, nesterov or adam)."""
    if name == "sgd":
        return HandSGD(params, hyper)
    if name in ("momentum", "nesterov"):
        return HandMomentum(params, hyper, nesterov=name == "nesterov")
    if name == "adam":
        return HandAdam(params, hyper)
    raise ValueError(f"no hand-written optimizer {name!r}")


def make_torch_optimizer(name: str, params: list[Any], hyper: Hyper) -> Any:
    """Return the torch.optim optimizer called name, configured from hyper."""
    import torch

    betas = (hyper.beta1, hyper.beta2)
    wd = hyper.weight_decay
    # foreach=False: for a handful of tiny tensors the per-parameter loop is faster.
    builders = {
        "sgd": lambda: torch.optim.SGD(params, lr=hyper.lr, weight_decay=wd, foreach=False),
        "momentum": lambda: torch.optim.SGD(
            params, lr=hyper.lr, momentum=hyper.momentum, weight_decay=wd, foreach=False
        ),
        "nesterov": lambda: torch.optim.SGD(
            params,
            lr=hyper.lr,
            momentum=hyper.momentum,
            nesterov=True,
            weight_decay=wd,
            foreach=False,
        ),
        "adam": lambda: torch.optim.Adam(
            params, lr=hyper.lr, betas=betas, weight_decay=wd, foreach=False
        ),
        "adamw": lambda: torch.optim.AdamW(
            params, lr=hyper.lr, betas=betas, weight_decay=wd, foreach=False
        ),
        "rmsprop": lambda: torch.optim.RMSprop(params, lr=hyper.lr, weight_decay=wd, foreach=False),
        "adagrad": lambda: torch.optim.Adagrad(params, lr=hyper.lr, weight_decay=wd, foreach=False),
    }
    if name not in builders:
        raise ValueError(f"unknown optimizer {name!r}")
    return builders[name]()


def apply_torch_hyper(optimizer: Any, name: str, hyper: Hyper) -> None:
    """Change a torch optimizer's hyper-parameters in place, keeping its state."""
    for group in optimizer.param_groups:
        group["lr"] = hyper.lr
        group["weight_decay"] = hyper.weight_decay
        if name in ("momentum", "nesterov"):
            group["momentum"] = hyper.momentum
        if "betas" in group:
            group["betas"] = (hyper.beta1, hyper.beta2)
