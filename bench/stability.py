"""Theme-id stability of re-fits on the bundled sample, real embedding models.

Prints the share of previously themed verbatims that keep their theme id when themes are
re-fitted (1) on the same data with another UMAP seed, (2) on the same data plus 10% new
verbatims and (3) on the same data and seed after an upgrade to `themes.pool_theme_sentences`
(the first fit read every verbatim whole, the re-fit reads those with mentions part by part),
next to the agreement of the raw clusterings (ARI) for comparison.

    .venv/bin/python bench/stability.py
    .venv/bin/python bench/stability.py --e5-weight 0.3   # English on MiniLM + e5 (opt-in)
    .venv/bin/python bench/stability.py --seeds 1,2,3,4,5,7   # (1) for each seed, and the spread
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import pandas as pd
from sklearn.metrics import adjusted_rand_score

from cx_text import job
from cx_text.facets import topic_of
from cx_text.outputs import markdown_table
from cx_text.registry import retention
from cx_text.settings import load_settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]


def _assignments(out: Path) -> pd.DataFrame:
    """Primary topic per verbatim: a facet (T007- / T007+) counts as its topic (T007)."""
    frame = pd.read_csv(out / "assignments.csv")
    return frame.assign(theme_id=frame["theme_id"].astype(str).map(topic_of))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--e5-weight",
        type=float,
        default=0.0,
        help="[embedding] e5_weight: English on MiniLM joined with e5 (0.3)",
    )
    parser.add_argument("--seeds", default="7", help="UMAP seeds of the re-fit on the same data")
    args = parser.parse_args()
    seeds = [int(x) for x in args.seeds.split(",") if x]
    tmp = Path(tempfile.mkdtemp())
    sample = pd.read_csv(ROOT / "data" / "sample_feedback.csv", dtype=str, keep_default_na=False)
    base, extra = sample.iloc[: int(len(sample) / 1.1)], sample
    base.to_csv(tmp / "base.csv", index=False)
    extra.to_csv(tmp / "plus10.csv", index=False)
    rows = []
    for name, seed, data, whole_first in (
        *[(f"same data, another seed ({seed})", seed, "base.csv", False) for seed in seeds],
        ("same data + 10% new verbatims", 42, "plus10.csv", False),
        ("same data, first fit on whole texts", 42, "base.csv", True),
    ):
        state = tmp / "".join(c if c.isalnum() else "_" for c in name)
        settings = load_settings(state_dir=state, models_dir=state / "models",
                                 overrides_file=state / "none.yaml",
                                 embedding={"show_progress": False,
                                            "e5_weight": args.e5_weight},
                                 # topic ids are measured: polarity (e5) would only add time
                                 polarity={"enabled": False})  # fmt: skip
        whole = settings.themes.model_copy(update={"pool_theme_sentences": False})
        before = settings.model_copy(update={"themes": whole}) if whole_first else settings
        job.run([str(tmp / "base.csv")], state / "first", before)
        again = settings.model_copy(update={"themes": settings.themes.model_copy(
            update={"random_state": seed})})  # fmt: skip
        job.run([str(tmp / data)], state / "second", again)
        first, second = _assignments(state / "first"), _assignments(state / "second")
        merged = first.merge(second, on="verbatim_id")
        rows.append({"re-fit": name, "theme ids kept": round(retention(first, second), 3),
                     "ARI of the two clusterings": round(adjusted_rand_score(
                         merged["theme_id_x"], merged["theme_id_y"]), 3)})  # fmt: skip
    table = pd.DataFrame(rows)
    if len(seeds) > 1:  # the spread over the seeds of the first row kind
        seeded = table[table["re-fit"].str.startswith("same data, another seed")]
        spread = {c: f"{seeded[c].mean():.3f} ± {seeded[c].std():.3f}"
                  for c in ("theme ids kept", "ARI of the two clusterings")}  # fmt: skip
        table = pd.concat([table, pd.DataFrame([{"re-fit": "another seed: mean ± sd", **spread}])],
                          ignore_index=True)  # fmt: skip
    print(markdown_table(table))


if __name__ == "__main__":
    main()
