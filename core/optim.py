"""Optimizers: hand-written SGD/momentum/Adam for NumPy arrays and tensors; torch.optim registry.

The hand-written ones use only in-place arithmetic operators, so one class updates NumPy arrays
and (under torch.no_grad) torch tensors alike, following torch.optim's update rules exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

# The running state each optimizer keeps, by torch.optim's names for it. An optimizer's state is
# written {name: one array per parameter} ("step": one number), the same for the hand-written
# optimizers and torch.optim, so a state moves between implementations.
STATE_KEYS: dict[str, tuple[str, ...]] = {
    "sgd": (),
    "momentum": ("momentum_buffer",),
    "nesterov": ("momentum_buffer",),
    "adam": ("step", "exp_avg", "exp_avg_sq"),
    "adamw": ("step", "exp_avg", "exp_avg_sq"),
    "rmsprop": ("step", "square_avg"),
    "adagrad": ("step", "sum"),
}


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

    def get_state(self) -> dict[str, Any]:
        """The running state: {"step": t, name: [one array per parameter]} (not copies)."""
        return {"step": self.t}

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Take over a running state as get_state gives it (missing names start afresh)."""
        self.reset_state()
        self.t = int(state.get("step", 0))

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

    def get_state(self) -> dict[str, Any]:
        """The step count and, once the first step has set it, the velocity."""
        state = super().get_state()
        if self.bufs:
            state["momentum_buffer"] = self.bufs
        return state

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Take over a step count and velocity (none: the next gradient starts it)."""
        super().set_state(state)
        self.bufs = list(state.get("momentum_buffer", []))

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

    def get_state(self) -> dict[str, Any]:
        """The step count and both moment estimates."""
        return {**super().get_state(), "exp_avg": self.m, "exp_avg_sq": self.v}

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Take over a step count and moment estimates."""
        super().set_state(state)
        self.m = list(state.get("exp_avg", self.m))
        self.v = list(state.get("exp_avg_sq", self.v))

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


def torch_optimizer_state(optimizer: Any, name: str) -> dict[str, Any]:
    """A torch.optim optimizer's running state as {"step": t, key: [tensor per parameter]}.

    Tensors are the optimizer's own (not copies); a key is left out until every parameter has
    it (momentum before the first step)."""
    params = [p for group in optimizer.param_groups for p in group["params"]]
    out: dict[str, Any] = {}
    for key in STATE_KEYS[name]:
        values = [optimizer.state.get(p, {}).get(key) for p in params]
        if any(v is None for v in values):
            continue
        out[key] = values[0].item() if key == "step" else values
    return out


def load_torch_optimizer_state(optimizer: Any, name: str, state: Mapping[str, Any]) -> None:
    """Give a torch.optim optimizer a running state as torch_optimizer_state returns it (tensors
    of the parameters' dtype and device); names it does not use are ignored."""
    import torch

    keys = [k for k in STATE_KEYS[name] if k in state]
    if not keys:
        return
    # torch keeps "step" as a float tensor on the CPU, of its default scalar dtype.
    step_dtype = torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32
    sd = optimizer.state_dict()
    new_state: dict[int, dict[str, Any]] = {}
    for index, _ in enumerate(p for group in optimizer.param_groups for p in group["params"]):
        entry = {}
        for key in keys:
            value = state[key]
            entry[key] = (
                torch.tensor(float(value), dtype=step_dtype) if key == "step" else value[index]
            )
        new_state[index] = entry
    sd["state"] = new_state
    optimizer.load_state_dict(sd)


def flat_state(
    n_features: int, raw: Mapping[str, Any], to_numpy: Callable[[Any], np.ndarray]
) -> dict[str, np.ndarray]:
    """A running state {"step": t, name: [array per parameter]} in the layout every engine
    shares: "step" a float64 scalar, each name a float64 [w..., b] vector (b 0 if not fitted)."""
    out: dict[str, np.ndarray] = {}
    for key, value in raw.items():
        if key == "step":
            out[key] = np.array(float(value))
            continue
        # Every engine's parameters, flattened in order, read [w..., b] (b if fitted).
        flat = np.concatenate([to_numpy(v).reshape(-1) for v in value])
        vec = np.zeros(n_features + 1)
        vec[: flat.size] = flat
        out[key] = vec
    return out


def split_state(
    state: Mapping[str, np.ndarray], params: list[Any], make: Callable[[np.ndarray, Any], Any]
) -> dict[str, Any]:
    """flat_state's layout back as {"step": t, name: [make(values, p) for each parameter p]}."""
    out: dict[str, Any] = {}
    for key, value in state.items():
        if key == "step":
            out[key] = float(value)
            continue
        pieces, lo = [], 0
        for p in params:
            size = int(np.prod(p.shape))
            pieces.append(make(np.asarray(value[lo : lo + size]), p))
            lo += size
        out[key] = pieces
    return out
