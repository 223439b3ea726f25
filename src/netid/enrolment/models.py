"""Tables of netid.enrolment (docs/decisions/0005)."""

from __future__ import annotations

from netid.db.base import Base, UtcDateTime  # noqa: F401
