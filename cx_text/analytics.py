"""The analytics stage: weekly figures and the report week's alerts, as tables.

It computes; the report only renders what it returns, and notification only posts its alerts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from cx_text import compare, nps, trends
from cx_text.schemas import UNCLASSIFIED
from cx_text.settings import ReportSettings


@dataclass(frozen=True)
class Analytics:
    """Weekly figures of a run's window and the alerts of its report week."""

    weekly: pd.DataFrame  # THEME_WEEKS
    weekly_nps: pd.DataFrame  # WEEKLY_NPS
    week: pd.Timestamp | None  # the report week (Monday); None without dated verbatims
    alerts: pd.DataFrame  # ALERTS of the report week, with example verbatims
    # COMPARE: the `compare_weeks` weeks ending with the report week against as many before
    compare: pd.DataFrame


def weekly_analytics(
    verbatims: pd.DataFrame,
    assignments: pd.DataFrame,
    mentions: pd.DataFrame | None,
    ranked: pd.DataFrame | None,
    settings: ReportSettings,
    as_of_week: Any = None,
) -> Analytics:
    """Weekly theme figures and NPS, and the alerts of `as_of_week` (default the latest week).

    The themes are those of the ranked table (ignored themes are not in it); without one,
    every assigned theme with the assignments' labels.
    """
    themes, labels = None, None
    if ranked is not None:
        themes = [t for t in ranked["theme_id"].astype(str) if t != UNCLASSIFIED]
        labels = dict(zip(ranked["theme_id"].astype(str), ranked["label"].astype(str),
                          strict=True))  # fmt: skip
    weekly = trends.weekly_theme_figures(verbatims, assignments, mentions, themes, labels)
    weekly_nps = trends.weekly_nps(verbatims)
    week = trends.latest_week(weekly_nps) if as_of_week is None else trends.parse_week(as_of_week)
    alerts = trends.detect_alerts(weekly, settings, week, nps.parent_of(assignments))
    alerts = trends.add_examples(alerts, verbatims, assignments, mentions)
    return Analytics(weekly, weekly_nps, week, alerts, recent_change(weekly, week, settings))


def recent_change(
    weekly: pd.DataFrame, week: pd.Timestamp | None, settings: ReportSettings
) -> pd.DataFrame:
    """The last `compare_weeks` weeks up to `week` against the as many weeks before them."""
    if week is None:
        return compare.compare_periods(weekly.iloc[:0], "2000-W01", "2000-W02")
    span = pd.Timedelta(weeks=settings.compare_weeks)
    label = trends.week_label
    after, before = week - span + pd.Timedelta(weeks=1), week - span
    return compare.compare_periods(
        weekly,
        f"{label(before - span + pd.Timedelta(weeks=1))}..{label(before)}",
        f"{label(after)}..{label(week)}",
    )
