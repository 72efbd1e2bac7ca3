"""Tests for gui.export and gui.render: atomic PNG/SVG/CSV/JSON export, headless plots."""

from __future__ import annotations

import csv
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from core import files as files_module
from core.config import Config
from core.presets import preset_config
from core.runinfo import run_info
from core.trainer import Trainer
from gui import export
from gui.plots import FitView, LossView, ParamView
from gui.render import save_run_plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def trainer() -> Trainer:
    trainer = Trainer(preset_config("playground"))
    trainer.run_steps(60)
    trainer.set_hyper(lr=0.03)
    trainer.run_steps(40)
    return trainer


@pytest.fixture
def views(qtbot: QtBot, trainer: Trainer) -> dict[str, LossView | FitView | ParamView]:
    info, snap = run_info(trainer), trainer.snapshot()
    made = {"loss": LossView(), "fit": FitView(), "params": ParamView()}
    for view in made.values():
        qtbot.addWidget(view)
        view.resize(800, 500)
        view.set_run(info)
        view.update_snapshot(snap)
    return made


def _leftovers(folder: Path) -> list[str]:
    """Temp files an interrupted atomic write would leave (hidden names ending in .tmp*)."""
    return [p.name for p in folder.iterdir() if p.name.startswith(".") and ".tmp" in p.name]


def _svg_tags(path: Path) -> dict[str, int]:
    root = ET.parse(path).getroot()  # raises on invalid XML
    assert root.tag == f"{SVG}svg"
    counts: dict[str, int] = {}
    for element in root.iter():
        tag = element.tag.removeprefix(SVG)
        counts[tag] = counts.get(tag, 0) + 1
    return counts


@pytest.mark.parametrize("name", ["loss", "fit", "params"])
def test_view_png_export(views: dict, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    views[name].export_png(path)
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert len(data) > 10_000  # curves, text and grid: far more than a blank image
    image = QImage(str(path))
    assert (image.width(), image.height()) == (800, 500)
    assert _leftovers(tmp_path) == []


def test_png_export_width_scales(views: dict, tmp_path: Path) -> None:
    path = tmp_path / "loss_wide.png"
    views["loss"].export_png(path, width=1600)
    assert QImage(str(path)).width() == 1600


@pytest.mark.parametrize("name", ["loss", "fit", "params"])
def test_view_svg_export_is_valid_xml_with_curves(views: dict, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.svg"
    views[name].export_svg(path)
    tags = _svg_tags(path)
    assert tags.get("path", 0) + tags.get("polyline", 0) >= 5
    assert tags.get("text", 0) >= 5  # tick labels, axis labels, legend
    assert _leftovers(tmp_path) == []


def test_svg_contains_the_event_label(views: dict, tmp_path: Path) -> None:
    path = tmp_path / "loss.svg"
    views["loss"].export_svg(path)
    assert "lr 0.01 -&gt; 0.03" in path.read_text() or "lr 0.01 -> 0.03" in path.read_text()


@pytest.mark.parametrize("kind", ["png", "svg"])
def test_failed_view_export_raises_and_leaves_nothing(
    views: dict, tmp_path: Path, kind: str
) -> None:
    missing = tmp_path / "no_such_dir" / f"loss.{kind}"
    with pytest.raises(OSError, match=re.escape(str(missing))):
        getattr(views["loss"], f"export_{kind}")(missing)
    # The target is an existing directory: os.replace fails after the temp file was written.
    folder = tmp_path / f"taken.{kind}"
    folder.mkdir()
    with pytest.raises(OSError, match=re.escape(str(folder))):
        getattr(views["loss"], f"export_{kind}")(folder)
    assert folder.is_dir()
    assert _leftovers(tmp_path) == []


def test_failed_replace_keeps_the_old_file(
    views: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "fit.png"
    path.write_bytes(b"old")

    def refuse(src: object, dst: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(PermissionError, match=re.escape(str(path))):
        views["fit"].export_png(path)
    assert path.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []


def test_export_views_writes_png_and_svg(views: dict, tmp_path: Path) -> None:
    paths = export.export_views(views, tmp_path)
    names = sorted(p.name for p in paths)
    assert names == sorted(f"{n}.{k}" for n in views for k in ("png", "svg"))
    assert all(p.stat().st_size > 1000 for p in paths)


def test_export_window_png(qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    label = QLabel("hello")
    qtbot.addWidget(label)
    label.resize(200, 80)
    path = tmp_path / "window.png"
    export.export_window_png(label, path)
    assert path.read_bytes().startswith(PNG_MAGIC)
    assert QImage(str(path)).width() == 200
    with pytest.raises(OSError, match="nowhere"):
        export.export_window_png(label, tmp_path / "nowhere" / "w.png")

    def refuse(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    target = tmp_path / "window2.png"
    with pytest.raises(OSError, match=re.escape(str(target))):
        export.export_window_png(label, target)
    assert not (tmp_path / "window2.png").exists()
    assert _leftovers(tmp_path) == []


def test_window_png_goes_through_the_core_atomic_writer(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One atomic writer for every export: the screenshot, too, is made durable before the
    # rename publishes it (its own copy of the rename skipped the fsync).
    label = QLabel("hello")
    qtbot.addWidget(label)
    synced: list[int] = []
    real = files_module.os.fsync
    monkeypatch.setattr(files_module.os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    export.export_window_png(label, tmp_path / "w.png")
    assert len(synced) == 1
    assert (tmp_path / "w.png").read_bytes().startswith(PNG_MAGIC)


def test_export_history_writes_every_recorded_value_exactly(
    trainer: Trainer, tmp_path: Path
) -> None:
    steps_path, epochs_path = export.export_history(trainer.history, tmp_path)
    assert (steps_path.name, epochs_path.name) == ("history.csv", "epochs.csv")
    # Every step row the run recorded, each value exact (repr round trip), in order.
    step, loss, params = trainer.history.steps()
    with steps_path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["step", "loss", *trainer.history.param_names, "lr"]
    table = np.array(rows[1:], dtype=np.float64)
    assert table.shape == (step.size, 3 + params.shape[1]) == (101, 5)
    np.testing.assert_array_equal(table[:, 0], step)
    np.testing.assert_array_equal(table[:, 1], loss)
    np.testing.assert_array_equal(table[:, 2:-1], params)
    np.testing.assert_array_equal(table[:, -1], trainer.history.lrs())  # the rate each step used
    # Every epoch record; a run without a validation split leaves val_loss blank.
    epochs = trainer.history.epochs()
    with epochs_path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == epochs["epoch"].tolist()
    assert [int(r["step"]) for r in rows] == epochs["step"].tolist()
    assert [float(r["train_loss"]) for r in rows] == epochs["train_loss"].tolist()
    assert all(r["val_loss"] == "" for r in rows)


def test_export_history_failure_names_the_path(trainer: Trainer, tmp_path: Path) -> None:
    target = tmp_path / "gone"
    with pytest.raises(OSError, match=re.escape(str(target / "history.csv"))):
        export.export_history(trainer.history, target)
    assert not target.exists()


def test_export_config_round_trips(trainer: Trainer, tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    export.export_config(trainer.config, path)
    assert Config.from_json(path.read_text()).to_dict() == trainer.config.to_dict()
    taken = tmp_path / "dir.json"
    taken.mkdir()
    with pytest.raises(OSError, match=re.escape(str(taken))):
        export.export_config(trainer.config, taken)
    assert _leftovers(tmp_path) == []


def test_save_run_plots_writes_three_pngs(qtbot: QtBot, tmp_path: Path) -> None:
    trainer = Trainer(preset_config("d2l-concise-3"))
    trainer.run_steps(150)
    out = tmp_path / "out"
    paths = save_run_plots(trainer, out)
    assert [p.name for p in paths] == ["loss.png", "fit.png", "params.png"]
    for path in paths:
        assert path.read_bytes().startswith(PNG_MAGIC)
        image = QImage(str(path))
        assert (image.width(), image.height()) == (900, 600)
    assert _leftovers(out) == []
