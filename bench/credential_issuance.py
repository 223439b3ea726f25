"""Benchmark: network credential issuance in-process, SQLite and PostgreSQL.

    python -m bench.credential_issuance [--people 200] [--backends sqlite,postgresql]

Three numbers per backend:

* ``sdjwt_per_second``: signing the SD-JWT VC alone (Ed25519, 10 disclosures + decoys), no I/O;
* ``refresh_per_second``: ``EnrolmentService.refresh_credential`` each in its own transaction —
  the registry record opened, the SD-JWT signed, the row updated, the access record appended
  and committed: issuance without the PIN hash;
* ``complete_per_second``: ``EnrolmentService.complete`` from a ready enrolment (a new
  credential: PIN check and argon2id hash, device proof, network identity, status-list slot,
  earlier credentials revoked, collected face moved, SD-JWT, three access records). argon2id
  (64 MiB, t = 3: about 0.2 s) dominates it by design.

Results go to ``bench/results/credential_issuance.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from netid.bench.importer import fresh_container
from netid.container import Container
from netid.core.clock import today_in_china
from netid.credentials import jws, sdjwt
from netid.crypto import jose_keys
from netid.documents import DocumentType, synth
from netid.enrolment.models import Enrolment
from netid.enrolment.schemas import CitizenPrincipal
from netid.enrolment.service import _hash_secret
from netid.keys.schemas import KeyPurpose
from netid.registry.schemas import parse_record

RESULTS = Path(__file__).parent / "results"
PG_URL = os.environ.get(
    "NETID_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PIN = "R7k#p2-q"


def _records(n: int, today: dt.date) -> list[dict[str, Any]]:
    rng = random.Random(7)
    out = []
    for i in range(n):
        birth = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(365 * 50))
        number = synth.resident_id(rng, birth_date=birth, sex="M", region_code="110105")
        out.append(
            {
                "name": f"张{'伟' * (1 + i % 3)}",
                "sex": "M",
                "birth_date": birth.isoformat(),
                "nationality": "CHN",
                "status": "active",
                "phones": [f"+86139{rng.randrange(10**8):08d}"],
                "documents": [
                    {
                        "number": number,
                        "status": "valid",
                        "issued_on": "2015-01-01",
                        "expires_on": "2035-01-01",
                    }
                ],
            }
        )
    return out


def _ready_enrolment(container: Container, number: str, device: Any) -> str:
    """An enrolment row in the ``ready`` state (face and code done), as the flow leaves it."""
    jwk = jose_keys.public_jwk(device, kid=jose_keys.jwk_thumbprint(device))
    secret = jose_keys.b64url_encode(secrets.token_bytes(16))
    with container.transaction() as session:
        service = container.enrolment(session)
        registry = container.registry(session)
        person_id = registry.find_person_id(number)
        assert person_id is not None
        row_id = secrets.token_hex(16)
        now = container.clock.now()
        document = json.dumps({"type": DocumentType.RESIDENT_ID.value, "number": number})
        session.add(
            Enrolment(
                id=row_id,
                secret_hash=_hash_secret(secret),
                person_id=person_id,
                state="ready",
                supervision="none",
                guardian_person_id=None,
                guardian_decided_at=None,
                device_jwk=json.dumps(jwk, sort_keys=True),
                device_thumbprint=jwk["kid"],
                phone_sealed=service._data_seal(b"+8613900000000", "enrolment", "phone", row_id),
                document_sealed=service._data_seal(
                    document.encode(), "enrolment", "document", row_id
                ),
                face_sealed=None,
                face_model=None,
                face_failures=0,
                credential_id=None,
                created_at=now,
                updated_at=now,
                expires_at=now + dt.timedelta(minutes=30),
                completed_at=None,
            )
        )
    return secret


def run(backend: str, people: int, workdir: Path) -> dict[str, Any]:
    container = fresh_container(backend, workdir)
    schema = container.settings.database_schema
    today = today_in_china(container.clock)
    records = _records(people, today)
    with container.registry_unit() as registry:
        registry.import_batch(
            [(i, parse_record(r, today=today)) for i, r in enumerate(records, 1)],
            actor="operator:bench",
        )
    numbers = [r["documents"][0]["number"] for r in records]
    aud = f"{container.api_base_url()}/v1/enrolments"

    # complete(): a new credential per person
    devices, secrets_ = [], []
    for number in numbers:
        device = jose_keys.generate_private_key("ES256")
        devices.append(device)
        secrets_.append(_ready_enrolment(container, number, device))
    completed: list[tuple[str, str]] = []
    started = time.perf_counter()
    for device, secret in zip(devices, secrets_, strict=True):
        proof = jws.sign_compact(
            device,
            header={"typ": "netid-proof+jwt"},
            payload={
                "aud": aud,
                "iat": int(time.time()),
                "jti": secrets.token_urlsafe(16),
                "nonce": secret,
            },
        )
        with container.transaction() as session:
            done = container.enrolment(session).complete(enrolment_id=secret, pin=PIN, proof=proof)
        assert done.issued is not None
        completed.append((done.issued.credential_id, done.issued.credential))
    complete_seconds = time.perf_counter() - started

    # refresh(): re-issue for the same device, several rounds
    with container.transaction(write=False) as session:
        service = container.enrolment(session)
        principals = []
        for cid, _ in completed:
            found = service.credential_for_qr(cid)
            assert found is not None
            principals.append(CitizenPrincipal(found.person_id, cid, secrets.token_hex(16), "L1"))
    rounds = 3
    latencies = []
    started = time.perf_counter()
    for _ in range(rounds):
        for principal in principals:
            t0 = time.perf_counter()
            with container.transaction() as session:
                container.enrolment(session).refresh_credential(principal)
            latencies.append(time.perf_counter() - t0)
    refresh_seconds = time.perf_counter() - started

    # the SD-JWT alone
    key = container.keyring().active(KeyPurpose.ED25519_SIGNING)
    issuer_key = jose_keys.load_private_key("EdDSA", key.secret)
    claims = sdjwt.claims_of(completed[0][1])
    plain = {k: claims[k] for k in ("iss", "vct", "iat", "nbf", "exp", "cnf", "status", "jti")}
    disclosable = {k: v for k, v in claims.items() if k not in plain}
    n_sign = 2000
    started = time.perf_counter()
    for _ in range(n_sign):
        sdjwt.issue(issuer_key=issuer_key, kid=key.key_id, payload=plain, disclosable=disclosable)
    sign_seconds = time.perf_counter() - started
    if schema:
        with container.engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    container.engine.dispose()
    latencies.sort()
    return {
        "backend": backend,
        "people": people,
        "complete_per_second": round(people / complete_seconds, 1),
        "refresh_per_second": round(len(latencies) / refresh_seconds, 1),
        "refresh_p50_ms": round(statistics.median(latencies) * 1000, 2),
        "refresh_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
        "sdjwt_per_second": round(n_sign / sign_seconds),
        "credential_chars": len(completed[0][1]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    runs = []
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            result = run(backend, args.people, Path(tmp))
        print(json.dumps(result))
        runs.append(result)
    RESULTS.mkdir(exist_ok=True)
    document = {
        "benchmark": "credential_issuance",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "system": platform.platform(),
        },
        "runs": runs,
    }
    (RESULTS / "credential_issuance.json").write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    main()
