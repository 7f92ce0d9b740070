"""The store: an embedded DuckDB file by default, PostgreSQL (or any SQLAlchemy URL) by setting.

It holds verbatims, quarantine, run records, the embedding cache, the label parse cache,
assignments, the theme registry and source watermarks. Every write of a run happens inside one
`transaction()`, so a run that fails leaves the store as it was. The URL is a secret: it is never
printed or logged.
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

from cx_text.schemas import (
    ASSIGNMENTS,
    MENTIONS,
    QUARANTINE,
    RAW_TEXTS,
    VERBATIMS,
    TableSchema,
    segment_name,
)
from cx_text.settings import redact, safe_url

META = sa.MetaData()

_SQL_TYPES: dict[str, Any] = {"string": sa.String, "float": sa.Float, "int": sa.Integer,
                              "bool": sa.Boolean, "datetime": sa.DateTime}  # fmt: skip
# free text gets TEXT, not VARCHAR (PostgreSQL has no length limit on either; others may)
_TEXT_COLUMNS = {"text", "original", "raw_text", "sentence"}


def schema_table(
    schema: TableSchema,
    keys: tuple[str, ...] = (),
    only: tuple[str, ...] | None = None,
    extra: tuple[sa.Column, ...] = (),
    first: tuple[sa.Column, ...] = (),
) -> sa.Table:
    """The store table of a declared schema: `first`, its columns (or `only` these), `extra`."""
    columns = [
        sa.Column(c.name, sa.Text if c.name in _TEXT_COLUMNS else _SQL_TYPES[c.dtype],
                  primary_key=c.name in keys)
        for c in schema.columns if only is None or c.name in only
    ]  # fmt: skip
    return sa.Table(schema.name, META, *first, *columns, *extra)


VERBATIMS_TABLE = schema_table(
    VERBATIMS, keys=("verbatim_id",),
    extra=(sa.Column("segments", sa.Text),  # JSON object of segment columns
           sa.Column("run_id", sa.String)),
)  # fmt: skip
# unmasked texts, only with clean.keep_raw_text; nothing reads them back into a run's outputs
RAW_TEXTS_TABLE = schema_table(RAW_TEXTS, keys=("verbatim_id",))
QUARANTINE_TABLE = schema_table(QUARANTINE, first=(sa.Column("run_id", sa.String),))
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
# the label candidates spaCy found in a mention sentence (`cx_text.labels.Parses`), by the
# parser that found them (`labels.parser_id()`) and `labels.parse_key` of the exact sentence
LABEL_PARSES_TABLE = sa.Table(
    "label_parses",
    META,
    sa.Column("parser_id", sa.String, primary_key=True),
    sa.Column("sentence_hash", sa.String, primary_key=True),
    sa.Column("candidates", sa.Text),  # JSON list of phrases
)
ASSIGNMENTS_TABLE = schema_table(
    ASSIGNMENTS, keys=("verbatim_id",), only=("verbatim_id", "theme_id", "confidence"),
    extra=(sa.Column("model_version", sa.String), sa.Column("run_id", sa.String)),
)  # fmt: skip
MENTIONS_TABLE = schema_table(MENTIONS)
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
MEMORY = "duckdb:///:memory:"  # a store that lives as long as the process (`cx_text.analyze`)


class StoreError(RuntimeError):
    """The store cannot be opened (its URL is never part of the message)."""


class Store:
    """Reads and writes the project's tables through one SQLAlchemy engine."""

    def __init__(self, url: str) -> None:
        """Open (and create the tables of) the store at `url`.

        Raises:
            StoreError: the URL is malformed or the database unreachable (password never shown).
        """
        options: dict[str, Any] = {}
        if url == MEMORY:  # one database for every thread (a pool would open a new, empty one)
            options["poolclass"] = sa.pool.StaticPool
        elif url.startswith("duckdb:///"):
            Path(url.removeprefix("duckdb:///")).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine: Engine = sa.create_engine(url, **options)
            # one catalogue query on a store that has its tables (every run opens the store
            # twice; `create_all` asks once per table)
            if not set(META.tables) <= set(sa.inspect(self.engine).get_table_names()):
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
        segments = frame[[c for c in frame.columns if c not in _CORE]].astype(object)
        segments = segments.where(segments.notna(), None).map(lambda v: v if v is None else str(v))
        rows["segments"] = [json.dumps(s, ensure_ascii=False) for s in segments.to_dict("records")]
        rows["run_id"] = run_id
        _insert(conn, VERBATIMS_TABLE, rows)

    def save_raw_texts(self, conn: Connection, frame: pd.DataFrame) -> None:
        """Keep unmasked texts (RAW_TEXTS frame), replacing stored rows with the same id."""
        if frame.empty:
            return
        _delete_keys(conn, RAW_TEXTS_TABLE, "verbatim_id", frame["verbatim_id"])
        _insert(conn, RAW_TEXTS_TABLE, frame[["verbatim_id", "raw_text"]])

    def load_verbatims(
        self, since: pd.Timestamp | None = None, ids: Iterable[str] | None = None
    ) -> pd.DataFrame:
        """All stored verbatims (optionally created at or after `since`, or those among `ids`),
        segments expanded."""
        table = VERBATIMS_TABLE
        with self.engine.connect() as conn:
            if ids is not None:
                frame = _select_in(conn, table, "verbatim_id", list(dict.fromkeys(ids)))
                frame = frame.sort_values("verbatim_id", ignore_index=True)
            else:
                query = sa.select(table)
                if since is not None:
                    query = query.where(table.c.created_at >= since.to_pydatetime())
                frame = _read(conn, query.order_by(table.c.verbatim_id))
        # a segment stored by an older cx-text under a product column's name is kept apart now
        segments = pd.DataFrame([{segment_name(k): v for k, v in json.loads(s or "{}").items()}
                                 for s in frame["segments"]])  # fmt: skip
        frame = frame.drop(columns=["segments", "run_id"])
        frame = pd.concat([frame, segments.set_index(frame.index)], axis=1)
        return VERBATIMS.conform(frame)

    def known_verbatims(self, ids: Iterable[str]) -> pd.DataFrame:
        """verbatim_id and (masked) text of stored verbatims among `ids`."""
        table = VERBATIMS_TABLE
        with self.engine.connect() as conn:
            return _select_in(conn, table, "verbatim_id", list(ids),
                              [table.c.verbatim_id, table.c.text])  # fmt: skip

    def verbatims_by_hash(self, hashes: Iterable[str]) -> pd.DataFrame:
        """verbatim_id, text, text_hash, created_at, customer_id and score of stored verbatims
        whose `text_hash` is among `hashes` (`clean.adopt_content_matches`)."""
        table = VERBATIMS_TABLE
        columns = [table.c[c] for c in ("verbatim_id", "text", "text_hash", "created_at",
                                        "customer_id", "score")]  # fmt: skip
        with self.engine.connect() as conn:
            return _select_in(conn, table, "text_hash", list(dict.fromkeys(hashes)), columns)

    def append_quarantine(self, conn: Connection, frame: pd.DataFrame, run_id: str) -> None:
        """Record quarantined rows; a row already recorded (same original values) is replaced."""
        if frame.empty:
            return
        _delete_keys(conn, QUARANTINE_TABLE, "original", frame["original"])
        _insert(conn, QUARANTINE_TABLE, frame.assign(run_id=run_id))

    def record_run(self, conn: Connection, record: dict[str, Any]) -> None:
        row = {
            "run_id": record["run_id"],
            "kind": record["kind"],
            "started_at": pd.Timestamp(record["started_at"]).to_pydatetime(),
            "finished_at": pd.Timestamp(record["finished_at"]).to_pydatetime(),
            "record": json.dumps(record, default=str),
        }
        conn.execute(RUNS_TABLE.insert(), [row])

    def runs(self, newest: int | None = None) -> pd.DataFrame:
        """Run records, oldest first; with `newest`, only that many of the latest."""
        query = sa.select(RUNS_TABLE).order_by(RUNS_TABLE.c.started_at.desc())
        if newest is not None:
            query = query.limit(newest)
        with self.engine.connect() as conn:
            return pd.read_sql(query, conn).iloc[::-1].reset_index(drop=True)

    # ----------------------------------------------------------------------- embedding cache

    def load_embeddings(self, model_id: str, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        """Cached vectors for (model_id, text_hash) pairs that exist."""
        table = EMBEDDINGS_TABLE
        with self.engine.connect() as conn:
            rows = _select_in(conn, table, "text_hash", sorted(set(hashes)),
                              [table.c.text_hash, table.c.vector],
                              table.c.model_id == model_id)  # fmt: skip
        return dict(zip(rows["text_hash"], map(decode_vector, rows["vector"]), strict=True))

    def save_embeddings(
        self, conn: Connection, model_id: str, hashes: list[str], vectors: np.ndarray
    ) -> None:
        if len(hashes) != len(vectors):
            raise ValueError("hashes and vectors differ in length")
        _delete_keys(
            conn,
            EMBEDDINGS_TABLE,
            "text_hash",
            pd.Series(hashes),
            EMBEDDINGS_TABLE.c.model_id == model_id,
        )
        for start in range(0, len(hashes), 50_000):  # blobs built per chunk, not all at once
            part = slice(start, start + 50_000)
            rows = pd.DataFrame({"model_id": model_id, "text_hash": hashes[part],
                                 "vector": [encode_vector(v) for v in vectors[part]]})  # fmt: skip
            _insert(conn, EMBEDDINGS_TABLE, rows)

    # ----------------------------------------------------------------------- label parse cache

    def load_label_parses(self, parser_id: str, keys: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """Stored label candidates of the sentences with these `parse_key`s, parsed by
        `parser_id` (parses of any other parser are never returned)."""
        table = LABEL_PARSES_TABLE
        with self.engine.connect() as conn:
            rows = _select_in(conn, table, "sentence_hash", sorted(set(keys)),
                              [table.c.sentence_hash, table.c.candidates],
                              table.c.parser_id == parser_id)  # fmt: skip
        found = zip(rows["sentence_hash"], rows["candidates"], strict=True)
        return {key: tuple(json.loads(phrases)) for key, phrases in found}

    def save_label_parses(
        self, conn: Connection, parser_id: str, parses: dict[str, tuple[str, ...]]
    ) -> None:
        """Keep label candidates by sentence `parse_key`, replacing stored ones of `parser_id`."""
        if not parses:
            return
        keys = pd.Series(list(parses), dtype=object)
        _delete_keys(conn, LABEL_PARSES_TABLE, "sentence_hash", keys,
                     LABEL_PARSES_TABLE.c.parser_id == parser_id)  # fmt: skip
        rows = pd.DataFrame({"parser_id": parser_id, "sentence_hash": keys,
                             "candidates": [json.dumps(list(c), ensure_ascii=False)
                                            for c in parses.values()]})  # fmt: skip
        _insert(conn, LABEL_PARSES_TABLE, rows)

    # ----------------------------------------------------------------------- key/value tables

    def replace_rows(self, conn: Connection, name: str, key: str, frame: pd.DataFrame) -> None:
        """Upsert rows of table `name` by the `key` column."""
        table = META.tables[name]
        if frame.empty:
            return
        _delete_keys(conn, table, key, frame[key])
        _insert(conn, table, frame)

    def frame(self, name: str, ids: Iterable[str] | None = None) -> pd.DataFrame:
        """Rows of table `name`, optionally only those whose verbatim_id is in `ids`."""
        table = META.tables[name]
        with self.engine.connect() as conn:
            if ids is None:
                return _read(conn, sa.select(table))
            return _select_in(conn, table, "verbatim_id", list(ids))

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


def _duckdb(conn: Connection) -> Any | None:
    """The DuckDB connection under `conn` (same transaction), or None for other databases.

    DuckDB takes whole DataFrames (registered as views) far faster than row-by-row
    executemany, so bulk reads and writes go that way there; other databases use SQLAlchemy.
    """
    if conn.dialect.name != "duckdb":
        return None
    return conn.connection.driver_connection


def _sql_type(conn: Connection, column: sa.Column) -> str:
    return column.type.compile(dialect=conn.dialect)


@contextmanager
def _registered(duck: Any, frame: pd.DataFrame) -> Iterator[str]:
    """`frame` visible to DuckDB as a view for the duration of the block."""
    name = "_cx_frame"
    duck.register(name, frame)
    try:
        yield name
    finally:
        duck.unregister(name)


def _read(conn: Connection, query: sa.Select) -> pd.DataFrame:
    """The result of `query` as a DataFrame (DuckDB hands it over column-wise)."""
    duck = _duckdb(conn)
    if duck is None:
        return pd.read_sql(query, conn)
    compiled = query.compile(dialect=conn.dialect)
    params = [compiled.params[name] for name in compiled.positiontup or []]
    frame = duck.execute(compiled.string, params).df()
    for name in frame.columns:  # as SQLAlchemy gives them: bytes, not bytearray; float64
        column = frame[name]
        if column.dtype == np.float32:
            frame[name] = column.astype(np.float64)
        elif column.dtype == object and isinstance(_first(column), bytearray):
            frame[name] = [None if v is None else bytes(v) for v in column]
    return frame


def _first(column: pd.Series) -> Any:
    present = column.dropna()
    return present.iloc[0] if len(present) else None


def _select_in(
    conn: Connection,
    table: sa.Table,
    key: str,
    values: list[Any],
    columns: list[sa.Column] | None = None,
    extra: sa.ColumnElement[bool] | None = None,
) -> pd.DataFrame:
    """Rows of `table` whose `key` is among `values` (and `extra` holds)."""
    columns = columns if columns is not None else list(table.columns)
    duck = _duckdb(conn)
    if duck is not None and values:
        keys = pd.DataFrame({"k": pd.Series(values, dtype=object).astype(str)})
        with _registered(duck, keys) as view:
            query = sa.select(*columns).where(
                table.c[key].in_(sa.select(sa.column("k")).select_from(sa.table(view)))
            )
            if extra is not None:
                query = query.where(extra)
            return _read(conn, query)
    parts = []
    for chunk in _chunks(values):
        query = sa.select(*columns).where(table.c[key].in_(chunk))
        parts.append(_read(conn, query if extra is None else query.where(extra)))
    if parts:
        return pd.concat(parts, ignore_index=True)
    return _read(conn, sa.select(*columns).where(sa.false()))


def _delete_keys(
    conn: Connection,
    table: sa.Table,
    key: str,
    values: pd.Series,
    extra: sa.ColumnElement[bool] | None = None,
) -> None:
    unique = values.astype(str).unique().tolist()
    duck = _duckdb(conn)
    if duck is not None and unique:
        with _registered(duck, pd.DataFrame({"k": pd.Series(unique, dtype=object)})) as view:
            keys: sa.Select[Any] = sa.select(sa.column("k")).select_from(sa.table(view))
            conn.execute(table.delete().where(_and(table.c[key].in_(keys), extra)))
        return
    for chunk in _chunks(unique):
        conn.execute(table.delete().where(_and(table.c[key].in_(chunk), extra)))


def _and(
    condition: sa.ColumnElement[bool], extra: sa.ColumnElement[bool] | None
) -> sa.ColumnElement[bool]:
    return condition if extra is None else sa.and_(condition, extra)


def _insert(conn: Connection, table: sa.Table, frame: pd.DataFrame) -> None:
    """Insert the rows of `frame` (columns it lacks are NULL) into `table`."""
    if frame.empty:
        return
    cols = [c.name for c in table.columns]
    rows = frame.reindex(columns=cols).astype(object)
    rows = rows.where(rows.notna(), None)
    duck = _duckdb(conn)
    if duck is not None:
        casts = ", ".join(f'CAST("{c.name}" AS {_sql_type(conn, c)})' for c in table.columns)
        names = ", ".join(f'"{c}"' for c in cols)
        with _registered(duck, rows) as view:
            duck.execute(f'INSERT INTO "{table.name}" ({names}) SELECT {casts} FROM {view}')
        return
    records = rows.to_dict("records")
    for start in range(0, len(records), 2000):
        conn.execute(table.insert(), records[start : start + 2000])
