"""The code view: the run as a standalone Python script (core.script) for the current settings,
its update lines highlighted and, after each step, the values those lines computed under them.

A view: it shows a configuration and values it is given, and asks for values (valuesWanted)
when it draws a newer step while it can be seen."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

import numpy as np
from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QColor, QFontDatabase, QTextCharFormat, QTextCursor, QTextFormat
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QTextEdit, QVBoxLayout, QWidget

from core.config import Config
from core.errors import UserInputError
from core.runinfo import RunInfo
from core.script import ScriptText, make_script
from core.snapshot import Snapshot
from gui.style import Palette, palette_of

VALUES_INTERVAL = 0.2  # seconds between requests for values while a run goes on
MAX_SHOWN = 4  # entries of a vector shown on its line (the rest counted)
VALUE_MARK = "#   ↳ "  # begins a line showing a value its update line computed


def format_value(value: object) -> str:
    """A value for a line's margin: a number to 4 significant digits, a short vector."""
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        v = float(array)
        return f"{v:.0f}" if v.is_integer() and abs(v) < 1e9 else f"{v:.4g}"
    items = [f"{v:.4g}" for v in array[:MAX_SHOWN]]
    more = f", … {array.size - MAX_SHOWN} more" if array.size > MAX_SHOWN else ""
    return "[" + ", ".join(items) + more + "]"


class CodeView(QWidget):
    """The script for the current settings, the update highlighted, values under it."""

    valuesWanted = Signal()  # the view shows a newer step: send the update lines' values

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("codeView")
        self._config: Config | None = None
        self._script: ScriptText | None = None
        self._stale = True  # the configuration changed since the text was made
        self._values: dict[str, object] = {}
        self._shown: dict[str, str] = {}  # value name -> as shown
        self._source_of: dict[int, int] = {}  # shown line -> the script's line
        self._update_display: list[int] = []  # shown lines that are update lines
        self._value_display: list[int] = []  # shown lines that hold values
        self._asked_step = -1
        self._wanted_step = -1
        self._asked_at = 0.0
        self._ask_timer = QTimer(self)
        self._ask_timer.setSingleShot(True)
        self._ask_timer.timeout.connect(self._ask)
        self._palette = palette_of()
        self.note = QLabel(
            "The run as a standalone script for the current settings (File > Export as Python"
            " script… writes it). Highlighted: the update, and under it what it computed in the"
            " latest step."
        )
        self.note.setWordWrap(True)
        self.text = QPlainTextEdit()
        self.text.setObjectName("codeText")
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setToolTip(
            "numpy: hand-derived gradients; scratch: autograd and a hand-written update;"
            " module: nn.Linear and torch.optim. Running it trains this run, step for step."
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.note)
        layout.addWidget(self.text, 1)

    # ---- what is shown -----------------------------------------------------------------
    def set_config(self, config: Config) -> None:
        """Show the script of config (made when the view is next seen)."""
        if config != self._config:
            self._config = config
            self._stale = True
            self._values = {}
            self._asked_step = -1  # the run may go on with other settings at the same step
            if self.isVisible():
                self._render()

    def set_run(self, info: RunInfo) -> None:
        """A new run: its values come with its steps."""
        self._values = {}
        self._asked_step = -1
        if self.isVisible():
            self._render()

    def update_snapshot(self, snap: Snapshot) -> None:
        """A newer step is shown: ask for its values (at most every VALUES_INTERVAL)."""
        if self._stale and self.isVisible():
            self._render()
        if snap.step == self._asked_step:
            return
        self._wanted_step = snap.step
        wait = VALUES_INTERVAL - (time.perf_counter() - self._asked_at)
        if wait <= 0:
            self._ask()
        elif not self._ask_timer.isActive():
            self._ask_timer.start(math.ceil(1000 * wait))  # the newest step, a little later

    def _ask(self) -> None:
        self._asked_step, self._asked_at = self._wanted_step, time.perf_counter()
        self.valuesWanted.emit()

    def set_values(self, values: Mapping[str, object], config: Config | None = None) -> None:
        """Show values (by the names of ScriptText.update_lines) under their lines; values
        computed with another implementation or optimizer than the script shown (an answer
        that crossed a change of settings) are dropped."""
        shown = self._config
        if config is not None and shown is not None:
            t, s = config.train, shown.train
            if (t.implementation, t.optimizer) != (s.implementation, s.optimizer):
                return
        self._values = dict(values)
        if self.isVisible():
            self._render()

    def script(self) -> ScriptText | None:
        """The script shown (None before a configuration is given)."""
        if self._stale and self._config is not None:
            self._make()
        return self._script

    def shown_value(self, name: str) -> str | None:
        """The value shown under its update line (as formatted), or None."""
        return self._shown.get(name)

    def highlighted_lines(self) -> list[int]:
        """The script's lines (1-based, as in the exported script) drawn highlighted."""
        return sorted(self._source_of[n] for n in self._update_display)

    def showEvent(self, event: object) -> None:
        """Catch up when shown (hidden, the view made nothing)."""
        super().showEvent(event)
        self._render()
        self.valuesWanted.emit()

    # ---- drawing -------------------------------------------------------------------------
    def set_palette(self, palette: Palette) -> None:
        """Highlight in palette's colours."""
        self._palette = palette
        self._highlight()

    def _make(self) -> None:
        self._stale = False
        try:
            self._script = make_script(self._config, title="This run")
        except (UserInputError, OSError, ValueError) as exc:
            self._script = ScriptText(f"# The script cannot be written for these settings: {exc}\n")

    def _render(self) -> None:
        if self._config is None:
            return
        if self._stale:
            self._make()
        script = self._script
        assert script is not None
        by_line: dict[int, list[str]] = {}
        for name, line in script.update_lines.items():
            by_line.setdefault(line, []).append(name)
        out: list[str] = []
        self._shown, self._source_of = {}, {}
        self._update_display, self._value_display = [], []
        # Each update line, then one line per value it computed (under it, where a long
        # line's end would be out of sight), marked as a comment.
        for number, text in enumerate(script.text.splitlines(), 1):
            out.append(text)
            self._source_of[len(out)] = number
            if number not in by_line:
                continue
            self._update_display.append(len(out))
            indent = text[: len(text) - len(text.lstrip())]
            for name in by_line[number]:
                if name in self._values:
                    self._shown[name] = format_value(self._values[name])
                    out.append(f"{indent}{VALUE_MARK}{name} = {self._shown[name]}")
                    self._value_display.append(len(out))
        bar = self.text.verticalScrollBar().value()
        self.text.setPlainText("\n".join(out))
        self.text.verticalScrollBar().setValue(bar)
        self._highlight()

    def _highlight(self) -> None:
        doc = self.text.document()
        selections = []
        line_format = QTextCharFormat()
        line_format.setBackground(QColor(self._palette.code_line))
        line_format.setProperty(QTextFormat.Property.FullWidthSelection, True)
        value_format = QTextCharFormat(line_format)
        value_format.setForeground(QColor(self._palette.code_value))
        for lines, fmt in (
            (self._update_display, line_format),
            (self._value_display, value_format),
        ):
            for line in lines:
                block = doc.findBlockByLineNumber(line - 1)
                if block.isValid():
                    selection = QTextEdit.ExtraSelection()
                    selection.cursor = QTextCursor(block)
                    selection.format = fmt
                    selections.append(selection)
        self.text.setExtraSelections(selections)
