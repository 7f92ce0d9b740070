"""Polarity on large runs: e5 where it is needed, a student head on the theme vectors elsewhere.

e5 (`cx_text.polarity`) is the costliest encoder of a cold run: every mention sentence and every
unthemed verbatim goes through it, after the theme encoder has already embedded the same texts.
When a run has many texts e5 has not embedded yet (`MIN_NEW`), the cascade

1. takes the texts e5 embedded before this run (stored by earlier runs), tops them up with a
   pseudo-random sample of the others to `TEACHER_SHARE` of the texts (at least `MIN_TEACHER`,
   at most `MAX_TOP_UP` topped up;
   samples are drawn in `clean.hash_order`, the order the prefetch embeds documents in), and
   scores them with the e5 head: the **teacher** labels (problem / neutral / praise, as
   `polarity.label` gives them). What this run's prefetch embedded beside the clustering does
   not count: how far it got is a matter of timing, and the same input and store must give the
   same scores;
2. fits a **student**: a logistic head on the theme space's vectors of the same texts (the
   vectors the `themes` stage already has, looked up, never embedded), taught the teacher's
   labels, and checks it on a pseudo-random sample of the texts it would decide, scored by e5
   too (`CHECK_SHARE`, at least `MIN_CHECK`): the student is trusted only when its sure answers
   there (|score| >= `confidence`) carry the e5 head's label at least `MIN_AGREEMENT` of the
   time;
3. lets a trusted student score the texts it is sure of; every other text goes to e5 as before.

A student's scores are remembered under the head's inputs (`PolarityModel.head_id_`) with the
student's settings, so a later run with the same head reuses them instead of embedding those
texts with e5 (a complaint-only nightly after a cold run). The pipeline runs the cascade only
with the seed set's head (`run_polarity`): a head that learnt from a run's scores changes with
every window, so its student's scores could not be recalled. Measured in `bench/polarity.py
--cascade` and README, Polarity.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cx_text import polarity
from cx_text.clean import hash_order
from cx_text.polarity import PolarityModel

# texts e5 has not embedded yet below which every text goes to e5 (a nightly's new rows)
MIN_NEW = 2_000
# teacher texts: this share of the texts to score, at least MIN_TEACHER, and at most
# MAX_TOP_UP of them embedded by e5 for the purpose (texts e5 embedded in earlier runs teach
# whatever their number); the student is fitted on at most MAX_TEACHER of them (a seeded sample:
# the fit stays well under a second). Fitted on 3,000 teacher texts instead of up to 6,000, the
# student is sure of somewhat fewer of the others (airline tweets 42.0% against 43.4%,
# bench/cascade_students.py --teacher; the airline export's run 34% against 41%), yet e5 embeds
# fewer texts in all (README, Polarity): at 1M texts 30% would be 300,000 teacher texts
TEACHER_SHARE = 0.3
MIN_TEACHER = 1_000
MAX_TOP_UP = 3_000
MAX_TEACHER = 6_000
# texts the student would score that e5 scores as well to check it (the next ones in hash order
# after the teacher's: this share, at least MIN_CHECK), and the agreement its sure answers must
# reach there to be used
CHECK_SHARE = 0.05
MIN_CHECK = 500
MIN_AGREEMENT = 0.98
# fewest teacher texts of the problem and of the praise label for a student to be fitted
MIN_PER_LABEL = 20
STUDENT_C = 1.0

# texts -> {text: vector} of the ones whose vectors are already known (nothing is embedded)
Known = Callable[[list[str]], dict[str, np.ndarray]]
# texts -> vectors, embedding the unknown ones (the pipeline: the embedding cache)
Vectorise = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class Space:
    """A theme space the student may read: its model id and its known vectors of texts."""

    model_id: str
    known: Known


@dataclass(frozen=True)
class Memory:
    """Student scores of earlier runs (`recall`) and of this one (`remember`), by text."""

    recall: Callable[[list[str]], dict[str, float]]
    remember: Callable[[list[str], np.ndarray], None]


@dataclass(frozen=True)
class Outcome:
    """Scores of the texts asked for (in their order) and who gave them (run.json `polarity`)."""

    scores: np.ndarray
    summary: dict[str, Any] = field(default_factory=dict)


class StudentHead:
    """A logistic head on another space's vectors taught the e5 head's labels.

    `check` scores texts the e5 head also scored and sets `agreement_` (the share of the
    student's sure answers there that match the e5 head's label, neutral counting as a
    mismatch) and `trusted_` (agreement at least `min_agreement`, on at least one sure answer).
    `score` gives P(praise) - P(problem) as the e5 head does; `sure` marks |score| >=
    `confidence`.
    """

    def __init__(
        self, confidence: float = 0.9, c: float = STUDENT_C, min_agreement: float = MIN_AGREEMENT
    ) -> None:
        self.confidence = confidence
        self.c = c
        self.min_agreement = min_agreement
        self.head_: Any = None
        self.agreement_ = float("nan")
        self.trusted_ = False

    def fit(self, x: np.ndarray, labels: np.ndarray) -> StudentHead:
        """Fit on teacher labels; left unfitted (never trusted) with fewer than
        `MIN_PER_LABEL` problem or praise labels."""
        from sklearn.linear_model import LogisticRegression

        labels = np.asarray(labels, dtype=object)
        problem, praise = (labels == polarity.PROBLEM).sum(), (labels == polarity.PRAISE).sum()
        if min(problem, praise) < MIN_PER_LABEL:
            return self
        self.head_ = LogisticRegression(C=self.c, max_iter=3000).fit(x, labels)
        return self

    def check(self, x: np.ndarray, labels: np.ndarray) -> StudentHead:
        """Agreement with the teacher's `labels` on texts the student was not fitted on."""
        if self.head_ is None or not len(x):
            return self
        scores = self.score(x)
        sure = self.sure(scores)
        if sure.any():
            said = polarity.label(scores[sure], 0.0)
            self.agreement_ = float((said == np.asarray(labels, dtype=object)[sure]).mean())
            self.trusted_ = self.agreement_ >= self.min_agreement
        return self

    def score(self, x: np.ndarray) -> np.ndarray:
        if self.head_ is None:
            raise RuntimeError("the student head is not fitted")
        if not len(x):
            return np.zeros(0)
        proba = self.head_.predict_proba(x)
        classes = list(self.head_.classes_)
        praise = proba[:, classes.index(polarity.PRAISE)]
        problem = proba[:, classes.index(polarity.PROBLEM)]
        return np.clip(praise - problem, -1, 1)

    def sure(self, scores: np.ndarray) -> np.ndarray:
        return np.abs(scores) >= self.confidence


def student_id(head_id: str, neutral_margin: float, confidence: float) -> str:
    """The id student scores are remembered under: the head's inputs (`polarity.head_id`), the
    margin that labels the teacher's answers and the student's rule."""
    return (
        f"polarity-student:{head_id}:m{neutral_margin:g}:s{confidence:g}"
        f":t{TEACHER_SHARE:g}-{MIN_TEACHER}-{MAX_TOP_UP}-{MAX_TEACHER}:a{MIN_AGREEMENT:g}-{CHECK_SHARE:g}-{MIN_CHECK}"
    )


def score_texts(
    texts: Sequence[str],
    model: PolarityModel,
    vectorise: Vectorise,
    known_e5: Known | None = None,
    spaces: Callable[[], list[Space]] | None = None,
    memory: Memory | None = None,
    confidence: float = 0.9,
    random_state: int = 0,
) -> Outcome:
    """polarity_score of every text in `texts`: the e5 head's, or a trusted student's.

    Without `known_e5` (or `spaces`) every text goes to e5 (`vectorise`), as without the
    cascade. `spaces` is called only when the cascade runs (it may load an embedder).
    """
    texts = list(texts)
    unique = list(dict.fromkeys(texts))
    given: dict[str, float] = {}
    summary: dict[str, Any] = {"texts": len(unique), "e5": 0, "student": 0, "recalled": 0}
    if known_e5 is not None and spaces is not None and unique:
        have = set(known_e5(unique))
        recalled = memory.recall([t for t in unique if t not in have]) if memory else {}
        given.update(recalled)
        summary["recalled"] = len(recalled)
        pending = [t for t in unique if t not in have and t not in recalled]
        if len(pending) >= MIN_NEW:
            decided, teacher, report = _student_pass(
                unique, have, pending, model, vectorise, spaces(), confidence, random_state
            )
            given.update(teacher)
            given.update(decided)
            summary["student"] = len(decided)
            summary["spaces"] = report
            if memory is not None and decided:
                memory.remember(list(decided), np.array(list(decided.values())))
    rest = [t for t in unique if t not in given]
    if rest:
        given.update(zip(rest, model.score(rest, vectorise(rest)), strict=True))
    summary["e5"] = len(unique) - summary["student"] - summary["recalled"]
    return Outcome(np.array([given[t] for t in texts], dtype=np.float64), summary)


def _student_pass(
    unique: list[str],
    have: set[str],
    pending: list[str],
    model: PolarityModel,
    vectorise: Vectorise,
    spaces: list[Space],
    confidence: float,
    random_state: int,
) -> tuple[dict[str, float], dict[str, float], dict[str, Any]]:
    """(student scores of the texts it is sure of, e5 head scores, per-space report).

    Samples are drawn in `clean.hash_order` (pseudo-random, fixed per text). The check texts
    are a sample of the texts the student would score (`pending`),
    so its agreement is measured on what it decides, not on the texts e5 happened to embed
    earlier (whole documents, where the pending ones are often single sentences)."""
    rng = np.random.default_rng(random_state)
    order = hash_order(pending)  # the prefetch embedded documents in this order
    teacher = [t for t in unique if t in have]
    target = max(MIN_TEACHER, math.ceil(TEACHER_SHARE * (len(teacher) + len(pending))))
    n_check = min(len(pending), max(MIN_CHECK, math.ceil(CHECK_SHARE * len(pending))))
    n_top_up = max(0, min(len(pending) - n_check, target - len(teacher), MAX_TOP_UP))
    teacher += [pending[i] for i in order[:n_top_up]]
    check = [pending[i] for i in order[n_top_up : n_top_up + n_check]]
    left = [pending[i] for i in sorted(order[n_top_up + n_check :])]
    if len(teacher) > MAX_TEACHER:
        kept = np.sort(rng.choice(len(teacher), MAX_TEACHER, replace=False))
        teacher = [teacher[i] for i in kept]
    scored = teacher + check
    e5_scores = dict(zip(scored, model.score(scored, vectorise(scored)), strict=True))
    said = dict(zip(scored, polarity.label(list(e5_scores.values()), model.neutral_margin),
                    strict=True))  # fmt: skip
    decided: dict[str, float] = {}
    report: dict[str, Any] = {}
    for space in spaces:
        undecided = [t for t in left if t not in decided]
        if not undecided:
            break
        known = space.known(scored + undecided)
        taught = [t for t in teacher if t in known]
        checked = [t for t in check if t in known]
        student = StudentHead(confidence)
        if taught:
            student.fit(_stack(known, taught), np.array([said[t] for t in taught], dtype=object))
            student.check(_stack(known, checked),
                          np.array([said[t] for t in checked], dtype=object))  # fmt: skip
        report[space.model_id] = {"teacher": len(taught), "check": len(checked),
                                  "agreement": _rounded(student.agreement_),
                                  "trusted": student.trusted_}  # fmt: skip
        readable = [t for t in undecided if t in known]
        if not student.trusted_ or not readable:
            continue
        scores = student.score(_stack(known, readable))
        sure = student.sure(scores)
        decided.update((t, float(s)) for t, s, ok in zip(readable, scores, sure, strict=True) if ok)
        report[space.model_id]["sure"] = int(sure.sum())
    return decided, e5_scores, report


def _stack(known: dict[str, np.ndarray], texts: list[str]) -> np.ndarray:
    if not texts:
        return np.zeros((0, 1), dtype=np.float32)
    return np.vstack([known[t] for t in texts]).astype(np.float32)


def _rounded(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 4)
