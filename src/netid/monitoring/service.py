"""Anomaly detection on the verification path, and the security administrator's alerts and
watch list (issue 4 §3).

The verification service calls :meth:`MonitoringService.admit` after the policy decision and
the document-number parse and BEFORE the look-up, and :meth:`MonitoringService.conclude` after
the comparison (the mismatch ratio needs the result). Both count and decide in one step: the
database store counts under the institution's monitor row lock in the query's own
transaction, the Redis store in one atomic script, so under concurrent load no more than the
threshold's worth of queries pass. When a freezing rule fires, the institution is frozen in
the same transaction (actor ``monitor:<rule>``, idempotent when it is frozen already), one
alert opens, and the query is refused with ``institution_frozen`` — raised inside the
verification's ``try`` so that the refusal is recorded like any other.

A query is keyed by the registry's blind index of its normalised number (HMAC-SM3 under the
blind-index key): numbers that exist and numbers that don't count alike (enumeration uses
numbers that don't), and no plaintext or unkeyed hash is stored — the numbers have too little
entropy for an unkeyed hash to hide them.

Windows keep running across a freeze: after an unfreeze the institution would trip again until
the offending queries age out. Resolving the alert of a freezing rule clears that
institution's counters (review, resolve, then unfreeze).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from netid.audit.service import AccessRecorder
from netid.core.clock import Clock, today_in_china
from netid.core.ids import new_row_id
from netid.documents import DocumentType, parse_document_number
from netid.keys.schemas import KeyPurpose
from netid.keys.service import Keyring
from netid.monitoring.counters import CounterStore
from netid.monitoring.errors import (
    AlertAlreadyResolved,
    AlertNotFound,
    FrozenByMonitor,
    InvalidBusinessHours,
    InvalidReason,
    RulesInvalid,
    WatchEntryNotFound,
)
from netid.monitoring.models import MonitorAlert, WatchEntry
from netid.monitoring.repository import MonitoringRepository
from netid.monitoring.rules import parse_business_hours
from netid.monitoring.schemas import (
    DISTINCT_PEOPLE,
    MISMATCH_RATIO,
    OFF_HOURS_BURST,
    WATCH_LIST,
    AlertStatus,
    AlertView,
    BusinessHours,
    IndustryRules,
    RuleSet,
    WatchEntryView,
)
from netid.registry.service import document_index

MAX_REASON_LENGTH = 1024
MAX_ALERTS = 1000


class Freezer(Protocol):
    """What monitoring needs of the institutions service (the container wires it)."""

    def freeze_if_active(self, institution_id: str, *, actor: str, reason: str) -> bool:
        """Freeze the institution if it is active; False if it is not (already frozen)."""
        ...


@dataclass(frozen=True, slots=True)
class MonitoredQuery:
    """One verification as monitoring sees it: who asks, and the keyed hash of the number."""

    institution_id: str
    institution_code: str
    industry: str
    verification_id: str
    subject_indexes: tuple[bytes, ...]  # under every live blind-index key, the active first
    at: dt.datetime

    @property
    def subject_hash(self) -> str:
        return self.subject_indexes[0].hex()


def _check_reason(reason: str) -> str:
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON_LENGTH:
        raise InvalidReason()
    return reason


def _alert_view(row: MonitorAlert) -> AlertView:
    return AlertView(
        id=row.id,
        institution_id=row.institution_id,
        rule=row.rule,
        details=dict(row.details),
        created_at=row.created_at,
        status=AlertStatus(row.status),
        resolved_by=row.resolved_by,
        resolution_reason=row.resolution_reason,
        resolved_at=row.resolved_at,
    )


def _watch_view(row: WatchEntry) -> WatchEntryView:
    return WatchEntryView(id=row.id, added_by=row.added_by, added_at=row.added_at)


class MonitoringService:
    def __init__(
        self,
        *,
        repository: MonitoringRepository,
        counters: CounterStore,
        rules: RuleSet,
        freezer: Freezer,
        keyring: Keyring,
        recorder: AccessRecorder,
        clock: Clock,
    ) -> None:
        self._repo = repository
        self._counters = counters
        self._rules = rules
        self._freezer = freezer
        self._keyring = keyring
        self._recorder = recorder
        self._clock = clock

    # -- keyed hashes -------------------------------------------------------------------------
    def _indexes(self, doc_type: DocumentType, normalized: str) -> list[bytes]:
        """The blind index under every live blind-index key, the active one first."""
        return [
            document_index(k.secret, doc_type, normalized)
            for k in self._keyring.all_of(KeyPurpose.BLIND_INDEX)
        ]

    def query(
        self,
        *,
        institution_id: str,
        institution_code: str,
        industry: str,
        verification_id: str,
        doc_type: DocumentType,
        normalized: str,
        at: dt.datetime,
    ) -> MonitoredQuery:
        return MonitoredQuery(
            institution_id=institution_id,
            institution_code=institution_code,
            industry=industry,
            verification_id=verification_id,
            subject_indexes=tuple(self._indexes(doc_type, normalized)),
            at=at,
        )

    # -- the verification path ----------------------------------------------------------------
    def admit(self, query: MonitoredQuery) -> None:
        """Count the query before it is answered. Raises :class:`FrozenByMonitor` when a
        freezing rule fires (the institution is frozen in this transaction) and
        :class:`MonitoringUnavailable` when the counter store is down."""
        rules = self._rules.for_industry(query.industry)
        if rules.watch_list.enabled:
            self._watch_list(query, rules)
        distinct = rules.distinct_people
        if distinct.enabled:
            count = self._counters.add_distinct(
                query.institution_id,
                DISTINCT_PEOPLE,
                query.subject_hash,
                at=query.at,
                window=dt.timedelta(minutes=distinct.window_minutes),
            )
            if count > distinct.max_distinct:
                self._fire(
                    query,
                    DISTINCT_PEOPLE,
                    distinct.action,
                    distinct.window_minutes,
                    {
                        "distinct_people": count,
                        "limit": distinct.max_distinct,
                        "window_minutes": distinct.window_minutes,
                    },
                )
        burst = rules.off_hours_burst
        if burst.enabled and not self.business_hours(query.institution_id, rules).contains(
            query.at
        ):
            count = self._counters.add_event(
                query.institution_id,
                OFF_HOURS_BURST,
                at=query.at,
                window=dt.timedelta(minutes=burst.window_minutes),
            )
            if count > burst.burst:
                self._fire(
                    query,
                    OFF_HOURS_BURST,
                    burst.action,
                    burst.window_minutes,
                    {
                        "off_hours_queries": count,
                        "limit": burst.burst,
                        "window_minutes": burst.window_minutes,
                    },
                )

    def conclude(self, query: MonitoredQuery, *, matched: bool) -> None:
        """Record the comparison's outcome and judge the mismatch ratio, this query included.
        Raises like :meth:`admit`."""
        rule = self._rules.for_industry(query.industry).mismatch_ratio
        if not rule.enabled:
            return
        window = self._counters.add_outcome(
            query.institution_id,
            MISMATCH_RATIO,
            failed=not matched,
            last=rule.last_queries,
            at=query.at,
            window=dt.timedelta(minutes=rule.window_minutes),
        )
        if window.total >= rule.last_queries and window.failures > rule.max_ratio * window.total:
            self._fire(
                query,
                MISMATCH_RATIO,
                rule.action,
                rule.window_minutes,
                {
                    "mismatches": window.failures,
                    "queries": window.total,
                    "max_ratio": rule.max_ratio,
                },
            )

    def business_hours(self, institution_id: str, rules: IndustryRules) -> BusinessHours:
        """The institution's own declared hours if it has any, else its industry's."""
        row = self._repo.institution(institution_id)
        if row is not None and row.business_hours is not None:
            return parse_business_hours(row.business_hours)
        return rules.business_hours

    def set_business_hours(
        self, institution_id: str, hours: Mapping[str, Any] | None, *, actor: str
    ) -> BusinessHours | None:
        """Declare the institution's own business hours (``None``: its industry's again).
        The caller checks that the institution exists."""
        try:
            parsed = parse_business_hours(dict(hours)) if hours is not None else None
        except RulesInvalid as exc:
            raise InvalidBusinessHours(details={"problem": exc.message}) from None
        row = self._repo.lock_institution(institution_id, self._clock.now())
        row.business_hours = parsed.to_json() if parsed is not None else None
        row.updated_at = self._clock.now()
        self._repo.session.flush()
        self._recorder.record(
            actor=actor,
            action="monitoring.business_hours",
            outcome="ok",
            details={"institution_id": institution_id, "business_hours": row.business_hours},
        )
        return parsed

    def _watch_list(self, query: MonitoredQuery, rules: IndustryRules) -> None:
        entry = self._repo.watch_by_index(query.subject_indexes)
        if entry is None:
            return
        details = {"watch_id": entry.id, "verification_id": query.verification_id}
        if rules.watch_list.action == "freeze":
            self._freeze(query, WATCH_LIST, details)
        self._alert(query.institution_id, WATCH_LIST, details)

    def _fire(
        self,
        query: MonitoredQuery,
        rule: str,
        action: str,
        window_minutes: int,
        details: dict[str, Any],
    ) -> None:
        details = {**details, "verification_id": query.verification_id}
        if action == "freeze":
            self._freeze(query, rule, details)
        # An alerting rule stays above its limit for the rest of a burst: one open alert per
        # institution and rule per window, not one per query.
        since = query.at - dt.timedelta(minutes=window_minutes)
        if not self._repo.open_alert_since(query.institution_id, rule, since):
            self._alert(query.institution_id, rule, details)

    def _freeze(self, query: MonitoredQuery, rule: str, details: dict[str, Any]) -> None:
        # Serialise the freezers of one institution (with Redis counters, several requests can
        # trip at once): after this lock, the institution's status read below is current.
        self._repo.lock_institution(query.institution_id, self._clock.now())
        frozen = self._freezer.freeze_if_active(
            query.institution_id, actor=f"monitor:{rule}", reason=f"monitoring rule {rule}"
        )
        if frozen:
            self._alert(query.institution_id, rule, {**details, "action": "freeze"})
        raise FrozenByMonitor()

    def _alert(self, institution_id: str, rule: str, details: Mapping[str, Any]) -> AlertView:
        row = MonitorAlert(
            id=new_row_id(),
            institution_id=institution_id,
            rule=rule,
            details=dict(details),
            created_at=self._clock.now(),
            status=AlertStatus.OPEN.value,
        )
        self._repo.add(row)
        self._recorder.record(
            actor=f"monitor:{rule}",
            action="monitoring.alert",
            outcome="open",
            details={"alert_id": row.id, "institution_id": institution_id, "rule": rule},
        )
        return _alert_view(row)

    # -- alerts (security administrator) ------------------------------------------------------
    def alerts(
        self,
        *,
        actor: str,
        status: AlertStatus | str | None = None,
        institution_id: str | None = None,
        limit: int = 100,
    ) -> list[AlertView]:
        wanted = AlertStatus(status).value if status is not None else None
        rows = self._repo.alerts(
            status=wanted, institution_id=institution_id, limit=max(1, min(limit, MAX_ALERTS))
        )
        self._recorder.record(
            actor=actor,
            action="monitoring.alert_list",
            outcome="ok",
            details={"status": wanted, "institution_id": institution_id, "count": len(rows)},
        )
        return [_alert_view(r) for r in rows]

    def alert(self, alert_id: str) -> AlertView | None:
        row = self._repo.alert(alert_id)
        return _alert_view(row) if row is not None else None

    def resolve(self, alert_id: str, *, actor: str, reason: str) -> AlertView:
        """Close an alert with a reason. Resolving the alert of a rule that freezes clears the
        institution's counters, so that an unfreeze that follows starts from empty windows."""
        reason = _check_reason(reason)
        row = self._repo.alert(alert_id, for_update=True)
        if row is None:
            raise AlertNotFound()
        if row.status != AlertStatus.OPEN.value:
            raise AlertAlreadyResolved()
        row.status = AlertStatus.RESOLVED.value
        row.resolved_by = actor
        row.resolution_reason = reason
        row.resolved_at = self._clock.now()
        self._repo.session.flush()
        if row.details.get("action") == "freeze":
            self._counters.reset(row.institution_id)
        self._recorder.record(
            actor=actor,
            action="monitoring.alert_resolve",
            outcome="ok",
            details={
                "alert_id": row.id,
                "institution_id": row.institution_id,
                "rule": row.rule,
                "reason": reason,
            },
        )
        return _alert_view(row)

    # -- watch list (security administrator) --------------------------------------------------
    def _number_indexes(self, number: str) -> list[bytes]:
        check = parse_document_number(number, today=today_in_china(self._clock))
        assert check.type is not None  # valid
        assert check.normalized is not None
        return self._indexes(check.type, check.normalized)

    def watch_add(self, number: str, *, actor: str) -> WatchEntryView:
        """Watch a document number (stored as its blind index only). Adding a watched number
        again returns the existing entry."""
        indexes = self._number_indexes(number)
        existing = self._repo.watch_by_index(indexes)
        if existing is not None:
            return _watch_view(existing)
        row = WatchEntry(
            id=new_row_id(),
            number_index=indexes[0],
            index_key_id=self._keyring.active(KeyPurpose.BLIND_INDEX).key_id,
            added_by=actor,
            added_at=self._clock.now(),
        )
        self._repo.add(row)
        self._recorder.record(
            actor=actor, action="monitoring.watch_add", outcome="ok", details={"watch_id": row.id}
        )
        return _watch_view(row)

    def watch_remove(self, number: str, *, actor: str) -> WatchEntryView:
        row = self._repo.watch_by_index(self._number_indexes(number))
        if row is None:
            raise WatchEntryNotFound()
        view = _watch_view(row)
        self._repo.remove_watch(row)
        self._recorder.record(
            actor=actor,
            action="monitoring.watch_remove",
            outcome="ok",
            details={"watch_id": view.id},
        )
        return view

    def watch_list(self, *, actor: str) -> Sequence[WatchEntryView]:
        rows = self._repo.watch_entries()
        self._recorder.record(
            actor=actor,
            action="monitoring.watch_list",
            outcome="ok",
            details={"count": len(rows)},
        )
        return [_watch_view(r) for r in rows]
