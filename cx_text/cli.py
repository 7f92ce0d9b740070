"""The `cx-text` command line. User mistakes end with one line on stderr and exit code 2."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from cx_text.lock import LockBusy
from cx_text.settings import ConfigError, load_settings

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="Turn NPS comments and complaints into ranked, actionable themes.",
)


def _version(value: bool) -> None:
    """--version: the installed distribution's version (the source's when not installed)."""
    if value:
        from importlib import metadata

        from cx_text import __version__

        try:
            version = metadata.version("cx-text")
        except metadata.PackageNotFoundError:
            version = __version__
        typer.echo(f"cx-text {version}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True,
                     help="Print the version and exit."),
    ] = False,
) -> None:  # fmt: skip
    """cx-text: NPS comments and complaints -> ranked themes, reports and follow-up lists."""


# sysexits EX_TEMPFAIL: another run holds the store; a scheduler may simply try again later
EXIT_LOCKED = 75
USER_ERRORS: tuple[type[Exception], ...] = (ConfigError,)


def _user_errors() -> tuple[type[Exception], ...]:
    from cx_text.ingest import InputError
    from cx_text.overrides import OverrideError
    from cx_text.schemas import SchemaError
    from cx_text.store import StoreError

    return (*USER_ERRORS, InputError, SchemaError, OverrideError, StoreError, FileNotFoundError)


def _fail(message: str) -> None:
    typer.echo(f"cx-text: error: {message}", err=True)
    raise typer.Exit(code=2)


ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", help="TOML settings file (also CX_TEXT_CONFIG).", show_default=False),
]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Folder for every output file.")]
Inputs = Annotated[
    list[str],
    typer.Argument(
        help="Files (.csv .tsv .xlsx .parquet .jsonl), '-' for CSV on standard input, or SQL "
        "inputs 'sql:SELECT ...' / 'table:NAME' read through the URL in [ingest] sql_url / "
        "CX_TEXT_INGEST__SQL_URL.",
        show_default=False,
    ),
]


def _col(help_text: str) -> Any:
    return typer.Option(help=help_text, show_default=False)


def _overrides(
    columns: dict[str, str | None],
    source: str | None,
    scale: str | None,
    dayfirst: bool | None = None,
    **top: Any,
) -> dict[str, Any]:
    ingest: dict[str, Any] = {"columns": {k: v for k, v in columns.items() if v is not None}}
    for key, value in (("default_source", source), ("scale", scale), ("date_dayfirst", dayfirst)):
        if value is not None:
            ingest[key] = value
    result: dict[str, Any] = {"ingest": ingest}
    result.update({k: v for k, v in top.items() if v is not None})
    return result


# what a command over inputs runs: (the job module, inputs, --out, settings) -> the run record
JobAction = Callable[[Any, list[str], Path, Any], dict[str, Any]]


def _input_command(action: JobAction) -> Callable[..., None]:
    """A command over INPUT files with the column options (run, nightly and inspect)."""

    def command(
        inputs: Inputs,
        out: OutOpt = Path("cx-text-out"),
        config: ConfigOpt = None,
        text_col: Annotated[str | None, _col("Column holding the comment text.")] = None,
        score_col: Annotated[str | None, _col("Column holding the score.")] = None,
        id_col: Annotated[str | None, _col("Column holding a unique response id.")] = None,
        date_col: Annotated[str | None, _col("Column holding the response date.")] = None,
        customer_col: Annotated[str | None, _col("Column holding the customer id.")] = None,
        touchpoint_col: Annotated[str | None, _col("Column holding the journey stage.")] = None,
        channel_col: Annotated[str | None, _col("Column holding the channel.")] = None,
        source_col: Annotated[str | None, _col("Column holding survey/complaint.")] = None,
        source: Annotated[
            str | None, _col("Source of rows without a source column: survey, complaint, other.")
        ] = None,
        scale: Annotated[
            str | None, _col("Score scale of survey rows: nps (0-10), csat (1-5) or ces (1-7).")
        ] = None,
        dayfirst: Annotated[
            bool | None,
            typer.Option(
                "--dayfirst/--monthfirst",
                show_default=False,
                help="Read 04/11/2018 as 4 November / as April 11 (default: inferred "
                "from the values; dotted dates are always day-first).",
            ),
        ] = None,
        state_dir: StateOpt = None,
        language: Annotated[str | None, _col("Force one language code for every verbatim.")] = None,
        quiet: QuietOpt = False,
    ) -> None:
        columns = {
            "text": text_col, "score": score_col, "id": id_col, "date": date_col,
            "customer_id": customer_col, "touchpoint": touchpoint_col, "channel": channel_col,
            "source": source_col,
        }  # fmt: skip
        overrides = _overrides(columns, source, scale, dayfirst, state_dir=state_dir,
                               language=language)  # fmt: skip
        _execute(quiet, config, overrides, lambda job, s: action(job, inputs, out, s), out)

    return command


StateOpt = Annotated[
    Path | None, _col("Store folder (default ./.cx-text, also CX_TEXT_STATE_DIR).")
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Only print the summary.")]


def _execute(
    quiet: bool,
    config: Path | None,
    overrides: dict[str, Any],
    action: Callable[[Any, Any], Any],
    out: Path,
) -> None:
    """Load settings, run `action(job_module, settings)`, turn user mistakes into one line."""
    _setup_logging(quiet)
    try:
        settings = load_settings(config, **overrides)
        from cx_text import job

        result = action(job, settings)
    except _user_errors() as exc:
        _fail(str(exc))
        return
    except LockBusy as exc:
        typer.echo(f"cx-text: {exc}", err=True)
        raise typer.Exit(code=EXIT_LOCKED) from None
    except Exception as exc:  # a bug: still one line, the traceback only on request
        if os.environ.get("CX_TEXT_DEBUG"):
            raise
        from cx_text.ingest import one_line

        typer.echo(f"cx-text: internal error: {one_line(exc)} (set CX_TEXT_DEBUG=1 for the "
                   "traceback)", err=True)  # fmt: skip
        raise typer.Exit(code=1) from None
    records = result if isinstance(result, list) else [result]
    for record in records:
        _summary(record, out)
    stranded = [r["counts"] for r in records if _all_quarantined(r["counts"])]
    if stranded:
        counts = stranded[0]
        seen, conflicts = counts.get("already_seen", 0), counts.get("stored_conflicts", 0)
        new = counts["quarantined"] - conflicts
        rows = f"{new} new rows" if seen or conflicts else f"{new} rows read"
        also = f"; {seen:,} were already stored" if seen else ""
        also += f", {conflicts:,} with other text (conflicting_id)" if conflicts else ""
        where = "above" if records[0].get("kind") == "inspect" else out.resolve() / "quarantine.csv"
        _fail(f"nothing themed: all {rows} were quarantined{also} (reasons {where})")


def _all_quarantined(counts: dict[str, int]) -> bool:
    """Rows were read and every one of them new to the store was quarantined. A stored id
    delivered again with other text (`stored_conflicts`: a cumulative export that keeps an
    edited row) is quarantined, but it is not a new row: a night that brings only such rows
    has nothing new, it is not a broken input."""
    conflicts = counts.get("stored_conflicts", 0)
    new = counts.get("read", 0) - counts.get("already_seen", 0) - conflicts
    return new > 0 and counts.get("quarantined", 0) - conflicts == new


app.command("run", help="Ingest, clean, fit themes, rank and write every output into --out.")(
    _input_command(lambda job, inputs, out, s: job.run(inputs, out, s))
)
app.command(
    "inspect",
    help="Show what a run would make of INPUTS (columns found, survey tool, rows kept and "
    "quarantined, and why) without running it: nothing is written or stored.",
)(_input_command(lambda job, inputs, out, s: job.inspect(inputs, s)))  # writes nothing
app.command(
    "nightly",
    help="Process only verbatims the store has not seen and assign them to the current themes "
    "(no re-fit); write the updated outputs into --out.",
)(_input_command(lambda job, inputs, out, s: job.nightly(inputs, out, s)))


@app.command("weekly")
def weekly_command(
    week: Annotated[str, typer.Option(help="ISO week (2026-W47) or any date in it.")],
    out: OutOpt = Path("cx-text-out"),
    window_days: Annotated[int | None, _col("Days of history to re-fit on (default 90).")] = None,
    config: ConfigOpt = None,
    state_dir: StateOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Re-fit themes on the rolling window ending with --week, keep ids stable, write outputs."""
    overrides: dict[str, Any] = {"state_dir": state_dir} if state_dir else {}
    if window_days is not None:  # checked against the bounds of [schedule] window_days
        overrides["schedule"] = {"window_days": window_days}
    _execute(quiet, config, overrides,
             lambda job, s: job.weekly(week, out, s, window_days), out)  # fmt: skip


@app.command("backfill")
def backfill_command(
    inputs: Inputs,
    first_week: Annotated[str, typer.Option("--from", help="First ISO week, e.g. 2026-W36.")],
    last_week: Annotated[str, typer.Option("--to", help="Last ISO week, e.g. 2026-W45.")],
    out: OutOpt = Path("cx-text-out"),
    config: ConfigOpt = None,
    state_dir: StateOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Load history week by week from INPUT files, re-fitting themes after each week."""
    _execute(quiet, config, {"state_dir": state_dir} if state_dir else {},
             lambda job, s: job.backfill(inputs, first_week, last_week, out, s), out)  # fmt: skip


@app.command("compare")
def compare_command(
    before: Annotated[str, typer.Option(help="First period: 2026-W40..2026-W43, or one week.")],
    after: Annotated[str, typer.Option(help="Second period, e.g. 2026-W44..2026-W47.")],
    out: OutOpt = Path("cx-text-out"),
    config: ConfigOpt = None,
    state_dir: StateOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Compare two periods of the stored verbatims per theme: writes compare.csv and compare.md."""
    from cx_text import trends

    try:
        trends.parse_period(before), trends.parse_period(after)
    except ValueError as exc:
        _fail(f"--before/--after take ISO weeks like 2026-W40..2026-W43: {exc}")
    _execute(quiet, config, {"state_dir": state_dir} if state_dir else {},
             lambda job, s: job.compare(before, after, out, s), out)  # fmt: skip


def _summary(record: dict[str, Any], out: Path) -> None:
    counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in record["counts"].items())
    if record.get("kind") == "inspect":
        _inspect_summary(record)
        typer.echo(f"a run would count: {counts}")
        return
    typer.echo(counts)
    typer.echo(f"results in {out.resolve()}")


# what a run does without each column (`cx-text inspect`)
_NOT_FOUND = {"score": "none (unscored feedback)", "id": "none (ids are content hashes)",
              "date": "none (dated with the run's time)"}  # fmt: skip


def _inspect_summary(record: dict[str, Any]) -> None:
    """What `cx-text inspect` found in each input, then why rows would be quarantined."""
    for note in record["ingest"]:
        typer.echo(f"{note['input']}: {note['rows']:,} rows")
        for field in ("text", "score", "id", "date"):
            column = note.get(f"{field}_column")
            shown = repr(column) if column else _NOT_FOUND.get(field, "none")
            if column == "":  # found, under an empty header cell
                shown = "a column without a name"
            typer.echo(f"  {field}: {shown}")
        if note.get("date_order"):
            typer.echo(f"  dates: {note['date_order']} ({note['date_order_from']})")
        if note.get("survey_tool"):
            typer.echo(f"  a {note['survey_tool']} export: {note['header_rows']} header row(s) "
                       "under the column names skipped")  # fmt: skip
        for key, what in (
            ("dropped_columns", "columns not read (personal data)"),
            ("skipped_sheets", "sheets without a text column, not read"),
        ):
            if note.get(key):
                typer.echo(f"  {what}: {', '.join(note[key])}")
    for reason, (n, first) in record["quarantine"].items():
        where = ", ".join(f"{i} row {r}" if r is not None else i for i, r in first)
        typer.echo(f"quarantined as {reason}: {n:,} (first: {where})")


themes_app = typer.Typer(help="Look at the theme registry and edit themes.yaml overrides.")
app.add_typer(themes_app, name="themes")


def _themes_context(config: Path | None, state_dir: Path | None) -> tuple[Any, Any, Any]:
    from cx_text import overrides
    from cx_text.store import Store

    settings = load_settings(config, **({"state_dir": state_dir} if state_dir else {}))
    store = Store(settings.store_url_value)
    try:
        registry = store.registry()
    finally:
        store.close()
    spec = overrides.load(settings.overrides_file)
    return settings, registry, spec


@themes_app.command("list")
def themes_list(
    config: ConfigOpt = None,
    state_dir: StateOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON array of theme objects instead of lines.")
    ] = False,
) -> None:
    """Every registered theme: id, status, label, first and last seen, and its overrides."""
    try:
        _, registry, spec = _themes_context(config, state_dir)
    except _user_errors() as exc:
        _fail(str(exc))
        return
    themes = theme_entries(registry, spec)
    if as_json:
        import json

        typer.echo(json.dumps(themes, ensure_ascii=False, indent=2))
        return
    for theme in themes:
        notes = [note for key, note in (
            ("renamed_to", f"renamed to '{theme['renamed_to']}'"),
            ("merged_into", f"merged into {theme['merged_into']}"),
            ("ignored", "ignored in rankings"),
        ) if theme[key]]  # fmt: skip
        extra = f"  [{'; '.join(notes)}]" if notes else ""
        typer.echo(f"{theme['theme_id']}\t{theme['status']}\t{theme['label']}"
                   f"\t{theme['first_seen']}\t{theme['last_seen']}{extra}")  # fmt: skip


def theme_entries(registry: Any, spec: Any) -> list[dict[str, Any]]:
    """The registry sorted by id, one plain dict per theme with its overrides (None: none)."""
    merged = {t: m.into for m in spec.merge for t in m.themes}
    return [
        {
            "theme_id": row.theme_id,
            "status": row.status,
            "label": row.label,
            "first_seen": f"{row.first_seen:%Y-%m-%d}",
            "last_seen": f"{row.last_seen:%Y-%m-%d}",
            "renamed_to": spec.rename.get(row.theme_id),
            "merged_into": merged.get(row.theme_id),
            "ignored": row.theme_id in spec.ignore,
        }
        for row in registry.sort_values("theme_id").itertuples()
    ]


def _edit(config: Path | None, state_dir: Path | None, change: Callable[[Any], str],
          ids: list[str]) -> None:  # fmt: skip
    from cx_text import overrides

    try:
        settings, registry, spec = _themes_context(config, state_dir)
        known = set(registry["theme_id"].astype(str))
        overrides.validate(spec.model_copy(update={"ignore": [*spec.ignore, *ids]}), known,
                           str(settings.overrides_file))  # fmt: skip
        message = change(spec)
        overrides.save(spec, settings.overrides_file)
    except _user_errors() as exc:
        _fail(str(exc))
        return
    typer.echo(f"{message} (saved in {settings.overrides_file}; applied from the next run)")


@themes_app.command("rename")
def themes_rename(
    theme_id: Annotated[str, typer.Argument(help="Theme id, e.g. T003.")],
    label: Annotated[str, typer.Argument(help="The new label.")],
    config: ConfigOpt = None,
    state_dir: StateOpt = None,
) -> None:
    """Give a theme the label analysts use; its id stays."""

    def change(spec: Any) -> str:
        spec.rename[theme_id] = label
        return f"{theme_id} is now '{label}'"

    _edit(config, state_dir, change, [theme_id])


@themes_app.command("merge")
def themes_merge(
    theme_ids: Annotated[list[str], typer.Argument(help="Themes to merge, e.g. T005 T006.")],
    into: Annotated[str, typer.Option(help="The theme that takes their verbatims.")],
    config: ConfigOpt = None,
    state_dir: StateOpt = None,
) -> None:
    """Merge themes into one; the merged ids disappear from every output."""
    from cx_text.overrides import Merge

    def change(spec: Any) -> str:
        spec.merge.append(Merge(into=into, themes=[t for t in theme_ids if t != into]))
        return f"{', '.join(theme_ids)} merged into {into}"

    _edit(config, state_dir, change, [*theme_ids, into])


def _setup_logging(quiet: bool) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="%(asctime)s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )


class ClosableConsole:
    """stdout / stderr of a process whose reader may go away (`cx-text run ... | head`, a log
    collector that died). The first write or flush that finds the pipe closed points the
    descriptor at /dev/null, so the run goes on to its outputs and exit code. Before, the
    `BrokenPipeError` surfaced in whichever thread logged next: a progress bar on the warm-up
    thread left tqdm's lock held and the run hung for good."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return int(self._stream.write(text))
        except BrokenPipeError:
            self._silence()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._silence()

    def _silence(self) -> None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self._stream.fileno())
        finally:
            os.close(devnull)
        with contextlib.suppress(OSError):
            self._stream.flush()  # what the closed pipe refused goes to /dev/null

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def main() -> None:
    sys.stdout, sys.stderr = ClosableConsole(sys.stdout), ClosableConsole(sys.stderr)
    try:
        app()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    else:
        code = 0
    # skip interpreter teardown: DuckDB 2.0's binding prints "leaked" noise there
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
