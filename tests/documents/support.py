from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).parent / "vectors"
# Every known-answer vector is evaluated against this fixed "today".
TODAY = dt.date(2025, 6, 1)


def load_vectors(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))
