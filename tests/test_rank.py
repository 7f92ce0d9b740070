"""Ranking, views, segments, backlog and follow-up: hand-built cases and the sample ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cx_text import nps, rank, trends
from cx_text.clean import clean_verbatims
from cx_text.ingest import read_input, to_verbatims
from cx_text.schemas import (
    ASSIGNMENTS,
    BACKLOG,
    FOLLOWUP,
    MENTIONS,
    THEME_TABLE,
    THEMES_BY_SEGMENT,
    UNCLASSIFIED,
)
from cx_text.settings import CleanSettings, IngestSettings, NpsSettings, RankSettings
from tests.factories import DAY, complaint, frame, survey

DATA = Path(__file__).resolve().parents[1] / "data"
FAST = NpsSettings(bootstrap_samples=200, random_state=1)


def assign(pairs: dict[str, str], confidence: dict[str, float] | None = None) -> pd.DataFrame:
    confidence = confidence or {}
    return ASSIGNMENTS.conform(
        pd.DataFrame(
            {
                "verbatim_id": list(pairs),
                "theme_id": list(pairs.values()),
                "theme_label": [f"theme {t.lower()}" for t in pairs.values()],
                "parent_theme_id": "P01",
                "confidence": [confidence.get(v, 0.5) for v in pairs],
            }
        )
    )


# A: 3 detractors + 1 passive (costs NPS), B: 3 promoters, C: 2 promoters + 2 passives,
# U (unclassified): 4 detractors, X: complaint-only with 2 complaints, Y: with 1, A: 1 complaint.
# Overall: 5 P, 3 p, 7 D of 15 scored -> NPS = 100 * (5 - 7) / 15 = -13.333.
ROWS = [
    survey("a1", 2, customer_id="K1", created_at=DAY - pd.Timedelta(days=3), text="awful a1"),
    survey("a2", 3, customer_id="K2", created_at=DAY, text="awful a2"),
    survey("a3", 0, customer_id="K2", created_at=DAY - pd.Timedelta(days=1), text="awful a3"),
    survey("a4", 8, customer_id="K4"),
    survey("b1", 10), survey("b2", 9), survey("b3", 10),
    survey("c1", 9, touchpoint="support"), survey("c2", 10, touchpoint="support"),
    survey("c3", 7, touchpoint="support"), survey("c4", 8, touchpoint="support"),
    survey("u1", 1), survey("u2", 2), survey("u3", 4, customer_id="K9"), survey("u4", 5),
    complaint("ka", text="complaint about a"), complaint("kx1"), complaint("kx2"),
    complaint("ky"),
]  # fmt: skip
VERBATIMS_SMALL = frame(*ROWS).assign(region=["north"] * 9 + ["south"] * 10)
PAIRS = {"a1": "A", "a2": "A", "a3": "A", "a4": "A", "ka": "A", "b1": "B", "b2": "B", "b3": "B",
         "c1": "C", "c2": "C", "c3": "C", "c4": "C", "u1": UNCLASSIFIED, "u2": UNCLASSIFIED,
         "u3": UNCLASSIFIED, "u4": UNCLASSIFIED, "kx1": "X", "kx2": "X", "ky": "Y"}  # fmt: skip
ASSIGNED = assign(PAIRS, confidence={"a1": 0.9, "a2": 0.7, "a3": 0.8, "a4": 0.95, "ka": 0.6})


@pytest.fixture(scope="module")
def figures() -> pd.DataFrame:
    return nps.theme_figures(VERBATIMS_SMALL, ASSIGNED, FAST)


@pytest.fixture(scope="module")
def ranked(figures: pd.DataFrame) -> pd.DataFrame:
    return rank.rank_themes(figures, RankSettings())


# --------------------------------------------------------------------------- ranking


def test_rank_order_complaint_only_and_unclassified(ranked: pd.DataFrame) -> None:
    # U costs the most NPS (-31.5: without it 5 P, 3 p, 3 D of 11 -> 18.18) but is unclassified:
    # last. A costs NPS: first. X and Y have no scores: priority 0, after A and before the
    # themes that add NPS, X (2 complaints) before Y (1). C (+23.0: without it 3 P, 1 p, 7 D of
    # 11 -> -36.36) before B (+28.3: without it 2 P, 3 p, 7 D of 12 -> -41.67).
    assert ranked["theme_id"].tolist() == ["A", "X", "Y", "C", "B", UNCLASSIFIED]
    assert ranked["rank"].tolist() == [1, 2, 3, 4, 5, 6]
    by_id = ranked.set_index("theme_id")
    assert by_id.loc[UNCLASSIFIED, "nps_impact"] < by_id.loc["A", "nps_impact"] < 0
    assert pd.isna(by_id.loc["X", "nps_impact"]) and by_id.loc["X", "priority"] == 0


def test_priority_formula(figures: pd.DataFrame) -> None:
    # without A (a1-a4): 5 P, 2 p, 4 D of 11 -> 9.091; impact = -13.333 - 9.091 = -22.424
    by_id = rank.rank_themes(figures, RankSettings()).set_index("theme_id")
    assert by_id.loc["A", "nps_impact"] == pytest.approx(-200 / 15 - 100 / 11)
    assert by_id.loc["A", "priority"] == pytest.approx(200 / 15 + 100 / 11)
    assert by_id.loc["C", "nps_impact"] == pytest.approx(-200 / 15 + 400 / 11)
    # complaints: ka, kx1, kx2, ky = 4; X has 2 -> 50 points, A and Y 1 -> 25 points
    weighted = RankSettings(impact_weight=0.5, complaint_weight=2.0)
    by_id = rank.rank_themes(figures, weighted).set_index("theme_id")
    assert by_id.loc["A", "priority"] == pytest.approx(0.5 * (200 / 15 + 100 / 11) + 2 * 25)
    assert by_id.loc["X", "priority"] == pytest.approx(2 * 50)
    assert by_id.loc["Y", "priority"] == pytest.approx(2 * 25)
    assert by_id.index[0] == "X"


def test_not_significant_theme_is_kept(figures: pd.DataFrame) -> None:
    ranked = rank.rank_themes(figures, RankSettings())
    assert set(ranked["theme_id"]) == set(figures["theme_id"])
    shaky = ranked[(ranked["nps_impact_low"] <= 0) & (ranked["nps_impact_high"] >= 0)]
    assert len(shaky) and not shaky["significant"].any()


def test_ranked_table_schema(ranked: pd.DataFrame) -> None:
    expected = ["rank", "theme_id", "label", "parent_theme_id", "parent_label", "keywords",
                "n_verbatims", "share", "n_detractors", "n_passives", "n_promoters",
                "n_complaints", "theme_nps", "theme_nps_low", "theme_nps_high", "nps_impact",
                "nps_impact_low", "nps_impact_high", "detractor_share", "detractor_rate",
                "promoter_share", "driver_coef", "priority", "significant", "examples"]  # fmt: skip
    assert ranked.columns.tolist()[: len(expected)] == expected
    assert ranked.columns.tolist() == THEME_TABLE.names
    assert THEME_TABLE.name == "ranked_themes"


# --------------------------------------------------------------------------- views


def test_views(ranked: pd.DataFrame) -> None:
    settings = RankSettings(view_min_scored=1, top_n=2)
    overall = nps.overall_nps(VERBATIMS_SMALL)
    # only A costs NPS among the classified themes
    assert rank.detractor_view(ranked, settings)["theme_id"].tolist() == ["A"]
    # promoter share overall = 5 / 15 = .333: B (rate 1) and C (rate .5) beat it; B has 3 of
    # the 5 promoters, C 2
    assert overall["promoter_share"] == pytest.approx(5 / 15)
    assert rank.promoter_view(ranked, overall, settings)["theme_id"].tolist() == ["B", "C"]
    # passive rates: C 2/4, A 1/4, B 0 -> top 2: C, A
    assert rank.passive_view(ranked, settings)["theme_id"].tolist() == ["C", "A"]
    # a theme with fewer scored verbatims than view_min_scored stays out of the rate views
    strict = RankSettings(view_min_scored=4)
    assert rank.promoter_view(ranked, overall, strict)["theme_id"].tolist() == ["C"]


# --------------------------------------------------------------------------- segments


def test_segment_breakdown_suppresses_small_groups() -> None:
    settings = RankSettings(min_segment_size=3)
    table = rank.segment_breakdown(VERBATIMS_SMALL, ASSIGNED, None, settings)
    assert table.columns.tolist() == THEMES_BY_SEGMENT.names
    # auto columns: touchpoint, source, channel and the extra 'region' column
    assert set(table["segment_column"]) == {"touchpoint", "source", "channel", "region"}
    rows = table.set_index(["segment_column", "segment_value", "theme_id"])
    # support touchpoint: C = c1 P, c2 P, c3 p, c4 p -> NPS 50; share 4 of 4 themed
    support_c = rows.loc[("touchpoint", "support", "C")]
    assert support_c["theme_nps"] == pytest.approx(50.0) and support_c["share"] == 1.0
    assert not support_c["suppressed"]
    # region south: X has 2 verbatims (< 3): suppressed, count kept, figures empty
    south_x = rows.loc[("region", "south", "X")]
    assert south_x["suppressed"] and south_x["n_verbatims"] == 2
    assert pd.isna(south_x["n_complaints"]) and pd.isna(south_x["share"])
    # region north: A = a1 a2 a3 D, a4 p -> -75, detractor rate 3/4
    north_a = rows.loc[("region", "north", "A")]
    assert north_a["theme_nps"] == pytest.approx(-75.0)
    assert north_a["detractor_rate"] == pytest.approx(0.75)


def test_segment_columns_from_settings() -> None:
    settings = RankSettings(segment_columns=["region", "missing_column"], min_segment_size=1)
    table = rank.segment_breakdown(VERBATIMS_SMALL, ASSIGNED, None, settings)
    assert set(table["segment_column"]) == {"region"}
    assert not table["suppressed"].any()


def touchpoint_panel(plan: dict[tuple[str, str], tuple[int, int]]) -> tuple[pd.DataFrame, ...]:
    """Verbatims with `plan[(touchpoint, theme)] = (verbatims, detractors)`; the rest promoters."""
    rows, pairs = [], {}
    for (touchpoint, theme), (n, detractors) in plan.items():
        for k in range(n):
            vid = f"{touchpoint}-{theme}-{k}"
            rows.append(survey(vid, 2 if k < detractors else 10, touchpoint=touchpoint))
            pairs[vid] = theme
    return frame(*rows), assign(pairs)


def test_segment_differences_mark_the_cells_that_differ_from_the_rest() -> None:
    # D: 80 % detractors at delivery, 20 % elsewhere; F: 30 % everywhere; S: 3x the share at
    # support with the same detractor rate
    plan = {
        ("delivery", "D"): (100, 80),
        ("purchase", "D"): (100, 20),
        ("support", "D"): (100, 20),
        ("delivery", "F"): (100, 30),
        ("purchase", "F"): (100, 30),
        ("support", "F"): (100, 30),
        ("delivery", "S"): (30, 6),
        ("purchase", "S"): (30, 6),
        ("support", "S"): (90, 18),
    }
    verbatims, assignments = touchpoint_panel(plan)
    settings = RankSettings(segment_columns=["touchpoint"], min_segment_size=10)
    table = rank.segment_breakdown(verbatims, assignments, None, settings)
    assert table.columns.tolist() == THEMES_BY_SEGMENT.names
    rows = table.set_index(["segment_value", "theme_id"])
    delivery_d = rows.loc[("delivery", "D")]
    assert delivery_d["detractor_rate"] == 0.8 and delivery_d["detractor_rate_rest"] == 0.2
    assert delivery_d["direction"] == "up" and delivery_d["detractor_diff_q"] < 1e-10
    # purchase D: 20 % vs 50 % in delivery + support: significantly lower
    assert rows.loc[("purchase", "D"), "direction"] == "down"
    assert (rows.xs("F", level="theme_id")["direction"] == "").all()
    assert (rows.xs("F", level="theme_id")["detractor_diff_q"] == 1.0).all()
    support_s = rows.loc[("support", "S")]
    # S at support: 90 of 290 themed vs 60 of 460 elsewhere
    assert support_s["share"] == pytest.approx(90 / 290)
    assert support_s["share_rest"] == pytest.approx(60 / 460)
    assert support_s["share_direction"] == "up" and support_s["direction"] == ""
    # BH over the table: 9 share tests; q >= p
    _, p = trends.two_proportion_z(*(np.array([v]) for v in (60, 460, 90, 290)))
    assert p[0] <= support_s["share_diff_q"] <= 9 * p[0]
    shown = rank.significant_segment_cells(table)
    assert {("delivery", "D"), ("purchase", "D"), ("support", "S")} <= set(
        zip(shown["segment_value"], shown["theme_id"], strict=True)
    )
    text = rank.segment_differences_markdown(table)
    assert "| touchpoint = delivery | theme d (D) | 80.0% vs 20.0% ▲" in text
    assert "<td>touchpoint = support</td>" in rank.segment_differences_html(table)


def test_segment_differences_leave_small_and_flat_cells_unmarked() -> None:
    plan = {("delivery", "F"): (100, 30), ("purchase", "F"): (100, 30),
            ("support", "F"): (100, 30), ("delivery", "X"): (5, 5), ("purchase", "X"): (5, 0),
            ("support", "X"): (5, 5)}  # fmt: skip
    verbatims, assignments = touchpoint_panel(plan)
    settings = RankSettings(segment_columns=["touchpoint"], min_segment_size=10)
    table = rank.segment_breakdown(verbatims, assignments, None, settings)
    small = table.set_index(["segment_value", "theme_id"]).loc[("support", "X")]
    assert small["suppressed"] and pd.isna(small["detractor_diff_q"]) and small["direction"] == ""
    assert rank.significant_segment_cells(table).empty
    assert "No theme differs significantly" in rank.segment_differences_markdown(table)


# --------------------------------------------------------------------------- backlog, follow-up


def test_backlog_items(ranked: pd.DataFrame) -> None:
    items = rank.backlog_items(rank.backlog_json(ranked, VERBATIMS_SMALL, ASSIGNED, RankSettings()))
    assert items.columns.tolist() == BACKLOG.names
    # only A has a negative impact (U is unclassified, X / Y have none)
    assert items["cx_theme_id"].tolist() == ["A"]
    item = items.iloc[0]
    impact = ranked.set_index("theme_id").loc["A", "nps_impact"]
    assert item["Summary"] == f"[CX] Theme a ({impact:.1f} NPS pts)"
    assert item["Labels"] == "cx-text,theme-A"
    assert item["Priority"] in {"Highest", "Medium"}
    # quotes: detractors and complaints first, most confident first: a1 .9, a3 .8, a2 .7
    description = item["Description"]
    assert description.index('"awful a1"') < description.index('"awful a3"')
    assert description.index('"awful a3"') < description.index('"awful a2"')
    assert '"some comment"' not in description and "complaint about a" not in description


def test_backlog_json_is_json_and_keyed(ranked: pd.DataFrame) -> None:
    records = rank.backlog_json(ranked, VERBATIMS_SMALL, ASSIGNED, RankSettings())
    json.dumps(records, allow_nan=False)
    record = records[0]
    assert record["cx_theme_id"] == "A"
    assert record["labels"] == ["cx-text", "theme-A"]
    assert record["figures"]["n_detractors"] == 3
    assert record["figures"]["rank"] == 1
    assert isinstance(record["figures"]["nps_impact"], float)
    assert len(record["quotes"]) == 3


@pytest.mark.parametrize(
    ("position", "significant", "expected"),
    [(1, True, "Highest"), (4, True, "High"), (2, False, "Medium"), (5, False, "Low")],
)
def test_tracker_priority(position: int, significant: bool, expected: str) -> None:
    assert rank.tracker_priority(position, significant) == expected


def test_followup_list(ranked: pd.DataFrame) -> None:
    table = rank.followup_list(ranked, VERBATIMS_SMALL, ASSIGNED, RankSettings())
    assert table.columns.tolist() == FOLLOWUP.names
    # A's detractors: a2 (K2, newest), a3 (K2, older: same customer, dropped), a1 (K1)
    assert table["verbatim_id"].tolist() == ["a2", "a1"]
    assert table["customer_id"].tolist() == ["K2", "K1"]
    assert (table["theme_id"] == "A").all()


def test_inputs_not_mutated(figures: pd.DataFrame) -> None:
    inputs = [VERBATIMS_SMALL, ASSIGNED, figures]
    before = [f.copy(deep=True) for f in inputs]
    ranked = rank.rank_themes(figures, RankSettings())
    ranked_before = ranked.copy(deep=True)
    settings = RankSettings(view_min_scored=1)
    rank.detractor_view(ranked, settings)
    rank.promoter_view(ranked, nps.overall_nps(VERBATIMS_SMALL), settings)
    rank.passive_view(ranked, settings)
    rank.segment_breakdown(VERBATIMS_SMALL, ASSIGNED, None, settings)
    rank.backlog_items(rank.backlog_json(ranked, VERBATIMS_SMALL, ASSIGNED, settings))
    rank.followup_list(ranked, VERBATIMS_SMALL, ASSIGNED, settings)
    for original, now in zip(before, inputs, strict=True):
        pd.testing.assert_frame_equal(original, now)
    pd.testing.assert_frame_equal(ranked_before, ranked)


# --------------------------------------------------------------------------- ground truth

DETRACTOR_THEMES = {"late_delivery", "damaged_package", "refund_delay", "rude_support",
                    "app_crashes", "hidden_fees", "long_wait_support", "wrong_item",
                    "promo_code_failure"}  # fmt: skip
PROMOTER_THEMES = {"fast_delivery", "friendly_courier", "easy_app", "good_prices",
                   "helpful_support", "product_quality"}  # fmt: skip
PASSIVE_THEMES = {"delivery_slot_choice", "packaging_waste"}


def sample_inputs() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Sample verbatims (ingest + clean, no embedding model) themed by the truth file."""
    raw = read_input(str(DATA / "sample_feedback.csv"))
    mapped, _ = to_verbatims(raw, IngestSettings(), pd.Timestamp("2026-12-01"))
    verbatims = clean_verbatims(mapped, CleanSettings(), forced_language="en").verbatims
    truth = pd.read_csv(DATA / "sample_truth.csv", dtype=str, keep_default_na=False)
    truth = truth[truth["response_id"].isin(verbatims["verbatim_id"]) & (truth["theme"] != "")]
    assignments = ASSIGNMENTS.conform(
        pd.DataFrame({"verbatim_id": truth["response_id"], "theme_id": truth["theme"],
                      "theme_label": truth["theme"].str.replace("_", " "),
                      "parent_theme_id": "P01", "confidence": 1.0})
    )  # fmt: skip
    secondary = truth[truth["theme_secondary"] != ""]
    mentions = MENTIONS.conform(
        pd.concat([assignments[["verbatim_id", "theme_id"]],
                   secondary[["response_id", "theme_secondary"]].set_axis(
                       ["verbatim_id", "theme_id"], axis=1)])
        .assign(sentence="", confidence=1.0)
    )  # fmt: skip
    return verbatims, assignments, mentions


def test_sample_ground_truth() -> None:
    verbatims, assignments, mentions = sample_inputs()
    figures = nps.theme_figures(verbatims, assignments, NpsSettings(), mentions=mentions)
    ranked = rank.rank_themes(figures, RankSettings())
    top = ranked.head(5)
    assert set(top["theme_id"]) <= DETRACTOR_THEMES
    assert (top["nps_impact_high"] < 0).all() and top["significant"].all()
    # in fact every planted detractor theme ranks above every other theme
    assert set(ranked["theme_id"].head(len(DETRACTOR_THEMES))) == DETRACTOR_THEMES
    overall = nps.overall_nps(verbatims)
    leaders = rank.promoter_view(ranked, overall, RankSettings())
    assert set(leaders["theme_id"]) == PROMOTER_THEMES
    assert set(rank.passive_view(ranked, RankSettings())["theme_id"].head(2)) == PASSIVE_THEMES
    backlog = rank.backlog_items(rank.backlog_json(ranked, verbatims, assignments, RankSettings()))
    assert set(backlog["cx_theme_id"]) == DETRACTOR_THEMES
