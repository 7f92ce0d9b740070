"""Load: peak memory and throughput of the nightly job on 20k and 200k generated verbatims.

    .venv/bin/python bench/load.py                       # 20k and 200k, hashing embedder
    .venv/bin/python bench/load.py --sizes 20000 --real  # the real models (slow on a CPU)

Verbatims are generated from the bundled sample: each joins a sentence of one sample comment
with a sentence of another in the same script, keeps the first one's score, source, touchpoint
and segments (the sample's planted bad rows stay bad), and every 97th row repeats the previous
one (a duplicate). Themes are fitted once on the sample; then each size is taken in by one
`nightly` run in a fresh process, which reports its peak RSS (ru_maxrss) and rows per second.
By default every model group uses the tests' HashingEmbedder (256-d bag of lemmas, no torch), so
the figures measure the pipeline, not the model.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample_feedback.csv"
CYRILLIC = re.compile("[а-яё]", re.IGNORECASE)
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
HASHING = "hashing (tests.conftest.HashingEmbedder, 256-d, no model)"


def make_verbatims(n: int, seed: int = 0, end: pd.Timestamp | None = None) -> pd.DataFrame:
    """`n` varied survey and complaint rows in the sample's columns, spread over 80 days."""
    rng = np.random.default_rng(seed)
    sample = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)
    texts = sample["comment"]
    cyrillic = texts.str.contains(CYRILLIC).to_numpy()
    pools = {flag: np.flatnonzero(cyrillic == flag) for flag in (True, False)}
    first = rng.integers(0, len(sample), n)
    rows = sample.iloc[first].reset_index(drop=True)
    partner = np.array([rng.choice(pools[bool(c)]) for c in cyrillic[first]])
    head = [SENTENCE_END.split(t)[0] for t in texts.iloc[first]]
    tail = [SENTENCE_END.split(t)[-1] for t in texts.iloc[partner]]
    joined = [h if len(h) < 4 else f"{h} {t}" for h, t in zip(head, tail, strict=True)]
    rows["comment"] = joined  # short texts (empty, "-", "нет") stay what they were
    end = end if end is not None else pd.Timestamp.now().normalize()
    rows["created_at"] = end - pd.to_timedelta(rng.integers(60, 80 * 86400, n), unit="s")
    rows["response_id"] = [f"L{i:07d}" for i in range(n)]
    rows["customer_id"] = [f"LC{c:06d}" for c in rng.integers(0, n // 3 + 1, n)]
    dup = np.arange(97, n, 97)  # the same customer, text and day: a duplicate
    for col in ("comment", "customer_id", "created_at"):
        rows.loc[dup, col] = rows.loc[dup - 1, col].to_numpy()
    return rows


def _patch_embedder(real: bool) -> str:
    if real:
        return "real (all-MiniLM-L6-v2 + navec for Russian)"
    from cx_text import theming
    from tests.conftest import HashingEmbedder

    embedder = HashingEmbedder()
    theming.make_embedder = lambda model, settings: embedder  # type: ignore[assignment]
    return HASHING


def settings_for(state: Path, real: bool = False) -> Any:
    from cx_text.settings import load_settings

    return load_settings(state_dir=state / "state", models_dir=state / "models",
                         overrides_file=state / "themes.yaml",
                         embedding={"show_progress": False})  # fmt: skip


def fit_base(state: Path, real: bool = False) -> None:
    """Themes fitted on the bundled sample: the store every measured nightly starts from."""
    from cx_text import job

    _patch_embedder(real)
    job.run([str(SAMPLE)], state / "fit-out", settings_for(state, real))


def nightly_batches(state: Path, files: list[Path], real: bool = False) -> dict[str, Any]:
    """Run one nightly per file (in this process); counts per night, peak RSS, seconds."""
    from cx_text import job

    embedder = _patch_embedder(real)
    settings = settings_for(state, real)
    start, nights = time.perf_counter(), []
    for number, path in enumerate(files):
        record = job.nightly([str(path)], state / f"night-{number}", settings)
        nights.append({"counts": record["counts"], "window": record["window"]["verbatims"],
                       "timings": record["timings"]})  # fmt: skip
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"nights": nights, "seconds": seconds, "peak_rss_mb": peak_mb, "embedder": embedder}


def _child(args: list[str]) -> dict[str, Any]:
    """Run `python bench/load.py --child ...` and parse its JSON (a fresh process, fresh RSS)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, str(Path(__file__).resolve()), "--child", *args]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--batches", type=int, default=1, help="nightly runs per size")
    parser.add_argument("--real", action="store_true", help="the real embedding models")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        state, *files = map(Path, args.child)
        result = nightly_batches(state, files, args.real)
        print(json.dumps(result, default=str))
        return
    tmp = Path(tempfile.mkdtemp(prefix="cx-load-"))
    base = tmp / "base"
    _child_fit(base, args.real)
    print(f"embedder: {HASHING if not args.real else 'real models'}; themes fitted on the sample")
    print(
        "| rows | nightly runs | seconds | rows/s | peak RSS (MB) | themed | quarantined "
        "| duplicates | non-answers |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        state = tmp / f"n{size}"
        shutil.copytree(base, state, symlinks=True)
        rows = make_verbatims(size, seed=size)
        files = []
        for number, part in enumerate(np.array_split(np.arange(size), args.batches)):
            files.append(state / f"batch-{number}.csv")
            rows.iloc[part].to_csv(files[-1], index=False)
        result = _child([str(state), *map(str, files), *(["--real"] if args.real else [])])
        totals = pd.DataFrame([n["counts"] for n in result["nights"]]).sum()
        print(f"| {size:,} | {args.batches} | {result['seconds']:.0f} "
              f"| {size / result['seconds']:,.0f} | {result['peak_rss_mb']:,.0f} "
              f"| {totals['themed']:,} | {totals['quarantined']:,} | {totals['duplicates']:,} "
              f"| {totals['non_answers']:,} |", flush=True)  # fmt: skip
    shutil.rmtree(tmp, ignore_errors=True)


def _child_fit(base: Path, real: bool) -> None:
    code = (f"from pathlib import Path; from bench.load import fit_base; "
            f"fit_base(Path({str(base)!r}), {real})")  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                   capture_output=True)  # fmt: skip


if __name__ == "__main__":
    main()
