"""The token endpoint with the real client directory (the institutions service, wired in the
container): an approved institution gets a token; once suspended it gets no new one; the API's
per-request status check (``require_active``) refuses it even with the token it already has."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from netid.container import Container
from netid.crypto import jose_keys
from netid.institutions.errors import InstitutionSuspended
from netid.institutions.schemas import ApplicationIn
from netid.oauth.tokens import verify_access_token
from netid.web.app import create_app
from tests.institutions.support import application
from tests.oauth.support import Institution, assertion, form, record_details, token_records

pytestmark = pytest.mark.db


def onboard(container: Container) -> Institution:
    private = jose_keys.generate_private_key("EdDSA")
    jwk = jose_keys.public_jwk(private, "inst-key-1")
    with container.transaction() as session:
        service = container.institutions(session)
        applied = service.apply(
            ApplicationIn.model_validate(application(public_jwks=[jwk])), actor="operator:test"
        )
        view = service.approve(applied.id, actor="operator:test", reason="checked")
    assert view.client_id and view.code
    return Institution(
        client_id=view.client_id,
        private=private,
        kid="inst-key-1",
        code=view.code,
        institution_id=view.id,
    )


def test_approved_then_suspended_institution(container: Container) -> None:
    client = TestClient(create_app(container))
    inst = onboard(container)
    url = container.token_endpoint_url()
    response = client.post("/oauth2/token", data=form(assertion(inst, url)))
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    claims = verify_access_token(
        token, container.token_mac_keys(), int(time.time()), container.api_audience()
    )
    assert claims.institution_id == inst.institution_id
    assert claims.institution_code == inst.code

    with container.transaction() as session:
        container.institutions(session).suspend(
            inst.institution_id, actor="operator:test", reason="audit finding"
        )
    # no new token ...
    response = client.post("/oauth2/token", data=form(assertion(inst, url)))
    assert response.status_code == 401
    assert record_details(token_records(container)[-1])["reason"] == "inactive"
    # ... and the old one still verifies (pure), but the per-request status check refuses it
    verify_access_token(
        token, container.token_mac_keys(), int(time.time()), container.api_audience()
    )
    with pytest.raises(InstitutionSuspended), container.transaction() as session:
        container.institutions(session).require_active(claims.institution_id)
