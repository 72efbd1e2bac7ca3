"""Lessons: every set-up builds, every check passes on a run that does the right thing and fails
on one that does not; the command line lists and runs them; the window's panel."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QComboBox, QLineEdit, QPushButton, QSpinBox

from core.branches import RunTree
from core.lessons import LESSONS, RunFacts, get_lesson
from core.presets import ARTICLES, PRESETS
from core.trainer import Trainer
from tests.conftest import WAIT_MS, run_python, settle, step_of

NUMBER = [name for name, lesson in LESSONS.items() if lesson.asks_number]
STATE = [name for name, lesson in LESSONS.items() if not lesson.asks_number]


def test_there_are_at_least_eight_lessons_on_the_articles():
    assert len(LESSONS) >= 8
    for lesson in LESSONS.values():
        assert lesson.article in ARTICLES and lesson.preset in PRESETS
        assert lesson.watch and lesson.question and lesson.hint
        assert (lesson.expected is None) != (lesson.state is None)
        assert lesson.on_its_data(lesson.config())
    # Every article's material has a lesson but the concise one (the same model as the
    # code-first article's).
    assert {lesson.article for lesson in LESSONS.values()} >= set(ARTICLES) - {"002"}


def _ran(trainer: Trainer, steps: int) -> Trainer:
    """trainer after steps more steps (its epochs extended if it finished)."""
    if trainer.steps_left < steps:
        trainer.extend_epochs(trainer.epoch + -(-steps // trainer.n_batches) + 1)
    trainer.run_steps(steps)
    return trainer


@pytest.mark.parametrize("name", STATE)
def test_a_state_lesson_passes_the_right_run_and_fails_the_set_up(name):
    lesson = LESSONS[name]
    config = lesson.config()
    if lesson.solution_at == 0:  # the solution is a run of its own from the start
        wrong = _ran(Trainer(config), lesson.solution_steps)
        right = _ran(Trainer(config.with_values(dict(lesson.solution))), lesson.solution_steps)
    else:  # the solution is a change mid-run
        wrong = _ran(Trainer(config), lesson.solution_at + lesson.solution_steps)
        tree = RunTree(_ran(Trainer(config), lesson.solution_at))
        assert not lesson.check(RunFacts.of_trainer(tree.trainer)).passed
        right = _ran(tree.change(dict(lesson.solution)), lesson.solution_steps)
    verdict = lesson.check(RunFacts.of_trainer(wrong))
    assert not verdict.passed, verdict.text
    verdict = lesson.check(RunFacts.of_trainer(right))
    assert verdict.passed, verdict.text


@pytest.mark.parametrize("name", NUMBER)
def test_a_number_lesson_checks_the_answer_against_the_run(name):
    lesson = LESSONS[name]
    trainer = _ran(Trainer(lesson.config()), 300)
    facts = RunFacts.of_trainer(trainer)
    value = lesson.expected(facts)
    assert lesson.check(facts, value * (1 + lesson.tolerance / 2)).passed
    assert not lesson.check(facts, value * 2).passed
    assert not lesson.check(facts, value * (1 - 2 * lesson.tolerance)).passed
    assert not lesson.check(facts, None).passed


def test_number_lessons_compute_their_values_from_the_run():
    facts = RunFacts.of_trainer(_ran(Trainer(LESSONS["largest-rate"].config()), 10))
    assert LESSONS["largest-rate"].expected(facts) == facts.max_stable_lr
    # The bound is real: just below it the run converges, just above it diverges.
    for factor, diverged in ((0.95, False), (1.05, True)):
        config = (
            LESSONS["largest-rate"].config().with_value("train.lr", factor * facts.max_stable_lr)
        )
        trainer = _ran(Trainer(config), 300)
        assert (trainer.stopped_reason == "diverged") is diverged
    # The penalty shrinks the weight by about 0.8%; answering "none" fails.
    l2 = LESSONS["l2-penalty"]
    facts = RunFacts.of_trainer(_ran(Trainer(l2.config()), 1000))
    shrink = l2.expected(facts)
    assert 0.5 < shrink < 1.5
    assert l2.check(facts, round(shrink, 2)).passed and not l2.check(facts, 0.0).passed
    assert 100 * (1 - facts.weights[0] / facts.ols_theta[0]) == pytest.approx(shrink, rel=0.02)


def test_a_check_on_other_data_asks_for_the_set_up():
    lesson = LESSONS["noise-floor"]
    facts = RunFacts.of_trainer(_ran(Trainer(LESSONS["momentum"].config()), 10))
    verdict = lesson.check(facts)
    assert not verdict.passed and "Set up" in verdict.text


def test_unknown_lesson_names_the_known_ones():
    with pytest.raises(Exception, match="known lessons: largest-rate"):
        get_lesson("nope")


# ---- the command line -------------------------------------------------------------------
def test_lessons_lists_one_line_each_name_first():
    proc = run_python(["main.py", "lessons"])
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(LESSONS)
    for line, lesson in zip(lines, LESSONS.values(), strict=True):
        assert lesson.title in line and lesson.article_title in line


def test_train_runs_a_lessons_set_up_headless(tmp_path):
    proc = run_python(
        ["main.py", "train", "--lesson", "standardise", "--out", str(tmp_path), "--no-plots"]
    )
    assert proc.returncode == 0, proc.stderr
    assert "2000 steps" in proc.stdout
    assert "lesson standardise: Reach the least-squares loss" in proc.stdout
    assert "Not yet within 1%" in proc.stdout
    bad = run_python(["main.py", "train", "--lesson", "standardise", "--preset", "sgd-1d"])
    assert bad.returncode == 2 and "not allowed with" in bad.stderr
    unknown = run_python(["main.py", "train", "--lesson", "nope"])
    assert unknown.returncode == 2 and "unknown lesson 'nope'" in unknown.stderr


# ---- the window ---------------------------------------------------------------------------
def _panel(window, qtbot):
    window.actions_by_name["lessonsAction"].trigger()
    panel = window.lessons.panel
    qtbot.waitUntil(panel.isVisible, timeout=WAIT_MS)
    return panel


def _set_up(window, qtbot, panel, name: str) -> None:
    panel.select(name)
    window.findChild(QPushButton, "lessonSetupButton").click()
    qtbot.waitUntil(lambda: window.config() == LESSONS[name].config(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.is_ready() and window.is_idle(), timeout=WAIT_MS)
    settle(window, qtbot)


def test_the_lessons_panel_checks_a_number(window, qtbot):
    panel = _panel(window, qtbot)
    assert window.findChild(QComboBox, "lessonCombo").count() == len(LESSONS)
    _set_up(window, qtbot, panel, "largest-rate")
    window.step_batch()
    qtbot.waitUntil(lambda: step_of(window) == 1, timeout=WAIT_MS)
    box = window.findChild(QLineEdit, "lessonAnswer")
    assert box.isVisible()
    box.setText("0.2")
    window.findChild(QPushButton, "lessonCheckButton").click()
    assert "too low" in panel.result.text() and "largest-rate" not in panel.done()
    assert not panel.hint.isVisible()
    window.findChild(QPushButton, "lessonHintButton").click()
    assert panel.hint.isVisible() and "stable bound" in panel.hint.text()
    box.setText(f"{window.controller.stable_lr():.3f}")
    window.findChild(QPushButton, "lessonCheckButton").click()
    assert panel.result.text().startswith("✓") and "largest-rate" in panel.done()
    assert window.findChild(QComboBox, "lessonCombo").itemText(0).startswith("✓")


def test_the_lessons_panel_checks_the_run_live_and_remembers(qtbot, tmp_path):
    from gui.main_window import MainWindow

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(LESSONS["standardise"].config(), settings=settings)
    qtbot.addWidget(window)
    window.show()
    window.controller.set_speed(None)
    qtbot.waitUntil(lambda: window.run_info() is not None, timeout=WAIT_MS)
    try:
        panel = _panel(window, qtbot)
        _set_up(window, qtbot, panel, "standardise")
        window.toggle_run()
        qtbot.waitUntil(lambda: window.run_state() == "completed", timeout=WAIT_MS)
        qtbot.waitUntil(lambda: "Not yet" in panel.result.text(), timeout=WAIT_MS)
        # The hint's way: standardise, a larger rate, from the start.
        window.controller.edit({"data.standardize": True})
        window.controller.flush()
        qtbot.waitUntil(lambda: window.is_ready() and window.is_idle(), timeout=WAIT_MS)
        window.controller.edit({"train.lr": 0.3})
        # The data moved under the finished run; the check counts from step 0: Reset.
        window.reset_paused()
        qtbot.waitUntil(
            lambda: window.is_ready() and window.run_info() is not None, timeout=WAIT_MS
        )
        window.toggle_run()
        qtbot.waitUntil(lambda: "standardise" in panel.done(), timeout=WAIT_MS)
        assert panel.result.text().startswith("✓")
    finally:
        window.shutdown()
    again = MainWindow(
        settings=QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    )
    qtbot.addWidget(again)
    try:
        assert again.lessons.panel.done() == {"standardise"}
        assert "1 of" in again.lessons.panel.progress.text()
    finally:
        again.shutdown()


def test_a_lessons_try_button_changes_the_run_mid_way(window, qtbot):
    panel = _panel(window, qtbot)
    _set_up(window, qtbot, panel, "schedule")
    for _ in range(3):
        window.step_batch()
    settle(window, qtbot)
    window.findChild(QPushButton, "lessonTry0").click()
    settle(window, qtbot)
    assert window.config().train.schedule.name == "inverse_time"
    assert step_of(window) == 3  # it went on from where the run stood
    assert any("schedule" in text for _, text in window.history().events())
    assert window.findChild(QSpinBox, "batchSizeSpin").value() == 1
