"""The interface every implementation steps behind: what an engine is told and what it does.

core.engines holds the three implementations (and re-exports these names).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from core.optim import Hyper
from core.schedules import Rates, Schedule, TorchRates


@dataclass
class EngineSpec:
    """What an engine needs to know besides the data and the initial parameters."""

    optimizer: str
    hyper: Hyper
    fit_bias: bool = True
    loss_scale: float = 1.0  # 1 for mse, 0.5 for half_mse (the seeds' squared_loss)
    l2_penalty: float = 0.0
    dtype: str = "float32"
    device: str = "cpu"  # resolved: "cpu" or "cuda" (resolve_device); numpy ignores it
    schedule: Schedule | None = None  # None or constant: every step uses hyper.lr
    horizon: int = 1  # the run's total steps, over which cosine-like schedules run


class Engine(ABC):
    """Runs minibatch steps over an epoch order; parameters are [w..., b] in trained units."""

    name = "engine"

    def __init__(self, x: np.ndarray, y: np.ndarray, theta0: np.ndarray, spec: EngineSpec) -> None:
        self.spec = spec
        self.n, self.d = x.shape
        self._order: np.ndarray | None = None
        schedule = spec.schedule
        self.schedule = None if schedule is None or schedule.constant else schedule
        # The schedule's rate step by step (Rates or TorchRates); None: always hyper.lr.
        self.rates: Rates | TorchRates | None = None

    @abstractmethod
    def begin_epoch(self, order: np.ndarray | None) -> None:
        """Prepare the rows of one epoch in the given order (None: natural order)."""

    @abstractmethod
    def run(
        self,
        start: int,
        count: int,
        batch_size: int,
        losses: np.ndarray,
        params: np.ndarray,
        rates: np.ndarray | None = None,
    ) -> None:
        """Run `count` minibatches from batch index `start`; fill losses[:count], params[:count]
        and, if given, rates[:count] with the learning rate each step used."""

    def next_lr(self) -> float:
        """The learning rate the next step uses."""
        return self.spec.hyper.lr if self.rates is None else self.rates.lr

    def seek_schedule(self, position: int) -> None:
        """Stand the schedule where it is after `position` steps (a rollback, a reopened run)."""
        if self.rates is not None:
            self.rates.seek(position)

    def schedule_state(self) -> dict[str, float]:
        """The schedule's running state, one layout for every engine (core.schedules: its
        position, the next rate, the scaled base rates, the horizon); {} without a schedule."""
        return {} if self.rates is None else self.rates.state()

    def load_schedule_state(self, state: Mapping[str, float]) -> None:
        """Continue the schedule exactly from schedule_state's values ({}: leave it as it is)."""
        # The hand-written engines hand each step its rate from self.rates as it runs.
        if self.rates is not None and state:
            self.rates.load_state(state)

    def _rescheduled(self, hyper: Hyper) -> Hyper:
        """Take new hyper-parameters: a new lr scales the schedule. Return them with the lr
        the next step uses."""
        old, self.spec.hyper = self.spec.hyper, hyper
        if self.rates is None:
            return hyper
        self.rates.scale(hyper.lr / old.lr)
        return replace(hyper, lr=self.rates.lr)

    @abstractmethod
    def params(self) -> np.ndarray:
        """Current [w..., b] as a float64 copy (b is 0 without a bias)."""

    @abstractmethod
    def set_params(self, theta: np.ndarray) -> None:
        """Overwrite the parameters with [w..., b]."""

    @abstractmethod
    def set_hyper(self, hyper: Hyper) -> None:
        """Change optimizer hyper-parameters, keeping the optimizer's state."""

    @abstractmethod
    def reset_optimizer(self) -> None:
        """Forget the optimizer's state (momentum, moments)."""

    @abstractmethod
    def optimizer_state(self) -> dict[str, np.ndarray]:
        """The optimizer's running state, the same layout for every engine: "step" a float64
        scalar, each other name a float64 [w..., b] vector (exact copies; b 0 without a bias)."""

    @abstractmethod
    def load_optimizer_state(self, state: Mapping[str, np.ndarray]) -> None:
        """Continue from a running state as optimizer_state gives it ({}: start afresh)."""
