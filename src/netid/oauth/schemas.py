"""The OAuth package's data: registered clients (through a :class:`ClientDirectory`), the
claims of a verified token, and the token endpoint's answer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

# Access tokens live at most 10 minutes (issue 3 §2); client assertions at most 5 (RFC 7523 §3
# leaves the bound to us; the issue sets it).
ACCESS_TOKEN_TTL_SECONDS = 600
MAX_ASSERTION_LIFETIME_SECONDS = 300
CLOCK_SKEW_SECONDS = 30

# Administrator bearer tokens (interim, until issue 4's password + TOTP administrators):
# 15 minutes by default, 12 hours at most (SEC-10: admin absolute session limit ≤ 12 h).
ADMIN_TOKEN_TTL_SECONDS = 900
MAX_ADMIN_TOKEN_TTL_SECONDS = 12 * 3600
ADMIN_ROLES = ("system_admin", "security_admin", "audit_admin", "registrar", "reviewer")

# What an institution's access token may be used for. A request without ``scope`` gets all.
SCOPES = ("verification", "receipts", "statements")

GRANT_TYPE_CLIENT_CREDENTIALS = "client_credentials"
CLIENT_ASSERTION_TYPE_JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(frozen=True)
class RegisteredClient:
    """One institution's OAuth client as the directory knows it."""

    client_id: str
    institution_id: str
    institution_code: str
    active: bool
    jwks: Sequence[Mapping[str, Any]] = field(default_factory=tuple)


class ClientDirectory(Protocol):
    """Where clients are registered (the institutions package; wired in the container)."""

    def lookup(self, client_id: str) -> RegisteredClient | None: ...

    def is_active(self, institution_id: str) -> bool:
        """Whether the institution may get tokens now (a fresh read)."""
        ...


@dataclass(frozen=True)
class AccessClaims:
    """A verified institution access token."""

    client_id: str
    institution_id: str
    institution_code: str
    scope: str
    audience: str
    issued_at: int
    expires_at: int
    jti: str
    key_id: str

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(self.scope.split())


@dataclass(frozen=True)
class AdminClaims:
    """A verified interim administrator token."""

    actor: str
    role: str
    audience: str
    issued_at: int
    expires_at: int
    jti: str
    key_id: str


@dataclass(frozen=True)
class AssertionClaims:
    """What a verified client assertion (RFC 7523 §3) established."""

    client_id: str
    jti: str
    expires_at: int
    key_id: str | None


@dataclass(frozen=True)
class TokenRequest:
    """The token endpoint's form fields (RFC 6749 §4.4.2 and RFC 7521 §4.2)."""

    grant_type: str | None
    client_assertion_type: str | None
    client_assertion: str | None
    client_id: str | None = None
    scope: str | None = None


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scope: str
    claims: AccessClaims

    def to_json(self) -> dict[str, Any]:
        # RFC 6749 §5.1
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": self.scope,
        }


@dataclass(frozen=True)
class AdminPrincipal:
    """An authenticated administrator: ``actor`` goes into access records."""

    actor: str
    role: str
