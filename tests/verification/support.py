"""A small registry and approved institutions for verification tests."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from netid.client.rp import ASSERTION_TYPE, ClientFile, client_assertion, private_jwk
from netid.container import Container
from netid.crypto import jose_keys
from netid.institutions.schemas import ApplicationIn, InstitutionView
from netid.registry.schemas import parse_record
from tests.institutions.support import application
from tests.registry.factories import TODAY, person_record

ACTOR = "operator:test"


@dataclass
class People:
    adult: dict[str, Any]
    minor: dict[str, Any]
    revoked: dict[str, Any]
    deceased: dict[str, Any]

    def number(self, who: str) -> str:
        record: dict[str, Any] = getattr(self, who)
        return str(record["documents"][0]["number"])


def load_people(container: Container, seed: int = 11) -> People:
    rng = random.Random(seed)
    adult = person_record(rng, name="欧阳·娜娜", birth=dt.date(1990, 3, 7), sex="F")
    minor = person_record(rng, name="李小龙", birth=TODAY.replace(year=TODAY.year - 15))
    revoked = person_record(rng, name="王芳", sex="F")
    revoked["documents"][0]["status"] = "revoked"
    deceased = person_record(rng, name="赵强", birth=dt.date(1930, 5, 1))
    deceased["status"], deceased["death_date"] = "deceased", "2020-01-01"
    records = [adult, minor, revoked, deceased]
    with container.registry_unit() as registry:
        outcome = registry.import_batch(
            [(i, parse_record(r, today=TODAY)) for i, r in enumerate(records, 1)], actor=ACTOR
        )
    assert outcome.imported == 4, outcome.rejections
    return People(adult, minor, revoked, deceased)


def approved(
    container: Container,
    *,
    industry: str,
    purposes: list[str],
    website: str | None = None,
    quotas: dict[str, int] | None = None,
    jwks: list[dict[str, str]] | None = None,
) -> InstitutionView:
    body = application(industry=industry, purposes=purposes, website=website)
    if jwks is not None:
        body["public_jwks"] = jwks
    with container.transaction() as session:
        service = container.institutions(session)
        pending = service.apply(ApplicationIn.model_validate(body), actor="applicant")
        return service.approve(pending.id, actor=ACTOR, reason="checked", quotas=quotas)


class ApprovedInstitution:
    """An approved institution with its own key, able to fetch real tokens over HTTP."""

    def __init__(
        self,
        container: Container,
        industry: str = "banking_finance",
        purposes: tuple[str, ...] = ("account_opening", "payment"),
        quotas: dict[str, int] | None = None,
    ) -> None:
        key = jose_keys.generate_private_key("ES256")
        self.view = approved(
            container,
            industry=industry,
            purposes=list(purposes),
            quotas=quotas,
            jwks=[jose_keys.public_jwk(key, "k1")],
        )
        assert self.view.code and self.view.client_id
        self.code: str = self.view.code
        self.id: str = self.view.id
        self.client_file = ClientFile(
            institution_code=self.view.code,
            client_id=self.view.client_id,
            token_endpoint=container.token_endpoint_url(),
            api_base=container.api_base_url(),
            private_jwk=private_jwk(key, "k1"),
        )

    def token(self, http: TestClient, scope: str | None = None) -> str:
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": client_assertion(self.client_file),
        }
        if scope is not None:
            form["scope"] = scope
        response = http.post("/oauth2/token", data=form)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def bearer(self, http: TestClient, scope: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {ApprovedInstitution.token(self, http, scope)}"}
