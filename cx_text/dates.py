"""Dates: find an input's date column, tell day-first from month-first, parse to naive UTC.

Pure functions over Series; `ingest.to_verbatims` calls them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

# name patterns in order of preference: a `*date*` column before `created*`, before `*time*`
_DATE_NAMES = (
    re.compile(r"date|дата"),
    re.compile(r"^created|^создан"),
    re.compile(r"time|время"),
)
_TIME = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[AaPp][Mm])?\s*(?:Z|[+-]\d{2}:?\d{2})?)?"
_DATE_SHAPE = re.compile(
    r"^\s*(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}"
    r"|\d{1,2} [^\W\d_]{3,}\.? \d{4}|[^\W\d_]{3,}\.? \d{1,2},? \d{4})" + _TIME + r"\s*$"
)
_DOTTED = re.compile(r"^\s*\d{1,2}\.\d{1,2}\.\d{2,4}")
# day and month of a numeric date with / or - (dotted dates are always day-first)
_DAY_MONTH = re.compile(r"^\s*(\d{1,2})[/-](\d{1,2})[/-]\d{2,4}")
SAMPLE = 500
MOST = 0.9  # share of a column's values that must be dates for it to count as a date column


@dataclass(frozen=True)
class DateOrder:
    """How numeric dates of one column are read, and what decided it."""

    dayfirst: bool
    # "setting" (--dayfirst / --monthfirst), "values" (a field above 12 proves it),
    # "ambiguous" (no value tells: month-first), "not needed" (ISO or named months only)
    decided_by: str

    @property
    def name(self) -> str:
        return "day-first" if self.dayfirst else "month-first"


def name_rank(column: str) -> int:
    """0 for `*date*` / `дата`, 1 for `created*`, 2 for `*time*` / `время`, 3 for other names."""
    name = column.strip().lower()
    return next((i for i, p in enumerate(_DATE_NAMES) if p.search(name)), len(_DATE_NAMES))


def looks_like_dates(values: pd.Series) -> bool:
    """True when most non-empty values (a sample) have a date's shape and parse as dates."""
    sample = values[values.str.strip() != ""].head(SAMPLE)
    if sample.empty or sample.str.match(_DATE_SHAPE).mean() < MOST:
        return False
    return bool(parse_dates(sample.str.strip(), dayfirst=True).notna().mean() >= MOST)


def find_date_column(columns: Mapping[str, pd.Series]) -> str | None:
    """The date column among `columns` (name -> values): by name first, then by content.

    Every candidate must hold dates (`looks_like_dates`), so `response_time_minutes` or a
    numeric `timestamp` is never taken. Among those, `*date*` names beat `created*` beat
    `*time*` beat any other name; ties go to the leftmost column.
    """
    ranked = sorted(columns, key=name_rank)  # stable: column order within a rank
    return next((c for c in ranked if looks_like_dates(columns[c])), None)


def infer_order(values: pd.Series, setting: bool | None) -> DateOrder:
    """Day-first or month-first for the numeric dates in `values`.

    A value whose first field is above 12 (`13/04/2018`) proves day-first, one whose second
    field is above 12 (`04/13/2018`) month-first; with neither (or both) the values do not
    tell and month-first is used. `setting` (True / False) overrides the values.
    """
    if setting is not None:
        return DateOrder(setting, "setting")
    fields = values.str.extract(_DAY_MONTH).dropna().astype(int)
    if fields.empty:
        return DateOrder(False, "not needed")
    first_big, second_big = bool((fields[0] > 12).any()), bool((fields[1] > 12).any())
    if first_big != second_big:
        return DateOrder(first_big, "values")
    return DateOrder(False, "ambiguous")


def parse_dates(values: pd.Series, dayfirst: bool = False) -> pd.Series:
    """Parse mixed date strings to naive UTC; dotted dates (23.11.2026) are read day-first."""
    dotted = values.str.match(_DOTTED).fillna(False)
    parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    for mask, day_first in ((dotted, True), (~dotted, dayfirst)):
        if mask.any():
            parsed[mask] = pd.to_datetime(
                values[mask], errors="coerce", format="mixed", dayfirst=day_first, utc=True
            )
    return parsed.dt.tz_localize(None).astype("datetime64[ns]")
