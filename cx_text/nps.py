"""NPS figures per theme: counts, theme NPS, leave-one-out impact, driver estimate, complaint links.

Every figure is computed from the verbatims' `role`, so CSAT and CES surveys (whose scores ingest
maps onto detractor / passive / promoter) work the same as NPS. Scored verbatims are those with a
role of detractor, passive or promoter; complaints have no score.

Membership: a verbatim belongs to its primary theme (`assignments`) and, when `mentions` are
given, to every theme it mentions. The product passes mentions, so a comment whose second
sentence is about late delivery counts for late delivery too. Every per-theme figure uses the same
membership, so with mentions the theme shares may add up to more than 100 %.
Non-answers ('-', 'n/a') belong to no theme but count in the overall NPS.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pandas as pd
from scipy import stats

# SCORED_ROLES is declared in schemas with every role; trends and report read it as nps.SCORED_ROLES
from cx_text.schemas import COMPLAINT_LINKS, SCORED_ROLES, UNCLASSIFIED
from cx_text.settings import NpsSettings

ROLE_VALUE = {"detractor": -1.0, "passive": 0.0, "promoter": 1.0}
Z_95 = 1.96
# (offset, factor): a score s on its scale becomes (s - offset) * factor on 0-10
TO_0_10 = {"nps": (0.0, 1.0), "csat": (1.0, 2.5), "ces": (1.0, 10.0 / 6.0)}
MIN_DRIVER_SCORED = 2
# singular values below this fraction of the largest count as 0: exactly collinear themes
_RTOL = 1e-10
# scored verbatims per block of the drivers' regression (its float64 design matrix, bounded)
_DRIVER_ROWS = 65_536
# cells of one bootstrap resampling chunk (samples x verbatims): bounds memory on big corpora
_BOOTSTRAP_CELLS = 4_000_000


# --------------------------------------------------------------------------- basic formulas


def string_values(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A string column as an object array, missing values (or a missing column) as ''."""
    if column not in frame.columns:
        return np.full(len(frame), "", dtype=object)
    return frame[column].astype("string").fillna("").to_numpy(dtype=object)


def _ratio(numerator: np.ndarray, denominator: np.ndarray | float) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is 0."""
    num = np.asarray(numerator, dtype=float)
    den = np.broadcast_to(np.asarray(denominator, dtype=float), num.shape)
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def role_values(verbatims: pd.DataFrame) -> np.ndarray:
    """+1 promoter, 0 passive, -1 detractor, NaN for complaints and unscored verbatims."""
    roles = pd.Series(string_values(verbatims, "role"), dtype=object)
    return roles.map(ROLE_VALUE).to_numpy(dtype=float, na_value=np.nan)


def scores_0_10(verbatims: pd.DataFrame) -> np.ndarray:
    """Scores on a common 0-10 scale: NPS as is, CSAT 1-5 -> (s-1)*2.5, CES 1-7 -> (s-1)*10/6."""
    score = pd.to_numeric(verbatims["score"], errors="coerce")
    values = score.to_numpy(dtype=float, na_value=np.nan)
    scale = string_values(verbatims, "scale")
    offset = np.array([TO_0_10.get(s, (np.nan, np.nan))[0] for s in scale], dtype=float)
    factor = np.array([TO_0_10.get(s, (np.nan, np.nan))[1] for s in scale], dtype=float)
    return (values - offset) * factor


def nps_points(promoters: np.ndarray, detractors: np.ndarray, n: np.ndarray) -> np.ndarray:
    """NPS in points: 100 * (promoters - detractors) / n; NaN where n is 0."""
    return 100.0 * _ratio(np.asarray(promoters) - np.asarray(detractors), n)


def adjusted_wald(
    promoters: np.ndarray, detractors: np.ndarray, n: np.ndarray, z: float = Z_95
) -> tuple[np.ndarray, np.ndarray]:
    """95 % interval of an NPS by the adjusted Wald method, in points, clipped to [-100, 100].

    n' = n + 3, p' = (P + 3/4) / n', d' = (D + 3/4) / n', Var = (p' + d' - (p' - d')^2) / n',
    interval = 100 * ((p' - d') ± z * sqrt(Var)). NaN where n is 0.

    Returns:
        (low, high) arrays shaped like the inputs.
    """
    n = np.asarray(n, dtype=float)
    n_adj = n + 3.0
    p = (np.asarray(promoters, dtype=float) + 0.75) / n_adj
    d = (np.asarray(detractors, dtype=float) + 0.75) / n_adj
    half = z * np.sqrt((p + d - (p - d) ** 2) / n_adj)
    low = np.clip(100.0 * (p - d - half), -100.0, 100.0)
    high = np.clip(100.0 * (p - d + half), -100.0, 100.0)
    empty = n <= 0
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)


def overall_nps(verbatims: pd.DataFrame) -> dict[str, float]:
    """NPS of every scored verbatim (non-answers included), with its adjusted Wald interval.

    Returns:
        nps, low, high (points), n (scored verbatims) and detractor_share, passive_share,
        promoter_share (fractions of n; NaN when nothing is scored).
    """
    values = role_values(verbatims)
    values = values[~np.isnan(values)]
    n = float(len(values))
    promoters, detractors = float((values == 1).sum()), float((values == -1).sum())
    low, high = adjusted_wald(np.array(promoters), np.array(detractors), np.array(n))
    share = _ratio(np.array([detractors, n - promoters - detractors, promoters]), n)
    return {
        "nps": float(nps_points(np.array(promoters), np.array(detractors), np.array(n))),
        "low": float(low),
        "high": float(high),
        "n": int(n),
        "detractor_share": float(share[0]),
        "passive_share": float(share[1]),
        "promoter_share": float(share[2]),
    }


# --------------------------------------------------------------------------- membership


def theme_members(assignments: pd.DataFrame, mentions: pd.DataFrame | None = None) -> pd.DataFrame:
    """(verbatim_id, theme_id) pairs: primary assignments, plus every mentioned theme if given."""
    pairs = [assignments[["verbatim_id", "theme_id"]]]
    if mentions is not None:
        pairs.append(mentions[["verbatim_id", "theme_id"]])
    out = pd.concat(pairs, ignore_index=True).dropna().astype(str)
    return out.drop_duplicates().reset_index(drop=True)


def parent_of(assignments: pd.DataFrame, themes: pd.DataFrame | None = None) -> dict[str, str]:
    """theme_id -> parent_theme_id, from the theme table when given, else from assignments."""
    sources = [assignments] if themes is None else [themes, assignments]
    pairs = pd.concat([s[["theme_id", "parent_theme_id"]] for s in sources]).dropna()
    pairs = pairs.astype(str).drop_duplicates("theme_id")
    parents = dict(zip(pairs["theme_id"], pairs["parent_theme_id"], strict=True))
    return {UNCLASSIFIED: UNCLASSIFIED, **parents}


def parent_members(
    assignments: pd.DataFrame,
    mentions: pd.DataFrame | None = None,
    themes: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """(verbatim_id, parent_theme_id) pairs, from the same membership as `theme_members`."""
    members = theme_members(assignments, mentions)
    parent = members["theme_id"].map(parent_of(assignments, themes))
    out = pd.DataFrame({"verbatim_id": members["verbatim_id"], "parent_theme_id": parent})
    return out.dropna().drop_duplicates().reset_index(drop=True)


def membership_matrix(
    verbatims: pd.DataFrame, members: pd.DataFrame, key: str, keys: list[str] | None = None
) -> tuple[list[str], np.ndarray]:
    """Boolean matrix (verbatims x themes): row i is in column j when verbatim i belongs to it.

    Columns are the sorted union of `members[key]` and `keys`. Members whose verbatim is not in
    `verbatims` are ignored; non-answers belong to no theme whatever `members` says.
    """
    ids = pd.Index(string_values(verbatims, "verbatim_id"))
    if not ids.is_unique:
        raise ValueError("verbatims.verbatim_id must be unique")
    columns = sorted(set(members[key].astype(str)) | set(keys or []))
    rows = ids.get_indexer(members["verbatim_id"].astype(str))
    cols = pd.Index(columns).get_indexer(members[key].astype(str))
    matrix = np.zeros((len(ids), len(columns)), dtype=bool)
    matrix[rows[rows >= 0], cols[rows >= 0]] = True
    if "is_non_answer" in verbatims.columns:
        matrix[verbatims["is_non_answer"].fillna(False).to_numpy(dtype=bool)] = False
    return columns, matrix


# --------------------------------------------------------------------------- per-theme figures


def count_figures(roles: np.ndarray, matrix: np.ndarray, keys: list[str], key: str) -> pd.DataFrame:
    """Per-theme counts by role, share of themed verbatims, theme NPS with interval and rates.

    `share` = the theme's verbatims / all themed verbatims (those in at least one theme);
    complaints count in both.
    """
    # boolean row selections, not an integer copy of the matrix: 1M verbatims x 150 themes
    # would otherwise take 1.2 GB per product
    detractors, passives, promoters, complaints = (
        matrix[roles == r].sum(axis=0) for r in (*SCORED_ROLES, "complaint")
    )
    themed = float(matrix.any(axis=1).sum())
    return figures_of_counts(keys, key, matrix.sum(axis=0), themed, detractors, passives,
                             promoters, complaints)  # fmt: skip


def figures_of_counts(
    keys: list[str], key: str, n: np.ndarray, themed: np.ndarray | float,
    detractors: np.ndarray, passives: np.ndarray, promoters: np.ndarray, complaints: np.ndarray,
) -> pd.DataFrame:  # fmt: skip
    """`count_figures`' table from its counts: one row per key, `themed` the verbatims in any
    theme (one number, or one per row: `rank._column_rows` gives many segments at once)."""
    scored = detractors + passives + promoters
    low, high = adjusted_wald(promoters, detractors, scored)
    return pd.DataFrame(
        {
            key: pd.Series(keys, dtype=str),
            "n_verbatims": n,
            "share": _ratio(n, themed),
            "n_scored": scored,
            "n_detractors": detractors,
            "n_passives": passives,
            "n_promoters": promoters,
            "n_complaints": complaints,
            "theme_nps": nps_points(promoters, detractors, scored),
            "theme_nps_low": low,
            "theme_nps_high": high,
            "detractor_rate": _ratio(detractors, scored),
            "passive_rate": _ratio(passives, scored),
            "promoter_rate": _ratio(promoters, scored),
        }
    )


def share_of_all(figures: pd.DataFrame, roles: np.ndarray) -> pd.DataFrame:
    """Theme's detractors / all detractors, likewise promoters and complaints (every verbatim)."""
    return pd.DataFrame(
        {
            "detractor_share": _ratio(figures["n_detractors"], float((roles == "detractor").sum())),
            "promoter_share": _ratio(figures["n_promoters"], float((roles == "promoter").sum())),
            "complaint_share": _ratio(figures["n_complaints"], float((roles == "complaint").sum())),
        }
    )


def _impact_from_counts(
    counts: np.ndarray, values: np.ndarray, member: np.ndarray, weighted: np.ndarray
) -> np.ndarray:
    """Leave-one-out impact per (sample, theme) for resampling multiplicities `counts`."""
    total_n = counts.sum(axis=1, keepdims=True)
    total_v = counts @ values[:, None]
    rest_n = total_n - counts @ member
    rest_v = total_v - counts @ weighted
    return 100.0 * (_ratio(total_v, total_n) - _ratio(rest_v, rest_n))


def leave_one_out_impact(values: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """NPS(all) - NPS(all without the theme's verbatims), in points, per theme.

    Args:
        values: +1 / 0 / -1 of every scored verbatim (non-answers included).
        matrix: membership of those verbatims (scored rows x themes).
    """
    member = matrix.astype(float)
    ones = np.ones((1, len(values)))
    return _impact_from_counts(ones, values, member, member * values[:, None])[0]


def _resample_counts(rng: np.random.Generator, n: int, samples: int) -> np.ndarray:
    """Multiplicity of each of n items in each of `samples` draws of n with replacement."""
    picks = rng.integers(0, n, size=(samples, n)) + (np.arange(samples) * n)[:, None]
    return np.bincount(picks.ravel(), minlength=samples * n).reshape(samples, n).astype(float)


@functools.lru_cache(maxsize=1)
def _drawn_once(n: int, samples: int, seed: int) -> np.ndarray:
    """`_resample_counts` of a one-chunk bootstrap (at most `_BOOTSTRAP_CELLS` cells), kept for
    the next call: a run's theme and parent-theme intervals resample the same scored verbatims
    with the same seed. Read-only."""
    counts = _resample_counts(np.random.default_rng(seed), n, samples)
    counts.flags.writeable = False
    return counts


def bootstrap_impact(
    values: np.ndarray, matrix: np.ndarray, samples: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap 95 % percentile interval of `leave_one_out_impact` for every theme at once.

    Scored verbatims are resampled with replacement; each resample is shared by all themes, so
    the work is two matrix products per chunk of samples. Zero samples give NaN intervals.
    """
    n, n_themes = matrix.shape
    if n == 0 or n_themes == 0 or samples <= 0:
        return np.full(n_themes, np.nan), np.full(n_themes, np.nan)
    rng = np.random.default_rng(seed)
    member = matrix.astype(float)
    weighted = member * values[:, None]
    chunk = max(1, _BOOTSTRAP_CELLS // n)
    draws = []
    for start in range(0, samples, chunk):
        if samples <= chunk:  # one chunk: the same draws as the last call with these n and seed
            counts = _drawn_once(n, samples, seed)
        else:
            counts = _resample_counts(rng, n, min(chunk, samples - start))
        draws.append(_impact_from_counts(counts, values, member, weighted))
    with warnings.catch_warnings():  # all-NaN columns (themes covering every verbatim)
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanpercentile(np.vstack(draws), [2.5, 97.5], axis=0)
    return low, high


def impact_figures(values: np.ndarray, matrix: np.ndarray, settings: NpsSettings) -> pd.DataFrame:
    """nps_impact with its bootstrap interval and `significant` (the interval excludes 0).

    A theme without scored verbatims has no impact (NaN), not an impact of 0. Without an
    interval (bootstrap_samples = 0) no theme is significant.
    """
    impact = leave_one_out_impact(values, matrix)
    low, high = bootstrap_impact(values, matrix, settings.bootstrap_samples, settings.random_state)
    unscored = matrix.sum(axis=0) == 0
    impact, low, high = (np.where(unscored, np.nan, a) for a in (impact, low, high))
    return pd.DataFrame(
        {
            "nps_impact": impact,
            "nps_impact_low": low,
            "nps_impact_high": high,
            "significant": (low > 0) | (high < 0),
        }
    )


def driver_figures(scores: np.ndarray, matrix: np.ndarray) -> pd.DataFrame:
    """OLS of the 0-10 score on theme indicators (with intercept): coefficient and 95 % interval.

    Rows are every scored verbatim; non-answers and unthemed verbatims have all-zero indicators
    and so set the baseline with the intercept. Standard errors are sqrt(diag((X'X)^+) * s^2)
    with s^2 = RSS / (n - rank). A theme with fewer than 2 scored verbatims, or one that cannot
    be told apart from others (collinear indicators), gets NaN.
    """
    keep = ~np.isnan(scores)
    y, member = scores[keep], matrix[keep]
    coef, low, high = (np.full(matrix.shape[1], np.nan) for _ in range(3))
    usable = np.flatnonzero(member.sum(axis=0) >= MIN_DRIVER_SCORED)
    if len(y) == 0:
        return pd.DataFrame({"driver_coef": coef, "driver_low": low, "driver_high": high})

    def design(rows: slice) -> np.ndarray:  # [1, indicators] of a block of rows, float64
        part = member[rows][:, usable]
        return np.column_stack([np.ones(len(part)), part.astype(float)])

    # via the small k x k normal equations (an SVD of the tall X is much slower), summed over
    # blocks of rows: X itself in float64 was 1.4 GB at 1M verbatims x 170 themes
    blocks = [slice(start, start + _DRIVER_ROWS) for start in range(0, len(y), _DRIVER_ROWS)]
    xtx, xty = 0.0, 0.0
    for rows in blocks:
        x = design(rows)
        xtx, xty = xtx + x.T @ x, xty + x.T @ y[rows]
    xtx_pinv = np.linalg.pinv(xtx, rtol=_RTOL, hermitian=True)
    beta = xtx_pinv @ xty
    # a coefficient is identifiable iff its unit vector lies in X's row space
    identified = np.isclose(np.diag(xtx_pinv @ xtx), 1.0, atol=1e-6)[1:]
    dof = len(y) - np.linalg.matrix_rank(xtx, rtol=_RTOL, hermitian=True)
    rss = float(sum(np.sum((y[rows] - design(rows) @ beta) ** 2) for rows in blocks))
    se = np.sqrt(np.clip(np.diag(xtx_pinv), 0, None) * rss / dof)[1:] if dof > 0 else np.nan
    half = stats.t.ppf(0.975, dof) * se if dof > 0 else np.nan
    coef[usable] = np.where(identified, beta[1:], np.nan)
    low[usable] = np.where(identified, beta[1:] - half, np.nan)
    high[usable] = np.where(identified, beta[1:] + half, np.nan)
    return pd.DataFrame({"driver_coef": coef, "driver_low": low, "driver_high": high})


# --------------------------------------------------------------------------- complaints


def link_complaints(verbatims: pd.DataFrame, window_days: int) -> pd.DataFrame:
    """Link each complaint to its customer's nearest survey response within `window_days`.

    Before or after the complaint both count; ties go to the earlier response. Complaints
    without a customer, a date or a response in the window are not linked.

    Returns:
        A COMPLAINT_LINKS frame, one row per linked complaint.
    """
    cols = ["verbatim_id", "customer_id", "created_at"]
    roles = string_values(verbatims, "role")
    complaints = verbatims.loc[roles == "complaint", cols].dropna()
    surveys = verbatims.loc[np.isin(roles, SCORED_ROLES), [*cols, "role"]].dropna()
    pairs = complaints.merge(surveys, on="customer_id", suffixes=("", "_survey"))
    days = (pairs["created_at_survey"] - pairs["created_at"]).dt.total_seconds() / 86400.0
    pairs = pairs.assign(days_apart=days.abs())[days.abs() <= window_days]
    pairs = pairs.sort_values(["verbatim_id", "days_apart", "created_at_survey"])
    nearest = pairs.drop_duplicates("verbatim_id")
    out = nearest.rename(
        columns={"verbatim_id_survey": "linked_verbatim_id", "role": "linked_role"}
    )
    return COMPLAINT_LINKS.conform(out[COMPLAINT_LINKS.names])


def linked_counts(verbatims: pd.DataFrame, matrix: np.ndarray, window_days: int) -> pd.DataFrame:
    """Per theme: how many of its complaints link to a detractor, passive or promoter response."""
    links = link_complaints(verbatims, window_days)
    role_by_id = dict(zip(links["verbatim_id"], links["linked_role"], strict=True))
    ids = string_values(verbatims, "verbatim_id")
    linked = np.array([role_by_id.get(i, "") for i in ids], dtype=object)
    return pd.DataFrame(
        {f"n_complaints_linked_{role}": matrix[linked == role].sum(axis=0) for role in SCORED_ROLES}
    )


# --------------------------------------------------------------------------- assembled tables


def _figures(
    verbatims: pd.DataFrame,
    members: pd.DataFrame,
    primary: pd.DataFrame,
    key: str,
    settings: NpsSettings,
    keys: list[str],
) -> pd.DataFrame:
    """Every per-group figure for the membership `members` grouped by `key`."""
    columns, matrix = membership_matrix(verbatims, members, key, keys)
    _, primary_matrix = membership_matrix(verbatims, primary, key, columns)
    roles = string_values(verbatims, "role")
    counts = count_figures(roles, matrix, columns, key)
    counts.insert(2, "n_primary", primary_matrix.sum(axis=0))
    values = role_values(verbatims)
    scored = ~np.isnan(values)
    return pd.concat(
        [
            counts,
            share_of_all(counts, roles),
            impact_figures(values[scored], matrix[scored], settings),
            driver_figures(scores_0_10(verbatims)[scored], matrix[scored]),
            linked_counts(verbatims, matrix, settings.complaint_link_days),
        ],
        axis=1,
    )


THEME_INFO = [
    "label", "parent_theme_id", "parent_label", "keywords", "language", "examples", "status",
    "n_en", "n_ru", "label_en", "label_ru",
]  # fmt: skip


def theme_info(assignments: pd.DataFrame, themes: pd.DataFrame | None = None) -> pd.DataFrame:
    """theme_id and its descriptive columns, from the theme table or else from assignments."""
    info = assignments[["theme_id", "theme_label", "parent_theme_id"]].dropna(subset=["theme_id"])
    info = info.rename(columns={"theme_label": "label"}).reindex(columns=["theme_id", *THEME_INFO])
    if themes is not None:
        # themes the table lacks (usually 'unclassified') keep what assignments say of them
        info = pd.concat([themes.reindex(columns=["theme_id", *THEME_INFO]), info],
                         ignore_index=True)  # fmt: skip
    return info.astype({"theme_id": str}).drop_duplicates("theme_id").reset_index(drop=True)


def theme_figures(
    verbatims: pd.DataFrame,
    assignments: pd.DataFrame,
    settings: NpsSettings,
    mentions: pd.DataFrame | None = None,
    themes: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every NPS figure per theme, one row per theme (the input of `rank.rank_themes`).

    Args:
        verbatims: VERBATIMS frame (every accepted verbatim, non-answers included).
        assignments: ASSIGNMENTS frame (primary theme per themed verbatim).
        settings: bootstrap size and seed, complaint link window.
        mentions: MENTIONS frame; when given, a verbatim belongs to every theme it mentions
            (the product passes them), else only to its primary theme.
        themes: THEMES frame for labels, keywords and examples; every theme in it gets a row.

    Returns:
        theme_id, label, parent_theme_id, parent_label, keywords, language, examples, then
        n_verbatims, n_primary, share, n_scored, n_detractors, n_passives, n_promoters,
        n_complaints, theme_nps(_low/_high), detractor/passive/promoter_rate,
        detractor/promoter/complaint_share, nps_impact(_low/_high), significant,
        driver_coef/_low/_high and n_complaints_linked_detractor/_passive/_promoter.
        Rates and shares are fractions (0-1), NPS figures are points (-100..100).
    """
    members = theme_members(assignments, mentions)
    primary = theme_members(assignments)
    keys = [] if themes is None else themes["theme_id"].dropna().astype(str).tolist()
    figures = _figures(verbatims, members, primary, "theme_id", settings, keys)
    out = figures.merge(theme_info(assignments, themes), on="theme_id", how="left")
    out["label"] = out["label"].fillna(out["theme_id"])
    return out[["theme_id", *THEME_INFO, *figures.columns[1:]]]


def parent_theme_figures(
    verbatims: pd.DataFrame,
    assignments: pd.DataFrame,
    settings: NpsSettings,
    mentions: pd.DataFrame | None = None,
    themes: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The figures of `theme_figures` with parent_theme_id as the grouping key.

    A verbatim belongs to the parents of every theme it belongs to (counted once per parent).

    Returns:
        parent_theme_id, parent_label (from `themes`, else the id), then the figure columns.
    """
    members = parent_members(assignments, mentions, themes)
    primary = parent_members(assignments, None, themes)
    keys = [] if themes is None else themes["parent_theme_id"].dropna().astype(str).tolist()
    figures = _figures(verbatims, members, primary, "parent_theme_id", settings, keys)
    labels: dict[str, str] = {}
    if themes is not None:
        pairs = themes[["parent_theme_id", "parent_label"]].dropna().astype(str)
        labels = dict(zip(pairs["parent_theme_id"], pairs["parent_label"], strict=True))
    figures.insert(1, "parent_label", [labels.get(p, p) for p in figures["parent_theme_id"]])
    return figures
