"""train.sampling: batches reshuffled each epoch (the default) or drawn with replacement."""

from __future__ import annotations

import numpy as np
import pytest

from core import trainer as trainer_module
from core.config import IMPLEMENTATIONS, Config, make_config
from core.data import epoch_order
from core.errors import ConfigError
from core.trainer import Trainer


def drawn_config(impl: str = "numpy", **train) -> Config:
    return make_config(
        data={"true_weights": [1.5, -0.5], "true_bias": 1.0, "n_samples": 50, "seed": 3},
        model={"dtype": "float64", "init_std": 0.5},
        train={
            "implementation": impl,
            "optimizer": "momentum",
            "lr": 0.02,
            "batch_size": 8,
            "epochs": 6,
            "sampling": "replacement",
            **train,
        },
    )


def test_an_epoch_drawn_with_replacement():
    order = epoch_order(1000, 7, 0, True, "replacement")
    assert order.shape == (1000,) and order.min() >= 0 and order.max() < 1000
    # Drawn with replacement: some rows twice, about 1 - 1/e of them at all.
    assert 0.6 < np.unique(order).size / 1000 < 0.66
    np.testing.assert_array_equal(order, epoch_order(1000, 7, 0, False, "replacement"))
    assert not np.array_equal(order, epoch_order(1000, 7, 1, True, "replacement"))
    assert not np.array_equal(order, epoch_order(1000, 8, 0, True, "replacement"))
    # Every row equally likely, independently: counts over many epochs are uniform.
    counts = np.bincount(
        np.concatenate([epoch_order(50, 1, e, True, "replacement") for e in range(400)]),
        minlength=50,
    )
    chi2 = float(np.sum((counts - 400) ** 2 / 400))
    assert chi2 < 100  # 49 degrees of freedom: p ~ 3e-5 at 100
    # Reshuffling stays a permutation, and the default.
    assert np.array_equal(np.sort(epoch_order(50, 1, 0, True)), np.arange(50))
    assert Config().train.sampling == "reshuffle"


def test_the_three_implementations_draw_the_same_batches():
    runs = {}
    for impl in IMPLEMENTATIONS:
        trainer = Trainer(drawn_config(impl))
        rows = []
        for _ in range(trainer.total_steps):
            trainer.step()
            rows.append(trainer.batch_indices())
        runs[impl] = (trainer, rows)
    ref_trainer, ref_rows = runs["module"]
    for impl, (trainer, rows) in runs.items():
        for a, b in zip(rows, ref_rows, strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(
            trainer.history.steps()[2], ref_trainer.history.steps()[2], atol=1e-9, err_msg=impl
        )
    # Some batch held a row twice: the batches really were drawn with replacement.
    assert any(np.unique(r).size < r.size for r in ref_rows)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_drawn_batches_step_as_they_run(impl):
    a, b = Trainer(drawn_config(impl)), Trainer(drawn_config(impl))
    for _ in range(23):
        a.step()
    b.run_steps(23)
    for x, y in zip(a.history.steps(), b.history.steps(), strict=True):
        np.testing.assert_array_equal(x, y)


def test_a_full_batch_drawn_with_replacement_is_a_fresh_sample_each_step():
    full = drawn_config(batch_size=50, optimizer="sgd", epochs=20)
    gd = Trainer(full.with_value("train.sampling", "reshuffle"))
    boot = Trainer(full)
    gd.run_steps(gd.total_steps)
    boot.run_steps(boot.total_steps)
    assert boot.step_count == gd.step_count == 20
    _, gd_loss, _ = gd.history.steps()
    boot_params = boot.history.steps()[2]
    assert np.all(np.diff(gd_loss[1:]) < 0)  # full-batch descent: always down
    assert not np.allclose(boot_params, gd.history.steps()[2])
    rows = boot.batch_indices()
    assert rows.size == 50 and np.unique(rows).size < 50
    # The snapshot's batch gradient is that sample's, not the full gradient (a bootstrap batch
    # is as large as the data but is not the data).
    theta = boot.theta()
    grad = boot.batch_gradient(rows, theta)
    assert not np.allclose(grad, boot.full_gradient(theta))
    ds = boot.dataset
    xb = np.hstack([ds.x_train[rows], np.ones((50, 1))])
    np.testing.assert_allclose(grad, 2 / 50 * xb.T @ (xb @ theta - ds.y_train[rows]), rtol=1e-12)
    assert boot.history.epochs()["epoch"].tolist() == list(range(21))


def test_the_next_drawn_epoch_fetched_ahead_is_the_same(monkeypatch):
    config = drawn_config(epochs=5)
    plain = Trainer(config)
    plain.run_steps(plain.total_steps)
    monkeypatch.setattr(trainer_module, "PREFETCH_ROWS", 1)
    ahead = Trainer(config)
    ahead.run_steps(10)
    assert ahead._orders.ahead is not None
    ahead.run_steps(ahead.total_steps)
    np.testing.assert_array_equal(ahead.history.steps()[2], plain.history.steps()[2])
    np.testing.assert_array_equal(ahead._order(4), epoch_order(50, 3, 4, True, "replacement"))


def test_sampling_is_validated():
    with pytest.raises(ConfigError, match=r"^train\.sampling = 'bootstrap' is out of range"):
        Config().with_value("train.sampling", "bootstrap")
