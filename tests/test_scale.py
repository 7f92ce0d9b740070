"""Scale: fitting on a bounded sample, float16 vectors in the store (hashing embedder)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sklearn.metrics import homogeneity_score

from cx_text import embed, theming
from cx_text.embedding_cache import EmbeddingCache
from cx_text.schemas import UNCLASSIFIED
from cx_text.settings import EmbeddingSettings, Settings
from cx_text.store import EMBEDDINGS_TABLE, Store, decode_vector, encode_vector
from tests.conftest import THEME_CORPUS
from tests.test_store_embed import _verbatims

TAILS = ("", " today", " again", " this week", " honestly", " at last", " as usual")


def _corpus() -> tuple[pd.DataFrame, np.ndarray]:
    """448 verbatims of four separable themes over eight weeks, two languages."""
    texts, truth = [], []
    for number, phrases in enumerate(THEME_CORPUS.values()):
        for tail in TAILS:
            texts.extend(p + tail for p in phrases)
            truth.extend([number] * len(phrases))
    frame = _verbatims(texts)
    frame["verbatim_id"] = [f"v{i:04d}" for i in range(len(frame))]
    frame["created_at"] = pd.Timestamp("2026-09-07") + pd.to_timedelta(
        np.arange(len(frame)) % 56, unit="D"
    )
    frame.loc[frame.index % 5 == 0, "language"] = "de"  # a second language in the same group
    return frame, np.array(truth)


def test_fit_sample_is_seeded_sized_and_stratified() -> None:
    frame, _ = _corpus()
    rows = theming.fit_sample(frame, 100, seed=42)
    assert abs(len(rows) - 100) <= 16  # each stratum rounds its share
    np.testing.assert_array_equal(rows, theming.fit_sample(frame, 100, seed=42))
    assert not np.array_equal(rows, theming.fit_sample(frame, 100, seed=7))
    sampled = frame.iloc[rows]
    assert sampled["created_at"].dt.isocalendar().week.nunique() == 8
    assert set(sampled["language"]) == {"en", "de"}
    assert len(theming.fit_sample(frame, None, 0)) == len(frame)
    assert len(theming.fit_sample(frame, 10_000, 0)) == len(frame)


def test_fit_on_a_sample_themes_every_document(hashing_embedder) -> None:
    frame, truth = _corpus()
    settings = Settings(embedding={"model": "hash"},
                        themes={"min_cluster_size": 5, "max_fit_docs": 120})  # fmt: skip
    found = theming.fit_themes(
        frame, settings, _cache(settings), embedders={"hash": hashing_embedder}
    )
    assignments = found.assignments.set_index("verbatim_id").loc[frame["verbatim_id"]]
    assert len(assignments) == len(frame)  # every document: a theme or unclassified
    themed = assignments["theme_id"] != UNCLASSIFIED
    assert themed.mean() > 0.95
    # every theme holds one planted theme (the hashing space may split one planted theme in two)
    assert homogeneity_score(truth[themed], assignments["theme_id"][themed]) > 0.95
    # sizes count every document, not only the fitted sample
    sizes = found.themes.set_index("theme_id")["size"]
    assert sizes.sum() == len(frame)
    # the fitted sample keeps its fit-time theme
    model = found.models["other"]
    rows = theming.fit_sample(frame, 120, settings.themes.random_state)
    fit_ids = theming.resolve_ids(model.labels_, found.topic_ids["other"])
    assert assignments["theme_id"].iloc[rows].tolist() == fit_ids


def test_sample_fit_assigns_like_a_saved_model(hashing_embedder) -> None:
    frame, _ = _corpus()
    settings = Settings(embedding={"model": "hash"},
                        themes={"min_cluster_size": 5, "max_fit_docs": 120})  # fmt: skip
    found = theming.fit_themes(
        frame, settings, _cache(settings), embedders={"hash": hashing_embedder}
    )
    saved = theming.SavedThemes(found.models, found.topic_ids, found.model_ids, found.themes)
    again = theming.assign_themes(frame, settings, _cache(settings), saved,
                                   {"hash": hashing_embedder})  # fmt: skip
    pd.testing.assert_series_equal(again.assignments["theme_id"], found.assignments["theme_id"])


def test_vectors_are_rounded_to_float16_once(hashing_embedder) -> None:
    texts = pd.Series(["late again", "app crash"])
    result = embed.embed_texts(texts, pd.Series(["a", "b"]), hashing_embedder, {},
                               EmbeddingSettings(show_progress=False))  # fmt: skip
    assert result.vectors.dtype == np.float32
    np.testing.assert_array_equal(result.vectors, embed.as_stored(result.vectors))
    raw = hashing_embedder.encode(texts.tolist())
    assert np.abs(result.vectors - raw).max() < 1e-3


def test_float16_round_trip_and_old_float32_blobs(tmp_path: Path) -> None:
    store = Store(f"duckdb:///{tmp_path / 's.duckdb'}")
    vectors = embed.as_stored(np.random.default_rng(0).normal(size=(2, 384)))
    with store.transaction() as conn:
        store.save_embeddings(conn, "m", ["h1", "h2"], vectors)
        old = np.linspace(-1, 1, 384, dtype=np.float32)  # written before float16 storage
        conn.execute(EMBEDDINGS_TABLE.insert(),
                     [{"model_id": "m", "text_hash": "old", "vector": old.tobytes()}])  # fmt: skip
    found = store.load_embeddings("m", ["h1", "h2", "old"])
    np.testing.assert_array_equal(found["h1"], vectors[0])  # exact: rounded before storing
    np.testing.assert_array_equal(found["old"], old)
    assert found["h1"].dtype == found["old"].dtype == np.float32
    with store.engine.connect() as conn:
        blob = conn.execute(sa.select(EMBEDDINGS_TABLE.c.vector).where(
            EMBEDDINGS_TABLE.c.text_hash == "h1")).scalar_one()  # fmt: skip
    assert len(blob) == 4 + 384 * 2  # half the size of float32
    # a 768-dim float16 blob has the length of a 384-dim float32 one: the magic tells them apart
    wide = embed.as_stored(np.ones(768))
    np.testing.assert_array_equal(decode_vector(encode_vector(wide)), wide)
    store.close()


def test_nearest_in_blocks_equals_one_block(monkeypatch) -> None:
    from cx_text import themes

    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(50, 8)).astype(np.float32)
    centres = themes.normalise_rows(rng.normal(size=(3, 8)))
    whole = themes.nearest(vectors, centres, 0.2)
    monkeypatch.setattr(themes, "_BLOCK", 7)
    blocks = themes.nearest(vectors, centres, 0.2)
    np.testing.assert_array_equal(whole[0], blocks[0])
    np.testing.assert_allclose(whole[1], blocks[1], rtol=1e-6)
    assert (whole[0] == themes.OUTLIER).any() and (whole[0] != themes.OUTLIER).any()


class _Counting:
    """Wraps an embedder and records every text it is asked to embed."""

    def __init__(self, inner) -> None:
        self.inner, self.model_id, self.texts = inner, inner.model_id, []

    def encode(self, texts, batch_size=64, show_progress_bar=False):
        self.texts.extend(texts)
        return self.inner.encode(texts, batch_size, show_progress_bar)


def _two_sentence_corpus() -> pd.DataFrame:
    frame, _ = _corpus()
    phrases = list(THEME_CORPUS.values())
    two = frame.index % 3 == 0  # every third verbatim talks about a second theme too
    frame.loc[two, "text"] = [f"{t}. {phrases[(i + 1) % 4][i % 16]} today."
                              for i, t in zip(frame.index[two], frame.loc[two, "text"],
                                              strict=True)]  # fmt: skip
    return frame


@pytest.mark.parametrize("max_fit_docs", [120, None])
def test_block_by_block_equals_one_pass_and_embeds_each_text_once(
    hashing_embedder, monkeypatch, max_fit_docs
) -> None:
    frame = _two_sentence_corpus()
    settings = Settings(embedding={"model": "hash"},
                        themes={"min_cluster_size": 5, "max_fit_docs": max_fit_docs})  # fmt: skip

    caches: dict[int, EmbeddingCache] = {}

    def run(block_rows: int) -> tuple[theming.Discovery, _Counting]:
        monkeypatch.setattr(theming, "BLOCK_ROWS", block_rows)
        counting = _Counting(hashing_embedder)
        cache = EmbeddingCache(lambda m, h: {}, settings.embedding)
        found = theming.fit_themes(frame, settings, cache, embedders={"hash": counting})
        caches[id(found)] = cache
        return found, counting

    whole, whole_calls = run(100_000)
    blocks, block_calls = run(50)  # 448 verbatims: 9 blocks
    for name in ("assignments", "mentions", "themes"):
        pd.testing.assert_frame_equal(getattr(blocks, name), getattr(whole, name), obj=name)
    assert len(blocks.mentions) > len(blocks.assignments[lambda f: f["theme_id"] != UNCLASSIFIED])
    # every distinct text (verbatims, sentences, keyword candidates) embedded once, in
    # whichever pass; the block-wise run embeds the same texts
    new = {}
    for calls, found in ((whole_calls, whole), (block_calls, blocks)):
        assert len(calls.texts) == len(set(calls.texts))
        hashes = [h for e in caches[id(found)].new for h in e.hashes]
        assert len(hashes) == len(set(hashes)) > len(frame)
        assert all(e.vectors.dtype == np.float16 for e in caches[id(found)].new)
        new[id(found)] = sorted(hashes)
    assert new[id(blocks)] == new[id(whole)]
    assert sorted(block_calls.texts) == sorted(whole_calls.texts)


def test_nightly_assignment_block_by_block_equals_one_pass(hashing_embedder, monkeypatch) -> None:
    frame = _two_sentence_corpus()
    settings = Settings(embedding={"model": "hash"}, themes={"min_cluster_size": 5})
    embedders = {"hash": hashing_embedder}
    found = theming.fit_themes(frame, settings, _cache(settings), embedders=embedders)
    saved = theming.SavedThemes(found.models, found.topic_ids, found.model_ids, found.themes)
    whole = theming.assign_themes(frame, settings, _cache(settings), saved, embedders)
    monkeypatch.setattr(theming, "BLOCK_ROWS", 64)
    blocks = theming.assign_themes(frame, settings, _cache(settings), saved, embedders)
    pd.testing.assert_frame_equal(blocks.assignments, whole.assignments)
    pd.testing.assert_frame_equal(blocks.mentions, whole.mentions)
    pd.testing.assert_frame_equal(whole.assignments, found.assignments)


def _cache(settings: Settings) -> EmbeddingCache:
    """An embedding cache over an empty store."""
    return EmbeddingCache(lambda m, h: {}, settings.embedding)
