"""One theme space for Russian and English: Russian backends and linking, side by side.

Corpora (read, never copied):

  - restaurants: SemEval-16 English restaurant sentences with one aspect category, mapped to
    Food / Service / Interior / Price (FOOD#* and DRINKS#* -> Food, SERVICE#GENERAL -> Service,
    AMBIENCE#GENERAL -> Interior, *#PRICES -> Price; the other categories are left out), plus
    the SentiRuEval-2015 Russian restaurant train sentences with one category (same scheme,
    ../shared/data/sentirueval2015_absa_ru_train/SOURCE.txt);
  - sample: the bundled `data/sample_feedback.csv`, rows whose truth `kind` is `ok`, language
    and planted theme from `data/sample_truth.csv` (not the pipeline's cleaning: theming only);
  - sample-run: the whole product on the bundled sample, `cx-text run data/sample_feedback.csv`
    (default settings, `[themes] random_state` set per seed through CX_TEXT_THEMES__RANDOM_STATE;
    cleaning, sentence mentions, polarity and facets included), each seed in its own process
    on an empty store, scored on its outputs as `bench/pipeline.py` scores its cold run of the
    sample (a facet counts as its topic; `--configs` is ignored).

Each configuration runs `cx_text.theming.fit_themes` (English always on all-MiniLM-L6-v2):

  - `navec`, `e5`, `minilm`: the backend the Russian group is clustered with, per language,
    nothing linked (today's behaviour with that backend);
  - `... + links`: the same, then Russian verbatims linked to English themes and the Russian
    group regrouped around them (`cx_text.linking`, multilingual-e5-small on each English
    theme's `link_examples` most central verbatims and on up to `link_members` verbatims of
    each Russian theme).

Figures, every document counted (unclassified = one cluster):

  - NMI aspect / NMI planted: NMI of the theme ids against the aspect (restaurants) or the
    planted theme (sample): higher is better;
  - NMI language: NMI of the theme ids against the language: lower is better (a theme per
    concept, not per language);
  - shared (sample): of the planted themes with >= 20 English and >= 20 Russian verbatims, the
    share whose English and Russian majority theme ids are one id ("strict"), and the share
    with one theme id holding >= 20 verbatims of each language ("lenient");
  - link s: seconds spent in `linking.link_groups` (e5 and the regroup), embed s: seconds
    embedding.

With several `--seeds` (UMAP random_state) each figure is the mean, +- the standard deviation.
Timings are wall-clock on whatever else the machine runs.

`--export DIR` writes the restaurants corpus as an export a user would run instead
(`DIR/restaurants.csv`: review_id, comment, created_at) and its truth
(`DIR/restaurants_truth.csv`: review_id, truth, language), for `cx-text run` and
`bench/labels.py --truth`, and exits.

    .venv/bin/python bench/bilingual.py [--corpus restaurants,sample,sample-run] [--seeds 42]
        [--configs "navec,navec + links,e5 + links"] [--limit N] [--e5-weight 0.3]
        [--link-neighbours 10]   # 0: each linked Russian verbatim to the nearest English centre
        [--sibling-share 0.2]    # 1: English themes a Russian theme splits between never merge
        [--sibling-similarity 0.7]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import normalized_mutual_info_score

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RU_ABSA = SHARED / "sentirueval2015_absa_ru_train" / "sentences_train.csv"
EN_ABSA = SHARED / "semeval_absa_en" / "semeval16_restaurants_sentences.csv"
BACKENDS = {"navec": "navec", "e5": "e5", "minilm": "all-MiniLM-L6-v2"}
CONFIGS = ("navec", "navec + links", "e5", "e5 + links", "minilm + links")
MIN_PER_LANGUAGE = 20


def english_aspect(category: str) -> str | None:
    """SemEval-16 category -> the SentiRuEval-2015 restaurant aspect, or None."""
    entity, attribute = category.split("#")
    if attribute == "PRICES":
        return "Price"
    if entity in ("FOOD", "DRINKS"):
        return "Food"
    return {"SERVICE": "Service", "AMBIENCE": "Interior"}.get(entity)


def restaurants(limit: int | None) -> pd.DataFrame:
    """text, language, truth (aspect) of the bilingual restaurant corpus."""
    en = pd.read_csv(EN_ABSA).dropna(subset=["single_category"])
    en = en.assign(truth=en["single_category"].map(english_aspect), language="en").dropna(
        subset=["truth"]
    )
    ru = pd.read_csv(RU_ABSA)
    ru = ru[(ru["domain"] == "restaurants") & ru["single_category"].notna()]
    ru = ru.assign(truth=ru["single_category"], language="ru")
    both = pd.concat([en, ru], ignore_index=True)[["text", "language", "truth"]]
    return both.sample(n=min(limit, len(both)), random_state=0) if limit else both


def sample(limit: int | None) -> pd.DataFrame:
    """text, language, truth (planted theme) of the bundled sample's themed rows."""
    feedback = pd.read_csv(ROOT / "data" / "sample_feedback.csv", dtype=str)
    truth = pd.read_csv(ROOT / "data" / "sample_truth.csv", dtype=str)
    both = feedback.assign(language=truth["language"], truth=truth["theme"], kind=truth["kind"])
    both = both[(both["kind"] == "ok") & both["comment"].notna()]
    both = both.rename(columns={"comment": "text"})[["text", "language", "truth"]]
    return both.sample(n=min(limit, len(both)), random_state=0) if limit else both


def verbatims(corpus: pd.DataFrame) -> pd.DataFrame:
    """The columns theming reads, one verbatim per row."""
    n = len(corpus)
    return pd.DataFrame({
        "verbatim_id": [f"v{i:05d}" for i in range(n)], "text": corpus["text"].to_numpy(),
        "language": corpus["language"].to_numpy(), "is_non_answer": False,
        "created_at": pd.Timestamp("2026-11-02"),
    })  # fmt: skip


def shared_share(frame: pd.DataFrame) -> tuple[float, float]:
    """(strict, lenient) share of bilingual planted themes that share one theme id."""
    strict, lenient = [], []
    for _, rows in frame[frame["truth"].notna()].groupby("truth"):
        en, ru = (rows.loc[rows["language"] == lang, "theme_id"] for lang in ("en", "ru"))
        if len(en) < MIN_PER_LANGUAGE or len(ru) < MIN_PER_LANGUAGE:
            continue
        top_en, top_ru = en.value_counts().index[0], ru.value_counts().index[0]
        strict.append(top_en == top_ru and top_en != "unclassified")
        both = pd.concat([en.value_counts(), ru.value_counts()], axis=1).fillna(0)
        both = both.drop(index="unclassified", errors="ignore")
        lenient.append(bool((both.min(axis=1) >= MIN_PER_LANGUAGE).any()))
    return float(np.mean(strict)), float(np.mean(lenient))


def read_in_parts(corpus: pd.DataFrame) -> int:
    """How many of the corpus's texts have mentions (`sentences.pooled_parts` splits them)."""
    from cx_text.clean import model_text
    from cx_text.sentences import pooled_parts
    from cx_text.settings import ThemeSettings

    min_chars = ThemeSettings().sentence_min_chars
    texts = (model_text(t) for t in corpus["text"].astype(str))
    return sum(len(pooled_parts(t, min_chars)) > 1 for t in texts)


def run_config(
    corpus: pd.DataFrame,
    config: str,
    seed: int,
    cache: Any,
    e5_weight: float = 0.0,
    link_neighbours: int | None = None,
    sibling_share: float | None = None,
    sibling_similarity: float | None = None,
) -> dict[str, float]:
    """Fit one configuration and measure it (`e5_weight`: English on MiniLM joined with e5;
    `link_neighbours`, `sibling_share`, `sibling_similarity`: [themes] link_neighbours,
    link_sibling_share and link_sibling_similarity, None for the default)."""
    from cx_text import linking, theming
    from cx_text.settings import Settings

    backend, linked = config.split(" + ")[0], config.endswith("+ links")
    settings = Settings(embedding={"russian_model": BACKENDS[backend], "show_progress": False,
                                   "e5_weight": e5_weight},
                        themes={"random_state": seed, "link_languages": linked,
                                "split_sentences": False,
                                **({} if link_neighbours is None
                                   else {"link_neighbours": link_neighbours}),
                                **({} if sibling_share is None
                                   else {"link_sibling_share": sibling_share}),
                                **({} if sibling_similarity is None
                                   else {"link_sibling_similarity":
                                         sibling_similarity})})  # fmt: skip
    spent: dict[str, float] = {}
    inner = linking.link_groups

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            spent["link"] = time.perf_counter() - start

    linking.link_groups = timed  # type: ignore[assignment]
    embedded = cache.seconds
    try:
        frame = verbatims(corpus)
        found = theming.fit_themes(frame, settings, cache)
    finally:
        linking.link_groups = inner  # type: ignore[assignment]
    # assignments come group by group: align them with the corpus by verbatim id
    theme_ids = found.assignments.set_index("verbatim_id")["theme_id"]
    themed = corpus.reset_index(drop=True).assign(
        theme_id=theme_ids.reindex(frame["verbatim_id"]).fillna("unclassified").to_numpy()
    )
    strict, lenient = shared_share(themed)
    return {
        "NMI truth": normalized_mutual_info_score(themed["truth"], themed["theme_id"]),
        "NMI language": normalized_mutual_info_score(themed["language"], themed["theme_id"]),
        "shared strict": strict, "shared lenient": lenient,
        "themes": float(len(set(themed["theme_id"]) - {"unclassified"})),
        "unclassified": float((themed["theme_id"] == "unclassified").mean()),
        "link s": spent.get("link", 0.0), "embed s": cache.seconds - embedded,
    }  # fmt: skip


def whole_runs(seeds: list[int]) -> str:
    """`cx-text run` on the bundled sample once per seed (see the module doc): a table of the
    shared strict and lenient shares and NMI(theme, planted) per seed, with their mean +- sd."""
    import subprocess
    import tempfile

    from pipeline import bilingual_shares

    from cx_text.outputs import markdown_table

    truth = pd.read_csv(ROOT / "data" / "sample_truth.csv", dtype=str).drop_duplicates(
        "response_id"
    )
    rows = []
    for seed in seeds:
        with tempfile.TemporaryDirectory(prefix="cx-bilingual-") as tmp:
            out = Path(tmp) / "out"
            env = {**os.environ, "CX_TEXT_THEMES__RANDOM_STATE": str(seed)}
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "cx_text", "run",
                            str(ROOT / "data" / "sample_feedback.csv"), "--out", str(out),
                            "--state-dir", str(Path(tmp) / "state"), "--quiet"],
                           check=True, env=env, cwd=tmp, stdout=subprocess.DEVNULL)  # fmt: skip
            seconds = time.perf_counter() - started
            shares = bilingual_shares(out)
            themes = pd.read_csv(out / "themes.csv", dtype=str)
            topic = dict(zip(themes["theme_id"], themes["topic_id"], strict=True))
            assigned = pd.read_csv(out / "assignments.csv", dtype=str)
            assigned = assigned.merge(truth, left_on="verbatim_id", right_on="response_id")
            assigned = assigned[assigned["theme"].notna()]
            topics = assigned["theme_id"].map(topic).fillna(assigned["theme_id"])
            planted = normalized_mutual_info_score(assigned["theme"], topics)
        rows.append({"seed": seed, "shared strict": shares["shared_strict"],
                     "shared lenient": shares["shared_lenient"], "NMI planted": planted,
                     "run s": seconds})  # fmt: skip
        print(rows[-1], file=sys.stderr)
    frame = pd.DataFrame(rows)
    mean = {c: f"{frame[c].mean():.3f} ± {frame[c].std():.3f}" for c in frame.columns[1:]}
    table = frame.assign(**{c: frame[c].map("{:.3f}".format) for c in frame.columns[1:]})
    table = pd.concat([table.astype(str), pd.DataFrame([{"seed": "mean", **mean}])])
    return markdown_table(table)


def export_restaurants(folder: Path) -> int:
    """The restaurants corpus as `folder/restaurants.csv` (an export) and its truth."""
    corpus = restaurants(None).reset_index(drop=True)
    corpus = corpus.assign(review_id=[f"r{i:05d}" for i in range(len(corpus))],
                           created_at="2026-11-02")  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    corpus.rename(columns={"text": "comment"})[["review_id", "comment", "created_at"]].to_csv(
        folder / "restaurants.csv", index=False
    )
    corpus[["review_id", "truth", "language"]].to_csv(folder / "restaurants_truth.csv",
                                                      index=False)  # fmt: skip
    print(f"{len(corpus)} reviews -> {folder}", file=sys.stderr)
    return 0


def summary(config: str, runs: list[dict[str, float]], truth_name: str) -> dict[str, str]:
    frame = pd.DataFrame(runs)

    def cell(column: str, digits: int = 3) -> str:
        mean = f"{frame[column].mean():.{digits}f}"
        return mean + (f" ± {frame[column].std():.{digits}f}" if len(frame) > 1 else "")

    return {"config": config, f"NMI {truth_name}": cell("NMI truth"),
            "NMI language": cell("NMI language"), "shared strict": cell("shared strict", 2),
            "shared lenient": cell("shared lenient", 2), "themes": cell("themes", 1),
            "unclassified": cell("unclassified"), "link s": cell("link s", 0),
            "embed s": cell("embed s", 0)}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", default="restaurants,sample")
    parser.add_argument("--seeds", default="42", help="UMAP seeds, comma-separated")
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--limit", type=int, default=None, help="a random sample of N texts")
    parser.add_argument(
        "--e5-weight",
        type=float,
        default=0.0,
        help="[embedding] e5_weight: English on MiniLM joined with e5 (0.3)",
    )
    parser.add_argument(
        "--link-neighbours",
        type=int,
        default=None,
        help="[themes] link_neighbours (default: the product's, 10)",
    )
    parser.add_argument(
        "--sibling-share",
        type=float,
        default=None,
        help="[themes] link_sibling_share (default: the product's, 0.2; 1: English themes "
        "never merge)",
    )
    parser.add_argument(
        "--sibling-similarity",
        type=float,
        default=None,
        help="[themes] link_sibling_similarity (default: the product's, 0.7)",
    )
    parser.add_argument("--export", type=Path, help="write the restaurants corpus as an export")
    args = parser.parse_args()
    if args.export:
        return export_restaurants(args.export)
    from cx_text.embedding_cache import EmbeddingCache
    from cx_text.outputs import markdown_table
    from cx_text.settings import EmbeddingSettings

    cache = EmbeddingCache(lambda model_id, hashes: {}, EmbeddingSettings(show_progress=False))
    seeds = [int(s) for s in args.seeds.split(",")]
    for name in args.corpus.split(","):
        if name == "sample-run":
            print(f"\n### sample-run\n\n{whole_runs(seeds)}")
            continue
        if name == "restaurants" and not (RU_ABSA.exists() and EN_ABSA.exists()):
            print(f"{RU_ABSA.parent} not found: restaurants skipped", file=sys.stderr)
            continue
        corpus = restaurants(args.limit) if name == "restaurants" else sample(args.limit)
        counts = corpus["language"].value_counts().to_dict()
        print(f"\n{name}: {len(corpus)} texts {counts}, seeds {seeds}", file=sys.stderr)
        print(f"{name}: {read_in_parts(corpus)} of {len(corpus)} texts have mentions, which a "
              "run's e5 reads part by part (`themes.pool_sentences`; not in these theming-only "
              "fits, where mentions are off)")  # fmt: skip
        rows = []
        for config in args.configs.split(","):
            runs = [
                run_config(
                    corpus,
                    config.strip(),
                    seed,
                    cache,
                    args.e5_weight,
                    args.link_neighbours,
                    args.sibling_share,
                    args.sibling_similarity,
                )
                for seed in seeds
            ]
            rows.append(summary(config.strip(), runs,
                                "aspect" if name == "restaurants" else "planted"))  # fmt: skip
            print(rows[-1], file=sys.stderr)
        print(f"\n### {name}\n\n{markdown_table(pd.DataFrame(rows))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
