"""cx_text.run_polarity and the polarity stage: known answers with the fake encoder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from cx_text import job, labels, polarity, run_polarity, stages
from cx_text.clean import model_text
from cx_text.settings import PolaritySettings, load_settings
from tests.conftest import HashingEmbedder
from tests.factories import complaint, frame, survey
from tests.test_flows import _write_week
from tests.test_polarity import FakeEncoder


def _vectorise(encoder: FakeEncoder) -> Any:
    return lambda texts: encoder.encode(texts)


def _mentions(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"verbatim_id": v, "theme_id": t, "sentence": s, "confidence": 0.9} for v, t, s in rows]
    )


def test_complaints_get_a_polarity_without_any_score() -> None:
    verbatims = frame(
        complaint("c1", text="The courier was rude and late. Thanks for the quick refund though."),
        complaint("c2", text="Great friendly courier, thanks"),
        complaint("c3", text="parcel broken, never again"),  # no mention: scored on its text
        complaint("c4", text="-", is_non_answer=True),
    )
    mentions = _mentions([("c1", "T001", "The courier was rude and late"),
                          ("c1", "T002", "Great, thanks for the quick help"),
                          ("c2", "T002", "Great friendly courier, thanks")])  # fmt: skip
    encoder = FakeEncoder()
    scored = run_polarity.score_run(verbatims, mentions, PolaritySettings(), encoder,
                                    _vectorise(encoder))  # fmt: skip
    assert scored.mentions["polarity"].tolist() == ["problem", "praise", "praise"]
    by_id = scored.verbatims.set_index("verbatim_id")
    assert by_id.loc["c2", "polarity"] == "praise"
    assert by_id.loc["c3", "polarity"] == "problem"
    assert (by_id.loc["c4", "polarity"], by_id.loc["c4", "polarity_score"]) == ("neutral", 0.0)
    # c1: one problem and one praise sentence; its score is their mean
    c1 = scored.mentions[scored.mentions["verbatim_id"] == "c1"]["polarity_score"].mean()
    assert by_id.loc["c1", "polarity_score"] == pytest.approx(c1)
    assert scored.verbatims["polarity_score"].between(-1, 1).all()


def test_the_encoder_reads_sentences_as_the_theme_models_do() -> None:
    """Handles, URLs and retweet markers are not what a customer says: the encoder gets the
    model text (`clean.model_text`), the mentions table keeps the sentence as written."""
    verbatims = frame(complaint("c1", text="RT @Bank: @Bank thanks, great service https://t.co/x"),
                      complaint("c2", text="@Bank card blocked again http://t.co/y"))  # fmt: skip
    mentions = _mentions([("c1", "T001", "RT @Bank: @Bank thanks, great service https://t.co/x")])
    seen: list[str] = []
    encoder = FakeEncoder()

    def vectorise(texts: list[str]) -> np.ndarray:
        seen.extend(texts)
        return encoder.encode(texts)

    scored = run_polarity.score_run(verbatims, mentions, PolaritySettings(), encoder, vectorise)
    assert "thanks, great service" in seen and "card blocked again" in seen
    assert not any("@" in t or "http" in t or "RT" in t for t in seen)
    assert scored.mentions["sentence"].iloc[0].startswith("RT @Bank:")


def _scored_run(n: int) -> pd.DataFrame:
    rows = [survey(f"d{i}", 2, text="late again, rude courier") for i in range(n)]
    rows += [survey(f"p{i}", 10, text="great friendly courier") for i in range(n)]
    return frame(*rows, complaint("c1", text="refund never came"))


@pytest.mark.parametrize(("n", "learn", "learned"), [(12, True, 24), (12, False, 0), (5, True, 0)])
def test_the_head_learns_from_detractors_and_promoters_only_when_asked_and_enough(
    n: int, learn: bool, learned: int
) -> None:
    encoder = FakeEncoder()
    settings = PolaritySettings(learn_from_scores=learn)
    model = run_polarity.fit_model(_scored_run(n), settings, encoder, _vectorise(encoder))
    assert model.n_run_labelled_ == learned


def test_a_saved_head_scores_as_the_fitted_one_and_only_under_the_same_settings() -> None:
    encoder = FakeEncoder()
    settings = PolaritySettings()
    fitted = run_polarity.fit_model(_scored_run(12), settings, encoder, _vectorise(encoder))
    state = json.loads(json.dumps(fitted.state()))  # as models/current keeps it
    loaded = run_polarity.saved_model(state, settings, encoder)
    assert loaded is not None and loaded.n_run_labelled_ == 24
    assert loaded.head_id_ == fitted.head_id_
    texts = ["late again, rude courier", "great friendly courier", "refund never came"]
    assert np.array_equal(loaded.score(texts), fitted.score(texts))  # to the last bit
    # another C, run weight or encoder would fit another head; so would no learning from scores
    for changed in ({"c": 3.0}, {"run_weight": 0.5}, {"learn_from_scores": False}):
        assert run_polarity.saved_model(state, PolaritySettings(**changed), encoder) is None
    assert run_polarity.saved_model(state, settings, CountingEncoder()) is None
    assert run_polarity.saved_model(None, settings, encoder) is None


def test_disabled_polarity_leaves_the_columns_empty() -> None:
    scored = run_polarity.unscored(frame(complaint("c1")), _mentions([("c1", "T001", "x")]))
    assert scored.verbatims["polarity"].isna().all()
    assert scored.mentions["polarity_score"].isna().all()


@pytest.fixture()
def polarity_week(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Path, Any]:
    """hashing_week with polarity on (the fake encoder, counting the texts it embeds)."""
    from cx_text import theming

    embedder = HashingEmbedder()
    monkeypatch.setattr(theming, "make_embedder", lambda model, settings: embedder)
    encoder = CountingEncoder()
    monkeypatch.setattr(run_polarity, "make_encoder", lambda *args: encoder)
    data = tmp_path / "week.csv"
    _write_week(data)
    settings = load_settings(
        state_dir=tmp_path / "s", models_dir=tmp_path / "m", language="en",
        themes={"min_cluster_size": 5}, embedding={"show_progress": False},
        polarity={"enabled": True},
    )  # fmt: skip
    return settings, data, encoder


class CountingEncoder(FakeEncoder):
    model_id = "test:fake-polarity-counting"

    def __init__(self) -> None:
        super().__init__()
        self.texts = 0

    def encode(
        self, texts: list[str], batch_size: int = 64, show_progress_bar: bool = False
    ) -> np.ndarray:
        self.texts += len(texts)
        return super().encode(texts, batch_size, show_progress_bar)


def test_run_writes_polarity_columns_and_nightly_reuses_cached_vectors(
    polarity_week: tuple[Any, Path, CountingEncoder], tmp_path: Path
) -> None:
    settings, data, encoder = polarity_week
    job.run([str(data)], tmp_path / "out", settings)
    mentions = pd.read_csv(tmp_path / "out" / "mentions.csv")
    verbatims = pd.read_parquet(tmp_path / "out" / "verbatims.parquet")
    assert {"polarity", "polarity_score"} <= set(mentions.columns) & set(verbatims.columns)
    assert set(mentions["polarity"]) <= {"problem", "praise", "neutral"}
    assert verbatims["polarity"].notna().all()
    late = mentions[mentions["sentence"].str.contains("late")]
    friendly = mentions[mentions["sentence"].str.contains("friendly")]
    assert (late["polarity"] == "problem").any() and not (late["polarity"] == "praise").any()
    # half the week's friendly answers score 3 (the run teaches the head some noise)
    assert (friendly["polarity"] == "praise").mean() > 0.5
    themes = pd.read_csv(tmp_path / "out" / "themes.csv")
    assert labels.label_check(themes, mentions) >= 0.85  # labels are phrases customers wrote
    embedded = encoder.texts
    assert embedded > 0
    job.nightly([str(data)], tmp_path / "night", settings)  # nothing new: nothing embedded
    assert encoder.texts == embedded
    night = pd.read_csv(tmp_path / "night" / "mentions.csv")
    assert night["polarity"].notna().all()
    # run.json remembers the split topics (the next run keeps them split down to keep_share)
    for out in ("out", "night"):
        record = json.loads((tmp_path / out / "run.json").read_text())
        shown = pd.read_csv(tmp_path / out / "themes.csv")
        split = sorted({t[:-1] for t in shown["theme_id"].astype(str) if t[-1] in "+-"})
        assert record["facets"]["split"] == split
        # every model the outputs come from is named: polarity's encoder, the label parsers
        assert record["models"]["polarity"] == encoder.model_id
        assert record["models"]["labels_ru"].startswith("pymorphy3==")
        assert record["models"]["labels_en"] in (labels.parser_id() or "lookup tables",)


def test_a_nightly_applies_the_head_the_run_learnt(
    polarity_week: tuple[Any, Path, CountingEncoder], tmp_path: Path
) -> None:
    """Nothing is re-fitted at night: the stored mentions keep the run's scores to the last
    bit, and only the new answer's sentences are embedded (not every answer the head would
    learn from)."""
    settings, data, encoder = polarity_week
    job.run([str(data)], tmp_path / "out", settings)
    assert (settings.models_dir / "current" / "polarity_head.json").exists()
    week = pd.read_csv(data)
    new = week.iloc[[0]].assign(id="new-1", comment="The courier was late and rude again.",
                                score=1)  # fmt: skip
    pd.concat([week, new]).to_csv(tmp_path / "more.csv", index=False)
    before = encoder.texts
    record = job.nightly([str(tmp_path / "more.csv")], tmp_path / "night", settings)
    assert record["polarity"]["head"] == "saved"
    assert encoder.texts - before == 1  # the new sentence, nothing to learn from
    key = ["verbatim_id", "sentence"]
    run = pd.read_csv(tmp_path / "out" / "mentions.csv").set_index(key)["polarity_score"]
    night = pd.read_csv(tmp_path / "night" / "mentions.csv").set_index(key)["polarity_score"]
    assert night.drop("new-1", level=0).sort_index().equals(run.sort_index())
    assert night.loc["new-1"].iloc[0] < 0  # a problem


def test_the_cached_encoder_embeds_each_text_once() -> None:
    from cx_text.embedding_cache import EmbeddingCache
    from cx_text.settings import EmbeddingSettings

    encoder = CountingEncoder()
    cache = EmbeddingCache(lambda model_id, hashes: {}, EmbeddingSettings(show_progress=False))
    cached = run_polarity.CachedEncoder(encoder, lambda texts: cache.vectors(texts, encoder))
    first = cached.encode(["late again", "great staff"])
    again = cached.encode(["great staff", "late again"])
    assert encoder.texts == 2 and cached.model_id == encoder.model_id
    assert np.allclose(first[::-1], again, atol=1e-3)


def _record_polarity_calls(
    monkeypatch: pytest.MonkeyPatch, on_call: Any = None
) -> list[tuple[str, list[str]]]:
    """Every call of polarity's (fake) encoder but the seed set's warm-up (`stages.warm_caches`,
    on a thread of its own beside reading and cleaning): (thread name, texts); `on_call(name)`
    first."""
    import threading

    calls: list[tuple[str, list[str]]] = []
    plain = CountingEncoder.encode
    seed = set(polarity.load_seed()["text"])

    def recording(self: CountingEncoder, texts: list[str], *args: Any, **kwargs: Any) -> Any:
        name = threading.current_thread().name
        if set(texts) <= seed:
            return plain(self, texts, *args, **kwargs)
        if on_call is not None:
            on_call(name)
        calls.append((name, list(texts)))
        return plain(self, texts, *args, **kwargs)

    monkeypatch.setattr(CountingEncoder, "encode", recording)
    return calls


def _docs_and_sides(out: Path, calls: list[tuple[str, list[str]]]) -> tuple[set, list, list]:
    verbatims = pd.read_parquet(out / "verbatims.parquet")
    docs = {model_text(t) for t in verbatims.loc[~verbatims["is_non_answer"], "text"]}
    beside = [t for name, texts in calls if name.startswith("cx-text-alongside") for t in texts]
    later = [t for name, texts in calls if not name.startswith("cx-text-alongside") for t in texts]
    return docs, beside, later


def test_polarity_vectors_of_the_verbatims_are_embedded_while_the_clustering_runs(
    polarity_week: tuple[Any, Path, CountingEncoder],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The themes stage hands each group's documents to polarity's encoder on the thread that
    runs beside the clustering (`theming.fit_themes` `prefetch`), a few at a time; when the
    clustering takes longer than that, the polarity stage finds every verbatim's own text
    cached and embeds only what is left (sentences that are mentions of a second theme; the
    seed set was embedded beside reading and cleaning)."""
    import time

    from cx_text import theming

    settings, data, _ = polarity_week
    monkeypatch.setattr(stages, "PREFETCH_ROWS", 7)
    calls = _record_polarity_calls(monkeypatch)
    fit = theming.GroupTheming._model

    def slow_clustering(self: Any, vectors: Any, docs: list[str], anchors: Any) -> Any:
        deadline = time.monotonic() + 60  # until the thread beside has prefetched them all
        while not set(docs) <= {t for n, ts in calls if n.startswith("cx-text") for t in ts}:
            assert time.monotonic() < deadline, "the documents were never prefetched"
            time.sleep(0.01)
        return fit(self, vectors, docs, anchors)

    monkeypatch.setattr(theming.GroupTheming, "_model", slow_clustering)
    job.run([str(data)], tmp_path / "out", settings)
    docs, beside, later = _docs_and_sides(tmp_path / "out", calls)
    assert docs <= set(beside) and len(beside) == len(set(beside))
    assert not docs & set(later)  # embedded once, before the polarity stage


def test_the_seed_set_is_embedded_beside_reading_and_cleaning_once(
    polarity_week: tuple[Any, Path, CountingEncoder],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`stages.warm_caches` embeds the seed set on a thread beside the clean stage (held here
    until cleaning is done, so the two overlap), and the polarity stage, which fits its head on
    the seed set, waits for it and embeds none of it again; a second run finds it stored."""
    import threading

    settings, data, _ = polarity_week
    seed = set(polarity.load_seed()["text"])
    cleaned = threading.Event()
    calls: list[tuple[str, list[str]]] = []
    plain = CountingEncoder.encode

    def recording(self: CountingEncoder, texts: list[str], *args: Any, **kwargs: Any) -> Any:
        if set(texts) & seed:
            calls.append((threading.current_thread().name, list(texts)))
            assert cleaned.wait(60), "cleaning never finished"
        return plain(self, texts, *args, **kwargs)

    clean = stages.clean_inputs

    def cleaning(ctx: Any, state: Any) -> Any:
        try:
            return clean(ctx, state)
        finally:
            cleaned.set()

    monkeypatch.setattr(CountingEncoder, "encode", recording)
    monkeypatch.setattr(stages, "clean_inputs", cleaning)
    monkeypatch.setattr(job, "CLEAN", job.Stage("clean", cleaning))
    monkeypatch.setattr(job, "RUN", tuple(job.CLEAN if s.name == "clean" else s for s in job.RUN))
    job.run([str(data)], tmp_path / "out", settings)
    assert {name for name, _ in calls} == {"cx-text-alongside_0"}  # in steps, on one thread
    embedded = [t for _, texts in calls for t in texts]
    assert sorted(embedded) == sorted(seed)  # each seed text once
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    assert record["timings"]["warm"] < 1  # the stage only starts the thread
    steps = len(calls)
    job.run([str(data)], tmp_path / "again", settings)  # the store holds the seed vectors now
    assert len(calls) == steps


def test_prefetch_stops_when_the_clustering_is_done_and_the_rest_is_embedded_once_later(
    polarity_week: tuple[Any, Path, CountingEncoder],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Once the clustering is done the thread beside it stops after its current batch of
    `PREFETCH_ROWS` documents: the polarity stage embeds the rest on the run's own thread,
    where torch runs faster, and no document is embedded twice."""
    import threading

    from cx_text import theming

    settings, data, _ = polarity_week
    monkeypatch.setattr(stages, "PREFETCH_ROWS", 7)
    prefetching, clustered = threading.Event(), threading.Event()

    def hold_the_thread_beside(name: str) -> None:
        if name.startswith("cx-text-alongside"):
            prefetching.set()
            assert clustered.wait(60), "the clustering never finished"

    calls = _record_polarity_calls(monkeypatch, hold_the_thread_beside)
    fit = theming.GroupTheming._model

    def clustering(self: Any, vectors: Any, docs: list[str], anchors: Any) -> Any:
        try:
            assert prefetching.wait(60), "nothing was prefetched"
            return fit(self, vectors, docs, anchors)
        finally:
            clustered.set()

    monkeypatch.setattr(theming.GroupTheming, "_model", clustering)
    job.run([str(data)], tmp_path / "out", settings)
    docs, beside, later = _docs_and_sides(tmp_path / "out", calls)
    assert 0 < len(beside) <= 7  # one batch, begun before the clustering was done
    assert docs <= set(beside) | set(later) and not set(beside) & set(later)
    assert len(docs & set(later)) == len(docs) - len(beside)


def test_a_large_run_lets_the_student_score_and_the_nightly_recalls_it(
    polarity_week: tuple[Any, Path, CountingEncoder], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """The cascade through the pipeline (thresholds scaled to the test week): the student on
    the theme space's cached vectors scores part of the run, e5 never embeds those texts, and
    the next run recalls the student's scores from the store instead of embedding them."""
    from cx_text import polarity_cascade

    for name, value in (
        ("MIN_NEW", 20),
        ("MIN_TEACHER", 10),
        ("MIN_CHECK", 10),
        ("MIN_PER_LABEL", 3),
    ):
        monkeypatch.setattr(polarity_cascade, name, value)
    settings, data, encoder = polarity_week
    # the head learns nothing from scores (those texts would all be e5's), nor prefetches
    monkeypatch.setattr(stages, "_polarity_prefetch", lambda ctx: None)
    settings = settings.model_copy(update={"polarity": settings.polarity.model_copy(
        update={"learn_from_scores": False, "cascade_confidence": 0.6})})  # fmt: skip
    job.run([str(data)], tmp_path / "out", settings)
    record = json.loads((tmp_path / "out" / "run.json").read_text())["polarity"]
    space = record["spaces"]["test:hashing-256"]
    assert space["trusted"] and record["student"] == space["sure"] > 0
    assert record["e5"] + record["student"] == record["texts"]
    mentions = pd.read_csv(tmp_path / "out" / "mentions.csv")
    assert mentions["polarity"].notna().all()
    late = mentions[mentions["sentence"].str.contains("late")]
    assert (late["polarity"] == "problem").all()
    embedded = encoder.texts
    job.nightly([str(data)], tmp_path / "night", settings)  # nothing new: nothing embedded
    night = json.loads((tmp_path / "night" / "run.json").read_text())["polarity"]
    assert encoder.texts == embedded
    assert night["recalled"] == record["student"] and night["student"] == 0
    off = settings.model_copy(update={"polarity": settings.polarity.model_copy(
        update={"cascade": False})})  # fmt: skip
    job.run([str(data)], tmp_path / "off", off.model_copy(update={
        "state_dir": tmp_path / "s2", "models_dir": tmp_path / "m2"}))  # fmt: skip
    assert json.loads((tmp_path / "off" / "run.json").read_text())["polarity"]["student"] == 0


def test_the_prefetch_skips_texts_a_seed_head_student_already_scored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A weekly re-fit after a cold run: texts the cold run's student scored (kept under the
    seed head's student id) are not embedded by e5 beside the clustering."""
    from types import SimpleNamespace

    from cx_text.clean import text_hash
    from cx_text.embedding_cache import EmbeddingCache

    encoder = CountingEncoder()
    monkeypatch.setattr(run_polarity, "make_encoder", lambda *args: encoder)
    settings = load_settings(state_dir=tmp_path / "s", models_dir=tmp_path / "m",
                             embedding={"show_progress": False},
                             polarity={"enabled": True})  # fmt: skip
    cache = EmbeddingCache(lambda model_id, hashes: {}, settings.embedding)
    remembered = run_polarity.seed_student_id(encoder.model_id, settings.polarity)
    cache.remember(remembered, [text_hash("courier late")], np.array([[-0.95]]))
    prefetch = stages._polarity_prefetch(SimpleNamespace(settings=settings, cache=cache))
    assert prefetch is not None
    prefetch(["courier late", "great service"], lambda: False)
    assert encoder.texts == 1  # "great service" only
    prefetch(["courier late"], lambda: False)
    assert encoder.texts == 1
    # verbatims read part by part: a part is embedded once, whichever verbatim says it
    prefetch(["The courier was very late again. The support agent was really kind."],
             lambda: False)  # fmt: skip
    prefetch(["The courier was very late again. Everything else went fine, thank you."],
             lambda: False)  # fmt: skip
    assert encoder.texts == 1 + 2 + 1
    off = settings.model_copy(update={"polarity": settings.polarity.model_copy(
        update={"cascade": False})})  # fmt: skip
    without = stages._polarity_prefetch(SimpleNamespace(settings=off, cache=cache))
    assert without is not None
    without(["courier late"], lambda: False)
    assert encoder.texts == 5  # without the cascade nothing is remembered: e5 embeds it


def test_the_prefetch_embeds_in_the_cascades_order_until_the_clustering_is_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Beside the clustering e5 reads the documents in `hash_order`, the order the cascade draws
    its teacher and check texts in (a verbatim with mentions is scored whole, from its parts:
    they are read together), a step of documents at a time, and stops at the first step after
    the clustering is done."""
    from types import SimpleNamespace

    from cx_text.clean import hash_order
    from cx_text.embedding_cache import EmbeddingCache
    from cx_text.sentences import pooled_parts

    seen: list[str] = []

    class Recording(CountingEncoder):
        def encode(self, texts: list[str], batch_size: int = 64,
                   show_progress_bar: bool = False) -> np.ndarray:  # fmt: skip
            seen.extend(texts)
            return super().encode(texts, batch_size, show_progress_bar)

    monkeypatch.setattr(run_polarity, "make_encoder", lambda *args: Recording())
    monkeypatch.setattr(stages, "PREFETCH_ROWS", 3)
    settings = load_settings(state_dir=tmp_path / "s", models_dir=tmp_path / "m",
                             embedding={"show_progress": False},
                             polarity={"enabled": True})  # fmt: skip
    docs = [f"Order {i} arrived two days after the promised date. Sorry. The box was damaged "
            "and wet too." for i in range(6)] + ["fine", "all good"]  # fmt: skip
    cache = EmbeddingCache(lambda model_id, hashes: {}, settings.embedding)
    prefetch = stages._polarity_prefetch(SimpleNamespace(settings=settings, cache=cache))
    assert prefetch is not None
    prefetch(docs, iter([False, False, True]).__next__)
    first = [docs[i] for i in hash_order(docs)][:6]  # two steps of three, then done
    parts = {p for d in first for p in pooled_parts(d, 25)}
    assert set(seen) == parts and len(seen) == len(parts)
    assert not set(docs) & set(seen) - {"fine", "all good"}  # never a verbatim with mentions


def test_the_cascade_counts_only_e5_vectors_stored_before_the_run(tmp_path: Path) -> None:
    """What the student may decide must not depend on how far this run's prefetch got beside
    the clustering (a timing): only vectors stored by earlier runs count as known."""
    from types import SimpleNamespace

    from cx_text.clean import text_hash
    from cx_text.embedding_cache import EmbeddingCache

    settings = load_settings(state_dir=tmp_path / "s", models_dir=tmp_path / "m",
                             embedding={"show_progress": False},
                             polarity={"enabled": True})  # fmt: skip
    encoder = CountingEncoder()
    old = text_hash("stored text")
    cache = EmbeddingCache(lambda model_id, hashes: {h: np.ones(3) for h in hashes if h == old},
                           settings.embedding)  # fmt: skip
    cache.vectors(["fresh text"], encoder)  # embedded by this run (the prefetch)
    ctx = SimpleNamespace(settings=settings, cache=cache, embedders=None)
    space = stages._polarity_space(ctx, encoder)  # type: ignore[arg-type]
    shortcut = stages._polarity_shortcut(ctx, frame(complaint("c1")), space)  # type: ignore[arg-type]
    assert set(shortcut.known_e5(["stored text", "fresh text"])) == {"stored text"}


def test_the_cascade_runs_only_with_the_seed_head(monkeypatch: pytest.MonkeyPatch) -> None:
    """A head that learnt from the run's scores changes with every window: its student's scores
    could not be recalled by the next run, so such a run never enters the cascade."""
    from cx_text import polarity_cascade

    monkeypatch.setattr(polarity_cascade, "MIN_NEW", 1)
    entered: list[bool] = []

    def spaces() -> list[polarity_cascade.Space]:
        entered.append(True)
        return []

    def nothing(texts: list[str]) -> dict[str, float]:
        return {}

    shortcut = run_polarity.Shortcut(
        lambda texts: {}, spaces, lambda name: polarity_cascade.Memory(nothing, lambda t, s: None)
    )
    verbatims = _scored_run(12)
    mentions = _mentions([("d0", "T001", "late again, rude courier")])
    encoder = FakeEncoder()
    for learn, expected in ((True, []), (False, [True])):
        entered.clear()
        run_polarity.score_run(verbatims, mentions, PolaritySettings(learn_from_scores=learn),
                               encoder, _vectorise(encoder), shortcut)  # fmt: skip
        assert entered == expected
