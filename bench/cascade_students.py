"""Students for the polarity cascade, side by side: how many texts each is sure of, at what
agreement with the e5 head, on the airline tweets (the whole file, model texts).

The cascade (`cx_text.polarity_cascade`, README, Polarity) lets a student head on the theme
vectors score the texts it is sure of, so e5 need not embed them. This bench asks whether
another student would be sure of more texts at the same agreement:

  - "logistic, MiniLM": the shipped student (logistic regression, C = `STUDENT_C`, on the
    all-MiniLM-L6-v2 vectors the `themes` stage already has);
  - "logistic, MiniLM + VADER": the same with VADER's four scores (compound, pos, neg, neu;
    times 0.5) beside each vector, at C = 1 and C = 4;
  - "MLP, MiniLM" and "MLP, MiniLM + VADER": one hidden layer of 256 units, early stopping.

Teacher labels are the e5 seed head's (`PolarityModel().fit()`, as a complaint run scores):
problem / neutral / praise at the default margin. Texts are drawn as the cascade draws them, in
`clean.hash_order`: the first `TEACHER_SHARE` teach (at most `MAX_TEACHER`), the next
`CHECK_SHARE` (at least `MIN_CHECK`) check, and the rest is where a student would decide.
`--teacher 1500,3000` fits each student on the first N teacher texts instead (the check and
the rest stay the same). Printed per student, teacher size and confidence: the sure share and
agreement (neutral from e5 counting as a mismatch) on the check texts and on the rest, and
VADER's seconds over all texts.

    PYTHONPATH=. .venv/bin/python bench/cascade_students.py [--limit N] [--teacher 1500,3000]
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cx_text import polarity, polarity_cascade
from cx_text.clean import hash_order, model_text
from cx_text.outputs import markdown_table

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
AIRLINE = ROOT.parent / "shared" / "data" / "airline_tweets" / "tweets_airline.csv"
CONFIDENCES = (0.85, 0.9, 0.95)


def vader_features(texts: list[str]) -> tuple[np.ndarray, float]:
    """VADER's compound, pos, neg and neu per text, and the seconds they took."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    start = time.perf_counter()
    analyser = SentimentIntensityAnalyzer()
    scores = [analyser.polarity_scores(t) for t in texts]
    rows = [[s["compound"], s["pos"], s["neg"], s["neu"]] for s in scores]
    return np.array(rows), time.perf_counter() - start


def agreement(scores: np.ndarray, labels: np.ndarray, confidence: float) -> tuple[float, float]:
    """(share of texts the student is sure of, share of those carrying the teacher's label)."""
    sure = np.abs(scores) >= confidence
    said = polarity.label(scores[sure], 0.0)
    agreed = float((said == labels[sure]).mean()) if sure.any() else float("nan")
    return float(sure.mean()), agreed


def scores(model: Any, x: np.ndarray) -> np.ndarray:
    """P(praise) - P(problem), as the e5 head and the shipped student score."""
    proba, classes = model.predict_proba(x), list(model.classes_)
    return proba[:, classes.index(polarity.PRAISE)] - proba[:, classes.index(polarity.PROBLEM)]


def students() -> dict[str, tuple[bool, Callable[[], Any]]]:
    """name -> (with VADER's scores, a fresh classifier)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    def mlp() -> Any:
        return MLPClassifier((256,), alpha=1e-3, max_iter=300, early_stopping=True,
                             random_state=0)  # fmt: skip

    c = polarity_cascade.STUDENT_C
    return {
        f"logistic C={c:g}, MiniLM (shipped)": (False,
                                                lambda: LogisticRegression(C=c, max_iter=3000)),
        "logistic C=1, MiniLM + VADER": (True, lambda: LogisticRegression(C=1.0, max_iter=3000)),
        "logistic C=4, MiniLM + VADER": (True, lambda: LogisticRegression(C=4.0, max_iter=3000)),
        "MLP 256, MiniLM": (False, mlp),
        "MLP 256, MiniLM + VADER": (True, mlp),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="the first N distinct texts")
    parser.add_argument("--teacher", type=lambda v: [int(n) for n in v.split(",")],
                        default=[polarity_cascade.MAX_TEACHER],
                        help="teacher texts to fit each student on, comma-separated")  # fmt: skip
    args = parser.parse_args()
    if not AIRLINE.is_file():
        raise SystemExit(f"{AIRLINE} is absent: nothing to measure")
    from cx_text.embed import make_embedder
    from cx_text.settings import EmbeddingSettings

    raw = pd.read_csv(AIRLINE)["text"].astype(str).map(model_text)
    texts = list(dict.fromkeys(t for t in raw if t.strip()))[: args.limit]
    head = polarity.PolarityModel().fit()
    e5 = np.asarray(head.encoder.encode(texts), dtype=np.float32)
    labels = polarity.label(head.score(texts, e5))
    minilm = make_embedder("all-MiniLM-L6-v2", EmbeddingSettings(e5_weight=0)).encode(texts)
    vader, vader_seconds = vader_features(texts)
    order = np.array(hash_order(texts))
    n_teach = max(polarity_cascade.MIN_TEACHER, int(polarity_cascade.TEACHER_SHARE * len(texts)))
    n_check = max(polarity_cascade.MIN_CHECK, int(polarity_cascade.CHECK_SHARE * len(texts)))
    check, rest = order[n_teach : n_teach + n_check], order[n_teach + n_check :]
    rows = []
    for (name, (with_vader, make)), size in itertools.product(students().items(), args.teacher):
        teach = order[: min(n_teach, size)]
        x = np.hstack([minilm, 0.5 * vader]) if with_vader else np.asarray(minilm)
        model = make().fit(x[teach], labels[teach])
        for confidence in CONFIDENCES:
            sure_check, agree_check = agreement(scores(model, x[check]), labels[check], confidence)
            sure_rest, agree_rest = agreement(scores(model, x[rest]), labels[rest], confidence)
            rows.append({"student": name, "fitted on": len(teach), "confidence": confidence,
                         "check: sure": f"{sure_check:.3f}",
                         "check: agreement": f"{agree_check:.3f}",
                         "rest: sure": f"{sure_rest:.3f}",
                         "rest: agreement": f"{agree_rest:.3f}"})  # fmt: skip
    counts = pd.Series(labels).value_counts().to_dict()
    print(f"{len(texts)} texts: teacher {n_teach}, check {len(check)}, rest {len(rest)}; "
          f"e5 head labels {counts}; VADER {vader_seconds:.2f} s over all texts")  # fmt: skip
    print(markdown_table(pd.DataFrame(rows)))
    print(f"\nload average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
