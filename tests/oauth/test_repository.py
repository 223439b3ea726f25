"""The used-jti store (RFC 7523 §3 item 7) on both backends: one claim per (client, jti),
concurrent-safe without an error, and the purge forgets only what can no longer be replayed."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from netid.container import Container
from netid.oauth.models import UsedAssertion
from netid.oauth.repository import PURGE_BATCH, PURGE_EXPIRED_SQL, OAuthRepository

pytestmark = pytest.mark.db

NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)


def _claim(container: Container, client: str, jti: bytes, expires: dt.datetime) -> bool:
    with container.transaction() as session:
        return OAuthRepository(session).claim_jti(
            client_id=client, jti_hash=jti, used_at=NOW, expires_at=expires
        )


def _remembered(container: Container) -> set[tuple[str, bytes]]:
    with container.transaction(write=False) as session:
        rows = session.execute(select(UsedAssertion.client_id, UsedAssertion.jti_hash)).all()
    return {(client, bytes(jti)) for client, jti in rows}


def test_a_jti_is_claimed_once_per_client(container: Container) -> None:
    later = NOW + dt.timedelta(minutes=5)
    assert _claim(container, "client-a", b"j" * 32, later)
    assert not _claim(container, "client-a", b"j" * 32, later)
    # The same jti from another client is that client's own.
    assert _claim(container, "client-b", b"j" * 32, later)
    with container.transaction(write=False) as session:
        stored = session.execute(select(UsedAssertion)).scalars().all()
        assert {row.expires_at for row in stored} == {later}
        assert {row.used_at for row in stored} == {NOW}


def test_purge_forgets_every_clients_expired_jtis_and_nothing_else(
    container: Container,
) -> None:
    expired, live = NOW - dt.timedelta(seconds=1), NOW + dt.timedelta(seconds=1)
    _claim(container, "client-a", b"a-old".ljust(32), expired)
    _claim(container, "client-b", b"b-old".ljust(32), expired)
    _claim(container, "client-a", b"a-new".ljust(32), live)
    with container.transaction() as session:
        OAuthRepository(session).purge_expired(before=NOW)
    assert _remembered(container) == {("client-a", b"a-new".ljust(32))}
    # A forgotten jti could be claimed again, but its assertion fails the exp check first.
    assert not _claim(container, "client-a", b"a-new".ljust(32), live)


def test_purge_removes_a_backlog_a_batch_at_a_time(container: Container) -> None:
    expired = NOW - dt.timedelta(seconds=1)
    for n in range(PURGE_BATCH + 3):
        _claim(container, "client-a", f"old-{n}".encode().ljust(32), expired)
    with container.transaction() as session:
        OAuthRepository(session).purge_expired(before=NOW)
    assert len(_remembered(container)) == 3
    with container.transaction() as session:
        OAuthRepository(session).purge_expired(before=NOW)
    assert _remembered(container) == set()


def test_purge_reads_the_expiry_index_not_the_clients_jtis(container: Container) -> None:
    """The purge runs on every grant: it must not walk a client's whole history (it once
    filtered on client_id too, and SQLite chose the (client_id, jti_hash) index)."""
    if container.engine.dialect.name != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's; PostgreSQL plans by statistics")
    with container.transaction(write=False) as session:
        plan = " ".join(
            str(row[-1])
            for row in session.connection().exec_driver_sql(
                f"EXPLAIN QUERY PLAN {PURGE_EXPIRED_SQL}", ("2026-12-04", 8)
            )
        )
        assert session.scalar(select(func.count()).select_from(UsedAssertion)) == 0
    assert "ix_used_assertion_expires_at" in plan, plan
