"""Dates: find an input's date column, tell day-first from month-first, parse to naive UTC.

Pure functions over Series; `ingest.to_verbatims` calls them.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd
from pandas.tseries.api import guess_datetime_format

# name patterns in order of preference: a `*date*` column before `created*` (and the other
# words a tool names when an answer or a ticket came in with), before `*time*`; "date" as a word
# start ("updated" holds it too)
_DATE_NAMES = (
    re.compile(r"(?:^|[^a-z])date|дата"),
    re.compile(
        r"^(?:created|requested|submitted|received|opened|sent)|^(?:создан|получен|отправлен)"
    ),
    re.compile(r"time|время"),
)
# a record's later life, not when the customer wrote: ranked with names that say nothing
_LATER = re.compile(r"updat|modif|chang|clos|solv|resolv|last|измен|обновл|закрыт|решен|решён")
# Excel's day numbers (a date cell exported as its number, or read without its format):
# days since 1899-12-30, 1970 to 2099, an optional fraction for the time of day
_SERIAL = re.compile(r"^\s*\d{5}(?:\.\d+)?\s*$")
_SERIAL_RANGE = (25_569, 73_050)
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
# Russian month names and their usual abbreviations, nominative or genitive ("30 ноября 2026 г.")
_RU_MONTHS = (
    ("январ[ьяе]|янв", "January"), ("феврал[ьяе]|фев", "February"), ("марта?|мар", "March"),
    ("апрел[ьяе]|апр", "April"), ("ма[йяе]", "May"), ("июн[ьяе]|июн", "June"),
    ("июл[ьяе]|июл", "July"), ("августа?|авг", "August"), ("сентябр[ьяе]|сент?", "September"),
    ("октябр[ьяе]|окт", "October"), ("ноябр[ьяе]|нояб?", "November"),
    ("декабр[ьяе]|дек", "December"),
)  # fmt: skip
_RU_DATE = re.compile(
    r"(\d{1,2})\s+(" + "|".join(f"(?:{p})" for p, _ in _RU_MONTHS) + r")\.?\s+(\d{4})(?:\s*г\.?)?",
    re.IGNORECASE,
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
    # "ambiguous" (no value tells: month-first), "conflicting" (some values are day-first only,
    # others month-first only: month-first), "not needed" (ISO or named months only)
    decided_by: str
    # values that can only be read day-first (13/04/2018) and only month-first (04/13/2018)
    day_first_only: int = 0
    month_first_only: int = 0

    @property
    def name(self) -> str:
        return "day-first" if self.dayfirst else "month-first"


def name_rank(column: str) -> int:
    """0 for `*date*` / `дата`, 1 for `created*` (`requested*`, `submitted*`...), 2 for
    `*time*` / `время`, 3 for other names and for a record's later dates (`updated*`,
    `closed*`, `Date Modified`...)."""
    name = column.strip().lower()
    if _LATER.search(name):
        return len(_DATE_NAMES)
    return next((i for i, p in enumerate(_DATE_NAMES) if p.search(name)), len(_DATE_NAMES))


def looks_like_dates(values: pd.Series, serials: bool = False) -> bool:
    """True when most non-empty values (a sample) have a date's shape and parse as dates;
    with `serials`, Excel's day numbers (`45000.5`) count as dates too."""
    sample = english_months(values[values.str.strip() != ""].head(SAMPLE))
    shaped = sample.str.match(_DATE_SHAPE)
    if serials:
        shaped |= _serials(sample).notna()
    if sample.empty or shaped.mean() < MOST:
        return False
    return bool(parse_dates(sample.str.strip(), dayfirst=True).notna().mean() >= MOST)


def find_date_column(columns: Mapping[str, pd.Series]) -> str | None:
    """The date column among `columns` (name -> values): by name first, then by content.

    Every candidate must hold dates (`looks_like_dates`), so `response_time_minutes` or a
    numeric `timestamp` is never taken; a `*date*` or `created*` column may hold Excel's day
    numbers (`45000.5`), no other (an amount is not a date). Among those, `*date*` names beat
    `created*` beat `*time*` beat any other name; ties go to the leftmost column.
    """
    ranked = sorted(columns, key=name_rank)  # stable: column order within a rank
    return next((c for c in ranked if looks_like_dates(columns[c], name_rank(c) < 2)), None)


def english_months(values: pd.Series) -> pd.Series:
    """`values` with Russian month names written as English ones ("30 ноября 2026 г." ->
    "30 November 2026"), which the date parser reads."""
    if not values.str.contains("[а-яА-Я]", regex=True).any():
        return values
    months = [(re.compile(f"^(?:{p})$", re.IGNORECASE), name) for p, name in _RU_MONTHS]

    def english(match: re.Match[str]) -> str:
        name = next(n for pattern, n in months if pattern.match(match.group(2)))
        return f"{match.group(1)} {name} {match.group(3)}"

    return values.str.replace(_RU_DATE, english, regex=True)


def _serials(values: pd.Series) -> pd.Series:
    """Excel day numbers in `values` as timestamps (NaT for anything else)."""
    numbers = pd.to_numeric(values.where(values.str.match(_SERIAL).fillna(False)), errors="coerce")
    numbers = numbers.where(numbers.between(*_SERIAL_RANGE))
    return _EXCEL_EPOCH + pd.to_timedelta(numbers.round(6), unit="D")


def infer_order(values: pd.Series, setting: bool | None) -> DateOrder:
    """Day-first or month-first for the numeric dates in `values`.

    A value whose first field is above 12 (`13/04/2018`) proves day-first, one whose second
    field is above 12 (`04/13/2018`) month-first; with neither the values do not tell and
    month-first is used; with both (two exports' dates in one column) month-first is used too,
    the day-first-only values read as the only date they can be, and the note counts both.
    `setting` (True / False) overrides the values.
    """
    if setting is not None:
        return DateOrder(setting, "setting")
    fields = values.str.extract(_DAY_MONTH).dropna().astype(int)
    if fields.empty:
        return DateOrder(False, "not needed")
    day_only, month_only = int((fields[0] > 12).sum()), int((fields[1] > 12).sum())
    if bool(day_only) != bool(month_only):
        return DateOrder(bool(day_only), "values", day_only, month_only)
    return DateOrder(False, "conflicting" if day_only else "ambiguous", day_only, month_only)


_YEAR_FIRST = re.compile(r"\s*\d{4}-\d{1,2}-\d{1,2}(?!\d)")


def _to_datetime(values: pd.Series, dayfirst: bool) -> pd.Series:
    """`pd.to_datetime(format="mixed")`, which reads value by value (0.4 s for the airline
    export's 14,640 dates), sped up: when pandas can guess the first value's format, that one
    format reads every value written like it at C speed, and only the rest are read value by
    value. A value the guessed format reads, "mixed" reads alike (both with `dayfirst`): a
    guess against `dayfirst` (26/03/2018 told month-first gives day-first) is not used."""
    filled = values[values.str.strip().astype(bool).fillna(False)]
    with warnings.catch_warnings():  # pandas warns of a day-first guess; `_against` handles it
        warnings.simplefilter("ignore", UserWarning)
        guessed = guess_datetime_format(filled.iloc[0], dayfirst=dayfirst) if len(filled) else None
    if guessed is None or _against(guessed, dayfirst):
        return pd.to_datetime(values, errors="coerce", format="mixed", dayfirst=dayfirst,
                              utc=True)  # fmt: skip
    parsed = pd.to_datetime(values, errors="coerce", format=guessed, utc=True)
    rest = parsed.isna() & values.index.isin(filled.index)
    if rest.any():
        parsed[rest] = pd.to_datetime(values[rest], errors="coerce", format="mixed",
                                      dayfirst=dayfirst, utc=True)  # fmt: skip
    return parsed


def _against(fmt: str, dayfirst: bool) -> bool:
    """Whether a format puts day and month in the other order than `dayfirst`."""
    if "%d" not in fmt or "%m" not in fmt:
        return False
    return (fmt.index("%d") < fmt.index("%m")) != dayfirst


def parse_dates(values: pd.Series, dayfirst: bool = False) -> pd.Series:
    """Parse mixed date strings to naive UTC; dotted dates (23.11.2026) are read day-first,
    year-first ones (2026-09-01) year-month-day whatever `dayfirst` says,
    Russian month names as their English ones, Excel's day numbers (`45000.5`, 1970-2099) as
    the day and time they stand for."""
    values = english_months(values)
    serial = _serials(values)
    dotted = values.str.match(_DOTTED).fillna(False)
    # year first is year-month-day whatever the order: "mixed" with dayfirst read 2026-09-01 as
    # 9 January
    iso = values.str.match(_YEAR_FIRST).fillna(False) & ~dotted
    parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    rest = ~dotted & ~iso & serial.isna()
    for mask, day_first in ((dotted, True), (iso & serial.isna(), False), (rest, dayfirst)):
        if mask.any():
            parsed[mask] = _to_datetime(values[mask], day_first)
    if serial.notna().any():
        parsed[serial.notna()] = serial[serial.notna()].dt.tz_localize("UTC")
    return parsed.dt.tz_localize(None).astype("datetime64[ns]")
