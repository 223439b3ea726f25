"""Test helpers: institution keys made with `cryptography`, hand-built client assertions (so
that tests can also build the malformed and hostile ones), and an in-test client directory."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from netid.audit.models import AccessRecord
from netid.config import Settings
from netid.container import Container
from netid.crypto import jose_keys
from netid.oauth.schemas import ClientDirectory, RegisteredClient
from netid.oauth.service import TOKEN_ACTION

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass
class Institution:
    client_id: str
    private: jose_keys.JosePrivateKey
    kid: str
    code: str = "91110000TEST00001X"
    institution_id: str = field(default_factory=lambda: secrets.token_hex(16))
    active: bool = True

    @property
    def alg(self) -> str:
        return jose_keys.algorithm_of(self.private)

    def registered(self) -> RegisteredClient:
        return RegisteredClient(
            client_id=self.client_id,
            institution_id=self.institution_id,
            institution_code=self.code,
            active=self.active,
            jwks=[jose_keys.public_jwk(self.private, self.kid)],
        )


def new_institution(alg: str = "ES256", client_id: str | None = None) -> Institution:
    key = jose_keys.generate_private_key(alg)  # type: ignore[arg-type]
    return Institution(
        client_id=client_id or f"c_{secrets.token_hex(8)}",
        private=key,
        kid=f"k{secrets.token_hex(4)}",
    )


class Directory:
    """A plain in-test client directory (the real one is the institutions service)."""

    def __init__(self, *institutions: Institution) -> None:
        self.institutions = {i.client_id: i for i in institutions}

    def add(self, institution: Institution) -> None:
        self.institutions[institution.client_id] = institution

    def lookup(self, client_id: str) -> RegisteredClient | None:
        found = self.institutions.get(client_id)
        return found.registered() if found else None

    def is_active(self, institution_id: str) -> bool:
        return any(
            i.institution_id == institution_id and i.active for i in self.institutions.values()
        )


class DirectoryContainer(Container):
    """The app's container with the client directory replaced by an in-test one."""

    def __init__(self, settings: Settings, *, directory: ClientDirectory, **kwargs: Any) -> None:
        super().__init__(settings, **kwargs)
        self.directory = directory

    def client_directory(self, session: Session) -> ClientDirectory:
        return self.directory


def b64json(value: Mapping[str, Any]) -> str:
    return jose_keys.b64url_encode(json.dumps(value).encode())


def claims_for(
    institution: Institution, audience: str, *, now: int | None = None, **overrides: Any
) -> dict[str, Any]:
    now = int(time.time()) if now is None else now
    claims: dict[str, Any] = {
        "iss": institution.client_id,
        "sub": institution.client_id,
        "aud": audience,
        "iat": now,
        "exp": now + 120,
        "jti": secrets.token_urlsafe(16),
    }
    for name, value in overrides.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def sign_jwt(
    header: Mapping[str, Any], claims: Mapping[str, Any], key: jose_keys.JosePrivateKey
) -> str:
    signing_input = f"{b64json(header)}.{b64json(claims)}"
    signature = jose_keys.sign(key, signing_input.encode("ascii"))
    return f"{signing_input}.{jose_keys.b64url_encode(signature)}"


def assertion(
    institution: Institution,
    audience: str,
    *,
    header: Mapping[str, Any] | None = None,
    key: jose_keys.JosePrivateKey | None = None,
    **overrides: Any,
) -> str:
    head = dict(header) if header is not None else {"alg": institution.alg, "kid": institution.kid}
    return sign_jwt(
        head, claims_for(institution, audience, **overrides), key or institution.private
    )


def form(client_assertion: str, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": client_assertion,
        **extra,
    }


def token_records(container: Container) -> list[AccessRecord]:
    with container.transaction(write=False) as session:
        return list(
            session.scalars(
                select(AccessRecord)
                .where(AccessRecord.action == TOKEN_ACTION)
                .order_by(AccessRecord.seq)
            )
        )


def record_details(record: AccessRecord) -> dict[str, Any]:
    details: dict[str, Any] = json.loads(record.canonical)["details"]
    return details
