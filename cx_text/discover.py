"""Theme discovery over a whole run: language groups, embedding with cache, one table out.

Each language group is embedded with the backend that suits it (a multilingual model themes all
languages together; otherwise Russian goes to the Russian backend and the rest to the default
model), fitted with its own `ThemeModel`, and the results are joined into one theme table with a
`language` column. Themes get ids T001, T002, ... by decreasing size.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from cx_text import overrides
from cx_text.clean import model_text, text_hash
from cx_text.embed import Embedder, embed_texts, is_multilingual, make_embedder
from cx_text.parallel import FanOut
from cx_text.registry import Candidate, rename_ids
from cx_text.schemas import ASSIGNMENTS, MENTIONS, THEMES, UNCLASSIFIED
from cx_text.settings import Settings
from cx_text.themes import OUTLIER, ThemeModel, nearest

CacheLookup = Callable[[str, list[str]], dict[str, np.ndarray]]
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")
# verbatims whose vectors are held in memory at once when a group is assigned block by block
# (a group larger than themes.max_fit_docs, and every nightly); results do not depend on it
BLOCK_ROWS = 50_000
MENTION_COLUMNS = ["verbatim_id", "topic", "sentence", "confidence"]


@dataclass
class NewEmbeddings:
    model_id: str
    hashes: list[str]
    vectors: np.ndarray  # float16, the precision the store keeps


@dataclass
class Discovery:
    assignments: pd.DataFrame
    mentions: pd.DataFrame
    themes: pd.DataFrame
    models: dict[str, ThemeModel]
    model_ids: dict[str, str]
    new_embeddings: list[NewEmbeddings] = field(default_factory=list)
    n_cached: int = 0
    embed_seconds: float = 0.0  # wall time spent embedding new texts
    languages: dict[str, str] = field(default_factory=dict)
    # theme id of each model topic, per group (what `ThemeModel.assign` numbers map to)
    topic_ids: dict[str, list[str]] = field(default_factory=dict)
    candidates: list[Candidate] = field(default_factory=list)
    # vectors embedded by this run (not yet in the store), by model id and text hash
    fresh: dict[str, dict[str, np.ndarray]] = field(default_factory=dict, repr=False)


def language_groups(verbatims: pd.DataFrame, settings: Settings) -> dict[str, str]:
    """Map each language group to the embedding model setting that themes it."""
    model = settings.embedding.model
    if is_multilingual(model):
        return {"all": model}
    languages = set(verbatims["language"].fillna("en"))
    groups = {"ru": settings.embedding.russian_model} if "ru" in languages else {}
    if languages - {"ru"}:
        groups["other"] = model
    return groups


def group_of(languages: pd.Series, groups: dict[str, str]) -> pd.Series:
    if "all" in groups:
        return pd.Series("all", index=languages.index)
    return languages.fillna("en").map(lambda lang: "ru" if lang == "ru" else "other")


def group_language(languages: pd.Series) -> str:
    """The language a group's themes are labelled with: its only language, or 'multi'."""
    counts = languages.fillna("en").value_counts()
    return (
        str(counts.index[0]) if len(counts) == 1 or counts.iloc[0] > 0.9 * counts.sum() else "multi"
    )


def split_sentences(text: str, min_chars: int) -> list[str]:
    """Sentences long enough to carry a theme of their own."""
    parts = [p.strip() for p in _SENTENCE_END.split(text) if p and p.strip()]
    return [p for p in parts if len(p) >= min_chars]


def _theme_model(settings: Settings, embedder: Embedder) -> ThemeModel:
    t = settings.themes
    return ThemeModel(
        min_cluster_size=t.min_cluster_size,
        n_neighbors=t.n_neighbors,
        n_components=t.n_components,
        random_state=t.random_state,
        outlier_threshold=t.outlier_threshold,
        max_parents=t.max_parents,
        n_keywords=t.n_keywords,
        n_examples=t.n_examples,
        embedder=embedder,
    )


def _embed(
    texts: list[str],
    embedder: Embedder,
    cache: CacheLookup,
    settings: Settings,
    out: Discovery,
    fan_out: FanOut | None = None,
    count: bool = True,
) -> np.ndarray:
    """Vectors of `texts`: from the store, from this run's earlier blocks, or embedded now.

    `count` False: the texts were counted before (a second pass over a group).
    """
    hashes = [text_hash(t) for t in texts]
    fresh = out.fresh.setdefault(embedder.model_id, {})
    cached = cache(embedder.model_id, hashes)
    cached.update((h, fresh[h]) for h in hashes if h in fresh and h not in cached)
    start = time.perf_counter()
    result = embed_texts(
        pd.Series(texts), pd.Series(hashes), embedder, cached, settings.embedding, fan_out
    )
    out.embed_seconds += time.perf_counter() - start
    if result.new_hashes:
        kept = np.asarray(result.new_vectors, dtype=np.float16)
        out.new_embeddings.append(NewEmbeddings(embedder.model_id, result.new_hashes, kept))
        fresh.update(zip(result.new_hashes, kept, strict=True))
    if count:
        out.n_cached += result.n_cached
    return result.vectors


def assign_chunk(
    embeddings: np.ndarray, centres: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest theme centre (OUTLIER below `threshold`) and its similarity: one chunk."""
    return nearest(np.asarray(embeddings, np.float32), centres, threshold)


def _assign(
    model: ThemeModel, vectors: np.ndarray, fan_out: FanOut | None
) -> tuple[np.ndarray, np.ndarray]:
    """`model.assign(vectors)`, chunk by chunk through `fan_out`."""
    parts = (fan_out or FanOut()).map_rows(
        "assign-chunk", assign_chunk, vectors, model.topic_embeddings_, model.outlier_threshold
    )
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def discover_themes(
    verbatims: pd.DataFrame,
    settings: Settings,
    cache: CacheLookup,
    embedders: dict[str, Embedder] | None = None,
    anchors: dict[str, np.ndarray] | None = None,
    fan_out: FanOut | None = None,
) -> Discovery:
    """Fit one ThemeModel per language group on the themed verbatims and build the tables.

    Args:
        verbatims: cleaned verbatims; non-answers are skipped.
        cache: (model_id, hashes) -> cached vectors, usually `Store.load_embeddings`.
        embedders: embedders by model setting (tests inject a tiny deterministic one).
        anchors: registered theme centres by embedding model id, for a warm-started re-fit.
        fan_out: runs the embedding (and sentence assignment) chunk by chunk; the clustering
            itself is one call in this process.
    """
    themed = verbatims[~verbatims["is_non_answer"].astype(bool)].reset_index(drop=True)
    groups = language_groups(themed, settings)
    group = group_of(themed["language"], groups)
    out = Discovery(ASSIGNMENTS.empty(), MENTIONS.empty(), THEMES.empty(), {}, {})
    parts = []
    for name, model_setting in groups.items():
        frame = themed[group == name].reset_index(drop=True)
        if frame.empty:
            continue
        embedder = (embedders or {}).get(model_setting) or make_embedder(
            model_setting, settings.embedding
        )
        docs = [model_text(t) for t in frame["text"]]
        fit_rows = fit_sample(frame, settings.themes.max_fit_docs, settings.themes.random_state)
        job = _GroupFit(frame, docs, embedder, cache, settings, out, fan_out,
                        (anchors or {}).get(embedder.model_id))  # fmt: skip
        if len(fit_rows) < len(frame):
            model, labels, confidence, mentions = job.on_sample(fit_rows)
        else:
            model, labels, confidence, mentions = job.on_all()
        out.models[name], out.model_ids[name] = model, embedder.model_id
        out.languages[name] = group_language(frame["language"])
        parts.append(Part(name, frame, model, mentions, labels, confidence))
    return _combine(parts, out)


@dataclass
class _GroupFit:
    """Fitting one language group's ThemeModel and theming all its documents and sentences."""

    frame: pd.DataFrame
    docs: list[str]
    embedder: Embedder
    cache: CacheLookup
    settings: Settings
    out: Discovery
    fan_out: FanOut | None
    anchors: np.ndarray | None

    def _fit(self, vectors: np.ndarray, rows: np.ndarray | None = None) -> ThemeModel:
        docs = self.docs if rows is None else [self.docs[i] for i in rows]
        return _theme_model(self.settings, self.embedder).fit(
            vectors, docs, self.anchors, self.settings.themes.match_threshold
        )

    def on_all(self) -> tuple[ThemeModel, np.ndarray, np.ndarray, pd.DataFrame]:
        """Fit on every document; the sentences (for mentions) are embedded meanwhile on the
        core the mostly single-threaded clustering leaves idle (`FanOut.alongside`)."""
        vectors = _embed(self.docs, self.embedder, self.cache, self.settings, self.out,
                         self.fan_out)  # fmt: skip
        sentences = sentence_rows(self.frame, self.settings)
        sentence_vectors = (self.fan_out or FanOut()).alongside(
            _embed, [model_text(t) for t in sentences["sentence"]], self.embedder, self.cache,
            self.settings, self.out, self.fan_out,
        )  # fmt: skip
        model = self._fit(vectors)
        mentions = _sentence_themes(sentences, model, sentence_vectors.result(), self.fan_out)
        return model, model.labels_, model.confidence_, mentions

    def on_sample(
        self, rows: np.ndarray
    ) -> tuple[ThemeModel, np.ndarray, np.ndarray, pd.DataFrame]:
        """Fit on the documents at `rows`: every document is embedded (or found cached) block
        by block keeping only the sample's vectors, then assigned block by block to its nearest
        theme centre, which for the sample is exactly its fit-time theme (ThemeModel.assign)."""
        args = (self.embedder, self.cache, self.settings, self.out, self.fan_out)
        model = self._fit(_sample_vectors(self.docs, rows, *args), rows)
        labels, confidence, mentions = _assign_blocks(self.frame, self.docs, model, *args,
                                                      count=False)  # fmt: skip
        return model, labels, confidence, mentions


@dataclass
class Part:
    """One language group's fitted model and the themes of all its documents."""

    name: str
    frame: pd.DataFrame
    model: ThemeModel
    mentions: pd.DataFrame
    labels: np.ndarray  # model topic per document of `frame` (OUTLIER = unclassified)
    confidence: np.ndarray


def _blocks(n: int) -> list[slice]:
    return [slice(start, min(start + BLOCK_ROWS, n)) for start in range(0, n, BLOCK_ROWS)]


def _sample_vectors(
    docs: list[str],
    rows: np.ndarray,
    embedder: Embedder,
    cache: CacheLookup,
    settings: Settings,
    out: Discovery,
    fan_out: FanOut | None,
) -> np.ndarray:
    """Vectors of `docs[rows]`, while every document is embedded (or found cached) in blocks."""
    kept = []
    for block in _blocks(len(docs)):
        vectors = _embed(docs[block], embedder, cache, settings, out, fan_out)
        inside = rows[(rows >= block.start) & (rows < block.stop)]
        kept.append(vectors[inside - block.start])
    return np.concatenate(kept)


def _assign_blocks(
    frame: pd.DataFrame,
    docs: list[str],
    model: ThemeModel,
    embedder: Embedder,
    cache: CacheLookup,
    settings: Settings,
    out: Discovery,
    fan_out: FanOut | None,
    count: bool = True,
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Nearest theme of every document and its sentences, BLOCK_ROWS verbatims at a time.

    Returns (labels, confidence, sentence mentions); the same as one pass over all rows.
    """
    labels, confidence = [np.zeros(0, int)], [np.zeros(0, np.float32)]
    mentions = [pd.DataFrame(columns=MENTION_COLUMNS)]
    for block in _blocks(len(frame)):
        vectors = _embed(docs[block], embedder, cache, settings, out, fan_out, count)
        topics, sims = _assign(model, vectors, fan_out)
        del vectors
        labels.append(topics)
        confidence.append(sims)
        mentions.append(_mentions(frame.iloc[block], model, embedder, cache, settings, out,
                                  fan_out))  # fmt: skip
    return (np.concatenate(labels), np.concatenate(confidence),
            pd.concat(mentions, ignore_index=True))  # fmt: skip


def fit_sample(frame: pd.DataFrame, max_fit_docs: int | None, seed: int) -> np.ndarray:
    """Row positions a ThemeModel is fitted on: all rows, or a seeded sample of `max_fit_docs`.

    The sample is stratified by language and ISO week of `created_at` (each stratum keeps its
    share of the corpus, rounded), so a week or a language is never left out of a re-fit.
    """
    n = len(frame)
    if max_fit_docs is None or n <= max_fit_docs:
        return np.arange(n)
    created = pd.to_datetime(frame["created_at"], errors="coerce")
    week = created.dt.strftime("%G-%V").fillna("")
    strata = frame["language"].fillna("").astype(str).to_numpy() + "|" + week.to_numpy()
    rng = np.random.default_rng(seed)
    share = max_fit_docs / n
    chosen = []
    for rows in pd.Series(np.arange(n)).groupby(strata, sort=True).indices.values():
        take = max(1, round(len(rows) * share))
        chosen.append(rng.choice(rows, size=min(take, len(rows)), replace=False))
    return np.sort(np.concatenate(chosen))


def sentence_rows(frame: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """verbatim_id and sentence of each sentence of the multi-sentence verbatims in `frame`."""
    rows = [
        (vid, sentence)
        for vid, text in zip(frame["verbatim_id"], frame["text"], strict=True)
        for sentence in (
            split_sentences(text, settings.themes.sentence_min_chars)
            if settings.themes.split_sentences
            else []
        )
    ]
    sentences = pd.DataFrame(rows, columns=["verbatim_id", "sentence"])
    multi = sentences.groupby("verbatim_id")["sentence"].transform("size") > 1
    return sentences[multi].reset_index(drop=True)


def _sentence_themes(
    sentences: pd.DataFrame, model: ThemeModel, vectors: np.ndarray, fan_out: FanOut | None
) -> pd.DataFrame:
    """Sentence-level themes (model-local theme numbers) of `sentence_rows` and their vectors."""
    if sentences.empty:
        return pd.DataFrame(columns=MENTION_COLUMNS)
    topics, sims = _assign(model, vectors, fan_out)
    return sentences.assign(topic=topics, confidence=sims)[lambda f: f["topic"] != OUTLIER]


def _mentions(
    frame: pd.DataFrame,
    model: ThemeModel,
    embedder: Embedder,
    cache: CacheLookup,
    settings: Settings,
    out: Discovery,
    fan_out: FanOut | None = None,
) -> pd.DataFrame:
    """Sentence-level themes of multi-sentence verbatims (model-local theme numbers)."""
    sentences = sentence_rows(frame, settings)
    if sentences.empty:
        return pd.DataFrame(columns=MENTION_COLUMNS)
    texts = [model_text(s) for s in sentences["sentence"]]
    vectors = _embed(texts, embedder, cache, settings, out, fan_out)
    return _sentence_themes(sentences, model, vectors, fan_out)


def _combine(parts: list[Part], out: Discovery) -> Discovery:
    tables = []
    for part in parts:
        sizes = np.bincount(part.labels[part.labels != OUTLIER], minlength=len(part.model.themes_))
        tables.append(part.model.themes_.assign(group=part.name, size=sizes))
    sized = dict(zip([part.name for part in parts], tables, strict=True))
    if not tables:
        return out
    themes = pd.concat(tables, ignore_index=True)
    themes = themes.sort_values(["size", "group", "topic"], ascending=[False, True, True])
    themes["theme_id"] = [f"T{i:03d}" for i in range(1, len(themes) + 1)]
    parents = themes[["group", "parent"]].drop_duplicates().reset_index(drop=True)
    parents["parent_theme_id"] = [f"P{i:02d}" for i in range(1, len(parents) + 1)]
    themes = themes.merge(parents, on=["group", "parent"])
    ids = {(g, t): tid for g, t, tid in zip(themes["group"], themes["topic"], themes["theme_id"],
                                            strict=True)}  # fmt: skip
    assignments, mentions = [], []
    for part in parts:
        name, frame, model = part.name, part.frame, part.model
        out.topic_ids[name] = [ids[(name, t)] for t in range(len(model.topic_embeddings_))]
        doc_ids = resolve_ids(part.labels, out.topic_ids[name])
        assignments.append(_assignment_rows(frame, doc_ids, part.confidence, themes))
        mentions.append(_mention_rows(frame, doc_ids, part.confidence, part.mentions,
                                      out.topic_ids[name]))  # fmt: skip
        out.candidates.extend(_candidates(name, model, sized[name], ids, out))
    themes["group"] = themes["group"].map(out.languages)
    out.themes = _theme_rows(themes, parts)
    out.assignments = ASSIGNMENTS.conform(pd.concat(assignments, ignore_index=True))
    out.mentions = MENTIONS.conform(pd.concat(mentions, ignore_index=True))
    return out


def resolve_ids(labels: np.ndarray, topic_ids: list[str]) -> list[str]:
    """Theme id of each model topic number; OUTLIER becomes 'unclassified'."""
    return [topic_ids[t] if t != OUTLIER else UNCLASSIFIED for t in labels]


@dataclass
class SavedThemes:
    """A fitted theme set as saved under models/current: what nightly assignment needs."""

    models: dict[str, ThemeModel]
    topic_ids: dict[str, list[str]]
    model_ids: dict[str, str]
    themes: pd.DataFrame


def assign_themes(
    verbatims: pd.DataFrame,
    settings: Settings,
    cache: CacheLookup,
    saved: SavedThemes,
    embedders: dict[str, Embedder] | None = None,
    fan_out: FanOut | None = None,
) -> Discovery:
    """Assign verbatims to a saved theme set without re-fitting (the nightly path).

    `fan_out` runs the embedding and the assignment chunk by chunk (one task per chunk in the
    Prefect flows); the result does not depend on the chunking.

    Raises:
        ValueError: the configured embedding model differs from the one the themes were fit with.
    """
    themed = verbatims[~verbatims["is_non_answer"].astype(bool)].reset_index(drop=True)
    groups = language_groups(themed, settings)
    group = group_of(themed["language"], groups)
    out = Discovery(ASSIGNMENTS.empty(), MENTIONS.empty(), saved.themes, saved.models,
                    dict(saved.model_ids), topic_ids=dict(saved.topic_ids))  # fmt: skip
    assignments, mentions = [ASSIGNMENTS.empty()], [MENTIONS.empty()]
    for name, model_setting in groups.items():
        frame = themed[group == name].reset_index(drop=True)
        if frame.empty:
            continue
        if name not in saved.models:
            unknown = np.full(len(frame), OUTLIER)
            assignments.append(_assignment_rows(frame, resolve_ids(unknown, []),
                                                np.zeros(len(frame)), saved.themes))  # fmt: skip
            continue
        embedder = (embedders or {}).get(model_setting) or make_embedder(
            model_setting, settings.embedding
        )
        if embedder.model_id != saved.model_ids[name]:
            raise ValueError(
                f"themes for '{name}' were fitted with {saved.model_ids[name]}, the settings "
                f"now say {embedder.model_id}: re-fit with `cx-text run` or the weekly flow"
            )
        model, topic_ids = saved.models[name], saved.topic_ids[name]
        texts = [model_text(t) for t in frame["text"]]
        labels, confidence, sentences = _assign_blocks(frame, texts, model, embedder, cache,
                                                       settings, out, fan_out)  # fmt: skip
        doc_ids = resolve_ids(labels, topic_ids)
        assignments.append(_assignment_rows(frame, doc_ids, confidence, saved.themes))
        mentions.append(_mention_rows(frame, doc_ids, confidence, sentences, topic_ids))
    out.assignments = ASSIGNMENTS.conform(pd.concat(assignments, ignore_index=True))
    out.mentions = MENTIONS.conform(pd.concat(mentions, ignore_index=True))
    return out


def _candidates(
    name: str, model: ThemeModel, table: pd.DataFrame, ids: dict, out: Discovery
) -> list[Candidate]:
    """Registry candidates of one group; `table` is its theme table sized on all documents."""
    return [
        Candidate(ids[(name, int(row.topic))], str(row.label), int(row.size),
                  out.model_ids[name], out.languages[name], str(row.keywords),
                  model.topic_embeddings_[int(row.topic)])
        for row in table.itertuples()
    ]  # fmt: skip


def apply_ids(found: Discovery, mapping: dict[str, str], status: dict[str, str]) -> Discovery:
    """Replace run-local theme ids by registry ids everywhere and set each theme's status."""
    themes = rename_ids(found.themes, mapping)
    themes["status"] = [status.get(str(t), "") for t in themes["theme_id"]]
    order = themes["theme_id"].eq(UNCLASSIFIED)
    themes = pd.concat([themes[~order].sort_values(["size", "theme_id"], ascending=[False, True]),
                        themes[order]])  # fmt: skip
    found.themes = THEMES.conform(themes)
    found.assignments = rename_ids(found.assignments, mapping)
    found.mentions = rename_ids(found.mentions, mapping)
    found.topic_ids = {g: [mapping.get(t, t) for t in ids] for g, ids in found.topic_ids.items()}
    found.candidates = [replace(c, local_id=mapping.get(c.local_id, c.local_id))
                        for c in found.candidates]  # fmt: skip
    return found


def _assignment_rows(
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


def _mention_rows(
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


def _theme_rows(themes: pd.DataFrame, parts: list[Part]) -> pd.DataFrame:
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
    n_unclassified = sum(int(np.sum(part.labels == OUTLIER)) for part in parts)
    if n_unclassified:
        bucket = pd.DataFrame([[UNCLASSIFIED, "Unclassified", UNCLASSIFIED, "Unclassified", "",
                                n_unclassified, "all", "", ""]], columns=rows.columns)  # fmt: skip
        rows = pd.concat([rows, bucket], ignore_index=True) if len(rows) else bucket
    return THEMES.conform(rows)


def apply_overrides(
    found: Discovery,
    verbatims: pd.DataFrame,
    settings: Settings,
    cache: CacheLookup,
    spec: overrides.Overrides,
    known_ids: set[str],
    embedders: dict[str, Embedder] | None = None,
) -> Discovery:
    """The analyst's themes.yaml applied to a run's tables (the store keeps the model's view).

    Raises:
        overrides.OverrideError: the file names theme ids that do not exist.
    """
    overrides.validate(
        spec, known_ids | set(found.themes["theme_id"]), str(settings.overrides_file)
    )
    themes, assignments, mentions = overrides.apply_merge_rename(
        found.themes, found.assignments, found.mentions, spec
    )
    if spec.split or spec.seed_themes:
        themes, assignments = _apply_seeds(themes, assignments, verbatims, settings, cache, spec,
                                           found, embedders)  # fmt: skip
    return replace(found, themes=THEMES.conform(themes),
                   assignments=ASSIGNMENTS.conform(assignments),
                   mentions=MENTIONS.conform(mentions))  # fmt: skip


def _apply_seeds(
    themes: pd.DataFrame,
    assignments: pd.DataFrame,
    verbatims: pd.DataFrame,
    settings: Settings,
    cache: CacheLookup,
    spec: overrides.Overrides,
    found: Discovery,
    embedders: dict[str, Embedder] | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seed phrases work per language group, in that group's embedding space."""
    text = verbatims.set_index("verbatim_id")["text"]
    language = verbatims.set_index("verbatim_id")["language"]
    groups = language_groups(verbatims, settings)
    group = group_of(assignments["verbatim_id"].map(language), groups)
    fresh = {h: v for e in found.new_embeddings for h, v in zip(e.hashes, e.vectors, strict=True)}
    parts = []
    for name, model_setting in groups.items():
        rows = assignments[group.to_numpy() == name]
        if rows.empty:
            continue
        embedder = (embedders or {}).get(model_setting) or make_embedder(
            model_setting, settings.embedding
        )
        hashes = [text_hash(model_text(text[v])) for v in rows["verbatim_id"]]
        known = {**cache(embedder.model_id, hashes), **fresh}
        vectors = np.vstack([known[h] for h in hashes])
        themes, part = overrides.apply_seeds(
            themes, rows, spec, vectors, rows["confidence"].to_numpy(dtype=float),
            embedder.encode,
        )  # fmt: skip
        parts.append(part)
    out = pd.concat(parts, ignore_index=True) if parts else assignments
    themes["size"] = themes["theme_id"].map(out["theme_id"].value_counts()).fillna(0).astype(int)
    return themes, out
