"""Rank: the prioritised theme table, its detractor / promoter / passive views, segment figures,
backlog items for an issue tracker and the detractor follow-up list.

Every function takes the theme figures of `cx_text.nps` (or the ranked table built from them) and
returns a new frame; nothing is written here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cx_text import facets, nps, outputs, trends
from cx_text.polarity import PRAISE, PROBLEM
from cx_text.schemas import (
    BACKLOG,
    FOLLOWUP,
    THEME_TABLE,
    THEMES_BY_SEGMENT,
    UNCLASSIFIED,
    VERBATIMS,
    display_name,
)
from cx_text.settings import RankSettings, SegmentSettings, Settings

DEFAULT_SEGMENTS = ("touchpoint", "source", "channel")
N_QUOTES = 3
# roles whose verbatims make the most useful quotes in a fix-it ticket
_QUOTE_ROLES = ("detractor", "complaint")
# a theme x segment cell is marked up / down when its BH q-value (over the table) is below this
SEGMENT_FDR = 0.05
SEGMENT_CELLS_SHOWN = 20


# --------------------------------------------------------------------------- ranking


def priority(figures: pd.DataFrame, settings: RankSettings) -> pd.Series:
    """priority = impact_weight * (-nps_impact) + complaint_weight * 100 * complaint_share.

    A theme without scored verbatims (complaint-only) has no nps_impact; its impact term counts
    as 0, so it ranks after every theme that costs NPS and before those that add to it.
    """
    cost = -figures["nps_impact"].astype(float).fillna(0.0)
    complaints = 100.0 * figures["complaint_share"].astype(float).fillna(0.0)
    return settings.impact_weight * cost + settings.complaint_weight * complaints


def rank_themes(figures: pd.DataFrame, settings: RankSettings) -> pd.DataFrame:
    """The ranked theme table (schema THEME_TABLE): themes that cost NPS points first.

    ``priority = impact_weight * (-nps_impact) + complaint_weight * complaint_share_points``,
    where nps_impact is the leave-one-out NPS impact in points (negative = the theme costs NPS;
    0 when the theme has no scored verbatims) and complaint_share_points is the theme's share of
    all complaints in points (0-100). Defaults (1, 0) rank by NPS cost alone. Rows are sorted by
    priority, highest first; ties (and complaint-only themes, whose priority is the complaint
    term alone) by complaint volume, then theme size. Themes whose impact interval includes 0
    are kept, with ``significant=False``. The ``unclassified`` theme is always ranked last.

    Args:
        figures: output of `nps.theme_figures`.
        settings: the weights.
    """
    out = facets.with_facet_columns(figures).assign(priority=priority(figures, settings))
    out["_last"] = out["theme_id"].astype(str) == UNCLASSIFIED
    # equal priority (complaint-only runs): problem themes by volume before praise themes
    out["_praise"] = out["praise_share"].astype(float).fillna(0.0) > 0.5
    out = out.sort_values(
        ["_last", "priority", "_praise", "n_complaints", "n_verbatims", "theme_id"],
        ascending=[True, False, True, False, False, True],
        kind="stable",
    )
    out["rank"] = np.arange(1, len(out) + 1)
    return THEME_TABLE.conform(out[THEME_TABLE.names])


# --------------------------------------------------------------------------- views


def _themed(ranked: pd.DataFrame) -> pd.DataFrame:
    return ranked[ranked["theme_id"] != UNCLASSIFIED]


def _sided(rows: pd.DataFrame, column: str, least: float) -> pd.DataFrame:
    """Rows whose `column` (problem_share / praise_share) is at least `least`; every row when
    polarity is off (the share is empty)."""
    share = rows[column].astype(float)
    return rows[(share >= least) | share.isna()]


def _unscored(ranked: pd.DataFrame) -> bool:
    return bool((ranked["n_scored"].fillna(0) == 0).all())


def detractor_view(
    ranked: pd.DataFrame, settings: RankSettings, least: float = 0.8
) -> pd.DataFrame:
    """Top themes to fix: themes that cost NPS, by share of all detractors, then by impact.

    Only themes with problem_share >= `least` (problem facets and one-sided problem themes). A
    run without scores (complaints only) lists them by volume; with polarity off too, every
    theme (before, none: a complaints-only report had an empty table of what to fix).
    """
    rows = _sided(_themed(ranked), "problem_share", least)
    if _unscored(ranked):
        known = rows["problem_share"].notna()
        rows = rows[known] if known.any() else rows
        rows = rows.sort_values(["n_verbatims", "theme_id"], ascending=[False, True])
        return rows.head(settings.top_n).reset_index(drop=True)
    rows = rows[(rows["nps_impact"] < 0).fillna(False)]
    rows = rows.sort_values(["detractor_share", "nps_impact"], ascending=[False, True])
    return rows.head(settings.top_n).reset_index(drop=True)


def promoter_view(
    ranked: pd.DataFrame, overall: dict[str, float], settings: RankSettings, least: float = 0.8
) -> pd.DataFrame:
    """What sets us apart: themes whose promoter rate beats the overall promoter share.

    Only themes with praise_share >= `least`. A run without scores lists them by volume.

    Args:
        ranked: output of `rank_themes`.
        overall: output of `nps.overall_nps` (its promoter_share is the bar).
        settings: top_n and view_min_scored (smaller themes are left out: their rates are noise).
        least: the praise_share a theme needs (`facets.view_min_share`).
    """
    rows = _sided(_themed(ranked), "praise_share", least)
    if _unscored(ranked):
        rows = rows[rows["praise_share"].notna()]
        rows = rows.sort_values(["n_verbatims", "theme_id"], ascending=[False, True])
        return rows.head(settings.top_n).reset_index(drop=True)
    beats = rows["promoter_rate"] > overall["promoter_share"]
    rows = rows[beats.fillna(False) & (rows["n_scored"] >= settings.view_min_scored)]
    rows = rows.sort_values(["promoter_share", "promoter_rate"], ascending=False)
    return rows.head(settings.top_n).reset_index(drop=True)


def passive_view(ranked: pd.DataFrame, settings: RankSettings) -> pd.DataFrame:
    """Themes with the highest passive rate: customers one step from either side."""
    rows = _themed(ranked)
    rows = rows[rows["n_scored"] >= settings.view_min_scored]
    rows = rows.sort_values(["passive_rate", "n_passives"], ascending=False)
    return rows.head(settings.top_n).reset_index(drop=True)


# --------------------------------------------------------------------------- segments


def segment_columns(
    verbatims: pd.DataFrame, settings: RankSettings, segments: SegmentSettings | None = None
) -> list[str]:
    """The columns broken down in themes_by_segment, by their names in `verbatims`.

    settings.segment_columns when set (names as in the input). Else touchpoint, source,
    channel, language (when the run has two or more) and the input's other columns with 2 to
    segments.max_values distinct values (one
    value splits nothing: an id column whose values all masked to [ACCOUNT], say), plus the
    columns named in segments.columns whatever their number of values. Named columns absent
    from this input are skipped: exports differ in which segments they carry.
    """
    segments = segments or SegmentSettings()
    if settings.segment_columns is not None:
        return _named(verbatims, settings.segment_columns)
    extra = [c for c in verbatims.columns if c not in VERBATIMS.names and not c.startswith("_")]
    wanted = set(_named(verbatims, segments.columns))

    def kept(column: str, fewest: int) -> bool:
        n_values = verbatims[column].nunique()
        return column in wanted or fewest <= n_values <= segments.max_values

    defaults = [c for c in DEFAULT_SEGMENTS if c in verbatims.columns and kept(c, 1)]
    # a bilingual theme's NPS per language (cx_text.linking): language is a segment when the
    # run has two languages or more
    languages = ["language"] if "language" in verbatims.columns and kept("language", 2) else []
    return defaults + languages + [c for c in extra if kept(c, 2)]


def _named(verbatims: pd.DataFrame, names: list[str]) -> list[str]:
    """Columns of `verbatims` called `names` by the input (`label` finds `input:label`)."""
    found = {display_name(c): c for c in verbatims.columns if not c.startswith("_")}
    found.update({c: c for c in verbatims.columns if c in VERBATIMS.names})
    return [found[n] for n in names if n in found]


def _column_rows(
    values: pd.Series, roles: np.ndarray, matrix: np.ndarray, keys: list[str], min_size: int
) -> pd.DataFrame:
    """Theme figures for every value of one column, value by value (first seen first), each
    value's themes in `keys` order: rows sorted by value once, every value's counts summed at
    once (`np.add.reduceat` over the sorted rows; a table per value took 0.4 s on the airline
    export's 2,278 cells)."""
    codes, uniques = pd.factorize(values.astype("string"), use_na_sentinel=True)
    order = np.argsort(codes, kind="stable")
    order = order[codes[order] >= 0]  # rows without a value are skipped for this column
    if not len(order):
        return pd.DataFrame()
    starts = np.searchsorted(codes[order], np.arange(len(uniques)))
    roles, matrix = roles[order], matrix[order]

    def summed(rows: np.ndarray) -> np.ndarray:  # (values x themes), flattened value by value
        return np.add.reduceat(rows, starts, axis=0, dtype=np.int64).ravel()

    by_role = [summed(matrix & (roles == r)[:, None]) for r in (*nps.SCORED_ROLES, "complaint")]
    themed = np.add.reduceat(matrix.any(axis=1), starts, dtype=np.int64)
    counts = nps.figures_of_counts(keys * len(uniques), "theme_id", summed(matrix),
                                   np.repeat(themed, len(keys)), *by_role)  # fmt: skip
    # one frame built from arrays: `astype` with a dict of columns rebuilt the frame column by
    # column (a concat per segment column)
    kept = counts["n_verbatims"].to_numpy() > 0
    suppressed = counts["n_verbatims"].to_numpy()[kept] < min_size
    columns = {c: counts[c].to_numpy()[kept] for c in counts.columns}
    raw = {
        "_themed": np.repeat(themed, len(keys))[kept],
        "_detractors": columns["n_detractors"].astype(float),
        "_scored": columns["n_scored"],
    }
    for c in _SUPPRESSED:
        columns[c] = np.where(suppressed, np.nan, columns[c].astype(float))
    columns["segment_value"] = np.repeat(np.asarray(uniques, dtype=object).astype(str),
                                         len(keys))[kept]  # fmt: skip
    return pd.DataFrame({**columns, **raw, "suppressed": suppressed})


_SUPPRESSED = THEMES_BY_SEGMENT.names[5 : THEMES_BY_SEGMENT.names.index("suppressed")]
_RAW = ["_themed", "_detractors", "_scored"]  # unsuppressed counts, for the rest of a column


def _direction(change: pd.Series, q: pd.Series) -> pd.Series:
    """'up' / 'down' where q < SEGMENT_FDR, else ''."""
    marked = (q < SEGMENT_FDR).fillna(False)
    return pd.Series(np.where(marked, np.where(change > 0, "up", "down"), ""), index=q.index)


def segment_differences(table: pd.DataFrame) -> pd.DataFrame:
    """Whether each theme's share and detractor rate in a segment value differ from the rest of
    that segment column (its other values): two-proportion z tests, BH over the whole table.

    Needs `_column_rows`' raw counts (_themed, _detractors, _scored) and drops them. Suppressed
    cells and 'unclassified' are not tested (their new columns stay empty).
    """
    out = table.copy()
    if out.empty:
        return out.drop(columns=_RAW, errors="ignore")
    by = out.groupby(["segment_column", "theme_id"])
    themed = out.drop_duplicates(["segment_column", "segment_value"]).groupby("segment_column")
    rest_themed = out["segment_column"].map(themed["_themed"].sum()) - out["_themed"]
    rest = {c: by[c].transform("sum") - out[c] for c in ("n_verbatims", "_detractors", "_scored")}
    tested = ~out["suppressed"].astype(bool) & (out["theme_id"] != UNCLASSIFIED)
    for key, (x, n, rx, rn) in {
        "share": ("n_verbatims", "_themed", rest["n_verbatims"], rest_themed),
        "detractor": ("_detractors", "_scored", rest["_detractors"], rest["_scored"]),
    }.items():  # fmt: skip
        _, p = trends.two_proportion_z(rx, rn, out[x], out[n])
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"{key}_rest"] = np.where(tested, rx / rn, np.nan)
        out[f"{key}_diff_q"] = trends.benjamini_hochberg(np.where(tested, p, np.nan))
    out = out.rename(columns={"detractor_rest": "detractor_rate_rest"})
    out["direction"] = _direction(out["detractor_rate"] - out["detractor_rate_rest"],
                                  out["detractor_diff_q"])  # fmt: skip
    out["share_direction"] = _direction(out["share"] - out["share_rest"], out["share_diff_q"])
    return out.drop(columns=_RAW)


def segment_breakdown(
    verbatims: pd.DataFrame,
    assignments: pd.DataFrame,
    mentions: pd.DataFrame | None,
    settings: RankSettings,
    segments: SegmentSettings | None = None,
) -> pd.DataFrame:
    """Per-theme figures within every value of every segment column (schema THEMES_BY_SEGMENT).

    Columns are those of `segment_columns`, named as in the input (`label`, not `input:label`).
    Membership is the one of `nps.theme_figures` (mentions when given). A segment x theme group
    with fewer than settings.min_segment_size verbatims is kept with ``suppressed=True``: its
    n_verbatims stays, every other figure is empty. Rows with no value in a column are skipped
    for that column. Each column costs one sort of the rows: linear in rows x themes.
    """
    keys, matrix = nps.membership_matrix(
        verbatims, nps.theme_members(assignments, mentions), "theme_id"
    )
    roles = nps.string_values(verbatims, "role")
    parts = [THEMES_BY_SEGMENT.empty()]
    for column in segment_columns(verbatims, settings, segments):
        rows = _column_rows(verbatims[column], roles, matrix, keys, settings.min_segment_size)
        parts.append(rows.assign(segment_column=display_name(column)))
    table = pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True)
    labels = nps.theme_info(assignments).set_index("theme_id")["label"]
    table["label"] = table["theme_id"].map(labels).fillna(table["theme_id"])
    return THEMES_BY_SEGMENT.conform(segment_differences(table)[THEMES_BY_SEGMENT.names])


SEGMENT_TEXT = {
    "en": {"title": "Segments that differ", "segment": "Segment", "theme": "Theme",
           "detractor": "Detractor rate vs rest", "share": "Share vs rest",
           "none": "No theme differs significantly between segment values (q < 0.05)."},
    "ru": {"title": "Сегменты с отличиями", "segment": "Сегмент", "theme": "Тема",
           "detractor": "Доля детракторов и остальные", "share": "Доля темы и остальные",
           "none": "Ни одна тема значимо не отличается между сегментами (q < 0,05)."},
}  # fmt: skip


def significant_segment_cells(
    segments: pd.DataFrame, max_rows: int = SEGMENT_CELLS_SHOWN
) -> pd.DataFrame:
    """The theme x segment cells marked up or down (`segment_differences`), most significant
    first."""
    marked = segments[(segments["direction"] != "") | (segments["share_direction"] != "")]
    best = marked[["detractor_diff_q", "share_diff_q"]].min(axis=1)
    marked = marked.assign(_best=best).sort_values(["_best", "segment_column", "theme_id"])
    return marked.head(max_rows).drop(columns="_best")


def _versus(row: dict[str, Any], value: str, rest: str, q: str, direction: str) -> str:
    arrow = {"up": " ▲", "down": " ▼"}.get(str(row[direction]), "")
    if not arrow:
        return ""
    return f"{100 * row[value]:.1f}% vs {100 * row[rest]:.1f}%{arrow} (q {row[q]:.2g})"


def _segment_cells(row: dict[str, Any]) -> list[str]:
    """segment, theme, detractor rate vs rest, share vs rest: plain text of one marked cell."""
    return [f"{row['segment_column']} = {row['segment_value']}",
            f"{row['label']} ({row['theme_id']})",
            _versus(row, "detractor_rate", "detractor_rate_rest", "detractor_diff_q", "direction"),
            _versus(row, "share", "share_rest", "share_diff_q", "share_direction")]  # fmt: skip


def _segment_section(
    segments: pd.DataFrame, language: str
) -> tuple[str, list[str], list[list[str]], str]:
    words = SEGMENT_TEXT.get(language, SEGMENT_TEXT["en"])
    rows = [_segment_cells(r) for r in significant_segment_cells(segments).to_dict("records")]
    head = [words[k] for k in ("segment", "theme", "detractor", "share")]
    return words["title"], head, rows, words["none"]


def segment_differences_markdown(segments: pd.DataFrame, language: str = "en") -> str:
    """The significant cells as a Markdown section (every text escaped), for report.md."""
    return outputs.section_markdown(*_segment_section(segments, language))


def segment_differences_html(segments: pd.DataFrame, language: str = "en") -> str:
    """The same section as an HTML fragment, every text escaped, for report.html."""
    return outputs.section_html(*_segment_section(segments, language), "segments")


# --------------------------------------------------------------------------- backlog


def backlog_themes(
    ranked: pd.DataFrame, settings: RankSettings, least: float = 0.8
) -> pd.DataFrame:
    """The top_n themes with a negative NPS impact and problem_share >= `least` (any when
    polarity is off), in rank order (unclassified excluded)."""
    rows = _sided(_themed(ranked), "problem_share", least)
    rows = rows[(rows["nps_impact"] < 0).fillna(False)].sort_values("rank")
    return rows.head(settings.top_n).reset_index(drop=True)


def top_quotes(
    verbatims: pd.DataFrame,
    assignments: pd.DataFrame,
    theme_ids: list[str],
    mentions: pd.DataFrame | None = None,
    n: int = N_QUOTES,
    candidates: pd.DataFrame | None = None,
) -> dict[str, list[str]]:
    """Up to `n` quotes per theme, picked as the report picks them (`trends.pick_examples`).

    Detractors and complaints come first (they say what to fix), then primary assignments,
    then the most confident. `candidates`: `trends.example_candidates` of the same verbatims,
    when the caller has them already.
    """
    if candidates is None:
        candidates = trends.example_candidates(verbatims, assignments, mentions)
    return trends.quotes_by_theme(candidates, list(theme_ids), n, _QUOTE_ROLES, polarity=PROBLEM)


def tracker_priority(position: int, significant: bool) -> str:
    """Highest: significant and in the top 3; High: significant; Medium: top 3; else Low."""
    if significant:
        return "Highest" if position <= 3 else "High"
    return "Medium" if position <= 3 else "Low"


def _number(value: Any) -> float | int | bool | str | None:
    """A JSON-safe scalar: NaN / NA become None, numpy scalars become Python ones."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value


FIGURES = [
    "rank", "n_verbatims", "share", "n_detractors", "n_passives", "n_promoters", "n_complaints",
    "theme_nps", "theme_nps_low", "theme_nps_high", "nps_impact", "nps_impact_low",
    "nps_impact_high", "significant", "detractor_share", "detractor_rate", "promoter_share",
    "driver_coef", "priority",
]  # fmt: skip


def _pct(value: Any) -> str:
    return "n/a" if _number(value) is None else f"{100 * float(value):.1f}%"


def _pts(value: Any) -> str:
    return "n/a" if _number(value) is None else f"{float(value):+.1f}"


def _or_na(value: Any) -> str:
    return "n/a" if _number(value) is None or str(value) == "" else str(value)


def describe_theme(row: dict[str, Any], quotes: list[str]) -> str:
    """The multi-line issue description: figures, then the customers' own words."""
    lines = [
        f"Theme {row['theme_id']}: {row['label']} (parent: {_or_na(row['parent_label'])})",
        *(
            [f"Facet: the {row['facet']} mentions of theme {row['topic_id']}"]
            if row.get("facet")
            else []
        ),
        f"Keywords: {_or_na(row['keywords'])}",
        f"Mentions: {_pct(row.get('problem_share'))} problem, {_pct(row.get('praise_share'))} "
        "praise",
        f"NPS impact: {_pts(row['nps_impact'])} pts (95% CI {_pts(row['nps_impact_low'])} to "
        f"{_pts(row['nps_impact_high'])}){'' if row['significant'] else ', not significant'}",
        f"Theme NPS: {_pts(row['theme_nps'])} (95% CI {_pts(row['theme_nps_low'])} to "
        f"{_pts(row['theme_nps_high'])})",
        f"Verbatims: {row['n_verbatims']} ({_pct(row['share'])} of themed verbatims); "
        f"complaints: {row['n_complaints']}",
        f"Detractors: {row['n_detractors']} ({_pct(row['detractor_rate'])} of the theme, "
        f"{_pct(row['detractor_share'])} of all detractors)",
        f"Rank {row['rank']} in the cx-text theme table.",
        "",
        "What customers say:",
        *[f'"{q}"' for q in quotes],
        "",
        f"cx_theme_id={row['theme_id']} (generated by cx-text; re-imports update this item)",
    ]
    return "\n".join(lines)


def _label_text(label: Any) -> str:
    text = str(label) if _number(label) is not None else ""
    return text[:1].upper() + text[1:]


def backlog_json(
    ranked: pd.DataFrame,
    verbatims: pd.DataFrame,
    assignments: pd.DataFrame,
    settings: RankSettings,
    mentions: pd.DataFrame | None = None,
    candidates: pd.DataFrame | None = None,
    least: float = 0.8,
) -> list[dict[str, Any]]:
    """Backlog items for any issue tracker, keyed by the stable cx_theme_id (upsert on it).

    Quotes are problem mentions only (when polarity is on); `least`: see `backlog_themes`.

    Returns:
        One dict per top detractor theme (negative impact, rank order, top_n): cx_theme_id,
        summary, description, labels (list), priority, quotes and figures (numbers, None for n/a).
    """
    themes = backlog_themes(ranked, settings, least)
    ids = themes["theme_id"].astype(str).tolist()
    quotes = top_quotes(verbatims, assignments, ids, mentions, candidates=candidates)
    items = []
    for position, row in enumerate(themes.astype(object).to_dict("records"), start=1):
        theme_id, said = str(row["theme_id"]), quotes.get(str(row["theme_id"]), [])
        items.append(
            {
                "cx_theme_id": theme_id,
                "summary": f"[CX] {_label_text(row['label'])} ({row['nps_impact']:.1f} NPS pts)",
                "description": describe_theme(row, said),
                "labels": ["cx-text", f"theme-{theme_id}"],
                "priority": tracker_priority(position, bool(row["significant"])),
                "quotes": said,
                "figures": {name: _number(row[name]) for name in FIGURES},
            }
        )
    return items


def backlog_items(items: list[dict[str, Any]]) -> pd.DataFrame:
    """`backlog_json` items as a frame Jira's CSV importer accepts (schema BACKLOG).

    Columns Summary, Description (multi-line), Labels ('cx-text,theme-T001'), Priority
    (see `tracker_priority`) and cx_theme_id, the stable key to map onto a custom field.
    """
    frame = pd.DataFrame(
        {
            "Summary": [i["summary"] for i in items],
            "Description": [i["description"] for i in items],
            "Labels": [",".join(i["labels"]) for i in items],
            "Priority": [i["priority"] for i in items],
            "cx_theme_id": [i["cx_theme_id"] for i in items],
        },
        columns=BACKLOG.names,
    )
    return BACKLOG.conform(frame)


def followup_list(
    ranked: pd.DataFrame,
    verbatims: pd.DataFrame,
    assignments: pd.DataFrame,
    settings: RankSettings,
    least: float = 0.8,
) -> pd.DataFrame:
    """Detractors to call back for the backlog themes (schema FOLLOWUP).

    A detractor is listed under its primary theme, if that theme is one of `backlog_themes`;
    a customer appears once per theme (their newest verbatim). Themes in rank order, newest
    first within a theme; verbatims without a customer_id cannot be called back and are left out,
    and so are verbatims whose polarity is praise (when polarity is on).
    """
    themes = backlog_themes(ranked, settings, least)[["theme_id", "label", "rank"]]
    themes = themes.astype({"theme_id": str})
    primary = assignments[["verbatim_id", "theme_id"]].astype(str)
    rows = primary.merge(themes, on="theme_id")
    wanted = (verbatims["role"] == "detractor").fillna(False)
    if "polarity" in verbatims.columns:
        wanted &= (verbatims["polarity"] != PRAISE).fillna(True)
    people = verbatims[wanted].dropna(subset=["customer_id"])
    rows = rows.merge(people.astype({"verbatim_id": str}), on="verbatim_id")
    rows = rows.sort_values(["rank", "created_at", "verbatim_id"], ascending=[True, False, True])
    rows = rows.drop_duplicates(["theme_id", "customer_id"])
    return FOLLOWUP.conform(rows[FOLLOWUP.names])


# --------------------------------------------------------------------------- all tables


@dataclass(frozen=True)
class Tables:
    """The figures stage's tables: the ranked table, its views, segments, backlog, follow-up."""

    themes: pd.DataFrame  # THEME_TABLE, ranked
    parent_themes: pd.DataFrame
    top_detractor_themes: pd.DataFrame
    top_promoter_themes: pd.DataFrame
    passive_themes: pd.DataFrame
    themes_by_segment: pd.DataFrame
    backlog: pd.DataFrame
    backlog_json: list[dict[str, Any]]
    followup: pd.DataFrame
    complaint_links: pd.DataFrame
    # every (verbatim, theme) membership a quote can come from (`trends.example_candidates`):
    # computed once, for the backlog here and the report's theme cards
    quote_candidates: pd.DataFrame


def rank_tables(
    verbatims: pd.DataFrame,
    assignments: pd.DataFrame,
    mentions: pd.DataFrame | None,
    themes: pd.DataFrame | None,
    settings: Settings,
    ignored: set[str] | frozenset[str] = frozenset(),
) -> Tables:
    """Per-theme NPS figures, the ranked table, its views, segments, backlog and follow-up.

    Themes the analyst ignores keep their verbatims but leave every ranking.
    """
    a, m, r = assignments, mentions, settings.rank
    figures = facets.with_facet_columns(nps.theme_figures(verbatims, a, settings.nps, m, themes), m)
    ranked = rank_themes(figures[~figures["topic_id"].isin(ignored)], r)  # facets too
    least = settings.facets.view_min_share
    candidates = trends.example_candidates(verbatims, a, m)
    items = backlog_json(ranked, verbatims, a, r, m, candidates, least)
    return Tables(
        themes=ranked,
        parent_themes=nps.parent_theme_figures(verbatims, a, settings.nps, m, themes),
        top_detractor_themes=detractor_view(ranked, r, least),
        top_promoter_themes=promoter_view(ranked, nps.overall_nps(verbatims), r, least),
        passive_themes=passive_view(ranked, r),
        themes_by_segment=segment_breakdown(verbatims, a, m, r, settings.segments),
        backlog=backlog_items(items),
        backlog_json=items,
        followup=followup_list(ranked, verbatims, a, r, least),
        complaint_links=nps.link_complaints(verbatims, settings.nps.complaint_link_days),
        quote_candidates=candidates,
    )
