"""The three implementations agree, and the hand-written optimizers follow torch.optim exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core import engines
from core.analysis import least_squares, ridge
from core.config import IMPLEMENTATIONS, OPTIMIZERS, Config, make_config
from core.data import epoch_order, make_dataset
from core.engines import EngineSpec, make_engine, resolve_device
from core.errors import ConfigError
from core.optim import Hyper
from core.presets import preset_config
from core.trainer import Trainer, initial_theta

HAND_IMPLS = ("numpy", "scratch")


def run_to_end(config: Config) -> Trainer:
    """A trainer for config, run through all its epochs."""
    trainer = Trainer(config)
    trainer.run_steps(trainer.total_steps)
    assert trainer.stopped_reason == "completed"
    return trainer


def with_impl(config: Config, impl: str) -> Config:
    """config with another implementation."""
    return config.with_value("train.implementation", impl)


# ---- the three implementations agree ----------------------------------------------


@pytest.mark.parametrize(("dtype", "tol"), [("float64", 1e-9), ("float32", 1e-4)])
def test_implementations_agree_on_d2l_concise(dtype, tol):
    base = preset_config("d2l-concise-3").with_value("model.dtype", dtype)
    base = base.with_value("train.epochs", 2)
    runs = {impl: run_to_end(with_impl(base, impl)) for impl in IMPLEMENTATIONS}
    ref_steps, ref_losses, ref_params = runs["module"].history.steps()
    assert len(ref_steps) == 2 * runs["module"].n_batches + 1
    for impl in HAND_IMPLS:
        steps, losses, params = runs[impl].history.steps()
        np.testing.assert_array_equal(steps, ref_steps)
        np.testing.assert_allclose(params, ref_params, rtol=0, atol=tol, err_msg=impl)
        np.testing.assert_allclose(losses, ref_losses, rtol=tol, atol=tol, err_msg=impl)
        np.testing.assert_allclose(
            runs[impl].theta(), runs["module"].theta(), rtol=0, atol=tol, err_msg=impl
        )


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_implementations_agree_across_a_live_hyper_change(optimizer):
    # Optimizer state (velocity, moments) must survive set_hyper in every engine alike.
    base = make_config(
        data={"true_weights": [1.5, -2.0], "true_bias": 0.5, "n_samples": 60, "seed": 5},
        model={"dtype": "float64", "init_std": 0.5},
        train={"optimizer": optimizer, "lr": 0.01, "batch_size": 8, "epochs": 6},
    )
    histories = {}
    for impl in IMPLEMENTATIONS:
        trainer = Trainer(with_impl(base, impl))
        trainer.run_steps(11)
        trainer.set_hyper(lr=0.05, momentum=0.5, beta1=0.8, weight_decay=0.01)
        trainer.run_steps(trainer.total_steps)
        histories[impl] = trainer.history.steps()
    for impl in HAND_IMPLS:
        np.testing.assert_allclose(
            histories[impl][2], histories["module"][2], rtol=0, atol=1e-9, err_msg=impl
        )


# ---- hand-written optimizers == torch.optim ------------------------------------------


@pytest.fixture(scope="module")
def small_problem():
    """Training rows (60 of them: batches of 8 leave a partial last batch) and a start point."""
    config = make_config(
        data={
            "true_weights": [1.5, -2.0, 0.5],
            "true_bias": 0.7,
            "noise_std": 0.3,
            "n_samples": 60,
        },
        model={"init": "normal", "init_std": 0.5},
    )
    ds = make_dataset(config.data)
    return ds, initial_theta(config, ds.n_features)


def engine_trajectory(
    problem, impl: str, optimizer: str, weight_decay: float, steps: int = 320, batch: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """Per-step losses and params of one engine, driven directly over shuffled epochs."""
    ds, theta0 = problem
    hyper = Hyper(lr=0.01, momentum=0.9, weight_decay=weight_decay)
    spec = EngineSpec(optimizer=optimizer, hyper=hyper, dtype="float64")
    engine = make_engine(impl, ds.x_train, ds.y_train, theta0, spec)
    per_epoch = -(-ds.n_train // batch)
    losses, params = np.zeros(steps), np.zeros((steps, ds.n_features + 1))
    done, epoch = 0, 0
    while done < steps:
        engine.begin_epoch(epoch_order(ds.n_train, 7, epoch, True))
        k = min(per_epoch, steps - done)
        engine.run(0, k, batch, losses[done : done + k], params[done : done + k])
        done += k
        epoch += 1
    return losses, params


# Engine level: the optimizer alone, on the same batches as torch.optim sees.
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam"])
def test_hand_written_optimizers_match_torch_optim(small_problem, optimizer, weight_decay):
    ref_losses, ref_params = engine_trajectory(small_problem, "module", optimizer, weight_decay)
    # The run moved somewhere: a trivially constant trajectory would match too easily.
    assert np.abs(ref_params[-1] - ref_params[0]).max() > 0.05
    for impl in HAND_IMPLS:
        losses, params = engine_trajectory(small_problem, impl, optimizer, weight_decay)
        np.testing.assert_allclose(params, ref_params, rtol=0, atol=1e-9, err_msg=impl)
        np.testing.assert_allclose(losses, ref_losses, rtol=1e-9, atol=1e-9, err_msg=impl)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_hand_written_optimizers_match_torch_through_the_trainer(optimizer):
    base = make_config(
        data={"true_weights": [2.0, -1.0], "true_bias": 1.0, "n_samples": 90, "seed": 2},
        model={"dtype": "float64"},
        train={
            "optimizer": optimizer,
            "lr": 0.02,
            "weight_decay": 0.01,
            "batch_size": 16,
            "epochs": 50,
        },
    )
    ref = run_to_end(with_impl(base, "module")).history.steps()[2]
    assert ref.shape[0] == 50 * 6 + 1
    for impl in HAND_IMPLS:
        params = run_to_end(with_impl(base, impl)).history.steps()[2]
        np.testing.assert_allclose(params, ref, rtol=0, atol=1e-9, err_msg=impl)


# ---- module offers every optimizer -------------------------------------------------


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_module_offers_every_optimizer_and_each_reduces_the_loss(optimizer):
    config = make_config(
        data={"true_weights": [1.5, -2.0], "true_bias": 0.5, "noise_std": 0.1, "n_samples": 100},
        model={"dtype": "float64"},
        train={
            "implementation": "module",
            "optimizer": optimizer,
            "lr": 0.1,
            "batch_size": 10,
            "epochs": 10,
        },
    )
    trainer = run_to_end(config)
    type_name = type(trainer.engine.opt).__name__.lower()
    expected = {"momentum": "sgd", "nesterov": "sgd"}.get(optimizer, optimizer)
    assert type_name == expected
    epochs = trainer.history.epochs()["train_loss"]
    assert np.isfinite(epochs).all()
    assert epochs[-1] < 0.1 * epochs[0]


# ---- explicit L2 penalty and models without a bias ---------------------------------


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_l2_penalty_ends_at_the_ridge_solution(impl):
    # The l2-1d preset with a larger step, so full-batch descent converges in 100 steps.
    config = with_impl(preset_config("l2-1d"), impl).with_value("model.dtype", "float64")
    config = config.with_value("train.lr", 0.4).with_value("train.epochs", 100)
    trainer = run_to_end(config)
    w, b = ridge(trainer.stats, config.train.l2_penalty)
    ols = trainer.least_squares()
    target = np.append(w, b)
    assert np.abs(target - ols).max() > 1e-3  # the penalty visibly shrinks the fit
    np.testing.assert_allclose(trainer.theta(), target, rtol=0, atol=1e-9)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_fit_bias_false_keeps_the_bias_at_zero(impl):
    data = {"true_weights": [1.5, -2.0], "true_bias": 0.0, "noise_std": 0.1, "n_samples": 100}
    model = {"dtype": "float64", "fit_bias": False, "init": "torch_default"}
    # Momentum over shuffled minibatches: the bias must stay exactly 0 on every step.
    config = make_config(
        data=data,
        model=model,
        train={"implementation": impl, "optimizer": "momentum", "batch_size": 10, "epochs": 3},
    )
    trainer = run_to_end(config)
    params = trainer.history.steps()[2]
    assert np.all(params[:, -1] == 0.0)
    assert trainer.theta()[-1] == 0.0
    assert trainer.snapshot().bias == 0.0
    # Full-batch descent reaches the no-intercept least-squares fit.
    config = make_config(
        data=data,
        model=model,
        train={"implementation": impl, "lr": 0.4, "batch_size": 100, "epochs": 100},
    )
    trainer = run_to_end(config)
    w, b = least_squares(trainer.dataset.x_train, trainer.dataset.y_train, fit_bias=False)
    assert b == 0.0
    np.testing.assert_allclose(trainer.theta(), np.append(w, 0.0), rtol=0, atol=1e-9)
    assert np.all(trainer.history.steps()[2][:, -1] == 0.0)


# ---- devices and large-data gathering ---------------------------------------------

CUDA = torch.cuda.is_available()


def test_resolve_device():
    assert resolve_device("cuda", "numpy") == "cpu"  # NumPy always computes on the CPU
    assert resolve_device("cpu", "module") == "cpu"
    assert resolve_device("auto", "scratch") == ("cuda" if CUDA else "cpu")


@pytest.mark.skipif(CUDA, reason="this machine has a CUDA device")
def test_cuda_without_a_device_is_refused_when_the_trainer_is_built():
    config = make_config(train={"implementation": "module", "device": "cuda"})
    with pytest.raises(ConfigError) as err:
        Trainer(config)
    assert "train.device = 'cuda' is not available" in str(err.value)
    assert "auto or cpu" in str(err.value)
    # The numpy implementation ignores the device; auto falls back to the CPU.
    assert Trainer(config.with_value("train.implementation", "numpy")).device == "cpu"
    assert Trainer(config.with_value("train.device", "auto")).device == "cpu"


def _trajectory(config: Config) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return run_to_end(config).history.steps()


def _assert_same(a, b) -> None:
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("fit_bias", [True, False])
@pytest.mark.parametrize("impl", ["scratch", "module"])
def test_device_buffers_record_what_host_views_record(monkeypatch, impl, fit_bias):
    # On a CUDA device each step is recorded into device buffers, copied once per call; the
    # same path runs here on the CPU and must record the very same steps.
    config = make_config(
        data={"true_weights": [1.5, -2.0], "n_samples": 50, "seed": 4},
        model={"fit_bias": fit_bias},
        train={"implementation": impl, "optimizer": "momentum", "batch_size": 8, "epochs": 3},
    )
    views = _trajectory(config)
    init = engines._TorchEngine.__init__

    def buffered(self, *args):
        init(self, *args)
        self._host_views = False

    monkeypatch.setattr(engines._TorchEngine, "__init__", buffered)
    trainer = run_to_end(config)
    assert not trainer.engine._host_views
    _assert_same(views, trainer.history.steps())


@pytest.mark.skipif(not CUDA, reason="no CUDA device")
@pytest.mark.parametrize("impl", ["scratch", "module"])
def test_cuda_follows_the_cpu(impl):
    config = preset_config("d2l-concise-3").with_value("train.implementation", impl)
    config = config.with_value("model.dtype", "float64").with_value("train.epochs", 1)
    cpu = run_to_end(config.with_value("train.device", "cpu"))
    gpu = run_to_end(config.with_value("train.device", "cuda"))
    assert gpu.device == "cuda"
    np.testing.assert_allclose(gpu.history.steps()[2], cpu.history.steps()[2], atol=1e-9)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_gathering_each_batch_equals_gathering_each_epoch(monkeypatch, impl):
    # Large data is gathered batch by batch; the steps must not change, bit for bit.
    config = make_config(
        data={"true_weights": [1.5, -2.0, 0.5], "n_samples": 90, "seed": 6},
        train={"implementation": impl, "optimizer": "adam", "batch_size": 16, "epochs": 3},
    )
    whole = run_to_end(config)
    assert not whole.engine._per_batch
    monkeypatch.setattr(engines, "GATHER_EPOCH_BYTES", 0)
    per_batch = run_to_end(config)
    assert per_batch.engine._per_batch
    _assert_same(whole.history.steps(), per_batch.history.steps())


def test_float32_runs_share_the_datasets_float32_rows():
    trainer = Trainer(make_config(train={"implementation": "module"}))
    x = trainer.dataset.x_train
    assert x.dtype == np.float32  # the model's dtype: no float64 copy of the features
    assert trainer.engine.x.data_ptr() == x.ctypes.data  # and the engine makes none either
    f64 = Trainer(make_config(model={"dtype": "float64"}))
    assert f64.dataset.x_train.dtype == np.float64
    # Same seed, same values, rounded to the dtype.
    np.testing.assert_array_equal(x, f64.dataset.x_train.astype(np.float32))
    np.testing.assert_allclose(trainer.dataset.y_train, f64.dataset.y_train, atol=1e-6)


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_plain_step_is_the_optimizers_own_update(optimizer: str) -> None:
    from core.optim import make_torch_optimizer

    def trajectory(use_plain: bool) -> list[np.ndarray]:
        torch.manual_seed(0)
        net = torch.nn.Linear(3, 1)
        opt = make_torch_optimizer(optimizer, list(net.parameters()), Hyper(lr=0.05))
        step = engines.plain_step(opt) if use_plain else opt.step
        x, y = torch.randn(10, 3), torch.randn(10, 1)
        out = []
        for _ in range(5):
            opt.zero_grad()
            torch.nn.functional.mse_loss(net(x), y).backward()
            step()
            out.append(torch.cat([p.detach().reshape(-1) for p in net.parameters()]).numpy())
        return out

    for a, b in zip(trajectory(True), trajectory(False), strict=True):
        np.testing.assert_array_equal(a, b)


def test_plain_step_keeps_registered_hooks() -> None:
    net = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    assert engines.plain_step(opt) != opt.step
    calls = []
    handle = opt.register_step_post_hook(lambda *args: calls.append(1))
    try:
        engines.plain_step(opt)()
    finally:
        handle.remove()
    assert calls == [1]
