"""The wallet end to end against a real ``netid serve`` (a subprocess on a free port, its own
data directory, a one-person registry with a real face template), once per backend: SQLite in
the data directory, and PostgreSQL (a fresh schema) with Redis for the one-time QR nonces.

The operator side runs the real CLI in subprocesses (``python -m netid.cli``); the wallet side
runs ``netid wallet`` in-process through typer's CliRunner, and talks to the server over HTTP
only, as the phone app would. The relying party is :mod:`netid.client.rp` over HTTP.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from netid.client.rp import ClientFile, HttpAnswer, RelyingParty
from netid.core.clock import CHINA_TZ
from netid.credentials.network_id import normalize_network_id
from netid.db.engine import make_engine
from netid.wallet import state
from tests.cli.test_serve import free_port
from tests.conftest import BACKENDS, DEFAULT_PG_URL
from tests.faces.photos import jpeg, photo
from tests.registry.factories import person_record

# With its server fixture the module runs past a minute per backend; still in the default run.
pytestmark = pytest.mark.slow

PIN = "739184"
NETID = [sys.executable, "-m", "netid.cli"]
runner = CliRunner()


@dataclass
class Platform:
    root: Path
    env: dict[str, str]
    base: str
    person: dict[str, Any]
    chip: Path
    live_photo: Path
    bank: Path
    chips: dict[str, Path]  # mother, teen (15), child (10): a family for the minors' rules

    def netid(self, *args: str, input: str | None = None) -> tuple[int, str, str]:
        result = subprocess.run(
            [*NETID, *args],
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return result.returncode, result.stdout, result.stderr

    def latest_code(self, purpose: str) -> str:
        """The newest one-time code of ``purpose`` in the embedded SMS outbox (the phone)."""
        code, out, err = self.netid("sms", "outbox", "--json")
        assert code == 0, err
        for message in json.loads(out):
            if message["purpose"] == purpose:
                found = re.search(r"\d{6}", message["text"])
                assert found, message
                return found.group(0)
        raise AssertionError(f"no {purpose} message in {out}")


def wallet(directory: Path, *args: str, input: str | None = None) -> Any:
    """``netid wallet --wallet DIR --json ARGS``: the parsed JSON, exit code 0 asserted."""
    result = runner.invoke(
        _app(), ["wallet", "--wallet", str(directory), "--json", *args], input=input
    )
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    return json.loads(result.stdout)


def wallet_fails(directory: Path, *args: str, input: str | None = None) -> dict[str, Any]:
    """The same, for a command that must fail: its JSON error (exit code 1 asserted)."""
    result = runner.invoke(
        _app(), ["wallet", "--wallet", str(directory), "--json", *args], input=input
    )
    assert result.exit_code == 1, (args, result.stdout, result.stderr)
    error: dict[str, Any] = json.loads(result.stdout)["error"]
    return error


def _app() -> Any:
    from netid.cli.main import app

    return app


@pytest.fixture(scope="module", params=BACKENDS)
def platform(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    root = tmp_path_factory.mktemp("platform")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETID_")}
    env |= {
        "NETID_DATA_DIR": str(root / "var"),
        "NETID_PORT": str(port),
        "NETID_LOG_CHECKPOINT_SECONDS": "1",
        "NETID_LOG_CHECKPOINT_ENTRIES": "1",
    }
    schema = None
    if request.param == "postgresql":
        schema = f"w_{os.getpid()}_{secrets.token_hex(4)}"
        env |= {
            "NETID_DATABASE_URL": os.environ.get("NETID_TEST_DATABASE_URL", DEFAULT_PG_URL),
            "NETID_DATABASE_SCHEMA": schema,
            "NETID_REDIS_URL": os.environ.get("NETID_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
        }
    rng = random.Random(5)
    person = person_record(rng, name="欧阳·娜娜", sex="F")
    today = dt.datetime.now(CHINA_TZ).date()
    mother = person_record(rng, name="王丽", sex="F", birth=dt.date(1985, 6, 1))
    guardian = [{"document_number": mother["documents"][0]["number"], "relation": "mother"}]
    teen = person_record(rng, name="王小明", birth=years_before(today, 15), guardians=guardian)
    child = person_record(
        rng, name="王小红", sex="F", birth=years_before(today, 10), guardians=guardian
    )
    family = {"mother": mother, "teen": teen, "child": child}
    population = root / "people.jsonl"
    population.write_text(
        "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in (person, mother, teen, child)),
        encoding="utf-8",
    )
    number = person["documents"][0]["number"]
    face = root / "astronaut.png"
    face.write_bytes(photo("astronaut.png"))
    live = root / "live.jpg"
    live.write_bytes(jpeg(photo("astronaut.png"), brightness=1.2, crop=20))  # another shot
    platform = Platform(
        root=root,
        env=env,
        base=f"http://127.0.0.1:{port}",
        person=person,
        chip=root / "chip.json",
        live_photo=live,
        bank=root / "var" / "demo" / "institutions" / "bank.json",
        chips={who: root / f"chip-{who}.json" for who in family},
    )
    for args, stdin in [
        (("demo", "setup", "--people", "0"), None),  # schema, keys, the demo institutions
        (("registry", "import", str(population)), None),
        # the first chip creates the issuing authority's key (and the platform's trust in it)
        (("registry", "chip", "-", "--out", str(platform.chip)), number + "\n"),
    ]:
        code, _, err = platform.netid(*args, input=stdin)
        assert code == 0, (args, err)
    # The rest are independent: run them side by side (each face enrol loads the dlib model).
    parallel: list[tuple[tuple[str, ...], str]] = [
        (("faces", "enrol", "--document", "-", "--image", str(face)), number + "\n")
    ]
    for who, record in family.items():
        doc = record["documents"][0]["number"] + "\n"
        parallel.append((("faces", "enrol", "--document", "-", "--image", str(face)), doc))
        parallel.append((("registry", "chip", "-", "--out", str(platform.chips[who])), doc))
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda step: platform.netid(*step[0], input=step[1]), parallel))
    for (args, _), (code, _, err) in zip(parallel, results, strict=True):
        assert code == 0, (args, err)
    log = (root / "serve.log").open("wb")
    server = subprocess.Popen([*NETID, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{platform.base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            assert server.poll() is None, (root / "serve.log").read_text()
            time.sleep(0.1)
        yield platform
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()
        if schema is not None:
            engine = make_engine(env["NETID_DATABASE_URL"], pool=False)
            with engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            engine.dispose()


def years_before(today: dt.date, years: int) -> dt.date:
    """A birth date ``years`` and about a month before ``today`` (clear of any birthday)."""
    return today.replace(year=today.year - years, day=1) - dt.timedelta(days=30)


def scan(rp: RelyingParty, qr: str, purpose: str, **extra: Any) -> HttpAnswer:
    """An institution posts the scanned QR text to ``POST /v1/verifications``."""
    return rp.verify({"type": "netid_qr", "purpose": purpose, "qr": qr, **extra})


def error_code(answer: HttpAnswer) -> str:
    assert isinstance(answer.body, dict), answer
    return str(answer.body["error"]["code"])


def qr_text(directory: Path) -> str:
    result = runner.invoke(_app(), ["wallet", "--wallet", str(directory), "qr", "--once", "--text"])
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout.strip()


def test_a_citizen_from_enrolment_to_deregistration(platform: Platform, tmp_path: Path) -> None:
    me = tmp_path / "phone"
    # -- init: the device key -------------------------------------------------------------
    init = wallet(me, "init", "--server", platform.base)
    assert (me / state.KEY_FILE).stat().st_mode & 0o777 == 0o600

    # -- enrolment: chip, face, SMS code, PIN ---------------------------------------------
    started = wallet(me, "enrol", "start", "--chip", str(platform.chip))
    assert started["supervision"] == "none"
    assert "enrolment_id" not in started  # the step secret stays in the wallet directory
    wallet(me, "enrol", "face", "--photo", str(platform.live_photo))
    wrong = wallet_fails(me, "enrol", "otp", "--code-stdin", input="000000\n")
    assert wrong["code"] == "otp_invalid" and wrong["details"]["tries_left"] == 4
    otp = wallet(
        me, "enrol", "otp", "--code-stdin", input=platform.latest_code("enrolment_otp") + "\n"
    )
    assert otp["state"] == "ready"
    assert wallet_fails(me, "enrol", "finish", "--pin-stdin", input="123456\n")["code"] == (
        "pin_too_weak"
    )
    finished = wallet(me, "enrol", "finish", "--pin-stdin", input=PIN + "\n")
    assert finished["state"] == "issued"
    network_id = finished["network_id"]
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", network_id)
    credential = (me / state.CREDENTIAL_FILE).read_text().strip()
    assert (me / state.CREDENTIAL_FILE).stat().st_mode & 0o777 == 0o600
    assert init["device_kid"]

    # -- status: network ID, credential valid in the signed status list -------------------
    status = wallet(me, "status")
    assert status["network_id"] == network_id and status["status_list"] == "valid"
    assert status["session"] is None and status["credential_status"] is None

    # -- login at L1, L2, L3 --------------------------------------------------------------
    assert wallet_fails(me, "login", "--pin-stdin", input="000000\n")["code"] == "pin_invalid"
    assert wallet(me, "login", "--pin-stdin", input=PIN + "\n")["assurance"] == "L1"
    face_login = ["login", "--pin-stdin", "--face", str(platform.live_photo)]
    assert wallet(me, *face_login, input=PIN + "\n")["assurance"] == "L2"
    wallet(me, "otp")
    code = platform.latest_code("login_otp")
    l3 = wallet(me, *face_login, "--otp-sent", input=PIN + "\n" + code + "\n")
    assert l3["assurance"] == "L3"
    status = wallet(me, "status")
    assert status["assurance"] == "L3" and status["age_band"] == "adult"
    assert status["credential_status"] == "active"

    # -- refresh: a new credential for this device, kept once it verifies -----------------
    renewed = wallet(me, "refresh")
    assert renewed["expires_at"]
    fresh = (me / state.CREDENTIAL_FILE).read_text().strip()
    assert fresh != credential and wallet(me, "status")["status_list"] == "valid"
    credential = fresh

    # -- the dynamic QR code, scanned by an institution -----------------------------------
    bank = RelyingParty(ClientFile.load(platform.bank))
    first = qr_text(me)
    assert len(first) <= 600 and network_id.replace("-", "") not in first
    answer = scan(bank, first, "payment")
    assert answer.status == 200, answer.body
    assert answer.body["result"] == "match" and answer.body["assurance"] == "L3"
    assert error_code(scan(bank, first, "payment")) == "qr_replayed"
    second = qr_text(me)
    assert second != first and second.split(".")[1] != first.split(".")[1]
    png = tmp_path / "qr.png"
    result = runner.invoke(
        _app(), ["wallet", "--wallet", str(me), "qr", "--once", "--png", str(png)]
    )
    assert result.exit_code == 0, result.stderr
    assert set(result.stdout) & set("▀▄█")  # drawn in the terminal with half blocks
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_mode & 0o777 == 0o600

    # -- a claim needs separate consent: the request waits in the wallet ------------------
    asked = scan(bank, second, "account_opening", claims=["name"])
    assert error_code(asked) == "consent_required", asked.body
    request_id = asked.body["error"]["details"]["request_id"]
    pending = wallet(me, "requests")
    assert request_id in json.dumps(pending)
    wallet(me, "approve", request_id)
    granted = scan(bank, qr_text(me), "account_opening", claims=["name"])
    assert granted.status == 200, granted.body
    assert granted.body["claims"]["name"] == platform.person["name"]
    # The institution's side as a command: `netid client scan` reads the QR text on stdin.
    code, out, err = platform.netid(
        "client", "scan", "--institution", str(platform.bank), "--purpose", "account_opening",
        "--claims", "name", "--min-assurance", "L3", "--qr", "-", input=qr_text(me) + "\n",
    )  # fmt: skip
    assert code == 0, err
    scanned = json.loads(out.splitlines()[-1])
    assert scanned["answer"]["claims"]["name"] == platform.person["name"]
    assert scanned["answer"]["assurance"] == "L3"
    consents = wallet(me, "consents")
    assert "name" in json.dumps(consents, ensure_ascii=False)

    # -- an offline presentation ------------------------------------------------------------
    presentation = tmp_path / "presentation.txt"
    wallet(
        me,
        "present",
        "--claims",
        "name,age_over_18",
        "--nonce",
        "n-4711",
        "--audience",
        "https://hotel.example",
        "--out",
        str(presentation),
    )
    shown = presentation.read_text().strip()
    assert shown.startswith(credential.split("~")[0]) and shown.count("~") == 3
    refused = wallet_fails(
        me, "present", "--claims", "phone", "--nonce", "n", "--audience", "https://a.example"
    )
    assert refused["code"] == "claim_not_in_credential"
    verified = verify_presentation(platform, presentation, "n-4711", "https://hotel.example")
    assert verified["disclosed"] == {"name": platform.person["name"], "age_over_18": True}

    # -- locks ----------------------------------------------------------------------------
    wallet(me, "lock", "qr")
    assert error_code(scan(bank, qr_text(me), "payment")) == "method_locked"
    wallet(me, "unlock", "qr", "--minutes", "5")
    assert scan(bank, qr_text(me), "payment").status == 200
    wallet(me, "lock", "credential")
    assert wallet(me, "status")["status_list"] == "suspended"
    code_, _, err = verify_presentation_raw(
        platform, presentation, "n-4711", "https://hotel.example"
    )
    assert code_ != 0 and "credential_suspended" in err
    wallet(me, "unlock", "credential")
    assert wallet(me, "status")["status_list"] == "valid"

    # -- history: every entry proven in the log -------------------------------------------
    keys = tmp_path / "keys.json"
    code_, out, err = platform.netid("keys", "export-public")
    assert code_ == 0, err
    keys.write_text(out)
    deadline = time.monotonic() + 20
    while True:  # wait for a checkpoint that covers the verifications above (cut every 1 s)
        history = wallet(me, "history", "--log-keys", str(keys))
        actions = [e["entry"].get("action") for e in history["entries"] if e["verified"]]
        if any(str(a).startswith("verification") for a in actions):
            break
        assert time.monotonic() < deadline, history
        time.sleep(0.5)
    assert history["checkpoint_signature_verified"] is True
    assert all(e["verified"] or e["reason"] == "after_checkpoint" for e in history["entries"])

    # -- deregistration ---------------------------------------------------------------------
    assert wallet_fails(me, "deregister", "--confirm", "0000-0000-0000-0000")["code"] in (
        "confirmation_mismatch",
        "network_id_invalid",
    )
    stale_qr = qr_text(me)
    wallet(me, "deregister", "--confirm", network_id.lower().replace("-", ""))
    assert sorted(os.listdir(me)) == [state.WALLET_FILE]
    assert error_code(scan(bank, stale_qr, "payment")) in (
        "account_deregistered",
        "credential_revoked",
    )
    assert wallet_fails(me, "login", "--pin-stdin", input=PIN + "\n")["code"] == (
        "wallet_not_enrolled"
    )
    # The network ID is the person's for life: it comes back at re-enrolment.
    assert normalize_network_id(network_id)


def verify_presentation_raw(
    platform: Platform, presentation: Path, nonce: str, audience: str
) -> tuple[int, str, str]:
    """The institution's offline check: ``netid verify-presentation`` (JWKS + status list)."""
    return platform.netid(
        "verify-presentation",
        str(presentation),
        "--nonce",
        nonce,
        "--audience",
        audience,
        "--server",
        platform.base,
    )


def verify_presentation(
    platform: Platform, presentation: Path, nonce: str, audience: str
) -> dict[str, Any]:
    code, out, err = verify_presentation_raw(platform, presentation, nonce, audience)
    assert code == 0, (out, err)
    verified: dict[str, Any] = json.loads(out)
    return verified


def enrol(platform: Platform, directory: Path, chip: Path, *extra: str) -> dict[str, Any]:
    """chip, face, SMS code; then ``enrol finish`` (its answer is returned)."""
    wallet(directory, "enrol", "start", "--chip", str(chip), *extra)
    wallet(directory, "enrol", "face", "--photo", str(platform.live_photo))
    wallet(
        directory,
        "enrol",
        "otp",
        "--code-stdin",
        input=platform.latest_code("enrolment_otp") + "\n",
    )
    answer: dict[str, Any] = wallet(directory, "enrol", "finish", "--pin-stdin", input=PIN + "\n")
    return answer


def pending_ids(directory: Path) -> list[str]:
    found = re.findall(
        r'"(?:id|request_id|enrolment_id)": "([0-9a-f]{32})"',
        json.dumps(wallet(directory, "requests")),
    )
    return list(dict.fromkeys(found))


def test_minors_need_their_guardian(platform: Platform, tmp_path: Path) -> None:
    mother = tmp_path / "mother"
    wallet(mother, "init", "--server", platform.base)
    assert enrol(platform, mother, platform.chips["mother"])["state"] == "issued"
    wallet(mother, "login", "--pin-stdin", input=PIN + "\n")

    # 14-17: the teen enrols; the credential waits for the guardian's approval.
    teen = tmp_path / "teen"
    wallet(teen, "init", "--server", platform.base)
    started = wallet(teen, "enrol", "start", "--chip", str(platform.chips["teen"]))
    assert started["supervision"] == "guardian_approves"
    wallet(teen, "enrol", "face", "--photo", str(platform.live_photo))
    wallet(teen, "enrol", "otp", "--code-stdin", input=platform.latest_code("enrolment_otp") + "\n")
    waiting = wallet(teen, "enrol", "finish", "--pin-stdin", input=PIN + "\n")
    assert waiting == {"state": "awaiting_guardian"}
    assert wallet(teen, "enrol", "status")["state"] == "awaiting_guardian"
    (request,) = pending_ids(mother)
    wallet(mother, "approve", request)
    issued = wallet(teen, "enrol", "finish", "--pin-stdin", input=PIN + "\n")
    assert issued["state"] == "issued"
    assert wallet(teen, "status")["enrolled"] is True

    # Under 14: only the guardian's session can start it.
    child = tmp_path / "child"
    wallet(child, "init", "--server", platform.base)
    alone = wallet_fails(child, "enrol", "start", "--chip", str(platform.chips["child"]))
    assert alone["code"] == "guardian_required"
    answer = enrol(platform, child, platform.chips["child"], "--guardian-wallet", str(mother))
    assert answer["state"] == "issued"
    # ...and each use waits for the guardian's approval.
    wallet(child, "login", "--pin-stdin", input=PIN + "\n")
    bank = RelyingParty(ClientFile.load(platform.bank))
    asked = scan(bank, qr_text(child), "payment")
    assert error_code(asked) == "guardian_approval_required", asked.body
    wallet(mother, "approve", asked.body["error"]["details"]["request_id"])
    assert scan(bank, qr_text(child), "payment").status == 200
