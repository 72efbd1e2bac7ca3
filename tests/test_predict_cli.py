"""`train --predict` and `predict --run`, run as a user runs them (subprocesses)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.test_cli import EXIT_BAD_INPUT, Proc, assert_ok, read_csv, run, strict_json

OUTPUT = ["prediction", "ols_prediction", "ols_lower", "ols_upper"]
NEW_ROWS = 'id,x3,x1,x2,note\nA,1,2,3,first\nB,0,0,0,\nC,-2.5,10,0.125,"far, out"\n'


def _floats(rows: list[dict[str, str]], *names: str) -> np.ndarray:
    return np.array([[float(r[n]) for n in names] for r in rows])


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Proc, Path]:
    """A standardised 3-feature run trained with --predict: its outputs test both commands."""
    d = tmp_path_factory.mktemp("trained")
    (d / "new.csv").write_text(NEW_ROWS, encoding="utf-8")
    proc = run(
        "train",
        "--preset",
        "d2l-concise-3",
        "--set",
        "data.standardize=true",
        "--predict",
        str(d / "new.csv"),
        "--out",
        str(d / "run"),
        "--no-plots",
        "--quiet",
    )
    return proc, d


def test_train_predict_writes_the_final_model_applied_to_each_row(trained) -> None:
    proc, d = trained
    assert_ok(proc)
    out = d / "run"
    rows = read_csv(out / "predictions.csv")
    assert list(rows[0]) == ["id", "x3", "x1", "x2", "note", *OUTPUT, "true_value"]
    assert [(r["id"], r["note"]) for r in rows] == [("A", "first"), ("B", ""), ("C", "far, out")]
    s = strict_json(out / "summary.json")
    x = _floats(rows, "x1", "x2", "x3")  # the file's column order is not the features' order
    # The final parameters in original units, though the run trained on standardised features.
    expected = x @ np.array(s["final_weights"]) + s["final_bias"]
    np.testing.assert_allclose(_floats(rows, "prediction")[:, 0], expected, rtol=1e-12)
    true = x @ np.array(s["true_weights"]) + s["true_bias"]
    np.testing.assert_allclose(_floats(rows, "true_value")[:, 0], true, rtol=1e-12)
    lo, mid, hi = _floats(rows, "ols_lower", "ols_prediction", "ols_upper").T
    assert np.all((lo < mid) & (mid < hi))
    np.testing.assert_allclose(mid, x @ np.array(s["ols_weights"]) + s["ols_bias"], rtol=1e-9)


def test_train_writes_model_json_and_a_run_file(trained) -> None:
    _, d = trained
    out = d / "run"
    model = strict_json(out / "model.json")
    s = strict_json(out / "summary.json")
    assert model["feature_names"] == ["x1", "x2", "x3"]
    assert model["weights"] == s["final_weights"] and model["bias"] == s["final_bias"]
    assert model["standardization"]["used"] is True
    assert len(model["least_squares"]["covariance"]) == 4
    assert (out / "run.lrrun").is_file()


def test_predict_with_the_saved_run_gives_the_same_rows(trained, tmp_path: Path) -> None:
    _, d = trained
    target = tmp_path / "out" / "p.csv"
    proc = run(
        "predict",
        "--run",
        str(d / "run" / "run.lrrun"),
        "--input",
        str(d / "new.csv"),
        "--out",
        str(target),
    )
    assert_ok(proc)
    assert "wrote 3 predictions" in proc.stdout
    assert target.read_text(encoding="utf-8") == (d / "run" / "predictions.csv").read_text(
        encoding="utf-8"
    )


def test_predict_on_csv_data_names_columns_and_has_no_true_line(tmp_path: Path) -> None:
    data = tmp_path / "houses.csv"
    rng = np.random.default_rng(5)
    area, rooms = rng.uniform(50, 200, 40), rng.integers(1, 6, 40)
    price = 3 * area + 20 * rooms + 7 + rng.normal(0, 5, 40)
    lines = ["area,rooms,price"] + [
        f"{a},{r},{p}" for a, r, p in zip(area, rooms, price, strict=True)
    ]
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    setting = f"data.csv_path={json.dumps(str(data))}"
    out = tmp_path / "run"
    assert_ok(
        run(
            "train",
            "--set",
            setting,
            "--set",
            "data.standardize=true",
            "--epochs",
            "2",
            "--out",
            str(out),
            "--no-plots",
            "--quiet",
        )
    )
    (tmp_path / "new.csv").write_text("rooms,area\n3,120\n", encoding="utf-8")
    proc = run(
        "predict",
        "--run",
        str(out / "run.lrrun"),
        "--input",
        str(tmp_path / "new.csv"),
        "--out",
        str(tmp_path / "p.csv"),
    )
    assert_ok(proc)
    (row,) = read_csv(tmp_path / "p.csv")
    assert list(row) == ["rooms", "area", *OUTPUT]
    s = strict_json(out / "summary.json")
    expected = 120 * s["final_weights"][0] + 3 * s["final_weights"][1] + s["final_bias"]
    assert float(row["prediction"]) == pytest.approx(expected, rel=1e-12)
    assert float(row["ols_lower"]) < 3 * 120 + 20 * 3 + 7 < float(row["ols_upper"])


BAD_INPUTS = {
    "missing column": ("id,x1,x2\n1,2,3\n", "line 1 (header): no column 'x3'"),
    "not a number": ("x1,x2,x3\n1,2,3\n4,five,6\n", "line 3, column 'x2': 'five' is not a number"),
    "empty file": ("", "the file is empty"),
    "header only": ("x1,x2,x3\n", "no data rows after the header"),
}


def _assert_one_line(proc: Proc, *needles: str) -> None:
    assert proc.returncode == EXIT_BAD_INPUT, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    message = proc.stderr.rstrip("\n")
    assert message.startswith("linreg-viz: error: ") and "\n" not in message, message
    for needle in needles:
        assert needle in message, message


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_predict_bad_input_is_one_line_and_writes_nothing(case, trained, tmp_path: Path) -> None:
    _, d = trained
    text, needle = BAD_INPUTS[case]
    bad = tmp_path / "bad.csv"
    bad.write_text(text, encoding="utf-8")
    target = tmp_path / "out" / "p.csv"
    proc = run(
        "predict", "--run", str(d / "run" / "run.lrrun"), "--input", str(bad), "--out", str(target)
    )
    _assert_one_line(proc, str(bad), needle)
    assert not (tmp_path / "out").exists()


# The default preset (playground) has one feature, x1.
TRAIN_BAD_INPUTS = {
    "missing column": ("id,x2\n1,2\n", "line 1 (header): no column 'x1'"),
    "not a number": ("x1\n1\nfive\n", "line 3, column 'x1': 'five' is not a number"),
}


@pytest.mark.parametrize("case", list(TRAIN_BAD_INPUTS))
def test_train_predict_bad_input_exits_before_training(case, tmp_path: Path) -> None:
    text, needle = TRAIN_BAD_INPUTS[case]
    bad = tmp_path / "bad.csv"
    bad.write_text(text, encoding="utf-8")
    proc = run("train", "--predict", str(bad), "--out", str(tmp_path / "run"))
    _assert_one_line(proc, str(bad), needle)
    assert "step" not in proc.stderr.replace(str(bad), "")  # no progress bar: it never trained
    assert not (tmp_path / "run").exists()


def test_predict_refuses_a_bad_run_file_and_missing_options(tmp_path: Path) -> None:
    junk = tmp_path / "junk.lrrun"
    junk.write_bytes(b"not a run")
    (tmp_path / "in.csv").write_text("x1\n1\n", encoding="utf-8")
    proc = run(
        "predict",
        "--run",
        str(junk),
        "--input",
        str(tmp_path / "in.csv"),
        "--out",
        str(tmp_path / "p.csv"),
    )
    _assert_one_line(proc, "junk.lrrun")
    _assert_one_line(run("predict", "--input", str(tmp_path / "in.csv")), "--run")
    assert not (tmp_path / "p.csv").exists()


def test_predict_into_a_folder_is_a_write_error(trained, tmp_path: Path) -> None:
    _, d = trained
    proc = run(
        "predict",
        "--run",
        str(d / "run" / "run.lrrun"),
        "--input",
        str(d / "new.csv"),
        "--out",
        str(tmp_path),
    )
    _assert_one_line(proc, "cannot write to")


def test_predict_needs_no_pytorch(trained, tmp_path: Path) -> None:
    # The run trained with the module engine; predicting rebuilds only its data (NumPy).
    _, d = trained
    code = (
        "import sys, main; rc = main.main(sys.argv[1:]); "
        "print('torch' in sys.modules); sys.exit(rc)"
    )
    proc = run(
        "predict",
        "--run",
        str(d / "run" / "run.lrrun"),
        "--input",
        str(d / "new.csv"),
        "--out",
        str(tmp_path / "p.csv"),
        exe=[sys.executable, "-c", code],
    )
    assert_ok(proc)
    assert proc.stdout.splitlines()[-1] == "False"
