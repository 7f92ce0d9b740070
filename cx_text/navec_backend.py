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

Two additions for customer feedback, where a theme is carried by a few content words:

* Stop words (`cx_text.lemmas.stop_words("ru")`, which keeps negations and intensifiers) are
  dropped before averaging; SIF only down-weights them, and in short comments the remaining
  weight of "я", "вы", "это", "был" still pulls unrelated comments together. A text made only
  of stop words keeps all its words.
* A lexical channel is appended: the SIF-weighted bag of the text's content lemmas, hashed
  into `lexical_dims` signed buckets (stable CRC-32 hashing, so a vector still depends only on
  its text), unit-normalised and scaled by `lexical_weight` before the whole vector is
  normalised. Static word vectors put near-synonyms and co-occurring words together
  ("промокод" / "скидка", "курьер" / "доставка"); the lemma bag keeps "same words, same theme".
  On the bundled sample (17 planted themes) the two changes raise the Russian ARI from 0.25 to
  0.33 at the same clustering settings (mean of 3 UMAP seeds), and neighbourhood purity (share
  of a text's 10 nearest neighbours with its theme) from 0.69 to 0.74 (0.71 from dropping stop
  words alone).

Only Cyrillic words are looked up: navec also holds some Latin-script words from Russian
news, which would give English comments noisy vectors; they get a zero vector instead.
"""

from __future__ import annotations

import functools
import importlib.util
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from cx_text.lemmas import TokenInfo, analyze, stop_words

NAVEC_FILENAME = "navec_news_v1_1B_250K_300d_100q.tar"
NAVEC_DIMENSION = 300
SIF_A = 1e-3
REFERENCE_SIZE = 20_000
LEXICAL_WEIGHT = 0.7
LEXICAL_DIMS = 1024
# How this space clusters best, read by `cx_text.themes.ThemeModel`. Static word-vector averages
# are noisier than a sentence encoder. At the default n/170 HDBSCAN splits the sample's Russian
# themes into phrasing-level clusters (59 themes, ARI 0.33); n/100 gives 26 (ARI 0.43). And
# k-means steps after HDBSCAN pull the centres away from the dense cores towards generic
# comments: keeping the core centroids raises the ARI to 0.49 (means of 3 UMAP seeds).
MIN_CLUSTER_DIVISOR = 100
REFINE_ITERATIONS = 0


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


def _russian_words(text: str) -> list[TokenInfo]:
    """The Cyrillic words of a text without stop words (all of them if only stop words)."""
    words = [token for token in analyze(text) if token.language == "ru"]
    stops = stop_words("ru")
    content = [t for t in words if t.form not in stops and t.lemma not in stops]
    return content or words


def _text_word_ids(words: Sequence[TokenInfo], word_ids: dict[str, int]) -> list[int]:
    """navec ids of the words: the word form if known, else its lemma."""
    ids = []
    for token in words:
        word_id = word_ids.get(token.form, word_ids.get(token.lemma))
        if word_id is not None:
            ids.append(word_id)
    return ids


@functools.lru_cache(maxsize=200_000)
def _bucket(lemma: str, dims: int) -> tuple[int, float]:
    """Stable signed hash bucket of a lemma (CRC-32: the same on every run and machine)."""
    code = zlib.crc32(lemma.encode("utf-8"))
    return code % dims, 1.0 if (code // dims) % 2 == 0 else -1.0


def _lexical_vectors(
    lemma_lists: Sequence[list[str]], tables: _NavecTables, a: float, dims: int
) -> np.ndarray:
    """Unit-length hashed bag of lemmas, each weighted by SIF (words unknown to navec: 1)."""
    out = np.zeros((len(lemma_lists), dims), dtype=np.float32)
    for row, lemmas in enumerate(lemma_lists):
        for lemma in lemmas:
            word_id = tables.word_ids.get(lemma)
            p = float(tables.probabilities[word_id]) if word_id is not None else 0.0
            column, sign = _bucket(lemma, dims)
            out[row, column] += sign * a / (a + p)
    return _remove_and_normalise(out, None)


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
    """Offline Russian sentence embedder: navec word vectors + SIF, plus a hashed lemma bag.

    navec is loaded lazily on the first ``encode`` and shared by all instances of the
    process. A text's vector depends only on that text, so vectors can be cached per text.

    Args:
        path: navec ``.tar`` file; defaults to the one shipped with natasha (``navec_path``).
        a: SIF smoothing parameter.
        remove_common_component: Subtract the vocabulary-level common component.
        reference_size: Number of most frequent words the common component is estimated on.
        drop_stop_words: Average content words only (default True, see the module docstring).
        lexical_weight: Weight of the hashed lemma bag next to the unit navec part (default
            0.7; 0 turns the channel off and gives 300-dimensional vectors).
        lexical_dims: Number of hash buckets of the lemma bag (default 1024).

    Attributes:
        model_id: Identifies the vectors (file, method and non-default parameters), e.g.
            "navec:navec_news_v1_1B_250K_300d_100q+sif-lex".
        dimension: Vector size (300 + lexical_dims, or 300 without the lexical channel).
        min_cluster_divisor: Documents per unit of HDBSCAN min cluster size that
            `ThemeModel` uses with this backend (100: static vectors are noisier).
        refine_iterations: k-means steps `ThemeModel` runs after HDBSCAN with this backend
            (0: theme centres stay the centroids of HDBSCAN's dense cores).
    """

    min_cluster_divisor: int = MIN_CLUSTER_DIVISOR
    refine_iterations: int = REFINE_ITERATIONS

    def __init__(
        self,
        path: Path | str | None = None,
        a: float = SIF_A,
        remove_common_component: bool = True,
        reference_size: int = REFERENCE_SIZE,
        drop_stop_words: bool = True,
        lexical_weight: float = LEXICAL_WEIGHT,
        lexical_dims: int = LEXICAL_DIMS,
    ) -> None:
        self.path = Path(path) if path is not None else navec_path()
        self.a = a
        self.remove_common_component = remove_common_component
        self.reference_size = reference_size
        self.drop_stop_words = drop_stop_words
        self.lexical_weight = lexical_weight
        self.lexical_dims = lexical_dims
        self.dimension = NAVEC_DIMENSION + (lexical_dims if lexical_weight > 0 else 0)
        self.model_id = f"navec:{self.path.stem}+sif{self._parameter_suffix()}"

    def _parameter_suffix(self) -> str:
        """The parameters that change the vectors: '-lex' for the defaults."""
        parts = []
        if self.a != SIF_A:
            parts.append(f"a{self.a:g}")
        if not self.remove_common_component:
            parts.append("nocc")
        elif self.reference_size != REFERENCE_SIZE:
            parts.append(f"cc{self.reference_size}")
        if not self.drop_stop_words:
            parts.append("stops")
        if self.lexical_weight > 0:
            default = (self.lexical_weight, self.lexical_dims) == (LEXICAL_WEIGHT, LEXICAL_DIMS)
            parts.append("lex" if default else f"lex{self.lexical_weight:g}x{self.lexical_dims}")
        return "".join(f"-{part}" for part in parts)

    def encode(
        self, texts: Sequence[str], batch_size: int = 256, show_progress_bar: bool = False
    ) -> np.ndarray:
        """Embed texts.

        Args:
            texts: Texts to embed (any language; only Cyrillic words contribute).
            batch_size: Texts processed per step; does not affect the result.
            show_progress_bar: Show a tqdm progress bar over batches.

        Returns:
            float32 array (len(texts), dimension) of L2-normalised rows; a zero row for a
            text without Cyrillic words (e.g. an English-only text).
        """
        starts: Iterable[int] = range(0, len(texts), max(1, batch_size))
        if show_progress_bar:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="navec", unit="batch")
        parts = [self._encode_batch(texts[start : start + batch_size]) for start in starts]
        return np.vstack([np.zeros((0, self.dimension), dtype=np.float32), *parts])

    def _encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Embed one batch (navec and the common component are process-wide caches)."""
        tables = _load_tables(str(self.path))
        words = [self._words(text) for text in texts]
        id_lists = [_text_word_ids(w, tables.word_ids) for w in words]
        means = _weighted_means(id_lists, tables, _vocabulary_weights(str(self.path), self.a))
        semantic = _remove_and_normalise(means, self._component())
        if self.lexical_weight <= 0:
            return semantic
        lemmas = [[token.lemma for token in w] for w in words]
        lexical = _lexical_vectors(lemmas, tables, self.a, self.lexical_dims)
        return _remove_and_normalise(np.hstack([semantic, self.lexical_weight * lexical]), None)

    def _words(self, text: str) -> list[TokenInfo]:
        """The Cyrillic words a text's vector is built from."""
        if self.drop_stop_words:
            return _russian_words(text)
        return [token for token in analyze(text) if token.language == "ru"]

    def _component(self) -> np.ndarray | None:
        """The cached common component, or None when removal is disabled."""
        if not self.remove_common_component:
            return None
        return _common_component(str(self.path), self.a, self.reference_size)

    def __repr__(self) -> str:
        return f"NavecSIFEmbedder(model_id={self.model_id!r})"
