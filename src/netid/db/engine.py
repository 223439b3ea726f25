"""Engines for the two supported backends: SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from netid.core.errors import ConfigurationError

_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL + synchronous=FULL: an acknowledged commit survives power loss (SEC-47;
    # sqlite.org/pragma.html#pragma_synchronous). foreign_keys is off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def make_engine(url: str, *, schema: str | None = None, pool: bool = True) -> Engine:
    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            # Only the service's user may list or open the data directory.
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # pysqlite's own transaction handling is switched off and BEGIN emitted by us, as
        # the SQLAlchemy docs recommend ("Serializable isolation / Savepoints / Transactional
        # DDL"), so that SAVEPOINT and transactional DDL work.
        engine = create_engine(url, poolclass=NullPool if not pool else None, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)

        @event.listens_for(engine, "connect")
        def _no_pysqlite_autobegin(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # A unit of work that will write asks for the write lock up front
            # (execution option ``sqlite_immediate``): a deferred transaction that later
            # upgrades can fail with SQLITE_BUSY without waiting for busy_timeout.
            immediate = conn.get_execution_options().get("sqlite_immediate", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    if parsed.get_backend_name() != "postgresql":
        raise ConfigurationError("Only SQLite and PostgreSQL databases are supported.")
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if schema is not None:
        if not _SCHEMA_RE.match(schema):
            raise ConfigurationError("The database schema name is not valid.")
        kwargs["connect_args"] = {"options": f"-csearch_path={schema}"}
    engine = create_engine(
        parsed,
        pool_pre_ping=True,
        poolclass=NullPool if not pool else None,
        hide_parameters=True,
        **kwargs,
    )
    if schema is not None:
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    return engine


def check_database(engine: Engine) -> None:
    """Readiness: one round trip. Raises the driver's error if the database is down."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
