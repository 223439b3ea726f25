"""The database's own refusal to change the audit log (issue 4 §1; GB/T 22239 8.1.4.3 (c):
protect audit records against unexpected deletion, modification or overwriting).

``access_record``, ``log_node`` and ``log_checkpoint`` accept INSERT and SELECT only: SQLite
triggers ``RAISE(ABORT, ...)`` on UPDATE and DELETE; PostgreSQL has a trigger function that
raises on UPDATE, DELETE (row triggers) and TRUNCATE (statement trigger), and the application
role can be given only SELECT/INSERT on those tables (:func:`app_role_statements`), so even a
compromised application cannot remove its trace; the triggers then stop the table owner too.

The migration creates the triggers; only tests call the ``unsafe_`` functions (to start each
test from empty tables, or to tamper with the log deliberately and show that
``netid audit verify`` notices).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, text

APPEND_ONLY_TABLES = ("access_record", "log_node", "log_checkpoint")
_PG_FUNCTION = "netid_refuse_log_change"
_ROLE_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _sqlite_statements() -> list[str]:
    statements = []
    for table in APPEND_ONLY_TABLES:
        for op in ("UPDATE", "DELETE"):
            statements.append(
                f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )
    return statements


def _pg_statements() -> list[str]:
    statements = [
        f"CREATE OR REPLACE FUNCTION {_PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION USING MESSAGE = TG_TABLE_NAME || ' is append-only', "
        "ERRCODE = 'insufficient_privilege'; END $$"
    ]
    for table in APPEND_ONLY_TABLES:
        statements.append(
            f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {_PG_FUNCTION}()"
        )
        statements.append(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {_PG_FUNCTION}()"
        )
    return statements


def create_append_only_triggers(conn: Connection) -> None:
    """Install the triggers (the migration does this; idempotent on SQLite)."""
    if conn.dialect.name == "sqlite":
        for statement in _sqlite_statements():
            conn.exec_driver_sql(statement)
        return
    unsafe_drop_append_only_triggers(conn)  # CREATE TRIGGER has no IF NOT EXISTS on PG 13
    for statement in _pg_statements():
        conn.exec_driver_sql(statement)


def unsafe_drop_append_only_triggers(conn: Connection) -> None:
    """Remove the protection. Tests only (cleanup, deliberate tampering); never production."""
    for table in APPEND_ONLY_TABLES:
        if conn.dialect.name == "sqlite":
            for op in ("update", "delete"):
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_no_{op}")
        else:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}")
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")


@contextmanager
def unsafe_append_only_disabled(conn: Connection) -> Iterator[Connection]:
    """Run a block with the triggers removed, reinstalling them afterwards (tests only)."""
    unsafe_drop_append_only_triggers(conn)
    try:
        yield conn
    finally:
        create_append_only_triggers(conn)


def app_role_statements(role: str, *, owner_schema: str | None = None) -> list[str]:
    """SQL that limits the PostgreSQL application role ``role`` (which must exist) on the log
    tables to SELECT and INSERT, and grants what the rest of the service needs.

    The tables' owner (who runs migrations) stays a separate role; the service then connects
    as ``role``. Any UPDATE, DELETE or TRUNCATE by it on the log is refused by privilege even
    before the triggers see it.
    """
    if not _ROLE_RE.match(role) or (owner_schema is not None and not _ROLE_RE.match(owner_schema)):
        raise ValueError("role and schema names are lower-case identifiers")
    schema = owner_schema or "public"
    tables = ", ".join(f'"{schema}".{table}' for table in APPEND_ONLY_TABLES)
    return [
        f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"',
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO "{role}"',
        f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "{schema}" TO "{role}"',
        f'REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {tables} FROM "{role}"',
        f'GRANT SELECT, INSERT ON {tables} TO "{role}"',
    ]


def apply_app_role(conn: Connection, role: str, *, schema: str | None = None) -> None:
    for statement in app_role_statements(role, owner_schema=schema):
        conn.execute(text(statement))
