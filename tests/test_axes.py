"""Tests for gui.axes: no SI scale factor on any plot, tick labels that read the true values."""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pytest
from PySide6 import QtGui
from pytestqt.qtbot import QtBot

from core.presets import preset_config
from core.runinfo import RunInfo, run_info
from core.trainer import Snapshot, Trainer
from gui.axes import ReadableAxis, format_ticks
from gui.plots import FitView, LossView, ParamView, PlotView
from gui.teaching import ResidualView, WeightBarsView


@pytest.fixture(scope="module")
def run() -> tuple[RunInfo, Snapshot]:
    trainer = Trainer(preset_config("playground"))
    trainer.run_steps(40)
    return run_info(trainer), trainer.snapshot()


def test_format_ticks_plain_and_scientific() -> None:
    assert format_ticks([1e9, 1.2e9, 1.4e9], 2e8) == ["1e9", "1.2e9", "1.4e9"]
    assert format_ticks([9.8e8, 1e9, 1.02e9], 2e7) == ["9.8e8", "1e9", "1.02e9"]
    assert format_ticks([100.001, 100.0012], 0.0002) == ["100.0010", "100.0012"]
    assert format_ticks([0.095, 0.1, 0.105], 0.005) == ["0.095", "0.100", "0.105"]
    assert format_ticks([0.0, 2e-5, 4e-5], 2e-5) == ["0", "2e-5", "4e-5"]
    assert format_ticks([200_000.0, 400_000.0], 200_000.0) == ["200000", "400000"]
    # A spacing of 2.5 needs a decimal; a tick at zero that came out as 5.6e-17 reads 0.
    assert format_ticks([0.0, 2.5, 5.0, 7.5], 2.5) == ["0.0", "2.5", "5.0", "7.5"]
    assert format_ticks([5.551115123125783e-17, 0.2], 0.2) == ["0.0", "0.2"]
    assert format_ticks([1.0], 0.0) == ["1"]


def _shown(view: PlotView, qtbot: QtBot) -> None:
    view.resize(800, 500)
    view.show()
    qtbot.waitExposed(view)


def _title(view: PlotView, name: str) -> str:
    """The axis title as text (its HTML without the tags)."""
    return re.sub(r"<[^>]+>", "", view.plotItem.getAxis(name).labelString()).strip()


def _ticks(view: PlotView, name: str) -> list[tuple[float, str]]:
    """(value, label) of the major ticks the axis draws now, as pyqtgraph asks for them."""
    axis = view.plotItem.getAxis(name)
    lo, hi = axis.range
    length = axis.geometry().width() if name == "bottom" else axis.geometry().height()
    spacing, values = axis.tickValues(lo, hi, length)[0]
    strings = axis.tickStrings(values, axis.autoSIPrefixScale * axis.scale, spacing)
    return list(zip(values, strings, strict=True))


def _with_params(snap: Snapshot, values: np.ndarray) -> Snapshot:
    steps = np.arange(values.shape[0], dtype=np.float64)
    return dataclasses.replace(
        snap, loss_steps=steps, loss_values=np.ones(steps.size), param_values=values
    )


@pytest.mark.parametrize(
    "lo, hi",
    [(0.095, 0.11), (1.0e9, 1.3e9), (100.001, 100.002), (-3e-7, 5e-7)],
    ids=["0.1 (was x0.001)", "1e9 (was x1e+09)", "100.001 offsets", "tiny"],
)
def test_parameter_axis_reads_true_values(qtbot: QtBot, run, lo: float, hi: float) -> None:
    info, snap = run
    view = ParamView()
    qtbot.addWidget(view)
    view.set_run(dataclasses.replace(info, true_theta=None))  # only the curves set the range
    values = np.column_stack((np.linspace(lo, hi, 50), np.linspace(hi, lo, 50)))
    view.update_snapshot(_with_params(snap, values))
    _shown(view, qtbot)
    assert _title(view, "left") == "value"
    ticks = _ticks(view, "left")
    assert len(ticks) >= 2
    for value, text in ticks:
        # The label is the tick's true value, to the precision the spacing shows.
        assert float(text) == pytest.approx(value, rel=1e-6, abs=(hi - lo) * 1e-3)
    assert len({text for _, text in ticks}) == len(ticks)


def test_log_loss_axis_labels_decades_without_a_factor(qtbot: QtBot, run) -> None:
    # After a divergence: losses up to 1e9, the noise floor at 0.25.
    info, snap = run
    view = LossView()
    qtbot.addWidget(view)
    view.set_run(info)
    losses = np.geomspace(0.3, 2e9, snap.loss_steps.size)
    view.update_snapshot(dataclasses.replace(snap, loss_values=losses))
    view.set_log_y(True)
    _shown(view, qtbot)
    assert _title(view, "left") == "loss (MSE)"
    axis = view.plotItem.getAxis("left")
    scale = axis.autoSIPrefixScale * axis.scale
    assert axis.logTickStrings([9.0, math.log10(0.2), 0.0], scale, 1.0) == ["10⁹", "0.2", "1"]
    # The decades the axis draws read as their values (with a factor, 10⁹ read 1).
    labels = {round(v, 6): text for v, text in _ticks(view, "left")}
    assert labels[0.0] == "1" and labels[8.0] == "10⁸"


def test_a_log_axis_within_one_decade_still_has_labels(qtbot: QtBot, run) -> None:
    # Seen on a real display: noise 3.35, so the loss stayed between 11.2 and 15.6 and the
    # log axis, whose ticks are digits times powers of ten, showed no label at all.
    info, snap = run
    view = LossView()
    qtbot.addWidget(view)
    view.set_run(dataclasses.replace(info, noise_floor=11.2, initial_loss=15.6))
    losses = np.linspace(15.6, 11.2, snap.loss_steps.size)
    view.update_snapshot(
        dataclasses.replace(snap, loss_values=losses, epoch_train=losses[: snap.epoch_train.size])
    )
    view.set_log_y(True)
    _shown(view, qtbot)
    labels = [text for _, text in _ticks(view, "left") if text]
    assert len(labels) >= 2, labels
    for text in labels:
        assert 10 <= float(text) <= 20, labels  # true values, not "10" for 12


@pytest.mark.parametrize("cls", [LossView, FitView, ParamView, ResidualView, WeightBarsView])
def test_every_view_axis_is_readable(qtbot: QtBot, cls: type[PlotView]) -> None:
    view = cls()
    qtbot.addWidget(view)
    for name in ("left", "bottom"):
        axis = view.plotItem.getAxis(name)
        assert isinstance(axis, ReadableAxis) and not axis.autoSIPrefix


def test_an_export_makes_room_for_the_tick_labels(qtbot: QtBot, run, tmp_path) -> None:
    # Labels are measured while painting: a never-shown view exported at once hid labels
    # wider than its axis (all of "100.0012", ...).
    info, snap = run
    view = ParamView()
    qtbot.addWidget(view)
    view.resize(700, 350)
    view.set_run(dataclasses.replace(info, true_theta=None))
    values = np.column_stack((np.linspace(100.001, 100.002, 41), np.linspace(100.002, 100.001, 41)))
    view.update_snapshot(_with_params(snap, values))
    view.export_png(tmp_path / "p.png")
    axis = view.plotItem.getAxis("left")
    label_px = QtGui.QFontMetricsF(axis.style.get("tickFont") or QtGui.QFont()).horizontalAdvance(
        "100.0012"
    )
    assert axis.width() > label_px
