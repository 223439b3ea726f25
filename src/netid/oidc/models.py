"""OpenID Connect state (docs/decisions/0006): client registrations, authorization
transactions (a login in progress, ≤ 120 s), grants (the code and what it issued) and the
provider's browser sessions.

Secrets are stored as sm3 hashes only (the code, the wallet handle, the browser cookie, the
session cookie); the released claims are sealed (SM4-GCM, data key, AAD
``oidc_grant|claims|<id>``). State, nonce and the PKCE challenge are the relying party's
values, not personal data.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from netid.db.base import Base, UtcDateTime


class OidcClient(Base):
    __tablename__ = "oidc_client"

    # The institution's OAuth client id (assigned at approval).
    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # No foreign key: oidc sits beside institutions (siblings meet in the container).
    institution_id: Mapped[str] = mapped_column(String(32), unique=True)
    redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    sector_identifier_uri: Mapped[str | None] = mapped_column(String(2000))
    sector: Mapped[str] = mapped_column(String(255))
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(32))
    secret_mac: Mapped[bytes | None] = mapped_column(LargeBinary)
    secret_key_id: Mapped[str | None] = mapped_column(String(8))
    id_token_alg: Mapped[str] = mapped_column(String(8))
    default_purpose: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class OidcAuthorization(Base):
    """A login in progress: from the authorization request to the code (or the refusal)."""

    __tablename__ = "oidc_authorization"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    handle_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    browser_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    client_id: Mapped[str] = mapped_column(String(64))
    institution_id: Mapped[str] = mapped_column(String(32))
    redirect_uri: Mapped[str] = mapped_column(String(2000))
    scope: Mapped[str] = mapped_column(String(256))
    claims: Mapped[str] = mapped_column(String(256))  # space-separated, sorted
    purpose: Mapped[str] = mapped_column(String(64))
    state: Mapped[str | None] = mapped_column(String(1024))
    nonce: Mapped[str | None] = mapped_column(String(512))
    code_challenge: Mapped[str] = mapped_column(String(64))
    acr_min: Mapped[str | None] = mapped_column(String(2))
    max_age: Mapped[int | None] = mapped_column(Integer)
    prompt: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(8))
    # pending → authenticated → completed | denied
    status: Mapped[str] = mapped_column(String(16))
    person_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("person.id", ondelete="CASCADE"), index=True
    )
    method: Mapped[str | None] = mapped_column(String(16))  # wallet | password | session
    acr: Mapped[str | None] = mapped_column(String(2))
    amr: Mapped[str | None] = mapped_column(String(64))
    auth_time: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    # The provider session this login continues (single sign-on), if any.
    session_sid: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), index=True)


class OidcGrant(Base):
    """An authorization code and, once exchanged, what it issued (the access token names the
    grant; revoking the grant revokes the token)."""

    __tablename__ = "oidc_grant"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    institution_id: Mapped[str] = mapped_column(String(32))
    person_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("person.id", ondelete="CASCADE"), index=True
    )
    redirect_uri: Mapped[str] = mapped_column(String(2000))
    code_challenge: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[str | None] = mapped_column(String(512))
    scope: Mapped[str] = mapped_column(String(256))
    purpose: Mapped[str] = mapped_column(String(64))
    sub: Mapped[str] = mapped_column(String(64))
    sid: Mapped[str | None] = mapped_column(String(32))
    acr: Mapped[str] = mapped_column(String(2))
    amr: Mapped[str] = mapped_column(String(64))
    auth_time: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    claims_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    # Remembered consents the grant relies on: re-checked at the token request.
    consent_ids: Mapped[str] = mapped_column(String(512))
    receipt_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    code_expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), index=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class OidcSession(Base):
    """The provider's browser session after a login (cookie ``netid_op``; sm3 stored)."""

    __tablename__ = "oidc_session"

    cookie_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    sid: Mapped[str] = mapped_column(String(32), unique=True)
    person_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("person.id", ondelete="CASCADE"), index=True
    )
    # Single sign-on stays with the institution the person approved (docs/decisions/0006).
    institution_id: Mapped[str] = mapped_column(String(32))
    method: Mapped[str] = mapped_column(String(16))
    acr: Mapped[str] = mapped_column(String(2))
    amr: Mapped[str] = mapped_column(String(64))
    auth_time: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), index=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
