"""End-to-end fixtures (issue 6 §4): a real ``netid serve``, a real wallet, a real browser.

* ``netid_server`` — one ``netid serve`` subprocess per backend (SQLite file; PostgreSQL in a
  fresh schema with Redis under a fresh key prefix; ``NETID_TEST_BACKENDS`` as everywhere), on
  ``127.0.0.1:<free port>`` with ``NETID_PUBLIC_URL=http://127.0.0.1:<port>`` (the issuer).
  Its state is built in-process BEFORE the server starts, on the same database, as the
  benchmarks do (``bench/verification_http.py``): migrations, master key and every key purpose,
  a trusted document-chip issuer and one chip file per person, a small registry (with the
  registry face photo's template for the wallet people), and approved institutions whose
  websites are loopback hosts (``https://127.0.0.2`` → sector ``127.0.0.2``), so an RP bound
  to that address with ``http://127.0.0.2:<port>/callback`` has the institution's sector (RFC
  8252 §7.3 loopback redirect; docs/decisions/0006 "Clients"). Session-scoped: tests share
  the server and must not assume an empty database.
* ``enrolled_wallet`` — the wallet CLI (HTTP only, in-process through typer's runner as
  tests/cli/test_wallet.py does) enrolled for the registry person ``"wallet"`` (chip, face,
  SMS code from the outbox, PIN) once per server, and logged in at L1 afresh for each test.
* ``browser`` — Playwright (sync API) driving Debian's Chromium (/usr/bin/chromium, never a
  downloaded build) headless with the machine's flags; ``context``/``page`` are fresh per test
  (own cookies). Module-scoped: the sync API owns an event loop while it runs, so it is kept
  to the e2e modules' lifetime rather than the whole session.
* ``relying_party`` — a factory: ``relying_party("shop", method=..., alg=...)`` starts an
  Authlib RP (tests/e2e/relying_party.py) on the institution's loopback address and registers
  its redirect URI at the OP (``PUT /v1/oidc/client``); stopped after the test.

No pytest plugin (pytest-playwright is not used: it brings its own ``browser``/``page``
fixtures and browser management; ours launch the system browser explicitly).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from redis import Redis
from sqlalchemy import text
from typer.testing import CliRunner

from netid.client.rp import private_jwk
from netid.config import Settings
from netid.container import Container
from netid.core.clock import CHINA_TZ
from netid.crypto import jose_keys
from netid.crypto.sm2 import Sm2PrivateKey
from netid.db.engine import make_engine
from netid.documents import DocumentType, synth
from netid.documents.chip import ChipData, issuer_key_entry, issuer_kid, sign_chip
from netid.institutions.schemas import ApplicationIn
from netid.registry.schemas import parse_record
from tests.conftest import BACKENDS, DEFAULT_PG_URL, REDIS_URL
from tests.e2e.relying_party import AuthMethod, RelyingParty, register_oidc_client
from tests.faces.photos import jpeg, photo
from tests.registry.factories import person_record

CHROMIUM = "/usr/bin/chromium"
# The machine's documented flags (env machines/python-svc.md): without the background-networking
# ones Chromium's own connections are refused by the closed network at every start. Playwright
# adds --headless and a new empty --user-data-dir (a temp profile per launch) itself.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PIN = "739184"
ACTOR = "operator:e2e"
NETID = [sys.executable, "-m", "netid.cli"]
runner = CliRunner()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


# -- the platform ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Institution:
    """An approved institution whose website is a loopback host (its OIDC sector)."""

    slug: str
    name: str
    industry: str
    purposes: tuple[str, ...]
    host: str  # the loopback address its RP binds; website https://<host>; sector <host>
    code: str
    client_id: str
    private_jwk: dict[str, Any]  # ES256, with kid (what /oauth2/token verifies)

    @property
    def website(self) -> str:
        return f"https://{self.host}"

    @property
    def purpose(self) -> str:
        return self.purposes[0]


# slug → (name, industry, purposes, loopback host). Identity claims (name, document number)
# are released for ecommerce/seller_verification and banking/account_opening; the internet
# platform's real-name registration releases only age markers (policy catalogue v1).
INSTITUTIONS: dict[str, tuple[str, str, tuple[str, ...], str]] = {
    "shop": ("端到端测试商城有限公司", "ecommerce", ("seller_verification",), "127.0.0.2"),
    "forum": (
        "端到端测试网络科技有限公司",
        "internet_platform",
        ("real_name_registration", "minor_protection"),
        "127.0.0.3",
    ),
    "bank": (
        "端到端测试商业银行股份有限公司",
        "banking_finance",
        ("account_opening",),
        "127.0.0.4",
    ),
}
# role → (name, sex, birth date); "wallet" and "other" enrol wallets, "password" never does.
PEOPLE: dict[str, tuple[str, str, dt.date]] = {
    "wallet": ("欧阳·娜娜", "F", dt.date(1990, 3, 7)),
    "other": ("周杰", "M", dt.date(1979, 1, 18)),
    "password": ("林美华", "F", dt.date(1985, 4, 2)),
}
WALLET_PEOPLE = ("wallet", "other")


@dataclass
class NetidServer:
    backend: str
    base: str  # http://127.0.0.1:<port>: public URL and OIDC issuer
    port: int
    root: Path
    env: dict[str, str]
    container: Container  # the operator's side, on the same database
    people: dict[str, dict[str, Any]]  # role → registry record
    chips: dict[str, Path]  # role → signed chip file
    live_photo: Path  # another shot of the registry photo's person
    institutions: dict[str, Institution]
    log: Path
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def issuer(self) -> str:
        return self.base

    def number(self, role: str) -> str:
        return str(self.people[role]["documents"][0]["number"])

    def phone(self, role: str) -> str:
        return str(self.people[role]["phones"][0])

    def netid(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """The operator CLI in a subprocess, with the server's environment."""
        return subprocess.run(
            [*NETID, *args],
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def latest_code(self, *, role: str | None = None, purpose: str | None = None) -> str:
        """The newest 6-digit code in the embedded SMS outbox (the phone), optionally only
        to ``role``'s registry phone and of ``purpose`` (``enrolment_otp``, ``login_otp``...)."""
        phone = self.phone(role) if role else None
        with self.container.transaction() as session:
            messages = self.container.outbox(session).list(
                20, actor=ACTOR, show_phone=True, phone=phone
            )
        for message in messages:
            if purpose is None or message.purpose == purpose:
                found = re.search(r"(?<!\d)\d{6}(?!\d)", message.text)
                assert found, message.purpose
                return found.group(0)
        raise AssertionError(f"no {purpose or 'SMS'} message for {role or 'anyone'}")

    def wait_for_code(
        self, *, role: str | None = None, purpose: str | None = None, after: str | None = None,
        timeout: float = 10.0,
    ) -> str:  # fmt: skip
        """Like :meth:`latest_code`, waiting for a code other than ``after`` to arrive."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                code = self.latest_code(role=role, purpose=purpose)
                if code != after:
                    return code
            except AssertionError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"no new {purpose or 'SMS'} code within {timeout} s")
            time.sleep(0.2)

    def http(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, f"{self.base}{path}", timeout=30, **kwargs)


def _settings(root: Path, base: str, port: int, db_url: str | None, schema: str | None) -> Settings:
    return Settings(
        data_dir=root / "var",
        database_url=db_url,
        database_schema=schema,
        public_url=base,
        host="127.0.0.1",
        port=port,
        master_key_file=root / "var" / "keys" / "master.key",
    )


def _ready_container(settings: Settings) -> Container:
    container = Container(settings)
    container.ensure_ready()
    return container


def _people() -> dict[str, dict[str, Any]]:
    rng = random.Random(6)
    return {
        role: person_record(rng, name=name, sex=sex, birth=birth)
        for role, (name, sex, birth) in PEOPLE.items()
    }


def _load_registry(container: Container, people: dict[str, dict[str, Any]]) -> None:
    today = dt.datetime.now(CHINA_TZ).date()
    rows = [(i, parse_record(r, today=today)) for i, r in enumerate(people.values(), 1)]
    with container.registry_unit() as registry:
        outcome = registry.import_batch(rows, actor=ACTOR)
    assert outcome.imported == len(rows), outcome.rejections
    matcher = container.face_matcher()
    template = matcher.template(photo("astronaut.png"))
    with container.transaction() as session:
        registry = container.registry(session)
        for role in WALLET_PEOPLE:
            person_id = registry.find_person_id(str(people[role]["documents"][0]["number"]))
            assert person_id is not None
            registry.store_face_template(
                person_id, model=matcher.model, template=template, actor=ACTOR
            )


def _write_chips(
    container: Container, people: dict[str, dict[str, Any]], directory: Path
) -> dict[str, Path]:
    """A trusted chip issuer (as ``netid registry chip`` creates one) and each person's chip."""
    issuer = Sm2PrivateKey.generate()
    kid = issuer_kid(issuer.public_key())
    now = container.clock.now()
    trust = container.document_issuer_trust_file()
    trust.parent.mkdir(parents=True, exist_ok=True)
    trust.write_text(json.dumps({"keys": [issuer_key_entry(kid, issuer.public_key(), now)]}))
    chips = {}
    for role, record in people.items():
        doc = record["documents"][0]
        data = ChipData(
            document_type=DocumentType.RESIDENT_ID,
            number=doc["number"],
            name=record["name"],
            birth_date=dt.date.fromisoformat(record["birth_date"]),
            sex=record["sex"],
            nationality=record["nationality"],
            issued_on=dt.date.fromisoformat(doc["issued_on"]),
            expires_on=dt.date.fromisoformat(doc["expires_on"]),
        )
        path = directory / f"chip-{role}.json"
        chip = sign_chip(data, key=issuer, kid=kid, signed_at=now)
        path.write_text(json.dumps(chip, ensure_ascii=False) + "\n", encoding="utf-8")
        path.chmod(0o600)
        chips[role] = path
    return chips


def _institutions(container: Container) -> dict[str, Institution]:
    made = {}
    for slug, (name, industry, purposes, host) in INSTITUTIONS.items():
        key = jose_keys.generate_private_key("ES256")
        kid = f"{slug}-1"
        contact = {"name": "测试", "phone": "+86 10 0000 0000", "email": f"it@{slug}.e2e.example"}
        application = ApplicationIn.model_validate(
            {
                "name": name,
                "uscc": synth.uscc(random.Random(f"e2e-{slug}")),
                "industry": industry,
                "purposes": list(purposes),
                "location": "domestic",
                "agreement": {"version": "2026-01", "accepted": True},
                "website": f"https://{host}",
                "legal_representative": contact,
                "contact": contact,
                "public_jwks": [jose_keys.public_jwk(key, kid)],
            }
        )
        with container.transaction() as session:
            service = container.institutions(session)
            pending = service.apply(application, actor=ACTOR)
            view = service.approve(pending.id, actor=ACTOR, reason="e2e")
        assert view.sector == host, view.sector  # the OIDC sector is the RP's loopback host
        made[slug] = Institution(
            slug=slug,
            name=name,
            industry=industry,
            purposes=purposes,
            host=host,
            code=view.code or "",
            client_id=view.client_id or "",
            private_jwk=private_jwk(key, kid),
        )
    return made


def _wait_ready(base: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert server.poll() is None, log.read_text()[-4000:]
        assert time.monotonic() < deadline, "netid serve did not become ready"
        time.sleep(0.1)


@pytest.fixture(scope="session", params=BACKENDS)
def netid_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NetidServer]:
    backend: str = request.param
    root = tmp_path_factory.mktemp(f"e2e-{backend}")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETID_")}
    env |= {
        "NETID_DATA_DIR": str(root / "var"),
        "NETID_PUBLIC_URL": base,
        "NETID_HOST": "127.0.0.1",
        "NETID_PORT": str(port),
        "NETID_MASTER_KEY_FILE": str(root / "var" / "keys" / "master.key"),
    }
    db_url: str | None = None
    schema: str | None = None
    redis_prefix: str | None = None
    if backend == "postgresql":
        db_url = os.environ.get("NETID_TEST_DATABASE_URL", DEFAULT_PG_URL)
        schema = f"e2e_{os.getpid()}_{secrets.token_hex(4)}"
        redis_prefix = f"netid-test:{secrets.token_hex(6)}:"
        env |= {
            "NETID_DATABASE_URL": db_url,
            "NETID_DATABASE_SCHEMA": schema,
            "NETID_REDIS_URL": REDIS_URL,
            "NETID_REDIS_PREFIX": redis_prefix,
        }
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    container = _ready_container(_settings(root, base, port, db_url, schema))
    people = _people()
    _load_registry(container, people)
    chips = _write_chips(container, people, root)
    institutions = _institutions(container)
    live = root / "live.jpg"
    live.write_bytes(jpeg(photo("astronaut.png"), brightness=1.2, crop=20))
    timings["prepare_s"] = time.perf_counter() - t0
    log = root / "serve.log"
    handle = log.open("wb")
    t1 = time.perf_counter()
    server = subprocess.Popen(
        [*NETID, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_ready(base, server, log)
        timings["serve_ready_s"] = time.perf_counter() - t1
        yield NetidServer(
            backend=backend,
            base=base,
            port=port,
            root=root,
            env=env,
            container=container,
            people=people,
            chips=chips,
            live_photo=live,
            institutions=institutions,
            log=log,
            timings=timings,
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)
        handle.close()
        container.engine.dispose()
        if schema is not None and db_url is not None:
            engine = make_engine(db_url, pool=False)
            with engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            engine.dispose()
        if redis_prefix is not None:
            client = Redis.from_url(REDIS_URL)
            try:
                keys = list(client.scan_iter(match=f"{redis_prefix}*"))
                if keys:
                    client.delete(*keys)
            finally:
                client.close()


# -- the wallet --------------------------------------------------------------------------------
def _app() -> Any:
    from netid.cli.main import app

    return app


@dataclass
class EnrolledWallet:
    directory: Path
    role: str
    document_number: str
    network_id: str
    server: NetidServer
    pin: str = PIN

    def run(self, *args: str, input: str | None = None) -> Any:
        """``netid wallet --wallet DIR --json ARGS``: its JSON answer (exit code 0 asserted)."""
        result = runner.invoke(
            _app(), ["wallet", "--wallet", str(self.directory), "--json", *args], input=input
        )
        assert result.exit_code == 0, (args, result.stdout, result.stderr)
        return json.loads(result.stdout) if result.stdout.strip() else None

    def fails(self, *args: str, input: str | None = None) -> dict[str, Any]:
        """The same for a command that must fail: its JSON error (exit code 1 asserted)."""
        result = runner.invoke(
            _app(), ["wallet", "--wallet", str(self.directory), "--json", *args], input=input
        )
        assert result.exit_code == 1, (args, result.stdout, result.stderr)
        error: dict[str, Any] = json.loads(result.stdout)["error"]
        return error

    def login(self, level: str = "L1") -> dict[str, Any]:
        """A fresh wallet session: L1 PIN; L2 + face; L3 + face + SMS code."""
        if level == "L1":
            answer: dict[str, Any] = self.run("login", "--pin-stdin", input=self.pin + "\n")
        elif level == "L2":
            answer = self.run(
                "login", "--pin-stdin", "--face", str(self.server.live_photo), input=self.pin + "\n"
            )
        else:
            before = self._last_code("login_otp")
            self.run("otp")
            code = self.server.wait_for_code(role=self.role, purpose="login_otp", after=before)
            answer = self.run(
                "login", "--pin-stdin", "--face", str(self.server.live_photo), "--otp-sent",
                input=f"{self.pin}\n{code}\n",
            )  # fmt: skip
        assert answer["assurance"] == level, answer
        return answer

    def scan(self, login_text: str, *, approve: bool = True) -> Any:
        """``netid wallet scan TEXT --yes`` (the lead's command, docs/decisions/0006)."""
        return self.run("scan", login_text, "--yes" if approve else "--deny")

    def _last_code(self, purpose: str) -> str | None:
        try:
            return self.server.latest_code(role=self.role, purpose=purpose)
        except AssertionError:
            return None


def enrol_wallet(server: NetidServer, role: str, directory: Path) -> EnrolledWallet:
    """Enrol ``role`` with a new wallet over HTTP: init, chip, face, SMS code, PIN."""
    wallet = EnrolledWallet(directory, role, server.number(role), "", server)
    wallet.run("init", "--server", server.base)
    wallet.run("enrol", "start", "--chip", str(server.chips[role]))
    wallet.run("enrol", "face", "--photo", str(server.live_photo))
    code = server.wait_for_code(role=role, purpose="enrolment_otp")
    wallet.run("enrol", "otp", "--code-stdin", input=code + "\n")
    finished = wallet.run("enrol", "finish", "--pin-stdin", input=PIN + "\n")
    assert finished["state"] == "issued", finished
    wallet.network_id = finished["network_id"]
    return wallet


@pytest.fixture(scope="session")
def _enrolled(
    netid_server: NetidServer, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, EnrolledWallet]:
    """Both wallet people enrolled once per server (each enrolment is a face match)."""
    t0 = time.perf_counter()
    wallets = {
        role: enrol_wallet(
            netid_server, role, tmp_path_factory.mktemp(f"wallet-{netid_server.backend}-{role}")
        )
        for role in WALLET_PEOPLE
    }
    netid_server.timings["enrol_two_wallets_s"] = time.perf_counter() - t0
    return wallets


@pytest.fixture
def enrolled_wallet(_enrolled: dict[str, EnrolledWallet]) -> EnrolledWallet:
    """The person ``"wallet"``'s wallet, enrolled, with a fresh L1 session."""
    wallet = _enrolled["wallet"]
    wallet.login("L1")
    return wallet


@pytest.fixture
def other_wallet(_enrolled: dict[str, EnrolledWallet]) -> EnrolledWallet:
    """A second person's wallet (``"other"``), L1: for relayed-QR and two-person tests."""
    wallet = _enrolled["other"]
    wallet.login("L1")
    return wallet


# -- the browser -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium through Playwright's sync API (no downloaded browser)."""
    if not (os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"{CHROMIUM} is missing: `make venv` installs Debian's chromium "
            "(apt-get install -y --no-install-recommends chromium, as root)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, timeout=60_000
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    """A fresh browser context (own cookies and storage): one person at one computer."""
    ctx = browser.new_context(locale="en-US")
    ctx.set_default_timeout(15_000)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: Any) -> Any:
    return context.new_page()


# -- relying parties ---------------------------------------------------------------------------
@pytest.fixture
def relying_party(netid_server: NetidServer) -> Iterator[Callable[..., RelyingParty]]:
    """``relying_party(slug, method=..., alg=..., purpose=...)``: an Authlib RP for the
    institution ``slug``, on its loopback host, registered at the OP; stopped after the test.
    Registering again (another test, another port) replaces the client's registration."""
    started: list[RelyingParty] = []

    def make(
        slug: str = "shop",
        *,
        method: AuthMethod = "private_key_jwt",
        alg: str = "RS256",
        purpose: str | None = None,
        assertion_lifetime: int | None = 300,
    ) -> RelyingParty:
        institution = netid_server.institutions[slug]
        rp = RelyingParty(
            netid_server.issuer,
            host=institution.host,
            name=slug,
            assertion_lifetime=assertion_lifetime,
        ).start()
        started.append(rp)
        registration = register_oidc_client(
            netid_server.issuer,
            client_id=institution.client_id,
            private_jwk=institution.private_jwk,
            redirect_uris=[rp.redirect_uri],
            post_logout_redirect_uris=[rp.post_logout_redirect_uri],
            token_endpoint_auth_method=method,
            id_token_signed_response_alg=alg,
            default_purpose=purpose or institution.purpose,
        )
        return rp.configure(registration)

    try:
        yield make
    finally:
        for rp in started:
            rp.stop()
