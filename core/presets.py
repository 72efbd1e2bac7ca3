"""Named presets: the experiments of the five articles the app is built on, plus a default."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.config import Config
from core.errors import ConfigError

D2L_W3 = [2.8, -1.7, 3.6]
D2L_W5 = [2.0, -3.4, 5.6, 3.2, -0.6]
TINY_X = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]

# The five articles, by what they are (their seed files are numbered 000 to 004).
ARTICLES = {
    "000": "Linear regression from scratch",  # PyTorch tensors, autograd, a hand-written update
    "001": "Linear regression in PyTorch, code first",  # nn.Linear, MSELoss, optim.SGD
    "002": "Concise linear regression",  # the from-scratch model with PyTorch's built-ins
    "003": "Linear regression in PyTorch: SGD, Adam and L2",  # three optimizer examples
    "004": "Linear regression with NumPy, tensors and built-ins",  # float64 against float32
}


@dataclass(frozen=True)
class Preset:
    """A named configuration and the seed experiment it reproduces."""

    name: str
    summary: str
    sections: dict[str, Any]

    def config(self) -> Config:
        """Return a fresh validated configuration for this preset."""
        return Config.from_dict(self.sections)


def _tiny(impl: str, dtype: str, init: str) -> dict[str, Any]:
    # The NumPy article (004): three fixed rows, y = X @ [10, 20], no bias, no noise,
    # full-batch GD, 1e6 steps.
    return {
        "data": {
            "true_weights": [10.0, 20.0],
            "true_bias": 0.0,
            "noise_std": 0.0,
            "n_samples": 3,
            "inline_features": TINY_X,
            "seed": 0,
        },
        "model": {"fit_bias": False, "init": init, "init_value": 0.1, "dtype": dtype},
        "train": {
            "implementation": impl,
            "optimizer": "sgd",
            "lr": 1e-4,
            "batch_size": 3,
            "epochs": 1_000_000,
            "shuffle": False,
            "loss": "mse",
        },
    }


# The noise of SGD: one dataset trained at batch 1, 10 and 100 (batches drawn with replacement,
# where the predicted plateau applies), and at batch 1 with a decaying rate. lr 0.1 puts
# lr * lambda_max near 0.2, where batch 1's multiplicative noise matters.
NOISE_DATA = {"true_weights": [2.0], "true_bias": 1.0, "noise_std": 1.0, "n_samples": 1000}
NOISE_STEPS = 3000


def _noise(batch: int, steps: int = NOISE_STEPS, schedule: Any = "constant") -> dict[str, Any]:
    return {
        "data": dict(NOISE_DATA),
        "train": {
            "optimizer": "sgd",
            "lr": 0.1,
            "batch_size": batch,
            "epochs": steps * batch // NOISE_DATA["n_samples"],
            "sampling": "replacement",
            "schedule": schedule,
        },
    }


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset(
            "playground",
            "default: one feature, noisy line, minibatch SGD you can watch (not from an article)",
            {
                "data": {"true_weights": [2.0], "true_bias": 1.0, "noise_std": 0.5},
                "train": {"lr": 0.01, "batch_size": 10, "epochs": 30},
            },
        ),
        Preset(
            "d2l-scratch",
            f"{ARTICLES['000']}: 3 features, autograd + a hand-written update, batch 10, lr 0.03,"
            " 3 epochs, squared_loss; loss ~4e-5",
            {
                "data": {
                    "true_weights": D2L_W3,
                    "true_bias": 3.0,
                    "noise_std": 0.01,
                    "n_samples": 1000,
                },
                "model": {"init": "normal", "init_std": 0.01},
                "train": {
                    "implementation": "scratch",
                    "optimizer": "sgd",
                    "lr": 0.03,
                    "batch_size": 10,
                    "epochs": 3,
                    "loss": "half_mse",
                },
            },
        ),
        Preset(
            "d2l-concise-5",
            f"{ARTICLES['001']}: 5 features, nn.Linear + MSELoss + optim.SGD, batch 10,"
            " lr 0.03, 3 epochs;"
            " loss ~1.1e-4, weight error ~1e-3",
            {
                "data": {
                    "true_weights": D2L_W5,
                    "true_bias": 4.2,
                    "noise_std": 0.01,
                    "n_samples": 1000,
                },
                "train": {
                    "implementation": "module",
                    "optimizer": "sgd",
                    "lr": 0.03,
                    "batch_size": 10,
                    "epochs": 3,
                    "loss": "mse",
                },
            },
        ),
        Preset(
            "d2l-concise-3",
            f"{ARTICLES['002']}: 3 features, nn.Linear + MSELoss + optim.SGD, batch 10, lr 0.03,"
            " 3 epochs;"
            " loss ~7e-5",
            {
                "data": {
                    "true_weights": D2L_W3,
                    "true_bias": 3.0,
                    "noise_std": 0.01,
                    "n_samples": 1000,
                },
                "train": {
                    "implementation": "module",
                    "optimizer": "sgd",
                    "lr": 0.03,
                    "batch_size": 10,
                    "epochs": 3,
                    "loss": "mse",
                },
            },
        ),
        Preset(
            "sgd-1d",
            f"{ARTICLES['003']}, example 1: 100 samples, y = 2x + 1 + 0.1 noise, full-batch SGD"
            " lr 0.01,"
            " 1000 epochs",
            {
                "data": {
                    "true_weights": [2.0],
                    "true_bias": 1.0,
                    "noise_std": 0.1,
                    "n_samples": 100,
                },
                "model": {"init": "torch_default"},
                "train": {
                    "optimizer": "sgd",
                    "lr": 0.01,
                    "batch_size": 100,
                    "epochs": 1000,
                    "shuffle": False,
                },
            },
        ),
        Preset(
            "adam-5",
            f"{ARTICLES['003']}, example 2: 1000 samples, 5 features, target unrelated to X"
            " (pure noise),"
            " Adam lr 0.001, batch 32, 200 epochs, no shuffling",
            {
                "data": {
                    "true_weights": [0.0] * 5,
                    "true_bias": 0.0,
                    "noise_std": 1.0,
                    "n_samples": 1000,
                },
                "model": {"init": "torch_default"},
                "train": {
                    "optimizer": "adam",
                    "lr": 0.001,
                    "batch_size": 32,
                    "epochs": 200,
                    "shuffle": False,
                },
            },
        ),
        Preset(
            "l2-1d",
            f"{ARTICLES['003']}, example 3: as sgd-1d with loss + 0.01 * sum(p**2) (L2 on"
            " weight and bias);"
            " ends at the ridge solution",
            {
                "data": {
                    "true_weights": [2.0],
                    "true_bias": 1.0,
                    "noise_std": 0.1,
                    "n_samples": 100,
                },
                "model": {"init": "torch_default"},
                "train": {
                    "optimizer": "sgd",
                    "lr": 0.01,
                    "batch_size": 100,
                    "epochs": 1000,
                    "shuffle": False,
                    "l2_penalty": 0.01,
                },
            },
        ),
        Preset(
            "tiny-numpy-f64",
            f"{ARTICLES['004']}, NumPy: 3 samples, w_true [10, 20], no bias, hand-derived"
            " gradients, float64,"
            " lr 1e-4, 1e6 steps; reaches [10.00000008, 19.99999994]",
            _tiny("numpy", "float64", "constant"),
        ),
        Preset(
            "tiny-scratch-f32",
            f"{ARTICLES['004']}, tensors: same problem with autograd and a hand-written update in"
            " float32;"
            " stalls short of [10, 20] (article: [10.0429, 19.9661])",
            _tiny("scratch", "float32", "zeros"),
        ),
        Preset(
            "tiny-module-f32",
            f"{ARTICLES['004']}, built-ins: nn.Linear(bias=False) + MSELoss + optim.SGD in"
            " float32;"
            " stalls short of [10, 20] (article: [10.0429, 19.9661])",
            _tiny("module", "float32", "zeros"),
        ),
        Preset(
            "sgd-noise-b1",
            "SGD's noise (compare sgd-noise-b10, -b100, -decay): y = 2x + 1 + noise 1, lr 0.1,"
            " batch 1 drawn with replacement, 3000 steps; the loss settles ~0.3 above least"
            " squares, a third more than the first-order formula says",
            _noise(1),
        ),
        Preset(
            "sgd-noise-b10",
            "sgd-noise at batch 10, else as sgd-noise-b1 (3000 steps): the plateau falls"
            " thirteenfold, to ~0.023 (tenfold for the additive noise alone)",
            _noise(10),
        ),
        Preset(
            "sgd-noise-b100",
            "sgd-noise at batch 100, else as sgd-noise-b1 (3000 steps): the plateau falls"
            " tenfold again, to ~0.0023",
            _noise(100),
        ),
        Preset(
            "sgd-noise-decay",
            "sgd-noise at batch 1 with lr / (1 + 0.01 t) (inverse_time), 10000 steps: the"
            " rate decays and the loss goes below sgd-noise-b1's plateau, to ~0.001 above"
            " least squares",
            _noise(1, 10_000, {"name": "inverse_time", "decay": 0.01}),
        ),
    ]
}

DEFAULT_PRESET = "playground"


def get_preset(name: str) -> Preset:
    """Return the preset called name or raise ConfigError listing the known names."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown preset {name!r}; known presets: {', '.join(PRESETS)}") from None


def preset_config(name: str) -> Config:
    """Return the configuration of a named preset."""
    return get_preset(name).config()
