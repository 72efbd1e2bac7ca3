"""The three implementations of the seeds behind one stepping interface.

- numpy:   NumPy arrays, gradients derived by hand (seed 004's first implementation).
- scratch: tensors with requires_grad, autograd, an in-place update under no_grad (seeds 000, 004).
- module:  nn.Linear, nn.MSELoss and torch.optim (seeds 001, 002, 003, 004).

Each engine holds the training rows in its own dtype (sharing the caller's array when the dtype
already matches), runs a number of minibatches in a tight loop and writes every step's loss and
post-update parameters into caller-provided NumPy buffers, so per-step bookkeeping costs almost
nothing. The torch engines run on the CPU or a CUDA device (EngineSpec.device).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from core.engine_base import Engine, EngineSpec
from core.errors import ConfigError
from core.optim import (
    Hyper,
    apply_torch_hyper,
    flat_state,
    load_torch_optimizer_state,
    make_hand_optimizer,
    make_torch_optimizer,
    split_state,
    torch_optimizer_state,
)
from core.schedules import Rates, TorchRates

__all__ = [
    "ENGINES",
    "GATHER_EPOCH_BYTES",
    "Engine",
    "EngineSpec",
    "ModuleEngine",
    "NumpyEngine",
    "ScratchEngine",
    "gathers_per_batch",
    "make_engine",
    "plain_step",
    "resolve_device",
]

# Data larger than this is gathered batch by batch in each epoch's order: a whole-epoch copy
# outgrows the caches and costs more than it saves. Smaller data is gathered once per epoch, so
# each batch is a slice (the per-step cost that matters for batches of ten rows).
GATHER_EPOCH_BYTES = 16 * 2**20


def gathers_per_batch(n_rows: int, row_bytes: int) -> bool:
    """Whether an engine gathers each batch's rows itself instead of the epoch's at once."""
    return n_rows * row_bytes > GATHER_EPOCH_BYTES


def resolve_device(requested: str, implementation: str) -> str:
    """The device a run uses: "cpu" or "cuda" (auto: CUDA when torch sees a device)."""
    if implementation == "numpy" or requested == "cpu":
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if requested == "cuda":
        build = (
            "a CPU-only build"
            if torch.version.cuda is None
            else f"built for CUDA {torch.version.cuda}"
        )
        raise ConfigError(
            f"train.device = 'cuda' is not available: torch {torch.__version__} ({build}) sees no "
            "CUDA device; use auto or cpu"
        )
    return "cpu"


def _hand_hyper(engine: Engine) -> Hyper:
    """Set up a hand-written engine's rates; return the hyper-parameters its optimizer holds
    (with a schedule, its own copy, whose lr changes every step)."""
    spec = engine.spec
    if engine.schedule is None:
        return spec.hyper
    engine.rates = Rates(engine.schedule, spec.hyper.lr, spec.horizon)
    return replace(spec.hyper)


class NumpyEngine(Engine):
    """NumPy with hand-derived gradients: grad = 2c/m X^T (X theta - y) (+ 2 l2 theta)."""

    name = "numpy"

    def __init__(self, x: np.ndarray, y: np.ndarray, theta0: np.ndarray, spec: EngineSpec) -> None:
        super().__init__(x, y, theta0, spec)
        dt = np.dtype(spec.dtype)
        self.p = self.d + 1 if spec.fit_bias else self.d
        if spec.fit_bias:
            # The bias is a weight on a constant column: one matrix product gives both
            # gradients. Built in place, so no float64 copy of float32 data is ever made.
            self.xa = np.empty((self.n, self.p), dtype=dt)
            self.xa[:, : self.d] = x
            self.xa[:, self.d] = 1.0
        else:
            self.xa = np.ascontiguousarray(x, dtype=dt)
        self.y = np.ascontiguousarray(y, dtype=dt)
        self._per_batch = gathers_per_batch(self.n, self.p * dt.itemsize)
        self._idx: np.ndarray | None = None
        self.theta = np.array(theta0[: self.p], dtype=dt)
        self.opt = make_hand_optimizer(spec.optimizer, [self.theta], _hand_hyper(self))
        self.xs, self.ys = self.xa, self.y
        self._rows = np.empty((0, self.p), dtype=dt)

    def begin_epoch(self, order: np.ndarray | None) -> None:
        """Gather the epoch's rows once (each batch is then a slice), or note the order."""
        self._idx = None
        if order is None:
            self.xs, self.ys = self.xa, self.y
        elif self._per_batch:
            self.xs, self.ys, self._idx = self.xa, self.y, order
        else:
            self.xs, self.ys = self.xa[order], self.y[order]

    def run(
        self,
        start: int,
        count: int,
        batch_size: int,
        losses: np.ndarray,
        params: np.ndarray,
        rates: np.ndarray | None = None,
    ) -> None:
        """Run minibatch steps with hand-derived gradients."""
        xs, ys, th, n, p, idx = self.xs, self.ys, self.theta, self.n, self.p, self._idx
        c, l2 = self.spec.loss_scale, self.spec.l2_penalty
        opt_step = self.opt.step
        # Plain SGD inline: the update p -= lr * g without a call per step, with lr folded
        # into the gradient's scale (one array operation fewer per step).
        hyper = self.opt.hyper
        plain = self.spec.optimizer == "sgd" and not hyper.weight_decay
        sched = self.rates
        if sched is None and rates is not None:
            rates[:count] = hyper.lr
        lr = hyper.lr if plain else 1.0
        full_loss, full_grad = c / batch_size, 2.0 * c / batch_size * lr
        if self._rows.shape[0] < count:
            self._rows = np.empty((count, p), dtype=th.dtype)
        rows = self._rows  # same dtype as theta: a plain row copy per step, converted once below
        lo = start * batch_size
        # A diverging run overflows to inf/nan within a call; the trainer detects that and rolls
        # back, so NumPy's overflow warnings are noise (and errors where warnings are errors).
        with np.errstate(over="ignore", invalid="ignore"):
            for k in range(count):
                if sched is not None:
                    rate = sched.lr
                    if plain:
                        lr = rate
                        full_grad = 2.0 * c / batch_size * lr
                    else:
                        hyper.lr = rate  # the engine's own copy (_init_rates)
                    if rates is not None:
                        rates[k] = rate
                    sched.advance()
                hi = lo + batch_size
                if hi > n:
                    hi = n
                if idx is None:
                    xb = xs[lo:hi]
                    r = xb @ th
                    r -= ys[lo:hi]
                else:
                    rows_k = idx[lo:hi]
                    xb = xs.take(rows_k, axis=0)
                    r = xb @ th
                    r -= ys.take(rows_k)
                m = hi - lo
                if m == batch_size:
                    loss_scale, grad_scale = full_loss, full_grad
                else:  # the last, partial batch of an epoch
                    loss_scale, grad_scale = c / m, 2.0 * c / m * lr
                losses[k] = (r @ r) * loss_scale
                g = r @ xb  # X^T r
                g *= grad_scale
                if l2:
                    losses[k] += l2 * (th @ th)
                    g += (2.0 * l2 * lr) * th
                if plain:
                    th -= g
                else:
                    opt_step([g])
                rows[k] = th
                lo = hi if hi < n else 0  # wrap: a full batch repeats within one call
        params[:count, :p] = rows[:count]
        params[:count, p:] = 0.0

    def params(self) -> np.ndarray:
        """Current [w..., b] as float64."""
        out = np.zeros(self.d + 1)
        out[: self.p] = self.theta
        return out

    def set_params(self, theta: np.ndarray) -> None:
        """Overwrite parameters in place (the optimizer holds a reference)."""
        self.theta[:] = theta[: self.p]

    def set_hyper(self, hyper: Hyper) -> None:
        """Change hyper-parameters (a new lr scales the schedule)."""
        self.opt.hyper = self._rescheduled(hyper)

    def reset_optimizer(self) -> None:
        """Forget optimizer state."""
        self.opt.reset_state()

    def optimizer_state(self) -> dict[str, np.ndarray]:
        """The hand-written optimizer's running state (see Engine.optimizer_state)."""
        return flat_state(self.d, self.opt.get_state(), lambda a: np.asarray(a, dtype=np.float64))

    def load_optimizer_state(self, state: Mapping[str, np.ndarray]) -> None:
        """Continue from a running state (see Engine.load_optimizer_state)."""

        def make(values: np.ndarray, like: np.ndarray) -> np.ndarray:
            return values.astype(like.dtype).reshape(like.shape)

        self.opt.set_state(split_state(state, [self.theta], make))


def _torch_dtype(name: str):
    import torch

    return torch.float64 if name == "float64" else torch.float32


class _TorchEngine(Engine):
    """Shared by the torch engines: rows as tensors on the device, in each epoch's order.

    On the CPU, each step's loss and parameters are read through NumPy views of the tensors.
    On a CUDA device, reading them would wait for the device at every step; they are copied
    into device buffers instead and brought to the host once per run() call.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, theta0: np.ndarray, spec: EngineSpec) -> None:
        import torch

        super().__init__(x, y, theta0, spec)
        self.torch = torch
        self.dt = _torch_dtype(spec.dtype)
        self.device = torch.device(spec.device)
        # as_tensor shares the caller's array when dtype and device already match.
        self.x = torch.as_tensor(np.ascontiguousarray(x), dtype=self.dt, device=self.device)
        self.y = torch.as_tensor(
            np.ascontiguousarray(y), dtype=self.dt, device=self.device
        ).reshape(-1, 1)
        self.xs, self.ys = self.x, self.y
        self._idx = None
        self._per_batch = gathers_per_batch(self.n, self.x.element_size() * (self.d + 1))
        self._host_views = self.device.type == "cpu"

    def begin_epoch(self, order: np.ndarray | None) -> None:
        """Gather the epoch's rows once (far cheaper per step than a DataLoader) or, for large
        data, keep the order as an index tensor and gather each batch when it runs."""
        self._idx = None
        if order is None:
            self.xs, self.ys = self.x, self.y
            return
        idx = self.torch.from_numpy(order).to(self.device)
        if self._per_batch:
            self.xs, self.ys, self._idx = self.x, self.y, idx
        else:
            self.xs = self.torch.index_select(self.x, 0, idx)
            self.ys = self.torch.index_select(self.y, 0, idx)

    def _tensor(self, values: np.ndarray):
        return self.torch.as_tensor(
            np.asarray(values, dtype=np.float64), dtype=self.dt, device=self.device
        )

    def _buffers(self, count: int):
        """Device buffers for count steps' losses and parameters (non-CPU devices)."""
        torch = self.torch
        losses = torch.empty(count, dtype=self.dt, device=self.device)
        params = torch.zeros((count, self.d + 1), dtype=self.dt, device=self.device)
        return losses, params

    def _to_host(self, count: int, buffers, losses: np.ndarray, params: np.ndarray) -> None:
        losses[:count] = buffers[0].cpu().numpy()
        params[:count] = buffers[1].cpu().numpy()

    def _host_copy(self, tensor) -> np.ndarray:
        """A float64 copy of a tensor (exact: float32 values widen without rounding)."""
        return tensor.detach().cpu().numpy().astype(np.float64)

    def _like(self, values: np.ndarray, like):
        """values as a new tensor with the dtype, device and shape of like."""
        return self.torch.tensor(values, dtype=like.dtype, device=like.device).reshape(like.shape)


class ScratchEngine(_TorchEngine):
    """Tensors with requires_grad, autograd for the gradient, a hand-written in-place update."""

    name = "scratch"

    def __init__(self, x: np.ndarray, y: np.ndarray, theta0: np.ndarray, spec: EngineSpec) -> None:
        super().__init__(x, y, theta0, spec)
        w0 = self._tensor(theta0[: self.d]).reshape(-1, 1)
        self.w = w0.clone().requires_grad_(True)
        self.b = self._tensor(theta0[self.d :]).clone().requires_grad_(spec.fit_bias)
        self.tensors = [self.w, self.b] if spec.fit_bias else [self.w]
        if self._host_views:
            # NumPy views share memory with the parameters: recording a step is a cheap copy.
            self.w_view = self.w.detach().numpy().reshape(-1)
            self.b_view = self.b.detach().numpy()
        self.opt = self._make_optimizer()

    def _make_optimizer(self):
        hyper = _hand_hyper(self)
        with self.torch.no_grad():
            return make_hand_optimizer(self.spec.optimizer, self.tensors, hyper)

    def run(
        self,
        start: int,
        count: int,
        batch_size: int,
        losses: np.ndarray,
        params: np.ndarray,
        rates: np.ndarray | None = None,
    ) -> None:
        """Run minibatch steps: forward, loss, backward, hand update under no_grad."""
        torch = self.torch
        xs, ys, w, b, n, d, idx = self.xs, self.ys, self.w, self.b, self.n, self.d, self._idx
        index_select = torch.index_select
        c, l2, fit_bias = self.spec.loss_scale, self.spec.l2_penalty, self.spec.fit_bias
        tensors, opt_step = self.tensors, self.opt.step
        hyper = self.opt.hyper
        plain = self.spec.optimizer == "sgd" and not hyper.weight_decay
        lr = hyper.lr
        sched = self.rates
        if sched is None and rates is not None:
            rates[:count] = lr
        host = self._host_views
        if host:
            w_view, b_view = self.w_view, self.b_view
            if not fit_bias:
                params[:count, d] = 0.0
        else:
            buffers = self._buffers(count)
            loss_buf, param_buf = buffers
        lo = start * batch_size
        for k in range(count):
            if sched is not None:
                lr = hyper.lr = sched.lr  # the engine's own copy (_init_rates)
                if rates is not None:
                    rates[k] = lr
                sched.advance()
            hi = min(lo + batch_size, n)
            if idx is None:
                xb, yb = xs[lo:hi], ys[lo:hi]
            else:
                rows = idx[lo:hi]
                xb, yb = index_select(xs, 0, rows), index_select(ys, 0, rows)
            y_hat = xb @ w
            if fit_bias:
                y_hat = y_hat + b
            loss = ((y_hat - yb) ** 2).mean()
            if c != 1.0:
                loss = loss * c
            if l2:
                loss = loss + l2 * sum((t**2).sum() for t in tensors)
            loss.backward()
            with torch.no_grad():
                if plain:
                    # HandSGD's update (p -= lr * g) without its call per step.
                    for t in tensors:
                        t -= lr * t.grad
                        t.grad = None
                else:
                    opt_step([t.grad for t in tensors])
                    for t in tensors:
                        t.grad = None
            if host:
                losses[k] = loss.item()
                params[k, :d] = w_view
                if fit_bias:
                    params[k, d] = b_view[0]
            else:
                with torch.no_grad():
                    loss_buf[k] = loss
                    param_buf[k, :d] = w[:, 0]
                    if fit_bias:
                        param_buf[k, d] = b[0]
            lo = hi if hi < n else 0  # wrap: a full batch repeats within one call
        if not host:
            self._to_host(count, buffers, losses, params)

    def params(self) -> np.ndarray:
        """Current [w..., b] as float64."""
        out = np.zeros(self.d + 1)
        out[: self.d] = self.w.detach().cpu().numpy().reshape(-1)
        if self.spec.fit_bias:
            out[self.d] = self.b.detach().cpu().numpy()[0]
        return out

    def set_params(self, theta: np.ndarray) -> None:
        """Overwrite parameters in place."""
        with self.torch.no_grad():
            self.w.copy_(self._tensor(theta[: self.d]).reshape(-1, 1))
            if self.spec.fit_bias:
                self.b.copy_(self._tensor(theta[self.d :]))

    def set_hyper(self, hyper: Hyper) -> None:
        """Change hyper-parameters (a new lr scales the schedule)."""
        self.opt.hyper = self._rescheduled(hyper)

    def reset_optimizer(self) -> None:
        """Forget optimizer state."""
        with self.torch.no_grad():
            self.opt.reset_state()

    def optimizer_state(self) -> dict[str, np.ndarray]:
        """The hand-written optimizer's running state (see Engine.optimizer_state)."""
        return flat_state(self.d, self.opt.get_state(), self._host_copy)

    def load_optimizer_state(self, state: Mapping[str, np.ndarray]) -> None:
        """Continue from a running state (see Engine.load_optimizer_state)."""
        with self.torch.no_grad():
            self.opt.set_state(split_state(state, self.tensors, self._like))


def plain_step(opt: Any) -> Callable[[], Any]:
    """opt.step without the wrapper Optimizer puts around every step() for the profiler and
    step hooks, when no hook is registered (else opt.step itself).

    The wrapper opens a torch.autograd.profiler.record_function per call, profiler or not: with
    zero_grad's own record, ~30 of the ~95 microseconds of a batch-of-ten step here. The
    update itself is the optimizer class's step (still under its grad-mode decorator).
    """
    from torch.optim import optimizer as optim_module

    wrapper = type(opt).step
    # Only the wrapper Optimizer marks as hooked: its __wrapped__ is the class's own step,
    # grad-mode decorator included (any other __wrapped__ could skip that decorator).
    inner = getattr(wrapper, "__wrapped__", None) if getattr(wrapper, "hooked", False) else None
    hooks = (
        opt._optimizer_step_pre_hooks,
        opt._optimizer_step_post_hooks,
        optim_module._global_optimizer_pre_hooks,
        optim_module._global_optimizer_post_hooks,
    )
    if inner is None or any(hooks):
        return opt.step
    return functools.partial(inner, opt)


class ModuleEngine(_TorchEngine):
    """nn.Linear, nn.MSELoss and a torch.optim optimizer: the standard PyTorch loop."""

    name = "module"

    def __init__(self, x: np.ndarray, y: np.ndarray, theta0: np.ndarray, spec: EngineSpec) -> None:
        from torch import nn

        super().__init__(x, y, theta0, spec)
        self.net = nn.Linear(self.d, 1, bias=spec.fit_bias, dtype=self.dt, device=self.device)
        self.loss_fn = nn.MSELoss()
        self.set_params(theta0)
        if self._host_views:
            self.w_view = self.net.weight.detach().numpy().reshape(-1)
            self.b_view = self.net.bias.detach().numpy() if spec.fit_bias else None
        self.opt = make_torch_optimizer(spec.optimizer, list(self.net.parameters()), spec.hyper)
        if self.schedule is not None:
            self.rates = TorchRates(self.schedule, self.opt, spec.horizon)

    def run(
        self,
        start: int,
        count: int,
        batch_size: int,
        losses: np.ndarray,
        params: np.ndarray,
        rates: np.ndarray | None = None,
    ) -> None:
        """Run minibatch steps: zero_grad, forward, loss, backward, step (and the scheduler's)."""
        xs, ys, n, d, idx = self.xs, self.ys, self.n, self.d, self._idx
        net, opt = self.net, self.opt
        step, param_list = plain_step(opt), list(net.parameters())
        # forward() itself: Module.__call__ only adds hook dispatch (no hooks are registered
        # here), ~4% of a batch-of-ten step.
        net_forward, loss_forward = net.forward, self.loss_fn.forward
        # index_select: a third of the cost of xs[rows] (advanced indexing) per batch here.
        index_select = self.torch.index_select
        c, l2, fit_bias = self.spec.loss_scale, self.spec.l2_penalty, self.spec.fit_bias
        host = self._host_views
        if host:
            w_view, b_view = self.w_view, self.b_view
            if not fit_bias:
                params[:count, d] = 0.0
        else:
            buffers = self._buffers(count)
            loss_buf, param_buf = buffers
            weight, bias = net.weight, net.bias
        group, sched = opt.param_groups[0], self.rates
        if sched is None and rates is not None:
            rates[:count] = group["lr"]
        lo = start * batch_size
        for k in range(count):
            if sched is not None and rates is not None:
                rates[k] = group["lr"]
            hi = min(lo + batch_size, n)
            if idx is None:
                xb, yb = xs[lo:hi], ys[lo:hi]
            else:
                rows = idx[lo:hi]
                xb, yb = index_select(xs, 0, rows), index_select(ys, 0, rows)
            # zero_grad() as it does by default (set_to_none), without its profiler record.
            for p in param_list:
                p.grad = None
            loss = loss_forward(net_forward(xb), yb)
            if c != 1.0:
                loss = loss * c
            if l2:
                loss = loss + l2 * sum((t**2).sum() for t in net.parameters())
            loss.backward()
            step()
            if sched is not None:
                sched.advance()  # the scheduler's step, after the optimizer's
            if host:
                losses[k] = loss.item()
                params[k, :d] = w_view
                if fit_bias:
                    params[k, d] = b_view[0]
            else:
                with self.torch.no_grad():
                    loss_buf[k] = loss
                    param_buf[k, :d] = weight[0]
                    if fit_bias:
                        param_buf[k, d] = bias[0]
            lo = hi if hi < n else 0  # wrap: a full batch repeats within one call
        if not host:
            self._to_host(count, buffers, losses, params)

    def params(self) -> np.ndarray:
        """Current [w..., b] as float64."""
        out = np.zeros(self.d + 1)
        out[: self.d] = self.net.weight.detach().cpu().numpy().reshape(-1)
        if self.spec.fit_bias:
            out[self.d] = float(self.net.bias.detach().cpu().numpy()[0])
        return out

    def set_params(self, theta: np.ndarray) -> None:
        """Overwrite parameters in place (views and optimizer keep pointing at them)."""
        with self.torch.no_grad():
            self.net.weight.copy_(self._tensor(theta[: self.d]).reshape(1, -1))
            if self.spec.fit_bias:
                self.net.bias.copy_(self._tensor(theta[self.d :]))

    def set_hyper(self, hyper: Hyper) -> None:
        """Change hyper-parameters, keeping the optimizer's state (a new lr scales the
        schedule)."""
        apply_torch_hyper(self.opt, self.spec.optimizer, self._rescheduled(hyper))

    def reset_optimizer(self) -> None:
        """Forget optimizer state by building a fresh optimizer (its schedule carried over)."""
        self.opt = make_torch_optimizer(
            self.spec.optimizer, list(self.net.parameters()), self.spec.hyper
        )
        if isinstance(self.rates, TorchRates):
            self.rates.move_to(self.opt)

    def optimizer_state(self) -> dict[str, np.ndarray]:
        """torch.optim's running state (see Engine.optimizer_state)."""
        raw = torch_optimizer_state(self.opt, self.spec.optimizer)
        return flat_state(self.d, raw, self._host_copy)

    def load_optimizer_state(self, state: Mapping[str, np.ndarray]) -> None:
        """Continue from a running state (see Engine.load_optimizer_state)."""
        self.reset_optimizer()
        params = list(self.net.parameters())
        raw = split_state(state, params, self._like)
        load_torch_optimizer_state(self.opt, self.spec.optimizer, raw)


ENGINES: dict[str, type[Engine]] = {
    "numpy": NumpyEngine,
    "scratch": ScratchEngine,
    "module": ModuleEngine,
}


def make_engine(
    name: str, x: np.ndarray, y: np.ndarray, theta0: np.ndarray, spec: EngineSpec
) -> Engine:
    """Build the engine called name on training rows x, y from initial [w..., b]."""
    return ENGINES[name](x, y, theta0, spec)
