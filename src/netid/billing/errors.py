"""Errors of billing and receipts. Messages never carry a receipt's content or a key."""

from __future__ import annotations

from netid.core.errors import InvalidInput, NotFound


class ReceiptNotFound(NotFound):
    """No such receipt — also when it exists but belongs to another institution, so that the
    answer does not reveal which receipt ids exist."""

    code = "receipt_not_found"
    default_message = "No such receipt."


class ReceiptInvalid(InvalidInput):
    """A signed receipt failed verification; ``details.reason`` says which check:
    ``format`` (not a signed receipt document), ``encoding`` (signature not base64 / DER),
    ``algorithm`` (not SM2-SM3 with the standard user id), ``unknown_key``, ``signature``,
    or ``log`` (the entry, its inclusion proof or the checkpoint does not hold)."""

    code = "receipt_invalid"
    default_message = "The receipt is not valid."

    def __init__(self, reason: str, message: str | None = None) -> None:
        super().__init__(message, details={"reason": reason})
        self.reason = reason


class PublicKeysInvalid(InvalidInput):
    code = "public_keys_invalid"
    default_message = (
        "The public-key file is not the platform's published key document "
        "('netid keys export-public')."
    )


class InvalidMonth(InvalidInput):
    code = "invalid_month"
    default_message = "A month is written YYYY-MM, for example 2026-11."


class InvalidCharge(InvalidInput):
    code = "invalid_charge"
    default_message = "The charge is not valid."
