"""Export plots (PNG/SVG), the window (PNG), the run's history (CSV) and its config (JSON).

Every write goes to a temporary file in the target's folder and is renamed into place, so a
failed export never leaves a partial file; failures surface as OSError naming the target.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, TypeVar

from PySide6 import QtCore, QtGui, QtWidgets

from core.config import Config
from core.files import atomic_write_bytes, atomic_write_text
from core.history import History
from core.history import write_epochs_csv as _write_epochs
from core.history import write_steps_csv as _write_steps
from gui.style import LIGHT, Palette, painted_as

T = TypeVar("T")


class ExportableView(Protocol):
    """A plot that can write itself as PNG and SVG."""

    def export_png(self, path: str | Path) -> None:
        """Write the plot as PNG."""

    def export_svg(self, path: str | Path) -> None:
        """Write the plot as SVG."""


@contextmanager
def _naming(path: str | Path) -> Iterator[None]:
    """Re-raise an OSError so its message names the target rather than a temp file."""
    try:
        yield
    except OSError as error:
        if str(path) in str(error):
            raise
        reason = error.strerror or str(error) or type(error).__name__
        message = f"cannot write {path}: {reason}"
        # OSError(errno, text) picks the matching subclass (FileNotFoundError, ...).
        raise (OSError(error.errno, message) if error.errno else OSError(message)) from error


def _guarded(path: str | Path, write: Callable[[], T]) -> T:
    with _naming(path):
        return write()


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write bytes to path atomically; OSError names path on failure."""
    _guarded(path, lambda: atomic_write_bytes(path, data))


def export_plot_png(plot_item: object, path: str | Path, width: int | None = None) -> None:
    """Write a pyqtgraph PlotItem as PNG (optionally width pixels wide), atomically."""
    import pyqtgraph.exporters as exporters

    exporter = exporters.ImageExporter(plot_item)
    if width is not None:
        exporter.parameters()["width"] = int(width)
    write_bytes_atomic(path, _png_bytes(exporter.export(toBytes=True), path))


def export_plot_svg(plot_item: object, path: str | Path) -> None:
    """Write a pyqtgraph PlotItem as SVG, atomically."""
    import pyqtgraph.exporters as exporters

    write_bytes_atomic(path, exporters.SVGExporter(plot_item).export(toBytes=True))


class PlotFiles:
    """export_png and export_svg for a widget showing a pyqtgraph plotItem (a mixin)."""

    plotItem: object

    def _settle_layout(self) -> None:
        """Lay the plot out as it will be written (widgets that need it override this)."""

    def export_png(
        self, path: str | Path, width: int | None = None, palette: Palette | None = LIGHT
    ) -> None:
        """Write the plot as PNG (optionally width pixels wide), atomically; in palette's
        colours (white by default; None: as shown)."""
        with painted_as(self, palette):
            self._settle_layout()
            export_plot_png(self.plotItem, path, width)

    def export_svg(self, path: str | Path, palette: Palette | None = LIGHT) -> None:
        """Write the plot as SVG, atomically; in palette's colours (None: as shown)."""
        with painted_as(self, palette):
            self._settle_layout()
            export_plot_svg(self.plotItem, path)


def export_views(views: Mapping[str, ExportableView], folder: Path) -> list[Path]:
    """Write <name>.png and <name>.svg for each view into folder; return the paths written."""
    folder = Path(folder)
    written: list[Path] = []
    for name, view in views.items():
        png, svg = folder / f"{name}.png", folder / f"{name}.svg"
        view.export_png(png)
        written.append(png)
        view.export_svg(svg)
        written.append(svg)
    return written


def export_window_png(
    widget: QtWidgets.QWidget, path: str | Path, palette: Palette | None = LIGHT
) -> None:
    """Write a screenshot of a widget (e.g. the main window) as PNG, atomically; in palette's
    colours (the light theme's by default; None: as shown)."""
    with painted_as(widget, palette):
        image = widget.grab()
    write_bytes_atomic(path, _png_bytes(image, path))


def _png_bytes(image: QtGui.QImage | QtGui.QPixmap, path: str | Path) -> bytes:
    """An image encoded as PNG; OSError naming path if Qt cannot encode it."""
    buffer = QtCore.QBuffer()
    buffer.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise OSError(f"cannot encode PNG for {path}")
    return bytes(buffer.data())


def export_history(history: History, folder: Path) -> list[Path]:
    """Write history.csv (every stored step) and epochs.csv into folder; return both paths."""
    folder = Path(folder)
    steps, epochs = folder / "history.csv", folder / "epochs.csv"
    _guarded(steps, lambda: _write_steps(history, steps))
    _guarded(epochs, lambda: _write_epochs(history, epochs))
    return [steps, epochs]


def export_config(config: Config, path: str | Path) -> None:
    """Write a run's configuration as JSON, atomically."""
    _guarded(path, lambda: atomic_write_text(path, config.to_json() + "\n"))
