"""Benchmark: ``netid_qr`` verifications over HTTP against ``netid serve``, SQLite and PostgreSQL.

    python -m bench.netid_qr_http [--people 2000] [--wallets 20] [--backends sqlite,postgresql]
        [--connections 32] [--duration 20] [--workers 2]

For each backend, in a fresh data directory: a registry of N generated people, W of them
enrolled through the real enrolment API (chip signed by a document issuer key the platform
trusts, face checked by dlib against the registry template, SMS code read from the outbox, PIN,
device key), each signed in and holding QR references; one approved bank. Then thousands of QR
tokens are minted the way the wallet mints them (device-signed, 60 s, a fresh nonce each — so
every request is a first redemption), and wrk posts them to the real server over loopback, each
once, beside the same server's ``/healthz`` ceiling. Afterwards the access records are counted:
every 200 answer must have its record. Results are appended to
``bench/results/netid_qr_http.json``.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import io
import json
import os
import platform
import random
import re
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from bench.verification_http import (
    PG_URL,
    bench_institution,
    bench_token,
    free_port,
    ready_container,
    relaxed_monitoring_rules,
    server_rss_mib,
    serving,
    wrk,
)
from netid.audit.models import AccessRecord
from netid.config import Settings
from netid.container import Container
from netid.core.clock import SystemClock, today_in_china
from netid.credentials import jws, qr
from netid.crypto import jose_keys
from netid.crypto.sm2 import Sm2PrivateKey
from netid.documents import DocumentType, parse_document_number
from netid.documents.chip import ChipData, issuer_key_entry, issuer_kid, sign_chip
from netid.registry.importer import run_import
from netid.registry.synthetic import write_population
from netid.web.app import create_app

ROOT = Path(__file__).parent
RESULTS = ROOT / "results"
PHOTO = ROOT.parent / "tests" / "faces" / "photos" / "astronaut.png"
PIN = "R7k#p2-q"
OTP_RE = re.compile(r"(?<!\d)(\d{6})(?!\d)")

# wrk runs each thread in its own Lua state: thread k sends bodies k, k+T, k+2T… so no token
# goes out twice (T = WRK_THREADS, wrk's -t2 in bench.verification_http.wrk).
LUA = """
local bodies = {}
for line in io.lines("%(bodies)s") do bodies[#bodies + 1] = line end
local threads = 0
function setup(thread)
  thread:set("offset", threads)
  threads = threads + 1
end
local i = nil
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(token)s"
request = function()
  if i == nil then i = offset end
  local body = bodies[i %% #bodies + 1]
  i = i + 2
  return wrk.format(nil, "/v1/verifications", nil, body)
end
"""


def environment(workdir: Path, backend: str, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETID_")}
    env["NETID_DATA_DIR"] = str(workdir)
    env["NETID_MONITORING_RULES"] = str(relaxed_monitoring_rules(workdir))
    env["NETID_MASTER_KEY_FILE"] = str(workdir / "master.key")
    env["NETID_PORT"] = str(port)
    env["NETID_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    if backend == "postgresql":
        env["NETID_DATABASE_URL"] = PG_URL
        env["NETID_DATABASE_SCHEMA"] = f"bench_qr_{secrets.token_hex(4)}"
    return env


def settings_of(env: dict[str, str]) -> Settings:
    return Settings(
        data_dir=Path(env["NETID_DATA_DIR"]),
        database_url=env.get("NETID_DATABASE_URL"),
        database_schema=env.get("NETID_DATABASE_SCHEMA"),
        master_key_file=Path(env["NETID_MASTER_KEY_FILE"]),
        public_url=env["NETID_PUBLIC_URL"],
        monitoring_rules=Path(env["NETID_MONITORING_RULES"]),
    )


def as_jpeg(data: bytes) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


class Enroller:
    """Enrols people through the real API in-process, as the wallet would over HTTP."""

    def __init__(self, container: Container) -> None:
        self.container = container
        self.http = TestClient(create_app(container))
        self.base = container.api_base_url()
        self.issuer = Sm2PrivateKey.generate()
        self.kid = issuer_kid(self.issuer.public_key())
        trust = container.document_issuer_trust_file()
        trust.write_text(
            json.dumps({"keys": [issuer_key_entry(self.kid, self.issuer.public_key(), self.now())]})
        )
        self.photo = as_jpeg(PHOTO.read_bytes())  # a phone camera's JPEG, well under 512 KiB
        self.template = container.face_matcher().template(self.photo)

    @staticmethod
    def now() -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def sign(self, key: jose_keys.JosePrivateKey, typ: str, payload: dict[str, Any]) -> str:
        return jws.sign_compact(key, header={"typ": typ}, payload=payload)

    def proof(self, key: jose_keys.JosePrivateKey, aud: str, nonce: str | None = None) -> str:
        payload: dict[str, Any] = {
            "aud": aud,
            "iat": int(time.time()),
            "jti": secrets.token_urlsafe(16),
        }
        if nonce:
            payload["nonce"] = nonce
        return self.sign(key, "netid-proof+jwt", payload)

    def last_code(self) -> str:
        with self.container.transaction(write=False) as session:
            messages = self.container.outbox(session).list(1, actor="operator:bench")
        found = OTP_RE.search(messages[0].text)
        assert found, "no code in the outbox"
        return found.group(1)

    def enrol(self, record: dict[str, Any]) -> dict[str, Any]:
        """The whole enrolment of one person; returns the wallet (key, credential, refs)."""
        doc = record["documents"][0]
        with self.container.transaction() as session:
            registry = self.container.registry(session)
            person_id = registry.find_person_id(doc["number"])
            assert person_id
            registry.store_face_template(
                person_id,
                model=self.container.face_matcher().model,
                template=self.template,
                actor="operator:bench",
            )
        check = parse_document_number(doc["number"], today=today_in_china(SystemClock()))
        assert check.type is not None
        assert check.normalized is not None
        chip = sign_chip(
            ChipData(
                document_type=DocumentType(check.type),
                number=check.normalized,
                name=record["name"],
                birth_date=dt.date.fromisoformat(record["birth_date"]),
                sex=record["sex"],
                nationality=record["nationality"],
                issued_on=dt.date.fromisoformat(doc["issued_on"]) if doc["issued_on"] else None,
                expires_on=dt.date.fromisoformat(doc["expires_on"]) if doc["expires_on"] else None,
            ),
            key=self.issuer,
            kid=self.kid,
            signed_at=self.now(),
        )
        device = jose_keys.generate_private_key("ES256")
        started = self.http.post(
            "/v1/enrolments",
            json={"chip": chip, "device_jwk": jose_keys.public_jwk(device, kid="device")},
        )
        assert started.status_code == 201, started.text
        enrolment_id = started.json()["enrolment_id"]
        liveness = self.sign(
            device,
            "netid-liveness+jwt",
            {
                "enrolment_id": enrolment_id,
                "result": "live",
                "iat": int(time.time()),
                "image_sha256": jose_keys.b64url_encode(hashlib.sha256(self.photo).digest()),
            },
        )
        face = self.http.post(
            "/v1/enrolments/face",
            json={
                "enrolment_id": enrolment_id,
                "face_image": base64.b64encode(self.photo).decode(),
                "liveness": liveness,
            },
        )
        assert face.status_code == 200, face.text
        otp = self.http.post(
            "/v1/enrolments/otp", json={"enrolment_id": enrolment_id, "code": self.last_code()}
        )
        assert otp.status_code == 200, otp.text
        t0 = time.perf_counter()
        done = self.http.post(
            "/v1/enrolments/complete",
            json={
                "enrolment_id": enrolment_id,
                "pin": PIN,
                "proof": self.proof(device, f"{self.base}/v1/enrolments", nonce=enrolment_id),
            },
        )
        complete_seconds = time.perf_counter() - t0
        assert done.status_code == 201, done.text
        credential_id = done.json()["credential_id"]
        signed_in = self.http.post(
            "/v1/wallet/sessions",
            json={
                "credential_id": credential_id,
                "pin": PIN,
                "proof": self.proof(device, f"{self.base}/v1/wallet"),
            },
        )
        assert signed_in.status_code == 200, signed_in.text
        refs = self.http.post(
            "/v1/wallet/qr-refs",
            json={"count": 40},
            headers={"Authorization": f"Bearer {signed_in.json()['token']}"},
        )
        assert refs.status_code == 200, refs.text
        return {
            "device": device,
            "refs": refs.json()["refs"],
            "complete_s": complete_seconds,
            "session": signed_in.json()["token"],  # 15 minutes: long enough for a benchmark
            "person_id": person_id,
        }


def adults_with_phones(population: Path, count: int, seed: int) -> list[dict[str, Any]]:
    today = today_in_china(SystemClock())
    chosen: list[dict[str, Any]] = []
    with population.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            born = dt.date.fromisoformat(record["birth_date"])
            adult = (today - born).days > 20 * 366
            doc = record["documents"][0]
            if (
                adult
                and record["phones"]
                and record["status"] == "active"
                and doc["status"] == "valid"
            ):
                chosen.append(record)
    random.Random(seed).shuffle(chosen)
    return chosen[:count]


def enrolled_wallets(
    env: dict[str, str], args: argparse.Namespace
) -> tuple[Container, list[dict[str, Any]]]:
    """A fresh container on ``env`` with a registry of ``args.people`` generated people, of
    whom ``args.wallets`` adults are enrolled through the real API (shared with
    bench.oidc_http)."""
    container = ready_container(settings_of(env))
    workdir = Path(env["NETID_DATA_DIR"])
    population = workdir / "people.jsonl"
    today = today_in_china(SystemClock())
    write_population(population, people=args.people, seed=args.seed, today=today)
    with open(os.devnull, "w") as devnull:
        run_import(
            population,
            unit_of_work=container.registry_unit,
            actor="operator:bench",
            today=today,
            now=container.clock.now,
            report=devnull,
            batch_size=5000,
            workers=1,
        )
    enroller = Enroller(container)
    wallets = [enroller.enrol(r) for r in adults_with_phones(population, args.wallets, args.seed)]
    population.unlink()
    return container, wallets


def prepare(env: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    container, wallets = enrolled_wallets(env, args)
    client = bench_institution(container)
    container.engine.dispose()
    return {"wallets": wallets, "client": client}


def mint_bodies(wallets: list[dict[str, Any]], count: int, path: Path) -> None:
    """``count`` QR tokens as wrk request bodies, each a first redemption (fresh nonce)."""
    now = int(time.time())
    rng = random.Random()
    lines = []
    for _ in range(count):
        wallet = rng.choice(wallets)
        text = qr.mint(wallet["device"], ref=rng.choice(wallet["refs"]), issued_at=now)
        lines.append(json.dumps({"type": "netid_qr", "purpose": "account_opening", "qr": text}))
    path.write_text("\n".join(lines) + "\n")


def count_records(env: dict[str, str]) -> dict[str, int]:
    """Access records of netid_qr verifications by outcome, refusals by their code."""
    container = Container(settings_of(env))
    counts: dict[str, int] = {}
    with container.transaction(write=False) as session:
        rows = session.execute(
            select(AccessRecord.outcome, AccessRecord.canonical).where(
                AccessRecord.action == "verification.netid_qr"
            )
        )
        for outcome, canonical in rows:
            if outcome == "refused":
                outcome = "refused:" + json.loads(canonical)["details"].get("reason", "?")
            counts[outcome] = counts.get(outcome, 0) + 1
    container.engine.dispose()
    return counts


def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"netid-qr-bench-{backend}-"))
    port = free_port()
    env = environment(workdir, backend, port)
    try:
        t0 = time.perf_counter()
        facts = prepare(env, args)
        setup_seconds = round(time.perf_counter() - t0, 1)
        base = env["NETID_PUBLIC_URL"]
        with serving(env, workers=args.workers, log_path=workdir / "serve.log") as server:
            token = bench_token(base, facts["client"])
            hello = wrk(
                f"{base}/healthz", connections=args.connections, duration=args.duration, script=None
            )
            warm, main_bodies = workdir / "warm.jsonl", workdir / "bodies.jsonl"
            mint_bodies(facts["wallets"], 2000, warm)
            warm_script = workdir / "warm.lua"
            warm_script.write_text(LUA % {"bodies": warm, "token": token})
            wrk(
                f"{base}/v1/verifications",
                connections=args.connections,
                duration=3,
                script=warm_script,
            )
            # Enough tokens that none is sent twice: the ceiling is a few thousand a second.
            mint_bodies(facts["wallets"], args.tokens, main_bodies)
            script = workdir / "qr.lua"
            script.write_text(LUA % {"bodies": main_bodies, "token": token})
            result = wrk(
                f"{base}/v1/verifications",
                connections=args.connections,
                duration=args.duration,
                script=script,
            )
            rss = server_rss_mib(server.pid)
        recorded = count_records(env)
        complete = sorted(w["complete_s"] for w in facts["wallets"])
        return {
            "backend": backend,
            "people": args.people,
            "wallets": len(facts["wallets"]),
            "setup_seconds": setup_seconds,
            "enrolment_complete_p50_ms": round(complete[len(complete) // 2] * 1000, 1),
            "workers": args.workers,
            "connections": args.connections,
            "duration_s": args.duration,
            "hello_world": hello,
            "netid_qr": result,
            "tokens_minted": args.tokens,
            "every_token_fresh": result["requests"] <= args.tokens,
            "ratio_to_hello_world": round(
                result["requests_per_second"] / hello["requests_per_second"], 3
            ),
            "access_records": recorded,
            "every_answer_recorded": recorded.get("match", 0)
            >= result["requests"] - result["non_2xx"],
            "server_rss_mib_after": rss,
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--wallets", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=60_000)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    if args.duration > 45:
        sys.exit("QR tokens live 60 s: keep --duration at most 45")
    runs = [run_backend(b, args) for b in args.backends.split(",") if b]
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "netid_qr_http.json"
    history = json.loads(out.read_text()) if out.exists() else []
    history.append(
        {
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "load_average_before": os.getloadavg(),
            "runs": runs,
        }
    )
    out.write_text(json.dumps(history, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(runs, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
