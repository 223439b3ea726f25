"""The Python load generator for OpenID Connect code-flow logins (from bench/oidc_http.py).

Run as its own process (``python -m netid.bench.oidc_load PLAN.json``), so that its CPU is
measured apart from the harness and the server: threads, one per simulated browser, each with a
cookie jar and one keep-alive connection. One login with the wallet:
authorize → login page → the wallet reads and approves the request → the page's status poll →
consent (pre-approved: straight back to the relying party with the code) → token → userinfo
(8 requests). Every login is checked: the ID token's ``sub`` equals userinfo's. It prints one
JSON line: completed logins, their durations, errors.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import re
import resource
import secrets
import sys
import threading
import time
from collections.abc import Callable
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

LOGIN_URI_RE = re.compile(r'data-login-uri="netid://login\?r=([^"]+)"')


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class LoginFailed(Exception):
    pass


def _expect(condition: bool, what: object) -> None:
    if not condition:
        raise LoginFailed(str(what)[:120])


class Browser:
    """One browser (a cookie jar, one keep-alive connection) and its relying party."""

    def __init__(self, port: int, client: dict[str, str], session: str, redirect_uri: str) -> None:
        self.port = port
        self.client = client
        self.session = session
        self.redirect_uri = redirect_uri
        self.cookies: dict[str, str] = {}
        self.requests = 0
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.basic = (
            "Basic "
            + base64.b64encode(f"{client['client_id']}:{client['secret']}".encode()).decode()
        )

    def request(
        self, method: str, path: str, body: str | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.requests += 1
        try:
            self.conn.request(method, path, body=body, headers=sent)
            response = self.conn.getresponse()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.conn.request(method, path, body=body, headers=sent)
            response = self.conn.getresponse()
        data = response.read()
        headers_out = response.getheaders()
        for header, value in headers_out:
            if header.lower() == "set-cookie":
                jar: SimpleCookie = SimpleCookie()
                jar.load(value)
                for name, morsel in jar.items():
                    self.cookies[name] = morsel.value
        return response.status, {k.lower(): v for k, v in headers_out}, data

    def code(self) -> tuple[str, str]:
        """(code, verifier): authorize, the wallet's approval, back to the relying party."""
        verifier = secrets.token_urlsafe(48)
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client["client_id"],
                "redirect_uri": self.redirect_uri,
                "scope": "openid age",
                "state": secrets.token_urlsafe(8),
                "nonce": secrets.token_urlsafe(8),
                "code_challenge": s256(verifier),
                "code_challenge_method": "S256",
                "prompt": "login",
            }
        )
        status, headers, _ = self.request("GET", f"/oidc/authorize?{query}")
        _expect(status == 303, ("authorize", status))
        location = headers["location"]
        if location.startswith("/oidc/login/"):
            status, _, page = self.request("GET", location)
            _expect(status == 200, ("login page", status))
            found = LOGIN_URI_RE.search(page.decode())
            _expect(found is not None, "no login URI on the login page")
            assert found is not None
            handle = found.group(1)
            bearer = {"Authorization": f"Bearer {self.session}"}
            status, _, _ = self.request("GET", f"/v1/wallet/logins/{handle}", headers=bearer)
            _expect(status == 200, ("wallet reads the login", status))
            status, _, _ = self.request(
                "POST",
                f"/v1/wallet/logins/{handle}",
                json.dumps({"decision": "approve"}),
                {**bearer, "Content-Type": "application/json"},
            )
            _expect(status == 200, ("wallet approves", status))
            status, _, body = self.request("GET", location + "/status")
            _expect(status == 200, ("status poll", status))
            location = json.loads(body)["next"]
        status, headers, body = self.request("GET", location)
        _expect(status == 303, ("consent", status, body[:100]))
        back = parse_qs(urlsplit(headers["location"]).query)
        return back["code"][0], verifier

    def login(self) -> None:
        code, verifier = self.code()
        form = urlencode(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.redirect_uri,
                "code_verifier": verifier,
            }
        )
        status, _, body = self.request(
            "POST",
            "/oauth2/token",
            form,
            {"Content-Type": "application/x-www-form-urlencoded", "Authorization": self.basic},
        )
        _expect(status == 200, ("token", status, body[:100]))
        tokens = json.loads(body)
        status, _, body = self.request(
            "GET", "/oidc/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        _expect(status == 200, ("userinfo", status))
        part = tokens["id_token"].split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        _expect(
            json.loads(body)["sub"] == claims["sub"], "userinfo sub differs from the ID token's"
        )


def run_threads(
    browsers: list[Browser], duration: float, step: Callable[[Browser], None]
) -> dict[str, Any]:
    """``step(browser)`` in one thread per browser for ``duration`` seconds."""
    done: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop = time.monotonic() + duration

    def loop(browser: Browser) -> None:
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            try:
                step(browser)
            except (LoginFailed, KeyError, OSError, ValueError, http.client.HTTPException) as error:
                with lock:
                    errors.append(type(error).__name__ + ": " + str(error)[:120])
                continue
            with lock:
                done.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=loop, args=(b,)) for b in browsers]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "elapsed_s": time.perf_counter() - started,
        "latencies_s": done,
        "errors": len(errors),
        "first_errors": errors[:3],
        "requests": sum(b.requests for b in browsers),
    }


def main(argv: list[str] | None = None) -> None:
    plan = json.loads(Path((argv or sys.argv[1:])[0]).read_text())
    browsers = [
        Browser(plan["port"], plan["client"], session, plan["redirect_uri"])
        for session in plan["sessions"]
    ]
    # Every load-generator process warms up until the same moment, then all measure together.
    run_threads(browsers, max(0.5, plan["measure_at"] - time.time()), Browser.login)
    for browser in browsers:
        browser.requests = 0
    before = resource.getrusage(resource.RUSAGE_SELF)
    result = run_threads(browsers, plan["duration_s"], Browser.login)
    after = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
