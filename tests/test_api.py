"""The Python API: `cx_text.analyze` on a DataFrame gives the CLI's tables, writes nothing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cx_text import analyze, outputs, theming
from cx_text.cli import app
from cx_text.schemas import VERBATIMS
from tests.conftest import ROOT, HashingEmbedder

ROWS = 1200  # the sample's first rows: every source, role and language of it, in seconds


@pytest.fixture()
def sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> pd.DataFrame:
    embedder = HashingEmbedder()
    monkeypatch.setattr(theming, "make_embedder", lambda model, settings: embedder)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    frame = pd.read_csv(ROOT / "data" / "sample_feedback.csv", dtype=str, keep_default_na=False)
    return frame.head(ROWS)


def test_analyze_gives_the_cli_tables_and_writes_nothing(
    sample: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "sample.csv"
    sample.to_csv(path, index=False)
    cli = tmp_path / "cli"
    ran = CliRunner().invoke(app, ["run", str(path), "--out", str(cli), "--state-dir",
                                   str(tmp_path / "state"), "-q"])  # fmt: skip
    assert ran.exit_code == 0, ran.output
    before = sorted(Path.cwd().rglob("*"))  # the CLI's models/ folder
    result = analyze(sample)
    assert sorted(Path.cwd().rglob("*")) == before  # no state folder, no models, no outputs
    mine = tmp_path / "api"
    for name in ("themes", "assignments", "mentions"):  # through the same writer: same bytes
        outputs.write_csv(getattr(result, name), mine / f"{name}.csv")
        assert (mine / f"{name}.csv").read_bytes() == (cli / f"{name}.csv").read_bytes(), name
    stored = pd.read_parquet(cli / "verbatims.parquet")
    core = VERBATIMS.names  # segment columns come back from Parquet as strings
    pd.testing.assert_frame_equal(result.verbatims[core], stored[core])
    pd.testing.assert_frame_equal(result.verbatims, stored, check_dtype=False)
    quarantined = pd.read_csv(cli / "quarantine.csv").drop(columns="input_file")
    assert len(result.quarantine) == len(quarantined) > 0
    assert set(result.quarantine["input_file"]) == {"dataframe"}
    cli_counts = pd.read_json(cli / "run.json", typ="series")["counts"]
    assert result.counts == cli_counts
    assert result.tables.top_detractor_themes["theme_id"].tolist() == pd.read_csv(
        cli / "top_detractor_themes.csv")["theme_id"].tolist()  # fmt: skip


def test_analyze_keeps_a_store_and_ids_when_asked(sample: pd.DataFrame, tmp_path: Path) -> None:
    store, out = tmp_path / "state", tmp_path / "out"
    first = analyze(sample, text="comment", score="score", store=store)
    again = analyze(sample, store=store, out=out)
    assert (store / "store.duckdb").exists() and (store / "models" / "current").exists()
    # the second call re-fits against the kept registry: the themes keep their ids
    ids = set(first.themes["theme_id"]) - {"unclassified"}
    assert len(ids & set(again.themes["theme_id"])) >= 0.9 * len(ids)
    assert again.record["kind"] == "run" and "models_version" in again.record
    assert {"themes.csv", "run.json", "report.html"} <= {p.name for p in out.iterdir()}
