"""Tests for gui.landscape and the snapshot gradients it draws (pytest-qt, offscreen)."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

import core.trainer as trainer_module
from core.landscape import COLOR_STEP, stepped_color_range
from core.presets import preset_config
from core.runinfo import RunInfo, run_info
from core.trainer import Snapshot, Trainer
from gui.landscape import GRID, LandscapeView

Run = tuple[Trainer, RunInfo, Snapshot]


def _trainer(name: str, steps: int, **changes: object) -> Trainer:
    config = preset_config(name)
    for dotted, value in changes.items():
        config = config.with_value(dotted.replace("__", "."), value)
    trainer = Trainer(config)
    trainer.run_steps(steps)
    return trainer


def _run(name: str, steps: int, **changes: object) -> Run:
    trainer = _trainer(name, steps, **changes)
    return trainer, run_info(trainer), trainer.snapshot()


@pytest.fixture(scope="module")
def playground() -> Run:
    return _run("playground", 40)


@pytest.fixture(scope="module")
def concise3() -> Run:
    return _run("d2l-concise-3", 60)


def _view(qtbot, info: RunInfo, snap: Snapshot | None = None) -> LandscapeView:
    view = LandscapeView()
    qtbot.addWidget(view)
    view.resize(900, 650)
    view.set_run(info)
    if snap is not None:
        view.update_snapshot(snap)
    return view


def _argmin(view: LandscapeView) -> tuple[float, float, float, float]:
    """Grid point of the smallest loss, and the grid spacing along each axis."""
    u, v, z = view.grid()
    row, col = np.unravel_index(np.argmin(z), z.shape)
    return float(u[col]), float(v[row]), float(u[1] - u[0]), float(v[1] - v[0])


def _direct_loss(trainer: Trainer, theta: np.ndarray) -> float:
    """Objective computed from the training rows themselves."""
    ds = trainer.dataset
    r = ds.x_train @ theta[:-1] + theta[-1] - ds.y_train
    c = 0.5 if trainer.loss_kind == "half_mse" else 1.0
    return c * float(np.mean(r * r))


def _direct_grad(trainer: Trainer, rows: np.ndarray, theta: np.ndarray) -> np.ndarray:
    ds = trainer.dataset
    x, y = ds.x_train[rows], ds.y_train[rows]
    r = x @ theta[:-1] + theta[-1] - y
    c = 0.5 if trainer.loss_kind == "half_mse" else 1.0
    g = np.append(x.T @ r, r.sum()) * (2.0 * c / len(rows))
    if not trainer.config.model.fit_bias:
        g[-1] = 0.0
    l2 = trainer.config.train.l2_penalty
    if l2:
        g[:-1] += 2 * l2 * theta[:-1]
        if trainer.config.model.fit_bias:
            g[-1] += 2 * l2 * theta[-1]
    return g


# ---- core: RunInfo and snapshot gradients ----------------------------------------------


def test_run_info_carries_trained_space(playground: Run) -> None:
    trainer, info, _ = playground
    assert info.stats is trainer.stats
    np.testing.assert_allclose(info.ols_trained, trainer.least_squares())
    np.testing.assert_array_equal(info.shift, trainer.dataset.shift)
    np.testing.assert_array_equal(info.scale, trainer.dataset.scale)
    np.testing.assert_array_equal(info.initial_trained, trainer.theta0)


def test_gradients_before_the_first_step() -> None:
    trainer = _trainer("playground", 0)
    snap = trainer.snapshot()
    assert snap.batch_grad.size == 0
    np.testing.assert_allclose(
        snap.full_grad, _direct_grad(trainer, np.arange(trainer.dataset.n_train), trainer.theta())
    )


@pytest.mark.parametrize(
    ("name", "changes"),
    [
        ("playground", {}),
        ("d2l-scratch", {}),  # half_mse
        ("l2-1d", {"train__batch_size": 10}),  # l2 penalty
        ("tiny-numpy-f64", {"train__batch_size": 2}),  # no bias
    ],
)
def test_snapshot_gradients_match_direct_computation(name: str, changes: dict) -> None:
    trainer = _trainer(name, 7, **changes)
    snap = trainer.snapshot()
    theta = snap.theta_trained
    rows = snap.batch_indices
    assert 0 < rows.size < trainer.dataset.n_train
    np.testing.assert_allclose(snap.batch_grad, _direct_grad(trainer, rows, theta), rtol=1e-9)
    full = _direct_grad(trainer, np.arange(trainer.dataset.n_train), theta)
    np.testing.assert_allclose(snap.full_grad, full, rtol=1e-7, atol=1e-12)
    if not trainer.config.model.fit_bias:
        assert snap.full_grad[-1] == 0.0 and snap.batch_grad[-1] == 0.0


def test_full_batch_gradients_are_equal_and_minibatch_ones_differ() -> None:
    full = _trainer("playground", 5, train__batch_size=200).snapshot()
    assert full.n_batches == 1
    np.testing.assert_allclose(full.batch_grad, full.full_grad)
    mini = _trainer("playground", 5).snapshot()
    assert not np.allclose(mini.batch_grad, mini.full_grad)


def test_large_batches_estimate_from_a_strided_subset(monkeypatch) -> None:
    trainer = _trainer("playground", 1, train__batch_size=100)
    monkeypatch.setattr(trainer_module, "MAX_GRAD_ROWS", 30)
    rows = trainer.batch_indices()
    theta = trainer.theta()
    # 100 rows, at most 30 used: every 4th row.
    np.testing.assert_allclose(
        trainer.batch_gradient(rows, theta), _direct_grad(trainer, rows[::4], theta)
    )


# ---- the view ----------------------------------------------------------------------------


def test_minimum_matches_least_squares_on_playground(qtbot, playground: Run) -> None:
    _, info, snap = playground
    view = _view(qtbot, info, snap)
    assert view.objectName() == "landscapePlot"
    assert view.grid_params() == (0, 1)  # (w1, bias)
    u, v, z = view.grid()
    assert z.shape == (GRID, GRID) and u.size == GRID and v.size == GRID
    x, y, du, dv = _argmin(view)
    ols = info.ols_trained
    assert abs(x - ols[0]) <= du and abs(y - ols[1]) <= dv
    # The least-squares point, the start and the true point are inside the range.
    for theta in (ols, info.initial_trained, info.true_theta):
        assert u[0] < theta[0] < u[-1] and v[0] < theta[1] < v[-1]
    # No chooser for two parameters: there is only one pair.
    assert view.chooser.isHidden()


def test_minimum_matches_least_squares_for_a_chosen_pair(qtbot, concise3: Run) -> None:
    _, info, snap = concise3
    view = _view(qtbot, info)
    assert view.grid_params() == (0, 3)  # default: w1 and the bias
    # Hold the other parameters at least squares, then pick (w2, w3) with the combos.
    view.update_snapshot(dataclasses.replace(snap, theta_trained=info.ols_trained.copy()))
    assert not view.chooser.isHidden()
    view.x_combo.setCurrentIndex(1)
    view.y_combo.setCurrentIndex(2)
    assert view.grid_params() == (1, 2)
    x, y, du, dv = _argmin(view)
    ols = info.ols_trained
    assert abs(x - ols[1]) <= du and abs(y - ols[2]) <= dv
    assert view.plotItem.getAxis("bottom").labelText.startswith("w[x2]")
    assert view.plotItem.getAxis("left").labelText.startswith("w[x3]")


def test_switching_the_pair_recomputes_the_grid(qtbot, concise3: Run) -> None:
    _, info, snap = concise3
    view = _view(qtbot, info, snap)
    _, _, before = view.grid()
    combo = view.x_combo
    assert combo.count() == 4
    assert [combo.itemText(k) for k in range(4)] == ["w[x1]", "w[x2]", "w[x3]", "bias"]
    combo.setCurrentIndex(2)
    assert view.grid_params() == (2, 3)
    _, _, after = view.grid()
    assert not np.allclose(before, after)
    # Picking the other axis' parameter swaps the two.
    view.y_combo.setCurrentIndex(2)
    assert view.grid_params() == (3, 2)
    assert view.x_combo.currentIndex() == 3


def test_grid_values_equal_direct_losses(qtbot, concise3: Run) -> None:
    trainer, info, snap = concise3
    view = _view(qtbot, info, snap)
    view.set_pair(1, 3)
    u, v, z = view.grid()
    held = snap.theta_trained
    for row, col in [(0, 0), (GRID - 1, 17), (100, 150), (63, GRID - 1)]:
        theta = held.copy()
        theta[1], theta[3] = u[col], v[row]
        assert z[row, col] == pytest.approx(_direct_loss(trainer, theta), rel=1e-9)


def test_path_and_current_point(qtbot, playground: Run) -> None:
    trainer, info, snap = playground
    view = _view(qtbot, info, snap)
    px, py = view.path.getData()
    n = snap.param_values.shape[0]
    assert n > 1 and len(px) == n
    # The path is drawn in trained units and ends at the current parameters.
    trained = trainer.dataset.to_trained(snap.param_values)
    np.testing.assert_allclose(px, trained[:, 0])
    np.testing.assert_allclose(py, trained[:, 1])
    cx, cy = view.current.getData()
    np.testing.assert_allclose([cx[0], cy[0]], snap.theta_trained[[0, 1]])
    # The least-squares star sits at the closed-form solution.
    sx, sy = view.minimum.getData()
    np.testing.assert_allclose([sx[0], sy[0]], info.ols_trained)


def test_path_on_standardised_data(qtbot) -> None:
    trainer, info, snap = _run("d2l-concise-3", 30, data__standardize=True)
    view = _view(qtbot, info, snap)
    assert "(standardised)" in view.plotItem.getAxis("bottom").labelText
    px, py = view.path.getData()
    trained = trainer.dataset.to_trained(snap.param_values)
    np.testing.assert_allclose(px, trained[:, 0])
    np.testing.assert_allclose(py, trained[:, 3])
    # The last recorded step is the current point.
    np.testing.assert_allclose([px[-1], py[-1]], snap.theta_trained[[0, 3]], rtol=1e-5)
    x, y, du, dv = _argmin(view)
    assert abs(x - info.ols_trained[0]) <= du and abs(y - info.ols_trained[3]) <= dv


def test_a_frame_that_moves_nothing_by_a_pixel_draws_nothing(qtbot, playground: Run) -> None:
    """A converged run's landscape frame hands no item new points (so nothing repaints, and
    the frame does not wait for a paint): update_snapshot says False. A move it can see is
    drawn, and one below a quarter pixel is left as drawn."""
    _, info, snap = playground
    view = _view(qtbot, info, snap)
    assert view.update_snapshot(snap) is False
    sx = view.plotItem.getViewBox().viewPixelSize()[0]
    items = (view.path, view.full_shaft, view.batch_shaft, view.theory.axes)
    drawn = [item.getData() for item in items]

    def nudged(pixels: float) -> Snapshot:
        theta = snap.theta_trained.copy()
        theta[0] += pixels * sx
        return dataclasses.replace(snap, theta_trained=theta)

    assert view.update_snapshot(nudged(0.1)) is False
    for item, (x, y) in zip(items, drawn, strict=True):
        assert item.getData()[0] is x and item.getData()[1] is y  # not handed anything
    cx, _ = view.current.getData()
    assert cx[0] == pytest.approx(snap.theta_trained[0])
    assert view.update_snapshot(nudged(3.0)) is True
    cx, _ = view.current.getData()
    assert cx[0] == pytest.approx(snap.theta_trained[0] + 3.0 * sx)
    shaft_x, _ = view.full_shaft.getData()
    assert shaft_x[0] == pytest.approx(cx[0])  # the arrows start at the moved point
    # The path grown by points within its last pixel is still; by one 2 px away, drawn.
    assert view.update_snapshot(snap) is True  # the point back where it was
    last = snap.param_values[-1]
    per_px = sx / info.scale[0]  # the weight, in original units, that moves a pixel
    near = np.vstack([snap.param_values, last + np.array([0.01 * per_px, 0.0])])
    assert view.update_snapshot(dataclasses.replace(snap, param_values=near)) is False
    far = np.vstack([snap.param_values, last + np.array([2 * per_px, 0.0])])
    assert view.update_snapshot(dataclasses.replace(snap, param_values=far)) is True
    assert len(view.path.getData()[0]) == len(far)


def _arrow(shaft) -> np.ndarray:
    x, y = shaft.getData()
    return np.array([x[1] - x[0], y[1] - y[0]])


def test_arrows_follow_the_negative_gradients(qtbot) -> None:
    _, info, snap = _run("playground", 5)
    view = _view(qtbot, info, snap)
    full, batch = _arrow(view.full_shaft), _arrow(view.batch_shaft)
    # Same scale for both: the arrows are -k * gradient with one k > 0.
    k = full / -snap.full_grad
    assert k[0] > 0 and k[0] == pytest.approx(k[1])
    np.testing.assert_allclose(batch, -k[0] * snap.batch_grad)
    assert not np.allclose(full, batch)
    # The longer one spans ARROW_FRACTION of the view.
    (x0, x1), (y0, y1) = view.plotItem.getViewBox().viewRange()
    longest = max(np.hypot(a[0] / (x1 - x0), a[1] / (y1 - y0)) for a in (full, batch))
    assert longest == pytest.approx(0.2)
    assert view.full_head.isVisible() and view.batch_head.isVisible()


def test_full_batch_arrows_coincide(qtbot) -> None:
    _, info, snap = _run("playground", 5, train__batch_size=200)
    view = _view(qtbot, info, snap)
    np.testing.assert_allclose(_arrow(view.full_shaft), _arrow(view.batch_shaft))


def test_held_parameters_drifting_regrid_at_most_twice_a_second(qtbot, concise3: Run) -> None:
    _, info, snap = concise3
    view = _view(qtbot, info)
    # A grid made now (so a stall of the machine since set_run cannot make it look old);
    # then a frame whose held weights moved.
    view.map.refit()
    made = view.map.grids_computed
    _, _, first = view.grid()
    view.update_snapshot(snap)
    assert view.map.grids_computed == made
    qtbot.waitUntil(lambda: view.map.grids_computed == made + 1, timeout=3000)
    _, _, second = view.grid()
    assert not np.allclose(first, second)
    # Frames with the same held values do not regrid.
    for _ in range(5):
        view.update_snapshot(snap)
    assert view.map.grids_computed == made + 1


def test_one_parameter_shows_a_curve(qtbot) -> None:
    trainer, info, snap = _run("playground", 30, model__fit_bias=False)
    view = _view(qtbot, info, snap)
    assert view.grid_params() == (0, 0)
    assert view.chooser.isHidden()
    assert not view.image.isVisible() and view.curve.isVisible()
    u, v, z = view.grid()
    assert v.size == 0 and z.shape == u.shape
    ols = info.ols_trained[0]
    assert abs(u[np.argmin(z)] - ols) <= u[1] - u[0]
    for k in (0, 123, len(u) - 1):
        assert z[k] == pytest.approx(_direct_loss(trainer, np.array([u[k], 0.0])), rel=1e-9)
    px, py = view.path.getData()
    assert len(px) == snap.param_values.shape[0]
    # Path points sit on the curve: (w, loss(w)).
    assert py[-1] == pytest.approx(_direct_loss(trainer, np.array([px[-1], 0.0])), rel=1e-9)
    # Arrows lie along the w axis.
    assert _arrow(view.full_shaft)[1] == 0.0


def test_million_samples(qtbot) -> None:
    trainer = _trainer("playground", 20, data__n_samples=1_000_000, train__implementation="numpy")
    info, snap = run_info(trainer), trainer.snapshot()
    view = LandscapeView()
    qtbot.addWidget(view)
    view.resize(900, 650)
    t0 = time.perf_counter()
    view.set_run(info)
    t1 = time.perf_counter()
    view.update_snapshot(snap)
    t2 = time.perf_counter()
    view.set_pair(1, 0)
    t3 = time.perf_counter()
    print(
        f"\n1e6 samples: set_run {1e3 * (t1 - t0):.1f} ms (grid + image + contours "
        f"{1e3 * view.grid_seconds:.2f} ms), frame {1e3 * (t2 - t1):.2f} ms, "
        f"pair change {1e3 * (t3 - t2):.1f} ms"
    )
    u, v, z = view.grid()
    assert view.grid_params() == (1, 0)  # bias along x, w along y
    for row, col in [(0, 0), (GRID - 1, GRID - 1), (50, 140)]:
        theta = np.array([v[row], u[col]])
        assert z[row, col] == pytest.approx(_direct_loss(trainer, theta), rel=1e-9)


def test_export_png_and_svg(qtbot, tmp_path, concise3: Run) -> None:
    _, info, snap = concise3
    view = _view(qtbot, info, snap)
    png, svg = tmp_path / "landscape.png", tmp_path / "landscape.svg"
    view.export_png(png)
    view.export_svg(svg)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = svg.read_text()
    assert "<svg" in text and "</svg>" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["landscape.png", "landscape.svg"]
    view.export_png(png, width=400)


def test_key_goes_to_two_columns_then_hides_rather_than_cover_the_map(qtbot, concise3: Run) -> None:
    _, info, snap = concise3
    view = _view(qtbot, info, snap)
    view.show()
    qtbot.waitExposed(view)
    vb = view.plotItem.getViewBox()

    def covered() -> float:
        rect = view.legend.boundingRect()
        return rect.width() * rect.height() / (vb.width() * vb.height())

    qtbot.waitUntil(lambda: vb.width() > 500, timeout=5000)
    assert view.legend.isVisible() and view.legend.columnCount == 1 and covered() <= 0.3
    view.resize(380, 300)  # a small window's quarter
    qtbot.waitUntil(lambda: not view.legend.isVisible(), timeout=5000)
    assert "key is hidden" in view.plot.toolTip()
    view.resize(900, 650)
    qtbot.waitUntil(view.legend.isVisible, timeout=5000)
    assert covered() <= 0.3 and not view.plot.toolTip()


def test_the_colour_bar_shows_the_stepped_scale(qtbot, playground: Run) -> None:
    """The map's colours and its bar use the scale rounded up to a step of decades (a drag
    that moves the grid a little then relabels nothing)."""
    _, info, snap = playground
    view = _view(qtbot, info, snap)
    lo, hi = view.map.colorbar.levels()
    grid_lo, grid_hi = view.map._grid.color_range
    assert (lo, hi) == stepped_color_range((grid_lo, grid_hi)) != (grid_lo, grid_hi)
    assert hi >= grid_hi and lo <= grid_lo and hi - lo < grid_hi - grid_lo + 2 * COLOR_STEP
    assert tuple(view.map.image.getLevels()) == pytest.approx((lo, hi))


def test_moved_targets_regrid_without_redrawing_what_sits_on_the_map(qtbot) -> None:
    """A drag's small change of the targets keeps the pair, the ranges and the units: the map
    regrids, but the path, the ghosts and the grab area (drawn on pair_changed) stay as drawn
    (at every change of a drag they were drawn twice). Rebuilt data with new units redraws."""
    trainer = _trainer("playground", 40)
    view = _view(qtbot, run_info(trainer), trainer.snapshot())
    redrawn: list[int] = []
    view.map.pair_changed.connect(lambda: redrawn.append(1))
    before = view.map._grid.z.copy()
    trainer.set_targets(np.array(trainer.config.data.true_weights), 1.1, 0.5)
    view.follow_data(run_info(trainer))
    assert redrawn == [] and not np.array_equal(view.map._grid.z, before)
    moved = run_info(trainer)
    restandardised = dataclasses.replace(moved, shift=moved.shift + 0.01)
    view.follow_data(restandardised)
    assert redrawn == [1]


def _axes_crossing(view: LandscapeView) -> np.ndarray:
    """Where the two drawn eigen-axes cross."""
    x, y = (np.asarray(a, dtype=np.float64) for a in view.theory.axes.getData())
    (a0, a1), (b0, b1) = (np.array([[x[k], y[k]], [x[k + 1], y[k + 1]]]) for k in (0, 3))
    # Solve a0 + s (a1 - a0) = b0 + t (b1 - b0).
    s, _ = np.linalg.solve(np.column_stack([a1 - a0, b0 - b1]), b0 - a0)
    return a0 + s * (a1 - a0)


def test_the_eigen_axes_cross_at_the_moved_minimum(qtbot) -> None:
    """Data moved under a running fit (a drag of the bias) moves the minimum: the Hessian's
    eigen-axes drawn on the map cross at the new minimum, not the old one."""
    trainer = _trainer("playground", 40)
    view = _view(qtbot, run_info(trainer), trainer.snapshot())
    old = view.map.point(view.map._min_theta)
    assert _axes_crossing(view) == pytest.approx(old, abs=1e-9)
    trainer.set_targets(np.array(trainer.config.data.true_weights), 4.0, 0.5)
    view.follow_data(run_info(trainer))
    view.update_snapshot(trainer.snapshot())
    moved = view.map.point(view.map._min_theta)
    assert abs(moved[1] - old[1]) > 1.0
    assert _axes_crossing(view) == pytest.approx(moved, abs=1e-9)


def test_a_minimum_moved_near_the_edge_re_ranges_the_map(qtbot) -> None:
    """Data moved under the run keeps the ranges while the marks lie well inside; a minimum
    moved to within 5% of an edge (its star cut in half there) re-ranges the view around it."""
    trainer = _trainer("playground", 40)
    view = _view(qtbot, run_info(trainer), trainer.snapshot())
    (_, _), (y0, y1) = view.map._range
    _, b_min = view.map.point(view.map._min_theta)
    w, b = np.array(trainer.config.data.true_weights), trainer.config.data.true_bias

    def move_minimum_to(y: float) -> tuple[float, float]:
        trainer.set_targets(w, b + (y - b_min), 0.5)  # the least-squares bias moves as much
        view.follow_data(run_info(trainer))
        return view.map.point(view.map._min_theta)[1], view.map._range[1]

    y, kept = move_minimum_to(y1 - 0.1 * (y1 - y0))
    assert kept == (y0, y1) and y == pytest.approx(y1 - 0.1 * (y1 - y0))
    y, moved = move_minimum_to(y1 - 0.02 * (y1 - y0))
    assert moved != (y0, y1)
    assert moved[0] + 0.1 * (moved[1] - moved[0]) < y < moved[1] - 0.1 * (moved[1] - moved[0])
