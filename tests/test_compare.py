"""Comparing two periods: known differences on constructed weekly counts, intervals, rendering."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cx_text import compare, trends
from cx_text.cli import app
from cx_text.schemas import COMPARE

WEEKS = pd.date_range("2026-09-28", periods=8, freq="7D")  # 2026-W40 .. 2026-W47
BEFORE, AFTER = "2026-W40..2026-W43", "2026-W44..2026-W47"


def weekly_counts(themes: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]]) -> (
    pd.DataFrame
):  # fmt: skip
    """THEME_WEEKS-shaped counts: per theme (verbatims, detractors, promoters) a week in the
    first four weeks, then in the last four; every verbatim scored; 1000 themed a week."""
    rows = []
    for i, week in enumerate(WEEKS):
        for theme, periods in themes.items():
            n, d, p = periods[i >= 4]
            rows.append({"week": week, "theme_id": theme, "label": f"<b>{theme}</b>",
                         "n_verbatims": n, "week_themed": 1000, "n_scored": n,
                         "n_detractors": d, "n_promoters": p})  # fmt: skip
    return pd.DataFrame(rows)


def test_parse_period() -> None:
    assert trends.parse_period("2026-W40..2026-W43") == (
        pd.Timestamp("2026-09-28"), pd.Timestamp("2026-10-19"),
    )  # fmt: skip
    assert trends.parse_period("2026-W47") == (pd.Timestamp("2026-11-16"),) * 2
    with pytest.raises(ValueError, match="ends before"):
        trends.parse_period("2026-W43..2026-W40")
    with pytest.raises(ValueError):
        trends.parse_period("2026-W99")


def test_newcombe_interval_matches_the_published_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873, table II (a): 56/70 - 48/80 = 0.2000,
    # method 10 (hybrid score) 95 % interval 0.0524 to 0.3339
    change, low, high, p = compare.proportion_change(
        np.array([48]), np.array([80]), np.array([56]), np.array([70])
    )
    assert change[0] == pytest.approx(0.2)
    assert (low[0], high[0]) == (pytest.approx(0.0524, abs=1e-4), pytest.approx(0.3339, abs=1e-4))
    assert p[0] == pytest.approx(
        trends.two_proportion_z(*(np.array([v]) for v in (48, 80, 56, 70)))[1][0]
    )


def test_compare_finds_the_known_changes_and_only_them() -> None:
    weekly = weekly_counts({
        "GROW": ((50, 10, 20), (100, 20, 40)),  # share 5 % -> 10 %, rates unchanged
        "SOUR": ((100, 10, 60), (100, 50, 20)),  # share flat, detractors 10 % -> 50 %
        "FLAT": ((100, 30, 40), (100, 30, 40)),
    })  # fmt: skip
    table = compare.compare_periods(weekly, BEFORE, AFTER)
    assert table.columns.tolist() == COMPARE.names
    table = table.set_index("theme_id")
    grow, sour, flat = table.loc["GROW"], table.loc["SOUR"], table.loc["FLAT"]
    assert (grow["n_before"], grow["n_after"]) == (200, 400)
    assert (grow["share_before"], grow["share_after"]) == (0.05, 0.1)
    assert grow["share_change_low"] < 0.05 < grow["share_change_high"]
    assert grow["share_q"] < 0.001 and grow["detractor_rate_q"] > 0.5
    assert sour["detractor_rate_change"] == pytest.approx(0.4) and sour["detractor_rate_q"] < 1e-6
    # SOUR's NPS: 50 -> -30 points, its interval around -80
    assert (sour["nps_before"], sour["nps_after"], sour["nps_change"]) == (50, -30, -80)
    assert sour["nps_change_low"] < -80 < sour["nps_change_high"] < -60 and sour["nps_q"] < 1e-6
    assert sour["share_q"] > 0.5
    assert flat[["share_q", "detractor_rate_q", "nps_q"]].min() > 0.5
    assert flat["share_change_low"] < 0 < flat["share_change_high"]
    # BH over the 3 themes: q = p * 3 / rank at most
    p = trends.two_proportion_z(*(np.array([v]) for v in (200, 4000, 400, 4000)))[1][0]
    assert grow["share_q"] == pytest.approx(min(3 * p, 1.0))
    assert table.index[-1] == "FLAT"  # the most significant changes first


def test_compare_without_a_difference_is_not_significant() -> None:
    rng = np.random.default_rng(5)
    themes = {f"T{k}": ((int(n), int(n * 0.3), int(n * 0.4)),) * 2
              for k, n in enumerate(rng.integers(20, 200, size=10))}  # fmt: skip
    table = compare.compare_periods(weekly_counts(themes), BEFORE, AFTER)
    assert (table[["share_q", "detractor_rate_q", "nps_q"]] == 1.0).all().all()
    assert compare.shown_changes(table).empty
    text = compare.compare_markdown(table)
    assert "No theme changed significantly (q < 0.05) between 2026-W40..2026-W43" in text


def test_compare_sections_escape_labels() -> None:
    weekly = weekly_counts({"GROW": ((50, 10, 20), (100, 20, 40)), "FLAT": ((100, 30, 40),) * 2})
    table = compare.compare_periods(weekly, BEFORE, AFTER)
    text = compare.compare_markdown(table)
    assert text.startswith("## Compared: 2026-W40..2026-W43 vs 2026-W44..2026-W47")
    assert "&lt;b>GROW&lt;/b> (GROW)" in text and "5.0% → 10.0% (+5.0 pts" in text and "▲" in text
    assert "FLAT" not in text  # not significant: not shown
    fragment = compare.compare_html(table, "ru")
    assert "&lt;b&gt;GROW&lt;/b&gt;" in fragment and "<b>" not in fragment
    assert "Сравнение" in fragment


def test_compare_command_rejects_a_bad_period(tmp_path: object) -> None:
    result = CliRunner().invoke(app, ["compare", "--before", "2026-W43..2026-W40", "--after",
                                      "2026-W44", "--state-dir", str(tmp_path)])  # fmt: skip
    assert result.exit_code == 2 and "ends before it starts" in result.output
