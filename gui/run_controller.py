"""The run controller: the one owner of the run's state, between the window and its thread.

    ControlPanel --edit(changes)--> RunController --queued calls--> TrainingWorker (thread)
         ^                           |  owns: Config, speed, run state, RunInfo,        |
         |                           |        latest snapshot, stable lr bound          |
         +------ configChanged ------+  <------------- signals (queued) ---------------+
    views, status bar, race tab  <-- runReset, snapshot, stateChanged, stableLrChanged, ...

Everything that shows the configuration reads it here and follows configChanged; nothing keeps
its own copy. The configuration is immutable: a change makes a new one, validated, and says
whether it applies live (learning rate, momentum, weight decay, epochs), rebuilds the run now
(implementation, optimizer, loss, batch size, precision, ...), or rebuilds it once a drag of the
data controls has settled (debounced).
"""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from core.analysis import max_stable_lr
from core.branches import continues
from core.config import Config
from core.errors import UserInputError
from core.presets import DEFAULT_PRESET, preset_config
from core.run_length import fitted_settings, run_seconds
from core.runfile import SavedRun
from core.runinfo import RunInfo
from core.snapshot import Snapshot
from gui.branch_control import BranchControl
from gui.live_edits import DataSlots, LiveEdits
from gui.worker import TrainingWorker, training_host

DEBOUNCE_MS = 300  # a drag or a burst of edits of the data rebuilds the run once, after this
LIVE_KEYS = frozenset({"train.lr", "train.momentum", "train.weight_decay", "train.betas"})
HYPER_NAMES = {"train.lr": "lr", "train.momentum": "momentum", "train.weight_decay": "weight_decay"}
RATE_WINDOW_S = 1.0  # the achieved rate is measured over about this much of the recent run


def with_changes(config: Config, changes: dict[str, Any]) -> Config:
    """config with dotted keys changed all at once, validated (raises ConfigError)."""
    raw = config.to_dict()
    for dotted, value in changes.items():
        section, _, key = dotted.partition(".")
        if section not in raw or key not in raw[section]:
            raise UserInputError(f"unknown key {dotted}")
        raw[section][key] = value
    return Config.from_dict(raw)


class ConfigModel(QObject):
    """Holds the current configuration and says when it changes."""

    configChanged = Signal(object)  # the new Config

    def __init__(self, config: Config, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._config = config

    def config(self) -> Config:
        """The current configuration (immutable)."""
        return self._config

    def set_config(self, config: Config) -> None:
        """Make config the configuration."""
        self._set(config)

    def edit(self, changes: dict[str, Any]) -> bool:
        """Change dotted keys; False (and the controls shown the kept values) if invalid."""
        try:
            config = with_changes(self._config, changes)
        except UserInputError as exc:
            self.refused(str(exc))
            return False
        self._set(config)
        return True

    def refused(self, text: str) -> None:
        """An edit was invalid: the configuration stays, and its views show it again."""
        self.configChanged.emit(self._config)

    def _set(self, config: Config) -> None:
        if config != self._config:
            self._config = config
            self.configChanged.emit(config)


class RunController(BranchControl, DataSlots, ConfigModel):
    """Owns the training worker and thread, the configuration, the run state and the latest
    snapshot; the window, the control panel, the views and the race tab subscribe."""

    stableLrChanged = Signal(float)  # largest stable full-batch learning rate (inf: any)
    runReset = Signal(object, object)  # RunInfo, initial Snapshot of a new run
    stateChanged = Signal(str)  # "running" | "paused" | "completed" | "diverged"
    snapshot = Signal(object)  # a newer Snapshot of the run
    message = Signal(str, str)  # level ("info" | "warning" | "error"), text
    failed = Signal(str)  # an unexpected error in the training thread, with its traceback
    busyChanged = Signal(object)  # what a new run being built is busy with, or None
    progress = Signal(int)  # percent of the new run's data built
    speedChanged = Signal(object)  # the throttle: steps per second, or None (unthrottled)
    # The run's data or parameters moved under it (gui/live_edits.py): its new RunInfo and a
    # snapshot; unlike runReset, the run and its history go on.
    dataChanged = Signal(object, object)

    def __init__(
        self, config: Config, speed: float | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(config, parent)
        self._speed = speed
        self._state = "paused"
        self._info: RunInfo | None = None
        self._initial: Snapshot | None = None
        self._latest: Snapshot | None = None
        self._stable_lr = math.nan
        self._busy: str | None = None
        self._rates: deque[tuple[float, int]] = deque()
        self._touched: set[str] = set()  # keys the user set by hand since the last preset
        self._fit_pending = False  # fit the learning rate and epochs to the next run's data
        self._note: str | None = None  # said once the run being built is ready
        # A drag under way: each live setting it changed, with its value at the press.
        self._gesture: dict[str, float] | None = None
        self._config_before = config
        # Setups (configure, restore) sent and not yet answered by runReset or setupFailed.
        # Counted here, not by the worker: its count drops only after the call's signals are
        # sent, so an answer could arrive while it still counted its own setup as waiting.
        self._setups_unanswered = 0
        self.host = training_host()
        self.worker: TrainingWorker = self.host.worker  # type: ignore[assignment]
        w = self.worker
        queued = Qt.ConnectionType.QueuedConnection
        w.runReset.connect(self._on_run_reset, queued)
        w.snapshot.connect(self._on_snapshot, queued)
        w.stateChanged.connect(self._on_state, queued)
        w.message.connect(self.message, queued)
        w.failed.connect(self._on_failed, queued)
        w.preparing.connect(self._on_preparing, queued)
        w.progress.connect(self.progress, queued)
        w.setupFailed.connect(self._on_setup_failed, queued)
        w.epochsExtended.connect(self._on_epochs_extended, queued)
        w.dataChanged.connect(self._on_data_changed, queued)
        w.targetsTaken.connect(self._on_targets_taken, queued)
        # Data edits, samples and parameters moved under the run (gui/live_edits.py).
        self.live = LiveEdits(w, config)
        self._connect_branches()
        self._data_timer = QTimer(self)
        self._data_timer.setSingleShot(True)
        self._data_timer.setInterval(DEBOUNCE_MS)
        self._data_timer.timeout.connect(self._settle_data)
        w.set_speed(speed)
        self._setups_unanswered += 1
        w.configure(config)

    # ---- the thread ----------------------------------------------------------------------
    def start(self) -> None:
        """Start the training thread (it loads torch first); later calls do nothing."""
        self.host.start()

    def shutdown(self) -> bool:
        """Stop the worker and join its thread; True if it ended in time (idempotent)."""
        self._data_timer.stop()
        return self.host.shutdown()

    def is_started(self) -> bool:
        """Whether the training thread runs."""
        return self.host.is_running()

    # ---- state (read) --------------------------------------------------------------------
    def state(self) -> str:
        """running, paused, completed or diverged."""
        return self._state

    def run_info(self) -> RunInfo | None:
        """Static facts of the current run; None before the first run is built."""
        return self._info

    def latest_snapshot(self) -> Snapshot | None:
        """The newest snapshot of the run; None before its first step."""
        return self._latest

    def initial_snapshot(self) -> Snapshot | None:
        """The run before its first step."""
        return self._initial

    def current_snapshot(self) -> Snapshot | None:
        """The newest picture of the run: the latest snapshot, else the initial one."""
        return self._latest or self._initial

    def stable_lr(self) -> float:
        """The largest stable full-batch learning rate for the current settings (nan: unknown)."""
        return self._stable_lr

    def speed(self) -> float | None:
        """The throttle in steps per second, or None for unthrottled."""
        return self._speed

    def busy(self) -> str | None:
        """What a new run being built is busy with, or None."""
        return self._busy

    def is_ready(self) -> bool:
        """Whether a run is built and none is being built."""
        return self._info is not None and self._busy is None

    def is_idle(self) -> bool:
        """Whether the worker has carried out every call sent and no data change waits."""
        idle = self.worker.pending_commands() == 0 and not self._data_timer.isActive()
        return idle and not self.live.pending()

    def achieved_rate(self) -> float | None:
        """Steps per second achieved over about the last second of running; None unless
        running."""
        if self._state != "running" or len(self._rates) < 2:
            return None
        (t0, s0), (t1, s1) = self._rates[0], self._rates[-1]
        return (s1 - s0) / (t1 - t0) if t1 > t0 else None

    def history_copy(self):
        """A consistent copy of the run's history (None before the first run)."""
        return self.worker.history_copy()

    def saved_run(self) -> SavedRun | None:
        """The current run, copied for a run file."""
        return self.worker.saved_run()

    # ---- changes -------------------------------------------------------------------------
    def edit(self, changes: dict[str, Any]) -> bool:
        """Apply edits of the controls (dotted keys): live, a rebuild now, or a debounced
        rebuild for data. False (with a message, the configuration kept) if invalid."""
        try:
            config = with_changes(self._config, changes)
        except UserInputError as exc:
            self.refused(str(exc))
            return False
        changed = {k for k in changes if _get(config, k) != _get(self._config, k)}
        if not changed:
            return True
        self._config_before = self._config
        self._set(config)
        self._touched |= changed
        self._update_stable_lr()
        if all(k.startswith("data.") for k in changed):
            # Targets move at once; the rest waits for the drag to settle (restarted by each
            # edit): the data rebuilt under the run, or a new run.
            if not self.live.targets(self._config_before, config):
                self._data_timer.start()
        elif changed <= LIVE_KEYS | {"train.epochs"}:
            hyper = {HYPER_NAMES[k]: _get(config, k) for k in changed if k in HYPER_NAMES}
            if "train.betas" in changed:
                hyper["beta1"], hyper["beta2"] = config.train.betas
            if hyper:
                if self._gesture is not None:
                    for name in hyper:
                        self._gesture.setdefault(name, _hyper_value(self._config_before, name))
                self.worker.set_hyper(hyper, record=self._gesture is None)
            if "train.epochs" in changed:
                self.worker.set_epochs(config.train.epochs)
        elif self._latest is not None and continues(changed):
            # Batch size, optimizer, implementation, loss, precision...: the run goes on from
            # its current parameters (marked on the loss plot); nothing trained yet: rebuilt.
            # A drag changes it once, at its release.
            self.change_setup(changed, during_gesture=self._gesture is not None)
        else:
            self.reset()
        return True

    def begin_gesture(self) -> None:
        """A drag begins (a slider pressed): its live changes apply at once, and the run's
        history marks the whole drag once, from the value at press to the value at release."""
        self._gesture = {}
        self.live.begin_gesture(self._config)

    def end_gesture(self) -> None:
        """The drag ends: one marker, 'lr 0.2 -> 1.1', for everything it changed live."""
        started, self._gesture = self._gesture, None
        self.end_setup_gesture()
        if started is None:
            return
        parts = [
            f"{name} {before:g} -> {_hyper_value(self._config, name):g}"
            for name, before in started.items()
            if _hyper_value(self._config, name) != before
        ]
        parts += self.live.end_gesture(self._config)
        if parts:
            self.worker.note(", ".join(parts))

    def set_config(self, config: Config) -> None:
        """Make config the configuration and build a new run from it."""
        self.apply_config(config)

    def apply_config(
        self,
        config: Config,
        keep_running: bool = True,
        fit_to_data: bool = False,
        note: str | None = None,
    ) -> None:
        """Make config the configuration and build a new run from it. A configuration loaded
        whole (a preset, a file) is a fresh start: nothing counts as set by hand any more.
        fit_to_data: new data whose scale is not known yet (a CSV file), so once it is built,
        a learning rate not set by hand goes below the stable bound and epochs not set by
        hand are fitted to about a minute at the current speed; the settings set by hand are
        kept. note: said (with what was fitted) once the run is built."""
        if not fit_to_data:
            self._touched.clear()
        self._fit_pending = fit_to_data
        self._note = note
        self._set(config)
        self.reset(keep_running)

    def touched(self) -> frozenset[str]:
        """The keys the user set by hand since the last preset or configuration file."""
        return frozenset(self._touched)

    def run_seconds(self, config: Config | None = None) -> float:
        """About how long config's run (the current one by default) takes at the current speed;
        0 when unthrottled."""
        n_train = self._info.n_train if self._info is not None else 0
        return run_seconds(config or self._config, self._speed, n_train)

    def reset(self, keep_running: bool = True) -> None:
        """Build a new run from the configuration: new data, initial parameters."""
        self._data_timer.stop()
        self._setups_unanswered += 1
        self.live.setup(self._config)
        self.worker.configure(self._config, keep_running)

    def flush(self) -> None:
        """Rebuild the run (or its data) now if a data change waits for its debounce."""
        if self._data_timer.isActive():
            self._settle_data()

    def open_saved(self, run: SavedRun) -> None:
        """Continue a saved run, paused where it stood."""
        self._data_timer.stop()
        self._set(run.config)
        self._setups_unanswered += 1
        self.live.setup(run.config)
        self.worker.restore_run(run)

    def set_speed(self, speed: float | None) -> None:
        """Throttle training to speed steps per second (None: unthrottled)."""
        if speed != self._speed:
            self._speed = speed
            self.worker.set_speed(speed)
            self._rates.clear()
            self.speedChanged.emit(speed)

    def refused(self, text: str) -> None:
        """An edit was invalid: say so; the run and its configuration are kept."""
        self.message.emit("error", f"{text}. The current run is kept.")
        super().refused(text)

    # ---- run controls --------------------------------------------------------------------
    def run(self) -> None:
        """Train until paused, finished or diverged."""
        self.flush()
        self.worker.run()

    def pause(self) -> None:
        """Pause a running run."""
        self.worker.pause()

    def toggle(self) -> None:
        """Run if paused, pause if running."""
        if self._state == "running":
            self.pause()
        else:
            self.run()

    def step_batch(self) -> None:
        """Pause, then train one minibatch."""
        self.flush()
        self.worker.step_batch()

    def step_epoch(self) -> None:
        """Pause, then train one epoch."""
        self.flush()
        self.worker.step_epoch()

    # ---- worker signals ------------------------------------------------------------------
    def _on_preparing(self, text: str) -> None:
        self._busy = text
        self.busyChanged.emit(text)

    def _on_run_reset(self, info: RunInfo, initial: Snapshot) -> None:
        self._setups_unanswered = max(self._setups_unanswered - 1, 0)
        self._info = info
        self._initial = initial
        self._latest = None
        self._rates.clear()
        # A newer setup still queued says so again with its own preparing signal.
        self._busy = None
        self.busyChanged.emit(None)
        self.runReset.emit(info, initial)
        self._update_stable_lr()
        if self._setups_unanswered == 0:
            fitted = self._fit_to_data(info) if self._fit_pending else ""
            note, self._fit_pending, self._note = self._note, False, None
            if note or fitted:
                self.message.emit("info", " ".join(t for t in (note, fitted) if t))

    def _fit_to_data(self, info: RunInfo) -> str:
        """Learning rate below the stable bound and epochs for about a minute (not set by
        hand), applied live to the run just built; what was set, in words."""
        changes, said = fitted_settings(
            self._config, self._touched, self._stable_lr, self._speed, info.n_batches
        )
        if not changes:
            return ""
        touched = set(self._touched)
        self.edit(changes)
        self._touched = touched  # fitted, not set by hand
        return "Fitted to this data: " + "; ".join(said) + "."

    def _on_epochs_extended(self, epochs: int) -> None:
        """A completed run went on: the configuration (and the Epochs field) says how far."""
        if epochs != self._config.train.epochs:
            self._set(self._config.with_value("train.epochs", epochs))

    def _on_snapshot(self, snap: Snapshot) -> None:
        self._latest = snap
        now = time.perf_counter()
        self._rates.append((now, snap.step))
        while len(self._rates) > 2 and now - self._rates[1][0] > RATE_WINDOW_S:
            self._rates.popleft()
        self.snapshot.emit(snap)

    def _on_state(self, state: str) -> None:
        if state != "running":
            self._rates.clear()
        if state != self._state:
            self._state = state
            self.stateChanged.emit(state)

    def _on_failed(self, text: str) -> None:
        self.failed.emit(text)
        self.message.emit("error", f"Training stopped by an error: {text.splitlines()[0]}")

    def _on_setup_failed(self, text: str) -> None:
        self._fit_pending, self._note = False, None
        self._setups_unanswered = max(self._setups_unanswered - 1, 0)
        if self._setups_unanswered:
            # The user already asked for another setup: the configuration is that one, and
            # its own runReset (or failure) follows.
            self.message.emit("error", f"{text}.")
            return
        self._busy = None
        self.busyChanged.emit(None)
        kept = self.worker.trained_config()
        if kept is None:
            # Nothing to keep (say, the last session's CSV file is gone): the default preset.
            self.message.emit("error", f"{text}. Starting from the default preset.")
            self.apply_config(preset_config(DEFAULT_PRESET))
            return
        self.message.emit("error", f"{text}. The current run is kept.")
        # The configuration is that of the run kept, not the setup that failed.
        self.live.setup(kept)
        self._set(kept)
        self._update_stable_lr()

    def _update_stable_lr(self) -> None:
        info = self._info
        if info is None or info.stats is None:
            bound = math.nan
        else:
            t = self._config.train
            bound = max_stable_lr(
                info.stats,
                t.loss,
                self._config.model.fit_bias,
                l2=t.l2_penalty,
                weight_decay=t.weight_decay,
            )
        same = bound == self._stable_lr or (math.isnan(bound) and math.isnan(self._stable_lr))
        if not same:
            self._stable_lr = bound
            self.stableLrChanged.emit(bound)


def _hyper_value(config: Config, name: str) -> float:
    """A live setting by its trainer name (lr, momentum, weight_decay, beta1, beta2)."""
    t = config.train
    if name in ("beta1", "beta2"):
        return float(t.betas[name == "beta2"])
    return float(getattr(t, name))


def _get(config: Config, dotted: str) -> Any:
    section, _, key = dotted.partition(".")
    return getattr(getattr(config, section), key)
