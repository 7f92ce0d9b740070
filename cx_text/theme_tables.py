"""The tables of a theming: themes, assignments and mentions, from each group's fitted model.

A `Discovery` is immutable: registry ids (`apply_ids`) and analyst overrides return a new one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from cx_text.registry import Candidate, rename_ids
from cx_text.schemas import ASSIGNMENTS, MENTIONS, THEMES, UNCLASSIFIED
from cx_text.themes import OUTLIER, ThemeModel

# (group, topic) of a topic merged into the theme of another (group, topic): linked languages
TopicLinks = dict[tuple[str, int], tuple[str, int]]


@dataclass(frozen=True)
class Discovery:
    """Themes of a run's verbatims, with the models that found them."""

    assignments: pd.DataFrame
    mentions: pd.DataFrame
    themes: pd.DataFrame
    models: dict[str, ThemeModel]
    model_ids: dict[str, str]  # embedding model id per language group
    languages: dict[str, str] = field(default_factory=dict)
    # theme id of each model topic, per group (what `ThemeModel.assign` numbers map to)
    topic_ids: dict[str, list[str]] = field(default_factory=dict)
    candidates: list[Candidate] = field(default_factory=list)
    links: TopicLinks = field(default_factory=dict)  # topics merged into another group's topic
    link_model_id: str = ""  # the multilingual encoder that linked them ("" when none did)


@dataclass(frozen=True)
class SavedThemes:
    """A fitted theme set as saved under models/current: what nightly assignment needs, and the
    polarity head the re-fit learnt (`PolarityModel.state()`; None: saved without one)."""

    models: dict[str, ThemeModel]
    topic_ids: dict[str, list[str]]
    model_ids: dict[str, str]
    themes: pd.DataFrame
    link_model_id: str = ""
    polarity_head: dict[str, Any] | None = None


@dataclass(frozen=True)
class GroupResult:
    """One language group's fitted model and the themes of all its documents."""

    name: str
    frame: pd.DataFrame
    model: ThemeModel
    mentions: pd.DataFrame  # sentence mentions with model-local topic numbers
    labels: np.ndarray  # model topic per document of `frame` (OUTLIER = unclassified)
    confidence: np.ndarray
    model_id: str
    language: str


def empty_discovery() -> Discovery:
    return Discovery(ASSIGNMENTS.empty(), MENTIONS.empty(), THEMES.empty(), {}, {})


def resolve_ids(labels: np.ndarray, topic_ids: list[str]) -> list[str]:
    """Theme id of each model topic number; OUTLIER becomes 'unclassified'."""
    return [topic_ids[t] if t != OUTLIER else UNCLASSIFIED for t in labels]


def _sized(part: GroupResult) -> pd.DataFrame:
    """A group's theme table (model order) sized on all its documents."""
    sizes = np.bincount(part.labels[part.labels != OUTLIER], minlength=len(part.model.themes_))
    return part.model.themes_.assign(group=part.name, size=sizes)


def merge_linked(themes: pd.DataFrame, links: TopicLinks, label_language: str) -> pd.DataFrame:
    """Theme rows after each linked topic joined its target: sizes added, a label per language.

    `label_ru` is the Russian group's label (the largest linked Russian topic's, for a merged
    theme), `label_en` the other group's; `label` follows `label_language` when it has one.
    """
    russian = themes["group"].eq("ru")
    out = themes.assign(label_en=themes["label"].where(~russian, ""),
                        label_ru=themes["label"].where(russian, ""), merged=False)  # fmt: skip
    row = {(g, int(t)): i for i, (g, t) in enumerate(zip(out["group"], out["topic"], strict=True))}
    by_size = sorted(links, key=lambda src: int(out["size"].iloc[row[src]]))
    for source in by_size:  # the largest linked topic's label is set last
        target, moved = row[links[source]], out.iloc[row[source]]
        out.iloc[target, out.columns.get_loc("size")] += int(moved["size"])
        out.iloc[target, out.columns.get_loc("label_ru")] = moved["label_ru"]
        out.iloc[target, out.columns.get_loc("merged")] = True
    out = out.drop(index=[row[src] for src in links]).reset_index(drop=True)
    preferred = out["label_ru"] if label_language == "ru" else out["label_en"]
    other = out["label_en"] if label_language == "ru" else out["label_ru"]
    return out.assign(label=preferred.where(preferred.ne(""), other))


def _numbered(results: list[GroupResult], links: TopicLinks, label_language: str) -> pd.DataFrame:
    """Every group's themes sized on all its documents, numbered T001... by decreasing size."""
    themes = pd.concat([_sized(part) for part in results], ignore_index=True)
    themes = merge_linked(themes, links, label_language)
    themes = themes.sort_values(["size", "group", "topic"], ascending=[False, True, True])
    themes["theme_id"] = [f"T{i:03d}" for i in range(1, len(themes) + 1)]
    parents = themes[["group", "parent"]].drop_duplicates().reset_index(drop=True)
    parents["parent_theme_id"] = [f"P{i:02d}" for i in range(1, len(parents) + 1)]
    return themes.merge(parents, on=["group", "parent"])


def combine(
    results: list[GroupResult],
    links: TopicLinks | None = None,
    link_model_id: str = "",
    label_language: str = "en",
) -> Discovery:
    """One Discovery from the groups' results (run-local ids until `apply_ids`).

    `links` merge topics of one group into another group's theme (`cx_text.linking`): one
    theme id, its label in `label_language` ('en' or 'ru') when it has one.
    """
    if not results:
        return empty_discovery()
    links = links or {}
    themes = _numbered(results, links, label_language)
    ids = {(g, t): tid for g, t, tid in zip(themes["group"], themes["topic"], themes["theme_id"],
                                            strict=True)}  # fmt: skip
    ids.update((source, ids[target]) for source, target in links.items())
    model_ids = {part.name: part.model_id for part in results}
    languages = {part.name: part.language for part in results}
    topic_ids, assignments, mentions, candidates = {}, [], [], []
    for part in results:
        topic_ids[part.name] = [
            ids[(part.name, t)] for t in range(len(part.model.topic_embeddings_))
        ]
        doc_ids = resolve_ids(part.labels, topic_ids[part.name])
        assignments.append(assignment_rows(part.frame, doc_ids, part.confidence, themes))
        mentions.append(mention_rows(part.frame, doc_ids, part.confidence, part.mentions,
                                     topic_ids[part.name]))  # fmt: skip
        candidates.extend(_candidates(part, _sized(part), ids, links))
    themes["group"] = themes["group"].map(languages).where(~themes["merged"], "multi")
    assigned = pd.concat(assignments, ignore_index=True)
    counts = _language_counts(assigned, results)  # map, not join: no themes = an empty float id
    themes = themes.assign(n_en=themes["theme_id"].map(counts["n_en"]),
                           n_ru=themes["theme_id"].map(counts["n_ru"]))  # fmt: skip
    return Discovery(
        assignments=ASSIGNMENTS.conform(assigned),
        mentions=MENTIONS.conform(pd.concat(mentions, ignore_index=True)),
        themes=_theme_rows(themes, results), models={p.name: p.model for p in results},
        model_ids=model_ids, languages=languages, topic_ids=topic_ids, candidates=candidates,
        links=links, link_model_id=link_model_id,
    )  # fmt: skip


def _language_counts(assigned: pd.DataFrame, results: list[GroupResult]) -> pd.DataFrame:
    """n_en and n_ru of each theme id: its primary verbatims in English and in Russian."""
    language = pd.concat([part.frame["language"] for part in results], ignore_index=True)
    language = language.fillna("en").to_numpy()
    counts = pd.DataFrame({
        "n_en": assigned["theme_id"][language == "en"].value_counts(),
        "n_ru": assigned["theme_id"][language == "ru"].value_counts(),
    }).fillna(0).astype(int)  # fmt: skip
    return counts


def _candidates(
    part: GroupResult, table: pd.DataFrame, ids: dict, links: TopicLinks
) -> list[Candidate]:
    """Registry candidates of one group; `table` is its theme table sized on all documents.

    A linked topic is none: its theme id is its target's, which the target's candidate holds.
    """
    return [
        Candidate(ids[(part.name, int(row.topic))], str(row.label), int(row.size),
                  part.model_id, part.language, str(row.keywords),
                  part.model.topic_embeddings_[int(row.topic)])
        for row in table.itertuples() if (part.name, int(row.topic)) not in links
    ]  # fmt: skip


def apply_ids(found: Discovery, mapping: dict[str, str], status: dict[str, str]) -> Discovery:
    """Replace run-local theme ids by registry ids everywhere and set each theme's status."""
    themes = rename_ids(found.themes, mapping)
    themes["status"] = [status.get(str(t), "") for t in themes["theme_id"]]
    order = themes["theme_id"].eq(UNCLASSIFIED)
    themes = pd.concat([themes[~order].sort_values(["size", "theme_id"], ascending=[False, True]),
                        themes[order]])  # fmt: skip
    return replace(
        found,
        themes=THEMES.conform(themes),
        assignments=rename_ids(found.assignments, mapping),
        mentions=rename_ids(found.mentions, mapping),
        topic_ids={g: [mapping.get(t, t) for t in ids] for g, ids in found.topic_ids.items()},
        candidates=[replace(c, local_id=mapping.get(c.local_id, c.local_id))
                    for c in found.candidates],
    )  # fmt: skip


def assignment_rows(
    frame: pd.DataFrame, theme_ids: list[str], confidence: np.ndarray, themes: pd.DataFrame
) -> pd.DataFrame:
    lookup = themes.drop_duplicates("theme_id").set_index("theme_id")
    return pd.DataFrame(
        {
            "verbatim_id": frame["verbatim_id"],
            "theme_id": theme_ids,
            "theme_label": [lookup["label"].get(t, "Unclassified") for t in theme_ids],
            "parent_theme_id": [lookup["parent_theme_id"].get(t, UNCLASSIFIED) for t in theme_ids],
            "confidence": confidence,
        }
    )


def mention_rows(
    frame: pd.DataFrame,
    theme_ids: list[str],
    confidence: np.ndarray,
    sentences: pd.DataFrame,
    topic_ids: list[str],
) -> pd.DataFrame:
    primary = pd.DataFrame(
        {
            "verbatim_id": frame["verbatim_id"],
            "theme_id": theme_ids,
            "sentence": frame["text"],
            "confidence": confidence,
        }
    )
    extra = sentences.assign(theme_id=[topic_ids[t] for t in sentences["topic"]])
    both = pd.concat([primary, extra[primary.columns]], ignore_index=True)
    # one row per (verbatim, theme): the primary row wins, then the most confident sentence
    both = both[both["theme_id"] != UNCLASSIFIED].reset_index(drop=True)
    both["_primary"] = both.index < len(primary)
    both = both.sort_values(["_primary", "confidence"], ascending=False, kind="stable")
    both = both.drop_duplicates(["verbatim_id", "theme_id"]).drop(columns="_primary")
    return both.sort_values(["verbatim_id", "theme_id"]).reset_index(drop=True)


def _theme_rows(themes: pd.DataFrame, results: list[GroupResult]) -> pd.DataFrame:
    parent_label = themes.set_index("parent_theme_id")["parent_label"]
    rows = pd.DataFrame(
        {
            "theme_id": themes["theme_id"],
            "label": themes["label"],
            "parent_theme_id": themes["parent_theme_id"],
            "parent_label": themes["parent_theme_id"].map(
                parent_label[~parent_label.index.duplicated()]
            ),
            "keywords": themes["keywords"],
            "size": themes["size"],
            "language": themes["group"],
            "examples": themes["examples"].map(" | ".join),
            "status": "new",
            "n_en": themes["n_en"].fillna(0).astype(int),
            "n_ru": themes["n_ru"].fillna(0).astype(int),
            "label_en": themes["label_en"],
            "label_ru": themes["label_ru"],
        }
    )
    n_unclassified = sum(int(np.sum(part.labels == OUTLIER)) for part in results)
    if n_unclassified:
        bucket = pd.DataFrame([[UNCLASSIFIED, "Unclassified", UNCLASSIFIED, "Unclassified", "",
                                n_unclassified, "all", "", "", 0, 0, "", ""]],
                              columns=rows.columns)  # fmt: skip
        rows = pd.concat([rows, bucket], ignore_index=True) if len(rows) else bucket
    return THEMES.conform(rows)
