"""The run controller's branches (a mixin of gui.run_controller.RunController): fork at a past
step, switch, rename and delete branches, and the branch list the window shows.

A branch trains with what the controls show: forking at step k goes on from step k's exact
state with every training and model setting that the controls show differently from the
settings at k. Switching to a branch shows that branch's settings in the controls."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal

from core.branch_summary import BranchList
from core.config import Config
from core.files import atomic_write_text
from core.runfile import save_run

if TYPE_CHECKING:
    from PySide6.QtCore import QTimer

    from core.runinfo import RunInfo
    from core.snapshot import Snapshot
    from gui.live_edits import LiveEdits
    from gui.worker import TrainingWorker


class BranchControl:
    """Branch operations and the branch list, for a RunController (needs worker, _config,
    _set, _info, _latest, _rates, _update_stable_lr and the snapshot signal)."""

    branchesChanged = Signal(object)  # core.branch_summary.BranchList
    # The run goes on with another trainer (a branch, a switch, a change of settings): its
    # RunInfo and a snapshot. Views start over on it as on a new run, with the history kept.
    runContinued = Signal(object, object)
    # The values on the update lines of the run's script after its latest step (name ->
    # value), and the configuration they were computed with.
    scriptValues = Signal(object, object)

    worker: TrainingWorker
    live: LiveEdits
    _data_timer: QTimer

    def _connect_branches(self) -> None:
        """Follow the worker's branch signals (once, from __init__)."""
        self._branch_list = BranchList()
        self._setup_in_gesture: set[str] = set()  # changed during a drag, applied at release
        queued = Qt.ConnectionType.QueuedConnection
        w = self.worker
        w.branchesChanged.connect(self._on_branches, queued)
        w.continued.connect(self._on_continued, queued)
        w.scriptValues.connect(self.scriptValues, queued)
        # A new or reopened run has branches of its own: ask for them once it is built.
        self.runReset.connect(self._on_new_run)

    # ---- reading ----------------------------------------------------------------------------
    def branches(self) -> BranchList:
        """The run's branches as last reported (rows and ghosts)."""
        return self._branch_list

    # ---- changes ----------------------------------------------------------------------------
    def fork_at(self, step: int, name: str | None = None, run: bool = True) -> None:
        """Branch the active line after a past step with the settings the controls show (the
        former continuation stays as a branch); run the new branch unless told not to."""
        self.flush()
        self.worker.fork(step, self._config, name, run)

    def switch_branch(self, branch_id: int) -> None:
        """Make a branch the active one (paused where it stood); the controls show its
        settings."""
        self.worker.switch_branch(branch_id)

    def rename_branch(self, branch_id: int, name: str) -> None:
        """Give a branch a new name (refused with a message if empty or taken)."""
        self.worker.rename_branch(branch_id, name)

    def delete_branch(self, branch_id: int) -> None:
        """Delete a branch and every branch forked from it."""
        self.worker.delete_branch(branch_id)

    def change_setup(self, keys: set[str], during_gesture: bool = False) -> None:
        """Go on from the current parameters with these settings as the configuration has
        them; during a drag, once at its release (one rebuild, one marker)."""
        if during_gesture:
            self._setup_in_gesture |= keys
            return
        config = self._config
        self.worker.change_setup({k: _value(config, k) for k in sorted(keys)})

    def end_setup_gesture(self) -> None:
        """A drag ended: the settings it changed that go on from the parameters, at once."""
        keys, self._setup_in_gesture = self._setup_in_gesture, set()
        if keys:
            self.change_setup(keys)

    def request_script_values(self) -> None:
        """Ask for the values on the script's update lines (answered by scriptValues)."""
        self.worker.request_script_values()

    def export_branches(self, folder: Path) -> list[Path]:
        """Write the whole run with every branch (run.lrrun) and the list of branches
        (branches.csv) into folder; nothing before a run is built."""
        run = self.saved_run()
        if run is None:
            return []
        paths = [save_run(run, folder / "run.lrrun")]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["id", "name", "parent", "fork_step", "last_step", "changed", "active"])
        for b in run.branches:
            parent = "" if b.parent is None else b.parent
            active = int(b.id == run.active)
            writer.writerow([b.id, b.name, parent, b.fork_step, b.tip.step, b.note, active])
        paths.append(folder / "branches.csv")
        atomic_write_text(paths[-1], out.getvalue())
        return paths

    # ---- worker signals ------------------------------------------------------------------
    def _on_new_run(self, *_: object) -> None:
        self._branch_list = BranchList()
        self.worker.refresh_branches()

    def _on_branches(self, branches: BranchList) -> None:
        self._branch_list = branches
        self.branchesChanged.emit(branches)

    def _on_continued(self, info: RunInfo, snap: Snapshot, config: Config, adopt: bool) -> None:
        self._info = info
        self._latest = snap
        self._rates.clear()
        if adopt:
            # The branch's own settings, its data too (data moved under a branch is its own);
            # unless a data edit waits for its debounce or is on its way: the controls keep
            # it, and it goes to this branch once sent (live.built says what the run has).
            mine: Config = self._config
            editing = self._data_timer.isActive() or self.live.pending()
            self.live.built = config.data
            data = mine.data if editing else config.data
            self._set(replace(mine, data=data, train=config.train, model=config.model))
        self._update_stable_lr()
        self.runContinued.emit(info, snap)
        self.snapshot.emit(snap)


def _value(config: Config, dotted: str) -> object:
    """A setting by its dotted key ("train.batch_size")."""
    section, _, key = dotted.partition(".")
    return getattr(getattr(config, section), key)
