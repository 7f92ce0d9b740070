"""A resident runner: the deployments of prefect.yaml, their scheduled runs executed in this one
process, so the models stay loaded from one run to the next.

    python -m pipelines.serve [--config cx-text.toml] [--poll 10]

A process work pool (scripts/prefect_local.sh) starts each flow run in a new process, which
imports torch, pandas and scikit-learn and loads every encoder again: about 5 s before a nightly
reads a row. This runner registers the same deployments (names, entrypoints, parameters,
schedules and concurrency limits read from prefect.yaml; no work pool), loads the models once
(`cx_text.job.preload`) and then, every `--poll` seconds, claims the deployments' due runs and
runs each with Prefect's own engine in this process, one at a time, oldest first. Runs started
from the UI or `prefect deployment run` are picked up the same way. What a worker gives and this
does not: a run cannot be cancelled while it runs (stop the process: the store keeps nothing of
an unfinished run), and a crash of this process leaves its run marked Running.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast
from uuid import UUID

import yaml
from prefect import Flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.exceptions import Abort
from prefect.flow_engine import run_flow
from prefect.schedules import Cron
from prefect.states import Pending, State
from prefect.utilities.engine import propose_state_sync

from cx_text import job
from pipelines.common import settings_for

ROOT = Path(__file__).resolve().parents[1]
PROJECT_FILE = ROOT / "prefect.yaml"
log = logging.getLogger("cx_text.serve")


@dataclass(frozen=True)
class Deployment:
    """One deployment of prefect.yaml, as this runner registers it."""

    name: str
    flow: Flow[..., Any]
    description: str
    parameters: dict[str, Any]
    crons: tuple[str, ...]
    concurrency_limit: int | None


def project_deployments(path: Path = PROJECT_FILE) -> list[Deployment]:
    """The deployments declared in prefect.yaml (the one place they are declared)."""
    project = yaml.safe_load(path.read_text())
    found = []
    for spec in project["deployments"]:
        module_path, name = spec["entrypoint"].split(":")
        module = importlib.import_module(module_path.removesuffix(".py").replace("/", "."))
        crons = tuple(s["cron"] for s in spec.get("schedules") or [] if s.get("active", True))
        found.append(Deployment(spec["name"], getattr(module, name), spec.get("description", ""),
                                dict(spec.get("parameters") or {}), crons,
                                spec.get("concurrency_limit")))  # fmt: skip
    return found


def register(
    deployments: list[Deployment], zone: str, config: str | None = None
) -> dict[UUID, Deployment]:
    """Create or update each deployment without a work pool, its crons in `zone` and `config`
    as its settings file: a worker of the `cx-text` pool then no longer takes its runs, this
    process does."""
    registered: dict[UUID, Deployment] = {}
    for spec in deployments:
        parameters = spec.parameters | ({"config": config} if config else {})
        runner_deployment: Any = spec.flow.to_deployment(
            name=spec.name,
            description=spec.description,
            parameters=parameters,
            schedules=[Cron(cron, timezone=zone) for cron in spec.crons],
            concurrency_limit=spec.concurrency_limit,
        )
        registered[cast(UUID, runner_deployment.apply())] = spec
    return registered


def due_runs(deployment_ids: list[UUID], limit: int = 10) -> list[Any]:
    """Runs of these deployments scheduled for now or earlier, oldest first."""
    with get_client(sync_client=True) as client:
        runs = client.get_scheduled_flow_runs_for_deployments(
            deployment_ids, scheduled_before=datetime.now(UTC), limit=limit
        )
    return sorted(runs, key=lambda r: r.next_scheduled_start_time or r.expected_start_time)


def claim(flow_run_id: UUID) -> Any | None:
    """Move a scheduled run to Pending, as a worker does before it starts one; the run, or None
    when it is no longer scheduled (another runner took it, or it ran) or the server refused
    (a concurrency limit)."""
    with get_client(sync_client=True) as client:
        if client.read_flow_run(flow_run_id).state_type != StateType.SCHEDULED:
            return None  # the server would move a finished run back to Pending
        try:
            state = propose_state_sync(client, Pending(), flow_run_id=flow_run_id)
        except Abort as refused:
            log.info("serve: run %s not started: %s", flow_run_id, refused)
            return None
        return client.read_flow_run(flow_run_id) if state.is_pending() else None


def run_due(registered: dict[UUID, Deployment]) -> list[tuple[UUID, str]]:
    """Run every due run of the registered deployments here, one after the other.

    Returns (flow run id, final state name) per run started."""
    done = []
    for due in due_runs(list(registered)):
        flow_run = claim(due.id)
        if flow_run is None:
            continue
        spec = registered[flow_run.deployment_id]
        log.info("serve: %s run %s starts", spec.name, flow_run.name)
        start = time.perf_counter()
        state = cast(State[Any], run_flow(spec.flow, flow_run=flow_run, return_type="state"))
        log.info("serve: %s run %s %s in %.1f s", spec.name, flow_run.name, state.name,
                 time.perf_counter() - start)  # fmt: skip
        done.append((flow_run.id, str(state.name)))
    return done


def serve(config: str | None = None, poll_seconds: float = 10.0, once: bool = False) -> None:
    """Register, preload, then run due runs every `poll_seconds` until stopped (`once`: run
    what is due now and return)."""
    settings = settings_for(config)
    zone = os.environ.get("CX_TEXT_TIMEZONE") or settings.schedule.timezone
    registered = register(project_deployments(), zone, config)
    loaded = job.preload(settings)
    log.info("serve: models loaded (%s); deployments %s", loaded,
             ", ".join(spec.name for spec in registered.values()))  # fmt: skip
    while True:
        run_due(registered)
        if once:
            return
        time.sleep(poll_seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=None, help="cx-text settings file")
    parser.add_argument("--poll", type=float, default=10.0, help="seconds between polls")
    parser.add_argument("--once", action="store_true", help="run what is due now, then exit")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    serve(args.config, args.poll, args.once)


if __name__ == "__main__":
    main()
