"""The predict panel and its overlay on the fit plot, fed as the window feeds its views."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore, QtWidgets

from core.config import Config
from core.predict import LeastSquaresFit
from core.runinfo import RunInfo, run_info
from core.trainer import Trainer
from gui.plots import FitView
from gui.predict_overlay import PredictionOverlay
from gui.predict_panel import MAX_ROWS, PredictPanel


def _trainer(weights: list[float], **data: object) -> Trainer:
    config = Config.from_dict(
        {
            "data": {"true_weights": weights, "true_bias": 0.5, "noise_std": 0.3, **data},
            "model": {"dtype": "float64"},
            "train": {"implementation": "numpy", "epochs": 5, "lr": 0.05},
        }
    )
    trainer = Trainer(config)
    trainer.run_steps(7)
    return trainer


@pytest.fixture
def panel(qtbot) -> PredictPanel:
    widget = PredictPanel()
    qtbot.addWidget(widget)
    widget.resize(700, 400)
    return widget


def _fed(panel: PredictPanel, trainer: Trainer) -> RunInfo:
    info = run_info(trainer)
    panel.set_run(info)
    panel.update_snapshot(trainer.snapshot())
    return info


def _cell(panel: PredictPanel, row: int, header: str) -> QtWidgets.QTableWidgetItem:
    table = panel.table
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    return table.item(row, headers.index(header))


ROWS = [[0.5, -1.0, 2.0], [10.0, 3.0, -4.0], [0.0, 0.0, 0.0]]


def test_predictions_are_the_current_parameters_applied(panel, qtbot) -> None:
    trainer = _trainer([1.5, -2.0, 0.5], standardize=True, n_samples=120)
    info = _fed(panel, trainer)
    panel.set_values(ROWS)
    x = np.array(ROWS)
    theta = trainer.theta_original()
    got = panel.results()
    np.testing.assert_allclose(got["prediction"], x @ theta[:-1] + theta[-1], rtol=1e-12)
    # Standardised training, original units in: the model's own view of the same rows agrees.
    ds, trained = trainer.dataset, trainer.theta()
    own = ((x - ds.shift) / ds.scale) @ trained[:-1] + trained[-1]
    np.testing.assert_allclose(got["prediction"], own, rtol=1e-9)
    fit = LeastSquaresFit.from_run_info(info)
    for key, value in zip(
        ("ols_prediction", "ols_lower", "ols_upper"), fit.interval(x), strict=True
    ):
        np.testing.assert_array_equal(got[key], value)
    np.testing.assert_allclose(got["true_value"], x @ [1.5, -2.0, 0.5] + 0.5, rtol=1e-15)
    assert _cell(panel, 1, "model").text() == f"{got['prediction'][1]:.6g}"
    assert float(_cell(panel, 1, "model").toolTip()) == got["prediction"][1]
    # The model moves on: the next snapshot's parameters give the next predictions.
    trainer.run_steps(40)
    with qtbot.waitSignal(panel.predictionsChanged, timeout=1000):
        panel.update_snapshot(trainer.snapshot())
    theta = trainer.theta_original()
    np.testing.assert_allclose(
        panel.results()["prediction"], x @ theta[:-1] + theta[-1], rtol=1e-12
    )
    assert "3 rows predicted" in panel.message()
    assert f"{info.n_train - 4:,} degrees of freedom" in panel.message()


def test_bad_cell_is_marked_and_named_and_its_text_kept(panel) -> None:
    _fed(panel, _trainer([1.0, 2.0]))
    panel.set_values([[1, 2], [3, 4]])
    _cell(panel, 1, "x2").setText("4x")  # as typing into the cell does
    assert panel.message_level == "error"
    assert panel.message() == "Row 2, x2: '4x' is not a number. Fix the cell marked red."
    assert _cell(panel, 1, "x2").text() == "4x"  # nothing the user typed is lost
    assert _cell(panel, 1, "x2").background().color() == panel.bad_cell()
    assert _cell(panel, 1, "model").text() == ""
    np.testing.assert_array_equal(panel.inputs(), [[1.0, 2.0]])  # the good row still predicts
    _cell(panel, 1, "x2").setText("inf")
    assert "'inf' is not a finite number" in panel.message()
    _cell(panel, 1, "x2").setText(" 4 ")
    assert panel.message_level == "info" and panel.results()["prediction"].shape == (2,)
    assert _cell(panel, 1, "x2").background().color() != panel.bad_cell()


def test_typing_fills_the_free_row_and_a_new_one_appears(panel) -> None:
    _fed(panel, _trainer([1.0, 2.0]))
    assert panel.table.rowCount() == 1
    _cell(panel, 0, "x1").setText("1.5")
    assert panel.table.rowCount() == 2
    assert "Row 1: enter a value for x2" in panel.message()
    _cell(panel, 0, "x2").setText("-2")
    np.testing.assert_array_equal(panel.inputs(), [[1.5, -2.0]])
    assert panel.table.rowCount() == 2


def test_paste_with_a_header_maps_columns_by_name(panel, qtbot) -> None:
    _fed(panel, _trainer([1.0, 2.0]))
    panel.set_values([[9, 9]])
    assert panel.paste_text("id\tx2\tx1\nA\t1\t2\nB\t3\t4\n")
    np.testing.assert_array_equal(panel.inputs(), [[9, 9], [2, 1], [4, 3]])
    # Ctrl+V on the table pastes the clipboard the same way.
    QtWidgets.QApplication.clipboard().setText("5 6\n7 8")
    panel.show()
    qtbot.waitExposed(panel)
    panel.table.setFocus()
    qtbot.keyClick(panel.table, QtCore.Qt.Key.Key_V, QtCore.Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(panel.inputs()[-2:], [[5, 6], [7, 8]])


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("1,2,3\n", "pasted row 1 has 3 values; the model has 2 features (x1, x2)"),
        ("x1,z\n1,2\n", "pasted header row: no column 'x2'"),
        ("\n \n", "the clipboard holds no rows"),
    ],
)
def test_paste_that_does_not_fit_changes_nothing(panel, text: str, needle: str) -> None:
    _fed(panel, _trainer([1.0, 2.0]))
    panel.set_values([[1, 2]])
    assert not panel.paste_text(text)
    assert needle in panel.message() and panel.message().startswith("Nothing pasted: ")
    assert panel.message_level == "error"
    np.testing.assert_array_equal(panel.inputs(), [[1.0, 2.0]])


def test_rows_scrolled_into_view_show_the_current_model(panel, qtbot) -> None:
    trainer = _trainer([1.0])
    _fed(panel, trainer)
    panel.show()
    qtbot.waitExposed(panel)
    panel.set_values([[i / 10] for i in range(MAX_ROWS)])
    trainer.run_steps(20)
    panel.update_snapshot(trainer.snapshot())  # a frame updates the rows on screen only
    theta = trainer.theta_original()
    want = np.arange(MAX_ROWS) / 10 * theta[0] + theta[1]
    np.testing.assert_allclose(panel.results()["prediction"], want, rtol=1e-12)
    assert _cell(panel, 0, "model").text() == f"{want[0]:.6g}"
    QtWidgets.QApplication.processEvents()  # the table lays out its new rows (scroll range)
    bar = panel.table.verticalScrollBar()
    assert bar.maximum() > 0
    bar.setValue(bar.maximum())
    assert _cell(panel, MAX_ROWS - 1, "model").text() == f"{want[-1]:.6g}"


def test_paste_beyond_the_row_limit_is_refused(panel) -> None:
    _fed(panel, _trainer([1.0]))
    assert not panel.paste_text("\n".join(str(i) for i in range(MAX_ROWS + 1)))
    assert "python main.py predict" in panel.message()
    assert panel.inputs().shape == (0, 1)


def test_rows_survive_a_new_run_with_the_same_features(panel) -> None:
    _fed(panel, _trainer([1.0, 2.0]))
    panel.set_values([[1, 2], [3, "x"]])
    _fed(panel, _trainer([3.0, -1.0]))  # new data, same feature names
    assert panel.inputs().tolist() == [[1.0, 2.0]]
    assert _cell(panel, 1, "x2").text() == "x"
    _fed(panel, _trainer([3.0]))  # one feature now: the old rows do not apply
    assert panel.feature_names() == ["x1"] and panel.inputs().shape == (0, 1)


def test_export_writes_the_rows_as_the_command_line_does(panel, tmp_path) -> None:
    trainer = _trainer([1.0, 2.0])
    _fed(panel, trainer)
    assert panel.export(tmp_path) == []  # no rows: no file
    panel.set_values([[0.1, 2], [3, "x"], [-1, 1e-3]])
    (path,) = panel.export(tmp_path / "out")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "x1,x2,prediction,ols_prediction,ols_lower,ols_upper,true_value"
    assert len(lines) == 3  # the row with a bad cell is not a prediction
    cells = [float(v) for v in lines[2].split(",")]
    assert cells[:2] == [-1.0, 1e-3]
    assert cells[2] == panel.results()["prediction"][1]


def test_remove_and_clear(panel) -> None:
    _fed(panel, _trainer([1.0]))
    panel.set_values([[1], [2], [3]])
    panel.table.selectRow(1)
    panel.remove_button.click()
    assert panel.inputs().tolist() == [[1.0], [3.0]]
    panel.clear_button.click()
    assert panel.inputs().shape == (0, 1) and panel.table.rowCount() == 1


def test_every_input_has_a_tooltip(panel) -> None:
    _fed(panel, _trainer([1.0, 2.0]))
    panel.set_values([[1, 2]])
    for widget in (
        panel.table,
        panel.paste_button,
        panel.remove_button,
        panel.clear_button,
        panel.band_check,
    ):
        assert widget.toolTip(), widget.objectName()
    table = panel.table
    for c in range(table.columnCount()):
        assert table.horizontalHeaderItem(c).toolTip()
    for r in range(table.rowCount()):
        for c in range(2):
            assert "original units" in table.item(r, c).toolTip()


def test_standardised_run_says_inputs_are_in_original_units(panel) -> None:
    _fed(panel, _trainer([1.0, 2.0], standardize=True))
    assert "original units" in panel.intro.text() and "standardised" in panel.intro.text()
    _fed(panel, _trainer([1.0, 2.0]))
    assert "standardised" not in panel.intro.text()


# ---- the overlay on the fit plot ----------------------------------------------------------
@pytest.fixture
def fit_view(qtbot) -> FitView:
    view = FitView()
    qtbot.addWidget(view)
    view.resize(700, 450)
    return view


def _attached(qtbot, panel, fit_view, trainer) -> tuple[PredictionOverlay, RunInfo]:
    overlay = PredictionOverlay(fit_view)
    panel.attach_overlay(overlay)
    info = run_info(trainer)
    fit_view.set_run(info)  # the window sets the fit view's run first, then the panel's
    _fed(panel, trainer)
    fit_view.update_snapshot(trainer.snapshot())
    return overlay, info


def _legend(fit_view: FitView) -> list[str]:
    return [label.text for _, label in fit_view.legend.items]


def test_entered_points_sit_on_the_lines(qtbot, panel, fit_view) -> None:
    trainer = _trainer([2.0])
    overlay, info = _attached(qtbot, panel, fit_view, trainer)
    panel.set_values([[-1.0], [0.5], [4.0]])
    x, y = overlay.model_points.getData()
    theta = trainer.theta_original()
    np.testing.assert_array_equal(x, [-1.0, 0.5, 4.0])
    np.testing.assert_allclose(y, x * theta[0] + theta[1], rtol=1e-12)
    _, y_ols = overlay.ols_points.getData()
    np.testing.assert_allclose(y_ols, x * info.ols_theta[0] + info.ols_theta[1], rtol=1e-12)
    _, y_true = overlay.true_points.getData()
    np.testing.assert_allclose(y_true, 2.0 * x + 0.5, rtol=1e-15)
    assert "your inputs" in _legend(fit_view)
    assert "Row 3 lies outside the training data" in panel.message()  # x = 4 is past the data
    # Training moves the current line; the points move with it.
    trainer.run_steps(30)
    overlay.update_snapshot(trainer.snapshot())
    theta = trainer.theta_original()
    np.testing.assert_allclose(overlay.model_points.getData()[1], x * theta[0] + theta[1])


def test_band_toggles_and_matches_the_interval(qtbot, panel, fit_view, tmp_path) -> None:
    trainer = _trainer([2.0])
    overlay, info = _attached(qtbot, panel, fit_view, trainer)
    panel.set_values([[8.0]])  # beyond the data: the band reaches it
    assert overlay.band()[0].size == 0 and not overlay.band_fill.isVisible()
    panel.band_check.setChecked(True)
    assert overlay.band_visible() and overlay.band_fill.isVisible()
    x, lo, hi = overlay.band()
    assert x[-1] == 8.0 and x[0] < info.x.min()
    _, want_lo, want_hi = LeastSquaresFit.from_run_info(info).interval(x[:, None])
    np.testing.assert_array_equal(lo, want_lo)
    np.testing.assert_array_equal(hi, want_hi)
    assert "95 % prediction band" in _legend(fit_view)
    fit_view.export_png(tmp_path / "fit.png")  # File > Export run draws the overlay too
    fit_view.export_svg(tmp_path / "fit.svg")
    assert "<path" in (tmp_path / "fit.svg").read_text(encoding="utf-8")
    # A new run clears the fit view's legend; the overlay's entries come back with it.
    fit_view.set_run(info)
    panel.set_run(info)
    panel.update_snapshot(trainer.snapshot())
    assert {"your inputs", "95 % prediction band"} <= set(_legend(fit_view))
    overlay.set_band_visible(False)  # the public toggle
    assert not overlay.band_lower.isVisible() and "95 % prediction band" not in _legend(fit_view)


def test_several_features_draw_nothing_on_the_fit_plot(qtbot, panel, fit_view) -> None:
    overlay, _ = _attached(qtbot, panel, fit_view, _trainer([1.0, 2.0]))
    panel.set_values([[1, 2]])
    panel.band_check.setChecked(True)
    assert not panel.band_check.isEnabled()
    assert overlay.model_points.getData()[0].size == 0
    assert overlay.band()[0].size == 0
    assert "your inputs" not in _legend(fit_view)
    assert panel.results()["prediction"].shape == (1,)  # the table still predicts


def test_bad_cells_and_the_message_follow_the_theme(panel) -> None:
    from gui.style import DARK, LIGHT

    _fed(panel, _trainer([1.0, 2.0]))
    panel.set_values([[1, 2], [3, 4]])
    _cell(panel, 1, "x2").setText("4x")
    panel.set_palette(DARK)
    assert _cell(panel, 1, "x2").background().color().name() == DARK.banners["error"].background
    assert _cell(panel, 0, "x2").background().style() == QtCore.Qt.BrushStyle.NoBrush
    assert DARK.banners["error"].text in panel.message_label.styleSheet()
    panel.set_palette(LIGHT)
    assert _cell(panel, 1, "x2").background().color().name() == LIGHT.banners["error"].background
