"""Rewind: past steps rebuilt from the history; scrubbing and returning live loses nothing."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QPushButton, QSlider

from core.history import History
from core.presets import preset_config
from core.review import Recording, snapshot_at
from core.runinfo import run_info
from core.trainer import Trainer
from tests.conftest import WAIT_MS


def _approx(value: float):
    return pytest.approx(value, rel=1e-6, abs=1e-9)


def _trained(preset: str, steps: int, **overrides) -> Trainer:
    config = preset_config(preset)
    for key, value in overrides.items():
        config = config.with_value(key, value)
    trainer = Trainer(config)
    trainer.run_steps(steps)
    return trainer


def test_snapshot_at_matches_the_run_at_that_step():
    # A second trainer stopped at step 40 is the ground truth for "the run after step 40".
    full, part = _trained("playground", 120), _trained("playground", 40)
    info = run_info(full)
    snap = snapshot_at(Recording.of(full.history), info, full.snapshot(), 40)
    assert snap.step == 40
    np.testing.assert_allclose(snap.weights, part.theta_original()[:-1], rtol=1e-6, atol=1e-9)
    assert snap.bias == _approx(part.theta_original()[-1])
    assert snap.train_loss == _approx(part.train_loss())
    np.testing.assert_allclose(snap.full_grad, part.full_gradient(), rtol=1e-6, atol=1e-9)
    assert snap.loss_steps[-1] == 40 and snap.param_values.shape[0] == snap.loss_steps.size
    np.testing.assert_array_equal(snap.loss_steps, full.history.steps()[0][: snap.loss_steps.size])
    assert snap.batch_indices.size == 0  # no minibatch is highlighted in the past


def test_snapshot_at_standardised_data_round_trips_units():
    full = _trained("d2l-concise-3", 300, **{"data.standardize": True})
    part = _trained("d2l-concise-3", 150, **{"data.standardize": True})
    snap = snapshot_at(Recording.of(full.history), run_info(full), full.snapshot(), 150)
    np.testing.assert_allclose(snap.theta_trained, part.theta(), rtol=1e-6, atol=1e-8)
    assert snap.train_loss == _approx(part.train_loss())


def test_snapshot_at_step_zero_is_the_initial_state():
    trainer = _trained("playground", 30)
    info = run_info(trainer)
    snap = snapshot_at(Recording.of(trainer.history), info, trainer.snapshot(), 0)
    assert snap.step == 0 and snap.epoch == 0
    np.testing.assert_allclose(snap.theta_trained, trainer.theta0)
    assert snap.train_loss == _approx(info.initial_loss)


def _bump(steps: np.ndarray) -> np.ndarray:
    """A weight that rises to 3.0 at step 123,457 and falls again, curved both ways."""
    return 3.0 * np.exp(-(((steps - 123_457) / 150_000.0) ** 2))


def _long_run() -> tuple[Trainer, History]:
    """A playground trainer whose history is a million recorded steps (written directly)."""
    trainer = _trained("playground", 5)
    h = History(trainer.history.n_params, trainer.history.param_names)
    rng = np.random.default_rng(11)
    n, chunk = 1_000_000, 50_000
    for first in range(0, n, chunk):
        steps = np.arange(first, first + chunk)
        params = np.column_stack((_bump(steps), 1.0 - _bump(steps)))
        h.record_steps(first, rng.exponential(size=chunk), params)
    epochs = np.arange(n // 20)
    h.record_epochs(epochs, 20 * epochs, 1.0 / (1 + epochs), np.full(epochs.size, np.nan), 0.0)
    trainer.history = h
    return trainer, h


def test_long_run_rewound_keeps_its_peak_and_draws_the_live_curve():
    trainer, h = _long_run()
    info = run_info(trainer)
    live = trainer.snapshot(1500)
    rec = Recording.of(h)
    # Rewound to the newest step: exactly the live snapshot's curves (decimated to the live
    # snapshot's 1500 points).
    same = snapshot_at(rec, info, live, h.last_step)
    assert same.series_points == 1500 and len(same.loss_steps) <= 1500
    for name in ("loss_steps", "loss_values", "param_values", "epoch_steps", "epoch_train"):
        np.testing.assert_array_equal(getattr(same, name), getattr(live, name), err_msg=name)
    np.testing.assert_array_equal(same.epoch_val, live.epoch_val)
    # Every replayed frame (mid-run and last) draws the run's curve with its peak, not
    # straight ramps between evenly spread rows.
    for step in (200_000, 640_000, h.last_step):
        snap = snapshot_at(rec, info, live, step)
        assert snap.loss_steps[-1] == step
        assert snap.param_values[:, 0].max() == 3.0
        assert snap.param_values[:, 1].min() == -2.0
        assert np.diff(snap.loss_steps).max() <= step / 250
        np.testing.assert_allclose(snap.param_values[:, 0], _bump(snap.loss_steps), atol=1e-3)


def _history_state(win):
    steps, losses, params = win.worker.history_copy().steps()
    return steps, losses, params


def test_scrub_back_then_live_changes_nothing_and_run_continues(window, qtbot):
    window.toggle_run()
    qtbot.waitUntil(lambda: window.controller.current_snapshot().step > 300, timeout=WAIT_MS)
    slider = window.findChild(QSlider, "timelineSlider")
    qtbot.waitUntil(lambda: slider.maximum() > 300, timeout=WAIT_MS)
    slider.setValue(120)
    assert window.is_reviewing()
    qtbot.waitUntil(lambda: window.run_state() == "paused", timeout=WAIT_MS)
    reviewed = window.reviewed_snapshot()
    assert reviewed is not None and reviewed.step <= 120
    assert window.loss_view.cursor_line.isVisible()
    assert window.loss_view.cursor_line.value() == reviewed.step
    # The fit and parameter views draw the past step, not the live one.
    assert window.param_view.shown_snapshot().step == reviewed.step
    assert window.fit_view.shown_snapshot().step == reviewed.step
    before = _history_state(window)
    live_step = window.latest_snapshot().step
    for value in (10, 200, 50):
        slider.setValue(value)
    window.findChild(QPushButton, "liveButton").click()
    assert not window.is_reviewing()
    assert not window.loss_view.cursor_line.isVisible()
    after = _history_state(window)
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)  # scrubbing changed no recorded value
    assert window.param_view.shown_snapshot().step == window.latest_snapshot().step
    # Run continues from the live state, not from the reviewed step.
    window.toggle_run()
    qtbot.waitUntil(lambda: window.latest_snapshot().step > live_step + 50, timeout=WAIT_MS)
    steps_now, _, _ = _history_state(window)
    np.testing.assert_array_equal(steps_now[: before[0].size], before[0])


def test_rewound_to_the_live_step_the_window_draws_the_live_curves(window, qtbot):
    window.toggle_run()
    # Enough steps that the series are decimated (the views are a few hundred pixels wide).
    qtbot.waitUntil(lambda: window.controller.current_snapshot().step > 6000, timeout=WAIT_MS)
    window.toggle_run()
    qtbot.waitUntil(lambda: window.run_state() == "paused", timeout=WAIT_MS)
    history = window.worker.history_copy()
    qtbot.waitUntil(lambda: window.latest_snapshot().step == history.last_step, timeout=WAIT_MS)
    window.rewind_to(history.last_step)
    live = window.latest_snapshot()
    assert 0 < len(live.loss_steps) < history.n_steps_recorded
    reviewed = window.reviewed_snapshot()
    for name in ("loss_steps", "loss_values", "param_values", "epoch_steps", "epoch_train"):
        np.testing.assert_array_equal(getattr(reviewed, name), getattr(live, name), err_msg=name)
    drawn = [curve.getData() for curve in window.param_view.curves]
    window.go_live()
    for curve, (x, y) in zip(window.param_view.curves, drawn, strict=True):
        np.testing.assert_array_equal(curve.getData()[0], x)
        np.testing.assert_array_equal(curve.getData()[1], y)


def test_run_button_leaves_review(window, qtbot):
    window.step_epoch()
    qtbot.waitUntil(lambda: window.latest_snapshot() is not None, timeout=WAIT_MS)
    slider = window.findChild(QSlider, "timelineSlider")
    qtbot.waitUntil(lambda: slider.maximum() > 0, timeout=WAIT_MS)
    window.rewind_to(slider.maximum() // 2)
    assert window.is_reviewing()
    window.toggle_run()
    assert not window.is_reviewing()
    qtbot.waitUntil(lambda: window.run_state() == "running", timeout=WAIT_MS)
    window.toggle_run()
    qtbot.waitUntil(lambda: window.run_state() == "paused", timeout=WAIT_MS)


def test_reset_while_reviewing_returns_live(window, qtbot):
    window.step_epoch()
    qtbot.waitUntil(lambda: window.latest_snapshot() is not None, timeout=WAIT_MS)
    window.rewind_to(3)
    assert window.is_reviewing()
    window.reset_paused()
    qtbot.waitUntil(lambda: window.latest_snapshot() is None, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not window.is_reviewing(), timeout=WAIT_MS)
    assert window.findChild(QSlider, "timelineSlider").maximum() == 0


def test_a_rewound_snapshot_carries_the_rates_of_its_own_steps():
    schedule = {"name": "step", "step_size": 10, "gamma": 0.5}
    trainer = _trained("playground", 60, **{"train.schedule": schedule})
    rec, info, live = Recording.of(trainer.history), run_info(trainer), trainer.snapshot()
    np.testing.assert_array_equal(live.lr_values, trainer.history.lrs_at(live.loss_steps))
    snap = snapshot_at(rec, info, live, 25)
    assert snap.lr_values.shape == snap.loss_steps.shape
    lr = trainer.config.train.lr
    # Step k uses lr * 0.5 ** ((k - 1) // 10); row 0 holds the first step's rate.
    want = lr * 0.5 ** (np.maximum(snap.loss_steps - 1, 0) // 10)
    np.testing.assert_allclose(snap.lr_values, want, rtol=1e-15)
    # Rewound to the live step: the live snapshot's rates.
    np.testing.assert_array_equal(snapshot_at(rec, info, live, 60).lr_values, live.lr_values)
