"""Branches of a run: go back to any recorded step, change settings, and train on from there.

A RunTree owns the branches of one run and the trainer of the active one. Forking at step k
takes the exact state at k (the nearest checkpoint, replayed forward: the data and every epoch's
batch order are fixed by the seed), so a branch that changes nothing repeats its parent bit for
bit, and a branch with a new learning rate is the run that changed it live at k. A branch's
history reads its parent's records up to k through a BranchHistory: nothing is copied.

The tree is not thread-safe: the training thread owns it (as it owns a trainer) and hands
copies (series, SavedRun) to the window.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.branch_history import BranchHistory
from core.config import Config
from core.data import Dataset, make_dataset
from core.errors import ConfigError, UserInputError, one_line
from core.history import History
from core.schedules import Schedule
from core.state import Checkpoints, TrainerState
from core.trainer import Trainer

# Settings a live change applies to a running trainer (Trainer.set_hyper's names).
HYPER_KEYS = {
    "train.lr": "lr",
    "train.momentum": "momentum",
    "train.weight_decay": "weight_decay",
}
# A branch continues the run's data from the parameters it had: these cannot change.
FIXED_PREFIXES = ("data.", "model.fit_bias", "model.init")
# Settings whose change makes the batch position meaningless: the branch restarts its epoch.
ORDER_KEYS = ("train.batch_size", "train.shuffle")
MAX_NAME_CHARS = 60
# Records per replay history: a replay only needs the state it ends in.
_REPLAY_HISTORY_BYTES = 1 << 16


class BranchError(UserInputError):
    """A branch operation that cannot be done (unknown branch, step out of reach, ...)."""


@dataclass
class Branch:
    """One line of training: its name, where it forks from, its history and exact states."""

    id: int
    name: str
    parent: int | None  # the branch it forks from; None for the run's first branch
    fork_step: int  # steps up to this one are the parent's (0 for the first branch)
    history: History  # the whole branch from step 0 (a BranchHistory for a fork)
    checkpoints: Checkpoints  # exact states from the fork on (the trainer's, while active)
    tip: TrainerState  # where the branch stands (kept current for the active one on demand)
    note: str = ""  # what the fork changed, e.g. "lr 0.03 -> 0.1"


class RunTree:
    """The branches of one run, one of them active (its trainer is the one that trains)."""

    def __init__(self, trainer: Trainer, name: str = "main") -> None:
        """A tree of one branch: the trainer's run."""
        self._trainer = trainer
        self._datasets: dict[str, Dataset] = {}
        self._data_of: dict[str, Any] = {}  # the data configuration of each dataset kept
        root = Branch(0, name, None, 0, trainer.history, trainer.checkpoints, trainer.state())
        self._branches: dict[int, Branch] = {0: root}
        self._active = 0
        self._next_id = 1

    @classmethod
    def restored(cls, trainer: Trainer, branches: list[Branch], active: int) -> RunTree:
        """A tree from saved branches (parents first) whose active one trainer continues."""
        tree = cls.__new__(cls)
        tree._trainer = trainer
        tree._datasets, tree._data_of = {}, {}
        tree._branches = {b.id: b for b in branches}
        if active not in tree._branches or branches[0].parent is not None:
            raise ValueError("saved branches need a first branch and an active one among them")
        tree._active = active
        tree._next_id = max(tree._branches) + 1
        trainer.history = tree._branches[active].history
        trainer.checkpoints = tree._branches[active].checkpoints
        return tree

    # ---- reading -------------------------------------------------------------------
    @property
    def trainer(self) -> Trainer:
        """The active branch's trainer."""
        return self._trainer

    @property
    def active(self) -> Branch:
        """The branch being trained."""
        return self._branches[self._active]

    def branches(self) -> list[Branch]:
        """Every branch, oldest first (the tips of inactive ones as they stand)."""
        self.sync()
        return list(self._branches.values())

    def get(self, branch_id: int) -> Branch:
        """The branch with this id."""
        try:
            return self._branches[branch_id]
        except KeyError:
            raise BranchError(f"there is no branch {branch_id}") from None

    def children(self, branch_id: int) -> list[Branch]:
        """Branches forked from this one."""
        return [b for b in self._branches.values() if b.parent == branch_id]

    def descendants(self, branch_id: int) -> list[Branch]:
        """Branches forked from this one, from those, and so on."""
        out, todo = [], [branch_id]
        while todo:
            kids = self.children(todo.pop())
            out += kids
            todo += [k.id for k in kids]
        return out

    def last_step(self, branch_id: int) -> int:
        """The newest step of a branch."""
        branch = self.get(branch_id)
        return self._trainer.step_count if branch.id == self._active else branch.tip.step

    def series(
        self, branch_id: int, max_points: int = 2000
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Copies of a branch's (steps, losses, params) in at most max_points points, drawn as
        the run's own curves are (History.series), for drawing (its ghost)."""
        return self.get(branch_id).history.series(max_points)

    def sync(self) -> None:
        """Bring the active branch's tip and checkpoints up to date with its trainer."""
        branch = self.active
        branch.tip = self._trainer.state()
        branch.checkpoints = self._trainer.checkpoints
        branch.history = self._trainer.history

    def memory_bytes(self) -> int:
        """Bytes held by the branches' own records and checkpoints (shared parts once)."""
        self.sync()
        return sum(
            b.history.memory_bytes() + b.checkpoints.memory_bytes() + b.tip.nbytes()
            for b in self._branches.values()
        )

    # ---- exact states ----------------------------------------------------------------
    def _owner(self, branch: Branch, step: int) -> Branch:
        """The branch whose own records hold step on branch's line (its fork step included)."""
        while branch.parent is not None and step < branch.fork_step:
            branch = self._branches[branch.parent]
        return branch

    def state_at(self, step: int, branch_id: int | None = None) -> TrainerState:
        """The exact state of a branch (the active one by default) after step."""
        branch = self.get(self._active if branch_id is None else branch_id)
        last = self.last_step(branch.id)
        if not 0 <= step <= last:
            raise BranchError(f"step {step} is not on branch {branch.name!r} (steps 0 to {last})")
        owner = self._owner(branch, step)
        # A branch's newest step is its tip: after all that happened there (a divergence
        # rolled back, a change), which a replay to that step would not repeat.
        if owner.id == self._active and step == self._trainer.step_count:
            return self._trainer.state()
        if owner.id != self._active and step == owner.tip.step:
            return owner.tip
        checkpoints = self._trainer.checkpoints if owner.id == self._active else owner.checkpoints
        start = checkpoints.nearest(step)
        if start.step > step:
            # Only a run reopened from a file that kept no states (version 1) starts this way.
            raise BranchError(
                f"there is no exact state before step {start.step} on branch {owner.name!r}"
                " (its run file kept none): branch from there on"
            )
        if start.step == step:
            return start
        # Replay from the checkpoint: training is all that happens between two checkpoints.
        names = self._trainer.history.param_names
        probe = History(len(names), names, _REPLAY_HISTORY_BYTES)
        replay = Trainer.from_state(start, self._dataset(start.config), probe)
        while replay.step_count < step:
            if replay.run_steps(step - replay.step_count) == 0:
                raise BranchError(
                    f"replaying branch {owner.name!r} stopped at step {replay.step_count}"
                    f" before step {step}"
                )
        return replay.state()

    def _dataset(self, config: Config) -> Dataset:
        """The run's data in the configuration's precision (each built once); data changed
        under the run (core.live_data) is built again as it stood for a state before."""
        dtype = config.model.dtype
        mine = self._trainer.config
        if mine.model.dtype == dtype and mine.data == config.data:
            return self._trainer.dataset
        known = self._datasets.get(dtype)
        # The active trainer's data may have moved since it was kept (it moves in place).
        stale = known is self._trainer.dataset or self._data_of.get(dtype) != config.data
        if known is None or stale:
            known = self._datasets[dtype] = make_dataset(config.data, dtype=dtype)
            self._data_of[dtype] = config.data
        return known

    def _set_trainer(self, trainer: Trainer) -> None:
        """Make trainer the active one, keeping the data of the one it replaces."""
        old = self._trainer
        self._datasets[old.config.model.dtype] = old.dataset
        self._data_of[old.config.model.dtype] = old.config.data
        self._trainer = trainer

    def continue_with(self, trainer: Trainer) -> None:
        """Let trainer carry the active branch on (its data rebuilt under the run)."""
        self._set_trainer(trainer)
        self.sync()

    # ---- changing the tree -------------------------------------------------------------
    def fork(
        self,
        step: int,
        changes: Mapping[str, Any] | None = None,
        name: str | None = None,
        branch_id: int | None = None,
    ) -> Trainer:
        """Start a branch after step of a branch (the active one by default) with some settings
        changed ({"train.lr": 0.1}); it becomes the active branch. Returns its trainer."""
        source = self.get(self._active if branch_id is None else branch_id)
        changes = dict(changes or {})
        _check_changes(changes)
        state = self.state_at(step, source.id)
        owner = self._owner(source, step)
        self.sync()
        history = BranchHistory(owner.history, step)
        trainer, note = self._continued(state, changes, history)
        branch = Branch(
            id=self._next_id,
            name=self._unique(name or f"{note or 'copy'} from step {step}"),
            parent=owner.id,
            fork_step=step,
            history=history,
            checkpoints=trainer.checkpoints,
            tip=trainer.state(),
            note=note,
        )
        self._next_id += 1
        self._branches[branch.id] = branch
        self._active = branch.id
        self._set_trainer(trainer)
        return trainer

    def change(self, changes: Mapping[str, Any]) -> Trainer:
        """Go on with the active branch from where it stands with some settings changed (a
        setup change mid-run: the same parameters; a new optimizer starts with fresh state);
        the branch keeps its name, history and earlier states. Returns its new trainer (the
        same one when nothing differs)."""
        changes = dict(changes)
        _check_changes(changes)
        old = self._trainer
        # Only what differs (a drag that ends where it began changes nothing, and says so).
        changes = changes_between(old.config, old.config.with_values(changes))
        if not changes:
            return old
        trainer, _ = self._continued(old.state(), changes, old.history)
        # Earlier exact states stay reachable: the change is pinned after them.
        checkpoints = old.checkpoints
        checkpoints.add(trainer.state(), pinned=True)
        trainer.checkpoints = checkpoints
        self._trainer = trainer
        self.sync()
        return trainer

    def _continued(
        self, state: TrainerState, changes: dict[str, Any], history: History
    ) -> tuple[Trainer, str]:
        """A trainer going on from state with changes, recording into history (the change
        noted in it); and what changed, in words."""
        step = state.step
        config = state.config.with_values(changes) if changes else state.config  # validated
        rebuilt = {k for k in changes if k not in HYPER_KEYS} - {"train.betas", "train.epochs"}
        note = _describe(state.config, config)
        if rebuilt:
            # The configuration as changed, all at once (its rules may span several keys).
            trainer = self._rebuilt(state, config, rebuilt, history)
            trainer.history.record_event(step, note)
            return trainer, note
        trainer = Trainer.from_state(state, self._dataset(state.config), history)
        live = {HYPER_KEYS[k]: v for k, v in changes.items() if k in HYPER_KEYS}
        if "train.betas" in changes:
            live["beta1"], live["beta2"] = config.train.betas
        if live:
            trainer.set_hyper(**live)  # exactly a live change at this step, noted by it
        if config.train.epochs != trainer.config.train.epochs:
            trainer.extend_epochs(config.train.epochs)
            trainer.history.record_event(step, _describe(state.config, config, skip=live))
        return trainer, note

    def _rebuilt(
        self, state: TrainerState, config: Config, keys: set[str], history: History
    ) -> Trainer:
        """A trainer on a changed configuration going on from state: the same parameters; the
        optimizer's running state if it is the same optimizer (in any implementation or
        precision); the schedule's running state if the schedule and the rate are the same
        (else the new schedule stands where its closed form puts it at the fork); the batch
        position unless the batch size or the order changed."""
        same_optimizer = config.train.optimizer == state.config.train.optimizer
        old, new = state.config.train, config.train
        same_schedule = (new.schedule, new.lr) == (old.schedule, old.lr)
        diverged = state.stopped_reason == "diverged"
        start = state.with_changes(
            config=config,
            optimizer=state.optimizer if same_optimizer else {},
            schedule=state.schedule if same_schedule else {},
            batch_in_epoch=0 if keys & set(ORDER_KEYS) else state.batch_in_epoch,
            # New settings are the fix a divergence asks for, as a live change is.
            stopped_reason=None if diverged else state.stopped_reason,
            message=None if diverged else state.message,
            first_loss=None if diverged else state.first_loss,
            history=None,
        )
        trainer = Trainer.from_state(start, self._dataset(config), history)
        if trainer.stopped_reason == "completed" and not trainer.done:
            trainer.stopped_reason = None
        return trainer

    def switch(self, branch_id: int) -> Trainer:
        """Make a branch the active one, standing where it stood; returns its trainer."""
        target = self.get(branch_id)
        if target.id == self._active:
            return self._trainer
        self.sync()
        trainer = Trainer.from_state(target.tip, self._dataset(target.tip.config), target.history)
        trainer.checkpoints = target.checkpoints
        self._active = target.id
        self._set_trainer(trainer)
        return trainer

    def rename(self, branch_id: int, name: str) -> None:
        """Give a branch a new name (one line, not empty, not another branch's)."""
        branch = self.get(branch_id)
        clean = one_line(str(name).strip())
        if not clean:
            raise BranchError("a branch name cannot be empty")
        if len(clean) > MAX_NAME_CHARS:
            raise BranchError(f"a branch name has at most {MAX_NAME_CHARS} characters")
        if any(b.name == clean and b.id != branch.id for b in self._branches.values()):
            raise BranchError(f"there is already a branch named {clean!r}")
        branch.name = clean

    def delete(self, branch_id: int) -> list[int]:
        """Delete a branch and every branch forked from it (their histories read its records);
        the first branch stays. The active branch, if deleted, becomes the deleted one's
        parent. Returns the deleted ids."""
        branch = self.get(branch_id)
        if branch.parent is None:
            raise BranchError("the run's first branch cannot be deleted")
        gone = [branch.id, *(b.id for b in self.descendants(branch.id))]
        if self._active in gone:
            self.switch(branch.parent)
        for key in gone:
            del self._branches[key]
        return gone

    def _unique(self, name: str) -> str:
        """name, or name (2), (3)... if a branch has it."""
        name = one_line(name.strip())[:MAX_NAME_CHARS] or "branch"
        taken = {b.name for b in self._branches.values()}
        candidate, k = name, 2
        while candidate in taken:
            candidate, k = f"{name} ({k})", k + 1
        return candidate


def _check_changes(changes: Mapping[str, Any]) -> None:
    """Refuse changes a run cannot go on with (its data and starting point)."""
    for key in changes:
        if key.startswith(FIXED_PREFIXES):
            raise ConfigError(
                f"{one_line(key)} cannot change in a branch: a branch goes on from the run's"
                " data and parameters (change it and reset to start a new run)"
            )


def continues(keys: Iterable[str]) -> bool:
    """Whether a change of these settings can go on from the run's current parameters."""
    return not any(key.startswith(FIXED_PREFIXES) for key in keys)


def changes_between(old: Config, new: Config) -> dict[str, Any]:
    """The settings (dotted keys) a branch can change that differ from old to new."""
    out = {}
    for section in ("train", "model"):
        a, b = getattr(old, section), getattr(new, section)
        for key, value in vars(b).items():
            dotted = f"{section}.{key}"
            if getattr(a, key) != value and continues([dotted]):
                out[dotted] = value
    return out


def _describe(old: Config, new: Config, skip: Mapping[str, Any] | None = None) -> str:
    """What changed between two configurations, e.g. "lr 0.03 -> 0.1, batch_size 10 -> 32"
    (leaving out the keys of skip, beta1 and beta2 standing for betas)."""
    skipped = set(skip or ())
    if skipped & {"beta1", "beta2"}:
        skipped.add("betas")
    parts = []
    for section in ("train", "model"):
        a, b = getattr(old, section), getattr(new, section)
        for key, value in vars(b).items():
            before = getattr(a, key)
            if before != value and key not in skipped:
                parts.append(f"{key} {_show(before)} -> {_show(value)}")
    return ", ".join(parts)


def _show(value: Any) -> str:
    if isinstance(value, Schedule):  # e.g. cosine(lr_min=0.001)
        params = ", ".join(f"{k}={_show(v)}" for k, v in value.params)
        return f"{value.name}({params})" if params else value.name
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)
