"""Tests for core.branch_history: a branch reads its parent's records up to the fork, merged
cells, rates and saved forms included."""

from __future__ import annotations

import numpy as np
import pytest

from core.branch_history import BranchHistory
from core.decimate import envelope
from core.history import History
from tests.test_history import NAMES4, SMALL, rows_for


# ---- branches: a parent's records up to the fork, read through ---------------------------------
def _recorded(history: History, first: int, last: int) -> None:
    steps = np.arange(first, last + 1)
    losses, params = rows_for(steps)
    history.record_steps(first, losses, params)
    for s in steps[steps % 10 == 0]:
        history.record_epoch(int(s // 10), int(s), float(s), None, 0.0)
        if s % 50 == 0:
            history.record_event(int(s), f"event {s}")


def test_a_branch_reads_its_parents_records_up_to_the_fork() -> None:
    parent = History(4, NAMES4, SMALL)
    _recorded(parent, 0, 120)
    branch = BranchHistory(parent, 100)
    assert branch.last_step == 100 and branch.own_steps_recorded == 0
    _recorded(branch, 101, 130)
    # The parent goes on (and thins, past its capacity); the branch still reads up to 100.
    _recorded(parent, 121, parent.capacity + 500)
    steps, losses, params = branch.steps()
    assert steps[-1] == 130 and branch.last_step == 130
    assert np.all(np.diff(steps) > 0) and np.all(steps[steps > 100] == np.arange(101, 131))
    want_losses, want_params = rows_for(steps)
    np.testing.assert_array_equal(losses, want_losses)
    np.testing.assert_array_equal(params, want_params)
    assert branch.n_steps_recorded == steps.size
    epochs = branch.epochs()
    assert list(epochs["step"]) == list(range(0, 131, 10))
    assert branch.events() == [(0, "event 0"), (50, "event 50"), (100, "event 100")]
    assert branch.params_at(100) is not None and branch.row_at(105) is not None
    np.testing.assert_array_equal(branch.row_at(105), rows_for(np.array([105]))[1][0])
    # Decimated rows are rows of the branch, first and last kept.
    step, loss, rows = branch.decimated(12)
    assert step[0] == 0 and step[-1] == 130 and len(step) <= 12
    np.testing.assert_array_equal(loss, rows_for(step)[0])
    np.testing.assert_array_equal(rows, rows_for(step)[1])


def test_branches_of_branches_and_their_saved_form() -> None:
    root = History(4, NAMES4)
    _recorded(root, 0, 60)
    first = BranchHistory(root, 40)
    _recorded(first, 41, 80)
    second = BranchHistory(first, 70)
    _recorded(second, 71, 90)
    steps = second.steps()[0]
    np.testing.assert_array_equal(steps, np.arange(0, 91))
    assert [s for s, _ in second.events()] == [0, 50]
    # Saved as its own records, rebuilt on the same parent: the same branch.
    again = BranchHistory.from_own_state(first, 70, second.own_state())
    for a, b in zip(again.steps(), second.steps(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert again.events() == second.events()
    # Flattened, it is a plain History of the whole branch.
    flat = History.from_state(second.to_state())
    np.testing.assert_array_equal(flat.steps()[0], steps)
    assert flat.events() == second.events()
    with pytest.raises(ValueError, match="must follow its fork step"):
        BranchHistory.from_own_state(first, 80, second.own_state())


# ---- merged cells, rates and states ----------------------------------------------------------
def _record(
    history: History, first: int, last: int, spikes: dict[int, float] | None = None
) -> None:
    """Steps first..last with rows_for's values, rate step / 1000 and some losses replaced."""
    steps = np.arange(first, last + 1)
    losses, params = rows_for(steps)
    for step, value in (spikes or {}).items():
        if first <= step <= last:
            losses[step - first] = value
    history.record_steps(first, losses, params, steps / 1000.0)


def _merged_fork(cap_multiple: int = 3) -> tuple[int, int, int]:
    """(last parent step, fork step, an earlier step): the fork lies inside a merged cell of
    at least three steps, not its first, and the earlier step inside the cell before it."""
    probe = History(4, NAMES4, SMALL)
    last = cap_multiple * probe.capacity
    _record(probe, 0, last)
    steps, _, lows, _ = probe.rows()
    assert lows is not None
    r = lows.shape[0]
    i = next(
        i for i in range(2, r - 1) if steps[i + 1] - steps[i] >= 3 and steps[i] - steps[i - 1] >= 2
    )
    return last, int(steps[i]) + 1, int(steps[i - 1]) + 1


def test_a_branch_reads_its_parents_merged_cells_only_up_to_the_fork() -> None:
    last, fork, earlier = _merged_fork()
    parent = History(4, NAMES4, SMALL)
    # A peak before the fork (inside a merged cell) and a higher one after it, in the cell
    # that holds the fork step: the branch shows the first, never the second.
    _record(parent, 0, last, {earlier: 5e5, fork + 1: 1e6})
    branch = BranchHistory(parent, fork)
    _record(branch, fork + 1, fork + 100)
    steps, losses, _ = branch.series(400)
    assert losses.max() == 5e5
    assert steps[-1] == fork + 100 and np.all(np.diff(steps) >= 0)
    _, values, lows, highs = branch.rows()
    assert lows is not None and highs is not None and highs[:, 0].max() == 5e5
    assert values[:, 0].max() < 5e5  # the peak was merged away: only the summary keeps it
    # The parent itself still shows both.
    assert parent.series(400)[1].max() == 1e6


@pytest.mark.parametrize("late", [False, True])
def test_a_whole_branch_flattens_into_one_history_keeping_its_extremes_and_rates(late) -> None:
    last, fork, earlier = _merged_fork()
    if late:  # among the parent's newest rows: the branch has more rows than one History
        fork = last - 50
    parent = History(4, NAMES4, SMALL)
    _record(parent, 0, last, {earlier: 5e5, fork + 1: 1e6})
    branch = BranchHistory(parent, fork)
    # The branch thins its own records too.
    _record(branch, fork + 1, fork + 2 * branch.capacity, {fork + 7: -3.0})
    assert branch.own_state()["merged_lows"].shape[0] > 0
    flat = History.from_state(branch.to_state())
    # Within one History's rows and summaries (merged further where they were more).
    assert flat.n_steps_recorded <= flat.capacity
    assert flat.to_state()["merged_lows"].shape[0] <= flat.capacity // 4
    assert (branch.n_steps_recorded > flat.capacity) == late
    assert flat.last_step == branch.last_step
    got, want = flat.series(600)[1], branch.series(600)[1]
    assert (got.min(), got.max()) == (want.min(), want.max()) == (-3.0, 5e5)
    steps = flat.steps()[0]
    assert set(steps.tolist()) <= set(branch.steps()[0].tolist())
    np.testing.assert_array_equal(flat.lrs(), steps / 1000.0)
    assert flat.epochs()["step"].size == branch.epochs()["step"].size


def test_a_branchs_own_records_round_trip_with_their_summaries_and_rates() -> None:
    last, fork, _ = _merged_fork(2)
    parent = History(4, NAMES4, SMALL)
    _record(parent, 0, last)
    branch = BranchHistory(parent, fork)
    _record(branch, fork + 1, fork + 3 * branch.capacity, {fork + 5: 9e9})
    assert branch.rows()[2] is not None
    again = BranchHistory.from_own_state(parent, fork, branch.own_state())
    for a, b in zip(again.rows(), branch.rows(), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(again.lrs(), branch.lrs())
    np.testing.assert_array_equal(branch.lrs(), branch.steps()[0] / 1000.0)
    assert again.series(300)[1].max() == 9e9
    # The series is the envelope of the rows, as a plain History draws its own.
    step, values, lows, highs = branch.rows()
    x, y = envelope(step, values, 300, lows, highs)
    np.testing.assert_array_equal(branch.series(300)[0], x)
    np.testing.assert_array_equal(branch.series(300)[1], y[:, 0])
