"""cx_text.facets and the views built on them: known answers on hand-made scored mentions."""

from __future__ import annotations

import json
from dataclasses import replace

import pandas as pd

from cx_text import facets, rank, trends
from cx_text.schemas import ASSIGNMENTS, SCORED_MENTIONS, THEMES
from cx_text.settings import FacetSettings, Settings
from cx_text.theme_tables import Discovery
from tests.factories import complaint, frame, survey

PROBLEM_CALL = "still waiting for a call back"
PRAISE_CALL = "my call was dealt with very well"
PROBLEM_REFUND = "refund not received"
PRAISE_APP = "love the new app"


def _theme(theme_id: str, label: str) -> dict[str, object]:
    return {"theme_id": theme_id, "label": label, "parent_theme_id": "P01",
            "parent_label": "service", "keywords": label, "size": 1, "language": "en",
            "examples": "", "status": "active", "n_en": 1, "n_ru": 0, "label_en": label,
            "label_ru": ""}  # fmt: skip


def _case(roles: str = "scored") -> tuple[Discovery, pd.DataFrame, pd.DataFrame]:
    """T001 (calls) is mixed: 8 problem, 8 praise mentions; T002 (refunds) all problem;
    T003 (app) all praise."""
    rows, mentions, assignments = [], [], []
    plan = [("T001", PROBLEM_CALL, -0.8, 3)] * 8 + [("T001", PRAISE_CALL, 0.9, 10)] * 8
    plan += [("T002", PROBLEM_REFUND, -0.9, 2)] * 8 + [("T003", PRAISE_APP, 0.9, 10)] * 8
    for i, (theme, sentence, score, nps_score) in enumerate(plan):
        vid = f"v{i:02d}"
        extra = {"text": f"{sentence}.", "customer_id": f"c{i}"}
        rows.append(
            survey(vid, nps_score, **extra) if roles == "scored" else complaint(vid, **extra)
        )
        polarity = "problem" if score < 0 else "praise"
        mentions.append({"verbatim_id": vid, "theme_id": theme, "sentence": sentence,
                         "confidence": 0.9, "polarity": polarity,
                         "polarity_score": score})  # fmt: skip
        assignments.append({"verbatim_id": vid, "theme_id": theme, "theme_label": theme,
                            "confidence": 0.9, "parent_theme_id": "P01"})  # fmt: skip
    verbatims = frame(*rows)
    scores = pd.DataFrame(mentions).set_index("verbatim_id")["polarity_score"]
    own = verbatims["verbatim_id"].map(scores)
    verbatims = verbatims.assign(polarity=own.map(lambda s: "problem" if s < 0 else "praise"),
                                 polarity_score=own)  # fmt: skip
    themes = THEMES.conform(pd.DataFrame([_theme("T001", "call back"), _theme("T002", "refund"),
                                          _theme("T003", "app")]))  # fmt: skip
    shown = Discovery(ASSIGNMENTS.conform(pd.DataFrame(assignments)), SCORED_MENTIONS.conform(
        pd.DataFrame(mentions)), themes, {}, {})  # fmt: skip
    return shown, verbatims, SCORED_MENTIONS.conform(pd.DataFrame(mentions))


def test_a_mixed_theme_splits_into_problem_and_praise_facets() -> None:
    shown, verbatims, mentions = _case()
    out = facets.split_facets(shown, verbatims, mentions, FacetSettings())
    assert sorted(out.themes["theme_id"]) == ["T001+", "T001-", "T002", "T003"]
    said = {k: set(g) for k, g in out.mentions.groupby("theme_id")["sentence"]}
    assert said == {"T001-": {PROBLEM_CALL}, "T001+": {PRAISE_CALL}, "T002": {PROBLEM_REFUND},
                    "T003": {PRAISE_APP}}  # fmt: skip
    primary = out.assignments.set_index("verbatim_id")["theme_id"]
    assert primary["v00"] == "T001-" and primary["v08"] == "T001+" and primary["v16"] == "T002"
    assert set(out.themes["parent_theme_id"]) == {"P01"}
    assert [facets.topic_of(t) for t in ("T001-", "T001+", "T002")] == ["T001", "T001", "T002"]


def test_facets_of_a_bilingual_topic_count_their_own_languages() -> None:
    shown, verbatims, mentions = _case()
    russian = verbatims["verbatim_id"].isin([f"v{i:02d}" for i in range(8)])  # T001's problems
    verbatims = verbatims.assign(language=russian.map({True: "ru", False: "en"}))
    bilingual = shown.themes["theme_id"] == "T001"
    themes = shown.themes.copy()
    themes.loc[bilingual, ["language", "n_en", "n_ru"]] = ["multi", 8, 8]
    out = facets.split_facets(replace(shown, themes=themes), verbatims, mentions, FacetSettings())
    rows = out.themes.set_index("theme_id")
    assert rows.loc["T001-", ["language", "n_en", "n_ru"]].tolist() == ["ru", 0, 8]
    assert rows.loc["T001+", ["language", "n_en", "n_ru"]].tolist() == ["en", 8, 0]
    assert rows.loc["T002", ["n_en", "n_ru"]].tolist() == [1, 0]  # whole topics untouched


def test_a_topic_split_before_stays_split_down_to_keep_share() -> None:
    mentions = _case()[2]
    # T001 now: 8 problem mentions and 1 praise: its smaller side is 1/9 = 0.11 of it
    fewer = mentions[~((mentions["theme_id"] == "T001") & (mentions["polarity_score"] > 0))]
    one_praise = mentions[(mentions["theme_id"] == "T001") & (mentions["polarity_score"] > 0)]
    near = pd.concat([fewer, one_praise.head(1)], ignore_index=True)
    settings = FacetSettings(min_share=0.15, keep_share=0.1, min_mentions=1)
    assert facets.mixed_topics(near, settings) == []  # 1/9 = 0.11 < min_share
    assert facets.mixed_topics(near, settings, split_before=["T001"]) == ["T001"]
    no_memory = FacetSettings(min_share=0.15, keep_share=0.15, min_mentions=1)
    assert facets.mixed_topics(near, no_memory, split_before=["T001"]) == []
    gone = FacetSettings(min_share=0.15, keep_share=0.12, min_mentions=1)  # 0.11 < keep_share
    assert facets.mixed_topics(near, gone, split_before=["T001"]) == []


def test_previous_split_reads_the_newest_run_record_with_facets() -> None:
    runs = pd.DataFrame({"record": [json.dumps({"facets": {"split": ["T001"]}}),
                                    json.dumps({"facets": {"split": ["T002", "T003"]}}),
                                    json.dumps({"kind": "compare"})]})  # fmt: skip
    assert facets.previous_split(runs) == ["T002", "T003"]
    assert facets.previous_split(pd.DataFrame({"record": []})) == []
    shown, verbatims, mentions = _case()
    out = facets.split_facets(shown, verbatims, mentions, FacetSettings())
    assert facets.split_topics(out.themes) == ["T001"]


def test_a_one_sided_theme_or_polarity_off_does_not_split() -> None:
    shown, verbatims, mentions = _case()
    fewer = FacetSettings(min_mentions=9)  # the smaller side of T001 has 8
    assert sorted(facets.split_facets(shown, verbatims, mentions, fewer).themes["theme_id"]) == [
        "T001", "T002", "T003"]  # fmt: skip
    off = mentions.assign(polarity=pd.NA, polarity_score=float("nan"))
    kept = facets.split_facets(shown, verbatims, off, FacetSettings())
    assert sorted(kept.themes["theme_id"]) == ["T001", "T002", "T003"]


def _tables(roles: str) -> rank.Tables:
    shown, verbatims, mentions = _case(roles)
    out = facets.split_facets(shown, verbatims, mentions, FacetSettings())
    settings = Settings(nps={"bootstrap_samples": 50})
    return rank.rank_tables(verbatims, out.assignments, out.mentions, out.themes, settings)


def test_views_keep_problem_and_praise_apart_and_backlog_quotes_problems_only() -> None:
    tables = _tables("scored")
    themes = tables.themes.set_index("theme_id")
    assert (
        themes.loc["T001-", "problem_share"] == 1.0 and themes.loc["T001+", "praise_share"] == 1.0
    )
    assert themes.loc["T001-", "facet"] == "problem" and themes.loc["T001-", "topic_id"] == "T001"
    assert set(tables.top_detractor_themes["theme_id"]) == {"T001-", "T002"}
    assert (tables.top_detractor_themes["problem_share"] >= 0.8).all()
    assert set(tables.top_promoter_themes["theme_id"]) <= {"T001+", "T003"}
    assert (tables.top_promoter_themes["praise_share"] >= 0.8).all()
    quotes = [q for item in tables.backlog_json for q in item["quotes"]]
    assert quotes and set(quotes) <= {PROBLEM_CALL, PROBLEM_REFUND}
    assert set(tables.followup["theme_id"]) <= {"T001-", "T002"}


def test_a_complaint_only_run_ranks_problems_by_volume_and_praise_apart() -> None:
    tables = _tables("complaint")
    assert list(tables.top_detractor_themes["theme_id"]) == ["T001-", "T002"]
    assert list(tables.top_promoter_themes["theme_id"]) == ["T001+", "T003"]
    order = tables.themes["theme_id"].tolist()
    assert max(order.index("T001-"), order.index("T002")) < min(order.index("T001+"),
                                                                order.index("T003"))  # fmt: skip


def test_pick_examples_with_a_polarity_quotes_only_its_sentences() -> None:
    shown, verbatims, mentions = _case()
    mixed = mentions.assign(theme_id="T001")
    candidates = trends.example_candidates(verbatims, shown.assignments, mixed)
    problems = trends.pick_examples(candidates, "T001", 40, polarity="problem")
    assert set(problems) == {PROBLEM_CALL, PROBLEM_REFUND}


def test_the_report_shows_facets_and_quotes_problems_for_what_to_fix() -> None:
    from cx_text import analytics, report

    shown, verbatims, mentions = _case()
    out = facets.split_facets(shown, verbatims, mentions, FacetSettings())
    settings = Settings(nps={"bootstrap_samples": 50})
    tables = rank.rank_tables(verbatims, out.assignments, out.mentions, out.themes, settings)
    weekly = analytics.weekly_analytics(verbatims, out.assignments, out.mentions, tables.themes,
                                        settings.report)  # fmt: skip
    bundle = report.build_report(verbatims, tables, weekly, {"read": len(verbatims)}, settings)
    details = bundle.markdown.split("(T001-)")[-1].split("###")[0]
    assert "what customers complain about in theme T001" in details
    assert PROBLEM_CALL in details and PRAISE_CALL not in details
    assert "what customers complain about in theme T001" in bundle.html


def test_backlog_descriptions_name_the_facet() -> None:
    tables = _tables("scored")
    item = next(i for i in tables.backlog_json if i["cx_theme_id"] == "T001-")
    assert "Facet: the problem mentions of theme T001" in item["description"]
    assert "Mentions: 100.0% problem, 0.0% praise" in item["description"]
