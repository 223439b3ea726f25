"""Migration 0007 turns access records written before the log into its first entries."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from sqlalchemy import text

from netid.config import Settings
from netid.container import Container
from netid.crypto.sealing import generate_seal_key
from netid.db import migrate
from netid.db.engine import make_engine
from netid.keys.master import format_master_key
from tests.audit.support import recomputed_root, stored


def test_existing_records_become_entries_in_seq_order(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = make_engine(url)
    migrate.upgrade(engine, "0006")
    at = dt.datetime(2026, 11, 30, 8, tzinfo=dt.UTC)
    with engine.begin() as conn:
        for n in range(11):
            entry = {  # what AccessRecorder wrote before the log (no index)
                "id": f"r{n:031d}",
                "recorded_at": at.isoformat(),
                "actor": "operator:old",
                "action": "keys.init",
                "outcome": "ok",
                "purpose": None,
                "subject_ref": None,
                "details": {"n": n},
            }
            conn.execute(
                text(
                    "INSERT INTO access_record (id, recorded_at, actor, action, purpose, outcome,"
                    " subject_ref_sealed, canonical) VALUES (:id, :at, 'operator:old',"
                    " 'keys.init', NULL, 'ok', NULL, :c)"
                ),
                {"id": entry["id"], "at": at, "c": json.dumps(entry).encode()},
            )
    migrate.upgrade(engine)
    settings = Settings(
        data_dir=tmp_path / "var",
        database_url=url,
        master_key=format_master_key(generate_seal_key()),
    )
    container = Container(settings, engine=engine)
    rows, head = stored(container)
    assert [r.log_index for r in rows] == list(range(11))
    assert [json.loads(r.canonical)["details"]["n"] for r in rows] == list(range(11))
    assert all(json.loads(r.canonical)["index"] == r.log_index for r in rows)
    assert head is not None and head.size == 11 and head.hash_alg == "sm3"
    with container.transaction() as session:
        container.keyring_service(session).initialise()
    with container.transaction() as session:
        container.recorder(session).record(actor="operator:new", action="x", outcome="ok")
        cut = container.audit(session).cut_checkpoint()
    assert cut is not None and cut.tree_size == 12
    rows, head = stored(container)
    assert cut.root_hash == recomputed_root(rows, "sm3")
    with container.transaction(write=False) as session:
        report = container.audit(session).verify()
    # The old entries were not in JCS form (json.dumps defaults); the migration re-encoded
    # them with their index, so the whole log verifies.
    assert report.clean, report.to_json()
    engine.dispose()
