"""Learning-rate schedules: the configuration value, the rate step by step, torch's schedulers.

A schedule multiplies nothing by itself: it is a name and its parameters (`Schedule`). The rate
the k-th step uses is the schedule's value at position k - 1, computed with the formulas of
torch.optim.lr_scheduler:

    constant       the base rate
    step           StepLR(step_size, gamma)
    exponential    ExponentialLR(gamma)
    cosine         CosineAnnealingLR(T_max = the run's total steps, eta_min = lr_min)
    warmup_cosine  LinearLR(start_factor, total_iters = warmup_steps), then CosineAnnealingLR
                   over the remaining steps (SequentialLR)
    one_cycle      OneCycleLR(max_lr = the base rate, pct_start, div_factor, final_div_factor),
                   cosine annealing, momentum not cycled (the hand-written optimizers keep theirs)
    inverse_time   LambdaLR(lambda t: 1 / (1 + decay * t))

The module implementation steps torch's own schedulers (make_torch_scheduler); NumPy and scratch
step `Rates`, which repeats torch's arithmetic operation for operation, so the three see the same
rates. Schedules that run over the run's total steps (cosine, warmup_cosine, one_cycle) hold
their last rate after it (a run continued past its epochs keeps its final rate); the others go on.
A live change of the base rate scales the schedule: every rate it would give from then on,
including lr_min, is multiplied by new / old.

A schedule's running state (`state()`: its position, the rate the next step uses, the scaled
base rates and the horizon) has one layout for Rates and TorchRates, so a run's exact state
(core.state) keeps it and any implementation goes on from it bit for bit: the recursive forms
carry rounding that the closed forms of `seek` would not repeat.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "HORIZON_SCHEDULES",
    "SCHEDULES",
    "Rates",
    "Schedule",
    "TorchRates",
    "lr_at",
    "lr_sequence",
    "make_torch_scheduler",
    "scale_torch_scheduler",
    "seek_torch_scheduler",
]

# Each schedule's parameters and their defaults (their ranges: core.limits.SCHEDULE_LIMITS).
SCHEDULES: Mapping[str, Mapping[str, float | int]] = {
    "constant": {},
    "step": {"step_size": 100, "gamma": 0.5},
    "exponential": {"gamma": 0.99},
    "cosine": {"lr_min": 0.0},
    "warmup_cosine": {"warmup_steps": 100, "lr_min": 0.0, "start_factor": 0.01},
    "one_cycle": {"pct_start": 0.3, "div_factor": 25.0, "final_div_factor": 1e4},
    "inverse_time": {"decay": 0.01},
}
# Schedules over the run's total steps: past them, they hold their last rate.
HORIZON_SCHEDULES = ("cosine", "warmup_cosine", "one_cycle")
# Parameters that are rates (not factors): a live change of the base rate scales them too.
_RATE_PARAMS = ("lr_min",)


def _frozen(value: Any) -> Any:
    """Lists as tuples (nested too), so a schedule stays hashable whatever a user typed."""
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, Mapping):
        return tuple((str(k), _frozen(v)) for k, v in value.items())
    return value


@dataclass(frozen=True)
class Schedule:
    """A learning-rate schedule as configured: its name and its parameters (immutable)."""

    name: str = "constant"
    params: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, value: Any) -> Any:
        """A schedule from JSON's form ({"name": ..., params...}) or a bare name, with every
        parameter it leaves out at its default; anything else as it is, for validation to name."""
        if isinstance(value, Schedule):
            return value
        if isinstance(value, str):
            value = {"name": value}
        if not isinstance(value, Mapping) or "name" not in value:
            return value
        name = value["name"]
        given = {str(k): _frozen(v) for k, v in value.items() if k != "name"}
        defaults = SCHEDULES.get(name, {}) if isinstance(name, str) else {}
        params = {**defaults, **given}
        return cls(_frozen(name), tuple(sorted(params.items())))

    def get(self, key: str) -> Any:
        """The parameter called key (its default if the schedule has one and it is unset)."""
        for k, v in self.params:
            if k == key:
                return v
        return SCHEDULES.get(self.name, {}).get(key)

    def to_dict(self) -> dict[str, Any]:
        """The schedule as JSON shows it: {"name": ..., parameter: value, ...}."""
        return {"name": self.name, **{k: _json(v) for k, v in self.params}}

    @property
    def constant(self) -> bool:
        """Whether the rate never changes."""
        return self.name == "constant"

    @property
    def holds(self) -> bool:
        """Whether the schedule runs over the run's total steps and then holds its last rate."""
        return self.name in HORIZON_SCHEDULES

    def scaled(self, factor: float) -> Schedule:
        """The schedule with its absolute rates (lr_min) multiplied by factor."""
        params = tuple((k, v * factor if k in _RATE_PARAMS else v) for k, v in self.params)
        return Schedule(self.name, params)


def _json(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_json(v) for v in value]
    return value


def _cosine_span(schedule: Schedule, horizon: int) -> int:
    """T_max of the cosine part: the steps after any warm-up (at least one)."""
    warm = schedule.get("warmup_steps") if schedule.name == "warmup_cosine" else 0
    return max(horizon - warm, 1)


def _one_cycle_ends(schedule: Schedule, horizon: int) -> tuple[float, int]:
    """OneCycleLR's phase ends: the warm-up's (a float, as torch computes it) and the last step."""
    return float(schedule.get("pct_start") * horizon) - 1, horizon - 1


def one_cycle_problem(schedule: Schedule, horizon: int) -> str | None:
    """Why torch's OneCycleLR cannot run this schedule over horizon steps, or None."""
    if schedule.name == "one_cycle" and _one_cycle_ends(schedule, horizon)[0] == 0.0:
        # Its first phase spans one position: torch computes 0 / 0 at the first step.
        return (
            f"train.schedule.pct_start = {schedule.get('pct_start')!r} gives a warm-up of one"
            f" step over {horizon} steps, which torch's OneCycleLR cannot compute: choose"
            " another pct_start or more steps"
        )
    return None


def _anneal_cos(start: float, end: float, pct: float) -> float:
    # OneCycleLR._annealing_cos, operation for operation.
    cos_out = math.cos(math.pi * pct) + 1
    return end + (start - end) / 2.0 * cos_out


class Rates:
    """The rate of each step as torch's scheduler computes it, in plain Python floats.

    `lr` is the rate the next step uses; `advance()` moves past one step. The arithmetic (and
    its order) is torch's: recursive where torch's schedulers are recursive, closed-form where
    torch jumps (seek, as a scheduler given an epoch does)."""

    def __init__(self, schedule: Schedule, base_lr: float, horizon: int) -> None:
        self.schedule = schedule
        self.name = schedule.name
        self.base = float(base_lr)
        g = schedule.get
        self.eta = float(g("lr_min") or 0.0)
        self._set_horizon(horizon)
        self.warm = int(g("warmup_steps") or 0) if self.name == "warmup_cosine" else 0
        # one_cycle keeps its rates as OneCycleLR keeps them in the optimizer's param group.
        if self.name == "one_cycle":
            self.max_lr = self.base
            self.initial = self.max_lr / g("div_factor")
            self.min_lr = self.initial / g("final_div_factor")
            self.base = self.initial  # torch's base_lrs: the group's initial_lr
        self.position = 0  # steps taken
        self._pos = 0  # the scheduler's own position (stops at self.last)
        self.lr = self._start()

    def _set_horizon(self, horizon: int) -> None:
        self.horizon = max(int(horizon), 1)
        self.t_max = _cosine_span(self.schedule, self.horizon)
        # Last position the schedule reaches: it holds there (None: it never stops).
        self.last = self.horizon - 1 if self.schedule.holds else None

    def _start(self) -> float:
        if self.name == "warmup_cosine":
            if self.warm == 0:
                return self.base
            return self.base * self.schedule.get("start_factor")
        if self.name == "one_cycle":
            return self._one_cycle(0)
        if self.name == "inverse_time":
            return self._inverse_time(0)
        return self.base

    def _one_cycle(self, step: int) -> float:
        end0, end1 = _one_cycle_ends(self.schedule, self.horizon)
        if step <= end0:
            return _anneal_cos(self.initial, self.max_lr, (step - 0.0) / (end0 - 0.0))
        return _anneal_cos(self.max_lr, self.min_lr, (step - end0) / (end1 - end0))

    def _inverse_time(self, step: int) -> float:
        return self.base * (1.0 / (1.0 + self.schedule.get("decay") * step))

    def _cosine_ratio(self, e: int) -> float:
        # CosineAnnealingLR.get_lr's recursive form (its restart branch needs e = T_max + 1,
        # a position this schedule holds before).
        t = self.t_max
        return (1 + math.cos(math.pi * e / t)) / (1 + math.cos(math.pi * (e - 1) / t)) * (
            self.lr - self.eta
        ) + self.eta

    def _cosine_closed(self, e: int) -> float:
        return self.eta + (self.base - self.eta) * (1 + math.cos(math.pi * e / self.t_max)) / 2

    def advance(self) -> None:
        """Move past one step: lr becomes the rate of the step after."""
        self.position += 1
        if self.last is not None and self._pos >= self.last:
            return
        self._pos += 1
        e, name, g = self._pos, self.name, self.schedule.get
        if name == "step":
            if e % g("step_size") == 0:
                self.lr = self.lr * g("gamma")
        elif name == "exponential":
            self.lr = self.lr * g("gamma")
        elif name == "cosine":
            self.lr = self._cosine_ratio(e)
        elif name == "warmup_cosine":
            w = self.warm
            if e < w:
                s = g("start_factor")
                self.lr = self.lr * (1.0 + (1.0 - s) / (w * s + (e - 1) * (1.0 - s)))
            elif e == w:
                self.lr = self._cosine_closed(0)
            else:
                self.lr = self._cosine_ratio(e - w)
        elif name == "one_cycle":
            self.lr = self._one_cycle(e)
        elif name == "inverse_time":
            self.lr = self._inverse_time(e)

    def seek(self, position: int) -> None:
        """Stand before step position + 1 (after `position` steps), from the closed forms."""
        self.position = int(position)
        e = self.position if self.last is None else min(self.position, self.last)
        self._pos = e
        name, g = self.name, self.schedule.get
        if name == "step":
            self.lr = self.base * g("gamma") ** (e // g("step_size"))
        elif name == "exponential":
            self.lr = self.base * g("gamma") ** e
        elif name == "cosine":
            self.lr = self._cosine_closed(e)
        elif name == "warmup_cosine":
            w = self.warm
            if e < w:
                s = g("start_factor")
                self.lr = self.base * (s + (1.0 - s) * min(w, e) / w)
            else:
                self.lr = self._cosine_closed(e - w)
        elif name == "one_cycle":
            self.lr = self._one_cycle(e)
        elif name == "inverse_time":
            self.lr = self._inverse_time(e)
        else:
            self.lr = self.base

    def scale(self, factor: float) -> None:
        """Multiply every rate the schedule gives from now on by factor (a live lr change)."""
        self.lr = self.lr * factor
        self.base = self.base * factor
        self.eta = self.eta * factor
        if self.name == "one_cycle":
            self.initial = self.initial * factor
            self.max_lr = self.max_lr * factor
            self.min_lr = self.min_lr * factor

    def state(self) -> dict[str, float]:
        """The running state (see schedule_state); load_state continues from it exactly."""
        out = {"position": float(self.position), "horizon": float(self.horizon)}
        out.update(lr=self.lr, base=self.base, eta=self.eta)
        if self.name == "one_cycle":
            out.update(initial=self.initial, max_lr=self.max_lr, min_lr=self.min_lr)
        return out

    def load_state(self, state: Mapping[str, float]) -> None:
        """Stand where state stood: the same position, horizon and rates, bit for bit."""
        self._set_horizon(int(state["horizon"]))
        self.position = int(state["position"])
        self._pos = self.position if self.last is None else min(self.position, self.last)
        self.lr, self.base, self.eta = (float(state[k]) for k in ("lr", "base", "eta"))
        if self.name == "one_cycle":
            self.initial, self.max_lr, self.min_lr = (
                float(state[k]) for k in ("initial", "max_lr", "min_lr")
            )


def lr_sequence(schedule: Schedule, total_steps: int, base_lr: float) -> np.ndarray:
    """The rate each of steps 1..total_steps uses (entry k - 1 for step k), as training does."""
    rates = Rates(schedule, base_lr, total_steps)
    out = np.empty(int(total_steps))
    for k in range(out.size):
        out[k] = rates.lr
        rates.advance()
    return out


def lr_at(schedule: Schedule, steps: np.ndarray, horizon: int, base_lr: float) -> np.ndarray:
    """The rate steps (1-based, any array) use, from the closed forms: for plotting a plan."""
    positions = np.maximum(np.asarray(steps, dtype=np.int64) - 1, 0)
    horizon = max(int(horizon), 1)
    if schedule.holds:
        positions = np.minimum(positions, horizon - 1)
    e = positions.astype(np.float64)
    g, name, base = schedule.get, schedule.name, float(base_lr)
    eta = float(g("lr_min") or 0.0)
    if name == "step":
        return base * g("gamma") ** (positions // g("step_size"))
    if name == "exponential":
        return base * g("gamma") ** e
    if name == "inverse_time":
        return base * (1.0 / (1.0 + g("decay") * e))
    if name in ("cosine", "warmup_cosine"):
        w = g("warmup_steps") if name == "warmup_cosine" else 0
        t = _cosine_span(schedule, horizon)
        cosine = eta + (base - eta) * (1 + np.cos(np.pi * (e - w) / t)) / 2
        if not w:
            return cosine
        s = g("start_factor")
        warm = base * (s + (1.0 - s) * np.minimum(w, e) / w)
        return np.where(e < w, warm, cosine)
    if name == "one_cycle":
        rates = Rates(schedule, base, horizon)
        return np.array([rates._one_cycle(int(p)) for p in positions.reshape(-1)]).reshape(
            positions.shape
        )
    return np.full(positions.shape, base)


# ---- torch's schedulers (the module implementation) ------------------------------------------


def make_torch_scheduler(schedule: Schedule, optimizer: Any, horizon: int) -> Any:
    """torch's scheduler for this schedule on optimizer (None for constant), at position 0."""
    from torch.optim import lr_scheduler as ls

    horizon = max(int(horizon), 1)
    g, name = schedule.get, schedule.name
    if name == "constant":
        return None
    if name == "step":
        sched = ls.StepLR(optimizer, step_size=g("step_size"), gamma=g("gamma"))
    elif name == "exponential":
        sched = ls.ExponentialLR(optimizer, gamma=g("gamma"))
    elif name == "cosine":
        sched = ls.CosineAnnealingLR(optimizer, T_max=horizon, eta_min=g("lr_min"))
    elif name == "warmup_cosine":
        warm = g("warmup_steps")
        linear = ls.LinearLR(
            optimizer, start_factor=g("start_factor"), end_factor=1.0, total_iters=warm
        )
        cosine = ls.CosineAnnealingLR(
            optimizer, T_max=_cosine_span(schedule, horizon), eta_min=g("lr_min")
        )
        sched = ls.SequentialLR(optimizer, [linear, cosine], milestones=[warm])
    elif name == "one_cycle":
        sched = ls.OneCycleLR(
            optimizer,
            max_lr=optimizer.param_groups[0]["lr"],
            total_steps=horizon,
            pct_start=float(g("pct_start")),
            anneal_strategy="cos",
            cycle_momentum=False,
            div_factor=g("div_factor"),
            final_div_factor=g("final_div_factor"),
        )
    elif name == "inverse_time":
        decay = g("decay")
        sched = ls.LambdaLR(optimizer, lambda t: 1.0 / (1.0 + decay * t))
    else:
        raise ValueError(f"unknown schedule {name!r}")
    # The engine calls the optimizer's update without the wrapper a scheduler installs to note
    # that it ran (core.engines.plain_step): note it here, or torch warns at the second step.
    optimizer._opt_called = True
    return sched


def scale_torch_scheduler(sched: Any, factor: float) -> None:
    """Multiply every rate the scheduler gives from now on by factor (as Rates.scale)."""
    for group in sched.optimizer.param_groups:
        for key in ("lr", "initial_lr", "max_lr", "min_lr"):
            if key in group:
                group[key] = group[key] * factor
    for part in [sched, *getattr(sched, "_schedulers", [])]:
        if hasattr(part, "base_lrs"):  # SequentialLR keeps none of its own
            part.base_lrs = [b * factor for b in part.base_lrs]
        if hasattr(part, "eta_min"):
            part.eta_min = part.eta_min * factor


def seek_torch_scheduler(sched: Any, schedule: Schedule, position: int, horizon: int) -> None:
    """Put the scheduler where it stands after `position` steps (closed forms, as Rates.seek)."""
    horizon = max(int(horizon), 1)
    e = position if not schedule.holds else min(position, horizon - 1)
    # _update_lr(epoch) is how torch's SequentialLR itself jumps a scheduler to an epoch: it
    # takes the closed form without the deprecation warning step(epoch) gives.
    if schedule.name == "warmup_cosine":
        linear, cosine = sched._schedulers
        warm = schedule.get("warmup_steps")
        sched.last_epoch = e
        if e < warm:
            linear._update_lr(e)
            cosine.last_epoch = -1
        else:
            cosine._update_lr(e - warm)
        sched._last_lr = [g["lr"] for g in sched.optimizer.param_groups]
    else:
        # Schedulers without a closed form (OneCycleLR, LambdaLR) compute from last_epoch alone.
        sched._update_lr(e)


class TorchRates:
    """torch's scheduler for a run, with Rates' interface: lr, advance, seek, scale. It steps
    after each update and holds at the horizon, and moves to a fresh optimizer (a reset)."""

    def __init__(self, schedule: Schedule, optimizer: Any, horizon: int) -> None:
        self.schedule = schedule
        self.horizon = max(int(horizon), 1)
        self.sched = make_torch_scheduler(schedule, optimizer, self.horizon)
        self.last = self.horizon - 1 if schedule.holds else None
        self.position = 0

    @property
    def lr(self) -> float:
        """The rate the next step uses (the optimizer's)."""
        return self.sched.optimizer.param_groups[0]["lr"]

    def advance(self) -> None:
        """Move past one step (the scheduler's step, unless it holds)."""
        self.position += 1
        if self.last is None or self.position <= self.last:
            self.sched.step()

    def seek(self, position: int) -> None:
        """Stand before step position + 1."""
        self.position = int(position)
        seek_torch_scheduler(self.sched, self.schedule, self.position, self.horizon)

    def scale(self, factor: float) -> None:
        """Multiply every rate from now on by factor."""
        scale_torch_scheduler(self.sched, factor)
        self.schedule = self.schedule.scaled(factor)

    def state(self) -> dict[str, float]:
        """The running state in Rates.state's layout (the values torch's scheduler holds)."""
        group = self.sched.optimizer.param_groups[0]
        parts = [self.sched, *getattr(self.sched, "_schedulers", [])]
        base = next(p.base_lrs[0] for p in parts if hasattr(p, "base_lrs"))
        eta = next((p.eta_min for p in parts if hasattr(p, "eta_min")), 0.0)
        out = {"position": float(self.position), "horizon": float(self.horizon)}
        out.update(lr=float(group["lr"]), base=float(base), eta=float(eta))
        if self.schedule.name == "one_cycle":
            out.update(initial=group["initial_lr"], max_lr=group["max_lr"], min_lr=group["min_lr"])
        return out

    def load_state(self, state: Mapping[str, float]) -> None:
        """Stand where state stood (Rates.state's layout): the scheduler at its position, with
        the exact rates torch's next steps read."""
        horizon = max(int(state["horizon"]), 1)
        if horizon != self.horizon:
            self.horizon = horizon
            self.last = horizon - 1 if self.schedule.holds else None
            self.sched = make_torch_scheduler(self.schedule, self.sched.optimizer, horizon)
        self.seek(int(state["position"]))
        # The closed forms seek took may differ from the recursive ones in the last bits: the
        # recursive schedulers (step, cosine, linear warm-up) go on from the group's rate.
        lr, base, eta = (float(state[k]) for k in ("lr", "base", "eta"))
        for group in self.sched.optimizer.param_groups:
            group["lr"], group["initial_lr"] = lr, base
            if self.schedule.name == "one_cycle":
                for key in ("max_lr", "min_lr"):
                    group[key] = float(state[key])
                group["initial_lr"] = float(state["initial"])
        for part in [self.sched, *getattr(self.sched, "_schedulers", [])]:
            if hasattr(part, "base_lrs"):
                part.base_lrs = [base for _ in part.base_lrs]
            if hasattr(part, "eta_min"):
                part.eta_min = eta
            part._last_lr = [lr for _ in self.sched.optimizer.param_groups]

    def move_to(self, optimizer: Any) -> None:
        """Carry the scheduler, its position and scaled rates, over to a fresh optimizer."""
        old = self.sched
        self.sched = make_torch_scheduler(self.schedule, optimizer, self.horizon)
        self.sched.load_state_dict(old.state_dict())
        for new_group, old_group in zip(
            optimizer.param_groups, old.optimizer.param_groups, strict=True
        ):
            for key in ("lr", "initial_lr", "max_lr", "min_lr"):
                if key in old_group:
                    new_group[key] = old_group[key]
