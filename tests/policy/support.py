from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).parent / "vectors"
SHIPPED = Path(__file__).parents[2] / "src" / "netid" / "policy" / "data" / "catalogue.v1.json"

# The industries that issue 3 §3 names.
ISSUE_INDUSTRIES = (
    "government",
    "banking_finance",
    "telecom",
    "internet_platform",
    "ecommerce",
    "recruitment_hr",
    "education",
    "healthcare",
    "hotel_lodging",
    "transport",
    "postal_logistics",
)


def load_vectors(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def shipped_document() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SHIPPED.read_text(encoding="utf-8"))
    return data
