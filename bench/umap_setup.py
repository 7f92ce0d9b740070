"""What `cx_text.umap_setup` saves: one UMAP fit (cx-text's settings) in fresh processes.

Each row is a new Python process fitting UMAP (15 neighbours, 5 components, cosine, seed 42)
on `--n` random 384-dimensional float32 vectors (MiniLM's width; below 4,096 points UMAP takes
its small-data path):
  1. stock UMAP: numba compiles its kernels, every pairwise distance through sklearn's loop;
  2. prepared (`umap_setup.prepare()`), numba's disk cache emptied first: compiles and stores;
  3. prepared, cache warm: what every later process (and `make demo` after install) pays.
Prints seconds for the import, the fit, and the fit's share spent in compilation (2 - 3).

    .venv/bin/python bench/umap_setup.py [--n 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, sys, time
start = time.perf_counter()
import numpy as np
from umap import UMAP
from cx_text import umap_setup
if sys.argv[1] == "prepared":
    umap_setup.prepare()
imported = time.perf_counter()
x = np.random.default_rng(0).normal(size=(int(sys.argv[2]), 384)).astype(np.float32)
UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=42).fit(x)
print(json.dumps({"import_s": imported - start, "fit_s": time.perf_counter() - imported}))
"""


def child(mode: str, n: int, cache: Path) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), NUMBA_CACHE_DIR=str(cache))
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(n)], env=env, check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    print(f"load before: {os.getloadavg()}")
    cache = Path(tempfile.mkdtemp(prefix="numba-cache-"))
    rows = []
    for label, mode in (("stock UMAP", "stock"), ("prepared, cache cold", "prepared"),
                        ("prepared, cache warm", "prepared")):  # fmt: skip
        start = time.perf_counter()
        figures = child(mode, args.n, cache)
        rows.append((label, figures, time.perf_counter() - start))
    shutil.rmtree(cache, ignore_errors=True)
    print(f"\n| UMAP fit, {args.n:,} vectors, new process | import s | fit s | process s |")
    print("|---|---|---|---|")
    for label, f, wall in rows:
        print(f"| {label} | {f['import_s']:.1f} | {f['fit_s']:.1f} | {wall:.1f} |")
    saved = rows[1][1]["fit_s"] - rows[2][1]["fit_s"]
    print(f"\ncompilation avoided by the warm cache: {saved:.1f} s")
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
