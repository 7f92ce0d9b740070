"""Compare two periods per theme (`cx-text compare`): share, detractor rate and theme NPS in each,
the changes with 95 % intervals and Benjamini-Hochberg q-values.

Periods are ISO-week ranges ('2026-W40..2026-W43', `trends.parse_period`). The figures are sums
of the weekly counts of `trends.weekly_theme_figures`, so membership and shares are those of the
weekly report. Everything here is pure: the `compare` job (`cx_text/job.py`) reads the store and
writes compare.csv and compare.md.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from cx_text import outputs, trends
from cx_text.schemas import COMPARE, UNCLASSIFIED

Z_95 = float(stats.norm.ppf(0.975))
# a change is shown in the report section when one of its q-values is below this
SHOW_Q = 0.05
MAX_ROWS = 15
_COUNTS = ["n_verbatims", "week_themed", "n_scored", "n_detractors", "n_promoters"]


def wilson(x: np.ndarray, n: np.ndarray, z: float = Z_95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of x / n (NaN where n is 0)."""
    x, n = np.asarray(x, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def proportion_change(
    x1: np.ndarray, n1: np.ndarray, x2: np.ndarray, n2: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x2/n2 - x1/n1 with Newcombe's hybrid score 95 % interval and the pooled z test's p.

    Returns:
        (change, low, high, p) arrays; NaN where a period is empty.
    """
    # Newcombe keeps its coverage for small counts and rates near 0 or 1, where Wald's does not
    l1, u1 = wilson(x1, n1)
    l2, u2 = wilson(x2, n2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = np.asarray(x1, float) / np.asarray(n1, float), np.asarray(x2, float) / n2
    change = p2 - p1
    low = change - np.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2)
    high = change + np.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)
    return change, low, high, trends.two_proportion_z(x1, n1, x2, n2)[1]


def nps_change(
    promoters1: np.ndarray, detractors1: np.ndarray, n1: np.ndarray,
    promoters2: np.ndarray, detractors2: np.ndarray, n2: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """95 % interval (points) and two-sided p of an NPS change, by the adjusted-Wald estimates."""
    e1, v1 = trends.adjusted_nps(promoters1, detractors1, n1)
    e2, v2 = trends.adjusted_nps(promoters2, detractors2, n2)
    half = Z_95 * np.sqrt(v1 + v2)
    _, p = trends.nps_difference_z(promoters1, detractors1, n1, promoters2, detractors2, n2)
    empty = (np.asarray(n1) <= 0) | (np.asarray(n2) <= 0)
    low, high = 100 * (e2 - e1 - half), 100 * (e2 - e1 + half)
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high), p


def period_counts(weekly: pd.DataFrame, period: tuple[pd.Timestamp, pd.Timestamp]) -> pd.DataFrame:
    """Per theme, the weekly counts summed over the weeks of `period` (first, last Monday)."""
    rows = weekly[weekly["week"].between(*period) & (weekly["theme_id"] != UNCLASSIFIED)]
    counts = rows.groupby("theme_id")[_COUNTS].sum()
    return counts.join(rows.groupby("theme_id")["label"].last())


def compare_periods(weekly: pd.DataFrame, before: str, after: str) -> pd.DataFrame:
    """Per theme: share, detractor rate and theme NPS in `before` and `after`, the changes with
    95 % intervals, and BH q-values over the themes (one family per figure).

    Args:
        weekly: THEME_WEEKS frame (`trends.weekly_theme_figures`).
        before, after: periods as '2026-W40..2026-W43' (or one week).

    Returns:
        A COMPARE frame, the most significant changes first.
    """
    b = period_counts(weekly, trends.parse_period(before)).add_suffix("_1")
    a = period_counts(weekly, trends.parse_period(after)).add_suffix("_2")
    both = b.join(a, how="outer").fillna({f"{c}_{i}": 0 for c in _COUNTS for i in (1, 2)})
    both["label"] = both["label_2"].fillna(both["label_1"])
    table = pd.DataFrame({"period_before": before, "period_after": after,
                          "theme_id": both.index, "label": both["label"]})  # fmt: skip
    for key, (x, n) in {"share": ("n_verbatims", "week_themed"),
                        "detractor_rate": ("n_detractors", "n_scored")}.items():  # fmt: skip
        table = table.join(_proportion_columns(both, key, x, n))
    table = table.join(_nps_columns(both))
    table = table.rename_axis(None)
    table["_best"] = table[["share_q", "detractor_rate_q", "nps_q"]].min(axis=1)
    table = table.sort_values(["_best", "theme_id"], kind="stable")
    return COMPARE.conform(table[COMPARE.names])


def _proportion_columns(both: pd.DataFrame, key: str, x: str, n: str) -> pd.DataFrame:
    x1, n1, x2, n2 = (both[c].to_numpy(float) for c in (f"{x}_1", f"{n}_1", f"{x}_2", f"{n}_2"))
    change, low, high, p = proportion_change(x1, n1, x2, n2)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = {f"{key}_before": x1 / n1, f"{key}_after": x2 / n2}
    out.update({f"{key}_change": change, f"{key}_change_low": low,
                f"{key}_change_high": high, f"{key}_q": trends.benjamini_hochberg(p)})  # fmt: skip
    if key == "share":
        out = {"n_before": x1, "n_after": x2, **out}
    else:
        out = {"n_scored_before": n1, "n_scored_after": n2, **out}
    return pd.DataFrame(out, index=both.index)


def _nps_columns(both: pd.DataFrame) -> pd.DataFrame:
    counts = [both[f"{c}_{i}"].to_numpy(float) for i in (1, 2)
              for c in ("n_promoters", "n_detractors", "n_scored")]  # fmt: skip
    low, high, p = nps_change(*counts)
    with np.errstate(divide="ignore", invalid="ignore"):
        before = 100 * (counts[0] - counts[1]) / counts[2]
        after = 100 * (counts[3] - counts[4]) / counts[5]
    return pd.DataFrame({"nps_before": before, "nps_after": after, "nps_change": after - before,
                         "nps_change_low": low, "nps_change_high": high,
                         "nps_q": trends.benjamini_hochberg(p)}, index=both.index)  # fmt: skip


# --------------------------------------------------------------------------- the report section

TEXT = {
    "en": {"title": "Compared: {before} vs {after}", "theme": "Theme", "share": "Share",
           "detractor_rate": "Detractor rate", "nps": "Theme NPS",
           "none": "No theme changed significantly (q < 0.05) between {before} and {after}."},
    "ru": {"title": "Сравнение: {before} и {after}", "theme": "Тема", "share": "Доля",
           "detractor_rate": "Доля детракторов", "nps": "NPS темы",
           "none": "Ни одна тема не изменилась значимо (q < 0,05) между {before} и {after}."},
}  # fmt: skip


def _cell(row: dict[str, Any], key: str) -> str:
    """'12.0% → 18.5% (+6.5 pts, q 0.003)' for one figure of a compare row."""
    scale, unit = (1, "") if key == "nps" else (100, "%")
    before, after, change, q = (row[f"{key}_{k}"] for k in ("before", "after", "change", "q"))
    if pd.isna(change):
        return "–"
    mark = " ▲" if change > 0 and q < SHOW_Q else " ▼" if change < 0 and q < SHOW_Q else ""
    return (f"{scale * before:.1f}{unit} → {scale * after:.1f}{unit} "
            f"({scale * change:+.1f} pts, q {q:.2g}){mark}")  # fmt: skip


def shown_changes(table: pd.DataFrame, max_rows: int = MAX_ROWS) -> pd.DataFrame:
    """The compare rows with a q-value below SHOW_Q on any figure, most significant first."""
    best = table[["share_q", "detractor_rate_q", "nps_q"]].min(axis=1)
    return table[(best < SHOW_Q).fillna(False)].head(max_rows)


def _section(table: pd.DataFrame, language: str) -> tuple[str, list[str], list[list[str]], str]:
    words = TEXT.get(language, TEXT["en"])
    periods = {"before": "", "after": ""}
    if len(table):
        periods = {"before": table["period_before"].iloc[0], "after": table["period_after"].iloc[0]}
    keys = ("share", "detractor_rate", "nps")
    rows = [[f"{r['label']} ({r['theme_id']})", *(_cell(r, k) for k in keys)]
            for r in shown_changes(table).to_dict("records")]  # fmt: skip
    head = [words[k] for k in ("theme", *keys)]
    return words["title"].format(**periods), head, rows, words["none"].format(**periods)


def compare_markdown(table: pd.DataFrame, language: str = "en") -> str:
    """The significant changes as a Markdown section (every text escaped), for report.md."""
    return outputs.section_markdown(*_section(table, language))


def compare_html(table: pd.DataFrame, language: str = "en") -> str:
    """The same section as an HTML fragment, every text escaped, for report.html."""
    return outputs.section_html(*_section(table, language), "compare")


# --------------------------------------------------------------------------- the command


def stored_weeks(
    verbatims: pd.DataFrame,
    assignments: pd.DataFrame,
    mentions: pd.DataFrame,
    registry: pd.DataFrame,
) -> pd.DataFrame:
    """THEME_WEEKS of stored verbatims with their stored themes (labels from the registry)."""
    labels = dict(zip(registry["theme_id"].astype(str), registry["label"].astype(str), strict=True))
    assignments = assignments.assign(
        theme_label=assignments["theme_id"].map(labels), parent_theme_id=UNCLASSIFIED
    )
    return trends.weekly_theme_figures(verbatims, assignments, mentions, labels=labels)


def summary(table: pd.DataFrame) -> dict[str, int]:
    """What the CLI prints of a comparison."""
    return {"themes compared": len(table),
            "significant changes": len(shown_changes(table, max_rows=len(table)))}  # fmt: skip
