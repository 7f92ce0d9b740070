"""The stages of a job, declared as data, and the typed state that travels through them.

A `Stage` is a name, a function `fn(context, state) -> the fields it adds` and how an
orchestrator should run it (retries; whether it fans out chunk tasks itself). `RunContext` holds
what a run is given and the services it uses (settings, the store, the embedding cache); the
frozen `RunState` holds what the stages have produced so far. A runner (the CLI's `Timer`, or
the Prefect adapter in `pipelines/common.py`) walks a list of stages: it calls each stage and
returns `replace(state, **added)`. Stage functions only wire library functions together.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cx_text import (
    analytics,
    catalog,
    clean,
    compare,
    facets,
    ingest,
    labels,
    linking,
    models,
    notify,
    overrides,
    pii,
    polarity,
    polarity_cascade,
    rank,
    records,
    registry,
    report,
    run_polarity,
    theme_tables,
    theming,
)
from cx_text.analytics import Analytics
from cx_text.clean import hash_order, text_hash
from cx_text.embed import Embedder, pooled_by_sentence
from cx_text.embedding_cache import EmbeddingCache
from cx_text.parallel import FanOut, one_blas_thread
from cx_text.report import ReportBundle
from cx_text.run_polarity import Scored
from cx_text.schemas import ASSIGNMENTS, MENTIONS, QUARANTINE, RAW_TEXTS, UNCLASSIFIED, VERBATIMS
from cx_text.settings import Settings
from cx_text.store import Store
from cx_text.theme_tables import Discovery, SavedThemes

if TYPE_CHECKING:
    from cx_text.runner import Timer

log = logging.getLogger("cx_text")


@dataclass(frozen=True)
class Window:
    """The verbatims a run's figures are computed on, with their themes (nightly: the rolling
    window of stored verbatims plus this run's; otherwise the run's own)."""

    verbatims: pd.DataFrame
    found: Discovery


@dataclass(frozen=True)
class RunState:
    """What the stages of one run have produced; each stage adds fields, none changes one."""

    raws: tuple[pd.DataFrame, ...] = ()
    verbatims: pd.DataFrame | None = None  # this run's verbatims (weekly: the re-fit window)
    # nightly: stored verbatims delivered again with corrected fields (`clean.stored_edits`)
    edits: pd.DataFrame = field(default_factory=VERBATIMS.empty)
    quarantine: pd.DataFrame = field(default_factory=QUARANTINE.empty)
    raw_texts: pd.DataFrame = field(default_factory=RAW_TEXTS.empty)
    counts: dict[str, int] = field(default_factory=dict)
    # per input: its date column and day order, its score column (run.json `ingest`)
    ingest_notes: tuple[dict[str, Any], ...] = ()
    found: Discovery | None = None  # the model's view, as the store keeps it
    registry: pd.DataFrame | None = None  # the updated theme registry (re-fits only)
    window: Window | None = None
    shown: Discovery | None = None  # the window's themes with the analyst's overrides
    ignored: frozenset[str] = frozenset()
    scored: Scored | None = None  # the window's verbatims and shown mentions, with polarity
    faceted: Discovery | None = None  # `shown` with mixed themes split into facets
    label_parses: labels.Parses | None = None  # English label parses; the commit keeps `new`
    tables: rank.Tables | None = None
    analytics: Analytics | None = None
    report: ReportBundle | None = None
    webhook: str = ""
    models_version: str | None = None
    record: dict[str, Any] = field(default_factory=dict)
    comparison: pd.DataFrame | None = None  # COMPARE of two periods (`cx-text compare`)
    comparison_markdown: str = ""

    def need(self, name: str) -> Any:
        """The field `name`, which an earlier stage must have set."""
        value = getattr(self, name)
        if value is None:
            raise RuntimeError(f"stage order: {name} is not set yet")
        return value


@dataclass(frozen=True)
class RunContext:
    """What one run is given and the services its stages share."""

    kind: str  # run | nightly | weekly | backfill
    run_id: str
    started: pd.Timestamp
    settings: Settings
    out_dir: Path
    store: Store
    cache: EmbeddingCache
    timer: Timer
    inputs: tuple[str, ...] = ()
    saved: SavedThemes | None = None  # nightly: the published theme models
    week: pd.Timestamp | None = None  # weekly: Monday of the report week (backfill: first week)
    window_days: int | None = None  # weekly: days of history re-fitted on
    until: pd.Timestamp | None = None  # backfill: the Monday after the last week loaded
    periods: tuple[str, str] = ("", "")  # compare: before and after ('2026-W40..2026-W43')
    embedders: dict[str, Embedder] | None = None  # by model setting (tests inject tiny ones)
    frames: tuple[pd.DataFrame, ...] = ()  # `cx_text.analyze`: the inputs, already in memory
    send: notify.Sender | None = None  # the flows: a Prefect notification block's sender

    @property
    def fan_out(self) -> FanOut:
        return self.timer.fan_out

    def need_week_end(self) -> pd.Timestamp:
        """Weekly: the Monday after the report week (the re-fit window ends there)."""
        if self.week is None:
            raise RuntimeError("a weekly stage needs the report week")
        return self.week + pd.Timedelta(days=7)


Added = dict[str, Any]


@dataclass(frozen=True)
class Stage:
    """One step of a job. `fan_out`: the stage submits its own chunk tasks (an orchestrator
    runs it in the flow, not as a task); `retries`: worth retrying (flaky sources)."""

    name: str
    fn: Callable[[RunContext, RunState], Added]
    retries: int = 0
    fan_out: bool = False


# --------------------------------------------------------------------------- ingest


def warm_caches(ctx: RunContext, state: RunState) -> Added:
    """Start embedding polarity's seed set (the texts every fitted head learns from) into the
    run's cache while reading and cleaning, single-threaded, leave a core idle; e5's weights
    load there too (building the encoder, mostly torch's import, stays on this thread).
    Polarity's first look into the cache waits for it
    (`EmbeddingCache.warm`). In a flow it runs right away, as its own task. Nothing when
    polarity is off, or when the store already holds the vectors (a lookup)."""
    if ctx.settings.polarity.enabled:
        seed = polarity.load_seed()["text"].tolist()
        ctx.cache.warm(seed, _polarity_space(ctx, _polarity_encoder(ctx)), ctx.fan_out)
    return {}


def read_inputs(ctx: RunContext, state: RunState) -> Added:
    """Raw frames of every input; SQL inputs can bind `:watermark` (nightly)."""
    s = ctx.settings
    sql_url = s.ingest.sql_url.get_secret_value() if s.ingest.sql_url else None
    params = {}
    if ctx.kind == "nightly":
        params = {"watermark": ctx.store.watermark("verbatims") or "1900-01-01"}
    if ctx.frames:
        return {"raws": tuple(ingest.read_frame(frame) for frame in ctx.frames)}
    return {"raws": tuple(ingest.read_input(spec, sql_url, params, s.ingest.columns)
                          for spec in ctx.inputs)}  # fmt: skip


def _map_one(
    raw: pd.DataFrame, label: str, settings: Settings, now: pd.Timestamp
) -> tuple[pd.DataFrame, pd.DataFrame]:
    try:
        return ingest.to_verbatims(raw, settings.ingest, now)
    except ingest.InputError as exc:  # e.g. no text column: say which input
        raise ingest.InputError(f"{label}: {exc}") from exc


def clean_inputs(ctx: RunContext, state: RunState) -> Added:
    """Map every input to the verbatim schema and clean the union.

    Nightly: verbatims the store already holds are skipped (counted as `already_seen`) and a
    stored id arriving with other content is quarantined as `conflicting_id`.
    """
    labels = [ingest.input_label(spec) for spec in ctx.inputs]
    mapped = [_map_one(raw, label, ctx.settings, ctx.started)
              for raw, label in zip(state.raws, labels, strict=True)]  # fmt: skip
    rows = ingest.combine([m[0] for m in mapped])
    read, skipped, seen, copies, conflicts = sum(len(raw) for raw in state.raws), 0, 0, 0, 0
    edits = VERBATIMS.empty()  # nightly: stored rows a re-delivery corrects
    content_ids: set[str] = set()
    # a run on a warm store, like a nightly, keeps the ids rows were stored under
    warm = ctx.kind == "nightly" or (ctx.kind == "run" and not ctx.store.runs(newest=1).empty)
    if warm:
        known = ctx.store.known_verbatims(rows["verbatim_id"])
        candidates = clean.content_id_candidates(rows, known["verbatim_id"])
        if not candidates.empty:  # rows stored under their content id by an earlier version
            stored = ctx.store.known_verbatims(candidates)
            rows = clean.adopt_stored_ids(rows, candidates, stored["verbatim_id"])
            known = pd.concat([known, stored], ignore_index=True)
        if ctx.kind == "nightly":  # stored rows are recognised before the costly cleaning
            content = clean.content_id_rows(rows, known["verbatim_id"])
            texts = rows.loc[content, "text"].fillna("").astype(str)
            hashes = texts.map(clean.normal_form).map(clean.model_hash)
            rows, known = _content_matches(ctx, rows, content, hashes, known)
            content_ids = set(rows.loc[clean.content_id_rows(rows, known["verbatim_id"]),
                                       "verbatim_id"])  # fmt: skip
            delivered = rows  # stored ids among them may come with corrected fields
            rows, skipped, copies = clean.skip_stored(rows, known)
    result = clean.clean_verbatims(rows, ctx.settings.clean, ctx.settings.language)
    if copies:  # stored rows' same-day copies, skipped: counted as cleaning would count them
        result = replace(result, duplicates=result.duplicates + copies)
    if ctx.kind == "nightly":
        known = ctx.store.known_verbatims(result.verbatims["verbatim_id"])
        v = result.verbatims  # rows with personal data: matched on their masked text
        unknown = v["verbatim_id"].isin(content_ids - set(known["verbatim_id"]))
        v, known = _content_matches(ctx, v, unknown, v.loc[unknown, "text_hash"], known)
        before = set(v["verbatim_id"])
        result, seen, conflicts = clean.drop_seen(replace(result, verbatims=v), known)
        quarantined = result.quarantine.loc[result.quarantine["reason"] == "conflicting_id",
                                            "verbatim_id"]  # fmt: skip
        matched = (before - set(result.verbatims["verbatim_id"])) - set(quarantined)
        seen += skipped
        edits, fields = _stored_edits(ctx, delivered, rows, matched)
    # quarantined rows keep their original values: personal data in them is masked too
    quarantine = pii.mask_quarantine(
        pd.concat([*(m[1] for m in mapped), result.quarantine], ignore_index=True)
    )
    counts = clean.count_outcomes(read - seen, result, len(quarantine))
    if ctx.kind == "nightly":
        counts = {"read": read, "already_seen": seen,
                  **{k: v for k, v in counts.items() if k != "read"}}  # fmt: skip
        if conflicts:  # a notice inside `quarantined`: stored ids delivered with other text
            counts["stored_conflicts"] = conflicts
        if len(edits):  # a notice inside `already_seen`: stored rows whose fields were corrected
            counts["stored_edits"] = len(edits)
            log.info("clean: %d stored verbatims delivered again with corrections (%s): their "
                     "stored rows are updated", len(edits),
                     ", ".join(f"{k} {v}" for k, v in fields.items()))  # fmt: skip
    return {"verbatims": result.verbatims, "quarantine": quarantine, "counts": counts,
            "raw_texts": result.raw_texts, "ingest_notes": tuple(result.inputs),
            "edits": edits}  # fmt: skip


def _stored_edits(
    ctx: RunContext, delivered: pd.DataFrame, kept: pd.DataFrame, matched: set[str]
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The stored rows re-delivered rows correct (`clean.stored_edits`): the `delivered` rows
    `skip_stored` skipped as stored (not `kept` for cleaning), and those `drop_seen` found
    stored after cleaning (`matched` ids, masked texts)."""
    skipped = delivered[~delivered.index.isin(kept.index)]
    ids = set(skipped["verbatim_id"]) | matched
    if not ids:
        return VERBATIMS.empty(), {}
    stored = ctx.store.load_verbatims(ids=ids)
    rows = delivered[delivered["verbatim_id"].isin(set(stored["verbatim_id"]))]
    return clean.stored_edits(rows, stored)


def _content_matches(
    ctx: RunContext, frame: pd.DataFrame, rows: pd.Series, hashes: pd.Series, known: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The `rows` of `frame` with content ids that repeat a stored verbatim take its id (the
    export lost its id column since: `clean.adopt_content_matches`, on `hashes`, indexed like
    those rows); `known` gains the stored verbatims with those hashes. Before cleaning on the
    delivered text, after it on the masked text."""
    if not rows.any():
        return frame, known
    stored = ctx.store.verbatims_by_hash(hashes)
    if stored.empty:
        return frame, known
    frame = clean.adopt_content_matches(frame, rows, hashes, stored)
    return frame, pd.concat([known, stored[["verbatim_id", "text"]]], ignore_index=True)


def load_window(ctx: RunContext, state: RunState) -> Added:
    """Weekly: the stored verbatims of the `window_days` that end with the report week."""
    end = ctx.need_week_end()
    since = end - pd.Timedelta(days=ctx.window_days or ctx.settings.schedule.window_days)
    verbatims = ctx.store.load_verbatims(since=since)
    verbatims = verbatims[verbatims["created_at"] < end].reset_index(drop=True)
    return {"verbatims": verbatims, "counts": {"verbatims": len(verbatims)}}


# --------------------------------------------------------------------------- themes


def fit_themes(ctx: RunContext, state: RunState) -> Added:
    """Fit themes on the run's verbatims and give them permanent ids from the registry."""
    verbatims = state.need("verbatims")
    registered = ctx.store.registry()
    # a joined embedder's centre stays the published models' while the space is the same
    centres = models.space_centres(ctx.settings.models_dir / models.CURRENT)
    found = theming.fit_themes(verbatims, ctx.settings, ctx.cache, registry.anchors(registered),
                               ctx.embedders, ctx.fan_out, centres=centres,
                               prefetch=_polarity_prefetch(ctx))  # fmt: skip
    as_of = ctx.need_week_end() if ctx.week is not None else ctx.started
    mapping, updated = registry.update_registry(
        found.candidates, registered, ctx.settings.themes.match_threshold, as_of, ctx.run_id
    )
    found = theme_tables.apply_ids(found, mapping, registry.status_of(updated))
    return {"found": found, "registry": updated, "window": Window(verbatims, found)}


def assign_themes(ctx: RunContext, state: RunState) -> Added:
    """Assign the run's new verbatims to the published themes (no re-fit)."""
    saved = ctx.saved
    if saved is None:
        raise RuntimeError("assign needs the published theme models")
    found = theming.assign_themes(state.need("verbatims"), ctx.settings, ctx.cache, saved,
                                  ctx.embedders, ctx.fan_out)  # fmt: skip
    return {"found": found}


def rolling_window(ctx: RunContext, state: RunState) -> Added:
    """Nightly: stored verbatims of the rolling window plus this run's, with their themes."""
    new, new_verbatims = state.need("found"), state.need("verbatims")
    since = ctx.started - pd.Timedelta(days=ctx.settings.schedule.window_days)
    stored = ctx.store.load_verbatims(since=since)
    edits = state.edits  # stored rows corrected tonight: in the window by their new date
    if len(edits):
        stored = ingest.combine([stored[~stored["verbatim_id"].isin(set(edits["verbatim_id"]))],
                                 edits[edits["created_at"] >= since]])  # fmt: skip
        stored = stored.sort_values("verbatim_id", ignore_index=True)
    # a new row dated before the window is stored, not shown: the same night run again (when it
    # is a stored row) would leave it out, and its outputs must not differ
    recent = new_verbatims[new_verbatims["created_at"] >= since]
    verbatims = ingest.combine([stored, recent]).drop_duplicates("verbatim_id", keep="last")
    ids = verbatims["verbatim_id"].tolist()
    shown = set(recent["verbatim_id"])
    assignments, mentions = (
        _union(ctx.store.frame(name, ids), rows[rows["verbatim_id"].isin(shown)])
        for name, rows in (("assignments", new.assignments), ("mentions", new.mentions))
    )
    lookup = new.themes.drop_duplicates("theme_id").set_index("theme_id")
    assignments["theme_label"] = assignments["theme_id"].map(lookup["label"]).fillna("Unclassified")
    assignments["parent_theme_id"] = (
        assignments["theme_id"].map(lookup["parent_theme_id"]).fillna(UNCLASSIFIED)
    )
    found = replace(new, assignments=ASSIGNMENTS.conform(assignments[ASSIGNMENTS.names]),
                    mentions=MENTIONS.conform(mentions[MENTIONS.names]))  # fmt: skip
    return {"window": Window(verbatims.reset_index(drop=True), found)}


def _union(stored: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    fresh = set(new["verbatim_id"])
    kept = stored[~stored["verbatim_id"].isin(fresh)]
    return pd.concat([kept, new], ignore_index=True)


def apply_overrides(ctx: RunContext, state: RunState) -> Added:
    """The analyst's themes.yaml on the window's themes (the store keeps the model's view)."""
    window: Window = state.need("window")
    spec = overrides.load(ctx.settings.overrides_file)
    known_ids = set(ctx.store.registry()["theme_id"].astype(str))
    shown = overrides.apply_to_run(window.found, window.verbatims, ctx.settings, ctx.cache, spec,
                                   known_ids, ctx.embedders)  # fmt: skip
    return {"shown": shown, "ignored": frozenset(overrides.ignored(spec))}


def _polarity_encoder(ctx: RunContext) -> Any:
    return run_polarity.make_encoder(ctx.settings.embedding.torch_threads or None,
                                     ctx.settings.polarity.quantize,
                                     ctx.settings.embedding.bf16)  # fmt: skip


def _polarity_space(ctx: RunContext, encoder: Any) -> Any:
    """How polarity's texts reach the cache: sentence by sentence, as linking reads them
    (`themes.pool_sentences`, `embed.PooledEmbedder`)."""
    return pooled_by_sentence(encoder, ctx.settings.themes)


# texts per embedding call of the prefetch: between two calls it asks whether the clustering is
# done (then the rest is left to the stage that needs the vectors)
PREFETCH_ROWS = 1_024


def _polarity_prefetch(ctx: RunContext) -> theming.Prefetch | None:
    """Polarity's e5 vectors of a theme group's documents (each verbatim's primary mention, and
    the texts the head learns from), embedded into the cache while the group's clustering
    runs, `PREFETCH_ROWS` documents at a time until it is done; None when polarity is off. In
    `hash_order` of the documents, the order the polarity cascade draws its teacher and check
    samples in, so what is embedded when the clustering ends is what the cascade needs first
    (a verbatim with mentions is read part by part, `_polarity_space`: its parts together)."""
    settings = ctx.settings.polarity
    if not settings.enabled:
        return None
    encoder = _polarity_encoder(ctx)
    space = _polarity_space(ctx, encoder)
    # texts a seed-only head's student scored in an earlier run are not embedded again
    remembered = (
        run_polarity.seed_student_id(encoder.model_id, settings) if settings.cascade else ""
    )

    def prefetch(docs: list[str], done: Callable[[], bool]) -> None:
        docs = list(dict.fromkeys(docs))
        if remembered:
            found = ctx.cache.lookup(remembered, [text_hash(t) for t in docs])
            docs = [t for t in docs if text_hash(t) not in found]
        order = hash_order(docs)
        for start in range(0, len(order), PREFETCH_ROWS):
            if done():
                return
            chunk = [docs[i] for i in order[start : start + PREFETCH_ROWS]]
            ctx.cache.vectors(chunk, space, count=False)

    return prefetch


def score_polarity(ctx: RunContext, state: RunState) -> Added:
    """Polarity of every mention and verbatim of the window (vectors through the cache)."""
    verbatims, mentions = state.need("window").verbatims, state.need("shown").mentions
    settings = ctx.settings.polarity
    if not settings.enabled:
        return {"scored": run_polarity.unscored(verbatims, mentions)}
    encoder = _polarity_encoder(ctx)
    space = _polarity_space(ctx, encoder)

    def vectorise(texts: list[str]) -> Any:
        return ctx.cache.vectors(texts, space, ctx.fan_out)

    cached = run_polarity.CachedEncoder(encoder, vectorise)  # the seed set's vectors too
    shortcut = _polarity_shortcut(ctx, verbatims, space)
    saved = ctx.saved.polarity_head if ctx.saved is not None else None  # nightly: not re-fitted
    return {"scored": run_polarity.score_run(verbatims, mentions, settings, cached, vectorise,
                                             shortcut, saved)}  # fmt: skip


def _polarity_shortcut(
    ctx: RunContext, verbatims: pd.DataFrame, space: Any
) -> run_polarity.Shortcut:
    """The cascade's view of the run's embedding cache: e5 vectors stored by earlier runs, the
    theme spaces' known vectors (each language group's own embedder; a joined one, which holds e5
    itself, is left out) and student scores remembered under their id."""
    cache = ctx.cache
    e5_id = getattr(space, "inner", space).model_id

    def known(embedder: Embedder) -> polarity_cascade.Known:
        return lambda texts: cache.known_texts(texts, embedder)  # part by part or whole

    def spaces() -> list[polarity_cascade.Space]:
        out: dict[str, polarity_cascade.Space] = {}
        fitted = ctx.saved.model_ids if ctx.saved is not None else None  # nightly's groups
        for group in theming.groups_of(verbatims, ctx.settings, ctx.embedders, fitted):
            embedder = group.embedder
            encoder = getattr(embedder, "inner", embedder)  # a space read part by part
            if (
                getattr(embedder, "parts", None)
                or encoder.model_id == e5_id
                or embedder.model_id in out
            ):
                continue
            out[embedder.model_id] = polarity_cascade.Space(embedder.model_id, known(embedder))
        return list(out.values())

    def memory(student_id: str) -> polarity_cascade.Memory:
        def recall(texts: list[str]) -> dict[str, float]:
            return {t: float(v[0]) for t, v in cache.known_by_id(student_id, texts).items()}

        def remember(texts: list[str], scores: np.ndarray) -> None:
            cache.remember(student_id, [text_hash(t) for t in texts],
                           np.asarray(scores, dtype=np.float32).reshape(-1, 1))  # fmt: skip

        return polarity_cascade.Memory(recall, remember)

    def known_e5(texts: list[str]) -> dict[str, np.ndarray]:
        return cache.known_texts(texts, space, stored_only=True)

    # e5 vectors stored before this run: which texts the student may take must not depend on
    # how far this run's prefetch got beside the clustering (a timing), or runs on the same
    # input and store would differ. A verbatim read part by part is known when its parts are.
    return run_polarity.Shortcut(known_e5, spaces, memory)


def split_facets(ctx: RunContext, state: RunState) -> Added:
    """Mixed themes split into problem and praise facets (what the figures and outputs show)."""
    scored: Scored = state.need("scored")
    shown: Discovery = state.need("shown")
    faceted = facets.split_facets(shown, scored.verbatims, scored.mentions, ctx.settings.facets,
                                  ctx.settings.themes.n_examples,
                                  facets.previous_split(ctx.store.runs(newest=20)))  # fmt: skip
    if not ctx.settings.facets.customer_labels:
        return {"faceted": faceted}
    language = linking.label_language(scored.verbatims, ctx.settings.report.language)
    parses = _stored_parses(ctx, faceted)
    if parses is not None:
        labels.parse_ahead(faceted.themes, faceted.mentions, parses)
    themes = labels.relabel(faceted.themes, faceted.mentions, _named(shown, state), language,
                            parses)  # fmt: skip
    names = themes.set_index("theme_id")["label"]
    assignments = faceted.assignments.assign(
        theme_label=faceted.assignments["theme_id"].map(names).fillna(
            faceted.assignments["theme_label"])
    )  # fmt: skip
    return {"faceted": replace(faceted, themes=themes, assignments=assignments),
            "label_parses": parses}  # fmt: skip


def _stored_parses(ctx: RunContext, faceted: Discovery) -> labels.Parses | None:
    """The store's parses of the English sentences labels may parse (None without spaCy's
    model: labels then use the lookup tables and nothing is stored)."""
    parser = labels.parser_id()
    if parser is None:
        return None
    sentences = labels.parse_sample(faceted.themes, faceted.mentions)
    keys = [labels.parse_key(s) for s in sentences]
    stored = ctx.store.load_label_parses(parser, keys)
    known = {s: stored[k] for s, k in zip(sentences, keys, strict=True) if k in stored}
    log.info("labels: %d of %d sentences parsed by earlier runs", len(known), len(sentences))
    return labels.Parses(parser, known)


def _named(shown: Discovery, state: RunState) -> set[str]:
    """Themes the analyst named (renamed, seeded or split off): their labels stay."""
    model = state.need("window").found.themes.set_index("theme_id")["label"]
    ids, names = shown.themes["theme_id"].astype(str), shown.themes["label"]
    return {t for t, name in zip(ids, names, strict=True) if model.get(t) != name}


# --------------------------------------------------------------------------- analytics


def figures(ctx: RunContext, state: RunState) -> Added:
    """NPS figures, the ranked table and its views, segments, backlog and follow-up."""
    shown: Discovery = state.need("faceted")
    verbatims = state.need("scored").verbatims
    with one_blas_thread():  # small products and k x k decompositions (drivers, bootstrap)
        tables = rank.rank_tables(verbatims, shown.assignments, shown.mentions, shown.themes,
                                  ctx.settings, state.ignored)  # fmt: skip
    return {"tables": tables}


def weekly_figures(ctx: RunContext, state: RunState) -> Added:
    """Weekly figures and the report week's alerts."""
    shown: Discovery = state.need("faceted")
    found = analytics.weekly_analytics(
        state.need("scored").verbatims, shown.assignments, shown.mentions,
        state.need("tables").themes, ctx.settings.report, ctx.week,
    )  # fmt: skip
    return {"analytics": found}


# --------------------------------------------------------------------------- presentation


def render_report(ctx: RunContext, state: RunState) -> Added:
    bundle = report.build_report(state.need("window").verbatims, state.need("tables"),
                                 state.need("analytics"), state.counts, ctx.settings)  # fmt: skip
    return {"report": bundle}


def write_outputs(ctx: RunContext, state: RunState) -> Added:
    """Every output of the catalogue into the run's output folder."""
    catalog.write_outputs(state, ctx.out_dir)
    return {}


def send_alerts(ctx: RunContext, state: RunState) -> Added:
    bundle: ReportBundle = state.need("report")
    alerts = state.need("analytics").alerts
    return {"webhook": notify.notify(alerts, bundle.language, ctx.settings.report, ctx.send)}


# --------------------------------------------------------------------------- models and store


def save_models(ctx: RunContext, state: RunState) -> Added:
    """Stage the re-fitted models under versions/<run_id>; `current` moves after the commit."""
    head = state.scored.model if state.scored is not None else None
    models.save_models(state.need("found"), models.staged_folder(ctx.settings.models_dir,
                                                                 ctx.run_id),
                       head.state() if head is not None else None)  # fmt: skip
    return {"models_version": ctx.run_id}


def commit(ctx: RunContext, state: RunState) -> Added:
    """Every store write of the run, and its run record, in one transaction."""
    record = records.run_record(ctx, state)
    found: Discovery = state.need("found")
    store, run_id = ctx.store, ctx.run_id
    with store.transaction() as conn:
        if ctx.kind != "weekly":  # a weekly re-fit stores no verbatims of its own
            verbatims = state.need("verbatims")
            store.upsert_verbatims(conn, verbatims, run_id)
            store.upsert_verbatims(conn, state.edits, run_id)  # corrected stored rows (nightly)
            store.save_raw_texts(conn, raw_texts_of(state.raw_texts, verbatims))
            store.append_quarantine(conn, state.quarantine, run_id)
        for new in ctx.cache.new:
            store.save_embeddings(conn, new.model_id, new.hashes, new.vectors)
        if state.label_parses is not None:
            parsed = state.label_parses
            keyed = {labels.parse_key(s): found for s, found in parsed.new.items()}
            store.save_label_parses(conn, parsed.parser_id, keyed)
        assignments = found.assignments[["verbatim_id", "theme_id", "confidence"]].assign(
            model_version=run_id, run_id=run_id
        )
        store.replace_rows(conn, "assignments", "verbatim_id", assignments)
        store.replace_rows(conn, "mentions", "verbatim_id", found.mentions)
        if state.registry is not None:
            store.save_registry(conn, state.registry)
        for source, value in _watermarks(ctx, state).items():
            store.set_watermark(conn, source, value)
        store.record_run(conn, record)
    return {"record": record}


def raw_texts_of(raw_texts: pd.DataFrame, verbatims: pd.DataFrame) -> pd.DataFrame:
    """The raw texts of the verbatims being stored (none unless clean.keep_raw_text)."""
    return raw_texts[raw_texts["verbatim_id"].isin(verbatims["verbatim_id"])]


def _watermarks(ctx: RunContext, state: RunState) -> dict[str, str]:
    verbatims = state.verbatims
    if ctx.kind != "nightly" or verbatims is None or verbatims.empty:
        return {}
    return {"verbatims": str(verbatims["created_at"].max())}


def publish_models(ctx: RunContext, state: RunState) -> Added:
    """Point models/current at this run's models (after the commit)."""
    models.publish_models(ctx.settings.models_dir, state.need("models_version"))
    return {}


def store_history(ctx: RunContext, state: RunState) -> Added:
    """Backfill: store the verbatims of the requested weeks and the quarantine, under this
    run's id and with its run record, in one transaction (the weekly re-fits follow)."""
    verbatims = state.need("verbatims")
    start, stop = ctx.need_week_end() - pd.Timedelta(days=7), ctx.until
    inside = verbatims[(verbatims["created_at"] >= start) & (verbatims["created_at"] < stop)]
    record = records.header(ctx, state)
    record.update(weeks=[f"{start:%G-W%V}", f"{stop - pd.Timedelta(days=1):%G-W%V}"],
                  stored=len(inside), finished_at=records.now().isoformat(),
                  timings=ctx.timer.seconds, peak_rss_mb=ctx.timer.peak_rss_mb)  # fmt: skip
    store = ctx.store
    with store.transaction() as conn:
        store.append_quarantine(conn, state.quarantine, ctx.run_id)
        store.upsert_verbatims(conn, inside, ctx.run_id)
        store.save_raw_texts(conn, raw_texts_of(state.raw_texts, inside))
        store.record_run(conn, record)
    return {"record": record}


def compare_periods(ctx: RunContext, state: RunState) -> Added:
    """`cx-text compare`: two periods of every stored verbatim, per theme, from the store."""
    verbatims = ctx.store.load_verbatims()
    ids = verbatims["verbatim_id"].tolist()
    store = ctx.store
    weekly = compare.stored_weeks(verbatims, store.frame("assignments", ids),
                                  store.frame("mentions", ids), store.registry())  # fmt: skip
    table = compare.compare_periods(weekly, *ctx.periods)
    language = report.report_language(verbatims, ctx.settings.report.language)
    return {"comparison": table, "comparison_markdown": compare.compare_markdown(table, language),
            "counts": compare.summary(table)}  # fmt: skip


def write_comparison(ctx: RunContext, state: RunState) -> Added:
    catalog.write_outputs(state, ctx.out_dir, catalog.COMPARE_OUTPUTS, workbook=False)
    return {"record": records.header(ctx, state)}
