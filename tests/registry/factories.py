"""Small hand-made registry records for service tests (the generator has its own tests)."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from netid.documents import synth

TODAY = dt.date(2026, 11, 22)


def person_record(
    rng: random.Random,
    *,
    name: str = "张伟",
    birth: dt.date | None = None,
    sex: str = "M",
    passport: bool = False,
    guardians: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    if birth is None:  # vary it: numbers differ in date and sequence, so they never repeat
        birth = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(365 * 50))
    number = synth.resident_id(rng, birth_date=birth, sex=sex, region_code="110105")  # type: ignore[arg-type]
    documents = [
        {"number": number, "status": "valid", "issued_on": "2015-01-01", "expires_on": "2035-01-01"}
    ]
    if passport:
        documents.append(
            {
                "number": synth.passport(rng),
                "status": "valid",
                "issued_on": None,
                "expires_on": None,
            }
        )
    return {
        "name": name,
        "sex": sex,
        "birth_date": birth.isoformat(),
        "nationality": "CHN",
        "ethnicity": "01",
        "region_code": "110105",
        "status": "active",
        "death_date": None,
        "phones": [f"+86139{rng.randrange(10**8):08d}"],
        "documents": documents,
        "guardians": guardians or [],
    }


def mother_and_child(
    rng: random.Random, mother_name: str, child_name: str, child_birth: dt.date
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A mother and a minor whose record names her as guardian (mother first, as in a file)."""
    mother = person_record(rng, name=mother_name, sex="F")
    child = person_record(
        rng,
        name=child_name,
        birth=child_birth,
        guardians=[{"document_number": mother["documents"][0]["number"], "relation": "mother"}],
    )
    return mother, child
