"""Analyst overrides from a themes.yaml: rename, merge, split by seed phrases, seed themes, ignore.

They refer to permanent theme ids, so they survive re-fits, and are applied on every run after
the themes are found or assigned:

```yaml
rename: {T003: "Late delivery"}
merge: [{into: T001, themes: [T005, T006]}]
split: [{name: "Promo codes", from: T004, seeds: ["promo code not accepted"], threshold: 0.5}]
seed_themes: [{name: "Delivery slots", seeds: ["more evening delivery slots"]}]
ignore: [T010]
```

Split and seed themes get the id `S-<slug of name>` and take every verbatim (of `from`, or of
any theme for seed themes) whose embedding is at least `threshold` similar to the mean of the
seed phrases and closer to it than to its own theme centre; a seed theme is listed even when
nothing matches it yet.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, Field, ValidationError

from cx_text import outputs
from cx_text.clean import model_text
from cx_text.embed import Embedder
from cx_text.embedding_cache import EmbeddingCache
from cx_text.schemas import ASSIGNMENTS, MENTIONS, THEMES, UNCLASSIFIED
from cx_text.settings import Settings
from cx_text.theme_tables import Discovery
from cx_text.themes import ThemeModel
from cx_text.theming import groups_of


class OverrideError(ValueError):
    """themes.yaml is malformed or names themes that do not exist."""


class Merge(BaseModel):
    into: str
    themes: list[str]


class SeedTheme(BaseModel):
    name: str
    seeds: list[str] = Field(min_length=1)
    threshold: float = 0.5
    source: str | None = Field(default=None, alias="from")


class Overrides(BaseModel):
    rename: dict[str, str] = Field(default_factory=dict)
    merge: list[Merge] = Field(default_factory=list)
    split: list[SeedTheme] = Field(default_factory=list)
    seed_themes: list[SeedTheme] = Field(default_factory=list)
    ignore: list[str] = Field(default_factory=list)

    def referenced_ids(self) -> set[str]:
        ids = set(self.rename) | set(self.ignore)
        for m in self.merge:
            ids |= {m.into, *m.themes}
        ids |= {s.source for s in self.split if s.source}
        return ids


def parse(text: str, where: str = "themes.yaml") -> Overrides:
    try:
        data = yaml.safe_load(text) or {}
        return Overrides.model_validate(data)
    except (yaml.YAMLError, ValidationError) as exc:
        raise OverrideError(f"{where} is not valid: {exc}".splitlines()[0]) from exc


def load(path: Path | None) -> Overrides:
    """The overrides of `path`; none when there is no file."""
    if path is None or not path.exists():
        return Overrides()
    return parse(path.read_text(encoding="utf-8"), str(path))


def save(overrides: Overrides, path: Path) -> None:
    data = overrides.model_dump(by_alias=True, exclude_defaults=True)
    outputs.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), path)


def slug_id(name: str) -> str:
    return "S-" + (re.sub(r"[^\w]+", "-", name.lower(), flags=re.UNICODE).strip("-") or "theme")


def validate(overrides: Overrides, known_ids: set[str], where: str = "themes.yaml") -> None:
    """Raise OverrideError naming every unknown theme id."""
    known = known_ids | {slug_id(s.name) for s in [*overrides.split, *overrides.seed_themes]}
    unknown = sorted(overrides.referenced_ids() - known)
    if unknown:
        raise OverrideError(f"{where} names unknown theme ids: {', '.join(unknown)}")


def apply_merge_rename(
    themes: pd.DataFrame, assignments: pd.DataFrame, mentions: pd.DataFrame, o: Overrides
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Merged themes' verbatims move to `into`; renamed themes take the analyst's label."""
    target = {t: m.into for m in o.merge for t in m.themes}
    a = assignments.assign(theme_id=assignments["theme_id"].replace(target))
    m = mentions.assign(theme_id=mentions["theme_id"].replace(target))
    m = m.sort_values("confidence", ascending=False).drop_duplicates(["verbatim_id", "theme_id"])
    t = themes.copy()
    sizes = t.set_index("theme_id")["size"]
    for merge in o.merge:
        t.loc[t["theme_id"] == merge.into, "size"] = int(sizes.reindex(
            [merge.into, *merge.themes]).fillna(0).sum())  # fmt: skip
    t = t[~t["theme_id"].isin(target)]
    for theme_id, label in o.rename.items():
        t.loc[t["theme_id"] == theme_id, "label"] = label
    labels = t.set_index("theme_id")["label"]
    a["theme_label"] = a["theme_id"].map(labels).fillna(a["theme_label"])
    return t.reset_index(drop=True), a, m.sort_values(["verbatim_id", "theme_id"])


Vectors = Callable[[list[str]], np.ndarray]


def apply_seeds(
    themes: pd.DataFrame,
    assignments: pd.DataFrame,
    o: Overrides,
    doc_vectors: np.ndarray,
    theme_similarity: np.ndarray,
    embed: Vectors,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Move verbatims to split-out and seed themes by similarity to their seed phrases.

    Args:
        doc_vectors: unit embeddings of the assignments' verbatims, in the same order.
        theme_similarity: each verbatim's similarity to its current theme centre.
        embed: unit embeddings of phrases, in the verbatims' embedding space.
    """
    a, t = assignments.copy(), themes.copy()
    best = np.asarray(theme_similarity, dtype=float).copy()
    for spec, pinned in [*[(s, False) for s in o.split], *[(s, True) for s in o.seed_themes]]:
        centre = embed(spec.seeds).mean(axis=0)
        centre /= np.linalg.norm(centre) or 1.0
        sims = doc_vectors @ centre
        eligible = (
            a["theme_id"].eq(spec.source).to_numpy() if spec.source else np.ones(len(a), bool)
        )
        take = eligible & (sims >= spec.threshold) & (sims > best)
        theme_id = slug_id(spec.name)
        a.loc[take, ["theme_id", "theme_label", "confidence"]] = [theme_id, spec.name, 0.0]
        a.loc[take, "confidence"] = sims[take]
        best[take] = sims[take]
        if take.any() or pinned:
            t = _add_theme(t, theme_id, spec.name, int(take.sum()), spec.seeds)
    sizes = a["theme_id"].value_counts()
    t["size"] = t["theme_id"].map(sizes).fillna(0).astype(int)
    return t, a


def _add_theme(
    t: pd.DataFrame, theme_id: str, name: str, size: int, seeds: list[str]
) -> pd.DataFrame:
    row: dict[str, Any] = {c: "" for c in t.columns}
    row.update(theme_id=theme_id, label=name, parent_theme_id=UNCLASSIFIED, parent_label="",
               keywords=", ".join(seeds), size=size, language="", status="seeded", n_en=0,
               n_ru=0)  # fmt: skip
    t = t[t["theme_id"] != theme_id]
    return pd.concat([t, pd.DataFrame([row])], ignore_index=True)


def ignored(o: Overrides) -> set[str]:
    return set(o.ignore)


def apply_to_run(
    found: Discovery,
    verbatims: pd.DataFrame,
    settings: Settings,
    cache: EmbeddingCache,
    spec: Overrides,
    known_ids: set[str],
    embedders: dict[str, Embedder] | None = None,
) -> Discovery:
    """The analyst's themes.yaml applied to a run's tables (the store keeps the model's view).

    Raises:
        OverrideError: the file names theme ids that do not exist.
    """
    validate(spec, known_ids | set(found.themes["theme_id"]), str(settings.overrides_file))
    themes, assignments, mentions = apply_merge_rename(
        found.themes, found.assignments, found.mentions, spec
    )
    if spec.split or spec.seed_themes:
        themes, assignments = _seeds_per_group(themes, assignments, verbatims, settings, cache,
                                               spec, embedders, found.models,
                                               found.model_ids)  # fmt: skip
    themes = language_counts(themes, assignments, verbatims)
    return replace(found, themes=THEMES.conform(themes),
                   assignments=ASSIGNMENTS.conform(assignments),
                   mentions=MENTIONS.conform(mentions))  # fmt: skip


def language_counts(
    themes: pd.DataFrame, assignments: pd.DataFrame, verbatims: pd.DataFrame
) -> pd.DataFrame:
    """n_en and n_ru of each theme recounted from its primary verbatims (after merges, seeds)."""
    language = (
        assignments["verbatim_id"]
        .map(verbatims.drop_duplicates("verbatim_id").set_index("verbatim_id")["language"])
        .fillna("en")
    )  # as theming groups them
    counts = {name: assignments.loc[language.eq(name).to_numpy(), "theme_id"].value_counts()
              for name in ("en", "ru")}  # fmt: skip
    return themes.assign(
        n_en=themes["theme_id"].map(counts["en"]).fillna(0).astype(int),
        n_ru=themes["theme_id"].map(counts["ru"]).fillna(0).astype(int),
    )


def _seeds_per_group(
    themes: pd.DataFrame,
    assignments: pd.DataFrame,
    verbatims: pd.DataFrame,
    settings: Settings,
    cache: EmbeddingCache,
    spec: Overrides,
    embedders: dict[str, Embedder] | None,
    models: dict[str, ThemeModel],
    model_ids: dict[str, str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seed phrases work per language group, in that group's embedding space only (read as
    its model was fitted: whole texts or part by part, `theming.groups_of`)."""
    parts = []
    for group in groups_of(verbatims, settings, embedders, fitted=model_ids):
        group = group.in_space_of(models.get(group.name))
        rows = assignments[assignments["verbatim_id"].isin(group.frame["verbatim_id"])]
        if rows.empty:
            continue
        text = group.frame.set_index("verbatim_id")["text"]
        texts = [model_text(text[v]) for v in rows["verbatim_id"]]
        known = cache.known_texts(texts, group.embedder)  # part by part or joined too
        themes, part = apply_seeds(
            themes, rows, spec, np.vstack([known[t] for t in texts]),
            rows["confidence"].to_numpy(dtype=float), group.embedder.encode,
        )  # fmt: skip
        parts.append(part)
    out = pd.concat(parts, ignore_index=True) if parts else assignments
    themes["size"] = themes["theme_id"].map(out["theme_id"].value_counts()).fillna(0).astype(int)
    return themes, out
