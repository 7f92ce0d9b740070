"""Facets: a theme whose mentions are mixed is split into a problem facet and a praise facet.

A facet is a child of its topic: its id is the topic's stable id with a suffix, `T007-` (what
customers complain about) and `T007+` (what they praise), so facet ids are as stable as topic
ids and need no registry of their own. Each mention of a split topic goes to the facet of its
polarity score's sign (a neutral sentence leans to the side its score is on); a verbatim's primary
theme goes to the facet of its mention of that topic (else its own score's sign). Themes whose
mentions are mostly one-sided stay whole; the store keeps topics, the outputs show facets. A topic
the previous run split stays split down to `keep_share` (run.json `facets.split` remembers it).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cx_text.polarity import PRAISE, PROBLEM
from cx_text.schemas import ASSIGNMENTS, SCORED_MENTIONS, THEMES, UNCLASSIFIED
from cx_text.settings import FacetSettings

if TYPE_CHECKING:
    from cx_text.theme_tables import Discovery


SUFFIX = {PROBLEM: "-", PRAISE: "+"}
FACET_NAMES = {"-": PROBLEM, "+": PRAISE}


def facet_id(topic_id: str, side: str) -> str:
    """`T007-` for the problem facet of T007, `T007+` for its praise facet."""
    return f"{topic_id}{SUFFIX[side]}"


def topic_of(theme_id: str) -> str:
    """The topic a theme or facet id belongs to (`T007` for `T007-`, `T007+` and `T007`)."""
    return theme_id[:-1] if theme_id[-1:] in FACET_NAMES else theme_id


def facet_of(theme_id: str) -> str:
    """`problem`, `praise` or '' (a whole topic)."""
    return FACET_NAMES.get(theme_id[-1:], "")


def polarity_shares(mentions: pd.DataFrame) -> pd.DataFrame:
    """Per theme id: n_mentions, n_problem, n_praise, problem_share, praise_share (NaN when
    polarity is off)."""
    scored = mentions.dropna(subset=["polarity"])
    ids, polarity = scored["theme_id"].astype(str).to_numpy(), scored["polarity"].to_numpy()
    sizes = pd.Series(ids, dtype=object).value_counts()
    out = pd.DataFrame({"n_mentions": sizes.astype(int)})
    for name, side in (("n_problem", PROBLEM), ("n_praise", PRAISE)):
        counts = pd.Series(ids[polarity == side], dtype=object).value_counts()
        out[name] = counts.reindex(out.index, fill_value=0).astype(int)
    out["problem_share"] = out["n_problem"] / out["n_mentions"]
    out["praise_share"] = out["n_praise"] / out["n_mentions"]
    return out


def mixed_topics(
    mentions: pd.DataFrame, settings: FacetSettings, split_before: Iterable[str] = ()
) -> list[str]:
    """Topics whose smaller side (problem or praise mentions) is at least `min_share` of their
    mentions and at least `min_mentions` mentions: those are split. A topic in `split_before`
    (the previous run's split topics) needs only `keep_share` (when lower than `min_share`), so
    a topic whose mix hovers around `min_share` keeps its facets from run to run."""
    shares = polarity_shares(mentions)
    shares = shares[shares.index != UNCLASSIFIED]
    smaller = np.minimum(shares["n_problem"], shares["n_praise"])
    kept = shares.index.isin(list(split_before))
    share = np.where(kept, min(settings.keep_share, settings.min_share), settings.min_share)
    least = np.maximum(settings.min_mentions, share * shares["n_mentions"])
    split = smaller >= least
    return sorted(shares.index[split])


def split_topics(themes: pd.DataFrame) -> list[str]:
    """The topics a themes table shows as facets (what run.json records as `facets.split`)."""
    ids = themes["theme_id"].astype(str)
    return sorted({topic_of(t) for t in ids if facet_of(t)})


def previous_split(runs: pd.DataFrame) -> list[str]:
    """The topics the newest run record holding `facets` split (rows of the store's runs
    table, oldest first: `record` is the run.json text); [] when none recorded facets (the
    stage passes the 20 latest runs: a compare run records none)."""
    for text in reversed(runs["record"].tolist() if "record" in runs else []):
        record = json.loads(text) if isinstance(text, str) else {}
        if "facets" in record:
            return [str(t) for t in record["facets"].get("split", [])]
    return []


def _side(scores: pd.Series) -> pd.Series:
    return pd.Series(np.where(scores.astype(float) < 0, PROBLEM, PRAISE), index=scores.index)


def _facet_ids(theme_ids: pd.Series, scores: pd.Series, split: set[str]) -> pd.Series:
    sides = _side(scores.fillna(0.0))
    ids = theme_ids.astype(str)
    faceted = ids.isin(split)
    return ids.where(~faceted, ids + sides.map(SUFFIX))


def _facet_rows(themes: pd.DataFrame, mentions: pd.DataFrame, split: list[str], n_examples: int
                ) -> pd.DataFrame:  # fmt: skip
    """THEMES rows of every facet: the topic's row with the facet's id and examples."""
    rows = []
    ids = {facet_id(str(t), side) for t in split for side in (PROBLEM, PRAISE)}
    # each facet's mentions in their order in `mentions` (one pass, not one filter per facet)
    by_facet = dict(tuple(mentions[mentions["theme_id"].isin(ids)].groupby("theme_id", sort=False)))
    none = mentions.iloc[:0]
    for row in themes[themes["theme_id"].isin(split)].to_dict("records"):
        for side in (PROBLEM, PRAISE):
            fid = facet_id(str(row["theme_id"]), side)
            said = by_facet.get(fid, none).sort_values("confidence", ascending=False)
            examples = " | ".join(said["sentence"].astype(str).drop_duplicates().head(n_examples))
            rows.append({**row, "theme_id": fid, "examples": examples})
    return pd.DataFrame(rows, columns=themes.columns)


def split_facets(
    shown: Discovery, verbatims: pd.DataFrame, mentions: pd.DataFrame, settings: FacetSettings,
    n_examples: int = 5, split_before: Iterable[str] = (),
) -> Discovery:  # fmt: skip
    """`shown` with every mixed topic replaced by its problem and praise facets.

    Args:
        shown: the run's themes after the analyst's overrides.
        verbatims: SCORED_VERBATIMS of the window (a verbatim's own score, when it has no
            mention of its primary topic).
        mentions: SCORED_MENTIONS of `shown`.
        settings: when a topic counts as mixed.
        split_before: the topics the previous run split (`previous_split`): kept split down to
            `settings.keep_share`.
    """
    split = mixed_topics(mentions, settings, split_before) if settings.enabled else []
    if not split:
        return replace(shown, mentions=SCORED_MENTIONS.conform(mentions))
    faceted = mentions.assign(
        theme_id=_facet_ids(mentions["theme_id"], mentions["polarity_score"], set(split))
    )
    themes = pd.concat([shown.themes[~shown.themes["theme_id"].isin(split)],
                        _facet_rows(shown.themes, faceted, split, n_examples)],
                       ignore_index=True)  # fmt: skip
    assignments = _facet_assignments(shown.assignments, mentions, verbatims, split, themes)
    return replace(shown, themes=THEMES.conform(_facet_languages(themes, assignments, verbatims)),
                   assignments=assignments,
                   mentions=SCORED_MENTIONS.conform(faceted))  # fmt: skip


def _facet_languages(
    themes: pd.DataFrame, assignments: pd.DataFrame, verbatims: pd.DataFrame
) -> pd.DataFrame:  # fmt: skip
    """Facet rows with their own n_en / n_ru (their primary verbatims, not the topic's) and,
    for a bilingual topic's facet that holds one language only, that language."""
    from cx_text.overrides import language_counts

    is_facet = themes["theme_id"].astype(str).map(facet_of) != ""
    if not is_facet.any() or "n_en" not in themes.columns:
        return themes
    counted = language_counts(themes[is_facet], assignments, verbatims)
    one = counted["language"].eq("multi") & counted[["n_en", "n_ru"]].eq(0).any(axis=1)
    counted.loc[one, "language"] = counted.loc[one, "n_ru"].gt(0).map({True: "ru", False: "en"})
    out = themes.copy()
    out.loc[is_facet, ["n_en", "n_ru", "language"]] = counted[["n_en", "n_ru", "language"]]
    return out


def _facet_assignments(
    assignments: pd.DataFrame, mentions: pd.DataFrame, verbatims: pd.DataFrame,
    split: list[str], themes: pd.DataFrame,
) -> pd.DataFrame:  # fmt: skip
    """Primary themes moved to the facet of the verbatim's mention of that topic."""
    key = ["verbatim_id", "theme_id"]
    said = mentions[[*key, "polarity_score"]].astype({"verbatim_id": str, "theme_id": str})
    out = assignments.astype({"verbatim_id": str, "theme_id": str}).merge(
        said.drop_duplicates(key), on=key, how="left"
    )
    own = out["verbatim_id"].map(
        verbatims.astype({"verbatim_id": str}).set_index("verbatim_id")["polarity_score"]
    )
    scores = out["polarity_score"].astype(float).fillna(own.astype(float))
    out["theme_id"] = _facet_ids(out["theme_id"], scores, set(split))
    labels = themes.set_index("theme_id")["label"]
    out["theme_label"] = out["theme_id"].map(labels).fillna(out["theme_label"])
    return ASSIGNMENTS.conform(out[ASSIGNMENTS.names])


def with_facet_columns(figures: pd.DataFrame, mentions: pd.DataFrame | None = None) -> pd.DataFrame:
    """`figures` (one row per theme id) with topic_id, facet, problem_share and praise_share.

    Shares come from `mentions` when they carry polarity; columns already present are kept.
    """
    ids = figures["theme_id"].astype(str)
    out = figures.assign(topic_id=ids.map(topic_of), facet=ids.map(facet_of))
    if "problem_share" in figures.columns:
        return out
    out["problem_share"] = out["praise_share"] = np.nan
    if mentions is not None and "polarity" in mentions.columns and len(mentions):
        shares = polarity_shares(mentions)
        out["problem_share"] = ids.map(shares["problem_share"]).astype(float)
        out["praise_share"] = ids.map(shares["praise_share"]).astype(float)
    return out
