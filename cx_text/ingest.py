"""Ingest: read raw inputs (files or SQL) and map them onto the verbatim schema.

Readers at the top are the only functions here that touch files or databases; everything from
`map_columns` down is a pure function over DataFrames. Raw frames keep every value as a string so
that quarantined rows can be reported exactly as they arrived.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import logging
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cx_text.dates import DateOrder, find_date_column, infer_order, parse_dates
from cx_text.schemas import QUARANTINE, VERBATIMS, segment_name
from cx_text.settings import ColumnMap, IngestSettings, redact, safe_url

ROW = "_row_number"
INPUT = "_input"
# rows with bytes their file's encoding could not decode (now U+FFFD); quarantined only when
# what is left of the text is not readable
UNDECODABLE = "_undecodable"
# rows with a U+FFFD replacement character in any value (survey tools write them): counted
REPLACEMENT = "_replacement_chars"
ORIGINAL = "_original"
# the id a row gets from its content when it has no id of its own (`_value_ids`): a nightly
# matches it against the store, so rows stored before their id column was recognised keep their
# ids; CELL_ID is the content id of versions before `_value_ids`, a hash of the cells as written
CONTENT_ID = "_content_id"
CELL_ID = "_cell_id"
# set by the CSV reader on rows whose field count differs from the header's: what was wrong
MALFORMED = "_malformed"
# every field of a malformed row as JSON, so its quarantine record keeps the extra fields too
ALL_FIELDS = "_all_fields"
FIELDS = tuple(ColumnMap.model_fields)
STDIN = "-"
log = logging.getLogger("cx_text")


class InputError(ValueError):
    """A user mistake about an input: missing file, unknown format or column."""


class SourceError(InputError):
    """A source failed while being read (database timeout, dropped connection): may recover."""


# --------------------------------------------------------------------------- readers (I/O edge)


def read_input(
    spec: str, sql_url: str | None = None, params: dict[str, str] | None = None,
    columns: ColumnMap | None = None,
) -> pd.DataFrame:  # fmt: skip
    """Read one input into a raw frame of strings with `_input` and `_row_number` columns.

    Args:
        spec: a file path (.csv/.tsv/.txt, .xlsx, .parquet, .jsonl/.ndjson) or, with `sql_url`,
            ``sql:SELECT ...`` for a query or ``table:NAME`` for a whole table.
        sql_url: SQLAlchemy URL for SQL inputs (from settings or the environment).
        params: bind parameters a query may use, e.g. ``:watermark`` for incremental pulls.
        columns: the columns named by the user (`ingest.columns`): a workbook's sheet holding
            the named text column is never skipped as one without text.
    """
    label = input_label(spec)
    if spec.startswith(("sql:", "table:")):
        return _as_raw(_read_sql(spec, sql_url, params or {}), label)
    if spec == STDIN:
        return _as_raw(_read_stdin(), label)
    path = Path(spec)
    if not path.is_file():
        raise InputError(f"input file not found: {spec}")
    try:
        sheets = _read_file(path)
    except InputError as exc:
        raise InputError(f"{label}: {exc}") from exc
    except Exception as exc:  # the I/O edge: whatever a parser raises, the file is unreadable
        raise InputError(
            f"{label}: cannot be read as {path.suffix.lstrip('.').upper()}: {one_line(exc)}"
        ) from exc
    if len(sheets) == 1:
        return _as_raw(next(iter(sheets.values())), label)
    # several sheets: each keeps its own row numbers, named `file.xlsx[Sheet]`
    parts = {name: _as_raw(frame.assign(sheet=name), f"{label}[{name}]")
             for name, frame in sheets.items()}  # fmt: skip
    tables = {name: part for name, part in parts.items()
              if _has_text_column(part, columns or ColumnMap())}  # fmt: skip
    kept = tables or parts  # no sheet with a text column found: the mapping decides, as before
    raw = pd.concat(list(kept.values()), ignore_index=True).fillna("")
    raw.attrs["skipped_sheets"] = [name for name in parts if name not in kept]
    return raw


def _has_text_column(raw: pd.DataFrame, columns: ColumnMap) -> bool:
    """Whether a sheet has a column the text would be found in (the one the user named, an
    alias, a question, or the one free-text column): a workbook's summary or pivot sheet beside
    its answers has none."""
    if columns.text is not None:
        return columns.text in raw.columns
    mapping = map_columns(raw.columns, ColumnMap(), require_text=False)
    return "text" in mapping or "text" in found_by_question(raw, mapping, {})


def input_label(spec: str) -> str:
    """How an input is named in messages, quarantine records and run.json."""
    if spec.startswith(("sql:", "table:")):
        return spec.split(":", 1)[0] + ":" + _sql_label(spec)
    return "stdin" if spec == STDIN else Path(spec).name


def _read_stdin() -> pd.DataFrame:
    """`-` as an input: CSV bytes from standard input, of any encoding and delimiter."""
    try:
        return read_csv_bytes(sys.stdin.buffer.read())
    except InputError as exc:
        raise InputError(f"stdin: {exc}") from exc


def one_line(exc: BaseException) -> str:
    """An exception as one line: its class and the first line of its message."""
    lines = str(exc).strip().splitlines()
    return f"{exc.__class__.__name__}: {lines[0] if lines else ''}".rstrip(": ")


FILE_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".parquet", ".jsonl", ".ndjson")


def configured_inputs(drop_folder: Path | None, sql_queries: list[str]) -> list[str]:
    """Input specs of the scheduled flows: every file in the drop folder, then SQL queries."""
    files = []
    if drop_folder is not None:
        if not drop_folder.is_dir():
            raise InputError(f"drop folder not found: {drop_folder}")
        files = sorted(str(p) for p in drop_folder.iterdir() if p.suffix.lower() in FILE_SUFFIXES)
    return files + [q if q.startswith(("sql:", "table:")) else f"sql:{q}" for q in sql_queries]


def _read_file(path: Path) -> dict[str, pd.DataFrame]:
    """The file's tables by sheet name (one table, named after the file, except for workbooks)."""
    suffix = path.suffix.lower()
    if suffix in {".csv", ".tsv", ".txt"}:
        return {path.name: read_csv_bytes(path.read_bytes())}
    if suffix in {".xlsx", ".xlsm"}:
        return read_workbook(path)
    if suffix == ".parquet":
        return {path.name: pd.read_parquet(path)}
    if suffix in {".jsonl", ".ndjson"}:
        return {path.name: pd.read_json(path, lines=True, dtype=False)}
    raise InputError(f"unsupported input format '{suffix}'")


def read_workbook(path: Path) -> dict[str, pd.DataFrame]:
    """Every sheet that has rows; a workbook of empty sheets gives its first sheet."""
    sheets = pd.read_excel(path, sheet_name=None, dtype=str, keep_default_na=False)
    with_rows = {str(name): frame for name, frame in sheets.items() if len(frame)}
    if not with_rows:
        name, frame = next(iter(sheets.items()))
        return {str(name): frame}
    return with_rows


def _read_sql(spec: str, sql_url: str | None, params: dict[str, str]) -> pd.DataFrame:
    import sqlalchemy as sa

    if not sql_url:
        raise InputError("SQL input needs a URL: set CX_TEXT_INGEST__SQL_URL or [ingest] sql_url")
    kind, body = spec.split(":", 1)
    try:
        engine = sa.create_engine(sql_url)
    except (sa.exc.SQLAlchemyError, ValueError, ImportError) as exc:
        # an unparseable URL is echoed whole in the message: redact, and drop the chain
        message = (
            f"SQL input URL {safe_url(sql_url)} is not usable: {exc.__class__.__name__}: {exc}"
        )
        raise InputError(redact(message, sql_url)) from None
    try:
        with engine.connect() as conn:
            if kind == "table":
                table = sa.Table(body.strip(), sa.MetaData(), autoload_with=conn)
                return pd.read_sql(sa.select(table), conn)
            used = {k: v for k, v in params.items() if f":{k}" in body}
            return pd.read_sql(sa.text(body), conn, params=used)
    except (sa.exc.SQLAlchemyError, OSError) as exc:
        # the URL is shown with its password hidden, and the message redacted anyway; only the
        # first line of the cause (SQLAlchemy appends the SQL and a help link); the chained
        # exception is dropped (Prefect logs print chains in full)
        cause = getattr(exc, "orig", None) or exc
        message = f"SQL input {input_label(spec)} failed on {safe_url(sql_url)}: {one_line(cause)}"
        raise SourceError(redact(message, sql_url)) from None
    finally:
        engine.dispose()


def _sql_label(spec: str) -> str:
    return hashlib.sha1(spec.encode()).hexdigest()[:8]


_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
# single-byte Latin and Cyrillic code pages: charset-normalizer confuses them on short exports
# (French latin-1 read as cp1250), the cp1251 / cp1252 test below tells them apart better
_CODE_PAGES_DECIDED_HERE = frozenset(
    {"cp1250", "cp1251", "cp1252", "cp1257", "latin_1", "iso8859_1", "iso8859_2", "iso8859_5",
     "iso8859_15", "mac_roman", "mac_latin2", "mac_cyrillic"}
)  # fmt: skip


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode a text export of unknown encoding: returns (text, the codec used).

    In order: a byte-order mark (UTF-8, UTF-16, UTF-32); UTF-16 without one (Excel's "Unicode
    text"); UTF-8; UTF-8 with a few broken byte sequences (they become U+FFFD); the encoding
    charset-normalizer recognises (KOI8-R, Shift-JIS, GB18030, Greek...); else cp1251 (common
    in Russian exports) or cp1252 / latin-1, whichever leaves fewer mixed-script words.
    """
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return data.decode(codec, errors="replace").lstrip("\ufeff"), codec
    utf16 = _utf16_without_bom(data)
    if utf16 is not None:
        return data.decode(utf16, errors="replace"), utf16
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    # cp1251 text almost never forms valid multi-byte UTF-8 sequences, so a file where most
    # non-ASCII characters decode as UTF-8 is a UTF-8 file with a few broken bytes.
    as_utf8 = data.decode("utf-8", errors="replace")
    broken = as_utf8.count("\ufffd")
    valid = sum(1 for ch in as_utf8 if ord(ch) > 127) - broken
    if valid >= broken:
        return as_utf8, "utf-8"
    guess = _charset_guess(data)
    if guess is not None:
        return data.decode(guess, errors="replace"), guess
    return _cp1251_or_cp1252(data)


def _utf16_without_bom(data: bytes) -> str | None:
    """'utf-16-le' / 'utf-16-be' when NUL bytes sit in one byte position of each pair.

    ASCII characters (digits, delimiters, line ends) have a NUL high byte in UTF-16; the NUL
    bytes a broken UTF-8 export may carry fall on either position. The decoded text must also
    have a line end, which a UTF-8 file read as UTF-16 almost never has.
    """
    if len(data) < 4 or len(data) % 2:
        return None
    sample = data[:65536]
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    high, low = max(even, odd), min(even, odd)
    if high < max(2, len(sample) // 20) or low > high // 20:
        return None
    codec = "utf-16-le" if odd > even else "utf-16-be"
    try:
        text = data.decode(codec)
    except UnicodeDecodeError:
        return None
    return codec if "\n" in text or "\r" in text else None


def _charset_guess(data: bytes) -> str | None:
    """charset-normalizer's encoding, unless it is a code page `_cp1251_or_cp1252` decides."""
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or best.encoding in _CODE_PAGES_DECIDED_HERE:
        return None
    return str(best.encoding)


def _cp1251_or_cp1252(data: bytes) -> tuple[str, str]:
    as_cp1251 = data.decode("cp1251", errors="replace")
    as_latin = data.decode("cp1252", errors="replace")
    # Western European text read as cp1251 puts Cyrillic letters inside Latin words ("cafй");
    # Russian text read as cp1252 never mixes scripts, so it stays cp1251 (the common case).
    if _mixed_script_words(as_cp1251) > _mixed_script_words(as_latin):
        return as_latin, "cp1252"
    return as_cp1251, "cp1251"


def decodes_cleanly(data: bytes, codec: str) -> bool:
    """True when every byte is valid in `codec`: no U+FFFD was made up by the decoder."""
    try:
        data.decode(codec)
    except UnicodeDecodeError:
        return False
    return True


_LATIN_AND_CYRILLIC = re.compile(r"\b(?=\w*[a-zA-Z])(?=\w*[\u0400-\u04ff])\w+")


def _mixed_script_words(text: str) -> int:
    return len(_LATIN_AND_CYRILLIC.findall(text))


def sniff_delimiter(text: str) -> str:
    """The delimiter of a CSV sample among , ; tab and |."""
    sample = "\n".join(text.splitlines()[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        header = sample.splitlines()[0] if sample else ""
        return max(",;\t|", key=header.count)


def read_csv_bytes(data: bytes) -> pd.DataFrame:
    """Parse CSV bytes of unknown encoding and delimiter into a frame of strings.

    A row with more or fewer fields than the header is kept, marked in `_malformed` (and all its
    fields in `_all_fields`) so that it is quarantined instead of failing the whole file.

    Raises:
        InputError: the file has no header (it is empty).
    """
    text, codec = decode_bytes(data)
    if not text.strip():
        raise InputError("the file is empty (no header, no rows)")
    limit = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)  # one comment may be megabytes; clean decides what is kept
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))
        records = [record for record in reader if record]
    finally:
        csv.field_size_limit(limit)
    start = table_start(records[0], records[1:TITLE_LINES])
    header = _unique([c.strip() for c in records[start]])
    frame = _records_frame(header, records[start + 1 :])
    if not decodes_cleanly(data, codec):
        frame[UNDECODABLE] = _has_replacement(frame)
    return frame


# a report tool's export may put a title, a filter line or blank lines above the table's header
TITLE_LINES = 10
TITLE_CELLS = 2  # a title or filter line fills at most this many cells
_UNNAMED = re.compile(r"Unnamed: \d+(?:_level_\d+)?")  # pandas' name for an empty header cell


def table_start(header: list[str], rows: list[list[str]]) -> int:
    """Which line holds the column names: 0 for `header` itself, i for `rows[i - 1]`.

    When the first line fills at most `TITLE_CELLS` cells and is narrower than the table or
    fills under half of it (the table's width: the most common field count of the first lines),
    it is a title ("NPS verbatims, November 2026"), a filter line or a blank line: in a CSV a
    line of one or two fields, or one padded with empty fields as Excel saves it; in a workbook
    a first row whose other cells pandas names "Unnamed: N". The header is then the first of the
    first `TITLE_LINES` lines of the table's width that fills at least half of it. A table under
    3 columns is left as it is, and so is a first line that fills more cells (trailing unnamed
    columns are common and harmless).
    """
    lines = [header, *rows]
    width = Counter(len(line) for line in lines).most_common(1)[0][0]

    def filled(line: list[str]) -> int:
        return sum(bool(str(c).strip()) and not _UNNAMED.fullmatch(str(c).strip()) for c in line)

    title = filled(header) <= TITLE_CELLS and (len(header) < width or 2 * filled(header) < width)
    if width >= 3 and not title and rows and _group_header(header, rows[0], filled):
        return 1
    if width < 3 or not title:
        return 0
    return next((i for i, line in enumerate(lines)
                 if len(line) == width and 2 * filled(line) >= width), 0)  # fmt: skip


def _group_header(first: list[str], second: list[str], filled: Callable[[list[str]], int]) -> bool:
    """Whether `first` labels groups of the columns `second` names (a workbook's merged cells
    above its header: "Respondent", "", "Scores", "", "Feedback"): it leaves cells empty,
    `second` fills every one, and more of `second`'s names are ones columns are known by."""

    def known(line: list[str]) -> int:
        return sum(_norm_name(str(c)) in _KNOWN_NAMES for c in line)

    return (len(second) == len(first) and filled(first) < len(first)
            and filled(second) == len(second) and known(second) > known(first))  # fmt: skip


def _has_replacement(frame: pd.DataFrame) -> pd.Series:
    """Rows with a U+FFFD replacement character in any of their values."""
    values = [frame[c].astype(str).str.contains("\ufffd", regex=False)
              for c in frame.columns if not c.startswith("_")]  # fmt: skip
    if not values:
        return pd.Series(False, index=frame.index, dtype=bool)
    return pd.concat(values, axis=1).any(axis=1).astype(bool)


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}.{seen[name] - 1}")
    return out


def _records_frame(header: list[str], records: list[list[str]]) -> pd.DataFrame:
    width = len(header)
    rows, malformed, all_fields = [], [], []
    for record in records:
        ok = len(record) == width
        rows.append(record if ok else (record + [""] * width)[:width])
        malformed.append("" if ok else f"expected {width} fields, found {len(record)}")
        all_fields.append("" if ok else json.dumps(record, ensure_ascii=False))
    frame = pd.DataFrame(rows, columns=header, dtype=object)
    if any(malformed):
        frame[MALFORMED] = malformed
        frame[ALL_FIELDS] = all_fields
    return frame


def read_frame(frame: pd.DataFrame, label: str = "dataframe") -> pd.DataFrame:
    """A DataFrame given in memory (`cx_text.analyze`) as the raw frame a file read gives."""
    return _as_raw(frame, label)


def _as_raw(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    values = [c for c in frame.columns if c != UNDECODABLE]
    raw = pd.DataFrame(
        {i: frame[c].map(_to_str).astype(object) for i, c in enumerate(values)}, index=frame.index
    )
    raw.columns = [str(c).lstrip("\ufeff").strip() for c in values]
    start = table_start(list(raw.columns), raw.head(TITLE_LINES - 1).values.tolist())
    if start:  # a workbook's title rows above its header: the header row names the columns
        names = [str(c).strip() for c in raw.iloc[start - 1]]
        raw, frame = raw.iloc[start:], frame.iloc[start:]
        raw.columns = _unique(names)
    header = survey_header(raw)
    if header.rows:  # the survey tool's own header rows are not answers
        raw, frame = raw.iloc[header.rows :], frame.iloc[header.rows :]
        raw = raw.drop(columns=list(header.dropped))
    # set by the CSV reader only: rows with bytes the file's encoding could not decode
    undecodable = frame[UNDECODABLE] if UNDECODABLE in frame.columns else False
    internals = {
        **{col: "" for col in (MALFORMED, ALL_FIELDS) if col not in raw.columns},
        UNDECODABLE: pd.Series(undecodable, index=raw.index).astype(bool),
        REPLACEMENT: _has_replacement(raw),
        INPUT: label,
        ROW: np.arange(1, len(raw) + 1) + header.rows,  # the file's data rows, as numbered there
    }
    out = pd.concat([raw, pd.DataFrame(internals, index=raw.index)], axis=1).reset_index(drop=True)
    out.attrs["survey_header"] = header
    return out


@dataclass(frozen=True)
class SurveyHeader:
    """What a survey tool's export carries above its answers (`survey_header`)."""

    tool: str | None = None  # "qualtrics" or "surveymonkey"
    rows: int = 0  # header rows under the column names, dropped before the answers
    questions: dict[str, str] = dataclasses.field(default_factory=dict)  # column -> its wording
    dropped: tuple[str, ...] = ()  # the tool's own personal-data columns, not read


# Qualtrics writes each column's question under its id ("Q2" / "What is the main reason for your
# score?") and a row of {"ImportId": ...} under that; SurveyMonkey writes the question as the
# column name and a row of "Response" / "Open-Ended Response" under it.
_IMPORT_ID = re.compile(r'^\{"ImportId":')
_MONKEY_SUBHEADERS = frozenset({"response", "open-ended response", "other (please specify)",
                                "open-ended", "comment"})  # fmt: skip
# each tool's respondent metadata: personal data that says nothing about the answer
TOOL_PERSONAL = {
    "qualtrics": ("IPAddress", "RecipientLastName", "RecipientFirstName", "RecipientEmail",
                  "LocationLatitude", "LocationLongitude"),
    "surveymonkey": ("IP Address", "Email Address", "First Name", "Last Name"),
}  # fmt: skip


def survey_header(raw: pd.DataFrame) -> SurveyHeader:
    """The header rows a Qualtrics or SurveyMonkey export has under its column names.

    Qualtrics: the row of ImportIds (most filled cells of one of the first three rows start with
    `{"ImportId":`) and every row above it; the row just above it holds the questions.
    SurveyMonkey: a first row whose filled cells are only its sub-headers ("Response",
    "Open-Ended Response"). Either tool's respondent columns (`TOOL_PERSONAL`: IP address, name,
    e-mail, Qualtrics' location) are dropped. Any other input: no header rows.
    """
    user = [c for c in raw.columns if not c.startswith("_")]
    for position in range(min(3, len(raw))):
        cells = [v.strip() for v in raw[user].iloc[position] if v.strip()]
        if cells and sum(bool(_IMPORT_ID.match(v)) for v in cells) >= 0.5 * len(cells):
            wording = raw[user].iloc[position - 1] if position else pd.Series(dtype=object)
            questions = {c: str(wording[c]).strip() for c in user
                         if position and str(wording[c]).strip()}  # fmt: skip
            return SurveyHeader("qualtrics", position + 1, questions, _personal(raw, "qualtrics"))
    if len(raw):
        under = {v.strip().casefold() for v in raw[user].iloc[0] if v.strip()}
        if under and under <= _MONKEY_SUBHEADERS and under & {"response", "open-ended response"}:
            return SurveyHeader("surveymonkey", 1, {}, _personal(raw, "surveymonkey"))
    return SurveyHeader()


def _personal(raw: pd.DataFrame, tool: str) -> tuple[str, ...]:
    return tuple(c for c in TOOL_PERSONAL[tool] if c in raw.columns)


def _to_str(value: object) -> str:
    """A cell as the text a CSV would hold: missing values (None, NaN, NaT, and pandas'
    nullable types' `pd.NA`, which `str` would spell "<NA>") are empty."""
    if (
        value is None
        or value is pd.NA
        or value is pd.NaT
        or (isinstance(value, float) and np.isnan(value))
    ):
        return ""
    if isinstance(value, pd.Timestamp):
        return value.isoformat(sep=" ")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # an int column with gaps arrives as floats: 17.0 means 17
    return str(value)


# --------------------------------------------------------------------------- column mapping

ALIASES: dict[str, tuple[str, ...]] = {
    "text": ("text", "comment", "comments", "verbatim", "feedback", "response_text", "answer",
             "review", "message", "body", "description", "complaint", "complaint_text", "why",
             "комментарий", "отзыв", "текст", "ответ", "сообщение", "жалоба", "обращение"),
    "score": ("score", "nps", "nps_score", "rating", "likelihood_to_recommend", "ltr", "csat",
              "ces", "оценка", "балл", "рейтинг", "nps_оценка"),
    "id": ("id", "response_id", "verbatim_id", "record_id", "ticket_id", "complaint_id",
           "feedback_id", "ид", "номер", "номер_обращения"),
    "date": ("date", "created_at", "created", "timestamp", "submitted_at", "response_date",
             "datetime", "date_received", "recorded_date", "submit_date", "date_submitted",
             "completed_at", "end_date", "дата", "дата_создания", "дата_ответа"),
    "customer_id": ("customer_id", "customer", "client_id", "user_id", "account_id",
                    "клиент", "id_клиента", "номер_клиента"),
    "touchpoint": ("touchpoint", "stage", "journey_stage", "journey_step", "customer_journey_stage",
                   "journey", "step", "этап", "этап_пути", "этап_клиентского_пути",
                   "точка_контакта", "точка_касания"),
    "channel": ("channel", "канал", "канал_связи", "канал_опроса"),
    "source": ("source", "feedback_type", "type", "источник", "тип"),
    "language": ("language", "lang", "user_language", "reviewer_language", "язык"),
}  # fmt: skip


# every name a column is known by (`_group_header`)
_KNOWN_NAMES = frozenset(a for names in ALIASES.values() for a in names)


def _norm_name(name: str) -> str:
    """Lower case, words joined by "_": "Created At", "created-at", "CreatedAt" alike,
    "NPSScore" as "nps_score", and a time zone in brackets left out ("Submit Date (UTC)" as
    "submit_date", Typeform's name)."""
    name = re.sub(r"\s*\((?:utc|gmt|msk|мск)[^)]*\)\s*$", "", name.strip(), flags=re.I)
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
    return re.sub(r"[\s\-.]+", "_", words.lower())


# what a verbatim's own id is named after, besides the "id" aliases: the answer, comment or post
# it identifies ("ResponseId" of Qualtrics, "Respondent ID" of SurveyMonkey, "tweet_id").
# An order, session or product id is not one: a second complaint about one order would arrive
# with a stored id and other text, and be quarantined as a conflict; nor is a row number, which
# starts again in every export.
ID_OF = (r"response|respondent|survey_response|submission|entry|record|review|comment|"
         r"message|post|tweet|feedback|verbatim|complaint|ticket|case|answer|отзыв\w*|"
         r"обращени\w*|ответ\w*|жалоб\w*|комментари\w*|сообщени\w*|анкет\w*")  # fmt: skip
ID_NAME = re.compile(rf"(?:{ID_OF})_(?:id|uuid|no|number)|(?:id|ид|номер)_(?:{ID_OF})")
# an id column found by name is taken only if nearly every row has a value and nearly every
# value is distinct (a re-delivered duplicate row within one file is allowed)
ID_COVERAGE = 0.95


def map_columns(
    columns: Iterable[str], explicit: ColumnMap, require_text: bool = True
) -> dict[str, str]:
    """Map schema fields to input columns: explicit names first, then known aliases.

    Raises:
        InputError: an explicitly named column is absent, or (with `require_text`) no text
            column can be found.
    """
    columns = [c for c in columns if not c.startswith("_")]
    by_norm = {_norm_name(c): c for c in columns}
    mapping: dict[str, str] = {}
    for field in FIELDS:
        wanted = getattr(explicit, field)
        if wanted is not None:
            if wanted not in columns:
                raise InputError(f"column '{wanted}' (for {field}) not in input: {columns}")
            mapping[field] = wanted
            continue
        found = next((by_norm[a] for a in ALIASES[field] if a in by_norm), None)
        if found is not None and found not in mapping.values():
            mapping[field] = found
    if require_text and "text" not in mapping:
        raise _no_text(columns)
    return mapping


# columns that name a person or reach one (any input's; the survey tools' own are
# `TOOL_PERSONAL`), matched on `_norm_name`: not read unless the user names one for a field
PERSONAL_COLUMN = re.compile(
    r"(?:(?:first|last|middle|full|given|family|customer|client|user|respondent|recipient|"
    r"contact|author|reviewer|sender|requester)_)?(?:name|surname)|name_(?:first|last)|"
    r"requester|author|(?:user|screen)name|"
    r"(?:(?:customer|client|user|contact|respondent|recipient|requester|home|street|postal|"
    r"billing|shipping|delivery)_)?(?:e_?mail(?:_address)?|phone(?:_number)?|telephone|"
    r"mobile(?:_phone|_number)?|address)|ip(?:_address)?|"
    r"фио|имя|фамилия|отчество|(?:имя|фио|телефон|почта|адрес)_клиента|телефон|"
    r"(?:эл_|электронная_)?почта|e_mail|адрес(?:_доставки)?"
)


def personal_columns(columns: Iterable[str], mapping: Mapping[str, str]) -> list[str]:
    """The input's columns named as a person's name, e-mail, phone, postal or IP address
    (`PERSONAL_COLUMN`) that no field reads: dropped before anything is kept. The follow-up
    list names whom to call back by `customer_id`."""
    used = set(mapping.values())
    return [c for c in user_columns(columns)
            if c not in used and PERSONAL_COLUMN.fullmatch(_norm_name(str(c)))]  # fmt: skip


def _filled_twins(
    raw: pd.DataFrame, mapping: Mapping[str, str], explicit: ColumnMap
) -> dict[str, str]:
    """Fields found by name whose column has a twin of the same name (a header naming
    "Comment" twice: "Comment" and "Comment.1") that holds more values: the twin with the most.
    A column the user named is kept."""
    better = {}
    for field, column in mapping.items():
        twins = [c for c in raw.columns if re.fullmatch(re.escape(column) + r"\.\d+", str(c))]
        if getattr(explicit, field, None) is not None or not twins:
            continue
        filled = {c: len(_answered(raw[c])) for c in [column, *twins]}
        best = max(filled, key=lambda c: filled[c])  # the first of the fullest
        if best != column and best not in mapping.values():
            better[field] = best
    return better


def _no_text(columns: list[str]) -> InputError:
    hint = ""
    if len(columns) == 1:  # the whole header is one column: the delimiter was not found
        hint = " (one column only: is the delimiter one of , ; tab | ?)"
    return InputError(f"no text column found among {columns}{hint}; name it with --text-col")


# survey exports name a column by its question (Google Forms, SurveyMonkey, Typeform) or keep
# the question in a header row (Qualtrics): the NPS question and its follow-up, in both languages
SCORE_QUESTION = re.compile(
    r"recommend|net promoter|\bnps\b|порекоменд|рекомендова|посоветова", re.I
)
TEXT_QUESTION = re.compile(
    r"reason|why\b|explain|tell us|comment|feedback|improve|suggest|anything else|"
    r"причин|почему|поясн|расскаж|комментар|отзыв|улучш|предлож|пожелан|"
    # or a name of a text column with more words than the aliases ("Review Content" of
    # Trustpilot, "Review Text" of Google Play, "Ticket description"), free text by its values
    r"review|content|\btext\b|_text\b|body|message|description|verbatim|текст|сообщени|описани",
    re.I,
)
REASON_QUESTION = re.compile(r"reason|why\b|причин|почему", re.I)  # the NPS follow-up itself
# a free-text column: filled in at least this share of rows, with at least this many words on
# average, few answers that are only a number
TEXT_FILLED, TEXT_WORDS, TEXT_NUMERIC = 0.2, 3.0, 0.2
# a column named as the text but holding at most this many distinct values over at least this
# many answers is a category ("Ok", "Good overall"): another free-text column is the text
CATEGORY_VALUES, CATEGORY_ROWS = 10, 30
_NUMBER = re.compile(r"^[+-]?\d+(?:[.,]\d+)?$")


def _answered(values: pd.Series) -> pd.Series:
    """The filled values of a column, stripped."""
    stripped = values.str.strip()
    return stripped[stripped != ""]


def _free_text(values: pd.Series) -> float:
    """Mean words per filled value if `values` reads as customers' free text, else 0."""
    filled = _answered(values)
    if len(filled) < TEXT_FILLED * len(values) or filled.empty:
        return 0.0
    if filled.str.fullmatch(_NUMBER).mean() > TEXT_NUMERIC:
        return 0.0
    words = float(filled.str.split().str.len().mean())
    return words if words >= TEXT_WORDS else 0.0


def _categorical(values: pd.Series) -> bool:
    """Whether `values` hold a few categories rather than answers: at least `CATEGORY_ROWS`
    filled values among at most `CATEGORY_VALUES` distinct ones ("Ok", "Good overall")."""
    filled = _answered(values)
    return len(filled) >= CATEGORY_ROWS and filled.nunique() <= CATEGORY_VALUES


def _label(raw: pd.DataFrame) -> str:
    return str(raw[INPUT].iloc[0]) if len(raw) else ""


def _nps_scores(values: pd.Series) -> bool:
    """Whether the answered values are nearly all whole or decimal numbers from 0 to 10 (empty
    and declined answers, "N/A" or "Не знаю", left out)."""
    parsed = [parse_score(v, "nps") for v in values]
    numbers = pd.Series([n for n, problem in parsed if problem != "score_missing"], dtype=float)
    if numbers.empty:
        return False
    return bool(numbers.notna().mean() >= 0.95 and numbers.nunique() >= 2)


def found_by_question(
    raw: pd.DataFrame, mapping: Mapping[str, str], questions: Mapping[str, str]
) -> dict[str, str]:
    """{"score": column, "text": column} for the fields the aliases did not find, by the
    column's question: its name, or its wording in `questions` (`survey_header`).

    The score is the first column asking how likely the customer is to recommend
    (`SCORE_QUESTION`) whose values are scores from 0 to 10 (Qualtrics' "Q1_NPS_GROUP" beside
    it holds group names). The text is the free-text column (`_free_text`) asking for a reason or
    a comment (`TEXT_QUESTION`), the NPS follow-up ("why", "reason") first, then the one whose
    answers hold the most words (a question most customers answered before a longer one few
    did); without such a question, the only free-text column of the input. An
    input of one column is left alone: its header is most often a whole row the delimiter
    sniffing missed.
    """
    found: dict[str, str] = {}
    if len(user_columns(raw.columns)) < 2:  # a whole row in one column: the delimiter was missed
        return found
    free = [c for c in user_columns(raw.columns) if c not in mapping.values()]

    def asks(column: str, pattern: re.Pattern[str]) -> bool:
        return bool(pattern.search(column) or pattern.search(questions.get(column, "")))

    if "score" not in mapping:
        score = next((c for c in free if asks(c, SCORE_QUESTION) and _nps_scores(raw[c])), None)
        if score is not None:
            found["score"] = score
    if "text" not in mapping:
        words = {c: _free_text(raw[c]) for c in free if c not in found.values()}
        texts = {c: w for c, w in words.items() if w}
        asked = [c for c in texts if asks(c, TEXT_QUESTION)]
        if asked:  # the NPS follow-up, else the most words answered (answers x mean words)
            said = {c: texts[c] * len(_answered(raw[c])) for c in asked}
            found["text"] = max(asked, key=lambda c: (asks(c, REASON_QUESTION), said[c]))
        elif len(texts) == 1:
            found["text"] = next(iter(texts))
    return found


# --------------------------------------------------------------------------- scales and roles

SCALE_RANGES: dict[str, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
# highest score that is still a detractor, highest that is still a passive
ROLE_CUTS: dict[str, tuple[int, int]] = {"nps": (6, 8), "csat": (2, 3), "ces": (3, 5)}


def role_for(score: float, scale: str) -> str:
    """NPS role of a valid score: NPS 0-6/7-8/9-10; CSAT 1-2/3/4-5; CES 1-3/4-5/6-7."""
    detractor_max, passive_max = ROLE_CUTS[scale]
    if score <= detractor_max:
        return "detractor"
    return "passive" if score <= passive_max else "promoter"


# a score exported with its answer label: "10 - Extremely likely", "0 (Not at all likely)",
# "10 – Крайне вероятно" (SurveyMonkey's and Qualtrics' choice-text exports label the ends of the
# scale), or out of the scale's top: "9/10"
_LABELLED_SCORE = re.compile(r"(\d+(?:\.\d+)?)\s*(?:[-–—:(]\s*[^\d\s].*|/\s*(\d+))")


# a score question the respondent declined: the answer is missing, not malformed
_NO_SCORE = re.compile(
    r"n/?a|none|-+|–|—|\?|(?:i )?don[’']?t know|do not know|not sure|no answer|"
    r"prefer not to (?:say|answer)|не знаю|затрудняюсь(?: ответить)?|нет ответа|н/[ад]",
    re.IGNORECASE,
)


def parse_score(value: str, scale: str) -> tuple[float | None, str | None]:
    """Parse a score on its scale: returns (score, None) or (None, reason code). An empty value
    or a declined answer ("N/A", "Don't know", "Не знаю") is `score_missing`."""
    text = value.strip().replace(",", ".")
    if not text or _NO_SCORE.fullmatch(text):
        return None, "score_missing"
    low, high = SCALE_RANGES[scale]
    try:
        number = float(text)
    except ValueError:
        labelled = _LABELLED_SCORE.fullmatch(text)
        if labelled is None or (labelled[2] is not None and int(labelled[2]) != high):
            return None, "score_not_a_number"
        number = float(labelled[1])
    if np.isnan(number):
        return None, "score_not_a_number"
    if not np.isfinite(number) or number != int(number) or not low <= number <= high:
        return None, "score_out_of_range"
    return number, None


SOURCE_WORDS = {
    "survey": ("survey", "nps", "csat", "ces", "опрос", "анкета"),
    "complaint": ("complaint", "complaints", "ticket", "support", "жалоба", "обращение",
                  "претензия"),
}  # fmt: skip


def normalise_source(value: str, default: str) -> str:
    """survey / complaint / other from free-text source values; empty means `default`."""
    word = value.strip().lower()
    if not word:
        return default
    for source, words in SOURCE_WORDS.items():
        if word in words:
            return source
    return "other"


# --------------------------------------------------------------------------- raw -> verbatims

# per-row flags counted in run.json (see clean.count_outcomes), dropped before output
NO_DATE = "_no_date_column"
NO_SCORE = "_no_score_column"
# the input's numeric dates could be read either way (`DateOrder.decided_by` "ambiguous" or
# "conflicting": read month-first): such a date cannot correct a stored one
DATE_GUESSED = "_date_order_guessed"


def to_verbatims(
    raw: pd.DataFrame, settings: IngestSettings, now: pd.Timestamp
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Map one raw input onto the verbatim schema; rows that cannot be mapped go to quarantine.

    A date column is found by name or content when none is named (`cx_text.dates`); an input
    without scores is taken as unscored feedback (source `other`) unless a source is set.
    What was decided is logged and kept in ``verbatims.attrs["inputs"]`` (`input_note`).

    Returns:
        (verbatims, quarantine). Verbatims keep the raw `text`; cleaning comes next.
    """
    header: SurveyHeader = raw.attrs.get("survey_header", SurveyHeader())
    mapping = map_columns(raw.columns, settings.columns, require_text=False)
    mapping.update(_filled_twins(raw, mapping, settings.columns))
    named = mapping.get("text")  # found by its name: passed over if it holds categories
    if named is not None and settings.columns.text is None and _categorical(raw[named]):
        del mapping["text"]
    mapping.update(found_by_question(raw, mapping, header.questions))
    if named is not None and mapping.setdefault("text", named) != named:
        log.warning("%s: text from '%s': '%s' holds %d distinct answers (a category, not "
                    "free text); name it with --text-col to theme it", _label(raw),
                    mapping["text"], named, _answered(raw[named]).nunique())  # fmt: skip
    if "text" not in mapping:
        raise _no_text(user_columns(raw.columns))
    mapping.update(_found_id(raw, mapping))
    mapping.update(_found_date(raw, mapping))
    personal = personal_columns(raw.columns, mapping)
    raw = raw.drop(columns=personal)
    field = {f: raw[mapping[f]] if f in mapping else pd.Series("", index=raw.index) for f in FIELDS}
    default, unscored = _default_source(raw, mapping, settings, field["source"])
    order = None
    if "date" in mapping:
        order = infer_order(field["date"].str.strip(), settings.date_dayfirst)
    core, score_issue = _core_columns(field, settings, default, order, now)
    content_ids = _value_ids(field, core["score"], core["created_at"], order is not None)
    core.insert(0, "verbatim_id", _ids(field["id"], content_ids))
    took_default = unscored & (field["source"].str.strip() == "")
    internals = _internals(raw, order is None, took_default)
    internals[DATE_GUESSED] = order is not None and order.decided_by in ("ambiguous", "conflicting")
    internals[CONTENT_ID] = content_ids
    internals[CELL_ID] = _cell_ids(raw, mapping)
    frame = pd.concat([core, _segments(raw, mapping), internals], axis=1)
    reason = _reasons(raw, score_issue, core["created_at"], order is not None, field["text"])
    reason[_test_responses(raw, header)] = "test_response"
    quarantine = quarantine_rows(frame, reason, _details(raw, reason, field))
    verbatims = frame[reason.isna()].reset_index(drop=True)
    verbatims.attrs["inputs"] = [input_note(raw, mapping, order, unscored, header, personal)]
    return verbatims, quarantine


def _core_columns(
    field: dict[str, pd.Series],
    settings: IngestSettings,
    default_source: str,
    order: DateOrder | None,
    now: pd.Timestamp,
) -> tuple[pd.DataFrame, pd.Series]:
    """The verbatim schema's columns of one input but its id (`_ids`), and each row's score
    problem (or None)."""
    source = field["source"].map(lambda v: normalise_source(v, default_source))
    scale = source.map(lambda s: settings.source_scales.get(s, settings.scale))
    score, role, score_issue = _scores(field["score"], source, scale)
    core = pd.DataFrame(
        {
            "source": source,
            "text": field["text"],
            "score": score,
            "scale": scale,
            "role": role,
            "created_at": _created(field["date"], order, now),
        }
    )
    for name in ("customer_id", "touchpoint", "channel", "language"):
        core[name] = field[name].str.strip().replace("", None)
    return core, score_issue


def _value_ids(
    field: dict[str, pd.Series], score: pd.Series, created: pd.Series, dated: bool
) -> pd.Series:
    """The id of a row without one: a hash of what it says, not of how the export wrote it. The
    text with its case and spacing aside, the date and time as parsed (unparsed ones, which are
    quarantined, as written; none without a date column, whose rows get the run's time), the
    customer, and the score as parsed: "9" and "9.0", "2026-11-30 14:05" and "30.11.2026 14:05"
    give one id. (Stores filled before hold the hash of the cells as written: `CELL_ID`, matched
    by `clean.adopt_stored_ids`.)"""
    if field["text"].empty:  # a header without rows
        return pd.Series(dtype=object, index=field["text"].index)
    text = field["text"].str.split().str.join(" ").str.casefold()
    when = pd.Series("", index=text.index)
    if dated:
        parsed = created.dt.strftime("%Y-%m-%dT%H:%M:%S")
        when = parsed.where(created.notna(), field["date"].str.strip())
    scored = score.map(lambda v: "" if pd.isna(v) else f"{float(v):g}")
    scored = scored.where(scored != "", field["score"].str.strip())
    return _hashed(text + "\x1f" + when + "\x1f" + field["customer_id"].str.strip() + "\x1f"
                   + scored)  # fmt: skip


def _hashed(keys: pd.Series) -> pd.Series:
    """A content id per key: "h" and 15 hex digits of its SHA-1."""
    return keys.map(lambda s: "h" + hashlib.sha1(s.encode()).hexdigest()[:15])


def _found_id(raw: pd.DataFrame, mapping: dict[str, str]) -> dict[str, str]:
    """{"id": column} when none is mapped and a column is named as the id of the answer, post or
    record itself (`ID_NAME`: "tweet_id", "ResponseId", "Respondent ID", "ID отзыва"; or "#"
    holding tokens, as Typeform's does, not row numbers) and
    holds a value in `ID_COVERAGE` of the rows, `ID_COVERAGE` of them distinct; the first such
    column in the input's order. Without one, rows get content-hash ids (`_ids`)."""
    if "id" in mapping or raw.empty:
        return {}
    for column in user_columns(raw.columns):
        name = _norm_name(column)
        if column in mapping.values() or not (ID_NAME.fullmatch(name) or name == "#"):
            continue
        values = raw[column].str.strip()
        present = values[values != ""]
        if name == "#" and present.str.fullmatch(r"\d+").mean() > 0.5:
            continue  # a row counter, which starts again in every export; Typeform's are tokens
        if len(present) >= ID_COVERAGE * len(raw) and present.nunique() >= ID_COVERAGE * len(
            present
        ):
            return {"id": column}
    return {}


def _found_date(raw: pd.DataFrame, mapping: dict[str, str]) -> dict[str, str]:
    """{"date": column} for a date column found by name or content, when none is mapped."""
    if "date" in mapping:
        return {}
    free = {c: raw[c] for c in raw.columns
            if not c.startswith("_") and c not in mapping.values()}  # fmt: skip
    found = find_date_column(free)
    return {} if found is None else {"date": found}


def _created(values: pd.Series, order: DateOrder | None, now: pd.Timestamp) -> pd.Series:
    """Parsed dates in `order`; the run's time for every row when the input has no date."""
    if order is not None:
        return parse_dates(values.str.strip(), order.dayfirst)
    return pd.Series(now, index=values.index).astype("datetime64[ns]")


def _lacks_scores(raw: pd.DataFrame, mapping: dict[str, str], settings: IngestSettings) -> bool:
    """No score column was named and none is found (or the one found is empty throughout)."""
    if settings.columns.score is not None or raw.empty:
        return False
    if settings.source_scales.get(settings.default_source, settings.scale) == "none":
        return False
    return "score" not in mapping or not raw[mapping["score"]].str.strip().astype(bool).any()


def _default_source(
    raw: pd.DataFrame, mapping: dict[str, str], settings: IngestSettings, sources: pd.Series
) -> tuple[str, bool]:
    """The source of rows without one, and whether it became `other` for want of scores.

    Raises:
        InputError: --source survey was given for an input without scores.
    """
    if not _lacks_scores(raw, mapping, settings) or not (sources.str.strip() == "").any():
        return settings.default_source, False
    if "default_source" not in settings.model_fields_set:
        return "other", True
    if settings.default_source == "survey":
        raise InputError(
            f"no score column found among {user_columns(raw.columns)}: name it with "
            "--score-col, or use --source complaint (or other) to theme rows without scores"
        )
    return settings.default_source, False


def user_columns(columns: Iterable[str]) -> list[str]:
    """The input's own columns (internal ones start with '_')."""
    return [c for c in columns if not c.startswith("_")]


def _segments(raw: pd.DataFrame, mapping: dict[str, str]) -> pd.DataFrame:
    """Unmapped input columns, renamed where they would collide with the product's columns."""
    kept = [c for c in user_columns(raw.columns) if c not in mapping.values()]
    names = _unique([segment_name(c) for c in kept])
    segments = pd.DataFrame({i: raw[c].replace("", None) for i, c in enumerate(kept)},
                            index=raw.index)  # fmt: skip
    segments.columns = pd.Index(names, dtype=object)
    return segments


def _internals(raw: pd.DataFrame, no_date: bool, no_score: pd.Series) -> pd.DataFrame:
    """Row origin, original values and notice flags: dropped by clean before any output."""
    return pd.DataFrame(
        {
            INPUT: raw[INPUT],
            ROW: raw[ROW],
            ORIGINAL: _originals(raw),
            REPLACEMENT: raw[REPLACEMENT].astype(bool),
            NO_DATE: no_date,
            NO_SCORE: no_score.astype(bool),
        },
        index=raw.index,
    )


def input_note(
    raw: pd.DataFrame, mapping: dict[str, str], order: DateOrder | None, unscored: bool,
    header: SurveyHeader | None = None, personal: Sequence[str] = (),
) -> dict[str, Any]:  # fmt: skip
    """What ingest decided about one input, for run.json; also logged (one line per notice)."""
    label = _label(raw)
    header = header or SurveyHeader()
    note = {
        "input": label,
        "rows": len(raw),
        "text_column": mapping.get("text"),
        # a Qualtrics or SurveyMonkey export: its header rows were not read as answers, and
        # the tool's respondent columns (IP address, name, e-mail, location) not at all
        "survey_tool": header.tool,
        "header_rows": header.rows,
        # and any input's columns naming or reaching a person (`personal_columns`)
        "dropped_columns": [*header.dropped, *personal],
        # a workbook's sheets without a text column (a summary, a pivot): not read
        "skipped_sheets": list(raw.attrs.get("skipped_sheets", [])),
        # None: no id column, each row's id is a hash of its content (`_ids`)
        "id_column": mapping.get("id"),
        "date_column": mapping.get("date"),
        # day-first / month-first; None when no date needed it (ISO, named months, dotted)
        "date_order": order.name if order and order.decided_by != "not needed" else None,
        "date_order_from": order.decided_by if order else None,
        # values that can only be read one way (a column mixing both orders has both)
        "dates_day_first_only": order.day_first_only if order else 0,
        "dates_month_first_only": order.month_first_only if order else 0,
        "score_column": None if unscored else mapping.get("score"),
        "unscored": unscored,
    }
    if len(raw):
        _log_note(note)
    return note


def _log_note(note: dict[str, Any]) -> None:
    label, column = note["input"], note["date_column"]
    if note["skipped_sheets"]:
        log.warning("%s: sheet(s) without a text column not read: %s", label,
                    ", ".join(note["skipped_sheets"]))  # fmt: skip
    dropped = note["dropped_columns"]
    if note["survey_tool"]:
        log.info("%s: a %s export: %d header row(s) under the column names skipped%s", label,
                 note["survey_tool"], note["header_rows"],
                 f"; its personal-data columns not read: {', '.join(dropped)}" if dropped
                 else "")  # fmt: skip
    elif dropped:
        log.info("%s: personal-data columns not read: %s", label, ", ".join(dropped))
    if column is None:
        log.warning("%s: no date column found (by name: date / time / created / дата / время, "
                    "or by its values): its rows are dated with this run's time; name one with "
                    "--date-col", label)  # fmt: skip
    elif note["date_order_from"] == "ambiguous":
        log.warning("%s: dates in '%s' read month-first: no value tells day-first from "
                    "month-first; pass --dayfirst if they are", label, column)  # fmt: skip
    elif note["date_order_from"] == "conflicting":
        log.warning("%s: dates in '%s' mix both orders: %d can only be day-first (13/04), %d only "
                    "month-first (04/13); read month-first where a date could be either; pass "
                    "--dayfirst or --monthfirst, or split the input by its source", label, column,
                    note["dates_day_first_only"], note["dates_month_first_only"])  # fmt: skip
    elif note["date_order"] is None:
        log.info("%s: dates from '%s'", label, column)
    else:
        log.info("%s: dates from '%s', %s (%s)", label, column, note["date_order"],
                 note["date_order_from"])  # fmt: skip
    if note["unscored"]:
        log.warning("%s: no score column found: its %d rows are themed as unscored feedback "
                    "(source other, no NPS role); name the score with --score-col, or mark "
                    "complaints with --source complaint", label, note["rows"])  # fmt: skip


def _scores(
    values: pd.Series, source: pd.Series, scale: pd.Series
) -> tuple[pd.Series, pd.Series, pd.Series]:
    n = len(values)
    score: list[Any] = [np.nan] * n
    role: list[str] = [""] * n
    issue: list[str | None] = [None] * n
    parsed: dict[tuple[Any, str], tuple[Any, str | None]] = {}  # answers repeat: parse once
    for i, (value, kind, scale_name) in enumerate(zip(values, source, scale, strict=True)):
        if scale_name == "none":
            role[i] = "complaint" if kind == "complaint" else "unscored"
            continue
        key = (value, str(scale_name))
        if key not in parsed:
            parsed[key] = parse_score(*key)
        number, problem = parsed[key]
        if problem == "score_missing" and kind != "survey":
            role[i] = "complaint" if kind == "complaint" else "unscored"
        elif problem:
            issue[i] = problem
        else:
            score[i] = number
            role[i] = role_for(float(number or 0), str(scale_name))
    index = values.index
    return (pd.Series(score, index=index, dtype=float), pd.Series(role, index=index, dtype=object),
            pd.Series(issue, index=index, dtype=object))  # fmt: skip


def _cell_ids(raw: pd.DataFrame, mapping: dict[str, str]) -> pd.Series:
    """A hash of each row's text, date, customer and score cells as written: the content id of
    versions before `_value_ids` (`CELL_ID`)."""
    cols = [mapping[f] for f in ("text", "date", "customer_id", "score") if f in mapping]
    return _hashed(join_columns(raw, cols))


def _ids(ids: pd.Series, content_ids: pd.Series) -> pd.Series:
    """The input's id, or the content hash where it has none (stable across re-reads)."""
    ids = ids.str.strip()
    return ids.where(ids != "", content_ids)


def join_columns(frame: pd.DataFrame, cols: list[str]) -> pd.Series:
    """One string per row: the values of `cols` (missing as 'nan') joined by a separator."""
    return pd.Series(
        ["\x1f".join(map(str, row)) for row in frame[cols].itertuples(index=False, name=None)],
        index=frame.index,
        dtype=object,
    )


def _reasons(
    raw: pd.DataFrame, score_issue: pd.Series, created: pd.Series, has_date: bool,
    text: pd.Series,
) -> pd.Series:  # fmt: skip
    reason = pd.Series(None, index=raw.index, dtype=object)
    reason[score_issue.notna()] = score_issue[score_issue.notna()]
    if has_date:
        reason[created.isna() & reason.isna()] = "bad_date"
    reason[raw[MALFORMED] != ""] = "wrong_field_count"
    broken = raw[UNDECODABLE].astype(bool)
    reason[broken & ~text[broken].map(is_readable).reindex(raw.index, fill_value=True)] = (
        "undecodable"
    )
    return reason


# Qualtrics' Status of a response that no customer gave: the survey's preview and test runs and
# what it flagged as spam, as choice text or as its numeric code
TEST_STATUSES = frozenset({"survey preview", "survey test", "spam", "preview spam",
                           "imported spam", "offline survey preview",
                           "1", "2", "8", "9", "12", "17"})  # fmt: skip


def _test_responses(raw: pd.DataFrame, header: SurveyHeader) -> pd.Series:
    """Rows of a Qualtrics export whose `Status` says the survey's author previewed or tested
    it, or Qualtrics flagged the response as spam (`TEST_STATUSES`)."""
    if header.tool != "qualtrics" or "Status" not in raw.columns:
        return pd.Series(False, index=raw.index)
    return raw["Status"].str.strip().str.casefold().isin(TEST_STATUSES)


def is_readable(text: str) -> bool:
    """A text with at least as many letters as U+FFFD replacement characters (and a letter)."""
    letters = sum(ch.isalpha() for ch in text)
    return letters > 0 and letters >= text.count("\ufffd")


def _details(raw: pd.DataFrame, reason: pd.Series, field: dict[str, pd.Series]) -> pd.Series:
    """What exactly was wrong with each quarantined row, quoting the offending value."""
    detail = reason.map(REASON_DETAIL)
    for code, name in (("score_not_a_number", "score"), ("score_out_of_range", "score"),
                       ("bad_date", "date")):  # fmt: skip
        rows = reason == code
        detail[rows] = detail[rows] + ": " + field[name][rows].map(repr)
    rows = reason == "wrong_field_count"
    detail[rows] = raw.loc[rows, MALFORMED]
    rows = reason == "test_response"  # only a Qualtrics export with a Status column has them
    if rows.any():
        detail[rows] = detail[rows] + ": Status " + raw.loc[rows, "Status"].map(repr)
    return detail


REASON_DETAIL = {
    "undecodable": "bytes the file's encoding cannot decode, and more of them than letters",
    "score_missing": "survey row without a score",
    "score_not_a_number": "score is not a number",
    "score_out_of_range": "score is not a whole number on its scale",
    "bad_date": "date is missing or cannot be parsed",
    "wrong_field_count": "the row has more or fewer fields than the header",
    "text_too_long": "comment longer than clean.max_text_chars",
    "empty_text": "comment is empty or whitespace",
    "conflicting_id": "same id as an earlier row but different content",
    "test_response": "the survey tool's preview, test or spam response, not a customer's",
}


def _originals(raw: pd.DataFrame) -> pd.Series:
    cols = [c for c in raw.columns if not c.startswith("_")]
    originals = [dict(zip(cols, row, strict=True))
                 for row in raw[cols].itertuples(index=False, name=None)]  # fmt: skip
    for original, fields in zip(originals, raw[ALL_FIELDS], strict=True):
        if fields:  # a malformed CSV row: keep every field as it was, extra ones included
            original["_fields"] = json.loads(fields)
    return pd.Series(
        [json.dumps(o, ensure_ascii=False) for o in originals], index=raw.index, dtype=object
    )


def quarantine_rows(
    frame: pd.DataFrame, reason: pd.Series, detail: str | pd.Series | None = None
) -> pd.DataFrame:
    """Quarantine records (schema QUARANTINE) for the rows of `frame` whose `reason` is set.

    `frame` carries the internal `_input`, `_row_number` and `_original` columns set by ingest.
    """
    bad = reason.notna()
    return QUARANTINE.conform(
        pd.DataFrame(
            {
                "input_file": frame.loc[bad, INPUT],
                "row_number": frame.loc[bad, ROW],
                "reason": reason[bad],
                "detail": _detail_of(reason, detail)[bad],
                "verbatim_id": frame.loc[bad, "verbatim_id"],
                "original": frame.loc[bad, ORIGINAL],
            }
        )
    )


def _detail_of(reason: pd.Series, detail: str | pd.Series | None) -> pd.Series:
    if detail is None:
        return reason.map(REASON_DETAIL)
    if isinstance(detail, str):
        return pd.Series(detail, index=reason.index, dtype=object)
    return detail


def combine(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate verbatim frames from several inputs (segment columns are unioned)."""
    if not frames:
        return VERBATIMS.empty()
    non_empty = [f for f in frames if len(f)] or frames[:1]
    combined = pd.concat(non_empty, ignore_index=True, sort=False)
    # what ingest decided per input (see `input_note`): every input's, kept in order
    combined.attrs = {"inputs": [n for f in frames for n in f.attrs.get("inputs", [])]}
    return combined
