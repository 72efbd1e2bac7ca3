"""Tests for core.history: bounded step records, epochs, decimation, state and CSV writers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.history import (
    MAX_CAPACITY,
    MIN_CAPACITY,
    History,
    step_capacity,
    write_epochs_csv,
    write_steps_csv,
)

NAMES4 = ["w1", "w2", "w3", "b"]
# Smallest allowed capacity, so thinning happens after a few thousand steps.
SMALL = 1


def rows_for(steps: np.ndarray, n_params: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Losses and params derived from the step numbers, so misaligned rows are detectable."""
    losses = steps.astype(np.float64) * 0.5
    params = steps[:, None].astype(np.float64) * np.arange(1, n_params + 1)
    return losses, params


def record_range(h: History, start: int, stop: int, chunk: int) -> None:
    """Record steps start..stop-1 in chunks of the given size."""
    for first in range(start, stop, chunk):
        steps = np.arange(first, min(first + chunk, stop))
        losses, params = rows_for(steps, h.n_params)
        h.record_steps(first, losses, params)


def assert_consistent(h: History) -> None:
    """Every stored row still carries the loss and params recorded with its step."""
    step, loss, params = h.steps()
    expected_loss, expected_params = rows_for(step, h.n_params)
    np.testing.assert_array_equal(loss, expected_loss)
    np.testing.assert_array_equal(params, expected_params)
    assert np.all(np.diff(step) > 0)


# ------------------------------------------------------------------ recording


def test_record_and_read_back() -> None:
    h = History(4, NAMES4)
    assert h.n_steps_recorded == 0
    assert h.last_step == -1
    step, loss, params = h.steps()
    assert step.shape == (0,) and loss.shape == (0,) and params.shape == (0, 4)

    losses = np.array([3.0, 2.0, 1.0])
    params = np.arange(12, dtype=np.float64).reshape(3, 4)
    h.record_steps(0, losses, params)
    h.record_steps(3, np.array([0.5], dtype=np.float32), np.ones((1, 4), dtype=np.float32))
    step, loss, got = h.steps()
    assert step.dtype == np.int64 and loss.dtype == np.float64 and got.dtype == np.float64
    np.testing.assert_array_equal(step, [0, 1, 2, 3])
    np.testing.assert_array_equal(loss, [3.0, 2.0, 1.0, 0.5])
    np.testing.assert_array_equal(got[:3], params)
    assert h.n_steps_recorded == 4
    assert h.last_step == 3

    # Returned arrays are copies: changing them or recording more leaves them alone.
    step[0] = 99
    got[0, 0] = 99.0
    h.record_steps(4, np.zeros(0), np.zeros((0, 4)))
    assert h.steps()[0][0] == 0 and h.steps()[2][0, 0] == 0.0


def test_record_steps_rejects_bad_input() -> None:
    h = History(2, ["w", "b"])
    with pytest.raises(ValueError):
        h.record_steps(0, np.zeros(3), np.zeros((3, 3)))
    with pytest.raises(ValueError):
        h.record_steps(0, np.zeros((3, 1)), np.zeros((3, 2)))
    h.record_steps(0, np.zeros(3), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="does not follow"):
        h.record_steps(2, np.zeros(1), np.zeros((1, 2)))
    with pytest.raises(ValueError):
        History(2, ["w"])
    with pytest.raises(ValueError):
        History(0, [])


def test_capacity_rule() -> None:
    assert step_capacity(2, 32 * 2**20) == MAX_CAPACITY
    assert step_capacity(4, 1) == MIN_CAPACITY
    # 65 params: 808-byte rows (a step, 66 columns and the rate as recorded; a quarter of the
    # rows keep the least and the most too): (33554432 - 2560 for the first epoch rows) // 808
    # = 41524, a multiple of 4.
    assert step_capacity(65, 32 * 2**20) == 41524
    assert History(65, [f"p{i}" for i in range(65)]).capacity == 41524


def test_events_kept_in_order() -> None:
    h = History(2, ["w", "b"])
    h.record_event(10, "lr 0.03 -> 0.1")
    h.record_event(20, "paused")
    events = h.events()
    assert events == [(10, "lr 0.03 -> 0.1"), (20, "paused")]
    events.append((0, "x"))
    assert len(h.events()) == 2


def test_clear() -> None:
    h = History(4, NAMES4, max_bytes=SMALL)
    record_range(h, 0, 10_000, 999)
    h.record_epoch(0, 10, 1.0, None, 0.1)
    h.record_event(5, "x")
    before = h.memory_bytes()
    h.clear()
    assert h.n_steps_recorded == 0 and h.last_step == -1
    assert h.epochs()["epoch"].size == 0 and h.events() == []
    assert h.memory_bytes() <= before
    record_range(h, 0, 100, 7)
    assert_consistent(h)


# ------------------------------------------------------------ bounded memory


def test_ten_million_steps_stay_bounded() -> None:
    max_bytes = 32 * 2**20
    h = History(4, NAMES4, max_bytes=max_bytes)
    cap = h.capacity
    assert cap % 4 == 0
    allocated = h.memory_bytes()
    assert allocated <= max_bytes
    chunk = 1000
    base = np.arange(chunk)
    mult = np.arange(1, 5, dtype=np.float64)
    for first in range(0, 10_000_000, chunk):
        steps = base + first
        h.record_steps(first, steps * 0.5, steps[:, None] * mult)
        if first % 1_000_000 == 0:
            assert h.memory_bytes() == allocated
            assert h.n_steps_recorded <= cap
    assert h.memory_bytes() == allocated <= max_bytes
    assert h.n_steps_recorded <= cap
    assert h.last_step == 9_999_999

    step, _, _ = h.steps()
    assert step[0] == 0
    assert step[-1] == 9_999_999
    assert_consistent(h)
    # The newest quarter of the buffer is always at full resolution.
    assert np.all(np.diff(step[-cap // 4 :]) == 1)
    # Older history is evenly coarse: its rows stand for cells of at most 16 * 10^7 / C steps
    # (at most C/4 cells). Thinning every other row of the oldest half left the first
    # steps 2^23 apart.
    assert int(np.diff(step).max()) <= 16 * 10_000_000 // cap


def test_thinning_keeps_first_row_and_recent_resolution() -> None:
    h = History(4, NAMES4, max_bytes=SMALL)
    cap = h.capacity
    record_range(h, 0, cap, 100)
    assert h.n_steps_recorded == cap
    h.record_steps(cap, *rows_for(np.array([cap])))
    # One thinning: the oldest 3C/4 rows merged into at most C/4 cells, the newest C/4 and
    # the new row kept as recorded.
    merged = h.n_steps_recorded - cap // 4 - 1
    assert 0 < merged <= cap // 4
    step, values, lows, highs = h.rows()
    assert lows is not None and highs is not None
    np.testing.assert_array_equal(step[merged:], np.arange(cap - cap // 4, cap + 1))
    assert step[0] == 0
    assert_consistent(h)
    # Each merged row is its cell's first row; its summary spans the cell up to the next
    # row (rows_for rises with the step, so the least is the row's own value).
    cell_last = step[1 : merged + 1] - 1
    np.testing.assert_array_equal(lows[:merged], values[:merged])
    np.testing.assert_array_equal(highs[:merged, 0], cell_last * 0.5)
    np.testing.assert_array_equal(highs[:merged, 1:], cell_last[:, None] * np.arange(1.0, 5.0))
    assert lows.shape == highs.shape == (merged, 5)  # later rows stand for themselves


def test_thinning_keeps_every_peak_and_trough() -> None:
    # A minibatch loss that is a sawtooth of period 100 (low at 0, high at 99) and a
    # parameter with one sharp peak at an odd step: every other row dropped both.
    h = History(2, ["w", "b"], max_bytes=SMALL)
    n = 200_000
    steps = np.arange(n)
    loss = (steps % 100) / 100.0
    w = np.where(steps == 77_777, 5.0, 0.0)
    h.record_steps(0, loss, np.column_stack((w, np.zeros(n))))
    step, _, lows, highs = h.rows()
    assert step.size <= h.capacity < n
    assert lows is not None and highs is not None
    assert lows[:, 0].min() == 0.0 and highs[:, 0].max() == 0.99
    assert highs[:, 1].max() == 5.0
    # Every cell of the merged region still spans the teeth inside it.
    whole = np.flatnonzero(np.diff(step[: lows.shape[0] + 1]) >= 100)
    assert whole.size > 100
    assert np.all(lows[whole, 0] == 0.0) and np.all(highs[whole, 0] == 0.99)


def test_chunk_larger_than_capacity() -> None:
    h = History(4, NAMES4, max_bytes=SMALL)
    big = 10 * h.capacity + 123
    record_range(h, 0, big, big)
    assert h.n_steps_recorded <= h.capacity
    assert h.steps()[0][0] == 0 and h.last_step == big - 1
    assert_consistent(h)
    # Same stored rows as feeding the steps one small chunk at a time.
    ref = History(4, NAMES4, max_bytes=SMALL)
    record_range(ref, 0, big, 1000)
    for a, b in zip(h.steps(), ref.steps(), strict=True):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=25, deadline=None)
@given(
    chunks=st.lists(st.integers(1, 3000), min_size=1, max_size=20),
    start=st.integers(0, 10**12),
)
def test_result_independent_of_chunking(chunks: list[int], start: int) -> None:
    h = History(4, NAMES4, max_bytes=SMALL)
    first = start
    for k in chunks:
        h.record_steps(first, *rows_for(np.arange(first, first + k)))
        first += k
    ref = History(4, NAMES4, max_bytes=SMALL)
    record_range(ref, start, first, 517)
    for a, b in zip(h.steps(), ref.steps(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert h.steps()[0][0] == start
    assert h.last_step == first - 1
    assert_consistent(h)


# ---------------------------------------------------------------------- epochs


def test_epochs_never_thinned() -> None:
    h = History(2, ["w", "b"], max_bytes=SMALL)
    n = 100_000
    for e in range(n):
        h.record_epoch(e, 10 * e, 1.0 / (e + 1), None if e % 3 == 0 else 2.0 * e, 0.001 * e)
    cols = h.epochs()
    assert set(cols) == {"epoch", "step", "train_loss", "val_loss", "seconds"}
    np.testing.assert_array_equal(cols["epoch"], np.arange(n))
    np.testing.assert_array_equal(cols["step"], 10 * np.arange(n))
    assert cols["epoch"].dtype == np.int64 and cols["val_loss"].dtype == np.float64
    e = np.arange(n)
    np.testing.assert_array_equal(cols["train_loss"], 1.0 / (e + 1))
    np.testing.assert_array_equal(cols["val_loss"], np.where(e % 3 == 0, np.nan, 2.0 * e))
    np.testing.assert_array_equal(cols["seconds"], 0.001 * e)
    cols["epoch"][0] = 5
    assert h.epochs()["epoch"][0] == 0


# ------------------------------------------------------------------ decimation


def test_decimated_small_history_returned_whole() -> None:
    h = History(4, NAMES4)
    record_range(h, 0, 50, 50)
    for a, b in zip(h.decimated(100), h.steps(), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError):
        h.decimated(1)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(3, 20_000),
    max_points=st.integers(2, 3000),
    seed=st.integers(0, 2**32 - 1),
)
def test_decimated_bounds_and_extremes(n: int, max_points: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    h = History(3, ["w1", "w2", "b"])
    loss = rng.exponential(size=n) * rng.choice([1.0, 100.0], size=n, p=[0.99, 0.01])
    params = rng.normal(size=(n, 3))
    h.record_steps(0, loss, params)
    step_d, loss_d, params_d = h.decimated(max_points)
    assert len(step_d) <= max_points
    assert step_d[0] == 0 and step_d[-1] == n - 1
    assert np.all(np.diff(step_d) > 0)
    # Rows stay together: each sample's loss and params are the ones recorded at its step.
    np.testing.assert_array_equal(loss_d, loss[step_d])
    np.testing.assert_array_equal(params_d, params[step_d])
    if max_points >= 4 or n <= max_points:
        assert loss_d.max() == loss.max()
        assert loss_d.min() == loss.min()


def test_decimated_after_thinning_keeps_first_and_last() -> None:
    h = History(4, NAMES4, max_bytes=SMALL)
    record_range(h, 0, 50_000, 1000)
    step_d, loss_d, params_d = h.decimated(500)
    _, loss, _ = h.steps()
    assert len(step_d) <= 500
    assert step_d[0] == 0 and step_d[-1] == 49_999
    assert loss_d.max() == loss.max() and loss_d.min() == loss.min()
    np.testing.assert_array_equal(params_d, rows_for(step_d)[1])


def test_series_of_a_short_run_is_every_row() -> None:
    h = History(4, NAMES4)
    record_range(h, 0, 50, 50)
    x, loss, params = h.series(100)
    step, loss_all, params_all = h.steps()
    np.testing.assert_array_equal(x, step)
    np.testing.assert_array_equal(loss, loss_all)
    np.testing.assert_array_equal(params, params_all)
    with pytest.raises(ValueError):
        h.series(1)


def bump(steps: np.ndarray) -> np.ndarray:
    """A parameter that rises to 3.0 at step 123,457 and falls again, curved both ways."""
    return 3.0 * np.exp(-(((steps - 123_457) / 150_000.0) ** 2))


def test_a_million_steps_keep_their_peak_and_shape() -> None:
    # Steps recorded as the trainer records them, in chunks, with a noisy minibatch loss.
    h = History(2, ["w", "b"])
    n, chunk = 1_000_000, 50_000
    rng = np.random.default_rng(3)
    for first in range(0, n, chunk):
        steps = np.arange(first, first + chunk)
        loss = rng.exponential(size=chunk)
        h.record_steps(first, loss, np.column_stack((bump(steps), -bump(steps))))
    x, _, params = h.series(2000)
    assert len(x) <= 2000 and x[0] == 0 and x[-1] == n - 1
    # The peak as recorded, not the nearest kept row.
    assert params[:, 0].max() == 3.0 and params[:, 1].min() == -3.0
    # No straight ramps across dropped steps: points all along the run (cells of at most
    # 1/250 of it), each on the curve (a rising cell draws its low at its first step and its
    # high at its last, a falling one the other way round).
    assert np.diff(x).max() <= n / 250
    np.testing.assert_allclose(params[:, 0], bump(x), atol=1e-3)


def test_sawtooth_loss_envelope_spans_each_bucket() -> None:
    # Period 1000 (low 0, high 0.999); after a million steps every cell the view draws is
    # wider than a period, so each must reach both.
    h = History(2, ["w", "b"])
    n, chunk = 1_000_000, 100_000
    for first in range(0, n, chunk):
        steps = np.arange(first, first + chunk)
        h.record_steps(first, (steps % 1000) / 1000.0, np.zeros((chunk, 2)))
    x, loss, _ = h.series(1000)
    # (The last cell is cut short by the end of the run: it need not reach a low.)
    late = (x >= 100_000) & (x < 990_000)
    assert set(loss[late].tolist()) == {0.0, 0.999}
    # Each cell draws its extremes at its first and last step (in the order it rose or fell),
    # the next cell starts a few steps on: a pair far apart is one cell.
    pairs = np.flatnonzero(late[:-1] & late[1:] & (np.diff(x) >= 1000))
    assert pairs.size >= 200  # cells of at most 4096 steps: about 217 of them
    np.testing.assert_array_equal(np.minimum(loss[pairs], loss[pairs + 1]), 0.0)
    np.testing.assert_array_equal(np.maximum(loss[pairs], loss[pairs + 1]), 0.999)


# --------------------------------------------------------------------- params_at


def test_params_at() -> None:
    h = History(4, NAMES4, max_bytes=SMALL)
    assert h.params_at(0) is None
    record_range(h, 100, 100 + 3 * h.capacity, 1000)
    assert h.params_at(99) is None
    np.testing.assert_array_equal(h.params_at(100), rows_for(np.array([100]))[1][0])
    step, _, params = h.steps()
    # In the thinned region a step between two stored rows maps to the earlier one.
    gap = int(np.argmax(np.diff(step) > 1))
    between = int(step[gap]) + 1
    assert between not in set(step.tolist())
    np.testing.assert_array_equal(h.params_at(between), params[gap])
    np.testing.assert_array_equal(h.params_at(int(step[-1]) + 10**6), params[-1])
    got = h.params_at(int(step[5]))
    assert got is not None
    got[:] = -1.0
    np.testing.assert_array_equal(h.params_at(int(step[5])), params[5])


# ----------------------------------------------------------------- save and load


def filled_history() -> History:
    """A thinned history with epochs (some without val loss) and non-ASCII events."""
    h = History(4, NAMES4, max_bytes=SMALL)
    record_range(h, 0, 3 * h.capacity + 17, 333)
    for e in range(150):
        h.record_epoch(e, 100 * e, 1.0 / 3 + e, None if e % 2 else e / 7, 0.1 * e)
    h.record_event(5, "lr 0.03 -> 0.1")
    h.record_event(900, "optimizer sgd -> adam (état réinitialisé)")
    return h


def assert_same_history(a: History, b: History) -> None:
    """Steps, epochs, events and layout are identical, dtypes included."""
    assert a.n_params == b.n_params and a.param_names == b.param_names
    assert a.capacity == b.capacity
    for x, y in zip(a.rows(), b.rows(), strict=True):
        if x is None or y is None:
            assert x is None and y is None
            continue
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)
    ea, eb = a.epochs(), b.epochs()
    assert ea.keys() == eb.keys()
    for key in ea:
        assert ea[key].dtype == eb[key].dtype
        np.testing.assert_array_equal(ea[key], eb[key])
    assert a.events() == b.events()


def test_state_round_trip() -> None:
    h = filled_history()
    restored = History.from_state(h.to_state())
    assert_same_history(h, restored)
    # The restored history keeps recording exactly like the original.
    nxt = h.last_step + 1
    for target in (h, restored):
        record_range(target, nxt, nxt + 5000, 250)
    assert_same_history(h, restored)


def test_state_round_trip_through_npz(tmp_path: Path) -> None:
    h = filled_history()
    path = tmp_path / "run.npz"
    np.savez(path, **h.to_state())
    with np.load(path, allow_pickle=False) as data:
        restored = History.from_state(dict(data))
    assert_same_history(h, restored)


def test_state_round_trip_empty(tmp_path: Path) -> None:
    h = History(2, ["w", "b"])
    path = tmp_path / "empty.npz"
    np.savez(path, **h.to_state())
    with np.load(path, allow_pickle=False) as data:
        restored = History.from_state(dict(data))
    assert_same_history(h, restored)
    assert restored.last_step == -1


def test_state_of_version_1_still_loads() -> None:
    # Run files saved before merged rows kept summaries: their rows stand for themselves.
    h = History(4, NAMES4, max_bytes=SMALL)
    record_range(h, 0, 3000, 500)
    state = h.to_state()
    for key in ("merged_lows", "merged_highs", "merge_grid"):
        del state[key]
    state["version"] = 1
    restored = History.from_state(state)
    assert_same_history(h, restored)
    record_range(restored, 3000, 3 * restored.capacity, 1000)
    assert_consistent(restored)


def test_from_state_rejects_summaries_it_cannot_hold() -> None:
    state = filled_history().to_state()
    extra = np.zeros((state["merged_lows"].shape[0] + 1, 5))
    with pytest.raises(ValueError, match="merged summaries"):
        History.from_state({**state, "merged_lows": extra})
    with pytest.raises(ValueError, match="merge grid"):
        History.from_state({**state, "merge_grid": np.array([3, 64])})


def test_from_state_rejects_bad_version() -> None:
    state = History(2, ["w", "b"]).to_state()
    state["version"] = 99
    with pytest.raises(ValueError, match="version"):
        History.from_state(state)


# ------------------------------------------------------------------------ CSV


def test_steps_csv_round_trip(tmp_path: Path) -> None:
    h = History(3, ["w,1", "w2", "b"])
    rng = np.random.default_rng(0)
    loss = np.concatenate([[0.1, 1 / 3, 1e-300, 5e-324, 1.7976931348623157e308], rng.random(95)])
    params = rng.normal(size=(100, 3)) * 10.0 ** rng.integers(-20, 20, size=(100, 3))
    lrs = rng.random(100) * 10.0 ** rng.integers(-12, 3, size=100)
    h.record_steps(2**40, loss, params, lrs)
    path = tmp_path / "steps.csv"
    write_steps_csv(h, path)
    with path.open(encoding="utf-8") as f:
        assert f.readline() == 'step,loss,"w,1",w2,b,lr\n'
    data = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64)
    steps = np.loadtxt(path, delimiter=",", skiprows=1, usecols=0, dtype=np.int64)
    np.testing.assert_array_equal(steps, 2**40 + np.arange(100))
    np.testing.assert_array_equal(data[:, 1], loss)
    np.testing.assert_array_equal(data[:, 2:5], params)
    np.testing.assert_array_equal(data[:, 5], lrs)


def test_steps_without_a_rate_have_an_empty_lr_cell(tmp_path: Path) -> None:
    h = History(2, ["w", "b"])
    h.record_steps(0, np.array([1.0]), np.zeros((1, 2)))
    h.record_steps(1, np.array([0.5]), np.ones((1, 2)), np.array([0.25]))
    np.testing.assert_array_equal(h.lrs(), [np.nan, 0.25])
    path = tmp_path / "steps.csv"
    write_steps_csv(h, path)
    assert path.read_text(encoding="utf-8").splitlines()[1:] == [
        "0,1.0,0.0,0.0,",
        "1,0.5,1.0,1.0,0.25",
    ]


def test_rates_are_thinned_with_their_steps_and_survive_a_state_round_trip() -> None:
    h = History(1, ["w"], max_bytes=1)
    n = 3 * h.capacity + 7
    steps = np.arange(n)
    h.record_steps(0, steps * 0.5, steps[:, None] * 2.0, steps * 0.25)
    kept = h.steps()[0]
    assert kept.size < n
    np.testing.assert_array_equal(h.lrs(), kept * 0.25)
    again = History.from_state(h.to_state())
    np.testing.assert_array_equal(again.lrs(), h.lrs())
    with pytest.raises(ValueError, match="lrs"):
        h.record_steps(n, np.zeros(2), np.zeros((2, 1)), np.zeros(3))


def test_a_state_without_rates_loads_with_unknown_rates() -> None:
    h = History(1, ["w"])
    h.record_steps(0, np.array([1.0, 2.0]), np.zeros((2, 1)), np.array([0.1, 0.2]))
    state = h.to_state()
    del state["lr"]
    assert np.isnan(History.from_state(state).lrs()).all()


def test_steps_csv_empty(tmp_path: Path) -> None:
    path = tmp_path / "steps.csv"
    write_steps_csv(History(2, ["w", "b"]), path)
    assert path.read_text(encoding="utf-8") == "step,loss,w,b,lr\n"


def test_epochs_csv_round_trip(tmp_path: Path) -> None:
    h = History(2, ["w", "b"])
    for e in range(20):
        h.record_epoch(e, 7 * e, 1 / (e + 3), None if e % 4 == 1 else e / 9, 0.1 * e)
    path = tmp_path / "epochs.csv"
    write_epochs_csv(h, path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "epoch,step,train_loss,val_loss,seconds"
    # A missing validation loss is an empty cell.
    assert lines[2].split(",")[3] == ""
    data = np.genfromtxt(path, delimiter=",", skip_header=1, dtype=np.float64)
    cols = h.epochs()
    np.testing.assert_array_equal(data[:, 0], cols["epoch"])
    np.testing.assert_array_equal(data[:, 1], cols["step"])
    np.testing.assert_array_equal(data[:, 2], cols["train_loss"])
    np.testing.assert_array_equal(data[:, 3], cols["val_loss"])
    np.testing.assert_array_equal(data[:, 4], cols["seconds"])


def test_epochs_thinned_to_max_points_keep_first_and_last() -> None:
    h = History(1, ["w"])
    n = 10_001
    h.record_epochs(np.arange(n), np.arange(n) * 20, np.linspace(1, 0, n), np.full(n, np.nan), 0.0)
    every = h.epochs()
    assert every["epoch"].shape == (n,)
    few = h.epochs(max_points=100)
    assert 2 <= few["epoch"].shape[0] <= 100
    assert few["epoch"][0] == 0 and few["epoch"][-1] == n - 1
    assert np.all(np.diff(few["epoch"]) > 0)
    for name, column in few.items():
        np.testing.assert_array_equal(column, every[name][few["epoch"]])
    assert h.epochs(max_points=n)["epoch"].shape == (n,)  # no thinning when it fits
