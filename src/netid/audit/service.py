"""Writing access records, in the caller's transaction (no entry, no access)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from netid.audit.models import AccessRecord
from netid.core.clock import Clock
from netid.core.ids import new_row_id
from netid.crypto.sealing import SealKey, seal


def canonical_json(entry: dict[str, Any]) -> bytes:
    """RFC 8785 (JCS) encoding for the value types our entries use (str, int, bool, None).

    For those types JCS reduces to: keys sorted, no insignificant whitespace, UTF-8, strings
    escaped minimally (RFC 8785 §3.2.2.2). Keys are ASCII, so sorting by UTF-16 code units
    (§3.2.3) equals sorting by code points.
    """
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class AccessRecorder:
    def __init__(self, *, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    def record(
        self,
        *,
        actor: str,
        action: str,
        outcome: str,
        purpose: str | None = None,
        subject_key: SealKey | None = None,
        subject_id: str | None = None,
        details: dict[str, Any] | None = None,
        record_id: str | None = None,
    ) -> AccessRecord:
        """Append one access record. ``subject_id`` is sealed under ``subject_key``.

        ``record_id`` lets a caller name the record in advance, so that the entry can carry a
        receipt that quotes its own id (the receipt id is the record id)."""
        record_id = record_id or new_row_id()
        at = self._clock.now()
        sealed_ref = None
        if subject_id is not None and subject_key is not None:
            sealed_ref = seal(
                subject_key,
                subject_id.encode(),
                table="access_record",
                column="subject_ref",
                row_id=record_id,
            )
        entry = {
            "id": record_id,
            "recorded_at": at.isoformat(),
            "actor": actor,
            "action": action,
            "outcome": outcome,
            "purpose": purpose,
            "subject_ref": sealed_ref.hex() if sealed_ref else None,
            # Nested, so a detail can never overwrite one of the fields above.
            "details": details or {},
        }
        row = AccessRecord(
            id=record_id,
            recorded_at=at,
            actor=actor,
            action=action,
            purpose=purpose,
            outcome=outcome,
            subject_ref_sealed=sealed_ref,
            canonical=canonical_json(entry),
        )
        self._session.add(row)
        self._session.flush()
        return row
