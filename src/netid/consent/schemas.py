"""The public view of a consent."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

# A consent longer than a year must be given again (issue 6 asks for remembered consents
# with expiry; PIPL art. 14 wants consent specific and informed, not open-ended).
MAX_CONSENT_DAYS = 365


@dataclass(frozen=True)
class ConsentView:
    id: str
    institution_id: str
    purpose: str
    claims: tuple[str, ...]
    channel: str
    granted_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None

    def is_live(self, now: dt.datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "institution_id": self.institution_id,
            "purpose": self.purpose,
            "claims": list(self.claims),
            "channel": self.channel,
            "granted_at": self.granted_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }
