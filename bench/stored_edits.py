"""What recognising corrections to stored rows costs a nightly: load the re-delivered ids' stored
rows and compare them with the delivery (`Store.load_verbatims(ids=...)`, `clean.stored_edits`).

A synthetic export shaped like the airline one (an id column, a date, a score and `--columns`
extra columns of short values) is cleaned and stored in a DuckDB file in a temporary folder,
then delivered again: once unchanged, once with `--edited` rows' scores changed and a column
added to every row. Seconds are the best of `--repeats`.

    .venv/bin/python bench/stored_edits.py [--rows 15000] [--columns 12] [--edited 100]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def export(rows: int, columns: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "tweet_id": [f"t{i}" for i in range(rows)],
        "text": [f"flight {i} was delayed again, the crew said nothing" for i in range(rows)],
        "score": rng.integers(0, 11, rows).astype(str), "date": "2015-02-24 11:35:52",
        **{f"col{j}": [f"v{(i * (j + 1)) % 97}" for i in range(rows)] for j in range(columns)},
    })  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=15_000)
    parser.add_argument("--columns", type=int, default=12)
    parser.add_argument("--edited", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from cx_text import clean, ingest
    from cx_text.settings import CleanSettings, IngestSettings
    from cx_text.store import Store

    now = pd.Timestamp("2026-12-01")

    def mapped(frame: pd.DataFrame) -> pd.DataFrame:
        return ingest.to_verbatims(ingest._as_raw(frame, "export.csv"), IngestSettings(), now)[0]

    first = export(args.rows, args.columns)
    with tempfile.TemporaryDirectory() as folder:
        store = Store(f"duckdb:///{Path(folder) / 'store.duckdb'}")
        cleaned = clean.clean_verbatims(mapped(first), CleanSettings(), forced_language="en")
        with store.transaction() as conn:
            store.upsert_verbatims(conn, cleaned.verbatims, "bench")
        edited = first.copy()
        edited.loc[: args.edited - 1, "score"] = "10"
        edited["region"] = "north"
        for name, delivered in (("unchanged", mapped(first)), ("edited", mapped(edited))):
            ids = set(delivered["verbatim_id"])
            load, compare = [], []
            for _ in range(args.repeats):
                start = time.perf_counter()
                stored = store.load_verbatims(ids=ids)
                loaded = time.perf_counter()
                edits, fields = clean.stored_edits(delivered, stored)
                compare.append(time.perf_counter() - loaded)
                load.append(loaded - start)
            print(f"{name}: {len(ids):,} re-delivered rows, {args.columns} extra columns: "
                  f"load {min(load):.3f} s, compare {min(compare):.3f} s; "
                  f"{len(edits):,} corrected {fields}")  # fmt: skip
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
