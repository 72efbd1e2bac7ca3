"""Many runs as one computation: a stack of parameter vectors trained on shared data and order.

Runs that share their training rows and batch order (same data, batch size and seed) differ only
in their hyper-parameters, initial parameters and, with a fixed design, their targets. One engine
steps them all at once:

- numpy: every product is NumPy's stacked matmul, which calls the same BLAS kernel with the same
  arguments for each run as core.engines.NumpyEngine does for one run alone, and every update is
  the same element-wise operation in the same order with the same coefficients (computed in
  Python, as the hand-written optimizers compute them). Each run's trajectory is therefore the
  one it has alone, bit for bit.
- torch: batched matrix products and the update rules of torch.optim (and of the hand-written
  optimizers, which follow them) written over the stack; equal to a run alone to float
  tolerance.

Runs leave the stack with keep() (a run that diverged is frozen; the others go on).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.engines import gathers_per_batch
from core.limits import HAND_WRITTEN_OPTIMIZERS, OPTIMIZERS

# Fixed defaults of the torch optimizers the engines build (core.optim.make_torch_optimizer).
ADAM_EPS = 1e-8
RMSPROP_ALPHA, RMSPROP_EPS = 0.99, 1e-8
ADAGRAD_EPS = 1e-10


@dataclass(frozen=True)
class StackHyper:
    """Per-run hyper-parameters of a stack (float64 arrays of one value per run)."""

    lr: np.ndarray
    momentum: np.ndarray
    beta1: np.ndarray
    beta2: np.ndarray
    weight_decay: np.ndarray

    def take(self, keep: np.ndarray) -> StackHyper:
        """The hyper-parameters of the runs kept (a boolean mask or indices)."""
        return StackHyper(*(getattr(self, f)[keep] for f in self.__dataclass_fields__))


@dataclass(frozen=True)
class StackSpec:
    """What a batched engine needs besides the data, the initial parameters and the hypers."""

    optimizer: str
    fit_bias: bool = True
    loss_scale: float = 1.0
    l2_penalty: float = 0.0
    dtype: str = "float32"
    device: str = "cpu"
    implementation: str = "numpy"


class BatchedEngine(ABC):
    """Steps R runs at once; parameters are rows [w..., b] in trained units."""

    def __init__(
        self,
        x: np.ndarray,
        ys: np.ndarray,
        thetas0: np.ndarray,
        spec: StackSpec,
        hyper: StackHyper,
    ) -> None:
        if spec.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {spec.optimizer!r}")
        self.spec = spec
        self.hyper = hyper
        self.n, self.d = x.shape
        self.runs = thetas0.shape[0]
        # Weight decay is an operation or none for the whole stack (a group's runs agree on
        # whether it is zero), so that each run does exactly the arithmetic it does alone.
        self.decay = bool(np.any(hyper.weight_decay != 0.0))
        if self.decay and not np.all(hyper.weight_decay != 0.0):
            raise ValueError("a stack's runs must all have weight decay or none")

    @abstractmethod
    def begin_epoch(self, order: np.ndarray | None) -> None:
        """Prepare the rows of one epoch in the given order (None: natural order)."""

    @abstractmethod
    def run(
        self, start: int, count: int, batch_size: int, losses: np.ndarray, params: np.ndarray
    ) -> None:
        """Run count minibatches from batch index start; fill losses[:count] (count, R) and
        params[:count] (count, R, d + 1)."""

    @abstractmethod
    def params(self) -> np.ndarray:
        """Current parameters (R, d + 1) as a float64 copy."""

    @abstractmethod
    def keep(self, mask: np.ndarray) -> None:
        """Keep only the runs where mask is true (their state continues unchanged)."""


def _targets(ys: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Targets as (1, n) when shared by every run, else (R, n), in dtype, C-contiguous."""
    ys = np.asarray(ys)
    if ys.ndim == 1:
        ys = ys[None, :]
    return np.ascontiguousarray(ys, dtype=dtype)


class BatchedNumpy(BatchedEngine):
    """NumPy, hand-derived gradients, the hand-written optimizers: bit for bit NumpyEngine."""

    def __init__(
        self,
        x: np.ndarray,
        ys: np.ndarray,
        thetas0: np.ndarray,
        spec: StackSpec,
        hyper: StackHyper,
    ) -> None:
        super().__init__(x, ys, thetas0, spec, hyper)
        if spec.optimizer not in HAND_WRITTEN_OPTIMIZERS:
            raise ValueError(f"the numpy implementation has no {spec.optimizer!r} optimizer")
        dt = self.dt = np.dtype(spec.dtype)
        self.p = self.d + 1 if spec.fit_bias else self.d
        if spec.fit_bias:
            self.xa = np.empty((self.n, self.p), dtype=dt)
            self.xa[:, : self.d] = x
            self.xa[:, self.d] = 1.0
        else:
            self.xa = np.ascontiguousarray(x, dtype=dt)
        self.y = _targets(ys, dt)
        self._per_batch = gathers_per_batch(self.n, self.p * dt.itemsize)
        self._idx: np.ndarray | None = None
        self.xs, self.ys = self.xa, self.y
        self.theta = np.array(thetas0[:, : self.p], dtype=dt)
        self._state: dict[str, Any] = {}
        self.t = 0

    # Coefficients computed per run in float64 as Python computes them for one run, then
    # rounded to the engine's dtype, as NumPy rounds a Python float meeting an array.
    def _col(self, values: np.ndarray) -> np.ndarray:
        return np.asarray(values, dtype=np.float64).astype(self.dt)[:, None]

    def begin_epoch(self, order: np.ndarray | None) -> None:
        """Gather the epoch's rows once, or note the order (large data)."""
        self._idx = None
        if order is None:
            self.xs, self.ys = self.xa, self.y
        elif self._per_batch:
            self.xs, self.ys, self._idx = self.xa, self.y, order
        else:
            self.xs, self.ys = self.xa[order], self.y[:, order]

    def run(
        self, start: int, count: int, batch_size: int, losses: np.ndarray, params: np.ndarray
    ) -> None:
        """Run minibatch steps for every run of the stack."""
        xs, ys, th, n, p, idx = self.xs, self.ys, self.theta, self.n, self.p, self._idx
        c, l2 = self.spec.loss_scale, self.spec.l2_penalty
        plain = self.spec.optimizer == "sgd" and not self.decay
        lr = self.hyper.lr if plain else np.ones(self.runs)
        full_loss = c / batch_size
        full_grad = self._col(2.0 * c / batch_size * lr)
        l2_grad = self._col(2.0 * l2 * lr) if l2 else None
        lo = start * batch_size
        with np.errstate(over="ignore", invalid="ignore"):
            for k in range(count):
                hi = min(lo + batch_size, n)
                if idx is None:
                    xb, yb = xs[lo:hi], ys[:, lo:hi]
                else:
                    rows_k = idx[lo:hi]
                    xb, yb = xs.take(rows_k, axis=0), ys.take(rows_k, axis=1)
                # (R, m): one matrix-vector product per run, as NumpyEngine's xb @ th.
                r = np.matmul(xb, th[:, :, None])[:, :, 0]
                r -= yb
                m = hi - lo
                if m == batch_size:
                    loss_scale, grad_scale = full_loss, full_grad
                else:  # the last, partial batch of an epoch
                    loss_scale, grad_scale = c / m, self._col(2.0 * c / m * lr)
                losses[k] = np.matmul(r[:, None, :], r[:, :, None])[:, 0, 0] * loss_scale
                g = np.matmul(r[:, None, :], xb)[:, 0, :]
                g *= grad_scale
                if l2:
                    losses[k] += l2 * np.matmul(th[:, None, :], th[:, :, None])[:, 0, 0]
                    g += l2_grad * th
                if plain:
                    th -= g
                else:
                    self._step(g)
                params[k, :, :p] = th
                lo = hi if hi < n else 0
        params[:count, :, p:] = 0.0

    def _step(self, g: np.ndarray) -> None:
        """One update of the hand-written optimizer (core.optim), for every run at once."""
        h, th, name, st = self.hyper, self.theta, self.spec.optimizer, self._state
        if self.decay:
            g = g + self._col(h.weight_decay) * th
        if name == "sgd":
            th -= self._col(h.lr) * g
        elif name in ("momentum", "nesterov"):
            mu = self._col(h.momentum)
            if "buf" not in st:
                st["buf"] = g * 1
            else:
                buf = st["buf"]
                buf *= mu
                buf += g
            buf = st["buf"]
            th -= self._col(h.lr) * (g + mu * buf) if name == "nesterov" else self._col(h.lr) * buf
        else:  # adam
            self.t += 1
            c1 = _per_value(h.beta1, lambda b: 1.0 - b**self.t)
            c2 = _per_value(h.beta2, lambda b: 1.0 - b**self.t)
            if "m" not in st:
                st["m"], st["v"] = th * 0, th * 0
            m, v = st["m"], st["v"]
            m *= self._col(h.beta1)
            m += self._col(1.0 - h.beta1) * g
            v *= self._col(h.beta2)
            v += self._col(1.0 - h.beta2) * (g * g)
            denom = v**0.5 / self._col(_per_value(c2, lambda c: c**0.5)) + 1e-8
            th -= self._col(h.lr / c1) * (m / denom)

    def params(self) -> np.ndarray:
        """Current (R, d + 1) as float64."""
        out = np.zeros((self.runs, self.d + 1))
        out[:, : self.p] = self.theta
        return out

    def keep(self, mask: np.ndarray) -> None:
        """Drop the runs where mask is false."""
        self.theta = self.theta[mask]
        self.hyper = self.hyper.take(mask)
        self.runs = self.theta.shape[0]
        if self.y.shape[0] > 1:
            self.y = self.y[mask]
            self.ys = self.ys[mask]
        self._state = {k: v[mask] for k, v in self._state.items()}


def _per_value(values: np.ndarray, fn) -> np.ndarray:
    """fn of each value computed with Python floats, once per distinct value."""
    out = np.empty(values.shape)
    for v in np.unique(values):
        out[values == v] = fn(float(v))
    return out


class BatchedTorch(BatchedEngine):
    """Torch tensors: batched products and torch.optim's update rules over the stack."""

    def __init__(
        self,
        x: np.ndarray,
        ys: np.ndarray,
        thetas0: np.ndarray,
        spec: StackSpec,
        hyper: StackHyper,
    ) -> None:
        import torch

        super().__init__(x, ys, thetas0, spec, hyper)
        self.torch = torch
        self.dt = torch.float64 if spec.dtype == "float64" else torch.float32
        self.device = torch.device(spec.device)
        self.x = torch.as_tensor(np.ascontiguousarray(x), dtype=self.dt, device=self.device)
        self.y = torch.as_tensor(_targets(ys, np.dtype(spec.dtype)), device=self.device)
        self.xs, self.ys = self.x, self.y
        self._idx = None
        self._per_batch = gathers_per_batch(self.n, self.x.element_size() * (self.d + 1))
        self.theta = torch.as_tensor(
            np.array(thetas0, dtype=np.float64), dtype=self.dt, device=self.device
        ).clone()
        if not spec.fit_bias:
            self.theta[:, self.d] = 0.0
        self._state: dict[str, Any] = {}
        self.t = 0
        self._set_columns()

    def _set_columns(self) -> None:
        h = self.hyper

        def col(values: np.ndarray):
            return self.torch.as_tensor(
                np.asarray(values, dtype=np.float64)[:, None], dtype=self.dt, device=self.device
            )

        self._lr, self._mu, self._wd = col(h.lr), col(h.momentum), col(h.weight_decay)
        self._b1, self._b2 = col(h.beta1), col(h.beta2)

    def begin_epoch(self, order: np.ndarray | None) -> None:
        """Gather the epoch's rows once, or keep the order as an index (large data)."""
        self._idx = None
        if order is None:
            self.xs, self.ys = self.x, self.y
            return
        idx = self.torch.from_numpy(order).to(self.device)
        if self._per_batch:
            self.xs, self.ys, self._idx = self.x, self.y, idx
        else:
            self.xs = self.torch.index_select(self.x, 0, idx)
            self.ys = self.torch.index_select(self.y, 1, idx)

    def run(
        self, start: int, count: int, batch_size: int, losses: np.ndarray, params: np.ndarray
    ) -> None:
        """Run minibatch steps for every run of the stack."""
        torch = self.torch
        xs, ys, n, d, idx = self.xs, self.ys, self.n, self.d, self._idx
        c, l2, fit_bias = self.spec.loss_scale, self.spec.l2_penalty, self.spec.fit_bias
        th = self.theta
        loss_buf = torch.empty((count, self.runs), dtype=self.dt, device=self.device)
        param_buf = torch.empty((count, self.runs, d + 1), dtype=self.dt, device=self.device)
        grad = torch.zeros_like(th)
        lo = start * batch_size
        with torch.no_grad():
            for k in range(count):
                hi = min(lo + batch_size, n)
                if idx is None:
                    xb, yb = xs[lo:hi], ys[:, lo:hi]
                else:
                    rows = idx[lo:hi]
                    xb = torch.index_select(xs, 0, rows)
                    yb = torch.index_select(ys, 1, rows)
                m = hi - lo
                r = th[:, :d] @ xb.T  # (R, m)
                if fit_bias:
                    r += th[:, d : d + 1]
                r -= yb
                loss = (r * r).mean(dim=1)
                if c != 1.0:
                    loss *= c
                grad[:, :d] = r @ xb
                if fit_bias:
                    grad[:, d] = r.sum(dim=1)
                grad *= 2.0 * c / m
                if l2:
                    loss += l2 * (th * th).sum(dim=1)
                    grad += (2.0 * l2) * th
                if not fit_bias:
                    grad[:, d] = 0.0
                self._step(grad)
                loss_buf[k] = loss
                param_buf[k] = th
                lo = hi if hi < n else 0
        losses[:count] = loss_buf.cpu().numpy()
        params[:count] = param_buf.cpu().numpy()

    def _step(self, g) -> None:
        """One update of torch.optim's rule for the optimizer, for every run at once."""
        th, name, st = self.theta, self.spec.optimizer, self._state
        if name == "adamw":
            if self.decay:
                th.mul_(1.0 - self._lr * self._wd)
        elif self.decay:
            g = g + self._wd * th
        if name == "sgd":
            th -= self._lr * g
        elif name in ("momentum", "nesterov"):
            if "buf" not in st:
                st["buf"] = g.clone()
            else:
                st["buf"].mul_(self._mu).add_(g)
            buf = st["buf"]
            th -= self._lr * (g + self._mu * buf if name == "nesterov" else buf)
        elif name in ("adam", "adamw"):
            self.t += 1
            if "m" not in st:
                st["m"], st["v"] = self.torch.zeros_like(th), self.torch.zeros_like(th)
            m, v = st["m"], st["v"]
            m.lerp_(g, 1.0 - self._b1)
            v.mul_(self._b2).addcmul_(g, g * (1.0 - self._b2))
            c1 = 1.0 - self._b1**self.t
            c2_sqrt = (1.0 - self._b2**self.t).sqrt()
            denom = (v.sqrt() / c2_sqrt).add_(ADAM_EPS)
            th -= (self._lr / c1) * m / denom
        elif name == "rmsprop":
            if "sq" not in st:
                st["sq"] = self.torch.zeros_like(th)
            sq = st["sq"]
            sq.mul_(RMSPROP_ALPHA).addcmul_(g, g, value=1.0 - RMSPROP_ALPHA)
            th -= self._lr * g / sq.sqrt().add_(RMSPROP_EPS)
        else:  # adagrad
            if "sum" not in st:
                st["sum"] = self.torch.zeros_like(th)
            total = st["sum"]
            total.addcmul_(g, g)
            th -= self._lr * g / total.sqrt().add_(ADAGRAD_EPS)

    def params(self) -> np.ndarray:
        """Current (R, d + 1) as float64."""
        return self.theta.detach().cpu().numpy().astype(np.float64)

    def keep(self, mask: np.ndarray) -> None:
        """Drop the runs where mask is false."""
        index = self.torch.as_tensor(np.flatnonzero(mask), device=self.device)
        self.theta = self.theta.index_select(0, index)
        self.hyper = self.hyper.take(mask)
        self.runs = int(self.theta.shape[0])
        if self.y.shape[0] > 1:
            self.y = self.y.index_select(0, index)
            self.ys = self.ys.index_select(0, index)
        self._state = {k: v.index_select(0, index) for k, v in self._state.items()}
        self._set_columns()


def make_batched(
    x: np.ndarray, ys: np.ndarray, thetas0: np.ndarray, spec: StackSpec, hyper: StackHyper
) -> BatchedEngine:
    """The batched engine of spec.implementation (numpy, or torch for scratch and module)."""
    klass = BatchedNumpy if spec.implementation == "numpy" else BatchedTorch
    return klass(x, ys, thetas0, spec, hyper)
