"""What a resident process would save a nightly run: the same nightly, three times in one process.

A cold `cx-text run` on the oldest 98% of an export (a child process, as bench/pipeline.py does)
leaves a store; then this process runs `cx-text nightly` on the whole export `--repeats` times,
each on a fresh copy of that store, through the CLI's own `app`. The first nightly pays the
imports and model loads a new process pays; the later ones show what the window's stages cost
with every model already loaded (a resident worker's nightly). Seconds per stage from `run.json`.

    .venv/bin/python bench/warm_nightly.py                  # the bundled sample, about 2 minutes
    .venv/bin/python bench/warm_nightly.py --set airline-export
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def main() -> None:
    import pipeline

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", default="sample", choices=sorted(pipeline.EXPORTS))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"load before: {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        base, full, *_ = pipeline.write_export(args.set, folder)
        env = pipeline.child_env(folder / "state")
        spec_args = list(pipeline.EXPORTS[args.set]["args"])
        cold = pipeline.cx_text(["run", str(base), *spec_args], env, folder / "cold")
        shutil.copytree(folder / "state", folder / "state0", symlinks=True)
        os.environ.update({k: v for k, v in env.items() if k.startswith("CX_TEXT_")})
        from typer.testing import CliRunner

        from cx_text.cli import app

        rows = []
        for i in range(args.repeats):
            shutil.rmtree(folder / "state")
            shutil.copytree(folder / "state0", folder / "state", symlinks=True)
            out = folder / f"night{i}"
            start = time.perf_counter()
            result = CliRunner().invoke(app, ["nightly", str(full), *spec_args, "--out", str(out),
                                              "--quiet"])  # fmt: skip
            wall = time.perf_counter() - start
            logging.getLogger("cx_text").handlers.clear()  # they wrote to the runner's stream
            if result.exit_code != 0:
                raise RuntimeError(result.output[-2000:]) from result.exception
            rows.append((wall, json.loads((out / "run.json").read_text())["timings"]))
    print(f"\n{args.set}: cold run {cold['wall']:.1f} s (a new process); nightly in one process:")
    stages = list(rows[0][1])
    print("| nightly | " + " | ".join(stages) + " | wall |")
    print("|---" * (len(stages) + 2) + "|")
    for i, (wall, timings) in enumerate(rows, start=1):
        cells = " | ".join(f"{timings[s]:.1f}" for s in stages)
        print(f"| {i}{' (imports, loads)' if i == 1 else ''} | {cells} | {wall:.1f} |")
    print(f"load after: {os.getloadavg()}")
    sys.stdout.flush()
    os._exit(0)  # loky workers of the runs would hold the exit


if __name__ == "__main__":
    main()
