"""Wallets for the netid_qr and OIDC scenarios, enrolled through the running server's public
API as a phone would (from bench/netid_qr_http.py): the chip signed by a document issuer key
the platform trusts, the face checked by dlib against the registry template, the SMS code read
from the outbox, a PIN and a device key. Enrolled once per cached population; each run signs
them in again (sessions last minutes) and fetches fresh QR references.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import re
import time
from pathlib import Path
from typing import Any

from netid.bench.common import checkout_root
from netid.bench.population import Population
from netid.client.rp import private_jwk
from netid.container import Container
from netid.core.clock import SystemClock, today_in_china
from netid.credentials import qr
from netid.crypto import jose_keys
from netid.crypto.sm2 import Sm2PrivateKey
from netid.documents import DocumentType, parse_document_number
from netid.documents.chip import ChipData, issuer_key_entry, issuer_kid, sign_chip
from netid.wallet import device as wallet_device
from netid.wallet.client import WalletClient

PIN = "R7k#p2-q"
OTP_RE = re.compile(r"(?<!\d)(\d{6})(?!\d)")
REFS_PER_WALLET = 40


def _photo() -> bytes:
    path = checkout_root() / "tests" / "faces" / "photos" / "astronaut.png"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `python -m tests.faces.photos`")
    from PIL import Image

    out = io.BytesIO()
    Image.open(io.BytesIO(path.read_bytes())).convert("RGB").save(out, "JPEG", quality=90)
    return out.getvalue()  # a phone camera's JPEG, well under 512 KiB


class Enroller:
    def __init__(self, container: Container, base: str) -> None:
        self.container = container
        self.client = WalletClient(base, timeout=60)
        self.base = base
        self.issuer = Sm2PrivateKey.generate()
        self.kid = issuer_kid(self.issuer.public_key())
        now = dt.datetime.now(dt.UTC)
        trust = container.document_issuer_trust_file()
        entries = [issuer_key_entry(self.kid, self.issuer.public_key(), now)]
        if trust.exists():  # an earlier run's issuer stays trusted beside this one
            entries = json.loads(trust.read_text())["keys"] + entries
        trust.write_text(json.dumps({"keys": entries}))
        self.photo = _photo()
        self.template = container.face_matcher().template(self.photo)

    def _last_code(self) -> str:
        with self.container.transaction() as session:  # reading the outbox is recorded
            messages = self.container.outbox(session).list(1, actor="operator:bench")
        found = OTP_RE.search(messages[0].text)
        if not found:
            raise RuntimeError("no code in the SMS outbox")
        return found.group(1)

    def enrol(self, record: dict[str, Any]) -> dict[str, Any]:
        doc = record["documents"][0]
        with self.container.transaction() as session:
            registry = self.container.registry(session)
            person_id = registry.find_person_id(doc["number"])
            if person_id is None:
                raise RuntimeError("a candidate is not in the registry")
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
            signed_at=dt.datetime.now(dt.UTC),
        )
        device = jose_keys.generate_private_key("ES256")
        started = self.client.start_enrolment(
            chip, wallet_device.public_jwk(device), guardian_token=None
        )
        enrolment_id = started["enrolment_id"]
        now = int(time.time())
        liveness = wallet_device.liveness_jwt(
            device, enrolment_id=enrolment_id, image=self.photo, now=now
        )
        self.client.enrolment_face(enrolment_id, base64.b64encode(self.photo).decode(), liveness)
        self.client.enrolment_otp(enrolment_id, self._last_code())
        proof = wallet_device.proof_jwt(
            device, audience=f"{self.base}/v1/enrolments", now=int(time.time()), nonce=enrolment_id
        )
        done = self.client.complete_enrolment(enrolment_id, PIN, proof)
        if "credential_id" not in done:
            raise RuntimeError(f"enrolment did not complete: {done.get('state')}")
        return {
            "credential_id": done["credential_id"],
            "device": private_jwk(device, "device"),
            "person_id": person_id,
        }


def device_key(wallet: dict[str, Any]) -> jose_keys.JosePrivateKey:
    return jose_keys.load_private_key("ES256", jose_keys.b64url_decode(wallet["device"]["d"]))


def enrolled(
    population: Population, container: Container, base: str, count: int
) -> list[dict[str, Any]]:
    """``count`` enrolled wallets of this population (enrolling the missing ones now)."""
    path = population.root / "wallets.json"
    wallets: list[dict[str, Any]] = json.loads(path.read_text()) if path.exists() else []
    if len(wallets) < count:
        enroller = Enroller(container, base)
        taken = {w["person_id"] for w in wallets}
        with container.transaction(write=False) as session:
            registry = container.registry(session)
            fresh = [
                c
                for c in population.candidates()
                if registry.find_person_id(c["documents"][0]["number"]) not in taken
            ]
        for record in fresh[: count - len(wallets)]:
            wallets.append(enroller.enrol(record))
            path.write_text(json.dumps(wallets))
            path.chmod(0o600)
    if len(wallets) < count:
        raise RuntimeError(f"only {len(wallets)} people of this population can enrol")
    return wallets[:count]


def signed_in(base: str, wallet: dict[str, Any]) -> dict[str, Any]:
    """The wallet with a fresh session and QR references."""
    client = WalletClient(base, timeout=60)
    key = device_key(wallet)
    proof = wallet_device.proof_jwt(key, audience=f"{base}/v1/wallet", now=int(time.time()))
    session = client.create_session(wallet["credential_id"], PIN, proof)
    refs = client.qr_refs(session["token"], REFS_PER_WALLET)
    return {**wallet, "key": key, "session": session["token"], "refs": refs["refs"]}


def mint_qr_bodies(wallets: list[dict[str, Any]], count: int, path: Path) -> None:
    """``count`` QR tokens as verification request bodies, minted the way the wallet mints them
    (device-signed, a fresh nonce each): every one is a first redemption."""
    import random

    now = int(time.time())
    rng = random.Random()
    with path.open("w", encoding="utf-8") as out:
        for _ in range(count):
            wallet = rng.choice(wallets)
            token = qr.mint(wallet["key"], ref=rng.choice(wallet["refs"]), issued_at=now)
            out.write(json.dumps({"type": "netid_qr", "purpose": "account_opening", "qr": token}))
            out.write("\n")
