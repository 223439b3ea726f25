"""``netid wallet scan TEXT``: logging in at a website with the wallet, against a real
``netid serve`` (the server fixture of tests/cli/test_wallet.py, once per backend). The
website's side is ``netid client oidc-register`` (a subprocess) and a browser made of an
httpx client with a cookie jar; the token request is the relying party's, over HTTP.

The parsing of the scanned text (``login_handle_of``) is tested on its own first."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2 as httpx
import pytest
from typer.testing import CliRunner

from netid.client.rp import ASSERTION_TYPE, ClientFile, client_assertion
from netid.wallet.errors import LoginTextInvalid
from netid.wallet.service import login_handle_of
from tests.cli.test_wallet import (  # noqa: F401 - the module-scoped server fixture
    PIN,
    Platform,
    _app,
    enrol,
    platform,
    wallet,
    wallet_fails,
)
from tests.oidc.support import s256

HANDLE = "A" * 22
LOGIN_URI_RE = re.compile(r'data-login-uri="([^"]+)"')
runner = CliRunner()


# -- the scanned text, parsed ------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        f"netid://login?r={HANDLE}",
        f"  netid://login?r={HANDLE}\n",
        f"netid://login?r={HANDLE}&x=1",
        "netid://login?r=" + "b" * 64,
    ],
)
def test_a_login_text_gives_its_handle(text: str) -> None:
    assert login_handle_of(text) in {HANDLE, "b" * 64}


@pytest.mark.parametrize(
    "text",
    [
        "",
        "netid://login",
        "netid://login?r=",
        "netid://login?r=short",
        "netid://login?r=" + "b" * 65,
        f"netid://login?r={HANDLE}&r={HANDLE}",
        f"netid://other?r={HANDLE}",
        f"https://login?r={HANDLE}",
        f"netid:login?r={HANDLE}",
        f"NETID://LOGIN?r={HANDLE}x",
        "netid://login?r=" + "é" * 22,
        f"netid://login?q={HANDLE}",
        "eyJhbGciOiJFUzI1NiJ9.e30.sig",  # a dynamic QR code, not a login
    ],
)
def test_a_text_that_is_not_a_login_is_refused(text: str) -> None:
    with pytest.raises(LoginTextInvalid):
        login_handle_of(text)


# -- against a running server ------------------------------------------------------------------
REDIRECT_URI = "https://platform.demo.example/cb"


def register_client(server: Platform) -> ClientFile:
    client_path = server.bank.parent / "platform.json"
    code, out, err = server.netid(
        "client",
        "oidc-register",
        "--institution",
        str(client_path),
        "--redirect-uri",
        REDIRECT_URI,
        "--logout-uri",
        "https://platform.demo.example/bye",
    )
    assert code == 0, (out, err)
    return ClientFile.load(client_path)


def authorize(client: ClientFile, browser: httpx.Client) -> dict[str, str]:
    login = {
        "state": secrets.token_urlsafe(8),
        "nonce": secrets.token_urlsafe(8),
        "verifier": secrets.token_urlsafe(48),
    }
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid age",
        "state": login["state"],
        "nonce": login["nonce"],
        "code_challenge": s256(login["verifier"]),
        "code_challenge_method": "S256",
    }
    answer = browser.get("/oidc/authorize?" + urlencode(params))
    assert answer.status_code == 303, answer.text
    login["location"] = answer.headers["location"]
    assert login["location"].startswith("/oidc/login/"), login["location"]
    page = browser.get(login["location"])
    assert page.status_code == 200, page.text
    found = LOGIN_URI_RE.search(page.text)
    assert found, page.text
    login["text"] = found.group(1).replace("&amp;", "&")
    login["page"] = page.text
    return login


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def test_wallet_scan_logs_in_at_a_website(platform: Platform, tmp_path: Path) -> None:  # noqa: F811
    me = tmp_path / "phone"
    wallet(me, "init", "--server", platform.base)
    assert enrol(platform, me, platform.chip)["state"] == "issued"
    client = register_client(platform)
    with httpx.Client(base_url=platform.base, follow_redirects=False, timeout=30) as browser:
        login = authorize(client, browser)
        wallet(me, "login", "--pin-stdin", input=PIN + "\n")

        # Asked interactively: the request is shown (institution, claims, check code), and a
        # "no" denies the login — the browser's page learns it.
        asked = runner.invoke(
            _app(), ["wallet", "--wallet", str(me), "--json", "scan", login["text"]], input="n\n"
        )
        assert asked.exit_code == 0, (asked.stdout, asked.stderr)
        check = re.search(r"check_code: (\d{4})", asked.stderr)
        assert check, asked.stderr
        assert check.group(1) in login["page"]  # the same code on the phone and the page
        assert "示例网络科技有限公司" in asked.stderr and "age_over_18" in asked.stderr
        status = browser.get(login["location"] + "/status").json()
        assert status["status"] == "denied"
        assert query_of(status["next"])["error"] == "access_denied"

        # A new login, approved with --yes: the page moves on, consent, the code.
        login = authorize(client, browser)
        approved = wallet(me, "scan", login["text"], "--yes")
        assert approved["status"] == "authenticated"
        # Scanned again: already decided.
        assert wallet_fails(me, "scan", login["text"], "--yes")["code"] == ("login_request_decided")
        status = browser.get(login["location"] + "/status").json()
        assert status["status"] == "authenticated"
        consent = browser.post(status["next"], data={"decision": "approve"})
        assert consent.status_code == 303, consent.text
        back = query_of(consent.headers["location"])
        assert consent.headers["location"].startswith(REDIRECT_URI)
        assert back["state"] == login["state"]

    # The website exchanges the code.
    with httpx.Client(base_url=platform.base, timeout=30) as site:
        tokens = site.post(
            "/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": back["code"],
                "redirect_uri": REDIRECT_URI,
                "code_verifier": login["verifier"],
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": client_assertion(client),
            },
        )
        assert tokens.status_code == 200, tokens.text
        body: dict[str, Any] = tokens.json()
        info = site.get(
            "/oidc/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}
        )
        assert info.status_code == 200, info.text
        assert info.json()["age_over_18"] is True

    # Garbage and a login that is not there.
    assert wallet_fails(me, "scan", "https://example.com/?r=" + HANDLE, "--yes")["code"] == (
        "login_text_invalid"
    )
    assert wallet_fails(me, "scan", f"netid://login?r={HANDLE}", "--yes")["code"] == (
        "login_request_not_found"
    )
