"""A person's own entries: found by their tag, confirmed by their key, nobody else's."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from netid.container import Container
from tests.verification.support import ACTOR, approved, load_people
from tests.verification.test_service import answer_of, ask, id2

pytestmark = pytest.mark.db


def test_a_person_sees_who_used_their_data_and_nobody_elses(container: Container) -> None:
    people = load_people(container)
    bank = approved(container, industry="banking_finance", purposes=["account_opening"])
    answer_of(ask(container, bank, id2(people)))  # the adult, match
    wrong = id2(people)
    wrong["subject"]["name"] = "张三"
    answer_of(ask(container, bank, wrong))  # the adult's number with another name
    answer_of(ask(container, bank, id2(people, "minor")))  # somebody else
    with container.registry_unit() as registry:
        registry.set_marker(people.number("adult"), "disputed", reason="case 1", actor=ACTOR)
    with container.transaction() as session:
        person_id, key = container.registry(session).person_ref(people.number("adult"))
        mine = container.audit(session).entries_of_person(person_id, key)
        minor_id, minor_key = container.registry(session).person_ref(people.number("minor"))
        theirs = container.audit(session).entries_of_person(minor_id, minor_key)
    actions = [(e["entry"]["action"], e["entry"]["outcome"]) for e in mine]
    assert actions == [
        ("registry.marker.set", "ok"),
        ("verification.id2", "mismatch"),
        ("verification.id2", "match"),
    ]
    assert mine[1]["entry"]["actor"] == f"institution:{bank.code}"
    assert all("subject_ref" not in e["entry"] for e in mine)
    assert [(e["entry"]["action"], e["entry"]["outcome"]) for e in theirs] == [
        ("verification.id2", "match")
    ]
    assert {e["index"] for e in mine}.isdisjoint({e["index"] for e in theirs})


def test_only_the_persons_key_finds_their_entries_even_after_shredding(
    container: Container,
) -> None:
    people = load_people(container)
    bank = approved(container, industry="banking_finance", purposes=["account_opening"])
    answer_of(ask(container, bank, id2(people)))
    with container.transaction() as session:
        person_id, key = container.registry(session).person_ref(people.number("adult"))
    with container.registry_unit() as registry:
        registry.unsafe_crypto_shred(person_id, actor=ACTOR)
    with container.transaction() as session:
        # The key is gone from the database, so nobody can make the tag again; another key
        # finds nothing, and only a copy of the destroyed key would.
        _, other_key = container.registry(session).person_ref(people.number("minor"))
        assert container.audit(session).entries_of_person(person_id, other_key) == []
        assert len(container.audit(session).entries_of_person(person_id, key)) == 1


def test_cli_counter_self_query(container: Container, tmp_path: object) -> None:
    people = load_people(container)
    bank = approved(container, industry="banking_finance", purposes=["account_opening"])
    answer_of(ask(container, bank, id2(people)))
    env = {
        "NETID_DATA_DIR": str(container.settings.data_dir),
        "NETID_DATABASE_URL": container.settings.resolved_database_url,
        "NETID_MASTER_KEY": container.settings.master_key or "",
        "PATH": "/usr/bin:/bin",
    }
    if container.settings.database_schema:
        env["NETID_DATABASE_SCHEMA"] = container.settings.database_schema
    result = subprocess.run(
        [sys.executable, "-m", "netid.cli", "audit", "person", "--document", "-"],
        input=people.number("adult") + "\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    entries = json.loads(result.stdout)["entries"]
    assert [e["entry"]["action"] for e in entries] == ["verification.id2"]
    assert people.number("adult") not in result.stdout
    with container.transaction() as session:
        person_id, key = container.registry(session).person_ref(people.number("adult"))
        again = container.audit(session).entries_of_person(person_id, key)
    assert again[0]["entry"]["action"] == "audit.person_entries"  # the query is recorded too
