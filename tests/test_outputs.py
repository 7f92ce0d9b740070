"""Output writers: formulas in text cells are neutralised in CSV and XLSX, numbers stay numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from cx_text import outputs

CELLS = ['=HYPERLINK("http://evil.example","x")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)",
         "\tsneaky", "plain text", "-5", "+7", "3.5", None]  # fmt: skip
SAFE = ["'=HYPERLINK(\"http://evil.example\",\"x\")", "'+1+cmd|' /C calc'!A0", "'-2+3",
        "'@SUM(A1)", "'\tsneaky", "plain text", "-5", "+7", "3.5", None]  # fmt: skip


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "text": pd.array(CELLS, dtype="string"),
        "obj": pd.Series(CELLS, dtype=object),
        "impact": [-1.5, 2.0, -3.0, 0.0, -0.1, 1.0, -5.0, 7.0, 3.5, None],
        "count": pd.array([-1, 2, 3, 4, 5, 6, 7, 8, 9, None], dtype="Int64"),
    })  # fmt: skip


def test_neutralise_formulas_prefixes_only_formula_text() -> None:
    frame = _frame()
    safe = outputs.neutralise_formulas(frame)
    for column in ("text", "obj"):
        values = [None if pd.isna(v) else v for v in safe[column]]
        assert values == SAFE
    pd.testing.assert_series_equal(safe["impact"], frame["impact"])
    pd.testing.assert_series_equal(safe["count"], frame["count"])
    assert frame["text"].iloc[0].startswith("=")  # input not mutated


def test_neutralise_formulas_leaves_other_objects_and_text_less_columns() -> None:
    frame = pd.DataFrame({
        "mixed": pd.Series(["=SUM(A1)", 3, ["=x"], None, "-2", "@me"], dtype=object),
        "empty": pd.Series([None, np.nan, None, None, None, None], dtype=object),
        "ints": pd.Series([1, 2, 3, 4, 5, 6], dtype=object),
    })  # fmt: skip
    safe = outputs.neutralise_formulas(frame)
    assert safe["mixed"].tolist()[:3] == ["'=SUM(A1)", 3, ["=x"]]
    assert safe["mixed"].tolist()[4:] == ["-2", "'@me"]  # a plain number keeps its sign
    assert safe["empty"].isna().all() and safe["ints"].tolist() == [1, 2, 3, 4, 5, 6]


def test_csv_and_xlsx_hold_no_live_formula(tmp_path: Path) -> None:
    outputs.write_table(_frame(), tmp_path, "t", ("csv", "xlsx"))
    back = pd.read_csv(tmp_path / "t.csv", encoding="utf-8-sig", keep_default_na=False)
    assert back["text"].tolist()[:9] == SAFE[:9]
    assert back["impact"].tolist()[:3] == ["-1.5", "2.0", "-3.0"]  # numbers, no prefix
    assert back["count"].tolist()[:2] == ["-1", "2"]
    sheet = openpyxl.load_workbook(tmp_path / "t.xlsx").active
    assert sheet is not None
    cells = [c for row in sheet.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]  # no formula anywhere
    assert sheet["A2"].value == SAFE[0]
    assert sheet["C2"].value == -1.5 and sheet["C2"].data_type == "n"


def test_prefect_summary_artifact_escapes_labels(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Markdown artifact shows a customer-made label as text, not as a link or an image."""
    from markdown_it import MarkdownIt

    import pipelines.common as common

    published: dict[str, str] = {}
    monkeypatch.setattr(common, "create_table_artifact", lambda **kwargs: None)
    monkeypatch.setattr(common, "create_markdown_artifact",
                        lambda key, markdown: published.update({key: markdown}))  # fmt: skip
    label = "[refund](http://evil.example) <img src=x onerror=alert(1)> | pipe"
    top = [{"rank": 1, "theme_id": "T001", "label": label, "nps_impact": -3.2, "status": "new"}]
    record = {"run_id": "r1", "counts": {"read": 1}, "nps": {}, "top_themes": top}
    common.publish(record, "nightly")
    rendered = MarkdownIt("commonmark").enable("table").render(published["cx-text-nightly-summary"])
    assert "http://evil.example" in rendered and "<a " not in rendered and "<img" not in rendered
    assert rendered.count("<td>") == 7  # the pipe in the label did not add a column


def test_workbook_holds_every_table_without_live_formulas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outputs, "WORKBOOK_MAX_ROWS", 3)
    tables = {
        "themes": pd.DataFrame({"label": ['=HYPERLINK("http://x")', "-5"], "n": [1, 2]}),
        "weekly": pd.DataFrame({"week": pd.to_datetime(["2026-11-16"]).tz_localize("UTC")}),
        "big": pd.DataFrame({"n": range(4)}),
    }
    path = outputs.write_workbook(tables, tmp_path / "results.xlsx")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["contents", "themes", "weekly"]  # "big" is over the cap
    assert book["themes"]["A2"].value == '\'=HYPERLINK("http://x")'
    assert book["themes"]["A3"].value == "-5" and book["themes"]["B3"].value == 2
    contents = pd.read_excel(path, sheet_name="contents")
    assert contents["rows"].tolist() == [2, 1, 4] and "over 3 rows" in contents["note"].iloc[2]
