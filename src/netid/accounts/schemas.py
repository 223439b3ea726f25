"""Constants and answers of netid.accounts (docs/decisions/0006 "Without a wallet")."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final, Literal

# The one-time codes: as enrolment's (docs/decisions/0005): 6 digits, 5 minutes, once, 5 tries.
CODE_DIGITS: Final = 6
CODE_TTL: Final = dt.timedelta(minutes=5)
CODE_TRIES: Final = 5
# At most this many codes per person in CODE_WINDOW (set-up and login together): a stranger
# who knows a document number must not be able to flood its owner's phone. Beyond it a set-up
# sends nothing (and says so to nobody); a login, after a correct password, says too_many_codes.
CODES_PER_WINDOW: Final = 5
CODE_WINDOW: Final = dt.timedelta(hours=1)

# Passwords: five wrong ones lock the account for 15 minutes, doubling with each further
# lockout, at most a day (as the wallet PIN, docs/decisions/0005).
LOGIN_TRIES: Final = 5
LOCK: Final = dt.timedelta(minutes=15)
LOCK_MAX: Final = dt.timedelta(days=1)
PASSWORD_MIN: Final = 10
PASSWORD_MAX: Final = 128

SECRET_LENGTH: Final = 22  # a set-up or challenge id: 16 random bytes, base64url

Purpose = Literal["setup", "login"]


@dataclass(frozen=True)
class SetupStarted:
    """``setup_id``: the 128-bit secret the browser holds for the next step. ``phone_hint``
    (``+86138****5678``) only if a code was sent; pages must not show it (nor anything else
    that differs), so that the page does not tell whether a number is registered."""

    setup_id: str
    phone_hint: str | None
    expires_at: dt.datetime


@dataclass(frozen=True)
class LoginChallenge:
    """After a correct password: the code went to ``phone_hint``; ``challenge_id`` is the
    128-bit secret for :meth:`AccountService.finish_login`."""

    challenge_id: str
    phone_hint: str
    expires_at: dt.datetime


@dataclass(frozen=True, kw_only=True)
class AuthenticatedPerson:
    """A completed password login. ``subject_id`` is the registry's permanent subject id (the
    input of the pairwise pseudonym); acr L1 (password + phone code, no face)."""

    person_id: str
    subject_id: str
    acr: str = "L1"
    amr: tuple[str, ...] = ("pwd", "otp")
    auth_time: dt.datetime
