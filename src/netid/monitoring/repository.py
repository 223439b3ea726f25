"""Monitoring queries. The window statements run under the institution's monitor row lock
(:meth:`MonitoringRepository.lock_institution`), so counting is exact under concurrency."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import delete, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from netid.monitoring.models import MonitorAlert, MonitorInstitution, MonitorMark, WatchEntry


class MonitoringRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _insert(self) -> type[postgresql.Insert] | type[sqlite.Insert]:
        dialect = self.session.get_bind().dialect.name
        return postgresql.Insert if dialect == "postgresql" else sqlite.Insert

    # -- the per-institution row ----------------------------------------------------------
    def lock_institution(self, institution_id: str, now: dt.datetime) -> MonitorInstitution:
        """The institution's monitor row, locked until the transaction ends (PostgreSQL
        ``SELECT … FOR UPDATE``; SQLite write transactions are serial already). Created on
        first use with INSERT … ON CONFLICT DO NOTHING, so two first queries cannot collide."""
        query = (
            select(MonitorInstitution)
            .where(MonitorInstitution.institution_id == institution_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        row = self.session.scalars(query).one_or_none()
        if row is not None:
            return row
        insert = self._insert()
        self.session.execute(
            insert(MonitorInstitution)
            .values(institution_id=institution_id, business_hours=None, updated_at=now)
            .on_conflict_do_nothing()
        )
        return self.session.scalars(query).one()

    def institution(self, institution_id: str) -> MonitorInstitution | None:
        return self.session.get(MonitorInstitution, institution_id)

    # -- window marks -----------------------------------------------------------------------
    def upsert_mark(self, scope: str, counter: str, member: str, value: int, at_ms: int) -> None:
        insert = self._insert()
        statement = insert(MonitorMark).values(
            scope=scope, counter=counter, member=member, value=value, at_ms=at_ms
        )
        statement = statement.on_conflict_do_update(
            index_elements=["scope", "counter", "member"],
            set_={"at_ms": statement.excluded.at_ms, "value": statement.excluded.value},
        )
        self.session.execute(statement)

    def prune(
        self, scope: str, counter: str, cutoff_ms: int, *, below_seq: int | None = None
    ) -> None:
        old = MonitorMark.at_ms <= cutoff_ms
        condition = or_(old, MonitorMark.seq < below_seq) if below_seq is not None else old
        self.session.execute(
            delete(MonitorMark)
            .where(MonitorMark.scope == scope, MonitorMark.counter == counter, condition)
            .execution_options(synchronize_session=False)
        )

    def count_marks(self, scope: str, counter: str, cutoff_ms: int) -> int:
        return int(
            self.session.scalar(
                select(func.count()).where(
                    MonitorMark.scope == scope,
                    MonitorMark.counter == counter,
                    MonitorMark.at_ms > cutoff_ms,
                )
            )
            or 0
        )

    def last_marks(self, scope: str, counter: str, limit: int) -> Sequence[tuple[int, int, int]]:
        """(seq, value, at_ms) of the newest ``limit`` marks, newest first."""
        rows = self.session.execute(
            select(MonitorMark.seq, MonitorMark.value, MonitorMark.at_ms)
            .where(MonitorMark.scope == scope, MonitorMark.counter == counter)
            .order_by(MonitorMark.seq.desc())
            .limit(limit)
        )
        return [(int(s), int(v), int(a)) for s, v, a in rows]

    def clear_marks(self, scope: str) -> None:
        self.session.execute(
            delete(MonitorMark)
            .where(MonitorMark.scope == scope)
            .execution_options(synchronize_session=False)
        )

    # -- alerts -----------------------------------------------------------------------------
    def add(self, row: MonitorAlert | WatchEntry | MonitorInstitution) -> None:
        self.session.add(row)
        self.session.flush()

    def alert(self, alert_id: str, *, for_update: bool = False) -> MonitorAlert | None:
        query = select(MonitorAlert).where(MonitorAlert.id == alert_id)
        if for_update:
            query = query.with_for_update().execution_options(populate_existing=True)
        return self.session.scalars(query).one_or_none()

    def alerts(
        self, *, status: str | None, institution_id: str | None, limit: int
    ) -> Sequence[MonitorAlert]:
        query = select(MonitorAlert).order_by(
            MonitorAlert.created_at.desc(), MonitorAlert.id.desc()
        )
        if status is not None:
            query = query.where(MonitorAlert.status == status)
        if institution_id is not None:
            query = query.where(MonitorAlert.institution_id == institution_id)
        return self.session.scalars(query.limit(limit)).all()

    def open_alert_since(self, institution_id: str, rule: str, since: dt.datetime) -> bool:
        return (
            self.session.scalar(
                select(MonitorAlert.id)
                .where(
                    MonitorAlert.institution_id == institution_id,
                    MonitorAlert.rule == rule,
                    MonitorAlert.status == "open",
                    MonitorAlert.created_at >= since,
                )
                .limit(1)
            )
            is not None
        )

    # -- watch list -------------------------------------------------------------------------
    def watch_by_index(self, indexes: Sequence[bytes]) -> WatchEntry | None:
        if not indexes:
            return None
        return self.session.scalars(
            select(WatchEntry).where(WatchEntry.number_index.in_(indexes)).limit(1)
        ).first()

    def watch_entries(self) -> Sequence[WatchEntry]:
        return self.session.scalars(
            select(WatchEntry).order_by(WatchEntry.added_at, WatchEntry.id)
        ).all()

    def remove_watch(self, row: WatchEntry) -> None:
        self.session.delete(row)
        self.session.flush()
