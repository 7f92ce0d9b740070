"""UMAP kernels are disk-cached, small-corpus distances vectorised and the layout run without
the GIL, with the same values."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import umap.distances
import umap.layouts
import umap.umap_
from sklearn.metrics import pairwise_distances

from cx_text import umap_layout, umap_setup


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
    for kernel in (umap_layout._kernel, umap.layouts._nb_optimize_layout_euclidean_single_epoch):
        assert type(kernel._cache).__name__ != "NullCache"


def _layout(kernel: object, vectors: np.ndarray) -> np.ndarray:
    umap.layouts._nb_optimize_layout_euclidean_single_epoch = kernel
    try:
        return umap.UMAP(n_neighbors=10, n_components=5, min_dist=0.0, metric="cosine",
                         random_state=7, n_epochs=60).fit_transform(vectors)  # fmt: skip
    finally:
        umap.layouts._nb_optimize_layout_euclidean_single_epoch = umap_layout.epoch


def test_prepared_umap_lays_out_with_umaps_own_kernel_bit_for_bit() -> None:
    umap_setup.prepare()
    assert umap.layouts._nb_optimize_layout_euclidean_single_epoch is umap_layout.epoch
    vectors = np.random.default_rng(5).normal(size=(400, 16)).astype(np.float32)
    ours, theirs = _layout(umap_layout.epoch, vectors), _layout(umap_layout._kernel, vectors)
    assert np.array_equal(ours, theirs) and np.isfinite(ours).all()


def test_a_umap_whose_layout_kernel_takes_other_arguments_keeps_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    umap_setup.prepare()

    def other(head_embedding, tail_embedding, n_epochs):  # type: ignore[no-untyped-def]
        return None

    monkeypatch.setattr(umap.layouts, "_nb_optimize_layout_euclidean_single_epoch",
                        umap_layout._kernel)  # fmt: skip
    monkeypatch.setattr(umap.layouts, "_optimize_layout_euclidean_single_epoch", other)
    assert not umap_setup._release_gil_in_layout()
    assert umap.layouts._nb_optimize_layout_euclidean_single_epoch is umap_layout._kernel
    monkeypatch.undo()
    assert umap_setup._release_gil_in_layout()
    assert umap.layouts._nb_optimize_layout_euclidean_single_epoch is umap_layout.epoch


def _epoch_arguments(n_points: int = 50_000, n_edges: int = 1_000_000) -> tuple:
    """One layout epoch's arguments of the types UMAP passes (so the cached code runs), large
    enough that one call takes a while: epoch 5, every edge due, five negative samples each."""
    rng = np.random.default_rng(0)
    embedding = rng.normal(size=(n_points, 5)).astype(np.float32)
    head, tail = (rng.integers(0, n_points, n_edges).astype(np.int32) for _ in range(2))
    every = np.ones(n_edges)
    seeds = rng.integers(0, 2**31, size=(n_points, 3)).astype(np.int64)
    none = np.zeros(1, dtype=np.float32)
    return (embedding, embedding, head, tail, n_points, every, np.float64(1.58),
            np.float64(0.9), seeds, 1.0, 5, True, 1.0, every.copy(), np.zeros(n_edges),
            np.zeros(n_edges), 5, False, none, none.copy(), 0, 0, 0, 0, none.copy(),
            none.copy(), 0)  # fmt: skip


def _longest_stall(kernel: object, arguments: tuple) -> tuple[float, float]:
    """(seconds one call of `kernel` took, longest gap a Python thread saw meanwhile)."""
    gaps, running = [0.0], threading.Event()

    def spin() -> None:
        last = time.perf_counter()
        running.set()
        while running.is_set():
            now = time.perf_counter()
            gaps.append(now - last)
            last = now
        # a thread held at the loop's test resumes to find `running` cleared: its last gap
        # is recorded here, or a whole stall would go unseen
        gaps.append(time.perf_counter() - last)

    thread = threading.Thread(target=spin)
    thread.start()
    running.wait()
    time.sleep(0.05)
    start = time.perf_counter()
    kernel(*arguments)  # type: ignore[operator]
    took = time.perf_counter() - start
    running.clear()
    thread.join()
    return took, max(gaps)


def test_the_layout_epoch_lets_other_python_threads_run() -> None:
    """UMAP's own kernel holds the GIL for a whole epoch: a Python thread stalls as long as
    the call lasts. Behind `epoch`'s GIL-free entry point it keeps running."""
    umap_setup.prepare()
    umap_layout.epoch(*_epoch_arguments(1_000, 10_000))  # loaded from the cache or compiled
    umap_layout._kernel(*_epoch_arguments(1_000, 10_000))
    took, stall = _longest_stall(umap_layout._kernel, _epoch_arguments())
    assert took > 0.1 and stall > 0.8 * took  # the test sees a held GIL
    took, stall = _longest_stall(umap_layout.epoch, _epoch_arguments())
    assert took > 0.1 and stall < 0.5 * took
