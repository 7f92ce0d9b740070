"""Tests for cx_text.navec_backend: the offline navec + SIF Russian sentence embedder."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from cx_text import navec_backend
from cx_text.navec_backend import NavecSIFEmbedder, navec_path

LATE = "курьер опоздал с доставкой"
LATE_TOO = "доставку привезли с опозданием"
CRASH = "приложение постоянно вылетает"


@pytest.fixture(scope="module")
def embedder() -> NavecSIFEmbedder:
    return NavecSIFEmbedder()


def test_navec_path_finds_the_file_without_importing_natasha() -> None:
    path = navec_path()
    assert path.is_file()
    assert path.name == "navec_news_v1_1B_250K_300d_100q.tar"
    assert "natasha" not in sys.modules


def test_navec_path_error_is_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="natasha"):
        navec_backend.navec_path()


def test_model_id_and_dimension() -> None:
    assert NavecSIFEmbedder().model_id == "navec:navec_news_v1_1B_250K_300d_100q+sif-lex"
    assert NavecSIFEmbedder(remove_common_component=False).model_id.endswith("+sif-nocc-lex")
    plain = NavecSIFEmbedder(drop_stop_words=False, lexical_weight=0)
    assert plain.model_id.endswith("+sif-stops") and plain.dimension == 300
    assert NavecSIFEmbedder(lexical_dims=256).model_id.endswith("+sif-lex0.7x256")
    assert NavecSIFEmbedder().dimension == 300 + 1024


def test_shape_dtype_and_unit_norm(embedder: NavecSIFEmbedder) -> None:
    vectors = embedder.encode([LATE, LATE_TOO, CRASH])
    assert vectors.shape == (3, embedder.dimension)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


def test_texts_without_known_russian_words_get_zero_vectors(embedder: NavecSIFEmbedder) -> None:
    vectors = embedder.encode(["The courier was late", "", "123 !!!", LATE])
    assert not vectors[:3].any()
    assert np.linalg.norm(vectors[3]) == pytest.approx(1.0, rel=1e-5)


def test_empty_input(embedder: NavecSIFEmbedder) -> None:
    assert embedder.encode([]).shape == (0, embedder.dimension)


def test_vectors_are_deterministic_and_independent_of_the_batch(
    embedder: NavecSIFEmbedder,
) -> None:
    alone = embedder.encode([LATE])
    in_batch = embedder.encode([CRASH, "Ужасный сервис", LATE, LATE_TOO], batch_size=3)
    one_by_one = embedder.encode([CRASH, LATE], batch_size=1)
    np.testing.assert_array_equal(alone[0], in_batch[2])
    np.testing.assert_array_equal(alone[0], one_by_one[1])
    np.testing.assert_array_equal(alone, embedder.encode([LATE]))


def test_semantic_sanity(embedder: NavecSIFEmbedder) -> None:
    late, late_too, crash = embedder.encode([LATE, LATE_TOO, CRASH])
    assert float(late @ late_too) > float(late @ crash)


def test_common_component_removal_changes_vectors() -> None:
    with_cc = NavecSIFEmbedder().encode([LATE])
    without_cc = NavecSIFEmbedder(remove_common_component=False).encode([LATE])
    assert not np.allclose(with_cc, without_cc)


def test_stop_words_do_not_move_the_vector(embedder: NavecSIFEmbedder) -> None:
    # only content words are averaged: pronouns and auxiliaries around them change nothing
    bare, wrapped = embedder.encode(["курьер опоздал", "я вот и курьер это опоздал"])
    np.testing.assert_allclose(bare, wrapped, atol=1e-6)


def test_text_of_stop_words_only_still_gets_a_vector(embedder: NavecSIFEmbedder) -> None:
    assert np.linalg.norm(embedder.encode(["так себе"])[0]) == pytest.approx(1.0, rel=1e-5)


def test_lexical_channel_matches_lemmas_across_word_forms() -> None:
    # same lemmas in other forms: identical lemma bags, so the channel brings the texts closer
    texts = ["промокод не работает", "промокоды не работали"]
    plain = NavecSIFEmbedder(lexical_weight=0).encode(texts)
    lexical = NavecSIFEmbedder().encode(texts)
    assert float(lexical[0] @ lexical[1]) > float(plain[0] @ plain[1])
    np.testing.assert_allclose(lexical[0, 300:], lexical[1, 300:], atol=1e-6)


def test_lexical_buckets_are_stable() -> None:
    # CRC-32 of the UTF-8 lemma, not Python's salted hash(): the same bucket in every process
    assert navec_backend._bucket("доставка", 1024) == (4200410994 % 1024, -1.0)
