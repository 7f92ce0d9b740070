"""Sentences of a verbatim: what mentions are cut from, and what the multilingual encoder reads.

One rule for both: a verbatim is split where a sentence ends (after . ! ? … followed by space)
and at line breaks. Mentions are its sentences of at least `sentence_min_chars`, when it has two
or more of them (`theming.sentence_rows`). The multilingual encoder (linking and polarity,
`embed.PooledEmbedder`) reads such a verbatim part by part, every part however short, so a
text is embedded once, not once whole and again sentence by sentence.
"""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")


def _parts(text: str) -> list[str]:
    return [p.strip() for p in _SENTENCE_END.split(text) if p and p.strip()]


def split_sentences(text: str, min_chars: int) -> list[str]:
    """Sentences long enough to carry a theme of their own."""
    return [p for p in _parts(text) if len(p) >= min_chars]


def pooled_parts(text: str, min_chars: int) -> list[str]:
    """The parts a pooled vector of `text` is made of: every sentence (however short) of a text
    with at least two sentences of `min_chars` (one that has mentions), else the text itself."""
    parts = _parts(text)
    return parts if sum(len(p) >= min_chars for p in parts) >= 2 else [text]
