"""Summaries of a run and the files a run is saved as (JSON and CSV, written atomically)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from core.analysis import r2
from core.files import atomic_open, atomic_write_text, json_clean
from core.history import write_epochs_csv, write_steps_csv
from core.predict import run_predictions, write_model_json
from core.predict_io import PredictInput, write_predictions
from core.runfile import capture, save_run
from core.runinfo import run_info
from core.sgd_noise import run_plateau
from core.theory import Eigen, eigen_history, run_eigen
from core.trainer import Trainer


def summary(trainer: Trainer, eigen: Eigen | None = None) -> dict[str, Any]:
    """The figures of a run: final vs true vs least-squares parameters, losses, speed, and the
    theory beside them (the Hessian's eigenvalues, where SGD's loss settles)."""
    eigen = run_eigen(trainer) if eigen is None else eigen
    plateau = run_plateau(trainer)
    ds = trainer.dataset
    theta = trainer.theta()
    final = ds.to_original(theta)
    ols_trained = trainer.least_squares()
    ols = ds.to_original(ols_trained)
    pred = ds.x_train @ theta[:-1] + theta[-1]
    true = ds.true_theta()
    return json_clean(
        {
            "true_weights": None if true is None else true[:-1],
            "true_bias": None if true is None else float(true[-1]),
            "final_weights": final[:-1],
            "final_bias": float(final[-1]),
            "ols_weights": ols[:-1],
            "ols_bias": float(ols[-1]),
            "train_loss": trainer.train_loss(theta),
            "val_loss": trainer.val_loss(theta),
            "ols_train_loss": trainer.train_loss(ols_trained),
            "r2": r2(ds.y_train, pred),
            "epochs_completed": trainer.epoch,
            "steps": trainer.step_count,
            "stopped_reason": trainer.stopped_reason or "stopped",
            "message": trainer.message,
            "steps_per_second": trainer.steps_per_second(),
            # The same over wall time, recording and epoch ends included (what a user times).
            "wall_steps_per_second": trainer.wall_steps_per_second(),
            "max_stable_lr": trainer.max_stable_lr(),
            # Of the objective's Hessian over the trained parameters, in trained units.
            "hessian_eigenvalues": eigen.eigenvalues,
            "condition_number": eigen.condition_number,
            # Expected loss above ols_train_loss once SGD settles at train.lr, batches drawn
            # with replacement (core.sgd_noise); null for adaptive optimizers or if it diverges.
            "predicted_excess_loss": None if plateau is None else plateau.excess,
            "loss": trainer.loss_kind,
            "implementation": trainer.config.train.implementation,
            "optimizer": trainer.config.train.optimizer,
            "dtype": trainer.config.model.dtype,
            "feature_names": ds.feature_names,
        }
    )


def write_eigen_csv(trainer: Trainer, path: str | Path, eigen: Eigen | None = None) -> None:
    """Write eigen.csv: step, then |<theta - theta*, v_i>| along each eigen-direction of the
    Hessian (error_1 has the smallest eigenvalue), at every stored step."""
    steps, errors = eigen_history(trainer, eigen)
    with atomic_open(path, "w") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(["step", *(f"error_{i + 1}" for i in range(errors.shape[1]))])
        # tolist(): Python floats, written repr-exact; inf for a diverged row.
        writer.writerows(zip(steps.tolist(), *errors.T.tolist(), strict=True))


def write_run_files(
    trainer: Trainer, out: Path, predict_input: PredictInput | None = None
) -> list[Path]:
    """Write summary.json, config.json, history.csv, epochs.csv, eigen.csv, model.json and
    run.lrrun into out (and predictions.csv for predict_input's rows); return the paths."""
    out.mkdir(parents=True, exist_ok=True)
    names = ("summary.json", "config.json", "history.csv", "epochs.csv", "eigen.csv")
    paths = [out / name for name in names]
    eigen = run_eigen(trainer)
    atomic_write_text(paths[0], json.dumps(summary(trainer, eigen), indent=2) + "\n")
    atomic_write_text(paths[1], trainer.config.to_json() + "\n")
    write_steps_csv(trainer.history, paths[2])
    write_epochs_csv(trainer.history, paths[3])
    write_eigen_csv(trainer, paths[4], eigen)
    info = run_info(trainer)
    theta = trainer.theta_original()
    paths.append(write_model_json(out / "model.json", info, theta[:-1], float(theta[-1])))
    # The whole run, to reopen in the window or to predict with later (`predict --run`).
    paths.append(save_run(capture(trainer), out / "run.lrrun"))
    if predict_input is not None:
        columns = run_predictions(info, theta, predict_input.x)
        paths.append(write_predictions(out / "predictions.csv", predict_input, columns))
    return paths
