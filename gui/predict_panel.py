"""Predict with the current model: a table of inputs with their predictions; attached to a
PredictionOverlay (gui/predict_overlay.py) it draws them, and the least-squares prediction
band, on the fit plot.

The panel is a view like the plots (set_run for a new run, update_snapshot for the current
parameters) and holds no training state; the arithmetic is core.predict's.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from core.errors import DataError
from core.predict import LeastSquaresFit, model_predict, predict_columns
from core.predict_io import PredictInput, parse_cell, split_pasted, write_predictions
from core.runinfo import RunInfo
from core.snapshot import Snapshot
from gui.predict_overlay import PredictionOverlay
from gui.style import Palette, palette_of

MAX_ROWS = 1000  # rows the table holds (a whole file is for `python main.py predict`)
DIGITS = 6  # significant digits shown in the table (the tooltip has them all)


def message_style(level: str, palette: Palette) -> str:
    """The message line's style sheet: muted for info, the error banner's colours for errors."""
    if level == "error":
        return f"{palette.banners['error'].css()} padding: 3px;"
    return f"color: {palette.muted_text};"


# Result columns: key in core.predict's output, header, tooltip.
RESULTS = (
    ("prediction", "model", "The current model's prediction: x · w + b with the weights now"),
    ("ols_prediction", "least squares", "The least-squares (best possible linear) prediction"),
    ("ols_lower", "95 % from", "Lower end of the 95 % prediction interval of least squares"),
    ("ols_upper", "95 % to", "Upper end of the 95 % prediction interval of least squares"),
    ("true_value", "true line", "The true line's value (no noise), for generated data"),
)
_EDITABLE = (
    QtCore.Qt.ItemFlag.ItemIsEnabled
    | QtCore.Qt.ItemFlag.ItemIsSelectable
    | QtCore.Qt.ItemFlag.ItemIsEditable
)
_READ_ONLY = QtCore.Qt.ItemFlag.ItemIsEnabled | QtCore.Qt.ItemFlag.ItemIsSelectable


def _text(value: float) -> str:
    return f"{value:.{DIGITS}g}" if math.isfinite(value) else "—"


class PredictPanel(QtWidgets.QWidget):
    """Enter or paste feature values; see the model's, least squares' and the true line's
    predictions, with a 95 % prediction interval."""

    # The predictions changed (new inputs, a new run or new parameters).
    predictionsChanged = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("predictPanel")
        self.intro = QtWidgets.QLabel()
        self.intro.setObjectName("predictIntro")
        self.intro.setWordWrap(True)
        self.table = QtWidgets.QTableWidget(1, 0)
        self.table.setObjectName("predictTable")
        self.table.setToolTip(
            "Type a value for each feature in a row (the last row is always free for a new "
            "one), or paste rows with Ctrl+V"
        )
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Stretch)
        self.paste_button = self._button(
            "predictPaste",
            "Paste rows",
            self.paste,
            (
                "Add rows from the clipboard: one row per line, values separated by tabs, commas, "
                "semicolons or spaces, in feature order (or under a header row naming the features)"
            ),
        )
        self.remove_button = self._button(
            "predictRemove", "Remove rows", self.remove_selected, "Remove the selected rows"
        )
        self.clear_button = self._button("predictClear", "Clear", self.clear, "Remove every row")
        self.band_check = QtWidgets.QCheckBox("Show the 95 % band on the fit plot")
        self.band_check.setObjectName("predictBand")
        self.band_check.setToolTip(
            "Shade where least squares expects 95 % of new observations to fall (one feature)"
        )
        self.band_check.toggled.connect(self._on_band_toggled)
        self.message_label = QtWidgets.QLabel()
        self.message_label.setObjectName("predictMessage")
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(
            QtCore.Qt.TextInteractionFlag.TextSelectableByMouse
        )
        buttons = QtWidgets.QHBoxLayout()
        for button in (self.paste_button, self.remove_button, self.clear_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.band_check)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.message_label)
        # Ctrl+V on the table (not in a cell being edited, whose editor pastes into itself).
        self.table.installEventFilter(self)
        self.table.itemChanged.connect(self._on_item_changed)
        self.table.verticalScrollBar().valueChanged.connect(self._show_scrolled)

        self._names: list[str] = []
        self._has_true = False
        self._fit: LeastSquaresFit | None = None
        self._true: np.ndarray | None = None
        self._data_range: tuple[np.ndarray, np.ndarray] | None = None
        self._weights: np.ndarray | None = None
        self._bias = 0.0
        self._rows: list[int] = []  # table rows with valid inputs, in order
        self._x = np.zeros((0, 0))
        self._results: dict[str, np.ndarray] = {}
        self._overlay: PredictionOverlay | None = None
        self._result_keys: list[str] = []
        self.message_level = "info"
        self._palette = palette_of()
        self._set_message("info", "Waiting for a run…")

    def set_palette(self, palette: Palette) -> None:
        """Colour the message and the bad cells from palette."""
        old = self.bad_cell()
        self._palette = palette
        self.message_label.setStyleSheet(message_style(self.message_level, palette))
        for r in range(self.table.rowCount()):
            for c in range(self.table.columnCount()):
                item = self.table.item(r, c)
                if item is not None and item.background().color() == old:
                    item.setBackground(self.bad_cell())

    def bad_cell(self) -> QtGui.QColor:
        """Background of a cell that holds no number."""
        return QtGui.QColor(self._palette.banners["error"].background)

    def eventFilter(self, watched: QtCore.QObject, event: QtCore.QEvent) -> bool:
        """Paste rows when the table gets the paste key."""
        if (
            watched is self.table
            and event.type() == QtCore.QEvent.Type.KeyPress
            and event.matches(QtGui.QKeySequence.StandardKey.Paste)
        ):
            self.paste()
            return True
        return super().eventFilter(watched, event)

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:
        """Fill in rows a taller table now shows."""
        super().resizeEvent(event)
        self._show_scrolled()

    def _button(self, name: str, text: str, slot, tip: str) -> QtWidgets.QPushButton:
        button = QtWidgets.QPushButton(text)
        button.setObjectName(name)
        button.setToolTip(tip)
        button.clicked.connect(slot)
        return button

    # ---- the view protocol -------------------------------------------------------------
    def set_run(self, info: RunInfo) -> None:
        """Lay the table out for a new run's features; rows entered for the same features stay."""
        kept = self._entered_text() if list(info.feature_names) == self._names else []
        self._names = list(info.feature_names)
        self._fit = LeastSquaresFit.from_run_info(info)
        self._true = None if info.true_theta is None else np.asarray(info.true_theta, float)
        self._has_true = self._true is not None
        self._weights = None
        x = np.asarray(info.x, dtype=np.float64)
        self._data_range = (x.min(axis=0), x.max(axis=0)) if x.size else None
        standardized = np.size(info.scale) and (
            np.any(np.asarray(info.scale) != 1.0) or np.any(np.asarray(info.shift) != 0.0)
        )
        units = (
            " The model trained on standardised features; type values in the data's original "
            "units, as in the file: the panel converts them."
            if standardized
            else ""
        )
        self.intro.setText(
            f"Predict {info.target_name} for new values of {', '.join(self._names)}. Each row "
            "shows the current model's prediction, least squares' with its 95 % prediction "
            f"interval{', and the true line' if self._has_true else ''}.{units}"
        )
        self._layout_columns()
        self._fill(kept)
        if self._overlay is not None:
            self._overlay.set_run(info)
        self.band_check.setEnabled(len(self._names) == 1 and self._fit is not None)
        self._recompute()

    def update_snapshot(self, snap: Snapshot) -> None:
        """Recompute the model's predictions with the snapshot's parameters."""
        self._weights = np.asarray(snap.weights, dtype=np.float64)
        self._bias = float(snap.bias)
        if self._overlay is not None:
            self._overlay.update_snapshot(snap)
        if self._rows and self._weights.size == len(self._names):
            pred = model_predict(self._x, self._weights, self._bias)
            self._results["prediction"] = pred
            self._show_column("prediction", pred, shown_only=True)
            self.predictionsChanged.emit()

    def attach_overlay(self, overlay: PredictionOverlay) -> None:
        """Draw the entered rows (and the band, when switched on) with this overlay."""
        self._overlay = overlay
        overlay.set_band_visible(self.band_check.isChecked())
        overlay.set_inputs(self._x)

    # ---- public actions -------------------------------------------------------------------
    def feature_names(self) -> list[str]:
        """The features a row needs, in column order."""
        return list(self._names)

    def set_values(self, rows: Sequence[Sequence[float | str]]) -> None:
        """Replace the rows with these values (numbers or text, in feature order)."""
        self._fill([[str(v) for v in row] for row in rows])
        self._recompute()

    def paste_text(self, text: str) -> bool:
        """Add rows parsed from text; False (with a message, nothing changed) if it does not fit."""
        try:
            rows = split_pasted(text, self._names)
        except DataError as exc:
            self._set_message("error", f"Nothing pasted: {exc}.")
            return False
        kept = self._entered_text()
        if len(kept) + len(rows) > MAX_ROWS:
            self._set_message(
                "error",
                f"Nothing pasted: {len(rows)} more rows would make {len(kept) + len(rows)}; the "
                f"panel holds {MAX_ROWS} (use `python main.py predict` for a whole file).",
            )
            return False
        self._fill(kept + rows)
        self._recompute()
        return True

    def paste(self) -> bool:
        """Add rows from the clipboard."""
        return self.paste_text(QtWidgets.QApplication.clipboard().text())

    def remove_selected(self) -> None:
        """Remove the selected rows (the free last row stays)."""
        chosen = {index.row() for index in self.table.selectionModel().selectedRows()}
        rows = [r for r in range(self.table.rowCount()) if r not in chosen]
        self._fill([self._row_text(r) for r in rows if any(self._row_text(r))])
        self._recompute()

    def clear(self) -> None:
        """Remove every row."""
        self._fill([])
        self._recompute()

    def export(self, folder: str | Path) -> list[Path]:
        """Write the valid rows and their predictions to folder/predictions.csv, as the
        command line's `predict` writes them; [] when there are none."""
        if not self._rows:
            return []
        rows = [[repr(v) for v in row] for row in self._x.tolist()]
        table = PredictInput(header=list(self._names), rows=rows, x=self._x, path="")
        return [write_predictions(Path(folder) / "predictions.csv", table, self._results)]

    def inputs(self) -> np.ndarray:
        """The valid rows' features, (m, d), in original units."""
        return self._x.copy()

    def results(self) -> dict[str, np.ndarray]:
        """The predictions shown, one array per column (core.predict.COLUMNS), valid rows only."""
        return {k: v.copy() for k, v in self._results.items()}

    def message(self) -> str:
        """The message under the table."""
        return self.message_label.text()

    # ---- table --------------------------------------------------------------------------
    def _layout_columns(self) -> None:
        results = [r for r in RESULTS if r[0] != "true_value" or self._has_true]
        with QtCore.QSignalBlocker(self.table):
            self.table.setColumnCount(len(self._names) + len(results))
            for c, name in enumerate(self._names):
                item = QtWidgets.QTableWidgetItem(name)
                item.setToolTip(f"{name}: type its value in the data's original units")
                self.table.setHorizontalHeaderItem(c, item)
            for k, (_, header, tip) in enumerate(results):
                item = QtWidgets.QTableWidgetItem(header)
                item.setToolTip(tip)
                self.table.setHorizontalHeaderItem(len(self._names) + k, item)
        self._result_keys = [key for key, _, _ in results]

    def _fill(self, rows: list[list[str]]) -> None:
        """Put rows of feature text in the table, plus the free last row."""
        d = len(self._names)
        with QtCore.QSignalBlocker(self.table):
            self.table.setRowCount(len(rows) + 1)
            for r in range(len(rows) + 1):
                cells = rows[r] if r < len(rows) else []
                for c in range(self.table.columnCount()):
                    editable = c < d
                    text = cells[c] if editable and c < len(cells) else ""
                    item = QtWidgets.QTableWidgetItem(text)
                    item.setFlags(_EDITABLE if editable else _READ_ONLY)
                    if editable:
                        item.setToolTip(f"Value of {self._names[c]} (original units)")
                    self.table.setItem(r, c, item)

    def _row_text(self, r: int) -> list[str]:
        d = len(self._names)
        return [(self.table.item(r, c).text() if self.table.item(r, c) else "") for c in range(d)]

    def _entered_text(self) -> list[list[str]]:
        rows = (self._row_text(r) for r in range(self.table.rowCount()))
        return [row for row in rows if any(cell.strip() for cell in row)]

    def _on_item_changed(self, item: QtWidgets.QTableWidgetItem) -> None:
        if item.column() >= len(self._names):
            return
        last = self.table.rowCount() - 1
        if item.row() == last and item.text().strip() and last < MAX_ROWS:
            self._append_free_row()
        self._recompute()

    def _append_free_row(self) -> None:
        r = self.table.rowCount()
        with QtCore.QSignalBlocker(self.table):
            self.table.insertRow(r)
            for c in range(self.table.columnCount()):
                item = QtWidgets.QTableWidgetItem("")
                item.setFlags(_EDITABLE if c < len(self._names) else _READ_ONLY)
                if c < len(self._names):
                    item.setToolTip(f"Value of {self._names[c]} (original units)")
                self.table.setItem(r, c, item)

    # ---- predictions ------------------------------------------------------------------------
    def _recompute(self) -> None:
        """Read every row, mark bad cells, predict the valid rows and say what happened."""
        d = len(self._names)
        rows, values = [], []
        errors: list[str] = []
        incomplete: list[str] = []
        with QtCore.QSignalBlocker(self.table):
            for r in range(self.table.rowCount()):
                texts = self._row_text(r)
                if not any(t.strip() for t in texts):
                    self._clear_results(r)
                    continue
                row: list[float] = []
                for c, text in enumerate(texts):
                    value, problem = parse_cell(text)
                    item = self.table.item(r, c)
                    item.setBackground(self.bad_cell() if problem else QtGui.QBrush())
                    item.setToolTip(problem or f"Value of {self._names[c]} (original units)")
                    if problem:
                        errors.append(f"Row {r + 1}, {self._names[c]}: {problem}")
                    elif value is None:
                        incomplete.append(f"Row {r + 1}: enter a value for {self._names[c]}")
                    else:
                        row.append(value)
                if len(row) == d:
                    rows.append(r)
                    values.append(row)
                else:
                    self._clear_results(r)
        self._rows = rows
        self._x = np.array(values, dtype=np.float64).reshape(len(rows), d)
        weights = self._weights if self._weights is not None else np.full(d, np.nan)
        if weights.size != d:
            weights = np.full(d, np.nan)
        self._results = predict_columns(self._x, weights, self._bias, self._fit, self._true)
        for key in self._result_keys:
            self._show_column(key, self._results[key])
        if self._overlay is not None:
            self._overlay.set_inputs(self._x)
        self._say(errors, incomplete)
        self.predictionsChanged.emit()

    def _show_column(self, key: str, values: np.ndarray, shown_only: bool = False) -> None:
        """Put a result column's values in the table (shown_only: the rows on screen, which is
        what a frame needs: 1000 rows of text cost ~7 ms, the screenful ~0.3 ms)."""
        c = len(self._names) + self._result_keys.index(key)
        rows, vals = self._rows, values.tolist()
        if shown_only and rows:
            top = self.table.rowAt(0)
            bottom = self.table.rowAt(self.table.viewport().height() - 1)
            top = 0 if top < 0 else top
            bottom = rows[-1] if bottom < 0 else bottom
            lo, hi = bisect.bisect_left(rows, top), bisect.bisect_right(rows, bottom)
            rows, vals = rows[lo:hi], vals[lo:hi]
        with QtCore.QSignalBlocker(self.table):
            for r, value in zip(rows, vals, strict=True):
                item = self.table.item(r, c)
                text = _text(value)
                if item.text() != text:  # most frames change nothing a reader can see
                    item.setText(text)
                    item.setToolTip(repr(value))

    def _show_scrolled(self) -> None:
        """Fill in the model column of rows scrolled into view since the last snapshot."""
        if self._rows and "prediction" in self._results:
            self._show_column("prediction", self._results["prediction"], shown_only=True)

    def _clear_results(self, r: int) -> None:
        for c in range(len(self._names), self.table.columnCount()):
            item = self.table.item(r, c)
            if item is not None and item.text():
                item.setText("")
                item.setToolTip("")

    def _say(self, errors: list[str], incomplete: list[str]) -> None:
        level, text = predict_message(
            errors, incomplete, self._names, len(self._rows), self._fit, self._outside()
        )
        self._set_message(level, text)

    def _outside(self) -> list[int]:
        """Table rows (1-based) with a feature outside the training sample's range."""
        if self._data_range is None or not self._rows:
            return []
        lo, hi = self._data_range
        out = np.any((self._x < lo) | (self._x > hi), axis=1)
        return [self._rows[k] + 1 for k in np.flatnonzero(out)]

    def _set_message(self, level: str, text: str) -> None:
        self.message_label.setStyleSheet(message_style(level, self._palette))
        self.message_label.setText(text)
        self.message_level = level

    def _on_band_toggled(self, on: bool) -> None:
        if self._overlay is not None:
            self._overlay.set_band_visible(on)


def predict_message(
    errors: list[str],
    incomplete: list[str],
    names: Sequence[str],
    n_rows: int,
    fit: object | None,
    outside: list[int],
) -> tuple[str, str]:
    """The level and text under the predict table: the first bad cell, what to type, or how
    many rows were predicted, the interval used, and rows outside the training data."""
    if errors:
        more = f" (and {len(errors) - 1} more cells)" if len(errors) > 1 else ""
        return "error", f"{errors[0]}{more}. Fix the cell marked red."
    if not n_rows:
        hint = (
            incomplete[0] if incomplete else f"Type values for {', '.join(names)} in the first row"
        )
        return "info", f"{hint}, or paste rows (Ctrl+V)."
    parts = [f"{n_rows} row{'s' if n_rows != 1 else ''} predicted."]
    t_value = getattr(fit, "t_value", math.nan)
    if fit is None or not math.isfinite(t_value):
        parts.append("No interval: least squares has no spare training rows to estimate it.")
    else:
        parts.append(
            f"Interval: least squares' prediction ± t·s·√(1 + h), t = {t_value:.4g} "
            f"with {getattr(fit, 'df', 0):,} degrees of freedom."
        )
    if outside:
        rows = ", ".join(map(str, outside))
        which = f"Rows {rows} lie" if len(outside) > 1 else f"Row {rows} lies"
        parts.append(f"{which} outside the training data: the interval widens there.")
    if incomplete:
        parts.append(f"{incomplete[0]}.")
    return "info", " ".join(parts)
