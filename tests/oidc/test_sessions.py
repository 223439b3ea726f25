"""Consent, the provider's browser session and ``prompt``, RP-initiated logout, and the login
as a verification (access record, quota, charge, locks, frozen institutions, minors) —
docs/decisions/0006 "Consent", "Logging in", "Completion"."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from netid.audit.models import AccessRecord
from netid.billing.models import Charge
from netid.config import Settings
from netid.oidc.models import OidcSession
from tests.conftest import Backend
from tests.enrolment.support import World, make_world
from tests.oidc.support import (
    RelyingParty,
    bearer,
    browser_for,
    code_for,
    finish,
    handle_of,
    query_of,
    wallet_login,
)
from tests.verification.test_qr import Wallet

SESSION_COOKIE = "netid_op"


@pytest.fixture
def world(settings: Settings, db: Backend) -> World:
    return make_world(settings, db)


@pytest.fixture
def rp(world: World) -> RelyingParty:
    return RelyingParty(world, host="rp-a.example")


@pytest.fixture
def wallet(world: World) -> Wallet:
    return Wallet(world, "adult")


def consents(world: World, wallet: Wallet) -> list[dict[str, Any]]:
    answer = world.http.get("/v1/me/consents", headers=wallet.bearer())
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["consents"]
    return found


def login_on_page(browser: TestClient, location: str) -> str:
    """The wallet handle shown on the login page at ``location``."""
    page = browser.get(location)
    assert page.status_code == 200, page.text
    return handle_of(page.text)


# -- consent -----------------------------------------------------------------------------------
def test_a_remembered_consent_skips_the_page_in_a_fresh_browser(
    world: World, rp: RelyingParty, wallet: Wallet
) -> None:
    first_login, first_code = code_for(
        world, rp, wallet, scope="openid age", consent={"remember": "yes"}
    )
    assert rp.token(first_code, first_login).status_code == 200
    (consent,) = consents(world, wallet)
    assert consent["state"] == "live"
    # Another browser (no provider session): the wallet approves again, the page is skipped.
    browser = browser_for(world)
    login, consent_url = wallet_login(world, rp, wallet, browser, scope="openid age")
    skipped = browser.get(consent_url, follow_redirects=False)
    assert skipped.status_code == 303, skipped.text
    back = query_of(skipped.headers["location"])
    assert back["state"] == login.state
    tokens = rp.token(back["code"], login)
    assert tokens.status_code == 200, tokens.text
    info = world.http.get("/oidc/userinfo", headers=bearer(tokens.json()["access_token"]))
    assert info.json()["age_over_18"] is True


def test_without_remember_the_page_is_shown_again(
    world: World, rp: RelyingParty, wallet: Wallet
) -> None:
    code_for(world, rp, wallet, scope="openid age")
    assert consents(world, wallet) == []
    browser = browser_for(world)
    _, consent_url = wallet_login(world, rp, wallet, browser, scope="openid age")
    assert browser.get(consent_url, follow_redirects=False).status_code == 200


def test_revoking_the_remembered_consent_before_the_token_request_is_invalid_grant(
    world: World, rp: RelyingParty, wallet: Wallet
) -> None:
    code_for(world, rp, wallet, scope="openid age", consent={"remember": "yes"})
    login, code = code_for(world, rp, wallet, scope="openid age")  # under the remembered one
    (consent,) = consents(world, wallet)
    revoked = world.http.delete(f"/v1/me/consents/{consent['id']}", headers=wallet.bearer())
    assert revoked.status_code == 200, revoked.text
    answer = rp.token(code, login)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
    # And the next login asks again.
    browser = browser_for(world)
    _, consent_url = wallet_login(world, rp, wallet, browser, scope="openid age")
    assert browser.get(consent_url, follow_redirects=False).status_code == 200


def test_prompt_consent_shows_the_page_despite_a_remembered_consent(
    world: World, rp: RelyingParty, wallet: Wallet
) -> None:
    code_for(world, rp, wallet, scope="openid age", consent={"remember": "yes"})
    browser = browser_for(world)
    _, consent_url = wallet_login(world, rp, wallet, browser, scope="openid age", prompt="consent")
    assert browser.get(consent_url, follow_redirects=False).status_code == 200


def test_a_remembered_consent_is_for_its_purpose_only(
    world: World, rp: RelyingParty, wallet: Wallet
) -> None:
    code_for(
        world,
        rp,
        wallet,
        scope="openid age",
        purpose="real_name_registration",
        consent={"remember": "yes"},
    )
    browser = browser_for(world)
    _, consent_url = wallet_login(
        world, rp, wallet, browser, scope="openid age", purpose="minor_protection"
    )
    assert browser.get(consent_url, follow_redirects=False).status_code == 200


def test_identity_claims_are_never_remembered(world: World, wallet: Wallet) -> None:
    bank = RelyingParty(
        world, host="bank.example", industry="banking_finance", purposes=("account_opening",)
    )
    ticks = {"claim": ["name", "document_type", "document_number"], "remember": "yes"}
    login, code = code_for(world, bank, wallet, scope="openid identity", consent=ticks)
    assert bank.token(code, login).status_code == 200
    assert consents(world, wallet) == []
    browser = browser_for(world)
    _, consent_url = wallet_login(world, bank, wallet, browser, scope="openid identity")
    page = browser.get(consent_url, follow_redirects=False)
    assert page.status_code == 200 and 'value="document_number"' in page.text


def test_denying_on_the_consent_page_is_access_denied_with_state(
    world: World, rp: RelyingParty, wallet: Wallet
) -> None:
    browser = browser_for(world)
    login, consent_url = wallet_login(world, rp, wallet, browser, scope="openid age")
    assert browser.get(consent_url).status_code == 200
    denied = browser.post(consent_url, data={"decision": "deny"}, follow_redirects=False)
    assert denied.status_code == 303
    assert denied.headers["location"].startswith(rp.redirect_uri)
    back = query_of(denied.headers["location"])
    assert back["error"] == "access_denied" and back["state"] == login.state
    assert "code" not in back
    # The transaction is over: the page cannot be approved afterwards.
    again = browser.post(consent_url, data={"decision": "approve"}, follow_redirects=False)
    assert again.status_code in (403, 404)


def test_denying_in_the_wallet_is_access_denied_at_the_rp(
    world: World, rp: RelyingParty, wallet: Wallet
) -> None:
    browser = browser_for(world)
    login, _ = rp.authorize(browser)
    handle = login_on_page(browser, login.location)
    denied = world.http.post(
        f"/v1/wallet/logins/{handle}", json={"decision": "deny"}, headers=wallet.bearer()
    )
    assert denied.status_code == 200 and denied.json()["status"] == "denied"
    status = browser.get(login.location + "/status").json()
    assert status["status"] == "denied"
    back = query_of(status["next"])
    assert back["error"] == "access_denied" and back["state"] == login.state


# -- the provider session and prompt ------------------------------------------------------------
def test_a_second_authorize_in_the_same_browser_skips_the_wallet(
    world: World, rp: RelyingParty, wallet: Wallet
) -> None:
    browser = browser_for(world)
    first_login, _ = code_for(world, rp, wallet, browser)
    assert browser.cookies.get(SESSION_COOKIE)
    # The same client again goes straight to consent (and on to the code) ...
    login, answer = rp.authorize(browser)
    assert answer.status_code == 303
    assert login.location.startswith("/oidc/consent/"), login.location
    done = finish(browser, login.location)
    back = query_of(done.headers["location"])
    assert done.headers["location"].startswith(rp.redirect_uri)
    tokens = rp.token(back["code"], login)
    assert tokens.status_code == 200, tokens.text
    assert first_login.state
    # ... but another institution, or plaintext identity, needs the person again: a login
    # approved once (perhaps on a phished QR code) opens nothing else (docs/decisions/0006).
    other = RelyingParty(world, host="rp-b.example")
    login, _ = other.authorize(browser)
    assert login.location.startswith("/oidc/login/"), login.location


def test_prompt_login_forces_the_login_page(world: World, rp: RelyingParty, wallet: Wallet) -> None:
    browser = browser_for(world)
    code_for(world, rp, wallet, browser)
    login, _ = rp.authorize(browser, prompt="login")
    assert login.location.startswith("/oidc/login/"), login.location


def test_prompt_none_without_a_session_is_login_required(world: World, rp: RelyingParty) -> None:
    login, answer = rp.authorize(browser_for(world), prompt="none")
    assert answer.status_code == 303
    assert login.location.startswith(rp.redirect_uri)
    back = query_of(login.location)
    assert back["error"] == "login_required" and back["state"] == login.state


def test_prompt_none_with_a_session_completes_without_a_page(
    world: World, rp: RelyingParty, wallet: Wallet
) -> None:
    browser = browser_for(world)
    code_for(world, rp, wallet, browser)
    login, _ = rp.authorize(browser, prompt="none")
    assert login.location.startswith("/oidc/consent/")
    done = browser.get(login.location, follow_redirects=False)
    assert done.status_code == 303
    assert "code" in query_of(done.headers["location"])


def test_prompt_none_when_consent_is_needed_is_consent_required(
    world: World, rp: RelyingParty, wallet: Wallet
) -> None:
    browser = browser_for(world)
    code_for(world, rp, wallet, browser)
    login, _ = rp.authorize(browser, prompt="none", scope="openid age")
    done = browser.get(login.location, follow_redirects=False)
    assert done.status_code == 303
    back = query_of(done.headers["location"])
    assert back["error"] == "consent_required" and back["state"] == login.state


def test_max_age_zero_forces_a_login_once_a_second_has_passed(
    world: World, rp: RelyingParty, wallet: Wallet
) -> None:
    browser = browser_for(world)
    code_for(world, rp, wallet, browser)
    world.clock.advance(dt.timedelta(seconds=1))
    login, _ = rp.authorize(browser, max_age="0")
    assert login.location.startswith("/oidc/login/"), login.location
    # A generous max_age still uses the session.
    login, _ = rp.authorize(browser, max_age="600")
    assert login.location.startswith("/oidc/consent/"), login.location


def test_the_session_ends_after_thirty_minutes(
    world: World, rp: RelyingParty, wallet: Wallet
) -> None:
    browser = browser_for(world)
    code_for(world, rp, wallet, browser)
    world.clock.advance(dt.timedelta(minutes=31))
    login, _ = rp.authorize(browser, prompt="none")
    assert query_of(login.location)["error"] == "login_required"


def test_acr_values_above_the_wallet_session_refuse_the_approval(
    world: World, rp: RelyingParty, wallet: Wallet
) -> None:
    browser = browser_for(world)
    login, _ = rp.authorize(browser, acr_values="L2")
    handle = login_on_page(browser, login.location)
    seen = world.http.get(f"/v1/wallet/logins/{handle}", headers=wallet.bearer())
    assert seen.json()["acr_min"] == "L2"
    refused = world.http.post(
        f"/v1/wallet/logins/{handle}", json={"decision": "approve"}, headers=wallet.bearer()
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "assurance_insufficient"
    assert browser.get(login.location + "/status").json()["status"] == "pending"


def test_an_l1_session_does_not_satisfy_a_later_l2_request(
    world: World, rp: RelyingParty, wallet: Wallet
) -> None:
    browser = browser_for(world)
    code_for(world, rp, wallet, browser)
    login, _ = rp.authorize(browser, acr_values="L2 L3")
    assert login.location.startswith("/oidc/login/"), login.location
    # "L1 L2": the lowest listed is the minimum, which the session meets.
    login, _ = rp.authorize(browser, acr_values="L2 L1")
    assert login.location.startswith("/oidc/consent/"), login.location


def test_rp_initiated_logout_goes_back_with_state_and_ends_the_session(
    world: World, rp: RelyingParty, wallet: Wallet
) -> None:
    browser = browser_for(world)
    login, code = code_for(world, rp, wallet, browser)
    id_token = rp.token(code, login).json()["id_token"]
    cookie = browser.cookies.get(SESSION_COOKIE)
    assert cookie
    bye = f"https://{rp.host}/bye"
    out = browser.get(
        "/oidc/logout",
        params={"id_token_hint": id_token, "post_logout_redirect_uri": bye, "state": "x"},
        follow_redirects=False,
    )
    assert out.status_code == 303, out.text
    assert out.headers["location"] == f"{bye}?state=x"
    login, _ = rp.authorize(browser, prompt="none")
    assert query_of(login.location)["error"] == "login_required"
    # Ended at the provider, not only forgotten by this browser: the old cookie is dead too.
    replay = browser_for(world)
    replay.cookies.set(SESSION_COOKIE, cookie)
    login, _ = rp.authorize(replay, prompt="none")
    assert query_of(login.location)["error"] == "login_required"
    with world.container.transaction(write=False) as session:
        (row,) = session.scalars(select(OidcSession)).all()
        assert row.ended_at is not None


def test_logout_with_client_id_instead_of_a_hint(
    world: World, rp: RelyingParty, wallet: Wallet
) -> None:
    browser = browser_for(world)
    code_for(world, rp, wallet, browser)
    out = browser.post(
        "/oidc/logout",
        data={"client_id": rp.client_id, "post_logout_redirect_uri": f"https://{rp.host}/bye"},
        follow_redirects=False,
    )
    assert out.status_code == 303 and out.headers["location"] == f"https://{rp.host}/bye"


def test_logout_accepts_an_expired_hint(world: World, rp: RelyingParty, wallet: Wallet) -> None:
    """RP-Initiated Logout 1.0 §2: the hint's expiry is not a reason to refuse."""
    browser = browser_for(world)
    login, code = code_for(world, rp, wallet, browser)
    id_token = rp.token(code, login).json()["id_token"]
    world.clock.advance(dt.timedelta(minutes=10))
    out = browser.get(
        "/oidc/logout",
        params={"id_token_hint": id_token, "post_logout_redirect_uri": f"https://{rp.host}/bye"},
        follow_redirects=False,
    )
    assert out.status_code == 303 and out.headers["location"] == f"https://{rp.host}/bye"


def test_logout_ends_the_session_a_single_sign_on_continued(
    world: World, rp: RelyingParty, wallet: Wallet
) -> None:
    browser = browser_for(world)
    code_for(world, rp, wallet, browser)
    first_cookie = browser.cookies.get(SESSION_COOKIE)
    login, _ = rp.authorize(browser)  # single sign-on
    finish(browser, login.location)
    assert browser.get("/oidc/logout").status_code == 200
    replay = browser_for(world)
    replay.cookies.set(SESSION_COOKIE, str(first_cookie))
    login, _ = rp.authorize(replay, prompt="none")
    assert query_of(login.location)["error"] == "login_required"


@pytest.mark.parametrize(
    "target", ["https://evil.example/bye", "https://rp-a.example/bye/", "https://rp-a.example/"]
)
def test_an_unregistered_post_logout_redirect_uri_is_not_followed(
    world: World, rp: RelyingParty, wallet: Wallet, target: str
) -> None:
    browser = browser_for(world)
    login, code = code_for(world, rp, wallet, browser)
    id_token = rp.token(code, login).json()["id_token"]
    out = browser.get(
        "/oidc/logout",
        params={"id_token_hint": id_token, "post_logout_redirect_uri": target, "state": "x"},
        follow_redirects=False,
    )
    assert out.status_code == 200 and "location" not in out.headers
    assert "text/html" in out.headers["content-type"]
    # The session still ended.
    login, _ = rp.authorize(browser, prompt="none")
    assert query_of(login.location)["error"] == "login_required"


def test_a_hint_of_one_client_does_not_open_anothers_logout_uri(
    world: World, rp: RelyingParty, wallet: Wallet
) -> None:
    other = RelyingParty(world, host="rp-b.example")
    browser = browser_for(world)
    login, code = code_for(world, rp, wallet, browser)
    id_token = rp.token(code, login).json()["id_token"]
    out = browser.get(
        "/oidc/logout",
        params={
            "id_token_hint": id_token,
            "client_id": other.client_id,
            "post_logout_redirect_uri": f"https://{other.host}/bye",
        },
        follow_redirects=False,
    )
    assert out.status_code == 200 and "location" not in out.headers


def test_a_forged_hint_opens_no_redirect(world: World, rp: RelyingParty) -> None:
    forged = "eyJhbGciOiJub25lIn0.eyJhdWQiOiJ4In0."
    out = world.http.get(
        "/oidc/logout",
        params={"id_token_hint": forged, "post_logout_redirect_uri": f"https://{rp.host}/bye"},
        follow_redirects=False,
    )
    assert out.status_code == 200 and "location" not in out.headers


# -- the login as a verification ---------------------------------------------------------------
def oidc_records(world: World) -> list[str]:
    with world.container.transaction(write=False) as session:
        return list(
            session.scalars(
                select(AccessRecord.outcome)
                .where(AccessRecord.action == "verification.oidc")
                .order_by(AccessRecord.log_index)
            )
        )


def oidc_canonical(world: World) -> list[str]:
    with world.container.transaction(write=False) as session:
        rows = session.scalars(
            select(AccessRecord.canonical)
            .where(AccessRecord.action == "verification.oidc")
            .order_by(AccessRecord.log_index)
        )
        return [bytes(r).decode() for r in rows]


def oidc_used(world: World, rp: RelyingParty) -> int:
    with world.container.transaction(write=False) as session:
        statuses = world.container.institutions(session).quota_status(rp.view.id)
    (oidc,) = [q for q in statuses if q.verification_type == "oidc"]
    return oidc.used


def charges(world: World, rp: RelyingParty) -> list[tuple[str, int]]:
    with world.container.transaction(write=False) as session:
        rows = session.execute(
            select(Charge.verification_type, Charge.price_fen).where(
                Charge.institution_id == rp.view.id
            )
        ).all()
    return sorted((t, p) for t, p in rows)


def test_each_login_is_recorded_counted_and_charged_once(
    world: World, rp: RelyingParty, wallet: Wallet
) -> None:
    assert oidc_records(world) == [] and oidc_used(world, rp) == 0
    for _ in range(2):
        login, code = code_for(world, rp, wallet)
        assert rp.token(code, login).status_code == 200
    assert oidc_records(world) == ["match", "match"]
    assert oidc_used(world, rp) == 2
    price = world.container.catalogue().price_fen(str(rp.view.price_plan), "oidc")
    assert price > 0
    assert charges(world, rp) == [("oidc", price), ("oidc", price)]
    # The ID token's sub is the receipt's pseudonym: userinfo reads it again, not counted.
    assert oidc_used(world, rp) == 2


def test_a_single_sign_on_login_is_counted_too(
    world: World, rp: RelyingParty, wallet: Wallet
) -> None:
    browser = browser_for(world)
    code_for(world, rp, wallet, browser)
    login, _ = rp.authorize(browser)
    done = finish(browser, login.location)
    assert "code" in query_of(done.headers["location"])
    assert oidc_records(world) == ["match", "match"] and oidc_used(world, rp) == 2


def test_an_exhausted_quota_is_temporarily_unavailable_and_free(
    world: World, wallet: Wallet
) -> None:
    rp = RelyingParty(world, host="rp-q.example", quotas={"oidc": 1})
    code_for(world, rp, wallet)
    browser = browser_for(world)
    login, consent_url = wallet_login(world, rp, wallet, browser)
    done = finish(browser, consent_url)
    back = query_of(done.headers["location"])
    assert back["error"] == "temporarily_unavailable" and back["state"] == login.state
    price = world.container.catalogue().price_fen(str(rp.view.price_plan), "oidc")
    assert charges(world, rp) == sorted([("oidc", 0), ("oidc", price)])


def test_a_person_who_locked_qr_is_access_denied(
    world: World, rp: RelyingParty, wallet: Wallet
) -> None:
    locked = world.http.post("/v1/me/locks/qr", headers=wallet.bearer())
    assert locked.status_code == 200, locked.text
    browser = browser_for(world)
    login, consent_url = wallet_login(world, rp, wallet, browser)
    done = finish(browser, consent_url)
    assert done.status_code == 303
    back = query_of(done.headers["location"])
    assert back["error"] == "access_denied" and back["state"] == login.state
    assert "code" not in back
    assert oidc_records(world) == ["refused"]
    assert "method_locked" in oidc_canonical(world)[0]
    assert oidc_used(world, rp) == 0 and charges(world, rp) == [("oidc", 0)]


def test_a_frozen_institution_is_refused_at_authorize_and_userinfo(
    world: World, rp: RelyingParty, wallet: Wallet
) -> None:
    login, code = code_for(world, rp, wallet)
    tokens = rp.token(code, login)
    access = tokens.json()["access_token"]
    pending_login, pending_code = code_for(world, rp, wallet)
    with world.container.transaction() as session:
        world.container.institutions(session).freeze(
            rp.view.id, actor="operator:test", reason="monitoring"
        )
    assert world.http.get("/oidc/userinfo", headers=bearer(access)).status_code == 401
    refused, answer = rp.authorize(browser_for(world))
    assert answer.status_code == 303
    assert refused.location.startswith(rp.redirect_uri)
    assert query_of(refused.location)["error"] == "access_denied"
    # A code issued before the freeze is not exchanged after it.
    late = rp.token(pending_code, pending_login)
    assert late.status_code in (400, 401) and "access_token" not in late.json()


def test_a_login_in_progress_when_the_institution_is_frozen_is_denied(
    world: World, rp: RelyingParty, wallet: Wallet
) -> None:
    browser = browser_for(world)
    login, consent_url = wallet_login(world, rp, wallet, browser)
    with world.container.transaction() as session:
        world.container.institutions(session).freeze(
            rp.view.id, actor="operator:test", reason="monitoring"
        )
    done = finish(browser, consent_url)
    back = query_of(done.headers["location"])
    assert back["error"] == "access_denied" and back["state"] == login.state


def test_a_child_under_14_waits_for_the_guardian(world: World, rp: RelyingParty) -> None:
    mother = Wallet(world, "mother")
    child = Wallet(world, "child", token=mother.session)
    browser = browser_for(world)
    login, consent_url = wallet_login(world, rp, child, browser)
    done = finish(browser, consent_url)
    back = query_of(done.headers["location"])
    assert back["error"] == "access_denied" and back["state"] == login.state
    pending = world.http.get("/v1/me/requests", headers=mother.bearer()).json()["requests"]
    assert len(pending) == 1, pending
    approved = world.http.post(
        f"/v1/me/requests/{pending[0]['id']}/approve", headers=mother.bearer()
    )
    assert approved.status_code == 200, approved.text
    login, code = code_for(world, rp, child)
    assert rp.token(code, login).status_code == 200
    # One approval, one use.
    browser = browser_for(world)
    _, consent_url = wallet_login(world, rp, child, browser)
    assert query_of(finish(browser, consent_url).headers["location"])["error"] == "access_denied"
