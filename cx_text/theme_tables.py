"""The tables of a theming: themes, assignments and mentions, from each group's fitted model.

A `Discovery` is immutable: registry ids (`apply_ids`) and analyst overrides return a new one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from cx_text.registry import Candidate, rename_ids
from cx_text.schemas import ASSIGNMENTS, MENTIONS, THEMES, UNCLASSIFIED
from cx_text.themes import OUTLIER, ThemeModel


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


@dataclass(frozen=True)
class SavedThemes:
    """A fitted theme set as saved under models/current: what nightly assignment needs."""

    models: dict[str, ThemeModel]
    topic_ids: dict[str, list[str]]
    model_ids: dict[str, str]
    themes: pd.DataFrame


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


def _numbered(results: list[GroupResult]) -> pd.DataFrame:
    """Every group's themes sized on all its documents, numbered T001... by decreasing size."""
    themes = pd.concat([_sized(part) for part in results], ignore_index=True)
    themes = themes.sort_values(["size", "group", "topic"], ascending=[False, True, True])
    themes["theme_id"] = [f"T{i:03d}" for i in range(1, len(themes) + 1)]
    parents = themes[["group", "parent"]].drop_duplicates().reset_index(drop=True)
    parents["parent_theme_id"] = [f"P{i:02d}" for i in range(1, len(parents) + 1)]
    return themes.merge(parents, on=["group", "parent"])


def combine(results: list[GroupResult]) -> Discovery:
    """One Discovery from the groups' results (run-local ids until `apply_ids`)."""
    if not results:
        return empty_discovery()
    themes = _numbered(results)
    ids = {(g, t): tid for g, t, tid in zip(themes["group"], themes["topic"], themes["theme_id"],
                                            strict=True)}  # fmt: skip
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
        candidates.extend(_candidates(part, _sized(part), ids))
    themes["group"] = themes["group"].map(languages)
    return Discovery(
        assignments=ASSIGNMENTS.conform(pd.concat(assignments, ignore_index=True)),
        mentions=MENTIONS.conform(pd.concat(mentions, ignore_index=True)),
        themes=_theme_rows(themes, results), models={p.name: p.model for p in results},
        model_ids=model_ids, languages=languages, topic_ids=topic_ids, candidates=candidates,
    )  # fmt: skip


def _candidates(part: GroupResult, table: pd.DataFrame, ids: dict) -> list[Candidate]:
    """Registry candidates of one group; `table` is its theme table sized on all documents."""
    return [
        Candidate(ids[(part.name, int(row.topic))], str(row.label), int(row.size),
                  part.model_id, part.language, str(row.keywords),
                  part.model.topic_embeddings_[int(row.topic)])
        for row in table.itertuples()
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
        }
    )
    n_unclassified = sum(int(np.sum(part.labels == OUTLIER)) for part in results)
    if n_unclassified:
        bucket = pd.DataFrame([[UNCLASSIFIED, "Unclassified", UNCLASSIFIED, "Unclassified", "",
                                n_unclassified, "all", "", ""]], columns=rows.columns)  # fmt: skip
        rows = pd.concat([rows, bucket], ignore_index=True) if len(rows) else bucket
    return THEMES.conform(rows)
