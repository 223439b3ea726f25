"""``netid_qr`` refusals, pinned down: which refusal spends the code's nonce, that nothing a
token says counts before its signature, whose history a refusal lands in, quota and billing,
monitoring, and the batch endpoint (which does not take QR codes)."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from netid.audit.models import AccessRecord
from netid.billing.models import Charge
from netid.config import Settings
from netid.credentials import qr
from netid.crypto import jose_keys
from netid.institutions.schemas import InstitutionStatus
from netid.verification.models import QrNonce
from tests.conftest import Backend
from tests.enrolment.support import World, make_world
from tests.monitoring.support import rules_document
from tests.verification.support import ApprovedInstitution
from tests.verification.test_qr import Wallet, bearer, code, records, scan


@pytest.fixture
def world(settings: Settings, db: Backend) -> World:
    return make_world(settings, db)


def nonces(world: World) -> int:
    return world.count(QrNonce)


def history(wallet: Wallet) -> list[dict[str, Any]]:
    found = wallet.world.http.get("/v1/me/history?limit=200", headers=wallet.bearer())
    assert found.status_code == 200, found.text
    return [e["entry"] for e in found.json()["entries"]]


def qr_refusals(entries: list[dict[str, Any]]) -> list[str]:
    return [
        e["details"]["reason"]
        for e in entries
        if e["action"] == "verification.netid_qr" and e["outcome"] == "refused"
    ]


# -- which refusal spends the nonce -----------------------------------------------------------
def test_a_locked_scan_leaves_the_code_usable_once_the_person_unlocks(world: World) -> None:
    """The lock is checked before the nonce (docs/decisions/0005): a refusal for the lock has
    spent nothing, so the same code works once unlocked — and then only once."""
    wallet = Wallet(world, "adult")
    bank = ApprovedInstitution(world.container)
    assert world.http.post("/v1/me/locks/qr", headers=wallet.bearer()).status_code == 200
    text = wallet.qr()
    assert code(scan(world, bank, text)) == "method_locked"
    assert nonces(world) == 0
    unlock = world.http.request(
        "DELETE", "/v1/me/locks/qr", json={"minutes": 5}, headers=wallet.bearer()
    )
    assert unlock.status_code == 200, unlock.text
    assert scan(world, bank, text).status_code == 200
    assert code(scan(world, bank, text)) == "qr_replayed"


@pytest.mark.parametrize(
    ("who", "fields", "refusal"),
    [
        ("adult", {"min_assurance": "L3"}, "assurance_insufficient"),
        ("adult", {"claims": ["name"]}, "consent_required"),
        ("child", {"purpose": "payment"}, "guardian_approval_required"),
    ],
)
def test_a_refusal_after_the_nonce_check_has_spent_the_code(
    world: World, who: str, fields: dict[str, Any], refusal: str
) -> None:
    """Past the nonce check the code is used, answered or not, on both nonce stores (the
    database spends it in the refusal's committed transaction, Redis at once): the same text
    shown again is a replay, and opens no second request for the person to decide."""
    if who == "child":
        mother = Wallet(world, "mother")
        wallet = Wallet(world, "child", token=mother.session)
        decider = mother
    else:
        wallet = decider = Wallet(world, who)
    bank = ApprovedInstitution(world.container)
    text = wallet.qr()
    assert code(scan(world, bank, text, **fields)) == refusal
    pending = world.http.get("/v1/me/requests", headers=decider.bearer()).json()["requests"]
    assert nonces(world) == 1
    replay = scan(world, bank, text, **fields)
    assert replay.status_code == 409 and code(replay) == "qr_replayed"
    again = world.http.get("/v1/me/requests", headers=decider.bearer()).json()["requests"]
    assert len(again) == len(pending)


def test_a_forged_token_cannot_spend_the_genuine_codes_nonce(world: World) -> None:
    """The signature is checked before the nonce is believed: a token copied from the screen
    and re-signed by another key (same ref, same nonce) is forged and spends nothing."""
    wallet = Wallet(world, "adult")
    bank = ApprovedInstitution(world.container)
    nonce = secrets.token_bytes(16)
    genuine = wallet.qr(nonce=nonce)
    claims = qr.read(genuine)
    forged = qr.mint(
        jose_keys.generate_private_key("ES256"),
        ref=claims.ref,
        issued_at=claims.iat,
        lifetime=claims.exp - claims.iat,
        nonce=nonce,
    )
    assert code(scan(world, bank, forged)) == "qr_forged"
    # Forged AND long expired: still forged (its times are not believed before its signature).
    world.clock.advance(dt.timedelta(seconds=5))
    assert code(scan(world, bank, forged)) == "qr_forged"
    assert nonces(world) == 0
    assert scan(world, bank, genuine).status_code == 200


def test_another_wallets_token_with_the_same_nonce_does_not_burn_the_code(world: World) -> None:
    """The nonce travels in clear on the screen. Someone who saw a code and mints their OWN
    validly signed token with that nonce spends their own code, not the person's: nonces are
    spent per credential."""
    victim = Wallet(world, "adult")
    onlooker = Wallet(world, "stranger")
    bank = ApprovedInstitution(world.container)
    shown = victim.qr()
    copied = onlooker.qr(nonce=qr.read(shown).nonce)
    assert scan(world, bank, copied).status_code == 200
    assert scan(world, bank, shown).status_code == 200
    assert code(scan(world, bank, shown)) == "qr_replayed"


def test_a_ref_dies_with_its_session_not_30_seconds_later(world: World) -> None:
    """The ref's end is the platform's own clock (session end): the phone-clock skew does not
    stretch it. A code minted after the session ended is expired even if freshly signed."""
    wallet = Wallet(world, "adult")
    bank = ApprovedInstitution(world.container)
    answer = world.http.post("/v1/wallet/qr-refs", json={"count": 2}, headers=wallet.bearer())
    assert answer.status_code == 200, answer.text
    first, second = answer.json()["refs"]
    ends = dt.datetime.fromisoformat(answer.json()["expires_at"].replace("Z", "+00:00"))

    def mint(ref: str) -> str:
        now = int(world.clock.now().timestamp())
        return qr.mint(wallet.device.key, ref=ref, issued_at=now)

    world.clock.advance(ends - world.clock.now() - dt.timedelta(seconds=1))
    assert scan(world, bank, mint(first)).status_code == 200
    world.clock.advance(dt.timedelta(seconds=1))
    assert code(scan(world, bank, mint(second))) == "qr_expired"


# -- records ----------------------------------------------------------------------------------
def test_refusals_land_in_the_scanned_persons_history_and_nobody_elses(world: World) -> None:
    wallet = Wallet(world, "adult")
    other = Wallet(world, "stranger")
    bank = ApprovedInstitution(world.container)
    forged = qr.mint(
        jose_keys.generate_private_key("ES256"),
        ref=qr.read(wallet.qr()).ref,
        issued_at=int(world.clock.now().timestamp()),
    )
    assert code(scan(world, bank, forged)) == "qr_forged"
    assert code(scan(world, bank, wallet.qr(), min_assurance="L2")) == "assurance_insufficient"
    assert sorted(qr_refusals(history(wallet))) == ["assurance_insufficient", "qr_forged"]
    assert qr_refusals(history(other)) == []


# -- quota and billing -------------------------------------------------------------------------
def test_an_answered_scan_spends_quota_and_is_billed_a_refusal_neither(world: World) -> None:
    wallet = Wallet(world, "adult")
    bank = ApprovedInstitution(world.container, quotas={"netid_qr": 1})
    refused = scan(world, bank, wallet.qr(), min_assurance="L3")
    assert refused.json()["error"]["details"]["receipt"]["price_fen"] == 0
    answered = scan(world, bank, wallet.qr())
    assert answered.status_code == 200, answered.text
    price = world.container.catalogue().price_fen(str(bank.view.price_plan), "netid_qr")
    assert price > 0
    assert answered.json()["receipt"]["price_fen"] == price
    # The one unit is spent: the next code is refused for the quota, free.
    over = scan(world, bank, wallet.qr())
    assert over.status_code == 429 and code(over) == "quota_exceeded"
    assert over.json()["error"]["details"]["verification_type"] == "netid_qr"
    with world.container.transaction(write=False) as session:
        rows = session.execute(
            select(Charge.verification_type, Charge.price_fen).where(
                Charge.institution_id == bank.id
            )
        ).all()
    assert sorted(rows) == sorted([("netid_qr", 0), ("netid_qr", price), ("netid_qr", 0)])


# -- monitoring --------------------------------------------------------------------------------
def test_an_institution_scanning_too_many_people_is_frozen(
    settings: Settings, db: Backend, tmp_path: Path
) -> None:
    """QR scans feed the same counters as verifications by number (issue 4 §3): harvesting
    many people's codes freezes the institution like querying many numbers does."""
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(rules_document(distinct_people={"max_distinct": 2})))
    world = make_world(settings.model_copy(update={"monitoring_rules": rules}), db)
    wallets = [Wallet(world, who) for who in ("adult", "stranger", "mother")]
    bank = ApprovedInstitution(world.container)
    headers = bearer(world, bank)

    def post(wallet: Wallet) -> Any:
        body = {"type": "netid_qr", "purpose": "account_opening", "qr": wallet.qr()}
        return world.http.post("/v1/verifications", json=body, headers=headers)

    assert post(wallets[0]).status_code == 200
    assert post(wallets[0]).status_code == 200  # the same person again is not more people
    assert post(wallets[1]).status_code == 200
    third = post(wallets[2])
    assert third.status_code == 403 and code(third) == "institution_frozen"
    with world.container.transaction(write=False) as session:
        status = world.container.institutions(session).get(bank.id).status
    assert status is InstitutionStatus.FROZEN
    assert [o for o, _ in records(world)] == ["match", "match", "match", "refused"]
    # The refused scan spent nothing: the code is still good once the institution is cleared.
    assert nonces(world) == 3


# -- the batch endpoint ------------------------------------------------------------------------
def test_the_batch_endpoint_refuses_qr_codes_cleanly(world: World) -> None:
    wallet = Wallet(world, "adult")
    bank = ApprovedInstitution(world.container)
    text = wallet.qr()
    item = {"type": "netid_qr", "purpose": "account_opening", "qr": text}
    answer = world.http.post(
        "/v1/verifications/batch", json={"items": [item]}, headers=bearer(world, bank)
    )
    assert answer.status_code == 422, answer.text
    assert code(answer) == "invalid_request"
    assert text not in answer.text
    with world.container.transaction(write=False) as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(AccessRecord)
                .where(AccessRecord.action.like("verification.%"))
            )
            == 0
        )
    assert nonces(world) == 0
    # The code was not touched: a single verification still takes it.
    assert scan(world, bank, text).status_code == 200
