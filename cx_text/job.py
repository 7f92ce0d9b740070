"""The jobs: `run`, `nightly`, `weekly`, `backfill` and `inspect`, each a declared list of stages.

The CLI calls the functions below, which hold the run lock, open the store and walk the job's
stage list with a `Timer`; the Prefect flows in `pipelines/` call the same functions with a timer
that runs each stage as a task. Nothing here knows a stage other than by its declaration.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from cx_text import ingest, models, outputs, records, trends
from cx_text.embedding_cache import EmbeddingCache
from cx_text.lock import run_lock
from cx_text.notify import Sender
from cx_text.runner import Timer, walk
from cx_text.settings import Settings
from cx_text.stages import (
    RunContext,
    Stage,
    apply_overrides,
    assign_themes,
    clean_inputs,
    commit,
    compare_periods,
    figures,
    fit_themes,
    load_window,
    publish_models,
    read_inputs,
    render_report,
    rolling_window,
    save_models,
    score_polarity,
    send_alerts,
    split_facets,
    store_history,
    warm_caches,
    weekly_figures,
    write_comparison,
    write_outputs,
)
from cx_text.store import Store

READ = Stage("read", read_inputs, retries=3)  # reading sources meets flaky networks, databases
CLEAN = Stage("clean", clean_inputs)
THEMES = Stage("themes", fit_themes, fan_out=True)
OUTPUTS = (
    Stage("overrides", apply_overrides),
    Stage("polarity", score_polarity),
    Stage("facets", split_facets),
    Stage("nps", figures),
    Stage("trends", weekly_figures),
    Stage("report", render_report),
    Stage("write", write_outputs),
    Stage("notify", send_alerts),
)
SAVE = Stage("save_models", save_models)
STORE = Stage("store", commit)
PUBLISH = Stage("publish", publish_models)

# polarity's seed vectors embedded beside reading and cleaning (the CLI; a flow: right away)
WARM = Stage("warm", warm_caches)

RUN = (WARM, READ, CLEAN, THEMES, *OUTPUTS, SAVE, STORE, PUBLISH)
NIGHTLY = (READ, CLEAN, Stage("assign", assign_themes, fan_out=True),
           Stage("window", rolling_window), *OUTPUTS, STORE)  # fmt: skip
WEEKLY = (WARM, Stage("load", load_window), THEMES, *OUTPUTS, SAVE, STORE, PUBLISH)
BACKFILL = (READ, CLEAN, Stage("store", store_history))
COMPARE = (Stage("compare", compare_periods), Stage("write", write_comparison))
INSPECT = (READ, CLEAN)


@contextmanager
def locked(settings: Settings) -> Iterator[None]:
    """Hold the run lock of the state dir; first publish models a kill left unpublished."""
    with run_lock(settings.state_dir, settings.lock):
        models.recover_models(settings.models_dir, settings.store_url_value)
        yield


@contextmanager
def context(
    kind: str,
    settings: Settings,
    out_dir: Path,
    timer: Timer | None,
    started: pd.Timestamp | None = None,
    **given: Any,
) -> Iterator[RunContext]:
    """A run's context: a new run id, an open store and an empty embedding cache.

    `started` (default now) is the run's time: rows without a date are stamped with it.
    """
    started = started if started is not None else records.now()
    store = Store(settings.store_url_value)
    try:
        cache = EmbeddingCache(store.load_embeddings, settings.embedding)
        try:
            yield RunContext(kind, records.new_run_id(started), started, settings, out_dir,
                             store, cache, timer or Timer(), **given)  # fmt: skip
        finally:
            cache.stop_warming()  # a run that failed early: its warm-up ends before the store
    finally:
        store.close()


def run(
    inputs: list[str],
    out_dir: Path,
    settings: Settings,
    timer: Timer | None = None,
    send: Sender | None = None,
) -> dict[str, Any]:
    """Run the pipeline on `inputs` (re-fitting themes), write every output, commit the store.

    On a warm store the new themes are matched to the registry, so ids stay stable.

    Returns:
        The run record (also written to out_dir/run.json).
    """
    with locked(settings), context("run", settings, out_dir, timer, inputs=tuple(inputs),
                                   send=send) as ctx:  # fmt: skip
        state = walk(RUN, ctx)
    outputs.write_json(state.record, out_dir / "run.json")
    return state.record


def nightly(
    inputs: list[str],
    out_dir: Path,
    settings: Settings,
    timer: Timer | None = None,
    send: Sender | None = None,
) -> dict[str, Any]:
    """Process only verbatims the store has not seen; assign them to the current themes.

    Nothing is re-fitted. Re-running on the same inputs changes nothing; watermarks move in the
    same transaction as the data, so a run killed mid-way leaves no trace.
    """
    with locked(settings):
        saved = models.load_models(settings.models_dir / models.CURRENT)
        if saved is None:
            raise ingest.InputError(
                f"no theme model in {settings.models_dir / models.CURRENT}: run `cx-text run` or "
                "the weekly flow first"
            )
        with context("nightly", settings, out_dir, timer, inputs=tuple(inputs), saved=saved,
                     send=send) as ctx:  # fmt: skip
            state = walk(NIGHTLY, ctx)
    outputs.write_json(state.record, out_dir / "run.json")
    return state.record


def preload(settings: Settings) -> dict[str, float]:
    """Load every model a run with `settings` may need, once per process: the theme encoders of
    both language groups, the polarity encoder, Russian lemmas, the personal-data recognisers
    and the English label parser. A resident process (`pipelines/serve.py`) calls it at start,
    so its first run is as fast as the later ones; each model then stays loaded (the loaders
    cache per process). Returns seconds per model.
    """
    import time

    from cx_text import labels, lemmas, pii, run_polarity
    from cx_text.embed import make_embedder

    def encoding(make: Any, *args: Any) -> Any:  # a model is loaded on its first encode
        return lambda: make(*args).encode(["warm up"])

    loads: dict[str, Any] = {}
    for model in dict.fromkeys([settings.embedding.model, settings.embedding.russian_model]):
        loads[f"embedding {model}"] = encoding(make_embedder, model, settings.embedding)
    if settings.polarity.enabled:
        loads["polarity encoder"] = encoding(
            run_polarity.make_encoder, settings.embedding.torch_threads or None,
            settings.polarity.quantize, settings.embedding.bf16,
        )  # fmt: skip
    loads["russian lemmas"] = lemmas._morph
    loads["personal-data recognisers"] = pii.recognizers
    loads["english label parser"] = labels.english_pipeline
    seconds = {}
    for name, load in loads.items():
        start = time.perf_counter()
        load()
        seconds[name] = round(time.perf_counter() - start, 2)
    return seconds


def inspect(inputs: list[str], settings: Settings) -> dict[str, Any]:
    """What a run would make of `inputs`, without running it: the read and clean stages only,
    on a scratch store, nothing written (`cx-text inspect`).

    Returns:
        {"kind": "inspect", "counts": the run's conservation counts, "ingest": each input's
        note (columns found, survey tool, header rows, skipped sheets, date order),
        "quarantine": {reason: [how many, the first rows' (input, row number)]}}.
    """
    with tempfile.TemporaryDirectory(prefix="cx-text-inspect-") as scratch:
        settings = settings.model_copy(update={"state_dir": Path(scratch), "store_url": None})
        with context("run", settings, Path(scratch) / "out", None, inputs=tuple(inputs)) as ctx:
            state = walk(INSPECT, ctx)
    reasons: dict[str, Any] = {}
    for reason, rows in state.quarantine.groupby("reason", sort=False):
        first = rows.head(3)
        reasons[str(reason)] = [len(rows), [(str(i), None if pd.isna(n) else int(n)) for i, n
                                            in zip(first["input_file"], first["row_number"],
                                                   strict=True)]]  # fmt: skip
    return {"kind": "inspect", "counts": state.counts, "ingest": list(state.ingest_notes),
            "quarantine": reasons}  # fmt: skip


def week_bounds(week: str | pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Monday 00:00 of the ISO week and the Monday after ('2026-W47' or any date in the week)."""
    start = trends.parse_week(week)
    return start, start + pd.Timedelta(days=7)


def weekly(
    week: str | pd.Timestamp,
    out_dir: Path,
    settings: Settings,
    window_days: int | None = None,
    timer: Timer | None = None,
    send: Sender | None = None,
) -> dict[str, Any]:
    """Re-fit themes on the rolling window ending with `week`, map them to the registry, write."""
    start, _ = week_bounds(week)
    with locked(settings), context("weekly", settings, out_dir, timer, week=start,
                                   window_days=window_days, send=send) as ctx:  # fmt: skip
        state = walk(WEEKLY, ctx)
    outputs.write_json(state.record, out_dir / "run.json")
    return state.record


def backfill(
    inputs: list[str],
    first_week: str,
    last_week: str,
    out_dir: Path,
    settings: Settings,
    timer: Timer | None = None,
) -> list[dict[str, Any]]:
    """Load history: store the verbatims of the weeks, then run the weekly re-fit week by week.

    The load is a run of its own (kind `backfill`, with its record in the store's runs table);
    each week's re-fit is a weekly run.
    """
    timer = timer or Timer()
    start, _ = week_bounds(first_week)
    _, stop = week_bounds(last_week)
    with locked(settings):
        with context("backfill", settings, out_dir, timer, inputs=tuple(inputs), week=start,
                     until=stop) as ctx:  # fmt: skip
            walk(BACKFILL, ctx)
        return [
            weekly(monday, out_dir / f"{monday:%G-W%V}", settings, timer=timer.fresh())
            for monday in pd.date_range(start, stop - pd.Timedelta(days=1), freq="7D")
        ]


def compare(before: str, after: str, out_dir: Path, settings: Settings) -> dict[str, Any]:
    """Compare two periods of the stored verbatims per theme: compare.csv and compare.md.

    Periods are ISO-week ranges ('2026-W40..2026-W43') or single weeks.
    """
    trends.parse_period(before), trends.parse_period(after)  # a typo fails before the store
    with locked(settings), context("compare", settings, out_dir, None,
                                   periods=(before, after)) as ctx:  # fmt: skip
        state = walk(COMPARE, ctx)
    return state.record
