"""Sentences of a verbatim: what mentions are cut from, and what the multilingual encoder reads.

One rule for both: a verbatim is split where a sentence ends (after . ! ? … followed by space)
and at line breaks. Mentions are its sentences of at least `sentence_min_chars`, when it has two
or more of them (`theming.sentence_rows`). A sentence's length is its model text's
(`clean.model_text`: without @handles, URLs and retweet markers), so the verbatim's own model
text, which the encoders are given, splits into the same sentences as its mentions: an
"@airline " in front of a short sentence does not make it a mention of its own. The encoders
(`embed.PooledEmbedder`: e5 for linking and polarity, and the theme encoder) read such a
verbatim part by part, every part however short, so a text is embedded once, not once whole
and again sentence by sentence.
"""

from __future__ import annotations

import re

from cx_text.clean import model_text

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")


def _parts(text: str) -> list[str]:
    return [p.strip() for p in _SENTENCE_END.split(text) if p and p.strip()]


def long_enough(part: str, min_chars: int) -> bool:
    """Whether a sentence can be a mention: `min_chars` or more in its model text."""
    return len(model_text(part)) >= min_chars


def split_sentences(text: str, min_chars: int) -> list[str]:
    """Sentences long enough to carry a theme of their own."""
    return [p for p in _parts(text) if long_enough(p, min_chars)]


def pooled_parts(text: str, min_chars: int) -> list[str]:
    """The parts a pooled vector of `text` is made of: every sentence (however short) of a text
    with at least two sentences of `min_chars` (one that has mentions), else the text itself."""
    parts = _parts(text)
    return parts if sum(long_enough(p, min_chars) for p in parts) >= 2 else [text]
