"""Predictions too slow for the GUI thread, in a thread of their own: the SGD plateau.

core.sgd_noise predicts the stationary loss of SGD with batches drawn with replacement, from the
data's moments. The solve costs milliseconds on a preset but about a second on a million rows,
so a TheoryWorker (the app's one worker base, gui/worker_base.py) computes it in its own thread
from the rows RunInfo carries for it (RunInfo.noise_x, noise_y: the very rows run_plateau would
use), and only the newest request: a drag of the learning rate asks many times, and the answers
to superseded requests are dropped. gui/plateau_line.py draws the answer on the loss plot.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from PySide6.QtCore import Signal

from core.config import TrainConfig
from core.runinfo import RunInfo
from core.sgd_noise import Plateau, sgd_plateau
from core.theory import RATE_OPTIMIZERS
from gui.worker_base import LoopWorker, WorkerHost


def plateau_of(info: RunInfo, train: TrainConfig) -> Plateau | None:
    """Where SGD settles with the run's data and batch, at train's rate, momentum and weight
    decay, batches drawn with replacement (None: no prediction, or the numbers overflowed)."""
    if info.stats is None or info.noise_y.size == 0 or train.optimizer not in RATE_OPTIMIZERS:
        return None
    with np.errstate(all="ignore"):
        plateau = sgd_plateau(
            info.noise_x, info.noise_y, train.lr, info.batch_size, info.loss_kind,
            info.fit_bias, info.l2_penalty, train.weight_decay, train.optimizer,
            train.momentum, stats=info.stats, n_rows=info.n_train,
        )  # fmt: skip
    return None if plateau is None or math.isnan(plateau.excess) else plateau


def shows_plateau(info: RunInfo, train: TrainConfig) -> bool:
    """Whether the run's minibatches are noisy at all (full batches of distinct rows are not)."""
    return train.optimizer in RATE_OPTIMIZERS and (
        info.n_batches > 1 or info.train.sampling == "replacement"
    )


class TheoryWorker(LoopWorker):
    """Computes predictions too slow for the GUI thread, newest request first."""

    # The request's key, its Plateau (or None), and the seconds the prediction took.
    plateauReady = Signal(object, object, float)

    def __init__(self) -> None:
        super().__init__(snapshot_points=2)
        self._wanted: object = None  # the newest request (set from the GUI thread)

    def predict_plateau(self, key: object, info: RunInfo, train: TrainConfig) -> None:
        """Compute the plateau of info's run at train's settings; answered by plateauReady
        unless a newer request comes first."""
        self._wanted = key
        self.call(self._plateau, key, info, train)

    def _plateau(self, key: object, info: RunInfo, train: TrainConfig) -> None:
        if key != self._wanted:
            return  # superseded while it waited
        start = time.perf_counter()
        try:
            plateau = plateau_of(info, train)
        except (ValueError, ArithmeticError, np.linalg.LinAlgError):
            plateau = None  # no prediction is better than a dead thread
        self.plateauReady.emit(key, plateau, time.perf_counter() - start)

    def work_slice(self) -> None:
        """Nothing runs between requests."""
        self._active = False

    def make_snapshot(self, points: int) -> Any:
        """No snapshots: answers go by plateauReady."""
        return None


def theory_host() -> WorkerHost:
    """A TheoryWorker in its own (not yet started) thread."""
    return WorkerHost(TheoryWorker(), "theoryThread")
