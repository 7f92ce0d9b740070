"""Prefect flows: a nightly flow run with its artifacts, and a deployment run on a real server."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from prefect import flow

from cx_text import job, theming
from cx_text.ingest import InputError
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
    # cx_text's own log lines are in the flow run's logs
    messages = _logs(state.state_details.flow_run_id)
    assert any(m.startswith("nps done in") for m in messages), messages[:20]
    # the weekly report as a link and as Markdown
    link = Artifact.get("cx-text-weekly-report")
    assert link is not None and str(link.data).endswith("/weekly/2026-W45/report.html)")
    report_md = Artifact.get("cx-text-weekly-report-md")
    assert report_md is not None and str(report_md.data).startswith("# Voice of the customer")
    assert (tmp_path / "nightly" / "themes.csv").exists()
    table = Artifact.get("cx-text-weekly-top-themes")
    assert table is not None and "Late delivery" in str(table.data)
    summary = Artifact.get("cx-text-nightly-summary")
    assert summary is not None and "already seen 64" in str(summary.data)


def _logs(flow_run_id: Any) -> list[str]:
    """The messages of a flow run's logs, read back from the Prefect API."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()  # the logs a run sent are in the API before we read
    with get_client(sync_client=True) as client:
        logs = client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
        )
    return [log.message for log in logs]


def test_one_store_slot_keeps_flows_on_one_store_apart(
    tmp_path: Path, prefect_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The slot of a store is held by one flow run; a second one on the same store is refused
    (lock mode "refuse"), one on another store is not. Refusing is for a held slot, not for a
    free one whose server answers slowly: with each acquisition taking 1 s, a run on a free
    store gets its slot (CI once refused one when the ephemeral server took over 0.5 s)."""
    import asyncio

    from prefect.client.orchestration._concurrency_limits.client import (
        ConcurrencyLimitAsyncClient,
    )

    from pipelines.common import store_slot

    one = load_settings(state_dir=tmp_path / "one", lock={"mode": "refuse"})
    other = load_settings(state_dir=tmp_path / "other", lock={"mode": "refuse"})
    with store_slot(one):
        with pytest.raises(TimeoutError), store_slot(one):
            pass
        with store_slot(other):
            pass
    with store_slot(one):  # released when the first run ended
        pass
    acquire = ConcurrencyLimitAsyncClient.increment_concurrency_slots_with_lease

    async def slow(self: Any, *args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(1.0)
        return await acquire(self, *args, **kwargs)

    monkeypatch.setattr(ConcurrencyLimitAsyncClient, "increment_concurrency_slots_with_lease",
                        slow)  # fmt: skip
    with store_slot(one):
        pass


def test_a_notification_block_gets_the_alerts(tmp_path: Path, prefect_home: Path) -> None:
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    from pipelines.common import block_sender
    from tests.test_trends import _Recorder

    received = _serve(_Recorder)
    try:
        CustomWebhookNotificationBlock(
            name="cx-test", url=received.url, json_data={"text": "{{subject}}: {{body}}"},
            allow_private_urls=True,
        ).save("cx-alerts")  # fmt: skip
        send = block_sender("custom-webhook/cx-alerts")
        assert send is not None
        send("cx-text: 1 alert(s)", "Promo codes rising")
    finally:
        received.stop()
    ((request,),) = [received.handler.received]
    assert request["body"] == {"text": "cx-text: 1 alert(s): Promo codes rising"}
    assert block_sender(None) is None
    with pytest.raises(InputError, match="not found"):
        block_sender("slack-webhook/missing")


class _Served:
    def __init__(self, handler: Any) -> None:
        import threading
        from http.server import HTTPServer

        self.handler = type("Recorder", (handler,), {"received": [], "status": 200})
        self.server = HTTPServer(("127.0.0.1", 0), self.handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _serve(handler: Any) -> _Served:
    return _Served(handler)


def _task_runs(flow_run_id: Any) -> dict[str, str]:
    """Name -> state type of every task run of a flow run, read back from the Prefect API."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
    return {run.name.rsplit("-", 1)[0]: run.state_type.value for run in runs}


def _deployment_run(
    name: str, params: list[str], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """`prefect deployment run NAME --watch`: waits for the run's final state (up to 300 s)."""
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "prefect"), "deployment", "run", name, *params,
         "--watch", "--watch-timeout", "300"],
        env=env, capture_output=True, text=True, timeout=330,
    )  # fmt: skip


@pytest.mark.prefect_server
def test_deployment_runs_to_completion_on_a_local_server(tmp_path: Path) -> None:
    """scripts/prefect_local.sh: server on 127.0.0.1, pool, `prefect deploy --all`, worker;
    then `scripts/prefect_local.sh resident`: the same server and the resident runner, which
    takes the nightly deployment's run and runs it in its own process."""
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
        run = _deployment_run("cx-text-backfill/backfill", params, env)
        assert "Completed" in run.stdout, run.stdout[-2000:] + run.stderr[-2000:]
        themes = pd.read_csv(tmp_path / "out" / "2026-W45" / "themes.csv")
        assert len(themes) >= 3
        subprocess.run([str(script), "stop"], env=env, timeout=60)
        subprocess.run([str(script), "resident"], env=env, check=True, timeout=240,
                       capture_output=True)  # fmt: skip
        night = ["--param", f"config={config}", "--param", f"inputs={json.dumps([str(data)])}",
                 "--param", f"out_dir={tmp_path / 'night'}"]  # fmt: skip
        run = _deployment_run("cx-text-nightly/nightly", night, env)
        log = (tmp_path / "prefect" / "resident.log").read_text()
        assert "Completed" in run.stdout, run.stdout[-2000:] + run.stderr[-2000:] + log[-2000:]
        record = json.loads((tmp_path / "night" / "run.json").read_text())
        assert record["counts"]["already_seen"] == 64
        assert "serve: models loaded" in log and "serve: nightly run" in log
    finally:
        subprocess.run([str(script), "stop"], env=env, timeout=60)


def test_resident_runner_runs_due_deployment_runs_in_its_own_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_home: Path
) -> None:
    """pipelines/serve.py registers prefect.yaml's deployments without a work pool, with their
    crons in the given zone, and runs their due runs in this process, oldest first: models
    loaded once serve every run (here the injected embedder embeds for both nightlies, which a
    run in another process could not touch). A run that is no longer scheduled is not claimed."""
    from prefect.client.orchestration import get_client

    from pipelines import serve

    embedder = HashingEmbedder()
    monkeypatch.setattr(theming, "make_embedder", lambda model, settings: embedder)
    first, second = tmp_path / "week.csv", tmp_path / "next.csv"
    _write_week(first)
    _write_week(second, "2026-W46")
    later = pd.read_csv(second)  # new rows: their own ids and wording
    later.assign(id="n-" + later["id"], comment=later["comment"] + " again").to_csv(second)
    config = str(_config(tmp_path))
    job.run([str(first)], tmp_path / "cold", load_settings(config))
    calls_after_cold = embedder.calls
    registered = serve.register(serve.project_deployments(), "Europe/Moscow")
    by_name = {spec.name: deployment_id for deployment_id, spec in registered.items()}
    assert set(by_name) == {"nightly", "weekly", "backfill"}
    with get_client(sync_client=True) as client:
        nightly = client.read_deployment(by_name["nightly"])
        assert nightly.work_pool_name is None
        assert [(s.schedule.cron, s.schedule.timezone) for s in nightly.schedules] == [
            ("0 2 * * *", "Europe/Moscow")
        ]
        runs = [client.create_flow_run_from_deployment(by_name["nightly"], parameters={
            "inputs": [str(path)], "out_dir": str(tmp_path / name), "config": config})
            for path, name in ((first, "night1"), (second, "night2"))]  # fmt: skip
    with serve.resident():
        done = serve.run_due(registered)
    assert [state for _, state in done] == ["Completed", "Completed"]
    assert [run_id for run_id, _ in done] == [run.id for run in runs]
    first_night = json.loads((tmp_path / "night1" / "run.json").read_text())
    second_night = json.loads((tmp_path / "night2" / "run.json").read_text())
    assert first_night["counts"]["already_seen"] == 64
    assert second_night["counts"]["already_seen"] == 0 and second_night["counts"]["themed"] == 64
    assert embedder.calls > calls_after_cold  # the second night's texts, embedded here
    assert serve.claim(runs[0].id) is None  # completed: nobody takes it again
    assert serve.run_due(registered) == []
    # a run the runner was running when it died is marked Crashed when it starts again
    from prefect.states import Running

    with get_client(sync_client=True) as client:
        left = client.create_flow_run_from_deployment(by_name["weekly"])
        client.set_flow_run_state(left.id, Running(), force=True)
        # ... unless another runner still alive holds it (here: the pytest process's parent)
        held = client.create_flow_run_from_deployment(by_name["weekly"])
        client.set_flow_run_state(held.id, Running(), force=True)
        client.update_flow_run(held.id, infrastructure_pid=serve.holder(os.getppid()))
        gone = client.create_flow_run_from_deployment(by_name["weekly"])  # a dead holder
        client.set_flow_run_state(gone.id, Running(), force=True)
        client.update_flow_run(gone.id, infrastructure_pid=serve.holder(os.getppid())[:-1] + "x")
        assert sorted(serve.recover(list(registered))) == sorted([left.id, gone.id])
        assert client.read_flow_run(left.id).state_type.value == "CRASHED"
        assert client.read_flow_run(held.id).state_type.value == "RUNNING"
        assert client.read_flow_run(runs[1].id).infrastructure_pid == serve.holder()  # claimed
    assert serve.recover(list(registered)) == []


@flow(name="cx-text-test-slow")
def _slow_flow(seconds: float = 60.0) -> str:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.05)
    return "done"


def test_resident_runner_stops_a_run_cancelled_while_it_runs(
    tmp_path: Path, prefect_home: Path
) -> None:
    """A run cancelled from the API while the resident runner runs it stops within a poll and
    ends Cancelled; the runner goes on with the next due run."""
    from prefect.client.orchestration import get_client
    from prefect.states import Cancelling

    from pipelines import serve

    spec = serve.Deployment("slow", _slow_flow, "", {}, (), None)
    registered = serve.register([spec], "UTC")
    (deployment_id,) = registered
    with get_client(sync_client=True) as client:
        slow = client.create_flow_run_from_deployment(deployment_id)
        short = client.create_flow_run_from_deployment(deployment_id, parameters={"seconds": 0.1})

    def cancel_when_running() -> None:
        with get_client(sync_client=True) as client:
            deadline = time.monotonic() + 60
            while client.read_flow_run(slow.id).state_type.value != "RUNNING":
                assert time.monotonic() < deadline
                time.sleep(0.1)
            client.set_flow_run_state(slow.id, Cancelling(), force=True)

    canceller = threading.Thread(target=cancel_when_running)
    canceller.start()
    start = time.monotonic()
    with serve.resident():
        done = serve.run_due(registered, cancel_poll=0.2)
    canceller.join()
    assert done == [(slow.id, "Cancelled"), (short.id, "Completed")]
    assert time.monotonic() - start < 40  # not the 60 s the slow run would take
    with get_client(sync_client=True) as client:
        assert client.read_flow_run(slow.id).state_type.value == "CANCELLED"


def test_preload_loads_each_model_a_run_needs_once(tmp_path: Path) -> None:
    """What the resident runner loads at start stays loaded: the run's loaders find it."""
    from cx_text import embed, labels

    settings = load_settings(_config(tmp_path))
    embed._MODELS.clear()  # as in a new process (earlier tests may have loaded them)
    labels.english_pipeline.cache_clear()
    loaded = job.preload(settings)
    assert set(loaded) == {"embedding all-MiniLM-L6-v2", "embedding navec", "russian lemmas",
                           "personal-data recognisers", "english label parser"}  # fmt: skip
    first = dict(embed._MODELS)  # the theme encoder (MiniLM), loaded now
    assert len(first) == 1 and labels.english_pipeline.cache_info().currsize == 1
    job.preload(settings)
    assert dict(embed._MODELS) == first  # the same loaded model objects, not a second load
