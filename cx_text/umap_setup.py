"""UMAP made fast without changing what it computes: compiled once, distances vectorised.

Two costs of UMAP had nothing to do with the data (measured on the bundled sample's two
language groups of about 2,000 documents each; bench/pipeline.py):

1. **Compilation.** UMAP (and pynndescent, for corpora too large for exact neighbours)
   jit-compiles its kernels with numba at first use and does not ask numba to cache them, so
   every `cx-text` process and every Prefect task process compiled them again (about 10 s).
   `prepare` turns numba's on-disk cache on for the kernels these modules define (the cache a
   `@njit(cache=True)` would use: `__pycache__` next to the module, or numba's user-wide cache
   directory when that is read-only; numba keys entries by the source file's timestamp, so an
   upgrade recompiles). `warm_up` compiles them on a tiny problem; the Makefile runs it once at
   install so the first `make demo` starts warm.
2. **Small corpora.** Below 4,096 points UMAP computes every pairwise distance exactly, through
   sklearn's `pairwise_distances` with UMAP's numba `cosine` as a Python callable: one Python
   call per pair, about 36 s for 2,000 vectors. `prepare` gives UMAP a `pairwise_distances` that
   computes that same cosine distance (float64, the same zero-vector rules) with one matrix
   product, and defers to sklearn for anything else. UMAP's own small-data path is kept, so
   its graph, and with it the themes, are the ones it computed before (tested).
3. **The GIL during the layout.** With a seed UMAP lays out on one core in numba calls that
   hold Python's GIL, so the thread that embeds beside the clustering stalled meanwhile.
   `prepare` swaps in `cx_text.umap_layout.epoch`, the same kernel behind a GIL-free entry
   point (the same layout bit for bit; tested).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np

log = logging.getLogger("cx_text")

# modules whose module-level numba kernels are compiled on every fit
MODULES = (
    "umap.umap_",
    "umap.layouts",
    "umap.utils",
    "umap.distances",
    "umap.spectral",
    "pynndescent.distances",
    "pynndescent.utils",
    "pynndescent.rp_trees",
    "pynndescent.pynndescent_",
)


def cosine_distances(matrix: np.ndarray) -> np.ndarray:
    """All pairwise cosine distances of the rows of `matrix`, as `umap.distances.cosine` defines
    them: 1 - cos in float64; 0 between two zero vectors, 1 between a zero and a non-zero one."""
    x = np.asarray(matrix, dtype=np.float64)
    squared = np.einsum("ij,ij->i", x, x)
    norms = np.sqrt(squared)
    zero = squared == 0.0
    safe = np.where(zero, 1.0, norms)
    dist = 1.0 - (x @ x.T) / np.outer(safe, safe)
    dist[zero[:, None] ^ zero[None, :]] = 1.0
    dist[zero[:, None] & zero[None, :]] = 0.0
    return dist


def fast_pairwise(original: Callable[..., Any], cosine: Any) -> Callable[..., Any]:
    """`original` (sklearn's pairwise_distances as UMAP imported it), with the one call UMAP's
    small-data path makes for the cosine metric done by `cosine_distances`."""

    def pairwise_distances(X: Any, Y: Any = None, metric: Any = "euclidean", **kwds: Any) -> Any:
        if metric is cosine and Y is None and not kwds and isinstance(X, np.ndarray):
            return cosine_distances(X)
        return original(X, Y, metric=metric, **kwds)

    pairwise_distances.cx_text_fast = True  # type: ignore[attr-defined]
    return pairwise_distances


@lru_cache(maxsize=1)
def prepare() -> int:
    """Disk-cache UMAP's and pynndescent's numba kernels and vectorise UMAP's small-data
    distances. Safe to call any number of times. Returns how many kernels it set to cache."""
    import umap.distances
    import umap.umap_

    if not getattr(umap.umap_.pairwise_distances, "cx_text_fast", False):
        umap.umap_.pairwise_distances = fast_pairwise(
            umap.umap_.pairwise_distances, umap.distances.cosine
        )
    enabled = _cache_kernels()
    _release_gil_in_layout()
    return enabled


def _release_gil_in_layout() -> bool:
    """Put `cx_text.umap_layout.epoch` (UMAP's single-core layout epoch, GIL released) in
    the place UMAP looks its kernel up at every fit. Only for the UMAP it was written against:
    another UMAP whose kernel is missing or takes other arguments keeps its own (and its GIL).
    Returns whether it did."""
    import inspect

    import umap.layouts

    plain = getattr(umap.layouts, "_optimize_layout_euclidean_single_epoch", None)
    if plain is None or not hasattr(umap.layouts, "_nb_optimize_layout_euclidean_single_epoch"):
        log.debug("umap: no single-epoch layout kernel in this UMAP; layout keeps the GIL")
        return False
    from cx_text import umap_layout

    ours = list(inspect.signature(umap_layout.epoch.py_func).parameters)
    if list(inspect.signature(plain).parameters) != ours:
        log.debug("umap: the layout kernel takes other arguments here; layout keeps the GIL")
        return False
    umap.layouts._nb_optimize_layout_euclidean_single_epoch = umap_layout.epoch
    return True


def _cache_kernels() -> int:
    try:
        from numba.core.registry import CPUDispatcher
    except ImportError:  # pragma: no cover - numba is a dependency of umap
        return 0
    enabled = 0
    for name in MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        for kernel in vars(module).values():
            cache = getattr(kernel, "_cache", None)
            if isinstance(kernel, CPUDispatcher) and type(cache).__name__ == "NullCache":
                try:
                    kernel.enable_caching()
                except Exception as exc:  # a cache is an optimisation only
                    log.debug("numba cache not enabled for %s: %s", kernel, exc)
                    continue
                enabled += 1
    return enabled


def warm_up(n: int = 300, dims: int = 384, seed: int = 0) -> None:
    """Compile (or load from the cache) the kernels a theme fit uses, on random vectors."""
    from umap import UMAP

    prepare()
    vectors = np.random.default_rng(seed).normal(size=(n, dims)).astype(np.float32)
    UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=seed,
         n_epochs=5).fit(vectors)  # fmt: skip


if __name__ == "__main__":
    warm_up()
