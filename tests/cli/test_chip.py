"""``netid registry chip`` and ``netid registry chip-issuer`` end to end on a small registry
(both backends): the issuing authority's key, the platform's trust file, the recorded read, and
``read_chip`` with the container's trusted keys."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from netid.audit.models import AccessRecord
from netid.audit.service import subject_tag
from netid.cli import main
from netid.cli.chip import IssuerKeyInvalid, IssuerKidConflict
from netid.container import Container
from netid.core.clock import FixedClock
from netid.core.errors import ConfigurationError, InvalidInput
from netid.documents import DocumentType
from netid.documents.chip import read_chip
from netid.documents.errors import ChipExpired, ChipSignatureInvalid
from netid.registry.errors import PersonNotFound
from tests.conftest import Backend
from tests.verification.support import People, load_people

pytestmark = pytest.mark.db

NOW = dt.datetime(2026, 12, 2, 8, 0, tzinfo=dt.UTC)


class Cli:
    def __init__(self, container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(main, "_container", container)
        self.runner = CliRunner()

    def run(self, *args: str, stdin: str | None = None) -> Any:
        result = self.runner.invoke(main.app, list(args), input=stdin)
        assert result.exit_code == 0, (result.exit_code, result.output, result.exception)
        return json.loads(result.stdout.splitlines()[-1])

    def error(self, *args: str, stdin: str | None = None) -> BaseException:
        result = self.runner.invoke(main.app, list(args), input=stdin)
        assert result.exception is not None and not isinstance(result.exception, SystemExit)
        return result.exception


@pytest.fixture
def clock(container: Container) -> FixedClock:
    fixed = FixedClock(NOW)
    container.clock = fixed
    return fixed


@pytest.fixture
def cli(container: Container, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return Cli(container, monkeypatch)


@pytest.fixture
def people(container: Container) -> People:
    return load_people(container)


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_init_chip_and_read_back(
    cli: Cli, container: Container, people: People, tmp_path: Path
) -> None:
    init = cli.run("registry", "chip-issuer", "init")
    kid = init["kid"]
    assert init["created"] is True and init["trust_added"] is True
    issuer_dir = container.document_issuer_dir()
    assert mode(issuer_dir) == 0o700 and mode(issuer_dir / "issuer-key.json") == 0o600
    trust = json.loads(container.document_issuer_trust_file().read_text(encoding="utf-8"))
    assert [k["kid"] for k in trust["keys"]] == [kid]
    assert trust["keys"][0]["added_at"] == "2026-12-02T08:00:00Z"
    assert set(container.document_issuer_keys()) == {kid}
    again = cli.run("registry", "chip-issuer", "init")  # idempotent: same key, trusted once
    assert (again["kid"], again["created"], again["trust_added"]) == (kid, False, False)

    out = tmp_path / "chip.json"
    number = people.number("adult")
    written = cli.run("registry", "chip", "-", "--out", str(out), stdin=number + "\n")
    assert written == {
        "out": str(out),
        "kid": kid,
        "signed_at": "2026-12-02T08:00:00Z",
        "issuer_key_created": False,
    }
    assert number not in json.dumps(written)
    assert mode(out) == 0o600
    chip = read_chip(out.read_bytes(), trusted=container.document_issuer_keys(), now=NOW)
    adult = people.adult
    assert chip.document_type is DocumentType.RESIDENT_ID
    assert (chip.number, chip.name, chip.sex, chip.nationality) == (
        number,
        "欧阳·娜娜",
        "F",
        "CHN",
    )
    assert chip.birth_date == dt.date(1990, 3, 7)
    assert chip.issued_on == dt.date.fromisoformat(adult["documents"][0]["issued_on"])
    assert chip.expires_on == dt.date.fromisoformat(adult["documents"][0]["expires_on"])

    # The read is recorded as the authority's, under the person's key.
    with container.registry_unit() as registry:
        _, person_key = registry.person_ref(number)
    with container.transaction(write=False) as session:
        rows = session.scalars(
            select(AccessRecord).where(AccessRecord.action == "registry.chip.export")
        ).all()
    assert [(r.actor, r.outcome) for r in rows] == [(f"document-issuer:{kid}", "ok")]
    assert rows[0].subject_tag == subject_tag(person_key)
    assert rows[0].subject_ref_sealed is not None

    # Ten minutes later the file is no longer accepted.
    with pytest.raises(ChipExpired):
        read_chip(
            out.read_bytes(),
            trusted=container.document_issuer_keys(),
            now=NOW + dt.timedelta(minutes=10, seconds=1),
        )


def test_first_chip_creates_and_trusts_the_issuer_key(
    cli: Cli, container: Container, people: People, tmp_path: Path
) -> None:
    assert container.document_issuer_keys() == {}  # no trust file: nothing trusted
    issuer_dir = tmp_path / "authority"  # outside the data directory
    out = tmp_path / "minor.chip"
    written = cli.run(
        "registry", "chip", people.number("minor"), "--out", str(out),
        "--issuer-dir", str(issuer_dir),
    )  # fmt: skip
    assert written["issuer_key_created"] is True
    assert mode(issuer_dir / "issuer-key.json") == 0o600
    assert set(container.document_issuer_keys()) == {written["kid"]}
    chip = read_chip(out.read_bytes(), trusted=container.document_issuer_keys(), now=NOW)
    assert chip.name == "李小龙"
    # A revoked document still has its chip (the platform's enrolment refuses it: chip_stale).
    revoked = tmp_path / "revoked.chip"
    cli.run(
        "registry", "chip", people.number("revoked"), "--out", str(revoked),
        "--issuer-dir", str(issuer_dir),
    )  # fmt: skip
    assert read_chip(revoked.read_bytes(), trusted=container.document_issuer_keys(), now=NOW)


def test_unknown_number_is_recorded_and_writes_nothing(
    cli: Cli, container: Container, people: People, tmp_path: Path
) -> None:
    out = tmp_path / "nobody.chip"
    error = cli.error("registry", "chip", "11010519491231002X", "--out", str(out))
    assert isinstance(error, PersonNotFound)
    assert not out.exists()
    with container.transaction(write=False) as session:
        outcomes = session.scalars(
            select(AccessRecord.outcome).where(AccessRecord.action == "registry.chip.export")
        ).all()
    assert outcomes == ["not_found"]
    assert isinstance(cli.error("registry", "chip", "12345", "--out", str(out)), InvalidInput)


def test_export_public_and_trust(cli: Cli, container: Container, tmp_path: Path) -> None:
    authority = tmp_path / "authority"
    kid = cli.run("registry", "chip-issuer", "init", "--issuer-dir", str(authority))["kid"]
    public = tmp_path / "issuer.pub.json"
    runner = CliRunner()
    result = runner.invoke(
        main.app, ["registry", "chip-issuer", "export-public", "--issuer-dir", str(authority)]
    )
    assert result.exit_code == 0, result.output
    exported = json.loads(result.stdout)
    assert set(exported) == {"kid", "public_key"} and exported["kid"] == kid
    assert "private" not in result.stdout
    cli_out = runner.invoke(
        main.app,
        ["registry", "chip-issuer", "export-public", "--issuer-dir", str(authority),
         "--out", str(public)],
    )  # fmt: skip
    assert cli_out.exit_code == 0 and json.loads(public.read_text()) == exported

    # A platform that does not trust the key yet (its trust file lost it) adds it by file.
    container.document_issuer_trust_file().unlink()
    assert container.document_issuer_keys() == {}
    assert cli.run("registry", "chip-issuer", "trust", str(public)) == {"kid": kid, "added": True}
    assert cli.run("registry", "chip-issuer", "trust", str(public)) == {"kid": kid, "added": False}
    assert set(container.document_issuer_keys()) == {kid}

    # Another key under a kid already trusted is refused; garbage is refused.
    other = tmp_path / "other"
    cli.run("registry", "chip-issuer", "init", "--issuer-dir", str(other))
    impostor = json.loads(
        runner.invoke(
            main.app, ["registry", "chip-issuer", "export-public", "--issuer-dir", str(other)]
        ).stdout
    )
    swapped = tmp_path / "swapped.json"
    swapped.write_text(json.dumps({"kid": kid, "public_key": impostor["public_key"]}))
    assert isinstance(
        cli.error("registry", "chip-issuer", "trust", str(swapped)), IssuerKidConflict
    )
    garbage = tmp_path / "garbage.json"
    garbage.write_text('{"kid": "x"}')
    assert isinstance(cli.error("registry", "chip-issuer", "trust", str(garbage)), InvalidInput)
    assert len(container.document_issuer_keys()) == 2  # kid and the other authority's


def test_a_chip_from_an_untrusted_authority_fails(
    cli: Cli, container: Container, people: People, tmp_path: Path
) -> None:
    cli.run("registry", "chip-issuer", "init")
    out = tmp_path / "chip.json"
    cli.run("registry", "chip", people.number("adult"), "--out", str(out))
    container.document_issuer_trust_file().write_text('{"keys": []}')
    with pytest.raises(ChipSignatureInvalid):
        read_chip(out.read_bytes(), trusted=container.document_issuer_keys(), now=NOW)


def test_broken_files_are_clear_errors(
    cli: Cli, container: Container, people: People, tmp_path: Path
) -> None:
    trust_file = container.document_issuer_trust_file()
    trust_file.parent.mkdir(parents=True, exist_ok=True)
    trust_file.write_text('{"keys": [{"kid": "a"}]}')
    with pytest.raises(ConfigurationError) as caught:
        container.document_issuer_keys()
    assert "malformed" in caught.value.message
    trust_file.write_bytes(b"\xff")
    with pytest.raises(ConfigurationError):
        container.document_issuer_keys()
    trust_file.unlink()

    authority = tmp_path / "authority"
    cli.run("registry", "chip-issuer", "init", "--issuer-dir", str(authority))
    key_file = authority / "issuer-key.json"
    document = json.loads(key_file.read_text())
    document["kid"] = "0000000000000000"  # a kid that is not this key's
    key_file.write_text(json.dumps(document))
    out = tmp_path / "chip.json"
    error = cli.error(
        "registry", "chip", people.number("adult"), "--out", str(out),
        "--issuer-dir", str(authority),
    )  # fmt: skip
    assert isinstance(error, IssuerKeyInvalid)
    assert not out.exists()


def test_through_the_real_command(
    container: Container, people: People, db: Backend, tmp_path: Path
) -> None:
    """The installed entry point: the number from stdin stays out of the output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETID_")}
    env.update(
        NETID_DATA_DIR=str(container.settings.data_dir),
        NETID_DATABASE_URL=db.url,
        NETID_MASTER_KEY=container.settings.master_key or "",
    )
    if db.schema:
        env["NETID_DATABASE_SCHEMA"] = db.schema
    out = tmp_path / "chip.json"
    number = people.number("adult")
    result = subprocess.run(
        [sys.executable, "-m", "netid.cli", "registry", "chip", "-", "--out", str(out)],
        env=env,
        input=number + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert number not in result.stdout + result.stderr
    kid = json.loads(result.stdout)["kid"]
    chip = read_chip(
        out.read_bytes(),
        trusted=container.document_issuer_keys(),
        now=dt.datetime.now(dt.UTC),
    )
    assert chip.number == number
    assert set(container.document_issuer_keys()) == {kid}
