"""Load: 200k generated verbatims through the nightly job in batches, memory bounded, rows kept.

The nightly runs happen in a fresh process (bench/load.py), so its peak RSS is the job's own.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench import load
from cx_text.store import Store

ROWS = 200_000
BATCHES = 10
# Measured: peak 1,650 MB over the 10 nights (0.65 GB of it is the imported libraries; one
# nightly of all 200k at once peaks at 1.8 GB). The bound leaves ~1.5x headroom; memory that
# grew with every night (a leak, the window held several times over) would cross it.
PEAK_RSS_MB = 2500


def test_generated_verbatims_are_varied_and_noisy() -> None:
    rows = load.make_verbatims(5000, seed=3)
    assert rows["response_id"].is_unique and len(rows) == 5000
    assert rows["comment"].nunique() > 0.8 * len(rows)  # not one sentence repeated
    assert rows["comment"].str.contains("[а-я]", regex=True).mean() > 0.2  # both languages


@pytest.mark.slow
@pytest.mark.timeout(3600)  # about 20 minutes on 2 busy shared cores
def test_200k_verbatims_in_nightly_batches_all_accounted_for(tmp_path: Path) -> None:
    state = tmp_path / "state"
    load._child_fit(state, real=False)
    rows = load.make_verbatims(ROWS, seed=1)
    files = []
    for number, part in enumerate(np.array_split(np.arange(ROWS), BATCHES)):
        files.append(tmp_path / f"night-{number}.csv")
        rows.iloc[part].to_csv(files[-1], index=False)
    result = load._child([str(state), *map(str, files)])
    seconds, peak = result["seconds"], result["peak_rss_mb"]
    print(f"\n{ROWS:,} rows in {BATCHES} nightly runs: {seconds:.0f} s, "
          f"{ROWS / seconds:,.0f} rows/s, peak RSS {peak:,.0f} MB")  # fmt: skip

    counts = pd.DataFrame([night["counts"] for night in result["nights"]])
    assert counts["read"].tolist() == [len(p) for p in np.array_split(np.arange(ROWS), BATCHES)]
    # every row read lands in exactly one bucket, night by night
    buckets = ["already_seen", "themed", "quarantined", "duplicates", "non_answers"]
    pd.testing.assert_series_equal(counts[buckets].sum(axis=1), counts["read"],
                                   check_names=False)  # fmt: skip
    assert (counts[["themed", "quarantined", "duplicates", "non_answers"]] > 0).all().all()

    settings = load.settings_for(state)
    store = Store(settings.store_url_value)
    try:
        stored = store.frame("verbatims")
        assignments = store.frame("assignments")
    finally:
        store.close()
    new = stored[stored["verbatim_id"].str.startswith("L")]
    assert len(new) == counts["themed"].sum() + counts["non_answers"].sum()
    assert new["verbatim_id"].is_unique
    themed = assignments[assignments["verbatim_id"].str.startswith("L")]
    assert len(themed) == counts["themed"].sum()
    assert result["nights"][-1]["window"] >= len(new)  # the last night ranks the whole window
    assert result["peak_rss_mb"] < PEAK_RSS_MB
