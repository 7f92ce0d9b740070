"""Prefect flows: a nightly flow run with its artifacts, and a deployment run on a real server."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from cx_text import job, theming
from cx_text.settings import load_settings
from tests.conftest import ROOT, THEME_CORPUS, HashingEmbedder


def _write_week(path: Path, week: str = "2026-W45") -> None:
    start, _ = job.week_bounds(week)
    rows = [{"id": f"{theme}-{i}", "comment": text, "score": 3 if i % 2 else 9,
             "created_at": start + pd.Timedelta(hours=i), "customer_id": f"c{i}"}
            for theme, texts in THEME_CORPUS.items() for i, text in enumerate(texts)]  # fmt: skip
    pd.DataFrame(rows).to_csv(path, index=False)


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "cx-text.toml"
    config.write_text(
        f'state_dir = "{tmp_path / "state"}"\nmodels_dir = "{tmp_path / "models"}"\n'
        'language = "en"\n[themes]\nmin_cluster_size = 5\n[embedding]\nshow_progress = false\n'
    )
    return config


def test_nightly_flow_runs_stages_as_tasks_and_publishes_artifacts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_home: Path
) -> None:
    from prefect.artifacts import Artifact

    from pipelines.nightly import nightly_flow
    from pipelines.weekly import weekly_flow

    embedder = HashingEmbedder()
    monkeypatch.setattr(theming, "make_embedder", lambda model, settings: embedder)
    data = tmp_path / "week.csv"
    _write_week(data)
    config = str(_config(tmp_path))
    job.backfill([str(data)], "2026-W45", "2026-W45", tmp_path / "bf",
                 load_settings(config))  # fmt: skip
    weekly = weekly_flow(week="2026-W45", out_dir=str(tmp_path / "weekly"), config=config)
    assert weekly["week"] == "2026-W45"
    state = nightly_flow(inputs=[str(data)], out_dir=str(tmp_path / "nightly"), config=config,
                         return_state=True)  # fmt: skip
    record = state.result()
    assert record["counts"]["already_seen"] == 64
    # every declared stage ran as a completed task of this flow run (fan-out stages run in the
    # flow and submit chunk tasks); with the plain timer there would be no task runs at all
    ran = _task_runs(state.state_details.flow_run_id)
    stages = [s.name for s in job.NIGHTLY if not s.fan_out]
    assert sorted(ran) == sorted(stages) and set(ran.values()) == {"COMPLETED"}
    assert (tmp_path / "nightly" / "themes.csv").exists()
    table = Artifact.get("cx-text-weekly-top-themes")
    assert table is not None and "Late delivery" in str(table.data)
    summary = Artifact.get("cx-text-nightly-summary")
    assert summary is not None and "already seen 64" in str(summary.data)


def _task_runs(flow_run_id: Any) -> dict[str, str]:
    """Name -> state type of every task run of a flow run, read back from the Prefect API."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
    return {run.name.rsplit("-", 1)[0]: run.state_type.value for run in runs}


@pytest.mark.prefect_server
def test_deployment_runs_to_completion_on_a_local_server(tmp_path: Path) -> None:
    """scripts/prefect_local.sh: server on 127.0.0.1, pool, `prefect deploy --all`, worker."""
    data = tmp_path / "week.csv"
    _write_week(data)
    config = _config(tmp_path)
    port = "4317"
    env = {**os.environ, "CX_TEXT_PREFECT_DIR": str(tmp_path / "prefect"),
           "CX_TEXT_PREFECT_PORT": port, "PREFECT_HOME": str(tmp_path / "prefect" / "home"),
           "PREFECT_API_URL": f"http://127.0.0.1:{port}/api"}  # fmt: skip
    script = ROOT / "scripts" / "prefect_local.sh"
    subprocess.run([str(script)], env=env, check=True, timeout=240, capture_output=True)
    try:
        params = ["--param", f"config={config}", "--param", "first_week=2026-W45",
                  "--param", "last_week=2026-W45", "--param", f"inputs={json.dumps([str(data)])}",
                  "--param", f"out_dir={tmp_path / 'out'}"]  # fmt: skip
        run = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "prefect"), "deployment", "run",
             "cx-text-backfill/backfill", *params, "--watch", "--watch-timeout", "300"],
            env=env, capture_output=True, text=True, timeout=330,
        )  # fmt: skip
        assert "Completed" in run.stdout, run.stdout[-2000:] + run.stderr[-2000:]
        themes = pd.read_csv(tmp_path / "out" / "2026-W45" / "themes.csv")
        assert len(themes) >= 3
    finally:
        subprocess.run([str(script), "stop"], env=env, timeout=60)
