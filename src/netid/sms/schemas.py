"""The sender interface and the outbox's view of a message (docs/decisions/0005)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

# E.164 (ITU-T E.164 §6), as the registry stores phones: "+", country code, ≤ 15 digits —
# ASCII digits ([0-9], not \d, which also takes full-width and other Unicode digits).
E164: Final = re.compile(r"^\+[1-9][0-9]{6,14}\Z")
# A purpose is stored in clear: a code, never free text that could carry personal data.
PURPOSE: Final = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}\Z")
# 70 UCS-2 characters fill one SMS segment (3GPP TS 23.038 §6.1.2.2); a concatenated message
# of up to 8 segments (67 each) is the most a handset reliably reassembles.
MAX_TEXT_LENGTH: Final = 536
MAX_LIST: Final = 1000


class SmsSender(Protocol):
    """Sends one text message; returns the message id. Implementations write in the caller's
    transaction (flush, never commit), so a rolled-back request sends nothing."""

    def send(self, phone: str, text: str, *, purpose: str) -> str: ...


def otp_message(code: str, minutes: int) -> str:
    """The one-time-code text (the usual form of a mainland verification SMS: the signature in
    【】 first, the code, how long it lasts, a warning not to pass it on)."""
    return f"【netid】验证码 {code}，{minutes}分钟内有效。请勿告诉他人。"


@dataclass(frozen=True)
class OutboxMessage:
    id: str
    phone: str = field(repr=False)  # masked unless the reader asked for it in full
    text: str = field(repr=False)
    purpose: str
    created_at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "phone": self.phone,
            "text": self.text,
            "purpose": self.purpose,
            "created_at": self.created_at.isoformat(),
        }
