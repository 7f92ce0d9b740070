"""The ranked theme table of the full cx-text pipeline on 14,640 real airline tweets.

What it measures: what `cx-text run` tells a CX team on real customer text. The Twitter
US-airline tweets (../shared/data/airline_tweets/tweets_airline.csv, read, never copied) carry
no NPS score, so the annotated sentiment stands in for the NPS role:

    negative -> score 3 (detractor), neutral -> 7 (passive), positive -> 10 (promoter)

The role is the stand-in; the number only matters for the driver regression (`driver_coef`,
an OLS of the 0-10 score on theme presence), every other figure uses the role alone.

The script writes a temporary CSV (id = tweet_id, text, created_at = tweet_created parsed from
dd-mm-YYYY HH:MM and written as ISO so no day/month guessing is involved, source = survey,
score, airline as a segment column), runs the whole pipeline (`cx_text.job.run`, like
`cx-text run`) with its store, models and overrides in the temporary folder (the repository's
own state is never touched), and prints the top of the ranked theme table and of the promoter
view as Markdown.

    .venv/bin/python bench/airline_ranking.py [--top 10] [--promoters 5] [--work /tmp/dir]

About 8 minutes on 2 cores (embedding 14,640 tweets with all-MiniLM-L6-v2 is most of it).
Outputs stay in the work folder (printed at the end).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
AIRLINE_CSV = SHARED / "airline_tweets" / "tweets_airline.csv"

# stand-in NPS score per sentiment: only the role matters, except for the driver regression
STAND_IN_SCORE = {"negative": 3, "neutral": 7, "positive": 10}


def airline_input(path: Path = AIRLINE_CSV) -> pd.DataFrame:
    """The tweets as a cx-text survey input: id, text, created_at, source, score, airline."""
    raw = pd.read_csv(path, dtype={"tweet_id": str})
    created = pd.to_datetime(raw["tweet_created"], format="%d-%m-%Y %H:%M")
    return pd.DataFrame(
        {
            "id": raw["tweet_id"],
            "text": raw["text"],
            "created_at": created.dt.strftime("%Y-%m-%d %H:%M"),
            "source": "survey",
            "score": raw["airline_sentiment"].map(STAND_IN_SCORE).astype("Int64"),
            "airline": raw["airline"],
        }
    )


def run_pipeline(frame: pd.DataFrame, work: Path, name: str) -> Path:
    """Write `frame` as a CSV in `work` and run the full pipeline on it with a private state.

    Returns:
        The output folder of the run (themes.csv, top_promoter_themes.csv, run.json, ...).
    """
    from cx_text import job
    from cx_text.settings import load_settings

    work.mkdir(parents=True, exist_ok=True)
    data = work / f"{name}.csv"
    frame.to_csv(data, index=False)
    settings = load_settings(
        state_dir=work / "state",
        models_dir=work / "models",
        overrides_file=work / "no-overrides.yaml",  # absent: the repo's themes.yaml is not used
        embedding={"show_progress": False},
    )
    out = work / "out"
    record = job.run([str(data)], out, settings)
    counts = record["counts"]
    print(f"counts: {counts}", file=sys.stderr)
    print(f"overall NPS: {record['nps']}", file=sys.stderr)
    print(f"timings (s): {record['timings']}", file=sys.stderr)
    themes = pd.read_csv(out / "assignments.csv")["theme_id"]
    print(f"themes: {themes[themes != 'unclassified'].nunique()}, "
          f"unclassified: {(themes == 'unclassified').mean():.1%}", file=sys.stderr)  # fmt: skip
    return out


def _points(value: float) -> str:
    return "" if pd.isna(value) else f"{value:+.1f}"


def _short_keywords(keywords: object, n: int = 5) -> str:
    words = [w.strip() for w in str(keywords or "").split(",") if w.strip()]
    return ", ".join(words[:n])


def ranked_table(out: Path, top: int, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """The top `top` rows of themes.csv (unclassified left out), formatted for reading."""
    ranked = pd.read_csv(out / "themes.csv")
    ranked = ranked[ranked["theme_id"] != "unclassified"].head(top)
    impact = [
        f"{_points(v)} [{_points(lo)}, {_points(hi)}]"
        for v, lo, hi in zip(ranked["nps_impact"], ranked["nps_impact_low"],
                             ranked["nps_impact_high"], strict=True)
    ]  # fmt: skip
    table = pd.DataFrame(
        {
            "rank": ranked["rank"],
            "label": ranked["label"],
            "n_verbatims": ranked["n_verbatims"],
            "theme_nps": ranked["theme_nps"].map(lambda v: f"{v:.0f}"),
            "nps_impact [95% CI]": impact,
            "detractor_share": ranked["detractor_share"].map(lambda v: f"{100 * v:.1f}%"),
            "significant": ranked["significant"].map(lambda v: "yes" if v else "no"),
            **{col: ranked[col] for col in extra},
            "keywords": ranked["keywords"].map(_short_keywords),
        }
    )
    return table.reset_index(drop=True)


def promoter_table(out: Path, top: int) -> pd.DataFrame:
    """The top `top` rows of the promoter view (themes whose promoter rate beats the overall)."""
    view = pd.read_csv(out / "top_promoter_themes.csv").head(top)
    return pd.DataFrame(
        {
            "rank": view["rank"],
            "label": view["label"],
            "n_verbatims": view["n_verbatims"],
            "promoter_rate": view["promoter_rate"].map(lambda v: f"{100 * v:.0f}%"),
            "promoter_share": view["promoter_share"].map(lambda v: f"{100 * v:.1f}%"),
            "theme_nps": view["theme_nps"].map(lambda v: f"{v:.0f}"),
            "nps_impact": view["nps_impact"].map(_points),
            "keywords": view["keywords"].map(_short_keywords),
        }
    )


def markdown(frame: pd.DataFrame) -> str:
    from cx_text.outputs import markdown_table

    return markdown_table(frame)


def ranking_main(
    doc: str | None,
    source: Path,
    load: Callable[[], pd.DataFrame],
    name: str,
    extra: tuple[str, ...] = (),
) -> int:
    """The command line shared by the ranking benchmarks: run on `load()`, print the tables."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--top", type=int, default=10, help="rows of the ranked table")
    parser.add_argument("--promoters", type=int, default=5, help="rows of the promoter view")
    parser.add_argument("--work", type=Path, default=None, help="work folder (default: temp dir)")
    args = parser.parse_args()
    if not source.exists():
        print(f"{source} not found: nothing to measure", file=sys.stderr)
        return 1
    work = args.work or Path(tempfile.mkdtemp(prefix=f"cx-{name}-"))
    frame = load()
    roles = frame["score"].map({3: "detractor", 7: "passive", 10: "promoter"}).value_counts()
    print(f"{len(frame)} tweets, stand-in roles: {roles.to_dict()}", file=sys.stderr)
    out = run_pipeline(frame, work, name)
    print(f"### Top {args.top} ranked themes\n")
    print(markdown(ranked_table(out, args.top, extra=extra)))
    print(f"\n### Top {args.promoters} promoter themes\n")
    print(markdown(promoter_table(out, args.promoters)))
    print(f"\noutputs: {out}", file=sys.stderr)
    return 0


def main() -> int:
    return ranking_main(__doc__, AIRLINE_CSV, airline_input, "airline_tweets")


if __name__ == "__main__":
    sys.exit(main())
