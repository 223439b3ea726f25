"""The database itself refuses to change or remove log rows (triggers), and on PostgreSQL the
application role gets only SELECT and INSERT on the log tables."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from netid.container import Container
from netid.db.append_only import APPEND_ONLY_TABLES, apply_app_role
from tests.audit.support import stored, write
from tests.conftest import Backend

pytestmark = pytest.mark.db

CHANGES = {
    "access_record": [
        "UPDATE access_record SET outcome = 'changed'",
        "UPDATE access_record SET canonical = canonical WHERE log_index = 0",
        "DELETE FROM access_record WHERE log_index = 2",
        "DELETE FROM access_record",
    ],
    "log_node": ["UPDATE log_node SET hash = hash", "DELETE FROM log_node"],
    "log_checkpoint": [
        "UPDATE log_checkpoint SET note = 'x'",
        "DELETE FROM log_checkpoint",
    ],
}


@pytest.fixture
def logged(container: Container) -> Container:
    write(container, 6)
    with container.transaction() as session:
        assert container.audit(session).cut_checkpoint() is not None
    return container


@pytest.mark.parametrize("statement", [s for t in APPEND_ONLY_TABLES for s in CHANGES[t]])
def test_update_and_delete_are_refused(logged: Container, db: Backend, statement: str) -> None:
    with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
        conn.execute(text(statement))
    rows, head = stored(logged)
    assert len(rows) == 6 and head is not None and head.size == 6
    assert {r.outcome for r in rows} == {"ok"}


def test_truncate_is_refused_on_postgresql(logged: Container, db: Backend) -> None:
    if db.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    for table in APPEND_ONLY_TABLES:
        with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {table} CASCADE"))
    assert len(stored(logged)[0]) == 6


def test_the_application_role_may_only_read_and_insert_the_log(
    logged: Container, db: Backend
) -> None:
    if db.name != "postgresql":
        pytest.skip("roles are PostgreSQL's")
    role = f"netid_app_{secrets.token_hex(4)}"
    with db.engine.begin() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" NOLOGIN'))
        apply_app_role(conn, role, schema=db.schema)
    try:
        with db.engine.connect() as conn:  # rolled back at the end: nothing stays
            conn.execute(text(f'SET LOCAL ROLE "{role}"'))
            assert conn.execute(text("SELECT count(*) FROM access_record")).scalar() == 6
            conn.execute(text("UPDATE log_head SET size = size"))  # the head moves on append
            conn.execute(
                text("INSERT INTO log_node (level, idx, hash) VALUES (30, 0, :h)"),
                {"h": b"\x00" * 32},
            )
            conn.execute(text("SAVEPOINT s"))
            for statement in ("UPDATE access_record SET outcome = 'x'", "DELETE FROM log_node"):
                with pytest.raises(DBAPIError, match="permission denied"):
                    conn.execute(text(statement))
                conn.execute(text("ROLLBACK TO SAVEPOINT s"))
            with pytest.raises(DBAPIError, match="permission denied"):
                conn.execute(text("TRUNCATE log_checkpoint"))
            conn.rollback()
    finally:
        with db.engine.begin() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE "{role}"'))
