"""Command-line conventions: --version, '-' for standard input, --dayfirst, themes list --json."""

from __future__ import annotations

import io
import json
from importlib import metadata
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cx_text import theming
from cx_text.cli import app
from tests.conftest import THEME_CORPUS, HashingEmbedder

TEXTS = [text for texts in THEME_CORPUS.values() for text in texts]


def _invoke(*args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), input=stdin)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_version_from_package_metadata() -> None:
    code, out, _ = _invoke("--version")
    assert code == 0 and out == f"cx-text {metadata.version('cx-text')}\n"


def test_source_version_matches_pyproject() -> None:
    """--version falls back to cx_text.__version__ when the package is not installed."""
    import tomllib

    import cx_text
    from tests.conftest import ROOT

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert cx_text.__version__ == project["version"]


def test_help_names_dayfirst_and_stdin() -> None:
    code, out, _ = _invoke("run", "--help")
    assert code == 0 and "--dayfirst" in out and "--monthfirst" in out and "'-'" in out


@pytest.fixture(scope="module")
def stdin_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run on CSV piped to '-' (semicolons, ambiguous dates) with --dayfirst."""
    root = tmp_path_factory.mktemp("stdin-run")
    embedder = HashingEmbedder()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(theming, "make_embedder", lambda model, settings: embedder)
        rows = pd.DataFrame({
            "id": [f"r{i}" for i in range(len(TEXTS))], "comment": TEXTS,
            "score": [str(i % 11) for i in range(len(TEXTS))],
            "date": [f"{1 + i % 12:02d}/11/2018" for i in range(len(TEXTS))],  # all ambiguous
        })  # fmt: skip
        buffer = io.StringIO()
        rows.to_csv(buffer, sep=";", index=False)
        config = root / "fast.toml"
        config.write_text(f'models_dir = "{root / "models"}"\nlanguage = "en"\n[themes]\n'
                          "min_cluster_size = 5\n[nps]\nbootstrap_samples = 50\n")  # fmt: skip
        code, _, stderr = _invoke("run", "-", "--out", str(root / "out"), "--state-dir",
                                  str(root / "state"), "--config", str(config), "--dayfirst",
                                  "--quiet", stdin=buffer.getvalue().encode("cp1252"))  # fmt: skip
    assert code == 0, stderr
    return root


def test_dash_reads_csv_from_stdin(stdin_run: Path) -> None:
    record = json.loads((stdin_run / "out" / "run.json").read_text())
    assert record["inputs"] == ["stdin"]
    assert record["counts"]["read"] == len(TEXTS) and record["counts"]["themed"] == len(TEXTS)


def test_dayfirst_option_reads_ambiguous_dates_day_first(stdin_run: Path) -> None:
    verbatims = pd.read_parquet(stdin_run / "out" / "verbatims.parquet")
    assert set(verbatims["created_at"].dt.month) == {11}  # 05/11/2018 is November 5th


def test_themes_list_json(stdin_run: Path) -> None:
    state = ["--state-dir", str(stdin_run / "state")]
    code, out, _ = _invoke("themes", "list", "--json", *state)
    themes = json.loads(out)
    assert code == 0 and len(themes) >= 2
    first = themes[0]
    assert set(first) == {"theme_id", "status", "label", "first_seen", "last_seen",
                          "renamed_to", "merged_into", "ignored"}  # fmt: skip
    assert first["theme_id"] == "T001" and first["renamed_to"] is None
    code, lines, _ = _invoke("themes", "list", *state)
    assert code == 0 and len(lines.strip().splitlines()) == len(themes)
    assert lines.startswith(f"T001\t{first['status']}\t{first['label']}\t{first['first_seen']}")
