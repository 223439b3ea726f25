"""Errors raised by :mod:`netid.documents`.

Messages never contain the submitted number (or any part of it): they are safe to log and to
show to anyone.
"""

from __future__ import annotations

from typing import ClassVar

from netid.core.errors import InvalidInput


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
