"""The style module, the light and dark themes (View > Dark theme) and white exports."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtGui import QGuiApplication, QImage, QPalette, QStyleHints
from PySide6.QtWidgets import QApplication, QWidget

from core.presets import preset_config
from gui import session, style
from gui.landscape import LandscapeView, MultiPathLandscapeView
from gui.main_window import MainWindow
from gui.plots import LossView, ParamView, PlotView
from gui.predict_panel import PredictPanel
from gui.style import DARK, LIGHT
from tests.conftest import WAIT_MS

DARK_MAX = 80  # lightness (0-255) of a dark background, at most
LIGHT_MIN = 200  # ... and of a light one, at least


def _lightness(image: QImage, x: int, y: int) -> int:
    return image.pixelColor(x, y).lightness()


def _corner(widget: QWidget) -> int:
    """Lightness of a widget's bottom-right corner as it paints (a plot's background)."""
    image = widget.grab().toImage()
    return _lightness(image, image.width() - 3, image.height() - 3)


def _plot_widget(view: QWidget):
    return view.map.plot if isinstance(view, LandscapeView | MultiPathLandscapeView) else view


def _all_views(win: MainWindow) -> list[QWidget]:
    return [*win.views(), win.race_panel.loss_view, win.race_panel.landscape]


def _look(view: QWidget) -> tuple[str, str]:
    """(background, text) colours a view paints with."""
    if isinstance(view, PredictPanel):
        palette = view.palette()
        return (
            palette.color(QPalette.ColorRole.Window).name(),
            palette.color(QPalette.ColorRole.WindowText).name(),
        )
    plot = _plot_widget(view)
    axis = plot.getPlotItem().getAxis("left")
    return plot.backgroundBrush().color().name(), axis.textPen().color().name()


# ---- the style module -------------------------------------------------------------------
def test_palettes_name_the_same_roles_and_pens_are_cosmetic(qapp):
    assert LIGHT.background == "#ffffff" and DARK.dark and not LIGHT.dark
    pen = DARK.pen("current_fit", 3, style.DASH)
    assert pen.isCosmetic() and pen.widthF() == 3 and pen.style() == Qt.PenStyle.DashLine
    assert pen.color().name() == DARK.current_fit
    # Any colour passes through; an alpha can be given.
    assert LIGHT.color("#123456", 40).alpha() == 40
    assert LIGHT.brush("samples").color().alpha() == LIGHT.samples[3]
    # Dark lines keep their hue but are lighter than the light palette's.
    assert DARK.color("epoch_train").lightness() > LIGHT.color("epoch_train").lightness()


def test_the_dark_qt_palette_is_dark_and_the_light_one_light(qapp):
    assert style.is_dark(style.qt_palette(DARK))
    assert not style.is_dark(style.qt_palette(LIGHT))


def test_a_view_made_under_a_dark_application_palette_starts_dark(qtbot):
    QApplication.instance().setPalette(style.qt_palette(DARK))
    view = LossView()
    qtbot.addWidget(view)
    view.resize(500, 350)
    assert view.palette_in_use is DARK
    assert _corner(view) <= DARK_MAX


def test_set_palette_restyles_a_views_items_also_those_made_later(qtbot):
    view = LossView()
    qtbot.addWidget(view)
    view.mark_event(5, "lr 0.01 → 0.1")
    view.set_palette(DARK)
    view.mark_event(9, "diverged")
    event, diverged = view.markers
    assert event.pen.color().name() == DARK.event
    assert diverged.pen.color().name() == DARK.diverged
    assert view.train_curve.opts["pen"].color().name() == DARK.epoch_train
    view.set_palette(LIGHT)
    assert event.pen.color().name() == LIGHT.event
    assert view.floor_line.label.color.name() == LIGHT.noise_floor


# ---- the theme in the window ----------------------------------------------------------------
def test_the_dark_theme_darkens_the_plots_background(window, qtbot):
    view = window.loss_view
    assert not window.dark_theme_action.isChecked()
    assert _corner(view) >= LIGHT_MIN
    window.dark_theme_action.trigger()
    assert window.dark_theme_action.isChecked() and window.theme.is_dark()
    assert _corner(view) <= DARK_MAX
    window.dark_theme_action.trigger()
    assert _corner(view) >= LIGHT_MIN


def test_every_view_banner_and_control_follows_a_theme_switch(window, qtbot):
    window.show_message("info", "a message")
    for dark in (True, False):
        window.dark_theme_action.trigger()
        QApplication.processEvents()  # the application palette reaches the widgets
        palette = DARK if dark else LIGHT
        for view in _all_views(window):
            name = view.objectName()
            if isinstance(view, PredictPanel):
                assert style.is_dark(view.palette()) == dark, name
                assert palette.muted_text in view.message_label.styleSheet(), name
                continue
            assert _look(view) == (palette.background, palette.text), name
            lightness = _corner(_plot_widget(view))
            assert lightness <= DARK_MAX if dark else lightness >= LIGHT_MIN, name
        assert style.is_dark(window.panel.palette()) == dark
        assert palette.banners["info"].background in window.banner.styleSheet()
        button = window.findChild(QWidget, "explain_lossPlot")
        assert palette.muted_text in button.styleSheet()


def test_new_items_in_the_dark_take_dark_colours(window, qtbot):
    window.dark_theme_action.trigger()
    window.load_preset("d2l-concise-5")
    qtbot.waitUntil(lambda: len(window.param_view.curves) == 6, timeout=WAIT_MS)
    colors = [c.opts["pen"].color().name() for c in window.param_view.curves]
    assert colors == list(DARK.params[:6])


def test_the_theme_follows_the_desktop_at_start_and_while_no_choice_is_made(qtbot, monkeypatch):
    monkeypatch.setattr(QStyleHints, "colorScheme", lambda self: Qt.ColorScheme.Dark)
    win = MainWindow(preset_config("playground"))
    qtbot.addWidget(win)
    assert win.theme.is_dark() and win.dark_theme_action.isChecked()
    assert win.loss_view.palette_in_use is DARK
    hints = QGuiApplication.styleHints()
    hints.colorSchemeChanged.emit(Qt.ColorScheme.Light)
    assert not win.theme.is_dark() and not win.dark_theme_action.isChecked()
    # Once the user chose, the desktop no longer decides.
    win.dark_theme_action.trigger()
    hints.colorSchemeChanged.emit(Qt.ColorScheme.Light)
    assert win.theme.is_dark()
    win.shutdown()


def test_the_choice_of_theme_is_remembered(qtbot, tmp_path):
    path = str(tmp_path / "settings.ini")
    first = MainWindow(
        preset_config("playground"), settings=QSettings(path, QSettings.Format.IniFormat)
    )
    qtbot.addWidget(first)
    first.dark_theme_action.trigger()
    first.shutdown()
    settings = QSettings(path, QSettings.Format.IniFormat)
    assert session.saved_dark(settings) is True
    second = MainWindow(preset_config("playground"), settings=settings)
    qtbot.addWidget(second)
    assert second.theme.is_dark() and second.dark_theme_action.isChecked()
    second.shutdown()


# ---- exports stay white -------------------------------------------------------------------
def test_exports_keep_a_white_background_in_the_dark_theme(window, qtbot, tmp_path):
    window.dark_theme_action.trigger()
    window.refresh()
    paths = {p.name: p for p in window.export_run(tmp_path)}
    for name in ("loss.png", "fit.png", "params.png", "landscape.png", "weights.png"):
        image = QImage(str(paths[name]))
        assert _lightness(image, 1, 1) >= LIGHT_MIN, name
    for name in ("loss.svg", "landscape.svg"):
        text = paths[name].read_text()
        assert DARK.background not in text and DARK.text not in text, name
    shot = QImage(str(paths["window.png"]))
    corner = window.loss_view.mapTo(window, QPoint(window.loss_view.width() - 3, 5))
    assert _lightness(shot, corner.x(), corner.y()) >= LIGHT_MIN
    assert _lightness(shot, 2, shot.height() - 2) >= LIGHT_MIN  # the status bar
    # The window itself stays dark.
    assert window.loss_view.palette_in_use is DARK
    assert _corner(window.loss_view) <= DARK_MAX


def test_the_gif_is_white_and_an_export_can_keep_the_dark_theme(window, qtbot, tmp_path):
    window.dark_theme_action.trigger()
    window.step_epoch()
    qtbot.waitUntil(lambda: window.latest_snapshot() is not None, timeout=WAIT_MS)
    gif = tmp_path / "run.gif"
    window.export_gif(gif, frames=2)
    with Image.open(gif) as im:
        first = np.asarray(im.convert("RGB"))
    assert first[2, 2].mean() >= LIGHT_MIN
    assert _corner(window.loss_view) <= DARK_MAX
    dark_png = tmp_path / "dark.png"
    window.loss_view.export_png(dark_png, palette=None)  # as shown
    assert _lightness(QImage(str(dark_png)), 1, 1) <= DARK_MAX


def test_a_plot_can_be_exported_in_the_dark_palette(qtbot, tmp_path):
    view = ParamView()
    qtbot.addWidget(view)
    view.resize(400, 300)
    assert isinstance(view, PlotView) and view.palette_in_use is LIGHT
    view.export_png(tmp_path / "p.png", palette=DARK)
    assert _lightness(QImage(str(tmp_path / "p.png")), 1, 1) <= DARK_MAX
    assert view.palette_in_use is LIGHT


@pytest.mark.parametrize("level", ["info", "warning", "error"])
def test_banner_text_takes_its_levels_colour_in_both_themes(window, level):
    window.show_message(level, "text")
    for palette in (DARK, LIGHT):
        window.theme.set_dark(palette.dark)
        QApplication.processEvents()
        label = window.banner.label
        assert label.palette().color(QPalette.ColorRole.WindowText).name() == (
            palette.banners[level].text
        )


def test_the_landscape_keeps_its_colour_map_after_the_sweep_tab_is_built(window):
    # pyqtgraph shares one map per name: the sweep's reversed colour bar reversed it in place,
    # and a theme switch (or a second window) drew the landscape upside down.
    import pyqtgraph as pg

    viridis = pg.colormap.get("viridis").getLookupTable(nPts=2, alpha=False)
    assert tuple(viridis[0]) == (68, 1, 84)  # dark purple at the low end, as viridis is
    window.theme.set_dark(True)
    window.theme.set_dark(False)
    lut = window.landscape_view.map.image.lut
    assert lut[0].sum() < lut[-1].sum()  # low losses dark, high ones bright
