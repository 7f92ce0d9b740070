"""Alternatives to cx-text's final theme assignment, over many UMAP seeds, on labelled data.

`bench/theme_quality.py` compares cx-text with other products; this script asks what else the
themes step could do with the same UMAP layout and HDBSCAN clusters (built by
`ThemeModel._bertopic`, so every parameter is the default one), and how much of each figure is
the UMAP draw. For every seed it prints NMI / ARI (every document counted, unclassified = one
cluster) of:

  - default: cx-text's refinement (spherical k-means in the full embedding space, started from
    the HDBSCAN clusters; what `ThemeModel.fit` returns);
  - zoom: every theme of at least 3 x min_cluster_size is clustered again on its own (a local
    UMAP + HDBSCAN with the same settings); a split is kept when its parts are separated in the
    full space (cosine silhouette >= 0.15), then the refinement runs again;
  - umap-nearest: HDBSCAN clusters, the rest to the nearest cluster mean in UMAP space;
  - logistic: a logistic regression (C = 10) trained on the HDBSCAN clusters labels everything;
  - and, for reference, k-means told the true k and the nearest true-label centroid (a ceiling
    for any method that assigns by centres in this embedding space).

Each row also gives the parent ARI (Ward groups of the theme centres, as cx-text builds them),
the figure that matters where the labels are coarse (airline).

    .venv/bin/python bench/theme_alternatives.py [--sets banking77,airline] [--seeds 1,2,42]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import silhouette_score

from cx_text.embed import SentenceTransformerEmbedder
from cx_text.settings import ThemeSettings
from cx_text.themes import ThemeModel, centroids, nearest, normalise_rows, parent_groups, refine

sys.path.insert(0, str(Path(__file__).resolve().parent))
from theme_quality import SETS, SHARED, embed, scores

ZOOM_FACTOR = 3  # themes at least this many times min_cluster_size are clustered again
ZOOM_SILHOUETTE = 0.15  # full-space separation a split needs to be kept


def _model() -> ThemeModel:
    defaults = ThemeSettings()
    return ThemeModel(outlier_threshold=defaults.outlier_threshold,
                      max_parents=defaults.max_parents,
                      embedder=SentenceTransformerEmbedder(torch_threads=2))  # fmt: skip


def _zoom(
    vectors: np.ndarray, labels: np.ndarray, model: ThemeModel, mcs: int, seed: int
) -> np.ndarray:
    """Split themes that fall apart when clustered on their own; -1 for the parts' outliers."""
    unit = normalise_rows(vectors)
    out = labels.copy()
    next_label = labels.max() + 1
    for topic in range(labels.max() + 1):
        members = np.flatnonzero(labels == topic)
        if len(members) < ZOOM_FACTOR * mcs:
            continue
        local = model._bertopic(vectors[members])
        local.umap_model.set_params(random_state=seed)
        # the whole corpus's min cluster size: a part must be as big as any theme
        local.hdbscan_model.set_params(min_cluster_size=mcs, min_samples=min(5, mcs))
        reduced = local.umap_model.fit_transform(vectors[members])
        parts = local.hdbscan_model.fit_predict(reduced)
        found = sorted(set(parts) - {-1})
        if len(found) < 2:
            continue
        kept = parts >= 0
        if silhouette_score(unit[members][kept], parts[kept], metric="cosine") < ZOOM_SILHOUETTE:
            continue
        for part in found[1:]:
            out[members[parts == part]] = next_label
            next_label += 1
        out[members[parts == -1]] = -1
    return out


def _parents(
    unit: np.ndarray, labels: np.ndarray, max_parents: int, centres: np.ndarray | None = None
) -> np.ndarray:
    """Parent group of every document: Ward groups of the theme centres, as ThemeModel builds
    them (from `refine`'s centres where there are some, else the label centroids)."""
    k = labels.max() + 1
    sizes = np.bincount(labels[labels >= 0], minlength=k)
    centres = centroids(unit, labels, k) if centres is None else centres
    groups = parent_groups(centres, sizes, max_parents)
    return np.where(labels >= 0, groups[np.maximum(labels, 0)], -1)


def run_seed(name: str, seed: int) -> list[dict[str, object]]:
    texts, truth = SETS[name]()
    vectors = embed(name, texts)
    unit = normalise_rows(vectors)
    model = _model()
    model.random_state = seed
    mcs = model._min_cluster_size(len(unit))
    min_size = max(3, mcs // 2)
    # the same sub-models and inputs as ThemeModel.fit (BERTopic runs UMAP's fit_transform)
    topic_model = model._bertopic(vectors)
    reduced = topic_model.umap_model.fit_transform(vectors)
    clusters = topic_model.hdbscan_model.fit_predict(reduced)
    threshold = model.outlier_threshold
    default, default_centres, _ = refine(vectors, clusters, threshold, min_size)
    zoomed, zoomed_centres, _ = refine(
        vectors, _zoom(vectors, default, model, mcs, seed), threshold, min_size
    )
    k = clusters.max() + 1
    means = np.vstack([reduced[clusters == t].mean(axis=0) for t in range(k)])
    umap_nearest = ((reduced[:, None, :] - means[None]) ** 2).sum(axis=2).argmin(axis=1)
    core = clusters >= 0
    logistic = LogisticRegression(C=10.0, max_iter=300).fit(unit[core], clusters[core])
    rows = []
    for method, labels, centres in (
        ("default", default, default_centres),
        ("zoom", zoomed, zoomed_centres),
        ("umap-nearest", umap_nearest, None),
        ("logistic", logistic.predict(unit), None),
    ):
        nmi, ari = scores(truth, labels)
        parents = _parents(unit, np.asarray(labels), model.max_parents, centres)
        rows.append({"set": name, "method": method, "seed": seed, "NMI": nmi, "ARI": ari,
                     "parent ARI": scores(truth, parents)[1],
                     "themes": int(np.asarray(labels).max() + 1),
                     "unclassified": float(np.mean(np.asarray(labels) < 0))})  # fmt: skip
    return rows


def references(name: str) -> list[dict[str, object]]:
    """k-means told the true k, and every document at its nearest true-label centroid."""
    texts, truth = SETS[name]()
    unit = normalise_rows(embed(name, texts))
    classes, codes = np.unique(truth, return_inverse=True)
    kmeans = KMeans(n_clusters=len(classes), n_init=10, random_state=42).fit_predict(unit)
    oracle = nearest(unit, centroids(unit, codes, len(classes)), -1.0)[0]
    return [{"set": name, "method": method, "NMI": scores(truth, labels)[0],
             "ARI": scores(truth, labels)[1], "themes": len(classes)}
            for method, labels in (("k-means, true k", kmeans),
                                   ("nearest true centroid (ceiling)", oracle))]  # fmt: skip


def summarise(rows: list[dict[str, object]]) -> pd.DataFrame:
    """Mean and standard deviation over seeds per set and method."""
    frame = pd.DataFrame(rows)
    table = frame.groupby(["set", "method"], sort=False).agg(
        seeds=("seed", "count"), NMI=("NMI", "mean"), NMI_sd=("NMI", "std"),
        ARI=("ARI", "mean"), ARI_sd=("ARI", "std"), parent_ARI=("parent ARI", "mean"),
        themes=("themes", "mean"), unclassified=("unclassified", "mean"),
    )  # fmt: skip
    return table.reset_index()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sets", default="banking77,airline")
    parser.add_argument("--seeds", default="1,2,3,4,5,6,7,8,9,10,42")
    args = parser.parse_args()
    if not SHARED.exists():
        print(f"{SHARED} not found: nothing to measure", file=sys.stderr)
        return 1
    rows: list[dict[str, object]] = []
    extra: list[dict[str, object]] = []
    for name in args.sets.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            rows.extend(run_seed(name, seed))
        extra.extend(references(name))
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 20)
    print(summarise(rows).round(3).to_string(index=False))
    print()
    print(pd.DataFrame(extra).round(3).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
