"""SEC-38: no plaintext personal data at rest — scan the raw SQLite files and a pg_dump."""

from __future__ import annotations

import contextlib
import json
import subprocess
from pathlib import Path

import pytest

from netid.container import Container
from netid.db import migrate
from netid.db.engine import make_engine
from netid.registry.synthetic import write_population
from tests.conftest import Backend
from tests.registry.factories import TODAY
from tests.registry.test_importer import import_file

pytestmark = pytest.mark.db


def needles(path: Path) -> set[str]:
    found: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        found.add(record["name"])
        found.update(record["phones"])
        found.update(p.removeprefix("+86") for p in record["phones"])
        found.update(d["number"] for d in record["documents"])
    return found


def encodings(value: str) -> list[bytes]:
    forms = [value.encode("utf-8"), value.encode("utf-16-le")]
    with contextlib.suppress(UnicodeEncodeError):
        forms.append(value.encode("gb18030"))
    # PostgreSQL dumps bytea as hex: a value stored unsealed would show up in that form too.
    forms.append(value.encode("utf-8").hex().encode())
    # Ciphertext is uniformly random: a 4-byte needle turns up by chance in a few megabytes about
    # once per thousand needles (N / 2**32), which made this test flaky. From 6 bytes on a chance
    # hit is below one in ten million, and every name still has a scannable form (2 characters
    # are 6 bytes of UTF-8).
    return [f for f in forms if len(f) >= 6]


def test_no_personal_value_appears_in_the_database_files(
    container: Container, db: Backend, tmp_path: Path
) -> None:
    if db.name == "sqlite":
        # A file of its own: the session's shared file holds other tests' pages, and a scan of
        # it would be both slow and about someone else's data.
        engine = make_engine(f"sqlite:///{tmp_path}/scan.sqlite3")
        migrate.upgrade(engine)
        container = Container(container.settings, engine=engine)
        with container.transaction() as session:
            container.keyring_service(session).initialise()
    path = tmp_path / "people.jsonl"
    write_population(path, people=300, seed=3, today=TODAY)
    summary, _ = import_file(container, path)
    assert summary["imported"] == 300
    with container.registry_unit() as registry:
        registry.show(
            json.loads(path.read_text(encoding="utf-8").splitlines()[0])["documents"][0]["number"],
            actor="operator:test",
        )
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
        assert b"CREATE TABLE" in dump.stdout
    values = needles(path)
    assert len(values) > 600
    hits = [v for v in values for blob in blobs for form in encodings(v) if form in blob]
    assert hits == []
