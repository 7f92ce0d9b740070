"""The README documents every output column and setting bound (generated from the code)."""

from __future__ import annotations

from pathlib import Path

from cx_text.catalog import readme_files
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


def test_readme_settings_bounds_match_the_settings() -> None:
    from cx_text.settings import readme_bounds

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("<!-- bounds:start -->") + len("<!-- bounds:start -->\n")
    end = text.index("<!-- bounds:end -->")
    assert text[start:end] == readme_bounds(), (
        "README settings bounds are stale: regenerate with `python -m cx_text.settings`"
    )


def test_readme_settings_example_is_a_valid_config_file(tmp_path: Path) -> None:
    """The README's settings example loads: every key exists and every value is in bounds."""
    from cx_text.settings import load_settings

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Settings") : text.index("## The store")]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "cx.toml").write_text(example, encoding="utf-8")
    settings = load_settings(tmp_path / "cx.toml")
    assert settings.schedule.timezone == "Europe/Moscow" and settings.schedule.sql_queries


def test_readme_file_list_matches_the_output_catalogue() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("<!-- files:start -->") + len("<!-- files:start -->\n")
    end = text.index("<!-- files:end -->")
    assert text[start:end].strip() == readme_files().strip(), (
        "README file list is stale: regenerate with `python -m cx_text.catalog`"
    )
