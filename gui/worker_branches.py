"""The training worker's branch calls: fork, switch, rename and delete branches of its RunTree,
change settings mid-run, and answer the code view (a mixin of gui.worker.TrainingWorker).

Every call runs in the training thread between slices, as the worker's other calls do; what
changed leaves as plain copies: the branch list (rows and ghosts) and, when another trainer
takes over, its RunInfo, snapshot and configuration."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal

from core.branch_summary import branch_info, branch_list
from core.branches import changes_between
from core.config import Config
from core.errors import UserInputError
from core.script import script_values

if TYPE_CHECKING:
    from core.branches import RunTree
    from core.trainer import Trainer


class BranchCalls:
    """Branch operations for a LoopWorker that owns a RunTree in self._tree (and has the
    training worker's _pause, _run, stateChanged and message, and DataWorker's _rebuild)."""

    # Every branch as rows, and the ghosts of the others (core.branch_summary.BranchList).
    branchesChanged = Signal(object)
    # The same run goes on with another trainer (a branch, a switch, a change of settings):
    # its RunInfo, a snapshot, the configuration it trains with, and whether the window should
    # take that configuration (a switch: the branch's own settings) or already shows it.
    continued = Signal(object, object, object, bool)
    # The values on the update lines of the run's script after the latest step (name ->
    # value), and the configuration of the trainer that computed them.
    scriptValues = Signal(object, object)

    _tree: RunTree | None
    _active: bool
    _dirty: bool
    _burst: int

    # ---- thread-safe API (called from the GUI thread) -----------------------------------
    def fork(self, step: int, config: Config, name: str | None = None, run: bool = False) -> None:
        """Branch the active line after step, going on with config's training and model
        settings (what differs from the settings at that step is the branch's change); run it
        if asked."""
        self.call(self._fork, int(step), config, name, run)

    def switch_branch(self, branch_id: int) -> None:
        """Make a branch the active one, paused where it stood."""
        self.call(self._switch, int(branch_id))

    def rename_branch(self, branch_id: int, name: str) -> None:
        """Give a branch a new name."""
        self.call(self._rename, int(branch_id), str(name))

    def delete_branch(self, branch_id: int) -> None:
        """Delete a branch and the branches forked from it."""
        self.call(self._delete, int(branch_id))

    def change_setup(self, changes: dict[str, Any]) -> None:
        """Go on from the current parameters with settings changed (batch size, optimizer,
        implementation, loss, precision, ...), running on if the run runs."""
        self.call(self._change, dict(changes))

    def refresh_branches(self) -> None:
        """Send the branch list again (after a new run is built or reopened)."""
        self.call(self._send_branches)

    def request_script_values(self) -> None:
        """Send the values of the script's update lines after the latest step."""
        self.call(self._send_script_values)

    # ---- calls (run in the worker thread) ---------------------------------------------
    def _fork(self, step: int, config: Config, name: str | None, run: bool) -> None:
        tree = self._tree
        if tree is None:
            return
        self._pause()
        try:
            changes = changes_between(tree.state_at(step).config, config)
            tree.fork(step, changes, name)
        except UserInputError as exc:
            self._refuse(f"Could not branch at step {step:,}: {exc}")
            return
        self._took_over(tree.trainer, adopt=False)
        if tree.trainer.config.data != config.data:
            # The data moved after step k (a drag): the branch goes on with the data the
            # controls show, rebuilt under its parameters (a branch replays step k's data).
            self._rebuild(config)
        if run:
            self._run()

    def _switch(self, branch_id: int) -> None:
        tree = self._tree
        if tree is None or tree.active.id == branch_id:
            return
        self._pause()
        try:
            tree.switch(branch_id)
        except UserInputError as exc:
            self._refuse(f"Could not switch branches: {exc}")
            return
        self._took_over(tree.trainer, adopt=True)

    def _rename(self, branch_id: int, name: str) -> None:
        if self._tree is None:
            return
        try:
            self._tree.rename(branch_id, name)
        except UserInputError as exc:
            self._refuse(f"Could not rename the branch: {exc}")
            return
        self._send_branches()

    def _delete(self, branch_id: int) -> None:
        tree = self._tree
        if tree is None:
            return
        active = tree.active.id
        try:
            tree.delete(branch_id)
        except UserInputError as exc:
            self._refuse(f"Could not delete the branch: {exc}")
            return
        if tree.active.id != active:
            self._pause()
            self._took_over(tree.trainer, adopt=True)
        else:
            self._send_branches()

    def _change(self, changes: dict[str, Any]) -> None:
        tree = self._tree
        if tree is None:
            return
        before = tree.trainer
        try:
            trainer = tree.change(changes)
        except UserInputError as exc:
            self._refuse(f"Could not change the settings mid-run: {exc}")
            return
        if trainer is not before:  # else nothing differed from what it trains with
            self._took_over(trainer, adopt=False)

    def _took_over(self, trainer: Trainer, adopt: bool) -> None:
        """Tell the window that trainer now trains this run, and how the branches stand."""
        tree = self._tree
        assert tree is not None
        # The rate was measured on the old trainer: size the slices afresh.
        self._burst = 1
        snap = trainer.snapshot(self._snapshot_points)
        self.continued.emit(branch_info(tree), snap, trainer.config, adopt)
        self._send_branches()
        if trainer.stopped_reason in ("completed", "diverged"):
            self.stateChanged.emit(trainer.stopped_reason)
        elif not self._active:
            self.stateChanged.emit("paused")
        self._dirty = False

    def _send_branches(self) -> None:
        if self._tree is not None:
            self.branchesChanged.emit(branch_list(self._tree))

    def _send_script_values(self) -> None:
        trainer = None if self._tree is None else self._tree.trainer
        if trainer is not None:
            self.scriptValues.emit(script_values(trainer), trainer.config)

    def _refuse(self, text: str) -> None:
        """Say why a branch call was refused; the run stays as it was."""
        self.message.emit("error", text)
        self._send_branches()
