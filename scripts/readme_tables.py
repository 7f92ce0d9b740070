"""Regenerate the README's generated blocks (settings bounds, output files, column lists).

python scripts/readme_tables.py   # rewrites README.md in place; tests/test_readme.py checks it
"""

from __future__ import annotations

from pathlib import Path

from cx_text.catalog import readme_files
from cx_text.schemas import readme_tables
from cx_text.settings import readme_bounds

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = {"bounds": readme_bounds, "files": readme_files, "schemas": readme_tables}


def refresh(text: str) -> str:
    for name, make in BLOCKS.items():
        start, end = f"<!-- {name}:start -->\n", f"<!-- {name}:end -->"
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = head + start + make().strip() + "\n" + end + tail
    return text


if __name__ == "__main__":
    README.write_text(refresh(README.read_text(encoding="utf-8")), encoding="utf-8")
