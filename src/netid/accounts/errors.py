"""Refusals of password accounts. Messages never carry personal data, codes or passwords.

Every failure of ``start_login`` looks the same (``login_failed``: unknown number, no
account, wrong password, locked, person or document no longer valid — DESIGN.md "Every failed
login looks the same"). After the password, ``finish_login`` may say ``code_invalid`` (with
``details.tries_left``): the caller has proved the password by holding the challenge id, so
the difference tells nothing about anybody; a spent, expired or unknown challenge is
``login_failed`` again (start over).
"""

from __future__ import annotations

from netid.core.errors import InvalidInput, NetidError, TooManyRequests, Unauthenticated

__all__ = [
    "CodeInvalid",
    "CodesExhausted",
    "LoginFailed",
    "PasswordTooWeak",
    "Refusal",
    "SetupExpired",
]


class Refusal(Exception):
    """Carries a refusal whose traces must be committed: the access record of the failure and
    the counters it moved (failed passwords, code tries). The request that owns the
    transaction commits, then handles ``error``. Nothing else was written before it."""

    def __init__(self, error: NetidError) -> None:
        super().__init__(error.code)
        self.error = error


class LoginFailed(Unauthenticated):
    code = "login_failed"
    default_message = "The document number, password or code is not correct."


class CodeInvalid(Unauthenticated):
    """Wrong code for a live set-up or login challenge; ``details.tries_left``."""

    code = "code_invalid"
    default_message = "The code is not correct."


class SetupExpired(InvalidInput):
    """The set-up id is unknown, spent, expired or out of tries: start again."""

    code = "setup_expired"
    default_message = "The code is no longer valid; start again."


class PasswordTooWeak(InvalidInput):
    code = "password_too_weak"
    default_message = (
        "Choose a password of 10 to 128 characters that is not only digits, not one character "
        "repeated and not your document number."
    )


class CodesExhausted(TooManyRequests):
    """Too many codes sent to this person within the hour (SMS flooding); only said after a
    correct password. ``details.reset_at``."""

    code = "too_many_codes"
    default_message = "Too many codes were sent; try again later."
