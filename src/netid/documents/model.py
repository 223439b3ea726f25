"""Result types of :mod:`netid.documents`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

Sex = Literal["M", "F"]

# Earliest birth date accepted in any number (inclusive). GB 11643 numbers were first assigned
# in 1984-1985; nobody alive then was born before ~1862 (the oldest verified human lifespan is
# 122 years), so 1860-01-01 keeps every real holder, including the standard's own 1880 example.
BIRTH_DATE_FLOOR = dt.date(1860, 1, 1)


class DocumentType(StrEnum):
    """Identity document types, each with a stable 2-digit ``code`` used by the blind index."""

    RESIDENT_ID = "resident_id"  # 居民身份证, GB 11643-1999
    RESIDENCE_PERMIT = "residence_permit"  # 港澳台居民居住证
    FOREIGN_PERMANENT_RESIDENCE = "foreign_permanent_residence"  # 外国人永久居留身份证
    TRAVEL_PERMIT_HKMO = "travel_permit_hkmo"  # 港澳居民来往内地通行证
    TRAVEL_PERMIT_TW = "travel_permit_tw"  # 台湾居民来往大陆通行证
    PASSPORT = "passport"  # 中华人民共和国护照 (citizens settled abroad)

    @property
    def code(self) -> str:
        """Stable 2-digit code ("01".."06"); never renumber, only append."""
        return _CODES[self]


_CODES: dict[DocumentType, str] = {
    DocumentType.RESIDENT_ID: "01",
    DocumentType.RESIDENCE_PERMIT: "02",
    DocumentType.FOREIGN_PERMANENT_RESIDENCE: "03",
    DocumentType.TRAVEL_PERMIT_HKMO: "04",
    DocumentType.TRAVEL_PERMIT_TW: "05",
    DocumentType.PASSPORT: "06",
}


@dataclass(frozen=True, slots=True)
class DocumentCheck:
    """Outcome of checking one document number.

    For an invalid number only ``valid=False``, ``type`` (when the format identified one),
    ``rule`` and ``message`` are set: the result never echoes the submitted characters.
    """

    valid: bool
    type: DocumentType | None = None
    normalized: str | None = None
    birth_date: dt.date | None = None
    sex: Sex | None = None
    region_code: str | None = None
    nationality: str | None = None
    warnings: tuple[str, ...] = ()
    rule: str | None = None
    message: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict: ``None`` fields and an empty ``warnings`` are omitted."""
        out: dict[str, Any] = {"valid": self.valid}
        if self.type is not None:
            out["type"] = self.type.value
        if self.normalized is not None:
            out["normalized"] = self.normalized
        if self.birth_date is not None:
            out["birth_date"] = self.birth_date.isoformat()
        if self.sex is not None:
            out["sex"] = self.sex
        if self.region_code is not None:
            out["region_code"] = self.region_code
        if self.nationality is not None:
            out["nationality"] = self.nationality
        if self.warnings:
            out["warnings"] = list(self.warnings)
        if self.rule is not None:
            out["rule"] = self.rule
        if self.message is not None:
            out["message"] = self.message
        return out


@dataclass(frozen=True, slots=True)
class UsccCheck:
    """Outcome of checking a unified social credit code (GB 32100-2015); ``type`` is "uscc"."""

    valid: bool
    type: Literal["uscc"] = "uscc"
    normalized: str | None = None
    region_code: str | None = None
    organization_code: str | None = None
    warnings: tuple[str, ...] = ()
    rule: str | None = None
    message: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict: ``None`` fields and an empty ``warnings`` are omitted."""
        out: dict[str, Any] = {"valid": self.valid, "type": self.type}
        if self.normalized is not None:
            out["normalized"] = self.normalized
        if self.region_code is not None:
            out["region_code"] = self.region_code
        if self.organization_code is not None:
            out["organization_code"] = self.organization_code
        if self.warnings:
            out["warnings"] = list(self.warnings)
        if self.rule is not None:
            out["rule"] = self.rule
        if self.message is not None:
            out["message"] = self.message
        return out
