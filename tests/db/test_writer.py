"""SQLite's writer slot (netid.db.writer): exclusive between processes, re-entrant within a
thread, released when its holder ends, and handed to a waiting thread at once."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from netid.core.errors import ConfigurationError
from netid.db.writer import WriterLock, writer_lock_for

# Another process tries the same lock without waiting: exit 0 if it got it, 1 if not.
TRY_FROM_ANOTHER_PROCESS = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
except BlockingIOError:
    sys.exit(1)
sys.exit(0)
"""


def _other_process_gets_it(lock_file: Path) -> bool:
    done = subprocess.run(
        [sys.executable, "-c", TRY_FROM_ANOTHER_PROCESS, str(lock_file)], check=False
    )
    return done.returncode == 0


def test_excludes_another_process_until_released(tmp_path: Path) -> None:
    database = tmp_path / "netid.sqlite3"
    lock = WriterLock(database)
    lock_file = tmp_path / "netid.sqlite3.writer-lock"
    with lock:
        assert not _other_process_gets_it(lock_file)
        with lock:  # re-entrant: a nested unit of work in the same thread
            assert not _other_process_gets_it(lock_file)
        assert not _other_process_gets_it(lock_file)  # still held by the outer level
    assert _other_process_gets_it(lock_file)


def test_hands_over_to_a_waiting_thread(tmp_path: Path) -> None:
    lock = WriterLock(tmp_path / "netid.sqlite3")
    order: list[str] = []
    lock.acquire()

    def wait_then_note() -> None:
        with lock:
            order.append("waiter")

    waiter = threading.Thread(target=wait_then_note)
    waiter.start()
    time.sleep(0.05)
    order.append("holder")  # the waiter cannot have run: the holder still has the slot
    lock.release()
    waiter.join(5)
    assert order == ["holder", "waiter"]


def test_an_in_memory_database_needs_no_file(tmp_path: Path) -> None:
    lock = WriterLock(None)
    with lock, lock:
        pass
    assert list(tmp_path.iterdir()) == []


def test_a_failed_acquisition_leaves_it_free(tmp_path: Path) -> None:
    # A lock file the process cannot open (a directory in its place): a configuration error
    # that says what to fix, and the thread lock is not left held.
    database = tmp_path / "netid.sqlite3"
    (tmp_path / "netid.sqlite3.writer-lock").mkdir()
    lock = WriterLock(database)
    with pytest.raises(ConfigurationError, match="writer lock file"):
        lock.acquire()
    got = threading.Event()

    def other() -> None:
        try:
            lock.acquire()
        except ConfigurationError:
            got.set()  # reached the file again: the thread lock was free

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(5)
    assert got.is_set()


def test_one_lock_per_database_in_a_process(tmp_path: Path) -> None:
    # Two containers on one database share the lock: a second flock of the same file in the
    # same process would wait for the first forever.
    database = tmp_path / "netid.sqlite3"
    first = writer_lock_for(database)
    assert writer_lock_for(tmp_path / "." / "netid.sqlite3") is first
    assert writer_lock_for(tmp_path / "other.sqlite3") is not first
    with first, writer_lock_for(database):
        pass
