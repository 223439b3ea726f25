"""The embedded SMS sender (netid.sms): the sealed outbox, in the caller's transaction, on
both backends; the recorded read; rotation; nothing in plaintext at rest."""

from __future__ import annotations

import contextlib
import datetime as dt
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from netid.audit.models import AccessRecord
from netid.container import Container
from netid.core.clock import FixedClock
from netid.crypto.errors import SealedValueInvalid
from netid.db import migrate
from netid.db.engine import make_engine
from netid.keys.schemas import KeyPurpose
from netid.sms import SmsSender, otp_message
from netid.sms.errors import SmsInvalid
from netid.sms.models import SmsOutboxMessage
from tests.conftest import Backend

pytestmark = pytest.mark.db

PHONE = "+8613912345678"
OTHER = "+8615887654321"
ACTOR = "operator:test"
T0 = dt.datetime(2026, 12, 2, 8, 0, tzinfo=dt.UTC)


def send(container: Container, phone: str, text: str, purpose: str = "enrolment_otp") -> str:
    with container.transaction() as session:
        sender: SmsSender = container.sms_sender(session)
        return sender.send(phone, text, purpose=purpose)


def test_otp_message_text() -> None:
    assert otp_message("123456", 5) == "【netid】验证码 123456，5分钟内有效。请勿告诉他人。"


def test_send_then_list_newest_first_masked(container: Container) -> None:
    clock = FixedClock(T0)
    container.clock = clock
    first = send(container, PHONE, otp_message("111111", 5))
    clock.advance(dt.timedelta(seconds=1))
    second = send(container, OTHER, otp_message("222222", 5), purpose="login_otp")
    with container.transaction() as session:
        masked = container.outbox(session).list(10, actor=ACTOR)
        shown = container.outbox(session).list(1, actor=ACTOR, show_phone=True)
    assert [m.id for m in masked] == [second, first]
    assert [m.phone for m in masked] == ["+86158****4321", "+86139****5678"]
    assert masked[1].text == "【netid】验证码 111111，5分钟内有效。请勿告诉他人。"  # in full
    assert (masked[0].purpose, masked[0].created_at) == ("login_otp", T0 + dt.timedelta(seconds=1))
    assert [(m.id, m.phone) for m in shown] == [(second, OTHER)]
    assert set(masked[0].to_json()) == {"id", "phone", "text", "purpose", "created_at"}
    assert PHONE not in repr(masked[1]) and "111111" not in repr(masked[1])


def test_list_by_phone(container: Container) -> None:
    for code in ("100001", "100002"):
        send(container, PHONE, otp_message(code, 5))
    send(container, OTHER, otp_message("200001", 5))
    with container.transaction() as session:
        mine = container.outbox(session).list(5, actor=ACTOR, phone=PHONE)
        latest = container.outbox(session).list(1, actor=ACTOR, phone=PHONE)
    assert len(mine) == 2 and all("1000" in m.text for m in mine)
    assert len(latest) == 1 and "100002" in latest[0].text


def test_every_read_is_recorded_without_personal_data(container: Container) -> None:
    send(container, PHONE, otp_message("333333", 5))
    with container.transaction() as session:
        container.outbox(session).list(5, actor=ACTOR, show_phone=True)
    with container.transaction(write=False) as session:
        rows = session.scalars(
            select(AccessRecord).where(AccessRecord.action == "sms.outbox.read")
        ).all()
    assert len(rows) == 1 and rows[0].actor == ACTOR
    canonical = rows[0].canonical.decode()
    assert '"phones_shown":true' in canonical and '"messages":1' in canonical
    assert "333333" not in canonical and "13912345678" not in canonical


def test_nothing_is_sent_when_the_transaction_rolls_back(container: Container) -> None:
    with contextlib.suppress(RuntimeError), container.transaction() as session:
        container.sms_sender(session).send(PHONE, "x", purpose="enrolment_otp")
        raise RuntimeError("the request failed after sending")
    with container.transaction() as session:
        assert container.outbox(session).list(5, actor=ACTOR) == []


@pytest.mark.parametrize(
    ("phone", "text", "purpose"),
    [
        ("13912345678", "x", "enrolment_otp"),  # national form: the caller passes E.164
        ("+86 139 1234 5678", "x", "enrolment_otp"),
        ("+8613912345678\n", "x", "enrolment_otp"),
        ("+86139１2345678", "x", "enrolment_otp"),  # a full-width digit is not a digit of E.164
        ("+86139١2345678", "x", "enrolment_otp"),  # nor an Arabic-Indic one
        (PHONE, "", "enrolment_otp"),
        (PHONE, "码" * 537, "enrolment_otp"),
        (PHONE, "\ud800", "enrolment_otp"),
        (PHONE, "x", "Enrolment OTP"),
        (PHONE, "x", ""),
    ],
)
def test_refused_messages_write_nothing(
    container: Container, phone: str, text: str, purpose: str
) -> None:
    with pytest.raises(SmsInvalid) as caught, container.transaction() as session:
        container.sms_sender(session).send(phone, text, purpose=purpose)
    assert caught.value.code == "sms_invalid"
    assert "1234" not in caught.value.message
    with container.transaction(write=False) as session:
        assert session.scalars(select(SmsOutboxMessage)).all() == []


def test_list_limit_bounds(container: Container) -> None:
    with container.transaction() as session:
        for limit in (0, 1001):
            with pytest.raises(SmsInvalid):
                container.outbox(session).list(limit, actor=ACTOR)
        with pytest.raises(SmsInvalid):
            container.outbox(session).list(5, actor=ACTOR, phone="13912345678")


def test_sealed_values_are_bound_to_their_row_and_column(container: Container) -> None:
    a = send(container, PHONE, "text a")
    b = send(container, OTHER, "text b")
    with container.transaction() as session:
        row_a = session.get(SmsOutboxMessage, a)
        row_b = session.get(SmsOutboxMessage, b)
        assert row_a is not None and row_b is not None
        row_a.phone_sealed = row_b.phone_sealed  # another row's phone
        session.flush()
        with pytest.raises(SealedValueInvalid):
            container.outbox(session).list(5, actor=ACTOR)
        row_a.phone_sealed = row_a.text_sealed  # its own text, in the phone column
        session.flush()
        with pytest.raises(SealedValueInvalid):
            container.outbox(session).list(5, actor=ACTOR)
        session.rollback()


def test_data_key_rotation_reseals_the_outbox(container: Container) -> None:
    send(container, PHONE, otp_message("444444", 5))
    old = container.keyring().active(KeyPurpose.DATA).key_id
    with container.transaction() as session:
        new = container.keyring_service(session).rotate(KeyPurpose.DATA).key_id
    container.keyring(reload=True)
    with container.transaction() as session:
        assert container.outbox(session).references_to_key(old) == 1
        assert container.outbox(session).reseal(batch_size=10, actor=ACTOR) == 1
    with container.transaction() as session:
        outbox = container.outbox(session)
        assert outbox.reseal(batch_size=10, actor=ACTOR) == 0
        assert (outbox.references_to_key(old), outbox.references_to_key(new)) == (0, 1)
        assert "444444" in outbox.list(1, actor=ACTOR)[0].text


def encodings(value: str) -> list[bytes]:
    forms = [value.encode("utf-8"), value.encode("utf-16-le"), value.encode("utf-8").hex().encode()]
    with contextlib.suppress(UnicodeEncodeError):
        forms.append(value.encode("gb18030"))
    return [f for f in forms if len(f) >= 6]  # shorter needles hit random ciphertext by chance


def test_no_phone_or_text_in_plaintext_at_rest(
    container: Container, db: Backend, tmp_path: Path
) -> None:
    if db.name == "sqlite":
        # A file of its own, so the scan sees only this test's pages (and the WAL).
        engine = make_engine(f"sqlite:///{tmp_path}/scan.sqlite3")
        migrate.upgrade(engine)
        container = Container(container.settings, engine=engine)
        with container.transaction() as session:
            container.keyring_service(session).initialise()
    text = otp_message("739251", 5)
    send(container, PHONE, text)
    with container.transaction() as session:
        raw = session.execute(
            select(SmsOutboxMessage.phone_sealed, SmsOutboxMessage.text_sealed)
        ).one()
        assert "739251" in container.outbox(session).list(1, actor=ACTOR)[0].text
    if db.name == "sqlite":
        blobs = [p.read_bytes() for p in tmp_path.glob("scan.sqlite3*")]
        assert len(blobs) >= 2  # the database and its write-ahead log
    else:
        dump = subprocess.run(
            ["pg_dump", "-h", "127.0.0.1", "-U", "postgres", "-n", db.schema or "", "test"],
            capture_output=True,
            check=True,
            timeout=120,
        )
        blobs = [dump.stdout]
        assert b"sms_outbox" in dump.stdout
    blobs.extend(raw)
    needles = [PHONE, PHONE.removeprefix("+86"), text, "739251", "验证码"]
    hits = [n for n in needles for blob in blobs for form in encodings(n) if form in blob]
    assert hits == []
