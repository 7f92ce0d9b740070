"""Clean: text normalisation, PII masking, non-answers, duplicates, id conflicts, conservation."""

from __future__ import annotations

import pandas as pd
import pytest

from cx_text import clean, ingest
from cx_text.settings import CleanSettings, IngestSettings

NOW = pd.Timestamp("2026-11-23 12:00:00")


def _clean(rows: list[dict[str, str]], **settings: object) -> clean.CleanResult:
    raw = ingest._as_raw(pd.DataFrame(rows), "t.csv")
    mapped, quarantine = ingest.to_verbatims(raw, IngestSettings(), NOW)
    assert quarantine.empty
    return clean.clean_verbatims(mapped, CleanSettings(**settings), forced_language="en")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("@united lost my bag again", "lost my bag again"),
        ("RT @bank_news: #Кредиты в банке http://t.co/x1", "Кредиты в банке"),
        ("rt @someone card blocked", "card blocked"),
        ("the ART @gallery was closed", "the ART was closed"),  # not a retweet marker
        ("RTS are late", "RTS are late"),
        ("see www.example.com/help for help", "see for help"),
        ("@united", "@united"),  # nothing else to model: the text stays as it is
    ],
)
def test_model_text_drops_handles_links_and_retweet_markers(raw: str, expected: str) -> None:
    assert clean.model_text(raw) == expected


def _row(i: str, text: str, score: str = "5", customer: str = "c1", day: str = "2026-11-01"):
    return {"id": i, "text": text, "score": score, "customer_id": customer, "date": day}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  late\t\tagain \n", "late again"),
        ("fast&amp;friendly<br>courier", "fast&friendly courier"),
        ("<p>great</p>", "great"),
        ("bell\x07 char\u200b here", "bell char here"),
        ("see <script>alert(1)</script>", "see <script>alert(1)</script>"),
    ],
)
def test_normalise_text(raw: str, expected: str) -> None:
    assert clean.normalise_text(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("write me at anna.k@example.com please", "write me at [EMAIL] please"),
        ("call +7 916 123-45-67 today", "call [PHONE] today"),
        ("(415) 555-0134 is my number", "[PHONE] is my number"),
        ("звоните 8 (903) 555 12 34", "звоните [PHONE]"),
        ("order #458812 never came", "order #458812 never came"),
        ("waited 45 minutes for 2 items", "waited 45 minutes for 2 items"),
    ],
)
def test_mask_pii(raw: str, expected: str) -> None:
    assert clean.mask_pii(raw) == expected


@pytest.mark.parametrize(
    "text", ["-", "n/a", "N/A", "nothing", "No comment.", "нет", "Ничего", "stop", "10", "...",
             "??", "👍", "!!!"],
)  # fmt: skip
def test_non_answers(text: str) -> None:
    assert clean.is_non_answer(text)


@pytest.mark.parametrize("text", ["ok", "no delivery", "нет доставки", "10/10 great", "late"])
def test_real_answers_are_not_non_answers(text: str) -> None:
    assert not clean.is_non_answer(text)


def test_empty_text_quarantined_and_conservation() -> None:
    rows = [
        _row("1", "Courier was late", customer="a"),
        _row("2", "   ", customer="b"),
        _row("3", "", customer="c"),
        _row("4", "n/a", customer="d"),
        _row("5", "Courier was late", customer="a"),  # same customer, text, day: duplicate
        _row("6", "courier was LATE", customer="a", day="2026-11-02"),  # other day: kept
        _row("7", "Courier was late", customer="z"),  # other customer: kept
    ]
    result = _clean(rows)
    assert result.quarantine["reason"].tolist() == ["empty_text", "empty_text"]
    assert result.duplicates == 1
    assert result.verbatims["verbatim_id"].tolist() == ["1", "4", "6", "7"]
    counts = clean.count_outcomes(len(rows), result, len(result.quarantine))
    assert counts == {"read": 7, "themed": 3, "quarantined": 2, "duplicates": 1, "non_answers": 1}
    assert counts["read"] == sum(v for k, v in counts.items() if k != "read")


def test_drop_seen_compares_stored_texts_by_todays_model_text() -> None:
    result = _clean([_row("1", "RT @bank: card blocked again"), _row("2", "Great prices"),
                     _row("3", "New comment")])  # fmt: skip
    known = pd.DataFrame({"verbatim_id": ["1", "2"],
                          "text": ["RT @bank: card blocked again", "Great prices!!"]})  # fmt: skip
    kept, seen, conflicts = clean.drop_seen(result, known)
    assert seen == 1  # "1": same text, whatever hash an older version stored for it
    assert conflicts == 1
    assert kept.verbatims["verbatim_id"].tolist() == ["3"]
    assert kept.quarantine["reason"].tolist() == ["conflicting_id"]  # "2": other text
    assert kept.quarantine["original"].str.contains("Great prices").all()


def test_same_id_different_content_is_quarantined_same_content_is_duplicate() -> None:
    rows = [
        _row("1", "App crashes"),
        _row("1", "App crashes at checkout", customer="c2"),  # conflict
        _row("2", "Great prices"),
        _row("2", "Great prices"),  # exact repeat of the same record
    ]
    result = _clean(rows)
    assert result.quarantine["reason"].tolist() == ["conflicting_id"]
    assert result.quarantine["row_number"].tolist() == [2]
    assert result.duplicates == 1
    assert result.verbatims["text"].tolist() == ["App crashes", "Great prices"]


def test_pii_masked_long_text_flagged_and_hashed() -> None:
    long_text = "The parcel was late. " * 300
    result = _clean(
        [_row("1", "mail me: bob@example.org"), _row("2", long_text, customer="c9")],
        long_text_chars=5000,
    )
    v = result.verbatims
    assert v["text"].iloc[0] == "mail me: [EMAIL]"
    assert v["is_long"].tolist() == [False, True]
    assert len(v["text"].iloc[1]) > 5000  # kept whole; only embedding truncates
    assert v["text_hash"].iloc[0] == clean.text_hash("MAIL ME:  [EMAIL]")


def test_clean_does_not_mutate_input() -> None:
    raw = ingest._as_raw(pd.DataFrame([_row("1", "  spaced   out ")]), "t.csv")
    mapped, _ = ingest.to_verbatims(raw, IngestSettings(), NOW)
    before = mapped.copy()
    clean.clean_verbatims(mapped, CleanSettings(), forced_language="en")
    pd.testing.assert_frame_equal(mapped, before)


def test_hash_order_depends_on_each_text_alone() -> None:
    """The polarity prefetch and the cascade draw in this order from different lists (the
    documents, the mention texts): a text keeps its place relative to any other text."""
    from cx_text.clean import hash_order

    texts = [f"comment number {i}" for i in range(50)]
    order = hash_order(texts)
    assert sorted(order) == list(range(50)) and order != list(range(50))
    ranked = [texts[i] for i in order]
    subset = texts[::3][::-1]  # another list: some of the texts, in another order
    assert [subset[i] for i in hash_order(subset)] == [t for t in ranked if t in set(subset)]


@pytest.mark.parametrize(
    ("stored", "text", "same"),
    [
        ("Call me on [PHONE] please", "Call me on +44 7700 900760 please", True),
        ("Call me on [PHONE] please", "Call me on 8 (916) 555-01-23 please", True),  # another one
        ("Mail [EMAIL] or [PHONE]", "Mail a.b@example.com or 89165550123", True),
        ("Call me on [PHONE] please", "Call me on Monday please", False),  # no digit: not masked
        ("Call me on [PHONE] please", "Call me on +44 7700 900760 now", False),
        ("Call me on [PHONE] please", "Call me on [PHONE] please", False),
        ("No personal data here", "No personal data here", False),  # the hash decides those
    ],
)
def test_masked_match_sees_the_stored_text_with_its_personal_data_in_place(
    stored: str, text: str, same: bool
) -> None:
    assert clean.masked_match(stored, text) is same


def _mapped(rows: list[dict[str, str]]) -> pd.DataFrame:
    raw = ingest._as_raw(pd.DataFrame(rows), "t.csv")
    mapped, quarantine = ingest.to_verbatims(raw, IngestSettings(), NOW)
    assert quarantine.empty
    return mapped


def test_stored_edits_patch_what_a_redelivery_corrects_and_keep_the_rest() -> None:
    """Stored rows (as cleaning stored them) against the same ids delivered again with the same
    text: a changed score brings its role, a moved date and a new column's values are taken, an
    empty cell or an absent column keeps the stored value, a segment with personal data is
    masked before it is compared, and a row delivered as stored is no edit."""
    stored = _clean([_row("a", "app crashes", "3") | {"plan": "basic"},
                     _row("b", "great prices", "10") | {"plan": "pro"},
                     _row("c", "slow courier", "6") | {"plan": "basic"},
                     _row("d", "rude agent", "2") | {"plan": "basic"}]).verbatims  # fmt: skip
    delivered = _mapped([
        _row("a", "app crashes", "9") | {"plan": "basic", "region": "north"},  # score, new column
        _row("b", "great prices", "10", day="2026-11-05") | {"plan": "", "region": ""},  # date
        _row("c", "slow courier", "6") | {"plan": "basic", "region": ""},  # unchanged
        _row("d", "rude agent", "2") | {"plan": "call +7 912 345-67-89", "region": ""},
    ])  # fmt: skip
    edits, fields = clean.stored_edits(delivered, stored)
    by_id = edits.set_index("verbatim_id")
    assert sorted(by_id.index) == ["a", "b", "d"]
    assert fields == {"score": 1, "created_at": 1, "segments": 2}
    assert by_id.loc["a", "score"] == 9.0 and by_id.loc["a", "role"] == "promoter"
    assert by_id.loc["a", "region"] == "north" and by_id.loc["a", "plan"] == "basic"
    assert by_id.loc["b", "created_at"] == pd.Timestamp("2026-11-05")
    assert by_id.loc["b", "plan"] == "pro"  # an empty cell says nothing: the stored value stays
    assert "912" not in by_id.loc["d", "plan"] and by_id.loc["d", "plan"].startswith("call ")
    # the text and what comes from it stay as stored
    hashes = stored.set_index("verbatim_id").loc[by_id.index, "text_hash"]
    assert (by_id["text_hash"] == hashes).all()
    # delivered again as now stored: nothing to correct
    again, none = clean.stored_edits(delivered, pd.concat([stored[stored["verbatim_id"] == "c"],
                                                           edits], ignore_index=True))  # fmt: skip
    assert again.empty and none == {}


def test_stored_edits_leave_scores_and_dates_an_input_does_not_give() -> None:
    """An input without a score column (unscored feedback), without a date column (rows get
    the run's time) or whose numeric dates could be read either way says nothing about the
    stored score or date; a day-first order its values prove does."""
    stored = _clean([_row("a", "app crashes", "3"), _row("b", "late again", "3")]).verbatims
    unscored = _mapped([{"id": "a", "text": "app crashes", "date": "2026-11-01",
                         "customer_id": "c1"}])  # fmt: skip
    undated = _mapped([{"id": "a", "text": "app crashes", "score": "3", "customer_id": "c1"}])
    # 01/11/2026 read month-first (no value tells): January 11th, no correction of November 1st
    ambiguous = _mapped([_row("a", "app crashes", "3", day="01/11/2026")])
    for delivered in (unscored, undated, ambiguous):
        edits, fields = clean.stored_edits(delivered, stored)
        assert edits.empty and fields == {}
    proven = _mapped([_row("a", "app crashes", "3", day="02/11/2026"),
                      _row("b", "late again", "3", day="13/11/2026")])  # fmt: skip
    edits, fields = clean.stored_edits(proven, stored)
    assert fields == {"created_at": 2}
    assert sorted(edits["created_at"]) == [pd.Timestamp("2026-11-02"), pd.Timestamp("2026-11-13")]
