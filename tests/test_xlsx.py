"""cx_text.xlsx: the workbook writer gives the cells openpyxl gives, and a valid package."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pytest

from cx_text import outputs, xlsx


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "theme_id": ["T001", "T002", "T003"],
            "label": ['Refund & <money> "back"', "Курьер опоздал \ufffd", "ok 😀\ttab\nline"],
            "n": [12, 0, -3],
            "big": [1234567890123, 2, 3],
            "nps": [-39.5, np.nan, 1 / 3],
            "inf": [np.inf, -np.inf, 2.5],
            "flag": [True, False, True],
            "maybe": pd.array([1, None, 3], dtype="Int64"),
            "when": pd.to_datetime(["2026-11-02 10:30:00", None, "2015-02-24 11:35:52"]),
            "aware": pd.to_datetime(
                ["2026-11-02 10:30:00+03:00", "2026-11-03 00:00:00+00:00", None], utc=True
            ),
            "day": [dt.date(2026, 1, 5), None, dt.date(1999, 12, 31)],
            "mixed": ["text", 7, None],
            "role": pd.Categorical(["detractor", "promoter", "detractor"]),
            "control": ["bell\x07 and nul\x00 gone", "=1+2", "-5"],
        }
    )


def test_cells_read_back_as_written(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    xlsx.write({"themes": outputs._excel_safe(_frame())}, path)
    sheet = openpyxl.load_workbook(path).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == tuple(_frame().columns)
    first, second, third = rows[1:]
    head = dict(zip(rows[0], first, strict=True))
    assert head["label"] == 'Refund & <money> "back"'
    assert dict(zip(rows[0], second, strict=True))["label"] == "Курьер опоздал \ufffd"
    assert dict(zip(rows[0], third, strict=True))["label"] == "ok 😀\ttab\nline"
    assert (head["n"], head["big"], head["nps"], head["flag"]) == (12, 1234567890123, -39.5, True)
    assert head["inf"] is None and dict(zip(rows[0], second, strict=True))["nps"] is None
    assert head["when"] == dt.datetime(2026, 11, 2, 10, 30)
    assert head["aware"] == dt.datetime(2026, 11, 2, 7, 30)  # UTC, naive
    assert head["day"] == dt.datetime(2026, 1, 5)
    assert sheet["I2"].number_format == "yyyy\\-mm\\-dd\\ hh:mm:ss"
    assert (head["mixed"], dict(zip(rows[0], second, strict=True))["mixed"]) == ("text", 7)
    assert dict(zip(rows[0], second, strict=True))["maybe"] is None
    assert head["role"] == "detractor"
    assert head["control"] == "bell and nul gone"


def test_workbook_equals_what_openpyxl_writes(tmp_path: Path) -> None:
    """Every sheet of results.xlsx read back by pandas equals the same tables written by
    openpyxl's write-only mode (what cx-text used before), values and types."""
    frame = _frame().drop(columns=["control", "inf"])  # openpyxl refuses control characters
    tables = {"themes": frame, "empty": frame.iloc[:0], "numbers": pd.DataFrame({"x": [1.5]})}
    ours = outputs.write_workbook(tables, tmp_path / "ours.xlsx")
    book = openpyxl.Workbook(write_only=True)
    for name, table in tables.items():  # the contents sheet is compared by name only
        sheet = book.create_sheet(name)
        safe = outputs._excel_safe(outputs.neutralise_formulas(table))
        sheet.append([str(c) for c in safe.columns])
        for row in safe.astype(object).where(safe.notna(), None).itertuples(False, None):
            sheet.append(row)
    book.save(tmp_path / "openpyxl.xlsx")
    got = pd.read_excel(ours, sheet_name=None)
    expected = pd.read_excel(tmp_path / "openpyxl.xlsx", sheet_name=None)
    assert list(got) == ["contents", "themes", "empty", "numbers"]
    for name, table in expected.items():
        pd.testing.assert_frame_equal(got[name], table)


def test_package_is_well_formed_xml_with_a_reference_on_every_cell(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    xlsx.write({"a": _frame(), "b": pd.DataFrame({"x": range(30)})}, path)
    with zipfile.ZipFile(path) as package:
        names = set(package.namelist())
        assert {"[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/styles.xml",
                "xl/_rels/workbook.xml.rels", "xl/worksheets/sheet1.xml",
                "xl/worksheets/sheet2.xml"} <= names  # fmt: skip
        for name in names:
            root = ElementTree.fromstring(package.read(name))  # raises on malformed XML
            cells = root.iter("{http://schemas.openxmlformats.org/spreadsheetml/2006/main}c")
            assert all(c.get("r") for c in cells)


def test_long_text_is_cut_to_excels_limit(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    xlsx.write({"t": pd.DataFrame({"text": ["x" * 40_000]})}, path)
    assert len(openpyxl.load_workbook(path).active["A2"].value) == xlsx.MAX_CELL_CHARS


@pytest.mark.parametrize(("index", "letter"), [(0, "A"), (25, "Z"), (26, "AA"), (701, "ZZ"),
                                               (702, "AAA")])  # fmt: skip
def test_column_letters(index: int, letter: str) -> None:
    assert xlsx.column_letter(index) == letter


def test_sheet_names_are_valid_and_distinct() -> None:
    names = xlsx.sheet_names(["a/b", "x" * 40, "x" * 35, "A/B", ""])
    assert names[0] == "a_b" and names[3] == "A_B~2"
    assert all(len(n) <= 31 for n in names) and names[1] != names[2]
    assert names[4] == "sheet"
    assert len({n.lower() for n in names}) == len(names)


@pytest.mark.parametrize("dtype", ["string", "str"])
def test_text_columns_built_in_arrow_give_each_values_own_cell(dtype: str) -> None:
    """Text columns (pandas' string dtypes) are built a column at a time in Arrow: the same XML
    as the per-value path, control characters dropped, escapes, the length cut, empty cells; a
    value Arrow cannot hold (a lone surrogate) falls back to the per-value path."""
    values = ['Refund & <money> "back"', "bell\x07 nul\x00 \ufffe gone", None, "", "Курьер 😀",
              "x" * (xlsx.MAX_CELL_CHARS + 10), "=1+2"]  # fmt: skip
    series = pd.Series(values, dtype=dtype)
    refs = [f"C{row}" for row in range(2, 2 + len(values))]
    cells = zip(refs, series.astype(object), strict=True)
    expected = [xlsx._value_cell(ref, v) for ref, v in cells]
    assert xlsx._column_cells(series, "C", 2).to_pylist() == expected
    assert expected[2] == "" and "&amp; &lt;money&gt;" in expected[0] and "\x07" not in expected[1]
    odd = pd.Series(["ok", "half \ud800 pair"], dtype="string[python]")
    assert xlsx._text_cells(odd, pa.array(["A2", "A3"])) is None
    assert xlsx._column_cells(odd, "A", 2)[0] == xlsx._value_cell("A2", "ok")


def test_numbers_are_written_to_read_back_as_the_same_floats() -> None:
    """Float cells: the shortest text that reads back as the same float, whole numbers with
    ".0" as Python writes them (a reader would otherwise make 12.0 an integer), non-finite
    values as empty cells."""
    values = np.array([12.0, -0.0, 1e-05, 1e20, 0.1, 1 / 3, -39.5, 5e-324, np.nan, np.inf])
    text = xlsx._number_text(values).to_pylist()
    assert text[:2] == ["12.0", "-0.0"] and text[-2:] == [None, None]
    for written, value in zip(text[:-2], values[:-2], strict=True):
        assert float(written) == value and any(c in written for c in ".e")
    cells = xlsx._column_cells(pd.Series([12.0, None, 2.5], dtype="Float64"), "B", 7)
    assert cells.to_pylist() == ['<c r="B7"><v>12.0</v></c>', "", '<c r="B9"><v>2.5</v></c>']


def test_rows_join_in_python_when_a_column_cannot_go_through_arrow() -> None:
    """A text column with a lone surrogate takes the per-value path; its rows are joined in
    Python and hold the same cells, in order, as the Arrow path gives the others."""
    frame = pd.DataFrame({"n": [1, 2], "odd": pd.Series(["ok", "half \ud800"], dtype=object)})
    rows = list(xlsx.sheet_xml(frame))[2:-1]
    assert rows[0] == '<row r="2"><c r="A2"><v>1</v></c>' + xlsx._value_cell("B2", "ok") + "</row>"
    assert rows[1].startswith('<row r="3"><c r="A3"><v>2</v></c><c r="B3"')
    same = list(xlsx.sheet_xml(frame.assign(odd=["ok", "fine"])))[2]
    assert same == rows[0]
