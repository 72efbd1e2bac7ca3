"""Run files: a saved run reopens identical and continues where it stood."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import UserInputError
from core.presets import preset_config
from core.runfile import RunFileError, capture, load_run, restore, save_run
from core.trainer import Trainer


def _assert_same_history(a, b) -> None:
    for x, y in zip(a.steps(), b.steps(), strict=True):
        np.testing.assert_array_equal(x, y)
    ea, eb = a.epochs(), b.epochs()
    assert ea.keys() == eb.keys()
    for key in ea.keys() - {"seconds"}:  # wall-clock time differs from run to run
        np.testing.assert_array_equal(ea[key], eb[key])
    assert a.events() == b.events()


def test_saved_run_reopens_identical(tmp_path):
    trainer = Trainer(preset_config("playground"))
    trainer.run_steps(137)  # mid-epoch on purpose
    trainer.set_hyper(lr=0.02)
    trainer.run_steps(11)
    path = save_run(capture(trainer), tmp_path / "run.lrrun")
    run = load_run(path)
    assert run.config.to_dict() == trainer.config.to_dict()
    assert run.config.train.lr == 0.02  # live changes are part of the saved run
    assert (run.step, run.epoch, run.batch_in_epoch) == (148, 7, 8)
    np.testing.assert_array_equal(run.theta, trainer.theta())
    _assert_same_history(run.history, trainer.history)


@pytest.mark.parametrize("implementation", ["numpy", "module"])
def test_reopened_sgd_run_continues_exactly(tmp_path, implementation):
    # Plain SGD has no optimizer state: continuing a reopened run equals never stopping.
    config = preset_config("playground").with_value("train.implementation", implementation)
    straight = Trainer(config)
    straight.run_steps(250)
    first = Trainer(config)
    first.run_steps(137)
    again = restore(load_run(save_run(capture(first), tmp_path / "r.lrrun")))
    again.run_steps(113)
    assert again.step_count == straight.step_count and again.epoch == straight.epoch
    np.testing.assert_allclose(again.theta(), straight.theta(), rtol=1e-6, atol=1e-7)
    steps, losses, _ = again.history.steps()
    np.testing.assert_array_equal(steps, straight.history.steps()[0])
    np.testing.assert_allclose(losses, straight.history.steps()[1], rtol=1e-5)


def test_bad_run_files_are_rejected_by_name(tmp_path):
    junk = tmp_path / "junk.lrrun"
    junk.write_bytes(b"\x00\x01not a zip")
    with pytest.raises(RunFileError, match=r"junk\.lrrun"):
        load_run(junk)
    with pytest.raises(RunFileError, match="cannot read"):
        load_run(tmp_path / "missing.lrrun")
    other = tmp_path / "other.npz"
    np.savez(other, meta=np.array('{"format": "something else"}'), theta=np.zeros(2))
    with pytest.raises(RunFileError, match="not a linreg-viz run file"):
        load_run(other)
    assert issubclass(RunFileError, UserInputError)  # the CLI and window report it cleanly


def test_failed_save_leaves_no_file(tmp_path):
    trainer = Trainer(preset_config("playground"))
    trainer.run_steps(5)
    with pytest.raises(OSError):
        save_run(capture(trainer), tmp_path / "no" / "such" / "dir" / "r.lrrun")
    assert not any(tmp_path.rglob("*.lrrun"))
