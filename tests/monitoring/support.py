"""Rules files with small thresholds, a container that uses them, and people to ask about."""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

from netid.config import Settings
from netid.container import Container
from netid.core.clock import Clock
from netid.documents import synth
from netid.registry.schemas import parse_record
from netid.verification.schemas import VerificationRequest
from netid.verification.service import Outcome
from tests.registry.factories import TODAY, person_record

ACTOR = "operator:test"
ALL_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

# Every rule off: a test turns on the rule it is about.
QUIET: dict[str, Any] = {
    "version": "test-1",
    "defaults": {
        "business_hours": {"days": ALL_DAYS, "start": "00:00", "end": "24:00"},
        "rules": {
            "distinct_people": {
                "enabled": False,
                "action": "freeze",
                "max_distinct": 5,
                "window_minutes": 10,
            },
            "off_hours_burst": {
                "enabled": False,
                "action": "alert",
                "burst": 3,
                "window_minutes": 10,
            },
            "mismatch_ratio": {
                "enabled": False,
                "action": "freeze",
                "max_ratio": 0.5,
                "last_queries": 10,
                "window_minutes": 60,
            },
            "watch_list": {"enabled": False, "action": "alert"},
        },
    },
}


def rules_document(
    *, business_hours: dict[str, Any] | None = None, **rules: dict[str, Any]
) -> dict[str, Any]:
    """QUIET with the named rules changed (``enabled`` defaults to true for a named rule)."""
    doc = copy.deepcopy(QUIET)
    for name, fields in rules.items():
        doc["defaults"]["rules"][name].update({"enabled": True, **fields})
    if business_hours is not None:
        doc["defaults"]["business_hours"] = business_hours
    return doc


def monitored_container(
    base: Container,
    tmp_path: Path,
    document: dict[str, Any],
    *,
    clock: Clock | None = None,
    redis_url: str | None = None,
    redis_prefix: str = "netid:",
) -> Container:
    """A container on ``base``'s database (keyring initialised) with these rules."""
    path = tmp_path / f"rules-{random.randrange(10**9)}.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    settings: Settings = base.settings.model_copy(
        update={"monitoring_rules": path, "redis_url": redis_url, "redis_prefix": redis_prefix}
    )
    return Container(settings, engine=base.engine, clock=clock or base.clock)


def load_population(container: Container, count: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    records = [person_record(rng, name="张伟") for _ in range(count)]
    with container.registry_unit() as registry:
        outcome = registry.import_batch(
            [(i, parse_record(r, today=TODAY)) for i, r in enumerate(records, 1)], actor=ACTOR
        )
    assert outcome.imported == count, outcome.rejections
    return records


def unknown_numbers(count: int, seed: int = 99) -> list[str]:
    """Valid resident-ID numbers that nobody in the test registry holds."""
    rng = random.Random(seed)
    out: set[str] = set()
    while len(out) < count:
        birth = dt.date(1960, 1, 1) + dt.timedelta(days=rng.randrange(365 * 40))
        out.add(synth.resident_id(rng, birth_date=birth, sex="F", region_code="310101"))  # type: ignore[arg-type]
    return sorted(out)


def id2(number: str, name: str = "张伟", purpose: str = "account_opening") -> dict[str, Any]:
    return {
        "type": "id2",
        "purpose": purpose,
        "subject": {"document_number": number, "name": name},
    }


def ask(container: Container, institution_id: str, body: dict[str, Any]) -> Outcome:
    with container.transaction() as session:
        return container.verification(session).verify(
            institution_id, VerificationRequest.model_validate(body)
        )
