"""spaCy's attribute ruler against `cx_text.attribute_rules`: same annotations, parse time.

Parses English sentences (the bundled sample's comments split as labels see them, plus the
first 3,000 airline tweets and SemEval-16 restaurant sentences from ../shared/data when present)
with the label pipeline twice: spaCy's own `attribute_ruler`, and the look-ups that replace it
(`labels.english_pipeline()`). Prints the tokens whose `pos_`, `tag_` or `dep_` differ (or
whose noun chunks differ), then each pipeline's parse time, alternating, after a warm-up.

    .venv/bin/python bench/parse_speed.py
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
    SHARED / "airline_tweets" / "tweets_airline.csv": "text",
    SHARED / "semeval_absa_en" / "semeval16_restaurants_sentences.csv": "text",
}


def sentences() -> list[str]:
    comments = pd.read_csv(ROOT / "data" / "sample_feedback.csv", dtype=str)["comment"].dropna()
    out = [s for c in comments for s in re.split(r"(?<=[.!?])\s+", c)
           if s.strip() and not re.search("[а-яА-ЯёЁ]", s)]  # fmt: skip
    for path, column in SETS.items():
        if path.exists():
            out += pd.read_csv(path, dtype=str)[column].dropna().tolist()[:3000]
    return list(dict.fromkeys(out))


def main() -> None:
    import spacy

    from cx_text import labels

    texts = sentences()
    reference = spacy.load(labels.SPACY_MODEL, exclude=["lemmatizer", "ner"])
    fast = labels.english_pipeline()
    differ = tokens = 0
    for a, b in zip(reference.pipe(texts), fast.pipe(texts), strict=True):
        tokens += len(a)
        differ += sum((x.pos_, x.tag_, x.dep_) != (y.pos_, y.tag_, y.dep_)
                      for x, y in zip(a, b, strict=True))  # fmt: skip
        differ += [c.text for c in a.noun_chunks] != [c.text for c in b.noun_chunks]
    print(f"{len(texts):,} sentences, {tokens:,} tokens: {differ} differ")
    for name, nlp in (("spaCy attribute_ruler", reference), ("attribute_rules", fast)) * 2:
        start = time.perf_counter()
        for _ in nlp.pipe(texts, batch_size=64):
            pass
        print(f"{name}: {time.perf_counter() - start:.2f} s", flush=True)


if __name__ == "__main__":
    main()
