"""Proof that it works with others (issue 6 §4): the whole OpenID Connect flow with Authlib,
unmodified, as the relying party and headless Chromium as the person's browser, against a
running ``netid serve`` (fixtures: tests/e2e/conftest.py; the RP: tests/e2e/relying_party.py).

Element ids assumed on the OP's pages (the lead aligns them): the login page carries the QR
text in ``[data-login-uri]`` (``netid://login?r=<handle>``) and the check code in
``.check-code``; ``#password-login`` links to the password form (``#document_number``,
``#password``, then ``#code``; ``button[type=submit]``; the set-up page
``/accounts/password`` adds ``#password_again``); the consent page has
``#consent-form``, one ``input[name="claim"][value=<claim>]`` per identity claim, ``#approve``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
import requests

from tests.e2e.conftest import EnrolledWallet, NetidServer
from tests.e2e.relying_party import LoginResult, RelyingParty, client_credentials_token

pytestmark = [pytest.mark.slow]

LOGIN_URI = re.compile(r"^netid://login\?r=[A-Za-z0-9_-]{22,}$")
MOVES_ON = re.compile(r"/oidc/consent/|/callback")
RpFactory = Callable[..., RelyingParty]
IDENTITY = ("name", "document_type", "document_number")


# -- steps of a person at the browser ------------------------------------------------------------
def login_text(page: Any) -> str:
    """The QR code's text, as the page carries it beside the SVG."""
    page.wait_for_selector("[data-login-uri], #rp-error")
    if page.query_selector("#rp-error") is not None:  # the OP sent the browser back at once
        raise AssertionError(page.text_content("#rp-error"))
    text: str = page.eval_on_selector("[data-login-uri]", "e => e.dataset.loginUri")
    assert LOGIN_URI.match(text), text
    return text


def approve_consent(page: Any, claims: Iterable[str] = ()) -> None:
    """Tick each identity claim (each its own tick, every time) and approve."""
    page.wait_for_selector("#consent-form")
    for claim in claims:
        page.check(f'input[name="claim"][value="{claim}"]')
    page.click("#approve")


def finish(page: Any, rp: RelyingParty, claims: Iterable[str]) -> LoginResult:
    """From the OP's login step on: consent if asked, then the RP's validated result."""
    page.wait_for_url(MOVES_ON)
    if "/oidc/consent/" in page.url:
        approve_consent(page, claims)
    page.wait_for_selector("#rp-result, #rp-error")
    return rp.last


def wallet_login(
    page: Any,
    rp: RelyingParty,
    wallet: EnrolledWallet,
    *,
    claims: Iterable[str] = (),
    **params: str,
) -> LoginResult:
    """RP /login → OP login page (QR) → ``netid wallet scan TEXT --yes`` → the page moves on
    by itself (it polls) → consent → RP callback (code exchange, ID token, userinfo)."""
    page.goto(rp.login_url(**{"scope": "openid", **params}))
    scanned = wallet.scan(login_text(page))
    shown = re.findall(r"\d{4}", page.text_content(".check-code") or "")
    if isinstance(scanned, dict) and "check_code" in scanned:
        assert [scanned["check_code"]] == shown  # the same 4 digits on both screens
    return finish(page, rp, claims)


def password_login(
    page: Any,
    server: NetidServer,
    rp: RelyingParty,
    role: str,
    password: str,
    *,
    claims: Iterable[str] = (),
    **params: str,
) -> LoginResult:
    """The no-wallet path: document number + password, then the code sent to the registry
    phone (read from the embedded SMS outbox)."""
    page.goto(rp.login_url(**{"scope": "openid", **params}))
    page.click("#password-login")
    before = _code_or_none(server, role)
    page.fill("#document_number", server.number(role))
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.fill("#code", server.wait_for_code(role=role, after=before))
    page.click("button[type=submit]")
    return finish(page, rp, claims)


def set_password(page: Any, server: NetidServer, role: str, password: str) -> None:
    """``/accounts/password``: document number, a code to the registry phone, the password."""
    page.goto(f"{server.base}/accounts/password")
    before = _code_or_none(server, role)
    page.fill("#document_number", server.number(role))
    page.click("button[type=submit]")
    page.fill("#code", server.wait_for_code(role=role, after=before))
    page.fill("#password", password)
    page.fill("#password_again", password)
    page.click("button[type=submit]")


def _code_or_none(server: NetidServer, role: str) -> str | None:
    try:
        return server.latest_code(role=role)
    except AssertionError:
        return None


def verification_pseudonym(server: NetidServer, slug: str, role: str) -> str:
    """The pseudonym ``POST /v1/verifications`` (id2) gives institution ``slug`` for ``role``."""
    institution = server.institutions[slug]
    token = client_credentials_token(
        f"{server.base}/oauth2/token", institution.client_id, institution.private_jwk
    )
    person = server.people[role]
    answer = requests.post(
        f"{server.base}/v1/verifications",
        json={
            "type": "id2",
            "purpose": institution.purpose,
            "subject": {"document_number": server.number(role), "name": person["name"]},
        },
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["pseudonym"])


# -- discovery -----------------------------------------------------------------------------------
def test_discovery_and_jwks(netid_server: NetidServer, relying_party: RpFactory) -> None:
    rp = relying_party("shop")
    meta = rp.metadata()
    base = netid_server.issuer
    assert meta["issuer"] == base
    assert meta["authorization_endpoint"] == f"{base}/oidc/authorize"
    assert meta["token_endpoint"] == f"{base}/oauth2/token"
    assert meta["userinfo_endpoint"] == f"{base}/oidc/userinfo"
    assert meta["jwks_uri"] == f"{base}/oidc/jwks"
    assert meta["end_session_endpoint"] == f"{base}/oidc/logout"
    assert meta["response_types_supported"] == ["code"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["subject_types_supported"] == ["pairwise"]
    assert set(meta["id_token_signing_alg_values_supported"]) == {"RS256", "ES256"}
    assert set(meta["token_endpoint_auth_methods_supported"]) >= {
        "private_key_jwt",
        "client_secret_basic",
    }
    assert set(meta["acr_values_supported"]) == {"L1", "L2", "L3"}
    assert {"openid", "age", "identity"} <= set(meta["scopes_supported"])
    assert meta["claims_parameter_supported"] is False
    assert meta["request_parameter_supported"] is True
    assert meta["request_uri_parameter_supported"] is False
    assert meta["authorization_response_iss_parameter_supported"] is True
    jwks = requests.get(meta["jwks_uri"], timeout=30).json()
    kinds = {(k["kty"], k.get("alg")) for k in jwks["keys"]}
    assert ("RSA", "RS256") in kinds and ("EC", "ES256") in kinds
    assert all("d" not in k for k in jwks["keys"])  # public halves only


# -- login with the wallet ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "alg"), [("private_key_jwt", "RS256"), ("client_secret_basic", "ES256")]
)
def test_login_with_the_wallet(
    netid_server: NetidServer,
    enrolled_wallet: EnrolledWallet,
    relying_party: RpFactory,
    page: Any,
    method: str,
    alg: str,
) -> None:
    # identity = name, document_type, document_number: released for banking/account_opening
    # (ecommerce/seller_verification lacks document_type: the policy refuses, access_denied).
    rp = relying_party("bank", method=method, alg=alg)
    result = wallet_login(page, rp, enrolled_wallet, scope="openid identity", claims=IDENTITY)
    token = result.id_token
    assert result.id_token_header["alg"] == alg
    assert token["iss"] == netid_server.issuer and result.iss == netid_server.issuer
    assert token["aud"] == rp.oidc.client_id and token["azp"] == rp.oidc.client_id
    assert token["acr"] == "L1" and isinstance(token["amr"], list) and token["sid"]
    assert 0 < token["exp"] - token["iat"] <= 300 and token["auth_time"] <= token["iat"]
    assert not set(IDENTITY) & set(token)  # the claims are in userinfo only
    person = netid_server.people["wallet"]
    assert result.userinfo["name"] == person["name"]
    assert result.userinfo["document_number"] == enrolled_wallet.document_number
    assert result.userinfo["document_type"]
    assert int(result.token["expires_in"]) <= 300
    assert page.get_attribute("#rp-result", "data-sub") == result.sub


def test_age_scope_needs_no_tick(
    enrolled_wallet: EnrolledWallet, relying_party: RpFactory, page: Any
) -> None:
    rp = relying_party("forum", method="client_secret_basic", alg="ES256")
    result = wallet_login(page, rp, enrolled_wallet, scope="openid age")
    assert result.userinfo.get("age_over_18") is True
    assert "name" not in result.userinfo


# -- pairwise subjects -------------------------------------------------------------------------
def test_pairwise_sub_differs_between_clients_and_is_stable_for_one(
    netid_server: NetidServer,
    enrolled_wallet: EnrolledWallet,
    relying_party: RpFactory,
    browser: Any,
) -> None:
    shop = relying_party("shop")
    forum = relying_party("forum", method="client_secret_basic")
    first_context = browser.new_context()
    try:
        page = first_context.new_page()
        at_shop = wallet_login(page, shop, enrolled_wallet, scope="openid")
        # Same browser, another institution: the person approves again (single sign-on stays
        # with the institution approved, docs/decisions/0006).
        at_forum = wallet_login(page, forum, enrolled_wallet, scope="openid")
    finally:
        first_context.close()
    second_context = browser.new_context()
    try:
        again = wallet_login(second_context.new_page(), shop, enrolled_wallet, scope="openid")
    finally:
        second_context.close()
    assert at_shop.sub != at_forum.sub
    assert again.sub == at_shop.sub
    # The very pseudonym the verification API gives that institution (OIDC Core §8.1 sector).
    assert at_shop.sub == verification_pseudonym(netid_server, "shop", "wallet")
    assert at_forum.sub == verification_pseudonym(netid_server, "forum", "wallet")


# -- codes ---------------------------------------------------------------------------------------
def test_code_reuse_is_refused_and_revokes_the_grant(
    enrolled_wallet: EnrolledWallet, relying_party: RpFactory, page: Any
) -> None:
    rp = relying_party("shop")
    result = wallet_login(page, rp, enrolled_wallet, scope="openid")
    access_token = str(result.token["access_token"])
    assert rp.userinfo_raw(access_token).status_code == 200
    again = rp.redeem(result.code, result.code_verifier)
    assert again["error"] == "invalid_grant"  # RFC 6749 §4.1.2: used once
    refused = rp.userinfo_raw(access_token)  # RFC 6749 §10.5: what the first use issued
    assert refused.status_code == 401
    assert "invalid_token" in refused.headers.get("WWW-Authenticate", "") + refused.text


# -- without a wallet --------------------------------------------------------------------------
def test_password_and_phone_code_without_a_wallet(
    netid_server: NetidServer, relying_party: RpFactory, context: Any
) -> None:
    password = "correct horse battery staple 6"
    set_password(context.new_page(), netid_server, "password", password)
    rp = relying_party("bank")
    result = password_login(
        context.new_page(), netid_server, rp, "password", password,
        scope="openid identity", claims=IDENTITY,
    )  # fmt: skip
    assert result.id_token["acr"] == "L1"
    assert result.userinfo["name"] == netid_server.people["password"]["name"]
    assert result.sub == verification_pseudonym(netid_server, "bank", "password")


# -- a relayed QR code -------------------------------------------------------------------------
def test_a_relayed_login_moves_only_the_browser_that_started_it(
    netid_server: NetidServer,
    enrolled_wallet: EnrolledWallet,
    relying_party: RpFactory,
    browser: Any,
) -> None:
    rp = relying_party("shop")
    victim = browser.new_context()
    try:
        page = victim.new_page()
        page.goto(rp.login_url(scope="openid"))
        text = login_text(page)
        txn_url = page.url  # /oidc/login/{txn}
        # Another browser (no netid_b cookie) polling the same transaction learns nothing.
        stranger = requests.get(f"{txn_url}/status", timeout=30)
        assert stranger.status_code in (400, 404)
        assert "login_request_not_found" in stranger.text
        enrolled_wallet.scan(text)
        result = finish(page, rp, ())
        assert result.sub
    finally:
        victim.close()


# -- bad requests (no browser needed: the OP's answers are read directly) ------------------------
def _authorize(url: str, **changes: str | None) -> requests.Response:
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    return requests.get(
        urlunsplit(parts._replace(query=urlencode(query))), allow_redirects=False, timeout=30
    )


def _redirect_error(answer: requests.Response, rp: RelyingParty) -> dict[str, str]:
    assert answer.status_code in (302, 303), (answer.status_code, answer.text[:300])
    location = answer.headers["Location"]
    assert location.startswith(rp.redirect_uri + "?")
    return {k: v[-1] for k, v in parse_qs(urlsplit(location).query).items()}


def test_bad_authorization_requests(netid_server: NetidServer, relying_party: RpFactory) -> None:
    rp = relying_party("shop")
    url = rp.authorization_request(scope="openid").url
    # The client or the redirect URI is wrong: an error page, never a redirect (§4.1.2.1).
    for changes in ({"client_id": "unknown"}, {"redirect_uri": rp.redirect_uri + "x"}):
        answer = _authorize(url, **changes)
        assert answer.status_code == 400 and "Location" not in answer.headers, changes
    # The rest go back to the client with error, state and iss (RFC 9207).
    missing = _redirect_error(_authorize(url, code_challenge=None, code_challenge_method=None), rp)
    assert missing["error"] == "invalid_request" and missing["iss"] == netid_server.issuer
    plain = _redirect_error(_authorize(url, code_challenge_method="plain"), rp)
    assert plain["error"] == "invalid_request" and plain["state"]
    tampered = _redirect_error(_authorize(url, request="e30.e30.AAAA"), rp)
    assert tampered["error"] == "invalid_request_object"
    by_reference = _redirect_error(_authorize(url, request_uri="https://a.example/r"), rp)
    assert by_reference["error"] == "request_uri_not_supported"
