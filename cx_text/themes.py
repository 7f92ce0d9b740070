"""Themes: BERTopic with every sub-model injected, refined by centroids, with parent groups.

`ThemeModel.fit` runs BERTopic (UMAP with a fixed seed -> HDBSCAN -> lemma CountVectorizer ->
c-TF-IDF -> MMR keywords) on precomputed embeddings, then refines the clusters in the full
embedding space: every verbatim goes to its nearest theme centre when it is similar enough
(cosine >= `outlier_threshold`), else to `unclassified`. Because the final assignment is "nearest
centre", `assign` on a saved model reproduces the fit-time themes exactly.
"""

from __future__ import annotations

import copy
import json
import logging
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cx_text import umap_setup
from cx_text.lemmas import LemmaTokenizer, content_words, label_phrase
from cx_text.settings import ThemeSettings

log = logging.getLogger("cx_text")
# the `[themes]` settings a ThemeModel takes: declared (with defaults and bounds) once, there
PARAMS = ("min_cluster_size", "n_neighbors", "n_components", "random_state", "outlier_threshold",
          "max_parents", "n_keywords", "n_examples", "merge_threshold")  # fmt: skip
_DEFAULTS = ThemeSettings()

OUTLIER = -1
_REFINE_ITERATIONS = 10
_FORMAT_VERSION = 1
_CANDIDATES = 30  # c-TF-IDF keyword candidates per theme that MMR chooses from
_DIVERSITY = 0.3
_BLOCK = 65_536  # rows per block in `nearest`
# below this many points UMAP finds exact neighbours itself; from it on it would run NN-descent,
# unless the exact search stays cheap: n^2 x dims at most EXACT_NEIGHBOURS_WORK (about 36k
# MiniLM vectors, 19k navec ones); beyond that NN-descent's fixed compile cost pays off
UMAP_EXACT_BELOW = 4096
EXACT_NEIGHBOURS_WORK = 5e11
MIN_CLUSTER_DIVISOR = 170  # documents per unit of min cluster size (sentence encoders)
# HDBSCAN's excess-of-mass selection may pick the trunk of its cluster tree, most of the corpus,
# as one cluster: on the airline export (14,260 tweets, MiniLM) 5 UMAP seeds of 10 gave 2 themes,
# one of 67% of the tweets, where the other 5 gave 44-50. From MAX_CLUSTER_FROM fitted documents
# no cluster may hold more than MAX_CLUSTER_SHARE of them (HDBSCAN's `max_cluster_size`): such
# a node's sub-clusters are selected instead, which changes nothing where no such node would
# have been picked. Below it, one theme holding most answers is plausible (a short survey).
MAX_CLUSTER_SHARE = 0.5
MAX_CLUSTER_FROM = 1_000


def scaled_min_cluster_size(n_docs: int, divisor: float = MIN_CLUSTER_DIVISOR) -> int:
    """HDBSCAN min cluster size that grows with the corpus: ~n/divisor, at least 5, at most 60.

    170 suits sentence encoders (banking77: best NMI / ARI between n/250 and n/170); a noisier
    backend declares a smaller divisor as `min_cluster_divisor` (navec: 100), see `ThemeModel`.
    """
    return int(min(60, max(5, round(n_docs / divisor))))


def clusterer(n_docs: int, min_cluster_size: int) -> Any:
    """The HDBSCAN a fit on `n_docs` documents runs on their UMAP coordinates.

    A small `min_samples`: tight clusters that `refine` then completes in the full embedding
    space (measured in bench/theme_quality.py); no cluster of over MAX_CLUSTER_SHARE of the
    documents from MAX_CLUSTER_FROM of them.
    """
    from hdbscan import HDBSCAN

    cap = int(MAX_CLUSTER_SHARE * n_docs) if n_docs >= MAX_CLUSTER_FROM else 0
    return HDBSCAN(min_cluster_size=min_cluster_size, min_samples=min(5, min_cluster_size),
                   metric="euclidean", cluster_selection_method="eom",
                   max_cluster_size=cap)  # fmt: skip


def make_vectorizer(n_docs: int) -> Any:
    """CountVectorizer over spaCy / pymorphy3 lemmas, unigrams and bigrams, Cyrillic kept.

    BERTopic fits it on one joined document per theme, so `min_df` counts themes, not
    verbatims: it must stay 1 or words that belong to a single theme vanish.
    """
    from sklearn.feature_extraction.text import CountVectorizer

    return CountVectorizer(
        tokenizer=LemmaTokenizer(),
        lowercase=False,
        token_pattern=None,
        ngram_range=(1, 2),
        min_df=1,
    )


# BERTopic warns about two things cx-text does on purpose, on every run and through a handler
# of its own (so even `--quiet` printed them): the topics are set from cx-text's refined
# clustering (`update_topics(topics=...)`, no topic reduction follows), and a model is saved
# without its embedding model (the embedder's model id is saved beside it). Its other warnings
# still show.
EXPECTED_BERTOPIC_WARNINGS = (
    "Using a custom list of topic assignments",
    "without explicitly defining an embedding model",
)


class _ExpectedWarnings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(expected in message for expected in EXPECTED_BERTOPIC_WARNINGS)


def _import_bertopic() -> None:
    """Import BERTopic without the transformers import of its LLM representations (about 5 s;
    cx-text uses none of them): `bert.without_transformers`. Its warnings about what cx-text
    does on purpose are filtered out (`EXPECTED_BERTOPIC_WARNINGS`)."""
    from cx_text.bert import without_transformers

    with without_transformers():
        import bertopic  # noqa: F401
    bertopic_log = logging.getLogger("BERTopic")
    if not any(isinstance(f, _ExpectedWarnings) for f in bertopic_log.filters):
        bertopic_log.addFilter(_ExpectedWarnings())


class _EmbedderBackend:
    """Adapts a cx_text embedder to BERTopic's backend interface (used for keyword MMR)."""

    def __new__(cls, embedder: Any) -> Any:
        _import_bertopic()
        from bertopic.backend import BaseEmbedder

        class Backend(BaseEmbedder):
            def __init__(self, inner: Any) -> None:
                super().__init__()
                self.inner = inner

            def embed(self, documents: list[str], verbose: bool = False) -> np.ndarray:
                return self.inner.encode(list(documents), show_progress_bar=False)

        return Backend(embedder)


def normalise_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms == 0, 1, norms)).astype(np.float32)


def centroids(embeddings: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Unit-length mean embedding of each label 0..k-1."""
    out = np.zeros((k, embeddings.shape[1]), dtype=np.float32)
    for topic in range(k):
        members = embeddings[labels == topic]
        if len(members):
            out[topic] = members.mean(axis=0)
    return normalise_rows(out)


def nearest(
    embeddings: np.ndarray, centres: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centre by cosine; below `threshold` the label is OUTLIER. Returns (labels, sims).

    Rows are processed in blocks of `_BLOCK`, so a million vectors never need a normalised copy
    and a similarity matrix of their own size at once.
    """
    if len(centres) == 0:
        return np.full(len(embeddings), OUTLIER), np.zeros(len(embeddings), dtype=np.float32)
    labels = np.empty(len(embeddings), dtype=int)
    score = np.empty(len(embeddings), dtype=np.float32)
    for start in range(0, len(embeddings), _BLOCK):
        sims = normalise_rows(embeddings[start : start + _BLOCK]) @ centres.T
        best = sims.argmax(axis=1)
        labels[start : start + len(best)] = best
        score[start : start + len(best)] = sims[np.arange(len(best)), best]
    return np.where(score >= threshold, labels, OUTLIER), score


def exact_neighbours(
    embeddings: np.ndarray, k: int, block: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """The `k` nearest neighbours of every row by cosine distance, exactly, in UMAP's format.

    Returns (indices, distances), each (n, k); a row's first neighbour is itself at distance 0
    (also when it has exact duplicates). One matrix product per block of rows: at 13k
    MiniLM vectors ~2 s on 2 cores, against ~25 s for UMAP's default NN-descent, most of which
    is numba compiling pynndescent in every new process. The k largest of each row are picked
    by `torch.topk` on both cores (numpy's `argpartition` took 2.9 of the 3.8 s at 14k rows on
    one core; 2.2 s in all with topk), then ordered by similarity, ties to the lower row number.
    """
    import torch

    unit = normalise_rows(np.asarray(embeddings, dtype=np.float32))
    n = len(unit)
    k = min(k, n)
    indices = np.empty((n, k), dtype=np.int64)
    distances = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, block):
        sims = unit[start : start + block] @ unit.T
        rows = np.arange(len(sims))
        sims[rows, start + rows] = np.inf  # itself first
        top = (
            torch.topk(torch.from_numpy(sims), k, dim=1, sorted=False).indices.numpy()
            if k < n
            else np.tile(np.arange(n), (len(sims), 1))
        )
        top_sims = np.take_along_axis(sims, top, axis=1)
        order = np.lexsort((top, -top_sims), axis=1)
        indices[start : start + len(sims)] = np.take_along_axis(top, order, axis=1)
        nearest_sims = np.take_along_axis(top_sims, order, axis=1)
        nearest_sims[:, 0] = 1.0
        distances[start : start + len(sims)] = np.clip(1.0 - nearest_sims, 0.0, 2.0)
    return indices, distances


def relabel_by_size(labels: np.ndarray, min_size: int) -> tuple[np.ndarray, int]:
    """Renumber labels 0..k-1 by decreasing size; labels smaller than `min_size` become outliers."""
    values, counts = np.unique(labels[labels != OUTLIER], return_counts=True)
    order = [v for v, c in sorted(zip(values, counts, strict=True), key=lambda x: (-x[1], x[0]))]
    order = [v for v in order if np.sum(labels == v) >= min_size]
    mapping = {old: new for new, old in enumerate(order)}
    relabelled = np.array([mapping.get(v, OUTLIER) for v in labels], dtype=int)
    return relabelled, len(order)


def refine(
    embeddings: np.ndarray,
    labels: np.ndarray,
    threshold: float,
    min_size: int,
    iterations: int = _REFINE_ITERATIONS,
    merge_threshold: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spherical k-means started from the HDBSCAN clusters, in the full embedding space.

    With `iterations` 0 the centres stay the centroids of the HDBSCAN clusters (their dense
    cores) and every document just goes to the nearest one. Then clusters whose centres are at
    least `merge_threshold` similar are one theme (`merge_close`: HDBSCAN splits a tight group
    of near-identical texts, a template with a number in it, into several). Either way a centre
    left with fewer than `min_size` documents is dropped and its documents go to the next
    nearest.

    Returns (labels, centres, similarity to own centre), themes numbered by decreasing size.
    The returned labels are exactly `nearest(embeddings, centres, threshold)`, which is what
    `assign` computes later.
    """
    unit = normalise_rows(embeddings)
    labels, k = relabel_by_size(labels, min_size)
    centres = centroids(unit, labels, k)
    for _ in range(iterations):
        new_labels, _ = nearest(unit, centres, threshold)
        new_labels, k = relabel_by_size(new_labels, min_size)
        centres = centroids(unit, new_labels, k)
        if np.array_equal(new_labels, labels):
            break
        labels = new_labels
    return _settle(unit, merge_close(unit, labels, centres, merge_threshold), threshold, min_size)


def merge_close(
    unit: np.ndarray, labels: np.ndarray, centres: np.ndarray, threshold: float
) -> np.ndarray:
    """The centres of `labels`' clusters with every chain of centres at least `threshold`
    similar (cosine) joined into one cluster (single linkage), each the centroid of its
    members; the centres unchanged when no pair is that similar."""
    if len(centres) < 2 or threshold >= 1.0:
        return centres
    from scipy.sparse.csgraph import connected_components

    close = centres @ centres.T >= threshold
    if close.sum() == len(centres):  # each centre close to itself only
        return centres
    _, merged = connected_components(close, directed=False)
    joined = np.where(labels == OUTLIER, OUTLIER, merged[np.maximum(labels, 0)])
    return centroids(unit, joined, int(merged.max()) + 1)


def _settle(
    unit: np.ndarray, centres: np.ndarray, threshold: float, min_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest-centre labels after dropping centres too few documents choose; sorted by size."""
    while True:
        final, sims = nearest(unit, centres, threshold)
        sizes = np.bincount(final[final != OUTLIER], minlength=len(centres))
        if len(centres) == 0:
            return final, centres, sims
        if sizes.min() >= min_size:
            break
        centres = centres[sizes >= min_size]
    order = np.argsort(-sizes, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    labels = np.where(final == OUTLIER, OUTLIER, rank[np.maximum(final, 0)])
    return labels, centres[order], sims


def select_keywords(
    candidates: list[list[str]], centres: np.ndarray, embedder: Any, n: int
) -> list[list[str]]:
    """Distinct keywords per theme by maximal marginal relevance to the theme centre.

    All candidate words are embedded in one batch; without an embedder (or when the word
    vectors live in another space than the centres) the c-TF-IDF order is kept.
    """
    words = sorted({w for c in candidates for w in c})
    if embedder is None or not words:
        return [c[:n] for c in candidates]
    _import_bertopic()
    from bertopic.representation._mmr import mmr

    vectors = dict(zip(words, embedder.encode(words), strict=True))
    if next(iter(vectors.values())).shape[0] != centres.shape[1]:
        return [c[:n] for c in candidates]
    return [
        mmr(centre.reshape(1, -1), np.vstack([vectors[w] for w in c]), c, _DIVERSITY, n)
        if len(c) > n
        else c
        for centre, c in zip(centres, candidates, strict=True)
    ]


def anchored_labels(
    embeddings: np.ndarray,
    labels: np.ndarray,
    anchors: np.ndarray,
    match_threshold: float,
    outlier_threshold: float,
) -> np.ndarray:
    """Start labels from known theme centres plus the new clusters no anchor explains."""
    unit = normalise_rows(embeddings)
    relabelled, k = relabel_by_size(labels, 1)
    found = centroids(unit, relabelled, k)
    explained = (found @ normalise_rows(anchors).T).max(axis=1) >= match_threshold if k else []
    fresh = found[~np.asarray(explained, dtype=bool)] if k else found
    start, _ = nearest(unit, np.vstack([normalise_rows(anchors), fresh]), outlier_threshold)
    return start


Surfaces = dict[str, Counter[str]]


def phrase_surfaces(docs: Iterable[str]) -> Surfaces:
    """How each keyword (a lemma unigram or bigram of content words) is worded in `docs`.

    Keywords are lemmas ("помятый коробка", "box arrive"); a label reads better in the words
    customers used ("помятой коробке" -> "помятая коробка", "box arrived").
    """
    out: Surfaces = defaultdict(Counter)
    for doc in docs:
        words = content_words(doc)
        for n in (1, 2):
            for i in range(len(words) - n + 1):
                gram = words[i : i + n]
                out[" ".join(w.lemma for w in gram)][" ".join(w.form for w in gram)] += 1
    return out


def make_label(keywords: list[str], surfaces: Surfaces | None = None, max_words: int = 4) -> str:
    """A 1-4 word label from ranked keywords: the first one or two that read as phrases.

    Keywords that repeat a used word, or that `cx_text.lemmas.label_phrase` refuses (verb-first
    or dangling fragments such as "оспаривать платеж", "код не", "deliver time"), are skipped;
    each kept keyword is shown in its most frequent wording in `surfaces`. When no keyword
    qualifies, the first keyword is used as it is.
    """
    used: set[str] = set()
    parts: list[str] = []
    for keyword in keywords:
        words = keyword.split()
        if used & set(words) or len(used) + len(words) > max_words:
            continue
        wordings = surfaces.get(keyword) if surfaces else None
        phrase = label_phrase(keyword, wordings.most_common(1)[0][0] if wordings else None)
        if phrase is None:
            continue
        parts.append(phrase)
        used.update(words)
        if len(used) >= 3 or len(parts) == 2:
            break
    label = ", ".join(parts) if parts else (keywords[0] if keywords else "misc")
    return label[:1].upper() + label[1:]


def n_parent_groups(n_topics: int, max_parents: int) -> int:
    """About one parent per three themes, between 1 and `max_parents`."""
    return int(min(max_parents, max(1, math.ceil(n_topics / 3))))


def parent_groups(centres: np.ndarray, sizes: np.ndarray, max_parents: int) -> np.ndarray:
    """Ward grouping of the (unit-length) theme centres into parent groups.

    Average linkage chains most themes into one giant parent; Ward keeps groups balanced
    (parent ARI on airline complaints 0.17 against 0.07, bench/theme_quality.py).
    """
    k = len(centres)
    n_parents = n_parent_groups(k, max_parents)
    if n_parents >= k:
        return np.arange(k)
    from sklearn.cluster import AgglomerativeClustering

    groups = AgglomerativeClustering(n_clusters=n_parents, linkage="ward").fit_predict(centres)
    # number parents by total size, largest first
    totals = pd.Series(sizes).groupby(groups).sum().sort_values(ascending=False, kind="stable")
    mapping = {old: new for new, old in enumerate(totals.index)}
    return np.array([mapping[g] for g in groups])


def central_examples(
    docs: list[str], labels: np.ndarray, sims: np.ndarray, topic: int, n: int
) -> list[str]:
    """The `n` most central distinct texts of a theme (highest similarity to its centre)."""
    idx = np.flatnonzero(labels == topic)
    seen: set[str] = set()
    out: list[str] = []
    for i in idx[np.argsort(-sims[idx], kind="stable")]:
        key = docs[i].casefold()
        if key not in seen:
            seen.add(key)
            out.append(docs[i])
        if len(out) == n:
            break
    return out


class ThemeModel:
    """Discovers themes in one language group and assigns new verbatims to them.

    Args:
        min_cluster_size: HDBSCAN's min cluster size; None scales it with the corpus: n/170, or
            n/`embedder.min_cluster_divisor` when the embedder declares one (navec: n/100).
        n_neighbors, n_components: UMAP settings.
        random_state: UMAP seed; same data + same settings = same themes.
        outlier_threshold: minimum cosine similarity to a theme centre; below it a verbatim is
            `unclassified`.
        max_parents: most parent groups.
        n_keywords, n_examples: keywords and central examples kept per theme.
        embedder: the embedding backend, used by BERTopic's MMR to pick distinct keywords. A
            backend may declare how its space clusters best: `min_cluster_divisor` (see
            `min_cluster_size`) and `refine_iterations`, the k-means steps after HDBSCAN
            (default 10; navec declares 0: in a noisy static-vector space the centres drift
            from the dense cores HDBSCAN found and generic themes swallow specific ones).

    Attributes (after fit):
        labels_: theme number per fitted document (-1 = unclassified).
        confidence_: cosine similarity of each document to its theme centre.
        topic_embeddings_: unit-length theme centres, one row per theme.
        themes_: one row per theme: topic, label, keywords, size, examples, parent, parent_label.
    """

    min_cluster_size: int | None
    n_neighbors: int
    n_components: int
    random_state: int
    outlier_threshold: float
    max_parents: int
    n_keywords: int
    n_examples: int
    merge_threshold: float

    def __init__(self, embedder: Any = None, **params: Any) -> None:
        unknown = set(params) - set(PARAMS)
        if unknown:
            raise TypeError(f"ThemeModel got unknown parameters {sorted(unknown)}")
        for name in PARAMS:  # stored as given; checked against ThemeSettings' bounds in fit
            setattr(self, name, params.get(name, getattr(_DEFAULTS, name)))
        self.embedder = embedder
        # the fitted centre of the embedder's space (`embed.JointEmbedder`), saved with the model
        # so nightly assignment embeds new texts into the same space; None for other embedders
        self.space_centre_: np.ndarray | None = getattr(embedder, "centre", None)

    @classmethod
    def from_settings(cls, settings: ThemeSettings, embedder: Any = None) -> ThemeModel:
        """A model with the hyperparameters of a `[themes]` settings section."""
        return cls(embedder=embedder, **{name: getattr(settings, name) for name in PARAMS})

    def _params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in PARAMS}

    def _check_params(self) -> None:
        """The same bounds as the settings file (raises pydantic's ValidationError)."""
        ThemeSettings.model_validate(self._params())

    def _min_cluster_size(self, n_docs: int) -> int:
        """The setting, else scaled with the corpus by the embedder's divisor (if it has one)."""
        if self.min_cluster_size:
            return self.min_cluster_size
        divisor = getattr(self.embedder, "min_cluster_divisor", None) or MIN_CLUSTER_DIVISOR
        return scaled_min_cluster_size(n_docs, divisor)

    def _refine_iterations(self) -> int:
        """k-means steps after HDBSCAN: the embedder's `refine_iterations`, else 10."""
        return int(getattr(self.embedder, "refine_iterations", _REFINE_ITERATIONS))

    def _bertopic(self, embeddings: np.ndarray) -> Any:
        from umap import UMAP

        _import_bertopic()
        from bertopic import BERTopic
        from bertopic.vectorizers import ClassTfidfTransformer

        n_docs = len(embeddings)
        mcs = self._min_cluster_size(n_docs)
        n_neighbors = min(self.n_neighbors, n_docs - 1)
        # exact neighbours where UMAP would approximate them (see `exact_neighbours`)
        exact = (
            n_docs >= UMAP_EXACT_BELOW and n_docs**2 * embeddings.shape[1] <= EXACT_NEIGHBOURS_WORK
        )
        knn = exact_neighbours(embeddings, n_neighbors) if exact else (None, None, None)
        umap_setup.prepare()  # compiled once per install, small corpora's distances vectorised
        return BERTopic(
            embedding_model=_EmbedderBackend(self.embedder) if self.embedder else None,
            umap_model=UMAP(
                n_neighbors=n_neighbors,
                n_components=min(self.n_components, n_docs - 2),
                min_dist=0.0,
                metric="cosine",
                random_state=self.random_state,
                precomputed_knn=knn,
            ),
            hdbscan_model=clusterer(n_docs, mcs),
            vectorizer_model=make_vectorizer(n_docs),
            ctfidf_model=ClassTfidfTransformer(reduce_frequent_words=True),
            # keywords are picked by MMR afterwards, with one batched word-embedding call
            representation_model=None,
            top_n_words=_CANDIDATES,
            calculate_probabilities=False,
        )

    def fit(
        self,
        embeddings: np.ndarray,
        docs: list[str],
        anchors: np.ndarray | None = None,
        anchor_threshold: float = 0.8,
    ) -> ThemeModel:
        """Find themes in `docs` given their precomputed `embeddings`.

        Args:
            anchors: centres of the themes registered by earlier fits (a warm start): a new
                cluster whose centre is at least `anchor_threshold` similar to an anchor is
                replaced by that anchor before refinement, so re-fits keep known themes where
                the data still supports them and add clusters only for what is new.
        """
        if len(docs) != len(embeddings):
            raise ValueError("docs and embeddings differ in length")
        self._check_params()
        n_docs = len(docs)
        mcs = self._min_cluster_size(n_docs)
        if n_docs < max(2 * mcs, 10):
            raw = np.zeros(n_docs, dtype=int)  # too few to cluster: one theme
            self.bertopic_ = None
        else:
            self.bertopic_ = self._bertopic(embeddings)
            raw = np.asarray(self.bertopic_.fit_transform(docs, embeddings)[0])
        if anchors is not None and len(anchors) and n_docs >= max(2 * mcs, 10):
            raw = anchored_labels(embeddings, raw, anchors, anchor_threshold,
                                  self.outlier_threshold)  # fmt: skip
        labels, centres, sims = refine(
            embeddings, raw, self.outlier_threshold, max(3, mcs // 2) if n_docs >= 10 else 1,
            self._refine_iterations(), self.merge_threshold,
        )  # fmt: skip
        self.labels_, self.topic_embeddings_, self.confidence_ = labels, centres, sims
        keywords, candidates = self._keywords(docs, labels, len(centres))
        self.themes_ = self._theme_table(docs, keywords, candidates)
        return self

    def regrouped(self, centres: np.ndarray) -> ThemeModel:
        """A copy whose themes are `centres` (unit rows in this model's space); `describe` it.

        Used by `cx_text.linking` when a group's verbatims are regrouped by their links to
        another group's themes: `assign` then puts a verbatim at its nearest new centre.
        """
        out = copy.copy(self)
        out.topic_embeddings_ = np.asarray(centres, dtype=np.float32)
        return out

    def describe(self, docs: list[str], labels: np.ndarray, confidence: np.ndarray) -> ThemeModel:
        """Set `labels_`, `confidence_`, keywords and the theme table from `docs` assigned to
        the current centres (labels = `assign` of their embeddings)."""
        self.labels_, self.confidence_ = np.asarray(labels), np.asarray(confidence)
        keywords, candidates = self._keywords(docs, self.labels_, len(self.topic_embeddings_))
        self.themes_ = self._theme_table(docs, keywords, candidates)
        return self

    def _keywords(
        self, docs: list[str], labels: np.ndarray, k: int
    ) -> tuple[list[list[str]], list[list[str]]]:
        """MMR keywords per theme and the c-TF-IDF candidates they were chosen from."""
        if self.bertopic_ is None or k == 0:
            terms = [_top_terms([d for d, lab in zip(docs, labels, strict=True) if lab == t])
                     for t in range(k)]  # fmt: skip
            return terms, terms
        model = self.bertopic_
        model.update_topics(
            docs,
            topics=labels.tolist(),
            top_n_words=_CANDIDATES,
            vectorizer_model=model.vectorizer_model,
            ctfidf_model=model.ctfidf_model,
        )
        candidates = [[w for w, _ in (model.get_topic(t) or []) if _distinct_words(w)]
                      for t in range(k)]  # fmt: skip
        keywords = select_keywords(candidates, self.topic_embeddings_, self.embedder,
                                   self.n_keywords)  # fmt: skip
        return keywords, candidates

    def _theme_table(
        self, docs: list[str], keywords: list[list[str]], candidates: list[list[str]]
    ) -> pd.DataFrame:
        """One row per theme. Labels read the keywords first, then the remaining candidates."""
        k = len(keywords)
        surfaces = _theme_surfaces(docs, self.labels_, k)
        ranked = [kw + [c for c in cands if c not in kw]
                  for kw, cands in zip(keywords, candidates, strict=True)]  # fmt: skip
        sizes = np.array([int(np.sum(self.labels_ == t)) for t in range(k)])
        parents: Any = parent_groups(self.topic_embeddings_, sizes, self.max_parents) if k else []
        table = pd.DataFrame(
            {
                "topic": np.arange(k),
                "label": [make_label(r, s) for r, s in zip(ranked, surfaces, strict=True)],
                "keywords": [", ".join(kw) for kw in keywords],
                "size": sizes,
                "examples": [
                    central_examples(docs, self.labels_, self.confidence_, t, self.n_examples)
                    for t in range(k)
                ],
                "parent": parents,
            }
        )
        table["parent_label"] = _parent_labels(table, keywords, surfaces)
        return table

    def assign(self, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Theme number (-1 = unclassified) and confidence for new embeddings."""
        return nearest(np.asarray(embeddings, np.float32), self.topic_embeddings_,
                       self.outlier_threshold)  # fmt: skip

    # ------------------------------------------------------------------------- persistence

    def save(self, path: Path) -> Path:
        """Save centres (safetensors), the theme table (JSON) and BERTopic with its c-TF-IDF."""
        from safetensors.numpy import save_file

        path.mkdir(parents=True, exist_ok=True)
        arrays = {"topic_embeddings": self.topic_embeddings_}
        if self.space_centre_ is not None:
            arrays["space_centre"] = np.asarray(self.space_centre_, dtype=np.float32)
        save_file(arrays, str(path / "centres.safetensors"))
        meta = {"format": _FORMAT_VERSION, "params": self._params(),
                "themes": self.themes_.to_dict("records")}  # fmt: skip
        (path / "themes.json").write_text(json.dumps(meta, ensure_ascii=False, default=int))
        if self.bertopic_ is not None:
            self.bertopic_.save(
                str(path / "bertopic"), serialization="safetensors", save_ctfidf=True,
                save_embedding_model=False,
            )  # fmt: skip
        return path

    @classmethod
    def load(cls, path: Path, embedder: Any = None) -> ThemeModel:
        """Load a model saved with `save`; `assign` works without BERTopic."""
        from safetensors.numpy import load_file

        meta = json.loads((path / "themes.json").read_text())
        model = cls(**meta["params"], embedder=embedder)
        arrays = load_file(str(path / "centres.safetensors"))
        model.topic_embeddings_ = arrays["topic_embeddings"]
        model.space_centre_ = arrays.get("space_centre")
        model.themes_ = pd.DataFrame(meta["themes"])
        model.bertopic_ = None
        return model


def _distinct_words(keyword: str) -> bool:
    """False for empty keywords and bigrams that repeat a word ('price price')."""
    words = keyword.split()
    return bool(words) and len(set(words)) == len(words)


def _top_terms(docs: list[str], n: int = 10) -> list[str]:
    """Most frequent lemmas of a small set of docs (used when there are too few to cluster)."""
    counts = pd.Series([t for d in docs for t in LemmaTokenizer()(d)], dtype=object)
    return counts.value_counts().head(n).index.tolist() if len(counts) else []


def _theme_surfaces(docs: list[str], labels: np.ndarray, k: int) -> list[Surfaces]:
    """`phrase_surfaces` of each theme's own documents."""
    return [phrase_surfaces(docs[i] for i in np.flatnonzero(labels == t)) for t in range(k)]


def _parent_labels(
    table: pd.DataFrame, keywords: list[list[str]], surfaces: list[Surfaces]
) -> list[str]:
    """Label each parent by its keywords weighted by child size (first keyword ranks highest)."""
    labels = {}
    for parent, group in table.groupby("parent"):
        scores: dict[str, float] = {}
        wordings: Surfaces = defaultdict(Counter)
        for topic, size in zip(group["topic"], group["size"], strict=True):
            for rank, word in enumerate(keywords[topic]):
                scores[word] = scores.get(word, 0.0) + size / (rank + 1)
            for keyword, counts in surfaces[topic].items():
                wordings[keyword].update(counts)
        ranked = sorted(scores, key=lambda w: -scores[w])
        labels[parent] = make_label(ranked, wordings)
    return [labels[p] for p in table["parent"]]
