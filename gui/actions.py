"""The window's actions, declared once as data; menus, the toolbar and the shortcut list are
built from this table (as napari declares its actions apart from its window)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QToolBar, QToolButton

from core.presets import PRESETS

if TYPE_CHECKING:
    from gui.main_window import MainWindow

MENUS = ("File", "Run", "Presets", "View", "Help")


@dataclass(frozen=True)
class ActionSpec:
    """One action: what it is called, its key, what it does and where it shows."""

    name: str  # objectName, and the window's attribute with _action for the suffix
    text: str
    shortcut: str | None
    tip: str
    handler: Callable[[MainWindow], object]
    menu: str  # one of MENUS
    group: int = 0  # a separator goes between groups of a menu
    button: str | None = None  # objectName of its toolbar button, if it has one
    checkable: bool = False
    checked: bool = False
    needs_run: bool = False  # enabled only once a run is built (torch loaded, data made)


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("openAction", "Open configuration…", "Ctrl+O",
               "Load a run configuration from a JSON file",
               lambda w: w.dialogs.open_config(), "File", 0),
    ActionSpec("saveAction", "Save configuration…", "Ctrl+S",
               "Save the current configuration as JSON",
               lambda w: w.dialogs.save_config(), "File", 0),
    ActionSpec("openCsvAction", "Open CSV data…", "Ctrl+Shift+O",
               "Train on columns of a CSV file (the current run is kept if the file is bad)",
               lambda w: w.dialogs.open_csv(), "File", 1),
    ActionSpec("openRunAction", "Open run…", "Ctrl+Alt+O",
               "Reopen a saved run to review it or continue training",
               lambda w: w.dialogs.open_run(), "File", 2),
    ActionSpec("saveRunAction", "Save run…", "Ctrl+Shift+S",
               "Save the whole run (configuration, history, parameters) to reopen later",
               lambda w: w.dialogs.save_run(), "File", 2, needs_run=True),
    ActionSpec("exportAction", "Export run…", "Ctrl+Shift+E",
               "Write plots (PNG, SVG), the window, history (CSV) and configuration (JSON)",
               lambda w: w.dialogs.export_run(), "File", 3, button="exportButton"),
    ActionSpec("exportGifAction", "Export animation (GIF)…", "Ctrl+Shift+G",
               "Replay the run from its history into an animated GIF of the plots",
               lambda w: w.dialogs.export_gif(), "File", 3, needs_run=True),
    ActionSpec("exportScriptAction", "Export as Python script…", None,
               "Write the run as a standalone Python script (numpy and torch only) that trains"
               " it step for step and prints the final weights and bias",
               lambda w: w.dialogs.export_script(), "File", 3),
    ActionSpec("quitAction", "Quit", "Ctrl+Q", "Close the window",
               lambda w: w.close(), "File", 4),
    ActionSpec("runAction", "Run", "Space", "Run or pause training",
               lambda w: w.toggle_run(), "Run", 0, button="runButton", checkable=True,
               needs_run=True),
    ActionSpec("stepBatchAction", "Step batch", "Ctrl+B", "Pause and train on one minibatch",
               lambda w: w.step_batch(), "Run", 0, button="stepBatchButton", needs_run=True),
    ActionSpec("stepEpochAction", "Step epoch", "Ctrl+E", "Pause and train one whole epoch",
               lambda w: w.step_epoch(), "Run", 0, button="stepEpochButton", needs_run=True),
    ActionSpec("resetAction", "Reset", "Ctrl+R",
               "Regenerate the data and start the run again",
               lambda w: w.reset_paused(), "Run", 0, button="resetButton", needs_run=True),
    ActionSpec("predictAction", "Predict…", "Ctrl+Shift+P",
               "Predict the target for inputs you enter, with the model and least squares",
               lambda w: w.show_predict(), "Run", 1),
    ActionSpec("raceAction", "Start or stop race", "Ctrl+Shift+R",
               "Race the optimizers in the Optimizer race tab on the current data",
               lambda w: w.toggle_race(), "Run", 1),
    ActionSpec("trainingTabAction", "Training", "Ctrl+1", "Show the training dashboard",
               lambda w: w.main_tabs.setCurrentIndex(0), "View", 0),
    ActionSpec("raceTabAction", "Optimizer race", "Ctrl+2", "Show the optimizer race",
               lambda w: w.main_tabs.setCurrentIndex(1), "View", 0),
    ActionSpec("sweepTabAction", "Sweep", "Ctrl+3",
               "Show the sweep: a map of two settings, with the theory drawn on it",
               lambda w: w.main_tabs.setCurrentIndex(2),
               "View", 0),
    ActionSpec("logAction", "Log-scale loss", "Ctrl+L", "Show the loss on a logarithmic axis",
               lambda w: w.dashboard.loss_view.set_log_y(w.log_action.isChecked()), "View", 1,
               button="logButton", checkable=True, checked=True),
    ActionSpec("logStepsAction", "Log-scale steps", "Ctrl+Shift+L",
               "Show the loss and parameters against steps on a logarithmic axis (long runs)",
               lambda w: w.dashboard.set_log_steps(w.log_steps_action.isChecked()), "View", 1,
               checkable=True),
    ActionSpec("branchesAction", "Branches", None,
               "Show the run's branches under the timeline: switch, rename, delete (rewind,"
               " change a setting and press Run to start one)",
               lambda w: w.dashboard.show_branches(), "View", 1),
    ActionSpec("darkThemeAction", "Dark theme", None,
               "Light text on dark plots and controls (exports stay white)",
               lambda w: w.theme.set_dark(w.dark_theme_action.isChecked()), "View", 2,
               checkable=True),
    ActionSpec("guideAction", "Guide", "F1", "A short guide to the app",
               lambda w: w.show_guide(), "Help", 0),
    ActionSpec("shortcutsAction", "Keyboard shortcuts", None, "List every keyboard shortcut",
               lambda w: w.show_shortcuts(), "Help", 0),
    ActionSpec("lessonsAction", "Lessons", None,
               "Short guided experiments on the five articles' material, checked from your run",
               lambda w: w.lessons.show_panel(), "Help", 1),
)  # fmt: skip
# The toolbar, in order (None: a separator).
TOOLBAR = ("runAction", "stepBatchAction", "stepEpochAction", "resetAction", None, "logAction",
           "exportAction")  # fmt: skip


def attribute_name(name: str) -> str:
    """The window attribute that holds an action: 'stepBatchAction' -> 'step_batch_action'."""
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in name)
    return snake.replace("_action", "") + "_action"


def build_actions(window: MainWindow) -> dict[str, QAction]:
    """Make every action of ACTIONS on window (also as window.<attribute_name>)."""
    made = {}
    for spec in ACTIONS:
        action = QAction(spec.text, window)
        action.setObjectName(spec.name)
        tip = spec.tip
        if spec.shortcut:
            action.setShortcut(QKeySequence(spec.shortcut))
            native = QKeySequence(spec.shortcut).toString(QKeySequence.SequenceFormat.NativeText)
            tip = f"{tip} ({native})"
        action.setToolTip(tip)
        action.setStatusTip(tip)
        if spec.checkable:
            action.setCheckable(True)
            action.setChecked(spec.checked)
        action.triggered.connect(lambda _=False, h=spec.handler: h(window))
        window.addAction(action)
        setattr(window, attribute_name(spec.name), action)
        made[spec.name] = action
    return made


def build_menus(window: MainWindow, actions: dict[str, QAction]) -> dict[str, QMenu]:
    """The menu bar from ACTIONS, plus the Presets menu from core's presets."""
    menus = {}
    for name in MENUS:
        # Parented to the window (owned by Qt), like the separators below.
        menu = QMenu(f"&{name}", window)
        window.menuBar().addMenu(menu)
        menus[name] = menu
    last_group: dict[str, int] = {}
    for spec in ACTIONS:
        menu = menus[spec.menu]
        if spec.menu in last_group and last_group[spec.menu] != spec.group:
            # A separator owned by the window: the one addSeparator() returns was seen deleted
            # under a Python reference that PySide thought it owned.
            separator = QAction(window)
            separator.setSeparator(True)
            menu.addAction(separator)
        last_group[spec.menu] = spec.group
        menu.addAction(actions[spec.name])
    presets = menus["Presets"]
    presets.setToolTipsVisible(True)
    for preset in PRESETS.values():
        act = QAction(preset.name, window)
        act.setObjectName(f"preset_{preset.name}")
        act.setToolTip(preset.summary)
        act.setStatusTip(preset.summary)
        act.triggered.connect(lambda _=False, n=preset.name: window.load_preset(n))
        presets.addAction(act)
    return menus


def build_toolbar(window: QMainWindow, actions: dict[str, QAction]) -> QToolBar:
    """The run controls' toolbar, one named button per action of TOOLBAR."""
    bar = QToolBar("Run controls")
    bar.setObjectName("runToolbar")
    bar.setMovable(False)
    bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    window.addToolBar(bar)
    buttons = {spec.name: spec.button for spec in ACTIONS if spec.button}
    for name in TOOLBAR:
        if name is None:
            bar.addSeparator()
            continue
        button = QToolButton()
        button.setDefaultAction(actions[name])
        button.setObjectName(buttons[name])
        bar.addWidget(button)
    return bar


def run_actions(actions: dict[str, QAction]) -> list[QAction]:
    """The actions that wait for a run to be built."""
    return [actions[spec.name] for spec in ACTIONS if spec.needs_run]


def shortcut_actions(actions: dict[str, QAction]) -> list[QAction]:
    """Every action with a shortcut, run controls first (the order of the table by menu)."""
    order = {name: i for i, name in enumerate(MENUS)}
    specs = sorted(ACTIONS, key=lambda s: order[s.menu] if s.menu != "File" else 2.5)
    return [actions[s.name] for s in specs if s.shortcut]
