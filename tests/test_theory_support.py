"""What core gives the window's theory views: whole recorded rows at the drawn steps, the run's
settings and the plateau's rows in RunInfo, and the arrows' common scale."""

from __future__ import annotations

import numpy as np
import pytest

from core.analysis import SufficientStats
from core.config import make_config
from core.history import History
from core.landscape import arrow_scale, arrows
from core.review import Recording, snapshot_at
from core.runinfo import run_info
from core.sgd_noise import noise_rows, run_plateau, sgd_plateau
from core.theory import distinct_rows
from core.trainer import Trainer


def _noisy(n: int = 300, steps: int = 3000, **train: object) -> Trainer:
    config = make_config(
        data={"true_weights": [2.0, -1.0], "true_bias": 1.0, "noise_std": 1.0, "n_samples": n},
        train={"implementation": "numpy", "lr": 0.05, "batch_size": 1, "epochs": 100, **train},
        model={"dtype": "float64"},
    )
    trainer = Trainer(config)
    trainer.run_steps(steps)
    return trainer


def test_rows_at_gives_whole_recorded_rows_where_the_envelope_mixes_columns() -> None:
    trainer = _noisy()
    snap = trainer.snapshot(max_points=200)  # 3000 noisy steps in 200 points: thinned
    steps, _, params = trainer.history.steps()
    recorded = {int(s): p for s, p in zip(steps, params, strict=True)}
    assert snap.param_rows.shape == snap.param_values.shape
    for step, row in zip(snap.loss_steps, snap.param_rows, strict=True):
        np.testing.assert_array_equal(row, recorded[int(step)])
    # The envelope pairs each column's own extremes: some of its rows were never recorded.
    mixed = [
        not np.array_equal(v, recorded[int(s)])
        for s, v in zip(snap.loss_steps, snap.param_values, strict=True)
    ]
    assert any(mixed)


def test_rows_at_reads_the_row_at_or_before_each_step() -> None:
    history = History(2, ["w", "b"])
    history.record_steps(1, np.array([1.0, 2.0]), np.array([[1.0, 2.0], [3.0, 4.0]]))
    np.testing.assert_array_equal(
        history.rows_at(np.array([1, 2, 5])), [[1.0, 2.0], [3.0, 4.0], [3.0, 4.0]]
    )
    assert History(2, ["w", "b"]).rows_at(np.array([3])).shape == (1, 2)


def test_a_rewound_snapshot_carries_the_recorded_rows_too() -> None:
    trainer = _noisy()
    info, live = run_info(trainer), trainer.snapshot(max_points=300)
    snap = snapshot_at(Recording.of(trainer.history), info, live, 1700)
    steps, _, params = trainer.history.steps()
    at = np.searchsorted(steps, snap.loss_steps)
    np.testing.assert_array_equal(snap.param_rows, params[at])
    assert snap.loss_steps[-1] == 1700


@pytest.mark.parametrize(
    ("n", "features"), [(300, 2), (20_000, 16)], ids=["all rows", "a strided subset"]
)
def test_the_plateau_from_run_info_is_run_plateau(n: int, features: int) -> None:
    rng = np.random.default_rng(3)
    config = make_config(
        data={
            "true_weights": list(rng.standard_normal(features)),
            "noise_std": 0.5,
            "n_samples": n,
        },
        train={"implementation": "numpy", "lr": 0.01, "batch_size": 7, "momentum": 0.5},
    )
    for optimizer in ("sgd", "momentum"):
        trainer = Trainer(config.with_value("train.optimizer", optimizer))
        info = run_info(trainer)
        t = info.train
        assert (info.batch_size, info.schedule_horizon) == (7, trainer.schedule_horizon)
        assert t == trainer.config.train
        expected = run_plateau(trainer)
        assert expected is not None
        rows = noise_rows(info.n_train, info.hessian_eigenvalues)
        assert info.noise_y.size == rows.size == expected.rows_used
        assert (rows.size < n) == (features == 16)
        got = sgd_plateau(
            info.noise_x, info.noise_y, t.lr, info.batch_size, t.loss, info.fit_bias,
            t.l2_penalty, t.weight_decay, t.optimizer, t.momentum, stats=info.stats,
            n_rows=info.n_train,
        )  # fmt: skip
        assert got is not None
        assert got.excess == pytest.approx(expected.excess, rel=1e-12)
        assert got.rows_used == expected.rows_used


def test_n_rows_sets_the_mean_batch_size_of_a_subset() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1001, 1))
    y = 2 * x[:, 0] + rng.standard_normal(1001)
    stats = SufficientStats.from_data(x, y)
    whole = sgd_plateau(x, y, 0.05, 10, stats=stats)
    # The same rows told they are 1001 of 1001: the same; told they are of 1010: the last
    # batch of an epoch is another size, and the mean of 1 / batch size moves.
    assert sgd_plateau(x, y, 0.05, 10, stats=stats, n_rows=1001).excess == whole.excess
    assert sgd_plateau(x, y, 0.05, 10, stats=stats, n_rows=1010).excess != whole.excess


def test_arrow_scale_is_the_factor_of_the_arrows() -> None:
    grads = [np.array([3.0, -1.0, 0.5]), None, np.array([0.2, 0.4, -6.0])]
    for pair, spans in (((0, 2), (2.0, 5.0)), ((1, 1), (1.0, 1.0))):
        k = arrow_scale(grads, pair, spans)
        steps = arrows(grads, pair, spans)
        assert k is not None
        for g, step in zip(grads, steps, strict=True):
            if g is None:
                assert step is None
                continue
            i, j = pair
            assert step == pytest.approx((-k * g[i], 0.0 if i == j else -k * g[j]))
    assert arrow_scale([np.zeros(3)], (0, 1), (1.0, 1.0)) is None


@pytest.mark.parametrize(("n_rows", "b"), [(1000, 10), (30, 12)], ids=["drawn at once", "each"])
def test_distinct_rows_are_distinct_and_every_row_as_likely(n_rows: int, b: int) -> None:
    rng = np.random.default_rng(5)
    rows = distinct_rows(rng, n_rows, b, 6000)
    assert rows.shape == (6000, b) and rows.min() >= 0 and rows.max() < n_rows
    assert all(np.unique(r).size == b for r in rows)
    # Each row is in a draw with probability b / n_rows, each position alike.
    counts = np.bincount(rows.ravel(), minlength=n_rows)
    expected = 6000 * b / n_rows
    assert np.abs(counts - expected).max() < 6 * np.sqrt(expected)
    first = np.bincount(rows[:, 0], minlength=n_rows)
    assert np.abs(first - 6000 / n_rows).max() < 6 * np.sqrt(6000 / n_rows)
