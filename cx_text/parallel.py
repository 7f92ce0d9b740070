"""Fan-out: run a pure function over row chunks, in order, here or on a task runner.

The work that grows with the number of verbatims and needs no shared state (embedding texts,
assigning vectors to saved theme centres) goes through a `FanOut`. This base class keeps every
row in one chunk and runs it in this process, which is exactly a plain function call: the CLI
uses it. The Prefect flows pass a subclass (`pipelines.common.TaskFanOut`) that splits the rows
into chunks of `chunk_size` and runs one task per chunk on the flow's thread pool or a Dask
cluster. A chunk function takes the chunk first and only picklable arguments after it, and
returns an array aligned with the chunk's rows, so results never depend on the chunking.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np

R = TypeVar("R")


def chunk_slices(n_rows: int, chunk_size: int | None) -> list[slice]:
    """Consecutive slices of at most `chunk_size` rows covering `n_rows` (always at least one)."""
    if not chunk_size or n_rows <= chunk_size:
        return [slice(0, n_rows)]
    return [slice(start, min(start + chunk_size, n_rows)) for start in range(0, n_rows, chunk_size)]


class FanOut:
    """Runs `fn(chunk, *shared)` over row chunks and returns the results in chunk order.

    Args:
        chunk_size: rows per chunk; None keeps all rows in one chunk.
    """

    def __init__(self, chunk_size: int | None = None) -> None:
        self.chunk_size = chunk_size

    def map_rows(
        self, name: str, fn: Callable[..., R], rows: Sequence[Any] | np.ndarray, *shared: Any
    ) -> list[R]:
        """Split `rows` (a list or an array) into chunks and run `fn` on each; `name` names the
        tasks in the flows."""
        chunks = [rows[part] for part in chunk_slices(len(rows), self.chunk_size)]
        return self.run(name, fn, chunks, *shared)

    def run(self, name: str, fn: Callable[..., R], chunks: list[Any], *shared: Any) -> list[R]:
        """Run every chunk, one after another, in this process."""
        return [fn(chunk, *shared) for chunk in chunks]

    def alongside(self, fn: Callable[..., R], *args: Any) -> Future[R]:
        """Start `fn(*args)` on a thread of this process, to overlap work that leaves a core idle.

        The clustering is mostly single-threaded, so the CLI embeds a group's sentences on the
        other core meanwhile. `fn` must not touch what the caller uses until `.result()`.
        """
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cx-text-alongside")
        try:
            return pool.submit(fn, *args)
        finally:
            pool.shutdown(wait=False)  # the thread ends when fn returns


@functools.cache
def _threadpools() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()  # finds the BLAS libraries once (ms); limiting is then µs


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS (numpy's OpenBLAS) on one thread inside the block: for many small matrix products
    and decompositions, where a second BLAS thread waits more than it works, and waits far
    longer when the other core is busy (the window's NPS figures, `stages.figures`)."""
    with _threadpools().limit(limits=1, user_api="blas"):
        yield
