"""The output catalogue: a run writes exactly the declared files, each from its declared source."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from cx_text import catalog, job
from cx_text.settings import Settings


def test_a_run_writes_exactly_the_catalogue(hashing_week: tuple[Settings, Path]) -> None:
    settings, data = hashing_week
    out = data.parent / "out"
    job.run([str(data)], out, settings)
    declared = {name for output in catalog.OUTPUTS for name in output.files}
    assert {p.name for p in out.iterdir()} == declared | {"run.json", catalog.WORKBOOK}
    sheets = pd.read_excel(out / catalog.WORKBOOK, sheet_name=None)
    tables = [o.name for o in catalog.OUTPUTS if "csv" in o.formats]
    assert list(sheets) == ["contents", *tables]
    assert sheets["contents"]["rows"].tolist() == [len(sheets[name]) for name in tables]
    assert (
        sheets["themes"]["theme_id"].tolist()
        == pd.read_csv(out / "themes.csv")["theme_id"].tolist()
    )
    for output in catalog.OUTPUTS:  # every table carries its declared schema's columns, in order
        if output.schema is not None and "csv" in output.formats:
            columns = pd.read_csv(out / f"{output.name}.csv", nrows=0).columns.tolist()
            assert columns[: len(output.schema.names)] == output.schema.names, output.name
    items = json.loads((out / "backlog.json").read_text())
    assert [i["cx_theme_id"] for i in items] == pd.read_csv(out / "backlog.csv")[
        "cx_theme_id"
    ].tolist()


def test_resolve_reads_attribute_paths() -> None:
    class Node:
        pass

    root, child = Node(), Node()
    child.value = 3  # type: ignore[attr-defined]
    root.tables = child  # type: ignore[attr-defined]
    assert catalog.resolve(root, "tables.value") == 3
    with pytest.raises(AttributeError):
        catalog.resolve(root, "tables.missing")
