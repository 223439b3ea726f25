"""A small world for enrolment tests: a pinned clock, a trusted chip issuer, a registry with
faces and guardians, a wallet-like device, and the HTTP app over all of it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import random
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from netid.config import Settings
from netid.container import Container
from netid.core.clock import FixedClock
from netid.credentials import jws, sdjwt
from netid.credentials import status_list as status_lists
from netid.credentials.presentation import keys_from_jwks
from netid.crypto import jose_keys
from netid.crypto.sm2 import Sm2PrivateKey
from netid.documents import DocumentType
from netid.documents.chip import ChipData, issuer_key_entry, issuer_kid, sign_chip
from netid.enrolment import models as m
from netid.registry.schemas import parse_record
from netid.web.app import create_app
from tests.conftest import Backend
from tests.faces.photos import jpeg, photo
from tests.registry.factories import TODAY, person_record

ACTOR = "operator:test"
NOW = dt.datetime(2026, 11, 22, 4, 0, tzinfo=dt.UTC)  # 12:00 in China, on TODAY
assert NOW.date() == TODAY
PIN = "R7k#p2-q"
OTP_RE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


def live_photo() -> bytes:
    """Another shot of the registry photo's person, as it were."""
    return jpeg(photo("astronaut.png"), brightness=1.2, crop=20)


def other_face() -> bytes:
    return jpeg(photo("tom_hanks.png"))


class Device:
    """The wallet's device key and the JWTs it signs."""

    def __init__(self, clock: FixedClock) -> None:
        self.key = jose_keys.generate_private_key("ES256")
        self.clock = clock

    @property
    def jwk(self) -> dict[str, str]:
        return jose_keys.public_jwk(self.key, kid="device")

    def now(self) -> int:
        return int(self.clock.now().timestamp())

    def sign(self, typ: str, payload: dict[str, Any]) -> str:
        return jws.sign_compact(self.key, header={"typ": typ}, payload=payload)

    def liveness(self, enrolment_id: str, image: bytes | None = None, **overrides: Any) -> str:
        """The device's signed liveness result for ``image`` (default: the live photo)."""
        digest = hashlib.sha256(image if image is not None else live_photo()).digest()
        payload = {
            "enrolment_id": enrolment_id,
            "result": "live",
            "iat": self.now(),
            "image_sha256": jose_keys.b64url_encode(digest),
        }
        return self.sign("netid-liveness+jwt", {**payload, **overrides})

    def proof(self, aud: str, nonce: str | None = None, **overrides: Any) -> str:
        payload: dict[str, Any] = {"aud": aud, "iat": self.now(), "jti": secrets.token_urlsafe(16)}
        if nonce is not None:
            payload["nonce"] = nonce
        return self.sign("netid-proof+jwt", {**payload, **overrides})


@dataclass
class World:
    container: Container
    clock: FixedClock
    http: TestClient
    issuer: Sm2PrivateKey
    kid: str
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    base: str = ""

    # -- registry ----------------------------------------------------------------------------
    def number(self, who: str) -> str:
        return str(self.records[who]["documents"][0]["number"])

    def person_id(self, who: str) -> str:
        with self.container.transaction(write=False) as session:
            found = self.container.registry(session).find_person_id(self.number(who))
        assert found is not None
        return found

    def chip(self, who: str, **changes: Any) -> dict[str, Any]:
        record = self.records[who]
        doc = record["documents"][0]
        data = ChipData(
            document_type=DocumentType.RESIDENT_ID,
            number=doc["number"],
            name=record["name"],
            birth_date=dt.date.fromisoformat(record["birth_date"]),
            sex=record["sex"],
            nationality=record["nationality"],
            issued_on=dt.date.fromisoformat(doc["issued_on"]) if doc["issued_on"] else None,
            expires_on=dt.date.fromisoformat(doc["expires_on"]) if doc["expires_on"] else None,
        )
        if changes:
            data = dataclasses.replace(data, **changes)
        return dict(sign_chip(data, key=self.issuer, kid=self.kid, signed_at=self.clock.now()))

    # -- SMS ---------------------------------------------------------------------------------
    def last_code(self) -> str:
        with self.container.transaction(write=False) as session:
            messages = self.container.outbox(session).list(1, actor=ACTOR, show_phone=True)
        assert messages, "no SMS sent"
        found = OTP_RE.search(messages[0].text)
        assert found is not None
        return found.group(1)

    def sms_count(self) -> int:
        with self.container.transaction(write=False) as session:
            return len(self.container.outbox(session).list(1000, actor=ACTOR))

    # -- HTTP flows --------------------------------------------------------------------------
    def start(self, who: str, device: Device, *, token: str | None = None, chip: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body = {"chip": chip if chip is not None else self.chip(who), "device_jwk": device.jwk}
        return self.http.post("/v1/enrolments", json=body, headers=headers)

    def face(self, enrolment_id: str, device: Device, image: bytes | None = None) -> Any:
        import base64

        photo = image or live_photo()
        return self.http.post(
            "/v1/enrolments/face",
            json={
                "enrolment_id": enrolment_id,
                "face_image": base64.b64encode(photo).decode(),
                "liveness": device.liveness(enrolment_id, photo),
            },
        )

    def otp(self, enrolment_id: str, code: str | None = None) -> Any:
        return self.http.post(
            "/v1/enrolments/otp",
            json={"enrolment_id": enrolment_id, "code": code or self.last_code()},
        )

    def complete(self, enrolment_id: str, device: Device, pin: str = PIN) -> Any:
        return self.http.post(
            "/v1/enrolments/complete",
            json={
                "enrolment_id": enrolment_id,
                "pin": pin,
                "proof": device.proof(f"{self.base}/v1/enrolments", nonce=enrolment_id),
            },
        )

    def until_ready(self, who: str, device: Device, *, token: str | None = None) -> str:
        started = self.start(who, device, token=token)
        assert started.status_code == 201, started.text
        enrolment_id = str(started.json()["enrolment_id"])
        assert self.face(enrolment_id, device).status_code == 200
        answer = self.otp(enrolment_id)
        assert answer.status_code == 200, answer.text
        return enrolment_id

    def enrol(self, who: str, device: Device, *, token: str | None = None) -> dict[str, Any]:
        enrolment_id = self.until_ready(who, device, token=token)
        done = self.complete(enrolment_id, device)
        assert done.status_code == 201, done.text
        body: dict[str, Any] = done.json()
        return body

    def sign_in(self, credential_id: str, device: Device, pin: str = PIN, **extra: Any) -> Any:
        return self.http.post(
            "/v1/wallet/sessions",
            json={
                "credential_id": credential_id,
                "pin": pin,
                "proof": device.proof(f"{self.base}/v1/wallet"),
                **extra,
            },
        )

    def session(self, credential_id: str, device: Device) -> str:
        answer = self.sign_in(credential_id, device)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["token"])

    def credential_status(self, credential: str) -> int:
        """The credential's entry in its status list, read the way an offline verifier does:
        signature with the JWKS, then the signed status list it names."""
        jwks = self.http.get("/v1/credentials/jwks").json()
        now = int(self.clock.now().timestamp())
        verified = sdjwt.verify(
            credential,
            issuer_keys=keys_from_jwks(jwks),
            now=now,
            audience=None,
            nonce=None,
            require_key_binding=False,
        )
        assert verified.status is not None
        token = self.http.get(verified.status.uri.removeprefix(self.base)).text
        lst = status_lists.verify_token(
            token, keys=keys_from_jwks(jwks), uri=verified.status.uri, now=now
        )
        return lst.status(verified.status.idx)

    # -- database peeks ----------------------------------------------------------------------
    def count(self, model: type[Any]) -> int:
        with self.container.transaction(write=False) as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)

    def snapshot(self) -> dict[str, Any]:
        """Everything enrolment owns, as comparable values (ignoring the audit log)."""
        out: dict[str, Any] = {}
        with self.container.transaction(write=False) as session:
            for model in (
                m.NetworkIdentity,
                m.Enrolment,
                m.Credential,
                m.StatusList,
                m.CollectedFace,
            ):
                rows = session.scalars(select(model)).all()
                out[model.__tablename__] = sorted(
                    json.dumps(
                        {c.key: repr(getattr(r, c.key)) for c in model.__table__.columns},
                        sort_keys=True,
                    )
                    for r in rows
                )
        return out

    def actions(self) -> list[tuple[str, str]]:
        from netid.audit.models import AccessRecord

        with self.container.transaction(write=False) as session:
            rows = session.execute(
                select(AccessRecord.action, AccessRecord.outcome).order_by(AccessRecord.log_index)
            ).all()
        return [(a, o) for a, o in rows]


def make_world(settings: Settings, db: Backend) -> World:
    clock = FixedClock(NOW)
    container = Container(settings, engine=db.engine, clock=clock)
    with container.transaction() as session:
        container.keyring_service(session).initialise()
    issuer = Sm2PrivateKey.generate()
    kid = issuer_kid(issuer.public_key())
    trust = container.document_issuer_trust_file()
    trust.parent.mkdir(parents=True, exist_ok=True)
    trust.write_text(json.dumps({"keys": [issuer_key_entry(kid, issuer.public_key(), NOW)]}))
    world = World(
        container=container,
        clock=clock,
        http=TestClient(create_app(container)),
        issuer=issuer,
        kid=kid,
        base=container.api_base_url(),
    )
    load_registry(world)
    return world


def load_registry(world: World) -> None:
    rng = random.Random(5)
    mother = person_record(rng, name="林美华", sex="F", birth=dt.date(1985, 4, 2))
    adult = person_record(rng, name="欧阳·娜娜", sex="F", birth=dt.date(1990, 3, 7))
    stranger = person_record(rng, name="周杰", birth=dt.date(1979, 1, 18))
    link = [{"document_number": mother["documents"][0]["number"], "relation": "mother"}]
    teen = person_record(
        rng, name="李小龙", birth=TODAY.replace(year=TODAY.year - 15), guardians=link
    )
    child = person_record(rng, name="李小华", birth=dt.date(2016, 6, 1), guardians=link)
    revoked = person_record(rng, name="王芳", sex="F", birth=dt.date(1992, 8, 8))
    revoked["documents"][0]["status"] = "revoked"
    deceased = person_record(rng, name="赵强", birth=dt.date(1950, 5, 1))
    deceased["status"], deceased["death_date"] = "deceased", "2020-01-01"
    world.records = {
        "mother": mother,
        "adult": adult,
        "stranger": stranger,
        "teen": teen,
        "child": child,
        "revoked": revoked,
        "deceased": deceased,
    }
    rows = [(i, parse_record(r, today=TODAY)) for i, r in enumerate(world.records.values(), 1)]
    c = world.container
    with c.registry_unit() as registry:
        outcome = registry.import_batch(rows, actor=ACTOR)
    assert outcome.imported == len(rows), outcome.rejections
    matcher = c.face_matcher()
    template = matcher.template(photo("astronaut.png"))
    with c.transaction() as session:
        registry = c.registry(session)
        for who in ("mother", "adult", "stranger", "teen", "child", "revoked", "deceased"):
            person_id = registry.find_person_id(str(world.records[who]["documents"][0]["number"]))
            assert person_id is not None
            registry.store_face_template(
                person_id, model=matcher.model, template=template, actor=ACTOR
            )
