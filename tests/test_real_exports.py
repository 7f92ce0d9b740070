"""Real exports lose nothing: U+FFFD texts, UTF-16 exports, day-first dates, wide exports, inputs
without scores and columns named like the product's own. Every input is generated here, so every
count is known exactly.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from cx_text import dates, ingest, theming
from cx_text.cli import app
from cx_text.schemas import RESERVED_NAMES
from cx_text.settings import IngestSettings, load_settings
from tests.conftest import ROOT, THEME_CORPUS, HashingEmbedder
from tests.factories import read_and_clean

NOW = pd.Timestamp("2026-11-29 12:00:00")
TEXTS = [text for texts in THEME_CORPUS.values() for text in texts]  # 64 texts, 4 themes
FIRST = datetime(2018, 3, 26, 9, 0)  # a Monday: ISO week 2018-W13
REGIONS = ("North", "South", "East", "West")
# what the survey tool did to "’" and "£": valid UTF-8, the characters already replaced
MANGLED = ("it\ufffds taken 11 weeks", "the \ufffd49 I was charged", "don\ufffdt call again")


@pytest.fixture()
def hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    embedder = HashingEmbedder()
    monkeypatch.setattr(theming, "make_embedder", lambda model, settings: embedder)


def _config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "fast.toml"
    path.write_text(
        f'models_dir = "{tmp_path / "models"}"\nlanguage = "en"\n[themes]\nmin_cluster_size = 5\n'
        "[nps]\nbootstrap_samples = 50\n[embedding]\nshow_progress = false\n" + extra
    )
    return path


def _cli(tmp_path: Path, *args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    """`cx-text ARGS` in-process with the tests' embedder: exit code, stdout, stderr."""
    result = CliRunner().invoke(app, list(args), input=stdin)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def _run(tmp_path: Path, source: str, *extra: str, stdin: bytes | None = None) -> tuple[int, str]:
    out = tmp_path / "out"
    code, _, stderr = _cli(tmp_path, "run", source, "--out", str(out), "--state-dir",
                           str(tmp_path / "state"), "--config", str(_config(tmp_path)), *extra,
                           stdin=stdin)  # fmt: skip
    return code, stderr


def _when(i: int) -> datetime:
    """Response times over five weeks: 26/03/2018 first, so some days are above 12."""
    return FIRST + timedelta(days=(i * 3) % 35, minutes=7 * i)


def _wide_export(path: Path) -> list[datetime]:
    """An export shaped like a real one: 64 answers + 1 without a score, 3 with U+FFFD."""
    rows, times = [], []
    for i, text in enumerate([*TEXTS, "no score given here"]):
        when = _when(i)
        times.append(when)
        rows.append({
            "RESPONSE_ID": f"R{i:05d}",
            "CUSTOMER_RESPONSE_DATE": f"{when:%d/%m/%Y %H:%M}",
            "NPS_SCORE": "" if i == len(TEXTS) else str(i % 11),
            "COMMENT": f"{text} {MANGLED[i // 10]}" if i in (0, 10, 20) else text,
            "AGENT_NOTES": f"call {i} about order {1000 + i}",  # free text, one value per row
            "EXTRACT_TIMESTAMP": f"{when + timedelta(days=40):%Y-%m-%dT%H:%M:%S}",
            "CUSTOMER_POSTCODE": f"AB{i:02d} {i % 9}XY",  # high cardinality
            "REGION": REGIONS[i % 4],
        })  # fmt: skip
    pd.DataFrame(rows).to_csv(path, index=False, encoding="utf-8")
    return times


# --------------------------------------------------------------------------- encodings


def test_utf8_with_replacement_characters_is_never_undecodable(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    _wide_export(path)
    data = read_and_clean([str(path)], load_settings(language="en"), tmp_path, NOW)
    # only the row truly without a score is quarantined: 1 of 65 (1.5%)
    assert data.quarantine["reason"].tolist() == ["score_missing"]
    assert data.counts == {"read": 65, "themed": 64, "quarantined": 1, "duplicates": 0,
                           "non_answers": 0, "replacement_chars": 3}  # fmt: skip
    kept = data.verbatims.set_index("verbatim_id")["text"]
    assert kept["R00000"].endswith("it\ufffds taken 11 weeks")
    assert kept["R00010"].endswith("the \ufffd49 I was charged")


@pytest.mark.parametrize("bom", [True, False], ids=["with-bom", "without-bom"])
def test_excel_unicode_text_export_is_utf16_tab_separated(tmp_path: Path, bom: bool) -> None:
    """Excel's "Unicode text": UTF-16 little-endian, tabs, with or without a byte-order mark."""
    text = "id\tcomment\tscore\n1\tit’s taken 11 weeks, £49 charged\t2\n2\tДоставка вовремя\t9\n"
    path = tmp_path / "unicode.txt"
    path.write_bytes(("\ufeff" if bom else "").encode("utf-16-le") + text.encode("utf-16-le"))
    raw = ingest.read_input(str(path))
    verbatims, quarantine = ingest.to_verbatims(raw, IngestSettings(), NOW)
    assert quarantine.empty
    assert verbatims["text"].tolist() == ["it’s taken 11 weeks, £49 charged", "Доставка вовремя"]
    assert verbatims["role"].tolist() == ["detractor", "promoter"]
    assert not verbatims[ingest.REPLACEMENT].any()


def test_encodings_charset_normalizer_recognises_and_code_pages_kept() -> None:
    russian = "id;Комментарий;Оценка\n1;Доставку задержали, курьер вежливый;3\n"
    assert ingest.decode_bytes(russian.encode("koi8-r")) == (russian, "koi8_r")
    greek = "id,comment,score\n1,Η παράδοση άργησε πολύ, είμαι απογοητευμένος,3\n"
    assert ingest.decode_bytes(greek.encode("cp1253")) == (greek, "cp1253")
    # charset-normalizer reads this French latin-1 as cp1250 ("trčs"): the code-page test wins
    french = "id,comment,score\n1,façade fermée, très déçu du café,3\n"
    assert ingest.decode_bytes(french.encode("latin-1")) == (french, "cp1252")
    assert ingest.decode_bytes(russian.encode("cp1251")) == (russian, "cp1251")
    # NUL bytes inside a UTF-8 file do not make it UTF-16
    assert ingest.decode_bytes(b"id,text\n1,a\x00b\n") == ("id,text\n1,a\x00b\n", "utf-8")


# --------------------------------------------------------------------------- dates and segments


def test_day_first_response_date_found_and_weeks_right(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "export.csv"
    times = _wide_export(path)
    raw = ingest.read_input(str(path))
    with caplog.at_level(logging.INFO, logger="cx_text"):
        verbatims, _ = ingest.to_verbatims(raw, IngestSettings(), NOW)
    note = verbatims.attrs["inputs"][0]
    assert (note["date_column"], note["date_order"], note["date_order_from"]) == (
        "CUSTOMER_RESPONSE_DATE", "day-first", "values")  # fmt: skip
    expected = [f"{t:%G-W%V}" for t in times[:-1]]  # the last row has no score
    assert verbatims["created_at"].dt.strftime("%G-W%V").tolist() == expected
    assert len(set(expected)) == 5 and verbatims["created_at"].iloc[1] == pd.Timestamp(
        "2018-03-29 09:07")  # fmt: skip
    assert "dates from 'CUSTOMER_RESPONSE_DATE', day-first (values)" in caplog.text
    # the other date-like column and the free text stay as columns of the verbatims
    assert {"EXTRACT_TIMESTAMP", "AGENT_NOTES", "CUSTOMER_POSTCODE"} <= set(verbatims.columns)


@pytest.mark.filterwarnings("error::UserWarning")  # none of pandas' on the console
def test_monthfirst_setting_overrides_the_values(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    _wide_export(path)
    raw = ingest.read_input(str(path))
    verbatims, quarantine = ingest.to_verbatims(raw, IngestSettings(date_dayfirst=False), NOW)
    assert verbatims.attrs["inputs"][0]["date_order_from"] == "setting"
    # told month-first, 06/04/2018 is June 4th (26/03/2018 can only be March 26th)
    assert quarantine["reason"].tolist() == ["score_missing"]
    months = verbatims["created_at"].dt.month
    assert (months == 6).any() and not verbatims["created_at"].dt.month.isin([5]).all()
    inferred, _ = ingest.to_verbatims(raw, IngestSettings(), NOW)
    assert set(inferred["created_at"].dt.month) == {3, 4}


@pytest.mark.parametrize(
    ("values", "order", "decided_by"),
    [
        (["13/04/2018", "01/02/2018"], "day-first", "values"),
        (["04/13/2018", "01/02/2018"], "month-first", "values"),
        (["04/11/2018", "01/02/2018"], "month-first", "ambiguous"),
        (["13/04/2018", "04/13/2018"], "month-first", "conflicting"),
        (["2018-04-13", "23.11.2026"], "month-first", "not needed"),
    ],
)
def test_date_order_inferred_from_values(values: list[str], order: str, decided_by: str) -> None:
    found = dates.infer_order(pd.Series(values), None)
    assert (found.name, found.decided_by) == (order, decided_by)


@pytest.mark.filterwarnings("error::UserWarning")  # none of pandas' on the console
def test_a_column_mixing_both_date_orders_says_so() -> None:
    values = pd.Series(["14/11/2026", "03/11/2026", "11/15/2026", "11/16/2026", "2026-11-02"])
    order = dates.infer_order(values, None)
    assert (order.decided_by, order.dayfirst) == ("conflicting", False)
    assert (order.day_first_only, order.month_first_only) == (1, 2)
    parsed = dates.parse_dates(values, order.dayfirst).dt.strftime("%Y-%m-%d").tolist()
    assert parsed == ["2026-11-14", "2026-03-11", "2026-11-15", "2026-11-16", "2026-11-02"]
    assert dates.infer_order(values.iloc[1:], None).decided_by == "values"


def test_date_column_by_name_then_content() -> None:
    columns = {
        "response_time_minutes": pd.Series(["15", "20", "7"]),  # a time by name, not dates
        "SENT_TIMESTAMP": pd.Series(["2018-04-01 10:00", "2018-04-02 11:00", ""]),
        "Дата ответа": pd.Series(["23.11.2026", "24.11.2026", "25.11.2026"]),
        "when": pd.Series(["Nov 4, 2026", "Nov 5, 2026", "Nov 6, 2026"]),
    }
    assert dates.find_date_column(columns) == "Дата ответа"
    del columns["Дата ответа"]
    assert dates.find_date_column(columns) == "SENT_TIMESTAMP"
    del columns["SENT_TIMESTAMP"]
    assert dates.find_date_column(columns) == "when"  # by content alone
    assert (
        dates.find_date_column({"id": pd.Series(["1", "2"]), "n": pd.Series(["20261101"])}) is None
    )


def test_a_records_later_dates_are_not_when_it_was_written() -> None:
    """A help desk's ticket view: "Updated" holds "date" and comes before nothing; the ticket
    was written when it was "Requested"."""
    columns = {"Requested": pd.Series(["2026-11-02 09:15", "2026-11-03 10:00"]),
               "Updated": pd.Series(["2026-11-20 09:15", "2026-11-21 10:00"]),
               "Date Modified": pd.Series(["2026-11-22", "2026-11-23"])}  # fmt: skip
    assert dates.find_date_column(columns) == "Requested"
    assert dates.find_date_column({"Updated": columns["Updated"]}) == "Updated"  # the only one
    assert [dates.name_rank(c) for c in ("update_date", "Closed At", "Дата изменения")] == [3] * 3


@pytest.mark.parametrize("form", ["csv", "xlsx"])
def test_excel_day_numbers_in_a_date_column_are_dates(tmp_path: Path, form: str) -> None:
    """A workbook's date cells exported as Excel's day numbers (45000.5 is 2023-03-15 12:00);
    a number column that is not named as a date ("Amount") is never taken for one."""
    n = len(TEXTS)
    when = [_when(i) for i in range(n)]
    serial = [(w - datetime(1899, 12, 30)).total_seconds() / 86400 for w in when]
    frame = pd.DataFrame({"Comment": TEXTS, "Score": [i % 11 for i in range(n)],
                          "Amount": [40000 + i for i in range(n)], "Date": serial})  # fmt: skip
    path = tmp_path / f"export.{form}"
    frame.to_excel(path, index=False) if form == "xlsx" else frame.to_csv(path, index=False)
    state = read_and_clean([str(path)], load_settings(language="en"), tmp_path)
    assert state.verbatims is not None and state.quarantine is not None
    assert state.quarantine.empty and state.ingest_notes[0]["date_column"] == "Date"
    got = state.verbatims["created_at"].dt.round("s").tolist()
    assert got == [pd.Timestamp(w) for w in when]
    assert dates.find_date_column({"Amount": frame["Amount"].astype(str)}) is None


def test_russian_month_names_are_dates() -> None:
    values = pd.Series(["30 ноября 2026 г.", "1 дек. 2026", "5 марта 2026 14:05", "3 мая 2025",
                        "12 Января 2026"])  # fmt: skip
    assert dates.find_date_column({"Дата": values}) == "Дата"
    assert dates.parse_dates(values).tolist() == [
        pd.Timestamp("2026-11-30"), pd.Timestamp("2026-12-01"), pd.Timestamp("2026-03-05 14:05"),
        pd.Timestamp("2025-05-03"), pd.Timestamp("2026-01-12"),
    ]  # fmt: skip


@pytest.mark.parametrize("dayfirst", [False, True])
def test_year_first_dates_are_year_month_day_in_either_order(dayfirst: bool) -> None:
    """pandas' "mixed" parse with dayfirst read 2026-09-01 as 9 January; a column mixing
    shapes reads each shape in its own way, the first value's shape and the others alike."""
    values = pd.Series(["2026-09-01 08:33:48", "02/09/2026 10:00", "2026-09-03", "",
                        "2026-09-04T10:00:00+03:00", "not a date", "05.09.2026"])  # fmt: skip
    other = "2026-09-02 10:00" if dayfirst else "2026-02-09 10:00"
    expected = pd.Series(["2026-09-01 08:33:48", other, "2026-09-03", None, "2026-09-04 07:00",
                          None, "2026-09-05"])  # fmt: skip
    expected = pd.to_datetime(expected, format="mixed").astype("datetime64[ns]")
    pd.testing.assert_series_equal(dates.parse_dates(values, dayfirst), expected)
    tail = values.iloc[1:]  # another shape first: the same dates
    pd.testing.assert_series_equal(dates.parse_dates(tail, dayfirst),
                                   dates.parse_dates(values, dayfirst).iloc[1:])  # fmt: skip


@pytest.mark.parametrize("form", ["csv", "xlsx"])
def test_a_group_header_above_the_column_names_is_not_the_header(tmp_path: Path, form: str) -> None:
    """A workbook whose merged cells label groups of columns above their names ("Respondent"
    over the id and date, "Scores" over NPS and CSAT): the names are the header, every answer
    is read with its score."""
    groups = ["Respondent", "", "Scores", "", "Feedback", "", "Segment"]
    names = ["Response ID", "Submitted", "NPS", "CSAT", "Comment", "What could we improve?",
             "Region"]  # fmt: skip
    rows = [[f"R{i:03d}", f"{_when(i):%d/%m/%Y}", str(i % 11), str(i % 5 + 1), text,
             "faster delivery", REGIONS[i % 4]] for i, text in enumerate(TEXTS)]  # fmt: skip
    path = tmp_path / f"export.{form}"
    table = pd.DataFrame([groups, names, *rows])
    if form == "xlsx":
        table.to_excel(path, index=False, header=False)
    else:
        table.to_csv(path, index=False, header=False)
    state = read_and_clean([str(path)], load_settings(language="en"), tmp_path)
    assert state.verbatims is not None and state.quarantine is not None
    assert state.quarantine.empty
    assert state.verbatims["verbatim_id"].tolist() == [f"R{i:03d}" for i in range(len(TEXTS))]
    assert state.verbatims["score"].tolist() == [float(i % 11) for i in range(len(TEXTS))]
    days = [_when(i).date() for i in range(len(TEXTS))]
    assert state.verbatims["created_at"].dt.date.tolist() == days


def test_iso_dates_need_no_order() -> None:
    raw = ingest._as_raw(pd.DataFrame({"comment": ["late", "rude"], "score": ["1", "9"],
                                       "Submitted On": ["2026-11-02 10:00", "2026-11-13"]}),
                         "iso.csv")  # fmt: skip
    verbatims, quarantine = ingest.to_verbatims(raw, IngestSettings(), NOW)
    note = verbatims.attrs["inputs"][0]
    assert quarantine.empty and note["date_column"] == "Submitted On"
    assert (note["date_order"], note["date_order_from"]) == (None, "not needed")
    assert verbatims["created_at"].dt.day.tolist() == [2, 13]


def test_no_date_column_is_said_once_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "undated.csv"
    pd.DataFrame({"comment": TEXTS[:5], "score": ["1", "2", "9", "10", "7"]}).to_csv(path)
    with caplog.at_level(logging.INFO, logger="cx_text"):
        data = read_and_clean([str(path)], load_settings(language="en"), tmp_path, NOW)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "undated.csv: no date column found" in warnings[0]
    assert "--date-col" in warnings[0]
    assert data.counts["no_date_column"] == 5
    assert (data.verbatims["created_at"] == NOW).all()


def test_wide_export_segments_capped_and_columns_kept(tmp_path: Path, hashing: None) -> None:
    path = tmp_path / "export.csv"
    _wide_export(path)
    code, stderr = _run(tmp_path, str(path))
    assert code == 0, stderr
    by_segment = pd.read_csv(tmp_path / "out" / "themes_by_segment.csv")
    values = by_segment.groupby("segment_column")["segment_value"].nunique()
    # REGION (4 values), source (1); the id-like, free-text and date-like columns pass through
    assert values.to_dict() == {"REGION": 4, "source": 1}
    verbatims = pd.read_parquet(tmp_path / "out" / "verbatims.parquet")
    assert verbatims["CUSTOMER_POSTCODE"].nunique() == 64
    assert verbatims["created_at"].dt.strftime("%G-W%V").nunique() == 5
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    assert record["counts"]["replacement_chars"] == 3 and record["counts"]["quarantined"] == 1


def test_a_tweet_export_keeps_its_tweet_ids_as_verbatim_ids(tmp_path: Path) -> None:
    """The airline export's shape: an 18-digit `tweet_id`, day-first `tweet_created`,
    coordinates and a second, unmapped date column. The ids become the verbatim ids (not a
    segment masked to [ACCOUNT]), coordinates are masked, dates stay dates."""
    rows = [{"tweet_id": str(570306133677760513 - 7919 * i), "airline_sentiment": "negative",
             "text": f"@united {text}", "tweet_coord": "[40.74804263, -73.99295302]" if i % 5
             else "", "tweet_created": f"{_when(i):%d-%m-%Y %H:%M}",
             "user_last_seen": f"{_when(i) + timedelta(days=3):%d-%m-%Y %H:%M}"}
            for i, text in enumerate(TEXTS)]  # fmt: skip
    path = tmp_path / "tweets.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    settings = load_settings(language="en", ingest={"default_source": "complaint"})
    state = read_and_clean([str(path)], settings, tmp_path)
    verbatims = state.verbatims
    assert verbatims is not None
    assert verbatims["verbatim_id"].tolist() == [r["tweet_id"] for r in rows]
    assert "tweet_id" not in verbatims and state.ingest_notes[0]["id_column"] == "tweet_id"
    assert set(verbatims["tweet_coord"].dropna()) == {"[COORDINATES]"}
    assert verbatims["user_last_seen"].tolist() == [r["user_last_seen"] for r in rows]


def test_segments_columns_setting_keeps_a_wide_column(tmp_path: Path, hashing: None) -> None:
    path = tmp_path / "export.csv"
    _wide_export(path)
    extra = '[segments]\nmax_values = 3\ncolumns = ["CUSTOMER_POSTCODE"]\n'
    out = tmp_path / "out"
    config = str(_config(tmp_path, extra))
    code, _, stderr = _cli(tmp_path, "run", str(path), "--out", str(out), "--state-dir",
                           str(tmp_path / "state"), "--config", config)  # fmt: skip
    assert code == 0, stderr
    by_segment = pd.read_csv(out / "themes_by_segment.csv")
    values = by_segment.groupby("segment_column")["segment_value"].nunique()
    # REGION has 4 values, above max_values = 3; the named column is kept whatever its size
    assert values.to_dict() == {"CUSTOMER_POSTCODE": 64, "source": 1}


# --------------------------------------------------------------------------- no score


def test_text_only_csv_is_themed_as_unscored_feedback(
    tmp_path: Path, hashing: None, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "comments.csv"
    pd.DataFrame({"comment": TEXTS}).to_csv(path, index=False)
    with caplog.at_level(logging.WARNING, logger="cx_text"):
        code, stderr = _run(tmp_path, str(path))
    assert code == 0, stderr
    notices = [r.getMessage() for r in caplog.records if "no score column" in r.getMessage()]
    assert len(notices) == 1 and "--score-col" in notices[0] and "--source" in notices[0]
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    assert record["counts"] == {"read": 64, "themed": 64, "quarantined": 0, "duplicates": 0,
                                "non_answers": 0, "no_date_column": 64,
                                "no_score_column": 64}  # fmt: skip
    verbatims = pd.read_parquet(tmp_path / "out" / "verbatims.parquet")
    assert set(verbatims["role"]) == {"unscored"} and set(verbatims["source"]) == {"other"}
    themes = pd.read_csv(tmp_path / "out" / "themes.csv")
    assert (themes["theme_id"] != "unclassified").sum() >= 2


def test_text_only_csv_with_source_survey_stops_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "comments.csv"
    pd.DataFrame({"comment": TEXTS[:5]}).to_csv(path, index=False)
    code, stderr = _run(tmp_path, str(path), "--source", "survey", "--quiet")
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "comments.csv: no score column found" in lines[0]
    assert "--score-col" in lines[0] and "--source complaint" in lines[0]


def test_every_row_quarantined_is_no_success(tmp_path: Path, hashing: None) -> None:
    path = tmp_path / "scores.csv"
    pd.DataFrame({"comment": TEXTS[:3], "score": ["ten", "11", ""]}).to_csv(path, index=False)
    code, stderr = _run(tmp_path, str(path), "--quiet")
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cx-text: error: nothing themed: all 3 rows")
    quarantine = pd.read_csv(tmp_path / "out" / "quarantine.csv")
    assert sorted(quarantine["reason"]) == ["score_missing", "score_not_a_number",
                                            "score_out_of_range"]  # fmt: skip


def test_a_nightly_whose_only_new_row_is_quarantined_says_what_was_stored(
    tmp_path: Path, hashing: None
) -> None:
    """The nightly's one line counts the new rows it quarantined, not the whole pull as 'rows
    read', and says how many were already stored. A stored id delivered with other text is
    quarantined too, but it is not a new row: alone, it makes no failed night."""
    path = tmp_path / "export.csv"
    rows = pd.DataFrame(
        {
            "id": [f"r{i}" for i in range(len(TEXTS))],
            "comment": TEXTS,
            "score": [str(i % 11) for i in range(len(TEXTS))],
            "created_at": [f"{_when(i):%Y-%m-%d %H:%M}" for i in range(len(TEXTS))],
        }
    )
    rows.to_csv(path, index=False)  # fmt: skip
    code, _ = _run(tmp_path, str(path), "--quiet")
    assert code == 0
    rows.loc[0, "comment"] = "another text under a stored id"
    rows.to_csv(path, index=False)

    def nightly(name: str) -> tuple[int, str]:
        code, _, stderr = _cli(tmp_path, "nightly", str(path), "--out", str(tmp_path / name),
                               "--state-dir", str(tmp_path / "state"), "--config",
                               str(_config(tmp_path)), "--quiet")  # fmt: skip
        return code, stderr

    code, stderr = nightly("edited")
    assert code == 0, stderr
    new = rows.iloc[[1]].assign(id="new-1", score="42")  # out of range: quarantined
    pd.concat([rows, new]).to_csv(path, index=False)
    code, stderr = nightly("night")
    assert code == 2
    said = stderr.strip().splitlines()[-1]
    stored = len(TEXTS) - 1
    assert said.startswith(
        f"cx-text: error: nothing themed: all 1 new rows were quarantined; {stored} were already "
        "stored, 1 with other text (conflicting_id) (reasons "
    )


def test_text_only_csv_as_complaints_has_no_notice() -> None:
    raw = ingest._as_raw(pd.DataFrame({"comment": ["late", "rude"]}), "c.csv")
    verbatims, _ = ingest.to_verbatims(raw, IngestSettings(default_source="complaint"), NOW)
    assert verbatims["role"].tolist() == ["complaint", "complaint"]
    assert not verbatims[ingest.NO_SCORE].any()


# --------------------------------------------------------------------------- column names


def _with_every_product_name(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` plus one 3-valued column per name an output table uses (not already there)."""
    extra = sorted(RESERVED_NAMES - set(frame.columns) - {"language"})
    columns = {name: [f"{name}-{(i + n) % 3}" for i in range(len(frame))]
               for n, name in enumerate(extra)}  # fmt: skip
    return pd.concat([frame, pd.DataFrame(columns, index=frame.index)], axis=1)


def _check_names_kept_apart(out: Path) -> None:
    verbatims = pd.read_parquet(out / "verbatims.parquet")
    # the product's columns hold the product's values; the input's sit beside them
    assert set(verbatims["role"]) <= {"detractor", "passive", "promoter", "complaint", "unscored"}
    assert {"input:label", "input:theme_id", "input:rank", "input:text"} <= set(verbatims.columns)
    by_segment = pd.read_csv(out / "themes_by_segment.csv", keep_default_na=False)
    shown = set(by_segment["segment_column"])
    assert {"label", "theme_id", "rank", "share", "text_hash", "verbatim_id"} <= shown
    assert set(by_segment.loc[by_segment["segment_column"] == "label", "segment_value"]) == {
        "label-0", "label-1", "label-2"}  # fmt: skip
    followup = pd.read_csv(out / "followup.csv", keep_default_na=False)
    assert not followup["label"].str.startswith("label-").any()


@pytest.mark.filterwarnings("error::pandas.errors.PerformanceWarning")
def test_columns_named_like_every_output_column_are_safe(tmp_path: Path, hashing: None) -> None:
    """...and so many free-text columns raise no pandas PerformanceWarning on the user's console
    (masking them one by one split the frame into a block per column)."""
    rows = [{"id": f"r{i}", "comment": t, "score": str(i % 11),
             "created_at": f"2026-11-{1 + i % 28:02d}", "customer_id": f"c{i % 20}"}
            for i, t in enumerate(TEXTS)]  # fmt: skip
    path = tmp_path / "plus.csv"
    _with_every_product_name(pd.DataFrame(rows)).to_csv(path, index=False)
    code, stderr = _run(tmp_path, str(path), "--text-col", "comment", "--id-col", "id", "--quiet")
    assert code == 0, stderr
    _check_names_kept_apart(tmp_path / "out")


@pytest.mark.slow
def test_sample_with_columns_named_like_every_output_column(tmp_path: Path, hashing: None) -> None:
    """The bundled sample (4,761 rows) with those columns: ~100 s with the tests' embedder."""
    sample = pd.read_csv(ROOT / "data" / "sample_feedback.csv", dtype=str, keep_default_na=False)
    path = tmp_path / "sample_plus.csv"
    _with_every_product_name(sample).to_csv(path, index=False)
    code, stderr = _run(tmp_path, str(path), "--text-col", "comment", "--id-col", "response_id",
                        "--quiet")  # fmt: skip
    assert code == 0, stderr
    _check_names_kept_apart(tmp_path / "out")


# ----------------------------------------------------------------- survey tools' export shapes

RECOMMEND = "How likely are you to recommend Shopwise to a friend or colleague?"
REASON = "What is the main reason for your score?"


def _answers() -> list[dict[str, str]]:
    """One answer per corpus text: a score 0-10 and the date it was recorded."""
    return [{"score": str(i % 11), "text": text, "when": f"{_when(i):%Y-%m-%d %H:%M:%S}"}
            for i, text in enumerate(TEXTS)]  # fmt: skip


def test_a_qualtrics_export_skips_its_header_rows_and_finds_columns_by_their_question(
    tmp_path: Path,
) -> None:
    """Qualtrics names columns by question id ("Q1", "Q2") with the question's wording and a
    row of ImportIds under the names. Those rows are not answers; the score and the text are
    found by their question, the id and date by name; the respondent's IP address, name, e-mail
    and location are not read; the author's preview and a spam response are quarantined as
    `test_response`. Quarantine row numbers stay the file's."""
    header = ["StartDate", "EndDate", "Status", "IPAddress", "Progress", "RecordedDate",
              "ResponseId", "RecipientLastName", "RecipientFirstName", "RecipientEmail",
              "LocationLatitude", "LocationLongitude", "UserLanguage", "Q1", "Q1_NPS_GROUP",
              "Q2"]  # fmt: skip
    wording = ["Start Date", "End Date", "Response Type", "IP Address", "Progress",
               "Recorded Date", "Response ID", "Recipient Last Name", "Recipient First Name",
               "Recipient Email", "Location Latitude", "Location Longitude", "User Language",
               RECOMMEND, f"{RECOMMEND} - Group", REASON]  # fmt: skip
    rows = [header, wording, [json.dumps({"ImportId": c}) for c in header]]
    answers = _answers()
    for i, a in enumerate(answers):
        group = "Detractor" if int(a["score"]) <= 6 else "Passive" if int(a["score"]) <= 8 else (
            "Promoter")  # fmt: skip
        status = {7: "Survey Preview", 9: "Spam"}.get(i, "IP Address")  # not customers
        rows.append([a["when"], a["when"], status, f"81.2.69.{i}", "100", a["when"],
                     f"R_{i:015d}", "Smith", "Anna", f"anna{i}@example.com", "51.5072",
                     "-0.1276", "EN", a["score"], group, a["text"]])  # fmt: skip
    rows[5][13] = "eleven"  # the third answer: a score the scale does not know
    path = tmp_path / "qualtrics.csv"
    pd.DataFrame(rows).to_csv(path, index=False, header=False)
    state = read_and_clean([str(path)], load_settings(language="en"), tmp_path)
    verbatims, note = state.verbatims, state.ingest_notes[0]
    assert verbatims is not None
    kept = [i for i in range(len(TEXTS)) if i not in (2, 7, 9)]
    assert verbatims["verbatim_id"].tolist() == [f"R_{i:015d}" for i in kept]
    assert verbatims["text"].tolist() == [answers[i]["text"] for i in kept]
    assert verbatims["score"].tolist() == [float(i % 11) for i in kept]
    assert verbatims["created_at"].iloc[0] == pd.Timestamp(answers[0]["when"])
    assert {"IPAddress", "RecipientEmail", "RecipientLastName", "LocationLatitude"}.isdisjoint(
        verbatims.columns
    )
    assert (note["text_column"], note["score_column"], note["id_column"], note["date_column"]) == (
        "Q2", "Q1", "ResponseId", "RecordedDate")  # fmt: skip
    assert note["survey_tool"] == "qualtrics" and note["header_rows"] == 2
    quarantine = state.quarantine
    assert quarantine is not None
    # numbered from the column names: 2 header rows, then the answers
    assert quarantine["row_number"].tolist() == [5, 10, 12]
    assert quarantine["reason"].tolist() == ["score_not_a_number", "test_response",
                                             "test_response"]  # fmt: skip
    assert quarantine["detail"].iloc[1].endswith("Status 'Survey Preview'")


@pytest.mark.parametrize("tool", ["surveymonkey", "google forms", "russian form"])
def test_columns_named_by_their_question_are_found(tmp_path: Path, tool: str) -> None:
    """SurveyMonkey, Google Forms and Typeform name a column by its question; SurveyMonkey adds a
    row of "Response" / "Open-Ended Response" under the names. The NPS question is the score,
    its follow-up the text, whatever else is free text beside them."""
    answers = _answers()
    recommend, reason = RECOMMEND, REASON
    if tool == "russian form":
        recommend = "Насколько вероятно, что вы порекомендуете нас друзьям?"
        reason = "Почему вы поставили такую оценку?"
    frame = pd.DataFrame({
        "Respondent ID": [str(114225 + i) for i in range(len(answers))],
        "Timestamp": [a["when"] for a in answers],
        recommend: [a["score"] for a in answers],
        "Anything else you would like to tell us?": ["nothing more to add today, thanks"]
        * len(answers),
        reason: [a["text"] for a in answers],
        "City": ["London"] * len(answers),
    })  # fmt: skip
    if tool == "surveymonkey":
        under = pd.DataFrame([{c: "" for c in frame.columns} | {recommend: "Response",
                              reason: "Open-Ended Response"}])  # fmt: skip
        frame = pd.concat([under, frame], ignore_index=True)
    path = tmp_path / "export.csv"
    frame.to_csv(path, index=False)
    state = read_and_clean([str(path)], load_settings(language="en"), tmp_path)
    verbatims, note = state.verbatims, state.ingest_notes[0]
    assert verbatims is not None and state.quarantine is not None and state.quarantine.empty
    assert verbatims["text"].tolist() == [a["text"] for a in answers]
    assert verbatims["score"].tolist() == [float(a["score"]) for a in answers]
    assert (note["text_column"], note["score_column"]) == (reason, recommend)
    assert note["header_rows"] == (1 if tool == "surveymonkey" else 0)


def test_declined_scores_are_missing_and_do_not_hide_the_score_question(tmp_path: Path) -> None:
    """A form's score question that some respondents answered "N/A" or "Не знаю" (one in eight):
    it is still the score, those rows are `score_missing` (declined, not malformed), and every
    other row keeps its score and role."""
    answers = _answers()
    declined = ["N/A", "Не знаю", "Don't know", "-"]
    scores = [declined[i // 8 % 4] if i % 8 == 0 else a["score"] for i, a in enumerate(answers)]
    frame = pd.DataFrame({"Timestamp": [a["when"] for a in answers], RECOMMEND: scores,
                          REASON: [a["text"] for a in answers]})  # fmt: skip
    path = tmp_path / "export.csv"
    frame.to_csv(path, index=False)
    state = read_and_clean([str(path)], load_settings(language="en"), tmp_path)
    assert state.verbatims is not None and state.quarantine is not None
    assert state.ingest_notes[0]["score_column"] == RECOMMEND
    assert state.quarantine["reason"].tolist() == ["score_missing"] * (len(answers) // 8)
    kept = [float(a["score"]) for i, a in enumerate(answers) if i % 8]
    assert state.verbatims["score"].tolist() == kept


def test_a_header_naming_the_comment_twice_takes_the_filled_one(tmp_path: Path) -> None:
    """Two columns named "Comment", the first nearly empty ("see below" once): the answers are
    in the second, which is the text; a column the user names is kept whatever it holds."""
    n = len(TEXTS)
    lines = ["Date,Score,Comment,Comment"] + [
        f'{_when(i):%Y-%m-%d},{i % 11},{"see below" if i == 0 else ""},"{t}"'
        for i, t in enumerate(TEXTS)
    ]
    path = tmp_path / "export.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    state = read_and_clean([str(path)], load_settings(language="en"), tmp_path)
    assert state.verbatims is not None and state.quarantine is not None
    assert state.quarantine.empty and state.ingest_notes[0]["text_column"] == "Comment.1"
    assert state.verbatims["text"].tolist() == TEXTS and len(state.verbatims) == n
    named = load_settings(language="en", ingest={"columns": {"text": "Comment"}})
    state = read_and_clean([str(path)], named, tmp_path / "named")
    assert state.quarantine is not None and len(state.quarantine) == n - 1  # empty_text


def test_columns_naming_or_reaching_a_person_are_not_read(tmp_path: Path) -> None:
    """A CRM export with the customer's name, e-mail, phone and IP address beside the answer:
    none of them is kept (not even masked, as a segment); the customer id, region and agent
    stay. A column the user names for a field is read: `--customer-col Email`."""
    n = len(TEXTS)
    frame = pd.DataFrame({
        "Customer ID": [f"C{i % 20}" for i in range(n)], "First Name": ["Olga"] * n,
        "Last Name": ["Ivanova"] * n, "Email": [f"c{i}@mail.ru" for i in range(n)],
        "Phone": ["+7 916 123-45-67"] * n, "IP Address": ["81.2.69.160"] * n,
        "ФИО": ["Иванова Ольга"] * n, "Region": [REGIONS[i % 4] for i in range(n)],
        "Agent Name": ["Team A"] * n, "Comment": TEXTS, "Score": [i % 11 for i in range(n)],
        "Date": [f"{_when(i):%Y-%m-%d}" for i in range(n)],
    })  # fmt: skip
    state = _read_export(frame, tmp_path)
    assert state.verbatims is not None and state.quarantine is not None
    personal = ["First Name", "Last Name", "Email", "Phone", "IP Address", "ФИО"]
    assert state.ingest_notes[0]["dropped_columns"] == personal
    kept = set(state.verbatims.columns)
    assert not kept & set(personal) and {"Region", "Agent Name"} <= kept
    assert state.verbatims["customer_id"].tolist() == [f"C{i % 20}" for i in range(n)]
    state = _read_export(frame, tmp_path / "email", customer_id="Email")
    assert state.verbatims is not None and "Email" not in state.ingest_notes[0]["dropped_columns"]
    assert state.verbatims["customer_id"].str.fullmatch(r"\[EMAIL\]|c\d+@mail\.ru").all()


def test_a_comment_column_of_categories_is_not_the_text(tmp_path: Path) -> None:
    """A survey export whose "Comment" holds two canned values ("Ok", "Good overall") beside
    two open questions: the text is the open question most customers answered ("What could we
    improve?", 60 of 64), not the longer one few did (16 of 64) nor the categories. A column
    named with --text-col is themed whatever it holds; so is a short file's "Comment"."""
    n = len(TEXTS)
    frame = pd.DataFrame({
        "Respondent ID": [f"r{i}" for i in range(n)], "Score": [i % 11 for i in range(n)],
        "Comment": ["Ok" if i % 3 else "Good overall" for i in range(n)],
        "What could we improve?": [t if i % 16 else "" for i, t in enumerate(TEXTS)],
        "Anything else you would like to tell us?": [
            f"{t} and one more long remark about the whole experience" if i % 4 == 0 else ""
            for i, t in enumerate(TEXTS)],
        "Date": [f"{_when(i):%Y-%m-%d}" for i in range(n)],
    })  # fmt: skip
    state = _read_export(frame, tmp_path)
    assert state.verbatims is not None and state.quarantine is not None
    assert state.ingest_notes[0]["text_column"] == "What could we improve?"
    assert len(state.verbatims) == n - n // 16
    state = _read_export(frame, tmp_path / "named", text="Comment")
    assert state.ingest_notes[0]["text_column"] == "Comment"
    state = _read_export(frame.head(20), tmp_path / "short")  # too few to call it categories
    assert state.ingest_notes[0]["text_column"] == "Comment"


def _read_export(frame: pd.DataFrame, folder: Path, **columns: str) -> Any:
    """The read and clean stages on `frame` written as a CSV under `folder`, with the columns
    named for fields in `columns` (as --text-col and the like name them)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "export.csv"
    frame.to_csv(path, index=False)
    settings = load_settings(language="en", ingest={"columns": columns})
    return read_and_clean([str(path)], settings, folder)


def test_the_only_free_text_column_is_the_text_whatever_its_name(tmp_path: Path) -> None:
    """An export whose text column has no known name and no question ("Q7") still has one
    column of customers' own words; ids, cities and scores are not text."""
    answers = _answers()
    frame = pd.DataFrame({"rid": [f"r{i}" for i in range(len(answers))],
                          "Q7": [a["text"] for a in answers], "city": ["Leeds"] * len(answers),
                          "score": [a["score"] for a in answers]})  # fmt: skip
    path = tmp_path / "export.csv"
    frame.to_csv(path, index=False)
    state = read_and_clean([str(path)], load_settings(language="en"), tmp_path)
    assert state.verbatims is not None and state.ingest_notes[0]["text_column"] == "Q7"
    assert state.verbatims["text"].tolist() == [a["text"] for a in answers]


@pytest.mark.parametrize("dtypes", ["numpy_nullable", "pyarrow"])
def test_missing_values_of_nullable_types_are_missing_not_text(tmp_path: Path, dtypes: str) -> None:
    """A Parquet file written from pandas' nullable types (string, Int64, or Arrow-backed): a
    missing comment is an empty text, not the words "<NA>", and a missing score is missing."""
    n = len(TEXTS)
    frame = pd.DataFrame({"id": [f"r{i}" for i in range(n)],
                          "comment": [None if i % 8 == 0 else t for i, t in enumerate(TEXTS)],
                          "score": [None if i % 8 == 1 else i % 11 for i in range(n)],
                          "created_at": [_when(i) for i in range(n)]}).convert_dtypes(
                              dtype_backend=dtypes)  # fmt: skip
    path = tmp_path / "export.parquet"
    frame.to_parquet(path)
    state = read_and_clean([str(path)], load_settings(language="en"), tmp_path)
    assert state.verbatims is not None and state.quarantine is not None
    reasons = state.quarantine["reason"].value_counts().to_dict()
    assert reasons == {"empty_text": n // 8, "score_missing": n // 8}
    assert not state.verbatims["text"].str.contains("<NA>").any()
    assert len(state.verbatims) == n - 2 * (n // 8)


@pytest.mark.parametrize("form", ["csv", "csv padded", "xlsx"])
def test_title_lines_above_the_header_are_not_the_header(tmp_path: Path, form: str) -> None:
    """A reporting tool's export with a title, a filter line and a blank line above the header:
    the header is found under them and every answer is read."""
    table = [["id", "comment", "score", "created_at"]] + [
        [f"r{i}", text, str(i % 11), f"{_when(i):%Y-%m-%d %H:%M}"] for i, text in enumerate(TEXTS)
    ]
    pad = [""] * 3 if form != "csv" else []
    above = [["NPS verbatims, November 2026", *pad], ["Filter: all channels", *pad], [""] * 4]
    path = tmp_path / ("export.xlsx" if form == "xlsx" else "export.csv")
    lines = pd.DataFrame(above + table) if form != "csv" else None
    if form == "xlsx":
        assert lines is not None
        lines.to_excel(path, index=False, header=False)
    elif lines is not None:
        lines.to_csv(path, index=False, header=False)
    else:
        rows = [",".join(f'"{c}"' for c in line) if line else "" for line in above[:2] + table]
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    state = read_and_clean([str(path)], load_settings(language="en"), tmp_path)
    assert state.verbatims is not None and state.quarantine is not None
    assert state.quarantine.empty
    assert state.verbatims["verbatim_id"].tolist() == [f"r{i}" for i in range(len(TEXTS))]
    assert state.verbatims["score"].tolist() == [float(i % 11) for i in range(len(TEXTS))]


@pytest.mark.parametrize("site", ["trustpilot", "google play"])
def test_review_exports_take_the_review_text_not_its_title(tmp_path: Path, site: str) -> None:
    """Review sites' exports name the text with more words than the aliases ("Review Content",
    "Review Text") beside a short title; the longer free text is the text."""
    text, title = ("Review Content", "Review Title") if site == "trustpilot" else (
        "Review Text", "Review Title")  # fmt: skip
    frame = pd.DataFrame({
        "Review Id": [f"rv{i}" for i in range(len(TEXTS))],
        "Review Created (UTC)": [f"{_when(i):%Y-%m-%dT%H:%M:%SZ}" for i in range(len(TEXTS))],
        title: [" ".join(t.split()[:3]) for t in TEXTS],
        text: [f"{t}, and that is all I have to say about it" for t in TEXTS],
        "Reviewer Name": ["Anna K"] * len(TEXTS),
    })  # fmt: skip
    path = tmp_path / "reviews.csv"
    frame.to_csv(path, index=False)
    settings = load_settings(language="en", ingest={"default_source": "complaint"})
    state = read_and_clean([str(path)], settings, tmp_path)
    assert state.verbatims is not None and state.ingest_notes[0]["text_column"] == text
    assert state.verbatims["text"].tolist() == frame[text].tolist()
    assert state.verbatims["verbatim_id"].tolist() == frame["Review Id"].tolist()


@pytest.mark.parametrize("counter", [False, True])
def test_a_typeform_export_keeps_its_tokens_and_submit_dates(tmp_path: Path, counter: bool) -> None:
    """Typeform: "#" holds each response's token, the questions name the columns, dates are
    "Start Date (UTC)" and "Submit Date (UTC)": the token is the id and the submit date the date.
    A "#" of row numbers (a report's counter, which starts again in every export) is no id."""
    answers = _answers()
    start = [f"{_when(i):%Y-%m-%d %H:%M:%S}" for i in range(len(answers))]
    submit = [f"{_when(i) + timedelta(minutes=3):%Y-%m-%d %H:%M:%S}" for i in range(len(answers))]
    tokens = [str(i + 1) if counter else f"t{i:04d}x9k2" for i in range(len(answers))]
    frame = pd.DataFrame({"#": tokens, RECOMMEND: [a["score"] for a in answers],
                          REASON: [a["text"] for a in answers], "Start Date (UTC)": start,
                          "Submit Date (UTC)": submit,
                          "Network ID": [f"{i:010x}" for i in range(len(answers))]})  # fmt: skip
    path = tmp_path / "typeform.csv"
    frame.to_csv(path, index=False)
    state = read_and_clean([str(path)], load_settings(language="en"), tmp_path)
    verbatims, note = state.verbatims, state.ingest_notes[0]
    assert verbatims is not None and note["date_column"] == "Submit Date (UTC)"
    assert verbatims["created_at"].iloc[0] == pd.Timestamp(submit[0])
    assert note["id_column"] == (None if counter else "#")
    assert (verbatims["verbatim_id"] == tokens).all() != counter


def test_a_workbook_summary_sheet_beside_the_answers_is_not_read(tmp_path: Path) -> None:
    """A workbook with a summary sheet (metric, value) and two sheets of answers: the answers
    of both are read, the summary's rows are neither themed nor quarantined, and run.json says
    which sheet was left out."""
    path = tmp_path / "export.xlsx"
    half = len(TEXTS) // 2
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"Metric": ["NPS", "Responses"], "Value": ["-12", str(len(TEXTS))]}).to_excel(
            writer, sheet_name="Summary", index=False)  # fmt: skip
        for name, part in (("October", TEXTS[:half]), ("November", TEXTS[half:])):
            pd.DataFrame({"comment": part, "score": ["3"] * len(part)}).to_excel(
                writer, sheet_name=name, index=False)  # fmt: skip
    state = read_and_clean([str(path)], load_settings(language="en"), tmp_path)
    assert state.verbatims is not None and state.quarantine is not None
    assert sorted(state.verbatims["text"]) == sorted(TEXTS) and state.quarantine.empty
    assert state.ingest_notes[0]["skipped_sheets"] == ["Summary"]
    # a text column the user names decides which sheets hold answers, not the aliases
    named = load_settings(language="en", ingest={"columns": {"text": "Metric"}})
    state = read_and_clean([str(path)], named, tmp_path / "named")
    assert state.verbatims is not None and state.ingest_notes[0]["skipped_sheets"] == [
        "October", "November"]  # fmt: skip
    assert sorted(state.verbatims["text"]) == ["NPS", "Responses"]


def test_inspect_shows_what_a_run_would_make_of_an_export_and_writes_nothing(
    tmp_path: Path,
) -> None:
    """`cx-text inspect` on a survey export with a title line and a score the scale does not
    know: the columns it found, the counts a run would give, why the bad row would be
    quarantined (with its row number); no store, no output folder."""
    rows = [[f"r{i}", text, str(i % 11), f"{_when(i):%Y-%m-%d %H:%M}"] for i, text in
            enumerate(TEXTS)]  # fmt: skip
    rows[4][2] = "eleven"
    lines = ["NPS verbatims, November 2026", "", "Respondent ID,comment,score,created_at"]
    lines += [",".join(f'"{c}"' for c in row) for row in rows]
    path = tmp_path / "export.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    state = tmp_path / "state"
    code, stdout, _ = _cli(tmp_path, "inspect", str(path), "--state-dir", str(state),
                           "--config", str(_config(tmp_path)), "--quiet")  # fmt: skip
    assert code == 0
    shown = stdout.splitlines()
    assert shown[:5] == [
        f"export.csv: {len(TEXTS)} rows",
        "  text: 'comment'",
        "  score: 'score'",
        "  id: 'Respondent ID'",
        "  date: 'created_at'",
    ]
    assert "quarantined as score_not_a_number: 1 (first: export.csv row 5)" in shown
    assert shown[-1] == (f"a run would count: read {len(TEXTS)}, themed {len(TEXTS) - 1}, "
                         "quarantined 1, duplicates 0, non answers 0")  # fmt: skip
    assert not state.exists() and not (tmp_path / "cx-text-out").exists()


def test_inspect_names_a_date_column_without_a_header(tmp_path: Path) -> None:
    """A date column under an empty header cell is found by its values; `inspect` says so
    instead of "none (dated with the run's time)"."""
    lines = ["Respondent ID,comment,score,"] + [
        f'r{i},"{text}",{i % 11},{_when(i):%Y-%m-%d %H:%M}' for i, text in enumerate(TEXTS)
    ]
    path = tmp_path / "export.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, stdout, _ = _cli(tmp_path, "inspect", str(path), "--state-dir", str(tmp_path / "s"),
                           "--config", str(_config(tmp_path)), "--quiet")  # fmt: skip
    assert code == 0 and "  date: a column without a name" in stdout.splitlines()
    assert stdout.splitlines()[-1].startswith(f"a run would count: read {len(TEXTS)}, themed "
                                              f"{len(TEXTS)}, quarantined 0")  # fmt: skip
