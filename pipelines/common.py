"""What every flow shares: stages as Prefect tasks, and the artifacts a run publishes."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from prefect import task
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import TaskRunner
from prefect.tasks import exponential_backoff
from prefect.utilities.callables import get_call_parameters
from pydantic import SecretStr

from cx_text import embed, ingest, theming
from cx_text.notify import Sender
from cx_text.parallel import FanOut
from cx_text.runner import Timer
from cx_text.settings import DaskSettings, EmbeddingSettings, Settings, load_settings
from cx_text.stages import Added, RunContext, RunState, Stage
from cx_text.trends import markdown_text

T = TypeVar("T")
# a stage task that runs longer than this is failed (the flows have timeouts of their own)
TASK_TIMEOUT_SECONDS = 4 * 3600
# flow timeouts: a nightly is minutes, a weekly re-fit of 1M verbatims under an hour
NIGHTLY_TIMEOUT_SECONDS = 3 * 3600
WEEKLY_TIMEOUT_SECONDS = 6 * 3600
BACKFILL_TIMEOUT_SECONDS = 48 * 3600


class TaskTimer(Timer):
    """Runs each declared stage as a Prefect task named after it, with the stage's retries.

    A stage that fans out (`Stage.fan_out`: embedding and assignment chunks) runs in the flow
    and submits its chunk tasks itself: a task submitted from inside another task would carry
    its parent's parameters along. A task's only parameter is the run state: the context (the
    store connection, the embedding cache) stays in the closure, never in task parameters.
    """

    def run(self, stage: Stage, ctx: RunContext, state: RunState) -> Added:
        if stage.fan_out:
            return super().run(stage, ctx, state)

        def body() -> Added:
            return stage.fn(ctx, state)

        as_task = task(
            name=stage.name,
            retries=stage.retries,
            retry_delay_seconds=exponential_backoff(backoff_factor=5) if stage.retries else 0,
            retry_condition_fn=worth_retrying,
            cache_policy=NO_CACHE,
            timeout_seconds=TASK_TIMEOUT_SECONDS,
        )(body)
        with self.stage(stage.name):
            return as_task()


def worth_retrying(task: Any, task_run: Any, state: Any) -> bool:
    """Retry a source that may come back (database, network), never a broken file."""
    try:
        state.result()
    except ingest.SourceError:
        return True
    except ingest.InputError:  # a missing or unreadable file stays so: fail at once
        return False
    except Exception:
        return True
    return True


# Chunk tasks live at module level: Dask pickles a task by reference to its module attribute.
@task(name="embed-chunk", cache_policy=NO_CACHE)
def embed_chunk(
    texts: list[str], embedder: embed.Embedder, settings: EmbeddingSettings
) -> np.ndarray:
    return embed.embed_chunk(texts, embedder, settings)


@task(name="assign-chunk", cache_policy=NO_CACHE)
def assign_chunk(
    embeddings: np.ndarray, centres: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    return theming.assign_chunk(embeddings, centres, threshold)


CHUNK_TASKS: dict[Callable[..., Any], Any] = {
    embed.embed_chunk: embed_chunk,
    theming.assign_chunk: assign_chunk,
}


class TaskFanOut(FanOut):
    """One Prefect task per chunk: on the flow's thread pool, or on `runner` (Dask) when given.
    On the thread pool, a call of one chunk runs in the flow itself, without a task.

    Chunks are submitted together and gathered in order, so the result is the same whichever
    runner runs them and however many workers there are.
    """

    def __init__(self, chunk_size: int, runner: TaskRunner[Any] | None = None) -> None:
        super().__init__(chunk_size)
        self.runner = runner

    def run(self, name: str, fn: Callable[..., T], chunks: list[Any], *shared: Any) -> list[T]:
        if fn not in CHUNK_TASKS:
            raise KeyError(f"{fn.__qualname__} has no chunk task in pipelines.common.CHUNK_TASKS")
        chunk_task = CHUNK_TASKS[fn]
        if self.runner is None and len(chunks) == 1:
            # a single chunk runs on the flow's thread: as a task its bookkeeping outweighs a
            # nightly's few dozen texts (8 such calls a sample nightly)
            return [fn(chunks[0], *shared)]
        if self.runner is None:
            futures = [chunk_task.submit(chunk, *shared) for chunk in chunks]
        else:
            runner = self.runner
            futures = [
                runner.submit(chunk_task, get_call_parameters(chunk_task.fn, (chunk, *shared), {}))
                for chunk in chunks
            ]
        return [future.result() for future in futures]

    def alongside(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run `fn(*args)` right away, in this thread: Prefect submits tasks (the embedding
        chunks `fn` fans out) only from the flow's own context."""
        done: Future[T] = Future()
        try:
            done.set_result(fn(*args))
        except BaseException as exc:  # delivered by .result(), as from a thread
            done.set_exception(exc)
        return done


@contextmanager
def flow_run(settings: Settings) -> Iterator[TaskTimer]:
    """What every flow run holds: cx_text's logs in the flow-run logs, the store's one slot
    (nightly, weekly and backfill never overlap on one store) and the stage timer."""
    with cx_text_logs(), store_slot(settings), flow_timer(settings) as timer:
        yield timer


@contextmanager
def cx_text_logs() -> Iterator[None]:
    """Send the `cx_text` logger's records to the flow-run logs (Prefect's extra loggers), at
    INFO, for the flow's duration; PREFECT_LOGGING_EXTRA_LOGGERS=cx_text does it for a worker."""
    logger = logging.getLogger("cx_text")
    added = [h for h in logging.getLogger("prefect.extra").handlers if h not in logger.handlers]
    level = logger.level
    for handler in added:
        logger.addHandler(handler)
    logger.setLevel(min(level or logging.INFO, logging.INFO))
    try:
        yield
    finally:
        for handler in added:
            logger.removeHandler(handler)
        logger.setLevel(level)


def store_limit_name(settings: Settings) -> str:
    """The global concurrency limit of one store: named by a hash of its URL (never shown)."""
    digest = hashlib.sha256(settings.store_url_value.encode()).hexdigest()[:12]
    return f"cx-text-store-{digest}"


# mode "refuse": how long a run waits for the store's slot it saw free (the server's answer)
REFUSE_WAIT = 10.0


@contextmanager
def store_slot(settings: Settings) -> Iterator[None]:
    """Hold the store's global concurrency slot (a limit of 1, created on first use).

    The deployments' own `concurrency_limit` only keeps a deployment from overlapping itself;
    this keeps nightly, weekly and backfill runs on one store apart, on any worker. A run waits
    for the slot up to `[lock] timeout_seconds` (mode "wait") or fails at once ("refuse").
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.concurrency.sync import concurrency
    from prefect.exceptions import ObjectNotFound

    name = store_limit_name(settings)
    with get_client(sync_client=True) as client:
        try:
            held = client.read_global_concurrency_limit_by_name(name)
            busy = held.active_slots >= held.limit
        except ObjectNotFound:
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
            busy = False
    refuse = settings.lock.mode == "refuse"
    if refuse and busy:
        raise TimeoutError(f"another flow run holds the store's slot {name} ([lock] mode = refuse)")
    # refuse: a free slot still takes a slow server's answer (a 0.5 s limit once refused a run
    # on a free store while the server was busy); a run that took it meanwhile is waited for
    wait = settings.lock.timeout_seconds
    if refuse:
        wait = min(wait, REFUSE_WAIT)
    with concurrency(name, occupy=1, timeout_seconds=wait, strict=True):
        yield


def block_sender(name: str | None) -> Sender | None:
    """A sender of alert messages through a Prefect notification block, named as Prefect names
    blocks: "slack-webhook/cx-alerts", "ms-teams-webhook/...", "custom-webhook/..." (Slack and
    Teams go through apprise). None when no block is named."""
    if not name:
        return None
    from prefect.blocks.core import Block
    from prefect.blocks.notifications import NotificationBlock

    try:
        block: Any = Block.load(name, _sync=True)  # type: ignore[call-arg]
    except ValueError as exc:
        raise ingest.InputError(f"Prefect notification block '{name}' not found (name it as "
                                "'<block type slug>/<block name>')") from exc  # fmt: skip
    if not isinstance(block, NotificationBlock):
        raise ingest.InputError(f"Prefect block '{name}' is not a notification block")

    notifier: Any = block  # Prefect's sync/async dual method: `_sync` picks the blocking call

    def send(subject: str, body: str) -> None:
        notifier.notify(body, subject=subject, _sync=True)

    return send


@contextmanager
def flow_timer(settings: Settings) -> Iterator[TaskTimer]:
    """The timer of a flow run: stages as tasks, chunks as tasks on threads or on Dask."""
    chunk_size = settings.embedding.chunk_size
    if not settings.dask.enabled:
        yield TaskTimer(fan_out=TaskFanOut(chunk_size))
        return
    with dask_runner(settings.dask) as runner:
        yield TaskTimer(fan_out=TaskFanOut(chunk_size, runner))


def dask_runner(dask: DaskSettings) -> TaskRunner[Any]:
    """prefect-dask's runner: the cluster at `address`, else a LocalCluster for this run."""
    from prefect_dask import DaskTaskRunner

    if dask.address:
        return DaskTaskRunner(address=dask.address)
    cluster: dict[str, Any] = {"threads_per_worker": dask.threads_per_worker, "processes": True}
    if dask.n_workers:
        cluster["n_workers"] = dask.n_workers
    return DaskTaskRunner(cluster_kwargs=cluster)


def settings_for(config: str | None, state_dir: str | None = None, **given: Any) -> Settings:
    """Settings of a flow run (flow parameters checked like CLI flags), with secrets named as
    Prefect Secret blocks resolved."""
    overrides: dict[str, Any] = {"state_dir": Path(state_dir)} if state_dir else {}
    return resolve_secret_blocks(load_settings(config, **overrides, **given))


def inputs_for(inputs: list[str] | None, settings: Settings) -> list[str]:
    """Explicit inputs, else the configured drop folder and SQL queries."""
    if inputs:
        return inputs
    found = ingest.configured_inputs(settings.schedule.drop_folder, settings.schedule.sql_queries)
    if not found:
        raise ingest.InputError("no inputs: pass them or set [schedule] drop_folder / sql_queries")
    return found


def publish(record: dict[str, Any], kind: str, out_dir: Path | None = None) -> None:
    """The ranked table, a summary and the report as Prefect artifacts, under stable keys per
    flow: a link to report.html and report.md itself (already escaped) when `out_dir` has them.

    Labels come from customers' words: they are Markdown-escaped in the summary.
    """
    if out_dir is not None and (out_dir / "report.html").exists():
        create_link_artifact(
            key=f"cx-text-{kind}-report", link=(out_dir / "report.html").resolve().as_uri(),
            link_text=f"cx-text {kind} report ({record['run_id']})",
            description="The report of the run: open it where the flow wrote its outputs",
        )  # fmt: skip
        report_md = (out_dir / "report.md").read_text(encoding="utf-8")
        create_markdown_artifact(key=f"cx-text-{kind}-report-md", markdown=report_md)
    top = record.get("top_themes", [])
    if top:
        create_table_artifact(
            key=f"cx-text-{kind}-top-themes", table=top,
            description=f"Top themes of the latest {kind} run ({record['run_id']})",
        )  # fmt: skip
    counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in record["counts"].items())
    nps = record.get("nps", {})
    lines = [
        f"# cx-text {kind} run {record['run_id']}",
        "",
        f"- NPS {nps.get('nps', float('nan')):.1f} "
        f"(95% {nps.get('low', float('nan')):.1f} to {nps.get('high', float('nan')):.1f})",
        f"- {counts}",
        "",
        "| rank | theme | facet | label | NPS impact | problem share | status |",
        "|---|---|---|---|---|---|---|",
        *[f"| {t['rank']} | {markdown_text(t['theme_id'])} | {t.get('facet') or ''} | "
          f"{markdown_text(t['label'])} | {t['nps_impact']} | {_share(t.get('problem_share'))} | "
          f"{t['status']} |" for t in top],
    ]  # fmt: skip
    create_markdown_artifact(key=f"cx-text-{kind}-summary", markdown="\n".join(lines))


def _share(value: Any) -> str:
    return "" if value is None else f"{100 * float(value):.0f}%"


def resolve_secret_blocks(settings: Settings) -> Settings:
    """Settings with the secrets named as Prefect Secret blocks filled in.

    `store_url_secret_block`, `ingest.sql_url_secret_block` and `report.webhook_secret_block`
    name a block (`Secret(value=...).save(name)` or the Prefect UI); a named block wins over
    the environment and the settings file. The values stay `SecretStr`: never printed.
    """
    blocks = {
        ("store_url",): settings.store_url_secret_block,
        ("ingest", "sql_url"): settings.ingest.sql_url_secret_block,
        ("report", "webhook_url"): settings.report.webhook_secret_block,
    }
    for path, name in blocks.items():
        if name:
            settings = _with_secret(settings, path, _secret_value(name))
    return settings


def _secret_value(name: str) -> SecretStr:
    from prefect.blocks.system import Secret

    try:
        block: Any = Secret.load(name, _sync=True)  # type: ignore[call-arg]
    except ValueError as exc:  # the block does not exist
        raise ingest.InputError(f"Prefect Secret block '{name}' not found") from exc
    return SecretStr(str(block.get()))


def _with_secret(settings: Settings, path: tuple[str, ...], value: SecretStr) -> Settings:
    if len(path) == 1:
        return settings.model_copy(update={path[0]: value})
    section = getattr(settings, path[0]).model_copy(update={path[1]: value})
    return settings.model_copy(update={path[0]: section})
