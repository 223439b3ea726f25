"""Institution service on both backends: validation, transitions, audit, sealing, status checks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from netid.audit.models import AccessRecord
from netid.container import Container
from netid.core.errors import InvalidInput
from netid.institutions.codes import institution_code_valid
from netid.institutions.errors import (
    InstitutionFrozen,
    InstitutionNotActive,
    InstitutionNotFound,
    InstitutionRevoked,
    InstitutionSuspended,
    InvalidTransition,
    PricePlanUnknown,
)
from netid.institutions.models import Institution, InstitutionStatusChange
from netid.institutions.schemas import (
    ALLOWED_TRANSITIONS,
    ApplicationIn,
    InstitutionStatus,
    next_status,
)
from netid.institutions.service import sector_of_website
from tests.institutions.support import CONTACT_EMAIL, REP_NAME, application

pytestmark = pytest.mark.db
S = InstitutionStatus


def apply(container: Container, **overrides: Any) -> str:
    with container.transaction() as session:
        view = container.institutions(session).apply(
            ApplicationIn.model_validate(application(**overrides)), actor="applicant"
        )
    assert view.status is S.PENDING and view.code is None and view.client_id is None
    return view.id


def approve(container: Container, institution_id: str, **kwargs: Any) -> Any:
    with container.transaction() as session:
        return container.institutions(session).approve(
            institution_id, actor="admin:alice", reason="documents checked", **kwargs
        )


def records(container: Container, prefix: str = "institution.") -> list[dict[str, Any]]:
    with container.transaction(write=False) as session:
        rows = session.scalars(
            select(AccessRecord)
            .where(AccessRecord.action.startswith(prefix))
            .order_by(AccessRecord.seq)
        ).all()
        return [json.loads(r.canonical) for r in rows]


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"uscc": "91350100M000100Y44"}, "invalid_uscc"),
        ({"industry": "casino"}, "industry_not_registered"),
        ({"purposes": ["account_opening", "mind_reading"]}, "purpose_not_registered"),
        ({"agreement": {"version": "2026-01", "accepted": False}}, "agreement_not_accepted"),
        ({"website": "http://bank.example/"}, "invalid_website"),
        ({"website": "https://user:pw@bank.example/"}, "invalid_website"),
        ({"public_jwks": [{"kty": "OKP", "crv": "Ed25519", "x": "AA", "d": "AA"}]}, None),
    ],
)
def test_apply_refuses_bad_applications_and_writes_nothing(
    container: Container, overrides: dict[str, Any], code: str | None
) -> None:
    with pytest.raises(InvalidInput) as raised, container.transaction() as session:
        container.institutions(session).apply(
            ApplicationIn.model_validate(application(**overrides)), actor="applicant"
        )
    assert raised.value.code == (code or "invalid_public_key")
    with container.transaction(write=False) as session:
        assert session.scalars(select(Institution)).all() == []
    assert records(container) == []


def test_application_schema_refuses_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        ApplicationIn.model_validate(application(extra_field=1))
    with pytest.raises(ValidationError):
        ApplicationIn.model_validate(application(location="mars"))


def test_apply_seals_personal_data_and_records_access(container: Container) -> None:
    institution_id = apply(container, uscc="91350100m000100y43")
    with container.transaction(write=False) as session:
        row = session.get(Institution, institution_id)
        assert row is not None
        assert row.uscc == "91350100M000100Y43"  # normalised
        assert row.sector == "www.bank.example"
        stored = row.application_sealed
        for needle in (REP_NAME, CONTACT_EMAIL, "13900139000"):
            assert needle.encode() not in stored
        assert REP_NAME not in json.dumps(row.public_jwks, ensure_ascii=False)
    with container.transaction() as session:
        contacts = container.institutions(session).application_contacts(
            institution_id, actor="admin:alice"
        )
    assert contacts.legal_representative["name"] == REP_NAME
    assert contacts.contact["email"] == CONTACT_EMAIL
    actions = [r["action"] for r in records(container)]
    assert actions == ["institution.apply", "institution.read_contacts"]
    assert REP_NAME not in json.dumps(records(container), ensure_ascii=False)


def test_sealed_application_is_bound_to_its_row(container: Container) -> None:
    first, second = apply(container), apply(container)
    with container.transaction() as session:
        a, b = session.get(Institution, first), session.get(Institution, second)
        assert a is not None and b is not None
        b.application_sealed = a.application_sealed  # copied to another row
    with pytest.raises(Exception) as raised, container.transaction() as session:
        container.institutions(session).application_contacts(second, actor="admin:alice")
    assert getattr(raised.value, "code", None) == "sealed_value_invalid"


def test_approval_assigns_code_client_plan_and_quotas(container: Container) -> None:
    institution_id = apply(container)
    view = approve(container, institution_id, quotas={"id2": 5})
    assert view.status is S.ACTIVE
    assert view.code is not None and institution_code_valid(view.code)
    assert view.client_id is not None and len(view.client_id) >= 24
    assert view.price_plan == "standard"
    with container.transaction() as session:
        service = container.institutions(session)
        assert service.by_code(view.code) == view
        assert service.by_client_id(view.client_id) == view
        found = service.client_keys(view.client_id)
        assert found is not None and found[0] == view and found[1][0]["kty"] == "EC"
        assert "d" not in found[1][0]
        quotas = {q.verification_type: q.limit for q in service.quota_status(institution_id)}
        assert service.client_keys("nobody") is None
    assert quotas["id2"] == 5  # override
    assert quotas["status"] > 0  # from the catalogue for banking_finance


def test_government_gets_the_government_plan_and_sector_defaults_to_code(
    container: Container,
) -> None:
    institution_id = apply(
        container, industry="government", purposes=["government_service"], website=None
    )
    view = approve(container, institution_id)
    assert view.price_plan == "government"
    assert view.sector == view.code


def test_approve_refuses_unknown_plan_and_bad_quotas(container: Container) -> None:
    institution_id = apply(container)
    with pytest.raises(PricePlanUnknown):
        approve(container, institution_id, price_plan="platinum")
    with pytest.raises(InvalidInput):
        approve(container, institution_id, quotas={"id2": -1})
    with pytest.raises(InvalidInput):
        approve(container, institution_id, quotas={"ID 2": 1})
    with container.transaction(write=False) as session:
        assert container.institutions(session).get(institution_id).status is S.PENDING


def test_transition_table_is_exactly_the_issue() -> None:
    assert {
        (S.PENDING, S.ACTIVE),
        (S.PENDING, S.REJECTED),
        (S.ACTIVE, S.SUSPENDED),
        (S.ACTIVE, S.FROZEN),
        (S.ACTIVE, S.REVOKED),
        (S.SUSPENDED, S.ACTIVE),
        (S.SUSPENDED, S.REVOKED),
        (S.FROZEN, S.ACTIVE),
        (S.FROZEN, S.REVOKED),
    } == ALLOWED_TRANSITIONS
    with pytest.raises(InvalidTransition):
        next_status(S.REVOKED, "reinstate")
    with pytest.raises(InvalidTransition):
        next_status(S.SUSPENDED, "unfreeze")  # unfreeze is for frozen only
    with pytest.raises(InvalidTransition):
        next_status(S.ACTIVE, "teleport")


def test_lifecycle_is_audited_with_actor_and_reason(container: Container) -> None:
    institution_id = apply(container)
    approve(container, institution_id)
    steps = [
        ("freeze", S.FROZEN, InstitutionFrozen),
        ("unfreeze", S.ACTIVE, None),
        ("suspend", S.SUSPENDED, InstitutionSuspended),
        ("reinstate", S.ACTIVE, None),
        ("revoke", S.REVOKED, InstitutionRevoked),
    ]
    for verb, status, refusal in steps:
        with container.transaction() as session:
            view = getattr(container.institutions(session), verb)(
                institution_id, actor="admin:bob", reason=f"because {verb}"
            )
        assert view.status is status
        with container.transaction(write=False) as session:
            service = container.institutions(session)
            if refusal is None:
                assert service.require_active(institution_id).status is S.ACTIVE
            else:
                with pytest.raises(refusal) as raised:
                    service.require_active(institution_id)
                assert raised.value.code == f"institution_{status.value}"
    with pytest.raises(InvalidTransition) as invalid, container.transaction() as session:
        container.institutions(session).reinstate(institution_id, actor="admin:bob", reason="x")
    assert invalid.value.code == "invalid_transition"

    entries = records(container)
    assert [e["action"] for e in entries] == [
        "institution.apply",
        "institution.approve",
        *(f"institution.{verb}" for verb, _, _ in steps),
    ]
    for entry, (verb, status, _) in zip(entries[2:], steps, strict=True):
        assert entry["actor"] == "admin:bob"
        assert entry["details"]["reason"] == f"because {verb}"
        assert entry["details"]["to"] == status.value
    with container.transaction(write=False) as session:
        history = container.institutions(session).history(institution_id)
        assert len(session.scalars(select(InstitutionStatusChange)).all()) == 7
    assert [h.to_status for h in history] == [S.PENDING, S.ACTIVE, *(s for _, s, _ in steps)]
    assert history[1].actor == "admin:alice" and history[1].reason == "documents checked"


def test_reject_and_pending_are_not_active(container: Container) -> None:
    pending, rejected = apply(container), apply(container)
    with container.transaction() as session:
        service = container.institutions(session)
        service.reject(rejected, actor="admin:alice", reason="incomplete")
        with pytest.raises(InstitutionNotActive):
            service.require_active(pending)
        with pytest.raises(InstitutionNotActive):
            service.require_active(rejected)
        with pytest.raises(InstitutionNotActive):
            service.require_active("0" * 32)
        with pytest.raises(InvalidTransition):
            service.approve(rejected, actor="admin:alice", reason="changed my mind")
        with pytest.raises(InstitutionNotFound):
            service.get("0" * 32)
        assert [v.id for v in service.list(status="pending")] == [pending]
        assert {v.id for v in service.list()} == {pending, rejected}


def test_a_reason_is_required(container: Container) -> None:
    institution_id = apply(container)
    with pytest.raises(InvalidInput), container.transaction() as session:
        container.institutions(session).reject(institution_id, actor="admin:alice", reason="  ")


@pytest.mark.parametrize(
    ("url", "sector"),
    [
        ("https://WWW.Bank.Example:8443/path?q=1", "www.bank.example"),
        ("https://xn--fiqs8s.example/", "xn--fiqs8s.example"),
    ],
)
def test_sector_is_the_website_host(url: str, sector: str) -> None:
    assert sector_of_website(url) == sector


@pytest.mark.parametrize(
    "url", ["ftp://bank.example/", "https:///path", "https://中国.example/", "https://a..b/"]
)
def test_bad_websites(url: str) -> None:
    with pytest.raises(InvalidInput):
        sector_of_website(url)
