"""Trends and alerts: theme figures per ISO week, week-over-week tests, alerts and their webhook.

Weeks start on Monday (ISO weeks of `verbatims.created_at`). Membership is the one of
`cx_text.nps` (primary theme plus mentioned themes; non-answers belong to no theme), so a theme's
weekly share is its verbatims / the week's themed verbatims.

Week-over-week tests, each against the previous calendar week:

- share: two-proportion z test (pooled), p-values corrected over the week's themes with
  Benjamini-Hochberg (`unclassified` is not a theme and is left out);
- detractor rate: the same test on the theme's scored verbatims;
- NPS: the difference of two adjusted-Wald estimates, z on the summed variances.

Alerts of a week (`detect_alerts`): a theme, or a parent of several themes, alerts while its
share (`share_rise`) or its detractors per themed verbatim (`detractor_rise`) stands above its own
trailing baseline (the pooled weeks before the episode began): one-sided Fisher exact test, BH
over every test of the week, a minimum count and a minimum lift. Status new / rising / sustained
/ easing, `since` the first week of the episode. Nothing here reads or writes files or calls
the network (see `cx_text.notify`).
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

ALERT_TYPES = ("share_rise", "detractor_rise")
ALERT_STATUSES = ("new", "rising", "sustained", "easing")
# alert type -> (the count tested, out of the week's themed verbatims; the metric's name)
ALERT_METRICS = {"share_rise": ("n_verbatims", "share"),
                 "detractor_rise": ("n_detractors", "detractor_share")}  # fmt: skip
_KEYS = ["alert_type", "level", "theme_id"]
# pooled weeks of the baseline: 2 months smooth weekly noise and still follow slow drift
BASELINE_WEEKS = 8
# a rise must also matter: the week's rate at least 1.5 x the baseline rate (false alarms on
# discovered themes come from small wobbles of large themes, which the test alone lets through)
MIN_LIFT = 1.5
# week-over-week change that makes a firing alert "rising" or "easing" (descriptive, uncorrected)
STATUS_P = 0.05
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
    text = str(week).strip()
    if "-W" in text:
        return pd.Timestamp(pd.to_datetime(text + "-1", format="%G-W%V-%u"))
    stamp = pd.Timestamp(week).normalize()
    return stamp - pd.Timedelta(days=stamp.weekday())


def parse_period(period: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """(first Monday, last Monday) of '2026-W40..2026-W43', or of one week ('2026-W40').

    Raises:
        ValueError: the period ends before it starts, or a week is not a week.
    """
    first, _, last = str(period).partition("..")
    start, end = parse_week(first), parse_week(last or first)
    if end < start:
        raise ValueError(f"period {period!r} ends before it starts")
    return start, end


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


def adjusted_nps(
    promoters: np.ndarray, detractors: np.ndarray, n: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Adjusted-Wald NPS estimate (0-1 scale) and its variance.

    n' = n + 3, p' = (P + 3/4) / n', d' = (D + 3/4) / n', estimate p' - d',
    Var = (p' + d' - (p' - d')^2) / n'.
    """
    n_adj = np.asarray(n, dtype=float) + 3.0
    pp = (np.asarray(promoters, dtype=float) + 0.75) / n_adj
    dd = (np.asarray(detractors, dtype=float) + 0.75) / n_adj
    return pp - dd, (pp + dd - (pp - dd) ** 2) / n_adj


def nps_difference_z(
    promoters1: np.ndarray,
    detractors1: np.ndarray,
    n1: np.ndarray,
    promoters2: np.ndarray,
    detractors2: np.ndarray,
    n2: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Adjusted-Wald test of an NPS change (group 2 minus group 1).

    z = (estimate2 - estimate1) / sqrt(Var1 + Var2) of `adjusted_nps`, two-sided p. NaN where a
    group is empty.

    Returns:
        (z, p) arrays.
    """
    e1, v1 = adjusted_nps(promoters1, detractors1, n1)
    e2, v2 = adjusted_nps(promoters2, detractors2, n2)
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


def rise_p_value(
    x_now: np.ndarray, n_now: np.ndarray, x_base: np.ndarray, n_base: np.ndarray
) -> np.ndarray:
    """One-sided Fisher exact p-value that x_now / n_now stands above x_base / n_base.

    P(X >= x_now) for X hypergeometric: x_now + x_base theme verbatims spread over the
    n_now + n_base verbatims of both periods, n_now of them drawn for this week. NaN where a
    period is empty.
    """
    x_now, n_now, x_base, n_base = (
        np.asarray(a, dtype=float) for a in (x_now, n_now, x_base, n_base)
    )
    valid = (n_now > 0) & (n_base > 0)
    total = np.where(valid, n_now + n_base, 1.0)
    # exact: a theme's weekly count is often below 10, where the z approximation is off
    p = stats.hypergeom.sf(x_now - 1, total, np.where(valid, x_now + x_base, 0), n_now)
    return np.where(valid, np.clip(p, 0.0, 1.0), np.nan)


def parent_weeks(weekly: pd.DataFrame, parent_of: Mapping[str, str]) -> pd.DataFrame:
    """Weekly counts summed per parent theme that has two or more children.

    A verbatim in two sibling themes counts twice: a parent's count is an upper bound.

    Returns:
        week, theme_id (the parent's id), label (its largest children's labels), n_verbatims,
        n_detractors, week_themed.
    """
    rows = weekly[weekly["theme_id"] != UNCLASSIFIED]
    rows = rows.assign(parent=rows["theme_id"].map(parent_of)).dropna(subset=["parent"])
    rows = rows[(rows["parent"] != UNCLASSIFIED) & (rows["parent"] != rows["theme_id"])]
    children = rows.groupby("parent")["theme_id"].nunique()
    rows = rows[rows["parent"].isin(children[children >= 2].index)]
    table = rows.groupby(["week", "parent"], as_index=False).agg(
        n_verbatims=("n_verbatims", "sum"), n_detractors=("n_detractors", "sum"),
        week_themed=("week_themed", "max"),
    )  # fmt: skip
    volume = rows.groupby(["parent", "label"], as_index=False)["n_verbatims"].sum()
    volume = volume.sort_values(["n_verbatims", "label"], ascending=[False, True], kind="stable")
    names = volume.groupby("parent")["label"].agg(
        lambda s: " / ".join(s.astype(str).head(2)) + (" / …" if len(s) > 2 else "")
    )
    table["label"] = table["parent"].map(names)
    return table.rename(columns={"parent": "theme_id"})


def _alert_counts(weekly: pd.DataFrame, parent_of: Mapping[str, str] | None) -> pd.DataFrame:
    """What the alerts test, long: week, alert_type, level, theme_id, label, x (count), n."""
    levels = [("theme", weekly[weekly["theme_id"] != UNCLASSIFIED])]
    if parent_of:
        levels.append(("parent", parent_weeks(weekly, parent_of)))
    parts = [
        pd.DataFrame({"week": t["week"], "alert_type": kind, "level": level,
                      "theme_id": t["theme_id"].astype(str), "label": t["label"].astype(str),
                      "x": t[count].astype(float), "n": t["week_themed"].astype(float)})
        for level, t in levels for kind, (count, _) in ALERT_METRICS.items()
    ]  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def _status(i: int, xs: np.ndarray, ns: np.ndarray, in_episode: np.ndarray) -> np.ndarray:
    """new in the first week of an episode, then rising / easing / sustained vs the week before."""
    z, p = two_proportion_z(xs[max(i - 1, 0)], ns[max(i - 1, 0)], xs[i], ns[i])
    # the status only describes an alert that fired on the baseline test: no correction needed
    moved = np.nan_to_num(p, nan=1.0) < STATUS_P
    trend = np.where(moved & (z > 0), "rising", np.where(moved & (z < 0), "easing", "sustained"))
    return np.where(in_episode, trend, "new")


def _scan_week(
    i: int, xs: np.ndarray, ns: np.ndarray, since: np.ndarray, settings: ReportSettings
) -> dict[str, np.ndarray]:
    """Week i of every (alert_type, level, theme): its baseline test and whether it fires."""
    cum_x, cum_n = (np.vstack([np.zeros((1, a.shape[1])), a.cumsum(axis=0)]) for a in (xs, ns))
    in_episode = since >= 0
    end = np.where(in_episode, since, i)  # an episode keeps the baseline from before it began
    start, cols = np.maximum(end - BASELINE_WEEKS, 0), np.arange(xs.shape[1])
    xb, nb = cum_x[end, cols] - cum_x[start, cols], cum_n[end, cols] - cum_n[start, cols]
    x, n = xs[i], ns[i]
    p = rise_p_value(x, n, xb, nb)
    q = benjamini_hochberg(p)  # one family a week: every theme and parent, both metrics
    with np.errstate(divide="ignore", invalid="ignore"):
        before, now = xb / nb, x / n
        lift = np.where(xb > 0, now / before, np.nan)
    big = (xb == 0) | (lift >= MIN_LIFT)
    fired = (q < settings.alert_fdr) & (x >= settings.alert_min_new_theme_size) & big
    return {"fired": fired, "status": _status(i, xs, ns, in_episode), "value_before": before,
            "value_now": now, "change": now - before, "lift": lift, "n_before": xb, "n_now": x,
            "baseline_weeks": end - start, "p_value": p, "q_value": q,
            "since": np.where(in_episode, since, i)}  # fmt: skip


def scan_alerts(counts: pd.DataFrame, settings: ReportSettings) -> pd.DataFrame:
    """Every week in order, every (alert_type, level, theme_id) of `_alert_counts`: the test
    against its baseline, `fired`, status and since. One row per week and key."""
    x = counts.pivot_table(index="week", columns=_KEYS, values="x", aggfunc="sum", fill_value=0)
    n = counts.pivot_table(index="week", columns=_KEYS, values="n", aggfunc="max", fill_value=0)
    xs, ns = x.to_numpy(dtype=float), n.reindex_like(x).fillna(0).to_numpy(dtype=float)
    since, parts = np.full(xs.shape[1], -1), []
    for i, week in enumerate(x.index):
        step = _scan_week(i, xs, ns, since, settings)
        since = np.where(step["fired"], step["since"], -1)
        step["since"] = x.index[step["since"]]
        # every column at once: each column added to a frame copies its (Arrow) column index
        keys = {k: x.columns.get_level_values(k) for k in _KEYS}
        parts.append(pd.DataFrame({**step, "week": week, **keys}))
    labels = counts.drop_duplicates(_KEYS, keep="last").set_index(_KEYS)["label"]
    table = pd.concat(parts, ignore_index=True)
    table["label"] = labels.reindex(pd.MultiIndex.from_frame(table[_KEYS])).to_numpy()
    return table


def _shown(fired: pd.DataFrame, parent_of: Mapping[str, str] | None) -> pd.DataFrame:
    """The alerts worth showing: no parent alert when exactly one of its children alerts (that
    child says it more precisely), at most one alert per theme (share rise before detractors)."""
    children = fired.loc[fired["level"] == "theme", "theme_id"].drop_duplicates()
    per_parent = children.map(parent_of or {}).value_counts()
    parents = fired["level"] == "parent"
    lone = per_parent.reindex(fired.loc[parents, "theme_id"]).fillna(0).to_numpy() == 1
    keep = pd.Series(True, index=fired.index)
    keep[parents] = ~lone
    order = fired["alert_type"].map({t: i for i, t in enumerate(ALERT_TYPES)})
    shown = fired[keep].assign(_order=order).sort_values(["_order", "q_value"], kind="stable")
    return shown.drop_duplicates(["level", "theme_id"])


def detect_alerts(
    weekly: pd.DataFrame,
    settings: ReportSettings,
    as_of: Any = None,
    parent_of: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """The alerts of one week, scanned over the `settings.weeks` weeks that end with it.

    A theme alerts while its share (share_rise) or its detractors per themed verbatim
    (detractor_rise) stands above its trailing baseline: the pooled BASELINE_WEEKS weeks before
    the episode began (never the week itself). It fires when the one-sided Fisher test has BH
    q < alert_fdr over the week's tests, the week holds >= alert_min_new_theme_size of the
    counted verbatims and the rate is >= MIN_LIFT times the baseline rate (or the baseline is
    empty). With `parent_of` (theme -> parent), parents of 2+ themes are tested the same way.
    Examples are left empty (see `add_examples`).

    Returns:
        An ALERTS frame: share_rise, then detractor_rise alerts, each by q-value.
    """
    week = latest_week(weekly) if as_of is None else parse_week(as_of)
    if week is None:
        return ALERTS.empty()
    start = week - pd.Timedelta(weeks=max(settings.weeks, 1) - 1)
    window = weekly[(weekly["week"] >= start) & (weekly["week"] <= week)]
    counts = _alert_counts(window, parent_of)
    if counts.empty:
        return ALERTS.empty()
    scan = scan_alerts(counts, settings)
    fired = _shown(scan[(scan["week"] == week) & scan["fired"]], parent_of)
    metric = {kind: name for kind, (_, name) in ALERT_METRICS.items()}
    rows = fired.assign(metric=fired["alert_type"].map(metric), example_1="", example_2="")
    return ALERTS.conform(rows[ALERTS.names])


def alerts_for_every_week(
    weekly: pd.DataFrame, settings: ReportSettings, parent_of: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """`detect_alerts` as of every week of `weekly`, stacked: when each alert would have fired."""
    weeks = sorted(weekly["week"].dropna().unique())
    parts = [detect_alerts(weekly, settings, pd.Timestamp(w), parent_of) for w in weeks]
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
    out = _with_polarity(members.merge(text, on="verbatim_id"), verbatims, mentions)
    keep = ~out["is_non_answer"].fillna(False).astype(bool)
    keep &= out["text"].fillna("").str.strip() != ""
    return out[keep].reset_index(drop=True)


def _with_polarity(
    out: pd.DataFrame, verbatims: pd.DataFrame, mentions: pd.DataFrame | None
) -> pd.DataFrame:
    """Each membership's `polarity` and `sentence`: its mention's, else the verbatim's polarity
    (no sentence); empty when polarity is off."""
    out = out.assign(polarity=pd.NA, sentence=pd.NA)
    if mentions is not None and "polarity" in mentions.columns and len(mentions):
        said = (
            mentions[["verbatim_id", "theme_id", "polarity", "sentence"]]
            .astype({"verbatim_id": str, "theme_id": str})
            .drop_duplicates(["verbatim_id", "theme_id"])
        )
        out = out.drop(columns=["polarity", "sentence"]).merge(
            said, on=["verbatim_id", "theme_id"], how="left"
        )
    if "polarity" in verbatims.columns:
        own = verbatims.astype({"verbatim_id": str}).set_index("verbatim_id")["polarity"]
        out["polarity"] = out["polarity"].fillna(out["verbatim_id"].map(own))
    return out


def clip_text(text: str, limit: int = EXAMPLE_CHARS) -> str:
    """The text cut to `limit` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def pick_examples(
    candidates: pd.DataFrame,
    theme_id: str,
    n: int,
    prefer_roles: tuple[str, ...] = (),
    week: pd.Timestamp | None = None,
    polarity: str | None = None,
) -> list[str]:
    """Up to `n` quotes of a theme: preferred roles first, then primary, then most confident.

    `polarity` ("problem" for a what-to-fix theme): only memberships of that polarity, quoted
    by the mention's sentence when there is one (not the rest of the verbatim). Ignored when
    polarity is off.
    """
    return quotes_by_theme(candidates, [theme_id], n, prefer_roles, week, polarity)[theme_id]


def quotes_by_theme(
    candidates: pd.DataFrame,
    theme_ids: list[str],
    n: int,
    prefer_roles: tuple[str, ...] = (),
    week: pd.Timestamp | None = None,
    polarity: str | None = None,
) -> dict[str, list[str]]:
    """`pick_examples` of every theme in `theme_ids` at once: one sort of their candidates, not
    one filter and sort per theme (a report's theme cards and the backlog quote dozens)."""
    rows = candidates[candidates["theme_id"].isin(theme_ids)]
    if week is not None:
        rows = rows[rows["week"] == week]
    if polarity is not None and "polarity" in rows.columns:
        # a theme with polarity on its memberships keeps that polarity's, quoted by sentence
        rated = rows["polarity"].notna().groupby(rows["theme_id"]).transform("any")
        rows = rows[~rated | (rows["polarity"] == polarity).fillna(False).astype(bool)]
        rated = rated[rows.index]
        rows = rows.assign(text=rows["text"].mask(rated, rows["sentence"].fillna(rows["text"])))
    rows = rows.assign(_other=~rows["role"].isin(prefer_roles))
    rows = rows.sort_values(
        ["_other", "primary", "confidence", "verbatim_id"],
        ascending=[True, False, False, True],
        kind="stable",
    )
    top = rows.groupby("theme_id", sort=False).head(n)
    out: dict[str, list[str]] = {t: [] for t in theme_ids}
    for theme, text in zip(top["theme_id"], top["text"], strict=True):
        out[theme].append(clip_text(str(text)))
    return out


def _parent_candidates(candidates: pd.DataFrame, assignments: pd.DataFrame) -> pd.DataFrame:
    """The example candidates keyed by parent theme (a verbatim once per parent)."""
    parents = candidates.assign(theme_id=candidates["theme_id"].map(nps.parent_of(assignments)))
    return parents.drop_duplicates(["verbatim_id", "theme_id"])


def add_examples(
    alerts: pd.DataFrame,
    verbatims: pd.DataFrame,
    assignments: pd.DataFrame,
    mentions: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Fill example_1 / example_2 of every alert with verbatims of its theme from its week.

    Most confident assignments first; detractor_rise alerts quote detractors first; a parent's
    alert quotes any of its children.
    """
    if alerts.empty:
        return alerts.copy()
    candidates = example_candidates(verbatims, assignments, mentions)
    pools = {"theme": candidates, "parent": _parent_candidates(candidates, assignments)}
    out = alerts.copy()
    for i, row in out.iterrows():
        prefer = ("detractor",) if row["alert_type"] == "detractor_rise" else ()
        pool = pools[str(row["level"])]
        quotes = pick_examples(pool, str(row["theme_id"]), N_EXAMPLES, prefer, row["week"])
        quotes += [""] * (N_EXAMPLES - len(quotes))
        out.loc[i, ["example_1", "example_2"]] = quotes[:N_EXAMPLES]
    return ALERTS.conform(out)


# --------------------------------------------------------------------------- alert texts

ALERT_TEXT = {
    "en": {
        "share_rise": "Share rising",
        "detractor_rise": "Detractors rising",
        "share_rise_what": (
            "share of themed verbatims {now} vs {before} in the {weeks} weeks before "
            "({change} pts, q {q}); {status}, since {since}"
        ),
        "detractor_rise_what": (
            "detractors per themed verbatim {now} vs {before} in the {weeks} weeks before "
            "({change} pts, q {q}); {status}, since {since}"
        ),
        "new": "first week", "rising": "still rising", "sustained": "holding", "easing": "easing",
        "title": "cx-text: {n} alert(s) for week {week}",
        "none": "No alerts for week {week}.",
        "more": "... and {n} more",
    },
    "ru": {
        "share_rise": "Доля растёт",
        "detractor_rise": "Детракторов больше",
        "share_rise_what": (
            "доля среди отзывов с темой {now} против {before} за {weeks} нед. до этого "
            "({change} п.п., q {q}); {status}, с {since}"
        ),
        "detractor_rise_what": (
            "детракторов на отзыв с темой {now} против {before} за {weeks} нед. до этого "
            "({change} п.п., q {q}); {status}, с {since}"
        ),
        "new": "первая неделя", "rising": "растёт", "sustained": "держится", "easing": "спадает",
        "title": "cx-text: алертов за неделю {week}: {n}",
        "none": "За неделю {week} алертов нет.",
        "more": "... и ещё {n}",
    },
}  # fmt: skip


def _decimal(text: str, language: str) -> str:
    return text.replace(".", ",") if language == "ru" else text


def describe_alert(alert: Mapping[str, Any], language: str = "en") -> str:
    """What changed against the baseline and by how much, in one sentence (from the alert row)."""
    words = ALERT_TEXT.get(language, ALERT_TEXT["en"])
    q = float(alert["q_value"])
    return words[f"{alert['alert_type']}_what"].format(
        before=_decimal(f"{100 * float(alert['value_before']):.1f}%", language),
        now=_decimal(f"{100 * float(alert['value_now']):.1f}%", language),
        change=_decimal(f"{100 * float(alert['change']):+.1f}", language),
        q=_decimal(f"= {q:.2g}" if q >= 1e-4 else "< 0.0001", language),
        weeks=int(alert["baseline_weeks"]),
        status=words[str(alert["status"])],
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
