"""Ingest: formats, encodings, column mapping, scales and roles, quarantine reasons."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from cx_text import ingest
from cx_text.settings import ColumnMap, IngestSettings

NOW = pd.Timestamp("2026-11-23 12:00:00")

RU_CSV = (
    "Номер;Комментарий;Оценка;Дата;Регион\n"
    "1;Доставку задержали на два дня;3;23.11.2026;Москва\n"
    '2;"Курьер вежливый, всё отлично";10;01.02.2026;Казань\n'
)
EN_ROWS = pd.DataFrame(
    {
        "response_id": ["a1", "a2", "a3"],
        "comment": ["Late again", "Great app", "Refund took weeks"],
        "score": ["2", "9.0", "5"],
        "created_at": ["2026-11-01 10:00:00", "2026-11-02", "2026-11-03T08:30:00Z"],
        "plan": ["basic", "plus", "basic"],
    }
)


def _map(raw: pd.DataFrame, **kwargs: object) -> tuple[pd.DataFrame, pd.DataFrame]:
    return ingest.to_verbatims(raw, IngestSettings(**kwargs), NOW)  # type: ignore[arg-type]


def test_cp1251_csv_with_semicolons_and_russian_headers(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(RU_CSV.encode("cp1251"))
    raw = ingest.read_input(str(path))
    verbatims, quarantine = _map(raw)
    assert quarantine.empty
    assert verbatims["text"].tolist() == [
        "Доставку задержали на два дня",
        "Курьер вежливый, всё отлично",
    ]
    assert verbatims["role"].tolist() == ["detractor", "promoter"]
    # dotted dates are day-first: 01.02.2026 is the 1st of February
    assert verbatims["created_at"].dt.strftime("%Y-%m-%d").tolist() == ["2026-11-23", "2026-02-01"]
    assert verbatims["Регион"].tolist() == ["Москва", "Казань"]  # unmapped column kept as segment
    assert verbatims["verbatim_id"].tolist() == ["1", "2"]


def test_utf8_bom_and_tab_delimiter() -> None:
    data = "\ufeffid\ttext\tscore\n1\tпривет мир\t8\n".encode()
    frame = ingest.read_csv_bytes(data)
    assert list(frame.columns) == ["id", "text", "score"]
    assert frame.loc[0, "text"] == "привет мир"


def test_decode_keeps_utf8_file_with_one_broken_line() -> None:
    good = "id,text\n" + "".join(f"{i},доставка номер {i}\n" for i in range(20))
    data = good.encode() + b"99,broken \xff\xfe bytes\n"
    text, encoding = ingest.decode_bytes(data)
    assert encoding == "utf-8"
    assert "доставка номер 3" in text
    raw = ingest._as_raw(ingest.read_csv_bytes(data), "x.csv")
    assert raw[ingest.UNDECODABLE].tolist() == [False] * 20 + [True]


def test_only_unreadable_broken_rows_are_quarantined(tmp_path: Path) -> None:
    """Broken bytes in a readable text stay as U+FFFD; a text that is mostly broken bytes goes."""
    path = tmp_path / "broken.csv"
    good = "id,text,score\n" + "".join(f"{i},всё хорошо номер {i},9\n" for i in range(5))
    readable = "5,плохие ".encode() + b"\xff\xfe,3\n"
    unreadable = b"6,\xff\xfe\xfd \xfc\xfb ok,3\n"  # 2 letters, 5 replacement characters
    path.write_bytes(good.encode() + readable + unreadable)
    verbatims, quarantine = _map(ingest.read_input(str(path)))
    assert ingest.decode_bytes(path.read_bytes())[1] == "utf-8"
    assert verbatims["verbatim_id"].tolist() == ["0", "1", "2", "3", "4", "5"]
    assert verbatims["text"].iloc[5] == "плохие \ufffd\ufffd"
    assert verbatims[ingest.REPLACEMENT].tolist() == [False] * 5 + [True]
    assert quarantine["reason"].tolist() == ["undecodable"]
    assert quarantine["row_number"].tolist() == [7]


@pytest.mark.parametrize(
    ("value", "scale", "expected"),
    [
        ("9", "nps", (9.0, None)),
        ("9.0", "nps", (9.0, None)),
        ("7,0", "nps", (7.0, None)),
        (" 0 ", "nps", (0.0, None)),
        ("ten", "nps", (None, "score_not_a_number")),
        ("11", "nps", (None, "score_out_of_range")),
        ("-1", "nps", (None, "score_out_of_range")),
        ("8.5", "nps", (None, "score_out_of_range")),
        ("", "nps", (None, "score_missing")),
        ("0", "csat", (None, "score_out_of_range")),
        ("5", "csat", (5.0, None)),
        ("7", "ces", (7.0, None)),
        ("8", "ces", (None, "score_out_of_range")),
        # the ends of the scale as choice-text exports label them, and "out of" the scale's top
        ("10 - Extremely likely", "nps", (10.0, None)),
        ("0 (Not at all likely)", "nps", (0.0, None)),
        ("10 – Крайне вероятно", "nps", (10.0, None)),
        ("9/10", "nps", (9.0, None)),
        ("4/5", "csat", (4.0, None)),
        ("4/5", "nps", (None, "score_not_a_number")),  # out of 5 is not on the 0-10 scale
        ("11 - wow", "nps", (None, "score_out_of_range")),
        ("5 - 6", "nps", (None, "score_not_a_number")),  # a range is no answer
    ],
)
def test_parse_score(value: str, scale: str, expected: tuple[float | None, str | None]) -> None:
    assert ingest.parse_score(value, scale) == expected


@pytest.mark.parametrize(
    ("scale", "scores", "roles"),
    [
        ("nps", range(11), ["detractor"] * 7 + ["passive"] * 2 + ["promoter"] * 2),
        ("csat", range(1, 6), ["detractor"] * 2 + ["passive"] + ["promoter"] * 2),
        ("ces", range(1, 8), ["detractor"] * 3 + ["passive"] * 2 + ["promoter"] * 2),
    ],
)
def test_role_mapping_on_every_scale(scale: str, scores: range, roles: list[str]) -> None:
    assert [ingest.role_for(s, scale) for s in scores] == roles


def test_column_auto_detection_and_segments() -> None:
    raw = ingest._as_raw(EN_ROWS, "en.csv")
    verbatims, quarantine = _map(raw)
    assert quarantine.empty
    assert verbatims["verbatim_id"].tolist() == ["a1", "a2", "a3"]
    assert verbatims["score"].tolist() == [2.0, 9.0, 5.0]
    assert verbatims["role"].tolist() == ["detractor", "promoter", "detractor"]
    assert verbatims["source"].unique().tolist() == ["survey"]
    assert verbatims["plan"].tolist() == ["basic", "plus", "basic"]
    assert str(verbatims["created_at"].iloc[2]) == "2026-11-03 08:30:00"


def test_explicit_column_mapping_wins_and_unknown_column_fails() -> None:
    raw = ingest._as_raw(EN_ROWS.rename(columns={"comment": "why", "plan": "notes"}), "x")
    mapping = ingest.map_columns(raw.columns, ColumnMap(text="notes"))
    assert mapping["text"] == "notes"
    with pytest.raises(ingest.InputError, match="'nope'"):
        ingest.map_columns(raw.columns, ColumnMap(score="nope"))
    with pytest.raises(ingest.InputError, match="no text column"):
        ingest.map_columns(["a", "b"], ColumnMap())


def test_scores_and_dates_quarantined_with_reason_codes() -> None:
    frame = pd.DataFrame(
        {
            "id": ["1", "2", "3", "4", "5", "6"],
            "text": ["fine", "ok then", "bad", "meh", "lovely", "late"],
            "score": ["ten", "11", "-1", "", "9", "3"],
            "date": ["2026-01-01", "2026-01-01", "2026-01-01", "2026-01-01", "2026-13-45", ""],
        }
    )
    verbatims, quarantine = _map(ingest._as_raw(frame, "q.csv"))
    assert verbatims.empty
    assert quarantine["reason"].tolist() == [
        "score_not_a_number",
        "score_out_of_range",
        "score_out_of_range",
        "score_missing",
        "bad_date",
        "bad_date",
    ]
    assert '"score": "ten"' in quarantine["original"].iloc[0]


def test_complaints_get_role_complaint_and_other_scales_per_source() -> None:
    frame = pd.DataFrame(
        {
            "text": ["parcel lost", "quick answer", "survey says meh"],
            "source": ["Complaint", "csat", "survey"],
            "rating": ["", "5", "4"],
        }
    )
    settings = {"source_scales": {"complaint": "none", "survey": "csat"}}
    verbatims, quarantine = _map(ingest._as_raw(frame, "x"), **settings)
    assert quarantine.empty
    assert verbatims["source"].tolist() == ["complaint", "survey", "survey"]
    assert verbatims["role"].tolist() == ["complaint", "promoter", "promoter"]
    assert verbatims["scale"].tolist() == ["none", "csat", "csat"]
    assert pd.isna(verbatims["score"].iloc[0])


@pytest.mark.parametrize(
    ("column", "taken"),
    [("tweet_id", True), ("ResponseId", True), ("Respondent ID", True), ("ID отзыва", True),
     ("order_id", False), ("session_id", False), ("row_id", False), ("tweetid_note", False)],
)  # fmt: skip
def test_an_id_column_is_found_by_its_name_and_unique_values(column: str, taken: bool) -> None:
    """The id of the answer or post itself is the verbatim id; an order or session id is not
    (a second complaint about one order would be a conflict), and neither is a column named
    like an id whose values repeat."""
    ids = ["570306133677760513", "570301130888122368", "570301083672813571"]
    raw = ingest._as_raw(EN_ROWS.drop(columns="response_id").assign(**{column: ids}), "x.csv")
    verbatims, _ = _map(raw)
    assert (verbatims["verbatim_id"].tolist() == ids) is taken
    assert (column in verbatims) is not taken  # a segment column otherwise
    assert verbatims.attrs["inputs"][0]["id_column"] == (column if taken else None)
    repeated = ingest._as_raw(EN_ROWS.drop(columns="response_id").assign(tweet_id="7"), "x")
    assert _map(repeated)[0]["verbatim_id"].str.startswith("h").all()


def test_camel_case_headers_map_like_snake_case() -> None:
    raw = ingest._as_raw(EN_ROWS.rename(columns={"created_at": "CreatedAt",
                                                 "score": "NPSScore"}), "x.csv")  # fmt: skip
    mapping = ingest.map_columns(raw.columns, ColumnMap())
    assert (mapping["date"], mapping["score"]) == ("CreatedAt", "NPSScore")


def test_russian_journey_and_channel_headers_map() -> None:
    """A Russian survey export names its journey stage "Этап пути" and its channel "Канал
    связи": breakdowns per journey stage need them as touchpoint and channel, not segments."""
    columns = ["Комментарий", "Оценка", "Этап пути", "Канал связи", "ID клиента"]
    mapping = ingest.map_columns(columns, ColumnMap())
    assert (mapping["touchpoint"], mapping["channel"], mapping["customer_id"]) == (
        "Этап пути", "Канал связи", "ID клиента")  # fmt: skip


def test_rows_without_id_get_stable_content_hash() -> None:
    frame = pd.DataFrame({"text": ["a b c", "d e f"], "score": ["1", "2"]})
    first, _ = _map(ingest._as_raw(frame, "x"))
    again, _ = _map(ingest._as_raw(frame.copy(), "y"))
    assert first["verbatim_id"].tolist() == again["verbatim_id"].tolist()
    assert first["verbatim_id"].str.match(r"^h[0-9a-f]{15}$").all()


@pytest.mark.parametrize("fmt", ["xlsx", "parquet", "jsonl"])
def test_file_formats(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"in.{fmt}"
    if fmt == "xlsx":
        EN_ROWS.to_excel(path, index=False)
    elif fmt == "parquet":
        EN_ROWS.assign(score=[2, 9, 5]).to_parquet(path)
    else:
        EN_ROWS.to_json(path, orient="records", lines=True, force_ascii=False)
    verbatims, quarantine = _map(ingest.read_input(str(path)))
    assert quarantine.empty
    assert verbatims["text"].tolist() == EN_ROWS["comment"].tolist()
    assert verbatims["score"].tolist() == [2.0, 9.0, 5.0]


def _sqlite(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        EN_ROWS.to_sql("feedback", conn, index=False)
    return f"sqlite:///{path}"


def test_sqlite_table_and_query(tmp_path: Path) -> None:
    url = _sqlite(tmp_path / "fb.sqlite")
    table = ingest.read_input("table:feedback", url)
    assert len(table) == 3
    query = ingest.read_input("sql:SELECT * FROM feedback WHERE score < '5'", url)
    verbatims, _ = _map(query)
    assert verbatims["verbatim_id"].tolist() == ["a1"]


def test_duckdb_query(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "fb.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.register("src", EN_ROWS)
        conn.execute("CREATE TABLE feedback AS SELECT * FROM src")
    raw = ingest.read_input("sql:SELECT * FROM feedback ORDER BY response_id", f"duckdb:///{path}")
    verbatims, _ = _map(raw)
    assert verbatims["text"].tolist() == EN_ROWS["comment"].tolist()


def test_sql_errors_never_show_the_password() -> None:
    url = "postgresql+psycopg://analyst:s3cret-pw@127.0.0.1:1/feedback"
    with pytest.raises(ingest.InputError) as err:
        ingest.read_input("table:feedback", url)
    assert "s3cret-pw" not in str(err.value)
    assert "127.0.0.1" in str(err.value)


def test_missing_file_and_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(ingest.InputError, match="not found"):
        ingest.read_input(str(tmp_path / "nope.csv"))
    odd = tmp_path / "data.doc"
    odd.write_text("x")
    with pytest.raises(ingest.InputError, match="unsupported"):
        ingest.read_input(str(odd))
