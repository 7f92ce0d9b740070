"""Tests for cx_text.lemmas: lemmas, stop words, mixed scripts, pickling."""

from __future__ import annotations

import pickle

import pytest
from sklearn.feature_extraction.text import CountVectorizer

from cx_text.lemmas import (
    NEGATIONS_AND_INTENSIFIERS,
    LemmaTokenizer,
    TokenInfo,
    analyze,
    lemmatize,
    stop_words,
)


def test_russian_inflections_collapse_to_one_lemma() -> None:
    assert lemmatize("доставки, доставку, доставкой") == ["доставка"] * 3
    assert lemmatize("опоздал опоздали") == ["опоздать"] * 2


def test_english_lookup_lemmas() -> None:
    assert lemmatize("deliveries crashed was") == ["delivery", "crash", "be"]


def test_yo_is_normalised_to_ye() -> None:
    assert lemmatize("Ещё пришёл") == ["еще", "прийти"]


def test_survey_slang_and_money_fixes() -> None:
    # pymorphy3 alone gives "норма" and "деньга".
    assert lemmatize("норм деньги денег") == ["нормально", "деньги", "деньги"]


def test_english_negations_and_intensifiers_survive_stop_words() -> None:
    tokens = LemmaTokenizer()("The parcel was not delivered, never again, too slow")
    assert tokens == ["parcel", "not", "deliver", "never", "again", "too", "slow"]


def test_russian_negations_and_intensifiers_survive_stop_words() -> None:
    tokens = LemmaTokenizer()("Курьер не приехал и ничего не объяснил, это очень долго")
    assert tokens == ["курьер", "не", "приехать", "ничего", "не", "объяснить", "очень", "долго"]


def test_contractions_become_not() -> None:
    assert LemmaTokenizer()("I don't like it and I can't log in, wont pay") == [
        "not",
        "like",
        "not",
        "log",
        "not",
        "pay",
    ]


def test_mixed_language_text_is_handled_per_script() -> None:
    assert analyze("Приложение crashes после update") == [
        TokenInfo("приложение", "приложение", "ru"),
        TokenInfo("crashes", "crash", "en"),
        TokenInfo("после", "после", "ru"),
        TokenInfo("update", "update", "en"),
    ]
    # "после" is a Russian stop word, removed by the tokenizer.
    assert LemmaTokenizer()("Приложение crashes после update") == [
        "приложение",
        "crash",
        "update",
    ]


def test_keyboard_layout_homoglyphs_are_repaired() -> None:
    assert lemmatize("дoставкa") == ["доставка"]  # Latin "o" and "a" inside


def test_numbers_punctuation_emoji_urls_and_emails_are_dropped() -> None:
    text = "Call 8-800-555 or mail help@shop.ru http://shop.ru/x?id=1 😡 !!! 100500 a"
    assert LemmaTokenizer()(text) == ["call", "mail"]


def test_stop_word_lists() -> None:
    english, russian = stop_words("en"), stop_words("ru")
    assert {"the", "was", "and", "okay"} <= english
    assert {"и", "это", "после", "ок"} <= russian
    assert not (english | russian) & NEGATIONS_AND_INTENSIFIERS
    assert not any("ё" in word for word in russian)
    assert "und" in stop_words("de")
    assert stop_words("zz") == frozenset()


def test_tokenizer_pickles_without_heavy_state_and_still_works() -> None:
    tokenizer = LemmaTokenizer(remove_stop_words=False)
    tokenizer("прогрев")  # builds the lazy spaCy / pymorphy3 objects first
    payload = pickle.dumps(tokenizer)
    assert len(payload) < 200
    restored = pickle.loads(payload)
    assert restored.remove_stop_words is False
    assert restored("доставкой были недовольны") == ["доставка", "быть", "недовольный"]


@pytest.mark.parametrize("remove", [True, False])
def test_count_vectorizer_integration(remove: bool) -> None:
    docs = ["Доставку не привезли", "The delivery never arrived", "доставка опоздала"]
    vectorizer = CountVectorizer(
        tokenizer=LemmaTokenizer(remove_stop_words=remove), lowercase=False, token_pattern=None
    )
    vectorizer.fit(docs)
    vocabulary = set(vectorizer.vocabulary_)
    assert {"доставка", "delivery", "never", "не"} <= vocabulary
    assert ("the" in vocabulary) is not remove
    restored = pickle.loads(pickle.dumps(vectorizer))
    assert restored.transform(["доставкой"]).sum() == 1
