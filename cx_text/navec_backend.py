"""Offline Russian sentence embeddings from navec word vectors with SIF weighting.

The embedder follows SIF (Arora, Liang & Ma, 2017, "A simple but tough-to-beat baseline for
sentence embeddings"): a sentence vector is the mean of its word vectors weighted by
``a / (a + p(w))``, minus its projection on a *common component*.

Two deliberate departures from the paper:

* ``p(w)`` comes from navec's own corpus counts. navec's vocabulary is stored in alphabetical
  order, not by frequency, so a Zipf estimate from the rank would be wrong; but the file
  keeps each word's count in its 1-billion-token news corpus, which gives ``p(w)`` directly.
* The common component is estimated once from navec itself, never from the texts being
  embedded, so that a text's vector depends only on that text (embeddings are cached per
  text). It is the first right singular vector of the SIF-weighted vectors of the 20,000
  most frequent words, each row scaled by ``sqrt(p(w))``: the dominant direction of the
  word vectors a sentence is expected to contain. On SentiRuEval-2016 tweets it matched or
  beat a component fitted on the corpus itself.

Only Cyrillic words are looked up: navec also holds some Latin-script words from Russian
news, which would give English comments noisy vectors; they get a zero vector instead.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from cx_text.lemmas import analyze

NAVEC_FILENAME = "navec_news_v1_1B_250K_300d_100q.tar"
NAVEC_DIMENSION = 300
SIF_A = 1e-3
REFERENCE_SIZE = 20_000


def navec_path() -> Path:
    """Locate the navec news embeddings shipped inside the installed natasha package.

    The package is only located, never imported (natasha is installed without its
    dependencies).

    Returns:
        Path of ``natasha/data/emb/navec_news_v1_1B_250K_300d_100q.tar``.

    Raises:
        FileNotFoundError: natasha is not installed or the file is missing from it.
    """
    spec = importlib.util.find_spec("natasha")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / "data" / "emb" / NAVEC_FILENAME
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"navec embeddings {NAVEC_FILENAME} not found: install natasha "
        f"(pip install --no-deps natasha==1.6.0); searched {locations or 'no natasha package'}"
    )


@dataclass(frozen=True)
class _NavecTables:
    """The parts of a navec model the embedder needs (product-quantised vectors)."""

    word_ids: dict[str, int]
    indexes: np.ndarray  # (vocabulary, subspaces) uint8 centroid ids
    codes: np.ndarray  # (subspaces, centroids, sub-dimension) float32 centroids
    probabilities: np.ndarray  # (vocabulary,) corpus frequency of each word

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """Decode the word vectors of ``ids`` into a float32 (len(ids), 300) array."""
        subspaces = np.arange(self.codes.shape[0])
        return self.codes[subspaces, self.indexes[ids]].reshape(len(ids), -1)


@functools.cache
def _load_tables(path: str) -> _NavecTables:
    """Load a navec file once per process (about half a second)."""
    from navec import Navec

    navec = Navec.load(path)
    counts = np.asarray(navec.vocab.counts, dtype=np.float64)
    return _NavecTables(
        navec.vocab.word_ids, navec.pq.indexes, navec.pq.codes, counts / counts.sum()
    )


def sif_weights(probabilities: np.ndarray, a: float = SIF_A) -> np.ndarray:
    """SIF word weights ``a / (a + p(w))`` as float32."""
    return (a / (a + probabilities)).astype(np.float32)


@functools.cache
def _vocabulary_weights(path: str, a: float) -> np.ndarray:
    """SIF weight of every navec word, computed once per file and ``a``."""
    return sif_weights(_load_tables(path).probabilities, a)


@functools.cache
def _common_component(path: str, a: float, reference_size: int) -> np.ndarray:
    """Unit common direction of SIF-weighted navec vectors, from the vocabulary alone."""
    tables = _load_tables(path)
    top = np.argsort(-tables.probabilities, kind="stable")[:reference_size]
    # sqrt(p) row scaling makes rows.T @ rows the frequency-weighted second moment, i.e.
    # what the word vectors of running text share, not what rare words share.
    scale = np.sqrt(tables.probabilities[top]) * sif_weights(tables.probabilities[top], a)
    rows = scale[:, None] * tables.vectors(top).astype(np.float64)
    # Top eigenvector of the 300 x 300 Gram matrix = first right singular vector of rows,
    # without a full SVD of the 20,000-row matrix. One BLAS thread: on a busy 2-core machine
    # multi-threaded LAPACK took seconds for what takes 10 ms.
    with threadpool_limits(limits=1, user_api="blas"):
        _, eigenvectors = np.linalg.eigh(rows.T @ rows)
    return eigenvectors[:, -1].astype(np.float32)


def _text_word_ids(text: str, word_ids: dict[str, int]) -> list[int]:
    """navec ids of the Cyrillic words of a text: the word form if known, else its lemma."""
    ids = []
    for token in analyze(text):
        if token.language != "ru":
            continue
        word_id = word_ids.get(token.form, word_ids.get(token.lemma))
        if word_id is not None:
            ids.append(word_id)
    return ids


def _weighted_means(
    id_lists: Sequence[list[int]], tables: _NavecTables, weights: np.ndarray
) -> np.ndarray:
    """SIF-weighted mean word vector per text; a zero row for a text without known words."""
    out = np.zeros((len(id_lists), NAVEC_DIMENSION), dtype=np.float32)
    filled = [row for row, ids in enumerate(id_lists) if ids]
    if not filled:
        return out
    flat = np.concatenate([np.asarray(id_lists[row]) for row in filled])
    lengths = np.array([len(id_lists[row]) for row in filled])
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    # reduceat sums each text's own rows only, so a vector never depends on its batch.
    weighted = weights[flat, None] * tables.vectors(flat)
    out[filled] = np.add.reduceat(weighted, starts, axis=0) / lengths[:, None]
    return out


def _remove_and_normalise(vectors: np.ndarray, component: np.ndarray | None) -> np.ndarray:
    """Remove the projection on ``component`` (if any) and L2-normalise non-zero rows."""
    if component is not None:
        # Row-wise products instead of a BLAS mat-vec: results must not vary with batch size.
        vectors = vectors - (vectors * component).sum(axis=1, keepdims=True) * component
    norms = np.sqrt((vectors * vectors).sum(axis=1, keepdims=True))
    return (vectors / np.where(norms > 0, norms, 1.0)).astype(np.float32)


class NavecSIFEmbedder:
    """Offline Russian sentence embedder: navec word vectors + SIF, 300 dimensions.

    navec is loaded lazily on the first ``encode`` and shared by all instances of the
    process. A text's vector depends only on that text, so vectors can be cached per text.

    Args:
        path: navec ``.tar`` file; defaults to the one shipped with natasha (``navec_path``).
        a: SIF smoothing parameter.
        remove_common_component: Subtract the vocabulary-level common component.
        reference_size: Number of most frequent words the common component is estimated on.

    Attributes:
        model_id: Identifies the vectors (file, method and non-default parameters), e.g.
            "navec:navec_news_v1_1B_250K_300d_100q+sif".
        dimension: Vector size (300).
    """

    dimension: int = NAVEC_DIMENSION

    def __init__(
        self,
        path: Path | str | None = None,
        a: float = SIF_A,
        remove_common_component: bool = True,
        reference_size: int = REFERENCE_SIZE,
    ) -> None:
        self.path = Path(path) if path is not None else navec_path()
        self.a = a
        self.remove_common_component = remove_common_component
        self.reference_size = reference_size
        self.model_id = f"navec:{self.path.stem}+sif{self._parameter_suffix()}"

    def _parameter_suffix(self) -> str:
        """Empty for the defaults, else the parameters that change the vectors."""
        if (self.a, self.reference_size) == (SIF_A, REFERENCE_SIZE):
            return "" if self.remove_common_component else "-nocc"
        component = f"-cc{self.reference_size}" if self.remove_common_component else "-nocc"
        return f"-a{self.a:g}{component}"

    def encode(
        self, texts: Sequence[str], batch_size: int = 256, show_progress_bar: bool = False
    ) -> np.ndarray:
        """Embed texts.

        Args:
            texts: Texts to embed (any language; only Cyrillic words contribute).
            batch_size: Texts processed per step; does not affect the result.
            show_progress_bar: Show a tqdm progress bar over batches.

        Returns:
            float32 array (len(texts), 300) of L2-normalised rows; a zero row for a text
            with no word known to navec (e.g. an English-only text).
        """
        starts: Iterable[int] = range(0, len(texts), max(1, batch_size))
        if show_progress_bar:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="navec", unit="batch")
        parts = [self._encode_batch(texts[start : start + batch_size]) for start in starts]
        return np.vstack([np.zeros((0, NAVEC_DIMENSION), dtype=np.float32), *parts])

    def _encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Embed one batch (navec and the common component are process-wide caches)."""
        tables = _load_tables(str(self.path))
        id_lists = [_text_word_ids(text, tables.word_ids) for text in texts]
        means = _weighted_means(id_lists, tables, _vocabulary_weights(str(self.path), self.a))
        return _remove_and_normalise(means, self._component())

    def _component(self) -> np.ndarray | None:
        """The cached common component, or None when removal is disabled."""
        if not self.remove_common_component:
            return None
        return _common_component(str(self.path), self.a, self.reference_size)

    def __repr__(self) -> str:
        return f"NavecSIFEmbedder(model_id={self.model_id!r})"
