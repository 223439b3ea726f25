"""Administrator accounts and login on every backend: one role each, sealed TOTP secret,
each failure kind refused alike, a code accepted once, lockout with growing delays."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from netid.admins.errors import AdminExists, InvalidUsername, PasswordRejected, UnknownRole
from netid.admins.models import AdminAccount
from netid.admins.schemas import Decision, lockout_delay
from netid.audit.models import AccessRecord
from netid.config import Settings
from netid.container import Container
from netid.core.clock import FixedClock
from netid.keys.schemas import KeyPurpose
from netid.oauth.tokens import verify_admin_token
from tests.admins.support import PASSWORD, code, create_admin
from tests.conftest import Backend

pytestmark = pytest.mark.db
T0 = dt.datetime(2026, 12, 2, 3, 0, 5, tzinfo=dt.UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def clocked(
    settings: Settings, db: Backend, container: Container, clock: FixedClock
) -> Iterator[Container]:
    """A container on a fixed clock (the keyring is the ``container`` fixture's)."""
    return Container(settings, clock=clock, engine=db.engine)


def attempt(c: Container, username: str, password: str, otp: str) -> object:
    with c.transaction() as session:
        return c.admins(session).login(username=username, password=password, code=otp)


def records(c: Container, action: str) -> list[AccessRecord]:
    with c.transaction(write=False) as session:
        return list(
            session.scalars(
                select(AccessRecord).where(AccessRecord.action == action).order_by(AccessRecord.seq)
            )
        )


def test_create_seals_the_secret_and_records_it(container: Container, db: Backend) -> None:
    account, secret = create_admin(container, "security_admin", "alice")
    assert account.role.value == "security_admin" and account.enabled
    with container.transaction(write=False) as session:
        row = session.get(AdminAccount, account.id)
        assert row is not None
        assert row.password_hash.startswith("$argon2id$")
        assert secret.encode() not in row.totp_sealed
    (record,) = records(container, "admin.create")
    assert record.actor == "operator:test"
    assert json.loads(record.canonical)["details"] == {
        "account_id": account.id,
        "role": "security_admin",
    }
    assert PASSWORD not in record.canonical.decode() and secret not in record.canonical.decode()


def test_create_rules(container: Container) -> None:
    create_admin(container, "audit_admin", "bob")
    with pytest.raises(AdminExists):
        create_admin(container, "system_admin", "bob")  # one account, one role
    with pytest.raises(UnknownRole):
        create_admin(container, "root", "carol")
    with pytest.raises(UnknownRole):
        create_admin(container, "audit_admin,system_admin", "carol")
    for name in ("Al", "al", "1abc", "a b c", "x" * 33, "ädmin"):
        with pytest.raises(InvalidUsername):
            create_admin(container, "reviewer", name)
    for password in ("short", "eleven char", "ｃａｒｏｌ"):
        with pytest.raises(PasswordRejected):
            create_admin(container, "reviewer", "carol", password=password)
    with pytest.raises(PasswordRejected):
        create_admin(container, "reviewer", "carolcarol12", password="CAROLCAROL12")


def test_the_schema_refuses_a_second_or_unknown_role(container: Container) -> None:
    account, _ = create_admin(container, "registrar", "dave")
    for value in ("registrar,review", "root", ""):
        with pytest.raises(IntegrityError), container.transaction() as session:
            session.execute(
                text("UPDATE admin_account SET role = :r WHERE id = :id"),
                {"r": value, "id": account.id},
            )


def test_a_good_login_gives_a_token_for_the_account(clocked: Container) -> None:
    account, secret = create_admin(clocked, "security_admin", "erin")
    result = attempt(clocked, "erin", PASSWORD, code(secret, T0))
    assert result is not None
    claims = verify_admin_token(
        result.token, clocked.token_mac_keys(), clocked.clock.now(), clocked.admin_audience()
    )
    assert claims.actor == f"admin:{account.id}" and claims.role == "security_admin"
    assert claims.expires_at - claims.issued_at == 900
    (ok,) = records(clocked, "admin.login")
    assert ok.actor == f"admin:{account.id}" and ok.outcome == "ok"
    assert result.token not in ok.canonical.decode()


def test_every_failure_kind_is_refused_and_recorded(clocked: Container, clock: FixedClock) -> None:
    account, secret = create_admin(clocked, "audit_admin", "frank")
    disabled, dsecret = create_admin(clocked, "reviewer", "gina")
    with clocked.transaction() as session:
        clocked.admins(session).disable("gina", actor="operator:test")
    good = code(secret, T0)
    assert attempt(clocked, "nobody", PASSWORD, good) is None
    assert attempt(clocked, "frank", PASSWORD + "x", good) is None
    assert attempt(clocked, "frank", PASSWORD, code(secret, T0, steps=2)) is None
    assert attempt(clocked, "gina", PASSWORD, code(dsecret, T0)) is None
    assert attempt(clocked, "frank", PASSWORD, good) is not None
    assert attempt(clocked, "frank", PASSWORD, good) is None  # replayed
    reasons = [
        (r.actor, json.loads(r.canonical)["details"]["reason"])
        for r in records(clocked, "admin.login")
        if r.outcome == "refused"
    ]
    assert reasons == [
        ("anonymous", "unknown_user"),
        (f"admin:{account.id}", "wrong_password"),
        (f"admin:{account.id}", "wrong_code"),
        (f"admin:{disabled.id}", "disabled"),
        (f"admin:{account.id}", "replayed_code"),
    ]


def test_lockout_grows_and_holds_even_the_right_credentials(
    clocked: Container, clock: FixedClock
) -> None:
    assert [lockout_delay(n) for n in range(1, 12)] == [0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64]
    assert lockout_delay(40) == 900
    account, secret = create_admin(clocked, "system_admin", "hank")
    for n in range(1, 11):
        assert attempt(clocked, "hank", "wrong password!", "000000") is None
        clock.advance(dt.timedelta(seconds=lockout_delay(n)))  # wait out each lock exactly
    # after the 10th failure the account is locked for 32 s: the right code is refused
    with clocked.transaction(write=False) as session:
        row = session.get(AdminAccount, account.id)
        assert row is not None and row.failed_count == 10
        assert row.locked_until == clock.now()  # we waited exactly the delay
    assert attempt(clocked, "hank", "wrong again!!", "000000") is None  # 11th: 64 s
    clock.advance(dt.timedelta(seconds=63))
    assert attempt(clocked, "hank", PASSWORD, code(secret, clock.now())) is None  # locked
    with clocked.transaction(write=False) as session:
        row = session.get(AdminAccount, account.id)
        assert row is not None and row.failed_count == 11  # a locked attempt is not counted
    clock.advance(dt.timedelta(seconds=1))
    assert attempt(clocked, "hank", PASSWORD, code(secret, clock.now())) is not None
    with clocked.transaction(write=False) as session:
        row = session.get(AdminAccount, account.id)
        assert row is not None and row.failed_count == 0 and row.locked_until is None
    reasons = [json.loads(r.canonical)["details"] for r in records(clocked, "admin.login")]
    assert reasons[-2]["reason"] == "locked" and "locked_until" in reasons[-2]


def test_authorise_checks_the_account_and_the_matrix(clocked: Container) -> None:
    account, secret = create_admin(clocked, "security_admin", "ivy")
    result = attempt(clocked, "ivy", PASSWORD, code(secret, T0))
    assert result is not None
    claims = verify_admin_token(
        result.token, clocked.token_mac_keys(), T0, clocked.admin_audience()
    )

    def decide(action: str, role: str = "security_admin", jti: str = claims.jti) -> Decision:
        with clocked.transaction() as session:
            return clocked.admins(session).authorise(
                account_id=account.id, role=role, jti=jti, action=action, route="GET /x"
            )

    assert decide("institution.freeze") is Decision.ALLOWED
    assert decide("log.read_entry") is Decision.DENIED
    assert decide("institution.freeze", role="audit_admin") is Decision.INVALID
    assert decide("institution.freeze", jti="A" * 22) is Decision.INVALID
    # a new login replaces the session
    clocked.clock.advance(dt.timedelta(seconds=30))  # type: ignore[attr-defined]
    assert attempt(clocked, "ivy", PASSWORD, code(secret, clocked.clock.now())) is not None
    assert decide("institution.freeze") is Decision.INVALID
    outcomes = [r.outcome for r in records(clocked, "admin.request")]
    assert outcomes == ["allowed", "denied"]


def test_actions_lists_admin_and_operator_records_only(container: Container) -> None:
    account, _ = create_admin(container, "audit_admin", "jack")
    with container.transaction() as session:
        container.recorder(session).record(actor="inst:x", action="verification.id2", outcome="ok")
        container.admins(session).disable("jack", actor=f"admin:{account.id}")
    with container.transaction(write=False) as session:
        service = container.admins(session)
        listed = service.actions()
        assert [a.entry["action"] for a in listed] == ["admin.create", "admin.disable"]
        after_first = service.actions(after=listed[0].seq)
        assert [a.entry["action"] for a in after_first] == ["admin.disable"]
        assert service.actions(limit=1) == listed[:1]


def test_data_key_rotation_reseals_totp_secrets_and_the_old_key_can_retire(
    clocked: Container, clock: FixedClock
) -> None:
    _, secret = create_admin(clocked, "audit_admin", "kate")
    with clocked.transaction() as session:
        old = clocked.keyring().active(KeyPurpose.DATA).key_id
        assert clocked.admins(session).references_to_key(old) == 1
        clocked.keyring_service(session).rotate(KeyPurpose.DATA)
    clocked.keyring(reload=True)
    with clocked.transaction() as session:
        service = clocked.admins(session)
        assert service.reseal_totp_secrets(batch_size=10, actor="operator:test") == 1
        assert service.reseal_totp_secrets(batch_size=10, actor="operator:test") == 0
        assert service.references_to_key(old) == 0
        clocked.keyring_service(session).retire(old, references=0)
    clocked.keyring(reload=True)
    assert attempt(clocked, "kate", PASSWORD, code(secret, clock.now())) is not None


def test_one_code_is_accepted_once_under_concurrency(clocked: Container, clock: FixedClock) -> None:
    """Concurrent logins with the same right code: exactly one succeeds (the account row is
    locked for the attempt on PostgreSQL; SQLite's write transactions are serial)."""
    _, secret = create_admin(clocked, "reviewer", "liam")
    otp = code(secret, clock.now())
    barrier = threading.Barrier(6)

    def one() -> bool:
        barrier.wait()
        return attempt(clocked, "liam", PASSWORD, otp) is not None

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda _: one(), range(6)))
    assert results.count(True) == 1
    refused = [
        json.loads(r.canonical)["details"]["reason"]
        for r in records(clocked, "admin.login")
        if r.outcome == "refused"
    ]
    assert refused == ["replayed_code"] * 5
