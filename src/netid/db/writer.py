"""SQLite's one writer slot, handed over without sleeping, within a process and between them.

SQLite lets one connection write at a time. A connection that finds the database locked waits
in SQLite's busy handler, which *sleeps* in growing steps (1, 2, 5, 10 … up to 100 ms,
sqlite.org/c3ref/busy_timeout.html), however soon the lock is freed: under load two worker
processes then spend most of their time asleep (measured: ≈ 40 id2 answers/s with two
workers). So every write transaction first takes this lock: a thread lock for the threads of
one process, then an exclusive ``flock(2)`` on a file beside the database for the processes.
Both wake the next waiter the moment the holder releases; the kernel drops the ``flock`` of a
process that dies, so a crash never leaves the database locked. SQLite's own locking still
guards everything (other programs, ``BEGIN IMMEDIATE``): this only decides who goes next.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path
from types import TracebackType

from netid.core.errors import ConfigurationError

_SHARED: dict[Path, WriterLock] = {}
_SHARED_LOCK = threading.Lock()


def writer_lock_for(database: Path | None) -> WriterLock:
    """The one lock of ``database`` in this process. Shared, because ``flock`` locks of two
    open files conflict even within one process: two containers on one database (tests, the
    CLI inside a server process) must queue on the same lock, not deadlock on two."""
    if database is None:
        return WriterLock(None)
    path = database.resolve()
    with _SHARED_LOCK:
        lock = _SHARED.get(path)
        if lock is None:
            lock = _SHARED[path] = WriterLock(path)
        return lock


class WriterLock:
    """Re-entrant within a thread (a unit of work may open a nested one); the file lock is
    taken by the outermost acquisition only. An in-memory database (``None``) belongs to one
    process: the thread lock alone serves it."""

    def __init__(self, database: Path | None) -> None:
        self._path = (
            None if database is None else database.with_name(database.name + ".writer-lock")
        )
        self._threads = threading.RLock()
        self._depth = 0
        self._fd: int | None = None
        self._pid: int | None = None

    def acquire(self) -> None:
        self._threads.acquire()
        try:
            if self._depth == 0 and self._path is not None:
                if self._fd is None or self._pid != os.getpid():
                    # Opened once per process: a forked child opens its own, as flock locks
                    # belong to the open file description, which a fork would share.
                    try:
                        self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
                    except OSError as exc:
                        # E.g. created by another user (the CLI run as root): every write
                        # would fail, so say what to fix instead of a bare 500.
                        raise ConfigurationError(
                            "The database's writer lock file cannot be opened; it must "
                            "belong to the service's user."
                        ) from exc
                    self._pid = os.getpid()
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            self._depth += 1
        except BaseException:
            self._threads.release()
            raise

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
