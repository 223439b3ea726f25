"""The OpenID Provider's HTTP surface (docs/decisions/0006): discovery, JWKS, the
authorization endpoint, the login and consent pages, userinfo, logout, the wallet's view of a
login, and the institution's client registration. The token endpoint is
:mod:`netid.web.routes_oauth` (one ``/oauth2/token`` for every grant).

Browser steps are bound to the browser by the ``netid_b`` cookie (HttpOnly, SameSite=Lax:
a cross-site form post does not carry it, so it also stops cross-site request forgery of
the consent and password forms). Errors about the client or the redirect URI are a page, never
a redirect (RFC 6749 §4.1.2.1); page errors are pages; ``/v1/*`` errors the JSON of the API.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import parse_qsl, urlsplit

import segno
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from netid.accounts.errors import LoginFailed, Refusal
from netid.container import Container
from netid.core.errors import NetidError, NotFound, Unauthenticated
from netid.oauth.errors import InvalidToken
from netid.oidc.schemas import (
    ACR_VALUES,
    ID_TOKEN_ALGS,
    SCOPE_CLAIMS,
    SESSION_TTL_SECONDS,
    ClientRegistrationIn,
    ConsentPage,
    ErrorPage,
    LoginPage,
    RedirectTo,
    Started,
)
from netid.oidc.service import OidcService
from netid.policy.schemas import AGE_MARKERS
from netid.web.auth import (
    AccessClaims,
    CitizenPrincipal,
    bearer_token,
    citizen_session,
    institution_token,
)
from netid.web.errors import ERROR_RESPONSES, status_for
from netid.web.pages import Lang, match_language, negotiate_language, render
from netid.web.responses import JSONBody

T = TypeVar("T")
BROWSER_COOKIE = "netid_b"
SESSION_COOKIE = "netid_op"
MAX_FORM_BYTES = 64 * 1024
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

Institution = Annotated[AccessClaims, Depends(institution_token)]
Citizen = Annotated[CitizenPrincipal, Depends(citizen_session)]


class WalletDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "deny"]


def _form_pairs(body: bytes, content_type: str | None) -> list[tuple[str, str]] | None:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded" or len(body) > MAX_FORM_BYTES:
        return None
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=64)
    except (UnicodeError, ValueError):
        return None


def _first(pairs: list[tuple[str, str]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in pairs:
        found.setdefault(name, value)
    return found


def _origin(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


QR_MASK = 1


def router(container: Container) -> APIRouter:
    api = APIRouter(tags=["oidc"])
    issuer = container.oidc_issuer()
    secure = issuer.startswith("https://")

    def set_cookie(response: Response, name: str, value: str, max_age: int | None) -> None:
        response.set_cookie(
            name, value, max_age=max_age, path="/", secure=secure, httponly=True, samesite="lax"
        )

    def page_error(request: Request, lang: Lang, error: NetidError) -> Response:
        return render(
            "error.html",
            request=request,
            lang=lang,
            status_code=status_for(error),
            error=error.code,
            description=error.message,
        )

    def redirect(target: RedirectTo) -> Response:
        response = RedirectResponse(target.url, status_code=303, headers=_NO_STORE)
        if target.set_session:
            set_cookie(response, SESSION_COOKIE, target.set_session, SESSION_TTL_SECONDS)
        if target.end_session:
            response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    def page_lang(request: Request, locale: str | None = None) -> Lang:
        explicit = request.query_params.get("lang")
        if not explicit and locale:
            found = match_language(locale)
            if found is not None:
                return found
        return negotiate_language(request)

    # -- discovery ---------------------------------------------------------------------------
    @api.get("/.well-known/openid-configuration")
    def discovery() -> JSONBody:
        """OpenID Provider Metadata (OIDC Discovery 1.0 §3)."""
        return JSONBody(
            {
                "issuer": issuer,
                "authorization_endpoint": f"{issuer}/oidc/authorize",
                "token_endpoint": container.token_endpoint_url(),
                "userinfo_endpoint": f"{issuer}/oidc/userinfo",
                "jwks_uri": f"{issuer}/oidc/jwks",
                "end_session_endpoint": f"{issuer}/oidc/logout",
                "scopes_supported": list(SCOPE_CLAIMS),
                "response_types_supported": ["code"],
                "response_modes_supported": ["query"],
                "grant_types_supported": ["authorization_code", "client_credentials"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": list(ID_TOKEN_ALGS),
                "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic"],
                "token_endpoint_auth_signing_alg_values_supported": ["ES256", "EdDSA", "Ed25519"],
                "request_object_signing_alg_values_supported": ["ES256", "EdDSA", "Ed25519"],
                "code_challenge_methods_supported": ["S256"],
                "acr_values_supported": list(ACR_VALUES),
                "claims_supported": [
                    "sub",
                    "iss",
                    "aud",
                    "exp",
                    "iat",
                    "auth_time",
                    "nonce",
                    "acr",
                    "amr",
                    "at_hash",
                    "sid",
                    "name",
                    "document_type",
                    "document_number",
                    *AGE_MARKERS,
                ],
                "ui_locales_supported": ["zh-CN", "en"],
                "claims_parameter_supported": False,
                "request_parameter_supported": True,
                "request_uri_parameter_supported": False,
                "require_pushed_authorization_requests": False,
                "authorization_response_iss_parameter_supported": True,
                "frontchannel_logout_supported": False,
                "backchannel_logout_supported": False,
            },
            headers={"Cache-Control": "public, max-age=300"},
        )

    @api.get("/oidc/jwks")
    def jwks() -> JSONBody:
        """The ID-token signing keys (RS256 and ES256, every non-retired one)."""
        with container.transaction(write=False) as session:
            document = container.oidc(session).jwks()
        return JSONBody(document, headers={"Cache-Control": "public, max-age=300"})

    # -- the authorization endpoint ----------------------------------------------------------
    def authorize_with(request: Request, pairs: list[tuple[str, str]]) -> Response:
        params = _first(pairs)
        lang = negotiate_language(request, params.get("ui_locales"))
        names = [name for name, _ in pairs]
        if names.count("client_id") > 1 or names.count("redirect_uri") > 1:
            # RFC 6749 §3.1: a parameter sent twice; about the client: never redirected.
            return render(
                "error.html",
                request=request,
                lang=lang,
                status_code=400,
                error="invalid_request",
                description="A parameter is repeated.",
            )
        repeated = frozenset(name for name in names if names.count(name) > 1)
        result = container.committer.call(
            lambda session: container.oidc(session).authorize(
                params,
                browser_cookie=request.cookies.get(BROWSER_COOKIE),
                session_cookie=request.cookies.get(SESSION_COOKIE),
                repeated=repeated,
            )
        )
        if isinstance(result, ErrorPage):
            return render(
                "error.html",
                request=request,
                lang=lang,
                status_code=400,
                error=result.error,
                description=result.description,
            )
        if isinstance(result, RedirectTo):
            return redirect(result)
        assert isinstance(result, Started)
        response = RedirectResponse(result.next_url, status_code=303, headers=_NO_STORE)
        set_cookie(response, BROWSER_COOKIE, result.browser_cookie, None)
        return response

    @api.get("/oidc/authorize")
    def authorize_get(request: Request) -> Response:
        """The authorization endpoint (OIDC Core §3.1.2.1; PKCE S256 required)."""
        return authorize_with(request, list(request.query_params.multi_items()))

    @api.post("/oidc/authorize")
    async def authorize_post(request: Request) -> Response:
        pairs = _form_pairs(await request.body(), request.headers.get("content-type"))
        if pairs is None:
            lang = negotiate_language(request)
            return render(
                "error.html",
                request=request,
                lang=lang,
                status_code=400,
                error="invalid_request",
                description="The form is malformed.",
            )
        return await run_in_threadpool(authorize_with, request, pairs)

    # -- the login page ----------------------------------------------------------------------
    @api.get("/oidc/login/{authorization_id}")
    def login_page(authorization_id: str, request: Request) -> Response:
        """The QR code for the wallet, the same-device link and the password way in."""
        cookie = request.cookies.get(BROWSER_COOKIE)
        try:
            with container.transaction(write=False) as session:
                page = container.oidc(session).login_page(authorization_id, cookie)
        except NetidError as error:
            return page_error(request, negotiate_language(request), error)
        # A fixed data mask: choosing the best of the eight (ISO/IEC 18004 §7.8.3) costs
        # ≈ 4 ms of pure Python per page, a quarter of a login; every mask gives a valid
        # symbol, and a short URI on a screen scans with any.
        qr = segno.make(page.login_uri, error="m", mask=QR_MASK)
        svg = qr.svg_data_uri(scale=6, border=2)
        return render(
            "oidc_login.html",
            request=request,
            lang=page_lang(request, page.locale),
            page=page,
            qr_data_uri=svg,
        )

    @api.get("/oidc/login/{authorization_id}/status")
    def login_status(authorization_id: str, request: Request) -> JSONBody:
        """Polled by the login page: ``pending`` until the wallet answers, then ``next``."""
        with container.transaction(write=False) as session:
            status, next_url = container.oidc(session).login_status(
                authorization_id, request.cookies.get(BROWSER_COOKIE)
            )
        return JSONBody({"status": status, "next": next_url}, headers=_NO_STORE)

    # -- without a wallet --------------------------------------------------------------------
    def password_render(name: str, *, page: LoginPage, **context: Any) -> Response:
        # The form's 303s may end at the relying party (CSP3 form-action covers them).
        return render(name, form_action=[_origin(page.redirect_uri)], page=page, **context)

    @api.get("/oidc/login/{authorization_id}/password")
    def password_page(authorization_id: str, request: Request) -> Response:
        cookie = request.cookies.get(BROWSER_COOKIE)
        try:
            with container.transaction(write=False) as session:
                page = container.oidc(session).login_page(authorization_id, cookie)
        except NetidError as error:
            return page_error(request, negotiate_language(request), error)
        return password_render(
            "oidc_password.html",
            request=request,
            lang=page_lang(request, page.locale),
            page=page,
            message=None,
            document_number="",
        )

    def password_step(
        request: Request, authorization_id: str, step: Callable[[OidcService], T]
    ) -> tuple[LoginPage, Lang, T | NetidError] | Response:
        """One step of the password login in its own unit of work. A refusal the accounts
        recorded (``Refusal``: a failed password, a wrong code) commits before it is answered;
        anything else refused is an error page."""
        lang = negotiate_language(request)
        try:
            with container.transaction() as session:
                oidc = container.oidc(session)
                page = oidc.login_page(authorization_id, request.cookies.get(BROWSER_COOKIE))
                lang = page_lang(request, page.locale)
                try:
                    return page, lang, step(oidc)
                except Refusal as refused:  # recorded: commit, then answer
                    return page, lang, refused.error
                except LoginFailed as failed:  # a number of no known format: nothing written
                    return page, lang, failed
        except NetidError as error:
            return page_error(request, lang, error)

    @api.post("/oidc/login/{authorization_id}/password")
    async def password_submit(authorization_id: str, request: Request) -> Response:
        form = _first(_form_pairs(await request.body(), request.headers.get("content-type")) or [])
        cookie = request.cookies.get(BROWSER_COOKIE)

        def work() -> Response:
            done = password_step(
                request,
                authorization_id,
                lambda oidc: oidc.password_start(
                    authorization_id,
                    cookie,
                    document_number=form.get("document_number", "")[:64],
                    password=form.get("password", "")[:256],
                ),
            )
            if isinstance(done, Response):
                return done
            page, lang, challenge = done
            if isinstance(challenge, NetidError):
                return password_render(
                    "oidc_password.html",
                    request=request,
                    lang=lang,
                    status_code=401,
                    page=page,
                    message=challenge.message,
                    document_number="",
                )
            return password_render(
                "oidc_password_code.html",
                request=request,
                lang=lang,
                page=page,
                challenge_id=challenge.challenge_id,
                phone_hint=challenge.phone_hint,
                message=None,
            )

        return await run_in_threadpool(work)

    @api.post("/oidc/login/{authorization_id}/password/code")
    async def password_code(authorization_id: str, request: Request) -> Response:
        form = _first(_form_pairs(await request.body(), request.headers.get("content-type")) or [])
        cookie = request.cookies.get(BROWSER_COOKIE)
        challenge_id = form.get("challenge_id", "")[:64]

        def work() -> Response:
            done = password_step(
                request,
                authorization_id,
                lambda oidc: oidc.password_finish(
                    authorization_id,
                    cookie,
                    challenge_id=challenge_id,
                    code=form.get("code", "")[:16],
                ),
            )
            if isinstance(done, Response):
                return done
            page, lang, next_url = done
            if isinstance(next_url, NetidError):
                return password_render(
                    "oidc_password_code.html",
                    request=request,
                    lang=lang,
                    status_code=401,
                    page=page,
                    challenge_id=challenge_id,
                    phone_hint=None,
                    message=next_url.message,
                )
            return RedirectResponse(next_url, status_code=303, headers=_NO_STORE)

        return await run_in_threadpool(work)

    # -- consent -----------------------------------------------------------------------------
    def consent_answer(
        request: Request, result: ConsentPage | RedirectTo, *, missing: bool
    ) -> Response:
        if isinstance(result, RedirectTo):
            return redirect(result)
        return render(
            "oidc_consent.html",
            # The consent form's 303 goes to the relying party: CSP3 form-action covers it.
            form_action=[_origin(result.redirect_uri)],
            request=request,
            lang=page_lang(request, result.locale),
            status_code=400 if missing else 200,
            page=result,
            missing=missing,
            age_markers=AGE_MARKERS,
        )

    @api.get("/oidc/consent/{authorization_id}")
    def consent_page(authorization_id: str, request: Request) -> Response:
        """Who asks, why, and each claim; plaintext identity claims each need their own tick."""
        cookie = request.cookies.get(BROWSER_COOKIE)
        try:
            # Grouped with other requests' writes (a pre-approved consent issues the code
            # here): one fsync for many logins instead of one each (docs/decisions/0007).
            result = container.committer.call(
                lambda session: container.oidc(session).consent_page(authorization_id, cookie)
            )
        except NetidError as error:
            return page_error(request, negotiate_language(request), error)
        return consent_answer(request, result, missing=False)

    @api.post("/oidc/consent/{authorization_id}")
    async def consent_submit(authorization_id: str, request: Request) -> Response:
        pairs = _form_pairs(await request.body(), request.headers.get("content-type")) or []
        decision = _first(pairs).get("decision")
        ticked = frozenset(value for name, value in pairs if name == "claim")
        remember = _first(pairs).get("remember") == "yes"
        cookie = request.cookies.get(BROWSER_COOKIE)

        def work() -> Response:
            try:
                result = container.committer.call(
                    lambda session: container.oidc(session).consent_decide(
                        authorization_id,
                        cookie,
                        approve=decision == "approve",
                        ticked=ticked,
                        remember=remember,
                    )
                )
            except NetidError as error:
                return page_error(request, negotiate_language(request), error)
            return consent_answer(request, result, missing=isinstance(result, ConsentPage))

        return await run_in_threadpool(work)

    # -- userinfo ----------------------------------------------------------------------------
    def userinfo_with(token: str | None) -> JSONBody:
        unauthorised = JSONBody(
            {"error": "invalid_token", "error_description": InvalidToken.default_message},
            status_code=401,
            headers={**_NO_STORE, "WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
        if not token:
            return unauthorised
        try:
            claims = container.committer.call(
                lambda session: container.oidc(session).userinfo(
                    token, mac_keys=container.token_mac_keys()
                )
            )
        except Unauthenticated:
            return unauthorised
        return JSONBody(claims, headers=_NO_STORE)

    @api.get("/oidc/userinfo")
    def userinfo_get(request: Request) -> JSONBody:
        """OIDC Core §5.3: ``sub`` and the claims released at the login (Bearer token)."""
        try:
            token: str | None = bearer_token(request)
        except InvalidToken:
            token = None
        return userinfo_with(token)

    @api.post("/oidc/userinfo")
    async def userinfo_post(request: Request) -> JSONBody:
        try:
            token: str | None = bearer_token(request)
        except InvalidToken:
            # RFC 6750 §2.2: the form-encoded body parameter.
            pairs = _form_pairs(await request.body(), request.headers.get("content-type")) or []
            token = _first(pairs).get("access_token")
        return await run_in_threadpool(userinfo_with, token)

    # -- RP-initiated logout -----------------------------------------------------------------
    def logout_with(request: Request, params: dict[str, str]) -> Response:
        result = container.committer.call(
            lambda session: container.oidc(session).logout(
                params, session_cookie=request.cookies.get(SESSION_COOKIE)
            )
        )
        if result.redirect is not None:
            response: Response = RedirectResponse(
                result.redirect, status_code=303, headers=_NO_STORE
            )
        else:
            response = render(
                "oidc_logged_out.html",
                request=request,
                lang=negotiate_language(request, params.get("ui_locales")),
            )
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @api.get("/oidc/logout")
    def logout_get(request: Request) -> Response:
        """RP-Initiated Logout 1.0: ends the provider session; back to a registered
        ``post_logout_redirect_uri`` only."""
        return logout_with(request, _first(list(request.query_params.multi_items())))

    @api.post("/oidc/logout")
    async def logout_post(request: Request) -> Response:
        pairs = _form_pairs(await request.body(), request.headers.get("content-type")) or []
        return await run_in_threadpool(logout_with, request, _first(pairs))

    # -- the wallet --------------------------------------------------------------------------
    @api.get("/v1/wallet/logins/{handle}", tags=["wallet"], responses=ERROR_RESPONSES)
    def wallet_login(handle: str, principal: Citizen) -> JSONBody:
        """A scanned login request: who asks, why, which claims, the check code, expiry."""
        view = container.committer.call(
            lambda session: container.oidc(session).wallet_view(handle, principal)
        )
        return JSONBody(view.to_json(), headers=_NO_STORE)

    @api.post("/v1/wallet/logins/{handle}", tags=["wallet"], responses=ERROR_RESPONSES)
    def wallet_login_decide(handle: str, body: WalletDecision, principal: Citizen) -> JSONBody:
        """Approve (the browser that started the login moves on by itself) or deny."""
        status = container.committer.call(
            lambda session: container.oidc(session).wallet_decide(
                handle, principal, approve=body.decision == "approve"
            )
        )
        return JSONBody({"status": status}, headers=_NO_STORE)

    # -- client registration (the institution itself) ---------------------------------------
    @api.put("/v1/oidc/client", tags=["oidc"], responses=ERROR_RESPONSES)
    def register_client(body: ClientRegistrationIn, caller: Institution) -> JSONBody:
        """Register (or replace) this institution's OpenID Connect client: redirect URIs
        (exact), logout URIs, sector identifier URI, authentication method, ID-token alg.
        A `client_secret_basic` secret is in this answer only."""
        with container.transaction() as session:
            view = container.oidc(session).register_client(
                caller.institution_id, body, actor=f"institution:{caller.institution_code}"
            )
        return JSONBody(view.to_json(), headers=_NO_STORE)

    @api.get("/v1/oidc/client", tags=["oidc"], responses=ERROR_RESPONSES)
    def get_client(caller: Institution) -> JSONBody:
        with container.transaction(write=False) as session:
            view = container.oidc(session).client(caller.institution_id)
        if view is None:
            raise NotFound("No OpenID Connect client is registered.")
        return JSONBody(view.to_json(), headers=_NO_STORE)

    return api
