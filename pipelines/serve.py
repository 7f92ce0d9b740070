"""A resident runner: the deployments of prefect.yaml, their scheduled runs executed in this one
process, so the models stay loaded from one run to the next.

    python -m pipelines.serve [--config cx-text.toml] [--poll 10]

A process work pool (scripts/prefect_local.sh) starts each flow run in a new process, which
imports torch, pandas and scikit-learn and loads every encoder again: about 5 s before a nightly
reads a row. This runner registers the same deployments (names, entrypoints, parameters,
schedules and concurrency limits read from prefect.yaml; no work pool), loads the models once
(`cx_text.job.preload`) and then, every `--poll` seconds, claims the deployments' due runs and
runs each with Prefect's own engine in this process, one at a time, oldest first. Runs started
from the UI or `prefect deployment run` are picked up the same way. Run one resident runner per
set of deployments. A run cancelled from the UI or the API while it runs here is stopped at its
next Python step (`cancellable`: a long C call such as the UMAP layout finishes first) and
marked Cancelled; the store keeps nothing of an unfinished run. Each claimed run names the
process that holds it (`infrastructure_pid`: host, pid and the process's start time), so a
runner that starts again marks Crashed only the runs a dead process left Pending or Running
(`recover`), in place of the flow heartbeats a worker's child sends (off here: `resident`), and
never those of another runner still alive.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast
from uuid import UUID

import yaml
from prefect import Flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterDeploymentId,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.exceptions import Abort
from prefect.flow_engine import run_flow
from prefect.schedules import Cron
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from prefect.states import Cancelled, Crashed, Pending, State
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


def holder(pid: int | None = None) -> str:
    """Who holds a claimed run: this host, the process id and the process's start time (so a
    later process that reuses the id is not taken for it)."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{_started(pid)}"


def _started(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux /proc); "" elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]  # field 22, counted after the command name


def alive_elsewhere(held_by: str | None) -> bool:
    """The run is held by another process that is still running: another runner on this host
    (same pid and start time, not this process), or a runner on another host (which this
    process cannot check, so it is left alone)."""
    if not held_by or held_by.count(":") < 2:
        return False  # claimed before runs named their holder, or never claimed
    host, pid, _ = held_by.rsplit(":", 2)
    if host != socket.gethostname():
        return True
    if not pid.isdigit() or int(pid) == os.getpid():
        return False
    return holder(int(pid)) == held_by and _started(int(pid)) != ""


def claim(flow_run_id: UUID) -> Any | None:
    """Move a scheduled run to Pending, as a worker does before it starts one, and name this
    process as its holder; the run, or None when it is no longer scheduled (another runner took
    it, or it ran) or the server refused (a concurrency limit)."""
    with get_client(sync_client=True) as client:
        if client.read_flow_run(flow_run_id).state_type != StateType.SCHEDULED:
            return None  # the server would move a finished run back to Pending
        try:
            state = propose_state_sync(client, Pending(), flow_run_id=flow_run_id)
        except Abort as refused:
            log.info("serve: run %s not started: %s", flow_run_id, refused)
            return None
        if not state.is_pending():
            return None
        client.update_flow_run(flow_run_id, infrastructure_pid=holder())
        return client.read_flow_run(flow_run_id)


class RunCancelled(BaseException):  # not an Exception: no `except Exception` swallows it
    """Raised in this process's main thread when the run it runs was cancelled from outside."""


@contextmanager
def cancellable(flow_run_id: UUID, poll_seconds: float = 2.0) -> Iterator[threading.Event]:
    """While the block runs, a thread reads the run's state every `poll_seconds`; when someone
    cancels it (state Cancelling), RunCancelled is raised in the main thread at its next Python
    step, through a signal whose handler raises only while the block still runs. Yields the
    event that says the run was cancelled. Only in the main thread (signals are delivered
    there); elsewhere the block runs as it is."""
    requested, done = threading.Event(), threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield requested
        return
    main = threading.main_thread().ident

    def interrupt(signum: int, frame: Any) -> None:
        if requested.is_set() and not done.is_set():
            raise RunCancelled(f"flow run {flow_run_id} was cancelled")

    def watch() -> None:
        with get_client(sync_client=True) as client:
            while not done.wait(poll_seconds):
                try:
                    state = client.read_flow_run(flow_run_id).state
                except Exception:  # the API is briefly away: ask again at the next poll
                    log.debug("serve: cannot read run %s", flow_run_id, exc_info=True)
                    continue
                if state is not None and state.is_cancelling():
                    requested.set()
                    signal.pthread_kill(cast(int, main), signal.SIGUSR1)
                    return

    previous = signal.signal(signal.SIGUSR1, interrupt)
    watcher = threading.Thread(target=watch, name="cx-text-cancel-watch", daemon=True)
    watcher.start()
    try:
        yield requested
    finally:
        done.set()
        signal.signal(signal.SIGUSR1, previous)
        watcher.join(timeout=poll_seconds + 5)


def run_due(registered: dict[UUID, Deployment], cancel_poll: float = 2.0) -> list[tuple[UUID, str]]:
    """Run every due run of the registered deployments here, one after the other; a run
    cancelled while it runs is stopped and marked Cancelled (`cancellable`, its state read
    every `cancel_poll` seconds).

    Returns (flow run id, final state name) per run started."""
    done = []
    for due in due_runs(list(registered)):
        flow_run = claim(due.id)
        if flow_run is None:
            continue
        spec = registered[flow_run.deployment_id]
        log.info("serve: %s run %s starts", spec.name, flow_run.name)
        start = time.perf_counter()
        try:
            with cancellable(flow_run.id, cancel_poll):
                state = cast(State[Any], run_flow(spec.flow, flow_run=flow_run,
                                                  return_type="state"))  # fmt: skip
            name = str(state.name)
        except RunCancelled:
            name = _cancelled(flow_run.id)
        log.info("serve: %s run %s %s in %.1f s", spec.name, flow_run.name, name,
                 time.perf_counter() - start)  # fmt: skip
        done.append((flow_run.id, name))
    return done


def _cancelled(flow_run_id: UUID) -> str:
    """The state name of a run stopped by RunCancelled: Cancelled, unless it had ended first."""
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(flow_run_id).state
        if state is not None and state.is_final() and not state.is_crashed():
            return str(state.name)  # it finished before the cancel reached it
        client.set_flow_run_state(flow_run_id, Cancelled(message="cancelled while the resident "
                                                         "runner ran it"), force=True)  # fmt: skip
    return "Cancelled"


@contextmanager
def resident() -> Iterator[None]:
    """What the runs of this process run under: no flow heartbeats. A worker's child process
    sends them so that a server automation can mark the run Crashed when that process dies;
    here the process is this one, and `recover` marks its runs when it starts again. The
    heartbeat thread also held the end of every flow run for up to a second (it sleeps in
    one-second steps and is joined)."""
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def recover(deployment_ids: list[UUID]) -> list[UUID]:
    """Mark Crashed the runs of these deployments left Pending or Running by a process that is
    gone: a runner stopped or killed while it ran them (it runs them in its own process). A run
    another live runner holds (`alive_elsewhere`) is left to it. Returns the ids marked."""
    unfinished = FlowRunFilter(
        deployment_id=FlowRunFilterDeploymentId(any_=deployment_ids),
        state=FlowRunFilterState(
            type=FlowRunFilterStateType(any_=[StateType.PENDING, StateType.RUNNING])
        ),
    )
    marked = []
    with get_client(sync_client=True) as client:
        for run in client.read_flow_runs(flow_run_filter=unfinished):
            if alive_elsewhere(run.infrastructure_pid):
                log.warning("serve: run %s is %s in %s, left to it", run.name, run.state_name,
                            run.infrastructure_pid)  # fmt: skip
                continue
            client.set_flow_run_state(run.id, Crashed(message="the resident runner stopped "
                                                      "during this run"), force=True)  # fmt: skip
            log.warning("serve: run %s was left %s: marked Crashed", run.name, run.state_name)
            marked.append(run.id)
    return marked


def serve(config: str | None = None, poll_seconds: float = 10.0, once: bool = False) -> None:
    """Register, mark crashed runs, preload, then run due runs every `poll_seconds` until
    stopped (`once`: run what is due now and return)."""
    settings = settings_for(config)
    zone = os.environ.get("CX_TEXT_TIMEZONE") or settings.schedule.timezone
    registered = register(project_deployments(), zone, config)
    recover(list(registered))
    loaded = job.preload(settings)
    log.info("serve: models loaded (%s); deployments %s", loaded,
             ", ".join(spec.name for spec in registered.values()))  # fmt: skip
    with resident():
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
    # its own handler: Prefect's logging setup owns the root logger (WARNING and up)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    serve(args.config, args.poll, args.once)


if __name__ == "__main__":
    main()
