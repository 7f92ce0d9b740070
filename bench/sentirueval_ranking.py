"""The ranked theme table of the full cx-text pipeline on 5,560 real Russian tweets.

What it measures: what `cx-text run` tells a CX team on real Russian customer text, the
SentiRuEval-2016 test tweets about 8 banks and 7 telecom operators
(../shared/data/sentirueval2016_tweets_ru/sentirueval2016_test_etalon.csv, read, never copied).
They carry no NPS score, so the annotated sentiment stands in for the NPS role, as in
bench/airline_ranking.py:

    negative / -1 -> score 3 (detractor), neutral / 0 -> 7 (passive),
    positive / 1 -> 10 (promoter), mixed (companies judged differently) -> 7 (passive)

The role is the stand-in; the number only matters for the driver regression.

The script writes a temporary CSV (id = twitid, text, created_at from the unix `date`, or a
fixed date when a row has none, source = survey, score, and `domain` (banks / telecom) and
`company` (the `entities` label) as segment columns), runs the whole pipeline
(`cx_text.job.run`) with its store, models and overrides in the temporary folder, and prints
the top of the ranked theme table and of the promoter view as Markdown. Russian verbatims are
themed with the default Russian backend (navec).

    .venv/bin/python bench/sentirueval_ranking.py [--top 10] [--promoters 5] [--work /tmp/dir]

About 3 minutes on 2 cores.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from airline_ranking import ranking_main

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
SENTIRUEVAL_CSV = SHARED / "sentirueval2016_tweets_ru" / "sentirueval2016_test_etalon.csv"
FIXED_DATE = "2015-07-01 00:00"  # for rows without a date

STAND_IN_SCORE = {
    "negative": 3, "-1": 3,
    "neutral": 7, "0": 7, "mixed": 7,
    "positive": 10, "1": 10,
}  # fmt: skip


def sentirueval_input(path: Path = SENTIRUEVAL_CSV) -> pd.DataFrame:
    """The tweets as a cx-text survey input: id, text, created_at, source, score, segments."""
    raw = pd.read_csv(path, dtype={"twitid": str, "sentiment": str})
    sentiment = raw["sentiment"].str.strip().str.lower()
    unknown = sorted(set(sentiment.dropna()) - set(STAND_IN_SCORE))
    if unknown:
        raise SystemExit(f"unknown sentiment values {unknown}: extend STAND_IN_SCORE")
    if "date" in raw.columns:
        created = pd.to_datetime(pd.to_numeric(raw["date"], errors="coerce"), unit="s")
        created_at = created.dt.strftime("%Y-%m-%d %H:%M").fillna(FIXED_DATE)
    else:
        created_at = pd.Series(FIXED_DATE, index=raw.index)
    return pd.DataFrame(
        {
            "id": raw["twitid"],
            "text": raw["text"],
            "created_at": created_at,
            "source": "survey",
            "score": sentiment.map(STAND_IN_SCORE).astype("Int64"),
            "domain": raw["domain"],
            "company": raw["entities"],
        }
    )


def main() -> int:
    return ranking_main(
        __doc__, SENTIRUEVAL_CSV, sentirueval_input, "sentirueval2016_tweets", extra=("language",)
    )


if __name__ == "__main__":
    sys.exit(main())
