"""An in-window message strip that floats over the bottom edge of the tabs (where the timeline
is): never a modal dialog, and never a layout change (showing it must not move the plots), and
never over the tab bars."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QToolButton, QWidget

BANNER_STYLE = {
    "info": "background:#e8f1fb; color:#12355b; border:1px solid #9cc2ea;",
    "warning": "background:#fff4e0; color:#5c3b00; border:1px solid #f0b050;",
    "error": "background:#fdecea; color:#611a15; border:1px solid #e57373;",
}


class Banner(QWidget):
    """A message with a close button, styled by level."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBanner")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        self.label = QLabel()
        self.label.setObjectName("messageText")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setObjectName("messageClose")
        close.setText("✕")
        close.setToolTip("Dismiss this message (Esc)")
        close.setAutoRaise(True)
        close.clicked.connect(self.hide)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.level = "info"
        self.hide()

    def show_message(self, level: str, text: str) -> None:
        """Show text styled by level (info, warning, error)."""
        self.level = level
        self.setStyleSheet(f"#messageBanner {{{BANNER_STYLE.get(level, BANNER_STYLE['info'])}}}")
        self.label.setText(text)
        self.show()
        self.raise_()

    def text(self) -> str:
        """The message shown (empty when hidden)."""
        return self.label.text() if not self.isHidden() else ""


def overlay(content: QWidget, banner: Banner) -> QWidget:
    """content with banner floating over its bottom edge (both in one grid cell)."""
    holder = QWidget()
    grid = QGridLayout(holder)
    grid.setContentsMargins(0, 0, 0, 0)
    grid.addWidget(content, 0, 0)
    grid.addWidget(banner, 0, 0, Qt.AlignmentFlag.AlignBottom)
    return holder
