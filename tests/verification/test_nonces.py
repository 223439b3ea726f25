"""The QR nonce stores spend each nonce exactly once — on the database (both backends) and on
the real Redis — also when 50 threads race for one nonce (SEC-16)."""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from collections.abc import Callable

import pytest
from redis import Redis
from sqlalchemy import select

from netid.container import Container
from netid.verification.errors import NonceStoreUnavailable
from netid.verification.models import QrNonce
from netid.verification.nonces import DatabaseNonceStore, RedisNonceStore
from netid.verification.repository import PURGE_BATCH, VerificationRepository
from tests.conftest import REDIS_URL

NOW = dt.datetime(2026, 12, 2, 8, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(seconds=90)


def spend_in_own_transaction(container: Container, nonce: bytes) -> bool:
    with container.transaction() as session:
        return DatabaseNonceStore(VerificationRepository(session)).spend(
            nonce, expires_at=LATER, now=NOW
        )


def race(spend: Callable[[], bool], threads: int = 50) -> list[bool]:
    results: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def work() -> None:
        start.wait()
        outcome = spend()
        with lock:
            results.append(outcome)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return results


def test_database_store_spends_once(container: Container) -> None:
    nonce = secrets.token_bytes(16)
    assert spend_in_own_transaction(container, nonce) is True
    assert spend_in_own_transaction(container, nonce) is False
    assert spend_in_own_transaction(container, secrets.token_bytes(16)) is True


def test_a_refused_spend_leaves_the_transaction_usable(container: Container) -> None:
    nonce = secrets.token_bytes(16)
    assert spend_in_own_transaction(container, nonce)
    with container.transaction() as session:
        store = DatabaseNonceStore(VerificationRepository(session))
        assert store.spend(nonce, expires_at=LATER, now=NOW) is False
        # The savepoint rolled back alone: the same transaction still writes and commits.
        assert store.spend(secrets.token_bytes(16), expires_at=LATER, now=NOW) is True
    with container.transaction(write=False) as session:
        assert VerificationRepository(session).purge_nonces(LATER + dt.timedelta(seconds=1)) == 2


def test_a_rolled_back_spend_does_not_count(container: Container) -> None:
    nonce = secrets.token_bytes(16)

    def failing_request() -> None:
        with container.transaction() as session:
            store = DatabaseNonceStore(VerificationRepository(session))
            store.spend(nonce, expires_at=LATER, now=NOW)
            raise RuntimeError("the request failed before its answer")

    with pytest.raises(RuntimeError):
        failing_request()
    assert spend_in_own_transaction(container, nonce) is True


def test_database_store_50_threads_one_success(container: Container) -> None:
    nonce = secrets.token_bytes(16)
    results = race(lambda: spend_in_own_transaction(container, nonce))
    assert sorted(results) == [False] * 49 + [True]


def test_redis_store_spends_once_and_50_threads_one_success(redis_prefix: str) -> None:
    client = Redis.from_url(REDIS_URL)
    try:
        store = RedisNonceStore(client, prefix=redis_prefix)
        nonce = secrets.token_bytes(16)
        assert store.spend(nonce, expires_at=LATER, now=NOW) is True
        assert store.spend(nonce, expires_at=LATER, now=NOW) is False
        ttl = client.pttl(f"{redis_prefix}qr-nonce:{nonce.hex()}")
        assert 0 < int(ttl) <= 90_000  # kept until the token could no longer be accepted
        other = secrets.token_bytes(16)
        results = race(lambda: store.spend(other, expires_at=LATER, now=NOW))
        assert sorted(results) == [False] * 49 + [True]
    finally:
        client.close()


def test_redis_down_fails_closed() -> None:
    client = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    store = RedisNonceStore(client, prefix="netid-test:down:")
    with pytest.raises(NonceStoreUnavailable):
        store.spend(secrets.token_bytes(16), expires_at=LATER, now=NOW)


def test_spending_purges_expired_nonces_a_few_at_a_time(container: Container) -> None:
    with container.transaction() as session:
        repo = VerificationRepository(session)
        for _ in range(10):
            assert repo.insert_nonce(secrets.token_bytes(16), NOW - dt.timedelta(seconds=1))
        live = secrets.token_bytes(16)
        assert repo.insert_nonce(live, LATER)
    with container.transaction() as session:
        store = DatabaseNonceStore(VerificationRepository(session))
        assert store.spend(secrets.token_bytes(16), expires_at=LATER, now=NOW)
    with container.transaction(write=False) as session:
        left = session.scalars(select(QrNonce.nonce)).all()
    assert len(left) == 10 - PURGE_BATCH + 2  # a batch of the expired went; the live stayed
    assert live in left
    with container.transaction() as session:  # a live nonce is never purged: still spent
        assert not DatabaseNonceStore(VerificationRepository(session)).spend(
            live, expires_at=LATER, now=NOW
        )
