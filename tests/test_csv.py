"""Tests for core.csvdata: loading, one DataError per kind of bad file, fast/slow path agreement."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import csvdata, csvpandas
from core.csvdata import CsvTable, load_csv, read_header
from core.errors import DataError, UserInputError

GOOD = "x1,x2,y\n1,2,3\n4,5,6\n7,8,9\n"


def write(tmp_path: Path, content: str | bytes, name: str = "data.csv") -> Path:
    """Write exact bytes (no newline translation) and return the path."""
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def load_error(path: Path, *parts: str, **kwargs: object) -> str:
    """Assert load_csv raises DataError naming the file and every part; return the message."""
    with pytest.raises(DataError) as info:
        load_csv(path, **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert str(path) in message
    for part in parts:
        assert part in message, (part, message)
    return message


# ---------------------------------------------------------------- happy paths


def test_default_target_is_last_column_and_features_the_rest(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    table = load_csv(path)
    assert isinstance(table, CsvTable)
    assert table.feature_names == ["x1", "x2"]
    assert table.target_name == "y"
    assert table.path == str(path)
    np.testing.assert_array_equal(table.x, [[1, 2], [4, 5], [7, 8]])
    np.testing.assert_array_equal(table.y, [3, 6, 9])
    assert table.x.dtype == np.float64 and table.y.dtype == np.float64
    assert table.x.shape == (3, 2) and table.y.shape == (3,)
    assert table.x.flags.c_contiguous and table.y.flags.c_contiguous


def test_chosen_target_and_features_keep_the_requested_order(tmp_path: Path) -> None:
    path = write(tmp_path, "a,b,c,d\n1,2,3,4\n5,6,7,8\n")
    table = load_csv(str(path), target_column="b", feature_columns=["d", "a"])
    assert table.target_name == "b"
    assert table.feature_names == ["d", "a"]
    np.testing.assert_array_equal(table.x, [[4, 1], [8, 5]])
    np.testing.assert_array_equal(table.y, [2, 6])
    assert table.x.flags.c_contiguous and table.y.flags.c_contiguous


def test_chosen_target_defaults_features_to_all_other_columns(tmp_path: Path) -> None:
    table = load_csv(write(tmp_path, GOOD), target_column="x1")
    assert table.feature_names == ["x2", "y"]
    np.testing.assert_array_equal(table.y, [1, 4, 7])


def test_whitespace_around_names_and_cells_is_stripped(tmp_path: Path) -> None:
    table = load_csv(write(tmp_path, "  x1 ,\tx2\t, y \n 1 ,2,  3\n4 , 5 ,6 \n"))
    assert table.feature_names == ["x1", "x2"] and table.target_name == "y"
    np.testing.assert_array_equal(table.x, [[1, 2], [4, 5]])


def test_utf8_bom_is_ignored(tmp_path: Path) -> None:
    table = load_csv(write(tmp_path, "\ufeff" + GOOD))
    assert table.feature_names == ["x1", "x2"]
    assert read_header(write(tmp_path, "\ufeffé,b\n1,2\n", "bom.csv")) == ["é", "b"]


def test_trailing_blank_lines_and_crlf_are_ignored(tmp_path: Path) -> None:
    table = load_csv(write(tmp_path, "x,y\r\n1,2\r\n3,4\r\n\r\n   \n\n"))
    np.testing.assert_array_equal(table.x, [[1], [3]])
    np.testing.assert_array_equal(table.y, [2, 4])


def test_values_round_trip_exactly(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    values = rng.normal(size=(50, 3)) * 10.0 ** rng.integers(-300, 300, size=(50, 3))
    values[0] = [-0.0, 5e-324, 1.7976931348623157e308]
    lines = ["a,b,c"] + [",".join(repr(float(v)) for v in row) for row in values]
    table = load_csv(write(tmp_path, "\n".join(lines) + "\n"))
    assert table.x.tobytes() == np.ascontiguousarray(values[:, :2]).tobytes()
    assert table.y.tobytes() == np.ascontiguousarray(values[:, 2]).tobytes()


def test_number_formats_python_accepts(tmp_path: Path) -> None:
    table = load_csv(write(tmp_path, "x,y\n1e3,+.5\n-2.,1E-2\n"))
    np.testing.assert_array_equal(table.x, [[1000.0], [-2.0]])
    np.testing.assert_array_equal(table.y, [0.5, 0.01])


def test_quoted_cells_and_names_load(tmp_path: Path) -> None:
    table = load_csv(write(tmp_path, '"x, cm","y"\n"1.5",2\n3,"4"\n'))
    assert table.feature_names == ["x, cm"]
    np.testing.assert_array_equal(table.x, [[1.5], [3.0]])
    np.testing.assert_array_equal(table.y, [2.0, 4.0])


def test_unused_text_column_is_allowed(tmp_path: Path) -> None:
    path = write(tmp_path, "name,x,y\nalpha,1,2\nbeta,3,4\n")
    table = load_csv(path, feature_columns=["x"])
    np.testing.assert_array_equal(table.x, [[1], [3]])
    np.testing.assert_array_equal(table.y, [2, 4])


@pytest.mark.parametrize("sep", [";", "\t"])
def test_semicolon_and_tab_separated_files(tmp_path: Path, sep: str) -> None:
    text = f"x1{sep}x2{sep}y\n1.5{sep}2{sep}3\n4{sep}5{sep}6\n"
    table = load_csv(write(tmp_path, text))
    assert table.feature_names == ["x1", "x2"]
    np.testing.assert_array_equal(table.x, [[1.5, 2], [4, 5]])


def test_a_semicolon_in_a_tab_separated_header_is_part_of_a_name(tmp_path: Path) -> None:
    # Found by fuzzing: one tab and one ';' in the header; the data row has only the tab.
    path = write(tmp_path, "a;b\ty\n1\t2\n3\t4\n")
    table = load_csv(path)
    assert table.feature_names == ["a;b"] and table.target_name == "y"
    np.testing.assert_array_equal(table.y, [2, 4])


def read_all_slowly(*args: object, **kwargs: object) -> tuple[list[np.ndarray], int]:
    """A stand-in for read_rows that reads nothing: the slow path reads every row."""
    return [], 0


def fast_parse(body: str, delimiter: str, n_cols: int, cols: list[int], chunk: int) -> tuple:
    """read_rows over body's UTF-8 bytes, as load_csv calls it."""
    return csvpandas.read_rows(io.BytesIO(body.encode()), delimiter, n_cols, cols, None, chunk)


def test_slow_path_gives_the_same_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "a,b,y\n0.1,-2,3e5\n\n4,5.25,6\n")
    fast = load_csv(path)
    monkeypatch.setattr(csvdata, "read_rows", read_all_slowly)
    slow = load_csv(path)
    assert fast.x.tobytes() == slow.x.tobytes() and fast.y.tobytes() == slow.y.tobytes()


def test_small_chunks_give_the_same_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [f"{i * 0.5},{-i},{i**2}" for i in range(40)]
    text = "a,b,y\n" + "\n".join(rows[:20]) + "\n\n" + "\n".join(rows[20:])
    whole = load_csv(write(tmp_path, text))
    blocks, stop = fast_parse(text[6:], ",", 3, [0, 1, 2], chunk=10)
    assert stop is None and len(blocks) > 10
    fast = np.concatenate(blocks)
    assert fast.shape == (40, 3)
    monkeypatch.setattr(csvdata, "read_rows", read_all_slowly)
    monkeypatch.setattr(csvdata, "_SLOW_CHUNK_VALUES", 5)
    slow = load_csv(write(tmp_path, text))
    for table in (whole, slow):
        np.testing.assert_array_equal(table.x, fast[:, :2])
        np.testing.assert_array_equal(table.y, fast[:, 2])


def test_read_header_returns_names(tmp_path: Path) -> None:
    assert read_header(write(tmp_path, " a , b ,c\n1,2,3\n")) == ["a", "b", "c"]
    # A single column and a file without data rows are fine for choosing columns.
    assert read_header(write(tmp_path, "y\n", "one.csv")) == ["y"]


def test_read_header_reads_only_the_start_of_a_large_file(tmp_path: Path) -> None:
    row = "1.25,2.5,3.75\n"
    count = csvdata.HEADER_PREFIX_BYTES // len(row) + 100
    path = write(tmp_path, "a,b,c\n" + row * count + "\xff")
    assert read_header(path) == ["a", "b", "c"]


def test_data_error_is_a_user_input_value_error() -> None:
    assert issubclass(DataError, UserInputError) and issubclass(DataError, ValueError)


# ---------------------------------------------------------------- one test per bad file


def test_missing_file(tmp_path: Path) -> None:
    load_error(tmp_path / "nope.csv", "not found")
    with pytest.raises(DataError, match=r"nope\.csv"):
        read_header(tmp_path / "nope.csv")


def test_unreadable_path_is_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    load_error(folder, "folder")


def test_empty_file(tmp_path: Path) -> None:
    load_error(write(tmp_path, ""), "empty")
    with pytest.raises(DataError, match="empty"):
        read_header(write(tmp_path, "", "empty2.csv"))


def test_blank_lines_only_is_empty(tmp_path: Path) -> None:
    load_error(write(tmp_path, "\n  \r\n\t\n"), "empty")


def test_header_only(tmp_path: Path) -> None:
    load_error(write(tmp_path, "x1,x2,y\n\n\n"), "no data rows", "line 1")


def test_non_numeric_cell(tmp_path: Path) -> None:
    path = write(tmp_path, "x1,x2,y\n1,2,3\n4,abc,6\n")
    message = load_error(path, "line 3", "column 'x2'", "'abc' is not a number")
    assert message == f"{path}, line 3, column 'x2': 'abc' is not a number"


def test_missing_value(tmp_path: Path) -> None:
    load_error(write(tmp_path, "x1,x2,y\n1,2,3\n4,5,6\n7, ,9\n"), "line 4", "'x2'", "missing")


def test_missing_value_at_the_end_of_a_row(tmp_path: Path) -> None:
    load_error(write(tmp_path, "x1,x2,y\n1,2,\n4,5,6\n"), "line 2", "'y'", "missing")


def test_ragged_row_too_few_cells(tmp_path: Path) -> None:
    load_error(write(tmp_path, "x1,x2,y\n1,2,3\n4,5\n7,8,9\n"), "line 3", "expected 3", "got 2")


def test_ragged_row_too_many_cells(tmp_path: Path) -> None:
    load_error(write(tmp_path, "x1,x2,y\n1,2,3\n4,5,6,7\n"), "line 3", "expected 3", "got 4")


def test_every_row_ragged_the_same_way(tmp_path: Path) -> None:
    load_error(write(tmp_path, "x,y\n1,2,3\n4,5,6\n"), "line 2", "expected 2", "got 3")


def test_single_column(tmp_path: Path) -> None:
    load_error(write(tmp_path, "y\n1\n2\n3\n"), "only one column", "'y'", "feature")


def test_unknown_target_column_lists_available_names(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    load_error(path, "'z'", "target", "'x1', 'x2', 'y'", target_column="z")


def test_unknown_feature_column_lists_available_names(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    load_error(path, "'q'", "feature", "'x1', 'x2', 'y'", feature_columns=["x1", "q"])


def test_target_cannot_also_be_a_feature(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    load_error(path, "'x1'", "both", target_column="x1", feature_columns=["x1", "x2"])


def test_no_features_chosen(tmp_path: Path) -> None:
    load_error(write(tmp_path, GOOD), "no feature columns", feature_columns=[])


def test_feature_listed_twice(tmp_path: Path) -> None:
    load_error(write(tmp_path, GOOD), "'x1'", "twice", feature_columns=["x1", "x1"])


def test_duplicate_column_names(tmp_path: Path) -> None:
    path = write(tmp_path, "x,y,x\n1,2,3\n4,5,6\n")
    load_error(path, "line 1", "duplicate", "'x'", "columns 1 and 3")
    with pytest.raises(DataError, match="duplicate"):
        read_header(path)


def test_unnamed_column(tmp_path: Path) -> None:
    load_error(write(tmp_path, "x,,y\n1,2,3\n4,5,6\n"), "line 1", "column 2 has no name")


def test_missing_header_row(tmp_path: Path) -> None:
    load_error(write(tmp_path, "1,2,3\n4,5,6\n7,8,9\n"), "line 1", "header")


def test_nul_bytes_are_binary_junk(tmp_path: Path) -> None:
    path = write(tmp_path, b"x,y\n1,2\n3,\x004\n")
    load_error(path, "not a text CSV file", "NUL", "line 3")
    with pytest.raises(DataError, match="not a text CSV file"):
        read_header(path)


def test_invalid_utf8_is_binary_junk(tmp_path: Path) -> None:
    # 0x81 is neither UTF-8 here nor a Windows-1252 character.
    load_error(write(tmp_path, b"x,y\n1,2\n3,\x81\x8d4\n"), "not a text CSV file", "line 3")
    # Windows-1252 decodes 0x01 to a control character: binary, not a spreadsheet export.
    load_error(write(tmp_path, b"x,y\n1,\x01\xe9\n", "ctl.csv"), "not a text CSV file", "line 2")


def test_windows_1252_file_loads_with_its_accents(tmp_path: Path) -> None:
    path = write(tmp_path, "Größe;Preis (€)\n1.5;2\n3;4\n".encode("cp1252"))
    table = load_csv(path)
    assert table.feature_names == ["Größe"] and table.target_name == "Preis (€)"
    np.testing.assert_array_equal(table.y, [2, 4])


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_a_byte_order_mark_loads(tmp_path: Path, encoding: str) -> None:
    text = (
        "\ufeffé\tx2\ty\r\n1\t2\t3\r\n4\t5\t6\r\n"
        if encoding != "utf-16"
        else "é,x2,y\n1,2,3\n4,5,6\n"
    )
    path = write(tmp_path, text.encode(encoding))
    table = load_csv(path)
    assert table.feature_names == ["é", "x2"]
    np.testing.assert_array_equal(table.x, [[1, 2], [4, 5]])
    assert read_header(path) == ["é", "x2", "y"]


def test_read_header_of_a_large_utf16_file(tmp_path: Path) -> None:
    row = "1.25,2.5,3.75\n"
    count = csvdata.HEADER_PREFIX_BYTES // (2 * len(row)) + 101
    path = write(tmp_path, ("a,b,ü\n" + row * count).encode("utf-16") + b"\x00")
    assert read_header(path) == ["a", "b", "ü"]


def test_utf32_is_refused(tmp_path: Path) -> None:
    load_error(write(tmp_path, GOOD.encode("utf-32")), "not a text CSV file")


def test_names_with_commas_in_a_semicolon_file(tmp_path: Path) -> None:
    # Spreadsheets quote such names, or not; either way the rows tell the delimiter.
    for header in ('"price, EUR";qty;y', "price, EUR;qty;y"):
        table = load_csv(write(tmp_path, f"{header}\n1.5;2;3\n4;5;6\n"))
        assert table.feature_names == ["price, EUR", "qty"]
        np.testing.assert_array_equal(table.x, [[1.5, 2], [4, 5]])


@pytest.mark.parametrize("path", ["a\x00b.csv", "\ud800.csv"])
def test_impossible_file_names_are_data_errors(path: str) -> None:
    with pytest.raises(DataError, match="not a usable file name"):
        load_csv(path)
    with pytest.raises(DataError, match="not a usable file name"):
        read_header(path)


def test_random_binary_file(tmp_path: Path) -> None:
    junk = np.random.default_rng(3).integers(0, 256, size=4096, dtype=np.uint8).tobytes()
    load_error(write(tmp_path, junk), "not a text CSV file")


@pytest.mark.parametrize("cell", ["nan", "NaN", "inf", "-Infinity", "1e400"])
def test_non_finite_values(tmp_path: Path, cell: str) -> None:
    path = write(tmp_path, f"x,y\n1,2\n3,{cell}\n")
    load_error(path, "line 3", "column 'y'", f"'{cell}' is not a finite number")


@pytest.mark.parametrize(
    ("rows", "cell"),
    [
        (["true", "FALSE"], "true"),  # pandas reads a column of such words as 1 and 0
        (["+2E 60", "4"], "+2E 60"),  # and a '+' mantissa with a space after its E as 2e60
        (["5", "+7e\t0"], "+7e\t0"),
    ],
)
def test_cells_pandas_reads_as_numbers_and_float_does_not(
    tmp_path: Path, rows: list[str], cell: str
) -> None:
    text = "x,y\n" + "".join(f"{i},{value}\n" for i, value in enumerate(rows))
    line = 2 + rows.index(cell)
    load_error(write(tmp_path, text), f"line {line}, column 'y': {cell!r} is not a number")


@pytest.mark.parametrize("form", ["{:+.16e} ", " {:+.16e}", "{:+.16e}\t"])
def test_signed_cells_with_spaces_read_as_float_reads_them(tmp_path: Path, form: str) -> None:
    # pandas' C parser is one unit in the last place off for about one such cell in seven
    # ("+6.704947511530623e-174 "): found by fuzzing with random seeds.
    rng = np.random.default_rng(3)
    values = rng.uniform(-1, 1, 2000) * 10.0 ** rng.integers(-300, 300, 2000)
    cells = [form.format(v) for v in values]
    path = write(tmp_path, "x,y\n" + "".join(f"{c},{i}\n" for i, c in enumerate(cells)))
    data = load_csv(path, target_column="y")
    assert [v.hex() for v in data.x[:, 0]] == [float(c).hex() for c in cells]


def test_fewer_than_two_data_rows(tmp_path: Path) -> None:
    load_error(write(tmp_path, "x,y\n1,2\n\n"), "only 1 data row", "at least 2")


def test_csv_module_error_becomes_data_error(tmp_path: Path) -> None:
    # A cell above csv's field size limit (128 KiB) makes the csv module itself fail.
    load_error(write(tmp_path, 'x,y\n1,2\n3,"' + "9" * 200_000 + '"\n'), "line 3")


def test_first_line_too_long_for_read_header(tmp_path: Path) -> None:
    path = write(tmp_path, "a" * (csvdata.HEADER_PREFIX_BYTES + 10))
    with pytest.raises(DataError, match="first line"):
        read_header(path)


def test_line_numbers_count_blank_lines_crlf_and_multiline_header(tmp_path: Path) -> None:
    text = '\r\n"x\r\nwide",y\r\n1,2\r\n\r\n3,4\r\n5,oops\r\n'
    load_error(write(tmp_path, text), "line 7", "column 'y'", "'oops'")


def test_long_junk_cell_is_shortened_in_the_message(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, "x,y\n1,2\n3," + "z" * 5000 + "\n"), "line 3")
    assert len(message) < 200


# ---------------------------------------------------------------- properties

CELL_JUNK = st.sampled_from(
    ["", " ", "abc", "nan", "inf", "-inf", "1e400", '"1"', '"', "1_0", "0x10", "1,2", "\t", "#"]
)
FINITE = st.floats(allow_nan=False, allow_infinity=False)


@st.composite
def valid_csv(draw: st.DrawFn) -> tuple[list[str], list[list[str]]]:
    """A valid table as header names and rows of cell text."""
    n_cols = draw(st.integers(2, 4))
    n_rows = draw(st.integers(2, 5))
    names = [f"c{i}" for i in range(n_cols)]
    rows = [[repr(draw(FINITE)) for _ in range(n_cols)] for _ in range(n_rows)]
    return names, rows


@st.composite
def mangled_csv(draw: st.DrawFn) -> bytes:
    """A valid CSV after a few random insertions, junk cells, truncations and deletions."""
    names, rows = draw(valid_csv())
    lines = [list(names), *[list(row) for row in rows]]
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["junk", "text", "truncate", "extend", "drop", "blank"]))
        i = draw(st.integers(0, len(lines) - 1))
        if kind in ("junk", "text") and lines[i]:
            j = draw(st.integers(0, len(lines[i]) - 1))
            lines[i][j] = draw(CELL_JUNK if kind == "junk" else st.text(max_size=5))
        elif kind == "truncate":
            lines[i] = lines[i][: draw(st.integers(0, max(0, len(lines[i]) - 1)))]
        elif kind == "extend":
            lines[i].append(draw(CELL_JUNK | st.just("1")))
        elif kind == "drop" and len(lines) > 1:
            del lines[i]
        elif kind == "blank":
            lines.insert(i, [])
    data = "\n".join(",".join(line) for line in lines).encode("utf-8")
    if draw(st.booleans()):
        data += b"\n"
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at:]
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return data


@settings(max_examples=100, deadline=None)
@given(data=mangled_csv(), choose=st.booleans())
def test_mangled_files_load_or_raise_data_error(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, choose: bool
) -> None:
    path = tmp_path_factory.mktemp("mangled") / "data.csv"
    path.write_bytes(data)
    kwargs = {"target_column": "c0", "feature_columns": ["c1"]} if choose else {}
    try:
        table = load_csv(path, **kwargs)  # type: ignore[arg-type]
    except DataError as e:
        assert str(path) in str(e)
        return
    n_rows = table.y.shape[0]
    assert n_rows >= 2
    assert table.x.shape == (n_rows, len(table.feature_names))
    assert table.x.dtype == np.float64 and table.x.flags.c_contiguous
    assert np.isfinite(table.x).all() and np.isfinite(table.y).all()
    assert table.target_name not in table.feature_names


NUMBER = st.builds(
    lambda pad, value, end: pad + repr(value) + end,
    st.sampled_from(["", " ", "\t", "\xa0", "+"]),
    st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from([0.0, 1.0, -2.5]),
    st.sampled_from(["", " ", "\t"]),
)
# Cells pandas reads as numbers and float() does not.
PANDAS_ONLY = ["TRUE", "false", "+2E 60", " +7e\t0", "+8E\x0c3"]
ODD_CELL = st.sampled_from(
    ["", " ", "\t", "nan", "inf", "1e400", "x", '"5"', '"', "1_0", "٣", "\r", "\x0b", *PANDAS_ONLY]
)
LINE_END = st.sampled_from(["\n", "\n", "\r\n", "\r", "\n\n", " \n"])


@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    delimiter=st.sampled_from([",", ";", "\t"]),
    n_cols=st.integers(1, 3),
    used=st.integers(1, 7),
)
def test_fast_path_agrees_with_slow_path(
    data: st.DataObject, delimiter: str, n_cols: int, used: int
) -> None:
    # Whatever pandas accepts, the csv-based reader accepts with identical values.
    # Mostly well-formed lines of numbers, so both outcomes of the fast path are exercised.
    parts = []
    for _ in range(data.draw(st.integers(0, 5))):
        width = data.draw(st.sampled_from([n_cols, n_cols, n_cols, 0, n_cols - 1, n_cols + 1]))
        cells = [
            data.draw(ODD_CELL if data.draw(st.integers(0, 9)) == 0 else NUMBER)
            for _ in range(width)
        ]
        parts.append(delimiter.join(cells) + data.draw(LINE_END))
    body = "".join(parts)
    cols = [j for j in range(n_cols) if used >> j & 1] or [0]
    names = [f"c{j}" for j in range(n_cols)]
    # Tiny chunks too, so files split across pandas calls are covered.
    chunk = data.draw(st.sampled_from([1 << 22, 1, 7, 20]))
    blocks, stop = fast_parse(body, delimiter, n_cols, cols, chunk)

    def slow(start: int) -> np.ndarray:
        line = 2 + csvdata._count_lines(body, 0, start)
        return csvdata._parse_slow(body, start, delimiter, names, cols, line, "f.csv")

    def outcome(read: Callable[[], list[np.ndarray]]) -> bytes | str:
        try:
            return np.concatenate([np.empty((0, len(cols))), *read()]).tobytes()
        except DataError as e:
            return str(e)

    # load_csv's way (pandas' chunks, the slow path from the first it refused) and the slow
    # path alone: the same values to the bit, or the same message.
    both = outcome(lambda: [*blocks, *([slow(stop)] if stop is not None else [])])
    assert both == outcome(lambda: [slow(0)])


def test_progress_rises_to_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    n = 400_000  # ~5 MB: a big file (its header read first), pandas reading it in chunks
    rows = "\n".join(f"{i},{2 * i + 1}" for i in range(n))
    path.write_text("x,y\n" + rows + "\n", encoding="utf-8")
    seen: list[float] = []
    table = load_csv(path, "y", ["x"], progress=seen.append)
    assert table.x.shape == (n, 1)
    assert len(seen) >= 4 and seen == sorted(seen) and seen[-1] == 1.0


def test_progress_is_heard_on_the_slow_path_too(tmp_path: Path) -> None:
    path = tmp_path / "quoted.csv"
    n = 200_000  # quoted cells send the parse down the csv-module path; ~3 MB
    rows = "\n".join(f'"{i}","{2 * i + 1}"' for i in range(n))
    path.write_text("x,y\n" + rows + "\n", encoding="utf-8")
    seen: list[float] = []
    table = load_csv(path, "y", ["x"], progress=seen.append)
    assert table.x.shape == (n, 1) and table.y[-1] == 2 * (n - 1) + 1
    assert len(seen) >= 4 and seen == sorted(seen) and seen[-1] == 1.0


def test_a_line_break_in_the_file_name_stays_escaped_in_the_message(tmp_path: Path) -> None:
    # Found by fuzzing the command line: --set data.csv_path=<newline> printed two lines.
    with pytest.raises(DataError) as info:
        load_csv(tmp_path / "a\nb.csv")
    assert "\n" not in str(info.value) and "a\\nb.csv: file not found" in str(info.value)
