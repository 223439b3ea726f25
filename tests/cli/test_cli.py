"""End to end through the real ``netid`` command, on every database backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from netid.config import Settings
from netid.container import Container
from netid.keys.schemas import KeyPurpose
from tests.conftest import Backend

pytestmark = pytest.mark.db


class Netid:
    def __init__(self, db: Backend, data_dir: Path) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("NETID_")}
        self.env.update(NETID_DATA_DIR=str(data_dir), NETID_DATABASE_URL=db.url)
        if db.schema:
            self.env["NETID_DATABASE_SCHEMA"] = db.schema

    def run(
        self, *args: str, expect: int = 0, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "netid.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            input=stdin,
        )
        assert result.returncode == expect, (result.returncode, result.stderr[-2000:])
        assert "Traceback" not in result.stderr
        return result

    def json(self, *args: str, expect: int = 0, stdin: str | None = None) -> Any:
        return json.loads(self.run(*args, expect=expect, stdin=stdin).stdout.splitlines()[-1])


@pytest.fixture
def netid(db: Backend, tmp_path: Path) -> Netid:
    return Netid(db, tmp_path / "var")


def test_operator_workflow(netid: Netid, tmp_path: Path) -> None:
    netid.run("db", "upgrade")
    init = netid.json("keys", "init")
    assert init["master_key_created"] is True
    master = tmp_path / "var" / "keys" / "master.key"
    assert (master.stat().st_mode & 0o777) == 0o600
    netid.run("keys", "init", expect=75)  # already initialised: refused, not duplicated

    population = tmp_path / "people.jsonl"
    assert (
        netid.json(
            "registry", "generate", "--people", "300", "--out", str(population), "--seed", "5"
        )["people"]
        == 300
    )
    summary = netid.json("registry", "import", str(population))
    assert summary["imported"] == 300 and summary["rejected"] == 0
    assert netid.json("registry", "import", str(population))["duplicates"] == 300

    first = json.loads(population.read_text(encoding="utf-8").splitlines()[0])
    number = first["documents"][0]["number"]
    shown = netid.json("registry", "show", "--document", number)
    assert shown["documents"][0]["number"] != number
    assert shown["documents"][0]["number"][-4:] == number[-4:]
    assert shown["name"] != first["name"] or len(first["name"]) == 1

    missing = netid.run("registry", "show", "--document", "11010519491231002X", expect=66)
    assert json.loads(missing.stderr.splitlines()[-1])["error"]["code"] == "person_not_found"

    old_data_key = next(
        k["key_id"] for k in netid.json("keys", "list", "--json") if k["purpose"] == "data"
    )
    rotated = netid.json("keys", "rotate", "data", "--batch-size", "64")
    assert rotated["person_keys_rewrapped"] == 300
    assert netid.json("keys", "retire", old_data_key)["retired"] == old_data_key

    exported = tmp_path / "export.jsonl"
    assert netid.json("registry", "export", "--out", str(exported))["people"] == 300
    originals = [json.loads(line) for line in population.read_text(encoding="utf-8").splitlines()]
    assert [
        json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()
    ] == originals

    public = netid.json("keys", "export-public")
    assert {k["kty"] for k in public["jwks"]["keys"]} == {"OKP", "EC", "RSA"}  # RSA: RS256
    assert public["sm2"][0]["pem"].startswith("-----BEGIN PUBLIC KEY-----")
    assert (
        "d"
        not in json.dumps(public["jwks"]).replace('"kid"', "").replace('"kty"', "").split('"')[1::2]
    )


def test_documents_check_command(netid: Netid) -> None:
    result = netid.run(
        "documents", "check", "11010519491231002X", "110105491231002", "123", expect=1
    )
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["valid"] for r in lines] == [True, True, False]
    assert lines[1]["normalized"] == "11010519491231002X"
    assert lines[2]["rule"] == "length"


def test_clear_errors_without_tracebacks(netid: Netid, tmp_path: Path) -> None:
    netid.run("db", "upgrade")
    # No keys yet: the error says what to do.
    error = netid.run("registry", "count", expect=78).stderr
    assert "keys init" in json.loads(error.splitlines()[-1])["error"]["message"]
    netid.run("keys", "init")
    netid.run("registry", "import", str(tmp_path / "absent.jsonl"), expect=2)
    bad = tmp_path / "bad.csv"
    bad.write_text("just,a,header\n", encoding="utf-8")
    netid.run("registry", "import", str(bad), expect=65)
    netid.run("keys", "rotate", "pairwise", expect=75)
    netid.run("keys", "rotate", "nonsense", expect=2)
    netid.run("registry", "show", "--document", "\u202e' OR 1=1 --", expect=65)


def test_database_down_is_a_clear_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETID_")}
    env.update(
        NETID_DATA_DIR=str(tmp_path), NETID_DATABASE_URL="postgresql+psycopg://x@127.0.0.1:1/none"
    )
    result = subprocess.run(
        [sys.executable, "-m", "netid.cli", "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 69
    assert json.loads(result.stderr.splitlines()[-1])["error"]["code"] == "unavailable"
    assert "Traceback" not in result.stderr


def test_key_lifecycle_edges(netid: Netid, tmp_path: Path) -> None:
    netid.run("keys", "init")
    population = tmp_path / "people.jsonl"
    netid.run("registry", "generate", "--people", "50", "--out", str(population))
    netid.run("registry", "import", str(population), "--workers", "0")
    number = json.loads(population.read_text(encoding="utf-8").splitlines()[0])["documents"][0][
        "number"
    ]

    # Master-key rotation: the new file appears only after the commit; a re-run is a no-op.
    new_key = tmp_path / "elsewhere" / "master.key"
    new_key.parent.mkdir()
    rotated = netid.json("keys", "rotate-master", "--new-key-file", str(new_key))
    assert rotated["rewrapped"] == len(KeyPurpose) and rotated["set"].endswith(str(new_key))
    assert (new_key.stat().st_mode & 0o777) == 0o600
    netid.run("registry", "count", expect=78)  # the old master key opens nothing now
    netid.env["NETID_MASTER_KEY_FILE"] = str(new_key)
    assert netid.json("registry", "count")["people"] == 50
    assert netid.json("keys", "rotate-master", "--new-key-file", str(new_key))["rewrapped"] == 0

    # A missing key file for an existing keyring is an error, never a fresh key.
    netid.env["NETID_MASTER_KEY_FILE"] = str(tmp_path / "typo.key")
    netid.run("keys", "init", expect=78)
    assert not (tmp_path / "typo.key").exists()
    netid.env["NETID_MASTER_KEY_FILE"] = str(new_key)

    # The number can come from standard input (not the process list); purposes are codes.
    shown = netid.json(
        "registry", "show", "--document", "-", "--purpose", "ticket-42", stdin=number
    )
    assert shown["documents"][0]["number"].endswith(number[-4:])
    netid.run("registry", "show", "--document", number, "--purpose", "张三的电话", expect=2)
    bad = netid.run("registry", "show", "--document", number[:-1] + "Y", expect=65)
    assert json.loads(bad.stderr.splitlines()[-1])["error"]["code"] == "invalid_document_number"

    # Export: private file, never over an existing one.
    out = tmp_path / "export.jsonl"
    netid.run("registry", "export", "--out", str(out))
    assert (out.stat().st_mode & 0o777) == 0o600
    netid.run("registry", "export", "--out", str(out), expect=74)


def test_interrupted_rotation_is_finished_by_resume(
    netid: Netid, tmp_path: Path, db: Backend
) -> None:
    netid.run("keys", "init")
    population = tmp_path / "people.jsonl"
    netid.run("registry", "generate", "--people", "30", "--out", str(population))
    netid.run("registry", "import", str(population), "--workers", "0")
    old = next(k["key_id"] for k in netid.json("keys", "list", "--json") if k["purpose"] == "data")
    # What a kill right after `keys rotate data` committed its new key leaves behind: a new
    # active key, and every person key still wrapped by the old one.
    settings = Settings(data_dir=tmp_path / "var", database_url=db.url, database_schema=db.schema)
    operator = Container(settings, engine=db.engine)
    with operator.transaction() as session:
        operator.keyring_service(session).rotate(KeyPurpose.DATA)
    netid.run("keys", "retire", old, expect=75)  # it still protects every person key
    assert netid.json("keys", "resume")["person_keys_rewrapped"] == 30
    assert netid.json("keys", "retire", old)["retired"] == old
    exported = tmp_path / "export.jsonl"
    assert netid.json("registry", "export", "--out", str(exported))["people"] == 30
