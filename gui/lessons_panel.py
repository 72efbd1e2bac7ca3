"""Help > Lessons: a panel docked beside the plots to pick a lesson (core.lessons), set its run
up, read what to watch, answer its question or have the run checked live, and take a hint.
Lessons passed are remembered between launches (the session's settings)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from core.lessons import LESSONS, Lesson, RunFacts, Verdict
from gui import session

if TYPE_CHECKING:
    from gui.main_window import MainWindow
    from gui.run_controller import RunController

LIVE_CHECK_MS = 2000  # a state lesson is checked this often while its run goes on
DONE_MARK = "✓ "


def _label(name: str, text: str = "") -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class LessonsPanel(QWidget):
    """Pick a lesson, set it up, watch, answer or have the run checked, take a hint."""

    checked = Signal(str, bool)  # lesson name, passed

    def __init__(
        self,
        controller: RunController,
        settings: QSettings | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("lessonsPanel")
        self._controller = controller
        self._settings = settings
        self._done = session.lessons_done(settings) if settings is not None else set()
        self._checked_step = -1
        self.combo = QComboBox()
        self.combo.setObjectName("lessonCombo")
        self.combo.setToolTip("Each lesson is a short experiment on the articles' material")
        for lesson in LESSONS.values():
            self.combo.addItem(lesson.title, lesson.name)
        self.article = _label("lessonArticle")
        self.setup_button = QPushButton("Set up")
        self.setup_button.setObjectName("lessonSetupButton")
        self.setup_button.setToolTip("Load this lesson's run (the current run is replaced)")
        self.watch = _label("lessonWatch")
        self.tries = QVBoxLayout()
        self.question = _label("lessonQuestion")
        self.answer = QLineEdit()
        self.answer.setObjectName("lessonAnswer")
        self.answer.setPlaceholderText("your answer (a number)")
        self.check_button = QPushButton("Check")
        self.check_button.setObjectName("lessonCheckButton")
        self.result = _label("lessonResult")
        self.hint_button = QPushButton("Hint")
        self.hint_button.setObjectName("lessonHintButton")
        self.hint = _label("lessonHint")
        self.progress = _label("lessonProgress")
        self._build()
        self._timer = QTimer(self)
        self._timer.setInterval(LIVE_CHECK_MS)
        self._timer.timeout.connect(self._live_check)
        self.combo.currentIndexChanged.connect(lambda _: self._show_lesson())
        self.setup_button.clicked.connect(self.set_up)
        self.check_button.clicked.connect(self.check_now)
        self.answer.returnPressed.connect(self.check_now)
        self.hint_button.clicked.connect(lambda: self.hint.setVisible(True))
        controller.stateChanged.connect(self._on_state)
        self._refresh_marks()
        self._show_lesson()

    def _build(self) -> None:
        heading = QHBoxLayout()
        heading.addWidget(self.combo, 1)
        heading.addWidget(self.setup_button)
        answer_row = QHBoxLayout()
        answer_row.addWidget(self.answer, 1)
        answer_row.addWidget(self.check_button)
        layout = QVBoxLayout(self)
        layout.addLayout(heading)
        layout.addWidget(self.article)
        layout.addWidget(_label("lessonWatchTitle", "<b>Watch</b>"))
        layout.addWidget(self.watch)
        layout.addLayout(self.tries)
        layout.addWidget(_label("lessonQuestionTitle", "<b>Question</b>"))
        layout.addWidget(self.question)
        layout.addLayout(answer_row)
        layout.addWidget(self.result)
        layout.addWidget(self.hint_button)
        layout.addWidget(self.hint)
        layout.addStretch(1)
        layout.addWidget(self.progress)

    # ---- state ---------------------------------------------------------------------------
    def lesson(self) -> Lesson:
        """The lesson shown."""
        return LESSONS[self.combo.currentData()]

    def select(self, name: str) -> None:
        """Show the lesson called name."""
        self.combo.setCurrentIndex(self.combo.findData(name))

    def done(self) -> set[str]:
        """The lessons passed (in this and earlier sessions)."""
        return set(self._done)

    # ---- actions -------------------------------------------------------------------------
    def set_up(self) -> None:
        """Load the lesson's run, paused at its start."""
        lesson = self.lesson()
        c = self._controller
        if lesson.unthrottled:
            c.set_speed(None)  # a million steps: as fast as it goes
        c.apply_config(
            lesson.config(), keep_running=False, note=f"Lesson: {lesson.title}. Press Run."
        )
        self.result.setText("")
        self._checked_step = -1

    def check_now(self) -> Verdict:
        """Check the run (and the answer) now, and say how it went."""
        lesson = self.lesson()
        facts = self._facts()
        if facts is None:
            verdict = Verdict(False, "There is no run to check yet: press Set up, then Run.")
        else:
            answer = None
            if lesson.asks_number:
                answer = _number(self.answer.text())
            verdict = lesson.check(facts, answer)
        self._say(verdict)
        return verdict

    def _facts(self) -> RunFacts | None:
        c = self._controller
        info, snap, history = c.run_info(), c.current_snapshot(), c.history_copy()
        if info is None or snap is None or history is None:
            return None
        return RunFacts.of(c.config(), info, snap, history)

    def _say(self, verdict: Verdict) -> None:
        name = self.lesson().name
        self.result.setText(("✓ " if verdict.passed else "") + verdict.text)
        if verdict.passed and name not in self._done:
            self._done.add(name)
            if self._settings is not None:
                session.save_lessons_done(self._settings, self._done)
            self._refresh_marks()
        self.checked.emit(name, verdict.passed)

    def _live_check(self) -> None:
        """A state lesson is checked as its run goes on (only when it has moved on)."""
        lesson = self.lesson()
        snap = self._controller.current_snapshot()
        if lesson.asks_number or snap is None or snap.step == self._checked_step:
            return
        if not self.isVisible() or not lesson.on_its_data(self._controller.config()):
            return
        self._checked_step = snap.step
        self.check_now()

    def _on_state(self, state: str) -> None:
        if state == "running" and not self.lesson().asks_number:
            self._timer.start()
        else:
            self._timer.stop()
            self._live_check()  # where the run stopped

    # ---- showing -------------------------------------------------------------------------
    def _show_lesson(self) -> None:
        lesson = self.lesson()
        self.article.setText(f"On the material of <i>{lesson.article_title}</i>.")
        self.watch.setText(lesson.watch)
        self.question.setText(lesson.question)
        self.hint.setText(lesson.hint)
        self.hint.setVisible(False)
        self.answer.setVisible(lesson.asks_number)
        self.answer.clear()
        self.check_button.setToolTip(
            "Check your answer against this run"
            if lesson.asks_number
            else "Check the run now (it is also checked as it goes)"
        )
        self.result.setText("")
        while self.tries.count():
            item = self.tries.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        for k, attempt in enumerate(lesson.tries):
            button = QPushButton(attempt.label)
            button.setObjectName(f"lessonTry{k}")
            button.setToolTip("Applied to the run from where it stands")
            button.clicked.connect(lambda _=False, ch=attempt.changes: self._controller.edit(ch))
            self.tries.addWidget(button)
        self._checked_step = -1

    def _refresh_marks(self) -> None:
        for i in range(self.combo.count()):
            lesson = LESSONS[self.combo.itemData(i)]
            mark = DONE_MARK if lesson.name in self._done else ""
            self.combo.setItemText(i, mark + lesson.title)
        self.progress.setText(f"{len(self._done & set(LESSONS))} of {len(LESSONS)} lessons done")


def _number(text: str) -> float | None:
    try:
        value = float(text.strip().replace(",", ""))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


class LessonsDock(QDockWidget):
    """The lessons panel docked at the window's right (hidden until Help > Lessons)."""

    def __init__(self, window: MainWindow, settings: QSettings | None = None) -> None:
        super().__init__("Lessons", window)
        self.setObjectName("lessonsDock")
        self.panel = LessonsPanel(window.controller, settings)
        scroll = QScrollArea()
        scroll.setWidget(self.panel)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setMinimumWidth(280)
        self.setWidget(scroll)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self)
        self.hide()

    def show_panel(self) -> None:
        """Help > Lessons: show the panel."""
        self.show()
        self.raise_()
