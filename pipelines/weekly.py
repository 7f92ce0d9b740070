"""Weekly flow: re-fit themes on the rolling window, keep theme ids stable, write the outputs.

python -m pipelines.weekly [--week 2026-W47] [--window-days 90] [--out DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow

from cx_text import job
from pipelines.common import WEEKLY_TIMEOUT_SECONDS, block_sender, flow_run, publish, settings_for


def last_complete_week(today: pd.Timestamp | None = None) -> str:
    """The ISO week before the current one (the Monday run reports on the week just ended)."""
    day = (today or pd.Timestamp.now()).normalize() - pd.Timedelta(days=7)
    return f"{day:%G-W%V}"


@flow(name="cx-text-weekly", log_prints=True, timeout_seconds=WEEKLY_TIMEOUT_SECONDS)
def weekly_flow(
    week: str | None = None,
    window_days: int | None = None,
    out_dir: str = "out/weekly",
    config: str | None = None,
    state_dir: str | None = None,
) -> dict[str, Any]:
    """Re-fit on the window ending with `week` (default: last complete week), map ids, write."""
    days = {"schedule": {"window_days": window_days}} if window_days is not None else {}
    settings = settings_for(config, state_dir, **days)  # checked against [schedule] bounds
    target = week or last_complete_week()
    with flow_run(settings) as timer:
        send = block_sender(settings.report.notification_block)
        record = job.weekly(target, Path(out_dir) / target, settings, timer=timer, send=send)
    publish(record, "weekly", Path(out_dir) / target)
    return record


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--week")
    parser.add_argument("--window-days", type=int)
    parser.add_argument("--out", default="out/weekly")
    args = parser.parse_args()
    weekly_flow(week=args.week, window_days=args.window_days, out_dir=args.out)
