"""Hand-built verbatim rows for the NPS and ranking tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cx_text.ingest import role_for
from cx_text.schemas import VERBATIMS

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
