"""Personal data and secrets never leave a run: every output file, the store, the models, the
webhook payload, stdout/stderr and the log of a `cx-text run` over PII-laden data read through a
SQL URL with a password are scanned for the raw values, the password and the webhook URL."""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from cx_text import ingest, theming
from cx_text.cli import app
from cx_text.settings import load_settings, redact, safe_url
from cx_text.store import Store, StoreError
from tests.conftest import HashingEmbedder
from tests.pii_samples import CONTACT_EMAIL, pii_feedback, raw_values

PASSWORD = "Pw-" + uuid.uuid4().hex[:12]
PG_URL = os.environ.get("CX_TEXT_TEST_PG_URL")
runner = CliRunner()


class _Hook(BaseHTTPRequestHandler):
    bodies: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        type(self).bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def webhook() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/T0KEN-{uuid.uuid4().hex[:10]}"
    finally:
        server.shutdown()
        server.server_close()


def _with_password(url: str) -> str:
    """The test server's URL with a user and password (the server trusts any password)."""
    head, rest = url.split("://", 1)
    host = rest.split("@", 1)[-1]
    return f"{head}://postgres:{PASSWORD}@{host}"


@dataclass
class Sources:
    sql_url: str
    store_url: str | None
    cleanup: list[Any] = field(default_factory=list)


def _sources(tmp: Path) -> Sources:
    """The PII table behind a URL holding PASSWORD: a fresh PostgreSQL database when the test
    server is up (also used as the store), else SQLite with the password in the URL's query."""
    table = pii_feedback()
    if not PG_URL:
        path = tmp / "feedback.sqlite"
        url = f"sqlite:///file:{path}?uri=true&password={PASSWORD}"
        table.to_sql("feedback", sa.create_engine(f"sqlite:///{path}"), index=False)
        return Sources(url, None)
    name = f"cx_privacy_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    url = _with_password(PG_URL.rsplit("/", 1)[0] + f"/{name}")
    engine = sa.create_engine(url)
    table.to_sql("feedback", engine, index=False)
    engine.dispose()

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()

    return Sources(url, url, [drop])


@dataclass
class Run:
    out: Path
    root: Path
    store_url: str
    webhook_url: str
    output: str
    log: str
    code: int


@pytest.fixture(scope="module")
def pii_run(tmp_path_factory: pytest.TempPathFactory, webhook: str) -> Iterator[Run]:
    root = tmp_path_factory.mktemp("privacy")
    sources = _sources(tmp_path_factory.mktemp("source"))  # outside the scanned folder
    config = root / "cx-text.toml"
    config.write_text(
        f'state_dir = "{root / "state"}"\nmodels_dir = "{root / "models"}"\n'
        f'overrides_file = "{root / "themes.yaml"}"\nlanguage = "en"\n'
        "[themes]\nmin_cluster_size = 5\n[embedding]\nshow_progress = false\n"
        "[nps]\nbootstrap_samples = 100\n"
    )
    embedder = HashingEmbedder()
    handler = _Capture()
    logging.getLogger().addHandler(handler)
    previous = logging.getLogger().level, logging.getLogger("cx_text").level
    logging.getLogger().setLevel(logging.INFO)
    logging.getLogger("cx_text").setLevel(logging.DEBUG)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(theming, "make_embedder", lambda model, settings: embedder)
            mp.setenv("CX_TEXT_INGEST__SQL_URL", sources.sql_url)
            mp.setenv("CX_TEXT_REPORT__WEBHOOK_URL", webhook)
            if sources.store_url:
                mp.setenv("CX_TEXT_STORE_URL", sources.store_url)
            result = runner.invoke(app, ["run", "sql:SELECT * FROM feedback", "--out",
                                         str(root / "out"), "--config", str(config)])  # fmt: skip
        store_url = sources.store_url or f"duckdb:///{root / 'state' / 'store.duckdb'}"
        output = result.output + (result.stderr if result.stderr_bytes is not None else "")
        if result.exception and not isinstance(result.exception, SystemExit):
            output += repr(result.exception)
        yield Run(root / "out", root, store_url, webhook, output, "\n".join(handler.lines),
                  result.exit_code)  # fmt: skip
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(previous[0])
        logging.getLogger("cx_text").setLevel(previous[1])
        for step in sources.cleanup:
            step()


class _Capture(logging.Handler):
    """Every log record of the run, formatted with its arguments and any traceback."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def _store_text(url: str) -> str:
    """Every row of every table of the store, as text (the source table `feedback` excepted:
    on PostgreSQL the store and the source share a database)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            tables = [t for t in sa.inspect(conn).get_table_names() if t != "feedback"]
            frames = [pd.read_sql(sa.text(f'SELECT * FROM "{t}"'), conn) for t in tables]
    finally:
        engine.dispose()
    assert {"verbatims", "quarantine", "runs", "mentions", "themes"} <= set(tables)
    return "\n".join(f.to_csv(index=False) for f in frames)


def _file_texts(folder: Path) -> dict[str, str]:
    """Each file under `folder` as text: raw bytes decoded, plus tables read back as CSV."""
    texts = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        text = path.read_bytes().decode("utf-8", errors="replace")
        if path.suffix == ".parquet":
            text += pd.read_parquet(path).to_csv(index=False)
        elif path.suffix == ".xlsx":
            text += pd.read_excel(path).to_csv(index=False)
        texts[str(path.relative_to(folder))] = text
    return texts


def _leaks(texts: dict[str, str], secrets: list[str]) -> dict[str, list[str]]:
    found = {name: [s for s in secrets if s in text] for name, text in texts.items()}
    return {name: values for name, values in found.items() if values}


def test_the_run_succeeds_fires_an_alert_and_masks(pii_run: Run) -> None:
    assert pii_run.code == 0, pii_run.output
    record = json.loads((pii_run.out / "run.json").read_text())
    assert record["counts"]["quarantined"] == 1 and record["alerts"] >= 1
    assert record["webhook"] == "HTTP 200" and _Hook.bodies
    verbatims = pd.read_parquet(pii_run.out / "verbatims.parquet")
    joined = " ".join(verbatims["text"])
    for token in ("[EMAIL]", "[PHONE]", "[CARD]", "[IBAN]", "[ACCOUNT]", "[SNILS]"):
        assert token in joined
    assert set(verbatims["contact"]) == {"[EMAIL]"}  # a text segment column is masked too
    assert "[EMAIL]" in pd.read_csv(pii_run.out / "quarantine.csv")["original"].iloc[0]


def test_no_output_store_model_log_or_webhook_holds_personal_data(pii_run: Run) -> None:
    texts = {**_file_texts(pii_run.root), "store tables": _store_text(pii_run.store_url),
             "stdout+stderr": pii_run.output, "log": pii_run.log,
             "webhook payloads": b"\n".join(_Hook.bodies).decode()}  # fmt: skip
    names = set(texts)
    for expected in ("out/report.html", "out/report.md", "out/alerts.md", "out/alerts.json",
                     "out/themes.xlsx", "out/verbatims.parquet", "out/quarantine.csv",
                     "out/backlog.json", "out/followup.csv", "out/mentions.csv"):  # fmt: skip
        assert expected in names
    assert len(pii_run.log) > 0 and "@example" not in texts["out/verbatims.parquet"]
    assert _leaks(texts, raw_values()) == {}


def test_no_output_store_model_or_log_holds_a_secret(pii_run: Run) -> None:
    texts = {**_file_texts(pii_run.root), "store tables": _store_text(pii_run.store_url),
             "stdout+stderr": pii_run.output, "log": pii_run.log}  # fmt: skip
    token = pii_run.webhook_url.rsplit("/", 1)[-1]
    assert _leaks(texts, [PASSWORD, pii_run.webhook_url, token]) == {}


def test_raw_text_is_kept_only_in_the_store_when_allowed(tmp_path: Path) -> None:
    from cx_text import job

    data = tmp_path / "in.csv"
    pii_feedback().to_csv(data, index=False)
    settings = load_settings(None, state_dir=tmp_path / "state", models_dir=tmp_path / "models",
                             overrides_file=tmp_path / "none.yaml", language="en",
                             clean={"keep_raw_text": True}, themes={"min_cluster_size": 5},
                             nps={"bootstrap_samples": 50})  # fmt: skip
    embedder = HashingEmbedder()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(theming, "make_embedder", lambda model, s: embedder)
        job.run([str(data)], tmp_path / "out", settings)
    store = Store(settings.store_url_value)
    try:
        raw = store.frame("raw_texts")
    finally:
        store.close()
    assert raw["raw_text"].str.contains("anna.k@example.com", regex=False).any()
    outputs = _file_texts(tmp_path / "out")
    assert _leaks(outputs, ["anna.k@example.com", "4111 1111 1111 1111"]) == {}
    default = load_settings(None)
    assert default.clean.keep_raw_text is False


def test_sql_and_store_errors_never_show_the_password(tmp_path: Path) -> None:
    data = tmp_path / "in.csv"
    pii_feedback().head(5).to_csv(data, index=False)
    unreachable = f"postgresql+psycopg://analyst:{PASSWORD}@127.0.0.1:1/feedback"
    malformed = f"postgresql+psycopg://analyst:{PASSWORD}@127.0.0.1:notaport/feedback"
    cases = [
        ({"CX_TEXT_INGEST__SQL_URL": unreachable}, ["run", "sql:SELECT 1"]),
        ({"CX_TEXT_INGEST__SQL_URL": malformed}, ["run", "table:feedback"]),
        ({"CX_TEXT_STORE_URL": unreachable}, ["run", str(data)]),
        ({"CX_TEXT_STORE_URL": malformed}, ["run", str(data)]),
        ({"CX_TEXT_STORE_URL": f"nosuchdb://analyst:{PASSWORD}@host/x"}, ["run", str(data)]),
    ]
    for env, args in cases:
        result = runner.invoke(app, [*args, "--out", str(tmp_path / "o"), "--state-dir",
                                     str(tmp_path / "s"), "--quiet"], env=env)  # fmt: skip
        assert result.exit_code == 2, (env, result.output)
        assert PASSWORD not in result.output and "Traceback" not in result.output
        assert "analyst:***@" in result.output or "nosuchdb" in result.output
    with pytest.raises(StoreError) as error:
        Store(malformed)
    assert PASSWORD not in str(error.value) and error.value.__cause__ is None
    with pytest.raises(ingest.InputError) as failed:
        ingest.read_input("sql:SELECT 1", unreachable)
    assert PASSWORD not in str(failed.value) and failed.value.__suppress_context__


def test_redact_and_safe_url() -> None:
    url = "postgresql://user:p%40ss-word@db:5432/x"
    assert safe_url(url) == "postgresql://user:***@db:5432/x"
    assert redact(f"failed {url} with p@ss-word and p%40ss-word", url) == (
        "failed *** with *** and ***"
    )
    hook = "https://hooks.example/services/T0/B0/XYZ"
    assert redact(f"posting to {hook} failed", hook) == "posting to *** failed"
    assert CONTACT_EMAIL  # the generator's constants are importable


def test_a_prefect_secret_block_names_the_webhook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the ephemeral Prefect API: a flow's settings read the webhook from a Secret block."""
    from prefect.blocks.system import Secret

    from pipelines.common import settings_for

    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    hook = f"https://hooks.example/services/{uuid.uuid4().hex}"
    Secret(value=hook).save("cx-text-test-webhook", overwrite=True)
    config = tmp_path / "cx.toml"
    config.write_text('[report]\nwebhook_secret_block = "cx-text-test-webhook"\n')
    settings = settings_for(str(config))
    assert settings.report.webhook_url is not None
    assert settings.report.webhook_url.get_secret_value() == hook
    assert hook not in repr(settings) and hook not in settings.model_dump_json()
    assert load_settings(config).report.webhook_url is None  # the CLI does not read blocks
    config.write_text('[report]\nwebhook_secret_block = "no-such-block"\n')
    with pytest.raises(ingest.InputError, match="no-such-block"):
        settings_for(str(config))
