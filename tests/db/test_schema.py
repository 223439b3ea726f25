from __future__ import annotations

import os
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from netid.db import migrate
from netid.db.engine import make_engine
from netid.models import metadata
from tests.conftest import BACKENDS, DEFAULT_PG_URL, Backend

pytestmark = pytest.mark.db


def test_migrations_build_exactly_the_models(db: Backend) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
    assert migrate.is_up_to_date(db.engine)


def test_sqlite_is_durable_by_configuration(tmp_path: Path) -> None:
    """SEC-47: WAL and synchronous=FULL, so an acknowledged commit survives power loss."""
    engine = make_engine(f"sqlite:///{tmp_path}/x.sqlite3")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="PostgreSQL deselected")
def test_postgresql_is_durable_by_configuration() -> None:
    engine = make_engine(os.environ.get("NETID_TEST_DATABASE_URL", DEFAULT_PG_URL))
    with engine.connect() as conn:
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            assert conn.execute(text(f"SHOW {setting}")).scalar() == "on"
    engine.dispose()
