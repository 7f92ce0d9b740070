"""The store: an embedded DuckDB file by default, PostgreSQL (or any SQLAlchemy URL) by setting.

It holds verbatims, quarantine, run records, the embedding cache, assignments, the theme registry
and source watermarks. Every write of a run happens inside one `transaction()`, so a run that fails
leaves the store as it was. The URL is a secret: it is never printed or logged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from cx_text.schemas import VERBATIMS
from cx_text.settings import redact, safe_url

META = sa.MetaData()

VERBATIMS_TABLE = sa.Table(
    "verbatims",
    META,
    sa.Column("verbatim_id", sa.String, primary_key=True),
    sa.Column("source", sa.String),
    sa.Column("text", sa.Text),
    sa.Column("score", sa.Float),
    sa.Column("scale", sa.String),
    sa.Column("role", sa.String),
    sa.Column("created_at", sa.DateTime),
    sa.Column("customer_id", sa.String),
    sa.Column("touchpoint", sa.String),
    sa.Column("channel", sa.String),
    sa.Column("language", sa.String),
    sa.Column("is_non_answer", sa.Boolean),
    sa.Column("is_long", sa.Boolean),
    sa.Column("text_hash", sa.String),
    sa.Column("segments", sa.Text),  # JSON object of segment columns
    sa.Column("run_id", sa.String),
)
# unmasked texts, only with clean.keep_raw_text; nothing reads them back into a run's outputs
RAW_TEXTS_TABLE = sa.Table(
    "raw_texts",
    META,
    sa.Column("verbatim_id", sa.String, primary_key=True),
    sa.Column("raw_text", sa.Text),
)
QUARANTINE_TABLE = sa.Table(
    "quarantine",
    META,
    sa.Column("run_id", sa.String),
    sa.Column("input_file", sa.String),
    sa.Column("row_number", sa.Integer),
    sa.Column("reason", sa.String),
    sa.Column("detail", sa.String),
    sa.Column("verbatim_id", sa.String),
    sa.Column("original", sa.Text),
)
RUNS_TABLE = sa.Table(
    "runs",
    META,
    sa.Column("run_id", sa.String, primary_key=True),
    sa.Column("kind", sa.String),
    sa.Column("started_at", sa.DateTime),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("record", sa.Text),  # the run.json document
)
EMBEDDINGS_TABLE = sa.Table(
    "embeddings",
    META,
    sa.Column("model_id", sa.String, primary_key=True),
    sa.Column("text_hash", sa.String, primary_key=True),
    sa.Column("vector", sa.LargeBinary),
)
ASSIGNMENTS_TABLE = sa.Table(
    "assignments",
    META,
    sa.Column("verbatim_id", sa.String, primary_key=True),
    sa.Column("theme_id", sa.String),
    sa.Column("confidence", sa.Float),
    sa.Column("model_version", sa.String),
    sa.Column("run_id", sa.String),
)
MENTIONS_TABLE = sa.Table(
    "mentions",
    META,
    sa.Column("verbatim_id", sa.String),
    sa.Column("theme_id", sa.String),
    sa.Column("sentence", sa.Text),
    sa.Column("confidence", sa.Float),
)
THEMES_TABLE = sa.Table(
    "themes",
    META,
    sa.Column("theme_id", sa.String, primary_key=True),
    sa.Column("label", sa.String),
    sa.Column("status", sa.String),
    sa.Column("first_seen", sa.DateTime),
    sa.Column("last_seen", sa.DateTime),
    sa.Column("record", sa.Text),  # JSON: keywords, parent, history
    sa.Column("centroid", sa.LargeBinary),
)
WATERMARKS_TABLE = sa.Table(
    "watermarks",
    META,
    sa.Column("source", sa.String, primary_key=True),
    sa.Column("value", sa.String),
)

_CORE = [c for c in VERBATIMS.names]
_CHUNK = 500
FLOAT16_MAGIC = b"F16\x00"  # prefix of embedding blobs stored as float16


class StoreError(RuntimeError):
    """The store cannot be opened (its URL is never part of the message)."""


class Store:
    """Reads and writes the project's tables through one SQLAlchemy engine."""

    def __init__(self, url: str) -> None:
        """Open (and create the tables of) the store at `url`.

        Raises:
            StoreError: the URL is malformed or the database unreachable (password never shown).
        """
        if url.startswith("duckdb:///"):
            Path(url.removeprefix("duckdb:///")).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine: Engine = sa.create_engine(url)
            META.create_all(self.engine)
        except (sa.exc.SQLAlchemyError, ValueError, ImportError) as exc:
            message = f"store not usable at {safe_url(url)}: {exc.__class__.__name__}: {exc}"
            raise StoreError(redact(message, url)) from None

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)})"

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One atomic unit of work: committed on success, rolled back on any error."""
        with self.engine.begin() as conn:
            yield conn

    # ----------------------------------------------------------------------- verbatims

    def upsert_verbatims(self, conn: Connection, frame: pd.DataFrame, run_id: str) -> None:
        """Insert verbatims, replacing stored rows with the same id."""
        if frame.empty:
            return
        _delete_keys(conn, VERBATIMS_TABLE, "verbatim_id", frame["verbatim_id"])
        rows = frame[_CORE].astype(object).where(frame[_CORE].notna(), None)
        segment_cols = [c for c in frame.columns if c not in _CORE]
        records = rows.to_dict("records")
        for record, (_, seg) in zip(records, frame[segment_cols].iterrows(), strict=True):
            record["segments"] = json.dumps(
                {k: (None if pd.isna(v) else str(v)) for k, v in seg.items()}, ensure_ascii=False
            )
            record["run_id"] = run_id
        _insert(conn, VERBATIMS_TABLE, records)

    def save_raw_texts(self, conn: Connection, frame: pd.DataFrame) -> None:
        """Keep unmasked texts (RAW_TEXTS frame), replacing stored rows with the same id."""
        if frame.empty:
            return
        _delete_keys(conn, RAW_TEXTS_TABLE, "verbatim_id", frame["verbatim_id"])
        rows = frame[["verbatim_id", "raw_text"]].astype(object).to_dict("records")
        _insert(conn, RAW_TEXTS_TABLE, rows)

    def load_verbatims(self, since: pd.Timestamp | None = None) -> pd.DataFrame:
        """All stored verbatims (optionally created at or after `since`), segments expanded."""
        query = sa.select(VERBATIMS_TABLE)
        if since is not None:
            query = query.where(VERBATIMS_TABLE.c.created_at >= since.to_pydatetime())
        with self.engine.connect() as conn:
            frame = pd.read_sql(query.order_by(VERBATIMS_TABLE.c.verbatim_id), conn)
        segments = pd.DataFrame([json.loads(s or "{}") for s in frame["segments"]])
        frame = frame.drop(columns=["segments", "run_id"])
        frame = pd.concat([frame, segments.set_index(frame.index)], axis=1)
        return VERBATIMS.conform(frame)

    def known_verbatims(self, ids: Iterable[str]) -> pd.DataFrame:
        """verbatim_id and text_hash of stored verbatims among `ids`."""
        table = VERBATIMS_TABLE
        out = []
        with self.engine.connect() as conn:
            for chunk in _chunks(list(ids)):
                query = sa.select(table.c.verbatim_id, table.c.text_hash).where(
                    table.c.verbatim_id.in_(chunk)
                )
                out.append(pd.read_sql(query, conn))
        return pd.concat(out) if out else pd.DataFrame(columns=["verbatim_id", "text_hash"])

    def append_quarantine(self, conn: Connection, frame: pd.DataFrame, run_id: str) -> None:
        """Record quarantined rows; a row already recorded (same original values) is replaced."""
        if frame.empty:
            return
        _delete_keys(conn, QUARANTINE_TABLE, "original", frame["original"])
        rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
        _insert(conn, QUARANTINE_TABLE, [{**r, "run_id": run_id} for r in rows])

    def record_run(self, conn: Connection, record: dict[str, Any]) -> None:
        _insert(
            conn,
            RUNS_TABLE,
            [
                {
                    "run_id": record["run_id"],
                    "kind": record["kind"],
                    "started_at": pd.Timestamp(record["started_at"]).to_pydatetime(),
                    "finished_at": pd.Timestamp(record["finished_at"]).to_pydatetime(),
                    "record": json.dumps(record, default=str),
                }
            ],
        )

    def runs(self) -> pd.DataFrame:
        with self.engine.connect() as conn:
            return pd.read_sql(sa.select(RUNS_TABLE).order_by(RUNS_TABLE.c.started_at), conn)

    # ----------------------------------------------------------------------- embedding cache

    def load_embeddings(self, model_id: str, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        """Cached vectors for (model_id, text_hash) pairs that exist."""
        table = EMBEDDINGS_TABLE
        found: dict[str, np.ndarray] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(sorted(set(hashes))):
                query = sa.select(table.c.text_hash, table.c.vector).where(
                    (table.c.model_id == model_id) & table.c.text_hash.in_(chunk)
                )
                for text_hash, blob in conn.execute(query):
                    found[text_hash] = decode_vector(blob)
        return found

    def save_embeddings(
        self, conn: Connection, model_id: str, hashes: list[str], vectors: np.ndarray
    ) -> None:
        _delete_keys(
            conn,
            EMBEDDINGS_TABLE,
            "text_hash",
            pd.Series(hashes),
            EMBEDDINGS_TABLE.c.model_id == model_id,
        )
        if len(hashes) != len(vectors):
            raise ValueError("hashes and vectors differ in length")
        for start in range(0, len(hashes), 2000):  # blobs built per chunk, not all at once
            rows = [
                {"model_id": model_id, "text_hash": h, "vector": encode_vector(v)}
                for h, v in zip(hashes[start : start + 2000], vectors[start : start + 2000],
                                strict=True)
            ]  # fmt: skip
            _insert(conn, EMBEDDINGS_TABLE, rows)

    # ----------------------------------------------------------------------- key/value tables

    def replace_rows(self, conn: Connection, name: str, key: str, frame: pd.DataFrame) -> None:
        """Upsert rows of table `name` by the `key` column."""
        table = META.tables[name]
        if frame.empty:
            return
        _delete_keys(conn, table, key, frame[key])
        cols = [c.name for c in table.columns]
        rows = frame.reindex(columns=cols).astype(object)
        _insert(conn, table, rows.where(rows.notna(), None).to_dict("records"))

    def frame(self, name: str, ids: Iterable[str] | None = None) -> pd.DataFrame:
        """Rows of table `name`, optionally only those whose verbatim_id is in `ids`."""
        table = META.tables[name]
        with self.engine.connect() as conn:
            if ids is None:
                return pd.read_sql(sa.select(table), conn)
            parts = [
                pd.read_sql(sa.select(table).where(table.c.verbatim_id.in_(chunk)), conn)
                for chunk in _chunks(list(ids))
            ]
        return pd.concat(parts, ignore_index=True) if parts else self.frame(name).iloc[0:0]

    def registry(self) -> pd.DataFrame:
        """The theme registry (see cx_text.registry)."""
        return self.frame("themes")

    def save_registry(self, conn: Connection, registry: pd.DataFrame) -> None:
        self.replace_rows(conn, "themes", "theme_id", registry)

    def watermark(self, source: str) -> str | None:
        with self.engine.connect() as conn:
            query = sa.select(WATERMARKS_TABLE.c.value).where(WATERMARKS_TABLE.c.source == source)
            return conn.execute(query).scalar_one_or_none()

    def set_watermark(self, conn: Connection, source: str, value: str) -> None:
        self.replace_rows(
            conn, "watermarks", "source", pd.DataFrame({"source": [source], "value": [value]})
        )


def encode_vector(vector: np.ndarray) -> bytes:
    """A cached vector as stored: the float16 magic, then little-endian float16 values."""
    return FLOAT16_MAGIC + np.asarray(vector, dtype="<f2").tobytes()


def decode_vector(blob: bytes) -> np.ndarray:
    """A cached vector as float32; blobs without the magic are the older raw float32 ones.

    Raw float32 blobs cannot start with the magic in practice: read as float32 its 4 bytes are
    a denormal (~5e-39), which no embedding component equals.
    """
    if blob[:4] == FLOAT16_MAGIC:
        return np.frombuffer(blob, dtype="<f2", offset=4).astype(np.float32)
    return np.frombuffer(blob, dtype=np.float32)


def _chunks(items: list[Any], size: int = _CHUNK) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _delete_keys(
    conn: Connection,
    table: sa.Table,
    key: str,
    values: pd.Series,
    extra: sa.ColumnElement[bool] | None = None,
) -> None:
    for chunk in _chunks(values.astype(str).unique().tolist()):
        condition: sa.ColumnElement[bool] = table.c[key].in_(chunk)
        if extra is not None:
            condition = condition & extra
        conn.execute(table.delete().where(condition))


def _insert(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    for chunk in _chunks(rows, 2000):
        if chunk:
            conn.execute(table.insert(), chunk)
