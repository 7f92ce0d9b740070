"""Themes of the airline export per UMAP seed, with and without the cluster cap.

HDBSCAN's excess-of-mass selection can pick the trunk of its cluster tree, most of the corpus, as
one cluster (README, How themes are found, "No theme of most of the corpus"). This bench reads
the airline export (../shared/data, never copied) with all its columns, maps and cleans it as a
run does (`ingest.to_verbatims`, `clean.clean_verbatims`, complaints), embeds the documents'
model texts with the product's English encoder (all-MiniLM-L6-v2, cached in bench/.cache) and
fits `ThemeModel` with default settings once per seed, with the cap (`themes.MAX_CLUSTER_FROM`
as shipped) and without it. It prints, per seed, the themes found and the largest theme's share
of the documents.

    PYTHONPATH=. .venv/bin/python bench/collapse.py [--seeds 1,2,3,4,5,6,7,8,9,10,42]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
EXPORT = ROOT.parent / "shared" / "data" / "airline_tweets" / "tweets_airline.csv"
CACHE = ROOT / "bench" / ".cache"


def documents() -> list[str]:
    """The export's cleaned documents as the theme model reads them (`clean.model_text`)."""
    from cx_text import clean, ingest
    from cx_text.settings import Settings

    settings = Settings(ingest={"default_source": "complaint"})
    raw = ingest.read_input(str(EXPORT))
    mapped, _ = ingest.to_verbatims(raw, settings.ingest, pd.Timestamp.now())
    cleaned = clean.clean_verbatims(mapped, settings.clean, settings.language).verbatims
    return [clean.model_text(t) for t in cleaned["text"]]


def vectors(docs: list[str]) -> np.ndarray:
    """MiniLM vectors of `docs` through the product's embedder, cached by the texts' digest."""
    from cx_text.embed import make_embedder
    from cx_text.settings import Settings

    digest = hashlib.sha256("\n".join(docs).encode()).hexdigest()[:12]
    path = CACHE / f"collapse-airline-export-{len(docs)}-{digest}.npy"
    if path.exists():
        return np.load(path)
    settings = Settings(embedding={"show_progress": False})
    found = np.asarray(make_embedder(settings.embedding.model, settings.embedding).encode(docs))
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, found)
    return found


def fit(docs: list[str], embedded: np.ndarray, seed: int, capped: bool) -> dict[str, float]:
    from cx_text import themes
    from cx_text.settings import Settings

    shipped = themes.MAX_CLUSTER_FROM
    themes.MAX_CLUSTER_FROM = shipped if capped else len(docs) + 1
    try:
        settings = Settings(themes={"random_state": seed}).themes
        model = themes.ThemeModel.from_settings(settings, None).fit(embedded, docs)
    finally:
        themes.MAX_CLUSTER_FROM = shipped
    found = np.asarray(model.labels_)
    sizes = np.bincount(found[found >= 0])
    return {"themes": len(sizes), "largest share": round(sizes.max() / len(found), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,2,3,4,5,6,7,8,9,10,42")
    args = parser.parse_args()
    if not EXPORT.exists():
        print(f"{EXPORT} not found: nothing to measure")
        return
    from cx_text.outputs import markdown_table

    docs = documents()
    embedded = vectors(docs)
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        cap, no_cap = fit(docs, embedded, seed, True), fit(docs, embedded, seed, False)
        rows.append({"UMAP seed": seed, "themes, no cap": no_cap["themes"],
                     "largest share, no cap": no_cap["largest share"], "themes, cap":
                     cap["themes"], "largest share, cap": cap["largest share"]})  # fmt: skip
        print(rows[-1], flush=True)
    print(f"\nairline export, {len(docs):,} documents\n")
    print(markdown_table(pd.DataFrame(rows)))
    print(f"\nload average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
