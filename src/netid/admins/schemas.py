"""Roles, account views, and the numbers of the login rules (each with its source)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol


class AdminRole(StrEnum):
    """Five mutually exclusive roles (issue 4 §2; GB/T 22239-2019 8.1.4.2(d), 8.1.5.1-8.1.5.3).

    One account holds exactly one of them: ``admin_account.role`` is one NOT NULL column with a
    CHECK over these values, and the service has no way to add or change a role.
    """

    SYSTEM_ADMIN = "system_admin"  # keys, configuration, health; no personal data, no log content
    SECURITY_ADMIN = "security_admin"  # institutions, policies, freezes, alerts, watch list
    AUDIT_ADMIN = "audit_admin"  # reads and verifies the log and the admins' actions; no changes
    REGISTRAR = "registrar"  # registry corrections
    REVIEWER = "reviewer"  # second approval where two are needed


ACTOR_PREFIX = "admin:"

# An administrator's bearer token lives 15 minutes (SEC-10: admin idle timeout <= 15 min,
# NIST SP 800-63B-4 §2.3.3); logging in again gives a new one.
LOGIN_TOKEN_TTL_SECONDS = 900

# TOTP (RFC 6238): 30 s time step (§5.2 recommends 30 s), 6 digits, HMAC-SHA-1 (the RFC's
# default, §1.2, which every authenticator app supports), T0 = 0. The verifier accepts the
# current step and one step either side (§5.2 "at most one time step" of network delay; SEC-06:
# window at most ±1 step), and each step at most once: the last accepted step is stored and
# only a later step is accepted afterwards (NIST SP 800-63B-4 §3.1.4.2, ASVS 6.5.1).
TOTP_STEP_SECONDS = 30
TOTP_DIGITS = 6
TOTP_WINDOW_STEPS = 1
# 160-bit secrets: RFC 4226 §4 R6 recommends 160 bits; NIST SP 800-63B-4 §3.1.4.1 needs >= 112.
TOTP_SECRET_BYTES = 20
TOTP_ISSUER = "netid"

# Lockout (NIST SP 800-63B-4 §3.2.2: at most 100 consecutive failures; issue 4: growing delays
# after at most 10). Failures 1-4 cost nothing; from the 5th consecutive failure on the account
# is locked for 2**(n-5) seconds (1, 2, 4, ... 32 s at the 10th), capped at 15 minutes. While
# locked, even the right password and code are refused (Keycloak BruteForceTest), and such
# attempts do not lengthen the lock. A successful login resets the count (§3.2.2 SHOULD).
LOCKOUT_FREE_FAILURES = 4
LOCKOUT_MAX_DELAY_SECONDS = 900

# Passwords (NIST SP 800-63B-4 §3.1.1.2; ASVS 6.2.1, 6.2.5, 6.2.9): at least 12 characters
# (code points, after NFKC), up to 1024; no composition rules; never the username.
PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 1024
USERNAME_PATTERN = r"^[a-z][a-z0-9_.-]{2,31}\Z"


def lockout_delay(failures: int) -> int:
    """Seconds the account stays locked after ``failures`` consecutive failures."""
    if failures <= LOCKOUT_FREE_FAILURES:
        return 0
    exponent = failures - LOCKOUT_FREE_FAILURES - 1
    if exponent >= 10:  # 2**10 > the cap already
        return LOCKOUT_MAX_DELAY_SECONDS
    return min(1 << exponent, LOCKOUT_MAX_DELAY_SECONDS)


def admin_actor(account_id: str) -> str:
    """The actor of an administrator's access records: ``admin:<account id>``."""
    return f"{ACTOR_PREFIX}{account_id}"


def account_id_of(actor: str) -> str | None:
    if not actor.startswith(ACTOR_PREFIX):
        return None
    account_id = actor[len(ACTOR_PREFIX) :]
    return account_id if 0 < len(account_id) <= 32 else None


class AdminTokenIssuer(Protocol):
    """Mints an administrator bearer token (the container wires netid.oauth.tokens)."""

    def __call__(self, *, actor: str, role: str, jti: str) -> tuple[str, int]:
        """(token, expires_at as a Unix time)."""
        ...


@dataclass(frozen=True)
class AccountView:
    id: str
    username: str
    role: AdminRole
    enabled: bool
    created_at: dt.datetime
    disabled_at: dt.datetime | None
    last_login_at: dt.datetime | None

    @property
    def actor(self) -> str:
        return admin_actor(self.id)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "role": self.role.value,
            "enabled": self.enabled,
            "created_at": self.created_at.isoformat(),
            "disabled_at": self.disabled_at.isoformat() if self.disabled_at else None,
            "last_login_at": self.last_login_at.isoformat() if self.last_login_at else None,
        }


@dataclass(frozen=True)
class NewAccount:
    """A created account with its TOTP provisioning URI (shown once, never stored in clear)."""

    account: AccountView
    provisioning_uri: str


@dataclass(frozen=True)
class LoginResult:
    token: str
    expires_at: int
    expires_in: int
    account: AccountView

    def to_json(self) -> dict[str, Any]:
        return {
            "access_token": self.token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "role": self.account.role.value,
            "actor": self.account.actor,
        }


class Decision(StrEnum):
    """What a request under an admin token may do (``AdminService.authorise``)."""

    ALLOWED = "allowed"
    DENIED = "denied"  # a live session whose role the matrix does not allow: 403
    INVALID = "invalid"  # no such account, disabled, other role, or a replaced session: 401


@dataclass(frozen=True)
class AdminAction:
    """One access record by an administrator or operator, as the audit administrator sees it:
    the stored entry (sealed subject references stay sealed)."""

    seq: int
    entry: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, **self.entry}
