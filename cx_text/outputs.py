"""Output files: the only place that writes what a user opens (CSV, Parquet, XLSX, JSON).

Writes go to a temporary name first and are renamed into place, so a crashed run never leaves
a half-written file behind.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd


def _atomic(path: Path, write: Callable[[Path], object]) -> Path:
    """`write` a temporary sibling, flush it to disk, then rename it over `path`.

    A reader (or a crash at any point) sees either the previous file or the complete new one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """UTF-8 with BOM so that Excel opens Cyrillic text correctly."""
    return _atomic(path, lambda p: frame.to_csv(p, index=False, encoding="utf-8-sig"))


def write_parquet(frame: pd.DataFrame, path: Path) -> Path:
    return _atomic(path, lambda p: frame.to_parquet(p, index=False))


def write_xlsx(frame: pd.DataFrame, path: Path, sheet: str = "themes") -> Path:
    def write(p: Path) -> None:
        with pd.ExcelWriter(p, engine="openpyxl") as writer:
            frame.to_excel(writer, sheet_name=sheet, index=False)

    return _atomic(path, write)


def write_json(data: Any, path: Path) -> Path:
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    return _atomic(path, lambda p: p.write_text(text + "\n", encoding="utf-8"))


def write_text(text: str, path: Path) -> Path:
    return _atomic(path, lambda p: p.write_text(text, encoding="utf-8"))


def write_table(frame: pd.DataFrame, out_dir: Path, stem: str, formats: tuple[str, ...]) -> None:
    """Write `frame` as out_dir/stem.<fmt> for each of csv / parquet / xlsx."""
    writers = {"csv": write_csv, "parquet": write_parquet, "xlsx": write_xlsx}
    for fmt in formats:
        writers[fmt](frame, out_dir / f"{stem}.{fmt}")


def markdown_table(frame: pd.DataFrame, floatfmt: str = ".3f") -> str:
    """A GitHub Markdown table of `frame` (pipes in cells escaped)."""

    def cell(value: object) -> str:
        if isinstance(value, float):
            return "" if pd.isna(value) else format(value, floatfmt)
        return str(value).replace("|", "\\|").replace("\n", " ")

    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])
