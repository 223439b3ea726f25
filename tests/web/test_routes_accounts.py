"""``/accounts/password`` against the real app: the set-up flow, CSRF, bad input → the form
again with 400, the same page for registered and unregistered numbers, zh-CN / en."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from netid.config import Settings
from netid.web.i18n import MESSAGES
from netid.web.pages import SECURITY_HEADERS
from netid.web.routes_accounts import CSRF_COOKIE
from tests.accounts.support import PASSWORD, World, make_world, unregistered_number
from tests.conftest import Backend

pytestmark = pytest.mark.db
PATH = "/accounts/password"


@pytest.fixture
def world(settings: Settings, db: Backend) -> World:
    return make_world(settings, db)


@pytest.fixture
def http(world: World) -> TestClient:
    return world.http()


def hidden(html: str, name: str) -> str:
    found = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)">', html)
    assert found is not None, name
    return found.group(1)


def start(http: TestClient, number: str, lang: str = "zh-CN") -> str:
    page = http.get(PATH, params={"lang": lang})
    assert page.status_code == 200
    answer = http.post(
        f"{PATH}?lang={lang}",
        data={"csrf": hidden(page.text, "csrf"), "step": "start", "document_number": number},
    )
    assert answer.status_code == 200, answer.text
    return answer.text


def finish(
    http: TestClient,
    page: str,
    code: str,
    password: str = PASSWORD,
    again: str | None = None,
    lang: str = "zh-CN",
    csrf: str | None = None,
) -> object:
    return http.post(
        f"{PATH}?lang={lang}",
        data={
            "csrf": csrf or hidden(page, "csrf"),
            "step": "finish",
            "setup_id": hidden(page, "setup_id"),
            "code": code,
            "password": password,
            "password_again": password if again is None else again,
        },
    )


def test_the_form_page(http: TestClient) -> None:
    page = http.get(PATH)
    assert page.status_code == 200
    for name, value in SECURITY_HEADERS.items():
        assert page.headers[name] == value
    assert '<html lang="zh-CN">' in page.text and MESSAGES["account.title"]["zh-CN"] in page.text
    cookie = page.headers["set-cookie"]
    assert cookie.startswith(f"{CSRF_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/accounts" in cookie
    assert http.cookies[CSRF_COOKIE] == hidden(page.text, "csrf")
    # The token stays for the browser's next visit.
    assert hidden(http.get(PATH).text, "csrf") == http.cookies[CSRF_COOKIE]
    english = http.get(PATH, headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert '<html lang="en">' in english.text and "Set a login password" in english.text
    assert 'href="/accounts/password?lang=zh-CN"' in english.text


def test_setting_a_password_end_to_end(world: World, http: TestClient) -> None:
    page = start(http, world.number("alice"), lang="en")
    assert "If this number is registered with a phone, a code was sent" in page
    assert world.phone("alice") not in page and "****" not in page  # no hint on the page
    done = finish(http, page, world.last_code(world.phone("alice")), lang="en")
    assert done.status_code == 200, done.text  # type: ignore[attr-defined]
    assert "Password set" in done.text  # type: ignore[attr-defined]
    challenge = world.run(lambda s: s.start_login(world.number("alice"), PASSWORD))
    code = world.last_code(world.phone("alice"))
    person = world.run(lambda s: s.finish_login(challenge.challenge_id, code))
    assert person.person_id == world.person_id("alice")


def test_a_registered_and_an_unregistered_number_get_the_same_page(
    world: World, http: TestClient
) -> None:
    def normalised(html: str) -> str:
        html = html.replace(hidden(html, "setup_id"), "S")
        return html.replace(hidden(html, "csrf"), "C")

    registered = start(http, world.number("alice"))
    unregistered = start(http, unregistered_number())
    without_phone = start(http, world.number("nophone"))
    assert normalised(registered) == normalised(unregistered) == normalised(without_phone)
    assert world.sms_count() == 1


def test_csrf_is_checked(world: World, http: TestClient) -> None:
    page = http.get(PATH)
    token = hidden(page.text, "csrf")
    body = {"step": "start", "document_number": world.number("alice")}
    cases = [
        {**body},  # no token in the form
        {**body, "csrf": "x" * 43},  # not the cookie's
    ]
    for data in cases:
        answer = http.post(PATH, data=data)
        assert answer.status_code == 400
        assert MESSAGES["account.error.form"]["zh-CN"] in answer.text
    # The right field without the cookie (a cross-site post carries no SameSite=Strict cookie).
    other = TestClient(http.app)
    answer = other.post(PATH, data={**body, "csrf": token})
    assert answer.status_code == 400
    assert world.sms_count() == 0
    # A refused form gives a fresh token that works.
    fresh = hidden(answer.text, "csrf")
    assert other.cookies[CSRF_COOKIE] == fresh
    assert other.post(PATH, data={**body, "csrf": fresh}).status_code == 200
    assert world.sms_count() == 1


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("", "account.error.document_number"),
        ("12345", "account.error.document_number"),
        ("11010519491231002Y", "account.error.document_number"),
        ("1" * 65, "account.error.document_number"),
        ("1" * 300, "account.error.form"),  # over the field limit: not a form we accept
    ],
)
def test_a_bad_number_shows_the_form_again(
    world: World, http: TestClient, number: str, message: str
) -> None:
    token = hidden(http.get(PATH).text, "csrf")
    answer = http.post(PATH, data={"csrf": token, "step": "start", "document_number": number})
    assert answer.status_code == 400
    assert MESSAGES[message]["zh-CN"] in answer.text
    assert 'aria-invalid="true"' in answer.text or message == "account.error.form"
    assert world.sms_count() == 0


def test_malformed_posts_are_400_pages(http: TestClient) -> None:
    token = hidden(http.get(PATH).text, "csrf")
    for kwargs in (
        {"json": {"csrf": token, "step": "start"}},
        {"content": b"csrf=" + token.encode() + b"&step=\xff", "headers": _form},
        {"content": b"", "headers": _form},
        {"data": {"csrf": token, "step": "nonsense"}},
        {"data": {"csrf": token}},
    ):
        answer = http.post(PATH, **kwargs)  # type: ignore[arg-type]
        assert answer.status_code == 400, kwargs
        assert answer.headers["content-type"].startswith("text/html")
        assert answer.headers["content-security-policy"]


_form = {"content-type": "application/x-www-form-urlencoded"}


def test_step_two_errors_keep_the_code_usable(world: World, http: TestClient) -> None:
    page = start(http, world.number("alice"))
    code = world.last_code(world.phone("alice"))
    mismatch = finish(http, page, code, again=PASSWORD + "!")
    assert mismatch.status_code == 400  # type: ignore[attr-defined]
    assert MESSAGES["account.error.password_mismatch"]["zh-CN"] in mismatch.text  # type: ignore[attr-defined]
    weak = finish(http, page, code, password="1234567890")
    assert weak.status_code == 400  # type: ignore[attr-defined]
    assert MESSAGES["account.error.password_weak"]["zh-CN"] in weak.text  # type: ignore[attr-defined]
    as_number = finish(http, page, code, password=f"my{world.number('alice')}")
    assert as_number.status_code == 400  # type: ignore[attr-defined]
    wrong_code = f"{(int(code) + 1) % 1_000_000:06d}"
    wrong = finish(http, page, wrong_code)
    assert wrong.status_code == 400  # type: ignore[attr-defined]
    assert MESSAGES["account.error.code"]["zh-CN"] in wrong.text  # type: ignore[attr-defined]
    # The re-shown page carries the same set-up: the right code still works.
    done = finish(http, wrong.text, code)  # type: ignore[attr-defined]
    assert done.status_code == 200  # type: ignore[attr-defined]
    # The done page gave a fresh token: the old form is refused as a stale form ...
    stale = finish(http, page, code)
    assert stale.status_code == 400  # type: ignore[attr-defined]
    assert MESSAGES["account.error.form"]["zh-CN"] in stale.text  # type: ignore[attr-defined]
    # ... and with the current token the spent code sends the person back to the start.
    again = finish(http, page, code, csrf=http.cookies[CSRF_COOKIE])
    assert again.status_code == 400  # type: ignore[attr-defined]
    assert MESSAGES["account.error.code_spent"]["zh-CN"] in again.text  # type: ignore[attr-defined]
    assert 'name="document_number"' in again.text  # type: ignore[attr-defined]


def test_a_forged_setup_id_is_a_400_page(http: TestClient) -> None:
    page = http.get(PATH).text
    token = hidden(page, "csrf")
    for setup_id in ("", "x" * 22, "<script>" + "x" * 14, "x" * 300):
        answer = http.post(
            PATH,
            data={
                "csrf": token,
                "step": "finish",
                "setup_id": setup_id,
                "code": "123456",
                "password": PASSWORD,
                "password_again": PASSWORD,
            },
        )
        assert answer.status_code == 400
        assert "<script>" not in answer.text
