"""One place for the window's look: colour roles in a light and a dark palette, pens, fonts, the
Qt palette of the widgets, and the theme that switches between them live.

Views keep the palette they were last given (`set_palette`) and draw every item from its roles,
so items they make later (markers, curves per parameter) match. `Theme` sets the application's
QPalette for the widgets and hands its Palette to every object under its window that has a
`set_palette` method; `painted_as` does the same for one widget while it is exported.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from typing import Protocol, runtime_checkable

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

Color = str | tuple[int, int, int] | tuple[int, int, int, int]

DASH = QtCore.Qt.PenStyle.DashLine
DOT = QtCore.Qt.PenStyle.DotLine
TITLE_SIZE = "11pt"  # plot titles
NOTE_SIZE = "9pt"  # a title's smaller second line
LEVELS = ("info", "warning", "error")  # banner and message levels


@dataclass(frozen=True)
class BannerColors:
    """A message strip's colours."""

    background: str
    text: str
    border: str

    def css(self) -> str:
        """As style sheet declarations."""
        return f"background:{self.background}; color:{self.text}; border:1px solid {self.border};"


@dataclass(frozen=True)
class Palette:
    """Named colour roles of the plots and the widgets that draw their own colours."""

    name: str
    dark: bool
    # Frames: plot background, titles and tick labels, axis lines, legends, line labels.
    background: str
    text: str
    muted_text: str  # secondary text: hints, counts
    axis: str
    reference: str  # neutral reference lines: zero lines, the cursor, tolerance, keys
    legend_fill: Color
    legend_border: str
    label_fill: Color  # behind the labels of lines (noise floor, event markers)
    accent: str  # hover and focus of small controls
    # The loss plot.
    minibatch: str
    epoch_train: str
    validation: str
    noise_floor: str
    event: str  # a marker where a hyper-parameter changed
    diverged: str  # a divergence marker, and "diverged" in tables
    ghost: str  # another branch's curves, dimmed under the run's own
    # The fit plot, the weight bars and the predict overlay.
    true_line: str
    least_squares: str
    current_fit: str
    identity: str  # the predicted = actual diagonal
    samples: Color
    residuals: Color
    minibatch_points: str
    minibatch_edge: str
    mark_edge: str  # outline of entered points and race stars
    # The parameter plot: each weight, then the bias, cycling after these.
    params: tuple[str, ...]
    # The landscape: colour map (blended towards blend_to by blend), contours and marks.
    colormap: str
    blend: float
    blend_to: str
    contours: Color
    curve: str  # the one-parameter loss curve
    path: str
    gradient_full: str
    gradient_batch: str
    point_fill: str
    point_edge: str
    true_point: str
    true_point_edge: str
    minimum: str
    minimum_edge: str
    eigen_axis: str  # the Hessian's eigen-axes through the minimum
    cloud: Color  # the cloud of minibatch gradients (SGD's noise)
    cloud_ellipse: str  # ... and their exact covariance ellipse
    # The theory views: the rate over steps, the stable band, the SGD plateau on the loss
    # plot, and the eigen-directions between the named largest and smallest.
    lr_used: str
    lr_planned: str
    stable_band: Color
    plateau: str
    eigen_middle: Color
    # The optimizer race: one colour per run.
    race: tuple[str, ...]
    # The code view: the background of the update lines and the values shown beside them.
    code_line: str
    code_value: str
    # Messages: the banner's levels and bad input.
    banners: Mapping[str, BannerColors]
    unstable: str  # the learning-rate slider's unstable zone
    # The widgets (dark only: the light theme keeps the style's own palette).
    window: str
    base: str
    alternate_base: str
    button: str
    highlight: str
    link: str
    disabled_text: str

    def __hash__(self) -> int:
        return hash(self.name)  # banners is a dict: the generated hash would fail

    def color(self, role_or_color: object, alpha: int | None = None) -> QtGui.QColor:
        """A role's colour (or any colour pyqtgraph takes), optionally with alpha 0-255."""
        value = getattr(self, role_or_color) if _is_role(role_or_color) else role_or_color
        color = pg.mkColor(value)
        if alpha is not None:
            color.setAlpha(alpha)
        return color

    def pen(
        self,
        role_or_color: object,
        width: float = 2,
        style: QtCore.Qt.PenStyle | None = None,
    ) -> QtGui.QPen:
        """A cosmetic pen of a role's colour (or any colour)."""
        return pen(self.color(role_or_color), width, style)

    def brush(self, role_or_color: object, alpha: int | None = None) -> QtGui.QBrush:
        """A brush of a role's colour (or any colour)."""
        return QtGui.QBrush(self.color(role_or_color, alpha))

    def param(self, k: int) -> QtGui.QColor:
        """Colour of parameter k (the palette's list, then pyqtgraph's hue wheel)."""
        if k < len(self.params):
            return QtGui.QColor(self.params[k])
        return pg.intColor(k, hues=12, values=1, maxValue=230 if self.dark else 200)

    def colormap_lut(self) -> pg.ColorMap:
        """The landscape's colour map, blended towards blend_to so marks read on every part."""
        base = pg.colormap.get(self.colormap)
        colors = base.getLookupTable(nPts=64, alpha=False).astype(np.float64)
        target = np.array(pg.mkColor(self.blend_to).getRgb()[:3], dtype=np.float64)
        colors = (1.0 - self.blend) * colors + self.blend * target
        return pg.ColorMap(np.linspace(0.0, 1.0, 64), colors.astype(np.uint8))


_ROLES = frozenset(f.name for f in fields(Palette))


def _is_role(value: object) -> bool:
    return isinstance(value, str) and value in _ROLES


def pen(color: object, width: float = 2, style: QtCore.Qt.PenStyle | None = None) -> QtGui.QPen:
    """A cosmetic pen: its width stays in pixels whatever the zoom or the export size."""
    p = pg.mkPen(color, width=width)
    if style is not None:
        p.setStyle(style)
    p.setCosmetic(True)
    return p


# Tableau 10: distinct on white and friendly to the common colour-vision deficiencies.
TABLEAU = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
# The same hues lightened, so lines keep their contrast on a dark background.
TABLEAU_DARK = (
    "#4ea1e6",
    "#ffa14d",
    "#5cc85c",
    "#ff6b66",
    "#b995e6",
    "#c69486",
    "#f09ad2",
    "#b3b3b3",
    "#d8d94c",
    "#3dd3e6",
)
# Blue, orange, purple, brown: distinct from each other, from the landscape's viridis and its
# yellow minimum star. One set for both themes, so a race's colours never change under it.
RACE = ("#1f77b4", "#ff7f0e", "#9467bd", "#8c564b")

LIGHT = Palette(
    name="light",
    dark=False,
    background="#ffffff",
    text="#222222",
    muted_text="#555555",
    axis="#555555",
    reference="#444444",
    legend_fill=(255, 255, 255, 210),
    legend_border="#bbbbbb",
    label_fill=(255, 255, 255, 200),
    accent="#1f77b4",
    minibatch="#9ecae1",
    epoch_train=TABLEAU[0],
    validation=TABLEAU[1],
    noise_floor=TABLEAU[2],
    event=TABLEAU[4],
    diverged="#d32f2f",
    ghost="#a0a0a0",
    true_line=TABLEAU[2],
    least_squares=TABLEAU[4],
    current_fit=TABLEAU[3],
    identity=TABLEAU[7],
    samples=(110, 110, 110, 150),
    residuals=(31, 119, 180, 140),
    minibatch_points="#ff9f1c",
    minibatch_edge="#7a3e00",
    mark_edge="#222222",
    params=TABLEAU,
    colormap="viridis",
    blend=0.35,
    blend_to="#ffffff",
    contours=(255, 255, 255, 200),
    curve=TABLEAU[0],
    path=TABLEAU[3],
    gradient_full="#111111",
    gradient_batch=TABLEAU[1],
    point_fill="#ffffff",
    point_edge="#111111",
    true_point="#1a9641",
    true_point_edge="#ffffff",
    minimum="#ffd92f",
    minimum_edge="#111111",
    eigen_axis="#222222",
    cloud=(255, 127, 14, 150),
    cloud_ellipse="#7a3e00",
    lr_used=TABLEAU[0],
    lr_planned=TABLEAU[0],
    stable_band=(44, 160, 44, 40),
    plateau=TABLEAU[6],
    eigen_middle=(127, 127, 127, 110),
    race=RACE,
    code_line="#fff3c4",
    code_value="#8a4500",
    banners={
        "info": BannerColors("#e8f1fb", "#12355b", "#9cc2ea"),
        "warning": BannerColors("#fff4e0", "#5c3b00", "#f0b050"),
        "error": BannerColors("#fdecea", "#611a15", "#e57373"),
    },
    unstable="#d32f2f",
    window="#efefef",
    base="#ffffff",
    alternate_base="#f7f7f7",
    button="#efefef",
    highlight="#308cc6",
    link="#0b57d0",
    disabled_text="#9a9a9a",
)

# What differs from the light palette: a dark ground, light text, lines lightened to keep
# their contrast, a colour map darkened towards the ground, and dark message strips.
DARK = replace(
    LIGHT,
    name="dark",
    dark=True,
    background="#1c1d20",
    text="#e1e3e6",
    muted_text="#a9adb3",
    axis="#9a9ea5",
    reference="#b8bcc2",
    legend_fill=(40, 42, 46, 215),
    legend_border="#5a5e66",
    label_fill=(28, 29, 32, 210),
    accent="#6cb4f0",
    minibatch="#3f6d91",
    epoch_train=TABLEAU_DARK[0],
    validation=TABLEAU_DARK[1],
    noise_floor=TABLEAU_DARK[2],
    event=TABLEAU_DARK[4],
    diverged="#ff6b66",
    ghost="#767a82",
    true_line=TABLEAU_DARK[2],
    least_squares=TABLEAU_DARK[4],
    current_fit=TABLEAU_DARK[3],
    identity=TABLEAU_DARK[7],
    samples=(175, 178, 184, 140),
    residuals=(78, 161, 230, 150),
    minibatch_edge="#ffe0b0",
    mark_edge="#e8e8e8",
    params=TABLEAU_DARK,
    blend=0.3,
    blend_to="#1c1d20",
    contours=(255, 255, 255, 90),
    curve=TABLEAU_DARK[0],
    path=TABLEAU_DARK[3],
    gradient_full="#f2f2f2",
    gradient_batch=TABLEAU_DARK[1],
    true_point="#3ccf6a",
    true_point_edge="#111111",
    eigen_axis="#e8e8e8",
    cloud=(255, 161, 77, 150),
    cloud_ellipse="#ffe0b0",
    lr_used=TABLEAU_DARK[0],
    lr_planned=TABLEAU_DARK[0],
    stable_band=(92, 200, 92, 45),
    plateau=TABLEAU_DARK[6],
    eigen_middle=(180, 180, 180, 90),
    code_line="#453c1e",
    code_value="#ffc66d",
    banners={
        "info": BannerColors("#1d3047", "#cfe2f7", "#3d6ea5"),
        "warning": BannerColors("#3a2e13", "#ffe0a6", "#a3782a"),
        "error": BannerColors("#3d1f1d", "#ffcdd2", "#b85450"),
    },
    unstable="#ef5350",
    window="#2b2d31",
    base="#36393f",
    alternate_base="#3b3e44",
    button="#3a3d43",
    highlight="#2f6fb0",
    link="#7ab7ff",
    disabled_text="#6f737a",
)

PALETTES = {p.name: p for p in (LIGHT, DARK)}


# ---- the widgets' Qt palette --------------------------------------------------------------
def is_dark(qt_palette: QtGui.QPalette) -> bool:
    """Whether a Qt palette is a dark one (light text on a dark window)."""
    return qt_palette.color(QtGui.QPalette.ColorRole.Window).lightness() < 128


def palette_of(widget: QtWidgets.QWidget | None = None) -> Palette:
    """The Palette matching a widget's Qt palette (the application's without a widget)."""
    if widget is not None:
        return DARK if is_dark(widget.palette()) else LIGHT
    app = QtWidgets.QApplication.instance()
    return DARK if app is not None and is_dark(app.palette()) else LIGHT


def qt_palette(palette: Palette) -> QtGui.QPalette:
    """A QPalette for the widgets in the palette's colours."""
    if not palette.dark:
        style = QtWidgets.QApplication.style()
        if style is not None:
            return QtGui.QPalette(style.standardPalette())
    role, group = QtGui.QPalette.ColorRole, QtGui.QPalette.ColorGroup
    q = QtGui.QPalette(QtGui.QColor(palette.button), QtGui.QColor(palette.window))
    colors = {
        role.Window: palette.window,
        role.WindowText: palette.text,
        role.Base: palette.base,
        role.AlternateBase: palette.alternate_base,
        role.ToolTipBase: palette.alternate_base,
        role.ToolTipText: palette.text,
        role.PlaceholderText: palette.muted_text,
        role.Text: palette.text,
        role.Button: palette.button,
        role.ButtonText: palette.text,
        role.BrightText: "#ffffff",
        role.Highlight: palette.highlight,
        role.HighlightedText: "#ffffff",
        role.Link: palette.link,
        role.LinkVisited: palette.link,
    }
    for r, value in colors.items():
        q.setColor(r, QtGui.QColor(value))
    for r in (role.WindowText, role.Text, role.ButtonText):
        q.setColor(group.Disabled, r, QtGui.QColor(palette.disabled_text))
    q.setColor(group.Disabled, role.Base, QtGui.QColor(palette.window))
    return q


# ---- plots --------------------------------------------------------------------------------
def style_title(plot_item: pg.PlotItem, palette: Palette) -> None:
    """Recolour a plot's title, keeping its text."""
    label = plot_item.titleLabel
    label.setText(label.text, color=palette.text, size=TITLE_SIZE)


def style_axis(axis: pg.AxisItem, palette: Palette) -> None:
    """Axis line, ticks, tick labels and axis label in the palette's colours."""
    axis.setPen(pg.mkPen(palette.axis))
    axis.setTextPen(pg.mkPen(palette.text))  # also the axis label's colour


def style_legend(legend: pg.LegendItem, palette: Palette) -> None:
    """A legend's fill, border and label colour."""
    legend.setBrush(pg.mkBrush(palette.legend_fill))
    legend.setPen(pg.mkPen(palette.legend_border))
    legend.opts["labelTextColor"] = pg.mkColor(palette.text)
    for sample, label in legend.items:
        # setLabelTextColor only records the colour: labels keep theirs until set again.
        label.setText(label.text, color=palette.text)
        sample.update()  # samples draw their item's pen, but only when repainted
    legend.update()


def style_plot(widget: pg.PlotWidget, palette: Palette, legend: pg.LegendItem | None) -> None:
    """A plot widget's background, title, axes and legend in the palette's colours."""
    widget.setBackground(palette.background)
    pi = widget.getPlotItem()
    style_title(pi, palette)
    for name in ("left", "bottom", "right", "top"):
        axis = pi.getAxis(name)
        if axis.isVisible():
            style_axis(axis, palette)
    if legend is not None:
        style_legend(legend, palette)


def style_line_label(line: pg.InfiniteLine, color: object, palette: Palette) -> None:
    """The label of an infinite line: its text colour and a fill of the background."""
    label = getattr(line, "label", None)
    if label is not None:
        label.setColor(color)
        label.fill = pg.mkBrush(palette.label_fill)
        label.update()


# ---- switching ----------------------------------------------------------------------------
@runtime_checkable
class Themed(Protocol):
    """Anything that draws in a Palette's colours."""

    def set_palette(self, palette: Palette) -> None:
        """Draw in palette's colours from now on."""


def apply_palette(root: QtCore.QObject, palette: Palette) -> None:
    """Give palette to root and to every object under it that draws in a Palette's colours."""
    for obj in (root, *root.findChildren(QtCore.QObject)):
        if isinstance(obj, Themed):
            obj.set_palette(palette)


@contextmanager
def painted_as(widget: QtWidgets.QWidget, palette: Palette | None) -> Iterator[None]:
    """Show widget (and what it holds) in palette for a grab or an export, then as before.

    None leaves it as it is. Only this widget changes: the rest of the window stays."""
    before = palette_of(widget)
    if palette is None or palette == before:
        yield
        return
    had_palette = widget.testAttribute(QtCore.Qt.WidgetAttribute.WA_SetPalette)
    old = QtGui.QPalette(widget.palette())
    widget.setPalette(qt_palette(palette))
    apply_palette(widget, palette)
    try:
        yield
    finally:
        # A default QPalette gives back the inherited one (the window's or the application's).
        widget.setPalette(old if had_palette else QtGui.QPalette())
        apply_palette(widget, before)


def system_prefers_dark() -> bool:
    """Whether the desktop asks for a dark scheme (Qt 6.5+), else whether its palette is."""
    app = QtWidgets.QApplication.instance()
    if app is None:
        return False
    scheme = QtGui.QGuiApplication.styleHints().colorScheme()
    if scheme == QtCore.Qt.ColorScheme.Dark:
        return True
    if scheme == QtCore.Qt.ColorScheme.Light:
        return False
    return is_dark(app.palette())


class Theme(QtCore.QObject):
    """Light or dark for a window: the application's QPalette for the widgets, and a Palette
    for everything under the window that draws its own colours.

    Without a choice (dark=None) it follows the desktop's colour scheme, also when that
    changes while the app runs; set_dark is the user's choice and sticks."""

    changed = QtCore.Signal(object)  # the new Palette

    def __init__(self, window: QtWidgets.QWidget, dark: bool | None = None) -> None:
        super().__init__(window)
        self._window = window
        app = QtWidgets.QApplication.instance()
        # The desktop's own palette, kept for the scheme it was made for (native looks).
        self._native = QtGui.QPalette(app.palette())
        self._native_dark = is_dark(self._native)
        self._chosen = dark is not None
        self._palette = DARK if (system_prefers_dark() if dark is None else dark) else LIGHT
        # Views made under the application's palette already draw in its colours (a walk
        # over the window costs ~20 ms of its start-up).
        if self._palette != palette_of():
            self._apply()
        QtGui.QGuiApplication.styleHints().colorSchemeChanged.connect(self._system_changed)

    @property
    def palette(self) -> Palette:
        """The palette in use."""
        return self._palette

    def is_dark(self) -> bool:
        """Whether the dark palette is in use."""
        return self._palette.dark

    def set_dark(self, on: bool) -> None:
        """Switch to the dark palette (True) or the light one, live; the choice sticks."""
        self._chosen = True
        if on != self._palette.dark:
            self._palette = DARK if on else LIGHT
            self._apply()
            self.changed.emit(self._palette)

    def _system_changed(self, scheme: QtCore.Qt.ColorScheme) -> None:
        if self._chosen or scheme == QtCore.Qt.ColorScheme.Unknown:
            return
        on = scheme == QtCore.Qt.ColorScheme.Dark
        if on != self._palette.dark:
            self._palette = DARK if on else LIGHT
            self._apply()
            self.changed.emit(self._palette)

    def _apply(self) -> None:
        app = QtWidgets.QApplication.instance()
        dark = self._palette.dark
        wanted = self._native if dark == self._native_dark else qt_palette(self._palette)
        if app.palette() != wanted:
            app.setPalette(wanted)
        apply_palette(self._window, self._palette)
