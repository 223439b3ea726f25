"""The CounterStore contract, run on the database store (SQLite and PostgreSQL) and on the Redis
store (the real server at 127.0.0.1:6379, under a key prefix of the test's own)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest
from redis import Redis

from netid.container import Container
from netid.monitoring.counters import (
    CounterStore,
    DatabaseCounterStore,
    OutcomeWindow,
    RedisCounterStore,
)
from netid.monitoring.repository import MonitoringRepository
from tests.conftest import REDIS_URL
from tests.verification.support import approved

pytestmark = pytest.mark.db

T0 = dt.datetime(2026, 11, 23, 6, 0, tzinfo=dt.UTC)
W = dt.timedelta(minutes=10)
Unit = Callable[[], AbstractContextManager[CounterStore]]


@pytest.fixture(params=["database", "redis"])
def unit(request: pytest.FixtureRequest, container: Container, redis_prefix: str) -> Iterator[Unit]:
    """A unit of work giving a counter store (the database one lives in its transaction)."""
    if request.param == "redis":
        client = Redis.from_url(REDIS_URL)

        @contextmanager
        def redis_unit() -> Iterator[CounterStore]:
            yield RedisCounterStore(client, prefix=redis_prefix)

        yield redis_unit
        client.close()
        return

    @contextmanager
    def db_unit() -> Iterator[CounterStore]:
        with container.transaction() as session:
            yield DatabaseCounterStore(MonitoringRepository(session))

    yield db_unit


@pytest.fixture
def scope(container: Container) -> str:
    # The database store locks the institution's monitor row: the scope is a real institution.
    return approved(container, industry="banking_finance", purposes=["account_opening"]).id


def test_distinct_counts_members_not_events(unit: Unit, scope: str) -> None:
    with unit() as store:
        counts = [
            store.add_distinct(scope, "d", m, at=T0 + dt.timedelta(seconds=i), window=W)
            for i, m in enumerate("abacbd")
        ]
    assert counts == [1, 2, 2, 3, 3, 4]


def test_distinct_window_edge(unit: Unit, scope: str) -> None:
    with unit() as store:
        assert store.add_distinct(scope, "d", "a", at=T0, window=W) == 1
        # Exactly one window later the first sighting has left (the window is (now - W, now]).
        assert store.add_distinct(scope, "d", "b", at=T0 + W, window=W) == 1
        assert (
            store.add_distinct(scope, "d", "c", at=T0 + W + dt.timedelta(seconds=1), window=W) == 2
        )
        # A member seen again moves to now.
        assert (
            store.add_distinct(scope, "d", "b", at=T0 + 2 * W - dt.timedelta(seconds=1), window=W)
            == 2
        )
        assert (
            store.add_distinct(scope, "d", "e", at=T0 + 2 * W + dt.timedelta(seconds=30), window=W)
            == 2
        )


def test_counters_and_scopes_are_separate(unit: Unit, scope: str, container: Container) -> None:
    other = approved(container, industry="banking_finance", purposes=["account_opening"]).id
    with unit() as store:
        assert store.add_distinct(scope, "d", "a", at=T0, window=W) == 1
        assert store.add_distinct(scope, "x", "a", at=T0, window=W) == 1
        assert store.add_distinct(other, "d", "a", at=T0, window=W) == 1
        assert store.add_distinct(scope, "d", "b", at=T0, window=W) == 2


def test_events(unit: Unit, scope: str) -> None:
    with unit() as store:
        counts = [
            store.add_event(scope, "e", at=T0 + dt.timedelta(minutes=m), window=W)
            for m in (0, 1, 2, 9, 10, 12, 30)
        ]
    # At 10 the event of 0 has left; at 12 those of 1 and 2; at 30 all but itself.
    assert counts == [1, 2, 3, 4, 4, 3, 1]


def test_outcomes_last_m_within_the_window(unit: Unit, scope: str) -> None:
    def add(store: CounterStore, failed: bool, minute: float) -> OutcomeWindow:
        return store.add_outcome(
            scope, "o", failed=failed, last=4, at=T0 + dt.timedelta(minutes=minute), window=W
        )

    with unit() as store:
        assert add(store, True, 0) == OutcomeWindow(1, 1)
        assert add(store, False, 0) == OutcomeWindow(1, 2)
        assert add(store, True, 0) == OutcomeWindow(2, 3)
        assert add(store, True, 0) == OutcomeWindow(3, 4)
        assert add(store, False, 1) == OutcomeWindow(2, 4)  # the first one is out of the last 4
        assert add(store, False, 1) == OutcomeWindow(2, 4)
        assert add(store, True, 10.5) == OutcomeWindow(1, 3)  # those of minute 0 have aged out


def test_reset_forgets_the_scope(unit: Unit, scope: str) -> None:
    with unit() as store:
        store.add_distinct(scope, "d", "a", at=T0, window=W)
        store.add_outcome(scope, "o", failed=True, last=3, at=T0, window=W)
    with unit() as store:
        store.reset(scope)
    with unit() as store:
        assert store.add_distinct(scope, "d", "b", at=T0, window=W) == 1
        assert store.add_outcome(scope, "o", failed=False, last=3, at=T0, window=W) == (
            OutcomeWindow(0, 1)
        )


def test_concurrent_adds_are_exact(unit: Unit, scope: str) -> None:
    """Each of N parallel units (its own transaction) sees a different count: 1..N."""
    n = 24
    barrier = threading.Barrier(n)
    seen: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        try:
            barrier.wait()
            with unit() as store:
                count = store.add_distinct(scope, "d", f"m{i}", at=T0, window=W)
            with lock:
                seen.append(count)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(seen) == list(range(1, n + 1))


def test_database_counts_roll_back_with_the_query(container: Container, scope: str) -> None:
    def failing_query() -> None:
        with container.transaction() as session:
            DatabaseCounterStore(MonitoringRepository(session)).add_distinct(
                scope, "d", "a", at=T0, window=W
            )
            raise RuntimeError("the verification failed")

    with pytest.raises(RuntimeError):
        failing_query()
    with container.transaction() as session:
        store = DatabaseCounterStore(MonitoringRepository(session))
        assert store.add_distinct(scope, "d", "b", at=T0, window=W) == 1
