"""The e2e machinery itself, before (and independently of) the OP (issue 6 §4):

* Playwright's sync API launches Debian's Chromium headless with the machine's flags and
  drives a page served on loopback;
* 127.0.0.1, 127.0.0.2 and 127.0.0.3 are distinct hosts: a server bound to one is not
  reachable at another (so each RP's address is its own pairwise sector);
* the Authlib relying party (tests/e2e/relying_party.py) completes a real browser login
  against a tiny stand-in OP written here (joserfc; both client authentication methods, RS256
  and ES256 ID tokens) and refuses what OIDC Core §3.1.3.7 says to refuse (wrong ``aud``,
  ``nonce``, ``iss``, missing ``at_hash``, unknown ``state``, RFC 9207 ``iss`` mismatch), and a
  second redemption of a code is reported as the OP's ``invalid_grant``;
* against the real ``netid serve``: it is up, a wallet enrols over HTTP and logs in, the
  browser reaches it, and Authlib's ``private_key_jwt`` gets a client-credentials token from
  ``/oauth2/token`` — with a 5-minute assertion, while Authlib's stock 1-hour one is refused.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import pytest
from authlib.integrations.base_client import OAuthError
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from tests.e2e.conftest import EnrolledWallet, NetidServer
from tests.e2e.relying_party import (
    ClientRegistration,
    RelyingParty,
    client_credentials_token,
    private_key,
)


# -- a page on loopback ------------------------------------------------------------------------
class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = (
            b"<!doctype html><title>smoke</title><p id='greeting'>hello</p>"
            b"<button id='b' onclick=\"document.getElementById('greeting').textContent="
            b"'clicked from ' + location.host\">b</button>"
        )
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def loopback_page() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.2", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.2:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_chromium_drives_a_local_page(
    browser: Any, page: Any, loopback_page: str, tmp_path: Path
) -> None:
    assert browser.version.split(".")[0].isdigit()  # Debian's build, e.g. 156.0.8078.114
    page.goto(loopback_page)
    page.click("#b")
    host = urlsplit(loopback_page).netloc
    assert page.text_content("#greeting") == f"clicked from {host}"
    shot = tmp_path / "smoke.png"
    page.screenshot(path=str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_new_browser_starts_quickly(browser: Any) -> None:
    """A fresh context (new cookies) and a page cost far less than a browser launch: the
    launch is module-scoped, contexts are per test."""
    t0 = time.perf_counter()
    ctx = browser.new_context()
    ctx.new_page().goto("about:blank")
    ctx.close()
    assert time.perf_counter() - t0 < 5


def test_loopback_addresses_are_distinct_hosts() -> None:
    with socket.socket() as bound:
        bound.bind(("127.0.0.2", 0))
        bound.listen()
        port = bound.getsockname()[1]
        for other in ("127.0.0.1", "127.0.0.3"):
            with socket.socket() as probe:
                probe.settimeout(2)
                assert probe.connect_ex((other, port)) != 0, other
        with socket.socket() as probe:
            probe.settimeout(2)
            assert probe.connect_ex(("127.0.0.2", port)) == 0


# -- a stand-in OP, just enough to exercise the relying party ----------------------------------
def _half_hash(value: str) -> str:
    """OIDC Core §3.1.3.6 ``at_hash`` for SHA-256 algorithms (RS256, ES256)."""
    digest = hashlib.sha256(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


@dataclass
class StandInOP:
    """Authorization code + PKCE S256 with immediate consent; tokens signed with joserfc."""

    client_id: str = "client-1"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    client_key: ECKey = field(default_factory=lambda: ECKey.generate_key("P-256"))
    id_token_alg: str = "RS256"
    sub: str = "pairwise-sub-1"
    tamper: dict[str, Any] = field(default_factory=dict)  # ID-token claims to override
    drop: tuple[str, ...] = ()  # ID-token claims to leave out
    callback_iss: str | None = None  # RFC 9207 parameter override
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    used_jti: set[str] = field(default_factory=set)
    tokens: dict[str, str] = field(default_factory=dict)
    redirect_uris: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.keys: dict[str, RSAKey | ECKey] = {
            "RS256": RSAKey.generate_key(2048, auto_kid=True),
            "ES256": ECKey.generate_key("P-256", auto_kid=True),
        }
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _op_handler(self))
        self.server.daemon_threads = True
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/oauth2/token",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic"],
            "authorization_response_iss_parameter_supported": True,
        }

    def authorize(self, q: Mapping[str, str]) -> tuple[int, str]:
        if q.get("client_id") != self.client_id or q.get("redirect_uri") not in self.redirect_uris:
            return 400, "bad client or redirect_uri"  # never redirected (RFC 6749 §4.1.2.1)
        assert q.get("response_type") == "code" and "openid" in q.get("scope", "").split()
        assert q.get("code_challenge_method") == "S256" and q.get("code_challenge")
        assert q.get("state") and q.get("nonce")
        code = secrets.token_urlsafe(32)
        self.codes[code] = {"q": dict(q), "used": False}
        params = {"code": code, "state": q["state"], "iss": self.callback_iss or self.issuer}
        return 302, f"{q['redirect_uri']}?{urlencode(params)}"

    def token(
        self, form: Mapping[str, str], authorization: str | None
    ) -> tuple[int, dict[str, Any]]:
        if not self._client_ok(form, authorization):
            return 401, {"error": "invalid_client"}
        grant = self.codes.get(form.get("code", ""))
        if grant is None or grant["used"]:
            return 400, {"error": "invalid_grant", "error_description": "code used or unknown"}
        grant["used"] = True
        q = grant["q"]
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if (
            challenge.rstrip(b"=").decode() != q["code_challenge"]
            or form.get("redirect_uri") != q["redirect_uri"]
        ):
            return 400, {"error": "invalid_grant", "error_description": "PKCE or redirect_uri"}
        access = secrets.token_urlsafe(32)
        self.tokens[access] = self.sub
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer, "sub": self.sub, "aud": self.client_id, "azp": self.client_id,
            "exp": now + 300, "iat": now, "auth_time": now, "nonce": q["nonce"], "acr": "L1",
            "amr": ["pin"], "at_hash": _half_hash(access),
        }  # fmt: skip
        claims |= self.tamper
        for name in self.drop:
            claims.pop(name, None)
        key = self.keys[self.id_token_alg]
        id_token = jwt.encode({"alg": self.id_token_alg, "kid": key.kid}, claims, key)
        return 200, {
            "access_token": access, "token_type": "Bearer", "expires_in": 300,
            "id_token": id_token, "scope": q["scope"],
        }  # fmt: skip

    def _client_ok(self, form: Mapping[str, str], authorization: str | None) -> bool:
        if authorization and authorization.startswith("Basic "):
            raw = base64.b64decode(authorization[6:]).decode()
            client_id, _, secret = raw.partition(":")  # RFC 6749 §2.3.1: form-urlencoded
            return unquote(client_id) == self.client_id and unquote(secret) == self.client_secret
        assertion = form.get("client_assertion")
        if not assertion:
            return False
        token = jwt.decode(assertion, self.client_key, algorithms=["ES256"])
        c = token.claims
        ok = (
            c.get("iss") == c.get("sub") == self.client_id
            and c.get("aud") == f"{self.issuer}/oauth2/token"
            and c["exp"] - c["iat"] <= 300
            and c.get("jti") not in self.used_jti
        )
        self.used_jti.add(str(c.get("jti")))
        return bool(ok)


def _op_handler(op: StandInOP) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            q = {k: v[-1] for k, v in parse_qs(url.query).items()}
            if url.path == "/.well-known/openid-configuration":
                self._json(200, op.metadata())
            elif url.path == "/jwks":
                self._json(200, KeySet(list(op.keys.values())).as_dict(private=False))
            elif url.path == "/authorize":
                status, where = op.authorize(q)
                self.send_response(status)
                if status == 302:
                    self.send_header("Location", where)
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif url.path == "/userinfo":
                bearer = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                if bearer in op.tokens:
                    self._json(200, {"sub": op.tokens[bearer], "age_over_18": True})
                else:
                    self._json(401, {"error": "invalid_token"})
            else:
                self._json(404, {"error": "not_found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[-1] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            status, body = op.token(form, self.headers.get("Authorization"))
            self._json(status, body)

        def _json(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@pytest.fixture
def stand_in_op() -> Iterator[StandInOP]:
    op = StandInOP()
    try:
        yield op
    finally:
        op.stop()


def _rp_for(op: StandInOP, method: str, alg: str) -> RelyingParty:
    op.id_token_alg = alg
    rp = RelyingParty(op.issuer, host="127.0.0.2", name="rp").start()
    op.redirect_uris = [rp.redirect_uri]
    jwk = {**op.client_key.as_dict(private=True), "kid": "c1"}
    return rp.configure(
        ClientRegistration(
            client_id=op.client_id,
            token_endpoint_auth_method=method,  # type: ignore[arg-type]
            redirect_uris=(rp.redirect_uri,),
            private_jwk=jwk if method == "private_key_jwt" else None,
            client_secret=op.client_secret if method == "client_secret_basic" else None,
            id_token_signed_response_alg=alg,
        )
    )


@pytest.mark.parametrize(
    ("method", "alg"), [("private_key_jwt", "ES256"), ("client_secret_basic", "RS256")]
)
def test_the_authlib_rp_logs_in_through_the_browser(
    stand_in_op: StandInOP, page: Any, method: str, alg: str
) -> None:
    rp = _rp_for(stand_in_op, method, alg)
    try:
        page.goto(rp.login_url(scope="openid age", acr_values="L1"))
        page.wait_for_selector("#rp-result")
        result = rp.last
        assert page.get_attribute("#rp-result", "data-sub") == stand_in_op.sub
        assert result.sub == stand_in_op.sub and result.userinfo["age_over_18"] is True
        assert result.id_token_header["alg"] == alg
        assert result.iss == stand_in_op.issuer
        assert result.id_token["nonce"] and result.id_token["aud"] == stand_in_op.client_id
        sent = urlsplit(next(iter(stand_in_op.codes.values()))["q"]["redirect_uri"])
        assert sent.hostname == "127.0.0.2"
        # The code is spent: a second redemption is the OP's invalid_grant, through Authlib.
        again = rp.redeem(result.code, result.code_verifier)
        assert again["error"] == "invalid_grant"
        assert rp.userinfo_raw(str(result.token["access_token"])).status_code == 200
        assert rp.userinfo_raw("forged").status_code == 401
    finally:
        rp.stop()


@pytest.mark.parametrize(
    ("tamper", "drop", "expected"),
    [
        ({"aud": "someone-else"}, (), "aud"),
        ({"nonce": "replayed"}, (), "nonce"),
        ({"iss": "http://127.0.0.9:1"}, (), "iss"),
        ({"at_hash": "AAAAAAAAAAAAAAAAAAAAAA"}, (), "at_hash"),
        ({}, ("at_hash",), "at_hash"),
        ({"exp": int(time.time()) - 3600}, (), "exp"),
    ],
)
def test_the_rp_refuses_a_bad_id_token(
    stand_in_op: StandInOP, page: Any, tamper: dict[str, Any], drop: tuple[str, ...], expected: str
) -> None:
    stand_in_op.tamper, stand_in_op.drop = tamper, drop
    rp = _rp_for(stand_in_op, "private_key_jwt", "RS256")
    try:
        page.goto(rp.login_url())
        page.wait_for_selector("#rp-error")
        assert not rp.results
        failure = rp.last_error
        assert failure.stage == "id_token", failure
        assert expected in (failure.description or "") + failure.error, failure
    finally:
        rp.stop()


def test_the_rp_refuses_a_mixed_up_issuer_and_an_unknown_state(
    stand_in_op: StandInOP, page: Any
) -> None:
    stand_in_op.callback_iss = "http://127.0.0.9:1"  # RFC 9207 §2.4
    rp = _rp_for(stand_in_op, "client_secret_basic", "ES256")
    try:
        page.goto(rp.login_url())
        page.wait_for_selector("#rp-error")
        assert rp.last_error.stage == "iss"
        page.goto(f"{rp.redirect_uri}?code=x&state=never-sent&iss={stand_in_op.issuer}")
        page.wait_for_selector("#rp-error")
        assert rp.last_error.stage == "state"
        assert not rp.results
    finally:
        rp.stop()


# -- the real server -----------------------------------------------------------------------------
@pytest.mark.slow
def test_netid_serve_a_wallet_and_the_browser(
    netid_server: NetidServer, enrolled_wallet: EnrolledWallet, page: Any
) -> None:
    assert netid_server.http("GET", "/readyz").json() == {"status": "ready"}
    status = enrolled_wallet.run("status")
    assert status["enrolled"] is True and status["assurance"] == "L1", status
    assert status["network_id"] == enrolled_wallet.network_id
    response = page.goto(f"{netid_server.base}/healthz")
    assert response is not None and response.status == 200
    assert set(netid_server.timings) >= {"prepare_s", "serve_ready_s", "enrol_two_wallets_s"}


@pytest.mark.slow
def test_authlib_private_key_jwt_at_the_token_endpoint(netid_server: NetidServer) -> None:
    shop = netid_server.institutions["shop"]
    endpoint = f"{netid_server.base}/oauth2/token"
    token = client_credentials_token(endpoint, shop.client_id, shop.private_jwk)
    assert token["token_type"].lower() == "bearer" and token["access_token"]
    # Authlib's own default assertion lives 3600 s; netid accepts at most 300 s
    # (netid.oauth.assertion): unmodified defaults are refused as invalid_client.
    with pytest.raises(OAuthError) as refused:
        client_credentials_token(
            endpoint, shop.client_id, shop.private_jwk, assertion_lifetime=None
        )
    assert refused.value.error == "invalid_client"
    assert private_key(shop.private_jwk).as_dict(private=False)["kty"] == "EC"
