"""The verification use case on both databases: answers, refusals, records, receipts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from netid.audit.models import AccessRecord
from netid.billing.models import Charge
from netid.container import Container
from netid.core.clock import FixedClock
from netid.core.errors import NetidError
from netid.institutions.schemas import InstitutionView
from netid.verification.schemas import VerificationAnswer, VerificationRequest
from netid.verification.service import Outcome, age_on
from tests.verification.support import ACTOR, People, approved, load_people

pytestmark = pytest.mark.db


@pytest.fixture
def people(container: Container) -> People:
    return load_people(container)


@pytest.fixture
def bank(container: Container) -> InstitutionView:
    return approved(
        container,
        industry="banking_finance",
        purposes=["account_opening", "payment"],
        website="https://www.bank.example/",
    )


def ask(container: Container, institution: InstitutionView, body: dict[str, Any]) -> Outcome:
    with container.transaction() as session:
        return container.verification(session).verify(
            institution.id, VerificationRequest.model_validate(body)
        )


def id2(people: People, who: str = "adult", **overrides: Any) -> dict[str, Any]:
    record = getattr(people, who)
    body: dict[str, Any] = {
        "type": "id2",
        "purpose": "account_opening",
        "subject": {"document_number": people.number(who), "name": record["name"]},
    }
    body.update(overrides)
    return body


def answer_of(outcome: Outcome) -> VerificationAnswer:
    assert outcome.refusal is None, outcome.refusal
    assert outcome.answer is not None
    return outcome.answer


def refusal_of(outcome: Outcome) -> NetidError:
    assert outcome.answer is None
    assert outcome.refusal is not None
    return outcome.refusal


def records(container: Container) -> list[dict[str, Any]]:
    with container.transaction(write=False) as session:
        rows = session.scalars(select(AccessRecord).order_by(AccessRecord.seq)).all()
        return [json.loads(r.canonical) | {"_sealed": r.subject_ref_sealed} for r in rows]


def verification_records(container: Container) -> list[dict[str, Any]]:
    return [r for r in records(container) if r["action"].startswith("verification.")]


def test_id2_match_gives_pseudonym_receipt_and_one_record(
    container: Container, people: People, bank: InstitutionView
) -> None:
    answer = answer_of(ask(container, bank, id2(people)))
    assert answer.result == "match"
    assert answer.pseudonym and len(answer.pseudonym) == 43  # base64url of 32 bytes
    assert answer.claims == {} and answer.markers == []
    assert answer.receipt.price_fen == 10
    assert answer.receipt.url.endswith(f"/v1/receipts/{answer.verification_id}")
    (record,) = verification_records(container)
    assert record["id"] == answer.verification_id == answer.receipt.id
    assert record["actor"] == f"institution:{bank.code}"
    assert record["outcome"] == "match" and record["purpose"] == "account_opening"
    assert record["_sealed"] is not None  # the person is named, sealed under their key
    receipt = record["details"]["receipt"]
    assert receipt["request_hash"] == answer.receipt.request_hash
    assert receipt["price_fen"] == 10 and receipt["institution_code"] == bank.code
    assert "request_salt" not in json.dumps({k: v for k, v in record.items() if k != "_sealed"})
    with container.transaction(write=False) as session:
        charge = session.get(Charge, answer.verification_id)
        assert charge is not None and charge.price_fen == 10


def test_the_name_is_compared_by_its_matching_key(
    container: Container, people: People, bank: InstitutionView
) -> None:
    # The registry has the middle dot U+00B7; people type the katakana look-alike U+30FB.
    body = id2(people)
    body["subject"]["name"] = "欧阳・娜娜"
    assert answer_of(ask(container, bank, body)).result == "match"


def test_mismatch_reveals_nothing_not_even_whether_the_number_exists(
    container: Container, people: People, bank: InstitutionView
) -> None:
    wrong_name = answer_of(
        ask(
            container,
            bank,
            id2(people, subject={"document_number": people.number("adult"), "name": "张三"}),
        )
    )
    unknown = answer_of(
        ask(
            container,
            bank,
            id2(people, subject={"document_number": "11010519491231002X", "name": "张三"}),
        )
    )
    for answer in (wrong_name, unknown):
        assert answer.result == "mismatch"
        assert answer.pseudonym is None and answer.reason is None
        assert answer.markers == [] and answer.claims == {}
    strip = {"verification_id", "receipt"}
    assert wrong_name.model_dump(exclude=strip) == unknown.model_dump(exclude=strip)
    # Both are charged and recorded; only the first names a holder (sealed).
    first, second = verification_records(container)
    assert first["outcome"] == second["outcome"] == "mismatch"
    assert first["_sealed"] is not None and second["_sealed"] is None


def test_government_policy_receives_the_mismatch_reason(
    container: Container, people: People
) -> None:
    office = approved(container, industry="government", purposes=["government_service"])
    body = id2(people, purpose="government_service")
    body["subject"]["name"] = "张三"
    answer = answer_of(ask(container, office, body))
    assert answer.result == "mismatch" and answer.reason == "name_mismatch"
    assert answer.receipt.price_fen == 0  # government is free


def test_pseudonyms_are_stable_per_institution_and_differ_across_two(
    container: Container, people: People, bank: InstitutionView
) -> None:
    other = approved(
        container,
        industry="banking_finance",
        purposes=["account_opening"],
        website="https://other-bank.example",
    )
    first = answer_of(ask(container, bank, id2(people))).pseudonym
    again = answer_of(ask(container, bank, id2(people))).pseudonym
    elsewhere = answer_of(ask(container, other, id2(people))).pseudonym
    assert first == again
    assert elsewhere is not None and elsewhere != first


def test_id3_phone(container: Container, people: People, bank: InstitutionView) -> None:
    phone = people.adult["phones"][0]
    body = id2(people, type="id3_phone")
    body["subject"]["phone"] = phone.removeprefix("+86")  # typed without the country code
    assert answer_of(ask(container, bank, body)).result == "match"
    body["subject"]["phone"] = "+8613000000000"
    assert answer_of(ask(container, bank, body)).result == "mismatch"
    body["subject"]["phone"] = "not a phone"
    assert answer_of(ask(container, bank, body)).result == "mismatch"


def test_age_over_answers_yes_or_no_and_never_the_birth_date(
    container: Container, people: People
) -> None:
    platform = approved(
        container, industry="internet_platform", purposes=["real_name_registration"]
    )
    adult = answer_of(
        ask(
            container,
            platform,
            id2(people, type="age_over", threshold=18, purpose="real_name_registration"),
        )
    )
    minor = answer_of(
        ask(
            container,
            platform,
            id2(people, "minor", type="age_over", threshold=18, purpose="real_name_registration"),
        )
    )
    assert adult.age_over == {"threshold": 18, "value": True}
    assert minor.age_over == {"threshold": 18, "value": False}
    text = json.dumps([adult.model_dump(mode="json"), minor.model_dump(mode="json")])
    assert "1990" not in text and people.minor["birth_date"] not in text


def test_age_on_counts_completed_years() -> None:
    import datetime as dt

    assert age_on(dt.date(2008, 11, 22), dt.date(2026, 11, 22)) == 18
    assert age_on(dt.date(2008, 11, 23), dt.date(2026, 11, 22)) == 17
    assert age_on(dt.date(2008, 2, 29), dt.date(2026, 2, 28)) == 17
    assert age_on(dt.date(2008, 2, 29), dt.date(2026, 3, 1)) == 18


def test_status_of_documents(container: Container, people: People) -> None:
    hotel = approved(container, industry="hotel_lodging", purposes=["hotel_check_in"])
    office = approved(container, industry="government", purposes=["government_service"])

    def status(inst: InstitutionView, who: str, purpose: str) -> VerificationAnswer:
        return answer_of(ask(container, inst, id2(people, who, type="status", purpose=purpose)))

    assert status(hotel, "adult", "hotel_check_in").document_valid is True
    revoked = status(hotel, "revoked", "hotel_check_in")
    assert revoked.result == "match" and revoked.document_valid is False
    assert revoked.reason is None  # only government learns why
    assert status(office, "revoked", "government_service").reason == "document_revoked"
    assert status(office, "deceased", "government_service").reason == "holder_deceased"


def test_policy_denied_is_refused_and_recorded(
    container: Container, people: People, bank: InstitutionView
) -> None:
    # A bank may not learn the nationality for a payment.
    refusal = refusal_of(ask(container, bank, id2(people, purpose="payment", claims=["sex"])))
    assert refusal.code == "policy_denied"
    assert refusal.details["reason"] == "claim_not_allowed"
    assert refusal.details["receipt"]["price_fen"] == 0
    (record,) = verification_records(container)
    assert record["outcome"] == "refused" and record["details"]["reason"] == "policy_denied"
    assert record["_sealed"] is None  # refused before any look-up


def test_purpose_not_registered(
    container: Container, people: People, bank: InstitutionView
) -> None:
    # "loan" is a banking purpose, but this bank did not register it.
    refusal = refusal_of(ask(container, bank, id2(people, purpose="loan")))
    assert refusal.code == "purpose_not_registered"


def test_invalid_document_number_is_refused_with_the_rule(
    container: Container, people: People, bank: InstitutionView
) -> None:
    body = id2(people)
    body["subject"]["document_number"] = "110105199003070012"  # check digit wrong
    refusal = refusal_of(ask(container, bank, body))
    assert refusal.code == "invalid_document_number"
    assert refusal.details["rule"] == "check_digit"
    assert "110105" not in json.dumps(refusal.details)


def test_plaintext_claims_need_separate_consent_until_revoked(
    container: Container, people: People, bank: InstitutionView
) -> None:
    body = id2(people, claims=["name", "document_number", "age_over_18"])
    refusal = refusal_of(ask(container, bank, body))
    assert refusal.code == "consent_required"
    assert refusal.details["claims"] == ["document_number", "name"]
    (record,) = verification_records(container)
    assert record["_sealed"] is not None  # the person sees the attempt
    with container.transaction() as session:
        person_id, key = container.registry(session).person_ref(people.number("adult"))
        consent = container.consents(session).grant(
            person_id=person_id,
            person_key=key,
            institution_id=bank.id,
            purpose="account_opening",
            claims=["name", "document_number"],
            days=30,
            channel="counter",
            actor=ACTOR,
            allowed_claims=frozenset({"name", "document_number"}),
        )
    answer = answer_of(ask(container, bank, body))
    assert answer.claims == {
        "name": people.adult["name"],
        "document_number": people.number("adult"),
        "age_over_18": True,
    }
    assert verification_records(container)[-1]["details"]["claims_disclosed"] == [
        "age_over_18",
        "document_number",
        "name",
    ]
    # A consent for one purpose does not cover another.
    with container.transaction() as session:
        container.consents(session).revoke(
            consent.id, person_id=person_id, person_key=key, actor=ACTOR
        )
    assert refusal_of(ask(container, bank, body)).code == "consent_required"


def test_consent_expires(container: Container, people: People) -> None:
    import datetime as dt

    clock = FixedClock(dt.datetime(2026, 11, 22, 4, 0, tzinfo=dt.UTC))
    timed = Container(container.settings, engine=container.engine, clock=clock)
    bank = approved(timed, industry="banking_finance", purposes=["account_opening"])
    with timed.transaction() as session:
        person_id, key = timed.registry(session).person_ref(people.number("adult"))
        timed.consents(session).grant(
            person_id=person_id,
            person_key=key,
            institution_id=bank.id,
            purpose="account_opening",
            claims=["name"],
            days=1,
            channel="counter",
            actor=ACTOR,
            allowed_claims=frozenset({"name"}),
        )
    body = id2(people, claims=["name"])
    assert answer_of(ask(timed, bank, body)).claims == {"name": people.adult["name"]}
    clock.advance(dt.timedelta(days=1, seconds=1))
    assert refusal_of(ask(timed, bank, body)).code == "consent_required"


def test_markers_ride_on_every_match(
    container: Container, people: People, bank: InstitutionView
) -> None:
    with container.registry_unit() as registry:
        registry.set_marker(people.number("adult"), "fraud_warning", reason="case 7", actor=ACTOR)
    assert answer_of(ask(container, bank, id2(people))).markers == ["fraud_warning"]
    with container.registry_unit() as registry:
        assert registry.clear_marker(people.number("adult"), "fraud_warning", actor=ACTOR)
    assert answer_of(ask(container, bank, id2(people))).markers == []


def test_quota_is_spent_only_by_answers_and_then_refused(
    container: Container, people: People
) -> None:
    bank = approved(
        container,
        industry="banking_finance",
        purposes=["account_opening"],
        quotas={"id2": 2},
    )
    refused = refusal_of(ask(container, bank, id2(people, claims=["name"])))  # no consent
    assert refused.code == "consent_required"
    assert answer_of(ask(container, bank, id2(people))).result == "match"
    assert (
        answer_of(
            ask(
                container,
                bank,
                id2(people, subject={"document_number": people.number("minor"), "name": "错"}),
            )
        ).result
        == "mismatch"
    )
    over = refusal_of(ask(container, bank, id2(people)))
    assert over.code == "quota_exceeded" and "reset_at" in over.details
    assert verification_records(container)[-1]["outcome"] == "refused"


def test_a_frozen_institution_is_refused_on_its_next_request(
    container: Container, people: People, bank: InstitutionView
) -> None:
    assert answer_of(ask(container, bank, id2(people))).result == "match"
    with container.transaction() as session:
        container.institutions(session).freeze(bank.id, actor=ACTOR, reason="harvesting")
    refusal = refusal_of(ask(container, bank, id2(people)))
    assert refusal.code == "institution_frozen"
    assert verification_records(container)[-1]["outcome"] == "refused"


def test_personal_data_never_appears_in_refusals(
    container: Container, people: People, bank: InstitutionView
) -> None:
    bodies = [
        id2(people, purpose="loan"),
        id2(people, claims=["name"]),
        id2(people, subject={"document_number": "110105199003070012", "name": "欧阳·娜娜"}),
    ]
    for body in bodies:
        refusal = refusal_of(ask(container, bank, body))
        text = json.dumps({"m": refusal.message, "d": refusal.details}, ensure_ascii=False)
        assert people.number("adult")[:10] not in text and "娜娜" not in text


# -- staged: the read stage, then the write stage (docs/decisions/0007) ----------------------
def prepare(container: Container, institution: InstitutionView, body: dict[str, Any]) -> Any:
    with container.transaction(write=False) as session:
        return container.verification(session).prepare(
            institution.id, VerificationRequest.model_validate(body)
        )


def complete(container: Container, prepared: Any) -> Outcome:
    with container.transaction() as session:
        return container.verification(session).complete(prepared)


def test_the_read_stage_writes_nothing_and_the_write_stage_answers(
    container: Container, people: People, bank: InstitutionView
) -> None:
    before = records(container)
    prepared = prepare(container, bank, id2(people))
    assert records(container) == before  # looked up and compared, nothing recorded yet
    answer = answer_of(complete(container, prepared))
    assert answer.result == "match"
    assert answer.pseudonym
    assert [r["action"] for r in records(container)[len(before) :]] == ["verification.id2"]


def test_a_freeze_between_the_stages_still_refuses(
    container: Container, people: People, bank: InstitutionView
) -> None:
    prepared = prepare(container, bank, id2(people))
    with container.transaction() as session:
        container.institutions(session).freeze(bank.id, actor=ACTOR, reason="harvesting")
    refusal = refusal_of(complete(container, prepared))
    assert refusal.code == "institution_frozen"
    assert verification_records(container)[-1]["outcome"] == "refused"
    with container.transaction(write=False) as session:
        assert session.scalars(select(Charge.result_class)).all() == ["refused"]


def test_a_refusal_found_by_the_read_stage_is_recorded_by_the_write_stage(
    container: Container, people: People, bank: InstitutionView
) -> None:
    prepared = prepare(
        container, bank, id2(people, subject={"document_number": "123", "name": "x"})
    )
    assert not verification_records(container)
    refusal = refusal_of(complete(container, prepared))
    assert refusal.code == "invalid_document_number"
    recorded = verification_records(container)
    assert [r["outcome"] for r in recorded] == ["refused"]
    assert recorded[0]["_sealed"] is None  # refused before the look-up: it names nobody
