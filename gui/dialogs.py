"""The window's file dialogs: each asks for a path, remembers its folder per kind of file
(configurations, data, runs, exports), calls the window's action and says how it went."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QDialog, QFileDialog

from core.errors import UserInputError
from core.files import atomic_write_text
from core.runfile import SUFFIX
from core.script import make_script
from gui.csv_dialog import CsvDialog

if TYPE_CHECKING:
    from gui.main_window import MainWindow

FOLDER_KEY = "dialogs/folder/"  # + kind, in the session's settings
KINDS = ("config", "data", "runs", "export")


class FileDialogs:
    """Open and save dialogs for a window; the last folder of each kind is kept (in the
    session's settings when the window has them, else for this session)."""

    def __init__(self, window: MainWindow, settings: QSettings | None = None) -> None:
        self._window = window
        self._settings = settings
        self._folders: dict[str, str] = {}

    # ---- folders -------------------------------------------------------------------------
    def folder(self, kind: str) -> str:
        """The folder the next dialog of this kind opens in ('' : the current folder)."""
        if self._settings is not None:
            return str(self._settings.value(FOLDER_KEY + kind, "") or "")
        return self._folders.get(kind, "")

    def remember(self, kind: str, path: str | Path) -> None:
        """Keep path's folder (path itself if it is a folder) for the next dialog of kind."""
        path = Path(path)
        folder = str(path if path.is_dir() else path.parent)
        if self._settings is not None:
            self._settings.setValue(FOLDER_KEY + kind, folder)
        self._folders[kind] = folder

    def _in(self, kind: str, name: str = "") -> str:
        folder = self.folder(kind)
        return str(Path(folder) / name) if folder else name

    def _open(self, kind: str, caption: str, filters: str) -> str:
        path, _ = QFileDialog.getOpenFileName(self._window, caption, self._in(kind), filters)
        if path:
            self.remember(kind, path)
        return path

    def _save(self, kind: str, caption: str, name: str, filters: str) -> str:
        path, _ = QFileDialog.getSaveFileName(self._window, caption, self._in(kind, name), filters)
        if path:
            self.remember(kind, path)
        return path

    # ---- dialogs -------------------------------------------------------------------------
    def open_config(self) -> None:
        """File > Open configuration."""
        path = self._open("config", "Open configuration", "JSON (*.json)")
        if path:
            self._window.open_config(path)

    def save_config(self) -> None:
        """File > Save configuration."""
        path = self._save("config", "Save configuration", "run.json", "JSON (*.json)")
        if path:
            self._window.save_config(path)

    def open_csv(self) -> None:
        """File > Open CSV data: pick a file, then its target and feature columns."""
        window = self._window
        path = self._open("data", "Open CSV data", "CSV (*.csv *.tsv *.txt);;All files (*)")
        if not path:
            return
        try:
            dialog = CsvDialog.from_path(path, window)
        except UserInputError as exc:
            window.show_message("error", f"{exc}. The current run is kept.")
            return
        if dialog.exec() == QDialog.DialogCode.Accepted:
            window.open_csv(path, *dialog.chosen())

    def save_run(self) -> None:
        """File > Save run."""
        window = self._window
        path = self._save("runs", "Save run", f"run{SUFFIX}", f"Runs (*{SUFFIX});;All files (*)")
        if not path:
            return
        try:
            saved = window.save_run(path)
        except OSError as exc:
            window.show_message("error", f"Could not save the run, nothing partial was left: {exc}")
            return
        window.show_message("info", f"Saved the run to {saved}")

    def open_run(self) -> None:
        """File > Open run."""
        path = self._open("runs", "Open run", f"Runs (*{SUFFIX});;All files (*)")
        if path:
            self._window.open_run(path)

    def export_run(self) -> None:
        """File > Export run: a folder, new or existing (created if new)."""
        window = self._window
        # A save dialog, not a folder picker: a picker refuses a folder that does not exist yet.
        folder = self._save(
            "export", "Export run to folder", "linreg-export", "Folder (created if new) (*)"
        )
        if not folder:
            return
        try:
            paths = window.export_run(folder)
        except OSError as exc:
            window.show_message("error", f"Export failed, nothing partial was left: {exc}")
            return
        window.show_message("info", f"Exported {len(paths)} files to {folder}")

    def export_gif(self) -> None:
        """File > Export animation (GIF)."""
        window = self._window
        path = self._save("export", "Export animation", "run.gif", "GIF animation (*.gif)")
        if not path:
            return
        window.show_message("info", "Rendering the replay…")
        try:
            frames = window.export_gif(path)
        except OSError as exc:
            window.show_message("error", f"Could not write the animation: {exc}")
            return
        window.show_message("info", f"Wrote {frames} frames to {path}")

    def export_script(self) -> None:
        """File > Export as Python script: the run of the current settings, as a script."""
        window = self._window
        path = self._save("export", "Export as Python script", "run.py", "Python (*.py)")
        if not path:
            return
        try:
            script = make_script(window.config(), title="A run from linreg-viz")
            atomic_write_text(path, script.text)
        except (OSError, UserInputError) as exc:
            window.show_message(
                "error", f"Could not write the script, nothing partial was left: {exc}"
            )
            return
        window.show_message(
            "info",
            f"Wrote {path} ({script.n_lines} lines): `python {Path(path).name}` trains this run's"
            " settings from the start and prints the final weights and bias.",
        )
