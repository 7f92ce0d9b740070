"""results.xlsx: cx_text.xlsx against openpyxl's write-only mode, on the same tables.

The tables are the bundled sample's columns as delivered (text, scores, dates, ids) plus a
numeric table, `--copies` times over (1 copy: about the size of the sample nightly's tables),
formulas neutralised and time zones dropped as `outputs.write_workbook` does. Each writer runs
`--repeats` times, alternating, after a warm-up; the best time of each is printed, and both
files are read back with pandas and compared sheet by sheet.

    .venv/bin/python bench/workbook.py                 # about 20 s
    .venv/bin/python bench/workbook.py --copies 4
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cx_text import outputs, xlsx  # noqa: E402


def tables(copies: int) -> dict[str, pd.DataFrame]:
    sample = pd.read_csv(ROOT / "data" / "sample_feedback.csv", dtype=str, keep_default_na=False)
    sample["score"] = pd.to_numeric(sample.get("score"), errors="coerce")
    sample["created_at"] = pd.to_datetime(sample["created_at"], errors="coerce", utc=True,
                                          format="mixed")  # fmt: skip
    verbatims = pd.concat([sample] * copies, ignore_index=True)
    rng = np.random.default_rng(0)
    n = len(verbatims)
    figures = pd.DataFrame({"theme_id": [f"T{i % 90:03d}" for i in range(n)],
                            "share": rng.random(n), "n": rng.integers(0, 500, n),
                            "flag": rng.random(n) > 0.5})  # fmt: skip
    return {name: outputs._excel_safe(outputs.neutralise_formulas(frame))
            for name, frame in {"verbatims": verbatims, "figures": figures}.items()}  # fmt: skip


def with_openpyxl(sheets: dict[str, pd.DataFrame], path: Path) -> None:
    """What `outputs.write_workbook` did before cx_text.xlsx."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    for name, safe in sheets.items():
        sheet = book.create_sheet(name[:31])
        sheet.append([str(c) for c in safe.columns])
        for row in safe.astype(object).where(safe.notna(), None).itertuples(False, None):
            sheet.append(row)
    book.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sheets = tables(args.copies)
    cells = sum(f.size for f in sheets.values())
    print(f"load before: {os.getloadavg()}; {cells:,} cells in "
          f"{sum(len(f) for f in sheets.values()):,} rows", flush=True)  # fmt: skip
    writers = {"openpyxl write-only": with_openpyxl, "cx_text.xlsx": xlsx.write}
    best = dict.fromkeys(writers, float("inf"))
    with tempfile.TemporaryDirectory() as tmp:
        paths = {name: Path(tmp) / f"{i}.xlsx" for i, name in enumerate(writers)}
        for name, write in writers.items():  # warm-up
            write(sheets, paths[name])
        for _ in range(args.repeats):
            for name, write in writers.items():
                start = time.perf_counter()
                write(sheets, paths[name])
                best[name] = min(best[name], time.perf_counter() - start)
        read = {name: pd.read_excel(path, sheet_name=None) for name, path in paths.items()}
        first, second = read.values()
        for sheet in first:
            pd.testing.assert_frame_equal(first[sheet], second[sheet])
        print("read back by pandas: every sheet equal")
    print("| writer | seconds (best) | µs per cell |\n|---|---|---|")
    for name, seconds in best.items():
        print(f"| {name} | {seconds:.2f} | {1e6 * seconds / cells:.1f} |")
    print(f"speed-up: {best['openpyxl write-only'] / best['cx_text.xlsx']:.1f}x")
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
