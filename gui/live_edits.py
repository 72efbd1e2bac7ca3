"""The run controller's side of data that moves under a running fit (core.live_data).

The controller hands every edit of the data here. Moving the true weights, the bias or the
noise changes only the targets: sent to the training thread at once, the run goes on. Samples,
seed, correlation, feature distribution, validation share and standardisation rebuild the data
under the current parameters once a drag has settled; other features or a file start a new run.
Samples dragged in the fit plot and parameters put on the landscape go the same way. A gesture
(a slider or a point dragged) marks the history once, when it ends.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from core.config import Config, DataConfig
from core.live_data import TARGET_KEYS, describe_data, describe_theta, live_kind
from core.runinfo import RunInfo
from core.snapshot import Snapshot

if TYPE_CHECKING:
    from gui.run_controller import RunController
    from gui.worker import TrainingWorker


class LiveEdits:
    """Sends data edits, moved samples and placed parameters to the worker, and remembers
    what data its run has (or will have once the calls sent are carried out)."""

    def __init__(self, worker: TrainingWorker, config: Config) -> None:
        self._worker = worker
        self.built: DataConfig = config.data  # the data of the run the worker has
        self._gesture: DataConfig | None = None  # the data at the press of a gesture
        self._grab_note = ""  # what a gesture of grabbing did, said once it ends
        # Target changes sent, and the newest of them the worker has carried out: a drag sends
        # 60 a second, more than the training thread takes at a million samples, and its one
        # slot for them keeps only the newest (gui.worker_data), taken once a frame.
        self._sent = self._taken = 0

    def setup(self, config: Config) -> None:
        """A new run is built from config (or a failed one keeps config)."""
        self.built = config.data

    def targets(self, before: Config, config: Config) -> bool:
        """Send an edit that only moves the targets to the run now; False for any other."""
        changed = {
            f"data.{k}" for k, v in vars(config.data).items() if getattr(before.data, k) != v
        }
        if not changed or not changed <= TARGET_KEYS:
            return False
        if live_kind(before.data, config.data) != "targets" or config.data.csv_path:
            return False
        d = config.data
        # In a gesture, no event per step: end_gesture notes the whole drag once.
        self._send_targets(config.data, record=self._gesture is None)
        self.built = replace(
            self.built, true_weights=d.true_weights, true_bias=d.true_bias, noise_std=d.noise_std
        )
        return True

    def settle(self, config: Config) -> str | None:
        """Bring the run's data to config's after a drag settled: "targets" (moved), "rebuild"
        (the data built anew under the run) or None (a new run is needed: nothing sent)."""
        kind = live_kind(self.built, config.data)
        if kind == "targets":
            self._send_targets(config.data, record=True)
        elif kind == "rebuild":
            self._worker.rebuild_data(config)
        if kind is not None:
            self.built = config.data
        return kind

    def _send_targets(self, d: DataConfig, record: bool) -> None:
        """Send a target change (it replaces one the worker has not taken yet)."""
        self._sent += 1
        self._worker.set_targets(d.true_weights, d.true_bias, d.noise_std, record, self._sent)

    def targets_taken(self, number: int) -> None:
        """The worker carried out the target changes sent up to this one (numbered from 1)."""
        self._taken = max(self._taken, number)

    def pending(self) -> bool:
        """Whether a target change sent has not been carried out yet."""
        return self._taken < self._sent

    # ---- grabbing the plots ----------------------------------------------------------------
    def move_sample(self, rows: Any, x: Any, y: Any) -> None:
        """Move training rows to features x (original units, a row each) and targets y: the
        run goes on on the moved data (Reset brings the generated data back)."""
        self._worker.move_samples(rows, x, y, record=self._gesture is None)
        if self._gesture is not None:
            self._grab_note = "moved a sample"

    def place(self, theta: Any, info: RunInfo) -> None:
        """Put the parameters at theta ([w..., b], trained units, of the run info describes):
        the optimizer starts afresh and training goes on from there."""
        theta = np.asarray(theta, dtype=np.float64)
        self._worker.place_params(theta, record=self._gesture is None)
        if self._gesture is not None:
            w = theta[:-1] / info.scale  # the event speaks in the data's units
            original = np.append(w, theta[-1] - w @ info.shift)
            self._grab_note = describe_theta(original, info.feature_names)

    # ---- gestures --------------------------------------------------------------------------
    def begin_gesture(self, config: Config) -> None:
        """A drag begins: remember the data as it is at the press."""
        self._gesture = config.data
        self._grab_note = ""

    def end_gesture(self, config: Config) -> list[str]:
        """The drag ends: what it changed live, in an event's words (nothing else is noted)."""
        start, self._gesture = self._gesture, None
        parts = []
        if start is not None and len(start.true_weights) == len(config.data.true_weights):
            # Only the targets move live; rebuilt data notes itself when it is built.
            now = config.data
            before = replace(
                now,
                true_weights=start.true_weights,
                true_bias=start.true_bias,
                noise_std=start.noise_std,
            )
            said = describe_data(before, now)
            if said:
                parts.append(said)
        if self._grab_note:
            parts.append(self._grab_note)
            self._grab_note = ""
        return parts


class DataSlots:
    """The run controller's own slots for data moved under its run (a mixin of
    gui.run_controller.RunController: its methods, kept with the rest of this)."""

    def _settle_data(self: RunController) -> None:
        """A drag of the data settled: the data rebuilt under the run, or a new run."""
        self._data_timer.stop()
        kind = self.live.settle(self._config)
        if kind == "rebuild":
            self._setups_unanswered += 1  # answered by dataChanged, or setupFailed
        elif kind is None:
            self.reset()

    def _on_targets_taken(self: RunController, number: int) -> None:
        self.live.targets_taken(number)

    def _on_data_changed(self: RunController, info: RunInfo, snap: Snapshot, rebuilt: bool) -> None:
        """The worker moved the run's data: the run's facts and picture now, the run kept."""
        if rebuilt:  # the answer to a rebuild_data, a setup of its own
            self._setups_unanswered = max(self._setups_unanswered - 1, 0)
            if self._busy is not None:
                self._busy = None
                self.busyChanged.emit(None)
        self._info = info
        if snap.step:
            self._latest = snap
        else:
            self._initial = snap
        self.dataChanged.emit(info, snap)
        self._update_stable_lr()
