"""Which columns become segments, how they are named, and the breakdown computed in one pass."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cx_text import nps, rank
from cx_text.schemas import ASSIGNMENTS, THEMES_BY_SEGMENT
from cx_text.settings import RankSettings, SegmentSettings
from tests.factories import complaint, frame, survey

N = 300
RNG = np.random.default_rng(7)
SCORES = RNG.integers(0, 11, N)


def _verbatims() -> pd.DataFrame:
    rows = [complaint(f"v{i}") if i % 10 == 0 else survey(f"v{i}", float(SCORES[i]))
            for i in range(N)]  # fmt: skip
    region = np.array(["north", "south", "east", None], dtype=object)[np.arange(N) % 4]
    return frame(*rows).assign(
        region=region,  # 3 values and gaps
        postcode=[f"P{i:04d}" for i in range(N)],  # one value per row
        **{"input:label": [f"L{i % 5}" for i in range(N)]},  # the input's own `label` column
    )


def _assignments(verbatims: pd.DataFrame) -> pd.DataFrame:
    themes = np.array(["T1", "T2", "T3", "unclassified"])[RNG.integers(0, 4, len(verbatims))]
    return ASSIGNMENTS.conform(pd.DataFrame({
        "verbatim_id": verbatims["verbatim_id"], "theme_id": themes,
        "theme_label": [f"theme {t}" for t in themes], "parent_theme_id": "P01",
        "confidence": 0.5,
    }))  # fmt: skip


def test_only_low_cardinality_columns_are_segments() -> None:
    verbatims = _verbatims()
    default = rank.segment_columns(verbatims, RankSettings())
    assert default == ["touchpoint", "source", "channel", "region", "input:label"]
    assert "region" not in rank.segment_columns(verbatims, RankSettings(),
                                                SegmentSettings(max_values=2))  # fmt: skip
    wanted = SegmentSettings(max_values=2, columns=["postcode", "label", "absent"])
    assert rank.segment_columns(verbatims, RankSettings(), wanted) == [
        "touchpoint", "source", "channel", "postcode", "input:label"]  # fmt: skip
    named = RankSettings(segment_columns=["label", "postcode"])
    assert rank.segment_columns(verbatims, named) == ["input:label", "postcode"]
    # one value splits nothing: an id column whose values all masked to [ACCOUNT], say
    masked = verbatims.assign(tweet_id="[ACCOUNT]")
    assert "tweet_id" not in rank.segment_columns(masked, RankSettings())
    assert "tweet_id" in rank.segment_columns(masked, RankSettings(),
                                              SegmentSettings(columns=["tweet_id"]))  # fmt: skip


def test_segment_settings_are_bounded() -> None:
    with pytest.raises(ValueError, match="max_values"):
        SegmentSettings(max_values=0)


def _value_rows(
    roles: np.ndarray, matrix: np.ndarray, keys: list[str], min_size: int
) -> pd.DataFrame:
    """Theme figures within one segment value, groups below `min_size` suppressed: one
    `count_figures` table per value, as the breakdown made them before it summed them at once."""
    counts = nps.count_figures(roles, matrix, keys, "theme_id")
    counts = counts[counts["n_verbatims"] > 0].astype({c: float for c in rank._SUPPRESSED})
    counts["suppressed"] = counts["n_verbatims"] < min_size
    counts.loc[counts["suppressed"], rank._SUPPRESSED] = np.nan
    return counts


def _naive_breakdown(verbatims: pd.DataFrame, assignments: pd.DataFrame) -> pd.DataFrame:
    """The figures value by value with a boolean mask each (what the breakdown did before)."""
    keys, matrix = nps.membership_matrix(verbatims, nps.theme_members(assignments, None),
                                         "theme_id")  # fmt: skip
    roles = nps.string_values(verbatims, "role")
    parts = []
    for column, shown in (("region", "region"), ("input:label", "label")):
        values = verbatims[column].astype("string")
        for value in values.dropna().unique():
            mask = (values == value).fillna(False).to_numpy(dtype=bool)
            rows = _value_rows(roles[mask], matrix[mask], keys, 10)
            parts.append(rows.assign(segment_column=shown, segment_value=str(value)))
    return pd.concat(parts, ignore_index=True)


def test_breakdown_in_one_pass_equals_value_by_value() -> None:
    verbatims = _verbatims()
    assignments = _assignments(verbatims)
    settings = RankSettings(segment_columns=["region", "label"], min_segment_size=10)
    table = rank.segment_breakdown(verbatims, assignments, None, settings)
    assert table.columns.tolist() == THEMES_BY_SEGMENT.names
    assert set(table["segment_column"]) == {"region", "label"}  # the input's name, not input:
    expected = _naive_breakdown(verbatims, assignments)
    key = ["segment_column", "segment_value", "theme_id"]
    got = table.set_index(key).sort_index()
    want = expected.set_index(key).sort_index()
    assert got.index.equals(want.index) and len(got) == 3 * 4 + 5 * 4
    for figure in ("n_verbatims", "share", "n_detractors", "theme_nps", "suppressed"):
        np.testing.assert_array_equal(got[figure].to_numpy(float), want[figure].to_numpy(float))


def test_store_keeps_input_columns_apart(tmp_path: Path) -> None:
    """Segments round-trip under their names; one stored by an older cx-text as `label` (a
    product column's name) comes back as `input:label`."""
    from cx_text.store import Store

    rows = frame(survey("v1", 9), survey("v2", 3))
    current = rows.assign(**{"input:label": ["a", "b"], "region": ["n", "s"]})
    legacy = frame(survey("v3", 5)).assign(label=["c"])
    store = Store(f"duckdb:///{tmp_path / 'store.duckdb'}")
    try:
        with store.transaction() as conn:
            store.upsert_verbatims(conn, current, "run-1")
            store.upsert_verbatims(conn, legacy, "run-0")
        loaded = store.load_verbatims().set_index("verbatim_id")
    finally:
        store.close()
    assert "label" not in loaded.columns
    assert loaded["input:label"].to_dict() == {"v1": "a", "v2": "b", "v3": "c"}
    assert loaded["region"].loc[["v1", "v2"]].tolist() == ["n", "s"]


def test_a_bilingual_theme_has_its_nps_per_language() -> None:
    # theme T1: 4 English verbatims (2 promoters, 2 detractors: NPS 0) and 4 Russian ones
    # (3 detractors, 1 promoter: NPS -50); only English: no language segment
    scores = [10, 10, 0, 0, 0, 0, 0, 10]
    rows = [survey(f"v{i}", float(s), language="en" if i < 4 else "ru")
            for i, s in enumerate(scores)]  # fmt: skip
    verbatims = frame(*rows)
    assigned = ASSIGNMENTS.conform(pd.DataFrame({
        "verbatim_id": verbatims["verbatim_id"], "theme_id": "T1", "theme_label": "Refund",
        "parent_theme_id": "P01", "confidence": 0.9}))  # fmt: skip
    table = rank.segment_breakdown(verbatims, assigned, None, RankSettings(min_segment_size=1))
    by_language = table[table["segment_column"] == "language"].set_index("segment_value")
    assert by_language.loc["en", "theme_nps"] == pytest.approx(0.0)
    assert by_language.loc["ru", "theme_nps"] == pytest.approx(-50.0)
    english = verbatims.iloc[:4]
    assert "language" not in rank.segment_columns(english, RankSettings())
