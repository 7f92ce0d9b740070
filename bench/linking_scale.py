"""Linking's neighbour vote at 1M verbatims: seconds and answers, bounded and unbounded.

`linking.vote` gives each sampled Russian verbatim the English theme most of its 10 nearest
English verbatims belong to: a product of (Russian verbatims x English neighbours) and a top-k
per row. How many of each there are is what `themes.link_members` (per theme) and
`themes.link_sample` (in all) bound. This bench builds the shapes a run of `--russian-themes`
and `--english-themes` themes of `--theme-size` verbatims each gives (unit vectors around one
centre per theme, 384 dimensions as multilingual-e5-small's), and times:

- `before`: the vote as it was until 2026-12-01 (numpy `argpartition` and a Python tally per
  row), on the samples `link_members` alone allowed;
- `after, link_members only`: today's vote on the same samples (the same answers is checked);
- `after, link_sample`: today's vote on the samples both settings allow (the default run).

    PYTHONPATH=. .venv/bin/python bench/linking_scale.py [--russian-themes 80 --english-themes 90]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cx_text import linking  # noqa: E402
from cx_text.settings import ThemeSettings  # noqa: E402
from cx_text.themes import normalise_rows  # noqa: E402

DIM = 384


def vote_before(rows: np.ndarray, neighbours: linking.Neighbours, k: int) -> np.ndarray:
    """`linking.vote` until 2026-12-01: argpartition, then a tally row by row."""
    k = min(k, len(neighbours.vectors))
    n_topics = max(len(neighbours.sizes), int(neighbours.owners.max(initial=-1)) + 1)
    sizes = np.zeros(n_topics)
    sizes[: len(neighbours.sizes)] = neighbours.sizes
    out = np.zeros(len(rows), dtype=int)
    block = max(1, 8_000_000 // max(len(neighbours.vectors), 1))
    for start in range(0, len(rows), block):
        sims = rows[start : start + block] @ neighbours.vectors.T
        near = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        for i, (found, cosines) in enumerate(
            zip(near, np.take_along_axis(sims, near, 1), strict=True)
        ):
            topics = neighbours.owners[found]
            counts = np.bincount(topics, minlength=n_topics)
            closeness = np.bincount(topics, weights=cosines, minlength=n_topics)
            tied = np.flatnonzero(counts == counts.max())
            out[start + i] = int(tied[np.lexsort((closeness[tied], sizes[tied]))[-1]])
    return out


def sample(
    rng: np.random.Generator, centres: np.ndarray, labels: np.ndarray, per_topic: int
) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors of up to `per_topic` verbatims of each theme, and their themes."""
    owners = np.concatenate([np.flatnonzero(labels == t)[:per_topic] for t in range(len(centres))])
    noise = rng.normal(scale=0.06, size=(len(owners), DIM)).astype(np.float32)
    return normalise_rows(centres[labels[owners]] + noise), labels[owners]


def timed(name: str, call: object) -> np.ndarray:
    start = time.perf_counter()
    out = call()  # type: ignore[operator]
    print(f"{name}: {time.perf_counter() - start:.1f} s", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--russian-themes", type=int, default=80)
    parser.add_argument("--english-themes", type=int, default=90)
    parser.add_argument("--theme-size", type=int, default=5000, help="verbatims per theme")
    parser.add_argument("--skip-before", action="store_true", help="not the old vote (slow)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    settings = ThemeSettings()
    # English themes; each Russian theme reads like one of them (a translation of its concept)
    english = normalise_rows(rng.normal(size=(args.english_themes, DIM)).astype(np.float32))
    concept = rng.integers(0, args.english_themes, args.russian_themes)
    russian = normalise_rows(english[concept] + rng.normal(scale=0.03, size=(len(concept), DIM)))
    ru_labels = np.repeat(np.arange(args.russian_themes), args.theme_size)
    en_labels = np.repeat(np.arange(args.english_themes), args.theme_size)
    k = settings.link_neighbours

    def shapes(ru_per: int, budget: int) -> tuple[np.ndarray, np.ndarray, linking.Neighbours]:
        rows, themes = sample(rng, russian.astype(np.float32), ru_labels, ru_per)
        sizes = linking.topic_sizes(en_labels, args.english_themes)
        en_per = linking.topic_share(sizes, min(linking.NEIGHBOURS_PER_LINKED * len(rows),
                                                budget), settings.link_members)  # fmt: skip
        vectors, owners = sample(rng, english, en_labels, en_per)
        return rows, concept[themes], linking.Neighbours(vectors, owners, sizes)

    linking.nearest_k(np.zeros((1, k), np.float32), k)  # torch imported before any timing
    unbounded = ThemeSettings(link_sample=1_000_000)
    rows, _, neighbours = shapes(linking.linked_per_topic(ru_labels, unbounded), 1_000_000)
    print(f"link_members only: {len(rows):,} Russian x {len(neighbours.vectors):,} English")
    after = timed("after, link_members only", lambda: linking.vote(rows, neighbours, k))
    if not args.skip_before:
        before = timed("before, link_members only", lambda: vote_before(rows, neighbours, k))
        print(f"same answers: {np.mean(before == after):.4f} of the rows")
    bounded_rows, truth, bounded = shapes(linking.linked_per_topic(ru_labels, settings),
                                   settings.link_sample)  # fmt: skip
    print(f"link_sample {settings.link_sample:,}: {len(bounded_rows):,} Russian x "
          f"{len(bounded.vectors):,} English")  # fmt: skip
    voted = timed("after, link_sample", lambda: linking.vote(bounded_rows, bounded, k))
    right = np.mean(voted == truth)
    print(f"Russian verbatims voted to their concept's English theme: {right:.3f}")


if __name__ == "__main__":
    main()
