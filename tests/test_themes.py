"""ThemeModel on a small corpus with known themes, with the tiny hashing embedder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from cx_text import themes
from cx_text.themes import OUTLIER, ThemeModel


@pytest.fixture(scope="module")
def fitted(theme_corpus, hashing_embedder) -> tuple[ThemeModel, np.ndarray, list[str]]:
    docs, _ = theme_corpus
    vectors = hashing_embedder.encode(docs)
    model = ThemeModel(min_cluster_size=5, embedder=hashing_embedder, random_state=7)
    return model.fit(vectors, docs), vectors, docs


def test_recovers_planted_themes(fitted, theme_corpus) -> None:
    model, _, _ = fitted
    _, truth = theme_corpus
    assert adjusted_rand_score(truth, model.labels_) > 0.9
    assert np.mean(model.labels_ == OUTLIER) < 0.1
    assert len(model.themes_) == 4


def test_theme_table_is_readable(fitted) -> None:
    model, _, docs = fitted
    table = model.themes_
    assert table["size"].sum() + int(np.sum(model.labels_ == OUTLIER)) == len(docs)
    for label in table["label"]:
        assert 1 <= len(label.replace(",", " ").split()) <= 4
        assert "_" not in label and not any(ch.isdigit() for ch in label)
    keywords = " ".join(table["keywords"])
    for word in ("late", "app", "refund", "friendly"):
        assert word in keywords
    assert all(3 <= len(ex) <= 5 for ex in table["examples"])
    assert table["parent"].nunique() <= model.max_parents


def test_examples_are_the_most_central(fitted) -> None:
    model, vectors, docs = fitted
    topic = 0
    members = np.flatnonzero(model.labels_ == topic)
    sims = themes.normalise_rows(vectors[members]) @ model.topic_embeddings_[topic]
    best = docs[members[int(np.argmax(sims))]]
    assert model.themes_.loc[0, "examples"][0] == best


def test_same_data_same_settings_same_themes(fitted, theme_corpus, hashing_embedder) -> None:
    model, vectors, docs = fitted
    again = ThemeModel(min_cluster_size=5, embedder=hashing_embedder, random_state=7)
    again.fit(vectors, docs)
    assert np.array_equal(model.labels_, again.labels_)
    assert model.themes_["label"].tolist() == again.themes_["label"].tolist()


def test_save_load_assign_reproduces_fit(fitted, tmp_path: Path) -> None:
    model, vectors, _ = fitted
    model.save(tmp_path / "m")
    assert (tmp_path / "m" / "centres.safetensors").exists()
    assert (tmp_path / "m" / "bertopic" / "ctfidf.safetensors").exists()
    loaded = ThemeModel.load(tmp_path / "m")
    labels, confidence = loaded.assign(vectors)
    assert np.array_equal(labels, model.labels_)
    np.testing.assert_allclose(confidence, model.confidence_, atol=1e-6)
    assert loaded.themes_["label"].tolist() == model.themes_["label"].tolist()


def test_text_unlike_every_theme_is_unclassified(fitted) -> None:
    model, vectors, _ = fitted
    # a direction orthogonal to every theme centre: similarity 0 < outlier_threshold
    centres = model.topic_embeddings_
    probe = np.ones(vectors.shape[1], dtype=np.float32)
    probe -= centres.T @ np.linalg.lstsq(centres.T, probe, rcond=None)[0]
    labels, confidence = model.assign(probe.reshape(1, -1))
    assert labels.tolist() == [OUTLIER]
    assert abs(float(confidence[0])) < 1e-5


@pytest.mark.parametrize(
    ("keywords", "label"),
    [
        (["late delivery", "delivery", "courier", "late"], "Late delivery, courier"),
        (["app", "app crash", "crash"], "App, crash"),
        (["refund"], "Refund"),
        ([], "Misc"),
    ],
)
def test_make_label(keywords: list[str], label: str) -> None:
    assert themes.make_label(keywords) == label


@pytest.mark.parametrize(
    ("keywords", "docs", "label"),
    [
        # lemma bigrams are shown as customers wrote them, adjectives agreeing with the noun
        (["помятый коробка", "курьер"], ["Пришла помятая коробка", "помятую коробку оставили"],
         "Помятая коробка, курьер"),
        # dangling negations / intensifiers and verb-first fragments are skipped
        (["код не", "курьер очень", "оспаривать платеж", "промокод"], ["код не подходит"],
         "Промокод"),
        (["сказать", "срок доставка"], ["сроки доставки сорваны", "сказали ждать"],
         "Сроки доставки"),
        # two words of different phrases ("от проблемы ушел") are not a phrase
        (["проблема уйти", "хамство"], ["от проблемы ушел оператор"], "Хамство"),
        (["deliver time", "box arrive", "damage"], ["the box arrived damaged"],
         "Box arrived, damage"),
        # an intensifier starts a label only before an adjective or adverb
        (["always order", "always late"], ["always late", "always order late"], "Always late"),
        # nothing reads as a phrase: the first keyword as it is rather than "Misc"
        (["очень"], ["очень"], "Очень"),
    ],
)  # fmt: skip
def test_labels_read_naturally(keywords: list[str], docs: list[str], label: str) -> None:
    assert themes.make_label(keywords, themes.phrase_surfaces(docs)) == label


def test_phrase_surfaces_map_lemmas_to_wordings() -> None:
    surfaces = themes.phrase_surfaces(["Курьеры опоздали", "курьер опоздал", "курьеры опоздали"])
    assert surfaces["курьер опоздать"].most_common(1)[0] == ("курьеры опоздали", 2)
    assert surfaces["курьер"]["курьер"] == 1


def test_parent_label_without_wordings_agrees() -> None:
    # parent labels combine children's keywords; lemmas alone still make an agreeing phrase
    assert themes.make_label(["быстрый доставка", "курьер"]) == "Быстрая доставка, курьер"


def test_min_cluster_size_scales_with_corpus() -> None:
    sizes = [themes.scaled_min_cluster_size(n) for n in (100, 3000, 6500, 100_000)]
    assert sizes == sorted(sizes)
    assert sizes[0] == 5
    assert themes.scaled_min_cluster_size(3000, divisor=100) > themes.scaled_min_cluster_size(3000)


def _trunk(separation: float) -> tuple[np.ndarray, np.ndarray]:
    """5-d points like UMAP coordinates: four overlapping groups (a trunk of 86%) and a far
    one; the four are `separation` standard deviations apart along one axis."""
    rng = np.random.default_rng(0)
    groups = [rng.normal(np.r_[separation * k, 0, 0, 0, 0], 1.0, (300, 5)) for k in range(4)]
    groups.append(rng.normal(np.r_[0, 40, 0, 0, 0], 1.0, (200, 5)))
    return np.vstack(groups), np.repeat(np.arange(5), [300, 300, 300, 300, 200])


def test_no_theme_swallows_most_of_a_large_corpus() -> None:
    """Excess of mass alone picks the trunk of the tree (1,200 of 1,400 points) as one
    cluster; cx-text's clusterer finds the groups inside it instead."""
    points, truth = _trunk(separation=6.0)
    found = themes.clusterer(len(points), 30).fit_predict(points)
    sizes = np.bincount(found[found >= 0])
    assert sizes.max() <= len(points) / 2 and len(sizes) >= 4
    clustered = found >= 0
    assert adjusted_rand_score(truth[clustered], found[clustered]) > 0.9
    unbounded = themes.clusterer(999, 30).fit_predict(points)  # below MAX_CLUSTER_FROM
    assert np.bincount(unbounded[unbounded >= 0]).max() >= 1200


def test_backend_declares_how_it_clusters(hashing_embedder) -> None:
    class Noisy:
        min_cluster_divisor = 100
        refine_iterations = 0

    assert ThemeModel(embedder=hashing_embedder)._min_cluster_size(3400) == 20
    assert ThemeModel(embedder=hashing_embedder)._refine_iterations() == 10
    assert ThemeModel(embedder=Noisy())._min_cluster_size(3400) == 34
    assert ThemeModel(embedder=Noisy())._refine_iterations() == 0
    assert ThemeModel(min_cluster_size=12, embedder=Noisy())._min_cluster_size(3400) == 12


def test_refine_without_iterations_keeps_core_centres() -> None:
    rng = np.random.default_rng(1)
    points = np.vstack([np.eye(2, 6)[i] + 0.1 * rng.standard_normal((12, 6)) for i in (0, 1)])
    initial = np.array([0] * 6 + [OUTLIER] * 6 + [1] * 6 + [OUTLIER] * 6)
    labels, centres, _ = themes.refine(points.astype(np.float32), initial, 0.3, 3, 0)
    cores = themes.centroids(themes.normalise_rows(points), initial, 2)
    np.testing.assert_allclose(np.sort(centres, axis=0), np.sort(cores, axis=0), atol=1e-6)
    assert np.array_equal(labels, themes.nearest(points, centres, 0.3)[0])


def test_refine_drops_a_centre_no_document_chooses() -> None:
    points = np.eye(3, 4, dtype=np.float32).repeat(5, axis=0)
    initial = np.repeat([0, 1, 2], 5)
    initial[[0, 5, 10]] = 3  # one document of each group: its centre is nobody's nearest
    labels, centres, _ = themes.refine(points, initial, 0.3, 3, 0)
    assert len(centres) == 3 and set(labels) == {0, 1, 2}
    assert np.array_equal(labels, np.repeat([0, 1, 2], 5))


def test_refine_assigns_every_doc_to_nearest_centre() -> None:
    rng = np.random.default_rng(0)
    centres = np.eye(3, 8, dtype=np.float32)
    points = np.vstack([c + 0.05 * rng.standard_normal((10, 8)) for c in centres])
    initial = np.array([0] * 10 + [1] * 10 + [OUTLIER] * 10)  # third cluster unknown
    labels, found, _ = themes.refine(points.astype(np.float32), initial, 0.5, 3)
    assert len(found) == 2
    assert (labels[20:] == OUTLIER).all()  # too far from both known centres
    assert (labels[:10] == labels[0]).all() and (labels[10:20] == labels[10]).all()


def test_refine_merges_clusters_of_near_identical_texts_and_nothing_else() -> None:
    """HDBSCAN split one template ("the courier was N hours late") into three clusters whose
    centres are at cosine ~0.99, beside a distinct theme and a related but different one (cosine
    0.6): with `merge_threshold` 0.95 the three are one theme and the others stay apart; with
    1.0 (never) all five stay. Labels are still each document's nearest centre."""
    rng = np.random.default_rng(4)
    axis = np.eye(4, 16, dtype=np.float32)
    late = axis[0]
    split = [late + 0.12 * axis[1] * sign for sign in (-1, 0, 1)]  # cosine >= 0.986 to each other
    related = 0.6 * late + 0.8 * axis[2]
    centres = [*split, axis[3], related]
    points = np.vstack([c + 0.02 * rng.standard_normal((8, 16)) for c in centres]).astype(
        np.float32
    )
    initial = np.repeat(np.arange(5), 8)
    labels, found, _ = themes.refine(points, initial, 0.3, 3, 0, merge_threshold=0.95)
    assert len(found) == 3
    assert len(set(labels[:24])) == 1 and len({labels[0], labels[24], labels[32]}) == 3
    assert np.array_equal(labels, themes.nearest(points, found, 0.3)[0])
    kept, found, _ = themes.refine(points, initial, 0.3, 3, 0, merge_threshold=1.0)
    assert len(set(kept)) == 5
    assert len(found) == 5
    # a chain joins: a~b and b~c merge a, b and c even when a and c are further apart
    chain = np.array([[1.0, 0.0], [0.97, 0.243], [0.88, 0.475]], dtype=np.float32)
    chain = themes.normalise_rows(chain)
    merged = themes.merge_close(chain, np.arange(3), chain, 0.96)
    assert len(merged) == 1 and float(chain[0] @ chain[2]) < 0.96


def test_exact_neighbours_match_brute_force_search() -> None:
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(700, 16)).astype(np.float32)
    vectors[5] = vectors[4] * 2  # an exact duplicate direction: still itself first
    indices, distances = themes.exact_neighbours(vectors, 10, block=128)  # several blocks
    assert indices.shape == distances.shape == (700, 10)
    np.testing.assert_array_equal(indices[:, 0], np.arange(700))
    assert (distances[:, 0] == 0).all() and (np.diff(distances, axis=1) >= -1e-6).all()
    assert indices[4, 1] == 5 and indices[5, 1] == 4 and distances[4, 1] < 1e-6
    brute = NearestNeighbors(n_neighbors=10, metric="cosine", algorithm="brute").fit(vectors)
    want_d, want_i = brute.kneighbors(vectors)
    np.testing.assert_allclose(distances[:, 1:], want_d[:, 1:], atol=1e-5)
    # same neighbour sets (order may differ only between equal distances)
    same = [set(a) == set(b) for a, b in zip(indices[:, 1:], want_i[:, 1:], strict=True)]
    assert np.mean(same) > 0.99


def test_large_fits_give_umap_exact_neighbours(monkeypatch) -> None:
    """From UMAP_EXACT_BELOW points on, UMAP gets `exact_neighbours` instead of NN-descent."""
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(300, 8)).astype(np.float32)
    model = ThemeModel(min_cluster_size=10)
    assert model._bertopic(vectors).umap_model.precomputed_knn == (None, None, None)
    monkeypatch.setattr(themes, "UMAP_EXACT_BELOW", 200)
    knn = model._bertopic(vectors).umap_model.precomputed_knn
    np.testing.assert_array_equal(knn[0], themes.exact_neighbours(vectors, 15)[0])
    # too much work for an exact search (n^2 x dims): NN-descent again
    monkeypatch.setattr(themes, "EXACT_NEIGHBOURS_WORK", 300**2 * 8 - 1)
    assert model._bertopic(vectors).umap_model.precomputed_knn == (None, None, None)


def test_bertopic_warnings_about_what_cx_text_does_on_purpose_are_not_printed(
    theme_corpus, hashing_embedder, tmp_path: Path
) -> None:
    """BERTopic warns (through a handler of its own, so `--quiet` printed it) when topics are
    set from cx-text's refined clustering and when a model is saved without its embedding
    model; both are by design. Its other warnings still reach its log."""
    import logging

    records: list[str] = []

    class Recorder(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    log = logging.getLogger("BERTopic")
    recorder = Recorder()
    log.addHandler(recorder)
    try:
        docs, _ = theme_corpus
        model = ThemeModel(min_cluster_size=5, embedder=hashing_embedder, random_state=7)
        model.fit(hashing_embedder.encode(docs), docs).save(tmp_path / "m")
        log.warning("WARNING: something cx-text did not expect")
    finally:
        log.removeHandler(recorder)
    assert records == ["WARNING: something cx-text did not expect"]
