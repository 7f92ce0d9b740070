"""The production path on the bundled sample with the real models (slow: about 8 minutes).

Backfill weeks 1-10, nightly runs for weeks 11-12, then the weekly re-fit: earlier verbatims keep
their theme ids and the planted emerging theme (promo codes, weeks 11-12 only) is registered as
a new theme.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cx_text import job
from cx_text.registry import retention
from cx_text.settings import load_settings
from tests.conftest import ROOT

pytestmark = pytest.mark.slow
SAMPLE = ROOT / "data" / "sample_feedback.csv"
TRUTH = ROOT / "data" / "sample_truth.csv"


def test_backfill_nightly_weekly_on_the_sample(tmp_path: Path) -> None:
    settings = load_settings(state_dir=tmp_path / "s", models_dir=tmp_path / "m",
                             overrides_file=tmp_path / "none.yaml",
                             embedding={"show_progress": False})  # fmt: skip
    frame = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)
    day = pd.to_datetime(frame["created_at"], errors="coerce")
    frame[day < pd.Timestamp("2026-11-09")].to_csv(tmp_path / "weeks_1_10.csv", index=False)
    frame[day < pd.Timestamp("2026-11-16")].to_csv(tmp_path / "weeks_1_11.csv", index=False)
    job.backfill([str(tmp_path / "weeks_1_10.csv")], "2026-W36", "2026-W45", tmp_path / "bf",
                 settings)  # fmt: skip
    stored = job.Store(settings.store_url_value)
    before = stored.frame("assignments")
    stored.close()
    job.nightly([str(tmp_path / "weeks_1_11.csv")], tmp_path / "n11", settings)
    job.nightly([str(SAMPLE)], tmp_path / "n12", settings)
    after_nightly = pd.read_csv(tmp_path / "n12" / "assignments.csv")
    assert retention(before, after_nightly) == 1.0
    job.weekly("2026-W47", tmp_path / "w47", settings)
    themes = pd.read_csv(tmp_path / "w47" / "themes.csv").set_index("theme_id")
    truth = pd.read_csv(TRUTH, keep_default_na=False).drop_duplicates("response_id")
    promo = set(truth.loc[truth["theme"] == "promo_code_failure", "response_id"])
    assigned = pd.read_csv(tmp_path / "w47" / "assignments.csv")
    promo_themes = assigned[assigned["verbatim_id"].isin(promo)]["theme_id"].value_counts()
    top = promo_themes.index[0]
    assert top != "unclassified" and themes.loc[top, "status"] == "new"
    assert promo_themes.iloc[0] >= 0.4 * len(promo)
