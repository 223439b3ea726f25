"""A relying party written as an internet platform would write one (issue 6 §4): a small web
app whose OpenID Connect client is Authlib, unmodified.

The app is the standard library's threading HTTP server in a thread, bound to one loopback
address (its own host, so its own pairwise sector: 127.0.0.2 and 127.0.0.3 are different hosts
to the OP and to the browser, and a server bound to one is not reachable at the other). Authlib
is used through its own framework-neutral classes, composed exactly as its Flask client is
(``FlaskOAuth2App = FlaskAppMixin + OAuth2Mixin + OpenIDMixin + BaseApp``) less the Flask
session glue, with its requests-based ``OAuth2Session``:

* discovery: ``load_server_metadata`` reads ``/.well-known/openid-configuration``;
* ``create_authorization_url`` with PKCE S256 (RFC 7636 §4.2: Authlib makes the verifier),
  ``state`` (RFC 6749 §10.12) and ``nonce`` (OIDC Core §3.1.2.1), kept here in memory per state;
* ``/callback`` checks ``state``, the RFC 9207 ``iss`` parameter, exchanges the code at the
  token endpoint (``fetch_access_token``) with ``client_secret_basic`` (RFC 6749 §2.3.1) or
  ``private_key_jwt`` (RFC 7523, Authlib's ``PrivateKeyJWT``), validates the ID token
  (``parse_id_token``: signature from ``jwks_uri``, RS256/ES256 as discovery lists them; ``iss``,
  ``aud``, ``exp``, ``iat``, ``nonce``, ``azp``, ``at_hash`` per OIDC Core §3.1.3.7 and §3.1.3.8)
  and calls userinfo (whose ``sub`` MUST equal the ID token's, OIDC Core §5.3.2);
* the outcome is shown as a page (``#rp-result`` / ``#rp-error``) and kept in memory for the
  test (:attr:`RelyingParty.results`, :attr:`RelyingParty.errors`).

Two choices made through Authlib's documented options, not changes to it:

* ``parse_id_token`` checks ``aud`` only when told to: ``claims_options`` name ``aud`` = our
  client id and make ``at_hash`` essential (the OP always issues an access token with the ID
  token, and the contract says ``at_hash`` is there).
* Authlib's ``PrivateKeyJWT`` signs assertions valid for 3600 s; netid's token endpoint accepts
  at most 300 s (``netid.oauth.assertion``). :class:`FiveMinutePrivateKeyJWT` is Authlib's own
  class with its own signing function given ``expires_in=300`` (``assertion_lifetime=None``
  uses the stock class, to show the difference).
"""

from __future__ import annotations

import html
import json
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from authlib.integrations.base_client import (
    BaseApp,
    FrameworkIntegration,
    OAuth2Mixin,
    OAuthError,
    OpenIDMixin,
)
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oauth2.rfc7523.assertion import private_key_jwt_sign
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey, RSAKey, import_key

AuthMethod = Literal["private_key_jwt", "client_secret_basic"]
HTTP_TIMEOUT = 30


class AuthlibOIDCApp(OAuth2Mixin, OpenIDMixin, BaseApp):  # type: ignore[misc]  # untyped library
    """Authlib's sync OAuth 2 / OpenID client, as its Flask integration composes it."""

    client_cls = OAuth2Session


class FiveMinutePrivateKeyJWT(PrivateKeyJWT):  # type: ignore[misc]  # untyped library
    """Authlib's ``private_key_jwt`` with a 300 s assertion (its default is 3600 s)."""

    def __init__(self, token_endpoint: str, *, alg: str, kid: str | None, lifetime: int) -> None:
        super().__init__(token_endpoint, headers={"kid": kid} if kid else None, alg=alg)
        self.lifetime = lifetime

    def sign(self, auth: Any, token_endpoint: str) -> Any:
        return private_key_jwt_sign(
            auth.client_secret,
            client_id=auth.client_id,
            token_endpoint=token_endpoint,
            header=dict(self.headers or {}),
            alg=self.alg,
            expires_in=self.lifetime,
        )


def private_key(jwk: Mapping[str, Any]) -> ECKey | OKPKey | RSAKey:
    """A joserfc key object for a private JWK (Authlib signs with it unchanged)."""
    key = import_key(dict(jwk))
    assert isinstance(key, ECKey | OKPKey | RSAKey), jwk.get("kty")
    return key


def assertion_alg(jwk: Mapping[str, Any]) -> str:
    """The JWS ``alg`` for a client key: ES256 for P-256, EdDSA for Ed25519 (RFC 8037)."""
    if jwk.get("kty") == "EC":
        return "ES256"
    if jwk.get("kty") == "OKP":
        return "EdDSA"
    return "RS256"


def token_auth_method(
    token_endpoint: str, jwk: Mapping[str, Any], *, lifetime: int | None
) -> PrivateKeyJWT:
    kid = jwk.get("kid")
    if lifetime is None:
        return PrivateKeyJWT(
            token_endpoint, headers={"kid": kid} if kid else None, alg=assertion_alg(jwk)
        )
    return FiveMinutePrivateKeyJWT(
        token_endpoint, alg=assertion_alg(jwk), kid=kid, lifetime=lifetime
    )


def client_credentials_token(
    token_endpoint: str,
    client_id: str,
    private_jwk: Mapping[str, Any],
    *,
    assertion_lifetime: int | None = 300,
) -> dict[str, Any]:
    """An institution's back-end token (``grant_type=client_credentials``) fetched by Authlib
    with ``private_key_jwt``: what registers the OIDC client over ``PUT /v1/oidc/client``."""
    with OAuth2Session(
        client_id,
        private_key(private_jwk),
        token_endpoint_auth_method="private_key_jwt",
        default_timeout=HTTP_TIMEOUT,
    ) as session:
        session.register_client_auth_method(
            token_auth_method(token_endpoint, private_jwk, lifetime=assertion_lifetime)
        )
        token: dict[str, Any] = session.fetch_token(token_endpoint, grant_type="client_credentials")
        return token


# -- registration ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClientRegistration:
    """What the RP knows about itself at the OP (docs/decisions/0006 "Clients")."""

    client_id: str
    token_endpoint_auth_method: AuthMethod
    redirect_uris: tuple[str, ...]
    private_jwk: Mapping[str, Any] | None = None  # private_key_jwt: the institution's key
    client_secret: str | None = None  # client_secret_basic: shown once at registration
    id_token_signed_response_alg: str = "RS256"
    answer: Mapping[str, Any] = field(default_factory=dict)  # the registration answer


def register_oidc_client(
    issuer: str,
    *,
    client_id: str,
    private_jwk: Mapping[str, Any],
    redirect_uris: list[str],
    token_endpoint_auth_method: AuthMethod = "private_key_jwt",
    id_token_signed_response_alg: str = "RS256",
    default_purpose: str | None = None,
    post_logout_redirect_uris: list[str] | None = None,
) -> ClientRegistration:
    """The institution registers its OIDC client itself: a client-credentials token, then
    ``PUT /v1/oidc/client`` (RFC 7591 member names). The lead aligns the body if it differs."""
    token = client_credentials_token(f"{issuer}/oauth2/token", client_id, private_jwk)
    body: dict[str, Any] = {
        "redirect_uris": redirect_uris,
        "post_logout_redirect_uris": post_logout_redirect_uris or [],
        "token_endpoint_auth_method": token_endpoint_auth_method,
        "id_token_signed_response_alg": id_token_signed_response_alg,
    }
    if default_purpose is not None:
        body["default_purpose"] = default_purpose
    answer = requests.put(
        f"{issuer}/v1/oidc/client",
        json=body,
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=HTTP_TIMEOUT,
    )
    assert answer.status_code in (200, 201), (answer.status_code, answer.text)
    registered: dict[str, Any] = answer.json()
    return ClientRegistration(
        client_id=client_id,
        token_endpoint_auth_method=token_endpoint_auth_method,
        redirect_uris=tuple(redirect_uris),
        private_jwk=private_jwk if token_endpoint_auth_method == "private_key_jwt" else None,
        client_secret=registered.get("client_secret"),
        id_token_signed_response_alg=id_token_signed_response_alg,
        answer=registered,
    )


# -- outcomes ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pending:
    """One authorization request the RP sent, by its ``state``."""

    state: str
    nonce: str
    code_verifier: str
    redirect_uri: str
    url: str
    params: Mapping[str, str]


@dataclass(frozen=True)
class LoginResult:
    """A login that went through: the token answer, the validated ID token, userinfo."""

    state: str
    code: str
    code_verifier: str
    redirect_uri: str
    token: Mapping[str, Any]
    id_token: Mapping[str, Any]  # validated claims
    id_token_header: Mapping[str, Any]
    userinfo: Mapping[str, Any]
    iss: str | None  # the RFC 9207 parameter of the authorization response

    @property
    def sub(self) -> str:
        return str(self.id_token["sub"])

    def to_json(self) -> dict[str, Any]:
        return {
            "sub": self.sub,
            "id_token": dict(self.id_token),
            "id_token_header": dict(self.id_token_header),
            "userinfo": dict(self.userinfo),
            "scope": self.token.get("scope"),
            "token_type": self.token.get("token_type"),
        }


@dataclass(frozen=True)
class LoginError:
    """A login that did not: where it stopped (``authorization`` — the OP redirected back an
    error; ``state``; ``iss``; ``token``; ``id_token``; ``userinfo``) and what was said."""

    stage: str
    error: str
    description: str | None = None
    state: str | None = None
    iss: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "error": self.error,
            "description": self.description,
            "state": self.state,
            "iss": self.iss,
        }


# -- the app -----------------------------------------------------------------------------------
class RelyingParty:
    """The RP web app. ``start()`` binds ``host`` (port 0: the kernel picks, no race), then
    :attr:`redirect_uri` is known; ``configure()`` gives it its registration."""

    def __init__(
        self,
        issuer: str,
        *,
        host: str = "127.0.0.2",
        port: int = 0,
        name: str = "rp",
        assertion_lifetime: int | None = 300,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.name = name
        self.assertion_lifetime = assertion_lifetime
        self.results: list[LoginResult] = []
        self.errors: list[LoginError] = []
        self.pending: dict[str, Pending] = {}
        self.registration: ClientRegistration | None = None
        self._oidc: AuthlibOIDCApp | None = None
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), _handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def redirect_uri(self) -> str:
        return f"{self.base_url}/callback"

    @property
    def post_logout_redirect_uri(self) -> str:
        return f"{self.base_url}/logged-out"

    def start(self) -> RelyingParty:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"rp-{self.name}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> RelyingParty:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def configure(self, registration: ClientRegistration) -> RelyingParty:
        self.registration = registration
        self._oidc = self._authlib_app(registration)
        return self

    def reset(self) -> None:
        with self._lock:
            self.results.clear()
            self.errors.clear()
            self.pending.clear()

    def _authlib_app(self, registration: ClientRegistration) -> AuthlibOIDCApp:
        token_endpoint = f"{self.issuer}/oauth2/token"  # only for the assertion's audience
        client_kwargs: dict[str, Any] = {
            "scope": "openid",
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": registration.token_endpoint_auth_method,
            "default_timeout": HTTP_TIMEOUT,
        }
        auth_methods: list[Any] = []
        secret: Any = registration.client_secret
        if registration.token_endpoint_auth_method == "private_key_jwt":
            assert registration.private_jwk is not None
            secret = private_key(registration.private_jwk)
            auth_methods.append(
                token_auth_method(
                    token_endpoint, registration.private_jwk, lifetime=self.assertion_lifetime
                )
            )
        return AuthlibOIDCApp(
            FrameworkIntegration(self.name),
            name=self.name,
            client_id=registration.client_id,
            client_secret=secret,
            server_metadata_url=f"{self.issuer}/.well-known/openid-configuration",
            client_kwargs=client_kwargs,
            client_auth_methods=auth_methods,
        )

    @property
    def oidc(self) -> AuthlibOIDCApp:
        assert self._oidc is not None, "configure() the relying party first"
        return self._oidc

    # -- what the test asks for ----------------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        """The OP's discovery document, as Authlib loaded it (cached after the first call)."""
        loaded: dict[str, Any] = self.oidc.load_server_metadata()
        return {k: v for k, v in loaded.items() if k != "_loaded_at"}

    def login_url(self, **params: str) -> str:
        """Where the browser starts: this RP's ``/login`` (``scope``, ``acr_values``, ``prompt``,
        ``max_age``, ``ui_locales``, ``purpose``... are passed to the authorization request)."""
        return f"{self.base_url}/login" + (f"?{urlencode(params)}" if params else "")

    def authorization_request(self, **params: str) -> Pending:
        """Build (and remember) an authorization request without a browser."""
        params = {"scope": "openid", **params}
        built = self.oidc.create_authorization_url(redirect_uri=self.redirect_uri, **params)
        pending = Pending(
            state=built["state"],
            nonce=built["nonce"],
            code_verifier=built["code_verifier"],
            redirect_uri=self.redirect_uri,
            url=built["url"],
            params=params,
        )
        with self._lock:
            self.pending[pending.state] = pending
        return pending

    @property
    def last(self) -> LoginResult:
        assert self.results, f"no login reached {self.name}; errors: {self.errors}"
        return self.results[-1]

    @property
    def last_error(self) -> LoginError:
        assert self.errors, f"no error reached {self.name}; results: {self.results}"
        return self.errors[-1]

    def redeem(
        self, code: str, code_verifier: str, *, redirect_uri: str | None = None
    ) -> dict[str, Any]:
        """One token request for ``code`` (e.g. a second time: RFC 6749 §4.1.2 says it MUST
        fail). Returns the token answer, or ``{"error": ..., "error_description": ...}``."""
        try:
            token: dict[str, Any] = self.oidc.fetch_access_token(
                redirect_uri=redirect_uri or self.redirect_uri,
                code=code,
                code_verifier=code_verifier,
            )
        except OAuthError as exc:
            return {"error": exc.error, "error_description": exc.description}
        return token

    def userinfo_raw(self, access_token: str) -> requests.Response:
        """``GET`` userinfo with a bearer token, the raw answer (for 401 ``invalid_token``)."""
        return requests.get(
            self.metadata()["userinfo_endpoint"],
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=HTTP_TIMEOUT,
        )

    def logout_url(self, id_token: str, state: str = "bye") -> str:
        """RP-Initiated Logout 1.0 §2, built by Authlib."""
        built: dict[str, Any] = self.oidc.create_logout_url(
            post_logout_redirect_uri=self.post_logout_redirect_uri,
            id_token_hint=id_token,
            state=state,
            client_id=self.oidc.client_id,
        )
        return str(built["url"])

    # -- the callback ----------------------------------------------------------------------------
    def handle_callback(self, query: Mapping[str, str]) -> LoginResult | LoginError:
        state = query.get("state")
        iss = query.get("iss")
        with self._lock:
            pending = self.pending.pop(state, None) if state else None
        if "error" in query:
            return self._failed("authorization", query["error"], query.get("error_description"),
                                state, iss)  # fmt: skip
        if pending is None:  # RFC 6749 §10.12: a response to no request of ours
            return self._failed("state", "state_mismatch", None, state, iss)
        metadata = self.oidc.load_server_metadata()
        # RFC 9207 §2.4: with authorization_response_iss_parameter_supported, iss MUST be
        # there and MUST equal the issuer (mix-up defence).
        if metadata.get("authorization_response_iss_parameter_supported") and iss != self.issuer:
            return self._failed("iss", "iss_mismatch", iss, state, iss)
        code = query.get("code")
        if not code:
            return self._failed("authorization", "no_code", None, state, iss)
        token = self.redeem(code, pending.code_verifier, redirect_uri=pending.redirect_uri)
        if "error" in token:
            return self._failed("token", token["error"], token.get("error_description"),
                                state, iss)  # fmt: skip
        try:
            claims = self.oidc.parse_id_token(
                token,
                nonce=pending.nonce,
                claims_options={
                    "iss": {"essential": True, "value": metadata["issuer"]},
                    "aud": {"essential": True, "value": self.oidc.client_id},
                    "at_hash": {"essential": True},
                },
            )
        except (JoseError, ValueError, KeyError) as exc:
            return self._failed("id_token", type(exc).__name__, str(exc), state, iss)
        if claims is None:
            return self._failed("id_token", "no_id_token", None, state, iss)
        header = _jws_header(token["id_token"])
        try:
            info = self.oidc.userinfo(token=token)
        except (requests.HTTPError, OAuthError) as exc:
            return self._failed("userinfo", "userinfo_failed", str(exc), state, iss)
        if info.get("sub") != claims["sub"]:  # OIDC Core §5.3.2
            return self._failed("userinfo", "sub_mismatch", None, state, iss)
        result = LoginResult(
            state=pending.state,
            code=code,
            code_verifier=pending.code_verifier,
            redirect_uri=pending.redirect_uri,
            token=dict(token),
            id_token=dict(claims),
            id_token_header=header,
            userinfo=dict(info),
            iss=iss,
        )
        with self._lock:
            self.results.append(result)
        return result

    def _failed(
        self, stage: str, error: str, description: str | None, state: str | None, iss: str | None
    ) -> LoginError:
        failure = LoginError(stage, error, description, state, iss)
        with self._lock:
            self.errors.append(failure)
        return failure


def _jws_header(compact: str) -> dict[str, Any]:
    import base64

    segment = compact.split(".")[0]
    header: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return header


def _page(title: str, element_id: str, payload: Mapping[str, Any], extra: str = "") -> bytes:
    body = json.dumps(payload, ensure_ascii=False, indent=2, sort_keys=True)
    data_sub = f' data-sub="{html.escape(str(payload["sub"]))}"' if "sub" in payload else ""
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>"
        f"<pre id='{element_id}'{data_sub}>{html.escape(body)}</pre>{extra}</body></html>"
    ).encode()


def _handler(rp: RelyingParty) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "authlib-rp"

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
            try:
                if url.path == "/":
                    self._send(200, _page(rp.name, "rp-home", {"login": rp.login_url()},
                                          f"<a id='login' href='{rp.login_url()}'>Log in</a>"))  # fmt: skip
                elif url.path == "/login":
                    pending = rp.authorization_request(**query)
                    self._redirect(pending.url)
                elif url.path == "/callback":
                    outcome = rp.handle_callback(query)
                    if isinstance(outcome, LoginResult):
                        self._send(200, _page(f"{rp.name}: logged in", "rp-result",
                                              outcome.to_json()))  # fmt: skip
                    else:
                        self._send(400, _page(f"{rp.name}: login failed", "rp-error",
                                              outcome.to_json()))  # fmt: skip
                elif url.path == "/logged-out":
                    self._send(200, _page(f"{rp.name}: logged out", "rp-logged-out", query))
                else:
                    self._send(404, _page("not found", "rp-error", {"error": "not_found"}))
            except Exception as exc:  # shown to the test, never swallowed silently
                failure = rp._failed("internal", type(exc).__name__, str(exc), None, None)
                self._send(500, _page("error", "rp-error", failure.to_json()))

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _redirect(self, location: str) -> None:
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # quiet: the URLs carry codes
            return

    return Handler


def wait_until(predicate: Any, timeout: float = 10.0, interval: float = 0.1) -> Any:
    """Poll ``predicate`` until it returns something truthy (returned) or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s")
        time.sleep(interval)


def iter_claims(result: LoginResult) -> Iterator[tuple[str, Any]]:
    """The userinfo claims other than ``sub`` (what was released)."""
    for key, value in result.userinfo.items():
        if key != "sub":
            yield key, value
