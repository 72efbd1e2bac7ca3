"""Predictions in core: the t quantile, least-squares intervals, model.json, input and output."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.config import Config
from core.errors import DataError
from core.predict import (
    LeastSquaresFit,
    model_dict,
    run_predictions,
    student_t_quantile,
    write_model_json,
)
from core.predict_io import (
    read_predict_input,
    saved_run_for_prediction,
    split_pasted,
    write_predictions,
)
from core.presets import preset_config
from core.runfile import capture, save_run
from core.runinfo import run_info
from core.trainer import Trainer

# Student t quantiles t(p, df) to 20 digits (mpmath, 40-digit arithmetic: the root of the
# regularized incomplete beta); the short forms agree with the printed tables (3.182, 2.015, ...).
T_TABLE = [
    (3, 0.975, 3.1824463052837095927),
    (5, 0.95, 2.0150483733330242378),
    (10, 0.975, 2.2281388519862747484),
    (10, 0.995, 3.1692726726169512346),
    (20, 0.9, 1.3253407069850463431),
    (30, 0.975, 2.0422724563012383100),
    (56, 0.975, 2.0032407188478721792),
    (98, 0.975, 1.9844674545084818133),
    (120, 0.999, 3.1595387433171106480),
    (1000, 0.975, 1.9623390808264084850),
    (10_000, 0.975, 1.9602012398906262578),
    (1_000_000, 0.975, 1.9599663568141070353),
    (10_000_000, 0.975, 1.9599642217672054904),
]
T_975 = {df: t for df, p, t in T_TABLE if p == 0.975}
Z_975 = 1.9599639845400542355  # the normal quantile: the limit as df grows


# ---- Student t ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("df", "p", "expected"), T_TABLE)
def test_t_quantile_matches_table_values(df: int, p: float, expected: float) -> None:
    assert student_t_quantile(p, df) == pytest.approx(expected, rel=1e-12)
    assert student_t_quantile(1.0 - p, df) == pytest.approx(-expected, rel=1e-12)


@pytest.mark.parametrize("p", [0.5000001, 0.6, 0.75, 0.9, 0.975, 0.999, 1 - 1e-9])
def test_t_quantile_matches_closed_forms(p: float) -> None:
    # df = 1 is the Cauchy distribution; df = 2 and df = 4 have closed-form quantiles too.
    cauchy = 1.0 / math.tan(math.pi * (1.0 - p))  # cot of the tail: no digits lost near p = 1
    assert student_t_quantile(p, 1) == pytest.approx(cauchy, rel=1e-12)
    two = (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    assert student_t_quantile(p, 2) == pytest.approx(two, rel=1e-12)
    if p < 0.6:
        return  # df = 4's closed form cancels near the median (it, not the quantile, loses digits)
    q = 4 * p * (1 - p)
    four = 2 * math.sqrt(math.cos(math.acos(math.sqrt(q)) / 3) / math.sqrt(q) - 1)
    assert student_t_quantile(p, 4) == pytest.approx(four, rel=1e-9)


def test_t_quantile_tends_to_the_normal_and_is_symmetric() -> None:
    values = [student_t_quantile(0.975, df) for df in (10, 100, 1000, 10**5, 10**15)]
    assert values == sorted(values, reverse=True)
    assert values[-1] == pytest.approx(Z_975, rel=1e-12)
    assert student_t_quantile(0.5, 7) == 0.0
    for df in (1, 2.5, 17, 5000):
        assert student_t_quantile(0.125, df) == -student_t_quantile(0.875, df)


@pytest.mark.parametrize(("p", "df"), [(0.0, 5), (1.0, 5), (0.5, 0), (0.9, -1), (0.9, math.inf)])
def test_t_quantile_refuses_bad_arguments(p: float, df: float) -> None:
    with pytest.raises(ValueError):
        student_t_quantile(p, df)


def test_t_quantile_agrees_with_40_digit_arithmetic() -> None:
    mpmath.mp.dps = 40
    for df in (1, 3, 8, 47, 333, 2500):
        for p in (0.51, 0.8, 0.975, 0.9999):
            q = student_t_quantile(p, df)
            a, x = mpmath.mpf(df) / 2, mpmath.mpf(df) / (df + mpmath.mpf(q) ** 2)
            tail = mpmath.betainc(a, mpmath.mpf(1) / 2, 0, x, regularized=True) / 2
            # The tail at q is 1 - p to within what a relative error of 5e-14 in q moves it.
            density = mpmath.gamma(a + 0.5) / (mpmath.sqrt(df * mpmath.pi) * mpmath.gamma(a))
            density *= (1 + mpmath.mpf(q) ** 2 / df) ** (-(a + 0.5))
            assert abs(float(tail - (1 - mpmath.mpf(p)))) <= 5e-14 * q * float(density)


# ---- least-squares intervals against the textbook formula -----------------------------------
def _config(**values: object) -> Config:
    config = preset_config("playground")
    base = {
        "model.dtype": "float64",
        "train.implementation": "numpy",
        "train.epochs": 3,
        "data.val_fraction": 0.0,
    }
    # One key at a time is validated: the weights go first, so inline rows can match them.
    ordered = sorted({**base, **values}.items(), key=lambda kv: kv[0] != "data.true_weights")
    for key, value in ordered:
        config = config.with_value(key, value)
    return config


def _offset_features(n: int, seed: int = 3) -> list[list[float]]:
    """Features on very different scales and far from zero (where standardising matters)."""
    rng = np.random.default_rng(seed)
    x = np.column_stack(
        [
            100 + 10 * rng.standard_normal(n),
            -5 + 0.01 * rng.standard_normal(n),
            rng.uniform(0, 3, n),
        ]
    )
    return x.tolist()


def _independent_interval(
    x: np.ndarray, y: np.ndarray, x0: np.ndarray, t: float, intercept: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """statsmodels' get_prediction(...).summary_frame(): obs_ci, from the normal equations."""
    design = np.column_stack([x, np.ones(len(x))]) if intercept else x
    new = np.column_stack([x0, np.ones(len(x0))]) if intercept else x0
    beta = np.linalg.lstsq(design, y, rcond=None)[0]
    resid = y - design @ beta
    n, p = design.shape
    s2 = float(resid @ resid) / (n - p)
    inv = np.linalg.inv(design.T @ design)
    pred = new @ beta
    se = np.sqrt(s2 * (1.0 + np.einsum("ij,jk,ik->i", new, inv, new)))
    return pred, pred - t * se, pred + t * se, s2 * inv


NEW_ROWS = np.array([[100.0, -5.0, 1.5], [130.0, -4.98, 0.0], [60.0, -5.03, 4.0]])


@pytest.mark.parametrize("standardize", [False, True])
def test_interval_matches_the_textbook_formula(standardize: bool) -> None:
    rows = _offset_features(60)
    config = _config(
        **{
            "data.inline_features": rows,
            "data.true_weights": [0.3, 40.0, -2.0],
            "data.true_bias": 5.0,
            "data.noise_std": 0.7,
            "data.standardize": standardize,
        }
    )
    trainer = Trainer(config)
    ds = trainer.dataset
    x = ds.x_train * ds.scale + ds.shift  # the training rows in original units
    pred, lo, hi, cov = _independent_interval(x, ds.y_train, NEW_ROWS, T_975[56])
    fit = LeastSquaresFit.from_run_info(run_info(trainer))
    assert fit is not None and fit.df == 56 and fit.n_params == 4
    got = fit.interval(NEW_ROWS)
    for mine, theirs in zip(got, (pred, lo, hi), strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-9)
    np.testing.assert_allclose(got[2] - got[0], hi - pred, rtol=1e-9)  # the half-width itself
    np.testing.assert_allclose(fit.covariance(), cov, rtol=1e-9, atol=1e-12 * np.abs(cov).max())
    np.testing.assert_allclose(
        fit.original_theta()[:-1],
        np.linalg.lstsq(np.column_stack([x, np.ones(len(x))]), ds.y_train, rcond=None)[0][:-1],
        rtol=1e-9,
    )


def test_interval_without_a_bias_has_one_parameter_fewer() -> None:
    config = _config(**{"model.fit_bias": False, "data.n_samples": 31, "data.noise_std": 0.3})
    trainer = Trainer(config)
    ds = trainer.dataset
    fit = LeastSquaresFit.from_run_info(run_info(trainer))
    assert fit is not None and fit.n_params == 1 and fit.df == 30
    x0 = np.array([[-2.0], [0.0], [3.5]])
    pred, lo, hi, _ = _independent_interval(ds.x_train, ds.y_train, x0, T_975[30], intercept=False)
    for mine, theirs in zip(fit.interval(x0), (pred, lo, hi), strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-9, atol=1e-300)
    assert fit.interval(x0)[0][1] == 0.0  # no intercept: the line goes through the origin


def test_interval_is_unknown_when_there_are_no_spare_rows() -> None:
    # Two rows, two parameters: the line goes through both, the residual variance is 0/0.
    config = _config(**{"data.inline_features": [[0.0], [1.0]], "data.noise_std": 0.0})
    fit = LeastSquaresFit.from_run_info(run_info(Trainer(config)))
    assert fit is not None and fit.df == 0
    pred, lo, hi = fit.interval(np.array([[0.5]]))
    assert pred[0] == pytest.approx(2.0)  # 2 * 0.5 + 1 on the playground line
    assert math.isnan(lo[0]) and math.isnan(hi[0])


# ---- predictions of a run ---------------------------------------------------------------------
def test_predictions_are_the_final_parameters_applied_in_original_units() -> None:
    rows = _offset_features(200)
    config = _config(
        **{
            "data.inline_features": rows,
            "data.true_weights": [0.3, 40.0, -2.0],
            "data.true_bias": 5.0,
            "data.noise_std": 0.1,
            "data.standardize": True,
            "train.lr": 0.1,
            "train.epochs": 40,
        }
    )
    trainer = Trainer(config)
    trainer.run_steps(trainer.total_steps)
    ds = trainer.dataset
    theta = trainer.theta_original()
    cols = run_predictions(run_info(trainer), theta, NEW_ROWS)
    np.testing.assert_allclose(cols["prediction"], NEW_ROWS @ theta[:-1] + theta[-1], rtol=1e-12)
    # The same as the model itself computes on its standardised inputs.
    trained = trainer.theta()
    own = ((NEW_ROWS - ds.shift) / ds.scale) @ trained[:-1] + trained[-1]
    np.testing.assert_allclose(cols["prediction"], own, rtol=1e-9)
    np.testing.assert_allclose(cols["true_value"], NEW_ROWS @ [0.3, 40.0, -2.0] + 5.0, rtol=1e-15)
    # Trained to convergence on little noise, all three agree in original units.
    np.testing.assert_allclose(cols["ols_prediction"], cols["true_value"], rtol=1e-2)
    assert np.all(cols["ols_lower"] < cols["ols_prediction"])
    assert np.all(cols["ols_prediction"] < cols["ols_upper"])


def test_model_json_holds_the_model_in_original_units(tmp_path: Path) -> None:
    config = _config(
        **{
            "data.inline_features": _offset_features(50),
            "data.standardize": True,
            "data.true_weights": [1.0, 2.0, 3.0],
        }
    )
    trainer = Trainer(config)
    trainer.run_steps(37)
    info = run_info(trainer)
    theta = trainer.theta_original()
    path = write_model_json(tmp_path / "model.json", info, theta[:-1], float(theta[-1]))
    model = json.loads(path.read_text(encoding="utf-8"), parse_constant=pytest.fail)
    assert model["feature_names"] == ["x1", "x2", "x3"]
    assert model["weights"] == theta[:-1].tolist() and model["bias"] == float(theta[-1])
    assert model["standardization"]["used"] is True
    np.testing.assert_allclose(model["standardization"]["mean"], trainer.dataset.shift)
    np.testing.assert_allclose(model["standardization"]["std"], trainer.dataset.scale)
    ls = model["least_squares"]
    np.testing.assert_allclose(ls["weights"] + [ls["bias"]], info.ols_theta, rtol=1e-12)
    cov = np.array(ls["covariance"])
    assert cov.shape == (4, 4)
    np.testing.assert_allclose(cov, cov.T, rtol=1e-12)
    assert np.all(np.linalg.eigvalsh(cov) > 0)
    assert (ls["n"], ls["df"]) == (50, 46)
    assert model["true_weights"] == [1.0, 2.0, 3.0]
    # Applying it the way its usage says gives the run's predictions.
    x = NEW_ROWS
    by_json = x @ np.array(model["weights"]) + model["bias"]
    np.testing.assert_allclose(by_json, run_predictions(info, theta, x)["prediction"], rtol=1e-15)


def test_model_json_of_csv_data_has_no_true_line(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("area,rooms,price\n1,2,3\n2,1,4\n3,3,8\n4,1,7\n5,2,11\n", encoding="utf-8")
    config = _config(**{"data.csv_path": str(data), "data.target_column": "price"})
    trainer = Trainer(config)
    theta = trainer.theta_original()
    model = model_dict(run_info(trainer), theta[:-1], float(theta[-1]))
    assert model["feature_names"] == ["area", "rooms"] and model["target_name"] == "price"
    assert model["true_weights"] is None and model["true_bias"] is None
    assert model["standardization"]["used"] is False
    cols = run_predictions(run_info(trainer), theta, np.array([[1.0, 1.0]]))
    assert "true_value" not in cols


# ---- the input and output files ---------------------------------------------------------------
def _write(tmp_path: Path, text: str | bytes, name: str = "in.csv") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return path


def test_input_keeps_extra_columns_and_reads_features_by_name(tmp_path: Path) -> None:
    text = 'id;x2;note;x1\r\n\r\n7;0.5;"a; b";-1\r\n8;2e3;;  4 \r\n'
    table = read_predict_input(_write(tmp_path, "\ufeff" + text), ["x1", "x2"])
    assert table.header == ["id", "x2", "note", "x1"]
    assert table.rows == [["7", "0.5", "a; b", "-1"], ["8", "2e3", "", "  4 "]]
    np.testing.assert_array_equal(table.x, [[-1.0, 0.5], [4.0, 2000.0]])


def test_output_appends_columns_and_round_trips_exactly(tmp_path: Path) -> None:
    table = read_predict_input(_write(tmp_path, 'x1,note\n0.1,"a, b"\n3,\n'), ["x1"])
    cols = {
        "prediction": np.array([0.1 + 0.2, -1e-300]),
        "ols_prediction": np.array([1 / 3, 2.0]),
        "ols_lower": np.array([np.nan, 1.0]),
        "ols_upper": np.array([np.nan, 3.0]),
    }
    out = write_predictions(tmp_path / "sub" / "out.csv", table, cols)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "x1,note,prediction,ols_prediction,ols_lower,ols_upper"
    assert lines[1] == '0.1,"a, b",0.30000000000000004,0.3333333333333333,,'
    assert lines[2] == "3,,-1e-300,2.0,1.0,3.0"
    # Applied to its own output, the old prediction columns are replaced, not doubled.
    again = read_predict_input(out, ["x1"])
    write_predictions(out, again, cols)
    assert out.read_text(encoding="utf-8").splitlines()[0] == lines[0]


BAD_INPUTS = {
    "empty": (b"", "in.csv: the file is empty"),
    "blank lines only": (b"\n  \n\n", "in.csv: the file is empty"),
    "header only": (b"x1,x2\n\n", "in.csv: no data rows after the header (line 1)"),
    "missing column": (b"id,x1\n1,2\n", "in.csv, line 1 (header): no column 'x2'"),
    "no header": (b"1,2\n3,4\n", "in.csv, line 1 (header): the first row holds numbers"),
    "not a number": (b"x1,x2\n1,2\n3,abc\n", "in.csv, line 3, column 'x2': 'abc' is not a number"),
    "empty cell": (b"x2,x1\n\n1,\n", "in.csv, line 3, column 'x1': missing value"),
    "infinite": (b"x1,x2\n1,inf\n", "in.csv, line 2, column 'x2': 'inf' is not a finite number"),
    "ragged": (b"x1,x2,id\n1,2\n", "in.csv, line 2: expected 3 cells (one per header column)"),
    "duplicate": (b"x1,x2,x1\n1,2,3\n", "in.csv, line 1 (header): duplicate column name 'x1'"),
    "binary": (b"x1,x2\n1,\x002\n", "in.csv, line 2: not a text CSV file"),
    "quoted line break": (
        b'x1,x2,note\n1,2,"two\nlines"\n5,six,z\n',
        "in.csv, line 4, column 'x2': 'six' is not a number",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_line_naming_file_line_and_column(case: str, tmp_path: Path) -> None:
    raw, expected = BAD_INPUTS[case]
    path = _write(tmp_path, raw)
    with pytest.raises(DataError) as err:
        read_predict_input(path, ["x1", "x2"])
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(str(path.parent)), message
    assert expected in message, message


def test_missing_input_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.csv: file not found"):
        read_predict_input(tmp_path / "nope.csv", ["x1"])


def test_saved_run_predicts_without_its_engine(tmp_path: Path) -> None:
    # A module-engine RMSprop run: the numpy engine has no RMSprop, and prediction needs none.
    config = _config(**{"train.implementation": "module", "train.optimizer": "rmsprop"})
    trainer = Trainer(config)
    trainer.run_steps(23)
    path = save_run(capture(trainer), tmp_path / "r.lrrun")
    again, theta = saved_run_for_prediction(path)
    np.testing.assert_array_equal(theta, trainer.theta_original())
    assert again.config.train.implementation == "numpy"
    x = np.array([[0.25], [-3.0]])
    np.testing.assert_array_equal(
        run_predictions(run_info(again), theta, x)["prediction"],
        run_predictions(run_info(trainer), trainer.theta_original(), x)["prediction"],
    )


def test_pasted_rows_split_by_position_or_by_header() -> None:
    assert split_pasted("1 2\n\n 3  4 \n", ["a", "b"]) == [["1", "2"], ["3", "4"]]
    assert split_pasted("1\t2\n3\t4\n", ["a", "b"]) == [["1", "2"], ["3", "4"]]
    assert split_pasted("1;x\n", ["a", "b"]) == [["1", "x"]]  # a bad cell is kept, shown red
    assert split_pasted("id b a\nq 1 2\n", ["a", "b"]) == [["2", "1"]]
    assert split_pasted('a,b,note\n1,2,"x, y"\n', ["a", "b"]) == [["1", "2"]]
    with pytest.raises(DataError, match="pasted row 2 has 1 value; the model has 2 features"):
        split_pasted("1,2\n3\n", ["a", "b"])
    with pytest.raises(DataError, match="no run"):
        split_pasted("1", [])


@settings(max_examples=300, deadline=None, derandomize=True)
@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_input_file_reads_or_is_one_line_of_bad_input(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "in.csv"
        path.write_bytes(raw)
        try:
            table = read_predict_input(path, ["x1", "x2"])
        except DataError as exc:
            assert "\n" not in str(exc) and str(exc).startswith(str(path))
        else:
            assert table.x.shape == (len(table.rows), 2) and np.isfinite(table.x).all()


@settings(max_examples=300, deadline=None, derandomize=True)
@given(text=st.text(max_size=200))
def test_any_pasted_text_splits_or_is_one_line_of_bad_input(text: str) -> None:
    try:
        rows = split_pasted(text, ["x1", "x2"])
    except DataError as exc:
        assert "\n" not in str(exc)
    else:
        assert rows and all(len(row) == 2 for row in rows)
