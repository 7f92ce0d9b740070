"""Bad input: every broken input of tests/bad_inputs/ through `cx-text run` and `cx-text nightly`.

Each case ends either in a successful run whose bad rows are quarantined with a reason, or in
one line on stderr naming the input and the problem with a non-zero exit code; never a
traceback, never a silent drop: `read = themed + quarantined + duplicates + non_answers`.

The embedding model is replaced by the tests' HashingEmbedder everywhere (in-process by
monkeypatching, in subprocesses by a two-line wrapper around `cx_text.cli.main`), so a run on a
tiny file takes about a second; everything else is the real CLI.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cx_text import job, theming
from cx_text.cli import app
from cx_text.runner import walk
from cx_text.settings import load_settings
from cx_text.store import Store
from tests.bad_inputs.make_corpus import GOOD, write_big
from tests.conftest import ROOT, THEME_CORPUS, HashingEmbedder

CORPUS = ROOT / "tests" / "bad_inputs"
BIG = ("big_text.csv", "rows_100k.csv")
COUNTS = ("read", "themed", "quarantined", "duplicates", "non_answers")


@dataclass(frozen=True)
class Case:
    """One broken input and what must happen to it."""

    name: str
    file: str
    # success: read, themed, quarantined, duplicates, non_answers
    counts: tuple[int, int, int, int, int] | None = None
    # quarantine reason -> the 1-based row numbers quarantined for it
    reasons: dict[str, list[int]] = field(default_factory=dict)
    # error: exit code and words the one-line message must contain
    exit_code: int = 0
    words: tuple[str, ...] = ()
    config: str | None = None  # a config file of the corpus, used with good.csv
    text_contains: str = ""  # a word one accepted verbatim must contain (decoding checks)
    slow: bool = False

    @property
    def error(self) -> bool:
        return self.exit_code != 0


CASES = [
    Case("empty file", "empty.csv", exit_code=2, words=("empty.csv", "file is empty")),
    Case("header only", "header_only.csv", counts=(0, 0, 0, 0, 0)),
    Case("wrong delimiter", "wrong_delimiter.csv", exit_code=2,
         words=("wrong_delimiter.csv", "no text column", "delimiter")),
    Case("quoted field with newlines", "quoted_newlines.csv", counts=(3, 3, 0, 0, 0),
         text_contains="first line second line, with a comma third line"),
    Case("ragged rows", "ragged_rows.csv", counts=(5, 3, 2, 0, 0),
         reasons={"wrong_field_count": [3, 5]}),
    Case("UTF-8 BOM", "bom.csv", counts=(3, 3, 0, 0, 0), text_contains="courier was late"),
    Case("cp1251", "cp1251.csv", counts=(3, 3, 0, 0, 0), text_contains="Доставку задержали"),
    Case("latin-1", "latin1.csv", counts=(4, 4, 0, 0, 0), text_contains="très en retard"),
    Case("invalid UTF-8 bytes", "invalid_utf8.csv", counts=(6, 5, 1, 0, 0),
         reasons={"undecodable": [6]}, text_contains="broken \ufffd\ufffd\ufffd bytes"),
    Case("NUL bytes", "nul_bytes.csv", counts=(4, 3, 1, 0, 0), reasons={"empty_text": [4]},
         text_contains="nul inside the text"),
    Case("10 MB single text", "big_text.csv", counts=(3, 2, 1, 0, 0),
         reasons={"text_too_long": [3]}),
    Case("100k rows, the last one cut", "rows_100k.csv", counts=(100_001, 100, 1, 0, 99_900),
         reasons={"wrong_field_count": [100_001]}, slow=True),
    Case("scores ten 11 -1 9.5 empty NaN", "scores.csv", counts=(7, 1, 6, 0, 0),
         reasons={"score_not_a_number": [1, 6], "score_out_of_range": [2, 3, 4],
                  "score_missing": [5]}),
    Case("dates in 5 formats and garbage", "dates.csv", counts=(8, 5, 3, 0, 0),
         reasons={"bad_date": [6, 7, 8]}),
    Case("duplicate ids, different texts", "duplicate_ids.csv", counts=(5, 3, 1, 1, 0),
         reasons={"conflicting_id": [4]}),
    Case("all non-answers", "non_answers.csv", counts=(7, 0, 0, 0, 7)),
    Case("only emoji", "only_emoji.csv", counts=(4, 0, 0, 0, 4)),
    Case("right-to-left text", "rtl.csv", counts=(4, 4, 0, 0, 0), text_contains="التوصيل"),
    Case("XLSX with several sheets", "several_sheets.xlsx", counts=(5, 5, 0, 0, 0)),
    Case("Parquet with wrong column types", "wrong_types.parquet", counts=(4, 1, 3, 0, 0),
         reasons={"score_not_a_number": [2], "bad_date": [3], "score_missing": [4]}),
    Case("corrupt Parquet", "broken.parquet", exit_code=2,
         words=("broken.parquet", "cannot be read as PARQUET")),
    Case("JSON Lines cut mid-record", "broken.jsonl", exit_code=2,
         words=("broken.jsonl", "cannot be read as JSONL")),
    Case("CSV named .xlsx", "not_really.xlsx", exit_code=2,
         words=("not_really.xlsx", "cannot be read as XLSX")),
    Case("config: unknown key", "good.csv", config="config_unknown_key.toml", exit_code=2,
         words=("config_unknown_key.toml", "unknown setting", "themes.min_clustr_size")),
    Case("config: wrong type", "good.csv", config="config_wrong_type.toml", exit_code=2,
         words=("config_wrong_type.toml", "clean.long_text_chars", "valid integer", "a lot")),
    Case("config: not TOML", "good.csv", config="config_bad_toml.toml", exit_code=2,
         words=("config_bad_toml.toml", "not valid TOML", "line 1")),
]  # fmt: skip
# run through a real subprocess in the default test run; the rest are marked slow
SUBPROCESS_SUBSET = {
    "ragged rows",
    "empty file",
    "wrong delimiter",
    "corrupt Parquet",
    "config: unknown key",
}

FAST_CONFIG = "[nps]\nbootstrap_samples = 50\n[embedding]\nshow_progress = false\n"
# the real CLI entry point with the tests' embedder injected (model loading is not under test)
CLI = (
    "from cx_text import theming; from tests.conftest import HashingEmbedder; "
    "e = HashingEmbedder(); theming.make_embedder = lambda model, settings: e; "
    "from cx_text.cli import main; main()"
)


def _param(case: Case, slow: bool = False) -> object:
    marks = [pytest.mark.slow] if slow or case.slow else []
    return pytest.param(case, id=case.name.replace(" ", "-"), marks=marks)


@pytest.fixture(scope="module")
def big_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_big(tmp_path_factory.mktemp("big"))


@pytest.fixture()
def hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    embedder = HashingEmbedder()
    monkeypatch.setattr(theming, "make_embedder", lambda model, settings: embedder)


def _input(case: Case, big: dict[str, Path]) -> str:
    return str(big[case.file] if case.file in BIG else CORPUS / case.file)


def _config(case: Case, tmp_path: Path) -> Path:
    if case.config:
        return CORPUS / case.config
    path = tmp_path / "fast.toml"
    path.write_text(FAST_CONFIG)
    return path


def _invoke(args: list[str], tmp_path: Path, **env: str) -> tuple[int, str, str]:
    """The CLI in-process: exit code, stdout, stderr."""
    env = {"CX_TEXT_MODELS_DIR": str(tmp_path / "models"), **env}
    result = CliRunner().invoke(app, args, env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # would have been a traceback
    return result.exit_code, result.stdout, result.stderr


def _check_error(case: Case, code: int, stderr: str) -> None:
    assert code == case.exit_code, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("cx-text: error: ")
    assert "Traceback" not in stderr and "internal error" not in stderr
    for word in case.words:
        assert word in lines[0], (word, lines[0])


def _check_success(case: Case, out: Path, nightly: bool = False) -> None:
    assert case.counts is not None
    counts = json.loads((out / "run.json").read_text())["counts"]
    seen = counts.get("already_seen", 0)
    assert counts["read"] == (seen + counts["themed"] + counts["quarantined"]
                              + counts["duplicates"] + counts["non_answers"])  # fmt: skip
    assert seen == 0 and tuple(counts[k] for k in COUNTS) == case.counts, counts
    quarantine = pd.read_csv(out / "quarantine.csv", keep_default_na=False)
    assert len(quarantine) == case.counts[2]
    assert (quarantine["reason"] != "").all() and (quarantine["detail"] != "").all()
    found = {r: sorted(g["row_number"].astype(int)) for r, g in quarantine.groupby("reason")}
    assert found == case.reasons
    verbatims = pd.read_parquet(out / "verbatims.parquet")
    if not nightly:  # nightly outputs cover the whole window, the baseline's verbatims too
        assert len(verbatims) == case.counts[1] + case.counts[4]
    if case.text_contains:
        assert verbatims["text"].str.contains(case.text_contains, regex=False).any()


# --------------------------------------------------------------------------- cx-text run


def _cli_args(
    command: str, case: Case, big_files: dict[str, Path], out: Path, tmp_path: Path
) -> list[str]:
    """`cx-text <command>` on the case's input, with its config and a state dir in tmp_path."""
    state, config = str(tmp_path / "state"), str(_config(case, tmp_path))
    return [command, _input(case, big_files), "--out", str(out), "--state-dir", state,
            "--config", config, "--quiet"]  # fmt: skip


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_case_through_run(case: Case, tmp_path: Path, hashing: None, big_files) -> None:
    out = tmp_path / "out"
    args = _cli_args("run", case, big_files, out, tmp_path)
    code, _, stderr = _invoke(args, tmp_path)
    if case.error:
        _check_error(case, code, stderr)
        assert not (out / "run.json").exists()
    else:
        assert code == 0, stderr
        _check_success(case, out)


@pytest.mark.parametrize(
    "case",
    [_param(c, slow=c.name not in SUBPROCESS_SUBSET) for c in CASES],
)
def test_case_through_run_subprocess(case: Case, tmp_path: Path, big_files) -> None:
    """The same, through a real process: what a scheduler sees (exit code, stderr)."""
    out = tmp_path / "out"
    args = _cli_args("run", case, big_files, out, tmp_path)
    proc = _subprocess(args, tmp_path)
    if case.error:
        _check_error(case, proc.returncode, proc.stderr)
    else:
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "Traceback" not in proc.stderr
        _check_success(case, out)


def _subprocess(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1",
               "CX_TEXT_MODELS_DIR": str(tmp_path / "models"), **env}  # fmt: skip
    return subprocess.run([sys.executable, "-c", CLI, *args], cwd=tmp_path, env=environ,
                          capture_output=True, text=True, timeout=600)  # fmt: skip


# --------------------------------------------------------------------------- cx-text nightly


@pytest.fixture(scope="module")
def warm_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store and saved theme models from one run on a clean corpus (ids unlike the cases')."""
    base = tmp_path_factory.mktemp("warm")
    rows = [
        {
            "id": f"{theme}-{i}",
            "comment": text,
            "score": 3 if i % 2 else 9,
            "created_at": "2026-11-02",
            "customer_id": f"w{i}",
        }
        for theme, texts in THEME_CORPUS.items()
        for i, text in enumerate(texts[:2])
    ]
    pd.DataFrame(rows).to_csv(base / "week.csv", index=False)
    (base / "fast.toml").write_text(FAST_CONFIG)
    settings = load_settings(base / "fast.toml", state_dir=base / "state",
                             models_dir=base / "models")  # fmt: skip
    embedder = HashingEmbedder()
    real = theming.make_embedder
    theming.make_embedder = lambda model, settings: embedder  # type: ignore[assignment]
    try:
        job.run([str(base / "week.csv")], base / "out", settings)
    finally:
        theming.make_embedder = real
    return base


def _copy_store(warm: Path, tmp_path: Path) -> Path:
    for name in ("state", "models"):
        shutil.copytree(warm / name, tmp_path / name)
    shutil.copy(warm / "fast.toml", tmp_path / "fast.toml")
    return tmp_path


def _store_state(tmp_path: Path) -> tuple[str | None, int, int]:
    """Watermark, number of runs and of verbatims in the store."""
    store = Store(load_settings(state_dir=tmp_path / "state").store_url_value)
    try:
        return store.watermark("verbatims"), len(store.runs()), len(store.load_verbatims())
    finally:
        store.close()


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_case_through_nightly(
    case: Case, tmp_path: Path, hashing: None, big_files, warm_store: Path
) -> None:
    _copy_store(warm_store, tmp_path)
    before = _store_state(tmp_path)
    out = tmp_path / "out"
    args = _cli_args("nightly", case, big_files, out, tmp_path)
    code, _, stderr = _invoke(args, tmp_path)
    if case.error:
        _check_error(case, code, stderr)
        assert _store_state(tmp_path) == before  # nothing written, the watermark did not move
        return
    assert code == 0, stderr
    _check_success(case, out, nightly=True)
    _, runs, stored = _store_state(tmp_path)
    assert runs == before[1] + 1
    assert stored == before[2] + case.counts[1] + case.counts[4]  # type: ignore[index]


# through the Prefect flow: two in the default run (one success, one error), more when slow
FLOW_CASES = {"ragged rows": False, "empty file": False, "scores ten 11 -1 9.5 empty NaN": True,
              "XLSX with several sheets": True, "Parquet with wrong column types": True,
              "10 MB single text": True}  # fmt: skip


@pytest.mark.parametrize(
    "case", [_param(c, slow=FLOW_CASES[c.name]) for c in CASES if c.name in FLOW_CASES]
)
def test_case_through_the_nightly_flow(
    case: Case,
    tmp_path: Path,
    hashing: None,
    big_files,
    warm_store: Path,
    prefect_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The Prefect nightly flow gives the same counts, and fails with the same one line."""
    from pipelines.nightly import nightly_flow

    _copy_store(warm_store, tmp_path)
    monkeypatch.setenv("CX_TEXT_MODELS_DIR", str(tmp_path / "models"))
    before = _store_state(tmp_path)
    out = tmp_path / "out"
    params = {
        "inputs": [_input(case, big_files)],
        "out_dir": str(out),
        "config": str(tmp_path / "fast.toml"),
        "state_dir": str(tmp_path / "state"),
    }
    if case.error:
        with pytest.raises(ValueError) as err:
            nightly_flow(**params)
        assert all(word in str(err.value) for word in case.words), str(err.value)
        assert _store_state(tmp_path) == before
    else:
        nightly_flow(**params)
        _check_success(case, out, nightly=True)


# --------------------------------------------------------------------------- 100k rows, fast


def test_100k_rows_with_a_cut_last_row_reads_everything(big_files, tmp_path: Path) -> None:
    """Read and clean stages of the 100k case (the full run is in the slow cases above)."""
    settings = load_settings(language="en", state_dir=tmp_path / "state")
    inputs = (str(big_files["rows_100k.csv"]),)
    with job.context("run", settings, tmp_path / "out", None, inputs=inputs) as ctx:
        data = walk((job.READ, job.CLEAN), ctx)
    assert data.counts == dict(zip(COUNTS, (100_001, 100, 1, 0, 99_900), strict=True))
    row = data.quarantine.iloc[0]
    assert (row["reason"], row["row_number"]) == ("wrong_field_count", 100_001)
    assert json.loads(row["original"])["_fields"] == ["100001", "the export was cut here\n"]


# --------------------------------------------------------------------------- SQL sources


def _feedback_db(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE feedback (id INTEGER, comment TEXT, score INTEGER, "
                     "created_at TEXT, customer_id TEXT)")  # fmt: skip
        conn.executemany("INSERT INTO feedback VALUES (?, ?, ?, ?, ?)",
                         [(i, f"{GOOD[i % 5]} {i}", i % 11, f"2026-11-{1 + i % 20:02d}", f"s{i}")
                          for i in range(1, 9)])  # fmt: skip
    return f"sqlite:///{path}"


@pytest.fixture()
def locked_db(tmp_path: Path) -> Iterator[str]:
    """A SQLite source another connection holds an exclusive lock on."""
    url = _feedback_db(tmp_path / "source.sqlite")
    holder = sqlite3.connect(tmp_path / "source.sqlite", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        yield url + "?timeout=0.2"
    finally:
        holder.execute("ROLLBACK")
        holder.close()


@pytest.fixture()
def dropping_server() -> Iterator[int]:
    """A TCP server on 127.0.0.1 that accepts every connection and closes it at once."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()


# a query that returns rows, then fails on row 4: the database gives up mid-read
MID_READ = ("sql:SELECT id, comment, score, created_at, customer_id, CASE WHEN id > 3 THEN "
            "abs(-9223372036854775807 - 1) END AS boom FROM feedback ORDER BY id")  # fmt: skip


@pytest.mark.parametrize("command", ["run", "nightly"])
@pytest.mark.parametrize("source", ["locked", "dropped", "mid_read"])
def test_sql_source_failure_is_one_line_and_writes_nothing(
    source: str, command: str, tmp_path: Path, hashing: None, warm_store: Path,
    locked_db: str, dropping_server: int,
) -> None:  # fmt: skip
    _copy_store(warm_store, tmp_path)
    before = _store_state(tmp_path)
    url, spec, words = {
        "locked": (locked_db, "table:feedback", ("database is locked",)),
        "dropped": (f"postgresql+psycopg://analyst:s3cret-pw@127.0.0.1:{dropping_server}/fb",
                    "table:feedback", ("analyst:***@127.0.0.1", "OperationalError")),
        "mid_read": (_feedback_db(tmp_path / "mid.sqlite"), MID_READ, ("integer overflow",)),
    }[source]  # fmt: skip
    out = tmp_path / "out"
    args = [
        command,
        spec,
        "--out",
        str(out),
        "--state-dir",
        str(tmp_path / "state"),
        "--config",
        str(tmp_path / "fast.toml"),
        "--quiet",
    ]
    code, _, stderr = _invoke(args, tmp_path, CX_TEXT_INGEST__SQL_URL=url)
    case = Case(source, spec, exit_code=2, words=("SQL input", spec.split(":")[0], *words))
    _check_error(case, code, stderr)
    assert "s3cret-pw" not in stderr
    assert _store_state(tmp_path) == before  # no run recorded, the watermark did not move
    assert not (out / "run.json").exists()


def test_sql_dropped_connection_through_a_real_process(
    tmp_path: Path, dropping_server: int
) -> None:
    url = f"postgresql+psycopg://analyst:s3cret-pw@127.0.0.1:{dropping_server}/fb"
    proc = _subprocess(["run", "table:feedback", "--out", str(tmp_path / "out"), "--state-dir",
                        str(tmp_path / "state"), "--quiet"], tmp_path,
                       CX_TEXT_INGEST__SQL_URL=url)  # fmt: skip
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "analyst:***@127.0.0.1" in lines[0], proc.stderr
    assert "s3cret-pw" not in proc.stderr + proc.stdout


def test_sql_source_read_in_full_when_healthy(tmp_path: Path, hashing: None) -> None:
    """The control for the failures above: the same database, unlocked, gives every row."""
    url = _feedback_db(tmp_path / "ok.sqlite")
    (tmp_path / "fast.toml").write_text(FAST_CONFIG)
    code, _, stderr = _invoke(["run", "table:feedback", "--out", str(tmp_path / "out"),
                               "--state-dir", str(tmp_path / "state"), "--config",
                               str(tmp_path / "fast.toml"), "--quiet"], tmp_path,
                              CX_TEXT_INGEST__SQL_URL=url)  # fmt: skip
    assert code == 0, stderr
    counts = json.loads((tmp_path / "out" / "run.json").read_text())["counts"]
    assert counts == {"read": 8, "themed": 8, "quarantined": 0, "duplicates": 0,
                      "non_answers": 0}  # fmt: skip


class _FailedState:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def result(self) -> None:
        raise self.error


def test_flow_retries_a_failing_source_but_not_a_broken_file() -> None:
    from cx_text.ingest import InputError, SourceError
    from pipelines.common import worth_retrying

    assert worth_retrying(None, None, _FailedState(SourceError("SQL input failed")))
    assert worth_retrying(None, None, _FailedState(OSError("network is unreachable")))
    assert not worth_retrying(None, None, _FailedState(InputError("empty.csv: file is empty")))


def test_bad_setting_from_the_environment_names_the_variable(tmp_path: Path) -> None:
    code, _, stderr = _invoke(["run", str(CORPUS / "good.csv"), "--out", str(tmp_path / "o")],
                              tmp_path, CX_TEXT_THEMES__RANDOM_STATE="seven")  # fmt: skip
    _check_error(Case("env", "good.csv", exit_code=2,
                      words=("CX_TEXT_THEMES__RANDOM_STATE", "themes.random_state", "seven")),
                 code, stderr)  # fmt: skip


def test_latin1_and_cp1251_are_told_apart() -> None:
    from cx_text.ingest import decode_bytes

    french = "façade fermée, très déçu du café".encode("latin-1")
    russian = "Доставку задержали, курьер вежливый".encode("cp1251")
    assert decode_bytes(french) == ("façade fermée, très déçu du café", "cp1252")
    assert decode_bytes(russian) == ("Доставку задержали, курьер вежливый", "cp1251")
