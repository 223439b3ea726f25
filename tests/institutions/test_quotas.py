"""Monthly quotas: exact under concurrency (threads on both backends, two processes on
PostgreSQL), fail closed without a quota row, reset time in China time."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from netid.config import Settings
from netid.container import Container
from netid.core.clock import FixedClock
from netid.core.errors import InvalidInput
from netid.institutions.errors import QuotaExceeded
from netid.institutions.service import month_of, next_month_start_utc
from tests.conftest import Backend
from tests.institutions.test_service import apply, approve

pytestmark = pytest.mark.db
Q = 12


def active(container: Container, quota: int = Q) -> str:
    institution_id = apply(container)
    approve(container, institution_id, quotas={"id2": quota})
    return institution_id


def used(container: Container, institution_id: str, verification_type: str = "id2") -> int:
    with container.transaction(write=False) as session:
        for q in container.institutions(session).quota_status(institution_id):
            if q.verification_type == verification_type:
                return q.used
    raise AssertionError("no quota")


def test_consume_until_spent_then_quota_exceeded(container: Container) -> None:
    institution_id = active(container, quota=3)
    with container.transaction() as session:
        service = container.institutions(session)
        service.consume_quota(institution_id, "id2", 2)
        service.consume_quota(institution_id, "id2")
        with pytest.raises(QuotaExceeded) as raised:
            service.consume_quota(institution_id, "id2")
    assert raised.value.code == "quota_exceeded"
    reset_at = dt.datetime.fromisoformat(raised.value.details["reset_at"])
    assert reset_at == next_month_start_utc(container.clock)
    assert used(container, institution_id) == 3
    with pytest.raises(InvalidInput), container.transaction() as session:
        container.institutions(session).consume_quota(institution_id, "id2", 0)


def test_a_count_over_the_rest_spends_nothing(container: Container) -> None:
    institution_id = active(container, quota=5)
    with container.transaction() as session:
        service = container.institutions(session)
        service.consume_quota(institution_id, "id2", 4)
        with pytest.raises(QuotaExceeded):
            service.consume_quota(institution_id, "id2", 2)
    assert used(container, institution_id) == 4


def test_no_quota_row_fails_closed(container: Container) -> None:
    institution_id = active(container)
    with pytest.raises(QuotaExceeded), container.transaction() as session:
        container.institutions(session).consume_quota(institution_id, "teleport")
    with pytest.raises(QuotaExceeded), container.transaction() as session:
        container.institutions(session).consume_quota("0" * 32, "id2")
    zero = active(container, quota=0)
    with pytest.raises(QuotaExceeded), container.transaction() as session:
        container.institutions(session).consume_quota(zero, "id2")
    assert used(container, zero) == 0


def test_months_are_china_time_and_usage_resets(settings: Settings, db: Backend) -> None:
    # 2026-11-30 16:30 UTC is already 2026-12-01 00:30 in China.
    clock = FixedClock(dt.datetime(2026, 11, 30, 15, 59, tzinfo=dt.UTC))
    container = Container(settings, engine=db.engine, clock=clock)
    with container.transaction() as session:
        container.keyring_service(session).initialise()
    assert month_of(clock) == "2026-11"
    assert next_month_start_utc(clock) == dt.datetime(2026, 11, 30, 16, 0, tzinfo=dt.UTC)
    institution_id = active(container, quota=1)
    with container.transaction() as session:
        container.institutions(session).consume_quota(institution_id, "id2")
    with pytest.raises(QuotaExceeded) as raised, container.transaction() as session:
        container.institutions(session).consume_quota(institution_id, "id2")
    assert raised.value.details["reset_at"] == "2026-11-30T16:00:00Z"
    clock.advance(dt.timedelta(minutes=2))
    assert month_of(clock) == "2026-12"
    with container.transaction() as session:
        container.institutions(session).consume_quota(institution_id, "id2")
    clock.advance(dt.timedelta(days=30))  # 2026-12-31 in China
    assert next_month_start_utc(clock) == dt.datetime(2026, 12, 31, 16, 0, tzinfo=dt.UTC)


def test_two_q_concurrent_threads_exactly_q_succeed(container: Container) -> None:
    institution_id = active(container)
    barrier = threading.Barrier(2 * Q)
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        try:
            with container.transaction() as session:
                container.institutions(session).consume_quota(institution_id, "id2")
            outcome = "ok"
        except QuotaExceeded:
            outcome = "exceeded"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=worker) for _ in range(2 * Q)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert outcomes.count("ok") == Q
    assert outcomes.count("exceeded") == Q
    assert used(container, institution_id) == Q


WORKER = """
import sys
from netid.config import Settings
from netid.container import Container
from netid.institutions.errors import QuotaExceeded

url, schema, key, institution_id, n = sys.argv[1:6]
c = Container(Settings(database_url=url, database_schema=schema, master_key=key))
ok = 0
sys.stdout.write("ready\\n")
sys.stdout.flush()
sys.stdin.readline()  # start together
for _ in range(int(n)):
    try:
        with c.transaction() as session:
            c.institutions(session).consume_quota(institution_id, "id2")
        ok += 1
    except QuotaExceeded:
        pass
print(ok)
"""


def test_two_processes_on_postgresql_exactly_q_succeed(
    container: Container, db: Backend, settings: Settings, tmp_path: Path
) -> None:
    if db.name != "postgresql":
        pytest.skip("two server processes share one PostgreSQL")
    institution_id = active(container)
    assert settings.master_key is not None
    args = [db.url, db.schema or "", settings.master_key, institution_id, str(Q)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-2000:]
        results.append(int(out.strip().splitlines()[-1]))
    assert sum(results) == Q  # 2Q attempts in two processes, exactly Q succeed
    assert used(container, institution_id) == Q
