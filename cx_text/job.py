"""`cx-text run`: the whole pipeline on a set of inputs, as one atomic run.

This module only wires stages together (each stage is a pure module); it is what the CLI calls.
The Prefect flows in `pipelines/` wire the same stage functions as tasks.
"""

from __future__ import annotations

import logging
import platform
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from cx_text import clean, ingest, nps, outputs, rank
from cx_text.discover import Discovery, discover_themes
from cx_text.settings import Settings
from cx_text.store import Store

log = logging.getLogger("cx_text")

PACKAGES = (
    "cx-text", "pandas", "numpy", "scikit-learn", "sentence-transformers", "torch", "bertopic",
    "umap-learn", "hdbscan", "spacy", "prefect",
)  # fmt: skip


@dataclass
class Timer:
    """Collects wall-clock seconds per stage for run.json."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        log.info("%s ...", name)
        yield
        self.seconds[name] = round(time.perf_counter() - start, 3)
        log.info("%s done in %.1f s", name, self.seconds[name])


@dataclass
class Ingested:
    """Output of the ingest + clean stages for a set of inputs."""

    verbatims: pd.DataFrame
    quarantine: pd.DataFrame
    counts: dict[str, int]
    inputs: list[str]


def ingest_and_clean(
    inputs: list[str], settings: Settings, now: pd.Timestamp, timer: Timer
) -> Ingested:
    """Read every input, map it to the verbatim schema, and clean the union."""
    sql_url = settings.ingest.sql_url.get_secret_value() if settings.ingest.sql_url else None
    frames, quarantines, read, labels = [], [], 0, []
    with timer.stage("ingest"):
        for spec in inputs:
            raw = ingest.read_input(spec, sql_url)
            read += len(raw)
            labels.append(str(raw[ingest.INPUT].iloc[0]) if len(raw) else spec)
            mapped, rejected = ingest.to_verbatims(raw, settings.ingest, now)
            frames.append(mapped)
            quarantines.append(rejected)
    with timer.stage("clean"):
        result = clean.clean_verbatims(ingest.combine(frames), settings.clean, settings.language)
        quarantine = pd.concat([*quarantines, result.quarantine], ignore_index=True)
    counts = clean.count_outcomes(read, result, len(quarantine))
    return Ingested(result.verbatims, quarantine, counts, labels)


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


def run(inputs: list[str], out_dir: Path, settings: Settings) -> dict[str, Any]:
    """Run the pipeline on `inputs`, write every output to `out_dir`, commit the store.

    Returns:
        The run record (also written to out_dir/run.json).
    """
    started = pd.Timestamp.now(tz="UTC").tz_localize(None)
    timer = Timer()
    data = ingest_and_clean(inputs, settings, started, timer)
    record: dict[str, Any] = {
        "run_id": new_run_id(started),
        "kind": "run",
        "started_at": started.isoformat(),
        "inputs": data.inputs,
        "counts": data.counts,
        "settings_hash": settings.fingerprint(),
        "versions": versions(),
    }
    store = Store(settings.store_url_value)
    try:
        with timer.stage("themes"):
            found = discover_themes(data.verbatims, settings, store.load_embeddings)
        record["models"] = found.model_ids
        record["embeddings"] = {
            "new": sum(len(e.hashes) for e in found.new_embeddings),
            "cached": found.n_cached,
        }
        with timer.stage("nps"):
            tables = rank_tables(data.verbatims, found, settings)
        record["nps"] = nps.overall_nps(data.verbatims)
        with timer.stage("write"):
            write_outputs(out_dir, data, found, tables)
            save_models(found, settings.models_dir / "current")
        with timer.stage("store"):
            record["finished_at"] = pd.Timestamp.now(tz="UTC").tz_localize(None).isoformat()
            record["timings"] = timer.seconds
            persist(store, record, data, found)
    finally:
        store.close()
    record["timings"] = timer.seconds
    outputs.write_json(record, out_dir / "run.json")
    return record


def rank_tables(verbatims: pd.DataFrame, found: Discovery, settings: Settings) -> dict[str, Any]:
    """Per-theme NPS figures, the ranked table, its views, segments, backlog and follow-up."""
    a, m, r = found.assignments, found.mentions, settings.rank
    figures = nps.theme_figures(verbatims, a, settings.nps, m, found.themes)
    ranked = rank.rank_themes(figures, r)
    return {
        "themes": ranked,
        "parent_themes": nps.parent_theme_figures(verbatims, a, settings.nps, m, found.themes),
        "top_detractor_themes": rank.detractor_view(ranked, r),
        "top_promoter_themes": rank.promoter_view(ranked, nps.overall_nps(verbatims), r),
        "passive_themes": rank.passive_view(ranked, r),
        "themes_by_segment": rank.segment_breakdown(verbatims, a, m, r),
        "backlog": rank.backlog_items(ranked, verbatims, a, r),
        "backlog_json": rank.backlog_json(ranked, verbatims, a, r),
        "followup": rank.followup_list(ranked, verbatims, a, r),
        "complaint_links": nps.link_complaints(verbatims, settings.nps.complaint_link_days),
    }


def write_outputs(out_dir: Path, data: Ingested, found: Discovery, tables: dict[str, Any]) -> None:
    outputs.write_csv(data.quarantine, out_dir / "quarantine.csv")
    outputs.write_parquet(data.verbatims, out_dir / "verbatims.parquet")
    outputs.write_csv(found.assignments, out_dir / "assignments.csv")
    outputs.write_csv(found.mentions, out_dir / "mentions.csv")
    outputs.write_table(tables["themes"], out_dir, "themes", ("csv", "parquet", "xlsx"))
    for name in ("parent_themes", "top_detractor_themes", "top_promoter_themes",
                 "passive_themes", "themes_by_segment", "backlog", "followup",
                 "complaint_links"):  # fmt: skip
        outputs.write_csv(tables[name], out_dir / f"{name}.csv")
    outputs.write_json(tables["backlog_json"], out_dir / "backlog.json")


def save_models(found: Discovery, folder: Path) -> None:
    """Save each language group's theme model under models/current/<group>."""
    for group, model in found.models.items():
        model.save(folder / group)
    outputs.write_json(found.model_ids, folder / "embedding_models.json")


def persist(store: Store, record: dict[str, Any], data: Ingested, found: Discovery) -> None:
    """Every store write of a run, in one transaction."""
    run_id = record["run_id"]
    with store.transaction() as conn:
        store.upsert_verbatims(conn, data.verbatims, run_id)
        store.append_quarantine(conn, data.quarantine, run_id)
        for new in found.new_embeddings:
            store.save_embeddings(conn, new.model_id, new.hashes, new.vectors)
        assignments = found.assignments[["verbatim_id", "theme_id", "confidence"]].assign(
            model_version=run_id, run_id=run_id
        )
        store.replace_rows(conn, "assignments", "verbatim_id", assignments)
        store.replace_rows(conn, "mentions", "verbatim_id", found.mentions)
        store.record_run(conn, record)
