"""Remembering the last configuration and the window layout between launches (QSettings)."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QMainWindow, QSplitter

from core.config import Config
from core.errors import UserInputError

ORGANIZATION = "linreg-viz"
APPLICATION = "linreg-viz"
CONFIG_KEY = "session/config"
GEOMETRY_KEY = "window/geometry"
STATE_KEY = "window/state"
SPLITTER_PREFIX = "window/splitter/"
LOG_KEY = "view/log_loss"
DARK_KEY = "view/dark_theme"
LESSONS_KEY = "lessons/done"


def app_settings() -> QSettings:
    """The settings store of the installed app (per user)."""
    return QSettings(ORGANIZATION, APPLICATION)


def last_config(settings: QSettings) -> tuple[Config | None, str | None]:
    """The configuration saved at the last close, or None; and a message if it was unusable."""
    text = settings.value(CONFIG_KEY)
    if not text:
        return None, None
    try:
        return Config.from_json(str(text)), None
    except UserInputError as exc:
        # A broken settings file must never stop the app from starting.
        return None, f"The last session's configuration could not be used ({exc})."


def save_session(settings: QSettings, window: QMainWindow, config: Config, log_y: bool) -> None:
    """Store the configuration and the layout (geometry, toolbars, splitter positions)."""
    settings.setValue(CONFIG_KEY, config.to_json())
    settings.setValue(GEOMETRY_KEY, window.saveGeometry())
    settings.setValue(STATE_KEY, window.saveState())
    for splitter in _named_splitters(window):
        settings.setValue(SPLITTER_PREFIX + splitter.objectName(), splitter.saveState())
    settings.setValue(LOG_KEY, bool(log_y))
    settings.sync()


def restore_layout(settings: QSettings, window: QMainWindow) -> bool | None:
    """Put back the saved layout; return the saved log-scale choice (None if never saved)."""
    geometry = settings.value(GEOMETRY_KEY)
    if isinstance(geometry, QByteArray):
        window.restoreGeometry(geometry)
    state = settings.value(STATE_KEY)
    if isinstance(state, QByteArray):
        window.restoreState(state)
    for splitter in _named_splitters(window):
        saved = settings.value(SPLITTER_PREFIX + splitter.objectName())
        if isinstance(saved, QByteArray):
            splitter.restoreState(saved)
    log = settings.value(LOG_KEY)
    return None if log is None else str(log).lower() in ("true", "1")


def saved_dark(settings: QSettings) -> bool | None:
    """The theme the user chose (True: dark), or None if never chosen (follow the desktop)."""
    value = settings.value(DARK_KEY)
    return None if value is None else str(value).lower() in ("true", "1")


def save_dark(settings: QSettings, on: bool) -> None:
    """Remember the user's choice of theme (True: dark)."""
    settings.setValue(DARK_KEY, bool(on))
    settings.sync()


def lessons_done(settings: QSettings) -> set[str]:
    """The lessons passed in earlier sessions (their names)."""
    value = settings.value(LESSONS_KEY)
    if not value:
        return set()
    # QSettings hands back one string for a one-item list written by some back ends.
    names = [value] if isinstance(value, str) else list(value)
    return {str(name) for name in names}


def save_lessons_done(settings: QSettings, names: set[str]) -> None:
    """Remember which lessons were passed."""
    settings.setValue(LESSONS_KEY, sorted(names))
    settings.sync()


def _named_splitters(window: QMainWindow) -> list[QSplitter]:
    return [s for s in window.findChildren(QSplitter) if s.objectName()]
