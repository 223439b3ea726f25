"""Write a verification's access record (with its receipt) and its charge, as the verification
service does: one record per answer or refusal, actor ``institution:<code>``, same transaction."""

from __future__ import annotations

import datetime as dt
from typing import Any

from netid.audit.service import AccessRecorder
from netid.container import Container
from netid.core.clock import FixedClock
from netid.core.ids import new_row_id
from netid.crypto.sm3 import sm3


def verify_and_charge(
    container: Container,
    *,
    code: str,
    institution_id: str | None = None,
    type_: str = "id2",
    purpose: str = "account_opening",
    result_class: str = "match",
    price_fen: int = 10,
    at: dt.datetime | None = None,
) -> dict[str, Any]:
    at = at or dt.datetime(2026, 11, 15, 4, 0, tzinfo=dt.UTC)
    receipt_id = new_row_id()
    receipt = {
        "id": receipt_id,
        "institution_code": code,
        "type": type_,
        "purpose": purpose,
        "time": at.isoformat(),
        "result_class": result_class,
        "price_fen": price_fen,
        "currency": "CNY",
        "request_hash": "sm3:" + sm3(receipt_id.encode()).hex(),
    }
    with container.transaction() as session:
        record = AccessRecorder(session=session, clock=FixedClock(at)).record(
            actor=f"institution:{code}",
            action=f"verification.{type_}",
            outcome="refused" if result_class == "refused" else "ok",
            purpose=purpose,
            details={"receipt": receipt},
            record_id=receipt_id,
        )
        container.billing(session).charge(
            receipt_id=receipt_id,
            institution_id=institution_id or f"inst-{code.lower()}",
            institution_code=code,
            verification_type=type_,
            purpose=purpose,
            result_class=result_class,
            price_fen=price_fen,
            at=at,
        )
        receipt["log_index"] = record.log_index
    return receipt
