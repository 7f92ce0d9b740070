"""Polarity of a run: every mention (sentence) and every verbatim scored problem / praise / neutral.

The model is `cx_text.polarity.PolarityModel` (e5 vectors and a logistic head on the bundled seed
set). A run with enough detractors and promoters also teaches the head its own answers
(`polarity.learn_from_scores`): the role, not the raw score, labels them, so NPS, CSAT and CES
scales all work; complaint-only runs use the seed head alone. Vectors come through the run's
embedding cache under the encoder's model id, so a nightly run embeds only new texts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cx_text import polarity, polarity_cascade
from cx_text.clean import model_text
from cx_text.polarity import PolarityModel
from cx_text.schemas import SCORED_MENTIONS, SCORED_VERBATIMS
from cx_text.settings import PolaritySettings

# texts -> unit vectors of the polarity encoder (the pipeline: the embedding cache)
Vectorise = Callable[[list[str]], np.ndarray]
# the score a role stands for when the head learns from a run (detractor problem, promoter praise)
ROLE_SCORES = {"detractor": 0.0, "promoter": 10.0}


@dataclass(frozen=True)
class Scored:
    """The window's verbatims and mentions with `polarity` and `polarity_score` columns, and
    who scored how many texts (run.json `polarity`: e5, a student head, recalled)."""

    verbatims: pd.DataFrame
    mentions: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)
    model: PolarityModel | None = None  # the head that scored them (None: polarity is off)


class CachedEncoder:
    """An encoder whose vectors go through the run's embedding cache (`vectorise`), so the seed
    set and the run's texts are embedded once and kept in the store under the same model id."""

    def __init__(self, encoder: polarity.Encoder, vectorise: Vectorise) -> None:
        self.model_id = encoder.model_id
        self._vectorise = vectorise

    def encode(
        self, texts: list[str], batch_size: int = 64, show_progress_bar: bool = False
    ) -> np.ndarray:
        return np.asarray(self._vectorise(list(texts)), dtype=np.float32)


def make_encoder(
    threads: int | None = 2, quantize: str = "none", bf16: str = "auto"
) -> polarity.Encoder:
    """The polarity encoder on `threads` torch threads (`embedding.torch_threads`; None: torch's
    default), int8 when `quantize` is "int8" (`polarity.quantize`), bfloat16 autocast as
    `embedding.bf16`. Tests replace this function with a tiny one."""
    return polarity.default_encoder(threads, "int8" if quantize == "int8" else "fp32", bf16)


def seed_student_id(encoder_id: str, settings: PolaritySettings) -> str:
    """The id a seed-only head's student scores are kept under (a complaint-only run's, or one
    with too few scores to learn from), known before any head is fitted."""
    head = polarity.head_id(encoder_id, settings.c, settings.run_weight, polarity.load_seed())
    return polarity_cascade.student_id(head, settings.neutral_margin, settings.cascade_confidence)


def unscored(verbatims: pd.DataFrame, mentions: pd.DataFrame) -> Scored:
    """Both tables with empty polarity columns (polarity.enabled is false)."""
    empty = {"polarity": pd.NA, "polarity_score": np.nan}
    return Scored(SCORED_VERBATIMS.conform(verbatims.assign(**empty)),
                  SCORED_MENTIONS.conform(mentions.assign(**empty)))  # fmt: skip


def fit_model(
    verbatims: pd.DataFrame, settings: PolaritySettings, encoder: polarity.Encoder,
    vectorise: Vectorise,
) -> PolarityModel:  # fmt: skip
    """The polarity head: the seed set, plus the run's detractors and promoters if allowed."""
    model = PolarityModel(encoder, c=settings.c, neutral_margin=settings.neutral_margin,
                          run_weight=settings.run_weight)  # fmt: skip
    if not settings.learn_from_scores:
        return model.fit()
    learn = verbatims[verbatims["role"].isin(list(ROLE_SCORES)) & ~verbatims["is_non_answer"]]
    texts = [model_text(t) for t in learn["text"].astype(str)]
    if not texts:
        return model.fit()
    scores = learn["role"].map(ROLE_SCORES).to_numpy(dtype=float)
    # the head learns only with enough of both sides (MIN_RUN_PER_CLASS): skip the embedding
    if min((scores == 0).sum(), (scores == 10).sum()) < polarity.MIN_RUN_PER_CLASS:
        return model.fit()
    return model.fit(texts, scores, vectorise(texts))


def saved_model(
    state: dict[str, Any] | None, settings: PolaritySettings, encoder: polarity.Encoder
) -> PolarityModel | None:
    """The head a re-fit saved (`PolarityModel.state()`), if these settings would fit the same
    kind of head: same encoder, C, run weight and seed set, and no learning from scores when
    `learn_from_scores` is now off. None: fit one (`fit_model`)."""
    if state is None or (not settings.learn_from_scores and state.get("n_run_labelled")):
        return None
    model = PolarityModel(encoder, c=settings.c, neutral_margin=settings.neutral_margin,
                          run_weight=settings.run_weight)  # fmt: skip
    return model if model.load(state) else None


@dataclass(frozen=True)
class Shortcut:
    """What the polarity cascade reads (`cx_text.polarity_cascade`): the e5 vectors already
    known, the theme spaces (made on first use), and a memory of student scores by id."""

    known_e5: polarity_cascade.Known
    spaces: Callable[[], list[polarity_cascade.Space]]
    memory: Callable[[str], polarity_cascade.Memory]


def score_run(
    verbatims: pd.DataFrame,
    mentions: pd.DataFrame,
    settings: PolaritySettings,
    encoder: polarity.Encoder,
    vectorise: Vectorise,
    shortcut: Shortcut | None = None,
    saved: dict[str, Any] | None = None,
) -> Scored:
    """Score every mention sentence, then every verbatim from its mentions.

    A verbatim without mentions (unclassified) is scored on its own text; a non-answer is
    neutral with score 0. The encoder reads each text as the theme models do
    (`clean.model_text`: URLs, @handles and retweet markers removed), which is also how
    `bench/polarity.py` reads its tweet sets; the tables keep the sentences as written.
    With a `shortcut` (and `settings.cascade`), a large run's texts go through the cascade:
    a trusted student head on the theme vectors scores the ones it is sure of; only when the
    head is the seed set's alone (a complaint-only run, or too few scores to learn from).
    `saved`: the head the last re-fit learnt (a nightly applies it, `saved_model`, and so
    re-scores the window's stored texts as that re-fit did and embeds no new answer to learn
    from); without it, or when the settings changed since, the head is fitted here.
    """
    model = saved_model(saved, settings, encoder)
    head = "saved" if model is not None else "fitted"
    model = model or fit_model(verbatims, settings, encoder, vectorise)
    sentences = [model_text(s) for s in mentions["sentence"].astype(str)]
    alone = ~verbatims["verbatim_id"].isin(set(mentions["verbatim_id"])) & ~verbatims[
        "is_non_answer"
    ].fillna(False).astype(bool)
    alone_texts = [model_text(t) for t in verbatims.loc[alone, "text"].astype(str)]
    outcome = _scores(sentences + alone_texts, model, vectorise, settings, shortcut)
    mention_scores = outcome.scores[: len(sentences)]
    scored_mentions = mentions.assign(
        polarity=polarity.label(mention_scores, settings.neutral_margin),
        polarity_score=mention_scores,
    )
    scored_verbatims = _verbatim_polarity(
        verbatims, scored_mentions, model, alone.to_numpy(), outcome.scores[len(sentences) :]
    )
    return Scored(
        SCORED_VERBATIMS.conform(scored_verbatims),
        SCORED_MENTIONS.conform(scored_mentions),
        {**outcome.summary, "head": head},
        model,
    )


def _scores(
    texts: list[str], model: PolarityModel, vectorise: Vectorise, settings: PolaritySettings,
    shortcut: Shortcut | None,
) -> polarity_cascade.Outcome:  # fmt: skip
    if shortcut is None or not settings.cascade or model.n_run_labelled_:
        # a head that learnt from the run's scores changes with every window: a student's
        # scores under it could not be recalled by the next run, which would score those texts
        # again (and e5 embeds the scored answers for the head anyway)
        return polarity_cascade.score_texts(texts, model, vectorise)
    student = polarity_cascade.student_id(model.head_id_, model.neutral_margin,
                                          settings.cascade_confidence)  # fmt: skip
    memory = shortcut.memory(student)
    return polarity_cascade.score_texts(texts, model, vectorise, shortcut.known_e5,
                                        shortcut.spaces, memory,
                                        settings.cascade_confidence)  # fmt: skip


def _verbatim_polarity(
    verbatims: pd.DataFrame,
    mentions: pd.DataFrame,
    model: PolarityModel,
    alone: np.ndarray,
    alone_scores: np.ndarray,
) -> pd.DataFrame:
    """Each verbatim's polarity: its mentions' mean score, its own text's score
    (`alone_scores`, for the rows `alone` marks) when it has no mention, 0 for a non-answer."""
    summary = polarity.summarise_verbatims(mentions["verbatim_id"], mentions["polarity_score"],
                                           model.neutral_margin)  # fmt: skip
    score = verbatims["verbatim_id"].map(summary["polarity_score"]).to_numpy(dtype=float, copy=True)
    score[alone] = alone_scores
    score = np.nan_to_num(score, nan=0.0)  # non-answers
    return verbatims.assign(polarity=polarity.label(score, model.neutral_margin),
                            polarity_score=score)  # fmt: skip
