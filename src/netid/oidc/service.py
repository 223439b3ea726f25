"""OpenID Connect use cases (docs/decisions/0006): client registration, the authorization
request, logging in (wallet, password), consent, the login as a verification, the code
exchange, userinfo and logout. Services flush, never commit; the request owns the transaction.

Browser-facing steps return what the edge should do (:class:`RedirectTo`, :class:`ErrorPage`,
a page view) instead of raising, where the step has written something that must be committed
(an access record, a spent code): no record, no answer — also for refusals.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

import orjson

from netid.accounts.schemas import LoginChallenge
from netid.accounts.service import AccountService
from netid.audit.service import AccessRecorder
from netid.consent.service import ConsentService
from netid.core.clock import Clock
from netid.core.errors import NetidError
from netid.core.ids import new_row_id
from netid.crypto import jose_keys
from netid.crypto.sealing import open_sealed, seal
from netid.crypto.sm3 import hmac_sm3, sm3
from netid.enrolment.schemas import CitizenPrincipal
from netid.institutions.schemas import InstitutionStatus, InstitutionView
from netid.institutions.service import InstitutionService
from netid.keys.export import public_jose_key
from netid.keys.schemas import KeyPurpose
from netid.keys.service import Keyring, jose_private_key
from netid.oauth.errors import InvalidClient, InvalidRequest, OAuthRequestError
from netid.oauth.schemas import TokenRequest
from netid.oauth.service import TokenService
from netid.oauth.tokens import OIDC_TOKEN_TTL_SECONDS, mint_oidc_token, verify_oidc_token
from netid.oidc import jwt as oidc_jwt
from netid.oidc import pkce, redirects, request_object
from netid.oidc.errors import (
    AccessDenied,
    AuthorizationRequestInvalid,
    ClientRegistrationInvalid,
    ClientUnknown,
    ConsentNeeded,
    GrantInvalid,
    LoginRequestDecided,
    LoginRequestExpired,
    LoginRequestNotFound,
    LoginRequired,
    OidcError,
    RedirectUriMismatch,
    RequestObjectInvalid,
    RequestUriNotSupported,
    ScopeInvalid,
    TemporarilyUnavailable,
    UnsupportedResponseType,
    UserinfoTokenInvalid,
)
from netid.oidc.models import OidcAuthorization, OidcClient, OidcGrant, OidcSession
from netid.oidc.repository import OidcRepository
from netid.oidc.schemas import (
    ACR_VALUES,
    AMR_BY_ACR,
    AUTHORIZATION_TTL_SECONDS,
    CODE_TTL_SECONDS,
    ID_TOKEN_TTL_SECONDS,
    LOCALES,
    PASSWORD_AMR,
    REMEMBER_CONSENT_DAYS,
    SENSITIVE_CLAIMS,
    SESSION_TTL_SECONDS,
    AuthenticatedPerson,
    ClientRegistrationIn,
    ClientView,
    ConsentPage,
    ErrorPage,
    LoggedOut,
    LoginPage,
    LoginRequestView,
    RedirectTo,
    Started,
    TokenAnswer,
    claims_of_scope,
)
from netid.policy.schemas import AGE_MARKERS, Catalogue, VerificationAsk
from netid.policy.service import decide
from netid.registry.service import RegistryService
from netid.verification.errors import AssuranceInsufficient
from netid.verification.schemas import ASSURANCE_RANK, LoginVerificationRequest
from netid.verification.service import LoginMethod, VerificationService

_STATUS_PENDING = "pending"
_STATUS_AUTHENTICATED = "authenticated"
_STATUS_COMPLETING = "completing"  # claimed by one request, which runs the verification
_STATUS_COMPLETED = "completed"
_STATUS_DENIED = "denied"
MAX_STATE = 1024
MAX_NONCE = 512
_DIGITS = re.compile(r"[0-9]{1,9}")
_PROMPTS = frozenset({"none", "login", "consent", "select_account"})


def _hash(secret: str) -> bytes:
    return sm3(secret.encode("ascii"))


def _new_secret() -> str:
    return secrets.token_urlsafe(32)  # 256 bits


def login_handle(browser_cookie: str, authorization_id: str) -> str:
    """The wallet's handle of a login: derived from the browser's cookie (a 256-bit secret
    only that browser holds) and the transaction id, so the page can be shown again without
    the platform storing the handle, and nobody without the cookie can compute it."""
    digest = sm3(
        b"netid-login-handle\x00" + browser_cookie.encode() + b"\x00" + authorization_id.encode()
    )
    return jose_keys.b64url_encode(digest[:16])


def check_code(handle: str) -> str:
    """A 4-digit code the page and the wallet both show, so the person can see that the
    request on the phone is the one on their screen."""
    digest = sm3(b"netid-check\x00" + handle.encode())
    return f"{int.from_bytes(digest[:4], 'big') % 10000:04d}"


def login_uri(handle: str) -> str:
    return "netid://login?" + urlencode({"r": handle})


class SectorFetcher(Protocol):
    def __call__(self, url: str) -> list[str]: ...


class OidcService:
    def __init__(
        self,
        *,
        repository: OidcRepository,
        institutions: InstitutionService,
        verification: Callable[[], VerificationService],
        consents: ConsentService,
        registry: RegistryService,
        accounts: Callable[[], AccountService],
        tokens: TokenService,
        keyring: Keyring,
        recorder: AccessRecorder,
        clock: Clock,
        catalogue: Catalogue,
        issuer: str,
        userinfo_audience: str,
        fetch_sector: SectorFetcher = redirects.fetch_sector_document,
    ) -> None:
        self._repo = repository
        self._institutions = institutions
        self._verification = verification
        self._consents = consents
        self._registry = registry
        self._accounts = accounts
        self._tokens = tokens
        self._keyring = keyring
        self._recorder = recorder
        self._clock = clock
        self._catalogue = catalogue
        self._issuer = issuer
        self._userinfo_audience = userinfo_audience
        self._fetch_sector = fetch_sector

    # == client registration ==================================================================
    def register_client(
        self, institution_id: str, body: ClientRegistrationIn, *, actor: str
    ) -> ClientView:
        """Create or replace the institution's OIDC registration. The sector its redirect URIs
        give MUST be the institution's registered sector, so ``sub`` is the pseudonym the
        verification API gives it (OIDC Core §8.1). A new ``client_secret_basic`` secret is
        made on every registration with that method and shown once."""
        institution = self._institutions.require_active(institution_id)
        if institution.client_id is None or institution.sector is None:
            raise ClientRegistrationInvalid("The institution is not approved.")
        try:
            uris = [redirects.validate_redirect_uri(u) for u in body.redirect_uris]
            logout_uris = [
                redirects.validate_redirect_uri(u) for u in body.post_logout_redirect_uris
            ]
            listed: list[str] | None = None
            if body.sector_identifier_uri is not None:
                redirects.validate_redirect_uri(body.sector_identifier_uri)
                # Only the institution's own host is ever fetched: checked before the request,
                # so the fetch cannot be pointed at anything else (our loopback included).
                if redirects.host_of(body.sector_identifier_uri) != institution.sector:
                    raise ClientRegistrationInvalid(
                        "The sector identifier URI is not on the institution's registered host.",
                        details={"reason": "sector_mismatch", "sector": institution.sector},
                    )
                listed = self._fetch_sector(body.sector_identifier_uri)
            sector = redirects.sector_identifier(uris, body.sector_identifier_uri, listed)
        except ValueError as error:
            reason = getattr(error, "reason", "invalid")
            if isinstance(error, redirects.SectorDocumentUnavailable):
                # One reason for every fetch failure: the differences (refused, timed out,
                # wrong type) would let an institution probe our network through the fetch.
                reason = "sector_document_unavailable"
            raise ClientRegistrationInvalid(details={"reason": reason}) from None
        if sector != institution.sector:
            raise ClientRegistrationInvalid(
                "The redirect URIs' sector is not the institution's registered sector.",
                details={"reason": "sector_mismatch", "sector": institution.sector},
            )
        purpose = body.default_purpose or (institution.purposes[0] if institution.purposes else "")
        if purpose not in institution.purposes:
            raise ClientRegistrationInvalid(
                "The default purpose is not one the institution registered.",
                details={"reason": "purpose_not_registered"},
            )
        now = self._clock.now()
        row = self._repo.client(institution.client_id)
        if row is None:
            row = OidcClient(client_id=institution.client_id, created_at=now)
            row.institution_id = institution.id
        row.redirect_uris = uris
        row.post_logout_redirect_uris = logout_uris
        row.sector_identifier_uri = body.sector_identifier_uri
        row.sector = sector
        row.token_endpoint_auth_method = body.token_endpoint_auth_method
        row.id_token_alg = body.id_token_signed_response_alg
        row.default_purpose = purpose
        row.updated_at = now
        secret: str | None = None
        if body.token_endpoint_auth_method == "client_secret_basic":
            secret = _new_secret()
            key = self._keyring.active(KeyPurpose.TOKEN_MAC)
            row.secret_mac = hmac_sm3(key.secret, b"oidc-client-secret\x00" + secret.encode())
            row.secret_key_id = key.key_id
        else:
            row.secret_mac = None
            row.secret_key_id = None
        self._repo.add(row)
        self._recorder.record(
            actor=actor,
            action="oidc.client.register",
            outcome="ok",
            details={
                "client_id": row.client_id,
                "institution_id": institution.id,
                "redirect_uris": uris,
                "auth_method": row.token_endpoint_auth_method,
                "secret_rotated": secret is not None,
            },
        )
        return self._client_view(row, secret)

    def client(self, institution_id: str) -> ClientView | None:
        row = self._repo.client_of_institution(institution_id)
        return self._client_view(row) if row else None

    @staticmethod
    def _client_view(row: OidcClient, secret: str | None = None) -> ClientView:
        return ClientView(
            client_id=row.client_id,
            institution_id=row.institution_id,
            redirect_uris=tuple(row.redirect_uris),
            post_logout_redirect_uris=tuple(row.post_logout_redirect_uris),
            sector_identifier_uri=row.sector_identifier_uri,
            sector=row.sector,
            token_endpoint_auth_method=row.token_endpoint_auth_method,
            id_token_signed_response_alg=row.id_token_alg,
            default_purpose=row.default_purpose,
            client_secret=secret,
        )

    # == the authorization request ============================================================
    def authorize(
        self,
        params: Mapping[str, str],
        *,
        browser_cookie: str | None,
        session_cookie: str | None,
        repeated: frozenset[str] = frozenset(),
    ) -> Started | RedirectTo | ErrorPage:
        """OIDC Core §3.1.2.1–§3.1.2.2. Client and redirect URI first (errors about them are
        shown, never redirected); then everything else, answered at the redirect URI.
        ``repeated`` names the parameters the request sent more than once."""
        client_id = params.get("client_id") or ""
        client = self._repo.client(client_id) if _plausible_id(client_id) else None
        found = self._institutions.client_keys(client_id) if client else None
        if client is None or found is None:
            return ErrorPage("invalid_client", ClientUnknown.default_message)
        institution, jwks = found
        redirect_uri = params.get("redirect_uri") or ""
        if redirect_uri not in client.redirect_uris:  # exact match (RFC 9700 §4.1.3)
            return ErrorPage("invalid_request", RedirectUriMismatch.default_message)
        state = _echoable(params.get("state"))
        try:
            if repeated:
                raise AuthorizationRequestInvalid("A parameter is repeated (RFC 6749 §3.1).")
            merged = self._merge_request_object(params, client_id, redirect_uri, jwks)
            # RFC 9101 §5: the request object's state wins, also for the errors found later.
            state = _echoable(merged.get("state"))
            if any("\x00" in value for value in merged.values()):
                # No parameter of ours holds a NUL (nor can a PostgreSQL text column).
                raise AuthorizationRequestInvalid("A parameter holds a NUL character.")
            if institution.status is not InstitutionStatus.ACTIVE or not institution.code:
                raise AccessDenied("The institution is not active.")
            return self._start(client, institution, merged, browser_cookie, session_cookie)
        except OidcError as error:
            return RedirectTo(self.error_redirect(redirect_uri, error, state))

    def error_redirect(self, redirect_uri: str, error: OidcError, state: str | None) -> str:
        query: dict[str, str] = {
            "error": error.oauth_error,
            "error_description": error.message,
            "iss": self._issuer,  # RFC 9207 §2
        }
        if state is not None:
            query["state"] = state
        return _with_query(redirect_uri, query)

    def _merge_request_object(
        self,
        params: Mapping[str, str],
        client_id: str,
        redirect_uri: str,
        jwks: Sequence[Mapping[str, Any]],
    ) -> dict[str, str]:
        """RFC 9101 §5: with a request object, only its parameters count — nothing unsigned
        from the query fills a gap. Its ``client_id``, ``redirect_uri`` and ``response_type``,
        if present, must repeat the query's (§6.3, OIDC Core §6.1); every value is a string
        (``max_age`` an integer), anything else is refused."""
        if params.get("request_uri"):
            raise RequestUriNotSupported()
        token = params.get("request")
        if not token:
            return dict(params)
        try:
            claims = request_object.verify_request_object(
                token,
                client_id=client_id,
                jwks=jwks,
                issuer=self._issuer,
                now=int(self._clock.now().timestamp()),
            )
        except ValueError:
            raise RequestObjectInvalid() from None
        fixed = {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "response_type": params.get("response_type", ""),
        }
        for name, expected in fixed.items():
            if name in claims and claims[name] != expected:
                raise RequestObjectInvalid()
        merged = dict(fixed)
        for name, value in claims.items():
            if name in {"iss", "aud", "exp", "iat", "nbf", "jti", "client_id", "redirect_uri"}:
                continue
            if name == "max_age" and isinstance(value, int) and not isinstance(value, bool):
                merged[name] = str(value)
            elif isinstance(value, str):
                merged[name] = value
            else:
                raise RequestObjectInvalid("A request object parameter is not a string.")
        return merged
        try:
            claims = request_object.verify_request_object(
                token,
                client_id=client_id,
                jwks=jwks,
                issuer=self._issuer,
                now=int(self._clock.now().timestamp()),
            )
        except ValueError:
            raise RequestObjectInvalid() from None
        for name, expected in (("client_id", client_id), ("redirect_uri", redirect_uri)):
            if name in claims and claims[name] != expected:
                raise RequestObjectInvalid()
        for name, value in claims.items():
            if name in {"iss", "aud", "exp", "iat", "nbf", "jti", "request", "request_uri"}:
                continue
            if isinstance(value, str):
                merged[name] = value
            elif name == "max_age" and isinstance(value, int) and not isinstance(value, bool):
                merged[name] = str(value)
        merged.pop("request", None)
        return merged

    def _start(
        self,
        client: OidcClient,
        institution: InstitutionView,
        params: Mapping[str, str],
        browser_cookie: str | None,
        session_cookie: str | None,
    ) -> Started | RedirectTo:
        if params.get("response_type") != "code":
            raise UnsupportedResponseType()
        scope_names = (params.get("scope") or "").split()
        if "openid" not in scope_names:
            raise ScopeInvalid()
        # OIDC Core §3.1.2.1: unknown scope values are ignored.
        scope = " ".join(s for s in ("openid", "age", "identity") if s in scope_names)
        try:
            challenge = pkce.check_challenge(
                params.get("code_challenge"), params.get("code_challenge_method")
            )
        except pkce.PkceError as error:
            raise AuthorizationRequestInvalid(
                _PKCE_MESSAGES.get(error.reason, "PKCE (S256) is required.")
            ) from None
        state = params.get("state")
        if state is not None and len(state) > MAX_STATE:
            raise AuthorizationRequestInvalid("The state is too long.")
        nonce = params.get("nonce")
        if nonce == "":
            nonce = None  # an empty parameter is an omitted one (RFC 6749 §3.1)
        if nonce is not None and len(nonce) > MAX_NONCE:
            raise AuthorizationRequestInvalid("The nonce is too long.")
        prompt = frozenset((params.get("prompt") or "").split())
        if not prompt <= _PROMPTS or ("none" in prompt and len(prompt) > 1):
            raise AuthorizationRequestInvalid("prompt is not valid (OIDC Core §3.1.2.1).")
        max_age = _max_age(params.get("max_age"))
        acr_min = _acr_min(params.get("acr_values"))
        purpose = params.get("purpose") or client.default_purpose
        claims = claims_of_scope(scope)
        rule = self._catalogue.policy(institution.industry).rule(purpose)
        if "age" in scope_names and rule is not None:
            # ``age`` asks for the age markers this institution may receive for this purpose
            # (an internet platform gets 14/16/18, not 60): the scope names a kind of claim,
            # the policy the minimum necessary of it.
            markers = [c for c in claims if c in AGE_MARKERS and c in rule.releasable]
            claims = tuple(sorted([c for c in claims if c not in AGE_MARKERS] + markers))
        decision = decide(
            self._catalogue.policy(institution.industry),
            VerificationAsk(purpose=purpose, verification_type="oidc", claims=frozenset(claims)),
            registered_purposes=frozenset(institution.purposes),
        )
        if not decision.allowed:
            # Before any page: the person never sees a request the law does not allow.
            raise AccessDenied(
                "The institution's policy does not allow this request.",
                details={"reason": decision.reason or "policy_denied"},
            )
        now = self._clock.now()
        self._repo.purge_authorizations(now - dt.timedelta(seconds=AUTHORIZATION_TTL_SECONDS))
        cookie = browser_cookie if _plausible_cookie(browser_cookie) else _new_secret()
        assert cookie is not None
        row = OidcAuthorization(
            id=new_row_id(),
            browser_hash=_hash(cookie),
            client_id=client.client_id,
            institution_id=institution.id,
            redirect_uri=params["redirect_uri"],
            scope=scope,
            claims=" ".join(claims),
            purpose=purpose,
            state=state,
            nonce=nonce,
            code_challenge=challenge,
            acr_min=acr_min,
            max_age=max_age,
            prompt=" ".join(sorted(prompt)) or None,
            locale=_locale(params.get("ui_locales")),
            status=_STATUS_PENDING,
            created_at=now,
            expires_at=now + dt.timedelta(seconds=AUTHORIZATION_TTL_SECONDS),
        )
        row.handle_hash = _hash(login_handle(cookie, row.id))
        self._repo.add(row)
        if self._resume_session(row, session_cookie, prompt):
            return Started(row.id, f"/oidc/consent/{row.id}", cookie)
        if "none" in prompt:
            raise LoginRequired()
        return Started(row.id, f"/oidc/login/{row.id}", cookie)

    def _resume_session(
        self, row: OidcAuthorization, session_cookie: str | None, prompt: frozenset[str]
    ) -> bool:
        """Single sign-on within the provider's session (30 minutes from the login, not
        renewed), for the institution the person approved only, and never for plaintext
        identity: a login approved once — perhaps on a phished QR code — must not open other
        institutions or the identity claims without the person (docs/decisions/0006). Also
        not when the request asks for a fresh login (prompt=login), a recent one (max_age) or
        a higher assurance (acr_values)."""
        if "login" in prompt or not _plausible_cookie(session_cookie):
            return False
        if SENSITIVE_CLAIMS & frozenset(row.claims.split()):
            return False
        assert session_cookie is not None
        op = self._repo.session(_hash(session_cookie))
        now = self._clock.now()
        if op is None or op.ended_at is not None or op.expires_at <= now:
            return False
        if op.institution_id != row.institution_id:
            return False
        # OIDC Core §3.1.2.1: max_age=0 is "authenticate now".
        if row.max_age is not None and (now - op.auth_time).total_seconds() >= row.max_age:
            return False
        if row.acr_min and ASSURANCE_RANK[op.acr] < ASSURANCE_RANK[row.acr_min]:
            return False
        row.status = _STATUS_AUTHENTICATED
        row.person_id = op.person_id
        row.method = op.method
        row.acr = op.acr
        row.amr = op.amr
        row.auth_time = op.auth_time
        row.session_sid = op.sid
        self._repo.flush()
        return True

    # == the browser's login page =============================================================
    def _browser_authorization(
        self, authorization_id: str, browser_cookie: str | None
    ) -> OidcAuthorization:
        """The transaction if this browser holds it (a relayed QR code moves only the browser
        that holds the cookie), not expired."""
        plausible = len(authorization_id) <= 32 and _plausible_id(authorization_id)
        row = self._repo.authorization(authorization_id) if plausible else None
        if row is None or not _plausible_cookie(browser_cookie):
            raise LoginRequestNotFound()
        assert browser_cookie is not None
        if not hmac.compare_digest(row.browser_hash, _hash(browser_cookie)):
            raise LoginRequestNotFound()
        if (
            row.status in (_STATUS_PENDING, _STATUS_AUTHENTICATED)
            and row.expires_at <= self._clock.now()
        ):
            raise LoginRequestExpired()
        return row

    def login_page(self, authorization_id: str, browser_cookie: str | None) -> LoginPage:
        row = self._browser_authorization(authorization_id, browser_cookie)
        assert browser_cookie is not None
        handle = login_handle(browser_cookie, row.id)
        institution = self._institutions.get(row.institution_id)
        return LoginPage(
            authorization_id=row.id,
            institution_name=institution.name,
            purpose_label=self._purpose_label(row.purpose, row.locale),
            login_uri=login_uri(handle),
            check_code=check_code(handle),
            locale=row.locale,
            expires_at=row.expires_at,
            status=row.status,
            redirect_uri=row.redirect_uri,
        )

    def login_status(
        self, authorization_id: str, browser_cookie: str | None
    ) -> tuple[str, str | None]:
        """(status, where the page goes next) for the page's poll."""
        row = self._browser_authorization(authorization_id, browser_cookie)
        if row.status == _STATUS_AUTHENTICATED:
            return row.status, f"/oidc/consent/{row.id}"
        if row.status == _STATUS_DENIED:
            return row.status, self.error_redirect(row.redirect_uri, AccessDenied(), row.state)
        return row.status, None

    # == the wallet ===========================================================================
    def _by_handle(self, handle: str) -> OidcAuthorization:
        if not 16 <= len(handle) <= 64 or not handle.isascii():
            raise LoginRequestNotFound()
        row = self._repo.authorization_by_handle(_hash(handle))
        if row is None:
            raise LoginRequestNotFound()
        if row.expires_at <= self._clock.now():
            raise LoginRequestExpired()
        return row

    def wallet_view(self, handle: str, principal: CitizenPrincipal) -> LoginRequestView:
        row = self._by_handle(handle)
        if row.status != _STATUS_PENDING:
            raise LoginRequestDecided()
        institution = self._institutions.get(row.institution_id)
        self._recorder.record(
            actor=f"citizen:{principal.credential_id}",
            action="oidc.login.view",
            outcome="ok",
            subject_key=self._registry.person_key(principal.person_id),
            subject_id=principal.person_id,
            details={"authorization_id": row.id, "client_id": row.client_id},
        )
        return LoginRequestView(
            institution_name=institution.name,
            institution_code=institution.code or "",
            purpose=row.purpose,
            purpose_label=self._purpose_label(row.purpose, "zh-CN"),
            claims=tuple(row.claims.split()),
            check_code=check_code(handle),
            acr_min=row.acr_min,
            expires_at=row.expires_at,
        )

    def wallet_decide(self, handle: str, principal: CitizenPrincipal, *, approve: bool) -> str:
        """The person's answer from the wallet: approve (this login is theirs, at the wallet
        session's assurance) or deny. Returns the new status."""
        row = self._by_handle(handle)
        if row.status != _STATUS_PENDING:
            raise LoginRequestDecided()
        if (
            approve
            and row.acr_min
            and (ASSURANCE_RANK[principal.assurance] < ASSURANCE_RANK[row.acr_min])
        ):
            raise AssuranceInsufficient(
                details={"required": row.acr_min, "reached": principal.assurance}
            )
        person = AuthenticatedPerson(
            person_id=principal.person_id,
            method="wallet",
            acr=principal.assurance,
            amr=AMR_BY_ACR[principal.assurance],
        )
        return self._authenticate(
            row, person, approve=approve, actor=f"citizen:{principal.credential_id}"
        )

    def _authenticate(
        self, row: OidcAuthorization, person: AuthenticatedPerson, *, approve: bool, actor: str
    ) -> str:
        now = self._clock.now()
        to_status = _STATUS_AUTHENTICATED if approve else _STATUS_DENIED
        values: dict[str, object] = {}
        if approve:
            values = {
                "person_id": person.person_id,
                "method": person.method,
                "acr": person.acr,
                "amr": " ".join(person.amr),
                "auth_time": now,
                # The consent step gets its own window: an approval late in the login's two
                # minutes must not leave the person seconds to read the consent page.
                "expires_at": now + dt.timedelta(seconds=AUTHORIZATION_TTL_SECONDS),
            }
        if not self._repo.move(
            row.id, from_status=_STATUS_PENDING, to_status=to_status, values=values
        ):
            raise LoginRequestDecided()
        self._recorder.record(
            actor=actor,
            action="oidc.login.authenticate",
            outcome="approved" if approve else "denied",
            subject_key=self._registry.person_key(person.person_id),
            subject_id=person.person_id,
            details={
                "authorization_id": row.id,
                "client_id": row.client_id,
                "method": person.method,
                "acr": person.acr,
            },
        )
        return to_status

    # == without a wallet: document number + password + phone code ===========================
    def password_start(
        self,
        authorization_id: str,
        browser_cookie: str | None,
        *,
        document_number: str,
        password: str,
    ) -> LoginChallenge:
        row = self._browser_authorization(authorization_id, browser_cookie)
        if row.status != _STATUS_PENDING:
            raise LoginRequestDecided()
        # The password way in reaches L1 only: refuse before the password is checked and a
        # code is sent to the person's phone for a login that cannot succeed.
        self._require_password_assurance(row)
        return self._accounts().start_login(document_number, password)

    @staticmethod
    def _require_password_assurance(row: OidcAuthorization) -> None:
        if row.acr_min and ASSURANCE_RANK[row.acr_min] > ASSURANCE_RANK["L1"]:
            raise AssuranceInsufficient(details={"required": row.acr_min, "reached": "L1"})

    def password_finish(
        self, authorization_id: str, browser_cookie: str | None, *, challenge_id: str, code: str
    ) -> str:
        row = self._browser_authorization(authorization_id, browser_cookie)
        if row.status != _STATUS_PENDING:
            raise LoginRequestDecided()
        self._require_password_assurance(row)
        logged_in = self._accounts().finish_login(challenge_id, code)
        person = AuthenticatedPerson(
            person_id=logged_in.person_id, method="password", acr="L1", amr=PASSWORD_AMR
        )
        self._authenticate(row, person, approve=True, actor="citizen:password")
        return f"/oidc/consent/{row.id}"

    # == consent and completion ===============================================================
    def consent_page(
        self, authorization_id: str, browser_cookie: str | None
    ) -> ConsentPage | RedirectTo:
        """The consent page, or — nothing to ask (``openid`` only, or every claim under a
        remembered consent and none sensitive) — the completion at once."""
        row = self._authenticated(authorization_id, browser_cookie)
        claims = tuple(row.claims.split())
        remembered = self._remembered(row)
        to_ask = tuple(c for c in claims if c in SENSITIVE_CLAIMS or c not in remembered)
        prompt = frozenset((row.prompt or "").split())
        if not to_ask and "consent" not in prompt:
            return self._complete(row, consented_now=frozenset(), remember=False)
        if "none" in prompt:
            return self._deny(row, ConsentNeeded())
        institution = self._institutions.get(row.institution_id)
        return ConsentPage(
            authorization_id=row.id,
            institution_name=institution.name,
            purpose=row.purpose,
            purpose_label=self._purpose_label(row.purpose, row.locale),
            claims=claims,
            sensitive=tuple(c for c in claims if c in SENSITIVE_CLAIMS),
            locale=row.locale,
            redirect_uri=row.redirect_uri,
        )

    def consent_decide(
        self,
        authorization_id: str,
        browser_cookie: str | None,
        *,
        approve: bool,
        ticked: frozenset[str],
        remember: bool,
    ) -> RedirectTo | ConsentPage:
        """The consent form's answer. Every sensitive claim asked for must be ticked on its
        own; without the ticks the page is shown again (nothing is released)."""
        row = self._authenticated(authorization_id, browser_cookie)
        if not approve:
            return self._deny(row, AccessDenied("The person did not consent."))
        sensitive = frozenset(row.claims.split()) & SENSITIVE_CLAIMS
        if not sensitive <= ticked:
            return self.consent_page(authorization_id, browser_cookie)
        return self._complete(row, consented_now=frozenset(row.claims.split()), remember=remember)

    def _authenticated(
        self, authorization_id: str, browser_cookie: str | None
    ) -> OidcAuthorization:
        row = self._browser_authorization(authorization_id, browser_cookie)
        if row.status != _STATUS_AUTHENTICATED or row.person_id is None:
            raise LoginRequestDecided() if row.status != _STATUS_PENDING else LoginRequestNotFound()
        return row

    def _remembered(self, row: OidcAuthorization) -> dict[str, str]:
        """Claim → id of a live remembered consent covering it."""
        assert row.person_id is not None
        found: dict[str, str] = {}
        for consent in self._consents.live(row.person_id, row.institution_id, row.purpose):
            for claim in consent.claims:
                found.setdefault(claim, consent.id)
        return found

    def _deny(
        self,
        row: OidcAuthorization,
        error: OidcError,
        *,
        from_status: str = _STATUS_AUTHENTICATED,
    ) -> RedirectTo:
        if not self._repo.move(row.id, from_status=from_status, to_status=_STATUS_DENIED):
            raise LoginRequestDecided()  # decided meanwhile by a concurrent request
        return RedirectTo(self.error_redirect(row.redirect_uri, error, row.state))

    def _complete(
        self, row: OidcAuthorization, *, consented_now: frozenset[str], remember: bool
    ) -> RedirectTo:
        """The login as a verification (type ``oidc``), then the code. The transaction is
        claimed first (authenticated → completing), so two concurrent completions cannot both
        run the verification; a refusal writes nothing but its own record."""
        assert row.person_id is not None
        assert row.acr is not None
        assert row.auth_time is not None
        if not self._repo.move(
            row.id, from_status=_STATUS_AUTHENTICATED, to_status=_STATUS_COMPLETING
        ):
            raise LoginRequestDecided()
        person_id = row.person_id
        claims = tuple(row.claims.split())
        remembered = self._remembered(row)
        consent_ids = {remembered[c] for c in claims if c in remembered and c not in consented_now}
        method: LoginMethod = "wallet" if row.method == "wallet" else "password"
        outcome = self._verification().authorize_login(
            row.institution_id,
            LoginVerificationRequest(
                purpose=row.purpose,
                claims=list(claims),
                client_id=row.client_id,
                authorization_id=row.id,
                min_assurance=row.acr_min,
            ),
            person_id=person_id,
            method=method,
            assurance=row.acr,
            consented_now=consented_now,
        )
        if outcome.answer is None or outcome.answer.pseudonym is None:
            refusal = outcome.refusal or NetidError()
            error: OidcError = (
                TemporarilyUnavailable(details={"reason": refusal.code})
                if refusal.code in {"quota_exceeded"}
                else AccessDenied(details={"reason": refusal.code})
            )
            return self._deny(row, error, from_status=_STATUS_COMPLETING)
        answer = outcome.answer
        # Remembered only once the login succeeded (a refused login leaves no consent behind);
        # this request is covered by ``consented_now`` already. Identity is never remembered.
        to_remember = sorted(c for c in consented_now if c not in SENSITIVE_CLAIMS)
        person_key = self._registry.person_key(person_id)
        if remember and to_remember and person_key is not None:
            view = self._consents.grant(
                person_id=person_id,
                person_key=person_key,
                institution_id=row.institution_id,
                purpose=row.purpose,
                claims=to_remember,
                days=REMEMBER_CONSENT_DAYS,
                channel="portal",
                actor=f"citizen:{row.method}",
                allowed_claims=frozenset(to_remember),
            )
            consent_ids.add(view.id)
        now = self._clock.now()
        # Dead grants go, and their sealed claims with them (no later use can need them).
        self._repo.purge_grants(now - dt.timedelta(seconds=OIDC_TOKEN_TTL_SECONDS))
        self._repo.purge_sessions(now)
        code = _new_secret()
        grant = OidcGrant(
            id=new_row_id(),
            code_hash=_hash(code),
            client_id=row.client_id,
            institution_id=row.institution_id,
            person_id=person_id,
            redirect_uri=row.redirect_uri,
            code_challenge=row.code_challenge,
            nonce=row.nonce,
            scope=row.scope,
            purpose=row.purpose,
            sub=answer.pseudonym,
            acr=row.acr,
            amr=row.amr or "",
            auth_time=row.auth_time,
            consent_ids=" ".join(sorted(consent_ids)),
            receipt_id=answer.verification_id,
            created_at=now,
            code_expires_at=now + dt.timedelta(seconds=CODE_TTL_SECONDS),
        )
        data_key = self._keyring.active_seal_key(KeyPurpose.DATA)
        grant.claims_sealed = seal(
            data_key,
            orjson.dumps(answer.claims),
            table="oidc_grant",
            column="claims",
            row_id=grant.id,
        )
        session_cookie: str | None = None
        if row.session_sid is not None:
            grant.sid = row.session_sid  # single sign-on: the same session, not a new one
        else:
            session_cookie = _new_secret()
            op = OidcSession(
                cookie_hash=_hash(session_cookie),
                sid=new_row_id(),
                person_id=person_id,
                institution_id=row.institution_id,
                method=method,
                acr=row.acr,
                amr=row.amr or "",
                auth_time=row.auth_time,
                expires_at=now + dt.timedelta(seconds=SESSION_TTL_SECONDS),
            )
            grant.sid = op.sid
            self._repo.add(op)
        self._repo.add(grant)
        if not self._repo.move(row.id, from_status=_STATUS_COMPLETING, to_status=_STATUS_COMPLETED):
            raise LoginRequestDecided()
        query = {"code": code, "iss": self._issuer}
        if row.state is not None:
            query["state"] = row.state
        return RedirectTo(_with_query(row.redirect_uri, query), set_session=session_cookie)

    # == the token endpoint (grant_type=authorization_code) ===================================
    def exchange(
        self,
        form: Mapping[str, str],
        *,
        basic: tuple[str, str] | None,
    ) -> TokenAnswer | OAuthRequestError | InvalidClient | GrantInvalid:
        """RFC 6749 §4.1.3 with OIDC Core §3.1.3. Returns the answer or the error (after
        recording it: a replayed code revokes what the first exchange issued, and that must
        commit)."""
        client: OidcClient | None = None
        try:
            client = self._authenticate_client(form, basic)
            return self._exchange(client, form)
        except (InvalidClient, OAuthRequestError, GrantInvalid) as error:
            if client is not None:
                reason = getattr(error, "reason", error.code)
                self._recorder.record(
                    actor=f"client:{client.client_id}",
                    action="oidc.token",
                    outcome="refused",
                    details={"client_id": client.client_id, "reason": reason},
                )
            return error

    def _authenticate_client(
        self, form: Mapping[str, str], basic: tuple[str, str] | None
    ) -> OidcClient:
        """``client_secret_basic`` (RFC 6749 §2.3.1) or ``private_key_jwt`` (RFC 7523), the
        one the client registered; exactly one method per request (RFC 6749 §2.3)."""
        assertion = form.get("client_assertion")
        if basic is not None and assertion:
            raise InvalidRequest("Use one client authentication method.")
        if basic is not None:
            client_id, secret = basic
            client = self._repo.client(client_id) if _plausible_id(client_id) else None
            if client is None or client.token_endpoint_auth_method != "client_secret_basic":
                raise InvalidClient("unknown_client")
            if not self._secret_matches(client, secret):
                raise InvalidClient("bad_secret")
            if form.get("client_id") not in (None, client_id):
                raise InvalidClient("client_id_mismatch")
            return client
        request = TokenRequest(
            grant_type=form.get("grant_type"),
            client_assertion_type=form.get("client_assertion_type"),
            client_assertion=assertion or None,
            client_id=form.get("client_id"),
            scope=None,
        )
        registered = self._tokens.identify_assertion_client(request)
        client = self._repo.client(registered.client_id)
        if client is None or client.token_endpoint_auth_method != "private_key_jwt":
            raise InvalidClient("method_not_registered")
        self._tokens.verify_assertion(registered, request)
        return client

    def _secret_matches(self, client: OidcClient, secret: str) -> bool:
        if client.secret_mac is None or client.secret_key_id is None:
            return False
        try:
            key = self._keyring.get(client.secret_key_id)
        except KeyError:
            return False
        expected = hmac_sm3(
            key.secret, b"oidc-client-secret\x00" + secret.encode("utf-8", "replace")
        )
        return hmac.compare_digest(expected, client.secret_mac)

    def _exchange(self, client: OidcClient, form: Mapping[str, str]) -> TokenAnswer:
        code = form.get("code") or ""
        if not code or len(code) > 128:
            raise InvalidRequest("code is required.")
        # Our codes are base64url: anything else (a non-ASCII value) names no grant.
        grant = self._repo.grant_by_code(_hash(code)) if code.isascii() else None
        now = self._clock.now()
        if grant is None or grant.client_id != client.client_id:
            raise GrantInvalid("unknown_code")
        if grant.used_at is not None:
            # OIDC Core §4.1.2 / RFC 6749 §4.1.2: a code used twice revokes what it issued.
            self._repo.revoke_grant(grant.id, now)
            raise GrantInvalid("code_reused")
        if grant.code_expires_at <= now:
            raise GrantInvalid("code_expired")
        if form.get("redirect_uri") != grant.redirect_uri:
            raise GrantInvalid(
                "redirect_uri_mismatch",
                "The redirect_uri differs from the authorization request's.",
            )
        verifier = form.get("code_verifier")
        if not verifier or not pkce.verify_s256(verifier, grant.code_challenge):
            raise GrantInvalid("pkce_failed", "The code_verifier does not match (PKCE S256).")
        if not self._institutions_active(grant.institution_id):
            raise InvalidClient("inactive")
        if not self._consents_live(grant, now):
            # Revocation takes effect at the next token request (issue 6 §3).
            raise GrantInvalid("consent_withdrawn", "The person withdrew their consent.")
        expires_at = now + dt.timedelta(seconds=OIDC_TOKEN_TTL_SECONDS)
        if not self._repo.spend_code(grant.id, now=now, expires_at=expires_at):
            self._repo.revoke_grant(grant.id, now)
            raise GrantInvalid("code_reused")
        ts = int(now.timestamp())
        mac = self._keyring.active(KeyPurpose.TOKEN_MAC)
        access_token = mint_oidc_token(
            key_id=mac.key_id,
            secret=mac.secret,
            grant_id=grant.id,
            client_id=client.client_id,
            audience=self._userinfo_audience,
            issued_at=ts,
            ttl=OIDC_TOKEN_TTL_SECONDS,
            jti=secrets.token_urlsafe(16),
        )
        id_claims: dict[str, Any] = {
            "iss": self._issuer,
            "sub": grant.sub,
            "aud": client.client_id,
            "azp": client.client_id,
            "exp": ts + ID_TOKEN_TTL_SECONDS,
            "iat": ts,
            "auth_time": int(grant.auth_time.timestamp()),
            "acr": grant.acr,
            "amr": grant.amr.split(),
            "at_hash": oidc_jwt.left_hash(access_token, client.id_token_alg),
        }
        if grant.nonce is not None:
            id_claims["nonce"] = grant.nonce
        if grant.sid is not None:
            id_claims["sid"] = grant.sid
        id_token = self._sign(id_claims, client.id_token_alg)
        self._recorder.record(
            actor=f"client:{client.client_id}",
            action="oidc.token",
            outcome="issued",
            details={
                "client_id": client.client_id,
                "grant_id": grant.id,
                "receipt_id": grant.receipt_id,
            },
        )
        return TokenAnswer(
            access_token=access_token,
            id_token=id_token,
            expires_in=OIDC_TOKEN_TTL_SECONDS,
            scope=grant.scope,
        )

    def _consents_live(self, grant: OidcGrant, now: dt.datetime) -> bool:
        """Whether every remembered consent the grant relies on is still in force."""
        for consent_id in grant.consent_ids.split():
            consent = self._consents.get(consent_id)
            if consent is None or not consent.is_live(now):
                return False
        return True

    def _institutions_active(self, institution_id: str) -> bool:
        try:
            self._institutions.require_active(institution_id)
        except NetidError:
            return False
        return True

    def _sign(self, claims: Mapping[str, Any], alg: str) -> str:
        purpose = KeyPurpose.RS256_SIGNING if alg == "RS256" else KeyPurpose.ES256_SIGNING
        key = self._keyring.active(purpose)
        return oidc_jwt.encode_jws(claims, key=jose_private_key(key), kid=key.key_id)

    # == userinfo =============================================================================
    def userinfo(self, token: str, *, mac_keys: Mapping[str, bytes]) -> dict[str, Any]:
        """OIDC Core §5.3: ``sub`` and the released claims. The grant is read on every call:
        revoked (a replayed code), expired, or the institution no longer active → refused."""
        now = self._clock.now()
        try:
            claims = verify_oidc_token(token, mac_keys, now, self._userinfo_audience)
        except NetidError:
            raise UserinfoTokenInvalid() from None
        grant = self._repo.grant(claims.grant_id)
        if (
            grant is None
            or grant.client_id != claims.client_id
            or grant.revoked_at is not None
            or grant.expires_at is None
            or grant.expires_at <= now
            or not self._institutions_active(grant.institution_id)
            # A withdrawn consent stops the claims at once, not when the token expires.
            or not self._consents_live(grant, now)
        ):
            raise UserinfoTokenInvalid()
        released = orjson.loads(
            open_sealed(
                self._keyring.seal_key,
                grant.claims_sealed,
                table="oidc_grant",
                column="claims",
                row_id=grant.id,
            )
        )
        self._recorder.record(
            actor=f"client:{grant.client_id}",
            action="oidc.userinfo",
            outcome="ok",
            purpose=grant.purpose,
            subject_key=self._registry.person_key(grant.person_id),
            subject_id=grant.person_id,
            details={"grant_id": grant.id, "claims_disclosed": sorted(released)},
        )
        return {"sub": grant.sub, **released}

    # == RP-initiated logout ==================================================================
    def logout(self, params: Mapping[str, str], *, session_cookie: str | None) -> LoggedOut:
        """RP-Initiated Logout 1.0 §2–§3. The OP session ends; the browser goes back only to a
        ``post_logout_redirect_uri`` the client registered (exact match), identified by
        ``client_id`` or the ``id_token_hint``'s audience."""
        client_id = params.get("client_id")
        hint = params.get("id_token_hint")
        if hint:
            try:
                claims = oidc_jwt.decode_platform_jws(
                    hint, self._verification_keys(), algs=frozenset({"RS256", "ES256"})
                )
            except ValueError:
                claims = None
            aud = claims.get("aud") if claims else None
            if isinstance(aud, str):
                # Contradictory client_id and hint: trust neither for the redirect.
                client_id = None if client_id is not None and client_id != aud else aud
        if _plausible_cookie(session_cookie):
            assert session_cookie is not None
            self._repo.end_session(_hash(session_cookie), self._clock.now())
        redirect: str | None = None
        target = params.get("post_logout_redirect_uri")
        client = self._repo.client(client_id) if client_id and _plausible_id(client_id) else None
        if target and client is not None and target in client.post_logout_redirect_uris:
            state = params.get("state")
            redirect = _with_query(target, {"state": state}) if state else target
        self._recorder.record(
            actor=f"client:{client_id}" if client is not None else "browser",
            action="oidc.logout",
            outcome="ok",
            details={
                "client_id": client.client_id if client else None,
                "redirected": redirect is not None,
            },
        )
        return LoggedOut(redirect=redirect)

    def _verification_keys(self) -> dict[str, jose_keys.JosePublicKey]:
        """Every non-retired ID-token key (RS256 and ES256), by kid."""
        keys: dict[str, jose_keys.JosePublicKey] = {}
        for purpose in (KeyPurpose.RS256_SIGNING, KeyPurpose.ES256_SIGNING):
            for key in self._keyring.all_of(purpose):
                public = public_jose_key(key)
                if public is not None:
                    keys[key.key_id] = public
        return keys

    def jwks(self) -> dict[str, Any]:
        """The ID-token verification keys (every non-retired RS256 and ES256 key)."""
        return {
            "keys": [
                jose_keys.public_jwk(key, kid) for kid, key in self._verification_keys().items()
            ]
        }

    # == helpers ==============================================================================
    def _purpose_label(self, purpose: str, locale: str) -> str:
        info = self._catalogue.purposes.get(purpose)
        if info is None:
            return purpose
        return info.en if locale == "en" else info.zh


_PKCE_MESSAGES = {
    "missing": "PKCE is required: send code_challenge with code_challenge_method=S256.",
    "plain_not_allowed": "PKCE method plain is not allowed; use S256.",
    "unsupported_method": "Only the PKCE method S256 is supported.",
    "malformed": "The code_challenge is malformed (RFC 7636 §4.2).",
}


def _with_query(uri: str, query: Mapping[str, str]) -> str:
    """The URI with ``query`` added to its own query (RFC 6749 §3.1.2: keep the
    registered URI's query component)."""
    separator = "&" if urlsplit(uri).query else "?"
    return uri + separator + urlencode(query)


def _plausible_id(value: str) -> bool:
    """An id we could have issued (client, transaction): short printable ASCII, so no NUL
    reaches the database (PostgreSQL text refuses it: a 500)."""
    return 0 < len(value) <= 64 and value.isascii() and value.isprintable()


def _echoable(state: str | None) -> str | None:
    """The state to send back with an error: not one too long to be ours to carry (or that a
    request could not have stored)."""
    if state is None or len(state) > MAX_STATE or "\x00" in state:
        return None
    return state


def _plausible_cookie(value: str | None) -> bool:
    return value is not None and 32 <= len(value) <= 64 and value.isascii()


def _max_age(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    if not _DIGITS.fullmatch(value):  # ASCII digits only: "²".isdigit() is True
        raise AuthorizationRequestInvalid("max_age must be a non-negative integer.")
    return int(value)


def _acr_min(value: str | None) -> str | None:
    """The lowest of the known levels asked for (OIDC Core §3.1.2.1: voluntary claims)."""
    asked = [v for v in (value or "").split() if v in ACR_VALUES]
    return min(asked, key=lambda v: ASSURANCE_RANK[v]) if asked else None


def _locale(ui_locales: str | None) -> str:
    for tag in (ui_locales or "").split():
        lowered = tag.lower()
        if lowered.startswith("en"):
            return "en"
        if lowered.startswith("zh"):
            return "zh-CN"
    return LOCALES[0]
