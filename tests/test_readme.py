"""The README documents every output column (generated from cx_text.schemas)."""

from __future__ import annotations

from cx_text.schemas import readme_tables
from tests.conftest import ROOT


def test_readme_column_lists_match_the_schemas() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("<!-- schemas:start -->") + len("<!-- schemas:start -->\n")
    end = text.index("<!-- schemas:end -->")
    assert text[start:end].strip() == readme_tables().strip(), (
        "README column lists are stale: regenerate with `python -m cx_text.schemas`"
    )


def test_readme_names_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make demo" in text and "make test" in text
