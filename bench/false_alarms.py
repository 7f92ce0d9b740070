"""False alarms of the weekly alerts on discovered themes: the sample with nothing planted.

Removes every row of the planted emerging problem (`promo_code_failure`, as main or second
theme) from the bundled sample, runs `cx-text run` on it with several UMAP seeds
(`[themes] random_state`), then replays the alerts as of every week (`trends.alerts_for_every_week`
with the default `[report]` settings, parent themes included) and counts them. Every alert here is
a false one. Also counts them without the minimum lift (`trends.MIN_LIFT` = 1), to show what
that floor buys. With --with-promo the full sample is run too and the weeks the promo themes
alert in are printed (the themes holding most promo verbatims, by `data/sample_truth.csv`).

    .venv/bin/python bench/false_alarms.py            # 3 seeds, about 2-3 min a run
    .venv/bin/python bench/false_alarms.py --seeds 42 7 13 21 --with-promo

Runs are cached in bench/.cache/false_alarms/ (--fresh to re-run).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pandas as pd

from cx_text import job, nps, trends
from cx_text.outputs import markdown_table
from cx_text.settings import ReportSettings, load_settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / ".cache" / "false_alarms"
PROMO = "promo_code_failure"


def truth() -> pd.DataFrame:
    return pd.read_csv(ROOT / "data" / "sample_truth.csv", dtype=str, keep_default_na=False)


def sample_without_promo(path: Path) -> Path:
    """The sample minus every row whose planted theme or second theme is the promo problem."""
    sample = pd.read_csv(ROOT / "data" / "sample_feedback.csv", dtype=str, keep_default_na=False)
    planted = truth()
    promo = planted[(planted["theme"] == PROMO) | (planted["theme_secondary"] == PROMO)]
    sample[~sample["response_id"].isin(promo["response_id"])].to_csv(path, index=False)
    return path


def run_once(data: Path, seed: int, folder: Path, fresh: bool) -> Path:
    """`cx-text run` on `data` with UMAP seed `seed` (cached); the output folder."""
    out = folder / "out"
    if (out / "run.json").exists() and not fresh:
        return out
    settings = load_settings(
        state_dir=CACHE / "state", models_dir=folder / "models",
        overrides_file=folder / "none.yaml", embedding={"show_progress": False},
        themes={"random_state": seed},
    )  # fmt: skip
    job.run([str(data)], out, settings)
    return out


def replay(out: Path, min_lift: float = trends.MIN_LIFT) -> tuple[pd.DataFrame, int, int]:
    """(alerts as of every week, number of themes, weeks with a baseline) from a run's outputs."""
    verbatims = pd.read_parquet(out / "verbatims.parquet")
    assignments = pd.read_csv(out / "assignments.csv", dtype=str).astype({"confidence": float})
    mentions = pd.read_csv(out / "mentions.csv", dtype=str).astype({"confidence": float})
    weekly = trends.weekly_theme_figures(verbatims, assignments, mentions)
    saved, trends.MIN_LIFT = trends.MIN_LIFT, min_lift
    try:
        every = trends.alerts_for_every_week(weekly, ReportSettings(), nps.parent_of(assignments))
    finally:
        trends.MIN_LIFT = saved
    tested = weekly["week"].nunique() - 1  # the first week has no baseline
    return every, assignments["theme_id"].nunique(), tested


def false_alarm_row(seed: int, out: Path) -> dict[str, object]:
    every, themes, tested = replay(out)
    loose, _, _ = replay(out, min_lift=1.0)
    return {
        "seed": seed, "themes": themes, "weeks tested": tested,
        "alerts (theme-weeks)": len(every), "episodes": int((every["status"] == "new").sum()),
        "weeks with an alert": every["week"].nunique(),
        "alerts per 12 weeks": round(12 * len(every) / tested, 2),
        "without the lift floor: alerts": len(loose),
        "alerted": "; ".join(f"{trends.week_label(r.week)} {r.theme_id} {r.label[:30]}"
                             for r in every.itertuples()),
    }  # fmt: skip


def promo_weeks(out: Path) -> str:
    """The weeks in which the theme (or parent) holding most promo verbatims alerts."""
    every, _, _ = replay(out)
    assignments = pd.read_csv(out / "assignments.csv", dtype=str)
    planted = truth()
    promo = assignments[assignments["verbatim_id"].isin(
        planted.loc[planted["theme"] == PROMO, "response_id"])]  # fmt: skip
    holders = {promo["theme_id"].mode()[0], promo["parent_theme_id"].mode()[0]}
    hits = every[every["theme_id"].isin(holders)]
    others = every[~every["theme_id"].isin(set(promo["theme_id"]) | set(promo["parent_theme_id"]))]
    weeks = ", ".join(sorted({trends.week_label(w) for w in hits["week"]}))
    return f"{'/'.join(sorted(holders))}: {weeks or 'none'}; other alerts {len(others)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 7, 13])
    parser.add_argument("--with-promo", action="store_true")
    parser.add_argument("--fresh", action="store_true")
    args = parser.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    clean = sample_without_promo(CACHE / "sample_without_promo.csv")
    rows = [false_alarm_row(s, run_once(clean, s, CACHE / f"no-promo-{s}", args.fresh))
            for s in args.seeds]  # fmt: skip
    table = pd.DataFrame(rows)
    print(markdown_table(table))
    rate = 12 * table["alerts (theme-weeks)"].sum() / table["weeks tested"].sum()
    print(f"\nfalse alerts per 12 weeks over {len(rows)} seeds: {rate:.2f} "
          f"({table['alerts (theme-weeks)'].sum()} in {table['weeks tested'].sum()} weeks tested; "
          f"without the lift floor {table['without the lift floor: alerts'].sum()})")  # fmt: skip
    if args.with_promo:
        sample = ROOT / "data" / "sample_feedback.csv"
        for seed in args.seeds:
            out = run_once(sample, seed, CACHE / f"full-{seed}", args.fresh)
            print(f"full sample, seed {seed}: promo alerts in {promo_weeks(out)}")


if __name__ == "__main__":
    main()
