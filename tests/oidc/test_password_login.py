"""Logging in without a wallet (docs/decisions/0006 "Without a wallet"): a password set at
``/accounts/password`` with a code to the registry phone, then document number + password +
a phone code at ``/oidc/login/{txn}/password``; acr L1, amr pwd+sms."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from netid.config import Settings
from tests.conftest import Backend
from tests.enrolment.support import World, make_world
from tests.oidc.support import Login, RelyingParty, browser_for, payload_of_jwt, query_of
from tests.registry.factories import person_record

PASSWORD = "correct horse battery"
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')
SETUP_RE = re.compile(r'name="setup_id" value="([^"]+)"')
CHALLENGE_RE = re.compile(r'name="challenge_id" value="([^"]+)"')
MESSAGE_RE = re.compile(r'<p class="message" role="alert">([^<]*)</p>')


@pytest.fixture
def world(settings: Settings, db: Backend) -> World:
    return make_world(settings, db)


@pytest.fixture
def rp(world: World) -> RelyingParty:
    return RelyingParty(world, host="rp-a.example")


def set_password(world: World, who: str, password: str = PASSWORD) -> None:
    """Through the pages, as the person would: number → code by SMS → password twice."""
    browser = browser_for(world)
    form = browser.get("/accounts/password")
    assert form.status_code == 200
    found = CSRF_RE.search(form.text)
    assert found
    csrf = found.group(1)
    code_page = browser.post(
        "/accounts/password",
        data={"csrf": csrf, "step": "start", "document_number": world.number(who)},
    )
    assert code_page.status_code == 200, code_page.text
    setup = SETUP_RE.search(code_page.text)
    assert setup
    done = browser.post(
        "/accounts/password",
        data={
            "csrf": csrf,
            "step": "finish",
            "setup_id": setup.group(1),
            "code": world.last_code(),
            "password": password,
            "password_again": password,
        },
    )
    assert done.status_code == 200, done.text
    with world.container.transaction(write=False) as session:
        assert world.container.accounts(session).has_account(world.person_id(who))


def start(rp: RelyingParty, browser: TestClient, **extra: str) -> Login:
    login: Login
    login, answer = rp.authorize(browser, **extra)
    assert answer.status_code == 303 and login.location.startswith("/oidc/login/")
    return login


def password_form(browser: TestClient, login: Login, number: str, password: str = PASSWORD) -> Any:
    return browser.post(
        login.location + "/password",
        data={"document_number": number, "password": password},
        follow_redirects=False,
    )


def message_of(page: Any) -> str:
    found = MESSAGE_RE.search(page.text)
    assert found, page.text
    return found.group(1)


def unknown_number() -> str:
    """A well-formed resident ID number nobody in the world's registry holds."""
    return str(person_record(random.Random(4711))["documents"][0]["number"])


def test_a_password_login_gives_an_l1_id_token_with_pwd_and_sms(
    world: World, rp: RelyingParty
) -> None:
    set_password(world, "stranger")
    browser = browser_for(world)
    login = start(rp, browser, scope="openid age")
    page = browser.get(login.location + "/password")
    assert page.status_code == 200 and 'name="password"' in page.text
    code_page = password_form(browser, login, world.number("stranger"))
    assert code_page.status_code == 200, code_page.text
    found = CHALLENGE_RE.search(code_page.text)
    assert found
    sms = world.last_code()
    moved = browser.post(
        login.location + "/password/code",
        data={"challenge_id": found.group(1), "code": sms},
        follow_redirects=False,
    )
    assert moved.status_code == 303, moved.text
    consent_url = moved.headers["location"]
    assert consent_url.startswith("/oidc/consent/")
    page = browser.get(consent_url)
    assert page.status_code == 200
    done = browser.post(consent_url, data={"decision": "approve"}, follow_redirects=False)
    assert done.status_code == 303, done.text
    back = query_of(done.headers["location"])
    assert back["state"] == login.state
    tokens = rp.token(back["code"], login)
    assert tokens.status_code == 200, tokens.text
    claims = payload_of_jwt(tokens.json()["id_token"])
    assert claims["acr"] == "L1" and claims["amr"] == ["pwd", "sms"]
    assert claims["nonce"] == login.nonce
    # The same pseudonym a verification by document number gives this institution.
    assert claims["sub"] == rp.pseudonym_of("stranger")
    info = world.http.get(
        "/oidc/userinfo", headers={"Authorization": f"Bearer {tokens.json()['access_token']}"}
    )
    assert info.status_code == 200 and info.json()["age_over_18"] is True
    # The code was spent: a second use of it is refused.
    again = browser.post(
        login.location + "/password/code",
        data={"challenge_id": found.group(1), "code": sms},
        follow_redirects=False,
    )
    assert again.status_code in (401, 403, 404)


def test_a_wrong_password_looks_like_an_unknown_number(world: World, rp: RelyingParty) -> None:
    set_password(world, "stranger")
    sent = world.sms_count()
    browser = browser_for(world)
    login = start(rp, browser)
    wrong = password_form(browser, login, world.number("stranger"), "not the password!")
    unknown = password_form(browser, login, unknown_number())
    no_account = password_form(browser, login, world.number("adult"))
    malformed = password_form(browser, login, "12345")
    for page in (wrong, unknown, no_account, malformed):
        assert page.status_code == 401, page.text
        assert 'name="password"' in page.text  # the form again
    messages = {message_of(p) for p in (wrong, unknown, no_account, malformed)}
    assert len(messages) == 1 and messages != {""}
    assert world.number("stranger") not in wrong.text  # the number is not echoed
    assert world.sms_count() == sent  # no code went out
    # The transaction is still usable: the right password moves on.
    assert password_form(browser, login, world.number("stranger")).status_code == 200


def test_five_wrong_passwords_lock_the_account_silently(world: World, rp: RelyingParty) -> None:
    set_password(world, "stranger")
    browser = browser_for(world)
    login = start(rp, browser)
    for _ in range(5):
        assert (
            password_form(browser, login, world.number("stranger"), "wrong wrong!").status_code
            == 401
        )
    locked = password_form(browser, login, world.number("stranger"))
    assert locked.status_code == 401
    assert message_of(locked) == message_of(password_form(browser, login, unknown_number()))


def test_a_wrong_sms_code_shows_the_code_form_again(world: World, rp: RelyingParty) -> None:
    set_password(world, "stranger")
    browser = browser_for(world)
    login = start(rp, browser)
    code_page = password_form(browser, login, world.number("stranger"))
    found = CHALLENGE_RE.search(code_page.text)
    assert found
    right = world.last_code()
    wrong = "000000" if right != "000000" else "111111"
    again = browser.post(
        login.location + "/password/code",
        data={"challenge_id": found.group(1), "code": wrong},
        follow_redirects=False,
    )
    assert again.status_code == 401 and 'name="code"' in again.text
    assert found.group(1) in again.text  # the challenge is carried on
    moved = browser.post(
        login.location + "/password/code",
        data={"challenge_id": found.group(1), "code": right},
        follow_redirects=False,
    )
    assert moved.status_code == 303


def test_the_password_forms_are_bound_to_the_browser(world: World, rp: RelyingParty) -> None:
    set_password(world, "stranger")
    browser = browser_for(world)
    login = start(rp, browser)
    other = browser_for(world)
    assert other.get(login.location + "/password").status_code == 404
    sent = world.sms_count()
    assert password_form(other, login, world.number("stranger")).status_code == 404
    assert world.sms_count() == sent


def test_acr_values_above_l1_refuse_the_password_path(world: World, rp: RelyingParty) -> None:
    set_password(world, "stranger")
    sent = world.sms_count()
    browser = browser_for(world)
    login = start(rp, browser, acr_values="L2")
    refused = password_form(browser, login, world.number("stranger"))
    assert refused.status_code == 403, refused.text
    assert "assurance_insufficient" in refused.text
    assert world.sms_count() == sent  # refused before a code is sent
