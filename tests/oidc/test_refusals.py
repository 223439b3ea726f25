"""Refusals at the token endpoint (RFC 6749 §5.2, OIDC Core §3.1.3.2) and of the signed
request object (RFC 9101 §6.3): each names the error the specification names, and the answer
that should have been given instead is not given."""

from __future__ import annotations

import base64
import datetime as dt
import json
import random
import threading
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from netid.client.rp import ASSERTION_TYPE
from netid.config import Settings
from netid.oidc import jwt as oidc_jwt
from tests.conftest import Backend
from tests.enrolment.support import World, make_world
from tests.oidc.support import (
    RelyingParty,
    bearer,
    browser_for,
    code_for,
    finish,
    query_of,
    s256,
    wallet_login,
)
from tests.verification.test_qr import Wallet


@pytest.fixture
def world(settings: Settings, db: Backend) -> World:
    return make_world(settings, db)


@pytest.fixture
def rp(world: World) -> RelyingParty:
    return RelyingParty(world, host="rp-a.example")


@pytest.fixture
def wallet(world: World) -> Wallet:
    return Wallet(world, "adult")


def error_of(answer: Any) -> str:
    return str(answer.json()["error"])


def payload_of(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


# -- the code exchange -------------------------------------------------------------------------
def test_a_wrong_pkce_verifier_is_invalid_grant_and_spends_nothing(
    world: World, rp: RelyingParty, wallet: Wallet
) -> None:
    login, code = code_for(world, rp, wallet)
    last = "B" if login.verifier.endswith("A") else "A"
    wrong = rp.token(code, login, code_verifier=login.verifier[:-1] + last)
    assert wrong.status_code == 400 and error_of(wrong) == "invalid_grant"
    assert "access_token" not in wrong.json()
    # The code was not spent by the refusal: the right verifier still works.
    assert rp.token(code, login).status_code == 200


@pytest.mark.parametrize("verifier", ["", "x" * 43, "\u00e9" * 50])
def test_a_missing_or_malformed_verifier_is_refused(
    world: World, rp: RelyingParty, wallet: Wallet, verifier: str
) -> None:
    login, code = code_for(world, rp, wallet)
    wrong = rp.token(code, login, code_verifier=verifier)
    assert wrong.status_code == 400
    assert error_of(wrong) in {"invalid_grant", "invalid_request"}


def test_a_wrong_redirect_uri_is_invalid_grant(
    world: World, rp: RelyingParty, wallet: Wallet
) -> None:
    login, code = code_for(world, rp, wallet)
    for other in (rp.redirect_uri + "/", rp.redirect_uri.upper(), f"https://{rp.host}/bye"):
        wrong = rp.token(code, login, redirect_uri=other)
        assert wrong.status_code == 400 and error_of(wrong) == "invalid_grant", other
    assert rp.token(code, login).status_code == 200


def test_the_code_of_another_client_is_invalid_grant(
    world: World, rp: RelyingParty, wallet: Wallet
) -> None:
    other = RelyingParty(world, host="rp-b.example")
    login, code = code_for(world, rp, wallet)
    stolen = other.token(code, login)
    assert stolen.status_code == 400 and error_of(stolen) == "invalid_grant"
    # ...and it did not burn the rightful client's code.
    assert rp.token(code, login).status_code == 200


def test_a_code_expires_after_sixty_seconds(world: World, rp: RelyingParty, wallet: Wallet) -> None:
    login, code = code_for(world, rp, wallet)
    world.clock.advance(dt.timedelta(seconds=61))
    late = rp.token(code, login)
    assert late.status_code == 400 and error_of(late) == "invalid_grant"


def test_a_code_is_still_good_just_before_it_expires(
    world: World, rp: RelyingParty, wallet: Wallet
) -> None:
    login, code = code_for(world, rp, wallet)
    world.clock.advance(dt.timedelta(seconds=59))
    assert rp.token(code, login).status_code == 200


def test_a_missing_code_is_invalid_request(world: World, rp: RelyingParty, wallet: Wallet) -> None:
    login, _ = code_for(world, rp, wallet)
    for code in ("", "x" * 129):
        answer = rp.token(code, login)
        assert answer.status_code == 400 and error_of(answer) == "invalid_request", code
    form = {
        "grant_type": "authorization_code",
        "redirect_uri": login.redirect_uri,
        "code_verifier": login.verifier,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": rp.assertion(),
    }
    answer = world.http.post("/oauth2/token", data=form)
    assert answer.status_code == 400 and error_of(answer) == "invalid_request"
    assert answer.headers["cache-control"] == "no-store"


def test_an_unknown_code_is_invalid_grant(world: World, rp: RelyingParty, wallet: Wallet) -> None:
    login, code = code_for(world, rp, wallet)
    answer = rp.token(code[:-2] + ("AA" if code[-2:] != "AA" else "BB"), login)
    assert answer.status_code == 400 and error_of(answer) == "invalid_grant"


# -- client authentication ---------------------------------------------------------------------
def test_client_secret_basic_with_a_wrong_secret_is_401(world: World, wallet: Wallet) -> None:
    rp = RelyingParty(world, host="rp-s.example", auth_method="client_secret_basic")
    assert rp.secret
    login, code = code_for(world, rp, wallet)
    for secret in (rp.secret[:-1] + ("A" if rp.secret[-1] != "A" else "B"), "", "x" * 300):
        wrong = world.http.post(
            "/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": login.redirect_uri,
                "code_verifier": login.verifier,
            },
            auth=(rp.client_id, secret),
        )
        assert wrong.status_code == 401 and error_of(wrong) == "invalid_client", secret
        assert wrong.headers["www-authenticate"].lower().startswith("basic")
    # No secret at all (and no assertion): not authenticated either.
    bare = world.http.post(
        "/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": login.redirect_uri,
            "code_verifier": login.verifier,
            "client_id": rp.client_id,
        },
    )
    assert bare.status_code in (400, 401)
    assert rp.token(code, login).status_code == 200


def test_a_replayed_client_assertion_is_401(world: World, rp: RelyingParty, wallet: Wallet) -> None:
    first_login, first_code = code_for(world, rp, wallet)
    second_login, second_code = code_for(world, rp, wallet)
    assertion = rp.assertion()
    first = rp.token(first_code, first_login, client_assertion=assertion)
    assert first.status_code == 200, first.text
    replayed = rp.token(second_code, second_login, client_assertion=assertion)
    assert replayed.status_code == 401 and error_of(replayed) == "invalid_client"
    # The second code is intact: a fresh assertion exchanges it.
    assert rp.token(second_code, second_login).status_code == 200


def test_a_secret_client_that_sends_a_client_assertion_is_401(world: World, wallet: Wallet) -> None:
    rp = RelyingParty(world, host="rp-s.example", auth_method="client_secret_basic")
    login, code = code_for(world, rp, wallet)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": login.redirect_uri,
        "code_verifier": login.verifier,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": rp.assertion(),  # the institution's key is registered: still no
    }
    answer = world.http.post("/oauth2/token", data=form)
    assert answer.status_code == 401 and error_of(answer) == "invalid_client"
    # Both methods at once: refused as well (RFC 6749 §2.3: one method per request).
    assert rp.secret is not None
    both = world.http.post(
        "/oauth2/token",
        data={**form, "client_assertion": rp.assertion()},
        auth=(rp.client_id, rp.secret),
    )
    assert both.status_code in (400, 401)
    assert rp.token(code, login).status_code == 200


def test_a_key_client_that_sends_a_secret_is_401(
    world: World, rp: RelyingParty, wallet: Wallet
) -> None:
    login, code = code_for(world, rp, wallet)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": login.redirect_uri,
        "code_verifier": login.verifier,
    }
    answer = world.http.post("/oauth2/token", data=form, auth=(rp.client_id, "guess"))
    assert answer.status_code == 401 and error_of(answer) == "invalid_client"


# -- a code used twice -------------------------------------------------------------------------
def test_a_second_exchange_revokes_the_first_tokens(
    world: World, rp: RelyingParty, wallet: Wallet
) -> None:
    login, code = code_for(world, rp, wallet)
    first = rp.token(code, login)
    assert first.status_code == 200
    access = first.json()["access_token"]
    assert world.http.get("/oidc/userinfo", headers=bearer(access)).status_code == 200
    again = rp.token(code, login)
    assert again.status_code == 400 and error_of(again) == "invalid_grant"
    assert world.http.get("/oidc/userinfo", headers=bearer(access)).status_code == 401
    assert world.http.post("/oidc/userinfo", headers=bearer(access)).status_code == 401


def test_the_access_token_dies_after_five_minutes(
    world: World, rp: RelyingParty, wallet: Wallet
) -> None:
    login, code = code_for(world, rp, wallet)
    body = rp.token(code, login).json()
    assert body["expires_in"] == 300
    world.clock.advance(dt.timedelta(seconds=299))
    assert world.http.get("/oidc/userinfo", headers=bearer(body["access_token"])).status_code == 200
    world.clock.advance(dt.timedelta(seconds=2))
    late = world.http.get("/oidc/userinfo", headers=bearer(body["access_token"]))
    assert late.status_code == 401
    assert late.headers["www-authenticate"].startswith("Bearer")


def test_an_id_token_is_not_an_access_token(world: World, rp: RelyingParty, wallet: Wallet) -> None:
    login, code = code_for(world, rp, wallet)
    body = rp.token(code, login).json()
    assert world.http.get("/oidc/userinfo", headers=bearer(body["id_token"])).status_code == 401
    # Nor is an institution's API token (client credentials).
    api = rp.api_token()
    assert world.http.get("/oidc/userinfo", headers=api).status_code == 401


def test_a_concurrent_double_exchange_gives_exactly_one_token(
    world: World, rp: RelyingParty, wallet: Wallet
) -> None:
    login, code = code_for(world, rp, wallet)
    # Each thread its own client (and assertion) over the same app and database.
    clients = [browser_for(world), browser_for(world)]
    forms = [
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": login.redirect_uri,
            "code_verifier": login.verifier,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": rp.assertion(),
        }
        for _ in clients
    ]
    barrier = threading.Barrier(len(clients))
    answers: list[Any] = [None] * len(clients)

    def exchange(i: int) -> None:
        barrier.wait()
        answers[i] = clients[i].post("/oauth2/token", data=forms[i])

    threads = [threading.Thread(target=exchange, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, 400], [a.text for a in answers]
    loser = next(a for a in answers if a.status_code == 400)
    assert error_of(loser) == "invalid_grant"


# -- the signed request object (RFC 9101) --------------------------------------------------------
def request_object(world: World, rp: RelyingParty, **claims: Any) -> str:
    now = int(world.clock.now().timestamp())
    body: dict[str, Any] = {
        "iss": rp.client_id,
        "aud": world.container.oidc_issuer(),
        "iat": now,
        "exp": now + 120,
        "client_id": rp.client_id,
        "redirect_uri": rp.redirect_uri,
        "response_type": "code",
        "scope": "openid",
        **claims,
    }
    return oidc_jwt.encode_jws(body, key=rp.key, kid="k1", typ="oauth-authz-req+jwt")


def test_a_signed_request_object_is_honoured_and_its_nonce_wins(
    world: World, rp: RelyingParty, wallet: Wallet
) -> None:
    verifier = "v" * 50
    token = request_object(
        world,
        rp,
        nonce="from-the-request-object",
        code_challenge=s256(verifier),
        code_challenge_method="S256",
        state="signed-state",
    )
    browser = browser_for(world)
    # The query's own PKCE is overridden too: only the request object's verifier works.
    login, consent_url = wallet_login(
        world, rp, wallet, browser, request=token, nonce="from-the-query"
    )
    done = finish(browser, consent_url)
    assert done.status_code == 303, done.text
    back = query_of(done.headers["location"])
    assert back["state"] == "signed-state"
    assert rp.token(back["code"], login).status_code == 400  # the query's verifier: no
    login.verifier = verifier
    tokens = rp.token(back["code"], login)
    assert tokens.status_code == 200, tokens.text
    assert payload_of(tokens.json()["id_token"])["nonce"] == "from-the-request-object"


def test_an_error_after_the_request_object_echoes_its_state(world: World, rp: RelyingParty) -> None:
    """RFC 9101 §5: the request object's parameters win, its state too, also for the error
    about something else in the request (here: PKCE plain)."""
    token = request_object(
        world, rp, state="signed-state", code_challenge="x" * 43, code_challenge_method="plain"
    )
    login, answer = rp.authorize(world.http, request=token)
    back = query_of(answer.headers["location"])
    assert back["error"] == "invalid_request"
    assert back["state"] == "signed-state" != login.state


def test_a_state_too_long_to_store_is_refused_and_not_echoed(
    world: World, rp: RelyingParty
) -> None:
    _, answer = rp.authorize(world.http, state="s" * 1025)
    assert answer.status_code == 303
    back = query_of(answer.headers["location"])
    assert back["error"] == "invalid_request" and "state" not in back
    login, answer = rp.authorize(world.http, state="s" * 1024)
    assert login.location.startswith("/oidc/login/")


@pytest.mark.parametrize("name", ["state", "nonce", "purpose", "acr_values", "ui_locales"])
def test_a_nul_in_a_parameter_is_invalid_request(world: World, rp: RelyingParty, name: str) -> None:
    login, answer = rp.authorize(world.http, **{name: "a\x00b"})
    assert answer.status_code == 303, answer.text
    back = query_of(answer.headers["location"])
    assert back["error"] == "invalid_request"
    assert back.get("state") == (None if name == "state" else login.state)


def tamper(token: str, **changes: Any) -> str:
    header, _, signature = token.split(".")
    claims = payload_of(token) | changes
    raw = json.dumps(claims, separators=(",", ":")).encode()
    forged = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return ".".join((header, forged, signature))


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda w, rp: tamper(request_object(w, rp), nonce="forged"), id="tampered"),
        pytest.param(
            lambda w, rp: request_object(w, rp, aud="https://someone-else.example"), id="aud"
        ),
        pytest.param(lambda w, rp: request_object(w, rp, iss="somebody"), id="iss"),
        pytest.param(
            lambda w, rp: request_object(w, rp, exp=int(w.clock.now().timestamp()) + 3600),
            id="lifetime",
        ),
        pytest.param(
            lambda w, rp: request_object(
                w,
                rp,
                iat=int(w.clock.now().timestamp()) - 600,
                exp=int(w.clock.now().timestamp()) - 400,
            ),
            id="expired",
        ),
        pytest.param(
            lambda w, rp: request_object(w, rp, redirect_uri=f"https://{rp.host}/other"),
            id="redirect_uri",
        ),
        pytest.param(lambda w, rp: request_object(w, rp).rsplit(".", 1)[0] + ".", id="unsigned"),
    ],
)
def test_a_bad_request_object_is_invalid_request_object(
    world: World, rp: RelyingParty, make: Any
) -> None:
    login, answer = rp.authorize(world.http, request=make(world, rp))
    assert answer.status_code == 303, answer.text
    assert login.location.startswith(rp.redirect_uri)
    back = query_of(login.location)
    assert back["error"] == "invalid_request_object"
    assert back["state"] == login.state
    assert back["iss"] == world.container.oidc_issuer()


def test_a_request_object_signed_by_another_client_is_refused(
    world: World, rp: RelyingParty
) -> None:
    other = RelyingParty(world, host="rp-b.example")
    token = request_object(world, other, iss=rp.client_id, client_id=rp.client_id)
    _, answer = rp.authorize(world.http, request=token)
    assert query_of(answer.headers["location"])["error"] == "invalid_request_object"


def test_the_request_objects_client_id_must_be_the_querys(
    world: World, rp: RelyingParty, wallet: Wallet
) -> None:
    other = RelyingParty(world, host="rp-b.example")
    # Signed by rp, but naming the other client: the query's client is rp.
    token = request_object(world, rp, client_id=other.client_id)
    _, answer = rp.authorize(world.http, request=token)
    assert query_of(answer.headers["location"])["error"] == "invalid_request_object"


def test_an_authorize_without_a_browser_cookie_jar_still_works(
    world: World, rp: RelyingParty
) -> None:
    """A new browser gets its cookie at the authorization endpoint (SameSite=Lax, HttpOnly)."""
    browser = TestClient(world.http.app, base_url=str(world.http.base_url))
    _, answer = rp.authorize(browser)
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"]
    assert "netid_b=" in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()


# -- bad input never 500s ----------------------------------------------------------------------
def _random_strings(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    alphabet = [chr(c) for c in (*range(0x20, 0x7F), *range(0xA0, 0x250), 0x3000, 0x4E2D, 0xFEFF)]
    alphabet += ["\x00", "\t", "\n", "\r", "\u202e", "\U0001f642", "%", "&", "=", "+", "#"]
    return ["".join(rng.choices(alphabet, k=rng.randrange(1, 80))) for _ in range(count)]


GARBAGE: list[str] = [
    "",
    " ",
    "\x00",
    "\x7f",
    "%",
    "%00",
    "%zz",
    "'\"<>&;",
    "é",
    "中文",
    "\U0001f642",
    "\u202e",
    "a" * 3000,
    "null",
    "[]",
    "{}",
    "-1",
    "1e309",
    "99999999999999999999",
    "0x10",
    "none login",
    "L9 L0",
    "openid " * 300,
    "https://evil.example/",
    "javascript:alert(1)",
    "eyJhbGciOiJub25lIn0.eyJ9.",
    "eyJ.eyJ.sig",
    "...",
    "a.b.c.d.e",
    *_random_strings(6, 12),
]
AUTHORIZE_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "acr_values",
    "ui_locales",
    "purpose",
    "request",
    "request_uri",
    "claims",
    "login_hint",
    "id_token_hint",
    "response_mode",
)


def never_500(answer: Any, *allowed: int) -> None:
    # TestClient re-raises server exceptions, so an unhandled error fails before this; an
    # error the app turns into its 500 answer (a database refusal) fails here.
    assert answer.status_code < 500, (answer.request.method, str(answer.request.url)[:200])
    if allowed:
        assert answer.status_code in allowed, (answer.status_code, answer.text[:300])


def test_garbage_in_every_authorize_parameter_is_a_4xx_or_a_redirect(
    world: World, rp: RelyingParty
) -> None:
    base = {
        "response_type": "code",
        "client_id": rp.client_id,
        "redirect_uri": rp.redirect_uri,
        "scope": "openid",
        "state": "s",
        "code_challenge": s256("v" * 50),
        "code_challenge_method": "S256",
    }
    browser = browser_for(world)
    for name in AUTHORIZE_PARAMS:
        for value in GARBAGE:
            params = {**base, name: value}
            answer = browser.get("/oidc/authorize", params=params, follow_redirects=False)
            assert answer.status_code < 500, (name, value[:40], answer.text)
            never_500(answer, 303, 400)
            if answer.status_code == 303:
                location = answer.headers["location"]
                assert location.startswith(("/oidc/login/", rp.redirect_uri)), (name, value)
            else:
                assert "location" not in answer.headers
        # The same as a form post, for a few values.
        for value in GARBAGE[:8]:
            answer = browser.post(
                "/oidc/authorize", data={**base, name: value}, follow_redirects=False
            )
            never_500(answer, 303, 400)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "%",
        "%ff%fe",
        "client_id=%ff&redirect_uri=%fe",
        "=&=&&&",
        "client_id&redirect_uri",
        "client_id=a&client_id=b",
        "redirect_uri=x&redirect_uri=y",
        "a=" + "%41" * 4000,
        "&".join(f"p{i}=1" for i in range(300)),
    ],
)
def test_raw_garbage_queries_at_authorize_are_4xx(world: World, rp: RelyingParty, raw: str) -> None:
    never_500(world.http.get("/oidc/authorize?" + raw, follow_redirects=False), 303, 400)
    never_500(
        world.http.post(
            "/oidc/authorize",
            content=raw.encode("latin-1"),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            follow_redirects=False,
        ),
        303,
        400,
    )


def test_garbage_at_the_token_endpoint_is_400_or_401(
    world: World, rp: RelyingParty, wallet: Wallet
) -> None:
    login, code = code_for(world, rp, wallet)
    base = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": login.redirect_uri,
        "code_verifier": login.verifier,
        "client_assertion_type": ASSERTION_TYPE,
    }
    # (scope is ignored at this grant, RFC 6749 §4.1.3: garbage there is not an error)
    fields = (*base, "client_assertion", "client_id")
    for name in fields:
        for value in GARBAGE:
            form = {**base, "client_assertion": rp.assertion(), name: value}
            answer = world.http.post("/oauth2/token", data=form)
            never_500(answer, 400, 401)
            assert set(answer.json()) == {"error", "error_description"}
    for body, content_type in [
        (b"\xff\xfe", "application/x-www-form-urlencoded"),
        (b"a=%zz", "application/x-www-form-urlencoded"),
        (b"=&=&", "application/x-www-form-urlencoded"),
        (b"grant_type=authorization_code&code=1&code=2", "application/x-www-form-urlencoded"),
        (b"x" * 20000, "application/x-www-form-urlencoded"),
        (b'{"grant_type": "authorization_code"}', "application/json"),
        (b"grant_type=authorization_code", "multipart/form-data; boundary=x"),
        (b"grant_type=authorization_code", ""),
    ]:
        never_500(
            world.http.post("/oauth2/token", content=body, headers={"Content-Type": content_type}),
            400,
            401,
        )
    form = {k: v for k, v in base.items() if not k.startswith("client_assertion")}
    for header in [
        "Basic",
        "Basic ",
        "Basic !!!!",
        "Basic " + base64.b64encode(b"nocolon").decode(),
        "Basic " + base64.b64encode(b":").decode(),
        "Basic " + base64.b64encode(b":secret").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
        "Basic " + base64.b64encode(b"%zz:%zz").decode(),
        "Basic " + base64.b64encode(b"\x00:x").decode(),
        "Basic " + base64.b64encode(b"%00:x").decode(),
        "Basic " + base64.b64encode("中文:x".encode()).decode(),
        "Basic " + base64.b64encode(("x" * 5000 + ":y").encode()).decode(),
        "Basic " + base64.b64encode(f"{rp.client_id}:\x00".encode()).decode(),
        "Basic " + "A" * 10000,
        "Bearer abc",
        "Digest x",
    ]:
        answer = world.http.post("/oauth2/token", data=form, headers={"Authorization": header})
        never_500(answer, 400, 401)
    # The code survived all of it.
    assert rp.token(code, login).status_code == 200


def test_garbage_at_userinfo_is_401(world: World, rp: RelyingParty, wallet: Wallet) -> None:
    login, code = code_for(world, rp, wallet)
    access = rp.token(code, login).json()["access_token"]
    forged = [
        access[:12] + ("A" if access[12] != "A" else "B") + access[13:],
        access + ".x",
        access.replace(".", "..", 1),
        "nat1." + "A" * 100,
    ]
    headers: list[bytes] = [
        b"",
        b"Bearer",
        b"Bearer ",
        b"Bearer  " + access.encode(),
        b"bearer a b",
        b"Basic " + base64.b64encode(b"a:b"),
        b"Bearer \xe9\xff",
        b"Bearer " + b"A" * 20000,
        *(b"Bearer " + f.encode() for f in forged),
        *(
            b"Bearer " + g.encode("utf-8").replace(b"\x00", b"")
            for g in GARBAGE
            if "\n" not in g and "\r" not in g
        ),
    ]
    for header in headers:
        for method in ("GET", "POST"):
            answer = world.http.request(
                method, "/oidc/userinfo", headers={b"Authorization": header}
            )
            never_500(answer, 400, 401)
    for value in [*GARBAGE, *forged]:
        answer = world.http.post("/oidc/userinfo", data={"access_token": value})
        never_500(answer, 400, 401)
    assert world.http.get("/oidc/userinfo", headers=bearer(access)).status_code == 200


def test_garbage_in_the_browser_forms_and_paths_is_4xx(world: World, wallet: Wallet) -> None:
    rp = RelyingParty(
        world, host="bank.example", industry="banking_finance", purposes=("account_opening",)
    )
    browser = browser_for(world)
    login, consent_url = wallet_login(world, rp, wallet, browser, scope="openid age identity")
    # With decision=approve and garbage ticks the page comes again (400: a tick is missing).
    for name in ("claim", "remember", "lang"):
        for value in GARBAGE:
            form = {"decision": "approve", name: value}
            answer = browser.post(consent_url, data=form, follow_redirects=False)
            never_500(answer, 400)
    # Any other decision is a denial, which ends the transaction: a few, each on a new one.
    for value in GARBAGE[:6]:
        answer = browser.post(consent_url, data={"decision": value}, follow_redirects=False)
        never_500(answer, 303)
        assert query_of(answer.headers["location"])["error"] == "access_denied"
        assert browser.post(consent_url, data={"decision": "approve"}).status_code == 403
        browser = browser_for(world)
        login, consent_url = wallet_login(world, rp, wallet, browser, scope="openid age identity")
    for body in (b"\xff\xfe", b"%", b"claim=" + b"x" * 70000):
        answer = browser.post(
            consent_url,
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            follow_redirects=False,
        )
        never_500(answer, 200, 303, 400, 403, 404)
    # The password forms of a new transaction.
    browser = browser_for(world)
    login, _ = rp.authorize(browser)
    for name in ("document_number", "password"):  # each costs an argon2id hash: a few
        for value in ("", "\x00", "%zz", "中文", "a" * 3000, GARBAGE[-1]):
            form = {"document_number": "x", "password": "y", name: value}
            answer = browser.post(login.location + "/password", data=form)
            never_500(answer, 401, 400)
    for name in ("challenge_id", "code"):
        for value in GARBAGE:
            form = {"challenge_id": "A" * 22, "code": "123456", name: value}
            answer = browser.post(login.location + "/password/code", data=form)
            never_500(answer, 401, 400)
    # Garbage transaction ids and handles in the paths.
    for value in GARBAGE:
        segment = quote(value, safe="") or "x"
        for path in (
            f"/oidc/login/{segment}",
            f"/oidc/login/{segment}/status",
            f"/oidc/login/{segment}/password",
            f"/oidc/consent/{segment}",
        ):
            never_500(browser.get(path, follow_redirects=False), 400, 403, 404)
        for path in (f"/oidc/consent/{segment}", f"/oidc/login/{segment}/password"):
            never_500(browser.post(path, data={"decision": "approve"}), 400, 401, 403, 404)
        answer = world.http.get(f"/v1/wallet/logins/{segment}", headers=wallet.bearer())
        never_500(answer, 400, 403, 404)
        answer = world.http.post(
            f"/v1/wallet/logins/{segment}", json={"decision": "approve"}, headers=wallet.bearer()
        )
        never_500(answer, 400, 403, 404, 422)
    for value in GARBAGE:
        answer = world.http.get(
            "/oidc/logout",
            params={
                "id_token_hint": value,
                "client_id": value,
                "post_logout_redirect_uri": value,
                "state": value,
            },
            follow_redirects=False,
        )
        never_500(answer, 200)
