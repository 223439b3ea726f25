"""The group committer (netid.db.group) on the real databases: units waiting together share
one commit, a failing unit loses only its own writes, a failed commit acknowledges nobody,
and nobody hears back before the commit holding their writes."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import AbstractContextManager, contextmanager

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from netid.audit.models import AccessRecord
from netid.billing.models import Charge
from netid.container import Container
from netid.db.group import CommitFailed, GroupCommitter
from tests.db.support import charge

WAIT = 10  # seconds; only a broken committer ever waits this long


def _record(container: Container, name: str) -> Callable[[Session], str]:
    def work(session: Session) -> str:
        container.recorder(session).record(actor="test", action=f"test.{name}", outcome="ok")
        return name

    return work


def _recorded(container: Container) -> set[str]:
    with container.transaction(write=False) as session:
        actions = session.scalars(
            select(AccessRecord.action).where(AccessRecord.action.like("test.%"))
        ).all()
    return {action.removeprefix("test.") for action in actions}


def _held_first(
    container: Container, committer: GroupCommitter
) -> tuple[threading.Event, Future[str]]:
    """Submit a unit that holds the committer thread until the returned event is set, so
    whatever is submitted meanwhile waits for the next batch together."""
    release = threading.Event()
    started = threading.Event()
    record = _record(container, "first")

    def first(session: Session) -> str:
        started.set()
        assert release.wait(WAIT)
        return record(session)

    future = committer.submit(first)
    assert started.wait(WAIT)
    return release, future


def test_units_waiting_together_share_one_commit(container: Container) -> None:
    committer = GroupCommitter(container.transaction)
    release, first = _held_first(container, committer)
    waiting = [committer.submit(_record(container, f"u{i}")) for i in range(5)]
    release.set()
    assert first.result(WAIT) == "first"
    assert [f.result(WAIT) for f in waiting] == [f"u{i}" for i in range(5)]
    committer.close()
    assert (committer.batches, committer.units) == (2, 6)
    assert _recorded(container) == {"first", "u0", "u1", "u2", "u3", "u4"}


def test_max_batch_splits_a_long_queue(container: Container) -> None:
    committer = GroupCommitter(container.transaction, max_batch=2)
    release, first = _held_first(container, committer)
    waiting = [committer.submit(_record(container, f"u{i}")) for i in range(5)]
    release.set()
    for future in (first, *waiting):
        future.result(WAIT)
    committer.close()
    assert committer.batches == 4  # [first], [u0 u1], [u2 u3], [u4]


def test_a_failing_unit_loses_only_its_own_writes(container: Container) -> None:
    committer = GroupCommitter(container.transaction)
    release, first = _held_first(container, committer)
    record_bad = _record(container, "bad")

    def bad(session: Session) -> str:
        record_bad(session)  # written, then undone with its savepoint
        raise LookupError("this unit fails")

    before = committer.submit(_record(container, "before"))
    failing = committer.submit(bad)
    after = committer.submit(_record(container, "after"))
    release.set()
    assert first.result(WAIT) == "first"
    assert before.result(WAIT) == "before"
    assert after.result(WAIT) == "after"
    with pytest.raises(LookupError):
        failing.result(WAIT)
    committer.close()
    assert _recorded(container) == {"first", "before", "after"}
    # The log still verifies: the undone entry left no gap in the indexes.
    with container.transaction(write=False) as session:
        indexes = session.scalars(select(AccessRecord.log_index).order_by(AccessRecord.log_index))
        listed = list(indexes)
    assert listed == list(range(len(listed)))


def test_a_failed_commit_acknowledges_nobody(container: Container) -> None:
    class DiskGone(OSError):
        pass

    @contextmanager
    def failing_commit() -> Iterator[Session]:
        # The real transaction, whose end fails as a commit can (disk full, connection lost):
        # the container rolls it back.
        with container.transaction() as session:
            yield session
            raise DiskGone()

    committer = GroupCommitter(failing_commit)
    futures = [committer.submit(_record(container, f"u{i}")) for i in range(3)]
    for future in futures:
        with pytest.raises(CommitFailed) as caught:
            future.result(WAIT)
        assert caught.value.code == "commit_failed"
        assert isinstance(caught.value.__cause__, DiskGone)
    committer.close()
    assert _recorded(container) == set()


def test_an_answer_waits_for_its_commit(container: Container) -> None:
    gate = threading.Event()
    reached_commit = threading.Event()

    @contextmanager
    def gated() -> Iterator[Session]:
        with container.transaction() as session:
            yield session
            reached_commit.set()
            assert gate.wait(WAIT)  # the commit happens when this block ends

    transaction: Callable[[], AbstractContextManager[Session]] = gated
    committer = GroupCommitter(transaction)
    future = committer.submit(_record(container, "pending"))
    assert reached_commit.wait(WAIT)
    # The unit's work is done, but its commit is not: no answer yet, nothing visible.
    assert not future.done()
    assert _recorded(container) == set()
    gate.set()
    assert future.result(WAIT) == "pending"
    committer.close()
    assert _recorded(container) == {"pending"}


def test_units_see_earlier_units_of_their_batch(container: Container) -> None:
    committer = GroupCommitter(container.transaction)
    release, first = _held_first(container, committer)

    def count(session: Session) -> int:
        return int(
            session.scalar(
                select(func.count()).select_from(AccessRecord).where(AccessRecord.actor == "test")
            )
            or 0
        )

    seen = committer.submit(count)
    release.set()
    first.result(WAIT)
    assert seen.result(WAIT) == 1  # "first" is in the same transaction, before it
    committer.close()


def test_run_awaits_the_result(container: Container) -> None:
    committer = GroupCommitter(container.transaction)
    assert asyncio.run(committer.run(_record(container, "async"))) == "async"
    committer.close()
    assert _recorded(container) == {"async"}


def test_max_batch_must_be_positive(container: Container) -> None:
    with pytest.raises(ValueError, match="max_batch"):
        GroupCommitter(container.transaction, max_batch=0)


def test_call_blocks_until_committed(container: Container) -> None:
    committer = GroupCommitter(container.transaction)
    assert committer.call(_record(container, "sync")) == "sync"
    assert _recorded(container) == {"sync"}  # already on disk when call returns
    committer.close()


def test_a_unit_cannot_wait_for_another(container: Container) -> None:
    committer = GroupCommitter(container.transaction)

    def nested(session: Session) -> str:
        return committer.call(_record(container, "inner"))

    with pytest.raises(RuntimeError, match="cannot submit"):
        committer.call(nested)
    committer.close()
    assert _recorded(container) == set()


def test_a_cancelled_caller_is_skipped_and_the_others_answered(container: Container) -> None:
    committer = GroupCommitter(container.transaction)
    release, first = _held_first(container, committer)
    assert not first.cancel()  # running: too late to cancel, it takes the commit's outcome
    cancelled = committer.submit(_record(container, "cancelled"))
    kept = committer.submit(_record(container, "kept"))
    assert cancelled.cancel()  # an asyncio task cancelled while waiting does this
    release.set()
    assert first.result(WAIT) == "first"
    assert kept.result(WAIT) == "kept"
    assert committer.call(_record(container, "later")) == "later"  # the thread lives on
    committer.close()
    assert _recorded(container) == {"first", "kept", "later"}


def test_an_awaiting_task_cancelled_before_its_turn_writes_nothing(container: Container) -> None:
    committer = GroupCommitter(container.transaction)
    release, first = _held_first(container, committer)

    async def cancel_one() -> str:
        task = asyncio.ensure_future(committer.run(_record(container, "gave-up")))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        release.set()
        return await committer.run(_record(container, "next"))

    assert asyncio.run(cancel_one()) == "next"
    first.result(WAIT)
    committer.close()
    assert _recorded(container) == {"first", "next"}


def test_a_unit_raising_a_base_exception_fails_alone(container: Container) -> None:
    committer = GroupCommitter(container.transaction)
    release, first = _held_first(container, committer)

    def exits(session: Session) -> str:
        raise SystemExit(3)

    failing = committer.submit(exits)
    kept = committer.submit(_record(container, "kept"))
    release.set()
    with pytest.raises(SystemExit):
        failing.result(WAIT)
    assert kept.result(WAIT) == "kept"
    assert committer.call(_record(container, "later")) == "later"
    committer.close()
    assert first.result(WAIT) == "first"


def test_first_runs_at_the_start_of_every_batch(container: Container) -> None:
    calls: list[str] = []
    committer = GroupCommitter(container.transaction, first=lambda session: calls.append("first"))
    release, held = _held_first(container, committer)

    def unit(session: Session) -> str:
        calls.append("unit")
        return "unit"

    waiting = committer.submit(unit)
    release.set()
    held.result(WAIT)
    waiting.result(WAIT)
    committer.close()
    assert calls == ["first", "first", "unit"]  # [held] then [waiting], each after "first"


def test_each_unit_starts_with_an_empty_identity_map(container: Container) -> None:
    committer = GroupCommitter(container.transaction)
    release, first = _held_first(container, committer)

    kept_alive: list[AccessRecord] = []  # the identity map holds objects weakly

    def load(session: Session) -> int:
        kept_alive.extend(session.scalars(select(AccessRecord)).all())
        return len(session.identity_map)

    loaded = committer.submit(load)
    seen = committer.submit(lambda session: len(session.identity_map))
    release.set()
    first.result(WAIT)
    assert loaded.result(WAIT) >= 1
    assert seen.result(WAIT) == 0  # the earlier request's objects are not reused
    committer.close()


def test_pending_orm_objects_are_flushed_with_their_unit(container: Container) -> None:
    committer = GroupCommitter(container.transaction)
    committer.call(lambda session: session.add(charge("orm")))  # added, never flushed by it
    committer.close()
    with container.transaction(write=False) as session:
        assert session.get(Charge, "orm") is not None


def test_a_unit_catching_its_own_duplicate_key_stays_alone(container: Container) -> None:
    committer = GroupCommitter(container.transaction)
    committer.call(lambda session: session.add(charge("dup")))

    def insert_twice(session: Session) -> str:
        try:
            with session.begin_nested():  # the unit's own savepoint, inside the batch's
                session.add(charge("dup"))
        except IntegrityError:
            return "caught"
        return "inserted"

    release, first = _held_first(container, committer)
    caught = committer.submit(insert_twice)
    after = committer.submit(_record(container, "after"))
    release.set()
    assert caught.result(WAIT) == "caught"
    assert after.result(WAIT) == "after"
    assert first.result(WAIT) == "first"
    committer.close()
    assert _recorded(container) == {"first", "after"}


def test_an_uncaught_flush_failure_undoes_the_whole_batch(container: Container) -> None:
    # A failed flush leaves SQLAlchemy's session needing a full rollback: nobody in the batch
    # is acknowledged and nothing of it is on disk.
    committer = GroupCommitter(container.transaction)
    committer.call(lambda session: session.add(charge("taken")))
    release, first = _held_first(container, committer)
    broken = committer.submit(lambda session: session.add(charge("taken")))
    other = committer.submit(_record(container, "other"))
    release.set()
    assert first.result(WAIT) == "first"  # its own batch, before
    for future in (broken, other):  # one batch
        with pytest.raises(CommitFailed):
            future.result(WAIT)
    assert committer.call(_record(container, "next")) == "next"  # the next batch is fine
    committer.close()
    assert _recorded(container) == {"first", "next"}


# -- staged units: a read stage outside the writer slot, then the write ----------------------
def _read_transaction(container: Container) -> Callable[[], AbstractContextManager[Session]]:
    return lambda: container.transaction(write=False)


def _count_records(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AccessRecord)) or 0


def test_a_staged_unit_reads_then_writes_in_the_batch(container: Container) -> None:
    committer = GroupCommitter(container.transaction, read_transaction=_read_transaction(container))
    with container.transaction(write=False) as session:
        before = _count_records(session)
    release, first = _held_first(container, committer)

    def read(session: Session) -> Callable[[Session], int]:
        seen = _count_records(session)
        record = _record(container, "staged")

        def write(write_session: Session) -> int:
            record(write_session)
            return seen

        return write

    staged = committer.submit_staged(read)
    release.set()
    assert first.result(WAIT) == "first"
    # Read in its batch's read stage: after the held batch's commit, before its own write.
    assert staged.result(WAIT) == before + 1
    committer.close()
    assert (committer.batches, committer.units) == (2, 2)
    assert _recorded(container) == {"first", "staged"}


def test_the_read_stage_holds_no_writer_slot(container: Container) -> None:
    # While a staged unit reads, another writer (a CLI transaction, another worker process)
    # can take the slot and commit: reads never queue behind writes.
    committer = GroupCommitter(container.transaction, read_transaction=_read_transaction(container))
    wrote_meanwhile = threading.Event()

    def read(session: Session) -> Callable[[Session], str]:
        def other_writer() -> None:
            with container.transaction() as other:
                _record(container, "meanwhile")(other)
            wrote_meanwhile.set()

        writer = threading.Thread(target=other_writer)
        writer.start()
        writer.join(WAIT)
        assert wrote_meanwhile.is_set()
        return _record(container, "staged")

    assert committer.submit_staged(read).result(WAIT) == "staged"
    committer.close()
    assert _recorded(container) == {"meanwhile", "staged"}


def test_a_failing_read_stage_fails_alone_and_writes_nothing(container: Container) -> None:
    committer = GroupCommitter(container.transaction, read_transaction=_read_transaction(container))
    release, first = _held_first(container, committer)

    def failing(session: Session) -> Callable[[Session], str]:
        raise LookupError("no such thing")

    broken = committer.submit_staged(failing)
    fine = committer.submit_staged(lambda session: _record(container, "fine"))
    plain = committer.submit(_record(container, "plain"))
    release.set()
    assert first.result(WAIT) == "first"
    with pytest.raises(LookupError):
        broken.result(WAIT)
    assert fine.result(WAIT) == "fine"
    assert plain.result(WAIT) == "plain"
    committer.close()
    assert _recorded(container) == {"first", "fine", "plain"}


def test_a_failed_read_transaction_acknowledges_none_of_its_units(container: Container) -> None:
    @contextmanager
    def broken_reads() -> Iterator[Session]:
        raise RuntimeError("the database is gone")
        yield  # pragma: no cover

    committer = GroupCommitter(container.transaction, read_transaction=broken_reads)
    release, first = _held_first(container, committer)
    staged = committer.submit_staged(lambda session: _record(container, "staged"))
    plain = committer.submit(_record(container, "plain"))
    release.set()
    assert first.result(WAIT) == "first"
    with pytest.raises(CommitFailed):
        staged.result(WAIT)
    assert plain.result(WAIT) == "plain"  # a unit without a read stage is not affected
    committer.close()
    assert _recorded(container) == {"first", "plain"}


def test_without_a_read_transaction_a_staged_unit_reads_in_the_write(
    container: Container,
) -> None:
    committer = GroupCommitter(container.transaction)

    def read(session: Session) -> Callable[[Session], bool]:
        return lambda write_session: write_session is session

    assert committer.submit_staged(read).result(WAIT) is True
    committer.close()


def test_run_staged_awaits_the_result(container: Container) -> None:
    committer = GroupCommitter(container.transaction, read_transaction=_read_transaction(container))
    result = asyncio.run(committer.run_staged(lambda session: _record(container, "async")))
    assert result == "async"
    committer.close()


def test_a_read_stage_failing_in_the_database_leaves_the_next_one_working(
    container: Container,
) -> None:
    # On PostgreSQL an error aborts the whole transaction; each read stage has its own
    # savepoint, so the next read stage of the batch still reads.
    committer = GroupCommitter(
        container.transaction, read_transaction=container.read_only_transaction
    )
    release, first = _held_first(container, committer)

    def broken(session: Session) -> Callable[[Session], str]:
        session.execute(text("SELECT * FROM no_such_table"))
        return _record(container, "never")

    failing = committer.submit_staged(broken)
    healthy = committer.submit_staged(
        lambda session: (_count_records(session), _record(container, "healthy"))[1]
    )
    release.set()
    assert first.result(WAIT) == "first"
    with pytest.raises(DBAPIError):
        failing.result(WAIT)
    assert healthy.result(WAIT) == "healthy"
    committer.close()
    assert _recorded(container) == {"first", "healthy"}


def test_nothing_a_read_stage_writes_is_kept(container: Container) -> None:
    committer = GroupCommitter(
        container.transaction, read_transaction=container.read_only_transaction
    )

    def writes_by_mistake(session: Session) -> Callable[[Session], str]:
        _record(container, "stray")(session)  # PostgreSQL refuses it; SQLite rolls it back
        return _record(container, "written")

    outcome = committer.submit_staged(writes_by_mistake)
    if container.engine.dialect.name == "postgresql":  # a READ ONLY transaction
        with pytest.raises(DBAPIError):
            outcome.result(WAIT)
    else:  # rolled back to the read stage's savepoint
        assert outcome.result(WAIT) == "written"
    committer.close()
    assert "stray" not in _recorded(container)
