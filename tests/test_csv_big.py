"""Tests for core.csvdata's reading of big files: pandas' chunks, the slow path taking over from
the first chunk pandas refuses, the header read from the file's start, progress."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import csvdata, csvpandas
from core.csvdata import load_csv
from core.errors import DataError
from tests.conftest import run_python
from tests.test_csv import load_error, mangled_csv, write

# Rows of three numbers, ~26 bytes each: BIG rows make a file of a few MB, many chunks.
ROW = "{i}.25,{j}.5,-{i}e-3\n"
BIG = 150_000


def rows(first: int, count: int, end: str = "\n") -> str:
    """count rows of three plain numbers, the line ending given."""
    return "".join(ROW.format(i=i, j=2 * i).replace("\n", end) for i in range(first, count))


def spy_on_slow_path(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the character offset each slow-path read starts at."""
    starts: list[int] = []
    slow = csvdata._parse_slow

    def spy(text: str, start: int, *args: object, **kwargs: object) -> np.ndarray:
        starts.append(start)
        return slow(text, start, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(csvdata, "_parse_slow", spy)
    return starts


def test_a_plain_big_file_is_read_by_pandas_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    starts = spy_on_slow_path(monkeypatch)
    table = load_csv(write(tmp_path, "a,b,y\n" + rows(0, BIG)))
    assert starts == []
    assert table.x.shape == (BIG, 2) and table.x.flags.c_contiguous
    assert table.x[-1, 1] == 2.0 * (BIG - 1) + 0.5 and table.y[-1] == float(f"-{BIG - 1}e-3")


def test_a_bad_cell_late_in_a_big_file_is_found_from_its_chunk_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # CRLF endings and blank lines, so the line count across pandas' chunks is exercised.
    head = "a,b,y\r\n\r\n" + rows(0, BIG, "\r\n") + "\r\n\r\n"
    text = head + "1,2,oops\r\n" + rows(0, 100, "\r\n")
    line = head.count("\n") + 1
    starts = spy_on_slow_path(monkeypatch)
    message = load_error(write(tmp_path, text), f"line {line}, column 'y': 'oops' is not a number")
    assert message.endswith("'oops' is not a number")
    # The csv module read only the last of pandas' chunks, not the whole file.
    assert starts and min(starts) > len(head) * 3 // 4


def test_values_read_on_both_paths_join_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A quoted cell near the end: pandas reads the chunks before it, csv the rest.
    text = "a,b,y\n" + rows(0, BIG) + '"7",8,9\n' + rows(BIG, BIG + 10)
    starts = spy_on_slow_path(monkeypatch)
    seen: list[float] = []
    table = load_csv(write(tmp_path, text), progress=seen.append)
    assert starts and min(starts) > len(text) // 2
    assert table.x.shape == (BIG + 11, 2)
    np.testing.assert_array_equal(table.x[BIG], [7, 8])
    expected = [float(f"-{i}e-3") for i in (0, BIG - 1, BIG)]
    np.testing.assert_array_equal(table.y[[0, BIG - 1, BIG + 1]], expected)
    # Progress never goes back, though the file was read twice (the last chunk in part).
    assert len(seen) >= 8 and seen == sorted(seen) and seen[-1] == 1.0


def test_a_binary_tail_beyond_the_header_bytes_is_refused_before_the_header(
    tmp_path: Path,
) -> None:
    # A bad header and a NUL far past the first MiB: decoding is judged first, as for a
    # small file, although the header alone was read first.
    text = "x,y,x\n" + rows(0, BIG)
    load_error(write(tmp_path, text.encode() + b"1,\x00,3\n"), "not a text CSV file", "NUL")


def test_a_windows_1252_big_file_loads_with_its_accents(tmp_path: Path) -> None:
    # A spreadsheet's export with a text column: pandas refuses the text, csv reads it all.
    text = "nom,Größe,y\n" + "".join(f"a,{i},{i}\n" for i in range(BIG)) + "é,1,2\n"
    table = load_csv(write(tmp_path, text.encode("cp1252")), feature_columns=["Größe"])
    assert table.feature_names == ["Größe"] and table.x.shape == (BIG + 1, 1)


def test_a_big_utf16_file_loads(tmp_path: Path) -> None:
    table = load_csv(
        write(tmp_path, ("é\tb\ty\r\n" + rows(0, BIG)).replace(",", "\t").encode("utf-16"))
    )
    assert table.feature_names == ["é", "b"] and table.x.shape == (BIG, 2)


def test_a_header_followed_by_a_mib_of_blank_lines(tmp_path: Path) -> None:
    blank = " \n" * (csvdata.HEADER_PREFIX_BYTES // 2)
    table = load_csv(write(tmp_path, "x,y\n" + blank + "1,2\n3,4\n"))
    np.testing.assert_array_equal(table.y, [2, 4])
    load_error(
        write(tmp_path, "x,y\n" + blank + "1,2\n3\n", "bad.csv"), f"line {len(blank) // 2 + 3}"
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_big_file_from_a_pipe_is_read_once(tmp_path: Path) -> None:
    # A pipe (<(zcat data.csv.gz) on the command line, say) cannot be opened and read twice.
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    writer = threading.Thread(target=fifo.write_bytes, args=(("a,b,y\n" + rows(0, BIG)).encode(),))
    writer.start()
    try:
        table = load_csv(fifo)
    finally:
        writer.join()  # it ends when it has written all, or on a broken pipe
    assert table.x.shape == (BIG, 2) and table.feature_names == ["a", "b"]


@settings(max_examples=150, deadline=None)
@given(data=mangled_csv(), head=st.integers(8, 64), chunk=st.sampled_from([1, 16, 1 << 16]))
def test_the_big_file_route_gives_what_the_small_file_route_gives(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, head: int, chunk: int
) -> None:
    # Small files taken as big ones (header read from a few bytes, rows in tiny chunks).
    path = tmp_path_factory.mktemp("route") / "data.csv"
    path.write_bytes(data)

    def outcome() -> str:
        try:
            table = load_csv(path)
        except DataError as e:
            return str(e)
        return repr((table.feature_names, table.target_name, table.x.tobytes(), table.y.tobytes()))

    small = outcome()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(csvdata, "HEADER_PREFIX_BYTES", head)
        patch.setattr(csvpandas, "MIN_CHUNK_BYTES", chunk)
        assert outcome() == small


def test_pandas_is_imported_only_when_a_file_is_read() -> None:
    # pandas takes ~0.2 s to import: the window and the core import it on first use.
    code = (
        "import sys, core.data, core.trainer, core.csvdata, gui.main_window, gui.app; "
        "print('pandas' in sys.modules)"
    )
    out = run_python(["-c", code])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
