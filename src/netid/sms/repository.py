"""Queries of the SMS outbox."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from netid.sms.models import SmsOutboxMessage


class SmsRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, message: SmsOutboxMessage) -> None:
        self._session.add(message)
        self._session.flush()

    def latest(self, limit: int) -> Sequence[SmsOutboxMessage]:
        """Newest first (ids are UUIDv7, so they break ties in time order too)."""
        return self._session.scalars(
            select(SmsOutboxMessage)
            .order_by(SmsOutboxMessage.created_at.desc(), SmsOutboxMessage.id.desc())
            .limit(limit)
        ).all()

    def not_sealed_by(self, key_id: str, limit: int) -> Sequence[SmsOutboxMessage]:
        return self._session.scalars(
            select(SmsOutboxMessage)
            .where(SmsOutboxMessage.key_id != key_id)
            .order_by(SmsOutboxMessage.id)
            .limit(limit)
        ).all()

    def references_to_key(self, key_id: str) -> int:
        return int(
            self._session.scalar(select(func.count()).where(SmsOutboxMessage.key_id == key_id)) or 0
        )

    def flush(self) -> None:
        self._session.flush()
