"""The Python API: `analyze(frame, ...)` runs cx-text on a DataFrame and returns DataFrames.

It walks the same stages as `cx-text run`. Without `store=` it keeps nothing: the store is an
in-memory database and no model is saved; without `out=` no file is written.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import SecretStr

from cx_text import job, outputs, rank, records
from cx_text.analytics import Analytics
from cx_text.runner import walk
from cx_text.settings import Settings, load_settings
from cx_text.stages import RunState, Stage, render_report, send_alerts, write_outputs
from cx_text.store import MEMORY


@dataclass(frozen=True)
class Analysis:
    """What `analyze` found: the run's tables as DataFrames, and its counts.

    Attributes:
        themes: the ranked theme table (as `themes.csv`).
        assignments: the primary theme of every themed verbatim.
        mentions: every theme each verbatim mentions.
        verbatims: every accepted verbatim (cleaned, personal data masked).
        quarantine: every rejected row with its reason.
        counts: read / themed / quarantined / duplicates / non_answers.
        tables: the ranked table's views, segments, backlog, follow-up (`rank.Tables`).
        weekly: weekly figures and the latest week's alerts.
        record: the run record (as `run.json`).
    """

    themes: pd.DataFrame
    assignments: pd.DataFrame
    mentions: pd.DataFrame
    verbatims: pd.DataFrame
    quarantine: pd.DataFrame
    counts: dict[str, int]
    tables: rank.Tables
    weekly: Analytics
    record: dict[str, Any]


def _keep_record(ctx: Any, state: RunState) -> dict[str, Any]:
    return {"record": records.run_record(ctx, state)}


def _stages(kept: bool, written: bool) -> tuple[Stage, ...]:
    """`cx-text run`'s stages but the alert webhook; the report is rendered only to be written;
    without a store no model is saved and nothing is committed."""
    skipped = {send_alerts} if written else {send_alerts, render_report, write_outputs}
    themed = [s for s in job.RUN if s.fn not in skipped]
    if kept:
        return tuple(themed)
    return (*[s for s in themed if s not in (job.SAVE, job.STORE, job.PUBLISH)],
            Stage("record", _keep_record))  # fmt: skip


def _settings(
    settings: Settings | None, config: str | Path | None, store: str | Path | None, **given: Any
) -> Settings:
    where = {"state_dir": Path(store), "models_dir": Path(store) / "models"} if store else {}
    if settings is None:
        return load_settings(config, **given, **where)
    columns = settings.ingest.columns.model_copy(update=given["ingest"].pop("columns"))
    ingest = settings.ingest.model_copy(update={**given.pop("ingest"), "columns": columns})
    return settings.model_copy(update={**given, **where, "ingest": ingest})


@contextmanager
def _scope(settings: Settings, kept: bool) -> Iterator[Settings]:
    """A kept run holds its state folder's lock; otherwise the store lives in memory."""
    if kept:
        with job.locked(settings):
            yield settings
    else:
        yield settings.model_copy(update={"store_url": SecretStr(MEMORY)})


def analyze(
    frame: pd.DataFrame,
    *,
    text: str | None = None,
    score: str | None = None,
    id: str | None = None,
    date: str | None = None,
    customer_id: str | None = None,
    touchpoint: str | None = None,
    channel: str | None = None,
    source: str | None = None,
    default_source: str | None = None,
    scale: str | None = None,
    language: str | None = None,
    config: str | Path | None = None,
    settings: Settings | None = None,
    store: str | Path | None = None,
    out: str | Path | None = None,
) -> Analysis:
    """Theme the verbatims of `frame` and rank the themes, as `cx-text run` does.

    Args:
        frame: one row per answer or complaint; columns as in any input file.
        text, score, id, date, customer_id, touchpoint, channel, source: the column holding
            each field (as the CLI's --text-col ...); None: found by name, as the CLI does.
        default_source: survey, complaint or other, for rows without a source column.
        scale: nps (0-10), csat (1-5) or ces (1-7).
        language: force one language code for every verbatim.
        config: a TOML settings file; settings: a Settings object (instead of `config`).
        store: a state folder to keep the store and models in (as `--state-dir`): themes then
            keep their ids across calls. None: nothing is kept.
        out: a folder to write every output file to. None: no file is written.

    Returns:
        An `Analysis` with the tables as DataFrames.

    Example:
        >>> from cx_text import analyze
        >>> result = analyze(frame, text="comment", score="score")  # doctest: +SKIP
        >>> result.themes[["theme_id", "label", "n_verbatims", "nps_impact"]].head()
    """
    columns = {"text": text, "score": score, "id": id, "date": date, "customer_id": customer_id,
               "touchpoint": touchpoint, "channel": channel, "source": source}  # fmt: skip
    ingest: dict[str, Any] = {"columns": {k: v for k, v in columns.items() if v is not None}}
    ingest.update({k: v for k, v in (("default_source", default_source), ("scale", scale)) if v})
    given: dict[str, Any] = {"ingest": ingest, **({"language": language} if language else {})}
    chosen = _settings(settings, config, store, **given)
    kept = store is not None
    out_dir = Path(out) if out is not None else Path("cx-text-out")
    with (
        _scope(chosen, kept) as active,
        job.context("run", active, out_dir, None, inputs=("dataframe",), frames=(frame,)) as ctx,
    ):
        state = walk(_stages(kept, out is not None), ctx)
    if out is not None:
        outputs.write_json(state.record, out_dir / "run.json")
    return _analysis(state)


def _analysis(state: RunState) -> Analysis:
    shown, tables, scored = state.need("faceted"), state.need("tables"), state.need("scored")
    return Analysis(
        themes=tables.themes, assignments=shown.assignments, mentions=shown.mentions,
        verbatims=scored.verbatims, quarantine=state.quarantine,
        counts=state.counts, tables=tables, weekly=state.need("analytics"), record=state.record,
    )  # fmt: skip
