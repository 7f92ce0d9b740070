"""Peak memory and seconds of the NPS figures' large computations at 1M verbatims.

`nps.driver_figures` (the OLS of the score on theme indicators), and with `--bootstrap`
`nps.bootstrap_impact` (minutes at 1M), on a synthetic membership matrix of `--rows` scored
verbatims x `--themes` themes (each verbatim in a theme with probability `--density`), as a
1M-row window gives them. Peak memory is Python's `tracemalloc` peak during the call (numpy
registers its buffers there), the inputs excluded. Run it at two commits to compare them:

    PYTHONPATH=. .venv/bin/python bench/nps_memory.py [--rows 1000000] [--bootstrap]
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cx_text import nps  # noqa: E402


def measure(name: str, call: object) -> None:
    tracemalloc.start()
    start = time.perf_counter()
    call()  # type: ignore[operator]
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{name}: peak {peak / 1e6:,.0f} MB above its inputs, {seconds:.1f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--themes", type=int, default=170)
    parser.add_argument("--density", type=float, default=0.02)
    parser.add_argument("--bootstrap", action="store_true", help="also the bootstrap interval")
    parser.add_argument("--samples", type=int, default=1000, help="bootstrap samples")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    matrix = rng.random((args.rows, args.themes), dtype=np.float32) < args.density
    scores = rng.integers(0, 11, args.rows).astype(float)
    values = np.select([scores >= 9, scores <= 6], [1.0, -1.0], 0.0)
    print(f"{args.rows:,} scored verbatims x {args.themes} themes", flush=True)
    measure("driver_figures", lambda: nps.driver_figures(scores, matrix))
    if args.bootstrap:
        measure("bootstrap_impact", lambda: nps.bootstrap_impact(values, matrix, args.samples, 0))


if __name__ == "__main__":
    main()
