"""The `cx-text` command line. User mistakes end with one line on stderr and exit code 2."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from cx_text.settings import ConfigError, load_settings

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="Turn NPS comments and complaints into ranked, actionable themes.",
)


@app.callback()
def _root() -> None:
    """cx-text: NPS comments and complaints -> ranked themes, reports and follow-up lists."""


USER_ERRORS: tuple[type[Exception], ...] = (ConfigError,)


def _user_errors() -> tuple[type[Exception], ...]:
    from cx_text.ingest import InputError
    from cx_text.schemas import SchemaError

    return (*USER_ERRORS, InputError, SchemaError, FileNotFoundError)


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
        help="Files (.csv .tsv .xlsx .parquet .jsonl) or SQL inputs 'sql:SELECT ...' / "
        "'table:NAME' read through the URL in [ingest] sql_url / CX_TEXT_INGEST__SQL_URL.",
        show_default=False,
    ),
]


def _col(help_text: str) -> Any:
    return typer.Option(help=help_text, show_default=False)


def _overrides(
    columns: dict[str, str | None], source: str | None, scale: str | None, **top: Any
) -> dict[str, Any]:
    ingest: dict[str, Any] = {"columns": {k: v for k, v in columns.items() if v is not None}}
    if source is not None:
        ingest["default_source"] = source
    if scale is not None:
        ingest["scale"] = scale
    result: dict[str, Any] = {"ingest": ingest}
    result.update({k: v for k, v in top.items() if v is not None})
    return result


@app.command("run")
def run_command(
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
        str | None, _col("Source of rows without a source column: survey, complaint or other.")
    ] = None,
    scale: Annotated[
        str | None, _col("Score scale of survey rows: nps (0-10), csat (1-5) or ces (1-7).")
    ] = None,
    state_dir: Annotated[
        Path | None, _col("Store folder (default ./.cx-text, also CX_TEXT_STATE_DIR).")
    ] = None,
    language: Annotated[str | None, _col("Force one language code for every verbatim.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only print the summary.")] = False,
) -> None:
    """Ingest, clean, store and write the outputs of one run into --out."""
    _setup_logging(quiet)
    columns = {
        "text": text_col, "score": score_col, "id": id_col, "date": date_col,
        "customer_id": customer_col, "touchpoint": touchpoint_col, "channel": channel_col,
        "source": source_col,
    }  # fmt: skip
    try:
        settings = load_settings(
            config, **_overrides(columns, source, scale, state_dir=state_dir, language=language)
        )
        from cx_text import job

        record = job.run(inputs, out, settings)
    except _user_errors() as exc:
        _fail(str(exc))
        return
    _summary(record, out)


def _summary(record: dict[str, Any], out: Path) -> None:
    counts = record["counts"]
    typer.echo(
        "read {read}: themed {themed}, quarantined {quarantined}, duplicates {duplicates}, "
        "non-answers {non_answers}".format(**counts)
    )
    typer.echo(f"results in {out.resolve()}")


def _setup_logging(quiet: bool) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="%(asctime)s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )


def main() -> None:
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
