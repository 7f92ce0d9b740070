"""Output files: the only place that writes what a user opens (CSV, Parquet, XLSX, JSON).

Writes go to a temporary name first and are renamed into place, so a crashed run never leaves
a half-written file behind. CSV and XLSX cells of text columns that a spreadsheet would run as a
formula (starting with = + - @, a tab or a carriage return) are prefixed with ``'`` (OWASP's
CSV-injection defence); numbers, and text that is just a number such as "-5", stay as they are.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from cx_text import xlsx


def _atomic(path: Path, write: Callable[[Path], object]) -> Path:
    """`write` a temporary sibling, flush it to disk, then rename it over `path`.

    A reader (or a crash at any point) sees either the previous file or the complete new one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)?(?:[eE][+-]?\d+)?")


def _inert_cell(value: object) -> object:
    formula = isinstance(value, str) and value.startswith(_FORMULA_START)
    return "'" + str(value) if formula and not _PLAIN_NUMBER.fullmatch(str(value)) else value


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells cannot run as spreadsheet formulas (numeric columns untouched)."""
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if series.dtype == object:
            out[column] = series.map(_inert_cell, na_action="ignore")
        elif pd.api.types.is_string_dtype(series):  # only the cells that start like a formula
            starts = series.str.startswith(_FORMULA_START).fillna(False).to_numpy(dtype=bool)
            if starts.any():
                out.loc[starts, column] = series[starts].map(_inert_cell, na_action="ignore")
    return out


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """UTF-8 with BOM so that Excel opens Cyrillic text correctly; formulas neutralised."""
    safe = neutralise_formulas(frame)
    return _atomic(path, lambda p: safe.to_csv(p, index=False, encoding="utf-8-sig"))


def write_parquet(frame: pd.DataFrame, path: Path) -> Path:
    return _atomic(path, lambda p: frame.to_parquet(p, index=False))


def write_xlsx(frame: pd.DataFrame, path: Path, sheet: str = "themes") -> Path:
    """One sheet; formulas neutralised (a spreadsheet would run '=...' text as a formula)."""
    safe = neutralise_formulas(frame)

    return _atomic(path, lambda p: xlsx.write({sheet: _excel_safe(safe)}, p))


# sheets of a workbook hold at most this many rows: larger tables stay in their CSV and Parquet
# files (Excel's own limit is 1,048,576, and openpyxl writes a million rows in minutes)
WORKBOOK_MAX_ROWS = 100_000


def write_workbook(tables: dict[str, pd.DataFrame], path: Path) -> Path:
    """Every table as its own sheet (formulas neutralised); a first sheet lists the tables and
    names those left out for their size."""
    shown = {name: frame for name, frame in tables.items() if len(frame) <= WORKBOOK_MAX_ROWS}
    contents = pd.DataFrame({
        "sheet": list(tables),
        "rows": [len(frame) for frame in tables.values()],
        "note": ["" if name in shown else f"over {WORKBOOK_MAX_ROWS:,} rows: see the CSV/Parquet"
                 for name in tables],
    })  # fmt: skip

    sheets = {name: _excel_safe(neutralise_formulas(frame))
              for name, frame in {"contents": contents, **shown}.items()}  # fmt: skip
    # cx_text.xlsx builds each column's cells at once: 5x openpyxl's write-only mode
    # (bench/workbook.py), the same cells read back
    return _atomic(path, lambda p: xlsx.write(sheets, p))


def _excel_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Excel keeps no time zones: aware timestamps become naive UTC."""
    out = frame.copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.DatetimeTZDtype):
            out[column] = out[column].dt.tz_convert("UTC").dt.tz_localize(None)
    return out


def write_json(data: Any, path: Path) -> Path:
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    return _atomic(path, lambda p: p.write_text(text + "\n", encoding="utf-8"))


def write_text(text: str, path: Path) -> Path:
    return _atomic(path, lambda p: p.write_text(text, encoding="utf-8"))


def write_table(frame: pd.DataFrame, out_dir: Path, stem: str, formats: tuple[str, ...]) -> None:
    """Write `frame` as out_dir/stem.<fmt> for each of csv / parquet / xlsx."""
    writers = {"csv": write_csv, "parquet": write_parquet, "xlsx": write_xlsx}
    for fmt in formats:
        writers[fmt](frame, out_dir / f"{stem}.{fmt}")


def markdown_table(frame: pd.DataFrame, floatfmt: str = ".3f") -> str:
    """A GitHub Markdown table of `frame` (pipes in cells escaped): the bench/ scripts print
    the README's measured tables with it."""

    def cell(value: object) -> str:
        if isinstance(value, float):
            return "" if pd.isna(value) else format(value, floatfmt)
        return str(value).replace("|", "\\|").replace("\n", " ")

    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def section_markdown(title: str, head: list[str], rows: list[list[str]], empty: str) -> str:
    """A report section as Markdown: '## title' and a table, or the `empty` sentence; every
    text Markdown-escaped (`trends.markdown_text`)."""
    from cx_text.trends import markdown_text

    lines = [f"## {markdown_text(title)}", ""]
    if not rows:
        return "\n".join([*lines, markdown_text(empty), ""])
    lines += ["| " + " | ".join(markdown_text(h) for h in head) + " |", "|---" * len(head) + "|"]
    lines += ["| " + " | ".join(markdown_text(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def section_html(
    title: str, head: list[str], rows: list[list[str]], empty: str, css_class: str
) -> str:
    """The same section as an HTML fragment (<section> with <h2> and a table), every text
    escaped."""
    from html import escape

    start = f'<section class="{escape(css_class)}"><h2>{escape(title)}</h2>'
    if not rows:
        return f"{start}<p>{escape(empty)}</p></section>"
    cells = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"{start}<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table></section>"
