"""Hand-built verbatim rows for the NPS and ranking tests."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cx_text.ingest import role_for
from cx_text.schemas import VERBATIMS
from cx_text.settings import Settings

if TYPE_CHECKING:
    from cx_text.stages import RunState

DAY = pd.Timestamp("2026-01-10")


def survey(vid: str, score: float, scale: str = "nps", **extra: Any) -> dict[str, Any]:
    return {"verbatim_id": vid, "source": "survey", "score": score, "scale": scale,
            "role": role_for(score, scale), **extra}  # fmt: skip


def complaint(vid: str, **extra: Any) -> dict[str, Any]:
    return {"verbatim_id": vid, "source": "complaint", "score": np.nan, "scale": "none",
            "role": "complaint", **extra}  # fmt: skip


def frame(*rows: dict[str, Any]) -> pd.DataFrame:
    defaults = {"text": "some comment", "created_at": DAY, "customer_id": None,
                "touchpoint": "delivery", "channel": "app", "language": "en",
                "is_non_answer": False, "is_long": False, "text_hash": "h"}  # fmt: skip
    return VERBATIMS.conform(pd.DataFrame([{**defaults, **row} for row in rows]))


def read_and_clean(
    inputs: list[str], settings: Settings, tmp_path: Path, now: pd.Timestamp | None = None
) -> RunState:
    """The read and clean stages of a run on `inputs` (store and outputs under `tmp_path`)."""
    from cx_text import job
    from cx_text.runner import walk

    settings = settings.model_copy(update={"state_dir": tmp_path / "read-and-clean"})
    with job.context("run", settings, tmp_path / "out", None, now, inputs=tuple(inputs)) as ctx:
        return walk((job.READ, job.CLEAN), ctx)
