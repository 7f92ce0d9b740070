"""The embedding cache of one run: vectors by (embedding model id, text hash).

Vectors come from the store, from earlier blocks of this run, or are embedded now. They are kept
per model id, so a text embedded by two models (a text in two language groups) never gets the
other model's vector: spaces of different models are never mixed, whatever their dimensions.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cx_text.clean import text_hash
from cx_text.embed import Embedder, PooledEmbedder, embed_texts
from cx_text.parallel import FanOut
from cx_text.settings import EmbeddingSettings

# texts per step of a `warm` call: `stop_warming` (a failed run's exit) waits for one step at most
WARM_STEP = 64

# (model_id, text hashes) -> the stored vectors found, usually `Store.load_embeddings`
CacheLookup = Callable[[str, list[str]], dict[str, np.ndarray]]


@dataclass(frozen=True)
class NewEmbeddings:
    """Vectors one model embedded in this run: what the store commit adds to its cache."""

    model_id: str
    hashes: list[str]
    vectors: np.ndarray  # float16, the precision the store keeps
    # False: kept with `remember` (computed from other vectors), not embedded by a model
    embedded: bool = True


class EmbeddingCache:
    """The store's vectors plus the ones this run embedded, per embedding model id."""

    def __init__(self, stored: CacheLookup, settings: EmbeddingSettings) -> None:
        self._stored = stored
        self._settings = settings
        self._fresh: dict[str, dict[str, np.ndarray]] = {}
        self.new: list[NewEmbeddings] = []
        self.n_cached = 0
        self.seconds = 0.0  # wall time spent embedding new texts
        self._warming: dict[str, list[Future[None]]] = {}  # model id -> `warm` calls
        self._warming_lock = threading.Lock()
        self._stop_warming = threading.Event()

    def warm(self, texts: list[str], embedder: Embedder, fan_out: FanOut) -> None:
        """Start embedding `texts` with `embedder` beside the caller's work
        (`FanOut.alongside`: a thread in the CLI, right away in a flow), not counted in
        `n_cached`. Every later `vectors` or `lookup` in that model's space waits for it first,
        so nothing is embedded twice and its errors surface there."""
        parts = getattr(embedder, "parts", None)
        if parts:
            for part in parts:
                self.warm(texts, part, fan_out)
            return
        if isinstance(embedder, PooledEmbedder):
            self.warm(embedder.split(list(texts))[0], embedder.inner, fan_out)
            return
        future = fan_out.alongside(self._warm_steps, list(texts), embedder)
        with self._warming_lock:
            self._warming.setdefault(embedder.model_id, []).append(future)

    def _warm_steps(self, texts: list[str], embedder: Embedder) -> None:
        for start in range(0, len(texts), WARM_STEP):
            if self._stop_warming.is_set():
                return
            self._embed(texts[start : start + WARM_STEP], embedder, None, False)

    def stop_warming(self) -> None:
        """End the `warm` calls after their current step of `WARM_STEP` texts and wait for them,
        their errors dropped: a run that failed before it needed them exits without embedding
        the rest (a thread still embedding would hold the process open)."""
        self._stop_warming.set()
        with self._warming_lock:
            pending = [f for futures in self._warming.values() for f in futures]
            self._warming.clear()
        for future in pending:
            future.exception()

    def _settle(self, model_id: str) -> None:
        """Wait for the `warm` calls in `model_id`'s space (re-raising their errors)."""
        with self._warming_lock:
            pending = self._warming.pop(model_id, [])
        for future in pending:
            future.result()

    def lookup(self, model_id: str, hashes: list[str]) -> dict[str, np.ndarray]:
        """The known vectors of `hashes` in `model_id`'s space (stored or embedded this run)."""
        self._settle(model_id)
        return self._lookup(model_id, hashes)

    def _lookup(self, model_id: str, hashes: list[str]) -> dict[str, np.ndarray]:
        found = self._stored(model_id, hashes)
        fresh = self._fresh.get(model_id, {})
        found.update((h, fresh[h]) for h in hashes if h in fresh and h not in found)
        return found

    def stored(self, model_id: str, hashes: list[str]) -> dict[str, np.ndarray]:
        """The vectors of `hashes` the store held when the run started (none of this run's)."""
        return self._stored(model_id, hashes)

    def known_texts(
        self, texts: list[str], embedder: Embedder, stored_only: bool = False
    ) -> dict[str, np.ndarray]:
        """The vectors of `texts` in `embedder`'s space known without embedding (stored, or
        embedded this run unless `stored_only`), by text. A pooled embedder's vector is known
        when all its parts are (`embed.PooledEmbedder`); a joined one's (this run's lookup,
        `known`) when all its encoders' are."""
        texts = list(dict.fromkeys(texts))
        if getattr(embedder, "parts", None) and not stored_only:
            hashes = [text_hash(t) for t in texts]
            joined = self.known(embedder, hashes)
            return {t: joined[h] for t, h in zip(texts, hashes, strict=True) if h in joined}
        if not isinstance(embedder, PooledEmbedder):
            return self.known_by_id(embedder.model_id, texts, stored_only)
        parts, weights = embedder.split(texts)
        found = self.known_by_id(embedder.inner.model_id, parts, stored_only)
        have = np.array([p in found for p in parts], dtype=bool)
        complete = np.flatnonzero(weights[:, np.flatnonzero(~have)].getnnz(axis=1) == 0)
        if not len(complete):
            return {}
        vectors = np.zeros((len(parts), len(next(iter(found.values())))), np.float32)
        vectors[have] = np.vstack([found[p] for p in parts if p in found])
        pooled = embedder.pool(vectors, weights[complete])
        return dict(zip([texts[i] for i in complete], pooled, strict=True))

    def known_by_id(
        self, model_id: str, texts: list[str], stored_only: bool = False
    ) -> dict[str, np.ndarray]:
        """The vectors kept under `model_id` for `texts` (stored, or also this run's), by text."""
        hashes = [text_hash(t) for t in texts]
        found = (self.stored if stored_only else self.lookup)(model_id, hashes)
        return {t: found[h] for t, h in zip(texts, hashes, strict=True) if h in found}

    def known(self, embedder: Embedder, hashes: list[str]) -> dict[str, np.ndarray]:
        """`lookup` by embedder: a joined embedder's vector is known when all its parts are."""
        parts = getattr(embedder, "parts", None)
        if not parts:
            return self.lookup(embedder.model_id, hashes)
        found = [self.known(part, hashes) for part in parts]
        both = [h for h in dict.fromkeys(hashes) if all(h in f for f in found)]
        if not both:
            return {}
        joined = embedder.join(*(np.vstack([f[h] for h in both]) for f in found))  # type: ignore[attr-defined]
        return dict(zip(both, joined, strict=True))

    def vectors(
        self,
        texts: list[str],
        embedder: Embedder,
        fan_out: FanOut | None = None,
        count: bool = True,
    ) -> np.ndarray:
        """Vectors of `texts` in `embedder`'s space; new ones are embedded and remembered.

        A joined embedder (`embed.JointEmbedder`) is cached part by part, each under its own
        model id, and joined here: its e5 part is e5's own vector of the text. A pooled one
        (`embed.PooledEmbedder`) is cached sentence by sentence under its encoder's model id,
        and pooled here.
        `count` False: the texts were counted before (a second pass over a group).
        """
        if isinstance(embedder, PooledEmbedder):
            pieces, weights = embedder.split(list(texts))
            return embedder.pool(self.vectors(pieces, embedder.inner, fan_out, count), weights)
        parts = getattr(embedder, "parts", None)
        if parts:
            first, *rest = parts
            vectors = [self.vectors(texts, first, fan_out, count)]
            vectors += [self.vectors(texts, part, fan_out, count=False) for part in rest]
            return embedder.join(*vectors)  # type: ignore[attr-defined]
        self._settle(embedder.model_id)
        return self._embed(texts, embedder, fan_out, count)

    def _embed(
        self, texts: list[str], embedder: Embedder, fan_out: FanOut | None, count: bool
    ) -> np.ndarray:
        """`vectors` in one model's space, without waiting for `warm` (which runs this)."""
        hashes = [text_hash(t) for t in texts]
        start = time.perf_counter()
        result = embed_texts(
            pd.Series(texts), pd.Series(hashes), embedder,
            self._lookup(embedder.model_id, hashes), self._settings, fan_out,
        )  # fmt: skip
        self.seconds += time.perf_counter() - start
        if result.new_hashes:
            kept = np.asarray(result.new_vectors, dtype=np.float16)
            self.new.append(NewEmbeddings(embedder.model_id, result.new_hashes, kept))
            fresh = self._fresh.setdefault(embedder.model_id, {})
            fresh.update(zip(result.new_hashes, kept, strict=True))
        if count:
            self.n_cached += result.n_cached
        return result.vectors

    def remember(self, model_id: str, hashes: list[str], vectors: np.ndarray) -> None:
        """Keep vectors computed outside `vectors` (a polarity student's scores, one number
        per text) under `model_id`, as if embedded now: looked up and stored like the others."""
        if len(hashes) != len(vectors):
            raise ValueError(f"{len(vectors)} vectors for {len(hashes)} hashes")
        firsts: dict[str, int] = {}
        for i, h in enumerate(hashes):
            firsts.setdefault(h, i)
        first = list(firsts.values())
        if not first:
            return
        kept = np.asarray(vectors, dtype=np.float16)[first]
        unique = [hashes[i] for i in first]  # texts that hash alike are one entry
        self.new.append(NewEmbeddings(model_id, unique, kept, embedded=False))
        self._fresh.setdefault(model_id, {}).update(zip(unique, kept, strict=True))

    def counts(self) -> dict[str, Any]:
        """run.json `embeddings`: texts embedded now (in all and per model id), found cached,
        and the seconds it took."""
        by_model: dict[str, int] = {}
        for e in (e for e in self.new if e.embedded):
            by_model[e.model_id] = by_model.get(e.model_id, 0) + len(e.hashes)
        return {"new": sum(by_model.values()), "cached": self.n_cached,
                "seconds": round(self.seconds, 3), "new_by_model": by_model}  # fmt: skip
