"""Analyst overrides: parsing, validation, merge / rename / split / seed / ignore, CLI helpers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cx_text import job, overrides, theming
from cx_text.cli import app
from cx_text.schemas import ASSIGNMENTS, MENTIONS, THEMES
from cx_text.settings import load_settings
from tests.conftest import THEME_CORPUS, HashingEmbedder
from tests.test_flows import _write_week

THEMES_FRAME = THEMES.conform(pd.DataFrame({
    "theme_id": ["T001", "T002", "T003"], "label": ["Late", "Crash", "Refund"],
    "parent_theme_id": "P01", "parent_label": "p", "keywords": "k", "size": [2, 1, 1],
    "language": "en", "examples": "", "status": "active", "n_en": [2, 1, 1], "n_ru": 0,
    "label_en": ["Late", "Crash", "Refund"], "label_ru": "",
}))  # fmt: skip
ASSIGN = ASSIGNMENTS.conform(pd.DataFrame({
    "verbatim_id": ["a", "b", "c", "d"], "theme_id": ["T001", "T001", "T002", "T003"],
    "theme_label": ["Late", "Late", "Crash", "Refund"], "parent_theme_id": "P01",
    "confidence": [0.9, 0.4, 0.8, 0.7],
}))  # fmt: skip
MENTION = MENTIONS.conform(pd.DataFrame({
    "verbatim_id": ["a", "a", "c"], "theme_id": ["T001", "T002", "T002"], "sentence": "s",
    "confidence": [0.9, 0.5, 0.8],
}))  # fmt: skip


def test_parse_and_validate_name_unknown_ids() -> None:
    spec = overrides.parse("rename: {T001: Courier late}\nmerge: [{into: T001, themes: [T009]}]")
    with pytest.raises(overrides.OverrideError, match="unknown theme ids: T009"):
        overrides.validate(spec, {"T001", "T002"})
    with pytest.raises(overrides.OverrideError, match="not valid"):
        overrides.parse("merge: {into: 3}")


def test_merge_and_rename() -> None:
    spec = overrides.parse("rename: {T001: Courier late}\nmerge: [{into: T001, themes: [T002]}]")
    themes, assignments, mentions = overrides.apply_merge_rename(
        THEMES_FRAME, ASSIGN, MENTION, spec
    )
    assert themes["theme_id"].tolist() == ["T001", "T003"]
    assert themes.set_index("theme_id").loc["T001", "size"] == 3
    assert assignments["theme_id"].tolist() == ["T001", "T001", "T001", "T003"]
    assert set(assignments.loc[assignments["theme_id"] == "T001", "theme_label"]) == {
        "Courier late"
    }
    # verbatim a mentioned T001 and T002: after the merge it mentions T001 once
    assert mentions[mentions["verbatim_id"] == "a"]["theme_id"].tolist() == ["T001"]


def test_split_by_seed_phrases_takes_close_verbatims_only() -> None:
    spec = overrides.parse(
        "split: [{name: Promo codes, from: T001, seeds: [promo], threshold: 0.6}]"
    )
    vectors = np.array([[1, 0], [0.8, 0.6], [0, 1], [0.6, 0.8]], dtype=float)  # unit rows
    embed = lambda phrases: np.array([[0.0, 1.0]])  # noqa: E731 - the seed direction
    themes, assignments = overrides.apply_seeds(
        THEMES_FRAME, ASSIGN, spec, vectors, ASSIGN["confidence"].to_numpy(), embed
    )
    # b (theme T001, similarity 0.6 to the seed >= its 0.4 to T001) moves; a (0.0) stays;
    # d is similar too but not in T001, the theme the split is taken from
    assert assignments["theme_id"].tolist() == ["T001", "S-promo-codes", "T002", "T003"]
    assert themes.set_index("theme_id").loc["S-promo-codes", "size"] == 1


def test_seed_theme_is_listed_even_when_empty() -> None:
    spec = overrides.parse("seed_themes: [{name: Delivery slots, seeds: [slot], threshold: 0.99}]")
    vectors = np.eye(4, 2)
    seed = np.array([[0.0, 1.0]])
    themes, assignments = overrides.apply_seeds(
        THEMES_FRAME, ASSIGN, spec, vectors, np.ones(4), lambda phrases: seed
    )
    assert "S-delivery-slots" in set(themes["theme_id"])
    assert assignments["theme_id"].tolist() == ASSIGN["theme_id"].tolist()


def test_overrides_survive_a_refit_and_apply_to_every_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedder = HashingEmbedder()
    monkeypatch.setattr(theming, "make_embedder", lambda model, settings: embedder)
    data = tmp_path / "week.csv"
    _write_week(data)
    yaml_file = tmp_path / "themes.yaml"
    settings = load_settings(state_dir=tmp_path / "s", models_dir=tmp_path / "m", language="en",
                             overrides_file=yaml_file, themes={"min_cluster_size": 5},
                             embedding={"show_progress": False})  # fmt: skip
    job.run([str(data)], tmp_path / "first", settings)
    first = pd.read_csv(tmp_path / "first" / "themes.csv").set_index("theme_id")
    late = next(t for t, label in first["label"].items() if "late" in str(label).lower())
    refund = next(t for t, label in first["label"].items() if "refund" in str(label).lower())
    crash = next(t for t, label in first["label"].items() if "crash" in str(label).lower())
    yaml_file.write_text(
        f"rename: {{{late}: Courier is late}}\nmerge: [{{into: {late}, themes: [{crash}]}}]\n"
        f"ignore: [{refund}]\nseed_themes: [{{name: Gift cards, seeds: [gift card], "
        "threshold: 0.9}]\n"
    )
    job.run([str(data)], tmp_path / "second", settings)  # a re-fit: ids come from the registry
    ranked = pd.read_csv(tmp_path / "second" / "themes.csv").set_index("theme_id")
    assert ranked.loc[late, "label"] == "Courier is late"
    assert crash not in ranked.index and refund not in ranked.index
    assert "S-gift-cards" in ranked.index
    assignments = pd.read_csv(tmp_path / "second" / "assignments.csv")
    assert crash not in set(assignments["theme_id"])
    assert refund in set(assignments["theme_id"])  # ignored in rankings only


def test_cli_themes_list_rename_merge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    embedder = HashingEmbedder()
    monkeypatch.setattr(theming, "make_embedder", lambda model, settings: embedder)
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "week.csv"
    _write_week(data)
    settings = load_settings(state_dir=tmp_path / "s", models_dir=tmp_path / "m", language="en",
                             themes={"min_cluster_size": 5})  # fmt: skip
    job.run([str(data)], tmp_path / "out", settings)
    runner = CliRunner()
    state = ["--state-dir", str(tmp_path / "s")]
    listed = runner.invoke(app, ["themes", "list", *state])
    assert listed.exit_code == 0 and "T001\tnew\t" in listed.output
    renamed = runner.invoke(app, ["themes", "rename", "T001", "Courier late", *state])
    assert renamed.exit_code == 0
    merged = runner.invoke(app, ["themes", "merge", "T002", "--into", "T001", *state])
    assert merged.exit_code == 0
    spec = overrides.load(tmp_path / "themes.yaml")
    assert spec.rename == {"T001": "Courier late"}
    assert spec.merge[0].into == "T001" and spec.merge[0].themes == ["T002"]
    bad = runner.invoke(app, ["themes", "rename", "T999", "x", *state])
    assert bad.exit_code == 2 and "unknown theme ids: T999" in bad.output
    listed = runner.invoke(app, ["themes", "list", *state])
    assert "renamed to 'Courier late'" in listed.output and "merged into T001" in listed.output


class WideHashing(HashingEmbedder):
    """Another embedding space: 300 dimensions and a model id of its own."""

    model_id = "test:hashing-300"

    def __init__(self) -> None:
        super().__init__()
        self._vectorizer.set_params(n_features=300)


def test_seed_themes_compare_each_language_group_in_its_own_space(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: one text in two language groups whose models differ (256 vs 300 dims).

    The seeds used to see the vectors of every model merged by text hash: a matmul shape error
    here, or a silent comparison across spaces when the dimensions happen to agree.
    """
    english, russian = HashingEmbedder(), WideHashing()
    monkeypatch.setattr(theming, "make_embedder",
                        lambda model, s: russian if model == "navec" else english)  # fmt: skip
    shared = "courier late again waited hours"
    ru_texts = [f"курьер опоздал {w}" for w in ("снова", "опять", "на час", "вечером")] * 4
    ru_texts += [f"приложение вылетает {w}" for w in ("снова", "опять", "при оплате", "утром")] * 4
    texts = [t for block in THEME_CORPUS.values() for t in block]
    rows = [(f"en{i}", t, "en") for i, t in enumerate(texts)]
    rows += [(f"ru{i}", t, "ru") for i, t in enumerate(ru_texts)] + [("ru-shared", shared, "ru")]
    data = tmp_path / "mixed.csv"
    pd.DataFrame(rows, columns=["id", "comment", "language"]).assign(score=3).to_csv(
        data, index=False
    )
    (tmp_path / "themes.yaml").write_text(
        "seed_themes: [{name: Late courier, seeds: [courier late again], threshold: 0.5}]\n"
    )
    settings = load_settings(
        state_dir=tmp_path / "s", models_dir=tmp_path / "m",
        overrides_file=tmp_path / "themes.yaml",
        themes={"min_cluster_size": 5}, embedding={"show_progress": False},
    )  # fmt: skip
    job.run([str(data)], tmp_path / "out", settings)
    assigned = pd.read_csv(tmp_path / "out" / "assignments.csv").set_index("verbatim_id")
    seed = russian.encode(["courier late again"])[0]
    expected = float(russian.encode([shared])[0] @ (seed / np.linalg.norm(seed)))
    assert assigned.loc["ru-shared", "theme_id"] == "S-late-courier"
    assert assigned.loc["ru-shared", "confidence"] == pytest.approx(expected, abs=1e-3)
    assert set(pd.read_csv(tmp_path / "out" / "themes.csv")["theme_id"]) >= {"S-late-courier"}
