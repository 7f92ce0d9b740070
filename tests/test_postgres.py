"""The store on a real PostgreSQL server (started by scripts/start_postgres.sh in .ci/run)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from cx_text import job, theming
from cx_text.settings import load_settings
from cx_text.store import META, Store
from tests.conftest import HashingEmbedder
from tests.test_flows import _write_week

PG_URL = os.environ.get("CX_TEXT_TEST_PG_URL")
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not PG_URL, reason="CX_TEXT_TEST_PG_URL not set (no PostgreSQL server)"),
]


def test_nightly_flow_against_postgres(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipelines.nightly import nightly_flow

    assert PG_URL is not None
    engine = sa.create_engine(PG_URL)
    META.drop_all(engine)  # a clean store for this test
    engine.dispose()
    embedder = HashingEmbedder()
    monkeypatch.setattr(theming, "make_embedder", lambda model, settings: embedder)
    monkeypatch.setenv("CX_TEXT_STORE_URL", PG_URL)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    first, second = tmp_path / "w45.csv", tmp_path / "w46.csv"
    _write_week(first, "2026-W45")
    _write_week(second, "2026-W46")
    frame = pd.read_csv(second)
    frame["id"] = "w46-" + frame["id"]
    frame.to_csv(second, index=False)
    config = tmp_path / "cx.toml"
    config.write_text(f'models_dir = "{tmp_path / "models"}"\nlanguage = "en"\n'
                      "[themes]\nmin_cluster_size = 5\n")  # fmt: skip
    settings = load_settings(config)
    assert settings.store_url_value == PG_URL
    job.backfill([str(first)], "2026-W45", "2026-W45", tmp_path / "bf", settings)
    record = nightly_flow(inputs=[str(first), str(second)], out_dir=str(tmp_path / "n"),
                          config=str(config))  # fmt: skip
    assert record["counts"]["already_seen"] == 64 and record["counts"]["themed"] == 64
    again = nightly_flow(inputs=[str(first), str(second)], out_dir=str(tmp_path / "n2"),
                         config=str(config))  # fmt: skip
    assert again["counts"]["already_seen"] == 128 and again["counts"]["themed"] == 0
    store = Store(PG_URL)
    try:
        assert len(store.load_verbatims()) == 128
        assert store.frame("assignments")["verbatim_id"].is_unique
        assert store.watermark("verbatims") is not None
        assert len(store.runs()) >= 3
    finally:
        store.close()
