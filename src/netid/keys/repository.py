from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from netid.keys.models import KeyRecord


class KeyRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def all(self) -> Sequence[KeyRecord]:
        return self._session.scalars(
            select(KeyRecord).order_by(KeyRecord.purpose, KeyRecord.created_at)
        ).all()

    def get(self, key_id: str) -> KeyRecord | None:
        return self._session.get(KeyRecord, key_id)

    def add(self, record: KeyRecord) -> None:
        self._session.add(record)
        self._session.flush()

    def add_all_flush(self) -> None:
        self._session.flush()

    def states(self) -> tuple[tuple[str, str], ...]:
        """(key id, state) of every key: changes whenever a key is made, rotated or retired."""
        rows = self._session.execute(
            select(KeyRecord.key_id, KeyRecord.state).order_by(KeyRecord.key_id)
        ).all()
        return tuple((key_id, state) for key_id, state in rows)
