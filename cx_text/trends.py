"""Trends and alerts: theme figures per ISO week, week-over-week tests, alerts and their webhook.

Weeks start on Monday (ISO weeks of `verbatims.created_at`). Membership is the one of
`cx_text.nps` (primary theme plus mentioned themes; non-answers belong to no theme), so a theme's
weekly share is its verbatims / the week's themed verbatims.

Week-over-week tests, each against the previous calendar week:

- share: two-proportion z test (pooled), p-values corrected over the week's themes with
  Benjamini-Hochberg (`unclassified` is not a theme and is left out);
- detractor rate: the same test on the theme's scored verbatims;
- NPS: the difference of two adjusted-Wald estimates, z on the summed variances.

Alerts of a week (`detect_alerts`): `share_rise` (share up with BH q < report.alert_fdr),
`new_theme` (at most one verbatim in all earlier weeks of the window and at least
report.alert_min_new_theme_size in the week) and `detractor_jump` (detractor rate up with q <
alert_fdr). Nothing here reads or writes files or calls the network (see `cx_text.notify`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from cx_text import nps
from cx_text.schemas import ALERTS, THEME_WEEKS, UNCLASSIFIED, WEEKLY_NPS
from cx_text.settings import ReportSettings

ALERT_TYPES = ("new_theme", "share_rise", "detractor_jump")
# a theme is new when all earlier weeks of the window hold at most this many of its verbatims
NEW_THEME_MAX_BEFORE = 1
N_EXAMPLES = 2
EXAMPLE_CHARS = 300

# --------------------------------------------------------------------------- weeks


def week_start(created_at: pd.Series) -> pd.Series:
    """Monday 00:00 of the ISO week of every timestamp (NaT stays NaT)."""
    stamps = pd.to_datetime(created_at).astype("datetime64[ns]")
    return stamps.dt.normalize() - pd.to_timedelta(stamps.dt.day_of_week, unit="D")


def week_label(week: Any) -> str:
    """ISO week label of a timestamp: '2026-W46'; '' for a missing value."""
    return "" if pd.isna(week) else pd.Timestamp(week).strftime("%G-W%V")


def parse_week(week: Any) -> pd.Timestamp:
    """Monday of a week given as '2026-W46', a date string or a timestamp."""
    text = str(week)
    if "-W" in text:
        return pd.Timestamp(pd.to_datetime(text + "-1", format="%G-W%V-%u"))
    stamp = pd.Timestamp(week).normalize()
    return stamp - pd.Timedelta(days=stamp.weekday())


def _week_range(weeks: pd.Series) -> list[pd.Timestamp]:
    """Every Monday from the first to the last week present, gaps included."""
    present = weeks.dropna()
    if present.empty:
        return []
    return list(pd.date_range(present.min(), present.max(), freq="7D"))


# --------------------------------------------------------------------------- tests


def two_proportion_z(
    x1: np.ndarray, n1: np.ndarray, x2: np.ndarray, n2: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pooled two-proportion z test of x2/n2 against x1/n1.

    z = (x2/n2 - x1/n1) / sqrt(p (1 - p) (1/n1 + 1/n2)) with p = (x1 + x2) / (n1 + n2); the
    p-value is two-sided. Equal proportions of 0 or 1 give z = 0, p = 1; an empty group NaN.

    Returns:
        (z, p) arrays.
    """
    x1, n1, x2, n2 = (np.asarray(a, dtype=float) for a in (x1, n1, x2, n2))
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (x1 + x2) / (n1 + n2)
        se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
        z = np.where(se > 0, (x2 / n2 - x1 / n1) / se, 0.0)
    z = np.where((n1 > 0) & (n2 > 0), z, np.nan)
    return z, 2 * stats.norm.sf(np.abs(z))


def benjamini_hochberg(p_values: Iterable[float]) -> np.ndarray:
    """Benjamini-Hochberg q-values; NaN p-values stay NaN and do not count in the family.

    q_(i) = min over j >= i of m p_(j) / j (p sorted ascending, m tests), capped at 1.
    """
    p = np.asarray(list(p_values), dtype=float)
    q = np.full(p.shape, np.nan)
    finite = np.flatnonzero(~np.isnan(p))
    if len(finite) == 0:
        return q
    order = finite[np.argsort(p[finite], kind="stable")]
    scaled = p[order] * len(order) / np.arange(1, len(order) + 1)
    q[order] = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    return q


def nps_difference_z(
    promoters1: np.ndarray,
    detractors1: np.ndarray,
    n1: np.ndarray,
    promoters2: np.ndarray,
    detractors2: np.ndarray,
    n2: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Adjusted-Wald test of an NPS change (group 2 minus group 1).

    Each group: n' = n + 3, p' = (P + 3/4) / n', d' = (D + 3/4) / n', estimate p' - d',
    Var = (p' + d' - (p' - d')^2) / n'; z = (estimate2 - estimate1) / sqrt(Var1 + Var2),
    two-sided p. NaN where a group is empty.

    Returns:
        (z, p) arrays.
    """

    def estimate(p: np.ndarray, d: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n_adj = np.asarray(n, dtype=float) + 3.0
        pp, dd = (np.asarray(p, dtype=float) + 0.75) / n_adj, (np.asarray(d) + 0.75) / n_adj
        return pp - dd, (pp + dd - (pp - dd) ** 2) / n_adj

    e1, v1 = estimate(promoters1, detractors1, n1)
    e2, v2 = estimate(promoters2, detractors2, n2)
    z = np.where((np.asarray(n1) > 0) & (np.asarray(n2) > 0), (e2 - e1) / np.sqrt(v1 + v2), np.nan)
    return z, 2 * stats.norm.sf(np.abs(z))


# --------------------------------------------------------------------------- weekly tables


def _weekly_counts(
    weeks: pd.Series, roles: np.ndarray, matrix: np.ndarray, keys: list[str]
) -> pd.DataFrame:
    """nps.count_figures of every week of the range (empty weeks included), stacked."""
    parts = []
    for week in _week_range(weeks):
        mask = (weeks == week).to_numpy(dtype=bool)
        counts = nps.count_figures(roles[mask], matrix[mask], keys, "theme_id")
        parts.append(counts.assign(week=week, week_themed=int(matrix[mask].any(axis=1).sum())))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _add_tests(table: pd.DataFrame, family: pd.Series) -> pd.DataFrame:
    """Week-over-week tests per theme; q-values over the `family` rows of each week."""
    out = table.sort_values(["theme_id", "week"], kind="stable").reset_index(drop=True)
    prev = out.groupby("theme_id", sort=False).shift(1)
    cur = out
    out["share_change"] = cur["share"] - prev["share"]
    out["share_z"], out["share_p"] = two_proportion_z(
        prev["n_verbatims"], prev["week_themed"], cur["n_verbatims"], cur["week_themed"]
    )
    out["detractor_rate_change"] = cur["detractor_rate"] - prev["detractor_rate"]
    out["detractor_z"], out["detractor_p"] = two_proportion_z(
        prev["n_detractors"], prev["n_scored"], cur["n_detractors"], cur["n_scored"]
    )
    out["nps_change"] = cur["theme_nps"] - prev["theme_nps"]
    out["nps_z"], out["nps_p"] = nps_difference_z(
        prev["n_promoters"], prev["n_detractors"], prev["n_scored"],
        cur["n_promoters"], cur["n_detractors"], cur["n_scored"],
    )  # fmt: skip
    tested = family.reindex(out["theme_id"]).fillna(False).to_numpy(dtype=bool)
    for column in ("share", "detractor"):
        p = out[f"{column}_p"].where(tested)
        out[f"{column}_q"] = p.groupby(out["week"]).transform(benjamini_hochberg)
    return out


def weekly_theme_figures(
    verbatims: pd.DataFrame,
    assignments: pd.DataFrame,
    mentions: pd.DataFrame | None = None,
    themes: list[str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Per theme and ISO week: volume, share, role mix, theme NPS and week-over-week tests.

    Args:
        verbatims: VERBATIMS frame; verbatims without created_at are left out.
        assignments: ASSIGNMENTS frame.
        mentions: MENTIONS frame; when given a verbatim belongs to every theme it mentions.
        themes: the themes to list and test (default: every theme but 'unclassified' is tested,
            every theme is listed). Shares stay relative to all themed verbatims of the week.
        labels: theme_id -> label (default: the labels of `assignments`).

    Returns:
        A THEME_WEEKS frame: one row per (week, theme) for every week of the range, empty
        weeks included, sorted by week then theme_id.
    """
    weeks = week_start(verbatims["created_at"]).reset_index(drop=True)
    keys, matrix = nps.membership_matrix(
        verbatims, nps.theme_members(assignments, mentions), "theme_id", themes
    )
    table = _weekly_counts(weeks, nps.string_values(verbatims, "role"), matrix, keys)
    if table.empty:
        return THEME_WEEKS.empty()
    listed = [k for k in keys if k != UNCLASSIFIED] if themes is None else list(themes)
    family = pd.Series(True, index=[k for k in listed if k != UNCLASSIFIED], dtype=bool)
    table = _add_tests(table[table["theme_id"].isin(listed)], family)
    names = dict(nps.theme_info(assignments)[["theme_id", "label"]].dropna().values)
    names.update(labels or {})
    table["label"] = table["theme_id"].map(names).fillna(table["theme_id"])
    table = table.sort_values(["week", "theme_id"], kind="stable")
    return THEME_WEEKS.conform(table[THEME_WEEKS.names])


def weekly_nps(verbatims: pd.DataFrame) -> pd.DataFrame:
    """Overall NPS per ISO week with its adjusted-Wald interval and role structure.

    Every scored verbatim counts (non-answers included), as in `nps.overall_nps`. The change
    against the previous week is tested with `nps_difference_z`.

    Returns:
        A WEEKLY_NPS frame, one row per week of the range (empty weeks included).
    """
    weeks = week_start(verbatims["created_at"]).reset_index(drop=True)
    grid = _week_range(weeks)
    if not grid:
        return WEEKLY_NPS.empty()
    roles = pd.Series(nps.string_values(verbatims, "role"))
    counts = pd.crosstab(weeks, roles).reindex(index=grid, columns=nps.SCORED_ROLES, fill_value=0)
    table = pd.DataFrame({"week": grid})
    table["n_verbatims"] = weeks.value_counts().reindex(grid, fill_value=0).to_numpy()
    d, p = (counts[r].to_numpy(dtype=float) for r in ("detractor", "promoter"))
    n = counts.sum(axis=1).to_numpy(dtype=float)
    table["n_scored"], table["n_detractors"], table["n_promoters"] = n, d, p
    table["n_passives"] = counts["passive"].to_numpy()
    table["nps"] = nps.nps_points(p, d, n)
    table["nps_low"], table["nps_high"] = nps.adjusted_wald(p, d, n)
    for role in nps.SCORED_ROLES:
        shares = np.divide(
            counts[role].to_numpy(dtype=float), n, out=np.full(len(n), np.nan), where=n > 0
        )
        table[f"{role}_share"] = shares
    prev = table.shift(1)
    table["nps_change"] = table["nps"] - prev["nps"]
    table["nps_z"], table["nps_p"] = nps_difference_z(
        prev["n_promoters"].fillna(0), prev["n_detractors"].fillna(0), prev["n_scored"].fillna(0),
        p, d, n,
    )  # fmt: skip
    return WEEKLY_NPS.conform(table[WEEKLY_NPS.names])


# --------------------------------------------------------------------------- alerts


def latest_week(weekly: pd.DataFrame) -> pd.Timestamp | None:
    """The last week of a weekly table (the default report week), None when it is empty."""
    return None if weekly.empty else pd.Timestamp(weekly["week"].max())


def _rise_start(series: pd.Series, week: pd.Timestamp) -> pd.Timestamp:
    """First week of the unbroken rise of `series` (indexed by week) that ends at `week`."""
    values = series.loc[:week]
    start = week
    for earlier, later in zip(values.index[::-1][1:], values.index[::-1], strict=False):
        before, after = values[earlier], values[later]
        if pd.isna(before) or pd.isna(after) or not after > before:
            break  # a week without a figure (e.g. no scored verbatims) ends the rise
        start = later
    return pd.Timestamp(start)


# alert type -> (metric, test column prefix, its change column, the count behind the metric)
_TESTED = {
    "share_rise": ("share", "share", "share_change", "n_verbatims"),
    "detractor_jump": ("detractor_rate", "detractor", "detractor_rate_change", "n_scored"),
}


def _test_alerts(
    weekly: pd.DataFrame,
    window: pd.DataFrame,
    week: pd.Timestamp,
    alert_type: str,
    settings: ReportSettings,
) -> list[dict[str, Any]]:
    """share_rise or detractor_jump alerts of `week`: an increase with BH q < alert_fdr."""
    metric, prefix, change, count = _TESTED[alert_type]
    now = window[window["week"] == week]
    fired = now[(now[f"{prefix}_q"] < settings.alert_fdr).fillna(False) & (now[change] > 0)]
    previous = weekly[weekly["week"] == week - pd.Timedelta(weeks=1)].set_index("theme_id")
    alerts = []
    for row in fired.to_dict("records"):
        history = window[window["theme_id"] == row["theme_id"]].set_index("week")[metric]
        history = history.astype(float).fillna(0.0) if metric == "share" else history
        before = previous.loc[row["theme_id"]]
        alerts.append(
            {
                "alert_type": alert_type, "theme_id": row["theme_id"], "label": row["label"],
                "metric": metric, "value_before": float(before[metric]),
                "value_now": float(row[metric]), "change": float(row[change]),
                "n_before": int(before[count]), "n_now": int(row[count]),
                "z": float(row[f"{prefix}_z"]), "p_value": float(row[f"{prefix}_p"]),
                "q_value": float(row[f"{prefix}_q"]), "since": _rise_start(history, week),
            }
        )  # fmt: skip
    return alerts


def _new_theme_alerts(
    window: pd.DataFrame, week: pd.Timestamp, settings: ReportSettings
) -> list[dict[str, Any]]:
    """Themes with at most NEW_THEME_MAX_BEFORE verbatims before `week` and many in it."""
    earlier = window[window["week"] < week]
    if earlier.empty or earlier["week_themed"].sum() == 0:
        return []  # nothing to be new against
    before = earlier.groupby("theme_id")["n_verbatims"].sum()
    now = window[window["week"] == week].set_index("theme_id")
    before = before.reindex(now.index).fillna(0)
    fired = now[
        (before <= NEW_THEME_MAX_BEFORE) & (now["n_verbatims"] >= settings.alert_min_new_theme_size)
    ]
    return [
        {
            "alert_type": "new_theme", "theme_id": theme_id, "label": row["label"],
            "metric": "n_verbatims", "value_before": float(before[theme_id]),
            "value_now": float(row["n_verbatims"]),
            "change": float(row["n_verbatims"] - before[theme_id]),
            "n_before": int(before[theme_id]), "n_now": int(row["n_verbatims"]),
            "z": np.nan, "p_value": np.nan, "q_value": np.nan, "since": week,
        }
        for theme_id, row in fired.iterrows()
    ]  # fmt: skip


def detect_alerts(
    weekly: pd.DataFrame, settings: ReportSettings, as_of: Any = None
) -> pd.DataFrame:
    """The alerts of one week, evaluated on the `settings.weeks` weeks that end with it.

    A theme that is new in the week gets a `new_theme` alert and no `share_rise` alert for the
    same week (its share rose from nothing). Examples are left empty (see `add_examples`).

    Args:
        weekly: output of `weekly_theme_figures`.
        settings: weeks (window length), alert_fdr and alert_min_new_theme_size.
        as_of: the report week ('2026-W46', a date or a timestamp); default the latest week.

    Returns:
        An ALERTS frame: new_theme, then share_rise, then detractor_jump alerts, each by q-value
        and then by the size of the change.
    """
    week = latest_week(weekly) if as_of is None else parse_week(as_of)
    if week is None:
        return ALERTS.empty()
    start = week - pd.Timedelta(weeks=max(settings.weeks, 1) - 1)
    window = weekly[(weekly["week"] >= start) & (weekly["week"] <= week)]
    window = window[window["theme_id"] != UNCLASSIFIED]
    new = _new_theme_alerts(window, week, settings)
    is_new = {a["theme_id"] for a in new}
    rises = [a for a in _test_alerts(weekly, window, week, "share_rise", settings)
             if a["theme_id"] not in is_new]  # fmt: skip
    jumps = _test_alerts(weekly, window, week, "detractor_jump", settings)
    rows = pd.DataFrame([*new, *rises, *jumps], columns=[*ALERTS.names[1:14]])
    rows = rows.assign(week=week, example_1="", example_2="")
    rows["_order"] = rows["alert_type"].map({t: i for i, t in enumerate(ALERT_TYPES)})
    rows["_size"] = -rows["change"].abs()
    rows = rows.sort_values(["_order", "q_value", "_size", "theme_id"], kind="stable")
    return ALERTS.conform(rows[ALERTS.names])


def alerts_for_every_week(weekly: pd.DataFrame, settings: ReportSettings) -> pd.DataFrame:
    """`detect_alerts` as of every week of `weekly`, stacked: when each alert would have fired."""
    weeks = sorted(weekly["week"].dropna().unique())
    parts = [detect_alerts(weekly, settings, pd.Timestamp(w)) for w in weeks]
    return ALERTS.conform(pd.concat([ALERTS.empty(), *parts], ignore_index=True))


# --------------------------------------------------------------------------- examples


def example_candidates(
    verbatims: pd.DataFrame, assignments: pd.DataFrame, mentions: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Every (verbatim, theme) membership with the text, role, week and confidence to rank quotes.

    Primary assignments carry their confidence; themes only mentioned carry the mention's.
    Non-answers and empty texts are left out.
    """
    primary = assignments[["verbatim_id", "theme_id", "confidence"]].assign(primary=True)
    parts = [primary]
    if mentions is not None and len(mentions):
        parts.append(mentions[["verbatim_id", "theme_id", "confidence"]].assign(primary=False))
    members = pd.concat(parts, ignore_index=True).astype({"verbatim_id": str, "theme_id": str})
    members = members.sort_values(["primary", "confidence"], ascending=False, kind="stable")
    members = members.drop_duplicates(["verbatim_id", "theme_id"])
    text = verbatims[["verbatim_id", "text", "role", "created_at", "is_non_answer"]].copy()
    text["verbatim_id"] = text["verbatim_id"].astype(str)
    text["week"] = week_start(text["created_at"])
    out = members.merge(text, on="verbatim_id")
    keep = ~out["is_non_answer"].fillna(False).astype(bool)
    keep &= out["text"].fillna("").str.strip() != ""
    return out[keep].reset_index(drop=True)


def clip_text(text: str, limit: int = EXAMPLE_CHARS) -> str:
    """The text cut to `limit` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def pick_examples(
    candidates: pd.DataFrame,
    theme_id: str,
    n: int,
    prefer_roles: tuple[str, ...] = (),
    week: pd.Timestamp | None = None,
) -> list[str]:
    """Up to `n` quotes of a theme: preferred roles first, then primary, then most confident."""
    rows = candidates[candidates["theme_id"] == theme_id]
    if week is not None:
        rows = rows[rows["week"] == week]
    rows = rows.assign(_other=~rows["role"].isin(prefer_roles))
    rows = rows.sort_values(
        ["_other", "primary", "confidence", "verbatim_id"],
        ascending=[True, False, False, True],
        kind="stable",
    )
    return [clip_text(str(t)) for t in rows["text"].head(n)]


def add_examples(
    alerts: pd.DataFrame,
    verbatims: pd.DataFrame,
    assignments: pd.DataFrame,
    mentions: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Fill example_1 / example_2 of every alert with verbatims of its theme from its week.

    Most confident assignments first; detractor_jump alerts quote detractors first.
    """
    if alerts.empty:
        return alerts.copy()
    candidates = example_candidates(verbatims, assignments, mentions)
    out = alerts.copy()
    for i, row in out.iterrows():
        prefer = ("detractor",) if row["alert_type"] == "detractor_jump" else ()
        quotes = pick_examples(candidates, str(row["theme_id"]), N_EXAMPLES, prefer, row["week"])
        quotes += [""] * (N_EXAMPLES - len(quotes))
        out.loc[i, ["example_1", "example_2"]] = quotes[:N_EXAMPLES]
    return ALERTS.conform(out)


def alerts_as_of(
    verbatims: pd.DataFrame,
    assignments: pd.DataFrame,
    mentions: pd.DataFrame | None,
    settings: ReportSettings,
    as_of: Any = None,
    themes: list[str] | None = None,
) -> pd.DataFrame:
    """The alerts of the report week (default the latest) with their example verbatims."""
    weekly = weekly_theme_figures(verbatims, assignments, mentions, themes)
    return add_examples(detect_alerts(weekly, settings, as_of), verbatims, assignments, mentions)


# --------------------------------------------------------------------------- alert texts

ALERT_TEXT = {
    "en": {
        "new_theme": "New theme",
        "share_rise": "Share rising",
        "detractor_jump": "Detractor rate jump",
        "new_theme_what": "{now:.0f} verbatims this week, {before:.0f} in the earlier weeks",
        "share_rise_what": (
            "share of themed verbatims rose from {before} to {now} ({change} pts, q {q}), "
            "rising since {since}"
        ),
        "detractor_jump_what": (
            "detractor rate rose from {before} to {now} ({change} pts, q {q}), rising since {since}"
        ),
        "title": "cx-text: {n} alert(s) for week {week}",
        "none": "No alerts for week {week}.",
        "more": "... and {n} more",
    },
    "ru": {
        "new_theme": "Новая тема",
        "share_rise": "Доля растёт",
        "detractor_jump": "Скачок доли детракторов",
        "new_theme_what": "{now:.0f} отзывов за неделю, {before:.0f} за предыдущие недели",
        "share_rise_what": (
            "доля среди отзывов с темой выросла с {before} до {now} ({change} п.п., q {q}), "
            "рост с {since}"
        ),
        "detractor_jump_what": (
            "доля детракторов выросла с {before} до {now} ({change} п.п., q {q}), рост с {since}"
        ),
        "title": "cx-text: алертов за неделю {week}: {n}",
        "none": "За неделю {week} алертов нет.",
        "more": "... и ещё {n}",
    },
}


def _decimal(text: str, language: str) -> str:
    return text.replace(".", ",") if language == "ru" else text


def describe_alert(alert: Mapping[str, Any], language: str = "en") -> str:
    """What changed and by how much, in one sentence (numbers from the alert row)."""
    words = ALERT_TEXT.get(language, ALERT_TEXT["en"])
    kind = str(alert["alert_type"])
    if kind == "new_theme":
        return words["new_theme_what"].format(now=alert["value_now"], before=alert["value_before"])
    q = float(alert["q_value"])
    return words[f"{kind}_what"].format(
        before=_decimal(f"{100 * float(alert['value_before']):.1f}%", language),
        now=_decimal(f"{100 * float(alert['value_now']):.1f}%", language),
        change=_decimal(f"{100 * float(alert['change']):+.1f}", language),
        q=_decimal(f"= {q:.2g}" if q >= 1e-4 else "< 0.0001", language),
        since=week_label(alert["since"]),
    )


def _json_value(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    return value.item() if isinstance(value, np.generic) else value


def alerts_json(alerts: pd.DataFrame, language: str = "en") -> list[dict[str, Any]]:
    """Alerts as JSON-ready dicts: every column (dates as YYYY-MM-DD, NaN as None), ISO week
    labels, the examples as a list and a one-line `message`."""
    items = []
    for row in alerts.astype(object).to_dict("records"):
        item = {k: _json_value(v) for k, v in row.items() if not k.startswith("example_")}
        item["iso_week"] = week_label(row["week"])
        item["since_iso_week"] = week_label(row["since"])
        item["examples"] = [str(row[k]) for k in ("example_1", "example_2") if row[k]]
        item["message"] = f"{row['label']}: {describe_alert(row, language)}"
        items.append(item)
    return items


_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")


_MARKDOWN_PUNCTUATION = re.compile(r"([\\`\[\]])")


def markdown_text(text: Any) -> str:
    """Inline Markdown-safe text: nothing that could start an HTML tag or entity, a link or an
    image (``[x](http://...)``, ``![x](...)``), a code span, no pipes or line breaks that would
    break a table. '< 0.01' and '<3' stay as they are."""
    escaped = _MARKDOWN_PUNCTUATION.sub(r"\\\1", str(text))
    escaped = _TAG_START.sub("&lt;", _ENTITY.sub("&amp;", escaped))
    return escaped.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def alerts_markdown(alerts: pd.DataFrame, language: str = "en", week: Any = None) -> str:
    """The alerts as a Markdown list, each with its change and two quoted examples."""
    words = ALERT_TEXT.get(language, ALERT_TEXT["en"])
    label = week_label(week if week is not None else latest_week(alerts))
    if alerts.empty:
        return f"{words['none'].format(week=label)}\n"
    lines = [f"## {words['title'].format(n=len(alerts), week=label)}", ""]
    for row in alerts.astype(object).to_dict("records"):
        kind = words.get(str(row["alert_type"]), row["alert_type"])
        head = f"{kind}: {row['label']}"
        what = f"({row['theme_id']}, {week_label(row['week'])}): {describe_alert(row, language)}"
        lines.append(f"- **{markdown_text(head)}** {markdown_text(what)}")
        lines += [f"  > {markdown_text(row[k])}" for k in ("example_1", "example_2") if row[k]]
    return "\n".join(lines) + "\n"
