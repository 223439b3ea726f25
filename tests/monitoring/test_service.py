"""Monitoring on the verification path, on both databases and with both counter stores: the
rules fire, freezing rules freeze before the query is answered, alerts and access records."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from netid.audit.models import AccessRecord
from netid.container import Container
from netid.core.clock import FixedClock
from netid.institutions.models import InstitutionStatusChange
from netid.institutions.schemas import InstitutionStatus
from netid.monitoring.errors import AlertAlreadyResolved, WatchEntryNotFound
from netid.monitoring.models import MonitorAlert
from netid.monitoring.schemas import AlertStatus
from tests.monitoring.support import (
    ACTOR,
    ask,
    id2,
    load_population,
    monitored_container,
    rules_document,
    unknown_numbers,
)
from tests.verification.support import approved

pytestmark = pytest.mark.db

QUOTAS = {"id2": 10_000}
# 2026-11-23 is a Monday; 14:00 in Shanghai is 06:00 UTC.
MONDAY_AFTERNOON = dt.datetime(2026, 11, 23, 6, 0, tzinfo=dt.UTC)
MONDAY_NIGHT = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)  # 23:00 in Shanghai


def bank(container: Container, industry: str = "banking_finance") -> str:
    return approved(container, industry=industry, purposes=["account_opening"], quotas=QUOTAS).id


def status_of(container: Container, institution_id: str) -> InstitutionStatus:
    with container.transaction(write=False) as session:
        return container.institutions(session).get(institution_id).status


def alerts(container: Container) -> list[MonitorAlert]:
    with container.transaction(write=False) as session:
        return list(session.scalars(select(MonitorAlert).order_by(MonitorAlert.created_at)))


def entries(container: Container) -> list[dict[str, Any]]:
    with container.transaction(write=False) as session:
        rows = session.scalars(select(AccessRecord).order_by(AccessRecord.seq)).all()
        return [json.loads(r.canonical) for r in rows]


def code_of(outcome: Any) -> str | None:
    return outcome.refusal.code if outcome.refusal is not None else None


def test_distinct_people_freezes_the_institution_on_the_first_query_over_the_limit(
    container: Container, tmp_path: Path, store: dict[str, Any]
) -> None:
    c = monitored_container(
        container, tmp_path, rules_document(distinct_people={"max_distinct": 5}), **store
    )
    people = load_population(c, 8)
    institution = bank(c)
    for person in people[:5]:
        outcome = ask(c, institution, id2(person["documents"][0]["number"]))
        assert outcome.answer is not None
        assert outcome.answer.result == "match"
    # Asking about the same people again is not more people.
    assert ask(c, institution, id2(people[0]["documents"][0]["number"])).answer is not None

    sixth = ask(c, institution, id2(people[5]["documents"][0]["number"]))
    assert code_of(sixth) == "institution_frozen"
    assert status_of(c, institution) is InstitutionStatus.FROZEN
    # The next one is refused by the status check, and no second alert opens.
    assert code_of(ask(c, institution, id2(people[6]["documents"][0]["number"]))) == (
        "institution_frozen"
    )
    [alert] = alerts(c)
    assert alert.rule == "distinct_people"
    assert alert.status == "open"
    assert alert.details["distinct_people"] == 6
    assert alert.details["limit"] == 5
    assert alert.details["action"] == "freeze"
    text = json.dumps(alert.details)
    for person in people:
        assert person["documents"][0]["number"] not in text
        assert person["name"] not in text

    log = entries(c)
    [freeze] = [e for e in log if e["action"] == "institution.freeze"]
    assert freeze["actor"] == "monitor:distinct_people"
    assert freeze["details"]["reason"] == "monitoring rule distinct_people"
    [opened] = [e for e in log if e["action"] == "monitoring.alert"]
    assert opened["details"]["alert_id"] == alert.id
    refusals = [e for e in log if e["action"] == "verification.id2" and e["outcome"] == "refused"]
    assert [r["details"]["reason"] for r in refusals] == ["institution_frozen"] * 2
    assert alert.details["verification_id"] == refusals[0]["id"]


def test_numbers_nobody_holds_count_as_people(
    container: Container, tmp_path: Path, store: dict[str, Any]
) -> None:
    c = monitored_container(
        container, tmp_path, rules_document(distinct_people={"max_distinct": 5}), **store
    )
    institution = bank(c)
    numbers = unknown_numbers(6)
    results = [ask(c, institution, id2(n)) for n in numbers]
    assert [r.answer.result for r in results[:5] if r.answer] == ["mismatch"] * 5
    assert code_of(results[5]) == "institution_frozen"
    assert status_of(c, institution) is InstitutionStatus.FROZEN


def test_the_window_slides(container: Container, tmp_path: Path, store: dict[str, Any]) -> None:
    clock = FixedClock(MONDAY_AFTERNOON)
    c = monitored_container(
        container,
        tmp_path,
        rules_document(distinct_people={"max_distinct": 5, "window_minutes": 10}),
        clock=clock,
        **store,
    )
    institution = bank(c)
    numbers = unknown_numbers(12)
    for n in numbers[:5]:
        assert ask(c, institution, id2(n)).answer is not None
    clock.advance(dt.timedelta(minutes=10, seconds=1))
    for n in numbers[5:10]:
        assert ask(c, institution, id2(n)).answer is not None
    assert code_of(ask(c, institution, id2(numbers[10]))) == "institution_frozen"


def test_a_person_asked_again_refreshes_their_place_in_the_window(
    container: Container, tmp_path: Path
) -> None:
    clock = FixedClock(MONDAY_AFTERNOON)
    c = monitored_container(
        container, tmp_path, rules_document(distinct_people={"max_distinct": 2}), clock=clock
    )
    institution = bank(c)
    a, b, d = unknown_numbers(3)
    assert ask(c, institution, id2(a)).answer is not None
    clock.advance(dt.timedelta(minutes=6))
    assert ask(c, institution, id2(b)).answer is not None
    assert ask(c, institution, id2(a)).answer is not None  # a is seen again: now
    clock.advance(dt.timedelta(minutes=6))  # b is 6 min old, a 6 min: both in the window
    assert code_of(ask(c, institution, id2(d))) == "institution_frozen"


def test_mismatch_ratio_over_the_last_m_queries_freezes(
    container: Container, tmp_path: Path, store: dict[str, Any]
) -> None:
    c = monitored_container(
        container,
        tmp_path,
        rules_document(mismatch_ratio={"max_ratio": 0.5, "last_queries": 10}),
        **store,
    )
    [person] = load_population(c, 1)
    number = person["documents"][0]["number"]
    institution = bank(c)
    for _ in range(4):
        assert ask(c, institution, id2(number)).answer is not None
    wrong = unknown_numbers(6)
    for n in wrong[:5]:  # 5 of 9: judged only once 10 are in
        outcome = ask(c, institution, id2(n))
        assert outcome.answer is not None
        assert outcome.answer.result == "mismatch"
    # The tenth makes 6 mismatches of 10 > 0.5: refused, counted before it is answered.
    assert code_of(ask(c, institution, id2(wrong[5]))) == "institution_frozen"
    [alert] = alerts(c)
    assert alert.rule == "mismatch_ratio"
    assert (alert.details["mismatches"], alert.details["queries"]) == (6, 10)


def test_matches_keep_the_ratio_down(container: Container, tmp_path: Path) -> None:
    c = monitored_container(
        container,
        tmp_path,
        rules_document(mismatch_ratio={"max_ratio": 0.5, "last_queries": 10}),
    )
    [person] = load_population(c, 1)
    number = person["documents"][0]["number"]
    institution = bank(c)
    wrong = unknown_numbers(20)
    for n in wrong:  # alternate: exactly half mismatch, never above
        assert ask(c, institution, id2(number)).answer is not None
        assert ask(c, institution, id2(n)).answer is not None
    assert status_of(c, institution) is InstitutionStatus.ACTIVE


def test_off_hours_burst_alerts_once_and_answers(
    container: Container, tmp_path: Path, store: dict[str, Any]
) -> None:
    clock = FixedClock(MONDAY_NIGHT)
    hours = {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "18:00"}
    c = monitored_container(
        container,
        tmp_path,
        rules_document(business_hours=hours, off_hours_burst={"burst": 3}),
        clock=clock,
        **store,
    )
    institution = bank(c)
    numbers = unknown_numbers(6)
    for n in numbers[:3]:
        assert ask(c, institution, id2(n)).answer is not None
    assert alerts(c) == []
    for n in numbers[3:]:
        assert ask(c, institution, id2(n)).answer is not None  # alert only: still answered
    [alert] = alerts(c)
    assert alert.rule == "off_hours_burst"
    assert alert.details["off_hours_queries"] == 4
    assert "action" not in alert.details
    assert status_of(c, institution) is InstitutionStatus.ACTIVE


def test_off_hours_burst_may_freeze_and_business_hours_do_not_count(
    container: Container, tmp_path: Path
) -> None:
    clock = FixedClock(MONDAY_AFTERNOON)
    hours = {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "18:00"}
    c = monitored_container(
        container,
        tmp_path,
        rules_document(business_hours=hours, off_hours_burst={"burst": 2, "action": "freeze"}),
        clock=clock,
    )
    institution = bank(c)
    numbers = unknown_numbers(8)
    for n in numbers[:4]:  # in business hours: not counted
        assert ask(c, institution, id2(n)).answer is not None
    clock.advance(dt.timedelta(hours=5))  # 19:00 in Shanghai
    for n in numbers[4:6]:
        assert ask(c, institution, id2(n)).answer is not None
    assert code_of(ask(c, institution, id2(numbers[6]))) == "institution_frozen"
    assert [a.rule for a in alerts(c)] == ["off_hours_burst"]


def test_an_institution_declares_its_own_business_hours(
    container: Container, tmp_path: Path
) -> None:
    clock = FixedClock(MONDAY_NIGHT)  # 23:00 on a Monday in Shanghai
    hours = {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "18:00"}
    c = monitored_container(
        container,
        tmp_path,
        rules_document(business_hours=hours, off_hours_burst={"burst": 1}),
        clock=clock,
    )
    night_shift, day_shift = bank(c), bank(c)
    with c.transaction() as session:
        c.monitoring(session).set_business_hours(
            night_shift, {"days": ["mon"], "start": "20:00", "end": "24:00"}, actor=ACTOR
        )
    numbers = unknown_numbers(4)
    for n in numbers[:2]:
        ask(c, night_shift, id2(n))
        ask(c, day_shift, id2(n))
    assert [a.institution_id for a in alerts(c)] == [day_shift]
    [change] = [e for e in entries(c) if e["action"] == "monitoring.business_hours"]
    assert change["details"]["institution_id"] == night_shift


def test_watch_list_access_alerts_and_the_number_is_never_stored(
    container: Container, tmp_path: Path, store: dict[str, Any]
) -> None:
    c = monitored_container(container, tmp_path, rules_document(watch_list={}), **store)
    [person] = load_population(c, 1)
    number = person["documents"][0]["number"]
    institution = bank(c)
    with c.transaction() as session:
        entry = c.monitoring(session).watch_add(number, actor="admin:sec")
    with c.transaction() as session:  # adding it again: the same entry
        assert c.monitoring(session).watch_add(number.lower(), actor="admin:sec").id == entry.id
    outcome = ask(c, institution, id2(number))
    assert outcome.answer is not None  # alert only
    assert outcome.answer.result == "match"
    [alert] = alerts(c)
    assert alert.rule == "watch_list"
    assert alert.details == {
        "watch_id": entry.id,
        "verification_id": outcome.answer.verification_id,
    }
    ask(c, institution, id2(number, name="别人"))  # any access, a mismatch too
    assert len(alerts(c)) == 2

    with c.engine.connect() as conn:  # nothing in the database holds the number in clear
        for table in ("watch_entry", "monitor_mark", "monitor_alert"):
            for row in conn.exec_driver_sql(f"SELECT * FROM {table}"):
                assert number not in repr(row)
    with c.transaction() as session:
        service = c.monitoring(session)
        assert [w.id for w in service.watch_list(actor="admin:sec")] == [entry.id]
        service.watch_remove(number, actor="admin:sec")
        assert service.watch_list(actor="admin:sec") == []
    with c.transaction() as session, pytest.raises(WatchEntryNotFound):
        c.monitoring(session).watch_remove(number, actor="admin:sec")
    ask(c, institution, id2(number))
    assert len(alerts(c)) == 2
    actions = [e["action"] for e in entries(c) if e["action"].startswith("monitoring.watch")]
    assert actions == [
        "monitoring.watch_add",
        "monitoring.watch_list",
        "monitoring.watch_remove",
        "monitoring.watch_list",
    ]


def test_resolve_then_unfreeze_lets_the_institution_work_again(
    container: Container, tmp_path: Path, store: dict[str, Any]
) -> None:
    c = monitored_container(
        container, tmp_path, rules_document(distinct_people={"max_distinct": 2}), **store
    )
    institution = bank(c)
    numbers = unknown_numbers(8)
    for n in numbers[:3]:
        ask(c, institution, id2(n))
    assert status_of(c, institution) is InstitutionStatus.FROZEN
    [alert] = alerts(c)

    # Unfrozen without resolving: the window still holds 3 people, the next new one trips it.
    with c.transaction() as session:
        c.institutions(session).unfreeze(institution, actor="admin:sec", reason="checked")
    assert code_of(ask(c, institution, id2(numbers[3]))) == "institution_frozen"
    assert len(alerts(c)) == 2

    with c.transaction() as session:
        service = c.monitoring(session)
        for open_alert in service.alerts(actor="admin:sec", status="open"):
            service.resolve(open_alert.id, actor="admin:sec", reason="the bank's batch job")
        c.institutions(session).unfreeze(institution, actor="admin:sec", reason="checked")
    with c.transaction() as session, pytest.raises(AlertAlreadyResolved):
        c.monitoring(session).resolve(alert.id, actor="admin:sec", reason="again")
    for n in numbers[4:6]:
        assert ask(c, institution, id2(n)).answer is not None
    resolved = next(a for a in alerts(c) if a.id == alert.id)
    assert resolved.status == AlertStatus.RESOLVED
    assert resolved.resolved_by == "admin:sec"
    assert resolved.resolution_reason == "the bank's batch job"
    log = [e for e in entries(c) if e["action"] == "monitoring.alert_resolve"]
    assert {e["details"]["alert_id"] for e in log} == {a.id for a in alerts(c)}


@pytest.mark.parametrize("workers", [30])
def test_concurrent_queries_no_more_than_the_threshold_succeed(
    container: Container, tmp_path: Path, store: dict[str, Any], workers: int
) -> None:
    c = monitored_container(
        container, tmp_path, rules_document(distinct_people={"max_distinct": 5}), **store
    )
    people = load_population(c, workers)
    institution = bank(c)
    barrier = threading.Barrier(workers)
    codes: list[str | None] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(number: str) -> None:
        try:
            barrier.wait()
            outcome = ask(c, institution, id2(number))  # each its own transaction
            with lock:
                codes.append(code_of(outcome))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(p["documents"][0]["number"],)) for p in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    answered = codes.count(None)
    assert answered <= 5
    assert answered == 5  # the counters are exact: every one below the limit is answered
    assert codes.count("institution_frozen") == workers - answered
    assert status_of(c, institution) is InstitutionStatus.FROZEN
    assert [a.rule for a in alerts(c)] == ["distinct_people"]
    with c.transaction(write=False) as session:
        changes = session.scalars(
            select(InstitutionStatusChange).where(
                InstitutionStatusChange.institution_id == institution,
                InstitutionStatusChange.to_status == "frozen",
            )
        ).all()
    assert len(changes) == 1
