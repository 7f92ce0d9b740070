"""Walking a job's stages: the CLI's runner; the Prefect adapter subclasses `Timer`.

`walk` runs each declared stage in order and folds what it adds into the run state; `Timer`
records wall seconds and the process's peak memory per stage for run.json.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from cx_text.parallel import FanOut
from cx_text.stages import Added, RunContext, RunState, Stage

log = logging.getLogger("cx_text")


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KiB)."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


@dataclass
class Timer:
    """Runs stages in this process and collects wall-clock seconds per stage for run.json.

    The Prefect flows pass a subclass whose `run` runs each stage as a Prefect task. `fan_out`
    runs the per-chunk work inside the embedding and assignment stages: here all rows in one
    call, in the flows one task per chunk.
    """

    seconds: dict[str, float] = field(default_factory=dict)
    fan_out: FanOut = field(default_factory=FanOut)
    # the process's peak resident memory (MB) when each stage ended: the stage that raised it
    # is the one that needs the memory
    peak_rss_mb: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        log.info("%s ...", name)
        yield
        self.seconds[name] = round(time.perf_counter() - start, 3)
        self.peak_rss_mb[name] = peak_rss_mb()
        log.info("%s done in %.1f s", name, self.seconds[name])

    def run(self, stage: Stage, ctx: RunContext, state: RunState) -> Added:
        """Run one stage, timed under its name."""
        with self.stage(stage.name):
            return stage.fn(ctx, state)

    def fresh(self) -> Timer:
        """A timer for another run (its own seconds), sharing this one's fan-out."""
        return replace(self, seconds={}, peak_rss_mb={})


def walk(stages: Sequence[Stage], ctx: RunContext, state: RunState | None = None) -> RunState:
    """Run `stages` in order; each one's additions make the state the next one sees."""
    state = state or RunState()
    for stage in stages:
        state = replace(state, **ctx.timer.run(stage, ctx, state))
    return state
