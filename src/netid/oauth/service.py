"""Use cases: the client-credentials token endpoint (administrator tokens come from the
password + TOTP login, :mod:`netid.admins`).

Client side, in Python with joserfc (any JOSE library does; the assertion is RFC 7523 §3)::

    import secrets, time
    from joserfc import jwt
    from joserfc.jwk import ECKey

    key = ECKey.import_key(private_jwk)          # the key registered at onboarding
    now = int(time.time())
    token_url = "https://netid.example/oauth2/token"
    assertion = jwt.encode(
        {"alg": "ES256", "kid": private_jwk["kid"]},
        {"iss": client_id, "sub": client_id, "aud": token_url,
         "iat": now, "exp": now + 120, "jti": secrets.token_urlsafe(16)},
        key,
    )
    # POST token_url, application/x-www-form-urlencoded:
    #   grant_type=client_credentials
    #   client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer
    #   client_assertion=<assertion>
    # -> {"access_token": "nat1....", "token_type": "Bearer", "expires_in": 600, "scope": ...}
    # then: Authorization: Bearer <access_token> on /v1/*.

(Ed25519 keys: ``OKPKey.import_key(...)``, header ``{"alg": "Ed25519"}`` or ``"EdDSA"``.)

The service writes in the caller's transaction: the ``jti`` claim and the access record of the
issuance commit together, or neither does. A refusal for a known client is returned, not raised,
so that the route can commit its access record and then answer the error.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import TypeAlias

from netid.audit.service import AccessRecorder
from netid.core.clock import Clock
from netid.crypto.sm3 import sm3
from netid.keys.schemas import KeyPurpose
from netid.keys.service import Keyring
from netid.oauth.assertion import split_assertion, unverified_client_id, verify_client_assertion
from netid.oauth.errors import (
    InvalidClient,
    InvalidRequest,
    InvalidScope,
    OAuthRequestError,
    UnsupportedGrantType,
)
from netid.oauth.repository import OAuthRepository
from netid.oauth.schemas import (
    ACCESS_TOKEN_TTL_SECONDS,
    CLIENT_ASSERTION_TYPE_JWT_BEARER,
    CLOCK_SKEW_SECONDS,
    GRANT_TYPE_CLIENT_CREDENTIALS,
    SCOPES,
    AccessClaims,
    AssertionClaims,
    ClientDirectory,
    IssuedToken,
    RegisteredClient,
    TokenRequest,
)
from netid.oauth.tokens import mint_access_token

TokenRefusal: TypeAlias = InvalidClient | OAuthRequestError

TOKEN_ACTION = "oauth.token"  # noqa: S105 (an action name)


def institution_actor(code: str) -> str:
    return f"institution:{code}"


def _new_jti() -> str:
    return secrets.token_urlsafe(16)  # 128 bits (ASVS 7.2.3)


@dataclass(frozen=True)
class PreparedToken:
    """What a token request's read stage found (:meth:`TokenService.prepare`): the client (if
    identified) and either the refusal or the scope and the verified assertion."""

    client: RegisteredClient | None
    refusal: TokenRefusal | None = None
    scope: str | None = None
    assertion: AssertionClaims | None = None


class TokenService:
    def __init__(
        self,
        *,
        repository: OAuthRepository,
        directory: ClientDirectory,
        keyring: Keyring,
        recorder: AccessRecorder,
        clock: Clock,
        token_endpoint: str,
        api_audience: str,
        ttl: int = ACCESS_TOKEN_TTL_SECONDS,
    ) -> None:
        if not 0 < ttl <= ACCESS_TOKEN_TTL_SECONDS:
            raise ValueError("access tokens live at most 10 minutes")
        self._repo = repository
        self._directory = directory
        self._keyring = keyring
        self._recorder = recorder
        self._clock = clock
        self._token_endpoint = token_endpoint
        self._api_audience = api_audience
        self._ttl = ttl

    def issue(self, request: TokenRequest) -> IssuedToken | TokenRefusal:
        """RFC 6749 §4.4 with RFC 7523 client authentication. Returns the token or the error."""
        return self.complete(self.prepare(request))

    # -- staged: the read stage, then the write stage (docs/decisions/0007) ------------------
    def prepare(self, request: TokenRequest) -> PreparedToken:
        """The read stage: the client, the scope, the assertion's signature and claims.
        Writes nothing (it may run in a read-only transaction outside the writer slot);
        :meth:`complete` reads the client's status again, spends the ``jti``, mints and
        records."""
        client: RegisteredClient | None = None
        try:
            client = self._authenticate_form(request)
            # The scope before the assertion's jti is spent: a bad scope leaves the jti usable.
            scope = self._scope(request.scope)
            assertion = self._verified_assertion(client, request)
        except (InvalidClient, OAuthRequestError) as error:
            return PreparedToken(client, refusal=error)
        return PreparedToken(client, scope=scope, assertion=assertion)

    def complete(self, prepared: PreparedToken) -> IssuedToken | TokenRefusal:
        """The write stage: the ``jti`` once, the token, the access record (a refusal of a
        known client is recorded too)."""
        client = prepared.client
        try:
            if prepared.refusal is not None:
                raise prepared.refusal
            assert client is not None
            assert prepared.assertion is not None
            assert prepared.scope is not None
            # Read again: a freeze committed since the read stage refuses this very request.
            if not self._directory.is_active(client.institution_id):
                raise InvalidClient("inactive")
            self._spend_jti(client, prepared.assertion)
            return self._issue(client, prepared.scope)
        except (InvalidClient, OAuthRequestError) as error:
            if client is not None:
                reason = error.reason if isinstance(error, InvalidClient) else error.oauth_error
                self._record(client, "refused", {"reason": reason})
            return error

    def _authenticate_form(self, request: TokenRequest) -> RegisteredClient:
        if not request.grant_type:
            raise InvalidRequest("grant_type is required.")
        if request.grant_type != GRANT_TYPE_CLIENT_CREDENTIALS:
            raise UnsupportedGrantType()
        return self.identify_assertion_client(request)

    def identify_assertion_client(self, request: TokenRequest) -> RegisteredClient:
        """The client a ``private_key_jwt`` assertion claims to be (nothing verified yet)."""
        # RFC 6749 §5.2: no client authentication, or an unsupported method: invalid_client.
        if request.client_assertion_type != CLIENT_ASSERTION_TYPE_JWT_BEARER:
            raise InvalidClient("unsupported_authentication")
        if not request.client_assertion:
            raise InvalidClient("no_assertion")
        _, claims, _, _ = split_assertion(request.client_assertion)
        client_id = unverified_client_id(claims)
        if client_id is None:
            raise InvalidClient("wrong_issuer")
        # RFC 7521 §4.2: a client_id sent beside the assertion must name the same client.
        if request.client_id is not None and request.client_id != client_id:
            raise InvalidClient("client_id_mismatch")
        client = self._directory.lookup(client_id)
        if client is None:
            raise InvalidClient("unknown_client")
        return client

    def verify_assertion(self, client: RegisteredClient, request: TokenRequest) -> None:
        """RFC 7523 §3 for an identified client: active, signature and claims, jti once."""
        self._spend_jti(client, self._verified_assertion(client, request))

    def _verified_assertion(
        self, client: RegisteredClient, request: TokenRequest
    ) -> AssertionClaims:
        """Active, signature and claims (reads nothing, writes nothing)."""
        if not client.active:  # only active institutions get tokens
            raise InvalidClient("inactive")
        return verify_client_assertion(
            request.client_assertion or "",
            client_id=client.client_id,
            jwks=client.jwks,
            audience=self._token_endpoint,
            now=int(self._clock.now().timestamp()),
        )

    def _spend_jti(self, client: RegisteredClient, assertion: AssertionClaims) -> None:
        """RFC 7523 §3 item 7: each ``jti`` once (InvalidClient ``replay`` the second time)."""
        now = self._clock.now()
        self._repo.purge_expired(before=now - dt.timedelta(seconds=CLOCK_SKEW_SECONDS))
        fresh = self._repo.claim_jti(
            client_id=client.client_id,
            jti_hash=sm3(assertion.jti.encode()),
            used_at=now,
            # Kept until the assertion fails the exp check on its own (exp + skew).
            expires_at=dt.datetime.fromtimestamp(assertion.expires_at + CLOCK_SKEW_SECONDS, dt.UTC),
        )
        if not fresh:
            raise InvalidClient("replay")

    def _issue(self, client: RegisteredClient, scope: str) -> IssuedToken:
        ts = int(self._clock.now().timestamp())
        key = self._keyring.active(KeyPurpose.TOKEN_MAC)
        jti = _new_jti()
        token = mint_access_token(
            key_id=key.key_id,
            secret=key.secret,
            client_id=client.client_id,
            institution_id=client.institution_id,
            institution_code=client.institution_code,
            scope=scope,
            audience=self._api_audience,
            issued_at=ts,
            ttl=self._ttl,
            jti=jti,
        )
        claims = AccessClaims(
            client_id=client.client_id,
            institution_id=client.institution_id,
            institution_code=client.institution_code,
            scope=scope,
            audience=self._api_audience,
            issued_at=ts,
            expires_at=ts + self._ttl,
            jti=jti,
            key_id=key.key_id,
        )
        self._record(client, "issued", {"token_jti": jti, "scope": scope, "key_id": key.key_id})
        return IssuedToken(access_token=token, expires_in=self._ttl, scope=scope, claims=claims)

    @staticmethod
    def _scope(requested: str | None) -> str:
        if requested is None:
            return " ".join(SCOPES)
        wanted = requested.split(" ")
        if not requested or any(s not in SCOPES for s in wanted):
            raise InvalidScope()
        return " ".join(s for s in SCOPES if s in wanted)  # RFC 6749 §3.3: order-free

    def _record(self, client: RegisteredClient, outcome: str, details: dict[str, str]) -> None:
        self._recorder.record(
            actor=institution_actor(client.institution_code),
            action=TOKEN_ACTION,
            outcome=outcome,
            details={"client_id": client.client_id, **details},
        )
