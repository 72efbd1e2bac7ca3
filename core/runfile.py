"""Saving a whole run (every branch: configuration, history, exact state) and reopening it.

A run file is an .npz archive (no pickles). Version 2 keeps each branch's own records, its exact
state where it stands (parameters, optimizer state, the schedule's running state, batch
position) and its checkpoints, so a
reopened run continues exactly as if it had never stopped and can still branch at any step.
Version 1 files (configuration, history, parameters) still open; their optimizer state, which
they did not keep, starts afresh, and a schedule stands where its closed form puts it.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.branch_history import BranchHistory
from core.config import Config
from core.data import make_dataset
from core.errors import ConfigError, DataError
from core.files import atomic_write_bytes
from core.history import History
from core.state import Checkpoints, TrainerState

if TYPE_CHECKING:  # the window imports this module before torch has loaded
    from core.branches import RunTree
    from core.trainer import Trainer

FORMAT = "linreg-viz run"
VERSION = 2
READABLE_VERSIONS = (1, 2)
SUFFIX = ".lrrun"


class RunFileError(DataError):
    """A run file that cannot be read: named, with the reason."""


@dataclass(frozen=True)
class SavedBranch:
    """One branch as saved: where it forks, its own records, its exact state and checkpoints."""

    id: int
    name: str
    parent: int | None
    fork_step: int
    note: str
    own_history: Mapping[str, Any]  # History.to_state() of the branch's own records
    tip: TrainerState
    checkpoints: Checkpoints


@dataclass(frozen=True)
class SavedRun:
    """A run as saved: the active branch's live configuration, whole history and position
    (what a viewer needs), and every branch (empty for version 1 files)."""

    config: Config
    history: History
    theta: np.ndarray  # [w..., b] in trained units
    step: int
    epoch: int
    batch_in_epoch: int
    stopped_reason: str | None
    branches: tuple[SavedBranch, ...] = ()
    active: int = 0

    @property
    def exact(self) -> bool:
        """Whether the file kept the optimizer's state (continuing it is exact)."""
        return bool(self.branches)


def capture(source: Trainer | RunTree) -> SavedRun:
    """What a run file keeps of a trainer, or of a tree of branches (copies)."""
    from core.branches import RunTree

    tree = source if isinstance(source, RunTree) else RunTree(source)  # a tree of one branch
    branches = []
    for b in tree.branches():
        forked = b.parent is not None and isinstance(b.history, BranchHistory)
        own = b.history.own_state() if forked else None
        cps = b.checkpoints
        branches.append(
            SavedBranch(
                id=b.id,
                name=b.name,
                parent=b.parent,
                fork_step=b.fork_step,
                note=b.note,
                own_history=own if own is not None else b.history.to_state(),
                tip=b.tip,
                checkpoints=Checkpoints.restored(
                    list(cps), cps.pinned(), cps.capacity, cps.interval
                ),
            )
        )
    tip = tree.active.tip
    return SavedRun(
        config=tip.config,
        history=History.from_state(tree.active.history.to_state()),
        theta=np.array(tip.theta),
        step=tip.step,
        epoch=tip.epoch,
        batch_in_epoch=tip.batch_in_epoch,
        stopped_reason=tip.stopped_reason,
        branches=tuple(branches),
        active=tree.active.id,
    )


# ---- writing ---------------------------------------------------------------------------
class _Writer:
    """Collects arrays and JSON metadata; configurations are stored once each."""

    def __init__(self) -> None:
        self.arrays: dict[str, Any] = {}
        self.configs: list[dict[str, Any]] = []
        self._config_index: dict[str, int] = {}

    def config(self, config: Config) -> int:
        key = config.to_json()
        if key not in self._config_index:
            self._config_index[key] = len(self.configs)
            self.configs.append(config.to_dict())
        return self._config_index[key]

    def state(self, state: TrainerState) -> dict[str, Any]:
        """A state's scalars as JSON (its arrays go in stacked, see states)."""
        return {
            "config": self.config(state.config),
            "step": state.step,
            "epoch": state.epoch,
            "batch_in_epoch": state.batch_in_epoch,
            "first_loss": state.first_loss,
            "last_batch_loss": state.last_batch_loss,
            "stopped_reason": state.stopped_reason,
            "message": state.message,
            "seconds": state.seconds,
            "optimizer": sorted(state.optimizer),
            # A handful of floats: JSON writes them by repr, which reads back exactly.
            "schedule": dict(state.schedule),
        }

    def states(self, prefix: str, states: list[TrainerState]) -> list[dict[str, Any]]:
        """States as one stacked array per field: theta, and each optimizer name (NaN where a
        state has none)."""
        self.arrays[f"{prefix}_theta"] = np.stack([s.theta for s in states])
        keys = sorted({k for s in states for k in s.optimizer})
        for key in keys:
            shape = next(s.optimizer[key].shape for s in states if key in s.optimizer)
            stacked = np.full((len(states), *shape), np.nan)
            for i, s in enumerate(states):
                if key in s.optimizer:
                    stacked[i] = s.optimizer[key]
            self.arrays[f"{prefix}_opt_{key}"] = stacked
        return [self.state(s) for s in states]


def save_run(run: SavedRun, path: str | Path) -> Path:
    """Write a run file (an .npz archive, no pickles) atomically."""
    if not run.branches:
        raise ValueError("save_run needs a captured run (capture), not a version 1 file's")
    writer = _Writer()
    saved = []
    for b in run.branches:
        cps = list(b.checkpoints)
        saved.append(
            {
                "id": b.id,
                "name": b.name,
                "parent": b.parent,
                "fork_step": b.fork_step,
                "note": b.note,
                "tip": writer.states(f"b{b.id}_tip", [b.tip])[0],
                "checkpoints": writer.states(f"b{b.id}_cp", cps),
                "pinned": b.checkpoints.pinned(),
                "capacity": b.checkpoints.capacity,
                "interval": b.checkpoints.interval,
            }
        )
        for key, value in b.own_history.items():
            writer.arrays[f"b{b.id}_history_{key}"] = np.asarray(value)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "config": run.config.to_dict(),
        "step": run.step,
        "epoch": run.epoch,
        "batch_in_epoch": run.batch_in_epoch,
        "stopped_reason": run.stopped_reason,
        "active": run.active,
        "configs": writer.configs,
        "branches": saved,
    }
    arrays = {"meta": np.array(json.dumps(meta)), "theta": run.theta, **writer.arrays}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    path = Path(path)
    atomic_write_bytes(path, buffer.getvalue())
    return path


# ---- reading ---------------------------------------------------------------------------
def load_run(path: str | Path) -> SavedRun:
    """Read a run file; a file that is not one, or is damaged, raises RunFileError."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            meta = json.loads(str(archive["meta"][()]))
            if meta.get("format") != FORMAT:
                raise RunFileError(f"{path}: not a linreg-viz run file")
            if meta.get("version") not in READABLE_VERSIONS:
                raise RunFileError(f"{path}: run file version {meta.get('version')} is unknown")
            arrays = {key: archive[key] for key in archive.files}
        run = _read_v1(meta, arrays) if meta["version"] == 1 else _read_v2(meta, arrays)
    except RunFileError:
        raise
    except ConfigError as exc:
        raise RunFileError(f"{path}: its configuration is invalid: {exc}") from None
    except OSError as exc:
        raise RunFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError, IndexError, zipfile.BadZipFile) as exc:
        # json.JSONDecodeError is a ValueError.
        raise RunFileError(f"{path}: not a readable run file ({exc})") from None
    if run.theta.shape != (run.history.n_params,) or run.step != run.history.last_step:
        raise RunFileError(f"{path}: parameters and history do not agree")
    return run


def _history(arrays: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    return {k.removeprefix(prefix): v for k, v in arrays.items() if k.startswith(prefix)}


def _read_v1(meta: dict[str, Any], arrays: Mapping[str, Any]) -> SavedRun:
    return SavedRun(
        config=Config.from_dict(meta["config"]),
        history=History.from_state(_history(arrays, "history_")),
        theta=np.asarray(arrays["theta"], dtype=np.float64),
        step=int(meta["step"]),
        epoch=int(meta["epoch"]),
        batch_in_epoch=int(meta["batch_in_epoch"]),
        stopped_reason=meta.get("stopped_reason"),
    )


def _read_states(
    items: list[dict[str, Any]], prefix: str, arrays: Mapping[str, Any], configs: list[Config]
) -> list[TrainerState]:
    thetas = np.asarray(arrays[f"{prefix}_theta"], dtype=np.float64)
    if thetas.shape[0] != len(items):
        raise ValueError(f"{prefix} has {thetas.shape[0]} states for {len(items)} records")
    out = []
    for i, item in enumerate(items):
        optimizer = {
            key: np.asarray(arrays[f"{prefix}_opt_{key}"][i], dtype=np.float64)
            for key in item["optimizer"]
        }
        out.append(
            TrainerState(
                config=configs[int(item["config"])],
                step=int(item["step"]),
                epoch=int(item["epoch"]),
                batch_in_epoch=int(item["batch_in_epoch"]),
                theta=thetas[i],
                optimizer=optimizer,
                first_loss=_float(item["first_loss"]),
                last_batch_loss=_float(item["last_batch_loss"]),
                stopped_reason=item["stopped_reason"],
                message=item["message"],
                seconds=float(item["seconds"]),
                # Files written before schedules kept none: the closed form at the step.
                schedule=item.get("schedule") or {},
            )
        )
    return out


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _read_v2(meta: dict[str, Any], arrays: Mapping[str, Any]) -> SavedRun:
    configs = [Config.from_dict(c) for c in meta["configs"]]
    branches: list[SavedBranch] = []
    histories: dict[int, History] = {}
    for item in meta["branches"]:
        bid = int(item["id"])
        prefix = f"b{bid}"
        tip = _read_states([item["tip"]], f"{prefix}_tip", arrays, configs)[0]
        states = _read_states(item["checkpoints"], f"{prefix}_cp", arrays, configs)
        checkpoints = Checkpoints.restored(
            states, item["pinned"], int(item["capacity"]), int(item["interval"])
        )
        own = _history(arrays, f"{prefix}_history_")
        parent = item["parent"]
        if parent is None:
            histories[bid] = History.from_state(own)
        else:
            if int(parent) not in histories:
                raise ValueError(f"branch {bid} comes before its parent {parent}")
            histories[bid] = BranchHistory.from_own_state(
                histories[int(parent)], int(item["fork_step"]), own
            )
        branches.append(
            SavedBranch(
                id=bid,
                name=str(item["name"]),
                parent=None if parent is None else int(parent),
                fork_step=int(item["fork_step"]),
                note=str(item["note"]),
                own_history=own,
                tip=tip,
                checkpoints=checkpoints,
            )
        )
    active = int(meta["active"])
    if active not in histories:
        raise ValueError(f"the active branch {active} is missing")
    tip = next(b.tip for b in branches if b.id == active)
    return SavedRun(
        config=tip.config,
        history=History.from_state(histories[active].to_state()),
        theta=np.array(tip.theta),
        step=tip.step,
        epoch=tip.epoch,
        batch_in_epoch=tip.batch_in_epoch,
        stopped_reason=tip.stopped_reason,
        branches=tuple(branches),
        active=active,
    )


# ---- continuing --------------------------------------------------------------------------
def restore_tree(run: SavedRun) -> RunTree:
    """The saved run's branches, its active one ready to continue exactly where it stood.

    The data is rebuilt from the configuration (its seed, or its CSV file)."""
    from core.branches import Branch, RunTree
    from core.trainer import Trainer

    if not run.branches:
        return RunTree(_restore_v1(run))
    histories: dict[int, History] = {}
    branches = []
    for saved in run.branches:
        if saved.parent is None:
            history: History = History.from_state(saved.own_history)
        else:
            history = BranchHistory.from_own_state(
                histories[saved.parent], saved.fork_step, saved.own_history
            )
        histories[saved.id] = history
        cps = saved.checkpoints
        branches.append(
            Branch(
                id=saved.id,
                name=saved.name,
                parent=saved.parent,
                fork_step=saved.fork_step,
                history=history,
                checkpoints=Checkpoints.restored(
                    list(cps), cps.pinned(), cps.capacity, cps.interval
                ),
                tip=saved.tip,
                note=saved.note,
            )
        )
    active = next(b for b in branches if b.id == run.active)
    config = active.tip.config
    dataset = make_dataset(config.data, dtype=config.model.dtype)
    _check_features(dataset.n_features, run.history.n_params)
    trainer = Trainer.from_state(active.tip, dataset, active.history)
    return RunTree.restored(trainer, branches, run.active)


def _check_features(n_features: int, n_params: int) -> None:
    if n_features + 1 != n_params:
        raise RunFileError("the saved run's data no longer has the same features")


def restore(run: SavedRun) -> Trainer:
    """A trainer standing where the saved run's active branch stood, ready to continue: exactly
    (optimizer state and batch position included) for version 2 files; version 1 files kept
    no optimizer state, which starts afresh, as after a live optimizer change."""
    return restore_tree(run).trainer


def _restore_v1(run: SavedRun) -> Trainer:
    """A version 1 run file's trainer (its optimizer state starts afresh)."""
    from core.trainer import Trainer

    dataset = make_dataset(run.config.data, dtype=run.config.model.dtype)
    _check_features(dataset.n_features, run.history.n_params)
    steps, losses, _ = run.history.steps()
    epoch_seconds = run.history.epochs()["seconds"]
    state = TrainerState(
        config=run.config,
        step=run.step,
        epoch=run.epoch,
        batch_in_epoch=run.batch_in_epoch,
        theta=run.theta,
        optimizer={},
        first_loss=float(losses[1]) if steps.size > 1 else None,
        last_batch_loss=float(losses[-1]) if steps.size > 1 else None,
        stopped_reason=run.stopped_reason,
        seconds=float(epoch_seconds[-1]) if epoch_seconds.size else 0.0,
    )
    return Trainer.from_state(state, dataset, History.from_state(run.history.to_state()))
