"""Billing use cases: a charge per receipt, monthly statements, signed receipts on demand.

Services flush and never commit: the verification request (or CLI command) that calls them
owns the transaction, so a charge exists exactly when its access record does.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import re
from typing import Any, Final

import orjson

from netid.audit.errors import NoCheckpoint
from netid.audit.service import AuditService
from netid.billing.errors import InvalidCharge, ReceiptNotFound
from netid.billing.receipts import sign_receipt
from netid.billing.repository import BillingRepository
from netid.billing.schemas import (
    RESULT_CLASSES,
    ChargeRow,
    Statement,
    StatementLine,
    Subtotal,
    Totals,
    check_month,
    yuan,
)
from netid.core.clock import CHINA_TZ
from netid.crypto.sm2 import Sm2PrivateKey
from netid.keys.schemas import KeyPurpose
from netid.keys.service import Keyring

_CODE: Final = re.compile(r"^[a-z0-9_]{1,32}$")
_RECORD_ID: Final = re.compile(r"^[0-9A-Za-z_-]{1,32}$")


def billing_month(at: dt.datetime) -> str:
    """The billing month of an instant: its calendar month in China Standard Time (UTC+8), so
    23:30 UTC on 31 October is already November."""
    if at.tzinfo is None:
        raise InvalidCharge("A charge time needs a time zone.")
    return at.astimezone(CHINA_TZ).strftime("%Y-%m")


class BillingService:
    def __init__(self, *, repository: BillingRepository) -> None:
        self._repo = repository

    def charge(
        self,
        *,
        receipt_id: str,
        institution_id: str,
        institution_code: str,
        verification_type: str,
        purpose: str,
        result_class: str,
        price_fen: int,
        at: dt.datetime,
    ) -> ChargeRow:
        """Record what one receipt costs (0 for refusals and free plans: still counted)."""
        if type(price_fen) is not int or price_fen < 0:
            raise InvalidCharge("A price is a non-negative number of fen.")
        if result_class not in RESULT_CLASSES:
            raise InvalidCharge("Unknown result class.")
        if not _CODE.fullmatch(verification_type):
            raise InvalidCharge("Unknown verification type.")
        for value, limit in ((receipt_id, 32), (institution_id, 32), (institution_code, 32)):
            if not value or len(value) > limit:
                raise InvalidCharge()
        if not purpose or len(purpose) > 64:
            raise InvalidCharge()
        charge = ChargeRow(
            receipt_id=receipt_id,
            institution_id=institution_id,
            institution_code=institution_code,
            month=billing_month(at),
            verification_type=verification_type,
            purpose=purpose,
            result_class=result_class,
            price_fen=price_fen,
            charged_at=at,
        )
        self._repo.add(charge)
        return charge

    def statement(
        self,
        month: str,
        *,
        institution_id: str | None = None,
        institution_code: str | None = None,
    ) -> Statement:
        """Counts and amounts for one month (China time), for every institution or one."""
        check_month(month)
        rows = self._repo.lines(
            month, institution_id=institution_id, institution_code=institution_code
        )
        lines = [
            StatementLine(
                institution_id=r.institution_id,
                institution_code=r.institution_code,
                verification_type=r.verification_type,
                result_class=r.result_class,
                count=r.count,
                amount_fen=r.amount_fen,
                amount_yuan=yuan(r.amount_fen),
            )
            for r in rows
        ]
        per: dict[tuple[str, str], list[int]] = {}
        for line in lines:
            sums = per.setdefault((line.institution_code, line.institution_id), [0, 0])
            sums[0] += line.count
            sums[1] += line.amount_fen
        subtotals = [
            Subtotal(
                institution_id=iid,
                institution_code=code,
                count=count,
                amount_fen=amount,
                amount_yuan=yuan(amount),
            )
            for (code, iid), (count, amount) in per.items()
        ]
        total_count = sum(line.count for line in lines)
        total_fen = sum(line.amount_fen for line in lines)
        scope = institution_code
        if scope is None and institution_id is not None:
            scope = lines[0].institution_code if lines else None
        return Statement(
            month=month,
            institution_code=scope,
            lines=lines,
            institutions=subtotals,
            totals=Totals(count=total_count, amount_fen=total_fen, amount_yuan=yuan(total_fen)),
        )


@functools.lru_cache(maxsize=8)
def _private_key(key_id: str, secret: bytes) -> Sm2PrivateKey:
    # Loading the scalar into Tongsuo costs more than the signature; keep a few loaded keys.
    return Sm2PrivateKey.from_private_value(secret)


class ReceiptService:
    """Signs a receipt when it is asked for (DESIGN.md "Receipts before and after the log")."""

    def __init__(
        self, *, repository: BillingRepository, keyring: Keyring, audit: AuditService | None = None
    ) -> None:
        self._repo = repository
        self._keyring = keyring
        self._audit = audit

    def receipt(self, receipt_id: str, *, institution_code: str | None) -> dict[str, Any]:
        """The unsigned receipt with its ``log_index``. ``institution_code`` None = operator;
        otherwise another institution's receipt is "not found", exactly like a missing one."""
        if not isinstance(receipt_id, str) or not _RECORD_ID.fullmatch(receipt_id):
            raise ReceiptNotFound()
        record = self._repo.access_record(receipt_id)
        if record is None:
            raise ReceiptNotFound()
        entry = orjson.loads(record.canonical)
        details = entry.get("details")
        receipt = details.get("receipt") if isinstance(details, dict) else None
        if not isinstance(receipt, dict) or receipt.get("id") != record.id:
            raise ReceiptNotFound()  # an access record that is not a verification's
        if institution_code is not None and (
            receipt.get("institution_code") != institution_code
            or record.actor != f"institution:{institution_code}"
        ):
            raise ReceiptNotFound()
        return {**receipt, "log_index": record.log_index}

    def signed(self, receipt_id: str, *, institution_code: str | None) -> dict[str, Any]:
        """``{"receipt": {...}, "signature": {"alg": "SM2-SM3", "key_id", "user_id",
        "value"}}`` signed with the platform's active SM2 key."""
        receipt = self.receipt(receipt_id, institution_code=institution_code)
        key = self._keyring.active(KeyPurpose.SM2_SIGNING)
        document = sign_receipt(
            receipt, key=_private_key(key.key_id, key.secret), key_id=key.key_id
        )
        log = self._log_proof(receipt_id, receipt["log_index"])
        if log is not None:
            document["log"] = log
        return document

    def _log_proof(self, receipt_id: str, index: int) -> dict[str, Any] | None:
        """The entry, its inclusion proof and the latest signed checkpoint, once a checkpoint
        covers the entry (cut within seconds); None before. Offline, the platform's published
        log keys then prove the receipt is in the log, not only signed."""
        if self._audit is None:
            return None
        try:
            checkpoint = self._audit.latest_checkpoint()
        except NoCheckpoint:
            return None
        if checkpoint.tree_size <= index:
            return None
        record = self._repo.access_record(receipt_id)
        assert record is not None  # receipt() found it
        proof = self._audit.inclusion_proof(index, checkpoint.tree_size)
        return {
            "hash": self._audit.status().hash_alg,
            "entry": record.canonical.decode("utf-8"),
            "tree_size": checkpoint.tree_size,
            "inclusion": [base64.b64encode(h).decode("ascii") for h in proof.hashes],
            "checkpoint": checkpoint.note,
        }
