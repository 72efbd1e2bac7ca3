"""Tests for gui.teaching: residual view, weight bars, explanations and the '?' button."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtGui import QImage, QPainter, QTextDocument
from PySide6.QtWidgets import QApplication, QToolTip, QWidget

from core.config import Config
from core.decimate import even_indices
from core.runinfo import RunInfo, run_info
from core.trainer import Snapshot, Trainer
from gui.teaching import (
    EXPLANATIONS,
    MAX_RESIDUAL_POINTS,
    ExplainButton,
    ResidualView,
    WeightBarsView,
    attach_explain_button,
)

VIEW_NAMES = ("lossPlot", "fitPlot", "paramPlot", "landscapePlot", "residualPlot", "weightBars")


def _config(weights: list[float], **data: object) -> Config:
    return Config.from_dict(
        {
            "data": {"true_weights": weights, "true_bias": 0.5, "noise_std": 0.0, **data},
            "train": {"implementation": "numpy", "epochs": 2},
        }
    )


@pytest.fixture(scope="module")
def run3() -> tuple[Trainer, RunInfo, Snapshot]:
    trainer = Trainer(_config([1.5, -2.0, 0.5], n_samples=300))
    trainer.run_steps(5)
    return trainer, run_info(trainer), trainer.snapshot()


def _plain(rich: str) -> str:
    doc = QTextDocument()
    doc.setHtml(rich)
    return doc.toPlainText()


def _drawn_ticks(view) -> list[str]:
    """The labels the bottom axis draws, left to right (laid out first, as a paint does)."""
    view.grab()
    axis = view.plotItem.getAxis("bottom")
    image = QImage(10, 10, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        texts = axis.generateDrawSpecs(painter)[2]
    finally:
        painter.end()
    return [text for rect, _, text in sorted(texts, key=lambda spec: spec[0].left())]


def _view(qtbot, cls, info: RunInfo, snap: Snapshot | None = None):
    view = cls()
    qtbot.addWidget(view)
    view.resize(700, 450)
    view.set_run(info)
    if snap is not None:
        view.update_snapshot(snap)
    return view


# ---- residuals --------------------------------------------------------------------------


def test_residuals_of_a_perfect_fit_are_zero(qtbot, run3) -> None:
    _, info, snap = run3
    perfect = dataclasses.replace(
        snap, weights=info.ols_theta[:-1].copy(), bias=float(info.ols_theta[-1]), train_loss=0.0
    )
    view = _view(qtbot, ResidualView, info, perfect)
    assert view.objectName() == "residualPlot"
    pred, res = view.points.getData()
    assert len(res) == info.x.shape[0]
    np.testing.assert_allclose(res, 0.0, atol=1e-9)
    np.testing.assert_allclose(pred, info.y, atol=1e-9)
    assert view.sigma == 0.0


def test_residuals_and_band_follow_the_snapshot(qtbot, run3) -> None:
    _, info, snap = run3
    view = _view(qtbot, ResidualView, info, snap)
    pred, res = view.points.getData()
    expected = info.x @ snap.weights + snap.bias
    np.testing.assert_allclose(pred, expected)
    np.testing.assert_allclose(res, info.y - expected)
    sigma = math.sqrt(snap.train_loss)  # loss kind "mse"
    assert view.sigma == pytest.approx(sigma)
    upper, lower = view.band_lines
    assert upper.isVisible() and lower.isVisible()
    assert upper.value() == pytest.approx(2 * sigma) and lower.value() == pytest.approx(-2 * sigma)
    # Axes are managed: every residual and both band lines are inside the shown range.
    (x_lo, x_hi), (y_lo, y_hi) = view.plotItem.getViewBox().viewRange()
    assert x_lo <= pred.min() and pred.max() <= x_hi
    assert y_lo <= min(res.min(), -2 * sigma) and max(res.max(), 2 * sigma) <= y_hi


def test_half_mse_doubles_the_loss_for_sigma(qtbot, run3) -> None:
    _, info, snap = run3
    half = dataclasses.replace(info, loss_kind="half_mse")
    view = _view(qtbot, ResidualView, half, dataclasses.replace(snap, train_loss=2.0))
    assert view.sigma == pytest.approx(2.0)
    assert view.band_lines[0].value() == pytest.approx(4.0)


def test_residuals_draw_an_even_subsample_of_big_samples(qtbot) -> None:
    trainer = Trainer(_config([1.0], n_samples=4000))
    info = run_info(trainer)
    assert info.x.shape[0] > MAX_RESIDUAL_POINTS
    view = _view(qtbot, ResidualView, info, trainer.snapshot())
    pred, _ = view.points.getData()
    assert len(pred) == MAX_RESIDUAL_POINTS
    keep = even_indices(info.x.shape[0], MAX_RESIDUAL_POINTS)
    assert keep[0] == 0 and keep[-1] == info.x.shape[0] - 1
    snap = trainer.snapshot()
    np.testing.assert_allclose(pred, info.x[keep] @ snap.weights + snap.bias)


def test_residuals_of_a_diverged_model_draw_nothing_and_do_not_warn(qtbot, run3) -> None:
    _, info, snap = run3
    bad = dataclasses.replace(
        snap, weights=np.array([np.inf, 1e308, np.nan]), bias=1e308, train_loss=math.inf
    )
    view = _view(qtbot, ResidualView, info, bad)
    pred, _ = view.points.getData()
    assert pred is None or len(pred) == 0
    assert not view.band_lines[0].isVisible()
    view.update_snapshot(snap)  # recovers on the next good snapshot
    assert len(view.points.getData()[0]) == info.x.shape[0]


# ---- weight bars ------------------------------------------------------------------------


def test_weight_bars_show_true_learned_and_least_squares(qtbot, run3) -> None:
    _, info, snap = run3
    weights = np.array([0.25, -1.0, 3.0])
    view = _view(qtbot, WeightBarsView, info, dataclasses.replace(snap, weights=weights))
    assert view.objectName() == "weightBars"
    heights = view.heights()
    np.testing.assert_array_equal(heights["learned"], weights)
    np.testing.assert_array_equal(heights["true"], info.true_theta[:-1])
    np.testing.assert_array_equal(heights["least squares"], info.ols_theta[:-1])
    labels = [label for _, label in view.legend.items]
    assert [lab.text for lab in labels] == ["true", "learned", "least squares"]
    assert _drawn_ticks(view) == info.feature_names
    # Every bar and zero are inside the shown y range.
    y_lo, y_hi = view.plotItem.getViewBox().viewRange()[1]
    everything = np.concatenate([weights, info.true_theta[:-1], info.ols_theta[:-1], [0.0]])
    assert y_lo <= everything.min() and everything.max() <= y_hi
    # Items are updated, not recreated.
    learned = view.learned_bars
    view.update_snapshot(dataclasses.replace(snap, weights=-weights))
    assert view.learned_bars is learned
    np.testing.assert_array_equal(view.heights()["learned"], -weights)


def test_weight_bars_without_true_weights(qtbot, run3) -> None:
    _, info, snap = run3
    csv_like = dataclasses.replace(info, true_theta=None)
    view = _view(qtbot, WeightBarsView, csv_like, snap)
    assert "true" not in view.heights()
    assert not view.true_bars.isVisible()
    assert [label.text for _, label in view.legend.items] == ["learned", "least squares"]


def test_weight_bars_thin_labels_of_many_features(qtbot) -> None:
    trainer = Trainer(_config([float(i % 5 - 2) for i in range(64)], n_samples=300))
    info = dataclasses.replace(
        run_info(trainer), feature_names=[f"a_rather_long_feature_name_{i}" for i in range(64)]
    )
    view = _view(qtbot, WeightBarsView, info, trainer.snapshot())
    ticks = _drawn_ticks(view)
    assert 1 < len(ticks) < 64
    assert all(len(name) <= 12 for name in ticks)
    np.testing.assert_array_equal(view.heights()["learned"], trainer.snapshot().weights)


# ---- export -----------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [ResidualView, WeightBarsView])
def test_views_export_png_and_svg_atomically(qtbot, run3, tmp_path: Path, cls) -> None:
    _, info, snap = run3
    view = _view(qtbot, cls, info, snap)
    png, svg = tmp_path / "v.png", tmp_path / "v.svg"
    view.export_png(png)
    view.export_svg(svg)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in svg.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.png", "v.svg"]


# ---- explanations -----------------------------------------------------------------------


def test_explanations_cover_every_view_in_a_few_sentences() -> None:
    assert set(VIEW_NAMES) <= set(EXPLANATIONS)
    for name in VIEW_NAMES:
        text = EXPLANATIONS[name]
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]
        assert 2 <= len(sentences) <= 4, (name, sentences)
    assert "diverge" in EXPLANATIONS["lossPlot"] and "batch size" in EXPLANATIONS["lossPlot"]


@pytest.mark.parametrize("name", VIEW_NAMES)
def test_explain_button_tooltip_is_the_explanation(qtbot, name: str) -> None:
    button = ExplainButton(name)
    qtbot.addWidget(button)
    assert button.objectName() == f"explain_{name}"
    assert button.text() == "?"
    assert _plain(button.toolTip()) == EXPLANATIONS[name]
    assert button.explanation == EXPLANATIONS[name]


# The offscreen platform cannot raise the tooltip window; a real display can.
@pytest.mark.qt_log_ignore("This plugin does not support raise")
def test_explain_button_click_shows_the_explanation(qtbot) -> None:
    host = QWidget()
    qtbot.addWidget(host)
    host.resize(300, 200)
    button = ExplainButton("lossPlot", host)
    host.show()
    qtbot.waitExposed(host)
    button.click()
    qtbot.waitUntil(QToolTip.isVisible)
    assert _plain(QToolTip.text()) == EXPLANATIONS["lossPlot"]
    QToolTip.hideText()


def test_explain_button_rejects_unknown_views() -> None:
    with pytest.raises(KeyError):
        ExplainButton("noSuchPlot")


def test_attach_explain_button_sits_in_the_corner(qtbot, run3) -> None:
    _, info, _ = run3
    view = _view(qtbot, ResidualView, info)
    button = attach_explain_button(view)
    assert button.parent() is view and button.objectName() == "explain_residualPlot"
    view.resize(500, 300)
    assert (button.x(), button.y()) == (4, 4)


@pytest.mark.parametrize("size", [(700, 450), (520, 300)])
def test_weight_bars_stay_below_the_legend(qtbot, size) -> None:
    trainer = Trainer(_config([2.0, -3.4, 5.6, 3.2, -0.6]))
    trainer.run_steps(300)
    info, snap = run_info(trainer), trainer.snapshot()
    view = _view(qtbot, WeightBarsView, info)
    view.resize(*size)
    view.show()
    qtbot.waitExposed(view)
    view.update_snapshot(snap)
    QApplication.processEvents()
    vb = view.plotItem.getViewBox()
    tallest = max(float(np.max(h)) for h in view.heights().values())
    bar_top = vb.mapViewToScene(pg.Point(0, tallest)).y()
    assert bar_top > view.legend.sceneBoundingRect().bottom()
