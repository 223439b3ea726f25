"""Shared rows for the tests of netid.db: a charge is a small table with a time, an integer
and strings, enough to see values stored and read back."""

from __future__ import annotations

import datetime as dt

from netid.billing.models import Charge

AT = dt.datetime(2026, 12, 3, 14, 30, 15, 123456, tzinfo=dt.UTC)


def charge(receipt_id: str, *, price_fen: int = 1) -> Charge:
    return Charge(
        receipt_id=receipt_id,
        institution_id="inst",
        institution_code="CODE",
        month="2026-12",
        verification_type="id2",
        purpose="account_opening",
        result_class="match",
        price_fen=price_fen,
        charged_at=AT,
    )
