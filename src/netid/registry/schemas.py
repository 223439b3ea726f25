"""The registry's plain data and the import/export record format.

One person per record (JSON Lines; CSV flattens the lists, see README "Registry file format")::

    {"name": "张伟", "sex": "M", "birth_date": "1990-03-07", "nationality": "CHN",
     "ethnicity": "01", "region_code": "110105", "status": "active", "death_date": null,
     "phones": ["+8613912345678"],
     "documents": [{"number": "110105199003070011", "status": "valid",
                    "issued_on": "2010-05-01", "expires_on": "2030-05-01"}],
     "guardians": [{"document_number": "11010519650101001X", "relation": "father"}]}

Names are kept exactly as given (code points, byte-exact); document numbers are normalised by
the document rules and their type derived from the format.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Literal

import pycountry

from netid.core.ethnicity import is_ethnicity_code
from netid.core.text import InvalidName, validate_name
from netid.documents import DocumentType, check_document_number
from netid.registry.errors import RecordRejected

Sex = Literal["M", "F"]
PERSON_STATUSES = ("active", "deceased")
DOCUMENT_STATUSES = ("valid", "expired", "revoked", "reported_lost")
RELATIONS = ("father", "mother", "guardian")
MAX_PHONES = 5
MAX_DOCUMENTS = 8
MAX_GUARDIANS = 4
# E.164 (ITU-T E.164 §6): "+", country code, at most 15 digits in all.
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_MAINLAND_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_REGION = re.compile(r"^\d{6}$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ALPHA3 = frozenset(c.alpha_3 for c in pycountry.countries)
FIELDS = (
    "name",
    "sex",
    "birth_date",
    "nationality",
    "ethnicity",
    "region_code",
    "status",
    "death_date",
    "phones",
    "documents",
    "guardians",
)


@dataclass(frozen=True, slots=True)
class DocumentData:
    number: str  # normalised
    type: DocumentType
    status: str
    issued_on: dt.date | None = None
    expires_on: dt.date | None = None


@dataclass(frozen=True, slots=True)
class GuardianRef:
    document_number: str  # normalised
    document_type: DocumentType
    relation: str


@dataclass(frozen=True, slots=True)
class PersonData:
    name: str
    sex: Sex
    birth_date: dt.date
    nationality: str
    ethnicity: str | None
    region_code: str | None
    status: str
    death_date: dt.date | None
    phones: tuple[str, ...]
    documents: tuple[DocumentData, ...]
    guardians: tuple[GuardianRef, ...] = ()

    def attributes_json(self) -> dict[str, Any]:
        return {
            "sex": self.sex,
            "birth_date": self.birth_date.isoformat(),
            "nationality": self.nationality,
            "ethnicity": self.ethnicity,
            "region_code": self.region_code,
            "status": self.status,
            "death_date": self.death_date.isoformat() if self.death_date else None,
        }

    def to_record(self) -> dict[str, Any]:
        """The import/export record (keys in documented order)."""
        return {
            "name": self.name,
            **self.attributes_json(),
            "phones": list(self.phones),
            "documents": [document_record(d) for d in self.documents],
            "guardians": [
                {"document_number": g.document_number, "relation": g.relation}
                for g in self.guardians
            ],
        }


def document_record(doc: DocumentData) -> dict[str, Any]:
    return {
        "number": doc.number,
        "status": doc.status,
        "issued_on": doc.issued_on.isoformat() if doc.issued_on else None,
        "expires_on": doc.expires_on.isoformat() if doc.expires_on else None,
    }


def _date(value: Any, field: str, *, required: bool) -> dt.date | None:
    if value is None or value == "":
        if required:
            raise RecordRejected(field, "required", f"{field} is required.")
        return None
    if not isinstance(value, str):
        raise RecordRejected(field, "type", f"{field} must be a date string YYYY-MM-DD.")
    if not _ISO_DATE.match(value):  # fromisoformat also takes "2020-W01-1" and "20200101"
        return _bad_date(field)
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return _bad_date(field)


def _bad_date(field: str) -> dt.date:
    raise RecordRejected(field, "date", f"{field} must be a real date written YYYY-MM-DD.")


def _str(value: Any, field: str, *, required: bool = True) -> str | None:
    if value is None or value == "":
        if required:
            raise RecordRejected(field, "required", f"{field} is required.")
        return None
    if not isinstance(value, str):
        raise RecordRejected(field, "type", f"{field} must be a string.")
    return value


def _list(value: Any, field: str, limit: int) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise RecordRejected(field, "type", f"{field} must be a list.")
    if len(value) > limit:
        raise RecordRejected(field, "too_many", f"{field} has more than {limit} entries.")
    return value


def normalize_phone(raw: str, field: str) -> str:
    compact = raw.replace(" ", "").replace("-", "")
    if _MAINLAND_MOBILE.match(compact):
        compact = "+86" + compact
    if not _E164.match(compact):
        raise RecordRejected(field, "phone", f"{field} must be an E.164 phone number.")
    return compact


def _document(value: Any, field: str, today: dt.date, birth: dt.date, sex: str) -> DocumentData:
    if not isinstance(value, dict):
        raise RecordRejected(field, "type", f"{field} must be an object.")
    number = _str(value.get("number"), f"{field}.number")
    assert number is not None
    check = check_document_number(number, today=today)
    if not check.valid or check.type is None or check.normalized is None:
        raise RecordRejected(
            f"{field}.number",
            check.rule or "invalid",
            check.message or "The document number is not valid.",
        )
    # Numbers that encode a birth date and sex (GB 11643 §5 and the permits built on it) must
    # agree with the record: a mismatch is a wrong number or a wrong person, never ours to pick.
    if (check.birth_date is not None and check.birth_date != birth) or (
        check.sex is not None and check.sex != sex
    ):
        raise RecordRejected(
            f"{field}.number",
            "inconsistent",
            "The birth date or sex encoded in the number differs from the record's.",
        )
    status = _str(value.get("status"), f"{field}.status", required=False) or "valid"
    if status not in DOCUMENT_STATUSES:
        raise RecordRejected(f"{field}.status", "enum", f"{field}.status is not a known status.")
    issued = _date(value.get("issued_on"), f"{field}.issued_on", required=False)
    expires = _date(value.get("expires_on"), f"{field}.expires_on", required=False)
    if issued and expires and expires < issued:
        raise RecordRejected(f"{field}.expires_on", "order", "A document expires after issue.")
    return DocumentData(check.normalized, check.type, status, issued, expires)


def parse_record(record: Any, *, today: dt.date) -> PersonData:
    """Validate one import record; raises :class:`RecordRejected` naming field and rule."""
    if not isinstance(record, dict):
        raise RecordRejected("record", "type", "Each record must be a JSON object.")
    unknown = set(record) - set(FIELDS)
    if unknown:
        raise RecordRejected(sorted(unknown)[0], "unknown_field", "The record has unknown fields.")
    name = _str(record.get("name"), "name")
    assert name is not None
    try:
        validate_name(name)
    except InvalidName as exc:
        raise RecordRejected("name", exc.rule, exc.message) from None
    sex = record.get("sex")
    if sex not in ("M", "F"):
        raise RecordRejected("sex", "enum", "sex must be M or F.")
    birth = _date(record.get("birth_date"), "birth_date", required=True)
    assert birth is not None
    if birth > today:
        raise RecordRejected("birth_date", "future", "birth_date is in the future.")
    nationality = _str(record.get("nationality"), "nationality")
    if nationality not in _ALPHA3:
        raise RecordRejected("nationality", "iso3166", "nationality must be ISO 3166-1 alpha-3.")
    ethnicity = _str(record.get("ethnicity"), "ethnicity", required=False)
    if ethnicity is not None and not is_ethnicity_code(ethnicity):
        raise RecordRejected("ethnicity", "gb3304", "ethnicity must be a GB/T 3304 code.")
    region = _str(record.get("region_code"), "region_code", required=False)
    if region is not None and not _REGION.match(region):
        raise RecordRejected("region_code", "format", "region_code must be six digits.")
    status = _str(record.get("status"), "status", required=False) or "active"
    if status not in PERSON_STATUSES:
        raise RecordRejected("status", "enum", "status must be active or deceased.")
    death = _date(record.get("death_date"), "death_date", required=False)
    if death is not None and (death < birth or death > today):
        raise RecordRejected("death_date", "range", "death_date is before birth or in future.")
    if status == "deceased" and death is None:
        raise RecordRejected("death_date", "required", "A deceased person needs death_date.")
    phones = tuple(
        normalize_phone(_str(p, f"phones[{i}]") or "", f"phones[{i}]")
        for i, p in enumerate(_list(record.get("phones"), "phones", MAX_PHONES))
    )
    raw_docs = _list(record.get("documents"), "documents", MAX_DOCUMENTS)
    if not raw_docs:
        raise RecordRejected("documents", "required", "A person needs at least one document.")
    documents = tuple(
        _document(d, f"documents[{i}]", today, birth, sex) for i, d in enumerate(raw_docs)
    )
    guardians: list[GuardianRef] = []
    for i, g in enumerate(_list(record.get("guardians"), "guardians", MAX_GUARDIANS)):
        field = f"guardians[{i}]"
        if not isinstance(g, dict):
            raise RecordRejected(field, "type", f"{field} must be an object.")
        number = _str(g.get("document_number"), f"{field}.document_number") or ""
        check = check_document_number(number, today=today)
        if not check.valid or check.type is None or check.normalized is None:
            raise RecordRejected(
                f"{field}.document_number", check.rule or "invalid", "Not a valid number."
            )
        if any(g_ref.document_number == check.normalized for g_ref in guardians):
            raise RecordRejected(
                f"{field}.document_number", "duplicate", "The same guardian is named twice."
            )
        relation = g.get("relation")
        if relation not in RELATIONS:
            raise RecordRejected(f"{field}.relation", "enum", "relation is not known.")
        guardians.append(GuardianRef(check.normalized, check.type, relation))
    return PersonData(
        name=name,
        sex=sex,
        birth_date=birth,
        nationality=nationality,
        ethnicity=ethnicity,
        region_code=region,
        status=status,
        death_date=death,
        phones=phones,
        documents=documents,
        guardians=tuple(guardians),
    )
