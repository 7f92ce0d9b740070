"""The theme registry: one-to-one matching, new / active / retired, history, retention."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from cx_text import registry
from cx_text.registry import Candidate

NOW = pd.Timestamp("2026-11-23")
LATER = pd.Timestamp("2026-11-30")


def _unit(*values: float) -> np.ndarray:
    v = np.array(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def _cand(local: str, centre: np.ndarray, label: str = "x", size: int = 10) -> Candidate:
    return Candidate(local, label, size, "st:model", "en", "kw", centre)


def test_first_fit_registers_every_theme_as_new_by_size() -> None:
    cands = [_cand("a", _unit(1, 0, 0), "Small", 5), _cand("b", _unit(0, 1, 0), "Big", 50)]
    mapping, reg = registry.update_registry(cands, registry.empty_registry(), 0.8, NOW, "r1")
    assert mapping == {"b": "T001", "a": "T002"}  # biggest first
    assert reg["status"].tolist() == ["new", "new"]
    history = json.loads(reg.loc[reg["theme_id"] == "T001", "record"].iloc[0])["history"]
    assert history[0]["event"] == "created" and history[0]["label"] == "Big"


def test_refit_keeps_ids_by_similarity_marks_new_and_retired() -> None:
    first = [_cand("a", _unit(1, 0, 0), "Late delivery", 50),
             _cand("b", _unit(0, 1, 0), "App crash", 40),
             _cand("c", _unit(0, 0, 1), "Refund", 30)]  # fmt: skip
    _, reg = registry.update_registry(first, registry.empty_registry(), 0.8, NOW, "r1")
    # re-fit: late delivery drifted a little and was relabelled, app crash vanished,
    # refund is found again, and a new theme appears
    second = [_cand("x", _unit(0.1, 0, 1), "Refunds", 30),
              _cand("y", _unit(1, 0.2, 0), "Courier late", 55),
              _cand("z", _unit(-1, -1, 0), "Promo code", 20)]  # fmt: skip
    mapping, reg2 = registry.update_registry(second, reg, 0.8, LATER, "r2")
    assert mapping["y"] == "T001" and mapping["x"] == "T003"
    assert mapping["z"] == "T004"  # a new id, never a reused one
    status = registry.status_of(reg2)
    assert status == {"T001": "active", "T002": "retired", "T003": "active", "T004": "new"}
    late = reg2.set_index("theme_id").loc["T001"]
    assert late["label"] == "Courier late"
    assert late["first_seen"] == NOW and late["last_seen"] == LATER
    events = [h["event"] for h in json.loads(late["record"])["history"]]
    assert events == ["created", "relabelled"]


def test_matching_is_one_to_one_and_respects_the_threshold() -> None:
    _, reg = registry.update_registry([_cand("a", _unit(1, 0))], registry.empty_registry(),
                                      0.8, NOW, "r1")  # fmt: skip
    # two candidates close to the same registered theme: only the closer one takes its id
    mapping = registry.match([_cand("p", _unit(1, 0.1)), _cand("q", _unit(1, 0.3))], reg, 0.8)
    assert mapping == {"p": "T001"}
    assert registry.match([_cand("r", _unit(1, 1))], reg, 0.8) == {}  # cosine 0.71 < 0.8


def test_other_embedding_spaces_are_neither_matched_nor_retired() -> None:
    ru = Candidate("r", "Доставка", 10, "navec:x", "ru", "kw", _unit(1, 0))
    _, reg = registry.update_registry([ru], registry.empty_registry(), 0.8, NOW, "r1")
    en = _cand("e", _unit(1, 0))
    mapping, reg2 = registry.update_registry([en], reg, 0.8, LATER, "r2")
    assert mapping == {"e": "T002"}
    assert registry.status_of(reg2) == {"T001": "new", "T002": "new"}


def test_a_space_read_part_by_part_is_its_encoders_space() -> None:
    """A centre of texts read whole and one of texts read part by part (`+sentences`, pooled
    from the same encoder's sentence vectors) compare by cosine: a store fitted before
    `themes.pool_theme_sentences` keeps its theme ids at the re-fit, and the record names the
    new space; the anchors of a re-fit are found under the encoder's id either way."""
    assert registry.space_of("st:model+sentences") == registry.space_of("st:model") == "st:model"
    _, reg = registry.update_registry([_cand("a", _unit(1, 0, 0)), _cand("b", _unit(0, 1, 0))],
                                      registry.empty_registry(), 0.8, NOW, "r1")  # fmt: skip
    pooled = [Candidate("p", "x", 10, "st:model+sentences", "en", "kw", _unit(1, 0.1, 0))]
    mapping, reg2 = registry.update_registry(pooled, reg, 0.8, LATER, "r2")
    assert mapping == {"p": "T001"}
    assert registry.status_of(reg2) == {"T001": "active", "T002": "retired"}  # same space
    record = json.loads(reg2.loc[reg2["theme_id"] == "T001", "record"].iloc[0])
    assert record["model_id"] == "st:model+sentences"
    assert set(registry.anchors(reg2)) == {"st:model"}
    other = [Candidate("o", "x", 10, "st:other+sentences", "en", "kw", _unit(1, 0, 0))]
    assert registry.match(other, reg, 0.8) == {}  # another encoder is another space


def test_retention() -> None:
    before = pd.DataFrame({"verbatim_id": ["1", "2", "3", "4"],
                           "theme_id": ["T1", "T1", "T2", "unclassified"]})  # fmt: skip
    after = pd.DataFrame(
        {"verbatim_id": ["1", "2", "3", "4"], "theme_id": ["T1", "T2", "T2", "T1"]}
    )
    assert registry.retention(before, after) == 2 / 3
