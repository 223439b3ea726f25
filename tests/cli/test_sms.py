"""``netid sms outbox`` (both backends): masked by default, texts in full, every read
recorded."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from netid.audit.models import AccessRecord
from netid.cli import main
from netid.container import Container
from netid.sms import otp_message
from netid.sms.errors import SmsInvalid

pytestmark = pytest.mark.db

PHONE = "+8613812341234"


@pytest.fixture
def runner(container: Container, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setattr(main, "_container", container)
    with container.transaction() as session:
        sender = container.sms_sender(session)
        sender.send("+8615800001111", otp_message("654321", 5), purpose="login_otp")
        sender.send(PHONE, otp_message("123456", 5), purpose="enrolment_otp")
    return CliRunner()


def test_outbox_json_masks_phones_and_shows_the_text(runner: CliRunner) -> None:
    result = runner.invoke(main.app, ["sms", "outbox", "--json"])
    assert result.exit_code == 0, result.output
    messages = json.loads(result.stdout)
    assert [m["phone"] for m in messages] == ["+86138****1234", "+86158****1111"]
    assert messages[0]["text"] == "【netid】验证码 123456，5分钟内有效。请勿告诉他人。"
    assert messages[0]["purpose"] == "enrolment_otp"
    assert PHONE not in result.stdout

    shown = runner.invoke(main.app, ["sms", "outbox", "--json", "--show-phone", "--limit", "1"])
    assert [m["phone"] for m in json.loads(shown.stdout)] == [PHONE]

    mine = runner.invoke(main.app, ["sms", "outbox", "--json", "--phone", "-"], input=PHONE)
    assert [m["text"][-20:] for m in json.loads(mine.stdout)] == [messages[0]["text"][-20:]]


def test_outbox_table_shows_the_code(runner: CliRunner) -> None:
    result = runner.invoke(main.app, ["sms", "outbox"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "【netid】验证码 123456，5分钟内有效。请勿告诉他人。" in result.stdout
    assert "654321" in result.stdout
    assert "138****1234" in result.stdout and "13812341234" not in result.stdout


def test_every_read_is_recorded(runner: CliRunner, container: Container) -> None:
    runner.invoke(main.app, ["sms", "outbox", "--json"])
    runner.invoke(main.app, ["sms", "outbox", "--json", "--show-phone"])
    with container.transaction(write=False) as session:
        rows = session.scalars(
            select(AccessRecord).where(AccessRecord.action == "sms.outbox.read")
        ).all()
    assert len(rows) == 2
    assert all(r.actor.startswith("operator:") for r in rows)
    assert [b'"phones_shown":true' in r.canonical for r in rows] == [False, True]


def test_bad_options_are_refused(runner: CliRunner) -> None:
    assert runner.invoke(main.app, ["sms", "outbox", "--limit", "0"]).exit_code == 2
    bad = runner.invoke(main.app, ["sms", "outbox", "--phone", "13812341234"])
    assert isinstance(bad.exception, SmsInvalid)
