"""OpenID Connect values: lifetimes, scopes and their claims, client registration I/O, and the
views the pages and the wallet show (docs/decisions/0006)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from netid.policy.schemas import AGE_MARKERS

AUTHORIZATION_TTL_SECONDS: Final = 120  # issue 6 §2: a login request expires in ≤ 2 minutes
CODE_TTL_SECONDS: Final = 60  # RFC 6749 §4.1.2: short-lived, 10 minutes at most
ID_TOKEN_TTL_SECONDS: Final = 5 * 60  # issue 6 §1: minutes, not hours
SESSION_TTL_SECONDS: Final = 30 * 60
REMEMBER_CONSENT_DAYS: Final = 90

IDENTITY_CLAIMS: Final[tuple[str, ...]] = ("name", "document_type", "document_number")
# What each scope asks for (issue 6 §3). ``openid`` alone: the pairwise pseudonym only.
SCOPE_CLAIMS: Final[dict[str, tuple[str, ...]]] = {
    "openid": (),
    "age": AGE_MARKERS,
    "identity": IDENTITY_CLAIMS,
}
SUPPORTED_SCOPES: Final[tuple[str, ...]] = tuple(SCOPE_CLAIMS)
# Plaintext identity: a separate tick every time it is asked for; never remembered.
SENSITIVE_CLAIMS: Final = frozenset(IDENTITY_CLAIMS)
ACR_VALUES: Final[tuple[str, ...]] = ("L1", "L2", "L3")
ID_TOKEN_ALGS: Final[tuple[str, ...]] = ("RS256", "ES256")
AUTH_METHODS: Final[tuple[str, ...]] = ("private_key_jwt", "client_secret_basic")
LOCALES: Final[tuple[str, ...]] = ("zh-CN", "en")

# The amr values (RFC 8176) of each way of logging in.
AMR_BY_ACR: Final[dict[str, tuple[str, ...]]] = {
    "L1": ("hwk", "pin"),
    "L2": ("hwk", "pin", "face"),
    "L3": ("hwk", "pin", "face", "sms"),
}
PASSWORD_AMR: Final[tuple[str, ...]] = ("pwd", "sms")

Uri = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
PurposeCode = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,64}$")]


def claims_of_scope(scope: str) -> tuple[str, ...]:
    """The claims the (known) scopes of a space-separated ``scope`` ask for, sorted."""
    names = {claim for s in scope.split() for claim in SCOPE_CLAIMS.get(s, ())}
    return tuple(sorted(names))


class ClientRegistrationIn(BaseModel):
    """An institution's OpenID Connect registration (OIDC Registration 1.0 §2 names)."""

    model_config = ConfigDict(extra="forbid")

    redirect_uris: list[Uri] = Field(min_length=1, max_length=10)
    post_logout_redirect_uris: list[Uri] = Field(default_factory=list, max_length=10)
    sector_identifier_uri: Uri | None = None
    token_endpoint_auth_method: Literal["private_key_jwt", "client_secret_basic"] = (
        "private_key_jwt"
    )
    id_token_signed_response_alg: Literal["RS256", "ES256"] = "RS256"
    default_purpose: PurposeCode | None = None


@dataclass(frozen=True)
class ClientView:
    client_id: str
    institution_id: str
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    sector_identifier_uri: str | None
    sector: str
    token_endpoint_auth_method: str
    id_token_signed_response_alg: str
    default_purpose: str
    # Shown once, when a client_secret_basic registration creates or rotates it.
    client_secret: str | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "client_id": self.client_id,
            "redirect_uris": list(self.redirect_uris),
            "post_logout_redirect_uris": list(self.post_logout_redirect_uris),
            "sector_identifier_uri": self.sector_identifier_uri,
            "sector": self.sector,
            "subject_type": "pairwise",
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "id_token_signed_response_alg": self.id_token_signed_response_alg,
            "default_purpose": self.default_purpose,
        }
        if self.client_secret is not None:
            body["client_secret"] = self.client_secret
        return body


@dataclass(frozen=True)
class LoginRequestView:
    """What the wallet shows before the person approves (no personal data)."""

    institution_name: str
    institution_code: str
    purpose: str
    purpose_label: str
    claims: tuple[str, ...]
    check_code: str
    acr_min: str | None
    expires_at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "institution": {"name": self.institution_name, "code": self.institution_code},
            "purpose": self.purpose,
            "purpose_label": self.purpose_label,
            "claims": list(self.claims),
            "check_code": self.check_code,
            "acr_min": self.acr_min,
            "expires_at": self.expires_at.isoformat(),
        }


@dataclass(frozen=True)
class LoginPage:
    """The browser's login page: what to show beside the QR code."""

    authorization_id: str
    institution_name: str
    purpose_label: str
    login_uri: str
    check_code: str
    locale: str
    expires_at: dt.datetime
    status: str
    redirect_uri: str


@dataclass(frozen=True)
class ConsentPage:
    authorization_id: str
    institution_name: str
    purpose: str
    purpose_label: str
    claims: tuple[str, ...]
    sensitive: tuple[str, ...]
    locale: str
    redirect_uri: str


@dataclass(frozen=True)
class RedirectTo:
    """Send the browser here (a relying party's redirect URI with the answer, or our page).
    ``set_session`` is a new provider-session cookie value to set, ``end_session`` clears it."""

    url: str
    set_session: str | None = field(default=None, repr=False)
    end_session: bool = False


@dataclass(frozen=True)
class ErrorPage:
    """An error shown to the person, never redirected (client or redirect URI in doubt)."""

    error: str
    description: str


@dataclass(frozen=True)
class Started:
    """A new login transaction: the browser goes to its login page (or the next step)."""

    authorization_id: str
    next_url: str
    browser_cookie: str = field(repr=False)


@dataclass(frozen=True)
class TokenAnswer:
    access_token: str = field(repr=False)
    id_token: str = field(repr=False)
    expires_in: int
    scope: str

    def to_json(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "id_token": self.id_token,
            "scope": self.scope,
        }


@dataclass(frozen=True)
class LoggedOut:
    redirect: str | None


@dataclass(frozen=True)
class AuthenticatedPerson:
    person_id: str
    method: Literal["wallet", "password"]
    acr: str
    amr: tuple[str, ...]
