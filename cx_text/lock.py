"""The run lock: one cx-text run at a time per state dir.

An exclusive `flock` on `<state_dir>/run.lock`. The kernel releases it when the holding process
dies, even by SIGKILL, so a crashed run never leaves a lock that blocks the next one; the file's
content (pid, host, start time) is only there to name the holder in messages. A second run either
waits up to `[lock] timeout_seconds` or, with `[lock] mode = "refuse"`, stops at once.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cx_text.settings import LockSettings

log = logging.getLogger("cx_text")

LOCK_NAME = "run.lock"
_POLL_SECONDS = 0.2
# depth of the locks this process holds, so that backfill -> weekly does not lock itself out
_HELD: dict[Path, int] = {}


class LockBusy(RuntimeError):
    """Another run holds the lock on the state dir (and we refused or gave up waiting)."""


def _holder(handle: int) -> str:
    os.lseek(handle, 0, os.SEEK_SET)
    text = os.read(handle, 200).decode("utf-8", "replace").strip()
    return text or "pid unknown"


def _try_lock(handle: int) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _busy(path: Path, holder: str, waited: float | None) -> LockBusy:
    how = "refusing to start ([lock] mode = refuse)" if waited is None else (
        f"gave up after waiting {waited:.0f} s ([lock] timeout_seconds)")  # fmt: skip
    return LockBusy(f"another cx-text run holds the lock on {path.parent} ({holder}); {how}")


@contextmanager
def run_lock(state_dir: Path, settings: LockSettings) -> Iterator[None]:
    """Hold the state dir's run lock for the body; re-entrant within one process.

    Raises:
        LockBusy: another process holds the lock and `settings` say refuse, or the wait timed out.
    """
    path = (state_dir / LOCK_NAME).resolve()
    if _HELD.get(path):
        _HELD[path] += 1
        try:
            yield
        finally:
            _HELD[path] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(handle, path, settings)
        os.ftruncate(handle, 0)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        os.pwrite(handle, f"pid {os.getpid()} on {socket.gethostname()}, since {stamp}".encode(), 0)
        _HELD[path] = 1
        try:
            yield
        finally:
            del _HELD[path]
            os.ftruncate(handle, 0)
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        os.close(handle)


def _acquire(handle: int, path: Path, settings: LockSettings) -> None:
    if _try_lock(handle):
        return
    if settings.mode == "refuse":
        raise _busy(path, _holder(handle), None)
    log.warning("waiting for the run lock on %s (%s)", path.parent, _holder(handle))
    start = time.monotonic()
    while not _try_lock(handle):
        waited = time.monotonic() - start
        if waited >= settings.timeout_seconds:
            raise _busy(path, _holder(handle), waited)
        time.sleep(_POLL_SECONDS)
