"""Clean: normalise text, quarantine bad rows, collapse duplicates, flag non-answers, mask PII.

Conservation: every row read ends in exactly one of themed / quarantined / duplicates /
non-answers (see `count_outcomes`).
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from cx_text import pii
from cx_text.ingest import (
    CELL_ID,
    CONTENT_ID,
    DATE_GUESSED,
    INPUT,
    NO_DATE,
    NO_SCORE,
    ORIGINAL,
    REASON_DETAIL,
    REPLACEMENT,
    ROW,
    join_columns,
    quarantine_rows,
)
from cx_text.language import detect_languages
from cx_text.schemas import QUARANTINE, RAW_TEXTS, VERBATIMS
from cx_text.settings import CleanSettings

_FORMAT_TAGS = re.compile(r"</?(?:br|p|div|span|b|i|u|em|strong|li|ul|ol|font)\b[^>]*>", re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\ufeff]")
_SPACE = re.compile(r"\s+")

NON_ANSWERS = frozenset(
    {
        "-", "n/a", "na", "none", "nothing", "no comment", "no comments", "nope", "nothing to add",
        "nothing else", "nothing to say", "no", "stop", "unsubscribe", "idk", "dont know",
        "don't know", "нет", "ничего", "не знаю", "без комментариев", "нечего сказать", "стоп",
        "нет комментариев", "все", "всё", "н/д",
    }
)  # fmt: skip
_ONLY_SYMBOLS = re.compile(r"^[\W\d_]*$")


def normalise_text(text: str) -> str:
    """Unescape HTML entities, drop formatting tags and control characters, collapse spaces.

    Tags other than formatting ones (e.g. a pasted ``<script>``) are kept as text on purpose:
    the report escapes them, and the analyst sees what the customer actually sent.
    """
    text = unicodedata.normalize("NFC", html.unescape(text))
    text = _FORMAT_TAGS.sub(" ", text)
    text = _CONTROL.sub(" ", text)
    return _SPACE.sub(" ", text).strip()


_URL = re.compile(r"https?://\S+|www\.\S+")
HANDLE = re.compile(r"(?<!\w)@\w+")  # a social-media handle (labels: a name)
# a retweet marker with the handle it credits ("RT @bank:"): quoted text, not the customer's words
_RETWEET = re.compile(r"(?<!\w)(?:RT|rt)\s*@\w+:?")


# texts whose normal form, model text and hashes a process keeps: a resident process's nightly
# meets last night's pull again (the airline export: 14,640 rows, stored and delivered) and
# its window's mention sentences (polarity looks their vectors up by hash every night)
TEXTS_KEPT = 100_000


@functools.lru_cache(maxsize=TEXTS_KEPT)
def model_text(text: str) -> str:
    """The text as the models see it: URLs, @handles and retweet markers removed, # dropped.

    Handles name the company addressed, not what the customer says about it; kept, they make
    themes group by addressee instead of by subject. A retweet's "RT @author:" prefix would
    otherwise make "rt" a top keyword of every theme of shared posts (SentiRuEval: 17% of
    tweets).
    """
    stripped = HANDLE.sub(" ", _URL.sub(" ", _RETWEET.sub(" ", text))).replace("#", " ")
    return _SPACE.sub(" ", stripped).strip() or text


def mask_pii(text: str) -> str:
    """Replace personal data with tokens: [EMAIL], [PHONE], [CARD], [IBAN], [ACCOUNT]...

    See `cx_text.pii` for what is detected and how.
    """
    return pii.mask_text(text)


def is_non_answer(text: str, extra: frozenset[str] = frozenset()) -> bool:
    """True for texts that answer nothing: '-', 'n/a', 'нет', a lone number, only punctuation."""
    folded = text.strip().lower().strip(".!?,;: ")
    if folded in NON_ANSWERS or folded in extra:
        return True
    return bool(_ONLY_SYMBOLS.match(folded))


@functools.lru_cache(maxsize=TEXTS_KEPT)
def text_hash(text: str) -> str:
    """Cache key of a text: sha256 of its case-folded, whitespace-normalised form."""
    return hashlib.sha256(_SPACE.sub(" ", text.casefold()).strip().encode()).hexdigest()


def hash_order(texts: list[str]) -> list[int]:
    """Positions of `texts` in the order of their `text_hash`: a fixed pseudo-random order that
    depends on each text alone, not on the list. The polarity prefetch embeds documents in it and
    the polarity cascade draws its e5 samples in it, so what the first embeds first is what the
    second will need."""
    hashes = [text_hash(t) for t in texts]
    return sorted(range(len(texts)), key=hashes.__getitem__)


@dataclass(frozen=True)
class CleanResult:
    verbatims: pd.DataFrame
    quarantine: pd.DataFrame
    duplicates: int
    # verbatim_id, raw_text before masking: filled only when clean.keep_raw_text allows it
    raw_texts: pd.DataFrame = field(default_factory=lambda: RAW_TEXTS.empty())
    # accepted verbatims per notice (see FLAGS), counted in run.json when not 0
    flags: dict[str, int] = field(default_factory=dict)
    # what ingest decided per input: date column and order, score column (`ingest.input_note`)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    # per verbatim, in the verbatims' order: input_file, row_number and the original values
    # (ingest's internals, dropped from the verbatims), for rows quarantined after cleaning
    origins: pd.DataFrame | None = None


# run.json count -> the per-row column ingest sets: notices, not buckets of the conservation law
FLAGS = {
    "replacement_chars": REPLACEMENT,  # a U+FFFD replacement character kept in the text
    "no_date_column": NO_DATE,  # dated with the run's time: the input had no date column
    "no_score_column": NO_SCORE,  # taken as unscored feedback: the input had no score column
}


def clean_verbatims(
    frame: pd.DataFrame, settings: CleanSettings, forced_language: str | None = None
) -> CleanResult:
    """Clean mapped verbatims (output of `ingest.to_verbatims`, several inputs combined)."""
    out = frame.copy()
    out["text"] = out["text"].fillna("").astype(str).map(normalise_text)
    empty = out["text"] == ""
    length = out["text"].str.len()
    too_long = length > settings.max_text_chars
    reason = pd.Series(None, index=out.index, dtype=object)
    reason[empty] = "empty_text"
    reason[too_long] = "text_too_long"
    conflicting, same_id_copies = _id_conflicts(out, ~empty & ~too_long)
    reason[conflicting] = "conflicting_id"
    detail = reason.map(REASON_DETAIL)
    detail[too_long] = length[too_long].map(
        lambda n: f"{n:,} characters, more than clean.max_text_chars ({settings.max_text_chars:,})"
    )
    # masked with the others in job.ingest_and_clean
    quarantine = quarantine_rows(out, reason, detail)
    kept = out[reason.isna() & ~same_id_copies]
    deduped = drop_exact_duplicates(kept)
    duplicates = int(same_id_copies.sum()) + len(kept) - len(deduped)
    raw = RAW_TEXTS.conform(
        pd.DataFrame({"verbatim_id": deduped["verbatim_id"], "raw_text": deduped["text"]})
        if settings.keep_raw_text
        else RAW_TEXTS.empty()
    )
    return CleanResult(_finish(deduped, settings, forced_language), quarantine, duplicates, raw,
                       count_flags(deduped), list(frame.attrs.get("inputs", [])),
                       _origins(deduped))  # fmt: skip


def _origins(frame: pd.DataFrame) -> pd.DataFrame | None:
    """input_file, row_number and original of `frame`'s rows, from ingest's internals (None
    for a frame without them)."""
    if not {INPUT, ROW, ORIGINAL} <= set(frame.columns):
        return None
    origins = frame[[INPUT, ROW, ORIGINAL]].reset_index(drop=True)
    return origins.set_axis(["input_file", "row_number", "original"], axis=1)


def count_flags(frame: pd.DataFrame) -> dict[str, int]:
    """How many rows carry each notice flag set by ingest (FLAGS)."""
    return {name: int(frame[column].fillna(False).astype(bool).sum()) if column in frame else 0
            for name, column in FLAGS.items()}  # fmt: skip


def _content_key(frame: pd.DataFrame) -> pd.Series:
    cols = ["text", "score", "created_at", "customer_id", "source"]
    return join_columns(frame, cols)


def _id_conflicts(frame: pd.DataFrame, valid: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Rows repeating an earlier id: (with different content, with the same content)."""
    key = _content_key(frame)
    ids = frame["verbatim_id"].where(valid)
    repeated = valid & ids.duplicated(keep="first")
    same = repeated & (key == key.groupby(ids).transform("first"))
    return repeated & ~same, same


def drop_exact_duplicates(frame: pd.DataFrame) -> pd.DataFrame:
    """Collapse rows with the same customer, the same text (case-folded) and the same day."""
    has_customer = frame["customer_id"].notna()
    key = pd.DataFrame(
        {
            "customer": frame["customer_id"],
            "text": frame["text"].str.casefold(),
            "day": frame["created_at"].dt.normalize(),
        }
    )
    dup = key.duplicated(keep="first") & has_customer
    return frame[~dup]


def _finish(frame: pd.DataFrame, settings: CleanSettings, forced: str | None) -> pd.DataFrame:
    out = frame.copy()
    extra = frozenset(word.lower() for word in settings.extra_non_answers)
    out["is_non_answer"] = out["text"].map(lambda t: is_non_answer(t, extra)).astype(bool)
    out["is_long"] = out["text"].str.len() > settings.long_text_chars
    out["text"] = pii.mask_series(out["text"])
    texts = _segment_text_columns(out)
    if texts:  # joined at once: replacing them one by one split the frame into a block each
        masked = pd.DataFrame({c: pii.mask_series(out[c]) for c in texts}, index=out.index)
        out = pd.concat([out.drop(columns=texts), masked], axis=1)[list(out.columns)]
    out["text_hash"] = out["text"].map(model_hash)
    detected = detect_languages(out["text"], forced=forced)
    given = out["language"].fillna("").astype(str).str.strip().str.lower()
    out["language"] = given.where(given != "", detected)
    out = out.drop(columns=[c for c in out.columns if c.startswith("_")])  # ingest's internals
    return VERBATIMS.conform(out)


def _segment_text_columns(frame: pd.DataFrame) -> list[str]:
    """Unmapped input columns holding text: they reach outputs as segments, so they are masked."""
    return [c for c in frame.columns if c not in VERBATIMS.names and not c.startswith("_")
            and (frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c]))]  # fmt: skip


def model_hash(text: str) -> str:
    """`text_hash` of the text's `model_text`: how a stored row and a delivered one compare
    (both kept per process)."""
    return text_hash(model_text(text))


@functools.lru_cache(maxsize=TEXTS_KEPT)
def normal_form(text: str) -> str:
    return normalise_text(text)


def _stored_hashes(known: pd.DataFrame) -> dict[str, str]:
    """verbatim_id -> hash of the stored text's model text, as computed today (see drop_seen)."""
    hashes = [model_hash(t) for t in known["text"]]
    return dict(zip(known["verbatim_id"], hashes, strict=True))


def content_id_candidates(mapped: pd.DataFrame, stored_ids: Iterable[str]) -> pd.Series:
    """Content ids (`ingest.CONTENT_ID`, and the cells' hash older versions used,
    `ingest.CELL_ID`) of the rows whose own id is not among `stored_ids`, other than their own
    id: the ids to look up for `adopt_stored_ids` (a row's index once per id)."""
    if CONTENT_ID not in mapped:
        return pd.Series(dtype=object)
    own = mapped["verbatim_id"]
    unknown = ~own.isin(set(stored_ids))
    ids = [
        mapped.loc[unknown & (own != mapped[c]), c] for c in (CONTENT_ID, CELL_ID) if c in mapped
    ]
    return pd.concat(ids)


def adopt_stored_ids(mapped: pd.DataFrame, candidates: pd.Series,
                     stored_content_ids: Iterable[str]) -> pd.DataFrame:  # fmt: skip
    """Nightly, before `skip_stored`: each of the `candidates` rows (`content_id_candidates`)
    whose content id is stored takes the stored id.

    That row was stored by an earlier run under its content id: its input then had no id column
    cx-text recognised (an older version did not read "tweet_id" or "ResponseId" as one), or its
    id cell was empty and the content id was then a hash of its cells as written (today's is a
    hash of their values: `ingest._value_ids`). Taking the stored id keeps it one verbatim
    instead of storing it again under its own id, with a theme history of its own; rows never
    stored keep their own ids.
    """
    adopt = candidates[candidates.isin(set(stored_content_ids))]
    adopt = adopt[~adopt.index.duplicated()]  # a row stored under both: its first content id
    if adopt.empty:
        return mapped
    out = mapped.copy()
    out.loc[adopt.index, "verbatim_id"] = adopt
    out.attrs = dict(mapped.attrs)
    return out


def content_id_rows(mapped: pd.DataFrame, stored_ids: Iterable[str]) -> pd.Series:
    """The rows whose id is their content id (their input has no id column cx-text uses) and is
    not stored: the rows `adopt_content_matches` looks for among the stored verbatims."""
    if CONTENT_ID not in mapped or mapped.empty:
        return pd.Series(False, index=mapped.index)
    own = mapped["verbatim_id"]
    return (own == mapped[CONTENT_ID]) & ~own.isin(set(stored_ids))


def _same(left: pd.Series, right: pd.Series) -> np.ndarray:
    """Element-wise equality of two aligned columns, a missing value equal to a missing one."""

    def key(values: pd.Series) -> np.ndarray:
        text = values.reset_index(drop=True).astype(object)
        return np.asarray(text.where(text.notna(), "\0").astype(str), dtype=object)

    return np.asarray(key(left) == key(right), dtype=bool)


def _naive(values: pd.Series) -> pd.Series:
    """Naive UTC times (`dates.parse_dates` and the store both give them) in one resolution."""
    return pd.to_datetime(values).astype("datetime64[ns]").reset_index(drop=True)


def adopt_content_matches(
    frame: pd.DataFrame, rows: pd.Series, hashes: pd.Series, stored: pd.DataFrame
) -> pd.DataFrame:
    """Nightly: each of the `rows` (`content_id_rows`, a mask of `frame`) that repeats a stored
    verbatim takes its id: same model-text hash (`hashes`, by `frame`'s index), same
    `created_at`, customer and score (`stored`: `Store.verbatims_by_hash`).

    That verbatim was stored under the id its input gave it, and the export has since lost its
    id column (a new template, a column left out): without this, a cumulative export's every
    row would be stored a second time under its content id and counted twice. A row with
    personal data is matched after cleaning, on its masked text (`hashes` = `text_hash`).
    """
    if not rows.any() or stored.empty:
        return frame
    where = frame.index[rows.to_numpy()]
    wanted = pd.DataFrame({"row": where, "text_hash": hashes.reindex(where).to_numpy()})
    both = wanted.merge(stored, on="text_hash", how="inner")
    if both.empty:
        return frame
    mine = frame.loc[both["row"]]
    same = (
        _same(_naive(mine["created_at"]), _naive(both["created_at"]))
        & _same(mine["customer_id"], both["customer_id"])
        & _same(pd.to_numeric(mine["score"]).round(6), pd.to_numeric(both["score"]).round(6))
    )
    matched = both[same].drop_duplicates("row")
    if matched.empty:
        return frame
    out = frame.copy()
    out.loc[matched["row"].to_numpy(), "verbatim_id"] = matched["verbatim_id"].to_numpy()
    out.attrs = dict(frame.attrs)
    return out


_MASK_TOKEN = re.compile("|".join(re.escape(token) for token in pii.TOKENS.values()))
_MASKED_SHAPE = re.compile(r"[\d@]")  # what every token stood for: digits, or an e-mail's @


def masked_match(stored: str, text: str) -> bool:
    """Whether `text` is the masked `stored` text with its personal data in place: equal outside
    the mask tokens, each token standing for a span that holds a digit or an @ (phones, cards,
    ids, coordinates and e-mails all do). A stored text without tokens never matches.

    >>> masked_match("Call me on [PHONE] please", "Call me on +44 7700 900760 please")
    True
    >>> masked_match("Call me on [PHONE] please", "Call me on Monday please")
    False
    """
    parts = _MASK_TOKEN.split(stored)
    if len(parts) == 1:
        return False
    found = re.fullmatch("(.+?)".join(re.escape(part) for part in parts), text, re.S)
    return found is not None and all(_MASKED_SHAPE.search(span) for span in found.groups())


def skip_stored(mapped: pd.DataFrame, known: pd.DataFrame) -> tuple[pd.DataFrame, int, int]:
    """Nightly, before cleaning: drop mapped rows the store already holds unchanged.

    A row is skipped when its id is stored and its text, normalised as `clean_verbatims` would
    (`normalise_text`, then `model_text`), hashes like the stored text, or, when the stored
    text is masked, equals it outside the mask tokens (`masked_match`): a re-delivered answer
    that gave a phone number is not masked again. A stored id with other text (a conflict)
    goes through cleaning and `drop_seen` quarantines it. Only rows that cannot change the
    store skip PII masking and language detection, which are most of a nightly's cleaning
    time; a nightly that brings no row with personal data never loads the recognisers.

    A same-day, same-customer twin group (`drop_exact_duplicates`' key) is skipped whole when
    its first row is stored unchanged: cleaning would keep that row (seen) and drop the others
    as its duplicates, so they count as duplicates here. A group led by a row the store does not
    hold is cleaned whole, or its stored twin's copy would be themed once the twin was skipped.

    Returns:
        (the rows still to clean, how many were skipped as stored, how many as their twins).
    """
    if mapped.empty or known.empty:
        return mapped, 0, 0
    stored = mapped["verbatim_id"].map(_stored_hashes(known))
    candidate = stored.notna()
    normalised = mapped["text"].fillna("").astype(str).map(normal_form)
    texts = normalised[candidate]
    today = texts.map(model_hash)
    seen = pd.Series(False, index=mapped.index)
    seen[candidate] = today == stored[candidate]
    masked = {i: t for i, t in zip(known["verbatim_id"], known["text"], strict=True)
              if isinstance(t, str) and _MASK_TOKEN.search(t)}  # fmt: skip
    if masked:
        ids = mapped["verbatim_id"]
        again = candidate & ~seen & ids.isin(set(masked))
        seen[again] = [masked_match(masked[i], texts[row]) for row, i in ids[again].items()]
    key = pd.DataFrame({"customer": mapped["customer_id"], "text": normalised.str.casefold(),
                        "day": pd.to_datetime(mapped["created_at"]).dt.normalize()})  # fmt: skip
    twinned = key.duplicated(keep=False) & mapped["customer_id"].notna()
    first = ~key.duplicated(keep="first")
    group = key.groupby(list(key.columns), dropna=False, sort=False).ngroup()
    led = twinned & group.isin(set(group[twinned & first & seen]))
    skipped = (seen & ~twinned) | (led & first)
    copies = led & ~first
    kept = mapped[~(skipped | copies)]
    kept.attrs = dict(mapped.attrs)  # the inputs' notes travel with the frame
    return kept, int(skipped.sum()), int(copies.sum())


# what a re-delivered verbatim may correct on its stored row (its text is the same): the score
# with the scale and role it implies, the date, the customer and journey columns, and the
# unmapped columns (segments)
EDITABLE = ("created_at", "customer_id", "touchpoint", "channel")


def stored_edits(
    delivered: pd.DataFrame, stored: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Nightly: stored verbatims that a re-delivery corrects, patched with its values.

    `delivered` holds mapped rows (`ingest.to_verbatims`, before cleaning) whose id the store
    holds with the same text (`skip_stored`, `drop_seen`); `stored` holds those ids' stored rows
    (`Store.load_verbatims(ids=...)`). A delivered value replaces the stored one when it is
    present and differs:

    - `score`, with the `scale` and `role` it gives, when the row has a score (a score never
      becomes empty: an input without one says nothing about it);
    - `created_at`, when its input has a date column (an undated input dates rows with the
      run's time) whose day order is known (`DATE_GUESSED`: "03/04/2026" in a file where no
      value tells the order is no correction of a stored April 3rd);
    - `customer_id`, `touchpoint`, `channel` and every unmapped column (a segment), text
      segments masked as cleaning masks them (`pii.mask_series`) before they are compared. A
      column the delivery lacks, or leaves empty, keeps its stored value: a column added to an
      export reaches the rows it already delivered.

    The text and what comes from it (language, non-answer, hash, themes) stay as stored.
    A same-id row delivered twice counts once, by its first copy (the one cleaning keeps).

    Returns:
        (the patched stored rows that changed, VERBATIMS-shaped; changed rows per field:
        `score`, `created_at`, ..., `segments`).
    """
    if delivered.empty or stored.empty:
        return stored.iloc[:0], {}
    old = stored.drop_duplicates("verbatim_id").set_index("verbatim_id")
    new = delivered.drop_duplicates("verbatim_id").set_index("verbatim_id").reindex(old.index)
    patched = old.copy()
    fields: dict[str, pd.Series] = {}  # the rows each field (segments: any of them) changes

    def patch(name: str, where: pd.Series, columns: tuple[str, ...], source: pd.DataFrame) -> None:
        if not where.any():
            return
        for column in columns:
            if column not in patched.columns:
                patched[column] = pd.Series(None, index=patched.index, dtype=object)
            patched.loc[where, column] = source.loc[where, column]
        fields[name] = fields.get(name, where) | where

    scored = new["score"].notna()
    same = _equal(new["score"], old["score"]) & _equal(new["scale"], old["scale"])
    patch("score", scored & ~same, ("score", "scale", "role"), new)
    dated = new["created_at"].notna()
    for flag in (NO_DATE, DATE_GUESSED):  # undated inputs; numeric dates of unknown order
        if flag in new.columns:
            dated &= ~new[flag].astype(object).fillna(True).astype(bool)
    patch("created_at", dated & ~_equal(new["created_at"], old["created_at"]), ("created_at",),
          new)  # fmt: skip
    for column in EDITABLE[1:]:
        value = new[column]
        differs = value.notna() & (value.astype(str) != old[column].astype(str))
        patch(column, differs, (column,), new)
    for column in [c for c in new.columns if c not in VERBATIMS.names and not c.startswith("_")]:
        value = new[column].astype(object)
        stored = old[column] if column in old.columns else pd.Series(None, index=old.index)
        before, missing = stored.astype(str), stored.isna()  # the store keeps segments as text
        differs = value.notna() & (missing | (value.astype(str) != before))
        if differs.any():  # masked as cleaning masks text segments, then compared again
            value[differs] = pii.mask_series(value[differs].astype(str))
            differs &= missing | (value.astype(str) != before)
            patch("segments", differs, (column,), value.to_frame(column))
    changed = pd.Series(False, index=old.index)
    for where in fields.values():
        changed |= where
    counts = {name: int(where.sum()) for name, where in fields.items()}
    out = patched[changed].reset_index()
    return VERBATIMS.conform(out), counts


def _equal(a: pd.Series, b: pd.Series) -> pd.Series:
    """Element-wise a == b as plain booleans (a missing value equals nothing)."""
    return (a == b).astype(object).fillna(False).astype(bool)


def drop_seen(result: CleanResult, known: pd.DataFrame) -> tuple[CleanResult, int, int]:
    """Skip verbatims the store already holds; an id stored with other text is a conflict.

    `known` holds the stored verbatim_id and text. Texts are compared by the hash of their
    model text computed now, not by the hash stored with them: a change to `model_text` between
    versions (retweet markers dropped, say) must not turn re-delivered verbatims into conflicts.
    A conflict is quarantined like any other row: its input, row number and original values
    (`result.origins`), so a cumulative export that keeps an edited row is recorded once in the
    store (`Store.append_quarantine` replaces a row with the same original values).

    Returns:
        (the result without seen rows, conflicting ones added to its quarantine; n seen;
        n conflicting).
    """
    v = result.verbatims
    stored_hash = v["verbatim_id"].map(_stored_hashes(known))
    seen = stored_hash.notna() & (stored_hash == v["text_hash"])
    conflict = stored_hash.notna() & ~seen
    rows = v[conflict]
    origins = result.origins
    if origins is not None and len(origins) == len(v):
        where = origins[conflict.to_numpy()]
        files, numbers, originals = (where[c].to_numpy() for c in origins.columns)
    else:  # a result built without ingest's internals
        files, numbers = "", pd.array([None] * len(rows), dtype="Int64")
        originals = [json.dumps({"verbatim_id": i, "text": t}, ensure_ascii=False)
                     for i, t in zip(rows["verbatim_id"], rows["text"], strict=True)]  # fmt: skip
    extra = QUARANTINE.conform(pd.DataFrame({
        "input_file": files, "row_number": numbers, "reason": "conflicting_id",
        "detail": "id already stored with different text",
        "verbatim_id": rows["verbatim_id"].to_numpy(), "original": originals,
    }).reset_index(drop=True))  # fmt: skip
    quarantine = pd.concat([result.quarantine, extra], ignore_index=True)
    kept = v[~seen & ~conflict].reset_index(drop=True)
    kept_origins = (
        None
        if origins is None or len(origins) != len(v)
        else (origins[(~seen & ~conflict).to_numpy()].reset_index(drop=True))
    )
    raw = result.raw_texts[result.raw_texts["verbatim_id"].isin(kept["verbatim_id"])]
    return (replace(result, verbatims=kept, quarantine=quarantine, raw_texts=raw,
                    origins=kept_origins), int(seen.sum()), int(conflict.sum()))  # fmt: skip


def count_outcomes(read: int, clean: CleanResult, quarantined: int) -> dict[str, int]:
    """The run's conservation counts: read = themed + quarantined + duplicates + non_answers.

    Notices follow when they are not 0 (`replacement_chars`, `no_date_column`,
    `no_score_column`: accepted verbatims concerned); they are not buckets of the law.
    """
    non_answers = int(clean.verbatims["is_non_answer"].sum())
    return {
        "read": read,
        "themed": len(clean.verbatims) - non_answers,
        "quarantined": quarantined,
        "duplicates": clean.duplicates,
        "non_answers": non_answers,
        **{name: n for name, n in clean.flags.items() if n},
    }
