"""Table schemas, declared once and checked at stage boundaries.

Each schema lists its columns with a dtype and a one-line meaning; the README's column lists are
generated from here (``python -m cx_text.schemas``) and a test keeps them in sync.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import pandas as pd

# every role a verbatim can have (ingest assigns them); the first three carry an NPS score
ROLES = ("detractor", "passive", "promoter", "complaint", "unscored")
SCORED_ROLES = ROLES[:3]
UNCLASSIFIED = "unclassified"

_PANDAS_DTYPES = {
    "string": "string",
    "float": "Float64",
    "int": "Int64",
    "bool": "boolean",
    "datetime": "datetime64[ns]",
    "object": "object",
}


class SchemaError(ValueError):
    """A table does not match its declared schema."""


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str
    doc: str


@dataclass(frozen=True)
class TableSchema:
    name: str
    columns: tuple[Column, ...]
    doc: str = ""
    allow_extra: bool = False

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def empty(self) -> pd.DataFrame:
        """An empty frame with this schema's columns and dtypes."""
        return self.conform(pd.DataFrame({name: [] for name in self.names}))

    def conform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Return a copy with declared columns first, cast to their dtypes.

        Raises:
            SchemaError: a declared column is missing, or an extra one where none is allowed.
        """
        missing = [n for n in self.names if n not in frame.columns]
        if missing:
            raise SchemaError(f"{self.name}: missing columns {missing}")
        extra = [c for c in frame.columns if c not in self.names]
        if extra and not self.allow_extra:
            raise SchemaError(f"{self.name}: unexpected columns {extra}")
        out = frame[self.names + extra].copy()
        for col in self.columns:
            out[col.name] = _cast(out[col.name], col.dtype, f"{self.name}.{col.name}")
        return out.reset_index(drop=True)

    def markdown(self) -> str:
        rows = [f"| `{c.name}` | {c.dtype} | {c.doc} |" for c in self.columns]
        head = ["| column | type | meaning |", "|---|---|---|"]
        return "\n".join(head + rows)


def _cast(series: pd.Series, dtype: str, where: str) -> pd.Series:
    try:
        if dtype == "datetime":
            return pd.to_datetime(series).astype("datetime64[ns]")
        return series.astype(_PANDAS_DTYPES[dtype])
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"{where}: cannot cast to {dtype}: {exc}") from exc


def _cols(*specs: tuple[str, str, str]) -> tuple[Column, ...]:
    return tuple(Column(*spec) for spec in specs)


VERBATIMS = TableSchema(
    "verbatims",
    _cols(
        ("verbatim_id", "string", "id from the input (or a hash of the row when there is none)"),
        ("source", "string", "survey, complaint or other"),
        ("text", "string", "cleaned text, personal data masked ([EMAIL], [PHONE], [CARD]...)"),
        ("score", "float", "score on its scale; empty for complaints"),
        ("scale", "string", "nps (0-10), csat (1-5), ces (1-7) or none"),
        ("role", "string", f"{', '.join(ROLES[:-1])} or {ROLES[-1]}"),
        ("created_at", "datetime", "when the customer wrote it (UTC, naive)"),
        ("customer_id", "string", "customer key, used for follow-up and complaint linking"),
        ("touchpoint", "string", "journey stage the survey was sent at"),
        ("channel", "string", "channel the feedback came through"),
        ("language", "string", "ISO 639-1 code, detected or forced"),
        ("is_non_answer", "bool", "true for '-', 'n/a', 'нет'...: counted in NPS, not themed"),
        ("is_long", "bool", "text longer than clean.long_text_chars (truncated for embedding)"),
        ("text_hash", "string", "sha256 of the normalised text (embedding cache key)"),
    ),
    doc="One row per accepted verbatim; unmapped input columns follow under their own names, "
    "or as `input:NAME` when NAME is a column of one of the product's tables.",
    allow_extra=True,
)

QUARANTINE = TableSchema(
    "quarantine",
    _cols(
        ("input_file", "string", "where the row came from"),
        ("row_number", "int", "1-based data row number in that input"),
        ("reason", "string", "reason code (see README)"),
        ("detail", "string", "what exactly was wrong"),
        ("verbatim_id", "string", "the row's id, if it had one"),
        ("original", "string", "the row's original values as JSON (personal data masked)"),
    ),
    doc="Every rejected row with its reason and original values.",
)

RAW_TEXTS = TableSchema(
    "raw_texts",
    _cols(
        ("verbatim_id", "string", "the verbatim"),
        ("raw_text", "string", "its cleaned text before personal data was masked"),
    ),
    doc="Store only, and only with clean.keep_raw_text = true: never written to an output file.",
)

ASSIGNMENTS = TableSchema(
    "assignments",
    _cols(
        ("verbatim_id", "string", "the verbatim"),
        ("theme_id", "string", "its primary theme, or 'unclassified'"),
        ("theme_label", "string", "the theme's label"),
        ("parent_theme_id", "string", "the coarser parent theme"),
        ("confidence", "float", "cosine similarity of the verbatim to its theme centre (0-1)"),
    ),
    doc="One primary theme per themed verbatim.",
)

MENTIONS = TableSchema(
    "mentions",
    _cols(
        ("verbatim_id", "string", "the verbatim"),
        ("theme_id", "string", "a theme the sentence talks about"),
        ("sentence", "string", "the sentence (masked text)"),
        ("confidence", "float", "cosine similarity of the sentence to the theme centre"),
    ),
    doc="Every theme a verbatim mentions, one row per (verbatim, theme); multi-topic comments "
    "have several rows.",
)

POLARITY_COLUMNS = _cols(
    ("polarity", "string", "problem, praise or neutral (empty when polarity.enabled is false)"),
    ("polarity_score", "float", "P(praise) - P(problem), -1 to 1 (see README, Polarity)"),
)
# the output files carry the polarity columns; the store keeps its tables without them (a
# run scores its whole window again, from cached vectors)
SCORED_VERBATIMS = TableSchema(
    "verbatims",
    VERBATIMS.columns + POLARITY_COLUMNS,
    doc=VERBATIMS.doc + " A verbatim's polarity is the mean of its mentions' scores (its own "
    "text's when it has none; non-answers are neutral).",
    allow_extra=True,
)
SCORED_MENTIONS = TableSchema(
    "mentions", MENTIONS.columns + POLARITY_COLUMNS, doc=MENTIONS.doc + " Polarity per sentence."
)

THEMES = TableSchema(
    "themes",
    _cols(
        ("theme_id", "string", "stable id (T001, ...) or 'unclassified'"),
        ("label", "string", "short human label"),
        ("parent_theme_id", "string", "coarser parent group (P01, ...)"),
        ("parent_label", "string", "label of the parent group"),
        ("keywords", "string", "top lemmatised keywords, comma-separated"),
        ("size", "int", "number of verbatims whose primary theme this is"),
        ("language", "string", "language group the theme was found in ('multi': linked)"),
        ("examples", "string", "the most central verbatims, joined by ' | '"),
        ("status", "string", "registry status: new (first seen this run) or active"),
        ("n_en", "int", "primary verbatims in English"),
        ("n_ru", "int", "primary verbatims in Russian"),
        ("label_en", "string", "label from the theme's English verbatims ('' when it has none)"),
        ("label_ru", "string", "label from the theme's Russian verbatims ('' when it has none)"),
    ),
    doc="One row per theme found by the theme model.",
)


THEME_TABLE = TableSchema(
    "ranked_themes",
    _cols(
        ("rank", "int", "1 = fix first; 'unclassified' is always last"),
        ("theme_id", "string", "stable theme id (T001, ...) or 'unclassified'"),
        ("label", "string", "short human label"),
        ("parent_theme_id", "string", "coarser parent group (P01, ...)"),
        ("parent_label", "string", "label of the parent group"),
        ("keywords", "string", "top lemmatised keywords, comma-separated"),
        ("n_verbatims", "int", "verbatims in the theme (primary or mentioned), complaints too"),
        ("share", "float", "n_verbatims / all themed verbatims (0-1); complaints count in both"),
        ("n_detractors", "int", "detractors in the theme"),
        ("n_passives", "int", "passives in the theme"),
        ("n_promoters", "int", "promoters in the theme"),
        ("n_complaints", "int", "complaints in the theme"),
        ("theme_nps", "float", "%promoters - %detractors of the theme's scored verbatims, points"),
        ("theme_nps_low", "float", "95% adjusted Wald interval of theme_nps, low end"),
        ("theme_nps_high", "float", "95% adjusted Wald interval of theme_nps, high end"),
        ("nps_impact", "float", "NPS(all) - NPS(all without the theme), points; < 0 costs NPS"),
        ("nps_impact_low", "float", "95% bootstrap percentile interval of nps_impact, low end"),
        ("nps_impact_high", "float", "95% bootstrap percentile interval of nps_impact, high end"),
        ("detractor_share", "float", "theme's detractors / all detractors (0-1)"),
        ("detractor_rate", "float", "theme's detractors / theme's scored verbatims (0-1)"),
        ("promoter_share", "float", "theme's promoters / all promoters (0-1)"),
        ("driver_coef", "float", "OLS effect of the theme on the 0-10 score, other themes fixed"),
        ("priority", "float", "impact_weight*(-nps_impact) + complaint_weight*complaint pts"),
        ("significant", "bool", "the nps_impact interval excludes 0"),
        ("examples", "string", "the most central verbatims, joined by ' | '"),
        ("language", "string", "language group the theme was found in ('multi': linked)"),
        ("n_en", "int", "primary verbatims in English"),
        ("n_ru", "int", "primary verbatims in Russian"),
        ("label_en", "string", "label from the theme's English verbatims"),
        ("label_ru", "string", "label from the theme's Russian verbatims"),
        ("n_primary", "int", "verbatims whose primary theme this is"),
        ("n_scored", "int", "detractors + passives + promoters in the theme"),
        ("passive_rate", "float", "theme's passives / theme's scored verbatims (0-1)"),
        ("promoter_rate", "float", "theme's promoters / theme's scored verbatims (0-1)"),
        ("complaint_share", "float", "theme's complaints / all complaints (0-1)"),
        ("driver_low", "float", "95% interval of driver_coef, low end"),
        ("driver_high", "float", "95% interval of driver_coef, high end"),
        ("n_complaints_linked_detractor", "int", "complaints linked to a detractor response"),
        ("n_complaints_linked_passive", "int", "complaints linked to a passive response"),
        ("n_complaints_linked_promoter", "int", "complaints linked to a promoter response"),
        ("status", "string", "registry status: new (first seen this run) or active"),
        ("topic_id", "string", "the topic a facet belongs to (its own id for a whole topic)"),
        ("facet", "string", "problem or praise for a facet (T007- / T007+), empty for a topic"),
        ("problem_share", "float", "share of the theme's mentions that are problems (0-1)"),
        ("praise_share", "float", "share of the theme's mentions that are praise (0-1)"),
    ),
    doc="The ranked theme table: one row per theme, themes that cost NPS points first. A topic "
    "whose mentions are mixed appears as its two facets (see README, Facets).",
)

THEMES_BY_SEGMENT = TableSchema(
    "themes_by_segment",
    _cols(
        (
            "segment_column",
            "string",
            "touchpoint, source, channel, language (when the run has two or more) or an "
            "input column (as named in the input) with at most [segments] max_values values",
        ),
        ("segment_value", "string", "the segment's value"),
        ("theme_id", "string", "the theme"),
        ("label", "string", "the theme's label"),
        ("n_verbatims", "int", "verbatims of the theme in the segment (kept when suppressed)"),
        ("share", "float", "n_verbatims / themed verbatims of the segment (0-1)"),
        ("n_detractors", "int", "detractors of the theme in the segment"),
        ("n_passives", "int", "passives of the theme in the segment"),
        ("n_promoters", "int", "promoters of the theme in the segment"),
        ("n_complaints", "int", "complaints of the theme in the segment"),
        ("theme_nps", "float", "theme NPS within the segment (points)"),
        ("theme_nps_low", "float", "95% adjusted Wald interval, low end"),
        ("theme_nps_high", "float", "95% adjusted Wald interval, high end"),
        ("detractor_rate", "float", "detractors / scored verbatims of the theme in the segment"),
        ("suppressed", "bool", "fewer than rank.min_segment_size verbatims: figures left empty"),
        ("share_rest", "float", "the theme's share in the other values of the segment column"),
        (
            "share_diff_q",
            "float",
            "two-proportion z test of share vs share_rest, BH over the table",
        ),
        ("share_direction", "string", "up / down: share differs from the rest with q < 0.05"),
        ("detractor_rate_rest", "float", "the theme's detractor rate in the other values"),
        ("detractor_diff_q", "float", "z test of detractor_rate vs the rest, BH over the table"),
        ("direction", "string", "up / down: detractor rate differs from the rest with q < 0.05"),
    ),
    doc="Per-theme figures within each segment value, in long format, with the significance of "
    "each cell against the rest of its segment column.",
)

BACKLOG = TableSchema(
    "backlog",
    _cols(
        ("Summary", "string", "issue title, e.g. '[CX] Late delivery (-4.2 NPS pts)'"),
        ("Description", "string", "figures and three customer quotes, multi-line"),
        ("Labels", "string", "'cx-text,theme-<theme_id>'"),
        ("Priority", "string", "Highest, High, Medium or Low (position and significance)"),
        ("cx_theme_id", "string", "stable theme id: the key that makes re-imports update"),
    ),
    doc="Backlog items for the top detractor themes, in a format Jira's CSV importer accepts.",
)

FOLLOWUP = TableSchema(
    "followup",
    _cols(
        ("theme_id", "string", "the detractor theme"),
        ("label", "string", "the theme's label"),
        ("verbatim_id", "string", "the customer's newest detractor verbatim on the theme"),
        ("customer_id", "string", "whom to call back"),
        ("touchpoint", "string", "journey stage of the survey"),
        ("score", "float", "the score given"),
        ("created_at", "datetime", "when the customer wrote it"),
        ("text", "string", "what they wrote (PII masked)"),
    ),
    doc="Detractors to call back for the top detractor themes, newest first within a theme.",
)

COMPLAINT_LINKS = TableSchema(
    "complaint_links",
    _cols(
        ("verbatim_id", "string", "the complaint"),
        ("customer_id", "string", "the customer who complained"),
        ("linked_verbatim_id", "string", "that customer's survey response nearest in time"),
        ("linked_role", "string", "detractor, passive or promoter: the response's role"),
        ("days_apart", "float", "days between complaint and response (either order)"),
    ),
    doc="Complaints linked to the same customer's survey response within nps.complaint_link_days.",
)


THEME_WEEKS = TableSchema(
    "theme_weeks",
    _cols(
        ("week", "datetime", "Monday of the ISO week (from verbatims.created_at)"),
        ("theme_id", "string", "the theme"),
        ("label", "string", "the theme's label"),
        ("n_verbatims", "int", "verbatims of the theme in the week (primary or mentioned)"),
        ("week_themed", "int", "themed verbatims of the week: the denominator of share"),
        ("share", "float", "n_verbatims / week_themed (0-1)"),
        ("n_detractors", "int", "detractors of the theme in the week"),
        ("n_passives", "int", "passives of the theme in the week"),
        ("n_promoters", "int", "promoters of the theme in the week"),
        ("n_complaints", "int", "complaints of the theme in the week"),
        ("n_scored", "int", "detractors + passives + promoters"),
        ("detractor_rate", "float", "detractors / scored verbatims of the theme in the week"),
        ("promoter_rate", "float", "promoters / scored verbatims of the theme in the week"),
        ("theme_nps", "float", "theme NPS in the week (points)"),
        ("theme_nps_low", "float", "95% adjusted Wald interval, low end"),
        ("theme_nps_high", "float", "95% adjusted Wald interval, high end"),
        ("share_change", "float", "share minus the previous week's share (0-1 scale)"),
        ("share_z", "float", "two-proportion z of the share change"),
        ("share_p", "float", "two-sided p-value of share_z"),
        ("share_q", "float", "share_p corrected over the week's themes (Benjamini-Hochberg)"),
        ("detractor_rate_change", "float", "detractor_rate minus the previous week's"),
        ("detractor_z", "float", "two-proportion z of the detractor rate change"),
        ("detractor_p", "float", "two-sided p-value of detractor_z"),
        ("detractor_q", "float", "detractor_p corrected over the week's themes (BH)"),
        ("nps_change", "float", "theme_nps minus the previous week's (points)"),
        ("nps_z", "float", "z of the difference of the two adjusted Wald NPS estimates"),
        ("nps_p", "float", "two-sided p-value of nps_z"),
    ),
    doc="Per theme and ISO week: volume, share, role mix, theme NPS and week-over-week tests.",
)

WEEKLY_NPS = TableSchema(
    "weekly_nps",
    _cols(
        ("week", "datetime", "Monday of the ISO week"),
        ("n_verbatims", "int", "accepted verbatims of the week, non-answers included"),
        ("n_scored", "int", "detractors + passives + promoters of the week"),
        ("n_detractors", "int", "detractors of the week"),
        ("n_passives", "int", "passives of the week"),
        ("n_promoters", "int", "promoters of the week"),
        ("nps", "float", "NPS of the week's scored verbatims (points)"),
        ("nps_low", "float", "95% adjusted Wald interval, low end"),
        ("nps_high", "float", "95% adjusted Wald interval, high end"),
        ("detractor_share", "float", "detractors / scored verbatims (0-1)"),
        ("passive_share", "float", "passives / scored verbatims (0-1)"),
        ("promoter_share", "float", "promoters / scored verbatims (0-1)"),
        ("nps_change", "float", "nps minus the previous week's (points)"),
        ("nps_z", "float", "z of the difference of the two adjusted Wald NPS estimates"),
        ("nps_p", "float", "two-sided p-value of nps_z"),
    ),
    doc="Overall NPS per ISO week with its interval and role structure.",
)

ALERTS = TableSchema(
    "alerts",
    _cols(
        ("week", "datetime", "Monday of the ISO week the alert fires in"),
        ("alert_type", "string", "share_rise (share) or detractor_rise (detractors per themed)"),
        ("status", "string", "new (first week), rising, sustained or easing (vs the week before)"),
        ("level", "string", "theme, or parent (a parent theme whose children rise together)"),
        ("theme_id", "string", "the theme (or the parent theme)"),
        ("label", "string", "the theme's label (a parent: its largest children's labels)"),
        ("metric", "string", "share or detractor_share, both out of the week's themed verbatims"),
        ("value_before", "float", "the metric over the baseline weeks before the episode"),
        ("value_now", "float", "the metric in the alert week"),
        ("change", "float", "value_now - value_before"),
        ("lift", "float", "value_now / value_before (empty when the baseline is 0)"),
        ("n_before", "int", "verbatims (detractor_rise: detractors) in the baseline weeks"),
        ("n_now", "int", "verbatims (detractor_rise: detractors) in the alert week"),
        ("baseline_weeks", "int", "weeks pooled in the baseline (at most 8, before `since`)"),
        ("p_value", "float", "one-sided Fisher exact p of the week against the baseline"),
        ("q_value", "float", "Benjamini-Hochberg q over every test of the week"),
        ("since", "datetime", "first week of the episode (Monday)"),
        ("example_1", "string", "an example verbatim of the week (PII masked), most confident"),
        ("example_2", "string", "a second example verbatim"),
    ),
    doc="Alerts of the report week: themes (or parents) standing above their trailing baseline.",
)


COMPARE = TableSchema(
    "compare",
    _cols(
        ("period_before", "string", "the first period, e.g. 2026-W40..2026-W43"),
        ("period_after", "string", "the second period"),
        ("theme_id", "string", "the theme"),
        ("label", "string", "the theme's label"),
        ("n_before", "int", "verbatims of the theme in the first period"),
        ("n_after", "int", "verbatims of the theme in the second period"),
        ("share_before", "float", "n_before / themed verbatims of the first period (0-1)"),
        ("share_after", "float", "n_after / themed verbatims of the second period (0-1)"),
        ("share_change", "float", "share_after - share_before"),
        ("share_change_low", "float", "95% interval of share_change (Newcombe), low end"),
        ("share_change_high", "float", "95% interval of share_change, high end"),
        ("share_q", "float", "two-proportion z test's p, BH-corrected over the themes"),
        ("n_scored_before", "int", "scored verbatims of the theme in the first period"),
        ("n_scored_after", "int", "scored verbatims of the theme in the second period"),
        ("detractor_rate_before", "float", "detractors / scored verbatims, first period"),
        ("detractor_rate_after", "float", "detractors / scored verbatims, second period"),
        ("detractor_rate_change", "float", "detractor_rate_after - detractor_rate_before"),
        ("detractor_rate_change_low", "float", "95% interval (Newcombe), low end"),
        ("detractor_rate_change_high", "float", "95% interval, high end"),
        ("detractor_rate_q", "float", "two-proportion z test's p, BH over the themes"),
        ("nps_before", "float", "theme NPS in the first period (points)"),
        ("nps_after", "float", "theme NPS in the second period (points)"),
        ("nps_change", "float", "nps_after - nps_before (points)"),
        ("nps_change_low", "float", "95% adjusted-Wald interval of the change, low end"),
        ("nps_change_high", "float", "95% adjusted-Wald interval of the change, high end"),
        ("nps_q", "float", "adjusted-Wald z test's p, BH over the themes"),
    ),
    doc="`cx-text compare`: per theme, two periods side by side (compare.csv).",
)


OUTPUT_SCHEMAS = (
    SCORED_VERBATIMS,
    QUARANTINE,
    ASSIGNMENTS,
    SCORED_MENTIONS,
    THEMES,
    THEME_TABLE,
    THEMES_BY_SEGMENT,
    BACKLOG,
    FOLLOWUP,
    COMPLAINT_LINKS,
    THEME_WEEKS,
    WEEKLY_NPS,
    ALERTS,
    COMPARE,
)


# an input column named like one of the product's columns is kept under this prefix
INPUT_PREFIX = "input:"
# names the stages give to working columns of frames that carry the input's columns
_WORKING_NAMES = ("week", "primary", "group", "topic", "parent", "priority", "segments", "run_id",
                  "model_version", "member", "days_apart", "linked_verbatim_id")  # fmt: skip
RESERVED_NAMES = frozenset(
    [*(c for s in (*OUTPUT_SCHEMAS, RAW_TEXTS) for c in s.names), *_WORKING_NAMES]
)


def segment_name(column: str) -> str:
    """The name an input column is kept under: `input:label` for `label`, else unchanged.

    Idempotent: a name already under the prefix is no reserved name, so it stays as it is
    (stored segments reload as they were written).
    """
    return INPUT_PREFIX + column if column in RESERVED_NAMES else column


def display_name(column: str) -> str:
    """The input's own name of a segment column (`label` for `input:label`)."""
    return column.removeprefix(INPUT_PREFIX)


def readme_tables() -> str:
    """Markdown column lists for every output file, as pasted into the README."""
    parts = []
    for schema in OUTPUT_SCHEMAS:
        parts.append(f"#### `{schema.name}`\n\n{schema.doc}\n\n{schema.markdown()}\n")
    return "\n".join(parts)


if __name__ == "__main__":
    sys.stdout.write(readme_tables())
