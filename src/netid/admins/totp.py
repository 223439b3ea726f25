"""TOTP (RFC 6238) over HOTP (RFC 4226), via pyotp, with the window and the once-only rule.

``match_step`` returns the time step a code belongs to within ±``TOTP_WINDOW_STEPS`` of now,
if that step is later than the last one accepted; the caller stores it, so the same code (or
any earlier one) is never accepted again (RFC 6238 §5.2, NIST SP 800-63B-4 §3.1.4.2).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import os
import re
from enum import StrEnum

import pyotp

from netid.admins.schemas import (
    TOTP_DIGITS,
    TOTP_ISSUER,
    TOTP_SECRET_BYTES,
    TOTP_STEP_SECONDS,
    TOTP_WINDOW_STEPS,
)

_CODE_RE = re.compile(rf"^[0-9]{{{TOTP_DIGITS}}}\Z")


class TotpCheck(StrEnum):
    OK = "ok"
    WRONG = "wrong"
    REPLAYED = "replayed"  # a right code of a step already used (or older than it)


def new_secret() -> bytes:
    return os.urandom(TOTP_SECRET_BYTES)


def b32(secret: bytes) -> str:
    return base64.b32encode(secret).decode("ascii").rstrip("=")


def time_step(at: dt.datetime) -> int:
    """RFC 6238 §4.2: T = floor((unix time - T0) / X), T0 = 0, X = 30 s."""
    return int(at.timestamp()) // TOTP_STEP_SECONDS


def code_at(secret: bytes, step: int) -> str:
    return pyotp.HOTP(b32(secret), digits=TOTP_DIGITS, digest=hashlib.sha1).at(step)


def check(
    secret: bytes, code: str, at: dt.datetime, last_step: int | None
) -> tuple[TotpCheck, int | None]:
    """(result, the matched step when OK). Every candidate step is compared in constant time."""
    if not isinstance(code, str) or not _CODE_RE.match(code):
        return TotpCheck.WRONG, None
    now = time_step(at)
    matches = [
        step
        for step in range(now - TOTP_WINDOW_STEPS, now + TOTP_WINDOW_STEPS + 1)
        if hmac.compare_digest(code_at(secret, step), code)
    ]
    if not matches:
        return TotpCheck.WRONG, None
    fresh = [step for step in matches if last_step is None or step > last_step]
    if not fresh:
        return TotpCheck.REPLAYED, None
    return TotpCheck.OK, max(fresh)


def provisioning_uri(secret: bytes, username: str) -> str:
    """The ``otpauth://totp/...`` URI an authenticator app scans (Key Uri Format)."""
    return pyotp.TOTP(
        b32(secret), digits=TOTP_DIGITS, digest=hashlib.sha1, interval=TOTP_STEP_SECONDS
    ).provisioning_uri(name=username, issuer_name=TOTP_ISSUER)
