"""Label and facet checks on a run's output folder (issue 16).

    PYTHONPATH=. .venv/bin/python bench/labels.py OUT_DIR [--relabel] [--parsed 300,100,50]

Prints, for the themes and facets of OUT_DIR/themes.csv (unclassified aside):
- the label check: the share of labels found, as a contiguous case-folded word sequence, in at
  least 3% of their theme's mention sentences (OUT_DIR/mentions.csv), label lengths, the themes
  sharing a label with another, and the split topics whose problem and praise facets share one;
- the facet checks: how many of the top 10 detractor themes have problem_share >= 0.8 and how
  many of the top 10 promoter themes praise_share >= 0.8, and the number of split topics.

`--relabel` also labels every theme again with `cx_text.labels.relabel` on the same
mentions (what the current code writes), checks those labels and prints the seconds the first
relabelling took in this process (the spaCy pipeline loaded before, timed apart; wall time on
whatever else the machine runs).

`--parsed N,M,...` relabels every theme once per value of `labels.PARSED_SENTENCES` (how many
of a theme's sentences the spaCy pipeline parses for candidate phrases; every sentence is still
counted), each from an empty parse memory, and prints per value the label check, how many
labels equal those of the first value, the seconds, and the labels that differ.

`--truth FILE --truth-id COL --truth-col COL [--central 0,1,2,3]` relabels every theme once per
value of `labels.CENTRAL_POWER` and scores the labels against a known class of each verbatim
(the sample's planted theme, the airline tweets' negative reason, a restaurant review's aspect):
a label is "on theme" when the mention sentences holding it (in its language) mostly carry the
class most of the theme's mentions carry. Printed per value: the label check, the share of
labels on theme (`label` or, for bilingual themes, `label_en` and `label_ru` separately, each
over the themes with >= 5 known mentions in that language), the share of bilingual themes whose
two labels point at one class, and how many labels differ from the first value's:

    bench/labels.py out/demo --truth data/sample_truth.csv --truth-id response_id \
        --truth-col theme --central 0,1,2,3
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import pandas as pd

from cx_text import labels
from cx_text.outputs import markdown_table

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def label_rows(themes: pd.DataFrame, mentions: pd.DataFrame) -> dict[str, object]:
    kept = themes[themes["theme_id"].astype(str) != "unclassified"]
    lengths = kept["label"].astype(str).map(lambda s: len(labels.words(s)))
    folded, ids = kept["label"].astype(str).str.casefold(), kept["theme_id"].astype(str)
    facet = ids.str.endswith(("+", "-"))  # a facet's id is its topic's with + or -
    return {
        "themes": len(kept),
        "label check (>= 3% of sentences)": f"{labels.label_check(kept, mentions):.1%}",
        "2-6 words": f"{lengths.between(2, 6).mean():.1%}",
        "with a comma": int(kept["label"].astype(str).str.contains(",").sum()),
        "sharing a label with another theme": int(folded.duplicated(keep=False).sum()),
        "split topics whose two facets share a label": int(
            (folded[facet].groupby(ids[facet].str[:-1]).nunique() == 1).sum()
        ),
    }


def facet_rows(out: Path) -> dict[str, object]:
    themes = pd.read_csv(out / "themes.csv")
    top_d = pd.read_csv(out / "top_detractor_themes.csv").head(10)
    top_p = pd.read_csv(out / "top_promoter_themes.csv").head(10)
    facets = themes[themes["facet"].fillna("").astype(str) != ""]
    return {
        "split topics": facets["topic_id"].nunique(),
        "top detractor themes with problem_share >= 0.8": f"{(top_d['problem_share'] >= 0.8).sum()}"
        f" / {len(top_d)}",
        "top promoter themes with praise_share >= 0.8": f"{(top_p['praise_share'] >= 0.8).sum()}"
        f" / {len(top_p)}",
    }


def compare_parsed(out: Path, sizes: list[int]) -> None:
    """Labels with each parse sample size against the first size's (see the module doc)."""
    themes = pd.read_csv(out / "themes.csv", keep_default_na=False)
    mentions = pd.read_csv(out / "mentions.csv", keep_default_na=False)
    labels.english_pipeline()
    first: list[str] = []
    rows, changed = [], []
    for size in sizes:
        labels.PARSED_SENTENCES = size
        labels._PARSED.clear()
        start = time.perf_counter()
        again = labels.relabel(themes, mentions)
        seconds = time.perf_counter() - start
        names = again["label"].astype(str).tolist()
        first = first or names
        changed += [(size, a, b) for a, b in zip(first, names, strict=True) if a != b]
        rows.append({"parsed sentences per theme": size, "themes": len(again),
                     f"labels as with {sizes[0]}": sum(a == b for a, b in zip(first, names,
                                                                                strict=True)),
                     "label check": f"{labels.label_check(again, mentions):.1%}",
                     "relabel s": f"{seconds:.1f}"})  # fmt: skip
    print(markdown_table(pd.DataFrame(rows)))
    for size, before, after in changed:
        print(f"  {size}: {before!r} -> {after!r}")
    print(f"\nload average {os.getloadavg()[0]:.1f}")


def _holding(sentences: pd.Series, label: str) -> pd.Series:
    """Which `sentences` hold `label` as a contiguous, case-folded word sequence."""
    wanted = f" {' '.join(labels.words(label)).casefold()} "
    return sentences.map(lambda s: wanted in f" {' '.join(labels.words(str(s))).casefold()} ")


def on_theme(themes: pd.DataFrame, mentions: pd.DataFrame) -> dict[str, str]:
    """Share of labels whose sentences mostly carry their theme's majority class (see the
    module doc); `mentions` carry `truth` (NaN: unknown)."""
    known = mentions[mentions["truth"].notna()]
    cyrillic = known["sentence"].astype(str).str.contains("[а-яА-ЯёЁ]", regex=True)
    bilingual = {"label_en", "label_ru"} <= set(themes.columns)
    columns = {"label_en": ~cyrillic, "label_ru": cyrillic} if bilingual else {
        "label": cyrillic | ~cyrillic}  # fmt: skip
    hits: dict[str, list[bool]] = {column: [] for column in columns}
    same: list[bool] = []
    for _, row in themes[themes["theme_id"].astype(str) != "unclassified"].iterrows():
        mine = known[known["theme_id"].astype(str) == str(row["theme_id"])]
        if mine.empty:
            continue
        majority = mine["truth"].value_counts().index[0]
        pointed = {}
        for column, language in columns.items():
            said = mine[language.loc[mine.index]]
            label = str(row[column] or "")
            if len(said) < 5 or not label:
                continue
            held = said[_holding(said["sentence"], label)]
            pointed[column] = held["truth"].value_counts().index[0] if len(held) else None
            hits[column].append(pointed[column] == majority)
        if len(pointed) == 2:
            same.append(pointed["label_en"] == pointed["label_ru"])
    out = {f"{column} on theme": f"{sum(v) / len(v):.2f} of {len(v)}"
           for column, v in hits.items() if v}  # fmt: skip
    if same:
        agreed = sum(same) / len(same)
        out["label_en and label_ru one class"] = f"{agreed:.2f} of {len(same)}"
    return out


def compare_central(out: Path, powers: list[float], truth: pd.Series) -> None:
    """Labels with each `labels.CENTRAL_POWER`, scored against `truth` (verbatim id -> class)."""
    themes = pd.read_csv(out / "themes.csv", keep_default_na=False)
    mentions = pd.read_csv(out / "mentions.csv", keep_default_na=False,
                           dtype={"verbatim_id": str})  # fmt: skip
    mentions["truth"] = mentions["verbatim_id"].map(truth)
    columns = [c for c in ("label", "label_en", "label_ru") if c in themes.columns]
    rows, first = [], None
    for power in powers:
        labels.CENTRAL_POWER = power
        again = labels.relabel(themes, mentions)
        names = again[columns].astype(str)
        first = names if first is None else first
        rows.append({"CENTRAL_POWER": power,
                     "label check": f"{labels.label_check(again, mentions):.1%}",
                     **on_theme(again, mentions),
                     "labels changed": int((names != first).to_numpy().sum())})  # fmt: skip
    print(markdown_table(pd.DataFrame(rows)))
    print(f"\nload average {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--relabel", action="store_true")
    parser.add_argument("--parsed", default="", help="comma-separated PARSED_SENTENCES values")
    parser.add_argument("--truth", type=Path, help="a CSV of each verbatim's known class")
    parser.add_argument("--truth-id", default="response_id", help="its verbatim id column")
    parser.add_argument("--truth-col", default="theme", help="its class column")
    parser.add_argument("--central", default="0,1,2,3", help="CENTRAL_POWER values (--truth)")
    args = parser.parse_args()
    if args.truth:
        known = pd.read_csv(args.truth, dtype={args.truth_id: str})
        known = known.drop_duplicates(args.truth_id).set_index(args.truth_id)[args.truth_col]
        compare_central(args.out, [float(p) for p in args.central.split(",")], known)
        return
    if args.parsed:
        compare_parsed(args.out, [int(n) for n in args.parsed.split(",")])
        return
    themes = pd.read_csv(args.out / "themes.csv", keep_default_na=False)
    mentions = pd.read_csv(args.out / "mentions.csv", keep_default_na=False)
    rows = {"as written": label_rows(themes, mentions)}
    if args.relabel:
        start = time.perf_counter()
        labels.english_pipeline()
        loaded = time.perf_counter()
        again = labels.relabel(themes, mentions)
        done = time.perf_counter()
        rows["relabelled now"] = label_rows(again, mentions)
    print(markdown_table(pd.DataFrame(rows).rename_axis("check").reset_index()))
    print()
    facts = facet_rows(args.out)
    print(markdown_table(pd.DataFrame({"check": list(facts), "value": list(facts.values())})))
    if args.relabel:
        print(f"\nrelabel {done - loaded:.1f} s (spaCy pipeline load {loaded - start:.1f} s); "
              f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
        shown = again[["theme_id", "label"]].assign(before=themes["label"]).head(40)
        print()
        print(markdown_table(shown))


if __name__ == "__main__":
    main()
