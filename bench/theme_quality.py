"""Theme quality against real labelled data, side by side with the obvious alternatives.

Reads ../shared/data (never copied into the repo). For each data set, on the same
all-MiniLM-L6-v2 embeddings, prints NMI / ARI (every document counted, unclassified = one
cluster) for:
  - cx-text ThemeModel with default settings (never told the number of themes), on themes and
    on parent themes;
  - k-means told the true number of labels;
  - BERTopic defaults (UMAP 15/5/cosine/seed 42, HDBSCAN min_cluster_size=10), with and without
    reduce_outliers.

    .venv/bin/python bench/theme_quality.py [--sets banking77,airline] [--skip-baselines]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
CACHE = ROOT / "bench" / ".cache"


def banking77() -> tuple[list[str], np.ndarray]:
    frame = pd.read_csv(SHARED / "banking77" / "test.csv")
    return frame["text"].tolist(), frame["category"].to_numpy()


def airline() -> tuple[list[str], np.ndarray]:
    frame = pd.read_csv(SHARED / "airline_tweets" / "tweets_airline.csv")
    keep = (
        (frame["airline_sentiment"] == "negative")
        & (frame["negativereason_confidence"] >= 0.6)
        & (frame["negativereason"] != "Can't Tell")
    )
    frame = frame[keep]
    return frame["text"].tolist(), frame["negativereason"].to_numpy()


def semeval() -> tuple[list[str], np.ndarray]:
    frame = pd.read_csv(SHARED / "semeval_absa_en" / "semeval16_restaurants_sentences.csv")
    frame = frame[frame["single_category"].notna() & (frame["single_category"] != "")]
    return frame["text"].tolist(), frame["single_category"].to_numpy()


def cfpb() -> tuple[list[str], np.ndarray]:
    frame = pd.read_csv(SHARED / "cfpb_complaints" / "complaints_with_narrative.csv")
    counts = frame["Issue"].value_counts()
    frame = frame[frame["Issue"].isin(counts[counts >= 10].index)]
    return frame["Consumer complaint narrative"].tolist(), frame["Issue"].to_numpy()


SETS = {"banking77": banking77, "airline": airline, "semeval": semeval, "cfpb": cfpb}


def embed(name: str, texts: list[str]) -> np.ndarray:
    """all-MiniLM-L6-v2 embeddings of the model texts, cached on disk between runs."""
    from cx_text.clean import model_text
    from cx_text.embed import SentenceTransformerEmbedder

    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"{name}-{len(texts)}.npy"
    if path.exists():
        return np.load(path)
    vectors = SentenceTransformerEmbedder(torch_threads=2).encode(
        [model_text(t)[:2000] for t in texts], show_progress_bar=True
    )
    np.save(path, vectors)
    return vectors


def scores(truth: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    return normalized_mutual_info_score(truth, labels), adjusted_rand_score(truth, labels)


def bertopic_defaults(texts: list[str], vectors: np.ndarray) -> dict[str, float]:
    from bertopic import BERTopic
    from hdbscan import HDBSCAN
    from umap import UMAP

    model = BERTopic(
        umap_model=UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine",
                        random_state=42),
        hdbscan_model=HDBSCAN(min_cluster_size=10, prediction_data=True),
    )  # fmt: skip
    topics = np.array(model.fit_transform(texts, vectors)[0])
    reduced = np.array(model.reduce_outliers(texts, topics))
    return {"topics": topics, "reduced": reduced}  # type: ignore[dict-item]


def run_set(name: str, skip_baselines: bool) -> list[dict[str, object]]:
    from cx_text.clean import model_text
    from cx_text.embed import SentenceTransformerEmbedder
    from cx_text.settings import ThemeSettings
    from cx_text.themes import ThemeModel

    texts, truth = SETS[name]()
    vectors = embed(name, texts)
    docs = [model_text(t) for t in texts]
    rows: list[dict[str, object]] = []
    start = time.perf_counter()
    defaults = ThemeSettings()
    model = ThemeModel(
        outlier_threshold=defaults.outlier_threshold,
        max_parents=defaults.max_parents,
        random_state=defaults.random_state,
        embedder=SentenceTransformerEmbedder(torch_threads=2),
    ).fit(vectors, docs)
    seconds = time.perf_counter() - start
    labels = model.labels_
    parents = np.array([model.themes_["parent"].iloc[t] if t >= 0 else -1 for t in labels])
    nmi, ari = scores(truth, labels)
    pnmi, pari = scores(truth, parents)
    unclassified = float(np.mean(labels < 0))
    rows.append(
        {
            "set": name,
            "method": "cx-text themes",
            "NMI": nmi,
            "ARI": ari,
            "clusters": len(model.themes_),
            "unclassified": unclassified,
            "s": seconds,
        }
    )
    rows.append({"set": name, "method": "cx-text parent themes", "NMI": pnmi, "ARI": pari,
                 "clusters": model.themes_["parent"].nunique(), "unclassified": unclassified,
                 "s": seconds})  # fmt: skip
    if skip_baselines:
        return rows
    k = len(set(truth))
    km = KMeans(n_clusters=k, n_init=10, random_state=42).fit_predict(vectors)
    rows.append(
        {
            "set": name,
            "method": f"k-means, true k={k}",
            **dict(zip(("NMI", "ARI"), scores(truth, km), strict=True)),
            "clusters": k,
            "unclassified": 0.0,
        }
    )
    base = bertopic_defaults(texts, vectors)
    for method, topics in (
        ("BERTopic defaults", base["topics"]),
        ("BERTopic defaults + reduce_outliers", base["reduced"]),
    ):
        nmi, ari = scores(truth, topics)
        rows.append({"set": name, "method": method, "NMI": nmi, "ARI": ari,
                     "clusters": len(set(topics) - {-1}),
                     "unclassified": float(np.mean(np.asarray(topics) < 0))})  # fmt: skip
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sets", default="banking77,airline")
    parser.add_argument("--skip-baselines", action="store_true")
    args = parser.parse_args()
    if not SHARED.exists():
        print(f"{SHARED} not found: nothing to measure", file=sys.stderr)
        return 1
    rows = []
    for name in args.sets.split(","):
        rows.extend(run_set(name, args.skip_baselines))
    table = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 20)
    print(table.to_markdown(index=False, floatfmt=".3f") if _has_tabulate() else table)
    return 0


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
