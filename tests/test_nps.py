"""NPS figures: every formula on small hand-computed cases and invariants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cx_text import nps
from cx_text.schemas import ASSIGNMENTS, MENTIONS, UNCLASSIFIED
from cx_text.settings import NpsSettings
from tests.factories import DAY, complaint, frame, survey


def assign(pairs: dict[str, str], parents: dict[str, str] | None = None) -> pd.DataFrame:
    parents = parents or {}
    return ASSIGNMENTS.conform(
        pd.DataFrame(
            {
                "verbatim_id": list(pairs),
                "theme_id": list(pairs.values()),
                "theme_label": [f"theme {t}" for t in pairs.values()],
                "parent_theme_id": [parents.get(t, "P01") for t in pairs.values()],
                "confidence": 0.8,
            }
        )
    )


def mention(pairs: list[tuple[str, str]]) -> pd.DataFrame:
    return MENTIONS.conform(
        pd.DataFrame(pairs, columns=["verbatim_id", "theme_id"]).assign(sentence="s", confidence=1)
    )


# Ten scored verbatims (P = promoter, p = passive, D = detractor), one complaint.
#   v01 P  B | v02 P  B | v03 P  C | v04 P  C | v05 p  A
#   v06 p  C | v07 p  C | v08 D  A | v09 D  A | v10 D  non-answer (no theme) | c1 complaint A
# Overall: 4 P, 3 p, 3 D of 10 -> NPS = 100 * (4 - 3) / 10 = 10 (the non-answer counts).
TEN = frame(
    survey("v01", 10), survey("v02", 9), survey("v03", 9), survey("v04", 10), survey("v05", 8),
    survey("v06", 7), survey("v07", 7), survey("v08", 3), survey("v09", 0),
    survey("v10", 5, text="-", is_non_answer=True), complaint("c1"),
)  # fmt: skip
TEN_ASSIGNED = assign(
    {"v01": "B", "v02": "B", "v03": "C", "v04": "C", "v05": "A", "v06": "C", "v07": "C",
     "v08": "A", "v09": "A", "c1": "A"},
    parents={"A": "P01", "B": "P01", "C": "P02"},
)  # fmt: skip
TEN_PAIRS = dict(zip(TEN_ASSIGNED["verbatim_id"], TEN_ASSIGNED["theme_id"], strict=True))
NO_BOOTSTRAP = NpsSettings(bootstrap_samples=0)


def by_theme(figures: pd.DataFrame, key: str = "theme_id") -> pd.DataFrame:
    return figures.set_index(key)


# --------------------------------------------------------------------------- formulas


def test_adjusted_wald_hand_computed() -> None:
    # P=6, D=2, n=10: n'=13, p'=6.75/13=.519231, d'=2.75/13=.211538, p'-d'=4/13=.307692,
    # Var=(9.5/13 - (4/13)^2)/13 = (.730769-.094675)/13 = .048930, 1.96*sqrt(Var)=.433556
    # -> 100 * (.307692 -/+ .433556) = -12.586 .. 74.125
    low, high = nps.adjusted_wald(np.array([6.0]), np.array([2.0]), np.array([10.0]))
    assert low[0] == pytest.approx(-12.586, abs=1e-3)
    assert high[0] == pytest.approx(74.125, abs=1e-3)


def test_adjusted_wald_all_promoters_is_clipped_and_empty_is_nan() -> None:
    # P=10, D=0, n=10: p'=10.75/13=.826923, d'=.75/13=.057692, p'-d'=.769231,
    # Var=(.884615-.591716)/13=.022531, half=1.96*.150102=.294200 -> 47.503 .. 106.3 -> 100
    low, high = nps.adjusted_wald(np.array([10.0, 0.0]), np.array([0.0, 0.0]), np.array([10, 0]))
    assert low[0] == pytest.approx(47.503, abs=1e-3)
    assert high[0] == 100.0
    assert np.isnan(low[1]) and np.isnan(high[1])


def test_overall_nps_counts_non_answers() -> None:
    overall = nps.overall_nps(TEN)
    # 4 P, 3 p, 3 D (v10 is a non-answer detractor) of 10 -> 10 points; c1 has no score
    assert overall["nps"] == pytest.approx(10.0)
    assert overall["n"] == 10
    assert overall["detractor_share"] == pytest.approx(0.3)
    assert overall["passive_share"] == pytest.approx(0.3)
    assert overall["promoter_share"] == pytest.approx(0.4)
    low, high = nps.adjusted_wald(np.array([4.0]), np.array([3.0]), np.array([10.0]))
    assert (overall["low"], overall["high"]) == pytest.approx((low[0], high[0]))


def test_scores_on_other_scales_map_to_0_10() -> None:
    verbatims = frame(
        survey("a", 1, "csat"), survey("b", 3, "csat"), survey("c", 5, "csat"),
        survey("d", 1, "ces"), survey("e", 4, "ces"), survey("f", 7, "ces"), survey("g", 6),
        complaint("h"),
    )  # fmt: skip
    # CSAT (s-1)*2.5: 0, 5, 10; CES (s-1)*10/6: 0, 5, 10; NPS as is; complaint NaN
    expected = [0, 5, 10, 0, 5, 10, 6, np.nan]
    np.testing.assert_allclose(nps.scores_0_10(verbatims), expected)


# --------------------------------------------------------------------------- per-theme figures


def test_counts_shares_and_rates() -> None:
    figures = by_theme(nps.theme_figures(TEN, TEN_ASSIGNED, NO_BOOTSTRAP))
    a, b, c = figures.loc["A"], figures.loc["B"], figures.loc["C"]
    # themed verbatims: v01-v09 + c1 = 10 (the non-answer v10 is in no theme)
    assert (a["n_verbatims"], a["n_detractors"], a["n_passives"], a["n_promoters"]) == (4, 2, 1, 0)
    assert a["n_complaints"] == 1 and a["n_scored"] == 3
    assert (a["share"], b["share"], c["share"]) == pytest.approx((0.4, 0.2, 0.4))
    # A: 2 of all 3 detractors; 2 of its 3 scored verbatims; 1 of 3 passive
    assert a["detractor_share"] == pytest.approx(2 / 3)
    assert a["detractor_rate"] == pytest.approx(2 / 3)
    assert a["passive_rate"] == pytest.approx(1 / 3)
    # B: 2 of all 4 promoters, all of its own; C: 2 of 4 promoters, 2 of its 4 scored
    assert (b["promoter_share"], b["promoter_rate"]) == pytest.approx((0.5, 1.0))
    assert (c["promoter_share"], c["promoter_rate"]) == pytest.approx((0.5, 0.5))
    assert a["complaint_share"] == pytest.approx(1.0)


def test_theme_nps_and_all_promoter_theme() -> None:
    figures = by_theme(nps.theme_figures(TEN, TEN_ASSIGNED, NO_BOOTSTRAP))
    # A: 0 P, 1 p, 2 D of 3 -> -66.667; B: 2 P of 2 -> 100; C: 2 P, 2 p of 4 -> 50
    assert figures.loc["A", "theme_nps"] == pytest.approx(-200 / 3)
    assert figures.loc["B", "theme_nps"] == pytest.approx(100.0)
    assert figures.loc["C", "theme_nps"] == pytest.approx(50.0)
    # B, n=2, P=2: n'=5, p'=2.75/5=.55, d'=.15, Var=(.7-.16)/5=.108, half=1.96*.328634=.644123
    # -> 100 * (.4 -/+ .644123) = -24.412 .. 104.4 -> clipped to 100
    assert figures.loc["B", "theme_nps_low"] == pytest.approx(-24.412, abs=1e-3)
    assert figures.loc["B", "theme_nps_high"] == 100.0


def test_leave_one_out_impact() -> None:
    figures = by_theme(nps.theme_figures(TEN, TEN_ASSIGNED, NO_BOOTSTRAP))
    # without A (v05, v08, v09): 4 P, 2 p, 1 D of 7 -> 42.857; impact = 10 - 42.857
    assert figures.loc["A", "nps_impact"] == pytest.approx(10 - 300 / 7)
    # without B (v01, v02): 2 P, 3 p, 3 D of 8 -> -12.5; impact = 10 + 12.5
    assert figures.loc["B", "nps_impact"] == pytest.approx(22.5)
    # without C (v03, v04, v06, v07): 2 P, 1 p, 3 D of 6 -> -16.667; impact = 26.667
    assert figures.loc["C", "nps_impact"] == pytest.approx(10 + 100 / 6)


def test_mentions_widen_membership() -> None:
    # v01 (a promoter of B) also mentions A in a second sentence
    figures = by_theme(
        nps.theme_figures(TEN, TEN_ASSIGNED, NO_BOOTSTRAP, mentions=mention([("v01", "A")]))
    )
    a = figures.loc["A"]
    assert (a["n_verbatims"], a["n_primary"], a["n_promoters"]) == (5, 4, 1)
    # A = v01 P, v05 p, v08 D, v09 D: NPS (1 - 2) / 4 = -25
    assert a["theme_nps"] == pytest.approx(-25.0)
    # without A: v02 v03 v04 P, v06 v07 p, v10 D -> (3 - 1) / 6 = 33.333; impact = -23.333
    assert a["nps_impact"] == pytest.approx(10 - 200 / 6)
    # 11 memberships over 10 themed verbatims: shares add up to more than 1 with mentions
    assert figures["share"].sum() == pytest.approx(1.1)


def test_non_answers_belong_to_no_theme() -> None:
    # even when an assignment names it, the non-answer v10 stays out of every theme
    assignments = assign({**TEN_PAIRS, "v10": "A"})
    figures = by_theme(nps.theme_figures(TEN, assignments, NO_BOOTSTRAP))
    assert figures.loc["A", "n_verbatims"] == 4
    assert figures.loc["A", "nps_impact"] == pytest.approx(10 - 300 / 7)
    assert nps.overall_nps(TEN)["n"] == 10


def test_parent_figures_group_by_parent() -> None:
    figures = by_theme(nps.parent_theme_figures(TEN, TEN_ASSIGNED, NO_BOOTSTRAP), "parent_theme_id")
    # P01 = A + B = v01 v02 P, v05 p, v08 v09 D, c1: NPS (2 - 2) / 5 = 0
    assert figures.loc["P01", "n_verbatims"] == 6
    assert figures.loc["P01", "theme_nps"] == pytest.approx(0.0)
    # P02 = C: the same figures as theme C
    theme_c = by_theme(nps.theme_figures(TEN, TEN_ASSIGNED, NO_BOOTSTRAP)).loc["C"]
    assert figures.loc["P02", "nps_impact"] == pytest.approx(theme_c["nps_impact"])
    assert figures.loc["P02", "parent_label"] == "P02"


def ten_times() -> tuple[pd.DataFrame, pd.DataFrame]:
    """TEN repeated 10 times with fresh ids: every proportion (and so every impact) is unchanged."""
    copies = [TEN.assign(verbatim_id=TEN["verbatim_id"] + f"_{i}") for i in range(10)]
    assigned = [TEN_ASSIGNED.assign(verbatim_id=TEN_ASSIGNED["verbatim_id"] + f"_{i}")
                for i in range(10)]  # fmt: skip
    return pd.concat(copies, ignore_index=True), pd.concat(assigned, ignore_index=True)


def test_bootstrap_interval_contains_estimate_and_is_seeded() -> None:
    verbatims, assignments = ten_times()
    settings = NpsSettings(bootstrap_samples=500, random_state=7)
    first = by_theme(nps.theme_figures(verbatims, assignments, settings))
    again = by_theme(nps.theme_figures(verbatims, assignments, settings))
    other = by_theme(nps.theme_figures(verbatims, assignments, settings.model_copy(
        update={"random_state": 8})))  # fmt: skip
    assert first.loc["A", "nps_impact"] == pytest.approx(10 - 300 / 7)
    assert (first["nps_impact_low"] < first["nps_impact"]).all()
    assert (first["nps_impact"] < first["nps_impact_high"]).all()
    pd.testing.assert_frame_equal(first, again)
    assert not np.allclose(first["nps_impact_low"], other["nps_impact_low"])
    excludes_zero = (first["nps_impact_low"] > 0) | (first["nps_impact_high"] < 0)
    assert (first["significant"] == excludes_zero).all()
    assert first.loc["A", "significant"]


def test_bootstrap_intervals_of_100_themes_cover_the_point_impact() -> None:
    """1,000 resamples of 4,000 verbatims over 100 themes (its speed: `bench/`)."""
    rng = np.random.default_rng(1)
    values = rng.choice([-1.0, 0.0, 1.0], size=4000)
    matrix = np.zeros((4000, 100), dtype=bool)
    matrix[np.arange(4000), rng.integers(0, 100, 4000)] = True
    low, high = nps.bootstrap_impact(values, matrix, 1000, 0)
    impact = nps.leave_one_out_impact(values, matrix)
    assert ((low <= impact) & (impact <= high)).mean() > 0.9


def test_driver_coefficient_recovers_known_effect() -> None:
    # score = 9 - 4 * [A] exactly; B is noise-free and unrelated (coef 0); E has one verbatim;
    # F and G always appear together, so neither can be told apart: NaN
    in_a = [1, 1, 1, 1, 0, 0, 0, 0, 1, 0, 1, 0]
    in_b = [1, 0, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0]
    in_fg = [0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 1]
    rows = [survey(f"v{i:02d}", 9 - 4 * a) for i, a in enumerate(in_a)]
    members = [(f"v{i:02d}", "A") for i, a in enumerate(in_a) if a]
    members += [(f"v{i:02d}", "B") for i, b in enumerate(in_b) if b]
    members += [(f"v{i:02d}", t) for i, f in enumerate(in_fg) if f for t in ("F", "G")]
    members += [("v05", "E")]
    primary = assign({vid: theme for vid, theme in reversed(members)})
    figures = by_theme(nps.theme_figures(frame(*rows), primary, NO_BOOTSTRAP, mention(members)))
    assert figures.loc["A", "driver_coef"] == pytest.approx(-4.0)
    assert figures.loc["A", "driver_low"] == pytest.approx(-4.0)  # exact fit: zero variance
    assert figures.loc["B", "driver_coef"] == pytest.approx(0.0, abs=1e-9)
    assert figures.loc[["E", "F", "G"], "driver_coef"].isna().all()


def test_driver_regression_in_blocks_of_rows_equals_one_block(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The normal equations are summed over blocks of rows (bounded memory at 1M verbatims):
    any block size gives the figures of one block, collinear and unusable themes included."""
    rng = np.random.default_rng(5)
    matrix = rng.random((1000, 12)) < 0.2
    matrix[:, 5] = matrix[:, 4]  # collinear pair: NaN either way
    matrix[:, 6] = False
    matrix[3, 6] = True  # one scored verbatim: unusable
    scores = np.clip(np.round(7 - 3 * matrix[:, 0] + rng.normal(0, 1.5, 1000)), 0, 10)
    scores[rng.random(1000) < 0.1] = np.nan  # non-answers
    whole = nps.driver_figures(scores, matrix)
    monkeypatch.setattr(nps, "_DRIVER_ROWS", 64)
    blocked = nps.driver_figures(scores, matrix)
    pd.testing.assert_frame_equal(blocked, whole, rtol=1e-9)
    assert whole.loc[[4, 5, 6], "driver_coef"].isna().all()
    assert whole.loc[0, "driver_low"] < -3 < whole.loc[0, "driver_high"]  # the planted effect


def test_driver_interval_covers_noisy_effect() -> None:
    rng = np.random.default_rng(3)
    in_a = rng.random(400) < 0.3
    scores = np.clip(np.round(8 - 3 * in_a + rng.normal(0, 1.0, 400)), 0, 10)
    rows = [survey(f"v{i:03d}", s) for i, s in enumerate(scores)]
    members = {f"v{i:03d}": "A" for i in np.flatnonzero(in_a)}
    figures = by_theme(nps.theme_figures(frame(*rows), assign(members), NO_BOOTSTRAP))
    low, high = figures.loc["A", ["driver_low", "driver_high"]]
    # true effect -3 (rounding and clipping barely move it): inside a narrow interval
    assert low < -3.0 < high
    assert high - low < 0.6


# --------------------------------------------------------------------------- complaints


def test_complaint_linking_window_and_nearest() -> None:
    verbatims = frame(
        complaint("c1", customer_id="X", created_at=DAY),
        survey("s1", 2, customer_id="X", created_at=DAY - pd.Timedelta(days=9)),
        survey("s2", 10, customer_id="X", created_at=DAY + pd.Timedelta(days=5)),
        complaint("c2", customer_id="Y", created_at=DAY),
        survey("s3", 1, customer_id="Y", created_at=DAY + pd.Timedelta(days=31)),
        complaint("c3", customer_id="Z", created_at=DAY),
        survey("s4", 7, customer_id="Z", created_at=DAY - pd.Timedelta(days=30)),
        complaint("c4", customer_id="W", created_at=DAY),
        complaint("c5", customer_id=None, created_at=DAY),
    )
    links = nps.link_complaints(verbatims, window_days=30).set_index("verbatim_id")
    # X: the response 5 days after beats the one 9 days before; Y: 31 days is outside;
    # Z: exactly 30 days is inside; W: no response; c5: no customer
    assert sorted(links.index) == ["c1", "c3"]
    assert (links.loc["c1", "linked_verbatim_id"], links.loc["c1", "linked_role"]) == (
        "s2", "promoter")  # fmt: skip
    assert links.loc["c1", "days_apart"] == pytest.approx(5.0)
    assert links.loc["c3", "linked_role"] == "passive"
    assignments = assign({"c1": "A", "c2": "A", "c3": "A", "c4": "B", "c5": "B"})
    figures = by_theme(nps.theme_figures(verbatims, assignments, NO_BOOTSTRAP))
    a = figures.loc["A"]
    assert a["n_complaints"] == 3
    assert (a["n_complaints_linked_detractor"], a["n_complaints_linked_passive"],
            a["n_complaints_linked_promoter"]) == (0, 1, 1)  # fmt: skip


def test_complaint_only_theme_has_no_nps() -> None:
    verbatims = pd.concat([TEN, frame(complaint("c2"), complaint("c3"))], ignore_index=True)
    assignments = assign({**TEN_PAIRS, "c2": "X", "c3": "X"})
    figures = by_theme(nps.theme_figures(verbatims, assignments, NpsSettings(bootstrap_samples=50)))
    x = figures.loc["X"]
    assert x["n_complaints"] == 2 and x["n_scored"] == 0
    for column in ("theme_nps", "theme_nps_low", "nps_impact", "nps_impact_low", "driver_coef"):
        assert np.isnan(x[column]), column
    assert not x["significant"]


def test_themes_table_supplies_labels_and_empty_themes() -> None:
    themes = pd.DataFrame(
        {"theme_id": ["A", "B", "C", "D"], "label": ["late", "fast", "nice", "unused"],
         "parent_theme_id": ["P01", "P01", "P02", "P02"], "parent_label": ["x", "x", "y", "y"],
         "keywords": "k", "size": 1, "language": "en", "examples": "e"}
    )  # fmt: skip
    assignments = assign({"v01": "A", "v08": UNCLASSIFIED})
    figures = by_theme(nps.theme_figures(TEN, assignments, NO_BOOTSTRAP, themes=themes))
    assert figures.loc["A", "label"] == "late"
    assert figures.loc["D", "n_verbatims"] == 0 and np.isnan(figures.loc["D", "theme_nps"])
    assert figures.loc[UNCLASSIFIED, "label"] == f"theme {UNCLASSIFIED}"


def test_inputs_not_mutated() -> None:
    verbatims, assignments, mentions = TEN.copy(), TEN_ASSIGNED.copy(), mention([("v01", "A")])
    before = [verbatims.copy(deep=True), assignments.copy(deep=True), mentions.copy(deep=True)]
    nps.theme_figures(verbatims, assignments, NpsSettings(bootstrap_samples=20), mentions)
    nps.parent_theme_figures(verbatims, assignments, NO_BOOTSTRAP, mentions)
    nps.overall_nps(verbatims)
    nps.link_complaints(verbatims, 30)
    for original, now in zip(before, [verbatims, assignments, mentions], strict=True):
        pd.testing.assert_frame_equal(original, now)
