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
from netid.oauth.errors import InvalidClient, OAuthRequestError
from netid.oauth.schemas import IssuedToken, TokenRequest
from netid.oauth.service import PreparedToken
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


def _prepare(container: Container, body: dict[str, str]) -> PreparedToken:
    with container.transaction(write=False) as session:
        return container.token_service(session).prepare(TokenRequest(**body))


def _complete(container: Container, prepared: PreparedToken) -> object:
    with container.transaction() as session:
        return container.token_service(session).complete(prepared)


def test_staged_token_reads_then_spends_the_jti_once(container: Container) -> None:
    """The read stage verifies and writes nothing; the jti is spent in the write stage, so
    two requests with one assertion that both passed the read stage get one token."""
    inst = onboard(container)
    body = form(assertion(inst, container.token_endpoint_url()))
    first, second = _prepare(container, body), _prepare(container, body)
    assert first.refusal is None
    assert second.refusal is None
    assert token_records(container) == []
    assert isinstance(_complete(container, first), IssuedToken)
    replay = _complete(container, second)
    assert isinstance(replay, InvalidClient)
    assert replay.reason == "replay"
    assert [record_details(r).get("reason") for r in token_records(container)] == [None, "replay"]


def test_a_refusal_of_the_read_stage_is_recorded_by_the_write_stage(
    container: Container,
) -> None:
    inst = onboard(container)
    prepared = _prepare(
        container, form(assertion(inst, container.token_endpoint_url()), scope="everything")
    )
    assert prepared.refusal is not None
    assert token_records(container) == []
    refused = _complete(container, prepared)
    assert isinstance(refused, OAuthRequestError)
    assert [record_details(r)["reason"] for r in token_records(container)] == ["invalid_scope"]


def test_a_suspension_between_the_stages_refuses_the_token(container: Container) -> None:
    inst = onboard(container)
    prepared = _prepare(container, form(assertion(inst, container.token_endpoint_url())))
    assert prepared.refusal is None
    with container.transaction() as session:
        container.institutions(session).suspend(
            inst.institution_id, actor="operator:test", reason="audit finding"
        )
    refused = _complete(container, prepared)
    assert isinstance(refused, InvalidClient)
    assert refused.reason == "inactive"
    assert [record_details(r)["reason"] for r in token_records(container)] == ["inactive"]
