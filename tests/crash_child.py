"""A `cx-text` CLI process that pauses at a chosen point so a test can SIGKILL it there.

python -m tests.crash_child POINT cx-text-args...

Test-only hooks, installed by wrapping functions in this process (production code has none):
the tiny hashing embedder replaces the real model, and when the run reaches POINT it prints
`PAUSED <POINT>` on stdout and sleeps, so the kill lands mid-stage. POINT `none` pauses nowhere.

- read:   an input has been read (inside the `read` stage)
- clean:  cleaning has started (inside `clean`)
- embed:  the embedder was called (inside `themes` / `assign`)
- fit:    the theme model's fit has started (inside `themes`, after embedding)
- write:  assignments.csv is fully written to its temporary name, not yet renamed (`write`)
- report: the report stage has started
- store:  every statement of the store transaction ran except the last, no commit yet
- publish: the store has committed; models/current not yet switched to the new models
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cx_text import clean, cli, ingest, models, outputs, report, theming
from cx_text.store import Store
from cx_text.themes import ThemeModel
from tests.conftest import HashingEmbedder


def pause(point: str) -> None:
    print(f"PAUSED {point}", flush=True)
    time.sleep(120)


def pausing(point: str, fn: Callable[..., Any], before: bool = True) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if before:
            pause(point)
        result = fn(*args, **kwargs)
        pause(point)
        return result

    return wrapper


def install(point: str, embedder: HashingEmbedder) -> None:
    real_atomic = outputs._atomic

    def atomic(path: Path, write: Callable[[Path], object]) -> Path:
        def write_then_pause(tmp: Path) -> None:
            write(tmp)
            pause(point)

        return real_atomic(path, write_then_pause if path.name == "assignments.csv" else write)

    hooks: dict[str, Callable[[], None]] = {
        "read": lambda: setattr(ingest, "read_input", pausing(point, ingest.read_input, False)),
        "clean": lambda: setattr(clean, "clean_verbatims", pausing(point, clean.clean_verbatims)),
        "embed": lambda: setattr(embedder, "encode", pausing(point, embedder.encode)),
        "fit": lambda: setattr(ThemeModel, "fit", pausing(point, ThemeModel.fit)),
        "write": lambda: setattr(outputs, "_atomic", atomic),
        "report": lambda: setattr(report, "build_report", pausing(point, report.build_report)),
        "store": lambda: setattr(Store, "record_run", pausing(point, Store.record_run)),
        "publish": lambda: setattr(models, "publish_models", pausing(point, models.publish_models)),
        "none": lambda: None,
    }
    hooks[point]()


if __name__ == "__main__":
    embedder = HashingEmbedder()
    theming.make_embedder = lambda model, settings: embedder  # type: ignore[assignment]
    install(sys.argv[1], embedder)
    sys.argv = ["cx-text", *sys.argv[2:]]
    cli.main()
