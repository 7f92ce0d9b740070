"""cx_text.polarity_cascade: which texts e5 embeds and which a student head scores."""

from __future__ import annotations

import numpy as np
import pytest

from cx_text import polarity, polarity_cascade
from cx_text.embedding_cache import EmbeddingCache
from cx_text.polarity import PolarityModel
from cx_text.polarity_cascade import Memory, Space, StudentHead
from cx_text.settings import EmbeddingSettings
from tests.test_polarity import SEED, FakeEncoder

N = 400  # texts per run: half problems, half praise


@pytest.fixture(autouse=True)
def small_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cascade's thresholds scaled to a 400-text run."""
    monkeypatch.setattr(polarity_cascade, "MIN_NEW", 200)
    monkeypatch.setattr(polarity_cascade, "MIN_TEACHER", 60)
    monkeypatch.setattr(polarity_cascade, "MIN_CHECK", 40)


def _texts() -> list[str]:
    return [f"late rude courier {i}" if i % 2 else f"great thanks friendly {i}" for i in range(N)]


def _truth(text: str) -> str:
    return polarity.PROBLEM if text.startswith("late") else polarity.PRAISE


class Recorder:
    """e5 stand-in: the fake encoder, remembering every text it embedded."""

    def __init__(self) -> None:
        self.encoder = FakeEncoder()
        self.seen: list[str] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.seen.extend(texts)
        return self.encoder.encode(texts)


def _model(e5: Recorder) -> PolarityModel:
    return PolarityModel(e5.encoder, seed=SEED, c=10.0).fit()


def _space(separable: bool, seed: int = 0) -> Space:
    """A theme space: two well-separated classes, or noise that says nothing of polarity."""
    rng = np.random.default_rng(seed)
    vectors = {}
    for text in _texts():
        centre = np.array([3.0, 0.0] if _truth(text) == polarity.PROBLEM else [0.0, 3.0])
        vectors[text] = (centre if separable else 0.0) + rng.normal(scale=0.5, size=2)
    return Space("test:theme-space", lambda texts: {t: vectors[t] for t in texts if t in vectors})


def _nothing_known(texts: list[str]) -> dict[str, np.ndarray]:
    return {}


def test_a_trusted_student_scores_the_texts_it_is_sure_of_and_e5_never_embeds_them() -> None:
    e5 = Recorder()
    model = _model(e5)
    texts = _texts()
    out = polarity_cascade.score_texts(texts, model, e5, _nothing_known,
                                       lambda: [_space(separable=True)])  # fmt: skip
    summary = out.summary
    assert summary["spaces"]["test:theme-space"]["trusted"]
    # teacher 120 (30%) and check 40 texts go to e5; the student takes most of the other 240
    assert summary["student"] > 180
    assert summary["student"] + summary["e5"] == N
    assert len(set(e5.seen) & set(texts)) == summary["e5"]  # each e5 text embedded once
    said = polarity.label(out.scores)
    assert [str(s) for s in said] == [_truth(t) for t in texts]  # the student's answers are right
    by_student = [i for i, t in enumerate(texts) if t not in set(e5.seen)]
    assert np.all(np.abs(out.scores[by_student]) >= 0.9)


def test_e5_tops_the_teacher_up_to_the_cap_and_earlier_runs_teach_beyond_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """30% of a 400-text run is 120 teacher texts: with `MAX_TOP_UP` 50, e5 embeds 50 of them
    beside the 40 check texts, and the student takes more of the run; texts e5 embedded in an
    earlier run all teach, however many."""
    monkeypatch.setattr(polarity_cascade, "MAX_TOP_UP", 50)
    e5 = Recorder()
    model = _model(e5)
    texts = _texts()
    out = polarity_cascade.score_texts(texts, model, e5, _nothing_known,
                                       lambda: [_space(separable=True)])  # fmt: skip
    space = out.summary["spaces"]["test:theme-space"]
    assert space["teacher"] == 50 and space["check"] == 40 and space["trusted"]
    assert out.summary["student"] == space["sure"] > 400 - 120 - 40
    known = set(texts[::5])  # 80 texts e5 embedded before: all teach, none is topped up

    def known_e5(ts: list[str]) -> dict[str, np.ndarray]:
        return {t: np.zeros(3) for t in ts if t in known}

    e5.seen.clear()
    again = polarity_cascade.score_texts(texts, model, e5, known_e5,
                                         lambda: [_space(separable=True)])  # fmt: skip
    assert again.summary["spaces"]["test:theme-space"]["teacher"] == 80 + 40  # 120 - 80 topped up


def test_a_student_that_disagrees_on_the_check_texts_is_not_used() -> None:
    e5 = Recorder()
    model = _model(e5)
    texts = _texts()
    out = polarity_cascade.score_texts(texts, model, e5, _nothing_known,
                                       lambda: [_space(separable=False)])  # fmt: skip
    assert not out.summary["spaces"]["test:theme-space"]["trusted"]
    assert out.summary["student"] == 0 and out.summary["e5"] == N
    assert set(e5.seen) >= set(texts)
    assert np.allclose(out.scores, model.score(texts, e5.encoder.encode(texts)))


def test_without_the_cascade_every_text_goes_to_e5_in_one_pass() -> None:
    e5 = Recorder()
    model = _model(e5)
    texts = _texts()
    out = polarity_cascade.score_texts(texts + texts[:3], model, e5)
    assert e5.seen == texts  # duplicates embedded once
    assert np.allclose(out.scores[:N], model.score(texts, e5.encoder.encode(texts)))
    assert out.summary == {"texts": N, "e5": N, "student": 0, "recalled": 0}


def test_few_new_texts_skip_the_student_without_making_a_space() -> None:
    """A nightly's handful of new texts: e5 scores them, no theme embedder is even loaded."""
    e5 = Recorder()
    model = _model(e5)
    texts = _texts()
    known = set(texts[:250])  # 150 pending < MIN_NEW (200)

    def known_e5(ts: list[str]) -> dict[str, np.ndarray]:
        return {t: np.zeros(3) for t in ts if t in known}

    def spaces() -> list[Space]:
        raise AssertionError("no space is made for a small run")

    out = polarity_cascade.score_texts(texts, model, e5, known_e5, spaces)
    assert out.summary["student"] == 0 and out.summary["e5"] == N


def test_remembered_student_scores_are_recalled_not_embedded() -> None:
    e5 = Recorder()
    model = _model(e5)
    texts = _texts()
    kept: dict[str, float] = {}

    def remember(ts: list[str], scores: np.ndarray) -> None:
        kept.update(zip(ts, scores.tolist(), strict=True))

    memory = Memory(lambda ts: {t: kept[t] for t in ts if t in kept}, remember)
    first = polarity_cascade.score_texts(texts, model, e5, _nothing_known,
                                         lambda: [_space(separable=True)], memory)  # fmt: skip
    assert len(kept) == first.summary["student"] > 0
    embedded = set(e5.seen)
    e5.seen.clear()

    def known_e5(ts: list[str]) -> dict[str, np.ndarray]:  # what the first run embedded
        return {t: np.zeros(3) for t in ts if t in embedded}

    second = polarity_cascade.score_texts(texts, model, e5, known_e5,
                                          lambda: [_space(separable=False)], memory)  # fmt: skip
    assert second.summary["recalled"] == len(kept) and second.summary["student"] == 0
    assert not set(e5.seen) & set(kept)
    assert np.allclose(second.scores, first.scores)


def test_the_student_is_never_trusted_without_both_labels() -> None:
    x = np.random.default_rng(0).normal(size=(100, 2))
    student = StudentHead().fit(x, np.array([polarity.PROBLEM] * 100, dtype=object))
    student.check(x, np.array([polarity.PROBLEM] * 100, dtype=object))
    assert student.head_ is None and not student.trusted_


def test_the_head_id_names_its_inputs_not_its_rounding() -> None:
    encoder = FakeEncoder()
    fresh = PolarityModel(encoder, seed=SEED).fit()
    rounded = PolarityModel(encoder, seed=SEED)
    rounded._seed_vectors = lambda: encoder.encode(SEED["text"].tolist()).astype(np.float16)  # type: ignore[method-assign]
    assert rounded.fit().head_id_ == fresh.head_id_
    texts = [f"late rude {i}" for i in range(12)] + [f"great thanks {i}" for i in range(12)]
    scores = [2.0] * 12 + [10.0] * 12
    learnt = PolarityModel(encoder, seed=SEED).fit(texts, scores)
    assert learnt.n_run_labelled_ == 24 and learnt.head_id_ != fresh.head_id_
    other = PolarityModel(encoder, seed=SEED).fit(texts, [10.0] * 12 + [2.0] * 12)
    assert other.head_id_ not in (fresh.head_id_, learnt.head_id_)
    assert PolarityModel(encoder, seed=SEED, c=3.0).fit().head_id_ != fresh.head_id_


def test_the_cache_keeps_remembered_scores_apart_from_embeddings() -> None:
    cache = EmbeddingCache(lambda model_id, hashes: {}, EmbeddingSettings(show_progress=False))
    cache.remember("student:x", ["h1", "h2", "h1"], np.array([[0.5], [-0.9], [0.1]]))
    found = cache.lookup("student:x", ["h1", "h2", "h3"])
    assert set(found) == {"h1", "h2"} and float(found["h1"][0]) == pytest.approx(0.5, abs=1e-3)
    assert [e.hashes for e in cache.new] == [["h1", "h2"]]  # one entry per hash, for the store
    assert cache.counts()["new"] == 0 and cache.counts()["new_by_model"] == {}
