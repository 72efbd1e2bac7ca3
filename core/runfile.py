"""Saving a whole run (configuration, history, where it stands) and reopening it later."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.config import Config
from core.errors import ConfigError, DataError
from core.files import atomic_write_bytes
from core.history import History

if TYPE_CHECKING:  # the window imports this module before torch has loaded
    from core.trainer import Trainer

FORMAT = "linreg-viz run"
VERSION = 1
SUFFIX = ".lrrun"
# Optimizers whose state (velocity, moments) a reopened run starts afresh.
STATEFUL = ("momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad")


class RunFileError(DataError):
    """A run file that cannot be read: named, with the reason."""


@dataclass(frozen=True)
class SavedRun:
    """A run as saved: its live configuration, history and position."""

    config: Config
    history: History
    theta: np.ndarray  # [w..., b] in trained units
    step: int
    epoch: int
    batch_in_epoch: int
    stopped_reason: str | None


def capture(trainer: Trainer) -> SavedRun:
    """What a run file keeps of a trainer (copies)."""
    return SavedRun(
        config=trainer.config,
        history=History.from_state(trainer.history.to_state()),
        theta=trainer.theta(),
        step=trainer.step_count,
        epoch=trainer.epoch,
        batch_in_epoch=trainer.batch_in_epoch,
        stopped_reason=trainer.stopped_reason,
    )


def save_run(run: SavedRun, path: str | Path) -> Path:
    """Write a run file (an .npz archive, no pickles) atomically."""
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "config": run.config.to_dict(),
        "step": run.step,
        "epoch": run.epoch,
        "batch_in_epoch": run.batch_in_epoch,
        "stopped_reason": run.stopped_reason,
    }
    arrays: dict[str, Any] = {"meta": np.array(json.dumps(meta)), "theta": run.theta}
    for key, value in run.history.to_state().items():
        arrays[f"history_{key}"] = np.asarray(value)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    path = Path(path)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def load_run(path: str | Path) -> SavedRun:
    """Read a run file; a file that is not one, or is damaged, raises RunFileError."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            meta = json.loads(str(archive["meta"][()]))
            if meta.get("format") != FORMAT:
                raise RunFileError(f"{path}: not a linreg-viz run file")
            if meta.get("version") != VERSION:
                raise RunFileError(f"{path}: run file version {meta.get('version')} is unknown")
            theta = np.asarray(archive["theta"], dtype=np.float64)
            state = {
                key.removeprefix("history_"): archive[key]
                for key in archive.files
                if key.startswith("history_")
            }
        history = History.from_state(state)
        config = Config.from_dict(meta["config"])
        run = SavedRun(
            config=config,
            history=history,
            theta=theta,
            step=int(meta["step"]),
            epoch=int(meta["epoch"]),
            batch_in_epoch=int(meta["batch_in_epoch"]),
            stopped_reason=meta.get("stopped_reason"),
        )
    except RunFileError:
        raise
    except ConfigError as exc:
        raise RunFileError(f"{path}: its configuration is invalid: {exc}") from None
    except OSError as exc:
        raise RunFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise RunFileError(f"{path}: not a readable run file ({exc})") from None
    if theta.shape != (history.n_params,) or run.step != history.last_step:
        raise RunFileError(f"{path}: parameters and history do not agree")
    return run


def restore(run: SavedRun) -> Trainer:
    """A trainer standing where the saved run stood, ready to continue.

    The data is rebuilt from the configuration (its seed, or its CSV file); the optimizer's own
    state (velocity, moments) starts afresh, as after a live optimizer change."""
    from core.trainer import Trainer

    trainer = Trainer(run.config)
    if trainer.history.n_params != run.history.n_params:
        raise RunFileError("the saved run's data no longer has the same features")
    trainer.engine.set_params(run.theta)
    trainer.engine.seek_schedule(run.step)  # a scheduled rate goes on from where it stood
    trainer.history = History.from_state(run.history.to_state())
    trainer.step_count = run.step
    trainer.epoch = run.epoch
    trainer.batch_in_epoch = run.batch_in_epoch
    trainer.stopped_reason = run.stopped_reason
    trainer._last_theta = run.theta.copy()
    epoch_seconds = trainer.history.epochs()["seconds"]
    trainer.seconds = float(epoch_seconds[-1]) if epoch_seconds.size else 0.0
    steps, losses, _ = trainer.history.steps()
    if steps.size > 1:
        trainer.first_loss = float(losses[1])
        trainer.last_batch_loss = float(losses[-1])
    if run.batch_in_epoch and trainer.n_batches > 1:
        # Mid-epoch: the engine needs this epoch's batch order before the next step.
        trainer.engine.begin_epoch(trainer._order(run.epoch))
        trainer._fresh_engine = False
    return trainer
