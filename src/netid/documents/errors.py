"""Errors raised by :mod:`netid.documents`.

Messages never contain the submitted number (or any part of it): they are safe to log and to
show to anyone.
"""

from __future__ import annotations

from typing import ClassVar

from netid.core.errors import Conflict, InvalidInput


class InvalidDocumentNumber(InvalidInput):
    """A document number failed validation.

    ``rule`` is one of the stable rule strings documented in :mod:`netid.documents`
    (``empty``, ``length``, ``charset``, ``format``, ``region``, ``birth_date``,
    ``check_digit``, ``prefix``, ``nationality``, ``type_mismatch``).
    """

    code: ClassVar[str] = "invalid_document_number"
    default_message: ClassVar[str] = "The document number is not valid."

    def __init__(self, message: str | None = None, *, rule: str) -> None:
        super().__init__(message, details={"rule": rule})
        self.rule = rule


# -- the simulated document chip (netid.documents.chip, docs/decisions/0005 "Chip") -----------
# A forged or unreadable chip is bad input (400), not a failed login: the caller authenticates
# nothing with it, and a 401 would announce a bearer scheme that does not apply.


class ChipMalformed(InvalidInput):
    """The chip document is not a well-formed ``netid-chip/1`` object."""

    code: ClassVar[str] = "chip_malformed"
    default_message: ClassVar[str] = "The chip data is not well-formed."


class ChipSignatureInvalid(InvalidInput):
    """Unknown issuer key id, or a signature that does not verify under the trusted key."""

    code: ClassVar[str] = "chip_signature_invalid"
    default_message: ClassVar[str] = "The chip data is not signed by a trusted document issuer."


class ChipExpired(InvalidInput):
    """The chip was read too long ago (or claims a time in the future)."""

    code: ClassVar[str] = "chip_expired"
    default_message: ClassVar[str] = "The chip data is too old; read the document again."


class ChipStale(Conflict):
    """Authentic chip data that no longer matches the registry (the document was replaced,
    revoked or reported lost, or the record was corrected). Raised by netid.enrolment."""

    code: ClassVar[str] = "chip_stale"
    default_message: ClassVar[str] = "The document no longer matches the registry."
