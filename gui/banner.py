"""An in-window message strip that floats over the bottom edge of the tabs (where the timeline
is): never a modal dialog, and never a layout change (showing it must not move the plots), and
never over the tab bars."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QToolButton, QWidget

from gui.style import Palette, palette_of


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
        self._palette = palette_of()
        self.hide()

    def set_palette(self, palette: Palette) -> None:
        """Colour the levels from palette (the message shown changes at once)."""
        self._palette = palette
        self._restyle()

    def _restyle(self) -> None:
        banners = self._palette.banners
        colors = banners.get(self.level, banners["info"])
        # The text and the close button named too: they would keep the palette the banner
        # had when its style sheet was first set (the strip's own palette stops propagation).
        self.setStyleSheet(
            f"#messageBanner {{{colors.css()}}}"
            f" #messageText, #messageClose {{color: {colors.text};}}"
        )

    def show_message(self, level: str, text: str) -> None:
        """Show text styled by level (info, warning, error)."""
        self.level = level
        self._restyle()
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
