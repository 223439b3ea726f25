"""Benchmark: OpenID Connect code-flow logins and token requests over HTTP against
``netid serve`` (issue 6 "Numbers to report"), SQLite and PostgreSQL.

    python -m bench.oidc_http [--wallets 16] [--threads 16] [--duration 15] [--workers 2]
        [--backends sqlite,postgresql]

For each backend, in a fresh data directory: a small registry, W people enrolled through the
real enrolment API (bench.netid_qr_http.Enroller), one approved internet platform with a
registered OIDC client (client_secret_basic, RS256 ID tokens) and, for each person, a
remembered consent for the ``age`` scope (the issue's "pre-approved consent"). Then, with T
client threads over loopback (keep-alive connections, one browser cookie jar per thread):

* ``wallet_login``: the whole cross-device login — authorize → login page → the wallet reads
  and approves the request → the page's status poll → consent (remembered: straight back to
  the RP with the code) → token → userinfo (8 requests);
* ``sso_login``: the same browser again within the provider's session — authorize → consent
  → token → userinfo (4 requests);
* ``token``: codes made first (SSO logins stopped before the token request), then only the
  token requests, as fast as they go.

Every login is checked: the ID token's ``sub`` equals userinfo's and the access records
``verification.oidc`` are counted afterwards. Results are appended to
``bench/results/oidc_http.json``. Timing targets live there, never in tests.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import json
import platform
import re
import secrets
import shutil
import tempfile
import threading
import time
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from sqlalchemy import func, select

from bench.netid_qr_http import enrolled_wallets, environment, settings_of
from bench.verification_http import free_port, server_rss_mib, serving, wrk
from netid.audit.models import AccessRecord
from netid.container import Container
from netid.crypto import jose_keys
from netid.institutions.schemas import ApplicationIn
from netid.oidc.schemas import ClientRegistrationIn

RESULTS = Path(__file__).parent / "results"
HOST = "bench-rp.example"
REDIRECT_URI = f"https://{HOST}/callback"
LOGIN_URI_RE = re.compile(r'data-login-uri="netid://login\?r=([^"]+)"')


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def bench_platform(container: Container) -> dict[str, str]:
    """An approved internet platform with an OIDC client (client_secret_basic)."""
    body = {
        "name": "基准测试网络平台",
        "uscc": "91350100M000100Y43",
        "industry": "internet_platform",
        "purposes": ["real_name_registration"],
        "location": "domestic",
        "agreement": {"version": "2026-01", "accepted": True},
        "website": f"https://{HOST}",
        "legal_representative": {"name": "基准", "phone": "+86 10 0000 0000", "email": "a@b.cn"},
        "contact": {"name": "基准", "phone": "+86 10 0000 0000", "email": "a@b.cn"},
        "public_jwks": [jose_keys.public_jwk(jose_keys.generate_private_key("ES256"), "b")],
    }
    with container.transaction() as session:
        service = container.institutions(session)
        pending = service.apply(ApplicationIn.model_validate(body), actor="operator:bench")
        view = service.approve(
            pending.id, actor="operator:bench", reason="bench", quotas={"oidc": 1_000_000_000}
        )
        client = container.oidc(session).register_client(
            view.id,
            ClientRegistrationIn(
                redirect_uris=[REDIRECT_URI], token_endpoint_auth_method="client_secret_basic"
            ),
            actor="operator:bench",
        )
    assert client.client_secret is not None
    return {
        "institution_id": view.id,
        "client_id": client.client_id,
        "secret": client.client_secret,
    }


def remember_consents(
    container: Container, institution_id: str, wallets: list[dict[str, Any]]
) -> None:
    with container.transaction() as session:
        consents = container.consents(session)
        registry = container.registry(session)
        for wallet in wallets:
            key = registry.person_key(wallet["person_id"])
            assert key is not None
            consents.grant(
                person_id=wallet["person_id"],
                person_key=key,
                institution_id=institution_id,
                purpose="real_name_registration",
                claims=["age_over_14", "age_over_16", "age_over_18"],
                days=90,
                channel="portal",
                actor="operator:bench",
                allowed_claims=frozenset({"age_over_14", "age_over_16", "age_over_18"}),
            )


class Browser:
    """One browser (a cookie jar, one keep-alive connection) and its relying party."""

    def __init__(self, port: int, client: dict[str, str], wallet: dict[str, Any]) -> None:
        self.port = port
        self.client = client
        self.wallet = wallet
        self.cookies: dict[str, str] = {}
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
        try:
            self.conn.request(method, path, body=body, headers=sent)
            response = self.conn.getresponse()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.conn.request(method, path, body=body, headers=sent)
            response = self.conn.getresponse()
        data = response.read()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                jar: SimpleCookie = SimpleCookie()
                jar.load(value)
                for name, morsel in jar.items():
                    self.cookies[name] = morsel.value
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data

    def code(self, *, wallet: bool) -> tuple[str, str]:
        """(code, verifier) from authorize to the redirect back (approving in the wallet)."""
        verifier = secrets.token_urlsafe(48)
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client["client_id"],
                "redirect_uri": REDIRECT_URI,
                "scope": "openid age",
                "state": secrets.token_urlsafe(8),
                "nonce": secrets.token_urlsafe(8),
                "code_challenge": s256(verifier),
                "code_challenge_method": "S256",
                **({"prompt": "login"} if wallet else {}),
            }
        )
        status, headers, _ = self.request("GET", f"/oidc/authorize?{query}")
        assert status == 303, status
        location = headers["location"]
        if location.startswith("/oidc/login/"):
            status, _, page = self.request("GET", location)
            assert status == 200, status
            found = LOGIN_URI_RE.search(page.decode())
            assert found
            handle = found.group(1)
            bearer = {"Authorization": f"Bearer {self.wallet['session']}"}
            status, _, _ = self.request("GET", f"/v1/wallet/logins/{handle}", headers=bearer)
            assert status == 200, status
            status, _, _ = self.request(
                "POST",
                f"/v1/wallet/logins/{handle}",
                json.dumps({"decision": "approve"}),
                {**bearer, "Content-Type": "application/json"},
            )
            assert status == 200, status
            status, _, body = self.request("GET", location + "/status")
            location = json.loads(body)["next"]
        status, headers, body = self.request("GET", location)
        assert status == 303, (status, body[:200])
        back = parse_qs(urlsplit(headers["location"]).query)
        return back["code"][0], verifier

    def tokens(self, code: str, verifier: str) -> dict[str, Any]:
        form = urlencode(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            }
        )
        status, _, body = self.request(
            "POST",
            "/oauth2/token",
            form,
            {"Content-Type": "application/x-www-form-urlencoded", "Authorization": self.basic},
        )
        assert status == 200, (status, body[:200])
        answer: dict[str, Any] = json.loads(body)
        return answer

    def userinfo(self, access_token: str) -> dict[str, Any]:
        status, _, body = self.request(
            "GET", "/oidc/userinfo", headers={"Authorization": f"Bearer {access_token}"}
        )
        assert status == 200, status
        info: dict[str, Any] = json.loads(body)
        return info

    def login(self, *, wallet: bool) -> None:
        code, verifier = self.code(wallet=wallet)
        tokens = self.tokens(code, verifier)
        part = tokens["id_token"].split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        assert self.userinfo(tokens["access_token"])["sub"] == claims["sub"]


def run_threads(browsers: list[Browser], duration: float, step: Any) -> dict[str, Any]:
    """Run ``step(browser)`` in one thread per browser for ``duration`` seconds."""
    done: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop = time.monotonic() + duration

    def loop(browser: Browser) -> None:
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            try:
                step(browser)
            except (AssertionError, KeyError, OSError, ValueError) as error:
                with lock:
                    errors.append(type(error).__name__ + ":" + str(error)[:80])
                continue
            with lock:
                done.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=loop, args=(b,)) for b in browsers]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - t0
    done.sort()
    return {
        "completed": len(done),
        "per_second": round(len(done) / elapsed, 1),
        "p50_ms": round(done[len(done) // 2] * 1000, 1) if done else None,
        "p99_ms": round(done[int(len(done) * 0.99)] * 1000, 1) if done else None,
        "errors": len(errors),
        "first_errors": errors[:3],
    }


def token_burst(browsers: list[Browser], seconds: float) -> dict[str, Any]:
    """Codes first (for ``seconds``: they live 60 s), then only token requests."""
    codes: dict[int, list[tuple[str, str]]] = {i: [] for i in range(len(browsers))}
    stop = time.monotonic() + seconds

    def make(i: int) -> None:
        while time.monotonic() < stop:
            codes[i].append(browsers[i].code(wallet=False))

    threads = [threading.Thread(target=make, args=(i,)) for i in range(len(browsers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = sum(len(c) for c in codes.values())
    failures: list[int] = []

    def exchange(i: int) -> None:
        for code, verifier in codes[i]:
            try:
                browsers[i].tokens(code, verifier)
            except AssertionError:
                failures.append(1)

    threads = [threading.Thread(target=exchange, args=(i,)) for i in range(len(browsers))]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - t0
    return {
        "codes": total,
        "per_second": round(total / elapsed, 1),
        "failures": len(failures),
    }


def count_records(env: dict[str, str]) -> dict[str, int]:
    container = Container(settings_of(env))
    with container.transaction(write=False) as session:
        rows = session.execute(
            select(AccessRecord.action, AccessRecord.outcome, func.count())
            .where(AccessRecord.action.in_(["verification.oidc", "oidc.token", "oidc.userinfo"]))
            .group_by(AccessRecord.action, AccessRecord.outcome)
        ).all()
    container.engine.dispose()
    return {f"{a}:{o}": int(n) for a, o, n in rows}


def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"netid-oidc-bench-{backend}-"))
    port = free_port()
    env = environment(workdir, backend, port)
    try:
        container, wallets = enrolled_wallets(env, args)
        client = bench_platform(container)
        remember_consents(container, client["institution_id"], wallets)
        container.engine.dispose()
        base = env["NETID_PUBLIC_URL"]
        with serving(env, workers=args.workers, log_path=workdir / "serve.log") as server:
            hello = wrk(f"{base}/healthz", connections=32, duration=5, script=None)
            browsers = [
                Browser(port, client, wallets[i % len(wallets)]) for i in range(args.threads)
            ]
            run_threads(browsers, 3, lambda b: b.login(wallet=True))  # warm, and SSO sessions
            wallet_login = run_threads(browsers, args.duration, lambda b: b.login(wallet=True))
            sso_login = run_threads(browsers, args.duration, lambda b: b.login(wallet=False))
            token = token_burst(browsers, min(args.duration, 30))
            rss = server_rss_mib(server.pid)
        records = count_records(env)
        return {
            "backend": backend,
            "workers": args.workers,
            "client_threads": args.threads,
            "wallets": len(wallets),
            "hello_world_rps": hello["requests_per_second"],
            "wallet_login": wallet_login,
            "sso_login": sso_login,
            "token_requests": token,
            "access_records": records,
            "server_rss_mib_after": rss,
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=500)
    parser.add_argument("--wallets", type=int, default=16)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    results = [run_backend(b, args) for b in args.backends.split(",")]
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "oidc_http.json"
    history = json.loads(out.read_text()) if out.exists() else []
    history.append(
        {
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
            "results": results,
        }
    )
    out.write_text(json.dumps(history, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
