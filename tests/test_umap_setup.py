"""UMAP kernels are disk-cached and small-corpus distances vectorised, with the same values."""

from __future__ import annotations

import numpy as np
import umap.distances
import umap.layouts
import umap.umap_
from sklearn.metrics import pairwise_distances

from cx_text import umap_setup


def _vectors() -> np.ndarray:
    vectors = np.random.default_rng(3).normal(size=(40, 12)).astype(np.float32)
    vectors[5] = 0.0  # zero vectors: navec gives them to texts without a known word
    vectors[17] = 0.0
    vectors[8] = vectors[9] * 3  # same direction, other length: distance 0
    return vectors


def test_cosine_distances_equal_umaps_numba_cosine_pair_by_pair() -> None:
    vectors = _vectors()
    expected = np.array([[umap.distances.cosine(a, b) for b in vectors] for a in vectors])
    got = umap_setup.cosine_distances(vectors)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert got[5, 17] == 0.0 and got[5, 0] == 1.0 and got[0, 5] == 1.0
    assert abs(got[8, 9]) < 1e-6 and got.dtype == np.float64


def test_prepared_umap_gets_the_same_small_data_distances_and_other_metrics_untouched() -> None:
    umap_setup.prepare()
    fast = umap.umap_.pairwise_distances
    assert getattr(fast, "cx_text_fast", False)
    vectors = _vectors()
    slow = pairwise_distances(vectors, metric=umap.distances.cosine)
    np.testing.assert_allclose(fast(vectors, metric=umap.distances.cosine), slow, atol=1e-6)
    np.testing.assert_allclose(
        fast(vectors, metric="euclidean"), pairwise_distances(vectors, metric="euclidean")
    )
    umap_setup.prepare()  # twice: not wrapped twice
    assert umap.umap_.pairwise_distances is fast


def test_prepare_turns_numba_disk_caching_on_for_umaps_layout_kernel() -> None:
    umap_setup.prepare()
    kernel = umap.layouts._nb_optimize_layout_euclidean_single_epoch
    assert type(kernel._cache).__name__ != "NullCache"
