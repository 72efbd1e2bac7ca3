"""Why it converges, in the window: the eigen-directions, the learning rate and its schedule,
the SGD plateau, the landscape's eigen-axes and gradient cloud; each follows the run and
equals core's own functions on the same run."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

from core.analysis import hessian
from core.config import Config, make_config
from core.schedules import SCHEDULES, Schedule, lr_at, lr_sequence
from core.sgd_noise import run_plateau
from core.theory import (
    eigen_errors,
    gd_rate_curves,
    gradient_noise_covariance,
    predicted_errors,
    trained_rows,
)
from core.trainer import Trainer
from gui.eigen_view import step_rates
from gui.landscape_theory import SIGMAS, cloud_size
from gui.style import DARK, is_dark
from gui.teaching import EXPLANATIONS
from gui.theory_worker import plateau_of
from tests.conftest import WAIT_MS, settle, step_of

NEW_VIEWS = ("eigenPlot", "lrPlot")


def _config(**train: object) -> Config:
    """Two correlated features, float64 NumPy: full-batch gradient descent is exact enough to
    follow its predicted rate to 1e-6."""
    return make_config(
        data={"true_weights": [2.0, -1.0], "true_bias": 1.0, "noise_std": 0.5,
              "n_samples": 200, "feature_correlation": 0.6, "val_fraction": 0.0},
        model={"dtype": "float64"},
        train={"implementation": "numpy", "lr": 0.05, "batch_size": 200, "epochs": 60, **train},
    )  # fmt: skip


def _load(window, qtbot, config: Config) -> None:
    """Make config the window's run and wait until it is built and shown."""
    before = window.run_info()
    window.controller.apply_config(config)
    qtbot.waitUntil(
        lambda: window.run_info() is not before and not window.is_busy(), timeout=WAIT_MS
    )
    settle(window, qtbot)


def _train_to_end(window, qtbot) -> None:
    window.controller.run()
    qtbot.waitUntil(lambda: window.run_state() == "completed", timeout=WAIT_MS)
    settle(window, qtbot)
    window.refresh()


def test_the_new_views_and_controls_exist(window):
    for name in (*NEW_VIEWS, "paramTabs", "scheduleCombo", "samplingCombo", "cloudToggle"):
        assert window.findChild(object, name) is not None, name
    for name in NEW_VIEWS:
        button = window.findChild(object, f"explain_{name}")
        assert button is not None and button.toolTip()
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", EXPLANATIONS[name].strip()) if s]
        assert 2 <= len(sentences) <= 4, name
    assert "Reshuffling" in EXPLANATIONS["lossPlot"] and "cancel" in EXPLANATIONS["lossPlot"]
    assert "SGD noise" in EXPLANATIONS["landscapePlot"]
    tabs = window.dashboard.param_tabs
    assert [tabs.tabText(i) for i in range(tabs.count())] == ["Parameters", "Eigen-directions"]


# ---- eigen-directions --------------------------------------------------------------------
def _eigen_expected(window):
    """The eigen view's drawn steps, errors and predictions, and the same from core."""
    info, view = window.run_info(), window.dashboard.eigen_view
    steps, errors = view.measured()
    _, predicted = view.predicted()
    recorded_steps, _, params = window.history().steps()
    rows = params[np.searchsorted(recorded_steps, steps)]
    dirs = view.directions()
    vec = info.hessian_eigenvectors[:, dirs]
    expected = eigen_errors(trained_rows(rows, info.shift, info.scale), info.theta_star, vec)
    e0 = eigen_errors(info.initial_trained, info.theta_star, vec)[0]
    return steps, errors, predicted, expected, e0, info.hessian_eigenvalues[dirs]


@pytest.mark.parametrize("optimizer", ["sgd", "momentum"])
def test_eigen_view_follows_the_run_and_gradient_descent_follows_its_rate(window, qtbot, optimizer):
    _load(window, qtbot, _config(optimizer=optimizer, momentum=0.5))
    window.dashboard.param_tabs.setCurrentIndex(1)
    _train_to_end(window, qtbot)
    steps, errors, predicted, expected, e0, lam = _eigen_expected(window)
    assert steps[-1] == 60 and errors.shape == (steps.size, 3)
    np.testing.assert_allclose(errors, expected, rtol=1e-12, atol=0)
    rate = gd_rate_curves(e0, lam, 0.05, steps, optimizer, 0.5)
    np.testing.assert_allclose(predicted, rate, rtol=1e-9)
    if optimizer == "sgd":
        # Full-batch gradient descent on a quadratic: each direction shrinks by |1 - lr lam|.
        np.testing.assert_allclose(errors, predicted, rtol=1e-6)
    assert window.dashboard.eigen_view.legend_labels()[0].endswith("(max)")


def test_eigen_rates_with_a_schedule_are_the_product_of_the_rates_used(window, qtbot):
    schedule = {"name": "cosine", "lr_min": 0.005}
    _load(window, qtbot, _config(schedule=schedule))
    window.dashboard.param_tabs.setCurrentIndex(1)
    _train_to_end(window, qtbot)
    steps, errors, predicted, _, e0, lam = _eigen_expected(window)
    lrs = lr_sequence(Schedule.of(schedule), 60, 0.05)
    exact = predicted_errors(e0, lam, lrs)[steps.astype(int)]
    np.testing.assert_allclose(predicted, exact, rtol=1e-9)
    np.testing.assert_allclose(errors, predicted, rtol=1e-6)


def test_eigen_view_projects_recorded_rows_of_a_thinned_run(window, qtbot):
    # Batch 1 for 3000 steps: the series are thinned; the errors are still of whole rows, and
    # a constant rate's prediction stays exact at the drawn steps.
    _load(window, qtbot, _config(batch_size=1, epochs=15, lr=0.02))
    window.dashboard.param_tabs.setCurrentIndex(1)
    _train_to_end(window, qtbot)
    steps, errors, predicted, expected, e0, lam = _eigen_expected(window)
    assert steps.size < 3000
    np.testing.assert_allclose(errors, expected, rtol=1e-12)
    np.testing.assert_allclose(predicted, gd_rate_curves(e0, lam, 0.02, steps), rtol=1e-9)


def test_step_rates_are_the_theory_rates():
    from core.theory import rate_per_step

    lam = np.array([0.01, 0.5, 2.0, 7.5])
    lrs = np.array([0.01, 0.1, 0.3])
    for optimizer, mu in (("sgd", 0.0), ("momentum", 0.0), ("momentum", 0.9), ("nesterov", 0.7)):
        got = step_rates(lam, lrs, optimizer, mu)
        want = np.stack([rate_per_step(lam, lr, optimizer, mu) for lr in lrs])
        np.testing.assert_allclose(got, want, rtol=1e-12)
    assert np.isnan(step_rates(lam, lrs, "adam")).all()


def test_eigen_view_follows_a_live_weight_decay(window, qtbot):
    _load(window, qtbot, _config())
    view = window.dashboard.eigen_view
    before = view.eigenvalues()
    window.controller.edit({"train.weight_decay": 0.25})
    np.testing.assert_allclose(view.eigenvalues(), before + 0.25, rtol=1e-12)
    info = window.run_info()
    lam = np.linalg.eigvalsh(hessian(info.stats, "mse", True, 0.0, 0.25))
    assert window.status.condition_label.text() == f"condition number {lam[-1] / lam[0]:.3g}"


def test_eigen_view_is_drawn_only_while_its_tab_shows(window, qtbot):
    d = window.dashboard
    window.controller.run()
    qtbot.waitUntil(lambda: step_of(window) > 0, timeout=WAIT_MS)
    frames = d.pacer.frames
    qtbot.waitUntil(lambda: d.pacer.frames >= frames + 3, timeout=WAIT_MS)
    param = d.param_view.shown_snapshot()
    eigen = d.eigen_view.shown_snapshot()
    assert param is not None and param.step > 0
    assert eigen is None or eigen.step < param.step
    d.param_tabs.setCurrentIndex(1)  # shown: it catches up at once, then every frame
    caught = d.eigen_view.shown_snapshot()
    assert caught is not None and caught.step >= param.step
    qtbot.waitUntil(lambda: d.eigen_view.shown_snapshot().step > caught.step, timeout=WAIT_MS)
    settle(window, qtbot)


def test_condition_number_is_that_of_the_hessian(window):
    info = window.run_info()
    lam = np.linalg.eigvalsh(hessian(info.stats, info.loss_kind, info.fit_bias, 0.0, 0.0))
    np.testing.assert_allclose(info.hessian_eigenvalues, lam, rtol=1e-12)
    assert window.status.condition_label.text() == f"condition number {lam[-1] / lam[0]:.3g}"


# ---- the learning rate and its schedule ---------------------------------------------------
def test_lr_plot_shows_the_scheduled_rates_and_the_plan(window, qtbot):
    schedule = {"name": "step", "step_size": 7, "gamma": 0.5}
    config = _config(schedule=schedule, batch_size=10, epochs=5, lr=0.1)
    _load(window, qtbot, config)
    view = window.dashboard.lr_view
    for _ in range(2):
        window.step_epoch()
    settle(window, qtbot)
    window.refresh()
    assert step_of(window) == 40
    horizon = window.run_info().schedule_horizon
    assert horizon == 100
    rates = lr_sequence(Schedule.of(schedule), horizon, 0.1)
    steps, used = view.used()
    np.testing.assert_array_equal(used, rates[np.maximum(steps.astype(int), 1) - 1])
    plan_steps, plan = view.planned()
    assert plan_steps[0] == 41 and plan_steps[-1] == 100
    np.testing.assert_array_equal(plan, lr_at(Schedule.of(schedule), plan_steps, 100, 0.1))
    # The band is the stable bound of gradient descent, 2 / lambda_max.
    lam_max = window.run_info().hessian_eigenvalues[-1]
    assert view.stable_lr == pytest.approx(2 / lam_max) == window.controller.stable_lr()
    lo, hi = view.band.getRegion()
    assert (lo, hi) == pytest.approx((0.0, 2 / lam_max))
    # The slider scales the schedule live: the plan halves, then the rates used do.
    window.controller.edit({"train.lr": 0.05})
    np.testing.assert_allclose(view.planned()[1], plan / 2, rtol=1e-12)
    window.step_epoch()
    settle(window, qtbot)
    window.refresh()
    steps, used = view.used()
    later = steps > 40
    np.testing.assert_allclose(used[later], rates[steps[later].astype(int) - 1] / 2, rtol=1e-12)


def test_the_rate_plot_shares_the_loss_plots_step_axis(window, qtbot):
    d = window.dashboard
    assert d.lr_view.plotItem.getViewBox().linkedView(0) is d.loss_view.plotItem.getViewBox()
    d.set_log_steps(True)
    assert d.lr_view.log_steps and d.loss_view.log_steps
    d.set_log_steps(False)
    assert not d.lr_view.log_steps


VALUES = {
    "step_size": 50, "gamma": 0.8, "lr_min": 0.002, "warmup_steps": 30, "start_factor": 0.1,
    "pct_start": 0.4, "div_factor": 10.0, "final_div_factor": 100.0, "decay": 0.05,
}  # fmt: skip


def test_schedule_editor_round_trips_every_schedule(window, qtbot):
    editor = window.panel.schedule_editor
    combo = editor.combo
    for name, defaults in SCHEDULES.items():
        combo.setCurrentIndex(combo.findData(name))
        assert window.config().train.schedule == Schedule.of(name)
        assert editor.shown_params() == [k for k in VALUES if k in defaults]
        for key in defaults:
            editor.boxes[key].setValue(VALUES[key])
            assert window.config().train.schedule.get(key) == VALUES[key], (name, key)
        assert window.config().train.schedule == Schedule.of({"name": name, **{
            k: VALUES[k] for k in defaults}})  # fmt: skip
        combo.setCurrentIndex(combo.findData("constant"))
        assert window.config().train.schedule == Schedule()
    settle(window, qtbot)
    # From the configuration to the panel.
    schedule = {"name": "warmup_cosine", "warmup_steps": 17, "lr_min": 0.003}
    _load(window, qtbot, window.config().with_values(
        {"train.schedule": schedule, "train.sampling": "replacement"}))  # fmt: skip
    assert combo.data() == "warmup_cosine"
    assert editor.boxes["warmup_steps"].value() == 17
    assert editor.boxes["lr_min"].value() == 0.003
    assert editor.shown_params() == ["lr_min", "warmup_steps", "start_factor"]
    assert editor.sampling_combo.data() == "replacement"
    editor.sampling_combo.setCurrentIndex(editor.sampling_combo.findData("reshuffle"))
    assert window.config().train.sampling == "reshuffle"
    # A schedule change is a setup change: the run is rebuilt with it.
    settle(window, qtbot)
    assert window.run_info().train.schedule == Schedule.of(schedule)


# ---- the noise of SGD ---------------------------------------------------------------------
@pytest.mark.parametrize("sampling", ["replacement", "reshuffle"])
def test_gradient_cloud_and_its_exact_covariance(window, qtbot, sampling):
    config = _config(batch_size=10, sampling=sampling)
    _load(window, qtbot, config)
    theory = window.landscape_view.theory
    window.step_batch()
    settle(window, qtbot)
    assert theory.shown_cloud()[0].size == 0  # off until toggled
    theory.toggle.click()
    assert theory.cloud_shown and theory.exact()
    window.refresh()
    xs, ys = theory.shown_cloud()
    assert xs.size == ys.size == cloud_size(10)
    snap = window.latest_snapshot()
    ds = Trainer(config).dataset
    want = gradient_noise_covariance(
        ds.x_train, ds.y_train, snap.theta_trained, 10, replacement=sampling == "replacement"
    )
    np.testing.assert_allclose(theory.covariance(), want, rtol=1e-10, atol=1e-14)
    # The drawn ellipse: centred on the full-batch arrow's tip, 2 sigma of that covariance
    # on the arrows' scale.
    shaft_x, shaft_y = window.landscape_view.full_shaft.getData()
    ex, ey = theory.shown_ellipse()
    pts = np.column_stack([ex[:-1], ey[:-1]])  # the last closes the loop
    np.testing.assert_allclose(pts.mean(axis=0), [shaft_x[1], shaft_y[1]], atol=1e-9)
    i, j = window.landscape_view.grid_params()
    g = np.asarray(snap.full_grad)[[i, j]]
    k = math.hypot(shaft_x[1] - shaft_x[0], shaft_y[1] - shaft_y[0]) / float(np.linalg.norm(g))
    spread = np.cov(pts, rowvar=False, bias=True)
    block = want[np.ix_([i, j], [i, j])]
    np.testing.assert_allclose(spread, SIGMAS**2 / 2 * k * k * block, rtol=1e-8)
    # Drawn anew at the next step.
    window.step_batch()
    settle(window, qtbot)
    window.refresh()
    assert not np.array_equal(theory.shown_cloud()[0], xs)
    theory.toggle.click()
    assert not theory.points.isVisible()


def test_landscape_draws_the_hessians_eigen_axes_through_the_minimum(window, qtbot):
    info = window.run_info()
    x, y = window.landscape_view.theory.axes.getData()
    h = hessian(info.stats, info.loss_kind, info.fit_bias)
    _, vec = np.linalg.eigh(h)
    star = info.ols_trained
    for seg in (slice(0, 2), slice(3, 5)):
        a = np.array([x[seg][0], y[seg][0]])
        b = np.array([x[seg][1], y[seg][1]])
        np.testing.assert_allclose((a + b) / 2, star, atol=1e-9)
        d = (b - a) / np.linalg.norm(b - a)
        assert max(abs(d @ vec[:, 0]), abs(d @ vec[:, 1])) == pytest.approx(1.0, abs=1e-12)


def test_loss_plot_draws_the_predicted_plateau_and_follows_the_rate(window, qtbot):
    line = window.dashboard.plateau_line
    config = window.config()
    qtbot.waitUntil(lambda: math.isfinite(line.value), timeout=WAIT_MS)
    trainer = Trainer(config)
    info = window.run_info()
    assert line.value == pytest.approx(info.ols_loss + run_plateau(trainer).excess, rel=1e-12)
    assert "SGD plateau" in line.text and "replacement" in line.text
    window.controller.edit({"train.lr": 0.02})
    want = info.ols_loss + run_plateau(trainer, lr=0.02).excess
    qtbot.waitUntil(lambda: line.value == pytest.approx(want, rel=1e-12), timeout=WAIT_MS)
    assert "0.02" in line.text
    # Full batches of distinct rows carry no noise, and Adam has no prediction.
    for changes in ({"train.batch_size": 10_000}, {"train.optimizer": "adam"}):
        _load(window, qtbot, config.with_values(changes))
        QApplication.processEvents()
        assert math.isnan(line.value)
    window.shutdown()
    assert not window.dashboard._theory_host.thread.isRunning()


def test_a_costly_plateau_waits_for_the_settings_to_rest(window, qtbot, monkeypatch):
    """A prediction that cost much (a million rows: ~0.1 s of a core) is not asked for at
    every change of a drag (one solve after another kept a core busy through it), but once the
    settings rest, for the newest of them; a cheap one follows every change."""
    d = window.dashboard
    line = d.plateau_line
    qtbot.waitUntil(lambda: math.isfinite(line.value), timeout=WAIT_MS)
    worker = d._theory_host.worker
    asked: list[float] = []
    original = worker.predict_plateau

    def predict(key, info, train) -> None:
        asked.append(train.lr)
        original(key, info, train)

    monkeypatch.setattr(worker, "predict_plateau", predict)
    d._plateau_cost = 0.001  # as a preset's costs (its solve's own time, however busy)
    for lr in (0.02, 0.021):
        window.controller.edit({"train.lr": lr})
    assert asked == [0.02, 0.021] and not d.plateau_waiting()
    qtbot.waitUntil(lambda: "0.021" in line.text, timeout=WAIT_MS)
    asked.clear()
    d._plateau_cost = 1.0  # as the last one cost on a million rows
    for lr in (0.03, 0.031, 0.032):
        window.controller.edit({"train.lr": lr})
        assert asked == [] and d.plateau_waiting()
    qtbot.waitUntil(lambda: asked == [0.032], timeout=WAIT_MS)
    want = window.run_info().ols_loss + run_plateau(Trainer(window.config())).excess
    qtbot.waitUntil(lambda: line.value == pytest.approx(want, rel=1e-12), timeout=WAIT_MS)
    assert asked == [0.032] and "0.032" in line.text


def test_the_plateau_follows_data_moved_under_the_run(window, qtbot):
    """More noise under a running fit (a drag of the noise slider) raises the plateau: the
    line is predicted anew from the moved data (it kept the plateau of the data before)."""
    line = window.dashboard.plateau_line
    qtbot.waitUntil(lambda: math.isfinite(line.value), timeout=WAIT_MS)
    before, old = window.run_info(), line.value
    window.controller.edit({"data.noise_std": 2.0})
    qtbot.waitUntil(lambda: window.run_info() is not before, timeout=WAIT_MS)
    info = window.run_info()
    want = info.ols_loss + plateau_of(info, window.config().train).excess
    assert want > 4 * old
    qtbot.waitUntil(lambda: line.value == pytest.approx(want, rel=1e-12), timeout=WAIT_MS)


# ---- export and theme ---------------------------------------------------------------------
def test_exports_write_the_new_views(window, qtbot, tmp_path):
    window.step_epoch()
    qtbot.waitUntil(lambda: step_of(window) >= 20, timeout=WAIT_MS)
    window.landscape_view.theory.set_cloud_shown(True)
    names = {p.name for p in window.export_run(tmp_path)}
    for view in ("lr", "eigen"):
        assert {f"{view}.png", f"{view}.svg"} <= names
        assert (tmp_path / f"{view}.png").read_bytes()[:4] == b"\x89PNG"
        svg = ET.parse(tmp_path / f"{view}.svg").getroot()
        assert any(el.tag.endswith(("path", "polyline")) for el in svg.iter())


def test_dark_theme_reaches_the_new_views(window, qtbot):
    window.dark_theme_action.trigger()
    d = window.dashboard
    theory = window.landscape_view.theory
    for view in (d.lr_view, d.eigen_view):
        assert view.palette_in_use is DARK
        assert view.backgroundBrush().color().name() == DARK.background
    assert d.lr_view.used_curve.opts["pen"].color().name() == DARK.lr_used
    assert d.eigen_view.measured_curves[0].opts["pen"].color() == DARK.param(0)
    assert d.plateau_line.line.pen.color().name() == DARK.plateau
    assert theory.points.opts["brush"].color() == DARK.color("cloud")
    assert theory.axes.opts["pen"].color().name() == DARK.eigen_axis
    QApplication.processEvents()
    assert is_dark(window.panel.schedule_editor.combo.palette())
