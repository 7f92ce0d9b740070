"""Backfill, nightly and weekly runs on a small weekly corpus (tiny hashing embedder).

Checks: theme ids stay stable across re-fits, a theme that appears late is registered as new,
nightly runs are idempotent, and a nightly run killed before its commit leaves no trace.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from cx_text import job, theming
from cx_text.registry import retention
from cx_text.settings import Settings, load_settings
from cx_text.store import Store
from tests.conftest import ROOT, THEME_CORPUS, HashingEmbedder

PROMO_STARTS = ("promo code rejected", "discount code invalid", "voucher code fails",
                "promo voucher not accepted")  # fmt: skip
PROMO_ENDS = ("at checkout", "since update", "code expired error", "promo discount lost")
PROMO = [f"{a} {b}" for a in PROMO_STARTS for b in PROMO_ENDS]
WEEKS = ["2026-W44", "2026-W45", "2026-W46", "2026-W47"]


def _corpus() -> pd.DataFrame:
    rows = []
    for week_no, week in enumerate(WEEKS):
        start, _ = job.week_bounds(week)
        themes = dict(THEME_CORPUS)
        if week_no == len(WEEKS) - 1:
            themes["promo"] = PROMO
        for theme, texts in themes.items():
            for i, text in enumerate(texts):
                score = 2 if theme in {"late_delivery", "app_crash", "promo"} else 9
                rows.append({
                    "id": f"{week}-{theme}-{i}", "comment": f"{text} {week_no}",
                    "score": score, "created_at": start + pd.Timedelta(hours=3 * i + 1),
                    "customer_id": f"c{i}", "theme": theme,
                })  # fmt: skip
    return pd.DataFrame(rows)


@pytest.fixture()
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Settings, Path, pd.DataFrame]:
    embedder = HashingEmbedder()
    monkeypatch.setattr(theming, "make_embedder", lambda model, settings: embedder)
    corpus = _corpus()
    path = tmp_path / "feedback.csv"
    corpus.drop(columns="theme").to_csv(path, index=False)
    settings = load_settings(state_dir=tmp_path / "state", models_dir=tmp_path / "models",
                             language="en", themes={"min_cluster_size": 5},
                             embedding={"show_progress": False})  # fmt: skip
    return settings, path, corpus


def _stored(settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    store = Store(settings.store_url_value)
    try:
        return store.load_verbatims(), store.frame("assignments")
    finally:
        store.close()


def _backfill_has_its_run_record(settings: Settings, stored: int) -> None:
    """The load of a backfill is a run: its row in `runs`, and every stored verbatim's run_id
    names a run there."""
    store = Store(settings.store_url_value)
    try:
        runs = store.runs()
        with store.engine.connect() as conn:
            stored_by = pd.read_sql("SELECT DISTINCT run_id FROM verbatims", conn)["run_id"]
    finally:
        store.close()
    (load,) = [json.loads(r) for r in runs["record"] if json.loads(r)["kind"] == "backfill"]
    assert load["stored"] == stored and load["weeks"] == [WEEKS[0], WEEKS[2]]
    assert set(stored_by) == {load["run_id"]} <= set(runs["run_id"])
    assert load["counts"]["read"] == 4 * 64 + 16 and "timings" in load
    store = Store(settings.store_url_value)
    try:
        latest = store.runs(newest=1)
    finally:
        store.close()
    assert latest["run_id"].tolist() == runs["run_id"].tail(1).tolist()


def test_backfill_then_nightly_then_weekly(env, tmp_path: Path) -> None:
    settings, path, corpus = env
    records = job.backfill([str(path)], WEEKS[0], WEEKS[2], tmp_path / "bf", settings)
    assert [r["week"] for r in records] == WEEKS[:3]
    _, before = _stored(settings)
    assert len(before) == 3 * 64
    _backfill_has_its_run_record(settings, stored=3 * 64)

    first = job.nightly([str(path)], tmp_path / "n1", settings)
    assert first["counts"]["already_seen"] == 3 * 64
    assert first["counts"]["themed"] == 80  # week 4: 64 known-theme texts + 16 promo texts
    verbatims, after_nightly = _stored(settings)
    assert len(verbatims) == len(corpus)
    # nightly assigns without re-fitting: earlier verbatims keep their theme ids exactly
    assert retention(before, after_nightly) == 1.0

    again = job.nightly([str(path)], tmp_path / "n2", settings)
    assert again["counts"]["already_seen"] == len(corpus) and again["counts"]["themed"] == 0
    _, after_again = _stored(settings)
    pd.testing.assert_frame_equal(
        after_again.sort_values("verbatim_id").reset_index(drop=True)[["verbatim_id", "theme_id"]],
        after_nightly.sort_values("verbatim_id").reset_index(drop=True)[
            ["verbatim_id", "theme_id"]
        ],
    )

    weekly = job.weekly(WEEKS[3], tmp_path / "w4", settings)
    assert weekly["week"] == WEEKS[3]
    _, after_weekly = _stored(settings)
    assert retention(before, after_weekly) >= 0.9
    themes = pd.read_csv(tmp_path / "w4" / "themes.csv")
    promo_ids = set(corpus.loc[corpus["theme"] == "promo", "id"])
    promo_theme = after_weekly[after_weekly["verbatim_id"].isin(promo_ids)]["theme_id"].mode()[0]
    assert themes.set_index("theme_id").loc[promo_theme, "status"] == "new"
    # every theme of the last backfilled week is found again, under the same id
    previous = pd.read_csv(tmp_path / "bf" / WEEKS[2] / "themes.csv")
    previous_ids = set(previous["theme_id"]) - {"unclassified"}
    status = themes.set_index("theme_id")["status"]
    assert previous_ids <= set(status.index)
    assert set(status[list(previous_ids)]) == {"active"}


def test_refit_with_another_seed_keeps_ids(env, tmp_path: Path) -> None:
    settings, path, _ = env
    job.run([str(path)], tmp_path / "a", settings)
    _, first = _stored(settings)
    reseeded = settings.model_copy(update={"themes": settings.themes.model_copy(
        update={"random_state": 7})})  # fmt: skip
    job.run([str(path)], tmp_path / "b", reseeded)
    _, second = _stored(settings)
    assert retention(first, second) >= 0.9


def test_nightly_without_a_model_is_a_clear_error(env, tmp_path: Path) -> None:
    settings, path, _ = env
    with pytest.raises(ValueError, match="no theme model"):
        job.nightly([str(path)], tmp_path / "n", settings)


KILLED_RUN = textwrap.dedent(
    """
    import logging, sys, time
    from pathlib import Path
    from cx_text import job, rank, theming
    from cx_text.settings import load_settings
    from tests.conftest import HashingEmbedder
    embedder = HashingEmbedder()
    theming.make_embedder = lambda model, settings: embedder
    real = rank.rank_themes
    def slow(*args, **kwargs):  # the kill lands here: after assignment, before the commit
        print("RANKING", flush=True)
        time.sleep(60)
        return real(*args, **kwargs)
    rank.rank_themes = slow
    settings = load_settings(state_dir=sys.argv[2], models_dir=sys.argv[3], language="en",
                             themes={"min_cluster_size": 5})
    job.nightly([sys.argv[1]], Path(sys.argv[4]), settings)
    """
)


def test_killed_nightly_leaves_no_duplicate_and_no_loss(env, tmp_path: Path) -> None:
    settings, path, corpus = env
    job.backfill([str(path)], WEEKS[0], WEEKS[2], tmp_path / "bf", settings)
    before, _ = _stored(settings)
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN, str(path), str(settings.state_dir),
         str(settings.models_dir), str(tmp_path / "killed")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "RANKING"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    after_kill, _ = _stored(settings)
    assert len(after_kill) == len(before)  # nothing of the killed run was committed
    job.nightly([str(path)], tmp_path / "rerun", settings)
    verbatims, assignments = _stored(settings)
    assert len(verbatims) == len(corpus) and verbatims["verbatim_id"].is_unique
    assert set(assignments["verbatim_id"]) == set(corpus["id"])


def test_re_delivered_verbatims_are_seen_when_the_stored_hash_is_from_an_older_model_text(
    env, tmp_path: Path
) -> None:
    """An upgrade that changes `model_text` changes text hashes; stored verbatims stay 'seen'."""
    import sqlalchemy as sa

    settings, path, corpus = env
    job.backfill([str(path)], WEEKS[0], WEEKS[3], tmp_path / "bf", settings)
    store = Store(settings.store_url_value)
    try:
        with store.engine.begin() as conn:
            conn.execute(sa.text("UPDATE verbatims SET text_hash = 'hash by an older version'"))
    finally:
        store.close()
    again = job.nightly([str(path)], tmp_path / "n", settings)
    assert again["counts"]["already_seen"] == len(corpus)
    assert again["counts"]["themed"] == 0 and again["counts"]["quarantined"] == 0


def test_a_row_masked_otherwise_by_an_older_version_is_seen_not_a_conflict(
    env, tmp_path: Path
) -> None:
    """An older version masked the airline export's "02.27.2015" as [PHONE]; today's masking
    keeps the date. The re-delivered tweet equals its stored text outside the token, so it is
    seen, not quarantined as a conflict (which failed a nightly with nothing else new)."""
    import sqlalchemy as sa

    settings, path, corpus = env
    dated = corpus.copy()
    dated.loc[0, "comment"] = "flight 877 from amsterdam on 02.27.2015 was late"
    dated.to_csv(path, index=False)
    job.backfill([str(path)], WEEKS[0], WEEKS[3], tmp_path / "bf", settings)
    store = Store(settings.store_url_value)
    try:
        with store.engine.begin() as conn:
            conn.execute(sa.text("UPDATE verbatims SET text = :t WHERE verbatim_id = :i"),
                         {"t": "flight 877 from amsterdam on [PHONE] was late",
                          "i": str(dated.loc[0, "id"])})  # fmt: skip
    finally:
        store.close()
    again = job.nightly([str(path)], tmp_path / "n", settings)
    assert again["counts"]["already_seen"] == len(corpus)
    assert again["counts"]["quarantined"] == 0


def test_rows_stored_under_content_ids_keep_them_once_their_id_column_is_recognised(
    env, tmp_path: Path
) -> None:
    """A store filled while the input's id column was not recognised (an older version did not
    read "tweet_id" as one) holds content-hash ids; the same rows delivered with their ids are
    seen, not themed and stored a second time. A new row gets its own id."""
    settings, path, corpus = env
    unrecognised = tmp_path / "before.csv"
    corpus.drop(columns="theme").rename(columns={"id": "tid"}).to_csv(unrecognised, index=False)
    job.backfill([str(unrecognised)], WEEKS[0], WEEKS[3], tmp_path / "bf", settings)
    before, _ = _stored(settings)
    assert before["verbatim_id"].str.match(r"^h[0-9a-f]{15}$").all()

    new = corpus.iloc[:1].assign(id="tweet-new", comment="a brand new complaint about a parcel")
    delivery = pd.concat([corpus, new]).drop(columns="theme").rename(columns={"id": "tweet_id"})
    delivery.to_csv(path, index=False)
    record = job.nightly([str(path)], tmp_path / "n", settings)
    assert record["counts"]["already_seen"] == len(corpus)
    assert record["counts"]["themed"] == 1 and record["counts"]["quarantined"] == 0
    after, _ = _stored(settings)
    assert set(after["verbatim_id"]) == set(before["verbatim_id"]) | {"tweet-new"}


def test_an_export_without_ids_is_seen_however_it_writes_its_values(
    env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows without an id are known by what they say: re-delivered with "9.0" scores, dotted
    dates, a comment upper-cased and one with trailing spaces, they are seen, not themed and
    stored a second time (each was counted as new before). A store filled by a version that
    hashed the cells as written keeps its ids when the same cells come again."""
    from cx_text import ingest

    settings, path, corpus = env
    plain = corpus.drop(columns=["theme", "id"])
    plain.to_csv(path, index=False)
    job.backfill([str(path)], WEEKS[0], WEEKS[3], tmp_path / "bf", settings)
    before, _ = _stored(settings)
    written = plain.assign(score=plain["score"].map(lambda v: f"{v:.1f}"),
                           created_at=pd.to_datetime(plain["created_at"]).dt.strftime(
                               "%d.%m.%Y %H:%M:%S"))  # fmt: skip
    written.loc[0, "comment"] = written.loc[0, "comment"].upper()
    written.loc[1, "comment"] = written.loc[1, "comment"] + "   "
    written.to_csv(path, index=False)
    record = job.nightly([str(path)], tmp_path / "n1", settings)
    assert record["counts"]["already_seen"] == len(corpus) and record["counts"]["themed"] == 0
    after, _ = _stored(settings)
    assert set(after["verbatim_id"]) == set(before["verbatim_id"])

    older = settings.model_copy(update={"state_dir": tmp_path / "old",
                                        "models_dir": tmp_path / "old" / "m"})  # fmt: skip
    plain.to_csv(path, index=False)

    def cells(field: dict[str, pd.Series], *rest: object) -> pd.Series:
        return ingest._cell_ids(
            pd.DataFrame(field), {f: f for f in ("text", "date", "customer_id", "score")}
        )

    with monkeypatch.context() as version_before:  # the ids the version before gave
        version_before.setattr(ingest, "_value_ids", cells)
        job.backfill([str(path)], WEEKS[0], WEEKS[3], tmp_path / "bf2", older)
    record = job.nightly([str(path)], tmp_path / "n2", older)
    assert record["counts"]["already_seen"] == len(corpus) and record["counts"]["themed"] == 0


def test_a_new_row_older_than_the_window_is_stored_not_shown(env, tmp_path: Path) -> None:
    """A re-delivery holding a row dated before the nightly's window: it is stored with its
    theme, and the window's outputs leave it out the first night as they do when the same
    night is run again (they held it the first time, and differed)."""
    settings, path, corpus = env
    job.backfill([str(path)], WEEKS[0], WEEKS[3], tmp_path / "bf", settings)
    old = corpus.iloc[:1].assign(id="old-1", comment="a parcel lost in the spring",
                                 created_at=pd.Timestamp("2026-05-01 10:00"))  # fmt: skip
    pd.concat([corpus, old]).drop(columns="theme").to_csv(path, index=False)
    first = job.nightly([str(path)], tmp_path / "n1", settings)
    assert first["counts"]["themed"] == 1
    shown = pd.read_csv(tmp_path / "n1" / "verbatims.csv")
    assert "old-1" not in set(shown["verbatim_id"]) and len(shown) == len(corpus)
    assert "old-1" not in set(pd.read_csv(tmp_path / "n1" / "assignments.csv")["verbatim_id"])
    stored, _ = _stored(settings)
    assert "old-1" in set(stored["verbatim_id"])
    job.nightly([str(path)], tmp_path / "n2", settings)
    assert len(pd.read_csv(tmp_path / "n2" / "verbatims.csv")) == len(shown)


def test_nightly_cleans_only_what_the_store_does_not_hold_unchanged(
    env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stored rows are recognised before cleaning: language detection and PII masking see only
    new rows and stored ids with other text. A stored row whose text was masked is recognised by
    its text outside the mask tokens (even with another e-mail address in it); a stored row's
    same-day copy from the same customer counts as a duplicate, as cleaning would count it.
    Counts and conflicts are as when everything was cleaned."""
    from cx_text import clean, pii

    settings, path, corpus = env
    first = corpus.copy()
    first.loc[0, "comment"] = "write to anna.smith@example.com about the late parcel"
    first.loc[3, "comment"] = "call me on +44 7700 900760 about my order"
    twin = first.iloc[[2]].assign(id="copy-of-2")  # same customer, day and text as row 2
    pd.concat([first, twin]).to_csv(path, index=False)
    job.backfill([str(path)], WEEKS[0], WEEKS[3], tmp_path / "bf", settings)
    assert "copy-of-2" not in set(_stored(settings)[0]["verbatim_id"])  # stored as a duplicate

    delivery = first.copy()
    delivery.loc[0, "comment"] = "write to anna.smith@example.org about the late parcel"
    delivery.loc[1, "comment"] = "a different text under a stored id"
    delivery.loc[3, "comment"] = "call me on Monday about my order"  # not what [PHONE] hid
    new = delivery.iloc[:2].assign(id=["new-1", "new-2"], comment=["brand new one", "another"])
    pd.concat([delivery, twin, new]).to_csv(path, index=False)
    detected: list[str] = []
    masked: list[str] = []
    real_detect, real_mask = clean.detect_languages, pii.mask_text

    def spy(texts: pd.Series, forced: str | None = None) -> pd.Series:
        detected.extend(texts)
        return real_detect(texts, forced=forced)

    def mask_spy(text: str) -> str:
        masked.append(text)
        return real_mask(text)

    monkeypatch.setattr(clean, "detect_languages", spy)
    monkeypatch.setattr(pii, "mask_text", mask_spy)
    record = job.nightly([str(path)], tmp_path / "n", settings)
    assert sorted(detected) == sorted([
        "a different text under a stored id", "call me on Monday about my order",
        "brand new one", "another",
    ])  # fmt: skip
    assert masked == []  # nothing new held personal data
    counts = record["counts"]
    assert counts["read"] == len(corpus) + 3
    assert counts["already_seen"] == len(corpus) - 2
    assert counts["quarantined"] == 2 and counts["themed"] == 2 and counts["duplicates"] == 1


def test_an_edited_row_left_in_a_cumulative_export_is_quarantined_once_not_a_failed_night(
    env, tmp_path: Path
) -> None:
    """A cumulative export delivered again with one stored row's text edited, and nothing new:
    the edit is quarantined as `conflicting_id` with its input, row number and original values,
    counted as `stored_conflicts`, and the night is not "nothing themed" (the CLI's exit 2 is for
    inputs whose new rows were all rejected). Delivered again the next night, the store still
    holds that quarantine row once."""
    from cx_text.cli import _all_quarantined

    settings, path, corpus = env
    corpus.drop(columns="theme").to_csv(path, index=False)
    job.backfill([str(path)], WEEKS[0], WEEKS[3], tmp_path / "bf", settings)
    edited = corpus.drop(columns="theme")
    edited.loc[5, "comment"] = "the agent fixed my account after all"
    edited.to_csv(path, index=False)

    for night in ("n1", "n2"):
        record = job.nightly([str(path)], tmp_path / night, settings)
        counts = record["counts"]
        assert counts["already_seen"] == len(corpus) - 1 and counts["themed"] == 0
        assert counts["quarantined"] == 1 and counts["stored_conflicts"] == 1
        assert not _all_quarantined(counts)
        quarantine = pd.read_csv(tmp_path / night / "quarantine.csv", dtype=str)
        where = quarantine[["input_file", "row_number", "reason", "verbatim_id"]]
        assert where.values.tolist() == [[path.name, "6", "conflicting_id", corpus.loc[5, "id"]]]
        original = json.loads(quarantine.loc[0, "original"])
        assert original["comment"] == "the agent fixed my account after all"
        assert original["score"] == str(corpus.loc[5, "score"])  # the whole row, as delivered
    store = Store(settings.store_url_value)
    try:
        stored = store.frame("quarantine")
    finally:
        store.close()
    assert stored["verbatim_id"].tolist() == [corpus.loc[5, "id"]]
    # a new row that is quarantined for its own reason still makes a night "nothing themed"
    assert _all_quarantined({"read": 10, "already_seen": 8, "quarantined": 2,
                             "stored_conflicts": 1})  # fmt: skip


def test_an_export_that_loses_its_id_column_is_not_stored_twice(env, tmp_path: Path) -> None:
    """A cumulative export stored under its ids comes back without its id column (a new
    template): each row repeating a stored verbatim (same text, time, customer and score) is
    already seen, a row with personal data too (matched on its masked text), and only the new
    rows are stored. A row that differs in its score is a new verbatim."""
    settings, path, corpus = env
    first = corpus.drop(columns="theme")
    first.loc[0, "comment"] = "write to anna.smith@example.com about the late parcel"
    first.to_csv(path, index=False)
    job.backfill([str(path)], WEEKS[0], WEEKS[3], tmp_path / "bf", settings)
    stored_before = len(_stored(settings)[0])
    assert stored_before == len(corpus)

    again = first.drop(columns="id")
    again.loc[1, "score"] = 7  # an answer that differs from the stored one
    new = again.iloc[[2, 3]].assign(comment=["brand new one", "another new one"])
    pd.concat([again, new]).to_csv(path, index=False)
    record = job.nightly([str(path)], tmp_path / "n", settings)
    counts = record["counts"]
    assert counts["already_seen"] == len(corpus) - 1
    assert counts["themed"] == 3 and counts["quarantined"] == 0
    verbatims = _stored(settings)[0]
    assert len(verbatims) == stored_before + 3
    assert set(corpus["id"]) <= set(verbatims["verbatim_id"])


def test_a_cumulative_export_corrects_stored_rows_and_a_new_column_reaches_them(
    env, tmp_path: Path
) -> None:
    """Delivered again with one stored row's score corrected (2 -> 10), another's date moved a
    day, and a column added to the export: the nightly themes nothing new, counts the three
    kinds of correction as `stored_edits` (every row gained the column), updates the stored rows
    (role included; text, theme and language unchanged), and its figures use them: the window's
    verbatims carry the new score and the added column, which `themes_by_segment.csv` breaks
    down by. The same export the next night corrects nothing."""
    settings, path, corpus = env
    job.backfill([str(path)], WEEKS[0], WEEKS[3], tmp_path / "bf", settings)
    before, themes_before = _stored(settings)
    export = corpus.drop(columns="theme")
    scored, moved = export.index[export["score"] == 2][-1], 7  # the newest week: in the window
    export.loc[scored, "score"] = 10
    new_day = export.loc[moved, "created_at"] + pd.Timedelta(days=1)
    export.loc[moved, "created_at"] = new_day
    export["region"] = ["north" if i % 2 else "south" for i in range(len(export))]
    export.to_csv(path, index=False)

    record = job.nightly([str(path)], tmp_path / "n1", settings)
    counts = record["counts"]
    assert counts["already_seen"] == len(corpus) and counts["themed"] == 0
    assert counts["stored_edits"] == len(corpus) and counts["quarantined"] == 0
    after, themes_after = _stored(settings)
    row = after.set_index("verbatim_id")
    scored_id, moved_id = export.loc[scored, "id"], export.loc[moved, "id"]
    assert row.loc[scored_id, "score"] == 10 and row.loc[scored_id, "role"] == "promoter"
    assert row.loc[moved_id, "created_at"] == pd.Timestamp(new_day)
    assert set(row["region"]) == {"north", "south"}
    unchanged = ["text", "text_hash", "language", "source"]
    pd.testing.assert_frame_equal(after[["verbatim_id", *unchanged]],
                                  before[["verbatim_id", *unchanged]])  # fmt: skip
    assert retention(themes_before, themes_after) == 1.0
    shown = pd.read_csv(tmp_path / "n1" / "verbatims.csv", dtype={"verbatim_id": str})
    shown = shown.set_index("verbatim_id")
    assert shown.loc[scored_id, "score"] == 10 and shown.loc[scored_id, "role"] == "promoter"
    assert set(shown["region"]) == {"north", "south"}
    by_segment = pd.read_csv(tmp_path / "n1" / "themes_by_segment.csv", encoding="utf-8-sig")
    counted = by_segment.groupby("segment_column")["n_verbatims"].sum()
    assert counted["region"] == counted["source"] > 0  # every stored row of the window has one

    again = job.nightly([str(path)], tmp_path / "n2", settings)["counts"]
    assert "stored_edits" not in again and again["already_seen"] == len(corpus)
