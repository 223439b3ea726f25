"""``netid monitoring`` end to end through the real command, on every backend: the watch list
(numbers from stdin, never printed), alerts and their resolution."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netid.config import Settings
from netid.container import Container
from tests.cli.test_cli import Netid
from tests.conftest import Backend
from tests.monitoring.support import ask, id2, load_population
from tests.verification.support import approved

pytestmark = pytest.mark.db


def test_watch_list_alerts_and_resolution(db: Backend, tmp_path: Path) -> None:
    netid = Netid(db, tmp_path / "var")
    netid.run("keys", "init")
    # The same database and keys, in process, for the registry and a verification.
    c = Container(
        Settings(data_dir=tmp_path / "var", database_url=db.url, database_schema=db.schema),
        engine=db.engine,
    )
    [person] = load_population(c, 1)
    number = person["documents"][0]["number"]

    added = netid.run("monitoring", "watch", "add", "--document", "-", stdin=number + "\n")
    assert number not in added.stdout
    entry = json.loads(added.stdout)
    again = netid.json("monitoring", "watch", "add", "--document", "-", stdin=number + "\n")
    assert again["id"] == entry["id"]
    listed = netid.run("monitoring", "watch", "list")
    assert [json.loads(line)["id"] for line in listed.stdout.splitlines()] == [entry["id"]]
    assert number not in listed.stdout

    bank = approved(c, industry="banking_finance", purposes=["account_opening"])
    outcome = ask(c, bank.id, id2(number))  # the shipped rules: a watched number alerts
    assert outcome.answer is not None

    alerts = [
        json.loads(x)
        for x in netid.run("monitoring", "alerts", "--status", "open").stdout.splitlines()
    ]
    assert [(a["rule"], a["institution_id"]) for a in alerts] == [("watch_list", bank.id)]
    assert number not in json.dumps(alerts)
    resolved = netid.json("monitoring", "resolve", alerts[0]["id"], "--reason", "known case")
    assert resolved["status"] == "resolved"
    assert resolved["resolved_by"].startswith("operator:")
    twice = netid.run("monitoring", "resolve", alerts[0]["id"], "--reason", "again", expect=75)
    assert json.loads(twice.stderr.splitlines()[-1])["error"]["code"] == "alert_already_resolved"
    assert netid.run("monitoring", "alerts", "--status", "open").stdout == ""
    missing = netid.run("monitoring", "resolve", "nope", "--reason", "x", expect=66)
    assert json.loads(missing.stderr.splitlines()[-1])["error"]["code"] == "alert_not_found"

    netid.json("monitoring", "watch", "remove", "--document", "-", stdin=number + "\n")
    gone = netid.run(
        "monitoring", "watch", "remove", "--document", "-", stdin=number + "\n", expect=66
    )
    assert json.loads(gone.stderr.splitlines()[-1])["error"]["code"] == "watch_entry_not_found"
    bad = netid.run("monitoring", "watch", "add", "--document", "-", stdin="12345\n", expect=65)
    assert json.loads(bad.stderr.splitlines()[-1])["error"]["code"] == "invalid_document_number"
