"""The multilingual encoder reads a verbatim of several sentences part by part
(`sentences.pooled_parts`, `embed.PooledEmbedder`, `themes.pool_sentences`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from cx_text import job, run_polarity, theming
from cx_text.clean import model_text
from cx_text.embed import PooledEmbedder, pooled_by_sentence
from cx_text.embedding_cache import EmbeddingCache
from cx_text.sentences import pooled_parts, split_sentences
from cx_text.settings import EmbeddingSettings, ThemeSettings, load_settings
from tests.conftest import HashingEmbedder
from tests.test_polarity import FakeEncoder

TWO = "The courier was two hours late again. Ok. The refund never reached my card!"


class Recording:
    """Four made-up dimensions per text (a hash of it), remembering every text it embeds."""

    model_id = "test:recording"

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def encode(
        self, texts: list[str], batch_size: int = 64, show_progress_bar: bool = False
    ) -> np.ndarray:
        self.embedded += list(texts)
        rows = [np.random.default_rng(sum(map(ord, t))).normal(size=4) for t in texts]
        vectors = np.asarray(rows, dtype=np.float32).reshape(len(texts), 4)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _cache() -> EmbeddingCache:
    return EmbeddingCache(lambda model_id, hashes: {}, EmbeddingSettings(show_progress=False))


def test_a_text_with_mentions_is_read_part_by_part_and_any_other_whole() -> None:
    # two sentences of at least 25 characters: it has mentions, so every part counts, "Ok." too
    assert pooled_parts(TWO, 25) == ["The courier was two hours late again.", "Ok.",
                                     "The refund never reached my card!"]  # fmt: skip
    assert split_sentences(TWO, 25) == ["The courier was two hours late again.",
                                        "The refund never reached my card!"]  # fmt: skip
    # one long sentence and a short one: no mentions, so the text is read whole
    one = "The courier was two hours late again. Ok."
    assert pooled_parts(one, 25) == [one]
    assert pooled_parts("Courier late", 25) == ["Courier late"]
    assert pooled_parts("Line one is long enough here\nline two is long enough too", 25) == [
        "Line one is long enough here", "line two is long enough too"]  # fmt: skip


def test_a_sentence_is_measured_without_handles_so_mentions_and_parts_agree() -> None:
    """The encoders get a verbatim's model text (no @handles, URLs): its parts must be the
    model texts of its mention sentences, or each would be embedded twice (1,848 of the
    airline export's 13,291 mention sentences were, when a raw "@AmericanAir " counted)."""
    short = "@AmericanAir I tried, EXTREMELY RUDE. And when I asked to speak to HIS supervisor"
    assert split_sentences(short, 25) == ["And when I asked to speak to HIS supervisor"]
    assert pooled_parts(model_text(short), 25) == [model_text(short)]  # no mentions either way
    long = ("@united The flight left four hours late again. Nobody at the gate told us why. "
            "http://t.co/x")  # fmt: skip
    mentions = [model_text(s) for s in split_sentences(long, 25)]
    assert mentions == ["The flight left four hours late again.", "Nobody at the gate told us why."]
    assert set(mentions) <= set(pooled_parts(model_text(long), 25))


def test_a_pooled_vector_is_the_length_weighted_mean_of_its_parts_at_unit_length() -> None:
    inner = Recording()
    pooled = PooledEmbedder(inner, 25)
    vectors = _cache().vectors([TWO, "Courier late"], pooled)
    parts = pooled_parts(TWO, 25)
    own = Recording().encode(parts)
    weights = np.array([len(p) for p in parts], dtype=np.float32)
    expected = (own * weights[:, None]).sum(axis=0)
    np.testing.assert_allclose(vectors[0], expected / np.linalg.norm(expected), atol=2e-3)
    # a text without mentions keeps its own vector (float16 in the cache: to 3 decimals)
    np.testing.assert_allclose(vectors[1], Recording().encode(["Courier late"])[0], atol=2e-3)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # the whole text of several sentences is never embedded
    assert TWO not in inner.embedded
    assert sorted(inner.embedded) == sorted([*parts, "Courier late"])
    assert pooled.model_id == "test:recording+sentences"


def test_parts_are_embedded_once_and_shared_with_the_mention_sentences() -> None:
    inner = Recording()
    cache = _cache()
    pooled = PooledEmbedder(inner, 25)
    mentions = split_sentences(TWO, 25)
    cache.vectors(mentions, pooled)  # polarity scores the mentions first
    cache.vectors([TWO, TWO], pooled)  # then the text, twice: only "Ok." is new
    assert inner.embedded == [*mentions, "Ok."]
    # the cache keeps what was embedded under the encoder's own id; nothing under the pooled one
    assert {e.model_id for e in cache.new} == {"test:recording"}
    assert sum(len(e.hashes) for e in cache.new) == 3
    # the pooled vectors of the same text in two calls are the same
    np.testing.assert_array_equal(cache.vectors([TWO], pooled), cache.vectors([TWO], pooled))
    # and a warm-up embeds the parts too, never the whole text
    warm_inner = Recording()
    warm_cache = _cache()
    from cx_text.parallel import FanOut

    warm_cache.warm([TWO], PooledEmbedder(warm_inner, 25), FanOut())
    warm_cache.vectors([TWO], PooledEmbedder(warm_inner, 25))
    assert sorted(warm_inner.embedded) == sorted(pooled_parts(TWO, 25))


def test_the_setting_and_the_sentence_switch_turn_pooling_off() -> None:
    inner = Recording()
    assert isinstance(pooled_by_sentence(inner, ThemeSettings()), PooledEmbedder)
    assert pooled_by_sentence(inner, ThemeSettings(pool_sentences=False)) is inner
    assert pooled_by_sentence(inner, ThemeSettings(split_sentences=False)) is inner
    with pytest.raises(TypeError):
        PooledEmbedder(PooledEmbedder(inner, 25), 25)
    assert PooledEmbedder(inner, 25).encode([]).shape[0] == 0


class Remembering:
    """Mixed into an encoder: remembers every text it embeds."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded: list[str] = []

    def encode(
        self, texts: list[str], batch_size: int = 64, show_progress_bar: bool = False
    ) -> np.ndarray:
        self.embedded += list(texts)
        return super().encode(texts, batch_size, show_progress_bar)  # type: ignore[misc]


class CountingFake(Remembering, FakeEncoder):
    model_id = "test:fake-polarity-texts"


def _export(path: Path) -> list[str]:
    """Detractors and promoters (the head learns from them), half of them with two sentences."""
    rows = []
    for i in range(40):
        bad = i % 2 == 0
        text = ("The courier was late and rude to me." if bad else
                "The courier was friendly and quick today.")  # fmt: skip
        if i % 4 < 2:  # a second sentence for half of each side
            text += (" The refund never came back to my card." if bad else
                     " The support team answered all my questions.")  # fmt: skip
        rows.append({"id": f"r{i}", "comment": text, "score": 2 if bad else 10,
                     "created_at": f"2026-11-{1 + i % 20:02d}"})  # fmt: skip
    pd.DataFrame(rows).to_csv(path, index=False)
    texts = [model_text(r["comment"]) for r in rows]
    return [t for t in texts if len(split_sentences(t, 25)) > 1]


@pytest.mark.parametrize("pool", [True, False])
def test_a_run_embeds_no_verbatim_of_several_sentences_whole_with_the_multilingual_encoder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pool: bool
) -> None:
    embedder = HashingEmbedder()
    monkeypatch.setattr(theming, "make_embedder", lambda model, settings: embedder)
    encoder = CountingFake()
    monkeypatch.setattr(run_polarity, "make_encoder", lambda *args: encoder)
    data = tmp_path / "export.csv"
    several = _export(data)
    assert len(several) >= 10
    settings = load_settings(
        state_dir=tmp_path / "s", models_dir=tmp_path / "m", language="en",
        themes={"min_cluster_size": 5, "pool_sentences": pool},
        embedding={"show_progress": False}, polarity={"enabled": True},
    )  # fmt: skip
    job.run([str(data)], tmp_path / "out", settings)
    whole = set(several) & set(encoder.embedded)
    if pool:
        assert not whole
        # their sentences were read instead, each once
        assert "The refund never came back to my card." in encoder.embedded
        assert len(encoder.embedded) == len(set(encoder.embedded))
    else:
        assert whole == set(several)  # the head learns from every detractor and promoter
    verbatims = pd.read_parquet(tmp_path / "out" / "verbatims.parquet")
    assert verbatims["polarity"].notna().all()
    by_score = verbatims.groupby("score")["polarity_score"].mean()
    assert by_score.loc[2] < 0 < by_score.loc[10]


def test_linking_reads_verbatims_the_same_way(monkeypatch: pytest.MonkeyPatch) -> None:
    """`linking.link_groups` wraps its encoder as polarity does, so the vectors are shared."""
    from cx_text import linking

    seen: list[Any] = []

    def example_means(part: Any, encoder: Any, cache: Any, per_topic: int) -> Any:
        seen.append(encoder)
        raise StopIteration

    monkeypatch.setattr(linking, "example_means", example_means)
    parts = [type("P", (), {"name": name})() for name in (linking.RUSSIAN, linking.OTHER)]
    inner = Recording()
    with pytest.raises(StopIteration):
        linking.link_groups(parts, ThemeSettings(), _cache(), inner)  # type: ignore[arg-type]
    assert isinstance(seen[0], PooledEmbedder) and seen[0].inner is inner
    seen.clear()
    with pytest.raises(StopIteration):
        linking.link_groups(parts, ThemeSettings(pool_sentences=False), _cache(),  # type: ignore[arg-type]
                            inner)  # fmt: skip
    assert seen[0] is inner


def test_a_verbatim_read_part_by_part_is_known_when_all_its_parts_are_stored() -> None:
    """The polarity cascade asks which texts have e5 vectors from earlier runs: a verbatim
    with mentions has none of its own, only its parts'."""
    from cx_text.clean import text_hash

    parts = pooled_parts(TWO, 25)
    own = Recording().encode([*parts, "Courier late"])
    store = {text_hash(t): v for t, v in zip([*parts, "Courier late"], own, strict=True)}

    def stored(model_id: str, hashes: list[str]) -> dict[str, np.ndarray]:
        assert model_id == "test:recording"  # looked up under the encoder's own id
        return {h: store[h] for h in hashes if h in store}

    cache = EmbeddingCache(stored, EmbeddingSettings(show_progress=False))
    pooled = PooledEmbedder(Recording(), 25)
    known = cache.known_texts([TWO, "Courier late", "Never seen"], pooled, stored_only=True)
    assert set(known) == {TWO, "Courier late"}
    np.testing.assert_allclose(known[TWO], cache.vectors([TWO], pooled)[0], atol=1e-6)
    del store[text_hash("Ok.")]  # one part missing: the verbatim is not known
    fresh = EmbeddingCache(stored, EmbeddingSettings(show_progress=False))
    assert set(fresh.known_texts([TWO, "Courier late"], pooled, stored_only=True)) == {
        "Courier late"}  # fmt: skip
    # embedded in this run: known to a lookup, not to `stored_only`
    fresh.vectors([TWO], pooled)
    assert TWO in fresh.known_texts([TWO], pooled)
    assert TWO not in fresh.known_texts([TWO], pooled, stored_only=True)


# ----------------------------------------------------------------- the theme encoder, part by part


class PoolingRecorder(Remembering, HashingEmbedder):
    """The hashing embedder read as a transformer is (`pool_parts`), remembering every text."""

    pool_parts = True


def _theme_export(path: Path, first: int = 0, day: str = "2026-11-17") -> list[str]:
    """Four themes (tests.conftest.THEME_CORPUS), every other verbatim two sentences of one
    theme; returns the model texts of the ones with mentions."""
    from tests.conftest import THEME_CORPUS

    rows = []
    for block in THEME_CORPUS.values():
        for i, phrase in enumerate(block):
            text = f"{phrase}. {block[(i + 5) % len(block)]}." if i % 2 else phrase
            rows.append({"id": f"v{first + len(rows)}", "comment": text, "created_at": day})
    pd.DataFrame(rows).to_csv(path, index=False)
    texts = [model_text(r["comment"]) for r in rows]
    return [t for t in texts if len(split_sentences(t, 25)) > 1]


def _theme_settings(tmp_path: Path, pool: bool) -> Any:
    return load_settings(
        state_dir=tmp_path / "s", models_dir=tmp_path / "m", language="en",
        themes={"min_cluster_size": 5, "pool_theme_sentences": pool},
        embedding={"show_progress": False}, polarity={"enabled": False},
    )  # fmt: skip


def _saved_ids(settings: Any) -> dict[str, str]:
    from cx_text import models

    saved = models.load_models(settings.models_dir / models.CURRENT)
    assert saved is not None
    return dict(saved.model_ids)


def test_the_theme_encoder_pooling_setting_chooses_transformers_only() -> None:
    from cx_text.embed import JointEmbedder, pooled_theme_encoder

    transformer = PoolingRecorder()
    pooled = pooled_theme_encoder(transformer, ThemeSettings())
    assert isinstance(pooled, PooledEmbedder) and pooled.inner is transformer
    assert pooled.model_id == "test:hashing-256+sentences"
    assert pooled_theme_encoder(transformer, ThemeSettings(pool_theme_sentences=False)) is (
        transformer)  # fmt: skip
    assert pooled_theme_encoder(transformer, ThemeSettings(split_sentences=False)) is transformer
    bag = HashingEmbedder()  # a bag of words (navec's kind): whole texts cost no more
    assert pooled_theme_encoder(bag, ThemeSettings()) is bag
    joined = JointEmbedder(transformer, PoolingRecorder(), 0.3)
    assert pooled_theme_encoder(joined, ThemeSettings()) is joined


@pytest.mark.parametrize("pool", [True, False])
def test_the_theme_encoder_reads_a_verbatim_with_mentions_part_by_part(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pool: bool
) -> None:
    """Its sentences are embedded once (for the mentions and the pool), never the whole text;
    the saved models name the space so a nightly reads new verbatims the same way."""
    embedder = PoolingRecorder()
    monkeypatch.setattr(theming, "make_embedder", lambda model, settings: embedder)
    several = _theme_export(tmp_path / "export.csv")
    assert len(several) == 32
    settings = _theme_settings(tmp_path, pool)
    job.run([str(tmp_path / "export.csv")], tmp_path / "out", settings)
    if pool:
        assert not set(several) & set(embedder.embedded)
        assert len(embedder.embedded) == len(set(embedder.embedded))
        assert "courier late again waited hours." in embedder.embedded
        assert _saved_ids(settings) == {"other": "test:hashing-256+sentences"}
    else:
        assert set(several) <= set(embedder.embedded)
        assert _saved_ids(settings) == {"other": "test:hashing-256"}
    themes = pd.read_csv(tmp_path / "out" / "themes.csv")
    assert (themes["theme_id"] != "unclassified").sum() >= 4  # the four themes either way
    mentions = pd.read_csv(tmp_path / "out" / "mentions.csv")
    assert mentions["verbatim_id"].nunique() >= 32


def test_a_store_fitted_on_whole_texts_keeps_its_space_until_a_refit_and_its_ids_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Upgrading to pooling: the nightly assigns new verbatims in the saved space (whole texts,
    no re-fit needed), and the next re-fit reads part by part and keeps every theme id."""
    embedder = PoolingRecorder()
    monkeypatch.setattr(theming, "make_embedder", lambda model, settings: embedder)
    _theme_export(tmp_path / "old.csv")
    job.run([str(tmp_path / "old.csv")], tmp_path / "out", _theme_settings(tmp_path, False))
    before = set(pd.read_csv(tmp_path / "out" / "themes.csv")["theme_id"]) - {"unclassified"}
    assert len(before) >= 4
    settings = _theme_settings(tmp_path, True)
    new = _theme_export(tmp_path / "new.csv", first=1000, day="2026-11-18")
    # the same texts under new ids: cached, so make one of them new to the encoder
    frame = pd.read_csv(tmp_path / "new.csv")
    frame.loc[1, "comment"] = "courier late again waited hours. courier late again and again."
    frame.to_csv(tmp_path / "new.csv", index=False)
    embedder.embedded.clear()
    job.nightly([str(tmp_path / "new.csv")], tmp_path / "night", settings)
    # read whole, as the saved model was fitted; its new sentence for its mention
    assert embedder.embedded == [
        model_text("courier late again waited hours. courier late again and again."),
        "courier late again and again."]  # fmt: skip
    assert _saved_ids(settings) == {"other": "test:hashing-256"}
    job.weekly("2026-W47", tmp_path / "week", settings)
    assert _saved_ids(settings) == {"other": "test:hashing-256+sentences"}
    after = set(pd.read_csv(tmp_path / "week" / "themes.csv")["theme_id"]) - {"unclassified"}
    assert len(after) >= 4 and after <= before  # no theme got a new id
    assert new  # the re-fit read the verbatims with mentions part by part
    assert not set(new) & set(embedder.embedded)
