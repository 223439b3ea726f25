from __future__ import annotations

import datetime as dt
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from sqlalchemy import func, select

from netid.audit.models import AccessRecord
from netid.config import Settings
from netid.container import Container
from netid.registry import importer
from netid.registry.errors import ImportFileInvalid
from netid.registry.importer import run_import
from netid.registry.models import Document, Person, PersonKey
from netid.registry.synthetic import write_population
from tests.conftest import Backend
from tests.registry.factories import TODAY

pytestmark = pytest.mark.db
ACTOR = "operator:test"


def import_file(
    container: Container, path: Path, batch_size: int = 100, workers: int = 0
) -> tuple[dict[str, int], list[dict[str, object]]]:
    report = io.StringIO()
    summary = run_import(
        path,
        unit_of_work=container.registry_unit,
        actor=ACTOR,
        today=TODAY,
        now=container.clock.now,
        report=report,
        batch_size=batch_size,
        workers=workers,
    )
    rejections = [json.loads(line) for line in report.getvalue().splitlines()]
    return summary.to_json(), rejections


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_generated_file_imports_completely_and_idempotently(
    container: Container, tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"people{suffix}"
    write_population(path, people=400, seed=7, today=TODAY)
    summary, rejections = import_file(container, path)
    assert rejections == []
    assert summary["imported"] == summary["read"] == 400
    again, _ = import_file(container, path)
    assert again["imported"] == 0 and again["duplicates"] == 400
    with container.transaction() as session:
        assert container.registry(session).count() == 400


def test_worker_processes_give_the_same_result_in_order(
    container: Container, tmp_path: Path
) -> None:
    """Sealing in two spawned processes: same people, guardians still before wards, and the
    rejected rows reported in line order."""
    path = tmp_path / "people.jsonl"
    write_population(path, people=1500, seed=21, today=TODAY)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("{broken\n")
    summary, rejections = import_file(container, path, batch_size=200, workers=2)
    assert summary["imported"] == 1500 and summary["read"] == 1501
    assert [(r["line"], r["rule"]) for r in rejections] == [(1501, "json")]
    with container.registry_unit() as registry:
        exported = [p.to_record() for p in registry.unsafe_export_plaintext(actor=ACTOR)]
    originals = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()[:-1]]
    assert exported == originals


def test_chunks_are_grouped_into_transactions_of_batch_size(
    container: Container, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workers seal chunks smaller than a batch; each transaction (one audit entry) still
    holds exactly batch_size records read, the last one the rest, and the report stays in
    line order across chunks and workers."""
    monkeypatch.setattr(importer, "CHUNK_SIZE", 100)
    path = tmp_path / "people.jsonl"
    write_population(path, people=1000, seed=5, today=TODAY)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(120, "[1]")  # line 121, first batch
    lines.insert(420, "{broken")  # line 421, second batch
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary, rejections = import_file(container, path, batch_size=250, workers=2)
    assert (summary["read"], summary["imported"], summary["rejected"]) == (1002, 1000, 2)
    assert [(r["line"], r["rule"]) for r in rejections] == [(121, "type"), (421, "json")]
    with container.transaction(write=False) as session:
        entries = session.scalars(
            select(AccessRecord)
            .where(AccessRecord.action == "registry.import")
            .order_by(AccessRecord.log_index)
        ).all()
    imported = [orjson.loads(e.canonical)["details"]["imported"] for e in entries]
    assert imported == [249, 249, 250, 250, 2]


def test_rejected_rows_are_reported_with_line_field_and_rule(
    container: Container, tmp_path: Path
) -> None:
    path = tmp_path / "people.jsonl"
    write_population(path, people=3, seed=1, today=TODAY)
    lines = path.read_text(encoding="utf-8").splitlines()
    bad_check = json.loads(lines[0])
    number = bad_check["documents"][0]["number"]
    bad_check["documents"][0]["number"] = number[:-1] + ("0" if number[-1] != "0" else "1")
    bad_name = json.loads(lines[1])
    bad_name["name"] = "张\u202e伟"
    lines = [
        json.dumps(bad_check, ensure_ascii=False),
        "{not json",
        json.dumps(bad_name, ensure_ascii=False),
        lines[2],
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary, rejections = import_file(container, path)
    assert summary["imported"] == 1 and summary["rejected"] == 3
    assert [(r["line"], r["field"], r["rule"]) for r in rejections] == [
        (1, "documents[0].number", "check_digit"),
        (2, "record", "json"),
        (3, "name", "bidi"),
    ]
    # The report names the place, never the value.
    report_text = json.dumps(rejections, ensure_ascii=False)
    assert number[:-1] not in report_text and "张" not in report_text


def test_unreadable_files_are_refused(container: Container, tmp_path: Path) -> None:
    bad_header = tmp_path / "x.csv"
    bad_header.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(ImportFileInvalid):
        import_file(container, bad_header)
    wrong_kind = tmp_path / "x.xlsx"
    wrong_kind.write_bytes(b"PK\x03\x04")
    with pytest.raises(ImportFileInvalid):
        import_file(container, wrong_kind)
    latin1 = tmp_path / "y.csv"
    latin1.write_bytes("name,sex\n\xe9".encode("latin-1"))
    with pytest.raises(ImportFileInvalid):
        import_file(container, latin1)


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.split(")")[-1].split()[0] != "Z"


def test_killed_import_resumes_without_loss_or_half_written_people(
    container: Container, settings: Settings, db: Backend, tmp_path: Path
) -> None:
    path = tmp_path / "people.jsonl"
    people = 20_000
    write_population(path, people=people, seed=11, today=TODAY)
    env = {
        **os.environ,
        "NETID_DATABASE_URL": db.url,
        "NETID_MASTER_KEY": settings.master_key or "",
        "NETID_DATA_DIR": str(settings.data_dir),
    }
    if db.schema:
        env["NETID_DATABASE_SCHEMA"] = db.schema
    command = [
        sys.executable,
        "-m",
        "netid.cli",
        "registry",
        "import",
        str(path),
        "--batch-size",
        "100",
        "--workers",
        "2",
    ]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Kill once some batches have committed but before the end.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with container.transaction(write=False) as session:
            if container.registry(session).count() >= 1000:
                break
        time.sleep(0.02)
    workers = _children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # Its sealing workers (they hold key material) follow it within a second or so.
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if _alive(pid)]
    with container.transaction(write=False) as session:
        partial = container.registry(session).count()
        keys = session.scalar(select(func.count()).select_from(PersonKey))
        with_docs = session.scalar(select(func.count(func.distinct(Document.person_id))))
    assert 0 < partial < people, "the kill should land mid-import"
    assert partial == keys == with_docs, "a person was half-written"
    result = subprocess.run(command, env=env, capture_output=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr.decode()
    summary = orjson.loads(result.stdout.splitlines()[-1])
    assert summary["imported"] + summary["duplicates"] == people
    assert summary["duplicates"] == partial
    with container.transaction(write=False) as session:
        assert session.scalar(select(func.count()).select_from(Person)) == people
        assert session.scalar(select(func.count()).select_from(PersonKey)) == people


def test_field_rules_at_the_edges(container: Container, tmp_path: Path) -> None:
    path = tmp_path / "people.jsonl"
    write_population(path, people=4, seed=2, today=TODAY)
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    records[0]["birth_date"] = "1990-W01-1"  # an ISO week date is not a calendar date here
    born = dt.date.fromisoformat(records[1]["birth_date"])
    records[1]["birth_date"] = (born - dt.timedelta(days=1)).isoformat()  # number says otherwise
    records[2]["sex"] = "F" if records[2]["sex"] == "M" else "M"
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
    )
    summary, rejections = import_file(container, path)
    assert summary["imported"] == 1
    assert [(r["line"], r["field"], r["rule"]) for r in rejections] == [
        (1, "birth_date", "date"),
        (2, "documents[0].number", "inconsistent"),
        (3, "documents[0].number", "inconsistent"),
    ]


def test_csv_with_a_byte_order_mark_imports(container: Container, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    write_population(path, people=20, seed=4, today=TODAY)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())  # as spreadsheet programs save it
    summary, rejections = import_file(container, path)
    assert rejections == [] and summary["imported"] == 20
