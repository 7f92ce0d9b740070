"""Store atomicity, the embedding cache and multi-group theme discovery (hashing embedder)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cx_text import embed, theming
from cx_text.embedding_cache import EmbeddingCache
from cx_text.schemas import UNCLASSIFIED, VERBATIMS
from cx_text.settings import EmbeddingSettings, Settings
from cx_text.store import Store
from tests.conftest import THEME_CORPUS


def _verbatims(texts: list[str], language: str = "en") -> pd.DataFrame:
    n = len(texts)
    frame = pd.DataFrame(
        {
            "verbatim_id": [f"v{i:03d}" for i in range(n)],
            "source": "survey",
            "text": texts,
            "score": [float(i % 11) for i in range(n)],
            "scale": "nps",
            "role": "passive",
            "created_at": pd.Timestamp("2026-11-01"),
            "customer_id": [f"c{i}" for i in range(n)],
            "touchpoint": "delivery",
            "channel": "app",
            "language": language,
            "is_non_answer": False,
            "is_long": False,
            "text_hash": [str(i) for i in range(n)],
            "plan": "basic",
        }
    )
    return VERBATIMS.conform(frame)


def test_failed_transaction_leaves_store_unchanged(tmp_path: Path) -> None:
    store = Store(f"duckdb:///{tmp_path / 's.duckdb'}")
    with store.transaction() as conn:
        store.upsert_verbatims(conn, _verbatims(["first"]), "run1")
    with pytest.raises(RuntimeError), store.transaction() as conn:
        store.upsert_verbatims(conn, _verbatims(["changed", "second"]), "run2")
        raise RuntimeError("crash mid-run")
    stored = store.load_verbatims()
    assert stored["text"].tolist() == ["first"]
    assert stored["plan"].tolist() == ["basic"]  # segments survive the round trip


def test_upsert_replaces_by_id_and_embeddings_round_trip(tmp_path: Path) -> None:
    store = Store(f"duckdb:///{tmp_path / 's.duckdb'}")
    vectors = np.arange(6, dtype=np.float32).reshape(2, 3)
    with store.transaction() as conn:
        store.upsert_verbatims(conn, _verbatims(["a", "b"]), "r1")
        store.upsert_verbatims(conn, _verbatims(["a2"]), "r2")
        store.save_embeddings(conn, "m", ["h1", "h2"], vectors)
    assert store.load_verbatims()["text"].tolist() == ["a2", "b"]
    found = store.load_embeddings("m", ["h2", "h1", "missing"])
    np.testing.assert_array_equal(found["h2"], vectors[1])
    assert set(found) == {"h1", "h2"}
    assert store.load_embeddings("other-model", ["h1"]) == {}


def test_embed_texts_embeds_each_distinct_text_once(hashing_embedder) -> None:
    texts = pd.Series(["late again", "late again", "app crash"])
    hashes = pd.Series(["a", "a", "b"])
    settings = EmbeddingSettings(show_progress=False)
    first = embed.embed_texts(texts, hashes, hashing_embedder, {}, settings)
    assert first.new_hashes == ["a", "b"]
    np.testing.assert_array_equal(first.vectors[0], first.vectors[1])
    cache = dict(zip(first.new_hashes, first.new_vectors, strict=True))
    calls = hashing_embedder.calls
    second = embed.embed_texts(texts, hashes, hashing_embedder, cache, settings)
    assert second.new_hashes == [] and second.n_cached == 2
    assert hashing_embedder.calls == calls  # nothing embedded the second time
    np.testing.assert_array_equal(second.vectors, first.vectors)


def test_resolve_model_uses_the_bundled_copy() -> None:
    path = embed.resolve_model("all-MiniLM-L6-v2")
    assert Path(path).is_dir() and isinstance(path, str)
    assert embed.resolve_model("/some/local/model") == "/some/local/model"
    assert embed.is_multilingual("paraphrase-multilingual-MiniLM-L12-v2")
    assert not embed.is_multilingual("all-MiniLM-L6-v2")


def test_discover_themes_per_language_group_with_cache(hashing_embedder) -> None:
    english = [t for texts in THEME_CORPUS.values() for t in texts]
    russian = [f"курьер опоздал {w}" for w in ("снова", "опять", "на час", "на два часа")] * 4
    russian += [f"приложение вылетает {w}" for w in ("снова", "опять", "при оплате", "утром")] * 4
    frame = pd.concat([_verbatims(english), _verbatims(russian, "ru")], ignore_index=True)
    frame["verbatim_id"] = [f"v{i:03d}" for i in range(len(frame))]
    # the groups on their own: linking them (tests/test_linking.py) would merge the themes
    settings = Settings(embedding={"model": "hash", "russian_model": "hash-ru"},
                        themes={"min_cluster_size": 5, "link_languages": False})  # fmt: skip
    cache: dict[str, np.ndarray] = {}

    def lookup(model_id: str, hashes: list[str]) -> dict[str, np.ndarray]:
        return {h: cache[h] for h in hashes if h in cache}

    embedders = {"hash": hashing_embedder, "hash-ru": hashing_embedder}
    first = EmbeddingCache(lookup, settings.embedding)
    found = theming.fit_themes(frame, settings, first, embedders=embedders)
    assert set(found.themes["language"]) - {"all"} == {"en", "ru"}
    assert len(found.assignments) == len(frame)
    assert found.assignments["verbatim_id"].is_unique
    ru_ids = set(frame.loc[frame["language"] == "ru", "verbatim_id"])
    ru_themes = set(found.assignments.loc[found.assignments["verbatim_id"].isin(ru_ids),
                                          "theme_id"]) - {UNCLASSIFIED}  # fmt: skip
    assert set(found.themes.loc[found.themes["theme_id"].isin(ru_themes), "language"]) == {"ru"}
    for new in first.new:
        cache.update(zip(new.hashes, new.vectors, strict=True))
    second = EmbeddingCache(lookup, settings.embedding)
    again = theming.fit_themes(frame, settings, second, embedders=embedders)
    assert second.new == [] and second.n_cached > 0
    pd.testing.assert_frame_equal(again.assignments, found.assignments)


def test_mentions_find_the_second_theme_of_a_two_topic_comment(hashing_embedder) -> None:
    english = [t for texts in THEME_CORPUS.values() for t in texts]
    english.append(
        "The courier was late again and we waited hours. The app crashes at checkout after update."
    )
    frame = _verbatims(english)
    settings = Settings(embedding={"model": "hash"}, themes={"min_cluster_size": 5,
                                                             "sentence_min_chars": 10})  # fmt: skip
    cache = EmbeddingCache(lambda m, h: {}, settings.embedding)
    found = theming.fit_themes(frame, settings, cache, embedders={"hash": hashing_embedder})
    last = frame["verbatim_id"].iloc[-1]
    mentioned = found.mentions.loc[found.mentions["verbatim_id"] == last, "theme_id"]
    labels = found.themes.set_index("theme_id").loc[mentioned, "label"].str.lower().tolist()
    assert len(mentioned) == 2
    assert any("late" in lab or "delivery" in lab for lab in labels)
    assert any("app" in lab or "crash" in lab for lab in labels)


def test_label_parses_round_trip_per_parser_id(tmp_path: Path) -> None:
    store = Store(f"duckdb:///{tmp_path / 's.duckdb'}")
    first = {"k1": ("late delivery", "courier was late"), "k2": (), "k3": ("курьер опоздал",)}
    with store.transaction() as conn:
        store.save_label_parses(conn, "spacy-a", first)
        store.save_label_parses(conn, "spacy-b", {"k1": ("other parser",)})
    assert store.load_label_parses("spacy-a", ["k1", "k2", "k3", "k4"]) == first
    assert store.load_label_parses("spacy-b", ["k1", "k2"]) == {"k1": ("other parser",)}
    assert store.load_label_parses("spacy-c", ["k1", "k2", "k3"]) == {}
    with store.transaction() as conn:  # a key saved again is replaced, not duplicated
        store.save_label_parses(conn, "spacy-a", {"k1": ("refund not received",)})
    assert store.load_label_parses("spacy-a", ["k1"]) == {"k1": ("refund not received",)}
    assert store.load_label_parses("spacy-b", ["k1"]) == {"k1": ("other parser",)}
    with pytest.raises(RuntimeError), store.transaction() as conn:
        store.save_label_parses(conn, "spacy-a", {"k5": ("lost",)})
        raise RuntimeError("crash before the commit")
    assert store.load_label_parses("spacy-a", ["k5"]) == {}
    store.close()


class _GatedEmbedder:
    """Counts the texts it embeds; its first call waits until `gate` is set (a slow model)."""

    model_id = "test:gated"

    def __init__(self, fail: bool = False) -> None:
        import threading

        self.gate = threading.Event()
        self.embedded: list[str] = []
        self.fail = fail

    def encode(
        self, texts: list[str], batch_size: int = 64, show_progress_bar: bool = False
    ) -> np.ndarray:
        assert self.gate.wait(10)
        if self.fail:
            raise RuntimeError("model failed")
        self.embedded += list(texts)
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)


def test_warm_embeds_beside_the_caller_and_later_calls_wait_for_it() -> None:
    from cx_text.parallel import FanOut

    embedder = _GatedEmbedder()
    cache = EmbeddingCache(lambda m, h: {}, EmbeddingSettings(show_progress=False))
    cache.warm(["seed one", "seed two"], embedder, FanOut())
    assert embedder.embedded == []  # still waiting: warm returned at once
    embedder.gate.set()
    vectors = cache.vectors(["seed two", "new text"], embedder)  # waits for the warm-up first
    assert sorted(embedder.embedded) == ["new text", "seed one", "seed two"]  # each once
    np.testing.assert_array_equal(vectors[:, 0], [8, 8])
    assert cache.n_cached == 1  # "seed two" came from the warm-up; the warm-up counts nothing
    added = [(e.model_id, len(e.hashes)) for e in cache.new]
    assert added == [("test:gated", 2), ("test:gated", 1)]


def test_warm_errors_surface_at_the_next_call_in_that_space(hashing_embedder) -> None:
    from cx_text.parallel import FanOut

    failing = _GatedEmbedder(fail=True)
    failing.gate.set()
    cache = EmbeddingCache(lambda m, h: {}, EmbeddingSettings(show_progress=False))
    cache.warm(["seed"], failing, FanOut())
    assert cache.vectors(["other"], hashing_embedder).shape == (1, 256)  # another space: no wait
    with pytest.raises(RuntimeError, match="model failed"):
        cache.lookup("test:gated", ["h"])
    failing.fail = False
    assert cache.vectors(["seed"], failing).shape == (1, 2)  # raised once, then embedded anew


def test_stop_warming_ends_a_warm_up_after_its_current_step() -> None:
    import threading

    from cx_text.embedding_cache import WARM_STEP
    from cx_text.parallel import FanOut

    embedder = _GatedEmbedder()
    cache = EmbeddingCache(lambda m, h: {}, EmbeddingSettings(show_progress=False))
    texts = [f"seed text {i}" for i in range(3 * WARM_STEP + 5)]
    cache.warm(texts, embedder, FanOut())

    def release_once_stopping() -> None:  # the first step finishes only after the stop
        assert cache._stop_warming.wait(10)
        embedder.gate.set()

    threading.Thread(target=release_once_stopping).start()
    cache.stop_warming()  # returns once the running step is done
    assert embedder.embedded == texts[:WARM_STEP]
    assert cache.vectors(texts[:2], embedder).shape == (2, 2)  # nothing left to wait for
