"""Nightly flow: take in new verbatims, assign them to the current themes, update the outputs.

python -m pipelines.nightly [INPUT ...] [--out DIR]   # no Prefect server needed
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from prefect import flow

from cx_text import job
from pipelines.common import (
    NIGHTLY_TIMEOUT_SECONDS,
    block_sender,
    flow_run,
    inputs_for,
    publish,
    settings_for,
)


@flow(name="cx-text-nightly", log_prints=True, timeout_seconds=NIGHTLY_TIMEOUT_SECONDS)
def nightly_flow(
    inputs: list[str] | None = None,
    out_dir: str = "out/nightly",
    config: str | None = None,
    state_dir: str | None = None,
) -> dict[str, Any]:
    """Verbatims the store has not seen -> clean -> embed -> assign (no re-fit) -> outputs."""
    settings = settings_for(config, state_dir)
    with flow_run(settings) as timer:
        send = block_sender(settings.report.notification_block)
        record = job.nightly(inputs_for(inputs, settings), Path(out_dir), settings, timer, send)
    publish(record, "nightly", Path(out_dir))
    return record


if __name__ == "__main__":
    args = sys.argv[1:]
    out = args[args.index("--out") + 1] if "--out" in args else "out/nightly"
    files = [a for i, a in enumerate(args) if a != "--out" and (i == 0 or args[i - 1] != "--out")]
    nightly_flow(inputs=files or None, out_dir=out)
