"""Grouped commits: many requests' units of work in one transaction, one fsync for them all.

DESIGN.md "Unit of work on the hot path". With ``synchronous=FULL`` a commit costs an fsync
(≈ 0.2–2 ms here) and, on SQLite, holds the one writer slot; committing each request on its
own caps a process at a few hundred answers per second however little the work costs
(reference/performance.md §3.3: one commit per request halved throughput, p99 475 ms). So a
committer thread per process takes the units of work waiting at that moment, runs each inside
a SAVEPOINT of one shared transaction and commits once; only then are the callers' futures
resolved. Each request still owns its outcome:

* a unit that raises rolls back to its savepoint: its writes are gone, the others' stay, and
  its caller gets the exception (exactly as if its own transaction had rolled back);
* a unit that returns is acknowledged only after the commit holding its writes succeeded;
  if that commit (or the transaction's start) fails, *none* of the batch is acknowledged:
  every caller gets :class:`CommitFailed` (503) and nothing of theirs is on disk.

Units run one after another on the committer thread, so they see each other's writes in
order, as consecutive transactions would. Services still never commit; this is
infrastructure, like the request handler that used to own the transaction.

A *staged* unit (:meth:`GroupCommitter.submit_staged`) first reads, in one read-only
transaction shared by the batch and outside the writer slot, and returns the write it then
needs: on SQLite the slot, which every worker process shares, is held only for the writes
(docs/decisions/0007 "Staged units"). What the read stage found can be a few milliseconds
old when the write stage runs, so anything that must be current when the answer is given
(a freeze, a lock, a quota) is read again, or written conditionally, in the write stage.
"""

from __future__ import annotations

import asyncio
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

from netid.core.errors import Unavailable

T = TypeVar("T")

# Enough to amortise one fsync over many requests; small enough that one batch holds the
# writer slot for a few milliseconds only (a unit costs ≈ 0.1–1 ms).
DEFAULT_MAX_BATCH = 64


class CommitFailed(Unavailable):
    code = "commit_failed"
    default_message = "The answer could not be stored, so it was not given; please retry."


Work = Callable[[Session], T]
# The read stage of a staged unit: reads, and returns the unit's write stage.
ReadStage = Callable[[Session], Callable[[Session], T]]


@dataclass
class _Unit(Generic[T]):
    work: Work[T] | None
    read: ReadStage[T] | None = None
    future: Future[T] = field(default_factory=Future)

    def write_stage(self) -> Work[T]:
        """The work to run in the write transaction: a staged unit whose read stage did not
        run apart (no read transaction) reads there first."""
        if self.work is not None:
            return self.work
        read = self.read
        assert read is not None
        return lambda session: read(session)(session)


_STOP = object()


class GroupCommitter:
    """``submit(work)`` → a future resolved after the commit that holds ``work``'s writes.

    ``transaction`` opens one write unit of work (the container's ``transaction()``); the
    committer thread starts at the first submission in each process (uvicorn's workers are
    separate processes), so building one is cheap and fork-safe.
    """

    def __init__(
        self,
        transaction: Callable[[], AbstractContextManager[Session]],
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
        first: Callable[[Session], None] | None = None,
        read_transaction: Callable[[], AbstractContextManager[Session]] | None = None,
    ) -> None:
        """``first`` runs at the start of every batch's transaction, before any unit: the
        container takes the log head's row lock there on PostgreSQL, so that every batch
        takes its locks in one order (head, then the units' rows). Taken by the first unit
        instead, the head would be held while later units lock their rows, and two workers'
        batches could deadlock.

        ``read_transaction`` opens the read-only unit of work the read stages of a batch
        share (the container's ``read_only_transaction``); without one, a staged unit
        reads inside the write transaction like any other unit."""
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._transaction = transaction
        self._max_batch = max_batch
        self._first = first
        self._read_transaction = read_transaction
        self._queue: queue.SimpleQueue[_Unit[Any] | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._start_lock = threading.Lock()
        self.batches = 0  # committed batches, for tests and metrics
        self.units = 0

    # -- callers ----------------------------------------------------------------------------
    def submit(self, work: Work[T]) -> Future[T]:
        return self._put(_Unit(work))

    def submit_staged(self, read: ReadStage[T]) -> Future[T]:
        """``read(session)`` runs in the batch's read-only transaction, outside the writer
        slot, and returns the write stage, which runs as a unit of the batch's write
        transaction. If ``read`` raises, the caller gets that and nothing is written."""
        return self._put(_Unit(None, read))

    def _put(self, unit: _Unit[T]) -> Future[T]:
        self._ensure_thread()
        self._queue.put(unit)
        return unit.future

    async def run(self, work: Work[T]) -> T:
        """Await ``work``'s result (or exception) once its writes are committed."""
        return await asyncio.wrap_future(self.submit(work))

    async def run_staged(self, read: ReadStage[T]) -> T:
        """Await a staged unit's result (or exception) once its writes are committed."""
        return await asyncio.wrap_future(self.submit_staged(read))

    def call(self, work: Callable[[Session], T]) -> T:
        """``work``'s result once committed, blocking this thread (a thread-pool handler)."""
        if threading.current_thread() is self._thread:
            # A unit waiting for a later unit of its own batch would wait forever.
            raise RuntimeError("a unit of work cannot submit another and wait for it")
        return self.submit(work).result()

    def close(self) -> None:
        """Finish what was submitted, then stop the thread."""
        thread = self._thread
        if thread is not None and thread.is_alive() and self._pid == os.getpid():
            self._queue.put(_STOP)
            thread.join()
        self._thread = None

    # -- the committer thread ---------------------------------------------------------------
    def _ensure_thread(self) -> None:
        pid = os.getpid()
        if self._pid == pid and self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._pid != pid:
                # A forked child: the parent's queue and thread are not its own.
                self._queue = queue.SimpleQueue()
                self._pid = pid
                self._thread = None
            if self._thread is None or not self._thread.is_alive():
                # The same queue: units already waiting are served by the new thread.
                self._thread = threading.Thread(
                    target=self._loop, name="netid-group-commit", daemon=True
                )
                self._thread.start()

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch: list[_Unit[Any]] = []
            stop = False
            item: _Unit[Any] | object = first
            while True:
                assert isinstance(item, _Unit)
                # A caller that gave up (its task cancelled) before its unit started is
                # skipped; once started, a unit can no longer be cancelled, so its future
                # always takes the outcome of the commit.
                if item.future.set_running_or_notify_cancel():
                    batch.append(item)
                if len(batch) >= self._max_batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
            if batch:
                self._commit(batch)
            if stop:
                return

    def _read_stages(self, batch: list[_Unit[Any]]) -> list[_Unit[Any]]:
        """Run the batch's read stages in one read-only transaction, each in a savepoint
        that is always rolled back: a read stage keeps nothing it might have written, and
        one that fails (on PostgreSQL an error aborts the whole transaction) leaves the next
        one a working transaction. A unit whose read raised is answered with that (it has
        written nothing) and leaves the batch."""
        staged = [unit for unit in batch if unit.read is not None]
        if not staged or self._read_transaction is None:
            return batch
        try:
            with self._read_transaction() as session:
                savepoints = _Savepoints(session)
                for unit in staged:
                    assert unit.read is not None
                    ok, value = savepoints.run(unit.read, keep=False)
                    if ok:
                        unit.work = value
                    else:
                        unit.future.set_exception(value)
        except BaseException as exc:
            # The read transaction itself failed: nothing was written, nobody is answered.
            for unit in staged:
                if not unit.future.done():
                    failure = CommitFailed()
                    failure.__cause__ = exc
                    unit.future.set_exception(failure)
        return [unit for unit in batch if not unit.future.done()]

    def _commit(self, batch: list[_Unit[Any]]) -> None:
        batch = self._read_stages(batch)
        if not batch:
            return
        outcomes: list[tuple[bool, Any]] = []
        try:
            with self._transaction() as session:
                if self._first is not None:
                    self._first(session)
                savepoints = _Savepoints(session)
                for unit in batch:
                    outcomes.append(savepoints.run(unit.write_stage()))
        except BaseException as exc:
            # BEGIN or COMMIT failed (or a unit broke the session): nothing of this batch is
            # on disk, so nobody is told otherwise. The cause is chained for the server log,
            # never sent.
            for unit in batch:
                failure = CommitFailed()
                failure.__cause__ = exc
                unit.future.set_exception(failure)
            return
        self.batches += 1
        self.units += len(batch)
        for unit, (ok, value) in zip(batch, outcomes, strict=True):
            if ok:
                unit.future.set_result(value)
            else:
                unit.future.set_exception(value)


class SessionBroken(Exception):
    """A unit's ORM flush failed outside a savepoint of the session's own, which leaves the
    session needing a full rollback: the whole batch is undone and not acknowledged."""


class _Savepoints:
    """One SAVEPOINT per unit, issued on the driver's connection: SQLAlchemy's
    ``Session.begin_nested`` costs ≈ 80–170 µs per unit here, the statements themselves
    ≈ 2–3 µs (docs/decisions/0007-performance.md).

    The ORM does not see these savepoints, so what it would have done is done here: the
    unit's pending objects are flushed before its savepoint is released, and after every
    unit the identity map is emptied (objects a rolled-back unit wrote would otherwise stay
    "persistent"). A failed flush deactivates the session itself (SQLAlchemy then requires
    a full rollback), so that case fails the batch (:class:`SessionBroken`). Savepoints a
    unit opens itself with ``begin_nested`` (e.g. to catch a duplicate key) nest inside and
    work as usual."""

    NAME = "netid_unit"

    def __init__(self, session: Session) -> None:
        self._session = session
        driver = session.connection().connection.driver_connection
        assert driver is not None
        self._cursor = driver.cursor()

    def run(self, work: Callable[[Session], Any], *, keep: bool = True) -> tuple[bool, Any]:
        """(True, result) or (False, the exception). ``keep=False`` (a read stage): rolled
        back to its savepoint even when it succeeds, nothing flushed."""
        session = self._session
        self._cursor.execute(f"SAVEPOINT {self.NAME}")
        try:
            result = work(session)
            if keep:
                session.flush()
        except BaseException as exc:
            if not session.is_active:
                raise SessionBroken() from exc
            self._cursor.execute(f"ROLLBACK TO SAVEPOINT {self.NAME}")
            self._cursor.execute(f"RELEASE SAVEPOINT {self.NAME}")
            return False, exc
        finally:
            session.expunge_all()
        if not keep:
            self._cursor.execute(f"ROLLBACK TO SAVEPOINT {self.NAME}")
        self._cursor.execute(f"RELEASE SAVEPOINT {self.NAME}")
        return True, result
