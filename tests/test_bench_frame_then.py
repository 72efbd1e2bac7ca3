"""bench_frame_then judges the frame like for like: the views the filed code drew, paired."""

from __future__ import annotations

from bench.bench_frame_then import report


def rows(then: list[float], now_all: list[float], now_three: list[float]) -> dict:
    live = [10.0] * len(then)
    return {
        "then frame views": then,
        "now frame views": now_all,
        "now frame three": now_three,
        "then live live": live,
        "now live live": [7.0] * len(then),
    }


def test_the_goal_is_half_of_the_same_views_then(capsys) -> None:
    # All four views at 0.55x would miss; the same three at 0.4x pass.
    assert report(rows([12.0, 13.0, 12.0], [6.6, 7.15, 6.6], [4.8, 5.2, 4.8])) == 0
    out = capsys.readouterr().out
    assert "0.55x" in out and "0.40x" in out and "PASS" in out
    assert report(rows([12.0, 13.0, 12.0], [6.0, 6.0, 6.0], [6.6, 7.15, 6.6])) == 1
    assert "MISS" in capsys.readouterr().out


def test_ratios_are_paired_run_by_run(capsys) -> None:
    # A slow spell that doubles both sides of one run leaves its ratio alone.
    assert report(rows([12.0, 24.0, 12.0], [6.0, 12.0, 6.0], [5.0, 10.0, 5.0])) == 0
    assert "0.42x" in capsys.readouterr().out
