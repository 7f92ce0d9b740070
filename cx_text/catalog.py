"""The output catalogue: every file a run writes, declared once (name, schema, formats, source).

The writer (`write_outputs`) and the README's file list (`readme_files`, kept in sync by a test)
both follow it; the schemas are those of `cx_text.schemas`, which the store's tables use too.
`source` names where a run keeps the data: an attribute path into the run state.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from cx_text import outputs
from cx_text.schemas import (
    ALERTS,
    ASSIGNMENTS,
    BACKLOG,
    COMPARE,
    COMPLAINT_LINKS,
    FOLLOWUP,
    QUARANTINE,
    SCORED_MENTIONS,
    SCORED_VERBATIMS,
    THEME_TABLE,
    THEME_WEEKS,
    THEMES_BY_SEGMENT,
    WEEKLY_NPS,
    TableSchema,
)

TABLE_FORMATS = ("csv", "parquet", "xlsx")
TABLE = ("csv", "parquet")  # every table is written as CSV and as Parquet
WORKBOOK = "results.xlsx"  # every table of the run, one sheet each


@dataclass(frozen=True)
class Output:
    """One output: written as `<name>.<format>` for each format, from `source` of the run."""

    name: str
    formats: tuple[str, ...]
    source: str  # attribute path into the run state, e.g. "tables.themes"
    doc: str
    schema: TableSchema | None = None  # tables only; None for views of THEME_TABLE and texts

    @property
    def files(self) -> list[str]:
        return [f"{self.name}.{fmt}" for fmt in self.formats]


RANKED = f"schema `{THEME_TABLE.name}`"
OUTPUTS: tuple[Output, ...] = (
    Output("verbatims", TABLE, "scored.verbatims", "every accepted verbatim (schema "
           f"`{SCORED_VERBATIMS.name}`)", SCORED_VERBATIMS),
    Output("quarantine", TABLE, "quarantine", "every rejected row (schema "
           f"`{QUARANTINE.name}`)", QUARANTINE),
    Output("assignments", TABLE, "faceted.assignments", "primary theme (or facet) per verbatim",
           ASSIGNMENTS),
    Output("mentions", TABLE, "faceted.mentions", "every theme each verbatim mentions, with "
           "each sentence's polarity", SCORED_MENTIONS),
    Output("themes", ("csv", "parquet", "xlsx"), "tables.themes",
           f"the ranked theme table ({RANKED})", THEME_TABLE),
    Output("parent_themes", TABLE, "tables.parent_themes",
           "the same figures per parent theme"),
    Output("top_detractor_themes", TABLE, "tables.top_detractor_themes",
           f"what to fix: detractor themes by NPS impact ({RANKED})"),
    Output("top_promoter_themes", TABLE, "tables.top_promoter_themes",
           f"what sets us apart: promoter themes ({RANKED})"),
    Output("passive_themes", TABLE, "tables.passive_themes",
           f"themes of passives, one step from either side ({RANKED})"),
    Output("themes_by_segment", TABLE, "tables.themes_by_segment",
           "figures per segment value, each cell tested against the rest of its segment column "
           f"(schema `{THEMES_BY_SEGMENT.name}`)", THEMES_BY_SEGMENT),
    Output("backlog", TABLE, "tables.backlog", f"backlog items (schema `{BACKLOG.name}`)",
           BACKLOG),
    Output("backlog", ("json",), "tables.backlog_json",
           "the backlog items for any issue tracker, keyed by cx_theme_id"),
    Output("followup", TABLE, "tables.followup",
           f"detractors to call back (schema `{FOLLOWUP.name}`)", FOLLOWUP),
    Output("complaint_links", TABLE, "tables.complaint_links",
           "complaints linked to a survey response of the same customer", COMPLAINT_LINKS),
    Output("theme_weeks", TABLE, "analytics.weekly",
           f"per theme per week (schema `{THEME_WEEKS.name}`)", THEME_WEEKS),
    Output("weekly_nps", TABLE, "analytics.weekly_nps",
           f"overall NPS per week (schema `{WEEKLY_NPS.name}`)", WEEKLY_NPS),
    Output("report", ("html",), "report.html", "the weekly report (self-contained, offline)"),
    Output("report", ("md",), "report.markdown", "the weekly report as Markdown"),
    Output("alerts", ("json",), "report.alerts_json",
           f"the report week's alerts (schema `{ALERTS.name}`)"),
    Output("alerts", ("md",), "report.alerts_markdown", "the report week's alerts as Markdown"),
)  # fmt: skip


# `cx-text compare`
COMPARE_OUTPUTS: tuple[Output, ...] = (
    Output("compare", TABLE, "comparison", "written by `cx-text compare`: two periods per "
           f"theme, changes with intervals and q-values (schema `{COMPARE.name}`)", COMPARE),
    Output("compare", ("md",), "comparison_markdown", "the significant changes of `compare.csv`"),
)  # fmt: skip


def resolve(state: Any, path: str) -> Any:
    """The value at an attribute path ("tables.themes") of the run state."""
    value = state
    for name in path.split("."):
        value = getattr(value, name)
    return value


def _write(value: Any, out_dir: Path, output: Output) -> None:
    for fmt in output.formats:
        path = out_dir / f"{output.name}.{fmt}"
        if fmt in TABLE_FORMATS:
            outputs.write_table(value, out_dir, output.name, (fmt,))
        elif fmt == "json":
            outputs.write_json(value, path)
        else:
            outputs.write_text(value, path)


def write_outputs(
    state: Any, out_dir: Path, catalog: tuple[Output, ...] = OUTPUTS, workbook: bool = True
) -> None:
    """Write every output of the catalogue from the run state into `out_dir`, and the workbook
    of all its tables (`results.xlsx`).

    The workbook is written on a second thread meanwhile: its cells are joined in Arrow and
    compressed by zlib, both outside the GIL, so it overlaps the CSV and Parquet files (the
    sample nightly's `write` stage: 0.60 -> 0.52 s, README). An error in either is raised once
    both are done.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cx-text-workbook") as pool:
        book = (pool.submit(outputs.write_workbook, dict(tables_of(state, catalog)),
                            out_dir / WORKBOOK) if workbook else None)  # fmt: skip
        for output in catalog:
            _write(resolve(state, output.source), out_dir, output)
    if book is not None:
        book.result()


def tables_of(state: Any, catalog: tuple[Output, ...] = OUTPUTS) -> Mapping[str, pd.DataFrame]:
    """Every table output by name (the DataFrames of a run)."""
    found = {}
    for output in catalog:
        value = resolve(state, output.source)
        if isinstance(value, pd.DataFrame):
            found[output.name] = value
    return found


def readme_files(catalog: tuple[Output, ...] = OUTPUTS + COMPARE_OUTPUTS) -> str:
    """The README's table of output files (run.json is described beside it)."""
    rows = ["| file | what |", "|---|---|"]
    rows += [f"| {', '.join(f'`{f}`' for f in o.files)} | {o.doc} |" for o in catalog]
    rows.append(
        f"| `{WORKBOOK}` | every table above as its own sheet (formulas neutralised; a "
        f"table over {outputs.WORKBOOK_MAX_ROWS:,} rows stays in its CSV and Parquet) |"
    )
    return "\n".join(rows)


if __name__ == "__main__":
    sys.stdout.write(readme_files() + "\n")
