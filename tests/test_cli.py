"""The `cx-text` command end to end: user errors, and one full run on the bundled sample."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score
from typer.testing import CliRunner

from cx_text.cli import app
from cx_text.schemas import ASSIGNMENTS, QUARANTINE, THEME_TABLE, UNCLASSIFIED, VERBATIMS
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
    assert record["models"]["other"] == "st:all-MiniLM-L6-v2"
    assert set(record["timings"]) >= {"read", "clean", "themes", "store", "write", "report"}
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
    assert set(themes["language"]) >= {"en", "ru"}
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


def test_sample_russian_themes_match_planted_themes_as_well_as_english(sample_run: Path) -> None:
    """Russian (navec backend) is first-class: ARI against the planted themes >= English's."""
    truth = pd.read_csv(TRUTH, keep_default_na=False).drop_duplicates("response_id")
    assignments = pd.read_csv(sample_run / "assignments.csv")
    merged = assignments.merge(truth, left_on="verbatim_id", right_on="response_id")
    merged = merged[merged["theme"] != ""]  # planted theme known (not noise or non-answers)
    ari = {
        language: adjusted_rand_score(group["theme"], group["theme_id"])
        for language, group in merged.groupby("language")
    }
    assert set(ari) == {"en", "ru"}
    assert ari["ru"] >= ari["en"] > 0.35, ari


def test_second_run_embeds_nothing(sample_run: Path) -> None:
    code, output = _run("run", str(SAMPLE), "--out", str(sample_run / "again"), "--state-dir",
                        str(sample_run / "state"), "--quiet")  # fmt: skip
    assert code == 0, output
    record = json.loads((sample_run / "again" / "run.json").read_text())
    assert record["embeddings"]["new"] == 0
    assert record["embeddings"]["cached"] > 3000
