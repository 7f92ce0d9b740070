"""`cx-text run`: the whole pipeline on a set of inputs, as one atomic run.

This module only wires stages together (each stage is a pure module); it is what the CLI calls.
The Prefect flows in `pipelines/` wire the same stage functions as tasks.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import os
import platform
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from cx_text import clean, ingest, nps, outputs, overrides, pii, rank, registry, report, trends
from cx_text.discover import (
    Discovery,
    SavedThemes,
    apply_ids,
    apply_overrides,
    assign_themes,
    discover_themes,
)
from cx_text.lock import run_lock
from cx_text.parallel import FanOut
from cx_text.schemas import ASSIGNMENTS, MENTIONS, QUARANTINE, THEMES, UNCLASSIFIED
from cx_text.settings import Settings
from cx_text.store import Store
from cx_text.themes import ThemeModel

log = logging.getLogger("cx_text")
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

PACKAGES = (
    "cx-text", "pandas", "numpy", "scikit-learn", "sentence-transformers", "torch", "bertopic",
    "umap-learn", "hdbscan", "spacy", "prefect",
)  # fmt: skip


@dataclass
class Timer:
    """Runs the stages of a job and collects wall-clock seconds per stage for run.json.

    The Prefect flows pass a subclass whose `call` runs each stage as a Prefect task, so the
    CLI and the flows share one orchestration. `fan_out` runs the per-chunk work inside the
    embedding and assignment stages: here all rows in one call, in the flows one task per chunk.
    """

    seconds: dict[str, float] = field(default_factory=dict)
    fan_out: FanOut = field(default_factory=FanOut)
    # the process's peak resident memory (MB) when each stage ended: the stage that raised it
    # is the one that needs the memory
    peak_rss_mb: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        log.info("%s ...", name)
        yield
        self.seconds[name] = round(time.perf_counter() - start, 3)
        self.peak_rss_mb[name] = peak_rss_mb()
        log.info("%s done in %.1f s", name, self.seconds[name])

    def call(self, name: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one stage: `fn(*args, **kwargs)`, timed under `name`."""
        with self.stage(name):
            return fn(*args, **kwargs)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KiB)."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def locked(fn: F) -> F:
    """Run `fn(..., settings, ...)` holding the run lock of `settings.state_dir`.

    Before the body, models left unpublished by a run killed right after its commit are
    published (see `recover_models`).
    """

    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        settings: Settings = signature.bind(*args, **kwargs).arguments["settings"]
        with run_lock(settings.state_dir, settings.lock):
            recover_models(settings)
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@dataclass
class Ingested:
    """Output of the ingest + clean stages for a set of inputs."""

    verbatims: pd.DataFrame
    quarantine: pd.DataFrame
    counts: dict[str, int]
    inputs: list[str]
    raw_texts: pd.DataFrame  # RAW_TEXTS: empty unless clean.keep_raw_text


def ingest_and_clean(
    inputs: list[str],
    settings: Settings,
    now: pd.Timestamp,
    timer: Timer,
    store: Store | None = None,
) -> Ingested:
    """Read every input, map it to the verbatim schema, and clean the union.

    With a `store`, verbatims it already holds are skipped (counted as `already_seen`) and a
    stored id arriving with other content is quarantined as `conflicting_id`; SQL inputs can
    bind `:watermark`, the newest created_at the store has taken in.
    """
    sql_url = settings.ingest.sql_url.get_secret_value() if settings.ingest.sql_url else None
    params = {"watermark": store.watermark("verbatims") or "1900-01-01"} if store else {}
    raws = timer.call("read", read_inputs, inputs, sql_url, params)
    read = sum(len(raw) for raw in raws)
    labels = [ingest.input_label(spec) for spec in inputs]
    result, quarantines, seen = timer.call(
        "clean", _map_and_clean, raws, labels, settings, now, store
    )
    # quarantined rows keep their original values: personal data in them is masked too
    quarantine = pd.concat([*quarantines, result.quarantine], ignore_index=True)
    quarantine = pii.mask_quarantine(quarantine)
    counts = clean.count_outcomes(read - seen, result, len(quarantine))
    if store is not None:
        counts = {"read": read, "already_seen": seen, **{k: v for k, v in counts.items()
                                                         if k != "read"}}  # fmt: skip
    return Ingested(result.verbatims, quarantine, counts, labels, result.raw_texts)


def read_inputs(
    inputs: list[str], sql_url: str | None, params: dict[str, str]
) -> list[pd.DataFrame]:
    """Raw frames of every input (the stage the flows retry with backoff)."""
    return [ingest.read_input(spec, sql_url, params) for spec in inputs]


def _map_and_clean(
    raws: list[pd.DataFrame],
    labels: list[str],
    settings: Settings,
    now: pd.Timestamp,
    store: Store | None,
) -> tuple[clean.CleanResult, list[pd.DataFrame], int]:
    mapped = [_map_one(raw, label, settings, now) for raw, label in zip(raws, labels, strict=True)]
    frames = [m[0] for m in mapped]
    result = clean.clean_verbatims(ingest.combine(frames), settings.clean, settings.language)
    seen = 0
    if store is not None:
        known = store.known_verbatims(result.verbatims["verbatim_id"])
        result, seen = clean.drop_seen(result, known)
    return result, [m[1] for m in mapped], seen


def _map_one(
    raw: pd.DataFrame, label: str, settings: Settings, now: pd.Timestamp
) -> tuple[pd.DataFrame, pd.DataFrame]:
    try:
        return ingest.to_verbatims(raw, settings.ingest, now)
    except ingest.InputError as exc:  # e.g. no text column: say which input
        raise ingest.InputError(f"{label}: {exc}") from exc


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def new_run_id(now: pd.Timestamp) -> str:
    return f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC").tz_localize(None)


def _record(kind: str, started: pd.Timestamp, settings: Settings, **extra: Any) -> dict[str, Any]:
    return {
        "run_id": new_run_id(started),
        "kind": kind,
        "started_at": started.isoformat(),
        "settings_hash": settings.fingerprint(),
        "versions": versions(),
        **extra,
    }


def _embedding_counts(found: Discovery) -> dict[str, float]:
    return {"new": sum(len(e.hashes) for e in found.new_embeddings), "cached": found.n_cached,
            "seconds": round(found.embed_seconds, 3)}  # fmt: skip


def fit_themes(
    verbatims: pd.DataFrame,
    settings: Settings,
    store: Store,
    run_id: str,
    now: pd.Timestamp,
    fan_out: FanOut | None = None,
) -> tuple[Discovery, pd.DataFrame]:
    """Fit themes on `verbatims` and give them permanent ids from the registry.

    Returns:
        (the discovery with registry ids, the updated registry to persist).
    """
    registered = store.registry()
    found = discover_themes(
        verbatims, settings, store.load_embeddings, anchors=registry.anchors(registered),
        fan_out=fan_out,
    )  # fmt: skip
    mapping, updated = registry.update_registry(
        found.candidates, registered, settings.themes.match_threshold, now, run_id
    )
    return apply_ids(found, mapping, registry.status_of(updated)), updated


@locked
def run(
    inputs: list[str], out_dir: Path, settings: Settings, timer: Timer | None = None
) -> dict[str, Any]:
    """Run the pipeline on `inputs` (re-fitting themes), write every output, commit the store.

    On a warm store the new themes are matched to the registry, so ids stay stable.

    Returns:
        The run record (also written to out_dir/run.json).
    """
    started = _now()
    timer = timer or Timer()
    data = ingest_and_clean(inputs, settings, started, timer)
    record = _record("run", started, settings, inputs=data.inputs, counts=data.counts)
    store = Store(settings.store_url_value)
    try:
        found, themes_registry = timer.call(
            "themes", fit_themes, data.verbatims, settings, store, record["run_id"], started,
            timer.fan_out,
        )  # fmt: skip
        _finish(record, timer, out_dir, settings, data.verbatims, data.quarantine, found, store)
        timer.call("store", persist, store, record, data.verbatims, data.quarantine, found,
                   themes_registry, raw_texts=data.raw_texts)  # fmt: skip
    finally:
        store.close()
    publish_models(settings.models_dir, record["models_version"])
    outputs.write_json(record, out_dir / "run.json")
    return record


def _finish(
    record: dict[str, Any],
    timer: Timer,
    out_dir: Path,
    settings: Settings,
    verbatims: pd.DataFrame,
    quarantine: pd.DataFrame,
    found: Discovery,
    store: Store,
    refit: bool = True,
    as_of_week: str | None = None,
) -> None:
    """Overrides, figures, output files and saved models of a run (all before the commit)."""
    cache = store.load_embeddings
    known_ids = set(store.registry()["theme_id"].astype(str))
    record["models"] = found.model_ids
    record["embeddings"] = _embedding_counts(found)
    spec = overrides.load(settings.overrides_file)
    shown = timer.call("overrides", apply_overrides, found, verbatims, settings, cache, spec,
                       known_ids)  # fmt: skip
    tables = timer.call("nps", rank_tables, verbatims, shown, settings, overrides.ignored(spec))
    record["nps"] = nps.overall_nps(verbatims)
    record["top_themes"] = _top_rows(tables["themes"])
    timer.call("write", write_outputs, out_dir, verbatims, quarantine, shown, tables)
    bundle = timer.call("report", report.build_report, verbatims, shown.assignments,
                        shown.mentions, tables["themes"], tables["themes_by_segment"],
                        record["counts"], settings, as_of_week)  # fmt: skip
    report.write_report(bundle, out_dir)
    record["alerts"] = len(bundle.alerts)
    record["webhook"] = _notify(bundle, settings)
    if refit:
        # staged under versions/<run_id>; `current` points there only once the store has committed
        record["models_version"] = record["run_id"]
        staged = settings.models_dir / VERSIONS / record["run_id"]
        timer.call("save_models", save_models, found, staged)
    record["finished_at"] = _now().isoformat()
    record["timings"] = timer.seconds
    record["peak_rss_mb"] = timer.peak_rss_mb


def _top_rows(ranked: pd.DataFrame, n: int = 10) -> list[dict[str, Any]]:
    """The top of the ranked table as plain values (for run.json and Prefect artifacts)."""
    cols = ["rank", "theme_id", "label", "n_verbatims", "theme_nps", "nps_impact", "status"]
    top = ranked[ranked["theme_id"] != UNCLASSIFIED].head(n)[cols]
    return [
        {k: (None if pd.isna(v) else (round(v, 2) if isinstance(v, float) else v))
         for k, v in row.items()}
        for row in top.astype(object).to_dict("records")
    ]  # fmt: skip


def _notify(bundle: report.ReportBundle, settings: Settings) -> str:
    """Post alerts to the webhook; a failed post is logged and recorded, never fatal."""
    try:
        status = report.notify(bundle, settings)
    except trends.WebhookError as exc:
        log.warning("alert webhook failed: %s", exc)
        return f"failed: {exc}"
    return "not configured" if status is None else f"HTTP {status}"


@locked
def nightly(
    inputs: list[str], out_dir: Path, settings: Settings, timer: Timer | None = None
) -> dict[str, Any]:
    """Process only verbatims the store has not seen; assign them to the current themes.

    Nothing is re-fitted. Re-running on the same inputs changes nothing; watermarks move in the
    same transaction as the data, so a run killed mid-way leaves no trace.
    """
    started = _now()
    timer = timer or Timer()
    store = Store(settings.store_url_value)
    try:
        saved = load_models(settings.models_dir / "current")
        if saved is None:
            raise ingest.InputError(
                f"no theme model in {settings.models_dir / 'current'}: run `cx-text run` or the "
                "weekly flow first"
            )
        data = ingest_and_clean(inputs, settings, started, timer, store=store)
        record = _record("nightly", started, settings, inputs=data.inputs, counts=data.counts)
        found = timer.call("assign", assign_themes, data.verbatims, settings,
                           store.load_embeddings, saved, fan_out=timer.fan_out)  # fmt: skip
        window = _window(store, settings, started, found, data.verbatims)
        _finish(record, timer, out_dir, settings, window.verbatims, data.quarantine,
                window.found, store, refit=False)  # fmt: skip
        record["window"] = {"verbatims": len(window.verbatims)}
        timer.call("store", persist, store, record, data.verbatims, data.quarantine, found, None,
                   watermarks=_watermarks(data.verbatims), raw_texts=data.raw_texts)  # fmt: skip
    finally:
        store.close()
    outputs.write_json(record, out_dir / "run.json")
    return record


@dataclass
class Window:
    verbatims: pd.DataFrame
    found: Discovery


def _window(
    store: Store,
    settings: Settings,
    end: pd.Timestamp,
    new: Discovery,
    new_verbatims: pd.DataFrame,
) -> Window:
    """The rolling window the theme table is computed on: stored verbatims plus this run's."""
    since = end - pd.Timedelta(days=settings.schedule.window_days)
    stored = store.load_verbatims(since=since)
    verbatims = ingest.combine([stored, new_verbatims]).drop_duplicates("verbatim_id", keep="last")
    ids = verbatims["verbatim_id"].tolist()
    assignments = _union(store.frame("assignments", ids), new.assignments)
    mentions = _union(store.frame("mentions", ids), new.mentions)
    lookup = new.themes.drop_duplicates("theme_id").set_index("theme_id")
    assignments["theme_label"] = assignments["theme_id"].map(lookup["label"]).fillna("Unclassified")
    assignments["parent_theme_id"] = (
        assignments["theme_id"].map(lookup["parent_theme_id"]).fillna(UNCLASSIFIED)
    )
    found = replace(new, assignments=ASSIGNMENTS.conform(assignments[ASSIGNMENTS.names]),
                    mentions=MENTIONS.conform(mentions[MENTIONS.names]))  # fmt: skip
    return Window(verbatims.reset_index(drop=True), found)


def _union(stored: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    fresh = set(new["verbatim_id"])
    kept = stored[~stored["verbatim_id"].isin(fresh)]
    return pd.concat([kept, new], ignore_index=True)


def _watermarks(verbatims: pd.DataFrame) -> dict[str, str]:
    if verbatims.empty:
        return {}
    return {"verbatims": str(verbatims["created_at"].max())}


def week_bounds(week: str | pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Monday 00:00 of the ISO week and the Monday after ('2026-W47' or any date in the week)."""
    if isinstance(week, str) and "-W" in week:
        year, number = week.split("-W")
        start = pd.Timestamp.fromisocalendar(int(year), int(number), 1)
    else:
        day = pd.Timestamp(week).normalize()
        start = day - pd.Timedelta(days=day.day_of_week)
    return start, start + pd.Timedelta(days=7)


@locked
def weekly(
    week: str | pd.Timestamp,
    out_dir: Path,
    settings: Settings,
    window_days: int | None = None,
    timer: Timer | None = None,
) -> dict[str, Any]:
    """Re-fit themes on the rolling window ending with `week`, map them to the registry, write."""
    started = _now()
    timer = timer or Timer()
    start, end = week_bounds(week)
    days = window_days or settings.schedule.window_days
    store = Store(settings.store_url_value)
    try:
        verbatims = store.load_verbatims(since=end - pd.Timedelta(days=days))
        verbatims = verbatims[verbatims["created_at"] < end].reset_index(drop=True)
        record = _record("weekly", started, settings, week=f"{start:%G-W%V}",
                         window_days=days, counts={"verbatims": len(verbatims)})  # fmt: skip
        found, themes_registry = timer.call(
            "themes", fit_themes, verbatims, settings, store, record["run_id"], end, timer.fan_out
        )
        _finish(record, timer, out_dir, settings, verbatims, QUARANTINE.empty(), found, store,
                as_of_week=record["week"])  # fmt: skip
        timer.call("store", persist, store, record, None, None, found, themes_registry)
    finally:
        store.close()
    publish_models(settings.models_dir, record["models_version"])
    outputs.write_json(record, out_dir / "run.json")
    return record


@locked
def backfill(
    inputs: list[str],
    first_week: str,
    last_week: str,
    out_dir: Path,
    settings: Settings,
    timer: Timer | None = None,
) -> list[dict[str, Any]]:
    """Load history week by week: store each week's verbatims, then run the weekly re-fit."""
    started = _now()
    timer = timer or Timer()
    data = ingest_and_clean(inputs, settings, started, timer)
    start, _ = week_bounds(first_week)
    _, stop = week_bounds(last_week)
    records = []
    store = Store(settings.store_url_value)
    try:
        with store.transaction() as conn:
            store.append_quarantine(conn, data.quarantine, new_run_id(started))
    finally:
        store.close()
    for week_start in pd.date_range(start, stop - pd.Timedelta(days=1), freq="7D"):
        week_end = week_start + pd.Timedelta(days=7)
        chunk = data.verbatims[(data.verbatims["created_at"] >= week_start)
                               & (data.verbatims["created_at"] < week_end)]  # fmt: skip
        store = Store(settings.store_url_value)
        try:
            with store.transaction() as conn:
                store.upsert_verbatims(conn, chunk, f"backfill-{week_start:%G-W%V}")
                store.save_raw_texts(conn, _raw_of(data.raw_texts, chunk))
        finally:
            store.close()
        week_dir = out_dir / f"{week_start:%G-W%V}"
        fresh = replace(timer, seconds={}, peak_rss_mb={})
        records.append(weekly(week_start, week_dir, settings, timer=fresh))
    return records


def rank_tables(
    verbatims: pd.DataFrame,
    found: Discovery,
    settings: Settings,
    ignored: set[str] | frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Per-theme NPS figures, the ranked table, its views, segments, backlog and follow-up.

    Themes the analyst ignores keep their verbatims but leave every ranking.
    """
    a, m, r = found.assignments, found.mentions, settings.rank
    figures = nps.theme_figures(verbatims, a, settings.nps, m, found.themes)
    ranked = rank.rank_themes(figures[~figures["theme_id"].isin(ignored)], r)
    return {
        "themes": ranked,
        "parent_themes": nps.parent_theme_figures(verbatims, a, settings.nps, m, found.themes),
        "top_detractor_themes": rank.detractor_view(ranked, r),
        "top_promoter_themes": rank.promoter_view(ranked, nps.overall_nps(verbatims), r),
        "passive_themes": rank.passive_view(ranked, r),
        "themes_by_segment": rank.segment_breakdown(verbatims, a, m, r, settings.segments),
        "backlog": rank.backlog_items(ranked, verbatims, a, r),
        "backlog_json": rank.backlog_json(ranked, verbatims, a, r),
        "followup": rank.followup_list(ranked, verbatims, a, r),
        "complaint_links": nps.link_complaints(verbatims, settings.nps.complaint_link_days),
    }


def write_outputs(
    out_dir: Path,
    verbatims: pd.DataFrame,
    quarantine: pd.DataFrame,
    found: Discovery,
    tables: dict[str, Any],
) -> None:
    outputs.write_csv(quarantine, out_dir / "quarantine.csv")
    outputs.write_parquet(verbatims, out_dir / "verbatims.parquet")
    outputs.write_csv(found.assignments, out_dir / "assignments.csv")
    outputs.write_csv(found.mentions, out_dir / "mentions.csv")
    outputs.write_table(tables["themes"], out_dir, "themes", ("csv", "parquet", "xlsx"))
    for name in ("parent_themes", "top_detractor_themes", "top_promoter_themes",
                 "passive_themes", "themes_by_segment", "backlog", "followup",
                 "complaint_links"):  # fmt: skip
        outputs.write_csv(tables[name], out_dir / f"{name}.csv")
    outputs.write_json(tables["backlog_json"], out_dir / "backlog.json")


def _raw_of(raw_texts: pd.DataFrame, verbatims: pd.DataFrame) -> pd.DataFrame:
    """The raw texts of the verbatims being stored (none unless clean.keep_raw_text)."""
    return raw_texts[raw_texts["verbatim_id"].isin(verbatims["verbatim_id"])]


def save_models(found: Discovery, folder: Path) -> None:
    """Save each language group's theme model and the topic -> theme id map under `folder`."""
    for group, model in found.models.items():
        model.save(folder / group)
        outputs.write_json(found.topic_ids[group], folder / group / "theme_ids.json")
    outputs.write_json(found.model_ids, folder / "embedding_models.json")
    outputs.write_parquet(found.themes, folder / "themes.parquet")


VERSIONS = "versions"
CURRENT = "current"


def publish_models(models_dir: Path, version: str) -> None:
    """Point models_dir/current at versions/<version> in one atomic rename of a symlink.

    Older versions are pruned, keeping the previous one; a `current` that is a plain folder
    (saved by an earlier cx-text) is moved under versions/ first.
    """
    current = models_dir / CURRENT
    previous = current.resolve().name if current.is_symlink() else None
    if current.is_dir() and not current.is_symlink():
        previous = f"legacy-{_now():%Y%m%dT%H%M%S}"
        current.rename(models_dir / VERSIONS / previous)
    for stale in models_dir.glob(f".{CURRENT}.*.tmp"):  # left by a process killed right here
        stale.unlink()
    link = models_dir / f".{CURRENT}.{os.getpid()}.tmp"
    link.symlink_to(Path(VERSIONS) / version, target_is_directory=True)
    os.replace(link, current)
    for folder in (models_dir / VERSIONS).iterdir():
        if folder.name not in {version, previous}:
            shutil.rmtree(folder, ignore_errors=True)


def recover_models(settings: Settings) -> None:
    """Publish the models of the last committed re-fit when a kill stopped it from doing so."""
    versions_dir = settings.models_dir / VERSIONS
    if not versions_dir.is_dir():
        return
    store = Store(settings.store_url_value)
    try:
        runs = store.runs()
    finally:
        store.close()
    committed = [json.loads(r).get("models_version") for r in runs["record"]]
    latest = next((v for v in reversed(committed) if v), None)
    current = settings.models_dir / CURRENT
    if latest and (versions_dir / latest).is_dir() and current.resolve().name != latest:
        log.warning("publishing models of committed run %s (its process died before)", latest)
        publish_models(settings.models_dir, latest)


def load_models(folder: Path) -> SavedThemes | None:
    """The theme set saved by the last re-fit, or None when there is none yet."""
    index = folder / "embedding_models.json"
    if not index.exists():
        return None
    model_ids = json.loads(index.read_text())
    return SavedThemes(
        models={g: ThemeModel.load(folder / g) for g in model_ids},
        topic_ids={g: json.loads((folder / g / "theme_ids.json").read_text()) for g in model_ids},
        model_ids=model_ids,
        themes=THEMES.conform(pd.read_parquet(folder / "themes.parquet")),
    )


def persist(
    store: Store,
    record: dict[str, Any],
    verbatims: pd.DataFrame | None,
    quarantine: pd.DataFrame | None,
    found: Discovery,
    themes_registry: pd.DataFrame | None,
    watermarks: dict[str, str] | None = None,
    raw_texts: pd.DataFrame | None = None,
) -> None:
    """Every store write of a run, in one transaction."""
    run_id = record["run_id"]
    with store.transaction() as conn:
        if verbatims is not None:
            store.upsert_verbatims(conn, verbatims, run_id)
            if raw_texts is not None:
                store.save_raw_texts(conn, _raw_of(raw_texts, verbatims))
        if quarantine is not None:
            store.append_quarantine(conn, quarantine, run_id)
        for new in found.new_embeddings:
            store.save_embeddings(conn, new.model_id, new.hashes, new.vectors)
        assignments = found.assignments[["verbatim_id", "theme_id", "confidence"]].assign(
            model_version=run_id, run_id=run_id
        )
        store.replace_rows(conn, "assignments", "verbatim_id", assignments)
        store.replace_rows(conn, "mentions", "verbatim_id", found.mentions)
        if themes_registry is not None:
            store.save_registry(conn, themes_registry)
        for source, value in (watermarks or {}).items():
            store.set_watermark(conn, source, value)
        store.record_run(conn, record)
