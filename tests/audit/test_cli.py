"""`netid audit ...` through the real Typer app (in process, on the test database):
checkpoint, witness file, verify (exit codes and JSON findings), the published verifier keys,
and the hash chosen at creation."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import text
from typer.testing import CliRunner

from netid.audit.errors import LogAlreadyCreated, WitnessInvalid
from netid.cli import main
from netid.config import Settings
from netid.container import Container
from netid.crypto.notes import open_checkpoint, parse_verifier_key
from netid.db.append_only import unsafe_append_only_disabled
from netid.web.app import create_app
from tests.audit.support import write
from tests.conftest import Backend

pytestmark = pytest.mark.db


class Cli:
    def __init__(self, container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(main, "_container", container)
        self.runner = CliRunner()

    def run(self, *args: str, expect: int = 0) -> Any:
        result = self.runner.invoke(main.app, list(args))
        assert result.exit_code == expect, (result.exit_code, result.output, result.exception)
        return json.loads(result.stdout.splitlines()[-1]) if result.stdout.strip() else None

    def error(self, *args: str) -> BaseException:
        result = self.runner.invoke(main.app, list(args))
        assert result.exception is not None and not isinstance(result.exception, SystemExit)
        return result.exception


@pytest.fixture
def cli(container: Container, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return Cli(container, monkeypatch)


def test_checkpoint_witness_and_verify(
    cli: Cli, container: Container, db: Backend, tmp_path: Path
) -> None:
    witness = tmp_path / "auditor" / "witness.jsonl"  # outside the data directory
    witness.parent.mkdir()
    write(container, 1)
    status = cli.run("audit", "status")
    assert status["hash_alg"] == "sm3" and status["size"] == 1
    assert cli.run("audit", "checkpoint")["cut"] == 1
    assert cli.run("audit", "checkpoint")["cut"] is None  # nothing new
    assert cli.run("audit", "witness", str(witness))["appended"] is True
    cli.run("keys", "rotate", "ed25519_signing")  # an entry; later notes use the new key
    cli.run("audit", "checkpoint")
    second = cli.run("audit", "witness", str(witness))
    assert second == {"tree_size": 2, "appended": True, "witnessed": 2}
    assert cli.run("audit", "witness", str(witness))["appended"] is False
    assert (witness.stat().st_mode & 0o777) == 0o600

    # The published keys verify the witnessed notes offline.
    public = cli.run("keys", "export-public")
    verifiers = [parse_verifier_key(v) for v in public["log"]["verifier_keys"]]
    assert len(verifiers) == 3  # SM2, and both Ed25519 keys (the old one still verifies)
    for line in witness.read_text().splitlines():
        _, names = open_checkpoint(json.loads(line)["note"], verifiers)
        assert names == [public["log"]["origin"]] * 2

    report = cli.run("audit", "verify", "--witness", str(witness))
    assert report["clean"] is True and report["size"] == 2 and report["witness_size"] == 2

    # A changed entry (SQLite even turns the BLOB into TEXT): exit 1 with the finding.
    with db.engine.begin() as conn, unsafe_append_only_disabled(conn):
        conn.execute(
            text("UPDATE access_record SET canonical = canonical || 'x' WHERE log_index = 1")
        )
    report = cli.run("audit", "verify", "--witness", str(witness), expect=1)
    assert report["clean"] is False
    assert {"index": 1, "kind": "leaf_mismatch"} in report["findings"]

    # An older backup: the tail, its node, the head and later checkpoints all gone; only the
    # witness knows.
    with db.engine.begin() as conn, unsafe_append_only_disabled(conn):
        conn.execute(text("DELETE FROM access_record WHERE log_index >= 1"))
        conn.execute(text("DELETE FROM log_checkpoint WHERE tree_size > 1"))
        conn.execute(text("DELETE FROM log_node WHERE level > 0 OR idx > 0"))
        leaf = conn.execute(text("SELECT leaf_hash FROM access_record")).scalar_one()
        conn.execute(
            text("UPDATE log_head SET size = 1, frontier = :f"),
            {"f": (1).to_bytes(8, "big") + bytes(leaf)},
        )
    assert cli.run("audit", "verify")["clean"] is True
    report = cli.run("audit", "verify", "--witness", str(witness), expect=1)
    assert [(f["index"], f["kind"]) for f in report["findings"]] == [(2, "rollback")]
    error = cli.error("audit", "witness", str(witness))  # the witness refuses to step back
    assert isinstance(error, WitnessInvalid) and error.details["reason"] == "rollback"


def test_a_log_created_with_sha256(
    settings: Settings, db: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    container = Container(settings, engine=db.engine)
    cli = Cli(container, monkeypatch)
    assert cli.run("audit", "init", "--hash", "sha256") == {"hash_alg": "sha256"}
    cli.run("keys", "init")  # entry 0
    assert cli.run("audit", "status")["hash_alg"] == "sha256"
    assert isinstance(cli.error("audit", "init", "--hash", "sm3"), LogAlreadyCreated)
    cli.run("audit", "checkpoint")
    assert cli.run("audit", "verify")["clean"] is True


def test_a_bad_witness_file_is_refused(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "witness.jsonl"
    bad.write_text("not json\n")
    error = cli.error("audit", "verify", "--witness", str(bad))
    assert isinstance(error, WitnessInvalid) and error.details["reason"] == "file"


@pytest.fixture
def served(container: Container) -> Iterator[str]:
    """The real app on a real HTTP server (uvicorn on loopback, in a thread)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(
        create_app(container), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive()
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_a_remote_witness_needs_only_the_public_api_and_keys(
    cli: Cli, container: Container, served: str, tmp_path: Path
) -> None:
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(cli.run("keys", "export-public")))
    witness = tmp_path / "witness.jsonl"
    write(container, 3)
    cli.run("audit", "checkpoint")
    remote = ("audit", "witness", str(witness), "--url", served, "--keys", str(keys))
    assert cli.run(*remote) == {"tree_size": 3, "appended": True, "witnessed": 1}
    write(container, 6)
    cli.run("audit", "checkpoint")
    assert cli.run(*remote) == {"tree_size": 9, "appended": True, "witnessed": 2}
    assert cli.run(*remote)["appended"] is False
    other = tmp_path / "other.json"
    other.write_text('{"log": {"verifier_keys": ["x+00000000+AAAA"]}}')
    error = cli.error("audit", "witness", str(witness), "--url", served, "--keys", str(other))
    assert isinstance(error, WitnessInvalid) and error.details["reason"] == "keys"
