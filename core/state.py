"""A run's exact state at one step, and the checkpoints a run keeps to go back to any step.

A TrainerState holds everything training reads besides the data: the parameters, the optimizer's
running state, the learning-rate schedule's running state, the position in the batch order and
the live configuration. A trainer built from
it (Trainer.from_state) continues exactly as the captured one would have, bit for bit. Every
epoch's batch order is drawn from (seed, epoch) alone (core.data.epoch_order), so the epoch and
the batch index within it are the whole position: no generator state needs keeping.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from itertools import pairwise
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from core.config import Config

if TYPE_CHECKING:
    from core.engine_base import Engine
    from core.history import History

# Checkpoints a run keeps (besides pinned ones): with the interval doubling whenever they are
# full, a run of 10^7 steps keeps one every ~2^14 steps, and going back to any step replays at
# most that many (under a second for every implementation here).
MAX_CHECKPOINTS = 1024
# Steps between checkpoints at the start of a run: one state (~1 KB) per this many steps costs
# well under 1% of the time of even the fastest steps (full-batch NumPy on three rows).
FIRST_INTERVAL = 1024


def _frozen(arrays: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
    """Read-only copies: a state is shared by branches and checkpoints, never changed."""
    out = {}
    for key, value in arrays.items():
        copy = np.array(value, dtype=np.float64)
        copy.setflags(write=False)
        out[key] = copy
    return MappingProxyType(out)


@dataclass(frozen=True, eq=False)
class TrainerState:
    """Everything a run needs to continue exactly from one step (the data aside)."""

    config: Config  # the live configuration: hyper-parameters as changed up to this step
    step: int
    epoch: int
    batch_in_epoch: int  # batches of this epoch already run (its order comes from the seed)
    theta: np.ndarray  # [w..., b] in trained units: the engine's values, exactly, as float64
    optimizer: Mapping[str, np.ndarray]  # Engine.optimizer_state(); empty for a fresh one
    # Engine.schedule_state(): where the schedule stands, its exact rates and horizon (empty
    # without a schedule, or to take the configured schedule at `step` from its closed form).
    schedule: Mapping[str, float] = field(default_factory=dict)
    first_loss: float | None = None  # what divergence is measured against
    last_batch_loss: float | None = None
    stopped_reason: str | None = None
    message: str | None = None
    seconds: float = 0.0  # time spent training so far (reported, not used to train)
    # The history up to this step, when the state was taken with it (Trainer.state(True)).
    history: History | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        theta = np.array(self.theta, dtype=np.float64)
        theta.setflags(write=False)
        object.__setattr__(self, "theta", theta)
        object.__setattr__(self, "optimizer", _frozen(self.optimizer))
        schedule = {str(k): float(v) for k, v in self.schedule.items()}
        object.__setattr__(self, "schedule", MappingProxyType(schedule))

    def with_changes(self, **changes: Any) -> TrainerState:
        """A copy with some fields replaced."""
        return replace(self, **changes)

    def same_as(self, other: TrainerState) -> bool:
        """Whether two states continue identically (configuration, position, every value)."""
        mine = (self.config, self.step, self.epoch, self.batch_in_epoch, self.first_loss)
        theirs = (other.config, other.step, other.epoch, other.batch_in_epoch, other.first_loss)
        return (
            mine == theirs
            and self.stopped_reason == other.stopped_reason
            and dict(self.schedule) == dict(other.schedule)
            and np.array_equal(self.theta, other.theta)
            and self.optimizer.keys() == other.optimizer.keys()
            and all(np.array_equal(self.optimizer[k], other.optimizer[k]) for k in self.optimizer)
        )

    def nbytes(self) -> int:
        """Bytes held by the state's arrays (the configuration is shared, not counted)."""
        return self.theta.nbytes + sum(a.nbytes for a in self.optimizer.values())


class Checkpoints:
    """Exact states of one run: its first, one after every change of settings (pinned, never
    dropped) and one every `interval` steps, thinned to at most MAX_CHECKPOINTS.

    Replaying from the nearest checkpoint at or before a step gives that step's exact state:
    between two checkpoints nothing but training happens, because every change is pinned."""

    def __init__(
        self, first: TrainerState, capacity: int = MAX_CHECKPOINTS, interval: int = FIRST_INTERVAL
    ) -> None:
        if capacity < 2 or interval < 1:
            raise ValueError(f"need capacity >= 2 and interval >= 1, got {capacity}, {interval}")
        self.capacity = capacity
        self.interval = interval
        self._states: list[TrainerState] = [first]
        self._pinned: list[bool] = [True]

    def __len__(self) -> int:
        return len(self._states)

    def __iter__(self) -> Iterator[TrainerState]:
        return iter(list(self._states))

    @property
    def first_step(self) -> int:
        """The step of the oldest checkpoint (where the run, or branch, starts)."""
        return self._states[0].step

    @property
    def last_step(self) -> int:
        """The step of the newest checkpoint."""
        return self._states[-1].step

    def pinned(self) -> list[bool]:
        """For each checkpoint, oldest first, whether it is kept for good."""
        return list(self._pinned)

    def due(self, step: int) -> bool:
        """Whether a periodic checkpoint is due at this step."""
        return step - self._states[-1].step >= self.interval

    def add(self, state: TrainerState, pinned: bool = False) -> None:
        """Keep a state; one at the same step as the newest replaces it (it comes later)."""
        if state.step < self._states[-1].step:
            raise ValueError(f"checkpoint at step {state.step} before step {self.last_step}")
        if state.step == self._states[-1].step:
            self._states[-1] = state
            self._pinned[-1] = self._pinned[-1] or pinned
            return
        self._states.append(state)
        self._pinned.append(pinned)
        if self._pinned.count(False) > self.capacity:
            self._thin()

    def _thin(self) -> None:
        """Drop every other periodic checkpoint (the newest stays) and double the interval."""
        periodic = [i for i, p in enumerate(self._pinned) if not p]
        drop = set(periodic[-2::-2])
        self._states = [s for i, s in enumerate(self._states) if i not in drop]
        self._pinned = [p for i, p in enumerate(self._pinned) if i not in drop]
        self.interval *= 2

    def nearest(self, step: int) -> TrainerState:
        """The newest checkpoint at or before step (the first one if step precedes it)."""
        best = self._states[0]
        for state in self._states:
            if state.step > step:
                break
            best = state
        return best

    def copy(self) -> Checkpoints:
        """A copy that later checkpoints do not change (the states themselves are shared)."""
        return Checkpoints.restored(self._states, self._pinned, self.capacity, self.interval)

    @classmethod
    def restored(
        cls, states: list[TrainerState], pinned: list[bool], capacity: int, interval: int
    ) -> Checkpoints:
        """Checkpoints as saved (oldest first), e.g. read back from a run file."""
        if not states or len(states) != len(pinned):
            raise ValueError("checkpoints need at least one state and one flag per state")
        if any(b.step < a.step for a, b in pairwise(states)):
            raise ValueError("checkpoint steps are not in order")
        out = cls(states[0], max(capacity, 2), max(interval, 1))
        out._states, out._pinned = list(states), [bool(p) for p in pinned]
        return out

    def memory_bytes(self) -> int:
        """Bytes held by the checkpoints' arrays."""
        return sum(s.nbytes() for s in self._states)


class Resumable(Protocol):
    """What capture_state reads of a trainer and resume sets (core.trainer.Trainer; named by
    its parts so that this module imports nothing that imports it back)."""

    config: Config
    engine: Engine
    history: History
    checkpoints: Checkpoints
    step_count: int
    epoch: int
    batch_in_epoch: int
    n_batches: int
    first_loss: float | None
    last_batch_loss: float | None
    stopped_reason: str | None
    message: str | None
    seconds: float
    schedule_horizon: int
    _last_theta: np.ndarray
    _fresh_engine: bool

    def theta(self) -> np.ndarray: ...

    def _order(self, epoch: int) -> np.ndarray | None: ...


def capture_state(trainer: Resumable, with_history: bool = False) -> TrainerState:
    """A trainer's exact state now (Trainer.state)."""
    from core.history import History

    return TrainerState(
        config=trainer.config,
        step=trainer.step_count,
        epoch=trainer.epoch,
        batch_in_epoch=trainer.batch_in_epoch,
        theta=trainer.theta(),
        optimizer=trainer.engine.optimizer_state(),
        schedule=trainer.engine.schedule_state(),
        first_loss=trainer.first_loss,
        last_batch_loss=trainer.last_batch_loss,
        stopped_reason=trainer.stopped_reason,
        message=trainer.message,
        seconds=trainer.seconds,
        history=History.from_state(trainer.history.to_state()) if with_history else None,
    )


def resume(trainer: Resumable, state: TrainerState, history: History | None = None) -> None:
    """Put a trainer just built on the state's configuration and parameters where the state
    stood: optimizer state, position, bookkeeping and history (Trainer.from_state)."""
    from core.history import History

    trainer.engine.load_optimizer_state(state.optimizer)
    if state.schedule:
        trainer.engine.load_schedule_state(state.schedule)
        trainer.schedule_horizon = int(state.schedule["horizon"])
    else:
        # A schedule that kept no running state (a version 1 run file, a branch that changed
        # the schedule) stands where its closed form puts it after state.step steps.
        trainer.engine.seek_schedule(state.step)
    trainer.step_count, trainer.epoch = state.step, state.epoch
    # A position past this run's epoch (a branch with a larger batch size) cannot continue
    # mid-epoch: the epoch starts again.
    position = state.batch_in_epoch
    trainer.batch_in_epoch = position if position < trainer.n_batches else 0
    trainer.first_loss, trainer.last_batch_loss = state.first_loss, state.last_batch_loss
    trainer.stopped_reason, trainer.message = state.stopped_reason, state.message
    trainer.seconds = state.seconds
    trainer._last_theta = np.array(state.theta, dtype=np.float64)
    if history is not None:
        trainer.history = history
    elif state.history is not None:
        trainer.history = History.from_state(state.history.to_state())
    else:
        trainer.history.clear()
    if trainer.batch_in_epoch and trainer.n_batches > 1:
        # Mid-epoch: the engine needs this epoch's batch order before the next step.
        trainer.engine.begin_epoch(trainer._order(trainer.epoch))
        trainer._fresh_engine = False
    trainer.checkpoints = Checkpoints(capture_state(trainer))
