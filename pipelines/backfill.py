"""Backfill flow: load a date range of history week by week, re-fitting after each week.

python -m pipelines.backfill INPUT ... --from 2026-W36 --to 2026-W45 [--out DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from prefect import flow

from cx_text import job
from pipelines.common import (
    BACKFILL_TIMEOUT_SECONDS,
    flow_run,
    inputs_for,
    settings_for,
)


@flow(name="cx-text-backfill", log_prints=True, timeout_seconds=BACKFILL_TIMEOUT_SECONDS)
def backfill_flow(
    first_week: str,
    last_week: str,
    inputs: list[str] | None = None,
    out_dir: str = "out/backfill",
    config: str | None = None,
    state_dir: str | None = None,
) -> list[dict[str, Any]]:
    """Store each week's verbatims in turn and run the weekly re-fit for it."""
    settings = settings_for(config, state_dir)
    with flow_run(settings) as timer:
        return job.backfill(
            inputs_for(inputs, settings), first_week, last_week, Path(out_dir), settings, timer
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("inputs", nargs="*")
    parser.add_argument("--from", dest="first_week", required=True)
    parser.add_argument("--to", dest="last_week", required=True)
    parser.add_argument("--out", default="out/backfill")
    args = parser.parse_args()
    backfill_flow(args.first_week, args.last_week, args.inputs or None, args.out)
