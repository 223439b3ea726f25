"""The OpenID Connect code flow over the real app, in process: authorize → login with the
wallet (or a password and a phone code) → consent → code → token → ID token → userinfo; and
the refusals the specifications name. tests/e2e drives the same with a browser and Authlib."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from netid.config import Settings
from netid.oidc import jwt as oidc_jwt
from tests.conftest import Backend
from tests.enrolment.support import World, make_world
from tests.oidc.support import (
    Login,
    RelyingParty,
    browser_for,
    finish,
    handle_of,
    payload_of_jwt,
    query_of,
    wallet_login,
)
from tests.verification.test_qr import Wallet


@pytest.fixture
def world(settings: Settings, db: Backend) -> World:
    return make_world(settings, db)


def verify_id_token(
    world: World, rp: RelyingParty, token: str, login: Login, access: str
) -> dict[str, Any]:
    jwks = world.http.get("/oidc/jwks").json()
    decoded = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["RS256", "ES256"])
    claims = dict(decoded.claims)
    assert claims["iss"] == world.container.oidc_issuer()
    assert claims["aud"] == rp.client_id
    assert claims["nonce"] == login.nonce
    assert claims["at_hash"] == oidc_jwt.left_hash(access, decoded.header["alg"])
    assert 0 < claims["exp"] - claims["iat"] <= 300
    return claims


def test_the_code_flow_with_the_wallet_gives_the_verification_pseudonym(world: World) -> None:
    rp = RelyingParty(world, host="rp-a.example")
    wallet = Wallet(world, "adult")
    browser = world.http
    login, consent_url = wallet_login(world, rp, wallet, browser, scope="openid age")
    done = finish(browser, consent_url, remember="yes")
    assert done.status_code == 303, done.text
    back = query_of(done.headers["location"])
    assert done.headers["location"].startswith(rp.redirect_uri)
    assert back["state"] == login.state and back["iss"] == world.container.oidc_issuer()
    tokens = rp.token(back["code"], login)
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    assert body["token_type"] == "Bearer"
    claims = verify_id_token(world, rp, body["id_token"], login, body["access_token"])
    assert claims["sub"] == rp.pseudonym_of("adult")
    assert claims["acr"] == "L1"
    info = world.http.get(
        "/oidc/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert info.status_code == 200, info.text
    assert info.json()["sub"] == claims["sub"]
    assert info.json()["age_over_18"] is True


def test_a_second_use_of_a_code_fails_and_revokes_the_first_tokens(world: World) -> None:
    rp = RelyingParty(world, host="rp-a.example")
    wallet = Wallet(world, "adult")
    login, consent_url = wallet_login(world, rp, wallet, world.http)
    done = finish(world.http, consent_url)
    code = query_of(done.headers["location"])["code"]
    first = rp.token(code, login)
    assert first.status_code == 200, first.text
    again = rp.token(code, login)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    info = world.http.get(
        "/oidc/userinfo", headers={"Authorization": f"Bearer {first.json()['access_token']}"}
    )
    assert info.status_code == 401


def test_pairwise_sub_differs_between_clients_and_is_stable_for_one(world: World) -> None:
    rp_a = RelyingParty(world, host="rp-a.example")
    rp_b = RelyingParty(world, host="rp-b.example")
    wallet = Wallet(world, "adult")
    subs = []
    for rp in (rp_a, rp_b, rp_a):
        browser = browser_for(world)
        login, consent_url = wallet_login(world, rp, wallet, browser)
        done = finish(browser, consent_url)
        tokens = rp.token(query_of(done.headers["location"])["code"], login)
        subs.append(payload_of_jwt(tokens.json()["id_token"])["sub"])
    assert subs[0] == subs[2] != subs[1]


def test_a_login_request_moves_only_the_browser_that_started_it(world: World) -> None:
    rp = RelyingParty(world, host="rp-a.example")
    wallet = Wallet(world, "adult")
    login, _ = wallet_login(world, rp, wallet, world.http)
    other = browser_for(world)
    assert other.get(login.location + "/status").status_code == 404
    assert other.get(login.location.replace("/login/", "/consent/")).status_code == 404


def test_a_login_request_expires_after_two_minutes(world: World) -> None:
    rp = RelyingParty(world, host="rp-a.example")
    wallet = Wallet(world, "adult")
    login, _ = rp.authorize(world.http)
    handle = handle_of(world.http.get(login.location).text)
    world.clock.advance(dt.timedelta(seconds=121))
    wallet.session = world.session(wallet.credential_id, wallet.device)
    seen = world.http.get(f"/v1/wallet/logins/{handle}", headers=wallet.bearer())
    assert seen.status_code == 403 and seen.json()["error"]["code"] == "login_request_expired"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"code_challenge": "", "code_challenge_method": ""}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "age"}, "invalid_scope"),
        ({"request_uri": "https://rp-a.example/r"}, "request_uri_not_supported"),
        ({"request": "e30.e30.AAAA"}, "invalid_request_object"),
    ],
)
def test_bad_authorization_requests_go_back_with_the_named_error(
    world: World, change: dict[str, str], error: str
) -> None:
    rp = RelyingParty(world, host="rp-a.example")
    login, answer = rp.authorize(world.http, **change)
    assert answer.status_code == 303
    assert login.location.startswith(rp.redirect_uri)
    assert query_of(login.location)["error"] == error
    assert query_of(login.location)["state"] == login.state


@pytest.mark.parametrize(
    "change", [{"client_id": "nobody"}, {"redirect_uri": "https://rp-a.example/other"}]
)
def test_an_unknown_client_or_redirect_uri_gets_a_page_not_a_redirect(
    world: World, change: dict[str, str]
) -> None:
    rp = RelyingParty(world, host="rp-a.example")
    _, answer = rp.authorize(world.http, **change)
    assert answer.status_code == 400
    assert "location" not in answer.headers
    assert "text/html" in answer.headers["content-type"]


def test_identity_claims_need_a_tick_each_and_come_in_userinfo(world: World) -> None:
    rp = RelyingParty(
        world,
        host="bank.example",
        industry="banking_finance",
        purposes=("account_opening",),
        auth_method="client_secret_basic",
        id_token_alg="ES256",
    )
    wallet = Wallet(world, "adult")
    login, consent_url = wallet_login(world, rp, wallet, world.http, scope="openid identity")
    page = world.http.get(consent_url)
    assert page.status_code == 200 and 'value="document_number"' in page.text
    missing = world.http.post(
        consent_url, data={"decision": "approve", "claim": ["name"]}, follow_redirects=False
    )
    assert missing.status_code == 400
    done = world.http.post(
        consent_url,
        data={"decision": "approve", "claim": ["name", "document_type", "document_number"]},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    tokens = rp.token(query_of(done.headers["location"])["code"], login)
    assert tokens.status_code == 200, tokens.text
    claims = verify_id_token(
        world, rp, tokens.json()["id_token"], login, tokens.json()["access_token"]
    )
    assert "name" not in claims
    info = world.http.get(
        "/oidc/userinfo", headers={"Authorization": f"Bearer {tokens.json()['access_token']}"}
    ).json()
    assert info["name"] == "欧阳·娜娜"
    assert info["document_number"] == world.number("adult")
